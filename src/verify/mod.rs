//! Offline verification of cosign signatures: bytes and an explicit [`TrustPolicy`] in, a
//! [`SignatureReport`] out. No clock reads (the policy carries `now`), no network.
//!
//! Checks run in this order, and the first failure is the reported [`Rejection`]:
//! 1. the signature over the exact payload bytes (a configured key, else the certificate's
//!    key; a certificate signature with no roots configured is rejected as
//!    [`Rejection::NoCertificateTrust`], after its signature checked out), and the
//!    algorithm policy;
//! 2. strict payload parse; 3. `docker-manifest-digest` == the expected digest (and the
//!    `docker-reference` when the policy names one); then cosign's RFC 3161 timestamp
//!    annotation over the raw signature bytes, when timestamp authorities are configured
//!    ([`timestamp`], the same check as for Sigstore bundles);
//! 4. the Rekor bundle, when Rekor keys are configured (then a bundle is *required*, as
//!    cosign requires a tlog entry unless told to ignore the tlog). This runs before the
//!    certificate checks, unlike the order in the first design brief, because the trusted
//!    time comes from it: a forged SET must be reported as such, not as "certificate
//!    expired at now";
//! 5. the certificate path at the trusted time (Rekor `integratedTime` if its SET
//!    verified, else a verified timestamp's `genTime`, else the policy's `at`, else
//!    `now`) and at the timestamp's time, leaf EKU;
//! 6. identity (SAN) and OIDC issuer; 7. an embedded SCT when CT logs are configured
//!    ([`sct`]; `--insecure-ignore-sct` clears them).
//!
//! With no Rekor key configured a bundle is not checked and the report says so: every
//! report carries [`Checks`], which check ran and how it ended.

pub mod certs;
pub mod checks;
pub mod crypto;
pub mod der;
pub mod dsse;
pub mod error;
pub mod names;
pub mod path;
pub mod rekor;
pub mod sct;
pub mod sigstore_bundle;
pub mod timestamp;
pub mod tlog;
pub mod x509;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_limbo;
#[cfg(test)]
mod tests_pki;
#[cfg(test)]
mod tests_rules;

use chrono::{DateTime, Utc};
use openssl::x509::X509;

use crate::cosign::payload::parse_payload;
use crate::cosign::UntrustedSignature;
use crate::oci::Digest;

pub use checks::{CheckStatus, Checks};
pub use crypto::{PrivateKey, PublicKey, SignatureAlgorithm};
pub use der::San;
pub use error::{Rejection, RekorRejection};
pub use rekor::RekorEntry;
pub use x509::{CertSummary, TrustAnchor};

/// A string requirement: exact, or an unanchored regular expression (as cosign's
/// `--certificate-identity-regexp`; anchor it with `^…$` yourself).
#[derive(Debug, Clone)]
pub enum StringMatch {
    Exact(String),
    Regex(regex::Regex),
}

impl StringMatch {
    pub fn matches(&self, s: &str) -> bool {
        match self {
            StringMatch::Exact(e) => e == s,
            StringMatch::Regex(r) => r.is_match(s),
        }
    }

    /// An OIDC issuer requirement against a leaf's Fulcio issuer extension, as cosign's
    /// `CheckCertificatePolicy` does it: a missing extension is the empty string, so a
    /// regexp is matched against `""` (`.*` matches, `^https://` does not) and an exact
    /// issuer never equals it. Every issuer check (verify, load, audit, policy files and
    /// the seal) goes through here.
    pub fn matches_issuer(&self, issuer: Option<&str>) -> bool {
        match (self, issuer) {
            (StringMatch::Exact(_), None) => false,
            (m, i) => m.matches(i.unwrap_or("")),
        }
    }
}

/// One accepted signer: a SAN requirement and, optionally, an OIDC issuer requirement.
#[derive(Debug, Clone)]
pub struct IdentityMatcher {
    pub san: StringMatch,
    pub issuer: Option<StringMatch>,
}

