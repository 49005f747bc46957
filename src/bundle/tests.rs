//! Bundle round trips, determinism, hostile tars, truncation, async faces and interop with
//! skopeo and umoci.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::oci::{media, Descriptor, Digest};

use super::names::*;
use super::writer::entry_header;
use super::*;

/// A small valid OCI image: config, two gzip layers, manifest, index.json naming it `v1`.
pub(crate) struct Sample {
    pub index: Vec<u8>,
    /// Metadata blobs first (manifest, config), then layers: the order sealift writes.
    pub blobs: Vec<(Digest, Vec<u8>)>,
}

fn layer(file: &str, content: &[u8]) -> (Vec<u8>, Digest) {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, file, content).unwrap();
    let raw = b.into_inner().unwrap();
    let diff_id = Digest::of(&raw);
    let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&raw).unwrap();
    (gz.finish().unwrap(), diff_id)
}

pub(crate) fn sample() -> Sample {
    let (l1, d1) = layer("hello.txt", b"hello\n");
    let (l2, d2) = layer("world.txt", &vec![b'w'; 100_000]);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{d1}","{d2}"]}}}}"#
    )
    .into_bytes();
    let desc = |mt: &str, b: &[u8]| Descriptor::new(mt, Digest::of(b), b.len() as u64);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{},{}]}}"#,
        media::OCI_MANIFEST,
        String::from_utf8(crate::oci::manifest::to_canonical_json(&desc(media::OCI_CONFIG, &config))).unwrap(),
        String::from_utf8(crate::oci::manifest::to_canonical_json(&desc(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &l1
        )))
        .unwrap(),
        String::from_utf8(crate::oci::manifest::to_canonical_json(&desc(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &l2
        )))
        .unwrap(),
    )
    .into_bytes();
    let mut md = desc(media::OCI_MANIFEST, &manifest);
    md.annotations.insert(media::ANN_REF_NAME.into(), "v1".into());
    let index = crate::oci::manifest::to_canonical_json(&crate::oci::Index::new(vec![md]));
    let blobs = [manifest, config, l1, l2].into_iter().map(|b| (Digest::of(&b), b)).collect();
    Sample { index, blobs }
}

pub(crate) fn write_sample(path: &Path, compression: Compression) {
    let s = sample();
    let mut w = BundleWriter::create(path, compression).unwrap();
    w.add_file(OCI_LAYOUT, OCI_LAYOUT_BYTES).unwrap();
    w.add_file(INDEX_JSON, &s.index).unwrap();
    w.add_file(SEAL_INDEX, b"{}").unwrap();
    for (i, (d, b)) in s.blobs.iter().enumerate() {
        if i < 2 {
            w.add_blob_bytes(d, b).unwrap();
        } else {
            // Odd-sized reads exercise the streaming path.
            w.add_blob_stream(d, b.len() as u64, OddReader(&b[..])).unwrap();
        }
    }
    w.finish().unwrap();
}

/// Returns at most 1000 bytes per read.
struct OddReader<'a>(&'a [u8]);
impl Read for OddReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1000);
        self.0.read(&mut buf[..n])
    }
}

/// Reads every entry (blobs read fully) into (name, bytes).
fn read_all(path: &Path) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let mut r = BundleReader::open(path)?;
    read_entries(&mut r)
}

fn read_entries(r: &mut BundleReader) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let mut entries = r.entries()?;
    let mut out = Vec::new();
    while let Some(e) = entries.next_entry()? {
        out.push(match e {
            Entry::OciLayout(b) => (OCI_LAYOUT.to_owned(), b),
            Entry::Index(b) => (INDEX_JSON.to_owned(), b),
            Entry::Seal { name, bytes } => (name.to_owned(), bytes),
            Entry::Blob(mut b) => (b.digest().blob_path(), b.read_to_vec(u64::MAX)?),
        });
    }
    // The iterator stays finished.
    assert!(entries.next_entry()?.is_none());
    Ok(out)
}

fn read_bytes(bytes: Vec<u8>) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let mut r = BundleReader::from_reader(std::io::Cursor::new(bytes))?;
    read_entries(&mut r)
}

const ALL: [Compression; 3] = [Compression::None, Compression::Zstd, Compression::Gzip];

#[test]
fn round_trip_all_compressions() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample();
    for c in ALL {
        let path = dir.path().join(format!("b-{c}.tar"));
        write_sample(&path, c);
        assert_eq!(BundleReader::open(&path).unwrap().compression(), c);
        let got = read_all(&path).unwrap();
        let names: Vec<_> = got.iter().map(|(n, _)| n.clone()).collect();
        let mut want = vec![OCI_LAYOUT.to_owned(), INDEX_JSON.to_owned(), SEAL_INDEX.to_owned()];
        want.extend(s.blobs.iter().map(|(d, _)| d.blob_path()));
        assert_eq!(names, want, "{c}");
        assert_eq!(got[1].1, s.index);
        for ((_, bytes), (_, want)) in got[3..].iter().zip(&s.blobs) {
            assert_eq!(bytes, want);
        }
        // Nothing but the bundle in the directory: the temp file was renamed.
        assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")));
    }
}

#[test]
fn same_inputs_give_identical_bytes() {
    for c in ALL {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_sample(&a.path().join("x.tar"), c);
        write_sample(&b.path().join("other-name.tar"), c);
        let (x, y) =
            (std::fs::read(a.path().join("x.tar")).unwrap(), std::fs::read(b.path().join("other-name.tar")).unwrap());
        assert!(x == y, "{c}: outputs differ");
    }
}

