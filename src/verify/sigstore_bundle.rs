//! Sigstore bundle v0.3 (cosign v3's default `cosign sign` output, stored as an OCI
//! referrer): a DSSE envelope of an in-toto statement signed by a Fulcio (or BYO-PKI)
//! leaf, plus the Rekor entry.
//!
//! Checked, in the same order as simple signing: the DSSE signature over the PAE bytes
//! with the leaf key; the statement (in-toto v1, predicate `https://sigstore.dev/cosign/sign/v1`)
//! names the expected digest; the Rekor `dsse` entry's SET (when Rekor keys are
//! configured; then required) and its payload hash, signature and verifier certificate;
//! the certificate path at the trusted time (integratedTime) with intermediates from the
//! policy (bundles carry the leaf only); EKU; identity.
//!
//! Not checked (reported as such, and a SET is required instead): the Merkle inclusion
//! proof and its signed checkpoint, the `envelopeHash` field, RFC 3161 timestamps. Bundles
//! signed with a bare public key (`publicKey` hint) are reported "present, not verified".

use base64::Engine as _;
use openssl::x509::X509;
use serde::Deserialize;

use super::dsse::{pae, Envelope, Statement};

use super::error::RekorRejection;
use super::{
    check_certificate, crypto, rekor, PublicKey, Rejection, RekorEntry, RekorStatus, SignatureReport, TimeSource,
    TrustPolicy, TrustedTime, Verdict,
};
use crate::oci::Digest;

