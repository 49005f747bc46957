//! `load`: read a bundle (one streaming pass over a tar, or an OCI layout directory),
//! check it, and push it to the target digest for digest.
//!
//! Phases:
//! 1. **Metadata**: `oci-layout`, `index.json`, the seal, and every manifest and small
//!    metadata blob, which a sealift bundle stores before the first layer. The content
//!    graph is closed here: a manifest that references a manifest the bundle lacks is
//!    refused before anything is pushed.
//! 2. **Gate**: the caller decides which entries may be pushed (signature and policy
//!    verification happen here, before any layer is read).
//! 3. **Blobs**: metadata blobs from memory, then layers streamed from the tar straight
//!    into the registry's upload (hashed on the way; a mismatch aborts the load). Blobs the
//!    target already has are skipped (HEAD first); a blob needed in several repositories
//!    is uploaded once and mounted into the others.
//! 4. **Manifests**: only when every blob is in place: children before parents, images
//!    before their tags, then signatures, attestations, SBOMs and referrers (maintaining
//!    the referrers tag-schema index where the target has no referrers API).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};

use super::model::{Contents, Entry, ModelError, Role};
use super::plan::{Destination, Plan, PlanError};
use crate::bundle::{AsyncBlob, AsyncBundleReader, AsyncEntry, BundleError};
use crate::layout::LayoutDir;
use crate::oci::manifest::MAX_MANIFEST_BYTES;
use crate::oci::{media, Descriptor, Digest, Manifest};
use crate::progress::Reporter;
use crate::registry::{Registry, RegistryError};

/// A blob not yet known as a layer but at most this big is held in memory during the
/// metadata phase (it may be a manifest or signature payload of a bundle in foreign order).
pub const MAX_SMALL_BLOB: u64 = 4 * 1024 * 1024;
/// Metadata blobs held in memory, all together.
pub const MAX_METADATA_TOTAL: u64 = 1024 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("bundle has no index.json before its first blob {digest} that index.json would describe")]
    NoIndex { digest: Digest },
    #[error("bundle has no oci-layout file")]
    NoLayoutFile,
    #[error("blob {digest} ({size} bytes) comes before the manifest that references it: not a sealift bundle order; extract it and load the directory")]
    OutOfOrder { digest: Digest, size: u64 },
    #[error("blob {digest} is not referenced by any manifest in index.json")]
    Unlisted { digest: Digest },
    #[error("blob {digest} is referenced by manifests but missing from the bundle")]
    MissingBlob { digest: Digest },
    #[error("metadata blobs total over {MAX_METADATA_TOTAL} bytes")]
    MetadataTotal,
    #[error("upload of blob {digest} to {repository} failed: {source}")]
    Upload {
        digest: Digest,
        repository: String,
        #[source]
        source: Box<RegistryError>,
    },
}

impl LoadError {
    fn upload(digest: Digest, repository: String, source: RegistryError) -> Self {
        LoadError::Upload { digest, repository, source: Box::new(source) }
    }

    /// True when the bundle itself is at fault (exit code 4), not the registry or disk.
    pub fn is_bad_bundle(&self) -> bool {
        match self {
            LoadError::Bundle(e) => is_bundle_fault(e),
            LoadError::Registry(_) | LoadError::Upload { .. } => false,
            _ => true,
        }
    }
}

/// True when a bundle error is the bundle's fault (corrupt, hostile, truncated) rather
/// than the machine's (disk I/O, a worker thread gone).
pub fn is_bundle_fault(e: &BundleError) -> bool {
    !matches!(e, BundleError::Io { .. } | BundleError::WorkerGone { .. } | BundleError::Abandoned { .. })
}

fn body_error(e: std::io::Error) -> BundleError {
    BundleError::from_io(e).unwrap_or_else(|e| BundleError::corrupt("a blob body", e))
}

/// Everything of a bundle but its layers.
#[derive(Debug, Default)]
pub struct Metadata {
    pub contents: Contents,
    /// Non-manifest metadata blobs (configs, signature payloads, attestations).
    pub small: BTreeMap<Digest, Bytes>,
    /// Seal files (`sealift-index.json`, `.sig`), if present.
    pub seal: BTreeMap<String, Vec<u8>>,
    /// The exact `index.json` bytes (the seal names their digest).
    pub index_json: Bytes,
}

