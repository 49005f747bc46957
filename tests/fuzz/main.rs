//! Fuzzing on the stable toolchain: mutation of the real corpus (tests/data) against every
//! parser of untrusted input, each input under a time and memory watchdog. See
//! docs/fuzzing.md for how to run it and what it found.
//!
//! `cargo test --test fuzz` (part of `make test`) replays the seeds and every minimized
//! finding in tests/data/fuzz-regressions/<target>/; the long runs are `#[ignore]`d:
//! `SEALIFT_FUZZ_SECS=600 cargo test --test fuzz -- --ignored fuzz_tar`.

mod mutate;
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mutate::{mutate, Rng};
use targets::{Target, TARGETS};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn target(name: &str) -> &'static Target {
    TARGETS.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no fuzz target {name}"))
}

fn regressions_dir(t: &Target) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions").join(t.name)
}

/// Resident memory of this process, from /proc (0 where there is none).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// What the watchdog needs to name the input that hung or grew without bound.
struct Current {
    input: Mutex<Vec<u8>>,
    started: AtomicU64,
    busy: AtomicBool,
    done: AtomicBool,
}

/// Runs one input; a panic is returned as its message.
fn run_one(t: &Target, input: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| (t.run)(input))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panic".to_owned())
    })
}

fn save_finding(t: &Target, kind: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-findings").join(t.name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{kind}-{}", &sealift::oci::Digest::of(input).hex()[..16]));
    std::fs::write(&path, input).unwrap();
    path
}

/// Fuzzes `t` for `SEALIFT_FUZZ_SECS` (default 60) seconds; fails if any input panicked.
/// An input that runs past `SEALIFT_FUZZ_INPUT_SECS` (default 10) or drives resident memory
/// past `SEALIFT_FUZZ_MAX_RSS_MB` (default 1024) is saved and the process aborted: a hang
/// cannot be unwound.
fn fuzz(name: &str) {
    let t = target(name);
    let secs = env_u64("SEALIFT_FUZZ_SECS", 60);
    let input_limit = Duration::from_secs(env_u64("SEALIFT_FUZZ_INPUT_SECS", 10));
    let max_rss = env_u64("SEALIFT_FUZZ_MAX_RSS_MB", 1024) << 20;
    let seed = env_u64("SEALIFT_FUZZ_SEED", 0x05ea_11f7);
    let seeds = (t.seeds)();
    assert!(!seeds.is_empty(), "{name} has seeds");
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let cur = Arc::new(Current {
        input: Mutex::new(Vec::new()),
        started: AtomicU64::new(0),
        busy: AtomicBool::new(false),
        done: AtomicBool::new(false),
    });
    let epoch = Instant::now();
    let dog = {
        let cur = cur.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !cur.done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let rss = rss_bytes();
                peak = peak.max(rss);
                let busy_for =
                    epoch.elapsed().saturating_sub(Duration::from_millis(cur.started.load(Ordering::Relaxed)));
                let hung = cur.busy.load(Ordering::Relaxed) && busy_for > input_limit;
                if hung || rss > max_rss {
                    let input = cur.input.lock().unwrap().clone();
                    let kind = if hung { "hang" } else { "memory" };
                    let p = save_finding(t, kind, &input);
                    eprintln!("fuzz {}: {kind} (rss {} MiB), input saved to {}", t.name, rss >> 20, p.display());
                    std::process::abort();
                }
            }
            peak
        })
    };
    let mut rng = Rng::new(seed);
    let mut execs = 0u64;
    let mut panics = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let mut input = seeds[rng.below(seeds.len())].clone();
        match &t.codec {
            Some(c) if rng.chance(2) => match (c.decode)(&input) {
                Some(mut plain) => {
                    mutate(&mut rng, &mut plain, &[], t.json);
                    input = (c.encode)(&plain);
                }
                None => mutate(&mut rng, &mut input, &seeds, t.json),
            },
            _ => mutate(&mut rng, &mut input, &seeds, t.json),
        }
        *cur.input.lock().unwrap() = input.clone();
        cur.started.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        cur.busy.store(true, Ordering::Relaxed);
        let r = run_one(t, &input);
        cur.busy.store(false, Ordering::Relaxed);
        execs += 1;
        if let Err(msg) = r {
            let p = save_finding(t, "panic", &input);
            if panics.len() < 20 {
                eprintln!("fuzz {}: panic {msg:?}, input saved to {}", t.name, p.display());
            }
            panics.push(msg);
        }
    }
    cur.done.store(true, Ordering::Relaxed);
    let peak = dog.join().unwrap();
    std::panic::set_hook(quiet);
    eprintln!(
        "fuzz {}: {execs} executions in {secs} s ({} seeds, seed {seed:#x}), {} panics, peak rss {} MiB",
        t.name,
        seeds.len(),
        panics.len(),
        peak >> 20
    );
    assert!(panics.is_empty(), "{name}: {} inputs panicked, first: {}", panics.len(), panics[0]);
}

