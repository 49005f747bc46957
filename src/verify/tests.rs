//! The fixture table: real cosign signatures (tests/data/cosign-real, see its README and
//! PROVENANCE.md) and the exact verdict each must reach.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::cosign::UntrustedSignature;
use crate::trust::parse_trusted_root;

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign-real").join(p)
}
fn text(p: &str) -> Option<String> {
    std::fs::read_to_string(data(p)).ok()
}
fn key(p: &str) -> PublicKey {
    crypto::load_public_key(&std::fs::read(data(p)).unwrap(), p).unwrap()
}
fn certs(p: &str) -> Vec<X509> {
    crypto::load_certificates(&std::fs::read(data(p)).unwrap(), p).unwrap()
}
fn roots(p: &str) -> Vec<TrustAnchor> {
    certs(p).into_iter().map(TrustAnchor::from).collect()
}
fn digest(s: &str) -> Digest {
    s.parse().unwrap()
}
fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Fixed "now" for every row: 2026-11-25 (no clock reads, even in tests).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()
}

/// c/image "signature-N/" directories and the sigstore-rs/payload-only ones.
fn sig_dir(dir: &str) -> UntrustedSignature {
    let payload = std::fs::read(data(&format!("{dir}/payload.bin")))
        .or_else(|_| std::fs::read(data(&format!("{dir}/payload.json"))));
    UntrustedSignature {
        payload: payload.unwrap(),
        base64_signature: text(&format!("{dir}/signature.b64")).unwrap(),
        certificate_pem: text(&format!("{dir}/cert.pem")).or_else(|| text(&format!("{dir}/fulcio-cert.pem"))),
        chain_pem: text(&format!("{dir}/chain.pem")).or_else(|| text(&format!("{dir}/fulcio-chain.pem"))),
        rekor_bundle: text(&format!("{dir}/bundle.json")).or_else(|| text(&format!("{dir}/rekor-set.json"))),
        rfc3161: None,
        media_type: crate::oci::media::COSIGN_SIMPLESIGNING.into(),
    }
}

const K1: &str = "containers-image/dir-img-cosign-valid/signature-1";
const K3: &str = "containers-image/dir-img-cosign-key-rekor-valid/signature-1";
const F1: &str = "containers-image/keyless-rekor-set";
const F2: &str = "containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1";
const F3: &str = "sigstore-rs/keyless-2021";
const P1: &str = "containers-image/dir-img-cosign-pki-valid/signature-1";
const D_K1: &str = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";
const D_K3: &str = "sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a";
const D_F1: &str = "sha256:fa93b01658e3a5a1686dc3ae55f170d8de487006fb53a28efcd12ab0710a2e5f";
const D_F3: &str = "sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e";
const D_K6: &str = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";
const D_P1: &str = "sha256:253c890b744fe3efa923b68e3a1be07bd007eb44ba29da1e7deb1d4c53b3e212";
const GITHUB: &str = "https://github.com/login/oauth";

fn key_policy(k: &str) -> TrustPolicy {
    let mut p = TrustPolicy::new(now());
    p.keys = vec![key(k)];
    p
}

fn fulcio_policy(root: &str, rekor: Option<&str>, email: &str, issuer: Option<&str>) -> TrustPolicy {
    let mut p = TrustPolicy::new(now());
    p.roots = roots(root);
    p.rekor_keys = rekor.map(key).into_iter().collect();
    p.identities = vec![IdentityMatcher {
        san: StringMatch::Exact(email.into()),
        issuer: issuer.map(|i| StringMatch::Exact(i.into())),
    }];
    p
}

fn f1_policy() -> TrustPolicy {
    fulcio_policy(
        "containers-image/roots/fulcio_v1.crt.pem",
        Some("containers-image/keys/rekor.pub"),
        "mitr@redhat.com",
        Some(GITHUB),
    )
}

fn pki_policy() -> TrustPolicy {
    let mut p = TrustPolicy::new(now());
    p.roots = roots("containers-image/roots/pki_root_crts.pem");
    p.allow_any_identity = true;
    p
}

/// `--certificate-oidc-issuer-regexp '.*'` on every matcher.
fn any_issuer(p: &mut TrustPolicy) {
    let any = regex::Regex::new(".*").unwrap();
    for m in &mut p.identities {
        m.issuer = Some(StringMatch::Regex(any.clone()));
    }
}

/// The proof of concept's `--certificate-identity-regexp '.*' --certificate-oidc-issuer-regexp '.*'`.
fn any_identity_any_issuer(p: &mut TrustPolicy) {
    p.allow_any_identity = false;
    p.identities = vec![IdentityMatcher {
        san: StringMatch::Regex(regex::Regex::new(".*").unwrap()),
        issuer: Some(StringMatch::Regex(regex::Regex::new(".*").unwrap())),
    }];
}

enum Expect {
    Ok,
    No(Rejection),
}

