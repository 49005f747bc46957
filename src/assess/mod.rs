//! Assessing images against a trust policy: gather the evidence attached to a manifest
//! digest (legacy `.sig`/`.att` tags, simple-signing referrers, Sigstore bundle referrers)
//! from a bundle (offline) or a registry (online), verify each piece with
//! [`crate::verify`], and decide per image under the policy rule that covers it.
//!
//! Used by `verify`, by `load` (verify before push) and by `audit`. Verification itself
//! stays in `verify` (bytes in, verdict out); this module knows where evidence lives and
//! what a policy requires.

pub mod attest;
pub mod evidence;
pub mod report;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cosign::signature::UntrustedSignature;
use crate::oci::Digest;
use crate::transfer::load::Metadata;
use crate::transfer::model::Role;
use crate::trust::policy::Policy;
use crate::verify::sigstore_bundle::verify_sigstore_bundle;
use crate::verify::{verify_signature, SignatureReport, Signer, TrustPolicy, Verdict};

pub use evidence::{evidence_from_bundle, evidence_from_registry};

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
    /// Distinct verified signers counted against the threshold.
    pub distinct_signers: usize,
    /// The rule's threshold (1 when no rule covered the image).
    pub threshold: usize,
    /// Attachments that could not be read, with why (from [`Evidence::unreadable`]).
    pub unreadable: Vec<(Digest, String)>,
    /// For a platform manifest carried without its siblings: the parent index whose
    /// verified signatures cover it (the index bytes name this digest).
    pub covered_by: Option<Digest>,
    /// Remarks for the report that are not reasons for refusal, one line each.
    pub notes: Vec<String>,
}

/// Who signed, as a string two signatures share exactly when they have the same signer:
/// the key fingerprint, or the certificate's SANs and issuer. Used for the threshold.
fn signer_key(s: &Signer) -> String {
    match s {
        Signer::Key { fingerprint } => format!("key:{fingerprint}"),
        Signer::Certificate { sans, issuer } => {
            let ids: Vec<String> = sans.iter().map(crate::verify::San::value).collect();
            format!("cert:{}|{}", ids.join(","), issuer.as_deref().unwrap_or(""))
        }
    }
}

/// Verifies one found signature.
fn verify_found(tp: &TrustPolicy, s: &FoundSignature, digest: &Digest) -> SignatureReport {
    match (&s.signature, &s.bundle_json) {
        (Some(sig), _) => verify_signature(tp, sig, digest),
        (None, Some(json)) => verify_sigstore_bundle(tp, json, digest),
        (None, None) => SignatureReport {
            verdict: Verdict::PresentNotVerified { reason: "no signature bytes were found".into() },
            payload_digest: s.holder.clone(),
            algorithm: None,
            signer: None,
            chain: Vec::new(),
            trusted_time: None,
            docker_reference: None,
            rekor: crate::verify::RekorStatus::Absent,
        },
    }
}

/// One line saying why a signature did not count.
pub fn verdict_reason(v: &Verdict) -> Option<String> {
    match v {
        Verdict::Verified => None,
        Verdict::Rejected(r) => Some(r.to_string()),
        Verdict::PresentNotVerified { reason } => Some(format!("present, not verified: {reason}")),
    }
}

