//! Offline Rekor checks: the bundle's SignedEntryTimestamp (SET) and the consistency of the
//! logged entry with the signature being verified. A verified SET gives the trusted time
//! (`integratedTime`).
//!
//! Mirrors cosign `VerifyBundle`/`VerifySET` (`pkg/cosign/verify.go`): SET = ECDSA over
//! SHA-256 of the RFC 8785 canonical JSON of `Payload`; `logID` = hex SHA-256 of the Rekor
//! key's DER SPKI; the body's hash, signature and key must match what was verified. A
//! trusted_root.json log key is used only inside its `validFor` window.

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use serde::Deserialize;

use super::crypto::PublicKey;
use super::error::RekorRejection;
use crate::oci::Digest;

/// `validFor` windows of log keys from trusted_root.json, by log ID (hex SHA-256 of the
/// key's DER SPKI): `(start, end)` in Unix seconds, both inclusive; no end = still valid.
/// A key without an entry (`--rekor-key`) has no window.
pub type LogWindows = std::collections::BTreeMap<String, (i64, Option<i64>)>;

/// Logs whose trusted_root.json `logId` is not the SHA-256 of their key (Rekor v2, whose
/// log ID is its c2sp note key ID): log ID (hex) -> (key fingerprint, note origin, the
/// `baseUrl` host).
pub type LogAliases = std::collections::BTreeMap<String, (String, String)>;

/// The configured log key whose log ID is `log_id`, refused outside its `validFor`
/// window at `at` (the entry's integrated time).
pub fn log_key<'a>(
    rekor_keys: &'a [PublicKey],
    windows: &LogWindows,
    log_id: &str,
    at: i64,
) -> Result<&'a PublicKey, RekorRejection> {
    let key = rekor_keys
        .iter()
        .find(|k| k.fingerprint() == log_id)
        .ok_or_else(|| RekorRejection::UnknownLog { log_id: log_id.to_owned() })?;
    window_check(windows, log_id, at)?;
    Ok(key)
}

/// Refuses `at` outside the window of the key whose fingerprint is `fingerprint`.
pub fn window_check(windows: &LogWindows, fingerprint: &str, at: i64) -> Result<(), RekorRejection> {
    let log_id = fingerprint;
    if let Some(&(start, end)) = windows.get(log_id) {
        if at < start || end.is_some_and(|e| at > e) {
            return Err(RekorRejection::LogKeyOutsideValidity { log_id: log_id.to_owned(), at });
        }
    }
    Ok(())
}

/// A Rekor entry whose SET verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekorEntry {
    pub integrated_time: i64,
    pub log_index: i64,
    pub log_id: String,
}

/// What verified the signature: the body must name the same thing.
#[derive(Debug, Clone, Copy)]
pub enum SignerMaterial<'a> {
    Key(&'a PublicKey),
    Certificate(&'a X509),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RekorPayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

fn b64(s: &str) -> Result<Vec<u8>, ()> {
    base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|_| ())
}

/// Verifies a SET: `set` over the canonical JSON of the four payload fields, with the
/// configured Rekor key whose log ID is `log_id`.
pub fn verify_set(
    body_b64: &str,
    integrated_time: i64,
    log_id: &str,
    log_index: i64,
    set_b64: &str,
    rekor_keys: &[PublicKey],
    windows: &LogWindows,
) -> Result<(), RekorRejection> {
    let key = log_key(rekor_keys, windows, log_id, integrated_time)?;
    let set = b64(set_b64).map_err(|_| RekorRejection::Malformed("SignedEntryTimestamp is not base64".into()))?;
    // RFC 8785: keys sorted, no spaces; the values are base64/hex strings and integers, for
    // which serde_json's string escaping is the canonical one.
    let canonical = format!(
        "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":{}}}",
        serde_json::Value::from(body_b64),
        integrated_time,
        serde_json::Value::from(log_id),
        log_index
    );
    let ok = Verifier::new(MessageDigest::sha256(), &key.0)
        .and_then(|mut v| v.verify_oneshot(&set, canonical.as_bytes()))
        .unwrap_or(false);
    let _ = openssl::error::ErrorStack::get();
    if ok {
        Ok(())
    } else {
        Err(RekorRejection::BadSet)
    }
}

