//! Size-limited volumes (issue 10 §3): a bundle's byte stream (after compression, if any)
//! split into parts `NAME.001`, `NAME.002`, … of at most a chosen size, and a small part
//! list `NAME.parts.json` (each part's name, size and sha256, the whole stream's size and
//! sha256, a set id) written last, optionally with a detached signature
//! `NAME.parts.json.sig` in the seal's format. Specified in docs/bundle.md ("Volumes").
//!
//! A part carries no header of its own: `cat NAME.0* > NAME` gives the bundle back. What
//! makes a part checkable on its own is the part list.
//!
//! - [`VolumeWriter`]: the sink under [`super::BundleWriter`]: every part is a registered
//!   temporary file until the whole stream is written ([`PendingParts`]), then renamed, and
//!   the part list appears last.
//! - [`PartSet`]: a part list read back and checked against the files beside it.
//! - [`MultiPartReader`]: `Read + Seek` across the parts in order, hashing each part that is
//!   read from its start and failing at its end, naming it, when it differs from the list.
//! - [`BundleFile`]: what every reader of a bundle file opens: a plain file, or the parts.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::oci::digest::Hasher;
use crate::oci::Digest;

use super::BundleError;

/// Schema identifier of [`PartList`]; a reader refuses any other.
pub const PARTS_SCHEMA: &str = "https://sealift.dev/schemas/bundle-parts/v1";
/// `NAME` + this is the part list of the parts `NAME.001`, ….
pub const PART_LIST_SUFFIX: &str = ".parts.json";
/// The part list's detached signature is the part list's name + this.
pub const SIGNATURE_SUFFIX: &str = ".sig";
/// A part list is a few hundred bytes per part; anything much bigger is not one.
const MAX_PART_LIST: u64 = 16 * 1024 * 1024;
/// Parts are at least this large (a smaller `--volume-size` is a usage error).
pub const MIN_VOLUME_SIZE: u64 = 4096;

/// Why a volume set was refused; every variant names the part or the part list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VolumeError {
    #[error("{list} is not a part list: {reason}")]
    Malformed { list: String, reason: String },
    #[error("{list} has unknown schema {found:?} (expected {PARTS_SCHEMA})")]
    Schema { list: String, found: String },
    #[error("{part} looks like a volume but its part list {list} is missing (give it with --parts)")]
    NoPartList { part: String, list: String },
    #[error("part {part} of set {set} is missing")]
    Missing { part: String, set: String },
    #[error("part {part} is {actual} bytes, but the part list of set {set} says {expected}: damaged or truncated")]
    Size { part: String, set: String, expected: u64, actual: u64 },
    #[error("part {part} is damaged or from another set: its sha256 is {actual}, the part list of set {set} says {expected}")]
    Damaged { part: String, set: String, expected: Digest, actual: Digest },
    #[error("part {part} holds part {holds} of set {set}: the parts are out of order (renamed)")]
    OutOfOrder { part: String, set: String, holds: String },
    #[error("{part} is not a part of set {set} (its part list names {count} parts)")]
    NotInSet { part: String, set: String, count: usize },
    #[error("{part} is part {number} of set {set}: give the first part ({first}) or the part list")]
    NotFirst { part: String, set: String, number: usize, first: String },
    #[error("the part list {list} is not signed (no {list}{SIGNATURE_SUFFIX}), but bundle trust was given")]
    Unsigned { list: String },
    /// The signature did not verify: a rejection (exit 1), not a bad bundle.
    #[error("the part list {list} is rejected: {reason}")]
    Rejected { list: String, reason: String },
}

impl VolumeError {
    /// A signature that does not verify is a rejection; everything else a bad bundle.
    pub fn is_rejection(&self) -> bool {
        matches!(self, VolumeError::Rejected { .. })
    }
}

impl From<VolumeError> for BundleError {
    fn from(e: VolumeError) -> Self {
        BundleError::Volume(e)
    }
}

