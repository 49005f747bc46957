//! The streaming allow-list bundle reader: one pass over a (compressed) tar, nothing
//! unpacked to disk, every name checked against the allow-list, every blob hashed against
//! the digest in its own name.
//!
//! Hostile input is refused with a typed error naming the entry: names outside the
//! allow-list, `..` or absolute paths, links, devices, fifos, duplicate names, oversized
//! metadata files, a malformed `oci-layout`, content that does not match its name, a tar or
//! compression stream that ends early (a tar that stops at an entry boundary without its
//! end-of-archive marker is truncated too), and non-zero data after the end marker.
//!
//! A blob the consumer does not read (or reads only partly) is still read and checked
//! before the next entry is returned: skipping a blob never skips its verification.

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::oci::digest::ContentMismatch;
use crate::oci::Digest;

use super::guard::HeaderGuard;
use super::names::{classify, EntryName, MetaFile};
use super::verify::VerifyingReader;
use super::writer::{Compression, COPY_BUF};
use super::BundleError;

/// Zero padding accepted after the end-of-archive marker (GNU tar pads to 10 KiB records).
const MAX_TRAILING_ZEROS: u64 = 1024 * 1024;

/// The decompressed byte stream, shared between the tar parser and the end-of-archive check.
struct Source {
    reader: Box<dyn Read + Send>,
    /// A read returned 0: the stream ended.
    eof: bool,
    /// A read of the (decompressed) stream failed: an error is the stream's, not the tar's.
    read_failed: bool,
    guard: HeaderGuard,
}

/// What the tar parser reads from; records EOF so a missing end marker is detected.
struct Tracker(Arc<Mutex<Source>>);

impl Read for Tracker {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = s.reader.read(buf).inspect_err(|_| s.read_failed = true)?;
        if n == 0 && !buf.is_empty() {
            s.eof = true;
        }
        s.guard.observe(&buf[..n])?;
        Ok(n)
    }
}

/// An opened bundle; call [`BundleReader::entries`] to read it.
pub struct BundleReader {
    archive: tar::Archive<Tracker>,
    source: Arc<Mutex<Source>>,
    compression: Compression,
    /// Names the input in [`BundleError::NotABundle`].
    file: String,
}

impl BundleReader {
    /// Opens a bundle file (or a volume set by its first part or part list, read across
    /// its parts: [`super::volumes::BundleFile`]), detecting its compression from its first
    /// bytes.
    pub fn open(path: &Path) -> Result<Self, BundleError> {
        let file = super::volumes::BundleFile::open(path)?;
        let mut reader = Self::from_reader(file).map_err(|e| match e {
            BundleError::Io { source, .. } => BundleError::io(path, source),
            other => other,
        })?;
        reader.file = path.display().to_string();
        Ok(reader)
    }

    /// Reads a bundle from any byte stream (a file, stdin), detecting its compression.
    pub fn from_reader(reader: impl Read + Send + 'static) -> Result<Self, BundleError> {
        let mut buf = BufReader::with_capacity(COPY_BUF, reader);
        let head = buf.fill_buf().map_err(|e| BundleError::io("<bundle>", e))?;
        let compression = if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else {
            Compression::None
        };
        let reader: Box<dyn Read + Send> = match compression {
            Compression::None => Box::new(buf),
            Compression::Zstd => Box::new(zstd::Decoder::with_buffer(buf).map_err(|e| BundleError::io("<bundle>", e))?),
            // Multi-member, as `cat a.gz b.gz` and pigz produce; a bare GzDecoder would
            // silently ignore everything after the first member.
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buf)),
        };
        let source = Arc::new(Mutex::new(Source { reader, eof: false, read_failed: false, guard: HeaderGuard::new() }));
        let archive = tar::Archive::new(Tracker(source.clone()));
        Ok(BundleReader { archive, source, compression, file: "the input".into() })
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The entries, in archive order. Call once.
    pub fn entries(&mut self) -> Result<Entries<'_>, BundleError> {
        let inner = self.archive.entries().map_err(|e| BundleError::corrupt(START, e))?;
        Ok(Entries {
            inner,
            file: self.file.clone(),
            compression: self.compression,
            any_header: false,
            source: self.source.clone(),
            seen: HashSet::new(),
            current: None,
            last: START.to_owned(),
            state: State::Running,
        })
    }
}

const START: &str = "the start of the archive";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Done,
    Failed,
}

/// One accepted entry. Metadata files come whole (they are capped); blobs stream.
pub enum Entry<'e, 'a> {
    OciLayout(Vec<u8>),
    Index(Vec<u8>),
    /// `sealift-index.json` or `sealift-index.json.sig`.
    Seal {
        name: &'static str,
        bytes: Vec<u8>,
    },
    Blob(BlobEntry<'e, 'a>),
}

