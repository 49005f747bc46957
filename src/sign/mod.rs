//! Making and attaching cosign signatures: resolve the image digest, build the
//! simple-signing payload, sign it (a key, or an external command), check an externally
//! made signature before attaching it, and append the result as one more layer of the
//! image's `sha256-<hex>.sig` manifest.
//!
//! The format work (payload bytes, `.sig` manifest layout) lives in [`crate::cosign`], the
//! cryptography in [`crate::verify::crypto`]; this module glues them to a registry and
//! decides what input to refuse. It never re-serializes a payload: the bytes signed are
//! the bytes stored.

mod attach;
pub mod bundle;
mod material;
mod push;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::cosign::{PayloadError, SignatureSourceError};
use crate::oci::{Digest, Reference};
use crate::registry::RegistryError;
use crate::verify::crypto::{KeyError, SignatureAlgorithm};

pub use attach::{
    check_attachment, check_bundle_attachment, check_statement_attachment, Attachment, BundleAttachment,
    CheckedAttachment, CheckedBundle, StatementAttachment,
};
pub use material::{
    check_chain_validates, check_key_matches_certificate, decode_signature, load_certificate, load_chain,
    load_signing_key, read_input, sign_with_command, sign_with_key, CertificateInput, SignedPayload,
};
pub use push::{append_and_push, ensure_image, resolve_digest, PushedSignature};

/// Everything that can stop `generate`, `sign` or `attach`. Display is one line naming the
/// offending file, flag, image or command; [`SignError::exit_code`] classifies it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    #[error("annotation {value:?} is not KEY=VALUE")]
    BadAnnotation { value: String },
    #[error("annotation key {key:?} is given twice")]
    DuplicateAnnotation { key: String },
    #[error("cannot read {what}: {source}")]
    Read { what: String, source: std::io::Error },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("key {what} is encrypted: give its passphrase with --key-passphrase-env VAR")]
    KeyEncrypted { what: String },
    #[error("key {what} is cosign's own encrypted format (ENCRYPTED SIGSTORE PRIVATE KEY), which sealift cannot read: export it as PKCS#8 PEM")]
    CosignEncryptedKey { what: String },
    #[error("key {what} cannot be decrypted with the passphrase from ${var} (wrong passphrase, or not a private key)")]
    WrongPassphrase { what: String, var: String },
    #[error("environment variable {var} (--key-passphrase-env) is not set or not UTF-8")]
    PassphraseEnv { var: String },
    #[error("signing key {key} does not match the public key of certificate {certificate}")]
    KeyCertificateMismatch { key: String, certificate: String },
    #[error("--signature-algorithm {alg} does not fit key {what} ({kind})")]
    AlgorithmForKey { alg: SignatureAlgorithm, what: String, kind: String },
    #[error("certificate {certificate} does not chain to the root of {chain}: {reason}")]
    ChainDoesNotValidate { certificate: String, chain: String, reason: String },
    #[error("{what} holds no usable certificate")]
    Certificate { what: String },
    #[error("{0}")]
    Usage(&'static str),
    #[error("image {reference} not found")]
    ImageNotFound { reference: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("existing signature manifest {reference} cannot be extended: {source}")]
    ExistingSigManifest { reference: String, source: SignatureSourceError },
    #[error("signer command {command:?} {reason}")]
    SignerCommand { command: String, reason: String },
    #[error("the signature from signer command {command:?} does not verify over the payload with {against}")]
    SignerOutput { command: String, against: String },
    #[error("signing produced a signature that does not verify with {against}")]
    SelfCheck { against: String },
    #[error("refusing to attach: {0}")]
    Rejected(#[from] AttachRejection),
}

impl SignError {
    /// The documented exit code ([`crate::exit`]): input that does not match (signature,
    /// payload, certificate) is a rejection; unusable flags or option files are usage
    /// errors; I/O, registries and external commands are "could not do the job".
    pub fn exit_code(&self) -> u8 {
        use SignError::*;
        match self {
            Rejected(_) | SignerOutput { .. } => crate::exit::REJECTED,
            Read { .. } | ImageNotFound { .. } | Registry(_) | ExistingSigManifest { .. } | SignerCommand { .. } => {
                crate::exit::FAILED
            }
            SelfCheck { .. } => crate::exit::FAILED,
            BadAnnotation { .. }
            | DuplicateAnnotation { .. }
            | Key(_)
            | KeyEncrypted { .. }
            | CosignEncryptedKey { .. }
            | WrongPassphrase { .. }
            | PassphraseEnv { .. }
            | KeyCertificateMismatch { .. }
            | AlgorithmForKey { .. }
            | Certificate { .. }
            | ChainDoesNotValidate { .. }
            | Usage(_) => crate::exit::USAGE,
        }
    }
}

/// Why `attach signature` refused what it was given (exit code 1). Each names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttachRejection {
    #[error("payload {what} is not a cosign simple-signing payload: {source}")]
    Payload { what: String, source: PayloadError },
    #[error("payload {what} signs {found}, not this image's digest {expected}")]
    DigestMismatch { what: String, expected: Digest, found: Digest },
    #[error("signature {what} is not valid base64: {reason}")]
    MalformedBase64 { what: String, reason: String },
    #[error("signature {what} is empty")]
    EmptySignature { what: String },
    #[error("signature {what} does not verify over payload {payload} with the public key of {against}")]
    BadSignature { what: String, payload: String, against: String },
    #[error("certificate {what} cannot be parsed")]
    MalformedCertificate { what: String },
    #[error("certificate chain {what} cannot be parsed")]
    MalformedChain { what: String },
    #[error("Rekor bundle {what} is not JSON: {reason}")]
    RekorBundle { what: String, reason: String },
    #[error("Sigstore bundle {what} cannot be attached: {reason}")]
    SigstoreBundle { what: String, reason: String },
    #[error("statement {what} cannot be attached: {reason}")]
    Statement { what: String, reason: String },
}

/// `-a KEY=VALUE` annotations for the payload's `optional` object (split at the first `=`;
/// a key given twice is refused rather than silently overwritten).
pub fn parse_annotations(values: &[String]) -> Result<BTreeMap<String, String>, SignError> {
    let mut out = BTreeMap::new();
    for v in values {
        let (k, val) = v.split_once('=').ok_or_else(|| SignError::BadAnnotation { value: v.clone() })?;
        if k.is_empty() {
            return Err(SignError::BadAnnotation { value: v.clone() });
        }
        if out.insert(k.to_owned(), val.to_owned()).is_some() {
            return Err(SignError::DuplicateAnnotation { key: k.to_owned() });
        }
    }
    Ok(out)
}

/// The payload cosign would sign for `reference` at `digest`: `docker-reference` is
/// `host/repo`, without tag or digest, as cosign writes it.
pub fn payload_for(reference: &Reference, digest: &Digest, annotations: &BTreeMap<String, String>) -> Vec<u8> {
    crate::cosign::simple_signing_payload(&reference.repository_name(), digest, annotations)
}
