//! The trust policy: which signers each repository accepts, loaded from TOML
//! (docs/policy.md) or made from the command line's shorthand flags (one rule covering
//! every repository). Loading reads every key and certificate file once, so a policy that
//! loaded is complete; deciding is [`crate::assess`]'s job, and the clock is the caller's.
//!
//! Rules match the *source* repository `host[:port]/path` with globs (`*` stays within one
//! path component, `**` crosses them); the first matching rule wins. Unknown keys are an
//! error, because a misspelt `require_attestation` silently ignored would weaken the policy.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

use super::{TrustError, TrustMaterial, TrustSources};
use crate::verify::{IdentityMatcher, SignatureAlgorithm, StringMatch, TrustPolicy};

/// The only policy file version this build reads.
pub const POLICY_VERSION: u32 = 1;

/// Why a policy could not be made. Every variant names the file (or "command line") and
/// the rule.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("policy {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("policy {origin}: version {found} is not supported (expected {POLICY_VERSION})")]
    Version { origin: String, found: u32 },
    #[error("policy {origin}: no rules")]
    NoRules { origin: String },
    #[error("policy {origin}, rule {rule:?}: {reason}")]
    Rule { origin: String, rule: String, reason: String },
    #[error("policy {origin}, rule {rule:?}: {source}")]
    Trust { origin: String, rule: String, source: TrustError },
}

impl PolicyError {
    /// Whether the error is about reading files (could not check) rather than about what
    /// the policy says (a usage error).
    pub fn is_io(&self) -> bool {
        match self {
            PolicyError::Read { .. } => true,
            PolicyError::Trust { source, .. } => matches!(source, TrustError::Read { .. }),
            _ => false,
        }
    }
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleSpec>,
}

/// One `[[rule]]` as written (also built from the command line). Paths are relative to
/// the policy file's directory (to the working directory for the command line).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default)]
    pub name: Option<String>,
    pub repositories: Vec<String>,
    #[serde(default)]
    pub keys: Vec<PathBuf>,
    #[serde(default)]
    pub ca_roots: Vec<PathBuf>,
    #[serde(default)]
    pub ca_intermediates: Vec<PathBuf>,
    #[serde(default)]
    pub trusted_root: Option<PathBuf>,
    #[serde(default)]
    pub rekor_keys: Vec<PathBuf>,
    #[serde(default)]
    pub identities: Vec<IdentitySpec>,
    /// Accept any certificate identity issued under `ca_roots` (a private PKI whose root
    /// is the identity). Explicit, because the default must reject.
    #[serde(default)]
    pub any_identity: bool,
    #[serde(default)]
    pub threshold: Option<usize>,
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
    #[serde(default)]
    pub require_attestations: Vec<String>,
    #[serde(default)]
    pub check_docker_reference: bool,
    /// RFC 3339.
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub reject: bool,
    /// Do not require an embedded SCT from the trusted root's CT logs (cosign's
    /// `--insecure-ignore-sct`).
    #[serde(default)]
    pub insecure_ignore_sct: bool,
}

/// One accepted certificate identity: exactly one of `identity`/`identity_regexp`, at most
/// one of `issuer`/`issuer_regexp`. Regular expressions are unanchored, as cosign's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpec {
    #[serde(default)]
    pub identity: Option<String>,
    #[serde(default)]
    pub identity_regexp: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub issuer_regexp: Option<String>,
}

/// A loaded rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub repositories: Vec<String>,
    matchers: Vec<GlobMatcher>,
    pub material: TrustMaterial,
    pub identities: Vec<IdentityMatcher>,
    pub any_identity: bool,
    /// Distinct verified signers needed (at least 1).
    pub threshold: usize,
    pub algorithms: Option<Vec<SignatureAlgorithm>>,
    pub require_attestations: Vec<String>,
    pub check_docker_reference: bool,
    pub at: Option<DateTime<Utc>>,
    pub reject: bool,
    /// `insecure_ignore_sct`: the CT logs were dropped; reports say SCTs were skipped.
    pub ignore_sct: bool,
}

/// A loaded policy: rules in file order.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The file it came from, or `None` for the command line.
    pub source: Option<PathBuf>,
    pub rules: Vec<Rule>,
}

/// Line and column (1-based) of a byte offset, for error messages.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

impl Policy {
    /// Reads a policy file and every file it names.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// Parses policy text as if read from `path` (relative paths resolve against its directory).
    pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| line_col(text, s.start));
            let reason = match at {
                Some((l, c)) => format!("line {l}, column {c}: {}", e.message()),
                None => e.message().to_owned(),
            };
            PolicyError::Parse { path: path.into(), reason: reason.replace('\n', " ") }
        })?;
        let origin = path.display().to_string();
        if file.version != POLICY_VERSION {
            return Err(PolicyError::Version { origin, found: file.version });
        }
        if file.rules.is_empty() {
            return Err(PolicyError::NoRules { origin });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let rules = file
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, spec)| Rule::from_spec(spec, i, base, &origin))
            .collect::<Result<_, _>>()?;
        Ok(Policy { source: Some(path.into()), rules })
    }

    /// A one-rule policy (the command line's shorthand flags).
    pub fn single(rule: Rule) -> Policy {
        Policy { source: None, rules: vec![rule] }
    }

    /// The first rule whose globs match `repository` (`host[:port]/path`).
    pub fn rule_for(&self, repository: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(repository))
    }

    /// Where the policy came from, for reports.
    pub fn origin(&self) -> String {
        self.source.as_ref().map_or_else(|| "command line".to_owned(), |p| p.display().to_string())
    }
}

