//! Admission (issue 7): an unsealed bundle's `index.json` annotations are not believed.
//! Each hostile bundle here is a real saved one, unpacked, its `index.json` edited and
//! repacked in sealift's order; the load runs with real certificate trust, and the target
//! registry is checked (catalog, tag lists, skopeo) to hold nothing afterwards.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use crate::support::{ok, random_image, sealift, skopeo, tempdir, write_tar, Raw, TestRegistry};

const IDENTITY: &str = "signer@example.test";

/// A signed `team/app:1.0` and an unsigned `evil/x:1` saved into one unsealed bundle.
struct Fixture {
    src: TestRegistry,
    dir: tempfile::TempDir,
    /// The signed image's digest.
    d1: String,
    /// The unsigned image's digest.
    evil: String,
    bundle: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let src = TestRegistry::start();
        let dir = tempdir();
        let pki = dir.path().join("pki");
        let p = |f: &str| pki.join(f).to_str().unwrap().to_owned();
        ok(&sealift(&["certs", "create", "--out", pki.to_str().unwrap(), "--san", &format!("email:{IDENTITY}")]));
        let app = random_image(&src.addr, "team/app", "1.0", &[3000, 2000]);
        let evil = random_image(&src.addr, "evil/x", "1", &[1500]);
        let app_ref = format!("{}/team/app:1.0", src.addr);
        ok(&crate::support::sign_with_certificate(
            &app_ref,
            &p("leaf.key"),
            &p("leaf.crt"),
            &p("certificate_chain.pem"),
        ));
        let bundle = dir.path().join("both.tar");
        ok(&sealift(&["save", &app_ref, &format!("{}/evil/x:1", src.addr), "-o", bundle.to_str().unwrap()]));
        Fixture { src, d1: app.digest.to_string(), evil: evil.digest.to_string(), bundle, dir }
    }

    fn trust(&self) -> Vec<String> {
        let ca = self.dir.path().join("pki/ca.crt");
        vec!["--ca-roots".into(), ca.to_str().unwrap().into(), "--certificate-identity".into(), IDENTITY.into()]
    }

    /// A copy of the bundle whose `index.json` entries went through `edit`, with `extra`
    /// blobs placed right after `index.json` (where sealift puts metadata).
    fn hostile(&self, name: &str, extra: &[Vec<u8>], edit: impl FnOnce(&mut Vec<Value>)) -> PathBuf {
        let mut entries = read_tar(&self.bundle);
        let at = entries.iter().position(|(n, _)| n == "index.json").expect("a bundle has index.json");
        let mut index: Value = serde_json::from_slice(&entries[at].1).unwrap();
        edit(index["manifests"].as_array_mut().unwrap());
        entries[at].1 = serde_json::to_vec_pretty(&index).unwrap();
        for (k, blob) in extra.iter().enumerate() {
            let name = format!("blobs/sha256/{}", sha256_hex(blob));
            entries.insert(at + 1 + k, (name, blob.clone()));
        }
        let out = self.dir.path().join(format!("{name}.tar"));
        write_tar(&out, &entries);
        out
    }

    /// The `index.json` entry of the unsigned image, turned into an attachment of the
    /// signed one that claims its repository and tag (the issue's reproduction).
    fn evil_as(&self, role: &str, tag: Option<&str>) -> impl FnOnce(&mut Vec<Value>) + '_ {
        let role = role.to_owned();
        let tag = tag.map(str::to_owned);
        move |entries: &mut Vec<Value>| {
            let e = entries.iter_mut().find(|e| e["digest"] == self.evil.as_str()).expect("evil entry");
            let mut ann = json!({
                "dev.sealift.role": role,
                "dev.sealift.subject": self.d1,
                "dev.sealift.repository": format!("{}/team/app", self.src.addr),
            });
            if let Some(t) = tag {
                ann["dev.sealift.tag"] = json!(t);
            }
            e["annotations"] = ann;
        }
    }
}

fn sha256_hex(b: &[u8]) -> String {
    sealift::oci::Digest::of(b).hex().to_owned()
}

