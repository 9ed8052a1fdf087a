//! The client for code without an async executor: each method runs the async one to completion
//! on the calling thread with `futures::executor::block_on`.
//!
//! Answers are completed by the connection's reader thread and timeouts by `futures-timer`'s
//! thread, so blocking here never waits on the caller's own executor. Still, calling these from
//! inside an async task blocks that task's thread: async code should use [`Client`].

use std::net::ToSocketAddrs;

use futures::executor::block_on;
use futures::{Stream, StreamExt};

use crate::client::{Client, ClientConfig, ClientError, ResumingSubscription, Subscription};
use crate::ops::{
    ConsumerDescription, CreateStream, DeleteStream, DeregisterStreamConsumer, DescribePlacement,
    DescribePlacementOutput, DescribeStream, DescribeStreamConsumer, DescribeStreamSummary, GetRecords,
    GetRecordsOutput, GetShardIterator, GetShardIteratorOutput, ListShards, ListShardsOutput, ListStreamConsumers,
    ListStreamConsumersOutput, ListStreams, ListStreamsOutput, MergeShards, PutRecord, PutRecordOutput, PutRecords,
    PutRecordsEntry, PutRecordsOutput, RegisterStreamConsumer, RegisterStreamConsumerOutput, Request, Response,
    RetentionPeriodChange, SplitShard, StartingPosition, StreamDescription, StreamDescriptionSummary, SubscribeToShard,
    UpdateShardCount, UpdateShardCountOutput,
};

/// A [`Client`] whose methods block. Cloning shares the connection, like the async client.
#[derive(Debug, Clone)]
pub struct BlockingClient {
    client: Client,
}

impl From<Client> for BlockingClient {
    fn from(client: Client) -> BlockingClient {
        BlockingClient { client }
    }
}

impl BlockingClient {
    /// See [`Client::new`]: connects on the first request.
    pub fn new(addr: impl ToSocketAddrs, config: ClientConfig) -> Result<BlockingClient, ClientError> {
        Client::new(addr, config).map(BlockingClient::from)
    }

    /// See [`Client::connect`]: connected before it returns.
    pub fn connect(addr: impl ToSocketAddrs, config: ClientConfig) -> Result<BlockingClient, ClientError> {
        Client::connect(addr, config).map(BlockingClient::from)
    }