impl Metadata {
    /// Small blobs of the bundle that no manifest references (never pushed).
    pub fn unlisted(&self) -> Vec<Digest> {
        self.small.keys().filter(|d| !self.contents.blobs.contains_key(*d)).cloned().collect()
    }
}

/// Manifest digests the metadata phase still waits for, with how they were described.
#[derive(Default)]
struct Closure {
    wanted: BTreeMap<Digest, (Option<String>, bool, String)>,
    manifest_blobs: BTreeMap<Digest, Bytes>,
}

impl Metadata {
    /// Adds what `entries` name, then everything reachable whose bytes are at hand.
    fn seed(&mut self, closure: &mut Closure, entries: Vec<Entry>) {
        for e in &entries {
            let d = &e.descriptor;
            closure
                .wanted
                .insert(d.digest.clone(), (Some(d.media_type.clone()), e.role.is_attachment(), e.repository.clone()));
        }
        self.contents.entries = entries;
    }

    /// Moves every wanted manifest whose bytes arrived into the graph, repeatedly.
    fn close(&mut self, closure: &mut Closure) -> Result<(), ModelError> {
        loop {
            let ready: Vec<Digest> = closure
                .wanted
                .keys()
                .filter(|d| closure.manifest_blobs.contains_key(*d) || self.small.contains_key(*d))
                .cloned()
                .collect();
            if ready.is_empty() {
                return Ok(());
            }
            for d in ready {
                let (described, artifact, repo) = closure.wanted.remove(&d).expect("listed above");
                let bytes = closure.manifest_blobs.remove(&d).or_else(|| self.small.remove(&d)).expect("listed above");
                if bytes.len() > MAX_MANIFEST_BYTES {
                    return Err(crate::oci::manifest::ManifestError::TooLarge {
                        digest: d.to_string(),
                        size: bytes.len(),
                    }
                    .into());
                }
                let m = self.contents.add_manifest(&repo, d.clone(), bytes, described.as_deref(), artifact)?;
                for child in m.parsed.manifests.clone() {
                    if !self.contents.manifests.contains_key(&child.digest) && media::is_manifest(&child.media_type) {
                        closure
                            .wanted
                            .insert(child.digest.clone(), (Some(child.media_type.clone()), artifact, repo.clone()));
                    }
                }
            }
        }
    }

    /// After the metadata phase: which wanted manifests never came. For an index saved
    /// with `--platform`, its absent children are expected.
    fn missing_manifests(&self, closure: &Closure) -> Result<(), ModelError> {
        for (parent, m) in &self.contents.manifests {
            for child in &m.parsed.manifests {
                if closure.wanted.contains_key(&child.digest) && !self.is_partial(parent) {
                    return Err(ModelError::MissingManifest { parent: parent.clone(), child: child.digest.clone() });
                }
            }
        }
        for e in &self.contents.entries {
            if closure.wanted.contains_key(&e.descriptor.digest) {
                return Err(ModelError::MissingManifest {
                    parent: Digest::of(b"index.json"),
                    child: e.descriptor.digest.clone(),
                });
            }
        }
        Ok(())
    }

    fn is_partial(&self, digest: &Digest) -> bool {
        self.contents.entries.iter().any(|e| {
            &e.descriptor.digest == digest && e.descriptor.annotations.contains_key(media::ANN_SEALIFT_PARTIAL)
        })
    }
}

async fn collect_body(blob: AsyncBlob) -> Result<Bytes, BundleError> {
    let mut buf = BytesMut::with_capacity(blob.size as usize);
    let mut body = blob.body;
    while let Some(chunk) = body.next().await {
        buf.extend_from_slice(&chunk.map_err(body_error)?);
    }
    Ok(buf.freeze())
}

/// The rest of a tar after the metadata phase.
pub struct TarRest {
    reader: AsyncBundleReader,
    pending: Option<AsyncBlob>,
    /// The bundle file: layers of an uncompressed bundle are re-read from it to upload
    /// several at once.
    path: std::path::PathBuf,
    /// zstd or gzip: layers cannot be re-read cheaply and stream into their uploads.
    compressed: bool,
}

