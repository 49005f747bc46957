//! The async face of [`BundleWriter`] for the tokio `save` command.
//!
//! Design: the synchronous writer (tar framing, compression, hashing, fsync) runs on its
//! own OS thread, so compression never blocks the runtime. Async callers send it commands
//! over a bounded channel; a blob's bytes travel as [`Bytes`] chunks, at most
//! [`CHANNEL_DEPTH`] chunks in flight (a few MiB with network-sized chunks), so memory stays
//! bounded whatever the layer size. Each method waits for the thread's verdict on its
//! entry, so an error (digest mismatch, disk full) is returned by the call that caused it.
//!
//! Misuse is hard: methods take `&mut self` (no interleaving); a failed or cancelled
//! `add_blob_stream` abandons the bundle (later calls return [`BundleError::Abandoned`]);
//! dropping the writer without `finish` makes the thread drop the sync writer, which
//! removes the temporary file.

use std::io::{self, Read};
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};

use crate::oci::Digest;

use super::writer::{BundleWriter, Compression};
use super::BundleError;

/// Chunks (and commands) queued to the writer thread at most.
pub const CHANNEL_DEPTH: usize = 16;

type Reply<T> = oneshot::Sender<Result<T, BundleError>>;

enum Cmd {
    File {
        name: String,
        bytes: Bytes,
        reply: Reply<()>,
    },
    BlobBytes {
        digest: Digest,
        bytes: Bytes,
        reply: Reply<()>,
    },
    BlobStart {
        digest: Digest,
        size: u64,
    },
    Chunk(Bytes),
    BlobEnd {
        reply: Reply<()>,
    },
    /// The source stream failed: abandon the blob (and so the bundle).
    Abort,
    Finish {
        reply: Reply<PathBuf>,
    },
    FinishParts {
        reply: Reply<super::volumes::PendingParts>,
    },
}

