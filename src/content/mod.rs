//! The content model of a bundle, below everything that moves or judges it (transfer,
//! seal, assess, audit): the `index.json` entries (images, platform manifests,
//! signatures, attestations, SBOMs, referrers), the exact bytes of every manifest, the
//! small metadata blobs, and the layer list.
//!
//! `save` fills it from a registry, `load` fills it from a tar or a layout directory,
//! `inspect` and the verifier read it. Manifests are kept as received and never
//! re-serialized; only `index.json` is written by sealift, deterministically. What an
//! entry's annotations may claim is checked in [`crate::transfer::admit`].

pub mod budget;
pub mod delta;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

pub use budget::{BudgetError, MetadataBudget};
pub use delta::Delta;

use crate::oci::media::{self, *};
use crate::oci::{Descriptor, Digest, Index, Manifest};

/// What an `index.json` entry is, from `dev.sealift.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// An image or image index named by the user, tagged at the target.
    Image,
    /// A platform manifest of an index carried without its siblings (`--platform`):
    /// pushed by digest on its own.
    Platform,
    /// A legacy cosign signature manifest (`sha256-<hex>.sig`).
    Signature,
    /// A legacy cosign attestation manifest (`sha256-<hex>.att`).
    Attestation,
    /// A legacy cosign SBOM manifest (`sha256-<hex>.sbom`).
    Sbom,
    /// An OCI 1.1 referrer (manifest with `subject`), pushed by digest.
    Referrer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Image => "image",
            Role::Platform => "platform",
            Role::Signature => "signature",
            Role::Attestation => "attestation",
            Role::Sbom => "sbom",
            Role::Referrer => "referrer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "image" => Role::Image,
            "platform" => Role::Platform,
            "signature" => Role::Signature,
            "attestation" => Role::Attestation,
            "sbom" => Role::Sbom,
            "referrer" => Role::Referrer,
            _ => return None,
        })
    }

    /// The legacy cosign tag suffix for attachment roles.
    pub fn cosign_suffix(self) -> Option<&'static str> {
        match self {
            Role::Signature => Some("sig"),
            Role::Attestation => Some("att"),
            Role::Sbom => Some("sbom"),
            _ => None,
        }
    }

    /// Push order at the target: images before what is attached to them.
    pub fn is_attachment(self) -> bool {
        !matches!(self, Role::Image | Role::Platform)
    }
}

/// One `index.json` entry, as sealift understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub descriptor: Descriptor,
    pub role: Role,
    /// Source repository including host: `host:port/team/app`.
    pub repository: String,
    /// Tag to set at the target (images: their tag; legacy attachments: `sha256-<hex>.sig`).
    pub tag: Option<String>,
    /// The manifest digest this attachment belongs to.
    pub subject: Option<Digest>,
}

impl Entry {
    /// The reference the entry was saved under: `repo:tag`, else `repo@digest`.
    pub fn reference(&self) -> String {
        match &self.tag {
            Some(t) => format!("{}:{t}", self.repository),
            None => format!("{}@{}", self.repository, self.descriptor.digest),
        }
    }

    /// The descriptor written into `index.json`, with sealift's and cosign's annotations.
    pub fn to_descriptor(&self, cosign_kind: Option<&str>) -> Descriptor {
        let mut d = self.descriptor.clone();
        d.annotations.insert(ANN_SEALIFT_ROLE.into(), self.role.as_str().into());
        d.annotations.insert(ANN_SEALIFT_REPOSITORY.into(), self.repository.clone());
        if let Some(t) = &self.tag {
            d.annotations.insert(ANN_SEALIFT_TAG.into(), t.clone());
        }
        if let Some(s) = &self.subject {
            d.annotations.insert(ANN_SEALIFT_SUBJECT.into(), s.to_string());
        }
        if self.role == Role::Image {
            d.annotations.insert(ANN_REF_NAME.into(), self.reference());
        }
        if let Some(k) = cosign_kind {
            d.annotations.insert(ANN_COSIGN_KIND.into(), k.into());
        }
        d
    }

