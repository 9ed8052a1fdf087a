//! Every operation: the request the server decodes is the one sent, and the typed method
//! returns the server's answer.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use shoal_protocol::ops::*;
use shoal_protocol::{Request, Response};

use crate::fake_server::{FakeServer, Reply};
use crate::{client, run};

fn shard(index: u32) -> Shard {
    Shard {
        index,
        parent: None,
        adjacent_parent: None,
        hash_key_range: HashKeyRange { start: 0, end: u128::MAX },
        starting_sequence_number: 1,
        ending_sequence_number: None,
    }
}

/// A distinctive answer for each operation.
fn answer(request: &Request) -> Response {
    match request {
        Request::CreateStream(_) => Response::CreateStream,
        Request::DeleteStream(_) => Response::DeleteStream,
        Request::DescribeStream(r) => Response::DescribeStream(StreamDescription {
            stream_name: r.stream_name.clone(),
            status: StreamStatus::Active,
            retention_hours: 24,
            creation_timestamp_ms: 1_700_000_000_000,
            shards: vec![shard(0), shard(1)],
            has_more_shards: false,
        }),
        Request::DescribeStreamSummary(r) => Response::DescribeStreamSummary(StreamDescriptionSummary {
            stream_name: r.stream_name.clone(),
            status: StreamStatus::Updating,
            retention_hours: 48,
            creation_timestamp_ms: 1_700_000_000_001,
            open_shard_count: 2,
            consumer_count: 0,
        }),
        Request::ListStreams(_) => Response::ListStreams(ListStreamsOutput {
            stream_names: vec!["logs".into(), "orders".into()],
            has_more_streams: true,
        }),
        Request::ListShards(_) => Response::ListShards(ListShardsOutput {
            shards: vec![shard(3)],
            next_token: Some(Bytes::from_static(b"token")),
        }),
        Request::IncreaseStreamRetentionPeriod(_) => Response::IncreaseStreamRetentionPeriod,
        Request::DecreaseStreamRetentionPeriod(_) => Response::DecreaseStreamRetentionPeriod,
        Request::DescribePlacement(_) => Response::DescribePlacement(DescribePlacementOutput {
            cores: 3,
            connection_core: 2,
            shards: vec![ShardPlacement { shard: 0, core: 1 }, ShardPlacement { shard: 5, core: 2 }],
        }),
        Request::PutRecord(_) => Response::PutRecord(PutRecordOutput {
            shard: 1,
            sequence_number: 4_294_967_296,
            durability: Durability::Written,
        }),
        Request::PutRecords(r) => Response::PutRecords(PutRecordsOutput {
            records: (0u128..)
                .zip(&r.records)
                .map(|(i, _)| PutRecordsResult::Success { shard: 0, sequence_number: 100 + i })
                .collect(),
            durability: Durability::Synced,
        }),
        Request::GetShardIterator(_) => {
            Response::GetShardIterator(GetShardIteratorOutput { iterator: Bytes::from_static(b"\x01iterator") })
        }
        Request::GetRecords(_) => Response::GetRecords(GetRecordsOutput {
            records: vec![Record {
                sequence_number: 7,
                arrival_timestamp_ms: 1_700_000_000_123,
                partition_key: "user-1".into(),
                data: Bytes::from_static(b"hi"),
            }],
            next_iterator: Some(Bytes::from_static(b"next")),
            millis_behind_latest: 0,
            child_shards: vec![],
        }),
        Request::SplitShard(_) => Response::SplitShard,
        Request::MergeShards(_) => Response::MergeShards,
        Request::UpdateShardCount(r) => Response::UpdateShardCount(UpdateShardCountOutput {
            stream_name: r.stream_name.clone(),
            current_shard_count: 2,
            target_shard_count: r.target_shard_count,
        }),
        Request::RegisterStreamConsumer(r) => {
            Response::RegisterStreamConsumer(RegisterStreamConsumerOutput { consumer: consumer(&r.consumer_name) })
        }
        Request::DeregisterStreamConsumer(_) => Response::DeregisterStreamConsumer,
        Request::DescribeStreamConsumer(r) => Response::DescribeStreamConsumer(ConsumerDescription {
            consumer: consumer(&r.consumer_name),
            stream_name: r.stream_name.clone(),
        }),
        Request::ListStreamConsumers(_) => Response::ListStreamConsumers(ListStreamConsumersOutput {
            consumers: vec![consumer("a"), consumer("b")],
            next_token: Some(Bytes::from_static(b"more")),
        }),
        Request::SubscribeToShard(_) => {
            Response::SubscribeToShard(SubscribeToShardOutput { subscription_lifetime_ms: 300_000 })
        }
    }
}

fn consumer(name: &str) -> Consumer {
    Consumer {
        consumer_name: name.into(),
        consumer_arn: ConsumerArn::new("orders", name, 1_700_000_000).to_string(),
        status: ConsumerStatus::Active,
        creation_timestamp_ms: 1_700_000_000_000,
    }
}