struct Row {
    name: &'static str,
    sig: UntrustedSignature,
    digest: &'static str,
    policy: TrustPolicy,
    expect: Expect,
}

fn row(name: &'static str, sig: UntrustedSignature, digest: &'static str, policy: TrustPolicy, expect: Expect) -> Row {
    Row { name, sig, digest, policy, expect }
}

fn with<T>(mut v: T, f: impl FnOnce(&mut T)) -> T {
    f(&mut v);
    v
}

const LINUXERA_ROOT: &str = "C=ES, L=Valencia, O=IT, OU=Security, CN=Linuxera Root Certificate Authority";
const LINUXERA_SUB: &str = "C=ES, L=Valencia, O=IT, OU=Security, CN=Linuxera Intermediate Certificate Authority";
const LINUXERA_LEAF: &str = "C=ES, L=Valencia, O=IT, OU=Security, CN=Team A Cosign Certificate";

fn no_issuer(subject: &str, issuer: &str) -> Rejection {
    Rejection::NoIssuer { subject: subject.into(), issuer: issuer.into() }
}

fn bad_cert_sig(subject: &str, issuer: &str) -> Rejection {
    Rejection::BadCertSignature { subject: subject.into(), issuer: issuer.into() }
}

/// How rejections name the Fulcio leaf of F1/F2 (an empty subject).
const MITR: &str = "(empty subject, SAN mitr@redhat.com)";

fn expired(at: i64) -> Rejection {
    Rejection::Expired { subject: MITR.into(), at: x509::rfc3339(at) }
}

