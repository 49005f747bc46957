//! More promises of the README, each a row of docs/guarantees.md: the second read of an
//! uncompressed bundle's layers, progress bars only on a terminal, plain HTTP only for
//! loopback hosts, and credentials absent from the verbose output of `load`.

use std::io::{Seek, SeekFrom, Write};
use std::process::Output;

use crate::save_load::tar_entries;
use crate::support::cosign::{self, OpensslKey};
use crate::support::{ok_all, random_image, sealift, tempdir, TestRegistry, TriggerProxy};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// README: layers of an uncompressed bundle are "re-read from the file and verified
/// again". The check pass reads the whole file; the first blob upload (`POST …/uploads/`,
/// which only comes after that pass) is the moment a proxy in front of the target flips a
/// byte of the layer in the file, in place. The upload's own read must catch it: exit 4
/// (bad bundle) naming the layer, no manifest, no tag, the layer not at the target. A
/// registry would refuse the altered blob by its digest too, but with another error
/// (exit 3): the exit code and message say that sealift's second read caught it.
#[test]
fn a_layer_altered_after_the_check_pass_is_caught_on_its_second_read() {
    let src = TestRegistry::start();
    let img = random_image(&src.addr, "team/app", "1.0", &[300_000]);
    let dir = tempdir();
    let key = OpensslKey::p256(dir.path(), "k");
    cosign::push_sig(
        &src.addr,
        "team/app",
        &cosign::sig_tag(&img.digest, "sig"),
        &format!("{}/team/app", src.addr),
        &img.digest,
        &key,
    );
    let bundle = dir.path().join("b.tar");
    let b = bundle.to_str().unwrap().to_owned();
    ok_all(&sealift(&["save", &format!("{}/team/app:1.0", src.addr), "-o", &b]));
    let layer = img.layers[0].0.clone();
    let (_, offset, size) = tar_entries(&bundle).into_iter().find(|e| e.0 == layer.blob_path()).unwrap();
    assert_eq!(size, 300_000);
    let at = offset + 1234;
    let original = std::fs::read(&bundle).unwrap()[at as usize];
    let poke = move |path: std::path::PathBuf, value: u8| {
        let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&[value]).unwrap();
        f.sync_all().unwrap();
    };

    for jobs in ["1", "4"] {
        poke(bundle.clone(), original);
        let dst = TestRegistry::start();
        let path = bundle.clone();
        let proxy = TriggerProxy::start(&dst.addr, "POST /v2/", Box::new(move || poke(path, original ^ 0x01)));
        let out = sealift(&["load", &b, "--to", &proxy.addr, "--key", key.public_path(), "--jobs", jobs]);
        let err = stderr(&out);
        assert!(proxy.fired(), "--jobs {jobs}: the load uploaded nothing: {err}");
        assert_eq!(out.status.code(), Some(4), "--jobs {jobs}: a bad bundle: {err}");
        let line: Vec<&str> = err.lines().filter(|l| l.starts_with("sealift: error:")).collect();
        assert_eq!(line.len(), 1, "--jobs {jobs}: one error line: {err}");
        assert_eq!(err.trim_end().lines().last(), Some(line[0]), "--jobs {jobs}: nothing after it: {err}");
        assert!(line[0].contains(&layer.to_string()), "--jobs {jobs}: the error names the layer: {err}");
        assert!(
            !line[0].contains("HTTP") && !line[0].contains("400"),
            "--jobs {jobs}: not the registry's refusal: {err}"
        );
        dst.assert_absent("team/app", "1.0", "a layer failed its second read");
        dst.assert_absent("team/app", &img.digest.to_string(), "a layer failed its second read");
        assert!(!dst.blob_present("team/app", &layer), "--jobs {jobs}: the altered layer landed");
    }

    // The control: the same bundle, left alone, loads through the same kind of proxy.
    poke(bundle.clone(), original);
    let dst = TestRegistry::start();
    let proxy = TriggerProxy::start(&dst.addr, "POST /v2/", Box::new(|| {}));
    ok_all(&sealift(&["load", &b, "--to", &proxy.addr, "--key", key.public_path()]));
    assert!(proxy.fired());
    dst.assert_present("team/app", "1.0", &img.manifest);
}

