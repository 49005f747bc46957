//! The inventory document: deterministic bytes, totals, and [`verify`]'s verdict on a
//! good, a tampered, a foreign-signed, an unsigned and a malformed inventory.

use std::collections::BTreeMap;

use super::*;
use crate::seal::{sign, SealSigner};
use crate::verify::certs::{generate_key, KeyType};
use crate::verify::crypto::PublicKey;

fn d(n: u8) -> Digest {
    Digest::of(&[n])
}

fn sample() -> Inventory {
    let repo = |name: &str, blobs: &[(u8, u64)]| Repository {
        name: name.to_owned(),
        tags: BTreeMap::from([("1.0".to_owned(), d(100))]),
        manifests: vec![ManifestRef {
            digest: d(100),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: 9,
        }],
        blobs: blobs.iter().map(|&(n, size)| BlobRef { digest: d(n), size }).collect(),
    };
    // Given out of order: the document sorts repositories.
    Inventory::new(
        "127.0.0.1:5000",
        "site",
        "2026-12-01T00:00:00Z".into(),
        vec![repo("site/b", &[(1, 10), (2, 20)]), repo("site/a", &[(1, 10)])],
    )
}

fn signer() -> (SealSigner, PublicKey) {
    let key = generate_key(KeyType::EcP256).unwrap();
    let public = key.public_key();
    (SealSigner { key, algorithm: None, certificate_pem: None, chain_pem: None }, public)
}

#[test]
fn bytes_are_deterministic_and_totals_count_each_blob_once() {
    let inv = sample();
    assert_eq!(inv.repositories[0].name, "site/a");
    assert_eq!(inv.to_bytes(), sample().to_bytes());
    assert_eq!(inv.totals, Totals { repositories: 2, tags: 2, manifests: 2, blobs: 2, blob_bytes: 30 });
    let blobs = inv.blobs();
    assert_eq!(blobs[&d(1)].iter().copied().collect::<Vec<_>>(), vec!["site/a", "site/b"]);
    assert!(inv.to_bytes().ends_with(b"}\n"));
}

#[test]
fn a_signed_inventory_verifies_and_a_tampered_one_does_not() {
    let (s, public) = signer();
    let bytes = sample().to_bytes();
    let sig = sign(&bytes, &s).unwrap();
    let v = verify("inv.json", &bytes, Some(&sig), Some(&trust(&public)), 0).unwrap();
    assert_eq!(v.inventory(), &sample());
    assert!(v.signer().unwrap().starts_with("key sha256:"), "{:?}", v.signer());

    // One byte changed (a blob size): the signature no longer verifies, a rejection.
    let tampered = String::from_utf8(bytes.clone()).unwrap().replacen("\"size\": 20", "\"size\": 21", 1);
    assert_ne!(tampered.as_bytes(), &bytes[..]);
    let e = verify("inv.json", tampered.as_bytes(), Some(&sig), Some(&trust(&public)), 0).unwrap_err();
    assert_eq!(e, InventoryError::NotVerified { what: "inv.json".into() });
    assert!(e.is_rejection());

    // Signed by another key.
    let (other, _) = signer();
    let foreign = sign(&bytes, &other).unwrap();
    let e = verify("inv.json", &bytes, Some(&foreign), Some(&trust(&public)), 0).unwrap_err();
    assert!(e.is_rejection(), "{e}");
}

#[test]
fn unsigned_malformed_and_unknown_inventories_are_refused() {
    let (_, public) = signer();
    let keys = &trust(&public);
    let bytes = sample().to_bytes();
    let e = verify("inv.json", &bytes, None, Some(keys), 0).unwrap_err();
    assert_eq!(e, InventoryError::Unsigned { what: "inv.json".into() });
    assert!(!e.is_rejection());
    // Without keys the signature is not required, and the document is still parsed strictly.
    assert!(verify("inv.json", &bytes, None, None, 0).unwrap().signer().is_none());
    let extra = String::from_utf8(bytes.clone()).unwrap().replacen("\"tool\"", "\"extra\": 1,\n  \"tool\"", 1);
    assert!(matches!(verify("i", extra.as_bytes(), None, None, 0), Err(InventoryError::Malformed { .. })));
    assert!(matches!(verify("i", b"not json", None, None, 0), Err(InventoryError::Malformed { .. })));
    let future =
        String::from_utf8(bytes).unwrap().replace(INVENTORY_SCHEMA, "https://sealift.dev/schemas/site-inventory/v9");
    assert!(matches!(verify("i", future.as_bytes(), None, None, 0), Err(InventoryError::Schema { .. })));
    assert!(matches!(
        verify("i", b"{}", Some(b"{\"x\":\"y\"}"), Some(keys), 0),
        Err(InventoryError::SignatureMalformed { .. })
    ));
}

#[test]
fn prefixes_match_whole_path_components() {
    use super::walk::under_prefix;
    assert!(under_prefix("site/app", "site") && under_prefix("site", "site") && under_prefix("x", ""));
    assert!(!under_prefix("site2/app", "site") && !under_prefix("sit", "site"));
}

fn trust(k: &crate::verify::crypto::PublicKey) -> crate::seal::SealTrust {
    crate::seal::SealTrust { keys: vec![k.clone()], ..Default::default() }
}
