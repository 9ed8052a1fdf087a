//! The server under load (a running one, or one started in this process) and the stream.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shoal_protocol::client::BlockingClient;
use shoal_protocol::ops::{
    CreateStream, DeleteStream, DescribeStreamSummary, ListShards, Shard, ShardLimits, StreamStatus,
};
use shoal_server::{Server, ServerConfig};

/// How long a created stream may take to become ACTIVE.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// The server the load goes to.
pub struct Target {
    pub addr: SocketAddr,
    embedded: Option<(Server, tempfile::TempDir)>,
    pub server_cores: Option<usize>,
}

impl Target {
    /// Starts a server in this process on a new temporary directory inside `parent` (or the
    /// system's temporary directory), listening on a free port of 127.0.0.1.
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
        let cores = match cores {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let server = Server::start(config)
            .map_err(|e| format!("cannot start the embedded server in {}: {e}", dir.path().display()))?;
        Ok(Target { addr: server.local_addr(), embedded: Some((server, dir)), server_cores: Some(cores) })
    }

    pub fn remote(addr: &str) -> Result<Target, String> {
        let addr = addr
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {addr}: {e}"))?
            .next()
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
}

/// Creates a stream and waits until it is ACTIVE.
pub fn create_stream(
    client: &BlockingClient,
    name: &str,
    shards: u32,
    limits: Option<ShardLimits>,
) -> Result<(), String> {
    let unlimited = ShardLimits {
        write_bytes_per_second: u32::MAX,
        write_records_per_second: u32::MAX,
        read_bytes_per_second: u32::MAX,
        read_calls_per_second: u32::MAX,
    };
    let request = CreateStream { shard_limits: Some(limits.unwrap_or(unlimited)), ..CreateStream::new(name, shards) };
    client.create_stream(request).map_err(|e| format!("CreateStream {name}: {e}"))?;
    let deadline = Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let summary = client
            .describe_stream_summary(DescribeStreamSummary::new(name))
            .map_err(|e| format!("DescribeStreamSummary {name}: {e}"))?;
        if summary.status == StreamStatus::Active {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("stream {name} is still {} after {ACTIVE_TIMEOUT:?}", summary.status.name()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every shard of the stream (all pages).
pub fn list_shards(client: &BlockingClient, name: &str) -> Result<Vec<Shard>, String> {
    let mut shards = Vec::new();
    let mut request = ListShards::for_stream(name);
    loop {
        let out = client.list_shards(request).map_err(|e| format!("ListShards {name}: {e}"))?;
        shards.extend(out.shards);
        match out.next_token {
            Some(token) => request = ListShards::next_page(token),
            None => return Ok(shards),
        }
    }
}

pub fn delete_stream(client: &BlockingClient, name: &str) -> Result<(), String> {
    client.delete_stream(DeleteStream::new(name)).map_err(|e| format!("DeleteStream {name}: {e}"))
}
