//! The checks `attach signature` makes before it attaches an externally made signature,
//! so that a registry never receives a signature that cannot verify: the payload parses
//! strictly as simple-signing, it names this image's digest, the certificate (and chain)
//! parse, and the signature verifies over the exact payload bytes with the certificate's
//! key or the given public key. Path validation against roots is `verify`'s job.

use super::material::{decode_signature, load_certificate, load_chain, CertificateInput, SignedPayload};
use super::{AttachRejection, SignError};
use crate::cosign::{parse_payload, NewSignatureLayer};
use crate::oci::Digest;
use crate::verify::crypto::{self, PublicKey, SignatureAlgorithm};
use crate::verify::sigstore_bundle::{check_image_statement, decode_image_bundle};
use crate::verify::Rejection;

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
    let certificate = a.certificate.map(read_certificate).transpose()?;
    let chain = a.chain.map(read_chain).transpose()?;
    let against = keys_to_try(&certificate, a.key);
    let (sig_bytes, sig_what) = a.signature;
    let signature = decode_signature(sig_bytes, sig_what)?;
    let algorithm = verify_with_each(&against, payload, &signature, sig_what, payload_what)?;
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

/// A `--certificate` file of an attached signature, read as `sign` reads one.
fn read_certificate((bytes, what): (&[u8], &str)) -> Result<CertificateInput, AttachRejection> {
    load_certificate(bytes, what).map_err(|_| AttachRejection::MalformedCertificate { what: what.to_owned() })
}

/// A `--certificate-chain` file of an attached signature, read as `sign` reads one.
fn read_chain((bytes, what): (&[u8], &str)) -> Result<String, AttachRejection> {
    load_chain(bytes, what).map_err(|_| AttachRejection::MalformedChain { what: what.to_owned() })
}

/// The keys an attached signature is tried against, each with its name: the certificate's,
/// then `--key`'s.
fn keys_to_try<'a>(
    certificate: &'a Option<CertificateInput>,
    key: Option<(&'a PublicKey, &'a str)>,
) -> Vec<(&'a PublicKey, &'a str)> {
    certificate.iter().map(|c| (&c.public_key, c.what.as_str())).chain(key).collect()
}

/// Every key given must verify `signature` over `signed`: a certificate and a `--key` that
/// disagree are refused. At least one key is needed.
fn verify_with_each(
    against: &[(&PublicKey, &str)],
    signed: &[u8],
    signature: &[u8],
    sig_what: &str,
    payload_what: &str,
) -> Result<SignatureAlgorithm, SignError> {
    if against.is_empty() {
        return Err(SignError::Usage("attach signature needs --certificate or --key to check the signature against"));
    }
    let mut algorithm = None;
    for (key, what) in against {
        let alg = crypto::verify(key, signed, signature).map_err(|_| AttachRejection::BadSignature {
            what: sig_what.to_owned(),
            payload: payload_what.to_owned(),
            against: (*what).to_owned(),
        })?;
        algorithm = Some(alg);
    }
    Ok(algorithm.expect("at least one key was checked"))
}

/// `attach signature --bundle FILE`: a whole Sigstore bundle made elsewhere (cosign's
/// `attach signature --bundle`/`--payload` with a bundle file), with the keys to check it.
#[derive(Debug, Clone, Copy)]
pub struct BundleAttachment<'a> {
    pub bundle: (&'a [u8], &'a str),
    pub certificate: Option<(&'a [u8], &'a str)>,
    pub key: Option<(&'a PublicKey, &'a str)>,
}

/// A Sigstore bundle that passed every check, ready for
/// [`super::bundle::push_bundle_referrer`]: its exact bytes.
#[derive(Debug, Clone)]
pub struct CheckedBundle {
    pub bundle: Vec<u8>,
    pub algorithm: SignatureAlgorithm,
}

/// Checks a bundle file against the image `image_digest`, with the verifier's parser:
/// one DSSE signature over an in-toto statement with cosign's sign predicate naming this
/// digest, verifying over the PAE bytes with the bundle's leaf, `--certificate` and `--key`
/// (each that is given). cosign attaches without these checks (its verifier refuses such
/// a bundle later); sealift refuses it here, so a registry never receives it. The bundle
/// is stored byte for byte (cosign re-marshals it); a transparency-log entry or timestamp
/// in it is carried and checked by `verify`, not here.
pub fn check_bundle_attachment(a: &BundleAttachment<'_>, image_digest: &Digest) -> Result<CheckedBundle, SignError> {
    let (bytes, what) = a.bundle;
    let refuse = |r: Rejection| AttachRejection::SigstoreBundle { what: what.to_owned(), reason: r.to_string() };
    let b = decode_image_bundle(bytes).map_err(refuse)?;
    check_image_statement(&b.payload_type, &b.statement, image_digest).map_err(refuse)?;
    let leaf = match &b.leaf_der {
        Some(der) => Some(
            openssl::x509::X509::from_der(der)
                .ok()
                .and_then(|c| c.public_key().ok())
                .map(PublicKey)
                .ok_or_else(|| refuse(Rejection::MalformedCertificate("the bundle's leaf certificate".into())))?,
        ),
        None => None,
    };
    let certificate = a.certificate.map(read_certificate).transpose()?;
    let leaf_what = format!("the certificate in {what}");
    let mut against: Vec<(&PublicKey, &str)> = leaf.iter().map(|k| (k, leaf_what.as_str())).collect();
    against.extend(keys_to_try(&certificate, a.key));
    if against.is_empty() {
        return Err(SignError::Usage(
            "the bundle names its key by hint only: give --key to check its signature against",
        ));
    }
    let algorithm = verify_with_each(&against, &b.signed, &b.signature, what, what)?;
    Ok(CheckedBundle { bundle: bytes.to_vec(), algorithm })
}

