//! `sealift attach signature`: the external-signer flow. A payload from `sealift generate`
//! signed elsewhere (e.g. `openssl dgst`) is checked — strict payload, this image's
//! digest, signature over the exact bytes with the certificate's key or `--key` — and only
//! then appended to the image's `.sig` manifest. A mismatch is refused with exit code 1
//! and nothing is pushed.
//!
//! cosign v3's bundle form, two ways: `--bundle FILE` (or a `--payload` file that is a
//! Sigstore bundle, as cosign detects it) attaches a whole bundle made elsewhere, byte for
//! byte; `--new-bundle-format` takes the statement (or its DSSE PAE bytes, from
//! `generate --new-bundle-format`) and a signature over the PAE bytes, and writes the
//! bundle with `sign --new-bundle-format`'s writer. Either is checked as above and pushed
//! as an OCI 1.1 referrer of the image.

use std::path::PathBuf;

use crate::cli::args::RegistryArgs;
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::exit;
use crate::oci::Reference;
use crate::registry::Registry;
use crate::sign::{self, Attachment, BundleAttachment, SignError, StatementAttachment};
use crate::verify::crypto;

#[derive(Debug, clap::Subcommand)]
pub enum AttachCommand {
    /// Attach a signature made by an external signer, after checking it.
    Signature {
        /// Image reference: host:port/repo:tag or host:port/repo@sha256:…
        #[arg(value_name = "REF")]
        reference: String,
        /// The exact payload that was signed (from `sealift generate`). A Sigstore bundle
        /// file here is attached as with --bundle (cosign's detection).
        #[arg(long, value_name = "FILE", required_unless_present = "bundle")]
        payload: Option<PathBuf>,
        /// The signature: base64 (line wraps allowed) or raw binary; `-` reads stdin.
        #[arg(long, value_name = "FILE|-")]
        signature: Option<String>,
        /// A whole Sigstore bundle (DSSE statement) to attach as a referrer, as made by a
        /// signing service or `cosign sign --bundle`; stored byte for byte.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["payload", "signature", "certificate_chain", "rekor_bundle", "new_bundle_format"])]
        bundle: Option<PathBuf>,
        /// Write cosign v3's form: --payload is the in-toto statement (or its DSSE PAE
        /// bytes, from `generate --new-bundle-format`), --signature is over the PAE bytes,
        /// and a Sigstore bundle v0.3 is attached as a referrer of the image.
        #[arg(long, conflicts_with = "rekor_bundle")]
        new_bundle_format: bool,
        /// Certificate of the signing key (PEM or DER); needed, or --key, unless a bundle
        /// carries the certificate.
        #[arg(long, value_name = "CERT")]
        certificate: Option<PathBuf>,
        /// Intermediates then root (PEM): stored verbatim in a `.sig` layer; with
        /// --new-bundle-format its intermediates go into the bundle (no root), as cosign does.
        #[arg(long, value_name = "CHAIN", requires = "certificate")]
        certificate_chain: Option<PathBuf>,
        /// Public key the signature must verify with (PEM/DER SPKI or PKCS#1, or a certificate).
        #[arg(long, value_name = "PUB")]
        key: Option<PathBuf>,
        /// Rekor bundle JSON to store with the signature.
        #[arg(long, value_name = "FILE")]
        rekor_bundle: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

pub async fn run(args: AttachCommand, ui: &Ui) -> anyhow::Result<u8> {
    let AttachCommand::Signature {
        reference,
        payload,
        signature,
        bundle,
        new_bundle_format,
        certificate,
        certificate_chain,
        key,
        rekor_bundle,
        registry: registry_args,
    } = args;
    let reference: Reference = reference.parse()?;
    if signature.as_deref() == Some("-") && registry_args.password_stdin {
        return Err(SignError::Usage("--signature - and --password-stdin both want standard input").into());
    }
    let read = |p: &PathBuf| -> Result<(Vec<u8>, String), SignError> {
        let what = p.display().to_string();
        Ok((sign::read_input(&what, &what)?, what))
    };
    let payload = payload.as_ref().map(read).transpose()?;
    let (bundle, bundle_what) = match (bundle.as_ref().map(read).transpose()?, payload) {
        (Some(b), _) => b,
        // cosign's detection: a --payload file that is a Sigstore bundle is attached as one.
        (None, Some(p)) if !new_bundle_format && is_sigstore_bundle(&p.0) => p,
        (None, p) => {
            let payload = p.ok_or(SignError::Usage("attach signature needs --payload or --bundle"))?;
            let signature = signature.ok_or(SignError::Usage("attach signature needs --signature with --payload"))?;
            return attach_parts(
                ui,
                reference,
                payload,
                signature,
                new_bundle_format,
                (certificate, certificate_chain, key, rekor_bundle),
                registry_args,
            )
            .await;
        }
    };
    if signature.is_some() || certificate_chain.is_some() || rekor_bundle.is_some() {
        return Err(SignError::Usage(
            "a Sigstore bundle carries its own signature: --signature, --certificate-chain and --rekor-bundle do not apply",
        )
        .into());
    }
    let certificate = certificate.as_ref().map(read).transpose()?;
    let key = load_key(key.as_ref())?;
    let registry = Registry::new(&reference.registry, &settings::registry_options(&registry_args)?)?;
    let digest = sign::resolve_digest(&registry, &reference).await?;
    sign::ensure_image(&registry, &reference, &digest).await?;
    let checked = sign::check_bundle_attachment(
        &BundleAttachment {
            bundle: (&bundle, &bundle_what),
            certificate: certificate.as_ref().map(|(b, w)| (&b[..], w.as_str())),
            key: key.as_ref().map(|(k, w)| (k, w.as_str())),
        },
        &digest,
    )?;
    push_referrer(ui, &registry, &reference, &digest, &checked).await
}

/// A file is taken for a Sigstore bundle when it is a JSON object whose `mediaType` is
/// one of the bundle media types the verifier parses.
fn is_sigstore_bundle(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: String,
    }
    serde_json::from_slice::<Probe>(bytes)
        .is_ok_and(|p| crate::verify::sigstore_bundle::BundleVersion::from_media_type(&p.media_type).is_some())
}

fn load_key(path: Option<&PathBuf>) -> Result<Option<(crypto::PublicKey, String)>, SignError> {
    match path {
        Some(p) => {
            let what = p.display().to_string();
            let bytes = sign::read_input(&what, &what)?;
            Ok(Some((crypto::load_public_key(&bytes, &what)?, what)))
        }
        None => Ok(None),
    }
}

async fn push_referrer(
    ui: &Ui,
    registry: &Registry,
    reference: &Reference,
    digest: &crate::oci::Digest,
    checked: &sign::CheckedBundle,
) -> anyhow::Result<u8> {
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let pushed = sign::bundle::attach_bundle(registry, reference, digest, &checked.bundle, &created).await?;
    // Status, not data: stderr, and nothing with -q.
    ui.status(&format!(
        "attached to {}@{digest} ({}, Sigstore bundle)",
        reference.repository_name(),
        checked.algorithm
    ));
    let index = if pushed.tag_index { ", listed in the referrers tag-schema index" } else { "" };
    ui.status(&format!("pushed {} (referrer of {digest}{index})", pushed.reference));
    Ok(exit::OK)
}

/// Payload and signature: the legacy `.sig` layer, or with `--new-bundle-format` a bundle.
async fn attach_parts(
    ui: &Ui,
    reference: Reference,
    payload: (Vec<u8>, String),
    signature: String,
    new_bundle_format: bool,
    (certificate, certificate_chain, key, rekor_bundle): (
        Option<PathBuf>,
        Option<PathBuf>,
        Option<PathBuf>,
        Option<PathBuf>,
    ),
    registry_args: RegistryArgs,
) -> anyhow::Result<u8> {
    let read = |p: &PathBuf| -> Result<(Vec<u8>, String), SignError> {
        let what = p.display().to_string();
        Ok((sign::read_input(&what, &what)?, what))
    };
    if certificate.is_none() && key.is_none() {
        return Err(
            SignError::Usage("attach signature needs --certificate or --key to check the signature against").into()
        );
    }
    let sig_what = if signature == "-" { "(stdin)".to_owned() } else { signature.clone() };
    let sig_bytes = sign::read_input(&signature, &sig_what)?;
    let certificate = certificate.as_ref().map(read).transpose()?;
    let chain = certificate_chain.as_ref().map(read).transpose()?;
    let rekor = rekor_bundle.as_ref().map(read).transpose()?;
    let key = load_key(key.as_ref())?;

    let registry = Registry::new(&reference.registry, &settings::registry_options(&registry_args)?)?;
    let digest = sign::resolve_digest(&registry, &reference).await?;
    sign::ensure_image(&registry, &reference, &digest).await?;
    if new_bundle_format {
        let checked = sign::check_statement_attachment(
            &StatementAttachment {
                payload: (&payload.0, &payload.1),
                signature: (&sig_bytes, &sig_what),
                certificate: certificate.as_ref().map(|(b, w)| (&b[..], w.as_str())),
                chain: chain.as_ref().map(|(b, w)| (&b[..], w.as_str())),
                key: key.as_ref().map(|(k, w)| (k, w.as_str())),
            },
            &digest,
        )?;
        return push_referrer(ui, &registry, &reference, &digest, &checked).await;
    }
    let attachment = Attachment {
        payload: (&payload.0, &payload.1),
        signature: (&sig_bytes, &sig_what),
        certificate: certificate.as_ref().map(|(b, w)| (&b[..], w.as_str())),
        chain: chain.as_ref().map(|(b, w)| (&b[..], w.as_str())),
        key: key.as_ref().map(|(k, w)| (k, w.as_str())),
        rekor_bundle: rekor.as_ref().map(|(b, w)| (&b[..], w.as_str())),
    };
    let checked = sign::check_attachment(&attachment, &digest)?;
    let pushed = sign::append_and_push(&registry, &reference.repository, &digest, &checked.layer).await?;
    // Status, not data: stderr, and nothing with -q.
    ui.status(&format!("attached to {}@{digest} ({})", reference.repository_name(), checked.algorithm));
    ui.status(&format!("pushed {}@{} ({} signature(s))", pushed.reference, pushed.manifest_digest, pushed.layers));
    Ok(exit::OK)
}
