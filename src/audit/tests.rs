//! The report builder and renderers over synthetic assessments, including hostile strings.

use chrono::{TimeZone, Utc};

use super::report::*;
use super::*;
use crate::assess::{AttestationAssessment, Format, ImageAssessment, SignatureAssessment};
use crate::oci::Digest;
use crate::seal::SealVerdict;
use crate::verify::{
    CertSummary, Rejection, RekorStatus, San, SignatureAlgorithm, SignatureReport, Signer, TimeSource, TrustedTime,
    Verdict,
};

const HOSTILE: &str = "<script>alert(1)</script>\"'&";

fn sig(verdict: Verdict, signer: Option<Signer>, chain: Vec<CertSummary>) -> SignatureAssessment {
    SignatureAssessment {
        format: Format::LegacySig,
        holder: Digest::of(b"holder"),
        report: SignatureReport {
            verdict,
            payload_digest: Digest::of(b"payload"),
            algorithm: Some(SignatureAlgorithm::EcdsaP256Sha256),
            signer,
            chain,
            trusted_time: Some(TrustedTime { unix: 1_700_000_000, source: TimeSource::Now }),
            docker_reference: Some("reg/app".into()),
            rekor: RekorStatus::Absent,
            checks: crate::verify::Checks::default(),
        },
    }
}

fn image(reference: &str, passed: bool, sigs: Vec<SignatureAssessment>) -> ImageAssessment {
    ImageAssessment {
        reference: reference.into(),
        repository: reference.split(':').next().unwrap().into(),
        digest: Digest::of(reference.as_bytes()),
        rule: Some("default".into()),
        passed,
        reasons: if passed { vec![] } else { vec!["no signature verified".into()] },
        signatures: sigs,
        attestations: vec![AttestationAssessment {
            holder: Digest::of(b"att"),
            predicate_type: Some("https://slsa.dev/provenance/v1".into()),
            verified: passed,
            reason: (!passed).then(|| "bad envelope".into()),
            signer: None,
        }],
        distinct_signers: usize::from(passed),
        threshold: 1,
        unreadable: vec![],
        covered_by: None,
        notes: vec![],
    }
}

fn sample(seal: Option<&SealVerdict>) -> AuditReport {
    let key = Signer::Key { fingerprint: "ab".repeat(32) };
    let cert = Signer::Certificate {
        sans: vec![San::Email(format!("evil{HOSTILE}@example.com")), San::Uri("https://ci/".into())],
        issuer: Some("https://issuer".into()),
    };
    let chain = vec![CertSummary { subject: format!("CN={HOSTILE}"), not_before: 0, not_after: 86_400 }];
    let images = vec![
        (image("reg:5000/a:1", true, vec![sig(Verdict::Verified, Some(key), vec![])]), ImageFacts::default()),
        (
            image(
                &format!("reg:5000/b:{HOSTILE}"),
                false,
                vec![
                    sig(Verdict::Rejected(Rejection::UntrustedRoot), Some(cert), chain),
                    sig(Verdict::PresentNotVerified { reason: "odd".into() }, None, vec![]),
                ],
            ),
            ImageFacts {
                media_type: Some("application/vnd.oci.image.index.v1+json".into()),
                platforms: vec!["linux/amd64".into()],
            },
        ),
    ];
    let policy = PolicyInfo {
        source: PolicySource::CommandLine,
        path: None,
        rules: vec![RuleInfo { name: "default".into(), repositories: vec!["**".into()], summary: "key(s) ab".into() }],
    };
    let subject = Subject::Bundle { path: "/tmp/b.tar".into(), size: Some(2048), index_digest: Some(Digest::of(b"i")) };
    AuditReport::build(Utc.timestamp_opt(1_700_000_000, 0).unwrap(), subject, policy, seal, images)
}

#[test]
fn totals_and_verdict_are_counted() {
    let r = sample(Some(&SealVerdict::Absent));
    assert_eq!(r.totals.images, 2);
    assert_eq!((r.totals.passed, r.totals.failed), (1, 1));
    assert_eq!(r.totals.signatures, SignatureTotals { total: 3, verified: 1, rejected: 1, not_verified: 1 });
    assert_eq!(r.totals.attestations, AttestationTotals { total: 2, verified: 1, rejected: 1 });
    assert_eq!(r.verdict, Outcome::Fail);
    assert_eq!(r.exit_code(), crate::exit::REJECTED);
    assert_eq!(r.generated_at, "2023-11-14T22:13:20Z");
}

#[test]
fn a_rejected_seal_fails_the_audit_even_when_images_pass() {
    let mut r = sample(Some(&SealVerdict::Rejected { reason: "blob missing".into() }));
    assert_eq!(r.verdict, Outcome::Fail);
    let passing: Vec<_> = vec![(image("reg/a:1", true, vec![]), ImageFacts::default())];
    r = AuditReport::build(
        Utc::now(),
        Subject::Registry { registry: "reg".into(), prefix: String::new() },
        r.policy.clone(),
        Some(&SealVerdict::Rejected { reason: "x".into() }),
        passing.clone(),
    );
    assert_eq!(r.exit_code(), crate::exit::REJECTED);
    r = AuditReport::build(Utc::now(), r.subject.clone(), r.policy.clone(), None, passing);
    assert_eq!(r.exit_code(), crate::exit::OK);
}

