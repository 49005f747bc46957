//! The negative matrix over generated PKIs (one per test, real OpenSSL crypto), and
//! interoperability with the OpenSSL CLI: each case states the exact rejection.

use std::collections::BTreeMap;
use std::process::Command;

use base64::Engine as _;
use chrono::{TimeZone, Utc};

use super::certs::{self, CertParams, KeyType, SanSpec};
use super::*;
use crate::cosign::{simple_signing_payload, UntrustedSignature};

/// The trusted time of every case: 2026-06-01T00:00:00Z.
pub(super) const T0: i64 = 1_780_272_000;
pub(super) const HOUR: i64 = 3600;
const ISSUER: &str = "https://issuer.example";

pub(super) struct Spec {
    pub kt: KeyType,
    pub root: CertParams,
    pub sub: CertParams,
    pub leaf: CertParams,
}

pub(super) fn spec(kt: KeyType) -> Spec {
    let mut leaf = CertParams::leaf("leaf", T0 - HOUR, T0 + HOUR, vec![SanSpec::Email("dev@example.com".into())]);
    // Fulcio's v2 issuer extension: DER UTF8String.
    let mut issuer_der = vec![0x0c, ISSUER.len() as u8];
    issuer_der.extend(ISSUER.as_bytes());
    leaf.extra_extensions.push((x509::OID_FULCIO_ISSUER_V2.into(), issuer_der));
    Spec {
        kt,
        root: CertParams::ca("root", T0 - 10 * HOUR, T0 + 10 * HOUR, Some(1)),
        sub: CertParams::ca("sub", T0 - 10 * HOUR, T0 + 10 * HOUR, Some(0)),
        leaf,
    }
}

pub(super) struct Made {
    pub root: X509,
    pub sub: X509,
    pub sig: UntrustedSignature,
    pub digest: Digest,
}

pub(super) fn pem(c: &X509) -> String {
    String::from_utf8(c.to_pem().unwrap()).unwrap()
}

pub(super) fn make(s: Spec) -> Made {
    let root_key = certs::generate_key(s.kt).unwrap();
    let root = certs::issue(&s.root, &root_key, None).unwrap();
    let sub_key = certs::generate_key(s.kt).unwrap();
    let sub = certs::issue(&s.sub, &sub_key, Some((&root, &root_key))).unwrap();
    let leaf_key = certs::generate_key(s.kt).unwrap();
    let leaf = certs::issue(&s.leaf, &leaf_key, Some((&sub, &sub_key))).unwrap();
    let digest = Digest::of(b"an image manifest");
    let payload = simple_signing_payload("registry.example/app", &digest, &BTreeMap::new());
    let alg = crypto::default_algorithm(&leaf_key).unwrap();
    let signature = crypto::sign(&leaf_key, &payload, alg).unwrap();
    let sig = UntrustedSignature {
        payload,
        base64_signature: base64::engine::general_purpose::STANDARD.encode(signature),
        certificate_pem: Some(pem(&leaf)),
        chain_pem: Some(pem(&sub) + &pem(&root)),
        ..Default::default()
    };
    Made { root, sub, sig, digest }
}

pub(super) fn policy(root: &X509) -> TrustPolicy {
    let mut p = TrustPolicy::new(Utc.timestamp_opt(T0 + 1000 * HOUR, 0).unwrap());
    p.roots = vec![root.clone().into()];
    p.at = Some(Utc.timestamp_opt(T0, 0).unwrap());
    p.identities = vec![IdentityMatcher {
        san: StringMatch::Exact("dev@example.com".into()),
        issuer: Some(StringMatch::Exact(ISSUER.into())),
    }];
    p
}

pub(super) fn run(m: &Made, p: &TrustPolicy) -> Verdict {
    verify_signature(p, &m.sig, &m.digest).verdict
}

pub(super) fn no(r: Rejection) -> Verdict {
    Verdict::Rejected(r)
}

