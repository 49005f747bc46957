//! A real distribution registry (`/usr/bin/docker-registry`, v2.8) per test, on a free
//! 127.0.0.1 port, with its storage, config, htpasswd and certificates in a temp dir.
//!
//! Two tests may pick the same free port (it is free when we look, and taken a moment
//! later): each registry is configured with a random marker that it echoes as a header on
//! every response (`http.headers`), and a registry counts as started only when the port
//! answers with *its own* marker. Otherwise it is killed and started again on a new port.
//!
//! A second kind, `ferro-oci-server` (built by scripts/deps.sh into a cache), has the OCI
//! 1.1 referrers API that distribution 2.8 lacks, but no configurable headers. Its marker is
//! a random blob written into its storage directory before it starts: it counts as started
//! only when the port serves *that* blob (no other process reads this test's directory),
//! and every later answer is trusted only while the process still runs (it holds the port).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/docker-registry";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// The header each test registry echoes on every response, with its own random value.
pub const MARKER_HEADER: &str = "X-Sealift-Test-Registry";

/// Which registry implementation a [`TestRegistry`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryKind {
    /// Debian's distribution 2.8: no referrers API, only the referrers tag schema.
    Distribution,
    /// ferro-oci-server: the OCI 1.1 referrers API and `OCI-Subject`.
    Ferro,
}

impl RegistryKind {
    /// Both kinds, for tests parametrised over the registry.
    pub const ALL: [RegistryKind; 2] = [RegistryKind::Distribution, RegistryKind::Ferro];

    /// Whether `GET /v2/<name>/referrers/<digest>` exists.
    pub fn has_referrers_api(self) -> bool {
        self == RegistryKind::Ferro
    }
}

/// The ferro-oci-server binary: `$SEALIFT_TEST_TOOLS/bin` (default
/// `~/.cache/sealift-test-tools/bin`), where scripts/deps.sh installs it.
fn ferro_binary() -> PathBuf {
    let tools = std::env::var_os("SEALIFT_TEST_TOOLS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/sealift-test-tools")
    });
    tools.join("bin/ferro-oci-server")
}

/// A running registry process; killed (and waited for) on drop.
pub struct TestRegistry {
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// `Some((user, password))` for [`TestRegistry::start_with_auth`].
    pub creds: Option<(String, String)>,
    /// Holds storage, config and log; removed on drop after the process is gone.
    pub dir: tempfile::TempDir,
    /// The value of [`MARKER_HEADER`] on every answer of this registry (and no other); for
    /// ferro, the digest of the marker blob it was started with.
    pub marker: String,
    pub kind: RegistryKind,
    child: Mutex<Child>,
}

enum Mode<'a> {
    Plain,
    Auth(&'a str, &'a str),
    Tls,
    Catalog(u32),
}

