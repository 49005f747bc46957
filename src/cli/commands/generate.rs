//! `sealift generate` (being written).

use crate::cli::progress::Ui;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {}

pub async fn run(_args: GenerateArgs, _ui: &Ui) -> anyhow::Result<u8> {
    anyhow::bail!("sealift generate: not implemented yet")
}
