//! The registry client (`sealift::registry`) against real distribution registries, plus an
//! in-process misbehaving server for faults a real registry cannot show.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use sealift::oci::{media, Descriptor, Digest};
use sealift::registry::{Credentials, Registry, RegistryError, RegistryOptions};

use crate::support::*;

fn opts() -> RegistryOptions {
    RegistryOptions { use_docker_config: false, retry_base_delay: Duration::from_millis(10), ..Default::default() }
}

fn client(reg: &TestRegistry) -> Registry {
    let mut o = opts();
    o.credentials = reg.creds.as_ref().map(|(u, p)| Credentials::new(u, p));
    Registry::new(&reg.addr, &o).unwrap()
}

#[test]
fn harness_starts_registries() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "harness/plain", "v1", &[10, 2000]);
    assert_eq!(skopeo_inspect_raw(&format!("{}/harness/plain:v1", reg.addr)), img.manifest);
    let auth = TestRegistry::start_with_auth("alice", "s3cret");
    let r = Raw::new(&auth.addr).request("GET", "/v2/", &[], b"");
    assert_eq!(r.status, 401);
    // Each registry tells itself apart from every other one, even on a 401.
    assert_eq!(r.header(crate::support::MARKER_HEADER), Some(auth.marker.as_str()));
    let r = Raw::new(&reg.addr).request("GET", "/v2/", &[], b"");
    assert_eq!(r.header(crate::support::MARKER_HEADER), Some(reg.marker.as_str()));
    assert_ne!(reg.marker, auth.marker);
    Raw::new(&auth.addr).with_basic("alice", "s3cret").random_image("harness/auth", "v1", &[5]);
    let (tls, ca) = TestRegistry::start_tls();
    assert!(ca.exists() && tls.addr.starts_with("127.0.0.1:"));
}

/// Three kinds of manifest pushed by the client come back byte for byte, with their media
/// type, and an independent client (skopeo) sees the same bytes.
#[test]
fn manifests_round_trip_byte_identical() {
    let reg = TestRegistry::start();
    let r = client(&reg);
    let img = random_image(&reg.addr, "rt/app", "base", &[100]);
    // Odd spacing and key order: a re-serializing client would change the digest.
    let index = format!(
        "{{ \"schemaVersion\": 2,\n  \"mediaType\": \"{}\", \"manifests\": [{{\"size\": {}, \"mediaType\": \"{}\", \"digest\": \"{}\", \"platform\": {{\"os\": \"linux\", \"architecture\": \"amd64\"}}}}],\n\"annotations\":{{\"z\":\"1\",\"a\":\"2\"}} }}",
        media::OCI_INDEX,
        img.manifest.len(),
        media::OCI_MANIFEST,
        img.digest
    );
    let docker_cfg = push_blob(
        &reg.addr,
        "rt/app",
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let docker = format!(
        "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{}\",\n   \"config\": {{\"mediaType\": \"{}\", \"size\": {}, \"digest\": \"{}\"}},\n   \"layers\": []\n}}",
        media::DOCKER_MANIFEST,
        media::DOCKER_CONFIG,
        docker_cfg.1,
        docker_cfg.0
    );
    block_on(async {
        for (tag, bytes, mt) in [
            ("oci", img.manifest.clone(), media::OCI_MANIFEST),
            ("index", index.into_bytes(), media::OCI_INDEX),
            ("docker", docker.into_bytes(), media::DOCKER_MANIFEST),
        ] {
            let digest = r.put_manifest("rt/app", tag, &bytes, mt).await.unwrap();
            assert_eq!(digest, Digest::of(&bytes));
            for reference in [tag.to_owned(), digest.to_string()] {
                let got = r.get_manifest("rt/app", &reference).await.unwrap().expect("manifest present");
                assert_eq!(&got.bytes[..], &bytes[..], "{tag} by {reference}");
                assert_eq!((got.media_type.as_str(), &got.digest), (mt, &digest));
                let head = r.head_manifest("rt/app", &reference).await.unwrap().expect("HEAD finds it");
                assert_eq!(head, (digest.clone(), mt.to_owned(), bytes.len() as u64));
            }
            assert_eq!(skopeo_inspect_raw(&format!("{}/rt/app:{tag}", reg.addr)), bytes);
        }
        assert_eq!(r.get_manifest("rt/app", "nope").await.unwrap(), None);
        assert_eq!(r.head_manifest("rt/app", &Digest::of(b"x").to_string()).await.unwrap(), None);
        assert_eq!(r.get_manifest("rt/other", "base").await.unwrap(), None, "unknown repository");
        // A manifest whose blobs are missing is refused with the distribution error code.
        let bad = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[]}}"#,
            media::OCI_MANIFEST,
            media::OCI_CONFIG,
            Digest::of(b"{}")
        );
        let err = r.put_manifest("rt/app", "bad", bad.as_bytes(), media::OCI_MANIFEST).await.unwrap_err();
        assert!(
            matches!(&err, RegistryError::Http { status: 400, code: Some(c), .. } if c == "MANIFEST_BLOB_UNKNOWN"),
            "{err:?}"
        );
        assert!(err.to_string().contains("/v2/rt/app/manifests/bad"), "{err}");
    });
}