/// Everything verification trusts, explicitly. The default rejects everything.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    pub keys: Vec<PublicKey>,
    pub roots: Vec<TrustAnchor>,
    /// Configured intermediates (`--ca-intermediates`, trusted_root.json): untrusted path
    /// material, never anchors.
    pub intermediates: Vec<X509>,
    pub rekor_keys: Vec<PublicKey>,
    /// `validFor` windows of the Rekor keys that came from trusted_root.json.
    pub rekor_windows: rekor::LogWindows,
    /// Rekor v2 logs (trusted_root.json `logId` other than the key's SHA-256).
    pub rekor_aliases: rekor::LogAliases,
    /// CT logs (trusted_root.json `ctlogs`): when any is configured, a Sigstore bundle's
    /// certificate needs an embedded SCT that verifies with one.
    pub ct_logs: Vec<sct::CtLog>,
    /// RFC 3161 timestamp authorities (trusted_root.json `timestampAuthorities`).
    pub timestamp_authorities: Vec<timestamp::TimestampAuthority>,
    /// `--insecure-ignore-sct`: SCTs are not checked (and `ct_logs` is empty); reports
    /// say "skipped" rather than "not configured".
    pub ignore_sct: bool,
    /// A certificate signature passes if any matcher accepts it.
    pub identities: Vec<IdentityMatcher>,
    /// Explicit opt-in to accept any identity issued under the roots (BYO PKI where the
    /// root itself is the identity). Without it and without matchers, certificate
    /// signatures are rejected with [`Rejection::NoIdentityPolicy`].
    pub allow_any_identity: bool,
    /// When set, the payload's `docker-reference` must equal it (containers/image checks
    /// this; cosign does not).
    pub docker_reference: Option<String>,
    /// `--at`: the trusted time when there is no verified Rekor entry.
    pub at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    pub allowed_algorithms: Option<Vec<SignatureAlgorithm>>,
}

impl TrustPolicy {
    /// A policy that trusts nothing yet.
    pub fn new(now: DateTime<Utc>) -> Self {
        TrustPolicy {
            keys: Vec::new(),
            roots: Vec::new(),
            intermediates: Vec::new(),
            rekor_keys: Vec::new(),
            rekor_windows: rekor::LogWindows::new(),
            rekor_aliases: rekor::LogAliases::new(),
            timestamp_authorities: Vec::new(),
            ct_logs: Vec::new(),
            ignore_sct: false,
            identities: Vec::new(),
            allow_any_identity: false,
            docker_reference: None,
            at: None,
            now,
            allowed_algorithms: None,
        }
    }
}

/// Where the trusted time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    Rekor,
    /// A verified RFC 3161 timestamp (trusted_root.json timestamp authority).
    Timestamp,
    At,
    Now,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedTime {
    pub unix: i64,
    pub source: TimeSource,
}

/// Who signed, as far as was established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A configured key; `fingerprint` is the hex SHA-256 of its DER SPKI.
    Key {
        fingerprint: String,
    },
    Certificate {
        sans: Vec<San>,
        issuer: Option<String>,
    },
}

/// What happened to a Rekor bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RekorStatus {
    Absent,
    /// Present but no Rekor key configured: not checked, not used for time.
    NotChecked,
    Verified(RekorEntry),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Verified,
    Rejected(Rejection),
    /// The signature exists in a format sealift cannot fully verify yet. Not a pass.
    PresentNotVerified {
        reason: String,
    },
}

/// The outcome for one signature, with the evidence gathered on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    pub verdict: Verdict,
    /// sha256 of the payload bytes (the layer digest), to name the signature.
    pub payload_digest: Digest,
    pub algorithm: Option<SignatureAlgorithm>,
    pub signer: Option<Signer>,
    /// Leaf first, root last.
    pub chain: Vec<CertSummary>,
    pub trusted_time: Option<TrustedTime>,
    pub docker_reference: Option<String>,
    pub rekor: RekorStatus,
    /// Which checks ran, and how each ended.
    pub checks: Checks,
}