fn recording_server() -> (FakeServer, Arc<Mutex<Vec<Request>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let server = FakeServer::answering(move |request| {
        log.lock().unwrap().push(request.clone());
        Reply::Respond(answer(request))
    });
    (server, seen)
}

#[test]
fn every_operation_round_trips() {
    let (server, seen) = recording_server();
    let client = client(&server);
    let put_records = PutRecords::new(
        "orders",
        vec![
            PutRecordsEntry::new("a", &b"x"[..]),
            PutRecordsEntry { explicit_hash_key: Some(1 << 127), ..PutRecordsEntry::new("b", &b"yz"[..]) },
        ],
    );
    let requests = vec![
        Request::CreateStream(CreateStream { retention_hours: Some(48), ..CreateStream::new("orders", 2) }),
        Request::DeleteStream(DeleteStream::new("orders")),
        Request::DescribeStream(DescribeStream::new("orders")),
        Request::DescribeStreamSummary(DescribeStreamSummary::new("orders")),
        Request::ListStreams(ListStreams::default()),
        Request::ListShards(ListShards::for_stream("orders")),
        Request::IncreaseStreamRetentionPeriod(RetentionPeriodChange::new("orders", 168)),
        Request::DecreaseStreamRetentionPeriod(RetentionPeriodChange::new("orders", 24)),
        Request::DescribePlacement(DescribePlacement::new("orders")),
        Request::PutRecord(PutRecord::new("orders", "user-1", &b"hi"[..])),
        Request::PutRecords(put_records),
        Request::GetShardIterator(GetShardIterator::after_sequence_number("orders", 1, 4_294_967_296)),
        Request::GetRecords(GetRecords::new(&b"\x01iterator"[..])),
        Request::SplitShard(SplitShard::new("orders", 1, 1 << 126)),
        Request::MergeShards(MergeShards::new("orders", 2, 3)),
        Request::UpdateShardCount(UpdateShardCount::new("orders", 4)),
        Request::RegisterStreamConsumer(RegisterStreamConsumer::new("orders", "billing")),
        Request::DeregisterStreamConsumer(DeregisterStreamConsumer::new("orders", "billing")),
        Request::DescribeStreamConsumer(DescribeStreamConsumer::new("orders", "billing")),
        Request::ListStreamConsumers(ListStreamConsumers {
            max_results: Some(2),
            ..ListStreamConsumers::new("orders")
        }),
        Request::SubscribeToShard(SubscribeToShard::new(
            "arn:shoal:stream/orders/consumer/billing:1700000000",
            1,
            StartingPosition::at_timestamp(1_700_000_000_000),
        )),
    ];
    run(async {
        for request in &requests {
            let expected = answer(request);
            // Each typed method, rewrapped in the Response it came from.
            let got = match request.clone() {
                Request::CreateStream(r) => client.create_stream(r).await.map(|()| Response::CreateStream),
                Request::DeleteStream(r) => client.delete_stream(r).await.map(|()| Response::DeleteStream),
                Request::DescribeStream(r) => client.describe_stream(r).await.map(Response::DescribeStream),
                Request::DescribeStreamSummary(r) => {
                    client.describe_stream_summary(r).await.map(Response::DescribeStreamSummary)
                }
                Request::ListStreams(r) => client.list_streams(r).await.map(Response::ListStreams),
                Request::ListShards(r) => client.list_shards(r).await.map(Response::ListShards),
                Request::IncreaseStreamRetentionPeriod(r) => {
                    client.increase_stream_retention_period(r).await.map(|()| Response::IncreaseStreamRetentionPeriod)
                }
                Request::DecreaseStreamRetentionPeriod(r) => {
                    client.decrease_stream_retention_period(r).await.map(|()| Response::DecreaseStreamRetentionPeriod)
                }
                Request::DescribePlacement(r) => client.describe_placement(r).await.map(Response::DescribePlacement),
                Request::PutRecord(r) => client.put_record(r).await.map(Response::PutRecord),
                Request::PutRecords(r) => client.put_records(r).await.map(Response::PutRecords),
                Request::GetShardIterator(r) => client.get_shard_iterator(r).await.map(Response::GetShardIterator),
                Request::GetRecords(r) => client.get_records(r).await.map(Response::GetRecords),
                Request::SplitShard(r) => client.split_shard(r).await.map(|()| Response::SplitShard),
                Request::MergeShards(r) => client.merge_shards(r).await.map(|()| Response::MergeShards),
                Request::UpdateShardCount(r) => client.update_shard_count(r).await.map(Response::UpdateShardCount),
                Request::RegisterStreamConsumer(r) => {
                    client.register_stream_consumer(r).await.map(Response::RegisterStreamConsumer)
                }
                Request::DeregisterStreamConsumer(r) => {
                    client.deregister_stream_consumer(r).await.map(|()| Response::DeregisterStreamConsumer)
                }
                Request::DescribeStreamConsumer(r) => {
                    client.describe_stream_consumer(r).await.map(Response::DescribeStreamConsumer)
                }
                Request::ListStreamConsumers(r) => {
                    client.list_stream_consumers(r).await.map(Response::ListStreamConsumers)
                }
                Request::SubscribeToShard(r) => client.subscribe_to_shard(r).await.map(|subscription| {
                    Response::SubscribeToShard(SubscribeToShardOutput {
                        subscription_lifetime_ms: subscription.subscription_lifetime_ms(),
                    })
                }),
            };
            assert_eq!(got.unwrap(), expected, "{:?}", request.opcode());
        }
    });
    assert_eq!(*seen.lock().unwrap(), requests);
    assert_eq!(server.connections(), 1);
}

