//! TCP forwarders in front of a real registry. [`Forwarder`] is the accept loop they share:
//! what happens to a connection's bytes is its hook ([`CountingProxy`] here, and
//! [`super::CuttingProxy`], [`super::TriggerProxy`]). [`CountingProxy`] counts the
//! connections it accepts, so that a test can assert how many times a client connected
//! (e.g. "a TLS error is not retried") by counting the event itself instead of timing the
//! client.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use super::{FakeRequest, FakeResponse, FakeServer, Raw};

/// Accepts connections on `addr`, connects each to the target and hands both streams to the
/// hook, which forwards them as it likes; stops accepting on drop.
pub struct Forwarder {
    /// `127.0.0.1:PORT`, bound by the forwarder itself.
    pub addr: String,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Forwarder {
    /// `on_connection(client, server)` runs on the accept thread, once per connection: it
    /// must hand the streams to threads of its own.
    pub fn start(target: &str, on_connection: impl Fn(TcpStream, TcpStream) + Send + 'static) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt, target) = (accepted.clone(), stop.clone(), target.to_owned());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(&target) else { continue };
                on_connection(client, server);
            }
        });
        Forwarder { addr, accepted, stop }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(&self.addr);
    }
}

/// Copies `from` to `to` on a thread of its own until `from` ends, then closes `to` for
/// writing.
pub fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// Forwards every connection unchanged, counting them.
pub struct CountingProxy {
    /// `127.0.0.1:PORT`, bound by the proxy itself.
    pub addr: String,
    forwarder: Forwarder,
}

impl CountingProxy {
    pub fn start(target: &str) -> CountingProxy {
        let forwarder = Forwarder::start(target, |client, server| {
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        });
        CountingProxy { addr: forwarder.addr.clone(), forwarder }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.forwarder.accepted()
    }
}

/// An HTTP forwarder in front of a real registry that answers chosen requests itself with a
/// 500 (a registry that fails one manifest PUT: a real one cannot be made to on cue) and
/// forwards every other request, one connection each ([`FakeServer`]). Upload `Location`s
/// that name the registry are rewritten to name the forwarder, so every request passes it.
pub struct FailingForwarder {
    pub addr: String,
    server: FakeServer,
}

impl FailingForwarder {
    pub fn start(target: &str, fail: impl Fn(&FakeRequest) -> bool + Send + Sync + 'static) -> FailingForwarder {
        let own = Arc::new(std::sync::OnceLock::<String>::new());
        let (me, target) = (own.clone(), target.to_owned());
        let server = FakeServer::start(move |req, _| {
            if fail(req) {
                return FakeResponse::new(500)
                    .header("Content-Type", "application/json")
                    .body(r#"{"errors":[{"code":"UNKNOWN","message":"storage failed on purpose"}]}"#);
            }
            let pass = ["content-type", "accept", "range"];
            let headers: Vec<(&str, &str)> = req
                .headers
                .iter()
                .filter(|(k, _)| pass.contains(&k.as_str()))
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let r = Raw::new(&target).request(&req.method, &req.target, &headers, &req.body);
            let mut resp = FakeResponse::new(r.status);
            let mut length = None;
            for (k, v) in &r.headers {
                match k.as_str() {
                    "content-length" => length = v.parse::<usize>().ok(),
                    "connection" | "transfer-encoding" => {}
                    "location" => resp = resp.header(k, &v.replace(&target, me.get().unwrap())),
                    _ => resp = resp.header(k, v),
                }
            }
            // A HEAD answer carries the length of the body it did not send.
            let body = if req.method == "HEAD" { vec![0; length.unwrap_or(0)] } else { r.body };
            resp.body(body)
        });
        own.set(server.addr.clone()).unwrap();
        FailingForwarder { addr: server.addr.clone(), server }
    }

    /// Every request the forwarder saw, failed ones included.
    pub fn requests(&self) -> Vec<FakeRequest> {
        self.server.requests()
    }
}
