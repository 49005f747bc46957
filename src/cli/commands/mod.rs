//! One file per subcommand. Each turns resolved settings into library calls and prints;
//! [`run`] dispatches.

pub mod attach;
pub mod audit;
pub mod certs;
pub mod gate;
pub mod generate;
pub mod inspect;
pub mod inventory;
pub mod load;
pub mod save;
pub mod serve;
pub mod sign;
pub mod verify;

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
        Command::Load(a) => load::run(*a, ui).await,
        Command::Inspect(a) => inspect::run(a, ui).await,
        Command::Generate(a) => generate::run(a, ui).await,
        Command::Certs(a) => certs::run(a, ui).await,
        Command::Sign(a) => sign::run(a, ui).await,
        Command::Attach(a) => attach::run(a, ui).await,
        Command::Verify(a) => verify::run(*a, ui).await,
        Command::Audit(a) => audit::run(a, ui).await,
        Command::Inventory(a) => inventory::run(a, ui).await,
        Command::Serve(a) => serve::run(*a, ui).await,
    }
}

/// `--registry HOST[:PORT][/PREFIX]` (audit, inventory): a registry and a repository
/// prefix, no tag; the message never repeats credentials given in it.
pub(crate) fn registry_prefix(value: &str) -> anyhow::Result<crate::transfer::plan::Destination> {
    crate::transfer::plan::Destination::parse(value).ok().filter(|t| t.default_tag.is_none()).ok_or_else(|| {
        Failure::new(
            crate::exit::USAGE,
            format!(
                "invalid --registry {:?}: expected HOST[:PORT][/PREFIX]",
                crate::oci::reference::without_userinfo(value).unwrap_or_else(|| value.to_owned())
            ),
        )
        .into()
    })
}
