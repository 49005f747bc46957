//! Admission without a registry: in-memory bundles with real keys and signatures, one
//! test per rule of src/transfer/admit (entry checks for each role, the seal, partial,
//! --allow-unsigned, --insecure-skip-verify, platform bundles, attachments following
//! their subject, and the plan taking only what was admitted).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::content::Entry;
use crate::cosign::{append_signature, simple_signing_payload, NewSignatureLayer};
use crate::oci::{media, Descriptor, Digest};
use crate::seal::SealTrust;
use crate::transfer::plan::{Destination, Plan};
use crate::trust::policy::{Policy, Rule, RuleSpec};
use crate::verify::certs::{generate_key, KeyType};
use crate::verify::crypto::{sign, SignatureAlgorithm};
use crate::verify::PrivateKey;

const REPO: &str = "127.0.0.1:5000/team/app";
const OTHER: &str = "127.0.0.1:5000/team/other";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()
}

struct World {
    dir: tempfile::TempDir,
    meta: Metadata,
    key: PrivateKey,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(KeyType::EcP256).unwrap();
        std::fs::write(dir.path().join("a.pub"), key.public_key().to_pem()).unwrap();
        World { dir, meta: Metadata::default(), key }
    }

    fn policy(&self) -> Policy {
        let spec = RuleSpec {
            name: Some("team".into()),
            repositories: vec!["*/team/**".into()],
            keys: vec![PathBuf::from("a.pub")],
            ..Default::default()
        };
        Policy { source: None, rules: vec![Rule::from_spec(spec, 0, self.dir.path(), "test").unwrap()] }
    }

    fn manifest(&mut self, value: serde_json::Value) -> Digest {
        let bytes = serde_json::to_vec(&value).unwrap();
        let d = Digest::of(&bytes);
        self.meta.contents.add_manifest(REPO, d.clone(), Bytes::from(bytes), None, true).unwrap();
        d
    }

    fn push(&mut self, role: Role, digest: &Digest, repo: &str, tag: Option<&str>, subject: Option<&Digest>) -> usize {
        let m = &self.meta.contents.manifests[digest];
        let descriptor = Descriptor::new(m.media_type.clone(), digest.clone(), m.bytes.len() as u64);
        self.meta.contents.entries.push(Entry {
            descriptor,
            role,
            repository: repo.into(),
            tag: tag.map(str::to_owned),
            subject: subject.cloned(),
        });
        self.meta.contents.entries.len() - 1
    }

    /// An image manifest (unique by `n`), listed as `role` in `repo`.
    fn image(&mut self, n: &str, repo: &str, tag: Option<&str>) -> Digest {
        let d = self.image_bytes(n);
        self.push(Role::Image, &d, repo, tag, None);
        d
    }

    fn image_bytes(&mut self, n: &str) -> Digest {
        let layer = Digest::of(n.as_bytes());
        self.manifest(json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
            "config": {"mediaType": media::OCI_CONFIG, "digest": Digest::of(b"{}").to_string(), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.to_string(), "size": n.len()}]}))
    }

    /// A `.sig` manifest signed with the world's key for `digest`, attached in `repo`.
    fn sign(&mut self, digest: &Digest, repo: &str) -> Digest {
        let payload = simple_signing_payload(REPO, digest, &BTreeMap::new());
        let sig = sign(&self.key, &payload, SignatureAlgorithm::EcdsaP256Sha256).unwrap();
        let layer = NewSignatureLayer {
            payload: payload.clone(),
            base64_signature: base64::engine::general_purpose::STANDARD.encode(sig),
            ..Default::default()
        };
        let built = append_signature(None, &layer).unwrap();
        self.meta.small.insert(Digest::of(&payload), Bytes::from(payload));
        self.meta.small.insert(Digest::of(&built.config), Bytes::from(built.config.clone()));
        let bytes = built.manifest;
        let d = Digest::of(&bytes);
        self.meta.contents.add_manifest(repo, d.clone(), Bytes::from(bytes), None, true).unwrap();
        self.push(Role::Signature, &d, repo, None, Some(digest));
        d
    }

    /// A referrer manifest whose own subject is `subject`, carrying `layer_type` layers.
    fn referrer_bytes(&mut self, subject: &Digest, layer_type: &str) -> Digest {
        let size = self.meta.contents.manifests[subject].bytes.len();
        self.manifest(json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
            "artifactType": "application/example",
            "config": {"mediaType": media::OCI_EMPTY, "digest": Digest::of(b"{}").to_string(), "size": 2},
            "layers": [{"mediaType": layer_type, "digest": Digest::of(b"x").to_string(), "size": 1}],
            "subject": {"mediaType": media::OCI_MANIFEST, "digest": subject.to_string(), "size": size}}))
    }

    fn admit(&self, judge: Judge<'_>, options: AdmitOptions) -> Result<Admitted, Refusal> {
        admit(&self.meta, None, judge, options, now())
    }
}

