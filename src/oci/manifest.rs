//! Lenient read-only views of manifests and indexes, and deterministic writing of the
//! documents sealift creates.
//!
//! A manifest whose digest matters is never re-serialized: these structs are for
//! *reading* the bytes we keep. Unknown fields are ignored on read (registries and tools
//! add their own), but the fields we rely on are typed and checked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::media;

/// Largest manifest or index accepted from a registry or a bundle.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "os.version")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An OCI descriptor. Field order matches go-containerregistry's output so that the
/// `index.json` we write reads like one written by cosign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub size: u64,
    pub digest: Digest,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.into(),
            size,
            digest,
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
        }
    }
}

/// Any manifest or index, read leniently.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub schema_version: Option<u32>,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default)]
    pub subject: Option<Descriptor>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest {digest} is {size} bytes, over the {MAX_MANIFEST_BYTES}-byte limit")]
    TooLarge { digest: String, size: usize },
    #[error("manifest {digest} is not valid JSON: {reason}")]
    Json { digest: String, reason: String },
    #[error("manifest {digest} has unsupported media type {media_type:?}")]
    UnknownMediaType { digest: String, media_type: String },
    #[error("manifest {digest} declares media type {inner:?} but was described as {outer:?}")]
    MediaTypeConflict { digest: String, inner: String, outer: String },
}

impl Manifest {
    /// Parses manifest bytes. `described_as` is the media type from the parent descriptor
    /// or the registry's Content-Type, used when the body has no `mediaType`.
    pub fn parse(bytes: &[u8], described_as: Option<&str>) -> Result<(Manifest, String), ManifestError> {
        let digest = Digest::of(bytes).to_string();
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge { digest, size: bytes.len() });
        }
        let mut m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| ManifestError::Json { digest: digest.clone(), reason: e.to_string() })?;
        // A parsed list grows to room for 4 descriptors (about 900 bytes) where most
        // manifests have one layer: held for every manifest of a bundle, that was some
        // 3 KiB per signed and attested image (heaptrack, 900 images).
        m.layers.shrink_to_fit();
        m.manifests.shrink_to_fit();
        let media_type = match (&m.media_type, described_as) {
            (Some(inner), Some(outer)) if inner != outer && media::is_manifest(outer) => {
                return Err(ManifestError::MediaTypeConflict { digest, inner: inner.clone(), outer: outer.to_owned() })
            }
            (Some(inner), _) => inner.clone(),
            (None, Some(outer)) => outer.to_owned(),
            // OCI allows an index or manifest without mediaType; tell them apart by shape.
            (None, None) if !m.manifests.is_empty() => media::OCI_INDEX.to_owned(),
            (None, None) => media::OCI_MANIFEST.to_owned(),
        };
        if !media::is_manifest(&media_type) {
            return Err(ManifestError::UnknownMediaType { digest, media_type });
        }
        Ok((m, media_type))
    }

    /// Every blob (config and layers) this manifest references; empty for an index.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config.iter().chain(self.layers.iter())
    }
}

/// Serializes a document sealift creates: compact and deterministic (structs keep their
/// field order, maps are BTreeMaps).
pub fn to_canonical_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("serializing plain data cannot fail")
}

/// An image index sealift writes (`index.json`, referrers tag-schema indexes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Index {
    pub fn new(manifests: Vec<Descriptor>) -> Self {
        Index { schema_version: 2, media_type: media::OCI_INDEX.to_owned(), manifests, annotations: BTreeMap::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_detects_media_type() {
        let (m, mt) = Manifest::parse(br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}"#, None).unwrap();
        assert_eq!(mt, media::OCI_INDEX);
        assert_eq!(m.manifests.len(), 1);
        let err = Manifest::parse(
            br#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, ManifestError::UnknownMediaType { .. }));
        assert!(matches!(Manifest::parse(b"{", None), Err(ManifestError::Json { .. })));
    }
}
