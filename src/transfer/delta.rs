//! Delta bundles (issue 10 §2), the transfer side: what `save --have` may leave out
//! ([`Have`], filled from verified site inventories and from earlier bundles' metadata),
//! and the check `load` makes before it uploads anything: every assumed blob the plan
//! needs is at the target ([`check_at_target`]), else [`BaseMissing`] (exit 4) names the
//! blobs and the inventory or base bundle that promised them.
//!
//! The description itself (`index.json` annotation, parsing, graph checks) is
//! [`crate::content::delta`]; the docs are docs/bundle.md, "Delta bundles".

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, TryStreamExt};

use super::load::LoadError;
use super::plan::{Destination, Plan};
use super::push::Present;
use crate::content::delta::{Base, BaseKind, Delta};
use crate::content::{Contents, Metadata};
use crate::inventory::VerifiedInventory;
use crate::oci::Digest;
use crate::registry::Registry;

/// What the site is known to have, from the `--have` sources in the order given.
#[derive(Debug, Default)]
pub struct Have {
    /// Digest → every (size, base, repositories) a source claimed, first source first.
    blobs: BTreeMap<Digest, Vec<(u64, Base, Vec<String>)>>,
}

impl Have {
    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    fn add(&mut self, digest: &Digest, size: u64, base: &Base, repositories: Vec<String>) {
        self.blobs.entry(digest.clone()).or_default().push((size, base.clone(), repositories));
    }

    /// A site inventory whose file bytes hash to `file_digest`: every blob it lists, with
    /// the repositories that hold it at the site.
    pub fn add_inventory(&mut self, inventory: &VerifiedInventory, file_digest: Digest) {
        let inv = inventory.inventory();
        let base = Base {
            kind: BaseKind::Inventory,
            digest: file_digest,
            registry: Some(inv.registry.clone()),
            prefix: Some(inv.prefix.clone()),
        };
        let mut sizes: BTreeMap<(&Digest, u64), Vec<String>> = BTreeMap::new();
        for r in &inv.repositories {
            for b in &r.blobs {
                sizes.entry((&b.digest, b.size)).or_default().push(r.name.clone());
            }
        }
        for ((digest, size), repos) in sizes {
            self.add(digest, size, &base, repos);
        }
    }

    /// An earlier bundle (full or delta), from its metadata only: every blob it holds
    /// counts as had with this bundle as the base, and every blob it itself assumed with
    /// the base that promised it there (a delta of a delta keeps the original provenance).
    pub fn add_bundle(&mut self, meta: &Metadata) {
        let base = Base { kind: BaseKind::Bundle, digest: Digest::of(&meta.index_json), registry: None, prefix: None };
        let delta = &meta.contents.delta;
        for (digest, info) in &meta.contents.blobs {
            match delta.get(digest) {
                Some(a) => self.add(digest, a.size, delta.base_of(a), a.repositories.clone()),
                None => self.add(digest, info.size, &base, vec![info.repository.clone()]),
            }
        }
    }

    /// The delta for `contents`: every image layer the site has with the same size.
    /// Metadata blobs (configs, signature payloads, attestations, SBOMs) and manifests
    /// always travel: readers need them to verify and report offline, and they are small.
    pub fn delta_for(&self, contents: &Contents) -> Delta {
        let mut choices = BTreeMap::new();
        for (digest, info) in contents.blobs.iter().filter(|(_, b)| !b.metadata) {
            let Some(claims) = self.blobs.get(digest) else { continue };
            if let Some((size, base, repos)) = claims.iter().find(|(size, ..)| *size == info.size) {
                choices.insert(digest.clone(), (*size, base.clone(), repos.clone()));
            }
        }
        Delta::build(choices)
    }
}

/// A delta bundle's base is not (all) at the target: nothing was pushed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the target lacks {} blob(s) ({}) that this delta bundle assumes are already there: {}{}; promised by {}; nothing was pushed",
    .count, crate::transfer::inspect::human(*.bytes), .first.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    if *.count > .first.len() { format!(" and {} more", .count - .first.len()) } else { String::new() },
    .bases.join("; ")
)]
pub struct BaseMissing {
    pub count: usize,
    pub bytes: u64,
    /// The first few missing digests.
    pub first: Vec<Digest>,
    /// The bases that promised the missing blobs.
    pub bases: Vec<String>,
}

/// Missing digests named in the error.
const NAMED: usize = 3;

