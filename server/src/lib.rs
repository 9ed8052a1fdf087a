//! # The Shoal server
//!
//! Serves the binary protocol of `shoal-protocol` on the engine's own
//! executors: every core accepts connections on the same port
//! (SO_REUSEPORT), decodes pipelined requests, serves the shards it owns by
//! direct calls into the engine and forwards the rest to their owning core.
//!
//! # Layout
//! * [`server`]: start, the bound address, graceful shutdown.
//! * [`config`]: `shoal serve`'s TOML file and flags, merged over the defaults.
//! * `listener`: one accept loop per core, draining on shutdown.
//! * `connection`: framing, pipelining, batched writes; no business logic.
//! * `response_buffers`: large response buffers reused on each core.
//! * `log_limit`: one protocol-error warning per connection per interval, not one per frame.
//! * `dispatch`: request → engine → response, and error mapping.
//! * `secret`: the server-held key that authenticates iterators and tokens.
//! * `next_token`: ListShards paging tokens.
//! * [`metrics`]: the Prometheus endpoint, its text format, request counts.

pub mod config;
mod connection;
mod dispatch;
mod listener;
mod log_limit;
pub mod metrics;
mod next_token;
mod response_buffers;
mod secret;
pub mod server;

pub use server::{Server, ServerConfig, ServerError};
