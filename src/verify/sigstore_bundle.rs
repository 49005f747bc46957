//! Sigstore bundles v0.1–v0.3 (cosign v3's default `cosign sign` output, stored as an OCI
//! referrer; `cosign verify-blob --bundle`): a DSSE envelope or a message signature, by a
//! Fulcio (or BYO-PKI) leaf or a configured key, plus one Rekor v1 or v2 entry and
//! optional RFC 3161 timestamps.
//!
//! Checked, in the same order as simple signing: the exact media type; the signature (PAE
//! bytes for DSSE, the artifact for a message signature, whose `messageDigest` must be the
//! artifact's); the statement names the expected digest (images: predicate
//! `https://sigstore.dev/cosign/sign/v1`); RFC 3161 timestamps ([`super::timestamp`]); the
//! Rekor entry (when Rekor keys are configured; then required): its SET (v1) with the log
//! key inside `validFor`, its inclusion proof and checkpoint ([`super::tlog`]; required from
//! v0.2 and for Rekor v2), its canonicalized body matched against what was verified; the
//! certificate path at the trusted time (SET `integratedTime`, else a timestamp) and at
//! every timestamp, with intermediates from the policy; EKU; identity; an embedded SCT
//! when CT logs are configured ([`super::sct`]). docs/signing.md lists the details.
//!
//! Not checked: the DSSE `envelopeHash` of Rekor v1 `dsse` bodies beyond the payload hash,
//! signature and verifier.

use base64::Engine as _;
use openssl::x509::X509;
use serde::Deserialize;

use super::dsse::{pae, Envelope, Statement};

use super::error::RekorRejection;
use super::{
    check_certificate, crypto, rekor, sct, timestamp, tlog, CheckStatus, Checks, PublicKey, Rejection, RekorEntry,
    RekorStatus, SignatureReport, TimeSource, TrustPolicy, TrustedTime, Verdict,
};
use crate::oci::Digest;

/// The predicate type cosign v3 uses for image signatures.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The bundle versions sealift parses (`application/vnd.dev.sigstore.bundle+json;version=0.N`
/// or, from v0.3, `application/vnd.dev.sigstore.bundle.v0.N+json`): anything else is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    V01,
    V02,
    V03,
}