#[test]
fn baseline_every_key_type() {
    for (kt, alg) in [
        (KeyType::EcP256, SignatureAlgorithm::EcdsaP256Sha256),
        (KeyType::EcP384, SignatureAlgorithm::EcdsaP384Sha384),
        (KeyType::Rsa2048, SignatureAlgorithm::RsaPkcs1Sha256),
        (KeyType::Ed25519, SignatureAlgorithm::Ed25519),
    ] {
        let m = make(spec(kt));
        let r = verify_signature(&policy(&m.root), &m.sig, &m.digest);
        assert_eq!(r.verdict, Verdict::Verified, "{kt:?}");
        assert_eq!(r.algorithm, Some(alg));
        assert_eq!(r.trusted_time, Some(TrustedTime { unix: T0, source: TimeSource::At }));
        assert_eq!(r.chain.iter().map(|c| c.subject.as_str()).collect::<Vec<_>>(), ["CN=leaf", "CN=sub", "CN=root"]);
    }
}

#[test]
fn negative_matrix() {
    let m = make(spec(KeyType::EcP256));
    let p = policy(&m.root);
    let at = |t: i64| x509::rfc3339(t);
    let case = |f: &dyn Fn(&mut UntrustedSignature)| {
        let mut m2 = Made { root: m.root.clone(), sub: m.sub.clone(), sig: m.sig.clone(), digest: m.digest.clone() };
        f(&mut m2.sig);
        run(&m2, &p)
    };
    assert_eq!(run(&m, &p), Verdict::Verified);
    // Tampered payload.
    assert_eq!(case(&|s| s.payload[30] ^= 1), no(Rejection::BadSignature));
    // Moved to another image.
    let other = Digest::of(b"another image");
    assert_eq!(
        verify_signature(&p, &m.sig, &other).verdict,
        no(Rejection::DigestMismatch { expected: other.clone(), found: m.digest.clone() })
    );
    // Malformed and truncated signatures.
    assert_eq!(case(&|s| s.base64_signature = "not base64!".into()), no(Rejection::MalformedBase64));
    assert_eq!(
        case(&|s| {
            let raw = crypto::decode_base64_signature(&s.base64_signature).unwrap();
            s.base64_signature = base64::engine::general_purpose::STANDARD.encode(&raw[..raw.len() - 4]);
        }),
        no(Rejection::BadSignature)
    );
    // Wrong root.
    let stranger = make(spec(KeyType::EcP256));
    let bad_sig = Rejection::BadCertSignature { subject: "CN=sub".into(), issuer: "CN=root".into() };
    assert_eq!(run(&m, &policy(&stranger.root)), no(bad_sig));
    // The chain annotation's root is never trusted, even when it is the only material.
    let no_issuer = Rejection::NoIssuer { subject: "CN=leaf".into(), issuer: "CN=sub".into() };
    assert_eq!(case(&|s| s.chain_pem = Some(pem(&m.root))), no(no_issuer.clone()));
    // Empty chain annotation: rejected without intermediates, verified with them.
    assert_eq!(case(&|s| s.chain_pem = Some(String::new())), no(no_issuer));
    let mut with_sub = p.clone();
    with_sub.intermediates = vec![m.sub.clone()];
    let mut m3 = Made { root: m.root.clone(), sub: m.sub.clone(), sig: m.sig.clone(), digest: m.digest.clone() };
    m3.sig.chain_pem = Some(String::new());
    assert_eq!(run(&m3, &with_sub), Verdict::Verified);
    // Time: before, after, and both inclusive bounds.
    let mut p2 = p.clone();
    p2.at = Some(Utc.timestamp_opt(T0 + HOUR + 1, 0).unwrap());
    assert_eq!(run(&m, &p2), no(Rejection::Expired { subject: "CN=leaf".into(), at: at(T0 + HOUR + 1) }));
    p2.at = Some(Utc.timestamp_opt(T0 - HOUR - 1, 0).unwrap());
    assert_eq!(run(&m, &p2), no(Rejection::NotYetValid { subject: "CN=leaf".into(), at: at(T0 - HOUR - 1) }));
    p2.at = Some(Utc.timestamp_opt(T0 + HOUR, 0).unwrap());
    assert_eq!(run(&m, &p2), Verdict::Verified, "t == notAfter is valid (inclusive, as Go)");
    p2.at = Some(Utc.timestamp_opt(T0 - HOUR, 0).unwrap());
    assert_eq!(run(&m, &p2), Verdict::Verified, "t == notBefore is valid");
    // No --at: "now" (T0 + 1000 h) is used and the leaf has expired.
    p2.at = None;
    assert_eq!(run(&m, &p2), no(Rejection::Expired { subject: "CN=leaf".into(), at: at(T0 + 1000 * HOUR) }));
    // Identity and issuer.
    let mut p3 = p.clone();
    p3.identities[0].san = StringMatch::Exact("eve@example.com".into());
    assert_eq!(run(&m, &p3), no(Rejection::IdentityMismatch { found: vec!["dev@example.com".into()] }));
    p3.identities[0].san = StringMatch::Regex(regex::Regex::new("^dev@").unwrap());
    p3.identities[0].issuer = Some(StringMatch::Exact("https://evil.example".into()));
    assert_eq!(run(&m, &p3), no(Rejection::IssuerMismatch { found: Some(ISSUER.into()) }));
}

