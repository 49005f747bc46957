//! `load`: read a bundle (one streaming pass over a tar, or an OCI layout directory),
//! check it, and push it to the target digest for digest. The phases live in
//! [`super::read`], [`super::admit`] and [`super::push`]; this file holds their error type.
//!
//! Phases:
//! 1. **Metadata**: `oci-layout`, `index.json`, the seal, and every manifest and small
//!    metadata blob, which a sealift bundle stores before the first layer. The content
//!    graph is closed here: a manifest that references a manifest the bundle lacks is
//!    refused before anything is pushed.
//! 2. **Admission** ([`super::admit`]): the seal, then every image under the policy, before
//!    any layer is read; the result is the only thing the plan and the pusher accept.
//! 3. **Blobs**: metadata blobs from memory, then layers, each read once straight into its
//!    upload and hashed on the way (a mismatch aborts the load): from its offset in an
//!    uncompressed tar (indexed by its headers first, [`crate::bundle::BundleIndex`]) or
//!    its file in a directory, `--jobs` at a time; from the reader, in order, for a
//!    compressed tar. `--check-first` ([`super::push::Pass`]) hashes every blob before the
//!    first upload. Blobs the target already has are skipped (HEAD first); a blob needed in
//!    several repositories is uploaded once and mounted into the others.
//! 4. **Manifests**: only when every blob is in place: children before parents, images
//!    before their tags, then signatures, attestations, SBOMs and referrers (maintaining
//!    the referrers tag-schema index where the target has no referrers API).

use super::plan::{Destination, Plan, PlanError};
use crate::bundle::BundleError;
use crate::content::{Metadata, ModelError};
use crate::oci::Digest;
use crate::registry::RegistryError;

/// A blob not yet known as a layer but at most this big is held in memory during the
/// metadata phase (it may be a manifest or signature payload of a bundle in foreign order).
pub const MAX_SMALL_BLOB: u64 = 4 * 1024 * 1024;
/// One metadata blob (config, signature payload, attestation) held in memory: the cap
/// `save` applies when it fetches one.
pub const MAX_METADATA_BLOB: u64 = super::save::MAX_METADATA_BLOB as u64;
/// A config blob over this size in a seekable bundle (a `.tar`, a directory) is not held:
/// it is hashed as the reader passes it and read again from its place when it is pushed.
/// Admission never reads an image's config; smaller ones are held for `audit`'s platforms.
pub const MAX_HELD_CONFIG: u64 = 1024 * 1024;

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
    #[error(transparent)]
    Entry(#[from] super::admit::EntryError),
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
    #[error("blob {digest} is in the bundle although its delta description says the site already has it")]
    AssumedAndPresent { digest: Digest },
    #[error(transparent)]
    BaseMissing(#[from] super::delta::BaseMissing),
    #[error("{what} {digest} is {size} bytes, over the {limit}-byte limit for metadata held in memory")]
    MetadataTooLarge { what: &'static str, digest: Digest, size: u64, limit: u64 },
    #[error("upload of blob {digest} to {repository} failed: {source}")]
    Upload {
        digest: Digest,
        repository: String,
        #[source]
        source: Box<RegistryError>,
    },
}

impl LoadError {
    pub(super) fn upload(digest: Digest, repository: String, source: RegistryError) -> Self {
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

pub(super) fn body_error(e: std::io::Error) -> BundleError {
    BundleError::from_io(e).unwrap_or_else(|e| BundleError::corrupt("a blob body", e))
}

/// Builds the plan for what admission let through.
pub fn plan(meta: &Metadata, dest: &Destination, admitted: &super::admit::Admitted) -> Result<Plan, LoadError> {
    Ok(Plan::build(&meta.contents, dest, admitted)?)
}

pub use super::push::{KeptTag, LoadReport, Loader, Pass, Present};
pub use super::read::{
    check_dir, check_rest, read_dir_metadata, read_sealed, read_tar_metadata, BundleSource, Layers, TarRest,
};
