//! Assessments as data for output: a JSON view (stable field names, documented in
//! docs/policy.md) and plain text, shared by `verify`, `load` and `audit`.

use serde::Serialize;

use super::{format_name, verdict_reason, ImageAssessment, SignatureAssessment};
use crate::verify::x509::rfc3339;
use crate::verify::{RekorStatus, Signer, TimeSource, Verdict};

/// Version of the JSON below; bumped on incompatible changes.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct ChainCert {
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    /// Whether the trusted time falls inside `not_before..=not_after`.
    pub valid_at_trusted_time: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct SignatureJson {
    /// `verified`, `rejected` or `present-not-verified`.
    pub verdict: &'static str,
    pub reason: Option<String>,
    pub format: &'static str,
    /// Digest of the manifest holding the signature.
    pub holder: String,
    /// sha256 of the signed payload (or of the Sigstore bundle JSON).
    pub payload_digest: String,
    pub algorithm: Option<&'static str>,
    /// `key` or `certificate`.
    pub signer_kind: Option<&'static str>,
    /// Key fingerprint (hex SHA-256 of the DER SPKI) or the certificate's SANs.
    pub identity: Vec<String>,
    pub issuer: Option<String>,
    pub chain: Vec<ChainCert>,
    pub trusted_time: Option<String>,
    /// `rekor`, `timestamp`, `at` or `now`.
    pub time_source: Option<&'static str>,
    /// `absent`, `not-checked` or `verified`.
    pub rekor: &'static str,
    pub rekor_log_index: Option<i64>,
    pub docker_reference: Option<String>,
    /// Each check and how it ended (`passed`, `failed`, `not-applicable`, `absent`,
    /// `not-configured`, `skipped`, `not-reached`).
    pub checks: crate::verify::Checks,
}

#[derive(Debug, Serialize)]
pub struct ImageJson<'a> {
    pub reference: &'a str,
    pub repository: &'a str,
    pub digest: String,
    pub rule: Option<&'a str>,
    pub passed: bool,
    pub reasons: &'a [String],
    pub threshold: usize,
    pub distinct_signers: usize,
    pub covered_by: Option<String>,
    pub notes: &'a [String],
    pub signatures: Vec<SignatureJson>,
    pub attestations: &'a [super::AttestationAssessment],
    pub unreadable: Vec<UnreadableJson>,
}

#[derive(Debug, Serialize)]
pub struct UnreadableJson {
    pub holder: String,
    pub reason: String,
}

fn verdict_name(v: &Verdict) -> &'static str {
    match v {
        Verdict::Verified => "verified",
        Verdict::Rejected(_) => "rejected",
        Verdict::PresentNotVerified { .. } => "present-not-verified",
    }
}

fn time_source(s: TimeSource) -> &'static str {
    match s {
        TimeSource::Rekor => "rekor",
        TimeSource::Timestamp => "timestamp",
        TimeSource::At => "at",
        TimeSource::Now => "now",
    }
}

pub fn signature_json(s: &SignatureAssessment) -> SignatureJson {
    let r = &s.report;
    let t = r.trusted_time.map(|t| t.unix);
    let (signer_kind, identity, issuer) = match &r.signer {
        Some(Signer::Key { fingerprint }) => (Some("key"), vec![format!("sha256:{fingerprint}")], None),
        Some(Signer::Certificate { sans, issuer }) => {
            (Some("certificate"), sans.iter().map(crate::verify::San::value).collect(), issuer.clone())
        }
        None => (None, Vec::new(), None),
    };
    let (rekor, rekor_log_index) = match &r.rekor {
        RekorStatus::Absent => ("absent", None),
        RekorStatus::NotChecked => ("not-checked", None),
        RekorStatus::Verified(e) => ("verified", Some(e.log_index)),
    };
    SignatureJson {
        verdict: verdict_name(&r.verdict),
        reason: verdict_reason(&r.verdict),
        format: format_name(s.format),
        holder: s.holder.to_string(),
        payload_digest: r.payload_digest.to_string(),
        algorithm: r.algorithm.map(|a| a.name()),
        signer_kind,
        identity,
        issuer,
        chain: r
            .chain
            .iter()
            .map(|c| ChainCert {
                subject: c.subject.clone(),
                not_before: rfc3339(c.not_before),
                not_after: rfc3339(c.not_after),
                valid_at_trusted_time: t.map(|t| c.not_before <= t && t <= c.not_after),
            })
            .collect(),
        trusted_time: t.map(rfc3339),
        time_source: r.trusted_time.map(|t| time_source(t.source)),
        rekor,
        rekor_log_index,
        docker_reference: r.docker_reference.clone(),
        checks: r.checks,
    }
}

