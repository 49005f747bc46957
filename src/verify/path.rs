//! Certificate paths as Go's `x509.Certificate.Verify` builds and checks them with
//! `KeyUsages: [CodeSigning]`, which is what cosign runs (pkg/cosign/verify.go
//! `TrustedCert`). Everything a signature, a chain annotation or a configuration file
//! says about a certificate is untrusted until this module has checked it.
//!
//! Parsing ([`ParsedCert::parse`]) refuses what Go's `ParseCertificate` refuses (inner
//! and outer signature algorithms that differ, negative serials, duplicate extensions,
//! malformed SANs, EKU, basic constraints or name constraints, critical AKI/SKI,
//! unnamed EC curves), and records unhandled critical extensions.
//!
//! Building ([`build`]) is Go's depth-first search: from the leaf, every configured root
//! and then every intermediate whose subject is the child's issuer is a candidate; a
//! candidate must have signed the child (as a CA: basicConstraints cA, keyCertSign when
//! a keyUsage is present; SHA-1 and MD5 signatures refused), have no unhandled critical
//! extension, be valid at the trusted time (inclusive bounds), allow the SANs below it
//! by its name constraints and respect its pathLenConstraint. Every path so found is a
//! candidate; the first whose certificates all allow codeSigning (or any usage) where
//! they list extended key usages, and whose anchor is inside its `validFor` window,
//! wins. A configured root is an anchor whatever its issuer (Go's root pool, OpenSSL's
//! `PARTIAL_CHAIN`). At most [`MAX_SIGNATURE_CHECKS`] signature checks per path search,
//! as Go.
//!
//! Beyond Go, sealift refuses weak keys anywhere in the path: RSA below 2048 bits, DSA,
//! P-192 (Go refuses RSA below 1024 and cannot parse P-192).

use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::x509::{X509Ref, X509};

use super::der::{self, DerError};
use super::error::Rejection;
use super::names::{self, Name, NameConstraints, Subtree};
use super::x509::{subject_string, unix_time, TrustAnchor, OID_EKU_ANY, OID_EKU_CODE_SIGNING};

/// Go's `maxChainSignatureChecks`.
pub const MAX_SIGNATURE_CHECKS: usize = 100;

const AIA: &str = "1.3.6.1.5.5.7.1.1";

/// A SEQUENCE of SEQUENCEs, each starting with an OID when `oid_first` (Go's
/// structural checks of authorityInfoAccess, cRLDistributionPoints and
/// certificatePolicies).
fn sequence_of_sequences(v: &[u8], oid_first: bool) -> bool {
    let Ok((mut seq, rest)) = der::expect(v, 0x30, "") else { return false };
    if !rest.is_empty() {
        return false;
    }
    while !seq.is_empty() {
        let Ok((item, rest)) = der::expect(seq, 0x30, "") else { return false };
        if oid_first && der::expect(item, 0x06, "").is_err() {
            return false;
        }
        seq = rest;
    }
    true
}

/// Extensions Go's parser understands: critical ones of other types are unhandled.
const HANDLED: [&str; 13] = [
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.15", // keyUsage
    "2.5.29.17", // subjectAltName
    "2.5.29.19", // basicConstraints
    "2.5.29.30", // nameConstraints
    "2.5.29.31", // cRLDistributionPoints
    "2.5.29.32", // certificatePolicies
    "2.5.29.33", // policyMappings
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.36", // policyConstraints
    "2.5.29.37", // extKeyUsage
    "2.5.29.54", // inhibitAnyPolicy
    AIA,         // authorityInfoAccess
];

