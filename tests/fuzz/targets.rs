//! The fuzz targets: one per parser of untrusted input, each with its seeds (the real
//! corpus in tests/data, or documents built the way sealift builds them) and the call
//! that must never panic, hang or allocate without bound, whatever the bytes.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sealift::assess::{attest::assess_attestation, FoundAttestation};
use sealift::bundle::{names, BundleReader, BundleWriter, Compression, Entry};
use sealift::content::Contents;
use sealift::cosign::{parse_payload, signatures_from_sig_manifest, UntrustedSignature};
use sealift::inventory::{self, BlobRef, Inventory, Repository};
use sealift::oci::{media, Descriptor, Digest, Index, Manifest};
use sealift::seal::{self, SealIndex, SealSigner, SealTrust};
use sealift::trust::policy::Policy;
use sealift::verify::certs::{generate_key, KeyType};
use sealift::verify::sigstore_bundle::{verify_sigstore, Subject};
use sealift::verify::{der, path::ParsedCert, x509, PrivateKey, TrustAnchor, TrustPolicy};

/// Re-encodes a compressed input: `decode` undoes the compression (`None` if the input
/// is not a whole stream), `encode` redoes it. Lets mutations reach the tar inside.
pub struct Codec {
    pub decode: fn(&[u8]) -> Option<Vec<u8>>,
    pub encode: fn(&[u8]) -> Vec<u8>,
}

pub struct Target {
    pub name: &'static str,
    /// The parser, fed one input.
    pub run: fn(&[u8]),
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Whether JSON-aware mutations apply.
    pub json: bool,
    pub codec: Option<Codec>,
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "tar",
        run: read_bundle,
        seeds: || bundle_seeds(Compression::None),
        json: false,
        codec: Some(Codec { decode: |b| Some(b.to_vec()), encode: tar_checksums }),
    },
    Target {
        name: "tar-zstd",
        run: read_bundle,
        seeds: || bundle_seeds(Compression::Zstd),
        json: false,
        codec: Some(Codec { decode: unzstd, encode: zstd_encode }),
    },
    Target {
        name: "tar-gzip",
        run: read_bundle,
        seeds: || bundle_seeds(Compression::Gzip),
        json: false,
        codec: Some(Codec { decode: ungzip, encode: gzip_encode }),
    },
    Target { name: "index-json", run: index_json, seeds: index_seeds, json: true, codec: None },
    Target { name: "manifest", run: manifest, seeds: manifest_seeds, json: true, codec: None },
    Target { name: "simple-signing", run: payload, seeds: payload_seeds, json: true, codec: None },
    Target { name: "sigstore-bundle", run: sigstore_bundle, seeds: sigstore_seeds, json: true, codec: None },
    Target { name: "dsse", run: dsse, seeds: dsse_seeds, json: true, codec: None },
    Target { name: "der", run: der_cert, seeds: der_seeds, json: false, codec: None },
    Target { name: "cert-annotations", run: cert_annotations, seeds: annotation_seeds, json: false, codec: None },
    Target { name: "seal", run: seal_docs, seeds: seal_seeds, json: true, codec: None },
    Target { name: "policy-toml", run: policy_toml, seeds: policy_seeds, json: false, codec: None },
    Target { name: "inventory", run: inventory_json, seeds: inventory_seeds, json: true, codec: None },
    // Beyond the issue's list: the other binary formats a Sigstore bundle carries.
    Target { name: "rfc3161", run: rfc3161, seeds: rfc3161_seeds, json: false, codec: None },
    Target { name: "checkpoint", run: checkpoint, seeds: checkpoint_seeds, json: false, codec: None },
    Target { name: "inclusion-proof", run: inclusion_proof, seeds: inclusion_seeds, json: false, codec: None },
];

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(data(rel)).unwrap_or_else(|e| panic!("seed {rel}: {e}"))
}

/// Every file called `name` under tests/data/`dir`, sorted.
fn find(dir: &str, name: &str) -> Vec<Vec<u8>> {
    fn walk(p: &Path, name: &str, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, name, out);
            } else if p.file_name().is_some_and(|n| n == name) {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&data(dir), name, &mut paths);
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

