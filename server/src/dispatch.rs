//! Request → engine → response. Every failure becomes an error frame with
//! a Kinesis status and a message that says what was wrong; nothing a
//! client sends can panic this code.

use bytes::Bytes;
use shoal_engine::catalog::{owning_core, ConsumerMeta};
use shoal_engine::Clock as _;
use shoal_engine::{
    CoreApi, Durability as EngineDurability, EngineError, ErrorKind, RecordFailureKind, RecordInput, SequenceNumber,
    ShardDescription, ShardLimits, StartingPosition,
};
use shoal_engine::{SubscriptionEnd as EngineSubscriptionEnd, SubscriptionEvent};
use shoal_protocol::ops::{
    ChildShard, CreateStream, DescribePlacement, DescribePlacementOutput, DescribeStream, Durability, GetRecords,
    GetRecordsOutput, GetShardIterator, GetShardIteratorOutput, HashKeyRange, ListShards, ListShardsOutput,
    ListStreams, ListStreamsOutput, PutRecord, PutRecordOutput, PutRecords, PutRecordsOutput, PutRecordsResult, Record,
    Shard, ShardFilter, ShardFilterType, ShardIteratorType, ShardPlacement, StreamDescription,
    StreamDescriptionSummary, StreamStatus, UpdateShardCountOutput,
};
use shoal_protocol::ops::{
    Consumer, ConsumerArn, ConsumerDescription, ConsumerStatus, ListStreamConsumers, ListStreamConsumersOutput,
    RegisterStreamConsumerOutput, SubscribeToShard, SubscribeToShardEvent, SubscriptionEnd,
};
use shoal_protocol::{IteratorPosition, Request, Response, ShardIteratorToken, Status};

use crate::next_token::{NextToken, TokenError};
use crate::secret::Key;

/// Shards per DescribeStream response (Kinesis returns at most 100).
const DESCRIBE_SHARDS_MAX: usize = 100;
/// Streams per ListStreams response (Kinesis: at most 100).
const LIST_STREAMS_MAX: usize = 100;
/// Consumers per ListStreamConsumers response (Kinesis: at most 100).
const CONSUMERS_PER_PAGE: usize = 100;

/// Shards per ListShards response (Kinesis: at most 1,000).
const LIST_SHARDS_MAX: usize = 1000;

/// A failed request: status and human message for the error frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: Status,
    pub message: String,
}

impl Failure {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        let status = match e.kind() {
            ErrorKind::ResourceNotFound => Status::ResourceNotFound,
            ErrorKind::ResourceInUse => Status::ResourceInUse,
            ErrorKind::InvalidArgument => Status::InvalidArgument,
            ErrorKind::LimitExceeded => Status::LimitExceeded,
            ErrorKind::ProvisionedThroughputExceeded => Status::ProvisionedThroughputExceeded,
            ErrorKind::InternalFailure => Status::InternalFailure,
        };
        if status == Status::InternalFailure {
            tracing::error!(error = %e, "internal failure serving a request");
        }
        Failure::new(status, e.to_string())
    }
}

type Outcome = Result<Response, Failure>;

/// What a request handler needs besides the engine.
pub struct Context {
    pub api: CoreApi,
    pub key: Key,
    /// How long a fan-out subscription lasts (the engine's setting).
    pub subscription_lifetime_ms: u64,
}

impl Context {
    fn now_ms(&self) -> u64 {
        shoal_engine::SystemClock.now_ms()
    }