#[test]
fn json_has_the_schema_and_every_signature_detail() {
    let r = sample(Some(&SealVerdict::NotChecked));
    let v: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(v["schema"], SCHEMA);
    assert_eq!(v["tool"]["name"], "sealift");
    assert_eq!(v["subject"]["kind"], "bundle");
    assert_eq!(v["seal"]["verdict"], "not-checked");
    let b = &v["images"][1];
    assert_eq!(b["verdict"], "fail");
    assert_eq!(b["platforms"][0], "linux/amd64");
    let s = &b["signatures"][0];
    assert_eq!(s["verdict"], "rejected");
    assert_eq!(s["reason"], Rejection::UntrustedRoot.to_string());
    assert_eq!(s["format"], "legacy-sig");
    assert_eq!(s["signer"]["kind"], "certificate");
    assert_eq!(s["signer"]["sans"][0]["type"], "email");
    assert_eq!(s["signer"]["issuer"], "https://issuer");
    assert_eq!(s["chain"][0]["not_after"], "1970-01-02T00:00:00+00:00");
    assert_eq!(s["trusted_time"]["source"], "now");
    assert_eq!(s["rekor"]["status"], "absent");
    assert_eq!(v["images"][0]["signatures"][0]["signer"]["kind"], "key");
    assert_eq!(b["signatures"][1]["verdict"], "present-not-verified");
    // Stable order: keys come in declaration order.
    let text = render_json(&r);
    assert!(text.find("\"schema\"").unwrap() < text.find("\"generated_at\"").unwrap());
    assert!(text.find("\"totals\"").unwrap() < text.find("\"images\"").unwrap());
}

#[test]
fn text_shows_each_rejected_signature_with_its_reason() {
    let t = render_text(&sample(Some(&SealVerdict::Absent)));
    assert!(t.contains("FAIL: 1 of 2 image(s) passed"), "{t}");
    assert!(t.starts_with("sealift audit of bundle /tmp/b.tar"));
    assert!(t.contains("PASS  reg:5000/a:1"));
    assert!(t.contains(&format!("why: {}", Rejection::UntrustedRoot)), "{t}");
    assert!(t.contains("reason: no signature verified"));
    assert!(t.contains("seal: absent"));
}

#[test]
fn escape_html_neutralises_markup() {
    assert_eq!(escape_html(HOSTILE), "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;");
    assert_eq!(escape_html("a\u{1b}[31mb"), "a&#xFFFD;[31mb");
    assert_eq!(escape_html("plain text é"), "plain text é");
}

#[test]
fn html_escapes_hostile_sans_subjects_and_references() {
    let h = render_html(&sample(Some(&SealVerdict::Absent)));
    assert!(!h.contains("<script>"), "raw script tag in the report");
    assert!(h.contains("evil&lt;script&gt;alert(1)&lt;/script&gt;"), "the SAN is shown, escaped");
    assert!(h.contains("CN=&lt;script&gt;"));
    assert!(h.contains("reg:5000/b:&lt;script&gt;"));
    // Self-contained: no external asset, no script.
    assert!(!h.contains("<script") && !h.contains("src=") && !h.contains("href=") && !h.contains("@import"));
    assert!(
        h.contains(r#"<span class="badge pass">PASS</span>"#) && h.contains(r#"<span class="badge fail">FAIL</span>"#)
    );
    assert!(h.contains("<details>") && h.contains("1 of 2 image(s) passed"));
}

#[test]
fn attachment_tags_and_prefixes() {
    let hex = "a".repeat(64);
    assert!(is_attachment_tag(&format!("sha256-{hex}")));
    assert!(is_attachment_tag(&format!("sha256-{hex}.sig")));
    assert!(!is_attachment_tag("sha256-latest"));
    assert!(!is_attachment_tag("1.0"));
    assert!(registry::under_prefix("mirror/team/a", "mirror"));
    assert!(!registry::under_prefix("mirrors/a", "mirror"));
    assert!(registry::under_prefix("x/y", ""));
}

#[test]
fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("r.html");
    write_atomic(&p, b"one").unwrap();
    write_atomic(&p, b"two").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"two");
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    assert!(write_atomic(&d.path().join("no/such/dir/r.html"), b"x").is_err());
}

#[test]
fn html_shows_the_ten_checks_of_each_signature() {
    use crate::verify::CheckStatus;
    let mut r = sample(Some(&SealVerdict::Absent));
    let checks = &mut r.images[1].signatures[0].checks;
    checks.signature = CheckStatus::Passed;
    checks.subject = CheckStatus::Passed;
    checks.certificate_chain = CheckStatus::Failed;
    checks.sct = CheckStatus::NotConfigured;
    let h = render_html(&r);
    assert!(h.contains("<th>Checks</th>"));
    assert!(h.contains(r#"signature <span class="ok">passed</span><br>subject <span class="ok">passed</span><br>certificate_chain <span class="bad">failed</span><br>identity <span class="muted">not-reached</span>"#), "{h}");
    assert!(h.contains(r#"sct <span class="muted">not-configured</span>"#));
    // Every signature row has all ten, in the text report's order.
    for (name, _) in crate::verify::Checks::default().entries() {
        assert_eq!(h.matches(&format!("{name} <span class=")).count(), 3, "{name}");
    }
}
