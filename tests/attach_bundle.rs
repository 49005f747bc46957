//! `sealift attach signature` in cosign v3's bundle form, with signatures made by the
//! `openssl` command line (the proof of concept's external-signing flow), on both kinds of
//! registry: `generate --new-bundle-format` prints the DSSE PAE bytes, openssl signs them,
//! `attach signature --new-bundle-format` writes the bundle (leaf and intermediate, or the
//! key's hint); `--bundle FILE` attaches a whole bundle that this test writes by hand from
//! the protobuf-specs field names (cosign's `attach signature --bundle`). Each lands as an
//! OCI 1.1 referrer that `verify`, `save` and `load` carry and verify. A signature by
//! another key, a statement of another image and a bundle without a key to check it are
//! refused at attach, and nothing is pushed.

use std::process::{Command, Output};

use base64::Engine as _;
use sealift::oci::Digest;
use serde_json::Value;

use crate::referrers_api::{api_referrers, tag_index_referrers};
use crate::support::cosign::{OpensslKey, OpensslPki};
use crate::support::{ok_all, random_image, run, sealift, tempdir, Presence, Raw, RegistryKind, TestRegistry};

const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const VERIFIED: &str = "[sigstore-bundle]: verified";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap()
}

fn referrers(reg: &TestRegistry, kind: RegistryKind, repo: &str, subject: &Digest) -> Vec<(String, String)> {
    if kind.has_referrers_api() {
        api_referrers(reg, repo, subject)
    } else {
        tag_index_referrers(reg, repo, subject)
    }
}

/// The referrer manifest `digest` and the bundle in its one layer.
fn referrer(reg: &TestRegistry, repo: &str, digest: &str) -> (Vec<u8>, Vec<u8>) {
    let Presence::Present(m) = reg.manifest(repo, digest) else { panic!("{repo}@{digest} is missing") };
    let v: Value = serde_json::from_slice(&m).unwrap();
    let layer = v["layers"][0]["digest"].as_str().unwrap();
    let r = Raw::new(&reg.addr).expect(&[200], "GET", &format!("/v2/{repo}/blobs/{layer}"), &[], b"");
    (m, r.body)
}

fn openssl_sign_file(dir: &std::path::Path, key: &str, input: &str, out: &str) {
    let o =
        run(Command::new("openssl").args(["dgst", "-sha256", "-sign", key, "-out", out, input]).current_dir(dir), b"");
    assert!(o.status.success(), "openssl: {}", String::from_utf8_lossy(&o.stderr));
}

fn der_of(pem: &str) -> Vec<u8> {
    let o = run(Command::new("openssl").args(["x509", "-in", pem, "-outform", "DER"]), b"");
    assert!(o.status.success());
    o.stdout
}

/// cosign v3's statement for `digest`, as the real fixture (B1) spells it, written here.
fn statement(digest: &Digest) -> Vec<u8> {
    format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{}"}},"annotations":{{}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1"}}"#,
        digest.hex()
    )
    .into_bytes()
}

