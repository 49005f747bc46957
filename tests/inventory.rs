//! `sealift inventory` against a real registry whose catalog pages hold two repositories:
//! repositories under the prefix only, tags → digests, index children, legacy `.sig` tags
//! and referrers tag-schema indexes with what they list, every blob with its size;
//! deterministic bytes; a signed inventory verifies and a tampered one does not; exit codes.

use std::collections::BTreeSet;
use std::path::Path;

use sealift::oci::media;
use serde_json::{json, Value};

use crate::save_load::{image, openssl_sig, put, referrer, Pushed};
use crate::seal::openssl_keypair;
use crate::support::cosign::OpensslKey;
use crate::support::{assert_matches_schema, ok_all, random_bytes, sealift_with, tempdir, Raw, TestRegistry};

const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1764547200");

fn inventory(args: &[&str]) -> std::process::Output {
    sealift_with(&[&["inventory"], args].concat(), b"", &[EPOCH])
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn repo<'a>(inv: &'a Value, name: &str) -> &'a Value {
    inv["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {inv:#}"))
}

fn digests(list: &Value) -> BTreeSet<String> {
    list.as_array().unwrap().iter().map(|e| e["digest"].as_str().unwrap().to_owned()).collect()
}

/// The blobs (config, layers) a pushed image manifest references.
fn blobs_of(m: &Pushed) -> Vec<(String, u64)> {
    let v: Value = serde_json::from_slice(&m.bytes).unwrap();
    let mut out = vec![(v["config"]["digest"].as_str().unwrap().to_owned(), v["config"]["size"].as_u64().unwrap())];
    for l in v["layers"].as_array().unwrap() {
        out.push((l["digest"].as_str().unwrap().to_owned(), l["size"].as_u64().unwrap()));
    }
    out
}

