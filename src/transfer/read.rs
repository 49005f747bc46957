//! Reading a bundle (phase 1 of `load`, and all of `inspect`, `verify --bundle` and
//! `audit`): one [`BundleSource`] for a tar or an OCI layout directory; the metadata
//! (`oci-layout`, `index.json`, the seal, every manifest and small metadata blob, which a
//! sealift bundle stores before the first layer) with the content graph closed and every
//! entry checked ([`super::admit::check_entries`]); then, to check a bundle whole, every
//! remaining blob hashed against its name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::load::{body_error, LoadError, MAX_HELD_CONFIG, MAX_METADATA_BLOB, MAX_SMALL_BLOB};
use crate::bundle::{names, AsyncBlob, AsyncBundleReader, AsyncEntry, BundleError};
use crate::content::budget::json_values;
use crate::content::{Contents, Entry, Metadata, MetadataBudget, ModelError, Role};
use crate::layout::LayoutDir;
use crate::oci::manifest::MAX_MANIFEST_BYTES;
use crate::oci::{media, Descriptor, Digest, Manifest};

/// A bundle to read: a tar file (optionally compressed) or a layout directory.
pub enum BundleSource {
    Tar(PathBuf),
    Dir(LayoutDir),
}

/// What is left of a bundle after its metadata: the layers.
pub enum Layers {
    /// The rest of a tar, positioned at its first layer.
    Tar(TarRest),
    Dir(LayoutDir),
}

impl BundleSource {
    /// Opens `path`: a directory is a layout, anything else a bundle file.
    pub fn open(path: &Path) -> Result<BundleSource, LoadError> {
        if path.is_dir() {
            Ok(BundleSource::Dir(LayoutDir::open(path)?))
        } else {
            Ok(BundleSource::Tar(path.to_owned()))
        }
    }

    pub fn is_dir(&self) -> bool {
        matches!(self, BundleSource::Dir(_))
    }

    /// Phase 1: the metadata, and the layers still to read.
    pub async fn read_metadata(self) -> Result<(Metadata, Layers), LoadError> {
        match self {
            BundleSource::Tar(path) => {
                let (m, rest) = read_tar_metadata(&path).await?;
                Ok((m, Layers::Tar(rest)))
            }
            BundleSource::Dir(dir) => Ok((read_dir_metadata(&dir)?, Layers::Dir(dir))),
        }
    }
}

impl Layers {
    /// Reads and hashes every remaining blob, and checks the bundle holds exactly the blobs
    /// its manifests reference. Nothing is pushed.
    pub async fn check(self, meta: &Metadata) -> Result<(), LoadError> {
        match self {
            Layers::Tar(rest) => check_rest(meta, rest).await,
            Layers::Dir(dir) => check_dir(meta, &dir).await,
        }
    }
}

/// Manifest digests the metadata phase still waits for, with how they were described.
#[derive(Default)]
struct Closure {
    wanted: BTreeMap<Digest, (Option<String>, bool, String)>,
    manifest_blobs: BTreeMap<Digest, Bytes>,
    /// Digests just wanted or just arrived: the only ones that can have become ready.
    /// Checking every wanted digest on each blob instead made reading N images O(N²)
    /// (9.8 s for `inspect` of 900 images with three attachments each).
    ready: BTreeSet<Digest>,
}

impl Metadata {
    /// Adds what `entries` name, then everything reachable whose bytes are at hand.
    fn seed(&mut self, closure: &mut Closure, entries: Vec<Entry>) {
        for e in &entries {
            let d = &e.descriptor;
            closure
                .wanted
                .insert(d.digest.clone(), (Some(d.media_type.clone()), e.role.is_attachment(), e.repository.clone()));
            closure.ready.insert(d.digest.clone());
        }
        self.contents.entries = entries;
    }

