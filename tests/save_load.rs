//! `sealift save` / `load` / `inspect` end to end against real registries, checked with
//! skopeo: the acceptance test of issue 2.

use std::collections::BTreeMap;
use std::path::Path;

use sealift::oci::{media, Digest};
use serde_json::{json, Value};

use crate::support::{
    ok_all, push_blob, push_manifest, random_bytes, sealift, skopeo, skopeo_inspect_raw, tempdir, TestRegistry,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cosign-real");

fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}/{path}")).unwrap_or_else(|e| panic!("{DATA}/{path}: {e}"))
}

fn desc(media_type: &str, digest: &Digest, size: u64) -> Value {
    json!({"mediaType": media_type, "size": size, "digest": digest.to_string()})
}

/// A pushed manifest.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
}

impl Pushed {
    fn descriptor(&self) -> Value {
        desc(&self.media_type, &self.digest, self.bytes.len() as u64)
    }
}

pub fn put(reg: &TestRegistry, repo: &str, reference: Option<&str>, doc: &Value) -> Pushed {
    let bytes = serde_json::to_vec(doc).unwrap();
    let media_type = doc["mediaType"].as_str().unwrap().to_owned();
    let digest = Digest::of(&bytes);
    let r = reference.map(str::to_owned).unwrap_or_else(|| digest.to_string());
    assert_eq!(push_manifest(&reg.addr, repo, &r, &bytes, &media_type), digest);
    Pushed { bytes, digest, media_type }
}

/// An image manifest with the given layers (already pushed or pushed here).
pub fn image(
    reg: &TestRegistry,
    repo: &str,
    tag: Option<&str>,
    layers: &[Vec<u8>],
    docker: bool,
    arch: &str,
) -> Pushed {
    let (mt, cfg_mt, layer_mt) = if docker {
        (media::DOCKER_MANIFEST, media::DOCKER_CONFIG, "application/vnd.docker.image.rootfs.diff.tar.gzip")
    } else {
        (media::OCI_MANIFEST, media::OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar")
    };
    let cfg =
        serde_json::to_vec(&json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}))
            .unwrap();
    let (cd, cs) = push_blob(&reg.addr, repo, &cfg);
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| {
            let (d, s) = push_blob(&reg.addr, repo, l);
            desc(layer_mt, &d, s)
        })
        .collect();
    put(
        reg,
        repo,
        tag,
        &json!({"schemaVersion": 2, "mediaType": mt, "config": desc(cfg_mt, &cd, cs), "layers": layers}),
    )
}

/// A legacy cosign `.sig` manifest (real cosign bytes from fixture K1) at `sha256-<hex>.sig`.
pub fn legacy_sig(reg: &TestRegistry, repo: &str, subject: &Digest, suffix: &str) -> Pushed {
    let payload = data("containers-image/dir-img-cosign-valid/signature-1/payload.bin");
    let ann: BTreeMap<String, String> =
        serde_json::from_slice(&data("containers-image/dir-img-cosign-valid/signature-1/annotations.json")).unwrap();
    let (pd, ps) = push_blob(&reg.addr, repo, &payload);
    let (cd, cs) = push_blob(&reg.addr, repo, b"{}");
    let layer_mt = if suffix == "att" { media::DSSE_ENVELOPE } else { media::COSIGN_SIMPLESIGNING };
    let mut layer = desc(layer_mt, &pd, ps);
    layer["annotations"] = serde_json::to_value(&ann).unwrap();
    put(
        reg,
        repo,
        Some(&format!("{}.{suffix}", subject.tag_prefix())),
        &json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST, "config": desc(media::OCI_CONFIG, &cd, cs), "layers": [layer]}),
    )
}

/// An OCI 1.1 referrer of `subject` (simple-signing or Sigstore bundle), listed in the
/// referrers tag-schema index at `sha256-<hex>` since distribution 2.8 has no referrers API.
pub fn referrer(reg: &TestRegistry, repo: &str, subject: &Pushed, bundle: bool) -> Pushed {
    let (artifact_type, layer_mt, layer, config_mt, config) = if bundle {
        (
            media::SIGSTORE_BUNDLE_V03,
            media::SIGSTORE_BUNDLE_V03,
            data("sigstore-rs/bundle-v03/bundle_v03.json"),
            media::OCI_EMPTY,
            b"{}".to_vec(),
        )
    } else {
        (
            media::COSIGN_SIG_ARTIFACT,
            media::COSIGN_SIMPLESIGNING,
            data("containers-image/dir-img-cosign-valid/signature-1/payload.bin"),
            media::COSIGN_SIG_ARTIFACT,
            b"{}".to_vec(),
        )
    };
    let (ld, ls) = push_blob(&reg.addr, repo, &layer);
    let (cd, cs) = push_blob(&reg.addr, repo, &config);
    let m = put(
        reg,
        repo,
        None,
        &json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST, "artifactType": artifact_type,
            "config": desc(config_mt, &cd, cs), "layers": [desc(layer_mt, &ld, ls)], "subject": subject.descriptor(),
            "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}}),
    );
    let mut entry = m.descriptor();
    entry["artifactType"] = artifact_type.into();
    put(
        reg,
        repo,
        Some(&subject.digest.tag_prefix()),
        &json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [entry]}),
    );
    m
}

