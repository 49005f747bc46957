//! Verify before push (issue 4): `sealift load --policy` verifies every image offline
//! before pushing anything; all or nothing by default, `--partial` pushes exactly the
//! images that pass. Signatures are made by `openssl dgst` over payloads and `.sig`
//! manifests the test writes itself (`support::cosign`), never by sealift.

use std::collections::BTreeMap;
use std::path::Path;

use sealift::oci::{media, Digest};

use crate::seal::{openssl_keypair, rewrite_tar};
use crate::support::cosign;
use crate::support::{
    ok_all, push_blob, push_manifest, random_image, sealift, tempdir, ImageInfo, Presence, TestRegistry,
};

/// Signs `payload_for` (default: `digest`) and attaches the signature as the legacy `.sig`
/// of `digest` in `repo`. Nothing of sealift's signing code is used: the payload and
/// manifest are written by `support::cosign`, the signature is made by `openssl dgst`.
pub fn sign_image(
    reg: &TestRegistry,
    repo: &str,
    digest: &Digest,
    key_pem: &Path,
    cert: Option<(&Path, &Path)>,
    payload_for: Option<&Digest>,
) {
    let payload = cosign::payload(&format!("{}/{repo}", reg.addr), payload_for.unwrap_or(digest));
    let signature = cosign::openssl_sign(key_pem, &payload);
    let read = |p: &Path| String::from_utf8(std::fs::read(p).unwrap()).unwrap();
    let cert = cert.map(|(c, ch)| (read(c), read(ch)));
    let config = b"{}";
    let manifest = cosign::sig_manifest_with_certificate(
        &payload,
        &signature,
        cert.as_ref().map(|(c, ch)| (c.as_str(), ch.as_str())),
        config,
    );
    push_blob(&reg.addr, repo, config);
    push_blob(&reg.addr, repo, &payload);
    push_manifest(&reg.addr, repo, &format!("{}.sig", digest.tag_prefix()), &manifest, media::OCI_MANIFEST);
}

struct Site {
    src: TestRegistry,
    dir: tempfile::TempDir,
    policy: String,
    digests: BTreeMap<&'static str, Digest>,
    images: BTreeMap<&'static str, ImageInfo>,
}

const GOOD: [&str; 2] = ["good/key", "good/cert"];
const BAD: [&str; 4] = ["bad/unsigned", "bad/untrusted", "bad/copied", "bad/rsa"];

fn site() -> Site {
    let src = TestRegistry::start();
    let dir = tempdir();
    let d = dir.path();
    let (key, _) = openssl_keypair(d, "trusted");
    let rsa = d.join("rsa.key");
    let o = crate::support::run(
        std::process::Command::new("openssl").args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            rsa.to_str().unwrap(),
        ]),
        b"",
    );
    assert!(o.status.success(), "openssl: {}", String::from_utf8_lossy(&o.stderr));
    let o = crate::support::run(
        std::process::Command::new("openssl").args([
            "pkey",
            "-in",
            rsa.to_str().unwrap(),
            "-pubout",
            "-out",
            d.join("rsa.pub").to_str().unwrap(),
        ]),
        b"",
    );
    assert!(o.status.success(), "openssl: {}", String::from_utf8_lossy(&o.stderr));
    // Both PKIs made by the openssl command line, not by sealift's certificate code.
    cosign::OpensslPki::create(&d.join("pki"), "site signer", "email:signer@sealift.local");
    cosign::OpensslPki::create(&d.join("other"), "stranger", "email:signer@sealift.local");

    let mut digests = BTreeMap::new();
    let mut images = BTreeMap::new();
    for repo in GOOD.iter().chain(BAD.iter()) {
        let img = random_image(&src.addr, repo, "1", &[2000, 3000]);
        digests.insert(*repo, img.digest.clone());
        images.insert(*repo, img);
    }
    let key = Path::new(&key);
    sign_image(&src, "good/key", &digests["good/key"], key, None, None);
    let pki = d.join("pki");
    sign_image(
        &src,
        "good/cert",
        &digests["good/cert"],
        &pki.join("leaf.key"),
        Some((&pki.join("leaf.crt"), &pki.join("certificate_chain.pem"))),
        None,
    );
    let other = d.join("other");
    sign_image(
        &src,
        "bad/untrusted",
        &digests["bad/untrusted"],
        &other.join("leaf.key"),
        Some((&other.join("leaf.crt"), &other.join("certificate_chain.pem"))),
        None,
    );
    sign_image(&src, "bad/copied", &digests["bad/copied"], key, None, Some(&digests["good/key"]));
    sign_image(&src, "bad/rsa", &digests["bad/rsa"], &rsa, None, None);

    let policy = d.join("policy.toml");
    std::fs::write(
        &policy,
        r#"version = 1
[[rule]]
name = "site"
repositories = ["**"]
keys = ["trusted.pub", "rsa.pub"]
ca_roots = ["pki/ca.crt"]
identities = [{ identity_regexp = "@sealift\\.local$" }]
algorithms = ["ecdsa-p256-sha256"]
"#,
    )
    .unwrap();
    Site { src, policy: policy.to_str().unwrap().to_owned(), dir, digests, images }
}

