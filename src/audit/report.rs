//! The audit report model: what `sealift audit` tells an auditor, as plain serializable
//! data built by one pure function ([`AuditReport::build`]) from the per-image
//! assessments, the seal's verdict and a description of what was audited.
//!
//! The JSON form is versioned ([`SCHEMA`]) and documented in `docs/audit.md` with a JSON
//! Schema in `docs/audit.schema.json`. Field order is the declaration order below, so
//! the output is stable for a given input. Every string that came from a bundle or a
//! registry (references, SANs, subjects, reasons quoting them) is untrusted: renderers
//! must escape it for their medium.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::assess::{AttestationAssessment, Format, ImageAssessment, SignatureAssessment};
use crate::oci::Digest;
use crate::seal::SealVerdict;
use crate::verify::x509::{rfc3339, CertSummary};
use crate::verify::{RekorStatus, San, Signer, TimeSource, Verdict};

/// The schema identifier of this report format; bumped on any incompatible change.
pub const SCHEMA: &str = "https://sealift.dev/schemas/audit/v1";

/// The whole audit, in the order a reader wants it: what, under which policy, the seal,
/// the overall verdict and totals, then one entry per image.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub schema: &'static str,
    /// When the audit ran (RFC 3339, UTC), the "now" every check used unless a trusted
    /// time said otherwise.
    pub generated_at: String,
    pub tool: Tool,
    pub subject: Subject,
    pub policy: PolicyInfo,
    /// The bundle's seal; `null` for a registry audit (a registry has no seal).
    pub seal: Option<SealReport>,
    /// `pass` when every image passed and the seal was not rejected.
    pub verdict: Outcome,
    pub totals: Totals,
    pub images: Vec<ImageReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

/// What was audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Subject {
    /// A bundle file (or OCI layout directory). The file is not hashed whole (it may be
    /// huge); `index_digest` names its content, since every blob is bound to `index.json`
    /// by digest.
    Bundle { path: String, size: Option<u64>, index_digest: Option<Digest> },
    /// What a registry holds under a prefix.
    Registry { registry: String, prefix: String },
}

/// Where the trust policy came from and what its rules say, one line per rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    /// `file` or `command-line`.
    pub source: PolicySource,
    /// The policy file, for `file`.
    pub path: Option<String>,
    pub rules: Vec<RuleInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicySource {
    File,
    CommandLine,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub name: String,
    /// Repository globs the rule covers.
    pub repositories: Vec<String>,
    /// What it requires, in words.
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
}

impl Outcome {
    pub fn of(passed: bool) -> Outcome {
        if passed {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    }
    /// `PASS` / `FAIL`, as shown to people.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
        }
    }
}

/// The seal (signed bundle index) and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealReport {
    /// `absent`, `not-checked`, `verified` or `rejected`.
    pub verdict: &'static str,
    pub signer: Option<String>,
    pub algorithm: Option<String>,
    pub reason: Option<String>,
    pub chain: Vec<CertReport>,
}

impl From<&SealVerdict> for SealReport {
    fn from(v: &SealVerdict) -> Self {
        let mut r = SealReport { verdict: v.label(), signer: None, algorithm: None, reason: None, chain: Vec::new() };
        match v {
            SealVerdict::Verified { signer, algorithm, chain } => {
                r.signer = Some(signer.clone());
                r.algorithm = Some(algorithm.clone());
                r.chain = chain.iter().map(CertReport::from).collect();
            }
            SealVerdict::Rejected { reason } => r.reason = Some(reason.clone()),
            SealVerdict::Absent | SealVerdict::NotChecked => {}
        }
        r
    }
}

/// Counts over the whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub images: usize,
    pub passed: usize,
    pub failed: usize,
    pub signatures: SignatureTotals,
    pub attestations: AttestationTotals,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SignatureTotals {
    pub total: usize,
    pub verified: usize,
    pub rejected: usize,
    /// Present in a format sealift cannot fully verify: never counted as a pass.
    pub not_verified: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AttestationTotals {
    pub total: usize,
    pub verified: usize,
    pub rejected: usize,
}

/// One image (an image manifest or index named by a reference).
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub reference: String,
    /// The repository policy rules were matched against (`host[:port]/path`).
    pub repository: String,
    pub digest: Digest,
    pub media_type: Option<String>,
    /// `os/arch[/variant]` of the image, or of every platform an index lists.
    pub platforms: Vec<String>,
    /// The policy rule that covered the image; `null` when none did.
    pub rule: Option<String>,
    pub verdict: Outcome,
    /// Why the image failed, one line each (empty when it passed).
    pub reasons: Vec<String>,
    /// Remarks that are not reasons for refusal (e.g. a platform covered by its index).
    pub notes: Vec<String>,
    /// Distinct verified signers needed, and found.
    pub threshold: usize,
    pub distinct_signers: usize,
    /// For a platform manifest carried without its siblings: the index whose verified
    /// signatures cover it.
    pub covered_by: Option<Digest>,
    /// Attachments that could not be read as signatures, with why.
    pub unreadable: Vec<UnreadableReport>,
    pub signatures: Vec<SignatureReportView>,
    pub attestations: Vec<AttestationReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableReport {
    pub holder: Digest,
    pub reason: String,
}

/// Facts about an image that the assessment does not carry, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFacts {
    pub media_type: Option<String>,
    pub platforms: Vec<String>,
}