/// Whether `text` holds a drawn bar of the template `{prefix} [{bar:30}] …`: the prefix, then
/// thirty characters of `=`, `>` and spaces between brackets.
fn has_bar(text: &str, prefix: &str) -> bool {
    text.match_indices(&format!("{prefix} [")).any(|(i, m)| {
        let rest = &text.as_bytes()[i + m.len()..];
        rest.len() > 30 && rest[..30].iter().all(|c| b"=> ".contains(c)) && rest[30] == b']'
    })
}

/// Runs the sealift binary with `args` on a pseudo-terminal (`script` from util-linux):
/// what the terminal showed, stdout and stderr together.
fn on_a_terminal(args: &[&str]) -> String {
    crate::support::require_tool("script", "util-linux");
    let empty = tempdir();
    let mut line = env!("CARGO_BIN_EXE_sealift").to_owned();
    for a in args {
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || "/._:-@".contains(c)), "keep {a} plain for sh");
        line.push(' ');
        line.push_str(a);
    }
    let out = crate::support::run(
        std::process::Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("DOCKER_CONFIG", empty.path())
            .env("TERM", "xterm")
            .env_remove("RUST_LOG"),
        b"",
    );
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{line} on a terminal failed ({:?}): {shown}{}", out.status, stderr(&out));
    shown
}

/// README: "Progress bars appear only on a terminal". `save` and `load` on a pseudo-terminal
/// draw their bar; the same commands with stderr a pipe, or with `-q` on the terminal, draw
/// none (no bar, no escape sequence, no carriage return).
#[test]
fn progress_bars_only_on_a_terminal() {
    let src = TestRegistry::start();
    random_image(&src.addr, "team/app", "1.0", &[2 << 20, 1 << 20]);
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    let b = bundle.to_str().unwrap();
    let reference = format!("{}/team/app:1.0", src.addr);

    let shown = on_a_terminal(&["save", &reference, "-o", b]);
    assert!(has_bar(&shown, "save"), "save on a terminal draws its bar: {shown:?}");
    let dst = TestRegistry::start();
    let shown = on_a_terminal(&["load", b, "--to", &dst.addr, "--insecure-skip-verify"]);
    assert!(has_bar(&shown, "load"), "load on a terminal draws its bar: {shown:?}");

    let quiet = on_a_terminal(&["-q", "save", &reference, "-o", b]);
    assert!(!has_bar(&quiet, "save") && !quiet.contains('\x1b'), "-q draws nothing: {quiet:?}");

    let piped = ok_all(&sealift(&["save", &reference, "-o", b]));
    let dst = TestRegistry::start();
    let piped_load = ok_all(&sealift(&["load", b, "--to", &dst.addr, "--insecure-skip-verify"]));
    for (what, text) in [("save", &piped), ("load", &piped_load)] {
        assert!(text.contains("team/app"), "{what} said what it did: {text}");
        assert!(!has_bar(text, what), "{what} on a pipe draws no bar: {text:?}");
        assert!(!text.contains('\x1b') && !text.contains('\r'), "{what} on a pipe: no terminal control: {text:?}");
    }
}

