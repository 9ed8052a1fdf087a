//! The server under load (a running one, or one started in this process) and the stream.
//!
//! Every call here waits until a deadline at most (see [`crate::budget`]): the embedded
//! server's start and shutdown run on a thread of their own that is left behind at the
//! deadline, and calls to the server race it.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shoal_protocol::client::Client;
use shoal_protocol::ops::{
    CreateStream, DeleteStream, DescribeStreamSummary, ListShards, Shard, ShardLimits, StreamStatus,
};
use shoal_server::{Server, ServerConfig};

use crate::budget::{self, Phase};

/// Between two looks at a stream that is not ACTIVE yet.
const ACTIVE_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The server the load goes to.
pub struct Target {
    pub addr: SocketAddr,
    embedded: Option<(Server, tempfile::TempDir)>,
    pub server_cores: Option<usize>,
}

impl Target {
    /// Starts a server in this process on a new temporary directory inside `parent` (or the
    /// system's temporary directory), listening on a free port of 127.0.0.1; a start not done
    /// by `deadline` is a stall of the setup.
    pub fn embedded_until(parent: Option<&Path>, cores: usize, deadline: Instant) -> Result<Target, String> {
        let parent = parent.map(Path::to_path_buf);
        let started = Instant::now();
        budget::run_until("loadgen-server-start", deadline, move || Target::embedded(parent.as_deref(), cores))
            .map_err(|e| format!("cannot start a thread for the embedded server: {e}"))?
            .unwrap_or_else(|| {
                let what = format!("the embedded server did not start in {:.1} s", started.elapsed().as_secs_f64());
                Err(budget::stalled(Phase::Setup, &what))
            })
    }

    /// [`Target::embedded_until`] without a deadline.
    pub fn embedded(parent: Option<&Path>, cores: usize) -> Result<Target, String> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("shoal-loadgen-");
        let dir = match parent {
            Some(p) => builder.tempdir_in(p),
            None => builder.tempdir(),
        }
        .map_err(|e| format!("cannot create a temporary data directory: {e}"))?;
        let listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = ServerConfig::new(dir.path(), listen);
        config.engine.cores = cores;
        let cores = config.engine.executors();
        let server = Server::start(config)
            .map_err(|e| format!("cannot start the embedded server in {}: {e}", dir.path().display()))?;
        Ok(Target { addr: server.local_addr(), embedded: Some((server, dir)), server_cores: Some(cores) })
    }

    /// The server at `addr`, resolved by `deadline` (a name server may stall too).
    pub fn remote(addr: &str, deadline: Instant) -> Result<Target, String> {
        let name = addr.to_string();
        let started = Instant::now();
        let resolved = budget::run_until("loadgen-resolve", deadline, move || {
            name.to_socket_addrs().map(|mut addrs| addrs.next())
        })
        .map_err(|e| format!("cannot start a thread to resolve {addr}: {e}"))?
        .ok_or_else(|| {
            let what = format!("resolving {addr} took over {:.1} s", started.elapsed().as_secs_f64());
            budget::stalled(Phase::Setup, &what)
        })?;
        let addr = resolved
            .map_err(|e| format!("cannot resolve {addr}: {e}"))?
            .ok_or_else(|| format!("{addr} resolves to no address"))?;
        Ok(Target { addr, embedded: None, server_cores: None })
    }

    /// The embedded server's data directory.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.embedded.as_ref().map(|(_, dir)| dir.path().to_path_buf())
    }

    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// Stops an embedded server gracefully and removes its data.
    pub fn shutdown(self) -> Result<(), String> {
        if let Some((server, dir)) = self.embedded {
            server.shutdown().map_err(|e| format!("embedded server shutdown: {e}"))?;
            drop(dir);
        }
        Ok(())
    }

    /// [`Target::shutdown`], given up at `deadline`: a stall of the teardown then, and the data
    /// directory stays where it is.
    pub fn shutdown_until(self, deadline: Instant) -> Result<(), String> {
        if self.embedded.is_none() {
            return Ok(());
        }
        let dir = self.data_dir().map(|d| d.display().to_string()).unwrap_or_default();
        let started = Instant::now();
        budget::run_until("loadgen-server-stop", deadline, move || self.shutdown())
            .map_err(|e| format!("cannot start a thread to stop the embedded server: {e}"))?
            .unwrap_or_else(|| {
                let waited = started.elapsed().as_secs_f64();
                let what = format!("the embedded server did not shut down in {waited:.1} s (data in {dir})");
                Err(budget::stalled(Phase::Teardown, &what))
            })
    }
}

/// Creates a stream and waits until it is ACTIVE, by `deadline`.
pub fn create_stream(
    client: &Client,
    name: &str,
    shards: u32,
    limits: Option<ShardLimits>,
    deadline: Instant,
) -> Result<(), String> {
    let unlimited = ShardLimits {
        write_bytes_per_second: u32::MAX,
        write_records_per_second: u32::MAX,
        read_bytes_per_second: u32::MAX,
        read_calls_per_second: u32::MAX,
    };
    let request = CreateStream { shard_limits: Some(limits.unwrap_or(unlimited)), ..CreateStream::new(name, shards) };
    let started = Instant::now();
    budget::call(Phase::Setup, deadline, &format!("CreateStream {name}"), client.create_stream(request))?;
    loop {
        let what = format!("DescribeStreamSummary {name}");
        let summary = budget::call(
            Phase::Setup,
            deadline,
            &what,
            client.describe_stream_summary(DescribeStreamSummary::new(name)),
        )?;
        if summary.status == StreamStatus::Active {
            return Ok(());
        }
        if Instant::now() + ACTIVE_POLL_INTERVAL >= deadline {
            let waited = started.elapsed().as_secs_f64();
            let what = format!("stream {name} is still {} after {waited:.1} s", summary.status.name());
            return Err(budget::stalled(Phase::Setup, &what));
        }
        std::thread::sleep(ACTIVE_POLL_INTERVAL);
    }
}

/// Every shard of the stream (all pages), by `deadline`.
pub fn list_shards(client: &Client, name: &str, deadline: Instant) -> Result<Vec<Shard>, String> {
    let mut shards = Vec::new();
    let mut request = ListShards::for_stream(name);
    loop {
        let out = budget::call(Phase::Setup, deadline, &format!("ListShards {name}"), client.list_shards(request))?;
        shards.extend(out.shards);
        match out.next_token {
            Some(token) => request = ListShards::next_page(token),
            None => return Ok(shards),
        }
    }
}

/// Deletes the stream by `deadline`; a stall of the teardown otherwise.
pub fn delete_stream(client: &Client, name: &str, deadline: Instant) -> Result<(), budget::CallError> {
    budget::call(
        Phase::Teardown,
        deadline,
        &format!("DeleteStream {name}"),
        client.delete_stream(DeleteStream::new(name)),
    )
}
