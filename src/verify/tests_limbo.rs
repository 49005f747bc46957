//! The x509-limbo peer suite, code-signing variant (tests/data/x509-limbo, see its
//! README): every case runs through [`x509::validate_path`], the path validation
//! `verify` uses. A verdict that differs from limbo's must be listed in [`DIFFERS`] with
//! its reason; any other difference fails, and so does a listed case that no longer
//! differs. Above all, no listed case may be one sealift accepts and Go rejects.

use openssl::x509::X509;
use serde_json::Value;

use super::x509::{self, TrustAnchor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V {
    Success,
    Failure,
}

// Reasons, each naming what Go's `x509.Verify` (as cosign calls it) does.
const CRL: &str = "CRLs are not consulted: cosign and Go's x509.Verify do no revocation checking";
const DEPTH: &str = "no max_chain_depth input: Go has none and cosign sets none";
const PEER: &str = "peer names are not checked: cosign passes no DNSName to Go's Verify and matches identities \
                    against SANs by policy afterwards";
const LEAF_EKU: &str = "the case sets the leaf's EKU itself (clientAuth/serverAuth), so the generator's switch to \
                        codeSigning did not reach it: Go with KeyUsages [CodeSigning] rejects it too";
const GO_PATHLEN_SELF_ISSUED: &str =
    "Go counts self-issued intermediates toward pathLenConstraint (RFC 5280 6.1.4(l) does not); we follow Go";
const NC_SUBJECT_IGNORED: &str =
    "name constraints apply to SANs only: Go ignores names in the subject, so the leaf has nothing to check";
const GO_KEY_IDS: &str = "Go does not require AKI/SKI to be present";
const GO_CRITICALITY: &str =
    "Go does not require nameConstraints, policyConstraints or basicConstraints to be marked critical";
const GO_NC_UNHANDLED: &str = "Go handles DNS, email, URI and IP constraints only; a critical nameConstraints with \
                               another form (directoryName, otherName) is an unhandled critical extension";
const GO_NC_ALL_SANS: &str =
    "Go checks a CA's constraints against the SANs of every certificate below it, self-issued ones included";
const GO_NC_LEADING_PERIOD: &str =
    "Go accepts a DNS constraint with a leading period as 'subdomains only' (documented in Go's Verify)";
const GO_NC_IN_LEAF: &str = "Go applies the name constraints of CAs only; a leaf's own are parsed and ignored";
const GO_EMPTY_SUBJECT: &str = "Go matches raw subject and issuer bytes and does not require a critical SAN with an \
                                empty subject (Fulcio leaves have an empty subject)";
const GO_SERIAL: &str = "Go refuses negative serials only; zero and over-long serials are accepted";
const GO_EMPTY_KU: &str = "a keyUsage with no bit set is absent for Go (KeyUsage == 0), so keyCertSign is not demanded";
const GO_LEAF_CA: &str = "Go puts no CA/EE rule on the leaf position (keyCertSign or cA=TRUE in a leaf is accepted)";
const WEBPKI_AKI: &str = "CA/B Forum root AKI profile rule; Go parses only the keyIdentifier and checks nothing else";
const WEBPKI_EKU: &str = "CA/B Forum leaf EKU rule; Go accepts a leaf without EKU or with anyExtendedKeyUsage";
const WEBPKI_SAN: &str = "CA/B Forum SAN presence/criticality rule; Go's Verify without DNSName does not enforce it";
const WEBPKI_RSA8: &str = "CA/B Forum RSA modulus rule; Go accepts moduli not divisible by 8 (sealift still \
                           requires 2048 bits)";
const WEBPKI_V3: &str = "CA/B Forum requires v3; Go accepts a v1/v2 leaf without extensions";

/// Cases whose code-signing verdict differs from limbo's (server-profile) verdict on
/// purpose: (id, sealift's verdict, Go's `x509.Verify` verdict with `KeyUsages:
/// [CodeSigning]` and no DNSName, reason).
#[rustfmt::skip]
const DIFFERS: &[(&str, V, V, &str)] = &[
    ("crl::revoked-certificate-with-crl", V::Success, V::Success, CRL),
    ("crl::crlnumber-missing", V::Success, V::Success, CRL),
    ("crl::crlnumber-critical", V::Success, V::Success, CRL),
    ("crl::issuer-missing-crlsign", V::Success, V::Success, CRL),
    ("pathlen::self-issued-certs-pathlen", V::Failure, V::Failure, GO_PATHLEN_SELF_ISSUED),
    ("pathlen::max-chain-depth-0-exhausted", V::Success, V::Success, DEPTH),
    ("pathlen::max-chain-depth-1-exhausted", V::Success, V::Success, DEPTH),
    ("pathological::nc-dos-3", V::Success, V::Success, NC_SUBJECT_IGNORED),
    ("rfc5280::aki::leaf-missing-aki", V::Success, V::Success, GO_KEY_IDS),
    ("rfc5280::aki::intermediate-missing-aki", V::Success, V::Success, GO_KEY_IDS),
    ("rfc5280::aki::cross-signed-root-missing-aki", V::Success, V::Success, GO_KEY_IDS),
    ("rfc5280::nc::permitted-dns-match-noncritical", V::Success, V::Success, GO_CRITICALITY),
    ("rfc5280::nc::permitted-dn-match", V::Failure, V::Failure, GO_NC_UNHANDLED),
    ("rfc5280::nc::permitted-self-issued", V::Failure, V::Failure, GO_NC_ALL_SANS),
    ("rfc5280::nc::invalid-dnsname-leading-period", V::Success, V::Success, GO_NC_LEADING_PERIOD),
    ("rfc5280::nc::not-allowed-in-ee-noncritical", V::Success, V::Success, GO_NC_IN_LEAF),
    ("rfc5280::nc::not-allowed-in-ee-critical", V::Success, V::Success, GO_NC_IN_LEAF),
    ("rfc5280::nc::nc-permits-email-exact", V::Failure, V::Failure, LEAF_EKU),
    ("rfc5280::nc::nc-permits-email-domain", V::Failure, V::Failure, LEAF_EKU),
    ("rfc5280::nc::nc-permits-email-literal-asterisk-exact-match", V::Failure, V::Failure, LEAF_EKU),
    ("rfc5280::nc::nc-permits-email-literal-double-asterisk", V::Failure, V::Failure, LEAF_EKU),
    ("rfc5280::nc::nc-permits-email-literal-mid-asterisk", V::Failure, V::Failure, LEAF_EKU),
    ("rfc5280::nc::nc-forbids-othername-noop", V::Failure, V::Failure, GO_NC_UNHANDLED),
    ("rfc5280::pc::ica-noncritical-pc", V::Success, V::Success, GO_CRITICALITY),
    ("rfc5280::san::noncritical-with-empty-subject", V::Success, V::Success, GO_EMPTY_SUBJECT),
    ("rfc5280::san::underscore-dns", V::Success, V::Success, PEER),
    ("rfc5280::san::ip-in-dns", V::Success, V::Success, PEER),
    ("rfc5280::serial::too-long", V::Success, V::Success, GO_SERIAL),
    ("rfc5280::serial::zero", V::Success, V::Success, GO_SERIAL),
    ("rfc5280::ski::root-missing-ski", V::Success, V::Success, GO_KEY_IDS),
    ("rfc5280::ski::intermediate-missing-ski", V::Success, V::Success, GO_KEY_IDS),
    ("rfc5280::ca-empty-subject", V::Success, V::Success, GO_EMPTY_SUBJECT),
    ("rfc5280::root-non-critical-basic-constraints", V::Success, V::Success, GO_CRITICALITY),
    ("rfc5280::root-inconsistent-ca-extensions", V::Success, V::Success, GO_EMPTY_KU),
    ("rfc5280::leaf-ku-keycertsign", V::Success, V::Success, GO_LEAF_CA),
    ("rfc5280::ca-as-leaf-wrong-san", V::Success, V::Success, PEER),
    ("webpki::aki::root-with-aki-missing-keyidentifier", V::Success, V::Success, WEBPKI_AKI),
    ("webpki::aki::root-with-aki-authoritycertissuer", V::Success, V::Success, WEBPKI_AKI),
    ("webpki::aki::root-with-aki-authoritycertserialnumber", V::Success, V::Success, WEBPKI_AKI),
    ("webpki::aki::root-with-aki-all-fields", V::Success, V::Success, WEBPKI_AKI),
    ("webpki::aki::root-with-aki-ski-mismatch", V::Success, V::Success, WEBPKI_AKI),
    ("webpki::cn::ipv4-hex-mismatch", V::Success, V::Success, PEER),
    ("webpki::cn::ipv4-leading-zeros-mismatch", V::Success, V::Success, PEER),
    ("webpki::cn::ipv6-uppercase-mismatch", V::Success, V::Success, PEER),
    ("webpki::cn::ipv6-uncompressed-mismatch", V::Success, V::Success, PEER),
    ("webpki::cn::ipv6-non-rfc5952-mismatch", V::Success, V::Success, PEER),
    ("webpki::cn::punycode-not-in-san", V::Success, V::Success, PEER),
    ("webpki::cn::utf8-vs-punycode-mismatch", V::Success, V::Success, PEER),
    ("webpki::cn::not-in-san", V::Success, V::Success, PEER),
    ("webpki::cn::case-mismatch", V::Success, V::Success, PEER),
    ("webpki::eku::ee-anyeku", V::Success, V::Success, WEBPKI_EKU),
    ("webpki::eku::ee-without-eku", V::Success, V::Success, WEBPKI_EKU),
    ("webpki::san::mismatch-domain-san", V::Success, V::Success, PEER),
    ("webpki::san::mismatch-subdomain-san", V::Success, V::Success, PEER),
    ("webpki::san::mismatch-subdomain-apex-san", V::Success, V::Success, PEER),
    ("webpki::san::mismatch-apex-subdomain-san", V::Success, V::Success, PEER),
    ("webpki::san::public-suffix-wildcard-san", V::Success, V::Success, PEER),
    ("webpki::san::public-suffix-multi-label-wildcard-san", V::Success, V::Success, PEER),
    ("webpki::san::public-suffix-private-namespace-wildcard-san", V::Success, V::Success, PEER),
    ("webpki::san::wildcard-embedded-leftmost-san", V::Success, V::Success, PEER),
    ("webpki::san::wildcard-not-in-leftmost-san", V::Success, V::Success, PEER),
    ("webpki::san::wildcard-match-across-labels-san", V::Success, V::Success, PEER),
    ("webpki::san::wildcard-embedded-ulabel-san", V::Success, V::Success, PEER),
    ("webpki::san::no-san", V::Success, V::Success, WEBPKI_SAN),
    ("webpki::san::san-critical-with-nonempty-subject", V::Success, V::Success, WEBPKI_SAN),
    ("webpki::san::san-wildcard-only", V::Success, V::Success, PEER),
    ("webpki::san::san-wildcard-only-tld", V::Success, V::Success, PEER),
    ("webpki::cryptographydotio-chain", V::Failure, V::Failure, LEAF_EKU),
    ("webpki::forbidden-rsa-not-divisible-by-8-in-root", V::Success, V::Success, WEBPKI_RSA8),
    ("webpki::forbidden-rsa-key-not-divisible-by-8-in-leaf", V::Success, V::Success, WEBPKI_RSA8),
    ("webpki::v1-cert", V::Success, V::Success, WEBPKI_V3),
    ("webpki::ee-basicconstraints-ca", V::Success, V::Success, GO_LEAF_CA),
    ("webpki::ca-as-leaf", V::Success, V::Success, GO_LEAF_CA),
];

/// Cases that must fail for one stated reason (the rule the case is about), so a verdict
/// reached by accident does not pass for the right one.
const REASONS: &[(&str, &str)] = &[
    ("webpki::eku::root-has-eku", "lists extended key usages without codeSigning"),
    ("cve::cve-2025-61727", "is excluded by constraint \"bar.example.com\""),
    ("rfc5280::nc::nc-forbids-dnsname-wildcard-san", "is excluded by constraint"),
    ("rfc5280::san::malformed", "subjectAltName is not a SEQUENCE"),
    ("rfc5280::serial::negative", "negative serial number"),
    ("rfc5280::duplicate-extensions", "duplicate extension 2.5.29.17"),
    ("rfc5280::mismatching-signature-algorithm", "inner and outer signature algorithm"),
    ("rfc5280::unknown-critical-extension-intermediate", "unhandled critical extension"),
    ("rfc5280::nc::permitted-dn-match", "unhandled critical extension 2.5.29.30"),
    ("rfc5280::root-missing-basic-constraints", "is not a CA"),
    ("pathological::nc-dos-2", "too many name constraint comparisons"),
    ("pathological::pathological-chain-same-subject-distinct-key", "after 100 signature checks"),
    ("webpki::forbidden-p192-leaf", "weak key (EC P-192)"),
    ("webpki::forbidden-dsa-root", "weak key (DSA-3072)"),
    ("webpki::forbidden-weak-rsa-in-leaf", "weak key (RSA-1024)"),
    ("rfc5280::validity::expired-intermediate", "expired before"),
];

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

fn certs(v: &Value) -> Vec<X509> {
    v.as_array()
        .map(|a| a.iter().filter_map(|p| X509::from_pem(p.as_str()?.as_bytes()).ok()).collect())
        .unwrap_or_default()
}

fn run(case: &Value) -> (V, String) {
    let Ok(leaf) = X509::from_pem(case["peer_certificate"].as_str().unwrap_or("").as_bytes()) else {
        return (V::Failure, "leaf does not parse (OpenSSL)".into());
    };
    let anchors: Vec<TrustAnchor> = certs(&case["trusted_certs"]).into_iter().map(TrustAnchor::from).collect();
    let intermediates = certs(&case["untrusted_intermediates"]);
    let at = case["validation_time"]
        .as_str()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).expect("limbo times are RFC 3339").timestamp())
        .unwrap_or_else(now);
    match x509::validate_path(&leaf, &[], &intermediates, &anchors, at) {
        Ok(path) => (V::Success, format!("path of {}", path.len())),
        Err(r) => (V::Failure, r.to_string()),
    }
}

