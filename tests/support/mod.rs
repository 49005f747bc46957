//! Shared test helpers: real registry processes ([`TestRegistry`]), running the sealift
//! binary ([`sealift`]), temp dirs, skopeo, and a tiny image builder ([`random_image`]) that
//! talks HTTP to the registry itself so that tests never depend on the code they test.
#![allow(dead_code, unused_imports)]

pub mod cosign;
mod cut;
mod fake;
mod http;
mod images;
mod process;
mod proxy;
mod registry;
mod trigger;

use std::io::Write;
use std::process::{Command, Output, Stdio};

pub use cut::CuttingProxy;
pub use fake::{FakeRequest, FakeResponse, FakeServer};
pub use http::Raw;
pub use images::{push_blob, push_manifest, random_bytes, random_image, ImageInfo};
pub use process::{openssl_req_new_p256, require_tool, run, run_with_timeout, CHILD_TIMEOUT};
pub use proxy::{CountingProxy, FailingForwarder};
pub use registry::{Presence, RegistryKind, TestRegistry, MARKER_HEADER};
pub use trigger::{Hook, TriggerProxy};

/// Runs a future to completion on a small runtime (integration tests are plain `#[test]`s).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("building a tokio runtime").block_on(f)
}

/// A fresh temporary directory, removed on drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("creating a temp dir")
}

/// Runs the real `sealift` binary with `args`, stdin closed.
pub fn sealift(args: &[&str]) -> Output {
    sealift_with(args, &[], &[])
}

/// Runs the real `sealift` binary with `args`, feeding `stdin` and adding `envs`.
/// `DOCKER_CONFIG` points at an empty directory unless `envs` sets it, so the
/// developer's own registry credentials never leak into a test.
pub fn sealift_with(args: &[&str], stdin: &[u8], envs: &[(&str, &str)]) -> Output {
    let empty_docker_config = tempdir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealift"));
    cmd.args(args).env("DOCKER_CONFIG", empty_docker_config.path()).env_remove("RUST_LOG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run(&mut cmd, stdin)
}

/// Runs `skopeo` with `args` and returns its output (whatever the exit status).
pub fn skopeo(args: &[&str]) -> Output {
    require_tool("skopeo", "skopeo");
    run(Command::new("skopeo").args(args), b"")
}

/// `skopeo inspect --raw` of `reference` (`127.0.0.1:PORT/repo:tag` or `...@sha256:...`),
/// over plain http: the exact manifest bytes as an independent client sees them.
pub fn skopeo_inspect_raw(reference: &str) -> Vec<u8> {
    let out = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{reference}")]);
    assert!(
        out.status.success(),
        "skopeo inspect --raw docker://{reference} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `sealift sign REFERENCE --key KEY --certificate CERT --certificate-chain CHAIN`: the
/// certificate-signed `.sig` most tests start from.
pub fn sign_with_certificate(reference: &str, key: &str, certificate: &str, chain: &str) -> Output {
    sealift(&["sign", reference, "--key", key, "--certificate", certificate, "--certificate-chain", chain])
}

/// Asserts that sealift succeeded (showing both streams if not) and returns its stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "sealift failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Like [`ok`], returning stderr (status lines) followed by stdout (data).
pub fn ok_all(out: &Output) -> String {
    ok(out);
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

/// Unpacks an uncompressed bundle into `dir/name` with the tar command; returns the layout path.
pub fn extract_bundle(bundle: &std::path::Path, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let layout = dir.join(name);
    std::fs::create_dir(&layout).expect("creating the layout directory");
    let out = run(Command::new("tar").args(["-xf", bundle.to_str().unwrap(), "-C", layout.to_str().unwrap()]), b"");
    assert!(out.status.success(), "tar -xf failed: {}", String::from_utf8_lossy(&out.stderr));
    layout
}

/// Writes an uncompressed tar of `entries` (name, bytes), in that order, as regular files.
pub fn write_tar(path: &std::path::Path, entries: &[(String, Vec<u8>)]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    b.finish().unwrap();
}

/// Validates `instance` against the JSON Schema (draft 2020-12) in `schema_file` (relative to
/// the crate root), formats asserted; fails the test with every violation.
pub fn assert_matches_schema(schema_file: &str, instance: &serde_json::Value) {
    if let Some(e) = schema_violations(schema_file, instance) {
        panic!("the document does not match {schema_file}: {e}\n{instance:#}");
    }
}

/// The violations of `schema_file` in `instance`, if any (see [`assert_matches_schema`]).
pub fn schema_violations(schema_file: &str, instance: &serde_json::Value) -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(schema_file);
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let url = format!("file://{}", path.display());
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    compiler.add_resource(&url, schema).unwrap_or_else(|e| panic!("{schema_file}: {e}"));
    let id = compiler.compile(&url, &mut schemas).unwrap_or_else(|e| panic!("{schema_file} does not compile: {e:#}"));
    schemas.validate(instance, id).err().map(|e| format!("{e:#}"))
}