#[test]
fn blobs_push_exist_get_mount() {
    let reg = TestRegistry::start();
    let r = client(&reg);
    block_on(async {
        let small = Bytes::from(random_bytes(1000));
        let d_small = Digest::of(&small);
        assert_eq!(r.blob_exists("b/one", &d_small).await.unwrap(), None);
        r.put_blob_bytes("b/one", &d_small, small.clone()).await.unwrap();
        assert_eq!(r.blob_exists("b/one", &d_small).await.unwrap(), Some(1000));
        assert_eq!(r.get_blob_bytes("b/one", &d_small, 1000).await.unwrap(), small);
        let err = r.get_blob_bytes("b/one", &d_small, 999).await.unwrap_err();
        assert!(matches!(err, RegistryError::TooLarge { limit: 999, .. }), "{err:?}");

        // A 3 MiB blob streamed in 64 KiB pieces, in one PUT.
        let big = random_bytes(3 * 1024 * 1024 + 17);
        let d_big = Digest::of(&big);
        let chunks: Vec<std::io::Result<Bytes>> =
            big.chunks(64 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        r.put_blob_stream("b/one", &d_big, big.len() as u64, futures_util::stream::iter(chunks)).await.unwrap();
        assert_eq!(r.blob_exists("b/one", &d_big).await.unwrap(), Some(big.len() as u64));
        let mut stream = r.get_blob("b/one", &d_big, big.len() as u64).await.unwrap();
        let mut got = Vec::new();
        while let Some(chunk) = stream.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert!(got == big, "streamed blob differs");

        // The empty blob works too.
        let empty = Digest::of(b"");
        r.put_blob_stream("b/one", &empty, 0, futures_util::stream::empty()).await.unwrap();
        assert_eq!(r.blob_exists("b/one", &empty).await.unwrap(), Some(0));

        assert!(r.mount_blob("b/two", "b/one", &d_big).await.unwrap());
        assert_eq!(r.blob_exists("b/two", &d_big).await.unwrap(), Some(big.len() as u64));
        assert!(!r.mount_blob("b/two", "b/one", &Digest::of(b"never pushed")).await.unwrap());

        let err = r.get_blob_bytes("b/one", &Digest::of(b"absent"), 10).await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        assert!(err.to_string().contains(&format!("{}/b/one@sha256:", reg.addr)), "{err}");
    });
    // An independent client reads what the streamed upload stored.
}

#[test]
fn basic_auth_right_and_wrong_credentials() {
    let reg = TestRegistry::start_with_auth("alice", "correct horse");
    let good = client(&reg);
    let img = Raw::new(&reg.addr).with_basic("alice", "correct horse").random_image("auth/app", "v1", &[10]);
    block_on(async {
        good.ping().await.unwrap();
        let m = good.get_manifest("auth/app", "v1").await.unwrap().unwrap();
        assert_eq!(&m.bytes[..], &img.manifest[..]);
        good.put_blob_bytes("auth/app", &Digest::of(b"hi"), Bytes::from_static(b"hi")).await.unwrap();
        let stream = futures_util::stream::iter([Ok(Bytes::from_static(b"streamed"))]);
        good.put_blob_stream("auth/app", &Digest::of(b"streamed"), 8, stream).await.unwrap();

        let mut o = opts();
        o.credentials = Some(Credentials::new("alice", "wrong-password-xyz"));
        let bad = Registry::new(&reg.addr, &o).unwrap();
        let err = bad.get_manifest("auth/app", "v1").await.unwrap_err();
        assert_eq!(
            err,
            RegistryError::Unauthorized {
                host: reg.addr.clone(),
                repo: Some("auth/app".into()),
                with_credentials: true
            }
        );
        for shown in [err.to_string(), format!("{err:?}"), format!("{bad:?}"), format!("{o:?}")] {
            assert!(!shown.contains("wrong-password-xyz"), "secret leaked: {shown}");
        }
        let anonymous = Registry::new(&reg.addr, &opts()).unwrap();
        let err = anonymous.ping().await.unwrap_err();
        assert!(matches!(err, RegistryError::Unauthorized { with_credentials: false, .. }), "{err:?}");
    });
}

#[test]
fn docker_config_credentials_are_used() {
    let reg = TestRegistry::start_with_auth("bob", "from-config");
    let dir = tempdir();
    let auth = base64_encode("bob:from-config");
    std::fs::write(dir.path().join("config.json"), format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.addr))
        .unwrap();
    // DOCKER_CONFIG is process-wide and tests run in parallel: run the check in a child
    // process of this same test binary.
    let out = crate::support::run(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["registry::docker_config_child", "--exact", "--nocapture", "--ignored"])
            .env("DOCKER_CONFIG", dir.path())
            .env("SEALIFT_TEST_REGISTRY", &reg.addr),
        b"",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("1 passed"), "{text}{}", String::from_utf8_lossy(&out.stderr));
}

