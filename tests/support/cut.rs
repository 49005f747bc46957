//! A TCP forwarder that cuts connections in the middle of a response, in front of a real
//! registry: once a connection has carried `after` bytes from the registry, the proxy
//! forwards no more and closes both sides — for the first `cuts` connections that get that
//! far. It keeps what clients sent (request heads and bodies) and counts the bytes the
//! registry sent, so a test can see the `Range` requests and that nothing was fetched twice.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::proxy::Forwarder;

pub struct CuttingProxy {
    /// `127.0.0.1:PORT`, bound by the proxy itself.
    pub addr: String,
    cuts_left: Arc<AtomicUsize>,
    from_clients: Arc<Mutex<Vec<u8>>>,
    from_server: Arc<AtomicU64>,
    _forwarder: Forwarder,
}

impl CuttingProxy {
    pub fn start(target: &str, after: u64, cuts: usize) -> CuttingProxy {
        let cuts_left = Arc::new(AtomicUsize::new(cuts));
        let from_clients = Arc::new(Mutex::new(Vec::new()));
        let from_server = Arc::new(AtomicU64::new(0));
        let (left, log, count) = (cuts_left.clone(), from_clients.clone(), from_server.clone());
        let forwarder = Forwarder::start(target, move |client, server| {
            let (c2, s2, log) = (client.try_clone().unwrap(), server.try_clone().unwrap(), log.clone());
            std::thread::spawn(move || upstream(c2, s2, &log));
            let (left, count) = (left.clone(), count.clone());
            std::thread::spawn(move || downstream(server, client, after, &left, &count));
        });
        CuttingProxy { addr: forwarder.addr.clone(), cuts_left, from_clients, from_server, _forwarder: forwarder }
    }

    /// Everything clients sent, as text (lossy), for looking for request headers.
    pub fn client_bytes(&self) -> String {
        String::from_utf8_lossy(&self.from_clients.lock().unwrap()).into_owned()
    }

    /// How many requests carried a `Range` header.
    pub fn range_requests(&self) -> usize {
        self.client_bytes().to_ascii_lowercase().matches("\r\nrange: bytes=").count()
    }

    /// Bytes forwarded from the registry to clients, over all connections.
    pub fn bytes_from_server(&self) -> u64 {
        self.from_server.load(Ordering::SeqCst)
    }

    /// Cuts not made yet.
    pub fn cuts_left(&self) -> usize {
        self.cuts_left.load(Ordering::SeqCst)
    }
}

fn upstream(mut client: TcpStream, mut server: TcpStream, log: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                log.lock().unwrap().extend_from_slice(&buf[..n]);
                if server.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = server.shutdown(Shutdown::Write);
}

fn downstream(mut server: TcpStream, mut client: TcpStream, after: u64, cuts_left: &AtomicUsize, count: &AtomicU64) {
    let mut buf = [0u8; 16 * 1024];
    let mut sent = 0u64;
    let mut cutting = false;
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut n = n as u64;
        if !cutting && sent + n >= after {
            // This connection reaches the limit: cut it if cuts are left.
            cutting = cuts_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| c.checked_sub(1)).is_ok();
        }
        if cutting {
            n = n.min(after.saturating_sub(sent));
        }
        if client.write_all(&buf[..n as usize]).is_err() {
            break;
        }
        sent += n;
        count.fetch_add(n, Ordering::SeqCst);
        if cutting {
            let _ = client.flush();
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}