    pub async fn handle(&self, request: Request) -> Outcome {
        if let Err(e) = request.validate() {
            return Err(Failure::new(e.status, e.message));
        }
        match request {
            Request::CreateStream(r) => self.create_stream(r).await,
            Request::DeleteStream(r) => {
                let consumers = self.api.list_consumers(&r.stream_name)?;
                if !consumers.is_empty() && !r.enforce_consumer_deletion {
                    return Err(Failure::new(
                        Status::ResourceInUse,
                        format!(
                            "Stream {} has {} registered consumers: deregister them or set enforce_consumer_deletion.",
                            r.stream_name,
                            consumers.len()
                        ),
                    ));
                }
                self.api.delete_stream(&r.stream_name).await?;
                Ok(Response::DeleteStream)
            }
            Request::DescribeStream(r) => self.describe_stream(r),
            Request::DescribeStreamSummary(r) => {
                let d = self.api.describe_stream(&r.stream_name)?;
                let consumer_count = self.api.list_consumers(&r.stream_name)?.len() as u32;
                Ok(Response::DescribeStreamSummary(StreamDescriptionSummary {
                    stream_name: d.name,
                    status: StreamStatus::Active,
                    retention_hours: d.retention_hours,
                    creation_timestamp_ms: d.created_ms,
                    open_shard_count: d.shards.iter().filter(|s| s.is_open()).count() as u32,
                    consumer_count,
                }))
            }
            Request::ListStreams(r) => Ok(self.list_streams(r)),
            Request::ListShards(r) => self.list_shards(r),
            Request::IncreaseStreamRetentionPeriod(r) => {
                self.api.set_retention(&r.stream_name, r.retention_hours, true).await?;
                Ok(Response::IncreaseStreamRetentionPeriod)
            }
            Request::DecreaseStreamRetentionPeriod(r) => {
                self.api.set_retention(&r.stream_name, r.retention_hours, false).await?;
                Ok(Response::DecreaseStreamRetentionPeriod)
            }
            Request::DescribePlacement(r) => self.describe_placement(r),
            Request::PutRecord(r) => self.put_record(r).await,
            Request::PutRecords(r) => self.put_records(r).await,
            Request::GetShardIterator(r) => self.get_shard_iterator(r).await,
            Request::GetRecords(r) => self.get_records(r).await,
            Request::SplitShard(r) => {
                self.api.split_shard(&r.stream_name, r.shard, r.new_starting_hash_key).await?;
                Ok(Response::SplitShard)
            }
            Request::MergeShards(r) => {
                self.api.merge_shards(&r.stream_name, r.shard, r.adjacent_shard).await?;
                Ok(Response::MergeShards)
            }
            Request::RegisterStreamConsumer(r) => {
                let c = self.api.register_consumer(&r.stream_name, &r.consumer_name).await?;
                Ok(Response::RegisterStreamConsumer(RegisterStreamConsumerOutput {
                    consumer: wire_consumer(&r.stream_name, &c),
                }))
            }
            Request::DeregisterStreamConsumer(r) => {
                self.api.deregister_consumer(&r.stream_name, &r.consumer_name).await?;
                Ok(Response::DeregisterStreamConsumer)
            }
            Request::DescribeStreamConsumer(r) => {
                let consumers = self.api.list_consumers(&r.stream_name)?;
                let c = consumers.iter().find(|c| c.name == r.consumer_name).ok_or_else(|| {
                    Failure::new(
                        Status::ResourceNotFound,
                        format!("Consumer {} under stream {} not found.", r.consumer_name, r.stream_name),
                    )
                })?;
                Ok(Response::DescribeStreamConsumer(ConsumerDescription {
                    consumer: wire_consumer(&r.stream_name, c),
                    stream_name: r.stream_name,
                }))
            }
            Request::ListStreamConsumers(r) => self.list_stream_consumers(r),
            Request::SubscribeToShard(_) => Err(Failure::new(
                Status::InternalFailure,
                "SubscribeToShard is served by the connection, not as a single response",
            )),
            Request::UpdateShardCount(r) => {
                let open = |name: &str| -> Result<u32, Failure> {
                    let d = self.api.describe_stream(name)?;
                    Ok(d.shards.iter().filter(|s| s.is_open()).count() as u32)
                };
                let current_shard_count = open(&r.stream_name)?;
                self.api.update_shard_count(&r.stream_name, r.target_shard_count).await?;
                Ok(Response::UpdateShardCount(UpdateShardCountOutput {
                    stream_name: r.stream_name,
                    current_shard_count,
                    target_shard_count: r.target_shard_count,
                }))
            }
        }
    }

