//! Pushing what admission let through (phases 3 and 4 of `load`): metadata blobs from
//! memory, then layers, then (in [`super::publish`]) manifests and tags, only once every
//! blob is in place.
//! Blobs the target already has are skipped (HEAD first); a blob needed in several
//! repositories is uploaded once and mounted into the others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};

use super::load::{body_error, LoadError};
use super::plan::Plan;
use super::read::{check_complete, check_dir, check_known, layout_after_blobs, Layers, TarRest};
use crate::bundle::{AsyncEntry, BundleError, BundleIndex};
use crate::content::Metadata;
use crate::layout::LayoutDir;
use crate::oci::Digest;
use crate::progress::Reporter;
use crate::registry::{Registry, RegistryError};

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LoadReport {
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
    pub present_blobs: usize,
    pub mounted_blobs: usize,
    pub pushed_manifests: usize,
    pub present_manifests: usize,
    pub tags: Vec<String>,
    /// Attachment tags left as they were at the target: the bundle's attachment differs and
    /// did not verify under the site's trust.
    pub kept_tags: Vec<KeptTag>,
}

/// An attachment tag (`sha256-<hex>.sig|.att|.sbom`) the load did not move.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeptTag {
    /// `host/repo:tag` at the target.
    pub reference: String,
    /// What the tag names at the target, and still names.
    pub kept: Digest,
    /// The bundle's attachment, pushed by digest only.
    pub offered: Digest,
}

impl LoadReport {
    /// Counts a finished upload and records where the blob now is.
    fn uploaded(&mut self, present: &mut Present, digest: Digest, repository: String, size: u64) {
        self.uploaded_blobs += 1;
        self.uploaded_bytes += size;
        present.insert((digest, repository));
    }
}

pub struct Loader<'r> {
    pub registry: &'r Registry,
    pub jobs: usize,
    pub reporter: std::sync::Arc<dyn Reporter>,
    /// How the layers of a seekable bundle (`.tar`, directory) are read.
    pub pass: Pass,
}

/// How `load` reads the layers of a seekable bundle. A compressed bundle always goes in one
/// sequential pass, each layer streamed from the reader into its upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The default: the tar's headers are indexed (no blob data read), then each layer the
    /// target lacks is read once from its offset (or its file) straight into its upload,
    /// hashed on the way, `jobs` at a time. A failure can leave blobs of admitted images at
    /// the target, never a manifest or tag.
    One,
    /// `--check-first`: every blob of the bundle is read and hashed before the first
    /// upload, then each layer is read again into its upload. A corrupt bundle leaves the
    /// target untouched.
    CheckFirst,
}

/// (blob, repository) pairs the target already has.
pub type Present = BTreeSet<(Digest, String)>;

