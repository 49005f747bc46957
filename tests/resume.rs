//! Resumable downloads during `save`: a connection cut in the middle of a layer (by a
//! proxy in front of the real registry) resumes with a `Range` request from where it
//! stopped, up to `--retries`; a registry that ignores `Range` (the in-process fake: a real
//! one honours it) has the bytes already written skipped; the digest still decides.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sealift::oci::{media, Digest};
use serde_json::json;

use crate::support::{
    extract_bundle, ok_all, random_bytes, random_image, sealift, tempdir, CuttingProxy, FakeResponse, FakeServer,
    TestRegistry,
};

const MIB: usize = 1024 * 1024;

fn blob_in(layout: &std::path::Path, d: &Digest) -> Vec<u8> {
    std::fs::read(layout.join("blobs/sha256").join(d.hex())).unwrap_or_else(|e| panic!("blob {d}: {e}"))
}

#[test]
fn a_layer_cut_mid_body_resumes_from_where_it_stopped() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "team/app", "1.0", &[4 * MIB, 100_000]);
    // The first two connections that carry 1 MiB are cut there: inside the 4 MiB layer.
    let proxy = CuttingProxy::start(&reg.addr, MIB as u64, 2);
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    ok_all(&sealift(&["save", &format!("{}/team/app:1.0", proxy.addr), "-o", bundle.to_str().unwrap()]));
    assert_eq!(proxy.cuts_left(), 0, "both cuts happened");
    assert_eq!(proxy.range_requests(), 2, "{}", proxy.client_bytes());
    // Resumed, not restarted: the registry sent the layers about once.
    let layers: u64 = img.layers.iter().map(|l| l.1).sum();
    let sent = proxy.bytes_from_server();
    assert!(sent < layers + 256 * 1024, "the registry sent {sent} bytes for {layers} bytes of layers");

    let layout = extract_bundle(&bundle, dir.path(), "layout");
    for (d, size) in &img.layers {
        let bytes = blob_in(&layout, d);
        assert_eq!((Digest::of(&bytes), bytes.len() as u64), (d.clone(), *size));
    }
}

#[test]
fn a_layer_cut_more_often_than_retries_allow_fails_cleanly() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "team/app", "1.0", &[3 * MIB]);
    let proxy = CuttingProxy::start(&reg.addr, MIB as u64 / 2, 100);
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    let out =
        sealift(&["save", &format!("{}/team/app:1.0", proxy.addr), "-o", bundle.to_str().unwrap(), "--retries", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.trim().lines().last().unwrap().contains(&img.layers[0].0.to_string()), "{err}");
    assert_eq!(proxy.range_requests(), 1, "--retries 1: one resumption");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "no bundle and no temporary file: {left:?}");
}

/// What the fake registry does with a download resumed by `Range`.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    /// Ignores Range: 200 with the whole blob.
    Whole,
    /// Ignores Range and serves other bytes of the same length.
    WholeButOther,
    /// 206 from another offset than asked.
    WrongRange,
}

/// A fake registry serving one image whose layer's first GET breaks off after a third of
/// its bytes (Content-Length promised more), or with `stall` sends that third and then
/// nothing until the flag is set; later GETs are answered per `answer`.
fn fake(answer: Answer) -> (FakeServer, Digest, Vec<u8>) {
    fake_with(answer, None)
}

