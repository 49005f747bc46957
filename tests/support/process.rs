//! Every child process a test starts (sealift, skopeo, umoci, openssl, tar, chromium,
//! htpasswd) runs through [`run`]: under a deadline that fails the test with what the
//! child printed so far, so a hung child fails one test instead of hanging the suite.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any one child may run. Generous: the slowest child in the suite (chromium
/// rendering the audit report, on two loaded cores) takes seconds, not minutes; a child
/// past this is hung, not slow.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(180);

/// A tool the test needs: its absence fails the test with how to install it (a missing tool
/// must never turn into a silent pass).
pub fn require_tool(tool: &str, package: &str) {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file())).unwrap_or(false);
    assert!(found, "{tool} is not installed: `make test` installs it (apt-get install {package})");
}

/// `openssl req` with a new unencrypted P-256 key (`-keyout` among `args`), run in `dir`:
/// with `-x509` a self-signed certificate, without it a certificate request. Fails the
/// test with openssl's stderr if openssl fails.
pub fn openssl_req_new_p256(dir: &std::path::Path, args: &[&str]) {
    require_tool("openssl", "openssl");
    let mut all = vec!["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    all.extend_from_slice(args);
    let out = run(Command::new("openssl").args(&all).current_dir(dir), b"");
    assert!(out.status.success(), "openssl {all:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `cmd` to completion with `stdin` fed to it, capturing stdout and stderr; panics
/// (failing the test) if it cannot start or is still running after [`CHILD_TIMEOUT`].
pub fn run(cmd: &mut Command, stdin: &[u8]) -> Output {
    run_with_timeout(cmd, stdin, CHILD_TIMEOUT)
}

/// [`run`] with an explicit deadline.
pub fn run_with_timeout(cmd: &mut Command, stdin: &[u8], timeout: Duration) -> Output {
    let what = format!("{:?}", cmd.get_program());
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| {
            panic!("starting {what}: {e} (is it installed? `make test` installs what the tests need)")
        });
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    // Write from a thread: a child that does not read stdin must not deadlock the test.
    std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let stdout = drain(child.stdout.take().expect("stdout is piped"), done_tx.clone());
    let stderr = drain(child.stderr.take().expect("stderr is piped"), done_tx);
    let deadline = Instant::now() + timeout;
    // Both pipes at EOF is the event that the child is done (or has closed them); a child
    // whose own children keep the pipes open is caught by try_wait below.
    let mut open = 2;
    let status: ExitStatus = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} still running after {timeout:?}: killed.\nargs: {:?}\nstdout so far: {}\nstderr so far: {}",
                cmd.get_args().collect::<Vec<_>>(),
                String::from_utf8_lossy(&stdout.lock().unwrap()),
                String::from_utf8_lossy(&stderr.lock().unwrap())
            );
        }
        if open > 0 {
            match done_rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(()) => open -= 1,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => open = 0,
            }
        }
        match child.try_wait() {
            Ok(Some(status)) if open == 0 => break status,
            Ok(Some(status)) => {
                // Exited, but a grandchild still holds a pipe: give the readers a moment to
                // catch up with what the child itself wrote, then stop waiting for EOF.
                let _ = done_rx.recv_timeout(Duration::from_secs(2));
                let _ = done_rx.recv_timeout(Duration::from_secs(2));
                break status;
            }
            Ok(None) => {}
            Err(e) => panic!("waiting for {what}: {e}"),
        }
        if open == 0 {
            // Pipes closed, process still there: wait for it under the same deadline.
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let stdout = stdout.lock().unwrap().clone();
    let stderr = stderr.lock().unwrap().clone();
    Output { status, stdout, stderr }
}

/// Reads `pipe` to EOF into a shared buffer on a thread; signals `done` at EOF.
fn drain(mut pipe: impl Read + Send + 'static, done: mpsc::Sender<()>) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let out = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
        let _ = done.send(());
    });
    buf
}
