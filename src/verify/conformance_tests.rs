//! The sigstore-conformance `bundle-verify` cases (tests/data/sigstore-conformance, see its
//! PROVENANCE.md) run through [`verify_sigstore`]: each case reaches its expected verdict
//! (a `_fail` suffix means refused) or is listed in [`OUT_OF_SCOPE`] with the reason.

use std::path::{Path, PathBuf};

use chrono::TimeZone;

use super::sigstore_bundle::{verify_sigstore, Subject};
use super::{crypto, IdentityMatcher, StringMatch, Verdict};
use crate::trust::parse_trusted_root;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Cases sealift does not handle yet, and why. Every other case must reach its verdict.
const OUT_OF_SCOPE: &[(&str, &str)] = &[];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore-conformance")
}

fn read_opt(p: &Path) -> Option<Vec<u8>> {
    std::fs::read(p).ok()
}

/// Runs one case as `cosign verify-blob --bundle` would: `Err(reason)` when refused. A
/// trusted root sealift cannot use is a refusal too.
fn run(case: &Path) -> Result<(), String> {
    let base = dir();
    let root_bytes = read_opt(&case.join("trusted_root.json"))
        .unwrap_or_else(|| std::fs::read(base.join("production_trusted_root.json")).unwrap());
    let tr = parse_trusted_root(&root_bytes).map_err(|e| format!("trusted root: {e}"))?;
    let mut policy = tr.into_policy(chrono::Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap());
    if let Some(k) = read_opt(&case.join("key.pub")) {
        policy.keys = vec![crypto::load_public_key(&k, "key.pub").map_err(|e| e.to_string())?];
    }
    let text = |name: &str, default: &str| {
        read_opt(&case.join(name)).map(|b| String::from_utf8(b).unwrap().trim().to_owned()).unwrap_or(default.into())
    };
    policy.identities = vec![IdentityMatcher {
        san: StringMatch::Exact(text("identity", DEFAULT_IDENTITY)),
        issuer: Some(StringMatch::Exact(text("issuer", DEFAULT_ISSUER))),
    }];
    let artifact = read_opt(&case.join("artifact")).unwrap_or_else(|| std::fs::read(base.join("a.txt")).unwrap());
    let bundle = std::fs::read(case.join("bundle.sigstore.json")).unwrap();
    match verify_sigstore(&policy, &bundle, Subject::Artifact(&artifact)).verdict {
        Verdict::Verified => Ok(()),
        Verdict::Rejected(r) => Err(r.to_string()),
        Verdict::PresentNotVerified { reason } => Err(format!("not verified: {reason}")),
    }
}

#[test]
fn conformance_bundle_verify_cases_reach_their_verdicts() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("bundle.sigstore.json").is_file())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 70, "the suite's 70 cases are all present");
    let mut wrong = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let expect_ok = !name.ends_with("_fail");
        let got = run(case);
        let skipped = OUT_OF_SCOPE.iter().any(|(n, _)| *n == name);
        let shown = match &got {
            Ok(()) => "verified".to_owned(),
            Err(why) => format!("refused: {why}"),
        };
        eprintln!("{name}: {shown}{}", if skipped { " (out of scope)" } else { "" });
        if got.is_ok() != expect_ok && !skipped {
            wrong.push(name.to_owned());
        }
    }
    for (n, _) in OUT_OF_SCOPE {
        assert!(cases.iter().any(|c| c.ends_with(n)), "out-of-scope case {n} exists");
    }
    // docs/signing.md states these numbers.
    assert_eq!(OUT_OF_SCOPE.len(), 0);
    assert!(wrong.is_empty(), "{} cases reach the wrong verdict: {wrong:?}", wrong.len());
}