/// Async bundle writer; see the module documentation.
pub struct AsyncBundleWriter {
    tx: mpsc::Sender<Cmd>,
    abandoned: bool,
    /// The writer thread, joined on drop (see the `Drop` impl).
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AsyncBundleWriter {
    /// Creates the temporary file (on a blocking thread) and starts the writer thread.
    pub async fn create(final_path: impl Into<PathBuf>, compression: Compression) -> Result<Self, BundleError> {
        let final_path = final_path.into();
        Self::start(move || BundleWriter::create(final_path, compression)).await
    }

    /// [`create`](Self::create) for a set of volumes ([`BundleWriter::create_volumes`]);
    /// end it with [`finish_parts`](Self::finish_parts).
    pub async fn create_volumes(
        final_path: impl Into<PathBuf>,
        compression: Compression,
        volume_size: u64,
    ) -> Result<Self, BundleError> {
        let final_path = final_path.into();
        Self::start(move || BundleWriter::create_volumes(final_path, compression, volume_size)).await
    }

    async fn start(
        make: impl FnOnce() -> Result<BundleWriter, BundleError> + Send + 'static,
    ) -> Result<Self, BundleError> {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let (ready_tx, ready_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("bundle-writer".into())
            .spawn(move || match make() {
                Ok(w) => {
                    let _ = ready_tx.send(Ok(()));
                    run(w, rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| BundleError::io("bundle-writer thread", e))?;
        ready_rx.await.map_err(|_| BundleError::WorkerGone { what: "writer" })??;
        Ok(AsyncBundleWriter { tx, abandoned: false, thread: Some(thread) })
    }

    /// Drops the writer without `finish` and waits until its thread has ended (and so
    /// removed the temporary file).
    #[cfg(test)]
    pub(crate) fn drop_and_join(self) {
        drop(self);
    }

    pub async fn add_file(&mut self, name: &str, bytes: impl Into<Bytes>) -> Result<(), BundleError> {
        let bytes = bytes.into();
        self.call(|reply| Cmd::File { name: name.to_owned(), bytes, reply }).await
    }

    pub async fn add_blob_bytes(&mut self, digest: &Digest, bytes: impl Into<Bytes>) -> Result<(), BundleError> {
        let bytes = bytes.into();
        self.call(|reply| Cmd::BlobBytes { digest: digest.clone(), bytes, reply }).await
    }

    /// Streams a blob. A stream error, a wrong size or digest, or dropping this future
    /// before it completes abandons the bundle.
    pub async fn add_blob_stream<S, E>(&mut self, digest: &Digest, size: u64, stream: S) -> Result<(), BundleError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.check()?;
        // Until BlobEnd is sent, a cancelled future leaves the thread inside the blob: the
        // next command it sees is then not a chunk, which abandons the bundle.
        self.abandoned = true;
        self.send(Cmd::BlobStart { digest: digest.clone(), size }).await?;
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) if chunk.is_empty() => {}
                Ok(chunk) => self.send(Cmd::Chunk(chunk)).await?,
                Err(e) => {
                    let _ = self.tx.send(Cmd::Abort).await;
                    return Err(BundleError::Source { digest: digest.clone(), source: io::Error::other(e) });
                }
            }
        }
        let result = self.call_inner(|reply| Cmd::BlobEnd { reply }).await;
        self.abandoned = result.is_err();
        result
    }

    /// Ends the bundle and renames it into place; returns its final path.
    pub async fn finish(mut self) -> Result<PathBuf, BundleError> {
        self.check()?;
        self.call_inner(|reply| Cmd::Finish { reply }).await
    }

    /// Ends a volume set: every part complete under its temporary name; the caller signs
    /// the part list (or not) and publishes it ([`super::volumes::PendingParts::publish`]).
    pub async fn finish_parts(mut self) -> Result<super::volumes::PendingParts, BundleError> {
        self.check()?;
        self.call_inner(|reply| Cmd::FinishParts { reply }).await
    }

    fn check(&self) -> Result<(), BundleError> {
        if self.abandoned {
            return Err(BundleError::Abandoned { what: "writer" });
        }
        Ok(())
    }

    async fn send(&mut self, cmd: Cmd) -> Result<(), BundleError> {
        self.tx.send(cmd).await.map_err(|_| BundleError::WorkerGone { what: "writer" })
    }

    async fn call(&mut self, make: impl FnOnce(Reply<()>) -> Cmd) -> Result<(), BundleError> {
        self.check()?;
        self.call_inner(make).await
    }

    async fn call_inner<T>(&mut self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, BundleError> {
        let (reply, rx) = oneshot::channel();
        self.send(make(reply)).await?;
        rx.await.map_err(|_| BundleError::WorkerGone { what: "writer" })?
    }
}

impl Drop for AsyncBundleWriter {
    /// Closes the channel and waits for the thread, which removes the temporary file of an
    /// unfinished bundle: a failed `save` returns and the process exits right after, which
    /// would otherwise kill a detached thread before its cleanup (and leave a `.partial`).
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.tx, closed));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer thread: executes commands until `Finish` or until the sender is dropped
/// (then the sync writer is dropped and its temporary file removed).
fn run(mut w: BundleWriter, mut rx: mpsc::Receiver<Cmd>) {
    while let Some(cmd) = rx.blocking_recv() {
        match cmd {
            Cmd::File { name, bytes, reply } => {
                let _ = reply.send(w.add_file(&name, &bytes));
            }
            Cmd::BlobBytes { digest, bytes, reply } => {
                let _ = reply.send(w.add_blob_bytes(&digest, &bytes));
            }
            Cmd::BlobStart { digest, size } => {
                let mut reader = ChannelReader { rx: &mut rx, current: Bytes::new(), end: End::Open };
                let result = w.add_blob_stream(&digest, size, &mut reader);
                // Skip what the writer did not consume (after an early error) up to the end.
                reader.drain();
                match reader.end {
                    End::Reply(reply) => {
                        let _ = reply.send(result);
                    }
                    // Aborted or disconnected: the sync writer is abandoned by now (or will
                    // be: an aborted blob never completes), and the caller already has its error.
                    End::Open | End::Gone => {}
                }
            }
            // Only possible after a cancelled add_blob_stream left us outside a blob: the
            // bundle is abandoned either way.
            Cmd::Chunk(_) | Cmd::Abort => {}
            Cmd::BlobEnd { reply } => {
                let _ = reply.send(Err(BundleError::Abandoned { what: "writer" }));
            }
            Cmd::Finish { reply } => {
                let _ = reply.send(w.finish());
                return;
            }
            Cmd::FinishParts { reply } => {
                let _ = reply.send(w.finish_parts());
                return;
            }
        }
    }
}

enum End {
    Open,
    Reply(Reply<()>),
    Gone,
}

/// `Read` over the chunks of one blob. EOF at `BlobEnd`; an error at `Abort`, at a command
/// that does not belong inside a blob (the sending future was cancelled), or on disconnect.
struct ChannelReader<'a> {
    rx: &'a mut mpsc::Receiver<Cmd>,
    current: Bytes,
    end: End,
}

impl ChannelReader<'_> {
    fn drain(&mut self) {
        while matches!(self.end, End::Open) {
            self.current.clear();
            let _ = self.fill();
        }
    }

    /// Makes `current` non-empty, or returns Ok(false) at the end of the blob.
    fn fill(&mut self) -> io::Result<bool> {
        while self.current.is_empty() {
            if !matches!(self.end, End::Open) {
                return Ok(false);
            }
            match self.rx.blocking_recv() {
                Some(Cmd::Chunk(b)) => self.current = b,
                Some(Cmd::BlobEnd { reply }) => {
                    self.end = End::Reply(reply);
                    return Ok(false);
                }
                Some(Cmd::Abort) => {
                    self.end = End::Gone;
                    return Err(io::Error::other("the blob's source stream failed"));
                }
                Some(other) => {
                    // A new command inside a blob: its sender was cancelled mid-blob.
                    self.end = End::Gone;
                    if let Cmd::File { reply, .. } | Cmd::BlobBytes { reply, .. } = other {
                        let _ = reply.send(Err(BundleError::Abandoned { what: "writer" }));
                    } else if let Cmd::Finish { reply } = other {
                        let _ = reply.send(Err(BundleError::Abandoned { what: "writer" }));
                    } else if let Cmd::FinishParts { reply } = other {
                        let _ = reply.send(Err(BundleError::Abandoned { what: "writer" }));
                    }
                    return Err(io::Error::other("blob stream interrupted"));
                }
                None => {
                    self.end = End::Gone;
                    return Err(io::Error::other("writer dropped during a blob"));
                }
            }
        }
        Ok(true)
    }
}

impl Read for ChannelReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || !self.fill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}