/// The seeds and every saved regression input of every target run without panicking, each
/// within the per-input time limit.
#[test]
fn seeds_and_regressions_run_clean() {
    let limit = Duration::from_secs(env_u64("SEALIFT_FUZZ_INPUT_SECS", 10));
    let mut failures = Vec::new();
    for t in TARGETS {
        let mut inputs: Vec<(String, Vec<u8>)> =
            (t.seeds)().into_iter().enumerate().map(|(i, s)| (format!("seed {i}"), s)).collect();
        inputs.extend(hostile_shapes(t));
        if let Ok(rd) = std::fs::read_dir(regressions_dir(t)) {
            for e in rd.flatten() {
                inputs.push((e.path().display().to_string(), std::fs::read(e.path()).unwrap()));
            }
        }
        for (what, input) in inputs {
            let start = Instant::now();
            if let Err(msg) = run_one(t, &input) {
                failures.push(format!("{} {what}: panicked: {msg}", t.name));
            }
            if start.elapsed() > limit {
                failures.push(format!("{} {what}: took {:?}", t.name, start.elapsed()));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Shapes a blind mutator rarely builds: nesting 100,000 deep (a recursive parser would
/// overflow its stack) in JSON for the JSON targets, in TOML arrays, inline tables and
/// dotted keys for the policy.
fn hostile_shapes(t: &Target) -> Vec<(String, Vec<u8>)> {
    let deep = 100_000;
    let mut out = Vec::new();
    if t.json {
        out.push(("nested arrays".to_owned(), "[".repeat(deep).into_bytes()));
        out.push(("nested objects".to_owned(), "{\"a\":".repeat(deep).into_bytes()));
    }
    if t.name == "policy-toml" {
        for (what, body) in [
            ("arrays", "x = ".to_owned() + &"[".repeat(deep)),
            ("inline tables", "x = ".to_owned() + &"{a=".repeat(deep)),
            ("dotted keys", "a.".repeat(deep) + "b = 1"),
        ] {
            out.push((format!("nested {what}"), format!("version = 1\n{body}\n").into_bytes()));
        }
    }
    out
}

macro_rules! fuzz_targets {
    ($($fn:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            #[ignore = "long: run with SEALIFT_FUZZ_SECS, see docs/fuzzing.md"]
            fn $fn() {
                fuzz($name);
            }
        )*
        /// Every target has its ignored test.
        #[test]
        fn every_target_has_a_test() {
            let listed = [$($name),*];
            for t in TARGETS {
                assert!(listed.contains(&t.name), "{} has no fuzz_ test", t.name);
            }
        }
    };
}

fuzz_targets! {
    fuzz_tar => "tar",
    fuzz_tar_zstd => "tar-zstd",
    fuzz_tar_gzip => "tar-gzip",
    fuzz_index_json => "index-json",
    fuzz_manifest => "manifest",
    fuzz_simple_signing => "simple-signing",
    fuzz_sigstore_bundle => "sigstore-bundle",
    fuzz_dsse => "dsse",
    fuzz_der => "der",
    fuzz_cert_annotations => "cert-annotations",
    fuzz_seal => "seal",
    fuzz_policy_toml => "policy-toml",
    fuzz_inventory => "inventory",
    fuzz_rfc3161 => "rfc3161",
    fuzz_checkpoint => "checkpoint",
    fuzz_inclusion_proof => "inclusion-proof",
}