/// The part list. Field order is fixed and the bytes depend only on the parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PartList {
    pub schema: String,
    pub tool: String,
    /// 32 hex digits derived from every part's name, size and digest: the same set id is
    /// the same bytes split the same way.
    pub set: String,
    /// The whole stream: the bundle file's name (without a part suffix), size and digest.
    pub bundle: PartRef,
    /// The `--volume-size` the parts were cut at (every part but the last has this size).
    pub volume_size: u64,
    pub parts: Vec<PartRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartRef {
    pub name: String,
    pub size: u64,
    pub digest: Digest,
}

/// `NAME.001`, `NAME.002`, … (three digits, more past 999).
pub fn part_name(bundle_name: &str, index: usize) -> String {
    format!("{bundle_name}.{:03}", index + 1)
}

/// The part list's path for the bundle path `output` (`NAME` → `NAME.parts.json`).
pub fn list_path(output: &Path) -> PathBuf {
    let mut s = output.as_os_str().to_owned();
    s.push(PART_LIST_SUFFIX);
    PathBuf::from(s)
}

fn signature_path(list: &Path) -> PathBuf {
    let mut s = list.as_os_str().to_owned();
    s.push(SIGNATURE_SUFFIX);
    PathBuf::from(s)
}

fn set_id(parts: &[PartRef]) -> String {
    let mut h = Hasher::new();
    for p in parts {
        h.update(format!("{} {} {}\n", p.name, p.size, p.digest).as_bytes());
    }
    h.finish().hex()[..32].to_owned()
}

impl PartList {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("plain data");
        v.push(b'\n');
        v
    }

    /// Strict parse: the schema first (so a future version is named as such), unknown
    /// fields refused, then the structure: part names are exactly `NAME.001`… in order (so a
    /// list can name nothing but its own parts), sizes add up, the set id matches.
    pub fn parse(what: &str, untrusted: &[u8]) -> Result<PartList, VolumeError> {
        #[derive(Deserialize)]
        struct Head {
            schema: Option<serde_json::Value>,
        }
        let bad = |reason: String| VolumeError::Malformed { list: what.to_owned(), reason };
        let head: Head = serde_json::from_slice(untrusted).map_err(|e| bad(e.to_string()))?;
        match head.schema {
            Some(serde_json::Value::String(s)) if s == PARTS_SCHEMA => {}
            Some(serde_json::Value::String(found)) => return Err(VolumeError::Schema { list: what.to_owned(), found }),
            _ => return Err(bad("no schema string".into())),
        }
        let list: PartList = serde_json::from_slice(untrusted).map_err(|e| bad(e.to_string()))?;
        let name = &list.bundle.name;
        if name.is_empty() || name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return Err(bad(format!("bundle name {name:?} is not a plain file name")));
        }
        if list.parts.is_empty() {
            return Err(bad("it lists no parts".into()));
        }
        let mut total = 0u64;
        for (i, p) in list.parts.iter().enumerate() {
            if p.name != part_name(name, i) {
                return Err(bad(format!("part {} is named {:?}, expected {:?}", i + 1, p.name, part_name(name, i))));
            }
            let last = i + 1 == list.parts.len();
            if p.size == 0 || p.size > list.volume_size || (!last && p.size != list.volume_size) {
                return Err(bad(format!(
                    "part {} has size {} for a volume size of {}",
                    p.name, p.size, list.volume_size
                )));
            }
            total = total.checked_add(p.size).ok_or_else(|| bad("sizes overflow".into()))?;
        }
        if total != list.bundle.size {
            return Err(bad(format!("parts add up to {total} bytes, the bundle is {}", list.bundle.size)));
        }
        if list.set != set_id(&list.parts) {
            return Err(bad(format!("set id {} does not match its parts", list.set)));
        }
        Ok(list)
    }
}

// ---------------------------------------------------------------------------------------
// Writing

/// A part being written or written: a registered temporary file beside the final name.
struct TempPart {
    temp: tempfile::TempPath,
    registered: crate::tempfiles::Registered,
    size: u64,
    digest: Digest,
}

struct OpenPart {
    file: File,
    temp: tempfile::TempPath,
    registered: crate::tempfiles::Registered,
    hasher: Hasher,
    written: u64,
}

