//! Where evidence lives: the attachments of one manifest digest, read from a bundle's
//! metadata (offline, no I/O) or from a registry (`.sig`/`.att` tags and referrers).
//!
//! Both sources end in `gather`, so a bundle and a registry yield the same evidence for
//! the same content. Nothing is judged here; payload and layer bytes are kept exact and
//! checked against their digests. Bounded: at most [`MAX_SIGNATURES`] signatures and
//! [`MAX_ATTESTATIONS`] attestations per digest, blobs of at most [`MAX_EVIDENCE_BLOB`].

use std::collections::BTreeMap;

use base64::Engine as _;

use super::{Evidence, Format, FoundAttestation, FoundSignature};
use crate::content::Metadata;
use crate::content::Role;
use crate::cosign::signature::signatures_from_sig_manifest;
use crate::cosign::{att_tag, sig_tag};
use crate::oci::{media, Digest, Manifest};
use crate::registry::{Registry, RegistryError};

/// Signatures kept per image; the rest are reported as unreadable.
pub const MAX_SIGNATURES: usize = 1000;
/// Attestations kept per image.
pub const MAX_ATTESTATIONS: usize = 1000;
/// Largest signature payload, attestation envelope or bundle read from a registry.
pub const MAX_EVIDENCE_BLOB: usize = 16 * 1024 * 1024;
/// Referrers examined per image (online).
pub const MAX_REFERRERS: usize = 1000;

/// The cosign v3 Sigstore bundle annotation naming the predicate type.
const ANN_BUNDLE_PREDICATE: &str = "dev.sigstore.bundle.predicateType";
const ANN_PREDICATE_TYPE: &str = "predicateType";

/// What kind of attachment a manifest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sig,
    Att,
    Referrer,
}

/// One attachment manifest, exact bytes.
struct Attachment<'a> {
    kind: Kind,
    digest: Digest,
    bytes: &'a [u8],
}

/// Evidence for `digest` from a bundle's metadata: every `.sig`, `.att` and referrer entry
/// whose subject is `digest`. SBOMs and other referrers are ignored.
pub fn evidence_from_bundle(meta: &Metadata, digest: &Digest) -> Evidence {
    let mut attachments = Vec::new();
    let mut ev = Evidence::default();
    for e in meta.contents.entries.iter().filter(|e| e.subject.as_ref() == Some(digest)) {
        let kind = match e.role {
            Role::Signature => Kind::Sig,
            Role::Attestation => Kind::Att,
            Role::Referrer => Kind::Referrer,
            _ => continue,
        };
        match meta.contents.manifests.get(&e.descriptor.digest) {
            Some(m) => attachments.push(Attachment { kind, digest: e.descriptor.digest.clone(), bytes: &m.bytes }),
            None => ev.unreadable.push((e.descriptor.digest.clone(), "manifest missing from the bundle".into())),
        }
    }
    let mut found = gather(&attachments, |d| meta.small.get(d).map(|b| b.to_vec()));
    found.unreadable.splice(0..0, ev.unreadable);
    found
}

