//! What a bundle holds, for people (`--output text`) and scripts (`--output json`):
//! images, tags, digests, platforms, sizes, and per manifest digest its signatures,
//! attestations, SBOMs and referrers; total bytes (as if every image were copied alone,
//! with its signatures and other attachments) against unique bytes (what the bundle
//! stores, each blob and manifest once), so unique <= total.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::content::{Contents, Role};
use crate::oci::{media, Digest};

#[derive(Debug, Serialize)]
pub struct Summary {
    pub images: Vec<ImageSummary>,
    pub manifests: usize,
    pub blobs: usize,
    /// Sum over images of everything each needs, its attachments included (shared blobs
    /// counted per image), plus anything no image needs, once.
    pub total_bytes: u64,
    /// What the bundle stores: every blob and manifest once.
    pub unique_bytes: u64,
    /// Whether the bundle carries a seal (checked only by load/verify/audit with bundle trust).
    pub sealed: bool,
    /// A delta bundle: what it assumes is already at the site (absent for a full bundle).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<DeltaSummary>,
}

/// What a delta bundle leaves out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeltaSummary {
    pub assumed_blobs: usize,
    pub assumed_bytes: u64,
    pub bases: Vec<BaseSummary>,
}

/// One base of a delta and how much of the assumption rests on it.
#[derive(Debug, Serialize)]
pub struct BaseSummary {
    #[serde(flatten)]
    pub base: crate::content::delta::Base,
    pub blobs: usize,
    pub bytes: u64,
}

fn delta_summary(delta: &crate::content::Delta) -> Option<DeltaSummary> {
    if delta.is_empty() {
        return None;
    }
    let bases = delta
        .bases
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let of: Vec<_> = delta.assumed.iter().filter(|a| a.base == i).collect();
            BaseSummary { base: b.clone(), blobs: of.len(), bytes: of.iter().map(|a| a.size).sum() }
        })
        .collect();
    Some(DeltaSummary { assumed_blobs: delta.assumed.len(), assumed_bytes: delta.assumed_bytes(), bases })
}

#[derive(Debug, Serialize)]
pub struct ImageSummary {
    pub reference: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Digest,
    pub media_type: String,
    pub role: Role,
    /// Present when saved with `--platform`: the index is carried only for its signatures.
    pub partial: bool,
    /// Everything this image needs: its manifests, their blobs, and its attachments (with
    /// their payloads), each once.
    pub size: u64,
    pub manifests: Vec<ManifestSummary>,
}

#[derive(Debug, Serialize)]
pub struct ManifestSummary {
    pub digest: Digest,
    pub platform: Option<String>,
    pub media_type: String,
    pub size: u64,
    pub attachments: Vec<AttachmentSummary>,
}

#[derive(Debug, Serialize)]
pub struct AttachmentSummary {
    pub role: Role,
    pub digest: Digest,
    pub tag: Option<String>,
    pub artifact_type: Option<String>,
    /// Layers of the attachment manifest (one per signature for `.sig`).
    pub layers: usize,
}

/// Every manifest an image needs: its own (an index and its children) and, transitively,
/// the attachments whose subject is one of them (a referrer of a signature included).
fn needed_manifests(contents: &Contents, own: &[Digest]) -> BTreeSet<Digest> {
    let mut needed: BTreeSet<Digest> = own.iter().cloned().collect();
    let mut queue = own.to_vec();
    while let Some(m) = queue.pop() {
        for a in contents.entries.iter().filter(|a| a.role.is_attachment() && a.subject.as_ref() == Some(&m)) {
            for d in contents.manifests_under(&a.descriptor.digest).unwrap_or_default() {
                if needed.insert(d.clone()) {
                    queue.push(d);
                }
            }
        }
    }
    needed
}