/// Every entry of an uncompressed tar, in order.
fn read_tar(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

fn catalog(reg: &TestRegistry) -> Value {
    let r = Raw::new(&reg.addr).request("GET", "/v2/_catalog", &[], b"");
    assert_eq!(r.status, 200, "catalog of {}", reg.addr);
    serde_json::from_slice(&r.body).unwrap()
}

/// Nothing reached the target: no repository, no `team/app` tags, and skopeo finds no
/// `mirror/team/app:1.0`.
fn assert_untouched(dst: &TestRegistry) {
    assert_eq!(catalog(dst)["repositories"], json!([]), "the target holds repositories");
    let tags = Raw::new(&dst.addr).request("GET", "/v2/mirror/team/app/tags/list", &[], b"");
    assert_ne!(tags.status, 200, "tags at the target: {}", String::from_utf8_lossy(&tags.body));
    let s = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/mirror/team/app:1.0", dst.addr)]);
    assert!(!s.status.success(), "skopeo found mirror/team/app:1.0 at the target");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `load`, `verify --bundle`, `audit` and `inspect` all refuse `bundle` with exit 4 and a
/// one-line error containing `needle`; the target stays empty.
fn refused_everywhere(fx: &Fixture, bundle: &Path, needle: &str) {
    let dst = TestRegistry::start();
    let b = bundle.to_str().unwrap();
    let to = format!("{}/mirror", dst.addr);
    let trust = fx.trust();
    let t: Vec<&str> = trust.iter().map(String::as_str).collect();
    let image = format!("{}/team/app:1.0", fx.src.addr);
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("load", [&["load", b, "--to", &to][..], &t].concat()),
        ("load --insecure-skip-verify", vec!["load", b, "--to", &to, "--insecure-skip-verify"]),
        ("verify --bundle", [&["verify", &image, "--bundle", b][..], &t].concat()),
        ("audit", [&["audit", b][..], &t].concat()),
        ("inspect", vec!["inspect", b]),
    ];
    // The same bundle unpacked into a layout directory.
    let name = format!("{}-dir", bundle.file_stem().unwrap().to_string_lossy());
    let layout = crate::support::extract_bundle(bundle, fx.dir.path(), &name);
    let l = layout.to_str().unwrap();
    let runs = [runs, vec![("load DIR", [&["load", l, "--to", &to][..], &t].concat())]].concat();
    for (what, args) in runs {
        let out = sealift(&args);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(4),
            "{what} of {b}: {err}\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(err.contains(needle), "{what}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{what}: one-line error expected: {err}");
    }
    assert_untouched(&dst);
}

/// The control: the unedited bundle verifies and lands with the signed image at its tag.
#[test]
fn unedited_bundle_loads_with_real_trust() {
    let fx = Fixture::new();
    let dst = TestRegistry::start();
    let trust = fx.trust();
    let t: Vec<&str> = trust.iter().map(String::as_str).collect();
    let to = format!("{}/mirror", dst.addr);
    // evil/x is unsigned: the whole load is refused, then --partial pushes team/app only.
    let out = sealift(&[&["load", fx.bundle.to_str().unwrap(), "--to", &to][..], &t].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_untouched(&dst);
    let out = sealift(&[&["load", fx.bundle.to_str().unwrap(), "--to", &to, "--partial"][..], &t].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let raw = crate::support::skopeo_inspect_raw(&format!("{}/mirror/team/app:1.0", dst.addr));
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), fx.d1);
    assert_eq!(catalog(&dst)["repositories"], json!(["mirror/team/app"]));
}

/// The issue's reproduction, for each legacy attachment role: an unsigned image listed
/// as an attachment of the signed one, claiming its tag. Refused, nothing tagged.
#[test]
fn unsigned_image_posing_as_attachment_with_the_images_tag_is_refused() {
    let fx = Fixture::new();
    for role in ["sbom", "signature", "attestation"] {
        let b = fx.hostile(&format!("{role}-tag"), &[], fx.evil_as(role, Some("1.0")));
        refused_everywhere(&fx, &b, &fx.evil);
        // Without the tag claim, its shape still gives it away.
        let b = fx.hostile(&format!("{role}-untagged"), &[], fx.evil_as(role, None));
        refused_everywhere(&fx, &b, &format!("is not a valid {role}"));
    }
}

/// A referrer has no tag, and its own manifest's subject must be the one it claims.
#[test]
fn referrer_claims_are_checked_against_its_manifest() {
    let fx = Fixture::new();
    let b = fx.hostile("referrer-tag", &[], fx.evil_as("referrer", Some("1.0")));
    refused_everywhere(&fx, &b, "a referrer is pushed by digest only");
    let b = fx.hostile("referrer-untagged", &[], fx.evil_as("referrer", None));
    refused_everywhere(&fx, &b, "its manifest's subject is absent");

    // A well-formed referrer manifest whose subject is the unsigned image, listed as a
    // referrer of the signed one: it would enter the signed image's referrers index.
    let empty = b"{}".to_vec();
    let layer = b"an attacker's note".to_vec();
    let (evil_size, evil_type) = {
        let entries = read_tar(&fx.bundle);
        let index: Value = serde_json::from_slice(&entries.iter().find(|(n, _)| n == "index.json").unwrap().1).unwrap();
        let e = index["manifests"].as_array().unwrap().iter().find(|e| e["digest"] == fx.evil.as_str()).unwrap();
        (e["size"].as_u64().unwrap(), e["mediaType"].as_str().unwrap().to_owned())
    };
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/example.note",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": format!("sha256:{}", sha256_hex(&empty)), "size": 2},
        "layers": [{"mediaType": "text/plain", "digest": format!("sha256:{}", sha256_hex(&layer)), "size": layer.len()}],
        "subject": {"mediaType": evil_type, "digest": fx.evil, "size": evil_size},
    }))
    .unwrap();
    let referrer = format!("sha256:{}", sha256_hex(&manifest));
    let d1 = fx.d1.clone();
    let repo = format!("{}/team/app", fx.src.addr);
    let (m, r) = (manifest.clone(), referrer.clone());
    let b = fx.hostile("referrer-subject", &[manifest, empty, layer], move |entries| {
        entries.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": r,
            "size": m.len(),
            "artifactType": "application/example.note",
            "annotations": {"dev.sealift.role": "referrer", "dev.sealift.subject": d1, "dev.sealift.repository": repo},
        }));
    });
    refused_everywhere(&fx, &b, &format!("its manifest's subject is {}", fx.evil));
}

