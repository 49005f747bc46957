//! `sealift sign --new-bundle-format`: cosign v3's Sigstore bundle referrer, on both kinds
//! of registry. The statement is byte for byte the shape of the real cosign v3 fixture
//! (B1) for this image, the DSSE signature verifies with `openssl` over the PAE bytes, the
//! manifest has cosign's artifactType, config, annotations and subject, and `verify`,
//! `save` and `load` carry and verify it (the tag-schema index only without the API).

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use sealift::oci::Digest;
use serde_json::Value;

use crate::referrers_api::{api_referrers, tag_index_referrers};
use crate::support::cosign::OpensslKey;
use crate::support::{ok_all, random_image, run, sealift, tempdir, Presence, Raw, RegistryKind, TestRegistry};

const B1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cosign-real/sigstore-rs/bundle-v03/bundle_v03.json");
const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

fn b64(s: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s.as_str().unwrap()).unwrap()
}

fn manifest(reg: &TestRegistry, repo: &str, reference: &str) -> Vec<u8> {
    match reg.manifest(repo, reference) {
        Presence::Present(b) => b,
        Presence::Absent => panic!("{repo}@{reference} is missing"),
    }
}

/// `verify` with `key` finds the Sigstore bundle referrer of `reference` (an image of
/// `team/app`, tag `1.0`) and verifies it online; `save` carries it into a bundle that
/// `verify --bundle` verifies; `load` pushes it to a fresh registry of `kind`, where the
/// referrer manifest `referrer` is `m_bytes` byte for byte and verifies again.
pub fn verified_through_save_and_load(
    dir: &Path,
    kind: RegistryKind,
    reference: &str,
    key: &OpensslKey,
    referrer: &str,
    m_bytes: &[u8],
) {
    let verified = |args: &[&str]| {
        let text = ok_all(&sealift(args));
        assert!(text.contains("[sigstore-bundle]: verified"), "{args:?}: {text}");
    };
    verified(&["verify", reference, "--key", key.public_path()]);
    let tar = dir.join("b.tar");
    ok_all(&sealift(&["save", reference, "-o", tar.to_str().unwrap()]));
    verified(&["verify", "--bundle", tar.to_str().unwrap(), "--key", key.public_path()]);
    let dst = TestRegistry::start_kind(kind);
    ok_all(&sealift(&["load", tar.to_str().unwrap(), "--to", &dst.addr, "--key", key.public_path()]));
    dst.assert_present("team/app", referrer, m_bytes);
    verified(&["verify", &format!("{}/team/app:1.0", dst.addr), "--key", key.public_path()]);
}

