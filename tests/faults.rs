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
                // The first upload lands; every later one fails as a full disk would.
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
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let last = err.trim().lines().last().unwrap();
    assert!(last.starts_with("sealift: error:") && last.contains("disk full") && last.contains("team/app"), "{err}");
    let reqs = fake.requests.lock().unwrap();
    assert!(uploads.load(Ordering::SeqCst) >= 2, "the fault was reached");
    assert!(
        !reqs.iter().any(|r| r.method == "PUT" && r.target.contains("/manifests/")),
        "no manifest or tag may be pushed after a failed blob: {:?}",
        reqs.iter().map(|r| format!("{} {}", r.method, r.target)).collect::<Vec<_>>()
    );
}
