//! The registry walk behind `sealift inventory`: the catalog (all `Link` pages), restricted
//! to a prefix; each repository's tags; every manifest they name and, level by level, the
//! children of indexes; the config and layer descriptors of every image manifest.
//!
//! Repositories are walked `jobs` at a time and, within one, manifests are fetched `jobs` at
//! a time; one semaphore bounds the requests in flight to `jobs` overall. Manifests are read
//! with [`Registry::get_manifest`], which caps their size and checks their digest; blob
//! sizes are what the manifests' descriptors say (blobs are not fetched or HEADed: a
//! `load` against the site checks presence again before it relies on an inventory).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::Semaphore;

use super::{BlobRef, Inventory, ManifestRef, Repository};
use crate::oci::{Digest, Manifest};
use crate::progress::Reporter;
use crate::registry::{RawManifest, Registry, RegistryError};

/// Levels of nested indexes followed below a tag (an index of indexes of images is 2).
pub const MAX_DEPTH: usize = 8;
/// Manifests recorded per repository, a bound against a hostile registry.
pub const MAX_MANIFESTS_PER_REPOSITORY: usize = 100_000;

pub use crate::registry::under_prefix;

/// Walks everything under `prefix` at `registry` into an [`Inventory`] made at `created`.
/// Repositories or tags that vanish while the walk runs are left out.
pub async fn take(
    registry: &Registry,
    prefix: &str,
    jobs: usize,
    created: String,
    reporter: &dyn Reporter,
) -> Result<Inventory, RegistryError> {
    let jobs = jobs.max(1);
    let mut names: Vec<String> =
        registry.list_repositories().await?.into_iter().filter(|r| under_prefix(r, prefix)).collect();
    names.sort();
    names.dedup();
    reporter.task_started("inventory", names.len() as u64);
    let permits = Arc::new(Semaphore::new(jobs));
    let repositories: Vec<Option<Repository>> = futures_util::stream::iter(names)
        .map(|name| {
            let permits = permits.clone();
            async move { walk_repository(registry, name, &permits, jobs).await }
        })
        .buffer_unordered(jobs)
        .inspect(|_| reporter.advanced(1))
        .try_collect()
        .await?;
    Ok(Inventory::new(registry.host(), prefix, created, repositories.into_iter().flatten().collect()))
}

/// Fetches `reference` (a tag or a digest) of `repo` under a permit.
async fn fetch(
    registry: &Registry,
    repo: &str,
    reference: String,
    permits: &Semaphore,
) -> Result<(String, Option<RawManifest>), RegistryError> {
    let _permit = permits.acquire().await;
    let m = registry.get_manifest(repo, &reference).await?;
    Ok((reference, m))
}

/// One repository; `None` if it vanished (its tag list answered 404).
async fn walk_repository(
    registry: &Registry,
    name: String,
    permits: &Semaphore,
    jobs: usize,
) -> Result<Option<Repository>, RegistryError> {
    let tags = {
        let _permit = permits.acquire().await;
        match registry.list_tags(&name).await {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    let tags: BTreeSet<String> = tags.into_iter().collect();
    let mut repo = RepoWalk::default();
    let mut frontier: Vec<Digest> = Vec::new();
    let fetched: Vec<(String, Option<RawManifest>)> = futures_util::stream::iter(tags)
        .map(|t| fetch(registry, &name, t, permits))
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    for (tag, m) in fetched {
        let Some(m) = m else { continue }; // the tag went away meanwhile
        repo.tags.insert(tag, m.digest.clone());
        repo.record(&m, &mut frontier);
    }
    let mut depth = 0;
    while !frontier.is_empty() {
        depth += 1;
        if depth > MAX_DEPTH || repo.manifests.len() > MAX_MANIFESTS_PER_REPOSITORY {
            return Err(RegistryError::TooLarge {
                what: format!("index nesting in repository {}/{name}", registry.host()),
                limit: if depth > MAX_DEPTH { MAX_DEPTH as u64 } else { MAX_MANIFESTS_PER_REPOSITORY as u64 },
            });
        }
        let level: Vec<(String, Option<RawManifest>)> = futures_util::stream::iter(std::mem::take(&mut frontier))
            .map(|d| fetch(registry, &name, d.to_string(), permits))
            .buffer_unordered(jobs)
            .try_collect()
            .await?;
        for (_, m) in level {
            // A child the registry does not have is not at the site: nothing to record.
            if let Some(m) = m {
                repo.record(&m, &mut frontier);
            }
        }
    }
    Ok(Some(Repository {
        name,
        tags: repo.tags,
        manifests: repo.manifests.into_values().collect(),
        blobs: repo.blobs.into_iter().collect(),
    }))
}

#[derive(Default)]
struct RepoWalk {
    tags: BTreeMap<String, Digest>,
    manifests: BTreeMap<Digest, ManifestRef>,
    blobs: BTreeSet<BlobRef>,
}

impl RepoWalk {
    /// Records a fetched manifest (once per digest) with its blobs, and queues the children
    /// of an index not seen yet. A manifest sealift cannot parse is listed with the media
    /// type the registry gave, and nothing below it.
    fn record(&mut self, m: &RawManifest, frontier: &mut Vec<Digest>) {
        if self.manifests.contains_key(&m.digest) {
            return;
        }
        let parsed = Manifest::parse(&m.bytes, Some(&m.media_type)).ok();
        let media_type = parsed.as_ref().map_or_else(|| m.media_type.clone(), |(_, mt)| mt.clone());
        self.manifests
            .insert(m.digest.clone(), ManifestRef { digest: m.digest.clone(), media_type, size: m.bytes.len() as u64 });
        let Some((parsed, _)) = parsed else { return };
        for b in parsed.blobs() {
            self.blobs.insert(BlobRef { digest: b.digest.clone(), size: b.size });
        }
        for child in &parsed.manifests {
            if !self.manifests.contains_key(&child.digest) && !frontier.contains(&child.digest) {
                frontier.push(child.digest.clone());
            }
        }
    }
}
