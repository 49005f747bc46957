//! A deliberately tiny blocking HTTP/1.0 client over `std::net` for plain-http test
//! registries. It shares no code with sealift's registry client, so tests that build images
//! with it check sealift against an independent implementation.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;

/// A response: status, headers (names lowercased), body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

/// Raw access to one plain-http registry, optionally with basic credentials.
#[derive(Clone, Debug)]
pub struct Raw {
    pub addr: String,
    auth: Option<String>,
}

impl Raw {
    pub fn new(addr: &str) -> Raw {
        Raw { addr: addr.to_owned(), auth: None }
    }

    pub fn with_basic(mut self, user: &str, pass: &str) -> Raw {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        self.auth = Some(format!("Basic {token}"));
        self
    }

    /// Sends one request. HTTP/1.0 so that the server closes the connection and never
    /// answers chunked: the body is everything up to EOF.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let mut s = TcpStream::connect(&self.addr).unwrap_or_else(|e| panic!("connecting to {}: {e}", self.addr));
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Length: {}\r\n", self.addr, body.len());
        if let Some(a) = &self.auth {
            head.push_str(&format!("Authorization: {a}\r\n"));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap_or_else(|e| panic!("{method} {path}: reading the response: {e}"));
        parse(&raw).unwrap_or_else(|| panic!("{method} {path}: malformed response {:?}", String::from_utf8_lossy(&raw)))
    }

    /// Like [`Raw::request`] but panics unless the status is one of `ok`.
    pub fn expect(&self, ok: &[u16], method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let r = self.request(method, path, headers, body);
        assert!(
            ok.contains(&r.status),
            "{method} {path} on {}: status {} body {}",
            self.addr,
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        r
    }
}

fn parse(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Response { status, headers, body: raw[end + 4..].to_vec() })
}