    /// Moves every wanted manifest whose bytes arrived into the graph, repeatedly, in
    /// digest order round by round.
    fn close(&mut self, closure: &mut Closure) -> Result<(), ModelError> {
        while !closure.ready.is_empty() {
            let round = std::mem::take(&mut closure.ready);
            for d in round {
                if !closure.wanted.contains_key(&d) {
                    continue;
                }
                let Some(bytes) = closure.manifest_blobs.remove(&d).or_else(|| self.small.remove(&d)) else {
                    continue;
                };
                let (described, artifact, repo) = closure.wanted.remove(&d).expect("checked above");
                if bytes.len() > MAX_MANIFEST_BYTES {
                    return Err(crate::oci::manifest::ManifestError::TooLarge {
                        digest: d.to_string(),
                        size: bytes.len(),
                    }
                    .into());
                }
                self.budget.parse(format_args!("manifest {d}"), &bytes)?;
                let m = self.contents.add_manifest(&repo, d.clone(), bytes, described.as_deref(), artifact)?;
                for child in m.parsed.manifests.clone() {
                    if !self.contents.manifests.contains_key(&child.digest) && media::is_manifest(&child.media_type) {
                        closure
                            .wanted
                            .insert(child.digest.clone(), (Some(child.media_type.clone()), artifact, repo.clone()));
                        closure.ready.insert(child.digest);
                    }
                }
            }
        }
        Ok(())
    }

    /// After the metadata phase: which wanted manifests never came. For an index saved
    /// with `--platform`, its absent children are expected.
    fn missing_manifests(&self, closure: &Closure) -> Result<(), ModelError> {
        for (parent, m) in &self.contents.manifests {
            for child in &m.parsed.manifests {
                if closure.wanted.contains_key(&child.digest) && !self.is_partial(parent) {
                    return Err(ModelError::MissingManifest { parent: parent.clone(), child: child.digest.clone() });
                }
            }
        }
        for e in &self.contents.entries {
            if closure.wanted.contains_key(&e.descriptor.digest) {
                return Err(ModelError::MissingManifest {
                    parent: Digest::of(b"index.json"),
                    child: e.descriptor.digest.clone(),
                });
            }
        }
        Ok(())
    }

    fn is_partial(&self, digest: &Digest) -> bool {
        self.contents.entries.iter().any(|e| {
            &e.descriptor.digest == digest && e.descriptor.annotations.contains_key(media::ANN_SEALIFT_PARTIAL)
        })
    }
}

async fn collect_body(blob: AsyncBlob) -> Result<Bytes, BundleError> {
    let mut buf = BytesMut::with_capacity(blob.size as usize);
    let mut body = blob.body;
    while let Some(chunk) = body.next().await {
        buf.extend_from_slice(&chunk.map_err(body_error)?);
    }
    Ok(buf.freeze())
}

/// The rest of a tar after the metadata phase.
pub struct TarRest {
    pub(super) reader: AsyncBundleReader,
    pub(super) pending: Option<AsyncBlob>,
    /// The bundle file: layers of an uncompressed bundle are re-read from it to upload
    /// several at once.
    pub(super) path: std::path::PathBuf,
    /// zstd or gzip: layers cannot be re-read cheaply and stream into their uploads.
    pub(super) compressed: bool,
    /// A regular file (or a volume set), which can be read again by offset. Not so for a
    /// FIFO or a device (a bundle piped from `ssh` or a tape): then everything is read in
    /// one sequential pass, as for a compressed bundle, and the path is opened only once.
    pub(super) seekable: bool,
    /// Large configs the metadata phase hashed but did not hold ([`MAX_HELD_CONFIG`]):
    /// read again from their place in the file when pushed.
    pub(super) unheld: Vec<Unheld>,
}

/// A metadata blob of an uncompressed bundle left in the file, with where it lies.
pub(super) struct Unheld {
    pub(super) digest: Digest,
    pub(super) offset: u64,
    pub(super) size: u64,
}

/// True when every manifest that names `digest` names it as its config (and one does): a
/// blob admission never reads, so it need not be held in memory.
pub(crate) fn only_a_config(contents: &Contents, digest: &Digest) -> bool {
    let mut config = false;
    for m in contents.manifests.values() {
        if m.parsed.layers.iter().any(|l| &l.digest == digest) {
            return false;
        }
        config |= m.parsed.config.as_ref().is_some_and(|c| &c.digest == digest);
    }
    config
}

