//! The cosign "simple signing" payload: the exact bytes cosign signs, and a strict parser
//! for payloads received from untrusted places.
//!
//! Writing follows Go's `encoding/json` (what cosign uses): compact, struct field order
//! `critical{identity,image,type}`, `optional`, map keys sorted, `<` `>` `&` U+2028 U+2029
//! escaped, no trailing newline. Reading follows containers/image
//! (`signature/internal/sigstore_payload.go`): unknown or duplicate fields inside
//! `critical` are rejected, `critical.type` must be the cosign type, `optional` is `null`
//! or an object with no key twice (see [`Optional`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::oci::Digest;

/// `critical.type` of every cosign image signature payload.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

/// Builds the payload cosign would sign for `docker_reference` (the repository, without tag
/// or digest, for cosign-made signatures) and `digest`, with `-a key=value` annotations.
pub fn simple_signing_payload(
    docker_reference: &str,
    digest: &Digest,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str("{\"critical\":{\"identity\":{\"docker-reference\":");
    go_json_string(&mut out, docker_reference);
    out.push_str("},\"image\":{\"docker-manifest-digest\":");
    go_json_string(&mut out, &digest.to_string());
    out.push_str("},\"type\":");
    go_json_string(&mut out, COSIGN_SIGNATURE_TYPE);
    out.push_str("},\"optional\":");
    if annotations.is_empty() {
        // cosign's `Annotations` is a nil map without `-a`: Go marshals it as `null`.
        out.push_str("null");
    } else {
        out.push('{');
        for (i, (k, v)) in annotations.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            go_json_string(&mut out, k);
            out.push(':');
            go_json_string(&mut out, v);
        }
        out.push('}');
    }
    out.push('}');
    out.into_bytes()
}

/// Appends `s` as a JSON string the way Go's `encoding/json` (HTML-safe, Go >= 1.22) does.
fn go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Go 1.22 changed \b and \f from \u0008/\u000c to the short forms.
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A parsed simple-signing payload. The values are *claims* until the signature over the
/// bytes they came from has been verified.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleSigning {
    pub docker_reference: String,
    /// The digest the signature binds to.
    pub docker_manifest_digest: Digest,
    /// `optional` as received (`None` for `null` or absent).
    pub optional: Option<Optional>,
}

/// At most this many `optional` entries (cosign writes one per `-a`).
pub const MAX_OPTIONAL_ENTRIES: usize = 1000;

/// The payload's `optional` object: cosign's annotations (`-a key=value`, strings) and what
/// other signers put there (containers/image: `creator`, a string, and `timestamp`, a
/// number). No key twice, at most [`MAX_OPTIONAL_ENTRIES`]; an array or object value is
/// checked to be JSON but not kept, so the parse holds no tree of untrusted depth.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Optional {
    entries: BTreeMap<String, OptionalValue>,
}

/// One value of [`Optional`].
#[derive(Debug, Clone, PartialEq)]
pub enum OptionalValue {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
    Null,
    /// An array or an object: valid JSON, not kept.
    Nested,
}

impl Optional {
    pub fn get(&self, key: &str) -> Option<&OptionalValue> {
        self.entries.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &OptionalValue)> {
        self.entries.iter()
    }
}

