//! `sealift sign` (being written).

use crate::cli::progress::Ui;

#[derive(Debug, clap::Args)]
pub struct SignArgs {}

pub async fn run(_args: SignArgs, _ui: &Ui) -> anyhow::Result<u8> {
    anyhow::bail!("sealift sign: not implemented yet")
}