    /// Reads an `index.json` entry written by sealift, or a plain/cosign layout entry.
    pub fn from_descriptor(d: Descriptor) -> Result<Entry, ModelError> {
        let ann = |k: &str| d.annotations.get(k).cloned();
        let role = match ann(ANN_SEALIFT_ROLE) {
            Some(r) => Role::parse(&r).ok_or_else(|| ModelError::UnknownRole { digest: d.digest.clone(), role: r })?,
            None => match ann(ANN_COSIGN_KIND).as_deref() {
                Some(KIND_SIGS) => Role::Signature,
                Some(KIND_ATTS) => Role::Attestation,
                _ => Role::Image,
            },
        };
        let (repository, tag) = match (ann(ANN_SEALIFT_REPOSITORY), ann(ANN_REF_NAME)) {
            (Some(repo), _) => (repo, ann(ANN_SEALIFT_TAG)),
            (None, Some(name)) => split_ref_name(&name),
            (None, None) => (String::new(), None),
        };
        // Names from a bundle are untrusted: they become registry paths and terminal text,
        // so anything that is not a valid repository or tag is refused here.
        if let Some(t) = &tag {
            if !crate::oci::reference::is_valid_tag(t) {
                return Err(ModelError::BadAnnotation { digest: d.digest.clone(), key: ANN_SEALIFT_TAG });
            }
        }
        if !repository.is_empty() {
            let ok = repository
                .parse::<crate::oci::Reference>()
                .is_ok_and(|r| r.tag.is_none() && r.digest.is_none() && r.repository_name() == repository);
            if !ok {
                return Err(ModelError::BadAnnotation { digest: d.digest.clone(), key: ANN_SEALIFT_REPOSITORY });
            }
        }
        let subject = match ann(ANN_SEALIFT_SUBJECT) {
            Some(s) => Some(
                s.parse()
                    .map_err(|_| ModelError::BadAnnotation { digest: d.digest.clone(), key: ANN_SEALIFT_SUBJECT })?,
            ),
            None => None,
        };
        let mut descriptor = d;
        descriptor.annotations.retain(|k, _| {
            k == ANN_SEALIFT_PARTIAL || !(k.starts_with("dev.sealift.") || k == ANN_COSIGN_KIND || k == ANN_REF_NAME)
        });
        Ok(Entry { descriptor, role, repository, tag, subject })
    }
}

