//! Promises of the README and docs that no other module tests: each test here is a row of
//! docs/guarantees.md (which says how each was seen to fail with the promise broken).

use std::io::Write;
use std::process::Output;

use sealift::oci::Digest;
use serde_json::{json, Value};

use crate::save_load::{tar_entries, World};
use crate::support::cosign;
use crate::support::{ok_all, random_image, run, sealift, sealift_with, tempdir, Presence, TestRegistry};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one `sealift: error:` line of a failed run.
fn error_line(out: &Output) -> String {
    let err = stderr(out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("sealift: error:")).collect();
    assert_eq!(errors.len(), 1, "exactly one error line: {err}");
    // One line means nothing after it either (no "Caused by:" chain, no backtrace).
    assert_eq!(err.trim_end().lines().last(), Some(errors[0]), "the error is one line, the last: {err}");
    errors[0].to_owned()
}

/// Every manifest of the world (images, platforms, attachments) with its repository.
fn all_manifests(w: &World) -> Vec<(String, Digest)> {
    let mut v: Vec<(String, Digest)> = [
        ("team/multi", &w.index),
        ("team/multi", &w.amd64),
        ("team/multi", &w.arm64),
        ("team/app", &w.app),
        ("other/tool", &w.tool),
    ]
    .iter()
    .map(|(r, m)| (r.to_string(), m.digest.clone()))
    .collect();
    v.extend(w.attachments.iter().map(|(r, a)| (r.clone(), a.digest.clone())));
    v
}

/// No manifest of the world (under `prefix`) and no tag at all reached `dst` (blobs may have).
fn assert_no_manifest_or_tag(w: &World, dst: &TestRegistry, prefix: &str, why: &str) {
    for (repo, digest) in all_manifests(w) {
        dst.assert_absent(&format!("{prefix}{repo}"), &digest.to_string(), why);
    }
    for repo in dst.catalog() {
        let r = crate::support::Raw::new(&dst.addr).request("GET", &format!("/v2/{repo}/tags/list"), &[], b"");
        let tags = if r.status == 200 {
            serde_json::from_slice::<Value>(&r.body).unwrap()["tags"].clone()
        } else {
            Value::Null
        };
        assert!(tags.is_null() || tags == json!([]), "{repo} has tags {tags} after {why}");
    }
}

/// README: "A compressed bundle streams into the uploads: there, blobs uploaded before a
/// corrupt one remain (never a manifest or tag)."
#[test]
fn a_corrupt_compressed_bundle_pushes_no_manifest_or_tag() {
    let w = World::new();
    let dir = tempdir();
    let plain = dir.path().join("b.tar");
    ok_all(&w.save(&plain, &[]));
    let base = Digest::of(&w.base);
    let (_, offset, _) = tar_entries(&plain).into_iter().find(|e| e.0 == base.blob_path()).unwrap();
    let mut bytes = std::fs::read(&plain).unwrap();
    bytes[offset as usize + 5000] ^= 0x10;
    for name in ["bad.tar.zst", "bad.tar.gz"] {
        let path = dir.path().join(name);
        // A well-formed compressed stream of a tar whose base layer has one flipped bit.
        let compressed = if name.ends_with("zst") {
            zstd::encode_all(&bytes[..], 3).unwrap()
        } else {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&bytes).unwrap();
            gz.finish().unwrap()
        };
        std::fs::write(&path, compressed).unwrap();
        let dst = TestRegistry::start();
        let out = w.load(&path, &format!("{}/m", dst.addr), &[]);
        assert_eq!(out.status.code(), Some(4), "{name}: {}", stderr(&out));
        assert!(error_line(&out).contains(&base.to_string()), "{name}: the error names the blob: {}", stderr(&out));
        assert_no_manifest_or_tag(&w, &dst, "m/", name);
    }
    // The control: the same bytes, uncorrupted and compressed the same way, load.
    let good = dir.path().join("good.tar.zst");
    std::fs::write(&good, zstd::encode_all(&std::fs::read(&plain).unwrap()[..], 3).unwrap()).unwrap();
    let dst = TestRegistry::start();
    ok_all(&w.load(&good, &format!("{}/m", dst.addr), &[]));
    dst.assert_present("m/team/app", "1.0", &w.app.bytes);
}

