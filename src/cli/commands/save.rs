//! `sealift save`.

use crate::cli::args::SaveArgs;
use crate::cli::progress::Ui;

pub async fn run(_args: SaveArgs, _ui: &Ui) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
