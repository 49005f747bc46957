//! The deterministic streaming bundle writer: one OCI image layout inside a tar, optionally
//! zstd- or gzip-compressed, written to a temporary file and renamed into place.
//!
//! Determinism: every header is a GNU header with mtime 0, uid/gid 0, empty owner names,
//! mode 0644 and type "regular file"; no directory entries; the archive ends with the two
//! zero blocks of POSIX (no padding to a 10 KiB record). The same calls in the same order
//! produce the same bytes. Sizes of 8 GiB and more use the GNU base-256 size encoding,
//! which GNU tar, Go's archive/tar (skopeo, umoci) and the tar crate read.
//!
//! Order: `oci-layout`, `index.json`, then the seal files, then blobs; the writer refuses
//! any other order so that a reader meets the metadata before the first layer. Inside the
//! blobs the caller decides (sealift puts small metadata blobs first, then layers).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::oci::digest::{check, Hasher};
use crate::oci::Digest;

use super::names::{classify, EntryName, MetaFile};
use super::BundleError;

/// Copy buffer for blob streams: large enough to keep syscalls and hashing efficient,
/// small enough to stay out of the way of memory bounds.
pub(crate) const COPY_BUF: usize = 256 * 1024;
/// zstd level: 3 is zstd's default, ~330-400 MB/s with two workers on the test machines.
const ZSTD_LEVEL: i32 = 3;
/// zstd job size for multithreaded compression (bounds memory per worker).
const ZSTD_JOB_SIZE: u32 = 2 * 1024 * 1024;

/// gzip level 1: gzip is only offered for tools that cannot read zstd; layers are already
/// compressed, so higher levels cost 3-5x the time for a few percent.
const GZIP_LEVEL: u32 = 1;

/// How the tar is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Zstd,
    Gzip,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression {input:?}: expected none, zstd or gzip")]
pub struct CompressionParseError {
    pub input: String,
}

impl Compression {
    /// By extension: `.tar.zst`/`.tzst`/`.zst` → zstd, `.tar.gz`/`.tgz`/`.gz` → gzip, else none.
    pub fn from_path(path: &Path) -> Compression {
        let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if name.ends_with(".zst") || name.ends_with(".tzst") {
            Compression::Zstd
        } else if name.ends_with(".gz") || name.ends_with(".tgz") {
            Compression::Gzip
        } else {
            Compression::None
        }
    }
}

impl FromStr for Compression {
    type Err = CompressionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Compression::None),
            "zstd" => Ok(Compression::Zstd),
            "gzip" => Ok(Compression::Gzip),
            _ => Err(CompressionParseError { input: s.to_owned() }),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
        })
    }
}

/// Where the (compressed) stream goes: one temporary file, or a set of volumes.
enum Out {
    File(File),
    Volumes(Box<super::volumes::VolumeWriter>),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::File(f) => f.write(buf),
            Out::Volumes(v) => v.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::File(f) => f.flush(),
            Out::Volumes(v) => v.flush(),
        }
    }
}

enum Sink {
    Plain(BufWriter<Out>),
    Zstd(zstd::Encoder<'static, BufWriter<Out>>),
    Gzip(flate2::write::GzEncoder<BufWriter<Out>>),
}

impl Sink {
    fn new(out: Out, compression: Compression) -> io::Result<Sink> {
        let buf = BufWriter::with_capacity(COPY_BUF, out);
        Ok(match compression {
            Compression::None => Sink::Plain(buf),
            Compression::Zstd => {
                let mut enc = zstd::Encoder::new(buf, ZSTD_LEVEL)?;
                // zstd's output does not depend on the number of workers once it is >= 1,
                // so bundles stay byte-identical across machines.
                let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
                enc.multithread(workers as u32)?;
                // A fixed, small job size bounds memory (zstd's default for level 3 is 8 MiB
                // per job, which put a 1 GiB save at ~130 MiB RSS) and keeps the output
                // independent of the machine. Measured in docs/performance.md.
                enc.set_parameter(zstd::stream::raw::CParameter::JobSize(ZSTD_JOB_SIZE))?;
                enc.include_checksum(true)?;
                Sink::Zstd(enc)
            }
            Compression::Gzip => {
                // GzBuilder writes mtime 0 and no file name: deterministic.
                Sink::Gzip(flate2::GzBuilder::new().write(buf, flate2::Compression::new(GZIP_LEVEL)))
            }
        })
    }

