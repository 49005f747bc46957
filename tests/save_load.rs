//! `sealift save` / `load` / `inspect` end to end against real registries, checked with
//! skopeo: the acceptance test of issue 2.

use std::collections::BTreeMap;
use std::path::Path;

use sealift::oci::{media, Digest};
use serde_json::{json, Value};

use crate::support::cosign::{self, OpensslKey};
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

/// Pushes `doc` as a manifest. The bytes are deliberately not canonical JSON (indented, a
/// trailing newline), so that a sealift that re-serialized a manifest, sorted or not,
/// would change its digest and fail the byte comparisons.
pub fn put(reg: &TestRegistry, repo: &str, reference: Option<&str>, doc: &Value) -> Pushed {
    let mut bytes = serde_json::to_vec_pretty(doc).unwrap();
    bytes.push(b'\n');
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

/// A legacy `.sig` for `subject` signed by `openssl dgst` with `key` over a payload the
/// test writes itself (see `support::cosign`): distinct for every subject.
pub fn openssl_sig(reg: &TestRegistry, repo: &str, subject: &Digest, key: &OpensslKey) -> Pushed {
    let tag = cosign::sig_tag(subject, "sig");
    let s = cosign::push_sig(&reg.addr, repo, &tag, &format!("{}/{repo}", reg.addr), subject, key);
    Pushed { bytes: s.manifest, digest: s.digest, media_type: media::OCI_MANIFEST.to_owned() }
}

/// An OCI 1.1 simple-signing referrer of `subject`, signed by `openssl dgst`, listed in the
/// referrers tag-schema index (distribution 2.8 has no referrers API).
pub fn openssl_referrer(reg: &TestRegistry, repo: &str, subject: &Pushed, key: &OpensslKey) -> Pushed {
    let payload = cosign::payload(&format!("{}/{repo}", reg.addr), &subject.digest);
    let signature = key.sign(&payload);
    let (ld, ls) = push_blob(&reg.addr, repo, &payload);
    let (cd, cs) = push_blob(&reg.addr, repo, b"{}");
    let mut layer = desc(cosign::SIMPLESIGNING, &ld, ls);
    layer["annotations"] = json!({ cosign::SIGNATURE_ANNOTATION: signature });
    let m = put(
        reg,
        repo,
        None,
        &json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST, "artifactType": media::COSIGN_SIG_ARTIFACT,
            "config": desc(media::COSIGN_SIG_ARTIFACT, &cd, cs), "layers": [layer], "subject": subject.descriptor()}),
    );
    let mut entry = m.descriptor();
    entry["artifactType"] = media::COSIGN_SIG_ARTIFACT.into();
    put(
        reg,
        repo,
        Some(&subject.digest.tag_prefix()),
        &json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [entry]}),
    );
    m
}

/// A legacy cosign `.sbom` (as `cosign attach sbom` pushes it): an SPDX document naming
/// `subject`, so that it differs from every other attachment.
pub fn sbom(reg: &TestRegistry, repo: &str, subject: &Digest) -> Pushed {
    let doc = serde_json::to_vec(&json!({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("sbom of {subject}"), "packages": []}))
    .unwrap();
    let (ld, ls) = push_blob(&reg.addr, repo, &doc);
    let (cd, cs) = push_blob(&reg.addr, repo, b"{}");
    put(
        reg,
        repo,
        Some(&format!("{}.sbom", subject.tag_prefix())),
        &json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST, "config": desc(media::OCI_CONFIG, &cd, cs),
            "layers": [desc("text/spdx+json", &ld, ls)]}),
    )
}