/// The three images of the issue: a multi-arch index with per-platform signatures in all
/// three representations, and two images sharing a base layer (one Docker schema2).
pub struct World {
    pub src: TestRegistry,
    pub index: Pushed,
    pub amd64: Pushed,
    pub arm64: Pushed,
    pub app: Pushed,
    pub tool: Pushed,
    pub base: Vec<u8>,
    pub attachments: Vec<(String, Pushed)>,
}

impl World {
    pub fn new() -> World {
        let src = TestRegistry::start();
        let base = random_bytes(300_000);
        let amd64 = image(&src, "team/multi", None, &[random_bytes(200_000), random_bytes(1000)], false, "amd64");
        let arm64 = image(&src, "team/multi", None, &[random_bytes(150_000)], false, "arm64");
        let mut a = amd64.descriptor();
        a["platform"] = json!({"architecture": "amd64", "os": "linux"});
        let mut b = arm64.descriptor();
        b["platform"] = json!({"architecture": "arm64", "os": "linux", "variant": "v8"});
        let index = put(
            &src,
            "team/multi",
            Some("1.0"),
            &json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [a, b]}),
        );
        let app = image(&src, "team/app", Some("1.0"), &[base.clone(), random_bytes(50_000)], false, "amd64");
        let tool = image(&src, "other/tool", Some("2.0"), &[base.clone(), random_bytes(70_000)], true, "amd64");
        let attachments = vec![
            ("team/multi".to_owned(), legacy_sig(&src, "team/multi", &index.digest, "sig")),
            ("team/multi".to_owned(), legacy_sig(&src, "team/multi", &amd64.digest, "sig")),
            ("team/multi".to_owned(), legacy_sig(&src, "team/multi", &arm64.digest, "sig")),
            ("team/multi".to_owned(), legacy_sig(&src, "team/multi", &arm64.digest, "att")),
            ("team/multi".to_owned(), referrer(&src, "team/multi", &amd64, false)),
            ("team/multi".to_owned(), referrer(&src, "team/multi", &index, true)),
            ("team/app".to_owned(), legacy_sig(&src, "team/app", &app.digest, "sig")),
            ("other/tool".to_owned(), legacy_sig(&src, "other/tool", &tool.digest, "sig")),
        ];
        World { src, index, amd64, arm64, app, tool, base, attachments }
    }

    pub fn refs(&self) -> Vec<String> {
        let a = &self.src.addr;
        vec![format!("{a}/team/multi:1.0"), format!("{a}/team/app:1.0"), format!("{a}/other/tool:2.0")]
    }

    pub fn save(&self, out: &Path, extra: &[&str]) -> std::process::Output {
        let refs = self.refs();
        let mut args: Vec<&str> = vec!["save"];
        args.extend(refs.iter().map(String::as_str));
        let o = out.to_str().unwrap();
        args.extend(["-o", o]);
        args.extend(extra);
        sealift(&args)
    }
}

/// Tar entry names and (offset, size) of each entry's data.
pub fn tar_entries(path: &Path) -> Vec<(String, u64, u64)> {
    let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path().unwrap().to_string_lossy().into_owned(), e.raw_file_position(), e.size())
        })
        .collect()
}

