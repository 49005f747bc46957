//! `sealift save`: images with all their signatures into one bundle file.

use std::sync::Arc;

use crate::bundle::Compression;
use crate::cli::args::{CompressionArg, SaveArgs};
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::exit;
use crate::transfer::inspect::human;
use crate::transfer::save::{self, Registries, SaveOptions};

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
    let mut registries = Registries::new(settings::registry_options(&args.registry)?);
    let walked = save::walk(&mut registries, &refs, &platforms, args.registry.jobs as usize, ui).await;
    ui.clear();
    let (contents, images) = walked?;
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
    let layer_total: u64 = contents.blobs.values().filter(|b| !b.metadata).map(|b| b.size).sum();
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
