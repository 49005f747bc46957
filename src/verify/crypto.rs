//! Keys and raw signatures: loading public and private keys and certificates, signing, and
//! verifying a signature over exact bytes with every scheme that fits the key.
//!
//! cosign itself verifies ECDSA, RSA PKCS#1 v1.5 SHA-256 and Ed25519; sealift also accepts
//! RSA PKCS#1 SHA-512 and RSA-PSS (SHA-256/512), and reports which scheme verified.
//!
//! Hash per key, as cosign produces them: sigstore's `signature.LoadSignerVerifier(key,
//! crypto.SHA256)` (cosign's signing and verifying default) pairs *every* ECDSA curve with
//! SHA-256, while `--signing-algorithm` and sigstore's default for a key type pair P-384
//! with SHA-384 and P-521 with SHA-512. So P-384 verifies with SHA-384 or SHA-256 and
//! P-521 with SHA-512 or SHA-256; the report names the pairing and the policy's
//! algorithm allow-list decides. Weak keys (RSA below 2048 bits, DSA, P-192) are refused
//! with a reason, as keys and as certificate keys.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use openssl::ec::EcKey;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use openssl::x509::X509;

use super::error::Rejection;

/// A public key that may verify signatures.
#[derive(Clone)]
pub struct PublicKey(pub PKey<Public>);

/// A private key that signs.
pub struct PrivateKey(pub PKey<Private>);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({:?}, sha256 {})", self.0.id(), self.fingerprint())
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({:?}, <redacted>)", self.0.id())
    }
}

impl PublicKey {
    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.0.public_key_to_der().expect("a loaded public key encodes")
    }
    /// Hex SHA-256 of the DER SPKI (a Rekor log ID for Rekor keys).
    pub fn fingerprint(&self) -> String {
        crate::oci::Digest::of(&self.spki_der()).hex().to_owned()
    }
    pub fn to_pem(&self) -> String {
        String::from_utf8(self.0.public_key_to_pem().expect("a loaded public key encodes")).expect("PEM is ASCII")
    }
}

impl PrivateKey {
    pub fn public_key(&self) -> PublicKey {
        let der = self.0.public_key_to_der().expect("a private key has a public part");
        PublicKey(PKey::public_key_from_der(&der).expect("own DER parses"))
    }
    /// PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> Vec<u8> {
        self.0.private_key_to_pem_pkcs8().expect("private key encodes")
    }
}