#[test]
fn save_then_load_keeps_every_digest_and_signature() {
    let w = World::new();
    let dir = tempdir();
    let bundle = dir.path().join("bundle.tar");
    ok_all(&w.save(&bundle, &[]));

    // Layout: oci-layout, index.json, metadata, then layers; each blob once.
    let entries = tar_entries(&bundle);
    assert_eq!(entries[0].0, "oci-layout");
    assert_eq!(entries[1].0, "index.json");
    let base = Digest::of(&w.base);
    assert_eq!(entries.iter().filter(|e| e.0 == base.blob_path()).count(), 1, "shared base layer stored once");
    let names: Vec<&String> = entries.iter().map(|e| &e.0).collect();
    let first_layer = names.iter().position(|n| **n == base.blob_path()).unwrap();
    assert!(
        names.iter().position(|n| **n == w.index.digest.blob_path()).unwrap() < first_layer,
        "manifests before layers"
    );

    // skopeo reads the uncompressed bundle as an oci-archive.
    let layout = dir.path().join("skopeo-oci");
    let out = skopeo(&[
        "copy",
        &format!("oci-archive:{}:{}/team/app:1.0", bundle.display(), w.src.addr),
        &format!("oci:{}:app", layout.display()),
    ]);
    assert!(out.status.success(), "skopeo could not read the bundle: {}", String::from_utf8_lossy(&out.stderr));

    // Load under a prefix into a fresh registry.
    let dst = TestRegistry::start();
    let to = format!("{}/mirror", dst.addr);
    let first = ok_all(&sealift(&["load", "--insecure-skip-verify", bundle.to_str().unwrap(), "--to", &to]));
    assert!(first.contains("uploaded"), "load reports what it uploaded: {first}");
    for (repo, tag, m) in [("team/multi", "1.0", &w.index), ("team/app", "1.0", &w.app), ("other/tool", "2.0", &w.tool)]
    {
        assert_eq!(skopeo_inspect_raw(&format!("{to}/{repo}:{tag}")), m.bytes, "{repo}:{tag} byte-identical at target");
    }
    for m in [&w.amd64, &w.arm64] {
        assert_eq!(skopeo_inspect_raw(&format!("{to}/team/multi@{}", m.digest)), m.bytes);
    }
    // Every signature discoverable at the target: legacy tags and referrers.
    for (repo, a) in &w.attachments {
        assert_eq!(
            skopeo_inspect_raw(&format!("{to}/{repo}@{}", a.digest)),
            a.bytes,
            "attachment {} at target",
            a.digest
        );
    }
    for subject in [&w.index, &w.arm64, &w.amd64] {
        let _ = subject;
    }
    for (subject, suffix) in [(&w.index, "sig"), (&w.amd64, "sig"), (&w.arm64, "sig"), (&w.arm64, "att")] {
        let tagged = skopeo_inspect_raw(&format!("{to}/team/multi:{}.{suffix}", subject.digest.tag_prefix()));
        assert!(w.attachments.iter().any(|(_, a)| a.bytes == tagged));
    }
    for subject in [&w.index, &w.amd64] {
        let idx: Value =
            serde_json::from_slice(&skopeo_inspect_raw(&format!("{to}/team/multi:{}", subject.digest.tag_prefix())))
                .unwrap();
        let listed = idx["manifests"].as_array().unwrap();
        assert_eq!(listed.len(), 1, "referrers tag-schema index for {}", subject.digest);
        let d: Digest = listed[0]["digest"].as_str().unwrap().parse().unwrap();
        assert!(w.attachments.iter().any(|(_, a)| a.digest == d));
    }

    // A second identical load uploads nothing.
    let second = ok_all(&sealift(&["load", "--insecure-skip-verify", bundle.to_str().unwrap(), "--to", &to]));
    assert!(second.contains("uploaded 0 blobs"), "second load must upload no blob: {second}");
}

#[test]
fn save_is_deterministic_and_inspect_shows_everything() {
    let w = World::new();
    let dir = tempdir();
    let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    ok_all(&w.save(&a, &[]));
    ok_all(&w.save(&b, &[]));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "same inputs, byte-identical bundle");

    let out = sealift(&["inspect", a.to_str().unwrap(), "--output", "json"]);
    ok_all(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.iter().filter(|i| i["role"] == "image").count(), 3);
    let multi = images.iter().find(|i| i["digest"] == w.index.digest.to_string()).unwrap();
    assert_eq!(multi["manifests"].as_array().unwrap().len(), 3, "index + 2 platforms");
    let attachments: usize = images
        .iter()
        .flat_map(|i| i["manifests"].as_array().unwrap())
        .map(|m| m["attachments"].as_array().unwrap().len())
        .sum();
    assert_eq!(attachments, w.attachments.len());
    assert!(v["unique_bytes"].as_u64().unwrap() < v["total_bytes"].as_u64().unwrap(), "the shared base counts once");
    let text = ok_all(&sealift(&["inspect", a.to_str().unwrap()]));
    assert!(
        text.contains("linux/arm64/v8") && text.contains("referrer application/vnd.dev.sigstore.bundle.v0.3+json"),
        "{text}"
    );
}

