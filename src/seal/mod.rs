//! Sealed bundles: a bundle index (every image with its source reference and digest,
//! every blob with digest and size, the attachments of each digest, tool version,
//! creation time) signed with the same algorithms and formats as image signatures. It
//! travels in the tar right after `index.json` (`sealift-index.json` and
//! `sealift-index.json.sig`), so a reader checks it before any blob.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::content::{Contents, Delta};
use crate::oci::media::{ANN_CERTIFICATE, ANN_CHAIN, ANN_SIGNATURE};
use crate::oci::Digest;
use crate::verify::crypto::{self, PrivateKey, PublicKey, SignatureAlgorithm};
use crate::verify::x509::{CertSummary, TrustAnchor};
use crate::verify::{IdentityMatcher, San, SignatureReport, Signer, StringMatch, TrustPolicy, Verdict};

/// The names of the seal's two tar entries (defined with the other entry names).
pub use crate::bundle::names::{SEAL_INDEX, SEAL_SIG};
/// Schema identifier of [`SealIndex`].
pub const SEAL_SCHEMA: &str = "https://sealift.dev/schemas/bundle-index/v1";

/// The signed bundle index. Field order is fixed; lists are sorted, so the bytes depend
/// only on the bundle's content, the tool version and the creation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealIndex {
    pub schema: String,
    pub tool: String,
    /// RFC 3339; `SOURCE_DATE_EPOCH` when set, for reproducible sealed bundles.
    pub created: String,
    /// Digest and size of the bundle's `index.json`, which names every manifest.
    pub index: BlobRef,
    pub images: Vec<SealImage>,
    /// Every blob of the bundle (manifests, metadata, layers), sorted by digest; a delta
    /// bundle's assumed blobs are not in it.
    pub blobs: Vec<BlobRef>,
    pub attachments: Vec<SealAttachment>,
    /// A delta bundle: what it assumes the site has, and who promised it, exactly as its
    /// `index.json` annotation says. Absent for a full bundle.
    #[serde(default, skip_serializing_if = "Delta::is_empty")]
    pub delta: Delta,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobRef {
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealImage {
    pub reference: String,
    pub digest: Digest,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealAttachment {
    pub subject: Digest,
    pub role: String,
    pub digest: Digest,
}

impl SealIndex {
    /// The index for a bundle whose `index.json` is `index_json`.
    pub fn build(contents: &Contents, index_json: &[u8], created: String) -> SealIndex {
        let mut blobs: BTreeSet<BlobRef> = contents
            .blobs
            .iter()
            .filter(|(d, _)| !contents.delta.assumes(d))
            .map(|(d, b)| BlobRef { digest: d.clone(), size: b.size })
            .collect();
        for (d, m) in &contents.manifests {
            blobs.insert(BlobRef { digest: d.clone(), size: m.bytes.len() as u64 });
        }
        let images = contents
            .entries
            .iter()
            .filter(|e| !e.role.is_attachment())
            .map(|e| SealImage {
                reference: match &e.tag {
                    Some(t) => format!("{}:{t}", e.repository),
                    None => format!("{}@{}", e.repository, e.descriptor.digest),
                },
                digest: e.descriptor.digest.clone(),
                role: e.role.as_str().to_owned(),
            })
            .collect();
        let attachments = contents
            .entries
            .iter()
            .filter(|e| e.role.is_attachment())
            .filter_map(|e| {
                Some(SealAttachment {
                    subject: e.subject.clone()?,
                    role: e.role.as_str().to_owned(),
                    digest: e.descriptor.digest.clone(),
                })
            })
            .collect();
        SealIndex {
            schema: SEAL_SCHEMA.to_owned(),
            tool: format!("sealift {}", env!("CARGO_PKG_VERSION")),
            created,
            index: BlobRef { digest: Digest::of(index_json), size: index_json.len() as u64 },
            images,
            blobs: blobs.into_iter().collect(),
            attachments,
            delta: contents.delta.clone(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("plain data");
        v.push(b'\n');
        v
    }
}

/// The creation time: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
pub fn created_now() -> String {
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or_else(chrono::Utc::now);
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What signs a seal.
pub struct SealSigner {
    pub key: PrivateKey,
    pub algorithm: Option<SignatureAlgorithm>,
    /// Leaf certificate (PEM) and chain (PEM, intermediates then root), stored verbatim.
    pub certificate_pem: Option<String>,
    pub chain_pem: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error("cannot sign the bundle index: {0}")]
    Sign(#[from] crypto::KeyError),
    #[error("the seal signing key has no default algorithm; give --sign-algorithm")]
    NoAlgorithm,
    #[error("the seal signing key does not match --sign-certificate")]
    KeyCertificateMismatch,
}

/// Signs the index bytes; returns the `sealift-index.json.sig` document: the same
/// annotations a cosign signature layer carries (signature, certificate, chain).
pub fn sign(index_bytes: &[u8], signer: &SealSigner) -> Result<Vec<u8>, SealError> {
    let alg = match signer.algorithm {
        Some(a) => a,
        None => crypto::default_algorithm(&signer.key).ok_or(SealError::NoAlgorithm)?,
    };
    if let Some(pem) = &signer.certificate_pem {
        let certs = crypto::load_certificates(pem.as_bytes(), "--sign-certificate")?;
        let cert_key = certs.first().and_then(|c| c.public_key().ok()).ok_or(SealError::KeyCertificateMismatch)?;
        if !cert_key.public_eq(&signer.key.0) {
            return Err(SealError::KeyCertificateMismatch);
        }
    }
    let sig = crypto::sign(&signer.key, index_bytes, alg)?;
    let mut doc = BTreeMap::new();
    doc.insert(ANN_SIGNATURE, base64::engine::general_purpose::STANDARD.encode(sig));
    if let Some(c) = &signer.certificate_pem {
        doc.insert(ANN_CERTIFICATE, c.clone());
        doc.insert(ANN_CHAIN, signer.chain_pem.clone().unwrap_or_default());
    }
    let mut v = serde_json::to_vec_pretty(&doc).expect("plain data");
    v.push(b'\n');
    Ok(v)
}

/// Trust for seals (`--bundle-key`, `--bundle-ca-roots`, identity constraints).
#[derive(Default)]
pub struct SealTrust {
    pub keys: Vec<PublicKey>,
    pub roots: Vec<TrustAnchor>,
    pub identity: Option<StringMatch>,
    pub issuer: Option<StringMatch>,
}

impl SealTrust {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.roots.is_empty()
    }
}

fn reject(reason: impl Into<String>) -> SealVerdict {
    SealVerdict::Rejected { reason: reason.into() }
}

/// [`verify_seal`] for a bundle's metadata: the seal files, `index.json`, the content
/// graph and the small blobs no manifest references.
pub fn verify_bundle_seal(meta: &crate::content::Metadata, trust: Option<&SealTrust>, now: i64) -> SealVerdict {
    let unlisted = meta.unlisted();
    verify_seal(&meta.seal, &meta.index_json, &meta.contents, &unlisted, trust, now).0
}

/// Checks a seal: its signature (key or certificate path at `now`), then that the index
/// describes exactly this bundle's `index.json` and blob set (manifests and every blob
/// they reference, with sizes). Layers are checked again as they stream.
pub fn verify_seal(
    seal: &BTreeMap<String, Vec<u8>>,
    index_json: &[u8],
    contents: &Contents,
    unlisted: &[Digest],
    trust: Option<&SealTrust>,
    now: i64,
) -> (SealVerdict, Option<SealIndex>) {
    let Some(trust) = trust.filter(|t| !t.is_empty()) else {
        return (if seal.contains_key(SEAL_INDEX) { SealVerdict::NotChecked } else { SealVerdict::Absent }, None);
    };
    let (Some(index_bytes), Some(sig_doc)) = (seal.get(SEAL_INDEX), seal.get(SEAL_SIG)) else {
        return (
            reject("the bundle is not sealed (no sealift-index.json and signature), but bundle trust was given"),
            None,
        );
    };
    // 1. The signature, with a configured key or with a certificate chaining to a root.
    let verdict: SealVerdict = match verify_signature("seal", SEAL_SIG, sig_doc, index_bytes, trust, now) {
        Ok(signed) => signed.into(),
        Err(reason) => return (reject(reason), None),
    };
    // 2. The index must describe this very bundle.
    let index: SealIndex = match serde_json::from_slice(index_bytes) {
        Ok(i) => i,
        Err(e) => return (reject(format!("{SEAL_INDEX} is malformed: {e}")), None),
    };
    if index.schema != SEAL_SCHEMA {
        return (reject(format!("{SEAL_INDEX} has unknown schema {:?}", index.schema)), None);
    }
    let actual_index = BlobRef { digest: Digest::of(index_json), size: index_json.len() as u64 };
    if index.index != actual_index {
        return (
            reject(format!(
                "index.json is {} but the seal names {}: index.json was changed after sealing",
                actual_index.digest, index.index.digest
            )),
            None,
        );
    }
    let sealed: BTreeMap<&Digest, u64> = index.blobs.iter().map(|b| (&b.digest, b.size)).collect();
    if index.delta != contents.delta {
        return (reject("the bundle's delta description differs from the one in the seal"), None);
    }
    let mut expected: BTreeMap<&Digest, u64> =
        contents.blobs.iter().filter(|(d, _)| !contents.delta.assumes(d)).map(|(d, b)| (d, b.size)).collect();
    for (d, m) in &contents.manifests {
        expected.insert(d, m.bytes.len() as u64);
    }
    for (d, size) in &expected {
        match sealed.get(d) {
            None => return (reject(format!("blob {d} is in the bundle but not in the seal")), None),
            Some(s) if s != size => {
                return (reject(format!("blob {d} is {size} bytes in the bundle but {s} in the seal")), None)
            }
            _ => {}
        }
    }
    if let Some(d) = unlisted.first() {
        return (reject(format!("blob {d} is in the bundle but not in the seal")), None);
    }
    if let Some(d) = sealed.keys().find(|d| !expected.contains_key(*d)) {
        return (reject(format!("blob {d} is in the seal but missing from the bundle")), None);
    }
    (verdict, Some(index))
}

/// Checks a detached signature document in the seal's format (`what` names the signed thing and `sig_name` the signature file in
/// reasons) over the exact bytes `signed`: with one of `trust`'s keys, or with the
/// certificate it carries chaining to one of its roots under its identity constraints.
/// The seal and a volume set's part list ([`crate::bundle::volumes`]) both use it.
/// Returns who signed it, or the one-line reason it is rejected.
pub fn verify_signature(
    what: &str,
    sig_name: &str,
    sig_doc: &[u8],
    signed: &[u8],
    trust: &SealTrust,
    now: i64,
) -> Result<SignedBy, String> {
    let untrusted: BTreeMap<String, String> =
        serde_json::from_slice(sig_doc).map_err(|e| format!("{sig_name} is not a JSON object of strings: {e}"))?;
    let sig = untrusted
        .get(ANN_SIGNATURE)
        .map(|s| crypto::decode_base64_signature(s))
        .ok_or_else(|| format!("{sig_name} has no {ANN_SIGNATURE}"))?
        .map_err(|e| format!("seal signature: {e}"))?;
    for key in &trust.keys {
        if let Ok(alg) = crypto::verify(key, signed, &sig) {
            return Ok(SignedBy {
                signer: format!("key sha256:{}", key.fingerprint()),
                algorithm: alg.to_string(),
                chain: Vec::new(),
            });
        }
    }
    if !trust.roots.is_empty() {
        return verify_with_certificate(what, &untrusted, signed, &sig, trust, now);
    }
    Err(format!("the signature of {sig_name} does not verify with any --bundle-key"))
}

/// The certificate path and identity of a detached signature document in the seal's
/// format (a seal, a signed site inventory, a part list), checked by the very function that checks
/// image signature certificates ([`crate::verify`]): the same path validation, EKU rule,
/// SAN and issuer semantics. An identity constraint is required, as `verify` requires one.
/// `what` names the signed thing in the reasons (`seal`, `inventory site.json`).
pub fn verify_with_certificate(
    what: &str,
    untrusted: &BTreeMap<String, String>,
    payload: &[u8],
    sig: &[u8],
    trust: &SealTrust,
    now: i64,
) -> Result<SignedBy, String> {
    let pem = untrusted
        .get(ANN_CERTIFICATE)
        .ok_or_else(|| format!("the {what} has no certificate and no --bundle-key verifies it"))?;
    let leaf = crypto::load_certificates(pem.as_bytes(), &format!("{what} certificate"))
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| format!("the {what}'s certificate annotation holds no certificate"))?;
    let key = PublicKey(leaf.public_key().map_err(|e| format!("{what} certificate key: {e}"))?);
    let alg = crypto::verify(&key, payload, sig).map_err(|e| format!("{what} signature: {e}"))?;
    let mut policy = TrustPolicy::new(chrono::DateTime::from_timestamp(now, 0).unwrap_or_default());
    policy.roots = trust.roots.clone();
    policy.identities =
        trust.identity.clone().map(|san| IdentityMatcher { san, issuer: trust.issuer.clone() }).into_iter().collect();
    let mut report =
        SignatureReport { verdict: Verdict::Verified, algorithm: Some(alg), ..SignatureReport::new(payload) };
    crate::verify::check_certificate(&policy, &leaf, untrusted.get(ANN_CHAIN).map(String::as_str), now, &mut report)
        .map_err(|e| format!("{what} certificate: {e}"))?;
    let signer = match &report.signer {
        Some(Signer::Certificate { sans, .. }) => sans.iter().map(San::value).collect::<Vec<_>>().join(", "),
        _ => String::new(),
    };
    Ok(SignedBy { signer, algorithm: alg.to_string(), chain: report.chain })
}

/// Who signed a detached signature document that verified: what [`verify_signature`] and
/// [`verify_with_certificate`] return, so a caller has no "other verdict" to handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBy {
    pub signer: String,
    pub algorithm: String,
    pub chain: Vec<CertSummary>,
}

impl From<SignedBy> for SealVerdict {
    fn from(s: SignedBy) -> Self {
        SealVerdict::Verified { signer: s.signer, algorithm: s.algorithm, chain: s.chain }
    }
}
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
