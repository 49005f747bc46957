//! The one error type of the bundle tarball and of the OCI layout directory.
//!
//! Every variant carries the evidence a user needs to act (the entry name, the sizes, the
//! digests) and displays as one line naming the offending entry. Both the bundle and the
//! layout directory refuse the same things (names outside the allow-list, links, oversized
//! metadata, content that does not hash to its name), so they share this enum.

use std::io;
use std::path::PathBuf;

use crate::oci::digest::ContentMismatch;
use crate::oci::Digest;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A name outside the allow-list (`oci-layout`, `index.json`, the seal files,
    /// `blobs/sha256/<64 lowercase hex>`), or a path that tries to leave the layout.
    #[error("forbidden entry {name:?}: {reason}")]
    ForbiddenEntry { name: String, reason: &'static str },
    #[error("duplicate entry {name:?}")]
    DuplicateEntry { name: String },
    /// A symbolic or hard link (or a blob symlinked out of a layout directory).
    #[error("entry {name:?} is a {kind}; only regular files are accepted")]
    Link { name: String, kind: &'static str },
    /// A device, fifo, sparse file or other entry type that is not a regular file.
    #[error("entry {name:?} is a {kind}; only regular files are accepted")]
    SpecialFile { name: String, kind: &'static str },
    #[error("entry {name:?} is {size} bytes, over the {max}-byte limit")]
    TooLarge { name: String, size: u64, max: u64 },
    /// The tar or its compression stream ends before the end-of-archive marker.
    #[error("bundle is truncated after {after}")]
    Truncated { after: String },
    /// The tar structure itself is broken (bad header checksum, bad size field...). The
    /// parser's message can quote raw header bytes, so it is shown with control and
    /// invalid characters escaped (sealift builds it with `BundleError::corrupt`, so the
    /// source in the error chain is escaped too).
    #[error("bundle is corrupt after {after}: {}", printable(&.source.to_string()))]
    Corrupt { after: String, source: io::Error },
    /// The very first tar header is not a tar header: the file is something else entirely.
    #[error("{file} is not a sealift bundle ({detail})")]
    NotABundle { file: String, detail: &'static str },
    /// Non-zero bytes after the end-of-archive marker.
    #[error("bundle has unexpected data after its end-of-archive marker (after {after})")]
    TrailingData { after: String },
    /// Content that does not hash to the digest in its name, or has the wrong size.
    #[error(transparent)]
    Mismatch(#[from] ContentMismatch),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// Reading the bytes given for a blob failed (the download stream, a source file).
    #[error("reading the content for blob {digest} failed: {source}")]
    Source { digest: Digest, source: io::Error },
    #[error("bad OCI layout: {name}: {reason}")]
    BadLayout { name: String, reason: String },
    #[error("blob {digest} is not in the layout")]
    MissingBlob { digest: Digest },
    /// Entries written out of the bundle's order (`oci-layout`, `index.json`, seal files, blobs).
    #[error("entry {name:?} written out of order: {reason}")]
    OutOfOrder { name: String, reason: &'static str },
    /// `finish` was called before a required entry was written.
    #[error("bundle is incomplete: {missing} was never written")]
    Incomplete { missing: &'static str },
    /// A writer or reader is used again after an error abandoned it.
    #[error("bundle {what} was abandoned after an earlier error")]
    Abandoned { what: &'static str },
    /// Async reader: `next` was called while the previous blob body was neither read to
    /// its end nor dropped.
    #[error("blob {digest} must be read to its end or dropped before the next entry")]
    BlobNotFinished { digest: Digest },
    /// The background thread of an async writer or reader stopped unexpectedly.
    #[error("bundle {what} thread stopped unexpectedly")]
    WorkerGone { what: &'static str },
    /// A volume set (`save --volume-size`) whose part list or parts are wrong.
    #[error(transparent)]
    Volume(super::volumes::VolumeError),
}

/// `s` with control characters, the replacement character (what undecodable bytes became)
/// and invisible direction or zero-width marks escaped, so a message quoting hostile bytes
/// stays one clean line on a terminal.
pub fn printable(s: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
            || c == char::REPLACEMENT_CHARACTER
    };
    s.chars().fold(String::with_capacity(s.len()), |mut out, c| {
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        out
    })
}

impl BundleError {
    /// A [`BundleError::Corrupt`] whose source message is escaped with [`printable`].
    pub(crate) fn corrupt(after: impl Into<String>, source: io::Error) -> Self {
        let source = io::Error::new(source.kind(), printable(&source.to_string()));
        BundleError::Corrupt { after: after.into(), source }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        BundleError::Io { path: path.into(), source }
    }

    /// A copy for reporting the same failure in two places (a blob body and the entry
    /// stream of the async reader). I/O sources keep their kind and message.
    pub(crate) fn duplicate(&self) -> BundleError {
        fn dup_io(e: &io::Error) -> io::Error {
            io::Error::new(e.kind(), e.to_string())
        }
        use BundleError::*;
        match self {
            ForbiddenEntry { name, reason } => ForbiddenEntry { name: name.clone(), reason },
            DuplicateEntry { name } => DuplicateEntry { name: name.clone() },
            Link { name, kind } => Link { name: name.clone(), kind },
            SpecialFile { name, kind } => SpecialFile { name: name.clone(), kind },
            TooLarge { name, size, max } => TooLarge { name: name.clone(), size: *size, max: *max },
            Truncated { after } => Truncated { after: after.clone() },
            Corrupt { after, source } => Corrupt { after: after.clone(), source: dup_io(source) },
            NotABundle { file, detail } => NotABundle { file: file.clone(), detail },
            TrailingData { after } => TrailingData { after: after.clone() },
            Mismatch(m) => Mismatch(m.clone()),
            Io { path, source } => Io { path: path.clone(), source: dup_io(source) },
            Source { digest, source } => Source { digest: digest.clone(), source: dup_io(source) },
            BadLayout { name, reason } => BadLayout { name: name.clone(), reason: reason.clone() },
            MissingBlob { digest } => MissingBlob { digest: digest.clone() },
            OutOfOrder { name, reason } => OutOfOrder { name: name.clone(), reason },
            Incomplete { missing } => Incomplete { missing },
            Abandoned { what } => Abandoned { what },
            BlobNotFinished { digest } => BlobNotFinished { digest: digest.clone() },
            WorkerGone { what } => WorkerGone { what },
            Volume(v) => Volume(v.clone()),
        }
    }

    /// Wraps this error for an `io::Read` implementation; [`BundleError::from_io`] unwraps it.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::other(self)
    }

    /// Recovers a `BundleError` carried inside an `io::Error` (as the blob readers return it).
    pub fn from_io(e: io::Error) -> Result<BundleError, io::Error> {
        if e.get_ref().is_some_and(|inner| inner.is::<BundleError>()) {
            let inner = e.into_inner().expect("checked above");
            Ok(*inner.downcast::<BundleError>().expect("checked above"))
        } else {
            Err(e)
        }
    }
}