#[test]
fn headers_are_fixed_and_huge_sizes_encode() {
    let name = format!("blobs/sha256/{}", "a".repeat(64));
    let h = entry_header(&name, 9 << 30).unwrap();
    assert_eq!(h.entry_size().unwrap(), 9 << 30);
    // GNU base-256: the high bit of the first size byte is set.
    assert_eq!(h.as_old().size[0] & 0x80, 0x80);
    assert_eq!((h.mtime().unwrap(), h.uid().unwrap(), h.gid().unwrap(), h.mode().unwrap()), (0, 0, 0, 0o644));
    assert_eq!((h.username().unwrap(), h.groupname().unwrap()), (Some(""), Some("")));
    assert_eq!(h.entry_type(), tar::EntryType::Regular);
    // The tar crate's parser reads the size back through an archive.
    let mut tar = h.as_bytes().to_vec();
    tar.extend_from_slice(&[0u8; 1024]);
    let mut a = tar::Archive::new(&tar[..]);
    let e = a.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(e.size(), 9 << 30);
    assert_eq!(entry_header(&name, 0o77777777777).unwrap().as_old().size[0] & 0x80, 0, "octal while it fits");
}

#[test]
fn writer_refuses_misuse_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar.zst");
    let d = Digest::of(b"abc");
    let mut w = BundleWriter::create(&path, Compression::from_path(&path)).unwrap();
    assert!(matches!(w.add_file(INDEX_JSON, b"{}"), Err(BundleError::OutOfOrder { .. })));
    assert!(matches!(w.add_file("oci-layout", b"{}"), Err(BundleError::BadLayout { .. })));
    w.add_file(OCI_LAYOUT, OCI_LAYOUT_BYTES).unwrap();
    assert!(matches!(w.add_file(OCI_LAYOUT, OCI_LAYOUT_BYTES), Err(BundleError::DuplicateEntry { .. })));
    assert!(matches!(w.add_file("./index.json", b"{}"), Err(BundleError::ForbiddenEntry { .. })));
    assert!(matches!(w.add_file("../x", b"{}"), Err(BundleError::ForbiddenEntry { .. })));
    assert!(matches!(w.add_blob_bytes(&d, b"abc"), Err(BundleError::OutOfOrder { .. })));
    w.add_file(INDEX_JSON, b"{}").unwrap();
    // A wrong in-memory blob writes nothing; the writer stays usable.
    assert!(matches!(w.add_blob_bytes(&d, b"abd"), Err(BundleError::Mismatch(_))));
    w.add_blob_bytes(&d, b"abc").unwrap();
    assert!(matches!(w.add_blob_bytes(&d, b"abc"), Err(BundleError::DuplicateEntry { .. })));
    assert!(matches!(w.add_file(SEAL_INDEX, b"{}"), Err(BundleError::OutOfOrder { .. })));
    // A wrong stream abandons the bundle.
    let e = Digest::of(b"efg");
    let err = w.add_blob_stream(&e, 3, &b"efh"[..]).unwrap_err();
    assert!(matches!(err, BundleError::Mismatch(crate::oci::digest::ContentMismatch::Digest { .. })), "{err}");
    assert!(matches!(w.add_blob_bytes(&e, b"efg"), Err(BundleError::Abandoned { .. })));
    assert!(matches!(w.finish(), Err(BundleError::Abandoned { .. })));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "temp file left behind");

    for (size, data) in [(4u64, &b"efg"[..]), (2, &b"efg"[..])] {
        let mut w = BundleWriter::create(&path, Compression::None).unwrap();
        w.add_file(OCI_LAYOUT, OCI_LAYOUT_BYTES).unwrap();
        w.add_file(INDEX_JSON, b"{}").unwrap();
        let err = w.add_blob_stream(&e, size, data).unwrap_err();
        assert!(matches!(err, BundleError::Mismatch(crate::oci::digest::ContentMismatch::Size { .. })), "{err}");
        drop(w);
    }
    let mut w = BundleWriter::create(&path, Compression::None).unwrap();
    w.add_file(OCI_LAYOUT, OCI_LAYOUT_BYTES).unwrap();
    assert!(matches!(w.finish(), Err(BundleError::Incomplete { missing: "index.json" })));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "temp file left behind");
}

#[test]
fn compression_names() {
    assert_eq!(Compression::from_path(Path::new("a.tar.zst")), Compression::Zstd);
    assert_eq!(Compression::from_path(Path::new("a.TGZ")), Compression::Gzip);
    assert_eq!(Compression::from_path(Path::new("a.tar")), Compression::None);
    assert_eq!("gzip".parse::<Compression>().unwrap(), Compression::Gzip);
    let err = "xz".parse::<Compression>().unwrap_err();
    assert_eq!(err.input, "xz");
}

// ---- hostile input ----

/// A raw tar entry, written with the header API so that the tar crate's own checks on
/// writing (`..`, absolute paths) do not stop us.
struct Raw {
    name: &'static str,
    kind: tar::EntryType,
    data: Vec<u8>,
    /// Header size when it should differ from the data length.
    size: Option<u64>,
}

fn raw(name: &'static str, data: &[u8]) -> Raw {
    Raw {
        name: Box::leak(name.to_owned().into_boxed_str()),
        kind: tar::EntryType::Regular,
        data: data.to_vec(),
        size: None,
    }
}

fn raw_tar(entries: &[Raw], end: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let name = e.name.as_bytes();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(e.size.unwrap_or(e.data.len() as u64));
        h.set_mode(0o644);
        h.set_entry_type(e.kind);
        if matches!(e.kind, tar::EntryType::Symlink | tar::EntryType::Link) {
            h.set_link_name_literal("/etc/shadow").unwrap();
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    if end {
        out.extend_from_slice(&[0u8; 1024]);
    }
    out
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn good_prefix() -> Vec<Raw> {
    vec![raw("oci-layout", OCI_LAYOUT_BYTES), raw("index.json", b"{}")]
}

fn expect_err(entries: Vec<Raw>, end: bool) -> BundleError {
    let bytes = raw_tar(&entries, end);
    match read_bytes(bytes) {
        Ok(got) => panic!("accepted: {:?}", got.iter().map(|(n, _)| n).collect::<Vec<_>>()),
        Err(e) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "multi-line error: {line}");
            e
        }
    }
}

