//! `sealift certs` (being written).

use crate::cli::progress::Ui;

#[derive(Debug, clap::Subcommand)]
pub enum CertsCommand {
    /// Create a root CA, an intermediate and a leaf.
    Create {},
}

pub async fn run(_args: CertsCommand, _ui: &Ui) -> anyhow::Result<u8> {
    anyhow::bail!("sealift certs: not implemented yet")
}
