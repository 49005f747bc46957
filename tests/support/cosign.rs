//! cosign-format signatures made without sealift: the simple-signing payload and the `.sig`
//! manifest are written here from the format notes (cosign's layout, not sealift's code),
//! and the signature is made by `openssl dgst`. A format bug shared by sealift's signer
//! and its verifier cannot then make a test pass.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use sealift::oci::Digest;
use serde_json::{json, Value};

use super::{push_blob, push_manifest, run};

/// The simple-signing media type and the cosign annotations, spelt out here on purpose
/// (not taken from sealift's constants).
pub const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// An EC P-256 key pair made by `openssl genpkey` in `dir`.
pub struct OpensslKey {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl OpensslKey {
    pub fn p256(dir: &Path, name: &str) -> OpensslKey {
        super::require_tool("openssl", "openssl");
        let private = dir.join(format!("{name}.key"));
        let public = dir.join(format!("{name}.pub"));
        let openssl = |args: &[&str]| {
            let o = run(Command::new("openssl").args(args), b"");
            assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p(&private)]);
        openssl(&["pkey", "-in", p(&private), "-pubout", "-out", p(&public)]);
        OpensslKey { private, public }
    }

    /// `openssl dgst -sha256 -sign` over exactly `payload`: the base64 DER signature.
    pub fn sign(&self, payload: &[u8]) -> String {
        openssl_sign(&self.private, payload)
    }

    pub fn public_path(&self) -> &str {
        p(&self.public)
    }
}

/// `openssl dgst -sha256 -sign KEY` over exactly `payload` (ECDSA, or RSA PKCS#1 v1.5):
/// the base64 signature.
pub fn openssl_sign(key: &Path, payload: &[u8]) -> String {
    let o = run(Command::new("openssl").args(["dgst", "-sha256", "-sign", p(key)]), payload);
    assert!(o.status.success(), "openssl dgst -sign: {}", String::from_utf8_lossy(&o.stderr));
    base64::engine::general_purpose::STANDARD.encode(o.stdout)
}

fn p(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// The simple-signing payload cosign signs, as the format notes give it (compact JSON as
/// Go writes it, no trailing newline, `optional` null).
pub fn payload(docker_reference: &str, digest: &Digest) -> Vec<u8> {
    assert!(!docker_reference.contains(['"', '\\', '<', '>', '&']), "keep test references plain");
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{docker_reference}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
    )
    .into_bytes()
}

/// What [`push_sig`] pushed: the manifest (exact bytes) and its payload.
#[derive(Clone, Debug)]
pub struct PushedSig {
    pub manifest: Vec<u8>,
    pub digest: Digest,
    pub payload: Vec<u8>,
}

/// The legacy `.sig` manifest for one signature: an OCI image manifest whose one layer is
/// the payload, with the base64 signature as its annotation.
pub fn sig_manifest(payload: &[u8], signature_b64: &str, config: &[u8]) -> Vec<u8> {
    sig_manifest_with_certificate(payload, signature_b64, None, config)
}

/// [`sig_manifest`] with the PEM leaf certificate and chain annotations.
pub fn sig_manifest_with_certificate(
    payload: &[u8],
    signature_b64: &str,
    certificate: Option<(&str, &str)>,
    config: &[u8],
) -> Vec<u8> {
    let mut annotations = json!({SIGNATURE_ANNOTATION: signature_b64});
    if let Some((leaf, chain)) = certificate {
        annotations[CERTIFICATE_ANNOTATION] = leaf.into();
        annotations[CHAIN_ANNOTATION] = chain.into();
    }
    // Fields in the order cosign's Go structs write them (not sorted), compact: a verifier
    // or loader that re-serialized the manifest would change its bytes.
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","size":{},"digest":"{}"}},"layers":[{{"mediaType":"{SIMPLESIGNING}","size":{},"digest":"{}","annotations":{}}}]}}"#,
        config.len(),
        Digest::of(config),
        payload.len(),
        Digest::of(payload),
        annotations
    )
    .into_bytes()
}

/// Signs `subject` (named `docker_reference` in the payload) with `key` and pushes the
/// signature to `repo` at `tag` (normally `sha256-<hex>.sig`), blobs first.
pub fn push_sig(
    addr: &str,
    repo: &str,
    tag: &str,
    docker_reference: &str,
    subject: &Digest,
    key: &OpensslKey,
) -> PushedSig {
    let payload = payload(docker_reference, subject);
    let signature = key.sign(&payload);
    let config = b"{}";
    push_blob(addr, repo, &payload);
    push_blob(addr, repo, config);
    let manifest = sig_manifest(&payload, &signature, config);
    let digest = push_manifest(addr, repo, tag, &manifest, OCI_MANIFEST);
    PushedSig { manifest, digest, payload }
}

/// The `.sig` tag of `subject`, as the format notes give it.
pub fn sig_tag(subject: &Digest, suffix: &str) -> String {
    format!("sha256-{}.{suffix}", subject.hex())
}

/// Parses `bytes` as JSON (for assertion messages on manifests fetched back).
pub fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}
