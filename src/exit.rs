//! Exit codes, documented in README.md. "Verification said no" is kept apart from
//! "could not check" so scripts can tell a tampered bundle from a network outage.

/// Everything worked; every verification passed.
pub const OK: u8 = 0;
/// A signature, certificate, seal or policy check rejected what it was given.
pub const REJECTED: u8 = 1;
/// Bad command line: unknown flag, malformed reference, unreadable option value.
pub const USAGE: u8 = 2;
/// Could not do the job: I/O error, registry unreachable or refusing, auth failure,
/// missing image.
pub const FAILED: u8 = 3;
/// The bundle or layout is corrupt, truncated or hostile (digest or size mismatch,
/// forbidden entry, missing blob). Nothing that depends on it was pushed.
pub const BAD_BUNDLE: u8 = 4;
/// Interrupted by SIGINT (128 + 2, as a shell reports it); temporary files were removed.
pub const INTERRUPTED: u8 = 130;
/// Terminated by SIGTERM (128 + 15); temporary files were removed.
pub const TERMINATED: u8 = 143;
