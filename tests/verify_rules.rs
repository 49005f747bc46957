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
    ok(&sealift(&[
        "sign",
        &reference,
        "--key",
        &p("pki/leaf.key"),
        "--certificate",
        &p("pki/leaf.crt"),
        "--certificate-chain",
        &p("pki/certificate_chain.pem"),
    ]));
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
