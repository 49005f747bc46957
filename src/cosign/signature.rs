//! One untrusted cosign signature and the places it comes from: layers of a `.sig`
//! manifest, or `cosign download signature` output. Also builds `.sig` manifests by
//! appending a layer, and names cosign's tags.
//!
//! Nothing here judges a signature: `crate::verify` does. Fields are named untrusted
//! until then.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;

use crate::oci::manifest::to_canonical_json;
use crate::oci::{media, Descriptor, Digest, Manifest};

/// One signature as found, before any check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UntrustedSignature {
    /// The exact payload bytes (the layer blob). Never re-serialize.
    pub payload: Vec<u8>,
    /// Base64 signature as stored (may contain `\n` line wraps).
    pub base64_signature: String,
    pub certificate_pem: Option<String>,
    /// Intermediates then root, leaf excluded; may be `""`.
    pub chain_pem: Option<String>,
    /// The Rekor bundle JSON (`dev.sigstore.cosign/bundle`).
    pub rekor_bundle: Option<String>,
    pub rfc3161: Option<String>,
    pub media_type: String,
}

/// Why a signature could not even be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureSourceError {
    #[error("signature manifest is not valid: {reason}")]
    Manifest { reason: String },
    #[error("signature layer {digest}: payload blob is missing")]
    MissingPayload { digest: Digest },
    #[error("signature layer {digest}: payload hashes to {actual}")]
    PayloadDigest { digest: Digest, actual: Digest },
    #[error("signature download line {line}: {reason}")]
    Download { line: usize, reason: String },
}

/// A layer of a `.sig` manifest that is not a simple-signing signature (ignored, reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLayer {
    pub digest: Digest,
    pub media_type: String,
    pub reason: &'static str,
}

/// The signatures read from one `.sig` manifest.
#[derive(Debug, Clone, Default)]
pub struct SigManifestSignatures {
    pub signatures: Vec<UntrustedSignature>,
    pub skipped: Vec<SkippedLayer>,
}

/// Reads the signatures of a `.sig` manifest. `payload_of` returns a layer blob's bytes;
/// each is checked against its layer digest.
pub fn signatures_from_sig_manifest(
    manifest_bytes: &[u8],
    mut payload_of: impl FnMut(&Digest) -> Option<Vec<u8>>,
) -> Result<SigManifestSignatures, SignatureSourceError> {
    let (manifest, _) =
        Manifest::parse(manifest_bytes, None).map_err(|e| SignatureSourceError::Manifest { reason: e.to_string() })?;
    let mut out = SigManifestSignatures::default();
    for layer in &manifest.layers {
        let skip = |reason| SkippedLayer { digest: layer.digest.clone(), media_type: layer.media_type.clone(), reason };
        if layer.media_type != media::COSIGN_SIMPLESIGNING {
            out.skipped.push(skip("not a simple-signing layer"));
            continue;
        }
        let Some(b64) = layer.annotations.get(media::ANN_SIGNATURE) else {
            out.skipped.push(skip("no signature annotation"));
            continue;
        };
        let payload = payload_of(&layer.digest)
            .ok_or_else(|| SignatureSourceError::MissingPayload { digest: layer.digest.clone() })?;
        let actual = Digest::of(&payload);
        if actual != layer.digest {
            return Err(SignatureSourceError::PayloadDigest { digest: layer.digest.clone(), actual });
        }
        let ann = |k: &str| layer.annotations.get(k).cloned();
        out.signatures.push(UntrustedSignature {
            payload,
            base64_signature: b64.clone(),
            certificate_pem: ann(media::ANN_CERTIFICATE),
            chain_pem: ann(media::ANN_CHAIN),
            rekor_bundle: ann(media::ANN_BUNDLE),
            rfc3161: ann(media::ANN_RFC3161),
            media_type: layer.media_type.clone(),
        });
    }
    Ok(out)
}

/// Same, with payloads from a digest → bytes map.
pub fn signatures_from_sig_manifest_map(
    manifest_bytes: &[u8],
    blobs: &BTreeMap<Digest, Vec<u8>>,
) -> Result<SigManifestSignatures, SignatureSourceError> {
    signatures_from_sig_manifest(manifest_bytes, |d| blobs.get(d).cloned())
}

/// Parses `cosign download signature` output: one JSON object per line, or one JSON array.
pub fn signatures_from_download(text: &str) -> Result<Vec<UntrustedSignature>, SignatureSourceError> {
    let trimmed = text.trim_start();
    let items: Vec<(usize, serde_json::Value)> = if trimmed.starts_with('[') {
        let v: Vec<serde_json::Value> = serde_json::from_str(trimmed)
            .map_err(|e| SignatureSourceError::Download { line: 1, reason: e.to_string() })?;
        v.into_iter().enumerate().map(|(i, v)| (i + 1, v)).collect()
    } else {
        let mut items = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v = serde_json::from_str(line)
                .map_err(|e| SignatureSourceError::Download { line: i + 1, reason: e.to_string() })?;
            items.push((i + 1, v));
        }
        items
    };
    items.into_iter().map(|(line, v)| download_item(line, &v)).collect()
}