    fn list_stream_consumers(&self, r: ListStreamConsumers) -> Outcome {
        let now = self.now_ms();
        let catalog = self.api.catalog();
        let stream = catalog.stream(&r.stream_name)?;
        let mut consumers = stream.consumers.clone();
        consumers.sort_by(|a, b| a.name.cmp(&b.name));
        let (after, max) = match &r.next_token {
            None => (0usize, r.max_results.map_or(CONSUMERS_PER_PAGE, |m| (m as usize).min(CONSUMERS_PER_PAGE))),
            Some(token) => {
                let t = NextToken::open(token, &self.key, now).map_err(|e| match e {
                    TokenError::Invalid => Failure::new(Status::InvalidArgument, "Invalid NextToken."),
                    TokenError::Expired => Failure::new(Status::ExpiredNextToken, "The NextToken has expired."),
                })?;
                if t.stream_name != r.stream_name || t.incarnation != stream.incarnation {
                    return Err(Failure::new(Status::InvalidArgument, "Invalid NextToken."));
                }
                (t.after_shard as usize, t.max_results as usize)
            }
        };
        let page: Vec<_> = consumers.iter().skip(after).take(max).collect();
        let next_token = (after + page.len() < consumers.len()).then(|| {
            Bytes::from(
                NextToken {
                    stream_name: r.stream_name.clone(),
                    incarnation: stream.incarnation,
                    after_shard: (after + page.len()) as u32,
                    max_results: max as u32,
                    issued_ms: now,
                    filter: None,
                }
                .seal(&self.key),
            )
        });
        Ok(Response::ListStreamConsumers(ListStreamConsumersOutput {
            consumers: page.into_iter().map(|c| wire_consumer(&r.stream_name, c)).collect(),
            next_token,
        }))
    }

    /// Starts a fan-out subscription: checks the request and the consumer,
    /// and returns the engine's event channel.
    pub async fn subscribe(&self, r: SubscribeToShard) -> Result<shoal_engine::SubscriptionEvents, Failure> {
        if let Err(e) = r.validate() {
            return Err(Failure::new(e.status, e.message));
        }
        if let Err(e) = r.starting_position.validate_timestamp(self.now_ms()) {
            return Err(Failure::new(e.status, e.message));
        }
        let arn = ConsumerArn::parse(&r.consumer_arn)
            .ok_or_else(|| Failure::new(Status::InvalidArgument, format!("Invalid ConsumerARN {}.", r.consumer_arn)))?;
        let registered = self
            .api
            .list_consumers(&arn.stream_name)?
            .into_iter()
            .any(|c| c.name == arn.consumer_name && c.created_ms == arn.creation_timestamp_ms);
        if !registered {
            return Err(Failure::new(Status::ResourceNotFound, format!("Consumer {} not found.", r.consumer_arn)));
        }
        let p = r.starting_position;
        let seq = || {
            p.sequence_number
                .map(SequenceNumber)
                .ok_or_else(|| Failure::new(Status::InvalidArgument, "A StartingSequenceNumber is required."))
        };
        let position = match p.iterator_type {
            ShardIteratorType::TrimHorizon => StartingPosition::TrimHorizon,
            ShardIteratorType::Latest => StartingPosition::Latest,
            ShardIteratorType::AtSequenceNumber => StartingPosition::AtSequenceNumber(seq()?),
            ShardIteratorType::AfterSequenceNumber => StartingPosition::AfterSequenceNumber(seq()?),
            ShardIteratorType::AtTimestamp => StartingPosition::AtTimestamp(p.timestamp_ms.unwrap_or(0)),
        };
        Ok(self.api.subscribe(&arn.stream_name, &arn.consumer_name, r.shard, position).await?)
    }

    async fn create_stream(&self, r: CreateStream) -> Outcome {
        let limits = r.shard_limits.map(|l| ShardLimits {
            write_bytes_per_second: l.write_bytes_per_second,
            write_records_per_second: l.write_records_per_second,
            read_bytes_per_second: l.read_bytes_per_second,
            read_calls_per_second: l.read_calls_per_second,
        });
        self.api.create_stream_with_limits(&r.stream_name, r.shard_count, r.retention_hours, limits).await?;
        Ok(Response::CreateStream)
    }

    fn describe_stream(&self, r: DescribeStream) -> Outcome {
        let d = self.api.describe_stream(&r.stream_name)?;
        let limit = r.limit.map_or(DESCRIBE_SHARDS_MAX, |l| (l as usize).min(DESCRIBE_SHARDS_MAX));
        let after: Vec<&ShardDescription> =
            d.shards.iter().filter(|s| r.exclusive_start_shard.is_none_or(|x| s.shard_index > x)).collect();
        let has_more_shards = after.len() > limit;
        Ok(Response::DescribeStream(StreamDescription {
            stream_name: d.name.clone(),
            status: StreamStatus::Active,
            retention_hours: d.retention_hours,
            creation_timestamp_ms: d.created_ms,
            shards: after.into_iter().take(limit).map(wire_shard).collect(),
            has_more_shards,
        }))
    }