/// [`good_prefix`] followed by `extra`.
fn good_prefix_with(mut extra: Vec<Raw>) -> Vec<Raw> {
    let mut v = good_prefix();
    v.append(&mut extra);
    v
}

/// An entry of `kind` with no data.
fn kind(name: &'static str, kind: tar::EntryType) -> Raw {
    Raw { name, kind, data: vec![], size: None }
}

#[test]
fn hostile_entries_are_refused_by_name() {
    let blob = Digest::of(b"abc");
    let blob_name = leak(blob.blob_path());

    let e = expect_err(good_prefix_with(vec![raw("../evil", b"x")]), true);
    assert!(matches!(&e, BundleError::ForbiddenEntry { name, .. } if name == "../evil"), "{e}");
    let e = expect_err(good_prefix_with(vec![raw("/etc/passwd", b"x")]), true);
    assert!(matches!(&e, BundleError::ForbiddenEntry { reason: "absolute path", .. }), "{e}");
    let e = expect_err(good_prefix_with(vec![raw("blobs/sha256/../../x", b"x")]), true);
    assert!(matches!(&e, BundleError::ForbiddenEntry { .. }), "{e}");
    let e = expect_err(good_prefix_with(vec![raw("etc/passwd", b"x")]), true);
    assert!(matches!(&e, BundleError::ForbiddenEntry { name, .. } if name == "etc/passwd"), "{e}");
    let e = expect_err(good_prefix_with(vec![kind(blob_name, tar::EntryType::Symlink)]), true);
    assert!(matches!(&e, BundleError::Link { name, .. } if name == blob_name), "{e}");
    let e = expect_err(good_prefix_with(vec![kind(blob_name, tar::EntryType::Link)]), true);
    assert!(matches!(&e, BundleError::Link { kind: "hard link", .. }), "{e}");
    let e = expect_err(good_prefix_with(vec![kind(blob_name, tar::EntryType::Fifo)]), true);
    assert!(matches!(&e, BundleError::SpecialFile { kind: "fifo", .. }), "{e}");
    let e = expect_err(good_prefix_with(vec![kind(blob_name, tar::EntryType::Char)]), true);
    assert!(matches!(&e, BundleError::SpecialFile { .. }), "{e}");
    let e = expect_err(good_prefix_with(vec![kind("index.json", tar::EntryType::Directory)]), true);
    assert!(matches!(&e, BundleError::DuplicateEntry { .. } | BundleError::ForbiddenEntry { .. }), "{e}");
    let e = expect_err(good_prefix_with(vec![raw("./index.json", b"{}")]), true);
    assert!(matches!(&e, BundleError::DuplicateEntry { name } if name == "index.json"), "{e}");
    let e = expect_err(good_prefix_with(vec![raw(blob_name, b"abc"), raw(blob_name, b"abc")]), true);
    assert!(matches!(&e, BundleError::DuplicateEntry { .. }), "{e}");
    let e = expect_err(
        good_prefix_with(vec![raw(leak(format!("blobs/sha256/{}", blob.hex().to_uppercase())), b"abc")]),
        true,
    );
    assert!(matches!(&e, BundleError::ForbiddenEntry { .. }), "{e}");

    // Oversized metadata is refused from the header, before its bytes are read.
    let big = vec![b' '; (MAX_INDEX_JSON + 1) as usize];
    let e = expect_err(vec![raw("oci-layout", OCI_LAYOUT_BYTES), raw("index.json", &big)], true);
    assert!(matches!(&e, BundleError::TooLarge { name, max: MAX_INDEX_JSON, .. } if name == "index.json"), "{e}");
    let e = expect_err(vec![raw("oci-layout", &vec![b' '; 5000])], true);
    assert!(matches!(&e, BundleError::TooLarge { .. }), "{e}");
    let e = expect_err(vec![raw("oci-layout", br#"{"imageLayoutVersion":"2.0.0"}"#)], true);
    assert!(matches!(&e, BundleError::BadLayout { .. }), "{e}");
    let e = expect_err(vec![raw("oci-layout", b"not json")], true);
    assert!(matches!(&e, BundleError::BadLayout { .. }), "{e}");

    // Content that does not match its name.
    let e = expect_err(good_prefix_with(vec![raw(blob_name, b"abd")]), true);
    assert!(matches!(&e, BundleError::Mismatch(_)), "{e}");
    // A header size larger than the data = the tar is cut inside the blob.
    let mut r = raw(blob_name, b"abc");
    r.size = Some(100_000);
    let e = expect_err(good_prefix_with(vec![r]), false);
    assert!(matches!(&e, BundleError::Truncated { .. }), "{e}");
    // No end-of-archive marker: cut at an entry boundary.
    let e = expect_err(good_prefix_with(vec![raw(blob_name, b"abc")]), false);
    assert!(matches!(&e, BundleError::Truncated { after } if after == blob_name), "{e}");
    // Not a layout at all.
    let e = expect_err(vec![raw("oci-layout", OCI_LAYOUT_BYTES)], true);
    assert!(matches!(&e, BundleError::BadLayout { name, .. } if name == "index.json"), "{e}");
    let e = expect_err(vec![], true);
    assert!(matches!(&e, BundleError::BadLayout { name, .. } if name == "oci-layout"), "{e}");
    // Garbage after the end marker.
    let mut bytes = raw_tar(&good_prefix(), true);
    bytes.extend_from_slice(b"surprise");
    assert!(matches!(read_bytes(bytes), Err(BundleError::TrailingData { .. })));
    // Zero padding to a 10 KiB record (as GNU tar writes) is fine; so are directory entries.
    let mut entries = vec![kind("./", tar::EntryType::Directory), kind("blobs/", tar::EntryType::Directory)];
    entries.extend(good_prefix());
    entries.push(kind("blobs/sha256/", tar::EntryType::Directory));
    entries.push(raw(leak(format!("./{blob_name}")), b"abc"));
    let mut bytes = raw_tar(&entries, true);
    bytes.resize(10240, 0);
    assert_eq!(read_bytes(bytes).unwrap().len(), 3);
}

#[test]
fn long_names_from_extensions_must_pass_the_allow_list() {
    // A GNU long name and a PAX path, as the tar crate parses them, then the allow-list.
    let long = format!("blobs/sha256/{}/{}", "a".repeat(64), "b".repeat(100));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    b.append_data(&mut h, &long, &b"x"[..]).unwrap();
    let e = read_bytes(b.into_inner().unwrap()).unwrap_err();
    assert!(matches!(&e, BundleError::ForbiddenEntry { name, .. } if name == &long), "{e}");

    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("path", &b"../../etc/passwd"[..])]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(1);
    b.append_data(&mut h, "index.json", &b"x"[..]).unwrap();
    let e = read_bytes(b.into_inner().unwrap()).unwrap_err();
    assert!(matches!(&e, BundleError::ForbiddenEntry { name, .. } if name == "../../etc/passwd"), "{e}");
}

/// A GNU long-name header (one 512-byte block) that claims a 2 MiB name.
fn long_name_header() -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(2 << 20);
    h.set_cksum();
    h
}

/// A good bundle prefix followed by a 2 MiB GNU long name (what the tar crate would buffer
/// whole) and the end-of-archive blocks.
fn with_2mib_long_name() -> Vec<u8> {
    let mut bytes = raw_tar(&good_prefix(), false);
    bytes.extend_from_slice(long_name_header().as_bytes());
    bytes.resize(bytes.len() + (2 << 20), b'a');
    bytes.extend_from_slice(&[0u8; 1024]);
    bytes
}

/// A good prefix, then a blob whose content is itself a long-name header claiming 2 MiB,
/// whose tar header says size 0 while a PAX record says 512 (the tar crate applies the PAX
/// size). Returns the entries, the blob's digest and its content.
fn blob_behind_a_pax_size() -> (Vec<Raw>, Digest, Vec<u8>) {
    let content = long_name_header().as_bytes().to_vec();
    let d = Digest::of(&content);
    let pax = Raw { name: "PaxHeaders/x", kind: tar::EntryType::XHeader, data: b"12 size=512\n".to_vec(), size: None };
    let mut entries = good_prefix();
    entries.push(pax);
    entries.push(Raw {
        name: leak(d.blob_path()),
        kind: tar::EntryType::Regular,
        data: content.clone(),
        size: Some(0),
    });
    (entries, d, content)
}

#[test]
fn oversized_extension_headers_are_refused_before_buffering() {
    // A GNU long name of 2 MiB: the tar crate would buffer it whole; the guard refuses it.
    let bytes = with_2mib_long_name();
    let e = read_bytes(bytes).unwrap_err();
    assert!(matches!(&e, BundleError::TooLarge { size, .. } if *size == 2 << 20), "{e}");
}

#[test]
fn pax_size_overrides_are_followed() {
    // The blob's content is itself a GNU long-name header claiming 2 MiB, and its tar header
    // says size 0 while a PAX record says 512 (the tar crate applies the PAX size). A guard
    // that ignored the PAX size would take the content for a header and refuse this valid
    // bundle.
    let (entries, d, content) = blob_behind_a_pax_size();
    let got = read_bytes(raw_tar(&entries, true)).unwrap();
    assert_eq!(got.last().unwrap(), &(d.blob_path(), content));
}

#[test]
fn skipped_blobs_are_still_verified() {
    let d = Digest::of(b"abc");
    let mut entries = good_prefix();
    entries.push(raw(leak(d.blob_path()), b"abd"));
    let mut r = BundleReader::from_reader(std::io::Cursor::new(raw_tar(&entries, true))).unwrap();
    let mut it = r.entries().unwrap();
    while let Some(e) = it.next_entry().transpose() {
        match e {
            Ok(Entry::Blob(_)) => {} // not read
            Ok(_) => {}
            Err(e) => {
                assert!(matches!(e, BundleError::Mismatch(_)), "{e}");
                assert!(matches!(it.next_entry(), Err(BundleError::Abandoned { .. })));
                return;
            }
        }
    }
    panic!("a corrupt unread blob was accepted");
}

#[test]
fn streaming_blob_read_fails_at_the_end() {
    let d = Digest::of(b"abc");
    let mut entries = good_prefix();
    entries.push(raw(leak(d.blob_path()), b"abd"));
    let mut r = BundleReader::from_reader(std::io::Cursor::new(raw_tar(&entries, true))).unwrap();
    let mut it = r.entries().unwrap();
    loop {
        if let Entry::Blob(mut b) = it.next_entry().unwrap().unwrap() {
            let mut sink = Vec::new();
            let err = std::io::copy(&mut b, &mut sink).unwrap_err();
            assert_eq!(sink, b"abd", "bytes stream before the verdict");
            assert!(matches!(BundleError::from_io(err), Ok(BundleError::Mismatch(_))));
            break;
        }
    }
    assert!(matches!(it.next_entry(), Err(BundleError::Mismatch(_))));
}

#[test]
fn truncation_at_any_offset_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for c in ALL {
        let path = dir.path().join(format!("t-{c}"));
        write_sample(&path, c);
        let full = std::fs::read(&path).unwrap();
        assert!(read_bytes(full.clone()).is_ok());
        let step = (full.len() / 150).max(1);
        let offsets = (0..full.len()).step_by(step).chain(full.len().saturating_sub(1100)..full.len());
        for cut in offsets {
            match read_bytes(full[..cut].to_vec()) {
                Ok(_) => panic!("{c}: bundle cut at {cut} of {} accepted", full.len()),
                Err(BundleError::Truncated { .. }) => {}
                Err(e) => panic!("{c}: cut at {cut}: unexpected {e}"),
            }
        }
    }
}