/// The metadata blobs a reader of the bundle reads, not only pushes: every layer of a
/// signature, attestation or referrer manifest (payloads, DSSE envelopes, Sigstore bundles:
/// assessed) and the config of every image and platform manifest (its platform, for audit).
/// The others (an attachment's config, an SBOM's layers) are only pushed, so a bundle file
/// that can be read again by offset, or a layout directory, leaves them where they are and
/// they cost no memory however large (docs/bundle.md, "Memory"). Valid once the content
/// graph is closed.
pub(crate) fn read_blobs(contents: &Contents) -> BTreeSet<Digest> {
    let mut read = BTreeSet::new();
    for e in &contents.entries {
        let attachment = matches!(e.role, Role::Signature | Role::Attestation | Role::Referrer);
        for d in contents.manifests_under(&e.descriptor.digest).unwrap_or_default() {
            let Some(m) = contents.manifests.get(&d) else { continue };
            if attachment {
                read.extend(m.parsed.layers.iter().map(|l| l.digest.clone()));
            } else if e.role != Role::Sbom {
                read.extend(m.parsed.config.iter().map(|c| c.digest.clone()));
            }
        }
    }
    read
}

/// Whether load holds metadata blob `digest` in memory when its bundle can be read again
/// by offset: if a reader reads it ([`read_blobs`]) and it is not a config over
/// [`MAX_HELD_CONFIG`] that only configs name. One rule for the reader and for save's check.
pub(crate) fn held_from_a_file(contents: &Contents, read: &BTreeSet<Digest>, digest: &Digest, size: u64) -> bool {
    read.contains(digest) && !(size > MAX_HELD_CONFIG && only_a_config(contents, digest))
}

impl TarRest {
    /// The bundle file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the bundle is zstd- or gzip-compressed (its layers cannot be read by offset).
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Whether the bundle can be read again by offset (see [`TarRest::seekable`]).
    pub fn is_seekable(&self) -> bool {
        self.seekable
    }
}

/// Phase 1 for a tar: reads until the first layer.
pub async fn read_tar_metadata(path: &Path) -> Result<(Metadata, TarRest), LoadError> {
    let mut reader = AsyncBundleReader::open(path)?;
    let mut meta = Metadata::default();
    let mut closure = Closure::default();
    let mut layout = false;
    let mut index_seen = false;
    let mut pending = None;
    let mut unheld = Vec::new();
    let mut read = None;
    let seekable = is_seekable(path);
    while let Some(entry) = reader.next().await? {
        match entry {
            AsyncEntry::OciLayout(_) => layout = true,
            AsyncEntry::Index(bytes) => {
                index_seen = true;
                meta.budget.hold_json(names::INDEX_JSON, &bytes).map_err(ModelError::from)?;
                let (entries, delta) = Contents::parse_index_and_delta(&bytes)?;
                meta.contents.delta = delta;
                meta.index_json = Bytes::from(bytes);
                meta.seed(&mut closure, entries);
                meta.close(&mut closure)?;
            }
            AsyncEntry::Seal { name, bytes } => {
                meta.budget.hold_json(name, &bytes).map_err(ModelError::from)?;
                meta.seal.insert(name.to_owned(), bytes);
            }
            AsyncEntry::Blob(blob) => {
                refuse_assumed(&meta, &blob.digest)?;
                let known = meta.contents.blobs.get(&blob.digest).map(|b| b.metadata);
                let wanted_manifest = closure.wanted.contains_key(&blob.digest);
                if known == Some(false) && !wanted_manifest {
                    pending = Some(blob);
                    break;
                }
                if known.is_none() && !wanted_manifest && blob.size > MAX_SMALL_BLOB {
                    if !index_seen {
                        return Err(LoadError::NoIndex { digest: blob.digest });
                    }
                    return Err(LoadError::OutOfOrder { digest: blob.digest, size: blob.size });
                }
                // Caps before a byte of the body is read: a small compressed bundle can
                // announce a huge blob (issue 7: 32 KiB of zstd, 1000 MiB of config).
                let (what, limit) = if wanted_manifest {
                    ("manifest", MAX_MANIFEST_BYTES as u64)
                } else {
                    ("metadata blob", MAX_METADATA_BLOB)
                };
                if blob.size > limit {
                    return Err(LoadError::MetadataTooLarge { what, digest: blob.digest, size: blob.size, limit });
                }
                if let Some(offset) = blob.file_offset.filter(|_| seekable && !wanted_manifest) {
                    // Once every manifest is in (save writes them before the metadata
                    // blobs), what no reader reads stays in the file; before that, only the
                    // large configs (save writes them after every manifest).
                    let leave = if index_seen && closure.wanted.is_empty() {
                        let read = read.get_or_insert_with(|| read_blobs(&meta.contents));
                        known.is_some() && !held_from_a_file(&meta.contents, read, &blob.digest, blob.size)
                    } else {
                        blob.size > MAX_HELD_CONFIG && only_a_config(&meta.contents, &blob.digest)
                    };
                    if leave {
                        // Dropping the body does not skip its check: the reader hashes it
                        // and the next entry reports a mismatch.
                        unheld.push(Unheld { digest: blob.digest.clone(), offset, size: blob.size });
                        continue;
                    }
                }
                meta.budget.hold(format_args!("{what} {}", blob.digest), blob.size).map_err(ModelError::from)?;
                let digest = blob.digest.clone();
                let bytes = collect_body(blob).await?;
                if wanted_manifest {
                    closure.ready.insert(digest.clone());
                    closure.manifest_blobs.insert(digest, bytes);
                } else {
                    meta.small.insert(digest, bytes);
                }
                meta.close(&mut closure)?;
            }
        }
    }
    if !layout {
        return Err(LoadError::NoLayoutFile);
    }
    if !index_seen {
        return Err(LoadError::Bundle(BundleError::BadLayout { name: "index.json".into(), reason: "missing".into() }));
    }
    meta.missing_manifests(&closure)?;
    super::admit::check_entries(&mut meta.contents)?;
    meta.contents.delta.check_against(&meta.contents)?;
    tracing::info!(
        entries = meta.contents.entries.len(),
        manifests = meta.contents.manifests.len(),
        metadata_blobs = meta.small.len(),
        configs_left_in_the_file = unheld.len(),
        budget_bytes = meta.budget.bytes(),
        budget_values = meta.budget.values(),
        "bundle metadata read (before the first layer)"
    );
    // A pipe is not opened twice: a second reader would take bytes from the first.
    let compressed = seekable && is_compressed(path)?;
    Ok((meta, TarRest { reader, pending, path: path.to_owned(), compressed, seekable, unheld }))
}