    fn list_streams(&self, r: ListStreams) -> Response {
        let mut names = self.api.list_streams();
        names.sort();
        let limit = r.limit.map_or(LIST_STREAMS_MAX, |l| (l as usize).min(LIST_STREAMS_MAX));
        let after: Vec<String> =
            names.into_iter().filter(|n| r.exclusive_start_stream_name.as_ref().is_none_or(|x| n > x)).collect();
        let has_more_streams = after.len() > limit;
        Response::ListStreams(ListStreamsOutput {
            stream_names: after.into_iter().take(limit).collect(),
            has_more_streams,
        })
    }

    fn list_shards(&self, r: ListShards) -> Outcome {
        let now = self.now_ms();
        let (stream_name, after, max_results, filter) = match (&r.stream_name, &r.next_token) {
            (Some(name), None) => {
                let after = match &r.shard_filter {
                    Some(f) if f.filter_type == ShardFilterType::AfterShardId => f.shard,
                    _ => r.exclusive_start_shard,
                };
                (name.clone(), after, r.max_results, r.shard_filter.clone())
            }
            (None, Some(token)) => {
                let t = NextToken::open(token, &self.key, now).map_err(|e| match e {
                    TokenError::Invalid => Failure::new(Status::InvalidArgument, "Invalid NextToken."),
                    TokenError::Expired => Failure::new(Status::ExpiredNextToken, "The NextToken has expired."),
                })?;
                let incarnation = self.api.catalog().stream(&t.stream_name)?.incarnation;
                if incarnation != t.incarnation {
                    return Err(Failure::new(
                        Status::ResourceNotFound,
                        format!("Stream {} was deleted after the NextToken was issued.", t.stream_name),
                    ));
                }
                let filter =
                    t.filter.map(|(filter_type, timestamp_ms)| ShardFilter { filter_type, shard: None, timestamp_ms });
                (t.stream_name, Some(t.after_shard), r.max_results.or(Some(t.max_results)), filter)
            }
            _ => {
                return Err(Failure::new(
                    Status::InvalidArgument,
                    "NextToken and StreamName cannot be provided together; exactly one is required.",
                ))
            }
        };
        let catalog = self.api.catalog();
        let stream = catalog.stream(&stream_name)?;
        let desc = stream.describe();
        let max = max_results.map_or(LIST_SHARDS_MAX, |m| (m as usize).min(LIST_SHARDS_MAX));
        let selected: Vec<&ShardDescription> = desc
            .shards
            .iter()
            .filter(|s| after.is_none_or(|a| s.shard_index > a))
            .filter(|s| match filter.as_ref().map(|f| f.filter_type) {
                Some(ShardFilterType::AtLatest) => s.is_open(),
                // Shards whose records start at the trim horizon: no
                // parent, or a parent whose data has expired (parents are
                // kept for the whole retention period here).
                Some(ShardFilterType::AtTrimHorizon) => s.parent.is_none(),
                // A shard is open from its creation until, not including,
                // its closing time: at a reshard's instant the children are
                // open and the parents are not. Validation has required
                // `timestamp_ms` for both types.
                Some(ShardFilterType::AtTimestamp) => {
                    filter.as_ref().and_then(|f| f.timestamp_ms).is_some_and(|ts| s.is_open_at(ts))
                }
                // Open at the time or created after it: not closed by then.
                Some(ShardFilterType::FromTimestamp) => {
                    filter.as_ref().and_then(|f| f.timestamp_ms).is_some_and(|ts| s.is_open_at_or_after(ts))
                }
                _ => true,
            })
            .collect();
        let next_token = (selected.len() > max).then(|| {
            let last = selected.get(max - 1).map_or(0, |s| s.shard_index);
            Bytes::from(
                NextToken {
                    stream_name: stream_name.clone(),
                    incarnation: stream.incarnation,
                    after_shard: last,
                    max_results: max as u32,
                    issued_ms: now,
                    filter: filter
                        .as_ref()
                        .filter(|f| f.filter_type != ShardFilterType::AfterShardId)
                        .map(|f| (f.filter_type, f.timestamp_ms)),
                }
                .seal(&self.key),
            )
        });
        Ok(Response::ListShards(ListShardsOutput {
            shards: selected.into_iter().take(max).map(wire_shard).collect(),
            next_token,
        }))
    }

