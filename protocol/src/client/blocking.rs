//! The client for code without an async executor: each method runs the async one to completion
//! on the calling thread with `futures::executor::block_on`.
//!
//! Answers are completed by the connection's reader thread and timeouts by `futures-timer`'s
//! thread, so blocking here never waits on the caller's own executor. Still, calling these from
//! inside an async task blocks that task's thread: async code should use [`Client`].

use std::net::ToSocketAddrs;

use futures::executor::block_on;

use crate::client::{Client, ClientConfig, ClientError};
use crate::ops::{
    CreateStream, DeleteStream, DescribeStream, DescribeStreamSummary, GetRecords, GetRecordsOutput, GetShardIterator,
    GetShardIteratorOutput, ListShards, ListShardsOutput, ListStreams, ListStreamsOutput, MergeShards, PutRecord,
    PutRecordOutput, PutRecords, PutRecordsEntry, PutRecordsOutput, Request, Response, RetentionPeriodChange,
    SplitShard, StreamDescription, StreamDescriptionSummary, UpdateShardCount, UpdateShardCountOutput,
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
}
