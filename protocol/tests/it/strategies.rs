//! proptest strategies for every message type. Values are arbitrary within what the wire can
//! carry (not only what validation accepts), so the codec is tested on its own terms.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use shoal_protocol::ops::*;
use shoal_protocol::{ErrorFrame, Frame, FrameBody, Push, Request, Response, Status};

pub fn text() -> impl Strategy<Value = String> {
    // Any Unicode scalar values, including multi-byte ones.
    ".{0,12}"
}

pub fn blob() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

pub fn status() -> impl Strategy<Value = Status> {
    // Unrecognized codes only come from decoding, so draw raw codes and map them.
    prop_oneof![proptest::sample::select(Status::KNOWN.to_vec()), any::<u16>().prop_map(Status::from_code),]
}

fn hash_key_range() -> impl Strategy<Value = HashKeyRange> {
    (any::<u128>(), any::<u128>()).prop_map(|(start, end)| HashKeyRange { start, end })
}

fn shard() -> impl Strategy<Value = Shard> {
    (any::<u32>(), of(any::<u32>()), of(any::<u32>()), hash_key_range(), any::<u128>(), of(any::<u128>())).prop_map(
        |(index, parent, adjacent_parent, hash_key_range, starting_sequence_number, ending_sequence_number)| Shard {
            index,
            parent,
            adjacent_parent,
            hash_key_range,
            starting_sequence_number,
            ending_sequence_number,
        },
    )
}

fn stream_status() -> impl Strategy<Value = StreamStatus> {
    proptest::sample::select(StreamStatus::ALL.to_vec())
}

fn durability() -> impl Strategy<Value = Durability> {
    proptest::sample::select(Durability::ALL.to_vec())
}

fn iterator_type() -> impl Strategy<Value = ShardIteratorType> {
    proptest::sample::select(ShardIteratorType::ALL.to_vec())
}

fn starting_position() -> impl Strategy<Value = StartingPosition> {
    (iterator_type(), of(any::<u128>()), of(any::<u64>())).prop_map(|(iterator_type, sequence_number, timestamp_ms)| {
        StartingPosition { iterator_type, sequence_number, timestamp_ms }
    })
}

fn consumer() -> impl Strategy<Value = Consumer> {
    (text(), text(), proptest::sample::select(ConsumerStatus::ALL.to_vec()), any::<u64>()).prop_map(
        |(consumer_name, consumer_arn, status, creation_timestamp_ms)| Consumer {
            consumer_name,
            consumer_arn,
            status,
            creation_timestamp_ms,
        },
    )
}

fn record() -> impl Strategy<Value = Record> {
    (any::<u128>(), any::<u64>(), text(), blob()).prop_map(
        |(sequence_number, arrival_timestamp_ms, partition_key, data)| Record {
            sequence_number,
            arrival_timestamp_ms,
            partition_key,
            data,
        },
    )
}

fn child_shard() -> impl Strategy<Value = ChildShard> {
    (any::<u32>(), vec(any::<u32>(), 0..3), hash_key_range()).prop_map(|(index, parents, hash_key_range)| ChildShard {
        index,
        parents,
        hash_key_range,
    })
}

pub fn push() -> impl Strategy<Value = Push> {
    let end = of(proptest::sample::select(SubscriptionEnd::ALL.to_vec()));
    (vec(record(), 0..5), any::<u128>(), any::<u64>(), vec(child_shard(), 0..3), end).prop_map(
        |(records, continuation_sequence_number, millis_behind_latest, child_shards, end)| {
            Push::SubscribeToShardEvent(SubscribeToShardEvent {
                records,
                continuation_sequence_number,
                millis_behind_latest,
                child_shards,
                end,
            })
        },
    )
}

