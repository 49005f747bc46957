//! Registry access from the CLI: basic auth with --username/--password-stdin and from the
//! Docker config, wrong credentials, TLS with --ca-cert; and loading layout directories
//! (an extracted bundle, and the layout `cosign save` writes).

use sealift::oci::media;
use serde_json::json;

use crate::save_load::World;
use crate::support::{ok_all, random_image, sealift, sealift_with, skopeo_inspect_raw, tempdir, Raw, TestRegistry};

#[test]
fn basic_auth_from_stdin_and_docker_config_and_wrong_password() {
    let src = TestRegistry::start_with_auth("alice", "s3cret-pw");
    let img = Raw::new(&src.addr).with_basic("alice", "s3cret-pw").random_image("team/app", "1.0", &[1000, 2000]);
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    let b = bundle.to_str().unwrap();
    let reference = format!("{}/team/app:1.0", src.addr);

    let out =
        sealift_with(&["save", &reference, "-o", b, "--username", "alice", "--password-stdin"], b"s3cret-pw\n", &[]);
    ok_all(&out);
    assert!(bundle.exists());

    let out = sealift_with(&["save", &reference, "-o", b, "--username", "alice", "--password-stdin"], b"wrong\n", &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&src.addr) && !err.contains("wrong") && !err.contains("s3cret"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    let out = sealift(&["save", &reference, "-o", b]);
    assert_eq!(out.status.code(), Some(3), "anonymous is refused: {}", String::from_utf8_lossy(&out.stderr));

    // Docker config credentials (base64 user:password, as `docker login` writes).
    let cfg = tempdir();
    let auth = base64_encode(b"alice:s3cret-pw");
    std::fs::write(cfg.path().join("config.json"), json!({"auths": {src.addr.clone(): {"auth": auth}}}).to_string())
        .unwrap();
    let out = sealift_with(&["save", &reference, "-o", b], b"", &[("DOCKER_CONFIG", cfg.path().to_str().unwrap())]);
    ok_all(&out);

    // And load into an authenticated target.
    let dst = TestRegistry::start_with_auth("bob", "pw2");
    let out = sealift_with(
        &["load", "--insecure-skip-verify", b, "--to", &dst.addr, "--username", "bob", "--password-stdin"],
        b"pw2",
        &[],
    );
    ok_all(&out);
    let raw = Raw::new(&dst.addr).with_basic("bob", "pw2");
    let r =
        raw.request("GET", &format!("/v2/team/app/manifests/{}", img.digest), &[("Accept", media::OCI_MANIFEST)], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, img.manifest);
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn tls_registry_with_ca_cert() {
    let src = TestRegistry::start();
    let img = random_image(&src.addr, "team/app", "1.0", &[5000]);
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    let b = bundle.to_str().unwrap();
    ok_all(&sealift(&["save", &format!("{}/team/app:1.0", src.addr), "-o", b]));

    let (tls, ca) = TestRegistry::start_tls();
    let ca = ca.to_str().unwrap();
    ok_all(&sealift(&["load", "--insecure-skip-verify", b, "--to", &tls.addr, "--ca-cert", ca]));
    // Back out of the TLS registry, then into a plain one: same digest.
    let again = dir.path().join("again.tar");
    ok_all(&sealift(&["save", &format!("{}/team/app:1.0", tls.addr), "-o", again.to_str().unwrap(), "--ca-cert", ca]));
    let dst = TestRegistry::start();
    ok_all(&sealift(&["load", "--insecure-skip-verify", again.to_str().unwrap(), "--to", &dst.addr]));
    assert_eq!(skopeo_inspect_raw(&format!("{}/team/app:1.0", dst.addr)), img.manifest);

    // Without the CA: a TLS error naming the registry, exit 3.
    let out = sealift(&["save", &format!("{}/team/app:1.0", tls.addr), "-o", b]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&tls.addr));
}

#[test]
fn load_an_extracted_bundle_directory() {
    let w = World::new();
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    ok_all(&w.save(&bundle, &[]));
    let layout = crate::support::extract_bundle(&bundle, dir.path(), "layout");
    let dst = TestRegistry::start();
    ok_all(&sealift(&["load", "--insecure-skip-verify", layout.to_str().unwrap(), "--to", &format!("{}/m", dst.addr)]));
    assert_eq!(skopeo_inspect_raw(&format!("{}/m/team/multi:1.0", dst.addr)), w.index.bytes);
    assert_eq!(skopeo_inspect_raw(&format!("{}/m/other/tool:2.0", dst.addr)), w.tool.bytes);
    // A layout missing a blob is refused before anything is tagged.
    let base = sealift::oci::Digest::of(&w.base);
    std::fs::remove_file(layout.join(base.blob_path())).unwrap();
    let dst = TestRegistry::start();
    let out = sealift(&["load", "--insecure-skip-verify", layout.to_str().unwrap(), "--to", &dst.addr]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&base.to_string()));
}

/// A layout shaped like `cosign save` output: `kind` annotations only, no reference names;
/// `--to` names the full target reference.
#[test]
fn load_a_cosign_save_layout() {
    let w = World::new();
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    ok_all(&sealift(&["save", &format!("{}/team/app:1.0", w.src.addr), "-o", bundle.to_str().unwrap()]));
    let layout = crate::support::extract_bundle(&bundle, dir.path(), "cosign");
    // Rewrite index.json as cosign writes it: image + sigs, `kind` only.
    let sig_tag = format!("{}.sig", w.app.digest.tag_prefix());
    let sig = w.tagged.iter().find(|(r, t, _)| r == "team/app" && *t == sig_tag).unwrap().2.clone();
    let index = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [
        {"mediaType": media::OCI_MANIFEST, "size": w.app.bytes.len(), "digest": w.app.digest.to_string(), "annotations": {"kind": media::KIND_IMAGE}},
        {"mediaType": media::OCI_MANIFEST, "size": sig.bytes.len(), "digest": sig.digest.to_string(), "annotations": {"kind": media::KIND_SIGS}},
    ]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec_pretty(&index).unwrap()).unwrap();
    let dst = TestRegistry::start();
    ok_all(&sealift(&[
        "load",
        "--insecure-skip-verify",
        layout.to_str().unwrap(),
        "--to",
        &format!("{}/copied/app:v1", dst.addr),
    ]));
    assert_eq!(skopeo_inspect_raw(&format!("{}/copied/app:v1", dst.addr)), w.app.bytes);
    assert_eq!(skopeo_inspect_raw(&format!("{}/copied/app:{}.sig", dst.addr, w.app.digest.tag_prefix())), sig.bytes);
    // Without a repository in --to, the error says what to give.
    let out = sealift(&["load", "--insecure-skip-verify", layout.to_str().unwrap(), "--to", &dst.addr]);
    assert_eq!(out.status.code(), Some(2), "a usage error: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--to"), "{}", String::from_utf8_lossy(&out.stderr));
}
