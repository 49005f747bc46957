//! Admission: what of a bundle may reach the target, and under which names. The whole
//! security story of `load` is here (issue 7):
//!
//! 1. [`check_entries`] runs on every bundle that is read (load, `verify --bundle`, audit,
//!    inspect): nothing an `index.json` annotation says about an attachment is believed
//!    (see [`entries`]).
//! 2. [`admit`] checks the seal, assesses every image under the policy (or skips that,
//!    saying so, for `--insecure-skip-verify`), applies `--partial` and
//!    `--allow-unsigned`, and admits an attachment only when what it is attached to was
//!    admitted in the same repository. The result is an [`Admitted`]: its fields are
//!    private and it is constructed nowhere else, and the plan and the pusher take
//!    nothing but an `&Admitted`. The CLI only prints what it holds.

pub mod entries;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

pub use entries::{check_entries, EntryError};

use crate::assess::{assess_bundle, ImageAssessment, Names};
use crate::content::Metadata;
use crate::content::{Contents, Role};
use crate::oci::{media, Digest};
use crate::seal::{verify_bundle_seal, SealTrust, SealVerdict};
use crate::trust::policy::Policy;
use crate::verify::Verdict;

/// How the images of a bundle are judged.
#[derive(Clone, Copy)]
pub enum Judge<'a> {
    /// Every image against `policy` at `now` (the caller's clock).
    Policy { policy: &'a Policy, now: DateTime<Utc> },
    /// `--insecure-skip-verify`: no signature is verified; every image is admitted, and
    /// the [`Admitted`] says it is unverified.
    SkipVerify,
}

/// `--partial` and `--allow-unsigned`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdmitOptions {
    /// Admit the images that pass even when others are refused.
    pub partial: bool,
    /// Admit an image that no policy rule covers, unverified.
    pub allow_unsigned: bool,
}

/// What became of one image or platform entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified under the policy.
    Verified,
    /// Admitted without a verified signature: `--allow-unsigned` (no rule covers it) or
    /// `--insecure-skip-verify`.
    Unverified,
    /// Did not pass; not pushed.
    Refused,
    /// An index saved with `--platform`: carried for its signatures, never pushed; its
    /// platforms are judged on their own.
    CarriedOnly,
}

/// The decision for one image or platform entry, with its assessment (none under
/// `--insecure-skip-verify`).
#[derive(Debug, Clone)]
pub struct Decision {
    /// Index into the bundle's `index.json` entries.
    pub entry: usize,
    pub reference: String,
    pub digest: Digest,
    pub outcome: Outcome,
    pub assessment: Option<ImageAssessment>,
}

/// The proof that admission ran: which entries may be pushed. Only [`admit`] makes one.
#[derive(Debug)]
pub struct Admitted {
    entries: BTreeSet<usize>,
    verified: bool,
    /// Attachment manifests (`.sig`, `.att`, referrers) holding a signature or attestation
    /// that verified under the site's trust.
    verified_attachments: BTreeSet<Digest>,
    seal: SealVerdict,
    decisions: Vec<Decision>,
}

impl Admitted {
    /// Whether entry `i` of `index.json` may be pushed.
    pub fn contains(&self, i: usize) -> bool {
        self.entries.contains(&i)
    }

    /// The admitted entries, in `index.json` order.
    pub fn entries(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries.iter().copied()
    }

    /// Whether the attachment manifest `digest` holds a signature or attestation that
    /// verified under the site's trust (never under `--insecure-skip-verify`). Only such an
    /// attachment may replace a different one already at the target under its tag.
    pub fn attachment_verified(&self, digest: &Digest) -> bool {
        self.verified_attachments.contains(digest)
    }

    /// False under `--insecure-skip-verify`: nothing was verified.
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    pub fn seal(&self) -> &SealVerdict {
        &self.seal
    }

    /// One decision per image and platform entry, in `index.json` order.
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// How many images were refused (only possible with `--partial`).
    pub fn refused(&self) -> usize {
        self.decisions.iter().filter(|d| d.outcome == Outcome::Refused).count()
    }
}

/// Why nothing of the bundle may be pushed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("bundle seal rejected: {reason}")]
    Seal { reason: String },
    #[error("{} image(s) did not pass verification ({})", refused_names(.decisions).len(), refused_names(.decisions).join(", "))]
    Images { decisions: Vec<Decision> },
}

fn refused_names(decisions: &[Decision]) -> Vec<String> {
    decisions.iter().filter(|d| d.outcome == Outcome::Refused).map(|d| d.reference.clone()).collect()
}

