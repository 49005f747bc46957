//! `sealift certs create`, `generate`, `sign` and `attach signature` end to end against a
//! real registry. What they wrote is read back by readers that are not sealift: skopeo for
//! the `.sig` manifest, plain HTTP for its blobs, the payload compared with the one the
//! format notes give (`support::cosign`), the signature checked by `openssl dgst -verify`
//! (or `pkeyutl` for Ed25519) under the certificate in the layer's annotation, and that
//! certificate by `openssl verify` under the root CA (the `verify` command is tested on
//! its own).

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use sealift::oci::Digest;
use serde_json::{json, Value};

use crate::support::cosign::{self, OpensslCheck, ReadSignature};
use crate::support::{
    ok, random_image, sealift, sealift_with, skopeo_inspect_raw, tempdir, ImageInfo, Raw, TestRegistry,
};

const SIGNATURE: &str = cosign::SIGNATURE_ANNOTATION;
const CERTIFICATE: &str = cosign::CERTIFICATE_ANNOTATION;
const CHAIN: &str = cosign::CHAIN_ANNOTATION;
/// Every manifest type, for a GET that must find whatever is there.
const ACCEPT_ALL: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

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
    let r = Raw::new(addr).request("GET", &format!("/v2/{repo}/manifests/{tag}"), &[("Accept", ACCEPT_ALL)], b"");
    match r.status {
        200 => true,
        404 => false,
        s => panic!("GET manifest {tag}: status {s}"),
    }
}

/// Reads the image's `.sig` manifest back without sealift and checks every signature in it:
/// the payload is the one the format notes give for `addr/repo` and the image's digest (with
/// the layer's annotations as `optional`), parsed strictly; the signature verifies with
/// openssl as `layers` says (one entry per layer, in order) under the layer's certificate;
/// that certificate chains to `ca` through the layer's chain (`openssl verify`) and names
/// `identity`.
fn check_all(
    addr: &str,
    repo: &str,
    image: &Digest,
    ca: &Path,
    identity: &str,
    layers: &[(OpensslCheck, &[(&str, &str)])],
) -> (Value, Vec<ReadSignature>) {
    let (manifest, sigs) = cosign::read_sig(addr, repo, image);
    assert_eq!(sigs.len(), layers.len(), "{manifest:#}");
    let reference = format!("{addr}/{repo}");
    let work = tempdir();
    for (i, (sig, (check, annotations))) in sigs.iter().zip(layers).enumerate() {
        let optional: Value = if annotations.is_empty() {
            Value::Null
        } else {
            annotations.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>().into()
        };
        assert_eq!(sig.media_type, cosign::SIMPLESIGNING, "layer {i}");
        assert_eq!(
            cosign::json_of(&sig.payload),
            json!({"critical": {"identity": {"docker-reference": reference}, "image": {"docker-manifest-digest":
                image.to_string()}, "type": "cosign container image signature"}, "optional": optional}),
            "layer {i}: the payload's fields"
        );
        assert_eq!(
            String::from_utf8_lossy(&sig.payload),
            String::from_utf8_lossy(&cosign::payload_with_annotations(&reference, image, annotations)),
            "layer {i}: the payload's bytes (compact, Go's field order)"
        );
        let cert = sig.certificate.as_deref().unwrap_or_else(|| panic!("layer {i} has no certificate"));
        assert!(
            cosign::openssl_verifies(work.path(), cert, *check, &sig.payload, &sig.signature),
            "layer {i}: openssl does not verify the signature ({check:?})"
        );
        let chain = sig.chain.as_deref().unwrap_or_else(|| panic!("layer {i} has no chain"));
        assert!(
            cosign::openssl_chain_verifies(work.path(), ca.to_str().unwrap(), cert, chain),
            "layer {i}: openssl verify refuses the certificate under {}",
            ca.display()
        );
        let sans = cosign::openssl_sans(cert);
        assert!(sans.contains(identity), "layer {i}: the certificate does not name {identity}: {sans}");
    }
    (manifest, sigs)
}