/// Why a key or certificate file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{what}: not a PEM or DER {expected}")]
    Unreadable { what: String, expected: &'static str },
    #[error("{what}: unsupported key type {kind}")]
    UnsupportedKey { what: String, kind: String },
    #[error("{what}: weak key {kind} (RSA below 2048 bits, DSA and P-192 are refused)")]
    WeakKey { what: String, kind: String },
    #[error("signing with {alg} needs a matching key, this one is {kind}")]
    AlgorithmKeyMismatch { alg: SignatureAlgorithm, kind: String },
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Loads a public key: PEM `PUBLIC KEY` (SPKI), PEM `RSA PUBLIC KEY` (PKCS#1), a PEM
/// certificate (its key), or the same in DER. `what` names the source in errors.
pub fn load_public_key(bytes: &[u8], what: &str) -> Result<PublicKey, KeyError> {
    let key = PKey::public_key_from_pem(bytes)
        .ok()
        .or_else(|| Rsa::public_key_from_pem_pkcs1(bytes).ok().and_then(|r| PKey::from_rsa(r).ok()))
        .or_else(|| X509::from_pem(bytes).ok().and_then(|c| c.public_key().ok()))
        .or_else(|| PKey::public_key_from_der(bytes).ok())
        .or_else(|| Rsa::public_key_from_der_pkcs1(bytes).ok().and_then(|r| PKey::from_rsa(r).ok()))
        .or_else(|| X509::from_der(bytes).ok().and_then(|c| c.public_key().ok()))
        .ok_or_else(|| KeyError::Unreadable { what: what.to_owned(), expected: "public key or certificate" })?;
    check_supported(&PublicKey(key), what)
}

fn check_supported(key: &PublicKey, what: &str) -> Result<PublicKey, KeyError> {
    let weak = |kind: String| Err(KeyError::WeakKey { what: what.to_owned(), kind });
    match key.0.id() {
        Id::RSA if key.0.bits() < 2048 => weak(format!("RSA-{}", key.0.bits())),
        Id::DSA => weak(format!("DSA-{}", key.0.bits())),
        Id::EC if is_p192(&key.0) => weak("EC P-192".to_owned()),
        Id::RSA | Id::ED25519 => Ok(key.clone()),
        Id::EC if ec_curve(&key.0).is_some() => Ok(key.clone()),
        other => Err(KeyError::UnsupportedKey { what: what.to_owned(), kind: format!("{other:?}") }),
    }
}

/// Loads a private key: PKCS#8, PKCS#1 (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) PEM,
/// or encrypted PKCS#8 when `passphrase` is given; DER PKCS#8 too.
pub fn load_private_key(bytes: &[u8], passphrase: Option<&[u8]>, what: &str) -> Result<PrivateKey, KeyError> {
    let key = match passphrase {
        Some(p) => PKey::private_key_from_pem_passphrase(bytes, p).ok(),
        None => PKey::private_key_from_pem(bytes).ok().or_else(|| PKey::private_key_from_der(bytes).ok()),
    }
    .ok_or_else(|| KeyError::Unreadable { what: what.to_owned(), expected: "private key" })?;
    let pk = PrivateKey(key);
    check_supported(&pk.public_key(), what)?;
    Ok(pk)
}

/// Loads every certificate of a PEM bundle, or one DER certificate.
pub fn load_certificates(bytes: &[u8], what: &str) -> Result<Vec<X509>, KeyError> {
    let unreadable = || KeyError::Unreadable { what: what.to_owned(), expected: "certificate" };
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let certs = X509::stack_from_pem(bytes).map_err(|_| unreadable())?;
        if certs.is_empty() {
            return Err(unreadable());
        }
        Ok(certs)
    } else {
        Ok(vec![X509::from_der(bytes).map_err(|_| unreadable())?])
    }
}

/// Every signature scheme sealift signs and verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    EcdsaP256Sha256,
    EcdsaP384Sha384,
    EcdsaP384Sha256,
    EcdsaP521Sha512,
    EcdsaP521Sha256,
    RsaPkcs1Sha256,
    RsaPkcs1Sha512,
    RsaPssSha256,
    RsaPssSha512,
    Ed25519,
}

