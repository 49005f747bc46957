//! `sealift audit` (being written).

use crate::cli::progress::Ui;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {}

pub async fn run(_args: AuditArgs, _ui: &Ui) -> anyhow::Result<u8> {
    anyhow::bail!("sealift audit: not implemented yet")
}
