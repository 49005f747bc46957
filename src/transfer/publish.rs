//! Phase 4 of `load`: manifests and tags, once every blob of the load is in place.
//!
//! Independent images go concurrently, `--jobs` at a time (issue 10: one after another,
//! behind a 20 ms round trip, the manifest phase was most of a 60-image load). The plan's
//! pushes are grouped into *units*: pushes that depend on each other in any way (a
//! manifest and its children, an attachment and its subject, two entries naming the same
//! manifest or the same tag in one repository) land in one unit, which runs in plan order,
//! so every ordering rule of the plan still holds inside it. Within a unit:
//! 1. every manifest by digest, in plan order (children before their index, an image
//!    before what is attached to it);
//! 2. the referrers tag-schema indexes, where the target has no referrers API;
//! 3. the attachments' tags (`sha256-<hex>.sig|.att|.sbom`), concurrently;
//! 4. last, the images' tags, concurrently.
//!
//! So a tag appears only once every manifest of its unit (its image, platforms and
//! attachments) and every attachment tag is in place. After the first failure no further
//! unit starts; units already running go on until they end or fail (none is cut off
//! between a request and its answer), and the first failure is returned.
//!
//! Round trips cut: whether a manifest or tag is already at the target is asked once for
//! the whole load, `--jobs` at a time, before the first unit. A manifest that references a
//! blob the target lacked in that repository before the load (the blob HEAD phase), or an
//! index with such a child, cannot be there and is not asked about; the tag of such an
//! image is then PUT without a HEAD (the tag of an attachment is always asked about: it
//! may name another attachment that an unverified one must not replace).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;

use super::load::LoadError;
use super::plan::{ManifestPush, Plan};
use super::push::{KeptTag, LoadReport, Present};
use crate::content::Metadata;
use crate::oci::{Descriptor, Digest};
use crate::registry::Registry;

/// What the target said before the first unit: per (repository, digest) whether the
/// manifest is there, per (repository, tag) what the tag names.
#[derive(Default)]
struct Probe {
    manifests: BTreeMap<(String, Digest), bool>,
    tags: BTreeMap<(String, String), Option<Digest>>,
}

/// One unit's outcome; tags carry their plan index so the report keeps plan order.
#[derive(Default)]
struct Outcome {
    pushed: usize,
    present: usize,
    tags: Vec<(usize, String)>,
    kept: Vec<(usize, KeptTag)>,
    error: Option<LoadError>,
}

/// Pushes the plan's manifests and tags. `before` is what the target held before the
/// load's first upload (the blob HEAD phase).
pub(super) async fn publish(
    registry: &Registry,
    jobs: usize,
    meta: &Metadata,
    plan: &Plan,
    before: &Present,
    report: &mut LoadReport,
) -> Result<(), LoadError> {
    let pushes = plan.manifests();
    if pushes.is_empty() {
        return Ok(());
    }
    let referrers_api = match pushes.iter().find(|m| m.referrer_of.is_some()) {
        Some(m) => registry.has_referrers_api(&m.repository).await?,
        None => false,
    };
    let absent = known_absent(meta, pushes, before);
    let probe = probe(registry, jobs, pushes, &absent).await?;
    let failed = AtomicBool::new(false);
    let outcomes: Vec<Outcome> = futures_util::stream::iter(units(meta, pushes))
        .map(|unit| run_unit(registry, meta, pushes, unit, &probe, referrers_api, &failed))
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    let mut tags = Vec::new();
    let mut kept = Vec::new();
    let mut error = None;
    for o in outcomes {
        report.pushed_manifests += o.pushed;
        report.present_manifests += o.present;
        tags.extend(o.tags);
        kept.extend(o.kept);
        // The first failure to complete is the one that stopped the load.
        if error.is_none() {
            error = o.error;
        }
    }
    if let Some(e) = error {
        return Err(e);
    }
    tags.sort_by_key(|(i, _)| *i);
    kept.sort_by_key(|(i, _)| *i);
    report.tags.extend(tags.into_iter().map(|(_, t)| t));
    report.kept_tags.extend(kept.into_iter().map(|(_, k)| k));
    Ok(())
}