fn table() -> Vec<Row> {
    use Expect::*;
    let k1 = sig_dir(K1);
    let f1 = sig_dir(F1);
    let f2 = sig_dir(F2);
    let p1 = sig_dir(P1);
    let now_s = now().timestamp();
    let intermediates = certs("sigstore-root-signing/fulcio_intermediate_v1.crt.pem");
    let tr = parse_trusted_root(&std::fs::read(data("sigstore-root-signing/trusted_root.json")).unwrap()).unwrap();
    let tr_policy = |email: &str| {
        let mut p = TrustPolicy::new(now());
        p.roots = tr.roots.clone();
        p.intermediates = tr.intermediates.clone();
        p.rekor_keys = tr.rekor_keys.clone();
        p.identities = vec![IdentityMatcher { san: StringMatch::Exact(email.into()), issuer: None }];
        p
    };
    vec![
        // ---- valid ----
        row("K1", k1.clone(), D_K1, key_policy("containers-image/keys/cosign.pub"), Ok),
        row(
            "K2 sig 1",
            sig_dir("containers-image/dir-img-cosign-valid-2/signature-1"),
            D_K1,
            key_policy("containers-image/keys/cosign.pub"),
            Ok,
        ),
        row(
            "K2 sig 2",
            sig_dir("containers-image/dir-img-cosign-valid-2/signature-2"),
            D_K1,
            key_policy("containers-image/keys/cosign.pub"),
            Ok,
        ),
        row(
            "K3 + rekor",
            sig_dir(K3),
            D_K3,
            with(key_policy("containers-image/keys/cosign2.pub"), |p| {
                p.rekor_keys = vec![key("containers-image/keys/rekor.pub")]
            }),
            Ok,
        ),
        row(
            "K4",
            sig_dir("containers-image/dir-img-cosign-valid-with-tag/signature-1"),
            D_K1,
            with(key_policy("containers-image/keys/cosign.pub"), |p| {
                p.docker_reference = Some("192.168.64.2:5000/skopeo-signed:tag".into())
            }),
            Ok,
        ),
        row("K6", sig_dir("sigstore-rs/key-based"), D_K6, key_policy("sigstore-rs/key-based/key.pub"), Ok),
        row("F1", f1.clone(), D_F1, f1_policy(), Ok),
        row("F1 trusted_root.json", f1.clone(), D_F1, tr_policy("mitr@redhat.com"), Ok),
        row(
            "F1 regex identity",
            f1.clone(),
            D_F1,
            with(f1_policy(), |p| {
                p.identities[0].san = StringMatch::Regex(regex::Regex::new("@redhat\\.com").unwrap())
            }),
            Ok,
        ),
        row(
            "F1 --at notBefore",
            f1.clone(),
            D_F1,
            with(f1_policy(), |p| {
                p.rekor_keys.clear();
                p.at = Some(t("2022-12-12T18:48:18Z"))
            }),
            Ok,
        ),
        row(
            "F1 --at notAfter (inclusive)",
            f1.clone(),
            D_F1,
            with(f1_policy(), |p| {
                p.rekor_keys.clear();
                p.at = Some(t("2022-12-12T18:58:18Z"))
            }),
            Ok,
        ),
        row(
            "F1 no chain, intermediates configured",
            with(f1.clone(), |s| s.chain_pem = None),
            D_F1,
            with(f1_policy(), |p| p.intermediates = intermediates.clone()),
            Ok,
        ),
        row("F2", f2.clone(), D_K3, f1_policy(), Ok),
        row("F2 trusted_root.json", f2.clone(), D_K3, tr_policy("mitr@redhat.com"), Ok),
        row(
            "F2 no chain, intermediates configured",
            with(f2.clone(), |s| s.chain_pem = Some(String::new())),
            D_K3,
            with(f1_policy(), |p| p.intermediates = intermediates.clone()),
            Ok,
        ),
        row(
            "F3",
            sig_dir(F3),
            D_F3,
            fulcio_policy(
                "sigstore-rs/roots/fulcio_v0_root.pem",
                Some("sigstore-rs/roots/rekor.pub"),
                "flavio@castelli.me",
                None,
            ),
            Ok,
        ),
        row("F3 trusted_root.json", sig_dir(F3), D_F3, tr_policy("flavio@castelli.me"), Ok),
        // Issue 8 §1: no issuer extension is the empty string, as in cosign's
        // CheckCertificatePolicy: the proof of concept's `--certificate-oidc-issuer-regexp '.*'`.
        row("F3 issuer regexp .*", sig_dir(F3), D_F3, with(tr_policy("flavio@castelli.me"), any_issuer), Ok),
        row(
            "F3 exact issuer never equals a missing one",
            sig_dir(F3),
            D_F3,
            with(tr_policy("flavio@castelli.me"), |p| p.identities[0].issuer = Some(StringMatch::Exact(GITHUB.into()))),
            No(Rejection::IssuerMismatch { found: None }),
        ),
        row(
            "F3 issuer regexp that needs text",
            sig_dir(F3),
            D_F3,
            with(tr_policy("flavio@castelli.me"), |p| {
                p.identities[0].issuer = Some(StringMatch::Regex(regex::Regex::new("^https://").unwrap()))
            }),
            No(Rejection::IssuerMismatch { found: None }),
        ),
        row("P1 identity and issuer regexp .*", p1.clone(), D_P1, with(pki_policy(), any_identity_any_issuer), Ok),
        row(
            "P1 issuer regexp .*, intermediates configured, no chain",
            with(p1.clone(), |s| s.chain_pem = None),
            D_P1,
            with(pki_policy(), |p| {
                any_identity_any_issuer(p);
                p.intermediates = certs("containers-image/roots/pki_intermediate_crts.pem")
            }),
            Ok,
        ),
        row("P1", p1.clone(), D_P1, pki_policy(), Ok),
        row(
            "P1 identity",
            p1.clone(),
            D_P1,
            with(pki_policy(), |p| {
                p.allow_any_identity = false;
                p.identities =
                    vec![IdentityMatcher { san: StringMatch::Exact("qiwan@redhat.com".into()), issuer: None }]
            }),
            Ok,
        ),
        row(
            "P1 no chain, intermediates configured",
            with(p1.clone(), |s| s.chain_pem = None),
            D_P1,
            with(pki_policy(), |p| p.intermediates = certs("containers-image/roots/pki_intermediate_crts.pem")),
            Ok,
        ),
        // ---- negatives from README §5 ----
        row(
            "K1 wrong key",
            k1.clone(),
            D_K1,
            key_policy("containers-image/keys/cosign2.pub"),
            No(Rejection::BadSignature),
        ),
        row(
            "mixed sig 1 unknown key (cosign.pub)",
            sig_dir("containers-image/dir-img-cosign-mixed/signature-1"),
            D_K1,
            key_policy("containers-image/keys/cosign.pub"),
            No(Rejection::BadSignature),
        ),
        row(
            "mixed sig 1 unknown key (cosign2.pub)",
            sig_dir("containers-image/dir-img-cosign-mixed/signature-1"),
            D_K1,
            key_policy("containers-image/keys/cosign2.pub"),
            No(Rejection::BadSignature),
        ),
        row(
            "K3 wrong key",
            sig_dir(K3),
            D_K3,
            key_policy("containers-image/keys/cosign.pub"),
            No(Rejection::BadSignature),
        ),
        row(
            "K3 cosign.pub as Rekor key",
            sig_dir(K3),
            D_K3,
            with(key_policy("containers-image/keys/cosign2.pub"), |p| {
                p.rekor_keys = vec![key("containers-image/keys/cosign.pub")]
            }),
            No(Rejection::RekorSet(RekorRejection::UnknownLog {
                log_id: "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d".into(),
            })),
        ),
        row(
            "K1 with K3's bundle",
            with(k1.clone(), |s| s.rekor_bundle = sig_dir(K3).rekor_bundle),
            D_K1,
            with(key_policy("containers-image/keys/cosign.pub"), |p| {
                p.rekor_keys = vec![key("containers-image/keys/rekor.pub")]
            }),
            No(Rejection::RekorSet(RekorRejection::HashMismatch {
                expected: Digest::of(&k1.payload).hex().into(),
                found: "sha256:5f410774769a2edd4cd1ee36072223018ac93495c968a442d4208da5ca753f37".into(),
            })),
        ),
        row(
            "modified manifest",
            sig_dir("containers-image/dir-img-cosign-modified-manifest/signature-1"),
            "sha256:d9dcafdb480aa7c475e91737b96925e45844213dcb0290b4a90017459121f71f",
            key_policy("containers-image/keys/cosign.pub"),
            No(Rejection::DigestMismatch {
                expected: digest("sha256:d9dcafdb480aa7c475e91737b96925e45844213dcb0290b4a90017459121f71f"),
                found: digest(D_K1),
            }),
        ),
        row(
            "other attachment",
            sig_dir("containers-image/dir-img-cosign-other-attachment/signature-1"),
            D_K1,
            key_policy("containers-image/keys/cosign.pub"),
            No(Rejection::BadSignature),
        ),
        row(
            "K1 reference mismatch",
            k1.clone(),
            D_K1,
            with(key_policy("containers-image/keys/cosign.pub"), |p| {
                p.docker_reference = Some("this/does-not:match".into())
            }),
            No(Rejection::ReferenceMismatch {
                expected: "this/does-not:match".into(),
                found: "192.168.64.2:5000/cosign-signed-single-sample".into(),
            }),
        ),
        row(
            "K4 othertag",
            sig_dir("containers-image/dir-img-cosign-valid-with-tag/signature-1"),
            D_K1,
            with(key_policy("containers-image/keys/cosign.pub"), |p| {
                p.docker_reference = Some("192.168.64.2:5000/skopeo-signed:othertag".into())
            }),
            No(Rejection::ReferenceMismatch {
                expected: "192.168.64.2:5000/skopeo-signed:othertag".into(),
                found: "192.168.64.2:5000/skopeo-signed:tag".into(),
            }),
        ),
        row(
            "F1 one second early",
            f1.clone(),
            D_F1,
            with(f1_policy(), |p| {
                p.rekor_keys.clear();
                p.at = Some(t("2022-12-12T18:48:17Z"))
            }),
            No(Rejection::NotYetValid { subject: MITR.into(), at: "2022-12-12T18:48:17+00:00".into() }),
        ),
        row(
            "F1 one second late",
            f1.clone(),
            D_F1,
            with(f1_policy(), |p| {
                p.rekor_keys.clear();
                p.at = Some(t("2022-12-12T18:58:19Z"))
            }),
            No(expired(1670871499)),
        ),
        row("F1 at now", f1.clone(), D_F1, with(f1_policy(), |p| p.rekor_keys.clear()), No(expired(now_s))),
        row(
            "F1 pki root",
            f1.clone(),
            D_F1,
            with(f1_policy(), |p| p.roots = roots("containers-image/roots/pki_root_crts.pem")),
            No(no_issuer("O=sigstore.dev, CN=sigstore-intermediate", "O=sigstore.dev, CN=sigstore")),
        ),
        row(
            "F1 v0 root",
            f1.clone(),
            D_F1,
            with(f1_policy(), |p| p.roots = roots("sigstore-root-signing/fulcio.crt.pem")),
            No(bad_cert_sig("O=sigstore.dev, CN=sigstore-intermediate", "O=sigstore.dev, CN=sigstore")),
        ),
        row(
            "F1 empty chain",
            with(f1.clone(), |s| s.chain_pem = Some(String::new())),
            D_F1,
            f1_policy(),
            No(no_issuer(MITR, "O=sigstore.dev, CN=sigstore-intermediate")),
        ),
        row(
            "F1 chain = root only",
            with(f1.clone(), |s| s.chain_pem = text("containers-image/roots/fulcio_v1.crt.pem")),
            D_F1,
            f1_policy(),
            No(no_issuer(MITR, "O=sigstore.dev, CN=sigstore-intermediate")),
        ),
        row(
            "F1 wrong email",
            f1.clone(),
            D_F1,
            fulcio_policy(
                "containers-image/roots/fulcio_v1.crt.pem",
                Some("containers-image/keys/rekor.pub"),
                "other@redhat.com",
                Some(GITHUB),
            ),
            No(Rejection::IdentityMismatch { found: vec!["mitr@redhat.com".into()] }),
        ),
        row(
            "F1 wrong issuer",
            f1.clone(),
            D_F1,
            fulcio_policy(
                "containers-image/roots/fulcio_v1.crt.pem",
                Some("containers-image/keys/rekor.pub"),
                "mitr@redhat.com",
                Some("https://accounts.google.com"),
            ),
            No(Rejection::IssuerMismatch { found: Some(GITHUB.into()) }),
        ),
        row(
            "F1 no identity policy",
            f1.clone(),
            D_F1,
            with(f1_policy(), |p| p.identities.clear()),
            No(Rejection::NoIdentityPolicy),
        ),
        row(
            "F1 payload byte flipped",
            with(f1.clone(), |s| s.payload[20] ^= 1),
            D_F1,
            f1_policy(),
            No(Rejection::BadSignature),
        ),
        row(
            "F1 signature = base64(\"invalid signature\")",
            with(f1.clone(), |s| s.base64_signature = "aW52YWxpZCBzaWduYXR1cmU=".into()),
            D_F1,
            f1_policy(),
            No(Rejection::BadSignature),
        ),
        row(
            "F1 malformed base64",
            with(f1.clone(), |s| s.base64_signature = "Invalid base64 signature".into()),
            D_F1,
            f1_policy(),
            No(Rejection::MalformedBase64),
        ),
        row(
            "F1 moved to another image",
            f1.clone(),
            D_K1,
            f1_policy(),
            No(Rejection::DigestMismatch { expected: digest(D_K1), found: digest(D_F1) }),
        ),
        row(
            "F1 only ed25519 allowed",
            f1.clone(),
            D_F1,
            with(f1_policy(), |p| p.allowed_algorithms = Some(vec![SignatureAlgorithm::Ed25519])),
            No(Rejection::AlgorithmNotAllowed { alg: SignatureAlgorithm::EcdsaP256Sha256 }),
        ),
        row(
            "F2 no chain",
            with(f2.clone(), |s| s.chain_pem = None),
            D_K3,
            f1_policy(),
            No(no_issuer(MITR, "O=sigstore.dev, CN=sigstore-intermediate")),
        ),
        row(
            "F2 bundle dropped, Rekor key configured",
            with(f2.clone(), |s| s.rekor_bundle = None),
            D_K3,
            f1_policy(),
            No(Rejection::RekorBundleMissing),
        ),
        row(
            "F2 bundle dropped, no Rekor key: checked at now",
            with(f2.clone(), |s| s.rekor_bundle = None),
            D_K3,
            with(f1_policy(), |p| p.rekor_keys.clear()),
            No(expired(now_s)),
        ),
        row(
            "F2 wrong email",
            f2.clone(),
            D_K3,
            fulcio_policy(
                "containers-image/roots/fulcio_v1.crt.pem",
                Some("containers-image/keys/rekor.pub"),
                "someone@example.com",
                Some(GITHUB),
            ),
            No(Rejection::IdentityMismatch { found: vec!["mitr@redhat.com".into()] }),
        ),
        row(
            "F2 pki root",
            f2.clone(),
            D_K3,
            with(f1_policy(), |p| p.roots = roots("containers-image/roots/pki_root_crts.pem")),
            No(no_issuer("O=sigstore.dev, CN=sigstore-intermediate", "O=sigstore.dev, CN=sigstore")),
        ),
        row(
            "F3 v1 root",
            sig_dir(F3),
            D_F3,
            fulcio_policy(
                "sigstore-rs/roots/fulcio_v1_root.pem",
                Some("sigstore-rs/roots/rekor.pub"),
                "flavio@castelli.me",
                None,
            ),
            No(bad_cert_sig("(empty subject, SAN flavio@castelli.me)", "O=sigstore.dev, CN=sigstore")),
        ),
        row(
            "P1 fulcio root",
            p1.clone(),
            D_P1,
            with(pki_policy(), |p| p.roots = roots("containers-image/roots/fulcio_v1.crt.pem")),
            No(no_issuer(LINUXERA_SUB, LINUXERA_ROOT)),
        ),
        row(
            "P1 no chain",
            with(p1.clone(), |s| s.chain_pem = None),
            D_P1,
            pki_policy(),
            No(no_issuer(LINUXERA_LEAF, LINUXERA_SUB)),
        ),
        row(
            "K6 wrong key",
            sig_dir("sigstore-rs/key-based"),
            D_K6,
            key_policy("sigstore-rs/key-based/wrong-key.pub"),
            No(Rejection::BadSignature),
        ),
        row("nothing configured", k1.clone(), D_K1, TrustPolicy::new(now()), No(Rejection::NoTrustConfigured)),
        row("roots only, key signature", k1.clone(), D_K1, pki_policy(), No(Rejection::NoCertificate)),
        row(
            "F1 keys only: certificate signature, no certificate trust",
            f1.clone(),
            D_F1,
            key_policy("containers-image/keys/cosign.pub"),
            No(Rejection::NoCertificateTrust),
        ),
        row(
            "P1 keys only: certificate signature, no certificate trust",
            p1.clone(),
            D_P1,
            key_policy("containers-image/keys/cosign.pub"),
            No(Rejection::NoCertificateTrust),
        ),
        row(
            "F1 keys only, payload byte flipped: still a bad signature",
            with(f1.clone(), |s| s.payload[20] ^= 1),
            D_F1,
            key_policy("containers-image/keys/cosign.pub"),
            No(Rejection::BadSignature),
        ),
    ]
}