/// Phase 1 for a layout directory (sealift's, or one written by `cosign save`).
pub fn read_dir_metadata(dir: &LayoutDir) -> Result<Metadata, LoadError> {
    let mut meta = Metadata::default();
    let mut closure = Closure::default();
    meta.budget.hold_json(names::INDEX_JSON, dir.index_bytes()).map_err(ModelError::from)?;
    let (mut entries, delta) = Contents::parse_index_and_delta(dir.index_bytes())?;
    meta.contents.delta = delta;
    meta.index_json = Bytes::copy_from_slice(dir.index_bytes());
    for name in [crate::seal::SEAL_INDEX, crate::seal::SEAL_SIG] {
        if let Some(bytes) = dir.read_seal(name)? {
            meta.budget.hold_json(name, &bytes).map_err(ModelError::from)?;
            meta.seal.insert(name.to_owned(), bytes);
        }
    }
    cosign_layout_entries(dir, &mut entries, &meta.budget)?;
    meta.seed(&mut closure, entries);
    loop {
        let wanted: Vec<Digest> = closure.wanted.keys().cloned().collect();
        let mut progress = false;
        for d in wanted {
            if dir.has_blob(&d) {
                let bytes = dir.read_blob(&d, MAX_MANIFEST_BYTES as u64)?;
                meta.budget.hold(format_args!("manifest {d}"), bytes.len() as u64).map_err(ModelError::from)?;
                closure.manifest_blobs.insert(d.clone(), Bytes::from(bytes));
                closure.ready.insert(d.clone());
                progress = true;
            }
        }
        meta.close(&mut closure)?;
        if !progress {
            break;
        }
    }
    meta.missing_manifests(&closure)?;
    super::admit::check_entries(&mut meta.contents)?;
    meta.contents.delta.check_against(&meta.contents)?;
    let metadata_blobs: Vec<(Digest, u64)> =
        meta.contents.blobs.iter().filter(|(_, b)| b.metadata).map(|(d, b)| (d.clone(), b.size)).collect();
    let read = read_blobs(&meta.contents);
    for (d, size) in metadata_blobs {
        if size > MAX_METADATA_BLOB {
            return Err(LoadError::MetadataTooLarge {
                what: "metadata blob",
                digest: d,
                size,
                limit: MAX_METADATA_BLOB,
            });
        }
        if !held_from_a_file(&meta.contents, &read, &d, size) {
            continue; // read from its file when pushed
        }
        if dir.has_blob(&d) {
            meta.budget.hold(format_args!("blob {d}"), size).map_err(ModelError::from)?;
            meta.small.insert(d.clone(), Bytes::from(dir.read_blob(&d, size)?));
        }
    }
    let delta = &meta.contents.delta;
    if let Some(d) = meta.contents.blobs.keys().find(|d| delta.assumes(d) && dir.has_blob(d)) {
        refuse_assumed(&meta, d)?;
    }
    if let Some(d) = meta.contents.blobs.keys().find(|d| !delta.assumes(d) && !dir.has_blob(d)) {
        return Err(LoadError::MissingBlob { digest: d.clone() });
    }
    Ok(meta)
}