#[test]
fn limbo_codesigning_suite() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/x509-limbo/limbo-codesigning.json");
    let suite: Value = serde_json::from_slice(&std::fs::read(path).expect("fixture present")).expect("JSON");
    let cases = suite["testcases"].as_array().expect("testcases");
    assert_eq!(cases.len(), 194);
    for (id, ours, go, _) in DIFFERS {
        assert!(!(*ours == V::Success && *go == V::Failure), "{id}: sealift must never accept what Go rejects");
        assert!(cases.iter().any(|c| c["id"] == *id), "{id}: not in the suite");
    }
    let mut problems = Vec::new();
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let expected = if case["expected_result"] == "SUCCESS" { V::Success } else { V::Failure };
        let (got, why) = run(case);
        if std::env::var_os("SEALIFT_LIMBO_DUMP").is_some() {
            eprintln!("LIMBO {id} {got:?}: {why}");
        }
        match DIFFERS.iter().find(|d| d.0 == id) {
            Some((_, ours, _, _)) if got != *ours => {
                problems.push(format!("{id}: listed as {ours:?} but sealift says {got:?} ({why})"))
            }
            Some(_) if got == expected => problems.push(format!("{id}: listed but agrees with limbo now")),
            Some(_) => {}
            None if got != expected => problems.push(format!("{id}: limbo {expected:?}, sealift {got:?} ({why})")),
            None => {}
        }
        if let Some((_, needle)) = REASONS.iter().find(|r| r.0 == id) {
            if got != V::Failure || !why.contains(needle) {
                problems.push(format!("{id}: must fail with {needle:?}, got {got:?} ({why})"));
            }
        }
    }
    for (id, _) in REASONS {
        assert!(cases.iter().any(|c| c["id"] == *id), "{id}: not in the suite");
    }
    assert!(problems.is_empty(), "{} disagreements:\n{}", problems.len(), problems.join("\n"));
}