#[test]
fn fixture_table() {
    let mut failures = Vec::new();
    for r in table() {
        let report = verify_signature(&r.policy, &r.sig, &digest(r.digest));
        let ok = match &r.expect {
            Expect::Ok => report.verdict == Verdict::Verified,
            Expect::No(want) => report.verdict == Verdict::Rejected(want.clone()),
        };
        if !ok {
            failures.push(format!("{}: got {:?}", r.name, report.verdict));
        }
    }
    assert!(failures.is_empty(), "fixture rows failed:\n{}", failures.join("\n"));
}

#[test]
fn reports_carry_evidence() {
    let r = verify_signature(&f1_policy(), &sig_dir(F1), &digest(D_F1));
    assert!(r.is_verified());
    assert_eq!(r.trusted_time, Some(TrustedTime { unix: 1670870899, source: TimeSource::Rekor }));
    assert_eq!(r.algorithm, Some(SignatureAlgorithm::EcdsaP256Sha256));
    assert_eq!(
        r.signer,
        Some(Signer::Certificate { sans: vec![San::Email("mitr@redhat.com".into())], issuer: Some(GITHUB.into()) })
    );
    assert_eq!(r.chain.len(), 3);
    assert_eq!(r.chain[2].subject, "O=sigstore.dev, CN=sigstore");
    assert!(matches!(&r.rekor, RekorStatus::Verified(e) if e.log_index == 8949589));
    assert_eq!(r.docker_reference.as_deref(), Some("192.168.64.2:5000/test-repo-2100826901021538654/alpine"));

    let r = verify_signature(&pki_policy(), &sig_dir(P1), &digest(D_P1));
    assert_eq!(r.algorithm, Some(SignatureAlgorithm::RsaPkcs1Sha256));
    assert_eq!(r.trusted_time.map(|t| t.source), Some(TimeSource::Now));

    let mut p = key_policy("containers-image/keys/cosign2.pub");
    p.rekor_keys = vec![key("containers-image/keys/rekor.pub")];
    let r = verify_signature(&p, &sig_dir(K3), &digest(D_K3));
    assert_eq!(r.trusted_time, Some(TrustedTime { unix: 1674251859, source: TimeSource::Rekor }));
    // A bundle without a configured Rekor key is reported as not checked.
    let r = verify_signature(&key_policy("containers-image/keys/cosign2.pub"), &sig_dir(K3), &digest(D_K3));
    assert!(r.is_verified());
    assert_eq!(r.rekor, RekorStatus::NotChecked);
}

