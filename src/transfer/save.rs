//! `save`: walk the references, fetch the small metadata blobs, then write the bundle —
//! `oci-layout`, `index.json`, metadata blobs and manifests sorted by digest, then layers
//! sorted by digest, streamed from the registry straight into the tar (never whole in
//! memory) and hashed on the way. The file appears only when everything checked out.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};

use super::walk::{Fetched, PlatformFilter, Source, Throttled, WalkError, WalkedImage, Walker};
use crate::bundle::{names, AsyncBundleWriter, BundleError, Compression};
use crate::content::budget::{BudgetError, MetadataBudget};
use crate::content::Contents;
use crate::oci::{Descriptor, Digest, Reference};
use crate::progress::Reporter;
use crate::registry::{Registry, RegistryError, RegistryOptions};

/// A metadata blob (config, signature payload, attestation, SBOM) larger than this is
/// refused: they are held in memory while the bundle is written, and `load` refuses one
/// over it too ([`super::load::MAX_METADATA_BLOB`] is this number).
pub const MAX_METADATA_BLOB: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    #[error(transparent)]
    Walk(#[from] WalkError<RegistryError>),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    OverLoadLimit(#[from] OverLoadLimit),
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
}

/// A bundle `load` would refuse for the memory it holds ([`check_loadable`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OverLoadLimit {
    #[error("{what} is {size} bytes, over the {limit}-byte limit of what load holds in memory: load would refuse the bundle")]
    Blob { what: String, size: u64, limit: u64 },
    #[error("{error}: load would refuse the bundle{hint}")]
    Budget { error: BudgetError, hint: String },
}

impl Source for Registry {
    type Error = RegistryError;
    async fn manifest(&self, repo: &str, reference: &str) -> Result<Option<Fetched>, RegistryError> {
        Ok(self.get_manifest(repo, reference).await?.map(|m| Fetched {
            bytes: m.bytes,
            media_type: m.media_type,
            digest: m.digest,
        }))
    }
    async fn referrers(&self, repo: &str, digest: &Digest) -> Result<Vec<Descriptor>, RegistryError> {
        Registry::referrers(self, repo, digest).await
    }
}

/// One client per registry host, created on first use.
pub struct Registries {
    options: RegistryOptions,
    clients: HashMap<String, Registry>,
}

impl Registries {
    pub fn new(options: RegistryOptions) -> Self {
        Registries { options, clients: HashMap::new() }
    }

    pub fn get(&mut self, host: &str) -> Result<Registry, RegistryError> {
        if let Some(c) = self.clients.get(host) {
            return Ok(c.clone());
        }
        let c = Registry::new(host, &self.options)?;
        self.clients.insert(host.to_owned(), c.clone());
        Ok(c)
    }
}

pub struct SaveOptions {
    pub platforms: Vec<PlatformFilter>,
    pub compression: Compression,
    pub jobs: usize,
    /// Seal the bundle with a signed bundle index.
    pub seal: Option<crate::seal::SealSigner>,
    /// Cut the (compressed) bundle into parts of at most this many bytes, with a part list
    /// (signed with the seal's key when sealing); see [`crate::bundle::volumes`].
    pub volume_size: Option<u64>,
}

#[derive(Debug)]
pub struct SaveSummary {
    pub images: Vec<WalkedImage>,
    pub manifests: usize,
    pub blobs: usize,
    pub unique_bytes: u64,
    pub layer_bytes: u64,
}

/// Splits `host/repo/path` into the host and the repository path.
pub fn split_repository(full: &str) -> (&str, &str) {
    full.split_once('/').unwrap_or(("", full))
}

