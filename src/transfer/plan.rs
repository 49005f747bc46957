//! The load plan: where each entry of a bundle goes at the target, in which order
//! manifests are pushed (children before parents, images before their tags, images
//! before what is attached to them), and which target repositories need which blob.

use std::collections::{BTreeMap, BTreeSet};

use super::admit::Admitted;
use crate::content::{Contents, Entry, ModelError, Role};
use crate::oci::{Digest, Reference};

/// Where the bundle goes: `HOST[:PORT]` and an optional repository prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub host: String,
    /// Repository prefix (`mirror`), or for a layout without repository names the full
    /// target repository.
    pub prefix: String,
    /// Tag for entries that carry none (a `cosign save` layout loaded with `--to host/repo:tag`).
    pub default_tag: Option<String>,
}

/// Why a target is not `HOST[:PORT][/PREFIX]` (or `HOST/REPO[:TAG]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("target {value:?}: {reason}")]
pub struct DestinationError {
    pub value: String,
    pub reason: &'static str,
}

impl Destination {
    /// Parses `HOST[:PORT][/PREFIX]`. For a layout without repository names (from
    /// `cosign save`) the prefix is the full target repository and may end in `:TAG`,
    /// which becomes [`Destination::default_tag`]. No digest.
    pub fn parse(value: &str) -> Result<Destination, DestinationError> {
        if let Some(redacted) = crate::oci::reference::without_userinfo(value) {
            return Err(DestinationError {
                value: redacted,
                reason: "credentials do not belong in --to; use --username with --password-stdin or the Docker config",
            });
        }
        let err = |reason| DestinationError { value: value.to_owned(), reason };
        if value.contains('@') {
            return Err(err("a target takes no digest (HOST[:PORT][/PREFIX], or HOST/REPO[:TAG] for a cosign layout)"));
        }
        let v = value.trim_end_matches('/');
        let (host, prefix) = v.split_once('/').unwrap_or((v, ""));
        if host.is_empty() || host.contains(' ') {
            return Err(err("expected HOST[:PORT][/PREFIX]"));
        }
        // The host must be one a reference could name (host, IPv4/IPv6, optional port).
        let host_ok = format!("{host}/x").parse::<Reference>().is_ok_and(|r| r.registry == host);
        if !host_ok {
            return Err(err("invalid registry host (HOST[:PORT])"));
        }
        if prefix.is_empty() {
            return Ok(Destination { host: host.to_owned(), prefix: String::new(), default_tag: None });
        }
        // The prefix must itself be a valid repository path (with an optional tag).
        let r: Reference =
            format!("{host}/{prefix}").parse().map_err(|_| err("prefix is not a valid repository path"))?;
        let path = match prefix.rsplit_once(':') {
            Some((path, _)) => path,
            None => prefix,
        };
        Ok(Destination { host: host.to_owned(), prefix: path.to_owned(), default_tag: r.tag })
    }

    /// The target repository for an entry's source repository (`host/repo`).
    pub fn repository_for(&self, source_repository: &str) -> String {
        if source_repository.is_empty() {
            return self.prefix.clone();
        }
        let path = source_repository.split_once('/').map(|(_, p)| p).unwrap_or(source_repository);
        if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }
}

/// One manifest push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPush {
    pub repository: String,
    pub digest: Digest,
    /// Tag to PUT after the push by digest.
    pub tag: Option<String>,
    /// Whether the tag may replace a different manifest the target already holds under it:
    /// always for an image; for an attachment's `.sig`/`.att`/`.sbom` tag only when the
    /// attachment itself verified under the site's trust, so an unverified attachment
    /// never spoils a good one at the target (issue 7).
    pub replaces_tag: bool,
    /// For referrers at a target without the referrers API: the subject whose
    /// tag-schema index must list this manifest.
    pub referrer_of: Option<Digest>,
    /// Index of the `index.json` entry this push belongs to.
    pub entry: usize,
}

/// What to push, built only by [`Plan::build`] from an [`Admitted`]: its fields are
/// private, so the pusher cannot be handed anything admission did not let through.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Manifest pushes in order.
    manifests: Vec<ManifestPush>,
    /// Target repositories that need each blob.
    blobs: BTreeMap<Digest, BTreeSet<String>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("index.json entry {digest} has no repository name: give the full target repository in --to")]
    NoRepository { digest: Digest },
    #[error("index.json lists {digest}, which the bundle does not contain")]
    MissingEntry { digest: Digest },
}