#[test]
fn flipped_bits_in_compressed_bundles_are_errors() {
    // Both formats carry a checksum of the whole stream (zstd content checksum, gzip CRC32),
    // so even a flip in tar padding is caught. zstd has a few don't-care bits (a flip there
    // decompresses to the same bytes, as `zstd -t` confirms): then the content must be intact.
    let dir = tempfile::tempdir().unwrap();
    for c in [Compression::Zstd, Compression::Gzip] {
        let path = dir.path().join(format!("f-{c}"));
        write_sample(&path, c);
        let full = std::fs::read(&path).unwrap();
        let good = read_bytes(full.clone()).unwrap();
        for at in (0..full.len()).step_by((full.len() / 100).max(1)) {
            let mut bad = full.clone();
            bad[at] ^= 0x10;
            if let Ok(got) = read_bytes(bad) {
                assert!(got == good, "{c}: flip at {at} of {} accepted with different content", full.len());
            }
        }
    }
}

// ---- async faces ----

fn chunks(b: &[u8]) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + '_ {
    futures_util::stream::iter(b.chunks(7777).map(|c| Ok(bytes::Bytes::copy_from_slice(c))))
}

#[tokio::test]
async fn async_writer_matches_sync_writer() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample();
    for c in ALL {
        let sync_path = dir.path().join(format!("sync-{c}"));
        write_sample(&sync_path, c);
        let path = dir.path().join(format!("async-{c}"));
        let mut w = AsyncBundleWriter::create(&path, c).await.unwrap();
        w.add_file(OCI_LAYOUT, OCI_LAYOUT_BYTES).await.unwrap();
        w.add_file(INDEX_JSON, s.index.clone()).await.unwrap();
        w.add_file(SEAL_INDEX, &b"{}"[..]).await.unwrap();
        for (i, (d, b)) in s.blobs.iter().enumerate() {
            if i < 2 {
                w.add_blob_bytes(d, b.clone()).await.unwrap();
            } else {
                w.add_blob_stream(d, b.len() as u64, chunks(b)).await.unwrap();
            }
        }
        assert_eq!(w.finish().await.unwrap(), path);
        assert!(std::fs::read(&path).unwrap() == std::fs::read(&sync_path).unwrap(), "{c}");
    }
}

