//! `certs create`: a small offline PKI for signing (root CA → sub CA → code-signing leaf),
//! and the certificate builder the tests use to make deliberately broken certificates.
//!
//! Profile: CAs have basicConstraints CA critical (root pathlen 1, sub pathlen 0) and
//! keyUsage keyCertSign+cRLSign critical; the leaf has keyUsage digitalSignature critical,
//! EKU codeSigning and always a SAN (default `email:signer@sealift.local`, so identity
//! policies have something to match). All carry SKI (and AKI below the root) and random
//! 127-bit serials. The output passes `openssl verify -x509_strict`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Extension, X509NameBuilder, X509};

use super::crypto::PrivateKey;
use crate::tempfiles::{write_all_atomic, NewFile, WriteError};

/// The SAN a leaf gets when none is asked for.
pub const DEFAULT_LEAF_SAN: &str = "email:signer@sealift.local";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    EcP256,
    EcP384,
    Rsa2048,
    Rsa3072,
    Rsa4096,
    Ed25519,
}

impl FromStr for KeyType {
    type Err = CertError;
    fn from_str(s: &str) -> Result<Self, CertError> {
        Ok(match s {
            "ec-p256" => KeyType::EcP256,
            "ec-p384" => KeyType::EcP384,
            "rsa-2048" => KeyType::Rsa2048,
            "rsa-3072" => KeyType::Rsa3072,
            "rsa-4096" => KeyType::Rsa4096,
            "ed25519" => KeyType::Ed25519,
            _ => return Err(CertError::UnknownKeyType(s.to_owned())),
        })
    }
}

/// A subjectAltName to put in a leaf: `email:…`, `uri:…` or `dns:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanSpec {
    Email(String),
    Uri(String),
    Dns(String),
}

