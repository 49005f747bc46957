//! Layout directory: write, read back, refuse escapes and corrupt blobs.

use crate::bundle::names::{INDEX_JSON, OCI_LAYOUT, OCI_LAYOUT_BYTES, SEAL_INDEX};
use crate::bundle::BundleError;
use crate::oci::Digest;

use super::*;

fn written() -> (tempfile::TempDir, Vec<(Digest, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    let mut w = LayoutDir::create(dir.path().join("l")).unwrap();
    w.add_file(OCI_LAYOUT, OCI_LAYOUT_BYTES).unwrap();
    w.add_file(INDEX_JSON, br#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
    let blobs: Vec<_> =
        [&b"abc"[..], &b"def"[..], &vec![7u8; 600_000][..]].into_iter().map(|b| (Digest::of(b), b.to_vec())).collect();
    w.add_blob_bytes(&blobs[0].0, &blobs[0].1).unwrap();
    w.add_blob_bytes(&blobs[1].0, &blobs[1].1).unwrap();
    w.add_blob_from_reader(&blobs[2].0, blobs[2].1.len() as u64, &blobs[2].1[..]).unwrap();
    (dir, blobs)
}

#[test]
fn write_then_read() {
    let (dir, blobs) = written();
    let l = LayoutDir::open(dir.path().join("l")).unwrap();
    assert_eq!(l.index_bytes(), br#"{"schemaVersion":2,"manifests":[]}"#);
    let mut want: Vec<_> = blobs.iter().map(|(d, _)| d.clone()).collect();
    want.sort();
    assert_eq!(l.list_blobs().unwrap(), want);
    for (d, b) in &blobs {
        assert!(l.has_blob(d));
        assert_eq!(&l.read_blob(d, u64::MAX).unwrap(), b);
        let (mut r, size) = l.open_blob(d).unwrap();
        assert_eq!(size, b.len() as u64);
        let mut got = Vec::new();
        std::io::copy(&mut r, &mut got).unwrap();
        assert!(r.is_verified());
    }
    assert!(matches!(l.read_blob(&blobs[2].0, 10), Err(BundleError::TooLarge { .. })));
    let missing = Digest::of(b"nope");
    assert!(!l.has_blob(&missing));
    assert!(matches!(l.read_blob(&missing, 10), Err(BundleError::MissingBlob { .. })));
    assert_eq!(l.read_seal(SEAL_INDEX).unwrap(), None);
    assert!(matches!(l.read_seal("index.json"), Err(BundleError::ForbiddenEntry { .. })));
    // No temporary files remain.
    let leftovers = std::fs::read_dir(dir.path().join("l/blobs/sha256")).unwrap().count();
    assert_eq!(leftovers, 3);
}

#[test]
fn writer_refuses_bad_content_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = LayoutWriter::create(dir.path()).unwrap();
    let d = Digest::of(b"abc");
    assert!(matches!(w.add_blob_bytes(&d, b"abd"), Err(BundleError::Mismatch(_))));
    assert!(matches!(w.add_blob_from_reader(&d, 3, &b"abd"[..]), Err(BundleError::Mismatch(_))));
    assert!(matches!(w.add_blob_from_reader(&d, 2, &b"abc"[..]), Err(BundleError::Mismatch(_))));
    assert!(matches!(w.add_file("../x", b""), Err(BundleError::ForbiddenEntry { .. })));
    assert!(matches!(w.add_file(OCI_LAYOUT, b"{}"), Err(BundleError::BadLayout { .. })));
    assert_eq!(std::fs::read_dir(dir.path().join("blobs/sha256")).unwrap().count(), 0, "partial blob left");
    // A failed blob can be retried; a good one only once.
    w.add_blob_from_reader(&d, 3, &b"abc"[..]).unwrap();
    assert!(matches!(w.add_blob_bytes(&d, b"abc"), Err(BundleError::DuplicateEntry { .. })));
}

#[test]
fn reader_refuses_corruption_and_escapes() {
    let (dir, blobs) = written();
    let root = dir.path().join("l");
    let (d, _) = &blobs[0];
    std::fs::write(root.join(d.blob_path()), b"abd").unwrap();
    let l = LayoutDir::open(&root).unwrap();
    assert!(matches!(l.read_blob(d, 100), Err(BundleError::Mismatch(_))));

    // A blob symlinked outside the layout.
    let outside = dir.path().join("secret");
    std::fs::write(&outside, b"def").unwrap();
    let (d2, _) = &blobs[1];
    std::fs::remove_file(root.join(d2.blob_path())).unwrap();
    std::os::unix::fs::symlink(&outside, root.join(d2.blob_path())).unwrap();
    let e = l.read_blob(d2, 100).unwrap_err();
    assert!(matches!(&e, BundleError::Link { .. }), "{e}");
    assert!(!l.has_blob(d2));
    // A symlink within the layout is fine.
    std::fs::remove_file(root.join(d2.blob_path())).unwrap();
    std::fs::write(root.join("blobs/other"), b"def").unwrap();
    std::os::unix::fs::symlink("../other", root.join(d2.blob_path())).unwrap();
    assert_eq!(l.read_blob(d2, 100).unwrap(), b"def");

    std::fs::write(root.join(OCI_LAYOUT), br#"{"imageLayoutVersion":"9"}"#).unwrap();
    assert!(matches!(LayoutDir::open(&root), Err(BundleError::BadLayout { .. })));
    std::fs::remove_file(root.join(OCI_LAYOUT)).unwrap();
    assert!(matches!(LayoutDir::open(&root), Err(BundleError::Io { .. })));
}