#[tokio::test]
async fn async_writer_abandons_on_bad_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.tar");
    let mut w = AsyncBundleWriter::create(&path, Compression::None).await.unwrap();
    w.add_file(OCI_LAYOUT, OCI_LAYOUT_BYTES).await.unwrap();
    w.add_file(INDEX_JSON, &b"{}"[..]).await.unwrap();
    let d = Digest::of(b"abc");
    assert!(matches!(w.add_blob_bytes(&d, &b"abd"[..]).await, Err(BundleError::Mismatch(_))));
    let err = w.add_blob_stream(&d, 3, chunks(b"abd")).await.unwrap_err();
    assert!(matches!(err, BundleError::Mismatch(_)), "{err}");
    assert!(matches!(w.finish().await, Err(BundleError::Abandoned { .. })));

    let mut w = AsyncBundleWriter::create(&path, Compression::None).await.unwrap();
    w.add_file(OCI_LAYOUT, OCI_LAYOUT_BYTES).await.unwrap();
    w.add_file(INDEX_JSON, &b"{}"[..]).await.unwrap();
    let failing = futures_util::stream::iter(vec![
        Ok(bytes::Bytes::from_static(b"ab")),
        Err(std::io::Error::other("connection reset")),
    ]);
    let err = w.add_blob_stream(&d, 3, failing).await.unwrap_err();
    assert!(matches!(err, BundleError::Source { .. }), "{err}");
    assert!(matches!(w.add_blob_bytes(&d, &b"abc"[..]).await, Err(BundleError::Abandoned { .. })));
    // The writer thread removes its temp file once it sees the channel closed.
    tokio::task::spawn_blocking(move || w.drop_and_join()).await.unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "temp file left behind: {left:?}");
}

#[tokio::test]
async fn async_reader_streams_and_verifies() {
    use futures_util::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let s = sample();
    let path = dir.path().join("b.tar.zst");
    write_sample(&path, Compression::Zstd);
    let mut r = AsyncBundleReader::open(&path).unwrap();
    let mut blobs = Vec::new();
    let mut skipped_one = false;
    while let Some(e) = r.next().await.unwrap() {
        if let AsyncEntry::Blob(mut b) = e {
            if !skipped_one {
                skipped_one = true;
                drop(b);
                continue;
            }
            let mut got = Vec::new();
            while let Some(chunk) = b.body.next().await {
                got.extend_from_slice(&chunk.unwrap());
            }
            blobs.push((b.digest, got));
        }
    }
    assert_eq!(blobs, s.blobs[1..].to_vec());

    // A corrupt blob: the body's last item is the error, and so is the next entry.
    let d = Digest::of(b"abc");
    let mut entries = good_prefix();
    entries.push(raw(leak(d.blob_path()), b"abd"));
    let bad = dir.path().join("bad.tar");
    std::fs::write(&bad, raw_tar(&entries, true)).unwrap();
    let mut r = AsyncBundleReader::open(&bad).unwrap();
    loop {
        match r.next().await.unwrap() {
            Some(AsyncEntry::Blob(b)) => {
                let err = b.body.read_to_vec(10).await.unwrap_err();
                assert!(matches!(err, BundleError::Mismatch(_)), "{err}");
                break;
            }
            Some(_) => {}
            None => panic!("corrupt blob accepted"),
        }
    }
    assert!(matches!(r.next().await, Err(BundleError::Mismatch(_))));

    // Holding a body across next() is refused rather than deadlocking.
    let mut r = AsyncBundleReader::open(&path).unwrap();
    let held = loop {
        if let Some(AsyncEntry::Blob(b)) = r.next().await.unwrap() {
            break b;
        }
    };
    assert!(matches!(r.next().await, Err(BundleError::BlobNotFinished { .. })));
    drop(held);
    assert!(r.next().await.unwrap().is_some());

    let mut r = AsyncBundleReader::open(dir.path().join("missing")).unwrap();
    assert!(matches!(r.next().await, Err(BundleError::Io { .. })));
}

