//! `sealift serve` (issue 12): a bundle served in place as a read-only registry, only what
//! passed admission. Real clients (skopeo, curl, sealift's own verify and save) talk to the
//! real binary; the images come from a real registry, signed by `openssl dgst`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use sealift::oci::Digest;
use serde_json::Value;

use crate::save_load::{image, openssl_referrer, openssl_sig, sbom, Pushed};
use crate::support::cosign::OpensslKey;
use crate::support::{
    extract_bundle, ok_all, openssl_req_new_p256, random_bytes, run, sealift, skopeo, tempdir, Raw, TestRegistry,
};

/// A running `sealift serve`, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Serve {
    child: Option<Child>,
    /// `127.0.0.1:PORT`, from the readiness line.
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

/// How long serve may take to print its readiness line.
const READY: Duration = Duration::from_secs(90);

impl Serve {
    /// Starts `sealift serve ARGS --listen 127.0.0.1:0` and waits for the readiness line.
    pub fn start(args: &[&str]) -> Serve {
        match Serve::try_start(args) {
            Ok(s) => s,
            Err((code, stderr)) => panic!("sealift serve {args:?} did not start (exit {code:?}): {stderr}"),
        }
    }

    /// As [`Serve::start`]; a serve that exits before it is ready gives its exit code and stderr.
    pub fn try_start(args: &[&str]) -> Result<Serve, (Option<i32>, String)> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealift"));
        cmd.arg("serve").args(args).args(["--listen", "127.0.0.1:0"]).env_remove("RUST_LOG").env_remove("SEALIFT_LOG");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting sealift serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                log.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split("://").nth(1).unwrap_or("").split(' ').next().unwrap_or("").to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
        let deadline = std::time::Instant::now() + READY;
        loop {
            if let Ok(addr) = rx.recv_timeout(Duration::from_millis(100)) {
                return Ok(Serve { child: Some(child), addr, stderr });
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(200)); // the rest of stderr
                return Err((status.code(), stderr.lock().unwrap().clone()));
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("sealift serve not ready after {READY:?}: {}", stderr.lock().unwrap());
            }
        }
    }

    /// What serve printed on stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends `signal` (`TERM`, `INT`) and waits for the exit: its code and stderr.
    pub fn stop(mut self, signal: &str) -> (Option<i32>, String) {
        let mut child = self.child.take().unwrap();
        let o = run(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]), b"");
        assert!(o.status.success(), "kill: {}", String::from_utf8_lossy(&o.stderr));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("sealift serve did not stop within 30 s of SIG{signal}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(200));
        (status.code(), self.log())
    }

    pub fn raw(&self) -> Raw {
        Raw::new(&self.addr)
    }

    pub fn get_json(&self, path: &str) -> Value {
        let r = self.raw().expect(&[200], "GET", path, &[], b"");
        serde_json::from_slice(&r.body).unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A source registry with one signed image (a `.sig`, a simple-signing referrer, an SBOM)
/// and one unsigned image, saved into one bundle and extracted into a layout directory.
pub struct World {
    pub src: TestRegistry,
    pub dir: tempfile::TempDir,
    pub key: OpensslKey,
    pub app: Pushed,
    pub layers: Vec<Vec<u8>>,
    pub sig: Pushed,
    pub referrer: Pushed,
    pub sbom: Pushed,
    pub unsigned: Pushed,
    pub unsigned_layer: Vec<u8>,
    pub bundle: PathBuf,
    pub layout: PathBuf,
}

impl World {
    pub fn new() -> World {
        let src = TestRegistry::start();
        let dir = tempdir();
        let key = OpensslKey::p256(dir.path(), "trusted");
        let layers = vec![random_bytes(300_000), random_bytes(3_000_000)];
        let app = image(&src, "team/app", Some("v1"), &layers, false, "amd64");
        let sig = openssl_sig(&src, "team/app", &app.digest, &key);
        let referrer = openssl_referrer(&src, "team/app", &app, &key);
        let sbom = sbom(&src, "team/app", &app.digest);
        let unsigned_layer = random_bytes(200_000);
        let unsigned = image(&src, "team/unsigned", Some("v1"), std::slice::from_ref(&unsigned_layer), true, "amd64");
        let bundle = dir.path().join("bundle.tar");
        ok_all(&sealift(&[
            "save",
            &format!("{}/team/app:v1", src.addr),
            &format!("{}/team/unsigned:v1", src.addr),
            "-o",
            bundle.to_str().unwrap(),
        ]));
        let layout = extract_bundle(&bundle, dir.path(), "layout");
        World { src, dir, key, app, layers, sig, referrer, sbom, unsigned, unsigned_layer, bundle, layout }
    }

    /// `serve LAYOUT --key trusted.pub --partial ...`
    pub fn serve(&self, extra: &[&str]) -> Serve {
        let mut args = vec![self.layout.to_str().unwrap(), "--key", self.key.public_path(), "--partial"];
        args.extend_from_slice(extra);
        Serve::start(&args)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn curl(args: &[&str]) -> std::process::Output {
    crate::support::require_tool("curl", "curl");
    run(Command::new("curl").args(["-sS", "--max-time", "60"]).args(args), b"")
}

fn sha(bytes: &[u8]) -> Digest {
    Digest::of(bytes)
}

fn code(body: &[u8]) -> String {
    let v: Value =
        serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(body)));
    v["errors"][0]["code"].as_str().unwrap_or_else(|| panic!("not an OCI error: {v}")).to_owned()
}

#[test]
fn skopeo_copies_and_inspects_what_serve_admitted_and_never_sees_the_refused_image() {
    let w = World::new();
    let s = w.serve(&[]);
    // skopeo inspect: the exact manifest bytes.
    let raw = crate::support::skopeo_inspect_raw(&format!("{}/team/app:v1", s.addr));
    assert_eq!(raw, w.app.bytes, "serve must give the manifest byte for byte");
    // skopeo copy into a real registry: the same digest arrives.
    let dst = TestRegistry::start();
    let out = skopeo(&[
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/team/app:v1", s.addr),
        &format!("docker://{}/copied/app:v1", dst.addr),
    ]);
    assert!(out.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&out.stderr));
    dst.assert_present("copied/app", "v1", &w.app.bytes);
    for l in &w.layers {
        assert!(dst.blob_present("copied/app", &sha(l)), "layer copied through serve");
    }
    // The unsigned image failed the policy: no name, no tag, no manifest, no blob.
    let catalog = s.get_json("/v2/_catalog");
    assert_eq!(catalog["repositories"], serde_json::json!(["team/app"]), "{catalog}");
    let r = s.raw().request("GET", "/v2/team/unsigned/tags/list", &[], b"");
    assert_eq!((r.status, code(&r.body).as_str()), (404, "NAME_UNKNOWN"));
    for repo in ["team/unsigned", "team/app"] {
        let r = s.raw().request("GET", &format!("/v2/{repo}/manifests/{}", w.unsigned.digest), &[], b"");
        assert_eq!(r.status, 404, "refused manifest by digest in {repo}");
        let r = s.raw().request("GET", &format!("/v2/{repo}/blobs/{}", sha(&w.unsigned_layer)), &[], b"");
        assert_eq!(r.status, 404, "refused layer in {repo}");
    }
    let out = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/team/unsigned:v1", s.addr)]);
    assert!(!out.status.success(), "skopeo must not find the refused image");
    assert!(s.log().contains("refusing 1 image(s)"), "the refused image is named on stderr: {}", s.log());
}