/// Decides one image (`repository` = `host[:port]/path`, the source repository) under
/// `policy` at `now`. Every signature is verified and reported, whatever the outcome.
pub fn assess(
    policy: &Policy,
    repository: &str,
    reference: &str,
    digest: &Digest,
    evidence: &Evidence,
    now: DateTime<Utc>,
) -> ImageAssessment {
    let rule = policy.rule_for(repository);
    let mut a = ImageAssessment {
        reference: reference.to_owned(),
        repository: repository.to_owned(),
        digest: digest.clone(),
        rule: rule.map(|r| r.name.clone()),
        passed: false,
        reasons: Vec::new(),
        signatures: Vec::new(),
        attestations: Vec::new(),
        distinct_signers: 0,
        threshold: rule.map_or(1, |r| r.threshold),
        unreadable: evidence.unreadable.clone(),
        covered_by: None,
        notes: Vec::new(),
    };
    // Without a rule (or under a rejecting one) nothing is trusted, but what is present
    // is still listed, verified against no trust at all.
    let tp = match rule {
        Some(r) if !r.reject => r.trust_policy(repository, now),
        _ => TrustPolicy::new(now),
    };
    for s in &evidence.signatures {
        a.signatures.push(SignatureAssessment {
            format: s.format,
            holder: s.holder.clone(),
            report: verify_found(&tp, s, digest),
        });
    }
    for att in &evidence.attestations {
        a.attestations.push(attest::assess_attestation(&tp, att, digest));
    }
    let Some(rule) = rule else {
        a.reasons.push(format!("no policy rule covers {repository}"));
        return a;
    };
    if rule.reject {
        a.reasons.push(format!("policy rule {:?} refuses {repository}", rule.name));
        return a;
    }
    let signers: BTreeSet<String> = a
        .signatures
        .iter()
        .filter(|s| s.report.is_verified())
        .filter_map(|s| s.report.signer.as_ref().map(signer_key))
        .collect();
    a.distinct_signers = signers.len();
    if a.distinct_signers < rule.threshold {
        a.reasons.push(match (evidence.signatures.len(), rule.threshold) {
            (0, _) => "no signatures found".to_owned(),
            (_, 1) => "no signature verified".to_owned(),
            (_, t) => format!("{} distinct verified signers, the policy needs {t}", a.distinct_signers),
        });
        for s in &a.signatures {
            if let Some(why) = verdict_reason(&s.report.verdict) {
                a.reasons.push(format!("signature {} ({}): {why}", s.report.payload_digest, format_name(s.format)));
            }
        }
        for (d, why) in &a.unreadable {
            a.reasons.push(format!("attachment {d}: {why}"));
        }
    }
    for p in &rule.require_attestations {
        let ok = a.attestations.iter().any(|x| x.verified && x.predicate_type.as_deref() == Some(p.as_str()));
        if !ok {
            let present = a.attestations.iter().filter(|x| x.predicate_type.as_deref() == Some(p.as_str())).count();
            a.reasons.push(if present == 0 {
                format!("required attestation {p:?} is missing")
            } else {
                let why: Vec<String> = a
                    .attestations
                    .iter()
                    .filter(|x| x.predicate_type.as_deref() == Some(p.as_str()))
                    .filter_map(|x| x.reason.clone())
                    .collect();
                format!("required attestation {p:?} did not verify: {}", why.join("; "))
            });
        }
    }
    a.passed = a.reasons.is_empty();
    a
}

/// The kebab-case name of a format, as in reports.
pub fn format_name(f: Format) -> &'static str {
    match f {
        Format::LegacySig => "legacy-sig",
        Format::SimpleSigningReferrer => "simple-signing-referrer",
        Format::SigstoreBundle => "sigstore-bundle",
    }
}

/// The reference an entry was saved under: `repo:tag`, else `repo@digest`.
pub fn entry_reference(repository: &str, tag: Option<&str>, digest: &Digest) -> String {
    match tag {
        Some(t) => format!("{repository}:{t}"),
        None => format!("{repository}@{digest}"),
    }
}

/// Assesses every image and platform entry of a bundle (offline). Returns the index of
/// each entry in `meta.contents.entries` with its assessment, in entry order.
///
/// An index passes on its own signatures. A platform manifest carried without its index
/// passes on its own signatures, or when its parent index (the entry's subject) passes
/// and the parent's bytes, digest-checked when the bundle was read, list this digest: a
/// verified index signature then covers it.
pub fn assess_bundle(meta: &Metadata, policy: &Policy, now: DateTime<Utc>) -> Vec<(usize, ImageAssessment)> {
    let mut out = Vec::new();
    for (i, e) in meta.contents.entries.iter().enumerate() {
        if !matches!(e.role, Role::Image | Role::Platform) {
            continue;
        }
        let d = &e.descriptor.digest;
        let reference = entry_reference(&e.repository, e.tag.as_deref(), d);
        let mut a = assess(policy, &e.repository, &reference, d, &evidence_from_bundle(meta, d), now);
        if e.role == Role::Platform && !a.passed {
            if let Some(parent) = &e.subject {
                cover_by_parent(meta, policy, now, &mut a, &e.repository, parent);
            }
        }
        out.push((i, a));
    }
    out
}

fn cover_by_parent(
    meta: &Metadata,
    policy: &Policy,
    now: DateTime<Utc>,
    a: &mut ImageAssessment,
    repository: &str,
    parent: &Digest,
) {
    let Some(index) = meta.contents.manifests.get(parent) else {
        a.notes.push(format!("parent index {parent} is not in the bundle"));
        return;
    };
    if !index.parsed.manifests.iter().any(|m| m.digest == a.digest) {
        a.notes.push(format!("parent index {parent} does not list {}", a.digest));
        return;
    }
    let pa =
        assess(policy, repository, &format!("{repository}@{parent}"), parent, &evidence_from_bundle(meta, parent), now);
    if pa.passed {
        a.passed = true;
        a.covered_by = Some(parent.clone());
        a.notes.push(format!(
            "covered by the verified signatures of its index {parent}, which lists this digest; own signatures: {}",
            a.reasons.join("; ")
        ));
        a.reasons.clear();
        a.distinct_signers = pa.distinct_signers;
    } else {
        a.notes.push(format!("its index {parent} did not pass either: {}", pa.reasons.join("; ")));
    }
}
