//! What a bundle holds, for people (`--output text`) and scripts (`--output json`):
//! images, tags, digests, platforms, sizes, and per manifest digest its signatures,
//! attestations, SBOMs and referrers; total bytes (as if every image were copied alone)
//! against unique bytes (what the bundle stores).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use super::model::{Contents, Role};
use crate::oci::{media, Digest};

#[derive(Debug, Serialize)]
pub struct Summary {
    pub images: Vec<ImageSummary>,
    pub manifests: usize,
    pub blobs: usize,
    /// Sum over images of everything each needs (shared blobs counted per image).
    pub total_bytes: u64,
    /// What the bundle stores: every blob and manifest once.
    pub unique_bytes: u64,
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

pub fn summarize(contents: &Contents) -> Summary {
    let mut images = Vec::new();
    let mut total_bytes = 0;
    for e in contents.entries.iter().filter(|e| !e.role.is_attachment()) {
        let d = &e.descriptor.digest;
        let under = contents.manifests_under(d).unwrap_or_default();
        let mut blobs = BTreeSet::new();
        let mut size = 0u64;
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
            size += stored.bytes.len() as u64;
            for b in stored.parsed.blobs() {
                if blobs.insert(b.digest.clone()) {
                    size += b.size;
                }
            }
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
    Summary {
        images,
        manifests: contents.manifests.len(),
        blobs: contents.blobs.len(),
        total_bytes,
        unique_bytes: contents.unique_bytes(),
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
    let mut out = String::new();
    for img in &s.images {
        let kind = if media::is_index(&img.media_type) { "index" } else { "image" };
        let _ = writeln!(out, "{}  {}", img.reference, human(img.size));
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
                (Some(p), false) => format!("    {p}"),
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
                    _ => format!("referrer {}", a.artifact_type.as_deref().unwrap_or("(no artifactType)")),
                };
                let indent = if m.digest == img.digest { "    " } else { "      " };
                let _ = writeln!(
                    out,
                    "{indent}{what}  {}{}",
                    a.digest,
                    a.tag.as_ref().map(|t| format!("  tag {t}")).unwrap_or_default()
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} image(s), {} manifests, {} blobs; total {} ({} bytes), unique {} ({} bytes)",
        s.images.iter().filter(|i| i.role == Role::Image).count(),
        s.manifests,
        s.blobs,
        human(s.total_bytes),
        s.total_bytes,
        human(s.unique_bytes),
        s.unique_bytes
    );
    out
}