/// A certificate with the fields path validation needs, parsed as Go parses them.
#[derive(Clone)]
pub struct ParsedCert {
    pub x509: X509,
    pub der: Vec<u8>,
    /// The certificate as rejections name it: its subject (`CN=…, O=…`), or for an empty
    /// subject (Fulcio leaves) `(empty subject, SAN …)`.
    pub subject: String,
    /// The subject as written (`""` for an empty one), for reports.
    pub dn: String,
    raw_subject: Vec<u8>,
    raw_issuer: Vec<u8>,
    /// The issuer name, for messages.
    pub issuer: String,
    spki: Vec<u8>,
    version: u8,
    pub not_before: i64,
    pub not_after: i64,
    /// basicConstraints: (cA, pathLenConstraint).
    basic: Option<(bool, Option<u32>)>,
    /// A keyUsage extension with at least one bit set: does it include keyCertSign?
    key_usage_cert_sign: Option<bool>,
    /// `None` without an EKU extension.
    pub eku: Option<Vec<String>>,
    san_value: Option<Vec<u8>>,
    names: Vec<Name>,
    constraints: Option<NameConstraints>,
    unhandled_critical: Vec<String>,
    /// A critical SAN with only otherName/directoryName/… entries.
    san_unhandled: bool,
    /// The signature algorithm's digest is SHA-1 or MD5 (or older).
    insecure_signature: Option<&'static str>,
    /// policyConstraints requireExplicitPolicy (SkipCerts). Go 1.22+ runs RFC 5280 6.1
    /// policy processing and refuses a path where this takes effect with an empty policy
    /// tree; sealift does not evaluate certificate policies, so it refuses every path
    /// where this takes effect (stricter than Go) and ignores it where it does not.
    require_explicit_policy: Option<u32>,
}

impl std::fmt::Debug for ParsedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ParsedCert({:?})", self.subject)
    }
}

/// A TLV: tag, content, full encoding, and what follows it.
type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// One TLV with its full encoding.
fn element(input: &[u8]) -> Result<Element<'_>, DerError> {
    let (tag, content, rest) = der::tlv(input)?;
    Ok((tag, content, &input[..input.len() - rest.len()], rest))
}

/// requireExplicitPolicy's SkipCerts from a policyConstraints value (`SEQUENCE {
/// requireExplicitPolicy [0] IMPLICIT INTEGER OPTIONAL, inhibitPolicyMapping [1] ... }`);
/// `None` without it. A value that does not parse counts as `Some(0)`: it takes effect at
/// once (and is refused, see [`ParsedCert::require_explicit_policy`]).
fn explicit_policy_skip(value: &[u8]) -> Option<u32> {
    let Ok((content, _)) = der::expect(value, 0x30, "") else { return Some(0) };
    if content.is_empty() {
        return Some(0);
    }
    match der::tlv(content) {
        Ok((0x80, n, _)) if !n.is_empty() && n.len() <= 4 => Some(n.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b))),
        Ok((0x80, _, _)) | Err(_) => Some(0),
        Ok(_) => None,
    }
}

fn is_ia5(s: &[u8]) -> bool {
    s.iter().all(|b| *b < 0x80)
}