/// The child half of `docker_config_credentials_are_used`, which runs it in a child process
/// with its own DOCKER_CONFIG.
#[test]
#[ignore = "run by docker_config_credentials_are_used in a child process with its own DOCKER_CONFIG"]
fn docker_config_child() {
    let addr = std::env::var("SEALIFT_TEST_REGISTRY").expect("run by docker_config_credentials_are_used");
    let o = RegistryOptions { use_docker_config: true, ..opts() };
    block_on(Registry::new(&addr, &o).unwrap().ping()).unwrap();
    let none = RegistryOptions { use_docker_config: false, ..opts() };
    let err = block_on(Registry::new(&addr, &none).unwrap().ping()).unwrap_err();
    assert!(matches!(&err, RegistryError::Unauthorized { with_credentials: false, .. }), "{err:?}");
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn tls_registry_needs_its_ca() {
    let (reg, ca) = TestRegistry::start_tls();
    block_on(async {
        let mut o = opts();
        o.ca_certs = vec![ca.clone()];
        let r = Registry::new(&reg.addr, &o).unwrap();
        r.ping().await.unwrap();
        let d = Digest::of(b"over tls");
        r.put_blob_bytes("tls/app", &d, Bytes::from_static(b"over tls")).await.unwrap();
        assert_eq!(r.get_blob_bytes("tls/app", &d, 100).await.unwrap(), Bytes::from_static(b"over tls"));

        // A CA that did not sign the server certificate: a TLS error, not retried forever.
        let (_other, other_ca) = TestRegistry::start_tls();
        o.ca_certs = vec![other_ca];
        o.max_retries = 4;
        o.retry_base_delay = Duration::from_secs(5);
        // Through a proxy that counts connections: one connection means no retry.
        let proxy = crate::support::CountingProxy::start(&reg.addr);
        let r = Registry::new(&proxy.addr, &o).unwrap();
        let err = r.ping().await.unwrap_err();
        assert!(matches!(&err, RegistryError::Tls { host, .. } if *host == proxy.addr), "{err:?}");
        assert_eq!(proxy.connections(), 1, "TLS errors must not be retried: {err:?}");

        // Loopback without a CA means plain http, which a TLS server refuses: say so.
        let plain = Registry::new(&reg.addr, &opts()).unwrap();
        let err = plain.ping().await.unwrap_err();
        assert!(matches!(&err, RegistryError::Tls { reason, .. } if reason.contains("CA certificate")), "{err:?}");

        o.ca_certs = vec![reg.dir.path().join("does-not-exist.pem")];
        assert!(matches!(Registry::new(&reg.addr, &o), Err(RegistryError::Config { .. })));
    });
}

fn referrer_manifest(addr: &str, repo: &str, subject: &sealift::registry::RawManifest, n: u32) -> (Vec<u8>, Digest) {
    let empty = push_blob(addr, repo, b"{}");
    let layer = push_blob(addr, repo, format!("sbom {n}").as_bytes());
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/example.sbom","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[{{"mediaType":"text/plain","digest":"{}","size":{}}}],"subject":{{"mediaType":"{}","digest":"{}","size":{}}}}}"#,
        media::OCI_MANIFEST,
        media::OCI_EMPTY,
        empty.0,
        layer.0,
        layer.1,
        subject.media_type,
        subject.digest,
        subject.bytes.len()
    );
    let d = push_manifest(addr, repo, &Digest::of(m.as_bytes()).to_string(), m.as_bytes(), media::OCI_MANIFEST);
    (m.into_bytes(), d)
}