fn sign_and_carry(kind: RegistryKind) {
    let dir = tempdir();
    let key = OpensslKey::p256(dir.path(), "signer");
    let reg = TestRegistry::start_kind(kind);
    let img = random_image(&reg.addr, "team/app", "1.0", &[3000]);
    let reference = format!("{}/team/app:1.0", reg.addr);
    ok_all(&sealift(&["sign", &reference, "--key", key.private.to_str().unwrap(), "--new-bundle-format"]));

    // The referrer, where a client finds it.
    let listed = if kind.has_referrers_api() {
        reg.assert_absent("team/app", &img.digest.tag_prefix(), "the registry has the referrers API");
        api_referrers(&reg, "team/app", &img.digest)
    } else {
        tag_index_referrers(&reg, "team/app", &img.digest)
    };
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].1, BUNDLE_V03);
    let m_bytes = manifest(&reg, "team/app", &listed[0].0);
    let m: Value = serde_json::from_slice(&m_bytes).unwrap();
    assert_eq!(m["artifactType"], BUNDLE_V03);
    assert_eq!(m["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
    assert_eq!(m["config"]["digest"], Digest::of(b"{}").to_string());
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    assert_eq!(m["layers"][0]["mediaType"], BUNDLE_V03);
    assert_eq!(m["subject"]["digest"], img.digest.to_string());
    assert_eq!(m["subject"]["size"], img.manifest.len());
    assert_eq!(m["annotations"]["dev.sigstore.bundle.content"], "dsse-envelope");
    assert_eq!(m["annotations"]["dev.sigstore.bundle.predicateType"], "https://sigstore.dev/cosign/sign/v1");
    assert!(m["annotations"]["org.opencontainers.image.created"].as_str().unwrap().ends_with('Z'));

    // The bundle: B1's statement bytes with this image's digest, a DSSE signature openssl
    // verifies over PAE, the key's hint, no tlog entry.
    let layer: Digest = m["layers"][0]["digest"].as_str().unwrap().parse().unwrap();
    let r = Raw::new(&reg.addr).expect(&[200], "GET", &format!("/v2/team/app/blobs/{layer}"), &[], b"");
    let bundle: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(bundle["mediaType"], BUNDLE_V03);
    let b1: Value = serde_json::from_slice(&std::fs::read(B1).unwrap()).unwrap();
    let b1_statement = String::from_utf8(b64(&b1["dsseEnvelope"]["payload"])).unwrap();
    let b1_hex = "c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
    let statement = b64(&bundle["dsseEnvelope"]["payload"]);
    assert_eq!(String::from_utf8(statement.clone()).unwrap(), b1_statement.replace(b1_hex, img.digest.hex()));
    assert_eq!(bundle["dsseEnvelope"]["payloadType"], b1["dsseEnvelope"]["payloadType"]);
    let mut pae = format!("DSSEv1 28 application/vnd.in-toto+json {} ", statement.len()).into_bytes();
    pae.extend_from_slice(&statement);
    std::fs::write(dir.path().join("pae.bin"), &pae).unwrap();
    std::fs::write(dir.path().join("sig.der"), b64(&bundle["dsseEnvelope"]["signatures"][0]["sig"])).unwrap();
    let o = run(
        Command::new("openssl")
            .args(["dgst", "-sha256", "-verify", key.public_path(), "-signature", "sig.der", "pae.bin"])
            .current_dir(dir.path()),
        b"",
    );
    assert!(o.status.success(), "openssl does not verify the DSSE signature: {}", String::from_utf8_lossy(&o.stdout));
    assert!(bundle["verificationMaterial"]["publicKey"]["hint"].is_string(), "{bundle:#}");
    assert!(bundle["verificationMaterial"].get("tlogEntries").is_none(), "{bundle:#}");

    verified_through_save_and_load(dir.path(), kind, &reference, &key, &listed[0].0, &m_bytes);
    // The control: another key does not verify it.
    let other = OpensslKey::p256(dir.path(), "other");
    let out = sealift(&["verify", &reference, "--key", other.public_path()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn new_bundle_format_signature_round_trips_on_distribution() {
    sign_and_carry(RegistryKind::Distribution);
}

#[test]
fn new_bundle_format_signature_round_trips_on_ferro() {
    sign_and_carry(RegistryKind::Ferro);
}

/// A certificate-signed bundle (private PKI, no transparency log): the verifier names the
/// intermediate (`--ca-intermediates`), as for cosign, whether the bundle carries the leaf
/// alone (`certificate`) or, with `--certificate-chain`, leaf and intermediate.
#[test]
fn new_bundle_format_with_a_certificate_verifies_under_the_private_roots() {
    let dir = tempdir();
    let pki = dir.path().join("pki");
    ok_all(&sealift(&["certs", "create", "--out", pki.to_str().unwrap(), "--san", "email:ci@example.com"]));
    let p = |f: &str| pki.join(f).to_str().unwrap().to_owned();
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "team/app", "1.0", &[1000]);
    let reference = format!("{}/team/app:1.0", reg.addr);
    let (key, cert, chain) = (p("leaf.key"), p("leaf.crt"), p("certificate_chain.pem"));
    let sign = |extra: &[&str]| {
        let mut args = vec!["sign", &reference, "--key", &key, "--certificate", &cert];
        args.extend_from_slice(extra);
        args.push("--new-bundle-format");
        ok_all(&sealift(&args));
    };
    sign(&[]);
    let verify = |intermediates: bool, identity: &str| {
        let (ca, sub) = (p("ca.crt"), p("sub.crt"));
        let mut args = vec!["verify", &reference, "--ca-roots", &ca];
        if intermediates {
            args.extend(["--ca-intermediates", &sub]);
        }
        args.extend(["--certificate-identity", identity, "--certificate-oidc-issuer-regexp", ".*"]);
        args.push("--private-infrastructure");
        sealift(&args)
    };
    let text = ok_all(&verify(true, "ci@example.com"));
    assert!(text.contains("[sigstore-bundle]: verified"), "{text}");
    assert_eq!(verify(true, "someone@example.com").status.code(), Some(1), "another identity");
    assert_eq!(verify(false, "ci@example.com").status.code(), Some(1), "the leaf alone does not chain to the root");
    // With the chain file: the bundle carries leaf then intermediate in
    // x509CertificateChain, without the root, as cosign (sigstore/cosign#4614) writes it;
    // the verifier still takes intermediates from its own configuration (sigstore-go).
    sign(&["--certificate-chain", &chain]);
    let listed = tag_index_referrers(&reg, "team/app", &img.digest);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let with_chain: Vec<Value> = listed
        .iter()
        .map(|(d, _)| referrer_bundle(&reg, "team/app", d))
        .filter(|b| b["verificationMaterial"].get("x509CertificateChain").is_some())
        .collect();
    assert_eq!(with_chain.len(), 1, "one bundle has the chain form");
    let material = &with_chain[0]["verificationMaterial"];
    assert!(material.get("certificate").is_none(), "{material:#}");
    let certs: Vec<Vec<u8>> = material["x509CertificateChain"]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| b64(&c["rawBytes"]))
        .collect();
    let der = |f: &str| {
        let o = run(Command::new("openssl").args(["x509", "-in", &p(f), "-outform", "DER"]), b"");
        assert!(o.status.success());
        o.stdout
    };
    assert_eq!(certs, vec![der("leaf.crt"), der("sub.crt")], "leaf then intermediate, no root");
    let text = ok_all(&verify(true, "ci@example.com"));
    assert_eq!(text.matches("[sigstore-bundle]: verified").count(), 2, "{text}");

    // A chain that does not validate the leaf (another PKI's) is refused before signing
    // in the bundle form, as cosign's `TrustedCert` check refuses it; the legacy form
    // still writes it (the verify tests need such signatures), for verify to refuse.
    let other = dir.path().join("other");
    ok_all(&sealift(&["certs", "create", "--out", other.to_str().unwrap()]));
    let other_chain = other.join("certificate_chain.pem");
    let (leaf_key, leaf_crt) = (p("leaf.key"), p("leaf.crt"));
    let args = |bundle_form: bool| {
        let mut args = vec!["sign", &reference, "--key", &leaf_key, "--certificate", &leaf_crt, "--certificate-chain"];
        args.push(other_chain.to_str().unwrap());
        if bundle_form {
            args.push("--new-bundle-format");
        }
        args
    };
    let out = sealift(&args(true));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("does not chain to the root of") && err.contains("other"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    ok_all(&sealift(&args(false)));
    assert_eq!(tag_index_referrers(&reg, "team/app", &img.digest).len(), 2, "nothing more was pushed");
}

/// The bundle of the referrer manifest `digest`.
fn referrer_bundle(reg: &TestRegistry, repo: &str, digest: &str) -> Value {
    let m: Value = serde_json::from_slice(&manifest(reg, repo, digest)).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let r = Raw::new(&reg.addr).expect(&[200], "GET", &format!("/v2/{repo}/blobs/{layer}"), &[], b"");
    serde_json::from_slice(&r.body).unwrap()
}

/// `-a KEY=VALUE` in the bundle form: in the statement's subject `annotations`, where
/// cosign v3's `signDigestBundle` puts them (keys sorted, as protojson writes a Struct),
/// covered by the signature; nothing on the referrer manifest.
#[test]
fn new_bundle_format_annotations_go_into_the_statement_subject() {
    let dir = tempdir();
    let key = OpensslKey::p256(dir.path(), "signer");
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "team/app", "1.0", &[1000]);
    let reference = format!("{}/team/app:1.0", reg.addr);
    let k = key.private.to_str().unwrap();
    ok_all(&sealift(&["sign", &reference, "--key", k, "--new-bundle-format", "-a", "team=sec", "-a", "build=7"]));
    let listed = tag_index_referrers(&reg, "team/app", &img.digest);
    let bundle = referrer_bundle(&reg, "team/app", &listed[0].0);
    let statement = String::from_utf8(b64(&bundle["dsseEnvelope"]["payload"])).unwrap();
    let expected = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{}"}},"annotations":{{"build":"7","team":"sec"}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1"}}"#,
        img.digest.hex()
    );
    assert_eq!(statement, expected);
    let m: Value = serde_json::from_slice(&manifest(&reg, "team/app", &listed[0].0)).unwrap();
    assert!(m["annotations"].get("team").is_none(), "{m:#}");
    let text = ok_all(&sealift(&["verify", &reference, "--key", key.public_path()]));
    assert!(text.contains("[sigstore-bundle]: verified"), "{text}");
}
