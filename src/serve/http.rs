//! The request handler: the read-only OCI Distribution API over a [`View`]. Every answer
//! that is not content is an OCI error body (`{"errors":[{"code":..,"message":..}]}`).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::blobs::{self, Blobs, Verdict};
use super::route::{self, ManifestRef, Route, RouteError};
use super::view::{BlobSource, View};
use crate::oci::{media, Descriptor, Digest, Index};

/// A response body: whole, or streamed from a blob.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// What the handler serves from.
pub struct State {
    pub view: View,
    pub blobs: Blobs,
}

const API_VERSION: &str = "registry/2.0";

/// Answers one request. Never fails: every refusal is an OCI error response.
pub async fn handle<B>(state: &Arc<State>, req: &Request<B>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "this registry is read-only (sealift serve)");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut resp = match answer(state, req, head).await {
        Ok(r) => r,
        Err(e) => {
            let (code, status) = e.code();
            error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), code, &e.to_string())
        }
    };
    resp.headers_mut().insert("docker-distribution-api-version", HeaderValue::from_static(API_VERSION));
    if head {
        // Same headers as GET (Content-Length included), no body.
        *resp.body_mut() = empty();
    }
    resp
}

async fn answer<B>(state: &State, req: &Request<B>, head: bool) -> Result<Response<Body>, RouteError> {
    let view = &state.view;
    let route = route::parse(req.uri().path())?;
    let q = route::query(req.uri().query())?;
    Ok(match route {
        Route::Base => json(StatusCode::OK, b"{}".to_vec(), "application/json"),
        Route::Catalog => {
            let (names, more) = route::page(view.repos.keys().map(String::as_str), q.n, q.last.as_deref());
            let last = names.last().map(|s| s.to_string());
            let body = serde_json::json!({ "repositories": names });
            let mut r = json(StatusCode::OK, body.to_string().into_bytes(), "application/json");
            if let (true, Some(last)) = (more, last) {
                link(&mut r, "/v2/_catalog", q.n, &last);
            }
            r
        }
        Route::Tags { repo } => {
            let Some(r) = view.repos.get(&repo) else { return Ok(name_unknown()) };
            let (tags, more) = route::page(r.tags.keys().map(String::as_str), q.n, q.last.as_deref());
            let last = tags.last().map(|s| s.to_string());
            let body = serde_json::json!({ "name": repo, "tags": tags });
            let mut resp = json(StatusCode::OK, body.to_string().into_bytes(), "application/json");
            if let (true, Some(last)) = (more, last) {
                link(&mut resp, &format!("/v2/{repo}/tags/list"), q.n, &last);
            }
            resp
        }
        Route::Manifest { repo, reference } => {
            let Some(r) = view.repos.get(&repo) else { return Ok(name_unknown()) };
            let digest = match &reference {
                ManifestRef::Digest(d) => Some(d.clone()),
                ManifestRef::Tag(t) => r.tags.get(t).cloned(),
            };
            let Some((digest, m)) = digest.and_then(|d| view.manifest(&repo, &d).map(|m| (d, m))) else {
                return Ok(error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", "manifest unknown"));
            };
            if !accepts(req.headers(), &m.media_type) {
                let msg = format!("manifest is {}, which the Accept header does not list", m.media_type);
                return Ok(error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", &msg));
            }
            let mut resp = json(StatusCode::OK, m.bytes.to_vec(), &m.media_type);
            set(&mut resp, "docker-content-digest", &digest.to_string());
            set(&mut resp, header::ETAG.as_str(), &format!("\"{digest}\""));
            resp
        }
        Route::Blob { repo, digest } => {
            let Some(source) = view.blob(&repo, &digest) else {
                return Ok(error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown to this repository"));
            };
            blob(state, req, head, &digest, source).await
        }
        Route::Referrers { repo, digest } => {
            let Some(r) = view.repos.get(&repo) else { return Ok(name_unknown()) };
            let all: &[Descriptor] = r.referrers.get(&digest).map(Vec::as_slice).unwrap_or_default();
            let list: Vec<Descriptor> = all
                .iter()
                .filter(|d| q.artifact_type.as_ref().is_none_or(|t| d.artifact_type.as_ref() == Some(t)))
                .cloned()
                .collect();
            let body = crate::oci::manifest::to_canonical_json(&Index::new(list));
            let mut resp = json(StatusCode::OK, body, media::OCI_INDEX);
            if q.artifact_type.is_some() {
                set(&mut resp, "oci-filters-applied", "artifactType");
            }
            resp
        }
        Route::Upload => error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", "no uploads: this registry is read-only"),
    })
}

async fn blob<B>(state: &State, req: &Request<B>, head: bool, digest: &Digest, source: &BlobSource) -> Response<Body> {
    let size = match source {
        BlobSource::Memory(b) => b.len() as u64,
        BlobSource::File { size, .. } => *size,
    };
    // A HEAD serves no byte, so it needs no hash; but a blob known damaged stays refused.
    let checked = if head { state.blobs.known(digest).map(Ok) } else { Some(state.blobs.verify(digest, source).await) };
    match checked {
        Some(Ok(Verdict::Good)) | None => {}
        Some(Ok(Verdict::Damaged { reason })) => {
            if !head {
                tracing::error!("blob {digest} in the bundle is damaged ({reason}); not served");
            }
            let msg = format!("blob {digest} is damaged in the bundle ({reason}); not served");
            return error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", &msg);
        }
        Some(Err(e)) => {
            tracing::error!("blob {digest}: cannot read it from the bundle: {e}");
            let msg = format!("blob {digest} cannot be read from the bundle");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", &msg);
        }
    }
    let range = match req.headers().get(header::RANGE).map(|v| parse_range(v.as_bytes(), size)) {
        None | Some(RangeSpec::Ignore) => None,
        Some(RangeSpec::Bytes(start, end)) => Some((start, end)),
        Some(RangeSpec::Unsatisfiable) => {
            let msg = format!("range is outside the {size}-byte blob");
            let mut r = error(StatusCode::RANGE_NOT_SATISFIABLE, "SIZE_INVALID", &msg);
            set(&mut r, header::CONTENT_RANGE.as_str(), &format!("bytes */{size}"));
            return r;
        }
    };
    let (status, start, len) = match range {
        Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        None => (StatusCode::OK, 0, size),
    };
    let body = if head {
        empty()
    } else {
        let rx = blobs::stream(source, start, len);
        let chunks = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        BodyExt::boxed(StreamBody::new(chunks.map(|c| c.map(Frame::data))))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    set(&mut resp, header::CONTENT_TYPE.as_str(), "application/octet-stream");
    set(&mut resp, header::CONTENT_LENGTH.as_str(), &len.to_string());
    set(&mut resp, header::ACCEPT_RANGES.as_str(), "bytes");
    set(&mut resp, "docker-content-digest", &digest.to_string());
    if range.is_some() {
        set(&mut resp, header::CONTENT_RANGE.as_str(), &format!("bytes {start}-{}/{size}", start + len - 1));
    }
    resp
}

/// A `Range` header against a blob of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// Inclusive byte positions, within the blob.
    Bytes(u64, u64),
    /// Starts at or past the end: 416.
    Unsatisfiable,
    /// Not one `bytes=` range (several, another unit, malformed): served whole, as
    /// RFC 9110 allows.
    Ignore,
}

pub fn parse_range(value: &[u8], size: u64) -> RangeSpec {
    let Some(spec) = std::str::from_utf8(value).ok().and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Ignore;
    };
    if spec.contains(',') {
        return RangeSpec::Ignore;
    }
    let Some((a, b)) = spec.split_once('-') else { return RangeSpec::Ignore };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.len() <= 20 && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (a.trim(), b.trim()) {
        ("", suffix) => match num(suffix) {
            Some(0) => RangeSpec::Unsatisfiable,
            Some(_) if size == 0 => RangeSpec::Unsatisfiable,
            Some(n) => RangeSpec::Bytes(size.saturating_sub(n), size - 1),
            None => RangeSpec::Ignore,
        },
        (start, end) => {
            let Some(start) = num(start) else { return RangeSpec::Ignore };
            let end = if end.is_empty() { Some(u64::MAX) } else { num(end) };
            match end {
                None => RangeSpec::Ignore,
                Some(e) if e < start => RangeSpec::Ignore,
                Some(_) if start >= size => RangeSpec::Unsatisfiable,
                Some(e) => RangeSpec::Bytes(start, e.min(size - 1)),
            }
        }
    }
}

/// Whether the request's `Accept` headers take `media_type` (no Accept takes anything).
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    let mut any = false;
    for v in headers.get_all(header::ACCEPT) {
        let Ok(v) = v.to_str() else { continue };
        for item in v.split(',') {
            let t = item.split(';').next().unwrap_or("").trim();
            if t.is_empty() {
                continue;
            }
            any = true;
            if t == "*/*" || t.eq_ignore_ascii_case(media_type) || t == "application/*" {
                return true;
            }
        }
    }
    !any
}

fn link<B>(resp: &mut Response<B>, path: &str, n: Option<usize>, last: &str) {
    // Names and tags are from URL-safe alphabets (checked when the bundle was read).
    let n = n.map(|n| format!("n={n}&")).unwrap_or_default();
    set(resp, header::LINK.as_str(), &format!("<{path}?{n}last={last}>; rel=\"next\""));
}

fn name_unknown() -> Response<Body> {
    error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "repository name not known to registry")
}