#[test]
fn referrers_tag_schema_is_maintained() {
    let reg = TestRegistry::start();
    let r = client(&reg);
    random_image(&reg.addr, "ref/app", "v1", &[10]);
    block_on(async {
        let subject = r.get_manifest("ref/app", "v1").await.unwrap().unwrap();
        assert!(!r.has_referrers_api("ref/app").await.unwrap(), "distribution 2.8 has no referrers API");
        assert!(r.referrers("ref/app", &subject.digest).await.unwrap().is_empty());
        let mut descs = Vec::new();
        for n in 0..2 {
            let (bytes, d) = referrer_manifest(&reg.addr, "ref/app", &subject, n);
            let mut desc = Descriptor::new(media::OCI_MANIFEST, d, bytes.len() as u64);
            desc.artifact_type = Some("application/example.sbom".into());
            r.add_referrer_to_tag_index("ref/app", &subject.digest, desc.clone()).await.unwrap();
            descs.push(desc);
        }
        let listed = r.referrers("ref/app", &subject.digest).await.unwrap();
        descs.sort_by(|a, b| a.digest.cmp(&b.digest));
        assert_eq!(listed, descs);
        let tag = subject.digest.tag_prefix();
        let before = r.get_manifest("ref/app", &tag).await.unwrap().unwrap();
        assert_eq!(before.media_type, media::OCI_INDEX);
        r.add_referrer_to_tag_index("ref/app", &subject.digest, descs[1].clone()).await.unwrap();
        let after = r.get_manifest("ref/app", &tag).await.unwrap().unwrap();
        assert_eq!(before.digest, after.digest, "re-adding a referrer must not change the index");

        // A registry that answers the tag with the image itself (GitLab): not referrers,
        // and never overwritten.
        let other = random_image(&reg.addr, "ref/gitlab", "v1", &[1]);
        push_manifest(&reg.addr, "ref/gitlab", &other.digest.tag_prefix(), &other.manifest, media::OCI_MANIFEST);
        assert!(r.referrers("ref/gitlab", &other.digest).await.unwrap().is_empty());
        let err = r.add_referrer_to_tag_index("ref/gitlab", &other.digest, descs[0].clone()).await.unwrap_err();
        assert!(matches!(err, RegistryError::Protocol { .. }), "{err:?}");
    });
}

#[test]
fn list_tags_of_a_repository() {
    let reg = TestRegistry::start();
    let r = client(&reg);
    let img = random_image(&reg.addr, "tags/app", "v1", &[1]);
    for t in ["v2", "latest", "sha256-abc.sig"] {
        push_manifest(&reg.addr, "tags/app", t, &img.manifest, media::OCI_MANIFEST);
    }
    block_on(async {
        let mut tags = r.list_tags("tags/app").await.unwrap();
        tags.sort();
        assert_eq!(tags, ["latest", "sha256-abc.sig", "v1", "v2"]);
        let err = r.list_tags("tags/none").await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
    });
}