impl SignatureAlgorithm {
    pub const ALL: [SignatureAlgorithm; 10] = [
        Self::EcdsaP256Sha256,
        Self::EcdsaP384Sha384,
        Self::EcdsaP384Sha256,
        Self::EcdsaP521Sha512,
        Self::EcdsaP521Sha256,
        Self::RsaPkcs1Sha256,
        Self::RsaPkcs1Sha512,
        Self::RsaPssSha256,
        Self::RsaPssSha512,
        Self::Ed25519,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Self::EcdsaP384Sha384 => "ecdsa-p384-sha384",
            Self::EcdsaP384Sha256 => "ecdsa-p384-sha256",
            Self::EcdsaP521Sha512 => "ecdsa-p521-sha512",
            Self::EcdsaP521Sha256 => "ecdsa-p521-sha256",
            Self::RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
            Self::RsaPkcs1Sha512 => "rsa-pkcs1-sha512",
            Self::RsaPssSha256 => "rsa-pss-sha256",
            Self::RsaPssSha512 => "rsa-pss-sha512",
            Self::Ed25519 => "ed25519",
        }
    }

    fn digest(self) -> Option<MessageDigest> {
        match self {
            Self::EcdsaP256Sha256
            | Self::EcdsaP384Sha256
            | Self::EcdsaP521Sha256
            | Self::RsaPkcs1Sha256
            | Self::RsaPssSha256 => Some(MessageDigest::sha256()),
            Self::EcdsaP384Sha384 => Some(MessageDigest::sha384()),
            Self::EcdsaP521Sha512 | Self::RsaPkcs1Sha512 | Self::RsaPssSha512 => Some(MessageDigest::sha512()),
            Self::Ed25519 => None,
        }
    }

    fn is_pss(self) -> bool {
        matches!(self, Self::RsaPssSha256 | Self::RsaPssSha512)
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signature algorithm {0:?} (expected one of ecdsa-p256-sha256, ecdsa-p384-sha384, ecdsa-p384-sha256, ecdsa-p521-sha512, ecdsa-p521-sha256, rsa-pkcs1-sha256, rsa-pkcs1-sha512, rsa-pss-sha256, rsa-pss-sha512, ed25519)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for SignatureAlgorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

fn is_p192<T: openssl::pkey::HasPublic>(key: &PKey<T>) -> bool {
    key.ec_key().ok().and_then(|k| k.group().curve_name()) == Some(Nid::X9_62_PRIME192V1)
}

fn ec_curve<T>(key: &PKey<T>) -> Option<Nid>
where
    T: openssl::pkey::HasPublic,
{
    let ec: EcKey<T> = key.ec_key().ok()?;
    let nid = ec.group().curve_name()?;
    [Nid::X9_62_PRIME256V1, Nid::SECP384R1, Nid::SECP521R1].contains(&nid).then_some(nid)
}

/// The schemes a public key can verify, in the order they are tried.
fn candidates<T: openssl::pkey::HasPublic>(key: &PKey<T>) -> Vec<SignatureAlgorithm> {
    use SignatureAlgorithm::*;
    match key.id() {
        Id::EC => match ec_curve(key) {
            Some(Nid::X9_62_PRIME256V1) => vec![EcdsaP256Sha256],
            // The curve's own hash first (sealift signs with it), then cosign's SHA-256.
            Some(Nid::SECP384R1) => vec![EcdsaP384Sha384, EcdsaP384Sha256],
            Some(Nid::SECP521R1) => vec![EcdsaP521Sha512, EcdsaP521Sha256],
            _ => vec![],
        },
        Id::RSA => vec![RsaPkcs1Sha256, RsaPkcs1Sha512, RsaPssSha256, RsaPssSha512],
        Id::ED25519 => vec![Ed25519],
        _ => vec![],
    }
}

/// The algorithm sealift signs with by default for this key: the curve's own hash for
/// ECDSA, PKCS#1 v1.5 SHA-256 for RSA (what cosign verifies), Ed25519.
/// A key's type for messages: `RSA-3072`, `EC P-256`, `Ed25519`.
pub fn describe_key<T: openssl::pkey::HasPublic>(key: &openssl::pkey::PKeyRef<T>) -> String {
    match key.id() {
        Id::RSA => format!("RSA-{}", key.bits()),
        Id::EC => {
            let curve = key.ec_key().ok().and_then(|k| k.group().curve_name());
            let name = match curve {
                Some(openssl::nid::Nid::X9_62_PRIME256V1) => "P-256",
                Some(openssl::nid::Nid::SECP384R1) => "P-384",
                Some(openssl::nid::Nid::SECP521R1) => "P-521",
                _ => "(other curve)",
            };
            format!("EC {name}")
        }
        Id::ED25519 => "Ed25519".to_owned(),
        other => format!("unsupported key type {}", other.as_raw()),
    }
}

pub fn default_algorithm(key: &PrivateKey) -> Option<SignatureAlgorithm> {
    candidates(&key.0).first().copied()
}

/// Signs `payload`. ECDSA signatures are DER (ASN.1), as cosign writes them; PSS uses a
/// salt as long as the digest.
pub fn sign(key: &PrivateKey, payload: &[u8], alg: SignatureAlgorithm) -> Result<Vec<u8>, KeyError> {
    if !candidates(&key.0).contains(&alg) {
        return Err(KeyError::AlgorithmKeyMismatch { alg, kind: describe_key(&key.0) });
    }
    let e = |e: openssl::error::ErrorStack| KeyError::Sign(e.to_string());
    let mut signer = match alg.digest() {
        Some(md) => Signer::new(md, &key.0).map_err(e)?,
        None => Signer::new_without_digest(&key.0).map_err(e)?,
    };
    if alg.is_pss() {
        let md = alg.digest().expect("PSS has a digest");
        signer.set_rsa_padding(Padding::PKCS1_PSS).map_err(e)?;
        signer.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).map_err(e)?;
        signer.set_rsa_mgf1_md(md).map_err(e)?;
    }
    signer.sign_oneshot_to_vec(payload).map_err(e)
}

/// Verifies `sig` over `payload` with every scheme that fits the key and returns the one
/// that verified. RSA-PSS leaves the salt length to be recovered, so both "digest length"
/// and "maximum" salts verify.
pub fn verify(key: &PublicKey, payload: &[u8], sig: &[u8]) -> Result<SignatureAlgorithm, Rejection> {
    for alg in candidates(&key.0) {
        if verify_with(key, payload, sig, alg) {
            return Ok(alg);
        }
    }
    Err(Rejection::BadSignature)
}

