//! `sealift sign`: sign an image's digest with a key (or an external signer command) and
//! append the signature to its cosign `sha256-<hex>.sig` manifest, keeping earlier ones.
//!
//! All local input (key, passphrase, certificate, chain, annotations) is loaded and
//! cross-checked before the registry is contacted, so a bad flag costs no network round.

use std::path::PathBuf;

use crate::cli::args::RegistryArgs;
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::exit;
use crate::oci::Reference;
use crate::registry::Registry;
use crate::sign::{self, SignError};
use crate::verify::crypto::{self, SignatureAlgorithm};

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Image reference: host:port/repo:tag (resolved to its digest) or host:port/repo@sha256:…
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Private key (PEM PKCS#8, PKCS#1 or SEC1; `-` reads it from stdin).
    #[arg(long, value_name = "KEY", required_unless_present = "signer_cmd", conflicts_with = "signer_cmd")]
    pub key: Option<String>,
    /// Environment variable holding the passphrase of an encrypted key.
    #[arg(long, value_name = "VAR")]
    pub key_passphrase_env: Option<String>,
    /// Certificate of the signing key (PEM or DER), stored with the signature.
    #[arg(long, value_name = "CERT")]
    pub certificate: Option<PathBuf>,
    /// Intermediates then root (PEM), stored verbatim with the signature.
    #[arg(long, value_name = "CHAIN", requires = "certificate")]
    pub certificate_chain: Option<PathBuf>,
    /// Signature scheme; default: cosign-compatible for the key (ECDSA with the curve's
    /// hash, RSA PKCS#1 v1.5 SHA-256, Ed25519).
    #[arg(long, value_name = "ALG", value_parser = parse_algorithm, conflicts_with = "signer_cmd")]
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// Annotation for the payload's `optional` object; repeatable.
    #[arg(short = 'a', long = "annotations", visible_alias = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Sign with an external command (run with `sh -c`): the payload on its stdin, the
    /// signature (base64 or raw binary) on its stdout. Needs --certificate or --public-key.
    #[arg(long, value_name = "CMD")]
    pub signer_cmd: Option<String>,
    /// Public key the --signer-cmd signature must verify with (when there is no certificate).
    #[arg(long, value_name = "PUB", requires = "signer_cmd")]
    pub public_key: Option<PathBuf>,
    /// Write cosign v3's form instead of the legacy `.sig`: a Sigstore bundle v0.3 (DSSE
    /// in-toto statement, no transparency log) as an OCI 1.1 referrer of the image.
    /// `-a` annotations go into the statement's subject, a chain into the bundle's
    /// `x509CertificateChain` (without its root), as cosign does.
    #[arg(long)]
    pub new_bundle_format: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

fn parse_algorithm(s: &str) -> Result<SignatureAlgorithm, String> {
    s.parse().map_err(|e: crypto::UnknownAlgorithm| e.to_string())
}

/// How the payload gets signed, with everything loaded and cross-checked.
enum Signer {
    Key { key: crypto::PrivateKey, what: String },
    Command { command: String },
}

pub async fn run(args: SignArgs, ui: &Ui) -> anyhow::Result<u8> {
    let reference: Reference = args.reference.parse()?;
    let annotations = sign::parse_annotations(&args.annotations)?;
    let certificate = match &args.certificate {
        Some(p) => {
            let what = p.display().to_string();
            let bytes = sign::read_input(&what, &what)?;
            Some(sign::load_certificate(&bytes, &what).map_err(SignError::from)?)
        }
        None => None,
    };
    let chain = match &args.certificate_chain {
        Some(p) => {
            let what = p.display().to_string();
            let chain = sign::load_chain(&sign::read_input(&what, &what)?, &what).map_err(SignError::from)?;
            // cosign refuses a chain that does not validate the leaf before signing. Only
            // the bundle form does here: the legacy form stays able to write what a
            // verifier must refuse (the verify tests sign with such chains).
            if let (Some(c), true) = (&certificate, args.new_bundle_format) {
                sign::check_chain_validates(c, &chain, &what)?;
            }
            Some(chain)
        }
        None => None,
    };
    let signer = match (&args.key, &args.signer_cmd) {
        (Some(path), _) => {
            if path == "-" && args.registry.password_stdin {
                return Err(SignError::Usage("--key - and --password-stdin both want standard input").into());
            }
            let what = if path == "-" { "(stdin)".to_owned() } else { path.clone() };
            let bytes = sign::read_input(path, &what)?;
            let passphrase = match &args.key_passphrase_env {
                Some(var) => Some((var.as_str(), passphrase(var)?)),
                None => None,
            };
            let key = sign::load_signing_key(&bytes, &what, passphrase.as_ref().map(|(v, p)| (*v, p.as_bytes())))?;
            if let Some(c) = &certificate {
                sign::check_key_matches_certificate(&key, &what, c)?;
            }
            Signer::Key { key, what }
        }
        (None, Some(cmd)) => Signer::Command { command: cmd.clone() },
        (None, None) => return Err(SignError::Usage("sign needs --key or --signer-cmd").into()),
    };
    // The key a verifier will use: the certificate's, else --public-key, else the signing key's.
    let (check_key, check_what) = match (&certificate, &args.public_key, &signer) {
        (Some(c), _, _) => (c.public_key.clone(), format!("certificate {}", c.what)),
        (None, Some(p), _) => {
            let what = p.display().to_string();
            (
                crypto::load_public_key(&sign::read_input(&what, &what)?, &what).map_err(SignError::from)?,
                format!("public key {what}"),
            )
        }
        (None, None, Signer::Key { key, what }) => (key.public_key(), format!("key {what}")),
        (None, None, Signer::Command { .. }) => {
            return Err(
                SignError::Usage("--signer-cmd needs --certificate or --public-key to check its signature").into()
            )
        }
    };

    let registry = Registry::new(&reference.registry, &settings::registry_options(&args.registry)?)?;
    let digest = sign::resolve_digest(&registry, &reference).await?;
    sign::ensure_image(&registry, &reference, &digest).await?;
    if args.new_bundle_format {
        let statement = sign::bundle::statement(&digest, &annotations);
        let signed_bytes = sign::bundle::signed_bytes(&statement);
        let signed = match &signer {
            Signer::Key { key, what } => {
                sign::sign_with_key(key, what, &signed_bytes, args.signature_algorithm, (&check_key, &check_what))?
            }
            Signer::Command { command } => sign::sign_with_command(command, &signed_bytes, (&check_key, &check_what))?,
        };
        let spki = check_key.0.public_key_to_der().map_err(|e| anyhow::anyhow!("encoding the public key: {e}"))?;
        let cert_der = match &certificate {
            Some(c) => Some(c.der().map_err(|e| anyhow::anyhow!("encoding certificate {}: {e}", c.what))?),
            None => None,
        };
        let intermediates = match (&cert_der, &chain) {
            (Some(der), Some(pem)) => Some(sign::bundle::bundle_intermediates(der, pem)?),
            _ => None,
        };
        let who = match &cert_der {
            Some(der) => sign::bundle::BundleSigner::Certificate { der, intermediates: intermediates.as_deref() },
            None => sign::bundle::BundleSigner::Key { spki_der: &spki },
        };
        let bundle = sign::bundle::bundle_json(&statement, &signed.signature, &who);
        let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let pushed = sign::bundle::attach_bundle(&registry, &reference, &digest, &bundle, &created).await?;
        ui.status(&format!(
            "signed {}@{digest} ({}, Sigstore bundle v0.3)",
            reference.repository_name(),
            signed.algorithm
        ));
        let index = if pushed.tag_index { ", listed in the referrers tag-schema index" } else { "" };
        ui.status(&format!("pushed {} (referrer of {digest}{index})", pushed.reference));
        return Ok(exit::OK);
    }
    let payload = sign::payload_for(&reference, &digest, &annotations);
    let signed = match &signer {
        Signer::Key { key, what } => {
            sign::sign_with_key(key, what, &payload, args.signature_algorithm, (&check_key, &check_what))?
        }
        Signer::Command { command } => sign::sign_with_command(command, &payload, (&check_key, &check_what))?,
    };
    let layer = crate::cosign::NewSignatureLayer {
        payload,
        base64_signature: signed.base64(),
        certificate_pem: certificate.map(|c| c.pem),
        chain_pem: chain,
        rekor_bundle: None,
    };
    let pushed = sign::append_and_push(&registry, &reference.repository, &digest, &layer).await?;
    // Status, not data: stderr, and nothing with -q.
    ui.status(&format!("signed {}@{digest} ({})", reference.repository_name(), signed.algorithm));
    ui.status(&format!("pushed {}@{} ({} signature(s))", pushed.reference, pushed.manifest_digest, pushed.layers));
    Ok(exit::OK)
}

fn passphrase(var: &str) -> Result<String, SignError> {
    std::env::var(var).map_err(|_| SignError::PassphraseEnv { var: var.to_owned() })
}
