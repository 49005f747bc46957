//! The async face of [`BundleReader`] for the tokio `load` command.
//!
//! Design: the synchronous reader (decompression, tar parsing, hashing) runs on its own OS
//! thread and sends entries over a bounded channel. A blob arrives as an [`AsyncBlob`]
//! whose [`BlobBody`] is a `'static` `Stream<Item = io::Result<Bytes>>` (so it can be handed
//! to an HTTP client as a request body) fed through its own channel of [`BODY_DEPTH`]
//! chunks of at most 256 KiB: at most ~2 MiB of a layer is in memory, whatever its size.
//!
//! Verification: a body ends cleanly (`None`) only after the thread checked the digest and
//! size; a mismatch or truncation is the body's last item (an `io::Error` wrapping the
//! [`BundleError`]) and is also returned by the next [`AsyncBundleReader::next`]. Dropping a
//! body skips the blob's bytes but not their check: the thread still reads and hashes it.
//!
//! Rule: a body must be read to its end or dropped before calling `next` again (the tar is
//! one pass; the next entry lies behind the blob). `next` enforces this with
//! [`BundleError::BlobNotFinished`] rather than waiting forever.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

use crate::oci::Digest;

use super::reader::{BundleReader, Entry};
use super::writer::COPY_BUF;
use super::BundleError;

/// Chunks of one blob queued ahead of the consumer at most.
pub const BODY_DEPTH: usize = 8;
/// Entries queued ahead of the consumer at most (metadata files are capped at 16 MiB).
const ENTRY_DEPTH: usize = 2;

/// One accepted entry, owned.
#[derive(Debug)]
pub enum AsyncEntry {
    OciLayout(Vec<u8>),
    Index(Vec<u8>),
    Seal { name: &'static str, bytes: Vec<u8> },
    Blob(AsyncBlob),
}

#[derive(Debug)]
pub struct AsyncBlob {
    pub digest: Digest,
    pub size: u64,
    /// For an uncompressed bundle, where the blob's bytes start in the file: they can be
    /// read again from there (and must be verified again: see `load`).
    pub file_offset: Option<u64>,
    pub body: BlobBody,
}

enum Event {
    Entry(AsyncEntry),
    End,
    Failed(BundleError),
}

enum BodyMsg {
    Chunk(Bytes),
    Done,
    Failed(BundleError),
}

/// Reads a bundle from async code; see the module documentation.
pub struct AsyncBundleReader {
    rx: mpsc::Receiver<Event>,
    previous: Option<(Digest, Arc<AtomicBool>)>,
    over: bool,
    /// The clean end was seen: asking again says the same (a bundle without layers ends
    /// in the metadata phase, and the layer phase then asks once more).
    ended: bool,
}

impl AsyncBundleReader {
    /// Starts reading `path` on a background thread; errors (including failing to open
    /// the file) come from the first [`next`](Self::next).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, BundleError> {
        let path = path.into();
        let (tx, rx) = mpsc::channel(ENTRY_DEPTH);
        std::thread::Builder::new()
            .name("bundle-reader".into())
            .spawn(move || run(path, tx))
            .map_err(|e| BundleError::io("bundle-reader thread", e))?;
        Ok(AsyncBundleReader { rx, previous: None, over: false, ended: false })
    }

    /// The next entry; `Ok(None)` at the clean end of the bundle. After an error the
    /// reader is finished: the bundle as a whole is refused.
    pub async fn next(&mut self) -> Result<Option<AsyncEntry>, BundleError> {
        if let Some((digest, finished)) = &self.previous {
            if !finished.load(Ordering::Acquire) {
                return Err(BundleError::BlobNotFinished { digest: digest.clone() });
            }
        }
        if self.ended {
            return Ok(None);
        }
        if self.over {
            return Err(BundleError::Abandoned { what: "reader" });
        }
        self.previous = None;
        match self.rx.recv().await {
            Some(Event::Entry(entry)) => {
                if let AsyncEntry::Blob(blob) = &entry {
                    self.previous = Some((blob.digest.clone(), blob.body.finished.clone()));
                }
                Ok(Some(entry))
            }
            Some(Event::End) => {
                self.over = true;
                self.ended = true;
                Ok(None)
            }
            Some(Event::Failed(e)) => {
                self.over = true;
                Err(e)
            }
            None => {
                self.over = true;
                Err(BundleError::WorkerGone { what: "reader" })
            }
        }
    }
}

