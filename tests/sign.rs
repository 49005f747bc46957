//! `sealift certs create`, `generate`, `sign` and `attach signature` end to end against a
//! real registry, checked with the OpenSSL command line, skopeo, and sealift's *library*
//! verifier (the `verify` command is tested on its own).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use sealift::cosign::{signatures_from_sig_manifest_map, simple_signing_payload};
use sealift::oci::{media, Digest};
use sealift::verify::crypto::load_certificates;
use sealift::verify::{
    verify_signature, IdentityMatcher, SignatureAlgorithm, SignatureReport, StringMatch, TrustAnchor, TrustPolicy,
};
use serde_json::Value;

use crate::support::{ok, random_image, sealift, sealift_with, skopeo_inspect_raw, tempdir, Raw, TestRegistry};

/// Asserts success and returns stderr, where status lines go (stdout carries only data).
fn ok_status(out: &Output) -> String {
    ok(out);
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Asserts exit code `code` and a stderr naming `needle`; returns stderr.
fn fails(out: &Output, code: i32, needle: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "stderr does not name {needle:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "error is not one line: {err}");
    err
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = crate::support::run(Command::new("openssl").args(args).current_dir(dir), b"");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn certs(dir: &Path, key_type: &str, san: &str) {
    let d = dir.to_str().unwrap();
    ok(&sealift(&["certs", "create", "--out", d, "--key-type", key_type, "--san", san, "--days", "2"]));
}

fn sig_tag(d: &Digest) -> String {
    format!("sha256-{}.sig", d.hex())
}

/// The `.sig` manifest bytes as skopeo sees them.
fn sig_manifest(addr: &str, repo: &str, image: &Digest) -> Vec<u8> {
    skopeo_inspect_raw(&format!("{addr}/{repo}:{}", sig_tag(image)))
}

/// Whether `repo` has a manifest under `tag` (GET with every manifest type accepted).
fn has_tag(addr: &str, repo: &str, tag: &str) -> bool {
    let accept = media::MANIFEST_TYPES.join(", ");
    let r = Raw::new(addr).request("GET", &format!("/v2/{repo}/manifests/{tag}"), &[("Accept", &accept)], b"");
    match r.status {
        200 => true,
        404 => false,
        s => panic!("GET manifest {tag}: status {s}"),
    }
}

/// Verifies every signature of the image's `.sig` manifest with the library verifier,
/// trusting only `ca.crt` and requiring `identity`.
fn verify_all(addr: &str, repo: &str, image: &Digest, ca: &Path, identity: &str) -> (Value, Vec<SignatureReport>) {
    let manifest = sig_manifest(addr, repo, image);
    let parsed: Value = serde_json::from_slice(&manifest).unwrap();
    let mut blobs = BTreeMap::new();
    for l in parsed["layers"].as_array().unwrap() {
        let d: Digest = l["digest"].as_str().unwrap().parse().unwrap();
        let r = Raw::new(addr).expect(&[200], "GET", &format!("/v2/{repo}/blobs/{d}"), &[], b"");
        assert_eq!(Digest::of(&r.body), d);
        blobs.insert(d, r.body);
    }
    let sigs = signatures_from_sig_manifest_map(&manifest, &blobs).unwrap();
    let mut policy = TrustPolicy::new(chrono::Utc::now());
    policy.roots =
        load_certificates(&std::fs::read(ca).unwrap(), "ca.crt").unwrap().into_iter().map(TrustAnchor::from).collect();
    policy.identities = vec![IdentityMatcher { san: StringMatch::Exact(identity.into()), issuer: None }];
    let reports = sigs.signatures.iter().map(|s| verify_signature(&policy, s, image)).collect();
    (parsed, reports)
}

fn assert_verified(r: &SignatureReport, alg: SignatureAlgorithm) {
    assert!(r.is_verified(), "not verified: {:?}", r.verdict);
    assert_eq!(r.algorithm, Some(alg));
}

/// The proof of concept's flow: certificates, payload, `openssl dgst` (PKCS#1 SHA-256 as
/// wrapped base64, then RSA-PSS SHA-512 as raw DER), attach with certificate and chain,
/// verified with only the root CA.
#[test]
fn proof_of_concept_flow_with_openssl_verifies_with_only_the_root() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "poc/app", "1.0", &[512]);
    let dir = tempdir();
    let d = dir.path();
    certs(d, "rsa-3072", "email:release@example.com");
    let reference = format!("{}/poc/app:1.0", reg.addr);
    let payload = ok(&sealift(&["generate", &reference]));
    std::fs::write(d.join("payload.json"), &payload).unwrap();

    openssl(d, &["dgst", "-sha256", "-sign", "leaf.key", "-out", "sig.bin", "payload.json"]);
    let b64 = openssl(d, &["base64", "-in", "sig.bin"]).stdout;
    assert!(b64.iter().filter(|&&c| c == b'\n').count() > 1, "expected a wrapped base64 file");
    std::fs::write(d.join("sig.b64"), b64).unwrap();
    let attach = |sig: &str| {
        sealift(&[
            "attach",
            "signature",
            &reference,
            "--payload",
            d.join("payload.json").to_str().unwrap(),
            "--signature",
            d.join(sig).to_str().unwrap(),
            "--certificate",
            d.join("leaf.crt").to_str().unwrap(),
            "--certificate-chain",
            d.join("certificate_chain.pem").to_str().unwrap(),
        ])
    };
    let out = ok_status(&attach("sig.b64"));
    assert!(out.contains(&img.digest.to_string()) && out.contains("rsa-pkcs1-sha256"), "{out}");

    openssl(
        d,
        &[
            "dgst",
            "-sha512",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:-1",
            "-sign",
            "leaf.key",
            "-out",
            "pss.der",
            "payload.json",
        ],
    );
    ok(&attach("pss.der"));

    let (manifest, reports) = verify_all(&reg.addr, "poc/app", &img.digest, &d.join("ca.crt"), "release@example.com");
    assert_eq!(reports.len(), 2);
    assert_verified(&reports[0], SignatureAlgorithm::RsaPkcs1Sha256);
    assert_verified(&reports[1], SignatureAlgorithm::RsaPssSha512);
    let layer = &manifest["layers"][0];
    assert_eq!(layer["annotations"][media::ANN_CERTIFICATE], std::fs::read_to_string(d.join("leaf.crt")).unwrap());
    assert_eq!(
        layer["annotations"][media::ANN_CHAIN],
        std::fs::read_to_string(d.join("certificate_chain.pem")).unwrap()
    );
    assert_eq!(manifest["mediaType"], media::OCI_MANIFEST);
    // The stored payload is the generated one, byte for byte.
    assert_eq!(layer["digest"], Digest::of(payload.as_bytes()).to_string());
}

