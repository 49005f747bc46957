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
    let r = report(case)?;
    match r.verdict {
        Verdict::Verified => Ok(()),
        Verdict::Rejected(r) => Err(r.to_string()),
        Verdict::PresentNotVerified { reason } => Err(format!("not verified: {reason}")),
    }
}

/// The full report of one case (`Err` when its trusted root is unusable).
fn report(case: &Path) -> Result<super::SignatureReport, String> {
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
    Ok(verify_sigstore(&policy, &bundle, Subject::Artifact(&artifact)))
}

/// The per-signature record of checks says which check refused a case, and what a
/// verified case was checked by: one case per check and per form of log entry.
#[test]
fn conformance_cases_record_which_checks_ran() {
    use super::CheckStatus::{self, *};
    // (case, [signature, subject, certificate_chain, identity, rekor_set, inclusion_proof,
    //  checkpoint, tlog_body, sct, timestamp])
    let table: &[(&str, [CheckStatus; 10])] = &[
        // Rekor v1 with SET and inclusion proof; production root has CT logs and TSAs.
        ("happy-path-v0.3", [Passed, Passed, Passed, Passed, Passed, Passed, Passed, Passed, Passed, Absent]),
        // v0.1: a SET and (here) an inclusion proof with its checkpoint.
        ("happy-path-v0.1", [Passed, Passed, Passed, Passed, Passed, Passed, Passed, Passed, Passed, Absent]),
        // Rekor v2: no SET; checkpoint, and an RFC 3161 timestamp gives the time.
        ("rekor2-happy-path", [Passed, Passed, Passed, Passed, NotApplicable, Passed, Passed, Passed, Passed, Passed]),
        ("managed-key-happy-path", {
            let na = NotApplicable;
            [Passed, Passed, na, na, Passed, Passed, Passed, Passed, na, Passed]
        }),
        (
            "signature-mismatch_fail",
            [
                Failed, NotReached, NotReached, NotReached, NotReached, NotReached, NotReached, NotReached, NotReached,
                NotReached,
            ],
        ),
        (
            "inclusion-proof-corrupted-hash_fail",
            [Passed, Passed, NotReached, NotReached, Passed, Failed, NotReached, NotReached, NotReached, Absent],
        ),
        (
            "checkpoint-wrong-roothash_fail",
            [Passed, Passed, NotReached, NotReached, Passed, Passed, Failed, NotReached, NotReached, Absent],
        ),
        (
            "set-invalid-signature_fail",
            [Passed, Passed, NotReached, NotReached, Failed, NotReached, NotReached, NotReached, NotReached, Absent],
        ),
        (
            "wrong-hashedrekord-entry_fail",
            [Passed, Passed, NotReached, NotReached, Passed, Passed, Passed, Failed, NotReached, Absent],
        ),
        ("invalid-ct-key_fail", [Passed, Passed, Passed, Passed, Passed, Passed, Passed, Passed, Failed, Absent]),
        (
            "rekor2-no-timestamp_fail",
            [Passed, Passed, NotReached, NotReached, NotApplicable, Passed, Passed, Passed, NotReached, Failed],
        ),
        ("message-digest-mismatch_fail", [NotReached; 10]),
    ];
    let mut wrong = Vec::new();
    for (name, want) in table {
        let r = report(&dir().join(name)).unwrap();
        let got: Vec<CheckStatus> = r.checks.entries().iter().map(|e| e.1).collect();
        if got != want {
            wrong.push(format!("{name}: got {} ({:?})", r.checks, r.verdict));
        }
    }
    assert!(wrong.is_empty(), "check records differ:\n{}", wrong.join("\n"));
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
