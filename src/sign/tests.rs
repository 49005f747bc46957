//! Unit tests: input decoding, key loading refusals, and each attach refusal with its
//! exact reason. The registry side is tested end to end in `tests/sign.rs`.

use std::collections::BTreeMap;

use base64::Engine as _;
use openssl::symm::Cipher;

use super::*;
use crate::cosign::simple_signing_payload;
use crate::verify::certs::{generate_pki, KeyType};
use crate::verify::crypto::{self, SignatureAlgorithm};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Wraps at 76 columns with a trailing newline, as coreutils `base64` does.
fn wrapped(bytes: &[u8]) -> Vec<u8> {
    let s = b64(bytes);
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.into_bytes()
}

#[test]
fn annotations_parse_and_refuse() {
    let a = parse_annotations(&["b=2".into(), "a=x=y".into(), "c=".into()]).unwrap();
    assert_eq!(
        a.into_iter().collect::<Vec<_>>(),
        vec![("a".into(), "x=y".into()), ("b".into(), "2".into()), ("c".into(), "".into())]
    );
    assert!(matches!(parse_annotations(&["novalue".into()]), Err(SignError::BadAnnotation { .. })));
    assert!(matches!(parse_annotations(&["=v".into()]), Err(SignError::BadAnnotation { .. })));
    assert!(matches!(parse_annotations(&["k=1".into(), "k=2".into()]), Err(SignError::DuplicateAnnotation { .. })));
}

#[test]
fn signature_files_decode() {
    let sig: Vec<u8> = (0..=255u8).cycle().take(384).collect();
    assert_eq!(decode_signature(&wrapped(&sig), "s").unwrap(), sig);
    assert_eq!(decode_signature(b64(&sig).as_bytes(), "s").unwrap(), sig);
    // Raw DER/binary passes through.
    assert_eq!(decode_signature(&sig, "s").unwrap(), sig);
    // Truncated base64 (not a multiple of 4) is refused, not taken as binary.
    let text = b64(&sig);
    let cut = &text.as_bytes()[..text.len() - 3];
    assert!(matches!(decode_signature(cut, "s"), Err(AttachRejection::MalformedBase64 { .. })));
    assert!(matches!(decode_signature(b"  \n", "s"), Err(AttachRejection::EmptySignature { .. })));
}

#[test]
fn keys_refused_with_reasons() {
    let key = crate::verify::certs::generate_key(KeyType::EcP256).unwrap();
    let enc = key.0.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"pw").unwrap();
    assert!(matches!(load_signing_key(&enc, "k", None), Err(SignError::KeyEncrypted { .. })));
    let e = load_signing_key(&enc, "k", Some(("PW", b"wrong"))).unwrap_err();
    assert!(matches!(e, SignError::WrongPassphrase { .. }), "{e}");
    assert_eq!(e.exit_code(), crate::exit::USAGE);
    let k = load_signing_key(&enc, "k", Some(("PW", b"pw"))).unwrap();
    assert!(k.0.public_eq(&key.0));
    assert!(matches!(load_signing_key(b"garbage", "k", None), Err(SignError::Key(_))));
    let cosign =
        b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAA==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
    assert!(matches!(load_signing_key(cosign, "k", None), Err(SignError::CosignEncryptedKey { .. })));
}

#[test]
fn algorithm_must_fit_the_key() {
    let key = crate::verify::certs::generate_key(KeyType::EcP256).unwrap();
    let e =
        sign_with_key(&key, "k", b"p", Some(SignatureAlgorithm::RsaPssSha512), (&key.public_key(), "k")).unwrap_err();
    assert!(matches!(e, SignError::AlgorithmForKey { .. }), "{e}");
    assert_eq!(e.exit_code(), crate::exit::USAGE);
    let other = crate::verify::certs::generate_key(KeyType::EcP256).unwrap();
    let e = sign_with_key(&key, "k", b"p", None, (&other.public_key(), "other")).unwrap_err();
    assert!(matches!(e, SignError::SelfCheck { .. }), "{e}");
    let ok = sign_with_key(&key, "k", b"p", None, (&key.public_key(), "k")).unwrap();
    assert_eq!(ok.algorithm, SignatureAlgorithm::EcdsaP256Sha256);
}