/// A real attachment (the signed image's own `.sig`) re-tagged onto the image's tag.
#[test]
fn real_signature_manifest_cannot_claim_another_tag() {
    let fx = Fixture::new();
    let d1 = fx.d1.clone();
    let b = fx.hostile("sig-retagged", &[], move |entries| {
        let e = entries.iter_mut().find(|e| e["annotations"]["dev.sealift.role"] == "signature").unwrap();
        assert_eq!(e["annotations"]["dev.sealift.subject"], d1.as_str());
        e["annotations"]["dev.sealift.tag"] = json!("1.0");
    });
    refused_everywhere(&fx, &b, "claims tag \"1.0\"");
}

/// Runs sealift under `/usr/bin/time` and returns its output and peak RSS in KiB.
fn sealift_rss(args: &[&str]) -> (Output, u64) {
    let time = Path::new("/usr/bin/time");
    assert!(time.exists(), "/usr/bin/time is needed to measure peak RSS: apt-get install time");
    let out = std::process::Command::new(time)
        .args(["-f", "maxrss-kib=%M", env!("CARGO_BIN_EXE_sealift")])
        .args(args)
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .unwrap();
    let err = stderr(&out);
    let rss = err.lines().find_map(|l| l.strip_prefix("maxrss-kib=")).expect("time's report").trim().parse().unwrap();
    let cleaned =
        err.lines().filter(|l| !l.starts_with("maxrss-kib=") && !l.starts_with("Command exited")).collect::<Vec<_>>();
    (Output { stderr: (cleaned.join("\n") + "\n").into_bytes(), ..out }, rss)
}

/// A 1000 MiB config of zeros in a small `.tar.zst`: refused from its tar header (exit 4)
/// by load, `load --dry-run`, inspect and audit, each with a small peak RSS. (The blob's
/// name is not its digest: it is refused before a byte of it is read or hashed.)
#[test]
fn a_huge_metadata_blob_is_refused_before_it_is_read() {
    const CONFIG: u64 = 1000 * 1024 * 1024;
    let dir = tempdir();
    let config_digest = format!("sha256:{}", sha256_hex(b"a config that is not there"));
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": CONFIG},
        "layers": [],
    }))
    .unwrap();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256_hex(&manifest)), "size": manifest.len(),
            "annotations": {"dev.sealift.role": "image", "dev.sealift.repository": "127.0.0.1:5000/zip/bomb", "dev.sealift.tag": "1"}}],
    }))
    .unwrap();
    let tar_path = dir.path().join("bomb.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
        let mut add = |name: &str, size: u64, body: &mut dyn std::io::Read| {
            let mut h = tar::Header::new_gnu();
            h.set_size(size);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, body).unwrap();
        };
        let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
        add("oci-layout", layout.len() as u64, &mut &layout[..]);
        add("index.json", index.len() as u64, &mut index.as_slice());
        add(&format!("blobs/sha256/{}", sha256_hex(&manifest)), manifest.len() as u64, &mut manifest.as_slice());
        let mut zeros = std::io::Read::take(std::io::repeat(0), CONFIG);
        add(&format!("blobs/sha256/{}", &config_digest[7..]), CONFIG, &mut zeros);
        b.finish().unwrap();
    }
    let z = std::process::Command::new("zstd").args(["-q", "-1", "--rm", tar_path.to_str().unwrap()]).output();
    assert!(z.is_ok_and(|o| o.status.success()), "zstd is needed: apt-get install zstd");
    let bomb = dir.path().join("bomb.tar.zst");
    let size = std::fs::metadata(&bomb).unwrap().len();
    assert!(size < 256 * 1024, "the bundle is small ({size} bytes)");

    let (_, public) = keypair(dir.path(), "k");
    let dst = TestRegistry::start();
    let to = format!("{}/mirror", dst.addr);
    let b = bomb.to_str().unwrap();
    for (what, args) in [
        ("load", vec!["load", b, "--to", &to, "--key", &public]),
        ("load --dry-run", vec!["load", b, "--to", &to, "--key", &public, "--dry-run"]),
        ("inspect", vec!["inspect", b]),
        ("audit", vec!["audit", b, "--key", &public]),
    ] {
        let (out, rss) = sealift_rss(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{what}: {err}");
        assert!(err.contains(&config_digest[7..]) && err.contains("67108864-byte limit"), "{what}: {err}");
        eprintln!("{what}: peak RSS {rss} KiB, bundle {size} bytes");
        assert!(rss < 64 * 1024, "{what}: peak RSS {rss} KiB");
    }
    assert_untouched(&dst);
}