/// The (repository, digest) pairs whose manifest cannot be at the target: it references a
/// blob the repository lacked before the load (a registry refuses a manifest whose blobs
/// it does not hold), or it is an index with such a child. A wrong guess (a registry
/// holding a manifest without its blobs) costs only the accuracy of the report: a PUT of a
/// manifest already there changes nothing.
fn known_absent(meta: &Metadata, pushes: &[ManifestPush], before: &Present) -> BTreeSet<(String, Digest)> {
    let mut absent = BTreeSet::new();
    // Plan order puts children before their parents.
    for p in pushes {
        let m = &meta.contents.manifests[&p.digest];
        let blob_missing = m.parsed.blobs().any(|b| !before.contains(&(b.digest.clone(), p.repository.clone())));
        let child_missing =
            m.parsed.manifests.iter().any(|c| absent.contains(&(p.repository.clone(), c.digest.clone())));
        if blob_missing || child_missing {
            absent.insert((p.repository.clone(), p.digest.clone()));
        }
    }
    absent
}

/// Asks the target, `jobs` at a time, about every manifest not known absent and every tag
/// whose current value matters.
async fn probe(
    registry: &Registry,
    jobs: usize,
    pushes: &[ManifestPush],
    absent: &BTreeSet<(String, Digest)>,
) -> Result<Probe, LoadError> {
    let mut manifests = BTreeSet::new();
    let mut tags = BTreeSet::new();
    for p in pushes {
        let key = (p.repository.clone(), p.digest.clone());
        let is_absent = absent.contains(&key);
        if !is_absent {
            manifests.insert(key);
        }
        if let Some(tag) = &p.tag {
            if !is_absent || !p.replaces_tag {
                tags.insert((p.repository.clone(), tag.clone()));
            }
        }
    }
    enum Asked {
        Manifest((String, Digest), bool),
        Tag((String, String), Option<Digest>),
    }
    let questions = manifests
        .into_iter()
        .map(|(r, d)| {
            futures_util::future::Either::Left(async move {
                let there = registry.head_manifest(&r, &d.to_string()).await?.is_some();
                Ok::<_, LoadError>(Asked::Manifest((r, d), there))
            })
        })
        .chain(tags.into_iter().map(|(r, t)| {
            futures_util::future::Either::Right(async move {
                let names = registry.head_manifest(&r, &t).await?.map(|(d, ..)| d);
                Ok::<_, LoadError>(Asked::Tag((r, t), names))
            })
        }));
    let mut answers = futures_util::stream::iter(questions).buffer_unordered(jobs.max(1));
    let mut probe = Probe::default();
    while let Some(a) = answers.next().await {
        match a? {
            Asked::Manifest(k, there) => {
                probe.manifests.insert(k, there);
            }
            Asked::Tag(k, names) => {
                probe.tags.insert(k, names);
            }
        }
    }
    Ok(probe)
}

/// Groups the plan's pushes (by index) into units that share nothing: union-find over the
/// `index.json` entries, joining an entry with the first entry that pushes a manifest it
/// pushes, one of its manifests' children or subjects, or its tag, in the same repository.
/// Each unit lists its pushes in plan order; units are ordered by their first push.
fn units(meta: &Metadata, pushes: &[ManifestPush]) -> Vec<Vec<usize>> {
    let mut parent: BTreeMap<usize, usize> = pushes.iter().map(|p| (p.entry, p.entry)).collect();
    fn root(parent: &mut BTreeMap<usize, usize>, mut x: usize) -> usize {
        while parent[&x] != x {
            let up = parent[&parent[&x]];
            parent.insert(x, up);
            x = up;
        }
        x
    }
    let mut first_digest: BTreeMap<(&str, &Digest), usize> = BTreeMap::new();
    let mut first_tag: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for p in pushes {
        first_digest.entry((p.repository.as_str(), &p.digest)).or_insert(p.entry);
        if let Some(t) = &p.tag {
            first_tag.entry((p.repository.as_str(), t.as_str())).or_insert(p.entry);
        }
    }
    for p in pushes {
        let m = &meta.contents.manifests[&p.digest];
        let subject = meta.contents.entries.get(p.entry).and_then(|e| e.subject.as_ref());
        let related = std::iter::once(&p.digest)
            .chain(m.parsed.manifests.iter().map(|c| &c.digest))
            .chain(m.parsed.subject.iter().map(|s| &s.digest))
            .chain(subject)
            .chain(p.referrer_of.iter());
        let mut joined: Vec<usize> =
            related.filter_map(|d| first_digest.get(&(p.repository.as_str(), d)).copied()).collect();
        if let Some(t) = &p.tag {
            joined.extend(first_tag.get(&(p.repository.as_str(), t.as_str())).copied());
        }
        for other in joined {
            let (a, b) = (root(&mut parent, p.entry), root(&mut parent, other));
            if a != b {
                parent.insert(a.max(b), a.min(b));
            }
        }
    }
    let mut by_root: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut order = Vec::new();
    for (i, p) in pushes.iter().enumerate() {
        let r = root(&mut parent, p.entry);
        by_root.entry(r).or_insert_with(|| {
            order.push(r);
            Vec::new()
        });
        by_root.get_mut(&r).expect("inserted").push(i);
    }
    order.into_iter().map(|r| by_root.remove(&r).unwrap_or_default()).collect()
}