/// The predicate type cosign v3 uses for image signatures.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    media_type: String,
    verification_material: Material,
    dsse_envelope: Option<Envelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Material {
    certificate: Option<RawBytes>,
    x509_certificate_chain: Option<Chain>,
    #[serde(default)]
    tlog_entries: Vec<TlogEntry>,
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
    integrated_time: String,
    inclusion_promise: Option<Promise>,
    canonicalized_body: String,
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

/// Verifies a Sigstore bundle (its JSON bytes) as a signature of `expected`.
pub fn verify_sigstore_bundle(policy: &TrustPolicy, bundle_json: &[u8], expected: &Digest) -> SignatureReport {
    let mut report = SignatureReport::new(bundle_json);
    report.verdict = match check(policy, bundle_json, expected, &mut report) {
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

fn check(policy: &TrustPolicy, bytes: &[u8], expected: &Digest, report: &mut SignatureReport) -> Result<(), Outcome> {
    let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| Rejection::SigstoreBundle(e.to_string()))?;
    if !bundle.media_type.starts_with(crate::oci::media::SIGSTORE_BUNDLE_PREFIX) {
        return Err(Rejection::SigstoreBundle(format!("media type {:?}", bundle.media_type)).into());
    }
    let m = &bundle.verification_material;
    let leaf_der = match (&m.certificate, &m.x509_certificate_chain) {
        (Some(c), _) => b64(&c.raw_bytes, "certificate")?,
        (None, Some(chain)) if !chain.certificates.is_empty() => b64(&chain.certificates[0].raw_bytes, "certificate")?,
        _ => return Err(Outcome::Unsupported("bundle signed with a public key hint, not a certificate".into())),
    };
    let Some(env) = &bundle.dsse_envelope else {
        return Err(Outcome::Unsupported("bundle holds a message signature, not a DSSE envelope".into()));
    };
    if policy.roots.is_empty() && policy.keys.is_empty() {
        return Err(Rejection::NoTrustConfigured.into());
    }
    let leaf = X509::from_der(&leaf_der).map_err(|e| Rejection::MalformedCertificate(e.to_string()))?;
    // 1. DSSE signature over PAE(type, payload).
    let payload = b64(&env.payload, "DSSE payload")?;
    let [sig] = env.signatures.as_slice() else {
        return Err(Rejection::SigstoreBundle(format!("{} DSSE signatures, expected 1", env.signatures.len())).into());
    };
    let signature = crypto::decode_base64_signature(&sig.sig)?;
    let key = PublicKey(leaf.public_key().map_err(|e| Rejection::MalformedCertificate(e.to_string()))?);
    let alg = crypto::verify(&key, &pae(&env.payload_type, &payload), &signature)?;
    // Signed by the leaf's key, but with keys only and no roots nothing vouches for it.
    if policy.roots.is_empty() {
        return Err(Rejection::NoCertificateTrust.into());
    }
    report.algorithm = Some(alg);
    if let Some(allowed) = &policy.allowed_algorithms {
        if !allowed.contains(&alg) {
            return Err(Rejection::AlgorithmNotAllowed { alg }.into());
        }
    }
    // 2–3. The statement and its subject.
    if env.payload_type != "application/vnd.in-toto+json" {
        return Err(Rejection::PayloadParse(format!("DSSE payload type {:?}", env.payload_type)).into());
    }
    let st: Statement = serde_json::from_slice(&payload).map_err(|e| Rejection::PayloadParse(e.to_string()))?;
    if !st.kind.starts_with("https://in-toto.io/Statement/") || st.predicate_type != COSIGN_SIGN_PREDICATE {
        return Err(
            Rejection::PayloadParse(format!("statement {:?} with predicate {:?}", st.kind, st.predicate_type)).into()
        );
    }
    let digests: Vec<&String> = st.subject.iter().filter_map(|s| s.digest.get("sha256")).collect();
    if !digests.iter().any(|h| h.as_str() == expected.hex()) {
        let found = digests.first().and_then(|h| Digest::from_hex(h).ok()).unwrap_or_else(|| Digest::of(b""));
        return Err(Rejection::DigestMismatch { expected: expected.clone(), found }.into());
    }
    // 4. Rekor.
    if policy.rekor_keys.is_empty() {
        if !m.tlog_entries.is_empty() {
            report.rekor = RekorStatus::NotChecked;
        }
        report.trusted_time = Some(match policy.at {
            Some(at) => TrustedTime { unix: at.timestamp(), source: TimeSource::At },
            None => TrustedTime { unix: policy.now.timestamp(), source: TimeSource::Now },
        });
    } else {
        let entry = m.tlog_entries.first().ok_or(Rejection::RekorBundleMissing)?;
        let verified = check_tlog(policy, entry, &payload, &signature, &leaf).map_err(Rejection::RekorSet)?;
        report.trusted_time = Some(TrustedTime { unix: verified.integrated_time, source: TimeSource::Rekor });
        report.rekor = RekorStatus::Verified(verified);
    }
    // 5–6. Certificate path (intermediates from the policy), EKU, identity.
    let at = report.trusted_time.expect("set above").unix;
    check_certificate(policy, &leaf, None, at, report)?;
    Ok(())
}

fn check_tlog(
    policy: &TrustPolicy,
    e: &TlogEntry,
    payload: &[u8],
    signature: &[u8],
    leaf: &X509,
) -> Result<RekorEntry, RekorRejection> {
    let malformed = |what: &str| RekorRejection::Malformed(what.to_owned());
    let integrated_time: i64 = e.integrated_time.parse().map_err(|_| malformed("integratedTime"))?;
    let log_index: i64 = e.log_index.parse().map_err(|_| malformed("logIndex"))?;
    let key_id =
        base64::engine::general_purpose::STANDARD.decode(&e.log_id.key_id).map_err(|_| malformed("logId.keyId"))?;
    let log_id = hex::encode(key_id);
    let promise = e.inclusion_promise.as_ref().ok_or_else(|| malformed("no inclusionPromise (SET)"))?;
    rekor::verify_set(
        &e.canonicalized_body,
        integrated_time,
        &log_id,
        log_index,
        &promise.signed_entry_timestamp,
        &policy.rekor_keys,
    )?;
    if (e.kind_version.kind.as_str(), e.kind_version.version.as_str()) != ("dsse", "0.0.1") {
        return Err(RekorRejection::UnsupportedKind {
            kind: e.kind_version.kind.clone(),
            version: e.kind_version.version.clone(),
        });
    }
    let body = base64::engine::general_purpose::STANDARD
        .decode(&e.canonicalized_body)
        .map_err(|_| RekorRejection::Body("canonicalizedBody is not base64".into()))?;
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|err| RekorRejection::Body(err.to_string()))?;
    let spec = &v["spec"];
    let expected = Digest::of(payload).hex().to_owned();
    let found = spec["payloadHash"]["value"].as_str().unwrap_or_default();
    if spec["payloadHash"]["algorithm"] != "sha256" || found != expected {
        return Err(RekorRejection::HashMismatch { expected, found: found.to_owned() });
    }
    let sigs = spec["signatures"].as_array().ok_or_else(|| RekorRejection::Body("no signatures".into()))?;
    let decode =
        |s: &serde_json::Value| base64::engine::general_purpose::STANDARD.decode(s.as_str().unwrap_or("!")).ok();
    let logged = sigs.iter().find(|s| decode(&s["signature"]).as_deref() == Some(signature));
    let logged = logged.ok_or(RekorRejection::SignatureMismatch)?;
    let verifier = decode(&logged["verifier"]).and_then(|pem| X509::from_pem(&pem).ok());
    if verifier.and_then(|c| c.to_der().ok()) != leaf.to_der().ok() {
        return Err(RekorRejection::KeyMismatch);
    }
    Ok(RekorEntry { integrated_time, log_index, log_id })
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
    fn b1_negatives() {
        let other = Digest::of(b"x");
        assert_eq!(
            verify_sigstore_bundle(&policy(), B1, &other).verdict,
            Verdict::Rejected(Rejection::DigestMismatch { expected: other, found: B1_DIGEST.parse().unwrap() })
        );
        let mut p = policy();
        p.rekor_keys.clear();
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
