//! A Rust client for Shoal (feature `client`, on by default): plain threads or any async
//! runtime, no glommio.
//!
//! ```no_run
//! use shoal_protocol::client::{Client, ClientConfig};
//! use shoal_protocol::ops::{CreateStream, PutRecord};
//!
//! # fn main() -> Result<(), shoal_protocol::client::ClientError> {
//! // From a plain thread:
//! let client = Client::connect("127.0.0.1:7878", ClientConfig::default())?.blocking();
//! client.create_stream(CreateStream::new("orders", 2))?;
//! let put = client.put_record(PutRecord::new("orders", "user-1", &b"hi"[..]))?;
//! println!("shard {} sequence number {}", put.shard, put.sequence_number);
//!
//! // From async code, on any executor:
//! let client = client.client().clone();
//! futures::executor::block_on(async move {
//!     client.put_record(PutRecord::new("orders", "user-2", &b"hello"[..])).await
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! # Design
//!
//! A [`Client`] is a cheap handle (`Clone + Send + Sync`, an `Arc` inside) to one TCP
//! connection with `TCP_NODELAY`. Requests are pipelined: any number, from any number of
//! threads or tasks, may be in flight at once, and answers are matched by correlation id in
//! whatever order the server sends them. A background reader thread per connection decodes the
//! answers and completes each request's oneshot channel, so the async methods return `Send`
//! futures that any executor can poll. Backoff sleeps on `futures-timer`, which is
//! runtime-agnostic too; request timeouts cost no timer at all (one sweeper thread fails
//! requests past their deadline, within 20 ms of it). [`BlockingClient`] runs the same methods with
//! `futures::executor::block_on` for code without an executor.
//!
//! Writes happen on the calling thread: the request is encoded into a buffer and written to the
//! socket under a mutex. An async method may therefore block its thread for a while when the
//! server applies back-pressure (bounded by the request timeout) or when it (re)connects
//! (bounded by the connect timeout, per address).
//!
//! # Failures and retries
//!
//! Errors are [`ClientError`]s. An error frame becomes [`ClientError::Service`] with the
//! server's [`Status`](crate::Status), whose [`name`](crate::Status::name) is the Kinesis
//! exception name. Retryable failures ([`ClientError::is_retryable`]: throttling, internal
//! failure, service unavailable, failing to connect, a lost connection) are sent again with
//! exponential backoff and full jitter, as [`RetryPolicy`] says; the others return at once.
//!
//! When the connection is lost, every request in flight on it fails with
//! [`ClientError::ConnectionLost`] (and is retried if the policy allows), and the next request
//! opens a new connection.
//!
//! **Writes are at least once.** A PutRecord or PutRecords that is retried after a lost
//! connection, a timeout of an earlier attempt or an `InternalFailure` may have been applied
//! the first time, so a record may be stored twice, as with Kinesis. Consumers that must not
//! see duplicates deduplicate (for example on an id inside the record); callers that prefer to
//! decide themselves use [`RetryPolicy::none`].
//!
//! [`Client::put_records_retrying_failed`] goes further for PutRecords: it resubmits only the
//! records of a call that failed with a retryable per-record status, until all are stored or
//! the attempts run out.
//!
//! # Subscriptions (enhanced fan-out)
//!
//! [`Client::subscribe_to_shard`] sends a SubscribeToShard request, waits for its response and
//! returns a [`Subscription`]: a `futures::Stream` of the events the server pushes for it, until
//! the event with `end` or the error that ends it. [`Client::subscribe_to_shard_resuming`]
//! follows a shard across subscriptions: at the end of each 5-minute lifetime it subscribes
//! again right after the last continuation sequence number (no gap, no duplicate), and stops
//! after the shard's end. [`BlockingClient`] offers both as iterators.
//!
//! The reader thread routes push frames by correlation id to their subscription and drops,
//! with a debug log, those that no subscription claims; the connection goes on. It hands each
//! subscription's events over through a bounded channel ([`SUBSCRIPTION_EVENTS_BUFFERED`]) and
//! waits when it is full: a subscriber that reads slowly slows the server down through TCP
//! flow control, no event is dropped, and the client's memory stays bounded. The trade-off is
//! that the whole connection waits with it, so answers to other requests on the same
//! connection are delayed (and may time out) while a subscriber lags. **Give each subscriber a
//! connection of its own**: a separate `Client` (one socket and one reader thread each), and
//! keep other requests on another.
//!
//! There is no request that cancels one subscription: dropping a [`Subscription`] makes the
//! client ignore its events, but the server keeps it (and the consumer and shard stay taken)
//! until its lifetime ends or the connection closes.
//!
//! # Logging
//!
//! Connection events (connect, close and why, reconnect, retries, dropped frames) are logged
//! through `tracing` at debug level.
//!
//! # Layout
//!
//! - [`config`](ClientConfig): timeouts, retry policy, the core to be served by.
//! - `error`: [`ClientError`] and what it carries.
//! - `connection`: the socket, the reader thread, the pending and subscription maps.
//! - `retry`: [`RetryPolicy`] and the retry loop.
//! - `resubmit`: [`Client::put_records_retrying_failed`].
//! - `subscription`: [`Subscription`] and [`ResumingSubscription`].
//! - `shard_aware`: [`ShardAwareClient`], one connection per server core.
//! - `local_port`: connecting from a local port the server maps to a chosen core.
//! - `blocking`: [`BlockingClient`] and [`BlockingEvents`].

