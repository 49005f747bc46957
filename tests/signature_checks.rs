//! Every signature's report says which checks ran and how each ended (issue 11 §1), in
//! `verify` text and JSON and in the `audit` JSON (valid against docs/audit.schema.json).

use serde_json::Value;

use crate::referrers_api::referrers;
use crate::save_load::image;
use crate::support::cosign::OpensslKey;
use crate::support::{assert_matches_schema, ok_all, random_bytes, sealift, tempdir, TestRegistry};

/// The `checks` object of the signature of format `format` in a verify or audit report.
fn checks_of(report: &Value, format: &str) -> Value {
    let images = report["images"].as_array().unwrap_or_else(|| panic!("no images: {report:#}"));
    let sigs = images[0]["signatures"].as_array().unwrap();
    let s = sigs.iter().find(|s| s["format"] == format).unwrap_or_else(|| panic!("no {format}: {report:#}"));
    s["checks"].clone()
}

fn expect(pairs: &[(&str, &str)]) -> Value {
    Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect())
}

#[test]
fn verify_and_audit_say_which_checks_ran_for_each_signature() {
    let keys = tempdir();
    let key = OpensslKey::p256(keys.path(), "signer");
    let reg = TestRegistry::start();
    let app = image(&reg, "team/app", Some("1.0"), &[random_bytes(10_000)], false, "amd64");
    referrers(&reg, "team/app", &app, &key);
    let dir = tempdir();
    let bundle = dir.path().join("bundle.tar");
    let reference = format!("{}/team/app:1.0", reg.addr);
    ok_all(&sealift(&["save", &reference, "-o", bundle.to_str().unwrap()]));

    // The key-signed simple-signing referrer: no certificate, no log entry, no timestamp.
    let key_signed = expect(&[
        ("signature", "passed"),
        ("subject", "passed"),
        ("certificate_chain", "not-applicable"),
        ("identity", "not-applicable"),
        ("rekor_set", "absent"),
        ("inclusion_proof", "not-applicable"),
        ("checkpoint", "not-applicable"),
        ("tlog_body", "absent"),
        ("sct", "not-applicable"),
        ("timestamp", "absent"),
    ]);
    // The real cosign v3 bundle (B1): its certificate's signature holds, but with keys
    // only nothing vouches for the certificate.
    let bundle_checks = expect(&[
        ("signature", "passed"),
        ("subject", "not-reached"),
        ("certificate_chain", "not-configured"),
        ("identity", "not-reached"),
        ("rekor_set", "not-reached"),
        ("inclusion_proof", "not-reached"),
        ("checkpoint", "not-reached"),
        ("tlog_body", "not-reached"),
        ("sct", "not-reached"),
        ("timestamp", "not-reached"),
    ]);
    let b = bundle.to_str().unwrap();
    let out = sealift(&["verify", "--bundle", b, "--key", key.public_path(), "--output", "json"]);
    let v: Value = serde_json::from_str(&ok_all(&out).lines().skip_while(|l| !l.starts_with('{')).collect::<String>())
        .unwrap_or_else(|e| panic!("verify --output json: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(checks_of(&v, "simple-signing-referrer"), key_signed);
    assert_eq!(checks_of(&v, "sigstore-bundle"), bundle_checks);

    let text = ok_all(&sealift(&["verify", "--bundle", b, "--key", key.public_path()]));
    assert!(
        text.contains("    checks: signature passed, subject passed, certificate_chain not-applicable, identity not-applicable, rekor_set absent"),
        "{text}"
    );

    let out = sealift(&["audit", b, "--key", key.public_path(), "--output", "json"]);
    let a: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("audit json: {e}"));
    assert_matches_schema("docs/audit.schema.json", &a);
    assert_eq!(checks_of(&a, "simple-signing-referrer"), key_signed);
    assert_eq!(checks_of(&a, "sigstore-bundle"), bundle_checks);
    let out = sealift(&["audit", b, "--key", key.public_path()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("        checks: signature passed, subject passed, certificate_chain not-applicable"),
        "{text}"
    );
}