    /// Every shard ListShards lists by default, with its owner. Shards and owners come from one
    /// catalog snapshot (`owning_core` is what the engine routes by), so a reshard published
    /// meanwhile cannot mix two placements in one answer.
    fn describe_placement(&self, r: DescribePlacement) -> Outcome {
        let catalog = self.api.catalog();
        let stream = catalog.stream(&r.stream_name)?;
        let cores = self.api.cores();
        // Configured counts are at most 1024, but `cores = 0` means one per CPU. Every core
        // index is below the count, so once the count fits a u16 every index does.
        let Ok(wire_cores) = u16::try_from(cores) else {
            return Err(Failure::new(Status::InternalFailure, format!("{cores} cores do not fit the wire's u16")));
        };
        let shards = stream
            .describe()
            .shards
            .iter()
            .map(|s| ShardPlacement {
                shard: s.shard_index,
                core: owning_core(stream.tag(), s.shard_index, cores) as u16,
            })
            .collect();
        Ok(Response::DescribePlacement(DescribePlacementOutput {
            cores: wire_cores,
            connection_core: self.api.core_id() as u16,
            shards,
        }))
    }

    async fn put_record(&self, r: PutRecord) -> Outcome {
        let record =
            RecordInput { partition_key: r.partition_key, explicit_hash_key: r.explicit_hash_key, data: r.data };
        let ordering = r.sequence_number_for_ordering.map(SequenceNumber);
        let (result, durability) = self.api.put_record(&r.stream_name, record, ordering).await?;
        Ok(Response::PutRecord(PutRecordOutput {
            shard: result.shard_index,
            sequence_number: result.sequence_number.0,
            durability: wire_durability(durability),
        }))
    }

    async fn put_records(&self, r: PutRecords) -> Outcome {
        let records = r
            .records
            .into_iter()
            .map(|e| RecordInput {
                partition_key: e.partition_key,
                explicit_hash_key: e.explicit_hash_key,
                data: e.data,
            })
            .collect();
        let out = self.api.put_records(&r.stream_name, records).await?;
        let records = out
            .results
            .into_iter()
            .map(|r| match r {
                Ok(ok) => PutRecordsResult::Success { shard: ok.shard_index, sequence_number: ok.sequence_number.0 },
                Err(f) => PutRecordsResult::Failure {
                    status: match f.kind {
                        RecordFailureKind::ProvisionedThroughputExceeded => Status::ProvisionedThroughputExceeded,
                        RecordFailureKind::InternalFailure => Status::InternalFailure,
                    },
                    message: f.message,
                },
            })
            .collect();
        Ok(Response::PutRecords(PutRecordsOutput { records, durability: wire_durability(out.durability) }))
    }

    async fn get_shard_iterator(&self, r: GetShardIterator) -> Outcome {
        let now = self.now_ms();
        if let Err(e) = r.validate_timestamp(now) {
            return Err(Failure::new(e.status, e.message));
        }
        let seq = |what: &str| {
            r.starting_sequence_number.map(SequenceNumber).ok_or_else(|| {
                Failure::new(Status::InvalidArgument, format!("{what} requires a StartingSequenceNumber."))
            })
        };
        let position = match r.iterator_type {
            ShardIteratorType::TrimHorizon => StartingPosition::TrimHorizon,
            ShardIteratorType::Latest => StartingPosition::Latest,
            ShardIteratorType::AtSequenceNumber => StartingPosition::AtSequenceNumber(seq("AT_SEQUENCE_NUMBER")?),
            ShardIteratorType::AfterSequenceNumber => {
                StartingPosition::AfterSequenceNumber(seq("AFTER_SEQUENCE_NUMBER")?)
            }
            ShardIteratorType::AtTimestamp => StartingPosition::AtTimestamp(r.timestamp_ms.ok_or_else(|| {
                Failure::new(
                    Status::InvalidArgument,
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request \
                     has no timestamp parameter.",
                )
            })?),
        };
        let catalog = self.api.catalog();
        let stream = catalog.stream(&r.stream_name)?;
        let counter = self.api.resolve(&r.stream_name, r.shard, position).await?;
        let token = ShardIteratorToken {
            stream_name: r.stream_name.clone(),
            stream_incarnation: stream.incarnation,
            shard: r.shard,
            position: IteratorPosition::AtSequenceNumber(SequenceNumber::new(counter, stream.tag(), r.shard).0),
            issued_ms: now,
        };
        Ok(Response::GetShardIterator(GetShardIteratorOutput { iterator: Bytes::from(token.seal(&self.key)) }))
    }

