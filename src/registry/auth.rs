//! Registry authentication: credentials (explicit or from the Docker config), parsing of
//! `WWW-Authenticate` challenges, and the per-scope bearer token cache.
//!
//! The flow is Docker's: try anonymously; on 401 read the challenge; `Basic` → send the
//! credentials on every later request; `Bearer realm,service,scope` → fetch a token from
//! the realm (with the credentials, if any) and cache it for that scope. Secrets live only
//! here and in request headers; nothing in this file formats them into a string that could
//! reach an error or a log.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use reqwest::header::HeaderValue;

use super::error::RegistryError;

/// A username and password (or identity token) for one registry. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { username: username.into(), password: password.into() }
    }

    /// Docker stores an OAuth2 refresh token as username `<token>`.
    fn is_identity_token(&self) -> bool {
        self.username == "<token>"
    }

    fn basic_header(&self) -> HeaderValue {
        let raw = format!("{}:{}", self.username, self.password);
        let mut v = HeaderValue::from_str(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)))
            .expect("base64 is a valid header value");
        v.set_sensitive(true);
        v
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
}

/// Parses the first challenge we understand from a `WWW-Authenticate` value
/// (`Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"`).
/// Quoted values may contain commas and escaped quotes.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let get = |k: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    Some(Challenge::Bearer { realm: get("realm")?, service: get("service"), scope: get("scope") })
}

fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let name: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if name.trim().is_empty() {
            return out;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => val.extend(chars.next()),
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            val = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect::<String>().trim().to_owned();
        }
        out.push((name.trim().to_owned(), val));
    }
}

/// How this registry wants to be authenticated, learnt from its first challenge.
#[derive(Debug, Clone)]
enum Scheme {
    Basic,
    Bearer,
}

/// Credentials (resolved lazily: a credential helper runs only when a registry asks) and
/// what the registry told us so far.
pub(crate) struct Auth {
    host: String,
    explicit: Option<Credentials>,
    use_docker_config: bool,
    resolved: OnceLock<Result<Option<Credentials>, RegistryError>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    scheme: Option<Scheme>,
    /// Bearer tokens by our scope key (see [`Auth::header`]).
    tokens: HashMap<String, HeaderValue>,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl Auth {
    pub(crate) fn new(host: &str, explicit: Option<Credentials>, use_docker_config: bool) -> Self {
        Auth {
            host: host.to_owned(),
            explicit,
            use_docker_config,
            resolved: OnceLock::new(),
            state: Mutex::new(State::default()),
        }
    }

    fn credentials(&self) -> Result<Option<&Credentials>, RegistryError> {
        if self.explicit.is_some() {
            return Ok(self.explicit.as_ref());
        }
        if !self.use_docker_config {
            return Ok(None);
        }
        self.resolved
            .get_or_init(|| docker_config_credentials(&self.host))
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    pub(crate) fn has_credentials(&self) -> bool {
        matches!(self.credentials(), Ok(Some(_)))
    }

    /// The Authorization header to send for `scope` (a space-separated list of
    /// `repository:<name>:<actions>`), if we know one.
    pub(crate) fn header(&self, scope: &str) -> Option<HeaderValue> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &state.scheme {
            Some(Scheme::Basic) => self.credentials().ok().flatten().map(Credentials::basic_header),
            Some(Scheme::Bearer) => state.tokens.get(scope).cloned(),
            None => None,
        }
    }

    /// Handles a 401: learns the scheme from `challenge` and, for Bearer, fetches a token.
    /// Returns Ok(()) when the request is worth sending again.
    pub(crate) async fn on_unauthorized(
        &self,
        client: &reqwest::Client,
        timeout: std::time::Duration,
        challenge: Option<&str>,
        scope: &str,
        repo: Option<&str>,
    ) -> Result<(), RegistryError> {
        let unauthorized = |with_credentials| RegistryError::Unauthorized {
            host: self.host.clone(),
            repo: repo.map(str::to_owned),
            with_credentials,
        };
        let creds = self.credentials()?;
        match challenge.and_then(parse_challenge) {
            Some(Challenge::Basic) => {
                creds.ok_or_else(|| unauthorized(false))?;
                self.state.lock().unwrap_or_else(|p| p.into_inner()).scheme = Some(Scheme::Basic);
                Ok(())
            }
            Some(Challenge::Bearer { realm, service, scope: challenge_scope }) => {
                let token = self
                    .fetch_token(client, timeout, &realm, service.as_deref(), challenge_scope.as_deref(), scope, repo)
                    .await?;
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                state.scheme = Some(Scheme::Bearer);
                state.tokens.insert(scope.to_owned(), token);
                Ok(())
            }
            // No challenge we understand: nothing to try.
            None => Err(unauthorized(creds.is_some())),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn fetch_token(
        &self,
        client: &reqwest::Client,
        timeout: std::time::Duration,
        realm: &str,
        service: Option<&str>,
        challenge_scope: Option<&str>,
        scope: &str,
        repo: Option<&str>,
    ) -> Result<HeaderValue, RegistryError> {
        let creds = self.credentials()?;
        let mut url = url::Url::parse(realm).map_err(|_| RegistryError::Protocol {
            host: self.host.clone(),
            what: format!("bearer challenge has an invalid realm {realm:?}"),
        })?;
        // The realm may be another host (a registry and its auth server), named by a
        // challenge from the registry's own origin (the caller checked); but never over
        // plain http to a host that is not this machine.
        if !super::transport::may_carry_credentials(&url) {
            return Err(RegistryError::InsecureAuth {
                what: format!("token service {}", url.origin().ascii_serialization()),
            });
        }
        // Ask for the registry's scope and ours: a mount needs pull on the source too.
        let mut scopes: Vec<&str> = Vec::new();
        for s in challenge_scope.into_iter().chain(scope.split(' ')) {
            if !s.is_empty() && !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let request = match creds {
            Some(c) if c.is_identity_token() => {
                // OAuth2 refresh-token grant (what `docker login` stores as identitytoken).
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token").append_pair("client_id", "sealift");
                form.append_pair("refresh_token", &c.password);
                if let Some(s) = service {
                    form.append_pair("service", s);
                }
                if !scopes.is_empty() {
                    form.append_pair("scope", &scopes.join(" "));
                }
                client
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.finish())
            }
            _ => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    for s in &scopes {
                        q.append_pair("scope", s);
                    }
                }
                let req = client.get(url);
                match creds {
                    Some(c) => req.header(reqwest::header::AUTHORIZATION, c.basic_header()),
                    None => req,
                }
            }
        };
        let resp = request.timeout(timeout).send().await.map_err(|e| RegistryError::Unreachable {
            host: self.host.clone(),
            reason: format!("token service: {}", super::transport::describe(&e)),
        })?;
        let status = resp.status();
        if status == 401 || status == 403 {
            return Err(RegistryError::Unauthorized {
                host: self.host.clone(),
                repo: repo.map(str::to_owned),
                with_credentials: creds.is_some(),
            });
        }
        let body = super::transport::read_capped(resp, 1 << 20, || format!("token from {realm}"), &self.host).await?;
        if !status.is_success() {
            return Err(RegistryError::Protocol {
                host: self.host.clone(),
                what: format!("token service answered HTTP {}", status.as_u16()),
            });
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| RegistryError::Protocol {
            host: self.host.clone(),
            what: "token service answered something that is not a token".to_owned(),
        })?;
        let token =
            parsed.token.or(parsed.access_token).filter(|t| !t.is_empty()).ok_or_else(|| RegistryError::Protocol {
                host: self.host.clone(),
                what: "token service answered without a token".to_owned(),
            })?;
        let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| RegistryError::Protocol {
            host: self.host.clone(),
            what: "token service answered a token with invalid characters".to_owned(),
        })?;
        v.set_sensitive(true);
        Ok(v)
    }
}

