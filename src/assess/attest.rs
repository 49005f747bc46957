//! Verifying one attestation (a DSSE envelope of an in-toto statement) under a rule's
//! trust: the envelope signature over PAE(payloadType, payload) with a configured key or
//! the attached certificate (path, EKU and identity as for signatures), then the statement:
//! in-toto type, `subject[].digest.sha256` == the image digest, and `predicateType`
//! agreeing with the layer's annotation.
//!
//! Rekor entries of attestations are not checked: the trusted time is the rule's `at`, else
//! now (so a short-lived Fulcio certificate on an attestation needs `at`).

use base64::Engine as _;
use openssl::x509::X509;

use super::{AttestationAssessment, FoundAttestation};
use crate::oci::Digest;
use crate::verify::dsse::{pae, Envelope, Statement};
use crate::verify::{crypto, PublicKey, Rejection, SignatureReport, Signer, TrustPolicy, Verdict};

/// Verifies `att` as an attestation of `digest`.
pub fn assess_attestation(policy: &TrustPolicy, att: &FoundAttestation, digest: &Digest) -> AttestationAssessment {
    let mut out = AttestationAssessment {
        holder: att.holder.clone(),
        predicate_type: att.predicate_type.clone(),
        verified: false,
        reason: None,
        signer: None,
    };
    match check(policy, att, digest, &mut out) {
        Ok(()) => out.verified = true,
        Err(reason) => out.reason = Some(reason),
    }
    out
}

fn signer_text(s: &Signer) -> String {
    match s {
        Signer::Key { fingerprint } => format!("key sha256:{fingerprint}"),
        Signer::Certificate { sans, issuer } => {
            let ids: Vec<String> = sans.iter().map(crate::verify::San::value).collect();
            match issuer {
                Some(i) => format!("{} (issuer {i})", ids.join(", ")),
                None => ids.join(", "),
            }
        }
    }
}

fn check(
    policy: &TrustPolicy,
    att: &FoundAttestation,
    digest: &Digest,
    out: &mut AttestationAssessment,
) -> Result<(), String> {
    if policy.keys.is_empty() && policy.roots.is_empty() {
        return Err(Rejection::NoTrustConfigured.to_string());
    }
    let env: Envelope = serde_json::from_slice(&att.envelope).map_err(|e| format!("not a DSSE envelope: {e}"))?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&env.payload)
        .map_err(|_| "DSSE payload is not base64".to_owned())?;
    let signed = pae(&env.payload_type, &payload);
    let sigs: Vec<Vec<u8>> = env
        .signatures
        .iter()
        .map(|s| crypto::decode_base64_signature(&s.sig))
        .collect::<Result<_, _>>()
        .map_err(|r| r.to_string())?;
    // 1. The envelope signature: a configured key, else the certificate under the roots.
    let mut alg = None;
    'keys: for key in &policy.keys {
        for sig in &sigs {
            if let Ok(a) = crypto::verify(key, &signed, sig) {
                alg = Some(a);
                out.signer = Some(signer_text(&Signer::Key { fingerprint: key.fingerprint() }));
                break 'keys;
            }
        }
    }
    if alg.is_none() && !policy.roots.is_empty() {
        if let Some(pem) = &att.certificate_pem {
            let cert = X509::from_pem(pem.as_bytes()).map_err(|e| format!("certificate cannot be parsed: {e}"))?;
            let key = PublicKey(cert.public_key().map_err(|e| format!("certificate key: {e}"))?);
            let a = sigs
                .iter()
                .find_map(|s| crypto::verify(&key, &signed, s).ok())
                .ok_or_else(|| Rejection::BadSignature.to_string())?;
            let at = policy.at.unwrap_or(policy.now).timestamp();
            let mut report =
                SignatureReport { verdict: Verdict::Verified, algorithm: Some(a), ..SignatureReport::new(&payload) };
            let result = crate::verify::check_certificate(policy, &cert, att.chain_pem.as_deref(), at, &mut report);
            if let Some(s) = &report.signer {
                out.signer = Some(signer_text(s));
            }
            result.map_err(|r| r.to_string())?;
            alg = Some(a);
        }
    }
    if alg.is_none() && policy.roots.is_empty() {
        // Signed with a certificate that verifies, but only keys are trusted: say that,
        // rather than "bad signature" (the same rule as for image signatures).
        if let Some(pem) = &att.certificate_pem {
            let key = X509::from_pem(pem.as_bytes()).ok().and_then(|c| c.public_key().ok()).map(PublicKey);
            if key.is_some_and(|k| sigs.iter().any(|s| crypto::verify(&k, &signed, s).is_ok())) {
                return Err(Rejection::NoCertificateTrust.to_string());
            }
        }
    }
    let alg = alg.ok_or_else(|| Rejection::BadSignature.to_string())?;
    if let Some(allowed) = &policy.allowed_algorithms {
        if !allowed.contains(&alg) {
            return Err(Rejection::AlgorithmNotAllowed { alg }.to_string());
        }
    }
    // 2. The statement, parsed only now that it is authentic.
    if env.payload_type != "application/vnd.in-toto+json" {
        return Err(format!("DSSE payload type {:?} is not in-toto", env.payload_type));
    }
    let st: Statement = serde_json::from_slice(&payload).map_err(|e| format!("not an in-toto statement: {e}"))?;
    if !st.kind.starts_with("https://in-toto.io/Statement/") {
        return Err(format!("statement type {:?} is not in-toto", st.kind));
    }
    if let Some(annotated) = &att.predicate_type {
        if annotated != &st.predicate_type {
            return Err(format!(
                "annotation says predicate {annotated:?} but the signed statement says {:?}",
                st.predicate_type
            ));
        }
    }
    out.predicate_type = Some(st.predicate_type.clone());
    // 3. The binding to the image.
    if !st.subject.iter().any(|s| s.digest.get("sha256").map(String::as_str) == Some(digest.hex())) {
        let found: Vec<&str> = st.subject.iter().filter_map(|s| s.digest.get("sha256")).map(String::as_str).collect();
        return Err(format!("the statement's subjects {found:?} do not include {digest}"));
    }
    Ok(())
}