/// Verifies with one scheme; any OpenSSL error (malformed DER, wrong length) is a "no".
pub fn verify_with(key: &PublicKey, payload: &[u8], sig: &[u8], alg: SignatureAlgorithm) -> bool {
    let attempt = || -> Result<bool, openssl::error::ErrorStack> {
        let mut v = match alg.digest() {
            Some(md) => Verifier::new(md, &key.0)?,
            None => Verifier::new_without_digest(&key.0)?,
        };
        if alg.is_pss() {
            v.set_rsa_padding(Padding::PKCS1_PSS)?;
            v.set_rsa_mgf1_md(alg.digest().expect("PSS has a digest"))?;
            // Unset salt length = "auto" on verify: digest-length and max salts both pass.
        } else if key.0.id() == Id::RSA {
            v.set_rsa_padding(Padding::PKCS1)?;
        }
        v.verify_oneshot(sig, payload)
    };
    // OpenSSL leaves errors on its thread-local queue on failure; drain them.
    let ok = attempt().unwrap_or(false);
    let _ = openssl::error::ErrorStack::get();
    ok
}

/// Decodes a signature the way Go's `base64.StdEncoding` does for cosign: `\r` and `\n`
/// are ignored, padding is required.
pub fn decode_base64_signature(text: &str) -> Result<Vec<u8>, Rejection> {
    let cleaned: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()).map_err(|_| Rejection::MalformedBase64)
}

