//! Enhanced fan-out delivery: one registered consumer's subscription to
//! one shard, pushed as events.
//!
//! The delivery loop runs on the core that owns the shard. It reads from
//! the shard (tail cache, else disk) at its own position and hands each
//! event to a channel of capacity one: a subscriber that does not take its
//! events stops its own loop and nothing else. Nothing is queued for it
//! beyond one event, so a stalled subscriber costs bounded memory, and
//! when it resumes it catches up from the cache or the disk. New records
//! wake the loop through the shard's data watch (no polling); an idle
//! subscription still sends an empty heartbeat event now and then, so the
//! consumer sees its continuation number and that the tip has not moved.
//!
//! Events are paced by a token bucket per subscription (Kinesis: 2 MiB/s
//! per consumer and shard), independent of other consumers and of polled
//! readers' limits.

use std::future::Future;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{select, Either};

use crate::catalog::StreamMeta;
use crate::clock::Clock;
use crate::core::CoreShards;
use crate::error::{EngineError, Result};
use crate::model::{Record, ShardDescription};
use crate::sequence::SequenceNumber;
use crate::storage::Storage;
use crate::throttle::TokenBucket;

/// Most bytes of records in one event: small enough to keep events
/// frequent at 2 MiB/s, large enough to amortise framing.
pub const EVENT_BYTES_MAX: usize = 1024 * 1024;

/// How long a subscription to a shard closed by a reshard waits for the
/// catalog to name the shard's children before it ends without them.
const CHILDREN_WAIT_MS: u64 = 1_000;

/// Why a subscription's last event ends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionEnd {
    /// The lifetime ran out: resubscribe after the continuation number.
    Lifetime,
    /// The closed shard was fully delivered: continue with its children.
    ShardEnd,
}

/// One pushed event.
#[derive(Clone, Debug)]
pub struct SubscriptionEvent {
    pub records: Vec<Record>,
    /// Resubscribing with AFTER_SEQUENCE_NUMBER at this number continues
    /// with no gap and no duplicate.
    pub continuation: SequenceNumber,
    pub millis_behind: u64,
    /// Only at the end of a closed shard.
    pub child_shards: Vec<ShardDescription>,
    pub end: Option<SubscriptionEnd>,
}

/// How a subscription behaves.
#[derive(Clone, Copy, Debug)]
pub struct SubscriptionSettings {
    pub lifetime_ms: u64,
    pub bytes_per_second: u32,
    /// An idle subscription sends an empty event this often.
    pub heartbeat_ms: u64,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            lifetime_ms: crate::limits::SUBSCRIPTION_LIFETIME_MS_DEFAULT,
            bytes_per_second: crate::limits::SUBSCRIPTION_BYTES_PER_SECOND,
            heartbeat_ms: crate::limits::SUBSCRIPTION_HEARTBEAT_MS_DEFAULT,
        }
    }
}

/// One subscription's events, as its subscriber receives them, in order.
/// Dropping it ends the subscription at once: its delivery stops waiting
/// and frees the (consumer, shard) pair for a new SubscribeToShard.
#[derive(Debug)]
pub struct SubscriptionEvents {
    events: flume::Receiver<Result<SubscriptionEvent>>,
    /// Never sent on: its drop is what the delivery waits for.
    _subscribed: oneshot::Sender<()>,
}

/// The delivery's end of a subscription: where events go, and what tells it
/// the subscriber is gone.
pub struct EventSink {
    events: flume::Sender<Result<SubscriptionEvent>>,
    gone: oneshot::Receiver<()>,
}

/// A new subscription's two ends. Capacity one: an unread event holds the
/// delivery, not memory.
pub fn event_channel() -> (EventSink, SubscriptionEvents) {
    let (tx, rx) = flume::bounded(1);
    let (subscribed, gone) = oneshot::channel();
    (EventSink { events: tx, gone }, SubscriptionEvents { events: rx, _subscribed: subscribed })
}

impl SubscriptionEvents {
    /// The next event; `Err` once the subscription has ended and every
    /// event was received.
    pub async fn recv_async(&self) -> std::result::Result<Result<SubscriptionEvent>, flume::RecvError> {
        self.events.recv_async().await
    }

    /// Like [`recv_async`](Self::recv_async), blocking the thread.
    pub fn recv(&self) -> std::result::Result<Result<SubscriptionEvent>, flume::RecvError> {
        self.events.recv()
    }

    /// Like [`recv`](Self::recv), giving up after `timeout`.
    pub fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> std::result::Result<Result<SubscriptionEvent>, flume::RecvTimeoutError> {
        self.events.recv_timeout(timeout)
    }
}

/// Whether a subscription's consumer still exists, as the current catalog
/// says (see [`deliver`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    Registered,
    ConsumerDeregistered,
    /// The stream (this incarnation of it) was deleted, its consumers with it.
    StreamDeleted,
}

impl Registration {
    /// The registration of `consumer` in `stream` as `catalog_stream` (the
    /// catalog's stream of that name, if any) has it now.
    pub fn of(
        stream: &StreamMeta,
        catalog_stream: Option<&StreamMeta>,
        consumer: &crate::catalog::ConsumerMeta,
    ) -> Registration {
        match catalog_stream {
            Some(s) if s.incarnation == stream.incarnation => {
                if s.consumers.contains(consumer) {
                    Registration::Registered
                } else {
                    Registration::ConsumerDeregistered
                }
            }
            _ => Registration::StreamDeleted,
        }
    }
}