/// Credentials for `host` from `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`,
/// including credential helpers. No config file, or no entry for the host: anonymous.
fn docker_config_credentials(host: &str) -> Result<Option<Credentials>, RegistryError> {
    use docker_credential::{CredentialRetrievalError as E, DockerCredential};
    match docker_credential::get_credential(host) {
        Ok(DockerCredential::UsernamePassword(u, p)) => Ok(Some(Credentials::new(u, p))),
        Ok(DockerCredential::IdentityToken(t)) => Ok(Some(Credentials::new("<token>", t))),
        Err(E::ConfigNotFound | E::ConfigReadError | E::NoCredentialConfigured) => Ok(None),
        // A helper's stdout/stderr may hold secrets: name the helper only.
        Err(E::HelperFailure { helper, .. }) => Err(RegistryError::Credentials {
            host: host.to_owned(),
            reason: format!("credential helper docker-credential-{helper} failed"),
        }),
        Err(e) => Err(RegistryError::Credentials { host: host.to_owned(), reason: e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(parse_challenge(r#"Basic realm="sealift-test""#), Some(Challenge::Basic));
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull,push".into()),
            })
        );
        // Unquoted values, odd spacing, escaped quotes, case-insensitive scheme.
        assert_eq!(
            parse_challenge(r#"bearer  realm=https://a/t , service="s\"x""#),
            Some(Challenge::Bearer { realm: "https://a/t".into(), service: Some("s\"x".into()), scope: None })
        );
        assert_eq!(parse_challenge("Bearer service=x"), None, "a Bearer challenge needs a realm");
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge(""), None);
        assert_eq!(
            parse_challenge("Bearer realm=\"unterminated"),
            Some(Challenge::Bearer { realm: "unterminated".into(), service: None, scope: None })
        );
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let c = Credentials::new("alice", "hunter2");
        let shown = format!("{c:?}");
        assert!(!shown.contains("alice") && !shown.contains("hunter2"), "{shown}");
        assert!(c.basic_header().is_sensitive());
    }
}