/// Walks `refs` into a content graph (no blob content fetched yet): up to `jobs` images at
/// once, each walking its platforms and attachments concurrently, with at most
/// [`REQUESTS_PER_JOB`]` * jobs` requests in flight. Each image is walked on its own and
/// the results are merged in the order of `refs`, so the graph (and so the bundle) is the
/// same whatever `jobs` is. Reports images walked out of found, and requests in flight.
pub async fn walk(
    registries: &mut Registries,
    refs: &[Reference],
    platforms: &[PlatformFilter],
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<(Contents, Vec<WalkedImage>), SaveError> {
    let jobs = jobs.max(1);
    let mut clients = Vec::new();
    for r in refs {
        clients.push(registries.get(&r.registry)?);
    }
    let permits = tokio::sync::Semaphore::new(jobs * REQUESTS_PER_JOB);
    let in_flight = std::sync::atomic::AtomicUsize::new(0);
    reporter.task_started("walk", refs.len() as u64);
    let (permits, in_flight) = (&permits, &in_flight);
    let walked: Vec<(Contents, WalkedImage)> = futures_util::stream::iter(refs.iter().zip(&clients))
        .map(|(r, registry)| async move {
            let source = Throttled { inner: registry, permits, in_flight, reporter };
            let mut walker = Walker::new(platforms);
            let image = walker.walk(&source, r).await?;
            reporter.advanced(1);
            Ok::<_, SaveError>((walker.contents, image))
        })
        .buffered(jobs)
        .try_collect()
        .await?;
    let (graphs, images): (Vec<Contents>, Vec<WalkedImage>) = walked.into_iter().unzip();
    Ok((Contents::merge_all(graphs), images))
}

/// Requests in flight per `--jobs` during the walk (an image's tags and referrers at once).
pub const REQUESTS_PER_JOB: usize = 4;

/// Fetches every metadata blob into memory, `jobs` at a time.
async fn fetch_metadata(
    registries: &mut Registries,
    contents: &Contents,
    jobs: usize,
) -> Result<BTreeMap<Digest, Bytes>, SaveError> {
    let mut work = Vec::new();
    for (digest, info) in contents.blobs.iter().filter(|(_, b)| b.metadata) {
        let (host, repo) = split_repository(&info.repository);
        work.push((registries.get(host)?, repo.to_owned(), digest.clone()));
    }
    let fetched: Vec<(Digest, Bytes)> = futures_util::stream::iter(work)
        .map(|(reg, repo, digest)| async move {
            let bytes = reg.get_blob_bytes(&repo, &digest, MAX_METADATA_BLOB).await?;
            Ok::<_, SaveError>((digest, bytes))
        })
        .buffer_unordered(jobs.max(1))
        .try_collect()
        .await?;
    Ok(fetched.into_iter().collect())
}

/// Refuses, before anything is fetched or written, a bundle that `load` would refuse for
/// the memory it holds, by load's own limits and budget, charged in the order load reads
/// them: `documents` (`index.json` and the seal files, exactly as they will be written:
/// each over its own cap of [`crate::bundle::names`], then charged as held and parsed JSON),
/// then manifests as JSON and metadata blobs: one metadata blob over
/// [`super::load::MAX_METADATA_BLOB`]; manifests and held metadata blobs charged against
/// [`MetadataBudget`] as load charges them, where a blob no reader reads (an SBOM, an
/// attachment's config) or a config over [`super::load::MAX_HELD_CONFIG`] is not held from
/// an uncompressed bundle (load re-reads it from its place in the file,
/// [`super::read::held_from_a_file`]) but is from a compressed one. Sizes are the descriptors'
/// (the fetch checks them), so the totals are the ones load reaches.
pub fn check_loadable(
    contents: &Contents,
    compression: Compression,
    documents: &[(&str, &[u8])],
) -> Result<(), OverLoadLimit> {
    use super::load::{MAX_HELD_CONFIG, MAX_METADATA_BLOB};
    let (mut held, mut held_if_plain) = (MetadataBudget::default(), MetadataBudget::default());
    let over = |error: BudgetError, plain_fits: bool| OverLoadLimit::Budget {
        error,
        hint: if plain_fits {
            format!(" (SBOMs, attachment configs and configs over {MAX_HELD_CONFIG} bytes stay in the file of an uncompressed .tar: save an uncompressed .tar)")
        } else {
            String::new()
        },
    };
    let mut first_error: Option<BudgetError> = None;
    for (name, bytes) in documents {
        let limit = match names::classify(name) {
            Ok(names::EntryName::Meta(f)) => Some(f.cap()),
            _ => None,
        };
        if let Some(limit) = limit.filter(|l| bytes.len() as u64 > *l) {
            return Err(OverLoadLimit::Blob { what: (*name).to_owned(), size: bytes.len() as u64, limit });
        }
        // Held whatever the compression: the same charge in both.
        held.hold_json(name, bytes).map_err(|e| over(e, false))?;
        held_if_plain.hold_json(name, bytes).map_err(|e| over(e, false))?;
    }
    for (digest, m) in &contents.manifests {
        let what = format!("manifest {digest}");
        if let Err(e) = held.hold_json(&what, &m.bytes) {
            first_error.get_or_insert(e);
        }
        if let Err(e) = held_if_plain.hold_json(&what, &m.bytes) {
            return Err(over(e, false));
        }
    }
    let read = super::read::read_blobs(contents);
    for (digest, info) in contents.blobs.iter().filter(|(_, b)| b.metadata) {
        let what = format!("metadata blob {digest}");
        if info.size > MAX_METADATA_BLOB {
            return Err(OverLoadLimit::Blob { what, size: info.size, limit: MAX_METADATA_BLOB });
        }
        let left_in_a_plain_tar = !super::read::held_from_a_file(contents, &read, digest, info.size);
        if compression != Compression::None || !left_in_a_plain_tar {
            if let Err(e) = held.hold(&what, info.size) {
                first_error.get_or_insert(e);
            }
        }
        if !left_in_a_plain_tar {
            if let Err(e) = held_if_plain.hold(&what, info.size) {
                return Err(over(e, false));
            }
        }
    }
    match first_error {
        Some(e) => Err(over(e, compression != Compression::None)),
        None => Ok(()),
    }
}

/// A layer stream that failed because of the source registry (a body too long, short,
/// stalled or of the wrong digest) is the registry's fault, not the bundle's.
fn source_error(e: BundleError) -> SaveError {
    if let BundleError::Source { source, .. } = &e {
        if let Some(r) = source.get_ref().and_then(|s| s.downcast_ref::<RegistryError>()) {
            return SaveError::Registry(r.clone());
        }
    }
    SaveError::Bundle(e)
}

/// Writes the bundle for an already walked content graph.
pub async fn write(
    registries: &mut Registries,
    contents: &Contents,
    output: &Path,
    options: &SaveOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<SaveSummary, SaveError> {
    let index_json = contents.index_json();
    let mut documents: Vec<(&str, &[u8])> = vec![(names::INDEX_JSON, &index_json)];
    // The seal index is judged before the key is used, its signature after.
    let seal = options
        .seal
        .as_ref()
        .map(|_| crate::seal::SealIndex::build(contents, &index_json, crate::seal::created_now()).to_bytes());
    documents.extend(seal.as_deref().map(|s| (names::SEAL_INDEX, s)));
    check_loadable(contents, options.compression, &documents)?;
    // Sign before writing anything: a key problem leaves no file behind.
    let sig = match (&options.seal, &seal) {
        (Some(signer), Some(seal)) => Some(crate::seal::sign(seal, signer)?),
        _ => None,
    };
    if let Some(sig) = &sig {
        documents.push((names::SEAL_SIG, sig));
        check_loadable(contents, options.compression, &documents)?;
    }
    let metadata = fetch_metadata(registries, contents, options.jobs).await?;
    tracing::info!(
        manifests = contents.manifests.len(),
        metadata_blobs = metadata.len(),
        "metadata fetched; writing the bundle"
    );
    let mut writer = match options.volume_size {
        Some(size) => AsyncBundleWriter::create_volumes(output, options.compression, size).await?,
        None => AsyncBundleWriter::create(output, options.compression).await?,
    };
    writer.add_file(names::OCI_LAYOUT, Bytes::from_static(names::OCI_LAYOUT_BYTES)).await?;
    writer.add_file(names::INDEX_JSON, Bytes::from(index_json)).await?;
    if let (Some(seal), Some(sig)) = (seal, sig) {
        writer.add_file(names::SEAL_INDEX, Bytes::from(seal)).await?;
        writer.add_file(names::SEAL_SIG, Bytes::from(sig)).await?;
    }

    // Metadata group: every manifest, sorted by digest, then the metadata blobs, sorted by
    // digest, those over load's MAX_SMALL_BLOB (large configs) last. With every manifest
    // read first, load knows which blobs no reader reads and leaves them in the file
    // (read::held_from_a_file); and it refuses a large blob before the manifest naming it.
    let (large, small): (BTreeMap<&Digest, &Bytes>, BTreeMap<&Digest, &Bytes>) =
        metadata.iter().partition(|(_, b)| b.len() as u64 > super::load::MAX_SMALL_BLOB);
    for (d, m) in &contents.manifests {
        writer.add_blob_bytes(d, m.bytes.clone()).await?;
    }
    for (digest, bytes) in small.iter().chain(&large) {
        if !contents.manifests.contains_key(*digest) {
            writer.add_blob_bytes(digest, (*bytes).clone()).await?;
        }
    }
    // Layer group, sorted by digest. A delta bundle's assumed layers are never fetched
    // (docs/bundle.md, "Delta bundles").
    let layers: Vec<(&Digest, &crate::content::BlobInfo)> = contents
        .blobs
        .iter()
        .filter(|(d, b)| {
            !b.metadata
                && !contents.manifests.contains_key(*d)
                && !small.contains_key(d)
                && !large.contains_key(d)
                && !contents.delta.assumes(d)
        })
        .collect();
    let layer_bytes = write_layers(registries, &mut writer, layers, options.jobs, reporter).await?;
    finish(writer, options).await?;
    Ok(SaveSummary {
        images: Vec::new(),
        manifests: contents.manifests.len(),
        blobs: contents.blobs.len(),
        unique_bytes: contents.unique_bytes(),
        layer_bytes,
    })
}

/// Layers at most this large are fetched ahead into memory, `--jobs` at a time, while the
/// ones before them are written: many small layers cost one round trip each, overlapped. A
/// larger layer streams from the registry into the tar at its turn (never whole in memory).
pub const PREFETCH_MAX: u64 = 1024 * 1024;

/// Writes the layers in the given order (so the bundle does not depend on `jobs`); small
/// ones are fetched ahead concurrently (see [`PREFETCH_MAX`]). Returns the bytes written.
async fn write_layers(
    registries: &mut Registries,
    writer: &mut AsyncBundleWriter,
    layers: Vec<(&Digest, &crate::content::BlobInfo)>,
    jobs: usize,
    reporter: Arc<dyn Reporter>,
) -> Result<u64, SaveError> {
    let mut work = Vec::new();
    for (digest, info) in layers {
        let (host, repo) = split_repository(&info.repository);
        work.push((registries.get(host)?, repo.to_owned(), digest.clone(), info.size, info.repository.clone()));
    }
    let ahead = futures_util::stream::iter(work)
        .map(|(registry, repo, digest, size, from)| {
            let fetch = (size <= PREFETCH_MAX).then(|| {
                let (registry, repo, digest) = (registry.clone(), repo.clone(), digest.clone());
                // Spawned, so that it runs while the layers before it are written.
                AbortOnDrop(tokio::spawn(async move {
                    let mut stream = registry.get_blob(&repo, &digest, size).await?;
                    let mut buf = bytes::BytesMut::with_capacity(size as usize);
                    while let Some(chunk) = stream.next().await {
                        buf.extend_from_slice(&chunk?);
                    }
                    Ok::<_, RegistryError>(buf.freeze())
                }))
            });
            async move {
                let fetched = match fetch {
                    Some(task) => {
                        let joined = task.await;
                        Some(joined.map_err(|_| BundleError::WorkerGone { what: "layer prefetch" })??)
                    }
                    None => None,
                };
                Ok::<_, SaveError>((registry, repo, digest, size, from, fetched))
            }
        })
        .buffered(jobs.max(1));
    futures_util::pin_mut!(ahead);
    let mut layer_bytes = 0;
    while let Some(item) = ahead.next().await {
        let (registry, repo, digest, size, from, fetched) = item?;
        reporter.blob_started(&digest, size);
        match fetched {
            Some(bytes) => {
                tracing::info!(%digest, size, %from, "writing a prefetched layer into the bundle");
                reporter.bytes(size);
                writer.add_blob_bytes(&digest, bytes).await?;
            }
            None => {
                tracing::info!(%digest, size, %from, "streaming layer into the bundle");
                let stream = registry.get_blob(&repo, &digest, size).await?;
                let rep = reporter.clone();
                let stream = stream.inspect_ok(move |chunk| rep.bytes(chunk.len() as u64));
                writer.add_blob_stream(&digest, size, stream).await.map_err(source_error)?;
            }
        }
        reporter.blob_finished(&digest);
        layer_bytes += size;
    }
    Ok(layer_bytes)
}

/// A spawned fetch that is cancelled when its result is no longer wanted (a save that
/// failed stops its prefetches).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

/// Ends the bundle: renames the file into place, or publishes a volume set's parts and then
/// its part list, signed with the seal's key when sealing (the seal's signing code and
/// signature document).
async fn finish(writer: AsyncBundleWriter, options: &SaveOptions) -> Result<(), SaveError> {
    if options.volume_size.is_none() {
        writer.finish().await?;
        return Ok(());
    }
    let pending = writer.finish_parts().await?;
    let signature = match &options.seal {
        Some(signer) => Some(crate::seal::sign(&pending.list_bytes(), signer)?),
        None => None,
    };
    tokio::task::spawn_blocking(move || pending.publish(signature))
        .await
        .map_err(|_| BundleError::WorkerGone { what: "writer" })??;
    Ok(())
}
