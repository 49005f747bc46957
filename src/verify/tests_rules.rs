//! Generated-PKI tests, good and bad, for each rule of issue 8: the path rules of Go's
//! `x509.Verify` with `KeyUsages: [CodeSigning]` (what cosign runs), the algorithm
//! pairings cosign produces, and weak keys. Each case states the exact verdict.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{TimeZone, Utc};
use openssl::pkey::PKey;
use openssl::rsa::Rsa;

use super::certs::{self, CertParams, KeyType, SanSpec};
use super::tests_pki::{no, pem, HOUR, T0};
use super::*;
use crate::cosign::{simple_signing_payload, UntrustedSignature};

struct Ca {
    cert: X509,
    key: PrivateKey,
}

fn key(kt: KeyType) -> PrivateKey {
    certs::generate_key(kt).unwrap()
}

/// A CA (no pathLenConstraint) issued by `issuer`, self-signed without one.
fn ca_with(cn: &str, issuer: Option<&Ca>, key: PrivateKey, f: impl FnOnce(&mut CertParams)) -> Ca {
    let mut p = CertParams::ca(cn, T0 - 10 * HOUR, T0 + 10 * HOUR, None);
    f(&mut p);
    let cert = certs::issue(&p, &key, issuer.map(|i| (&i.cert, &i.key))).unwrap();
    Ca { cert, key }
}

fn ca(cn: &str, issuer: Option<&Ca>, f: impl FnOnce(&mut CertParams)) -> Ca {
    ca_with(cn, issuer, key(KeyType::EcP256), f)
}

/// A code-signing leaf `CN=leaf`, SAN email dev@example.com, issued by `issuer`.
fn leaf(issuer: &Ca, f: impl FnOnce(&mut CertParams)) -> Ca {
    let mut p = CertParams::leaf("leaf", T0 - HOUR, T0 + HOUR, vec![SanSpec::Email("dev@example.com".into())]);
    f(&mut p);
    let key = key(KeyType::EcP256);
    let cert = certs::issue(&p, &key, Some((&issuer.cert, &issuer.key))).unwrap();
    Ca { cert, key }
}

fn digest() -> Digest {
    Digest::of(b"an image manifest")
}

/// A signature by `leaf` over the payload for [`digest`], with `chain` as annotation.
fn signed(leaf: &Ca, chain: &[&X509], alg: Option<SignatureAlgorithm>) -> UntrustedSignature {
    let payload = simple_signing_payload("registry.example/app", &digest(), &BTreeMap::new());
    let alg = alg.unwrap_or_else(|| crypto::default_algorithm(&leaf.key).unwrap());
    let signature = crypto::sign(&leaf.key, &payload, alg).unwrap();
    UntrustedSignature {
        payload,
        base64_signature: base64::engine::general_purpose::STANDARD.encode(signature),
        certificate_pem: Some(pem(&leaf.cert)),
        chain_pem: Some(chain.iter().map(|c| pem(c)).collect()),
        ..Default::default()
    }
}

/// Trusts `roots` (anchors) and `intermediates` at T0, any identity.
fn trusting(roots: &[&X509], intermediates: &[&X509]) -> TrustPolicy {
    let mut p = TrustPolicy::new(Utc.timestamp_opt(T0 + 1000 * HOUR, 0).unwrap());
    p.roots = roots.iter().map(|c| (*c).clone().into()).collect();
    p.intermediates = intermediates.iter().map(|c| (*c).clone()).collect();
    p.at = Some(Utc.timestamp_opt(T0, 0).unwrap());
    p.allow_any_identity = true;
    p
}

fn verdict(sig: &UntrustedSignature, p: &TrustPolicy) -> Verdict {
    verify_signature(p, sig, &digest()).verdict
}

fn subjects(r: &SignatureReport) -> Vec<&str> {
    r.chain.iter().map(|c| c.subject.as_str()).collect()
}

/// DER of a nameConstraints value with one subtree: `[0]` permitted or `[1]` excluded,
/// dNSName `name`.
fn dns_constraint(excluded: bool, name: &str) -> Vec<u8> {
    let base = [&[0x82, name.len() as u8][..], name.as_bytes()].concat();
    let subtree = [&[0x30, base.len() as u8][..], &base].concat();
    let tagged = [&[if excluded { 0xa1 } else { 0xa0 }, subtree.len() as u8][..], &subtree].concat();
    [&[0x30, tagged.len() as u8][..], &tagged].concat()
}

const NC: &str = "2.5.29.30";

