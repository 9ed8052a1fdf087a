//! A server that stalls: the binary must end before its time bound with a failure that says
//! what stalled, never hang. The servers here are listeners on 127.0.0.1 that accept and never
//! answer (reading or not), and a proxy in front of an embedded server that stops forwarding
//! once the load has begun. The only timing asserted is that the run ends before its bound
//! (plus a generous allowance for a loaded machine).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Past the run's own bound, how long a test waits before it calls the run hung.
const HANG_ALLOWANCE: Duration = Duration::from_secs(15);

/// Starts the binary with `args`, waits for it at most its printed time bound plus
/// [`HANG_ALLOWANCE`] (killing it then and failing), and returns its output and how long it ran.
fn run_bounded(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_shoal-loadgen"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shoal-loadgen");
    // Read both pipes on threads, so a full pipe cannot block the run.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = Arc::new(Mutex::new(Vec::new()));
    let err_sink = Arc::clone(&err);
    let err_reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            err_sink.lock().expect("stderr buffer").extend_from_slice(&buf[..n]);
        }
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        let printed = String::from_utf8_lossy(&err.lock().expect("stderr buffer")).into_owned();
        let bound = printed_bound(&printed).unwrap_or(Duration::from_secs(60));
        if started.elapsed() > bound + HANG_ALLOWANCE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("shoal-loadgen {args:?} still running after {:?}; stderr:\n{printed}", started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let stdout = out.join().expect("stdout reader");
    err_reader.join().expect("stderr reader");
    let stderr = err.lock().expect("stderr buffer").clone();
    (Output { status, stdout, stderr }, elapsed)
}

/// The bound from the first line the run prints: `time bound 23.5 s: ...`.
fn printed_bound(stderr: &str) -> Option<Duration> {
    let rest = stderr.split("time bound ").nth(1)?;
    let secs: f64 = rest.split(' ').next()?.parse().ok()?;
    Some(Duration::from_secs_f64(secs))
}

/// A listener on 127.0.0.1 that accepts every connection and never answers; with `read`, it
/// reads (and drops) everything sent to it, else it reads nothing.
fn silent_listener(read: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            if read {
                let mut stream = stream;
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64 * 1024];
                    while let Ok(1..) = stream.read(&mut buf) {}
                });
            } else {
                held.push(stream);
            }
        }
    });
    addr
}

fn assert_setup_stall(read: bool) {
    let addr = silent_listener(read);
    let (out, elapsed) = run_bounded(&["--addr", &addr, "--duration", "1s", "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let bound = printed_bound(&stderr).unwrap_or_else(|| panic!("no time bound printed:\n{stderr}"));
    assert!(elapsed < bound + HANG_ALLOWANCE, "{elapsed:?} against a bound of {bound:?}");
    assert!(stderr.contains("stalled in setup: CreateStream loadgen-"), "{stderr}");
    assert!(stderr.contains("got no answer in") && stderr.contains("nothing was verified"), "{stderr}");
}

#[test]
fn a_server_that_accepts_and_never_answers_fails_the_setup_within_the_bound() {
    assert_setup_stall(false);
}

#[test]
fn a_server_that_reads_and_never_answers_fails_the_setup_within_the_bound() {
    assert_setup_stall(true);
}

/// A proxy to `server` on 127.0.0.1 that forwards both ways until the `stall_after`-th
/// connection has been open for `delay`; then it forwards nothing more, in either direction,
/// but keeps every connection open and reads what clients send.
fn stalling_proxy(server: String, stall_after: usize, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let stalled = Arc::new(AtomicBool::new(false));
    let accepted = AtomicUsize::new(0);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(upstream) = TcpStream::connect(&server) else { return };
            if accepted.fetch_add(1, Ordering::Relaxed) + 1 == stall_after {
                let stalled = Arc::clone(&stalled);
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    stalled.store(true, Ordering::Relaxed);
                });
            }
            for (from, to) in [(&client, &upstream), (&upstream, &client)] {
                let (mut from, mut to) = (from.try_clone().expect("clone"), to.try_clone().expect("clone"));
                let stalled = Arc::clone(&stalled);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64 * 1024];
                    while let Ok(n @ 1..) = from.read(&mut buf) {
                        if !stalled.load(Ordering::Relaxed) && to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        }
    });
    addr
}

#[test]
fn a_server_that_stops_answering_during_the_load_fails_the_run_within_the_bound() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = shoal_server::ServerConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
    config.engine.cores = 1;
    let server = shoal_server::Server::start(config).expect("server");
    // Connections: the admin client, one polled consumer, one producer. The stall comes once the
    // producer has been connected a moment, in the warm-up.
    let proxy = stalling_proxy(server.local_addr().to_string(), 3, Duration::from_millis(200));
    let args = [
        "--addr",
        &proxy,
        "--shards",
        "1",
        "--producers",
        "1",
        "--duration",
        "1s",
        "--drain-timeout",
        "2s",
        "--keep-stream",
        "--json",
        "--quiet",
    ];
    let (out, elapsed) = run_bounded(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}\nstdout:\n{stdout}");
    let bound = printed_bound(&stderr).unwrap_or_else(|| panic!("no time bound printed:\n{stderr}"));
    assert!(elapsed < bound + HANG_ALLOWANCE, "{elapsed:?} against a bound of {bound:?}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
    assert_eq!(report["passed"], false);
    assert_eq!(report["time_bound_seconds"].as_f64(), Some(bound.as_secs_f64()));
    let reasons: Vec<&str> =
        report["failure_reasons"].as_array().expect("reasons").iter().filter_map(Value::as_str).collect();
    assert!(reasons.first().is_some_and(|r| r.starts_with("stalled")), "the stall is named first: {reasons:#?}");
    assert!(reasons.iter().any(|r| r.contains("not verified")), "{reasons:#?}");
    // Not shut down: the proxy keeps its connections open. Its threads end with the test binary.
    drop(server);
}