/// Verifies a legacy cosign Rekor bundle against the signature it accompanies.
pub fn verify_bundle(
    bundle_json: &str,
    rekor_keys: &[PublicKey],
    windows: &LogWindows,
    payload: &[u8],
    signature: &[u8],
    signer: SignerMaterial<'_>,
) -> Result<RekorEntry, RekorRejection> {
    let bundle: RekorBundle =
        serde_json::from_str(bundle_json).map_err(|e| RekorRejection::Malformed(e.to_string()))?;
    let p = &bundle.payload;
    verify_set(
        &p.body,
        p.integrated_time,
        &p.log_id,
        p.log_index,
        &bundle.signed_entry_timestamp,
        rekor_keys,
        windows,
    )?;
    let body = b64(&p.body).map_err(|_| RekorRejection::Body("body is not base64".into()))?;
    check_body(&body, payload, signature, signer)?;
    Ok(RekorEntry { integrated_time: p.integrated_time, log_index: p.log_index, log_id: p.log_id.clone() })
}

fn field<'a>(v: &'a serde_json::Value, path: &[&str]) -> Result<&'a str, RekorRejection> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k).ok_or_else(|| RekorRejection::Body(format!("missing {}", path.join("."))))?;
    }
    cur.as_str().ok_or_else(|| RekorRejection::Body(format!("{} is not a string", path.join("."))))
}

/// hashedrekord v0.0.1 and rekord v0.0.1 (x509): hash, signature and key must match.
pub(crate) fn check_body(
    body: &[u8],
    payload: &[u8],
    signature: &[u8],
    signer: SignerMaterial<'_>,
) -> Result<(), RekorRejection> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| RekorRejection::Body(e.to_string()))?;
    let kind = field(&v, &["kind"])?;
    let version = field(&v, &["apiVersion"])?;
    match (kind, version) {
        ("hashedrekord", "0.0.1") => {}
        ("rekord", "0.0.1") if field(&v, &["spec", "signature", "format"])? == "x509" => {}
        _ => return Err(RekorRejection::UnsupportedKind { kind: kind.into(), version: version.into() }),
    }
    let alg = field(&v, &["spec", "data", "hash", "algorithm"])?;
    let found = field(&v, &["spec", "data", "hash", "value"])?;
    let expected = Digest::of(payload).hex().to_owned();
    if alg != "sha256" || found != expected {
        return Err(RekorRejection::HashMismatch { expected, found: format!("{alg}:{found}") });
    }
    let logged_sig = b64(field(&v, &["spec", "signature", "content"])?)
        .map_err(|_| RekorRejection::Body("signature content is not base64".into()))?;
    if logged_sig != signature {
        return Err(RekorRejection::SignatureMismatch);
    }
    let pem = b64(field(&v, &["spec", "signature", "publicKey", "content"])?)
        .map_err(|_| RekorRejection::Body("publicKey content is not base64".into()))?;
    let same = match signer {
        SignerMaterial::Certificate(cert) => {
            X509::from_pem(&pem).ok().and_then(|c| c.to_der().ok()) == cert.to_der().ok()
        }
        SignerMaterial::Key(key) => {
            // A key-signed entry logs the key; accept a certificate carrying the same key too.
            let logged = openssl::pkey::PKey::public_key_from_pem(&pem)
                .ok()
                .or_else(|| X509::from_pem(&pem).ok().and_then(|c| c.public_key().ok()));
            logged.and_then(|k| k.public_key_to_der().ok()) == Some(key.spki_der())
        }
    };
    let _ = openssl::error::ErrorStack::get();
    if same {
        Ok(())
    } else {
        Err(RekorRejection::KeyMismatch)
    }
}