/// The three images of the issue: a multi-arch index with per-platform signatures in all
/// three representations, and two images sharing a base layer (one Docker schema2).
///
/// Every `.sig` and the simple-signing referrer are made by `openssl dgst` with
/// [`World::key`] over payloads the test writes (never by sealift), each naming its own
/// subject, so that loads can run with verification on (`--key`, [`World::trust`]) and a
/// wrong subject-to-tag mapping cannot pass.
pub struct World {
    pub src: TestRegistry,
    pub index: Pushed,
    pub amd64: Pushed,
    pub arm64: Pushed,
    pub app: Pushed,
    pub tool: Pushed,
    pub base: Vec<u8>,
    pub attachments: Vec<(String, Pushed)>,
    /// (repository, tag, attachment): every legacy-tag attachment where it must be.
    pub tagged: Vec<(String, String, Pushed)>,
    /// (subject, referrer): the one referrer each referrers tag-schema index lists.
    pub referrers: Vec<(Digest, Pushed)>,
    /// The signing key (openssl); its public half trusts every image of the world.
    pub key: OpensslKey,
    /// Holds the key files.
    pub _keys: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        let keys = tempdir();
        let key = OpensslKey::p256(keys.path(), "world");
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
        let mut tagged = Vec::new();
        let mut tag = |repo: &str, subject: &Digest, suffix: &str, p: Pushed| {
            tagged.push((repo.to_owned(), format!("{}.{suffix}", subject.tag_prefix()), p.clone()));
            (repo.to_owned(), p)
        };
        let mut attachments = vec![
            tag("team/multi", &index.digest, "sig", openssl_sig(&src, "team/multi", &index.digest, &key)),
            tag("team/multi", &amd64.digest, "sig", openssl_sig(&src, "team/multi", &amd64.digest, &key)),
            tag("team/multi", &arm64.digest, "sig", openssl_sig(&src, "team/multi", &arm64.digest, &key)),
            tag("team/multi", &arm64.digest, "att", legacy_sig(&src, "team/multi", &arm64.digest, "att")),
            tag("team/app", &app.digest, "sig", openssl_sig(&src, "team/app", &app.digest, &key)),
            tag("team/app", &app.digest, "sbom", sbom(&src, "team/app", &app.digest)),
            tag("other/tool", &tool.digest, "sig", openssl_sig(&src, "other/tool", &tool.digest, &key)),
        ];
        let referrers = vec![
            (amd64.digest.clone(), openssl_referrer(&src, "team/multi", &amd64, &key)),
            (index.digest.clone(), referrer(&src, "team/multi", &index, true)),
        ];
        attachments.extend(referrers.iter().map(|(_, r)| ("team/multi".to_owned(), r.clone())));
        World { src, index, amd64, arm64, app, tool, base, attachments, tagged, referrers, key, _keys: keys }
    }

    /// Every (repository, blob digest) the world's manifests refer to.
    pub fn blobs_by_repository(&self) -> std::collections::BTreeSet<(String, String)> {
        let images = [
            ("team/multi", &self.amd64),
            ("team/multi", &self.arm64),
            ("team/app", &self.app),
            ("other/tool", &self.tool),
        ];
        let all = images.into_iter().chain(self.attachments.iter().map(|(r, a)| (r.as_str(), a)));
        let mut out = std::collections::BTreeSet::new();
        for (repo, m) in all {
            let v: Value = serde_json::from_slice(&m.bytes).unwrap();
            let layers = v["layers"].as_array().unwrap().iter();
            for d in std::iter::once(&v["config"]).chain(layers) {
                out.insert((repo.to_owned(), d["digest"].as_str().unwrap().to_owned()));
            }
        }
        out
    }

    /// The trust flags under which every image of the world verifies.
    pub fn trust(&self) -> Vec<String> {
        vec!["--key".to_owned(), self.key.public_path().to_owned()]
    }

    /// `sealift load BUNDLE --to TO` with verification on ([`World::trust`]) and `extra`.
    pub fn load(&self, bundle: &Path, to: &str, extra: &[&str]) -> std::process::Output {
        let trust = self.trust();
        let mut args = vec!["load", bundle.to_str().unwrap(), "--to", to];
        args.extend(trust.iter().map(String::as_str));
        args.extend(extra);
        sealift(&args)
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

/// `skopeo copy --all` of `reference` into `dest` (an `oci:` layout, or a `dir:` for Docker
/// schema2 images, which `oci:` would convert), digests preserved; returns every file
/// skopeo wrote but its own bookkeeping, by name: blobs and manifests.
pub fn skopeo_pull(reference: &str, dest: &Path, oci: bool) -> BTreeMap<String, Vec<u8>> {
    let target = if oci { format!("oci:{}:pulled", dest.display()) } else { format!("dir:{}", dest.display()) };
    let out = skopeo(&[
        "--insecure-policy",
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        &format!("docker://{reference}"),
        &target,
    ]);
    assert!(out.status.success(), "skopeo copy {reference}: {}", String::from_utf8_lossy(&out.stderr));
    let mut files = BTreeMap::new();
    let dirs = if oci { vec![dest.join("blobs/sha256")] } else { vec![dest.to_owned()] };
    for d in dirs {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name != "version" {
                files.insert(name, std::fs::read(e.path()).unwrap());
            }
        }
    }
    files
}

