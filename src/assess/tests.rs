//! Assessments over in-memory bundles with real keys and signatures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use bytes::Bytes;
use chrono::TimeZone;

use super::*;
use crate::content::Entry;
use crate::cosign::{append_signature, simple_signing_payload, NewSignatureLayer};
use crate::oci::{media, Descriptor};
use crate::trust::policy::{Policy, Rule, RuleSpec};
use crate::verify::certs::{generate_key, KeyType};
use crate::verify::crypto::{sign, SignatureAlgorithm};
use crate::verify::{PrivateKey, Rejection};

const REPO: &str = "127.0.0.1:5000/team/app";
const SLSA: &str = "https://slsa.dev/provenance/v1";
const B1_DIGEST: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const B1_SAN: &str =
    "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()
}

/// [`assess`] of `digest` in `repository`, named "ref", at [`now`].
fn assess_at_now(policy: &Policy, repository: &str, digest: &Digest, evidence: &Evidence) -> ImageAssessment {
    assess(policy, &Candidate { repository, reference: "ref", digest, evidence }, now())
}

struct World {
    dir: tempfile::TempDir,
    meta: Metadata,
}

impl World {
    fn new() -> World {
        World { dir: tempfile::tempdir().unwrap(), meta: Metadata::default() }
    }

    fn key(&self, name: &str, kt: KeyType) -> PrivateKey {
        let k = generate_key(kt).unwrap();
        std::fs::write(self.dir.path().join(name), k.public_key().to_pem()).unwrap();
        k
    }

    fn policy(&self, specs: Vec<RuleSpec>) -> Policy {
        let rules = specs
            .into_iter()
            .enumerate()
            .map(|(i, s)| Rule::from_spec(s, i, self.dir.path(), "test").unwrap())
            .collect();
        Policy { source: None, rules }
    }

    fn manifest(&mut self, bytes: Vec<u8>) -> Digest {
        let d = Digest::of(&bytes);
        self.meta.contents.add_manifest(REPO, d.clone(), Bytes::from(bytes), None, true).unwrap();
        d
    }

    fn entry(&mut self, role: Role, digest: &Digest, subject: Option<&Digest>, artifact_type: Option<&str>) {
        let size = self.meta.contents.manifests.get(digest).map_or(0, |m| m.bytes.len() as u64);
        let mut descriptor = Descriptor::new(media::OCI_MANIFEST, digest.clone(), size);
        descriptor.artifact_type = artifact_type.map(str::to_owned);
        self.meta.contents.entries.push(Entry {
            descriptor,
            role,
            repository: REPO.into(),
            tag: (role == Role::Image).then(|| "1.0".into()),
            subject: subject.cloned(),
        });
    }