/// Pushes one unit (see the module doc for its order). Skipped when another unit failed
/// before it started.
async fn run_unit(
    registry: &Registry,
    meta: &Metadata,
    pushes: &[ManifestPush],
    unit: Vec<usize>,
    probe: &Probe,
    referrers_api: bool,
    failed: &AtomicBool,
) -> Outcome {
    let mut out = Outcome::default();
    if failed.load(Ordering::SeqCst) {
        return out;
    }
    if let Err(e) = unit_steps(registry, meta, pushes, &unit, probe, referrers_api, &mut out).await {
        failed.store(true, Ordering::SeqCst);
        out.error = Some(e);
    }
    out
}

async fn unit_steps(
    registry: &Registry,
    meta: &Metadata,
    pushes: &[ManifestPush],
    unit: &[usize],
    probe: &Probe,
    referrers_api: bool,
    out: &mut Outcome,
) -> Result<(), LoadError> {
    // 1. Manifests by digest.
    let mut done = BTreeSet::new();
    for &i in unit {
        let p = &pushes[i];
        let key = (p.repository.clone(), p.digest.clone());
        let there = probe.manifests.get(&key).copied().unwrap_or(false);
        if there || !done.insert(key) {
            out.present += 1;
            continue;
        }
        let m = &meta.contents.manifests[&p.digest];
        registry.put_manifest(&p.repository, &p.digest.to_string(), &m.bytes, &m.media_type).await?;
        out.pushed += 1;
    }
    // 2. The referrers tag-schema indexes (read, extended, written: one at a time).
    if !referrers_api {
        for &i in unit {
            let p = &pushes[i];
            let Some(subject) = &p.referrer_of else { continue };
            let m = &meta.contents.manifests[&p.digest];
            let e = &meta.contents.entries[p.entry];
            let mut d = Descriptor::new(m.media_type.clone(), p.digest.clone(), m.bytes.len() as u64);
            d.artifact_type = e.descriptor.artifact_type.clone().or_else(|| m.parsed.artifact_type.clone());
            d.annotations = m.parsed.annotations.clone();
            registry.add_referrer_to_tag_index(&p.repository, subject, d).await?;
        }
    }
    // 3. and 4. Tags: the attachments', then the images'.
    let is_attachment = |i: &usize| meta.contents.entries[pushes[*i].entry].role.is_attachment();
    let (attachments, images): (Vec<usize>, Vec<usize>) =
        unit.iter().copied().filter(|i| pushes[*i].tag.is_some()).partition(is_attachment);
    for group in [attachments, images] {
        let set = group.into_iter().map(|i| tag_one(registry, meta, &pushes[i], i, probe));
        for r in futures_util::future::join_all(set).await {
            match r? {
                Tagged::Set(i, t) => out.tags.push((i, t)),
                Tagged::Kept(i, k) => out.kept.push((i, k)),
                Tagged::Already => {}
            }
        }
    }
    Ok(())
}

enum Tagged {
    Set(usize, String),
    Kept(usize, KeptTag),
    Already,
}

/// Sets one push's tag unless it already names the manifest, or names another one that an
/// attachment which did not verify must not replace.
async fn tag_one(
    registry: &Registry,
    meta: &Metadata,
    p: &ManifestPush,
    i: usize,
    probe: &Probe,
) -> Result<Tagged, LoadError> {
    let Some(tag) = &p.tag else { return Ok(Tagged::Already) };
    let reference = format!("{}/{}:{tag}", registry.host(), p.repository);
    // Not asked: the manifest was absent, so the tag cannot name it, and it may be replaced.
    let current = probe.tags.get(&(p.repository.clone(), tag.clone())).cloned().flatten();
    match current {
        Some(current) if current == p.digest => Ok(Tagged::Already),
        Some(current) if !p.replaces_tag => {
            Ok(Tagged::Kept(i, KeptTag { reference, kept: current, offered: p.digest.clone() }))
        }
        _ => {
            let m = &meta.contents.manifests[&p.digest];
            registry.put_manifest(&p.repository, tag, &m.bytes, &m.media_type).await?;
            Ok(Tagged::Set(i, reference))
        }
    }
}