impl SignatureReport {
    /// A report over `payload` before any check: rejected for want of trust, no signer,
    /// no checks. Callers set what they found (struct update syntax).
    pub fn new(payload: &[u8]) -> Self {
        SignatureReport {
            verdict: Verdict::Rejected(Rejection::NoTrustConfigured),
            payload_digest: Digest::of(payload),
            algorithm: None,
            signer: None,
            chain: Vec::new(),
            trusted_time: None,
            docker_reference: None,
            rekor: RekorStatus::Absent,
            checks: Checks::default(),
        }
    }
    pub fn is_verified(&self) -> bool {
        self.verdict == Verdict::Verified
    }
    pub fn rejection(&self) -> Option<&Rejection> {
        match &self.verdict {
            Verdict::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

/// Verifies one simple-signing signature for the manifest digest `expected`.
pub fn verify_signature(policy: &TrustPolicy, sig: &UntrustedSignature, expected: &Digest) -> SignatureReport {
    let mut report = SignatureReport::new(&sig.payload);
    if sig.rekor_bundle.is_some() {
        report.rekor = RekorStatus::NotChecked;
    }
    report.verdict = match check(policy, sig, expected, &mut report) {
        Ok(()) => Verdict::Verified,
        Err(r) => Verdict::Rejected(r),
    };
    report
}

enum Material {
    Key(PublicKey),
    Cert(X509),
}

fn check(
    policy: &TrustPolicy,
    sig: &UntrustedSignature,
    expected: &Digest,
    report: &mut SignatureReport,
) -> Result<(), Rejection> {
    if policy.keys.is_empty() && policy.roots.is_empty() {
        return Err(Rejection::NoTrustConfigured);
    }
    // 1. The signature over the exact bytes.
    report.checks.signature = CheckStatus::Failed;
    let signature = crypto::decode_base64_signature(&sig.base64_signature)?;
    let mut material = None;
    for key in &policy.keys {
        if let Ok(alg) = crypto::verify(key, &sig.payload, &signature) {
            report.algorithm = Some(alg);
            report.signer = Some(Signer::Key { fingerprint: key.fingerprint() });
            material = Some(Material::Key(key.clone()));
            break;
        }
    }
    if material.is_none() {
        let Some(pem) = &sig.certificate_pem else {
            return Err(if policy.keys.is_empty() { Rejection::NoCertificate } else { Rejection::BadSignature });
        };
        let cert = X509::from_pem(pem.as_bytes()).map_err(|e| Rejection::MalformedCertificate(e.to_string()))?;
        let key = cert.public_key().map_err(|e| Rejection::MalformedCertificate(e.to_string()))?;
        let alg = crypto::verify(&PublicKey(key), &sig.payload, &signature)?;
        // The certificate's key signed these bytes; without roots nothing can vouch for
        // that key, and "does not verify" would be false, so say what is missing.
        if policy.roots.is_empty() {
            report.checks.signature = CheckStatus::Passed;
            report.checks.certificate_chain = CheckStatus::NotConfigured;
            return Err(Rejection::NoCertificateTrust);
        }
        report.algorithm = Some(alg);
        material = Some(Material::Cert(cert));
    }
    let material = material.ok_or(Rejection::BadSignature)?;
    let alg = report.algorithm.expect("set with material");
    if let Some(allowed) = &policy.allowed_algorithms {
        if !allowed.contains(&alg) {
            return Err(Rejection::AlgorithmNotAllowed { alg });
        }
    }
    report.checks.signature = CheckStatus::Passed;
    // 2. Strict parse, only now that the bytes are authentic.
    report.checks.subject = CheckStatus::Failed;
    let payload = parse_payload(&sig.payload).map_err(|e| Rejection::PayloadParse(e.to_string()))?;
    report.docker_reference = Some(payload.docker_reference.clone());
    // 3. The binding to the image.
    if &payload.docker_manifest_digest != expected {
        return Err(Rejection::DigestMismatch { expected: expected.clone(), found: payload.docker_manifest_digest });
    }
    if let Some(want) = &policy.docker_reference {
        if want != &payload.docker_reference {
            return Err(Rejection::ReferenceMismatch { expected: want.clone(), found: payload.docker_reference });
        }
    }
    report.checks.subject = CheckStatus::Passed;
    // 3b. cosign's RFC 3161 timestamp over the raw signature bytes, when authorities are
    // configured (as for a Sigstore bundle; cosign's `VerifyRFC3161Timestamp`).
    let tsa_time = legacy_timestamp(policy, sig, &signature, report)?;
    // 4. Rekor (gives the trusted time). A legacy Rekor bundle holds a SET and the body,
    // no inclusion proof or checkpoint.
    report.checks.inclusion_proof = CheckStatus::NotApplicable;
    report.checks.checkpoint = CheckStatus::NotApplicable;
    if !policy.rekor_keys.is_empty() {
        report.checks.rekor_set = CheckStatus::Failed;
        let bundle = sig.rekor_bundle.as_deref().ok_or(Rejection::RekorBundleMissing)?;
        let signer = match &material {
            Material::Key(k) => rekor::SignerMaterial::Key(k),
            Material::Cert(c) => rekor::SignerMaterial::Certificate(c),
        };
        let entry =
            rekor::verify_bundle(bundle, &policy.rekor_keys, &policy.rekor_windows, &sig.payload, &signature, signer)
                .map_err(|e| {
                // The SET is checked first: a body mismatch means the SET held.
                if e.is_body_mismatch() {
                    report.checks.rekor_set = CheckStatus::Passed;
                    report.checks.tlog_body = CheckStatus::Failed;
                }
                Rejection::RekorSet(e)
            })?;
        report.checks.rekor_set = CheckStatus::Passed;
        report.checks.tlog_body = CheckStatus::Passed;
        report.trusted_time = Some(TrustedTime { unix: entry.integrated_time, source: TimeSource::Rekor });
        report.rekor = RekorStatus::Verified(entry);
    } else {
        let logged = if sig.rekor_bundle.is_some() { CheckStatus::NotConfigured } else { CheckStatus::Absent };
        report.checks.rekor_set = logged;
        report.checks.tlog_body = logged;
        report.trusted_time = Some(match (tsa_time, policy.at) {
            (Some(unix), _) => TrustedTime { unix, source: TimeSource::Timestamp },
            (None, Some(at)) => TrustedTime { unix: at.timestamp(), source: TimeSource::At },
            (None, None) => TrustedTime { unix: policy.now.timestamp(), source: TimeSource::Now },
        });
    }
    // 5–6. Certificate path and identity, at the trusted time and at the timestamp's time
    // (cosign checks the certificate at both); 7. an embedded SCT when CT logs are
    // configured (the same check as for a Sigstore bundle).
    match &material {
        Material::Cert(cert) => {
            if let Some(t) = tsa_time {
                let mut at_stamp = report.clone();
                let checked = check_certificate(policy, cert, sig.chain_pem.as_deref(), t, &mut at_stamp);
                report.checks = at_stamp.checks;
                checked?;
            }
            let at = report.trusted_time.expect("set above").unix;
            check_certificate(policy, cert, sig.chain_pem.as_deref(), at, report)?;
            sigstore_bundle::check_sct(policy, cert, &mut report.checks)?;
        }
        Material::Key(_) => {
            report.checks.certificate_chain = CheckStatus::NotApplicable;
            report.checks.identity = CheckStatus::NotApplicable;
            report.checks.sct = CheckStatus::NotApplicable;
        }
    }
    Ok(())
}

/// The `dev.sigstore.cosign/rfc3161timestamp` annotation (`{"SignedRFC3161Timestamp":
/// base64 DER TimeStampResponse}`) verified over the raw signature bytes against the
/// policy's timestamp authorities: its `genTime`, or `None` when there is none or no
/// authority is configured (the report says which).
fn legacy_timestamp(
    policy: &TrustPolicy,
    sig: &UntrustedSignature,
    signature: &[u8],
    report: &mut SignatureReport,
) -> Result<Option<i64>, Rejection> {
    use base64::Engine as _;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Annotation {
        #[serde(rename = "SignedRFC3161Timestamp")]
        signed: String,
    }
    let Some(text) = sig.rfc3161.as_deref().filter(|t| !t.trim().is_empty() && t.trim() != "null") else {
        report.checks.timestamp = CheckStatus::Absent;
        return Ok(None);
    };
    if policy.timestamp_authorities.is_empty() {
        report.checks.timestamp = CheckStatus::NotConfigured;
        return Ok(None);
    }
    report.checks.timestamp = CheckStatus::Failed;
    let malformed = || Rejection::Timestamp(timestamp::TimestampRejection::Malformed("rfc3161timestamp annotation"));
    let a: Annotation = serde_json::from_str(text).map_err(|_| malformed())?;
    let der = base64::engine::general_purpose::STANDARD.decode(a.signed.trim()).map_err(|_| malformed())?;
    let at =
        timestamp::verify_timestamp(&der, signature, &policy.timestamp_authorities).map_err(Rejection::Timestamp)?;
    report.checks.timestamp = CheckStatus::Passed;
    Ok(Some(at))
}

/// Path at `at` (which checks every EKU on it, the leaf's included), identity and issuer; fills the report's chain and signer.
pub(crate) fn check_certificate(
    policy: &TrustPolicy,
    cert: &X509,
    chain_pem: Option<&str>,
    at: i64,
    report: &mut SignatureReport,
) -> Result<(), Rejection> {
    let chain = match chain_pem {
        Some(pem) if !pem.trim().is_empty() => crypto::load_certificates(pem.as_bytes(), "chain annotation")
            .map_err(|e| Rejection::MalformedCertificate(e.to_string()))?,
        _ => Vec::new(),
    };
    report.checks.certificate_chain = CheckStatus::Failed;
    let identity = x509::leaf_identity(cert)?;
    report.signer = Some(Signer::Certificate { sans: identity.sans.clone(), issuer: identity.issuer.clone() });
    report.chain = x509::validate_path(cert, &chain, &policy.intermediates, &policy.roots, at)?;
    report.checks.certificate_chain = CheckStatus::Passed;
    report.checks.identity = CheckStatus::Failed;
    check_identity(policy, &identity)?;
    report.checks.identity = CheckStatus::Passed;
    Ok(())
}

/// The identity rule: some matcher accepts a SAN and then the issuer (see
/// [`StringMatch::matches_issuer`]); with no matcher only `allow_any_identity` passes.
pub fn check_identity(policy: &TrustPolicy, id: &x509::LeafIdentity) -> Result<(), Rejection> {
    if policy.identities.is_empty() {
        return if policy.allow_any_identity { Ok(()) } else { Err(Rejection::NoIdentityPolicy) };
    }
    let values: Vec<String> = id.sans.iter().map(San::value).collect();
    let mut san_matched = false;
    for m in &policy.identities {
        if values.iter().any(|v| m.san.matches(v)) {
            san_matched = true;
            match &m.issuer {
                None => return Ok(()),
                Some(req) if req.matches_issuer(id.issuer.as_deref()) => return Ok(()),
                Some(_) => {}
            }
        }
    }
    if san_matched {
        Err(Rejection::IssuerMismatch { found: id.issuer.clone() })
    } else {
        Err(Rejection::IdentityMismatch { found: values })
    }
}

/// The outcome for an image: passes when at least `threshold` signatures verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerdict {
    pub digest: Digest,
    pub threshold: usize,
    pub reports: Vec<SignatureReport>,
}

impl ImageVerdict {
    /// Combines reports from both formats (simple signing and Sigstore bundles).
    pub fn from_reports(digest: &Digest, threshold: usize, reports: Vec<SignatureReport>) -> Self {
        ImageVerdict { digest: digest.clone(), threshold: threshold.max(1), reports }
    }
    pub fn verified_count(&self) -> usize {
        self.reports.iter().filter(|r| r.is_verified()).count()
    }
    pub fn passed(&self) -> bool {
        self.verified_count() >= self.threshold
    }
    /// Every signature that did not verify, with its reason.
    pub fn rejected(&self) -> impl Iterator<Item = &SignatureReport> {
        self.reports.iter().filter(|r| !r.is_verified())
    }
}

/// Verifies every signature of an image. A `threshold` of 0 is raised to 1: an image with
/// no verified signature never passes.
pub fn verify_image(
    policy: &TrustPolicy,
    sigs: &[UntrustedSignature],
    digest: &Digest,
    threshold: usize,
) -> ImageVerdict {
    ImageVerdict {
        digest: digest.clone(),
        threshold: threshold.max(1),
        reports: sigs.iter().map(|s| verify_signature(policy, s, digest)).collect(),
    }
}
