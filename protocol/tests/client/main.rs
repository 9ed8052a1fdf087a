//! Tests of the Rust client (feature `client`) against a fake server on 127.0.0.1, in one
//! binary. Nothing here asserts on timing, except that a stalled subscriber's server cannot
//! finish writing (which no delay can make pass wrongly); every wait is bounded by a client
//! timeout or the fake server's idle timeout.
//!
//! - `round_trip`: every operation's request reaches the server and its answer comes back.
//! - `pipelining`: many requests in flight from several threads, answered out of order.
//! - `errors`: error frames, retries with backoff, non-retryable errors, protocol violations.
//! - `resubmit`: `put_records_retrying_failed` resends exactly the failed records.
//! - `connection`: lost connections, reconnects, timeouts, push frames, unframeable bytes.
//! - `subscriptions`: SubscribeToShard events, their ends, resuming across lifetimes,
//!   back-pressure from a slow subscriber.
//! - `executors`: the blocking client on plain threads; the async client on other executors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod connection;
mod errors;
mod executors;
mod fake_server;
mod pipelining;
mod resubmit;
mod round_trip;
mod subscriptions;

use std::time::Duration;

use shoal_protocol::client::{Client, ClientConfig, RetryPolicy};
use shoal_protocol::ops::{Durability, PutRecordOutput};
use shoal_protocol::Response;

use crate::fake_server::FakeServer;

/// Short backoff so that retry tests run fast; timeouts long enough never to fire by accident.
pub fn config() -> ClientConfig {
    ClientConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(10),
            jitter: true,
        },
        serving_core: None,
    }
}

pub fn client(server: &FakeServer) -> Client {
    Client::new(server.addr(), config()).unwrap()
}

pub fn client_with(server: &FakeServer, config: ClientConfig) -> Client {
    Client::new(server.addr(), config).unwrap()
}

pub fn put_record_response(shard: u32, sequence_number: u128) -> Response {
    Response::PutRecord(PutRecordOutput { shard, sequence_number, durability: Durability::Synced })
}

/// Runs an async block to completion on the calling thread.
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}
