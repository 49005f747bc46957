//! Signing material from files: private keys (optionally encrypted), certificates and
//! chains as the user gave them, signature files (base64 with or without line wraps, or
//! raw binary), and the two ways to sign: a key in this process, or an external command.
//!
//! Every signature made here is checked against the public key it will be verified with
//! before anything is pushed, so a key/certificate mix-up never reaches a registry.

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};

use base64::Engine as _;

use super::{AttachRejection, SignError};
use crate::cosign::signature::der_to_pem;
use crate::verify::crypto::{self, KeyError, PrivateKey, PublicKey, SignatureAlgorithm};

/// Largest option file (key, certificate, chain, payload, signature) read into memory.
const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads an option file; `-` is standard input. `what` names it in errors.
pub fn read_input(path: &str, what: &str) -> Result<Vec<u8>, SignError> {
    let err = |source| SignError::Read { what: what.to_owned(), source };
    let mut buf = Vec::new();
    if path == "-" {
        std::io::stdin().take(MAX_INPUT_BYTES + 1).read_to_end(&mut buf).map_err(err)?;
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut buf)).map_err(err)?;
    }
    if buf.len() as u64 > MAX_INPUT_BYTES {
        return Err(err(std::io::Error::other(format!("larger than {MAX_INPUT_BYTES} bytes"))));
    }
    Ok(buf)
}

/// Loads a private key (PKCS#8, PKCS#1, SEC1 PEM or PKCS#8 DER). `passphrase` is
/// `(environment variable name, value)` for encrypted PKCS#8 / legacy encrypted PEM.
///
/// An encrypted key without a passphrase is refused *before* OpenSSL sees it: its default
/// password callback would otherwise prompt on the terminal.
pub fn load_signing_key(bytes: &[u8], what: &str, passphrase: Option<(&str, &[u8])>) -> Result<PrivateKey, SignError> {
    let text = String::from_utf8_lossy(bytes);
    if text.contains("SIGSTORE PRIVATE KEY") {
        return Err(SignError::CosignEncryptedKey { what: what.to_owned() });
    }
    match passphrase {
        None if text.contains("ENCRYPTED") => Err(SignError::KeyEncrypted { what: what.to_owned() }),
        None => Ok(crypto::load_private_key(bytes, None, what)?),
        Some((var, p)) => crypto::load_private_key(bytes, Some(p), what).map_err(|e| match e {
            KeyError::Unreadable { .. } => SignError::WrongPassphrase { what: what.to_owned(), var: var.to_owned() },
            other => SignError::Key(other),
        }),
    }
}

/// A certificate to put in the `dev.sigstore.cosign/certificate` annotation.
#[derive(Debug, Clone)]
pub struct CertificateInput {
    /// PEM: the file's own text when it is exactly one PEM certificate, else re-encoded.
    pub pem: String,
    pub public_key: PublicKey,
    /// The file, for messages.
    pub what: String,
}

impl CertificateInput {
    /// The certificate's DER bytes (from its PEM).
    pub fn der(&self) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        openssl::x509::X509::from_pem(self.pem.as_bytes())?.to_der()
    }
}

/// Parses a certificate file (PEM or DER; the first certificate of a PEM bundle).
pub fn load_certificate(bytes: &[u8], what: &str) -> Result<CertificateInput, KeyError> {
    let unreadable = || KeyError::Unreadable { what: what.to_owned(), expected: "certificate" };
    let certs = crypto::load_certificates(bytes, what)?;
    let leaf = certs.first().ok_or_else(unreadable)?;
    let public_key = PublicKey(leaf.public_key().map_err(|_| unreadable())?);
    let public_key = crypto::load_public_key(&public_key.spki_der(), what)?;
    let pem = match std::str::from_utf8(bytes) {
        Ok(text) if certs.len() == 1 && text.trim_start().starts_with("-----BEGIN CERTIFICATE-----") => text.to_owned(),
        _ => der_to_pem("CERTIFICATE", &leaf.to_der().map_err(|_| unreadable())?),
    };
    Ok(CertificateInput { pem, public_key, what: what.to_owned() })
}

/// Checks a chain file (intermediates then root) parses, and returns it for the
/// `dev.sigstore.cosign/chain` annotation: PEM text verbatim, DER converted to PEM.
pub fn load_chain(bytes: &[u8], what: &str) -> Result<String, KeyError> {
    let certs = crypto::load_certificates(bytes, what)?;
    match std::str::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN CERTIFICATE-----") => Ok(text.to_owned()),
        _ => {
            let mut pem = String::new();
            for c in &certs {
                let der =
                    c.to_der().map_err(|_| KeyError::Unreadable { what: what.to_owned(), expected: "certificate" })?;
                pem.push_str(&der_to_pem("CERTIFICATE", &der));
            }
            Ok(pem)
        }
    }
}

/// Signature bytes from a file or a signer's output: base64 text (Go's StdEncoding; line
/// wraps and surrounding whitespace ignored) or, when the content is not base64 text at
/// all, raw binary (DER ECDSA, RSA, Ed25519). Text that looks like base64 but does not
/// decode is refused rather than mistaken for binary.
pub fn decode_signature(bytes: &[u8], what: &str) -> Result<Vec<u8>, AttachRejection> {
    let is_b64_text =
        bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') || b.is_ascii_whitespace());
    if is_b64_text {
        let cleaned: Vec<u8> = bytes.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        if cleaned.is_empty() {
            return Err(AttachRejection::EmptySignature { what: what.to_owned() });
        }
        return base64::engine::general_purpose::STANDARD
            .decode(&cleaned)
            .map_err(|e| AttachRejection::MalformedBase64 { what: what.to_owned(), reason: e.to_string() });
    }
    Ok(bytes.to_vec())
}