pub fn summarize(contents: &Contents) -> Summary {
    let mut images = Vec::new();
    let mut total_bytes = 0;
    // What some image needs; the rest (orphans) is added to the total once.
    let mut reached_manifests = BTreeSet::new();
    let mut reached_blobs = BTreeSet::new();
    for e in contents.entries.iter().filter(|e| !e.role.is_attachment()) {
        let d = &e.descriptor.digest;
        let under = contents.manifests_under(d).unwrap_or_default();
        let mut blobs = BTreeSet::new();
        let mut size = 0u64;
        for m in needed_manifests(contents, &under) {
            let Some(stored) = contents.manifests.get(&m) else { continue };
            size += stored.bytes.len() as u64;
            for b in stored.parsed.blobs() {
                if blobs.insert(b.digest.clone()) {
                    size += b.size;
                }
            }
            reached_manifests.insert(m);
        }
        reached_blobs.extend(blobs);
        let mut manifests = Vec::new();
        // Platforms come from the parent index's descriptors.
        let platform_of = |digest: &Digest| {
            under
                .iter()
                .filter_map(|p| contents.manifests.get(p))
                .flat_map(|m| m.parsed.manifests.iter())
                .find(|c| &c.digest == digest)
                .and_then(|c| c.platform.as_ref())
                .map(ToString::to_string)
        };
        for m in under.iter().rev() {
            let Some(stored) = contents.manifests.get(m) else { continue };
            let attachments = contents
                .entries
                .iter()
                .filter(|a| a.role.is_attachment() && a.subject.as_ref() == Some(m))
                .map(|a| AttachmentSummary {
                    role: a.role,
                    digest: a.descriptor.digest.clone(),
                    tag: a.tag.clone(),
                    artifact_type: a.descriptor.artifact_type.clone(),
                    layers: contents.manifests.get(&a.descriptor.digest).map_or(0, |s| s.parsed.layers.len()),
                })
                .collect();
            manifests.push(ManifestSummary {
                digest: m.clone(),
                platform: platform_of(m)
                    .or_else(|| e.descriptor.platform.as_ref().filter(|_| m == d).map(ToString::to_string)),
                media_type: stored.media_type.clone(),
                size: stored.bytes.len() as u64,
                attachments,
            });
        }
        total_bytes += size;
        let reference = match &e.tag {
            Some(t) => format!("{}:{t}", e.repository),
            None => format!("{}@{d}", e.repository),
        };
        images.push(ImageSummary {
            reference,
            repository: e.repository.clone(),
            tag: e.tag.clone(),
            digest: d.clone(),
            media_type: e.descriptor.media_type.clone(),
            role: e.role,
            partial: e.descriptor.annotations.contains_key(media::ANN_SEALIFT_PARTIAL),
            size,
            manifests,
        });
    }
    total_bytes += contents
        .manifests
        .iter()
        .filter(|(d, _)| !reached_manifests.contains(*d))
        .map(|(_, m)| m.bytes.len() as u64)
        .sum::<u64>();
    total_bytes += contents.blobs.iter().filter(|(d, _)| !reached_blobs.contains(*d)).map(|(_, b)| b.size).sum::<u64>();
    Summary {
        images,
        manifests: contents.manifests.len(),
        blobs: contents.blobs.len(),
        total_bytes,
        unique_bytes: contents.unique_bytes(),
        sealed: false,
        delta: delta_summary(&contents.delta),
    }
}

