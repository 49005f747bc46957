//! Sealed bundles: `save --sign-key` signs a bundle index; `load --bundle-key` refuses a
//! bundle whose seal does not verify or does not describe it, before pushing anything.

use std::path::Path;

use crate::save_load::World;
use crate::support::{ok_all, sealift, tempdir, TestRegistry};

/// An EC P-256 key pair made by the openssl CLI: (private PEM path, public PEM path).
pub fn openssl_keypair(dir: &Path, name: &str) -> (String, String) {
    let key = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let run = |args: &[&str]| {
        let o = crate::support::run(std::process::Command::new("openssl").args(args), b"");
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.to_str().unwrap()]);
    run(&["pkey", "-in", key.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()]);
    (key.to_str().unwrap().to_owned(), public.to_str().unwrap().to_owned())
}

/// Rewrites an uncompressed bundle entry by entry; `edit` may change or drop an entry.
pub fn rewrite_tar(
    path: &Path,
    mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>,
    extra: Option<(&str, Vec<u8>)>,
) {
    let mut entries = Vec::new();
    {
        let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
            if let Some(b) = edit(&name, bytes) {
                entries.push((name, b));
            }
        }
    }
    if let Some((n, b)) = extra {
        entries.push((n.to_owned(), b));
    }
    crate::support::write_tar(path, &entries);
}

fn assert_nothing_tagged(dst: &TestRegistry) {
    for (repo, tag) in [("team/app", "1.0"), ("other/tool", "2.0"), ("team/multi", "1.0")] {
        dst.assert_absent(repo, tag, "the bundle was refused");
    }
}

fn load(bundle: &Path, dst: &TestRegistry, key: &str) -> std::process::Output {
    sealift(&["load", "--insecure-skip-verify", bundle.to_str().unwrap(), "--to", &dst.addr, "--bundle-key", key])
}

#[test]
fn a_sealed_bundle_loads_and_every_tampering_is_refused() {
    let w = World::new();
    let dir = tempdir();
    let (key, public) = openssl_keypair(dir.path(), "seal");
    let (_, other_public) = openssl_keypair(dir.path(), "other");
    let sealed = dir.path().join("sealed.tar");
    let said = ok_all(&w.save(&sealed, &["--sign-key", &key]));
    assert!(said.contains("sealed"), "{said}");
    let names: Vec<String> = crate::save_load::tar_entries(&sealed).into_iter().map(|e| e.0).collect();
    assert_eq!(&names[..4], ["oci-layout", "index.json", "sealift-index.json", "sealift-index.json.sig"]);
    let shown = ok_all(&sealift(&["inspect", sealed.to_str().unwrap(), "--output", "json"]));
    assert!(shown.contains("\"sealed\": true"), "{shown}");

    // Good: loads, and says the seal verified.
    let dst = TestRegistry::start();
    let said = ok_all(&load(&sealed, &dst, &public));
    assert!(said.contains("seal verified"), "{said}");

    let case = |name: &str, edit: &dyn Fn(&Path), key: &str, code: i32, reason: &str| {
        let copy = dir.path().join(format!("{name}.tar"));
        std::fs::copy(&sealed, &copy).unwrap();
        edit(&copy);
        let dst = TestRegistry::start();
        let out = load(&copy, &dst, key);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {err}");
        assert!(err.contains(reason), "{name}: expected {reason:?} in: {err}");
        assert_nothing_tagged(&dst);
    };
    case("wrong-key", &|_| {}, &other_public, 1, "does not verify");
    case(
        "stripped",
        &|p| rewrite_tar(p, |n, b| (!n.starts_with("sealift-index")).then_some(b), None),
        &public,
        1,
        "not sealed",
    );
    case(
        "index-edited",
        &|p| {
            rewrite_tar(
                p,
                |n, b| {
                    if n == "index.json" {
                        Some(String::from_utf8(b).unwrap().replace("\"1.0\"", "\"1.1\"").into_bytes())
                    } else {
                        Some(b)
                    }
                },
                None,
            )
        },
        &public,
        1,
        "index.json was changed after sealing",
    );
    let base = sealift::oci::Digest::of(&w.base);
    case(
        "blob-replaced",
        &|p| {
            rewrite_tar(
                p,
                |n, mut b| {
                    if n == base.blob_path() {
                        b[10] ^= 0xff;
                    }
                    Some(b)
                },
                None,
            )
        },
        &public,
        4,
        &base.to_string(),
    );
    let extra = sealift::oci::Digest::of(b"smuggled");
    case(
        "extra-blob",
        &|p| rewrite_tar(p, |_, b| Some(b), Some((&extra.blob_path(), b"smuggled".to_vec()))),
        &public,
        4,
        &extra.to_string(),
    );
}