impl std::fmt::Debug for Entry<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::OciLayout(b) => write!(f, "OciLayout({} bytes)", b.len()),
            Entry::Index(b) => write!(f, "Index({} bytes)", b.len()),
            Entry::Seal { name, bytes } => write!(f, "Seal({name}, {} bytes)", bytes.len()),
            Entry::Blob(b) => write!(f, "Blob({}, {} bytes)", b.digest(), b.size()),
        }
    }
}

/// Iterates over a bundle's entries (a lending iterator: each entry borrows it).
pub struct Entries<'a> {
    inner: tar::Entries<'a, Tracker>,
    file: String,
    compression: Compression,
    /// The tar parser accepted a header: from then on a broken header is corruption, before
    /// it the input is not a tar at all.
    any_header: bool,
    source: Arc<Mutex<Source>>,
    seen: HashSet<String>,
    current: Option<OpenBlob<'a>>,
    /// Names the last complete entry, for "truncated after ...".
    last: String,
    state: State,
}

struct OpenBlob<'a> {
    reader: VerifyingReader<tar::Entry<'a, Tracker>>,
    name: String,
    /// Where the blob's bytes start in the (decompressed) tar stream.
    offset: u64,
    source: Arc<Mutex<Source>>,
    /// Set when the blob reached its end (Ok) or failed (the error, handed out once more by
    /// the next `next_entry`).
    outcome: Option<Result<(), BundleError>>,
}

impl OpenBlob<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, BundleError> {
        match &self.outcome {
            Some(Ok(())) => return Ok(0),
            Some(Err(e)) => return Err(e.duplicate()),
            None => {}
        }
        match self.reader.read(buf) {
            Ok(0) if !buf.is_empty() => {
                self.outcome = Some(Ok(()));
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                let err = match BundleError::from_io(e) {
                    // The tar entry ended before its header's size: the archive is cut.
                    Ok(BundleError::Mismatch(ContentMismatch::Size { expected, actual, .. })) => {
                        BundleError::Truncated { after: format!("{actual} of {expected} bytes of {}", self.name) }
                    }
                    Ok(other) => other,
                    Err(io) => classify_io(io, &self.source, &self.name),
                };
                self.outcome = Some(Err(err.duplicate()));
                Err(err)
            }
        }
    }

    /// Reads and checks whatever the consumer left unread.
    fn finish(&mut self) -> Result<(), BundleError> {
        let mut buf = vec![0u8; COPY_BUF];
        while self.read(&mut buf)? > 0 {}
        Ok(())
    }
}

/// Files an I/O error from the decompressed stream as truncation or corruption.
fn classify_io(e: io::Error, source: &Arc<Mutex<Source>>, after: &str) -> BundleError {
    let e = match BundleError::from_io(e) {
        Ok(typed) => return typed,
        Err(e) => e,
    };
    let eof = source.lock().unwrap_or_else(PoisonError::into_inner).eof;
    if eof || e.kind() == io::ErrorKind::UnexpectedEof {
        BundleError::Truncated { after: after.to_owned() }
    } else {
        BundleError::corrupt(after, e)
    }
}

