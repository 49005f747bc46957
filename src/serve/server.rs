//! The listener: HTTP/1.1 (hyper) on the tokio runtime, optionally TLS (OpenSSL through
//! native-tls, which reqwest already links). Connections are bounded, headers must arrive
//! in time, and a shutdown stops accepting, lets requests in flight finish for a while, and
//! returns.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_native_tls::native_tls;

use super::http::{handle, State};

/// Connections served at once; further clients wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 256;
/// Time a client has to send a request's headers (and to finish a TLS handshake).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Time requests in flight get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS certificate or key not usable: {reason}")]
    Tls { reason: String },
}

/// A certificate chain and its private key, PEM.
pub struct TlsIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// A bound listener: its address is known before anything is served.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<tokio_native_tls::TlsAcceptor>,
}

impl Listener {
    pub async fn bind(addr: &str, tls: Option<TlsIdentity>) -> Result<Listener, ServeError> {
        let tls = match tls {
            None => None,
            Some(t) => {
                // native-tls takes PKCS#8 only; OpenSSL reads a traditional key too.
                let key = openssl::pkey::PKey::private_key_from_pem(&t.key_pem)
                    .and_then(|k| k.private_key_to_pem_pkcs8())
                    .map_err(|e| ServeError::Tls { reason: format!("private key: {e}") })?;
                let identity = native_tls::Identity::from_pkcs8(&t.cert_pem, &key)
                    .map_err(|e| ServeError::Tls { reason: e.to_string() })?;
                let acceptor =
                    native_tls::TlsAcceptor::new(identity).map_err(|e| ServeError::Tls { reason: e.to_string() })?;
                Some(tokio_native_tls::TlsAcceptor::from(acceptor))
            }
        };
        let tcp = TcpListener::bind(addr).await.map_err(|e| ServeError::Bind { addr: addr.to_owned(), source: e })?;
        Ok(Listener { tcp, tls })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` completes, then drains.
    pub async fn run(self, state: Arc<State>, shutdown: impl std::future::Future<Output = ()>) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                p = slots.clone().acquire_owned() => p.expect("never closed"),
            };
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                r = self.tcp.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let (state, tls, stop) = (state.clone(), self.tls.clone(), stop_rx.clone());
            tokio::spawn(async move {
                let _permit = permit;
                match tls {
                    None => connection(stream, peer, state, stop).await,
                    Some(tls) => match tokio::time::timeout(HEADER_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(s)) => connection(s, peer, state, stop).await,
                        Ok(Err(e)) => tracing::info!("{peer}: TLS handshake failed: {e}"),
                        Err(_) => tracing::info!("{peer}: TLS handshake timed out"),
                    },
                }
            });
        }
        let _ = stop_tx.send(true);
        // Every connection holds a slot: all slots back means all connections ended.
        let all = slots.acquire_many(MAX_CONNECTIONS as u32);
        if tokio::time::timeout(DRAIN, all).await.is_err() {
            tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
        }
    }
}

async fn connection<I>(io: I, peer: SocketAddr, state: Arc<State>, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let state = state.clone();
        async move {
            let resp = handle(&state, &req).await;
            log(peer, &req, &resp);
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(64 * 1024)
        .max_headers(100)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = async { let _ = stop.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!("{peer}: connection ended: {e}");
    }
}

/// One line per request at `-v`; the path is escaped and cut (it is the client's).
fn log<B, C>(peer: SocketAddr, req: &hyper::Request<B>, resp: &hyper::Response<C>) {
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("");
    let mut shown: String = path.chars().take(256).collect();
    if shown.len() < path.len() {
        shown.push_str("...");
    }
    let len = resp.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info!(
        "{peer} {} {} {} {len}",
        crate::escape::clean(req.method().as_str()),
        crate::escape::clean(&shown),
        resp.status().as_u16()
    );
}
