//! OCI 1.1 referrers: the referrers API when the registry has it, else the referrers tag
//! schema (an image index at tag `sha256-<hex>` listing the manifests whose `subject` is
//! that digest), which this client also maintains on push.
//!
//! Some registries answer the `sha256-<hex>` tag with something that is not a referrers
//! index (GitLab serves the image itself): only an OCI index whose entries are image
//! manifests without a platform is read as one, and such a tag is never overwritten.
//! Entries are descriptors as the registry or writer listed them: a caller that trusts a
//! referrer must still fetch it and check its `subject`.

use reqwest::header::{HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};

use super::transport::read_capped;
use super::{pull_scope, Registry, RegistryError};
use crate::oci::manifest::{to_canonical_json, MAX_MANIFEST_BYTES};
use crate::oci::{media, Descriptor, Digest, Index, Manifest};

/// Whether a parsed manifest reads as a referrers index.
fn as_referrers_index(media_type: &str, manifest: &Manifest) -> bool {
    media_type == media::OCI_INDEX
        && manifest.manifests.iter().all(|d| d.platform.is_none() && d.media_type == media::OCI_MANIFEST)
}

enum TagIndex {
    Absent,
    Referrers(Box<Manifest>),
    Other,
}

impl Registry {
    /// Whether the registry implements `GET /v2/<repo>/referrers/<digest>` (asked once per
    /// client: an API answers 200 with an index even for a subject nobody refers to).
    pub async fn has_referrers_api(&self, repo: &str) -> Result<bool, RegistryError> {
        self.inner
            .has_referrers_api
            .get_or_try_init(|| async {
                let probe = Digest::of(b"");
                Ok(self.referrers_api(repo, &probe).await?.is_some())
            })
            .await
            .copied()
    }

    /// The referrers API answer, or `None` if the registry has no such API.
    async fn referrers_api(&self, repo: &str, digest: &Digest) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        let what = format!("referrers of {}/{repo}@{digest}", self.host());
        let mut req =
            self.request(Method::GET, &format!("/v2/{repo}/referrers/{digest}"), pull_scope(repo), Some(repo));
        req.headers.insert(ACCEPT, HeaderValue::from_static(media::OCI_INDEX));
        let resp = self.t().send(req).await?;
        match resp.status() {
            s if s.is_success() => {}
            // No API: distribution 2.8 says 404; others 400 or 405.
            StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST | StatusCode::METHOD_NOT_ALLOWED => return Ok(None),
            _ => return Err(self.t().error_for(resp, &Method::GET, Some(repo), &what).await),
        }
        let body = read_capped(resp, MAX_MANIFEST_BYTES, || what.clone(), self.host()).await?;
        match Manifest::parse(&body, None) {
            Ok((m, mt)) if mt == media::OCI_INDEX => Ok(Some(m.manifests)),
            // A 200 that is not an index is a catch-all route, not a referrers API.
            _ => Ok(None),
        }
    }

    /// The manifests that declare `digest` as their subject.
    pub async fn referrers(&self, repo: &str, digest: &Digest) -> Result<Vec<Descriptor>, RegistryError> {
        if self.has_referrers_api(repo).await? {
            if let Some(list) = self.referrers_api(repo, digest).await? {
                return Ok(list);
            }
        }
        match self.tag_schema_index(repo, digest).await? {
            TagIndex::Referrers(m) => Ok(m.manifests),
            TagIndex::Absent | TagIndex::Other => Ok(Vec::new()),
        }
    }

    /// What the referrers tag-schema tag of `digest` holds.
    async fn tag_schema_index(&self, repo: &str, digest: &Digest) -> Result<TagIndex, RegistryError> {
        let Some(raw) = self.get_manifest(repo, &digest.tag_prefix()).await? else { return Ok(TagIndex::Absent) };
        Ok(match Manifest::parse(&raw.bytes, Some(&raw.media_type)) {
            Ok((m, mt)) if as_referrers_index(&mt, &m) => TagIndex::Referrers(Box::new(m)),
            _ => TagIndex::Other,
        })
    }

    /// Adds `referrer` to the referrers tag-schema index of `subject` (read, add unless a
    /// descriptor with that digest is there, write back sorted by digest, deterministic
    /// JSON). Refuses to overwrite a `sha256-<hex>` tag that holds something else.
    pub async fn add_referrer_to_tag_index(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: Descriptor,
    ) -> Result<(), RegistryError> {
        let _guard = self.inner.referrers_lock.lock().await;
        let tag = subject.tag_prefix();
        let mut index = match self.tag_schema_index(repo, subject).await? {
            TagIndex::Absent => Index::new(Vec::new()),
            TagIndex::Referrers(m) => {
                let m = *m;
                let mut i = Index::new(m.manifests);
                i.annotations = m.annotations;
                i
            }
            TagIndex::Other => {
                return Err(RegistryError::Protocol {
                    host: self.host().to_owned(),
                    what: format!("tag {repo}:{tag} holds something other than a referrers index; not overwriting it"),
                })
            }
        };
        if index.manifests.iter().any(|d| d.digest == referrer.digest) {
            return Ok(());
        }
        index.manifests.push(referrer);
        // Sorted, so the same set of referrers always gives the same index digest.
        index.manifests.sort_by(|a, b| a.digest.cmp(&b.digest));
        let bytes = to_canonical_json(&index);
        self.put_manifest(repo, &tag, &bytes, media::OCI_INDEX).await?;
        Ok(())
    }
}