// ---- tar reader (plain, zstd, gzip) ----

fn read_bundle(input: &[u8]) {
    let Ok(mut reader) = BundleReader::from_reader(Cursor::new(input.to_vec())) else { return };
    let Ok(mut entries) = reader.entries() else { return };
    let mut n = 0u32;
    while let Ok(Some(entry)) = entries.next_entry() {
        if let Entry::Blob(mut b) = entry {
            // Alternate between reading a blob and skipping it: both must verify it.
            if n % 2 == 0 {
                let _ = b.read_to_vec(1 << 20);
            } else {
                let _ = b.verify();
            }
        }
        n += 1;
    }
}

fn bundle_seeds(c: Compression) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let (index, blobs) = sample_image();
    let mut out = Vec::new();
    for (i, sealed) in [false, true].into_iter().enumerate() {
        let path = dir.path().join(format!("b{i}.tar"));
        let mut w = BundleWriter::create(&path, c).unwrap();
        w.add_file(names::OCI_LAYOUT, names::OCI_LAYOUT_BYTES).unwrap();
        w.add_file(names::INDEX_JSON, &index).unwrap();
        if sealed {
            let (idx, sig) = seal_pair();
            w.add_file(names::SEAL_INDEX, &idx).unwrap();
            w.add_file(names::SEAL_SIG, &sig).unwrap();
        }
        for (d, b) in &blobs {
            w.add_blob_bytes(d, b).unwrap();
        }
        w.finish().unwrap();
        out.push(std::fs::read(&path).unwrap());
    }
    out
}

/// A small image: a config, one layer, the manifest, and an index naming it.
fn sample_image() -> (Vec<u8>, Vec<(Digest, Vec<u8>)>) {
    let layer = b"layer bytes, not even a tar: the bundle reader does not look inside".to_vec();
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let desc = |mt: &str, b: &[u8]| Descriptor::new(mt, Digest::of(b), b.len() as u64);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": desc(media::OCI_CONFIG, &config),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar", &layer)],
    }))
    .unwrap();
    let mut md = desc(media::OCI_MANIFEST, &manifest);
    md.annotations.insert(media::ANN_REF_NAME.into(), "v1".into());
    let index = serde_json::to_vec(&Index::new(vec![md])).unwrap();
    let blobs = [manifest, config, layer].into_iter().map(|b| (Digest::of(&b), b)).collect();
    (index, blobs)
}

/// Recomputes the checksum of every 512-byte block that carries the ustar magic, so that
/// a mutated header reaches the checks behind its checksum (sizes, names, types, PAX).
fn tar_checksums(b: &[u8]) -> Vec<u8> {
    let mut v = b.to_vec();
    for block in v.chunks_exact_mut(512) {
        if &block[257..262] == b"ustar" {
            block[148..156].fill(b' ');
            let sum: u32 = block.iter().map(|&x| u32::from(x)).sum();
            block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        }
    }
    v
}

fn unzstd(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    zstd::Decoder::new(b).ok()?.take(4 << 20).read_to_end(&mut out).ok()?;
    Some(out)
}

fn zstd_encode(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(&tar_checksums(b)[..], 1).unwrap()
}

fn ungzip(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(b).take(4 << 20).read_to_end(&mut out).ok()?;
    Some(out)
}

fn gzip_encode(b: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_checksums(b)).unwrap();
    gz.finish().unwrap()
}

// ---- index.json, manifests, referrers indexes ----

fn index_json(input: &[u8]) {
    let _ = Contents::parse_index(input);
}

fn index_seeds() -> Vec<Vec<u8>> {
    let (index, _) = sample_image();
    let mut out = vec![index];
    out.extend(manifest_seeds().into_iter().filter(|m| m.windows(11).any(|w| w == b"\"manifests\"")));
    out
}