impl Loader<'_> {
    /// HEAD-checks every blob of the plan at the target.
    pub async fn present_blobs(&self, plan: &Plan) -> Result<Present, LoadError> {
        let pairs: Vec<(Digest, String)> =
            plan.blobs().iter().flat_map(|(d, repos)| repos.iter().map(move |r| (d.clone(), r.clone()))).collect();
        let found: Vec<Option<(Digest, String)>> = futures_util::stream::iter(pairs)
            .map(|(d, r)| async move { Ok::<_, LoadError>(self.registry.blob_exists(&r, &d).await?.map(|_| (d, r))) })
            .buffer_unordered(self.jobs.max(1))
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Phases 3 and 4.
    pub async fn push(
        &self,
        meta: &Metadata,
        plan: &Plan,
        mut present: Present,
        layers: Layers,
    ) -> Result<LoadReport, LoadError> {
        let mut report = LoadReport { present_blobs: present.len(), ..Default::default() };
        // What the target held before the first upload: tells the manifest phase which
        // manifests cannot be there yet.
        let before = present.clone();
        // Where each blob already is (for mounting into the other repositories).
        let mut holder: BTreeMap<Digest, String> = present.iter().map(|(d, r)| (d.clone(), r.clone())).collect();

        // What each kind of bundle needs before the first upload. Checked first: every
        // blob hashed. One pass: a tar's headers indexed (its layers are read once, later,
        // into their uploads). A compressed tar streams after the small blobs.
        let mut streamed = None;
        let mut deferred: Option<(std::path::PathBuf, Vec<Deferred>)> = None;
        let mut dir = None;
        match layers {
            // A compressed bundle, or one read from a pipe, goes in one sequential pass.
            Layers::Tar(rest) if rest.compressed || !rest.seekable => streamed = Some(rest),
            Layers::Tar(rest) => {
                let path = rest.path.clone();
                let layers = match self.pass {
                    Pass::CheckFirst => self.tar_pass(meta, plan, rest, &mut present, &mut holder, &mut report).await?,
                    Pass::One => {
                        // The streaming reader stops here (it stood at the first layer).
                        drop(rest);
                        index_pass(meta, plan, &path, &present, &mut holder).await?
                    }
                };
                deferred = Some((path, layers));
            }
            Layers::Dir(d) => {
                if self.pass == Pass::CheckFirst {
                    check_dir(meta, &d).await?;
                }
                dir = Some(d);
            }
        }

        // Small blobs from memory.
        let small: Vec<(Digest, String, Bytes)> = plan
            .blobs()
            .iter()
            .filter_map(|(d, repos)| meta.small.get(d).map(|b| (d, repos, b)))
            .flat_map(|(d, repos, b)| {
                repos
                    .iter()
                    .filter(|r| !present.contains(&(d.clone(), (*r).clone())))
                    .map(move |r| (d.clone(), r.clone(), b.clone()))
            })
            .collect();
        let pushed: Vec<(Digest, String, u64)> = futures_util::stream::iter(small)
            .map(|(d, r, b)| async move {
                let n = b.len() as u64;
                self.registry
                    .put_blob_bytes(&r, &d, b)
                    .await
                    .map_err(|e| LoadError::upload(d.clone(), r.clone(), e))?;
                Ok::<_, LoadError>((d, r, n))
            })
            .buffer_unordered(self.jobs.max(1))
            .try_collect()
            .await?;
        for (d, r, n) in pushed {
            holder.entry(d.clone()).or_insert_with(|| r.clone());
            report.uploaded(&mut present, d, r, n);
        }

        // Layers: upload each once, then mount into the other repositories.
        if let Some((path, layers)) = deferred {
            self.upload_deferred(&path, layers, &mut present, &mut report).await?;
        }
        if let Some(rest) = streamed {
            let deferred = self.tar_pass(meta, plan, rest, &mut present, &mut holder, &mut report).await?;
            debug_assert!(deferred.is_empty(), "streamed layers are never deferred");
        }
        if let Some(d) = dir {
            self.push_dir(plan, &d, &mut present, &mut holder, &mut report).await?;
        }
        for (d, repos) in plan.blobs() {
            for r in repos {
                if present.contains(&(d.clone(), r.clone())) {
                    continue;
                }
                let from = holder.get(d).ok_or_else(|| LoadError::MissingBlob { digest: d.clone() })?;
                if self.registry.mount_blob(r, from, d).await? || self.registry.blob_exists(r, d).await?.is_some() {
                    report.mounted_blobs += 1;
                    present.insert((d.clone(), r.clone()));
                } else {
                    let what = format!("blob {d} could not be mounted from {from}");
                    return Err(LoadError::upload(d.clone(), r.clone(), RegistryError::NotFound { what }));
                }
            }
        }

        // Manifests and tags, only now that every blob is in place.
        super::publish::publish(self.registry, self.jobs, meta, plan, &before, &mut report).await?;
        Ok(report)
    }

    /// The pass over the rest of a tar: every entry is checked (name, size, digest, that
    /// the bundle holds exactly the blobs its manifests reference). Layers of a compressed
    /// bundle stream from the reader straight into their uploads (they cannot be re-read
    /// cheaply; blobs before a corrupt one may then land, never a manifest). Layers of an
    /// uncompressed bundle are returned, to be uploaded only after the pass succeeded.
    async fn tar_pass(
        &self,
        meta: &Metadata,
        plan: &Plan,
        rest: TarRest,
        present: &mut Present,
        holder: &mut BTreeMap<Digest, String>,
        report: &mut LoadReport,
    ) -> Result<Vec<Deferred>, LoadError> {
        let TarRest { mut reader, mut pending, unheld, seekable, .. } = rest;
        let mut seen = BTreeSet::new();
        let mut deferred = Vec::new();
        // Large configs the metadata phase hashed and left in the file: read again from there.
        for u in unheld {
            seen.insert(u.digest.clone());
            let Some(repos) = plan.blobs().get(&u.digest) else { continue };
            let target = repos.iter().find(|r| !present.contains(&(u.digest.clone(), (*r).clone())));
            let Some(repo) = target.filter(|_| !holder.contains_key(&u.digest)).cloned() else { continue };
            holder.insert(u.digest.clone(), repo.clone());
            deferred.push(Deferred { digest: u.digest, offset: u.offset, size: u.size, repository: repo });
        }
        // Uploads whose body is sent, waiting for the registry's answer (distribution fsyncs
        // the blob first) while the next layer streams: at most `jobs`. A failed one is the
        // registry's fault: its bytes were checked before its last byte went out.
        let mut committing = Committing::new(self.reporter.clone());
        loop {
            let blob = match pending.take() {
                Some(b) => b,
                None => match committing.beside(reader.next()).await?? {
                    Some(AsyncEntry::Blob(b)) => b,
                    Some(_) => return Err(layout_after_blobs()),
                    None => break,
                },
            };
            super::read::refuse_assumed(meta, &blob.digest)?;
            seen.insert(blob.digest.clone());
            let Some(repos) = plan.blobs().get(&blob.digest) else {
                check_known(meta, &blob.digest)?;
                continue; // belongs to an entry not selected for this load; dropping skips it
            };
            let target = repos.iter().find(|r| {
                !present.contains(&(blob.digest.clone(), (*r).clone())) && !holder.contains_key(&blob.digest)
            });
            let Some(repo) = target.cloned() else { continue };
            let (digest, size) = (blob.digest.clone(), blob.size);
            holder.insert(digest.clone(), repo.clone());
            if let Some(offset) = blob.file_offset.filter(|_| self.pass == Pass::CheckFirst && seekable) {
                // Dropping the body lets the reader go on, still hashing the bytes.
                deferred.push(Deferred { digest, offset, size, repository: repo });
                continue;
            }
            committing.at_most(self.jobs.max(1) - 1).await?;
            self.reporter.blob_started(&digest, size);
            tracing::info!(%digest, size, repository = %repo, "uploading layer while reading the bundle");
            let reporter = self.reporter.clone();
            let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<()>();
            let body = Checked::new(blob.body.inspect_ok(move |c| reporter.bytes(c.len() as u64)), size, move || {
                let _ = sent_tx.send(());
            });
            let registry = self.registry.clone();
            committing.uploads.push(Box::pin(async move {
                let result = registry.put_blob_stream(&repo, &digest, size, body).await;
                Committed { digest, repository: repo, size, result }
            }));
            // Until its last byte is out, the upload is the reader's: its failure may be the
            // bundle's fault (a body that failed its digest check fails its upload too),
            // which the reader then returns.
            let sent = committing.beside(sent_rx).await;
            let failed = match sent {
                Ok(Ok(())) => None,
                Err(e) => Some(e),
                // The body went without its last byte: its upload is ending; wait for it.
                Ok(Err(_)) => Some(
                    committing
                        .at_most(0)
                        .await
                        .err()
                        .unwrap_or(LoadError::Bundle(BundleError::WorkerGone { what: "upload" })),
                ),
            };
            if let Some(e) = failed {
                // An earlier layer's failure (its bytes were checked) is the registry's; this
                // one's may be the bundle's. Dropping the uploads ends this body.
                let ours = matches!(&e, LoadError::Upload { digest: d, .. } if *d == blob.digest);
                drop(committing);
                if ours {
                    reader.next().await?;
                }
                return Err(e);
            }
        }
        committing.at_most(0).await?;
        for c in committing.done {
            report.uploaded(present, c.digest, c.repository, c.size);
        }
        check_complete(meta, &seen)?;
        Ok(deferred)
    }

    /// Uploads the layers of an uncompressed bundle, `jobs` at a time, each re-read from
    /// the file at the offset the reader reported and verified again.
    async fn upload_deferred(
        &self,
        path: &Path,
        deferred: Vec<Deferred>,
        present: &mut Present,
        report: &mut LoadReport,
    ) -> Result<(), LoadError> {
        let slots = SendSlots::new(self.jobs);
        let uploads = futures_util::stream::iter(deferred)
            .map(|d| {
                let (registry, reporter, slots) = (self.registry.clone(), self.reporter.clone(), slots.clone());
                async move {
                    let slot = slots.take().await;
                    reporter.blob_started(&d.digest, d.size);
                    tracing::info!(digest = %d.digest, size = d.size, repository = %d.repository, "uploading layer");
                    upload_range(registry, reporter, slot, path.to_owned(), d.offset, d.repository, d.digest, d.size)
                        .await
                }
            })
            .buffer_unordered(slots.uploads());
        futures_util::pin_mut!(uploads);
        while let Some(r) = uploads.next().await {
            let (d, repo, n) = r?;
            self.reporter.blob_finished(&d);
            report.uploaded(present, d, repo, n);
        }
        Ok(())
    }

    async fn push_dir(
        &self,
        plan: &Plan,
        dir: &LayoutDir,
        present: &mut Present,
        holder: &mut BTreeMap<Digest, String>,
        report: &mut LoadReport,
    ) -> Result<(), LoadError> {
        let todo: Vec<(Digest, String)> = plan
            .blobs()
            .iter()
            .filter(|(d, _)| !holder.contains_key(*d))
            .filter_map(|(d, repos)| {
                repos.iter().find(|r| !present.contains(&((*d).clone(), (*r).clone()))).map(|r| (d.clone(), r.clone()))
            })
            .collect();
        let slots = SendSlots::new(self.jobs);
        let done: Vec<(Digest, String, u64)> = futures_util::stream::iter(todo)
            .map(|(d, r)| async {
                let slot = slots.take().await;
                let (_, size) = dir.open_blob(&d).map_err(|_| LoadError::MissingBlob { digest: d.clone() })?;
                self.reporter.blob_started(&d, size);
                // A file: a transient registry fault restarts the upload from its start.
                let reopen =
                    || slot.until_sent(reopened(dir.open_blob(&d).map(|(r, _)| r), self.reporter.clone()), size);
                if let Err(source) = self.registry.put_blob_reopening(&r, &d, size, reopen).await {
                    // The bundle's fault (a corrupt blob) rather than the registry's?
                    check_bytes(dir.open_blob(&d)?.0).await?;
                    return Err(LoadError::upload(d, r, source));
                }
                Ok::<_, LoadError>((d, r, size))
            })
            .buffer_unordered(slots.uploads())
            .try_collect()
            .await?;
        for (d, r, n) in done {
            holder.insert(d.clone(), r.clone());
            report.uploaded(present, d, r, n);
        }
        Ok(())
    }
}