/// README: "plain HTTP automatically for loopback hosts and otherwise only with
/// `--plain-http`", and credentials never over plain http to a host that is not loopback.
/// `[::ffff:127.0.0.1]` (IPv4-mapped IPv6) is not a loopback name, yet the kernel delivers
/// it to this machine's 127.0.0.1: the test's own plain-HTTP registry stands in for a
/// remote one, and no packet leaves the machine. Without `--plain-http` sealift speaks TLS
/// to it and fails (exit 3, naming TLS); with it, the save works; a `--plain-http` registry
/// that asks for credentials is refused (exit 3) and never sees them.
#[test]
fn plain_http_only_for_loopback_unless_asked() {
    let src = TestRegistry::start();
    let img = random_image(&src.addr, "team/app", "1.0", &[1000]);
    let port = src.addr.rsplit_once(':').unwrap().1;
    let mapped = format!("[::ffff:127.0.0.1]:{port}/team/app:1.0");
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    let b = bundle.to_str().unwrap();

    let out = sealift(&["save", &mapped, "-o", b]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "https to a plain registry cannot work: {err}");
    assert!(err.to_ascii_lowercase().contains("tls"), "the error says TLS: {err}");
    assert!(!bundle.exists(), "nothing written");

    let said = ok_all(&sealift(&["save", &mapped, "-o", b, "--plain-http"]));
    assert!(said.contains(&img.digest.to_string()), "{said}");
    // The control: the loopback name needs no flag.
    ok_all(&sealift(&["save", &format!("{}/team/app:1.0", src.addr), "-o", b]));

    // Credentials: never over plain http to a host that is not loopback. A recording proxy
    // (it cuts nothing) shows what reached the registry.
    let auth = TestRegistry::start_with_auth("alice", "pw-Plain-4c1d");
    let proxy = crate::support::CuttingProxy::start(&auth.addr, u64::MAX, 0);
    let port = proxy.addr.rsplit_once(':').unwrap().1;
    let out = crate::support::sealift_with(
        &[
            "save",
            &format!("[::ffff:127.0.0.1]:{port}/team/app:1.0"),
            "-o",
            b,
            "--plain-http",
            "--username",
            "alice",
            "--password-stdin",
        ],
        b"pw-Plain-4c1d\n",
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("asks for credentials over plain http"), "{err}");
    let sent = proxy.client_bytes();
    assert!(sent.contains("GET /v2/"), "the registry was asked: {sent}");
    assert!(!sent.to_ascii_lowercase().contains("authorization:"), "credentials went over plain http: {sent}");
}

/// A bearer-token registry that takes pushes: `/token` trades `user:pass` (basic) for
/// `token`; every other request needs `Bearer token`. Blobs are accepted whole (POST, then
/// PUT with the body), manifests by PUT; nothing is ever present. For `load` with a bearer
/// token: a real registry with token auth needs a token service this suite does not have.
fn bearer_target(user: &'static str, pass: &'static str, token: &'static str) -> crate::support::FakeServer {
    use crate::support::{FakeResponse, FakeServer};
    FakeServer::bearer(user, pass, token, "repository:team/app:pull,push", move |req| {
        let t = req.target.as_str();
        let not_found = || {
            FakeResponse::new(404)
                .header("Content-Type", "application/json")
                .body(r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}"#)
        };
        match req.method.as_str() {
            "GET" | "HEAD" if t == "/v2/" => FakeResponse::new(200),
            "POST" if t.starts_with("/v2/team/app/blobs/uploads/") => {
                FakeResponse::new(202).header("Location", "/v2/team/app/blobs/uploads/one").header("Range", "0-0")
            }
            "PUT" if t.starts_with("/v2/team/app/blobs/uploads/one?") => {
                let digest = t.split("digest=").nth(1).unwrap_or("").replace("%3A", ":");
                FakeResponse::new(201)
                    .header("Location", &format!("/v2/team/app/blobs/{digest}"))
                    .header("Docker-Content-Digest", &digest)
            }
            "PUT" if t.starts_with("/v2/team/app/manifests/") => {
                let digest = sealift::oci::Digest::of(&req.body).to_string();
                FakeResponse::new(201)
                    .header("Location", &format!("/v2/team/app/manifests/{digest}"))
                    .header("Docker-Content-Digest", &digest)
            }
            _ => not_found(),
        }
    })
}

