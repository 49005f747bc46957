//! A real distribution registry (`/usr/bin/docker-registry`, v2.8) per test, on a free
//! 127.0.0.1 port, with its storage, config, htpasswd and certificates in a temp dir.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/docker-registry";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running registry process; killed (and waited for) on drop.
pub struct TestRegistry {
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// `Some((user, password))` for [`TestRegistry::start_with_auth`].
    pub creds: Option<(String, String)>,
    /// Holds storage, config and log; removed on drop after the process is gone.
    pub dir: tempfile::TempDir,
    child: Child,
}

enum Mode<'a> {
    Plain,
    Auth(&'a str, &'a str),
    Tls,
}

impl TestRegistry {
    /// Plain http, no auth.
    pub fn start() -> TestRegistry {
        Self::launch(Mode::Plain)
    }

    /// Plain http with htpasswd (bcrypt) auth: the challenge is `Basic`.
    pub fn start_with_auth(user: &str, pass: &str) -> TestRegistry {
        Self::launch(Mode::Auth(user, pass))
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
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, pass])
                    .output()
                    .expect("htpasswd not installed: apt-get install apache2-utils");
                assert!(out.status.success(), "htpasswd failed: {}", String::from_utf8_lossy(&out.stderr));
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, &out.stdout).unwrap();
                extra.push_str(&format!("auth:\n  htpasswd:\n    realm: sealift-test\n    path: {}\n", path.display()));
                creds = Some((user.to_owned(), pass.to_owned()));
            }
            Mode::Tls => make_certs(dir.path()),
        }
        // The port is free when we release it; another process may grab it before the
        // registry binds, so a failed start is retried on a new port.
        let mut last_log = String::new();
        for _ in 0..3 {
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
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {addr}\n  secret: sealift-test-secret\n{tls_block}{extra}",
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
            match wait_ready(&mut child, &addr, dir.path(), tls) {
                Ok(()) => return TestRegistry { addr, creds, dir, child },
                Err(log) => {
                    last_log = log;
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!("docker-registry never answered GET /v2/ within {STARTUP_TIMEOUT:?}; its log:\n{last_log}");
    }
}

/// Waits until `GET /v2/` answers with any HTTP status; Err(log) if the process died or
/// the timeout passed.
fn wait_ready(child: &mut Child, addr: &str, dir: &Path, tls: bool) -> Result<(), String> {
    let log = || std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
    let start = Instant::now();
    while start.elapsed() < STARTUP_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("(exited with {status})\n{}", log()));
        }
        if probe(addr, dir, tls) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(log())
}

fn probe(addr: &str, dir: &Path, tls: bool) -> bool {
    let Ok(tcp) = TcpStream::connect(addr) else { return false };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut head = [0u8; 12];
    if tls {
        use openssl::ssl::{SslConnector, SslMethod};
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_ca_file(dir.join("ca.pem")).unwrap();
        let Ok(mut s) = b.build().connect("127.0.0.1", tcp) else { return false };
        s.write_all(request.as_bytes()).is_ok() && s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
    } else {
        let mut s = tcp;
        s.write_all(request.as_bytes()).is_ok() && s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl CLI not installed: apt-get install openssl");
        assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
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
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
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