/// The one pass's check of an uncompressed bundle before its first upload: its headers are
/// indexed ([`BundleIndex`]: every entry's name, type and place, the end of the archive; no
/// blob data read), every blob it holds must belong to the content graph and every blob the
/// manifests name must be there. Returns the layers to upload, with their offsets: each is
/// then read once, from there, into its upload, hashed on the way ([`upload_range`]).
async fn index_pass(
    meta: &Metadata,
    plan: &Plan,
    path: &Path,
    present: &Present,
    holder: &mut BTreeMap<Digest, String>,
) -> Result<Vec<Deferred>, LoadError> {
    let p = path.to_owned();
    let index = tokio::task::spawn_blocking(move || BundleIndex::open(&p))
        .await
        .map_err(|_| BundleError::WorkerGone { what: "bundle index" })??
        .ok_or_else(|| BundleError::BadLayout {
            name: path.display().to_string(),
            reason: "became compressed while it was read".into(),
        })?;
    let mut seen = BTreeSet::new();
    let mut deferred = Vec::new();
    for (digest, span) in index.blobs() {
        check_known(meta, digest)?;
        seen.insert(digest.clone());
        if meta.small.contains_key(digest) {
            continue; // read, checked and held in memory by the metadata phase
        }
        let Some(repos) = plan.blobs().get(digest) else { continue };
        let target = repos.iter().find(|r| !present.contains(&(digest.clone(), (*r).clone())));
        let Some(repo) = target.filter(|_| !holder.contains_key(digest)).cloned() else { continue };
        holder.insert(digest.clone(), repo.clone());
        deferred.push(Deferred { digest: digest.clone(), offset: span.offset, size: span.size, repository: repo });
    }
    check_complete(meta, &seen)?;
    Ok(deferred)
}