/// A `cosign save` layout names its image by `kind` only: give its signatures and
/// attestations their subject and cosign tag, and find the unlisted Sigstore bundle
/// referrers cosign v3 leaves in `blobs/`.
fn cosign_layout_entries(dir: &LayoutDir, entries: &mut Vec<Entry>, budget: &MetadataBudget) -> Result<(), LoadError> {
    let Some(image) = entries.iter().find(|e| e.role == Role::Image).map(|e| e.descriptor.digest.clone()) else {
        return Ok(());
    };
    if entries.iter().any(|e| e.descriptor.annotations.contains_key(media::ANN_SEALIFT_ROLE)) {
        return Ok(());
    }
    let listed: BTreeSet<Digest> = entries.iter().map(|e| e.descriptor.digest.clone()).collect();
    for e in entries.iter_mut() {
        if let (Some(suffix), None) = (e.role.cosign_suffix(), &e.subject) {
            e.subject = Some(image.clone());
            e.tag = Some(format!("{}.{suffix}", image.tag_prefix()));
        }
    }
    for digest in dir.list_blobs()? {
        if listed.contains(&digest) {
            continue;
        }
        // Only small blobs can be manifests; bigger ones are layers.
        let Ok(bytes) = dir.read_blob(&digest, MAX_MANIFEST_BYTES as u64) else { continue };
        // Not parsed if it could not be admitted: its parse alone could take many times
        // its size (see crate::content::budget).
        if json_values(&bytes) > budget.values_left() {
            continue;
        }
        let size = bytes.len() as u64;
        let Ok((m, mt)) = Manifest::parse(&bytes, None) else { continue };
        if m.subject.as_ref().map(|s| &s.digest) != Some(&image) {
            continue;
        }
        let mut d = Descriptor::new(mt, digest, size);
        d.artifact_type = m.artifact_type.clone().or_else(|| m.config.as_ref().map(|c| c.media_type.clone()));
        entries.push(Entry {
            descriptor: d,
            role: Role::Referrer,
            repository: String::new(),
            tag: None,
            subject: Some(image.clone()),
        });
    }
    Ok(())
}

pub(super) fn layout_after_blobs() -> LoadError {
    BundleError::BadLayout { name: "bundle".into(), reason: "layout file after the blobs".into() }.into()
}

/// Whether a bundle file (or volume set) is zstd- or gzip-compressed (by its magic bytes).
/// Whether `path` can be opened again and read by offset: a regular file (a volume set's
/// part list or first part is one), not a FIFO or a character device.
fn is_seekable(path: &Path) -> bool {
    std::fs::metadata(path).map(|m| m.is_file()).unwrap_or(true)
}

fn is_compressed(path: &Path) -> Result<bool, BundleError> {
    use std::io::Read as _;
    let mut magic = [0u8; 4];
    let n = crate::bundle::volumes::BundleFile::open(path)?
        .read(&mut magic)
        .map_err(|e| BundleError::Io { path: path.to_owned(), source: e })?;
    Ok(n >= 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] || n >= 2 && magic[..2] == [0x1f, 0x8b])
}

/// A blob a delta bundle says the site already has may not be in the bundle as well: the
/// bundle would say two things about it (docs/bundle.md, "Delta bundles").
pub(super) fn refuse_assumed(meta: &Metadata, digest: &Digest) -> Result<(), LoadError> {
    match meta.contents.delta.assumes(digest) {
        true => Err(LoadError::AssumedAndPresent { digest: digest.clone() }),
        false => Ok(()),
    }
}