/// `sealift sign` with every key type (and RSA-PSS SHA-512 on request), from a tag; the
/// library verifier accepts each with the scheme the key implies.
#[test]
fn sign_with_each_key_type_verifies() {
    let reg = TestRegistry::start();
    let cases = [
        ("ec-p256", None, SignatureAlgorithm::EcdsaP256Sha256),
        ("ec-p384", None, SignatureAlgorithm::EcdsaP384Sha384),
        ("rsa-2048", None, SignatureAlgorithm::RsaPkcs1Sha256),
        ("rsa-2048", Some("rsa-pss-sha512"), SignatureAlgorithm::RsaPssSha512),
        ("ed25519", None, SignatureAlgorithm::Ed25519),
    ];
    for (i, (kt, alg, expected)) in cases.into_iter().enumerate() {
        let repo = format!("keys/app{i}");
        let img = random_image(&reg.addr, &repo, "v1", &[64]);
        let dir = tempdir();
        let d = dir.path();
        certs(d, kt, "uri:https://ci.example/build");
        let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
        let reference = format!("{}/{repo}:v1", reg.addr);
        let mut args = vec![
            "sign".to_owned(),
            reference.clone(),
            "--key".into(),
            p("leaf.key"),
            "--certificate".into(),
            p("leaf.crt"),
            "--certificate-chain".into(),
            p("certificate_chain.pem"),
        ];
        if let Some(a) = alg {
            args.extend(["--signature-algorithm".into(), a.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ok_status(&sealift(&args));
        assert!(out.contains(&format!("signed {}/{repo}@{}", reg.addr, img.digest)), "{out}");
        assert!(out.contains(expected.name()), "{out}");
        let (_, reports) = verify_all(&reg.addr, &repo, &img.digest, &d.join("ca.crt"), "https://ci.example/build");
        assert_eq!(reports.len(), 1, "{kt}");
        assert_verified(&reports[0], expected);
    }
}

/// A signature made by `sealift sign` verifies with `openssl dgst -verify` and the
/// certificate's public key; signing again appends a layer and keeps the first exactly.
#[test]
fn sign_interoperates_with_openssl_and_appends() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "interop/app", "v1", &[64]);
    let dir = tempdir();
    let d = dir.path();
    certs(d, "ec-p256", "email:signer@example.com");
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
    let reference = format!("{}/interop/app@{}", reg.addr, img.digest);
    let chain = p("certificate_chain.pem");
    ok(&sealift(&[
        "sign",
        &reference,
        "--key",
        &p("leaf.key"),
        "--certificate",
        &p("leaf.crt"),
        "--certificate-chain",
        &chain,
        "-a",
        "env=prod",
    ]));
    let first: Value = serde_json::from_slice(&sig_manifest(&reg.addr, "interop/app", &img.digest)).unwrap();
    assert_eq!(first["layers"].as_array().unwrap().len(), 1);

    // openssl verifies the stored signature over the stored payload.
    let layer = &first["layers"][0];
    let sig_b64 = layer["annotations"][media::ANN_SIGNATURE].as_str().unwrap();
    std::fs::write(d.join("sig.bin"), base64::engine::general_purpose::STANDARD.decode(sig_b64).unwrap()).unwrap();
    let blob = Raw::new(&reg.addr).expect(
        &[200],
        "GET",
        &format!("/v2/interop/app/blobs/{}", layer["digest"].as_str().unwrap()),
        &[],
        b"",
    );
    let mut ann = BTreeMap::new();
    ann.insert("env".to_owned(), "prod".to_owned());
    assert_eq!(blob.body, simple_signing_payload(&format!("{}/interop/app", reg.addr), &img.digest, &ann));
    std::fs::write(d.join("payload.json"), &blob.body).unwrap();
    let pubkey = openssl(d, &["x509", "-pubkey", "-noout", "-in", "leaf.crt"]).stdout;
    std::fs::write(d.join("pub.pem"), pubkey).unwrap();
    let v = openssl(d, &["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin", "payload.json"]);
    assert!(String::from_utf8_lossy(&v.stdout).contains("Verified OK"));

    // Again, with the key from stdin: two layers, the first unchanged.
    let key = std::fs::read(d.join("leaf.key")).unwrap();
    let out = sealift_with(
        &[
            "sign",
            &reference,
            "--key",
            "-",
            "--certificate",
            &p("leaf.crt"),
            "--certificate-chain",
            &chain,
            "-a",
            "env=prod",
        ],
        &key,
        &[],
    );
    assert!(ok_status(&out).contains("(2 signature(s))"));
    let second: Value = serde_json::from_slice(&sig_manifest(&reg.addr, "interop/app", &img.digest)).unwrap();
    let layers = second["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0], first["layers"][0]);
    let (_, reports) = verify_all(&reg.addr, "interop/app", &img.digest, &d.join("ca.crt"), "signer@example.com");
    assert!(reports.iter().all(SignatureReport::is_verified), "{reports:?}");

    // An external signer command, checked against the certificate.
    let cmd = format!("openssl dgst -sha256 -sign {} | base64", p("leaf.key"));
    let out = ok_status(&sealift(&[
        "sign",
        &reference,
        "--signer-cmd",
        &cmd,
        "--certificate",
        &p("leaf.crt"),
        "--certificate-chain",
        &chain,
    ]));
    assert!(out.contains("(3 signature(s))"), "{out}");
    // The third signature is the command's, and it verifies: with openssl over the stored
    // payload, and with the verifier under the CA.
    let third: Value = serde_json::from_slice(&sig_manifest(&reg.addr, "interop/app", &img.digest)).unwrap();
    let layers = third["layers"].as_array().unwrap();
    assert_eq!(&layers[..2], &second["layers"].as_array().unwrap()[..], "earlier signatures kept");
    let sig_b64 = layers[2]["annotations"][media::ANN_SIGNATURE].as_str().unwrap().replace('\n', "");
    std::fs::write(d.join("sig3.bin"), base64::engine::general_purpose::STANDARD.decode(sig_b64).unwrap()).unwrap();
    let blob = Raw::new(&reg.addr).expect(
        &[200],
        "GET",
        &format!("/v2/interop/app/blobs/{}", layers[2]["digest"].as_str().unwrap()),
        &[],
        b"",
    );
    std::fs::write(d.join("payload3.json"), &blob.body).unwrap();
    let v = openssl(d, &["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig3.bin", "payload3.json"]);
    assert!(String::from_utf8_lossy(&v.stdout).contains("Verified OK"));
    let (_, reports) = verify_all(&reg.addr, "interop/app", &img.digest, &d.join("ca.crt"), "signer@example.com");
    assert_eq!(reports.len(), 3);
    assert!(reports.iter().all(SignatureReport::is_verified), "{reports:?}");
}

/// Bad signing input is refused before anything is pushed, with a usage error.
#[test]
fn sign_refuses_bad_input() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "bad/app", "v1", &[64]);
    let dir = tempdir();
    let d = dir.path();
    certs(d, "ec-p256", "email:a@example.com");
    let other = tempdir();
    certs(other.path(), "ec-p256", "email:b@example.com");
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
    let reference = format!("{}/bad/app:v1", reg.addr);

    let out = sealift(&["sign", &reference, "--key", &p("leaf.key"), "--signature-algorithm", "rsa-pss-sha512"]);
    fails(&out, 2, "rsa-pss-sha512");
    let out = sealift(&["sign", &reference, "--key", &p("leaf.key"), "--signature-algorithm", "md5"]);
    assert_eq!(out.status.code(), Some(2));
    let wrong_cert = other.path().join("leaf.crt");
    let out = sealift(&["sign", &reference, "--key", &p("leaf.key"), "--certificate", wrong_cert.to_str().unwrap()]);
    fails(&out, 2, "does not match the public key of certificate");
    let out = sealift(&["sign", &reference, "--key", &p("ca.crt")]);
    fails(&out, 2, "ca.crt");
    let out = sealift(&["sign", &reference, "--key", &p("missing.key")]);
    fails(&out, 3, "missing.key");
    openssl(
        d,
        &["pkcs8", "-topk8", "-in", "leaf.key", "-out", "enc.key", "-passout", "pass:right", "-v2", "aes-256-cbc"],
    );
    let out = sealift(&["sign", &reference, "--key", &p("enc.key")]);
    fails(&out, 2, "encrypted");
    let out = sealift_with(
        &["sign", &reference, "--key", &p("enc.key"), "--key-passphrase-env", "PW"],
        b"",
        &[("PW", "wrong")],
    );
    fails(&out, 2, "wrong passphrase");
    assert!(!has_tag(&reg.addr, "bad/app", &sig_tag(&img.digest)), "a refused sign pushed something");
    let out = sealift_with(
        &["sign", &reference, "--key", &p("enc.key"), "--key-passphrase-env", "PW"],
        b"",
        &[("PW", "right")],
    );
    ok(&out);
    assert!(has_tag(&reg.addr, "bad/app", &sig_tag(&img.digest)));
    let out = sealift(&["sign", &format!("{}/bad/none:v1", reg.addr), "--key", &p("leaf.key")]);
    fails(&out, 3, "not found");
}