fn strict() -> AdmitOptions {
    AdmitOptions::default()
}

// ---- entry checks, per role ----

#[test]
fn legacy_attachment_tags_are_derived_and_a_different_claim_is_refused() {
    for (role, suffix, layer) in [
        (Role::Signature, "sig", media::COSIGN_SIMPLESIGNING),
        (Role::Attestation, "att", media::DSSE_ENVELOPE),
        (Role::Sbom, "sbom", "text/spdx+json"),
    ] {
        let mut w = World::new();
        let d1 = w.image("app", REPO, Some("1.0"));
        let att = w.referrer_bytes(&d1, layer);
        let i = w.push(role, &att, REPO, None, Some(&d1));
        check_entries(&mut w.meta.contents).unwrap();
        assert_eq!(w.meta.contents.entries[i].tag.as_deref(), Some(format!("{}.{suffix}", d1.tag_prefix()).as_str()));

        w.meta.contents.entries[i].tag = Some("1.0".into());
        let err = check_entries(&mut w.meta.contents).unwrap_err();
        assert!(matches!(&err, EntryError::TagMismatch { claimed, .. } if claimed == "1.0"), "{role:?}: {err}");
        assert!(err.to_string().contains(&att.to_string()), "{err}");
    }
}

#[test]
fn an_image_manifest_is_not_a_signature_attestation_or_sbom() {
    for role in [Role::Signature, Role::Attestation, Role::Sbom] {
        let mut w = World::new();
        let d1 = w.image("app", REPO, Some("1.0"));
        let evil = w.image_bytes("evil");
        w.push(role, &evil, REPO, None, Some(&d1));
        let err = check_entries(&mut w.meta.contents).unwrap_err();
        assert!(matches!(err, EntryError::WrongShape { .. }), "{role:?}: {err}");
    }
    // An SBOM layer in a .sig is no signature either.
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    let sbom = w.referrer_bytes(&d1, "text/spdx+json");
    w.push(Role::Signature, &sbom, REPO, None, Some(&d1));
    assert!(matches!(check_entries(&mut w.meta.contents), Err(EntryError::WrongShape { .. })));
}

#[test]
fn an_attachment_needs_a_subject() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    let sig = w.sign(&d1, REPO);
    w.meta.contents.entries.iter_mut().find(|e| e.descriptor.digest == sig).unwrap().subject = None;
    assert!(matches!(check_entries(&mut w.meta.contents), Err(EntryError::NoSubject { .. })));
}

#[test]
fn a_referrer_has_no_tag_and_its_own_subject() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    let d2 = w.image("other", REPO, Some("2.0"));
    let r = w.referrer_bytes(&d1, "text/plain");
    let i = w.push(Role::Referrer, &r, REPO, None, Some(&d1));
    check_entries(&mut w.meta.contents).unwrap();

    w.meta.contents.entries[i].tag = Some("1.0".into());
    assert!(matches!(check_entries(&mut w.meta.contents), Err(EntryError::ReferrerTagged { .. })));

    w.meta.contents.entries[i].tag = None;
    w.meta.contents.entries[i].subject = Some(d2.clone());
    let err = check_entries(&mut w.meta.contents).unwrap_err();
    assert_eq!(err, EntryError::ReferrerSubject { digest: r, claimed: d2, actual: d1.to_string() });

    // An image manifest (no subject field) is no referrer of anything.
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    let evil = w.image_bytes("evil");
    w.push(Role::Referrer, &evil, REPO, None, Some(&d1));
    let err = check_entries(&mut w.meta.contents).unwrap_err();
    assert!(matches!(&err, EntryError::ReferrerSubject { actual, .. } if actual == "absent"), "{err}");
}