fn set<B>(resp: &mut Response<B>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

fn json(status: StatusCode, body: Vec<u8>, content_type: &str) -> Response<Body> {
    let len = body.len();
    let mut resp = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed());
    *resp.status_mut() = status;
    set(&mut resp, header::CONTENT_TYPE.as_str(), content_type);
    set(&mut resp, header::CONTENT_LENGTH.as_str(), &len.to_string());
    resp
}

/// An OCI error response.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "errors": [{ "code": code, "message": message }] });
    json(status, body.to_string().into_bytes(), "application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeSpec::*;
        for (v, want) in [
            ("bytes=0-9", Bytes(0, 9)),
            ("bytes=5-", Bytes(5, 99)),
            ("bytes=90-200", Bytes(90, 99)),
            ("bytes=-10", Bytes(90, 99)),
            ("bytes=-1000", Bytes(0, 99)),
            ("bytes=99-99", Bytes(99, 99)),
            ("bytes=100-", Unsatisfiable),
            ("bytes=100-200", Unsatisfiable),
            ("bytes=18446744073709551615-", Unsatisfiable),
            ("bytes=-0", Unsatisfiable),
            ("bytes=9-2", Ignore),
            ("bytes=0-1,5-6", Ignore),
            ("items=0-1", Ignore),
            ("bytes=a-b", Ignore),
            ("bytes=99999999999999999999999-", Ignore),
        ] {
            assert_eq!(parse_range(v.as_bytes(), 100), want, "{v}");
        }
        assert_eq!(parse_range(b"bytes=0-", 0), Unsatisfiable);
    }

    #[test]
    fn accept_lists() {
        let mut h = HeaderMap::new();
        assert!(accepts(&h, media::OCI_INDEX));
        h.append(header::ACCEPT, HeaderValue::from_static("application/vnd.oci.image.manifest.v1+json; q=0.5"));
        assert!(!accepts(&h, media::OCI_INDEX));
        assert!(accepts(&h, media::OCI_MANIFEST));
        h.append(header::ACCEPT, HeaderValue::from_static("application/x, application/vnd.oci.image.index.v1+json"));
        assert!(accepts(&h, media::OCI_INDEX));
    }
}