impl<'a> Entries<'a> {
    /// The next entry, `Ok(None)` at a clean end of archive. After an error every further
    /// call fails: a bundle is accepted whole or not at all.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_, 'a>>, BundleError> {
        match self.state {
            State::Failed => return Err(BundleError::Abandoned { what: "reader" }),
            State::Done => return Ok(None),
            State::Running => {}
        }
        match self.advance() {
            Ok(Some(Step::Meta(file, bytes))) => Ok(Some(match file {
                MetaFile::OciLayout => Entry::OciLayout(bytes),
                MetaFile::Index => Entry::Index(bytes),
                MetaFile::Seal(name) => Entry::Seal { name, bytes },
            })),
            Ok(Some(Step::Blob)) => {
                Ok(Some(Entry::Blob(BlobEntry { blob: self.current.as_mut().expect("advance opened a blob") })))
            }
            Ok(None) => {
                self.state = State::Done;
                Ok(None)
            }
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    fn advance(&mut self) -> Result<Option<Step>, BundleError> {
        if let Some(mut blob) = self.current.take() {
            blob.finish()?;
        }
        loop {
            let mut entry = match self.inner.next() {
                None => {
                    self.check_end()?;
                    check_required(&self.seen)?;
                    return Ok(None);
                }
                Some(Err(e)) => return Err(self.not_a_tar(classify_io(e, &self.source, &self.last))),
                Some(Ok(entry)) => {
                    self.any_header = true;
                    entry
                }
            };
            let Some((class, canonical)) =
                accept_header(&entry.path_bytes(), entry.header().entry_type(), &mut self.seen)?
            else {
                continue;
            };
            let size = entry.size();
            let file = match class {
                Member::Meta(file) => file,
                Member::Blob(digest) => {
                    let offset = entry.raw_file_position();
                    let reader = VerifyingReader::new(entry, digest, size);
                    self.current = Some(OpenBlob {
                        reader,
                        name: canonical.clone(),
                        offset,
                        source: self.source.clone(),
                        outcome: None,
                    });
                    self.last = canonical;
                    return Ok(Some(Step::Blob));
                }
            };
            let max = file.cap();
            if size > max {
                return Err(BundleError::TooLarge { name: canonical, size, max });
            }
            let mut bytes = Vec::with_capacity(size as usize);
            if let Err(e) = entry.read_to_end(&mut bytes) {
                return Err(classify_io(e, &self.source, &canonical));
            }
            if bytes.len() as u64 != size {
                return Err(BundleError::Truncated {
                    after: format!("{} of {size} bytes of {canonical}", bytes.len()),
                });
            }
            if file == MetaFile::OciLayout {
                check_oci_layout(&bytes)?;
            }
            self.last = canonical;
            return Ok(Some(Step::Meta(file, bytes)));
        }
    }

    /// A first header the tar parser refuses (and a stream that read fine, so the fault is
    /// not the decompressor's) means the input is no tar: say so in one line instead of
    /// quoting the parser on its bytes.
    fn not_a_tar(&self, e: BundleError) -> BundleError {
        let stream_failed = self.source.lock().unwrap_or_else(PoisonError::into_inner).read_failed;
        match e {
            BundleError::Corrupt { .. } if !self.any_header && !stream_failed => BundleError::NotABundle {
                file: self.file.clone(),
                detail: match self.compression {
                    Compression::None => "not a tar, tar.zst or tar.gz file",
                    Compression::Zstd => "a zstd stream that does not hold a tar",
                    Compression::Gzip => "a gzip stream that does not hold a tar",
                },
            },
            other => other,
        }
    }

    /// After the tar's first end-marker block: the stream must not have simply stopped (a
    /// cut at an entry boundary), and what follows must be zero padding (at least the second
    /// marker block) up to a clean end of the
    /// compression stream (which makes the decompressor check its trailer).
    fn check_end(&mut self) -> Result<(), BundleError> {
        let mut source = self.source.lock().unwrap_or_else(PoisonError::into_inner);
        let eof = source.eof;
        check_trailer(&mut source.reader, eof, &self.last)
    }
}

/// The checks every tar header of a bundle passes, shared by this reader and the seekable
/// [`super::index::BundleIndex`]: a UTF-8 name on the allow-list, a regular file (links,
/// devices, fifos, sparse files refused), a directory only where the layout has one, and no
/// name twice. `Ok(None)`: an entry to skip (a directory, a PAX global header).
pub(super) fn accept_header(
    raw: &[u8],
    kind: tar::EntryType,
    seen: &mut HashSet<String>,
) -> Result<Option<(Member, String)>, BundleError> {
    let name = match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            let name = String::from_utf8_lossy(raw).into_owned();
            return Err(BundleError::ForbiddenEntry { name, reason: "name is not UTF-8" });
        }
    };
    let special = |kind| Err(BundleError::SpecialFile { name: name.clone(), kind });
    match kind {
        tar::EntryType::Regular => {}
        // A pax global header only carries defaults for later headers; the tar crate
        // ignores it and so do we.
        tar::EntryType::XGlobalHeader => return Ok(None),
        tar::EntryType::Directory => match classify(&name) {
            Ok(EntryName::Dir) => return Ok(None),
            Ok(_) => return Err(BundleError::ForbiddenEntry { name, reason: "directory where a file belongs" }),
            Err(reason) => return Err(BundleError::ForbiddenEntry { name, reason }),
        },
        tar::EntryType::Symlink => return Err(BundleError::Link { name, kind: "symbolic link" }),
        tar::EntryType::Link => return Err(BundleError::Link { name, kind: "hard link" }),
        tar::EntryType::Char => return special("character device"),
        tar::EntryType::Block => return special("block device"),
        tar::EntryType::Fifo => return special("fifo"),
        tar::EntryType::GNUSparse => return special("sparse file"),
        _ => return special("non-regular entry type"),
    }
    let class = classify(&name).map_err(|reason| BundleError::ForbiddenEntry { name: name.clone(), reason })?;
    let canonical = class.canonical();
    let member = match class {
        EntryName::Meta(file) => Member::Meta(file),
        EntryName::Blob(digest) => Member::Blob(digest),
        EntryName::Dir => return Err(BundleError::ForbiddenEntry { name, reason: "file where a directory belongs" }),
    };
    if !seen.insert(canonical.clone()) {
        return Err(BundleError::DuplicateEntry { name: canonical });
    }
    Ok(Some((member, canonical)))
}

