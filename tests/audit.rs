//! `sealift audit` end to end against real registries: a bundle of three images (signed by
//! the trusted key, unsigned, signed by another key) audited offline as JSON and HTML (the
//! HTML opened in headless Chromium), and the same images audited where they landed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sealift::oci::Digest;
use serde_json::Value;

use crate::support::cosign::{self, OpensslKey};
use crate::support::{assert_matches_schema, ok, random_image, schema_violations, sealift, tempdir, TestRegistry};

const CHROMIUM: &str = "/usr/bin/chromium";
const SCHEMA: &str = "docs/audit.schema.json";

/// Signs `addr/repo@digest` with `key` (openssl, over a payload the test writes) and
/// pushes the legacy `.sig` manifest.
fn sign_image(addr: &str, repo: &str, digest: &Digest, key: &OpensslKey) {
    cosign::push_sig(addr, repo, &cosign::sig_tag(digest, "sig"), &format!("{addr}/{repo}"), digest, key);
}

struct Fixture {
    src: TestRegistry,
    dir: tempfile::TempDir,
    trusted: PathBuf,
    a: Digest,
    b: Digest,
    c: Digest,
}

impl Fixture {
    /// A signed by the trusted key, B unsigned, C signed by another key.
    fn new() -> Fixture {
        let src = TestRegistry::start();
        let dir = tempdir();
        let good = OpensslKey::p256(dir.path(), "trusted");
        let other = OpensslKey::p256(dir.path(), "other");
        let trusted = good.public.clone();
        let a = random_image(&src.addr, "team/a", "1.0", &[2000]).digest;
        let b = random_image(&src.addr, "team/b", "1.0", &[2000]).digest;
        let c = random_image(&src.addr, "team/c", "1.0", &[2000]).digest;
        sign_image(&src.addr, "team/a", &a, &good);
        sign_image(&src.addr, "team/c", &c, &other);
        Fixture { src, dir, trusted, a, b, c }
    }

    fn reference(&self, name: &str) -> String {
        format!("{}/team/{name}:1.0", self.src.addr)
    }

