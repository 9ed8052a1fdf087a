//! The client commands of `shoal`: `stream`, `consumer`, `put`, `get` and `tail`, for people at a terminal
//! and for scripts. Each talks to a running server through the Rust client of
//! `shoal-protocol` (blocking, from plain threads) and ends with one of the exit codes in
//! [`exit`].
//!
//! # Layout
//!
//! - `exit`: the exit codes and [`CliError`], which maps client failures to a message that says
//!   what to do and to a code.
//! - `stream`: create, delete, list, describe, retention.
//! - `reshard`: `stream split|merge|scale`.
//! - `consumer`: register, deregister, list, describe enhanced fan-out consumers.
//! - `put`: lines from stdin or a file, batched into PutRecords.
//! - `position`: `--from` (where a read starts) and `--shard`.
//! - `get`: one shard from a position to its current end.
//! - `tail`: every shard of a stream, polled or as an enhanced fan-out consumer.
//! - `format`: how records are printed (`raw`, `json`, `hex`).
//! - `check`: offline verification (and repair) of a data directory.
//! - `stats`: per-shard numbers from a running server's metrics endpoint (HTTP, not the protocol).

pub mod check;
pub mod consumer;
pub mod exit;
pub mod format;
pub mod get;
pub mod position;
pub mod put;
pub mod reshard;
pub mod stats;
pub mod stream;
pub mod tail;

use std::time::Duration;

use shoal_protocol::client::{BlockingClient, ClientConfig, RetryPolicy};

use exit::CliError;

/// Where the server is; every client command takes it.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerAddr {
    /// The server's address, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT", default_value_t = shoal_server::server::LISTEN_DEFAULT.to_string(), env = "SHOAL_ADDR")]
    pub addr: String,
}

/// How patiently client commands retry: throttled calls (5 reads/s and 1,000 records/s per
/// shard by default) come back after up to a few seconds, which a person at a terminal prefers
/// to a failure. Each wait is drawn below 100 ms, 200 ms, ... capped at 2 s.
pub fn client_config(max_attempts: u32) -> ClientConfig {
    ClientConfig {
        retry: RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            jitter: true,
        },
        ..ClientConfig::default()
    }
}

/// Attempts per call when a command has no option for it.
pub const ATTEMPTS_DEFAULT: u32 = 10;

/// A connected client, or the message that says why not. Connecting first (without retries)
/// makes a wrong address fail at once instead of after the retry policy's backoff.
pub fn connect(addr: &ServerAddr, max_attempts: u32) -> Result<BlockingClient, CliError> {
    BlockingClient::connect(addr.addr.as_str(), client_config(max_attempts))
        .map_err(|e| CliError::from_client(&addr.addr, "server", &e))
}
