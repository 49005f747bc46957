//! The trust flags shared by `verify`, `load` and `audit` ([`TrustArgs`]) resolved into a
//! [`Policy`]: `--policy FILE`, or the shorthand flags as one rule named "command line"
//! covering every repository. Follows cosign where it is strict: certificate trust
//! (`--ca-roots`, `--trusted-root`) needs an identity constraint. Mixing `--policy` with
//! shorthand flags is refused rather than merged, so what is trusted is never ambiguous.

use std::path::PathBuf;

use crate::cli::args::TrustArgs;
use crate::exit;
use crate::trust::policy::{IdentitySpec, Policy, PolicyError, Rule, RuleSpec};

/// The name of the rule the shorthand flags make.
pub const COMMAND_LINE_RULE: &str = "command line";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustArgsError {
    #[error("--policy cannot be combined with {flags}: put that trust in the policy file")]
    PolicyAndFlags { flags: String },
    #[error("no trust given: use --policy FILE, --key PUB, --ca-roots PEM or --trusted-root FILE")]
    NoTrust,
    #[error(
        "--ca-roots and --trusted-root need --certificate-identity or --certificate-identity-regexp \
         (use --certificate-identity-regexp '.*' to accept any identity under the roots)"
    )]
    IdentityRequired,
    #[error("give --{0} or --{0}-regexp, not both")]
    Both(&'static str),
    #[error("{flag} has no effect without --ca-roots or --trusted-root")]
    IdentityWithoutCa { flag: &'static str },
    #[error("--threshold must be at least 1")]
    Threshold,
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl TrustArgsError {
    /// Usage errors exit 2; an unreadable key or policy file is "could not check" (3).
    pub fn exit_code(&self) -> u8 {
        match self {
            TrustArgsError::Policy(e) if e.is_io() => exit::FAILED,
            _ => exit::USAGE,
        }
    }
}

/// The shorthand flags that were given (for the `--policy` conflict message).
fn shorthand_flags(a: &TrustArgs) -> Vec<&'static str> {
    let mut f = Vec::new();
    let mut add = |given: bool, name| {
        if given {
            f.push(name)
        }
    };
    add(!a.keys.is_empty(), "--key");
    add(a.ca_roots.is_some(), "--ca-roots");
    add(a.ca_intermediates.is_some(), "--ca-intermediates");
    add(a.trusted_root.is_some(), "--trusted-root");
    add(!a.rekor_key.is_empty(), "--rekor-key");
    add(a.certificate_identity.is_some(), "--certificate-identity");
    add(a.certificate_identity_regexp.is_some(), "--certificate-identity-regexp");
    add(a.certificate_oidc_issuer.is_some(), "--certificate-oidc-issuer");
    add(a.certificate_oidc_issuer_regexp.is_some(), "--certificate-oidc-issuer-regexp");
    add(a.at.is_some(), "--at");
    add(a.threshold != 1, "--threshold");
    f
}

/// The policy the flags describe; `None` when no trust was given at all (the caller
/// decides whether that is allowed, e.g. `load --insecure-skip-verify`).
pub fn policy_from_args(a: &TrustArgs) -> Result<Option<Policy>, TrustArgsError> {
    let flags = shorthand_flags(a);
    if let Some(path) = &a.policy {
        if !flags.is_empty() {
            return Err(TrustArgsError::PolicyAndFlags { flags: flags.join(", ") });
        }
        return Ok(Some(Policy::load(path)?));
    }
    if a.threshold == 0 {
        return Err(TrustArgsError::Threshold);
    }
    let certificates = a.ca_roots.is_some() || a.trusted_root.is_some();
    if a.keys.is_empty() && !certificates {
        if flags.iter().any(|f| f.starts_with("--certificate")) {
            return Err(TrustArgsError::IdentityWithoutCa { flag: flags[0] });
        }
        return Ok(None);
    }
    if a.certificate_identity.is_some() && a.certificate_identity_regexp.is_some() {
        return Err(TrustArgsError::Both("certificate-identity"));
    }
    if a.certificate_oidc_issuer.is_some() && a.certificate_oidc_issuer_regexp.is_some() {
        return Err(TrustArgsError::Both("certificate-oidc-issuer"));
    }
    let identity_given = a.certificate_identity.is_some() || a.certificate_identity_regexp.is_some();
    if certificates && !identity_given {
        return Err(TrustArgsError::IdentityRequired);
    }
    if !certificates {
        for (given, flag) in [
            (a.certificate_identity.is_some(), "--certificate-identity"),
            (a.certificate_identity_regexp.is_some(), "--certificate-identity-regexp"),
            (a.certificate_oidc_issuer.is_some(), "--certificate-oidc-issuer"),
            (a.certificate_oidc_issuer_regexp.is_some(), "--certificate-oidc-issuer-regexp"),
        ] {
            if given {
                return Err(TrustArgsError::IdentityWithoutCa { flag });
            }
        }
    }
    let identities = if identity_given {
        vec![IdentitySpec {
            identity: a.certificate_identity.clone(),
            identity_regexp: a.certificate_identity_regexp.clone(),
            issuer: a.certificate_oidc_issuer.clone(),
            issuer_regexp: a.certificate_oidc_issuer_regexp.clone(),
        }]
    } else {
        Vec::new()
    };
    let spec = RuleSpec {
        name: Some(COMMAND_LINE_RULE.to_owned()),
        repositories: vec!["**".to_owned()],
        keys: a.keys.clone(),
        ca_roots: a.ca_roots.iter().cloned().collect(),
        ca_intermediates: a.ca_intermediates.iter().cloned().collect(),
        trusted_root: a.trusted_root.clone(),
        rekor_keys: a.rekor_key.clone(),
        identities,
        any_identity: false,
        threshold: Some(a.threshold),
        algorithms: None,
        require_attestations: Vec::new(),
        check_docker_reference: false,
        at: a.at.clone(),
        reject: false,
        insecure_ignore_sct: a.insecure_ignore_sct,
    };
    let rule = Rule::from_spec(spec, 0, &PathBuf::new(), COMMAND_LINE_RULE)?;
    Ok(Some(Policy::single(rule)))
}

/// Like [`policy_from_args`], but trust is mandatory (`verify`, `audit`).
pub fn required_policy(a: &TrustArgs) -> Result<Policy, TrustArgsError> {
    policy_from_args(a)?.ok_or(TrustArgsError::NoTrust)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(p: &str) -> PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign-real").join(p)
    }

    #[test]
    fn insecure_ignore_sct_drops_the_ct_logs() {
        let a = TrustArgs {
            trusted_root: Some(data("sigstore-root-signing/trusted_root.json")),
            certificate_identity_regexp: Some(".*".into()),
            threshold: 1,
            ..Default::default()
        };
        let now = chrono::Utc::now();
        let ct =
            |a: &TrustArgs| required_policy(a).unwrap().rule_for("r").unwrap().trust_policy("r", now).ct_logs.len();
        assert!(ct(&a) > 0);
        assert_eq!(ct(&TrustArgs { insecure_ignore_sct: true, ..a }), 0);
    }

    #[test]
    fn shorthand_becomes_one_rule_covering_everything() {
        let a = TrustArgs { keys: vec![data("containers-image/keys/cosign.pub")], threshold: 1, ..Default::default() };
        let p = required_policy(&a).unwrap();
        let r = p.rule_for("127.0.0.1:5000/team/app").unwrap();
        assert_eq!(r.name, COMMAND_LINE_RULE);
        assert_eq!(r.material.keys.len(), 1);
        assert!(p.rule_for("").is_some(), "detached signatures have no repository");
        assert!(p.rule_for("reg.example/a/b/c").is_some());
    }

    #[test]
    fn usage_errors_name_the_flags() {
        let root = data("containers-image/roots/pki_root_crts.pem");
        let a = TrustArgs { ca_roots: Some(root.clone()), threshold: 1, ..Default::default() };
        let e = required_policy(&a).unwrap_err();
        assert!(matches!(e, TrustArgsError::IdentityRequired));
        assert!(e.to_string().contains("--certificate-identity"), "{e}");
        assert_eq!(e.exit_code(), exit::USAGE);
        let a = TrustArgs {
            trusted_root: Some(data("sigstore-root-signing/trusted_root.json")),
            threshold: 1,
            ..Default::default()
        };
        assert!(matches!(required_policy(&a), Err(TrustArgsError::IdentityRequired)));
        let a =
            TrustArgs { policy: Some("p.toml".into()), keys: vec!["k.pub".into()], threshold: 1, ..Default::default() };
        let e = required_policy(&a).unwrap_err();
        assert!(e.to_string().contains("--policy cannot be combined with --key"), "{e}");
        assert!(matches!(
            required_policy(&TrustArgs { threshold: 1, ..Default::default() }),
            Err(TrustArgsError::NoTrust)
        ));
        let a = TrustArgs {
            keys: vec![data("containers-image/keys/cosign.pub")],
            certificate_identity: Some("x".into()),
            threshold: 1,
            ..Default::default()
        };
        assert!(matches!(required_policy(&a), Err(TrustArgsError::IdentityWithoutCa { .. })));
        let a = TrustArgs {
            ca_roots: Some(root),
            certificate_identity: Some("x".into()),
            certificate_identity_regexp: Some("y".into()),
            threshold: 1,
            ..Default::default()
        };
        assert!(matches!(required_policy(&a), Err(TrustArgsError::Both("certificate-identity"))));
        let a = TrustArgs { keys: vec!["/nonexistent.pub".into()], threshold: 1, ..Default::default() };
        assert_eq!(required_policy(&a).unwrap_err().exit_code(), exit::FAILED);
    }

    #[test]
    fn identity_and_time_flags_reach_the_rule() {
        let a = TrustArgs {
            ca_roots: Some(data("containers-image/roots/pki_root_crts.pem")),
            certificate_identity_regexp: Some("@example".into()),
            certificate_oidc_issuer: Some("https://issuer".into()),
            at: Some("2026-01-01T00:00:00Z".into()),
            threshold: 2,
            ..Default::default()
        };
        let p = required_policy(&a).unwrap();
        let r = &p.rules[0];
        assert_eq!(r.identities.len(), 1);
        assert!(r.identities[0].san.matches("me@example.com"));
        assert_eq!(r.threshold, 2);
        assert_eq!(r.at.unwrap().to_rfc3339(), "2026-01-01T00:00:00+00:00");
        let bad = TrustArgs { at: Some("yesterday".into()), ..a };
        assert_eq!(required_policy(&bad).unwrap_err().exit_code(), exit::USAGE);
    }
}