fn save(s: &Site, repos: &[&str], name: &str) -> String {
    let bundle = s.dir.path().join(name);
    let refs: Vec<String> = repos.iter().map(|r| format!("{}/{r}:1", s.src.addr)).collect();
    let mut args = vec!["save"];
    args.extend(refs.iter().map(String::as_str));
    args.extend(["-o", bundle.to_str().unwrap()]);
    ok_all(&sealift(&args));
    bundle.to_str().unwrap().to_owned()
}

/// Whether `repo:tag` exists at `dst`; only a definite 404 from that registry is "no".
fn exists(dst: &TestRegistry, reference: &str) -> bool {
    let (repo, tag) = reference.rsplit_once(':').unwrap();
    matches!(dst.manifest(repo, tag), Presence::Present(_))
}

fn report(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

/// The report block of one image (from its verdict line to the next verdict line).
fn block<'a>(report: &'a str, repo: &str) -> &'a str {
    let start = report.find(&format!("/{repo}:1")).unwrap_or_else(|| panic!("{repo} not in report:\n{report}"));
    let line_start = report[..start].rfind('\n').map_or(0, |i| i + 1);
    let rest = &report[line_start..];
    let end = rest[1..]
        .find("\nPASSED ")
        .into_iter()
        .chain(rest[1..].find("\nREJECTED "))
        .min()
        .map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

#[test]
fn load_verifies_every_image_before_pushing_anything() {
    let s = site();
    let all: Vec<&str> = GOOD.iter().chain(BAD.iter()).copied().collect();
    let bundle = save(&s, &all, "all.tar");

    // All or nothing: any failure, nothing pushed, every image reported with its reason.
    let dst = TestRegistry::start();
    let out = sealift(&["load", &bundle, "--to", &dst.addr, "--policy", &s.policy]);
    let rep = report(&out);
    assert_eq!(out.status.code(), Some(1), "{rep}");
    for r in &all {
        assert!(!exists(&dst, &format!("{r}:1")), "{r} must not be pushed");
    }
    for r in GOOD {
        assert!(block(&rep, r).starts_with("PASSED"), "{r}: {}", block(&rep, r));
    }
    for (r, why) in [
        ("bad/unsigned", "no signature"),
        ("bad/untrusted", "root"),
        ("bad/copied", "the payload signs"),
        ("bad/rsa", "algorithm"),
    ] {
        let b = block(&rep, r).to_lowercase();
        assert!(b.starts_with("rejected"), "{r}: {b}");
        assert!(b.contains(why), "{r}: expected {why:?} in:\n{b}");
    }
    assert!(rep.contains("nothing was pushed"), "{rep}");

    // --partial pushes exactly the passing images (with their signatures).
    let dst = TestRegistry::start();
    let out = sealift(&["load", &bundle, "--to", &dst.addr, "--policy", &s.policy, "--partial"]);
    assert_eq!(out.status.code(), Some(1), "{}", report(&out));
    for r in GOOD {
        assert!(exists(&dst, &format!("{r}:1")), "{r} passes and is pushed");
        assert!(exists(&dst, &format!("{r}:{}.sig", s.digests[r].tag_prefix())), "{r}'s signature is pushed");
    }
    for r in BAD {
        assert!(!exists(&dst, &format!("{r}:1")), "{r} is refused");
        // Nothing of a refused image reaches the target: not by digest, not its signature,
        // not one of its blobs.
        let img = &s.images[r];
        dst.assert_absent(r, &img.digest.to_string(), "refused under --partial");
        dst.assert_absent(r, &format!("{}.sig", img.digest.tag_prefix()), "refused under --partial");
        for (d, _) in img.layers.iter().chain([&img.config]) {
            assert!(!dst.blob_present(r, d), "{r}: blob {d} of a refused image was uploaded");
        }
    }
    // The control: the passing images' blobs are there, and no other repository is.
    for r in GOOD {
        for (d, _) in s.images[r].layers.iter().chain([&s.images[r].config]) {
            assert!(dst.blob_present(r, d), "{r}: blob {d}");
        }
    }
    assert_eq!(dst.catalog(), ["good/cert", "good/key"], "only the passing repositories");

    // A bundle of good images loads with exit 0; a dry run reports verdicts and pushes nothing.
    let good = save(&s, &GOOD, "good.tar");
    let dst = TestRegistry::start();
    let out = sealift(&["load", &good, "--to", &dst.addr, "--policy", &s.policy, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out));
    assert!(report(&out).contains("PASSED"));
    assert!(!exists(&dst, "good/key:1"));
    ok_all(&sealift(&["load", &good, "--to", &dst.addr, "--policy", &s.policy]));
    assert!(exists(&dst, "good/key:1") && exists(&dst, "good/cert:1"));

    // No trust at all: refused unless --insecure-skip-verify.
    let out = sealift(&["load", &good, "--to", &dst.addr]);
    assert_eq!(out.status.code(), Some(2), "{}", report(&out));
    assert!(report(&out).contains("--insecure-skip-verify"));
}