fn pae(statement: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 28 application/vnd.in-toto+json {} ", statement.len()).into_bytes();
    out.extend_from_slice(statement);
    out
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn attach_and_carry(kind: RegistryKind) {
    let dir = tempdir();
    let d = dir.path();
    let key = OpensslKey::p256(d, "signer");
    let reg = TestRegistry::start_kind(kind);
    let img = random_image(&reg.addr, "team/app", "1.0", &[2000]);
    let reference = format!("{}/team/app:1.0", reg.addr);

    // generate prints the PAE of cosign's statement; openssl signs exactly those bytes.
    let generated = ok_all(&sealift(&["generate", &reference, "--new-bundle-format"]));
    assert_eq!(generated.as_bytes(), pae(&statement(&img.digest)), "generate --new-bundle-format");
    std::fs::write(d.join("pae.bin"), &generated).unwrap();
    openssl_sign_file(d, key.private.to_str().unwrap(), "pae.bin", "sig.der");
    let attach_parts = |sig: &str| {
        sealift(&[
            "attach",
            "signature",
            &reference,
            "--new-bundle-format",
            "--payload",
            d.join("pae.bin").to_str().unwrap(),
            "--signature",
            d.join(sig).to_str().unwrap(),
            "--key",
            key.public_path(),
        ])
    };

    // A signature by another key is refused at attach: exit 1, nothing pushed.
    let other = OpensslKey::p256(d, "other");
    openssl_sign_file(d, other.private.to_str().unwrap(), "pae.bin", "other.der");
    let out = attach_parts("other.der");
    assert_eq!(code(&out), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));
    if kind.has_referrers_api() {
        assert!(api_referrers(&reg, "team/app", &img.digest).is_empty());
    } else {
        reg.assert_absent("team/app", &img.digest.tag_prefix(), "nothing was attached");
    }

    ok_all(&attach_parts("sig.der"));
    let listed = referrers(&reg, kind, "team/app", &img.digest);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].1, BUNDLE_V03);
    if kind.has_referrers_api() {
        reg.assert_absent("team/app", &img.digest.tag_prefix(), "the registry has the referrers API");
    }
    let (m_bytes, bundle) = referrer(&reg, "team/app", &listed[0].0);
    let m: Value = serde_json::from_slice(&m_bytes).unwrap();
    assert_eq!(m["subject"]["digest"], img.digest.to_string());
    assert_eq!(m["annotations"]["dev.sigstore.bundle.content"], "dsse-envelope");
    let b: Value = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(b["mediaType"], BUNDLE_V03);
    assert_eq!(unb64(&b["dsseEnvelope"]["payload"]), statement(&img.digest), "the statement, byte for byte");
    assert_eq!(unb64(&b["dsseEnvelope"]["signatures"][0]["sig"]), std::fs::read(d.join("sig.der")).unwrap());
    // The key hint, computed here with the openssl command line.
    let spki = run(Command::new("openssl").args(["pkey", "-pubin", "-in", key.public_path(), "-outform", "DER"]), b"");
    let hint = b64(&openssl::sha::sha256(&spki.stdout));
    assert_eq!(b["verificationMaterial"]["publicKey"]["hint"], hint.as_str(), "{b:#}");

    // verify online, save, verify the bundle, load into the other registry, verify there.
    crate::sign_bundle::verified_through_save_and_load(d, kind, &reference, &key, &listed[0].0, &m_bytes);
    let out = sealift(&["verify", &reference, "--key", other.public_path()]);
    assert_eq!(code(&out), Some(1), "another key does not verify it");
}

#[test]
fn attached_bundle_signature_round_trips_on_distribution() {
    attach_and_carry(RegistryKind::Distribution);
}

#[test]
fn attached_bundle_signature_round_trips_on_ferro() {
    attach_and_carry(RegistryKind::Ferro);
}

