//! Hardening against a hostile registry and an impatient operator (issue 9): credentials
//! stay with their origin, every read is bounded in size and time. The off-origin upload
//! `Location`, the redirect to an origin that asks for credentials, endless and trickled
//! bodies are faults a real registry cannot be made to show: they come from the in-process
//! fake server, serving a tiny image built here.

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
        Arc::new(FakeImage { digest: Digest::of(&manifest), manifest, config, config_digest, layer_digest })
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

/// Asserts exit code `code`; returns stderr.
fn failed(out: &std::process::Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    err
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
    let err = failed(&out, 3);
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
    let err = failed(&out, 3);
    assert!(err.contains(&format!("http://{}", other.addr)) && !err.contains("s3cret"), "{err}");
    let seen = other.requests();
    assert!(!seen.is_empty(), "the redirect was followed");
    assert!(seen.iter().all(|r| r.header("authorization").is_none() && !r.target.starts_with("/token")), "{seen:?}");
    assert!(!bundle.exists());
}

#[test]
fn credentials_in_a_reference_or_target_are_refused_without_repeating_them() {
    let out = sealift(&["save", "alice:hunter2@127.0.0.1:5000/app:1.0", "-o", "/tmp/never.tar"]);
    let err = failed(&out, 2);
    assert!(!err.contains("hunter2") && err.contains("credentials"), "{err}");
    let dir = tempdir();
    let bundle = small_bundle(dir.path());
    let out = sealift(&["load", "--insecure-skip-verify", &bundle, "--to", "bob:pw2@127.0.0.1:5001/mirror"]);
    let err = failed(&out, 2);
    assert!(!err.contains("pw2") && err.contains("credentials"), "{err}");
}

/// A fake source serving `img`, whose layer blob answers `layer()`.
fn source_with_layer(img: &Arc<FakeImage>, layer: impl Fn() -> FakeResponse + Send + Sync + 'static) -> FakeServer {
    let img = img.clone();
    FakeServer::start(move |req, _| img.answer(req).unwrap_or_else(&layer))
}