impl ParsedCert {
    /// Parses `x509`; `Err` carries the reason, naming the certificate.
    pub fn parse(x509: &X509Ref) -> Result<ParsedCert, Rejection> {
        let subject = subject_string(x509.subject_name());
        let named = |what: String| Rejection::MalformedCertificate(format!("certificate {subject:?}: {what}"));
        let der_bytes = x509.to_der().map_err(|e| named(e.to_string()))?;
        let d = |e: DerError| named(e.to_string());
        let (cert, _) = der::expect(&der_bytes, 0x30, "certificate is not a SEQUENCE").map_err(d)?;
        let (_, tbs, _, rest) = element(cert).map_err(d)?;
        let (outer_alg, _) = {
            let (tag, _, full, rest) = element(rest).map_err(d)?;
            if tag != 0x30 {
                return Err(named("signatureAlgorithm is not a SEQUENCE".into()));
            }
            (full, rest)
        };
        let mut t = tbs;
        let mut version = 1u8;
        if t.first() == Some(&0xa0) {
            let (_, v, _, rest) = element(t).map_err(d)?;
            let (int, _) = der::expect(v, 0x02, "version is not an INTEGER").map_err(d)?;
            version = match int {
                [0] => 1,
                [1] => 2,
                [2] => 3,
                _ => return Err(named("invalid version".into())),
            };
            t = rest;
        }
        let (serial, rest) = der::expect(t, 0x02, "serialNumber is not an INTEGER").map_err(d)?;
        if serial.is_empty() {
            return Err(named("empty serial number".into()));
        }
        if serial[0] & 0x80 != 0 {
            return Err(named("negative serial number (Go refuses it)".into()));
        }
        let (_, _, inner_alg, rest) = element(rest).map_err(d)?;
        if inner_alg != outer_alg {
            return Err(named("inner and outer signature algorithm identifiers differ".into()));
        }
        let (_, _, raw_issuer, rest) = element(rest).map_err(d)?;
        let (_, _, _validity, rest) = element(rest).map_err(d)?;
        let (_, _, raw_subject, rest) = element(rest).map_err(d)?;
        let (_, _, spki, _) = element(rest).map_err(d)?;

        let exts = der::extensions(&der_bytes).map_err(d)?;
        if !exts.is_empty() && version != 3 {
            return Err(named(format!("version {version} certificate carries extensions")));
        }
        let mut seen = std::collections::HashSet::new();
        let mut basic = None;
        let mut key_usage_cert_sign = None;
        let mut eku = None;
        let mut require_explicit_policy = None;
        let mut san_value = None;
        let mut names = Vec::new();
        let mut constraints = None;
        let mut unhandled_critical = Vec::new();
        let mut san_unhandled = false;
        for ext in &exts {
            if !seen.insert(ext.oid.clone()) {
                return Err(named(format!("duplicate extension {}", ext.oid)));
            }
            let bad = |what: &str| named(format!("malformed {what} extension"));
            match ext.oid.as_str() {
                "2.5.29.19" => basic = Some(basic_constraints(ext.value).ok_or_else(|| bad("basicConstraints"))?),
                "2.5.29.15" => key_usage_cert_sign = key_usage(ext.value).ok_or_else(|| bad("keyUsage"))?,
                "2.5.29.37" => {
                    let list = der::extended_key_usage(ext.value).map_err(|_| bad("extKeyUsage"))?;
                    if list.is_empty() {
                        return Err(named("empty extKeyUsage extension (RFC 5280 requires one purpose)".into()));
                    }
                    eku = Some(list);
                }
                "2.5.29.17" => {
                    names = sans(ext.value).map_err(named)?;
                    san_value = Some(ext.value.to_vec());
                    // Go: a critical SAN with no name it handles is unhandled. cosign
                    // clears that for the leaf (Fulcio's otherName SANs), see
                    // [`ParsedCert::unhandled_critical`].
                    if ext.critical && names.iter().all(|n| *n == Name::Other) {
                        san_unhandled = true;
                    }
                }
                "2.5.29.30" => {
                    let (nc, unhandled) = name_constraints(ext.value).map_err(named)?;
                    if unhandled && ext.critical {
                        unhandled_critical.push("2.5.29.30 (name constraints of a type Go does not handle)".into());
                    }
                    constraints = Some(nc);
                }
                "2.5.29.35" if ext.critical => {
                    return Err(named("authorityKeyIdentifier marked critical (RFC 5280 4.2.1.1)".into()))
                }
                "2.5.29.35" if der::expect(ext.value, 0x30, "").is_err() => return Err(bad("authorityKeyIdentifier")),
                "2.5.29.14" if ext.critical => {
                    return Err(named("subjectKeyIdentifier marked critical (RFC 5280 4.2.1.2)".into()))
                }
                "2.5.29.14" if der::expect(ext.value, 0x04, "").is_err() => return Err(bad("subjectKeyIdentifier")),
                AIA if ext.critical => {
                    return Err(named("authorityInfoAccess marked critical (RFC 5280 4.2.2.1)".into()))
                }
                AIA | "2.5.29.31" | "2.5.29.32" if !sequence_of_sequences(ext.value, ext.oid != "2.5.29.31") => {
                    return Err(bad(match ext.oid.as_str() {
                        AIA => "authorityInfoAccess",
                        "2.5.29.31" => "cRLDistributionPoints",
                        _ => "certificatePolicies",
                    }))
                }
                "2.5.29.36" => require_explicit_policy = explicit_policy_skip(ext.value),
                oid if ext.critical && !HANDLED.contains(&oid) => unhandled_critical.push(oid.to_owned()),
                _ => {}
            }
        }
        let insecure_signature =
            x509.signature_algorithm().object().nid().signature_algorithms().and_then(|a| match a.digest {
                Nid::SHA1 => Some("SHA-1"),
                Nid::MD5 => Some("MD5"),
                Nid::MD4 => Some("MD4"),
                Nid::MD2 => Some("MD2"),
                _ => None,
            });
        let not_before = unix_time(x509.not_before()).ok_or_else(|| named("malformed notBefore".into()))?;
        let not_after = unix_time(x509.not_after()).ok_or_else(|| named("malformed notAfter".into()))?;
        let first_san = names.iter().find_map(|n| match n {
            Name::Dns(v) | Name::Email(v) | Name::Uri(v) => Some(v.clone()),
            Name::Ip(ip) => Some(ip.to_string()),
            Name::Other => None,
        });
        let display = match (subject.is_empty(), first_san) {
            (false, _) => subject.clone(),
            (true, Some(san)) => format!("(empty subject, SAN {san})"),
            (true, None) => "(empty subject)".to_owned(),
        };
        Ok(ParsedCert {
            x509: x509.to_owned(),
            dn: subject,
            subject: display,
            raw_subject: raw_subject.to_vec(),
            raw_issuer: raw_issuer.to_vec(),
            issuer: subject_string(x509.issuer_name()),
            spki: spki.to_vec(),
            version,
            not_before,
            not_after,
            basic,
            key_usage_cert_sign,
            eku,
            require_explicit_policy,
            san_value,
            names,
            constraints,
            unhandled_critical,
            san_unhandled,
            insecure_signature,
            der: der_bytes,
        })
    }

