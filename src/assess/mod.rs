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

use crate::content::Metadata;
use crate::content::Role;
use crate::cosign::signature::UntrustedSignature;
use crate::oci::{media, Digest};
use crate::trust::policy::{Policy, Rule};
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
            ..SignatureReport::new(b"")
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

/// One image to decide: its source repository (`host[:port]/path`), the reference the
/// report names it by, its digest and the evidence found for that digest.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub repository: &'a str,
    pub reference: &'a str,
    pub digest: &'a Digest,
    pub evidence: &'a Evidence,
}

/// Decides one image under the `policy` rule its repository selects, at `now`. Every
/// signature is verified and reported, whatever the outcome.
pub fn assess(policy: &Policy, image: &Candidate<'_>, now: DateTime<Utc>) -> ImageAssessment {
    assess_under(policy.rule_for(image.repository), image, now)
}

/// [`assess`] under a given rule (or none), whatever rule the repository would select.
fn assess_under(rule: Option<&Rule>, image: &Candidate<'_>, now: DateTime<Utc>) -> ImageAssessment {
    let Candidate { repository, reference, digest, evidence } = *image;
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

/// Whether a bundle's names (the repositories in `index.json`) are authenticated: by a
/// verified seal, which signs `index.json` itself, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// The seal verified: `index.json` is as the sealer wrote it.
    Sealed,
    /// No verified seal: every name is whatever the last editor of the bundle wrote.
    Unsealed,
}

impl Names {
    pub fn of(seal: &crate::seal::SealVerdict) -> Names {
        match seal {
            crate::seal::SealVerdict::Verified { .. } => Names::Sealed,
            _ => Names::Unsealed,
        }
    }
}

/// Assesses every image and platform entry of a bundle (offline). Returns the index of
/// each entry in `meta.contents.entries` with its assessment, in entry order.
///
/// An index passes on its own signatures. A platform manifest carried without its index
/// passes on its own signatures, or when its parent index (the entry's subject) passes
/// and the parent's bytes, digest-checked when the bundle was read, list this digest: a
/// verified index signature then covers it.
///
/// The rule is chosen by the entry's source repository. When that name is not
/// authenticated (`names` is [`Names::Unsealed`] and no verified signature's
/// `docker-reference` equals it), an editor of the bundle could have chosen it to reach a
/// weaker rule: the image must then also satisfy every other rule that could cover a
/// source repository with the same path (the same target repository), see
/// docs/policy.md and issue 7.
pub fn assess_bundle(
    meta: &Metadata,
    policy: &Policy,
    now: DateTime<Utc>,
    names: Names,
) -> Vec<(usize, ImageAssessment)> {
    meta.contents
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.role, Role::Image | Role::Platform))
        .map(|(i, e)| (i, assess_entry(meta, policy, now, names, e)))
        .collect()
}

/// [`assess_bundle`] for a manifest of the bundle that is no entry of its own (a platform
/// manifest of a carried index), under the source repository of the index that lists it.
pub fn assess_listed(
    meta: &Metadata,
    policy: &Policy,
    now: DateTime<Utc>,
    names: Names,
    repository: &str,
    digest: &Digest,
) -> ImageAssessment {
    let size = meta.contents.manifests.get(digest).map_or(0, |m| m.bytes.len() as u64);
    let e = crate::content::Entry {
        descriptor: crate::oci::Descriptor::new(media::OCI_MANIFEST, digest.clone(), size),
        role: Role::Image,
        repository: repository.to_owned(),
        tag: None,
        subject: None,
    };
    assess_entry(meta, policy, now, names, &e)
}

fn assess_entry(
    meta: &Metadata,
    policy: &Policy,
    now: DateTime<Utc>,
    names: Names,
    e: &crate::content::Entry,
) -> ImageAssessment {
    let first = policy.rule_for(&e.repository);
    let (mut a, signed_names) = judge_entry(meta, first, now, e);
    let authenticated = names == Names::Sealed || signed_names.iter().any(|n| n == &e.repository);
    if authenticated {
        if names == Names::Unsealed {
            a.notes.push(format!("source name {} is the docker-reference of a verified signature", e.repository));
        }
    } else if a.passed || first.is_none() {
        guard_target_path(meta, policy, now, e, first, &mut a);
    }
    a
}

/// An entry under `rule`, a platform possibly covered by its index; with the
/// `docker-reference`s of the verified signatures that made it pass.
fn judge_entry(
    meta: &Metadata,
    rule: Option<&Rule>,
    now: DateTime<Utc>,
    e: &crate::content::Entry,
) -> (ImageAssessment, Vec<String>) {
    let d = &e.descriptor.digest;
    let image = Candidate {
        repository: &e.repository,
        reference: &e.reference(),
        digest: d,
        evidence: &evidence_from_bundle(meta, d),
    };
    let mut a = assess_under(rule, &image, now);
    let mut names = signed_names(&a);
    if e.role == Role::Platform && !a.passed {
        if let Some(parent) = &e.subject {
            if let Some(pa) = cover_by_parent(meta, rule, now, &mut a, &e.repository, parent) {
                names = signed_names(&pa);
            }
        }
    }
    (a, names)
}