/// The byte sink of a volume set: see the module documentation.
pub struct VolumeWriter {
    final_path: PathBuf,
    dir: PathBuf,
    bundle_name: String,
    volume_size: u64,
    done: Vec<TempPart>,
    current: Option<OpenPart>,
    whole: Hasher,
}

impl VolumeWriter {
    pub fn new(final_path: &Path, volume_size: u64) -> Result<VolumeWriter, BundleError> {
        let dir = match final_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let bundle_name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| BundleError::io(final_path, io::Error::other("no file name")))?;
        Ok(VolumeWriter {
            final_path: final_path.to_owned(),
            dir,
            bundle_name,
            volume_size: volume_size.max(1),
            done: Vec::new(),
            current: None,
            whole: Hasher::new(),
        })
    }

    fn open_part(&mut self) -> io::Result<()> {
        let name = part_name(&self.bundle_name, self.done.len());
        let temp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".partial").tempfile_in(&self.dir)?;
        let (file, temp) = temp.into_parts();
        let registered = crate::tempfiles::register(&temp);
        self.current = Some(OpenPart { file, temp, registered, hasher: Hasher::new(), written: 0 });
        Ok(())
    }

    fn close_part(&mut self) -> io::Result<()> {
        if let Some(p) = self.current.take() {
            p.file.sync_all()?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                p.file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
            }
            self.done.push(TempPart {
                temp: p.temp,
                registered: p.registered,
                size: p.written,
                digest: p.hasher.finish(),
            });
        }
        Ok(())
    }

    /// Closes the last part; the parts stay temporary files until [`PendingParts::publish`].
    pub fn finish(mut self) -> Result<PendingParts, BundleError> {
        let dir = self.dir.clone();
        self.close_part().map_err(|e| BundleError::io(&dir, e))?;
        if self.done.is_empty() {
            // An empty stream cannot happen (a bundle has at least its end marker).
            self.open_part().and_then(|_| self.close_part()).map_err(|e| BundleError::io(&dir, e))?;
        }
        let parts: Vec<PartRef> = self
            .done
            .iter()
            .enumerate()
            .map(|(i, p)| PartRef { name: part_name(&self.bundle_name, i), size: p.size, digest: p.digest.clone() })
            .collect();
        let size = parts.iter().map(|p| p.size).sum();
        let whole = std::mem::take(&mut self.whole);
        let list = PartList {
            schema: PARTS_SCHEMA.to_owned(),
            tool: format!("sealift {}", env!("CARGO_PKG_VERSION")),
            set: set_id(&parts),
            bundle: PartRef { name: self.bundle_name.clone(), size, digest: whole.finish() },
            volume_size: self.volume_size,
            parts,
        };
        Ok(PendingParts {
            list_path: list_path(&self.final_path),
            dir: self.dir.clone(),
            list,
            temps: std::mem::take(&mut self.done),
        })
    }
}

impl Write for VolumeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.as_ref().is_some_and(|p| p.written == self.volume_size) {
            self.close_part()?;
        }
        if self.current.is_none() {
            self.open_part()?;
        }
        let part = self.current.as_mut().expect("opened above");
        let room = (self.volume_size - part.written).min(buf.len() as u64) as usize;
        let n = part.file.write(&buf[..room])?;
        part.hasher.update(&buf[..n]);
        self.whole.update(&buf[..n]);
        part.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.current {
            Some(p) => p.file.flush(),
            None => Ok(()),
        }
    }
}

/// Every part complete under a temporary name, and the part list to write. Dropping it
/// without [`publish`](Self::publish) removes the parts.
pub struct PendingParts {
    list_path: PathBuf,
    dir: PathBuf,
    list: PartList,
    temps: Vec<TempPart>,
}

impl PendingParts {
    pub fn list(&self) -> &PartList {
        &self.list
    }

    /// The exact bytes of the part list (what a signature covers).
    pub fn list_bytes(&self) -> Vec<u8> {
        self.list.to_bytes()
    }

