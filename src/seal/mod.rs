//! Sealed bundles: a bundle index (every image with its source reference and digest,
//! every blob with digest and size, the attachments of each digest, tool version,
//! creation time) signed with the same algorithms and formats as image signatures. It
//! travels in the tar right after `index.json` (`sealift-index.json` and
//! `sealift-index.json.sig`), so a reader checks it before any blob.

use serde::Serialize;

use crate::verify::x509::CertSummary;

/// The seal's verdict, for `load`, `verify --bundle` and `audit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealVerdict {
    /// The bundle carries no seal.
    Absent,
    /// A seal is present but no bundle trust (`--bundle-key`, `--bundle-ca-roots`) was given.
    NotChecked,
    /// The seal's signature verified and the bundle holds exactly the blobs it lists.
    Verified { signer: String, algorithm: String, chain: Vec<CertSummary> },
    /// The seal did not verify, or the bundle differs from it.
    Rejected { reason: String },
}

impl SealVerdict {
    pub fn label(&self) -> &'static str {
        match self {
            SealVerdict::Absent => "absent",
            SealVerdict::NotChecked => "not-checked",
            SealVerdict::Verified { .. } => "verified",
            SealVerdict::Rejected { .. } => "rejected",
        }
    }
}

/// Serializable view of a [`SealVerdict`].
#[derive(Debug, Clone, Serialize)]
pub struct SealSummary {
    pub verdict: &'static str,
    pub signer: Option<String>,
    pub algorithm: Option<String>,
    pub reason: Option<String>,
}

impl From<&SealVerdict> for SealSummary {
    fn from(v: &SealVerdict) -> Self {
        let (signer, algorithm, reason) = match v {
            SealVerdict::Verified { signer, algorithm, .. } => (Some(signer.clone()), Some(algorithm.clone()), None),
            SealVerdict::Rejected { reason } => (None, None, Some(reason.clone())),
            _ => (None, None, None),
        };
        SealSummary { verdict: v.label(), signer, algorithm, reason }
    }
}