/// Signature bytes a user supplied in a file: base64 text (with line wraps) or raw binary
/// (DER ECDSA, RSA, Ed25519) when the content is not base64 text.
pub fn signature_bytes_from_file(bytes: &[u8]) -> Vec<u8> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(sig) = decode_base64_signature(text.trim_end()) {
            return sig;
        }
    }
    bytes.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::EcGroup;

    pub(crate) fn key_for(alg: SignatureAlgorithm) -> PrivateKey {
        use SignatureAlgorithm::*;
        let ec = |nid| PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap();
        PrivateKey(match alg {
            EcdsaP256Sha256 => ec(Nid::X9_62_PRIME256V1),
            EcdsaP384Sha384 | EcdsaP384Sha256 => ec(Nid::SECP384R1),
            EcdsaP521Sha512 | EcdsaP521Sha256 => ec(Nid::SECP521R1),
            Ed25519 => PKey::generate_ed25519().unwrap(),
            _ => PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
        })
    }

    #[test]
    fn every_algorithm_good_and_bad_vectors() {
        let payload = b"{\"critical\":{}}";
        for alg in SignatureAlgorithm::ALL {
            assert_eq!(alg.name().parse::<SignatureAlgorithm>().unwrap(), alg);
            let key = key_for(alg);
            let sig = sign(&key, payload, alg).unwrap();
            assert_eq!(verify(&key.public_key(), payload, &sig), Ok(alg), "{alg}");
            // Bad vector 1: flipped payload byte.
            let mut tampered = payload.to_vec();
            tampered[3] ^= 1;
            assert_eq!(verify(&key.public_key(), &tampered, &sig), Err(Rejection::BadSignature), "{alg}");
            // Bad vector 2: flipped signature byte.
            let mut bad = sig.clone();
            let n = bad.len() / 2;
            bad[n] ^= 0x40;
            assert_eq!(verify(&key.public_key(), payload, &bad), Err(Rejection::BadSignature), "{alg}");
            // Bad vector 3: another key of the same type.
            let other = key_for(alg);
            assert_eq!(verify(&other.public_key(), payload, &sig), Err(Rejection::BadSignature), "{alg}");
            // Truncated.
            assert_eq!(verify(&key.public_key(), payload, &sig[..sig.len() - 1]), Err(Rejection::BadSignature));
        }
        assert!("rsa-pss-sha384".parse::<SignatureAlgorithm>().is_err());
    }

    /// cosign's `LoadSignerVerifier(key, crypto.SHA256)` signs with SHA-256 on every
    /// curve: what openssl's `dgst -sha256` makes with a P-384 or P-521 key must verify,
    /// and be reported as that pairing.
    #[test]
    fn cosign_pairings_p384_and_p521_with_sha256() {
        for (alg, nid) in [
            (SignatureAlgorithm::EcdsaP384Sha256, Nid::SECP384R1),
            (SignatureAlgorithm::EcdsaP521Sha256, Nid::SECP521R1),
        ] {
            let key = PrivateKey(
                PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap(),
            );
            let mut signer = Signer::new(MessageDigest::sha256(), &key.0).unwrap();
            let sig = signer.sign_oneshot_to_vec(b"payload").unwrap();
            assert_eq!(verify(&key.public_key(), b"payload", &sig), Ok(alg));
            assert_eq!(verify(&key.public_key(), b"payloaD", &sig), Err(Rejection::BadSignature));
        }
    }

    #[test]
    fn weak_keys_refused_with_a_reason() {
        let rsa1024 = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let pem = rsa1024.public_key_to_pem().unwrap();
        let err = load_public_key(&pem, "k.pub").unwrap_err();
        assert_eq!(err, KeyError::WeakKey { what: "k.pub".into(), kind: "RSA-1024".into() });
        assert!(err.to_string().contains("RSA below 2048 bits"), "{err}");
        assert!(matches!(
            load_private_key(&rsa1024.private_key_to_pem_pkcs8().unwrap(), None, "k"),
            Err(KeyError::WeakKey { .. })
        ));
        let p192 = EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME192V1).unwrap()).unwrap();
        let pem = PKey::from_ec_key(p192).unwrap().public_key_to_pem().unwrap();
        assert_eq!(
            load_public_key(&pem, "k").unwrap_err(),
            KeyError::WeakKey { what: "k".into(), kind: "EC P-192".into() }
        );
        let dsa = openssl::dsa::Dsa::generate(2048).unwrap();
        let pem = PKey::from_dsa(dsa).unwrap().public_key_to_pem().unwrap();
        assert_eq!(
            load_public_key(&pem, "k").unwrap_err(),
            KeyError::WeakKey { what: "k".into(), kind: "DSA-2048".into() }
        );
        // 2048 is the floor, not refused.
        let rsa2048 = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        assert!(load_public_key(&rsa2048.public_key_to_pem().unwrap(), "k").is_ok());
    }

    #[test]
    fn wrong_algorithm_for_key_refused() {
        let k = key_for(SignatureAlgorithm::Ed25519);
        assert!(matches!(sign(&k, b"x", SignatureAlgorithm::RsaPssSha256), Err(KeyError::AlgorithmKeyMismatch { .. })));
        assert_eq!(
            default_algorithm(&key_for(SignatureAlgorithm::EcdsaP384Sha384)),
            Some(SignatureAlgorithm::EcdsaP384Sha384)
        );
    }

    #[test]
    fn pss_max_salt_verifies() {
        let key = key_for(SignatureAlgorithm::RsaPssSha512);
        let mut s = Signer::new(MessageDigest::sha512(), &key.0).unwrap();
        s.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
        s.set_rsa_pss_saltlen(RsaPssSaltlen::MAXIMUM_LENGTH).unwrap();
        let sig = s.sign_oneshot_to_vec(b"p").unwrap();
        assert_eq!(verify(&key.public_key(), b"p", &sig), Ok(SignatureAlgorithm::RsaPssSha512));
    }

    #[test]
    fn key_formats_load() {
        let rsa = Rsa::generate(2048).unwrap();
        let pkcs1_pub = rsa.public_key_to_pem_pkcs1().unwrap();
        let pkcs1_priv = rsa.private_key_to_pem().unwrap();
        assert!(load_public_key(&pkcs1_pub, "k").is_ok());
        assert!(load_private_key(&pkcs1_priv, None, "k").is_ok());
        let ec = EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
        let sec1 = ec.private_key_to_pem().unwrap();
        assert!(load_private_key(&sec1, None, "k").is_ok());
        let pk = PKey::from_ec_key(ec).unwrap();
        let enc = pk.private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"pw").unwrap();
        assert!(load_private_key(&enc, Some(b"pw"), "k").is_ok());
        assert!(load_private_key(&enc, Some(b"wrong"), "k").is_err());
        assert!(matches!(load_public_key(b"garbage", "k"), Err(KeyError::Unreadable { .. })));
    }

    #[test]
    fn base64_ignores_newlines() {
        assert_eq!(decode_base64_signature("YWJj\r\nZGVm\n").unwrap(), b"abcdef");
        assert_eq!(decode_base64_signature("YWJj ZGVm"), Err(Rejection::MalformedBase64));
        assert_eq!(signature_bytes_from_file(&[0x30, 0x80, 0xff]), vec![0x30, 0x80, 0xff]);
        assert_eq!(signature_bytes_from_file(b"YWJj\n"), b"abc");
    }
}