impl BundleVersion {
    /// Parses a bundle media type exactly (the protobuf-specs spellings, no prefix match).
    pub fn from_media_type(mt: &str) -> Option<Self> {
        match mt {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(Self::V01),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(Self::V02),
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => Some(Self::V03),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    media_type: String,
    verification_material: Material,
    dsse_envelope: Option<Envelope>,
    message_signature: Option<MessageSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageSignature {
    message_digest: Option<MessageDigestField>,
    signature: String,
}

#[derive(Deserialize)]
struct MessageDigestField {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Material {
    certificate: Option<RawBytes>,
    x509_certificate_chain: Option<Chain>,
    public_key: Option<serde_json::Value>,
    #[serde(default)]
    tlog_entries: Vec<TlogEntry>,
    timestamp_verification_data: Option<TimestampData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimestampData {
    #[serde(default)]
    rfc3161_timestamps: Vec<SignedTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedTimestamp {
    signed_timestamp: String,
}

#[derive(Deserialize)]
struct Chain {
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlogEntry {
    log_index: String,
    log_id: LogId,
    kind_version: KindVersion,
    #[serde(default)]
    integrated_time: Option<String>,
    inclusion_promise: Option<Promise>,
    inclusion_proof: Option<Proof>,
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Proof {
    log_index: String,
    root_hash: String,
    tree_size: String,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<Checkpoint>,
}

#[derive(Deserialize)]
struct Checkpoint {
    envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogId {
    key_id: String,
}

#[derive(Deserialize)]
struct KindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Promise {
    signed_entry_timestamp: String,
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, Rejection> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| Rejection::SigstoreBundle(format!("{what} is not base64")))
}

/// What the bundle must be a signature of.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// An image manifest (cosign v3 `cosign sign`): a DSSE in-toto statement with
    /// cosign's predicate whose subject is this digest.
    Image(&'a Digest),
    /// A blob (`cosign verify-blob --bundle`, the conformance suite): a message signature
    /// over these bytes, or a DSSE in-toto statement one of whose subjects is their SHA-256.
    Artifact(&'a [u8]),
}

/// Verifies a Sigstore bundle (its JSON bytes) as a signature of the image `expected`.
pub fn verify_sigstore_bundle(policy: &TrustPolicy, bundle_json: &[u8], expected: &Digest) -> SignatureReport {
    verify_sigstore(policy, bundle_json, Subject::Image(expected))
}

/// Verifies a Sigstore bundle (its JSON bytes) as a signature of `subject`.
pub fn verify_sigstore(policy: &TrustPolicy, bundle_json: &[u8], subject: Subject<'_>) -> SignatureReport {
    let mut report = SignatureReport::new(bundle_json);
    report.verdict = match check(policy, bundle_json, subject, &mut report) {
        Ok(()) => Verdict::Verified,
        Err(Outcome::Rejected(r)) => Verdict::Rejected(r),
        Err(Outcome::Unsupported(reason)) => Verdict::PresentNotVerified { reason },
    };
    report
}

enum Outcome {
    Rejected(Rejection),
    Unsupported(String),
}

impl From<Rejection> for Outcome {
    fn from(r: Rejection) -> Self {
        Outcome::Rejected(r)
    }
}

/// The signed content, decoded from the bundle (not yet verified).
enum Content {
    /// DSSE: the payload bytes, and the signature over PAE(type, payload).
    Dsse { payload_type: String, payload: Vec<u8>, signature: Vec<u8> },
    /// A message signature over the artifact bytes.
    Message { signature: Vec<u8> },
}

fn check(
    policy: &TrustPolicy,
    bytes: &[u8],
    subject: Subject<'_>,
    report: &mut SignatureReport,
) -> Result<(), Outcome> {
    let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| Rejection::SigstoreBundle(e.to_string()))?;
    let version = BundleVersion::from_media_type(&bundle.media_type)
        .ok_or_else(|| Rejection::SigstoreBundle(format!("unknown media type {:?}", bundle.media_type)))?;
    let m = &bundle.verification_material;
    let leaf_der = leaf_of(m)?;
    if policy.roots.is_empty() && policy.keys.is_empty() {
        return Err(Rejection::NoTrustConfigured.into());
    }
    let content = match (&bundle.dsse_envelope, &bundle.message_signature, subject) {
        (Some(env), None, _) => {
            let [sig] = env.signatures.as_slice() else {
                return Err(
                    Rejection::SigstoreBundle(format!("{} DSSE signatures, expected 1", env.signatures.len())).into()
                );
            };
            Content::Dsse {
                payload_type: env.payload_type.clone(),
                payload: b64(&env.payload, "DSSE payload")?,
                signature: crypto::decode_base64_signature(&sig.sig)?,
            }
        }
        (None, Some(ms), Subject::Artifact(artifact)) => {
            if let Some(d) = &ms.message_digest {
                let digest = b64(&d.digest, "messageDigest")?;
                if d.algorithm != "SHA2_256" || hex::encode(&digest) != Digest::of(artifact).hex() {
                    return Err(Rejection::SigstoreBundle(format!(
                        "messageDigest {}:{} is not the artifact's SHA-256",
                        d.algorithm,
                        hex::encode(&digest)
                    ))
                    .into());
                }
            }
            Content::Message { signature: crypto::decode_base64_signature(&ms.signature)? }
        }
        (None, Some(_), Subject::Image(_)) => {
            return Err(Outcome::Unsupported("bundle holds a message signature, not a DSSE envelope".into()))
        }
        _ => {
            return Err(Rejection::SigstoreBundle(
                "bundle must hold exactly one of dsseEnvelope, messageSignature".into(),
            )
            .into())
        }
    };
    // 1. The signature, with the leaf's key or a configured key.
    report.checks.signature = CheckStatus::Failed;
    let leaf = match &leaf_der {
        Some(der) => Some(X509::from_der(der).map_err(|e| Rejection::MalformedCertificate(e.to_string()))?),
        None => None,
    };
    let (signed, signature): (Vec<u8>, &[u8]) = match (&content, subject) {
        (Content::Dsse { payload_type, payload, signature }, _) => (pae(payload_type, payload), signature),
        (Content::Message { signature }, Subject::Artifact(a)) => (a.to_vec(), signature),
        (Content::Message { .. }, Subject::Image(_)) => {
            return Err(Outcome::Unsupported("bundle holds a message signature, not a DSSE envelope".into()))
        }
    };
    let (alg, signer) = match &leaf {
        Some(leaf) => {
            let key = PublicKey(leaf.public_key().map_err(|e| Rejection::MalformedCertificate(e.to_string()))?);
            let alg = crypto::verify(&key, &signed, signature)?;
            // Signed by the leaf's key, but with keys only and no roots nothing vouches for it.
            if policy.roots.is_empty() {
                report.checks.signature = CheckStatus::Passed;
                report.checks.certificate_chain = CheckStatus::NotConfigured;
                return Err(Rejection::NoCertificateTrust.into());
            }
            (alg, None)
        }
        None => {
            if policy.keys.is_empty() {
                return Err(Rejection::NoCertificate.into());
            }
            let mut found = None;
            for k in &policy.keys {
                if let Ok(alg) = crypto::verify(k, &signed, signature) {
                    found = Some((alg, k));
                    break;
                }
            }
            let (alg, k) = found.ok_or(Rejection::BadSignature)?;
            report.signer = Some(super::Signer::Key { fingerprint: k.fingerprint() });
            (alg, Some(k))
        }
    };
    report.algorithm = Some(alg);
    if let Some(allowed) = &policy.allowed_algorithms {
        if !allowed.contains(&alg) {
            return Err(Rejection::AlgorithmNotAllowed { alg }.into());
        }
    }
    report.checks.signature = CheckStatus::Passed;
    // 2–3. The statement and its subject (a message signature's messageDigest was
    // checked above, and the signature is over the artifact itself).
    report.checks.subject = CheckStatus::Failed;
    if let Content::Dsse { payload_type, payload, .. } = &content {
        check_statement(payload_type, payload, subject)?;
    }
    report.checks.subject = CheckStatus::Passed;
    // 4. Rekor.
    let material = match (&leaf, signer) {
        (Some(c), _) => rekor::SignerMaterial::Certificate(c),
        (None, Some(k)) => rekor::SignerMaterial::Key(k),
        (None, None) => return Err(Rejection::NoCertificate.into()),
    };
    // RFC 3161 timestamps over the signature, when authorities are configured: each must
    // verify, and the certificate must be valid at each time too (sigstore-go checks the
    // leaf at every verified timestamp).
    let mut tsa_times = Vec::new();
    let stamps: Vec<&SignedTimestamp> =
        m.timestamp_verification_data.iter().flat_map(|d| &d.rfc3161_timestamps).collect();
    report.checks.timestamp = match (stamps.is_empty(), policy.timestamp_authorities.is_empty()) {
        (true, _) => CheckStatus::Absent,
        (false, true) => CheckStatus::NotConfigured,
        (false, false) => CheckStatus::Failed,
    };
    if !policy.timestamp_authorities.is_empty() {
        for t in stamps {
            let der = b64(&t.signed_timestamp, "signedTimestamp")?;
            let at = timestamp::verify_timestamp(&der, signature, &policy.timestamp_authorities)
                .map_err(Rejection::Timestamp)?;
            tsa_times.push(at);
        }
        if !tsa_times.is_empty() {
            report.checks.timestamp = CheckStatus::Passed;
        }
    }
    let fallback = match policy.at {
        Some(at) => TrustedTime { unix: at.timestamp(), source: TimeSource::At },
        None => TrustedTime { unix: policy.now.timestamp(), source: TimeSource::Now },
    };
    let tsa_time = tsa_times.first().map(|&unix| TrustedTime { unix, source: TimeSource::Timestamp });
    if policy.rekor_keys.is_empty() {
        report.checks.set_tlog(CheckStatus::Absent);
        if !m.tlog_entries.is_empty() {
            report.rekor = RekorStatus::NotChecked;
            report.checks.set_tlog(CheckStatus::NotConfigured);
        }
        report.trusted_time = Some(tsa_time.unwrap_or(fallback));
    } else {
        let [entry] = m.tlog_entries.as_slice() else {
            return Err(match m.tlog_entries.len() {
                0 => Rejection::RekorBundleMissing,
                n => Rejection::SigstoreBundle(format!("{n} tlog entries, expected 1")),
            }
            .into());
        };
        let (verified, has_set, key_fingerprint) =
            check_tlog(policy, version, entry, &content, subject, material, &mut report.checks)
                .map_err(Rejection::RekorSet)?;
        // Only a SET signs the integrated time; a Rekor v2 entry needs a verified timestamp.
        report.trusted_time = Some(match (has_set, tsa_time) {
            (true, _) => TrustedTime { unix: verified.integrated_time, source: TimeSource::Rekor },
            (false, Some(t)) => {
                // A Rekor v2 log key, too, is used only inside its validFor window.
                rekor::window_check(&policy.rekor_windows, &key_fingerprint, t.unix).map_err(|e| {
                    report.checks.checkpoint = CheckStatus::Failed;
                    Rejection::RekorSet(e)
                })?;
                t
            }
            (false, None) => {
                report.checks.timestamp = CheckStatus::Failed;
                return Err(Rejection::SigstoreBundle(
                    "the Rekor v2 entry has no SET and no verified RFC 3161 timestamp gives a trusted time".into(),
                )
                .into());
            }
        });
        report.rekor = RekorStatus::Verified(verified);
    }
    // 5–6. Certificate path (intermediates from the policy), EKU, identity.
    let at = report.trusted_time.expect("set above").unix;
    if let Some(leaf) = &leaf {
        for &t in &tsa_times {
            let mut at_stamp = report.clone();
            let checked = check_certificate(policy, leaf, None, t, &mut at_stamp);
            report.checks = at_stamp.checks;
            checked?;
        }
        check_certificate(policy, leaf, None, at, report)?;
        // 7. An embedded SCT from a configured CT log (sigstore-go, threshold 1).
        check_sct(policy, leaf, &mut report.checks)?;
    } else {
        report.checks.certificate_chain = CheckStatus::NotApplicable;
        report.checks.identity = CheckStatus::NotApplicable;
        report.checks.sct = CheckStatus::NotApplicable;
    }
    Ok(())
}

/// The leaf certificate (DER) of the verification material, or `None` for a public-key
/// hint; exactly one of the three forms, and an `x509CertificateChain` without a root.
fn leaf_of(m: &Material) -> Result<Option<Vec<u8>>, Rejection> {
    Ok(match (&m.certificate, &m.x509_certificate_chain, &m.public_key) {
        (Some(c), None, None) => Some(b64(&c.raw_bytes, "certificate")?),
        (None, Some(chain), None) => {
            // The chain must not include a root (protobuf-specs `X509CertificateChain`;
            // sigstore-python refuses it): a self-signed certificate in it is refused.
            for c in &chain.certificates {
                let der = b64(&c.raw_bytes, "certificate")?;
                let cert = X509::from_der(&der).map_err(|e| Rejection::MalformedCertificate(e.to_string()))?;
                let self_signed = cert.public_key().is_ok_and(|k| cert.verify(&k).unwrap_or(false));
                let _ = openssl::error::ErrorStack::get();
                if self_signed {
                    return Err(Rejection::SigstoreBundle(
                        "x509CertificateChain includes a self-signed (root) certificate".into(),
                    ));
                }
            }
            match chain.certificates.first() {
                Some(c) => Some(b64(&c.raw_bytes, "certificate")?),
                None => return Err(Rejection::SigstoreBundle("empty x509CertificateChain".into())),
            }
        }
        (None, None, Some(_)) => None,
        _ => {
            return Err(Rejection::SigstoreBundle(
                "verificationMaterial must hold exactly one of certificate, x509CertificateChain, publicKey".into(),
            ))
        }
    })
}

/// A Sigstore bundle as `attach signature --bundle` checks it before pushing it: decoded,
/// not verified. The caller verifies `signature` over `signed` and the statement.
#[derive(Debug)]
pub struct UntrustedBundleSignature {
    pub version: BundleVersion,
    /// The DSSE payload type and payload (the statement), as carried.
    pub payload_type: String,
    pub statement: Vec<u8>,
    /// PAE(payload type, statement): what the signature must cover.
    pub signed: Vec<u8>,
    pub signature: Vec<u8>,
    /// The leaf certificate (DER), or `None` when the bundle names a key by hint.
    pub leaf_der: Option<Vec<u8>>,
}

/// Decodes a bundle of an image signature (one DSSE signature) with the verifier's own
/// parser: the exact media type, one verification material form, base64 fields.
pub fn decode_image_bundle(bytes: &[u8]) -> Result<UntrustedBundleSignature, Rejection> {
    let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| Rejection::SigstoreBundle(e.to_string()))?;
    let version = BundleVersion::from_media_type(&bundle.media_type)
        .ok_or_else(|| Rejection::SigstoreBundle(format!("unknown media type {:?}", bundle.media_type)))?;
    let leaf_der = leaf_of(&bundle.verification_material)?;
    let Some(env) = &bundle.dsse_envelope else {
        return Err(Rejection::SigstoreBundle("no dsseEnvelope (an image signature is a DSSE statement)".into()));
    };
    let [sig] = env.signatures.as_slice() else {
        return Err(Rejection::SigstoreBundle(format!("{} DSSE signatures, expected 1", env.signatures.len())));
    };
    let statement = b64(&env.payload, "DSSE payload")?;
    Ok(UntrustedBundleSignature {
        version,
        signed: pae(&env.payload_type, &statement),
        payload_type: env.payload_type.clone(),
        statement,
        signature: crypto::decode_base64_signature(&sig.sig)?,
        leaf_der,
    })
}

/// The statement check the verifier makes for an image signature: in-toto payload type,
/// an in-toto statement with cosign's sign predicate, `image` among its sha256 subjects.
pub fn check_image_statement(payload_type: &str, statement: &[u8], image: &Digest) -> Result<(), Rejection> {
    check_statement(payload_type, statement, Subject::Image(image))
}

/// An embedded SCT in `leaf` from a configured CT log, unless none is configured (then the
/// check is skipped or not configured).
pub(crate) fn check_sct(policy: &TrustPolicy, leaf: &X509, checks: &mut Checks) -> Result<(), Rejection> {
    if policy.ct_logs.is_empty() {
        checks.sct = if policy.ignore_sct { CheckStatus::Skipped } else { CheckStatus::NotConfigured };
        return Ok(());
    }
    checks.sct = CheckStatus::Failed;
    let issuers: Vec<&X509> = policy.intermediates.iter().chain(policy.roots.iter().map(|r| &r.cert)).collect();
    sct::verify_embedded_scts(leaf, &issuers, &policy.ct_logs).map_err(Rejection::Sct)?;
    checks.sct = CheckStatus::Passed;
    Ok(())
}

fn check_statement(payload_type: &str, payload: &[u8], subject: Subject<'_>) -> Result<(), Rejection> {
    if payload_type != "application/vnd.in-toto+json" {
        return Err(Rejection::PayloadParse(format!("DSSE payload type {payload_type:?}")));
    }
    let st: Statement = serde_json::from_slice(payload).map_err(|e| Rejection::PayloadParse(e.to_string()))?;
    let cosign_sign = matches!(subject, Subject::Image(_));
    if !st.kind.starts_with("https://in-toto.io/Statement/")
        || (cosign_sign && st.predicate_type != COSIGN_SIGN_PREDICATE)
    {
        return Err(Rejection::PayloadParse(format!("statement {:?} with predicate {:?}", st.kind, st.predicate_type)));
    }
    let expected = match subject {
        Subject::Image(d) => d.clone(),
        Subject::Artifact(a) => Digest::of(a),
    };
    let digests: Vec<&String> = st.subject.iter().filter_map(|s| s.digest.get("sha256")).collect();
    if !digests.iter().any(|h| h.as_str() == expected.hex()) {
        let found = digests.first().and_then(|h| Digest::from_hex(h).ok()).unwrap_or_else(|| Digest::of(b""));
        return Err(Rejection::DigestMismatch { expected, found });
    }
    Ok(())
}

/// The entry's checks; `true` when a SET verified (then its integrated time is trusted),
/// and the log key's fingerprint.
fn check_tlog(
    policy: &TrustPolicy,
    version: BundleVersion,
    e: &TlogEntry,
    content: &Content,
    subject: Subject<'_>,
    signer: rekor::SignerMaterial<'_>,
    checks: &mut Checks,
) -> Result<(RekorEntry, bool, String), RekorRejection> {
    checks.set_tlog(CheckStatus::NotReached);
    checks.rekor_set = CheckStatus::Failed;
    let malformed = |what: &str| RekorRejection::Malformed(what.to_owned());
    let integrated_time: i64 =
        e.integrated_time.as_deref().unwrap_or("0").parse().map_err(|_| malformed("integratedTime"))?;
    let log_index: i64 = e.log_index.parse().map_err(|_| malformed("logIndex"))?;
    if log_index < 0 {
        return Err(malformed("negative logIndex"));
    }
    let key_id =
        base64::engine::general_purpose::STANDARD.decode(&e.log_id.key_id).map_err(|_| malformed("logId.keyId"))?;
    let log_id = hex::encode(&key_id);
    let kv = (e.kind_version.kind.as_str(), e.kind_version.version.as_str());
    let v2 = kv.1 == "0.0.2" && kv.0 != "intoto";
    let body = base64::engine::general_purpose::STANDARD
        .decode(&e.canonicalized_body)
        .map_err(|_| RekorRejection::Body("canonicalizedBody is not base64".into()))?;
    // v0.1 bundles carry a SET, v0.2 and later must carry an inclusion proof; Rekor v2
    // entries have no SET.
    if (version >= BundleVersion::V02 || v2) && e.inclusion_proof.is_none() {
        checks.rekor_set = CheckStatus::NotReached;
        checks.inclusion_proof = CheckStatus::Failed;
        return Err(malformed("no inclusionProof (required from bundle v0.2 and for Rekor v2)"));
    }
    let (signer_note, fingerprint) = if v2 {
        // Rekor v2 signs no entry timestamp: the checkpoint and a timestamp stand for it.
        checks.rekor_set = CheckStatus::NotApplicable;
        checks.checkpoint = CheckStatus::Failed;
        let (fp, origin) =
            policy.rekor_aliases.get(&log_id).ok_or_else(|| RekorRejection::UnknownLog { log_id: log_id.clone() })?;
        let key = policy
            .rekor_keys
            .iter()
            .find(|k| &k.fingerprint() == fp)
            .ok_or_else(|| RekorRejection::UnknownLog { log_id: log_id.clone() })?;
        checks.checkpoint = CheckStatus::NotReached;
        (tlog::NoteSigner::RekorV2 { key, origin, log_id: &key_id }, fp.clone())
    } else {
        let promise = e.inclusion_promise.as_ref().ok_or_else(|| malformed("no inclusionPromise (SET)"))?;
        rekor::verify_set(
            &e.canonicalized_body,
            integrated_time,
            &log_id,
            log_index,
            &promise.signed_entry_timestamp,
            &policy.rekor_keys,
            &policy.rekor_windows,
        )?;
        let key = rekor::log_key(&policy.rekor_keys, &policy.rekor_windows, &log_id, integrated_time)?;
        checks.rekor_set = CheckStatus::Passed;
        (tlog::NoteSigner::RekorV1(key), log_id.clone())
    };
    checks.inclusion_proof = CheckStatus::Absent;
    checks.checkpoint = CheckStatus::Absent;
    if let Some(p) = &e.inclusion_proof {
        checks.inclusion_proof = CheckStatus::Failed;
        checks.checkpoint = CheckStatus::NotReached;
        let num = |s: &str, what: &str| s.parse::<u64>().map_err(|_| malformed(what));
        let hash = |s: &str| -> Result<[u8; 32], RekorRejection> {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .ok()
                .and_then(|h| <[u8; 32]>::try_from(h).ok())
                .ok_or_else(|| malformed("inclusion proof hash"))
        };
        let proof = tlog::UntrustedInclusionProof {
            log_index: num(&p.log_index, "inclusionProof.logIndex")?,
            tree_size: num(&p.tree_size, "inclusionProof.treeSize")?,
            root_hash: hash(&p.root_hash)?.to_vec(),
            hashes: p.hashes.iter().map(|h| hash(h)).collect::<Result<_, _>>()?,
            checkpoint: p.checkpoint.as_ref().map(|c| c.envelope.as_str()),
        };
        tlog::verify_inclusion(&body, &proof, signer_note).inspect_err(|e| {
            if !matches!(e, RekorRejection::InclusionProof(_)) {
                checks.inclusion_proof = CheckStatus::Passed;
                checks.checkpoint = CheckStatus::Failed;
            }
        })?;
        checks.inclusion_proof = CheckStatus::Passed;
        checks.checkpoint = CheckStatus::Passed;
    }
    checks.tlog_body = CheckStatus::Failed;
    // The logged entry must be of what was verified.
    match (content, subject) {
        (Content::Message { signature }, Subject::Artifact(a)) if kv == ("hashedrekord", "0.0.1") => {
            rekor::check_body(&body, a, signature, signer)?;
        }
        (Content::Message { signature }, Subject::Artifact(a)) if kv == ("hashedrekord", "0.0.2") => {
            check_v2_body(&body, "hashedRekordV002", &Digest::of(a), signature, signer)?;
        }
        (Content::Dsse { payload, signature, .. }, _) if kv == ("dsse", "0.0.1") || kv == ("intoto", "0.0.2") => {
            check_dsse_body(&body, payload, signature, signer)?;
        }
        // Rekor v2 logs a DSSE envelope as a hashedrekord of its PAE bytes.
        (Content::Dsse { payload_type, payload, signature }, _) if kv == ("hashedrekord", "0.0.2") => {
            check_v2_body(&body, "hashedRekordV002", &Digest::of(&pae(payload_type, payload)), signature, signer)?;
        }
        (Content::Dsse { payload, signature, .. }, _) if kv == ("dsse", "0.0.2") => {
            check_v2_body(&body, "dsseV002", &Digest::of(payload), signature, signer)?;
        }
        _ => {
            return Err(RekorRejection::UnsupportedKind {
                kind: e.kind_version.kind.clone(),
                version: e.kind_version.version.clone(),
            })
        }
    }
    checks.tlog_body = CheckStatus::Passed;
    Ok((RekorEntry { integrated_time, log_index, log_id }, !v2, fingerprint))
}

/// A Rekor v2 `hashedrekord` 0.0.2 (`spec.hashedRekordV002`: `data`, `signature`) or
/// `dsse` 0.0.2 (`spec.dsseV002`: `payloadHash`, `signatures[]`) body: the digest, a
/// signature and its verifier (DER certificate or public key) must be the bundle's.
fn check_v2_body(
    body: &[u8],
    spec_key: &str,
    digest: &Digest,
    signature: &[u8],
    signer: rekor::SignerMaterial<'_>,
) -> Result<(), RekorRejection> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|err| RekorRejection::Body(err.to_string()))?;
    let spec = &v["spec"][spec_key];
    let decode =
        |s: &serde_json::Value| base64::engine::general_purpose::STANDARD.decode(s.as_str().unwrap_or("!")).ok();
    let (hash, sigs) = if spec_key == "dsseV002" {
        (&spec["payloadHash"], spec["signatures"].as_array().cloned().unwrap_or_default())
    } else {
        (&spec["data"], vec![spec["signature"].clone()])
    };
    let found = decode(&hash["digest"]).map(hex::encode).unwrap_or_default();
    if hash["algorithm"] != "SHA2_256" || found != digest.hex() {
        return Err(RekorRejection::HashMismatch { expected: digest.hex().to_owned(), found });
    }
    let logged = sigs.iter().find(|s| decode(&s["content"]).as_deref() == Some(signature));
    let logged = logged.ok_or(RekorRejection::SignatureMismatch)?;
    let verifier = &logged["verifier"];
    let same = match signer {
        rekor::SignerMaterial::Certificate(leaf) => {
            decode(&verifier["x509Certificate"]["rawBytes"]).is_some_and(|d| Some(d) == leaf.to_der().ok())
        }
        rekor::SignerMaterial::Key(k) => decode(&verifier["publicKey"]["rawBytes"]) == Some(k.spki_der()),
    };
    if !same {
        return Err(RekorRejection::KeyMismatch);
    }
    Ok(())
}

/// A `dsse` 0.0.1 or `intoto` 0.0.2 body: its payload hash, a signature and its
/// verifier (key or certificate) must be those of the bundle's envelope. intoto 0.0.2
/// logs the envelope with each signature base64-encoded once more.
fn check_dsse_body(
    body: &[u8],
    payload: &[u8],
    signature: &[u8],
    signer: rekor::SignerMaterial<'_>,
) -> Result<(), RekorRejection> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|err| RekorRejection::Body(err.to_string()))?;
    let decode =
        |s: &serde_json::Value| base64::engine::general_purpose::STANDARD.decode(s.as_str().unwrap_or("!")).ok();
    let (hash, sigs, sig_field, key_field, double) = match (v["kind"].as_str(), v["apiVersion"].as_str()) {
        (Some("dsse"), Some("0.0.1")) => {
            (&v["spec"]["payloadHash"], &v["spec"]["signatures"], "signature", "verifier", false)
        }
        (Some("intoto"), Some("0.0.2")) => (
            &v["spec"]["content"]["payloadHash"],
            &v["spec"]["content"]["envelope"]["signatures"],
            "sig",
            "publicKey",
            true,
        ),
        _ => return Err(RekorRejection::Body("body is not a dsse 0.0.1 or intoto 0.0.2 entry".into())),
    };
    let expected = Digest::of(payload).hex().to_owned();
    let found = hash["value"].as_str().unwrap_or_default();
    if hash["algorithm"] != "sha256" || found != expected {
        return Err(RekorRejection::HashMismatch { expected, found: found.to_owned() });
    }
    let sigs = sigs.as_array().ok_or_else(|| RekorRejection::Body("no signatures".into()))?;
    let logged_sig = |s: &serde_json::Value| {
        let once = decode(&s[sig_field])?;
        if double {
            base64::engine::general_purpose::STANDARD.decode(once).ok()
        } else {
            Some(once)
        }
    };
    let logged = sigs.iter().find(|s| logged_sig(s).as_deref() == Some(signature));
    let logged = logged.ok_or(RekorRejection::SignatureMismatch)?;
    let pem = decode(&logged[key_field]).unwrap_or_default();
    let same = match signer {
        rekor::SignerMaterial::Certificate(leaf) => {
            X509::from_pem(&pem).ok().and_then(|c| c.to_der().ok()) == leaf.to_der().ok()
        }
        rekor::SignerMaterial::Key(k) => {
            openssl::pkey::PKey::public_key_from_pem(&pem).ok().and_then(|p| p.public_key_to_der().ok())
                == Some(k.spki_der())
        }
    };
    let _ = openssl::error::ErrorStack::get();
    if !same {
        return Err(RekorRejection::KeyMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::parse_trusted_root;
    use crate::verify::{IdentityMatcher, StringMatch};
    use chrono::TimeZone;

    const B1: &[u8] = include_bytes!("../../tests/data/cosign-real/sigstore-rs/bundle-v03/bundle_v03.json");
    const B1_DIGEST: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
    const B1_SAN: &str =
        "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";

    fn policy() -> TrustPolicy {
        let tr =
            parse_trusted_root(include_bytes!("../../tests/data/cosign-real/sigstore-root-signing/trusted_root.json"))
                .unwrap();
        let mut p = tr.into_policy(chrono::Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap());
        p.identities = vec![IdentityMatcher {
            san: StringMatch::Exact(B1_SAN.into()),
            issuer: Some(StringMatch::Exact("https://token.actions.githubusercontent.com".into())),
        }];
        p
    }

    #[test]
    fn b1_verifies_at_integrated_time() {
        let r = verify_sigstore_bundle(&policy(), B1, &B1_DIGEST.parse().unwrap());
        assert_eq!(r.verdict, Verdict::Verified);
        assert_eq!(r.trusted_time, Some(TrustedTime { unix: 1775719409, source: TimeSource::Rekor }));
        assert_eq!(r.chain.len(), 3);
        assert_eq!(r.chain[0].not_before, 1775719409, "integratedTime == notBefore: inclusive bound");
    }

    #[test]
    fn media_types_are_parsed_exactly() {
        for (mt, v) in [
            ("application/vnd.dev.sigstore.bundle+json;version=0.1", Some(BundleVersion::V01)),
            ("application/vnd.dev.sigstore.bundle+json;version=0.2", Some(BundleVersion::V02)),
            ("application/vnd.dev.sigstore.bundle+json;version=0.3", Some(BundleVersion::V03)),
            ("application/vnd.dev.sigstore.bundle.v0.3+json", Some(BundleVersion::V03)),
            ("application/vnd.dev.sigstore.bundle+json;version=99.9", None),
            ("application/vnd.dev.sigstore.bundle+json;version=0.3x", None),
            ("application/vnd.dev.sigstore.bundle.v0.4+json", None),
            ("application/vnd.dev.sigstore.bundle", None),
        ] {
            assert_eq!(BundleVersion::from_media_type(mt), v, "{mt}");
        }
        let text = String::from_utf8(B1.to_vec()).unwrap().replacen("bundle.v0.3+json", "bundle.v9.9+json", 1);
        assert!(matches!(
            verify_sigstore_bundle(&policy(), text.as_bytes(), &B1_DIGEST.parse().unwrap()).verdict,
            Verdict::Rejected(Rejection::SigstoreBundle(m)) if m.contains("unknown media type")
        ));
    }

    #[test]
    fn rekor_key_outside_its_valid_for_window_is_refused() {
        let mut p = policy();
        let log_id = p.rekor_keys[0].fingerprint();
        assert!(p.rekor_windows.contains_key(&log_id), "trusted_root.json windows are loaded");
        p.rekor_windows.insert(log_id.clone(), (0, Some(1775719408)));
        assert_eq!(
            verify_sigstore_bundle(&p, B1, &B1_DIGEST.parse().unwrap()).verdict,
            Verdict::Rejected(Rejection::RekorSet(RekorRejection::LogKeyOutsideValidity {
                log_id: log_id.clone(),
                at: 1775719409
            }))
        );
        // Both bounds are inclusive.
        p.rekor_windows.insert(log_id, (1775719409, Some(1775719409)));
        assert_eq!(verify_sigstore_bundle(&p, B1, &B1_DIGEST.parse().unwrap()).verdict, Verdict::Verified);
    }

    #[test]
    fn b1_needs_a_valid_sct_unless_ignored() {
        let tr_bytes = include_bytes!("../../tests/data/cosign-real/sigstore-root-signing/trusted_root.json");
        let mut p = policy();
        assert!(!p.ct_logs.is_empty(), "trusted_root.json ctlogs are loaded");
        // Another CT log key under the same log ID: the SCT no longer verifies.
        let other = parse_trusted_root(tr_bytes).unwrap().rekor_keys[0].clone();
        for l in &mut p.ct_logs {
            l.key = other.clone();
        }
        assert_eq!(
            verify_sigstore_bundle(&p, B1, &B1_DIGEST.parse().unwrap()).verdict,
            Verdict::Rejected(Rejection::Sct(sct::SctRejection::NoValidSct))
        );
        // --insecure-ignore-sct clears the CT logs.
        p.ct_logs.clear();
        assert_eq!(verify_sigstore_bundle(&p, B1, &B1_DIGEST.parse().unwrap()).verdict, Verdict::Verified);
    }

    #[test]
    fn b1_negatives() {
        let other = Digest::of(b"x");
        assert_eq!(
            verify_sigstore_bundle(&policy(), B1, &other).verdict,
            Verdict::Rejected(Rejection::DigestMismatch { expected: other, found: B1_DIGEST.parse().unwrap() })
        );
        // Without Rekor keys, B1's RFC 3161 timestamp (production TSA) is the trusted time;
        // without timestamp authorities either, "now" is, and the 10-minute leaf has expired.
        let mut p = policy();
        p.rekor_keys.clear();
        let r = verify_sigstore_bundle(&p, B1, &B1_DIGEST.parse().unwrap());
        assert_eq!(r.verdict, Verdict::Verified);
        assert_eq!(r.trusted_time.map(|t| t.source), Some(TimeSource::Timestamp));
        p.timestamp_authorities.clear();
        assert!(matches!(
            verify_sigstore_bundle(&p, B1, &B1_DIGEST.parse().unwrap()).verdict,
            Verdict::Rejected(Rejection::Expired { .. })
        ));
        let mut p = TrustPolicy::new(policy().now);
        let cosign_pub = include_bytes!("../../tests/data/cosign-real/containers-image/keys/cosign.pub");
        p.keys = vec![crypto::load_public_key(cosign_pub, "cosign.pub").unwrap()];
        assert_eq!(
            verify_sigstore_bundle(&p, B1, &B1_DIGEST.parse().unwrap()).verdict,
            Verdict::Rejected(Rejection::NoCertificateTrust),
            "keys only: the bundle's certificate is not trusted, its signature is fine"
        );
        let mut p = policy();
        p.identities[0].issuer = Some(StringMatch::Exact("https://accounts.google.com".into()));
        assert!(matches!(
            verify_sigstore_bundle(&p, B1, &B1_DIGEST.parse().unwrap()).verdict,
            Verdict::Rejected(Rejection::IssuerMismatch { .. })
        ));
        // A flipped byte inside the DSSE payload (base64 text) breaks the signature.
        let text = String::from_utf8(B1.to_vec()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let payload = v["dsseEnvelope"]["payload"].as_str().unwrap();
        let mut raw = base64::engine::general_purpose::STANDARD.decode(payload).unwrap();
        raw[10] ^= 1;
        let tampered = text.replace(payload, &base64::engine::general_purpose::STANDARD.encode(raw));
        assert_eq!(
            verify_sigstore_bundle(&policy(), tampered.as_bytes(), &B1_DIGEST.parse().unwrap()).verdict,
            Verdict::Rejected(Rejection::BadSignature)
        );
    }
}