    /// An image manifest entry (its bytes only need to be unique).
    fn image(&mut self, role: Role, parent: Option<&Digest>) -> Digest {
        let nonce = self.meta.contents.manifests.len();
        let bytes = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[],"annotations":{{"n":"{nonce}"}}}}"#,
            media::OCI_MANIFEST,
            media::OCI_CONFIG,
            Digest::of(b"{}")
        );
        let d = self.manifest(bytes.into_bytes());
        self.entry(role, &d, parent, None);
        d
    }

    /// Appends a signature by `key` for `digest` to its `.sig` manifest.
    fn sign(&mut self, key: &PrivateKey, alg: SignatureAlgorithm, digest: &Digest, docker_reference: &str) {
        let payload = simple_signing_payload(docker_reference, digest, &BTreeMap::new());
        let sig = sign(key, &payload, alg).unwrap();
        let old = self
            .meta
            .contents
            .entries
            .iter()
            .position(|e| e.role == Role::Signature && e.subject.as_ref() == Some(digest));
        let existing =
            old.map(|i| self.meta.contents.manifests[&self.meta.contents.entries[i].descriptor.digest].bytes.clone());
        let built = append_signature(
            existing.as_deref(),
            &NewSignatureLayer { payload: payload.clone(), base64_signature: b64(&sig), ..Default::default() },
        )
        .unwrap();
        self.meta.small.insert(Digest::of(&payload), Bytes::from(payload));
        self.meta.small.insert(Digest::of(&built.config), Bytes::from(built.config.clone()));
        if let Some(i) = old {
            self.meta.contents.entries.remove(i);
        }
        let d = self.manifest(built.manifest);
        self.entry(Role::Signature, &d, Some(digest), None);
    }

    /// Adds a `.att` manifest with one DSSE envelope signed by `key` over a statement
    /// naming `subject_digest`.
    fn attest(&mut self, key: &PrivateKey, predicate: &str, digest: &Digest, subject_digest: &Digest) {
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": REPO, "digest": {"sha256": subject_digest.hex()}}],
            "predicateType": predicate,
            "predicate": {"builder": {"id": "test"}},
        });
        let payload = serde_json::to_vec(&statement).unwrap();
        let pae = crate::verify::dsse::pae("application/vnd.in-toto+json", &payload);
        let sig = sign(key, &pae, SignatureAlgorithm::EcdsaP256Sha256).unwrap();
        let envelope = serde_json::to_vec(&serde_json::json!({
            "payloadType": "application/vnd.in-toto+json",
            "payload": b64(&payload),
            "signatures": [{"keyid": "", "sig": b64(&sig)}],
        }))
        .unwrap();
        let ed = Digest::of(&envelope);
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": media::OCI_CONFIG, "digest": Digest::of(b"{}").to_string(), "size": 2},
            "layers": [{"mediaType": media::DSSE_ENVELOPE, "digest": ed.to_string(), "size": envelope.len(),
                        "annotations": {"predicateType": predicate}}],
        });
        self.meta.small.insert(ed, Bytes::from(envelope));
        let d = self.manifest(serde_json::to_vec(&m).unwrap());
        self.entry(Role::Attestation, &d, Some(digest), None);
    }
}

fn key_rule(keys: &[&str]) -> RuleSpec {
    RuleSpec {
        name: Some("team".into()),
        repositories: vec!["*/team/**".into()],
        keys: keys.iter().map(PathBuf::from).collect(),
        ..Default::default()
    }
}

#[test]
fn key_signature_passes_and_wrong_key_or_moved_signature_do_not() {
    let mut w = World::new();
    let k = w.key("a.pub", KeyType::EcP256);
    let other = w.key("b.pub", KeyType::EcP256);
    let img = w.image(Role::Image, None);
    w.sign(&k, SignatureAlgorithm::EcdsaP256Sha256, &img, REPO);
    let pol = w.policy(vec![key_rule(&["a.pub"])]);
    let ev = evidence_from_bundle(&w.meta, &img);
    assert_eq!((ev.signatures.len(), ev.unreadable.len()), (1, 0));
    assert_eq!(ev.signatures[0].format, Format::LegacySig);
    let a = assess_at_now(&pol, REPO, &img, &ev);
    assert!(a.passed, "{:?}", a.reasons);
    assert_eq!((a.rule.as_deref(), a.distinct_signers), (Some("team"), 1));

    let wrong = w.policy(vec![key_rule(&["b.pub"])]);
    let a = assess_at_now(&wrong, REPO, &img, &ev);
    assert!(!a.passed);
    assert!(a.reasons.iter().any(|r| r.contains("does not verify")), "{:?}", a.reasons);

    // The same signature presented as evidence for another image.
    let img2 = w.image(Role::Image, None);
    let a = assess_at_now(&pol, REPO, &img2, &ev);
    assert_eq!(
        a.signatures[0].report.rejection(),
        Some(&Rejection::DigestMismatch { expected: img2.clone(), found: img.clone() })
    );
    assert!(!a.passed);
    let _ = other;
}

