//! Image references: `host[:port]/repo[:tag][@sha256:digest]`.
//!
//! Parsing follows the distribution reference grammar closely enough to refuse what a
//! registry would refuse (uppercase repositories, empty components, bad tags) with a
//! message naming the input. A reference without a registry host is Docker Hub's, as in
//! every other client (`alpine` = `docker.io/library/alpine`).

use std::fmt;
use std::str::FromStr;

use super::digest::Digest;

/// A parsed image reference. At least one of `tag` and `digest` may be absent; then
/// [`Reference::tag_or_latest`] gives `latest`, as other clients do.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed image reference {input:?}: {reason}")]
pub struct ReferenceError {
    pub input: String,
    pub reason: &'static str,
}

pub const DOCKER_HUB: &str = "docker.io";

/// Whether `tag` is a valid tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
pub fn is_valid_tag(tag: &str) -> bool {
    valid_tag(tag)
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_path_component(c: &str) -> bool {
    // [a-z0-9]+ separated by '.', '_', '__' or one or more '-'.
    if c.is_empty() {
        return false;
    }
    let b = c.as_bytes();
    if !b[0].is_ascii_lowercase() && !b[0].is_ascii_digit() {
        return false;
    }
    if !b[b.len() - 1].is_ascii_lowercase() && !b[b.len() - 1].is_ascii_digit() {
        return false;
    }
    let mut prev_sep = String::new();
    for &ch in b {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            if !prev_sep.is_empty() {
                let ok = prev_sep == "." || prev_sep == "_" || prev_sep == "__" || prev_sep.bytes().all(|x| x == b'-');
                if !ok {
                    return false;
                }
                prev_sep.clear();
            }
        } else if matches!(ch, b'.' | b'_' | b'-') {
            prev_sep.push(ch as char);
        } else {
            return false;
        }
    }
    true
}

fn valid_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || h.starts_with('[') => (host, Some(port)),
        _ => (h, None),
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') && host.ends_with(']') {
        return host[1..host.len() - 1].parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|l| !l.is_empty() && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
}

/// If `input` starts with user info (`user:password@host/...`, maybe after `scheme://`),
/// the input with it replaced by `<redacted>`, so that no message repeats a password.
/// `name@sha256:...` (a digest) is not user info.
pub fn without_userinfo(input: &str) -> Option<String> {
    let (scheme, rest) = match input.find("://") {
        Some(i) => input.split_at(i + 3),
        None => ("", input),
    };
    let first = rest.split('/').next().unwrap_or("");
    let at = first.rfind('@')?;
    let after = &rest[at + 1..];
    // `alpine@sha256:...` or `app:1@sha256:...` on Docker Hub: the part after '@' is a digest.
    if scheme.is_empty() && after.parse::<Digest>().is_ok() {
        return None;
    }
    Some(format!("{scheme}<redacted>@{after}"))
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if let Some(redacted) = without_userinfo(input) {
            return Err(ReferenceError {
                input: redacted,
                reason: "credentials do not belong in a reference; use --username with --password-stdin or the Docker config",
            });
        }
        let err = |reason| ReferenceError { input: input.to_owned(), reason };
        if input.is_empty() || input.len() > 1024 {
            return Err(err("empty or too long"));
        }
        let (name_tag, digest) = match input.split_once('@') {
            Some((n, d)) => (n, Some(d.parse::<Digest>().map_err(|_| err("digest is not sha256:<64 lowercase hex>"))?)),
            None => (input, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (&name_tag[..last_slash + i], Some(&name_tag[last_slash + i + 1..])),
            None => (name_tag, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(err("invalid tag"));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('[') =>
            {
                if !valid_host(first) {
                    return Err(err("invalid registry host"));
                }
                (first.to_owned(), rest.to_owned())
            }
            _ => {
                let repo = if name.contains('/') { name.to_owned() } else { format!("library/{name}") };
                (DOCKER_HUB.to_owned(), repo)
            }
        };
        if repository.is_empty() || repository.len() > 255 || !repository.split('/').all(valid_path_component) {
            return Err(err("invalid repository name (lowercase letters, digits and separators . _ - /)"));
        }
        Ok(Reference { registry, repository, tag: tag.map(str::to_owned), digest })
    }
}

impl Reference {
    /// The tag to resolve when neither a tag nor a digest was given.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn manifest_reference(&self) -> String {
        match &self.digest {
            Some(d) => d.to_string(),
            None => self.tag_or_latest().to_owned(),
        }
    }

    /// `host/repo`, the identity cosign writes as `docker-reference`.
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository with another tag or digest.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference { digest: Some(digest), ..self.clone() }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_full_forms() {
        let r: Reference = "127.0.0.1:5000/team/app:1.0".parse().unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "team/app", Some("1.0"))
        );
        let r: Reference = format!("localhost/app@{D}").parse().unwrap();
        assert_eq!(r.registry, "localhost");
        assert_eq!(r.digest.unwrap().to_string(), D);
        let r: Reference = format!("reg.example:443/a/b/c:v1@{D}").parse().unwrap();
        assert_eq!(r.to_string(), format!("reg.example:443/a/b/c:v1@{D}"));
        assert_eq!(r.manifest_reference(), D);
    }

    #[test]
    fn defaults_like_docker() {
        let r: Reference = "alpine".parse().unwrap();
        assert_eq!(r.to_string(), "docker.io/library/alpine");
        assert_eq!(r.tag_or_latest(), "latest");
        let r: Reference = "me/app:2".parse().unwrap();
        assert_eq!(r.repository_name(), "docker.io/me/app");
    }

    #[test]
    fn refuses_credentials_without_repeating_them() {
        for input in
            ["alice:hunter2@reg.example/app:1", "https://alice:hunter2@reg.example/app", "alice@127.0.0.1:5000/a"]
        {
            let e = input.parse::<Reference>().unwrap_err().to_string();
            assert!(!e.contains("hunter2") && !e.contains("alice") && e.contains("credentials"), "{e}");
        }
        assert_eq!(without_userinfo("alice:pw@reg.example/app").as_deref(), Some("<redacted>@reg.example/app"));
        assert_eq!(without_userinfo(&format!("alpine@{D}")), None);
        assert_eq!(without_userinfo(&format!("reg.example/app@{D}")), None);
        assert!(format!("alpine@{D}").parse::<Reference>().is_ok());
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "127.0.0.1:5000/",
            "127.0.0.1:5000/App:1",
            "127.0.0.1:5000/app:",
            "127.0.0.1:5000/app:-x",
            "127.0.0.1:5000/app@sha256:abc",
            "127.0.0.1:5000//app",
            "127.0.0.1:99999999/app",
            "host.example/a..b",
            "host.example/a b",
        ] {
            assert!(bad.parse::<Reference>().is_err(), "{bad:?} should be refused");
        }
    }
}
