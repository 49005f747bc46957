//! An in-process HTTP/1.1 server that answers from a closure, for faults a real registry
//! cannot be made to show (503, 429 + Retry-After, bearer token services). Every response
//! closes its connection, so each client request arrives on a fresh one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub at: Instant,
    /// The body, as far as Content-Length said.
    pub body: Vec<u8>,
}

impl FakeRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A canned answer.
pub struct FakeResponse {
    /// 0: close the connection without answering (a reset, as the client sees it).
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send no Content-Length: the body ends when the connection closes.
    pub close_delimited: bool,
    /// Writes the body itself after the headers (an endless, chunked or trickled body);
    /// no Content-Length is added, `body` is ignored.
    pub body_writer: Option<BodyWriter>,
}

/// See [`FakeResponse::body_writer`]. A write error means the client hung up: stop.
pub type BodyWriter = Box<dyn FnOnce(&mut dyn Write) -> std::io::Result<()> + Send>;

impl FakeResponse {
    pub fn new(status: u16) -> Self {
        FakeResponse { status, headers: Vec::new(), body: Vec::new(), close_delimited: false, body_writer: None }
    }
    /// Closes the connection without a response.
    pub fn hang_up() -> Self {
        Self::new(0)
    }
    pub fn close_delimited(mut self) -> Self {
        self.close_delimited = true;
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
    /// The body comes from `f`, which writes to the connection as it likes.
    pub fn body_writer(mut self, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'static) -> Self {
        self.body_writer = Some(Box::new(f));
        self.close_delimited = true;
        self
    }
}

type Handler = dyn Fn(&FakeRequest, usize) -> FakeResponse + Send + Sync;

/// The server; stops accepting on drop.
pub struct FakeServer {
    pub addr: String,
    pub requests: Arc<Mutex<Vec<FakeRequest>>>,
    stop: Arc<AtomicBool>,
}

impl FakeServer {
    /// A registry that demands a bearer token, as a token-auth registry does (the test's
    /// docker-registry cannot be set up so without a token service): `/token` trades basic
    /// `user:pass` for `token`; any other request without `Bearer token` gets a 401 challenge
    /// naming this server's `/token` realm and `scope`; the rest goes to `handler`.
    pub fn bearer(
        user: &str,
        pass: &str,
        token: &'static str,
        scope: &'static str,
        handler: impl Fn(&FakeRequest) -> FakeResponse + Send + Sync + 'static,
    ) -> FakeServer {
        use base64::Engine as _;
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")));
        let addr = Arc::new(std::sync::OnceLock::<String>::new());
        let own = addr.clone();
        let fake = FakeServer::start(move |req, _| {
            if req.target.starts_with("/token") {
                return if req.header("authorization") == Some(basic.as_str()) {
                    FakeResponse::new(200)
                        .header("Content-Type", "application/json")
                        .body(format!(r#"{{"token":"{token}","expires_in":300}}"#))
                } else {
                    FakeResponse::new(401)
                };
            }
            if req.header("authorization") != Some(format!("Bearer {token}").as_str()) {
                let realm = format!("http://{}/token", own.get().unwrap());
                return FakeResponse::new(401)
                    .header("WWW-Authenticate", &format!(r#"Bearer realm="{realm}",service="fake",scope="{scope}""#));
            }
            handler(req)
        });
        addr.set(fake.addr.clone()).unwrap();
        fake
    }

    /// Starts a server on a free 127.0.0.1 port. `handler(request, n)` gets the request and
    /// its 0-based sequence number.
    pub fn start(handler: impl Fn(&FakeRequest, usize) -> FakeResponse + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (reqs, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (reqs, handler) = (reqs.clone(), handler.clone());
                std::thread::spawn(move || serve(conn, &reqs, &*handler));
            }
        });
        FakeServer { addr, requests, stop }
    }

    pub fn requests(&self) -> Vec<FakeRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr); // wake the accept loop
    }
}

fn serve(conn: TcpStream, reqs: &Mutex<Vec<FakeRequest>>, handler: &Handler) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = reader.read_exact(&mut body);
    let req = FakeRequest { method, target, headers, at: Instant::now(), body };
    let n = {
        let mut r = reqs.lock().unwrap();
        r.push(req.clone());
        r.len() - 1
    };
    let resp = handler(&req, n);
    if resp.status == 0 {
        let _ = conn.shutdown(std::net::Shutdown::Both);
        return;
    }
    let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", resp.status);
    if !resp.close_delimited {
        out.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut conn = conn;
    let _ = conn.write_all(out.as_bytes());
    if let Some(writer) = resp.body_writer {
        let _ = conn.flush();
        let _ = writer(&mut conn);
        let _ = conn.flush();
        return;
    }
    // HEAD responses carry no body.
    if req.method != "HEAD" {
        let _ = conn.write_all(&resp.body);
    }
    let _ = conn.flush();
}
