//! The memory budget of a bundle's metadata (issue 7): what `load`, `inspect`, `audit` and
//! `verify --bundle` hold before the first layer, so that no bundle, however hostile, takes
//! them past 64 MiB of memory (docs/bundle.md, "Memory").
//!
//! Two things cost memory, and each is counted before it is taken:
//! - **Bytes held**: `index.json`, the seal files, every manifest and every small metadata
//!   blob, kept as read (the seal names their digests; manifests are pushed byte for byte).
//! - **JSON values parsed**: `index.json`, the seal index and every manifest are parsed into
//!   typed structs, where each string and map entry costs tens of bytes of allocations
//!   however short it is in the JSON (`"a1":""` is 7 bytes). A 4 MiB `index.json` of tiny
//!   annotations parsed into 100 MiB before this budget. [`json_values`] counts a bound on
//!   the values of a document from its bytes (no parse), and the document is refused before
//!   its parse if the count would exceed [`MAX_JSON_VALUES`] for the bundle.

/// Bytes of metadata held in memory for one bundle, all together: `index.json`, the seal
/// files, manifests and metadata blobs as read, and each JSON document once more for its
/// parsed strings (blobs no reader reads, such as SBOMs, and configs over 1 MiB of a
/// seekable bundle stay in the file and do not count).
pub const MAX_HELD_BYTES: u64 = 16 * 1024 * 1024;

/// JSON values (strings, numbers, objects, arrays, map keys) parsed from one bundle's
/// `index.json`, seal index and manifests, all together. A real image with a signature, an
/// attestation and an SBOM parses into a few hundred.
pub const MAX_JSON_VALUES: u64 = 160_000;

/// A bundle's metadata over its memory budget: refused, with what tipped it over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    #[error("bundle metadata held in memory would exceed {MAX_HELD_BYTES} bytes at {what} ({size} bytes; SBOMs, attachment configs and configs over 1 MiB are held only from a compressed bundle or a pipe: decompress it and load the .tar)")]
    Bytes { what: String, size: u64 },
    #[error("bundle metadata would exceed {MAX_JSON_VALUES} parsed JSON values at {what} (at most {values} values in its {size} bytes)")]
    Values { what: String, values: u64, size: u64 },
}

/// What one bundle's metadata has taken so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MetadataBudget {
    bytes: u64,
    values: u64,
}

impl MetadataBudget {
    /// Counts `size` bytes about to be held (a blob that is not parsed as JSON here).
    pub fn hold(&mut self, what: impl std::fmt::Display, size: u64) -> Result<(), BudgetError> {
        let bytes = self.bytes.saturating_add(size);
        if bytes > MAX_HELD_BYTES {
            return Err(BudgetError::Bytes { what: what.to_string(), size });
        }
        self.bytes = bytes;
        Ok(())
    }

    /// Counts a JSON document about to be parsed (its bytes as read are counted by
    /// [`MetadataBudget::hold`] where they are read), before the parse: a bound on its
    /// values, and its size again, since the parsed strings can copy all of it.
    pub fn parse(&mut self, what: impl std::fmt::Display, json: &[u8]) -> Result<(), BudgetError> {
        let n = json_values(json);
        let values = self.values.saturating_add(n);
        if values > MAX_JSON_VALUES {
            return Err(BudgetError::Values { what: what.to_string(), values: n, size: json.len() as u64 });
        }
        self.hold(what, json.len() as u64)?;
        self.values = values;
        Ok(())
    }

    /// Both: a JSON document about to be held and parsed.
    pub fn hold_json(&mut self, what: impl std::fmt::Display, json: &[u8]) -> Result<(), BudgetError> {
        let what = what.to_string();
        let before = self.clone();
        self.hold(&what, json.len() as u64)?;
        self.parse(&what, json).inspect_err(|_| *self = before)
    }

    /// JSON values the bundle may still parse.
    pub fn values_left(&self) -> u64 {
        MAX_JSON_VALUES - self.values
    }

    /// Bytes held so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// JSON values counted so far.
    pub fn values(&self) -> u64 {
        self.values
    }
}

/// An upper bound on the JSON values a document parses into, from its bytes alone: in valid
/// JSON every value but the first, and every object key, follows a `{`, `[`, `,` or `:`
/// outside a string. Invalid JSON fails its parse at or before the point this counts to.
pub fn json_values(json: &[u8]) -> u64 {
    let (mut n, mut in_string, mut escaped) = (1u64, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' | b',' | b':' => n += 1,
                _ => {}
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound is never below what serde_json finds, on documents of every shape.
    #[test]
    fn counts_at_least_every_value_and_key() {
        fn exact(v: &serde_json::Value) -> u64 {
            1 + match v {
                serde_json::Value::Array(a) => a.iter().map(exact).sum(),
                serde_json::Value::Object(o) => o.values().map(|v| 1 + exact(v)).sum(),
                _ => 0,
            }
        }
        for doc in [
            r#"1"#,
            r#""a,b:{[""#,
            r#"{}"#,
            r#"[]"#,
            r#"{"a":""}"#,
            r#"{"a":"","b":[1,2,{"c":null}]}"#,
            r#"{"k\"e,y":"v\\","x":[[],[{}]],"s":"\\\"[,"}"#,
            r#"[1, 2 , 3,"4"]"#,
        ] {
            let v: serde_json::Value = serde_json::from_str(doc).unwrap();
            assert!(json_values(doc.as_bytes()) >= exact(&v), "{doc}: {} < {}", json_values(doc.as_bytes()), exact(&v));
        }
        // Tight on the hostile shape: many tiny annotations.
        assert_eq!(json_values(br#"{"a":"","b":""}"#), 5);
    }

    #[test]
    fn refuses_before_the_limit_is_passed() {
        let mut b = MetadataBudget::default();
        b.hold("blob a", MAX_HELD_BYTES - 10).unwrap();
        assert!(matches!(b.hold("blob b", 11), Err(BudgetError::Bytes { size: 11, .. })));
        b.hold("blob c", 10).unwrap();
        assert_eq!(b.bytes(), MAX_HELD_BYTES);

        let mut b = MetadataBudget::default();
        let many = format!("[{}0]", "0,".repeat(MAX_JSON_VALUES as usize - 2));
        b.hold_json("index.json", many.as_bytes()).unwrap();
        assert_eq!(b.values(), MAX_JSON_VALUES);
        let e = b.hold_json("manifest m", b"[]").unwrap_err();
        assert!(e.to_string().contains("at manifest m"), "{e}");
        // A refused document is not counted.
        assert_eq!((b.values(), b.bytes()), (MAX_JSON_VALUES, 2 * many.len() as u64));
    }
}