/// Never a panic: every single-byte corruption of a few suite certificates that OpenSSL
/// still parses goes through sealift's parser and path search and comes out as a verdict.
#[test]
fn corrupted_certificates_are_verdicts_not_panics() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/x509-limbo/limbo-codesigning.json");
    let suite: Value = serde_json::from_slice(&std::fs::read(path).expect("fixture present")).expect("JSON");
    let cases = suite["testcases"].as_array().expect("testcases");
    let mut parsed = 0;
    for id in ["rfc5280::nc::permitted-dns-match", "cve::cve-2024-0567", "rfc5280::pc::ica-noncritical-pc"] {
        let case = cases.iter().find(|c| c["id"] == id).expect("case present");
        let leaf = X509::from_pem(case["peer_certificate"].as_str().unwrap().as_bytes()).unwrap();
        let anchors: Vec<TrustAnchor> = certs(&case["trusted_certs"]).into_iter().map(TrustAnchor::from).collect();
        let der = leaf.to_der().unwrap();
        for i in 0..der.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = der.clone();
                bad[i] ^= flip;
                if let Ok(c) = X509::from_der(&bad) {
                    parsed += 1;
                    let _ = x509::leaf_identity(&c);
                    let _ = x509::validate_path(&c, &[], &[], &anchors, now());
                    // The same corruption as an anchor and as a chain annotation entry.
                    let _ = x509::validate_path(&leaf, &[c.clone(), c.clone()], &[], &[TrustAnchor::from(c)], now());
                }
            }
        }
    }
    assert!(parsed > 100, "only {parsed} corrupted certificates parsed");
}
