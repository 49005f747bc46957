//! The terminal side of progress: indicatif bars on a terminal, nothing on a pipe or with
//! `-q`. Library code only sees the [`Reporter`] trait.

use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::oci::Digest;
use crate::progress::Reporter;

/// Status lines and a byte-progress bar on stderr. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Ui {
    quiet: bool,
    bar: Arc<Mutex<Option<ProgressBar>>>,
}

impl Ui {
    pub fn new(quiet: bool) -> Self {
        Ui { quiet, bar: Arc::new(Mutex::new(None)) }
    }

    /// Starts a bar for `total` bytes (only on a terminal).
    pub fn start_bytes(&self, prefix: &str, total: u64) {
        self.start(prefix, total, "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}");
    }

    /// Starts a bar for `total` counted steps, e.g. repositories (only on a terminal).
    pub fn start_count(&self, prefix: &str, total: u64) {
        self.start(prefix, total, "{prefix} [{bar:30}] {pos}/{len} {per_sec} {msg}");
    }

    fn start(&self, prefix: &str, total: u64, template: &'static str) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        // indicatif hides a bar whose stderr is no terminal; such a bar must not be kept,
        // or the status lines printed through it would vanish from a pipe.
        if bar.is_hidden() {
            return;
        }
        bar.set_style(ProgressStyle::with_template(template).expect("static template").progress_chars("=> "));
        bar.set_prefix(prefix.to_owned());
        *self.bar.lock().expect("ui lock") = Some(bar);
    }

    /// Removes the bar, if any.
    pub fn clear(&self) {
        if let Some(b) = self.bar.lock().expect("ui lock").take() {
            b.finish_and_clear();
        }
    }

    /// A status line on stderr (not with -q).
    pub fn status(&self, msg: &str) {
        if self.quiet {
            return;
        }
        let msg = &*crate::escape::clean(msg);
        match self.bar.lock().expect("ui lock").as_ref() {
            Some(b) => b.println(msg),
            None => super::eprint_line(msg),
        }
    }

    /// Several status lines built by code that escaped each field it took from a bundle,
    /// certificate or registry (e.g. an image report): each line goes out as its own status
    /// line, so that a newline of the layout stays a newline instead of a visible `\n`.
    pub fn status_lines(&self, text: &str) {
        for line in text.lines() {
            self.status(line);
        }
    }

    /// A warning: printed even with -q.
    pub fn warn(&self, msg: &str) {
        let msg = &*crate::escape::clean(msg);
        match self.bar.lock().expect("ui lock").as_ref() {
            Some(b) => b.println(format!("warning: {msg}")),
            None => super::eprint_line(&format!("warning: {msg}")),
        }
    }
}

impl Reporter for Ui {
    fn bytes(&self, n: u64) {
        if let Some(b) = self.bar.lock().expect("ui lock").as_ref() {
            b.inc(n);
        }
    }
    fn blob_started(&self, digest: &Digest, _size: u64) {
        if let Some(b) = self.bar.lock().expect("ui lock").as_ref() {
            b.set_message(format!("{:.19}", digest.to_string()));
        }
    }
    fn message(&self, msg: &str) {
        self.status(msg);
    }
    fn task_started(&self, what: &str, total: u64) {
        self.start_count(what, total);
    }
    fn advanced(&self, n: u64) {
        if let Some(b) = self.bar.lock().expect("ui lock").as_ref() {
            b.inc(n);
        }
    }
    fn requests_in_flight(&self, n: usize) {
        if let Some(b) = self.bar.lock().expect("ui lock").as_ref() {
            b.set_message(format!("{n} request(s) in flight"));
        }
    }
}