fn fake_with(answer: Answer, stall: Option<Arc<AtomicBool>>) -> (FakeServer, Digest, Vec<u8>) {
    let layer = Arc::new(random_bytes(300_000));
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let (ld, cd) = (Digest::of(&layer), Digest::of(&config));
    let manifest = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": media::OCI_CONFIG, "digest": cd.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld.to_string(), "size": layer.len()}]}))
    .unwrap();
    let (layer_path, config_path) = (format!("/v2/app/blobs/{ld}"), format!("/v2/app/blobs/{cd}"));
    let bytes = layer.clone();
    let server = FakeServer::start(move |req, _| {
        let t = req.target.as_str();
        if t == "/v2/" {
            return FakeResponse::new(200);
        }
        if t == "/v2/app/manifests/1.0" {
            return FakeResponse::new(200).header("Content-Type", media::OCI_MANIFEST).body(manifest.clone());
        }
        if t == config_path {
            return FakeResponse::new(200).body(config.clone());
        }
        if t != layer_path {
            return FakeResponse::new(404);
        }
        let (layer, stall) = (bytes.clone(), stall.clone());
        let len = layer.len().to_string();
        match req.header("range") {
            None => FakeResponse::new(200).header("Content-Length", &len).body_writer(move |w| {
                w.write_all(&layer[..layer.len() / 3])?;
                w.flush()?;
                while stall.as_ref().is_some_and(|released| !released.load(Ordering::SeqCst)) {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Ok(())
            }),
            Some(_) if answer == Answer::WrongRange => FakeResponse::new(206)
                .header("Content-Range", &format!("bytes 0-{}/{len}", layer.len() - 1))
                .body(layer.to_vec()),
            Some(_) if answer == Answer::WholeButOther => FakeResponse::new(200).body(random_bytes(layer.len())),
            Some(_) => FakeResponse::new(200).body(layer.to_vec()),
        }
    });
    (server, ld, layer.to_vec())
}

fn layer_gets(server: &FakeServer, layer: &Digest) -> Vec<Option<String>> {
    let path = format!("/v2/app/blobs/{layer}");
    server.requests().iter().filter(|r| r.target == path).map(|r| r.header("range").map(str::to_owned)).collect()
}

#[test]
fn a_registry_ignoring_range_has_the_bytes_already_written_skipped() {
    let (server, layer_digest, layer) = fake(Answer::Whole);
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    ok_all(&sealift(&["save", &format!("{}/app:1.0", server.addr), "-o", bundle.to_str().unwrap()]));
    let gets = layer_gets(&server, &layer_digest);
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(gets[0].is_none() && gets[1].as_deref().is_some_and(|r| r.starts_with("bytes=")), "{gets:?}");
    let layout = extract_bundle(&bundle, dir.path(), "layout");
    assert!(blob_in(&layout, &layer_digest) == layer, "the layer in the bundle is the layer");
}

#[test]
fn a_stalled_layer_resumes_too() {
    // The first body stalls until the save is over: only a resumption can finish it.
    let released = Arc::new(AtomicBool::new(false));
    let (server, layer_digest, layer) = fake_with(Answer::Whole, Some(released.clone()));
    let dir = tempdir();
    let bundle = dir.path().join("b.tar");
    let out = sealift(&["save", &format!("{}/app:1.0", server.addr), "-o", bundle.to_str().unwrap(), "--timeout", "1"]);
    released.store(true, Ordering::SeqCst);
    ok_all(&out);
    let gets = layer_gets(&server, &layer_digest);
    assert!(gets.len() == 2 && gets[1].is_some(), "{gets:?}");
    let layout = extract_bundle(&bundle, dir.path(), "layout");
    assert!(blob_in(&layout, &layer_digest) == layer, "the layer in the bundle is the layer");
}

#[test]
fn other_bytes_or_another_range_after_a_resume_are_refused() {
    for (answer, says) in [(Answer::WholeButOther, "content hashes to"), (Answer::WrongRange, "partial answer")] {
        let (server, layer_digest, _) = fake(answer);
        let dir = tempdir();
        let bundle = dir.path().join("b.tar");
        let out = sealift(&["save", &format!("{}/app:1.0", server.addr), "-o", bundle.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        let last = err.trim().lines().last().unwrap();
        assert!(last.contains(&layer_digest.to_string()) && last.contains(says), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "no bundle and no temporary file: {left:?}: {err}");
        assert_eq!(layer_gets(&server, &layer_digest).len(), 2);
    }
}
