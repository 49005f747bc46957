//! [`RegistryError`]: everything that can go wrong talking to a registry, each variant
//! carrying the host, repository or reference it concerns. No variant ever holds a
//! credential, an `Authorization` header or a URL with user info or query string.

use crate::oci::Digest;

/// A registry operation failed. Display is one line naming the host/repo/reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No HTTP answer: DNS, connection refused/reset, timeout (after the retries).
    #[error("registry {host} is unreachable: {reason}")]
    Unreachable { host: String, reason: String },

    /// The TLS handshake failed (unknown CA, wrong name, plain-http server...).
    #[error("TLS connection to registry {host} failed: {reason}")]
    Tls { host: String, reason: String },

    /// 401 after authenticating (wrong or missing credentials).
    #[error("registry {host} refused {}{}", if *.with_credentials { "the credentials" } else { "anonymous access (no credentials configured)" }, repo.as_deref().map(|r| format!(" for {r}")).unwrap_or_default())]
    Unauthorized { host: String, repo: Option<String>, with_credentials: bool },

    /// 403: authenticated, but not allowed.
    #[error("registry {host} denied access to {repo}")]
    Denied { host: String, repo: String },

    /// A manifest, blob or repository that does not exist, as `what`
    /// (e.g. `manifest 127.0.0.1:5000/app:1.0`).
    #[error("{what} not found")]
    NotFound { what: String },

    /// Any other unexpected HTTP status, with the distribution error body if any.
    #[error("{method} {url} answered HTTP {status}{}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(), if message.is_empty() { String::new() } else { format!(": {message}") })]
    Http { status: u16, method: String, url: String, code: Option<String>, message: String },

    /// Content fetched from the registry does not hash to the digest it was asked for or
    /// announced.
    #[error("{what}: expected digest {expected}, content hashes to {actual}")]
    DigestMismatch { what: String, expected: Digest, actual: Digest },

    /// A metadata request (manifest, tag list, token, ...) without a complete answer
    /// within the timeout (after the retries).
    #[error("registry {host} gave no complete answer within {secs} s{}", if *.attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() })]
    TimedOut { host: String, secs: u64, attempts: u32 },

    /// A metadata body (manifest, tag list, token) still arriving when its deadline passed.
    #[error("{what} did not arrive in full within the timeout")]
    BodyTimedOut { what: String },

    /// A blob transfer that moved fewer than `min_bytes` in a window of `secs`.
    #[error("{what} stalled: fewer than {min_bytes} bytes moved in {secs} s")]
    Stalled { what: String, min_bytes: u64, secs: u64 },

    /// The registry did not answer an upload whose body it had received.
    #[error("{what}: no answer within {secs} s after the upload")]
    NoAnswer { what: String, secs: u64 },

    /// A blob download that broke off mid-body (connection reset or closed early) and
    /// could not be resumed within the retries.
    #[error("{what} broke off after {received} bytes: {reason}{}", if *.attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() })]
    Interrupted { what: String, received: u64, reason: String, attempts: u32 },

    /// A blob body longer than its descriptor's size: stopped at byte `size + 1`.
    #[error("{what} is longer than the {size} bytes its descriptor gives")]
    TooLong { what: String, size: u64 },

    /// A blob body that ended before its descriptor's size.
    #[error("{what} ended after {received} of the {size} bytes its descriptor gives")]
    TooShort { what: String, size: u64, received: u64 },

    /// A body over the size cap for its kind (manifest, blob read into memory, tag list).
    #[error("{what} is larger than the {limit}-byte limit")]
    TooLarge { what: String, limit: u64 },

    /// The registry answered something that breaks the protocol (missing Location, a tag
    /// list that is not JSON, a referrers tag that holds something else...).
    #[error("registry {host}: {what}")]
    Protocol { host: String, what: String },

    /// Bad options: unreadable CA file, malformed host.
    #[error("registry {host}: {reason}")]
    Config { host: String, reason: String },

    /// A 401 from an origin other than the registry's (a redirect target, an upload
    /// `Location` elsewhere): credentials and tokens go only to the registry's own origin
    /// and the token service it names, so this is not answered.
    #[error("registry {host} sent the request on to {origin}, which asks for credentials; sealift sends them only to {host} and the token service it names")]
    ForeignChallenge { host: String, origin: String },

    /// Authentication asked for over plain http to a host that is not this machine.
    #[error("{what} asks for credentials over plain http; sealift sends credentials and tokens only over https or to a loopback host")]
    InsecureAuth { what: String },

    /// The Docker config or a credential helper could not produce credentials.
    #[error("credentials for registry {host}: {reason}")]
    Credentials { host: String, reason: String },
}

impl RegistryError {
    /// True for [`RegistryError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::NotFound { .. })
    }

    /// True for errors a caller may cure by running the operation again (the client
    /// already retried replayable requests; this is for streamed uploads and downloads).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Unreachable { .. }
            | RegistryError::TimedOut { .. }
            | RegistryError::BodyTimedOut { .. }
            | RegistryError::Stalled { .. }
            | RegistryError::Interrupted { .. }
            | RegistryError::NoAnswer { .. } => true,
            RegistryError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
