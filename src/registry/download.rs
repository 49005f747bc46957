//! Blob downloads that resume (issue 10): a body that breaks off or stalls mid-way is asked
//! for again with `Range: bytes=N-`, N being the bytes already handed on, up to the
//! configured retries per blob. The consumer (the bundle writer) has already written those
//! N bytes and cannot take them back, so the stream goes on from byte N whatever the
//! registry does:
//!
//! - `206 Partial Content` whose `Content-Range` starts at N: its body is the rest.
//! - `200 OK` (a registry or proxy that ignores `Range`): the whole blob again; its first N
//!   bytes are dropped and the rest handed on.
//! - anything else (a 206 from another offset, 416...): an error.
//!
//! The digest is computed over the bytes handed on ([`Verifying`] hashes across the
//! attempts), so a registry that served other bytes the second time fails the digest
//! check at the end like any corrupt blob. A clean end of a close-delimited body is not
//! resumed: that is the registry saying "that is all", which [`Verifying`] judges by size.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderValue, CONTENT_RANGE, RANGE};
use reqwest::{Method, StatusCode};

use super::progress::Watchdog;
use super::transport::{self, header_str};
use super::{pull_scope, BlobStream, Registry, RegistryError};
use crate::oci::digest::Hasher;
use crate::oci::Digest;

/// How long a blob body may be.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    /// Exactly this many bytes (a descriptor's size).
    Exact(u64),
    /// At most this many (a cap for a blob read into memory).
    AtMost(u64),
}

impl Expect {
    fn known(self) -> Option<u64> {
        match self {
            Expect::Exact(s) => Some(s),
            Expect::AtMost(_) => None,
        }
    }
}

type Body = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// One open response body and where it stands.
struct Attempt {
    body: Body,
    dog: Watchdog,
    /// Bytes at the head of this body that were handed on from an earlier attempt.
    skip: u64,
}

/// The state behind a resuming blob stream.
struct Resuming {
    registry: Registry,
    repo: String,
    digest: Digest,
    what: String,
    size: Expect,
    attempt: Option<Attempt>,
    /// Bytes handed on so far, over all attempts.
    delivered: u64,
    resumes: u32,
    done: bool,
}

impl Registry {
    /// Opens a blob body from byte `from`: the first response of [`Registry::get_blob`]
    /// (`from` = 0) or a resumption.
    async fn open_blob(&self, repo: &str, digest: &Digest, size: Expect, from: u64) -> Result<Attempt, RegistryError> {
        let what = self.what_blob(repo, digest);
        let mut req = self.request(Method::GET, &format!("/v2/{repo}/blobs/{digest}"), pull_scope(repo), Some(repo));
        req.deadline = None;
        if from > 0 {
            req.headers.insert(RANGE, HeaderValue::from_str(&format!("bytes={from}-")).expect("ASCII digits"));
        }
        let resp = self.t().send(req).await?;
        if !resp.status().is_success() {
            return Err(self.t().error_for(resp, &Method::GET, Some(repo), &what).await);
        }
        let (skip, starts_at) = match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let start = header_str(resp.headers(), CONTENT_RANGE.as_str()).and_then(range_start);
                if start != Some(from) {
                    return Err(RegistryError::Protocol {
                        host: self.host().to_owned(),
                        what: format!(
                            "{what}: asked for bytes from {from}, got a partial answer {}",
                            match header_str(resp.headers(), CONTENT_RANGE.as_str()) {
                                Some(r) => format!("for {:?}", crate::escape::clean(r)),
                                None => "without Content-Range".to_owned(),
                            }
                        ),
                    });
                }
                (0, from)
            }
            StatusCode::OK => (from, 0),
            s => {
                return Err(RegistryError::Protocol {
                    host: self.host().to_owned(),
                    what: format!("{what}: unexpected HTTP {} to a blob download", s.as_u16()),
                })
            }
        };
        if let Some(n) = resp.content_length() {
            match size {
                Expect::Exact(s) if starts_at + n > s => return Err(RegistryError::TooLong { what, size: s }),
                Expect::AtMost(m) if starts_at + n > m => return Err(RegistryError::TooLarge { what, limit: m }),
                _ => {}
            }
        }
        let remaining = size.known().map(|s| s.saturating_sub(from) + skip);
        Ok(Attempt { body: Box::pin(resp.bytes_stream()), dog: Watchdog::new(self.t().timeout, remaining, what), skip })
    }

    /// A blob stream of at most / exactly `size` bytes, checked against `digest` at its end.
    pub(crate) async fn blob_stream(
        &self,
        repo: &str,
        digest: &Digest,
        size: Expect,
    ) -> Result<BlobStream, RegistryError> {
        let what = self.what_blob(repo, digest);
        let first = self.open_blob(repo, digest, size, 0).await?;
        let state = Resuming {
            registry: self.clone(),
            repo: repo.to_owned(),
            digest: digest.clone(),
            what: what.clone(),
            size,
            attempt: Some(first),
            delivered: 0,
            resumes: 0,
            done: false,
        };
        let inner = futures_util::stream::unfold(state, |mut st| async move {
            let item = st.next_chunk().await?;
            Some((item, st))
        });
        Ok(Box::pin(Verifying {
            inner: Box::pin(inner),
            hasher: Some(Hasher::new()),
            expected: digest.clone(),
            size,
            received: 0,
            what,
        }))
    }
}