impl FromStr for SanSpec {
    type Err = CertError;
    fn from_str(s: &str) -> Result<Self, CertError> {
        match s.split_once(':') {
            Some(("email", v)) if !v.is_empty() => Ok(SanSpec::Email(v.to_owned())),
            Some(("uri", v)) if !v.is_empty() => Ok(SanSpec::Uri(v.to_owned())),
            Some(("dns", v)) if !v.is_empty() => Ok(SanSpec::Dns(v.to_owned())),
            _ => Err(CertError::BadSan(s.to_owned())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("unknown key type {0:?} (expected ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519)")]
    UnknownKeyType(String),
    #[error("bad SAN {0:?} (expected email:…, uri:… or dns:…)")]
    BadSan(String),
    #[error("certificate generation failed: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Generates a fresh key.
pub fn generate_key(kt: KeyType) -> Result<PrivateKey, CertError> {
    let ec =
        |nid| -> Result<_, CertError> { Ok(PKey::from_ec_key(EcKey::generate(&*EcGroup::from_curve_name(nid)?)?)?) };
    Ok(PrivateKey(match kt {
        KeyType::EcP256 => ec(Nid::X9_62_PRIME256V1)?,
        KeyType::EcP384 => ec(Nid::SECP384R1)?,
        KeyType::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?)?,
        KeyType::Rsa3072 => PKey::from_rsa(Rsa::generate(3072)?)?,
        KeyType::Rsa4096 => PKey::from_rsa(Rsa::generate(4096)?)?,
        KeyType::Ed25519 => PKey::generate_ed25519()?,
    }))
}

/// Everything about one certificate to issue; tests use odd combinations on purpose.
#[derive(Debug, Clone)]
pub struct CertParams {
    pub subject_cn: String,
    pub not_before: i64,
    pub not_after: i64,
    /// `None`: no basicConstraints extension. `Some((ca, pathlen))` otherwise (critical).
    pub basic_constraints: Option<(bool, Option<u32>)>,
    /// CA key usage (keyCertSign+cRLSign) rather than digitalSignature.
    pub ca_key_usage: bool,
    /// `None`: no EKU extension. Values: "codeSigning", "serverAuth".
    pub eku: Option<Vec<&'static str>>,
    pub sans: Vec<SanSpec>,
    /// Extra non-critical extensions as (dotted OID, DER value), e.g. Fulcio's issuer.
    pub extra_extensions: Vec<(String, Vec<u8>)>,
    /// Extra critical extensions, same form (tests: name constraints, unknown OIDs).
    pub critical_extensions: Vec<(String, Vec<u8>)>,
    /// A fixed serial number instead of a random one (tests: serial 0).
    pub serial: Option<u32>,
    /// Leave out the authorityKeyIdentifier (tests: Go does not require it).
    pub omit_aki: bool,
    /// Sign with this digest ("sha1", "md5") instead of the key's default (tests).
    pub signature_digest: Option<&'static str>,
}

impl CertParams {
    pub fn ca(cn: &str, not_before: i64, not_after: i64, pathlen: Option<u32>) -> Self {
        CertParams {
            subject_cn: cn.to_owned(),
            not_before,
            not_after,
            basic_constraints: Some((true, pathlen)),
            ca_key_usage: true,
            eku: None,
            sans: Vec::new(),
            extra_extensions: Vec::new(),
            critical_extensions: Vec::new(),
            serial: None,
            omit_aki: false,
            signature_digest: None,
        }
    }
    pub fn leaf(cn: &str, not_before: i64, not_after: i64, sans: Vec<SanSpec>) -> Self {
        CertParams {
            subject_cn: cn.to_owned(),
            not_before,
            not_after,
            basic_constraints: None,
            ca_key_usage: false,
            eku: Some(vec!["codeSigning"]),
            sans,
            extra_extensions: Vec::new(),
            critical_extensions: Vec::new(),
            serial: None,
            omit_aki: false,
            signature_digest: None,
        }
    }
}

fn digest_for(key: &PrivateKey) -> MessageDigest {
    match key.0.id() {
        Id::ED25519 => MessageDigest::null(),
        Id::EC if key.0.bits() > 256 => MessageDigest::sha384(),
        _ => MessageDigest::sha256(),
    }
}

/// Issues a certificate for `key` signed by `issuer` (self-signed when `None`).
pub fn issue(p: &CertParams, key: &PrivateKey, issuer: Option<(&X509, &PrivateKey)>) -> Result<X509, CertError> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, &p.subject_cn)?;
    let name = name.build();
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    match p.serial {
        Some(n) => serial = BigNum::from_u32(n)?,
        None => serial.rand(127, MsbOption::MAYBE_ZERO, false)?,
    }
    b.set_serial_number(&*Asn1Integer::from_bn(&serial)?)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(issuer.map(|(c, _)| c.subject_name()).unwrap_or(&name))?;
    b.set_not_before(&*Asn1Time::from_unix(p.not_before as _)?)?;
    b.set_not_after(&*Asn1Time::from_unix(p.not_after as _)?)?;
    b.set_pubkey(&key.0)?;
    if let Some((ca, pathlen)) = p.basic_constraints {
        let mut bc = BasicConstraints::new();
        bc.critical();
        if ca {
            bc.ca();
        }
        if let Some(n) = pathlen {
            bc.pathlen(n);
        }
        b.append_extension(bc.build()?)?;
    }
    let mut ku = KeyUsage::new();
    ku.critical();
    if p.ca_key_usage {
        ku.key_cert_sign().crl_sign();
    } else {
        ku.digital_signature();
    }
    b.append_extension(ku.build()?)?;
    if let Some(ekus) = &p.eku {
        let mut e = ExtendedKeyUsage::new();
        for u in ekus {
            match *u {
                "codeSigning" => e.code_signing(),
                "serverAuth" => e.server_auth(),
                other => e.other(other),
            };
        }
        b.append_extension(e.build()?)?;
    }
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))?;
    b.append_extension(ski)?;
    if let Some((ic, _)) = issuer.filter(|_| !p.omit_aki) {
        let aki = AuthorityKeyIdentifier::new().keyid(true).build(&b.x509v3_context(Some(ic), None))?;
        b.append_extension(aki)?;
    }
    if !p.sans.is_empty() {
        let mut san = SubjectAlternativeName::new();
        for s in &p.sans {
            match s {
                SanSpec::Email(v) => san.email(v),
                SanSpec::Uri(v) => san.uri(v),
                SanSpec::Dns(v) => san.dns(v),
            };
        }
        let ext = san.build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))?;
        b.append_extension(ext)?;
    }
    let extra = p.extra_extensions.iter().map(|e| (e, false)).chain(p.critical_extensions.iter().map(|e| (e, true)));
    for ((oid, value), critical) in extra {
        let oid = Asn1Object::from_str(oid)?;
        b.append_extension(X509Extension::new_from_der(&oid, critical, &*Asn1OctetString::new_from_bytes(value)?)?)?;
    }
    let signer = issuer.map(|(_, k)| k).unwrap_or(key);
    let digest = match p.signature_digest {
        Some(name) => MessageDigest::from_name(name).ok_or(openssl::error::ErrorStack::get())?,
        None => digest_for(signer),
    };
    b.sign(&signer.0, digest)?;
    Ok(b.build())
}