/// A `--platform` bundle: the partial index keeps its tag, each platform is tagged
/// `<tag>-<os>-<arch>` from the index's own bytes, and any other claim is refused.
fn platform_world() -> (World, Digest, Digest, usize) {
    let mut w = World::new();
    let child = w.image_bytes("arm");
    let size = w.meta.contents.manifests[&child].bytes.len();
    let other = Digest::of(b"amd64 manifest, not carried");
    let idx = w.manifest(json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [
        {"mediaType": media::OCI_MANIFEST, "digest": child.to_string(), "size": size, "platform": {"architecture": "arm64", "os": "linux"}},
        {"mediaType": media::OCI_MANIFEST, "digest": other.to_string(), "size": 10, "platform": {"architecture": "amd64", "os": "linux"}}]}));
    let p = w.push(Role::Platform, &child, REPO, Some("1.0-linux-arm64"), Some(&idx));
    let i = w.push(Role::Image, &idx, REPO, Some("1.0"), None);
    w.meta.contents.entries[i].descriptor.annotations.insert(media::ANN_SEALIFT_PARTIAL.into(), "true".into());
    (w, idx, child, p)
}

#[test]
fn platform_tags_follow_from_the_index() {
    let (mut w, _, _, p) = platform_world();
    check_entries(&mut w.meta.contents).unwrap();
    w.meta.contents.entries[p].tag = Some("1.0".into());
    let err = check_entries(&mut w.meta.contents).unwrap_err();
    assert!(matches!(err, EntryError::PlatformTag { .. }), "{err}");
    assert!(err.to_string().contains("1.0-linux-arm64"), "{err}");
}

#[test]
fn one_tag_cannot_name_two_manifests() {
    let mut w = World::new();
    w.image("app", REPO, Some("1.0"));
    w.image("evil", REPO, Some("1.0"));
    assert!(matches!(check_entries(&mut w.meta.contents), Err(EntryError::DuplicateTag { .. })));
    // The same tag in another repository is another tag.
    let mut w = World::new();
    w.image("app", REPO, Some("1.0"));
    w.image("evil", OTHER, Some("1.0"));
    check_entries(&mut w.meta.contents).unwrap();
    // Another host with the same path is the same target repository.
    let mut w = World::new();
    w.image("app", REPO, Some("1.0"));
    w.image("evil", "evil.example:5000/team/app", Some("1.0"));
    assert!(matches!(check_entries(&mut w.meta.contents), Err(EntryError::DuplicateTag { .. })));
}

#[test]
fn an_image_cannot_take_an_attachment_tag() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    for tag in [d1.tag_prefix(), format!("{}.sig", d1.tag_prefix()), format!("{}.sbom", d1.tag_prefix())] {
        let mut w2 = World::new();
        w2.image("evil", REPO, Some(&tag));
        let err = check_entries(&mut w2.meta.contents).unwrap_err();
        assert!(matches!(err, EntryError::ReservedTag { .. }), "{tag}: {err}");
    }
    // Tags that merely start alike are tags.
    let mut w2 = World::new();
    w2.image("fine", REPO, Some("sha256-notahash"));
    check_entries(&mut w2.meta.contents).unwrap();
    check_entries(&mut w.meta.contents).unwrap();
}

// ---- admit ----

#[test]
fn a_signed_image_and_its_attachments_are_admitted() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    let sig = w.sign(&d1, REPO);
    let r = w.referrer_bytes(&d1, "text/plain");
    w.push(Role::Referrer, &r, REPO, None, Some(&d1));
    // A referrer of the referrer follows it in.
    let rr = w.referrer_bytes(&r, "text/plain");
    w.push(Role::Referrer, &rr, REPO, None, Some(&r));
    check_entries(&mut w.meta.contents).unwrap();
    let policy = w.policy();
    let a = w.admit(Judge::Policy { policy: &policy, now: now() }, strict()).unwrap();
    assert!(a.is_verified());
    assert_eq!(a.entries().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert_eq!(a.decisions().len(), 1);
    assert_eq!(a.decisions()[0].outcome, Outcome::Verified);
    assert_eq!(a.refused(), 0);
    let _ = sig;
}

