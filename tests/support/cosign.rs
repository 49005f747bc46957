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

/// A three-level PKI made by the `openssl` command line (not by sealift): `ca.crt` (root),
/// `sub.crt` (intermediate), `leaf.crt` + `leaf.key` (EC P-256, code signing, one SAN) and
/// `certificate_chain.pem` (intermediate then root, cosign's order), the file names that
/// `sealift certs create` writes, so either can stand in for the other.
pub struct OpensslPki {
    pub dir: PathBuf,
}

impl OpensslPki {
    /// Creates the PKI in `dir` (created if absent); `san` is an openssl SAN such as
    /// `email:signer@example.com` or `URI:https://ci.example/build`; the CNs start with `cn`.
    pub fn create(dir: &Path, cn: &str, san: &str) -> OpensslPki {
        super::require_tool("openssl", "openssl");
        std::fs::create_dir_all(dir).expect("creating the PKI directory");
        let f = |n: &str| dir.join(n).to_str().expect("temp paths are UTF-8").to_owned();
        std::fs::write(
            f("ext.cnf"),
            format!(
                "[req]\ndistinguished_name = dn\n[dn]\n[root]\nbasicConstraints = critical, CA:TRUE, pathlen:1\nkeyUsage = critical, keyCertSign, cRLSign\n\
                 subjectKeyIdentifier = hash\n\
                 [sub]\nbasicConstraints = critical, CA:TRUE, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\n\
                 subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n\
                 [leaf]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
                 extendedKeyUsage = codeSigning\nsubjectAltName = {san}\n\
                 subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n"
            ),
        )
        .expect("writing the openssl extension file");
        let openssl = |args: &[&str]| {
            let o = run(Command::new("openssl").args(args), b"");
            assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        for k in ["ca", "sub", "leaf"] {
            openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &f(&format!("{k}.key")),
            ]);
        }
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            &f("ca.key"),
            "-subj",
            &format!("/CN={cn} Root CA"),
            "-days",
            "30",
            "-sha256",
            "-extensions",
            "root",
            "-config",
            &f("ext.cnf"),
            "-out",
            &f("ca.crt"),
        ]);
        let issue = |name: &str, subject: &str, issuer: &str, section: &str| {
            openssl(&[
                "req",
                "-new",
                "-key",
                &f(&format!("{name}.key")),
                "-subj",
                subject,
                "-out",
                &f(&format!("{name}.csr")),
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &f(&format!("{name}.csr")),
                "-CA",
                &f(&format!("{issuer}.crt")),
                "-CAkey",
                &f(&format!("{issuer}.key")),
                "-CAcreateserial",
                "-days",
                "30",
                "-sha256",
                "-extfile",
                &f("ext.cnf"),
                "-extensions",
                section,
                "-out",
                &f(&format!("{name}.crt")),
            ]);
        };
        issue("sub", &format!("/CN={cn} Intermediate CA"), "ca", "sub");
        issue("leaf", &format!("/CN={cn}"), "sub", "leaf");
        let chain = std::fs::read_to_string(f("sub.crt")).unwrap() + &std::fs::read_to_string(f("ca.crt")).unwrap();
        std::fs::write(f("certificate_chain.pem"), chain).expect("writing the chain");
        OpensslPki { dir: dir.to_owned() }
    }

    /// A file of the PKI (`ca.crt`, `leaf.key`, …) as a string path.
    pub fn path(&self, name: &str) -> String {
        p(&self.dir.join(name)).to_owned()
    }

    /// The leaf certificate and chain PEM, as the `.sig` annotations carry them.
    pub fn leaf_and_chain(&self) -> (String, String) {
        let read = |n: &str| std::fs::read_to_string(self.dir.join(n)).expect("reading the PKI");
        (read("leaf.crt"), read("certificate_chain.pem"))
    }

    /// `openssl dgst -sha256 -sign leaf.key` over exactly `payload`: the base64 signature.
    pub fn sign(&self, payload: &[u8]) -> String {
        openssl_sign(&self.dir.join("leaf.key"), payload)
    }
}

