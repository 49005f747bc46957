//! Content digests (`sha256:<64 hex>`) and a hashing reader that checks them.
//!
//! Only SHA-256 is accepted: it is what every registry and cosign use, and a bundle
//! that names blobs by anything else is refused rather than trusted.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A validated `sha256:<64 lowercase hex>` digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {input:?}: expected sha256:<64 lowercase hex>")]
pub struct DigestParseError {
    pub input: String,
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest { hex: hex::encode(Sha256::digest(bytes)) }
    }

    /// Parses a bare 64-hex string (as in `blobs/sha256/<hex>`).
    pub fn from_hex(hex: &str) -> Result<Self, DigestParseError> {
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Digest { hex: hex.to_owned() })
        } else {
            Err(DigestParseError { input: hex.to_owned() })
        }
    }

    /// The 64 hex characters, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The cosign tag prefix for this digest: `sha256-<hex>` (also the referrers tag schema tag).
    pub fn tag_prefix(&self) -> String {
        format!("sha256-{}", self.hex)
    }

    /// The path of this blob inside an OCI image layout.
    pub fn blob_path(&self) -> String {
        format!("blobs/sha256/{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("sha256:") {
            Some(hex) => Digest::from_hex(hex).map_err(|_| DigestParseError { input: s.to_owned() }),
            None => Err(DigestParseError { input: s.to_owned() }),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental SHA-256 with a byte count, for bytes that stream.
#[derive(Default, Clone)]
pub struct Hasher {
    inner: Sha256,
    len: u64,
}

impl Hasher {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn finish(self) -> Digest {
        Digest { hex: hex::encode(self.inner.finalize()) }
    }
}

/// Why streamed content did not match the descriptor it was read for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentMismatch {
    #[error("blob {expected}: content hashes to {actual}")]
    Digest { expected: Digest, actual: Digest },
    #[error("blob {digest}: expected {expected} bytes, got {actual}")]
    Size { digest: Digest, expected: u64, actual: u64 },
}

/// Checks a finished hash against the expected digest and size.
pub fn check(expected: &Digest, expected_size: Option<u64>, hasher: Hasher) -> Result<(), ContentMismatch> {
    let len = hasher.len();
    if let Some(size) = expected_size {
        if size != len {
            return Err(ContentMismatch::Size { digest: expected.clone(), expected: size, actual: len });
        }
    }
    let actual = hasher.finish();
    if &actual != expected {
        return Err(ContentMismatch::Digest { expected: expected.clone(), actual });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_rejects_bad_input() {
        for bad in [
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:../../etc/passwd000000000000000000000000000000000000000000000000",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
        let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".parse().unwrap();
        assert_eq!(d.tag_prefix(), "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn check_reports_size_then_digest() {
        let d = Digest::of(b"abc");
        let mut h = Hasher::new();
        h.update(b"abc");
        assert!(check(&d, Some(3), h.clone()).is_ok());
        assert!(matches!(check(&d, Some(4), h), Err(ContentMismatch::Size { .. })));
        let mut h = Hasher::new();
        h.update(b"abd");
        assert!(matches!(check(&d, Some(3), h), Err(ContentMismatch::Digest { .. })));
    }
}
