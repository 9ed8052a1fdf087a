//! A server on a temporary directory and a way to run the built `shoal` binary against it.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use shoal_server::{Server, ServerConfig};

/// No command in these tests may take longer.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

pub struct TestServer {
    server: Option<Server>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(|_| ())
    }

    /// A server that also serves metrics (on an ephemeral port).
    pub fn start_with_metrics() -> TestServer {
        Self::start_with(|c| c.metrics = Some("127.0.0.1:0".parse().expect("addr")))
    }

    /// A server whose test configuration `edit` changes first.
    pub fn start_with(edit: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
        let mut config = ServerConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
        config.engine.cores = 2;
        // Short subscriptions, so that fan-out tails cross a lifetime.
        config.engine.subscription.lifetime_ms = 400;
        config.engine.log.segment_bytes = 1 << 20;
        edit(&mut config);
        let server = Server::start(config).expect("server starts");
        TestServer { server: Some(server), _dir: dir }
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").metrics_addr().expect("metrics are served")
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").local_addr()
    }

    /// `shoal ARGS --addr <this server>`, with `stdin` as its input.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Outcome {
        let addr = self.addr().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--addr", &addr]);
        run(&all, stdin)
    }
}

impl TestServer {
    /// Like [`TestServer::run`], without waiting and without input.
    pub fn spawn(&self, args: &[&str]) -> Child {
        let addr = self.addr().to_string();
        Command::new(env!("CARGO_BIN_EXE_shoal"))
            .args(args)
            .args(["--addr", &addr])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn shoal")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.shutdown();
        }
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Outcome {
    pub fn stdout(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("utf8 stdout")
    }

    #[track_caller]
    pub fn ok(self) -> Outcome {
        assert_eq!(self.code, 0, "shoal failed: {self:?}");
        self
    }
}

/// Runs `shoal ARGS` with `stdin` and waits, at most [`COMMAND_TIMEOUT`].
pub fn run(args: &[&str], stdin: &[u8]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shoal");
    let mut input = child.stdin.take().expect("stdin");
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let output = wait(child, COMMAND_TIMEOUT);
    writer.join().expect("stdin writer");
    Outcome::from(output)
}

impl From<Output> for Outcome {
    fn from(output: Output) -> Outcome {
        Outcome {
            code: output.status.code().expect("exited, not killed by a signal"),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Waits for `child` while reading its output (a full pipe would stall it), killing it and
/// failing the test after `timeout`.
pub fn wait(child: Child, timeout: Duration) -> Output {
    let pid = child.id();
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match outcome.recv_timeout(timeout) {
        Ok(output) => output.expect("output"),
        Err(_) => {
            // The child is ours: this kills exactly the process the test started.
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("shoal (pid {pid}) did not finish within {timeout:?}");
        }
    }
}