    /// Renames every part into place, then writes the signature (or removes a stale one),
    /// then the part list, last. Until the part list is written the renamed parts stay
    /// registered: a signal or a failure removes them. Returns the part list's path.
    pub fn publish(self, signature: Option<Vec<u8>>) -> Result<PathBuf, BundleError> {
        let PendingParts { list_path, dir, list, temps } = self;
        let mut placed: Vec<(PathBuf, crate::tempfiles::Registered)> = Vec::new();
        let cleanup = |placed: &[(PathBuf, crate::tempfiles::Registered)]| {
            for (p, _) in placed {
                let _ = std::fs::remove_file(p);
            }
        };
        for (t, p) in temps.into_iter().zip(&list.parts) {
            let target = dir.join(&p.name);
            // Registered under the final name before the rename: no moment without cover.
            let cover = crate::tempfiles::register(&target);
            if let Err(e) = t.registered.persist(|| t.temp.persist(&target)) {
                cleanup(&placed);
                drop(cover);
                return Err(BundleError::io(&target, e.error));
            }
            placed.push((target, cover));
        }
        let sig_path = signature_path(&list_path);
        let written = match &signature {
            Some(sig) => crate::tempfiles::write_atomic(&sig_path, ".sealift-parts-", sig).map_err(|e| e.source),
            None => match std::fs::remove_file(&sig_path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        }
        .map_err(|e| BundleError::io(&sig_path, e))
        .and_then(|()| {
            crate::tempfiles::write_atomic(&list_path, ".sealift-parts-", &list.to_bytes())
                .map_err(|e| BundleError::io(&list_path, e.source))
        })
        .and_then(|()| File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| BundleError::io(&dir, e)));
        if let Err(e) = written {
            cleanup(&placed);
            return Err(e);
        }
        // The list is in place: the parts are the user's now.
        drop(placed);
        Ok(list_path)
    }
}

// ---------------------------------------------------------------------------------------
// Reading

/// A part list read from disk and the directory its parts are in.
#[derive(Debug, Clone)]
pub struct PartSet {
    pub list: PartList,
    pub list_path: PathBuf,
    /// The exact bytes read (what a signature covers).
    pub list_bytes: Vec<u8>,
    dir: PathBuf,
}

/// Which part a path names, by its file name, if it looks like one (`NAME.NNN`).
fn split_part_name(path: &Path) -> Option<(String, usize)> {
    let name = path.file_name()?.to_str()?;
    let (stem, digits) = name.rsplit_once('.')?;
    if stem.is_empty() || digits.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: usize = digits.parse().ok()?;
    (n >= 1).then(|| (stem.to_owned(), n - 1))
}

fn is_list_path(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(PART_LIST_SUFFIX))
}

impl PartSet {
    /// Reads the part list at `list_path` (parts are looked for beside it).
    pub fn open_list(list_path: &Path) -> Result<PartSet, BundleError> {
        let what = list_path.display().to_string();
        let f = File::open(list_path).map_err(|e| BundleError::io(list_path, e))?;
        let mut bytes = Vec::new();
        f.take(MAX_PART_LIST + 1).read_to_end(&mut bytes).map_err(|e| BundleError::io(list_path, e))?;
        if bytes.len() as u64 > MAX_PART_LIST {
            return Err(VolumeError::Malformed { list: what, reason: format!("over {MAX_PART_LIST} bytes") }.into());
        }
        let list = PartList::parse(&what, &bytes)?;
        let dir = match list_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(PartSet { list, list_path: list_path.to_owned(), list_bytes: bytes, dir })
    }

    /// The part list beside a part `NAME.NNN`: `NAME.parts.json`.
    pub fn list_beside(part: &Path) -> Option<PathBuf> {
        let (stem, _) = split_part_name(part)?;
        Some(part.with_file_name(format!("{stem}{PART_LIST_SUFFIX}")))
    }

