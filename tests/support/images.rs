//! Builds test images in a plain-http registry through [`Raw`]: blobs by POST + PUT
//! `?digest=`, manifests by PUT with their media type.

use sealift::oci::{media, Digest};

use super::http::Raw;

/// What [`random_image`] pushed.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// The exact manifest bytes pushed.
    pub manifest: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
    /// (digest, size) of the config blob.
    pub config: (Digest, u64),
    /// (digest, size) of each layer, in manifest order.
    pub layers: Vec<(Digest, u64)>,
}

impl ImageInfo {
    /// `addr/repo@digest`.
    pub fn reference(&self, addr: &str, repo: &str) -> String {
        format!("{addr}/{repo}@{}", self.digest)
    }
}

/// `n` bytes from the kernel's random source.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).expect("reading /dev/urandom");
    buf
}

/// Pushes a blob (no auth) and returns its digest and size.
pub fn push_blob(addr: &str, repo: &str, bytes: &[u8]) -> (Digest, u64) {
    push_blob_with(&Raw::new(addr), repo, bytes)
}

pub(crate) fn push_blob_with(raw: &Raw, repo: &str, bytes: &[u8]) -> (Digest, u64) {
    let digest = Digest::of(bytes);
    let r = raw.expect(&[202], "POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"");
    let location = r.header("location").expect("upload POST answered without Location").to_owned();
    // Location may be absolute (distribution 2.8 answers http://host/...) and carries a query.
    let path = match location.find("/v2/") {
        Some(i) => location[i..].to_owned(),
        None => panic!("unexpected upload Location {location:?}"),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    raw.expect(
        &[201],
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        bytes,
    );
    (digest, bytes.len() as u64)
}

/// Pushes manifest `bytes` under `reference` (tag or digest) with `media_type` as Content-Type.
pub fn push_manifest(addr: &str, repo: &str, reference: &str, bytes: &[u8], media_type: &str) -> Digest {
    push_manifest_with(&Raw::new(addr), repo, reference, bytes, media_type)
}

pub(crate) fn push_manifest_with(raw: &Raw, repo: &str, reference: &str, bytes: &[u8], media_type: &str) -> Digest {
    let r =
        raw.expect(&[201], "PUT", &format!("/v2/{repo}/manifests/{reference}"), &[("Content-Type", media_type)], bytes);
    let digest = Digest::of(bytes);
    if let Some(d) = r.header("docker-content-digest") {
        assert_eq!(d, digest.to_string(), "registry computed another digest for the manifest");
    }
    digest
}

/// Pushes a config and random layers of `layer_sizes` bytes, then an OCI image manifest
/// tagged `tag`.
pub fn random_image(addr: &str, repo: &str, tag: &str, layer_sizes: &[usize]) -> ImageInfo {
    random_image_with(&Raw::new(addr), repo, tag, layer_sizes)
}

pub(crate) fn random_image_with(raw: &Raw, repo: &str, tag: &str, layer_sizes: &[usize]) -> ImageInfo {
    let layers: Vec<(Digest, u64)> = layer_sizes.iter().map(|&n| push_blob_with(raw, repo, &random_bytes(n))).collect();
    let diff_ids: Vec<String> = layers.iter().map(|(d, _)| format!("\"{d}\"")).collect();
    // The nonce makes every config (hence every image) distinct even without layers.
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":[{}]}},"sealift.test.nonce":"{}"}}"#,
        diff_ids.join(","),
        hex::encode(random_bytes(8))
    );
    let config = push_blob_with(raw, repo, config.as_bytes());
    let layer_json: Vec<String> = layers
        .iter()
        .map(|(d, s)| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{s}}}"#))
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":{}}},"layers":[{}]}}"#,
        media::OCI_MANIFEST,
        media::OCI_CONFIG,
        config.0,
        config.1,
        layer_json.join(",")
    )
    .into_bytes();
    let digest = push_manifest_with(raw, repo, tag, &manifest, media::OCI_MANIFEST);
    ImageInfo { manifest, digest, media_type: media::OCI_MANIFEST.to_owned(), config, layers }
}

impl Raw {
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> (Digest, u64) {
        push_blob_with(self, repo, bytes)
    }
    pub fn push_manifest(&self, repo: &str, reference: &str, bytes: &[u8], media_type: &str) -> Digest {
        push_manifest_with(self, repo, reference, bytes, media_type)
    }
    pub fn random_image(&self, repo: &str, tag: &str, layer_sizes: &[usize]) -> ImageInfo {
        random_image_with(self, repo, tag, layer_sizes)
    }
}