/// The record of checks for the legacy `.sig` form: a legacy Rekor bundle has no
/// inclusion proof or checkpoint; a key has no chain; the failing check is named.
#[test]
fn legacy_reports_record_which_checks_ran() {
    use CheckStatus::*;
    let row = |r: &SignatureReport| r.checks.entries().map(|e| e.1);
    // Fulcio certificate + Rekor SET (F1); no CT log or timestamp configured.
    let r = verify_signature(&f1_policy(), &sig_dir(F1), &digest(D_F1));
    let na = NotApplicable;
    assert_eq!(row(&r), [Passed, Passed, Passed, Passed, Passed, na, na, Passed, NotConfigured, Absent]);
    let mut p = f1_policy();
    p.ignore_sct = true;
    assert_eq!(verify_signature(&p, &sig_dir(F1), &digest(D_F1)).checks.sct, Skipped);
    // Key + Rekor bundle, with and without a Rekor key.
    let mut p = key_policy("containers-image/keys/cosign2.pub");
    p.rekor_keys = vec![key("containers-image/keys/rekor.pub")];
    let r = verify_signature(&p, &sig_dir(K3), &digest(D_K3));
    assert_eq!(row(&r), [Passed, Passed, na, na, Passed, na, na, Passed, na, Absent]);
    let r = verify_signature(&key_policy("containers-image/keys/cosign2.pub"), &sig_dir(K3), &digest(D_K3));
    let nc = NotConfigured;
    assert_eq!(row(&r), [Passed, Passed, na, na, nc, na, na, nc, na, Absent]);
    // Refusals: the wrong digest, then the wrong identity.
    let r = verify_signature(&f1_policy(), &sig_dir(F1), &digest(D_K1));
    assert_eq!((r.checks.signature, r.checks.subject, r.checks.rekor_set), (Passed, Failed, NotReached));
    let mut p = f1_policy();
    p.identities[0].san = StringMatch::Exact("someone@else".into());
    let r = verify_signature(&p, &sig_dir(F1), &digest(D_F1));
    assert_eq!((r.checks.certificate_chain, r.checks.identity, r.checks.sct), (Passed, Failed, NotReached));
    // The embedded SCT of a real Fulcio leaf (F1, F2) against the CT logs of
    // trusted_root.json, as for a Sigstore bundle; another key under the log's ID fails.
    let tr = parse_trusted_root(&std::fs::read(data("sigstore-root-signing/trusted_root.json")).unwrap()).unwrap();
    let mut p = TrustPolicy::new(now());
    p.roots = tr.roots.clone();
    p.intermediates = tr.intermediates.clone();
    p.rekor_keys = tr.rekor_keys.clone();
    p.ct_logs = tr.ct_logs.clone();
    p.identities = vec![IdentityMatcher { san: StringMatch::Exact("mitr@redhat.com".into()), issuer: None }];
    for (sig, d) in [(F1, D_F1), (F2, D_K3)] {
        let r = verify_signature(&p, &sig_dir(sig), &digest(d));
        assert!(r.is_verified(), "{sig}: {:?}", r.verdict);
        assert_eq!(r.checks.sct, Passed, "{sig}");
    }
    let mut wrong = p.clone();
    for l in &mut wrong.ct_logs {
        l.key = tr.rekor_keys[0].clone();
    }
    let r = verify_signature(&wrong, &sig_dir(F1), &digest(D_F1));
    assert_eq!(r.verdict, Verdict::Rejected(Rejection::Sct(sct::SctRejection::NoValidSct)));
    assert_eq!((r.checks.identity, r.checks.sct), (Passed, Failed));
    // A bad signature: nothing after it ran.
    let r = verify_signature(&key_policy("containers-image/keys/cosign.pub"), &sig_dir(K3), &digest(D_K3));
    assert_eq!(row(&r)[0], Failed);
    assert!(row(&r)[1..].iter().all(|s| *s == NotReached), "{}", r.checks);
}