/// Phase 1 for a tar: reads until the first layer.
pub async fn read_tar_metadata(path: &Path) -> Result<(Metadata, TarRest), LoadError> {
    let mut reader = AsyncBundleReader::open(path)?;
    let mut meta = Metadata::default();
    let mut closure = Closure::default();
    let mut layout = false;
    let mut index_seen = false;
    let mut total = 0u64;
    let mut pending = None;
    while let Some(entry) = reader.next().await? {
        match entry {
            AsyncEntry::OciLayout(_) => layout = true,
            AsyncEntry::Index(bytes) => {
                index_seen = true;
                let entries = Contents::parse_index(&bytes)?;
                meta.index_json = Bytes::from(bytes);
                meta.seed(&mut closure, entries);
                meta.close(&mut closure)?;
            }
            AsyncEntry::Seal { name, bytes } => {
                meta.seal.insert(name.to_owned(), bytes);
            }
            AsyncEntry::Blob(blob) => {
                let known = meta.contents.blobs.get(&blob.digest).map(|b| b.metadata);
                let wanted_manifest = closure.wanted.contains_key(&blob.digest);
                if known == Some(false) && !wanted_manifest {
                    pending = Some(blob);
                    break;
                }
                if known.is_none() && !wanted_manifest && blob.size > MAX_SMALL_BLOB {
                    if !index_seen {
                        return Err(LoadError::NoIndex { digest: blob.digest });
                    }
                    return Err(LoadError::OutOfOrder { digest: blob.digest, size: blob.size });
                }
                total += blob.size;
                if total > MAX_METADATA_TOTAL {
                    return Err(LoadError::MetadataTotal);
                }
                let digest = blob.digest.clone();
                let bytes = collect_body(blob).await?;
                if wanted_manifest {
                    closure.manifest_blobs.insert(digest, bytes);
                } else {
                    meta.small.insert(digest, bytes);
                }
                meta.close(&mut closure)?;
            }
        }
    }
    if !layout {
        return Err(LoadError::NoLayoutFile);
    }
    if !index_seen {
        return Err(LoadError::Bundle(BundleError::BadLayout { name: "index.json".into(), reason: "missing".into() }));
    }
    meta.missing_manifests(&closure)?;
    tracing::info!(
        entries = meta.contents.entries.len(),
        manifests = meta.contents.manifests.len(),
        metadata_blobs = meta.small.len(),
        "bundle metadata read (before the first layer)"
    );
    let compressed = is_compressed(path).map_err(|e| BundleError::Io { path: path.to_owned(), source: e })?;
    Ok((meta, TarRest { reader, pending, path: path.to_owned(), compressed }))
}

/// Phase 1 for a layout directory (sealift's, or one written by `cosign save`).
pub fn read_dir_metadata(dir: &LayoutDir) -> Result<Metadata, LoadError> {
    let mut meta = Metadata::default();
    let mut closure = Closure::default();
    let mut entries = Contents::parse_index(dir.index_bytes())?;
    meta.index_json = Bytes::copy_from_slice(dir.index_bytes());
    for name in [crate::seal::SEAL_INDEX, crate::seal::SEAL_SIG] {
        if let Some(bytes) = dir.read_seal(name)? {
            meta.seal.insert(name.to_owned(), bytes);
        }
    }
    cosign_layout_entries(dir, &mut entries)?;
    meta.seed(&mut closure, entries);
    loop {
        let wanted: Vec<Digest> = closure.wanted.keys().cloned().collect();
        let mut progress = false;
        for d in wanted {
            if dir.has_blob(&d) {
                closure.manifest_blobs.insert(d.clone(), Bytes::from(dir.read_blob(&d, MAX_MANIFEST_BYTES as u64)?));
                progress = true;
            }
        }
        meta.close(&mut closure)?;
        if !progress {
            break;
        }
    }
    meta.missing_manifests(&closure)?;
    let metadata_blobs: Vec<(Digest, u64)> =
        meta.contents.blobs.iter().filter(|(_, b)| b.metadata).map(|(d, b)| (d.clone(), b.size)).collect();
    let mut total = 0;
    for (d, size) in metadata_blobs {
        total += size;
        if total > MAX_METADATA_TOTAL {
            return Err(LoadError::MetadataTotal);
        }
        if dir.has_blob(&d) {
            meta.small.insert(d.clone(), Bytes::from(dir.read_blob(&d, size)?));
        }
    }
    if let Some(d) = meta.contents.blobs.keys().find(|d| !dir.has_blob(d)) {
        return Err(LoadError::MissingBlob { digest: d.clone() });
    }
    Ok(meta)
}

