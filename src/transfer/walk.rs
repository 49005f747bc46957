//! The save-side walk: from image references to the full content graph — the index,
//! every (selected) platform manifest, configs and layers, and for every manifest digest
//! walked, its legacy cosign `.sig`/`.att`/`.sbom` tags and its OCI 1.1 referrers
//! (following referrers of referrers to [`MAX_REFERRER_DEPTH`]).
//!
//! The walk only collects manifests and blob descriptors; small metadata blobs and
//! layers are fetched afterwards by the writer, which streams layers.

use std::collections::BTreeSet;
use std::future::Future;

use bytes::Bytes;

use crate::content::{Contents, Entry, ModelError, Role};
use crate::oci::{media, Descriptor, Digest, Platform, Reference};

/// How deep referrers of referrers are followed (a signature on an SBOM on an image = 2).
pub const MAX_REFERRER_DEPTH: usize = 3;
/// At most this many manifests are walked per image (hostile registries).
pub const MAX_MANIFESTS_PER_IMAGE: usize = 4096;

/// A manifest as a source returned it: exact bytes, media type, verified digest.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: Digest,
}

/// Where the walk reads from (a registry; a fake in unit tests).
pub trait Source: Sync {
    type Error: std::error::Error + Send + Sync + 'static;
    /// `Ok(None)` when the manifest does not exist.
    fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> impl Future<Output = Result<Option<Fetched>, Self::Error>> + Send;
    /// Referrer descriptors of `digest` (referrers API or tag-schema index; empty if none).
    fn referrers(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> impl Future<Output = Result<Vec<Descriptor>, Self::Error>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError<E: std::error::Error + 'static> {
    #[error("image {reference} not found")]
    NotFound { reference: String },
    #[error("{reference}: {source}")]
    Source {
        reference: String,
        #[source]
        source: E,
    },
    #[error("{reference}: {source}")]
    Model {
        reference: String,
        #[source]
        source: ModelError,
    },
    #[error("{reference}: index child {child} is missing from the registry")]
    MissingChild { reference: String, child: Digest },
    #[error("{reference}: no platform of the index matches {wanted}")]
    NoPlatform { reference: String, wanted: String },
    #[error("{reference}: more than {MAX_MANIFESTS_PER_IMAGE} manifests")]
    TooManyManifests { reference: String },
    #[error("{reference}: tag resolves to {found}, not the pinned {pinned}")]
    PinMismatch { reference: String, pinned: Digest, found: Digest },
}

/// `os/arch[/variant]` as given to `--platform`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformFilter {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl std::str::FromStr for PlatformFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => {
                Ok(PlatformFilter { os: (*os).into(), architecture: (*arch).into(), variant: None })
            }
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => {
                Ok(PlatformFilter { os: (*os).into(), architecture: (*arch).into(), variant: Some((*v).into()) })
            }
            _ => Err(format!("invalid platform {s:?}: expected os/arch[/variant]")),
        }
    }
}

impl std::fmt::Display for PlatformFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl PlatformFilter {
    pub fn matches(&self, p: &Platform) -> bool {
        self.os == p.os && self.architecture == p.architecture && (self.variant.is_none() || self.variant == p.variant)
    }
}

/// What the walk found for one reference, for the user-facing summary.
#[derive(Debug, Clone)]
pub struct WalkedImage {
    pub reference: Reference,
    pub digest: Digest,
    /// True when `--platform` dropped some children of the index.
    pub partial: bool,
    /// Whether the reference names an index (a multi-platform image).
    pub is_index: bool,
    pub platforms: Vec<String>,
    pub attachments: usize,
}

/// Collects the content graph of several references, possibly from several registries.
pub struct Walker<'a> {
    platforms: &'a [PlatformFilter],
    pub contents: Contents,
    seen_entries: BTreeSet<(Digest, Role, String, Option<String>)>,
}

impl<'a> Walker<'a> {
    pub fn new(platforms: &'a [PlatformFilter]) -> Self {
        Walker { platforms, contents: Contents::default(), seen_entries: BTreeSet::new() }
    }