// ---- interop ----

/// Runs an interop tool under a deadline: a tool that is missing, hangs or fails fails
/// the test with its output (never a silent pass).
fn tool(program: &str, args: &[&std::ffi::OsStr]) -> String {
    let child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is needed by this test ({e}): `make test` installs it"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{program} {args:?} still running after 120 s: killed");
        }
    };
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn skopeo_and_umoci_accept_an_uncompressed_bundle() {
    use std::ffi::OsStr;
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b.tar");
    write_sample(&bundle, Compression::None);
    let out: PathBuf = dir.path().join("layout");
    tool(
        "skopeo",
        &[
            OsStr::new("--insecure-policy"),
            OsStr::new("copy"),
            format!("oci-archive:{}:v1", bundle.display()).as_ref(),
            format!("oci:{}:v1", out.display()).as_ref(),
        ],
    );
    // skopeo's own layout reads back through LayoutDir.
    let layout = crate::layout::LayoutDir::open(&out).unwrap();
    for (d, b) in sample().blobs {
        assert_eq!(layout.read_blob(&d, u64::MAX).unwrap(), b);
    }

    // umoci reads sealift's own layout (the bundle unpacked as it is, seal index included),
    // not skopeo's rewrite: stat the image, then unpack its layers and find their files.
    let ours = dir.path().join("ours");
    std::fs::create_dir(&ours).unwrap();
    tar::Archive::new(std::fs::File::open(&bundle).unwrap()).unpack(&ours).unwrap();
    assert!(ours.join(SEAL_INDEX).exists(), "the layout umoci reads is sealift's, seal files and all");
    let image = format!("{}:v1", ours.display());
    let stat = tool("umoci", &[OsStr::new("stat"), OsStr::new("--json"), OsStr::new("--image"), image.as_ref()]);
    assert!(serde_json::from_str::<serde_json::Value>(&stat).unwrap().is_object(), "umoci stat: {stat}");
    let unpacked = dir.path().join("rootfs-bundle");
    tool(
        "umoci",
        &[OsStr::new("unpack"), OsStr::new("--rootless"), OsStr::new("--image"), image.as_ref(), unpacked.as_os_str()],
    );
    assert_eq!(std::fs::read(unpacked.join("rootfs/hello.txt")).unwrap(), b"hello\n");
    assert_eq!(std::fs::read(unpacked.join("rootfs/world.txt")).unwrap(), vec![b'w'; 100_000]);
}

// ---- throughput (release: cargo test --release --lib bundle::tests::throughput -- --ignored --nocapture) ----

#[test]
#[ignore = "a benchmark, run by hand in release mode (see above)"]
fn throughput() {
    const SIZE: usize = 512 << 20;
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    // Cheap pseudo-random (incompressible) data from a xorshift generator.
    let mut data = vec![0u8; SIZE];
    let mut x = 0x9e3779b97f4a7c15u64;
    for c in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
    }
    let d = Digest::of(&data);
    for c in ALL {
        let path = dir.path().join(format!("big-{c}"));
        let t = std::time::Instant::now();
        let mut w = BundleWriter::create(&path, c).unwrap();
        w.add_file(OCI_LAYOUT, OCI_LAYOUT_BYTES).unwrap();
        w.add_file(INDEX_JSON, b"{}").unwrap();
        w.add_blob_stream(&d, SIZE as u64, &data[..]).unwrap();
        w.finish().unwrap();
        let write = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let mut r = BundleReader::open(&path).unwrap();
        let mut it = r.entries().unwrap();
        while let Some(e) = it.next_entry().unwrap() {
            if let Entry::Blob(mut b) = e {
                b.copy_to(&mut std::io::sink()).unwrap();
            }
        }
        let read = t.elapsed().as_secs_f64();
        let mb = SIZE as f64 / 1e6;
        println!("{c}: write {:.0} MB/s, read+verify {:.0} MB/s", mb / write, mb / read);
        std::fs::remove_file(&path).unwrap();
    }
}

/// The async reader's `file_offset` of an uncompressed bundle points at the blob's bytes
/// in the file (load re-reads layers from there to upload several at once).
#[test]
fn plain_bundles_report_where_each_blob_starts() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample();
    for c in [Compression::None, Compression::Zstd] {
        let path = dir.path().join(format!("o-{c}.tar"));
        write_sample(&path, c);
        let file = std::fs::read(&path).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut r = AsyncBundleReader::open(&path).unwrap();
            let mut blobs = 0;
            while let Some(e) = r.next().await.unwrap() {
                if let AsyncEntry::Blob(b) = e {
                    let want = &s.blobs.iter().find(|(d, _)| *d == b.digest).unwrap().1;
                    match (c, b.file_offset) {
                        (Compression::None, Some(off)) => {
                            assert_eq!(&file[off as usize..off as usize + b.size as usize], want.as_slice())
                        }
                        (Compression::None, None) => panic!("plain bundle without offsets"),
                        (_, off) => assert_eq!(off, None, "offsets only for uncompressed bundles"),
                    }
                    blobs += 1;
                }
            }
            assert_eq!(blobs, s.blobs.len());
        });
    }
}