/// A signature and the scheme it verified with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPayload {
    pub signature: Vec<u8>,
    pub algorithm: SignatureAlgorithm,
}

impl SignedPayload {
    /// The annotation value: standard base64, no line wraps.
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.signature)
    }
}

/// Refuses a signing key whose public half differs from the certificate's key: the
/// signature would be attached next to a certificate that can never verify it.
pub fn check_key_matches_certificate(
    key: &PrivateKey,
    key_what: &str,
    cert: &CertificateInput,
) -> Result<(), SignError> {
    if key.0.public_eq(&cert.public_key.0) {
        Ok(())
    } else {
        Err(SignError::KeyCertificateMismatch { key: key_what.to_owned(), certificate: cert.what.clone() })
    }
}

/// Signs `payload` with `key` (`alg`, else the key's cosign-compatible default) and checks
/// the result verifies with `check` (the certificate's key, or the key's own).
pub fn sign_with_key(
    key: &PrivateKey,
    key_what: &str,
    payload: &[u8],
    alg: Option<SignatureAlgorithm>,
    check: (&PublicKey, &str),
) -> Result<SignedPayload, SignError> {
    let kind = || crypto::describe_key(&key.0);
    let algorithm = match alg {
        Some(a) => a,
        None => crypto::default_algorithm(key)
            .ok_or_else(|| SignError::Key(KeyError::UnsupportedKey { what: key_what.to_owned(), kind: kind() }))?,
    };
    let signature = crypto::sign(key, payload, algorithm).map_err(|e| match e {
        KeyError::AlgorithmKeyMismatch { alg, .. } => {
            SignError::AlgorithmForKey { alg, what: key_what.to_owned(), kind: kind() }
        }
        other => SignError::Key(other),
    })?;
    if !crypto::verify_with(check.0, payload, &signature, algorithm) {
        return Err(SignError::SelfCheck { against: check.1.to_owned() });
    }
    Ok(SignedPayload { signature, algorithm })
}

/// Runs `sh -c command` with the payload on stdin and takes the signature (base64 or raw
/// binary) from its stdout; its stderr passes through. The signature must verify with
/// `check` under some scheme that fits the key, which is reported.
pub fn sign_with_command(command: &str, payload: &[u8], check: (&PublicKey, &str)) -> Result<SignedPayload, SignError> {
    let fail = |reason: String| SignError::SignerCommand { command: command.to_owned(), reason };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| fail(format!("could not be started: {e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = payload.to_vec();
    // Feed stdin from a thread: a signer that writes before reading must not deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().map_err(|e| fail(format!("could not be waited for: {e}")))?;
    let fed = writer.join().unwrap_or_else(|_| Err(std::io::Error::other("writer thread panicked")));
    if !out.status.success() {
        return Err(fail(format!("failed ({})", out.status)));
    }
    // A signer that exits without reading all of stdin (a broken pipe) is not an error in
    // itself: whether it took the payload from stdin or elsewhere, its signature is verified
    // against the payload below. (Treating it as an error made the outcome depend on timing.)
    match fed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(fail(format!("did not read the payload: {e}")));
        }
        _ => {}
    }
    let signature = decode_signature(&out.stdout, "from the signer command")
        .map_err(|e| fail(format!("printed no usable signature: {e}")))?;
    let algorithm = crypto::verify(check.0, payload, &signature)
        .map_err(|_| SignError::SignerOutput { command: command.to_owned(), against: check.1.to_owned() })?;
    Ok(SignedPayload { signature, algorithm })
}

/// cosign's check of `--certificate-chain` before it signs (`GetKeypairAndToken` in
/// `cmd/cosign/cli/signcommon/common.go`, then `cosign.TrustedCert`): the leaf must chain
/// through the file's certificates to its last one as the root, with the code-signing
/// EKU, at the leaf's own notBefore (cosign: "the certificate is treated as trusted
/// forever", so no clock is read). Path rules are the verifier's ([`crate::verify::x509`]).
pub fn check_chain_validates(leaf: &CertificateInput, chain_pem: &str, chain_what: &str) -> Result<(), SignError> {
    use crate::verify::x509::{unix_time, validate_path, TrustAnchor};
    let bad = |reason: String| SignError::ChainDoesNotValidate {
        certificate: leaf.what.clone(),
        chain: chain_what.to_owned(),
        reason,
    };
    let cert = openssl::x509::X509::from_pem(leaf.pem.as_bytes())
        .map_err(|_| SignError::Certificate { what: leaf.what.clone() })?;
    let chain = crypto::load_certificates(chain_pem.as_bytes(), chain_what)?;
    let Some(root) = chain.last() else {
        return Err(bad("the chain holds no certificate".into()));
    };
    let at = unix_time(cert.not_before()).ok_or_else(|| bad("the leaf's notBefore cannot be read".into()))?;
    validate_path(&cert, &chain, &[], &[TrustAnchor::from(root.clone())], at).map_err(|r| bad(r.to_string()))?;
    Ok(())
}
