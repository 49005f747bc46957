//! `sealift inventory`: what a (disconnected) site's registry holds, as a small, versioned,
//! deterministic JSON document that travels back to the connected side (issue 10), where a
//! later `save --have` leaves out what the site already has.
//!
//! This module owns the document ([`Inventory`], schema [`INVENTORY_SCHEMA`], specified in
//! docs/inventory.md and docs/inventory.schema.json), its detached signature (the seal's
//! signing code and `.sig` document format, [`crate::seal::sign`]), and the one way back in:
//! [`verify`], which checks the signature over the exact bytes *before* parsing them
//! strictly, and returns a [`VerifiedInventory`] only it can construct. The registry walk
//! that builds an inventory is [`walk`].

pub mod walk;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::oci::media::ANN_SIGNATURE;
use crate::oci::Digest;
pub use crate::seal::BlobRef;
use crate::seal::{SealTrust, SignedBy};
use crate::verify::crypto;

pub use walk::take;

/// Schema identifier of [`Inventory`]; a reader refuses any other.
pub const INVENTORY_SCHEMA: &str = "https://sealift.dev/schemas/site-inventory/v1";

/// The detached signature of `FILE` is `FILE` + this suffix.
pub const SIGNATURE_SUFFIX: &str = ".sig";

/// What a registry holds under a prefix. Lists are sorted and maps are ordered, so the
/// bytes ([`Inventory::to_bytes`]) depend only on the registry's content, the tool version
/// and `created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub schema: String,
    pub tool: String,
    /// RFC 3339; `SOURCE_DATE_EPOCH` when set.
    pub created: String,
    /// The registry host (and port) as given on the command line.
    pub registry: String,
    /// Only repositories equal to or under this path were listed; empty: all of them.
    pub prefix: String,
    pub totals: Totals,
    /// Sorted by name.
    pub repositories: Vec<Repository>,
}

/// Counts over the whole inventory; `blobs` and `blob_bytes` count each digest once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Totals {
    pub repositories: u64,
    pub tags: u64,
    pub manifests: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
}

/// One repository: its tags, every manifest reachable from them (index children and the
/// cosign `.sig`/`.att`/`.sbom` and referrers tag-schema tags included, since those are
/// tags), and every blob those manifests reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    /// The path at the registry, without the host (`mirror/team/app`).
    pub name: String,
    /// Tag → digest of the manifest it names.
    pub tags: BTreeMap<String, Digest>,
    /// Sorted by digest.
    pub manifests: Vec<ManifestRef>,
    /// Config and layer blobs (digest and the size their descriptors give), sorted.
    pub blobs: Vec<BlobRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ManifestRef {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

impl Inventory {
    /// Builds the document, sorting repositories and computing the totals.
    pub fn new(registry: &str, prefix: &str, created: String, mut repositories: Vec<Repository>) -> Inventory {
        repositories.sort_by(|a, b| a.name.cmp(&b.name));
        let mut unique: BTreeMap<&Digest, u64> = BTreeMap::new();
        let mut totals = Totals { repositories: repositories.len() as u64, ..Totals::default() };
        for r in &repositories {
            totals.tags += r.tags.len() as u64;
            totals.manifests += r.manifests.len() as u64;
            for b in &r.blobs {
                unique.entry(&b.digest).or_insert(b.size);
            }
        }
        totals.blobs = unique.len() as u64;
        totals.blob_bytes = unique.values().sum();
        Inventory {
            schema: INVENTORY_SCHEMA.to_owned(),
            tool: format!("sealift {}", env!("CARGO_PKG_VERSION")),
            created,
            registry: registry.to_owned(),
            prefix: prefix.to_owned(),
            totals,
            repositories,
        }
    }

    /// Pretty JSON with a final newline: the exact bytes that are signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("plain data");
        v.push(b'\n');
        v
    }

    /// Every blob digest the site holds, with the repositories holding it (for a mount).
    pub fn blobs(&self) -> BTreeMap<&Digest, BTreeSet<&str>> {
        let mut out: BTreeMap<&Digest, BTreeSet<&str>> = BTreeMap::new();
        for r in &self.repositories {
            for b in &r.blobs {
                out.entry(&b.digest).or_default().insert(&r.name);
            }
        }
        out
    }
}

/// Why an inventory was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// Not JSON, unknown or missing fields, wrong types.
    #[error("{what} is not a site inventory: {reason}")]
    Malformed { what: String, reason: String },
    /// A schema this version does not know.
    #[error("{what} has unknown schema {found:?} (expected {INVENTORY_SCHEMA})")]
    Schema { what: String, found: String },
    /// Trust keys were given but the inventory has no signature next to it.
    #[error("{what} is not signed (no {what}{SIGNATURE_SUFFIX}), but a key to check it was given")]
    Unsigned { what: String },
    /// The signature document is unreadable.
    #[error("signature of {what} is malformed: {reason}")]
    SignatureMalformed { what: String, reason: String },
    /// The signature does not verify with any of the keys: a rejection.
    #[error("the signature of {what} does not verify with any of the given keys")]
    NotVerified { what: String },
    /// Certificate trust was given and the signature's certificate (path, identity) or
    /// the signature under its key did not pass: a rejection.
    #[error("the signature of {what} is rejected: {reason}")]
    CertificateRejected { what: String, reason: String },
}