// ---- inputs that are not bundles at all ----

/// Deterministic pseudo-random bytes (xorshift), full of control and non-UTF-8 bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn assert_clean_line(e: &BundleError) {
    let text = e.to_string();
    assert!(!text.chars().any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER), "raw bytes in: {text:?}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let t = c.to_string();
        assert!(!t.chars().any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER), "raw bytes in cause: {t:?}");
        cause = c.source();
    }
}

#[test]
fn random_bytes_are_not_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=20 {
        let path = dir.path().join(format!("garbage-{seed}.tar"));
        std::fs::write(&path, noise(seed, 64 * 1024)).unwrap();
        let e = read_all(&path).unwrap_err();
        assert!(
            matches!(&e, BundleError::NotABundle { file, detail: "not a tar, tar.zst or tar.gz file" }
                if *file == path.display().to_string()),
            "seed {seed}: {e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("{} is not a sealift bundle (not a tar, tar.zst or tar.gz file)", path.display())
        );
        assert_clean_line(&e);
    }
}

#[test]
fn compressed_random_bytes_are_not_a_bundle() {
    for seed in 1..=5 {
        let random = noise(seed, 64 * 1024);
        let zst = zstd::encode_all(&random[..], 3).unwrap();
        let e = read_bytes(zst).unwrap_err();
        assert!(
            matches!(e, BundleError::NotABundle { detail: "a zstd stream that does not hold a tar", .. }),
            "seed {seed}: {e:?}"
        );
        assert_eq!(e.to_string(), "the input is not a sealift bundle (a zstd stream that does not hold a tar)");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&random).unwrap();
        let e = read_bytes(gz.finish().unwrap()).unwrap_err();
        assert!(matches!(e, BundleError::NotABundle { detail: "a gzip stream that does not hold a tar", .. }), "{e:?}");
        // A zstd magic followed by noise: the decompressor's fault, reported as such, cleanly.
        let mut fake = vec![0x28, 0xb5, 0x2f, 0xfd];
        fake.extend(noise(seed, 4096));
        let e = read_bytes(fake).unwrap_err();
        assert!(!matches!(e, BundleError::NotABundle { .. }), "{e:?}");
        assert_clean_line(&e);
    }
}

/// A broken header after a good entry is corruption, and the parser's quote of the raw
/// header bytes is escaped.
#[test]
fn corrupt_header_message_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar");
    write_sample(&path, Compression::None);
    let mut bytes = std::fs::read(&path).unwrap();
    // oci-layout: one header block and one data block; the next header starts at 1024.
    let next = &mut bytes[1024..1536];
    next.copy_from_slice(&noise(7, 512));
    next[148..156].copy_from_slice(b"\x1b[31m\xff\x07\n");
    let e = read_bytes(bytes).unwrap_err();
    assert!(matches!(&e, BundleError::Corrupt { after, .. } if after == OCI_LAYOUT), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("\\u{1b}[31m\\u{fffd}\\u{7}\\n"), "{text}");
    assert_clean_line(&e);
}

// --- The seekable index (src/bundle/index.rs) ---

fn index_bytes(bytes: Vec<u8>) -> Result<Option<BundleIndex>, BundleError> {
    BundleIndex::scan(std::io::Cursor::new(bytes))
}

#[test]
fn index_spans_point_at_the_blob_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar");
    write_sample(&path, Compression::None);
    let file = std::fs::read(&path).unwrap();
    let index = BundleIndex::open(&path).unwrap().expect("an uncompressed bundle is seekable");
    let s = sample();
    assert_eq!(index.oci_layout(), OCI_LAYOUT_BYTES);
    assert_eq!(index.index_json(), s.index.as_slice());
    assert_eq!(index.seal(SEAL_INDEX), Some(&b"{}"[..]));
    assert_eq!(index.seal(SEAL_SIG), None);
    assert_eq!(index.len(), file.len() as u64);
    // Archive order, and each span is exactly the blob's bytes in the file.
    let listed: Vec<&Digest> = index.blobs().map(|(d, _)| d).collect();
    assert_eq!(listed, s.blobs.iter().map(|(d, _)| d).collect::<Vec<_>>());
    for (d, bytes) in &s.blobs {
        let span = index.blob(d).unwrap();
        assert_eq!(span.size, bytes.len() as u64);
        assert_eq!(&file[span.offset as usize..(span.offset + span.size) as usize], bytes.as_slice());
        let f = std::fs::File::open(&path).unwrap();
        assert_eq!(&index.read_blob(f, d, u64::MAX).unwrap(), bytes);
    }
    // The same offsets as the streaming reader reports.
    let mut r = BundleReader::open(&path).unwrap();
    let mut it = r.entries().unwrap();
    while let Some(e) = it.next_entry().unwrap() {
        if let Entry::Blob(b) = e {
            assert_eq!(index.blob(b.digest()).unwrap().offset, b.offset());
        }
    }
    let f = std::fs::File::open(&path).unwrap();
    let big = &s.blobs[3].0;
    assert!(matches!(index.read_blob(f, big, 10), Err(BundleError::TooLarge { .. })));
    let f = std::fs::File::open(&path).unwrap();
    assert!(matches!(index.open_blob(f, &Digest::of(b"none")), Err(BundleError::MissingBlob { .. })));
}

#[test]
fn compressed_bundles_are_not_seekable() {
    let dir = tempfile::tempdir().unwrap();
    for c in [Compression::Zstd, Compression::Gzip] {
        let path = dir.path().join(format!("b-{c}"));
        write_sample(&path, c);
        assert!(BundleIndex::open(&path).unwrap().is_none(), "{c}");
    }
}

