//! `sealift attach` (being written).

use crate::cli::progress::Ui;

#[derive(Debug, clap::Subcommand)]
pub enum AttachCommand {
    /// Attach a signature made by an external signer.
    Signature {},
}

pub async fn run(_args: AttachCommand, _ui: &Ui) -> anyhow::Result<u8> {
    anyhow::bail!("sealift attach: not implemented yet")
}
