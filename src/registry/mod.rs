//! A client for the OCI distribution API: manifests, blobs, tags and referrers, over
//! reqwest. It moves bytes and never judges them (beyond checking digests).
//!
//! Why not oci-client: it does not return a manifest's Content-Type, its blob HEAD gives
//! no size, it never retries, it swallows token-fetch errors (they surface later as a
//! puzzling 401/403), and nothing maintains the referrers tag-schema index on push. This
//! client does all of those in a few hundred lines we control.
//!
//! - Manifest reads send the full Accept list ([`media::MANIFEST_TYPES`]): distribution
//!   answers 404 for an OCI manifest (even by digest) without it. Bodies are capped at
//!   [`MAX_MANIFEST_BYTES`] while reading and their digest is checked.
//! - Manifest writes send the caller's bytes untouched with `Content-Type` = media type.
//! - Blob uploads are POST then one streamed monolithic PUT `?digest=` (distribution 2.8
//!   silently ignores a single POST `?digest=` with a body).
//! - Plain http is used for loopback hosts (`127.0.0.0/8`, `localhost`, `[::1]`) unless CA
//!   certificates are given (then the registry is expected to speak TLS), and for other
//!   hosts only with [`RegistryOptions::plain_http`].
//! - Replayable requests are retried on connection errors, 5xx and 429 with exponential
//!   backoff and `Retry-After`; streamed uploads are not (the caller re-runs; blobs already
//!   present are skipped).

mod auth;
mod catalog;
mod download;
mod error;
mod progress;
mod referrers;
mod transport;

use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LINK, LOCATION};
use reqwest::{Method, StatusCode};

use crate::oci::manifest::MAX_MANIFEST_BYTES;
use crate::oci::{media, Digest, Manifest};

pub use auth::{parse_challenge, Challenge, Credentials};
pub use catalog::under_prefix;
use download::Expect;
pub use error::RegistryError;
pub use progress::MIN_PROGRESS;
use transport::{header_str, read_capped, Request, Transport};

/// Largest tag list page we read.
const MAX_TAG_PAGE_BYTES: usize = 16 * 1024 * 1024;
/// Most `Link` pages followed when listing tags.
const MAX_TAG_PAGES: usize = 1000;

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Speak plain http to a non-loopback host.
    pub plain_http: bool,
    /// Extra trusted CA certificates (PEM files), added to the system roots.
    pub ca_certs: Vec<PathBuf>,
    /// Explicit credentials; take precedence over the Docker config.
    pub credentials: Option<Credentials>,
    /// Look up credentials in `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
    pub use_docker_config: bool,
    /// Retries of a replayable request after a connection error, 5xx or 429.
    pub max_retries: u32,
    /// First backoff delay; doubles on every retry (capped at 30 s).
    pub retry_base_delay: Duration,
    /// A metadata request (manifest, tags, token, small blob upload) must be answered in
    /// full within this; a blob transfer must move [`MIN_PROGRESS`] bytes in every window
    /// of this length, and its response headers must arrive within it.
    pub timeout: Duration,
}

/// Default of [`RegistryOptions::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            plain_http: false,
            ca_certs: Vec::new(),
            credentials: None,
            use_docker_config: true,
            max_retries: 4,
            retry_base_delay: Duration::from_millis(200),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A manifest as the registry served it: exact bytes, media type, verified digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: Digest,
}

/// A blob's bytes as they arrive. The last item is an error if the content does not hash
/// to the requested digest: count the blob only once the stream ended cleanly.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Bytes, RegistryError>> + Send + 'static>>;

/// One registry (one host). Cheap to clone; clones share connections and tokens.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    t: Transport,
    /// Serializes read-modify-write of referrers tag-schema indexes within this process.
    referrers_lock: tokio::sync::Mutex<()>,
    has_referrers_api: tokio::sync::OnceCell<bool>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry({})", self.inner.t.base)
    }
}

/// Whether `host` (with optional port) names this machine.
fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

fn is_digest(reference: &str) -> Option<Digest> {
    reference.parse().ok()
}