fn manifest(input: &[u8]) {
    let _ = Manifest::parse(input, None);
    let _ = Manifest::parse(input, Some(media::OCI_MANIFEST));
    let _ = Manifest::parse(input, Some(media::OCI_INDEX));
    // As a cosign `.sig` manifest whose layers all resolve to the same payload.
    let _ = signatures_from_sig_manifest(input, |_| Some(b"{}".to_vec()));
}

fn manifest_seeds() -> Vec<Vec<u8>> {
    let mut out = find("cosign-real", "manifest.json");
    let (_, blobs) = sample_image();
    out.push(blobs[0].1.clone());
    let subject = Descriptor::new(media::OCI_MANIFEST, blobs[0].0.clone(), blobs[0].1.len() as u64);
    let mut referrer = Descriptor::new(media::OCI_MANIFEST, Digest::of(b"r"), 1);
    referrer.annotations.insert("org.opencontainers.image.created".into(), "2026-01-01T00:00:00Z".into());
    // A referrers index (the referrers API answer and the tag-schema tag) and an artifact
    // manifest with a subject.
    out.push(
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media::OCI_INDEX,
            "manifests": [{ "mediaType": media::OCI_MANIFEST, "digest": referrer.digest, "size": 1,
                            "artifactType": "application/spdx+json", "annotations": referrer.annotations }],
        }))
        .unwrap(),
    );
    out.push(
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media::OCI_MANIFEST, "artifactType": "application/spdx+json",
            "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::of(b"{}"), "size": 2 },
            "layers": [{ "mediaType": "application/spdx+json", "digest": Digest::of(b"x"), "size": 1 }],
            "subject": subject,
        }))
        .unwrap(),
    );
    out
}

// ---- simple-signing payload ----

fn payload(input: &[u8]) {
    let _ = parse_payload(input);
}

fn payload_seeds() -> Vec<Vec<u8>> {
    find("cosign-real", "payload.bin")
}

// ---- Sigstore bundle, DSSE envelope ----

fn conformance_policy() -> &'static TrustPolicy {
    static P: OnceLock<TrustPolicy> = OnceLock::new();
    P.get_or_init(|| {
        let root = read("sigstore-conformance/production_trusted_root.json");
        let mut p = sealift::trust::parse_trusted_root(&root)
            .unwrap()
            .into_policy(chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap());
        p.allow_any_identity = true;
        p
    })
}

fn sigstore_bundle(input: &[u8]) {
    let artifact = b"hello, world!\n";
    let _ = verify_sigstore(conformance_policy(), input, Subject::Artifact(artifact));
    let _ = verify_sigstore(conformance_policy(), input, Subject::Image(&Digest::of(artifact)));
}

fn sigstore_seeds() -> Vec<Vec<u8>> {
    find("sigstore-conformance", "bundle.sigstore.json")
}

fn dsse(input: &[u8]) {
    static P: OnceLock<TrustPolicy> = OnceLock::new();
    let policy = P.get_or_init(|| {
        let mut p = conformance_policy().clone();
        p.keys.push(fuzz_key().public_key());
        p
    });
    let att = FoundAttestation {
        holder: Digest::of(b"holder"),
        predicate_type: Some("https://slsa.dev/provenance/v1".into()),
        envelope: input.to_vec(),
        certificate_pem: None,
        chain_pem: None,
        rekor_bundle: None,
    };
    let _ = assess_attestation(policy, &att, &Digest::of(b"image"));
}

fn dsse_seeds() -> Vec<Vec<u8>> {
    sigstore_seeds()
        .iter()
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(b).ok()?.get("dsseEnvelope").cloned())
        .map(|e| serde_json::to_vec(&e).unwrap())
        .collect()
}

// ---- DER reader for Fulcio extensions ----

fn der_cert(input: &[u8]) {
    if let Ok(exts) = der::extensions(input) {
        for e in exts {
            let _ = der::subject_alt_names(e.value);
            let _ = der::extended_key_usage(e.value);
            let _ = der::utf8_string(e.value);
            let _ = e.value;
        }
    }
    if let Ok(cert) = openssl::x509::X509::from_der(input) {
        let _ = x509::leaf_identity(&cert);
        let _ = ParsedCert::parse(&cert);
    }
    let _ = openssl::error::ErrorStack::get();
}