    /// What a bundle path names: `Ok(None)` for a plain bundle file, the set for a part
    /// list or the first part `NAME.001` (with its list beside it). A later part is refused:
    /// a bundle is read from its start.
    pub fn for_bundle(path: &Path) -> Result<Option<PartSet>, BundleError> {
        if is_list_path(path) {
            return Ok(Some(PartSet::open_list(path)?));
        }
        let Some((_, index)) = split_part_name(path) else { return Ok(None) };
        let list = PartSet::list_beside(path).expect("a part name");
        if !list.exists() {
            // A later "part" with no list is a plain file whose name ends in digits.
            if index != 0 {
                return Ok(None);
            }
            return Err(
                VolumeError::NoPartList { part: path.display().to_string(), list: list.display().to_string() }.into()
            );
        }
        let set = PartSet::open_list(&list)?;
        let number = set.index_of(path)?;
        if number != 0 {
            return Err(VolumeError::NotFirst {
                part: path.display().to_string(),
                set: set.list.set.clone(),
                number: number + 1,
                first: set.path(0).display().to_string(),
            }
            .into());
        }
        Ok(Some(set))
    }

    /// The path of part `i`.
    pub fn path(&self, i: usize) -> PathBuf {
        self.dir.join(&self.list.parts[i].name)
    }

    /// Which part of this set a file is, by its name.
    pub fn index_of(&self, part: &Path) -> Result<usize, VolumeError> {
        let name = part.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        self.list.parts.iter().position(|p| p.name == name).ok_or_else(|| VolumeError::NotInSet {
            part: part.display().to_string(),
            set: self.list.set.clone(),
            count: self.list.parts.len(),
        })
    }

    /// Every part is there and has its size (a `stat` each; no byte read).
    pub fn check_sizes(&self) -> Result<(), VolumeError> {
        for i in 0..self.list.parts.len() {
            self.check_size(i, &self.path(i))?;
        }
        Ok(())
    }

    fn check_size(&self, i: usize, path: &Path) -> Result<(), VolumeError> {
        let p = &self.list.parts[i];
        let actual = match std::fs::metadata(path) {
            Ok(m) if m.is_file() => m.len(),
            _ => return Err(VolumeError::Missing { part: path.display().to_string(), set: self.list.set.clone() }),
        };
        if actual != p.size {
            return Err(VolumeError::Size {
                part: path.display().to_string(),
                set: self.list.set.clone(),
                expected: p.size,
                actual,
            });
        }
        Ok(())
    }

