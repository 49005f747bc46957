//! `sealift save`: images with all their signatures into one bundle file.

use std::sync::Arc;

use crate::bundle::Compression;
use crate::cli::args::{CompressionArg, SaveArgs};
use crate::cli::commands::Failure;
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::exit;
use crate::seal::SealVerdict;
use crate::transfer::delta::Have;
use crate::transfer::inspect::human;
use crate::transfer::read::BundleSource;
use crate::transfer::save::{self, Registries, SaveOptions};

/// The inventory file given to `--have` is read whole: more than this is not an inventory.
const MAX_INVENTORY_BYTES: u64 = 256 * 1024 * 1024;

/// Reads every `--have` source, checking inventories' signatures and base bundles' seals
/// with the `--bundle-*` trust when given (then an unsigned inventory or an unsealed
/// bundle is refused, as `load` refuses an unsealed bundle under bundle trust).
async fn have(args: &SaveArgs, ui: &Ui) -> anyhow::Result<Have> {
    use anyhow::Context as _;
    let trust = settings::seal_trust(&args.have_trust)?;
    let now = chrono::Utc::now().timestamp();
    let mut have = Have::default();
    for path in &args.have {
        let shown = path.display().to_string();
        if !path.is_dir() && looks_like_json(path).with_context(|| format!("--have {shown}"))? {
            let bytes = read_capped(path).with_context(|| format!("--have {shown}"))?;
            let sig_path = super::inventory::signature_path(path);
            let sig = match std::fs::read(&sig_path) {
                Ok(s) => Some(s),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(Failure::new(exit::FAILED, format!("cannot read {}: {e}", sig_path.display())).into())
                }
            };
            let inv = crate::inventory::verify(&shown, &bytes, sig.as_deref(), trust.as_ref(), now)?;
            if let Some(signer) = inv.signer() {
                ui.status(&format!("--have {shown}: inventory signed by {signer}"));
            }
            have.add_inventory(&inv, crate::oci::Digest::of(&bytes));
        } else {
            let source = BundleSource::open(path).with_context(|| format!("--have {shown}"))?;
            let (meta, _layers) = source.read_metadata().await.with_context(|| format!("--have {shown}"))?;
            match crate::seal::verify_bundle_seal(&meta, trust.as_ref(), now) {
                SealVerdict::Rejected { reason } => {
                    return Err(
                        Failure::new(exit::REJECTED, format!("--have {shown}: bundle seal rejected: {reason}")).into()
                    )
                }
                SealVerdict::Verified { signer, .. } => {
                    ui.status(&format!("--have {shown}: seal verified: signed by {signer}"))
                }
                SealVerdict::Absent | SealVerdict::NotChecked => {}
            }
            have.add_bundle(&meta);
        }
    }
    Ok(have)
}

/// An inventory is JSON; a bundle is a tar (possibly compressed).
fn looks_like_json(path: &std::path::Path) -> std::io::Result<bool> {
    use std::io::Read as _;
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)?.read(&mut head)?;
    Ok(head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'))
}