#[test]
fn inventory_lists_what_the_site_holds_under_the_prefix() {
    let reg = TestRegistry::start_with_catalog_page(2);
    let dir = tempdir();
    let key = OpensslKey::p256(dir.path(), "cosign");
    // site/app: two tags on one image, its legacy .sig, and an OCI 1.1 referrer listed in
    // the referrers tag-schema index.
    let app = image(&reg, "site/app", Some("1.0"), &[random_bytes(3000), random_bytes(2000)], false, "amd64");
    put(&reg, "site/app", Some("latest"), &serde_json::from_slice::<Value>(&app.bytes).unwrap());
    let sig = openssl_sig(&reg, "site/app", &app.digest, &key);
    let refr = referrer(&reg, "site/app", &app, true);
    // site/multi: an index whose children are untagged.
    let amd = image(&reg, "site/multi", None, &[random_bytes(1000)], false, "amd64");
    let arm = image(&reg, "site/multi", None, &[random_bytes(1100)], true, "arm64");
    let index = put(
        &reg,
        "site/multi",
        Some("2.0"),
        &json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [
            {"mediaType": amd.media_type, "size": amd.bytes.len(), "digest": amd.digest.to_string(), "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": arm.media_type, "size": arm.bytes.len(), "digest": arm.digest.to_string(), "platform": {"os": "linux", "architecture": "arm64"}}]}),
    );
    let deep = image(&reg, "site/sub/deep", Some("v1"), &[random_bytes(500)], false, "amd64");
    // Outside the prefix (one shares its first letters).
    image(&reg, "other/x", Some("1"), &[random_bytes(10)], false, "amd64");
    image(&reg, "site2/y", Some("1"), &[random_bytes(10)], false, "amd64");

    // The catalog really is paginated: the first page holds two names and links on, and
    // sealift's usual page size is refused (sealift then asks in the registry's own size).
    let raw = Raw::new(&reg.addr);
    raw.expect(&[400], "GET", "/v2/_catalog?n=1000", &[], b"");
    let first = raw.expect(&[200], "GET", "/v2/_catalog", &[], b"");
    assert_eq!(serde_json::from_slice::<Value>(&first.body).unwrap()["repositories"].as_array().unwrap().len(), 2);
    assert!(first.header("link").is_some_and(|l| l.contains("rel=\"next\"")), "{:?}", first.headers);

    let out_path = dir.path().join("site-inventory.json");
    let target = format!("{}/site", reg.addr);
    let status = ok_all(&inventory(&["--registry", &target, "-o", out_path.to_str().unwrap(), "-j", "3"]));
    assert!(status.contains("3 repositories"), "{status}");
    let inv = read_json(&out_path);
    assert_matches_schema("docs/inventory.schema.json", &inv);
    assert_eq!(inv["schema"], "https://sealift.dev/schemas/site-inventory/v1");
    assert_eq!(inv["registry"], reg.addr.as_str());
    assert_eq!(inv["prefix"], "site");
    assert_eq!(inv["created"], "2025-12-01T00:00:00Z");
    let names: Vec<&str> =
        inv["repositories"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["site/app", "site/multi", "site/sub/deep"]);
    assert!(!dir.path().join("site-inventory.json.sig").exists());

    let a = repo(&inv, "site/app");
    let tags = a["tags"].as_object().unwrap();
    assert_eq!(tags["1.0"], app.digest.to_string());
    assert_eq!(tags["latest"], app.digest.to_string());
    assert_eq!(tags[&format!("{}.sig", app.digest.tag_prefix())], sig.digest.to_string());
    assert!(tags.contains_key(&app.digest.tag_prefix()), "the referrers tag-schema index is a tag: {tags:?}");
    let manifests = digests(&a["manifests"]);
    for m in [&app, &sig, &refr] {
        assert!(manifests.contains(&m.digest.to_string()), "{} in {manifests:?}", m.digest);
    }
    let app_blobs: BTreeSet<(String, u64)> = a["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["digest"].as_str().unwrap().to_owned(), b["size"].as_u64().unwrap()))
        .collect();
    for m in [&app, &sig, &refr] {
        for b in blobs_of(m) {
            assert!(app_blobs.contains(&b), "{b:?} of {} in {app_blobs:?}", m.digest);
        }
    }

    let m = repo(&inv, "site/multi");
    assert_eq!(m["tags"], json!({"2.0": index.digest.to_string()}));
    assert_eq!(
        digests(&m["manifests"]),
        [&index, &amd, &arm].iter().map(|p| p.digest.to_string()).collect::<BTreeSet<_>>()
    );
    let child = m["manifests"].as_array().unwrap().iter().find(|e| e["digest"] == arm.digest.to_string()).unwrap();
    assert_eq!(child["mediaType"], media::DOCKER_MANIFEST);
    assert_eq!(child["size"], arm.bytes.len());
    let multi_blobs = digests(&m["blobs"]);
    for b in blobs_of(&amd).into_iter().chain(blobs_of(&arm)) {
        assert!(multi_blobs.contains(&b.0), "{b:?}");
    }
    assert_eq!(digests(&repo(&inv, "site/sub/deep")["blobs"]).len(), blobs_of(&deep).len());

    // Totals count each blob once across repositories.
    let mut unique: BTreeSet<String> = BTreeSet::new();
    for r in inv["repositories"].as_array().unwrap() {
        unique.extend(digests(&r["blobs"]));
    }
    assert_eq!(inv["totals"]["blobs"], unique.len());
    assert_eq!(inv["totals"]["repositories"], 3);

    // Deterministic: a second run (another -j) writes the same bytes.
    let again = dir.path().join("again.json");
    ok_all(&inventory(&["--registry", &target, "-o", again.to_str().unwrap(), "-j", "1"]));
    assert_eq!(std::fs::read(&out_path).unwrap(), std::fs::read(&again).unwrap());

    // Without a prefix: everything, five repositories.
    let all = dir.path().join("all.json");
    ok_all(&inventory(&["--registry", &reg.addr, "-o", all.to_str().unwrap()]));
    assert_eq!(read_json(&all)["totals"]["repositories"], 5);
}

