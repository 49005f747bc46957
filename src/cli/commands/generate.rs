//! `sealift generate`: print the simple-signing payload of an image exactly as cosign
//! writes it (compact, no trailing newline), for an external signer to sign; with
//! `--new-bundle-format`, the DSSE PAE bytes of cosign v3's in-toto statement instead
//! (what the signature of a Sigstore bundle covers; `attach signature --new-bundle-format`
//! takes them back as `--payload`).

use crate::cli::args::RegistryArgs;
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::exit;
use crate::oci::Reference;
use crate::registry::Registry;
use crate::sign;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Image reference: host:port/repo:tag (resolved at the registry) or
    /// host:port/repo@sha256:… (used as is, with no network).
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Annotation for the payload's `optional` object; repeatable.
    #[arg(short = 'a', long = "annotations", visible_alias = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Print the bytes a cosign v3 bundle signature covers: DSSE PAE of the in-toto
    /// statement (`-a` annotations in its subject).
    #[arg(long)]
    pub new_bundle_format: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub async fn run(args: GenerateArgs, _ui: &Ui) -> anyhow::Result<u8> {
    let reference: Reference = args.reference.parse()?;
    let annotations = sign::parse_annotations(&args.annotations)?;
    let digest = match &reference.digest {
        Some(d) => d.clone(),
        None => {
            let registry = Registry::new(&reference.registry, &settings::registry_options(&args.registry)?)?;
            sign::resolve_digest(&registry, &reference).await?
        }
    };
    let payload = if args.new_bundle_format {
        sign::bundle::signed_bytes(&sign::bundle::statement(&digest, &annotations))
    } else {
        sign::payload_for(&reference, &digest, &annotations)
    };
    crate::cli::print(&payload)?;
    Ok(exit::OK)
}