fn read_capped(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    std::fs::File::open(path)?.take(MAX_INVENTORY_BYTES + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_INVENTORY_BYTES {
        return Err(std::io::Error::other(format!("larger than {MAX_INVENTORY_BYTES} bytes: not a site inventory")));
    }
    Ok(out)
}

pub async fn run(args: SaveArgs, ui: &Ui) -> anyhow::Result<u8> {
    let (refs, platforms) = settings::images(&args.refs, args.spec.as_deref(), &args.platform)?;
    let compression = match args.compression {
        Some(CompressionArg::None) => Compression::None,
        Some(CompressionArg::Zstd) => Compression::Zstd,
        Some(CompressionArg::Gzip) => Compression::Gzip,
        None => Compression::from_path(&args.output),
    };
    settings::check_output_file(&args.output)?;
    if args.volume_size.is_some() {
        settings::check_output_file(&crate::bundle::volumes::list_path(&args.output))?;
    }
    // The output directory first: no point in walking registries to fail at the end.
    let parent = args.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        return Err(crate::cli::commands::Failure::new(
            exit::FAILED,
            format!("cannot write {}: {} is not a directory", args.output.display(), parent.display()),
        )
        .into());
    }
    let seal = settings::seal_signer(&args)?;
    let have = have(&args, ui).await?;
    let mut registries = Registries::new(settings::registry_options(&args.registry)?);
    let walked = save::walk(&mut registries, &refs, &platforms, args.registry.jobs as usize, ui).await;
    ui.clear();
    let (mut contents, images) = walked?;
    if !args.have.is_empty() {
        contents.delta = have.delta_for(&contents);
        let d = &contents.delta;
        ui.status(&format!(
            "delta: {} layer(s) ({}) already at the site are left out",
            d.assumed.len(),
            human(d.assumed_bytes())
        ));
    }
    for img in &images {
        let mut line = format!("{}  {}", img.reference, img.digest);
        if !img.platforms.is_empty() {
            line.push_str(&format!("  [{}]", img.platforms.join(", ")));
        }
        line.push_str(&format!("  {} attachment(s)", img.attachments));
        ui.status(&line);
        if !platforms.is_empty() && !img.is_index {
            ui.warn(&format!("{}: not a multi-platform image; --platform does not apply to it", img.reference));
        }
        if img.partial {
            ui.warn(&format!(
                "{}: --platform keeps only some children of the index (partial); the index is carried for its signatures but cannot be recreated at the target, so its chosen platform manifests are pushed by digest with their own tags",
                img.reference
            ));
        }
    }
    // Readers cap index.json as a manifest; a long delta description could pass it.
    let index_len = contents.index_json().len();
    if index_len > crate::oci::manifest::MAX_MANIFEST_BYTES {
        return Err(Failure::new(
            exit::FAILED,
            format!(
                "the bundle's index.json would be {index_len} bytes, over the {} readers accept: save fewer images at once",
                crate::oci::manifest::MAX_MANIFEST_BYTES
            ),
        )
        .into());
    }
    let layer_total: u64 =
        contents.blobs.iter().filter(|(d, b)| !b.metadata && !contents.delta.assumes(d)).map(|(_, b)| b.size).sum();
    ui.start_bytes("save", layer_total);
    let sealed = seal.is_some();
    let options =
        SaveOptions { platforms, compression, jobs: args.registry.jobs as usize, seal, volume_size: args.volume_size };
    let reporter: Arc<dyn crate::progress::Reporter> = Arc::new(ui.clone());
    let summary = save::write(&mut registries, &contents, &args.output, &options, reporter).await;
    ui.clear();
    let summary = summary?;
    let written = match args.volume_size {
        None => args.output.display().to_string(),
        Some(_) => volumes_written(&args.output)?,
    };
    ui.status(&format!(
        "wrote {}{}: {} image(s), {} manifests, {} blobs, {} unique",
        written,
        if sealed { " (sealed)" } else { "" },
        images.len(),
        summary.manifests,
        summary.blobs,
        human(summary.unique_bytes)
    ));
    Ok(exit::OK)
}

/// `FILE.001 ... FILE.00N (N parts, set S) and FILE.parts.json`, from the part list just written.
fn volumes_written(output: &std::path::Path) -> anyhow::Result<String> {
    let set = crate::bundle::volumes::PartSet::open_list(&crate::bundle::volumes::list_path(output))?;
    let parts = &set.list.parts;
    let (first, last) = (&parts[0].name, &parts[parts.len() - 1].name);
    let range = if parts.len() == 1 { first.clone() } else { format!("{first} ... {last}") };
    Ok(format!("{range} ({} part(s), set {}) and {}", parts.len(), set.list.set, set.list_path.display()))
}