fn download_item(line: usize, v: &serde_json::Value) -> Result<UntrustedSignature, SignatureSourceError> {
    let err = |reason: String| SignatureSourceError::Download { line, reason };
    let obj = v.as_object().ok_or_else(|| err("entry is not a JSON object".into()))?;
    let b64sig = obj
        .get("Base64Signature")
        .and_then(|s| s.as_str())
        .ok_or_else(|| err("Base64Signature missing or not a string".into()))?;
    let payload_b64 =
        obj.get("Payload").and_then(|s| s.as_str()).ok_or_else(|| err("Payload missing or not a string".into()))?;
    // Go marshals []byte as StdEncoding base64.
    let payload = base64::engine::general_purpose::STANDARD
        .decode(payload_b64)
        .map_err(|e| err(format!("Payload is not base64: {e}")))?;
    let cert = match obj.get("Cert") {
        None | Some(serde_json::Value::Null) => None,
        Some(c) => Some(go_cert_to_pem(c).map_err(|r| err(format!("Cert: {r}")))?),
    };
    let chain = match obj.get("Chain") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Array(a)) => {
            let mut pem = String::new();
            for c in a {
                pem.push_str(&go_cert_to_pem(c).map_err(|r| err(format!("Chain: {r}")))?);
            }
            Some(pem)
        }
        Some(_) => return Err(err("Chain is neither null, a string nor an array".into())),
    };
    let json_field = |k: &str| match obj.get(k) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    Ok(UntrustedSignature {
        payload,
        base64_signature: b64sig.to_owned(),
        certificate_pem: cert,
        chain_pem: chain,
        rekor_bundle: json_field("Bundle"),
        rfc3161: json_field("RFC3161Timestamp"),
        media_type: media::COSIGN_SIMPLESIGNING.to_owned(),
    })
}

/// A certificate as cosign's JSON holds it: a PEM string, or Go's `x509.Certificate`
/// encoding (an object whose `Raw` is base64 DER).
fn go_cert_to_pem(v: &serde_json::Value) -> Result<String, String> {
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Object(o) => {
            let raw = o.get("Raw").and_then(|r| r.as_str()).ok_or("certificate object has no Raw")?;
            let der = base64::engine::general_purpose::STANDARD.decode(raw).map_err(|e| format!("Raw: {e}"))?;
            Ok(der_to_pem("CERTIFICATE", &der))
        }
        _ => Err("certificate is neither a string nor an object".into()),
    }
}

/// PEM-encodes DER with 64-column lines, as Go's `pem.Encode` does.
pub fn der_to_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A signature to add to a `.sig` manifest.
#[derive(Debug, Clone, Default)]
pub struct NewSignatureLayer {
    pub payload: Vec<u8>,
    pub base64_signature: String,
    pub certificate_pem: Option<String>,
    pub chain_pem: Option<String>,
    pub rekor_bundle: Option<String>,
}

/// A `.sig` manifest sealift created, with the blobs it references that are new.
#[derive(Debug, Clone)]
pub struct BuiltSigManifest {
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
    pub payload: Vec<u8>,
}

impl BuiltSigManifest {
    pub fn digest(&self) -> Digest {
        Digest::of(&self.manifest)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SigManifestOut<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// Builds a `.sig` manifest holding the layers of `existing` (bytes of the current `.sig`
/// manifest, if any; its layer descriptors are kept with their annotations) plus one new
/// layer. The config mirrors what go-containerregistry writes for cosign (`rootfs.diff_ids`
/// = the layer digests, since simple-signing layers are uncompressed). Deterministic.
pub fn append_signature(
    existing: Option<&[u8]>,
    new: &NewSignatureLayer,
) -> Result<BuiltSigManifest, SignatureSourceError> {
    let mut layers = match existing {
        Some(bytes) => {
            Manifest::parse(bytes, None).map_err(|e| SignatureSourceError::Manifest { reason: e.to_string() })?.0.layers
        }
        None => Vec::new(),
    };
    let mut layer = Descriptor::new(media::COSIGN_SIMPLESIGNING, Digest::of(&new.payload), new.payload.len() as u64);
    layer.annotations.insert(media::ANN_SIGNATURE.into(), new.base64_signature.clone());
    if let Some(cert) = &new.certificate_pem {
        layer.annotations.insert(media::ANN_CERTIFICATE.into(), cert.clone());
        // cosign always writes the chain key next to a certificate, possibly empty.
        layer.annotations.insert(media::ANN_CHAIN.into(), new.chain_pem.clone().unwrap_or_default());
    }
    if let Some(b) = &new.rekor_bundle {
        layer.annotations.insert(media::ANN_BUNDLE.into(), b.clone());
    }
    // Signing the same payload with the same signature twice adds nothing.
    if !layers.iter().any(|l| l.digest == layer.digest && l.annotations == layer.annotations) {
        layers.push(layer);
    }
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    let config = to_canonical_json(&serde_json::json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"diff_ids": diff_ids, "type": "layers"},
    }));
    let out = SigManifestOut {
        schema_version: 2,
        media_type: media::OCI_MANIFEST,
        config: Descriptor::new(media::OCI_CONFIG, Digest::of(&config), config.len() as u64),
        layers,
    };
    Ok(BuiltSigManifest { manifest: to_canonical_json(&out), config, payload: new.payload.clone() })
}