#[test]
fn expired_intermediate_rejected_at_its_depth() {
    let mut s = spec(KeyType::EcP256);
    s.sub.not_after = T0 - 1;
    s.leaf.not_before = T0 - 2 * HOUR;
    let m = make(s);
    assert_eq!(run(&m, &policy(&m.root)), no(Rejection::Expired { subject: "CN=sub".into(), at: x509::rfc3339(T0) }));
}

#[test]
fn intermediate_without_ca_flag() {
    let mut s = spec(KeyType::EcP256);
    s.sub.basic_constraints = Some((false, None));
    let m = make(s);
    assert_eq!(run(&m, &policy(&m.root)), no(Rejection::NotACa { subject: "CN=sub".into() }));
}

#[test]
fn intermediate_without_key_cert_sign() {
    let mut s = spec(KeyType::EcP256);
    s.sub.ca_key_usage = false;
    let m = make(s);
    // Go's CheckSignatureFrom: a keyUsage without keyCertSign cannot sign certificates.
    assert_eq!(run(&m, &policy(&m.root)), no(Rejection::IssuerKeyUsage { subject: "CN=sub".into() }));
}

#[test]
fn path_length_exceeded() {
    let mut s = spec(KeyType::EcP256);
    s.root.basic_constraints = Some((true, Some(0)));
    let m = make(s);
    assert_eq!(run(&m, &policy(&m.root)), no(Rejection::PathLength { subject: "CN=root".into() }));
}

#[test]
fn leaf_eku_server_auth_only() {
    let mut s = spec(KeyType::EcP256);
    s.leaf.eku = Some(vec!["serverAuth"]);
    let m = make(s);
    assert_eq!(run(&m, &policy(&m.root)), no(Rejection::EkuNotCodeSigning));
    // No EKU extension at all is accepted, as Go does (fixture P1).
    let mut s = spec(KeyType::EcP256);
    s.leaf.eku = None;
    let m = make(s);
    assert_eq!(run(&m, &policy(&m.root)), Verdict::Verified);
}

// ---- OpenSSL CLI interop ----

fn openssl(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new("openssl").args(args).current_dir(dir).output().expect("the openssl CLI is installed")
}

