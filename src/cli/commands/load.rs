//! `sealift load`.

use crate::cli::args::LoadArgs;
use crate::cli::progress::Ui;

pub async fn run(_args: LoadArgs, _ui: &Ui) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