#[test]
fn image_verdict_mixed() {
    let sigs = [
        sig_dir("containers-image/dir-img-cosign-mixed/signature-1"),
        sig_dir("containers-image/dir-img-cosign-mixed/signature-2"),
    ];
    let v = verify_image(&key_policy("containers-image/keys/cosign.pub"), &sigs, &digest(D_K1), 1);
    assert!(v.passed());
    assert_eq!(v.rejected().map(|r| r.rejection().cloned()).collect::<Vec<_>>(), vec![Some(Rejection::BadSignature)]);
    assert!(!verify_image(&key_policy("containers-image/keys/cosign.pub"), &sigs, &digest(D_K1), 2).passed());
    assert!(!verify_image(&key_policy("containers-image/keys/cosign.pub"), &[], &digest(D_K1), 0).passed());
}

/// The `.raw` c/image files and our `.sig` reader agree: build a `.sig` manifest from the
/// K2 layers and read it back to the same signatures, which verify.
#[test]
fn sig_manifest_roundtrip_verifies() {
    use crate::cosign::{append_signature, signatures_from_sig_manifest_map, NewSignatureLayer};
    let s1 = sig_dir("containers-image/dir-img-cosign-valid-2/signature-1");
    let s2 = sig_dir("containers-image/dir-img-cosign-valid-2/signature-2");
    let layer = |s: &UntrustedSignature| NewSignatureLayer {
        payload: s.payload.clone(),
        base64_signature: s.base64_signature.clone(),
        ..Default::default()
    };
    let m1 = append_signature(None, &layer(&s1)).unwrap();
    let m2 = append_signature(Some(&m1.manifest), &layer(&s2)).unwrap();
    let blobs = [(Digest::of(&s1.payload), s1.payload.clone())].into_iter().collect();
    let read = signatures_from_sig_manifest_map(&m2.manifest, &blobs).unwrap();
    assert_eq!(read.signatures.len(), 2);
    let v = verify_image(&key_policy("containers-image/keys/cosign.pub"), &read.signatures, &digest(D_K1), 2);
    assert!(v.passed(), "{v:?}");
}

