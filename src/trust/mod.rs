//! Trust material loaded from files: public keys (`--key`), CA roots and intermediates
//! (`--ca-roots`, `--ca-intermediates`), Rekor keys (`--rekor-key`) and Sigstore
//! `trusted_root.json` (`--trusted-root`). Produces the inputs of
//! [`crate::verify::TrustPolicy`]; never decides anything itself.
//!
//! trusted_root.json: each `certificateAuthorities[].certChain` is leaf-most first, root
//! last; the last certificate becomes a trust anchor carrying the CA's `validFor` window
//! (enforced at verification against the trusted time), the others become untrusted
//! intermediates. Every `tlogs[].publicKey.rawBytes` (DER SPKI) becomes a Rekor key used
//! only inside its `publicKey.validFor` window (a window without its required `start` makes
//! the file unusable, as in sigstore-go). `timestampAuthorities` become RFC 3161
//! authorities (chain leaf first, `validFor` required); `ctlogs` become CT log keys for
//! SCTs (used only inside their `validFor`).

pub mod policy;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use openssl::x509::X509;
use serde::Deserialize;

use crate::verify::crypto::{self, KeyError, PublicKey};
use crate::verify::{TrustAnchor, TrustPolicy};

/// Why trust material could not be loaded ("could not check", not "rejected").
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{path}: not a Sigstore trusted_root.json: {reason}")]
    TrustedRoot { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
}

/// The files to load trust from (one field per command-line option).
#[derive(Debug, Clone, Default)]
pub struct TrustSources {
    pub keys: Vec<PathBuf>,
    pub ca_roots: Vec<PathBuf>,
    pub ca_intermediates: Vec<PathBuf>,
    pub trusted_root: Option<PathBuf>,
    pub rekor_keys: Vec<PathBuf>,
}

/// Loaded trust material.
#[derive(Debug, Clone, Default)]
pub struct TrustMaterial {
    pub keys: Vec<PublicKey>,
    pub roots: Vec<TrustAnchor>,
    pub intermediates: Vec<X509>,
    pub rekor_keys: Vec<PublicKey>,
    pub rekor_windows: crate::verify::rekor::LogWindows,
    pub timestamp_authorities: Vec<crate::verify::timestamp::TimestampAuthority>,
    pub rekor_aliases: crate::verify::rekor::LogAliases,
    pub ct_logs: Vec<crate::verify::sct::CtLog>,
}

fn read(path: &Path) -> Result<Vec<u8>, TrustError> {
    std::fs::read(path).map_err(|source| TrustError::Read { path: path.to_owned(), source })
}

/// The certificates of a `--ca-roots`/`--ca-intermediates` file, each parsed as Go's
/// `ParseCertificate` would (cosign refuses the whole file otherwise): a certificate Go
/// cannot parse is the user's file's fault, not a rejected signature.
fn usable_certificates(p: &Path) -> Result<Vec<X509>, TrustError> {
    let certs = crypto::load_certificates(&read(p)?, &p.display().to_string())?;
    for c in &certs {
        crate::verify::path::ParsedCert::parse(c)
            .map_err(|r| TrustError::Certificate { path: p.to_owned(), reason: r.to_string() })?;
    }
    Ok(certs)
}

impl TrustMaterial {
    pub fn load(src: &TrustSources) -> Result<Self, TrustError> {
        let mut m = TrustMaterial::default();
        for p in &src.keys {
            m.keys.push(crypto::load_public_key(&read(p)?, &p.display().to_string())?);
        }
        for p in &src.ca_roots {
            let certs = usable_certificates(p)?;
            m.roots.extend(certs.into_iter().map(TrustAnchor::from));
        }
        for p in &src.ca_intermediates {
            m.intermediates.extend(usable_certificates(p)?);
        }
        for p in &src.rekor_keys {
            m.rekor_keys.push(crypto::load_public_key(&read(p)?, &p.display().to_string())?);
        }
        if let Some(p) = &src.trusted_root {
            let tr =
                parse_trusted_root(&read(p)?).map_err(|reason| TrustError::TrustedRoot { path: p.clone(), reason })?;
            m.roots.extend(tr.roots);
            m.intermediates.extend(tr.intermediates);
            m.rekor_keys.extend(tr.rekor_keys);
            m.rekor_windows.extend(tr.rekor_windows);
            m.timestamp_authorities.extend(tr.timestamp_authorities);
            m.rekor_aliases.extend(tr.rekor_aliases);
            m.ct_logs.extend(tr.ct_logs);
        }
        Ok(m)
    }

