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
//! deadline, saying how far it got. A subscriber waits for the next event 250 ms
//! (`STOP_CHECK_INTERVAL`) at a time, so it notices the deadline even when the server sends
//! nothing at all (a healthy one sends a heartbeat event every second): it then says how long
//! the subscription has been silent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use shoal_protocol::client::Client;
use shoal_protocol::ops::{
    ConsumerStatus, DeregisterStreamConsumer, DescribeStreamConsumer, RegisterStreamConsumer, StartingPosition,
};
use shoal_protocol::Status;

use crate::budget::{self, Phase};
use crate::consumer::{ConsumerEnd, Fault, Shared};
use crate::payload;
use crate::verify::ConsumerId;
use crate::Event;

/// Between two looks at a registered consumer that is not ACTIVE yet.
const ACTIVE_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The longest a subscriber waits for an event before it looks at the deadline again.
const STOP_CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// A subscription silent this long (a healthy server sends a heartbeat every second) is named
/// as silent when its subscriber stops early.
const SILENCE_NOTED: Duration = Duration::from_secs(3);

/// The name of the run's fan-out consumer `index`.
pub fn consumer_name(run_id: u64, index: u16) -> String {
    format!("loadgen-{:08x}-{index}", run_id as u32)
}

/// Registers consumer `name` with `stream` unless it exists, waits until it is ACTIVE and
/// returns its ARN, by `deadline` (a stall of the setup otherwise).
pub fn register(client: &Client, stream: &str, name: &str, deadline: Instant) -> Result<String, String> {
    let started = Instant::now();
    loop {
        let what = format!("DescribeStreamConsumer {name}");
        let describe = client.describe_stream_consumer(DescribeStreamConsumer::new(stream, name));
        let consumer = match budget::answer(Phase::Setup, deadline, &what, describe)? {
            Ok(description) => description.consumer,
            Err(e) if e.status() == Some(Status::ResourceNotFound) => {
                let what = format!("RegisterStreamConsumer {name}");
                let register = client.register_stream_consumer(RegisterStreamConsumer::new(stream, name));
                match budget::answer(Phase::Setup, deadline, &what, register)? {
                    Ok(registered) => registered.consumer,
                    // Registered in between (a retried registration finds its first attempt).
                    Err(e) if e.status() == Some(Status::ResourceInUse) => continue,
                    Err(e) => return Err(format!("{what}: {e}")),
                }
            }
            Err(e) => return Err(format!("{what}: {e}")),
        };
        if consumer.status == ConsumerStatus::Active {
            return Ok(consumer.consumer_arn);
        }
        if Instant::now() + ACTIVE_POLL_INTERVAL >= deadline {
            let waited = started.elapsed().as_secs_f64();
            let what = format!("fan-out consumer {name} is still {:?} after {waited:.1} s", consumer.status);
            return Err(budget::stalled(Phase::Setup, &what));
        }
        std::thread::sleep(ACTIVE_POLL_INTERVAL);
    }
}

/// Deregisters consumer `name` (its subscriptions end), by `deadline` (a stall of the teardown
/// otherwise).
pub fn deregister(client: &Client, stream: &str, name: &str, deadline: Instant) -> Result<(), budget::CallError> {
    let what = format!("DeregisterStreamConsumer {name}");
    let request = client.deregister_stream_consumer(DeregisterStreamConsumer::new(stream, name));
    budget::call(Phase::Teardown, deadline, &what, request)
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
    let mut last_heard = Instant::now();
    loop {
        if let Some(why) = shared.stop(id.shard, received_up_to) {
            let silent = last_heard.elapsed();
            end.stopped_early = why.map(|why| {
                if silent < SILENCE_NOTED {
                    return why;
                }
                format!("{why}; the subscription sent nothing for its last {:.1} s", silent.as_secs_f64())
            });
            break;
        }
        // Dropping the wait keeps the subscription's state: the next wait goes on from there.
        let Some(item) = budget::block_on_until(Instant::now() + STOP_CHECK_INTERVAL, events.next()) else {
            continue;
        };
        let received = Instant::now();
        last_heard = received;
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