pub fn request() -> impl Strategy<Value = Request> {
    let shard_limits = (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(a, b, c, d)| ShardLimits {
        write_bytes_per_second: a,
        write_records_per_second: b,
        read_bytes_per_second: c,
        read_calls_per_second: d,
    });
    let filter = (proptest::sample::select(ShardFilterType::ALL.to_vec()), of(any::<u32>()), of(any::<u64>()))
        .prop_map(|(filter_type, shard, timestamp_ms)| ShardFilter { filter_type, shard, timestamp_ms });
    let entry = (text(), of(any::<u128>()), blob()).prop_map(|(partition_key, explicit_hash_key, data)| {
        PutRecordsEntry { partition_key, explicit_hash_key, data }
    });
    prop_oneof![
        (text(), any::<u32>(), of(any::<u32>()), of(shard_limits)).prop_map(
            |(stream_name, shard_count, retention_hours, shard_limits)| {
                Request::CreateStream(CreateStream { stream_name, shard_count, retention_hours, shard_limits })
            }
        ),
        (text(), any::<bool>()).prop_map(|(stream_name, enforce_consumer_deletion)| {
            Request::DeleteStream(DeleteStream { stream_name, enforce_consumer_deletion })
        }),
        (text(), of(any::<u32>()), of(any::<u32>())).prop_map(|(stream_name, limit, exclusive_start_shard)| {
            Request::DescribeStream(DescribeStream { stream_name, limit, exclusive_start_shard })
        }),
        text().prop_map(|stream_name| Request::DescribeStreamSummary(DescribeStreamSummary { stream_name })),
        (of(any::<u32>()), of(text())).prop_map(|(limit, exclusive_start_stream_name)| {
            Request::ListStreams(ListStreams { limit, exclusive_start_stream_name })
        }),
        (of(text()), of(blob()), of(any::<u32>()), of(any::<u32>()), of(filter)).prop_map(
            |(stream_name, next_token, exclusive_start_shard, max_results, shard_filter)| {
                Request::ListShards(ListShards {
                    stream_name,
                    next_token,
                    exclusive_start_shard,
                    max_results,
                    shard_filter,
                })
            }
        ),
        (text(), any::<u32>()).prop_map(|(stream_name, retention_hours)| {
            Request::IncreaseStreamRetentionPeriod(RetentionPeriodChange { stream_name, retention_hours })
        }),
        (text(), any::<u32>()).prop_map(|(stream_name, retention_hours)| {
            Request::DecreaseStreamRetentionPeriod(RetentionPeriodChange { stream_name, retention_hours })
        }),
        text().prop_map(|stream_name| Request::DescribePlacement(DescribePlacement { stream_name })),
        (text(), text(), of(any::<u128>()), of(any::<u128>()), blob()).prop_map(
            |(stream_name, partition_key, explicit_hash_key, sequence_number_for_ordering, data)| {
                Request::PutRecord(PutRecord {
                    stream_name,
                    partition_key,
                    explicit_hash_key,
                    sequence_number_for_ordering,
                    data,
                })
            }
        ),
        (text(), vec(entry, 0..6))
            .prop_map(|(stream_name, records)| Request::PutRecords(PutRecords { stream_name, records })),
        (
            text(),
            any::<u32>(),
            proptest::sample::select(ShardIteratorType::ALL.to_vec()),
            of(any::<u128>()),
            of(any::<u64>())
        )
            .prop_map(|(stream_name, shard, iterator_type, starting_sequence_number, timestamp_ms)| {
                Request::GetShardIterator(GetShardIterator {
                    stream_name,
                    shard,
                    iterator_type,
                    starting_sequence_number,
                    timestamp_ms,
                })
            }),
        (blob(), of(any::<u32>())).prop_map(|(iterator, limit)| Request::GetRecords(GetRecords { iterator, limit })),
        (text(), any::<u32>(), any::<u128>()).prop_map(|(stream_name, shard, new_starting_hash_key)| {
            Request::SplitShard(SplitShard { stream_name, shard, new_starting_hash_key })
        }),
        (text(), any::<u32>(), any::<u32>()).prop_map(|(stream_name, shard, adjacent_shard)| {
            Request::MergeShards(MergeShards { stream_name, shard, adjacent_shard })
        }),
        (text(), any::<u32>(), proptest::sample::select(ScalingType::ALL.to_vec())).prop_map(
            |(stream_name, target_shard_count, scaling_type)| {
                Request::UpdateShardCount(UpdateShardCount { stream_name, target_shard_count, scaling_type })
            }
        ),
        (text(), text()).prop_map(|(stream_name, consumer_name)| {
            Request::RegisterStreamConsumer(RegisterStreamConsumer { stream_name, consumer_name })
        }),
        (text(), text()).prop_map(|(stream_name, consumer_name)| {
            Request::DeregisterStreamConsumer(DeregisterStreamConsumer { stream_name, consumer_name })
        }),
        (text(), text()).prop_map(|(stream_name, consumer_name)| {
            Request::DescribeStreamConsumer(DescribeStreamConsumer { stream_name, consumer_name })
        }),
        (text(), of(any::<u32>()), of(blob())).prop_map(|(stream_name, max_results, next_token)| {
            Request::ListStreamConsumers(ListStreamConsumers { stream_name, max_results, next_token })
        }),
        (text(), any::<u32>(), starting_position()).prop_map(|(consumer_arn, shard, starting_position)| {
            Request::SubscribeToShard(SubscribeToShard { consumer_arn, shard, starting_position })
        }),
    ]
}