#[test]
fn a_signed_inventory_verifies_and_a_tampered_one_does_not() {
    let reg = TestRegistry::start();
    image(&reg, "site/app", Some("1.0"), &[random_bytes(100)], false, "amd64");
    let dir = tempdir();
    let (private, public) = openssl_keypair(dir.path(), "inv");
    let (_, stranger) = openssl_keypair(dir.path(), "stranger");
    let out_path = dir.path().join("inv.json");
    let target = format!("{}/site", reg.addr);
    let status = ok_all(&inventory(&["--registry", &target, "-o", out_path.to_str().unwrap(), "--sign-key", &private]));
    assert!(status.contains("signed"), "{status}");
    let bytes = std::fs::read(&out_path).unwrap();
    let sig = std::fs::read(dir.path().join("inv.json.sig")).unwrap();
    let load = |p: &str| sealift::verify::crypto::load_public_key(&std::fs::read(p).unwrap(), p).unwrap();
    let trust = |k| sealift::seal::SealTrust { keys: vec![k], ..Default::default() };
    let keys = trust(load(&public));

    let v = sealift::inventory::verify("inv.json", &bytes, Some(&sig), Some(&keys), 0).unwrap();
    assert_eq!(v.inventory().repositories[0].name, "site/app");
    assert!(v.signer().is_some());

    let tampered = String::from_utf8(bytes.clone()).unwrap().replace("site/app", "site/apq");
    let e = sealift::inventory::verify("inv.json", tampered.as_bytes(), Some(&sig), Some(&keys), 0).unwrap_err();
    assert!(e.is_rejection(), "{e}");
    let e = sealift::inventory::verify("inv.json", &bytes, Some(&sig), Some(&trust(load(&stranger))), 0).unwrap_err();
    assert!(e.is_rejection(), "{e}");

    // A prefix with nothing under it: an empty inventory, and a warning saying so.
    let empty = dir.path().join("empty.json");
    let o = inventory(&["--registry", &format!("{}/nothing", reg.addr), "-o", empty.to_str().unwrap()]);
    assert!(ok_all(&o).contains("warning: the catalog of") && read_json(&empty)["repositories"] == json!([]));

    // Unsigned again: the stale signature goes, so it cannot be taken for this file's.
    ok_all(&inventory(&["--registry", &target, "-o", out_path.to_str().unwrap()]));
    assert!(!dir.path().join("inv.json.sig").exists());
}

#[test]
fn inventory_exit_codes() {
    let dir = tempdir();
    let out_path = dir.path().join("inv.json");
    let out = out_path.to_str().unwrap();
    // Nothing listens on port 1: could not do it (3), and no file appears.
    let o = inventory(&["--registry", "127.0.0.1:1/site", "-o", out, "--retries", "0"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.trim().lines().count() == 1 && err.contains("127.0.0.1:1"), "{err}");
    assert!(!out_path.exists());
    // Bad arguments: usage (2).
    for args in [
        vec!["--registry", "not a host", "-o", out],
        vec!["--registry", "127.0.0.1:5000/UPPER", "-o", out],
        vec!["--registry", "127.0.0.1:5000"],
        vec!["-o", out],
        vec!["--registry", "127.0.0.1:5000", "-o", out, "--jobs", "0"],
    ] {
        let o = inventory(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let not_a_key = dir.path().join("k.pem");
    std::fs::write(&not_a_key, "not a key").unwrap();
    let o = inventory(&["--registry", "127.0.0.1:1", "-o", out, "--sign-key", not_a_key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out_path.exists());
}

/// The inventory and its `.sig` are written as one set: interrupted once both temporary
/// files are written and synced, a run leaves no file of its own, and the pair of an
/// earlier run stays as it was (never a new inventory beside an old signature).
#[test]
#[cfg(debug_assertions)]
fn an_interrupted_signed_inventory_leaves_the_previous_pair() {
    use crate::hardening::{held_before_rename, snapshot};
    let reg = TestRegistry::start();
    image(&reg, "site/app", Some("1.0"), &[random_bytes(100)], false, "amd64");
    let dir = tempdir();
    let (private, _) = openssl_keypair(dir.path(), "inv");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out_path = out_dir.join("inv.json");
    let target = format!("{}/site", reg.addr);
    let args = ["inventory", "--registry", &target, "-o", out_path.to_str().unwrap(), "--sign-key", &private];
    let interrupted = |before: &[(String, Vec<u8>)]| {
        let (child, temps) = held_before_rename(dir.path(), &args);
        assert_eq!(temps.len(), 2, "the inventory and its signature form one set: {temps:?}");
        let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(143), "{err}");
        assert!(err.contains("removed 2 temporary file(s)"), "{err}");
        assert_eq!(snapshot(&out_dir), before, "the output directory is as it was before the run");
    };
    interrupted(&[]);
    ok_all(&inventory(&args[1..]));
    let before = snapshot(&out_dir);
    assert_eq!(before.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["inv.json", "inv.json.sig"]);
    // The site changes, so the interrupted run's pair would differ from the one there.
    image(&reg, "site/other", Some("1.0"), &[random_bytes(100)], false, "amd64");
    interrupted(&before);
}
