//! Temporary files a signal must not leave behind. Every writer that makes its output
//! appear by renaming a temporary file registers that file here; on SIGINT or SIGTERM the
//! CLI calls [`remove_all`], which deletes them and holds the lock until the process exits,
//! so that no rename can put a file under its final name meanwhile (issue 9).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

struct State {
    next: u64,
    paths: BTreeMap<u64, PathBuf>,
}

static STATE: Mutex<State> = Mutex::new(State { next: 0, paths: BTreeMap::new() });

fn lock() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// A registered temporary file; dropping it unregisters it (its owner removes the file).
#[derive(Debug)]
pub struct Registered {
    id: u64,
}

/// Registers `path` for removal if the process is interrupted before it is renamed.
pub fn register(path: &Path) -> Registered {
    let mut st = lock();
    let id = st.next;
    st.next += 1;
    st.paths.insert(id, path.to_owned());
    Registered { id }
}

impl Registered {
    /// Runs `rename` (which moves the file to its final name) and unregisters the file, as
    /// one step with respect to [`remove_all`]: once an interrupt began removing temporary
    /// files, this waits for the process to exit instead.
    pub fn persist<T>(self, rename: impl FnOnce() -> T) -> T {
        let mut st = lock();
        st.paths.remove(&self.id);
        std::mem::forget(self);
        rename()
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock().paths.remove(&self.id);
    }
}

/// One file of a set written by [`write_all_atomic`].
pub struct NewFile<'a> {
    pub path: &'a Path,
    pub bytes: &'a [u8],
    /// Unix mode, set exactly (0600 for a private key, 0644 for what anyone may read).
    pub mode: u32,
}

/// A file of a set could not be written; nothing of the set was renamed into place.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Writes `bytes` to `path` atomically, readable like any file the user writes (0644):
/// see [`write_all_atomic`].
pub fn write_atomic(path: &Path, prefix: &str, bytes: &[u8]) -> Result<(), WriteError> {
    write_all_atomic(&[NewFile { path, bytes, mode: 0o644 }], prefix)
}

/// Writes a set of files so that they appear together or not at all: each goes to a
/// registered temporary file (named `prefix`..., created with its mode, so a private key
/// is never readable by others, even briefly) in its own directory and is synced; then all
/// are renamed in one step with respect to [`remove_all`]. SIGINT or SIGTERM before that
/// step removes every temporary file and leaves the final names as they were (absent, or
/// the previous complete set); during it, the process exits once the whole set is in
/// place. An error while writing the temporary files leaves the final names untouched; a
/// rename that fails (the files are complete by then) can leave the set partly renamed.
pub fn write_all_atomic(files: &[NewFile<'_>], prefix: &str) -> Result<(), WriteError> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let mut temps = Vec::with_capacity(files.len());
    for f in files {
        let err = |source| WriteError { path: f.path.to_owned(), source };
        let dir = match f.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mode = std::fs::Permissions::from_mode(f.mode);
        let mut tmp =
            tempfile::Builder::new().prefix(prefix).permissions(mode.clone()).tempfile_in(dir).map_err(err)?;
        let registered = register(tmp.path());
        tmp.write_all(f.bytes).map_err(err)?;
        // The umask narrowed the mode at creation; the caller's mode is the one wanted.
        tmp.as_file().set_permissions(mode).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        temps.push((tmp, registered, f.path));
    }
    #[cfg(debug_assertions)]
    hold_before_rename(&temps.iter().map(|(t, ..)| t.path()).collect::<Vec<_>>());
    let mut st = lock();
    let mut pending = Vec::with_capacity(temps.len());
    for (tmp, registered, path) in temps {
        st.paths.remove(&registered.id);
        std::mem::forget(registered);
        pending.push((tmp, path));
    }
    // Renamed under the lock: an interrupt now waits for the whole set. On an error the
    // temporary files not yet renamed are removed when dropped.
    for (tmp, path) in pending {
        tmp.persist(path).map_err(|e| WriteError { path: path.to_owned(), source: e.error })?;
    }
    drop(st);
    Ok(())
}

/// Test seam, in debug builds only: with `SEALIFT_TEST_HOLD_RENAME` naming a FIFO, a set
/// whose temporary files are written and synced writes their paths to the FIFO, then
/// waits (opening it for reading, which no test answers) for a signal. The integration
/// tests use it to interrupt a command at a moment it is provably mid-write.
#[cfg(debug_assertions)]
fn hold_before_rename(temps: &[&Path]) {
    use std::io::Write as _;
    let Some(fifo) = std::env::var_os("SEALIFT_TEST_HOLD_RENAME") else { return };
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) {
        for t in temps {
            let _ = writeln!(f, "{}", t.display());
        }
    }
    let _ = std::fs::File::open(&fifo);
}

/// Proof that [`remove_all`] ran: hold it until the process exits.
#[must_use = "hold it until the process exits"]
pub struct Removed {
    _held: MutexGuard<'static, State>,
    pub count: usize,
}

/// Removes every registered temporary file (errors ignored: a file may be gone already)
/// and keeps the registry locked while the returned value lives.
pub fn remove_all() -> Removed {
    let st = lock();
    for p in st.paths.values() {
        let _ = std::fs::remove_file(p);
    }
    let count = st.paths.len();
    Removed { _held: st, count }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_files_are_removed_and_persisted_ones_are_not() {
        let d = tempfile::tempdir().unwrap();
        let (a, b, c) = (d.path().join("a"), d.path().join("b"), d.path().join("c"));
        for p in [&a, &b] {
            std::fs::write(p, b"x").unwrap();
        }
        let ra = register(&a);
        let rb = register(&b);
        rb.persist(|| std::fs::rename(&b, &c)).unwrap();
        let removed = remove_all();
        assert!(!a.exists() && c.exists());
        drop(removed);
        drop(ra);
    }

    #[test]
    fn a_set_with_a_file_that_cannot_be_written_leaves_no_file_of_the_set() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("missing-dir/b"));
        let files = [NewFile { path: &a, bytes: b"a", mode: 0o600 }, NewFile { path: &b, bytes: b"b", mode: 0o644 }];
        let e = write_all_atomic(&files, ".t-").unwrap_err();
        assert_eq!(e.path, b);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "neither a nor a temporary file");
        write_all_atomic(&files[..1], ".t-").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&a).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
