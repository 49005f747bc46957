//! Media types and annotation keys sealift reads and writes (see docs/formats.md).

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Every manifest media type sealift accepts, sent as the Accept list on every manifest GET.
pub const MANIFEST_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

pub const COSIGN_SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const COSIGN_SIG_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const SIGSTORE_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

pub const ANN_REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const ANN_CREATED: &str = "org.opencontainers.image.created";
pub const ANN_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
pub const ANN_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
pub const ANN_CHAIN: &str = "dev.sigstore.cosign/chain";
pub const ANN_BUNDLE: &str = "dev.sigstore.cosign/bundle";
pub const ANN_RFC3161: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// cosign's `kind` annotation in `cosign save` layouts.
pub const ANN_COSIGN_KIND: &str = "kind";
pub const KIND_IMAGE: &str = "dev.cosignproject.cosign/image";
pub const KIND_IMAGE_INDEX: &str = "dev.cosignproject.cosign/imageIndex";
pub const KIND_SIGS: &str = "dev.cosignproject.cosign/sigs";
pub const KIND_ATTS: &str = "dev.cosignproject.cosign/atts";

/// sealift's own annotations on `index.json` entries.
pub const ANN_SEALIFT_ROLE: &str = "dev.sealift.role";
pub const ANN_SEALIFT_SUBJECT: &str = "dev.sealift.subject";
pub const ANN_SEALIFT_REPOSITORY: &str = "dev.sealift.repository";
pub const ANN_SEALIFT_TAG: &str = "dev.sealift.tag";
pub const ANN_SEALIFT_PARTIAL: &str = "dev.sealift.partial-index";

pub fn is_manifest(media_type: &str) -> bool {
    MANIFEST_TYPES.contains(&media_type)
}

pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}
