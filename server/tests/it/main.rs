//! End-to-end tests of the server over loopback (127.0.0.1 only, ephemeral
//! ports, bounded in time).

mod config;
mod fanout;
mod harness;
mod metrics;
mod ops;
mod robustness;
mod shard_aware;
