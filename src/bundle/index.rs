//! A seekable bundle's table of contents: where each blob lies, found by reading only the
//! tar headers and seeking over the data (issue 7: one pass; issue 12: `serve`).
//!
//! The scan applies the same header checks as [`super::reader`] (the allow-list, entry
//! types, duplicate names, metadata caps, the bound on extension headers, the end-of-archive
//! marker and the zero padding after it) and reads the small metadata files (`oci-layout`,
//! `index.json`, the seal) whole. Blob bytes are *not* read, so nothing here says they match
//! their names: a [`Span`] is only a location. The bytes become trusted when read through
//! [`BundleIndex::open_blob`], which hashes them and fails at their end on a mismatch.
//!
//! Only an uncompressed `.tar` can be indexed: a zstd or gzip stream has no offsets to seek
//! to, and [`BundleIndex::scan`] says so with `Ok(None)`. A layout directory needs no index
//! (each blob is its own file, see `crate::layout`). The source is any `Read + Seek`, so a
//! set of volumes read as one stream can be indexed too.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;

use crate::oci::Digest;

use super::guard::HeaderGuard;
use super::names::MetaFile;
use super::reader::{accept_header, check_oci_layout, check_required, check_trailer, Member};
use super::{BundleError, VerifyingReader};

/// Where a blob's bytes lie in an uncompressed bundle: unchecked until read through
/// [`BundleIndex::open_blob`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of the first data byte in the file.
    pub offset: u64,
    /// Size from the tar header.
    pub size: u64,
}

/// The entries of an uncompressed bundle, by place; built by [`BundleIndex::scan`].
#[derive(Debug)]
pub struct BundleIndex {
    oci_layout: Vec<u8>,
    index_json: Vec<u8>,
    seal: BTreeMap<&'static str, Vec<u8>>,
    /// In archive order (a sealift bundle: metadata blobs first, then layers).
    blobs: Vec<(Digest, Span)>,
    by_digest: BTreeMap<Digest, Span>,
    len: u64,
}

const START: &str = "the start of the archive";

impl BundleIndex {
    /// Indexes the bundle file at `path`; `Ok(None)` when it is compressed.
    pub fn open(path: &Path) -> Result<Option<BundleIndex>, BundleError> {
        // One file, or a volume set read across its parts (super::volumes).
        let file = super::volumes::BundleFile::open(path)?;
        Self::scan_named(file, &path.display().to_string()).map_err(|e| match e {
            BundleError::Io { source, .. } => BundleError::io(path, source),
            other => other,
        })
    }

    /// Indexes a bundle from any seekable source positioned anywhere (it is read from its
    /// start); `Ok(None)` when the bytes are zstd or gzip, which cannot be seeked in.
    pub fn scan<R: Read + Seek>(source: R) -> Result<Option<BundleIndex>, BundleError> {
        Self::scan_named(source, "the input")
    }

    fn scan_named<R: Read + Seek>(mut source: R, file: &str) -> Result<Option<BundleIndex>, BundleError> {
        let io_err = |e| BundleError::io("<bundle>", e);
        let len = source.seek(SeekFrom::End(0)).map_err(io_err)?;
        source.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let mut magic = Vec::with_capacity(4);
        (&mut source).take(4).read_to_end(&mut magic).map_err(io_err)?;
        if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || magic.starts_with(&[0x1f, 0x8b]) {
            return Ok(None);
        }
        source.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let flags = Rc::new(Flags::default());
        let seeker = Seeker { inner: source, pos: 0, flags: flags.clone(), guard: HeaderGuard::new() };
        let mut archive = tar::Archive::new(seeker);
        let mut index = BundleIndex {
            oci_layout: Vec::new(),
            index_json: Vec::new(),
            seal: BTreeMap::new(),
            blobs: Vec::new(),
            by_digest: BTreeMap::new(),
            len,
        };
        let mut seen = HashSet::new();
        let mut last = START.to_owned();
        let mut any_header = false;
        {
            let mut entries = archive.entries_with_seek().map_err(|e| BundleError::corrupt(START, e))?;
            loop {
                let mut entry = match entries.next() {
                    None => break,
                    Some(Ok(entry)) => entry,
                    Some(Err(e)) => return Err(classify(e, &flags, any_header, &last, file)),
                };
                any_header = true;
                let Some((class, canonical)) =
                    accept_header(&entry.path_bytes(), entry.header().entry_type(), &mut seen)?
                else {
                    continue;
                };
                let size = entry.size();
                let meta = match class {
                    Member::Meta(meta) => meta,
                    Member::Blob(digest) => {
                        let offset = entry.raw_file_position();
                        if offset.saturating_add(size) > len {
                            let have = len.saturating_sub(offset);
                            return Err(BundleError::Truncated {
                                after: format!("{have} of {size} bytes of {canonical}"),
                            });
                        }
                        let span = Span { offset, size };
                        index.by_digest.insert(digest.clone(), span);
                        index.blobs.push((digest, span));
                        last = canonical;
                        continue;
                    }
                };
                let max = meta.cap();
                if size > max {
                    return Err(BundleError::TooLarge { name: canonical, size, max });
                }
                let mut bytes = Vec::with_capacity(size as usize);
                if let Err(e) = entry.read_to_end(&mut bytes) {
                    return Err(classify(e, &flags, true, &canonical, file));
                }
                if bytes.len() as u64 != size {
                    return Err(BundleError::Truncated {
                        after: format!("{} of {size} bytes of {canonical}", bytes.len()),
                    });
                }
                match meta {
                    MetaFile::OciLayout => {
                        check_oci_layout(&bytes)?;
                        index.oci_layout = bytes;
                    }
                    MetaFile::Index => index.index_json = bytes,
                    MetaFile::Seal(name) => {
                        index.seal.insert(name, bytes);
                    }
                }
                last = canonical;
            }
        }
        let mut seeker = archive.into_inner();
        let eof = flags.eof.get();
        check_trailer(&mut seeker, eof, &last)?;
        check_required(&seen)?;
        Ok(Some(index))
    }