/// dangerzone (AGPL) and salrashid123 (no licence) stay out of the repository: checked
/// only where the shared fixture directory exists. `cargo test -- --ignored external`.
#[test]
#[ignore = "local only: the dangerzone and salrashid123 fixtures cannot ship (licences); run with --ignored external"]
fn external_fixtures_local_only() {
    let base = Path::new("/work/shared/fixtures/cosign-real");
    // Run on purpose, so a missing fixture directory is a failure, not a pass.
    assert!(base.exists(), "{} absent: this check needs the local fixture copies", base.display());
    let rekor =
        crypto::load_public_key(&std::fs::read(data("containers-image/keys/rekor.pub")).unwrap(), "rekor").unwrap();
    let mut results = Vec::new();
    // dangerzone: `cosign download signature` arrays named <manifest digest>.json.
    let dz_key = crypto::load_public_key(&std::fs::read(base.join("dangerzone/test.pub.key")).unwrap(), "dz").unwrap();
    for set in ["valid", "tampered", "invalid"] {
        let dir =
            base.join("dangerzone").join(set).join("95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95");
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let d: Digest = format!("sha256:{}", f.file_stem().unwrap().to_str().unwrap()).parse().unwrap();
            let mut p = TrustPolicy::new(now());
            p.keys = vec![dz_key.clone()];
            p.rekor_keys = vec![rekor.clone()];
            match crate::cosign::signatures_from_download(&std::fs::read_to_string(&f).unwrap()) {
                Ok(sigs) => {
                    for (i, s) in sigs.iter().enumerate() {
                        let r = verify_signature(&p, s, &d);
                        results.push((format!("dangerzone/{set}/{}#{i}", &d.hex()[..8]), set == "valid", r.verdict));
                    }
                }
                Err(e) => results.push((
                    format!("dangerzone/{set}/{}", &d.hex()[..8]),
                    false,
                    Verdict::PresentNotVerified { reason: e.to_string() },
                )),
            }
        }
    }
    // salrashid123: rebuilt payload + per-layer files.
    let kms =
        crypto::load_public_key(&std::fs::read(base.join("salrashid123-gcp/kms_pub.pem")).unwrap(), "kms").unwrap();
    let fulcio = roots("containers-image/roots/fulcio_v1.crt.pem");
    let gsa = regex::Regex::new(r"\.iam\.gserviceaccount\.com$").unwrap();
    for (commit, layer, expect_ok) in
        [("180dc471", 0, true), ("180dc471", 1, true), ("9ad70c86", 1, true), ("9ad70c86", 0, false)]
    {
        let dir = base.join("salrashid123-gcp").join(commit);
        let payload = std::fs::read(dir.join("payload.json")).unwrap();
        let d = crate::cosign::parse_payload(&payload).unwrap().docker_manifest_digest;
        let read = |n: &str| std::fs::read_to_string(dir.join(format!("layer-{layer}/{n}"))).ok();
        let sig = UntrustedSignature {
            payload,
            base64_signature: read("signature.b64").unwrap(),
            certificate_pem: read("cert.pem"),
            chain_pem: read("chain.pem"),
            rekor_bundle: read("bundle.json"),
            ..Default::default()
        };
        let mut p = TrustPolicy::new(now());
        if sig.certificate_pem.is_some() {
            p.roots = fulcio.clone();
            p.rekor_keys = vec![rekor.clone()];
            p.identities = vec![IdentityMatcher {
                san: StringMatch::Regex(gsa.clone()),
                issuer: Some(StringMatch::Exact("https://accounts.google.com".into())),
            }];
        } else {
            p.keys = vec![kms.clone()];
        }
        let r = verify_signature(&p, &sig, &d);
        results.push((format!("salrashid123/{commit}/layer-{layer}"), expect_ok, r.verdict));
    }
    // The real `.sig` manifest printed in salrashid123's README, read by our parser.
    let dir = base.join("salrashid123-gcp/180dc471");
    let payload = std::fs::read(dir.join("payload.json")).unwrap();
    let blobs = [(Digest::of(&payload), payload.clone())].into_iter().collect();
    let manifest = std::fs::read(dir.join("signature-manifest.json")).unwrap();
    let read = crate::cosign::signatures_from_sig_manifest_map(&manifest, &blobs).unwrap();
    assert_eq!(read.signatures.len(), 2);
    let d = crate::cosign::parse_payload(&payload).unwrap().docker_manifest_digest;
    // Layer 0 (KMS key, no Rekor entry) under a key policy; layer 1 (keyless) under a
    // Fulcio + Rekor policy. One policy with both would require a bundle for layer 0 too.
    let mut key_only = TrustPolicy::new(now());
    key_only.keys = vec![kms.clone()];
    let mut keyless = TrustPolicy::new(now());
    keyless.roots = fulcio.clone();
    keyless.rekor_keys = vec![rekor.clone()];
    keyless.identities = vec![IdentityMatcher { san: StringMatch::Regex(gsa.clone()), issuer: None }];
    for (i, p) in [(0, &key_only), (1, &keyless)] {
        let r = verify_signature(p, &read.signatures[i], &d);
        results.push((format!("salrashid123/180dc471 .sig manifest layer {i}"), true, r.verdict));
    }
    let mut both = keyless.clone();
    both.keys = key_only.keys.clone();
    let v = verify_image(&both, &read.signatures, &d, 1);
    assert_eq!(
        v.rejected().map(|r| r.rejection().cloned()).collect::<Vec<_>>(),
        vec![Some(Rejection::RekorBundleMissing)]
    );
    let mut wrong = Vec::new();
    for (name, expect_ok, verdict) in &results {
        eprintln!("{name}: expected {} -> {verdict:?}", if *expect_ok { "VALID" } else { "INVALID" });
        if (*verdict == Verdict::Verified) != *expect_ok {
            wrong.push(name.clone());
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts: {wrong:?}");
}