impl Plan {
    /// Builds the plan for the entries admission let through: nothing else can be pushed.
    pub fn build(contents: &Contents, dest: &Destination, admitted: &Admitted) -> Result<Plan, PlanError> {
        let mut plan = Plan::default();
        let mut seen = BTreeSet::new();
        let order = |e: &Entry| match e.role {
            Role::Platform => 0,
            Role::Image => 1,
            _ => 2,
        };
        let mut idx: Vec<usize> = admitted.entries().filter(|i| *i < contents.entries.len()).collect();
        idx.sort_by_key(|i| (order(&contents.entries[*i]), *i));
        for i in idx {
            let e = &contents.entries[i];
            if e.repository.is_empty() && dest.prefix.is_empty() {
                return Err(PlanError::NoRepository { digest: e.descriptor.digest.clone() });
            }
            if !contents.manifests.contains_key(&e.descriptor.digest) {
                return Err(PlanError::MissingEntry { digest: e.descriptor.digest.clone() });
            }
            let repo = dest.repository_for(&e.repository);
            // An attachment goes where its subject went; one whose subject is not pushed
            // (the partial index of a --platform save) stays in the bundle only.
            if e.role.is_attachment() {
                let subject_pushed = e
                    .subject
                    .as_ref()
                    .is_some_and(|s| plan.manifests.iter().any(|m| &m.digest == s && m.repository == repo));
                if !subject_pushed {
                    continue;
                }
            }
            let under = contents.manifests_under(&e.descriptor.digest)?;
            for d in &under {
                let m = &contents.manifests[d];
                for child in &m.parsed.manifests {
                    // A partial index (--platform) is carried for its signatures only.
                    if !contents.manifests.contains_key(&child.digest) && e.role != Role::Image {
                        return Err(
                            ModelError::MissingManifest { parent: d.clone(), child: child.digest.clone() }.into()
                        );
                    }
                }
                for b in m.parsed.blobs() {
                    plan.blobs.entry(b.digest.clone()).or_default().insert(repo.clone());
                }
            }
            let partial = e.descriptor.annotations.contains_key(crate::oci::media::ANN_SEALIFT_PARTIAL)
                || under.iter().any(|d| {
                    contents.manifests[d].parsed.manifests.iter().any(|c| !contents.manifests.contains_key(&c.digest))
                });
            for d in under {
                let top = d == e.descriptor.digest;
                if top && partial {
                    // The index cannot exist at the target without all its children.
                    continue;
                }
                // A tag given in --to (for a layout without repository names) wins.
                let tag = match (top, e.role, e.repository.is_empty()) {
                    (true, Role::Image, true) => dest.default_tag.clone().or_else(|| e.tag.clone()),
                    (true, _, _) => e.tag.clone(),
                    (false, _, _) => None,
                };
                let referrer_of = if top && e.role == Role::Referrer { e.subject.clone() } else { None };
                let replaces_tag = !e.role.is_attachment() || admitted.attachment_verified(&d);
                if seen.insert((repo.clone(), d.clone(), tag.clone())) {
                    plan.manifests.push(ManifestPush {
                        repository: repo.clone(),
                        digest: d,
                        tag,
                        replaces_tag,
                        referrer_of,
                        entry: i,
                    });
                }
            }
        }
        Ok(plan)
    }

    /// Manifest pushes in order.
    pub fn manifests(&self) -> &[ManifestPush] {
        &self.manifests
    }

    /// Target repositories that need each blob.
    pub fn blobs(&self) -> &BTreeMap<Digest, BTreeSet<String>> {
        &self.blobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_map_repositories_under_the_prefix() {
        let t = Destination::parse("127.0.0.1:5001/mirror").unwrap();
        assert_eq!(t.repository_for("src:5000/team/app"), "mirror/team/app");
        assert_eq!(t.default_tag, None);
        let t = Destination::parse("127.0.0.1:5001").unwrap();
        assert_eq!(t.repository_for("src:5000/team/app"), "team/app");
        let t = Destination::parse("127.0.0.1:5001/mirror/app:v1").unwrap();
        assert_eq!((t.prefix.as_str(), t.default_tag.as_deref()), ("mirror/app", Some("v1")));
        assert_eq!(t.repository_for(""), "mirror/app");
        for bad in ["127.0.0.1:5001/Mirror", "", "127.0.0.1:5001/app@sha256:00", "a b/c"] {
            assert!(Destination::parse(bad).is_err(), "{bad}");
        }
        let e = Destination::parse("bob:pw2@127.0.0.1:5001/mirror").unwrap_err().to_string();
        assert!(!e.contains("pw2") && e.contains("credentials"), "{e}");
    }
}
