//! Sending one request: base URLs and `Location` joining, authentication retries,
//! retries with exponential backoff (honouring `Retry-After`), capped body reads, and the
//! translation of failed responses into [`RegistryError`]s.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use super::auth::Auth;
use super::error::RegistryError;

/// Longest wait between retries, whatever `Retry-After` says.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// Largest distribution error body we read to explain a failure.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// One request, described so that it can be sent again (retries, auth).
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    /// `None`: no body. Bodies here are in memory, hence replayable.
    pub body: Option<Bytes>,
    /// Token scope key: `repository:<repo>:pull` etc.; empty for `/v2/`.
    pub scope: String,
    /// The repository, for error messages.
    pub repo: Option<&'a str>,
    /// `Some`: the whole exchange, body included, must end within it (metadata requests).
    /// `None`: a blob whose body the caller reads under a [`super::progress::Watchdog`];
    /// only the response headers must arrive within the transport's timeout.
    pub deadline: Option<Duration>,
}

pub(crate) struct Transport {
    pub host: String,
    pub base: Url,
    pub client: reqwest::Client,
    pub auth: Auth,
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    /// Deadline of a metadata request; window of minimum progress for a blob.
    pub timeout: Duration,
}

impl Transport {
    /// `base` + `path` (path starts with `/v2/`).
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("registry paths are valid relative URLs")
    }

    /// Sends `req`, authenticating on 401 (once) and retrying connection failures, 5xx and
    /// 429 up to `max_retries` times. Returns the response whatever its status, except 401
    /// after authenticating, which becomes [`RegistryError::Unauthorized`].
    pub async fn send(&self, req: Request<'_>) -> Result<Response, RegistryError> {
        let mut attempt = 0u32;
        let mut authenticated = false;
        loop {
            let mut builder = self.client.request(req.method.clone(), req.url.clone()).headers(req.headers.clone());
            if let Some(h) = self.auth_header(&req.url, &req.scope) {
                builder = builder.header(AUTHORIZATION, h);
            }
            if let Some(body) = &req.body {
                builder = builder.body(body.clone());
            }
            let sent = match req.deadline {
                Some(d) => builder.timeout(d).send().await.map_err(|e| self.transport_error(&e, attempt + 1)),
                None => match tokio::time::timeout(self.timeout, builder.send()).await {
                    Ok(sent) => sent.map_err(|e| self.transport_error(&e, attempt + 1)),
                    Err(_) => Err(self.timed_out(attempt + 1)),
                },
            };
            if let Ok(resp) = &sent {
                // The path only: never query strings or headers (tokens, upload state).
                tracing::debug!(host = %self.host, method = %req.method, path = req.url.path(), status = resp.status().as_u16(), "registry answered");
            }
            let delay = match sent {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => {
                    self.may_answer_challenge(resp.url())?;
                    if authenticated {
                        return Err(RegistryError::Unauthorized {
                            host: self.host.clone(),
                            repo: req.repo.map(str::to_owned),
                            with_credentials: self.auth.has_credentials(),
                        });
                    }
                    authenticated = true;
                    let challenge =
                        resp.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    self.auth
                        .on_unauthorized(&self.client, self.timeout, challenge.as_deref(), &req.scope, req.repo)
                        .await?;
                    continue;
                }
                Ok(resp) if is_retryable(resp.status()) && attempt < self.max_retries => {
                    retry_after(resp.headers()).unwrap_or_else(|| self.backoff(attempt))
                }
                Ok(resp) => return Ok(resp),
                Err(err) => {
                    if matches!(err, RegistryError::Tls { .. }) || attempt >= self.max_retries {
                        return Err(err);
                    }
                    self.backoff(attempt)
                }
            };
            tracing::debug!(host = %self.host, method = %req.method, path = req.url.path(), attempt, ?delay, "retrying");
            tokio::time::sleep(delay.min(MAX_RETRY_DELAY)).await;
            attempt += 1;
        }
    }

    /// Sends a request whose body cannot be replayed (a streamed blob upload): no retries;
    /// the auth header known from earlier requests on the same scope is used.
    pub async fn send_once(
        &self,
        builder: reqwest::RequestBuilder,
        url: &Url,
        scope: &str,
    ) -> Result<Response, RegistryError> {
        let builder = match self.auth_header(url, scope) {
            Some(h) => builder.header(AUTHORIZATION, h),
            None => builder,
        };
        builder.send().await.map_err(|e| self.transport_error(&e, 1))
    }

    /// Whether `url` has the registry's own origin (scheme, host, port): the only place its
    /// credentials and tokens are sent (an absolute upload `Location` may name another).
    fn is_own_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// The Authorization header for a request to `url`: only to the registry's own origin,
    /// and only over https or to a loopback host.
    fn auth_header(&self, url: &Url, scope: &str) -> Option<HeaderValue> {
        if !self.is_own_origin(url) || !may_carry_credentials(url) {
            return None;
        }
        self.auth.header(scope)
    }

    /// A 401 is answered (credentials, a token fetched from the challenge's realm) only
    /// when it came from the registry's own origin, over https or from a loopback host. A
    /// redirect target or an upload location elsewhere that asks for credentials is an
    /// error naming it.
    fn may_answer_challenge(&self, from: &Url) -> Result<(), RegistryError> {
        if !self.is_own_origin(from) {
            return Err(RegistryError::ForeignChallenge {
                host: self.host.clone(),
                origin: from.origin().ascii_serialization(),
            });
        }
        if !may_carry_credentials(from) {
            return Err(RegistryError::InsecureAuth { what: format!("registry {}", self.host) });
        }
        Ok(())
    }

    pub fn backoff(&self, attempt: u32) -> Duration {
        self.retry_base_delay.saturating_mul(2u32.saturating_pow(attempt)).min(MAX_RETRY_DELAY)
    }

    fn timed_out(&self, attempts: u32) -> RegistryError {
        RegistryError::TimedOut { host: self.host.clone(), secs: self.timeout.as_secs(), attempts }
    }

    pub fn transport_error(&self, e: &reqwest::Error, attempts: u32) -> RegistryError {
        if e.is_timeout() {
            return self.timed_out(attempts);
        }
        let reason = describe(e);
        if is_tls_error(e) {
            return RegistryError::Tls { host: self.host.clone(), reason };
        }
        let reason = if attempts > 1 { format!("{reason} (after {attempts} attempts)") } else { reason };
        RegistryError::Unreachable { host: self.host.clone(), reason }
    }

    /// Turns an unexpected response into an error: 401 Unauthorized, 403 Denied, 404
    /// NotFound(`what`), else Http with the distribution error code and message.
    pub async fn error_for(&self, resp: Response, method: &Method, repo: Option<&str>, what: &str) -> RegistryError {
        let status = resp.status();
        match status {
            StatusCode::UNAUTHORIZED => {
                if let Err(e) = self.may_answer_challenge(resp.url()) {
                    return e;
                }
                return RegistryError::Unauthorized {
                    host: self.host.clone(),
                    repo: repo.map(str::to_owned),
                    with_credentials: self.auth.has_credentials(),
                };
            }
            StatusCode::FORBIDDEN => {
                return RegistryError::Denied { host: self.host.clone(), repo: repo.unwrap_or("/v2/").to_owned() }
            }
            StatusCode::NOT_FOUND => return RegistryError::NotFound { what: what.to_owned() },
            _ => {}
        }
        let url = redact(resp.url());
        let body = read_capped(resp, MAX_ERROR_BODY, String::new, &self.host).await.unwrap_or_default();
        let (code, message) = parse_error_body(&body);
        // Go's answer to plain http on a TLS port: a loopback host addressed without a CA.
        if status == StatusCode::BAD_REQUEST && message.contains("HTTP request to an HTTPS server") {
            return RegistryError::Tls {
                host: self.host.clone(),
                reason: "it speaks https but was addressed over plain http (loopback hosts use http unless a CA \
                         certificate is given)"
                    .to_owned(),
            };
        }
        RegistryError::Http { status: status.as_u16(), method: method.to_string(), url, code, message }
    }
}

