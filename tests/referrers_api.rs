//! Referrers on both kinds of test registry: distribution 2.8 (no referrers API, the
//! referrers tag schema) and ferro-oci-server (the OCI 1.1 referrers API). Every pairing
//! of source and target: `save` finds the referrers (through the API where there is one,
//! where the test writes no `sha256-<hex>` tag), `verify` checks them online and offline,
//! `load` pushes them by digest with their subject and writes the fallback tag only where
//! the target has no API, and every digest stays equal.

use sealift::oci::{media, Digest};
use serde_json::{json, Value};

use crate::save_load::{image, put, Pushed};
use crate::support::cosign::{self, OpensslKey};
use crate::support::{ok_all, push_blob, random_bytes, sealift, tempdir, Raw, RegistryKind, TestRegistry};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cosign-real");

fn desc(media_type: &str, digest: &Digest, size: u64) -> Value {
    json!({"mediaType": media_type, "size": size, "digest": digest.to_string()})
}

fn descriptor(p: &Pushed) -> Value {
    desc(&p.media_type, &p.digest, p.bytes.len() as u64)
}

/// Pushes an OCI 1.1 referrer of `subject` by digest.
fn push_referrer(
    reg: &TestRegistry,
    repo: &str,
    subject: &Pushed,
    artifact_type: &str,
    config: (&str, &[u8]),
    layer: Value,
) -> Pushed {
    let (cd, cs) = push_blob(&reg.addr, repo, config.1);
    put(
        reg,
        repo,
        None,
        &json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST, "artifactType": artifact_type,
            "config": desc(config.0, &cd, cs), "layers": [layer], "subject": descriptor(subject)}),
    )
}

/// A simple-signing referrer signed by `openssl dgst` (verifies with `key`), and a real
/// cosign v3 Sigstore-bundle referrer (fixture B1: carried, signs another image).
pub(crate) fn referrers(reg: &TestRegistry, repo: &str, subject: &Pushed, key: &OpensslKey) -> Vec<(String, Pushed)> {
    let payload = cosign::payload(&format!("{}/{repo}", reg.addr), &subject.digest);
    let (ld, ls) = push_blob(&reg.addr, repo, &payload);
    let mut layer = desc(cosign::SIMPLESIGNING, &ld, ls);
    layer["annotations"] = json!({ cosign::SIGNATURE_ANNOTATION: key.sign(&payload) });
    let sig = push_referrer(reg, repo, subject, media::COSIGN_SIG_ARTIFACT, (media::COSIGN_SIG_ARTIFACT, b"{}"), layer);
    let bundle = std::fs::read(format!("{DATA}/sigstore-rs/bundle-v03/bundle_v03.json")).unwrap();
    let (bd, bs) = push_blob(&reg.addr, repo, &bundle);
    let layer = desc(media::SIGSTORE_BUNDLE_V03, &bd, bs);
    let b = push_referrer(reg, repo, subject, media::SIGSTORE_BUNDLE_V03, (media::OCI_EMPTY, b"{}"), layer);
    let made = vec![(media::COSIGN_SIG_ARTIFACT.to_owned(), sig), (media::SIGSTORE_BUNDLE_V03.to_owned(), b)];
    // Without the API a client lists them in the referrers tag-schema index.
    if !reg.kind.has_referrers_api() {
        let entries: Vec<Value> = made
            .iter()
            .map(|(t, m)| {
                let mut e = descriptor(m);
                e["artifactType"] = t.as_str().into();
                e
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": entries});
        put(reg, repo, Some(&subject.digest.tag_prefix()), &index);
    }
    made
}

/// The (digest, artifactType) pairs an image index lists, sorted.
fn listed(index: &Value) -> Vec<(String, String)> {
    let mut listed: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["digest"].as_str().unwrap().to_owned(), m["artifactType"].as_str().unwrap_or("").to_owned()))
        .collect();
    listed.sort();
    listed
}

/// `GET /v2/<repo>/referrers/<subject>`: the (digest, artifactType) pairs it lists, sorted.
pub(crate) fn api_referrers(reg: &TestRegistry, repo: &str, subject: &Digest) -> Vec<(String, String)> {
    let r = Raw::new(&reg.addr).expect(&[200], "GET", &format!("/v2/{repo}/referrers/{subject}"), &[], b"");
    let index: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(index["mediaType"], media::OCI_INDEX, "{index}");
    listed(&index)
}

/// The (digest, artifactType) pairs the referrers tag-schema index of `subject` lists, sorted.
pub(crate) fn tag_index_referrers(reg: &TestRegistry, repo: &str, subject: &Digest) -> Vec<(String, String)> {
    let bytes = match reg.manifest(repo, &subject.tag_prefix()) {
        crate::support::Presence::Present(b) => b,
        crate::support::Presence::Absent => panic!("no referrers tag-schema index for {subject}"),
    };
    let index: Value = serde_json::from_slice(&bytes).unwrap();
    listed(&index)
}

