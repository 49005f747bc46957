//! Faults a real registry cannot be made to show on cue, from the in-process fake server:
//! a target that fails mid-push gets a clear one-line error, and no manifest or tag ever
//! reaches it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::{ok_all, random_image, sealift, tempdir, FakeResponse, FakeServer, TestRegistry};

#[test]
fn a_target_failing_mid_push_gets_no_manifest_and_a_clear_error() {
    let src = TestRegistry::start();
    random_image(&src.addr, "team/app", "1.0", &[50_000, 60_000, 70_000]);
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    ok_all(&sealift(&["save", &format!("{}/team/app:1.0", src.addr), "-o", bundle.to_str().unwrap()]));

    let (out, puts) = load_into_a_disk_full_target(&bundle);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let last = err.trim().lines().last().unwrap();
    assert!(last.starts_with("sealift: error:") && last.contains("disk full") && last.contains("team/app"), "{err}");
    assert!(
        !puts.iter().any(|p| p.contains("/manifests/")),
        "no manifest or tag may be pushed after a failed blob: {puts:?}"
    );
    assert!(puts.iter().filter(|p| p.contains("/blobs/uploads/")).count() >= 2, "the fault was reached: {puts:?}");
}

/// Loads `bundle` into a fake target whose first blob upload lands and every later one fails
/// with a 500 "disk full"; returns sealift's output and every PUT the target saw.
fn load_into_a_disk_full_target(bundle: &std::path::Path) -> (std::process::Output, Vec<String>) {
    let uploads = Arc::new(AtomicUsize::new(0));
    let counter = uploads.clone();
    let fake = FakeServer::start(move |req, _| {
        let t = req.target.as_str();
        match req.method.as_str() {
            "GET" if t == "/v2/" => FakeResponse::new(200),
            "HEAD" => FakeResponse::new(404),
            "POST" if t.contains("/blobs/uploads/") => FakeResponse::new(202)
                .header("Location", &format!("/v2/team/app/blobs/uploads/u{}", counter.load(Ordering::SeqCst))),
            "PUT" if t.contains("/blobs/uploads/") => {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    FakeResponse::new(201)
                } else {
                    FakeResponse::new(500).body(r#"{"errors":[{"code":"UNKNOWN","message":"disk full"}]}"#)
                }
            }
            _ => FakeResponse::new(404),
        }
    });
    let out =
        sealift(&["load", "--insecure-skip-verify", "--retries", "0", bundle.to_str().unwrap(), "--to", &fake.addr]);
    let puts = fake.requests.lock().unwrap().iter().filter(|r| r.method == "PUT").map(|r| r.target.clone()).collect();
    (out, puts)
}

