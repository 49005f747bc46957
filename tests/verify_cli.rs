//! `sealift verify` end to end: real registry, real keys and certificates, real cosign
//! fixtures. Online against the registry, and offline against a saved bundle with the
//! registry process stopped (so any network use would fail the test). No fixture is made
//! by sealift: keys, certificates and signatures come from the `openssl` command line, the
//! payloads and `.sig` manifests from `support::cosign` (written from the format notes),
//! the rest from cosign itself (`tests/data/cosign-real`).

use std::path::Path;

use base64::Engine as _;
use sealift::oci::Digest;
use serde_json::Value;

use crate::support::cosign::{self, OpensslKey, OpensslPki};
use crate::support::{push_blob, push_manifest, random_image, sealift, tempdir, TestRegistry};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cosign-real");

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Signs `digest` (as `addr/repo`) with `openssl dgst` under `key`, over a payload written
/// from the format notes, and pushes the `.sig` manifest (written by the test too): nothing
/// of sealift's signing code is used. Returns the manifest bytes.
fn attach(addr: &str, repo: &str, digest: &Digest, key: &OpensslKey) -> Vec<u8> {
    cosign::push_sig(addr, repo, &cosign::sig_tag(digest, "sig"), &format!("{addr}/{repo}"), digest, key).manifest
}