impl Registry {
    /// A client for `host` (`reg.example`, `127.0.0.1:5000`, `docker.io`). No I/O.
    pub fn new(host: &str, opts: &RegistryOptions) -> Result<Registry, RegistryError> {
        // A host with user info is refused below; its message must not repeat a password.
        let shown = crate::oci::reference::without_userinfo(host).unwrap_or_else(|| host.to_owned());
        let config_err = |reason: String| RegistryError::Config { host: shown.clone(), reason };
        // Docker Hub's API lives elsewhere than its name.
        let api_host = if host == crate::oci::reference::DOCKER_HUB { "registry-1.docker.io" } else { host };
        let plain = opts.plain_http || (is_loopback(host) && opts.ca_certs.is_empty());
        let scheme = if plain { "http" } else { "https" };
        let base = url::Url::parse(&format!("{scheme}://{api_host}/"))
            .ok()
            .filter(|u| u.path() == "/" && u.query().is_none() && u.username().is_empty())
            .ok_or_else(|| config_err("not a valid registry host".to_owned()))?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("sealift/", env!("CARGO_PKG_VERSION")))
            // No read timeout: it would run from the request's start and cut long uploads.
            // Requests get a deadline or a progress watchdog instead (see `timeout`).
            .connect_timeout(Duration::from_secs(30).min(opts.timeout));
        for path in &opts.ca_certs {
            let pem =
                std::fs::read(path).map_err(|e| config_err(format!("reading CA file {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| config_err(format!("CA file {} is not PEM certificates: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(config_err(format!("CA file {} holds no certificate", path.display())));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder.build().map_err(|e| config_err(format!("building the HTTP client: {e}")))?;
        let t = Transport {
            host: host.to_owned(),
            base,
            client,
            auth: auth::Auth::new(host, opts.credentials.clone(), opts.use_docker_config),
            max_retries: opts.max_retries,
            retry_base_delay: opts.retry_base_delay,
            timeout: opts.timeout,
        };
        Ok(Registry {
            inner: Arc::new(Inner {
                t,
                referrers_lock: tokio::sync::Mutex::new(()),
                has_referrers_api: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The host this client talks to, as given to [`Registry::new`].
    pub fn host(&self) -> &str {
        &self.inner.t.host
    }

    fn t(&self) -> &Transport {
        &self.inner.t
    }

    fn what_manifest(&self, repo: &str, reference: &str) -> String {
        let sep = if is_digest(reference).is_some() { '@' } else { ':' };
        format!("manifest {}/{repo}{sep}{reference}", self.host())
    }

    fn what_blob(&self, repo: &str, digest: &Digest) -> String {
        format!("blob {}/{repo}@{digest}", self.host())
    }

    fn request<'a>(&self, method: Method, path: &str, scope: String, repo: Option<&'a str>) -> Request<'a> {
        Request {
            method,
            url: self.t().url(path),
            headers: HeaderMap::new(),
            body: None,
            scope,
            repo,
            deadline: Some(self.t().timeout),
        }
    }

    /// `GET /v2/`: reachable, speaks the API, and our credentials (if asked for) work.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let resp = self.t().send(self.request(Method::GET, "/v2/", String::new(), None)).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(self.t().error_for(resp, &Method::GET, None, &format!("registry API at {}", self.host())).await)
        }
    }

    fn manifest_request<'a>(&self, method: Method, repo: &'a str, reference: &str) -> Request<'a> {
        let mut req = self.request(method, &format!("/v2/{repo}/manifests/{reference}"), pull_scope(repo), Some(repo));
        req.headers.insert(ACCEPT, HeaderValue::from_str(&media::MANIFEST_TYPES.join(", ")).expect("static"));
        req
    }

    /// Fetches a manifest by tag or digest; `None` if the registry has no such manifest.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<Option<RawManifest>, RegistryError> {
        let what = self.what_manifest(repo, reference);
        let resp = self.t().send(self.manifest_request(Method::GET, repo, reference)).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.t().error_for(resp, &Method::GET, Some(repo), &what).await);
        }
        let content_type = header_str(resp.headers(), CONTENT_TYPE.as_str()).map(str::to_owned);
        let announced = header_str(resp.headers(), "docker-content-digest").and_then(|d| d.parse::<Digest>().ok());
        let bytes = read_capped(resp, MAX_MANIFEST_BYTES, || what.clone(), self.host()).await?;
        let digest = Digest::of(&bytes);
        if let Some(expected) = is_digest(reference).or(announced) {
            if expected != digest {
                return Err(RegistryError::DigestMismatch { what, expected, actual: digest });
            }
        }
        let media_type = manifest_media_type(content_type.as_deref(), &bytes);
        Ok(Some(RawManifest { bytes, media_type, digest }))
    }

    /// HEADs a manifest: `(digest, media type, size)`, or `None` if absent. Falls back to a
    /// GET when the registry omits `Docker-Content-Digest` for a tag.
    pub async fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(Digest, String, u64)>, RegistryError> {
        let what = self.what_manifest(repo, reference);
        let resp = self.t().send(self.manifest_request(Method::HEAD, repo, reference)).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.t().error_for(resp, &Method::HEAD, Some(repo), &what).await);
        }
        let h = resp.headers();
        let digest = header_str(h, "docker-content-digest").and_then(|d| d.parse::<Digest>().ok());
        let media_type = header_str(h, CONTENT_TYPE.as_str()).map(strip_params).filter(|m| media::is_manifest(m));
        let size = header_str(h, CONTENT_LENGTH.as_str()).and_then(|s| s.parse::<u64>().ok());
        match (digest.or_else(|| is_digest(reference)), media_type, size) {
            (Some(d), Some(m), Some(s)) => Ok(Some((d, m.to_owned(), s))),
            _ => Ok(self.get_manifest(repo, reference).await?.map(|m| (m.digest, m.media_type, m.bytes.len() as u64))),
        }
    }

    /// Stores `bytes` (untouched) as a manifest under `reference` (tag or digest).
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        let what = self.what_manifest(repo, reference);
        let mut req =
            self.request(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"), push_scope(repo), Some(repo));
        let ct = HeaderValue::from_str(media_type).map_err(|_| RegistryError::Config {
            host: self.host().to_owned(),
            reason: format!("media type {media_type:?} is not a valid header value"),
        })?;
        req.headers.insert(CONTENT_TYPE, ct);
        req.body = Some(Bytes::copy_from_slice(bytes));
        let resp = self.t().send(req).await?;
        if !resp.status().is_success() {
            return Err(self.t().error_for(resp, &Method::PUT, Some(repo), &what).await);
        }
        let digest = Digest::of(bytes);
        if let Some(stored) = header_str(resp.headers(), "docker-content-digest").and_then(|d| d.parse::<Digest>().ok())
        {
            if stored != digest {
                return Err(RegistryError::DigestMismatch { what, expected: digest, actual: stored });
            }
        }
        Ok(digest)
    }

    /// `HEAD` a blob: its size if present, `None` if absent.
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        let req = self.request(Method::HEAD, &format!("/v2/{repo}/blobs/{digest}"), pull_scope(repo), Some(repo));
        let resp = self.t().send(req).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            // Read the header: reqwest reports a HEAD response's (empty) body length instead.
            s if s.is_success() => {
                Ok(Some(header_str(resp.headers(), CONTENT_LENGTH.as_str()).and_then(|v| v.parse().ok()).unwrap_or(0)))
            }
            _ => Err(self.t().error_for(resp, &Method::HEAD, Some(repo), &self.what_blob(repo, digest)).await),
        }
    }

    /// Streams a blob of `size` bytes (its descriptor's). Connection failures before the
    /// first byte are retried; a connection that drops or stalls (see
    /// [`RegistryOptions::timeout`]) mid-body is resumed with a `Range` request from the
    /// byte where it stopped, up to the configured retries (see `registry/download.rs`). A body that
    /// runs past `size` (stopped at byte `size + 1`) or ends short, content that does not
    /// hash to `digest`, or a failure after the retries, is the stream's last item.
    /// A missing blob is [`RegistryError::NotFound`].
    pub async fn get_blob(&self, repo: &str, digest: &Digest, size: u64) -> Result<BlobStream, RegistryError> {
        self.blob_stream(repo, digest, Expect::Exact(size)).await
    }

    /// Reads a whole blob into memory (configs, signature payloads), refusing more than
    /// `max` bytes and checking the digest.
    pub async fn get_blob_bytes(&self, repo: &str, digest: &Digest, max: usize) -> Result<Bytes, RegistryError> {
        let mut stream = self.blob_stream(repo, digest, Expect::AtMost(max as u64)).await?;
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// Starts an upload session; returns the URL to PUT to.
    async fn start_upload(&self, repo: &str, digest: &Digest) -> Result<url::Url, RegistryError> {
        let what = self.what_blob(repo, digest);
        let mut req = self.request(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), push_scope(repo), Some(repo));
        req.body = Some(Bytes::new());
        let resp = self.t().send(req).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.t().error_for(resp, &Method::POST, Some(repo), &what).await);
        }
        let location = header_str(resp.headers(), LOCATION.as_str())
            .and_then(|l| transport::join_location(&self.t().base, l))
            .ok_or_else(|| RegistryError::Protocol {
                host: self.host().to_owned(),
                what: format!("upload of {what} started without a usable Location header"),
            })?;
        Ok(transport::with_query(location, "digest", &digest.to_string()))
    }

    async fn finish_upload(&self, resp: reqwest::Response, repo: &str, digest: &Digest) -> Result<(), RegistryError> {
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.t().error_for(resp, &Method::PUT, Some(repo), &self.what_blob(repo, digest)).await)
    }

    /// Uploads an in-memory blob (POST + PUT; both retried).
    pub async fn put_blob_bytes(&self, repo: &str, digest: &Digest, bytes: Bytes) -> Result<(), RegistryError> {
        let url = self.start_upload(repo, digest).await?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        // One timeout per started MiB: at least MIN_PROGRESS per window, and then some.
        let windows = 1 + u32::try_from(bytes.len() >> 20).unwrap_or(u32::MAX);
        let req = Request {
            method: Method::PUT,
            url,
            headers,
            body: Some(bytes),
            scope: push_scope(repo),
            repo: Some(repo),
            deadline: Some(self.t().timeout.saturating_mul(windows)),
        };
        let resp = self.t().send(req).await?;
        self.finish_upload(resp, repo, digest).await
    }

    /// Uploads a blob of `size` bytes from a stream in one monolithic PUT with
    /// Content-Length, which must move [`MIN_PROGRESS`] bytes per timeout window (and be
    /// answered within one window once sent). Not retried (the stream cannot be replayed):
    /// on a transient error ([`RegistryError::is_transient`]) run it again with a fresh stream.
    pub async fn put_blob_stream<S>(&self, repo: &str, digest: &Digest, size: u64, body: S) -> Result<(), RegistryError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let source_failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        self.put_blob_once(repo, digest, size, body, source_failed).await
    }

    /// Uploads a blob of `size` bytes from a source that can be read again from its start
    /// (a layer at its offset in an uncompressed bundle, a file of a layout directory):
    /// as [`Registry::put_blob_stream`], but a transient failure (connection reset, 5xx,
    /// 429, a stall; [`RegistryError::is_transient`]) is retried up to the configured
    /// number of retries with backoff, each time in a new upload session with a fresh
    /// stream from `open`. A failure of the source stream itself (an I/O error, a failed
    /// digest check in the reader) is never retried: that error is returned at once.
    pub async fn put_blob_reopening<S>(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        mut open: impl FnMut() -> S + Send,
    ) -> Result<(), RegistryError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let mut attempt = 0u32;
        loop {
            let source_failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let result = self.put_blob_once(repo, digest, size, open(), source_failed.clone()).await;
            match result {
                Err(e)
                    if e.is_transient()
                        && attempt < self.t().max_retries
                        && !source_failed.load(std::sync::atomic::Ordering::Relaxed) =>
                {
                    let delay = self.t().backoff(attempt);
                    tracing::debug!(host = %self.host(), %digest, attempt, ?delay, error = %e, "retrying the blob upload");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn put_blob_once<S>(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        body: S,
        source_failed: Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<(), RegistryError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let url = self.start_upload(repo, digest).await?;
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let body = progress::Counting { inner: Box::pin(body), sent: sent.clone(), source_failed };
        let builder = self
            .t()
            .client
            .put(url.clone())
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body));
        let scope = push_scope(repo);
        let upload = self.t().send_once(builder, &url, &scope);
        let what = self.what_blob(repo, digest);
        let resp = progress::watch_upload(upload, sent, size, self.t().timeout, what).await??;
        self.finish_upload(resp, repo, digest).await
    }

    /// Cross-repository mount of `digest` from `from_repo`. `true` if mounted; `false` if
    /// the registry declined (then upload it).
    pub async fn mount_blob(&self, repo: &str, from_repo: &str, digest: &Digest) -> Result<bool, RegistryError> {
        let path = format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from_repo}");
        let scope = format!("{} {}", push_scope(repo), pull_scope(from_repo));
        let mut req = self.request(Method::POST, &path, scope, Some(repo));
        req.body = Some(Bytes::new());
        let resp = self.t().send(req).await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            // 202: the registry opened an ordinary upload session instead; it expires by itself.
            StatusCode::ACCEPTED | StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.t().error_for(resp, &Method::POST, Some(repo), &self.what_blob(repo, digest)).await),
        }
    }

    /// Every tag of `repo`, following `Link` pagination. A missing repository is NotFound.
    pub async fn list_tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let what = format!("repository {}/{repo}", self.host());
        let mut url = self.t().url(&format!("/v2/{repo}/tags/list"));
        let mut tags = Vec::new();
        for _ in 0..MAX_TAG_PAGES {
            let req = Request {
                method: Method::GET,
                url,
                headers: HeaderMap::new(),
                body: None,
                scope: pull_scope(repo),
                repo: Some(repo),
                deadline: Some(self.t().timeout),
            };
            let resp = self.t().send(req).await?;
            if !resp.status().is_success() {
                return Err(self.t().error_for(resp, &Method::GET, Some(repo), &what).await);
            }
            let next =
                header_str(resp.headers(), LINK.as_str()).and_then(next_link).and_then(|l| self.t().base.join(&l).ok());
            let body = read_capped(resp, MAX_TAG_PAGE_BYTES, || format!("tag list of {what}"), self.host()).await?;
            let page: TagList = serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                host: self.host().to_owned(),
                what: format!("tag list of {repo} is not valid JSON: {e}"),
            })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) => url = n,
                None => return Ok(tags),
            }
        }
        Err(RegistryError::TooLarge { what: format!("tag list of {what}"), limit: MAX_TAG_PAGES as u64 })
    }
}

