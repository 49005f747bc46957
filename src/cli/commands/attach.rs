//! `sealift attach signature`: the external-signer flow. A payload from `sealift generate`
//! signed elsewhere (e.g. `openssl dgst`) is checked — strict payload, this image's
//! digest, signature over the exact bytes with the certificate's key or `--key` — and only
//! then appended to the image's `.sig` manifest. A mismatch is refused with exit code 1
//! and nothing is pushed.

use std::path::PathBuf;

use crate::cli::args::RegistryArgs;
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::exit;
use crate::oci::Reference;
use crate::registry::Registry;
use crate::sign::{self, Attachment, SignError};
use crate::verify::crypto;

#[derive(Debug, clap::Subcommand)]
pub enum AttachCommand {
    /// Attach a signature made by an external signer, after checking it.
    Signature {
        /// Image reference: host:port/repo:tag or host:port/repo@sha256:…
        #[arg(value_name = "REF")]
        reference: String,
        /// The exact payload that was signed (from `sealift generate`).
        #[arg(long, value_name = "FILE")]
        payload: PathBuf,
        /// The signature: base64 (line wraps allowed) or raw binary; `-` reads stdin.
        #[arg(long, value_name = "FILE|-")]
        signature: String,
        /// Certificate of the signing key (PEM or DER).
        #[arg(long, value_name = "CERT", required_unless_present = "key")]
        certificate: Option<PathBuf>,
        /// Intermediates then root (PEM), stored verbatim.
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
        certificate,
        certificate_chain,
        key,
        rekor_bundle,
        registry: registry_args,
    } = args;
    let reference: Reference = reference.parse()?;
    if signature == "-" && registry_args.password_stdin {
        return Err(SignError::Usage("--signature - and --password-stdin both want standard input").into());
    }
    let read = |p: &PathBuf| -> Result<(Vec<u8>, String), SignError> {
        let what = p.display().to_string();
        Ok((sign::read_input(&what, &what)?, what))
    };
    let payload = read(&payload)?;
    let sig_what = if signature == "-" { "(stdin)".to_owned() } else { signature.clone() };
    let sig_bytes = sign::read_input(&signature, &sig_what)?;
    let certificate = certificate.as_ref().map(read).transpose()?;
    let chain = certificate_chain.as_ref().map(read).transpose()?;
    let rekor = rekor_bundle.as_ref().map(read).transpose()?;
    let key = match &key {
        Some(p) => {
            let (bytes, what) = read(p)?;
            Some((crypto::load_public_key(&bytes, &what).map_err(SignError::from)?, what))
        }
        None => None,
    };

    let registry = Registry::new(&reference.registry, &settings::registry_options(&registry_args)?)?;
    let digest = sign::resolve_digest(&registry, &reference).await?;
    sign::ensure_image(&registry, &reference, &digest).await?;
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