/// Changes a blob in the registry's storage (the first `from` becomes `to`, same length; or
/// the last byte flips), so it serves content that no longer matches its digest.
fn corrupt_blob(reg: &TestRegistry, digest: &Digest, from_to: Option<(&[u8], &[u8])>) {
    let path = reg.blob_data_path(digest);
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match from_to {
        Some((from, to)) => {
            let at = bytes.windows(from.len()).position(|w| w == from).expect("bytes to corrupt");
            bytes[at..at + to.len()].copy_from_slice(to);
        }
        None => *bytes.last_mut().expect("non-empty blob") ^= 1,
    }
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn digest_mismatches_are_detected() {
    let reg = TestRegistry::start();
    let r = client(&reg);
    let img = random_image(&reg.addr, "bad/app", "v1", &[5000]);
    // Keep the manifest valid JSON: distribution parses it before serving it.
    corrupt_blob(&reg, &img.digest, Some((b"v1.tar", b"v1.taR")));
    let layer = img.layers[0].0.clone();
    corrupt_blob(&reg, &layer, None);
    block_on(async {
        let err = r.get_manifest("bad/app", &img.digest.to_string()).await.unwrap_err();
        assert!(matches!(&err, RegistryError::DigestMismatch { expected, .. } if *expected == img.digest), "{err:?}");
        let err = r.get_manifest("bad/app", "v1").await.unwrap_err();
        assert!(matches!(err, RegistryError::DigestMismatch { .. }), "by tag, against Docker-Content-Digest: {err:?}");
        let err = r.get_blob_bytes("bad/app", &layer, 1 << 20).await.unwrap_err();
        assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err:?}");
        let mut stream = r.get_blob("bad/app", &layer, img.layers[0].1).await.unwrap();
        let mut last = None;
        while let Some(item) = stream.next().await {
            last = Some(item);
        }
        assert!(matches!(last, Some(Err(RegistryError::DigestMismatch { .. }))), "{last:?}");
    });
}

#[test]
fn retries_503_and_429_honouring_retry_after() {
    let server = FakeServer::start(|_, n| match n {
        0 => FakeResponse::new(503),
        1 => FakeResponse::new(429).header("Retry-After", "1"),
        _ => FakeResponse::new(200).body("{}"),
    });
    let r = Registry::new(&server.addr, &opts()).unwrap();
    block_on(r.ping()).unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    let waited = reqs[2].at - reqs[1].at;
    assert!(waited >= Duration::from_millis(950), "Retry-After: 1 not honoured: {waited:?}");
}