impl Resuming {
    /// The next bytes of the blob, resuming a broken or stalled body; `None` at its end.
    async fn next_chunk(&mut self) -> Option<Result<Bytes, RegistryError>> {
        loop {
            if self.done {
                return None;
            }
            let broken = match self.attempt.as_mut() {
                None => None,
                Some(Attempt { body, dog, skip }) => {
                    let next = tokio::select! {
                        item = body.next() => Ok(item),
                        stalled = std::future::poll_fn(|cx| dog.poll_stalled(cx)) => Err(stalled),
                    };
                    match next {
                        Ok(Some(Ok(mut chunk))) => match dog.moved(chunk.len() as u64) {
                            Err(stalled) => Some(stalled),
                            Ok(()) => {
                                let drop = (*skip).min(chunk.len() as u64);
                                *skip -= drop;
                                let chunk = chunk.split_off(drop as usize);
                                if chunk.is_empty() {
                                    continue;
                                }
                                self.delivered += chunk.len() as u64;
                                return Some(Ok(chunk));
                            }
                        },
                        // A clean end: Verifying judges the length.
                        Ok(None) if *skip == 0 => {
                            self.done = true;
                            return None;
                        }
                        // A 200 answer that ended before reaching where we were.
                        Ok(None) => Some(RegistryError::TooShort {
                            what: self.what.clone(),
                            size: self.delivered,
                            received: self.delivered - *skip,
                        }),
                        Ok(Some(Err(e))) => Some(RegistryError::Interrupted {
                            what: self.what.clone(),
                            received: self.delivered,
                            reason: transport::describe(&e),
                            attempts: self.resumes + 1,
                        }),
                        Err(stalled) => Some(stalled),
                    }
                }
            };
            let error = broken.unwrap_or_else(|| RegistryError::Protocol {
                host: self.registry.host().to_owned(),
                what: format!("{}: no body to read", self.what),
            });
            self.attempt = None;
            if self.resumes >= self.registry.t().max_retries {
                self.done = true;
                return Some(Err(error));
            }
            let delay = self.registry.t().backoff(self.resumes);
            self.resumes += 1;
            tracing::info!(blob = %self.what, from = self.delivered, attempt = self.resumes, error = %error, "resuming the download");
            tokio::time::sleep(delay).await;
            match self.registry.open_blob(&self.repo, &self.digest, self.size, self.delivered).await {
                Ok(a) => self.attempt = Some(a),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// The first byte of a `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`).
fn range_start(value: &str) -> Option<u64> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (start, _) = rest.split_once('-')?;
    start.trim().parse().ok()
}

/// Hashes a blob stream as it passes and fails at EOF on a digest mismatch; fails as soon
/// as the body runs past its size.
struct Verifying {
    inner: BlobStream,
    hasher: Option<Hasher>,
    expected: Digest,
    what: String,
    size: Expect,
    received: u64,
}

impl Verifying {
    fn fail(&mut self, e: RegistryError) -> Poll<Option<Result<Bytes, RegistryError>>> {
        self.hasher = None;
        Poll::Ready(Some(Err(e)))
    }
}

impl Stream for Verifying {
    type Item = Result<Bytes, RegistryError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.hasher.is_none() {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                this.received += chunk.len() as u64;
                match this.size {
                    Expect::Exact(size) if this.received > size => {
                        return this.fail(RegistryError::TooLong { what: this.what.clone(), size })
                    }
                    Expect::AtMost(limit) if this.received > limit => {
                        return this.fail(RegistryError::TooLarge { what: this.what.clone(), limit })
                    }
                    _ => {}
                }
                this.hasher.as_mut().expect("checked above").update(&chunk);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => this.fail(e),
            Poll::Ready(None) => {
                if let Expect::Exact(size) = this.size {
                    if this.received < size {
                        let (what, received) = (this.what.clone(), this.received);
                        return this.fail(RegistryError::TooShort { what, size, received });
                    }
                }
                let actual = this.hasher.take().expect("checked above").finish();
                if actual == this.expected {
                    Poll::Ready(None)
                } else {
                    let (what, expected) = (this.what.clone(), this.expected.clone());
                    Poll::Ready(Some(Err(RegistryError::DigestMismatch { what, expected, actual })))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::range_start;

    #[test]
    fn content_range_starts() {
        assert_eq!(range_start("bytes 1048576-4194303/4194304"), Some(1_048_576));
        assert_eq!(range_start("bytes 0-9/*"), Some(0));
        assert_eq!(range_start("bytes */100"), None);
        assert_eq!(range_start("items 1-2/3"), None);
    }
}