impl TestRegistry {
    /// Where distribution's filesystem driver keeps a blob's bytes, for tests that damage or
    /// remove them behind the registry's back.
    pub fn blob_data_path(&self, digest: &sealift::oci::Digest) -> std::path::PathBuf {
        let hex = digest.hex();
        self.dir.path().join(format!("data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }

    /// Plain http, no auth.
    pub fn start() -> TestRegistry {
        Self::launch(Mode::Plain)
    }

    /// Plain http with htpasswd (bcrypt) auth: the challenge is `Basic`.
    pub fn start_with_auth(user: &str, pass: &str) -> TestRegistry {
        Self::launch(Mode::Auth(user, pass))
    }

    /// Plain http, no auth, whose `_catalog` answers at most `max` repositories per page
    /// (`catalog: maxentries`), with a `Link` to the next page.
    pub fn start_with_catalog_page(max: u32) -> TestRegistry {
        Self::launch(Mode::Catalog(max))
    }

    /// A registry of `kind`, plain http, no auth.
    pub fn start_kind(kind: RegistryKind) -> TestRegistry {
        match kind {
            RegistryKind::Distribution => Self::start(),
            RegistryKind::Ferro => Self::launch_ferro(),
        }
    }

    /// https with a certificate for IP 127.0.0.1 signed by a fresh self-signed CA; returns
    /// the CA's PEM path (inside the registry's temp dir).
    pub fn start_tls() -> (TestRegistry, PathBuf) {
        let reg = Self::launch(Mode::Tls);
        let ca = reg.dir.path().join("ca.pem");
        (reg, ca)
    }

    /// The registry's own log (stderr), for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn launch(mode: Mode<'_>) -> TestRegistry {
        if !Path::new(BINARY).exists() {
            panic!(
                "docker-registry not installed: run `make test` (it installs it) or apt-get install docker-registry"
            );
        }
        let dir = super::tempdir();
        let mut extra = String::new();
        let mut creds = None;
        let tls = matches!(mode, Mode::Tls);
        match mode {
            Mode::Plain => {}
            Mode::Auth(user, pass) => {
                super::require_tool("htpasswd", "apache2-utils");
                let out = super::run(Command::new("htpasswd").args(["-Bbn", user, pass]), b"");
                assert!(out.status.success(), "htpasswd failed: {}", String::from_utf8_lossy(&out.stderr));
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, &out.stdout).unwrap();
                extra.push_str(&format!("auth:\n  htpasswd:\n    realm: sealift-test\n    path: {}\n", path.display()));
                creds = Some((user.to_owned(), pass.to_owned()));
            }
            Mode::Tls => make_certs(dir.path()),
            Mode::Catalog(max) => extra.push_str(&format!("catalog:\n  maxentries: {max}\n")),
        }
        // The port is free when we release it; another process may grab it before the
        // registry binds, so a failed start is retried on a new port.
        let marker = hex::encode(super::random_bytes(16));
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let tls_block = if tls {
                format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    dir.path().join("server.pem").display(),
                    dir.path().join("server.key").display()
                )
            } else {
                String::new()
            };
            let config = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {addr}\n  secret: sealift-test-secret\n  headers:\n    {MARKER_HEADER}: [\"{marker}\"]\n{tls_block}{extra}",
                dir.path().join("data").display()
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).unwrap();
            let log_path = dir.path().join("registry.log");
            let log = std::fs::File::create(&log_path).unwrap();
            // Clean environment: every REGISTRY_* variable is a config override.
            let child = Command::new(BINARY)
                .arg("serve")
                .arg(&config_path)
                .env_clear()
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {BINARY}: {e}"));
            let mut child = child;
            match wait_ready(&mut child, &addr, dir.path(), tls, &marker) {
                Ok(()) => {
                    let kind = RegistryKind::Distribution;
                    return TestRegistry { addr, creds, dir, marker, kind, child: Mutex::new(child) };
                }
                Err(log) => {
                    last_log = log;
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!(
            "docker-registry never answered GET /v2/ with its marker within {STARTUP_TIMEOUT:?}; its log:\n{last_log}"
        );
    }
}

impl TestRegistry {
    fn launch_ferro() -> TestRegistry {
        let binary = ferro_binary();
        if !binary.exists() {
            panic!(
                "{} not installed: run `make test` (scripts/deps.sh builds it with SEALIFT_WITH_FERRO=1)",
                binary.display()
            );
        }
        let dir = super::tempdir();
        let storage = dir.path().join("data");
        // The marker blob, where ferro's filesystem store looks for it (sha256/<2 hex>/<rest>).
        let marker_bytes = super::random_bytes(32);
        let marker = sealift::oci::Digest::of(&marker_bytes);
        let (prefix, rest) = marker.hex().split_at(2);
        std::fs::create_dir_all(storage.join("sha256").join(prefix)).unwrap();
        std::fs::write(storage.join("sha256").join(prefix).join(rest), &marker_bytes).unwrap();
        let mut last_log = String::new();
        for _ in 0..5 {
            let addr = format!("127.0.0.1:{}", free_port());
            let log_path = dir.path().join("registry.log");
            let log = std::fs::File::create(&log_path).unwrap();
            let mut child = Command::new(&binary)
                .env_clear()
                .env("FERRO_OCI_LISTEN", &addr)
                .env("FERRO_OCI_STORAGE_DIR", &storage)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            match wait_ferro_ready(&mut child, &addr, &log_path, &marker, &marker_bytes) {
                Ok(()) => {
                    let (creds, kind, marker) = (None, RegistryKind::Ferro, marker.to_string());
                    return TestRegistry { addr, creds, dir, marker, kind, child: Mutex::new(child) };
                }
                Err(log) => {
                    last_log = log;
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!("ferro-oci-server never served its marker blob within {STARTUP_TIMEOUT:?}; its log:\n{last_log}");
    }

    /// Fails the test unless the answer `r` came from this test's own registry process.
    #[track_caller]
    fn assert_ours(&self, r: &super::http::Response, what: &str) {
        match self.kind {
            RegistryKind::Distribution => assert_eq!(
                r.header(MARKER_HEADER),
                Some(self.marker.as_str()),
                "{what}: the answer did not come from this test's registry"
            ),
            // It held the port when it served its marker blob; while it runs, it still does.
            RegistryKind::Ferro => assert!(
                matches!(self.child.lock().unwrap().try_wait(), Ok(None)),
                "{what}: this test's ferro-oci-server has exited; its log:\n{}",
                self.log()
            ),
        }
    }
}

/// Waits until `GET /v2/<any>/blobs/<marker>` on `addr` answers with the marker blob's
/// bytes, which only a server reading this test's storage directory can hold.
fn wait_ferro_ready(
    child: &mut Child,
    addr: &str,
    log_path: &Path,
    marker: &sealift::oci::Digest,
    bytes: &[u8],
) -> Result<(), String> {
    let log = || std::fs::read_to_string(log_path).unwrap_or_default();
    let start = Instant::now();
    while start.elapsed() < STARTUP_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("(exited with {status})\n{}", log()));
        }
        if let Ok(tcp) = TcpStream::connect(addr) {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
            let mut s = tcp;
            let request = format!("GET /v2/sealift-marker/blobs/{marker} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            let mut response = Vec::new();
            if s.write_all(request.as_bytes()).is_ok() {
                let _ = s.take(64 * 1024).read_to_end(&mut response);
            }
            if let Some(at) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&response[..at]).into_owned();
                if head.split(' ').nth(1) == Some("200") && &response[at + 4..] == bytes {
                    return Ok(());
                }
                return Err(format!(
                    "another server answers on {addr}: {}\n{}",
                    head.lines().next().unwrap_or(""),
                    log()
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(log())
}

/// Waits until `GET /v2/` on `addr` answers with this registry's `marker`; Err(log) if the
/// process died (another process holds the port), another server answers there, or the
/// timeout passed.
fn wait_ready(child: &mut Child, addr: &str, dir: &Path, tls: bool, marker: &str) -> Result<(), String> {
    let log = || std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
    let start = Instant::now();
    while start.elapsed() < STARTUP_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("(exited with {status})\n{}", log()));
        }
        match probe(addr, dir, tls) {
            Some(head) if has_marker(&head, marker) => return Ok(()),
            // Some other server answers on this port: ours cannot have bound it.
            Some(head) if head.starts_with("HTTP/1.") => {
                return Err(format!(
                    "another server answers on {addr}: {}\n{}",
                    head.lines().next().unwrap_or(""),
                    log()
                ))
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(log())
}

fn has_marker(head: &str, marker: &str) -> bool {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .any(|(k, v)| k.trim().eq_ignore_ascii_case(MARKER_HEADER) && v.trim() == marker)
}

/// The response head of `GET /v2/`, if anything answered.
fn probe(addr: &str, dir: &Path, tls: bool) -> Option<String> {
    let tcp = TcpStream::connect(addr).ok()?;
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut response = Vec::new();
    if tls {
        use openssl::ssl::{SslConnector, SslMethod};
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_ca_file(dir.join("ca.pem")).unwrap();
        let mut s = b.build().connect("127.0.0.1", tcp).ok()?;
        s.write_all(request.as_bytes()).ok()?;
        let _ = s.take(64 * 1024).read_to_end(&mut response);
    } else {
        let mut s = tcp;
        s.write_all(request.as_bytes()).ok()?;
        let _ = s.take(64 * 1024).read_to_end(&mut response);
    }
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    (!head.is_empty()).then(|| head.to_owned())
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// A CA (`ca.pem`) and a server certificate for IP 127.0.0.1 (`server.pem`, `server.key`),
/// made with the openssl CLI.
fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        super::require_tool("openssl", "openssl");
        let out = super::run(Command::new("openssl").args(args).current_dir(dir), b"");
        assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    super::openssl_req_new_p256(
        dir,
        &[
            "-x509",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=sealift test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    super::openssl_req_new_p256(dir, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

/// Whether a manifest exists at the target, as the registry itself answers it.
#[derive(Debug, PartialEq, Eq)]
pub enum Presence {
    /// 200 with these exact bytes.
    Present(Vec<u8>),
    /// 404 with `MANIFEST_UNKNOWN` or `NAME_UNKNOWN`.
    Absent,
}

/// Every manifest media type sealift carries, for `Accept`.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

impl TestRegistry {
    /// `GET /v2/<repo>/manifests/<reference>` (tag or digest) on this registry. Only a 404
    /// saying `MANIFEST_UNKNOWN`/`NAME_UNKNOWN`, from *this* registry (its marker), counts
    /// as absence; any other answer (401, 5xx, a stranger on the port) fails the test, so
    /// "must not exist" can never pass on a broken check.
    pub fn manifest(&self, repo: &str, reference: &str) -> Presence {
        let creds = self.creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        self.manifest_with(creds, repo, reference)
    }

    /// [`TestRegistry::manifest`] with these basic credentials (or none).
    pub fn manifest_with(&self, creds: Option<(&str, &str)>, repo: &str, reference: &str) -> Presence {
        let mut raw = super::Raw::new(&self.addr);
        if let Some((u, p)) = creds {
            raw = raw.with_basic(u, p);
        }
        let r = raw.request("GET", &format!("/v2/{repo}/manifests/{reference}"), &[("Accept", ACCEPT)], b"");
        self.assert_ours(&r, &format!("{repo}:{reference}"));
        let body = String::from_utf8_lossy(&r.body);
        match r.status {
            200 => Presence::Present(r.body),
            404 if body.contains("MANIFEST_UNKNOWN") || body.contains("NAME_UNKNOWN") => Presence::Absent,
            s => panic!("{}/{repo}:{reference}: neither present nor absent: status {s} {body}", self.addr),
        }
    }

    /// Asserts that `repo` has no manifest at `reference` (see [`TestRegistry::manifest`]).
    #[track_caller]
    pub fn assert_absent(&self, repo: &str, reference: &str, why: &str) {
        assert_eq!(self.manifest(repo, reference), Presence::Absent, "{repo}:{reference} must not exist: {why}");
    }

    /// Asserts that `repo` has the manifest `bytes` at `reference`.
    #[track_caller]
    pub fn assert_present(&self, repo: &str, reference: &str, bytes: &[u8]) {
        match self.manifest(repo, reference) {
            Presence::Present(got) => assert!(
                got == bytes,
                "{repo}:{reference} holds other bytes:\n got {}\nwant {}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(bytes)
            ),
            Presence::Absent => panic!("{repo}:{reference} is missing at {}", self.addr),
        }
    }
}

impl TestRegistry {
    /// `HEAD /v2/<repo>/blobs/<digest>`: true on 200, false on 404 (from this registry);
    /// anything else fails the test.
    pub fn blob_present(&self, repo: &str, digest: &sealift::oci::Digest) -> bool {
        let r = super::Raw::new(&self.addr).request("HEAD", &format!("/v2/{repo}/blobs/{digest}"), &[], b"");
        self.assert_ours(&r, &format!("{repo}@{digest}"));
        match r.status {
            200 => true,
            404 => false,
            s => panic!("HEAD {repo} blob {digest}: status {s}"),
        }
    }

    /// The repositories this registry holds (`/v2/_catalog`), sorted.
    pub fn catalog(&self) -> Vec<String> {
        let r = super::Raw::new(&self.addr).expect(&[200], "GET", "/v2/_catalog", &[], b"");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let mut repos: Vec<String> =
            v["repositories"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
        repos.sort();
        repos
    }
}