#[test]
fn gives_up_after_max_retries() {
    let server = FakeServer::start(|_, _| {
        FakeResponse::new(503).body(r#"{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}"#)
    });
    let mut o = opts();
    o.max_retries = 2;
    let r = Registry::new(&server.addr, &o).unwrap();
    let err = block_on(r.get_manifest("a/b", "v1")).unwrap_err();
    assert!(
        matches!(&err, RegistryError::Http { status: 503, code: Some(c), message, .. } if c == "UNAVAILABLE" && message == "try later"),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(server.requests().len(), 3, "one try and two retries");

    // Nothing listening: Unreachable after the retries.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let r = Registry::new(&format!("127.0.0.1:{port}"), &o).unwrap();
    let err = block_on(r.ping()).unwrap_err();
    assert!(matches!(&err, RegistryError::Unreachable { reason, .. } if reason.contains("3 attempts")), "{err:?}");
}

#[test]
fn bearer_token_flow() {
    let server = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let addr_cell = server.clone();
    let fake = FakeServer::start(move |req, _| {
        let addr = addr_cell.get().unwrap();
        if req.target.starts_with("/token") {
            assert!(req.target.contains("scope=repository%3Aa%2Fb%3Apull"), "{}", req.target);
            assert!(req.target.contains("service=fake"), "{}", req.target);
            let basic = format!("Basic {}", base64_encode("u:p"));
            return match req.header("authorization") {
                Some(a) if a == basic => FakeResponse::new(200).body(r#"{"token":"tok123"}"#),
                _ => FakeResponse::new(401),
            };
        }
        match req.header("authorization") {
            Some("Bearer tok123") => FakeResponse::new(200)
                .header("Content-Type", media::OCI_INDEX)
                .body(r#"{"schemaVersion":2,"manifests":[]}"#),
            _ => FakeResponse::new(401).header(
                "WWW-Authenticate",
                &format!(r#"Bearer realm="http://{addr}/token",service="fake",scope="repository:a/b:pull""#),
            ),
        }
    });
    server.set(fake.addr.clone()).unwrap();
    let mut o = opts();
    o.credentials = Some(Credentials::new("u", "p"));
    let r = Registry::new(&fake.addr, &o).unwrap();
    block_on(async {
        let m = r.get_manifest("a/b", "v1").await.unwrap().unwrap();
        assert_eq!(m.media_type, media::OCI_INDEX);
        // The token is cached for the scope: one more request, no new token fetch.
        r.get_manifest("a/b", "v1").await.unwrap().unwrap();
    });
    let targets: Vec<String> = fake.requests().iter().map(|q| q.target.split('?').next().unwrap().to_owned()).collect();
    assert_eq!(targets, ["/v2/a/b/manifests/v1", "/token", "/v2/a/b/manifests/v1", "/v2/a/b/manifests/v1"]);

    o.credentials = Some(Credentials::new("u", "wrong"));
    let r = Registry::new(&fake.addr, &o).unwrap();
    let err = block_on(r.get_manifest("a/b", "v1")).unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { with_credentials: true, .. }), "{err:?}");
}

#[test]
fn retries_a_connection_closed_without_answer() {
    let server = FakeServer::start(|_, n| if n == 0 { FakeResponse::hang_up() } else { FakeResponse::new(200) });
    block_on(Registry::new(&server.addr, &opts()).unwrap().ping()).unwrap();
    assert_eq!(server.requests().len(), 2);
}

/// Manifest bodies are capped while reading, whether or not a Content-Length announces them.
#[test]
fn oversized_manifests_are_refused() {
    let big = vec![b' '; sealift::oci::manifest::MAX_MANIFEST_BYTES + 1];
    let server = FakeServer::start(move |_, n| {
        let r = FakeResponse::new(200).header("Content-Type", media::OCI_MANIFEST).body(big.clone());
        if n == 0 {
            r
        } else {
            r.close_delimited()
        }
    });
    let r = Registry::new(&server.addr, &opts()).unwrap();
    for _ in 0..2 {
        let err = block_on(r.get_manifest("a/b", "v1")).unwrap_err();
        assert!(matches!(&err, RegistryError::TooLarge { what, .. } if what.contains("a/b:v1")), "{err:?}");
    }
}

/// Garbage answers give typed errors, never panics; manifest bytes are passed on unjudged.
#[test]
fn garbage_answers_are_errors_not_panics() {
    let server = FakeServer::start(|req, _| {
        if req.target.contains("/tags/list") {
            FakeResponse::new(200).body("<html>")
        } else if req.method == "POST" {
            FakeResponse::new(202) // no Location
        } else if req.method == "HEAD" {
            FakeResponse::new(200).header("Docker-Content-Digest", "md5:zz").header("Content-Type", "text/html")
        } else {
            FakeResponse::new(200).header("Content-Type", "text/html").body("<html>not a manifest")
        }
    });
    let r = Registry::new(&server.addr, &opts()).unwrap();
    block_on(async {
        let m = r.get_manifest("a/b", "v1").await.unwrap().unwrap();
        assert_eq!((m.media_type.as_str(), &m.bytes[..]), ("text/html", &b"<html>not a manifest"[..]));
        assert_eq!(r.head_manifest("a/b", "v1").await.unwrap().unwrap().1, "text/html", "HEAD falls back to GET");
        assert!(matches!(r.list_tags("a/b").await.unwrap_err(), RegistryError::Protocol { .. }));
        let err = r.put_blob_bytes("a/b", &Digest::of(b"x"), Bytes::from_static(b"x")).await.unwrap_err();
        assert!(matches!(&err, RegistryError::Protocol { what, .. } if what.contains("Location")), "{err:?}");
    });
}

/// A relative upload Location with its own query keeps that query and gains `digest=`.
#[test]
fn upload_to_a_relative_location() {
    let server = FakeServer::start(|req, _| match req.method.as_str() {
        "POST" => FakeResponse::new(202).header("Location", "/v2/a/b/blobs/uploads/u1?_state=s1"),
        "PUT" => FakeResponse::new(201),
        _ => FakeResponse::new(404),
    });
    let r = Registry::new(&server.addr, &opts()).unwrap();
    let d = Digest::of(b"abc");
    let body = futures_util::stream::iter([Ok(Bytes::from_static(b"abc"))]);
    block_on(r.put_blob_stream("a/b", &d, 3, body)).unwrap();
    let reqs = server.requests();
    assert_eq!(reqs[1].target, format!("/v2/a/b/blobs/uploads/u1?_state=s1&digest=sha256%3A{}", d.hex()));
    assert_eq!(reqs[1].header("content-length"), Some("3"));
}