/// A streamed layer's upload, finished.
struct Committed {
    digest: Digest,
    repository: String,
    size: u64,
    result: Result<(), RegistryError>,
}

/// The streamed layers' uploads in flight (one sending, the others waiting for their
/// answer), and those finished, to be counted once the pass is over.
struct Committing {
    uploads: futures_util::stream::FuturesUnordered<futures_util::future::BoxFuture<'static, Committed>>,
    done: Vec<Committed>,
    reporter: std::sync::Arc<dyn Reporter>,
}

impl Committing {
    fn new(reporter: std::sync::Arc<dyn Reporter>) -> Committing {
        Committing { uploads: Default::default(), done: Vec::new(), reporter }
    }

    fn settle(&mut self, r: Committed) -> Result<(), LoadError> {
        match r.result {
            Ok(()) => {
                self.reporter.blob_finished(&r.digest);
                self.done.push(r);
                Ok(())
            }
            Err(source) => Err(LoadError::upload(r.digest, r.repository, source)),
        }
    }

    /// Runs `fut` while the uploads go on, settling each that finishes; the first failure
    /// ends the wait with its error.
    async fn beside<F: std::future::Future>(&mut self, fut: F) -> Result<F::Output, LoadError> {
        let mut fut = std::pin::pin!(fut);
        loop {
            tokio::select! {
                biased;
                Some(r) = self.uploads.next(), if !self.uploads.is_empty() => self.settle(r)?,
                out = &mut fut => return Ok(out),
            }
        }
    }