/// A seal made with a certificate is checked by the image verifier's certificate code:
/// `--bundle-ca-roots` needs an identity (exit 2, as `verify`), a wrong identity is a
/// rejected seal (exit 1), the right one verifies.
#[test]
fn certificate_seal_needs_and_checks_an_identity() {
    let fx = Fixture::new();
    let pki = fx.dir.path().join("pki");
    let p = |f: &str| pki.join(f).to_str().unwrap().to_owned();
    let sealed = fx.dir.path().join("sealed.tar");
    let app_ref = format!("{}/team/app:1.0", fx.src.addr);
    ok(&sealift(&[
        "save",
        &app_ref,
        "-o",
        sealed.to_str().unwrap(),
        "--sign-key",
        &p("leaf.key"),
        "--sign-certificate",
        &p("leaf.crt"),
        "--sign-certificate-chain",
        &p("certificate_chain.pem"),
    ]));
    let dst = TestRegistry::start();
    let to = format!("{}/mirror", dst.addr);
    let trust = fx.trust();
    let t: Vec<&str> = trust.iter().map(String::as_str).collect();
    let s = sealed.to_str().unwrap();
    let load = |extra: &[&str]| {
        sealift(&[&["load", s, "--to", &to, "--bundle-ca-roots", &p("ca.crt")][..], &t, extra].concat())
    };
    let out = load(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--bundle-identity-regexp"), "{}", stderr(&out));
    let out = load(&["--bundle-identity-regexp", "^someone-else@"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("seal certificate"), "{}", stderr(&out));
    assert_untouched(&dst);
    let out = load(&["--bundle-identity-regexp", &format!("^{IDENTITY}$")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("seal verified: signed by {IDENTITY}")), "{}", stderr(&out));
}

/// An ECDSA P-256 key pair made with openssl: (private key path, public key path).
fn keypair(dir: &Path, name: &str) -> (String, String) {
    let key = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let run = |args: &[&str]| {
        let o = std::process::Command::new("openssl").args(args).output().expect("openssl installed");
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.to_str().unwrap()]);
    run(&["pkey", "-in", key.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()]);
    (key.to_str().unwrap().to_owned(), public.to_str().unwrap().to_owned())
}

/// Issue 7, section 2 (the example in docs/policy.md): rule `prod` covers the source
/// registry and trusts prod.pub, rule `dev` covers `dev.corp:5000` and trusts dev.pub. An
/// image signed only by the dev key, relabelled in an unsealed bundle into dev's scope,
/// would land at `mirror/team/app:1.0`, which prod guards: refused, nothing pushed. The
/// same image signed by prod, unedited, loads.
#[test]
fn a_relabelled_image_cannot_pick_a_weaker_rule() {
    let src = TestRegistry::start();
    let dir = tempdir();
    let d = dir.path();
    let (prod_key, _) = keypair(d, "prod");
    let (dev_key, _) = keypair(d, "dev");
    let policy = d.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\n\n[[rule]]\nname = \"prod\"\nrepositories = [\"{}/**\"]\nkeys = [\"prod.pub\"]\n\n\
             [[rule]]\nname = \"dev\"\nrepositories = [\"dev.corp:5000/**\"]\nkeys = [\"dev.pub\"]\n",
            src.addr
        ),
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let save_signed = |repo: &str, key: &str| {
        random_image(&src.addr, repo, "1.0", &[1000]);
        let r = format!("{}/{repo}:1.0", src.addr);
        ok(&sealift(&["sign", &r, "--key", key]));
        let bundle = d.join(format!("{}.tar", repo.replace('/', "-")));
        ok(&sealift(&["save", &r, "-o", bundle.to_str().unwrap()]));
        bundle
    };

    let dev_signed = save_signed("team/app", &dev_key);
    let from = format!("{}/team/app", src.addr);
    let mut entries = read_tar(&dev_signed);
    let at = entries.iter().position(|(n, _)| n == "index.json").unwrap();
    let text = String::from_utf8(entries[at].1.clone()).unwrap();
    assert!(text.contains(&from));
    entries[at].1 = text.replace(&from, "dev.corp:5000/team/app").into_bytes();
    let relabelled = d.join("relabelled.tar");
    write_tar(&relabelled, &entries);

    let dst = TestRegistry::start();
    let to = format!("{}/mirror", dst.addr);
    let out = sealift(&["load", relabelled.to_str().unwrap(), "--to", &to, "--policy", p]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("source name dev.corp:5000/team/app is not authenticated") && err.contains("rule \"prod\""),
        "{err}"
    );
    assert_untouched(&dst);
    // --allow-unsigned changes nothing: a rule covered the image.
    let out = sealift(&["load", relabelled.to_str().unwrap(), "--to", &to, "--policy", p, "--allow-unsigned"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_untouched(&dst);
    // audit and verify --bundle say the same.
    let out = sealift(&["audit", relabelled.to_str().unwrap(), "--policy", p]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Unedited, the dev-signed image is judged by prod and refused too.
    let out = sealift(&["load", dev_signed.to_str().unwrap(), "--to", &to, "--policy", p]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_untouched(&dst);

    // The control: signed by prod, unedited; its signed docker-reference names it.
    let prod_signed = save_signed("team/prod", &prod_key);
    let out = sealift(&["load", prod_signed.to_str().unwrap(), "--to", &to, "--policy", p]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let raw = crate::support::skopeo_inspect_raw(&format!("{}/mirror/team/prod:1.0", dst.addr));
    assert!(!raw.is_empty());
}

/// The default one pass (issue 7, section 4): an uncompressed bundle's headers are indexed
/// and each layer is read once, from its offset, into its upload. It lands the same bytes
/// (`--stream`, the old name of this mode, too); a corrupt last layer is refused (exit 4)
/// with no manifest and no tag at the target, only blobs; `--check-first` leaves nothing.
#[test]
fn one_pass_lands_the_same_bytes_and_a_corrupt_layer_pushes_no_manifest() {
    let fx = Fixture::new();
    let app = fx.dir.path().join("app.tar");
    ok(&sealift(&["save", &format!("{}/team/app:1.0", fx.src.addr), "-o", app.to_str().unwrap()]));
    let trust = fx.trust();
    let t: Vec<&str> = trust.iter().map(String::as_str).collect();
    for mode in [&[][..], &["--stream"][..], &["--check-first"][..]] {
        let dst = TestRegistry::start();
        let to = format!("{}/mirror", dst.addr);
        let out = sealift(&[&["load", app.to_str().unwrap(), "--to", &to][..], mode, &t].concat());
        assert_eq!(out.status.code(), Some(0), "{mode:?}: {}", stderr(&out));
        let raw = crate::support::skopeo_inspect_raw(&format!("{}/mirror/team/app:1.0", dst.addr));
        assert_eq!(format!("sha256:{}", sha256_hex(&raw)), fx.d1, "{mode:?}");
    }

    // Flip a byte in the bundle's last blob (a layer: layers come last).
    let (offset, name) = {
        let mut a = tar::Archive::new(std::fs::File::open(&app).unwrap());
        let last = a.entries().unwrap().map(|e| e.unwrap()).last().unwrap();
        (last.raw_file_position(), last.path().unwrap().to_string_lossy().into_owned())
    };
    assert!(name.starts_with("blobs/sha256/"), "{name}");
    let mut bytes = std::fs::read(&app).unwrap();
    bytes[offset as usize + 10] ^= 0x01;
    std::fs::write(&app, &bytes).unwrap();
    let dst = TestRegistry::start();
    let to = format!("{}/mirror", dst.addr);
    let out = sealift(&[&["load", app.to_str().unwrap(), "--to", &to][..], &t].concat());
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains(&name["blobs/sha256/".len()..]), "{}", stderr(&out));
    let tags = Raw::new(&dst.addr).request("GET", "/v2/mirror/team/app/tags/list", &[], b"");
    let listed: Value = serde_json::from_slice(&tags.body).unwrap_or(Value::Null);
    assert!(listed["tags"].as_array().is_none_or(|t| t.is_empty()), "tags at the target: {listed}");
    for r in ["1.0".to_owned(), fx.d1.clone()] {
        let sep = if r.starts_with("sha256:") { "@" } else { ":" };
        let s = skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/mirror/team/app{sep}{r}", dst.addr),
        ]);
        assert!(!s.status.success(), "a manifest reached the target: {r}");
    }
    // What a failed one-pass load leaves: blobs of the admitted image (content-addressed).
    assert_eq!(catalog(&dst)["repositories"], json!(["mirror/team/app"]));
    // With --check-first the whole file is checked first: the target stays empty.
    let dst = TestRegistry::start();
    let to = format!("{}/mirror", dst.addr);
    let out = sealift(&[&["load", app.to_str().unwrap(), "--to", &to, "--check-first"][..], &t].concat());
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_untouched(&dst);
}

/// An attachment that did not verify must not spoil a good one at the target (issue 7): a
/// `.sig` tag already at the target with a different digest is replaced only by a `.sig`
/// that verified under the site's trust; otherwise it stays, and the load says so.
#[test]
fn an_unverified_sig_does_not_replace_a_different_one_at_the_target() {
    let fx = Fixture::new();
    let trust = fx.trust();
    let t: Vec<&str> = trust.iter().map(String::as_str).collect();
    let app_ref = format!("{}/team/app:1.0", fx.src.addr);
    let first = fx.dir.path().join("first.tar");
    ok(&sealift(&["save", &app_ref, "-o", first.to_str().unwrap()]));
    // Signed again: the source's .sig manifest changes (a fresh ECDSA signature).
    let pki = fx.dir.path().join("pki");
    let p = |f: &str| pki.join(f).to_str().unwrap().to_owned();
    ok(&crate::support::sign_with_certificate(&app_ref, &p("leaf.key"), &p("leaf.crt"), &p("certificate_chain.pem")));
    let second = fx.dir.path().join("second.tar");
    ok(&sealift(&["save", &app_ref, "-o", second.to_str().unwrap()]));

    let dst = TestRegistry::start();
    let to = format!("{}/mirror", dst.addr);
    let sig_tag = format!("{}/mirror/team/app:sha256-{}.sig", dst.addr, &fx.d1["sha256:".len()..]);
    let sig_at_target = || sha256_hex(&crate::support::skopeo_inspect_raw(&sig_tag));
    let out = sealift(&[&["load", first.to_str().unwrap(), "--to", &to][..], &t].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let good = sig_at_target();

    // Without verification the second bundle's .sig is pushed by digest only.
    let out = sealift(&["load", second.to_str().unwrap(), "--to", &to, "--insecure-skip-verify"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let kept: Vec<&str> = err.lines().filter(|l| l.contains("kept ")).collect();
    assert_eq!(kept.len(), 1, "{err}");
    assert!(kept[0].contains(&format!("sha256-{}.sig", &fx.d1["sha256:".len()..])), "{err}");
    assert!(kept[0].contains(&good) && kept[0].contains("did not verify"), "{err}");
    assert_eq!(sig_at_target(), good, "an unverified .sig replaced a good one");
    let raw = crate::support::skopeo_inspect_raw(&format!("{}/mirror/team/app:1.0", dst.addr));
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), fx.d1);

    // Verified under the site's trust, it replaces the tag.
    let out = sealift(&[&["load", second.to_str().unwrap(), "--to", &to][..], &t].concat());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("kept "), "{err}");
    assert_ne!(sig_at_target(), good, "a verified .sig did not replace the tag");
}

/// Memory on any bundle (issue 7): three images whose configs are 24 MiB each (72 MiB of
/// metadata, all under the 64 MiB per-blob cap) load from a `.tar` (both passes) and from a
/// directory at under 64 MiB peak RSS, the large configs read from their place in the file;
/// the same bundle compressed, where nothing can be re-read, is refused (exit 4) by the cap
/// on what is held, also under 64 MiB.
#[test]
fn large_configs_stay_in_the_file_and_memory_stays_bounded() {
    const CONFIG: usize = 24 * 1024 * 1024;
    let dir = tempdir();
    let desc =
        |mt: &str, b: &[u8]| json!({"mediaType": mt, "digest": format!("sha256:{}", sha256_hex(b)), "size": b.len()});
    let (mut manifests, mut configs, mut layers, mut index) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in 0..3u8 {
        let mut config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"pad":""#.to_vec();
        config.resize(CONFIG - 2, b'a' + n);
        config.extend_from_slice(b"\"}");
        let layer = crate::support::random_bytes(5000);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": desc("application/vnd.oci.image.config.v1+json", &config),
            "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", &layer)],
        }))
        .unwrap();
        let mut entry = desc("application/vnd.oci.image.manifest.v1+json", &manifest);
        entry["annotations"] = json!({"dev.sealift.role": "image", "dev.sealift.repository": format!("127.0.0.1:5000/big/c{n}"), "dev.sealift.tag": "1"});
        index.push(entry);
        manifests.push(manifest);
        configs.push(config);
        layers.push(layer);
    }
    let index = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index}),
    )
    .unwrap();
    let blob = |b: &Vec<u8>| (format!("blobs/sha256/{}", sha256_hex(b)), b.clone());
    let mut entries = vec![
        ("oci-layout".to_owned(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ("index.json".to_owned(), index),
    ];
    entries.extend(manifests.iter().chain(&configs).chain(&layers).map(blob));
    let tar_path = dir.path().join("big.tar");
    write_tar(&tar_path, &entries);
    let layout = crate::support::extract_bundle(&tar_path, dir.path(), "layout");
    let t = tar_path.to_str().unwrap();

    for (what, source, extra) in [
        ("tar", t, None),
        ("tar --check-first", t, Some("--check-first")),
        ("directory", layout.to_str().unwrap(), None),
    ] {
        let dst = TestRegistry::start();
        let mut args = vec!["load", source, "--to", &dst.addr, "--insecure-skip-verify"];
        args.extend(extra);
        let (out, rss) = sealift_rss(&args);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
        eprintln!("{what}: peak RSS {rss} KiB");
        assert!(rss < 64 * 1024, "{what}: peak RSS {rss} KiB");
        for (n, config) in configs.iter().enumerate() {
            let path = format!("/v2/big/c{n}/blobs/sha256:{}", sha256_hex(config));
            let r = Raw::new(&dst.addr).request("GET", &path, &[], b"");
            assert_eq!((r.status, r.body.len()), (200, CONFIG), "{what}: config {n} at the target");
            assert!(r.body == *config, "{what}: config {n} bytes differ");
        }
    }
    let (out, rss) = sealift_rss(&["inspect", t]);
    assert_eq!(out.status.code(), Some(0), "inspect: {}", stderr(&out));
    assert!(rss < 64 * 1024, "inspect: peak RSS {rss} KiB");

    let z = std::process::Command::new("zstd").args(["-q", "-1", "-k", t]).output();
    assert!(z.is_ok_and(|o| o.status.success()), "zstd is needed: apt-get install zstd");
    let zst = dir.path().join("big.tar.zst");
    let dst = TestRegistry::start();
    let (out, rss) = sealift_rss(&["load", zst.to_str().unwrap(), "--to", &dst.addr, "--insecure-skip-verify"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("held in memory") && err.contains("decompress it"), "{err}");
    assert!(rss < 64 * 1024, "compressed: peak RSS {rss} KiB");
    assert_eq!(catalog(&dst)["repositories"], json!([]));
}

/// One image manifest of a tiny layer and `config`, with `annotations`.
fn manifest_with(config: &[u8], layer: &[u8], annotations: &Value) -> Vec<u8> {
    let desc =
        |mt: &str, b: &[u8]| json!({"mediaType": mt, "digest": format!("sha256:{}", sha256_hex(b)), "size": b.len()});
    serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", config),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar", layer)],
        "annotations": annotations,
    }))
    .unwrap()
}

