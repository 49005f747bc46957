//! `sealift inspect`.

use crate::cli::args::InspectArgs;
use crate::cli::progress::Ui;

pub async fn run(_args: InspectArgs, _ui: &Ui) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
