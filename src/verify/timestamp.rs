//! RFC 3161 signed timestamps checked offline against the timestamp authorities of
//! `trusted_root.json`, as sigstore-go's `SigstoreTimestampingAuthority.Verify` (via
//! timestamp-authority `VerifyTimestampResponse`) does:
//!
//! the response's status is granted; the token is CMS SignedData over a TSTInfo; the
//! signed attributes' `messageDigest` is the hash of the TSTInfo and their `contentType`
//! is TSTInfo; the signature over the DER SET of signed attributes verifies with the
//! TSA's leaf certificate (an embedded certificate, if any, must be that leaf); the leaf
//! chains to the TSA's root through its intermediates, each certificate signed by the next
//! and valid at `genTime` (the root is an anchor, its self-signature is not checked, as in
//! Go), the leaf carrying the timeStamping extended key usage; the
//! message imprint is the hash of the signed bytes (a Sigstore bundle's signature); and
//! `genTime` is inside the TSA's `validFor` window. The result is `genTime`.

use openssl::hash::{hash, MessageDigest};
use openssl::sign::Verifier;
use openssl::x509::X509;

use super::der::{expect, oid_to_string, tlv};

/// A timestamp authority from trusted_root.json: its chain, leaf first, root last.
#[derive(Debug, Clone)]
pub struct TimestampAuthority {
    pub chain: Vec<X509>,
    /// `validFor` (start, end) in Unix seconds, inclusive; no end = still valid.
    pub valid_for: (i64, Option<i64>),
}

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampRejection {
    #[error("malformed RFC 3161 timestamp: {0}")]
    Malformed(&'static str),
    #[error("the timestamp response status is not granted")]
    NotGranted,
    #[error("the timestamp's message imprint is not the hash of the signature")]
    ImprintMismatch,
    #[error("the timestamp is not signed by any timestamp authority of the trusted root")]
    UntrustedAuthority,
    #[error("the timestamp time {at} is outside its authority's validFor window")]
    OutsideAuthorityValidity { at: i64 },
}

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_EKU_TIMESTAMPING: &str = "1.3.6.1.5.5.7.3.8";

fn m(what: &'static str) -> TimestampRejection {
    TimestampRejection::Malformed(what)
}

fn digest_for(oid: &str) -> Option<MessageDigest> {
    match oid {
        "2.16.840.1.101.3.4.2.1" => Some(MessageDigest::sha256()),
        "2.16.840.1.101.3.4.2.2" => Some(MessageDigest::sha384()),
        "2.16.840.1.101.3.4.2.3" => Some(MessageDigest::sha512()),
        _ => None,
    }
}

/// The OID of an AlgorithmIdentifier SEQUENCE's content.
fn alg_oid(alg_id: &[u8]) -> Result<String, TimestampRejection> {
    let (oid, _) = expect(alg_id, 0x06, "algorithm OID").map_err(|_| m("algorithm identifier"))?;
    oid_to_string(oid).map_err(|_| m("algorithm OID"))
}

/// GeneralizedTime `YYYYMMDDhhmmss[.f*]Z` to Unix seconds.
fn generalized_time(s: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(s).ok()?;
    let s = s.strip_suffix('Z')?;
    let whole = s.split('.').next()?;
    chrono::NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S").ok().map(|t| t.and_utc().timestamp())
}

struct Token<'a> {
    tst_info: &'a [u8],
    certificates: Vec<X509>,
    digest_alg: MessageDigest,
    /// The signed attributes re-tagged as a SET (what the signature covers).
    signed_attrs_set: Vec<u8>,
    message_digest: &'a [u8],
    signature: &'a [u8],
}

