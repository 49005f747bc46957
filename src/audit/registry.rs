//! `audit --registry HOST[/PREFIX]`: find every tagged image under a prefix (catalog, then
//! tags; the cosign and referrers tags `sha256-<hex>[.sig|.att|.sbom]` are attachments, not
//! images), gather each one's evidence online and assess it.
//!
//! Policy rules match the repository *as it is at the audited registry*, `host/repo`
//! (e.g. `10.0.0.5:5000/mirror/team/app`), not the source repository the image came
//! from: after a load under a prefix the source name is gone. A policy written for a
//! bundle's sources therefore needs globs that also match the target (`*/mirror/**`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{is_attachment_tag, platforms_of, AuditError, ImageFacts};
use crate::assess::{assess, evidence_from_registry, Candidate, Evidence, ImageAssessment};
use crate::oci::{media, Digest, Manifest};
use crate::registry::{RawManifest, Registry};
use crate::trust::policy::Policy;

/// Largest image config read to learn an image's platform.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// One tag found under the prefix, resolved.
#[derive(Debug, Clone)]
pub struct TaggedImage {
    /// Repository path at the registry, without the host.
    pub repository: String,
    pub tag: String,
    pub manifest: RawManifest,
}

pub use crate::registry::under_prefix;

/// Every tagged image under `prefix`, sorted by repository then tag. Tags that vanish
/// between listing and reading are skipped; manifests of other kinds are skipped.
pub async fn list_images(registry: &Registry, prefix: &str) -> Result<Vec<TaggedImage>, AuditError> {
    let mut repos: Vec<String> =
        registry.list_repositories().await?.into_iter().filter(|r| under_prefix(r, prefix)).collect();
    repos.sort();
    repos.dedup();
    let mut out = Vec::new();
    for repo in repos {
        let mut tags: Vec<String> =
            registry.list_tags(&repo).await?.into_iter().filter(|t| !is_attachment_tag(t)).collect();
        tags.sort();
        tags.dedup();
        for tag in tags {
            let Some(manifest) = registry.get_manifest(&repo, &tag).await? else { continue };
            if !media::is_manifest(&manifest.media_type) {
                continue;
            }
            out.push(TaggedImage { repository: repo.clone(), tag, manifest });
        }
    }
    Ok(out)
}

/// Media type and platforms of a registry image (reads the config of a single image).
pub async fn registry_facts(registry: &Registry, repo: &str, m: &RawManifest) -> ImageFacts {
    let mut facts = ImageFacts { media_type: Some(m.media_type.clone()), platforms: Vec::new() };
    let Ok((parsed, _)) = Manifest::parse(&m.bytes, Some(&m.media_type)) else { return facts };
    let config = match &parsed.config {
        Some(c) if parsed.manifests.is_empty() && c.size as usize <= MAX_CONFIG_BYTES => {
            registry.get_blob_bytes(repo, &c.digest, MAX_CONFIG_BYTES).await.ok()
        }
        _ => None,
    };
    facts.platforms = platforms_of(&parsed, config.as_deref());
    facts
}

/// Assesses every tagged image under `prefix` at `now`. Evidence is fetched once per
/// repository and digest, however many tags name it.
pub async fn assess_registry(
    registry: &Registry,
    prefix: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Vec<(ImageAssessment, ImageFacts)>, AuditError> {
    let host = registry.host().to_owned();
    let mut evidence: BTreeMap<(String, Digest), Evidence> = BTreeMap::new();
    let mut out = Vec::new();
    for img in list_images(registry, prefix).await? {
        let digest = img.manifest.digest.clone();
        let key = (img.repository.clone(), digest.clone());
        if !evidence.contains_key(&key) {
            let e = evidence_from_registry(registry, &img.repository, &digest).await?;
            evidence.insert(key.clone(), e);
        }
        let repository = format!("{host}/{}", img.repository);
        let reference = format!("{repository}:{}", img.tag);
        let image =
            Candidate { repository: &repository, reference: &reference, digest: &digest, evidence: &evidence[&key] };
        let a = assess(policy, &image, now);
        out.push((a, registry_facts(registry, &img.repository, &img.manifest).await));
    }
    Ok(out)
}