/// `n` annotations `"<prefix><i>": ""`: the JSON that costs most memory per byte once parsed.
fn tiny_annotations(prefix: &str, n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("{prefix}{i:x}"), json!(""))).collect())
}

/// A bundle of `images` images, each with a `config_size` config (held in memory: not over
/// 1 MiB) and `values` tiny annotations split between its `index.json` entry and its manifest.
/// With `seal` bytes, they are its `sealift-index.json` (after `index.json`, as sealift writes).
fn metadata_heavy_bundle(
    dir: &Path,
    name: &str,
    images: usize,
    config_size: usize,
    values: usize,
    seal: Option<Vec<u8>>,
) -> PathBuf {
    let layer = b"a layer".to_vec();
    let (mut index, mut blobs) = (Vec::new(), Vec::new());
    for n in 0..images {
        let mut config = format!(r#"{{"architecture":"amd64","os":"linux","n":{n},"pad":""#).into_bytes();
        config.resize(config_size - 2, b'p');
        config.extend_from_slice(b"\"}");
        let m = manifest_with(&config, &layer, &tiny_annotations("m", values / 4));
        let mut ann = tiny_annotations("e", values / 4);
        ann["dev.sealift.role"] = json!("image");
        ann["dev.sealift.repository"] = json!(format!("127.0.0.1:5000/heavy/i{n}"));
        ann["dev.sealift.tag"] = json!("1");
        index.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256_hex(&m)), "size": m.len(), "annotations": ann}));
        blobs.push(m);
        blobs.push(config);
    }
    blobs.push(layer);
    let index = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index}),
    )
    .unwrap();
    let mut entries = vec![
        ("oci-layout".to_owned(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ("index.json".to_owned(), index),
    ];
    entries.extend(seal.map(|s| ("sealift-index.json".to_owned(), s)));
    entries.extend(blobs.into_iter().map(|b| (format!("blobs/sha256/{}", sha256_hex(&b)), b)));
    let path = dir.join(format!("{name}.tar"));
    write_tar(&path, &entries);
    path
}

/// Memory on hostile metadata (issue 7): JSON of tiny values parses into many times its
/// size (a 4 MiB `index.json` of empty annotations took 110 MiB, 32 MiB of such manifests
/// 350 MiB). Every command that reads a bundle stays under 64 MiB peak RSS on the worst
/// bundles the metadata budget lets through (held bytes and parsed values near their caps
/// at once, from a `.tar` and from a directory), and refuses the ones past it (exit 4,
/// naming the document) before parsing them.
#[test]
fn metadata_at_its_budget_stays_under_64_mib() {
    use sealift::content::budget::{MAX_HELD_BYTES, MAX_JSON_VALUES};
    let dir = tempdir();
    let (_, public) = keypair(dir.path(), "k");
    // Near both caps at once: 1 MiB configs held up to 3 MiB below the bytes cap (the
    // annotations take about 2 MiB, counted twice), and
    // 95% of the values cap in tiny annotations.
    let images = (MAX_HELD_BYTES >> 20) as usize - 3;
    let full = metadata_heavy_bundle(
        dir.path(),
        "full",
        images,
        1024 * 1024,
        MAX_JSON_VALUES as usize * 95 / 100 / images,
        None,
    );
    let full_dir = crate::support::extract_bundle(&full, dir.path(), "full-layout");
    // Past the values cap in index.json alone: 3.6 MiB of empty annotations.
    let values = metadata_heavy_bundle(dir.path(), "values", 1, 1000, 1_200_000, None);
    // Past the bytes cap: held configs of 1 MiB, one more than fit.
    let bytes = metadata_heavy_bundle(dir.path(), "bytes", (MAX_HELD_BYTES >> 20) as usize + 1, 1024 * 1024, 8, None);
    let image = "127.0.0.1:5000/heavy/i0:1";
    for (bundle, refusal) in [
        (full.to_str().unwrap(), None),
        (full_dir.to_str().unwrap(), None),
        (values.to_str().unwrap(), Some("parsed JSON values at index.json")),
        (bytes.to_str().unwrap(), Some("held in memory would exceed")),
    ] {
        let dst = TestRegistry::start();
        let to = format!("{}/mirror", dst.addr);
        for (what, args, code) in [
            ("load", vec!["load", bundle, "--to", &to, "--insecure-skip-verify"], 0),
            ("load --dry-run", vec!["load", bundle, "--to", &to, "--key", &public, "--dry-run"], 1),
            ("inspect", vec!["inspect", bundle], 0),
            ("audit", vec!["audit", bundle, "--key", &public], 1),
            ("verify --bundle", vec!["verify", image, "--bundle", bundle, "--key", &public], 1),
        ] {
            let (out, rss) = sealift_rss(&args);
            let err = stderr(&out);
            eprintln!("{bundle} {what}: peak RSS {rss} KiB, exit {:?}", out.status.code());
            match refusal {
                None => assert_eq!(out.status.code(), Some(code), "{bundle} {what}: {err}"),
                Some(reason) => {
                    assert_eq!(out.status.code(), Some(4), "{bundle} {what}: {err}");
                    assert!(err.contains(reason), "{bundle} {what}: {err}");
                }
            }
            assert!(rss < 64 * 1024, "{bundle} {what}: peak RSS {rss} KiB");
        }
        match refusal {
            None => assert_eq!(catalog(&dst)["repositories"].as_array().map(Vec::len), Some(images), "{bundle}"),
            Some(_) => assert_eq!(catalog(&dst)["repositories"], json!([]), "{bundle}"),
        }
    }

    // A seal index near its cap, one long string (read whole, held, then parsed): counted
    // twice it nearly fills the bytes cap; one a little bigger is past it. Either way the
    // seal does not verify (a made-up one), and memory stays bounded.
    let pad = |size: u64| {
        let mut s = br#"{"schema":"x","pad":""#.to_vec();
        s.resize(size as usize - 2, b'p');
        s.extend_from_slice(b"\"}");
        s
    };
    let near = MAX_HELD_BYTES / 2 - 256 * 1024;
    for (size, over) in [(near, false), (sealift::bundle::names::MAX_SEAL_INDEX, true)] {
        let b = metadata_heavy_bundle(dir.path(), "seal", 1, 1000, 8, Some(pad(size)));
        let bundle = b.to_str().unwrap();
        let dst = TestRegistry::start();
        let to = format!("{}/mirror", dst.addr);
        for args in [
            vec!["load", bundle, "--to", &to, "--insecure-skip-verify"],
            vec!["inspect", bundle],
            vec!["audit", bundle, "--key", &public],
        ] {
            let (out, rss) = sealift_rss(&args);
            let err = stderr(&out);
            eprintln!("seal of {size} bytes, {}: peak RSS {rss} KiB, exit {:?}", args[0], out.status.code());
            assert!(matches!(out.status.code(), Some(0 | 1 | 4)), "seal of {size} bytes, {args:?}: {err}");
            if over {
                assert!(err.contains("held in memory would exceed"), "{args:?}: {err}");
            }
            assert!(rss < 64 * 1024, "seal of {size} bytes, {}: peak RSS {rss} KiB", args[0]);
        }
    }
}