mod blocking;
mod config;
mod connection;
mod deadlines;
mod error;
mod local_port;
mod resubmit;
mod retry;
mod shard_aware;
mod subscription;

pub use blocking::{BlockingClient, BlockingEvents};
pub use config::{ClientConfig, ServingCore};
pub use error::{ClientError, LostReason, ProtocolError};
pub use retry::RetryPolicy;
pub use shard_aware::{hash_key, ShardAwareClient};
pub use subscription::{ResumingSubscription, Subscription, SUBSCRIPTION_EVENTS_BUFFERED};

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::channel::{mpsc, oneshot};

use crate::client::connection::{lock, Connection};
use crate::ops::{
    ConsumerDescription, CreateStream, DeleteStream, DeregisterStreamConsumer, DescribePlacement,
    DescribePlacementOutput, DescribeStream, DescribeStreamConsumer, DescribeStreamSummary, GetRecords,
    GetRecordsOutput, GetShardIterator, GetShardIteratorOutput, ListShards, ListShardsOutput, ListStreamConsumers,
    ListStreamConsumersOutput, ListStreams, ListStreamsOutput, MergeShards, Opcode, PutRecord, PutRecordOutput,
    PutRecords, PutRecordsOutput, RegisterStreamConsumer, RegisterStreamConsumerOutput, Request, Response,
    RetentionPeriodChange, SplitShard, StartingPosition, StreamDescription, StreamDescriptionSummary, SubscribeToShard,
    UpdateShardCount, UpdateShardCountOutput,
};