impl InventoryError {
    /// A signature that does not verify is "rejected" (exit 1); everything else is a bad
    /// input file (exit 4).
    pub fn is_rejection(&self) -> bool {
        matches!(self, InventoryError::NotVerified { .. } | InventoryError::CertificateRejected { .. })
    }
}

/// An inventory whose signature verified with one of the trusted keys or a certificate
/// chaining to a trusted root (or, when no trust
/// was asked for, that was only parsed: then [`VerifiedInventory::signer`] is `None`).
/// Only [`verify`] constructs one.
#[derive(Debug, Clone)]
pub struct VerifiedInventory {
    inventory: Inventory,
    signer: Option<String>,
}

impl VerifiedInventory {
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }
    /// `key sha256:<fingerprint> (<algorithm>)` of the key that verified it, or the
    /// certificate's identities; `None` if no trust was given.
    pub fn signer(&self) -> Option<&str> {
        self.signer.as_deref()
    }
}

/// Reads an inventory from its exact bytes (`untrusted_bytes`) and its detached signature
/// document, if any (`untrusted_signature`, the `.sig` file). With trust given (the seal's:
/// `--bundle-key`, or `--bundle-ca-roots` with an identity) the signature must exist and
/// verify over the exact bytes, *before* they are parsed: with one of the keys, else with
/// the certificate it carries, checked at `now` by the seal's certificate path
/// ([`crate::seal::verify_with_certificate`]). With no trust the signature is not looked
/// at. Then the bytes are parsed strictly (unknown fields refused) and the schema checked.
/// `what` names the file in errors.
pub fn verify(
    what: &str,
    untrusted_bytes: &[u8],
    untrusted_signature: Option<&[u8]>,
    trust: Option<&SealTrust>,
    now: i64,
) -> Result<VerifiedInventory, InventoryError> {
    let mut signer = None;
    if let Some(trust) = trust.filter(|t| !t.is_empty()) {
        let keys = &trust.keys;
        let sig_doc = untrusted_signature.ok_or_else(|| InventoryError::Unsigned { what: what.to_owned() })?;
        let bad = |reason: String| InventoryError::SignatureMalformed { what: what.to_owned(), reason };
        let doc: BTreeMap<String, String> =
            serde_json::from_slice(sig_doc).map_err(|e| bad(format!("not a JSON object of strings: {e}")))?;
        let b64 = doc.get(ANN_SIGNATURE).ok_or_else(|| bad(format!("no {ANN_SIGNATURE}")))?;
        let sig = crypto::decode_base64_signature(b64).map_err(|e| bad(e.to_string()))?;
        let found = keys.iter().find_map(|k| {
            crypto::verify(k, untrusted_bytes, &sig).ok().map(|alg| format!("key sha256:{} ({alg})", k.fingerprint()))
        });
        let found = match found {
            Some(f) => f,
            None if !trust.roots.is_empty() => {
                let what_signed = format!("inventory {what}");
                match crate::seal::verify_with_certificate(&what_signed, &doc, untrusted_bytes, &sig, trust, now) {
                    Ok(SignedBy { signer, algorithm, .. }) => format!("certificate {signer} ({algorithm})"),
                    Err(reason) => return Err(InventoryError::CertificateRejected { what: what.to_owned(), reason }),
                }
            }
            None => return Err(InventoryError::NotVerified { what: what.to_owned() }),
        };
        signer = Some(found);
    }
    let inventory = parse(what, untrusted_bytes)?;
    Ok(VerifiedInventory { inventory, signer })
}

/// Strict parse and schema check (no signature involved).
fn parse(what: &str, bytes: &[u8]) -> Result<Inventory, InventoryError> {
    // The schema first, so that a future version is named as such, not as "malformed".
    #[derive(Deserialize)]
    struct Head {
        schema: Option<serde_json::Value>,
    }
    let malformed = |e: serde_json::Error| InventoryError::Malformed { what: what.to_owned(), reason: e.to_string() };
    let head: Head = serde_json::from_slice(bytes).map_err(malformed)?;
    match head.schema {
        Some(serde_json::Value::String(s)) if s == INVENTORY_SCHEMA => {}
        Some(serde_json::Value::String(found)) => return Err(InventoryError::Schema { what: what.to_owned(), found }),
        _ => return Err(InventoryError::Malformed { what: what.to_owned(), reason: "no schema string".to_owned() }),
    }
    serde_json::from_slice(bytes).map_err(malformed)
}