    fn push_entry(&mut self, e: Entry) {
        let key = (e.descriptor.digest.clone(), e.role, e.repository.clone(), e.tag.clone());
        if self.seen_entries.insert(key) {
            self.contents.entries.push(e);
        }
    }

    async fn fetch<S: Source>(
        source: &S,
        reference: &Reference,
        repo: &str,
        r: &str,
    ) -> Result<Option<Fetched>, WalkError<S::Error>> {
        source.manifest(repo, r).await.map_err(|source| WalkError::Source { reference: reference.to_string(), source })
    }

    fn model<E: std::error::Error>(reference: &Reference) -> impl Fn(ModelError) -> WalkError<E> + '_ {
        move |source| WalkError::Model { reference: reference.to_string(), source }
    }

    /// Walks one reference and everything attached to it.
    pub async fn walk<S: Source>(
        &mut self,
        source: &S,
        reference: &Reference,
    ) -> Result<WalkedImage, WalkError<S::Error>> {
        let repo = reference.repository.as_str();
        let full_repo = reference.repository_name();
        let top = Self::fetch(source, reference, repo, &reference.manifest_reference())
            .await?
            .ok_or_else(|| WalkError::NotFound { reference: reference.to_string() })?;
        if let (Some(pinned), Some(tag)) = (&reference.digest, &reference.tag) {
            // Pinned by digest: the digest is what is carried; the tag must agree, or the
            // user would get a tag at the target pointing somewhere the source tag does not.
            if let Some(by_tag) = Self::fetch(source, reference, repo, tag).await? {
                if &by_tag.digest != pinned {
                    return Err(WalkError::PinMismatch {
                        reference: reference.to_string(),
                        pinned: pinned.clone(),
                        found: by_tag.digest,
                    });
                }
            }
        }
        let mut walked = vec![top.digest.clone()];
        let stored = self
            .contents
            .add_manifest(&full_repo, top.digest.clone(), top.bytes.clone(), Some(&top.media_type), false)
            .map_err(Self::model(reference))?
            .clone();
        let mut platforms = Vec::new();
        let mut partial = false;
        let mut descriptor = Descriptor::new(stored.media_type.clone(), top.digest.clone(), top.bytes.len() as u64);
        descriptor.artifact_type = stored.parsed.artifact_type.clone();
        if media::is_index(&stored.media_type) {
            let mut kept = Vec::new();
            let mut chosen = Vec::new();
            for child in &stored.parsed.manifests {
                let keep = self.platforms.is_empty()
                    || child.platform.as_ref().is_some_and(|p| self.platforms.iter().any(|f| f.matches(p)));
                if !keep {
                    partial = true;
                    continue;
                }
                if !media::is_manifest(&child.media_type) {
                    // Foreign artefacts in an index (rare): carried as blobs? No: refuse clearly.
                    return Err(WalkError::Model {
                        reference: reference.to_string(),
                        source: ModelError::Manifest(crate::oci::manifest::ManifestError::UnknownMediaType {
                            digest: child.digest.to_string(),
                            media_type: child.media_type.clone(),
                        }),
                    });
                }
                chosen.push(child.clone());
            }
            // The children are fetched concurrently and added in the index's order.
            let names: Vec<String> = chosen.iter().map(|c| c.digest.to_string()).collect();
            let fetched_all =
                futures_util::future::try_join_all(names.iter().map(|n| Self::fetch(source, reference, repo, n)))
                    .await?;
            for (child, fetched) in chosen.iter().zip(fetched_all) {
                let fetched = fetched.ok_or_else(|| WalkError::MissingChild {
                    reference: reference.to_string(),
                    child: child.digest.clone(),
                })?;
                self.contents
                    .add_manifest(&full_repo, child.digest.clone(), fetched.bytes, Some(&child.media_type), false)
                    .map_err(Self::model(reference))?;
                if let Some(p) = &child.platform {
                    platforms.push(p.to_string());
                }
                kept.push(child.clone());
                walked.push(child.digest.clone());
            }
            if kept.is_empty() {
                let wanted = self.platforms.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                return Err(WalkError::NoPlatform { reference: reference.to_string(), wanted });
            }
            if partial {
                // The index cannot be recreated at the target without its other children:
                // carry it for its signatures, push the chosen children on their own.
                for child in kept {
                    let mut d = Descriptor::new(child.media_type.clone(), child.digest.clone(), child.size);
                    d.platform = child.platform.clone();
                    let tag = reference.tag.as_ref().map(|t| format!("{t}-{}", platform_tag(child.platform.as_ref())));
                    self.push_entry(Entry {
                        descriptor: d,
                        role: Role::Platform,
                        repository: full_repo.clone(),
                        tag,
                        subject: Some(top.digest.clone()),
                    });
                }
            }
        }
        if partial {
            descriptor.annotations.insert(media::ANN_SEALIFT_PARTIAL.into(), "true".into());
        }
        self.push_entry(Entry {
            descriptor,
            role: Role::Image,
            repository: full_repo.clone(),
            tag: reference.tag.clone(),
            subject: None,
        });

        let before = self.contents.entries.len();
        // Every walked manifest's attachments are fetched concurrently (the three legacy
        // tags and the referrers of each at once), then added in a fixed order: the walk's
        // result does not depend on which answer came first.
        let found = futures_util::future::try_join_all(
            walked.iter().map(|d| fetch_attachments(&self.contents, source, reference, d, 0)),
        )
        .await?;
        for (d, f) in walked.iter().zip(found) {
            self.add_attachments(reference, d, f)?;
            if self.contents.manifests.len() > MAX_MANIFESTS_PER_IMAGE {
                return Err(WalkError::TooManyManifests { reference: reference.to_string() });
            }
        }
        let attachments = self.contents.entries.len() - before;
        let is_index = media::is_index(&stored.media_type);
        Ok(WalkedImage { reference: reference.clone(), digest: top.digest, partial, is_index, platforms, attachments })
    }

    /// Adds what [`fetch_attachments`] found for `subject`, in its order.
    fn add_attachments<E: std::error::Error>(
        &mut self,
        reference: &Reference,
        subject: &Digest,
        found: Found,
    ) -> Result<(), WalkError<E>> {
        let full_repo = reference.repository_name();
        for (role, tag, f) in found.tagged {
            self.contents
                .add_manifest(&full_repo, f.digest.clone(), f.bytes.clone(), Some(&f.media_type), true)
                .map_err(Self::model(reference))?;
            let d = Descriptor::new(f.media_type.clone(), f.digest.clone(), f.bytes.len() as u64);
            self.push_entry(Entry {
                descriptor: d,
                role,
                repository: full_repo.clone(),
                tag: Some(tag),
                subject: Some(subject.clone()),
            });
        }
        for (r, f, children) in found.referrers {
            let stored = self
                .contents
                .add_manifest(&full_repo, f.digest.clone(), f.bytes.clone(), Some(&f.media_type), true)
                .map_err(Self::model(reference))?;
            // Only a manifest whose subject really is this digest is a referrer of it
            // (some registries answer the tag-schema tag with something else).
            if stored.parsed.subject.as_ref().map(|s| &s.digest) != Some(subject) {
                continue;
            }
            let mut d = Descriptor::new(f.media_type.clone(), f.digest.clone(), f.bytes.len() as u64);
            d.artifact_type = r
                .artifact_type
                .clone()
                .or_else(|| stored.parsed.artifact_type.clone())
                .or_else(|| stored.parsed.config.as_ref().map(|c| c.media_type.clone()));
            d.annotations = r.annotations.clone();
            self.push_entry(Entry {
                descriptor: d,
                role: Role::Referrer,
                repository: full_repo.clone(),
                tag: None,
                subject: Some(subject.clone()),
            });
            if let Some(children) = children {
                self.add_attachments(reference, &f.digest, *children)?;
            }
        }
        Ok(())
    }
}

