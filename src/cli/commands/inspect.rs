//! `sealift inspect`: what a bundle holds. Reads only the metadata part of a bundle (it
//! stops before the first layer), so it is quick even on a huge file.

use crate::cli::args::{InspectArgs, OutputFormat};
use crate::cli::progress::Ui;
use crate::content::Metadata;
use crate::exit;
use crate::layout::LayoutDir;
use crate::transfer::inspect::{render_text, summarize};
use crate::transfer::load::{read_dir_metadata, read_tar_metadata};

/// Reads the metadata of a bundle file or layout directory.
pub async fn metadata(source: &std::path::Path) -> anyhow::Result<Metadata> {
    if source.is_dir() {
        let dir = LayoutDir::open(source)?;
        Ok(read_dir_metadata(&dir)?)
    } else {
        Ok(read_tar_metadata(source).await?.0)
    }
}

pub async fn run(args: InspectArgs, _ui: &Ui) -> anyhow::Result<u8> {
    let meta = metadata(&args.source).await?;
    let mut summary = summarize(&meta.contents);
    summary.sealed = meta.seal.contains_key(crate::seal::SEAL_INDEX);
    match args.output {
        OutputFormat::Json => crate::cli::print_json(&format!("{}\n", serde_json::to_string_pretty(&summary)?))?,
        OutputFormat::Text => crate::cli::print_text(render_text(&summary))?,
    }
    Ok(exit::OK)
}
