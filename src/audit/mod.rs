//! `sealift audit`: a verification audit of a bundle (offline) or of what a registry holds
//! (online), as a report for people (text, HTML) and for scripts (versioned JSON).
//!
//! This module owns the report model ([`report`]), its renderings ([`text`], [`html`]),
//! the facts about each image the assessment does not carry (media type, platforms), and
//! the walk over a registry's catalog. Verification itself is [`crate::assess`]'s; the
//! CLI (`cli/commands/audit.rs`) only resolves arguments and writes the output.

pub mod html;
pub mod registry;
pub mod report;
pub mod text;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::bundle::BundleError;
use crate::content::Entry;
use crate::content::Metadata;
use crate::oci::{media, Manifest, Platform};

pub use html::{escape_html, render_html};
pub use report::{AuditReport, ImageFacts, PolicyInfo, PolicySource, RuleInfo, Subject, SCHEMA};
pub use text::{render_json, render_text};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error("cannot write the report to {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced,
/// then renamed over `path`. A failed run leaves no half-written report under the name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    crate::tempfiles::write_atomic(path, ".sealift-audit-", bytes)
        .map_err(|e| AuditError::Write { path: e.path, source: e.source })
}

/// The `os/arch[/variant]` an image config declares.
fn config_platform(config: &[u8]) -> Option<String> {
    let p: Platform = serde_json::from_slice(config).ok()?;
    (!p.os.is_empty() && !p.architecture.is_empty()).then(|| p.to_string())
}

/// Platforms of a manifest: every platform an index lists, or the image config's.
pub fn platforms_of(manifest: &Manifest, config: Option<&[u8]>) -> Vec<String> {
    if !manifest.manifests.is_empty() {
        return manifest.manifests.iter().filter_map(|d| d.platform.as_ref().map(ToString::to_string)).collect();
    }
    config.and_then(config_platform).into_iter().collect()
}

/// Media type and platforms of a bundle entry, from its manifest and config in `meta`.
pub fn bundle_facts(meta: &Metadata, entry: &Entry) -> ImageFacts {
    let d = &entry.descriptor;
    let mut platforms = Vec::new();
    if let Some(m) = meta.contents.manifests.get(&d.digest) {
        let config = m.parsed.config.as_ref().and_then(|c| meta.small.get(&c.digest)).map(|b| b.as_ref());
        platforms = platforms_of(&m.parsed, config);
    }
    if platforms.is_empty() {
        platforms.extend(d.platform.as_ref().map(ToString::to_string));
    }
    let media_type = meta
        .contents
        .manifests
        .get(&d.digest)
        .map(|m| m.media_type.clone())
        .or_else(|| (!d.media_type.is_empty()).then(|| d.media_type.clone()));
    ImageFacts { media_type, platforms }
}

/// Whether a tag names a cosign attachment or a referrers tag-schema index
/// (`sha256-<hex>`, `sha256-<hex>.sig`, ...) rather than an image.
pub fn is_attachment_tag(tag: &str) -> bool {
    tag.strip_prefix("sha256-").is_some_and(|rest| {
        let hex = rest.split('.').next().unwrap_or("");
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Whether a media type is one `audit --registry` assesses as an image.
pub fn is_image_media_type(mt: &str) -> bool {
    media::is_manifest(mt)
}