/// One signature and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReportView {
    /// `legacy-sig`, `simple-signing-referrer` or `sigstore-bundle`.
    pub format: Format,
    /// The manifest holding the signature (`.sig` manifest or referrer).
    pub holder: Digest,
    /// sha256 of the signed payload.
    pub payload_digest: Digest,
    /// `verified`, `rejected` or `present-not-verified`.
    pub verdict: SignatureVerdict,
    /// Why it did not verify (`null` when verified).
    pub reason: Option<String>,
    pub algorithm: Option<String>,
    /// Who signed, as far as was established before any rejection.
    pub signer: Option<SignerReport>,
    /// The validated certificate path, leaf first, root last.
    pub chain: Vec<CertReport>,
    pub trusted_time: Option<TrustedTimeReport>,
    /// The payload's `docker-reference` (informational: relocation changes it).
    pub docker_reference: Option<String>,
    pub rekor: RekorReport,
    /// Each check and how it ended (see `verify::checks`).
    pub checks: crate::verify::Checks,
}

/// The JSON name of a signature format, for the text and HTML renderings.
pub fn format_label(f: Format) -> &'static str {
    match f {
        Format::LegacySig => "legacy-sig",
        Format::SimpleSigningReferrer => "simple-signing-referrer",
        Format::SigstoreBundle => "sigstore-bundle",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureVerdict {
    Verified,
    Rejected,
    PresentNotVerified,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SignerReport {
    /// A configured public key: hex SHA-256 of its DER SubjectPublicKeyInfo.
    Key { fingerprint: String },
    /// A certificate: its subjectAltNames and the Fulcio OIDC issuer extension, if any.
    Certificate { sans: Vec<SanReport>, issuer: Option<String> },
}

impl SignerReport {
    /// One line: `key sha256:<fingerprint>` or the SAN values.
    pub fn identity(&self) -> String {
        match self {
            SignerReport::Key { fingerprint } => format!("key {fingerprint}"),
            SignerReport::Certificate { sans, .. } if sans.is_empty() => "certificate without SAN".to_owned(),
            SignerReport::Certificate { sans, .. } => {
                sans.iter().map(|s| format!("{}:{}", s.kind, s.value)).collect::<Vec<_>>().join(", ")
            }
        }
    }
    pub fn issuer(&self) -> Option<&str> {
        match self {
            SignerReport::Certificate { issuer, .. } => issuer.as_deref(),
            SignerReport::Key { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SanReport {
    /// `email`, `uri`, `dns`, `ip` or `other-name`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
}

impl From<&San> for SanReport {
    fn from(s: &San) -> Self {
        let (kind, oid) = match s {
            San::Email(_) => ("email", None),
            San::Uri(_) => ("uri", None),
            San::Dns(_) => ("dns", None),
            San::Ip(_) => ("ip", None),
            San::OtherName { oid, .. } => ("other-name", Some(oid.clone())),
        };
        SanReport { kind, value: s.value(), oid }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertReport {
    pub subject: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
}

impl From<&CertSummary> for CertReport {
    fn from(c: &CertSummary) -> Self {
        CertReport { subject: c.subject.clone(), not_before: rfc3339(c.not_before), not_after: rfc3339(c.not_after) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedTimeReport {
    /// RFC 3339.
    pub time: String,
    pub unix: i64,
    /// `rekor` (a verified Rekor integratedTime), `timestamp` (a verified RFC 3161
    /// timestamp), `at` (`--at`) or `now`.
    pub source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RekorReport {
    /// `absent`, `not-checked` (no Rekor key configured) or `verified`.
    pub status: &'static str,
    pub integrated_time: Option<String>,
    pub log_index: Option<i64>,
    pub log_id: Option<String>,
}

impl From<&RekorStatus> for RekorReport {
    fn from(r: &RekorStatus) -> Self {
        let none = |status| RekorReport { status, integrated_time: None, log_index: None, log_id: None };
        match r {
            RekorStatus::Absent => none("absent"),
            RekorStatus::NotChecked => none("not-checked"),
            RekorStatus::Verified(e) => RekorReport {
                status: "verified",
                integrated_time: Some(rfc3339(e.integrated_time)),
                log_index: Some(e.log_index),
                log_id: Some(e.log_id.clone()),
            },
        }
    }
}

/// One attestation (DSSE envelope) and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttestationReport {
    pub holder: Digest,
    pub predicate_type: Option<String>,
    /// `verified` or `rejected`.
    pub verdict: SignatureVerdict,
    pub reason: Option<String>,
    pub signer: Option<String>,
}

impl From<&AttestationAssessment> for AttestationReport {
    fn from(a: &AttestationAssessment) -> Self {
        AttestationReport {
            holder: a.holder.clone(),
            predicate_type: a.predicate_type.clone(),
            verdict: if a.verified { SignatureVerdict::Verified } else { SignatureVerdict::Rejected },
            reason: a.reason.clone(),
            signer: a.signer.clone(),
        }
    }
}

impl From<&SignatureAssessment> for SignatureReportView {
    fn from(s: &SignatureAssessment) -> Self {
        let r = &s.report;
        let (verdict, reason) = match &r.verdict {
            Verdict::Verified => (SignatureVerdict::Verified, None),
            Verdict::Rejected(why) => (SignatureVerdict::Rejected, Some(why.to_string())),
            Verdict::PresentNotVerified { reason } => (SignatureVerdict::PresentNotVerified, Some(reason.clone())),
        };
        let signer = r.signer.as_ref().map(|s| match s {
            Signer::Key { fingerprint } => SignerReport::Key { fingerprint: fingerprint.clone() },
            Signer::Certificate { sans, issuer } => {
                SignerReport::Certificate { sans: sans.iter().map(SanReport::from).collect(), issuer: issuer.clone() }
            }
        });
        SignatureReportView {
            format: s.format,
            holder: s.holder.clone(),
            payload_digest: r.payload_digest.clone(),
            verdict,
            reason,
            algorithm: r.algorithm.map(|a| a.name().to_owned()),
            signer,
            chain: r.chain.iter().map(CertReport::from).collect(),
            trusted_time: r.trusted_time.map(|t| TrustedTimeReport {
                time: rfc3339(t.unix),
                unix: t.unix,
                source: match t.source {
                    TimeSource::Rekor => "rekor",
                    TimeSource::Timestamp => "timestamp",
                    TimeSource::At => "at",
                    TimeSource::Now => "now",
                },
            }),
            docker_reference: r.docker_reference.clone(),
            rekor: RekorReport::from(&r.rekor),
            checks: r.checks,
        }
    }
}

impl ImageReport {
    pub fn from_assessment(a: &ImageAssessment, facts: ImageFacts) -> ImageReport {
        ImageReport {
            reference: a.reference.clone(),
            repository: a.repository.clone(),
            digest: a.digest.clone(),
            media_type: facts.media_type,
            platforms: facts.platforms,
            rule: a.rule.clone(),
            verdict: Outcome::of(a.passed),
            reasons: a.reasons.clone(),
            notes: a.notes.clone(),
            threshold: a.threshold,
            distinct_signers: a.distinct_signers,
            covered_by: a.covered_by.clone(),
            unreadable: a
                .unreadable
                .iter()
                .map(|(holder, reason)| UnreadableReport { holder: holder.clone(), reason: reason.clone() })
                .collect(),
            signatures: a.signatures.iter().map(SignatureReportView::from).collect(),
            attestations: a.attestations.iter().map(AttestationReport::from).collect(),
        }
    }
}

impl AuditReport {
    /// Builds the report. Pure: `now` is the time the audit ran, nothing is read.
    pub fn build(
        now: DateTime<Utc>,
        subject: Subject,
        policy: PolicyInfo,
        seal: Option<&SealVerdict>,
        images: Vec<(ImageAssessment, ImageFacts)>,
    ) -> AuditReport {
        let images: Vec<ImageReport> = images.iter().map(|(a, f)| ImageReport::from_assessment(a, f.clone())).collect();
        let mut totals = Totals { images: images.len(), ..Totals::default() };
        for img in &images {
            match img.verdict {
                Outcome::Pass => totals.passed += 1,
                Outcome::Fail => totals.failed += 1,
            }
            for s in &img.signatures {
                totals.signatures.total += 1;
                match s.verdict {
                    SignatureVerdict::Verified => totals.signatures.verified += 1,
                    SignatureVerdict::Rejected => totals.signatures.rejected += 1,
                    SignatureVerdict::PresentNotVerified => totals.signatures.not_verified += 1,
                }
            }
            for a in &img.attestations {
                totals.attestations.total += 1;
                match a.verdict {
                    SignatureVerdict::Verified => totals.attestations.verified += 1,
                    _ => totals.attestations.rejected += 1,
                }
            }
        }
        let seal_ok = !matches!(seal, Some(SealVerdict::Rejected { .. }));
        AuditReport {
            schema: SCHEMA,
            generated_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            tool: Tool { name: "sealift", version: env!("CARGO_PKG_VERSION") },
            subject,
            policy,
            seal: seal.map(SealReport::from),
            // An audit that found nothing to audit (a mistyped prefix) is not a pass.
            verdict: Outcome::of(totals.failed == 0 && seal_ok && !images.is_empty()),
            totals,
            images,
        }
    }

    pub fn passed(&self) -> bool {
        self.verdict == Outcome::Pass
    }

    /// The documented exit code: 0 when everything passed, [`crate::exit::REJECTED`] otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.passed() {
            crate::exit::OK
        } else {
            crate::exit::REJECTED
        }
    }
}
