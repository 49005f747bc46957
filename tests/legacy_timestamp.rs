//! The RFC 3161 timestamp cosign stores on a legacy `.sig` layer
//! (`dev.sigstore.cosign/rfc3161timestamp`: `{"SignedRFC3161Timestamp": base64 DER
//! TimeStampResponse}` over the raw signature bytes) is verified against the timestamp
//! authorities of `--trusted-root` and becomes the trusted time, online and from a bundle.
//! The authority and its token are made by the `openssl ts` CLI, not by sealift.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::cosign::{self, OpensslKey};
use crate::support::{ok, push_blob, push_manifest, random_image, run, sealift, tempdir, TestRegistry};

const RFC3161_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    crate::support::require_tool("openssl", "openssl");
    let o = run(Command::new("openssl").args(args).current_dir(dir), b"");
    assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// A timestamp authority made by openssl in `dir/name-*`: a root and a TSA leaf with the
/// critical timeStamping EKU. Returns the trusted_root.json naming it.
fn authority(dir: &Path, name: &str) -> Value {
    let f = |s: &str| format!("{name}-{s}");
    openssl(
        dir,
        &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            .into_iter()
            .chain(["-keyout", &f("root.key"), "-out", &f("root.pem"), "-days", "2", "-subj", "/CN=test TSA root"])
            .chain(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"])
            .collect::<Vec<_>>(),
    );
    openssl(
        dir,
        &["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", &f("tsa.key")]
            .into_iter()
            .chain(["-out", &f("tsa.csr"), "-subj", "/CN=test TSA"])
            .collect::<Vec<_>>(),
    );
    std::fs::write(
        dir.join(f("tsa.ext")),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    openssl(
        dir,
        &["x509", "-req", "-in", &f("tsa.csr"), "-CA", &f("root.pem"), "-CAkey", &f("root.key")]
            .into_iter()
            .chain(["-CAcreateserial", "-out", &f("tsa.pem"), "-days", "2", "-extfile", &f("tsa.ext")])
            .collect::<Vec<_>>(),
    );
    let der = |pem: &str| {
        let d = openssl(dir, &["x509", "-in", pem, "-outform", "DER"]);
        base64::engine::general_purpose::STANDARD.encode(d)
    };
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "timestampAuthorities": [{
            "subject": {"organization": "test", "commonName": "test TSA"},
            "certChain": {"certificates": [{"rawBytes": der(&f("tsa.pem"))}, {"rawBytes": der(&f("root.pem"))}]},
            "validFor": {"start": "2020-01-01T00:00:00Z"}
        }]
    })
}

/// `openssl ts -reply` over exactly `signed` by the authority `name`: the DER response.
fn timestamp(dir: &Path, name: &str, signed: &[u8]) -> Vec<u8> {
    let f = |s: &str| format!("{name}-{s}");
    std::fs::write(dir.join("signed.bin"), signed).unwrap();
    std::fs::write(dir.join(f("serial")), "01\n").unwrap();
    std::fs::write(
        dir.join(f("tsa.cnf")),
        format!(
            "[ tsa ]\ndefault_tsa = c\n[ c ]\nserial = ./{}\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\ness_cert_id_alg = sha256\n",
            f("serial")
        ),
    )
    .unwrap();
    openssl(dir, &["ts", "-query", "-data", "signed.bin", "-sha256", "-cert", "-out", "q.tsq"]);
    openssl(
        dir,
        &["ts", "-reply", "-config", &f("tsa.cnf"), "-queryfile", "q.tsq", "-signer", &f("tsa.pem")]
            .into_iter()
            .chain(["-inkey", &f("tsa.key"), "-out", "r.tsr"])
            .collect::<Vec<_>>(),
    );
    std::fs::read(dir.join("r.tsr")).unwrap()
}

fn signature_json(out: &std::process::Output) -> Value {
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify --output json: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    v["images"][0]["signatures"][0].clone()
}

