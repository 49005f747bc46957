//! What a delta bundle assumes is already at the site (issue 10 §2): the blobs it leaves
//! out, each with its size and the *base* that promised it (a site inventory, or an
//! earlier bundle). Written by `save --have` as one `index.json` annotation,
//! [`ANN_DELTA`], whose value is the compact JSON of [`Delta`] (docs/bundle.md, "Delta
//! bundles"), and repeated in the seal.
//!
//! Everything here is read from a bundle and so untrusted until checked: [`Delta::parse`]
//! is strict (unknown fields, unsorted or duplicate digests, a dangling base refused), and
//! [`Delta::check_against`] ties the list to the content graph (every assumed blob is
//! referenced by a manifest with that size). That an assumed blob is not also in the
//! bundle is checked by the readers, which see the blobs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Contents, ModelError};
use crate::oci::Digest;

/// The `index.json` annotation holding the delta description; the version is part of the
/// key so that a reader of this version refuses any other (see [`is_delta_annotation`]).
pub const ANN_DELTA: &str = "dev.sealift.delta.v1";
/// The prefix of every delta annotation, present and future.
pub const ANN_DELTA_PREFIX: &str = "dev.sealift.delta";

/// Whether `key` is some version of the delta annotation.
pub fn is_delta_annotation(key: &str) -> bool {
    key.starts_with(ANN_DELTA_PREFIX)
}

/// What a delta bundle leaves out, and who promised it. Empty for a full bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delta {
    /// Where the assumptions come from; [`Assumed::base`] indexes this list.
    pub bases: Vec<Base>,
    /// Sorted by digest, each digest once.
    pub assumed: Vec<Assumed>,
}

/// One source of "the site has it".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Base {
    pub kind: BaseKind,
    /// Inventory: the sha256 of the inventory file's bytes. Bundle: the digest of the base
    /// bundle's `index.json` (which names every manifest it holds).
    pub digest: Digest,
    /// Inventory only: the registry host (and port) it lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Inventory only: the repository prefix it lists (empty: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseKind {
    /// A site inventory (`sealift inventory`).
    Inventory,
    /// An earlier sealift bundle (full or delta).
    Bundle,
}

/// One blob the bundle does not hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumed {
    pub digest: Digest,
    pub size: u64,
    /// Index into [`Delta::bases`].
    pub base: usize,
    /// Where the base says the blob is, so that `load` can mount it into another target
    /// repository (at most [`MAX_REPOSITORIES`]). Inventory: repository paths at the
    /// site's registry. Bundle: source repositories (`host/path`) of the base, which
    /// `load` maps under its `--to` prefix as it maps the bundle's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
}

/// Repositories recorded per assumed blob.
pub const MAX_REPOSITORIES: usize = 8;

