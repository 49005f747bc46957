//! The verification rules of issue 8 end to end: the real binary, a real registry, a
//! private PKI made by `sealift certs create` (no Fulcio issuer extension), signed with
//! `sealift sign`.

use crate::support::{ok, random_image, sealift, tempdir, TestRegistry};

/// The proof of concept's verify flags, verbatim (after `--ca-roots FILE`).
const POC_FLAGS: [&str; 7] = [
    "--certificate-identity-regexp",
    ".*",
    "--certificate-oidc-issuer-regexp",
    ".*",
    "--private-infrastructure",
    "--insecure-ignore-sct",
    "--output=text",
];

fn text(out: &std::process::Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// cosign takes a missing issuer extension as "": `.*` matches it (verify, save → verify
/// --bundle, load), an exact issuer never does (exit 1, saying why).
#[test]
fn proof_of_concept_verify_command_accepts_a_private_ca_signature() {
    let reg = TestRegistry::start();
    random_image(&reg.addr, "poc/app", "1.0", &[64]);
    let dir = tempdir();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_owned();
    ok(&sealift(&[
        "certs",
        "create",
        "--out",
        &p("pki"),
        "--key-type",
        "rsa-3072",
        "--subject",
        "poc signer",
        "--san",
        "email:signer@poc.example",
    ]));
    let reference = format!("{}/poc/app:1.0", reg.addr);
    ok(&crate::support::sign_with_certificate(
        &reference,
        &p("pki/leaf.key"),
        &p("pki/leaf.crt"),
        &p("pki/certificate_chain.pem"),
    ));
    let ca = p("pki/ca.crt");
    let mut poc = vec!["verify", reference.as_str(), "--ca-roots", ca.as_str()];
    poc.extend(POC_FLAGS);
    let out = sealift(&poc);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Offline against a saved bundle, then load, with the same flags.
    let bundle = p("bundle.tar");
    ok(&sealift(&["save", &reference, "-o", &bundle]));
    let mut offline = vec!["verify", "--bundle", bundle.as_str(), reference.as_str(), "--ca-roots", ca.as_str()];
    offline.extend(POC_FLAGS);
    let out = sealift(&offline);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let target = format!("{}/mirror", reg.addr);
    let mut load = vec!["load", bundle.as_str(), "--to", target.as_str(), "--ca-roots", ca.as_str()];
    load.extend(&POC_FLAGS[..6]);
    let out = sealift(&load);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // An exact issuer never equals a missing one.
    let out = sealift(&[
        "verify",
        &reference,
        "--ca-roots",
        &ca,
        "--certificate-identity",
        "signer@poc.example",
        "--certificate-oidc-issuer",
        "https://issuer.example",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no OIDC issuer extension"), "{}", text(&out));
}

/// Go's path rules reach the command line: an intermediate whose EKU lists only
/// serverAuth is rejected (exit 1, naming it and the rule); a `--ca-roots` file holding a
/// certificate Go's parser refuses is the user's file's fault (exit 2, naming the file).
#[test]
fn path_rules_and_bad_trust_files_at_the_command_line() {
    use sealift::verify::certs::{generate_key, issue, CertParams, KeyType, SanSpec};
    let reg = TestRegistry::start();
    random_image(&reg.addr, "rules/app", "1.0", &[64]);
    let dir = tempdir();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_owned();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (nb, na) = (now - 3600, now + 86_400);
    let root_key = generate_key(KeyType::EcP256).unwrap();
    let root = issue(&CertParams::ca("rules root", nb, na, None), &root_key, None).unwrap();
    let sub_key = generate_key(KeyType::EcP256).unwrap();
    let mut sub_params = CertParams::ca("tls-only intermediate", nb, na, Some(0));
    sub_params.eku = Some(vec!["serverAuth"]);
    let sub = issue(&sub_params, &sub_key, Some((&root, &root_key))).unwrap();
    let leaf_key = generate_key(KeyType::EcP256).unwrap();
    let leaf_params = CertParams::leaf("signer", nb, na, vec![SanSpec::Email("dev@rules.example".into())]);
    let leaf = issue(&leaf_params, &leaf_key, Some((&sub, &sub_key))).unwrap();
    std::fs::write(p("ca.crt"), root.to_pem().unwrap()).unwrap();
    std::fs::write(p("leaf.crt"), leaf.to_pem().unwrap()).unwrap();
    std::fs::write(p("leaf.key"), leaf_key.to_pkcs8_pem()).unwrap();
    std::fs::write(p("chain.pem"), [sub.to_pem().unwrap(), root.to_pem().unwrap()].concat()).unwrap();
    let reference = format!("{}/rules/app:1.0", reg.addr);
    ok(&crate::support::sign_with_certificate(&reference, &p("leaf.key"), &p("leaf.crt"), &p("chain.pem")));
    let ca = p("ca.crt");
    let mut args = vec!["verify", reference.as_str(), "--ca-roots", ca.as_str()];
    args.extend(&POC_FLAGS[..6]);
    let out = sealift(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("\"CN=tls-only intermediate\" lists extended key usages without codeSigning"),
        "{}",
        text(&out)
    );

    // A root file with a certificate Go cannot parse (duplicate basicConstraints).
    let mut dup = CertParams::ca("dup root", nb, na, None);
    dup.extra_extensions.push(("2.5.29.19".into(), vec![0x30, 0x00]));
    std::fs::write(p("dup.crt"), issue(&dup, &root_key, None).unwrap().to_pem().unwrap()).unwrap();
    let dup_ca = p("dup.crt");
    let mut args = vec!["verify", reference.as_str(), "--ca-roots", dup_ca.as_str()];
    args.extend(&POC_FLAGS[..6]);
    let out = sealift(&args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("dup.crt") && text(&out).contains("duplicate extension"), "{}", text(&out));
}