fn parse_token(resp: &[u8]) -> Result<Token<'_>, TimestampRejection> {
    let (body, _) = expect(resp, 0x30, "").map_err(|_| m("TimeStampResp"))?;
    let (status, rest) = expect(body, 0x30, "").map_err(|_| m("PKIStatusInfo"))?;
    let (st, _) = expect(status, 0x02, "").map_err(|_| m("PKIStatus"))?;
    if !(st == [0] || st == [1]) {
        return Err(TimestampRejection::NotGranted);
    }
    let (ci, _) = expect(rest, 0x30, "").map_err(|_| m("no timeStampToken"))?;
    let (oid, rest) = expect(ci, 0x06, "").map_err(|_| m("ContentInfo"))?;
    if oid_to_string(oid).ok().as_deref() != Some(OID_SIGNED_DATA) {
        return Err(m("the token is not CMS SignedData"));
    }
    let (explicit, _) = expect(rest, 0xa0, "").map_err(|_| m("ContentInfo content"))?;
    let (sd, _) = expect(explicit, 0x30, "").map_err(|_| m("SignedData"))?;
    let (_version, rest) = expect(sd, 0x02, "").map_err(|_| m("SignedData version"))?;
    let (_digest_algs, rest) = expect(rest, 0x31, "").map_err(|_| m("digestAlgorithms"))?;
    let (encap, mut rest) = expect(rest, 0x30, "").map_err(|_| m("encapContentInfo"))?;
    let (oid, e) = expect(encap, 0x06, "").map_err(|_| m("eContentType"))?;
    if oid_to_string(oid).ok().as_deref() != Some(OID_TST_INFO) {
        return Err(m("the signed content is not a TSTInfo"));
    }
    let (e, _) = expect(e, 0xa0, "").map_err(|_| m("eContent"))?;
    let (tst_info, _) = expect(e, 0x04, "").map_err(|_| m("eContent octets"))?;
    let mut certificates = Vec::new();
    if rest.first() == Some(&0xa0) {
        let (mut certs, r) = expect(rest, 0xa0, "").map_err(|_| m("certificates"))?;
        while !certs.is_empty() {
            let (tag, _, after) = tlv(certs).map_err(|_| m("certificate"))?;
            let der = &certs[..certs.len() - after.len()];
            if tag == 0x30 {
                certificates.push(X509::from_der(der).map_err(|_| m("embedded certificate"))?);
            }
            certs = after;
        }
        rest = r;
    }
    if rest.first() == Some(&0xa1) {
        rest = expect(rest, 0xa1, "").map_err(|_| m("crls"))?.1;
    }
    let (infos, _) = expect(rest, 0x31, "").map_err(|_| m("signerInfos"))?;
    let (si, more) = expect(infos, 0x30, "").map_err(|_| m("SignerInfo"))?;
    if !more.is_empty() {
        return Err(m("more than one SignerInfo"));
    }
    let (_v, r) = expect(si, 0x02, "").map_err(|_| m("SignerInfo version"))?;
    let (_sid_tag, _, r) = tlv(r).map_err(|_| m("SignerInfo sid"))?;
    let (dalg, r) = expect(r, 0x30, "").map_err(|_| m("SignerInfo digestAlgorithm"))?;
    let digest_alg = digest_for(&alg_oid(dalg)?).ok_or(m("unsupported digest algorithm"))?;
    let (attrs, r) = expect(r, 0xa0, "").map_err(|_| m("no signed attributes"))?;
    let mut signed_attrs_set = vec![0x31];
    let n = attrs.len();
    if n < 0x80 {
        signed_attrs_set.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        signed_attrs_set.push(0x80 | bytes.len() as u8);
        signed_attrs_set.extend(bytes);
    }
    signed_attrs_set.extend_from_slice(attrs);
    let (_salg, r) = expect(r, 0x30, "").map_err(|_| m("signatureAlgorithm"))?;
    let (signature, _) = expect(r, 0x04, "").map_err(|_| m("signature"))?;
    let (mut message_digest, mut content_type_ok) = (None, false);
    let mut a = attrs;
    while !a.is_empty() {
        let (attr, after) = expect(a, 0x30, "").map_err(|_| m("attribute"))?;
        let (oid, values) = expect(attr, 0x06, "").map_err(|_| m("attribute type"))?;
        let (values, _) = expect(values, 0x31, "").map_err(|_| m("attribute values"))?;
        match oid_to_string(oid).map_err(|_| m("attribute type"))?.as_str() {
            OID_MESSAGE_DIGEST => message_digest = Some(expect(values, 0x04, "").map_err(|_| m("messageDigest"))?.0),
            OID_CONTENT_TYPE => {
                let (ct, _) = expect(values, 0x06, "").map_err(|_| m("contentType"))?;
                content_type_ok = oid_to_string(ct).ok().as_deref() == Some(OID_TST_INFO);
            }
            _ => {}
        }
        a = after;
    }
    if !content_type_ok {
        return Err(m("the contentType attribute is not TSTInfo"));
    }
    let message_digest = message_digest.ok_or(m("no messageDigest attribute"))?;
    Ok(Token { tst_info, certificates, digest_alg, signed_attrs_set, message_digest, signature })
}

/// (imprint hash algorithm, imprint, genTime) of a TSTInfo.
fn parse_tst_info(tst: &[u8]) -> Result<(MessageDigest, &[u8], i64), TimestampRejection> {
    let (body, _) = expect(tst, 0x30, "").map_err(|_| m("TSTInfo"))?;
    let (_v, r) = expect(body, 0x02, "").map_err(|_| m("TSTInfo version"))?;
    let (_policy, r) = expect(r, 0x06, "").map_err(|_| m("TSTInfo policy"))?;
    let (imprint, r) = expect(r, 0x30, "").map_err(|_| m("messageImprint"))?;
    let (alg, rest) = expect(imprint, 0x30, "").map_err(|_| m("messageImprint algorithm"))?;
    let md = digest_for(&alg_oid(alg)?).ok_or(m("unsupported imprint hash"))?;
    let (hashed, _) = expect(rest, 0x04, "").map_err(|_| m("hashedMessage"))?;
    let (_serial, r) = expect(r, 0x02, "").map_err(|_| m("serialNumber"))?;
    let (gt, _) = expect(r, 0x18, "").map_err(|_| m("genTime"))?;
    Ok((md, hashed, generalized_time(gt).ok_or(m("genTime"))?))
}

fn valid_at(c: &X509, at: i64) -> bool {
    let nb = super::x509::unix_time(c.not_before());
    let na = super::x509::unix_time(c.not_after());
    matches!((nb, na), (Some(nb), Some(na)) if nb <= at && at <= na)
}

