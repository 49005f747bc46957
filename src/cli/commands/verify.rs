//! `sealift verify` (being written).

use crate::cli::progress::Ui;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {}

pub async fn run(_args: VerifyArgs, _ui: &Ui) -> anyhow::Result<u8> {
    anyhow::bail!("sealift verify: not implemented yet")
}