/// `attach signature` refuses each mismatch with exit code 1 and pushes nothing.
#[test]
fn attach_refuses_mismatches_and_pushes_nothing() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "att/app", "v1", &[64]);
    let other_img = random_image(&reg.addr, "att/other", "v1", &[64]);
    let dir = tempdir();
    let d = dir.path();
    certs(d, "ec-p256", "email:a@example.com");
    let other = tempdir();
    certs(other.path(), "ec-p256", "email:b@example.com");
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
    let reference = format!("{}/att/app:v1", reg.addr);

    let payload = ok(&sealift(&["generate", &reference]));
    std::fs::write(d.join("payload.json"), &payload).unwrap();
    let foreign = ok(&sealift(&["generate", &format!("{}/att/other:v1", reg.addr)]));
    std::fs::write(d.join("foreign.json"), &foreign).unwrap();
    std::fs::write(d.join("tampered.json"), payload.replace("\"optional\":null", "\"optional\":{\"x\":\"y\"}"))
        .unwrap();
    for (input, out) in [("payload.json", "sig.bin"), ("foreign.json", "foreign.bin")] {
        openssl(d, &["dgst", "-sha256", "-sign", "leaf.key", "-out", out, input]);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(d.join("sig.bin")).unwrap());
    std::fs::write(d.join("sig.b64"), &b64).unwrap();
    std::fs::write(d.join("truncated.b64"), &b64[..b64.len() - 6]).unwrap();
    std::fs::write(d.join("garbage.b64"), "not*base64 at all\n").unwrap();

    let attach = |payload: &str, sig: &str, cert: &str| {
        sealift(&[
            "attach",
            "signature",
            &reference,
            "--payload",
            &p(payload),
            "--signature",
            &p(sig),
            "--certificate",
            cert,
        ])
    };
    let leaf = p("leaf.crt");
    fails(&attach("foreign.json", "foreign.bin", &leaf), 1, &format!("not this image's digest {}", img.digest));
    fails(&attach("tampered.json", "sig.bin", &leaf), 1, "does not verify over payload");
    let other_leaf = other.path().join("leaf.crt");
    let e = fails(&attach("payload.json", "sig.bin", other_leaf.to_str().unwrap()), 1, "does not verify");
    assert!(e.contains(other_leaf.to_str().unwrap()), "{e}");
    fails(&attach("payload.json", "truncated.b64", &leaf), 1, "not valid base64");
    fails(&attach("payload.json", "garbage.b64", &leaf), 1, "does not verify");
    fails(&attach("payload.json", "sig.b64", &p("missing.crt")), 3, "missing.crt");
    assert!(!has_tag(&reg.addr, "att/app", &sig_tag(&img.digest)), "a refused attach pushed something");
    assert!(!has_tag(&reg.addr, "att/other", &sig_tag(&other_img.digest)));

    // The good one, signature from stdin and --key instead of a certificate.
    let pubkey = openssl(d, &["x509", "-pubkey", "-noout", "-in", "leaf.crt"]).stdout;
    std::fs::write(d.join("pub.pem"), pubkey).unwrap();
    let out = sealift_with(
        &[
            "attach",
            "signature",
            &reference,
            "--payload",
            &p("payload.json"),
            "--signature",
            "-",
            "--key",
            &p("pub.pem"),
        ],
        b64.as_bytes(),
        &[],
    );
    ok(&out);
    let m: Value = serde_json::from_slice(&sig_manifest(&reg.addr, "att/app", &img.digest)).unwrap();
    assert_eq!(m["layers"][0]["annotations"][media::ANN_SIGNATURE], b64);
    assert!(m["layers"][0]["annotations"].get(media::ANN_CERTIFICATE).is_none());
}

