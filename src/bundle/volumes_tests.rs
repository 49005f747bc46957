use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use super::*;

/// Writes `bytes` as a volume set `dir/b.tar.*` cut at `size`; returns the set read back.
fn write_set(dir: &Path, bytes: &[u8], size: u64) -> PartSet {
    let mut w = VolumeWriter::new(&dir.join("b.tar"), size).unwrap();
    // Uneven writes, as a BufWriter or compressor would issue them.
    for chunk in bytes.chunks(777) {
        w.write_all(chunk).unwrap();
    }
    let pending = w.finish().unwrap();
    let list = pending.publish(None).unwrap();
    PartSet::open_list(&list).unwrap()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn parts_split_the_stream_and_read_back_across_parts() {
    let d = tempfile::tempdir().unwrap();
    let bytes = data(10_000);
    let set = write_set(d.path(), &bytes, 4096);
    let names: Vec<&str> = set.list.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["b.tar.001", "b.tar.002", "b.tar.003"]);
    assert_eq!(set.list.parts.iter().map(|p| p.size).collect::<Vec<_>>(), [4096, 4096, 1808]);
    assert_eq!(set.list.bundle.digest, Digest::of(&bytes));
    // No temporary file is left, and the concatenation is the stream.
    let mut names: Vec<String> =
        std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["b.tar.001", "b.tar.002", "b.tar.003", "b.tar.parts.json"]);
    set.check_all().unwrap();

    let set = Arc::new(set);
    let mut all = Vec::new();
    set.reader().read_to_end(&mut all).unwrap();
    assert_eq!(all, bytes);
    // Seek into the middle of part 2 and read across into part 3.
    let mut r = set.reader();
    r.seek(SeekFrom::Start(6000)).unwrap();
    let mut some = vec![0u8; 3000];
    r.read_exact(&mut some).unwrap();
    assert_eq!(some, bytes[6000..9000]);
    // The first part and the part list both open the set; a later part does not.
    assert!(PartSet::for_bundle(&d.path().join("b.tar.001")).unwrap().is_some());
    assert!(PartSet::for_bundle(&d.path().join("b.tar.parts.json")).unwrap().is_some());
    let later = PartSet::for_bundle(&d.path().join("b.tar.002")).unwrap_err();
    assert!(later.to_string().contains("give the first part"), "{later}");
}

#[test]
fn a_damaged_swapped_or_missing_part_is_named() {
    let d = tempfile::tempdir().unwrap();
    let bytes = data(12_288);
    let set = Arc::new(write_set(d.path(), &bytes, 4096));
    let p2 = d.path().join("b.tar.002");
    let p3 = d.path().join("b.tar.003");
    let good2 = std::fs::read(&p2).unwrap();
    let good3 = std::fs::read(&p3).unwrap();

    // Damaged: one byte flipped. Named by check_part and by a sequential read.
    let mut bad = good2.clone();
    bad[100] ^= 1;
    std::fs::write(&p2, &bad).unwrap();
    let e = set.check_part(1, &p2).unwrap_err();
    assert!(
        matches!(e, BundleError::Volume(VolumeError::Damaged { ref part, .. }) if part.ends_with("b.tar.002")),
        "{e}"
    );
    let e = set.reader().read_to_end(&mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("b.tar.002 is damaged"), "{e}");

    // Swapped: each holds the other's bytes.
    std::fs::write(&p2, &good3).unwrap();
    std::fs::write(&p3, &good2).unwrap();
    let e = set.check_all().unwrap_err();
    assert!(e.to_string().contains("holds part b.tar.003"), "{e}");

    // Missing.
    std::fs::remove_file(&p3).unwrap();
    let e = set.check_sizes().unwrap_err();
    assert!(matches!(e, VolumeError::Missing { .. }), "{e}");
}

#[test]
fn a_part_list_names_only_its_own_parts() {
    let d = tempfile::tempdir().unwrap();
    let set = write_set(d.path(), &data(9000), 4096);
    let text = String::from_utf8(set.list_bytes.clone()).unwrap();
    for (edit, reason) in [
        (text.replace("\"b.tar.002\"", "\"../etc/passwd\""), "is named"),
        (text.replace(PARTS_SCHEMA, "https://sealift.dev/schemas/bundle-parts/v9"), "unknown schema"),
        (text.replace("\"set\": \"", "\"set\": \"0"), "set id"),
        (text.replacen("{", "{\"extra\": 1,", 1), "unknown field"),
    ] {
        let e = PartList::parse("l", edit.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(reason), "{reason}: {e}");
    }
}

#[test]
fn an_unpublished_set_leaves_no_file() {
    let d = tempfile::tempdir().unwrap();
    let mut w = VolumeWriter::new(&d.path().join("b.tar"), 4096).unwrap();
    w.write_all(&data(10_000)).unwrap();
    drop(w.finish().unwrap());
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
}
