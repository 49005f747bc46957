//! Assessing images against a trust policy: gather the evidence attached to a manifest
//! digest (legacy `.sig`/`.att` tags, simple-signing referrers, Sigstore bundle referrers)
//! from a bundle (offline) or a registry (online), verify each piece with
//! [`crate::verify`], and decide per image under the policy rule that covers it.
//!
//! Used by `verify`, by `load` (verify before push) and by `audit`. Verification itself
//! stays in `verify` (bytes in, verdict out); this module knows where evidence lives and
//! what a policy requires.

use serde::Serialize;

use crate::cosign::signature::UntrustedSignature;
use crate::oci::Digest;
use crate::verify::SignatureReport;

/// How a signature was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A layer of the legacy cosign `sha256-<hex>.sig` manifest.
    LegacySig,
    /// A simple-signing manifest stored as an OCI 1.1 referrer.
    SimpleSigningReferrer,
    /// A Sigstore bundle (v0.3, cosign v3's default) stored as an OCI 1.1 referrer.
    SigstoreBundle,
}

/// One signature found for a digest, not yet verified.
#[derive(Debug, Clone)]
pub struct FoundSignature {
    pub format: Format,
    /// Digest of the manifest that holds it (the `.sig` manifest or the referrer).
    pub holder: Digest,
    /// Simple-signing signatures (legacy and referrer).
    pub signature: Option<UntrustedSignature>,
    /// Sigstore bundle JSON (the referrer's layer), exact bytes.
    pub bundle_json: Option<Vec<u8>>,
}

/// One attestation found for a digest (a DSSE envelope layer of the `.att` manifest), not
/// yet verified.
#[derive(Debug, Clone)]
pub struct FoundAttestation {
    pub holder: Digest,
    /// From the layer's `predicateType` annotation (checked against the statement).
    pub predicate_type: Option<String>,
    /// The DSSE envelope JSON, exact bytes.
    pub envelope: Vec<u8>,
    pub certificate_pem: Option<String>,
    pub chain_pem: Option<String>,
    pub rekor_bundle: Option<String>,
}

/// Everything attached to one manifest digest.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub signatures: Vec<FoundSignature>,
    pub attestations: Vec<FoundAttestation>,
    /// Attachments that could not be read as signatures (e.g. a layer whose payload
    /// digest does not match), with the reason, for the report.
    pub unreadable: Vec<(Digest, String)>,
}

/// A signature and its verification report.
#[derive(Debug, Clone)]
pub struct SignatureAssessment {
    pub format: Format,
    pub holder: Digest,
    pub report: SignatureReport,
}

/// An attestation and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct AttestationAssessment {
    pub holder: Digest,
    pub predicate_type: Option<String>,
    pub verified: bool,
    /// Why it did not verify (None when verified).
    pub reason: Option<String>,
    /// Signer identity (key fingerprint or certificate SAN), when known.
    pub signer: Option<String>,
}

/// The decision for one image (index or manifest) under the policy.
#[derive(Debug, Clone)]
pub struct ImageAssessment {
    /// Source reference as the user knows it (`host:port/repo:tag` or `...@digest`).
    pub reference: String,
    /// Source repository `host[:port]/path` (what policy rules match).
    pub repository: String,
    pub digest: Digest,
    /// Name of the policy rule that covered the image; None when no rule did.
    pub rule: Option<String>,
    pub passed: bool,
    /// Why the image was refused (empty when it passed), one line each.
    pub reasons: Vec<String>,
    pub signatures: Vec<SignatureAssessment>,
    pub attestations: Vec<AttestationAssessment>,
}