#[test]
fn eku_is_checked_on_every_certificate_of_the_path() {
    // Bad: a CA whose EKU lists only serverAuth, or only emailProtection.
    for (at_root, usage) in [(false, "serverAuth"), (true, "emailProtection")] {
        let root = ca("root", None, |p| {
            if at_root {
                p.eku = Some(vec![usage])
            }
        });
        let sub = ca("sub", Some(&root), |p| {
            if !at_root {
                p.eku = Some(vec![usage])
            }
        });
        let l = leaf(&sub, |_| {});
        let who = if at_root { "CN=root" } else { "CN=sub" };
        assert_eq!(
            verdict(&signed(&l, &[&sub.cert, &root.cert], None), &trusting(&[&root.cert], &[])),
            no(Rejection::CaEkuNotCodeSigning { subject: who.into() }),
            "{usage} at {who}"
        );
    }
    // Good: codeSigning in the intermediate, anyExtendedKeyUsage in the root.
    let root = ca("root", None, |p| p.eku = Some(vec!["anyExtendedKeyUsage"]));
    let sub = ca("sub", Some(&root), |p| p.eku = Some(vec!["codeSigning", "serverAuth"]));
    let l = leaf(&sub, |_| {});
    assert_eq!(verdict(&signed(&l, &[&sub.cert, &root.cert], None), &trusting(&[&root.cert], &[])), Verdict::Verified);
}

#[test]
fn sha1_and_md5_certificate_signatures_are_refused() {
    let root = ca("root", None, |_| {});
    let sub = ca("sub", Some(&root), |p| p.signature_digest = Some("sha1"));
    let l = leaf(&sub, |_| {});
    assert_eq!(
        verdict(&signed(&l, &[&sub.cert, &root.cert], None), &trusting(&[&root.cert], &[])),
        no(Rejection::InsecureCertSignature { subject: "CN=sub".into(), alg: "SHA-1".into() })
    );
    let root = ca_with("root", None, key(KeyType::Rsa2048), |_| {});
    let l = leaf(&root, |p| p.signature_digest = Some("md5"));
    let r = verdict(&signed(&l, &[], None), &trusting(&[&root.cert], &[]));
    assert_eq!(r, no(Rejection::InsecureCertSignature { subject: "CN=leaf".into(), alg: "MD5".into() }));
    assert!(Rejection::InsecureCertSignature { subject: "CN=leaf".into(), alg: "MD5".into() }
        .to_string()
        .contains("refuses SHA-1 and MD5"));
    // Good: the same chain signed with SHA-256.
    let l = leaf(&root, |_| {});
    assert_eq!(verdict(&signed(&l, &[], None), &trusting(&[&root.cert], &[])), Verdict::Verified);
}

/// An expired and a valid intermediate with one subject and one key: the search goes on
/// past the expired one (the chain annotation's) to the configured one.
#[test]
fn path_search_tries_every_candidate_intermediate() {
    let root = ca("root", None, |_| {});
    let sub_key = key(KeyType::EcP256);
    let der = sub_key.0.private_key_to_der().unwrap();
    let same_key = || PrivateKey(PKey::private_key_from_der(&der).unwrap());
    let old = ca_with("sub", Some(&root), same_key(), |p| p.not_after = T0 - 1);
    let new = ca_with("sub", Some(&root), same_key(), |_| {});
    let l = leaf(&new, |_| {});
    let sig = signed(&l, &[&old.cert, &root.cert], None);
    let r = verify_signature(&trusting(&[&root.cert], &[&new.cert]), &sig, &digest());
    assert_eq!(r.verdict, Verdict::Verified);
    assert_eq!(r.chain[1].not_after, T0 + 10 * HOUR, "the valid intermediate was used");
    // Bad: only the expired one.
    assert_eq!(
        verdict(&sig, &trusting(&[&root.cert], &[])),
        no(Rejection::Expired { subject: "CN=sub".into(), at: x509::rfc3339(T0) })
    );
}

/// A cross-signed intermediate: the annotation leads to an untrusted root, the configured
/// cross-signature to the trusted one.
#[test]
fn path_search_follows_a_cross_signature() {
    let root_a = ca("root-a", None, |_| {});
    let root_b = ca("root-b", None, |_| {});
    let sub_key = key(KeyType::EcP256);
    let der = sub_key.0.private_key_to_der().unwrap();
    let same_key = || PrivateKey(PKey::private_key_from_der(&der).unwrap());
    let by_a = ca_with("sub", Some(&root_a), same_key(), |_| {});
    let by_b = ca_with("sub", Some(&root_b), same_key(), |_| {});
    let l = leaf(&by_a, |_| {});
    let sig = signed(&l, &[&by_a.cert, &root_a.cert], None);
    let r = verify_signature(&trusting(&[&root_b.cert], &[&by_b.cert]), &sig, &digest());
    assert_eq!(r.verdict, Verdict::Verified);
    assert_eq!(subjects(&r), ["CN=leaf", "CN=sub", "CN=root-b"]);
    assert_eq!(
        verdict(&sig, &trusting(&[&root_b.cert], &[])),
        no(Rejection::NoIssuer { subject: "CN=sub".into(), issuer: "CN=root-a".into() })
    );
}