    async fn get_records(&self, r: GetRecords) -> Outcome {
        let now = self.now_ms();
        let token = ShardIteratorToken::open(&r.iterator, &self.key, now)
            .map_err(|e| Failure::new(e.status(), e.to_string()))?;
        let catalog = self.api.catalog();
        let stream = catalog.stream(&token.stream_name)?;
        if stream.incarnation != token.stream_incarnation {
            return Err(Failure::new(
                Status::ResourceNotFound,
                format!("Stream {} was deleted after the iterator was issued.", token.stream_name),
            ));
        }
        let counter = match token.position {
            IteratorPosition::AtSequenceNumber(seq) => SequenceNumber(seq).counter(),
            IteratorPosition::LatestAtIssue => {
                self.api.resolve(&token.stream_name, token.shard, StartingPosition::Latest).await?
            }
        };
        let limit = r.limit.map_or(shoal_engine::limits::READ_RECORDS_MAX, |l| l as usize);
        let out = self.api.read(&token.stream_name, token.shard, counter, limit).await?;
        let next_iterator = out.next_counter.map(|next| {
            let t = ShardIteratorToken {
                position: IteratorPosition::AtSequenceNumber(SequenceNumber::new(next, stream.tag(), token.shard).0),
                issued_ms: now,
                ..token.clone()
            };
            Bytes::from(t.seal(&self.key))
        });
        let records = out
            .records
            .into_iter()
            .map(|rec| Record {
                sequence_number: rec.sequence_number.0,
                arrival_timestamp_ms: rec.arrival_ms,
                partition_key: String::from_utf8_lossy(&rec.partition_key).into_owned(),
                data: rec.data,
            })
            .collect();
        Ok(Response::GetRecords(GetRecordsOutput {
            records,
            next_iterator,
            millis_behind_latest: out.millis_behind,
            child_shards: out.child_shards.iter().map(wire_child).collect(),
        }))
    }
}

/// An engine fan-out event as the wire carries it.
pub fn wire_event(e: SubscriptionEvent) -> SubscribeToShardEvent {
    SubscribeToShardEvent {
        records: e
            .records
            .into_iter()
            .map(|rec| Record {
                sequence_number: rec.sequence_number.0,
                arrival_timestamp_ms: rec.arrival_ms,
                partition_key: String::from_utf8_lossy(&rec.partition_key).into_owned(),
                data: rec.data,
            })
            .collect(),
        continuation_sequence_number: e.continuation.0,
        millis_behind_latest: e.millis_behind,
        child_shards: e.child_shards.iter().map(wire_child).collect(),
        end: e.end.map(|end| match end {
            EngineSubscriptionEnd::Lifetime => SubscriptionEnd::Lifetime,
            EngineSubscriptionEnd::ShardEnd => SubscriptionEnd::ShardEnd,
        }),
    }
}

fn wire_child(c: &ShardDescription) -> ChildShard {
    ChildShard {
        index: c.shard_index,
        parents: c.parent.into_iter().chain(c.adjacent_parent).collect(),
        hash_key_range: HashKeyRange { start: c.hash_key_range.start, end: c.hash_key_range.end },
    }
}

fn wire_consumer(stream: &str, c: &ConsumerMeta) -> Consumer {
    Consumer {
        consumer_name: c.name.clone(),
        consumer_arn: c.arn(stream),
        status: ConsumerStatus::Active,
        creation_timestamp_ms: c.created_ms,
    }
}

fn wire_shard(s: &ShardDescription) -> Shard {
    Shard {
        index: s.shard_index,
        parent: s.parent,
        adjacent_parent: s.adjacent_parent,
        hash_key_range: HashKeyRange { start: s.hash_key_range.start, end: s.hash_key_range.end },
        starting_sequence_number: s.starting_sequence_number.0,
        ending_sequence_number: s.ending_sequence_number.map(|e| e.0),
    }
}

fn wire_durability(d: EngineDurability) -> Durability {
    match d {
        EngineDurability::Synced => Durability::Synced,
        EngineDurability::Written => Durability::Written,
    }
}
