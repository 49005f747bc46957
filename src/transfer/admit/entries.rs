//! The structural half of admission: what an `index.json` entry may be, judged from the
//! manifest bytes (digest-checked when the bundle was read), never from its annotations.
//!
//! Without a verified seal every annotation is written by whoever last touched the
//! bundle, so: a legacy attachment's tag is *derived* from its subject
//! (`sha256-<hex>.sig|.att|.sbom`); a referrer has no tag and its own manifest's `subject`
//! must be the entry's subject; a platform manifest's tag follows from its index entry and
//! the index's bytes; each attachment must have the shape of its role; no two entries give
//! one tag to different manifests. An entry that disagrees is refused: the bundle lies
//! about itself (exit 4). See issue 7.

use std::collections::BTreeMap;

use crate::content::{Contents, Role};
use crate::oci::{media, Digest};
use crate::transfer::walk::platform_tag;

/// Why an `index.json` entry cannot be what it says it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    #[error("index.json entry {digest} (role {role}) names no subject: an attachment must say what it is attached to")]
    NoSubject { digest: Digest, role: &'static str },
    #[error("index.json entry {digest} (role {role}) claims tag {claimed:?}, but a {role} of {subject} is tagged {derived:?}")]
    TagMismatch { digest: Digest, role: &'static str, subject: Digest, claimed: String, derived: String },
    #[error("index.json entry {digest} (role {role}) claims tag {claimed:?}, but {why}")]
    PlatformTag { digest: Digest, role: &'static str, claimed: Option<String>, why: String },
    #[error("index.json entry {digest} (role referrer) claims tag {tag:?}: a referrer is pushed by digest only")]
    ReferrerTagged { digest: Digest, tag: String },
    #[error(
        "index.json entry {digest} (role referrer) claims subject {claimed}, but its manifest's subject is {actual}"
    )]
    ReferrerSubject { digest: Digest, claimed: Digest, actual: String },
    #[error("index.json entry {digest} (role {role}) is not a valid {role}: {why}")]
    WrongShape { digest: Digest, role: &'static str, why: String },
    #[error("index.json entry {digest} (role {role}) claims tag {tag:?}, which names the attachments of a digest (sha256-<hex>[.sig|.att|.sbom]), not an image")]
    ReservedTag { digest: Digest, role: &'static str, tag: String },
    #[error("index.json gives tag {tag:?} of repository {repository} to both {first} and {second} (one target tag)")]
    DuplicateTag { repository: String, tag: String, first: Digest, second: Digest },
}

/// Checks every entry of `contents` against what its manifest bytes (digest-checked when
/// the bundle was read) allow it to be, and replaces each attachment's tag by the derived
/// one. Runs before anything else looks at the entries.
pub fn check_entries(contents: &mut Contents) -> Result<(), EntryError> {
    for i in 0..contents.entries.len() {
        let derived = derived_tag(contents, i)?;
        contents.entries[i].tag = derived;
    }
    // Keyed by the repository path: the target repository is PREFIX/<path>, whatever the
    // source host, so `a.corp/team/app:1.0` and `b.corp/team/app:1.0` are one target tag.
    let mut tags: BTreeMap<(&str, &str), &Digest> = BTreeMap::new();
    for e in &contents.entries {
        let Some(tag) = &e.tag else { continue };
        let path = e.repository.split_once('/').map_or(e.repository.as_str(), |(_, p)| p);
        if let Some(first) = tags.insert((path, tag), &e.descriptor.digest) {
            if first != &e.descriptor.digest {
                return Err(EntryError::DuplicateTag {
                    repository: e.repository.clone(),
                    tag: tag.clone(),
                    first: first.clone(),
                    second: e.descriptor.digest.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The tag entry `i` may have at the target, after checking its shape.
fn derived_tag(contents: &Contents, i: usize) -> Result<Option<String>, EntryError> {
    let e = &contents.entries[i];
    let digest = e.descriptor.digest.clone();
    let role = e.role.as_str();
    let shape = |why: &str| EntryError::WrongShape { digest: digest.clone(), role, why: why.to_owned() };
    // The readers close the content graph before this runs: every entry's manifest is here.
    let Some(m) = contents.manifests.get(&digest) else {
        return Err(shape("its manifest is not in the bundle"));
    };
    if let (Role::Image | Role::Platform, Some(tag)) = (e.role, &e.tag) {
        if is_attachment_tag(tag) {
            return Err(EntryError::ReservedTag { digest, role, tag: tag.clone() });
        }
    }
    match e.role {
        Role::Image => Ok(e.tag.clone()),
        Role::Platform => platform_tag_of(contents, i),
        Role::Signature | Role::Attestation | Role::Sbom => {
            let subject = e.subject.clone().ok_or(EntryError::NoSubject { digest: digest.clone(), role })?;
            if media::is_index(&m.media_type) {
                return Err(shape("it is an index, not an image manifest"));
            }
            let wanted: &dyn Fn(&str) -> bool = match e.role {
                Role::Signature => &|t| t == media::COSIGN_SIMPLESIGNING,
                Role::Attestation => &|t| t == media::DSSE_ENVELOPE,
                _ => &is_sbom_media_type,
            };
            let what = match e.role {
                Role::Signature => "cosign simple-signing layers",
                Role::Attestation => "DSSE envelope layers",
                _ => "SBOM layers",
            };
            if m.parsed.layers.is_empty() {
                return Err(shape(&format!("it has no layers; a {role} has {what}")));
            }
            if let Some(l) = m.parsed.layers.iter().find(|l| !wanted(&l.media_type)) {
                return Err(shape(&format!("layer {} is {:?}; a {role} has {what}", l.digest, l.media_type)));
            }
            let suffix = e.role.cosign_suffix().expect("attachment role");
            let derived = format!("{}.{suffix}", subject.tag_prefix());
            match &e.tag {
                Some(claimed) if claimed != &derived => {
                    Err(EntryError::TagMismatch { digest, role, subject, claimed: claimed.clone(), derived })
                }
                _ => Ok(Some(derived)),
            }
        }
        Role::Referrer => {
            let subject = e.subject.clone().ok_or(EntryError::NoSubject { digest: digest.clone(), role })?;
            if let Some(tag) = &e.tag {
                return Err(EntryError::ReferrerTagged { digest, tag: tag.clone() });
            }
            match m.parsed.subject.as_ref().map(|s| &s.digest) {
                Some(actual) if actual == &subject => Ok(None),
                actual => Err(EntryError::ReferrerSubject {
                    digest,
                    claimed: subject,
                    actual: actual.map_or_else(|| "absent".to_owned(), ToString::to_string),
                }),
            }
        }
    }
}

/// A platform manifest carried without its siblings (`save --platform`) is tagged
/// `<index tag>-<os>-<arch>[-<variant>]`, the platform read from its index's bytes; a
/// platform entry whose index carries no tag has none.
fn platform_tag_of(contents: &Contents, i: usize) -> Result<Option<String>, EntryError> {
    let e = &contents.entries[i];
    let Some(claimed) = &e.tag else { return Ok(None) };
    let err = |why: String| EntryError::PlatformTag {
        digest: e.descriptor.digest.clone(),
        role: e.role.as_str(),
        claimed: Some(claimed.clone()),
        why,
    };
    let Some(parent) = &e.subject else { return Err(err("it names no index it belongs to".into())) };
    let Some(child) = contents
        .manifests
        .get(parent)
        .and_then(|m| m.parsed.manifests.iter().find(|c| c.digest == e.descriptor.digest))
    else {
        return Err(err(format!("its index {parent} is not in the bundle or does not list it")));
    };
    let index_tag = contents
        .entries
        .iter()
        .find(|x| x.role == Role::Image && &x.descriptor.digest == parent && x.repository == e.repository)
        .and_then(|x| x.tag.as_ref());
    let Some(index_tag) = index_tag else {
        return Err(err(format!("its index {parent} has no tag in {}", e.repository)));
    };
    let derived = format!("{index_tag}-{}", platform_tag(child.platform.as_ref()));
    if &derived != claimed {
        return Err(err(format!("a platform of {parent} ({index_tag}) is tagged {derived:?}")));
    }
    Ok(Some(derived))
}

/// SBOM layer media types cosign writes (`cosign attach sbom --type spdx|cyclonedx|syft`).
fn is_sbom_media_type(t: &str) -> bool {
    t.starts_with("text/spdx")
        || t.starts_with("application/spdx")
        || t.starts_with("application/vnd.cyclonedx")
        || t == "application/vnd.syft+json"
}

/// `sha256-<64 hex>` (the referrers tag schema) or that with `.sig`, `.att` or `.sbom`:
/// tags cosign and sealift derive for attachments, which an image must not take over.
fn is_attachment_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else { return false };
    let hex = rest.split_once('.').map_or(rest, |(h, _)| h);
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}