/// A file entry that [`accept_header`] let through: never a directory.
pub(super) enum Member {
    Meta(MetaFile),
    Blob(Digest),
}

/// An archive without these is not an OCI layout, whatever else it holds.
pub(super) fn check_required(seen: &HashSet<String>) -> Result<(), BundleError> {
    for required in [super::names::OCI_LAYOUT, super::names::INDEX_JSON] {
        if !seen.contains(required) {
            let reason = "missing from the bundle".to_owned();
            return Err(BundleError::BadLayout { name: required.to_owned(), reason });
        }
    }
    Ok(())
}

/// After the tar's first end-marker block (`eof`: the stream had already ended there
/// instead, a cut at an entry boundary): what follows must be zero padding (at least the
/// second marker block) up to a clean end of the stream, which makes a decompressor check
/// its trailer. `last` names the last complete entry for the error.
pub(super) fn check_trailer(reader: &mut dyn Read, eof: bool, last: &str) -> Result<(), BundleError> {
    if eof {
        return Err(BundleError::Truncated { after: last.to_owned() });
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            // POSIX ends an archive with two zero blocks; the parser consumed the first.
            // Every common writer emits both, so a missing second one means a cut.
            Ok(0) if total < 512 => {
                return Err(BundleError::Truncated { after: format!("{last} (in the end-of-archive marker)") })
            }
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(BundleError::Truncated { after: last.to_owned() })
            }
            Err(e) => return Err(BundleError::corrupt(last, e)),
        };
        total += n as u64;
        if total > MAX_TRAILING_ZEROS || buf[..n].iter().any(|&b| b != 0) {
            return Err(BundleError::TrailingData { after: last.to_owned() });
        }
    }
}

enum Step {
    Meta(MetaFile, Vec<u8>),
    Blob,
}

/// `oci-layout` must be `{"imageLayoutVersion": "1.0.0"}` (other fields are tolerated).
pub fn check_oci_layout(bytes: &[u8]) -> Result<(), BundleError> {
    let bad = |reason: String| BundleError::BadLayout { name: super::names::OCI_LAYOUT.into(), reason };
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    match v.get("imageLayoutVersion").and_then(|v| v.as_str()) {
        Some("1.0.0") => Ok(()),
        Some(other) => Err(bad(format!("imageLayoutVersion {other:?} is not 1.0.0"))),
        None => Err(bad("no imageLayoutVersion".into())),
    }
}

/// A blob being read from the bundle. Reading hashes; the read that reaches the end fails
/// (with a [`BundleError`] inside the `io::Error`, see [`BundleError::from_io`]) if the
/// content does not match the digest in the entry's name.
pub struct BlobEntry<'e, 'a> {
    blob: &'e mut OpenBlob<'a>,
}

impl BlobEntry<'_, '_> {
    pub fn digest(&self) -> &Digest {
        self.blob.reader.digest()
    }

    pub fn size(&self) -> u64 {
        self.blob.reader.size()
    }

    /// Where the blob's bytes start in the decompressed tar stream; for an uncompressed
    /// bundle, the offset in the file (lets `load` upload several layers at once).
    pub fn offset(&self) -> u64 {
        self.blob.offset
    }

    /// Reads a small blob whole; refuses one larger than `max` without reading it.
    pub fn read_to_vec(&mut self, max: u64) -> Result<Vec<u8>, BundleError> {
        let size = self.size();
        if size > max {
            return Err(BundleError::TooLarge { name: self.blob.name.clone(), size, max });
        }
        let mut out = vec![0u8; size as usize];
        let mut filled = 0;
        while filled < out.len() {
            match self.blob.read(&mut out[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        // Reach the end so the digest is checked.
        self.blob.finish()?;
        Ok(out)
    }

    /// Streams the blob into `w`; returns the byte count once the content was verified.
    pub fn copy_to(&mut self, w: &mut dyn Write) -> Result<u64, BundleError> {
        let mut buf = vec![0u8; COPY_BUF];
        let mut total = 0;
        loop {
            let n = self.blob.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            w.write_all(&buf[..n]).map_err(|e| BundleError::io(format!("<copy of {}>", self.blob.name), e))?;
            total += n as u64;
        }
    }

    /// `read` with the error typed.
    pub fn read_checked(&mut self, buf: &mut [u8]) -> Result<usize, BundleError> {
        self.blob.read(buf)
    }

    /// Reads and checks the blob without keeping it.
    pub fn verify(&mut self) -> Result<(), BundleError> {
        self.blob.finish()
    }
}

impl Read for BlobEntry<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.blob.read(buf).map_err(BundleError::into_io)
    }
}
