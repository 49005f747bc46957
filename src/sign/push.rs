//! Registry side of signing: resolve a reference to the digest that gets signed, and
//! append a signature layer to the image's `sha256-<hex>.sig` manifest (blobs first, then
//! the manifest, as distribution demands).
//!
//! Read-modify-write of the `.sig` tag is not atomic at the registry: two signers racing
//! on the same image can lose one signature (cosign has the same window).

use bytes::Bytes;

use super::SignError;
use crate::cosign::{append_signature, sig_tag, NewSignatureLayer};
use crate::oci::{media, Digest, Manifest, Reference};
use crate::registry::Registry;

/// The digest to sign: the reference's own when pinned (no network), else what the tag
/// points at now (HEAD with the full Accept list, GET when the registry omits the digest).
pub async fn resolve_digest(registry: &Registry, reference: &Reference) -> Result<Digest, SignError> {
    if let Some(d) = &reference.digest {
        return Ok(d.clone());
    }
    match registry.head_manifest(&reference.repository, reference.tag_or_latest()).await? {
        Some((digest, _, _)) => Ok(digest),
        None => Err(SignError::ImageNotFound { reference: reference.to_string() }),
    }
}

/// Refuses to sign or attach to a digest the repository does not hold.
pub async fn ensure_image(registry: &Registry, reference: &Reference, digest: &Digest) -> Result<(), SignError> {
    match registry.head_manifest(&reference.repository, &digest.to_string()).await? {
        Some(_) => Ok(()),
        None => Err(SignError::ImageNotFound { reference: reference.with_digest(digest.clone()).to_string() }),
    }
}

/// What [`append_and_push`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedSignature {
    /// `host/repo:sha256-<hex>.sig`
    pub reference: String,
    pub manifest_digest: Digest,
    /// The `.sig` manifest it replaced, if any.
    pub previous: Option<Digest>,
    /// Signature layers in the new manifest (earlier ones included).
    pub layers: usize,
}

/// Appends `layer` to the `.sig` manifest of `image` in `repo` (creating it if absent) and
/// pushes payload, config and manifest. Earlier layers are kept exactly.
pub async fn append_and_push(
    registry: &Registry,
    repo: &str,
    image: &Digest,
    layer: &NewSignatureLayer,
) -> Result<PushedSignature, SignError> {
    let tag = sig_tag(image);
    let reference = format!("{}/{repo}:{tag}", registry.host());
    let existing = registry.get_manifest(repo, &tag).await?;
    let built = append_signature(existing.as_ref().map(|m| &m.bytes[..]), layer)
        .map_err(|source| SignError::ExistingSigManifest { reference: reference.clone(), source })?;
    for blob in [&built.payload, &built.config] {
        let digest = Digest::of(blob);
        if registry.blob_exists(repo, &digest).await?.is_none() {
            registry.put_blob_bytes(repo, &digest, Bytes::copy_from_slice(blob)).await?;
        }
    }
    let manifest_digest = registry.put_manifest(repo, &tag, &built.manifest, media::OCI_MANIFEST).await?;
    let layers = Manifest::parse(&built.manifest, None).map(|(m, _)| m.layers.len()).unwrap_or(0);
    Ok(PushedSignature { reference, manifest_digest, previous: existing.map(|m| m.digest), layers })
}