#[test]
fn compressed_bundles_round_trip() {
    let w = World::new();
    let dir = tempdir();
    for name in ["b.tar.zst", "b.tar.gz"] {
        let bundle = dir.path().join(name);
        ok_all(&w.save(&bundle, &[]));
        let dst = TestRegistry::start();
        ok_all(&sealift(&["load", "--insecure-skip-verify", bundle.to_str().unwrap(), "--to", &dst.addr]));
        assert_eq!(skopeo_inspect_raw(&format!("{}/other/tool:2.0", dst.addr)), w.tool.bytes);
        assert_eq!(skopeo_inspect_raw(&format!("{}/team/multi:1.0", dst.addr)), w.index.bytes);
    }
}

#[test]
fn a_flipped_byte_in_a_layer_pushes_no_tag() {
    let w = World::new();
    let dir = tempdir();
    let bundle = dir.path().join("bundle.tar");
    ok_all(&w.save(&bundle, &[]));
    let base = Digest::of(&w.base);
    let (_, offset, _) = tar_entries(&bundle).into_iter().find(|e| e.0 == base.blob_path()).unwrap();
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes[offset as usize + 1000] ^= 0x01;
    std::fs::write(&bundle, &bytes).unwrap();

    // Concurrent uploads (the default for an uncompressed bundle) and one at a time.
    for jobs in ["4", "1"] {
        let dst = TestRegistry::start();
        let out =
            sealift(&["load", "--insecure-skip-verify", "--jobs", jobs, bundle.to_str().unwrap(), "--to", &dst.addr]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "corrupt bundle exit code with --jobs {jobs}; stderr: {err}");
        assert!(err.contains(&base.to_string()), "the error names the blob: {err}");
        assert_eq!(err.trim().lines().last().unwrap().matches("error").count(), 1);
        for r in ["team/app:1.0", "other/tool:2.0", "team/multi:1.0"] {
            let o = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/{r}", dst.addr)]);
            assert!(!o.status.success(), "{r} must not exist at the target");
        }
    }
}

#[test]
fn platform_filter_pushes_the_chosen_platform_with_its_signatures() {
    let w = World::new();
    let dir = tempdir();
    let bundle = dir.path().join("arm.tar");
    let out = sealift(&[
        "save",
        &format!("{}/team/multi:1.0", w.src.addr),
        "--platform",
        "linux/arm64",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    let said = ok_all(&out);
    assert!(said.contains("partial") || said.contains("--platform"), "save says the index is partial: {said}");
    let dst = TestRegistry::start();
    ok_all(&sealift(&["load", "--insecure-skip-verify", bundle.to_str().unwrap(), "--to", &dst.addr]));
    assert_eq!(skopeo_inspect_raw(&format!("{}/team/multi:1.0-linux-arm64-v8", dst.addr)), w.arm64.bytes);
    assert!(skopeo_inspect_raw(&format!("{}/team/multi:{}.sig", dst.addr, w.arm64.digest.tag_prefix())).len() > 10);
    let o = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/team/multi:1.0", dst.addr)]);
    assert!(!o.status.success(), "the partial index is not pushed");
    let o = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/team/multi@{}", dst.addr, w.amd64.digest),
    ]);
    assert!(!o.status.success(), "the other platform is not carried");
}

#[test]
fn dry_run_pushes_nothing() {
    let w = World::new();
    let dir = tempdir();
    let bundle = dir.path().join("bundle.tar");
    ok_all(&w.save(&bundle, &[]));
    let dst = TestRegistry::start();
    let said =
        ok_all(&sealift(&["load", "--insecure-skip-verify", bundle.to_str().unwrap(), "--to", &dst.addr, "--dry-run"]));
    assert!(said.contains("team/app:1.0"), "{said}");
    let o = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/team/app:1.0", dst.addr)]);
    assert!(!o.status.success());
}

#[test]
fn bad_references_and_missing_images_fail_clearly() {
    let src = TestRegistry::start();
    let dir = tempdir();
    let out_path = dir.path().join("x.tar");
    let o = out_path.to_str().unwrap();
    let r = sealift(&["save", "127.0.0.1:5000/Bad:1", "-o", o]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("Bad:1"));
    let r = sealift(&["save", &format!("{}/nothing/here:1", src.addr), "-o", o]);
    assert_eq!(r.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&r.stderr).contains("nothing/here:1"), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(!out_path.exists(), "a failed save leaves no file");
    let r = sealift(&["save", "127.0.0.1:1/app:1", "-o", o]);
    assert_eq!(r.status.code(), Some(3));
    assert!(!out_path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no temporary file left behind");
}