    /// Go's `alreadyInChain`: same subject, same key and same SAN (or both none).
    fn same_entity(&self, other: &ParsedCert) -> bool {
        self.raw_subject == other.raw_subject && self.spki == other.spki && self.san_value == other.san_value
    }

    /// Does the EKU extension (if any) allow code signing?
    pub fn allows_code_signing(&self) -> bool {
        match &self.eku {
            None => true,
            Some(list) => list.iter().any(|o| o == OID_EKU_CODE_SIGNING || o == OID_EKU_ANY),
        }
    }

    /// sealift's key rule (and Go's parser's curves): RSA >= 2048, P-256/P-384/P-521
    /// by name, Ed25519.
    pub fn check_key(&self) -> Result<(), Rejection> {
        let weak = |key: &str| Rejection::WeakKey { subject: self.subject.clone(), key: key.to_owned() };
        let key = self
            .x509
            .public_key()
            .map_err(|e| Rejection::MalformedCertificate(format!("certificate {:?}: public key: {e}", self.subject)))?;
        match key.id() {
            Id::RSA if key.bits() < 2048 => Err(weak(&format!("RSA-{}", key.bits()))),
            Id::RSA | Id::ED25519 => Ok(()),
            Id::DSA => Err(weak(&format!("DSA-{}", key.bits()))),
            Id::EC => {
                let ec = key.ec_key().map_err(|e| {
                    Rejection::MalformedCertificate(format!("certificate {:?}: EC key: {e}", self.subject))
                })?;
                match ec.group().curve_name() {
                    Some(Nid::X9_62_PRIME256V1 | Nid::SECP384R1 | Nid::SECP521R1) => Ok(()),
                    Some(Nid::X9_62_PRIME192V1) => Err(weak("EC P-192")),
                    Some(other) => Err(Rejection::MalformedCertificate(format!(
                        "certificate {:?}: unsupported elliptic curve {}",
                        self.subject,
                        other.short_name().unwrap_or("?")
                    ))),
                    None => Err(Rejection::MalformedCertificate(format!(
                        "certificate {:?}: EC key with explicit curve parameters (Go accepts named curves only)",
                        self.subject
                    ))),
                }
            }
            other => Err(Rejection::MalformedCertificate(format!(
                "certificate {:?}: unsupported key type {}",
                self.subject,
                other.as_raw()
            ))),
        }
    }
}

fn basic_constraints(v: &[u8]) -> Option<(bool, Option<u32>)> {
    let (mut seq, rest) = der::expect(v, 0x30, "").ok()?;
    if !rest.is_empty() {
        return None;
    }
    let mut ca = false;
    if seq.first() == Some(&0x01) {
        let (b, r) = der::expect(seq, 0x01, "").ok()?;
        ca = b.first().is_some_and(|x| *x != 0);
        seq = r;
    }
    let mut pathlen = None;
    if !seq.is_empty() {
        let (int, r) = der::expect(seq, 0x02, "").ok()?;
        if !r.is_empty() || int.is_empty() || int[0] & 0x80 != 0 {
            return None;
        }
        let n = int.iter().fold(0u64, |acc, b| acc.saturating_mul(256).saturating_add(u64::from(*b)));
        pathlen = Some(u32::try_from(n).unwrap_or(u32::MAX));
    }
    Some((ca, pathlen))
}