fn has_timestamping_eku(c: &X509) -> bool {
    let Ok(der) = c.to_der() else { return false };
    let Ok(exts) = super::der::extensions(&der) else { return false };
    exts.iter().any(|e| {
        e.oid == "2.5.29.37"
            && super::der::extended_key_usage(e.value).is_ok_and(|u| u.iter().any(|o| o == OID_EKU_TIMESTAMPING))
    })
}

/// Whether `tsa`'s chain vouches for this token's signature at `at`.
fn signed_by(tsa: &TimestampAuthority, token: &Token<'_>, at: i64) -> bool {
    let Some(leaf) = tsa.chain.first() else { return false };
    let leaf_der = leaf.to_der().ok();
    if !token.certificates.is_empty() && !token.certificates.iter().any(|c| c.to_der().ok() == leaf_der) {
        return false;
    }
    let chained = tsa.chain.windows(2).all(|w| w[1].public_key().is_ok_and(|k| w[0].verify(&k).unwrap_or(false)));
    let Ok(key) = leaf.public_key() else { return false };
    let sig_ok = Verifier::new(token.digest_alg, &key)
        .and_then(|mut v| v.verify_oneshot(token.signature, &token.signed_attrs_set))
        .unwrap_or(false);
    let _ = openssl::error::ErrorStack::get();
    chained && sig_ok && tsa.chain.iter().all(|c| valid_at(c, at)) && has_timestamping_eku(leaf)
}

/// Verifies a DER TimeStampResp over `signed` (the bundle's signature bytes) against the
/// trusted authorities; returns the trusted `genTime`.
pub fn verify_timestamp(resp: &[u8], signed: &[u8], tsas: &[TimestampAuthority]) -> Result<i64, TimestampRejection> {
    let token = parse_token(resp)?;
    let content_hash = hash(token.digest_alg, token.tst_info).map_err(|_| m("hash"))?;
    if content_hash[..] != token.message_digest[..] {
        return Err(m("the messageDigest attribute is not the hash of the TSTInfo"));
    }
    let (md, imprint, gen_time) = parse_tst_info(token.tst_info)?;
    if hash(md, signed).map_err(|_| m("hash"))?[..] != imprint[..] {
        return Err(TimestampRejection::ImprintMismatch);
    }
    let tsa = tsas.iter().find(|t| signed_by(t, &token, gen_time)).ok_or(TimestampRejection::UntrustedAuthority)?;
    let (start, end) = tsa.valid_for;
    if gen_time < start || end.is_some_and(|e| gen_time > e) {
        return Err(TimestampRejection::OutsideAuthorityValidity { at: gen_time });
    }
    Ok(gen_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// The intoto-with-custom-trust-root conformance case: its TSA token over the DSSE
    /// signature, and the authority of its trusted root.
    fn case() -> (Vec<u8>, Vec<u8>, Vec<TimestampAuthority>) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/sigstore-conformance/intoto-with-custom-trust-root");
        let b: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("bundle.sigstore.json")).unwrap()).unwrap();
        let d = |v: &serde_json::Value| base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap();
        let ts = d(&b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"]);
        let sig = d(&b["dsseEnvelope"]["signatures"][0]["sig"]);
        let tr = crate::trust::parse_trusted_root(&std::fs::read(dir.join("trusted_root.json")).unwrap()).unwrap();
        (ts, sig, tr.timestamp_authorities)
    }

    #[test]
    fn a_real_token_verifies_and_tampering_is_refused() {
        let (ts, sig, tsas) = case();
        let at = verify_timestamp(&ts, &sig, &tsas).unwrap();
        assert_eq!(at, 1675209600, "genTime 2023-02-01T00:00:00Z");
        let mut other = sig.clone();
        other[10] ^= 1;
        assert_eq!(verify_timestamp(&ts, &other, &tsas), Err(TimestampRejection::ImprintMismatch));
        // A flipped byte in the signature over the signed attributes.
        let mut bad = ts.clone();
        let n = bad.len();
        bad[n - 5] ^= 1;
        assert_eq!(verify_timestamp(&bad, &sig, &tsas), Err(TimestampRejection::UntrustedAuthority));
        // The production TSA did not sign it.
        let prod = crate::trust::parse_trusted_root(
            &std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/data/sigstore-conformance/production_trusted_root.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            verify_timestamp(&ts, &sig, &prod.timestamp_authorities),
            Err(TimestampRejection::UntrustedAuthority)
        );
        // The authority's validFor window ends before genTime (bounds inclusive).
        let mut late = tsas.clone();
        late[0].valid_for.1 = Some(at - 1);
        assert_eq!(verify_timestamp(&ts, &sig, &late), Err(TimestampRejection::OutsideAuthorityValidity { at }));
        late[0].valid_for.1 = Some(at);
        assert_eq!(verify_timestamp(&ts, &sig, &late), Ok(at));
        assert!(matches!(verify_timestamp(&ts[..40], &sig, &tsas), Err(TimestampRejection::Malformed(_))));
    }
}