/// A handle to one pipelined connection to a Shoal server. Clones share the connection.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    addrs: Vec<SocketAddr>,
    config: ClientConfig,
    /// The current connection; replaced on the first request after it is lost.
    connection: Mutex<Option<Arc<Connection>>>,
    /// Correlation ids are unique for the client's lifetime, across reconnects, so an answer
    /// can never be taken for another request's. 0 is never used: servers send it in errors
    /// about the connection itself.
    next_correlation_id: AtomicU64,
    connections_opened: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addrs", &self.inner.addrs)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the server at `addr`, resolved now. It connects on its first request.
    pub fn new(addr: impl ToSocketAddrs, config: ClientConfig) -> Result<Client, ClientError> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(ClientError::Connect)?.collect();
        if addrs.is_empty() {
            return Err(ClientError::Connect(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the address resolved to nothing",
            )));
        }
        Ok(Client {
            inner: Arc::new(Inner {
                addrs,
                config,
                connection: Mutex::new(None),
                next_correlation_id: AtomicU64::new(1),
                connections_opened: AtomicU64::new(0),
            }),
        })
    }

    /// A client that is connected already, so that a wrong address fails here. Blocks the
    /// calling thread for at most the connect timeout per resolved address; no retry.
    pub fn connect(addr: impl ToSocketAddrs, config: ClientConfig) -> Result<Client, ClientError> {
        let client = Client::new(addr, config)?;
        client.inner.connection()?;
        Ok(client)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The server's addresses, as resolved when the client was made.
    pub(crate) fn addrs(&self) -> &[SocketAddr] {
        &self.inner.addrs
    }

    /// A blocking view of this client, sharing its connection.
    pub fn blocking(&self) -> BlockingClient {
        BlockingClient::from(self.clone())
    }

    /// Sends any request, with the client's retry policy, and returns the server's answer.
    pub async fn call(&self, request: Request) -> Result<Response, ClientError> {
        self.call_ref(&request).await
    }

    pub(crate) async fn call_ref(&self, request: &Request) -> Result<Response, ClientError> {
        let operation = request.opcode().name();
        retry::with_retries(&self.inner.config.retry, operation, || self.attempt(request)).await
    }

    /// One attempt: (re)connect if needed, send, wait for the answer or the timeout.
    async fn attempt(&self, request: &Request) -> Result<Response, ClientError> {
        let connection = self.inner.connection()?;
        let correlation_id = self.next_correlation_id();
        // The guard stops the wait (and forgets the request) when this future ends or is dropped.
        let (answer, _guard) = connection.send(correlation_id, request)?;
        self.answer(&connection, answer).await
    }

    pub(crate) fn next_correlation_id(&self) -> u64 {
        self.inner.next_correlation_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Waits for a sent request's answer, at most the request timeout.
    async fn answer(
        &self,
        connection: &Connection,
        answer: oneshot::Receiver<connection::Answer>,
    ) -> Result<Response, ClientError> {
        // The timeout arrives through `answer` too (see `deadlines`).
        match answer.await {
            Ok(answer) => answer,
            // Only a connection that went away drops a sender without answering.
            Err(oneshot::Canceled) => Err(ClientError::ConnectionLost(
                connection.lost().unwrap_or_else(|| Arc::new(LostReason::ClosedByClient)),
            )),
        }
    }

    pub async fn create_stream(&self, request: CreateStream) -> Result<(), ClientError> {
        match self.call(Request::CreateStream(request)).await? {
            Response::CreateStream => Ok(()),
            other => Err(wrong_response(Opcode::CreateStream, &other)),
        }
    }

    pub async fn delete_stream(&self, request: DeleteStream) -> Result<(), ClientError> {
        match self.call(Request::DeleteStream(request)).await? {
            Response::DeleteStream => Ok(()),
            other => Err(wrong_response(Opcode::DeleteStream, &other)),
        }
    }

    pub async fn describe_stream(&self, request: DescribeStream) -> Result<StreamDescription, ClientError> {
        match self.call(Request::DescribeStream(request)).await? {
            Response::DescribeStream(output) => Ok(output),
            other => Err(wrong_response(Opcode::DescribeStream, &other)),
        }
    }

    pub async fn describe_stream_summary(
        &self,
        request: DescribeStreamSummary,
    ) -> Result<StreamDescriptionSummary, ClientError> {
        match self.call(Request::DescribeStreamSummary(request)).await? {
            Response::DescribeStreamSummary(output) => Ok(output),
            other => Err(wrong_response(Opcode::DescribeStreamSummary, &other)),
        }
    }

    pub async fn list_streams(&self, request: ListStreams) -> Result<ListStreamsOutput, ClientError> {
        match self.call(Request::ListStreams(request)).await? {
            Response::ListStreams(output) => Ok(output),
            other => Err(wrong_response(Opcode::ListStreams, &other)),
        }
    }

    pub async fn list_shards(&self, request: ListShards) -> Result<ListShardsOutput, ClientError> {
        match self.call(Request::ListShards(request)).await? {
            Response::ListShards(output) => Ok(output),
            other => Err(wrong_response(Opcode::ListShards, &other)),
        }
    }

    pub async fn increase_stream_retention_period(&self, request: RetentionPeriodChange) -> Result<(), ClientError> {
        match self.call(Request::IncreaseStreamRetentionPeriod(request)).await? {
            Response::IncreaseStreamRetentionPeriod => Ok(()),
            other => Err(wrong_response(Opcode::IncreaseStreamRetentionPeriod, &other)),
        }
    }

    pub async fn decrease_stream_retention_period(&self, request: RetentionPeriodChange) -> Result<(), ClientError> {
        match self.call(Request::DecreaseStreamRetentionPeriod(request)).await? {
            Response::DecreaseStreamRetentionPeriod => Ok(()),
            other => Err(wrong_response(Opcode::DecreaseStreamRetentionPeriod, &other)),
        }
    }

    /// Which core owns each shard of a stream, how many cores the server runs and which one
    /// serves this connection (PROTOCOL.md §9.8). Placement changes on resharding and on a
    /// server restart with another core count.
    pub async fn describe_placement(&self, request: DescribePlacement) -> Result<DescribePlacementOutput, ClientError> {
        match self.call(Request::DescribePlacement(request)).await? {
            Response::DescribePlacement(output) => Ok(output),
            other => Err(wrong_response(Opcode::DescribePlacement, &other)),
        }
    }

    /// Appends one record. Retried per the policy, so at least once (see the module doc).
    pub async fn put_record(&self, request: PutRecord) -> Result<PutRecordOutput, ClientError> {
        match self.call(Request::PutRecord(request)).await? {
            Response::PutRecord(output) => Ok(output),
            other => Err(wrong_response(Opcode::PutRecord, &other)),
        }
    }

    /// Appends up to 500 records in one call. Records can fail one by one: check each result,
    /// or use [`Client::put_records_retrying_failed`].
    pub async fn put_records(&self, request: PutRecords) -> Result<PutRecordsOutput, ClientError> {
        let sent = request.records.len();
        match self.call(Request::PutRecords(request)).await? {
            Response::PutRecords(output) if output.records.len() == sent => Ok(output),
            Response::PutRecords(output) => {
                Err(ProtocolError::ResultCountMismatch { sent, got: output.records.len() }.into())
            }
            other => Err(wrong_response(Opcode::PutRecords, &other)),
        }
    }

    pub async fn get_shard_iterator(&self, request: GetShardIterator) -> Result<GetShardIteratorOutput, ClientError> {
        match self.call(Request::GetShardIterator(request)).await? {
            Response::GetShardIterator(output) => Ok(output),
            other => Err(wrong_response(Opcode::GetShardIterator, &other)),
        }
    }

    pub async fn get_records(&self, request: GetRecords) -> Result<GetRecordsOutput, ClientError> {
        match self.call(Request::GetRecords(request)).await? {
            Response::GetRecords(output) => Ok(output),
            other => Err(wrong_response(Opcode::GetRecords, &other)),
        }
    }

    /// Splits an open shard in two at a hash key. Answered once the split is done: the parent
    /// is closed and the two children (the next shard indexes) take its writes. Like every
    /// call it is retried per the policy, so a split whose first answer was lost may have been
    /// applied already; the retry then fails with `InvalidArgument` (the shard is closed).
    pub async fn split_shard(&self, request: SplitShard) -> Result<(), ClientError> {
        match self.call(Request::SplitShard(request)).await? {
            Response::SplitShard => Ok(()),
            other => Err(wrong_response(Opcode::SplitShard, &other)),
        }
    }

    /// Merges two adjacent open shards into one. Answered once the merge is done.
    pub async fn merge_shards(&self, request: MergeShards) -> Result<(), ClientError> {
        match self.call(Request::MergeShards(request)).await? {
            Response::MergeShards => Ok(()),
            other => Err(wrong_response(Opcode::MergeShards, &other)),
        }
    }

    /// Brings the stream to a number of open shards with even hash key ranges.
    pub async fn update_shard_count(&self, request: UpdateShardCount) -> Result<UpdateShardCountOutput, ClientError> {
        match self.call(Request::UpdateShardCount(request)).await? {
            Response::UpdateShardCount(output) => Ok(output),
            other => Err(wrong_response(Opcode::UpdateShardCount, &other)),
        }
    }

    /// Registers an enhanced fan-out consumer with a stream (at most 20 per stream:
    /// `LimitExceeded`, which the retry policy retries like any `LimitExceeded`). The answer's
    /// `consumer_arn` is what [`Client::subscribe_to_shard`] takes. A registration retried after
    /// a lost answer may find its own first attempt: `ResourceInUse`.
    pub async fn register_stream_consumer(
        &self,
        request: RegisterStreamConsumer,
    ) -> Result<RegisterStreamConsumerOutput, ClientError> {
        match self.call(Request::RegisterStreamConsumer(request)).await? {
            Response::RegisterStreamConsumer(output) => Ok(output),
            other => Err(wrong_response(Opcode::RegisterStreamConsumer, &other)),
        }
    }

    /// Deregisters a consumer. Its subscriptions end with an error.
    pub async fn deregister_stream_consumer(&self, request: DeregisterStreamConsumer) -> Result<(), ClientError> {
        match self.call(Request::DeregisterStreamConsumer(request)).await? {
            Response::DeregisterStreamConsumer => Ok(()),
            other => Err(wrong_response(Opcode::DeregisterStreamConsumer, &other)),
        }
    }

    pub async fn describe_stream_consumer(
        &self,
        request: DescribeStreamConsumer,
    ) -> Result<ConsumerDescription, ClientError> {
        match self.call(Request::DescribeStreamConsumer(request)).await? {
            Response::DescribeStreamConsumer(output) => Ok(output),
            other => Err(wrong_response(Opcode::DescribeStreamConsumer, &other)),
        }
    }

    pub async fn list_stream_consumers(
        &self,
        request: ListStreamConsumers,
    ) -> Result<ListStreamConsumersOutput, ClientError> {
        match self.call(Request::ListStreamConsumers(request)).await? {
            Response::ListStreamConsumers(output) => Ok(output),
            other => Err(wrong_response(Opcode::ListStreamConsumers, &other)),
        }
    }

    /// Opens a push subscription and returns once the server has started it: the
    /// [`Subscription`] then yields the events of one subscription, until its lifetime ends
    /// (5 minutes), its closed shard is fully delivered, or an error ends it; see
    /// [`Subscription`]. Refusals (`ResourceInUse` for a second subscription of the same
    /// consumer and shard, `ResourceNotFound`, validation) come back here, retried per the
    /// policy when retryable. For a stream of events that spans lifetimes, see
    /// [`Client::subscribe_to_shard_resuming`].
    ///
    /// The subscription shares this client's connection: while its events wait to be read,
    /// the connection reads nothing else (see the module doc, "Subscriptions").
    pub async fn subscribe_to_shard(&self, request: SubscribeToShard) -> Result<Subscription, ClientError> {
        let request = Request::SubscribeToShard(request);
        retry::with_retries(&self.inner.config.retry, "SubscribeToShard", || self.subscribe_attempt(&request)).await
    }

    async fn subscribe_attempt(&self, request: &Request) -> Result<Subscription, ClientError> {
        let connection = self.inner.connection()?;
        let correlation_id = self.next_correlation_id();
        let (sink, events) = mpsc::channel(SUBSCRIPTION_EVENTS_BUFFERED);
        // Dropping the registration (a refusal, a timeout, this future dropped) stops the
        // routing of this id's push frames; on success the Subscription keeps it.
        let (answer, _guard, registration) = connection.send_subscribing(correlation_id, request, sink)?;
        match self.answer(&connection, answer).await? {
            Response::SubscribeToShard(output) => {
                Ok(Subscription::new(connection, registration, events, output.subscription_lifetime_ms))
            }
            other => Err(wrong_response(Opcode::SubscribeToShard, &other)),
        }
    }

    /// The events of a shard from `starting_position` on, across as many subscriptions as it
    /// takes: when a subscription reaches its lifetime, the stream subscribes again at
    /// `AFTER_SEQUENCE_NUMBER` of the last continuation sequence number, so no record is
    /// skipped or repeated. It ends after the event with `end = SHARD_END` (whose child shards
    /// say where to go on), or with an error that is not retryable. Retryable failures in the
    /// middle of a subscription (a lost connection, `InternalFailure`) also resubscribe from the
    /// last continuation number, after the retry policy's backoff and at most its
    /// `max_attempts` times in a row; [`RetryPolicy::none`] turns that off.
    ///
    /// Every event of every subscription is yielded, including those that end with
    /// `end = LIFETIME`. Nothing is sent until the stream is first polled. The subscriptions
    /// run on this client's connection (a new one after a loss), like
    /// [`Client::subscribe_to_shard`]'s; to handle lifetimes yourself, use that instead.
    pub fn subscribe_to_shard_resuming(
        &self,
        consumer_arn: impl Into<String>,
        shard: u32,
        starting_position: StartingPosition,
    ) -> ResumingSubscription {
        ResumingSubscription::new(self.clone(), consumer_arn.into(), shard, starting_position)
    }
}

impl Inner {
    /// The live connection, opening one if there is none or the last one was lost. Concurrent
    /// callers wait on the lock while one of them connects, so a lost connection is replaced
    /// once.
    fn connection(&self) -> Result<Arc<Connection>, ClientError> {
        let mut slot = lock(&self.connection);
        if let Some(connection) = slot.as_ref() {
            match connection.lost() {
                None => return Ok(Arc::clone(connection)),
                Some(reason) => {
                    tracing::debug!(generation = connection.generation(), %reason, "reconnecting");
                }
            }
        }
        *slot = None;
        let generation = self.connections_opened.fetch_add(1, Ordering::Relaxed) + 1;
        let connection = Arc::new(Connection::open(&self.addrs, &self.config, generation)?);
        *slot = Some(Arc::clone(&connection));
        Ok(connection)
    }
}

fn wrong_response(expected: Opcode, got: &Response) -> ClientError {
    ProtocolError::WrongResponse { expected, got: got.opcode() }.into()
}