/// README: "Credentials never appear in output", for `load` (the save side is
/// `promises::credentials_never_appear_in_verbose_output`): the most verbose output of
/// successful loads to a registry that wants basic auth, from stdin, the Docker config and
/// a credential helper, and to one that wants a bearer token.
#[test]
fn credentials_never_appear_in_verbose_load_output() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (user, pass) = ("alice", "pw-Load-2b9e");
    let src = TestRegistry::start();
    let img = random_image(&src.addr, "team/app", "1.0", &[1000]);
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    let b = bundle.to_str().unwrap().to_owned();
    ok_all(&sealift(&["save", &format!("{}/team/app:1.0", src.addr), "-o", &b]));
    let check = |what: &str, out: &Output, secrets: &[String]| {
        let all = ok_all(out);
        let level = if what.ends_with("-vv") { " DEBUG " } else { " INFO " };
        assert!(all.contains(level), "{what}: the verbose output is there: {all}");
        assert!(all.contains("team/app"), "{what}: the load said what it pushed: {all}");
        for s in secrets {
            assert!(!all.contains(s.as_str()), "{what}: a credential is in the output: {all}");
        }
    };
    let basic_secrets = vec![pass.to_owned(), b64(&format!("{user}:{pass}"))];
    let helper_dir = tempdir();
    let helper = helper_dir.path().join("docker-credential-sealiftload");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{pass}\"}}' \"$server\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", helper_dir.path().display(), std::env::var("PATH").unwrap());
    for v in ["-v", "-vv"] {
        fn load<'a>(b: &'a str, dst: &'a str, v: &'a str) -> Vec<&'a str> {
            vec!["load", b, "--to", dst, "--insecure-skip-verify", v]
        }

        let dst = TestRegistry::start_with_auth(user, pass);
        let mut args = load(&b, &dst.addr, v);
        args.extend(["--username", user, "--password-stdin"]);
        check(
            &format!("basic from stdin {v}"),
            &crate::support::sealift_with(&args, pass.as_bytes(), &[]),
            &basic_secrets,
        );
        assert!(dst.manifest_with(Some((user, pass)), "team/app", "1.0") != crate::support::Presence::Absent);

        let dst = TestRegistry::start_with_auth(user, pass);
        let cfg = tempdir();
        let auths = serde_json::json!({"auths": {dst.addr.clone(): {"auth": b64(&format!("{user}:{pass}"))}}});
        std::fs::write(cfg.path().join("config.json"), auths.to_string()).unwrap();
        let out = crate::support::sealift_with(
            &load(&b, &dst.addr, v),
            b"",
            &[("DOCKER_CONFIG", cfg.path().to_str().unwrap())],
        );
        check(&format!("docker config {v}"), &out, &basic_secrets);

        let dst = TestRegistry::start_with_auth(user, pass);
        let cfg = tempdir();
        let helpers = serde_json::json!({"credHelpers": {dst.addr.clone(): "sealiftload"}});
        std::fs::write(cfg.path().join("config.json"), helpers.to_string()).unwrap();
        let out = crate::support::sealift_with(
            &load(&b, &dst.addr, v),
            b"",
            &[("DOCKER_CONFIG", cfg.path().to_str().unwrap()), ("PATH", &path)],
        );
        check(&format!("credential helper {v}"), &out, &basic_secrets);
        assert!(dst.manifest_with(Some((user, pass)), "team/app", "1.0") != crate::support::Presence::Absent);

        let fake = bearer_target("bob", "pw-Token-0d4f", "tok-Load-8e21");
        let mut args = load(&b, &fake.addr, v);
        args.extend(["--username", "bob", "--password-stdin"]);
        let out = crate::support::sealift_with(&args, b"pw-Token-0d4f", &[]);
        let secrets = ["pw-Token-0d4f".to_owned(), b64("bob:pw-Token-0d4f"), "tok-Load-8e21".to_owned()];
        check(&format!("bearer {v}"), &out, &secrets);
        let reqs = fake.requests.lock().unwrap();
        let put = reqs.iter().find(|r| r.method == "PUT" && r.target == "/v2/team/app/manifests/1.0");
        assert_eq!(
            put.and_then(|r| r.header("authorization")),
            Some("Bearer tok-Load-8e21"),
            "the control: the manifest was pushed with the token"
        );
        assert_eq!(put.unwrap().body, img.manifest);
    }
}