/// The attachments of one subject as fetched: legacy tags (role, tag, manifest) and
/// referrers (as listed, as fetched, and their own attachments when followed).
#[derive(Default)]
struct Found {
    tagged: Vec<(Role, String, Fetched)>,
    referrers: Vec<(Descriptor, Fetched, Option<Box<Found>>)>,
}

/// Legacy cosign tags and OCI referrers of `subject`, recursively for referrers (to
/// [`MAX_REFERRER_DEPTH`]), every request of one level at once. Nothing is added to
/// `known` (what the walk holds so far): [`Walker::add_attachments`] does that afterwards.
fn fetch_attachments<'b, S: Source>(
    known: &'b Contents,
    source: &'b S,
    reference: &'b Reference,
    subject: &'b Digest,
    depth: usize,
) -> BoxedFetch<'b, S::Error> {
    Box::pin(async move {
        let repo = reference.repository.as_str();
        let err = |source| WalkError::Source { reference: reference.to_string(), source };
        let roles: &[Role] = if depth == 0 { &[Role::Signature, Role::Attestation, Role::Sbom] } else { &[] };
        let tags: Vec<(Role, String)> = roles
            .iter()
            .map(|role| (*role, format!("{}.{}", subject.tag_prefix(), role.cosign_suffix().expect("attachment role"))))
            .collect();
        let tag_fetches =
            futures_util::future::try_join_all(tags.iter().map(|(_, tag)| Walker::fetch(source, reference, repo, tag)));
        let listing = async {
            if depth >= MAX_REFERRER_DEPTH {
                return Ok(Vec::new());
            }
            source.referrers(repo, subject).await.map_err(err)
        };
        let (tagged, listed) = futures_util::future::try_join(tag_fetches, listing).await?;
        let mut found = Found::default();
        for ((role, tag), f) in tags.into_iter().zip(tagged) {
            if let Some(f) = f {
                found.tagged.push((role, tag, f));
            }
        }
        let wanted: Vec<Descriptor> = listed
            .into_iter()
            .filter(|r| media::is_manifest(&r.media_type) && !(known.manifests.contains_key(&r.digest) && depth > 0))
            .collect();
        let names: Vec<String> = wanted.iter().map(|r| r.digest.to_string()).collect();
        let fetched =
            futures_util::future::try_join_all(names.iter().map(|n| Walker::fetch(source, reference, repo, n))).await?;
        let fetched: Vec<(Descriptor, Fetched)> =
            wanted.into_iter().zip(fetched).filter_map(|(r, f)| f.map(|f| (r, f))).collect();
        // Follow the referrers whose subject is this digest (the others are kept but not
        // entered, as [`Walker::add_attachments`] decides from the same bytes).
        let follow = |f: &Fetched| {
            crate::oci::Manifest::parse(&f.bytes, Some(&f.media_type))
                .ok()
                .is_some_and(|(m, _)| m.subject.as_ref().map(|s| &s.digest) == Some(subject))
        };
        let children = futures_util::future::try_join_all(fetched.iter().map(|(_, f)| async move {
            if follow(f) {
                fetch_attachments(known, source, reference, &f.digest, depth + 1).await.map(|c| Some(Box::new(c)))
            } else {
                Ok(None)
            }
        }))
        .await?;
        found.referrers = fetched.into_iter().zip(children).map(|((r, f), c)| (r, f, c)).collect();
        Ok(found)
    })
}