/// Bytes in binary units, one decimal.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub fn render_text(s: &Summary) -> String {
    use crate::escape::clean;
    let mut out = String::new();
    for img in &s.images {
        let kind = if media::is_index(&img.media_type) { "index" } else { "image" };
        let _ = writeln!(out, "{}  {}", clean(&img.reference.to_string()), human(img.size));
        let _ = write!(out, "  {kind} {}", img.digest);
        if img.partial {
            out.push_str("  (partial: --platform; the index is carried for its signatures, its platforms are pushed on their own)");
        }
        if img.role == Role::Platform {
            out.push_str("  (platform manifest pushed on its own)");
        }
        out.push('\n');
        for m in &img.manifests {
            let label = match (&m.platform, m.digest == img.digest) {
                (_, true) => "    .".to_owned(),
                (Some(p), false) => format!("    {}", clean(&p.to_string())),
                (None, false) => "    (manifest)".to_owned(),
            };
            if m.digest != img.digest {
                let _ = writeln!(out, "{label}  {}", m.digest);
            }
            for a in &m.attachments {
                let what = match a.role {
                    Role::Signature => {
                        format!("signatures ({} layer{})", a.layers, if a.layers == 1 { "" } else { "s" })
                    }
                    Role::Attestation => {
                        format!("attestations ({} layer{})", a.layers, if a.layers == 1 { "" } else { "s" })
                    }
                    Role::Sbom => "sbom".to_owned(),
                    _ => format!("referrer {}", clean(a.artifact_type.as_deref().unwrap_or("(no artifactType)"))),
                };
                let indent = if m.digest == img.digest { "    " } else { "      " };
                let _ = writeln!(
                    out,
                    "{indent}{what}  {}{}",
                    a.digest,
                    a.tag.as_ref().map(|t| format!("  tag {}", clean(&t.to_string()))).unwrap_or_default()
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} image(s), {} manifests, {} blobs; total {} ({} bytes: each image with its attachments, shared blobs \
         counted per image), unique {} ({} bytes: what the bundle stores, each blob once)",
        s.images.iter().filter(|i| i.role == Role::Image).count(),
        s.manifests,
        s.blobs,
        human(s.total_bytes),
        s.total_bytes,
        human(s.unique_bytes),
        s.unique_bytes
    );
    if let Some(d) = &s.delta {
        let _ = writeln!(
            out,
            "delta: assumes {} blob{} ({}) already at the site, not in this bundle",
            d.assumed_blobs,
            if d.assumed_blobs == 1 { "" } else { "s" },
            human(d.assumed_bytes)
        );
        for b in &d.bases {
            let _ = writeln!(out, "  {} blob(s) ({}) promised by {}", b.blobs, human(b.bytes), b.base);
        }
    }
    if s.sealed {
        out.push_str(
            "sealed: yes (check the seal with load, verify --bundle or audit and --bundle-key/--bundle-ca-roots)\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::content::Entry;
    use crate::oci::Descriptor;

    const REPO: &str = "127.0.0.1:5000/team/app";

    /// A manifest whose config and layers are `(digest, size)`; returns its digest and length.
    fn manifest(c: &mut Contents, config: (&Digest, u64), layers: &[(&Digest, u64)]) -> (Digest, u64) {
        let desc = |mt: &str, (d, s): (&Digest, u64)| serde_json::json!({"mediaType": mt, "digest": d, "size": s});
        let bytes = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": desc(media::OCI_CONFIG, config),
            "layers": layers.iter().map(|l| desc("application/vnd.oci.image.layer.v1.tar", *l)).collect::<Vec<_>>(),
        }))
        .unwrap();
        let d = Digest::of(&bytes);
        let len = bytes.len() as u64;
        c.add_manifest(REPO, d.clone(), Bytes::from(bytes), None, false).unwrap();
        (d, len)
    }

    fn entry(c: &mut Contents, role: Role, (d, len): &(Digest, u64), subject: Option<&Digest>) {
        c.entries.push(Entry {
            descriptor: Descriptor::new(media::OCI_MANIFEST, d.clone(), *len),
            role,
            repository: REPO.into(),
            tag: None,
            subject: subject.cloned(),
        });
    }

    /// Two images share a layer; one has a signature. The shared layer counts twice in the
    /// total and once in unique; the signature (manifest, config, payload) counts in both.
    #[test]
    fn totals_count_attachments_and_shared_blobs_per_image() {
        let mut c = Contents::default();
        let [shared, cfg_a, cfg_b, own_b, sig_cfg, payload] =
            [&b"shared"[..], b"a", b"b", b"own", b"{}", b"payload"].map(Digest::of);
        let a = manifest(&mut c, (&cfg_a, 10), &[(&shared, 1000)]);
        let b = manifest(&mut c, (&cfg_b, 20), &[(&shared, 1000), (&own_b, 500)]);
        let sig = manifest(&mut c, (&sig_cfg, 2), &[(&payload, 300)]);
        entry(&mut c, Role::Image, &a, None);
        entry(&mut c, Role::Image, &b, None);
        entry(&mut c, Role::Signature, &sig, Some(&a.0));

        let s = summarize(&c);
        let image_a = a.1 + 10 + 1000 + sig.1 + 2 + 300;
        let image_b = b.1 + 20 + 1000 + 500;
        assert_eq!(s.images.iter().map(|i| i.size).collect::<Vec<_>>(), vec![image_a, image_b]);
        assert_eq!(s.total_bytes, image_a + image_b);
        assert_eq!(s.unique_bytes, a.1 + b.1 + sig.1 + 10 + 20 + 1000 + 500 + 2 + 300);
        assert!(s.unique_bytes < s.total_bytes);
        assert_eq!(s.total_bytes - s.unique_bytes, 1000, "only the shared layer is counted twice");
    }

    /// Content no image needs (an orphan attachment) is still in the total, once.
    #[test]
    fn unique_never_exceeds_total() {
        let mut c = Contents::default();
        let (cfg, layer, payload) = (Digest::of(b"c"), Digest::of(b"l"), Digest::of(b"p"));
        let img = manifest(&mut c, (&cfg, 5), &[(&layer, 50)]);
        let orphan = manifest(&mut c, (&cfg, 5), &[(&payload, 7)]);
        entry(&mut c, Role::Image, &img, None);
        entry(&mut c, Role::Signature, &orphan, Some(&Digest::of(b"not in the bundle")));
        let s = summarize(&c);
        assert_eq!(s.unique_bytes, s.total_bytes);
        assert_eq!(s.total_bytes, img.1 + 5 + 50 + orphan.1 + 7);
    }
}