#[test]
fn verify_and_save_work_online_against_serve() {
    let w = World::new();
    let s = w.serve(&[]);
    let reference = format!("{}/team/app:v1", s.addr);
    ok_all(&sealift(&["verify", &reference, "--key", w.key.public_path()]));
    // Saving from serve walks the same attachments as saving from the source did.
    let again = w.path("again.tar");
    ok_all(&sealift(&["save", &reference, "-o", again.to_str().unwrap()]));
    let digests = |bundle: &Path| -> Vec<(String, String)> {
        let v: Value =
            serde_json::from_str(&ok_all(&sealift(&["inspect", bundle.to_str().unwrap(), "--output", "json"])))
                .unwrap();
        let mut out = Vec::new();
        for image in v["images"].as_array().unwrap_or_else(|| panic!("inspect json: {v}")) {
            if image["repository"].as_str().unwrap().contains("unsigned") {
                continue;
            }
            out.push(("image".to_owned(), image["digest"].as_str().unwrap().to_owned()));
            for m in image["manifests"].as_array().unwrap() {
                for a in m["attachments"].as_array().unwrap() {
                    out.push((a["role"].as_str().unwrap().to_owned(), a["digest"].as_str().unwrap().to_owned()));
                }
            }
        }
        out.sort();
        out
    };
    let (first, second) = (digests(&w.bundle), digests(&again));
    assert_eq!(second, first, "the walk through serve finds the same image and attachments");
    for p in [&w.sig, &w.referrer, &w.sbom] {
        assert!(second.iter().any(|(_, d)| *d == p.digest.to_string()), "{} saved again", p.digest);
    }
}

