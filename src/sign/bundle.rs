//! cosign v3's `--new-bundle-format` image signatures: a Sigstore bundle v0.3 holding a
//! DSSE envelope over an in-toto statement (predicate `https://sigstore.dev/cosign/sign/v1`,
//! subject = the image digest), stored as an OCI 1.1 referrer of the image, as cosign's
//! `WriteAttestationNewBundleFormat` (pkg/oci/remote/write.go) writes it: artifactType and
//! layer media type `application/vnd.dev.sigstore.bundle.v0.3+json`, the empty config
//! `application/vnd.oci.empty.v1+json` (`{}`), annotations `dev.sigstore.bundle.content:
//! dsse-envelope`, `dev.sigstore.bundle.predicateType` and `org.opencontainers.image.created`.
//! Where the registry has no referrers API the referrer is also listed in the referrers
//! tag-schema index.
//!
//! No transparency log and no timestamp authority are used (private infrastructure): the
//! bundle's `tlogEntries` is empty, which is what cosign's `verify --private-infrastructure`
//! (or `--insecure-ignore-tlog`) accepts, with `--key`, or `--certificate-chain`/`--ca-roots`
//! for a certificate. The statement bytes are those of cosign v3 (fixture B1): compact,
//! `_type`, `subject` (`digest`, `annotations`), `predicateType`, no predicate.

use base64::Engine as _;
use bytes::Bytes;

use super::SignError;
use crate::oci::{media, Descriptor, Digest, Reference};
use crate::registry::Registry;
use crate::verify::dsse::pae;

/// The DSSE payload type of an in-toto statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The in-toto statement cosign v3 signs for an image: exact bytes.
pub fn statement(digest: &Digest, annotations: &std::collections::BTreeMap<String, String>) -> Vec<u8> {
    let annotations = serde_json::to_string(annotations).expect("a string map serializes");
    format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{}"}},"annotations":{annotations}}}],"predicateType":"{}"}}"#,
        digest.hex(),
        crate::verify::sigstore_bundle::COSIGN_SIGN_PREDICATE
    )
    .into_bytes()
}

/// The bytes a DSSE signature over `statement` covers.
pub fn signed_bytes(statement: &[u8]) -> Vec<u8> {
    pae(INTOTO_PAYLOAD_TYPE, statement)
}

/// `verificationMaterial.publicKey.hint` for a key: the standard base64 (padded) of the
/// SHA-256 of its DER SubjectPublicKeyInfo, as cosign v3 writes it
/// (`internal/key/svkeypair.go`: `x509.MarshalPKIXPublicKey`, `sha256.Sum256`,
/// `base64.StdEncoding`), which is also sigstore-go's `EphemeralKeypair` default. The DER
/// must be the SPKI form even when the key was given as PKCS#1 or inside a certificate.
pub fn key_hint(spki_der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(openssl::sha::sha256(spki_der))
}

/// Who verifies the bundle's signature.
pub enum BundleSigner<'a> {
    /// A key: `publicKey.hint` is [`key_hint`] of its DER SPKI.
    Key { spki_der: &'a [u8] },
    /// A certificate (DER) and, when a chain file was given, the intermediates to carry
    /// with it (DER, see [`bundle_intermediates`]). Without a chain file:
    /// `certificate.rawBytes`, the v0.3 form of BUNDLE_SPEC. With one:
    /// `x509CertificateChain.certificates` = leaf then intermediates (the leaf alone when
    /// the chain holds only the root), as cosign writes a v0.3 bundle for
    /// `--certificate-chain` since sigstore/cosign#4614 (sigstore-go's
    /// `CertificateChainProvider`); its verifier accepts that only with
    /// `--allow-certificate-chain`.
    Certificate { der: &'a [u8], intermediates: Option<&'a [Vec<u8>]> },
}

/// The certificates of a `--certificate-chain` file to carry in a bundle after the leaf
/// `leaf_der`: each in file order, minus the leaf itself and minus self-signed (root)
/// certificates, as cosign's `localCertChainProvider` (pkg/cosign/bundle/sign.go) keeps
/// them; protobuf-specs' `X509CertificateChain` must not hold a root.
pub fn bundle_intermediates(leaf_der: &[u8], chain_pem: &str) -> Result<Vec<Vec<u8>>, SignError> {
    let bad = || SignError::Certificate { what: "certificate chain".to_owned() };
    let certs = openssl::x509::X509::stack_from_pem(chain_pem.as_bytes()).map_err(|_| bad())?;
    let mut out = Vec::new();
    for c in certs {
        let der = c.to_der().map_err(|_| bad())?;
        let self_signed = c.issued(&c) == openssl::x509::X509VerifyResult::OK
            && c.public_key().is_ok_and(|k| c.verify(&k).unwrap_or(false));
        if der != leaf_der && !self_signed {
            out.push(der);
        }
    }
    let _ = openssl::error::ErrorStack::get();
    Ok(out)
}