fn save_from(src: &FakeServer, dir: &std::path::Path, extra: &[&str]) -> (std::process::Output, Duration) {
    let bundle = dir.join("b.tar");
    let mut args = vec!["save".to_owned(), format!("{}/app:1.0", src.addr), "-o".into(), bundle.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let started = Instant::now();
    let out = sealift(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let took = started.elapsed();
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "a failed save leaves nothing behind: {left:?}");
    (out, took)
}

#[test]
fn an_endless_layer_body_is_stopped_at_its_size() {
    let img = FakeImage::new(5000);
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = written.clone();
    let src = source_with_layer(&img, move || {
        let counter = counter.clone();
        FakeResponse::new(200).header("Transfer-Encoding", "chunked").body_writer(move |w| {
            // Up to 1 GiB in 64 KiB chunks, unless the client hangs up first.
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..16 * 1024 {
                write!(w, "{:x}\r\n", chunk.len())?;
                w.write_all(&chunk)?;
                w.write_all(b"\r\n")?;
                counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            w.write_all(b"0\r\n\r\n")
        })
    });
    let dir = tempdir();
    let (out, took) = save_from(&src, dir.path(), &[]);
    let err = failed(&out, 3);
    assert!(err.contains(&img.layer_digest.to_string()) && err.contains("longer than the 5000 bytes"), "{err}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let sent = written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent < 256 * 1024 * 1024, "the server got to send {sent} bytes");
}

#[test]
fn a_trickled_manifest_meets_the_deadline() {
    let img = FakeImage::new(5000);
    let manifest = img.manifest.clone();
    let (image, body) = (img.clone(), manifest.clone());
    let src = FakeServer::start(move |req, _| {
        if req.target == "/v2/app/manifests/1.0" {
            let body = body.clone();
            return FakeResponse::new(200)
                .header("Content-Type", media::OCI_MANIFEST)
                .header("Content-Length", &body.len().to_string())
                .body_writer(move |w| {
                    for b in body {
                        w.write_all(&[b])?;
                        w.flush()?;
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    Ok(())
                });
        }
        image.answer(req).unwrap_or_else(|| FakeResponse::new(404))
    });
    let dir = tempdir();
    let (out, took) = save_from(&src, dir.path(), &["--timeout", "2", "--retries", "0"]);
    let err = failed(&out, 3);
    assert!(err.contains(&format!("manifest {}/app:1.0", src.addr)) && err.contains("within the timeout"), "{err}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn a_trickled_layer_stalls() {
    let img = FakeImage::new(5000);
    let src = source_with_layer(&img, || {
        FakeResponse::new(200).header("Content-Length", "5000").body_writer(|w| {
            for _ in 0..500 {
                w.write_all(&[0u8; 10])?;
                w.flush()?;
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(())
        })
    });
    let dir = tempdir();
    let (out, took) = save_from(&src, dir.path(), &["--timeout", "2", "--retries", "0"]);
    let err = failed(&out, 3);
    assert!(err.contains(&img.layer_digest.to_string()) && err.contains("stalled"), "{err}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn timeout_is_documented_in_help() {
    let out = sealift(&["save", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--timeout <SECONDS>") && help.contains("[default: 60]"), "{help}");
}

#[test]
fn a_target_that_never_answers_an_upload_is_given_up_on() {
    let dir = tempdir();
    let bundle = small_bundle(dir.path());
    let target = FakeServer::start(|req, n| {
        let t = req.target.as_str();
        match req.method.as_str() {
            "GET" if t == "/v2/" => FakeResponse::new(200),
            "POST" if t.contains("/blobs/uploads/") => {
                FakeResponse::new(202).header("Location", &format!("/v2/team/app/blobs/uploads/{n}"))
            }
            "PUT" if t.contains("/blobs/uploads/") => {
                // Layers (3000 and 4000 bytes) arrive and are never answered in time.
                let len: usize = req.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                if len >= 3000 {
                    std::thread::sleep(Duration::from_secs(10));
                }
                FakeResponse::new(201)
            }
            "PUT" => FakeResponse::new(201),
            _ => FakeResponse::new(404),
        }
    });
    let started = Instant::now();
    let out =
        sealift(&["load", "--insecure-skip-verify", "--timeout", "2", "--retries", "0", &bundle, "--to", &target.addr]);
    let err = failed(&out, 3);
    assert!(err.contains("no answer within 2 s after the upload"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(9), "took {:?}", started.elapsed());
}

/// A save whose one layer trickles (1 KiB every 100 ms: slow, not stalled) until killed.
fn slow_source() -> FakeServer {
    let img = FakeImage::new(1 << 20);
    source_with_layer(&img, || {
        FakeResponse::new(200).header("Content-Length", &(1u32 << 20).to_string()).body_writer(|w| {
            for _ in 0..1024 {
                w.write_all(&[0u8; 1024])?;
                w.flush()?;
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        })
    })
}

#[test]
fn sigint_and_sigterm_during_save_remove_the_partial_file() {
    use std::process::{Command, Stdio};
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let src = slow_source();
        let dir = tempdir();
        let bundle = dir.path().join("b.tar");
        let child = Command::new(env!("CARGO_BIN_EXE_sealift"))
            .args(["save", &format!("{}/app:1.0", src.addr), "-o", bundle.to_str().unwrap()])
            .env("DOCKER_CONFIG", dir.path().join("no-config"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let partial = |d: &std::path::Path| {
            std::fs::read_dir(d).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".partial"))
        };
        let started = Instant::now();
        while !partial(dir.path()) {
            assert!(started.elapsed() < Duration::from_secs(20), "no partial file appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
        let killed = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "SIG{signal}: {err}");
        assert!(err.contains(&format!("interrupted by SIG{signal}")), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "SIG{signal} left {left:?}");
    }
}

/// Starts sealift with the debug builds' rename hold (src/tempfiles.rs): returns once the
/// command has written and synced every temporary file of its output set and waits before
/// renaming them, with the paths of those files.
#[cfg(debug_assertions)]
pub(crate) fn held_before_rename(
    dir: &std::path::Path,
    args: &[&str],
) -> (std::process::Child, Vec<std::path::PathBuf>) {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};
    let fifo = dir.join("hold.fifo");
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealift"))
        .args(args)
        .env("SEALIFT_TEST_HOLD_RENAME", &fifo)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<std::path::PathBuf> =
            std::io::BufReader::new(std::fs::File::open(&fifo).unwrap()).lines().map(|l| l.unwrap().into()).collect();
        let _ = tx.send(lines);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(temps) => (child, temps),
        Err(_) => {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{args:?} never reached its renames: {:?} {}", out.status, stderr(&out));
        }
    }
}

/// Every name in `dir` (sorted) with its bytes.
pub(crate) fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap_or_default()))
        .collect();
    v.sort();
    v
}

#[test]
#[cfg(debug_assertions)]
fn a_signal_mid_write_leaves_no_partial_pki_and_no_partial_report() {
    use std::process::Command;
    let dir = tempdir();
    let bundle = small_bundle(dir.path());
    let key = format!("{}/tests/data/cosign-real/containers-image/keys/cosign.pub", env!("CARGO_MANIFEST_DIR"));
    let pki = dir.path().join("pki");
    let pki_s = pki.to_str().unwrap();
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let report = reports.join("audit.html");
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        // certs create into a fresh directory, then over a complete set with --force, and
        // audit -o: each interrupted once its temporary files are written and synced.
        let _ = std::fs::remove_dir_all(&pki);
        let fresh = vec!["certs", "create", "--out", pki_s];
        let forced = vec!["certs", "create", "--out", pki_s, "--force"];
        let audit = vec!["audit", &bundle, "--key", &key, "--output", "html", "-o", report.to_str().unwrap()];
        for (args, out_dir, temps_expected) in [(&fresh, &pki, 5), (&forced, &pki, 5), (&audit, &reports, 1)] {
            let before = if args == &forced {
                crate::support::ok(&crate::support::sealift(&fresh[..]));
                snapshot(out_dir)
            } else {
                if out_dir.exists() {
                    assert!(snapshot(out_dir).is_empty());
                }
                Vec::new()
            };
            let (child, temps) = held_before_rename(dir.path(), args);
            assert_eq!(temps.len(), temps_expected, "{args:?}: {temps:?}");
            assert!(temps.iter().all(|t| t.is_file()), "{args:?}: the temporary files are there: {temps:?}");
            let killed = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
            assert!(killed.success());
            let out = child.wait_with_output().unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(code), "{args:?} SIG{signal}: {err}");
            assert!(
                err.contains(&format!("interrupted by SIG{signal}; removed {temps_expected} temporary file(s)")),
                "{err}"
            );
            assert_eq!(snapshot(out_dir), before, "{args:?} SIG{signal}: the output is as it was before the run");
        }
        std::fs::remove_dir_all(&pki).unwrap();
    }
    // Without a signal the same runs complete: all five files, and the report.
    crate::support::ok(&crate::support::sealift(&["certs", "create", "--out", pki_s]));
    let names: Vec<String> = snapshot(&pki).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["ca.crt", "certificate_chain.pem", "leaf.crt", "leaf.key", "sub.crt"]);
}

/// Runs sealift with its stdout closed before it writes (as `sealift ... | true` does).
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealift"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempdir();
    let bundle = small_bundle(dir.path());
    let key = format!("{}/tests/data/cosign-real/containers-image/keys/cosign.pub", env!("CARGO_MANIFEST_DIR"));
    let sig_dir = format!(
        "{}/tests/data/cosign-real/containers-image/dir-img-cosign-valid/signature-1",
        env!("CARGO_MANIFEST_DIR")
    );
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let line = json!({
        "Base64Signature": std::fs::read_to_string(format!("{sig_dir}/signature.b64")).unwrap_or_default().trim(),
        "Payload": b64(&std::fs::read(format!("{sig_dir}/payload.bin")).unwrap_or_default()),
        "Cert": null, "Chain": null, "Bundle": null, "RFC3161Timestamp": null,
    });
    let sigs = dir.path().join("sigs.jsonl");
    std::fs::write(&sigs, format!("{line}\n")).unwrap();
    let target = TestRegistry::start();
    let d = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";
    let runs: Vec<Vec<&str>> = vec![
        vec!["inspect", &bundle],
        vec!["inspect", &bundle, "--output", "json"],
        vec!["verify", "--bundle", &bundle, "--key", &key],
        vec!["verify", "--signatures", sigs.to_str().unwrap(), "--digest", d, "--key", &key],
        vec!["load", "--dry-run", "--insecure-skip-verify", &bundle, "--to", &target.addr],
        vec!["audit", &bundle, "--key", &key],
    ];
    for args in runs {
        let out = with_closed_stdout(&args);
        let err = stderr(&out);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{args:?}: {:?} {err}", out.status);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

/// How a run's stderr is broken: closed (`2>&-`; Rust reopens it on /dev/null), failing
/// every write (`2>/dev/full`), or a pipe whose reader has gone (`2>&1 | true`).
#[derive(Debug, Clone, Copy)]
enum BrokenStderr {
    Closed,
    Full,
    ReaderGone,
}

/// Runs sealift with a broken stderr; stdout is captured.
fn with_broken_stderr(args: &[&str], how: BrokenStderr) -> std::process::Output {
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_sealift");
    let mut cmd = match how {
        BrokenStderr::Closed | BrokenStderr::Full => {
            let redirect = if matches!(how, BrokenStderr::Closed) { "2>&-" } else { "2>/dev/full" };
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!("exec \"$0\" \"$@\" {redirect}")).arg(bin).args(args);
            c
        }
        BrokenStderr::ReaderGone => {
            let mut c = Command::new(bin);
            c.args(args).stderr(Stdio::piped());
            c
        }
    };
    let mut child = cmd.stdout(Stdio::piped()).stdin(Stdio::null()).spawn().unwrap();
    drop(child.stderr.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_or_failing_stderr_ends_quietly_with_the_same_exit_code() {
    let dir = tempdir();
    let src = TestRegistry::start();
    random_image(&src.addr, "team/app", "1.0", &[3000]);
    let bundle = dir.path().join("b.tar");
    let bundle = bundle.to_str().unwrap();
    let key = format!("{}/tests/data/cosign-real/containers-image/keys/cosign.pub", env!("CARGO_MANIFEST_DIR"));
    let target = TestRegistry::start();
    let source = format!("{}/team/app:1.0", src.addr);
    // Status lines, warnings, debug logs, a rejection and an error: every stderr path.
    let runs: Vec<(Vec<&str>, i32)> = vec![
        (vec!["-vv", "save", &source, "-o", bundle], 0),
        (vec!["load", "--insecure-skip-verify", bundle, "--to", &target.addr], 0),
        (vec!["load", bundle, "--to", &target.addr, "--key", &key], 1),
        (vec!["inspect", "/nonexistent/b.tar"], 3),
        (vec!["save", "--no-such-flag"], 2),
    ];
    for (args, code) in &runs {
        let reference = sealift(args);
        assert_eq!(reference.status.code(), Some(*code), "{args:?}: {}", stderr(&reference));
        assert!(!reference.stderr.is_empty(), "{args:?} writes to stderr");
        for how in [BrokenStderr::Closed, BrokenStderr::Full, BrokenStderr::ReaderGone] {
            if args[1] == "save" && args.len() > 2 {
                std::fs::remove_file(bundle).unwrap();
            }
            let out = with_broken_stderr(args, how);
            assert_eq!(out.status.code(), Some(*code), "{args:?} with {how:?}: {:?}", out.status);
            assert_eq!(out.stdout, reference.stdout, "{args:?} with {how:?}: same data on stdout");
        }
    }
    assert!(std::path::Path::new(bundle).is_file(), "the last save wrote its bundle");
}

/// Every byte of both streams, checked for a raw ESC.
fn assert_no_escape(what: &str, out: &std::process::Output) {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!bytes.contains(&0x1b), "{what}: raw ESC on {name}: {:?}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn an_escape_sequence_in_a_certificate_san_is_printed_escaped() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "team/app", "1.0", &[700]);
    let dir = tempdir();
    let d = dir.path();
    let p = |n: &str| d.join(n).display().to_string();
    let san = "email:evil\u{1b}[2J\u{1b}[1;1HPASSED@example.com";
    crate::support::ok_all(&sealift(&["certs", "create", "--out", d.to_str().unwrap(), "--san", san, "--days", "2"]));
    let reference = format!("{}/team/app:1.0", reg.addr);
    crate::support::ok_all(&crate::support::sign_with_certificate(
        &reference,
        &p("leaf.key"),
        &p("leaf.crt"),
        &p("certificate_chain.pem"),
    ));
    // Another CA, so the signature is rejected: its signer is still printed.
    let other = d.join("other");
    std::fs::create_dir(&other).unwrap();
    crate::support::ok_all(&sealift(&["certs", "create", "--out", other.to_str().unwrap()]));
    let trusted = ["--ca-roots", &p("ca.crt"), "--certificate-identity-regexp", "evil"];
    let untrusted =
        ["--ca-roots", &other.join("ca.crt").display().to_string(), "--certificate-identity-regexp", "evil"]
            .map(|s| s.to_string());
    let untrusted: Vec<&str> = untrusted.iter().map(String::as_str).collect();

    let out = sealift(&[&["verify", &reference][..], &trusted].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("evil\\u{1b}[2J"), "the SAN is shown, escaped: {text}");
    assert_no_escape("verify", &out);
    let out = sealift(&[&["verify", &reference][..], &untrusted].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_no_escape("verify, untrusted CA", &out);

    let bundle = p("b.tar");
    crate::support::ok_all(&sealift(&["save", &reference, "-o", &bundle]));
    let target = TestRegistry::start();
    for args in [
        [&["verify", "--bundle", &bundle][..], &trusted].concat(),
        [&["verify", "--bundle", &bundle][..], &untrusted].concat(),
        [&["audit", &bundle][..], &trusted].concat(),
        [&["audit", &bundle][..], &untrusted].concat(),
        [&["audit", &bundle, "--output", "json"][..], &untrusted].concat(),
        [&["verify", "--bundle", &bundle, "--output", "json"][..], &untrusted].concat(),
        vec!["inspect", &bundle],
        [&["load", &bundle, "--to", &target.addr][..], &untrusted].concat(),
        [&["load", &bundle, "--to", &target.addr][..], &trusted].concat(),
    ] {
        let out = sealift(&args);
        assert_no_escape(&format!("{args:?}"), &out);
    }
    let _ = img;
}

#[test]
fn escape_sequences_in_index_annotations_never_reach_the_terminal() {
    let dir = tempdir();
    let bundle = small_bundle(dir.path());
    let layout = crate::support::extract_bundle(std::path::Path::new(&bundle), dir.path(), "layout");
    let index_path = layout.join("index.json");
    let original: serde_json::Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let target = TestRegistry::start();
    let esc = "\u{1b}[2J\u{1b}[1;1HPASSED";
    // Every annotation value of the first entry in turn, and a new one.
    let keys: Vec<String> =
        original["manifests"][0]["annotations"].as_object().unwrap().keys().cloned().chain(["x.evil".into()]).collect();
    for key in keys {
        let mut index = original.clone();
        let ann = &mut index["manifests"][0]["annotations"][&key];
        *ann = json!(format!("{}{esc}", ann.as_str().unwrap_or("")));
        std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
        let l = layout.to_str().unwrap();
        for args in [
            vec!["inspect", l],
            vec!["load", "--dry-run", "--insecure-skip-verify", l, "--to", &target.addr],
            vec!["audit", l],
        ] {
            let out = sealift(&args);
            assert!(out.status.code() != Some(101), "{key}: {args:?}: {}", stderr(&out));
            assert_no_escape(&format!("{key}: {args:?}"), &out);
        }
    }
}

#[test]
fn a_reopenable_layer_upload_is_retried_after_a_500_or_a_reset() {
    use futures_util::StreamExt as _;
    use sealift::registry::{Registry, RegistryOptions};
    let layer = random_bytes(300_000);
    let digest = Digest::of(&layer);
    let chunks = || {
        let pieces: Vec<std::io::Result<bytes::Bytes>> =
            layer.chunks(64 * 1024).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
        futures_util::stream::iter(pieces)
    };
    let opts = RegistryOptions {
        use_docker_config: false,
        retry_base_delay: Duration::from_millis(10),
        max_retries: 2,
        ..Default::default()
    };
    for fault in [(|| FakeResponse::new(500)) as fn() -> FakeResponse, FakeResponse::hang_up] {
        let real = TestRegistry::start();
        let proxy = layer_faulting_proxy(&real.addr, 1, 0, fault);
        let registry = Registry::new(&proxy.addr, &opts).unwrap();
        let mut opens = 0;
        crate::support::block_on(registry.put_blob_reopening("team/layer", &digest, layer.len() as u64, || {
            opens += 1;
            chunks()
        }))
        .unwrap();
        assert_eq!(opens, 2, "one failed attempt, one that landed");
        let stored = crate::support::Raw::new(&real.addr).expect(
            &[200],
            "GET",
            &format!("/v2/team/layer/blobs/{digest}"),
            &[],
            b"",
        );
        assert!(stored.body == layer);

        // Failing every time: the retries run out, the error says what failed.
        let proxy = layer_faulting_proxy(&real.addr, 100, 0, fault);
        let registry = Registry::new(&proxy.addr, &opts).unwrap();
        let mut opens = 0;
        let err =
            crate::support::block_on(registry.put_blob_reopening("team/other", &digest, layer.len() as u64, || {
                opens += 1;
                chunks()
            }))
            .unwrap_err();
        assert_eq!(opens, 3, "{err}");
    }

    // The source's own failure (a corrupt bundle) is not retried.
    let real = TestRegistry::start();
    let registry = Registry::new(&real.addr, &opts).unwrap();
    let mut opens = 0;
    let result = crate::support::block_on(registry.put_blob_reopening("team/bad", &digest, layer.len() as u64, || {
        opens += 1;
        chunks().take(2).chain(futures_util::stream::iter([Err(std::io::Error::other("digest mismatch"))]))
    }));
    assert!(result.is_err());
    assert_eq!(opens, 1);
}

/// A proxy in front of a real registry that fails the first `faults` blob PUTs of a body
/// larger than `min_body` bytes (e.g. the layers, not the small config) with `fault()`.
fn layer_faulting_proxy(real: &str, faults: usize, min_body: usize, fault: fn() -> FakeResponse) -> FakeServer {
    let real = real.to_owned();
    let failed = std::sync::atomic::AtomicUsize::new(0);
    FakeServer::start(move |req, _| {
        if req.method == "PUT"
            && req.target.contains("/blobs/uploads/")
            && req.body.len() > min_body
            && failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < faults
        {
            return fault();
        }
        let fwd: Vec<(&str, &str)> =
            ["content-type", "accept"].iter().filter_map(|k| req.header(k).map(|v| (*k, v))).collect();
        let r = crate::support::Raw::new(&real).request(&req.method, &req.target, &fwd, &req.body);
        let mut resp = FakeResponse::new(r.status).body(r.body);
        for (k, v) in r.headers {
            match k.as_str() {
                "content-length" | "connection" | "transfer-encoding" => {}
                "location" => resp = resp.header("Location", v.strip_prefix(&format!("http://{real}")).unwrap_or(&v)),
                _ => resp = resp.header(&k, &v),
            }
        }
        resp
    })
}

#[test]
fn load_retries_a_failed_layer_upload_from_a_tar_and_from_a_directory() {
    let src = TestRegistry::start();
    let image = random_image(&src.addr, "team/app", "1.0", &[400_000, 300_000]);
    let work = tempdir();
    let bundle = work.path().join("b.tar");
    let reference = format!("{}/team/app:1.0", src.addr);
    crate::support::ok(&sealift(&["save", &reference, "-o", bundle.to_str().unwrap()]));
    let dir = crate::support::extract_bundle(&bundle, work.path(), "layout");
    for (what, source) in [("tar", bundle.clone()), ("directory", dir)] {
        let load = |to: &str, retries: &str| {
            let args =
                ["load", source.to_str().unwrap(), "--to", to, "--insecure-skip-verify", "--retries", retries, "-q"];
            sealift(&args)
        };
        for fault in [(|| FakeResponse::new(500)) as fn() -> FakeResponse, FakeResponse::hang_up] {
            let target = TestRegistry::start();
            // Out of retries: the load fails as "could not do" (3), naming the layer, and no
            // manifest was pushed.
            let proxy = layer_faulting_proxy(&target.addr, 100, 100_000, fault);
            let out = load(&format!("{}/mirror", proxy.addr), "1");
            assert_eq!(out.status.code(), Some(3), "{what}: {}", String::from_utf8_lossy(&out.stderr));
            assert!(String::from_utf8_lossy(&out.stderr).contains("sha256:"), "{what}: names the blob");
            target.assert_absent("mirror/team/app", "1.0", "no manifest after a failed layer upload");

            // One fault per layer: each layer is uploaded again from its start and the load
            // lands, digest for digest.
            let proxy = layer_faulting_proxy(&target.addr, 2, 100_000, fault);
            let out = load(&format!("{}/mirror", proxy.addr), "2");
            crate::support::ok(&out);
            target.assert_present("mirror/team/app", "1.0", &image.manifest);
            for (d, _) in &image.layers {
                assert!(target.blob_present("mirror/team/app", d), "{what}: layer {d} at the target");
            }
        }
    }
}