#[test]
fn blobs_honour_range_and_refuse_ranges_past_the_end() {
    let w = World::new();
    let s = w.serve(&[]);
    let layer = &w.layers[1];
    let url = format!("http://{}/v2/team/app/blobs/{}", s.addr, sha(layer));
    let out = curl(&["-f", "-r", "1000-1999", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, &layer[1000..2000]);
    let out = curl(&["-f", "-r", "-10", &url]);
    assert_eq!(out.stdout, &layer[layer.len() - 10..]);
    let out = curl(&["-f", &url]);
    assert_eq!(sha(&out.stdout), sha(layer), "the whole layer");
    let r = s.raw().request(
        "GET",
        &format!("/v2/team/app/blobs/{}", sha(layer)),
        &[("Range", &format!("bytes={}-", layer.len()))],
        b"",
    );
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some(format!("bytes */{}", layer.len()).as_str()));
    code(&r.body);
    let r = s.raw().request("GET", &format!("/v2/team/app/blobs/{}", sha(layer)), &[("Range", "bytes=5-9")], b"");
    assert_eq!((r.status, r.body.as_slice()), (206, &layer[5..10]));
    assert_eq!(r.header("content-range"), Some(format!("bytes 5-9/{}", layer.len()).as_str()));
    let r = s.raw().request("HEAD", &format!("/v2/team/app/blobs/{}", sha(layer)), &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(layer.len().to_string().as_str()));
    assert_eq!(r.header("docker-content-digest"), Some(sha(layer).to_string().as_str()));
}

#[test]
fn manifests_carry_their_media_type_digest_and_length_and_honour_accept() {
    let w = World::new();
    let s = w.serve(&[]);
    for reference in ["v1".to_owned(), w.app.digest.to_string()] {
        for method in ["GET", "HEAD"] {
            let r = s.raw().request(method, &format!("/v2/team/app/manifests/{reference}"), &[], b"");
            assert_eq!(r.status, 200, "{method} {reference}");
            assert_eq!(r.header("content-type"), Some(w.app.media_type.as_str()));
            assert_eq!(r.header("docker-content-digest"), Some(w.app.digest.to_string().as_str()));
            assert_eq!(r.header("content-length"), Some(w.app.bytes.len().to_string().as_str()));
            if method == "GET" {
                assert_eq!(r.body, w.app.bytes);
            } else {
                assert!(r.body.is_empty());
            }
        }
    }
    let r = s.raw().request(
        "GET",
        "/v2/team/app/manifests/v1",
        &[("Accept", "application/vnd.oci.image.index.v1+json")],
        b"",
    );
    assert_eq!((r.status, code(&r.body).as_str()), (404, "MANIFEST_UNKNOWN"), "an OCI manifest is not an index");
    // The attachments under their cosign tags, and the referrers API.
    let sig_tag = format!("{}.sig", w.app.digest.tag_prefix());
    let r = s.raw().expect(&[200], "GET", &format!("/v2/team/app/manifests/{sig_tag}"), &[], b"");
    assert_eq!(r.body, w.sig.bytes);
    let tags = s.get_json("/v2/team/app/tags/list");
    let tags: Vec<&str> = tags["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let prefix = w.app.digest.tag_prefix();
    assert_eq!(tags, vec![prefix.clone(), format!("{prefix}.sbom"), format!("{prefix}.sig"), "v1".to_owned()]);
    let index = s.get_json(&format!("/v2/team/app/referrers/{}", w.app.digest));
    let listed: Vec<&str> =
        index["manifests"].as_array().unwrap().iter().map(|d| d["digest"].as_str().unwrap()).collect();
    assert_eq!(listed, vec![w.referrer.digest.to_string().as_str()], "{index}");
    let filtered = s.raw().expect(
        &[200],
        "GET",
        &format!("/v2/team/app/referrers/{}?artifactType=application%2Fvnd.example.none", w.app.digest),
        &[],
        b"",
    );
    assert_eq!(filtered.header("oci-filters-applied"), Some("artifactType"));
    let v: Value = serde_json::from_slice(&filtered.body).unwrap();
    assert_eq!(v["manifests"], serde_json::json!([]));
    let kept = s.get_json(&format!(
        "/v2/team/app/referrers/{}?artifactType=application%2Fvnd.dev.cosign.artifact.sig.v1%2Bjson",
        w.app.digest
    ));
    assert_eq!(kept["manifests"].as_array().unwrap().len(), 1, "{kept}");
    // The referrers tag-schema index, as a registry without the referrers API holds it.
    let r = s.raw().expect(&[200], "GET", &format!("/v2/team/app/manifests/{prefix}"), &[], b"");
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["manifests"][0]["digest"], w.referrer.digest.to_string());
}