/// Decides what of `meta` may be pushed. The seal is checked first (a rejected seal
/// refuses the whole bundle); then every image and platform entry is judged; then each
/// attachment is admitted when its subject was, in the same source repository (a
/// referrer of a referrer follows its subject). `now` is the time the seal's certificate
/// is checked at.
pub fn admit(
    meta: &Metadata,
    seal_trust: Option<&SealTrust>,
    judge: Judge<'_>,
    options: AdmitOptions,
    now: DateTime<Utc>,
) -> Result<Admitted, Refusal> {
    let seal = verify_bundle_seal(meta, seal_trust, now.timestamp());
    if let SealVerdict::Rejected { reason } = &seal {
        return Err(Refusal::Seal { reason: reason.clone() });
    }
    let decisions = match judge {
        Judge::SkipVerify => meta
            .contents
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.role, Role::Image | Role::Platform))
            .map(|(i, e)| Decision {
                entry: i,
                reference: e.reference(),
                digest: e.descriptor.digest.clone(),
                outcome: if is_partial(meta, i) { Outcome::CarriedOnly } else { Outcome::Unverified },
                assessment: None,
            })
            .collect(),
        Judge::Policy { policy, now } => assess_bundle(meta, policy, now, Names::of(&seal))
            .into_iter()
            .map(|(i, mut a)| {
                let outcome = if is_partial(meta, i) {
                    Outcome::CarriedOnly
                } else if a.passed {
                    Outcome::Verified
                } else if a.rule.is_none() && options.allow_unsigned {
                    a.passed = true;
                    a.notes
                        .push("no policy rule covers this repository; admitted unverified (--allow-unsigned)".into());
                    a.reasons.clear();
                    Outcome::Unverified
                } else {
                    Outcome::Refused
                };
                Decision {
                    entry: i,
                    reference: a.reference.clone(),
                    digest: a.digest.clone(),
                    outcome,
                    assessment: Some(a),
                }
            })
            .collect::<Vec<_>>(),
    };
    if !options.partial && decisions.iter().any(|d| d.outcome == Outcome::Refused) {
        return Err(Refusal::Images { decisions });
    }
    let mut entries: BTreeSet<usize> = decisions
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Verified | Outcome::Unverified))
        .map(|d| d.entry)
        .collect();
    entries.extend(attachments_of(meta, &entries));
    let verified_attachments = decisions
        .iter()
        .filter(|d| d.outcome == Outcome::Verified)
        .filter_map(|d| d.assessment.as_ref())
        .flat_map(|a| {
            let sigs = a.signatures.iter().filter(|s| matches!(s.report.verdict, Verdict::Verified)).map(|s| &s.holder);
            sigs.chain(a.attestations.iter().filter(|t| t.verified).map(|t| &t.holder))
        })
        .cloned()
        .collect();
    Ok(Admitted { entries, verified: matches!(judge, Judge::Policy { .. }), verified_attachments, seal, decisions })
}

/// Saved with `--platform`: the index is carried for its signatures (which may cover its
/// platforms) but cannot exist at the target without its other children.
fn is_partial(meta: &Metadata, i: usize) -> bool {
    meta.contents.entries[i].descriptor.annotations.contains_key(media::ANN_SEALIFT_PARTIAL)
}

/// The attachment entries whose subject is a manifest admitted in the attachment's own
/// source repository (an admitted image, one of its platform manifests, or an admitted
/// attachment), to a fixed point.
fn attachments_of(meta: &Metadata, admitted: &BTreeSet<usize>) -> BTreeSet<usize> {
    let c = &meta.contents;
    let mut reach: BTreeMap<&str, BTreeSet<Digest>> = BTreeMap::new();
    fn add<'m>(c: &'m Contents, reach: &mut BTreeMap<&'m str, BTreeSet<Digest>>, i: usize) {
        let e = &c.entries[i];
        let under = c.manifests_under(&e.descriptor.digest).unwrap_or_default();
        reach.entry(e.repository.as_str()).or_default().extend(under);
    }
    for &i in admitted {
        add(c, &mut reach, i);
    }
    let mut out = BTreeSet::new();
    loop {
        let next: Vec<usize> = c
            .entries
            .iter()
            .enumerate()
            .filter(|(i, e)| e.role.is_attachment() && !out.contains(i))
            .filter(|(_, e)| {
                e.subject.as_ref().is_some_and(|s| reach.get(e.repository.as_str()).is_some_and(|r| r.contains(s)))
            })
            .map(|(i, _)| i)
            .collect();
        if next.is_empty() {
            return out;
        }
        for i in next {
            out.insert(i);
            add(c, &mut reach, i);
        }
    }
}
