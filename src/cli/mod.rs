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
            eprint_line(&format!("sealift: error: cannot start the async runtime: {e}"));
            return ExitCode::from(exit::FAILED);
        }
    };
    let ui = progress::Ui::new(cli.quiet);
    // `serve` stops on a signal itself: it drains its connections and exits 0.
    if !matches!(cli.command, args::Command::Serve(_)) {
        on_signals(&runtime, &ui);
    }
    match runtime.block_on(commands::run(cli.command, &ui)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            ui.clear();
            eprint_line(&format!("sealift: error: {}", one_line(&e)));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Set once stdout turned out to be closed.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes data (a JSON report, a payload to be signed: byte for byte) to stdout. A reader
/// that went away (`| head`, `| true`) is no error: the rest of the output is dropped and
/// the command still ends with the exit code its verdict deserves, without a panic or a
/// message.
pub fn print(data: impl AsRef<[u8]>) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let data = data.as_ref();
    let mut out = std::io::stdout().lock();
    match out.write_all(data).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        r => r,
    }
}

/// Writes lines of text for people to stdout, as [`print()`], with every control character
/// but newlines escaped: the last line of defence behind the renderers' own escaping.
pub fn print_text(text: impl AsRef<str>) -> std::io::Result<()> {
    print(crate::escape::clean_lines(text.as_ref()).as_bytes())
}

/// Writes a JSON document to stdout, as [`print()`], with the control characters serde
/// leaves raw (DEL, C1) escaped: the same JSON value.
pub fn print_json(json: &str) -> std::io::Result<()> {
    print(crate::escape::json_controls(json).as_bytes())
}

/// stderr for everything sealift writes there (status lines, warnings, logs, the final
/// error). stderr is where failures are reported, so a failure to write there has nowhere
/// to go: a pipe whose reader left, a full disk (`2>/dev/full`) or any other write error
/// is ignored, where `eprintln!` (and tracing's own fallback) would panic with exit 101.
/// The command ends with the exit code its work deserves. (A closed descriptor, `2>&-`,
/// is already harmless: Rust reopens it on /dev/null at startup.)
pub struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Writes one line for people to [`Stderr`], control characters escaped.
pub fn eprint_line(line: &str) {
    use std::io::Write as _;
    let mut text = crate::escape::clean_lines(line).into_owned();
    text.push('\n');
    let _ = Stderr.write_all(text.as_bytes());
}

/// SIGINT and SIGTERM: remove every registered temporary file (a half-written bundle,
/// report or key), then exit 130 or 143 as a shell would report the signal. This runs on a
/// worker thread, so it works while the command is busy; the registry stays locked until
/// the exit, so no output can be renamed into place meanwhile.
fn on_signals(runtime: &tokio::runtime::Runtime, ui: &progress::Ui) {
    use tokio::signal::unix::{signal, SignalKind};
    let _entered = runtime.enter();
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return; // no handler: the default action (ending the process) applies
    };
    let ui = ui.clone();
    runtime.spawn(async move {
        let (name, code) = tokio::select! {
            _ = int.recv() => ("SIGINT", exit::INTERRUPTED),
            _ = term.recv() => ("SIGTERM", exit::TERMINATED),
        };
        let removed = crate::tempfiles::remove_all();
        ui.clear();
        let what = match removed.count {
            0 => String::new(),
            n => format!("; removed {n} temporary file(s)"),
        };
        eprint_line(&format!("sealift: interrupted by {name}{what}"));
        std::process::exit(i32::from(code));
    });
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
        .with_writer(|| Stderr)
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
    // Messages quote what registries, bundles and certificates said: no raw control characters.
    crate::escape::clean(&out.replace('\n', " ")).into_owned()
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
        if let Some(e) = cause.downcast_ref::<crate::inventory::InventoryError>() {
            return if e.is_rejection() { exit::REJECTED } else { exit::BAD_BUNDLE };
        }
        if let Some(e) = cause.downcast_ref::<crate::transfer::load::LoadError>() {
            return if e.is_bad_bundle() { exit::BAD_BUNDLE } else { exit::FAILED };
        }
        if let Some(v) = cause.downcast_ref::<crate::bundle::volumes::VolumeError>() {
            return if v.is_rejection() { exit::REJECTED } else { exit::BAD_BUNDLE };
        }
        if let Some(e) = cause.downcast_ref::<crate::bundle::BundleError>() {
            if let crate::bundle::BundleError::Volume(v) = e {
                return if v.is_rejection() { exit::REJECTED } else { exit::BAD_BUNDLE };
            }
            return if crate::transfer::load::is_bundle_fault(e) { exit::BAD_BUNDLE } else { exit::FAILED };
        }
    }
    exit::FAILED
}
