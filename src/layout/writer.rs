//! Writing an OCI image layout directory. Every file appears atomically (temporary name in
//! the same directory, fsync, rename), so an interrupted save never leaves a blob whose
//! content does not match its name.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::bundle::names::{classify, EntryName};
use crate::bundle::writer::COPY_BUF;
use crate::bundle::BundleError;
use crate::oci::digest::{check, Hasher};
use crate::oci::Digest;

/// Writes a layout directory; see the module documentation.
#[derive(Debug)]
pub struct LayoutWriter {
    root: PathBuf,
    seen: HashSet<String>,
}

impl LayoutWriter {
    /// Creates `dir` (and `blobs/sha256`) if missing. Existing files are replaced only by
    /// entries written through this writer.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self, BundleError> {
        let root = dir.into();
        let blobs = root.join("blobs/sha256");
        fs::create_dir_all(&blobs).map_err(|e| BundleError::io(&blobs, e))?;
        Ok(LayoutWriter { root, seen: HashSet::new() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `oci-layout`, `index.json` or a seal file.
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), BundleError> {
        let entry = self.admit(name)?;
        crate::bundle::writer::check_layout_file(name, &entry, bytes)?;
        self.write_atomic(name, &mut &bytes[..], bytes.len() as u64, None)
    }

    pub fn add_blob_bytes(&mut self, digest: &Digest, bytes: &[u8]) -> Result<(), BundleError> {
        let mut h = Hasher::new();
        h.update(bytes);
        check(digest, None, h)?;
        let name = digest.blob_path();
        self.admit(&name)?;
        self.write_atomic(&name, &mut &bytes[..], bytes.len() as u64, None)
    }

    /// Streams a blob to a temporary file, hashing; renamed into place only if it matches.
    pub fn add_blob_from_reader(&mut self, digest: &Digest, size: u64, reader: impl Read) -> Result<(), BundleError> {
        let name = digest.blob_path();
        self.admit(&name)?;
        let mut reader = reader;
        self.write_atomic(&name, &mut reader, size, Some(digest))
    }

    fn admit(&mut self, name: &str) -> Result<EntryName, BundleError> {
        let entry = classify(name).map_err(|reason| BundleError::ForbiddenEntry { name: name.to_owned(), reason })?;
        if entry == EntryName::Dir || entry.canonical() != name {
            return Err(BundleError::ForbiddenEntry { name: name.to_owned(), reason: "not a canonical file name" });
        }
        if !self.seen.insert(name.to_owned()) {
            return Err(BundleError::DuplicateEntry { name: name.to_owned() });
        }
        Ok(entry)
    }

    fn write_atomic(
        &mut self,
        name: &str,
        reader: &mut dyn Read,
        size: u64,
        verify: Option<&Digest>,
    ) -> Result<(), BundleError> {
        let result = self.write_atomic_inner(name, reader, size, verify);
        if result.is_err() {
            // Allow a retry of the same name after a failure.
            self.seen.remove(name);
        }
        result
    }

    fn write_atomic_inner(
        &self,
        name: &str,
        reader: &mut dyn Read,
        size: u64,
        verify: Option<&Digest>,
    ) -> Result<(), BundleError> {
        let final_path = self.root.join(name);
        let dir = final_path.parent().expect("names have a parent").to_path_buf();
        let temp = tempfile::Builder::new()
            .prefix(".sealift.")
            .suffix(".partial")
            .tempfile_in(&dir)
            .map_err(|e| BundleError::io(&dir, e))?;
        let (file, temp) = temp.into_parts();
        let registered = crate::tempfiles::register(&temp);
        let io_err = |e| BundleError::io(&*temp, e);
        let mut out = io::BufWriter::with_capacity(COPY_BUF, file);
        crate::bundle::verify::copy_checked(reader, &mut out, size, verify, &io_err)?;
        let file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.sync_all().map_err(io_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(0o644)).map_err(io_err)?;
        }
        drop(file);
        registered.persist(|| temp.persist(&final_path)).map_err(|e| BundleError::io(&final_path, e.error))?;
        File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| BundleError::io(&dir, e))?;
        Ok(())
    }
}