/// [`attach`] with the PKI's leaf key, leaf certificate and chain.
fn attach_with_certificate(addr: &str, repo: &str, digest: &Digest, pki: &OpensslPki) -> Vec<u8> {
    let payload = cosign::payload(&format!("{addr}/{repo}"), digest);
    let (leaf, chain) = pki.leaf_and_chain();
    cosign::push_signed_payload(addr, repo, digest, &payload, &pki.sign(&payload), Some((&leaf, &chain))).manifest
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn text(out: &std::process::Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

/// Runs verify with `trust` flags on `target` (refs, or `--bundle FILE REF`), JSON output.
fn verify(trust: &[&str], target: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["verify", "--output", "json"];
    args.extend_from_slice(trust);
    args.extend_from_slice(target);
    let out = sealift(&args);
    let t = text(&out);
    let v = if out.stdout.is_empty() { Value::Null } else { json(&out) };
    (code(&out), v, t)
}

#[test]
fn key_and_certificate_signatures_online_then_offline_with_the_registry_stopped() {
    let reg = TestRegistry::start();
    let addr = reg.addr.clone();
    let dir = tempdir();
    let p = |n: &str| dir.path().join(n).display().to_string();
    // Keys and PKIs made by openssl: a signs, b is a stranger; a good PKI and an unrelated root.
    let a = OpensslKey::p256(dir.path(), "a");
    OpensslKey::p256(dir.path(), "b");
    let pki = OpensslPki::create(&dir.path().join("pki"), "signer", "email:signer@sealift.local");
    OpensslPki::create(&dir.path().join("other"), "stranger", "email:signer@sealift.local");

    let app = random_image(&addr, "team/app", "1.0", &[2000]);
    let sig_manifest = attach(&addr, "team/app", &app.digest, &a);
    // Image B carries A's signature manifest, copied byte for byte (its payload and config too).
    let moved = random_image(&addr, "team/moved", "1.0", &[100]);
    push_blob(&addr, "team/moved", &cosign::payload(&format!("{addr}/team/app"), &app.digest));
    push_blob(&addr, "team/moved", b"{}");
    push_manifest(&addr, "team/moved", &cosign::sig_tag(&moved.digest, "sig"), &sig_manifest, OCI_MANIFEST);
    // A certificate-signed image.
    let signed_cert = random_image(&addr, "team/cert", "1.0", &[100]);
    attach_with_certificate(&addr, "team/cert", &signed_cert.digest, &pki);

    let app_ref = format!("{addr}/team/app:1.0");
    let moved_ref = format!("{addr}/team/moved:1.0");
    let cert_ref = format!("{addr}/team/cert:1.0");
    let key_a = ["--key", &p("a.pub")].map(str::to_owned);
    let key_b = ["--key", &p("b.pub")].map(str::to_owned);
    let ca = p("pki/ca.crt");
    let other_ca = p("other/ca.crt");
    let cases: Vec<(&str, Vec<String>, String, i32, &str)> = vec![
        ("key", key_a.to_vec(), app_ref.clone(), 0, "verified"),
        ("wrong key", key_b.to_vec(), app_ref.clone(), 1, "does not verify over the payload"),
        ("moved signature", key_a.to_vec(), moved_ref.clone(), 1, "the payload signs"),
        (
            "root only + identity",
            vec!["--ca-roots".into(), ca.clone(), "--certificate-identity".into(), "signer@sealift.local".into()],
            cert_ref.clone(),
            0,
            "verified",
        ),
        (
            "wrong root",
            vec!["--ca-roots".into(), other_ca.clone(), "--certificate-identity".into(), "signer@sealift.local".into()],
            cert_ref.clone(),
            1,
            "certificate",
        ),
        (
            "wrong identity",
            vec!["--ca-roots".into(), ca.clone(), "--certificate-identity-regexp".into(), "^ops@".into()],
            cert_ref.clone(),
            1,
            "match no required identity",
        ),
    ];
    let check = |mode: &str, bundle: Option<&str>| {
        for (name, trust, reference, want, needle) in &cases {
            let trust: Vec<&str> = trust.iter().map(String::as_str).collect();
            let mut target = Vec::new();
            if let Some(b) = bundle {
                target.extend(["--bundle", b]);
            }
            target.push(reference.as_str());
            let (got, v, t) = verify(&trust, &target);
            assert_eq!(got, *want, "{mode} {name}: {t}");
            let img = &v["images"][0];
            assert_eq!(img["reference"], reference.as_str(), "{mode} {name}");
            let sig = &img["signatures"][0];
            let said = format!("{} {}", sig["verdict"], sig["reason"]);
            assert!(said.contains(needle), "{mode} {name}: {said}\n{t}");
            if *want == 0 {
                assert_eq!(sig["algorithm"], "ecdsa-p256-sha256", "{mode} {name}");
                assert_eq!(sig["time_source"], "now");
            }
        }
        // The certificate signature's report shows signer, chain and validity.
        let (_, v, _) = verify(
            &["--ca-roots", &ca, "--certificate-identity", "signer@sealift.local"],
            &bundle.map_or(vec![cert_ref.as_str()], |b| vec!["--bundle", b, cert_ref.as_str()]),
        );
        let sig = &v["images"][0]["signatures"][0];
        assert_eq!(sig["signer_kind"], "certificate");
        assert_eq!(sig["identity"][0], "signer@sealift.local");
        assert_eq!(sig["chain"].as_array().unwrap().len(), 3, "{sig}");
        assert_eq!(sig["chain"][2]["subject"], "CN=signer Root CA");
        assert_eq!(sig["chain"][0]["valid_at_trusted_time"], true);
    };
    check("online", None);

    // Text output names the verdict and reason too.
    let out = sealift(&["verify", "--key", &p("b.pub"), &app_ref]);
    assert_eq!(code(&out), 1);
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("REJECTED") && t.contains("does not verify"), "{t}");

    let bundle = p("bundle.tar");
    let out = sealift(&["save", "-o", &bundle, &app_ref, &moved_ref, &cert_ref]);
    assert!(out.status.success(), "{}", text(&out));
    drop(reg);
    assert!(std::net::TcpStream::connect(&addr).is_err(), "the registry must be gone");
    check("offline", Some(&bundle));
    // By digest, and every image at once.
    let (got, v, t) = verify(&key_a.each_ref().map(String::as_str), &["--bundle", &bundle, &app.digest.to_string()]);
    assert_eq!((got, v["images"][0]["passed"].as_bool()), (0, Some(true)), "{t}");
    let (got, v, _) = verify(&key_a.each_ref().map(String::as_str), &["--bundle", &bundle]);
    assert_eq!(got, 1);
    assert_eq!(v["images"].as_array().unwrap().len(), 3);
    assert_eq!(v["passed"], false);
    // An image not in the bundle: could not check.
    let (got, _, t) = verify(&key_a.each_ref().map(String::as_str), &["--bundle", &bundle, "reg.example/none:1"]);
    assert_eq!(got, 3, "{t}");
    // Online now fails to reach the registry: could not check, not "rejected".
    let (got, _, t) = verify(&key_a.each_ref().map(String::as_str), &[&app_ref]);
    assert_eq!(got, 3, "{t}");
}

fn fixture(p: &str) -> Vec<u8> {
    std::fs::read(Path::new(DATA).join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// One `cosign download signature` line from a containers-image signature directory.
fn download_line(sig_dir: &str, with_bundle: bool) -> String {
    let sig = String::from_utf8(fixture(&format!("{sig_dir}/signature.b64"))).unwrap();
    let bundle: Value = if with_bundle {
        serde_json::from_slice(&fixture(&format!("{sig_dir}/bundle.json"))).unwrap()
    } else {
        Value::Null
    };
    serde_json::json!({
        "Base64Signature": sig.trim(),
        "Payload": b64(&fixture(&format!("{sig_dir}/payload.bin"))),
        "Cert": null, "Chain": null, "Bundle": bundle, "RFC3161Timestamp": null,
    })
    .to_string()
}

#[test]
fn detached_signatures_in_cosign_download_format() {
    let dir = tempdir();
    let k1 = dir.path().join("k1.jsonl");
    let k3 = dir.path().join("k3.json");
    std::fs::write(&k1, format!("{}\n", download_line("containers-image/dir-img-cosign-valid/signature-1", false)))
        .unwrap();
    std::fs::write(
        &k3,
        format!("[{}]", download_line("containers-image/dir-img-cosign-key-rekor-valid/signature-1", true)),
    )
    .unwrap();
    let key = |n: &str| format!("{DATA}/containers-image/keys/{n}");
    let d_k1 = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";
    let d_k3 = "sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a";
    let k1s = k1.display().to_string();
    let k3s = k3.display().to_string();

    let (got, v, t) = verify(&["--key", &key("cosign.pub")], &["--signatures", &k1s, "--digest", d_k1]);
    assert_eq!(got, 0, "{t}");
    let sig = &v["images"][0]["signatures"][0];
    assert_eq!(sig["verdict"], "verified");
    assert_eq!(sig["algorithm"], "ecdsa-p256-sha256");
    assert_eq!(sig["signer_kind"], "key");
    assert_eq!(sig["format"], "legacy-sig");
    assert_eq!(sig["rekor"], "absent");
    assert_eq!(v["images"][0]["digest"], d_k1);

    // Wrong digest: the payload names another manifest.
    let (got, v, _) = verify(&["--key", &key("cosign.pub")], &["--signatures", &k1s, "--digest", d_k3]);
    assert_eq!(got, 1);
    assert!(v["images"][0]["signatures"][0]["reason"].as_str().unwrap().contains("the payload signs"));

    // K3 with its Rekor bundle: integratedTime is the trusted time.
    let (got, v, t) = verify(
        &["--key", &key("cosign2.pub"), "--rekor-key", &key("rekor.pub")],
        &["--signatures", &k3s, "--digest", d_k3],
    );
    assert_eq!(got, 0, "{t}");
    let sig = &v["images"][0]["signatures"][0];
    assert_eq!((sig["rekor"].as_str(), sig["time_source"].as_str()), (Some("verified"), Some("rekor")));
    assert_eq!(sig["rekor_log_index"], 11608800);
    assert_eq!(sig["trusted_time"], "2023-01-20T21:57:39+00:00");
    // The wrong Rekor key: the SET does not verify.
    let (got, v, _) = verify(
        &["--key", &key("cosign2.pub"), "--rekor-key", &key("cosign.pub")],
        &["--signatures", &k3s, "--digest", d_k3],
    );
    assert_eq!(got, 1);
    assert!(v["images"][0]["signatures"][0]["reason"].as_str().unwrap().contains("Rekor"), "{v}");

    // Usage errors exit 2 with the flag named.
    let out = sealift(&["verify", "--signatures", &k1s, "--digest", "sha256:nothex", "--key", &key("cosign.pub")]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let out = sealift(&["verify", "--signatures", &k1s, "--digest", d_k1, "--ca-roots", &key("cosign.pub")]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--certificate-identity"), "{}", text(&out));
    let out =
        sealift(&["verify", "--signatures", &k1s, "--digest", d_k1, "--policy", &k1s, "--key", &key("cosign.pub")]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--policy cannot be combined with --key"), "{}", text(&out));
    let out = sealift(&["verify", "--signatures", &k1s, "--digest", d_k1]);
    assert_eq!(code(&out), 2, "no trust at all: {}", text(&out));
}

#[test]
fn policy_file_drives_verify() {
    let dir = tempdir();
    let k1 = dir.path().join("k1.jsonl");
    std::fs::write(&k1, download_line("containers-image/dir-img-cosign-valid/signature-1", false)).unwrap();
    let keys = format!("{DATA}/containers-image/keys");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\n[[rule]]\nname = \"blocked\"\nrepositories = [\"reg.example/blocked/**\"]\nreject = true\n\
             [[rule]]\nname = \"pss only\"\nrepositories = [\"reg.example/pss/**\"]\nkeys = [\"{keys}/cosign.pub\"]\nalgorithms = [\"rsa-pss-sha512\"]\n\
             [[rule]]\nname = \"ok\"\nrepositories = [\"reg.example/**\"]\nkeys = [\"{keys}/cosign.pub\"]\n"
        ),
    )
    .unwrap();
    let d = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";
    let pol = policy.display().to_string();
    let k1s = k1.display().to_string();
    for (reference, want, rule, needle) in [
        ("reg.example/team/app", 0, "ok", ""),
        ("reg.example/blocked/app", 1, "blocked", "refuses"),
        ("reg.example/pss/app", 1, "pss only", "not allowed by policy"),
        ("other.example/app", 1, "", "no policy rule covers other.example/app"),
    ] {
        let (got, v, t) = verify(&["--policy", &pol], &["--signatures", &k1s, "--digest", d, reference]);
        assert_eq!(got, want, "{reference}: {t}");
        let img = &v["images"][0];
        assert_eq!(img["rule"].as_str().unwrap_or(""), rule, "{reference}");
        assert!(img["reasons"].to_string().contains(needle), "{reference}: {}", img["reasons"]);
    }
    std::fs::write(&policy, "version = 1\n[[rule]]\nrepositories = [\"**\"]\nreject = true\nbogus = 1\n").unwrap();
    let out = sealift(&["verify", "--policy", &pol, "--signatures", &k1s, "--digest", d]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"), "{}", text(&out));
}

/// A platform manifest of a saved index is not an `index.json` entry, but it and its own
/// `.sig` are in the bundle: verifying it offline by digest assesses it, under the index
/// entry's repository, instead of saying it is not in the bundle.
#[test]
fn offline_verify_of_a_platform_digest_of_a_saved_index() {
    use crate::save_load::{image, put};
    let reg = TestRegistry::start();
    let addr = reg.addr.clone();
    let dir = tempdir();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let key = OpensslKey::p256(dir.path(), "k1");
    let amd64 = image(&reg, "team/multi", None, &[crate::support::random_bytes(100)], false, "amd64");
    let arm64 = image(&reg, "team/multi", None, &[crate::support::random_bytes(100)], false, "arm64");
    let child = |m: &crate::save_load::Pushed, arch: &str| {
        serde_json::json!({"mediaType": m.media_type, "size": m.bytes.len(), "digest": m.digest.to_string(),
            "platform": {"architecture": arch, "os": "linux"}})
    };
    put(
        &reg,
        "team/multi",
        Some("1.0"),
        &serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [child(&amd64, "amd64"), child(&arm64, "arm64")]}),
    );
    attach(&addr, "team/multi", &arm64.digest, &key);
    let bundle = p("sealed.tar");
    let out = sealift(&["save", "-o", &bundle, &format!("{addr}/team/multi:1.0")]);
    assert!(out.status.success(), "{}", text(&out));
    drop(reg);

    let trust = ["--key", &p("k1.pub")];
    let arm_ref = format!("{addr}/team/multi@{}", arm64.digest);
    for wanted in [arm_ref.clone(), arm64.digest.to_string()] {
        let (got, v, t) = verify(&trust, &["--bundle", &bundle, &wanted]);
        assert_eq!(got, 0, "{wanted}: {t}");
        let img = &v["images"][0];
        assert_eq!((img["passed"].as_bool(), img["reference"].as_str()), (Some(true), Some(arm_ref.as_str())), "{t}");
        assert_eq!(img["digest"], arm64.digest.to_string());
        assert_eq!(img["signatures"][0]["verdict"], "verified", "{t}");
    }
    // The unsigned sibling is assessed (and rejected), not "not an image of".
    let (got, v, t) = verify(&trust, &["--bundle", &bundle, &format!("{addr}/team/multi@{}", amd64.digest)]);
    assert_eq!((got, v["images"][0]["passed"].as_bool()), (1, Some(false)), "{t}");
    // The child digest under another repository, or a digest the bundle lacks: could not check.
    let (got, _, t) = verify(&trust, &["--bundle", &bundle, &format!("{addr}/team/other@{}", arm64.digest)]);
    assert_eq!(got, 3, "{t}");
    let (got, _, t) = verify(&trust, &["--bundle", &bundle, &Digest::of(b"absent").to_string()]);
    assert_eq!(got, 3, "{t}");
}

/// `verify` online and `verify --bundle` offline (the source registry gone) of images whose
/// signatures were made by `openssl dgst` over payloads the test wrote (the shared World):
/// sealift's verifier against an independent signer.
#[test]
fn signatures_sealift_did_not_make_verify_online_and_offline() {
    let w = crate::save_load::World::new();
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    crate::support::ok_all(&w.save(&bundle, &[]));
    let public = dir.path().join("world.pub");
    std::fs::copy(w.key.public_path(), &public).unwrap();
    let key = public.to_str().unwrap();
    let refs = w.refs();
    let (c, v, t) = verify(&["--key", key], &refs.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(c, 0, "online: {t}");
    assert!(v.to_string().matches(r#""verdict":"verified""#).count() >= 3, "{v:#}");
    let addr = w.src.addr.clone();
    drop(w);
    assert!(std::net::TcpStream::connect(&addr).is_err(), "the source registry must be gone");
    let (c, _, t) = verify(
        &["--key", key, "--bundle", bundle.to_str().unwrap()],
        &refs.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(c, 0, "offline: {t}");
    // The control: another key verifies nothing.
    let other = crate::support::cosign::OpensslKey::p256(dir.path(), "other");
    let (c, _, t) = verify(
        &["--key", other.public_path(), "--bundle", bundle.to_str().unwrap()],
        &refs.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(c, 1, "{t}");
}
