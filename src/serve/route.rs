//! Request paths and query strings of the OCI Distribution API, parsed as the hostile input
//! they are: bounded in length, no percent-encoding (no encoded slash or dot can smuggle a
//! `..` past the name check), every repository component checked against the distribution
//! grammar, every reference a valid tag or digest.

use crate::oci::Digest;

/// Longest request path accepted (distribution caps repository names at 255 characters).
pub const MAX_PATH: usize = 2048;
/// Longest repository name.
pub const MAX_NAME: usize = 255;
/// Most entries in one `_catalog` or `tags/list` page; a bigger `n` is capped, as the
/// distribution spec allows ("may return fewer").
pub const MAX_PAGE: usize = 1000;
/// Longest `last` or `artifactType` query value.
pub const MAX_QUERY_VALUE: usize = 512;

/// What a request path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags { repo: String },
    /// `/v2/<name>/manifests/<tag|digest>`
    Manifest { repo: String, reference: ManifestRef },
    /// `/v2/<name>/blobs/<digest>`
    Blob { repo: String, digest: Digest },
    /// `/v2/<name>/blobs/uploads/...`: only ever written to, so always refused.
    Upload,
    /// `/v2/<name>/referrers/<digest>`
    Referrers { repo: String, digest: Digest },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestRef {
    Tag(String),
    Digest(Digest),
}

/// Why a path or query was refused; each maps to one OCI error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("no such API endpoint")]
    NotFound,
    #[error("request path is over {MAX_PATH} bytes")]
    TooLong,
    #[error("percent-encoded characters are not accepted in request paths")]
    Encoded,
    #[error("invalid repository name")]
    Name,
    #[error("invalid tag or digest")]
    Reference,
    #[error("invalid digest")]
    Digest,
    #[error("invalid n: expected a number")]
    Number,
    #[error("query value is over {MAX_QUERY_VALUE} bytes")]
    QueryValue,
}

impl RouteError {
    /// The OCI error code and HTTP status for this refusal.
    pub fn code(&self) -> (&'static str, u16) {
        match self {
            RouteError::NotFound => ("NOT_FOUND", 404),
            RouteError::TooLong | RouteError::Encoded | RouteError::Name => ("NAME_INVALID", 400),
            RouteError::Reference => ("MANIFEST_INVALID", 400),
            RouteError::Digest => ("DIGEST_INVALID", 400),
            RouteError::Number => ("PAGINATION_NUMBER_INVALID", 400),
            RouteError::QueryValue => ("UNSUPPORTED", 400),
        }
    }
}

/// Parses a raw (still percent-encoded) request path.
pub fn parse(path: &str) -> Result<Route, RouteError> {
    if path.len() > MAX_PATH {
        return Err(RouteError::TooLong);
    }
    if path.contains('%') {
        return Err(RouteError::Encoded);
    }
    let rest = match path.strip_prefix("/v2") {
        Some("") | Some("/") => return Ok(Route::Base),
        Some(r) => r.strip_prefix('/').ok_or(RouteError::NotFound)?,
        None => return Err(RouteError::NotFound),
    };
    if rest == "_catalog" {
        return Ok(Route::Catalog);
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let n = parts.len();
    if n >= 3 && parts[n - 2] == "tags" && parts[n - 1] == "list" {
        return Ok(Route::Tags { repo: name(&parts[..n - 2])? });
    }
    // `blobs/uploads/` and `blobs/uploads/<uuid>`: the name may not contain `uploads` as a
    // blob digest would, so find the keyword from the end.
    if let Some(i) = parts.iter().rposition(|p| *p == "uploads") {
        if i >= 2 && parts[i - 1] == "blobs" && n - i <= 2 {
            name(&parts[..i - 1])?;
            return Ok(Route::Upload);
        }
    }
    if n < 3 {
        return Err(RouteError::NotFound);
    }
    let (kind, last) = (parts[n - 2], parts[n - 1]);
    let repo = || name(&parts[..n - 2]);
    match kind {
        "manifests" => {
            let repo = repo()?;
            let reference = if last.contains(':') {
                ManifestRef::Digest(digest(last).map_err(|_| RouteError::Reference)?)
            } else if crate::oci::reference::is_valid_tag(last) {
                ManifestRef::Tag(last.to_owned())
            } else {
                return Err(RouteError::Reference);
            };
            Ok(Route::Manifest { repo, reference })
        }
        "blobs" => Ok(Route::Blob { repo: repo()?, digest: digest(last)? }),
        "referrers" => Ok(Route::Referrers { repo: repo()?, digest: digest(last)? }),
        _ => Err(RouteError::NotFound),
    }
}

fn digest(s: &str) -> Result<Digest, RouteError> {
    s.parse().map_err(|_| RouteError::Digest)
}

/// A repository name from its path components: each `[a-z0-9]+([._-][a-z0-9]+)*` (the
/// reference grammar; `..` and empty components fail it), at most [`MAX_NAME`] in all.
fn name(parts: &[&str]) -> Result<String, RouteError> {
    let joined = parts.join("/");
    if parts.is_empty() || joined.len() > MAX_NAME {
        return Err(RouteError::Name);
    }
    // A fixed host in front: what follows must parse as the repository, whole.
    let ok = format!("serve.invalid/{joined}")
        .parse::<crate::oci::Reference>()
        .is_ok_and(|r| r.tag.is_none() && r.digest.is_none() && r.repository == joined);
    if ok {
        Ok(joined)
    } else {
        Err(RouteError::Name)
    }
}

/// The query parameters serve understands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `n`, capped at [`MAX_PAGE`].
    pub n: Option<usize>,
    pub last: Option<String>,
    pub artifact_type: Option<String>,
}

