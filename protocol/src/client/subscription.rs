//! SubscribeToShard's events as a `futures::Stream`: one subscription ([`Subscription`]), or a
//! shard followed across subscriptions ([`ResumingSubscription`]).
//!
//! The connection's reader thread sends a subscription's events into a bounded channel of
//! [`SUBSCRIPTION_EVENTS_BUFFERED`] events and waits when it is full, so a slow reader of the
//! stream slows the socket down instead of growing memory, and no event is ever dropped. The
//! price: while it waits, nothing else on that connection is read either, so other answers on
//! it wait too (their requests may time out). A subscriber should therefore have a connection
//! of its own: a [`Client`] of its own, which costs one socket and one thread.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::stream::FusedStream;
use futures::{FutureExt, Stream, StreamExt};
use futures_timer::Delay;

use crate::client::connection::{Connection, Pushed, SubscriptionGuard};
use crate::client::{Client, ClientError, LostReason};
use crate::ops::{StartingPosition, SubscribeToShard, SubscribeToShardEvent, SubscriptionEnd};

/// Events a subscription's channel holds before the reader thread waits for the subscriber to
/// read: with the one the reader holds, at most 4 events (each at most 2 MiB of records, see
/// `limits::SUBSCRIBE_TO_SHARD_EVENT_SIZE_BYTES_MAX`) are buffered per subscription.
pub const SUBSCRIPTION_EVENTS_BUFFERED: usize = 3;

/// One SubscribeToShard subscription's events, in order. Returned by
/// [`Client::subscribe_to_shard`] once the server has started the subscription.
///
/// The stream yields:
/// - `Ok(event)` for each event; the last one has `end` set (`LIFETIME` or `SHARD_END`), and
///   the stream ends after it;
/// - or `Err(ClientError::Service { .. })` when the server ends the subscription with an error
///   (the consumer was deregistered, the stream deleted, an internal failure), then ends;
/// - or `Err(ClientError::ConnectionLost(_))` when the connection ends first, then ends;
/// - or `Err(ClientError::Protocol(_))` when an event does not decode, then ends (a
///   subscription cannot skip an event).
///
/// Dropping it stops reading the events: the client drops those that still arrive. The server
/// ends a subscription only at its lifetime, at the shard's end, on an error or when the
/// connection closes, so until then the consumer and shard stay taken (a new SubscribeToShard
/// for them is `ResourceInUse`); close the connection (drop every handle of the client) to free
/// them at once.
pub struct Subscription {
    /// Kept open while the subscription is read, even if the client moved on to another.
    connection: Arc<Connection>,
    _registration: SubscriptionGuard,
    events: mpsc::Receiver<Pushed>,
    subscription_lifetime_ms: u64,
    continuation_sequence_number: Option<u128>,
    finished: bool,
}

impl Subscription {
    pub(crate) fn new(
        connection: Arc<Connection>,
        registration: SubscriptionGuard,
        events: mpsc::Receiver<Pushed>,
        subscription_lifetime_ms: u64,
    ) -> Subscription {
        Subscription {
            connection,
            _registration: registration,
            events,
            subscription_lifetime_ms,
            continuation_sequence_number: None,
            finished: false,
        }
    }

    /// How long the server keeps this subscription, from its response.
    pub fn subscription_lifetime_ms(&self) -> u64 {
        self.subscription_lifetime_ms
    }

    /// The continuation sequence number of the last event yielded: subscribe at
    /// `AFTER_SEQUENCE_NUMBER` of it to go on right after that event. None before the first.
    pub fn continuation_sequence_number(&self) -> Option<u128> {
        self.continuation_sequence_number
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("subscription_lifetime_ms", &self.subscription_lifetime_ms)
            .field("continuation_sequence_number", &self.continuation_sequence_number)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Stream for Subscription {
    type Item = Result<SubscribeToShardEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let item = match ready!(self.events.poll_next_unpin(cx)) {
            Some(Ok(event)) => {
                self.continuation_sequence_number = Some(event.continuation_sequence_number);
                self.finished = event.end.is_some();
                Ok(event)
            }
            Some(Err(error)) => {
                self.finished = true;
                Err(error)
            }
            // The reader closes a channel without a last item only when the connection ends.
            None => {
                self.finished = true;
                let reason = self.connection.lost().unwrap_or_else(|| Arc::new(LostReason::ClosedByClient));
                Err(ClientError::ConnectionLost(reason))
            }
        };
        Poll::Ready(Some(item))
    }
}

impl FusedStream for Subscription {
    fn is_terminated(&self) -> bool {
        self.finished
    }
}

/// A shard's events across subscriptions: see [`Client::subscribe_to_shard_resuming`].
///
/// Each subscription's events are yielded as they come, `end = LIFETIME` ones included; after
/// such an event the next poll subscribes again at `AFTER_SEQUENCE_NUMBER` of its continuation
/// sequence number. The stream ends after the event with `end = SHARD_END`, or after yielding
/// an error it does not resume from.
pub struct ResumingSubscription {
    client: Client,
    consumer_arn: String,
    shard: u32,
    /// Where the next subscription starts: the caller's position, then just after the last
    /// event's continuation sequence number.
    position: StartingPosition,
    continuation_sequence_number: Option<u128>,
    subscriptions_started: u64,
    /// Retryable failures since the last event.
    failures: u32,
    state: State,
}

enum State {
    /// The next poll subscribes.
    Idle,
    Subscribing(BoxFuture<'static, Result<Subscription, ClientError>>),
    Streaming(Subscription),
    /// Waiting before subscribing again after a retryable failure.
    BackingOff(Delay),
    Finished,
}

impl ResumingSubscription {
    pub(crate) fn new(
        client: Client,
        consumer_arn: String,
        shard: u32,
        position: StartingPosition,
    ) -> ResumingSubscription {
        ResumingSubscription {
            client,
            consumer_arn,
            shard,
            position,
            continuation_sequence_number: None,
            subscriptions_started: 0,
            failures: 0,
            state: State::Idle,
        }
    }

