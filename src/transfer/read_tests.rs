//! The bundle reader's (read.rs) own refusals in its metadata phase, each from a hand-made tar: no index before
//! a big blob, a big blob before its manifest, a manifest index.json names but the bundle
//! lacks, metadata past the total cap. (Corrupt blobs, hostile names and truncation are
//! the bundle reader's, tested in `bundle::tests`.)

use super::*;
use crate::bundle::names::{INDEX_JSON, OCI_LAYOUT, OCI_LAYOUT_BYTES};

/// A tar of `(name, data, header size)` entries; a header size larger than the data makes
/// a truncated entry (the reader must refuse before it needs the missing bytes).
fn tar_of(entries: &[(&str, &[u8], Option<u64>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data, size) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(size.unwrap_or(data.len() as u64));
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    if entries.iter().all(|(_, d, s)| s.is_none_or(|s| s == d.len() as u64)) {
        out.extend_from_slice(&[0u8; 1024]);
    }
    out
}

/// An image manifest whose config is `config` with the declared size `config_size`.
fn manifest(config: &Digest, config_size: u64) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{config}","size":{config_size}}},"layers":[]}}"#,
        media::OCI_MANIFEST,
        media::OCI_CONFIG
    )
    .into_bytes()
}

/// `index.json` naming `manifest` as `127.0.0.1:5000/team/app:1.0`.
fn index(manifest: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":{},"annotations":{{"{}":"127.0.0.1:5000/team/app:1.0"}}}}]}}"#,
        media::OCI_INDEX,
        media::OCI_MANIFEST,
        Digest::of(manifest),
        manifest.len(),
        media::ANN_REF_NAME
    )
    .into_bytes()
}

async fn metadata_of(tar: Vec<u8>) -> Result<Metadata, LoadError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar");
    std::fs::write(&path, tar).unwrap();
    read_tar_metadata(&path).await.map(|(meta, _)| meta)
}

fn big() -> (Digest, u64) {
    (Digest::of(b"a big blob"), MAX_SMALL_BLOB + 1)
}

#[tokio::test]
async fn a_well_formed_tar_gives_its_metadata() {
    let config = b"{}".to_vec();
    let m = manifest(&Digest::of(&config), config.len() as u64);
    let (md, cd) = (Digest::of(&m).blob_path(), Digest::of(&config).blob_path());
    let tar = tar_of(&[
        (OCI_LAYOUT, OCI_LAYOUT_BYTES, None),
        (INDEX_JSON, &index(&m), None),
        (&md, &m, None),
        (&cd, &config, None),
    ]);
    let meta = metadata_of(tar).await.unwrap();
    assert_eq!(meta.contents.entries.len(), 1);
    assert_eq!(meta.contents.manifests[&Digest::of(&m)].bytes, m);
    assert_eq!(meta.small[&Digest::of(&config)], config);
}

#[tokio::test]
async fn a_big_blob_before_index_json_is_no_index() {
    let (d, size) = big();
    let tar = tar_of(&[(OCI_LAYOUT, OCI_LAYOUT_BYTES, None), (&d.blob_path(), b"", Some(size))]);
    let err = metadata_of(tar).await.unwrap_err();
    assert!(matches!(&err, LoadError::NoIndex { digest } if *digest == d), "{err}");
    assert!(err.is_bad_bundle());
}

#[tokio::test]
async fn a_big_blob_before_its_manifest_is_out_of_order() {
    let (d, size) = big();
    let m = manifest(&d, size);
    let tar = tar_of(&[
        (OCI_LAYOUT, OCI_LAYOUT_BYTES, None),
        (INDEX_JSON, &index(&m), None),
        (&d.blob_path(), b"", Some(size)),
    ]);
    let err = metadata_of(tar).await.unwrap_err();
    assert!(matches!(&err, LoadError::OutOfOrder { digest, size: s } if *digest == d && *s == size), "{err}");
    assert!(err.to_string().contains("extract it and load the directory"), "{err}");
    assert!(err.is_bad_bundle());
}

#[tokio::test]
async fn a_manifest_named_by_index_json_but_absent_is_refused() {
    let config = b"{}".to_vec();
    let m = manifest(&Digest::of(&config), 2);
    let tar = tar_of(&[(OCI_LAYOUT, OCI_LAYOUT_BYTES, None), (INDEX_JSON, &index(&m), None)]);
    let err = metadata_of(tar).await.unwrap_err();
    assert!(
        matches!(&err, LoadError::Model(ModelError::MissingManifest { child, .. }) if *child == Digest::of(&m)),
        "{err}"
    );
    assert!(err.is_bad_bundle());
}

#[tokio::test]
async fn a_metadata_blob_past_its_cap_is_refused_from_its_header() {
    // A config declared (and headed) at more than a metadata blob may be: refused from its
    // header, before any of its bytes would be read (the tar does not even hold them). The
    // per-blob cap (64 MiB) comes before the total held (32 MiB).
    let size = MAX_METADATA_BLOB + 1;
    let config = Digest::of(b"a huge config");
    let m = manifest(&config, size);
    let md = Digest::of(&m).blob_path();
    let tar = tar_of(&[
        (OCI_LAYOUT, OCI_LAYOUT_BYTES, None),
        (INDEX_JSON, &index(&m), None),
        (&md, &m, None),
        (&config.blob_path(), b"", Some(size)),
    ]);
    let err = metadata_of(tar).await.unwrap_err();
    assert!(matches!(&err, LoadError::MetadataTooLarge { digest, .. } if *digest == config), "{err}");
    assert!(err.is_bad_bundle());
}

#[tokio::test]
async fn no_oci_layout_is_refused() {
    let tar = tar_of(&[(
        INDEX_JSON,
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
        None,
    )]);
    let err = metadata_of(tar).await.unwrap_err();
    // The bundle reader refuses it first (so LoadError::NoLayoutFile is a second line).
    assert!(
        matches!(&err, LoadError::Bundle(crate::bundle::BundleError::BadLayout { name, .. }) if name == "oci-layout"),
        "{err:?}"
    );
    assert!(err.is_bad_bundle(), "{err}");
}