/// A generated PKI, in memory.
pub struct Pki {
    pub root: X509,
    pub root_key: PrivateKey,
    pub sub: X509,
    pub sub_key: PrivateKey,
    pub leaf: X509,
    pub leaf_key: PrivateKey,
}

/// Generates root → sub → leaf, all with keys of `kt`, valid from `now - 60 s` for `days`.
pub fn generate_pki(kt: KeyType, subject_cn: &str, sans: Vec<SanSpec>, days: u32, now: i64) -> Result<Pki, CertError> {
    let nb = now - 60;
    let na = now + i64::from(days) * 86_400;
    let sans = if sans.is_empty() { vec![DEFAULT_LEAF_SAN.parse()?] } else { sans };
    let root_key = generate_key(kt)?;
    let root = issue(&CertParams::ca(&format!("{subject_cn} Root CA"), nb, na, Some(1)), &root_key, None)?;
    let sub_key = generate_key(kt)?;
    let sub = issue(
        &CertParams::ca(&format!("{subject_cn} Intermediate CA"), nb, na, Some(0)),
        &sub_key,
        Some((&root, &root_key)),
    )?;
    let leaf_key = generate_key(kt)?;
    let leaf = issue(&CertParams::leaf(subject_cn, nb, na, sans), &leaf_key, Some((&sub, &sub_key)))?;
    Ok(Pki { root, root_key, sub, sub_key, leaf, leaf_key })
}

/// `certs create`: generates a PKI and writes `ca.crt`, `sub.crt`, `leaf.crt`, `leaf.key`
/// (PKCS#8 PEM, mode 0600) and `certificate_chain.pem` (sub then root, cosign's order).
pub fn create_pki(
    out_dir: &Path,
    kt: KeyType,
    subject_cn: &str,
    sans: Vec<SanSpec>,
    days: u32,
    now: i64,
) -> Result<Pki, CertError> {
    let pki = generate_pki(kt, subject_cn, sans, days, now)?;
    std::fs::create_dir_all(out_dir).map_err(|source| CertError::Write { path: out_dir.to_owned(), source })?;
    let mut chain = pki.sub.to_pem()?;
    chain.extend(pki.root.to_pem()?);
    let (ca, sub, leaf, key) = (pki.root.to_pem()?, pki.sub.to_pem()?, pki.leaf.to_pem()?, pki.leaf_key.to_pkcs8_pem());
    let paths = ["ca.crt", "sub.crt", "leaf.crt", "leaf.key", "certificate_chain.pem"].map(|n| out_dir.join(n));
    let files = [(&ca, 0o644), (&sub, 0o644), (&leaf, 0o644), (&key, 0o600), (&chain, 0o644)];
    let files: Vec<NewFile<'_>> =
        paths.iter().zip(files).map(|(path, (bytes, mode))| NewFile { path, bytes, mode }).collect();
    // All five or none: a signal or an error never leaves a half-made PKI.
    write_all_atomic(&files, ".sealift-").map_err(|WriteError { path, source }| CertError::Write { path, source })?;
    Ok(pki)
}