/// A `--ca-roots` certificate is an anchor even when it is not self-signed (Go's root
/// pool, OpenSSL's PARTIAL_CHAIN).
#[test]
fn a_configured_intermediate_root_is_an_anchor() {
    let root = ca("root", None, |_| {});
    let sub = ca("sub", Some(&root), |_| {});
    let l = leaf(&sub, |_| {});
    let sig = signed(&l, &[&sub.cert, &root.cert], None);
    let r = verify_signature(&trusting(&[&sub.cert], &[]), &sig, &digest());
    assert_eq!(r.verdict, Verdict::Verified);
    assert_eq!(subjects(&r), ["CN=leaf", "CN=sub"]);
    // Bad: configured as an intermediate it vouches for nothing.
    let other = ca("other", None, |_| {});
    assert_eq!(
        verdict(&sig, &trusting(&[&other.cert], &[&sub.cert])),
        no(Rejection::NoIssuer { subject: "CN=sub".into(), issuer: "CN=root".into() })
    );
}

#[test]
fn dns_name_constraints_apply_to_sans_not_to_the_subject_cn() {
    let root = ca("root", None, |p| p.critical_extensions.push((NC.into(), dns_constraint(false, "example.com"))));
    // Good: a hostname-like CN outside the constraint, no DNS SAN (OpenSSL's legacy rule
    // would refuse this; Go ignores the CN).
    let l = leaf(&root, |p| p.subject_cn = "evil.org".into());
    assert_eq!(verdict(&signed(&l, &[], None), &trusting(&[&root.cert], &[])), Verdict::Verified);
    let l = leaf(&root, |p| p.sans.push(SanSpec::Dns("build.example.com".into())));
    assert_eq!(verdict(&signed(&l, &[], None), &trusting(&[&root.cert], &[])), Verdict::Verified);
    // Bad: a DNS SAN outside it.
    let l = leaf(&root, |p| p.sans.push(SanSpec::Dns("evil.org".into())));
    assert_eq!(
        verdict(&signed(&l, &[], None), &trusting(&[&root.cert], &[])),
        no(Rejection::NameConstraint {
            subject: "CN=leaf".into(),
            ca: "CN=root".into(),
            reason: "DNS name \"evil.org\" is not permitted by any constraint".into()
        })
    );
}

/// CVE-2025-61727 (Go 1.25.5): a wildcard SAN that could stand for an excluded name.
#[test]
fn wildcard_san_against_an_excluded_subtree() {
    let root = ca("root", None, |_| {});
    let sub =
        ca("sub", Some(&root), |p| p.critical_extensions.push((NC.into(), dns_constraint(true, "bar.example.com"))));
    let l = leaf(&sub, |p| p.sans.push(SanSpec::Dns("*.example.com".into())));
    assert_eq!(
        verdict(&signed(&l, &[&sub.cert, &root.cert], None), &trusting(&[&root.cert], &[])),
        no(Rejection::NameConstraint {
            subject: "CN=leaf".into(),
            ca: "CN=sub".into(),
            reason: "DNS name \"*.example.com\" is excluded by constraint \"bar.example.com\"".into()
        })
    );
    let l = leaf(&sub, |p| p.sans.push(SanSpec::Dns("*.other.example".into())));
    assert_eq!(verdict(&signed(&l, &[&sub.cert, &root.cert], None), &trusting(&[&root.cert], &[])), Verdict::Verified);
}

