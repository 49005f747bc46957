//! Reading an OCI image layout directory: `oci-layout` checked, `index.json` read (capped),
//! blobs read or streamed through a verifying reader.
//!
//! Blob files must be regular files inside the layout: a symlink is followed only if it
//! resolves to a regular file under the layout's root, so a crafted layout cannot make
//! sealift read (and then push) `/etc/shadow`.

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::bundle::names::{self, EntryName, MetaFile};
use crate::bundle::reader::check_oci_layout;
use crate::bundle::{BundleError, VerifyingReader};
use crate::oci::Digest;

/// An opened layout directory.
#[derive(Debug)]
pub struct LayoutDir {
    root: PathBuf,
    /// `root` with symlinks resolved, for the containment check.
    canonical_root: PathBuf,
    index: Vec<u8>,
}

/// A blob file being read; fails at its end if the content does not match.
pub type BlobReader = VerifyingReader<BufReader<File>>;

impl LayoutDir {
    /// Opens `dir`, checking `oci-layout` and reading `index.json`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, BundleError> {
        let root = dir.into();
        let canonical_root = fs::canonicalize(&root).map_err(|e| BundleError::io(&root, e))?;
        let mut layout = LayoutDir { root, canonical_root, index: Vec::new() };
        let oci_layout = layout.read_small(names::OCI_LAYOUT, names::MAX_OCI_LAYOUT)?;
        check_oci_layout(&oci_layout)?;
        layout.index = layout.read_small(names::INDEX_JSON, names::MAX_INDEX_JSON)?;
        Ok(layout)
    }

    /// Starts writing a layout directory (same as [`super::LayoutWriter::create`]).
    pub fn create(dir: impl Into<PathBuf>) -> Result<super::LayoutWriter, BundleError> {
        super::LayoutWriter::create(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The exact bytes of `index.json`.
    pub fn index_bytes(&self) -> &[u8] {
        &self.index
    }

    /// Reads a seal file (`sealift-index.json`, `.sig`) if present.
    pub fn read_seal(&self, name: &str) -> Result<Option<Vec<u8>>, BundleError> {
        let file = match names::classify(name) {
            Ok(EntryName::Meta(file @ MetaFile::Seal(_))) => file,
            _ => return Err(BundleError::ForbiddenEntry { name: name.to_owned(), reason: "not a seal file" }),
        };
        let path = self.root.join(name);
        if !path.exists() {
            return Ok(None);
        }
        self.read_small(name, file.cap()).map(Some)
    }

    /// The path of a blob, checked to be a regular file inside the layout.
    fn blob_file(&self, digest: &Digest) -> Result<(PathBuf, u64), BundleError> {
        self.checked_file(&digest.blob_path()).map_err(|e| match e {
            BundleError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                BundleError::MissingBlob { digest: digest.clone() }
            }
            other => other,
        })
    }

    /// Resolves `name` under the root; refuses anything that leaves it or is not a file.
    fn checked_file(&self, name: &str) -> Result<(PathBuf, u64), BundleError> {
        let path = self.root.join(name);
        let resolved = fs::canonicalize(&path).map_err(|e| BundleError::io(&path, e))?;
        if !resolved.starts_with(&self.canonical_root) {
            return Err(BundleError::Link { name: name.to_owned(), kind: "symbolic link leading out of the layout" });
        }
        let meta = fs::metadata(&resolved).map_err(|e| BundleError::io(&path, e))?;
        if !meta.is_file() {
            return Err(BundleError::SpecialFile { name: name.to_owned(), kind: "non-regular file" });
        }
        Ok((resolved, meta.len()))
    }

    fn read_small(&self, name: &str, max: u64) -> Result<Vec<u8>, BundleError> {
        let (path, size) = self.checked_file(name)?;
        if size > max {
            return Err(BundleError::TooLarge { name: name.to_owned(), size, max });
        }
        let file = File::open(&path).map_err(|e| BundleError::io(&path, e))?;
        let mut out = Vec::with_capacity(size as usize);
        // Re-cap while reading: the file may grow between stat and read.
        file.take(max + 1).read_to_end(&mut out).map_err(|e| BundleError::io(&path, e))?;
        if out.len() as u64 > max {
            return Err(BundleError::TooLarge { name: name.to_owned(), size: out.len() as u64, max });
        }
        Ok(out)
    }

    /// Where a blob's file lies (checked to be a regular file inside the layout) and its
    /// size; its content is not read (`serve` hashes it before serving it).
    pub fn blob_location(&self, digest: &Digest) -> Result<(PathBuf, u64), BundleError> {
        self.blob_file(digest)
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_file(digest).is_ok()
    }

    /// Reads a whole blob (refusing one over `max` bytes) and checks its digest.
    pub fn read_blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>, BundleError> {
        let (mut reader, _) = self.open_blob(digest)?;
        reader.read_to_vec(max)
    }

    /// Opens a blob for streaming: the reader fails at its end on a digest mismatch.
    pub fn open_blob(&self, digest: &Digest) -> Result<(BlobReader, u64), BundleError> {
        let (path, size) = self.blob_file(digest)?;
        let file = File::open(&path).map_err(|e| BundleError::io(&path, e))?;
        let reader = BufReader::with_capacity(crate::bundle::writer::COPY_BUF, file);
        Ok((VerifyingReader::new(reader, digest.clone(), size), size))
    }

    /// Every blob named `blobs/sha256/<64 hex>`, sorted (cosign v3 leaves its bundle
    /// manifests unlisted in `index.json`; callers find them by scanning). Other names are
    /// skipped: they can never be read through this type anyway.
    pub fn list_blobs(&self) -> Result<Vec<Digest>, BundleError> {
        let dir = self.root.join("blobs/sha256");
        let read = match fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(BundleError::io(&dir, e)),
        };
        let mut out = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| BundleError::io(&dir, e))?;
            if let Some(d) = entry.file_name().to_str().and_then(|n| Digest::from_hex(n).ok()) {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }
}