    fn save(&self, names: &[&str], file: &str) -> PathBuf {
        let out = self.dir.path().join(file);
        let refs: Vec<String> = names.iter().map(|n| self.reference(n)).collect();
        let mut args: Vec<&str> = vec!["save"];
        args.extend(refs.iter().map(String::as_str));
        args.extend(["-o", out.to_str().unwrap()]);
        ok(&sealift(&args));
        out
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn explain(out: &Output) -> String {
    format!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn image<'v>(report: &'v Value, digest: &Digest) -> &'v Value {
    report["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["digest"] == digest.to_string())
        .unwrap_or_else(|| panic!("no image {digest} in the report: {report:#}"))
}

fn reasons(img: &Value) -> String {
    img["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect::<Vec<_>>().join(" | ")
}

/// The verdicts every audit of A, B and C must reach, whatever the source.
fn check_abc(report: &Value, f: &Fixture) {
    assert_eq!(report["schema"], "https://sealift.dev/schemas/audit/v1");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["totals"]["images"], 3);
    assert_eq!(report["totals"]["passed"], 1);
    let a = image(report, &f.a);
    assert_eq!(a["verdict"], "pass", "{a:#}");
    assert_eq!(a["signatures"][0]["verdict"], "verified");
    assert_eq!(a["signatures"][0]["signer"]["kind"], "key");
    assert_eq!(a["signatures"][0]["algorithm"], "ecdsa-p256-sha256");
    assert_eq!(a["platforms"][0], "linux/amd64");
    let b = image(report, &f.b);
    assert_eq!(b["verdict"], "fail");
    assert!(reasons(b).contains("no signatures"), "B's reason: {}", reasons(b));
    let c = image(report, &f.c);
    assert_eq!(c["verdict"], "fail");
    assert_eq!(c["signatures"][0]["verdict"], "rejected");
    let why = c["signatures"][0]["reason"].as_str().unwrap();
    assert!(why.contains("does not verify"), "C's signature reason: {why}");
    assert!(reasons(c).contains("does not verify"), "C's reasons: {}", reasons(c));
}

#[test]
fn audit_of_a_bundle_reports_each_image_and_exits_rejected() {
    let f = Fixture::new();
    let bundle = f.save(&["a", "b", "c"], "abc.tar");
    let key = f.trusted.to_str().unwrap();
    let out = sealift(&["audit", bundle.to_str().unwrap(), "--key", key, "--output", "json"]);
    assert_eq!(code(&out), Some(1), "{}", explain(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_matches_schema(SCHEMA, &report);
    // The control: the schema does refuse a report that breaks it.
    for (field, value) in [("verdict", Value::from("maybe")), ("unexpected", Value::from(1))] {
        let mut broken = report.clone();
        broken[field] = value;
        assert!(schema_violations(SCHEMA, &broken).is_some(), "the schema accepted {field}");
    }
    check_abc(&report, &f);
    assert_eq!(report["subject"]["kind"], "bundle");
    assert!(report["subject"]["index_digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(report["seal"]["verdict"], "absent");

    // Text names every rejected signature's reason.
    let out = sealift(&["audit", bundle.to_str().unwrap(), "--key", key]);
    assert_eq!(code(&out), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("PASS  {}", f.reference("a"))), "{text}");
    assert!(text.contains(&format!("FAIL  {}", f.reference("c"))) && text.contains("does not verify"), "{text}");

    // Only the good image: everything passes.
    let good = f.save(&["a"], "a.tar");
    let out = sealift(&["audit", good.to_str().unwrap(), "--key", key, "--output", "json"]);
    assert_eq!(code(&out), Some(0), "{}", explain(&out));
    assert_matches_schema(SCHEMA, &serde_json::from_slice(&out.stdout).unwrap());

    // Usage errors: no trust at all; a bundle and --registry together.
    let out = sealift(&["audit", good.to_str().unwrap()]);
    assert_eq!(code(&out), Some(2), "{}", explain(&out));
    let out = sealift(&["audit", good.to_str().unwrap(), "--registry", &f.src.addr, "--key", key]);
    assert_eq!(code(&out), Some(2), "{}", explain(&out));
}

/// Chromium's rendering of `file`, as the DOM after load.
fn chromium_dom(file: &Path) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: `make test` installs it (apt-get install chromium); the HTML report test needs a real browser"
    );
    let profile = tempdir();
    let out = crate::support::run(
        Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(format!("file://{}", file.display())),
        b"",
    );
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn html_report_shows_the_verdicts_in_a_browser() {
    let f = Fixture::new();
    let bundle = f.save(&["a", "b", "c"], "abc.tar");
    let html = f.dir.path().join("report.html");
    let out = sealift(&[
        "audit",
        bundle.to_str().unwrap(),
        "--key",
        f.trusted.to_str().unwrap(),
        "--output",
        "html",
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), Some(1), "{}", explain(&out));
    assert!(out.stdout.is_empty(), "the report goes to the file only");
    assert!(String::from_utf8_lossy(&out.stderr).contains("report written to"));
    let leftovers: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".sealift-audit-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let dom = chromium_dom(&html);
    assert!(dom.contains("1 of 3 image(s) passed"), "summary missing from the DOM:\n{dom}");
    for name in ["a", "b", "c"] {
        assert!(dom.contains(&f.reference(name)), "{name} missing from the DOM");
    }
    // Each image block carries its verdict in words next to its reference.
    let block = |name: &str| {
        let at = dom.find(&f.reference(name)).unwrap();
        let start = dom[..at].rfind("<section").unwrap();
        dom[start..at].to_owned()
    };
    assert!(block("a").contains("PASS"), "A is shown as passing: {}", block("a"));
    assert!(block("b").contains("FAIL") && block("c").contains("FAIL"));
    assert!(dom.contains("does not verify"), "C's rejection reason is in the page");
    // The per-signature checks, as the text and JSON reports give them (issue 11).
    assert!(dom.contains(r#"signature <span class="ok">passed</span>"#), "A's checks missing:\n{dom}");
    assert!(dom.contains(r#"signature <span class="bad">failed</span>"#), "C's failed check missing:\n{dom}");
    assert!(dom.contains(r#"certificate_chain <span class="muted">not-applicable</span>"#));
}

#[test]
fn audit_of_a_registry_reports_what_landed() {
    let f = Fixture::new();
    let bundle = f.save(&["a", "b", "c"], "abc.tar");
    let dst = TestRegistry::start();
    ok(&sealift(&[
        "load",
        "--insecure-skip-verify",
        bundle.to_str().unwrap(),
        "--to",
        &format!("{}/mirror", dst.addr),
    ]));
    // Something outside the prefix is not audited.
    random_image(&dst.addr, "elsewhere/x", "1.0", &[100]);
    let policy = f.dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n\n[[rule]]\nname = \"mirror\"\nrepositories = [\"*/mirror/**\"]\nkeys = [\"trusted.pub\"]\n",
    )
    .unwrap();
    let out = sealift(&[
        "audit",
        "--registry",
        &format!("{}/mirror", dst.addr),
        "--policy",
        policy.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code(&out), Some(1), "{}", explain(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_matches_schema(SCHEMA, &report);
    check_abc(&report, &f);
    assert_eq!(report["subject"]["kind"], "registry");
    assert_eq!(report["subject"]["prefix"], "mirror");
    assert!(report["seal"].is_null());
    assert_eq!(report["policy"]["source"], "file");
    assert_eq!(report["policy"]["rules"][0]["name"], "mirror");
    let a = image(&report, &f.a);
    assert_eq!(a["reference"], format!("{}/mirror/team/a:1.0", dst.addr));
    assert_eq!(a["rule"], "mirror");
}