/// Pushes a one-signature `.sig` manifest for `subject` to `repo` at its `.sig` tag, with
/// the given payload and base64 signature (made by openssl) and optionally a leaf
/// certificate and chain: payload and config first, then the manifest, written here from
/// the format notes.
pub fn push_signed_payload(
    addr: &str,
    repo: &str,
    subject: &Digest,
    payload: &[u8],
    signature_b64: &str,
    certificate: Option<(&str, &str)>,
) -> PushedSig {
    let config = b"{}";
    push_blob(addr, repo, payload);
    push_blob(addr, repo, config);
    let manifest = sig_manifest_with_certificate(payload, signature_b64, certificate, config);
    let digest = push_manifest(addr, repo, &sig_tag(subject, "sig"), &manifest, OCI_MANIFEST);
    PushedSig { manifest, digest, payload: payload.to_vec() }
}

/// One signature of a `.sig` manifest, as a reader that is not sealift sees it: the layer
/// blob fetched over plain HTTP and hashed with `sha2` here, the annotations read as the
/// format notes name them.
#[derive(Clone, Debug)]
pub struct ReadSignature {
    pub media_type: String,
    pub payload: Vec<u8>,
    /// The decoded signature (line wraps in the annotation ignored, as the notes say).
    pub signature: Vec<u8>,
    pub certificate: Option<String>,
    pub chain: Option<String>,
}

/// Reads the `.sig` manifest of `subject` in `addr/repo` with `skopeo inspect --raw`, and
/// each layer's blob with a plain GET; checks each blob's size and SHA-256 against its
/// descriptor. Returns the manifest (parsed) and its signatures, in layer order.
pub fn read_sig(addr: &str, repo: &str, subject: &Digest) -> (Value, Vec<ReadSignature>) {
    use sha2::Digest as _;
    let raw = super::skopeo_inspect_raw(&format!("{addr}/{repo}:{}", sig_tag(subject, "sig")));
    let manifest = json_of(&raw);
    assert_eq!(manifest["schemaVersion"], 2, "{manifest:#}");
    assert_eq!(manifest["mediaType"], OCI_MANIFEST, "{manifest:#}");
    assert_eq!(manifest["config"]["mediaType"], OCI_CONFIG, "{manifest:#}");
    let mut out = Vec::new();
    for layer in manifest["layers"].as_array().expect("a .sig manifest has layers") {
        let digest = layer["digest"].as_str().expect("a layer digest");
        let r = super::Raw::new(addr).expect(&[200], "GET", &format!("/v2/{repo}/blobs/{digest}"), &[], b"");
        let hex: String = sha2::Sha256::digest(&r.body).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(format!("sha256:{hex}"), digest, "the blob's SHA-256 is its descriptor's digest");
        assert_eq!(layer["size"].as_u64(), Some(r.body.len() as u64), "the blob's size is its descriptor's");
        let ann = &layer["annotations"];
        let sig_b64: String = ann[SIGNATURE_ANNOTATION].as_str().expect("a signature annotation").replace('\n', "");
        let signature = base64::engine::general_purpose::STANDARD.decode(sig_b64).expect("the signature is base64");
        out.push(ReadSignature {
            media_type: layer["mediaType"].as_str().unwrap_or("").to_owned(),
            payload: r.body,
            signature,
            certificate: ann[CERTIFICATE_ANNOTATION].as_str().map(str::to_owned),
            chain: ann[CHAIN_ANNOTATION].as_str().map(str::to_owned),
        });
    }
    (manifest, out)
}