    /// The `oci-layout` file (checked to be version 1.0.0).
    pub fn oci_layout(&self) -> &[u8] {
        &self.oci_layout
    }

    /// The `index.json` bytes as stored (unparsed, untrusted).
    pub fn index_json(&self) -> &[u8] {
        &self.index_json
    }

    /// A seal file (`sealift-index.json` or `sealift-index.json.sig`), if present.
    pub fn seal(&self, name: &str) -> Option<&[u8]> {
        self.seal.get(name).map(Vec::as_slice)
    }

    /// Where the blob named `digest` lies, if the bundle holds it.
    pub fn blob(&self, digest: &Digest) -> Option<Span> {
        self.by_digest.get(digest).copied()
    }

    /// Every blob, in archive order.
    pub fn blobs(&self) -> impl Iterator<Item = (&Digest, Span)> + '_ {
        self.blobs.iter().map(|(d, s)| (d, *s))
    }

    /// The size of the indexed file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Never true for an accepted bundle (it holds at least `oci-layout` and `index.json`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The blob's bytes from `source` (the same file, or a fresh handle on it), hashed as
    /// they are read: the read that reaches the end fails unless they match `digest`.
    pub fn open_blob<R: Read + Seek>(
        &self,
        mut source: R,
        digest: &Digest,
    ) -> Result<VerifyingReader<io::Take<R>>, BundleError> {
        let span = self.blob(digest).ok_or_else(|| BundleError::MissingBlob { digest: digest.clone() })?;
        source
            .seek(SeekFrom::Start(span.offset))
            .map_err(|e| BundleError::Source { digest: digest.clone(), source: e })?;
        Ok(VerifyingReader::new(source.take(span.size), digest.clone(), span.size))
    }

    /// A small blob read whole and checked; one larger than `max` is refused unread.
    pub fn read_blob<R: Read + Seek>(&self, source: R, digest: &Digest, max: u64) -> Result<Vec<u8>, BundleError> {
        let span = self.blob(digest).ok_or_else(|| BundleError::MissingBlob { digest: digest.clone() })?;
        if span.size > max {
            return Err(BundleError::TooLarge { name: digest.blob_path(), size: span.size, max });
        }
        let mut out = Vec::with_capacity(span.size as usize);
        self.open_blob(source, digest)?.read_to_end(&mut out).map_err(|e| match BundleError::from_io(e) {
            Ok(typed) => typed,
            Err(e) => BundleError::Source { digest: digest.clone(), source: e },
        })?;
        Ok(out)
    }
}

/// What the tar parser reads from: counts the position, records the end of the stream, and
/// shows every byte read (and every seek) to the extension-header guard.
struct Seeker<R> {
    inner: R,
    pos: u64,
    flags: Rc<Flags>,
    guard: HeaderGuard,
}

/// What the stream did, shared with the scan while the tar parser holds the stream.
#[derive(Default)]
struct Flags {
    /// A read returned 0: the file ended.
    eof: Cell<bool>,
    /// A read failed: the error is the file's, not the tar's.
    read_failed: Cell<bool>,
}

/// Files an error of the tar parser as truncation, corruption, or not a tar at all.
fn classify(e: io::Error, flags: &Flags, any_header: bool, after: &str, file: &str) -> BundleError {
    let e = match BundleError::from_io(e) {
        Ok(typed) => return typed,
        Err(e) => e,
    };
    if flags.eof.get() || e.kind() == io::ErrorKind::UnexpectedEof {
        return BundleError::Truncated { after: after.to_owned() };
    }
    if !any_header && !flags.read_failed.get() {
        return BundleError::NotABundle { file: file.to_owned(), detail: "not a tar, tar.zst or tar.gz file" };
    }
    BundleError::corrupt(after, e)
}

impl<R: Read> Read for Seeker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|_| self.flags.read_failed.set(true))?;
        if n == 0 && !buf.is_empty() {
            self.flags.eof.set(true);
        }
        self.guard.observe(&buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Seeker<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(_) => None,
        }
        .ok_or_else(|| io::Error::other("seek out of bounds"))?;
        self.guard.skip_to(target)?;
        self.pos = self.inner.seek(SeekFrom::Start(target))?;
        Ok(self.pos)
    }
}