/// The proof of concept's flow: certificates, payload, `openssl dgst` (PKCS#1 SHA-256 as
/// wrapped base64, then RSA-PSS SHA-512 as raw DER), attach with certificate and chain,
/// verified with only the root CA.
#[test]
fn proof_of_concept_flow_with_openssl_verifies_with_only_the_root() {
    let Signing { reg, img, dir } = Signing::start("poc/app", "1.0", 512, "rsa-3072", "email:release@example.com");
    let d = dir.path();
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

    let none: &[(&str, &str)] = &[];
    let (manifest, sigs) = check_all(
        &reg.addr,
        "poc/app",
        &img.digest,
        &d.join("ca.crt"),
        "release@example.com",
        &[(OpensslCheck::Sha256, none), (OpensslCheck::PssSha512, none)],
    );
    let layer = &manifest["layers"][0];
    assert_eq!(layer["annotations"][CERTIFICATE], std::fs::read_to_string(d.join("leaf.crt")).unwrap());
    assert_eq!(layer["annotations"][CHAIN], std::fs::read_to_string(d.join("certificate_chain.pem")).unwrap());
    // The stored payload is the generated one, byte for byte, and so are the signatures.
    assert_eq!(sigs[0].payload, payload.as_bytes());
    assert_eq!(sigs[1].signature, std::fs::read(d.join("pss.der")).unwrap());
}

/// `sealift sign` with every key type (and RSA-PSS SHA-512 on request), from a tag; openssl
/// verifies each with the scheme the key implies.
#[test]
fn sign_with_each_key_type_verifies() {
    let reg = TestRegistry::start();
    let cases = [
        ("ec-p256", None, "ecdsa-p256-sha256", OpensslCheck::Sha256),
        ("ec-p384", None, "ecdsa-p384-sha384", OpensslCheck::Sha384),
        ("rsa-2048", None, "rsa-pkcs1-sha256", OpensslCheck::Sha256),
        ("rsa-2048", Some("rsa-pss-sha512"), "rsa-pss-sha512", OpensslCheck::PssSha512),
        ("ed25519", None, "ed25519", OpensslCheck::Ed25519),
    ];
    for (i, (kt, alg, name, check)) in cases.into_iter().enumerate() {
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
        assert!(out.contains(name), "{out}");
        check_all(&reg.addr, &repo, &img.digest, &d.join("ca.crt"), "URI:https://ci.example/build", &[(check, &[])]);
    }
}

/// A signature made by `sealift sign` verifies with `openssl dgst -verify` and the
/// certificate's public key; signing again appends a layer and keeps the first exactly.
#[test]
fn sign_interoperates_with_openssl_and_appends() {
    let Signing { reg, img, dir } = Signing::start("interop/app", "v1", 64, "ec-p256", "email:signer@example.com");
    let d = dir.path();
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
    let reference = format!("{}/interop/app@{}", reg.addr, img.digest);
    let chain = p("certificate_chain.pem");
    let (cert, key_file) = (p("leaf.crt"), p("leaf.key"));
    // `--key KEY`, fed `stdin`, with the certificate, the chain and `-a env=prod`.
    let sign = |key: &str, stdin: &[u8]| {
        let args =
            ["sign", &reference, "--key", key, "--certificate", &cert, "--certificate-chain", &chain, "-a", "env=prod"];
        sealift_with(&args, stdin, &[])
    };
    ok(&sign(&key_file, b""));
    // openssl verifies the stored signature over the stored payload, which is the one the
    // format notes give with the annotation.
    let env: &[(&str, &str)] = &[("env", "prod")];
    let ca = d.join("ca.crt");
    let (first, _) =
        check_all(&reg.addr, "interop/app", &img.digest, &ca, "signer@example.com", &[(OpensslCheck::Sha256, env)]);

    // Again, with the key from stdin: two layers, the first unchanged.
    let key = std::fs::read(d.join("leaf.key")).unwrap();
    assert!(ok_status(&sign("-", &key)).contains("(2 signature(s))"));
    let (second, _) = check_all(
        &reg.addr,
        "interop/app",
        &img.digest,
        &ca,
        "signer@example.com",
        &[(OpensslCheck::Sha256, env), (OpensslCheck::Sha256, env)],
    );
    assert_eq!(second["layers"][0], first["layers"][0], "the first signature is kept exactly");

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
    // The third signature is the command's (its base64 wrapped by `base64`), and openssl verifies it
    // over the stored payload under the certificate; the earlier two are kept exactly.
    let (third, sigs) = check_all(
        &reg.addr,
        "interop/app",
        &img.digest,
        &ca,
        "signer@example.com",
        &[(OpensslCheck::Sha256, env), (OpensslCheck::Sha256, env), (OpensslCheck::Sha256, &[])],
    );
    assert_eq!(&third["layers"].as_array().unwrap()[..2], &second["layers"].as_array().unwrap()[..]);
    // The control: the same check refuses a signature over other bytes.
    let work = tempdir();
    let cert = sigs[2].certificate.as_deref().unwrap();
    assert!(!cosign::openssl_verifies(work.path(), cert, OpensslCheck::Sha256, &sigs[0].payload, &sigs[2].signature));
}