/// Parses `n`, `last` and `artifactType`; other parameters are ignored.
pub fn query(raw: Option<&str>) -> Result<Query, RouteError> {
    let mut q = Query::default();
    let Some(raw) = raw else { return Ok(q) };
    if raw.len() > MAX_PATH {
        return Err(RouteError::TooLong);
    }
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        if v.len() > MAX_QUERY_VALUE {
            return Err(RouteError::QueryValue);
        }
        match k.as_ref() {
            "n" => {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(RouteError::Number);
                }
                // Any number past the cap is the cap, however many digits it has.
                let n: u64 = v.parse().unwrap_or(u64::MAX);
                q.n = Some(n.min(MAX_PAGE as u64) as usize);
            }
            "last" => q.last = Some(v.into_owned()),
            "artifactType" => q.artifact_type = Some(v.into_owned()),
            _ => {}
        }
    }
    Ok(q)
}

/// One page of a sorted list: the items after `last`, at most `n` (and at most
/// [`MAX_PAGE`]); and whether more follow.
pub fn page<'a, I>(sorted: I, n: Option<usize>, last: Option<&str>) -> (Vec<&'a str>, bool)
where
    I: IntoIterator<Item = &'a str>,
{
    let n = n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    let mut after = sorted.into_iter().filter(|s| last.is_none_or(|l| *s > l));
    let items: Vec<&str> = after.by_ref().take(n).collect();
    let more = after.next().is_some();
    (items, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn paths_of_the_api_parse() {
        assert_eq!(parse("/v2/"), Ok(Route::Base));
        assert_eq!(parse("/v2"), Ok(Route::Base));
        assert_eq!(parse("/v2/_catalog"), Ok(Route::Catalog));
        assert_eq!(parse("/v2/team/app/tags/list"), Ok(Route::Tags { repo: "team/app".into() }));
        assert_eq!(
            parse("/v2/a/manifests/v1.0"),
            Ok(Route::Manifest { repo: "a".into(), reference: ManifestRef::Tag("v1.0".into()) })
        );
        assert_eq!(
            parse(&format!("/v2/a/b/manifests/{D}")),
            Ok(Route::Manifest { repo: "a/b".into(), reference: ManifestRef::Digest(D.parse().unwrap()) })
        );
        assert_eq!(
            parse(&format!("/v2/a/blobs/{D}")),
            Ok(Route::Blob { repo: "a".into(), digest: D.parse().unwrap() })
        );
        assert_eq!(
            parse(&format!("/v2/a/referrers/{D}")),
            Ok(Route::Referrers { repo: "a".into(), digest: D.parse().unwrap() })
        );
        assert_eq!(parse("/v2/a/blobs/uploads/"), Ok(Route::Upload));
        assert_eq!(parse("/v2/a/blobs/uploads/0f1e-22"), Ok(Route::Upload));
        // A repository may be named like an endpoint: the keyword is taken from the end.
        assert_eq!(
            parse("/v2/manifests/tags/manifests/latest"),
            Ok(Route::Manifest { repo: "manifests/tags".into(), reference: ManifestRef::Tag("latest".into()) })
        );
        assert_eq!(parse("/v2/tags/list/tags/list"), Ok(Route::Tags { repo: "tags/list".into() }));
    }

    #[test]
    fn hostile_paths_are_refused() {
        for (path, want) in [
            ("/v2/../etc/manifests/latest", RouteError::Name),
            ("/v2/a/../b/manifests/latest", RouteError::Name),
            ("/v2/a/./b/manifests/latest", RouteError::Name),
            ("/v2/a//b/manifests/latest", RouteError::Name),
            ("/v2/A/manifests/latest", RouteError::Name),
            ("/v2/a%2fb/manifests/latest", RouteError::Encoded),
            ("/v2/a%2Fb/manifests/latest", RouteError::Encoded),
            ("/v2/%2e%2e/manifests/latest", RouteError::Encoded),
            ("/v2/a/manifests/..", RouteError::Reference),
            ("/v2/a/manifests/-x", RouteError::Reference),
            ("/v2/a/manifests/sha256:00", RouteError::Reference),
            ("/v2/a/blobs/sha256:zz", RouteError::Digest),
            ("/v2/a/blobs/latest", RouteError::Digest),
            ("/v2/a/referrers/latest", RouteError::Digest),
            ("/v2/manifests/latest", RouteError::NotFound),
            ("/v3/a/manifests/latest", RouteError::NotFound),
            ("/", RouteError::NotFound),
            ("/v2x", RouteError::NotFound),
            ("/v2/a/other/latest", RouteError::NotFound),
        ] {
            assert_eq!(parse(path), Err(want), "{path}");
        }
        let long = format!("/v2/{}/manifests/latest", "a/".repeat(1200));
        assert_eq!(parse(&long), Err(RouteError::TooLong));
        let long_name = format!("/v2/{}/manifests/latest", "a".repeat(256));
        assert_eq!(parse(&long_name), Err(RouteError::Name));
    }

    #[test]
    fn queries_are_bounded() {
        assert_eq!(query(None), Ok(Query::default()));
        assert_eq!(
            query(Some("n=5&last=b")).unwrap(),
            Query { n: Some(5), last: Some("b".into()), artifact_type: None }
        );
        assert_eq!(query(Some("n=99999999999999999999")).unwrap().n, Some(MAX_PAGE));
        assert_eq!(query(Some("n=1000000")).unwrap().n, Some(MAX_PAGE));
        assert_eq!(query(Some("n=999999999999999999999999999999")).unwrap().n, Some(MAX_PAGE));
        for bad in ["n=-1", "n=", "n=1e3", "n=+5", "n=%2D1"] {
            assert_eq!(query(Some(bad)), Err(RouteError::Number), "{bad}");
        }
        let q = query(Some("artifactType=application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson")).unwrap();
        assert_eq!(q.artifact_type.as_deref(), Some("application/vnd.dev.sigstore.bundle.v0.3+json"));
        assert_eq!(query(Some(&format!("last={}", "x".repeat(600)))), Err(RouteError::QueryValue));
    }

    #[test]
    fn pages_follow_last_and_n() {
        let all = ["a", "b", "c", "d"];
        assert_eq!(page(all, None, None), (vec!["a", "b", "c", "d"], false));
        assert_eq!(page(all, Some(2), None), (vec!["a", "b"], true));
        assert_eq!(page(all, Some(2), Some("b")), (vec!["c", "d"], false));
        assert_eq!(page(all, Some(0), None), (vec![], true));
        assert_eq!(page(all, Some(9), Some("bb")), (vec!["c", "d"], false));
        assert_eq!(page(all, None, Some("z")), (vec![], false));
        let many: Vec<String> = (0..2500).map(|i| format!("{i:05}")).collect();
        let (items, more) = page(many.iter().map(String::as_str), Some(usize::MAX), None);
        assert_eq!((items.len(), more), (MAX_PAGE, true));
    }
}
