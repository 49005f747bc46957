//! The checks `attach signature` makes before it attaches an externally made signature,
//! so that a registry never receives a signature that cannot verify: the payload parses
//! strictly as simple-signing, it names this image's digest, the certificate (and chain)
//! parse, and the signature verifies over the exact payload bytes with the certificate's
//! key or the given public key. Path validation against roots is `verify`'s job.

use super::material::{decode_signature, load_certificate, load_chain, SignedPayload};
use super::{AttachRejection, SignError};
use crate::cosign::{parse_payload, NewSignatureLayer};
use crate::oci::Digest;
use crate::verify::crypto::{self, PublicKey, SignatureAlgorithm};

/// What the user handed to `attach signature`; each input with the name of its file.
#[derive(Debug, Clone, Copy)]
pub struct Attachment<'a> {
    pub payload: (&'a [u8], &'a str),
    pub signature: (&'a [u8], &'a str),
    pub certificate: Option<(&'a [u8], &'a str)>,
    pub chain: Option<(&'a [u8], &'a str)>,
    /// `--key PUB`, already loaded (an unreadable key is a usage error, not a rejection).
    pub key: Option<(&'a PublicKey, &'a str)>,
    pub rekor_bundle: Option<(&'a [u8], &'a str)>,
}

/// An attachment that passed every check, ready for [`super::append_and_push`].
#[derive(Debug, Clone)]
pub struct CheckedAttachment {
    pub layer: NewSignatureLayer,
    pub algorithm: SignatureAlgorithm,
}

/// Checks `a` against the image `image_digest`. The payload bytes are kept verbatim; the
/// signature is stored as canonical base64 of the bytes that verified.
pub fn check_attachment(a: &Attachment<'_>, image_digest: &Digest) -> Result<CheckedAttachment, SignError> {
    let (payload, payload_what) = a.payload;
    let parsed =
        parse_payload(payload).map_err(|source| AttachRejection::Payload { what: payload_what.to_owned(), source })?;
    if &parsed.docker_manifest_digest != image_digest {
        return Err(AttachRejection::DigestMismatch {
            what: payload_what.to_owned(),
            expected: image_digest.clone(),
            found: parsed.docker_manifest_digest,
        }
        .into());
    }
    let certificate = match a.certificate {
        Some((bytes, what)) => Some(
            load_certificate(bytes, what)
                .map_err(|_| AttachRejection::MalformedCertificate { what: what.to_owned() })?,
        ),
        None => None,
    };
    let chain = match a.chain {
        Some((bytes, what)) => {
            Some(load_chain(bytes, what).map_err(|_| AttachRejection::MalformedChain { what: what.to_owned() })?)
        }
        None => None,
    };
    let mut against: Vec<(&PublicKey, &str)> = Vec::new();
    if let Some(c) = &certificate {
        against.push((&c.public_key, c.what.as_str()));
    }
    if let Some(k) = a.key {
        against.push(k);
    }
    if against.is_empty() {
        return Err(SignError::Usage("attach signature needs --certificate or --key to check the signature against"));
    }
    let (sig_bytes, sig_what) = a.signature;
    let signature = decode_signature(sig_bytes, sig_what)?;
    // Every key given must verify: a certificate and a --key that disagree are refused.
    let mut algorithm = None;
    for (key, what) in &against {
        let alg = crypto::verify(key, payload, &signature).map_err(|_| AttachRejection::BadSignature {
            what: sig_what.to_owned(),
            payload: payload_what.to_owned(),
            against: (*what).to_owned(),
        })?;
        algorithm = Some(alg);
    }
    let algorithm = algorithm.expect("at least one key was checked");
    let rekor_bundle = match a.rekor_bundle {
        Some((bytes, what)) => {
            serde_json::from_slice::<serde_json::Value>(bytes)
                .map_err(|e| AttachRejection::RekorBundle { what: what.to_owned(), reason: e.to_string() })?;
            // Valid JSON is valid UTF-8; kept as given, minus the file's trailing newline.
            Some(String::from_utf8_lossy(bytes).trim().to_owned())
        }
        None => None,
    };
    let signed = SignedPayload { signature, algorithm };
    Ok(CheckedAttachment {
        layer: NewSignatureLayer {
            payload: payload.to_vec(),
            base64_signature: signed.base64(),
            certificate_pem: certificate.map(|c| c.pem),
            chain_pem: chain,
            rekor_bundle,
        },
        algorithm,
    })
}