#[test]
fn key_certificate_mismatch_refused() {
    let pki = generate_pki(KeyType::EcP256, "t", vec![], 1, 1_700_000_000).unwrap();
    let cert = load_certificate(&pki.leaf.to_pem().unwrap(), "leaf.crt").unwrap();
    assert!(check_key_matches_certificate(&pki.leaf_key, "leaf.key", &cert).is_ok());
    let e = check_key_matches_certificate(&pki.sub_key, "sub.key", &cert).unwrap_err();
    assert_eq!(e.to_string(), "signing key sub.key does not match the public key of certificate leaf.crt");
    // DER certificates load and are stored as PEM.
    let der = load_certificate(&pki.leaf.to_der().unwrap(), "leaf.der").unwrap();
    assert_eq!(der.pem.as_bytes(), pki.leaf.to_pem().unwrap());
}

struct Fixture {
    pki: crate::verify::certs::Pki,
    digest: Digest,
    payload: Vec<u8>,
    cert_pem: Vec<u8>,
    chain_pem: Vec<u8>,
}

fn fixture() -> Fixture {
    let pki = generate_pki(KeyType::EcP256, "t", vec![], 1, 1_700_000_000).unwrap();
    let digest = Digest::of(b"image");
    let payload = simple_signing_payload("reg.example/app", &digest, &BTreeMap::new());
    let cert_pem = pki.leaf.to_pem().unwrap();
    let mut chain_pem = pki.sub.to_pem().unwrap();
    chain_pem.extend(pki.root.to_pem().unwrap());
    Fixture { pki, digest, payload, cert_pem, chain_pem }
}

fn attach(
    f: &Fixture,
    payload: &[u8],
    sig: &[u8],
    cert: &[u8],
    digest: &Digest,
) -> Result<CheckedAttachment, SignError> {
    check_attachment(
        &Attachment {
            payload: (payload, "payload.json"),
            signature: (sig, "sig.b64"),
            certificate: Some((cert, "leaf.crt")),
            chain: Some((&f.chain_pem, "certificate_chain.pem")),
            key: None,
            rekor_bundle: None,
        },
        digest,
    )
}