/// The counts of load's summary line (`uploaded N blobs (SIZE), N already present, N
/// mounted; pushed N manifests, N already present`).
pub struct LoadCounts {
    pub uploaded: usize,
    pub present_blobs: usize,
    pub mounted: usize,
    pub pushed: usize,
    pub present_manifests: usize,
}

pub fn load_counts(output: &str) -> LoadCounts {
    let line = output.lines().find(|l| l.starts_with("uploaded ")).unwrap_or_else(|| panic!("no summary: {output}"));
    let without_size = match (line.find(" ("), line.find("),")) {
        (Some(a), Some(b)) => format!("{}{}", &line[..a], &line[b + 1..]),
        _ => panic!("unexpected summary {line:?}"),
    };
    let n: Vec<usize> = without_size.split(|c: char| !c.is_ascii_digit()).filter_map(|t| t.parse().ok()).collect();
    let [uploaded, present_blobs, mounted, pushed, present_manifests] = n[..] else {
        panic!("unexpected summary {line:?}")
    };
    LoadCounts { uploaded, present_blobs, mounted, pushed, present_manifests }
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

    // Load under a prefix into a fresh registry, verifying every image against the key
    // that signed it (openssl, not sealift).
    let dst = TestRegistry::start();
    let to = format!("{}/mirror", dst.addr);
    let first = ok_all(&w.load(&bundle, &to, &[]));
    // Exactly what the world holds was sent: each (repository, blob) once, uploaded or
    // mounted from another repository; each manifest once.
    let manifests = 5 + w.attachments.len();
    let blobs = w.blobs_by_repository().len();
    let c = load_counts(&first);
    assert_eq!(
        (c.uploaded + c.mounted, c.present_blobs, c.pushed, c.present_manifests),
        (blobs, 0, manifests, 0),
        "{first}"
    );
    // Mounted, not uploaded again: the base layer shared by team/app and other/tool, and
    // the `{}` config of the attachments in the two repositories after the first (it stays
    // in the file, as no reader reads it, and is pushed as layers are).
    assert_eq!(c.mounted, 3, "the shared base layer and attachment config are mounted: {first}");
    for (repo, tag, m) in [("team/multi", "1.0", &w.index), ("team/app", "1.0", &w.app), ("other/tool", "2.0", &w.tool)]
    {
        assert_eq!(skopeo_inspect_raw(&format!("{to}/{repo}:{tag}")), m.bytes, "{repo}:{tag} byte-identical at target");
    }
    for m in [&w.amd64, &w.arm64] {
        assert_eq!(skopeo_inspect_raw(&format!("{to}/team/multi@{}", m.digest)), m.bytes);
    }
    // Every attachment by digest, and each legacy tag holding exactly its own subject's
    // attachment (the attachments all differ, so a wrong mapping fails here).
    for (repo, a) in &w.attachments {
        assert_eq!(
            skopeo_inspect_raw(&format!("{to}/{repo}@{}", a.digest)),
            a.bytes,
            "attachment {} at target",
            a.digest
        );
    }
    let distinct: std::collections::BTreeSet<&Digest> = w.attachments.iter().map(|(_, a)| &a.digest).collect();
    assert_eq!(distinct.len(), w.attachments.len(), "the test's attachments must all differ");
    for (repo, tag, a) in &w.tagged {
        assert_eq!(skopeo_inspect_raw(&format!("{to}/{repo}:{tag}")), a.bytes, "{repo}:{tag} is its subject's");
    }
    // Each referrers tag-schema index lists exactly its subject's referrer.
    for (subject, r) in &w.referrers {
        let idx: Value =
            serde_json::from_slice(&skopeo_inspect_raw(&format!("{to}/team/multi:{}", subject.tag_prefix()))).unwrap();
        let listed: Vec<&str> =
            idx["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap()).collect();
        assert_eq!(listed, [r.digest.to_string()], "referrers of {subject}");
    }
    // An independent client pulls every image back: every blob equals the source's.
    for (repo, tag, oci) in [("team/multi", "1.0", true), ("team/app", "1.0", true), ("other/tool", "2.0", false)] {
        let from =
            skopeo_pull(&format!("{}/{repo}:{tag}", w.src.addr), &dir.path().join(format!("src-{tag}-{oci}")), oci);
        let back = skopeo_pull(&format!("{to}/{repo}:{tag}"), &dir.path().join(format!("dst-{tag}-{oci}")), oci);
        assert!(from.len() >= 3, "{repo}:{tag}: skopeo pulled {:?}", from.keys());
        assert_eq!(from.keys().collect::<Vec<_>>(), back.keys().collect::<Vec<_>>(), "{repo}:{tag}: the same blobs");
        for (name, bytes) in &from {
            assert!(back[name] == *bytes, "{repo}:{tag}: {name} differs at the target");
        }
    }

    // A second identical load uploads nothing.
    let second = ok_all(&w.load(&bundle, &to, &[]));
    let c = load_counts(&second);
    assert_eq!((c.uploaded, c.mounted, c.pushed), (0, 0, 0), "a second load sends nothing: {second}");
    assert_eq!((c.present_blobs, c.present_manifests), (blobs, manifests), "{second}");

    // The control: the same bundle under another key is rejected and pushes nothing, so
    // the loads above did verify.
    let other = OpensslKey::p256(dir.path(), "other");
    let dst = TestRegistry::start();
    let out = sealift(&["load", bundle.to_str().unwrap(), "--to", &dst.addr, "--key", other.public_path()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    for (repo, tag) in [("team/multi", "1.0"), ("team/app", "1.0"), ("other/tool", "2.0")] {
        dst.assert_absent(repo, tag, "its signature is not by the trusted key");
    }
    dst.assert_absent("team/app", &format!("{}.sig", w.app.digest.tag_prefix()), "its image was refused");
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
    // The trust flags for one, a policy file for the other: both verify every image.
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\n[[rule]]\nname = \"site\"\nrepositories = [\"**\"]\nkeys = [\"{}\"]\n",
            w.key.public_path()
        ),
    )
    .unwrap();
    for (name, trust) in
        [("b.tar.zst", w.trust()), ("b.tar.gz", vec!["--policy".to_owned(), policy.display().to_string()])]
    {
        let bundle = dir.path().join(name);
        ok_all(&w.save(&bundle, &[]));
        let dst = TestRegistry::start();
        let mut args = vec!["load", bundle.to_str().unwrap(), "--to", &dst.addr];
        args.extend(trust.iter().map(String::as_str));
        let said = ok_all(&sealift(&args));
        assert_eq!(said.matches("PASSED ").count(), 3, "every image verified: {said}");
        assert_eq!(skopeo_inspect_raw(&format!("{}/other/tool:2.0", dst.addr)), w.tool.bytes);
        assert_eq!(skopeo_inspect_raw(&format!("{}/team/multi:1.0", dst.addr)), w.index.bytes);
        for (repo, tag, a) in &w.tagged {
            dst.assert_present(repo, tag, &a.bytes);
        }
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
        for (repo, tag) in [("team/app", "1.0"), ("other/tool", "2.0"), ("team/multi", "1.0")] {
            dst.assert_absent(repo, tag, "the bundle is corrupt");
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
    ok_all(&w.load(&bundle, &dst.addr, &[]));
    assert_eq!(skopeo_inspect_raw(&format!("{}/team/multi:1.0-linux-arm64-v8", dst.addr)), w.arm64.bytes);
    let (.., arm_sig) = w.tagged.iter().find(|(_, t, _)| *t == format!("{}.sig", w.arm64.digest.tag_prefix())).unwrap();
    dst.assert_present("team/multi", &format!("{}.sig", w.arm64.digest.tag_prefix()), &arm_sig.bytes);
    dst.assert_absent("team/multi", "1.0", "the partial index is not pushed");
    dst.assert_absent("team/multi", &w.amd64.digest.to_string(), "the other platform is not carried");
    dst.assert_absent("team/multi", &format!("{}.sig", w.amd64.digest.tag_prefix()), "nor its signature");
}

#[test]
fn dry_run_pushes_nothing() {
    let w = World::new();
    let dir = tempdir();
    let bundle = dir.path().join("bundle.tar");
    ok_all(&w.save(&bundle, &[]));
    let dst = TestRegistry::start();
    let said = ok_all(&w.load(&bundle, &dst.addr, &["--dry-run"]));
    assert!(said.contains("team/app:1.0"), "{said}");
    dst.assert_absent("team/app", "1.0", "a dry run pushes nothing");
    dst.assert_absent("team/app", &w.app.digest.to_string(), "a dry run pushes nothing");
    let catalog = crate::support::Raw::new(&dst.addr).request("GET", "/v2/_catalog", &[], b"");
    assert_eq!(catalog.status, 200);
    assert_eq!(serde_json::from_slice::<Value>(&catalog.body).unwrap()["repositories"], json!([]));
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

/// `save` refuses what `load` would refuse for the memory it holds, by load's own limits
/// (`sealift::transfer::load`), before fetching or writing anything: one line, exit 3,
/// naming the blob or the total and the limit. Three 12 MiB configs are held by a load of a
/// compressed bundle (over the limit) but stay in the file of a `.tar`, which saves and
/// loads; a config whose descriptor claims one byte over the per-blob limit is refused.
#[test]
fn save_refuses_what_load_would_refuse_to_hold() {
    use sealift::content::budget::MAX_HELD_BYTES;
    use sealift::transfer::load::MAX_METADATA_BLOB;
    let reg = TestRegistry::start();
    let dir = tempdir();
    let config_size = 12 * 1024 * 1024;
    assert!(3 * config_size as u64 > MAX_HELD_BYTES, "the test needs configs over load's budget");
    let mut refs = Vec::new();
    for n in 0..3u8 {
        let mut config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"pad":""#.to_vec();
        config.resize(config_size - 2, b'a' + n);
        config.extend_from_slice(b"\"}");
        let (cd, cs) = push_blob(&reg.addr, &format!("big/c{n}"), &config);
        let (ld, ls) = push_blob(&reg.addr, &format!("big/c{n}"), &random_bytes(1000));
        put(
            &reg,
            &format!("big/c{n}"),
            Some("1"),
            &json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST, "config": desc(media::OCI_CONFIG, &cd, cs),
                "layers": [desc("application/vnd.oci.image.layer.v1.tar", &ld, ls)]}),
        );
        refs.push(format!("{}/big/c{n}:1", reg.addr));
    }
    let save = |out: &Path, refs: &[String]| {
        let mut args = vec!["save", "-o", out.to_str().unwrap()];
        args.extend(refs.iter().map(String::as_str));
        sealift(&args)
    };
    let one_line_exit_3 = |o: &std::process::Output| {
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(3), "{err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
        assert!(errors.len() == 1 && errors[0].starts_with("sealift: error: "), "one error line: {err}");
        errors[0].to_owned()
    };

    let zst = dir.path().join("big.tar.zst");
    let err = one_line_exit_3(&save(&zst, &refs));
    assert!(err.contains(&format!("would exceed {MAX_HELD_BYTES} bytes at metadata blob sha256:")), "{err}");
    assert!(err.contains("load would refuse the bundle") && err.contains("save an uncompressed .tar"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing written: {left:?}");

    let tar = dir.path().join("big.tar");
    ok_all(&save(&tar, &refs));
    let dst = TestRegistry::start();
    ok_all(&sealift(&["load", tar.to_str().unwrap(), "--to", &dst.addr, "--insecure-skip-verify"]));
    assert!(matches!(dst.manifest("big/c2", "1"), crate::support::Presence::Present(_)));

    // The registry checks that the config exists, not its size: the descriptor's claim is
    // what save judges, before it fetches a byte.
    let (cd, _) = push_blob(&reg.addr, "huge/cfg", b"{}");
    let (ld, ls) = push_blob(&reg.addr, "huge/cfg", &random_bytes(100));
    put(
        &reg,
        "huge/cfg",
        Some("1"),
        &json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
            "config": desc(media::OCI_CONFIG, &cd, MAX_METADATA_BLOB + 1),
            "layers": [desc("application/vnd.oci.image.layer.v1.tar", &ld, ls)]}),
    );
    let huge = dir.path().join("huge.tar");
    let err = one_line_exit_3(&save(&huge, &[format!("{}/huge/cfg:1", reg.addr)]));
    assert!(err.contains(&format!("metadata blob {cd} is {} bytes", MAX_METADATA_BLOB + 1)), "{err}");
    assert!(err.contains(&format!("over the {MAX_METADATA_BLOB}-byte limit")), "{err}");
    assert!(!huge.exists());
}

/// `save` charges `index.json` (and a seal) as `load` does, before the manifests: an image
/// whose manifest leaves room for its `index.json` saves and loads; one whose manifest fits
/// the JSON-values budget alone, but not with its `index.json`, is refused by save (exit 3,
/// nothing written) naming that manifest, as load names it. Before, save charged the manifests only, wrote
/// the bundle, and load refused it.
#[test]
fn save_charges_index_json_as_load_does() {
    use sealift::content::budget::{json_values, MAX_JSON_VALUES};
    let reg = TestRegistry::start();
    let dir = tempdir();
    // An image in `repo` whose manifest parses into `short` values fewer than the budget,
    // or `short - 1` (each `"aN":""` is two values, its `:` and a `,`).
    let image = |repo: &str, short: u64| {
        let (cd, cs) = push_blob(&reg.addr, repo, b"{}");
        let (ld, ls) = push_blob(&reg.addr, repo, &random_bytes(100));
        let head = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}],"annotations":{{"#,
            media::OCI_MANIFEST,
            desc(media::OCI_CONFIG, &cd, cs),
            desc("application/vnd.oci.image.layer.v1.tar", &ld, ls)
        );
        let base = json_values(format!("{head}}}}}").as_bytes());
        let first = (MAX_JSON_VALUES - short - base) / 2;
        let mut manifest = String::new();
        for n in first..first + 3 {
            let annotations: Vec<String> = (0..n).map(|i| format!("\"a{i}\":\"\"")).collect();
            manifest = format!("{head}{}}}}}", annotations.join(","));
            if json_values(manifest.as_bytes()) >= MAX_JSON_VALUES - short {
                break;
            }
        }
        let values = json_values(manifest.as_bytes());
        assert!((MAX_JSON_VALUES - short..=MAX_JSON_VALUES - short + 1).contains(&values), "{values}");
        push_manifest(&reg.addr, repo, "1", manifest.as_bytes(), media::OCI_MANIFEST)
    };
    let fits = dir.path().join("fits.tar");
    // One image's `index.json` counts about 25 values.
    image("room/left", 40);
    ok_all(&sealift(&["save", "-o", fits.to_str().unwrap(), &format!("{}/room/left:1", reg.addr)]));
    ok_all(&sealift(&["load", "--dry-run", "--insecure-skip-verify", fits.to_str().unwrap(), "--to", &reg.addr]));
    std::fs::remove_file(&fits).unwrap();

    let digest = image("many/values", 3);
    let out = dir.path().join("b.tar");
    let o = sealift(&["save", "-o", out.to_str().unwrap(), &format!("{}/many/values:1", reg.addr)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("parsed JSON values at manifest {digest}")), "{err}");
    assert!(err.contains("load would refuse the bundle"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
}

/// A blob no reader reads (an SBOM's layer, an attachment's config) stays in the file of an
/// uncompressed `.tar` and costs no memory: an SBOM larger than the whole metadata budget
/// saves to a `.tar`, which `inspect` reads and `load` carries to the target byte for byte.
/// A compressed bundle holds it (one pass), so save refuses that form, naming the SBOM and
/// the `.tar` that would fit. Before, both forms were refused.
#[test]
fn an_sbom_over_the_metadata_budget_stays_in_the_file_of_a_tar() {
    use sealift::content::budget::MAX_HELD_BYTES;
    let reg = TestRegistry::start();
    let dir = tempdir();
    let (cd, cs) = push_blob(&reg.addr, "team/app", br#"{"architecture":"amd64","os":"linux"}"#);
    let (ld, ls) = push_blob(&reg.addr, "team/app", &random_bytes(1000));
    let image = push_manifest(
        &reg.addr,
        "team/app",
        "1",
        json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST, "config": desc(media::OCI_CONFIG, &cd, cs),
            "layers": [desc("application/vnd.oci.image.layer.v1.tar", &ld, ls)]})
        .to_string()
        .as_bytes(),
        media::OCI_MANIFEST,
    );
    let mut sbom = br#"{"spdxVersion":"SPDX-2.3","pad":""#.to_vec();
    sbom.resize(MAX_HELD_BYTES as usize + 1024 * 1024, b'x');
    sbom.extend_from_slice(b"\"}");
    let (sd, ss) = push_blob(&reg.addr, "team/app", &sbom);
    let (scd, scs) = push_blob(&reg.addr, "team/app", b"{}");
    let sbom_tag = cosign::sig_tag(&image, "sbom");
    let sbom_manifest = json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
        "config": desc(media::OCI_CONFIG, &scd, scs), "layers": [desc("text/spdx+json", &sd, ss)]})
    .to_string();
    push_manifest(&reg.addr, "team/app", &sbom_tag, sbom_manifest.as_bytes(), media::OCI_MANIFEST);
    let src = format!("{}/team/app:1", reg.addr);

    let zst = dir.path().join("b.tar.zst");
    let o = sealift(&["save", "-o", zst.to_str().unwrap(), &src]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("at metadata blob {sd}")) && err.contains("save an uncompressed .tar"), "{err}");
    assert!(!zst.exists());

    let tar = dir.path().join("b.tar");
    ok_all(&sealift(&["save", "-o", tar.to_str().unwrap(), &src]));
    let shown = ok_all(&sealift(&["inspect", tar.to_str().unwrap()]));
    assert!(shown.contains("sbom"), "{shown}");
    let dst = TestRegistry::start();
    ok_all(&sealift(&["load", tar.to_str().unwrap(), "--to", &dst.addr, "--insecure-skip-verify"]));
    ok_all(&sealift(&["load", "--dry-run", tar.to_str().unwrap(), "--to", &dst.addr, "--insecure-skip-verify"]));
    dst.assert_present("team/app", &sbom_tag, sbom_manifest.as_bytes());
    assert!(std::fs::read(dst.blob_data_path(&sd)).unwrap() == sbom, "the SBOM's bytes at the target");
}