#[test]
fn index_does_not_read_blobs_but_open_blob_checks_them() {
    let d = Digest::of(b"abc");
    let mut entries = good_prefix();
    entries.push(raw(leak(d.blob_path()), b"abd"));
    let bytes = raw_tar(&entries, true);
    let index = index_bytes(bytes.clone()).unwrap().unwrap();
    let mut r = index.open_blob(std::io::Cursor::new(bytes), &d).unwrap();
    let err = std::io::copy(&mut r, &mut std::io::sink()).unwrap_err();
    assert!(matches!(BundleError::from_io(err), Ok(BundleError::Mismatch(_))));
}

#[test]
fn index_refuses_what_the_reader_refuses() {
    let blob = Digest::of(b"abc");
    let blob_name = leak(blob.blob_path());
    let mut cut = raw(blob_name, b"abc");
    cut.size = Some(100_000);
    let cases: Vec<(&str, Vec<Raw>, bool)> = vec![
        ("parent dir", good_prefix_with(vec![raw("../evil", b"x")]), true),
        ("not a digest", good_prefix_with(vec![raw("etc/passwd", b"x")]), true),
        (
            "upper-case hex",
            good_prefix_with(vec![raw(leak(format!("blobs/sha256/{}", blob.hex().to_uppercase())), b"abc")]),
            true,
        ),
        ("symlink", good_prefix_with(vec![kind(blob_name, tar::EntryType::Symlink)]), true),
        ("hard link", good_prefix_with(vec![kind(blob_name, tar::EntryType::Link)]), true),
        ("fifo", good_prefix_with(vec![kind(blob_name, tar::EntryType::Fifo)]), true),
        ("duplicate blob", good_prefix_with(vec![raw(blob_name, b"abc"), raw(blob_name, b"abc")]), true),
        ("duplicate index", good_prefix_with(vec![raw("./index.json", b"{}")]), true),
        ("bad oci-layout", vec![raw("oci-layout", b"not json")], true),
        ("cut inside a blob", good_prefix_with(vec![cut]), false),
        ("no end marker", good_prefix_with(vec![raw(blob_name, b"abc")]), false),
        ("no index.json", vec![raw("oci-layout", OCI_LAYOUT_BYTES)], true),
        ("empty", vec![], true),
    ];
    for (what, entries, end) in cases {
        let bytes = raw_tar(&entries, end);
        let by_reader = read_bytes(bytes.clone()).expect_err(what);
        let by_index = index_bytes(bytes).expect_err(what);
        assert_eq!(
            std::mem::discriminant(&by_reader),
            std::mem::discriminant(&by_index),
            "{what}: reader {by_reader}, index {by_index}"
        );
        assert!(!by_index.to_string().contains('\n'), "{what}: {by_index}");
    }
    let e = index_bytes(raw_tar(&good_prefix_with(vec![raw(blob_name, b"abc"), raw(blob_name, b"abc")]), true))
        .unwrap_err();
    assert!(matches!(&e, BundleError::DuplicateEntry { name } if name == blob_name), "{e}");
    let e = index_bytes(raw_tar(&good_prefix_with(vec![raw("etc/passwd", b"x")]), true)).unwrap_err();
    assert!(matches!(&e, BundleError::ForbiddenEntry { name, .. } if name == "etc/passwd"), "{e}");

    // Garbage after the end marker; zero padding to a 10 KiB record is fine.
    let mut bytes = raw_tar(&good_prefix(), true);
    bytes.extend_from_slice(b"surprise");
    assert!(matches!(index_bytes(bytes), Err(BundleError::TrailingData { .. })));
    let mut entries = vec![kind("./", tar::EntryType::Directory)];
    entries.extend(good_prefix_with(vec![raw(leak(format!("./{blob_name}")), b"abc")]));
    let mut bytes = raw_tar(&entries, true);
    bytes.resize(10240, 0);
    assert_eq!(index_bytes(bytes).unwrap().unwrap().blobs().count(), 1);
    // Random bytes are not a bundle.
    let e = index_bytes(noise(7, 4096)).unwrap_err();
    assert!(matches!(&e, BundleError::NotABundle { .. }), "{e}");
}

#[test]
fn index_bounds_extension_headers_and_follows_pax_sizes() {
    let bytes = with_2mib_long_name();
    let e = index_bytes(bytes).unwrap_err();
    assert!(matches!(&e, BundleError::TooLarge { size, .. } if *size == 2 << 20), "{e}");

    // A blob whose data looks like a header, behind a PAX size override: the seek must land
    // where the tar crate says the next header is, and the guard must agree.
    let (mut entries, d, content) = blob_behind_a_pax_size();
    entries.push(raw(leak(Digest::of(b"abc").blob_path()), b"abc"));
    let bytes = raw_tar(&entries, true);
    let index = index_bytes(bytes.clone()).unwrap().unwrap();
    assert_eq!(index.read_blob(std::io::Cursor::new(bytes.clone()), &d, u64::MAX).unwrap(), content);
    assert_eq!(index.read_blob(std::io::Cursor::new(bytes), &Digest::of(b"abc"), 3).unwrap(), b"abc");
}

#[test]
fn index_truncation_at_any_offset_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.tar");
    write_sample(&path, Compression::None);
    let full = std::fs::read(&path).unwrap();
    assert!(index_bytes(full.clone()).unwrap().is_some());
    let step = (full.len() / 150).max(1);
    for cut in (0..full.len()).step_by(step).chain(full.len().saturating_sub(1100)..full.len()) {
        match index_bytes(full[..cut].to_vec()) {
            Ok(_) => panic!("bundle cut at {cut} of {} indexed", full.len()),
            Err(BundleError::Truncated { .. }) => {}
            Err(e) => panic!("cut at {cut}: unexpected {e}"),
        }
    }
}