/// `generate` prints exactly the library payload, from a tag or offline from a digest.
#[test]
fn generate_is_byte_exact() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "gen/app", "v1", &[64]);
    let repo = format!("{}/gen/app", reg.addr);
    let out = sealift(&["generate", &format!("{repo}:v1")]);
    assert_eq!(
        out.stdout,
        simple_signing_payload(&repo, &img.digest, &BTreeMap::new()),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sealift(&["generate", &format!("{repo}:v1"), "-a", "z=<&>", "-a", "a=1"]);
    let mut ann = BTreeMap::new();
    ann.insert("z".to_owned(), "<&>".to_owned());
    ann.insert("a".to_owned(), "1".to_owned());
    let expected = simple_signing_payload(&repo, &img.digest, &ann);
    assert_eq!(out.stdout, expected);
    assert!(String::from_utf8_lossy(&expected).contains(r#""optional":{"a":"1","z":"\u003c\u0026\u003e"}}"#));
    // Pinned by digest: no registry needed (nothing listens on port 1).
    let d = Digest::of(b"offline");
    let out = sealift(&["generate", &format!("127.0.0.1:1/gen/app:v9@{d}")]);
    assert_eq!(out.stdout, simple_signing_payload("127.0.0.1:1/gen/app", &d, &BTreeMap::new()));
    fails(&sealift(&["generate", &format!("{repo}:v1"), "-a", "novalue"]), 2, "novalue");
    fails(&sealift(&["generate", &format!("{repo}:nope")]), 3, "not found");
}

/// `certs create` writes a PKI that `openssl verify -x509_strict` accepts, and does not
/// overwrite it without `--force`.
#[test]
fn certs_create_passes_openssl_strict_and_refuses_overwrite() {
    let dir = tempdir();
    let d = dir.path();
    let out = ok_status(&sealift(&["certs", "create", "--out", d.to_str().unwrap(), "--subject", "Release Signer"]));
    for f in ["ca.crt", "sub.crt", "leaf.crt", "leaf.key", "certificate_chain.pem"] {
        assert!(out.contains(f), "{out}");
        assert!(d.join(f).exists());
    }
    assert!(out.contains("email:signer@sealift.local"), "{out}");
    let v = openssl(d, &["verify", "-x509_strict", "-CAfile", "ca.crt", "-untrusted", "sub.crt", "leaf.crt"]);
    assert!(String::from_utf8_lossy(&v.stdout).contains("leaf.crt: OK"));
    let before = std::fs::read(d.join("leaf.key")).unwrap();
    fails(&sealift(&["certs", "create", "--out", d.to_str().unwrap()]), 2, "--force");
    assert_eq!(std::fs::read(d.join("leaf.key")).unwrap(), before);
    ok(&sealift(&["certs", "create", "--out", d.to_str().unwrap(), "--force", "--key-type", "ed25519"]));
    assert_ne!(std::fs::read(d.join("leaf.key")).unwrap(), before);
    assert_eq!(sealift(&["certs", "create", "--out", d.to_str().unwrap(), "--key-type", "dsa"]).status.code(), Some(2));
}

/// With `-q`, `certs create`, `sign` and `attach signature` print nothing on success;
/// `generate -q` still prints its payload (data, not status).
#[test]
fn quiet_signing_commands_print_nothing() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "quiet/app", "v1", &[64]);
    let dir = tempdir();
    let d = dir.path();
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
    let silent = |what: &str, out: &Output| {
        assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{what} -q stdout");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{what} -q stderr");
    };
    silent("certs create", &sealift(&["-q", "certs", "create", "--out", d.to_str().unwrap()]));
    let reference = format!("{}/quiet/app:v1", reg.addr);
    silent("sign", &sealift(&["sign", "-q", &reference, "--key", &p("leaf.key"), "--certificate", &p("leaf.crt")]));

    let out = sealift(&["-q", "generate", &reference]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, simple_signing_payload(&format!("{}/quiet/app", reg.addr), &img.digest, &BTreeMap::new()));
    std::fs::write(d.join("payload.json"), &out.stdout).unwrap();
    openssl(d, &["dgst", "-sha256", "-sign", "leaf.key", "-out", "sig.bin", "payload.json"]);
    let attach = sealift(&[
        "attach",
        "signature",
        &reference,
        "-q",
        "--payload",
        &p("payload.json"),
        "--signature",
        &p("sig.bin"),
        "--certificate",
        &p("leaf.crt"),
    ]);
    silent("attach signature", &attach);
    let m: Value = serde_json::from_slice(&sig_manifest(&reg.addr, "quiet/app", &img.digest)).unwrap();
    assert_eq!(m["layers"].as_array().unwrap().len(), 2, "sign and attach both pushed");
}
