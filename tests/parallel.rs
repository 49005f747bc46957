//! The parallel walk (issue 10 §4): `save --jobs N` walks images, platforms and attachments
//! concurrently and fetches small layers ahead, and still writes the same bytes whatever N.

use crate::save_load::{image, openssl_referrer, openssl_sig, World};
use crate::support::{ok_all, random_bytes, sealift, tempdir};

#[test]
fn save_writes_the_same_bytes_at_any_jobs() {
    let w = World::new();
    // More images than jobs, each signed, some with a referrer, sharing a layer, in two
    // repositories that share blobs, plus the world's multi-platform index.
    let shared = random_bytes(20_000);
    let mut refs = w.refs();
    for i in 0..12 {
        let repo = format!("fleet/app{}", i % 3);
        let tag = format!("v{i}");
        let img = image(&w.src, &repo, Some(&tag), &[shared.clone(), random_bytes(5_000 + i * 100)], false, "amd64");
        openssl_sig(&w.src, &repo, &img.digest, &w.key);
        if i % 4 == 0 {
            openssl_referrer(&w.src, &repo, &img, &w.key);
        }
        refs.push(format!("{}/{repo}:{tag}", w.src.addr));
    }
    let dir = tempdir();
    let save = |name: &str, jobs: &str| {
        let out = dir.path().join(name);
        let mut args: Vec<&str> = vec!["save", "-j", jobs, "-o", out.to_str().unwrap()];
        args.extend(refs.iter().map(String::as_str));
        let said = ok_all(&sealift(&args));
        // Not a terminal: no progress bar, only the status lines.
        assert!(!said.contains('\r') && !said.contains("in flight"), "{said}");
        std::fs::read(out).unwrap()
    };
    let one = save("j1.tar", "1");
    let eight = save("j8.tar", "8");
    let sixteen = save("j16.tar.zst", "16");
    assert!(one == eight, "-j 1 and -j 8 wrote different bundles");
    assert_eq!(save("j1.tar.zst", "1"), sixteen, "-j 1 and -j 16 wrote different zstd bundles");
    // And the bundle is complete: every image loads, verified, from the -j 8 save.
    let dst = crate::support::TestRegistry::start();
    ok_all(&w.load(&dir.path().join("j8.tar"), &dst.addr, &["--allow-unsigned"]));
    for i in 0..12 {
        let repo = format!("fleet/app{}", i % 3);
        crate::support::skopeo_inspect_raw(&format!("{}/{repo}:v{i}", dst.addr));
    }
}