#[test]
fn no_rule_and_reject_rule_refuse_but_still_list_signatures() {
    let mut w = World::new();
    let k = w.key("a.pub", KeyType::EcP256);
    let img = w.image(Role::Image, None);
    w.sign(&k, SignatureAlgorithm::EcdsaP256Sha256, &img, REPO);
    let ev = evidence_from_bundle(&w.meta, &img);
    let pol = w.policy(vec![key_rule(&["a.pub"])]);
    let a = assess_at_now(&pol, "127.0.0.1:5000/other/app", &img, &ev);
    assert_eq!(a.reasons, vec!["no policy rule covers 127.0.0.1:5000/other/app".to_owned()]);
    assert_eq!(a.signatures.len(), 1);
    let reject =
        RuleSpec { name: Some("no".into()), repositories: vec!["**".into()], reject: true, ..Default::default() };
    let pol = w.policy(vec![reject, key_rule(&["a.pub"])]);
    let a = assess_at_now(&pol, REPO, &img, &ev);
    assert!(!a.passed);
    assert_eq!(a.reasons, vec![format!("policy rule \"no\" refuses {REPO}")]);
}

#[test]
fn threshold_counts_distinct_signers() {
    let mut w = World::new();
    let a_key = w.key("a.pub", KeyType::EcP256);
    let b_key = w.key("b.pub", KeyType::Ed25519);
    let img = w.image(Role::Image, None);
    // Two signatures by the same key (ECDSA is randomized: different bytes) count once.
    w.sign(&a_key, SignatureAlgorithm::EcdsaP256Sha256, &img, REPO);
    w.sign(&a_key, SignatureAlgorithm::EcdsaP256Sha256, &img, "other/ref");
    let rule = RuleSpec { threshold: Some(2), ..key_rule(&["a.pub", "b.pub"]) };
    let pol = w.policy(vec![rule]);
    let a = assess_at_now(&pol, REPO, &img, &evidence_from_bundle(&w.meta, &img));
    assert_eq!(a.signatures.len(), 2);
    assert!(a.signatures.iter().all(|s| s.report.is_verified()));
    assert_eq!(a.distinct_signers, 1);
    assert!(!a.passed);
    assert_eq!(a.reasons[0], "1 distinct verified signers, the policy needs 2");
    w.sign(&b_key, SignatureAlgorithm::Ed25519, &img, REPO);
    let a = assess_at_now(&pol, REPO, &img, &evidence_from_bundle(&w.meta, &img));
    assert_eq!((a.distinct_signers, a.passed), (2, true), "{:?}", a.reasons);
}

#[test]
fn algorithm_allow_list_and_docker_reference() {
    let mut w = World::new();
    let rsa = w.key("rsa.pub", KeyType::Rsa2048);
    let img = w.image(Role::Image, None);
    w.sign(&rsa, SignatureAlgorithm::RsaPkcs1Sha256, &img, "elsewhere.example/app");
    let ev = evidence_from_bundle(&w.meta, &img);
    let only_pss = RuleSpec { algorithms: Some(vec!["rsa-pss-sha512".into()]), ..key_rule(&["rsa.pub"]) };
    let a = assess_at_now(&w.policy(vec![only_pss]), REPO, &img, &ev);
    assert_eq!(
        a.signatures[0].report.rejection(),
        Some(&Rejection::AlgorithmNotAllowed { alg: SignatureAlgorithm::RsaPkcs1Sha256 })
    );
    assert!(a.reasons.iter().any(|r| r.contains("rsa-pkcs1-sha256 is not allowed")), "{:?}", a.reasons);
    let check_ref = RuleSpec { check_docker_reference: true, ..key_rule(&["rsa.pub"]) };
    let a = assess_at_now(&w.policy(vec![check_ref]), REPO, &img, &ev);
    assert!(matches!(a.signatures[0].report.rejection(), Some(Rejection::ReferenceMismatch { .. })));
    w.sign(&rsa, SignatureAlgorithm::RsaPssSha512, &img, REPO);
    let both = RuleSpec {
        algorithms: Some(vec!["rsa-pss-sha512".into()]),
        check_docker_reference: true,
        ..key_rule(&["rsa.pub"])
    };
    let a = assess_at_now(&w.policy(vec![both]), REPO, &img, &evidence_from_bundle(&w.meta, &img));
    assert!(a.passed, "{:?}", a.reasons);
    assert_eq!(a.signatures[1].report.algorithm, Some(SignatureAlgorithm::RsaPssSha512));
}

