//! The manifest phase of `load` (issue 10): independent images go concurrently, `--jobs` at
//! a time, and every tag still lands only once its image and attachments are in place
//! (docs/bundle.md, push order). A failed manifest PUT leaves no tag of its image.

use crate::save_load::{image, openssl_sig, Pushed, World};
use crate::support::{ok_all, random_bytes, sealift, skopeo_inspect_raw, tempdir, FailingForwarder, Raw, TestRegistry};
use sealift::oci::Digest;

/// `n` signed images, one per repository `fleet/appI:vI`, sharing one layer, each with its
/// `.sig`; returns (repository, tag, image, signature) and the bundle saved from them.
fn fleet(w: &World, n: usize, dir: &std::path::Path) -> (Vec<(String, String, Pushed, Pushed)>, std::path::PathBuf) {
    let shared = random_bytes(10_000);
    let mut images = Vec::new();
    for i in 0..n {
        let (repo, tag) = (format!("fleet/app{i}"), format!("v{i}"));
        let img = image(&w.src, &repo, Some(&tag), &[shared.clone(), random_bytes(2_000 + i)], false, "amd64");
        let sig = openssl_sig(&w.src, &repo, &img.digest, &w.key);
        images.push((repo, tag, img, sig));
    }
    let bundle = dir.join("fleet.tar");
    let mut args = vec!["save".to_owned(), "-o".to_owned(), bundle.to_str().unwrap().to_owned()];
    args.extend(images.iter().map(|(r, t, ..)| format!("{}/{r}:{t}", w.src.addr)));
    ok_all(&sealift(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    (images, bundle)
}

/// The digest `repo:TAG` or `repo@DIGEST` names at `addr`, asked with skopeo; `None` when absent.
fn skopeo_digest(addr: &str, repo: &str, reference: &str) -> Option<Digest> {
    let sep = if reference.starts_with("sha256:") { '@' } else { ':' };
    let out = crate::support::skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{addr}/{repo}{sep}{reference}"),
    ]);
    out.status.success().then(|| Digest::of(&out.stdout))
}

fn sig_tag(subject: &Digest) -> String {
    format!("{}.sig", subject.tag_prefix())
}

#[test]
fn many_images_at_jobs_8_land_with_every_tag_and_digest() {
    let w = World::new();
    let dir = tempdir();
    let (images, bundle) = fleet(&w, 24, dir.path());
    let dst = TestRegistry::start();
    let said = ok_all(&w.load(&bundle, &dst.addr, &["-j", "8"]));
    for (repo, tag, img, sig) in &images {
        let got = Digest::of(&skopeo_inspect_raw(&format!("{}/{repo}:{tag}", dst.addr)));
        assert_eq!(got, img.digest, "{repo}:{tag}");
        assert_eq!(skopeo_digest(&dst.addr, repo, &sig_tag(&img.digest)).as_ref(), Some(&sig.digest), "{repo} .sig");
        assert!(said.contains(&format!("tagged {}/{repo}:{tag}", dst.addr)), "{said}");
    }
    assert!(said.contains("pushed 48 manifests, 0 already present"), "{said}");
    // A second load finds everything there and sets nothing.
    let again = ok_all(&w.load(&bundle, &dst.addr, &["-j", "8"]));
    assert!(again.contains("pushed 0 manifests, 48 already present") && !again.contains("tagged "), "{again}");
}

/// The target fails one manifest PUT (the image's, or its signature's): the load fails
/// (exit 3, naming the repository); that image has no tag and no `.sig` tag; every other
/// image is either complete (its tag and its `.sig` tag, at the bundle's digests) or has
/// no tag at all; nothing but the bundle's manifests is tagged anywhere.
#[test]
fn a_failed_manifest_put_leaves_no_tag_of_its_image() {
    let w = World::new();
    let dir = tempdir();
    let (images, bundle) = fleet(&w, 12, dir.path());
    let victim = 9;
    for fail_sig in [false, true] {
        let dst = TestRegistry::start();
        let (repo, _, img, sig) = &images[victim];
        let path = format!("/v2/{repo}/manifests/{}", if fail_sig { &sig.digest } else { &img.digest });
        let forwarder = FailingForwarder::start(&dst.addr, move |r| r.method == "PUT" && r.target == path);
        let out = w.load(&bundle, &forwarder.addr, &["-j", "4", "--retries", "0"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        let last = err.trim().lines().last().unwrap();
        assert!(last.contains("storage failed on purpose") && last.contains(repo.as_str()), "{err}");
        assert!(
            forwarder.requests().iter().any(|r| r.method == "PUT" && r.target.contains("/manifests/")),
            "the manifest phase was reached"
        );
        let mut complete = 0;
        for (i, (r, tag, img_i, sig_i)) in images.iter().enumerate() {
            let tagged = skopeo_digest(&dst.addr, r, tag);
            let signed = skopeo_digest(&dst.addr, r, &sig_tag(&img_i.digest));
            let listed = Raw::new(&dst.addr).request("GET", &format!("/v2/{r}/tags/list"), &[], b"");
            let tags: serde_json::Value = serde_json::from_slice(&listed.body).unwrap_or_default();
            let tags = tags["tags"].as_array().cloned().unwrap_or_default();
            if i == victim {
                assert!(tags.is_empty(), "fail_sig={fail_sig}: the failed image {r} has tags {tags:?}");
                // Content-addressed leftovers only: the image by digest when its signature failed.
                let by_digest = skopeo_digest(&dst.addr, r, &img_i.digest.to_string());
                assert_eq!(by_digest.is_some(), fail_sig, "{r} by digest");
                continue;
            }
            match (tagged, signed) {
                (Some(t), Some(s)) => {
                    assert_eq!((&t, &s), (&img_i.digest, &sig_i.digest), "{r}");
                    assert_eq!(tags.len(), 2, "{r}: {tags:?}");
                    complete += 1;
                }
                (None, None) => assert!(tags.is_empty(), "{r}: {tags:?}"),
                other => panic!("fail_sig={fail_sig}: {r} half tagged: {other:?}"),
            }
        }
        eprintln!("fail_sig={fail_sig}: {complete} of {} other images completed", images.len() - 1);
    }
}