#[test]
fn the_generic_call_round_trips_every_operation() {
    let (server, seen) = recording_server();
    let client = client(&server);
    let requests = vec![
        Request::ListStreams(ListStreams { limit: Some(10), exclusive_start_stream_name: Some("logs".into()) }),
        Request::ListShards(ListShards::next_page(&b"token"[..])),
        Request::GetShardIterator(GetShardIterator::at_timestamp("orders", 0, 1_700_000_000_000)),
        Request::GetShardIterator(GetShardIterator::new("orders", 2, ShardIteratorType::TrimHorizon)),
    ];
    for request in &requests {
        assert_eq!(run(client.call(request.clone())).unwrap(), answer(request));
    }
    assert_eq!(*seen.lock().unwrap(), requests);
}

#[test]
fn the_blocking_client_reshards() {
    let (server, seen) = recording_server();
    let client = client(&server).blocking();
    client.split_shard(SplitShard::new("orders", 0, u128::MAX / 2)).unwrap();
    client.merge_shards(MergeShards::new("orders", 1, 2)).unwrap();
    let output = client.update_shard_count(UpdateShardCount::new("orders", 3)).unwrap();
    assert_eq!(
        output,
        UpdateShardCountOutput { stream_name: "orders".into(), current_shard_count: 2, target_shard_count: 3 }
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            Request::SplitShard(SplitShard {
                stream_name: "orders".into(),
                shard: 0,
                new_starting_hash_key: u128::MAX / 2,
            }),
            Request::MergeShards(MergeShards { stream_name: "orders".into(), shard: 1, adjacent_shard: 2 }),
            Request::UpdateShardCount(UpdateShardCount {
                stream_name: "orders".into(),
                target_shard_count: 3,
                scaling_type: ScalingType::UniformScaling,
            }),
        ]
    );
}

#[test]
fn the_blocking_client_describes_placement() {
    let (server, seen) = recording_server();
    let client = client(&server).blocking();
    let request = DescribePlacement::new("orders");
    let Response::DescribePlacement(expected) = answer(&Request::DescribePlacement(request.clone())) else {
        panic!("a placement answer")
    };
    assert_eq!(client.describe_placement(request.clone()).unwrap(), expected);
    assert_eq!(*seen.lock().unwrap(), vec![Request::DescribePlacement(request)]);
}

/// The server's resharding rules come back as InvalidArgument with its message, not retried.
#[test]
fn a_refused_reshard_is_a_service_error() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use shoal_protocol::Status;

    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&attempts);
    let message = "Shards shardId-000000000003 and shardId-000000000002 in stream orders are not an adjacent pair \
                   of shards eligible for merging";
    let server = FakeServer::answering(move |request| {
        seen.fetch_add(1, Ordering::SeqCst);
        assert!(matches!(request, Request::MergeShards(_)));
        Reply::Fail(Status::InvalidArgument, message.to_owned())
    });
    let error = run(client(&server).merge_shards(MergeShards::new("orders", 3, 2))).unwrap_err();
    assert_eq!(error.status(), Some(Status::InvalidArgument));
    assert!(error.to_string().contains(message), "{error}");
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}

#[test]
fn the_blocking_client_manages_consumers() {
    let (server, seen) = recording_server();
    let client = client(&server).blocking();
    let registered = client.register_stream_consumer(RegisterStreamConsumer::new("orders", "billing")).unwrap();
    assert_eq!(registered.consumer, consumer("billing"));
    assert_eq!(
        ConsumerArn::parse(&registered.consumer.consumer_arn),
        Some(ConsumerArn::new("orders", "billing", 1_700_000_000))
    );
    let described = client.describe_stream_consumer(DescribeStreamConsumer::new("orders", "billing")).unwrap();
    assert_eq!(described.stream_name, "orders");
    let listed = client.list_stream_consumers(ListStreamConsumers::new("orders")).unwrap();
    assert_eq!(listed.consumers.len(), 2);
    client.list_stream_consumers(ListStreamConsumers::next_page("orders", listed.next_token.unwrap())).unwrap();
    client.deregister_stream_consumer(DeregisterStreamConsumer::new("orders", "billing")).unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 5);
    assert_eq!(
        seen[3],
        Request::ListStreamConsumers(ListStreamConsumers {
            stream_name: "orders".into(),
            max_results: None,
            next_token: Some(Bytes::from_static(b"more")),
        })
    );
}