#[test]
fn create_pki_passes_openssl_strict_verify() {
    for kt in ["ec-p256", "ec-p384", "rsa-2048", "ed25519"] {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now().timestamp();
        certs::create_pki(dir.path(), kt.parse().unwrap(), "Sealift Test", vec![], 30, now).unwrap();
        let out =
            openssl(&["verify", "-x509_strict", "-CAfile", "ca.crt", "-untrusted", "sub.crt", "leaf.crt"], dir.path());
        assert!(
            out.status.success(),
            "{kt}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "leaf.crt: OK");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(dir.path().join("leaf.key")).unwrap().permissions().mode() & 0o777, 0o600);
        let leaf = crypto::load_certificates(&std::fs::read(dir.path().join("leaf.crt")).unwrap(), "leaf").unwrap();
        let id = x509::leaf_identity(&leaf[0]).unwrap();
        assert_eq!(id.sans, vec![San::Email("signer@sealift.local".into())]);
        assert_eq!(id.eku, Some(vec![x509::OID_EKU_CODE_SIGNING.to_owned()]));
    }
}

/// Signs with the OpenSSL CLI; sealift verifies against the root only, with the chain
/// annotation as written by `certs create` (intermediate then root).
#[test]
fn openssl_cli_signatures_verify() {
    for (kt, args, alg) in [
        ("ec-p256", vec!["dgst", "-sha256"], SignatureAlgorithm::EcdsaP256Sha256),
        (
            "rsa-2048",
            vec!["dgst", "-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"],
            SignatureAlgorithm::RsaPssSha512,
        ),
        (
            "rsa-2048",
            vec!["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-2"],
            SignatureAlgorithm::RsaPssSha256,
        ),
        ("rsa-2048", vec!["dgst", "-sha512"], SignatureAlgorithm::RsaPkcs1Sha512),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now().timestamp();
        certs::create_pki(dir.path(), kt.parse().unwrap(), "CLI", vec![], 1, now).unwrap();
        let digest = Digest::of(b"manifest");
        let payload = simple_signing_payload("r.example/x", &digest, &BTreeMap::new());
        std::fs::write(dir.path().join("payload"), &payload).unwrap();
        let mut a = args.clone();
        a.extend(["-sign", "leaf.key", "-out", "sig.bin", "payload"]);
        let out = openssl(&a, dir.path());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let raw = std::fs::read(dir.path().join("sig.bin")).unwrap();
        let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
        let sig = UntrustedSignature {
            payload,
            base64_signature: base64::engine::general_purpose::STANDARD.encode(crypto::signature_bytes_from_file(&raw)),
            certificate_pem: Some(read("leaf.crt")),
            chain_pem: Some(read("certificate_chain.pem")),
            ..Default::default()
        };
        let mut p = TrustPolicy::new(Utc.timestamp_opt(now, 0).unwrap());
        p.roots =
            crypto::load_certificates(read("ca.crt").as_bytes(), "ca").unwrap().into_iter().map(Into::into).collect();
        p.identities =
            vec![IdentityMatcher { san: StringMatch::Exact(certs::DEFAULT_LEAF_SAN[6..].into()), issuer: None }];
        let r = verify_signature(&p, &sig, &digest);
        assert_eq!((r.verdict, r.algorithm), (Verdict::Verified, Some(alg)), "{kt} {args:?}");
    }
}

/// sealift's signatures verify with `openssl dgst -verify` / `pkeyutl -verify`.
#[test]
fn sealift_signatures_verify_with_openssl_cli() {
    for (kt, alg, args) in [
        ("ec-p384", SignatureAlgorithm::EcdsaP384Sha384, vec!["dgst", "-sha384"]),
        ("rsa-2048", SignatureAlgorithm::RsaPkcs1Sha256, vec!["dgst", "-sha256"]),
        (
            "rsa-2048",
            SignatureAlgorithm::RsaPssSha512,
            vec!["dgst", "-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let key = certs::generate_key(kt.parse().unwrap()).unwrap();
        std::fs::write(dir.path().join("pub.pem"), key.public_key().to_pem()).unwrap();
        std::fs::write(dir.path().join("payload"), b"payload bytes").unwrap();
        std::fs::write(dir.path().join("sig.bin"), crypto::sign(&key, b"payload bytes", alg).unwrap()).unwrap();
        let mut a = args.clone();
        a.extend(["-verify", "pub.pem", "-signature", "sig.bin", "payload"]);
        let out = openssl(&a, dir.path());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "Verified OK",
            "{alg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let key = certs::generate_key(KeyType::Ed25519).unwrap();
    std::fs::write(dir.path().join("pub.pem"), key.public_key().to_pem()).unwrap();
    std::fs::write(dir.path().join("payload"), b"payload bytes").unwrap();
    std::fs::write(
        dir.path().join("sig.bin"),
        crypto::sign(&key, b"payload bytes", SignatureAlgorithm::Ed25519).unwrap(),
    )
    .unwrap();
    let out = openssl(
        &["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "payload", "-sigfile", "sig.bin"],
        dir.path(),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"), "{out:?}");
}

// ---- sigstore-rs as an oracle (crypto only; it is not a PKI verifier) ----

/// sealift's ECDSA P-256, RSA PKCS#1 SHA-256 and Ed25519 signatures over a sealift payload
/// are accepted by sigstore-rs's `PublicKeyVerifier` over a `SignatureLayer`, and a flipped
/// byte is refused by it too.
#[test]
fn sigstore_rs_accepts_sealift_signatures() {
    use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraint};
    use sigstore::cosign::SignatureLayer;
    use sigstore::crypto::SigningScheme;
    let digest = Digest::of(b"manifest for the oracle");
    let payload = simple_signing_payload("registry.example/oracle", &digest, &BTreeMap::new());
    for (kt, alg, scheme) in [
        (KeyType::EcP256, SignatureAlgorithm::EcdsaP256Sha256, SigningScheme::ECDSA_P256_SHA256_ASN1),
        (KeyType::Rsa2048, SignatureAlgorithm::RsaPkcs1Sha256, SigningScheme::RSA_PKCS1_SHA256(2048)),
        (KeyType::Ed25519, SignatureAlgorithm::Ed25519, SigningScheme::ED25519),
    ] {
        let key = certs::generate_key(kt).unwrap();
        let sig = crypto::sign(&key, &payload, alg).unwrap();
        let layer = |payload: &[u8]| SignatureLayer {
            simple_signing: serde_json::from_slice(payload).unwrap(),
            oci_digest: Digest::of(payload).to_string(),
            certificate_signature: None,
            bundle: None,
            signature: Some(base64::engine::general_purpose::STANDARD.encode(&sig)),
            raw_data: payload.to_vec(),
        };
        let verifier = PublicKeyVerifier::new(key.public_key().to_pem().as_bytes(), &scheme).unwrap();
        assert!(verifier.verify(&layer(&payload)).unwrap(), "{alg}");
        let mut tampered = payload.clone();
        let i = tampered.windows(6).position(|w| w == b"oracle").unwrap();
        tampered[i] = b'0';
        assert!(!verifier.verify(&layer(&tampered)).unwrap(), "{alg} tampered");
    }
}

/// trusted_root.json `validFor` windows bind the anchor: outside them nothing chains.
#[test]
fn anchor_validity_window_enforced() {
    let m = make(spec(KeyType::EcP256));
    let mut p = policy(&m.root);
    p.roots = vec![TrustAnchor { cert: m.root.clone(), valid_for: Some((T0 - 5 * HOUR, Some(T0 - 1))) }];
    assert_eq!(run(&m, &p), no(Rejection::AnchorOutsideValidity { subject: "CN=root".into(), at: x509::rfc3339(T0) }));
    p.roots[0].valid_for = Some((T0 - 5 * HOUR, Some(T0)));
    assert_eq!(run(&m, &p), Verdict::Verified);
}