fn rejection(r: Result<CheckedAttachment, SignError>) -> AttachRejection {
    match r {
        Err(SignError::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn attach_accepts_and_keeps_bytes() {
    let f = fixture();
    let sig = crypto::sign(&f.pki.leaf_key, &f.payload, SignatureAlgorithm::EcdsaP256Sha256).unwrap();
    let ok = attach(&f, &f.payload, &wrapped(&sig), &f.cert_pem, &f.digest).unwrap();
    assert_eq!(ok.layer.payload, f.payload);
    assert_eq!(ok.layer.base64_signature, b64(&sig));
    assert_eq!(ok.layer.certificate_pem.as_deref().map(str::as_bytes), Some(&f.cert_pem[..]));
    assert_eq!(ok.layer.chain_pem.as_deref().map(str::as_bytes), Some(&f.chain_pem[..]));
    assert_eq!(ok.algorithm, SignatureAlgorithm::EcdsaP256Sha256);
    // Raw DER works as well.
    assert!(attach(&f, &f.payload, &sig, &f.cert_pem, &f.digest).is_ok());
}

#[test]
fn attach_refusals_name_the_reason() {
    let f = fixture();
    let sig = crypto::sign(&f.pki.leaf_key, &f.payload, SignatureAlgorithm::EcdsaP256Sha256).unwrap();
    let other = Digest::of(b"other image");
    let r = rejection(attach(&f, &f.payload, &sig, &f.cert_pem, &other));
    assert_eq!(
        r,
        AttachRejection::DigestMismatch { what: "payload.json".into(), expected: other, found: f.digest.clone() }
    );

    let mut tampered = f.payload.clone();
    tampered.splice(1..1, *b" ");
    let r = rejection(attach(&f, &tampered, &sig, &f.cert_pem, &f.digest));
    assert!(matches!(r, AttachRejection::BadSignature { ref against, .. } if against == "leaf.crt"), "{r}");

    let r = rejection(attach(&f, &f.payload, &sig, &f.pki.sub.to_pem().unwrap(), &f.digest));
    assert!(matches!(r, AttachRejection::BadSignature { .. }), "{r}");

    let r = rejection(attach(&f, b"{\"critical\":{}}", &sig, &f.cert_pem, &f.digest));
    assert!(matches!(r, AttachRejection::Payload { .. }), "{r}");

    let r = rejection(attach(&f, &f.payload, b"QUJD\nRA=", &f.cert_pem, &f.digest));
    assert!(matches!(r, AttachRejection::MalformedBase64 { .. }), "{r}");

    let r = rejection(attach(
        &f,
        &f.payload,
        &sig,
        b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
        &f.digest,
    ));
    assert!(matches!(r, AttachRejection::MalformedCertificate { .. }), "{r}");
    assert_eq!(SignError::Rejected(r).exit_code(), crate::exit::REJECTED);
}

#[test]
fn signer_command_output_checked() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    std::fs::write(&key, f.pki.leaf_key.to_pkcs8_pem()).unwrap();
    let pk = f.pki.leaf_key.public_key();
    let cmd = format!("openssl dgst -sha256 -sign {} | base64", key.display());
    let s = sign_with_command(&cmd, &f.payload, (&pk, "leaf")).unwrap();
    assert_eq!(s.algorithm, SignatureAlgorithm::EcdsaP256Sha256);
    assert!(crypto::verify_with(&pk, &f.payload, &s.signature, s.algorithm));
    let e = sign_with_command("echo AAAA", &f.payload, (&pk, "leaf")).unwrap_err();
    assert!(matches!(e, SignError::SignerOutput { .. }), "{e}");
    assert_eq!(e.exit_code(), crate::exit::REJECTED);
    let e = sign_with_command("exit 3", &f.payload, (&pk, "leaf")).unwrap_err();
    assert!(matches!(e, SignError::SignerCommand { .. }), "{e}");
}

/// The bundle's key hint equals cosign's formula computed independently with the openssl
/// command line: `openssl pkey -pubin -in K.pub -outform DER | openssl dgst -sha256 -binary
/// | base64` (values computed once and pasted here), for EC, Ed25519 and RSA keys, and for
/// an RSA key given as PKCS#1 (the hint is over the SPKI form, not the bytes given).
#[test]
fn key_hint_is_cosigns_sha256_of_the_spki() {
    const EC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaVsq7J5jPR1to0fRewMmiWCwnIcJ
BTTxkcLNLq6795NqoUE2BVhNJNDAQ1V2iLRSzn3sWB+wxMIDTs1gHdVDlA==
-----END PUBLIC KEY-----
";
    const ED: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGXQUALdm/bCs3L6959Wnl/YdJouIcIQUNHGaOsN1ldU=
-----END PUBLIC KEY-----
";
    const RSA_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApS8HGtSBsEeaaO8gFq3U
LmcKhgaxWKUY1Lxaxf/Uilx8rhBuX4AXIfP0frwrfrzMRkB1hVDblX4x5cDurk0j
003kVag/2nf04Ep1cMfqhHe/vgY0ydGX2m1mCs27tfE5QYQx0PfuSirtJyHS+rAn
XxTcT2cSmLsbyAjYHh4dpg6b9oHgf1RXz+5fDcqORPU9Q98InWk6ZmGNgGc9/gfs
juJTLKNrbssSdX000fLjBS3uMOUA6glwXgM5AHnUCeih6lYkRo4PDPCh2lY4pgoP
hviHWSX26HxI9cTB/5NF/u6oV+0TbeAA6UIGLFTnxThqgHMrzkvQDTi1MnS8Vh3O
CQIDAQAB
-----END PUBLIC KEY-----
";
    const RSA_PKCS1: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEApS8HGtSBsEeaaO8gFq3ULmcKhgaxWKUY1Lxaxf/Uilx8rhBuX4AX
IfP0frwrfrzMRkB1hVDblX4x5cDurk0j003kVag/2nf04Ep1cMfqhHe/vgY0ydGX
2m1mCs27tfE5QYQx0PfuSirtJyHS+rAnXxTcT2cSmLsbyAjYHh4dpg6b9oHgf1RX
z+5fDcqORPU9Q98InWk6ZmGNgGc9/gfsjuJTLKNrbssSdX000fLjBS3uMOUA6glw
XgM5AHnUCeih6lYkRo4PDPCh2lY4pgoPhviHWSX26HxI9cTB/5NF/u6oV+0TbeAA
6UIGLFTnxThqgHMrzkvQDTi1MnS8Vh3OCQIDAQAB
-----END RSA PUBLIC KEY-----
";
    for (pem, hint) in [
        (EC, "i3Lom/zniYCePwecL3TmgBVlD4AoUBVOPMiAvyNaGCY="),
        (ED, "aJwHIEzWN0P+Ep9h4f9mI/2Ae/p/f7mkKWCEuEJI/S8="),
        (RSA_SPKI, "QhEhkimS9dIeslGxxi6kSAJHY1IkHJo+QZcWQBa3xGI="),
        (RSA_PKCS1, "QhEhkimS9dIeslGxxi6kSAJHY1IkHJo+QZcWQBa3xGI="),
    ] {
        let key = crate::verify::crypto::load_public_key(pem.as_bytes(), "k.pub").unwrap();
        assert_eq!(crate::sign::bundle::key_hint(&key.0.public_key_to_der().unwrap()), hint);
    }
}

/// `attach signature --new-bundle-format --payload` takes the statement or its exact DSSE
/// PAE; any other PAE is refused rather than reinterpreted.
#[test]
fn statement_or_its_pae_is_accepted_and_nothing_else() {
    use super::attach::statement_of;
    let st = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    assert_eq!(statement_of(st).unwrap(), st);
    let pae = bundle::signed_bytes(st);
    assert_eq!(statement_of(&pae).unwrap(), st);
    fn with(s: &str) -> Result<&[u8], String> {
        super::attach::statement_of(s.as_bytes())
    }
    assert!(with("DSSEv1 10 text/plain 2 {}").unwrap_err().contains("payload type"));
    assert!(with("DSSEv1 28 application/vnd.in-toto+json 3 {}").unwrap_err().contains("not the 3"));
    assert!(with("DSSEv1 28 application/vnd.in-toto+json 02 {}").unwrap_err().contains("malformed"));
    assert!(with("DSSEv1 28 application/vnd.in-toto+json 2{}").is_err());
    assert_eq!(with("DSSEv1 28 application/vnd.in-toto+json 2 {}").unwrap(), b"{}");
}

/// A chain file puts the bundle in the `x509CertificateChain` form with the leaf first and
/// every certificate of the file but the leaf and the (self-signed) root, as cosign's
/// `localCertChainProvider`; a chain of only the root leaves the leaf alone in that form.
#[test]
fn bundle_chain_form_drops_the_leaf_and_the_root() {
    let pki = generate_pki(KeyType::EcP256, "t", vec![], 1, 1_700_000_000).unwrap();
    let pem = |c: &openssl::x509::X509| String::from_utf8(c.to_pem().unwrap()).unwrap();
    let der = |c: &openssl::x509::X509| c.to_der().unwrap();
    let leaf = der(&pki.leaf);
    let chain = format!("{}{}{}", pem(&pki.leaf), pem(&pki.sub), pem(&pki.root));
    assert_eq!(bundle::bundle_intermediates(&leaf, &chain).unwrap(), vec![der(&pki.sub)]);
    let only_root = bundle::bundle_intermediates(&leaf, &pem(&pki.root)).unwrap();
    assert!(only_root.is_empty());
    let json = |intermediates: Option<&[Vec<u8>]>| -> serde_json::Value {
        let signer = bundle::BundleSigner::Certificate { der: &leaf, intermediates };
        serde_json::from_slice(&bundle::bundle_json(b"{}", b"sig", &signer)).unwrap()
    };
    let m = &json(Some(&only_root))["verificationMaterial"];
    assert_eq!(m["x509CertificateChain"]["certificates"].as_array().unwrap().len(), 1, "{m}");
    assert!(m.get("certificate").is_none());
    let m = &json(None)["verificationMaterial"];
    assert_eq!(m["certificate"]["rawBytes"], b64(&leaf), "{m}");
}