/// A blob the plan does not push must still belong to the bundle's content graph.
pub(super) fn check_known(meta: &Metadata, digest: &Digest) -> Result<(), LoadError> {
    if meta.contents.blobs.contains_key(digest)
        || meta.small.contains_key(digest)
        || meta.contents.manifests.contains_key(digest)
    {
        Ok(())
    } else {
        Err(LoadError::Unlisted { digest: digest.clone() })
    }
}

/// Every blob the bundle's manifests reference must be in the bundle, even one the target
/// already has, unless a delta bundle assumes it: a bundle lacking one is corrupt.
pub(super) fn check_complete(meta: &Metadata, seen: &BTreeSet<Digest>) -> Result<(), LoadError> {
    let delta = &meta.contents.delta;
    if let Some(d) = seen.iter().chain(meta.small.keys()).find(|d| delta.assumes(d)) {
        refuse_assumed(meta, d)?;
    }
    match meta.contents.blobs.keys().find(|d| !seen.contains(*d) && !meta.small.contains_key(*d) && !delta.assumes(d)) {
        Some(d) => Err(LoadError::MissingBlob { digest: d.clone() }),
        None => Ok(()),
    }
}

/// Reads the rest of a tar after the metadata phase and checks every blob (name, size,
/// digest) and that the bundle holds exactly the blobs its manifests reference. For
/// `verify --bundle` and `audit` with bundle trust, and `load --dry-run`.
pub async fn check_rest(meta: &Metadata, rest: TarRest) -> Result<(), LoadError> {
    let TarRest { mut reader, pending, unheld, .. } = rest;
    let mut seen: BTreeSet<Digest> = unheld.into_iter().map(|u| u.digest).collect();
    if let Some(b) = pending {
        refuse_assumed(meta, &b.digest)?;
        check_known(meta, &b.digest)?;
        seen.insert(b.digest.clone());
    }
    loop {
        match reader.next().await? {
            Some(AsyncEntry::Blob(b)) => {
                refuse_assumed(meta, &b.digest)?;
                check_known(meta, &b.digest)?;
                seen.insert(b.digest.clone());
            }
            Some(_) => return Err(layout_after_blobs()),
            None => break,
        }
    }
    check_complete(meta, &seen)
}

/// The same for a layout directory: every referenced blob is read and hashed.
pub async fn check_dir(meta: &Metadata, dir: &LayoutDir) -> Result<(), LoadError> {
    for digest in meta.contents.blobs.keys().filter(|d| !meta.contents.delta.assumes(d)) {
        let (mut reader, _) = dir.open_blob(digest)?;
        tokio::task::block_in_place(|| std::io::copy(&mut reader, &mut std::io::sink())).map_err(body_error)?;
    }
    Ok(())
}

/// Reads a bundle file or layout directory, checks its seal against `trust`, and checks
/// every blob (the tar to its end, or every layout blob). A blob that fails turns a
/// verified seal into `Rejected` (the seal promised exactly these blobs); without a
/// verified seal it is a bad-bundle error. For `verify --bundle` and `audit`.
pub async fn read_sealed(
    source: &Path,
    trust: Option<&crate::seal::SealTrust>,
    now: i64,
) -> Result<(Metadata, crate::seal::SealVerdict), LoadError> {
    use crate::seal::{verify_bundle_seal, SealVerdict};
    let (meta, layers) = BundleSource::open(source)?.read_metadata().await?;
    let verdict = verify_bundle_seal(&meta, trust, now);
    if matches!(verdict, SealVerdict::Rejected { .. }) {
        return Ok((meta, verdict));
    }
    // Every blob is read and checked: a report about a bundle must not pass one that load
    // would refuse.
    let checked = layers.check(&meta).await;
    match (checked, verdict) {
        (Ok(()), verdict) => Ok((meta, verdict)),
        // A sealed bundle that differs from its seal: the seal's promise is broken.
        (Err(e), SealVerdict::Verified { .. }) if e.is_bad_bundle() => {
            Ok((meta, SealVerdict::Rejected { reason: e.to_string() }))
        }
        (Err(e), _) => Err(e),
    }
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