fn pem_certs(pem: &[u8]) -> Vec<openssl::x509::X509> {
    openssl::x509::X509::stack_from_pem(pem).unwrap_or_default()
}

fn all_pems() -> Vec<Vec<u8>> {
    let mut pems = Vec::new();
    for f in std::fs::read_dir(data("cosign-testdata")).unwrap().flatten() {
        if f.path().extension().is_some_and(|e| e == "pem") {
            pems.push(std::fs::read(f.path()).unwrap());
        }
    }
    pems.extend(find("cosign-real", "cert.pem"));
    pems.extend(find("cosign-real", "chain.pem"));
    pems.push(read("cosign-real/sigstore-root-signing/fulcio_v1.crt.pem"));
    pems.push(read("cosign-real/sigstore-root-signing/fulcio_intermediate_v1.crt.pem"));
    pems
}

fn der_seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = all_pems().iter().flat_map(|p| pem_certs(p)).map(|c| c.to_der().unwrap()).collect();
    out.sort();
    out.dedup();
    out
}

// ---- certificate and chain PEM annotations (with the Rekor bundle annotation) ----

/// The fixture a `cert-annotations` input is grafted onto, and the policy trusting its root.
struct Fixture {
    payload: Vec<u8>,
    signature: String,
    policy: TrustPolicy,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = "cosign-real/containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1";
        let mut policy = TrustPolicy::new(chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap());
        for pem in [
            read("cosign-real/sigstore-root-signing/fulcio_v1.crt.pem"),
            read(&format!("{dir}/chain.pem")),
            read("cosign-testdata/test_attach_rootcert.pem"),
        ] {
            for c in pem_certs(&pem) {
                policy.roots.push(TrustAnchor::from(c));
            }
        }
        let rekor = read("cosign-real/sigstore-root-signing/rekor.pub");
        policy.rekor_keys.push(sealift::verify::crypto::load_public_key(&rekor, "rekor.pub").unwrap());
        policy.allow_any_identity = true;
        Fixture {
            payload: read(&format!("{dir}/payload.bin")),
            signature: String::from_utf8(read(&format!("{dir}/signature.b64"))).unwrap(),
            policy,
        }
    })
}

/// An input is `certificate PEM \0 chain PEM \0 Rekor bundle JSON` (later parts optional).
fn cert_annotations(input: &[u8]) {
    let f = fixture();
    let mut parts = input.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned());
    let sig = UntrustedSignature {
        payload: f.payload.clone(),
        base64_signature: f.signature.clone(),
        certificate_pem: parts.next(),
        chain_pem: parts.next(),
        rekor_bundle: parts.next(),
        rfc3161: None,
        media_type: media::COSIGN_SIMPLESIGNING.into(),
    };
    let _ = sealift::verify::verify_signature(&f.policy, &sig, &Digest::of(b"image"));
    let _ = openssl::error::ErrorStack::get();
}

fn annotation_seeds() -> Vec<Vec<u8>> {
    let dir = "cosign-real/containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1";
    let join = |parts: &[Vec<u8>]| parts.join(&0u8);
    vec![
        join(&[
            read(&format!("{dir}/cert.pem")),
            read(&format!("{dir}/chain.pem")),
            read(&format!("{dir}/bundle.json")),
        ]),
        join(&[read("cosign-testdata/test_attach_leafcert.pem"), read("cosign-testdata/test_attach_certchain.pem")]),
        join(&[
            read("cosign-testdata/test_attach_second_leafcert.pem"),
            read("cosign-testdata/test_attach_second_certchain.pem"),
        ]),
    ]
}

// ---- seal documents ----

fn fuzz_key() -> &'static PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    K.get_or_init(|| generate_key(KeyType::EcP256).unwrap())
}