#[test]
fn required_attestations() {
    let mut w = World::new();
    let k = w.key("a.pub", KeyType::EcP256);
    let stranger = generate_key(KeyType::EcP256).unwrap();
    let img = w.image(Role::Image, None);
    w.sign(&k, SignatureAlgorithm::EcdsaP256Sha256, &img, REPO);
    let rule = RuleSpec { require_attestations: vec![SLSA.into()], ..key_rule(&["a.pub"]) };
    let pol = w.policy(vec![rule]);
    let a = assess_at_now(&pol, REPO, &img, &evidence_from_bundle(&w.meta, &img));
    assert_eq!(a.reasons, vec![format!("required attestation {SLSA:?} is missing")]);
    // Signed by a stranger, and one about another image: both present, neither counts.
    w.attest(&stranger, SLSA, &img, &img);
    let other = Digest::of(b"other image");
    w.attest(&k, SLSA, &img, &other);
    let a = assess_at_now(&pol, REPO, &img, &evidence_from_bundle(&w.meta, &img));
    assert!(!a.passed);
    assert_eq!(a.attestations.len(), 2);
    assert!(a.reasons[0].contains("did not verify"), "{:?}", a.reasons);
    assert!(a.attestations[1].reason.as_deref().unwrap().contains("do not include"), "{:?}", a.attestations);
    w.attest(&k, SLSA, &img, &img);
    let a = assess_at_now(&pol, REPO, &img, &evidence_from_bundle(&w.meta, &img));
    assert!(a.passed, "{:?}", a.reasons);
    assert!(a.attestations[2].verified && a.attestations[2].signer.as_deref().unwrap().starts_with("key sha256:"));
}

#[test]
fn platform_entry_is_covered_by_its_signed_index() {
    let mut w = World::new();
    let k = w.key("a.pub", KeyType::EcP256);
    // The child manifest (a platform entry) and its index, which lists it.
    let child = w.image(Role::Platform, None);
    let size = w.meta.contents.manifests[&child].bytes.len();
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX,
        "manifests": [{"mediaType": media::OCI_MANIFEST, "digest": child.to_string(), "size": size,
                       "platform": {"architecture": "arm64", "os": "linux"}}]});
    let idx = w.manifest(serde_json::to_vec(&index).unwrap());
    w.entry(Role::Image, &idx, None, None);
    w.meta.contents.entries[0].subject = Some(idx.clone());
    let pol = w.policy(vec![key_rule(&["a.pub"])]);
    let results = assess_bundle(&w.meta, &pol, now(), Names::Unsealed);
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|(_, a)| !a.passed));
    w.sign(&k, SignatureAlgorithm::EcdsaP256Sha256, &idx, REPO);
    let results = assess_bundle(&w.meta, &pol, now(), Names::Unsealed);
    let (i, platform) = &results[0];
    assert_eq!(*i, 0);
    assert!(platform.passed, "{:?} {:?}", platform.reasons, platform.notes);
    assert_eq!(platform.covered_by.as_ref(), Some(&idx));
    assert!(platform.notes[0].contains("covered by the verified signatures of its index"));
    assert!(results[1].1.passed && results[1].1.covered_by.is_none());
    // An index that does not list the child covers nothing.
    let mut w2 = World::new();
    let k2 = w2.key("a.pub", KeyType::EcP256);
    let child = w2.image(Role::Platform, None);
    let idx = w2.manifest(
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": []}))
            .unwrap(),
    );
    w2.entry(Role::Image, &idx, None, None);
    w2.meta.contents.entries[0].subject = Some(idx.clone());
    w2.sign(&k2, SignatureAlgorithm::EcdsaP256Sha256, &idx, REPO);
    let pol = w2.policy(vec![key_rule(&["a.pub"])]);
    let results = assess_bundle(&w2.meta, &pol, now(), Names::Unsealed);
    assert!(!results[0].1.passed);
    assert!(results[0].1.notes[0].contains("does not list"), "{:?}", results[0].1.notes);
    let _ = child;
}