    fn finish(self) -> io::Result<Out> {
        let buf = match self {
            Sink::Plain(b) => b,
            Sink::Zstd(e) => e.finish()?,
            Sink::Gzip(e) => e.finish()?,
        };
        buf.into_inner().map_err(|e| e.into_error())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Zstd(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Zstd(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
        }
    }
}

/// The header sealift writes for every entry. Public to the crate for tests.
pub(crate) fn entry_header(name: &str, size: u64) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_gnu();
    // All allowed names are < 100 bytes, so they fit the header without extensions.
    h.set_path(name)?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_username("")?;
    h.set_groupname("")?;
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(h)
}

/// Writes a bundle. Drop it (or let any method fail) and the temporary file is removed:
/// nothing ever appears under the final name unless [`BundleWriter::finish`] succeeds.
pub struct BundleWriter {
    final_path: PathBuf,
    temp: Option<tempfile::TempPath>,
    /// Removes `temp` if a signal ends the process.
    registered: Option<crate::tempfiles::Registered>,
    sink: Option<Sink>,
    seen: HashSet<String>,
    rank: u8,
    /// Set by any error that may have left partial bytes in the output.
    broken: bool,
}

impl std::fmt::Debug for BundleWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleWriter").field("final_path", &self.final_path).finish_non_exhaustive()
    }
}

/// Checks a non-blob file (`oci-layout`, `index.json`, a seal file) before it is written,
/// for the bundle and the layout directory alike: never write what our reader refuses.
pub(crate) fn check_layout_file(name: &str, entry: &EntryName, bytes: &[u8]) -> Result<(), BundleError> {
    // `admit` has refused directories already.
    let EntryName::Meta(file) = *entry else {
        return Err(BundleError::ForbiddenEntry { name: name.to_owned(), reason: "use add_blob_* for blobs" });
    };
    let max = file.cap();
    if bytes.len() as u64 > max {
        return Err(BundleError::TooLarge { name: name.to_owned(), size: bytes.len() as u64, max });
    }
    if file == MetaFile::OciLayout {
        super::reader::check_oci_layout(bytes)?;
    }
    Ok(())
}

impl BundleWriter {
    /// Starts a bundle that will appear at `final_path` on [`finish`](Self::finish).
    pub fn create(final_path: impl Into<PathBuf>, compression: Compression) -> Result<Self, BundleError> {
        let final_path = final_path.into();
        let dir = match final_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let stem = final_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{stem}."))
            .suffix(".partial")
            .tempfile_in(&dir)
            .map_err(|e| BundleError::io(&dir, e))?;
        let (file, temp) = temp.into_parts();
        let registered = Some(crate::tempfiles::register(&temp));
        let sink = Sink::new(Out::File(file), compression).map_err(|e| BundleError::io(&*temp, e))?;
        Ok(BundleWriter {
            final_path,
            temp: Some(temp),
            registered,
            sink: Some(sink),
            seen: HashSet::new(),
            rank: 0,
            broken: false,
        })
    }

    /// Starts a bundle cut into parts of at most `volume_size` bytes (after compression),
    /// `NAME.001`, `NAME.002`, … beside `final_path`; see [`super::volumes`]. End it with
    /// [`finish_parts`](Self::finish_parts).
    pub fn create_volumes(
        final_path: impl Into<PathBuf>,
        compression: Compression,
        volume_size: u64,
    ) -> Result<Self, BundleError> {
        let final_path = final_path.into();
        let out = super::volumes::VolumeWriter::new(&final_path, volume_size)?;
        let sink = Sink::new(Out::Volumes(Box::new(out)), compression).map_err(|e| BundleError::io(&final_path, e))?;
        Ok(BundleWriter {
            final_path,
            temp: None,
            registered: None,
            sink: Some(sink),
            seen: HashSet::new(),
            rank: 0,
            broken: false,
        })
    }

    /// Ends a volume set ([`create_volumes`](Self::create_volumes)): every part complete and
    /// synced under its temporary name, the part list still to publish.
    pub fn finish_parts(mut self) -> Result<super::volumes::PendingParts, BundleError> {
        let out = self.end_stream()?;
        match out {
            Out::Volumes(v) => v.finish(),
            Out::File(_) => Err(BundleError::Abandoned { what: "writer (not a volume set)" }),
        }
    }

    /// Writes the end-of-archive marker and flushes the compressor.
    fn end_stream(&mut self) -> Result<Out, BundleError> {
        self.usable()?;
        if !self.seen.contains(super::names::OCI_LAYOUT) {
            return Err(BundleError::Incomplete { missing: super::names::OCI_LAYOUT });
        }
        if !self.seen.contains(super::names::INDEX_JSON) {
            return Err(BundleError::Incomplete { missing: super::names::INDEX_JSON });
        }
        let mut sink = self.sink.take().expect("usable() checked");
        let at = self.error_path();
        let io_err = |e| BundleError::io(&at, e);
        sink.write_all(&[0u8; 1024]).map_err(io_err)?;
        sink.finish().map_err(io_err)
    }

    /// The path errors name: the temporary file, or the bundle's name for volumes.
    fn error_path(&self) -> PathBuf {
        self.temp.as_deref().map(Path::to_path_buf).unwrap_or_else(|| self.final_path.clone())
    }