fn run(path: PathBuf, tx: mpsc::Sender<Event>) {
    let fail = |e| {
        let _ = tx.blocking_send(Event::Failed(e));
    };
    let mut reader = match BundleReader::open(&path) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let plain = reader.compression() == super::writer::Compression::None;
    let mut entries = match reader.entries() {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    let mut buf = vec![0u8; COPY_BUF];
    loop {
        let entry = match entries.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => {
                let _ = tx.blocking_send(Event::End);
                return;
            }
            Err(e) => return fail(e),
        };
        let mut blob = match entry {
            Entry::OciLayout(b) => {
                if tx.blocking_send(Event::Entry(AsyncEntry::OciLayout(b))).is_err() {
                    return;
                }
                continue;
            }
            Entry::Index(b) => {
                if tx.blocking_send(Event::Entry(AsyncEntry::Index(b))).is_err() {
                    return;
                }
                continue;
            }
            Entry::Seal { name, bytes } => {
                if tx.blocking_send(Event::Entry(AsyncEntry::Seal { name, bytes })).is_err() {
                    return;
                }
                continue;
            }
            Entry::Blob(blob) => blob,
        };
        let (btx, brx) = mpsc::channel(BODY_DEPTH);
        let finished = Arc::new(AtomicBool::new(false));
        let body = BlobBody { rx: brx, finished, digest: blob.digest().clone(), ended: false };
        let file_offset = plain.then(|| blob.offset());
        let event = AsyncBlob { digest: blob.digest().clone(), size: blob.size(), file_offset, body };
        if tx.blocking_send(Event::Entry(AsyncEntry::Blob(event))).is_err() {
            return;
        }
        let mut body_open = true;
        loop {
            match blob.read_checked(&mut buf) {
                Ok(0) => {
                    if body_open {
                        let _ = btx.blocking_send(BodyMsg::Done);
                    }
                    break;
                }
                Ok(n) => {
                    if body_open && btx.blocking_send(BodyMsg::Chunk(Bytes::copy_from_slice(&buf[..n]))).is_err() {
                        // Body dropped: keep reading to check the blob, unless nobody listens.
                        body_open = false;
                    }
                    if !body_open && tx.is_closed() {
                        return;
                    }
                }
                Err(e) => {
                    if body_open {
                        let _ = btx.blocking_send(BodyMsg::Failed(e.duplicate()));
                    }
                    return fail(e);
                }
            }
        }
    }
}

/// The bytes of one blob as a stream; see the module documentation.
pub struct BlobBody {
    rx: mpsc::Receiver<BodyMsg>,
    finished: Arc<AtomicBool>,
    digest: Digest,
    ended: bool,
}

impl std::fmt::Debug for BlobBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobBody").field("digest", &self.digest).field("ended", &self.ended).finish()
    }
}

impl BlobBody {
    fn end(&mut self) {
        self.ended = true;
        self.finished.store(true, Ordering::Release);
    }

    /// Collects a small blob (refusing more than `max` bytes), verified.
    pub async fn read_to_vec(mut self, max: u64) -> Result<Vec<u8>, BundleError> {
        use futures_util::StreamExt;
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk.map_err(|e| super::verify::from_io_or(e, &self.digest))?;
            if (out.len() + chunk.len()) as u64 > max {
                return Err(BundleError::TooLarge {
                    name: self.digest.blob_path(),
                    size: (out.len() + chunk.len()) as u64,
                    max,
                });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

impl Stream for BlobBody {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(BodyMsg::Chunk(b))) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(Some(BodyMsg::Done)) => {
                self.end();
                Poll::Ready(None)
            }
            Poll::Ready(Some(BodyMsg::Failed(e))) => {
                self.end();
                Poll::Ready(Some(Err(e.into_io())))
            }
            // The thread stopped without a verdict: never let that look like a clean end.
            Poll::Ready(None) => {
                self.end();
                Poll::Ready(Some(Err(BundleError::WorkerGone { what: "reader" }.into_io())))
            }
        }
    }
}

impl Drop for BlobBody {
    fn drop(&mut self) {
        self.finished.store(true, Ordering::Release);
    }
}