#[test]
fn sigstore_bundle_referrer_b1_verifies_for_its_real_digest() {
    let mut w = World::new();
    let b1 = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign-real/sigstore-rs/bundle-v03/bundle_v03.json"),
    )
    .unwrap();
    let digest: Digest = B1_DIGEST.parse().unwrap();
    let ld = Digest::of(&b1);
    let m = serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
        "artifactType": media::SIGSTORE_BUNDLE_V03,
        "config": {"mediaType": media::OCI_EMPTY, "digest": Digest::of(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": media::SIGSTORE_BUNDLE_V03, "digest": ld.to_string(), "size": b1.len()}],
        "subject": {"mediaType": media::OCI_MANIFEST, "digest": B1_DIGEST, "size": 1000},
        "annotations": {"dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"}});
    w.meta.small.insert(ld, Bytes::from(b1));
    let rd = w.manifest(serde_json::to_vec(&m).unwrap());
    w.entry(Role::Referrer, &rd, Some(&digest), Some(media::SIGSTORE_BUNDLE_V03));
    let ev = evidence_from_bundle(&w.meta, &digest);
    assert_eq!(ev.signatures.len(), 1);
    assert_eq!(ev.signatures[0].format, Format::SigstoreBundle);
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign-real/sigstore-root-signing/trusted_root.json");
    let rule = RuleSpec {
        repositories: vec!["**".into()],
        trusted_root: Some(root),
        identities: vec![crate::trust::policy::IdentitySpec {
            identity: Some(B1_SAN.into()),
            issuer: Some("https://token.actions.githubusercontent.com".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let pol = w.policy(vec![rule]);
    let a = assess_at_now(&pol, "ghcr.io/kubewarden/kubewarden-controller", &digest, &ev);
    assert!(a.passed, "{:?}", a.reasons);
    let j = report::signature_json(&a.signatures[0]);
    assert_eq!(
        (j.verdict, j.format, j.time_source, j.rekor),
        ("verified", "sigstore-bundle", Some("rekor"), "verified")
    );
    assert_eq!(j.identity, vec![B1_SAN.to_owned()]);
    assert_eq!(j.chain.len(), 3);
    assert!(j.chain.iter().all(|c| c.valid_at_trusted_time == Some(true)));
    // Its checks: a Rekor v1 entry with SET and inclusion proof, the SCT, the timestamp.
    assert_eq!(
        j.checks.to_string(),
        "signature passed, subject passed, certificate_chain passed, identity passed, rekor_set passed, inclusion_proof passed, checkpoint passed, tlog_body passed, sct passed, timestamp passed"
    );
    // Evidence for another repository under a key-only rule: present, never a pass.
    let _k = w.key("a.pub", KeyType::EcP256);
    let a = assess_at_now(&w.policy(vec![key_rule(&["a.pub"])]), "x/team/y", &digest, &ev);
    assert!(!a.passed);
    assert!(a.reasons.iter().any(|r| r.contains("sigstore-bundle")), "{:?}", a.reasons);
}

/// A referrer's artifactType names a bundle version exactly: the same bundle under an
/// unknown version (a prefix match would take it) is reported unreadable, never verified.
#[test]
fn sigstore_bundle_artifact_types_are_matched_exactly() {
    let b1 = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign-real/sigstore-rs/bundle-v03/bundle_v03.json"),
    )
    .unwrap();
    let digest: Digest = B1_DIGEST.parse().unwrap();
    for (at, known) in [
        (media::SIGSTORE_BUNDLE_V03, true),
        ("application/vnd.dev.sigstore.bundle+json;version=0.3", true),
        ("application/vnd.dev.sigstore.bundle+json;version=99.9", false),
        ("application/vnd.dev.sigstore.bundle.v0.3+jsonx", false),
    ] {
        let mut w = World::new();
        let ld = Digest::of(&b1);
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST, "artifactType": at,
            "config": {"mediaType": media::OCI_EMPTY, "digest": Digest::of(b"{}").to_string(), "size": 2},
            "layers": [{"mediaType": at, "digest": ld.to_string(), "size": b1.len()}],
            "subject": {"mediaType": media::OCI_MANIFEST, "digest": B1_DIGEST, "size": 1000}});
        w.meta.small.insert(ld, Bytes::from(b1.clone()));
        let rd = w.manifest(serde_json::to_vec(&m).unwrap());
        w.entry(Role::Referrer, &rd, Some(&digest), Some(at));
        let ev = evidence_from_bundle(&w.meta, &digest);
        assert_eq!(ev.signatures.len(), usize::from(known), "{at}");
        assert_eq!(ev.unreadable.len(), usize::from(!known), "{at}: {:?}", ev.unreadable);
        if !known {
            assert!(ev.unreadable[0].1.contains("not a version sealift verifies"), "{:?}", ev.unreadable);
        }
    }
}