/// `--retries N` is obeyed: a target that answers every upload start with 503 sees one try
/// with `--retries 0` and three with `--retries 2`, then a one-line error (exit 3).
#[test]
fn retries_flag_sets_how_often_a_failing_request_is_tried() {
    let src = TestRegistry::start();
    random_image(&src.addr, "team/app", "1.0", &[1000]);
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    ok_all(&sealift(&["save", &format!("{}/team/app:1.0", src.addr), "-o", bundle.to_str().unwrap()]));
    for (retries, tries) in [("0", 1), ("2", 3)] {
        let fake = FakeServer::start(|req, _| match req.method.as_str() {
            "GET" if req.target == "/v2/" => FakeResponse::new(200),
            "HEAD" => FakeResponse::new(404),
            "POST" => FakeResponse::new(503).body(r#"{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}"#),
            _ => FakeResponse::new(404),
        });
        let out = sealift(&[
            "load",
            "--insecure-skip-verify",
            "--jobs",
            "1",
            "--retries",
            retries,
            bundle.to_str().unwrap(),
            "--to",
            &fake.addr,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
        assert!(errors.len() == 1 && errors[0].contains("503"), "one error line naming the answer: {err}");
        let posts = fake.requests.lock().unwrap().iter().filter(|r| r.method == "POST").count();
        assert_eq!(posts, tries, "--retries {retries}: {err}");
    }
}

/// The target's repository list, straight from the registry.
fn catalog(reg: &TestRegistry) -> serde_json::Value {
    let r = crate::support::Raw::new(&reg.addr).request("GET", "/v2/_catalog", &[], b"");
    serde_json::from_slice(&r.body).unwrap()
}

/// A corrupt uncompressed bundle or layout directory is refused before anything at all is
/// uploaded: the target's catalog stays empty. Reports about it refuse it too.
#[test]
fn corrupt_tar_or_directory_leaves_the_target_untouched() {
    let w = crate::save_load::World::new();
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    ok_all(&w.save(&bundle, &[]));
    let base = sealift::oci::Digest::of(&w.base);
    let (_, offset, _) = crate::save_load::tar_entries(&bundle).into_iter().find(|e| e.0 == base.blob_path()).unwrap();
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes[offset as usize + 100] ^= 0x40;
    std::fs::write(&bundle, &bytes).unwrap();
    let layout = crate::support::extract_bundle(&bundle, dir.path(), "layout");
    for source in [&bundle, &layout] {
        // --check-first: every blob is hashed before the first upload.
        let dst = TestRegistry::start();
        let args = ["load", "--insecure-skip-verify", source.to_str().unwrap(), "--to", &dst.addr, "--check-first"];
        let out = sealift(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{}: {err}", source.display());
        assert!(err.contains(&base.to_string()), "{err}");
        assert_eq!(catalog(&dst)["repositories"], serde_json::json!([]), "{} changed the target", source.display());
        // The default one pass: the corrupt layer fails its own upload; only blobs remain
        // (content-addressed, checked by the registry), no manifest and no tag.
        let dst = TestRegistry::start();
        let out = sealift(&args[..5]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{}: {err}", source.display());
        assert!(err.contains(&base.to_string()), "{err}");
        assert_no_manifests(&dst, &w);
    }
    // verify --bundle and audit read every blob too, sealed or not.
    let key = crate::seal::openssl_keypair(dir.path(), "k").1;
    for args in [
        vec!["verify", "--bundle", bundle.to_str().unwrap(), "--key", &key],
        vec!["audit", bundle.to_str().unwrap(), "--key", &key],
    ] {
        let out = sealift(&args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Every repository at `dst` has no tag, and neither of `w`'s images is there by digest.
fn assert_no_manifests(dst: &TestRegistry, w: &crate::save_load::World) {
    let repos = catalog(dst)["repositories"].as_array().cloned().unwrap_or_default();
    for repo in &repos {
        let repo = repo.as_str().unwrap();
        let tags = crate::support::Raw::new(&dst.addr).request("GET", &format!("/v2/{repo}/tags/list"), &[], b"");
        let listed: serde_json::Value = serde_json::from_slice(&tags.body).unwrap_or(serde_json::Value::Null);
        assert!(listed["tags"].as_array().is_none_or(|t| t.is_empty()), "tags in {repo}: {listed}");
        let mut digests = vec![&w.index.digest, &w.amd64.digest, &w.arm64.digest, &w.app.digest, &w.tool.digest];
        digests.extend(w.attachments.iter().map(|(_, p)| &p.digest));
        for d in digests {
            let r = crate::support::Raw::new(&dst.addr).request("HEAD", &format!("/v2/{repo}/manifests/{d}"), &[], b"");
            assert_ne!(r.status, 200, "manifest {d} reached {repo}");
        }
    }
}

/// Outputs are replaced by a rename: never over a device, a link or "-"; malformed inputs
/// are usage errors (2), unreadable ones could-not-check (3).
#[test]
fn outputs_and_inputs_named_on_the_command_line() {
    let src = TestRegistry::start();
    random_image(&src.addr, "a/b", "1", &[100]);
    let dir = tempdir();
    let r = format!("{}/a/b:1", src.addr);
    let target = dir.path().join("target.tar");
    std::fs::write(&target, b"keep me").unwrap();
    let link = dir.path().join("link.tar");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for out in [link.to_str().unwrap(), "-"] {
        let o = sealift(&["save", &r, "-o", out]);
        assert_eq!(o.status.code(), Some(2), "{out}: {}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    let (_, public) = crate::seal::openssl_keypair(dir.path(), "k");
    let bundle = dir.path().join("b.tar");
    let o = sealift(&["save", &r, "-o", bundle.to_str().unwrap(), "--sign-key", &public]);
    assert_eq!(o.status.code(), Some(2), "a public key as --sign-key: {}", String::from_utf8_lossy(&o.stderr));
    let o = sealift(&["save", &r, "-o", bundle.to_str().unwrap(), "--sign-key", "/nonexistent/key.pem"]);
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    let o = sealift(&["load", "--insecure-skip-verify", bundle.to_str().unwrap(), "--to", "127.0.0.1:1:5000"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
}