/// docs/bundle.md, push order at the target: every blob before the first manifest; then per
/// image (its platforms, index and attachments): its manifests by digest (platforms before
/// their index, the image before what is attached to it), each referrers tag-schema index
/// after its referrer, the attachments' tags, and the image's own tag last. A proxy in
/// front of the target records the request lines in the order they were sent; a manifest
/// is sent only after the request it depends on was answered.
#[test]
fn the_target_gets_blobs_then_platforms_then_indexes_then_tags_then_attachments() {
    let w = crate::save_load::World::new();
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    ok_all(&w.save(&bundle, &[]));
    let dst = TestRegistry::start();
    let proxy = crate::support::CuttingProxy::start(&dst.addr, u64::MAX, 0);
    ok_all(&w.load(&bundle, &proxy.addr, &[]));
    let log = proxy.client_bytes();
    // A request line may follow the previous request's body on the same connection with no
    // line break between them (a manifest body ends in `}`): start it at its method.
    let methods = ["PUT /", "POST /", "HEAD /", "GET /", "PATCH /", "DELETE /"];
    let lines: Vec<&str> = log
        .split("\r\n")
        .filter(|l| l.ends_with(" HTTP/1.1"))
        .filter_map(|l| methods.iter().filter_map(|m| l.rfind(m)).max().map(|i| &l[i..]))
        .collect();
    let blob_writes: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let l = lines[i];
            (l.starts_with("PUT ") && l.contains("/blobs/uploads/")) || (l.starts_with("POST ") && l.contains("mount="))
        })
        .collect();
    // (repository, reference) of every manifest PUT, in order.
    let puts: Vec<(usize, String, String)> = (0..lines.len())
        .filter_map(|i| {
            let path = lines[i].strip_prefix("PUT /v2/")?.strip_suffix(" HTTP/1.1")?;
            let (repo, reference) = path.split_once("/manifests/")?;
            Some((i, repo.to_owned(), reference.to_owned()))
        })
        .collect();
    assert!(!blob_writes.is_empty() && !puts.is_empty(), "{lines:#?}");
    let at = |repo: &str, reference: &str| -> usize {
        puts.iter()
            .find(|(_, r, f)| r == repo && f == reference)
            .unwrap_or_else(|| panic!("no PUT of {repo} {reference}: {puts:#?}"))
            .0
    };
    let first_manifest = puts.iter().map(|p| p.0).min().unwrap();
    assert!(blob_writes.iter().all(|&b| b < first_manifest), "every blob before the first manifest: {lines:#?}");
    let d = |p: &crate::save_load::Pushed| p.digest.to_string();
    let index = at("team/multi", &d(&w.index));
    assert!(at("team/multi", &d(&w.amd64)) < index && at("team/multi", &d(&w.arm64)) < index, "platforms first");
    let image_tags = [at("team/multi", "1.0"), at("team/app", "1.0"), at("other/tool", "2.0")];
    assert!(index < image_tags[0], "the index before its tag");
    assert!(at("team/app", &d(&w.app)) < image_tags[1] && at("other/tool", &d(&w.tool)) < image_tags[2]);
    // Each repository holds one image here: its tag is the last of its manifest PUTs.
    let image_tag = |repo: &str| match repo {
        "team/multi" => image_tags[0],
        "team/app" => image_tags[1],
        _ => image_tags[2],
    };
    let images = [
        ("team/multi", &w.amd64),
        ("team/multi", &w.arm64),
        ("team/multi", &w.index),
        ("team/app", &w.app),
        ("other/tool", &w.tool),
    ];
    for (repo, a) in &w.attachments {
        let after = images.iter().filter(|(r, _)| r == repo).map(|(r, m)| at(r, &d(m))).max().unwrap();
        assert!(at(repo, &d(a)) > after, "attachment {} after its image's manifests: {puts:#?}", a.digest);
    }
    for (repo, tag, a) in &w.tagged {
        assert!(at(repo, tag) > at(repo, &d(a)), "{tag} after its manifest");
        assert!(at(repo, tag) < image_tag(repo), "{tag} before the image's own tag: {puts:#?}");
    }
    for (subject, r) in &w.referrers {
        let schema_index = puts
            .iter()
            .rposition(|(_, repo, f)| repo == "team/multi" && *f == subject.tag_prefix())
            .map(|i| puts[i].0)
            .unwrap_or_else(|| panic!("no referrers tag-schema index for {subject}: {puts:#?}"));
        assert!(schema_index > at("team/multi", &d(r)), "the referrers index of {subject} after its referrer");
        assert!(schema_index < image_tag("team/multi"), "the referrers index of {subject} before the image's tag");
    }
}
