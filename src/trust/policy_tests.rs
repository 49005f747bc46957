use super::*;
use crate::verify::certs::{generate_key, KeyType};

fn data(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign-real").join(p).display().to_string()
}

/// A temp dir with `sub/keys/a.pub` and the policy text at `sub/policy.toml`.
fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("sub/keys")).unwrap();
    let key = generate_key(KeyType::EcP256).unwrap();
    std::fs::write(d.path().join("sub/keys/a.pub"), key.public_key().to_pem()).unwrap();
    let p = d.path().join("sub/policy.toml");
    std::fs::write(&p, text).unwrap();
    (d, p)
}

#[test]
fn unknown_keys_are_errors_naming_key_file_and_line() {
    let (_d, p) =
        write("version = 1\n[[rule]]\nrepositories = [\"**\"]\nkeys = [\"keys/a.pub\"]\nrequire_attestation = []\n");
    let e = Policy::load(&p).unwrap_err().to_string();
    assert!(e.contains("require_attestation") && e.contains("policy.toml") && e.contains("line 5"), "{e}");
    let (_d, p) = write("version = 1\nrules = []\n");
    assert!(Policy::load(&p).unwrap_err().to_string().contains("rules"));
    let (_d, p) = write("version = 1\n[[rule]]\nrepositories = [\"**\"]\nkeys = [\"keys/a.pub\"]\nidentities = [{ identiti = \"x\" }]\n");
    assert!(Policy::load(&p).unwrap_err().to_string().contains("identiti"));
}

#[test]
fn globs_first_match_and_star_stays_in_one_component() {
    let (_d, p) = write(
        r#"version = 1
[[rule]]
name = "blocked"
repositories = ["*/team/secret"]
reject = true
[[rule]]
name = "team"
repositories = ["*/team/*"]
keys = ["keys/a.pub"]
[[rule]]
name = "deep"
repositories = ["reg.example:5000/**"]
keys = ["keys/a.pub"]
"#,
    );
    let pol = Policy::load(&p).unwrap();
    let name = |r: &str| pol.rule_for(r).map(|r| r.name.as_str());
    assert_eq!(name("127.0.0.1:5000/team/secret"), Some("blocked"));
    assert_eq!(name("127.0.0.1:5000/team/app"), Some("team"));
    assert_eq!(name("127.0.0.1:5000/team/a/b"), None, "`*` must not cross '/'");
    assert_eq!(name("reg.example:5000/team/a/b"), Some("deep"));
    assert_eq!(name("other.example/x"), None);
    assert!(pol.rules[0].reject);
}

#[test]
fn paths_are_relative_to_the_policy_file() {
    let (d, p) = write("version = 1\n[[rule]]\nrepositories = [\"**\"]\nkeys = [\"keys/a.pub\"]\n");
    let pol = Policy::load(&p).unwrap();
    assert_eq!(pol.rules[0].material.keys.len(), 1);
    assert_eq!(pol.rules[0].name, "rule 1");
    // Run from elsewhere: still found (relative to the file, not the working directory).
    assert!(!d.path().join("keys/a.pub").exists());
    let (_d, p) = write("version = 1\n[[rule]]\nrepositories = [\"**\"]\nkeys = [\"keys/missing.pub\"]\n");
    let e = Policy::load(&p).unwrap_err();
    assert!(e.is_io() && e.to_string().contains("missing.pub"), "{e}");
}

#[test]
fn certificate_trust_needs_identities_or_explicit_any_identity() {
    let roots = data("containers-image/roots/pki_root_crts.pem");
    let (_d, p) =
        write(&format!("version = 1\n[[rule]]\nname = \"pki\"\nrepositories = [\"**\"]\nca_roots = [{roots:?}]\n"));
    let e = Policy::load(&p).unwrap_err().to_string();
    assert!(e.contains("\"pki\"") && e.contains("any_identity"), "{e}");
    let (_d, p) = write(&format!(
        "version = 1\n[[rule]]\nrepositories = [\"**\"]\nca_roots = [{roots:?}]\nany_identity = true\n"
    ));
    assert!(Policy::load(&p).unwrap().rules[0].any_identity);
    let (_d, p) = write(&format!(
        "version = 1\n[[rule]]\nrepositories = [\"**\"]\nca_roots = [{roots:?}]\nidentities = [{{ identity_regexp = \"@example\\\\.com$\", issuer = \"https://i\" }}]\n"
    ));
    let r = &Policy::load(&p).unwrap().rules[0];
    assert!(r.identities[0].san.matches("a@example.com") && !r.identities[0].san.matches("a@example.org"));
}

#[test]
fn malformed_values_are_refused() {
    for (body, needle) in [
        ("keys = [\"keys/a.pub\"]\nthreshold = 0", "threshold"),
        ("keys = [\"keys/a.pub\"]\nalgorithms = [\"md5\"]", "md5"),
        ("keys = [\"keys/a.pub\"]\nalgorithms = []", "algorithms"),
        ("keys = [\"keys/a.pub\"]\nat = \"tomorrow\"", "tomorrow"),
        ("", "trusts nothing"),
        ("keys = [\"keys/a.pub\"]\nidentities = [{ issuer = \"x\" }]", "identity"),
        ("keys = [\"keys/a.pub\"]\nidentities = [{ identity_regexp = \"(\" }]", "regular expression"),
    ] {
        let (_d, p) = write(&format!("version = 1\n[[rule]]\nrepositories = [\"**\"]\n{body}\n"));
        let e = Policy::load(&p).unwrap_err().to_string();
        assert!(e.contains(needle), "{body}: {e}");
    }
    let (_d, p) = write("version = 2\n[[rule]]\nrepositories = [\"**\"]\nreject = true\n");
    assert!(matches!(Policy::load(&p), Err(PolicyError::Version { found: 2, .. })));
    let (_d, p) = write("version = 1\n");
    assert!(matches!(Policy::load(&p), Err(PolicyError::NoRules { .. })));
    let (_d, p) = write("version = 1\n[[rule]]\nrepositories = []\nreject = true\n");
    assert!(Policy::load(&p).unwrap_err().to_string().contains("repositories"));
}

#[test]
fn rule_becomes_a_trust_policy() {
    let (_d, p) = write(
        "version = 1\n[[rule]]\nrepositories = [\"**\"]\nkeys = [\"keys/a.pub\"]\nalgorithms = [\"rsa-pss-sha512\"]\ncheck_docker_reference = true\nat = \"2026-01-01T00:00:00Z\"\nthreshold = 2\n",
    );
    let pol = Policy::load(&p).unwrap();
    let now = Utc::now();
    let tp = pol.rules[0].trust_policy("reg.example/app", now);
    assert_eq!(tp.allowed_algorithms, Some(vec![SignatureAlgorithm::RsaPssSha512]));
    assert_eq!(tp.docker_reference.as_deref(), Some("reg.example/app"));
    assert_eq!(tp.at.unwrap().timestamp(), 1767225600);
    assert_eq!(tp.now, now);
    assert_eq!(pol.rules[0].threshold, 2);
}

#[test]
fn shipped_examples_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bundles");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("policy") && name.ends_with(".toml") {
            Policy::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 2, "expected policy examples in bundles/");
}