/// A [`Source`] that lets at most a fixed number of requests run at once and reports how
/// many are in flight ([`crate::progress::Reporter::requests_in_flight`]), for a walk of
/// many images at once (`save --jobs`).
pub struct Throttled<'s, S> {
    pub inner: &'s S,
    pub permits: &'s tokio::sync::Semaphore,
    pub in_flight: &'s std::sync::atomic::AtomicUsize,
    pub reporter: &'s dyn crate::progress::Reporter,
}

impl<S: Source> Throttled<'_, S> {
    async fn run<T>(&self, request: impl Future<Output = T>) -> T {
        use std::sync::atomic::Ordering;
        let _permit = self.permits.acquire().await.expect("the semaphore is never closed");
        self.reporter.requests_in_flight(self.in_flight.fetch_add(1, Ordering::Relaxed) + 1);
        let out = request.await;
        self.reporter.requests_in_flight(self.in_flight.fetch_sub(1, Ordering::Relaxed) - 1);
        out
    }
}

impl<S: Source> Source for Throttled<'_, S> {
    type Error = S::Error;
    async fn manifest(&self, repo: &str, reference: &str) -> Result<Option<Fetched>, S::Error> {
        self.run(self.inner.manifest(repo, reference)).await
    }
    async fn referrers(&self, repo: &str, digest: &Digest) -> Result<Vec<Descriptor>, S::Error> {
        self.run(self.inner.referrers(repo, digest)).await
    }
}