pub fn response() -> impl Strategy<Value = Response> {
    let put_result = prop_oneof![
        (any::<u32>(), any::<u128>())
            .prop_map(|(shard, sequence_number)| PutRecordsResult::Success { shard, sequence_number }),
        (status(), text()).prop_map(|(status, message)| PutRecordsResult::Failure { status, message }),
    ];
    let record = record();
    let child = child_shard();
    let placement = (any::<u32>(), any::<u16>()).prop_map(|(shard, core)| ShardPlacement { shard, core });
    prop_oneof![
        Just(Response::CreateStream),
        Just(Response::DeleteStream),
        Just(Response::IncreaseStreamRetentionPeriod),
        Just(Response::DecreaseStreamRetentionPeriod),
        Just(Response::SplitShard),
        Just(Response::MergeShards),
        (text(), any::<u32>(), any::<u32>()).prop_map(|(stream_name, current_shard_count, target_shard_count)| {
            Response::UpdateShardCount(UpdateShardCountOutput { stream_name, current_shard_count, target_shard_count })
        }),
        (text(), stream_status(), any::<u32>(), any::<u64>(), vec(shard(), 0..4), any::<bool>()).prop_map(
            |(stream_name, status, retention_hours, creation_timestamp_ms, shards, has_more_shards)| {
                Response::DescribeStream(StreamDescription {
                    stream_name,
                    status,
                    retention_hours,
                    creation_timestamp_ms,
                    shards,
                    has_more_shards,
                })
            }
        ),
        (text(), stream_status(), any::<u32>(), any::<u64>(), any::<u32>(), any::<u32>()).prop_map(
            |(stream_name, status, retention_hours, creation_timestamp_ms, open_shard_count, consumer_count)| {
                Response::DescribeStreamSummary(StreamDescriptionSummary {
                    stream_name,
                    status,
                    retention_hours,
                    creation_timestamp_ms,
                    open_shard_count,
                    consumer_count,
                })
            }
        ),
        (vec(text(), 0..5), any::<bool>()).prop_map(|(stream_names, has_more_streams)| {
            Response::ListStreams(ListStreamsOutput { stream_names, has_more_streams })
        }),
        (vec(shard(), 0..4), of(blob()))
            .prop_map(|(shards, next_token)| Response::ListShards(ListShardsOutput { shards, next_token })),
        (any::<u16>(), any::<u16>(), vec(placement, 0..5)).prop_map(|(cores, connection_core, shards)| {
            Response::DescribePlacement(DescribePlacementOutput { cores, connection_core, shards })
        }),
        (any::<u32>(), any::<u128>(), durability()).prop_map(|(shard, sequence_number, durability)| {
            Response::PutRecord(PutRecordOutput { shard, sequence_number, durability })
        }),
        (vec(put_result, 0..6), durability())
            .prop_map(|(records, durability)| Response::PutRecords(PutRecordsOutput { records, durability })),
        blob().prop_map(|iterator| Response::GetShardIterator(GetShardIteratorOutput { iterator })),
        (vec(record, 0..5), of(blob()), any::<u64>(), vec(child, 0..3)).prop_map(
            |(records, next_iterator, millis_behind_latest, child_shards)| {
                Response::GetRecords(GetRecordsOutput { records, next_iterator, millis_behind_latest, child_shards })
            }
        ),
        Just(Response::DeregisterStreamConsumer),
        consumer().prop_map(|consumer| Response::RegisterStreamConsumer(RegisterStreamConsumerOutput { consumer })),
        (consumer(), text()).prop_map(|(consumer, stream_name)| {
            Response::DescribeStreamConsumer(ConsumerDescription { consumer, stream_name })
        }),
        (vec(consumer(), 0..4), of(blob())).prop_map(|(consumers, next_token)| {
            Response::ListStreamConsumers(ListStreamConsumersOutput { consumers, next_token })
        }),
        any::<u64>().prop_map(|subscription_lifetime_ms| {
            Response::SubscribeToShard(SubscribeToShardOutput { subscription_lifetime_ms })
        }),
    ]
}

pub fn error_frame() -> impl Strategy<Value = ErrorFrame> {
    (any::<u16>(), status(), text()).prop_map(|(opcode, status, message)| ErrorFrame { opcode, status, message })
}

pub fn frame() -> impl Strategy<Value = Frame> {
    let body = prop_oneof![
        request().prop_map(FrameBody::Request),
        response().prop_map(FrameBody::Response),
        error_frame().prop_map(FrameBody::Error),
        push().prop_map(FrameBody::Push),
    ];
    (any::<u64>(), body).prop_map(|(correlation_id, body)| Frame { correlation_id, body })
}
