//! The command-line layer: clap types, settings, dispatch, printing and exit codes.

pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(crate::exit::OK)
}
