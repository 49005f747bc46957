//! Why a signature was rejected: one flat enum so tests can assert the exact reason.
//!
//! "Verification said no" lives here; "could not check" (I/O, bad files) lives in the
//! loaders ([`crate::trust::TrustError`], [`super::crypto::KeyError`]).

use crate::oci::Digest;

use super::crypto::SignatureAlgorithm;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("no key, root or Rekor key is configured: nothing can be trusted")]
    NoTrustConfigured,
    #[error("the signature does not verify over the payload with any configured key or the certificate's key")]
    BadSignature,
    #[error("the signature is not valid base64")]
    MalformedBase64,
    #[error("signature algorithm {alg} is not allowed by policy")]
    AlgorithmNotAllowed { alg: SignatureAlgorithm },
    #[error("the payload is not a valid simple-signing payload: {0}")]
    PayloadParse(String),
    #[error("the payload signs {found}, not {expected}")]
    DigestMismatch { expected: Digest, found: Digest },
    #[error("the payload names {found:?}, expected {expected:?}")]
    ReferenceMismatch { expected: String, found: String },
    #[error("the signature carries no certificate but only roots are configured")]
    NoCertificate,
    #[error(
        "the signature is signed with a certificate, but no certificate trust (--ca-roots/--trusted-root) is configured"
    )]
    NoCertificateTrust,
    #[error("the certificate cannot be parsed: {0}")]
    MalformedCertificate(String),
    #[error("the certificate does not chain to a configured root")]
    UntrustedRoot,
    #[error("certificate {subject:?} expired before {at}")]
    Expired { subject: String, at: String },
    #[error("certificate {subject:?} is not yet valid at {at}")]
    NotYetValid { subject: String, at: String },
    #[error("certificate {subject:?} is used as an issuer but is not a CA")]
    NotACa { subject: String },
    #[error("certificate {subject:?} issues certificates but lacks the keyCertSign key usage")]
    IssuerKeyUsage { subject: String },
    #[error("the certificate path has more intermediates below CA {subject:?} than its pathLenConstraint allows")]
    PathLength { subject: String },
    #[error("the trust root CA {subject:?} is not valid at {at} (trusted_root.json validFor)")]
    AnchorOutsideValidity { subject: String, at: String },
    #[error("the leaf certificate's extended key usage does not include codeSigning")]
    EkuNotCodeSigning,
    #[error(
        "CA certificate {subject:?} lists extended key usages without codeSigning or anyExtendedKeyUsage \
         (Go requires it of every certificate of the path that lists usages)"
    )]
    CaEkuNotCodeSigning { subject: String },
    #[error("certificate {subject:?} is signed with {alg}, which is refused (as Go's x509 refuses SHA-1 and MD5)")]
    InsecureCertSignature { subject: String, alg: String },
    #[error("certificate {subject:?} has a weak key ({key}): RSA below 2048 bits, DSA and P-192 are refused")]
    WeakKey { subject: String, key: String },
    #[error("certificate {subject:?} is not signed by {issuer:?}, whose subject it names as issuer")]
    BadCertSignature { subject: String, issuer: String },
    #[error("certificate {subject:?} violates the name constraints of CA {ca:?}: {reason}")]
    NameConstraint { subject: String, ca: String, reason: String },
    #[error("certificate {subject:?} has an unhandled critical extension {oid}")]
    UnhandledCriticalExtension { subject: String, oid: String },
    #[error(
        "certificate {subject:?} does not chain to a configured root: no configured root or intermediate \
         is its issuer {issuer:?}"
    )]
    NoIssuer { subject: String, issuer: String },
    #[error("certificate path search gave up after 100 signature checks (as Go's x509)")]
    PathSearchLimit,
    #[error("no identity policy is configured for certificate signatures")]
    NoIdentityPolicy,
    #[error("certificate identities {found:?} match no required identity")]
    IdentityMismatch { found: Vec<String> },
    #[error("{}", issuer_mismatch(found.as_deref()))]
    IssuerMismatch { found: Option<String> },
    #[error("a Rekor key is configured but the signature has no Rekor bundle")]
    RekorBundleMissing,
    #[error("Rekor bundle rejected: {0}")]
    RekorSet(RekorRejection),
    #[error("SCT rejected: {0}")]
    Sct(super::sct::SctRejection),
    #[error("RFC 3161 timestamp rejected: {0}")]
    Timestamp(super::timestamp::TimestampRejection),
    #[error("Sigstore bundle rejected: {0}")]
    SigstoreBundle(String),
}

fn issuer_mismatch(found: Option<&str>) -> String {
    match found {
        Some(i) => format!("certificate issuer {i:?} matches no required issuer"),
        None => "the certificate has no OIDC issuer extension, and an exact issuer is required \
                 (a regexp such as '.*' matches the missing issuer as the empty string, as in cosign)"
            .to_owned(),
    }
}

/// The Rekor-specific reasons, kept apart so tests can assert them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RekorRejection {
    #[error("bundle is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("logID {log_id} belongs to no configured Rekor key")]
    UnknownLog { log_id: String },
    #[error("log key {log_id} is outside its trusted_root.json validFor window at {at}")]
    LogKeyOutsideValidity { log_id: String, at: i64 },
    #[error("inclusion proof rejected: {0}")]
    InclusionProof(&'static str),
    #[error("checkpoint rejected: {0}")]
    Checkpoint(String),
    #[error("SignedEntryTimestamp does not verify")]
    BadSet,
    #[error("entry body is malformed: {0}")]
    Body(String),
    #[error("entry kind {kind:?} version {version:?} is not supported")]
    UnsupportedKind { kind: String, version: String },
    #[error("entry hash {found} is not sha256 of the payload ({expected})")]
    HashMismatch { expected: String, found: String },
    #[error("entry signature differs from the signature being verified")]
    SignatureMismatch,
    #[error("entry public key or certificate differs from the one that verified the signature")]
    KeyMismatch,
}

impl RekorRejection {
    /// Whether the entry's body, not its SET, proof or checkpoint, was refused: it does
    /// not describe what was verified (or cannot be read).
    pub fn is_body_mismatch(&self) -> bool {
        matches!(
            self,
            RekorRejection::Body(_)
                | RekorRejection::UnsupportedKind { .. }
                | RekorRejection::HashMismatch { .. }
                | RekorRejection::SignatureMismatch
                | RekorRejection::KeyMismatch
        )
    }
}