    /// Waits until at most `n` uploads are in flight.
    async fn at_most(&mut self, n: usize) -> Result<(), LoadError> {
        while self.uploads.len() > n {
            if let Some(r) = self.uploads.next().await {
                self.settle(r)?;
            }
        }
        Ok(())
    }
}

/// A layer of an uncompressed bundle to upload, from its offset in the file.
struct Deferred {
    digest: Digest,
    offset: u64,
    size: u64,
    repository: String,
}

/// Uploads one layer of an uncompressed bundle from its place in the file, verifying its
/// digest and size again on the way (the file is read twice: by the reader and here).
#[allow(clippy::too_many_arguments)]
async fn upload_range(
    registry: Registry,
    reporter: std::sync::Arc<dyn Reporter>,
    slot: Slot,
    path: std::path::PathBuf,
    offset: u64,
    repo: String,
    digest: Digest,
    size: u64,
) -> Result<(Digest, String, u64), LoadError> {
    let open =
        || -> Result<crate::bundle::VerifyingReader<std::io::Take<crate::bundle::volumes::BundleFile>>, BundleError> {
            use std::io::{Read as _, Seek as _};
            // A volume set is re-read across its parts.
            let mut f = crate::bundle::volumes::BundleFile::open(&path)?;
            f.seek(std::io::SeekFrom::Start(offset)).map_err(|e| BundleError::Io { path: path.clone(), source: e })?;
            Ok(crate::bundle::VerifyingReader::new(f.take(size), digest.clone(), size))
        };
    // Seekable: a transient registry fault (5xx, reset, 429) restarts this layer's upload
    // from its offset, up to --retries, in a fresh upload session.
    open()?;
    let reopen = || slot.until_sent(reopened(open(), reporter.clone()), size);
    match registry.put_blob_reopening(&repo, &digest, size, reopen).await {
        Ok(()) => Ok((digest, repo, size)),
        Err(source) => {
            // The bundle's fault (a corrupt layer) rather than the registry's? Check the bytes.
            check_bytes(open()?).await?;
            Err(LoadError::upload(digest, repo, source))
        }
    }
}

/// How many upload bodies are sent at once (`--jobs`). An upload takes a slot before it
/// opens its session and reads its first byte, and gives it back as soon as its body has
/// been sent, not when the registry answers: the registry's commit of that blob
/// (distribution fsyncs the whole file before it answers the PUT, about 0.15 s per 128 MiB
/// here) then overlaps the next layer's bytes instead of leaving the CPUs idle. At most as
/// many uploads again wait for their answer; they hold no read-ahead.
#[derive(Clone)]
struct SendSlots {
    semaphore: std::sync::Arc<tokio::sync::Semaphore>,
    jobs: usize,
}

/// One upload's slot, shared by its attempts; given back when a body ends.
#[derive(Clone)]
struct Slot(std::sync::Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>);

impl SendSlots {
    fn new(jobs: usize) -> SendSlots {
        let jobs = jobs.max(1);
        SendSlots { semaphore: std::sync::Arc::new(tokio::sync::Semaphore::new(jobs)), jobs }
    }

    /// Upload futures run at once: `jobs` sending, as many waiting for their answer.
    fn uploads(&self) -> usize {
        self.jobs * 2
    }