#[test]
fn an_unsigned_image_refuses_the_load_unless_partial_and_takes_its_attachments_with_it() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    w.sign(&d1, REPO);
    let evil = w.image("evil", OTHER, Some("1.0"));
    let r = w.referrer_bytes(&evil, "text/plain");
    let ri = w.push(Role::Referrer, &r, OTHER, None, Some(&evil));
    check_entries(&mut w.meta.contents).unwrap();
    let policy = w.policy();
    let judge = Judge::Policy { policy: &policy, now: now() };
    match w.admit(judge, strict()) {
        Err(Refusal::Images { decisions }) => {
            assert_eq!(decisions.iter().filter(|d| d.outcome == Outcome::Refused).count(), 1);
            let refusal = Refusal::Images { decisions };
            assert!(refusal.to_string().contains(&format!("{OTHER}:1.0")), "{refusal}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let a = w.admit(judge, AdmitOptions { partial: true, ..strict() }).unwrap();
    assert_eq!(a.entries().collect::<Vec<_>>(), vec![0, 1]);
    assert!(!a.contains(ri));
    assert_eq!(a.refused(), 1);
}

#[test]
fn an_attachment_follows_its_subject_only_in_the_same_repository() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    w.sign(&d1, REPO);
    // The same subject claimed from another repository: admitted there it is not.
    let r = w.referrer_bytes(&d1, "text/plain");
    let ri = w.push(Role::Referrer, &r, OTHER, None, Some(&d1));
    check_entries(&mut w.meta.contents).unwrap();
    let policy = w.policy();
    let a = w.admit(Judge::Policy { policy: &policy, now: now() }, strict()).unwrap();
    assert!(!a.contains(ri));
}

#[test]
fn allow_unsigned_admits_only_what_no_rule_covers() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    w.sign(&d1, REPO);
    w.image("thing", "127.0.0.1:5000/elsewhere/thing", Some("1"));
    check_entries(&mut w.meta.contents).unwrap();
    let policy = w.policy();
    let judge = Judge::Policy { policy: &policy, now: now() };
    assert!(matches!(w.admit(judge, strict()), Err(Refusal::Images { .. })));
    let a = w.admit(judge, AdmitOptions { allow_unsigned: true, ..strict() }).unwrap();
    assert_eq!(a.decisions()[1].outcome, Outcome::Unverified);
    assert!(a.contains(2));
    // An unsigned image that a rule covers stays refused.
    w.image("evil", OTHER, Some("2"));
    check_entries(&mut w.meta.contents).unwrap();
    assert!(matches!(w.admit(judge, AdmitOptions { allow_unsigned: true, ..strict() }), Err(Refusal::Images { .. })));
}

#[test]
fn skip_verify_admits_everything_and_says_it_is_unverified() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    w.sign(&d1, REPO);
    w.image("evil", OTHER, Some("1.0"));
    check_entries(&mut w.meta.contents).unwrap();
    let a = w.admit(Judge::SkipVerify, strict()).unwrap();
    assert!(!a.is_verified());
    assert_eq!(a.entries().collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(a.decisions().iter().all(|d| d.outcome == Outcome::Unverified && d.assessment.is_none()));
}