/// `sha256-<hex>.sig`
pub fn sig_tag(d: &Digest) -> String {
    format!("{}.sig", d.tag_prefix())
}
/// `sha256-<hex>.att`
pub fn att_tag(d: &Digest) -> String {
    format!("{}.att", d.tag_prefix())
}
/// `sha256-<hex>.sbom`
pub fn sbom_tag(d: &Digest) -> String {
    format!("{}.sbom", d.tag_prefix())
}
/// `sha256-<hex>`: the OCI referrers tag schema.
pub fn referrers_tag(d: &Digest) -> String {
    d.tag_prefix()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(payload: &[u8], s: &str) -> NewSignatureLayer {
        NewSignatureLayer { payload: payload.to_vec(), base64_signature: s.into(), ..Default::default() }
    }

    #[test]
    fn append_keeps_earlier_layers_and_reads_back() {
        let first = append_signature(None, &sig(b"p1", "c2lnMQ==")).unwrap();
        let mut second_in = sig(b"p2", "c2lnMg==");
        second_in.certificate_pem = Some("CERT".into());
        let second = append_signature(Some(&first.manifest), &second_in).unwrap();
        assert_eq!(append_signature(Some(&first.manifest), &second_in).unwrap().manifest, second.manifest);
        let mut blobs = BTreeMap::new();
        blobs.insert(Digest::of(b"p1"), b"p1".to_vec());
        blobs.insert(Digest::of(b"p2"), b"p2".to_vec());
        let read = signatures_from_sig_manifest_map(&second.manifest, &blobs).unwrap();
        assert_eq!(read.signatures.len(), 2);
        assert_eq!(read.signatures[0].payload, b"p1");
        assert_eq!(read.signatures[0].certificate_pem, None);
        assert_eq!(read.signatures[1].chain_pem.as_deref(), Some(""));
        let text = String::from_utf8(second.manifest.clone()).unwrap();
        assert!(text.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json""#), "{text}");
        // Same layer again: unchanged.
        assert_eq!(append_signature(Some(&second.manifest), &second_in).unwrap().manifest, second.manifest);
    }

    #[test]
    fn payload_digest_checked() {
        let m = append_signature(None, &sig(b"p1", "x")).unwrap();
        let err = signatures_from_sig_manifest(&m.manifest, |_| Some(b"evil".to_vec())).unwrap_err();
        assert!(matches!(err, SignatureSourceError::PayloadDigest { .. }));
    }

    #[test]
    fn download_formats() {
        let der = [0x30u8, 0x03, 0x02, 0x01, 0x01];
        let raw = base64::engine::general_purpose::STANDARD.encode(der);
        let line = format!(
            r#"{{"Base64Signature":"AA==","Payload":"cDE=","Cert":{{"Raw":"{raw}"}},"Chain":[{{"Raw":"{raw}"}}],"Bundle":{{"a":1}},"RFC3161Timestamp":null}}"#
        );
        let two = format!("{line}\n{line}\n");
        let sigs = signatures_from_download(&two).unwrap();
        assert_eq!(sigs.len(), 2);
        assert_eq!(sigs[0].payload, b"p1");
        assert!(sigs[0].certificate_pem.as_deref().unwrap().starts_with("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n"));
        assert_eq!(sigs[0].rekor_bundle.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(signatures_from_download(&format!("[{line},{line}]")).unwrap(), sigs);
        let bad = r#"{"Base64Signature":"AA==","Payload":"not base64!"}"#;
        assert!(matches!(signatures_from_download(bad), Err(SignatureSourceError::Download { line: 1, .. })));
    }

    #[test]
    fn tags() {
        let d = Digest::of(b"");
        assert_eq!(sig_tag(&d), format!("sha256-{}.sig", d.hex()));
        assert_eq!(att_tag(&d), format!("sha256-{}.att", d.hex()));
        assert_eq!(sbom_tag(&d), format!("sha256-{}.sbom", d.hex()));
        assert_eq!(referrers_tag(&d), format!("sha256-{}", d.hex()));
    }
}