/// `Some(None)` for a keyUsage with no bit set (Go treats it as absent),
/// `Some(Some(cert_sign))` otherwise.
fn key_usage(v: &[u8]) -> Option<Option<bool>> {
    let (bits, _) = der::expect(v, 0x03, "").ok()?;
    let (&unused, bytes) = bits.split_first()?;
    if unused > 7 || (bytes.is_empty() && unused != 0) {
        return None;
    }
    let first = bytes.first().copied().unwrap_or(0);
    let second = bytes.get(1).copied().unwrap_or(0) & 0x80;
    if first == 0 && second == 0 {
        return Some(None);
    }
    Some(Some(first & 0x04 != 0))
}

/// The SANs, validated as Go's `parseSANExtension` does.
fn sans(v: &[u8]) -> Result<Vec<Name>, String> {
    let (mut seq, rest) = der::expect(v, 0x30, "").map_err(|_| "subjectAltName is not a SEQUENCE".to_owned())?;
    if !rest.is_empty() {
        return Err("trailing data after subjectAltName".into());
    }
    let mut out = Vec::new();
    while !seq.is_empty() {
        let (tag, content, rest) = der::tlv(seq).map_err(|e| format!("subjectAltName: {e}"))?;
        seq = rest;
        let text = |what: &str| -> Result<String, String> {
            if !is_ia5(content) {
                return Err(format!("SAN {what} is malformed (not IA5/ASCII)"));
            }
            Ok(String::from_utf8_lossy(content).into_owned())
        };
        out.push(match tag {
            0x81 => Name::Email(text("rfc822Name")?),
            0x82 => Name::Dns(text("dNSName")?),
            0x86 => {
                let u = text("uniformResourceIdentifier")?;
                if !u.contains(':') {
                    return Err(format!("SAN URI {u:?} has no scheme"));
                }
                Name::Uri(u)
            }
            0x87 => Name::Ip(match content.len() {
                4 => std::net::IpAddr::from(<[u8; 4]>::try_from(content).expect("length checked")),
                16 => std::net::IpAddr::from(<[u8; 16]>::try_from(content).expect("length checked")),
                n => return Err(format!("SAN iPAddress of length {n} (must be 4 or 16)")),
            }),
            _ => Name::Other,
        });
    }
    Ok(out)
}

/// Go's `parseNameConstraintsExtension`: the constraints, and whether a subtree of a
/// type Go does not handle was present.
fn name_constraints(v: &[u8]) -> Result<(NameConstraints, bool), String> {
    let malformed = |what: &str| format!("malformed nameConstraints: {what}");
    let (mut seq, rest) = der::expect(v, 0x30, "").map_err(|_| malformed("not a SEQUENCE"))?;
    if !rest.is_empty() {
        return Err(malformed("trailing data"));
    }
    let mut nc = NameConstraints::default();
    let mut unhandled = false;
    let mut any = false;
    while !seq.is_empty() {
        let (tag, mut subtrees, rest) = der::tlv(seq).map_err(|e| malformed(&e.to_string()))?;
        seq = rest;
        let list = match tag {
            0xa0 => &mut nc.permitted,
            0xa1 => &mut nc.excluded,
            _ => return Err(malformed("unexpected field")),
        };
        while !subtrees.is_empty() {
            let (sub, rest) = der::expect(subtrees, 0x30, "").map_err(|_| malformed("subtree is not a SEQUENCE"))?;
            subtrees = rest;
            let (btag, base, _) = der::tlv(sub).map_err(|e| malformed(&e.to_string()))?;
            any = true;
            let text = || -> Result<String, String> {
                if !is_ia5(base) {
                    return Err(malformed("constraint is not IA5/ASCII"));
                }
                Ok(String::from_utf8_lossy(base).into_owned())
            };
            let domain_ok = |d: &str| names::reverse_labels(d.strip_prefix('.').unwrap_or(d)).is_some();
            match btag {
                0x82 => {
                    let dns = text()?;
                    if !domain_ok(&dns) {
                        return Err(format!("failed to parse dnsName constraint {dns:?}"));
                    }
                    list.push(Subtree::Dns(dns));
                }
                0x81 => {
                    let email = text()?;
                    let ok =
                        if email.contains('@') { names::parse_mailbox(&email).is_some() } else { domain_ok(&email) };
                    if !ok {
                        return Err(format!("failed to parse rfc822Name constraint {email:?}"));
                    }
                    list.push(Subtree::Email(email));
                }
                0x86 => {
                    let uri = text()?;
                    if uri.parse::<std::net::IpAddr>().is_ok() || !domain_ok(&uri) {
                        return Err(format!("failed to parse URI constraint {uri:?}"));
                    }
                    list.push(Subtree::Uri(uri));
                }
                0x87 => {
                    let half = base.len() / 2;
                    if base.len() != 8 && base.len() != 32 {
                        return Err(format!("IP constraint of length {} (must be 8 or 32)", base.len()));
                    }
                    let (net, mask) = base.split_at(half);
                    // Go's isValidIPMask: ones, then zeros.
                    let bits: Vec<bool> =
                        mask.iter().flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1)).collect();
                    if bits.windows(2).any(|w| !w[0] && w[1]) {
                        return Err(format!("IP constraint with a non-contiguous mask {mask:02x?}"));
                    }
                    list.push(Subtree::Ip(net.to_vec(), mask.to_vec()));
                }
                _ => unhandled = true,
            }
        }
    }
    if !any {
        return Err("empty name constraints extension".into());
    }
    Ok((nc, unhandled))
}