fn compile(pattern: &str, what: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("{what} {pattern:?} is not a valid regular expression: {e}"))
}

fn string_match(exact: Option<&String>, re: Option<&String>, what: &str) -> Result<Option<StringMatch>, String> {
    match (exact, re) {
        (Some(_), Some(_)) => Err(format!("give {what} or {what}_regexp, not both")),
        (Some(e), None) => Ok(Some(StringMatch::Exact(e.clone()))),
        (None, Some(r)) => Ok(Some(StringMatch::Regex(compile(r, &format!("{what}_regexp"))?))),
        (None, None) => Ok(None),
    }
}

impl IdentitySpec {
    fn matcher(&self) -> Result<IdentityMatcher, String> {
        let san = string_match(self.identity.as_ref(), self.identity_regexp.as_ref(), "identity")?
            .ok_or("an identity entry needs identity or identity_regexp")?;
        let issuer = string_match(self.issuer.as_ref(), self.issuer_regexp.as_ref(), "issuer")?;
        Ok(IdentityMatcher { san, issuer })
    }
}

impl Rule {
    /// Checks and loads one rule; `index` names unnamed rules (`rule 1`, ...).
    pub fn from_spec(spec: RuleSpec, index: usize, base: &Path, origin: &str) -> Result<Rule, PolicyError> {
        let name = spec.name.clone().unwrap_or_else(|| format!("rule {}", index + 1));
        let err = |reason: String| PolicyError::Rule { origin: origin.to_owned(), rule: name.clone(), reason };
        if spec.repositories.is_empty() {
            return Err(err("repositories is empty: the rule would match nothing".into()));
        }
        let mut matchers = Vec::new();
        for p in &spec.repositories {
            let g = GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map_err(|e| err(format!("repository glob {p:?}: {}", e.kind())))?;
            matchers.push(g.compile_matcher());
        }
        let identities =
            spec.identities.iter().map(IdentitySpec::matcher).collect::<Result<Vec<_>, _>>().map_err(&err)?;
        let threshold = spec.threshold.unwrap_or(1);
        if threshold == 0 {
            return Err(err("threshold must be at least 1".into()));
        }
        let algorithms =
            match &spec.algorithms {
                None => None,
                Some(list) if list.is_empty() => return Err(err("algorithms is empty: nothing could verify".into())),
                Some(list) => Some(
                    list.iter()
                        .map(|a| a.parse::<SignatureAlgorithm>().map_err(|e| err(e.to_string())))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
        let at = match &spec.at {
            None => None,
            Some(s) => Some(
                DateTime::parse_from_rfc3339(s)
                    .map_err(|e| err(format!("at {s:?} is not an RFC 3339 time: {e}")))?
                    .with_timezone(&Utc),
            ),
        };
        let certificates = !spec.ca_roots.is_empty() || spec.trusted_root.is_some();
        if !spec.reject {
            if spec.keys.is_empty() && !certificates {
                return Err(err("trusts nothing: give keys, ca_roots or trusted_root (or reject = true)".into()));
            }
            if certificates && identities.is_empty() && !spec.any_identity {
                return Err(err(
                    "ca_roots/trusted_root without identities would accept any certificate under the roots: \
                     list identities, or set any_identity = true for a private PKI"
                        .into(),
                ));
            }
        }
        if spec.any_identity && !identities.is_empty() {
            return Err(err("any_identity = true contradicts the identities listed".into()));
        }
        let resolve = |ps: &[PathBuf]| ps.iter().map(|p| base.join(p)).collect::<Vec<_>>();
        let sources = TrustSources {
            keys: resolve(&spec.keys),
            ca_roots: resolve(&spec.ca_roots),
            ca_intermediates: resolve(&spec.ca_intermediates),
            trusted_root: spec.trusted_root.as_ref().map(|p| base.join(p)),
            rekor_keys: resolve(&spec.rekor_keys),
        };
        let mut material = TrustMaterial::load(&sources).map_err(|source| PolicyError::Trust {
            origin: origin.to_owned(),
            rule: name.clone(),
            source,
        })?;
        if spec.insecure_ignore_sct {
            material.ct_logs.clear();
        }
        Ok(Rule {
            name,
            repositories: spec.repositories,
            matchers,
            material,
            identities,
            any_identity: spec.any_identity,
            threshold,
            algorithms,
            require_attestations: spec.require_attestations,
            check_docker_reference: spec.check_docker_reference,
            at,
            reject: spec.reject,
            ignore_sct: spec.insecure_ignore_sct,
        })
    }

    /// Whether the rule's globs match `repository` (`host[:port]/path`).
    pub fn matches(&self, repository: &str) -> bool {
        self.matchers.iter().any(|m| m.is_match(repository))
    }

    /// What [`crate::verify`] needs for a signature of an image from `repository`, at `now`.
    pub fn trust_policy(&self, repository: &str, now: DateTime<Utc>) -> TrustPolicy {
        let mut p = self.material.clone().into_policy(now);
        p.identities = self.identities.clone();
        p.allow_any_identity = self.any_identity;
        p.at = self.at;
        p.allowed_algorithms = self.algorithms.clone();
        p.ignore_sct = self.ignore_sct;
        if self.check_docker_reference {
            p.docker_reference = Some(repository.to_owned());
        }
        p
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