    /// Checks the file `path` as part `i`: its size, then its sha256. A file holding another
    /// part of the set is named as out of order.
    pub fn check_part(&self, i: usize, path: &Path) -> Result<(), BundleError> {
        self.check_size(i, path)?;
        let mut f = File::open(path).map_err(|e| BundleError::io(path, e))?;
        let mut h = Hasher::new();
        let mut buf = vec![0u8; super::writer::COPY_BUF];
        loop {
            let n = f.read(&mut buf).map_err(|e| BundleError::io(path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        match self.verdict(i, path, h.finish()) {
            None => Ok(()),
            Some(e) => Err(e.into()),
        }
    }

    /// `None` when `actual` is part `i`'s digest, else the error naming the part.
    fn verdict(&self, i: usize, path: &Path, actual: Digest) -> Option<VolumeError> {
        let expected = &self.list.parts[i].digest;
        if &actual == expected {
            return None;
        }
        let part = path.display().to_string();
        let set = self.list.set.clone();
        Some(match self.list.parts.iter().find(|p| p.digest == actual) {
            Some(other) => VolumeError::OutOfOrder { part, set, holds: other.name.clone() },
            None => VolumeError::Damaged { part, set, expected: expected.clone(), actual },
        })
    }

    /// Reads and hashes every part, in order: the first one that differs is named.
    pub fn check_all(&self) -> Result<(), BundleError> {
        self.check_sizes()?;
        for i in 0..self.list.parts.len() {
            self.check_part(i, &self.path(i))?;
        }
        Ok(())
    }

    pub fn reader(self: &Arc<Self>) -> MultiPartReader {
        MultiPartReader { set: self.clone(), pos: 0, open: None, hashing: Some((0, Hasher::new())) }
    }
}

/// `Read + Seek` over a set's parts, in order; see the module documentation. A part read
/// from its first byte to its last without a seek is checked against the part list when its
/// last byte is read (the error, naming the part, wraps a [`BundleError::Volume`]); a part
/// entered by a seek is not (its blobs are still checked against their digests by whoever
/// reads them).
pub struct MultiPartReader {
    set: Arc<PartSet>,
    pos: u64,
    /// The part file open, and its index.
    open: Option<(usize, File)>,
    /// The part being hashed from its start (its index and the hash so far).
    hashing: Option<(usize, Hasher)>,
}

impl MultiPartReader {
    pub fn total(&self) -> u64 {
        self.set.list.bundle.size
    }

    /// The part holding byte `pos` and the offset of `pos` in it.
    fn locate(&self, pos: u64) -> Option<(usize, u64)> {
        if pos >= self.total() {
            return None;
        }
        let size = self.set.list.volume_size;
        let i = (pos / size) as usize;
        (i < self.set.list.parts.len()).then_some((i, pos - i as u64 * size))
    }
}

impl Read for MultiPartReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let Some((i, within)) = self.locate(self.pos) else { return Ok(0) };
        let part_size = self.set.list.parts[i].size;
        if !matches!(&self.open, Some((j, _)) if *j == i) {
            let path = self.set.path(i);
            self.set.check_size(i, &path).map_err(|e| BundleError::from(e).into_io())?;
            let mut f = File::open(&path).map_err(|e| BundleError::io(&path, e).into_io())?;
            f.seek(SeekFrom::Start(within))?;
            self.open = Some((i, f));
            if within == 0 {
                self.hashing = Some((i, Hasher::new()));
            }
        }
        let file = &mut self.open.as_mut().expect("opened above").1;
        let want = (part_size - within).min(buf.len() as u64) as usize;
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            let path = self.set.path(i);
            let e = VolumeError::Size {
                part: path.display().to_string(),
                set: self.set.list.set.clone(),
                expected: part_size,
                actual: within,
            };
            return Err(BundleError::from(e).into_io());
        }
        if let Some((h_i, h)) = &mut self.hashing {
            if *h_i == i && h.len() == within {
                h.update(&buf[..n]);
                if h.len() == part_size {
                    let (_, h) = self.hashing.take().expect("matched above");
                    if let Some(e) = self.set.verdict(i, &self.set.path(i), h.finish()) {
                        return Err(BundleError::from(e).into_io());
                    }
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for MultiPartReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let total = self.total() as i128;
        let target = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::End(d) => total + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the bundle"));
        }
        let target = target as u64;
        if target != self.pos {
            // The next read reopens the part at the new place; no hash continues across a seek.
            self.open = None;
            self.hashing = None;
            self.pos = target;
        }
        Ok(self.pos)
    }
}

/// A bundle file as its readers open it: one file, or a volume set read across its parts.
pub enum BundleFile {
    Plain(File),
    Parts(MultiPartReader),
}

impl BundleFile {
    /// Opens `path`: a part list or a first part (`NAME.001` with `NAME.parts.json` beside
    /// it) opens the set (every part's size checked first), anything else the file itself.
    pub fn open(path: &Path) -> Result<BundleFile, BundleError> {
        match PartSet::for_bundle(path)? {
            Some(set) => {
                set.check_sizes()?;
                Ok(BundleFile::Parts(Arc::new(set).reader()))
            }
            None => Ok(BundleFile::Plain(File::open(path).map_err(|e| BundleError::io(path, e))?)),
        }
    }
}

impl Read for BundleFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            BundleFile::Plain(f) => f.read(buf),
            BundleFile::Parts(p) => p.read(buf),
        }
    }
}

impl Seek for BundleFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match self {
            BundleFile::Plain(f) => f.seek(to),
            BundleFile::Parts(p) => p.seek(to),
        }
    }
}

/// The size of the bundle at `path`: the whole stream of a volume set, else the file's.
pub fn bundle_size(path: &Path) -> Option<u64> {
    match PartSet::for_bundle(path) {
        Ok(Some(set)) => Some(set.list.bundle.size),
        Ok(None) => std::fs::metadata(path).ok().map(|m| m.len()),
        Err(_) => None,
    }
}

/// The part list's detached signature beside it, if any.
pub fn read_signature(list_path: &Path) -> Result<Option<Vec<u8>>, BundleError> {
    let p = signature_path(list_path);
    match std::fs::read(&p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BundleError::io(&p, e)),
    }
}

#[cfg(test)]
#[path = "volumes_tests.rs"]
mod tests;