impl std::fmt::Display for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            BaseKind::Inventory => {
                let registry = crate::escape::clean(self.registry.as_deref().unwrap_or(""));
                let prefix = crate::escape::clean(self.prefix.as_deref().unwrap_or(""));
                let slash = if prefix.is_empty() { "" } else { "/" };
                write!(f, "inventory {} of {registry}{slash}{prefix}", self.digest)
            }
            BaseKind::Bundle => write!(f, "base bundle with index.json {}", self.digest),
        }
    }
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.assumed.is_empty()
    }

    /// The assumption about `digest`, if any.
    pub fn get(&self, digest: &Digest) -> Option<&Assumed> {
        self.assumed.binary_search_by(|a| a.digest.cmp(digest)).ok().map(|i| &self.assumed[i])
    }

    pub fn assumes(&self, digest: &Digest) -> bool {
        self.get(digest).is_some()
    }

    /// The base that promised `a`.
    pub fn base_of(&self, a: &Assumed) -> &Base {
        &self.bases[a.base]
    }

    /// Bytes the bundle leaves out.
    pub fn assumed_bytes(&self) -> u64 {
        self.assumed.iter().map(|a| a.size).sum()
    }

    /// Builds a delta from `digest → (size, base)` choices; bases are deduplicated and
    /// only those used are kept, so the bytes depend only on what is assumed.
    pub fn build(choices: BTreeMap<Digest, (u64, Base, Vec<String>)>) -> Delta {
        let mut bases: Vec<Base> = choices.values().map(|(_, b, _)| b.clone()).collect();
        bases.sort();
        bases.dedup();
        let assumed = choices
            .into_iter()
            .map(|(digest, (size, base, mut repositories))| {
                repositories.sort();
                repositories.dedup();
                repositories.truncate(MAX_REPOSITORIES);
                Assumed { digest, size, base: bases.binary_search(&base).expect("collected above"), repositories }
            })
            .collect();
        Delta { bases, assumed }
    }

    /// The annotation value: compact JSON.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("plain data")
    }

    /// Reads the delta annotations of an `index.json` (untrusted): none gives an empty
    /// delta; an unknown version or a malformed value is refused.
    pub fn parse(annotations: &BTreeMap<String, String>) -> Result<Delta, ModelError> {
        let bad = |reason: String| ModelError::BadDelta { reason };
        if let Some(k) = annotations.keys().find(|k| is_delta_annotation(k) && k.as_str() != ANN_DELTA) {
            return Err(bad(format!(
                "unknown delta annotation {:?} (this sealift reads {ANN_DELTA})",
                crate::escape::clean(k)
            )));
        }
        let Some(value) = annotations.get(ANN_DELTA) else { return Ok(Delta::default()) };
        let d: Delta = serde_json::from_str(value).map_err(|e| bad(e.to_string()))?;
        if d.assumed.is_empty() {
            return Err(bad("it assumes no blob".into()));
        }
        if d.assumed.windows(2).any(|w| w[0].digest >= w[1].digest) {
            return Err(bad("assumed blobs are not sorted by digest, or one is listed twice".into()));
        }
        if let Some(a) = d.assumed.iter().find(|a| a.base >= d.bases.len()) {
            return Err(bad(format!("blob {} names base {}, which is not listed", a.digest, a.base)));
        }
        if let Some(a) = d.assumed.iter().find(|a| a.repositories.len() > MAX_REPOSITORIES) {
            return Err(bad(format!("blob {} lists more than {MAX_REPOSITORIES} repositories", a.digest)));
        }
        for a in &d.assumed {
            // Names become registry paths at load: only valid repository names.
            let full = match d.bases[a.base].kind {
                BaseKind::Inventory => |r: &String| format!("site.invalid/{r}"),
                BaseKind::Bundle => |r: &String| r.clone(),
            };
            let valid = |r: &String| {
                let f = full(r);
                f.parse::<crate::oci::Reference>()
                    .is_ok_and(|p| p.tag.is_none() && p.digest.is_none() && p.repository_name() == f)
            };
            if a.repositories.iter().any(|r| !valid(r)) {
                return Err(bad(format!("blob {} lists an invalid repository name", a.digest)));
            }
        }
        for b in &d.bases {
            let inventory = b.kind == BaseKind::Inventory;
            if inventory != b.registry.is_some() || inventory != b.prefix.is_some() {
                return Err(bad(format!("base {} has the wrong fields for its kind", b.digest)));
            }
        }
        Ok(d)
    }

    /// Every assumed blob must be one the bundle's manifests reference, with the size
    /// their descriptors give: a delta may leave out only what it needs.
    pub fn check_against(&self, contents: &Contents) -> Result<(), ModelError> {
        for a in &self.assumed {
            match contents.blobs.get(&a.digest) {
                None => {
                    return Err(ModelError::BadDelta {
                        reason: format!("assumed blob {} is referenced by no manifest of the bundle", a.digest),
                    })
                }
                Some(b) if b.size != a.size => {
                    return Err(ModelError::BadDelta {
                        reason: format!(
                            "assumed blob {} is {} bytes in the delta but {} in its manifest",
                            a.digest, a.size, b.size
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Base {
        Base {
            kind: BaseKind::Inventory,
            digest: Digest::of(b"inv"),
            registry: Some("site:5000".into()),
            prefix: Some("mirror".into()),
        }
    }

    fn bundle() -> Base {
        Base { kind: BaseKind::Bundle, digest: Digest::of(b"idx"), registry: None, prefix: None }
    }

    #[test]
    fn build_then_parse_round_trips() {
        let mut c = BTreeMap::new();
        c.insert(Digest::of(b"b"), (7, bundle(), vec!["src:5000/app".into(), "src:5000/app".into()]));
        c.insert(Digest::of(b"a"), (5, inv(), vec![]));
        c.insert(Digest::of(b"c"), (9, inv(), vec![]));
        let d = Delta::build(c);
        assert_eq!(d.bases.len(), 2);
        assert_eq!(d.assumed_bytes(), 21);
        let mut ann = BTreeMap::new();
        ann.insert(ANN_DELTA.to_owned(), d.to_annotation());
        assert_eq!(Delta::parse(&ann).unwrap(), d);
        assert_eq!(d.base_of(d.get(&Digest::of(b"b")).unwrap()), &bundle());
        assert_eq!(d.get(&Digest::of(b"b")).unwrap().repositories, ["src:5000/app"]);
        assert!(Delta::parse(&BTreeMap::new()).unwrap().is_empty());
    }

    #[test]
    fn parse_refuses_what_a_writer_would_not_write() {
        let a = Digest::of(b"a").to_string();
        let b = Digest::of(b"b").to_string();
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let base =
            r#"{"kind":"bundle","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}"#;
        let cases = [
            (
                ANN_DELTA,
                format!(
                    r#"{{"bases":[{base}],"assumed":[{{"digest":"{hi}","size":1,"base":0}},{{"digest":"{lo}","size":1,"base":0}}]}}"#
                ),
                "not sorted",
            ),
            (
                ANN_DELTA,
                format!(r#"{{"bases":[{base}],"assumed":[{{"digest":"{lo}","size":1,"base":1}}]}}"#),
                "not listed",
            ),
            (
                ANN_DELTA,
                format!(r#"{{"bases":[{base}],"assumed":[{{"digest":"{lo}","size":1,"base":0,"x":1}}]}}"#),
                "unknown field",
            ),
            (ANN_DELTA, r#"{"bases":[],"assumed":[]}"#.to_owned(), "assumes no blob"),
            (
                ANN_DELTA,
                format!(
                    r#"{{"bases":[{{"kind":"inventory","digest":"{lo}"}}],"assumed":[{{"digest":"{lo}","size":1,"base":0}}]}}"#
                ),
                "wrong fields",
            ),
            ("dev.sealift.delta.v2", "{}".to_owned(), "unknown delta annotation"),
        ];
        for (key, value, want) in cases {
            let mut ann = BTreeMap::new();
            ann.insert(key.to_owned(), value);
            let e = Delta::parse(&ann).unwrap_err().to_string();
            assert!(e.contains(want), "{e} should say {want}");
        }
    }
}
