//! Minimum progress for blob transfers. An idle timeout alone never stops a body trickled
//! one byte at a time, and an overall deadline would cut a large layer on a slow link: so a
//! blob must move at least [`MIN_PROGRESS`] bytes (or the rest of it) in every window of
//! the timeout, else it has stalled.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use super::error::RegistryError;

/// Bytes a blob transfer must move in every timeout window (unless fewer remain).
pub const MIN_PROGRESS: u64 = 64 * 1024;

/// Tracks one transfer's windows: how much moved since the current window began.
pub(crate) struct Watchdog {
    window: Duration,
    sleep: Pin<Box<Sleep>>,
    /// Bytes moved in all, and when the current window began.
    moved: u64,
    moved_at_window_start: u64,
    /// The transfer's size when known: near the end, fewer than MIN_PROGRESS bytes suffice.
    size: Option<u64>,
    what: String,
}

impl Watchdog {
    pub fn new(window: Duration, size: Option<u64>, what: String) -> Watchdog {
        Watchdog { window, sleep: Box::pin(tokio::time::sleep(window)), moved: 0, moved_at_window_start: 0, size, what }
    }

    fn needed(&self) -> u64 {
        match self.size {
            Some(s) => MIN_PROGRESS.min(s.saturating_sub(self.moved_at_window_start)),
            None => MIN_PROGRESS,
        }
    }

    /// Judges the window that just ended: enough moved → a new window; else stalled.
    fn end_window(&mut self) -> Result<(), RegistryError> {
        let needed = self.needed();
        if self.moved - self.moved_at_window_start < needed {
            return Err(RegistryError::Stalled {
                what: self.what.clone(),
                min_bytes: needed,
                secs: self.window.as_secs(),
            });
        }
        self.moved_at_window_start = self.moved;
        self.sleep.as_mut().reset(Instant::now() + self.window);
        Ok(())
    }

    /// Counts `n` bytes that just moved (ending the window if it is over).
    pub fn moved(&mut self, n: u64) -> Result<(), RegistryError> {
        self.moved += n;
        if Instant::now() >= self.sleep.deadline() {
            self.end_window()?;
        }
        Ok(())
    }

    /// Polled while the transfer waits: `Ready(Err)` once a window ends with too little moved.
    pub fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<RegistryError> {
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if let Err(e) = self.end_window() {
                return Poll::Ready(e);
            }
        }
    }
}

/// An upload body that counts the bytes hyper takes from it, and notes whether the source
/// itself failed (then the upload is not worth retrying).
pub(crate) struct Counting<S> {
    pub inner: Pin<Box<S>>,
    pub sent: Arc<AtomicU64>,
    pub source_failed: Arc<std::sync::atomic::AtomicBool>,
}

impl<S: Stream<Item = std::io::Result<Bytes>>> Stream for Counting<S> {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = self.inner.as_mut().poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(chunk))) => {
                self.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            Poll::Ready(Some(Err(_))) => self.source_failed.store(true, Ordering::Relaxed),
            _ => {}
        }
        item
    }
}

/// Runs an upload of `size` bytes (`fut`, whose body counts into `sent`) while it keeps
/// moving [`MIN_PROGRESS`] bytes per `window`; once the body is sent, the registry has one
/// more window to answer.
pub(crate) async fn watch_upload<F: Future>(
    fut: F,
    sent: Arc<AtomicU64>,
    size: u64,
    window: Duration,
    what: String,
) -> Result<F::Output, RegistryError> {
    let mut fut = std::pin::pin!(fut);
    let mut dog = Watchdog::new(window, Some(size), what.clone());
    let mut body_done_windows = 0u32;
    loop {
        tokio::select! {
            out = &mut fut => return Ok(out),
            () = dog.sleep.as_mut() => {
                let now = sent.load(Ordering::Relaxed);
                if now >= size {
                    body_done_windows += 1;
                    if body_done_windows > 1 {
                        return Err(RegistryError::NoAnswer { what, secs: window.as_secs() });
                    }
                }
                dog.moved = now;
                dog.end_window()?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_trickle_stalls_and_a_steady_flow_does_not() {
        let w = Duration::from_millis(40);
        let mut dog = Watchdog::new(w, Some(10 * MIN_PROGRESS), "blob x".into());
        for _ in 0..5 {
            dog.moved(MIN_PROGRESS).unwrap();
            tokio::time::sleep(w).await;
        }
        // A window with a single byte: stalled.
        assert!(matches!(dog.moved(1), Err(RegistryError::Stalled { .. })));

        // The last few bytes of a blob need not make MIN_PROGRESS.
        let mut dog = Watchdog::new(w, Some(MIN_PROGRESS + 10), "blob y".into());
        dog.moved(MIN_PROGRESS).unwrap();
        tokio::time::sleep(w).await;
        dog.moved(10).unwrap();
        tokio::time::sleep(w).await;
        dog.moved(0).unwrap();
    }
}