#[test]
fn unreadable_attachments_are_reported() {
    let mut w = World::new();
    let k = w.key("a.pub", KeyType::EcP256);
    let img = w.image(Role::Image, None);
    w.sign(&k, SignatureAlgorithm::EcdsaP256Sha256, &img, REPO);
    // Replace the payload with other bytes: the layer digest no longer matches.
    let payload = simple_signing_payload(REPO, &img, &BTreeMap::new());
    w.meta.small.insert(Digest::of(&payload), Bytes::from_static(b"evil"));
    let ev = evidence_from_bundle(&w.meta, &img);
    assert_eq!(ev.signatures.len(), 0);
    assert!(ev.unreadable[0].1.contains("hashes to"), "{:?}", ev.unreadable);
    let a = assess_at_now(&w.policy(vec![key_rule(&["a.pub"])]), REPO, &img, &ev);
    assert!(!a.passed);
    assert_eq!(a.reasons[0], "no signatures found");
    assert!(a.reasons[1].starts_with("attachment "), "{:?}", a.reasons);
}

/// An attestation signed with a certificate, under a policy that trusts only keys, is
/// refused for the real reason (no certificate trust), not as a bad signature.
#[test]
fn certificate_attestation_under_a_keys_only_policy_names_the_missing_trust() {
    use crate::verify::certs::{generate_pki, KeyType};
    let pki =
        generate_pki(KeyType::EcP256, "att signer", vec!["email:a@example.com".parse().unwrap()], 1, now().timestamp())
            .unwrap();
    let img = Digest::of(b"image");
    let statement = serde_json::json!({"_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": REPO, "digest": {"sha256": img.hex()}}], "predicateType": SLSA, "predicate": {}});
    let payload = serde_json::to_vec(&statement).unwrap();
    let pae = crate::verify::dsse::pae("application/vnd.in-toto+json", &payload);
    let sig = sign(&pki.leaf_key, &pae, SignatureAlgorithm::EcdsaP256Sha256).unwrap();
    let envelope = serde_json::to_vec(&serde_json::json!({"payloadType": "application/vnd.in-toto+json",
        "payload": b64(&payload), "signatures": [{"keyid": "", "sig": b64(&sig)}]}))
    .unwrap();
    let att = FoundAttestation {
        holder: Digest::of(b"att"),
        predicate_type: Some(SLSA.into()),
        envelope,
        certificate_pem: Some(String::from_utf8(pki.leaf.to_pem().unwrap()).unwrap()),
        chain_pem: None,
        rekor_bundle: None,
    };
    let mut policy = crate::verify::TrustPolicy::new(now());
    policy.keys.push(generate_key(KeyType::EcP256).unwrap().public_key());
    let a = attest::assess_attestation(&policy, &att, &img);
    assert!(!a.verified);
    assert_eq!(a.reason.as_deref(), Some(crate::verify::Rejection::NoCertificateTrust.to_string().as_str()));
}