#[test]
fn hostile_names_dry_runs_and_targets_are_refused_before_any_push() {
    let w = World::new();
    let dir = tempdir();
    let (key, public) = openssl_keypair(dir.path(), "seal");
    let bundle = dir.path().join("b.tar");
    ok_all(&w.save(&bundle, &["--sign-key", &key]));
    let b = bundle.to_str().unwrap();
    let dst = TestRegistry::start();

    // A tag in --to for a bundle that names its repositories, and a digest: usage errors.
    for to in [format!("{}/pre:9", dst.addr), format!("{}/pre@sha256:{}", dst.addr, "a".repeat(64))] {
        let out = sealift(&["load", "--insecure-skip-verify", b, "--to", &to]);
        assert_eq!(out.status.code(), Some(2), "{to}: {}", String::from_utf8_lossy(&out.stderr));
    }

    // A dry run reads every layer: a flipped byte is found without pushing anything.
    let flipped = dir.path().join("flipped.tar");
    std::fs::copy(&bundle, &flipped).unwrap();
    let base = sealift::oci::Digest::of(&w.base);
    rewrite_tar(
        &flipped,
        |n, mut bytes| {
            if n == base.blob_path() {
                bytes[7] ^= 1;
            }
            Some(bytes)
        },
        None,
    );
    let out = sealift(&["load", "--insecure-skip-verify", flipped.to_str().unwrap(), "--to", &dst.addr, "--dry-run"]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));

    // Offline checks of a sealed bundle read every layer too.
    let out =
        sealift(&["audit", flipped.to_str().unwrap(), "--key", &public, "--bundle-key", &public, "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["seal"]["verdict"], "rejected", "{v}");
    assert!(v["seal"]["reason"].as_str().unwrap().contains(&base.to_string()));
    let out = sealift(&["verify", "--bundle", flipped.to_str().unwrap(), "--key", &public, "--bundle-key", &public]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("seal rejected") && err.contains(&base.to_string()), "{err}");

    // A hostile tag annotation: the bundle is refused up front (exit 4), for load and inspect.
    let hostile = dir.path().join("hostile.tar");
    std::fs::copy(&bundle, &hostile).unwrap();
    rewrite_tar(
        &hostile,
        |n, b| {
            if n == "index.json" {
                Some(
                    String::from_utf8(b)
                        .unwrap()
                        .replacen("\"dev.sealift.tag\": \"1.0\"", "\"dev.sealift.tag\": \"<script>\\u001b[31m\"", 1)
                        .into_bytes(),
                )
            } else if n.starts_with("sealift-index") {
                None
            } else {
                Some(b)
            }
        },
        None,
    );
    for args in [
        vec!["load", "--insecure-skip-verify", hostile.to_str().unwrap(), "--to", &dst.addr],
        vec!["inspect", hostile.to_str().unwrap()],
    ] {
        let out = sealift(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {err}");
        assert!(!err.contains('\u{1b}') && !err.contains("<script>"), "{err}");
    }
    dst.assert_absent("team/app", "1.0", "hostile bundles push nothing");
}
