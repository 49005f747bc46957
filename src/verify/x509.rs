//! Certificate path validation at an explicit trusted time, and leaf identity extraction.
//!
//! OpenSSL builds and checks the path (signatures, CA flags, pathLenConstraint,
//! keyCertSign). Roots come only from configuration; the chain annotation's last element
//! is dropped (cosign assumes it is the root and never trusts it). Validity is checked
//! here, not by OpenSSL: OpenSSL treats `t == notAfter` as expired while cosign (Go)
//! accepts both bounds inclusively, so OpenSSL runs with `NO_CHECK_TIME` and every
//! certificate of the built path is then checked with `notBefore <= t <= notAfter`.
//! OpenSSL 3.0 has no code-signing purpose, so the leaf EKU is checked here as Go does:
//! required only if the extension is present.

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509NameRef, X509Ref, X509StoreContext, X509};

use super::der::{self, San};
use super::error::Rejection;

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

/// Seconds since the Unix epoch of an ASN.1 time.
pub fn unix_time(t: &Asn1TimeRef) -> i64 {
    let epoch = Asn1Time::from_unix(0).expect("epoch is representable");
    let d = epoch.diff(t).expect("certificate times are representable");
    i64::from(d.days) * 86_400 + i64::from(d.secs)
}

/// RFC 3339 form of a unix time, for messages.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339()).unwrap_or_else(|| t.to_string())
}

/// Reads the identity-bearing extensions of a leaf.
pub fn leaf_identity(cert: &X509Ref) -> Result<LeafIdentity, Rejection> {
    let bad = |e: der::DerError| Rejection::MalformedCertificate(e.to_string());
    let der_bytes = cert.to_der().map_err(|e| Rejection::MalformedCertificate(e.to_string()))?;
    let mut id = LeafIdentity::default();
    let mut issuer_v1 = None;
    for ext in der::extensions(&der_bytes).map_err(bad)? {
        match ext.oid.as_str() {
            OID_SAN => id.sans = der::subject_alt_names(ext.value).map_err(bad)?,
            OID_EKU => id.eku = Some(der::extended_key_usage(ext.value).map_err(bad)?),
            // v1 stores the issuer URL as the raw extension value.
            OID_FULCIO_ISSUER_V1 => issuer_v1 = Some(String::from_utf8_lossy(ext.value).into_owned()),
            OID_FULCIO_ISSUER_V2 => id.issuer = Some(der::utf8_string(ext.value).map_err(bad)?),
            _ => {}
        }
    }
    if id.issuer.is_none() {
        id.issuer = issuer_v1;
    }
    Ok(id)
}

// OpenSSL 3.x X509_V_ERR_* codes (INVALID_CA was 24 in 1.1; 3.0 moved it to 79).
const ERR_UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
const ERR_DEPTH_ZERO_SELF_SIGNED: i32 = 18;
const ERR_SELF_SIGNED_IN_CHAIN: i32 = 19;
const ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
const ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
const ERR_INVALID_CA: i32 = 79;
const ERR_PATH_LENGTH_EXCEEDED: i32 = 25;
const ERR_KEYUSAGE_NO_CERTSIGN: i32 = 32;

