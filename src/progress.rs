//! Progress reporting. Library code reports through [`Reporter`]; only the CLI layer
//! knows indicatif, so library code stays quiet on a pipe and in tests.

/// Receives progress from long-running library operations. All methods default to no-ops.
pub trait Reporter: Send + Sync {
    /// A blob transfer of `size` bytes started.
    fn blob_started(&self, _digest: &crate::oci::Digest, _size: u64) {}
    /// `n` more bytes of some blob moved.
    fn bytes(&self, _n: u64) {}
    /// A blob transfer finished (or was skipped).
    fn blob_finished(&self, _digest: &crate::oci::Digest) {}
    /// A one-line status message for the user (stderr).
    fn message(&self, _msg: &str) {}
    /// A task of `total` counted steps (not bytes) started, e.g. repositories to list.
    fn task_started(&self, _what: &str, _total: u64) {}
    /// `n` more steps of the current counted task are done.
    fn advanced(&self, _n: u64) {}
    /// How many requests are under way now (a walk of many images at once).
    fn requests_in_flight(&self, _n: usize) {}
}

/// A reporter that reports nothing.
pub struct Silent;
impl Reporter for Silent {}