/// A `cosign save` layout names its image by `kind` only: give its signatures and
/// attestations their subject and cosign tag, and find the unlisted Sigstore bundle
/// referrers cosign v3 leaves in `blobs/`.
fn cosign_layout_entries(dir: &LayoutDir, entries: &mut Vec<Entry>) -> Result<(), LoadError> {
    let Some(image) = entries.iter().find(|e| e.role == Role::Image).map(|e| e.descriptor.digest.clone()) else {
        return Ok(());
    };
    if entries.iter().any(|e| e.descriptor.annotations.contains_key(media::ANN_SEALIFT_ROLE)) {
        return Ok(());
    }
    let listed: BTreeSet<Digest> = entries.iter().map(|e| e.descriptor.digest.clone()).collect();
    for e in entries.iter_mut() {
        if let (Some(suffix), None) = (e.role.cosign_suffix(), &e.subject) {
            e.subject = Some(image.clone());
            e.tag = Some(format!("{}.{suffix}", image.tag_prefix()));
        }
    }
    for digest in dir.list_blobs()? {
        if listed.contains(&digest) {
            continue;
        }
        // Only small blobs can be manifests; bigger ones are layers.
        let Ok(bytes) = dir.read_blob(&digest, MAX_MANIFEST_BYTES as u64) else { continue };
        let size = bytes.len() as u64;
        let Ok((m, mt)) = Manifest::parse(&bytes, None) else { continue };
        if m.subject.as_ref().map(|s| &s.digest) != Some(&image) {
            continue;
        }
        let mut d = Descriptor::new(mt, digest, size);
        d.artifact_type = m.artifact_type.clone().or_else(|| m.config.as_ref().map(|c| c.media_type.clone()));
        entries.push(Entry {
            descriptor: d,
            role: Role::Referrer,
            repository: String::new(),
            tag: None,
            subject: Some(image.clone()),
        });
    }
    Ok(())
}

