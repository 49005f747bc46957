//! Hardening against a hostile registry and an impatient operator (issue 9): credentials
//! stay with their origin, every read is bounded in size and time. The off-origin upload
//! `Location`, the redirect to an origin that asks for credentials, endless and trickled
//! bodies are faults a real registry cannot be made to show: they come from the in-process
//! fake server, serving a tiny image built here.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sealift::oci::{media, Digest};
use serde_json::json;

use crate::support::{
    random_bytes, random_image, sealift, sealift_with, tempdir, FakeRequest, FakeResponse, FakeServer, TestRegistry,
};

/// A one-layer image served by a fake registry as `app:1.0`.
struct FakeImage {
    manifest: Vec<u8>,
    digest: Digest,
    config: Vec<u8>,
    config_digest: Digest,
    layer_digest: Digest,
    layer_size: usize,
}

impl FakeImage {
    fn new(layer_size: usize) -> Arc<FakeImage> {
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
        let layer = random_bytes(layer_size);
        let (config_digest, layer_digest) = (Digest::of(&config), Digest::of(&layer));
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest.to_string(), "size": layer_size}],
        }))
        .unwrap();
        Arc::new(FakeImage { digest: Digest::of(&manifest), manifest, config, config_digest, layer_digest, layer_size })
    }

    /// The answer for everything but the layer blob (`None` for that one).
    fn answer(&self, req: &FakeRequest) -> Option<FakeResponse> {
        let t = req.target.as_str();
        if t == "/v2/" {
            return Some(FakeResponse::new(200));
        }
        if t == "/v2/app/manifests/1.0" || t == format!("/v2/app/manifests/{}", self.digest) {
            return Some(
                FakeResponse::new(200)
                    .header("Content-Type", media::OCI_MANIFEST)
                    .header("Docker-Content-Digest", &self.digest.to_string())
                    .body(self.manifest.clone()),
            );
        }
        if t == format!("/v2/app/blobs/{}", self.config_digest) {
            return Some(FakeResponse::new(200).body(self.config.clone()));
        }
        if t == format!("/v2/app/blobs/{}", self.layer_digest) {
            return None;
        }
        Some(FakeResponse::new(404))
    }
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A bundle of a small image saved from a real registry.
fn small_bundle(dir: &std::path::Path) -> String {
    let src = TestRegistry::start();
    random_image(&src.addr, "team/app", "1.0", &[3000, 4000]);
    let bundle = dir.join("b.tar");
    crate::support::ok_all(&sealift(&["save", &format!("{}/team/app:1.0", src.addr), "-o", bundle.to_str().unwrap()]));
    bundle.to_str().unwrap().to_owned()
}

/// A target with Basic auth whose uploads go to `upload_origin` (an absolute `Location`).
fn basic_auth_target(password: &'static str, upload_origin: String) -> FakeServer {
    FakeServer::start(move |req, n| {
        if req.header("authorization") != Some(basic("bob", password).as_str()) {
            return FakeResponse::new(401).header("WWW-Authenticate", r#"Basic realm="fake""#);
        }
        let t = req.target.as_str();
        match req.method.as_str() {
            "GET" if t == "/v2/" => FakeResponse::new(200),
            "POST" if t.contains("/blobs/uploads/") => {
                FakeResponse::new(202).header("Location", &format!("{upload_origin}/upload/{n}"))
            }
            "PUT" if t.contains("/manifests/") => FakeResponse::new(201),
            _ => FakeResponse::new(404),
        }
    })
}

#[test]
fn load_sends_no_credentials_to_an_upload_location_on_another_origin() {
    let dir = tempdir();
    let bundle = small_bundle(dir.path());
    let elsewhere = FakeServer::start(|req, _| match req.method.as_str() {
        "PUT" => FakeResponse::new(201),
        _ => FakeResponse::new(404),
    });
    let target = basic_auth_target("pw2", format!("http://{}", elsewhere.addr));
    let out = sealift_with(
        &["load", "--insecure-skip-verify", &bundle, "--to", &target.addr, "--username", "bob", "--password-stdin"],
        b"pw2",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let puts: Vec<_> = elsewhere.requests().into_iter().filter(|r| r.method == "PUT").collect();
    assert!(!puts.is_empty(), "the blobs went to the Location origin");
    for r in &puts {
        assert_eq!(r.header("authorization"), None, "credentials reached another origin: {}", r.target);
    }
}

#[test]
fn an_upload_location_elsewhere_that_asks_for_credentials_is_an_error_naming_it() {
    let dir = tempdir();
    let bundle = small_bundle(dir.path());
    let elsewhere =
        FakeServer::start(|_, _| FakeResponse::new(401).header("WWW-Authenticate", r#"Basic realm="elsewhere""#));
    let target = basic_auth_target("pw2", format!("http://{}", elsewhere.addr));
    let out = sealift_with(
        &[
            "load",
            "--insecure-skip-verify",
            "--retries",
            "0",
            &bundle,
            "--to",
            &target.addr,
            "--username",
            "bob",
            "--password-stdin",
        ],
        b"pw2",
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("http://{}", elsewhere.addr)) && !err.contains("pw2"), "{err}");
    assert!(elsewhere.requests().iter().all(|r| r.header("authorization").is_none()));
}

#[test]
fn save_answers_no_challenge_from_a_redirect_target() {
    let img = FakeImage::new(5000);
    // Another origin that, reached by a redirect, names its own token service.
    let elsewhere = Arc::new(std::sync::OnceLock::<String>::new());
    let realm_addr = elsewhere.clone();
    let other = FakeServer::start(move |_, _| {
        let realm = format!(r#"Bearer realm="http://{}/token",service="x""#, realm_addr.get().unwrap());
        FakeResponse::new(401).header("WWW-Authenticate", &realm)
    });
    elsewhere.set(other.addr.clone()).unwrap();
    let (image, other_addr) = (img.clone(), other.addr.clone());
    let src = FakeServer::start(move |req, _| {
        if req.header("authorization") != Some(basic("alice", "s3cret-pw").as_str()) {
            return FakeResponse::new(401).header("WWW-Authenticate", r#"Basic realm="fake""#);
        }
        image.answer(req).unwrap_or_else(|| {
            FakeResponse::new(307).header("Location", &format!("http://{other_addr}/blob/{}", image.layer_digest))
        })
    });
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    let out = sealift_with(
        &[
            "save",
            &format!("{}/app:1.0", src.addr),
            "-o",
            bundle.to_str().unwrap(),
            "--username",
            "alice",
            "--password-stdin",
        ],
        b"s3cret-pw",
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("http://{}", other.addr)) && !err.contains("s3cret"), "{err}");
    let seen = other.requests();
    assert!(!seen.is_empty(), "the redirect was followed");
    assert!(seen.iter().all(|r| r.header("authorization").is_none() && !r.target.starts_with("/token")), "{seen:?}");
    assert!(!bundle.exists());
}

#[test]
fn credentials_in_a_reference_or_target_are_refused_without_repeating_them() {
    let out = sealift(&["save", "alice:hunter2@127.0.0.1:5000/app:1.0", "-o", "/tmp/never.tar"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("hunter2") && err.contains("credentials"), "{err}");
    let dir = tempdir();
    let bundle = small_bundle(dir.path());
    let out = sealift(&["load", "--insecure-skip-verify", &bundle, "--to", "bob:pw2@127.0.0.1:5001/mirror"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("pw2") && err.contains("credentials"), "{err}");
}