/// The simple-signing payload with `optional` annotations, as the format notes give it: an
/// object with sorted keys (plain values only: no characters Go would escape).
pub fn payload_with_annotations(docker_reference: &str, digest: &Digest, annotations: &[(&str, &str)]) -> Vec<u8> {
    let base = String::from_utf8(payload(docker_reference, digest)).unwrap();
    if annotations.is_empty() {
        return base.into_bytes();
    }
    let map: std::collections::BTreeMap<&str, &str> = annotations.iter().copied().collect();
    assert!(map.iter().all(|(k, v)| !format!("{k}{v}").contains(['"', '\\', '<', '>', '&'])), "keep them plain");
    base.replace(r#""optional":null"#, &format!(r#""optional":{}"#, serde_json::to_string(&map).unwrap())).into_bytes()
}

/// The digest algorithm of an `openssl dgst -verify` check (Ed25519 has none: `pkeyutl`).
#[derive(Clone, Copy, Debug)]
pub enum OpensslCheck {
    Sha256,
    Sha384,
    /// RSA-PSS with SHA-512, salt length recovered from the signature.
    PssSha512,
    Ed25519,
}

/// Whether `signature` verifies over exactly `payload` under the public key of the PEM
/// certificate `certificate`, by the `openssl` command line (files in `dir`).
pub fn openssl_verifies(dir: &Path, certificate: &str, check: OpensslCheck, payload: &[u8], signature: &[u8]) -> bool {
    let n = super::random_bytes(4).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let f = |s: &str| dir.join(format!("check-{n}.{s}")).to_str().unwrap().to_owned();
    std::fs::write(f("crt"), certificate).unwrap();
    std::fs::write(f("payload"), payload).unwrap();
    std::fs::write(f("sig"), signature).unwrap();
    let o = run(Command::new("openssl").args(["x509", "-pubkey", "-noout", "-in", &f("crt")]), b"");
    assert!(o.status.success(), "openssl x509 -pubkey: {}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(f("pub"), o.stdout).unwrap();
    let (pubkey, sig, data) = (f("pub"), f("sig"), f("payload"));
    let args: Vec<&str> = match check {
        OpensslCheck::Sha256 => vec!["dgst", "-sha256", "-verify", &pubkey, "-signature", &sig, &data],
        OpensslCheck::Sha384 => vec!["dgst", "-sha384", "-verify", &pubkey, "-signature", &sig, &data],
        OpensslCheck::PssSha512 => vec![
            "dgst",
            "-sha512",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:auto",
            "-verify",
            &pubkey,
            "-signature",
            &sig,
            &data,
        ],
        OpensslCheck::Ed25519 => {
            vec!["pkeyutl", "-verify", "-pubin", "-inkey", &pubkey, "-rawin", "-in", &data, "-sigfile", &sig]
        }
    };
    let o = run(Command::new("openssl").args(&args), b"");
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() == (said.contains("Verified OK") || said.contains("Signature Verified Successfully")),
        "openssl {args:?} said {said} with {:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o.status.success()
}

/// Whether `openssl verify -x509_strict` accepts the PEM `leaf` under the root in `ca_file`,
/// with the certificates of `chain` as untrusted intermediates (its last element, a root,
/// is not trusted for coming from the chain).
pub fn openssl_chain_verifies(dir: &Path, ca_file: &str, leaf: &str, chain: &str) -> bool {
    let n = super::random_bytes(4).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let f = |s: &str| dir.join(format!("chain-{n}.{s}")).to_str().unwrap().to_owned();
    std::fs::write(f("leaf"), leaf).unwrap();
    std::fs::write(f("chain"), chain).unwrap();
    let o = run(
        Command::new("openssl").args([
            "verify",
            "-x509_strict",
            "-CAfile",
            ca_file,
            "-untrusted",
            &f("chain"),
            &f("leaf"),
        ]),
        b"",
    );
    o.status.success() && String::from_utf8_lossy(&o.stdout).contains(": OK")
}

/// The subject alternative names of a PEM certificate, as `openssl x509 -ext` prints them
/// (`email:a@b.example`, `URI:https://…`).
pub fn openssl_sans(certificate: &str) -> String {
    let o = run(Command::new("openssl").args(["x509", "-noout", "-ext", "subjectAltName"]), certificate.as_bytes());
    assert!(o.status.success(), "openssl x509 -ext: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}
