//! Client settings: timeouts, the retry policy, and which server core to be served by.

use std::time::Duration;

use crate::client::retry::RetryPolicy;

/// How a [`Client`](crate::client::Client) connects, waits and retries.
///
/// Build it from the defaults: `ClientConfig { request_timeout: Duration::from_secs(5),
/// ..ClientConfig::default() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// How long one TCP connect may take, per resolved address. Zero leaves it to the OS.
    pub connect_timeout: Duration,
    /// How long one attempt waits for its answer. Also bounds each socket write, so a server
    /// that stops reading cannot block a writer forever. Zero waits forever.
    pub request_timeout: Duration,
    /// Which failures are sent again, how often and how far apart.
    pub retry: RetryPolicy,
    /// The server core that should serve the connection (PROTOCOL.md §3.4), or `None` for
    /// whichever the server picks. [`ShardAwareClient`](crate::client::ShardAwareClient) sets
    /// it for each of its connections.
    pub serving_core: Option<ServingCore>,
}

/// Core `core` of a server that runs `cores`: a server serves a connection on the core its
/// client port maps to ([`serving_core`](crate::ops::serving_core)), so the client connects
/// from a local port that maps to `core`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServingCore {
    pub core: u16,
    pub cores: u16,
}

impl Default for ClientConfig {
    /// 5 s to connect; 30 s per attempt, enough for a 10 MiB GetRecords answer or a synced
    /// PutRecords behind a slow disk; [`RetryPolicy::default`].
    fn default() -> ClientConfig {
        ClientConfig {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            serving_core: None,
        }
    }
}