    /// The async client underneath, sharing the connection.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn call(&self, request: Request) -> Result<Response, ClientError> {
        block_on(self.client.call(request))
    }

    pub fn create_stream(&self, request: CreateStream) -> Result<(), ClientError> {
        block_on(self.client.create_stream(request))
    }

    pub fn delete_stream(&self, request: DeleteStream) -> Result<(), ClientError> {
        block_on(self.client.delete_stream(request))
    }

    pub fn describe_stream(&self, request: DescribeStream) -> Result<StreamDescription, ClientError> {
        block_on(self.client.describe_stream(request))
    }

    pub fn describe_stream_summary(
        &self,
        request: DescribeStreamSummary,
    ) -> Result<StreamDescriptionSummary, ClientError> {
        block_on(self.client.describe_stream_summary(request))
    }

    pub fn list_streams(&self, request: ListStreams) -> Result<ListStreamsOutput, ClientError> {
        block_on(self.client.list_streams(request))
    }

    pub fn list_shards(&self, request: ListShards) -> Result<ListShardsOutput, ClientError> {
        block_on(self.client.list_shards(request))
    }

    pub fn increase_stream_retention_period(&self, request: RetentionPeriodChange) -> Result<(), ClientError> {
        block_on(self.client.increase_stream_retention_period(request))
    }

    pub fn decrease_stream_retention_period(&self, request: RetentionPeriodChange) -> Result<(), ClientError> {
        block_on(self.client.decrease_stream_retention_period(request))
    }

    pub fn describe_placement(&self, request: DescribePlacement) -> Result<DescribePlacementOutput, ClientError> {
        block_on(self.client.describe_placement(request))
    }

    pub fn put_record(&self, request: PutRecord) -> Result<PutRecordOutput, ClientError> {
        block_on(self.client.put_record(request))
    }

    pub fn put_records(&self, request: PutRecords) -> Result<PutRecordsOutput, ClientError> {
        block_on(self.client.put_records(request))
    }

    /// See [`Client::put_records_retrying_failed`].
    pub fn put_records_retrying_failed(
        &self,
        stream_name: &str,
        records: &[PutRecordsEntry],
    ) -> Result<PutRecordsOutput, ClientError> {
        block_on(self.client.put_records_retrying_failed(stream_name, records))
    }

    pub fn get_shard_iterator(&self, request: GetShardIterator) -> Result<GetShardIteratorOutput, ClientError> {
        block_on(self.client.get_shard_iterator(request))
    }

    pub fn get_records(&self, request: GetRecords) -> Result<GetRecordsOutput, ClientError> {
        block_on(self.client.get_records(request))
    }

    pub fn split_shard(&self, request: SplitShard) -> Result<(), ClientError> {
        block_on(self.client.split_shard(request))
    }

    pub fn merge_shards(&self, request: MergeShards) -> Result<(), ClientError> {
        block_on(self.client.merge_shards(request))
    }

    pub fn update_shard_count(&self, request: UpdateShardCount) -> Result<UpdateShardCountOutput, ClientError> {
        block_on(self.client.update_shard_count(request))
    }

    pub fn register_stream_consumer(
        &self,
        request: RegisterStreamConsumer,
    ) -> Result<RegisterStreamConsumerOutput, ClientError> {
        block_on(self.client.register_stream_consumer(request))
    }

    pub fn deregister_stream_consumer(&self, request: DeregisterStreamConsumer) -> Result<(), ClientError> {
        block_on(self.client.deregister_stream_consumer(request))
    }

    pub fn describe_stream_consumer(
        &self,
        request: DescribeStreamConsumer,
    ) -> Result<ConsumerDescription, ClientError> {
        block_on(self.client.describe_stream_consumer(request))
    }

    pub fn list_stream_consumers(
        &self,
        request: ListStreamConsumers,
    ) -> Result<ListStreamConsumersOutput, ClientError> {
        block_on(self.client.list_stream_consumers(request))
    }

    /// See [`Client::subscribe_to_shard`]: the subscription's events as an iterator, each
    /// `next` blocking until the next event arrives.
    pub fn subscribe_to_shard(&self, request: SubscribeToShard) -> Result<BlockingEvents<Subscription>, ClientError> {
        block_on(self.client.subscribe_to_shard(request)).map(BlockingEvents::new)
    }

    /// See [`Client::subscribe_to_shard_resuming`]: a shard's events across subscriptions, as an
    /// iterator. Nothing is sent before the first `next`.
    pub fn subscribe_to_shard_resuming(
        &self,
        consumer_arn: impl Into<String>,
        shard: u32,
        starting_position: StartingPosition,
    ) -> BlockingEvents<ResumingSubscription> {
        BlockingEvents::new(self.client.subscribe_to_shard_resuming(consumer_arn, shard, starting_position))
    }
}

/// A stream of subscription events read as a blocking iterator: each `next` waits on the
/// calling thread for the next event (there is no timeout: a subscription on a quiet shard may
/// wait for as long as its lifetime).
#[derive(Debug)]
pub struct BlockingEvents<S> {
    stream: S,
}

impl<S> BlockingEvents<S> {
    fn new(stream: S) -> BlockingEvents<S> {
        BlockingEvents { stream }
    }

    /// The stream underneath, e.g. for its continuation sequence number.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S: Stream + Unpin> Iterator for BlockingEvents<S> {
    type Item = S::Item;

    fn next(&mut self) -> Option<S::Item> {
        block_on(self.stream.next())
    }
}
