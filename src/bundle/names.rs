//! The allow-list of names a bundle (and a layout directory) may contain, and their caps.
//!
//! Shared by the writer (which refuses to produce anything else) and the reader (which
//! refuses to accept anything else), so the two can never disagree.

use crate::oci::Digest;

pub const OCI_LAYOUT: &str = "oci-layout";
pub const INDEX_JSON: &str = "index.json";
/// The signed bundle index and its signature (contents defined by the seal module).
pub const SEAL_INDEX: &str = "sealift-index.json";
pub const SEAL_SIG: &str = "sealift-index.json.sig";

/// The `oci-layout` file `save` writes, byte for byte as go-containerregistry writes it.
pub const OCI_LAYOUT_BYTES: &[u8] = b"{\n    \"imageLayoutVersion\": \"1.0.0\"\n}";

pub const MAX_OCI_LAYOUT: u64 = 4 * 1024;
/// `index.json` is parsed as an index, which is capped as any manifest is (4 MiB); the
/// reader refuses a bigger one from its tar header, before reading it.
pub const MAX_INDEX_JSON: u64 = crate::oci::manifest::MAX_MANIFEST_BYTES as u64;
/// The seal index lists every blob (about 100 bytes each): 8 MiB is some 80,000 blobs.
/// With `index.json` it counts against the bundle's metadata budget
/// ([`crate::content::budget`]).
pub const MAX_SEAL_INDEX: u64 = 8 * 1024 * 1024;
pub const MAX_SEAL_SIG: u64 = 1024 * 1024;

/// What an allowed name stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryName {
    Meta(MetaFile),
    Blob(Digest),
    /// `.`, `blobs`, `blobs/sha256` (directory entries a `tar` of a layout dir contains).
    Dir,
}

/// A file of the layout that is not a blob: small, read whole, each under its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaFile {
    OciLayout,
    Index,
    /// One of [`SEAL_INDEX`], [`SEAL_SIG`].
    Seal(&'static str),
}

impl MetaFile {
    /// The size cap of the file.
    pub fn cap(self) -> u64 {
        match self {
            MetaFile::OciLayout => MAX_OCI_LAYOUT,
            MetaFile::Index => MAX_INDEX_JSON,
            MetaFile::Seal(n) if n == SEAL_SIG => MAX_SEAL_SIG,
            MetaFile::Seal(_) => MAX_SEAL_INDEX,
        }
    }

    /// The file's name in the bundle.
    pub fn name(self) -> &'static str {
        match self {
            MetaFile::OciLayout => OCI_LAYOUT,
            MetaFile::Index => INDEX_JSON,
            MetaFile::Seal(n) => n,
        }
    }
}

impl EntryName {
    /// The canonical name in the bundle (no `./`, no trailing `/`).
    pub fn canonical(&self) -> String {
        match self {
            EntryName::Meta(f) => f.name().to_owned(),
            EntryName::Blob(d) => d.blob_path(),
            EntryName::Dir => String::new(),
        }
    }

    /// The order rank sealift's writer keeps: layout, index, seal index, seal sig, blobs.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            EntryName::Meta(MetaFile::OciLayout) => 0,
            EntryName::Meta(MetaFile::Index) => 1,
            EntryName::Meta(MetaFile::Seal(n)) if *n == SEAL_INDEX => 2,
            EntryName::Meta(MetaFile::Seal(_)) => 3,
            EntryName::Blob(_) | EntryName::Dir => 4,
        }
    }
}

/// Classifies a path from a tar header or a caller. `Err` carries the reason it is refused.
pub fn classify(raw: &str) -> Result<EntryName, &'static str> {
    if raw.is_empty() {
        return Err("empty name");
    }
    if raw.starts_with('/') {
        return Err("absolute path");
    }
    if raw.contains('\\') {
        return Err("backslash in name");
    }
    if raw.contains('\0') {
        return Err("NUL in name");
    }
    if raw.split('/').any(|c| c == "..") {
        return Err("parent-directory (..) component");
    }
    let name = raw.strip_prefix("./").unwrap_or(raw);
    match name {
        "" | "." | "blobs" | "blobs/" | "blobs/sha256" | "blobs/sha256/" => return Ok(EntryName::Dir),
        OCI_LAYOUT => return Ok(EntryName::Meta(MetaFile::OciLayout)),
        INDEX_JSON => return Ok(EntryName::Meta(MetaFile::Index)),
        SEAL_INDEX => return Ok(EntryName::Meta(MetaFile::Seal(SEAL_INDEX))),
        SEAL_SIG => return Ok(EntryName::Meta(MetaFile::Seal(SEAL_SIG))),
        _ => {}
    }
    if let Some(hex) = name.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex).map(EntryName::Blob).map_err(|_| "blob name is not 64 lowercase hex");
    }
    if name.starts_with("blobs/") {
        return Err("only sha256 blobs are accepted");
    }
    Err("not part of an OCI image layout")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn allow_list() {
        assert_eq!(classify("oci-layout"), Ok(EntryName::Meta(MetaFile::OciLayout)));
        assert_eq!(classify("./index.json"), Ok(EntryName::Meta(MetaFile::Index)));
        assert_eq!(classify("sealift-index.json.sig"), Ok(EntryName::Meta(MetaFile::Seal(SEAL_SIG))));
        assert_eq!(classify(&format!("./blobs/sha256/{HEX}")), Ok(EntryName::Blob(Digest::from_hex(HEX).unwrap())));
        assert_eq!(classify("blobs/sha256/"), Ok(EntryName::Dir));
        assert_eq!(classify("./"), Ok(EntryName::Dir));
        for bad in [
            "/index.json",
            "../index.json",
            "blobs/../index.json",
            &format!("blobs/sha256/{}", HEX.to_uppercase()),
            &format!("blobs/sha512/{HEX}"),
            &format!("blobs/sha256/{HEX}/x"),
            "etc/passwd",
            "index.json/",
            ".//index.json",
            "",
        ] {
            assert!(classify(bad).is_err(), "{bad:?} accepted");
        }
    }
}