/// RFC 5280 rules OpenSSL skips, decided as Go does (docs/signing.md has the table).
#[test]
fn rfc5280_strictness_as_go() {
    let root = ca("root", None, |_| {});
    let ok = |f: &dyn Fn(&mut CertParams)| {
        let l = leaf(&root, f);
        verdict(&signed(&l, &[], None), &trusting(&[&root.cert], &[]))
    };
    // Go accepts: no AKI, serial 0, name constraints (even critical) in a leaf.
    assert_eq!(ok(&|p| p.omit_aki = true), Verdict::Verified);
    assert_eq!(ok(&|p| p.serial = Some(0)), Verdict::Verified);
    assert_eq!(ok(&|p| p.critical_extensions.push((NC.into(), dns_constraint(false, "x.example")))), Verdict::Verified);
    // Go refuses: an unknown critical extension.
    assert_eq!(
        ok(&|p| p.critical_extensions.push(("1.3.6.1.4.1.55738.666.1".into(), vec![0x05, 0x00]))),
        no(Rejection::UnhandledCriticalExtension { subject: "CN=leaf".into(), oid: "1.3.6.1.4.1.55738.666.1".into() })
    );
    // A critical AKI does not parse in Go.
    let r = ok(&|p| {
        p.omit_aki = true;
        p.critical_extensions.push(("2.5.29.35".into(), vec![0x30, 0x00]))
    });
    assert!(
        matches!(&r, Verdict::Rejected(Rejection::MalformedCertificate(m)) if m.contains("authorityKeyIdentifier marked critical")),
        "{r:?}"
    );
}

#[test]
fn a_malformed_san_is_reported_as_such() {
    let root = ca("root", None, |_| {});
    let l = leaf(&root, |p| {
        p.sans.clear();
        p.extra_extensions.push(("2.5.29.17".into(), b"not DER".to_vec()));
    });
    let r = verdict(&signed(&l, &[], None), &trusting(&[&root.cert], &[]));
    assert!(
        matches!(&r, Verdict::Rejected(Rejection::MalformedCertificate(m)) if m.contains("\"CN=leaf\"") && m.contains("SAN")),
        "{r:?}"
    );
}

#[test]
fn weak_keys_anywhere_in_the_path_are_refused() {
    let weak = || PrivateKey(PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap());
    let root = ca_with("root", None, weak(), |_| {});
    let l = leaf(&root, |_| {});
    assert_eq!(
        verdict(&signed(&l, &[], None), &trusting(&[&root.cert], &[])),
        no(Rejection::WeakKey { subject: "CN=root".into(), key: "RSA-1024".into() })
    );
    // The leaf's key too (the one that signed the payload).
    let root = ca("root", None, |_| {});
    let p = CertParams::leaf("leaf", T0 - HOUR, T0 + HOUR, vec![SanSpec::Email("dev@example.com".into())]);
    let k = weak();
    let cert = certs::issue(&p, &k, Some((&root.cert, &root.key))).unwrap();
    let sig = signed(&Ca { cert, key: k }, &[], Some(SignatureAlgorithm::RsaPkcs1Sha256));
    assert_eq!(
        verdict(&sig, &trusting(&[&root.cert], &[])),
        no(Rejection::WeakKey { subject: "CN=leaf".into(), key: "RSA-1024".into() })
    );
    // Good: RSA-2048 is the floor.
    let root = ca_with("root", None, key(KeyType::Rsa2048), |_| {});
    let l = leaf(&root, |_| {});
    assert_eq!(verdict(&signed(&l, &[], None), &trusting(&[&root.cert], &[])), Verdict::Verified);
}

/// cosign signs P-384 keys over SHA-256 by default: accepted and reported as such, and
/// the policy's allow-list still decides.
#[test]
fn cosign_pairing_p384_sha256_and_the_allow_list() {
    let root = ca("root", None, |_| {});
    let p = CertParams::leaf("leaf", T0 - HOUR, T0 + HOUR, vec![SanSpec::Email("dev@example.com".into())]);
    let k = key(KeyType::EcP384);
    let cert = certs::issue(&p, &k, Some((&root.cert, &root.key))).unwrap();
    let l = Ca { cert, key: k };
    let sig = signed(&l, &[], Some(SignatureAlgorithm::EcdsaP384Sha256));
    let r = verify_signature(&trusting(&[&root.cert], &[]), &sig, &digest());
    assert_eq!((r.verdict, r.algorithm), (Verdict::Verified, Some(SignatureAlgorithm::EcdsaP384Sha256)));
    let mut strict = trusting(&[&root.cert], &[]);
    strict.allowed_algorithms = Some(vec![SignatureAlgorithm::EcdsaP384Sha384]);
    assert_eq!(verdict(&sig, &strict), no(Rejection::AlgorithmNotAllowed { alg: SignatureAlgorithm::EcdsaP384Sha256 }));
    // The curve's own hash still verifies, as itself.
    let sig = signed(&l, &[], None);
    assert_eq!(verify_signature(&strict, &sig, &digest()).verdict, Verdict::Verified);
}