/// README: "Files you write appear atomically": a save that fails while writing (a layer
/// the source cannot serve, after the manifests were read) leaves nothing under the final
/// name, keeps the file that was there, and leaves no temporary file.
#[test]
fn a_save_failing_midway_keeps_the_existing_file_and_leaves_nothing() {
    let src = TestRegistry::start();
    let img = random_image(&src.addr, "team/app", "1.0", &[40_000, 50_000, 60_000]);
    // Remove the last layer's data from the registry's own storage: the manifest and the
    // first layers are served, that one fails.
    let (last, _) = img.layers.last().unwrap();
    let data = src.blob_data_path(last);
    std::fs::remove_file(&data).unwrap_or_else(|e| panic!("{}: {e}", data.display()));
    let dir = tempdir();
    for name in ["b.tar", "b.tar.zst"] {
        let out_path = dir.path().join(name);
        std::fs::write(&out_path, b"keep me").unwrap();
        let out = sealift(&["save", &format!("{}/team/app:1.0", src.addr), "-o", out_path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        assert!(error_line(&out).contains(&last.to_string()), "{name}: names the blob: {}", stderr(&out));
        assert_eq!(std::fs::read(&out_path).unwrap(), b"keep me", "{name}: the existing file is kept");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1, "{name}: no temporary file left: {names:?}");
        std::fs::remove_file(&out_path).unwrap();
    }
}

/// `save --spec` end to end (README, `make pack`), and the exit codes of the README table:
/// 2 for a malformed spec, 3 for an output that cannot be written.
#[test]
fn save_spec_end_to_end_and_its_errors() {
    let w = World::new();
    let dir = tempdir();
    let spec = dir.path().join("site.toml");
    let refs: Vec<String> = w.refs().iter().map(|r| format!("  \"{r}\",\n")).collect();
    std::fs::write(
        &spec,
        format!("# the site's images\nimages = [\n{}]\nplatforms = [\"linux/arm64\"]\n", refs.concat()),
    )
    .unwrap();
    let bundle = dir.path().join("spec.tar");
    ok_all(&sealift(&["save", "--spec", spec.to_str().unwrap(), "-o", bundle.to_str().unwrap()]));
    let dst = TestRegistry::start();
    ok_all(&w.load(&bundle, &dst.addr, &[]));
    dst.assert_present("team/app", "1.0", &w.app.bytes);
    dst.assert_present("other/tool", "2.0", &w.tool.bytes);
    // The spec's platforms apply: arm64 only, the index is not pushed.
    dst.assert_present("team/multi", "1.0-linux-arm64-v8", &w.arm64.bytes);
    dst.assert_absent("team/multi", "1.0", "the spec keeps linux/arm64 only");
    dst.assert_absent("team/multi", &w.amd64.digest.to_string(), "the spec keeps linux/arm64 only");

    let out_path = dir.path().join("x.tar");
    let o = out_path.to_str().unwrap();
    for (name, text, needle) in [
        ("unclosed.toml", "images = [\n", "unclosed.toml"),
        ("misspelt.toml", "imagez = [\"127.0.0.1:5000/a:1\"]\n", "imagez"),
        ("badref.toml", "images = [\"127.0.0.1:5000/Bad:1\"]\n", "Bad:1"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = sealift(&["save", "--spec", path.to_str().unwrap(), "-o", o]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(error_line(&out).contains(needle), "{name}: {}", stderr(&out));
    }
    let out = sealift(&["save", "--spec", dir.path().join("absent.toml").to_str().unwrap(), "-o", o]);
    assert_eq!(out.status.code(), Some(3), "an unreadable spec: {}", stderr(&out));
    // Outputs that cannot be written: exit 3 naming the path, before any registry is asked.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    for bad in [dir.path().join("missing-dir/x.tar"), file.join("x.tar")] {
        let out = sealift(&["save", &w.refs()[1], "-o", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(3), "{}: {}", bad.display(), stderr(&out));
        assert!(error_line(&out).contains(bad.parent().unwrap().to_str().unwrap()), "{}", stderr(&out));
    }
    assert!(!out_path.exists());
}

/// Sealing with a deterministic signature (Ed25519) and `SOURCE_DATE_EPOCH` gives
/// byte-identical sealed bundles, whose seal records that time.
#[test]
fn source_date_epoch_gives_byte_identical_sealed_bundles() {
    let w = World::new();
    let dir = tempdir();
    let key = dir.path().join("ed.key");
    let openssl = |args: &[&str]| {
        let o = run(std::process::Command::new("openssl").args(args), b"");
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", key.to_str().unwrap()]);
    let public = dir.path().join("ed.pub");
    openssl(&["pkey", "-in", key.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()]);
    let save = |name: &str, epoch: &str| {
        let out_path = dir.path().join(name);
        let mut args = vec!["save".to_owned()];
        args.extend(w.refs());
        args.extend([
            "-o".into(),
            out_path.to_str().unwrap().into(),
            "--sign-key".into(),
            key.to_str().unwrap().into(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok_all(&sealift_with(&args, b"", &[("SOURCE_DATE_EPOCH", epoch)]));
        std::fs::read(out_path).unwrap()
    };
    let a = save("a.tar", "1700000000");
    let b = save("b.tar", "1700000000");
    assert!(a == b, "same inputs and SOURCE_DATE_EPOCH: byte-identical sealed bundles");
    let c = save("c.tar", "1700000001");
    assert!(a != c, "the control: another SOURCE_DATE_EPOCH, another seal");
    let mut archive = tar::Archive::new(&a[..]);
    let seal = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().unwrap().to_str() == Some("sealift-index.json"))
        .map(|mut e| {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            s
        })
        .expect("a sealed bundle has a seal index");
    let seal: Value = serde_json::from_str(&seal).unwrap();
    assert_eq!(seal["created"], "2023-11-14T22:13:20Z");
    // And it loads under the Ed25519 key.
    let bundle = dir.path().join("a.tar");
    let dst = TestRegistry::start();
    let said = ok_all(&w.load(&bundle, &dst.addr, &["--bundle-key", public.to_str().unwrap()]));
    assert!(said.contains("seal verified"), "{said}");
}

/// A seal made with a certificate (`--sign-certificate`, `--sign-certificate-chain`)
/// verifies under `--bundle-ca-roots` and is refused under another root; a sealed bundle
/// loaded without any bundle trust loads with a warning that the seal was not checked.
#[test]
fn certificate_seals_and_sealed_bundles_without_bundle_trust() {
    let w = World::new();
    let dir = tempdir();
    let d = dir.path();
    for (name, san) in [("pki", "email:sealer@site.example"), ("other", "email:sealer@site.example")] {
        let out = d.join(name);
        ok_all(&sealift(&["certs", "create", "--out", out.to_str().unwrap(), "--san", san, "--days", "2"]));
    }
    let pki = d.join("pki");
    let p = |f: &str| pki.join(f).to_str().unwrap().to_owned();
    let bundle = d.join("sealed.tar");
    let said = ok_all(&w.save(
        &bundle,
        &[
            "--sign-key",
            &p("leaf.key"),
            "--sign-certificate",
            &p("leaf.crt"),
            "--sign-certificate-chain",
            &p("certificate_chain.pem"),
        ],
    ));
    assert!(said.contains("sealed"), "{said}");

    let dst = TestRegistry::start();
    let said = ok_all(&w.load(
        &bundle,
        &dst.addr,
        &["--bundle-ca-roots", &p("ca.crt"), "--bundle-identity-regexp", "^sealer@site\\.example$"],
    ));
    assert!(said.contains("seal verified"), "{said}");
    dst.assert_present("team/app", "1.0", &w.app.bytes);

    // Another root: rejected, nothing pushed.
    let other_root = d.join("other/ca.crt");
    let dst = TestRegistry::start();
    let out = w.load(
        &bundle,
        &dst.addr,
        &["--bundle-ca-roots", other_root.to_str().unwrap(), "--bundle-identity-regexp", "sealer"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(error_line(&out).contains("seal"), "{}", stderr(&out));
    assert_eq!(dst.catalog(), Vec::<String>::new(), "nothing pushed under a rejected seal");

    // The right root but another identity: rejected too.
    let dst = TestRegistry::start();
    let out = w.load(&bundle, &dst.addr, &["--bundle-ca-roots", &p("ca.crt"), "--bundle-identity-regexp", "^someone@"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(dst.catalog(), Vec::<String>::new());

    // No bundle trust at all: the images are still verified (--key), the seal is not, and
    // load says so.
    let dst = TestRegistry::start();
    let out = w.load(&bundle, &dst.addr, &[]);
    let said = ok_all(&out);
    assert!(stderr(&out).contains("seal not checked"), "{said}");
    dst.assert_present("team/app", "1.0", &w.app.bytes);
}

/// A FakeServer registry that demands a bearer token (from its own token endpoint, which
/// demands basic credentials) and serves one small image: what a token-auth registry does,
/// which the test's docker-registry cannot be set up to do without a token service.
fn bearer_registry(user: &'static str, pass: &'static str, token: &'static str) -> crate::support::FakeServer {
    use crate::support::{FakeResponse, FakeServer};
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let cd = Digest::of(&config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[]}}"#,
        config.len()
    )
    .into_bytes();
    let md = Digest::of(&manifest);
    FakeServer::bearer(user, pass, token, "repository:team/app:pull", move |req| {
        let t = req.target.as_str();
        let is_manifest = t == "/v2/team/app/manifests/1.0" || t == format!("/v2/team/app/manifests/{md}");
        match req.method.as_str() {
            "GET" | "HEAD" if t == "/v2/" => FakeResponse::new(200),
            "GET" | "HEAD" if is_manifest => FakeResponse::new(200)
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .header("Docker-Content-Digest", &md.to_string())
                .body(if req.method == "GET" { manifest.clone() } else { Vec::new() }),
            "GET" if t == format!("/v2/team/app/blobs/{cd}") => FakeResponse::new(200).body(config.clone()),
            _ => FakeResponse::new(404)
                .header("Content-Type", "application/json")
                .body(r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#),
        }
    })
}

/// README: "Credentials never appear in output", checked on the most verbose output of
/// successful runs: basic auth from stdin and from the Docker config, a credential
/// helper, and a bearer token (with the basic credentials that fetched it).
#[test]
fn credentials_never_appear_in_verbose_output() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let src = TestRegistry::start_with_auth("alice", "pw-Basic-7f3e");
    crate::support::Raw::new(&src.addr).with_basic("alice", "pw-Basic-7f3e").random_image("team/app", "1.0", &[1000]);
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    let b = bundle.to_str().unwrap();
    let reference = format!("{}/team/app:1.0", src.addr);
    let secrets = |extra: &[&str]| {
        let mut s = vec!["pw-Basic-7f3e".to_owned(), b64("alice:pw-Basic-7f3e")];
        s.extend(extra.iter().map(|e| e.to_string()));
        s
    };
    let check = |what: &str, out: &Output, secrets: &[String]| {
        let all = ok_all(out);
        let level = if what.ends_with("-vv") { " DEBUG " } else { " INFO " };
        assert!(all.contains(level), "{what}: the verbose output is there: {all}");
        for s in secrets {
            assert!(!all.contains(s.as_str()), "{what}: a credential is in the output: {all}");
        }
    };
    for v in ["-v", "-vv"] {
        let out = sealift_with(
            &["save", &reference, "-o", b, v, "--username", "alice", "--password-stdin"],
            b"pw-Basic-7f3e\n",
            &[],
        );
        check(&format!("basic from stdin {v}"), &out, &secrets(&[]));

        let cfg = tempdir();
        std::fs::write(
            cfg.path().join("config.json"),
            json!({"auths": {src.addr.clone(): {"auth": b64("alice:pw-Basic-7f3e")}}}).to_string(),
        )
        .unwrap();
        let out =
            sealift_with(&["save", &reference, "-o", b, v], b"", &[("DOCKER_CONFIG", cfg.path().to_str().unwrap())]);
        check(&format!("docker config {v}"), &out, &secrets(&[]));

        // A credential helper on PATH, named in the Docker config.
        let helper_dir = tempdir();
        let helper = helper_dir.path().join("docker-credential-sealifttest");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"pw-Basic-7f3e\"}' \"$server\"\n",
        )
        .unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&helper).unwrap().permissions(), 0o755);
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let cfg = tempdir();
        std::fs::write(
            cfg.path().join("config.json"),
            json!({"credHelpers": {src.addr.clone(): "sealifttest"}}).to_string(),
        )
        .unwrap();
        let path = format!("{}:{}", helper_dir.path().display(), std::env::var("PATH").unwrap());
        let out = sealift_with(
            &["save", &reference, "-o", b, v],
            b"",
            &[("DOCKER_CONFIG", cfg.path().to_str().unwrap()), ("PATH", &path)],
        );
        check(&format!("credential helper {v}"), &out, &secrets(&[]));

        // Bearer: basic credentials buy a token; neither may show.
        let fake = bearer_registry("bob", "pw-Token-91ac", "tok-Secret-5d2b");
        let fake_ref = format!("{}/team/app:1.0", fake.addr);
        let out = sealift_with(
            &["save", &fake_ref, "-o", b, v, "--username", "bob", "--password-stdin"],
            b"pw-Token-91ac",
            &[],
        );
        check(
            &format!("bearer {v}"),
            &out,
            &["pw-Token-91ac".to_owned(), b64("bob:pw-Token-91ac"), "tok-Secret-5d2b".to_owned()],
        );
        let reqs = fake.requests.lock().unwrap();
        assert!(
            reqs.iter().any(|r| r.header("authorization") == Some("Bearer tok-Secret-5d2b")),
            "the control: the token was used"
        );
    }
}

/// README: verification reads no network, and reads the clock only as the default trusted
/// time: the same certificate signature verifies "now" (and says so), and is refused at an
/// `--at` outside the certificate's validity, whatever the clock says.
#[test]
fn the_trusted_time_is_now_unless_given() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "team/app", "1.0", &[100]);
    let dir = tempdir();
    let d = dir.path();
    ok_all(&sealift(&[
        "certs",
        "create",
        "--out",
        d.to_str().unwrap(),
        "--san",
        "email:signer@site.example",
        "--days",
        "2",
    ]));
    let payload = cosign::payload(&format!("{}/team/app", reg.addr), &img.digest);
    let signature = cosign::openssl_sign(&d.join("leaf.key"), &payload);
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    let manifest = cosign::sig_manifest_with_certificate(
        &payload,
        &signature,
        Some((&read("leaf.crt"), &read("certificate_chain.pem"))),
        b"{}",
    );
    crate::support::push_blob(&reg.addr, "team/app", &payload);
    crate::support::push_blob(&reg.addr, "team/app", b"{}");
    crate::support::push_manifest(
        &reg.addr,
        "team/app",
        &cosign::sig_tag(&img.digest, "sig"),
        &manifest,
        "application/vnd.oci.image.manifest.v1+json",
    );
    let reference = format!("{}/team/app@{}", reg.addr, img.digest);
    let ca = d.join("ca.crt");
    let verify = |at: Option<&str>| {
        let mut args = vec![
            "verify",
            &reference,
            "--output",
            "json",
            "--ca-roots",
            ca.to_str().unwrap(),
            "--certificate-identity",
            "signer@site.example",
        ];
        if let Some(at) = at {
            args.extend(["--at", at]);
        }
        let out = sealift(&args);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), v, stderr(&out))
    };
    let (code, v, err) = verify(None);
    assert_eq!(code, Some(0), "{v:#} {err}");
    let text = v.to_string();
    assert!(text.contains(r#""time_source":"now""#), "the default trusted time is now, and says so: {v:#}");
    let (code, v, err) = verify(Some("2000-01-01T00:00:00Z"));
    assert_eq!(code, Some(1), "before the certificate's validity: {v:#} {err}");
    assert!(v.to_string().contains(r#""time_source":"at""#), "{v:#}");
    let (code, _, err) = verify(Some("not a time"));
    assert_eq!(code, Some(2), "{err}");
}

/// A "must not exist" check that could not tell absence from failure would pass on a
/// broken registry: the helper refuses answers that are not a definite 404 from this
/// test's own registry.
#[test]
fn absence_checks_tell_404_from_failure() {
    let reg = TestRegistry::start_with_auth("u", "p");
    let img = crate::support::Raw::new(&reg.addr).with_basic("u", "p").random_image("a/b", "1", &[10]);
    assert!(matches!(reg.manifest("a/b", "1"), Presence::Present(m) if m == img.manifest));
    assert_eq!(reg.manifest("a/b", "2"), Presence::Absent);
    assert_eq!(reg.manifest("no/such", "1"), Presence::Absent);
    // Without credentials the registry answers 401: neither present nor absent.
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reg.manifest_with(None, "a/b", "2")));
    assert!(failed.is_err(), "a 401 must not count as absence");
}

/// README: umoci reads what sealift wrote. A bundle `sealift save` made of an image with a
/// real tar layer, unpacked with tar as it is (seal files and all), is listed and unpacked
/// by umoci, and the layer's file comes out.
#[test]
fn umoci_unpacks_a_bundle_sealift_saved() {
    crate::support::require_tool("umoci", "umoci");
    let src = TestRegistry::start();
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_cksum();
    layer.append_data(&mut h, "hello.txt", &b"hello\n"[..]).unwrap();
    let layer = layer.into_inner().unwrap();
    let (ld, ls) = crate::support::push_blob(&src.addr, "team/app", &layer);
    let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [ld.to_string()]}}))
    .unwrap();
    let (cd, cs) = crate::support::push_blob(&src.addr, "team/app", &config);
    let img = crate::save_load::put(
        &src,
        "team/app",
        Some("1.0"),
        &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cs},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld.to_string(), "size": ls}]}),
    );
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    let key = crate::support::cosign::OpensslKey::p256(dir.path(), "seal");
    ok_all(&sealift(&[
        "save",
        &format!("{}/team/app:1.0", src.addr),
        "-o",
        bundle.to_str().unwrap(),
        "--sign-key",
        key.private.to_str().unwrap(),
    ]));
    let layout = crate::support::extract_bundle(&bundle, dir.path(), "layout");
    let umoci = |args: &[&str]| {
        let out = run(std::process::Command::new("umoci").args(args), b"");
        assert!(out.status.success(), "umoci {args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let tags = umoci(&["ls", "--layout", layout.to_str().unwrap()]);
    let name = format!("{}/team/app:1.0", src.addr);
    assert_eq!(tags.trim(), name, "the image is listed under its source reference");
    let image = format!("{}:{name}", layout.display());
    let stat = umoci(&["stat", "--json", "--image", &image]);
    assert!(serde_json::from_str::<Value>(&stat).unwrap().is_object(), "{stat}");
    let unpacked = dir.path().join("unpacked");
    umoci(&["unpack", "--rootless", "--image", &image, unpacked.to_str().unwrap()]);
    assert_eq!(std::fs::read(unpacked.join("rootfs/hello.txt")).unwrap(), b"hello\n");
    // umoci read the manifest sealift stored, byte for byte.
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert!(index.to_string().contains(&img.digest.to_string()), "{index}");
}