#[test]
fn a_partial_index_is_carried_only_and_its_platform_judged_on_its_own() {
    let (mut w, idx, _, p) = platform_world();
    check_entries(&mut w.meta.contents).unwrap();
    let policy = w.policy();
    let judge = Judge::Policy { policy: &policy, now: now() };
    assert!(matches!(w.admit(judge, strict()), Err(Refusal::Images { .. })), "unsigned platform");
    let sig = w.sign(&idx, REPO);
    check_entries(&mut w.meta.contents).unwrap();
    let a = w.admit(judge, strict()).unwrap();
    let outcomes: Vec<Outcome> = a.decisions().iter().map(|d| d.outcome).collect();
    assert_eq!(outcomes, vec![Outcome::Verified, Outcome::CarriedOnly]);
    // The platform goes; the index and the index's own signature stay in the bundle.
    assert_eq!(a.entries().collect::<Vec<_>>(), vec![p]);
    let sig_entry = w.meta.contents.entries.iter().position(|e| e.descriptor.digest == sig).unwrap();
    assert!(!a.contains(sig_entry));
}

#[test]
fn a_seal_that_does_not_hold_refuses_the_bundle() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    w.sign(&d1, REPO);
    check_entries(&mut w.meta.contents).unwrap();
    let trust = SealTrust { keys: vec![w.key.public_key()], ..Default::default() };
    let r = admit(&w.meta, Some(&trust), Judge::SkipVerify, strict(), now());
    assert!(matches!(&r, Err(Refusal::Seal { reason }) if reason.contains("not sealed")), "{r:?}");
}

#[test]
fn the_plan_holds_exactly_what_was_admitted() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    let sig = w.sign(&d1, REPO);
    let evil = w.image("evil", OTHER, Some("1.0"));
    check_entries(&mut w.meta.contents).unwrap();
    let policy = w.policy();
    let a = w.admit(Judge::Policy { policy: &policy, now: now() }, AdmitOptions { partial: true, ..strict() }).unwrap();
    let dest = Destination { host: "target:5000".into(), prefix: "mirror".into(), default_tag: None };
    let plan = Plan::build(&w.meta.contents, &dest, &a).unwrap();
    let pushed: BTreeSet<(String, Digest, Option<String>)> =
        plan.manifests().iter().map(|m| (m.repository.clone(), m.digest.clone(), m.tag.clone())).collect();
    let want: BTreeSet<(String, Digest, Option<String>)> = [
        ("mirror/team/app".to_owned(), d1.clone(), Some("1.0".to_owned())),
        ("mirror/team/app".to_owned(), sig, Some(format!("{}.sig", d1.tag_prefix()))),
    ]
    .into_iter()
    .collect();
    assert_eq!(pushed, want);
    assert!(plan.blobs().values().all(|repos| !repos.contains("mirror/team/other")));
    let _ = evil;
}

#[test]
fn only_a_verified_attachment_may_move_its_tag() {
    let mut w = World::new();
    let d1 = w.image("app", REPO, Some("1.0"));
    let sig = w.sign(&d1, REPO);
    let r = w.referrer_bytes(&d1, "text/plain");
    w.push(Role::Referrer, &r, REPO, None, Some(&d1));
    check_entries(&mut w.meta.contents).unwrap();
    let policy = w.policy();
    let dest = Destination { host: "target:5000".into(), prefix: "mirror".into(), default_tag: None };
    let a = w.admit(Judge::Policy { policy: &policy, now: now() }, strict()).unwrap();
    assert!(a.attachment_verified(&sig));
    assert!(!a.attachment_verified(&r), "a referrer holding no signature verified nothing");
    assert!(!a.attachment_verified(&d1), "an image is not an attachment");
    let plan = Plan::build(&w.meta.contents, &dest, &a).unwrap();
    let replaces: BTreeSet<(Digest, bool)> =
        plan.manifests().iter().map(|m| (m.digest.clone(), m.replaces_tag)).collect();
    assert!(replaces.contains(&(d1.clone(), true)) && replaces.contains(&(sig.clone(), true)), "{replaces:?}");
    // Under --insecure-skip-verify nothing verified: no attachment tag may move.
    let a = w.admit(Judge::SkipVerify, strict()).unwrap();
    assert!(!a.attachment_verified(&sig));
    let plan = Plan::build(&w.meta.contents, &dest, &a).unwrap();
    let sig_push = plan.manifests().iter().find(|m| m.digest == sig).unwrap();
    assert!(!sig_push.replaces_tag && sig_push.tag.is_some());
    assert!(plan.manifests().iter().find(|m| m.digest == d1).unwrap().replaces_tag);
}