pub fn image_json(a: &ImageAssessment) -> ImageJson<'_> {
    ImageJson {
        reference: &a.reference,
        repository: &a.repository,
        digest: a.digest.to_string(),
        rule: a.rule.as_deref(),
        passed: a.passed,
        reasons: &a.reasons,
        threshold: a.threshold,
        distinct_signers: a.distinct_signers,
        covered_by: a.covered_by.as_ref().map(ToString::to_string),
        notes: &a.notes,
        signatures: a.signatures.iter().map(signature_json).collect(),
        attestations: &a.attestations,
        unreadable: a
            .unreadable
            .iter()
            .map(|(d, r)| UnreadableJson { holder: d.to_string(), reason: r.clone() })
            .collect(),
    }
}

/// A human-readable report of one image, several lines, ending in a newline.
pub fn image_text(a: &ImageAssessment) -> String {
    use crate::escape::clean;
    use std::fmt::Write as _;
    let mut o = String::new();
    let verdict = if a.passed { "PASSED" } else { "REJECTED" };
    let _ = writeln!(o, "{verdict} {} ({})", clean(&a.reference.to_string()), a.digest);
    let _ = writeln!(
        o,
        "  rule: {}; {} distinct verified signer(s), threshold {}",
        a.rule.as_deref().unwrap_or("(none)"),
        a.distinct_signers,
        a.threshold
    );
    for r in &a.reasons {
        let _ = writeln!(o, "  reason: {}", clean(&r.to_string()));
    }
    for n in &a.notes {
        let _ = writeln!(o, "  note: {}", clean(&n.to_string()));
    }
    if a.signatures.is_empty() {
        let _ = writeln!(o, "  no signatures");
    }
    for s in &a.signatures {
        let j = signature_json(s);
        let _ = writeln!(
            o,
            "  signature {} [{}]: {}{}",
            j.payload_digest,
            j.format,
            j.verdict,
            j.reason.as_deref().map(|r| format!(" ({})", clean(r))).unwrap_or_default()
        );
        if let Some(alg) = j.algorithm {
            let _ = writeln!(o, "    algorithm: {alg}");
        }
        if let Some(kind) = j.signer_kind {
            let _ = writeln!(o, "    signer: {kind} {}", clean(&j.identity.join(", ")));
        }
        if let Some(i) = &j.issuer {
            let _ = writeln!(o, "    issuer: {}", clean(i));
        }
        for c in &j.chain {
            let valid = match c.valid_at_trusted_time {
                Some(true) => "valid",
                Some(false) => "NOT valid",
                None => "validity unknown",
            };
            let _ =
                writeln!(o, "    chain: {:?} {} .. {} ({valid} at trusted time)", c.subject, c.not_before, c.not_after);
        }
        if let (Some(t), Some(src)) = (&j.trusted_time, j.time_source) {
            let _ = writeln!(o, "    trusted time: {t} (from {src})");
        }
        if j.rekor != "absent" {
            let _ = writeln!(o, "    rekor: {}", j.rekor);
        }
        let _ = writeln!(o, "    checks: {}", j.checks);
    }
    for att in &a.attestations {
        let _ = writeln!(
            o,
            "  attestation {}: {}{}",
            clean(att.predicate_type.as_deref().unwrap_or("(no predicate type)")),
            if att.verified { "verified" } else { "rejected" },
            att.reason.as_deref().map(|r| format!(" ({})", clean(r))).unwrap_or_default()
        );
    }
    for (d, r) in &a.unreadable {
        let _ = writeln!(o, "  unreadable attachment {d}: {}", clean(&r.to_string()));
    }
    o
}