fn signer() -> SealSigner {
    SealSigner { key: PrivateKey(fuzz_key().0.clone()), algorithm: None, certificate_pem: None, chain_pem: None }
}

/// A seal index (for an empty bundle) and its signature document.
fn seal_pair() -> (Vec<u8>, Vec<u8>) {
    let idx = SealIndex::build(&Contents::default(), b"{}", "2026-01-01T00:00:00Z".into()).to_bytes();
    let sig = seal::sign(&idx, &signer()).unwrap();
    (idx, sig)
}

/// Each input is tried twice: as `sealift-index.json` signed by the trusted key (so the
/// strict parse behind the signature runs), and as the `.sig` document of a good index.
fn seal_docs(input: &[u8]) {
    static T: OnceLock<SealTrust> = OnceLock::new();
    let trust = T.get_or_init(|| {
        let mut t = SealTrust { keys: vec![fuzz_key().public_key()], ..SealTrust::default() };
        t.roots = fixture().policy.roots.clone();
        t
    });
    let contents = Contents::default();
    let sig = seal::sign(input, &signer()).unwrap();
    let as_index = BTreeMap::from([(names::SEAL_INDEX.to_owned(), input.to_vec()), (names::SEAL_SIG.to_owned(), sig)]);
    let _ = seal::verify_seal(&as_index, b"{}", &contents, &[], Some(trust), 1_795_000_000);
    let (idx, _) = seal_pair();
    let as_sig = BTreeMap::from([(names::SEAL_INDEX.to_owned(), idx), (names::SEAL_SIG.to_owned(), input.to_vec())]);
    let _ = seal::verify_seal(&as_sig, b"{}", &contents, &[], Some(trust), 1_795_000_000);
    let _ = openssl::error::ErrorStack::get();
}

fn seal_seeds() -> Vec<Vec<u8>> {
    let (idx, sig) = seal_pair();
    let dir = "cosign-real/containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1";
    let cert_doc = serde_json::to_vec(&BTreeMap::from([
        (media::ANN_SIGNATURE, String::from_utf8(read(&format!("{dir}/signature.b64"))).unwrap()),
        (media::ANN_CERTIFICATE, String::from_utf8(read(&format!("{dir}/cert.pem"))).unwrap()),
        (media::ANN_CHAIN, String::from_utf8(read(&format!("{dir}/chain.pem"))).unwrap()),
    ]))
    .unwrap();
    vec![idx, sig, cert_doc]
}

// ---- policy TOML ----

/// The directory the policy's relative paths resolve against: it holds the files the
/// seeds name, so a parse gets past reading them.
fn policy_dir() -> &'static Path {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("trusted.pub"), fuzz_key().public_key().to_pem()).unwrap();
        std::fs::create_dir(d.path().join("pki")).unwrap();
        std::fs::write(d.path().join("pki/ca.crt"), read("cosign-testdata/test_attach_rootcert.pem")).unwrap();
        d
    })
    .path()
}

fn policy_toml(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else { return };
    if let Ok(p) = Policy::parse(text, &policy_dir().join("policy.toml")) {
        let _ = p.rule_for("registry.example/team/app");
    }
}

fn policy_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"version = 1
[[rule]]
name = "site"
repositories = ["**"]
keys = ["trusted.pub"]
ca_roots = ["pki/ca.crt"]
identities = [{ identity_regexp = "@sealift\\.local$" }]
algorithms = ["ecdsa-p256-sha256"]
"#
        .to_vec(),
        br#"version = 1

[[rule]]
name = "prod"
repositories = ["127.0.0.1:5000/**", "*/mirror/**"]
keys = ["trusted.pub"]
threshold = 1

[[rule]]
name = "fulcio"
repositories = ["**"]
ca_roots = ["pki/ca.crt"]
identities = [{ identity = "dev@sealift.local", issuer = "https://issuer.example" }]
"#
        .to_vec(),
    ]
}

// ---- inventory JSON ----

fn inventory_json(input: &[u8]) {
    let _ = inventory::verify("inventory.json", input, None, None, 0);
}

