//! Which checks ran for one signature, and how each ended (issue 11 §1): the record that
//! the verify, load and audit reports print beside the verdict, so that "verified" always
//! says by what. docs/signing.md lists which checks each signature form gets.
//!
//! The verifiers mark a check [`CheckStatus::Failed`] *before* running it and
//! [`CheckStatus::Passed`] after it succeeded, so an early return leaves exactly the
//! check that refused the signature marked failed and the later ones
//! [`CheckStatus::NotReached`].

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckStatus {
    /// Checked, and it held.
    Passed,
    /// Checked, and it refused the signature (the verdict's rejection).
    Failed,
    /// This form of signature cannot carry it (a key-signed signature has no certificate
    /// chain; a legacy Rekor bundle has no inclusion proof).
    NotApplicable,
    /// The signature carries none, and none was required.
    Absent,
    /// The signature carries it, but no trust material for it is configured (no Rekor
    /// key, no CT log, no timestamp authority), so it was not checked.
    NotConfigured,
    /// Skipped on request (`--insecure-ignore-sct`).
    Skipped,
    /// Not reached: an earlier check refused the signature, or verification never started.
    #[default]
    NotReached,
}

impl CheckStatus {
    /// The name used in text and JSON reports (docs/audit.schema.json).
    pub fn name(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::NotApplicable => "not-applicable",
            CheckStatus::Absent => "absent",
            CheckStatus::NotConfigured => "not-configured",
            CheckStatus::Skipped => "skipped",
            CheckStatus::NotReached => "not-reached",
        }
    }
}

/// Every check of one signature. How the signer and the trusted time were established is
/// in the report beside it (`Signer`, `TrustedTime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checks {
    /// The signature over the exact signed bytes (a configured key, or the certificate's key).
    pub signature: CheckStatus,
    /// The signed payload or statement names the expected image (or artifact).
    pub subject: CheckStatus,
    /// The certificate path to a configured root at the trusted time, with EKU.
    pub certificate_chain: CheckStatus,
    /// The certificate's SAN and OIDC issuer against the policy's identities.
    pub identity: CheckStatus,
    /// The Rekor signed entry timestamp (SET) with a configured log key inside `validFor`.
    pub rekor_set: CheckStatus,
    /// The RFC 6962 inclusion proof of the entry up to the proof's root hash.
    pub inclusion_proof: CheckStatus,
    /// The signed checkpoint (log key) committing to that root hash and tree size.
    pub checkpoint: CheckStatus,
    /// The logged entry's body is of what was verified (digest, signature, key/certificate).
    pub tlog_body: CheckStatus,
    /// An embedded SCT in the certificate, from a configured CT log.
    pub sct: CheckStatus,
    /// RFC 3161 timestamps over the signature, against the configured authorities.
    pub timestamp: CheckStatus,
}

impl Checks {
    /// (name, status) pairs in report order; the names are the JSON keys.
    pub fn entries(&self) -> [(&'static str, CheckStatus); 10] {
        [
            ("signature", self.signature),
            ("subject", self.subject),
            ("certificate_chain", self.certificate_chain),
            ("identity", self.identity),
            ("rekor_set", self.rekor_set),
            ("inclusion_proof", self.inclusion_proof),
            ("checkpoint", self.checkpoint),
            ("tlog_body", self.tlog_body),
            ("sct", self.sct),
            ("timestamp", self.timestamp),
        ]
    }

    /// Marks the three transparency-log checks that a Rekor entry would have had.
    pub(crate) fn set_tlog(&mut self, status: CheckStatus) {
        self.rekor_set = status;
        self.inclusion_proof = status;
        self.checkpoint = status;
        self.tlog_body = status;
    }
}

/// A JSON object `{"signature": "passed", …}` in report order (docs/audit.schema.json).
impl serde::Serialize for Checks {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let entries = self.entries();
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (name, status) in entries {
            m.serialize_entry(name, status.name())?;
        }
        m.end()
    }
}

impl std::fmt::Display for Checks {
    /// One line: `signature passed, subject passed, certificate_chain not-applicable, …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, status)) in self.entries().into_iter().enumerate() {
            write!(f, "{}{name} {}", if i == 0 { "" } else { ", " }, status.name())?;
        }
        Ok(())
    }
}
