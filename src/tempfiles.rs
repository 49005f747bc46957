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

/// Writes `bytes` to `path` atomically: a registered temporary file (named `prefix`...) in
/// the same directory, made readable like any file the user writes (0644, not 0600),
/// synced, then renamed over `path`. A failed or interrupted run leaves nothing under the
/// final name.
pub fn write_atomic(path: &Path, prefix: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(prefix).tempfile_in(dir)?;
    let registered = register(tmp.path());
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    registered.persist(|| tmp.persist(path)).map_err(|e| e.error)?;
    Ok(())
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
}