/// Issue 7, section 2: a name the bundle's editor could have chosen does not choose a
/// weaker rule. prod covers `127.0.0.1:5000/**` (prod key), dev covers `dev.corp:5000/**`
/// (dev key); both put `team/app` at the same target path.
#[test]
fn an_unauthenticated_name_must_satisfy_every_rule_covering_its_target_path() {
    let rules = |w: &World| {
        w.policy(vec![
            RuleSpec {
                name: Some("prod".into()),
                repositories: vec!["127.0.0.1:5000/**".into()],
                keys: vec!["prod.pub".into()],
                ..Default::default()
            },
            RuleSpec {
                name: Some("dev".into()),
                repositories: vec!["dev.corp:5000/**".into()],
                keys: vec!["dev.pub".into()],
                ..Default::default()
            },
        ])
    };
    const DEV_REPO: &str = "dev.corp:5000/team/app";
    let relabelled = |signed_as: &str, keys: &[&str]| {
        let mut w = World::new();
        let prod = w.key("prod.pub", KeyType::EcP256);
        let dev = w.key("dev.pub", KeyType::EcP256);
        let img = w.image(Role::Image, None);
        for k in keys {
            let key = if *k == "prod" { &prod } else { &dev };
            w.sign(key, SignatureAlgorithm::EcdsaP256Sha256, &img, signed_as);
        }
        w.meta.contents.entries[0].repository = DEV_REPO.into();
        w
    };

    // Signed by dev only, as the prod image it was: relabelled into dev's scope, refused.
    let w = relabelled(REPO, &["dev"]);
    let pol = rules(&w);
    let a = &assess_bundle(&w.meta, &pol, now(), Names::Unsealed)[0].1;
    assert!(!a.passed);
    assert_eq!(a.rule.as_deref(), Some("dev"));
    assert!(a.reasons.iter().any(|r| r.contains("not authenticated") && r.contains("\"prod\"")), "{:?}", a.reasons);
    // A verified seal authenticates the name.
    assert!(assess_bundle(&w.meta, &pol, now(), Names::Sealed)[0].1.passed);
    // The same for a manifest verify --bundle names by digest (a child of a listed index).
    let digest = w.meta.contents.entries[0].descriptor.digest.clone();
    assert!(!assess_listed(&w.meta, &pol, now(), Names::Unsealed, DEV_REPO, &digest).passed);
    assert!(assess_listed(&w.meta, &pol, now(), Names::Sealed, DEV_REPO, &digest).passed);

    // Signed by dev under the dev name: the signed docker-reference authenticates it.
    let w = relabelled(DEV_REPO, &["dev"]);
    let a = &assess_bundle(&w.meta, &rules(&w), now(), Names::Unsealed)[0].1;
    assert!(a.passed, "{:?}", a.reasons);
    assert!(a.notes.iter().any(|n| n.contains("docker-reference")), "{:?}", a.notes);

    // Signed by both keys: satisfies every rule that could cover the path.
    let w = relabelled(REPO, &["dev", "prod"]);
    let a = &assess_bundle(&w.meta, &rules(&w), now(), Names::Unsealed)[0].1;
    assert!(a.passed, "{:?}", a.reasons);
    assert!(a.notes.iter().any(|n| n.contains("also satisfies rule \"prod\"")), "{:?}", a.notes);

    // A name no rule covers does not escape the rules that cover its path.
    let mut w = relabelled(REPO, &[]);
    w.meta.contents.entries[0].repository = "nowhere.corp/team/app".into();
    let a = &assess_bundle(&w.meta, &rules(&w), now(), Names::Unsealed)[0].1;
    assert!(!a.passed);
    assert_eq!(a.rule.as_deref(), Some("prod"), "so that --allow-unsigned does not apply");

    // First match wins: a catch-all after a rule taking team/** from every host guards nothing.
    let w = relabelled(REPO, &["dev"]);
    let pol = w.policy(vec![
        RuleSpec {
            name: Some("team".into()),
            repositories: vec!["*/team/**".into()],
            keys: vec!["dev.pub".into()],
            ..Default::default()
        },
        RuleSpec { name: Some("rest".into()), repositories: vec!["**".into()], reject: true, ..Default::default() },
    ]);
    let a = &assess_bundle(&w.meta, &pol, now(), Names::Unsealed)[0].1;
    assert!(a.passed, "{:?}", a.reasons);
}
