//! A reader that hashes what passes through it and fails at the end if the bytes do not
//! hash to the expected digest or are not the expected size.
//!
//! A consumer that streams a blob onward (to a registry, to a file) learns of corruption
//! from the final `read` call, as with oci-client's blob streams: it must not count a blob
//! as good until `read` returned `Ok(0)`.

use std::io::{self, Read};

use crate::oci::digest::{check, ContentMismatch};
use crate::oci::{digest::Hasher, Digest};

use super::BundleError;

/// Hashes everything read; the read that would return end-of-file instead returns an
/// `io::Error` wrapping [`BundleError::Mismatch`] when the content is wrong (recover it with
/// [`BundleError::from_io`]). Reads never go past `size` bytes of `inner`.
pub struct VerifyingReader<R> {
    inner: R,
    digest: Digest,
    size: u64,
    /// Taken when the content is checked.
    hasher: Option<Hasher>,
    pos: u64,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Verified,
    Failed,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, digest: Digest, size: u64) -> Self {
        VerifyingReader { inner, digest, size, hasher: Some(Hasher::new()), pos: 0, state: State::Reading }
    }

    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes read so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// True once the content was read to its end and matched.
    pub fn is_verified(&self) -> bool {
        self.state == State::Verified
    }

    /// Reads (and discards) the rest, returning the verdict.
    pub fn verify_rest(&mut self) -> Result<(), BundleError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(from_io_or(e, &self.digest)),
            }
        }
    }

    /// Reads the whole content into memory, refusing more than `max` bytes up front.
    pub fn read_to_vec(&mut self, max: u64) -> Result<Vec<u8>, BundleError> {
        if self.size > max {
            return Err(BundleError::TooLarge { name: self.digest.blob_path(), size: self.size, max });
        }
        let mut out = Vec::with_capacity(self.size as usize);
        match self.read_to_end(&mut out) {
            Ok(_) => Ok(out),
            Err(e) => Err(from_io_or(e, &self.digest)),
        }
    }

    fn fail(&mut self, m: ContentMismatch) -> io::Error {
        self.state = State::Failed;
        BundleError::Mismatch(m).into_io()
    }
}

/// Unwraps a `BundleError` from `e`, or files a plain I/O error under the blob's source.
pub(crate) fn from_io_or(e: io::Error, digest: &Digest) -> BundleError {
    BundleError::from_io(e).unwrap_or_else(|source| BundleError::Source { digest: digest.clone(), source })
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.state {
            State::Verified => return Ok(0),
            State::Failed => {
                return Err(BundleError::Abandoned { what: "blob reader" }.into_io());
            }
            State::Reading => {}
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let remaining = self.size - self.pos;
        if remaining == 0 {
            let hasher = self.hasher.take().unwrap_or_default();
            return match check(&self.digest, Some(self.size), hasher) {
                Ok(()) => {
                    self.state = State::Verified;
                    Ok(0)
                }
                Err(m) => Err(self.fail(m)),
            };
        }
        let want = buf.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                self.state = State::Failed;
                return Err(e);
            }
        };
        if n == 0 {
            let m = ContentMismatch::Size { digest: self.digest.clone(), expected: self.size, actual: self.pos };
            return Err(self.fail(m));
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Copies exactly the bytes of one entry from `reader` to `sink`, refusing more than `size`
/// bytes and, with `verify`, checking the digest and size at the end. Shared by the bundle
/// writer and the layout writer. `io_err` names the file being written.
pub(crate) fn copy_checked(
    reader: &mut dyn std::io::Read,
    sink: &mut dyn std::io::Write,
    size: u64,
    verify: Option<&Digest>,
    io_err: &dyn Fn(std::io::Error) -> BundleError,
) -> Result<u64, BundleError> {
    use std::io::ErrorKind;
    let mut hasher = crate::oci::digest::Hasher::new();
    let cap = super::writer::COPY_BUF;
    let mut buf = vec![0u8; cap.min(usize::try_from(size.saturating_add(1)).unwrap_or(cap)).max(1)];
    let mut written = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(match verify {
                    Some(d) => from_io_or(e, d),
                    None => io_err(e),
                })
            }
        };
        if written + n as u64 > size {
            let digest = verify.cloned().unwrap_or_else(|| Digest::of(b""));
            return Err(crate::oci::digest::ContentMismatch::Size {
                digest,
                expected: size,
                actual: written + n as u64,
            }
            .into());
        }
        if verify.is_some() {
            hasher.update(&buf[..n]);
        }
        sink.write_all(&buf[..n]).map_err(io_err)?;
        written += n as u64;
    }
    if let Some(digest) = verify {
        crate::oci::digest::check(digest, Some(size), hasher)?;
    }
    Ok(written)
}