/// Delivers events from counter `from` until the lifetime ends, the shard
/// is fully delivered, the subscriber goes away, or `registration` says the
/// consumer or its stream is gone (the last message is then an error saying
/// which).
/// `children` lists the shard's children from the current catalog, for the
/// event that ends a closed shard. `sleep` is the runtime's timer.
#[allow(clippy::too_many_arguments)]
pub async fn deliver<S, C, Sl, F>(
    core: &CoreShards<S, C>,
    stream: &StreamMeta,
    shard_index: u32,
    from: u64,
    settings: SubscriptionSettings,
    registration: impl Fn() -> Registration,
    children: impl Fn() -> Vec<ShardDescription>,
    sleep: Sl,
    sink: &mut EventSink,
) where
    S: Storage,
    C: Clock,
    Sl: Fn(Duration) -> F,
    F: Future<Output = ()>,
{
    let EventSink { events, gone: subscriber_gone } = sink;
    let clock = core.clock().clone();
    let start = clock.now_ms();
    let deadline = start.saturating_add(settings.lifetime_ms);
    let mut bucket = TokenBucket::new(settings.bytes_per_second, start);
    let mut pos = from;
    let mut last_sent = start;
    let mut children_awaited_since: Option<u64> = None;
    loop {
        let shard_id = crate::model::shard_id(shard_index);
        let gone = match registration() {
            Registration::Registered => None,
            Registration::ConsumerDeregistered => Some(format!(
                "The consumer of this subscription to {shard_id} in stream {} was deregistered.",
                stream.name
            )),
            Registration::StreamDeleted => {
                Some(format!("Stream {} of this subscription to {shard_id} was deleted.", stream.name))
            }
        };
        if let Some(gone) = gone {
            let _ = events.send_async(Err(EngineError::NotFound(gone))).await;
            return;
        }
        let shard = match core.shard(stream, shard_index) {
            Ok(s) => s,
            Err(e) => {
                let _ = events.send_async(Err(e)).await;
                return;
            }
        };
        let now = clock.now_ms();
        if !bucket.positive(now) {
            sleep(Duration::from_millis(10)).await;
            continue;
        }
        let batch = match shard.read(pos, crate::limits::READ_RECORDS_MAX, EVENT_BYTES_MAX).await {
            Ok(b) => b,
            Err(e) => {
                let _ = events.send_async(Err(e)).await;
                return;
            }
        };
        let bytes: usize = batch.records.iter().map(|r| r.partition_key.len() + r.data.len()).sum();
        bucket.take(bytes as u64);
        pos = batch.next_counter;
        // From the catalog as it is now: the shard may have been closed
        // after the subscription started. The reshard closes the shard
        // before it publishes the children, so an end with no children
        // yet waits for them (boundedly; a closed shard always has some).
        let child_shards = if batch.at_shard_end { children() } else { Vec::new() };
        let awaiting_children = batch.at_shard_end
            && child_shards.is_empty()
            && now < *children_awaited_since.get_or_insert(now) + CHILDREN_WAIT_MS;
        let end = if batch.at_shard_end && !awaiting_children {
            Some(SubscriptionEnd::ShardEnd)
        } else if now >= deadline {
            Some(SubscriptionEnd::Lifetime)
        } else {
            None
        };
        let heartbeat_due = now.saturating_sub(last_sent) >= settings.heartbeat_ms;
        if !batch.records.is_empty() || end.is_some() || heartbeat_due {
            let continuation = SequenceNumber::new(pos.saturating_sub(1), stream.tag(), shard_index);
            let (records, millis_behind) = (batch.records.len() as u64, batch.millis_behind);
            let event = SubscriptionEvent {
                records: batch.records,
                continuation,
                millis_behind: batch.millis_behind,
                child_shards: if end == Some(SubscriptionEnd::ShardEnd) { child_shards } else { Vec::new() },
                end,
            };
            // Capacity one: this waits while the subscriber is behind.
            if events.send_async(Ok(event)).await.is_err() {
                return;
            }
            last_sent = clock.now_ms();
            shard.metrics().note_fanout(records, bytes as u64, millis_behind, last_sent);
            if end.is_some() {
                return;
            }
            continue;
        }
        if awaiting_children {
            sleep(Duration::from_millis(1)).await;
            continue;
        }
        // Caught up: wait for new records, the heartbeat, or the end.
        let wait_ms = settings.heartbeat_ms.min(deadline.saturating_sub(now)).max(1);
        match shard.watch_from(pos) {
            Some(changed) => {
                let timer = std::pin::pin!(sleep(Duration::from_millis(wait_ms)));
                // A change or the timer: look again. The subscriber gone: stop.
                let woken = select(changed, timer);
                if let Either::Right(_) = select(woken, &mut *subscriber_gone).await {
                    return;
                }
            }
            // Records arrived meanwhile, the shard closed, or it failed
            // (then reads return nothing new: do not spin).
            None => sleep(Duration::from_millis(1)).await,
        }
    }
}
