//! The command-line layer: clap types ([`args`]), settings resolution, dispatch, printing,
//! and the one place where errors become exit codes ([`exit_code`]).

pub mod args;
pub mod commands;
pub mod progress;
pub mod settings;
pub mod trust;

use std::process::ExitCode;

use clap::Parser;

use crate::exit;

/// Runs sealift with the process arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    init_tracing(cli.quiet, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sealift: error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let ui = progress::Ui::new(cli.quiet);
    match runtime.block_on(commands::run(cli.command, &ui)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            ui.clear();
            eprintln!("sealift: error: {}", one_line(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

fn init_tracing(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEALIFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("sealift={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// The error and its causes on one line, without repeating a cause the message already says.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out.replace('\n', " ")
}

/// Maps an error to its documented exit code by the most specific typed cause in its chain.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<commands::Failure>() {
            return c.code;
        }
        if let Some(e) = cause.downcast_ref::<trust::TrustArgsError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::sign::SignError>() {
            return e.exit_code();
        }
        if let Some(settings::SettingsError::File { .. }) = cause.downcast_ref::<settings::SettingsError>() {
            return exit::FAILED; // a file named on the command line could not be read
        }
        if cause.is::<crate::oci::reference::ReferenceError>()
            || cause.is::<settings::SettingsError>()
            || cause.is::<crate::verify::crypto::KeyError>()
        {
            return exit::USAGE;
        }
        if cause.is::<crate::oci::digest::ContentMismatch>() || cause.is::<crate::content::ModelError>() {
            return exit::BAD_BUNDLE;
        }
        if let Some(e) = cause.downcast_ref::<crate::transfer::load::LoadError>() {
            return if e.is_bad_bundle() { exit::BAD_BUNDLE } else { exit::FAILED };
        }
        if let Some(e) = cause.downcast_ref::<crate::bundle::BundleError>() {
            return if crate::transfer::load::is_bundle_fault(e) { exit::BAD_BUNDLE } else { exit::FAILED };
        }
    }
    exit::FAILED
}
