//! A bundle read from a pipe (issue 10: a bundle piped from `ssh` or a tape, and the
//! 100 GiB measurement of bench/scale.sh, which streams a bundle it never stores): `load`
//! opens the path once and reads it in one sequential pass, as for a compressed bundle.

use std::path::{Path, PathBuf};

use crate::support::{ok_all, skopeo_inspect_raw, tempdir, Raw, TestRegistry};

/// A FIFO at `dir/name` fed with `bytes` by a thread (which gives up quietly when the
/// reader goes away).
fn fifo(dir: &Path, name: &str, bytes: Vec<u8>) -> PathBuf {
    let path = dir.join(name);
    let made = std::process::Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(made.success());
    let p = path.clone();
    std::thread::spawn(move || {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p) {
            let _ = f.write_all(&bytes);
        }
    });
    path
}

#[test]
fn a_bundle_piped_through_a_fifo_loads_and_a_corrupt_one_pushes_no_tag() {
    let w = crate::save_load::World::new();
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    ok_all(&w.save(&bundle, &[]));
    let bytes = std::fs::read(&bundle).unwrap();
    for (i, extra) in [&[][..], &["--check-first"][..]].iter().enumerate() {
        let dst = TestRegistry::start();
        let pipe = fifo(dir.path(), &format!("good{i}"), bytes.clone());
        ok_all(&w.load(&pipe, &dst.addr, extra));
        assert_eq!(skopeo_inspect_raw(&format!("{}/team/app:1.0", dst.addr)), w.app.bytes, "{extra:?}");
        assert_eq!(skopeo_inspect_raw(&format!("{}/team/multi:1.0", dst.addr)), w.index.bytes, "{extra:?}");
        assert_eq!(skopeo_inspect_raw(&format!("{}/other/tool:2.0", dst.addr)), w.tool.bytes, "{extra:?}");
    }
    // A flipped byte in the shared base layer: exit 4, naming it, and no tag anywhere.
    let base = sealift::oci::Digest::of(&w.base);
    let (_, offset, _) = crate::save_load::tar_entries(&bundle).into_iter().find(|e| e.0 == base.blob_path()).unwrap();
    let mut bad = bytes;
    bad[offset as usize + 100] ^= 0x40;
    let dst = TestRegistry::start();
    let out = w.load(&fifo(dir.path(), "bad", bad), &dst.addr, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&base.to_string()), "{err}");
    for repo in ["team/app", "team/multi", "other/tool"] {
        let listed = Raw::new(&dst.addr).request("GET", &format!("/v2/{repo}/tags/list"), &[], b"");
        let tags: serde_json::Value = serde_json::from_slice(&listed.body).unwrap_or_default();
        assert!(tags["tags"].as_array().is_none_or(|t| t.is_empty()), "{repo}: {tags}");
    }
}