    /// Adds `oci-layout`, `index.json` or a seal file.
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), BundleError> {
        let entry = self.admit(name)?;
        check_layout_file(name, &entry, bytes)?;
        self.write_entry(&entry, bytes.len() as u64, &mut &bytes[..], None)
    }

    /// Adds a blob held in memory, after checking it hashes to `digest` (a mismatch writes
    /// nothing and leaves the writer usable).
    pub fn add_blob_bytes(&mut self, digest: &Digest, bytes: &[u8]) -> Result<(), BundleError> {
        let mut h = Hasher::new();
        h.update(bytes);
        check(digest, None, h)?;
        let entry = self.admit(&digest.blob_path())?;
        self.write_entry(&entry, bytes.len() as u64, &mut &bytes[..], None)
    }

    /// Streams a blob of `size` bytes from `reader`, hashing as it writes. If the bytes do
    /// not hash to `digest` or are not `size` long, the error is returned and the whole
    /// bundle is abandoned (the header is already written; the tar cannot be repaired).
    pub fn add_blob_stream(&mut self, digest: &Digest, size: u64, mut reader: impl Read) -> Result<(), BundleError> {
        let entry = self.admit(&digest.blob_path())?;
        self.write_entry(&entry, size, &mut reader, Some(digest))
    }

    /// Ends the archive, flushes the compressor, syncs the file, renames it into place and
    /// syncs the directory.
    pub fn finish(mut self) -> Result<PathBuf, BundleError> {
        let file = match self.end_stream()? {
            Out::File(f) => f,
            Out::Volumes(_) => return Err(BundleError::Abandoned { what: "writer (a volume set: use finish_parts)" }),
        };
        let temp = self.temp.take().expect("a single-file writer has its temporary file");
        let io_err = |e| BundleError::io(&*temp, e);
        file.sync_all().map_err(io_err)?;
        #[cfg(unix)]
        {
            // tempfile creates 0600 files; a bundle is as readable as any other output.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io_err)?;
        }
        drop(file);
        let registered = self.registered.take().expect("set with temp");
        registered
            .persist(|| temp.persist(&self.final_path))
            .map_err(|e| BundleError::io(&self.final_path, e.error))?;
        let dir = match self.final_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // Make the rename itself durable.
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| BundleError::io(dir, e))?;
        Ok(self.final_path.clone())
    }

    fn usable(&self) -> Result<(), BundleError> {
        if self.broken || self.sink.is_none() {
            return Err(BundleError::Abandoned { what: "writer" });
        }
        Ok(())
    }

    /// Checks the name against the allow-list, the order and the names already written.
    fn admit(&mut self, name: &str) -> Result<EntryName, BundleError> {
        self.usable()?;
        let entry = classify(name).map_err(|reason| BundleError::ForbiddenEntry { name: name.to_owned(), reason })?;
        if entry == EntryName::Dir {
            return Err(BundleError::ForbiddenEntry { name: name.to_owned(), reason: "directories are not written" });
        }
        let canonical = entry.canonical();
        if canonical != name {
            return Err(BundleError::ForbiddenEntry { name: name.to_owned(), reason: "not in canonical form" });
        }
        if self.seen.contains(&canonical) {
            return Err(BundleError::DuplicateEntry { name: canonical });
        }
        if entry.rank() < self.rank {
            return Err(BundleError::OutOfOrder {
                name: canonical,
                reason: "order is oci-layout, index.json, seal files, blobs",
            });
        }
        if entry.rank() > 0 && !self.seen.contains(super::names::OCI_LAYOUT) {
            return Err(BundleError::OutOfOrder { name: canonical, reason: "oci-layout must come first" });
        }
        if entry.rank() > 1 && !self.seen.contains(super::names::INDEX_JSON) {
            return Err(BundleError::OutOfOrder { name: canonical, reason: "index.json must come before it" });
        }
        Ok(entry)
    }

    /// Writes header, content (hashed and checked when `verify` is given) and padding.
    fn write_entry(
        &mut self,
        entry: &EntryName,
        size: u64,
        reader: &mut dyn Read,
        verify: Option<&Digest>,
    ) -> Result<(), BundleError> {
        let name = entry.canonical();
        // From the first byte on, any failure leaves a partial entry: abandon the bundle.
        self.broken = true;
        let temp_path = self.error_path();
        let sink = self.sink.as_mut().expect("usable() checked");
        let io_err = |e| BundleError::io(&temp_path, e);
        let header = entry_header(&name, size).map_err(io_err)?;
        sink.write_all(header.as_bytes()).map_err(io_err)?;

        let written = super::verify::copy_checked(reader, sink, size, verify, &io_err)?;
        // In-memory files are written with their own length as size.
        debug_assert_eq!(written, size, "{name}");
        let pad = (512 - (size % 512)) % 512;
        sink.write_all(&[0u8; 512][..pad as usize]).map_err(io_err)?;
        self.seen.insert(name);
        self.rank = self.rank.max(entry.rank());
        self.broken = false;
        Ok(())
    }
}
