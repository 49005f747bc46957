//! A TCP forwarder in front of a real registry that runs a hook once, at the moment a
//! client first sends a given request line (e.g. the first `POST …/blobs/uploads/`), before
//! that request reaches the registry: "do this between two phases of the client's work",
//! decided by the event itself rather than by a timer.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::proxy::{pipe, Forwarder};

/// The hook [`TriggerProxy`] runs once.
pub type Hook = Box<dyn FnOnce() + Send>;

pub struct TriggerProxy {
    /// `127.0.0.1:PORT`, bound by the proxy itself.
    pub addr: String,
    fired: Arc<AtomicBool>,
    _forwarder: Forwarder,
}

impl TriggerProxy {
    /// Forwards every connection to `target`; the first time a client sends bytes that
    /// contain `needle` (a request line such as `"POST /v2/"`), runs `hook` and only then
    /// forwards those bytes.
    pub fn start(target: &str, needle: &str, hook: Hook) -> TriggerProxy {
        let fired = Arc::new(AtomicBool::new(false));
        let hook = Arc::new(Mutex::new(Some(hook)));
        let (flag, needle) = (fired.clone(), needle.as_bytes().to_vec());
        let forwarder = Forwarder::start(target, move |client, server| {
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (hook, flag, needle) = (hook.clone(), flag.clone(), needle.clone());
            std::thread::spawn(move || upstream(c2, s2, &needle, &hook, &flag));
            pipe(server, client);
        });
        TriggerProxy { addr: forwarder.addr.clone(), fired, _forwarder: forwarder }
    }

    /// Whether the hook has run.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

fn upstream(
    mut client: TcpStream,
    mut server: TcpStream,
    needle: &[u8],
    hook: &Mutex<Option<Hook>>,
    fired: &AtomicBool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    // The tail of the previous read, so that a needle split across two reads is seen.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !fired.load(Ordering::SeqCst) {
            let mut window = std::mem::take(&mut tail);
            window.extend_from_slice(&buf[..n]);
            if window.windows(needle.len()).any(|w| w == needle) {
                // Take the hook under the lock: exactly one connection runs it, and every
                // other waits here until it has run.
                let mut slot = hook.lock().unwrap();
                if let Some(h) = slot.take() {
                    h();
                    fired.store(true, Ordering::SeqCst);
                }
            } else {
                tail = window[window.len().saturating_sub(needle.len())..].to_vec();
            }
        }
        if server.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Write);
}