fn round_trip(from: RegistryKind, to: RegistryKind) {
    let keys = tempdir();
    let key = OpensslKey::p256(keys.path(), "signer");
    let src = TestRegistry::start_kind(from);
    let app = image(&src, "team/app", Some("1.0"), &[random_bytes(40_000)], false, "amd64");
    let made = referrers(&src, "team/app", &app, &key);
    let mut want: Vec<(String, String)> = made.iter().map(|(t, p)| (p.digest.to_string(), t.clone())).collect();
    want.sort();
    if from.has_referrers_api() {
        // Only the API can list them: the test wrote no tag-schema index.
        src.assert_absent("team/app", &app.digest.tag_prefix(), "the test writes no fallback tag here");
        assert_eq!(api_referrers(&src, "team/app", &app.digest), want, "the source's referrers API");
    }

    // Online verify finds the simple-signing referrer (API or tag schema) and verifies it.
    let reference = format!("{}/team/app:1.0", src.addr);
    let out = sealift(&["verify", &reference, "--key", key.public_path()]);
    let text = ok_all(&out);
    assert!(text.contains("[simple-signing-referrer]: verified"), "{text}");
    assert!(text.contains("[sigstore-bundle]: rejected"), "the bundle referrer was found too: {text}");

    // save carries both referrers; offline verify passes on the bundle.
    let dir = tempdir();
    let bundle = dir.path().join("bundle.tar");
    ok_all(&sealift(&["save", &reference, "-o", bundle.to_str().unwrap()]));
    let inspect: Value =
        serde_json::from_str(&ok_all(&sealift(&["inspect", bundle.to_str().unwrap(), "--output", "json"])))
            .unwrap_or_else(|e| panic!("inspect --output json: {e}"));
    let text = inspect.to_string();
    for (_, p) in &made {
        assert!(text.contains(&p.digest.to_string()), "the bundle holds referrer {}: {inspect:#}", p.digest);
    }
    ok_all(&sealift(&["verify", "--bundle", bundle.to_str().unwrap(), "--key", key.public_path()]));

    // load pushes them by digest, byte for byte, with their subject.
    let dst = TestRegistry::start_kind(to);
    ok_all(&sealift(&["load", bundle.to_str().unwrap(), "--to", &dst.addr, "--key", key.public_path()]));
    dst.assert_present("team/app", "1.0", &app.bytes);
    for (_, p) in &made {
        dst.assert_present("team/app", &p.digest.to_string(), &p.bytes);
        let v: Value = serde_json::from_slice(&p.bytes).unwrap();
        assert_eq!(v["subject"]["digest"], app.digest.to_string());
    }
    if to.has_referrers_api() {
        assert_eq!(api_referrers(&dst, "team/app", &app.digest), want, "the target's referrers API");
        dst.assert_absent("team/app", &app.digest.tag_prefix(), "the target has the referrers API");
    } else {
        assert_eq!(tag_index_referrers(&dst, "team/app", &app.digest), want, "the target's tag-schema index");
    }
    // Online verify at the target finds them again.
    let text = ok_all(&sealift(&["verify", &format!("{}/team/app:1.0", dst.addr), "--key", key.public_path()]));
    assert!(text.contains("[simple-signing-referrer]: verified"), "{text}");
    assert!(text.contains("[sigstore-bundle]: rejected"), "the bundle referrer was found too: {text}");
}

/// One test per pairing of source and target registry, each a [`round_trip`].
macro_rules! round_trip_tests {
    ($($name:ident: $from:ident -> $to:ident;)*) => {$(
        #[test]
        fn $name() {
            round_trip(RegistryKind::$from, RegistryKind::$to);
        }
    )*};
}

round_trip_tests! {
    referrers_round_trip_distribution_to_distribution: Distribution -> Distribution;
    referrers_round_trip_ferro_to_ferro: Ferro -> Ferro;
    referrers_round_trip_distribution_to_ferro: Distribution -> Ferro;
    referrers_round_trip_ferro_to_distribution: Ferro -> Distribution;
}

/// The marker discipline: a ferro registry is started only when the port serves its own
/// marker blob, so two instances never mix up (each holds only its own marker).
#[test]
fn each_ferro_registry_serves_only_its_own_marker() {
    let a = TestRegistry::start_kind(RegistryKind::Ferro);
    let b = TestRegistry::start_kind(RegistryKind::Ferro);
    assert_ne!(a.addr, b.addr);
    let ma: Digest = a.marker.parse().unwrap();
    let mb: Digest = b.marker.parse().unwrap();
    assert!(a.blob_present("x", &ma) && b.blob_present("x", &mb));
    assert!(!a.blob_present("x", &mb) && !b.blob_present("x", &ma), "each serves only its own storage");
}