    async fn take(&self) -> Slot {
        // The semaphore is never closed.
        let permit = self.semaphore.clone().acquire_owned().await.ok();
        Slot(std::sync::Arc::new(std::sync::Mutex::new(permit)))
    }
}

impl Slot {
    /// `body` of `size` bytes as a [`Checked`] body that gives the slot back with its last
    /// byte. A retry after a fully sent body runs without a slot: rare, and bounded by
    /// `--retries`.
    fn until_sent<S>(&self, body: S, size: u64) -> futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>
    where
        S: futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let slot = self.clone();
        Checked::new(body, size, move || {
            if slot.0.lock().map(|mut p| p.take()).ok().flatten().is_some() {
                tracing::debug!("upload body sent; its slot goes to the next layer");
            }
        })
        .boxed()
    }
}

/// An upload body of `size` bytes from a verifying source (a [`crate::bundle::VerifyingReader`]
/// stream, a bundle reader's blob body) whose last chunk is handed over only after the
/// source's verdict: its clean end, or the digest or size error that then replaces the last
/// chunk, so a corrupt layer never completes an upload. `sent` runs once, when the body has
/// nothing more to give: the HTTP client stops reading at the Content-Length and never polls
/// a body's end, so this is the only sign that the registry now has the whole blob.
struct Checked<S> {
    inner: std::pin::Pin<Box<S>>,
    left: u64,
    held: Option<Bytes>,
    sent: Option<Box<dyn FnOnce() + Send>>,
}

impl<S> Checked<S> {
    fn new(inner: S, size: u64, sent: impl FnOnce() + Send + 'static) -> Checked<S> {
        Checked { inner: Box::pin(inner), left: size, held: None, sent: Some(Box::new(sent)) }
    }

    fn over(&mut self) {
        if let Some(sent) = self.sent.take() {
            sent();
        }
    }
}

impl<S: futures_util::Stream<Item = std::io::Result<Bytes>>> futures_util::Stream for Checked<S> {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = &mut *self;
        if this.sent.is_none() {
            return Poll::Ready(None);
        }
        loop {
            let item = match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(item) => item,
            };
            match (item, this.held.take()) {
                // The verdict after the last byte: a clean end lets the last chunk go.
                (None, Some(last)) => {
                    this.over();
                    return Poll::Ready(Some(Ok(last)));
                }
                // Bytes after the last one, or a chunk past the size.
                (Some(Ok(chunk)), held) if held.is_some() || chunk.len() as u64 > this.left => {
                    this.over();
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "the source gave more bytes than its size",
                    ))));
                }
                (Some(Ok(chunk)), None) => {
                    this.left -= chunk.len() as u64;
                    if this.left > 0 {
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    this.held = Some(chunk); // and wait for the verdict
                }
                // An error (a digest mismatch replaces the last chunk), or an end before the
                // size (the client then fails the request on its Content-Length).
                (other, _) => {
                    this.over();
                    return Poll::Ready(other);
                }
            }
        }
    }
}

/// Reads a verifying reader to its end after a failed upload: a digest or size mismatch is
/// the bundle's fault (exit 4), reported instead of the registry's error.
async fn check_bytes(mut reader: impl std::io::Read + Send + 'static) -> Result<(), LoadError> {
    let verdict = tokio::task::spawn_blocking(move || std::io::copy(&mut reader, &mut std::io::sink()))
        .await
        .map_err(|_| BundleError::WorkerGone { what: "upload check" })?;
    match verdict {
        Ok(_) => Ok(()),
        Err(e) => Err(body_error(e).into()),
    }
}

/// A fresh upload body for one attempt: the (re)opened reader as a stream, counted for
/// progress, or its open error as the stream's only item (which ends the retries).
fn reopened<R, E>(
    opened: Result<R, E>,
    reporter: std::sync::Arc<dyn Reporter>,
) -> futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>
where
    R: std::io::Read + Send + 'static,
    E: std::fmt::Display,
{
    use futures_util::StreamExt as _;
    match opened {
        Ok(r) => read_stream(r).inspect_ok(move |c: &Bytes| reporter.bytes(c.len() as u64)).boxed(),
        Err(e) => futures_util::stream::once(std::future::ready(Err(std::io::Error::other(e.to_string())))).boxed(),
    }
}