#[test]
fn every_write_method_is_405_and_hostile_requests_get_oci_errors() {
    let w = World::new();
    let s = w.serve(&[]);
    for method in ["PUT", "POST", "DELETE", "PATCH", "OPTIONS"] {
        for path in ["/v2/team/app/manifests/v1", "/v2/team/app/blobs/uploads/", "/v2/other/blobs/uploads/x", "/v2/"] {
            let r = s.raw().request(method, path, &[], b"{}");
            assert_eq!((r.status, code(&r.body).as_str()), (405, "UNSUPPORTED"), "{method} {path}");
        }
    }
    for (path, status, want) in [
        ("/v2/team/../team/app/manifests/v1", 400, "NAME_INVALID"),
        ("/v2/team%2Fapp/manifests/v1", 400, "NAME_INVALID"),
        ("/v2/team/app%2F..%2F/manifests/v1", 400, "NAME_INVALID"),
        ("/v2/%2e%2e/manifests/v1", 400, "NAME_INVALID"),
        ("/v2/team/app/manifests/..", 400, "MANIFEST_INVALID"),
        ("/v2/team/app/blobs/sha256:1234", 400, "DIGEST_INVALID"),
        ("/v2/_catalog?n=abc", 400, "PAGINATION_NUMBER_INVALID"),
        ("/v2/nothere/manifests/v1", 404, "NAME_UNKNOWN"),
        ("/v2/team/app/manifests/v2", 404, "MANIFEST_UNKNOWN"),
        ("/etc/passwd", 404, "NOT_FOUND"),
    ] {
        let r = s.raw().request("GET", path, &[], b"");
        assert_eq!((r.status, code(&r.body).as_str()), (status, want), "GET {path}");
    }
    let long = format!("/v2/{}/manifests/v1", "a/".repeat(3000));
    let r = s.raw().request("GET", &long, &[], b"");
    assert_eq!(r.status, 400, "an over-long path");
    // A huge n is capped, not trusted.
    let v = s.get_json("/v2/_catalog?n=99999999999999999999999999");
    assert_eq!(v["repositories"], serde_json::json!(["team/app"]));
    let r = s.raw().expect(&[200], "GET", "/v2/team/app/tags/list?n=1", &[], b"");
    let link = r.header("link").expect("a Link to the next page").to_owned();
    assert!(link.contains("last="), "{link}");
    let v = s.get_json("/v2/team/app/tags/list?n=2&last=v0");
    assert_eq!(v["tags"], serde_json::json!(["v1"]));
    // A HEAD flood: answered, and serve still serves.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (addr, path) = (s.addr.clone(), format!("/v2/team/app/blobs/{}", sha(&w.layers[1])));
            std::thread::spawn(move || {
                for _ in 0..100 {
                    assert_eq!(Raw::new(&addr).request("HEAD", &path, &[], b"").status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.raw().request("GET", "/v2/", &[], b"").status, 200);
}

#[test]
fn parallel_clients_each_get_the_whole_layer() {
    let w = World::new();
    let s = w.serve(&[]);
    let want = sha(&w.layers[1]);
    let url = format!("http://{}/v2/team/app/blobs/{want}", s.addr);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || curl(&["-f", &url]))
        })
        .collect();
    for t in threads {
        let out = t.join().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(sha(&out.stdout), want);
    }
}