fn inventory_seeds() -> Vec<Vec<u8>> {
    let (index, blobs) = sample_image();
    let manifest = &blobs[0];
    let repo = Repository {
        name: "mirror/team/app".into(),
        tags: BTreeMap::from([("v1".to_owned(), manifest.0.clone())]),
        manifests: vec![inventory::ManifestRef {
            digest: manifest.0.clone(),
            media_type: media::OCI_MANIFEST.into(),
            size: manifest.1.len() as u64,
        }],
        blobs: blobs[1..].iter().map(|(d, b)| BlobRef { digest: d.clone(), size: b.len() as u64 }).collect(),
    };
    let _ = index;
    vec![Inventory::new("127.0.0.1:5000", "mirror", "2026-01-01T00:00:00Z".into(), vec![repo]).to_bytes()]
}

// ---- RFC 3161 timestamps, checkpoints, inclusion proofs (from Sigstore bundles) ----

/// Every value at `path` (object keys; arrays are walked) in every conformance bundle.
fn bundle_values(path: &[&str]) -> Vec<serde_json::Value> {
    fn walk(v: &serde_json::Value, path: &[&str], out: &mut Vec<serde_json::Value>) {
        match (v, path.split_first()) {
            (serde_json::Value::Array(a), _) => a.iter().for_each(|c| walk(c, path, out)),
            (_, None) => out.push(v.clone()),
            (_, Some((k, rest))) => {
                if let Some(c) = v.get(*k) {
                    walk(c, rest, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    for b in sigstore_seeds() {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b) {
            walk(&v, path, &mut out);
        }
    }
    out
}

fn b64(v: &serde_json::Value) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(v.as_str()?).ok()
}

fn rfc3161(input: &[u8]) {
    let tsas = &conformance_policy().timestamp_authorities;
    let _ = sealift::verify::timestamp::verify_timestamp(input, b"signed bytes", tsas);
    let _ = openssl::error::ErrorStack::get();
}

fn rfc3161_seeds() -> Vec<Vec<u8>> {
    bundle_values(&["verificationMaterial", "timestampVerificationData", "rfc3161Timestamps", "signedTimestamp"])
        .iter()
        .filter_map(b64)
        .collect()
}

fn checkpoint(input: &[u8]) {
    if let Ok(text) = std::str::from_utf8(input) {
        let _ = sealift::verify::tlog::parse_checkpoint(text);
    }
}

fn checkpoint_seeds() -> Vec<Vec<u8>> {
    bundle_values(&["verificationMaterial", "tlogEntries", "inclusionProof", "checkpoint", "envelope"])
        .iter()
        .filter_map(|v| Some(v.as_str()?.as_bytes().to_vec()))
        .collect()
}

/// An input is `index (8 bytes LE) | tree size (8) | leaf hash (32) | proof hashes (32 each)`.
fn inclusion_proof(input: &[u8]) {
    if input.len() < 48 {
        return;
    }
    let index = u64::from_le_bytes(input[0..8].try_into().unwrap());
    let size = u64::from_le_bytes(input[8..16].try_into().unwrap());
    let leaf: [u8; 32] = input[16..48].try_into().unwrap();
    let proof: Vec<[u8; 32]> = input[48..].chunks_exact(32).map(|c| c.try_into().unwrap()).collect();
    let _ = sealift::verify::tlog::root_from_inclusion_proof(index, size, leaf, &proof);
}

fn inclusion_seeds() -> Vec<Vec<u8>> {
    bundle_values(&["verificationMaterial", "tlogEntries", "inclusionProof"])
        .iter()
        .filter_map(|p| {
            let num = |k: &str| p.get(k)?.as_str()?.parse::<u64>().ok();
            let mut out = num("logIndex")?.to_le_bytes().to_vec();
            out.extend(num("treeSize")?.to_le_bytes());
            out.extend(b64(p.get("rootHash")?)?);
            for h in p.get("hashes")?.as_array()? {
                out.extend(b64(h)?);
            }
            Some(out)
        })
        .collect()
}