/// Where layers come from in phase 3.
pub enum Layers<'a> {
    Tar(TarRest),
    Dir(&'a LayoutDir),
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LoadReport {
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
    pub present_blobs: usize,
    pub mounted_blobs: usize,
    pub pushed_manifests: usize,
    pub present_manifests: usize,
    pub tags: Vec<String>,
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
}

/// (blob, repository) pairs the target already has.
pub type Present = BTreeSet<(Digest, String)>;

impl Loader<'_> {
    /// HEAD-checks every blob of the plan at the target.
    pub async fn present_blobs(&self, plan: &Plan) -> Result<Present, LoadError> {
        let pairs: Vec<(Digest, String)> =
            plan.blobs.iter().flat_map(|(d, repos)| repos.iter().map(move |r| (d.clone(), r.clone()))).collect();
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
        layers: Layers<'_>,
    ) -> Result<LoadReport, LoadError> {
        let mut report = LoadReport { present_blobs: present.len(), ..Default::default() };
        // Where each blob already is (for mounting into the other repositories).
        let mut holder: BTreeMap<Digest, String> = present.iter().map(|(d, r)| (d.clone(), r.clone())).collect();

        // An uncompressed bundle or a directory is checked whole before anything is
        // uploaded: a corrupt or tampered one leaves the target untouched.
        let mut layers = Some(layers);
        let mut checked: Option<(std::path::PathBuf, Vec<Deferred>)> = None;
        match layers.take().expect("set above") {
            Layers::Tar(rest) if !rest.compressed => {
                let path = rest.path.clone();
                let deferred = self.tar_pass(meta, plan, rest, &mut present, &mut holder, &mut report).await?;
                checked = Some((path, deferred));
            }
            Layers::Dir(dir) => {
                check_dir(meta, dir).await?;
                layers = Some(Layers::Dir(dir));
            }
            other => layers = Some(other),
        }

        // Small blobs from memory.
        let small: Vec<(Digest, String, Bytes)> = plan
            .blobs
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
        match (layers, checked) {
            (_, Some((path, deferred))) => self.upload_deferred(&path, deferred, &mut present, &mut report).await?,
            (Some(Layers::Tar(rest)), None) => {
                let deferred = self.tar_pass(meta, plan, rest, &mut present, &mut holder, &mut report).await?;
                debug_assert!(deferred.is_empty(), "a compressed bundle has no file offsets");
            }
            (Some(Layers::Dir(dir)), None) => self.push_dir(plan, dir, &mut present, &mut holder, &mut report).await?,
            (None, None) => unreachable!("layers are set unless checked"),
        }
        for (d, repos) in &plan.blobs {
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

        // Manifests, in plan order, only now that every blob is in place.
        let referrers_api = match plan.manifests.iter().find(|m| m.referrer_of.is_some()) {
            Some(m) => self.registry.has_referrers_api(&m.repository).await?,
            None => false,
        };
        for p in &plan.manifests {
            let m = &meta.contents.manifests[&p.digest];
            let exists = self.registry.head_manifest(&p.repository, &p.digest.to_string()).await?.is_some();
            if exists {
                report.present_manifests += 1;
            } else {
                self.registry.put_manifest(&p.repository, &p.digest.to_string(), &m.bytes, &m.media_type).await?;
                report.pushed_manifests += 1;
            }
            if let Some(tag) = &p.tag {
                let current = self.registry.head_manifest(&p.repository, tag).await?;
                if current.as_ref().map(|c| &c.0) != Some(&p.digest) {
                    self.registry.put_manifest(&p.repository, tag, &m.bytes, &m.media_type).await?;
                    report.tags.push(format!("{}/{}:{tag}", self.registry.host(), p.repository));
                }
            }
            if let (Some(subject), false) = (&p.referrer_of, referrers_api) {
                let e = &meta.contents.entries[p.entry];
                let mut d = Descriptor::new(m.media_type.clone(), p.digest.clone(), m.bytes.len() as u64);
                d.artifact_type = e.descriptor.artifact_type.clone().or_else(|| m.parsed.artifact_type.clone());
                d.annotations = m.parsed.annotations.clone();
                self.registry.add_referrer_to_tag_index(&p.repository, subject, d).await?;
            }
        }
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
        let TarRest { mut reader, mut pending, .. } = rest;
        let mut seen = BTreeSet::new();
        let mut deferred = Vec::new();
        loop {
            let blob = match pending.take() {
                Some(b) => b,
                None => match reader.next().await? {
                    Some(AsyncEntry::Blob(b)) => b,
                    Some(_) => return Err(layout_after_blobs()),
                    None => break,
                },
            };
            seen.insert(blob.digest.clone());
            let Some(repos) = plan.blobs.get(&blob.digest) else {
                check_known(meta, &blob.digest)?;
                continue; // belongs to an entry not selected for this load; dropping skips it
            };
            let target = repos.iter().find(|r| {
                !present.contains(&(blob.digest.clone(), (*r).clone())) && !holder.contains_key(&blob.digest)
            });
            let Some(repo) = target.cloned() else { continue };
            let (digest, size) = (blob.digest.clone(), blob.size);
            holder.insert(digest.clone(), repo.clone());
            if let Some(offset) = blob.file_offset {
                // Dropping the body lets the reader go on, still hashing the bytes.
                deferred.push(Deferred { digest, offset, size, repository: repo });
                continue;
            }
            self.reporter.blob_started(&digest, size);
            tracing::info!(%digest, size, repository = %repo, "uploading layer while reading the bundle");
            let reporter = self.reporter.clone();
            let body = blob.body.inspect_ok(move |c| reporter.bytes(c.len() as u64));
            if let Err(source) = self.registry.put_blob_stream(&repo, &digest, size, body).await {
                // A body that failed its digest check makes the upload fail too: report
                // the bundle's fault, which the reader returns next.
                reader.next().await?;
                return Err(LoadError::upload(digest, repo, source));
            }
            self.reporter.blob_finished(&digest);
            report.uploaded(present, digest, repo, size);
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
        let uploads = futures_util::stream::iter(deferred)
            .map(|d| {
                self.reporter.blob_started(&d.digest, d.size);
                tracing::info!(digest = %d.digest, size = d.size, repository = %d.repository, "uploading layer");
                let (registry, reporter) = (self.registry.clone(), self.reporter.clone());
                upload_range(registry, reporter, path.to_owned(), d.offset, d.repository, d.digest, d.size)
            })
            .buffer_unordered(self.jobs.max(1));
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
            .blobs
            .iter()
            .filter(|(d, _)| !holder.contains_key(*d))
            .filter_map(|(d, repos)| {
                repos.iter().find(|r| !present.contains(&((*d).clone(), (*r).clone()))).map(|r| (d.clone(), r.clone()))
            })
            .collect();
        let done: Vec<(Digest, String, u64)> = futures_util::stream::iter(todo)
            .map(|(d, r)| async move {
                let (reader, size) = dir.open_blob(&d).map_err(|_| LoadError::MissingBlob { digest: d.clone() })?;
                let stream = read_stream(reader);
                self.reporter.blob_started(&d, size);
                let reporter = self.reporter.clone();
                let stream = stream.inspect_ok(move |c: &Bytes| reporter.bytes(c.len() as u64));
                self.registry
                    .put_blob_stream(&r, &d, size, stream)
                    .await
                    .map_err(|e| LoadError::upload(d.clone(), r.clone(), e))?;
                Ok::<_, LoadError>((d, r, size))
            })
            .buffer_unordered(self.jobs.max(1))
            .try_collect()
            .await?;
        for (d, r, n) in done {
            holder.insert(d.clone(), r.clone());
            report.uploaded(present, d, r, n);
        }
        Ok(())
    }
}

fn layout_after_blobs() -> LoadError {
    BundleError::BadLayout { name: "bundle".into(), reason: "layout file after the blobs".into() }.into()
}

/// Whether a bundle file is zstd- or gzip-compressed (by its magic bytes).
fn is_compressed(path: &Path) -> std::io::Result<bool> {
    use std::io::Read as _;
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(path)?.read(&mut magic)?;
    Ok(n >= 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] || n >= 2 && magic[..2] == [0x1f, 0x8b])
}

/// A layer of an uncompressed bundle to upload once the whole bundle checked out.
struct Deferred {
    digest: Digest,
    offset: u64,
    size: u64,
    repository: String,
}

/// A blob the plan does not push must still belong to the bundle's content graph.
fn check_known(meta: &Metadata, digest: &Digest) -> Result<(), LoadError> {
    if meta.contents.blobs.contains_key(digest)
        || meta.small.contains_key(digest)
        || meta.contents.manifests.contains_key(digest)
    {
        Ok(())
    } else {
        Err(LoadError::Unlisted { digest: digest.clone() })
    }
}

/// Every blob the bundle's manifests reference must be in the bundle, even one the target
/// already has: a bundle lacking one is corrupt.
fn check_complete(meta: &Metadata, seen: &BTreeSet<Digest>) -> Result<(), LoadError> {
    match meta.contents.blobs.keys().find(|d| !seen.contains(*d) && !meta.small.contains_key(*d)) {
        Some(d) => Err(LoadError::MissingBlob { digest: d.clone() }),
        None => Ok(()),
    }
}

/// Reads the rest of a tar after the metadata phase and checks every blob (name, size,
/// digest) and that the bundle holds exactly the blobs its manifests reference. For
/// `verify --bundle` and `audit` with bundle trust, and `load --dry-run`.
pub async fn check_rest(meta: &Metadata, rest: TarRest) -> Result<(), LoadError> {
    let TarRest { mut reader, pending, .. } = rest;
    let mut seen = BTreeSet::new();
    if let Some(b) = pending {
        check_known(meta, &b.digest)?;
        seen.insert(b.digest.clone());
    }
    loop {
        match reader.next().await? {
            Some(AsyncEntry::Blob(b)) => {
                check_known(meta, &b.digest)?;
                seen.insert(b.digest.clone());
            }
            Some(_) => return Err(layout_after_blobs()),
            None => break,
        }
    }
    check_complete(meta, &seen)
}

/// The same for a layout directory: every referenced blob is read and hashed.
pub async fn check_dir(meta: &Metadata, dir: &LayoutDir) -> Result<(), LoadError> {
    for digest in meta.contents.blobs.keys() {
        let (mut reader, _) = dir.open_blob(digest)?;
        tokio::task::block_in_place(|| std::io::copy(&mut reader, &mut std::io::sink())).map_err(body_error)?;
    }
    Ok(())
}

/// Reads a bundle file or layout directory, checks its seal against `trust`, and checks
/// every blob (the tar to its end, or every layout blob). A blob that fails turns a
/// verified seal into `Rejected` (the seal promised exactly these blobs); without a
/// verified seal it is a bad-bundle error. For `verify --bundle` and `audit`.
pub async fn read_sealed(
    source: &Path,
    trust: Option<&crate::seal::SealTrust>,
    now: i64,
) -> Result<(Metadata, crate::seal::SealVerdict), LoadError> {
    use crate::seal::{verify_bundle_seal, SealVerdict};
    let (meta, rest, dir) = if source.is_dir() {
        let dir = LayoutDir::open(source)?;
        (read_dir_metadata(&dir)?, None, Some(dir))
    } else {
        let (m, r) = read_tar_metadata(source).await?;
        (m, Some(r), None)
    };
    let verdict = verify_bundle_seal(&meta, trust, now);
    if matches!(verdict, SealVerdict::Rejected { .. }) {
        return Ok((meta, verdict));
    }
    // Every blob is read and checked: a report about a bundle must not pass one that load
    // would refuse.
    let checked = match (rest, &dir) {
        (Some(rest), _) => check_rest(&meta, rest).await,
        (None, Some(dir)) => check_dir(&meta, dir).await,
        (None, None) => Ok(()),
    };
    match (checked, verdict) {
        (Ok(()), verdict) => Ok((meta, verdict)),
        // A sealed bundle that differs from its seal: the seal's promise is broken.
        (Err(e), SealVerdict::Verified { .. }) if e.is_bad_bundle() => {
            Ok((meta, SealVerdict::Rejected { reason: e.to_string() }))
        }
        (Err(e), _) => Err(e),
    }
}

/// Uploads one layer of an uncompressed bundle from its place in the file, verifying its
/// digest and size again on the way (the file is read twice: by the reader and here).
async fn upload_range(
    registry: Registry,
    reporter: std::sync::Arc<dyn Reporter>,
    path: std::path::PathBuf,
    offset: u64,
    repo: String,
    digest: Digest,
    size: u64,
) -> Result<(Digest, String, u64), LoadError> {
    let open = || -> Result<crate::bundle::VerifyingReader<std::io::Take<std::fs::File>>, BundleError> {
        use std::io::{Read as _, Seek as _};
        let mut f = std::fs::File::open(&path).map_err(|e| BundleError::Io { path: path.clone(), source: e })?;
        f.seek(std::io::SeekFrom::Start(offset)).map_err(|e| BundleError::Io { path: path.clone(), source: e })?;
        Ok(crate::bundle::VerifyingReader::new(f.take(size), digest.clone(), size))
    };
    let stream = read_stream(open()?).inspect_ok(move |c: &Bytes| reporter.bytes(c.len() as u64));
    match registry.put_blob_stream(&repo, &digest, size, stream).await {
        Ok(()) => Ok((digest, repo, size)),
        Err(source) => {
            // The bundle's fault (a corrupt layer) rather than the registry's? Check the bytes.
            let mut check = open()?;
            let verdict = tokio::task::spawn_blocking(move || std::io::copy(&mut check, &mut std::io::sink()))
                .await
                .map_err(|_| BundleError::WorkerGone { what: "upload check" })?;
            if let Err(e) = verdict {
                return Err(body_error(e).into());
            }
            Err(LoadError::upload(digest, repo, source))
        }
    }
}

/// Streams a blocking reader (a verified layout blob) as 256 KiB chunks, read on a
/// blocking thread; a read error (including a digest mismatch) is the last item.
fn read_stream(
    mut reader: impl std::io::Read + Send + 'static,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || loop {
        let mut buf = vec![0u8; 256 * 1024];
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

/// Builds the plan for the entries `selected` and returns it with the destination.
pub fn plan(meta: &Metadata, dest: &Destination, selected: &BTreeSet<usize>) -> Result<Plan, LoadError> {
    Ok(Plan::build(&meta.contents, dest, selected)?)
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