/// cosign's own BYO-PKI test chains (tests/data/cosign-testdata, see PROVENANCE.md).
#[test]
fn cosign_testdata_chains() {
    let load = |f: &str| {
        let path = format!("{}/tests/data/cosign-testdata/{f}", env!("CARGO_MANIFEST_DIR"));
        crypto::load_certificates(&std::fs::read(path).unwrap(), f).unwrap()
    };
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
    let (leaf1, chain1, root1) =
        (load("test_attach_leafcert.pem"), load("test_attach_certchain.pem"), load("test_attach_rootcert.pem"));
    let (leaf2, chain2, root2) = (
        load("test_attach_second_leafcert.pem"),
        load("test_attach_second_certchain.pem"),
        load("test_attach_second_rootcert.pem"),
    );
    let anchors = |r: &[X509]| r.iter().cloned().map(TrustAnchor::from).collect::<Vec<_>>();
    let sub1 = "C=IN, ST=DEL, L=DEL, O=example.com, OU=sigstore-sub, CN=sigstore-sub, emailAddress=foo@example.com";
    let root1_name = "C=IN, ST=DEL, L=DEL, O=example.com, OU=sigstore, CN=sigstore, emailAddress=foo@example.com";
    let t = at("2024-06-01T00:00:00Z");
    // Good: each leaf through its chain annotation, or through configured intermediates.
    let path = x509::validate_path(&leaf1[0], &chain1, &[], &anchors(&root1), t).unwrap();
    assert_eq!(path.len(), 3);
    assert_eq!(path[2].subject, root1_name);
    assert!(x509::validate_path(&leaf1[0], &[], &chain1[..1], &anchors(&root1), t).is_ok());
    assert!(x509::validate_path(&leaf2[0], &chain2, &[], &anchors(&root2), t).is_ok());
    // Bad: the other root (the annotation's own root is never trusted), the other chain,
    // and after the leaf's notAfter.
    assert_eq!(
        x509::validate_path(&leaf1[0], &chain1, &[], &anchors(&root2), t),
        Err(Rejection::NoIssuer { subject: sub1.into(), issuer: root1_name.into() })
    );
    assert!(matches!(
        x509::validate_path(&leaf2[0], &chain1, &[], &anchors(&root1), t),
        Err(Rejection::NoIssuer { .. })
    ));
    let late = at("2028-06-01T00:00:00Z");
    assert!(matches!(
        x509::validate_path(&leaf1[0], &chain1, &[], &anchors(&root1), late),
        Err(Rejection::Expired { subject, .. }) if subject.ends_with("CN=sigstore-leaf, emailAddress=foo@example.com")
    ));
}

/// Certificate policies are not evaluated (Go 1.22+ does): a path where a CA's
/// requireExplicitPolicy takes effect is refused rather than trusted, so sealift never
/// accepts a path that Go's policy processing could reject. Where the skip count is larger
/// than the rest of the path (limbo `rfc5280::pc::ica-noncritical-pc`) it has no effect,
/// and neither has inhibitPolicyMapping.
#[test]
fn require_explicit_policy_that_takes_effect_is_refused() {
    const PC: &str = "2.5.29.36";
    let pc = |v: Vec<u8>| move |p: &mut CertParams| p.critical_extensions.push((PC.into(), v));
    let root = ca("root", None, |_| {});
    let verdict_under = |value: Vec<u8>| {
        let sub = ca("sub", Some(&root), pc(value));
        let l = leaf(&sub, |_| {});
        verdict(&signed(&l, &[&sub.cert, &root.cert], None), &trusting(&[&root.cert], &[]))
    };
    let refused = no(Rejection::UnhandledCriticalExtension {
        subject: "CN=sub".into(),
        oid: "2.5.29.36 (policyConstraints: requireExplicitPolicy takes effect in this path, and sealift does not evaluate certificate policies)".into(),
    });
    // SEQUENCE { requireExplicitPolicy [0] 0 } and [0] 1: one certificate follows sub.
    assert_eq!(verdict_under(vec![0x30, 0x03, 0x80, 0x01, 0x00]), refused);
    assert_eq!(verdict_under(vec![0x30, 0x03, 0x80, 0x01, 0x01]), refused);
    // [0] 2: past the end of the path, no effect (Go accepts too).
    assert_eq!(verdict_under(vec![0x30, 0x03, 0x80, 0x01, 0x02]), Verdict::Verified);
    // SEQUENCE { inhibitPolicyMapping [1] 0 }: no effect on the verdict.
    assert_eq!(verdict_under(vec![0x30, 0x03, 0x81, 0x01, 0x00]), Verdict::Verified);
}