/// Credentials and tokens travel only over https, or over plain http to this machine.
pub(crate) fn may_carry_credentials(url: &Url) -> bool {
    url.scheme() == "https" || url.host_str().is_some_and(super::is_loopback)
}

fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After: <seconds>` (the HTTP-date form is rare from registries and treated as absent).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_DELAY))
}

/// The URL without user info or query (upload `_state` tokens, `?digest=`...).
pub(crate) fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// A reqwest error as one line: its chain of causes, without the URL (which we report
/// ourselves, redacted).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        // The top-level message names the URL; make sure it is redacted.
        let e = match e.url() {
            Some(u) => {
                let r = redact(u);
                e.to_string().replace(u.as_str(), &r)
            }
            None => e.to_string(),
        };
        return e;
    }
    parts.join(": ")
}

/// Whether a connection failed in the TLS layer. native-tls wraps OpenSSL errors as boxed
/// trait objects, so we look for OpenSSL's types in the chain and, failing that, its words.
fn is_tls_error(e: &reqwest::Error) -> bool {
    // Start below the top level, whose message names the URL (and so maybe "tls.example").
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<openssl::ssl::Error>() || s.is::<openssl::error::ErrorStack>() {
            return true;
        }
        let text = s.to_string().to_ascii_lowercase();
        if ["certificate", "ssl", "tls", "handshake"].iter().any(|w| text.contains(w)) {
            return true;
        }
        source = s.source();
    }
    false
}

/// Parses `{"errors":[{"code":"..","message":".."}]}`; falls back to the first line of a
/// text body.
fn parse_error_body(body: &[u8]) -> (Option<String>, String) {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
    }
    if let Ok(b) = serde_json::from_slice::<Body>(body) {
        if let Some(first) = b.errors.into_iter().next() {
            return (first.code, first.message.unwrap_or_default());
        }
    }
    let text = String::from_utf8_lossy(body);
    let line: String = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").chars().take(200).collect();
    (None, line)
}

/// Reads a body into memory, failing as soon as it passes `limit` bytes (checked against
/// Content-Length first, then while reading).
pub(crate) async fn read_capped(
    mut resp: Response,
    limit: usize,
    what: impl Fn() -> String,
    host: &str,
) -> Result<Bytes, RegistryError> {
    let too_large = || RegistryError::TooLarge { what: what(), limit: limit as u64 };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut buf = BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(e) if e.is_timeout() => return Err(RegistryError::BodyTimedOut { what: what() }),
            Err(e) => return Err(RegistryError::Unreachable { host: host.to_owned(), reason: describe(&e) }),
        }
    }
}

/// Resolves an upload `Location` (absolute, or relative to the registry) against `base`.
pub(crate) fn join_location(base: &Url, location: &str) -> Option<Url> {
    base.join(location).ok()
}

/// Adds `key=value` to a URL's query, keeping what is there (upload `_state` tokens).
pub(crate) fn with_query(mut url: Url, key: &str, value: &str) -> Url {
    url.query_pairs_mut().append_pair(key, value);
    url
}

/// The header value, if present and valid UTF-8.
pub(crate) fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_locations() {
        let base = Url::parse("http://127.0.0.1:5000/").unwrap();
        let rel = join_location(&base, "/v2/a/b/blobs/uploads/123?_state=xyz").unwrap();
        assert_eq!(rel.as_str(), "http://127.0.0.1:5000/v2/a/b/blobs/uploads/123?_state=xyz");
        let abs = join_location(&base, "https://storage.example/upload/9?sig=1").unwrap();
        assert_eq!(abs.as_str(), "https://storage.example/upload/9?sig=1");
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            with_query(rel, "digest", d).as_str(),
            format!("http://127.0.0.1:5000/v2/a/b/blobs/uploads/123?_state=xyz&digest=sha256%3A{}", &d[7..])
        );
        let bare = join_location(&base, "/v2/a/blobs/uploads/1").unwrap();
        assert_eq!(with_query(bare, "digest", "x").as_str(), "http://127.0.0.1:5000/v2/a/blobs/uploads/1?digest=x");
    }

    #[test]
    fn credentials_only_over_https_or_to_loopback() {
        for ok in ["https://reg.example/v2/", "http://127.0.0.1:5000/v2/", "http://localhost/t", "http://[::1]:80/"] {
            assert!(may_carry_credentials(&Url::parse(ok).unwrap()), "{ok}");
        }
        for no in ["http://reg.example/v2/", "http://10.0.0.1:5000/token", "http://localhost.example/"] {
            assert!(!may_carry_credentials(&Url::parse(no).unwrap()), "{no}");
        }
    }

    #[test]
    fn redacts_urls() {
        let u = Url::parse("https://user:pw@reg.example/v2/a/blobs/uploads/1?_state=secret#f").unwrap();
        assert_eq!(redact(&u), "https://reg.example/v2/a/blobs/uploads/1");
    }

    #[test]
    fn parses_error_bodies() {
        let (code, msg) =
            parse_error_body(br#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#);
        assert_eq!((code.as_deref(), msg.as_str()), (Some("MANIFEST_BLOB_UNKNOWN"), "blob unknown to registry"));
        assert_eq!(parse_error_body(b"\n  oops\nmore"), (None, "oops".to_owned()));
        assert_eq!(parse_error_body(b""), (None, String::new()));
    }

    #[test]
    fn retry_after_seconds_are_capped() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("99999"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_DELAY));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }
}
