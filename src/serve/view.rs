//! What `serve` serves: the admitted part of one or more bundles, under the repository
//! names `load --to HOST/PREFIX` would give them. Built only from a [`Plan`], which is
//! built only from an [`Admitted`]: an image that admission refused has no repository, tag,
//! manifest or blob here, so every request for it answers 404.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use bytes::Bytes;

use crate::content::Metadata;
use crate::oci::manifest::to_canonical_json;
use crate::oci::{media, Descriptor, Digest, Index};
use crate::transfer::admit::Admitted;
use crate::transfer::plan::{Destination, Plan, PlanError};

/// Where the bytes of a blob lie.
#[derive(Debug, Clone)]
pub enum BlobSource {
    /// A metadata blob (config, signature payload, attestation): read and hashed with the
    /// bundle's metadata, held in memory.
    Memory(Bytes),
    /// `size` bytes at `offset` of `path` (a layout's blob file at 0, or a tar's member),
    /// not yet hashed: [`super::blobs::Blobs`] hashes it before its first byte is served.
    File { path: PathBuf, offset: u64, size: u64 },
}

/// A manifest, byte for byte as the bundle holds it.
#[derive(Debug, Clone)]
pub struct ServedManifest {
    pub bytes: Bytes,
    pub media_type: String,
}

/// One repository.
#[derive(Debug, Default)]
pub struct Repo {
    pub tags: BTreeMap<String, Digest>,
    pub manifests: BTreeSet<Digest>,
    pub blobs: BTreeSet<Digest>,
    /// Referrers of each subject, sorted by digest.
    pub referrers: BTreeMap<Digest, Vec<Descriptor>>,
}

/// The whole registry: repositories, manifests and blob locations.
#[derive(Debug, Default)]
pub struct View {
    pub repos: BTreeMap<String, Repo>,
    pub manifests: HashMap<Digest, ServedManifest>,
    pub blobs: HashMap<Digest, BlobSource>,
    /// Tags a later bundle moved to another manifest (`repo:tag`), for a warning.
    pub moved_tags: Vec<String>,
}

/// Why a blob of the plan has no location.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("blob {digest} is referenced by an admitted manifest but not found in the bundle")]
    MissingBlob { digest: Digest },
}

impl View {
    /// Adds what `admitted` lets through of `meta`, named under `dest.prefix`; `locate` says
    /// where each layer lies. A later bundle's tag wins over an earlier one's (a delta
    /// after its base).
    pub fn add(
        &mut self,
        meta: &Metadata,
        admitted: &Admitted,
        dest: &Destination,
        mut locate: impl FnMut(&Digest) -> Option<BlobSource>,
    ) -> Result<(), ViewError> {
        let plan = Plan::build(&meta.contents, dest, admitted)?;
        for (digest, repos) in plan.blobs() {
            if !self.blobs.contains_key(digest) {
                let source = match meta.small.get(digest) {
                    Some(bytes) => BlobSource::Memory(bytes.clone()),
                    None => locate(digest).ok_or_else(|| ViewError::MissingBlob { digest: digest.clone() })?,
                };
                self.blobs.insert(digest.clone(), source);
            }
            for r in repos {
                self.repos.entry(r.clone()).or_default().blobs.insert(digest.clone());
            }
        }
        for p in plan.manifests() {
            let m = &meta.contents.manifests[&p.digest];
            self.manifests
                .entry(p.digest.clone())
                .or_insert_with(|| ServedManifest { bytes: m.bytes.clone(), media_type: m.media_type.clone() });
            let repo = self.repos.entry(p.repository.clone()).or_default();
            repo.manifests.insert(p.digest.clone());
            if let Some(tag) = &p.tag {
                if let Some(old) = repo.tags.insert(tag.clone(), p.digest.clone()) {
                    if old != p.digest {
                        self.moved_tags.push(format!("{}:{tag}", p.repository));
                    }
                }
            }
            if let Some(subject) = &p.referrer_of {
                let e = &meta.contents.entries[p.entry];
                let mut d = Descriptor::new(m.media_type.clone(), p.digest.clone(), m.bytes.len() as u64);
                // As `load` writes it into a tag-schema index, and as the referrers API
                // says: the manifest's artifactType, else its config's media type.
                d.artifact_type = e
                    .descriptor
                    .artifact_type
                    .clone()
                    .or_else(|| m.parsed.artifact_type.clone())
                    .or_else(|| m.parsed.config.as_ref().map(|c| c.media_type.clone()));
                d.annotations = m.parsed.annotations.clone();
                let list = repo.referrers.entry(subject.clone()).or_default();
                if !list.iter().any(|x| x.digest == d.digest) {
                    list.push(d);
                    list.sort_by(|a, b| a.digest.cmp(&b.digest));
                }
            }
        }
        Ok(())
    }

    /// After the last bundle: the referrers tag-schema index (`sha256-<hex>`) of every
    /// subject with referrers, as `load` writes it into a registry without the referrers
    /// API, unless a bundle carries that tag itself.
    pub fn finish(&mut self) {
        for repo in self.repos.values_mut() {
            for (subject, list) in &repo.referrers {
                let tag = subject.tag_prefix();
                if repo.tags.contains_key(&tag) {
                    continue;
                }
                let bytes = Bytes::from(to_canonical_json(&Index::new(list.clone())));
                let digest = Digest::of(&bytes);
                self.manifests
                    .entry(digest.clone())
                    .or_insert(ServedManifest { bytes, media_type: media::OCI_INDEX.to_owned() });
                repo.manifests.insert(digest.clone());
                repo.tags.insert(tag, digest);
            }
        }
    }

    /// How many image tags (not attachments) are served.
    pub fn image_tags(&self) -> usize {
        self.repos.values().flat_map(|r| r.tags.keys()).filter(|t| !t.starts_with("sha256-")).count()
    }

    /// The manifest `digest`, if repository `repo` holds it.
    pub fn manifest(&self, repo: &str, digest: &Digest) -> Option<&ServedManifest> {
        self.repos.get(repo).filter(|r| r.manifests.contains(digest)).and_then(|_| self.manifests.get(digest))
    }

    /// The blob `digest`, if repository `repo` holds it.
    pub fn blob(&self, repo: &str, digest: &Digest) -> Option<&BlobSource> {
        self.repos.get(repo).filter(|r| r.blobs.contains(digest)).and_then(|_| self.blobs.get(digest))
    }
}