#[test]
fn a_damaged_layer_in_a_layout_is_never_served_and_the_log_names_it() {
    let w = World::new();
    let victim = sha(&w.layers[1]);
    let path = w.layout.join(victim.blob_path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1_000_000] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    // The layers are not read before listening: serve starts, and refuses the layer on request.
    let s = w.serve(&["-v"]);
    for _ in 0..2 {
        let r = s.raw().request("GET", &format!("/v2/team/app/blobs/{victim}"), &[("Range", "bytes=0-9")], b"");
        assert_eq!((r.status, code(&r.body).as_str()), (404, "BLOB_UNKNOWN"), "{}", String::from_utf8_lossy(&r.body));
        assert!(!r.body.windows(10).any(|x| x == &bytes[..10]), "no byte of the damaged layer is served");
    }
    let r = s.raw().request("HEAD", &format!("/v2/team/app/blobs/{victim}"), &[], b"");
    assert_eq!(r.status, 404, "known damaged: HEAD refuses it too");
    let dst = TestRegistry::start();
    let out = skopeo(&[
        "copy",
        "--retry-times=0",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/team/app:v1", s.addr),
        &format!("docker://{}/copied/app:v1", dst.addr),
    ]);
    assert!(!out.status.success(), "a copy through a damaged layer must fail");
    assert!(!dst.blob_present("copied/app", &victim));
    let log = s.log();
    assert!(log.contains(&format!("blob {victim} in the bundle is damaged")), "{log}");
    assert!(log.contains("GET /v2/team/app/blobs/"), "-v logs each request: {log}");
    // The good layer still serves.
    let r = s.raw().request("GET", &format!("/v2/team/app/blobs/{}", sha(&w.layers[0])), &[], b"");
    assert_eq!(r.status, 200);
}

#[test]
fn serve_refuses_to_start_on_a_refused_image_without_partial_and_on_a_compressed_bundle() {
    let w = World::new();
    let layout = w.layout.to_str().unwrap();
    let (code, err) = Serve::try_start(&[layout, "--key", w.key.public_path()]).err().expect("must not start");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("nothing is served") && err.contains("--partial"), "{err}");
    let (code, err) = Serve::try_start(&[layout]).err().expect("no trust: must not start");
    assert_eq!(code, Some(2), "{err}");
    let zst = w.path("bundle.tar.zst");
    ok_all(&sealift(&["save", &format!("{}/team/app:v1", w.src.addr), "-o", zst.to_str().unwrap()]));
    let (code, err) =
        Serve::try_start(&[zst.to_str().unwrap(), "--key", w.key.public_path()]).err().expect("compressed");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unpack it") && err.contains("without compression"), "{err}");
}

#[test]
fn serve_stops_cleanly_on_sigterm_and_sigint() {
    let w = World::new();
    for signal in ["TERM", "INT"] {
        let s = w.serve(&[]);
        assert_eq!(s.raw().request("GET", "/v2/", &[], b"").status, 200);
        let (code, log) = s.stop(signal);
        assert_eq!(code, Some(0), "{log}");
        assert!(log.contains(&format!("stopped (SIG{signal})")), "{log}");
    }
}

