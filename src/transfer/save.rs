//! `save`: walk the references, fetch the small metadata blobs, then write the bundle —
//! `oci-layout`, `index.json`, metadata blobs and manifests sorted by digest, then layers
//! sorted by digest, streamed from the registry straight into the tar (never whole in
//! memory) and hashed on the way. The file appears only when everything checked out.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};

use super::walk::{Fetched, PlatformFilter, Source, WalkError, WalkedImage, Walker};
use crate::bundle::{AsyncBundleWriter, BundleError, Compression};
use crate::content::Contents;
use crate::oci::{Descriptor, Digest, Reference};
use crate::progress::Reporter;
use crate::registry::{Registry, RegistryError, RegistryOptions};

/// The `oci-layout` file, as go-containerregistry writes it.
pub const OCI_LAYOUT: &[u8] = b"{\n    \"imageLayoutVersion\": \"1.0.0\"\n}";

/// A metadata blob (config, signature payload, attestation, SBOM) larger than this is
/// refused: they are held in memory while the bundle is written.
pub const MAX_METADATA_BLOB: usize = 64 * 1024 * 1024;
/// All metadata blobs together.
pub const MAX_METADATA_TOTAL: u64 = 1024 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    #[error(transparent)]
    Walk(#[from] WalkError<RegistryError>),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("metadata blob {digest} is {size} bytes, over the {MAX_METADATA_BLOB}-byte limit")]
    MetadataTooLarge { digest: Digest, size: u64 },
    #[error("metadata blobs total {total} bytes, over the {MAX_METADATA_TOTAL}-byte limit")]
    MetadataTotal { total: u64 },
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
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

/// Walks `refs` into a content graph (no blob content fetched yet).
pub async fn walk(
    registries: &mut Registries,
    refs: &[Reference],
    platforms: &[PlatformFilter],
) -> Result<(Contents, Vec<WalkedImage>), SaveError> {
    let mut walker = Walker::new(platforms);
    let mut images = Vec::new();
    for r in refs {
        let registry = registries.get(&r.registry)?;
        images.push(walker.walk(&registry, r).await?);
    }
    Ok((walker.contents, images))
}

/// Fetches every metadata blob into memory, `jobs` at a time.
async fn fetch_metadata(
    registries: &mut Registries,
    contents: &Contents,
    jobs: usize,
) -> Result<BTreeMap<Digest, Bytes>, SaveError> {
    let mut total = 0u64;
    let mut work = Vec::new();
    for (digest, info) in contents.blobs.iter().filter(|(_, b)| b.metadata) {
        if info.size > MAX_METADATA_BLOB as u64 {
            return Err(SaveError::MetadataTooLarge { digest: digest.clone(), size: info.size });
        }
        total += info.size;
        let (host, repo) = split_repository(&info.repository);
        work.push((registries.get(host)?, repo.to_owned(), digest.clone()));
    }
    if total > MAX_METADATA_TOTAL {
        return Err(SaveError::MetadataTotal { total });
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
    writer.add_file("oci-layout", Bytes::from_static(OCI_LAYOUT)).await?;
    let index_json = contents.index_json();
    if let Some(signer) = &options.seal {
        // Sign before writing anything else: a key problem leaves no file behind.
        let seal = crate::seal::SealIndex::build(contents, &index_json, crate::seal::created_now()).to_bytes();
        let sig = crate::seal::sign(&seal, signer)?;
        writer.add_file("index.json", Bytes::from(index_json)).await?;
        writer.add_file(crate::seal::SEAL_INDEX, Bytes::from(seal)).await?;
        writer.add_file(crate::seal::SEAL_SIG, Bytes::from(sig)).await?;
    } else {
        writer.add_file("index.json", Bytes::from(index_json)).await?;
    }

    // Metadata group: manifests and small blobs together, sorted by digest.
    let mut small: BTreeMap<&Digest, &Bytes> = metadata.iter().collect();
    for (d, m) in &contents.manifests {
        small.insert(d, &m.bytes);
    }
    for (digest, bytes) in &small {
        writer.add_blob_bytes(digest, (*bytes).clone()).await?;
    }
    // Layer group, sorted by digest, streamed.
    let mut layer_bytes = 0;
    for (digest, info) in contents.blobs.iter().filter(|(d, b)| !b.metadata && !small.contains_key(d)) {
        let (host, repo) = split_repository(&info.repository);
        let registry = registries.get(host)?;
        reporter.blob_started(digest, info.size);
        tracing::info!(%digest, size = info.size, from = %info.repository, "streaming layer into the bundle");
        let stream = registry.get_blob(repo, digest, info.size).await?;
        let rep = reporter.clone();
        let stream = stream.inspect_ok(move |chunk| rep.bytes(chunk.len() as u64));
        writer.add_blob_stream(digest, info.size, stream).await.map_err(source_error)?;
        reporter.blob_finished(digest);
        layer_bytes += info.size;
    }
    finish(writer, options).await?;
    Ok(SaveSummary {
        images: Vec::new(),
        manifests: contents.manifests.len(),
        blobs: contents.blobs.len(),
        unique_bytes: contents.unique_bytes(),
        layer_bytes,
    })
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