fn signed_names(a: &ImageAssessment) -> Vec<String> {
    a.signatures.iter().filter(|s| s.report.is_verified()).filter_map(|s| s.report.docker_reference.clone()).collect()
}

/// The unauthenticated-name rule: every rule other than `first` that could cover
/// `<any host>/<path>` must pass too. When no rule covered the claimed name, those rules
/// decide alone (so `--allow-unsigned` cannot admit an image onto a guarded path).
fn guard_target_path(
    meta: &Metadata,
    policy: &Policy,
    now: DateTime<Utc>,
    e: &crate::content::Entry,
    first: Option<&Rule>,
    a: &mut ImageAssessment,
) {
    let Some((_, path)) = e.repository.split_once('/') else { return };
    // First match wins: a rule after one that takes this path from every host never applies.
    let mut guards: Vec<&Rule> = Vec::new();
    for r in &policy.rules {
        if first.is_none_or(|f| !std::ptr::eq(r, f)) && could_cover_path(r, path) {
            guards.push(r);
        }
        if covers_path_from_every_host(r, path) {
            break;
        }
    }
    if guards.is_empty() {
        return;
    }
    if first.is_none() {
        a.rule = Some(guards[0].name.clone());
        a.threshold = guards[0].threshold;
        a.reasons.clear();
        a.passed = true;
    }
    for r in guards {
        let (ra, _) = judge_entry(meta, Some(r), now, e);
        if ra.passed {
            a.notes.push(format!(
                "source name {} is not authenticated; also satisfies rule {:?}, which covers the same target path {path}",
                e.repository, r.name
            ));
            if first.is_none() {
                a.distinct_signers = a.distinct_signers.max(ra.distinct_signers);
            }
        } else {
            a.passed = false;
            a.reasons.push(format!(
                "source name {} is not authenticated (no verified seal, no verified signature naming it), and rule {:?} also covers target path {path}: {}",
                e.repository,
                r.name,
                ra.reasons.join("; ")
            ));
        }
    }
}

/// Whether some repository `<host>/<path>` could match one of `rule`'s globs, whatever
/// the host: the path part of each glob (after its first `/`) is matched against `path`;
/// a glob whose first component holds `**` is tried against `path` and `x/path`.
fn could_cover_path(rule: &Rule, path: &str) -> bool {
    let glob = |p: &str| globset::GlobBuilder::new(p).literal_separator(true).build().map(|g| g.compile_matcher());
    rule.repositories.iter().any(|pattern| match pattern.split_once('/') {
        Some((host, rest)) if !host.contains("**") => glob(rest).is_ok_and(|m| m.is_match(path)),
        _ => glob(pattern).is_ok_and(|m| m.is_match(path) || m.is_match(format!("x/{path}"))),
    })
}

/// Whether `rule` matches `<host>/<path>` for every host: a glob `*/<rest>` or one that
/// starts with `**`.
fn covers_path_from_every_host(rule: &Rule, path: &str) -> bool {
    let glob = |p: &str| globset::GlobBuilder::new(p).literal_separator(true).build().map(|g| g.compile_matcher());
    rule.repositories.iter().any(|pattern| match pattern.split_once('/') {
        Some(("*", rest)) => glob(rest).is_ok_and(|m| m.is_match(path)),
        _ if pattern.starts_with("**") => glob(pattern).is_ok_and(|m| m.is_match(format!("x/{path}"))),
        _ => false,
    })
}

/// A platform whose own signatures did not pass: covered when its parent index passes
/// under the same rule and lists it. Returns the parent's assessment when it covered.
fn cover_by_parent(
    meta: &Metadata,
    rule: Option<&Rule>,
    now: DateTime<Utc>,
    a: &mut ImageAssessment,
    repository: &str,
    parent: &Digest,
) -> Option<ImageAssessment> {
    let Some(index) = meta.contents.manifests.get(parent) else {
        a.notes.push(format!("parent index {parent} is not in the bundle"));
        return None;
    };
    if !index.parsed.manifests.iter().any(|m| m.digest == a.digest) {
        a.notes.push(format!("parent index {parent} does not list {}", a.digest));
        return None;
    }
    let image = Candidate {
        repository,
        reference: &format!("{repository}@{parent}"),
        digest: parent,
        evidence: &evidence_from_bundle(meta, parent),
    };
    let pa = assess_under(rule, &image, now);
    if pa.passed {
        a.passed = true;
        a.covered_by = Some(parent.clone());
        a.notes.push(format!(
            "covered by the verified signatures of its index {parent}, which lists this digest; own signatures: {}",
            a.reasons.join("; ")
        ));
        a.reasons.clear();
        a.distinct_signers = pa.distinct_signers;
        Some(pa)
    } else {
        a.notes.push(format!("its index {parent} did not pass either: {}", pa.reasons.join("; ")));
        None
    }
}
