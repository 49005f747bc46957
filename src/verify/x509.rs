//! Certificate path validation at an explicit trusted time, and leaf identity extraction.
//!
//! The path is built and checked by [`super::path`] with Go's `x509.Verify` rules for
//! `KeyUsages: [CodeSigning]` (what cosign runs); OpenSSL only parses certificates and
//! checks their signatures. Roots come only from configuration; the chain annotation's
//! last element is dropped (cosign assumes it is the root and never trusts it). Validity
//! bounds are inclusive, as Go's.

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::{X509NameRef, X509Ref, X509};

use super::der::{self, San};
use super::error::Rejection;
use super::path::{self, ParsedCert};

pub const OID_SAN: &str = "2.5.29.17";
pub const OID_EKU: &str = "2.5.29.37";
pub const OID_EKU_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
pub const OID_EKU_ANY: &str = "2.5.29.37.0";
pub const OID_FULCIO_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
pub const OID_FULCIO_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";

/// A configured root, with the validity window a `trusted_root.json` gives its CA.
#[derive(Clone)]
pub struct TrustAnchor {
    pub cert: X509,
    /// `validFor` (unix seconds, end optional): the trusted time must fall inside.
    pub valid_for: Option<(i64, Option<i64>)>,
}

impl From<X509> for TrustAnchor {
    fn from(cert: X509) -> Self {
        TrustAnchor { cert, valid_for: None }
    }
}

impl std::fmt::Debug for TrustAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustAnchor({:?}, {:?})", subject_string(self.cert.subject_name()), self.valid_for)
    }
}

/// One certificate of a validated path, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
}

/// What the leaf says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeafIdentity {
    pub sans: Vec<San>,
    /// Fulcio OIDC issuer (1.3.6.1.4.1.57264.1.8, else .1.1).
    pub issuer: Option<String>,
    /// `None` when the leaf has no EKU extension.
    pub eku: Option<Vec<String>>,
}

/// `CN=…, O=…` (OpenSSL short names), `""` for an empty subject (Fulcio leaves).
pub fn subject_string(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let k = e.object().nid().short_name().unwrap_or("?");
            let v = e.data().to_string().unwrap_or_default();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seconds since the Unix epoch of an ASN.1 time; `None` when OpenSSL cannot compare it
/// (a malformed time in a certificate that otherwise parsed).
pub fn unix_time(t: &Asn1TimeRef) -> Option<i64> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t);
    let _ = openssl::error::ErrorStack::get();
    let d = d.ok()?;
    Some(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

/// RFC 3339 form of a unix time, for messages.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339()).unwrap_or_else(|| t.to_string())
}

/// Reads the identity-bearing extensions of a leaf.
pub fn leaf_identity(cert: &X509Ref) -> Result<LeafIdentity, Rejection> {
    let subject = subject_string(cert.subject_name());
    let bad = |what: &'static str| {
        let subject = subject.clone();
        move |e: der::DerError| Rejection::MalformedCertificate(format!("certificate {subject:?}: {what}: {e}"))
    };
    let der_bytes = cert.to_der().map_err(|e| Rejection::MalformedCertificate(e.to_string()))?;
    let mut id = LeafIdentity::default();
    let mut issuer_v1 = None;
    for ext in der::extensions(&der_bytes).map_err(bad("extensions"))? {
        match ext.oid.as_str() {
            OID_SAN => id.sans = der::subject_alt_names(ext.value).map_err(bad("subjectAltName (SAN)"))?,
            OID_EKU => id.eku = Some(der::extended_key_usage(ext.value).map_err(bad("extKeyUsage"))?),
            // v1 stores the issuer URL as the raw extension value.
            OID_FULCIO_ISSUER_V1 => issuer_v1 = Some(String::from_utf8_lossy(ext.value).into_owned()),
            OID_FULCIO_ISSUER_V2 => id.issuer = Some(der::utf8_string(ext.value).map_err(bad("Fulcio OIDC issuer"))?),
            _ => {}
        }
    }
    if id.issuer.is_none() {
        id.issuer = issuer_v1;
    }
    Ok(id)
}

/// Validates `leaf` up to one of `anchors` at unix time `at`, using as untrusted
/// intermediates `chain_annotation[..len-1]` (the last element is dropped: cosign assumes
/// it is the root) plus `intermediates`, with Go's rules (see [`super::path`]). Returns
/// the path, leaf first.
///
/// The leaf and the chain annotation come from the signature: a certificate there that
/// does not parse is a rejection. A configured root or intermediate that does not parse
/// is skipped, as Go's `CertPool.AppendCertsFromPEM` skips it, and named only if no path
/// is found.
pub fn validate_path(
    leaf: &X509Ref,
    chain_annotation: &[X509],
    intermediates: &[X509],
    anchors: &[TrustAnchor],
    at: i64,
) -> Result<Vec<CertSummary>, Rejection> {
    if anchors.is_empty() {
        return Err(Rejection::UntrustedRoot);
    }
    let leaf = ParsedCert::parse(leaf)?;
    let from_annotation =
        if chain_annotation.len() > 1 { &chain_annotation[..chain_annotation.len() - 1] } else { &[] };
    let mut pool: Vec<ParsedCert> = Vec::new();
    for c in from_annotation {
        let p = ParsedCert::parse(c)?;
        if !pool.iter().any(|q| q.der == p.der) {
            pool.push(p);
        }
    }
    let mut skipped = None;
    for c in intermediates {
        match ParsedCert::parse(c) {
            Ok(p) if !pool.iter().any(|q| q.der == p.der) => pool.push(p),
            Ok(_) => {}
            Err(e) => {
                skipped.get_or_insert(e);
            }
        }
    }
    let mut parsed_anchors = Vec::new();
    for a in anchors {
        match ParsedCert::parse(&a.cert) {
            Ok(p) => parsed_anchors.push((p, a)),
            Err(e) => {
                skipped.get_or_insert(e);
            }
        }
    }
    let path = path::build(&leaf, path::Pools { anchors: &parsed_anchors, intermediates: &pool }, at).map_err(|r| {
        match (r, skipped) {
            (Rejection::NoIssuer { .. } | Rejection::UntrustedRoot, Some(parse_error)) => parse_error,
            (r, _) => r,
        }
    })?;
    Ok(path
        .iter()
        .map(|c| CertSummary { subject: c.dn.clone(), not_before: c.not_before, not_after: c.not_after })
        .collect())
}