/// Splits `host/repo:tag` (or a bare tag, as in plain OCI layouts) into repository and tag.
fn split_ref_name(name: &str) -> (String, Option<String>) {
    if let Ok(r) = name.parse::<crate::oci::Reference>() {
        if name.contains('/') {
            return (r.repository_name(), r.tag);
        }
    }
    (String::new(), Some(name.to_owned()))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("index.json entry {digest} has unknown role {role:?}")]
    UnknownRole { digest: Digest, role: String },
    #[error("index.json entry {digest} has a malformed {key} annotation")]
    BadAnnotation { digest: Digest, key: &'static str },
    #[error("index.json is not a valid OCI index: {reason}")]
    BadIndex { reason: String },
    #[error(transparent)]
    Manifest(#[from] crate::oci::manifest::ManifestError),
    #[error("manifest {parent} references {child}, which the bundle does not contain")]
    MissingManifest { parent: Digest, child: Digest },
    #[error("index.json has a malformed delta description: {reason}")]
    BadDelta { reason: String },
    #[error(transparent)]
    Budget(#[from] BudgetError),
}

/// A manifest kept byte for byte, with its media type.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub bytes: Bytes,
    pub media_type: String,
    pub parsed: Manifest,
}

/// The whole content graph of a bundle.
#[derive(Debug, Default, Clone)]
pub struct Contents {
    pub entries: Vec<Entry>,
    pub manifests: BTreeMap<Digest, StoredManifest>,
    /// Blob sizes and whether each is metadata (config, signature payload, attestation)
    /// or an image layer.
    pub blobs: BTreeMap<Digest, BlobInfo>,
    /// Blobs the bundle leaves out because the site has them (a delta bundle); empty for
    /// a full bundle. Each is also in `blobs`, since manifests reference it.
    pub delta: Delta,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub size: u64,
    pub metadata: bool,
    /// A repository (`host/repo`) known to hold the blob: where save fetches it from.
    pub repository: String,
}

impl Contents {
    /// Adds a manifest (already digest-checked) and registers its blobs; `repository`
    /// (`host/repo`) is where those blobs can be fetched from.
    pub fn add_manifest(
        &mut self,
        repository: &str,
        digest: Digest,
        bytes: Bytes,
        described_as: Option<&str>,
        artifact: bool,
    ) -> Result<&StoredManifest, ModelError> {
        let (parsed, media_type) = Manifest::parse(&bytes, described_as)?;
        if let Some(c) = &parsed.config {
            self.add_blob(repository, c, true);
        }
        for l in &parsed.layers {
            self.add_blob(repository, l, artifact);
        }
        Ok(self.manifests.entry(digest).or_insert(StoredManifest { bytes, media_type, parsed }))
    }

    /// Graphs walked on their own, as one: what a walk of each in turn would have collected
    /// (entries in order, each once; a manifest or blob keeps the repository it was first
    /// seen in; a blob is metadata if any graph says so).
    pub fn merge_all(parts: impl IntoIterator<Item = Contents>) -> Contents {
        let mut out = Contents::default();
        let mut seen = BTreeSet::new();
        for part in parts {
            for e in part.entries {
                let key = (e.descriptor.digest.clone(), e.role, e.repository.clone(), e.tag.clone());
                if seen.insert(key) {
                    out.entries.push(e);
                }
            }
            for (d, m) in part.manifests {
                out.manifests.entry(d).or_insert(m);
            }
            for (d, b) in part.blobs {
                let metadata = b.metadata;
                out.blobs.entry(d).or_insert(b).metadata |= metadata;
            }
        }
        out
    }

    fn add_blob(&mut self, repository: &str, d: &Descriptor, metadata: bool) {
        let e = self.blobs.entry(d.digest.clone()).or_insert_with(|| BlobInfo {
            size: d.size,
            metadata,
            repository: repository.to_owned(),
        });
        e.metadata |= metadata;
    }

    /// The `index.json` document: entries in walk order, cosign `kind` on the first image
    /// and its own signatures/attestations so `cosign load --dir` understands a one-image bundle.
    pub fn index_json(&self) -> Vec<u8> {
        let first_image = self.entries.iter().find(|e| e.role == Role::Image).map(|e| e.descriptor.digest.clone());
        let mut kinds_given = BTreeSet::new();
        let manifests = self
            .entries
            .iter()
            .map(|e| {
                let kind = match e.role {
                    Role::Image if Some(&e.descriptor.digest) == first_image.as_ref() => {
                        Some(if media::is_index(&e.descriptor.media_type) { KIND_IMAGE_INDEX } else { KIND_IMAGE })
                    }
                    Role::Signature | Role::Attestation if e.subject == first_image => {
                        Some(if e.role == Role::Signature { KIND_SIGS } else { KIND_ATTS })
                    }
                    _ => None,
                };
                let kind = kind.filter(|k| kinds_given.insert(*k));
                e.to_descriptor(kind)
            })
            .collect();
        let mut index = Index::new(manifests);
        if !self.delta.is_empty() {
            index.annotations.insert(delta::ANN_DELTA.into(), self.delta.to_annotation());
        }
        let mut out = serde_json::to_vec_pretty(&index).expect("plain data");
        out.push(b'\n');
        out
    }

    /// Parses `index.json` into entries.
    pub fn parse_index(bytes: &[u8]) -> Result<Vec<Entry>, ModelError> {
        Ok(Self::parse_index_and_delta(bytes)?.0)
    }

    /// Parses `index.json` once into its entries and its delta description (empty for a
    /// full bundle; untrusted until [`Delta::check_against`] the closed graph). Each
    /// descriptor moves into its entry: the parsed index is never held twice.
    pub fn parse_index_and_delta(bytes: &[u8]) -> Result<(Vec<Entry>, Delta), ModelError> {
        let (m, mt) = Manifest::parse(bytes, None).map_err(|e| ModelError::BadIndex { reason: e.to_string() })?;
        if !media::is_index(&mt) {
            return Err(ModelError::BadIndex { reason: format!("media type {mt}") });
        }
        let delta = Delta::parse(&m.annotations)?;
        let entries = m.manifests.into_iter().map(Entry::from_descriptor).collect::<Result<_, _>>()?;
        Ok((entries, delta))
    }

    /// Sum of all blob and manifest sizes the bundle stores, counting each once (a delta's
    /// assumed blobs are not stored).
    pub fn unique_bytes(&self) -> u64 {
        self.blobs.iter().filter(|(d, _)| !self.delta.assumes(d)).map(|(_, b)| b.size).sum::<u64>()
            + self.manifests.values().map(|m| m.bytes.len() as u64).sum::<u64>()
    }

    /// Every manifest digest reachable from `root` (itself included), children before
    /// parents: the order they must be pushed in.
    pub fn manifests_under(&self, root: &Digest) -> Result<Vec<Digest>, ModelError> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        self.post_order(root, &mut seen, &mut out, 0)?;
        Ok(out)
    }

    fn post_order(
        &self,
        d: &Digest,
        seen: &mut BTreeSet<Digest>,
        out: &mut Vec<Digest>,
        depth: usize,
    ) -> Result<(), ModelError> {
        if !seen.insert(d.clone()) || depth > 8 {
            return Ok(());
        }
        if let Some(m) = self.manifests.get(d) {
            for child in &m.parsed.manifests {
                if self.manifests.contains_key(&child.digest) {
                    self.post_order(&child.digest, seen, out, depth + 1)?;
                }
            }
        }
        out.push(d.clone());
        Ok(())
    }

    /// Every blob (config and layer) referenced by the manifests under `root`.
    pub fn blobs_under(&self, root: &Digest) -> Result<BTreeSet<Digest>, ModelError> {
        let mut out = BTreeSet::new();
        for m in self.manifests_under(root)? {
            for b in self.manifests[&m].parsed.blobs() {
                out.insert(b.digest.clone());
            }
        }
        Ok(out)
    }
}

/// Everything of a bundle but its layers, as read by `load`, `inspect`, `verify --bundle`
/// and `audit`.
#[derive(Debug, Default)]
pub struct Metadata {
    pub contents: Contents,
    /// Non-manifest metadata blobs (configs, signature payloads, attestations).
    pub small: BTreeMap<Digest, Bytes>,
    /// Seal files (`sealift-index.json`, `.sig`), if present.
    pub seal: BTreeMap<String, Vec<u8>>,
    /// The exact `index.json` bytes (the seal names their digest).
    pub index_json: Bytes,
    /// What the above holds and parsed, counted before each was taken.
    pub budget: MetadataBudget,
}

impl Metadata {
    /// Small blobs of the bundle that no manifest references (never pushed).
    pub fn unlisted(&self) -> Vec<Digest> {
        self.small.keys().filter(|d| !self.contents.blobs.contains_key(*d)).cloned().collect()
    }
}