/// A registry with the image `repo:tag` (one layer of `layer` bytes) and a PKI from `certs
/// create` (`key_type`, `san`) in `dir`.
struct Signing {
    reg: TestRegistry,
    img: ImageInfo,
    dir: tempfile::TempDir,
}

impl Signing {
    fn start(repo: &str, tag: &str, layer: usize, key_type: &str, san: &str) -> Signing {
        let reg = TestRegistry::start();
        let img = random_image(&reg.addr, repo, tag, &[layer]);
        let dir = tempdir();
        certs(dir.path(), key_type, san);
        Signing { reg, img, dir }
    }
}

/// What the refusal tests start from: [`Signing`] for `repo:v1` (`reference`) and
/// `a@example.com`, and another PKI, for `b@example.com`, in `other`.
struct Refusals {
    reg: TestRegistry,
    img: ImageInfo,
    dir: tempfile::TempDir,
    other: tempfile::TempDir,
    reference: String,
}

impl Refusals {
    fn start(repo: &str) -> Refusals {
        let Signing { reg, img, dir } = Signing::start(repo, "v1", 64, "ec-p256", "email:a@example.com");
        let other = tempdir();
        certs(other.path(), "ec-p256", "email:b@example.com");
        let reference = format!("{}/{repo}:v1", reg.addr);
        Refusals { reg, img, dir, other, reference }
    }
}

/// Bad signing input is refused before anything is pushed, with a usage error.
#[test]
fn sign_refuses_bad_input() {
    let Refusals { reg, img, dir, other, reference } = Refusals::start("bad/app");
    let d = dir.path();
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();

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
    let Refusals { reg, img, dir, other, reference } = Refusals::start("att/app");
    let other_img = random_image(&reg.addr, "att/other", "v1", &[64]);
    let d = dir.path();
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();

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
    assert_eq!(m["layers"][0]["annotations"][SIGNATURE], b64);
    assert!(m["layers"][0]["annotations"].get(CERTIFICATE).is_none());
}

/// `generate` prints exactly the payload the format notes give (compact, Go's field order,
/// Go's escapes of `<`, `&`, `>`), from a tag or offline from a digest.
#[test]
fn generate_is_byte_exact() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "gen/app", "v1", &[64]);
    let repo = format!("{}/gen/app", reg.addr);
    let out = sealift(&["generate", &format!("{repo}:v1")]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&cosign::payload(&repo, &img.digest)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sealift(&["generate", &format!("{repo}:v1"), "-a", "z=<&>", "-a", "a=1"]);
    let expected = String::from_utf8(cosign::payload(&repo, &img.digest))
        .unwrap()
        .replace(r#""optional":null"#, r#""optional":{"a":"1","z":"\u003c\u0026\u003e"}"#);
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    // Pinned by digest: no registry needed (nothing listens on port 1).
    let d = Digest::of(b"offline");
    let out = sealift(&["generate", &format!("127.0.0.1:1/gen/app:v9@{d}")]);
    assert_eq!(out.stdout, cosign::payload("127.0.0.1:1/gen/app", &d));
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
    assert_eq!(out.stdout, cosign::payload(&format!("{}/quiet/app", reg.addr), &img.digest));
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
