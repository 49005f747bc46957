//! A minimal DER reader for the certificate fields OpenSSL's Rust binding does not expose:
//! OtherName SANs, extended key usage and the Fulcio OIDC-issuer extensions.
//!
//! It walks only what it needs (TBSCertificate → extensions) and refuses anything
//! malformed instead of guessing.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed DER: {0}")]
pub struct DerError(pub &'static str);

/// One TLV: tag byte, content, and what follows it.
pub(crate) fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or(DerError("truncated tag"))?;
    if tag & 0x1f == 0x1f {
        return Err(DerError("high tag numbers are not used in certificates"));
    }
    let (&first, rest) = rest.split_first().ok_or(DerError("truncated length"))?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(DerError("bad length"));
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(DerError("content longer than input"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

pub(crate) fn expect<'a>(input: &'a [u8], want: u8, what: &'static str) -> Result<(&'a [u8], &'a [u8]), DerError> {
    let (tag, content, rest) = tlv(input)?;
    if tag != want {
        return Err(DerError(what));
    }
    Ok((content, rest))
}

/// Dotted form of an OBJECT IDENTIFIER's content.
pub fn oid_to_string(content: &[u8]) -> Result<String, DerError> {
    let mut parts: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, b) in content.iter().enumerate() {
        if acc > (u64::MAX >> 7) {
            return Err(DerError("OID arc too large"));
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let (a, b) = if acc < 80 { (acc / 40, acc % 40) } else { (2, acc - 80) };
                parts.push(a);
                parts.push(b);
            } else {
                parts.push(acc);
            }
            acc = 0;
        } else if i == content.len() - 1 {
            return Err(DerError("truncated OID"));
        }
    }
    if parts.is_empty() {
        return Err(DerError("empty OID"));
    }
    Ok(parts.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
}

/// One certificate extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension<'a> {
    pub oid: String,
    pub critical: bool,
    pub value: &'a [u8],
}

/// The extensions of a DER certificate (empty for v1 certificates).
pub fn extensions(cert_der: &[u8]) -> Result<Vec<Extension<'_>>, DerError> {
    let (cert, _) = expect(cert_der, 0x30, "certificate is not a SEQUENCE")?;
    let (mut tbs, _) = expect(cert, 0x30, "tbsCertificate is not a SEQUENCE")?;
    while !tbs.is_empty() {
        let (tag, content, rest) = tlv(tbs)?;
        tbs = rest;
        if tag == 0xa3 {
            let (mut seq, _) = expect(content, 0x30, "extensions are not a SEQUENCE")?;
            let mut out = Vec::new();
            while !seq.is_empty() {
                let (ext, rest) = expect(seq, 0x30, "extension is not a SEQUENCE")?;
                seq = rest;
                let (oid, mut ext) = expect(ext, 0x06, "extension has no OID")?;
                let mut critical = false;
                if ext.first() == Some(&0x01) {
                    let (b, rest) = expect(ext, 0x01, "bad critical flag")?;
                    critical = b.first().is_some_and(|v| *v != 0);
                    ext = rest;
                }
                let (value, _) = expect(ext, 0x04, "extension value is not an OCTET STRING")?;
                out.push(Extension { oid: oid_to_string(oid)?, critical, value });
            }
            return Ok(out);
        }
    }
    Ok(Vec::new())
}

/// A subjectAltName entry sealift can match identities against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Email(String),
    Uri(String),
    Dns(String),
    Ip(IpAddr),
    /// OtherName with a UTF8String value (Fulcio's 1.3.6.1.4.1.57264.1.7 username).
    OtherName {
        oid: String,
        value: String,
    },
}

impl San {
    /// The string identities are matched against.
    pub fn value(&self) -> String {
        match self {
            San::Email(s) | San::Uri(s) | San::Dns(s) => s.clone(),
            San::Ip(ip) => ip.to_string(),
            San::OtherName { value, .. } => value.clone(),
        }
    }
}

fn text(bytes: &[u8]) -> Result<String, DerError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DerError("string is not UTF-8"))
}

/// Parses a GeneralNames SEQUENCE (the SAN extension value). Unknown name forms are skipped.
pub fn subject_alt_names(value: &[u8]) -> Result<Vec<San>, DerError> {
    let (mut seq, _) = expect(value, 0x30, "SAN is not a SEQUENCE")?;
    let mut out = Vec::new();
    while !seq.is_empty() {
        let (tag, content, rest) = tlv(seq)?;
        seq = rest;
        match tag {
            0x81 => out.push(San::Email(text(content)?)),
            0x82 => out.push(San::Dns(text(content)?)),
            0x86 => out.push(San::Uri(text(content)?)),
            0x87 => out.push(San::Ip(match content.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(content).expect("length checked")),
                16 => IpAddr::from(<[u8; 16]>::try_from(content).expect("length checked")),
                _ => return Err(DerError("IP SAN is neither 4 nor 16 bytes")),
            })),
            0xa0 => {
                let (oid, rest) = expect(content, 0x06, "otherName has no OID")?;
                let (explicit, _) = expect(rest, 0xa0, "otherName value is not [0]")?;
                let (tag, v, _) = tlv(explicit)?;
                if tag == 0x0c {
                    out.push(San::OtherName { oid: oid_to_string(oid)?, value: text(v)? });
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The OIDs of an extendedKeyUsage extension value.
pub fn extended_key_usage(value: &[u8]) -> Result<Vec<String>, DerError> {
    let (mut seq, _) = expect(value, 0x30, "EKU is not a SEQUENCE")?;
    let mut out = Vec::new();
    while !seq.is_empty() {
        let (oid, rest) = expect(seq, 0x06, "EKU entry is not an OID")?;
        out.push(oid_to_string(oid)?);
        seq = rest;
    }
    Ok(out)
}

/// A DER UTF8String's text (Fulcio's 1.3.6.1.4.1.57264.1.8 issuer).
pub fn utf8_string(value: &[u8]) -> Result<String, DerError> {
    let (content, _) = expect(value, 0x0c, "not a UTF8String")?;
    text(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids() {
        assert_eq!(oid_to_string(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03]).unwrap(), "1.3.6.1.5.5.7.3.3");
        assert_eq!(
            oid_to_string(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x01]).unwrap(),
            "1.3.6.1.4.1.57264.1.1"
        );
        assert!(oid_to_string(&[0x2b, 0x86]).is_err());
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [&[][..], &[0x30], &[0x30, 0x85, 1, 1, 1, 1, 1], &[0x30, 0x05, 0x01], &[0x1f, 0x00]] {
            assert!(extensions(bad).is_err());
        }
        assert!(subject_alt_names(&[0x30, 0x03, 0x87, 0x01, 0x00]).is_err());
    }

    #[test]
    fn san_forms() {
        // email a@b, otherName 1.3.6.1.4.1.57264.1.7 = "u"
        let v = [
            0x30, 0x18, 0x81, 0x03, b'a', b'@', b'b', 0xa0, 0x11, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf,
            0x30, 0x01, 0x07, 0xa0, 0x03, 0x0c, 0x01, b'u',
        ];
        assert_eq!(
            subject_alt_names(&v).unwrap(),
            vec![San::Email("a@b".into()), San::OtherName { oid: "1.3.6.1.4.1.57264.1.7".into(), value: "u".into() }]
        );
    }
}