/// Bytes per chunk of an upload body read from a file: one read (and hash) per chunk on the
/// blocking thread. 1 MiB chunks were measured no faster (docs/performance.md, run 8) and
/// took a 4-layer load from about 25 to 46 MiB peak RSS (`--jobs` uploads, each with its chunks
/// in flight), which the 64 MiB budget (docs/bundle.md) cannot spare.
const UPLOAD_CHUNK: usize = 256 * 1024;
/// Chunks read ahead of the upload: the reader hashes the next ones while the registry
/// takes this one (reading, hashing and sending overlap): with the chunk being read and the
/// one being sent, about 1.5 MiB per upload.
const UPLOAD_AHEAD: usize = 4;

/// Streams a blocking reader (a verifying reader over a layer's bytes) as [`UPLOAD_CHUNK`]
/// chunks, read and hashed on a blocking thread, [`UPLOAD_AHEAD`] chunks ahead of the
/// upload; a read error (including a digest mismatch) is the last item.
fn read_stream(
    mut reader: impl std::io::Read + Send + 'static,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(UPLOAD_AHEAD);
    tokio::task::spawn_blocking(move || loop {
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(sizes: &[usize]) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        futures_util::stream::iter(sizes.iter().map(|&n| Ok(Bytes::from(vec![0u8; n]))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn a_slot_goes_back_with_the_last_byte_not_with_the_answer() {
        let slots = SendSlots::new(1);
        let slot = slots.take().await;
        assert_eq!(slots.semaphore.available_permits(), 0);
        let mut body = slot.until_sent(chunks(&[3, 4, 5]), 12);
        body.next().await.unwrap().unwrap();
        body.next().await.unwrap().unwrap();
        assert_eq!(slots.semaphore.available_permits(), 0, "held while bytes are left");
        body.next().await.unwrap().unwrap();
        // The client stops at Content-Length and never polls the body's end: the slot is
        // already free for the next layer while this upload waits for its answer.
        assert_eq!(slots.semaphore.available_permits(), 1);
        drop(body);
        assert_eq!(slots.semaphore.available_permits(), 1, "given back once, not twice");
    }

    #[tokio::test]
    async fn a_failed_body_gives_its_slot_back_and_a_dropped_one_with_its_upload() {
        let slots = SendSlots::new(1);
        let slot = slots.take().await;
        let failing = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"ab")), Err(std::io::Error::other("x"))]);
        let mut body = slot.until_sent(failing, 10);
        body.next().await.unwrap().unwrap();
        assert!(body.next().await.unwrap().is_err());
        assert_eq!(slots.semaphore.available_permits(), 1);

        let slot = slots.take().await;
        let mut body = slot.until_sent(chunks(&[2, 2]), 4);
        body.next().await.unwrap().unwrap();
        drop(body);
        assert_eq!(slots.semaphore.available_permits(), 0, "the upload still holds it");
        drop(slot);
        assert_eq!(slots.semaphore.available_permits(), 1);
    }

    #[tokio::test]
    async fn the_last_chunk_waits_for_the_sources_verdict() {
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = sent.clone();
        let verdict = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"de")),
            Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "digest mismatch")),
        ]);
        let mut body = Checked::new(verdict, 5, move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
        assert_eq!(body.next().await.unwrap().unwrap(), "abc");
        // The digest error replaces the last chunk: the registry never gets the whole blob.
        let last = body.next().await.unwrap();
        assert_eq!(last.unwrap_err().to_string(), "digest mismatch");
        assert!(sent.load(std::sync::atomic::Ordering::SeqCst));
        assert!(body.next().await.is_none());

        let mut long = Checked::new(chunks(&[3, 3]), 4, || {});
        assert!(long.next().await.unwrap().is_ok());
        assert!(long.next().await.unwrap().is_err(), "more bytes than the size");
        let mut extra = Checked::new(chunks(&[4, 1]), 4, || {});
        assert!(extra.next().await.unwrap().is_err(), "more bytes after the size");
        let mut empty = Checked::new(chunks(&[]), 0, || {});
        assert!(empty.next().await.is_none());
    }

    #[tokio::test]
    async fn as_many_uploads_again_may_wait_for_their_answer() {
        let slots = SendSlots::new(3);
        assert_eq!(slots.uploads(), 6);
        assert_eq!(SendSlots::new(0).uploads(), 2, "--jobs is at least 1");
    }
}