/// On a pipe (not a terminal) the per-image report goes to stderr as real lines: no
/// layout newline turns into a visible `\n`, and each field still starts its own line.
#[test]
fn the_report_on_a_piped_stderr_has_no_literal_backslash_n() {
    let s = site();
    let bundle = save(&s, &["good/key", "bad/unsigned"], "two.tar");
    let dst = TestRegistry::start();
    let out = sealift(&["load", &bundle, "--to", &dst.addr, "--policy", &s.policy, "--dry-run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("\\n"), "literal \\n in stderr:\n{err}");
    assert!(err.lines().any(|l| l.starts_with("PASSED ")), "{err}");
    assert!(err.lines().any(|l| l.starts_with("REJECTED ")), "{err}");
    assert!(err.lines().any(|l| l.starts_with("  rule: ")), "{err}");
}

#[test]
fn a_signature_removed_from_the_bundle_refuses_its_image() {
    let s = site();
    let bundle = save(&s, &GOOD, "good.tar");
    let victim = s.digests["good/key"].to_string();
    rewrite_tar(
        Path::new(&bundle),
        |name, bytes| {
            if name != "index.json" {
                return Some(bytes);
            }
            let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            v["manifests"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["annotations"]["dev.sealift.subject"] != victim.as_str());
            Some(serde_json::to_vec_pretty(&v).unwrap())
        },
        None,
    );
    let dst = TestRegistry::start();
    let out = sealift(&["load", &bundle, "--to", &dst.addr, "--policy", &s.policy]);
    let rep = report(&out);
    assert_eq!(out.status.code(), Some(1), "{rep}");
    assert!(block(&rep, "good/key").to_lowercase().contains("no signature"), "{rep}");
    assert!(!exists(&dst, "good/key:1") && !exists(&dst, "good/cert:1"));
}

/// `--platform` carries the index only for its signatures: its verdict must not block the
/// chosen platform, which passes on its own signature.
#[test]
fn a_platform_save_loads_when_the_platform_is_signed() {
    let s = site();
    let child = random_image(&s.src.addr, "multi/app", "child", &[1000]);
    let other = random_image(&s.src.addr, "multi/app", "other", &[1200]);
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [
        {"mediaType": media::OCI_MANIFEST, "size": child.manifest.len(), "digest": child.digest.to_string(), "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": media::OCI_MANIFEST, "size": other.manifest.len(), "digest": other.digest.to_string(), "platform": {"os": "linux", "architecture": "amd64"}},
    ]});
    push_manifest(&s.src.addr, "multi/app", "1", &serde_json::to_vec(&index).unwrap(), media::OCI_INDEX);
    sign_image(&s.src, "multi/app", &child.digest, &s.dir.path().join("trusted.key"), None, None);
    let bundle = s.dir.path().join("arm.tar");
    ok_all(&sealift(&[
        "save",
        &format!("{}/multi/app:1", s.src.addr),
        "--platform",
        "linux/arm64",
        "-o",
        bundle.to_str().unwrap(),
    ]));
    let dst = TestRegistry::start();
    let key = s.dir.path().join("trusted.pub");
    let out = sealift(&["load", bundle.to_str().unwrap(), "--to", &dst.addr, "--key", key.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out));
    assert!(exists(&dst, "multi/app:1-linux-arm64"));
    assert!(!exists(&dst, "multi/app:1"), "the partial index is not pushed");
}