/// The pools a path is built from.
pub struct Pools<'a> {
    pub anchors: &'a [(ParsedCert, &'a TrustAnchor)],
    pub intermediates: &'a [ParsedCert],
}

struct Search<'a> {
    pools: Pools<'a>,
    at: i64,
    checks: usize,
    /// Complete paths (leaf first) with the index of their anchor.
    found: Vec<(Vec<&'a ParsedCert>, usize)>,
    /// Why the deepest rejected candidate was rejected: (depth, reason).
    hint: Option<(usize, Rejection)>,
}

impl<'a> Search<'a> {
    fn note(&mut self, depth: usize, r: Rejection) {
        if self.hint.as_ref().is_none_or(|(d, _)| depth > *d) {
            self.hint = Some((depth, r));
        }
    }

    /// Go's `CheckSignatureFrom` (child by parent) and `isValid` (parent appended to
    /// `chain`).
    fn consider(&mut self, chain: &[&'a ParsedCert], parent: &'a ParsedCert, is_root: bool) -> Result<(), Rejection> {
        let child = *chain.last().expect("chain starts with the leaf");
        if parent.version == 3 && parent.basic.is_none() || parent.basic.is_some_and(|(ca, _)| !ca) {
            return Err(Rejection::NotACa { subject: parent.subject.clone() });
        }
        if parent.key_usage_cert_sign == Some(false) {
            return Err(Rejection::IssuerKeyUsage { subject: parent.subject.clone() });
        }
        parent.check_key()?;
        if let Some(alg) = child.insecure_signature {
            return Err(Rejection::InsecureCertSignature { subject: child.subject.clone(), alg: alg.to_owned() });
        }
        let key = parent.x509.public_key().map_err(|e| {
            Rejection::MalformedCertificate(format!("certificate {:?}: public key: {e}", parent.subject))
        })?;
        let ok = child.x509.verify(&key).unwrap_or(false);
        let _ = openssl::error::ErrorStack::get();
        if !ok {
            return Err(Rejection::BadCertSignature { subject: child.subject.clone(), issuer: parent.subject.clone() });
        }
        check_common(parent, self.at, false)?;
        if let Some(nc) = &parent.constraints {
            let mut count = 0;
            for below in chain {
                names::check(nc, &below.names, &mut count).map_err(|reason| Rejection::NameConstraint {
                    subject: below.subject.clone(),
                    ca: parent.subject.clone(),
                    reason,
                })?;
            }
        }
        // RFC 5280 6.1.4 (i), 6.1.5 (a): SkipCerts r takes effect when at most r
        // certificates follow this one in the path.
        if parent.require_explicit_policy.is_some_and(|r| r as usize <= chain.len()) {
            return Err(explicit_policy_refused(parent));
        }
        if !is_root && parent.basic.is_none_or(|(ca, _)| !ca) {
            return Err(Rejection::NotACa { subject: parent.subject.clone() });
        }
        if let Some((_, Some(max))) = parent.basic {
            if chain.len() - 1 > max as usize {
                return Err(Rejection::PathLength { subject: parent.subject.clone() });
            }
        }
        Ok(())
    }

    fn build(&mut self, chain: Vec<&'a ParsedCert>) -> Result<(), Rejection> {
        let child = *chain.last().expect("chain starts with the leaf");
        let depth = chain.len();
        let anchors = self.pools.anchors;
        let intermediates = self.pools.intermediates;
        let roots = anchors.iter().enumerate().map(|(i, (c, _))| (c, Some(i)));
        let inter = intermediates.iter().map(|c| (c, None));
        let candidates: Vec<_> = roots.chain(inter).filter(|(p, _)| p.raw_subject == child.raw_issuer).collect();
        if candidates.is_empty() {
            self.note(depth, Rejection::NoIssuer { subject: child.subject.clone(), issuer: child.issuer.clone() });
        }
        for (parent, anchor) in candidates {
            if chain.iter().any(|c| c.same_entity(parent)) {
                continue;
            }
            self.checks += 1;
            if self.checks > MAX_SIGNATURE_CHECKS {
                return Err(Rejection::PathSearchLimit);
            }
            if let Err(r) = self.consider(&chain, parent, anchor.is_some()) {
                self.note(depth, r);
                continue;
            }
            let mut next = chain.clone();
            next.push(parent);
            match anchor {
                Some(i) => self.found.push((next, i)),
                None => self.build(next)?,
            }
        }
        Ok(())
    }
}

fn explicit_policy_refused(c: &ParsedCert) -> Rejection {
    Rejection::UnhandledCriticalExtension {
        subject: c.subject.clone(),
        oid: "2.5.29.36 (policyConstraints: requireExplicitPolicy takes effect in this path, and sealift does not evaluate certificate policies)".into(),
    }
}

/// Checks every certificate gets, leaf included: no unhandled critical extension, valid at
/// `at` with inclusive bounds.
fn check_common(c: &ParsedCert, at: i64, is_leaf: bool) -> Result<(), Rejection> {
    if let Some(oid) = c.unhandled_critical.first() {
        return Err(Rejection::UnhandledCriticalExtension { subject: c.subject.clone(), oid: oid.clone() });
    }
    if c.san_unhandled && !is_leaf {
        return Err(Rejection::UnhandledCriticalExtension {
            subject: c.subject.clone(),
            oid: "2.5.29.17 (a critical SAN with no name Go handles)".into(),
        });
    }
    if at < c.not_before {
        return Err(Rejection::NotYetValid { subject: c.subject.clone(), at: super::x509::rfc3339(at) });
    }
    if at > c.not_after {
        return Err(Rejection::Expired { subject: c.subject.clone(), at: super::x509::rfc3339(at) });
    }
    Ok(())
}

/// Builds and checks a path for `leaf` at unix time `at`; returns it leaf first, anchor
/// last. The reason for a failure is the one met deepest in the search.
pub fn build<'a>(leaf: &'a ParsedCert, pools: Pools<'a>, at: i64) -> Result<Vec<&'a ParsedCert>, Rejection> {
    leaf.check_key()?;
    check_common(leaf, at, true)?;
    // RFC 5280 6.1.5 (b): requireExplicitPolicy 0 in the end entity takes effect.
    if leaf.require_explicit_policy == Some(0) {
        return Err(explicit_policy_refused(leaf));
    }
    let anchors = pools.anchors;
    let mut search = Search { pools, at, checks: 0, found: Vec::new(), hint: None };
    // Go: a leaf that is itself a root is its own path.
    if let Some(i) = anchors.iter().position(|(a, _)| a.der == leaf.der) {
        search.found.push((vec![leaf], i));
    } else {
        // Out of signature-check budget: as Go, an error only when no path was found.
        let searched = search.build(vec![leaf]);
        if search.found.is_empty() {
            searched?;
        }
    }
    let mut first_failure = None;
    for (path, anchor) in &search.found {
        let outcome = path
            .iter()
            .find(|c| !c.allows_code_signing())
            .map(|c| {
                if std::ptr::eq(*c, leaf) {
                    Rejection::EkuNotCodeSigning
                } else {
                    Rejection::CaEkuNotCodeSigning { subject: c.subject.clone() }
                }
            })
            .or_else(|| {
                let (cert, a) = &anchors[*anchor];
                let (start, end) = a.valid_for?;
                (at < start || end.is_some_and(|e| at > e)).then(|| Rejection::AnchorOutsideValidity {
                    subject: cert.subject.clone(),
                    at: super::x509::rfc3339(at),
                })
            });
        match outcome {
            None => return Ok(path.clone()),
            Some(r) => {
                first_failure.get_or_insert(r);
            }
        }
    }
    Err(first_failure.or(search.hint.map(|(_, r)| r)).unwrap_or(Rejection::UntrustedRoot))
}