/// Validates `leaf` up to one of `anchors` at unix time `at`, using as untrusted
/// intermediates `chain_annotation[..len-1]` (the last element is dropped: cosign assumes
/// it is the root) plus `intermediates`. Returns the path, leaf first.
pub fn validate_path(
    leaf: &X509Ref,
    chain_annotation: &[X509],
    intermediates: &[X509],
    anchors: &[TrustAnchor],
    at: i64,
) -> Result<Vec<CertSummary>, Rejection> {
    let internal = |e: openssl::error::ErrorStack| Rejection::PathValidation { depth: 0, reason: e.to_string() };
    if anchors.is_empty() {
        return Err(Rejection::UntrustedRoot);
    }
    let mut store = X509StoreBuilder::new().map_err(internal)?;
    for a in anchors {
        store.add_cert(a.cert.clone()).map_err(internal)?;
    }
    let mut param = X509VerifyParam::new().map_err(internal)?;
    // Not `set_time`: OpenSSL's USE_CHECK_TIME takes precedence over NO_CHECK_TIME.
    param.set_flags(X509VerifyFlags::NO_CHECK_TIME).map_err(internal)?;
    store.set_param(&param).map_err(internal)?;
    let store = store.build();
    let mut untrusted = Stack::new().map_err(internal)?;
    let from_annotation =
        if chain_annotation.len() > 1 { &chain_annotation[..chain_annotation.len() - 1] } else { &[] };
    for c in from_annotation.iter().chain(intermediates) {
        untrusted.push(c.clone()).map_err(internal)?;
    }
    let mut ctx = X509StoreContext::new().map_err(internal)?;
    let outcome = ctx
        .init(&store, leaf, &untrusted, |ctx| {
            if ctx.verify_cert()? {
                let chain: Vec<X509> =
                    ctx.chain().map(|s| s.iter().map(|c| c.to_owned()).collect()).unwrap_or_default();
                Ok(Ok(chain))
            } else {
                let subject = ctx.current_cert().map(|c| subject_string(c.subject_name())).unwrap_or_default();
                Ok(Err((ctx.error().as_raw(), ctx.error().error_string().to_owned(), ctx.error_depth(), subject)))
            }
        })
        .map_err(internal)?;
    let _ = openssl::error::ErrorStack::get();
    let chain = match outcome {
        Ok(chain) => chain,
        Err((code, reason, depth, subject)) => {
            return Err(match code {
                ERR_UNABLE_TO_GET_ISSUER_CERT
                | ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
                | ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
                | ERR_DEPTH_ZERO_SELF_SIGNED
                | ERR_SELF_SIGNED_IN_CHAIN => Rejection::UntrustedRoot,
                ERR_INVALID_CA => Rejection::NotACa { subject },
                ERR_PATH_LENGTH_EXCEEDED => Rejection::PathLength,
                ERR_KEYUSAGE_NO_CERTSIGN => Rejection::IssuerKeyUsage { subject },
                _ => Rejection::PathValidation { depth, reason },
            })
        }
    };
    let mut summaries = Vec::with_capacity(chain.len());
    for c in &chain {
        let s = CertSummary {
            subject: subject_string(c.subject_name()),
            not_before: unix_time(c.not_before()),
            not_after: unix_time(c.not_after()),
        };
        // Inclusive bounds, as Go: fail only if t < notBefore or t > notAfter.
        if at < s.not_before {
            return Err(Rejection::NotYetValid { subject: s.subject, at: rfc3339(at) });
        }
        if at > s.not_after {
            return Err(Rejection::Expired { subject: s.subject, at: rfc3339(at) });
        }
        summaries.push(s);
    }
    if let Some(root) = chain.last() {
        let root_der = root.to_der().map_err(internal)?;
        for a in anchors {
            if a.cert.to_der().ok().as_deref() == Some(&root_der[..]) {
                if let Some((start, end)) = a.valid_for {
                    if at < start || end.is_some_and(|e| at > e) {
                        return Err(Rejection::AnchorOutsideValidity {
                            subject: subject_string(root.subject_name()),
                            at: rfc3339(at),
                        });
                    }
                }
            }
        }
    }
    Ok(summaries)
}

/// Go's rule: a leaf EKU extension, if present, must allow code signing (or any usage).
pub fn check_leaf_eku(id: &LeafIdentity) -> Result<(), Rejection> {
    match &id.eku {
        Some(ekus) if !ekus.iter().any(|o| o == OID_EKU_CODE_SIGNING || o == OID_EKU_ANY) => {
            Err(Rejection::EkuNotCodeSigning)
        }
        _ => Ok(()),
    }
}