/// The recursive attachment fetch, boxed (async recursion).
type BoxedFetch<'b, E> = std::pin::Pin<Box<dyn Future<Output = Result<Found, WalkError<E>>> + Send + 'b>>;

/// A tag-safe rendering of a platform (`linux-arm64-v8`).
pub fn platform_tag(p: Option<&Platform>) -> String {
    match p {
        Some(p) => {
            let mut s = format!("{}-{}", p.os, p.architecture);
            if let Some(v) = &p.variant {
                s.push('-');
                s.push_str(v);
            }
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '_' })
                .collect()
        }
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::oci::manifest::to_canonical_json;

    #[derive(Default)]
    struct Fake {
        manifests: HashMap<(String, String), Fetched>,
        referrers: HashMap<Digest, Vec<Descriptor>>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("fake")]
    struct FakeError;

    impl Source for Fake {
        type Error = FakeError;
        async fn manifest(&self, repo: &str, reference: &str) -> Result<Option<Fetched>, FakeError> {
            Ok(self.manifests.get(&(repo.to_owned(), reference.to_owned())).cloned())
        }
        async fn referrers(&self, _repo: &str, digest: &Digest) -> Result<Vec<Descriptor>, FakeError> {
            Ok(self.referrers.get(digest).cloned().unwrap_or_default())
        }
    }

    impl Fake {
        fn put(&mut self, repo: &str, tag: Option<&str>, json: serde_json::Value) -> Descriptor {
            let bytes = Bytes::from(to_canonical_json(&json));
            let digest = Digest::of(&bytes);
            let media_type = json["mediaType"].as_str().unwrap().to_owned();
            let f = Fetched { bytes: bytes.clone(), media_type: media_type.clone(), digest: digest.clone() };
            self.manifests.insert((repo.into(), digest.to_string()), f.clone());
            if let Some(t) = tag {
                self.manifests.insert((repo.into(), t.into()), f);
            }
            Descriptor::new(media_type, digest, bytes.len() as u64)
        }
    }

    fn blob(n: u8) -> serde_json::Value {
        serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": 10, "digest": Digest::of(&[n]).to_string()})
    }

    fn image(layer: u8) -> serde_json::Value {
        serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": media::OCI_CONFIG, "size": 2, "digest": Digest::of(&[100 + layer]).to_string()},
            "layers": [blob(layer), blob(0)]})
    }

    fn sig(subject: Option<&Descriptor>) -> serde_json::Value {
        let mut v = serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": media::OCI_CONFIG, "size": 3, "digest": Digest::of(b"cfg").to_string()},
            "layers": [{"mediaType": media::COSIGN_SIMPLESIGNING, "size": 5, "digest": Digest::of(b"payload").to_string()}]});
        if let Some(s) = subject {
            v["subject"] = serde_json::to_value(s).unwrap();
            v["artifactType"] = media::SIGSTORE_BUNDLE_V03.into();
        }
        v
    }

    /// A multi-arch index with a signature on the index, one on the amd64 child, a
    /// referrer on the arm64 child and a referrer of that referrer.
    fn fixture() -> (Fake, Descriptor, Descriptor, Descriptor) {
        let mut f = Fake::default();
        let mut amd = f.put("app", None, image(1));
        amd.platform =
            Some(Platform { architecture: "amd64".into(), os: "linux".into(), os_version: None, variant: None });
        let mut arm = f.put("app", None, image(2));
        arm.platform = Some(Platform {
            architecture: "arm64".into(),
            os: "linux".into(),
            os_version: None,
            variant: Some("v8".into()),
        });
        let index = f.put(
            "app",
            Some("1.0"),
            serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [amd, arm]}),
        );
        f.put("app", Some(&format!("{}.sig", index.digest.tag_prefix())), sig(None));
        f.put("app", Some(&format!("{}.sig", amd.digest.tag_prefix())), {
            let mut s = sig(None);
            s["annotations"] = serde_json::json!({"n": "amd"});
            s
        });
        let r1 = f.put("app", None, sig(Some(&arm)));
        let r2 = f.put("app", None, {
            let mut s = sig(Some(&r1));
            s["annotations"] = serde_json::json!({"n": "r2"});
            s
        });
        f.referrers.insert(arm.digest.clone(), vec![r1.clone()]);
        f.referrers.insert(r1.digest.clone(), vec![r2]);
        (f, index, amd, arm)
    }

    fn run<T>(fut: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(fut)
    }

    #[test]
    fn walks_every_platform_and_every_attachment() {
        let (f, index, amd, arm) = fixture();
        let mut w = Walker::new(&[]);
        let r: Reference = "reg.test:5000/app:1.0".parse().unwrap();
        let img = run(w.walk(&f, &r)).unwrap();
        assert_eq!(img.digest, index.digest);
        assert!(!img.partial);
        let roles: Vec<(Role, Option<Digest>)> =
            w.contents.entries.iter().map(|e| (e.role, e.subject.clone())).collect();
        assert_eq!(roles[0], (Role::Image, None));
        assert!(roles.contains(&(Role::Signature, Some(index.digest.clone()))));
        assert!(roles.contains(&(Role::Signature, Some(amd.digest.clone()))));
        assert!(roles.contains(&(Role::Referrer, Some(arm.digest.clone()))));
        assert_eq!(roles.iter().filter(|r| r.0 == Role::Referrer).count(), 2, "referrer of referrer followed");
        // Shared layer 0 is one blob; configs and sig payloads are metadata, layers are not.
        assert!(!w.contents.blobs[&Digest::of(&[0])].metadata);
        assert!(w.contents.blobs[&Digest::of(b"payload")].metadata);
        assert_eq!(w.contents.manifests_under(&index.digest).unwrap().last(), Some(&index.digest));
        let entries = Contents::parse_index(&w.contents.index_json()).unwrap();
        assert_eq!(entries, w.contents.entries, "index.json round-trips");
    }

    #[test]
    fn platform_filter_keeps_chosen_children_and_marks_partial() {
        let (f, _index, amd, arm) = fixture();
        let filters = vec!["linux/arm64".parse().unwrap()];
        let mut w = Walker::new(&filters);
        let img = run(w.walk(&f, &"reg.test:5000/app:1.0".parse().unwrap())).unwrap();
        assert!(img.partial);
        assert!(!w.contents.manifests.contains_key(&amd.digest));
        let plat: Vec<&Entry> = w.contents.entries.iter().filter(|e| e.role == Role::Platform).collect();
        assert_eq!(plat.len(), 1);
        assert_eq!(plat[0].descriptor.digest, arm.digest);
        assert_eq!(plat[0].tag.as_deref(), Some("1.0-linux-arm64-v8"));
        let none = vec!["windows/amd64".parse().unwrap()];
        let mut w = Walker::new(&none);
        assert!(matches!(
            run(w.walk(&f, &"reg.test:5000/app:1.0".parse().unwrap())),
            Err(WalkError::NoPlatform { .. })
        ));
    }

    #[test]
    fn missing_image_is_not_found() {
        let (f, ..) = fixture();
        let mut w = Walker::new(&[]);
        let err = run(w.walk(&f, &"reg.test:5000/app:2.0".parse().unwrap())).unwrap_err();
        assert_eq!(err.to_string(), "image reg.test:5000/app:2.0 not found");
    }
}
