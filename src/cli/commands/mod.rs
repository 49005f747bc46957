//! One file per subcommand. Each turns resolved settings into library calls and prints;
//! [`run`] dispatches.

pub mod inspect;
pub mod load;
pub mod save;

use super::args::Command;
use super::progress::Ui;

/// An error that carries its exit code, for outcomes the library types do not classify
/// (e.g. "verification rejected" after a full report has been printed).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure { code, message: message.into() }
    }
}

/// Runs one command; `Ok(code)` is the exit code of a command that ran to its end.
pub async fn run(command: Command, ui: &Ui) -> anyhow::Result<u8> {
    match command {
        Command::Save(a) => save::run(a, ui).await,
        Command::Load(a) => load::run(a, ui).await,
        Command::Inspect(a) => inspect::run(a, ui).await,
    }
}