    /// The continuation sequence number of the last event yielded (checkpoint it: subscribing
    /// at `AFTER_SEQUENCE_NUMBER` of it resumes right after that event). None before the first.
    pub fn continuation_sequence_number(&self) -> Option<u128> {
        self.continuation_sequence_number
    }

    /// Where the next subscription would start.
    pub fn position(&self) -> StartingPosition {
        self.position
    }

    /// Subscriptions started so far; more than one means the stream resumed.
    pub fn subscriptions_started(&self) -> u64 {
        self.subscriptions_started
    }

    fn subscribe(&self) -> BoxFuture<'static, Result<Subscription, ClientError>> {
        let client = self.client.clone();
        let request = SubscribeToShard::new(self.consumer_arn.clone(), self.shard, self.position);
        async move { client.subscribe_to_shard(request).await }.boxed()
    }
}

impl fmt::Debug for ResumingSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Idle => "idle",
            State::Subscribing(_) => "subscribing",
            State::Streaming(_) => "streaming",
            State::BackingOff(_) => "backing off",
            State::Finished => "finished",
        };
        f.debug_struct("ResumingSubscription")
            .field("consumer_arn", &self.consumer_arn)
            .field("shard", &self.shard)
            .field("position", &self.position)
            .field("subscriptions_started", &self.subscriptions_started)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl Stream for ResumingSubscription {
    type Item = Result<SubscribeToShardEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Idle => this.state = State::Subscribing(this.subscribe()),
                State::Subscribing(subscribing) => match ready!(subscribing.poll_unpin(cx)) {
                    Ok(subscription) => {
                        this.subscriptions_started += 1;
                        this.state = State::Streaming(subscription);
                    }
                    // subscribe_to_shard has used up the retry policy already.
                    Err(error) => {
                        this.state = State::Finished;
                        return Poll::Ready(Some(Err(error)));
                    }
                },
                State::Streaming(subscription) => match ready!(subscription.poll_next_unpin(cx)) {
                    Some(Ok(event)) => {
                        this.failures = 0;
                        this.continuation_sequence_number = Some(event.continuation_sequence_number);
                        this.position = StartingPosition::after_sequence_number(event.continuation_sequence_number);
                        match event.end {
                            None => {}
                            Some(SubscriptionEnd::Lifetime) => this.state = State::Idle,
                            Some(SubscriptionEnd::ShardEnd) => this.state = State::Finished,
                        }
                        return Poll::Ready(Some(Ok(event)));
                    }
                    Some(Err(error))
                        if error.is_retryable() && this.failures + 1 < this.client.config().retry.attempts() =>
                    {
                        this.failures += 1;
                        let delay = this.client.config().retry.backoff(this.failures);
                        tracing::debug!(shard = this.shard, %error, ?delay, "subscription failed; resubscribing");
                        this.state = State::BackingOff(Delay::new(delay));
                    }
                    Some(Err(error)) => {
                        this.state = State::Finished;
                        return Poll::Ready(Some(Err(error)));
                    }
                    // A subscription yields its last item before it ends, and that item moved
                    // this state on; an early end is treated as the end of everything.
                    None => this.state = State::Finished,
                },
                State::BackingOff(delay) => {
                    ready!(delay.poll_unpin(cx));
                    this.state = State::Idle;
                }
                State::Finished => return Poll::Ready(None),
            }
        }
    }
}

impl FusedStream for ResumingSubscription {
    fn is_terminated(&self) -> bool {
        matches!(self.state, State::Finished)
    }
}
