//! Blob bytes for `serve`: a layer is hashed whole before its first byte is served, once,
//! and its verdict remembered; a damaged layer is never served. Reads run on blocking
//! threads and stream to the client through a small bounded channel, so a slow client
//! holds a few chunks in memory, never a layer.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{mpsc, OnceCell};

use super::view::BlobSource;
use crate::oci::digest::Hasher;
use crate::oci::Digest;

/// Size of one read and of one body chunk.
const CHUNK: usize = 256 * 1024;
/// Chunks read ahead of a slow client.
const AHEAD: usize = 4;

/// What hashing a layer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Good,
    /// The bytes do not match the digest (or the size): never served.
    Damaged {
        reason: String,
    },
}

/// The verdicts so far. An I/O error is not remembered (the next request tries again); a
/// verdict is.
#[derive(Default)]
pub struct Blobs {
    verdicts: Mutex<HashMap<Digest, Arc<OnceCell<Verdict>>>>,
}

impl Blobs {
    /// The verdict on `digest` at `source`, hashing it first if no request did yet.
    /// Concurrent first requests wait for one hash.
    pub async fn verify(&self, digest: &Digest, source: &BlobSource) -> std::io::Result<Verdict> {
        let BlobSource::File { path, offset, size } = source else {
            return Ok(Verdict::Good); // hashed with the metadata
        };
        let cell = {
            let mut map = self.verdicts.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(digest.clone()).or_default().clone()
        };
        let (path, offset, size, d) = (path.clone(), *offset, *size, digest.clone());
        let verdict = cell
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || hash_range(&path, offset, size, &d))
                    .await
                    .map_err(std::io::Error::other)?
            })
            .await?;
        Ok(verdict.clone())
    }

    /// The remembered verdict on `digest`, if a request hashed it already.
    pub fn known(&self, digest: &Digest) -> Option<Verdict> {
        let map = self.verdicts.lock().unwrap_or_else(|p| p.into_inner());
        map.get(digest).and_then(|c| c.get()).cloned()
    }

    /// Whether `digest` was hashed and found good.
    pub fn is_verified(&self, digest: &Digest) -> bool {
        self.known(digest) == Some(Verdict::Good)
    }
}

/// Hashes `size` bytes at `offset` of `path` against `digest`.
fn hash_range(path: &Path, offset: u64, size: u64, digest: &Digest) -> std::io::Result<Verdict> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if offset.checked_add(size).is_none_or(|end| end > len) {
        return Ok(Verdict::Damaged { reason: format!("the file ends before the blob's {size} bytes") });
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = file.take(size);
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    if hasher.len() != size {
        return Ok(Verdict::Damaged { reason: format!("{} bytes instead of {size}", hasher.len()) });
    }
    let actual = hasher.finish();
    if &actual != digest {
        return Ok(Verdict::Damaged { reason: format!("content hashes to {actual}") });
    }
    Ok(Verdict::Good)
}

/// The bytes `start..start + len` of a blob, as a stream of chunks.
pub fn stream(source: &BlobSource, start: u64, len: u64) -> mpsc::Receiver<std::io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(AHEAD);
    match source {
        BlobSource::Memory(bytes) => {
            let part = bytes.slice(start as usize..(start + len) as usize);
            let _ = tx.try_send(Ok(part));
        }
        BlobSource::File { path, offset, .. } => {
            let (path, at) = (path.clone(), offset + start);
            tokio::task::spawn_blocking(move || {
                let result = (|| -> std::io::Result<()> {
                    let mut file = std::fs::File::open(&path)?;
                    file.seek(SeekFrom::Start(at))?;
                    let mut left = len;
                    while left > 0 {
                        let mut buf = vec![0u8; CHUNK.min(left as usize)];
                        file.read_exact(&mut buf)?;
                        left -= buf.len() as u64;
                        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                            return Ok(()); // the client went away
                        }
                    }
                    Ok(())
                })();
                if let Err(e) = result {
                    let _ = tx.blocking_send(Err(e));
                }
            });
        }
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_damaged_blob_is_remembered_and_a_good_one_streams() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let body: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        let mut file = b"HEAD".to_vec();
        file.extend_from_slice(&body);
        std::fs::write(&path, &file).unwrap();
        let d = Digest::of(&body);
        let blobs = Blobs::default();
        let good = BlobSource::File { path: path.clone(), offset: 4, size: body.len() as u64 };
        assert_eq!(blobs.verify(&d, &good).await.unwrap(), Verdict::Good);
        assert!(blobs.is_verified(&d));
        let mut rx = stream(&good, 10, 600_000);
        let mut got = Vec::new();
        while let Some(c) = rx.recv().await {
            got.extend_from_slice(&c.unwrap());
        }
        assert_eq!(got, &body[10..600_010]);

        let other = Digest::of(b"something else");
        let bad = BlobSource::File { path: path.clone(), offset: 4, size: body.len() as u64 };
        assert!(matches!(blobs.verify(&other, &bad).await.unwrap(), Verdict::Damaged { .. }));
        assert!(!blobs.is_verified(&other));
        let short = BlobSource::File { path, offset: 4, size: body.len() as u64 + 1 };
        let d2 = Digest::of(b"x");
        assert!(matches!(blobs.verify(&d2, &short).await.unwrap(), Verdict::Damaged { .. }));
    }
}