/// A private PKI made by openssl: the statement (not its PAE) as `--payload`, the leaf
/// and the chain; then a whole bundle file through `--bundle`, and through `--payload`
/// (cosign's detection). Both verify under the root and intermediate.
#[test]
fn attach_with_a_certificate_chain_and_whole_bundle_files() {
    let dir = tempdir();
    let d = dir.path();
    let pki = OpensslPki::create(&d.join("pki"), "Attach", "email:release@example.com");
    let reg = TestRegistry::start_kind(RegistryKind::Ferro);
    let img = random_image(&reg.addr, "poc/app", "1.0", &[700]);
    let reference = format!("{}/poc/app:1.0", reg.addr);
    // generate pinned by digest needs no network; -a goes into the statement's subject.
    let pinned = format!("{}/poc/app@{}", reg.addr, img.digest);
    let annotated = ok_all(&sealift(&["generate", &pinned, "--new-bundle-format", "-a", "k=v"]));
    let st_a =
        String::from_utf8(statement(&img.digest)).unwrap().replace(r#""annotations":{}"#, r#""annotations":{"k":"v"}"#);
    assert_eq!(annotated.as_bytes(), pae(st_a.as_bytes()));
    let st = statement(&img.digest);
    std::fs::write(d.join("statement.json"), &st).unwrap();
    std::fs::write(d.join("pae.bin"), pae(&st)).unwrap();
    openssl_sign_file(d, &pki.path("leaf.key"), "pae.bin", "sig.der");
    ok_all(&sealift(&[
        "attach",
        "signature",
        &reference,
        "--new-bundle-format",
        "--payload",
        d.join("statement.json").to_str().unwrap(),
        "--signature",
        d.join("sig.der").to_str().unwrap(),
        "--certificate",
        &pki.path("leaf.crt"),
        "--certificate-chain",
        &pki.path("certificate_chain.pem"),
    ]));
    let listed = api_referrers(&reg, "poc/app", &img.digest);
    assert_eq!(listed.len(), 1);
    let (_, bundle) = referrer(&reg, "poc/app", &listed[0].0);
    let b: Value = serde_json::from_slice(&bundle).unwrap();
    let certs: Vec<Vec<u8>> = b["verificationMaterial"]["x509CertificateChain"]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| unb64(&c["rawBytes"]))
        .collect();
    assert_eq!(certs, vec![der_of(&pki.path("leaf.crt")), der_of(&pki.path("sub.crt"))], "leaf, intermediate, no root");

    // A whole bundle, written here: the leaf alone, the same signature.
    let sig = std::fs::read(d.join("sig.der")).unwrap();
    let whole = format!(
        r#"{{"mediaType":"{BUNDLE_V03}","verificationMaterial":{{"certificate":{{"rawBytes":"{}"}}}},"dsseEnvelope":{{"payload":"{}","payloadType":"application/vnd.in-toto+json","signatures":[{{"sig":"{}"}}]}}}}"#,
        b64(&der_of(&pki.path("leaf.crt"))),
        b64(&st),
        b64(&sig)
    );
    std::fs::write(d.join("whole.json"), format!("{whole}\n")).unwrap();
    ok_all(&sealift(&["attach", "signature", &reference, "--bundle", d.join("whole.json").to_str().unwrap()]));
    let listed = api_referrers(&reg, "poc/app", &img.digest);
    assert_eq!(listed.len(), 2);
    let stored: Vec<Vec<u8>> = listed.iter().map(|(m, _)| referrer(&reg, "poc/app", m).1).collect();
    assert!(stored.contains(&format!("{whole}\n").into_bytes()), "the bundle file is stored byte for byte");

    let verify = || {
        sealift(&[
            "verify",
            &reference,
            "--ca-roots",
            &pki.path("ca.crt"),
            "--ca-intermediates",
            &pki.path("sub.crt"),
            "--certificate-identity",
            "release@example.com",
            "--certificate-oidc-issuer-regexp",
            ".*",
            "--private-infrastructure",
        ])
    };
    let text = ok_all(&verify());
    assert_eq!(text.matches(VERIFIED).count(), 2, "{text}");

    // Refused at attach, nothing pushed: a bundle of another image (through --payload,
    // cosign's detection), and a tampered signature.
    let other = random_image(&reg.addr, "poc/app", "2.0", &[300]);
    let out = sealift(&[
        "attach",
        "signature",
        &format!("{}/poc/app:2.0", reg.addr),
        "--payload",
        d.join("whole.json").to_str().unwrap(),
    ]);
    assert_eq!(code(&out), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("whole.json"), "names the file");
    assert!(api_referrers(&reg, "poc/app", &other.digest).is_empty());
    let mut bad_sig = sig.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 1;
    std::fs::write(d.join("bad.json"), whole.replace(&b64(&sig), &b64(&bad_sig))).unwrap();
    let out = sealift(&["attach", "signature", &reference, "--bundle", d.join("bad.json").to_str().unwrap()]);
    assert_eq!(code(&out), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(api_referrers(&reg, "poc/app", &img.digest).len(), 2, "nothing more attached");

    // A bundle naming its key by hint only needs --key to be checked: a usage error.
    let hinted = format!(
        r#"{{"mediaType":"{BUNDLE_V03}","verificationMaterial":{{"publicKey":{{"hint":"x"}}}},"dsseEnvelope":{{"payload":"{}","payloadType":"application/vnd.in-toto+json","signatures":[{{"sig":"{}"}}]}}}}"#,
        b64(&st),
        b64(&sig)
    );
    std::fs::write(d.join("hinted.json"), hinted).unwrap();
    let out = sealift(&["attach", "signature", &reference, "--bundle", d.join("hinted.json").to_str().unwrap()]);
    assert_eq!(code(&out), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