#[test]
fn a_legacy_sig_timestamp_is_verified_and_becomes_the_trusted_time() {
    let dir = tempdir();
    let d = dir.path();
    let key = OpensslKey::p256(d, "signer");
    let good = authority(d, "good");
    let other = authority(d, "other");
    std::fs::write(d.join("good.json"), good.to_string()).unwrap();
    std::fs::write(d.join("other.json"), other.to_string()).unwrap();

    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "team/app", "1.0", &[2000]);
    let payload = cosign::payload(&format!("{}/team/app", reg.addr), &img.digest);
    let sig_b64 = key.sign(&payload);
    let raw_sig = base64::engine::general_purpose::STANDARD.decode(&sig_b64).unwrap();
    let token = timestamp(d, "good", &raw_sig);
    let annotation =
        json!({"SignedRFC3161Timestamp": base64::engine::general_purpose::STANDARD.encode(&token)}).to_string();
    push_blob(&reg.addr, "team/app", &payload);
    push_blob(&reg.addr, "team/app", b"{}");
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                   "digest": sealift::oci::Digest::of(b"{}").to_string()},
        "layers": [{"mediaType": cosign::SIMPLESIGNING, "size": payload.len(),
                    "digest": sealift::oci::Digest::of(&payload).to_string(),
                    "annotations": {cosign::SIGNATURE_ANNOTATION: sig_b64, RFC3161_ANNOTATION: annotation}}]});
    let bytes = serde_json::to_vec(&manifest).unwrap();
    push_manifest(&reg.addr, "team/app", &cosign::sig_tag(&img.digest, "sig"), &bytes, media_type());

    let reference = format!("{}/team/app:1.0", reg.addr);
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", &reference, "--key", key.public_path(), "--output", "json"];
        args.extend(extra);
        sealift(&args)
    };
    let tr = |n: &str| d.join(n).to_str().unwrap().to_owned();
    // --trusted-root needs an identity rule; it is about certificates, and this signature
    // is by a key, so any will do.
    const ID: &str = "--certificate-identity=nobody@example.com";
    // Trusted authority: the timestamp is checked and its genTime is the trusted time.
    let out = verify(&["--trusted-root", &tr("good.json"), ID]);
    ok(&out);
    let s = signature_json(&out);
    assert_eq!(s["checks"]["timestamp"], "passed", "{s:#}");
    assert_eq!(s["time_source"], "timestamp", "{s:#}");
    // No authority configured: carried, not checked, and the time is "now".
    let s = signature_json(&ok_out(verify(&[])));
    assert_eq!((s["checks"]["timestamp"].as_str(), s["time_source"].as_str()), (Some("not-configured"), Some("now")));
    // Another authority: refused (exit 1), and the report names the timestamp.
    let out = verify(&["--trusted-root", &tr("other.json"), ID]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let s = signature_json(&out);
    assert_eq!(s["checks"]["timestamp"], "failed", "{s:#}");
    assert!(s["reason"].as_str().unwrap().contains("timestamp authority"), "{s:#}");

    // A token over other bytes (a flipped signature byte) does not fit this signature.
    let mut other_sig = raw_sig.clone();
    other_sig[5] ^= 1;
    let wrong = timestamp(d, "good", &other_sig);
    let annotation2 =
        json!({"SignedRFC3161Timestamp": base64::engine::general_purpose::STANDARD.encode(&wrong)}).to_string();
    let mut m2 = manifest.clone();
    m2["layers"][0]["annotations"][RFC3161_ANNOTATION] = annotation2.into();
    push_manifest(
        &reg.addr,
        "team/app",
        &cosign::sig_tag(&img.digest, "sig"),
        &serde_json::to_vec(&m2).unwrap(),
        media_type(),
    );
    let out = verify(&["--trusted-root", &tr("good.json"), ID]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(signature_json(&out)["reason"].as_str().unwrap().contains("message imprint"));

    // Carried through a bundle and verified offline.
    push_manifest(&reg.addr, "team/app", &cosign::sig_tag(&img.digest, "sig"), &bytes, media_type());
    let bundle = d.join("b.tar");
    ok(&sealift(&["save", &reference, "-o", bundle.to_str().unwrap()]));
    let out = sealift(&[
        "verify",
        "--bundle",
        bundle.to_str().unwrap(),
        "--key",
        key.public_path(),
        "--trusted-root",
        &tr("good.json"),
        ID,
        "--output",
        "json",
    ]);
    let s = signature_json(&ok_out(out));
    assert_eq!((s["checks"]["timestamp"].as_str(), s["time_source"].as_str()), (Some("passed"), Some("timestamp")));
}

fn media_type() -> &'static str {
    "application/vnd.oci.image.manifest.v1+json"
}

fn ok_out(out: std::process::Output) -> std::process::Output {
    ok(&out);
    out
}
