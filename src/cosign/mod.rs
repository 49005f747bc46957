//! cosign artefacts without trust: the simple-signing payload, untrusted signatures read
//! from `.sig` manifests or `cosign download signature`, `.sig` manifest building and tag
//! names. Judging them is `crate::verify`'s job.

pub mod payload;
pub mod signature;

pub use payload::{parse_payload, simple_signing_payload, PayloadError, SimpleSigning};
pub use signature::{
    append_signature, att_tag, referrers_tag, sbom_tag, sig_tag, signatures_from_download,
    signatures_from_sig_manifest, signatures_from_sig_manifest_map, BuiltSigManifest, NewSignatureLayer,
    SigManifestSignatures, SignatureSourceError, SkippedLayer, UntrustedSignature,
};