/// Before anything is uploaded: every assumed blob the plan needs must be at the target,
/// in a repository the plan pushes to (`present`, from the HEAD checks) or in one the
/// base names (HEAD-checked here; the pusher then mounts it across). Blobs found are
/// added to `present`, so the pusher mounts from there.
pub async fn check_at_target(
    registry: &Registry,
    jobs: usize,
    meta: &Metadata,
    plan: &Plan,
    dest: &Destination,
    present: &mut Present,
) -> Result<(), LoadError> {
    let delta = &meta.contents.delta;
    if delta.is_empty() {
        return Ok(());
    }
    let there: BTreeSet<&Digest> = present.iter().map(|(d, _)| d).collect();
    let wanted: Vec<&Digest> = plan.blobs().keys().filter(|d| delta.assumes(d) && !there.contains(d)).collect();
    // Candidates the base names, for a mount.
    let mut probes = Vec::new();
    for d in &wanted {
        let a = delta.get(d).expect("filtered on assumes");
        for r in &a.repositories {
            let repo = match delta.base_of(a).kind {
                BaseKind::Inventory => r.clone(),
                BaseKind::Bundle => dest.repository_for(r),
            };
            probes.push(((*d).clone(), repo));
        }
    }
    let found: Vec<Option<(Digest, String)>> = futures_util::stream::iter(probes)
        .map(|(d, r)| async move { Ok::<_, LoadError>(registry.blob_exists(&r, &d).await?.map(|_| (d, r))) })
        .buffer_unordered(jobs.max(1))
        .try_collect()
        .await?;
    let found: Vec<(Digest, String)> = found.into_iter().flatten().collect();
    let mounted: BTreeSet<&Digest> = found.iter().map(|(d, _)| d).collect();
    let missing: Vec<&Digest> = wanted.iter().copied().filter(|d| !mounted.contains(d)).collect();
    if !missing.is_empty() {
        let mut bases: Vec<String> = Vec::new();
        for d in &missing {
            let b = delta.base_of(delta.get(d).expect("assumed")).to_string();
            if !bases.contains(&b) {
                bases.push(b);
            }
        }
        return Err(BaseMissing {
            count: missing.len(),
            bytes: missing.iter().filter_map(|d| delta.get(d)).map(|a| a.size).sum(),
            first: missing.iter().take(NAMED).map(|d| (*d).clone()).collect(),
            bases,
        }
        .into());
    }
    present.extend(found);
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::oci::media;

    /// An image manifest with config `cfg` and layers `(bytes, size)` in `repo`.
    fn contents(repo: &str, cfg: &[u8], layers: &[(&[u8], u64)]) -> Contents {
        let desc = |mt: &str, d: Digest, s: u64| serde_json::json!({"mediaType": mt, "digest": d, "size": s});
        let bytes = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
            "config": desc(media::OCI_CONFIG, Digest::of(cfg), cfg.len() as u64),
            "layers": layers.iter().map(|(b, s)| desc("application/vnd.oci.image.layer.v1.tar", Digest::of(b), *s)).collect::<Vec<_>>(),
        }))
        .unwrap();
        let mut c = Contents::default();
        c.add_manifest(repo, Digest::of(&bytes), Bytes::from(bytes), None, false).unwrap();
        c
    }

    fn bundle_base(n: &[u8]) -> Base {
        Base { kind: BaseKind::Bundle, digest: Digest::of(n), registry: None, prefix: None }
    }

    #[test]
    fn only_layers_of_the_same_size_are_left_out_and_the_first_source_wins() {
        let c = contents("src:5000/app", b"cfg", &[(b"a", 10), (b"b", 20), (b"c", 30)]);
        let mut have = Have::default();
        let (one, two) = (bundle_base(b"one"), bundle_base(b"two"));
        have.add(&Digest::of(b"a"), 10, &one, vec!["src:5000/app".into()]);
        have.add(&Digest::of(b"a"), 10, &two, vec![]);
        have.add(&Digest::of(b"b"), 21, &one, vec![]); // another size: not the same blob
        have.add(&Digest::of(b"cfg"), 3, &one, vec![]); // a config: always travels
        let d = have.delta_for(&c);
        assert_eq!(d.assumed.len(), 1, "{d:?}");
        assert_eq!(d.assumed[0].digest, Digest::of(b"a"));
        assert_eq!(d.base_of(&d.assumed[0]), &one);
        assert_eq!(d.bases, [one], "unused bases are not listed");
        d.check_against(&c).unwrap();
        assert!(Have::default().delta_for(&c).is_empty());
    }
}
