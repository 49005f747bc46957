//! DSSE envelopes and the in-toto statements they carry: the shapes shared by cosign
//! attestations (`.att` layers) and Sigstore bundles, and the pre-authentication encoding
//! (PAE) their signatures cover. Parsing only; the callers verify.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A DSSE envelope (<https://github.com/secure-systems-lab/dsse>). `payload` is base64.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub payload_type: String,
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Deserialize)]
pub struct EnvelopeSignature {
    /// base64 signature over [`pae`] of the payload.
    pub sig: String,
}

/// An in-toto statement: what an attestation or a Sigstore bundle signs.
#[derive(Debug, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub kind: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
}

#[derive(Debug, Deserialize)]
pub struct Subject {
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
}

/// DSSE pre-authentication encoding: the bytes a DSSE signature covers.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pae_matches_the_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            super::pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }
}