/// The v0.3 bundle JSON, fields in the order sigstore-go's protojson writes them.
pub fn bundle_json(statement: &[u8], signature: &[u8], signer: &BundleSigner<'_>) -> Vec<u8> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let material = match signer {
        BundleSigner::Key { spki_der } => {
            format!(r#"{{"publicKey":{{"hint":"{}"}}}}"#, key_hint(spki_der))
        }
        BundleSigner::Certificate { der, intermediates: None } => {
            format!(r#"{{"certificate":{{"rawBytes":"{}"}}}}"#, b64(der))
        }
        BundleSigner::Certificate { der, intermediates: Some(intermediates) } => {
            let certs: Vec<String> = std::iter::once(*der)
                .chain(intermediates.iter().map(Vec::as_slice))
                .map(|c| format!(r#"{{"rawBytes":"{}"}}"#, b64(c)))
                .collect();
            format!(r#"{{"x509CertificateChain":{{"certificates":[{}]}}}}"#, certs.join(","))
        }
    };
    format!(
        r#"{{"mediaType":"{}","verificationMaterial":{material},"dsseEnvelope":{{"payload":"{}","payloadType":"{INTOTO_PAYLOAD_TYPE}","signatures":[{{"sig":"{}"}}]}}}}"#,
        media::SIGSTORE_BUNDLE_V03,
        b64(statement),
        b64(signature)
    )
    .into_bytes()
}

/// The referrer manifest of `subject` holding `bundle` (cosign's shape), created at
/// `created` (RFC 3339).
pub fn referrer_manifest(bundle: &[u8], subject: &Descriptor, created: &str) -> Vec<u8> {
    let empty = Digest::of(b"{}");
    let subject_json = serde_json::json!({
        "mediaType": subject.media_type, "size": subject.size, "digest": subject.digest.to_string()});
    let annotations = serde_json::json!({
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": crate::verify::sigstore_bundle::COSIGN_SIGN_PREDICATE,
        "org.opencontainers.image.created": created,
    });
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","size":2,"digest":"{empty}"}},"layers":[{{"mediaType":"{}","size":{},"digest":"{}"}}],"annotations":{annotations},"subject":{subject_json},"artifactType":"{}"}}"#,
        media::OCI_MANIFEST,
        media::OCI_EMPTY,
        media::SIGSTORE_BUNDLE_V03,
        bundle.len(),
        Digest::of(bundle),
        media::SIGSTORE_BUNDLE_V03,
    )
    .into_bytes()
}

/// What [`push_bundle_referrer`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedReferrer {
    /// `host/repo@sha256:…`
    pub reference: String,
    pub manifest_digest: Digest,
    /// Whether the referrers tag-schema index was written (no referrers API).
    pub tag_index: bool,
}

/// Pushes the bundle and the empty config, then the referrer manifest by digest, then
/// (without a referrers API) adds it to the tag-schema index of the image.
pub async fn push_bundle_referrer(
    registry: &Registry,
    repo: &str,
    bundle: &[u8],
    manifest: &[u8],
    subject: &Digest,
) -> Result<PushedReferrer, SignError> {
    for blob in [bundle, b"{}".as_slice()] {
        let digest = Digest::of(blob);
        if registry.blob_exists(repo, &digest).await?.is_none() {
            registry.put_blob_bytes(repo, &digest, Bytes::copy_from_slice(blob)).await?;
        }
    }
    let digest = Digest::of(manifest);
    let manifest_digest = registry.put_manifest(repo, &digest.to_string(), manifest, media::OCI_MANIFEST).await?;
    let tag_index = !registry.has_referrers_api(repo).await?;
    if tag_index {
        let mut d = Descriptor::new(media::OCI_MANIFEST, manifest_digest.clone(), manifest.len() as u64);
        d.artifact_type = Some(media::SIGSTORE_BUNDLE_V03.to_owned());
        registry.add_referrer_to_tag_index(repo, subject, d).await?;
    }
    let reference = format!("{}/{repo}@{manifest_digest}", registry.host());
    Ok(PushedReferrer { reference, manifest_digest, tag_index })
}

/// Stores `bundle` as a referrer of `digest` in `reference`'s repository, in cosign's
/// manifest shape, created at `created` (RFC 3339): what `sign --new-bundle-format` and
/// `attach signature` both push.
pub async fn attach_bundle(
    registry: &Registry,
    reference: &Reference,
    digest: &Digest,
    bundle: &[u8],
    created: &str,
) -> Result<PushedReferrer, SignError> {
    let subject = subject_descriptor(registry, reference, digest).await?;
    let manifest = referrer_manifest(bundle, &subject, created);
    push_bundle_referrer(registry, &reference.repository, bundle, &manifest, digest).await
}

/// The subject descriptor of `digest` in `reference`'s repository, as the registry
/// serves it (media type and size).
pub async fn subject_descriptor(
    registry: &Registry,
    reference: &Reference,
    digest: &Digest,
) -> Result<Descriptor, SignError> {
    match registry.head_manifest(&reference.repository, &digest.to_string()).await? {
        Some((_, media_type, size)) => Ok(Descriptor::new(media_type, digest.clone(), size)),
        None => Err(SignError::ImageNotFound { reference: reference.with_digest(digest.clone()).to_string() }),
    }
}