    /// A policy trusting this material, with no identity requirement yet.
    pub fn into_policy(self, now: chrono::DateTime<chrono::Utc>) -> TrustPolicy {
        let mut p = TrustPolicy::new(now);
        p.keys = self.keys;
        p.roots = self.roots;
        p.intermediates = self.intermediates;
        p.rekor_keys = self.rekor_keys;
        p.rekor_windows = self.rekor_windows;
        p.timestamp_authorities = self.timestamp_authorities;
        p.rekor_aliases = self.rekor_aliases;
        p.ct_logs = self.ct_logs;
        p
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrustedRoot {
    #[serde(default)]
    tlogs: Vec<Tlog>,
    #[serde(default)]
    certificate_authorities: Vec<Ca>,
    #[serde(default)]
    timestamp_authorities: Vec<Ca>,
    #[serde(default)]
    ctlogs: Vec<Tlog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tlog {
    public_key: RawKey,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    log_id: Option<KeyId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: String,
    #[serde(default)]
    valid_for: Option<ValidFor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ca {
    cert_chain: CertChain,
    #[serde(default)]
    valid_for: Option<ValidFor>,
}

#[derive(Deserialize)]
struct CertChain {
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct ValidFor {
    start: Option<String>,
    end: Option<String>,
}

fn unix(s: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s).map(|d| d.timestamp()).map_err(|e| format!("bad time {s:?}: {e}"))
}

/// Parses a Sigstore trusted_root.json into anchors (with validity windows),
/// intermediates and Rekor keys.
pub fn parse_trusted_root(bytes: &[u8]) -> Result<TrustMaterial, String> {
    let tr: TrustedRoot = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("rawBytes: {e}"));
    let mut m = TrustMaterial::default();
    for (i, ca) in tr.certificate_authorities.iter().enumerate() {
        let mut certs = Vec::new();
        for c in &ca.cert_chain.certificates {
            certs.push(X509::from_der(&b64(&c.raw_bytes)?).map_err(|e| format!("CA {i}: certificate: {e}"))?);
        }
        let root = certs.pop().ok_or_else(|| format!("CA {i} has an empty certChain"))?;
        let valid_for = match &ca.valid_for {
            Some(v) => Some((
                v.start.as_deref().map(unix).transpose()?.unwrap_or(i64::MIN),
                v.end.as_deref().map(unix).transpose()?,
            )),
            None => None,
        };
        m.roots.push(TrustAnchor { cert: root, valid_for });
        m.intermediates.extend(certs);
    }
    for (i, t) in tr.tlogs.iter().enumerate() {
        let der = b64(&t.public_key.raw_bytes)?;
        let key = crypto::load_public_key(&der, &format!("tlog {i}")).map_err(|e| e.to_string())?;
        if let Some(v) = &t.public_key.valid_for {
            let start = v.start.as_deref().ok_or_else(|| format!("tlog {i}: validFor has no start"))?;
            m.rekor_windows.insert(key.fingerprint(), (unix(start)?, v.end.as_deref().map(unix).transpose()?));
        }
        if let Some(id) = &t.log_id {
            let id = hex::encode(b64(&id.key_id)?);
            if id != key.fingerprint() {
                let host = t
                    .base_url
                    .as_deref()
                    .and_then(|u| url::Url::parse(u).ok())
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .ok_or_else(|| format!("tlog {i}: a Rekor v2 log needs a baseUrl"))?;
                m.rekor_aliases.insert(id, (key.fingerprint(), host));
            }
        }
        m.rekor_keys.push(key);
    }
    for (i, t) in tr.ctlogs.iter().enumerate() {
        let der = b64(&t.public_key.raw_bytes)?;
        let key = crypto::load_public_key(&der, &format!("ctlog {i}")).map_err(|e| e.to_string())?;
        let log_id = match &t.log_id {
            Some(id) => b64(&id.key_id)?,
            None => openssl::sha::sha256(&key.spki_der()).to_vec(),
        };
        let valid_for = match &t.public_key.valid_for {
            Some(v) => {
                let start = v.start.as_deref().ok_or_else(|| format!("ctlog {i}: validFor has no start"))?;
                (unix(start)?, v.end.as_deref().map(unix).transpose()?)
            }
            None => (i64::MIN, None),
        };
        m.ct_logs.push(crate::verify::sct::CtLog { log_id, key, valid_for });
    }
    for (i, tsa) in tr.timestamp_authorities.iter().enumerate() {
        let mut chain = Vec::new();
        for c in &tsa.cert_chain.certificates {
            chain.push(X509::from_der(&b64(&c.raw_bytes)?).map_err(|e| format!("TSA {i}: certificate: {e}"))?);
        }
        if chain.is_empty() {
            return Err(format!("TSA {i} has an empty certChain"));
        }
        let v = tsa.valid_for.as_ref().ok_or_else(|| format!("TSA {i} has no validFor"))?;
        let start = v.start.as_deref().ok_or_else(|| format!("TSA {i}: validFor has no start"))?;
        let valid_for = (unix(start)?, v.end.as_deref().map(unix).transpose()?);
        m.timestamp_authorities.push(crate::verify::timestamp::TimestampAuthority { chain, valid_for });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(p: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign-real").join(p)
    }

    #[test]
    fn loads_public_good_trusted_root() {
        let m = parse_trusted_root(&std::fs::read(data("sigstore-root-signing/trusted_root.json")).unwrap()).unwrap();
        assert_eq!(m.roots.len(), 2);
        assert_eq!(m.intermediates.len(), 1);
        assert_eq!(m.rekor_keys.len(), 2);
        // The first tlog is rekor.sigstore.dev: its log ID is the one in every bundle.
        assert_eq!(m.rekor_keys[0].fingerprint(), "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d");
        assert_eq!(m.roots[0].valid_for, Some((1615087229, Some(1672531199))));
    }

    #[test]
    fn loads_files_and_reports_bad_ones() {
        let src = TrustSources {
            keys: vec![data("containers-image/keys/cosign.pub")],
            ca_roots: vec![data("containers-image/roots/pki_root_crts.pem")],
            ca_intermediates: vec![data("containers-image/roots/pki_intermediate_crts.pem")],
            trusted_root: None,
            rekor_keys: vec![data("containers-image/keys/rekor.pub")],
        };
        let m = TrustMaterial::load(&src).unwrap();
        assert_eq!((m.keys.len(), m.roots.len(), m.intermediates.len(), m.rekor_keys.len()), (1, 1, 1, 1));
        // A certificate Go's parser refuses (a duplicate extension) is the file's fault.
        let dir = tempfile::tempdir().unwrap();
        let key = crate::verify::certs::generate_key(crate::verify::certs::KeyType::EcP256).unwrap();
        let mut params = crate::verify::certs::CertParams::ca("dup", 0, 4_000_000_000, None);
        params.extra_extensions.push(("2.5.29.19".into(), vec![0x30, 0x00]));
        let cert = crate::verify::certs::issue(&params, &key, None).unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, cert.to_pem().unwrap()).unwrap();
        let bad = TrustSources { ca_roots: vec![file], ..Default::default() };
        let err = TrustMaterial::load(&bad).unwrap_err();
        assert!(matches!(&err, TrustError::Certificate { .. }), "{err}");
        assert!(err.to_string().contains("duplicate extension 2.5.29.19"), "{err}");
        let bad = TrustSources { keys: vec![data("containers-image/manifest-missing")], ..Default::default() };
        assert!(matches!(TrustMaterial::load(&bad), Err(TrustError::Read { .. })));
        let bad = TrustSources {
            keys: vec![data("containers-image/dir-img-cosign-valid/manifest.json")],
            ..Default::default()
        };
        assert!(matches!(TrustMaterial::load(&bad), Err(TrustError::Key(KeyError::Unreadable { .. }))));
    }
}
