//! Signed certificate timestamps (RFC 6962) embedded in Fulcio leaves, verified offline
//! against the CT log keys of `trusted_root.json` (`ctlogs`), as sigstore-go's
//! `VerifySignedCertificateTimestamp` does with a threshold of one: at least one SCT of the
//! leaf's SCT list must be from a known CT log, inside that log key's `validFor` window at
//! the SCT's timestamp, and signed over the precertificate entry: the leaf's
//! TBSCertificate without the SCT list extension, and SHA-256 of its issuer's DER SPKI.

use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;

use super::crypto::PublicKey;
use super::der::{expect, oid_to_string, tlv};

/// The SCT list extension (RFC 6962 section 3.3).
pub const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";

/// A CT log from trusted_root.json.
#[derive(Debug, Clone)]
pub struct CtLog {
    /// `logId.keyId`: the SHA-256 of the key's DER SPKI, as SCTs name it.
    pub log_id: Vec<u8>,
    pub key: PublicKey,
    /// `validFor` (start, end) in Unix seconds, inclusive; no end = still valid.
    pub valid_for: (i64, Option<i64>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SctRejection {
    #[error("the certificate carries no embedded SCT")]
    Missing,
    #[error("the certificate's SCT list is malformed: {0}")]
    Malformed(&'static str),
    #[error("no issuer of the certificate is configured to compute its SCT's issuer key hash")]
    NoIssuer,
    #[error("no embedded SCT verifies with a CT log key of the trusted root")]
    NoValidSct,
}

fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

/// A leaf's TBSCertificate without the SCT list extension, and that extension's value
/// (the OCTET STRING holding the TLS-encoded list).
struct Precert {
    tbs: Vec<u8>,
    sct_list: Vec<u8>,
}

/// The leaf's [`Precert`], or `None` when it carries no SCT list.
fn precert_tbs(cert_der: &[u8]) -> Result<Option<Precert>, SctRejection> {
    let bad = |_| SctRejection::Malformed("certificate DER");
    let (cert, _) = expect(cert_der, 0x30, "").map_err(bad)?;
    let (mut tbs, _) = expect(cert, 0x30, "").map_err(bad)?;
    let mut out = Vec::new();
    let mut sct_value = None;
    while !tbs.is_empty() {
        let (tag, content, rest) = tlv(tbs).map_err(bad)?;
        let whole = &tbs[..tbs.len() - rest.len()];
        if tag == 0xa3 {
            let (mut exts, _) = expect(content, 0x30, "").map_err(bad)?;
            let mut kept = Vec::new();
            while !exts.is_empty() {
                let (ext, after) = expect(exts, 0x30, "").map_err(bad)?;
                let ext_whole = &exts[..exts.len() - after.len()];
                let (oid, mut fields) = expect(ext, 0x06, "").map_err(bad)?;
                if oid_to_string(oid).map_err(bad)? == OID_SCT_LIST {
                    if fields.first() == Some(&0x01) {
                        fields = tlv(fields).map_err(bad)?.2;
                    }
                    let (octets, _) = expect(fields, 0x04, "").map_err(bad)?;
                    sct_value = Some(octets.to_vec());
                } else {
                    kept.extend_from_slice(ext_whole);
                }
                exts = after;
            }
            out.extend(der(0xa3, &der(0x30, &kept)));
        } else {
            out.extend_from_slice(whole);
        }
        tbs = rest;
    }
    Ok(sct_value.map(|sct_list| Precert { tbs: der(0x30, &out), sct_list }))
}

struct Sct<'a> {
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    signature: &'a [u8],
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], SctRejection> {
    if b.len() < n {
        return Err(SctRejection::Malformed("truncated"));
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Ok(h)
}

fn u16_len(b: &mut &[u8]) -> Result<usize, SctRejection> {
    let h = take(b, 2)?;
    Ok(u16::from_be_bytes([h[0], h[1]]) as usize)
}

fn parse_list(value: &[u8]) -> Result<Vec<Sct<'_>>, SctRejection> {
    // The extension value is an OCTET STRING whose content is another OCTET STRING.
    let (mut list, _) = expect(value, 0x04, "").map_err(|_| SctRejection::Malformed("inner OCTET STRING"))?;
    let total = u16_len(&mut list)?;
    if total != list.len() {
        return Err(SctRejection::Malformed("list length"));
    }
    let mut out = Vec::new();
    while !list.is_empty() {
        let n = u16_len(&mut list)?;
        let mut s = take(&mut list, n)?;
        if take(&mut s, 1)? != [0] {
            continue; // only v1 SCTs exist
        }
        let log_id = take(&mut s, 32)?;
        let ts = take(&mut s, 8)?;
        let timestamp_ms = u64::from_be_bytes(ts.try_into().expect("8 bytes"));
        let ext_len = u16_len(&mut s)?;
        let extensions = take(&mut s, ext_len)?;
        let _algs = take(&mut s, 2)?;
        let sig_len = u16_len(&mut s)?;
        let signature = take(&mut s, sig_len)?;
        out.push(Sct { log_id, timestamp_ms, extensions, signature });
    }
    Ok(out)
}

/// Verifies the leaf's embedded SCTs; `issuers` are candidate issuers of the leaf (the
/// configured intermediates and roots). Returns the time of the SCT that verified.
pub fn verify_embedded_scts(leaf: &X509, issuers: &[&X509], logs: &[CtLog]) -> Result<i64, SctRejection> {
    let leaf_der = leaf.to_der().map_err(|_| SctRejection::Malformed("certificate DER"))?;
    let Precert { tbs, sct_list: value } = precert_tbs(&leaf_der)?.ok_or(SctRejection::Missing)?;
    let issuer = issuers
        .iter()
        .find(|i| i.public_key().is_ok_and(|k| leaf.verify(&k).unwrap_or(false)))
        .ok_or(SctRejection::NoIssuer)?;
    let _ = openssl::error::ErrorStack::get();
    let issuer_spki = issuer.public_key().and_then(|k| k.public_key_to_der()).map_err(|_| SctRejection::NoIssuer)?;
    let issuer_key_hash = openssl::sha::sha256(&issuer_spki);
    for sct in parse_list(&value)? {
        let Some(log) = logs.iter().find(|l| l.log_id == sct.log_id) else { continue };
        let at = (sct.timestamp_ms / 1000) as i64;
        let (start, end) = log.valid_for;
        if at < start || end.is_some_and(|e| at > e) {
            continue;
        }
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&[0, 1]);
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
        signed.extend_from_slice(sct.extensions);
        let ok = Verifier::new(MessageDigest::sha256(), &log.key.0)
            .and_then(|mut v| v.verify_oneshot(sct.signature, &signed))
            .unwrap_or(false);
        let _ = openssl::error::ErrorStack::get();
        if ok {
            return Ok(at);
        }
    }
    Err(SctRejection::NoValidSct)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn data() -> (X509, crate::trust::TrustMaterial) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore-conformance");
        let b: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("happy-path-v0.3/bundle.sigstore.json")).unwrap()).unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap())
            .unwrap();
        let tr = crate::trust::parse_trusted_root(&std::fs::read(dir.join("production_trusted_root.json")).unwrap())
            .unwrap();
        (X509::from_der(&der).unwrap(), tr)
    }

    #[test]
    fn a_fulcio_sct_verifies_and_a_wrong_log_or_window_does_not() {
        let (leaf, tr) = data();
        let issuers: Vec<&X509> = tr.intermediates.iter().chain(tr.roots.iter().map(|r| &r.cert)).collect();
        let at = verify_embedded_scts(&leaf, &issuers, &tr.ct_logs).unwrap();
        assert!(at > 1_700_000_000, "{at}");
        // The log's key outside its validFor at the SCT's time.
        let mut logs = tr.ct_logs.clone();
        for l in &mut logs {
            l.valid_for = (at + 1, None);
        }
        assert_eq!(verify_embedded_scts(&leaf, &issuers, &logs), Err(SctRejection::NoValidSct));
        // The right log ID with another log's key: the signature does not verify.
        let mut logs = tr.ct_logs.clone();
        let other = tr.rekor_keys[0].clone();
        for l in &mut logs {
            l.key = other.clone();
        }
        assert_eq!(verify_embedded_scts(&leaf, &issuers, &logs), Err(SctRejection::NoValidSct));
        assert_eq!(verify_embedded_scts(&leaf, &[], &tr.ct_logs), Err(SctRejection::NoIssuer));
        // A certificate without an SCT list.
        let key = crate::verify::certs::generate_key(crate::verify::certs::KeyType::EcP256).unwrap();
        let params = crate::verify::certs::CertParams::ca("no-sct", 0, 4_000_000_000, None);
        let plain = crate::verify::certs::issue(&params, &key, None).unwrap();
        assert_eq!(verify_embedded_scts(&plain, &issuers, &tr.ct_logs), Err(SctRejection::Missing));
    }
}