/// `attach signature --new-bundle-format`: the statement (or the DSSE PAE bytes of it,
/// as `generate --new-bundle-format` prints them), a signature made elsewhere over the
/// PAE bytes, and the certificate (and chain) or key; sealift writes the bundle.
#[derive(Debug, Clone, Copy)]
pub struct StatementAttachment<'a> {
    pub payload: (&'a [u8], &'a str),
    pub signature: (&'a [u8], &'a str),
    pub certificate: Option<(&'a [u8], &'a str)>,
    pub chain: Option<(&'a [u8], &'a str)>,
    pub key: Option<(&'a PublicKey, &'a str)>,
}

/// The statement inside `bytes`: the bytes themselves, or, when they are a DSSE PAE
/// (`DSSEv1 <len> <type> <len> <statement>`), the statement they encode; the PAE must be
/// exactly that of an in-toto statement.
pub(super) fn statement_of(bytes: &[u8]) -> Result<&[u8], String> {
    let Some(rest) = bytes.strip_prefix(b"DSSEv1 ") else {
        return Ok(bytes);
    };
    let prefix = format!("{} {} ", super::bundle::INTOTO_PAYLOAD_TYPE.len(), super::bundle::INTOTO_PAYLOAD_TYPE);
    let rest = rest
        .strip_prefix(prefix.as_bytes())
        .ok_or_else(|| format!("a DSSE PAE whose payload type is not {}", super::bundle::INTOTO_PAYLOAD_TYPE))?;
    let space = rest.iter().position(|&b| b == b' ').ok_or("a DSSE PAE without a payload length")?;
    let len: usize = std::str::from_utf8(&rest[..space])
        .ok()
        .filter(|s| !s.starts_with('0') || *s == "0")
        .and_then(|s| s.parse().ok())
        .ok_or("a DSSE PAE with a malformed payload length")?;
    let statement = &rest[space + 1..];
    if statement.len() != len {
        return Err(format!("a DSSE PAE whose payload has {} bytes, not the {len} it declares", statement.len()));
    }
    Ok(statement)
}

/// Checks a statement attachment against `image_digest` and writes the bundle (with
/// [`super::bundle::bundle_json`], the writer of `sign --new-bundle-format`): the statement
/// passes the verifier's statement check, and the signature verifies over its PAE bytes
/// with the certificate's key and `--key` (each that is given). The certificate, when
/// given, is the bundle's verification material (with the chain's intermediates, see
/// [`super::bundle::bundle_intermediates`]); otherwise the key's hint.
pub fn check_statement_attachment(
    a: &StatementAttachment<'_>,
    image_digest: &Digest,
) -> Result<CheckedBundle, SignError> {
    let (bytes, payload_what) = a.payload;
    let refuse = |reason: String| AttachRejection::Statement { what: payload_what.to_owned(), reason };
    let statement = statement_of(bytes).map_err(refuse)?;
    check_image_statement(super::bundle::INTOTO_PAYLOAD_TYPE, statement, image_digest)
        .map_err(|r| refuse(r.to_string()))?;
    let certificate = a.certificate.map(read_certificate).transpose()?;
    let chain = a.chain.map(read_chain).transpose()?;
    let against = keys_to_try(&certificate, a.key);
    let (sig_bytes, sig_what) = a.signature;
    let signature = decode_signature(sig_bytes, sig_what)?;
    let signed = super::bundle::signed_bytes(statement);
    let algorithm = verify_with_each(&against, &signed, &signature, sig_what, payload_what)?;
    let bundle = match (&certificate, a.key) {
        (Some(c), _) => {
            let bad = |_| AttachRejection::MalformedCertificate { what: c.what.clone() };
            let der = c.der().map_err(bad)?;
            let intermediates = match &chain {
                Some(pem) => Some(super::bundle::bundle_intermediates(&der, pem)?),
                None => None,
            };
            let signer =
                super::bundle::BundleSigner::Certificate { der: &der, intermediates: intermediates.as_deref() };
            super::bundle::bundle_json(statement, &signature, &signer)
        }
        (None, Some((key, what))) => {
            let spki = key.0.public_key_to_der().map_err(|_| {
                SignError::Key(crypto::KeyError::Unreadable { what: what.to_owned(), expected: "public key" })
            })?;
            super::bundle::bundle_json(statement, &signature, &super::bundle::BundleSigner::Key { spki_der: &spki })
        }
        (None, None) => {
            return Err(SignError::Usage(
                "attach signature needs --certificate or --key to check the signature against",
            ))
        }
    };
    Ok(CheckedBundle { bundle, algorithm })
}