impl<'de> Deserialize<'de> for Optional {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Optional;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of annotations")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Optional, A::Error> {
                let mut entries = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.len() == MAX_OPTIONAL_ENTRIES {
                        return Err(de::Error::custom(format_args!(
                            "optional has more than {MAX_OPTIONAL_ENTRIES} entries"
                        )));
                    }
                    let value = map.next_value::<OptionalValue>()?;
                    if entries.contains_key(&key) {
                        return Err(de::Error::custom(format_args!("duplicate optional key {key:?}")));
                    }
                    entries.insert(key, value);
                }
                Ok(Optional { entries })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for OptionalValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OptionalValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OptionalValue, E> {
                Ok(OptionalValue::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<OptionalValue, E> {
                Ok(OptionalValue::String(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<OptionalValue, E> {
                Ok(OptionalValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<OptionalValue, E> {
                Ok(OptionalValue::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OptionalValue, E> {
                Ok(OptionalValue::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<OptionalValue, E> {
                // JSON has no NaN or infinity, so the parser never hands one over.
                serde_json::Number::from_f64(v).map(OptionalValue::Number).ok_or_else(|| E::custom("not a JSON number"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<OptionalValue, E> {
                Ok(OptionalValue::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OptionalValue, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(OptionalValue::Nested)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OptionalValue, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(OptionalValue::Nested)
            }
        }
        d.deserialize_any(V)
    }
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is not a strict simple-signing document: {reason}")]
    Json { reason: String },
    #[error("payload type {found:?} is not {COSIGN_SIGNATURE_TYPE:?}")]
    WrongType { found: String },
    #[error("payload docker-manifest-digest {found:?} is not a sha256 digest")]
    BadDigest { found: String },
}

// serde's derive rejects duplicate fields by itself; `deny_unknown_fields` rejects the rest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayload {
    critical: RawCritical,
    #[serde(default)]
    optional: Option<Optional>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCritical {
    identity: RawIdentity,
    image: RawImage,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// Parses an untrusted payload strictly. Call only after its signature verified, and keep
/// using the original bytes (never re-serialize).
pub fn parse_payload(untrusted_payload: &[u8]) -> Result<SimpleSigning, PayloadError> {
    let raw: RawPayload =
        serde_json::from_slice(untrusted_payload).map_err(|e| PayloadError::Json { reason: e.to_string() })?;
    if raw.critical.kind != COSIGN_SIGNATURE_TYPE {
        return Err(PayloadError::WrongType { found: raw.critical.kind });
    }
    let found = raw.critical.image.docker_manifest_digest;
    let docker_manifest_digest = found.parse::<Digest>().map_err(|_| PayloadError::BadDigest { found })?;
    Ok(SimpleSigning {
        docker_reference: raw.critical.identity.docker_reference,
        docker_manifest_digest,
        optional: raw.optional,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const K1: &[u8] =
        include_bytes!("../../tests/data/cosign-real/containers-image/dir-img-cosign-valid/signature-1/payload.bin");

    #[test]
    fn k1_payload_bytes_exact() {
        let d: Digest = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00".parse().unwrap();
        let built = simple_signing_payload("192.168.64.2:5000/cosign-signed-single-sample", &d, &BTreeMap::new());
        assert_eq!(built, K1);
        let parsed = parse_payload(K1).unwrap();
        assert_eq!(parsed.docker_manifest_digest, d);
        assert_eq!(parsed.optional, None);
    }

    #[test]
    fn annotations_sorted_and_go_escaped() {
        let d = Digest::of(b"x");
        let mut a = BTreeMap::new();
        a.insert("z".to_owned(), "<a&b>\u{2028}".to_owned());
        a.insert("a".to_owned(), "q\"\\\n\u{1}".to_owned());
        let p = String::from_utf8(simple_signing_payload("r", &d, &a)).unwrap();
        assert!(p.ends_with(r#""optional":{"a":"q\"\\\n\u0001","z":"\u003ca\u0026b\u003e\u2028"}}"#), "{p}");
        let parsed = parse_payload(p.as_bytes()).unwrap();
        let optional = parsed.optional.unwrap();
        assert_eq!(optional.get("z"), Some(&OptionalValue::String("<a&b>\u{2028}".into())));
        assert_eq!(optional.iter().count(), 2);
    }

    /// Every payload cosign and containers/image wrote in tests/data parses, and `optional`
    /// holds what they put there.
    #[test]
    fn real_payloads_parse_with_their_optional() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign-real");
        let mut seen = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("payload.")) {
                    let bytes = std::fs::read(&path).unwrap();
                    if !bytes.starts_with(b"{") {
                        continue; // containers-image's "other attachment": not a payload at all
                    }
                    let parsed = parse_payload(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    seen.push(parsed.optional);
                }
            }
        }
        assert!(seen.len() >= 12, "{}", seen.len());
        let creator = seen.iter().flatten().find(|o| o.get("creator").is_some()).expect("a containers/image payload");
        assert_eq!(creator.get("creator"), Some(&OptionalValue::String("containers/image 5.21.2-dev".into())));
        assert_eq!(creator.get("timestamp"), Some(&OptionalValue::Number(1657296609.into())));
    }

    #[test]
    fn optional_is_typed_and_bounded() {
        let d = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";
        let t = COSIGN_SIGNATURE_TYPE;
        let with = |optional: &str| {
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"{t}"}},"optional":{optional}}}"#
            )
        };
        let o =
            parse_payload(with(r#"{"s":"v","n":-1.5,"b":true,"z":null,"a":[1,{"x":[]}],"o":{"k":"v"}}"#).as_bytes())
                .unwrap()
                .optional
                .unwrap();
        assert_eq!(o.get("s"), Some(&OptionalValue::String("v".into())));
        assert_eq!(o.get("n"), Some(&OptionalValue::Number(serde_json::Number::from_f64(-1.5).unwrap())));
        assert_eq!(o.get("b"), Some(&OptionalValue::Bool(true)));
        assert_eq!(o.get("z"), Some(&OptionalValue::Null));
        assert_eq!((o.get("a"), o.get("o")), (Some(&OptionalValue::Nested), Some(&OptionalValue::Nested)));
        assert_eq!(parse_payload(with("{}").as_bytes()).unwrap().optional, Some(Optional::default()));
        let many: Vec<String> = (0..=MAX_OPTIONAL_ENTRIES).map(|i| format!(r#""k{i}":"v""#)).collect();
        let at_cap = format!("{{{}}}", many[..MAX_OPTIONAL_ENTRIES].join(","));
        assert_eq!(
            parse_payload(with(&at_cap).as_bytes()).unwrap().optional.unwrap().iter().count(),
            MAX_OPTIONAL_ENTRIES
        );
        for bad in [
            r#"{"k":"v","k":"w"}"#.to_owned(),
            format!("{{{}}}", many.join(",")),
            r#""annotations""#.to_owned(),
            "[]".to_owned(),
            "1".to_owned(),
            r#"{"k":[1,]}"#.to_owned(),
        ] {
            assert!(matches!(parse_payload(with(&bad).as_bytes()), Err(PayloadError::Json { .. })), "{bad}");
        }
    }

    #[test]
    fn strict_parser_rejects() {
        let d = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";
        let t = COSIGN_SIGNATURE_TYPE;
        let cases = [
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"{t}","extra":1}},"optional":null}}"#
            ),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"{t}","type":"{t}"}},"optional":null}}"#
            ),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"r","x":1}},"image":{{"docker-manifest-digest":"{d}"}},"type":"{t}"}}}}"#
            ),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{d}"}}}}}}"#
            ),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"{t}"}},"top":1}}"#
            ),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"{t}"}}}} x"#
            ),
        ];
        for c in &cases {
            assert!(matches!(parse_payload(c.as_bytes()), Err(PayloadError::Json { .. })), "{c}");
        }
        let wrong = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"other"}}}}"#
        );
        assert_eq!(parse_payload(wrong.as_bytes()), Err(PayloadError::WrongType { found: "other".into() }));
        let bad = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"md5:1"}},"type":"{t}"}}}}"#
        );
        assert_eq!(parse_payload(bad.as_bytes()), Err(PayloadError::BadDigest { found: "md5:1".into() }));
    }
}