/// Evidence for `repo@digest` in a registry: the `sha256-<hex>.sig` and `.att` tags and
/// the referrers (API, or the tag schema). Registry faults are errors ("could not check");
/// absent tags are no evidence.
pub async fn evidence_from_registry(
    registry: &Registry,
    repo: &str,
    digest: &Digest,
) -> Result<Evidence, RegistryError> {
    let mut manifests: Vec<(Kind, crate::registry::RawManifest)> = Vec::new();
    for (kind, tag) in [(Kind::Sig, sig_tag(digest)), (Kind::Att, att_tag(digest))] {
        if let Some(m) = registry.get_manifest(repo, &tag).await? {
            manifests.push((kind, m));
        }
    }
    let mut unreadable = Vec::new();
    let referrers = registry.referrers(repo, digest).await?;
    for r in referrers.iter().take(MAX_REFERRERS) {
        let at = r.artifact_type.as_deref().unwrap_or_default();
        if unknown_bundle_version(at) {
            unreadable.push((r.digest.clone(), unknown_bundle_reason(at)));
            continue;
        }
        // Only what could be a signature or attestation: skip SBOMs etc. without fetching.
        if !at.is_empty() && at != media::COSIGN_SIG_ARTIFACT && !is_bundle_type(at) {
            continue;
        }
        match registry.get_manifest(repo, &r.digest.to_string()).await? {
            Some(m) => manifests.push((Kind::Referrer, m)),
            None => unreadable.push((r.digest.clone(), "listed as a referrer but absent".into())),
        }
    }
    // Fetch the blobs the attachments need, each checked by the registry client.
    let mut blobs: BTreeMap<Digest, Vec<u8>> = BTreeMap::new();
    for (kind, m) in &manifests {
        let Ok((parsed, _)) = Manifest::parse(&m.bytes, Some(&m.media_type)) else { continue };
        for layer in needed_layers(*kind, &parsed) {
            if blobs.contains_key(&layer.digest) {
                continue;
            }
            if layer.size > MAX_EVIDENCE_BLOB as u64 {
                unreadable.push((layer.digest.clone(), format!("layer of {} bytes exceeds the cap", layer.size)));
                continue;
            }
            match registry.get_blob_bytes(repo, &layer.digest, MAX_EVIDENCE_BLOB).await {
                Ok(b) => {
                    blobs.insert(layer.digest.clone(), b.to_vec());
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
    }
    let attachments: Vec<Attachment<'_>> = manifests
        .iter()
        .map(|(kind, m)| Attachment { kind: *kind, digest: m.digest.clone(), bytes: &m.bytes })
        .collect();
    let mut ev = gather(&attachments, |d| blobs.get(d).cloned());
    ev.unreadable.splice(0..0, unreadable);
    Ok(ev)
}

/// Whether `artifact_type` is a Sigstore bundle version sealift verifies, spelt exactly
/// (v0.1–v0.3 as protobuf-specs writes them; no prefix match, so `version=99.9` is not one).
fn is_bundle_type(artifact_type: &str) -> bool {
    crate::verify::sigstore_bundle::BundleVersion::from_media_type(artifact_type).is_some()
}

/// A Sigstore bundle of a version sealift does not know: reported, never verified.
fn unknown_bundle_version(artifact_type: &str) -> bool {
    artifact_type.starts_with(media::SIGSTORE_BUNDLE_PREFIX) && !is_bundle_type(artifact_type)
}

fn unknown_bundle_reason(artifact_type: &str) -> String {
    format!("Sigstore bundle artifactType {artifact_type:?} is not a version sealift verifies (v0.1-v0.3)")
}

/// The layers whose bytes evidence extraction reads.
fn needed_layers(kind: Kind, m: &Manifest) -> Vec<&crate::oci::Descriptor> {
    match (kind, artifact_type(m).as_deref()) {
        (Kind::Sig, _) | (Kind::Att, _) => m.layers.iter().collect(),
        (Kind::Referrer, Some(at)) if at == media::COSIGN_SIG_ARTIFACT => m.layers.iter().collect(),
        (Kind::Referrer, Some(at)) if is_bundle_type(at) => m.layers.iter().take(1).collect(),
        _ => Vec::new(),
    }
}

/// `artifactType`, else the config media type (older referrers lack `artifactType`).
fn artifact_type(m: &Manifest) -> Option<String> {
    m.artifact_type.clone().or_else(|| m.config.as_ref().map(|c| c.media_type.clone()))
}

/// A blob's exact bytes, checked against its digest.
fn checked(blob: &impl Fn(&Digest) -> Option<Vec<u8>>, d: &Digest) -> Result<Vec<u8>, String> {
    let bytes = blob(d).ok_or_else(|| format!("blob {d} is missing"))?;
    let actual = Digest::of(&bytes);
    if &actual != d {
        return Err(format!("blob {d} hashes to {actual}"));
    }
    Ok(bytes)
}

/// Reads signatures and attestations out of attachment manifests.
fn gather(attachments: &[Attachment<'_>], blob: impl Fn(&Digest) -> Option<Vec<u8>>) -> Evidence {
    let mut ev = Evidence::default();
    for a in attachments {
        let parsed = match Manifest::parse(a.bytes, None) {
            Ok((m, _)) => m,
            Err(e) => {
                ev.unreadable.push((a.digest.clone(), format!("not a manifest: {e}")));
                continue;
            }
        };
        let at = artifact_type(&parsed);
        match a.kind {
            Kind::Sig => simple_signing(&mut ev, a, Format::LegacySig, &blob),
            Kind::Referrer if at.as_deref() == Some(media::COSIGN_SIG_ARTIFACT) => {
                simple_signing(&mut ev, a, Format::SimpleSigningReferrer, &blob)
            }
            Kind::Referrer if at.as_deref().is_some_and(is_bundle_type) => sigstore_bundle(&mut ev, a, &parsed, &blob),
            Kind::Referrer if at.as_deref().is_some_and(unknown_bundle_version) => {
                let at = at.as_deref().unwrap_or_default();
                ev.unreadable.push((a.digest.clone(), unknown_bundle_reason(at)));
            }
            Kind::Referrer => {}
            Kind::Att => attestations(&mut ev, a, &parsed, &blob),
        }
    }
    if ev.signatures.len() > MAX_SIGNATURES {
        let dropped = ev.signatures.len() - MAX_SIGNATURES;
        let holder = ev.signatures[MAX_SIGNATURES].holder.clone();
        ev.signatures.truncate(MAX_SIGNATURES);
        ev.unreadable.push((holder, format!("{dropped} signatures beyond the cap of {MAX_SIGNATURES} ignored")));
    }
    if ev.attestations.len() > MAX_ATTESTATIONS {
        let dropped = ev.attestations.len() - MAX_ATTESTATIONS;
        let holder = ev.attestations[MAX_ATTESTATIONS].holder.clone();
        ev.attestations.truncate(MAX_ATTESTATIONS);
        ev.unreadable.push((holder, format!("{dropped} attestations beyond the cap of {MAX_ATTESTATIONS} ignored")));
    }
    ev
}

fn simple_signing(ev: &mut Evidence, a: &Attachment<'_>, format: Format, blob: &impl Fn(&Digest) -> Option<Vec<u8>>) {
    if ev.signatures.len() > MAX_SIGNATURES {
        return;
    }
    match signatures_from_sig_manifest(a.bytes, |d| blob(d)) {
        Ok(read) => {
            for s in read.signatures {
                ev.signatures.push(FoundSignature {
                    format,
                    holder: a.digest.clone(),
                    signature: Some(s),
                    bundle_json: None,
                });
            }
            for skipped in read.skipped {
                ev.unreadable.push((a.digest.clone(), format!("layer {}: {}", skipped.digest, skipped.reason)));
            }
        }
        Err(e) => ev.unreadable.push((a.digest.clone(), e.to_string())),
    }
}

/// A Sigstore bundle referrer: a signature when its predicate is cosign's signing
/// predicate (or unannotated), else an attestation whose DSSE envelope is the bundle's.
fn sigstore_bundle(ev: &mut Evidence, a: &Attachment<'_>, m: &Manifest, blob: &impl Fn(&Digest) -> Option<Vec<u8>>) {
    let Some(layer) = m.layers.first() else {
        ev.unreadable.push((a.digest.clone(), "Sigstore bundle referrer without a layer".into()));
        return;
    };
    let bytes = match checked(blob, &layer.digest) {
        Ok(b) => b,
        Err(reason) => {
            ev.unreadable.push((a.digest.clone(), reason));
            return;
        }
    };
    let predicate = m.annotations.get(ANN_BUNDLE_PREDICATE).cloned();
    match predicate {
        Some(p) if p != crate::verify::sigstore_bundle::COSIGN_SIGN_PREDICATE => match bundle_attestation(&bytes) {
            Ok((envelope, certificate_pem)) => ev.attestations.push(FoundAttestation {
                holder: a.digest.clone(),
                predicate_type: Some(p),
                envelope,
                certificate_pem,
                chain_pem: None,
                rekor_bundle: None,
            }),
            Err(reason) => ev.unreadable.push((a.digest.clone(), reason)),
        },
        _ => ev.signatures.push(FoundSignature {
            format: Format::SigstoreBundle,
            holder: a.digest.clone(),
            signature: None,
            bundle_json: Some(bytes),
        }),
    }
}

/// The DSSE envelope and leaf certificate of an attestation in a Sigstore bundle. The
/// envelope is re-serialized: harmless, as DSSE signs PAE(type, decoded payload), not the
/// envelope's JSON text.
fn bundle_attestation(bytes: &[u8]) -> Result<(Vec<u8>, Option<String>), String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("Sigstore bundle: {e}"))?;
    let env = v.get("dsseEnvelope").ok_or("Sigstore bundle attestation without a DSSE envelope")?;
    let vm = &v["verificationMaterial"];
    let raw = vm["certificate"]["rawBytes"]
        .as_str()
        .or_else(|| vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str());
    let cert = match raw {
        Some(r) => {
            let der = base64::engine::general_purpose::STANDARD.decode(r).map_err(|_| "certificate is not base64")?;
            Some(crate::cosign::signature::der_to_pem("CERTIFICATE", &der))
        }
        None => None,
    };
    Ok((serde_json::to_vec(env).expect("a JSON value"), cert))
}

fn attestations(ev: &mut Evidence, a: &Attachment<'_>, m: &Manifest, blob: &impl Fn(&Digest) -> Option<Vec<u8>>) {
    for layer in &m.layers {
        if layer.media_type != media::DSSE_ENVELOPE {
            continue;
        }
        if ev.attestations.len() > MAX_ATTESTATIONS {
            return;
        }
        match checked(blob, &layer.digest) {
            Ok(envelope) => {
                let ann = |k: &str| layer.annotations.get(k).cloned();
                ev.attestations.push(FoundAttestation {
                    holder: a.digest.clone(),
                    predicate_type: ann(ANN_PREDICATE_TYPE),
                    envelope,
                    certificate_pem: ann(media::ANN_CERTIFICATE),
                    chain_pem: ann(media::ANN_CHAIN),
                    rekor_bundle: ann(media::ANN_BUNDLE),
                })
            }
            Err(reason) => ev.unreadable.push((a.digest.clone(), reason)),
        }
    }
}
