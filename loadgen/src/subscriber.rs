//! Enhanced fan-out subscribers: one thread and one client connection per subscriber (a
//! subscriber that lags holds up everything else on its connection, so each has its own), a
//! SubscribeToShard stream that resumes across subscription lifetimes.
//!
//! The run registers `--fanout-consumers` consumers with the stream (consumers belong to the
//! stream, at most 20); each subscribes to every shard, one subscriber per (consumer, shard).
//! Every event's records go to the verifier as they came, through [`Event::Read`] like the
//! polled consumers' responses, and the put→push latency of every record is measured when its
//! event arrives.
//!
//! Subscriptions start where the polled consumers start: TRIM_HORIZON on a stream the run
//! created, otherwise at the run's start time (AT_TIMESTAMP; a push subscription has no
//! iterator to take in advance, and records of other writers in between are skipped as
//! foreign).
//!
//! # When a subscriber stops
//! By the rule every reader follows (see [`crate::consumer`]): once the producers are done, as
//! soon as it has received its shard's highest acknowledged sequence number, or at the drain
//! deadline, saying how far it got. An idle subscription still gets a heartbeat event every
//! second, so a subscriber waiting for records notices the deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::executor::block_on;
use futures::StreamExt;
use shoal_protocol::client::Client;
use shoal_protocol::ops::{
    ConsumerStatus, DeregisterStreamConsumer, DescribeStreamConsumer, RegisterStreamConsumer, StartingPosition,
};
use shoal_protocol::Status;

use crate::consumer::{ConsumerEnd, Fault, Shared};
use crate::payload;
use crate::verify::ConsumerId;
use crate::Event;

/// How long a registered consumer may take to become ACTIVE.
const ACTIVE_WITHIN: Duration = Duration::from_secs(10);

/// The name of the run's fan-out consumer `index`.
pub fn consumer_name(run_id: u64, index: u16) -> String {
    format!("loadgen-{:08x}-{index}", run_id as u32)
}

/// Registers consumer `name` with `stream` unless it exists, waits until it is ACTIVE and
/// returns its ARN.
pub fn register(client: &Client, stream: &str, name: &str) -> Result<String, String> {
    let deadline = Instant::now() + ACTIVE_WITHIN;
    while Instant::now() < deadline {
        let consumer = match block_on(client.describe_stream_consumer(DescribeStreamConsumer::new(stream, name))) {
            Ok(description) => description.consumer,
            Err(e) if e.status() == Some(Status::ResourceNotFound) => {
                match block_on(client.register_stream_consumer(RegisterStreamConsumer::new(stream, name))) {
                    Ok(registered) => registered.consumer,
                    // Registered in between (a retried registration finds its first attempt).
                    Err(e) if e.status() == Some(Status::ResourceInUse) => continue,
                    Err(e) => return Err(format!("RegisterStreamConsumer {name}: {e}")),
                }
            }
            Err(e) => return Err(format!("DescribeStreamConsumer {name}: {e}")),
        };
        if consumer.status == ConsumerStatus::Active {
            return Ok(consumer.consumer_arn);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("fan-out consumer {name} did not become ACTIVE within {ACTIVE_WITHIN:?}"))
}

/// Deregisters consumer `name` (its subscriptions end).
pub fn deregister(client: &Client, stream: &str, name: &str) -> Result<(), String> {
    block_on(client.deregister_stream_consumer(DeregisterStreamConsumer::new(stream, name)))
        .map_err(|e| format!("DeregisterStreamConsumer {name}: {e}"))
}

/// Where subscriptions start: see the module doc.
pub fn starting_position(created: bool, start_timestamp_ms: u64) -> StartingPosition {
    if created {
        StartingPosition::trim_horizon()
    } else {
        StartingPosition::at_timestamp(start_timestamp_ms)
    }
}

/// Starts a subscriber of consumer `consumer_arn` to shard `id.shard`, on its own connection.
pub fn spawn(
    client: Client,
    id: ConsumerId,
    consumer_arn: String,
    start: StartingPosition,
    inject: Option<Fault>,
    shared: Arc<Shared>,
) -> std::io::Result<std::thread::JoinHandle<ConsumerEnd>> {
    std::thread::Builder::new()
        .name(format!("loadgen-push-{}-{}", id.shard, id.index))
        .spawn(move || subscribe(&client, id, &consumer_arn, start, inject, &shared))
}

fn subscribe(
    client: &Client,
    id: ConsumerId,
    consumer_arn: &str,
    start: StartingPosition,
    inject: Option<Fault>,
    shared: &Shared,
) -> ConsumerEnd {
    let mut end = ConsumerEnd { id, records: 0, last_seq: None, stopped_early: None };
    let mut fault = inject.filter(|_| id.index == 0);
    let mut events = client.subscribe_to_shard_resuming(consumer_arn, id.shard, start);
    // The highest sequence number the server pushed (before any injected fault).
    let mut received_up_to: Option<u128> = None;
    loop {
        if let Some(why) = shared.stop(id.shard, received_up_to) {
            end.stopped_early = why;
            break;
        }
        // An idle subscription still sends a heartbeat event every second, so this returns
        // often enough to look at the deadline.
        let item = block_on(events.next());
        let received = Instant::now();
        let event = match item {
            Some(Ok(event)) => event,
            Some(Err(e)) => {
                shared.recorder.push_error(format!("SubscribeToShard failed: {e}"));
                end.stopped_early = Some(format!("subscription failed: {e}"));
                break;
            }
            None => break, // the shard was closed and fully delivered
        };
        if !event.records.is_empty() {
            let due: Vec<u64> = event.records.iter().filter_map(|r| payload::peek_due_ns(&r.data)).collect();
            let bytes: u64 = event.records.iter().map(|r| (r.data.len() + r.partition_key.len()) as u64).sum();
            shared.recorder.reads(id, &due, bytes, received);
        }
        end.records += event.records.len() as u64;
        end.last_seq = event.records.last().map(|r| r.sequence_number).or(end.last_seq);
        received_up_to = event.records.iter().map(|r| r.sequence_number).max().max(received_up_to);
        let mut records: Vec<(u128, Bytes)> = event.records.into_iter().map(|r| (r.sequence_number, r.data)).collect();
        if let Some(fault) = fault.take_if(|_| records.len() >= 3) {
            fault.apply(&mut records);
        }
        if !records.is_empty() {
            let _ = shared.events.send(Event::Read { consumer: id, records });
        }
    }
    end
}