#[test]
fn serve_over_tls_with_a_certificate_curl_trusts() {
    let w = World::new();
    let (crt, key) = (w.path("tls.crt"), w.path("tls.key"));
    openssl_req_new_p256(
        w.dir.path(),
        &[
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            crt.to_str().unwrap(),
        ],
    );
    // A traditional (not PKCS#8) EC key, as `openssl ec` writes it, is accepted too.
    let traditional = w.path("tls-ec.key");
    let o = run(
        Command::new("openssl").args(["ec", "-in", key.to_str().unwrap(), "-out", traditional.to_str().unwrap()]),
        b"",
    );
    assert!(o.status.success(), "openssl ec: {}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&traditional).unwrap().starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let key = traditional;
    let out = Serve::try_start(&[
        w.layout.to_str().unwrap(),
        "--insecure-skip-verify",
        "--tls-cert",
        crt.to_str().unwrap(),
        "--tls-key",
        crt.to_str().unwrap(),
    ]);
    assert_eq!(out.err().expect("a certificate is no key").0, Some(2));
    let s = w.serve(&["--tls-cert", crt.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    assert!(s.log().contains("listening on https://"), "{}", s.log());
    let out = curl(&["-f", "--cacert", crt.to_str().unwrap(), &format!("https://{}/v2/team/app/manifests/v1", s.addr)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, w.app.bytes);
    let out = curl(&[&format!("https://{}/v2/", s.addr)]);
    assert!(!out.status.success(), "an untrusted certificate is refused by curl");
}

#[test]
fn a_tar_bundle_is_served_in_place_and_a_damaged_layer_in_it_never_is() {
    let w = World::new();
    let bundle = w.bundle.to_str().unwrap();
    let s = Serve::start(&[bundle, "--key", w.key.public_path(), "--partial"]);
    let copy = |from: &str, dst: &TestRegistry, to: &str| {
        skopeo(&[
            "copy",
            "--retry-times=0",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{from}/team/app:v1"),
            &format!("docker://{}/{to}:v1", dst.addr),
        ])
    };
    let dst = TestRegistry::start();
    let out = copy(&s.addr, &dst, "from/tar");
    assert!(out.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&out.stderr));
    dst.assert_present("from/tar", "v1", &w.app.bytes);
    drop(s);

    let victim = sha(&w.layers[1]);
    let damaged = w.path("damaged.tar");
    std::fs::copy(&w.bundle, &damaged).unwrap();
    crate::seal::rewrite_tar(
        &damaged,
        |name, mut bytes| {
            if name == victim.blob_path() {
                bytes[2_000_000] ^= 0x80;
            }
            Some(bytes)
        },
        None,
    );
    let s = Serve::start(&[damaged.to_str().unwrap(), "--key", w.key.public_path(), "--partial"]);
    let r = s.raw().request("GET", &format!("/v2/team/app/blobs/{victim}"), &[], b"");
    assert_eq!((r.status, code(&r.body).as_str()), (404, "BLOB_UNKNOWN"));
    // A fresh target: skopeo would mount the good copy of the layer from the first one.
    let dst = TestRegistry::start();
    let out = copy(&s.addr, &dst, "from/damaged");
    assert!(!out.status.success(), "a copy through a damaged layer must fail");
    assert!(!dst.blob_present("from/damaged", &victim));
    assert!(s.log().contains(&format!("blob {victim} in the bundle is damaged")), "{}", s.log());
}

#[test]
fn several_bundles_serve_as_one_registry_under_a_prefix() {
    let w = World::new();
    let tool = image(&w.src, "team/tool", Some("2.0"), &[random_bytes(50_000)], false, "arm64");
    openssl_sig(&w.src, "team/tool", &tool.digest, &w.key);
    let second = w.path("tool.tar");
    ok_all(&sealift(&["save", &format!("{}/team/tool:2.0", w.src.addr), "-o", second.to_str().unwrap()]));
    let s = Serve::start(&[
        w.layout.to_str().unwrap(),
        second.to_str().unwrap(),
        "--key",
        w.key.public_path(),
        "--partial",
        "--prefix",
        "mirror",
    ]);
    let catalog = s.get_json("/v2/_catalog");
    assert_eq!(catalog["repositories"], serde_json::json!(["mirror/team/app", "mirror/team/tool"]));
    let page = s.raw().expect(&[200], "GET", "/v2/_catalog?n=1", &[], b"");
    assert_eq!(page.header("link"), Some("</v2/_catalog?n=1&last=mirror/team/app>; rel=\"next\""));
    for (repo, tag, bytes) in [("mirror/team/app", "v1", &w.app.bytes), ("mirror/team/tool", "2.0", &tool.bytes)] {
        let raw = crate::support::skopeo_inspect_raw(&format!("{}/{repo}:{tag}", s.addr));
        assert_eq!(&raw, bytes, "{repo}:{tag}");
    }
    let r = s.raw().request("GET", "/v2/team/app/manifests/v1", &[], b"");
    assert_eq!(r.status, 404, "names are under the prefix only");
    let out = Serve::try_start(&[w.layout.to_str().unwrap(), "--insecure-skip-verify", "--prefix", "Bad:tag"]);
    assert_eq!(out.err().expect("an invalid prefix").0, Some(2));
}