/// The `rel="next"` target of a `Link` header: `</v2/x/tags/list?n=100&last=b>; rel="next"`.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next")
            .then(|| target.to_owned())
    })
}

fn strip_params(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// The media type of fetched manifest bytes: the Content-Type if it is a manifest type,
/// else what the body says (its `mediaType`, or its shape), else the Content-Type as is.
fn manifest_media_type(content_type: Option<&str>, bytes: &[u8]) -> String {
    let ct = content_type.map(strip_params).unwrap_or("");
    if media::is_manifest(ct) {
        return ct.to_owned();
    }
    match Manifest::parse(bytes, None) {
        Ok((_, media_type)) => media_type,
        Err(_) => ct.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1:5000", "127.1.2.3", "localhost", "LOCALHOST:80", "[::1]:5000", "[::1]"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["reg.example", "10.0.0.1:5000", "[2001:db8::1]:443", "localhost.example"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn follows_link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(next_link(r#"<https://r/x>; rel="prev", <https://r/y>; rel=next"#).as_deref(), Some("https://r/y"));
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn media_type_from_header_or_body() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert_eq!(
            manifest_media_type(Some("application/vnd.oci.image.index.v1+json; charset=utf-8"), m),
            media::OCI_INDEX
        );
        assert_eq!(manifest_media_type(Some("application/json"), m), media::OCI_INDEX);
        assert_eq!(manifest_media_type(None, br#"{"schemaVersion":2,"layers":[]}"#), media::OCI_MANIFEST);
        assert_eq!(manifest_media_type(Some("text/plain"), b"not json"), "text/plain");
    }

    #[test]
    fn rejects_bad_hosts() {
        let o = RegistryOptions::default();
        assert!(matches!(Registry::new("bad host/x", &o), Err(RegistryError::Config { .. })));
        let e = Registry::new("user:pw@reg.example", &o).unwrap_err();
        assert!(matches!(e, RegistryError::Config { .. }) && !e.to_string().contains("pw"), "{e}");
        let ok = Registry::new("127.0.0.1:5000", &o).unwrap();
        assert_eq!(ok.inner.t.base.as_str(), "http://127.0.0.1:5000/");
        assert_eq!(Registry::new("docker.io", &o).unwrap().inner.t.base.as_str(), "https://registry-1.docker.io/");
    }
}
