//! PROTOCOL.md's byte-by-byte examples are checked against the code.
//!
//! Every fenced ```hex block in PROTOCOL.md must directly follow a line `Example: NAME`, where
//! NAME is a key of [`examples`]. Inside a block, `#` starts a comment; the rest is hex byte
//! pairs. The test decodes each block, compares the frame with the described value, and
//! re-encodes the value to the same bytes. It also checks that every example here appears in
//! the document and that every served operation has a request and a response example.
//!
//! To regenerate the annotated blocks after a deliberate format change:
//! `cargo test -p shoal-protocol --test protocol_doc -- --ignored --nocapture print_examples`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use shoal_protocol::ops::*;
use shoal_protocol::{
    decode, Decoded, ErrorFrame, Frame, FrameBody, FrameKind, Opcode, Push, Request, Response, Status,
};

const FULL_RANGE: HashKeyRange = HashKeyRange { start: 0, end: u128::MAX };

/// The stream tag the examples give the stream `orders` (a real tag is derived by the server).
const ORDERS_TAG: u128 = 0x7d3c_9a15;

/// A sequence number of `orders`: counter (64 bits) | stream tag (32 bits) | shard index (32 bits).
const fn seq(counter: u64, shard: u32) -> u128 {
    ((counter as u128) << 64) | (ORDERS_TAG << 32) | shard as u128
}

fn request(correlation_id: u64, r: Request) -> Frame {
    Frame { correlation_id, body: FrameBody::Request(r) }
}

fn response(correlation_id: u64, r: Response) -> Frame {
    Frame { correlation_id, body: FrameBody::Response(r) }
}

fn push(correlation_id: u64, event: SubscribeToShardEvent) -> Frame {
    Frame { correlation_id, body: FrameBody::Push(Push::SubscribeToShardEvent(event)) }
}

/// The documented examples, by the name PROTOCOL.md gives them.
fn examples() -> Vec<(&'static str, Frame)> {
    let shard0 = Shard {
        index: 0,
        parent: None,
        adjacent_parent: None,
        hash_key_range: HashKeyRange { start: 0, end: (1 << 127) - 1 },
        starting_sequence_number: seq(0, 0),
        ending_sequence_number: None,
    };
    let billing = Consumer {
        consumer_name: "billing".into(),
        consumer_arn: ConsumerArn::new("orders", "billing", 1_700_000_000_000).to_string(),
        status: ConsumerStatus::Active,
        creation_timestamp_ms: 1_700_000_000_000,
    };
    vec![
        (
            "CreateStream request",
            request(
                1,
                Request::CreateStream(CreateStream {
                    stream_name: "orders".into(),
                    shard_count: 2,
                    retention_hours: Some(48),
                    shard_limits: None,
                }),
            ),
        ),
        (
            "CreateStream request with shard limits",
            request(
                2,
                Request::CreateStream(CreateStream {
                    stream_name: "logs".into(),
                    shard_count: 1,
                    retention_hours: None,
                    shard_limits: Some(ShardLimits {
                        write_bytes_per_second: 1_048_576,
                        write_records_per_second: 1000,
                        read_bytes_per_second: 2_097_152,
                        read_calls_per_second: 5,
                    }),
                }),
            ),
        ),
        ("CreateStream response", response(1, Response::CreateStream)),
        (
            "DeleteStream request",
            request(
                3,
                Request::DeleteStream(DeleteStream { stream_name: "orders".into(), enforce_consumer_deletion: false }),
            ),
        ),
        ("DeleteStream response", response(3, Response::DeleteStream)),
        (
            "DescribeStream request",
            request(
                4,
                Request::DescribeStream(DescribeStream {
                    stream_name: "orders".into(),
                    limit: Some(100),
                    exclusive_start_shard: None,
                }),
            ),
        ),
        (
            "DescribeStream response",
            response(
                4,
                Response::DescribeStream(StreamDescription {
                    stream_name: "orders".into(),
                    status: StreamStatus::Active,
                    retention_hours: 24,
                    creation_timestamp_ms: 1_700_000_000_000,
                    shards: vec![shard0.clone()],
                    has_more_shards: true,
                }),
            ),
        ),
        (
            "DescribeStreamSummary request",
            request(5, Request::DescribeStreamSummary(DescribeStreamSummary { stream_name: "orders".into() })),
        ),
        (
            "DescribeStreamSummary response",
            response(
                5,
                Response::DescribeStreamSummary(StreamDescriptionSummary {
                    stream_name: "orders".into(),
                    status: StreamStatus::Active,
                    retention_hours: 24,
                    creation_timestamp_ms: 1_700_000_000_000,
                    open_shard_count: 2,
                    consumer_count: 0,
                }),
            ),
        ),
        (
            "ListStreams request",
            request(
                6,
                Request::ListStreams(ListStreams { limit: Some(10), exclusive_start_stream_name: Some("logs".into()) }),
            ),
        ),
        (
            "ListStreams response",
            response(
                6,
                Response::ListStreams(ListStreamsOutput {
                    stream_names: vec!["orders".into(), "users".into()],
                    has_more_streams: false,
                }),
            ),
        ),
        (
            "ListShards request",
            request(
                7,
                Request::ListShards(ListShards {
                    stream_name: Some("orders".into()),
                    next_token: None,
                    exclusive_start_shard: None,
                    max_results: Some(1),
                    shard_filter: Some(ShardFilter {
                        filter_type: ShardFilterType::AtLatest,
                        shard: None,
                        timestamp_ms: None,
                    }),
                }),
            ),
        ),
        (
            "ListShards response",
            response(
                7,
                Response::ListShards(ListShardsOutput {
                    shards: vec![shard0],
                    next_token: Some(Bytes::from_static(&[0x6e, 0x74, 0x01, 0x02])),
                }),
            ),
        ),
        (
            "IncreaseStreamRetentionPeriod request",
            request(
                8,
                Request::IncreaseStreamRetentionPeriod(RetentionPeriodChange {
                    stream_name: "orders".into(),
                    retention_hours: 168,
                }),
            ),
        ),
        ("IncreaseStreamRetentionPeriod response", response(8, Response::IncreaseStreamRetentionPeriod)),
        (
            "DecreaseStreamRetentionPeriod request",
            request(
                9,
                Request::DecreaseStreamRetentionPeriod(RetentionPeriodChange {
                    stream_name: "orders".into(),
                    retention_hours: 24,
                }),
            ),
        ),
        ("DecreaseStreamRetentionPeriod response", response(9, Response::DecreaseStreamRetentionPeriod)),
        ("DescribePlacement request", request(26, Request::DescribePlacement(DescribePlacement::new("orders")))),
        (
            "DescribePlacement response",
            response(
                26,
                Response::DescribePlacement(DescribePlacementOutput {
                    cores: 2,
                    connection_core: 0,
                    shards: vec![ShardPlacement { shard: 0, core: 1 }, ShardPlacement { shard: 1, core: 0 }],
                }),
            ),
        ),
        (
            "PutRecord request",
            request(
                10,
                Request::PutRecord(PutRecord {
                    stream_name: "orders".into(),
                    partition_key: "user-1".into(),
                    explicit_hash_key: None,
                    sequence_number_for_ordering: None,
                    data: Bytes::from_static(b"hi"),
                }),
            ),
        ),
        (
            "PutRecord response",
            response(
                10,
                Response::PutRecord(PutRecordOutput {
                    shard: 1,
                    sequence_number: seq(1, 1),
                    durability: Durability::Synced,
                }),
            ),
        ),
        (
            "PutRecords request",
            request(
                11,
                Request::PutRecords(PutRecords {
                    stream_name: "orders".into(),
                    records: vec![
                        PutRecordsEntry {
                            partition_key: "a".into(),
                            explicit_hash_key: None,
                            data: Bytes::from_static(b"x"),
                        },
                        PutRecordsEntry {
                            partition_key: "b".into(),
                            explicit_hash_key: Some(1 << 127),
                            data: Bytes::from_static(b"yz"),
                        },
                    ],
                }),
            ),
        ),
        (
            "PutRecords response",
            response(
                11,
                Response::PutRecords(PutRecordsOutput {
                    records: vec![
                        PutRecordsResult::Success { shard: 0, sequence_number: seq(7, 0) },
                        PutRecordsResult::Failure {
                            status: Status::ProvisionedThroughputExceeded,
                            message: "Rate exceeded for shard shardId-000000000001 in stream orders.".into(),
                        },
                    ],
                    durability: Durability::Synced,
                }),
            ),
        ),
        (
            "GetShardIterator request",
            request(
                12,
                Request::GetShardIterator(GetShardIterator {
                    stream_name: "orders".into(),
                    shard: 1,
                    iterator_type: ShardIteratorType::AfterSequenceNumber,
                    starting_sequence_number: Some(seq(1, 1)),
                    timestamp_ms: None,
                }),
            ),
        ),
        (
            "GetShardIterator request AT_TIMESTAMP",
            request(
                13,
                Request::GetShardIterator(GetShardIterator {
                    stream_name: "orders".into(),
                    shard: 0,
                    iterator_type: ShardIteratorType::AtTimestamp,
                    starting_sequence_number: None,
                    timestamp_ms: Some(1_700_000_000_000),
                }),
            ),
        ),
        (
            "GetShardIterator response",
            response(
                12,
                Response::GetShardIterator(GetShardIteratorOutput {
                    iterator: Bytes::from_static(&[0x01, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07]),
                }),
            ),
        ),
        (
            "GetRecords request",
            request(
                14,
                Request::GetRecords(GetRecords {
                    iterator: Bytes::from_static(&[0x01, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07]),
                    limit: Some(100),
                }),
            ),
        ),
        (
            "GetRecords response",
            response(
                14,
                Response::GetRecords(GetRecordsOutput {
                    records: vec![Record {
                        sequence_number: seq(2, 1),
                        arrival_timestamp_ms: 1_700_000_000_123,
                        partition_key: "user-1".into(),
                        data: Bytes::from_static(b"hi"),
                    }],
                    next_iterator: Some(Bytes::from_static(&[0x01, 0x02, 0x03, 0x04])),
                    millis_behind_latest: 0,
                    child_shards: vec![],
                }),
            ),
        ),
        (
            "GetRecords response at the end of a closed shard",
            response(
                15,
                Response::GetRecords(GetRecordsOutput {
                    records: vec![],
                    next_iterator: None,
                    millis_behind_latest: 0,
                    child_shards: vec![ChildShard { index: 2, parents: vec![0, 1], hash_key_range: FULL_RANGE }],
                }),
            ),
        ),
        ("SplitShard request", request(17, Request::SplitShard(SplitShard::new("orders", 0, 1 << 126)))),
        ("SplitShard response", response(17, Response::SplitShard)),
        ("MergeShards request", request(18, Request::MergeShards(MergeShards::new("orders", 2, 3)))),
        ("MergeShards response", response(18, Response::MergeShards)),
        ("UpdateShardCount request", request(19, Request::UpdateShardCount(UpdateShardCount::new("orders", 4)))),
        (
            "UpdateShardCount response",
            response(
                19,
                Response::UpdateShardCount(UpdateShardCountOutput {
                    stream_name: "orders".into(),
                    current_shard_count: 2,
                    target_shard_count: 4,
                }),
            ),
        ),
        (
            "RegisterStreamConsumer request",
            request(20, Request::RegisterStreamConsumer(RegisterStreamConsumer::new("orders", "billing"))),
        ),
        (
            "RegisterStreamConsumer response",
            response(20, Response::RegisterStreamConsumer(RegisterStreamConsumerOutput { consumer: billing.clone() })),
        ),
        (
            "DeregisterStreamConsumer request",
            request(21, Request::DeregisterStreamConsumer(DeregisterStreamConsumer::new("orders", "billing"))),
        ),
        ("DeregisterStreamConsumer response", response(21, Response::DeregisterStreamConsumer)),
        (
            "DescribeStreamConsumer request",
            request(22, Request::DescribeStreamConsumer(DescribeStreamConsumer::new("orders", "billing"))),
        ),
        (
            "DescribeStreamConsumer response",
            response(
                22,
                Response::DescribeStreamConsumer(ConsumerDescription {
                    consumer: billing.clone(),
                    stream_name: "orders".into(),
                }),
            ),
        ),
        (
            "ListStreamConsumers request",
            request(
                23,
                Request::ListStreamConsumers(ListStreamConsumers {
                    stream_name: "orders".into(),
                    max_results: Some(10),
                    next_token: None,
                }),
            ),
        ),
        (
            "ListStreamConsumers response",
            response(
                23,
                Response::ListStreamConsumers(ListStreamConsumersOutput { consumers: vec![billing], next_token: None }),
            ),
        ),
        (
            "SubscribeToShard request",
            request(
                24,
                Request::SubscribeToShard(SubscribeToShard::new(
                    "arn:shoal:stream/orders/consumer/billing:1700000000000",
                    1,
                    StartingPosition::after_sequence_number(seq(1, 1)),
                )),
            ),
        ),
        (
            "SubscribeToShard response",
            response(24, Response::SubscribeToShard(SubscribeToShardOutput { subscription_lifetime_ms: 300_000 })),
        ),
        (
            "SubscribeToShardEvent push",
            push(
                24,
                SubscribeToShardEvent {
                    records: vec![Record {
                        sequence_number: seq(2, 1),
                        arrival_timestamp_ms: 1_700_000_000_123,
                        partition_key: "user-1".into(),
                        data: Bytes::from_static(b"hi"),
                    }],
                    continuation_sequence_number: seq(2, 1),
                    millis_behind_latest: 0,
                    child_shards: vec![],
                    end: None,
                },
            ),
        ),
        (
            "SubscribeToShardEvent push at the end of the lifetime",
            push(
                24,
                SubscribeToShardEvent {
                    records: vec![],
                    continuation_sequence_number: seq(2, 1),
                    millis_behind_latest: 0,
                    child_shards: vec![],
                    end: Some(SubscriptionEnd::Lifetime),
                },
            ),
        ),
        (
            "SubscribeToShard request AT_TIMESTAMP",
            request(
                25,
                Request::SubscribeToShard(SubscribeToShard::new(
                    "arn:shoal:stream/orders/consumer/billing:1700000000000",
                    0,
                    StartingPosition::at_timestamp(1_700_000_000_000),
                )),
            ),
        ),
        (
            "SubscribeToShardEvent push at the end of a closed shard",
            push(
                25,
                SubscribeToShardEvent {
                    records: vec![],
                    continuation_sequence_number: seq(7, 0),
                    millis_behind_latest: 0,
                    child_shards: vec![
                        ChildShard {
                            index: 2,
                            parents: vec![0],
                            hash_key_range: HashKeyRange { start: 0, end: (1 << 126) - 1 },
                        },
                        ChildShard {
                            index: 3,
                            parents: vec![0],
                            hash_key_range: HashKeyRange { start: 1 << 126, end: (1 << 127) - 1 },
                        },
                    ],
                    end: Some(SubscriptionEnd::ShardEnd),
                },
            ),
        ),
        (
            "Error frame ending a subscription",
            Frame {
                correlation_id: 24,
                body: FrameBody::Error(ErrorFrame {
                    opcode: Opcode::SubscribeToShard as u16,
                    status: Status::ResourceNotFound,
                    message:
                        "The consumer of this subscription to shardId-000000000001 in stream orders was deregistered."
                            .into(),
                }),
            },
        ),
        (
            "Error frame",
            Frame {
                correlation_id: 4,
                body: FrameBody::Error(ErrorFrame {
                    opcode: Opcode::DescribeStream as u16,
                    status: Status::ResourceNotFound,
                    message: "Stream orders not found.".into(),
                }),
            },
        ),
        (
            "Error frame for an unknown opcode",
            Frame {
                correlation_id: 16,
                body: FrameBody::Error(ErrorFrame {
                    opcode: 0x0999,
                    status: Status::UnsupportedOperation,
                    message: "unknown opcode 0x0999".into(),
                }),
            },
        ),
    ]
}

fn protocol_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../PROTOCOL.md");
    std::fs::read_to_string(path).expect("PROTOCOL.md at the repository root")
}

/// Example name -> bytes, for every ```hex block in the document.
fn doc_examples(doc: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut lines = doc.lines().peekable();
    let mut previous = "";
    while let Some(line) = lines.next() {
        if line.trim() == "```hex" {
            let name = previous
                .trim()
                .strip_prefix("Example: ")
                .unwrap_or_else(|| panic!("a ```hex block must follow an `Example: NAME` line, not {previous:?}"))
                .to_owned();
            let mut bytes = Vec::new();
            for hex_line in lines.by_ref() {
                if hex_line.trim() == "```" {
                    break;
                }
                let data = hex_line.split('#').next().unwrap_or("");
                for pair in data.split_whitespace() {
                    let byte = u8::from_str_radix(pair, 16)
                        .unwrap_or_else(|_| panic!("example {name:?}: {pair:?} is not a hex byte"));
                    assert_eq!(pair.len(), 2, "example {name:?}: write bytes as two hex digits, not {pair:?}");
                    bytes.push(byte);
                }
            }
            assert!(out.insert(name.clone(), bytes).is_none(), "example {name:?} appears twice");
        }
        if !line.trim().is_empty() {
            previous = line;
        }
    }
    out
}

#[test]
fn protocol_md_examples_decode_to_their_values_and_reencode_identically() {
    let doc = doc_examples(&protocol_md());
    let expected: BTreeMap<_, _> = examples().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let doc_names: BTreeSet<_> = doc.keys().cloned().collect();
    let code_names: BTreeSet<_> = expected.keys().cloned().collect();
    assert_eq!(doc_names, code_names, "PROTOCOL.md examples and this test's table differ");
    for (name, bytes) in &doc {
        let value = &expected[name];
        match decode(bytes) {
            Decoded::Complete(Ok(frame), consumed) => {
                assert_eq!(consumed, bytes.len(), "example {name:?} has bytes after its frame");
                assert_eq!(&frame, value, "example {name:?} decodes to another value");
            }
            other => panic!("example {name:?} does not decode: {other:?}"),
        }
        let mut encoded = BytesMut::new();
        value.encode(&mut encoded).unwrap();
        assert_eq!(&encoded[..], &bytes[..], "example {name:?} re-encodes differently");
    }
}

#[test]
fn every_served_operation_push_event_and_the_error_frame_have_examples() {
    let mut covered = BTreeSet::new();
    for (_, frame) in examples() {
        covered.insert((frame.kind() as u8, frame.opcode()));
    }
    for op in Opcode::ALL.into_iter().filter(|op| op.is_served()) {
        let kinds: &[FrameKind] =
            if op.is_push_only() { &[FrameKind::Push] } else { &[FrameKind::Request, FrameKind::Response] };
        for &kind in kinds {
            assert!(covered.contains(&(kind as u8, op as u16)), "no {kind:?} example for {}", op.name());
        }
    }
    assert!(covered.iter().any(|(kind, _)| *kind == FrameKind::Error as u8), "no error frame example");
    let ends: BTreeSet<_> = examples()
        .into_iter()
        .filter_map(|(_, frame)| match frame.body {
            FrameBody::Push(Push::SubscribeToShardEvent(event)) => Some(event.end.map(|end| end as u8)),
            _ => None,
        })
        .collect();
    assert_eq!(ends, BTreeSet::from([None, Some(1), Some(2)]), "an event of each kind: running, LIFETIME, SHARD_END");
}

/// Prints every example as an annotated ```hex block, ready to paste into PROTOCOL.md.
#[test]
#[ignore = "generator: run by hand after a deliberate format change"]
fn print_examples() {
    for (name, frame) in examples() {
        let (bytes, notes) = frame.encode_annotated().unwrap();
        println!("Example: {name}\n\n```hex");
        for note in notes {
            let span = &bytes[note.offset..note.offset + note.len];
            let comment = describe(note.field, note.role, span);
            for (i, chunk) in span.chunks(16).enumerate() {
                let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
                let hex = hex.join(" ");
                if i == 0 {
                    println!("{hex:<48}# {comment}");
                } else {
                    println!("{hex}");
                }
            }
        }
        println!("```\n");
    }
}

fn describe(field: &str, role: &str, span: &[u8]) -> String {
    let uint = || {
        let mut v = [0u8; 16];
        v[..span.len()].copy_from_slice(span);
        u128::from_le_bytes(v)
    };
    match role {
        "present" => format!("{field}: {}", if span == [1] { "present" } else { "absent" }),
        "length" => format!("{field}: length {}", uint()),
        "count" => format!("{field}: count {}", uint()),
        "UTF-8" => format!("{field}: {:?}", String::from_utf8_lossy(span)),
        "bytes" => format!("{field}: {} bytes", span.len()),
        _ => match field {
            "header_crc32" | "flags" => format!("{field} = 0x{:08x}", uint()),
            "opcode" => format!("{field} = 0x{:04x}", uint()),
            "kind" => {
                format!("{field} = {} ({})", uint(), ["?", "request", "response", "error", "push"][span[0] as usize])
            }
            "status" if span.len() == 1 => named(field, span, StreamStatus::from_u8(span[0]).map(StreamStatus::name)),
            "status" | "records[].status" => {
                format!("{field} = 0x{:04x} ({})", uint(), Status::from_code(uint() as u16).name())
            }
            "durability" => named(field, span, Durability::from_u8(span[0]).map(Durability::name)),
            "iterator_type" => named(field, span, ShardIteratorType::from_u8(span[0]).map(ShardIteratorType::name)),
            "shard_filter.type" => named(field, span, ShardFilterType::from_u8(span[0]).map(ShardFilterType::name)),
            "scaling_type" => named(field, span, ScalingType::from_u8(span[0]).map(ScalingType::name)),
            "consumer.status" => named(field, span, ConsumerStatus::from_u8(span[0]).map(ConsumerStatus::name)),
            "starting_position.iterator_type" => {
                named(field, span, ShardIteratorType::from_u8(span[0]).map(ShardIteratorType::name))
            }
            "end" => named(field, span, SubscriptionEnd::from_u8(span[0]).map(SubscriptionEnd::name)),
            "records[].result" => named(field, span, Some(if span[0] == 1 { "success" } else { "failure" })),
            "enforce_consumer_deletion" | "has_more_shards" | "has_more_streams" => {
                named(field, span, Some(if span[0] == 1 { "true" } else { "false" }))
            }
            _ => format!("{field} = {}", uint()),
        },
    }
}

fn named(field: &str, span: &[u8], name: Option<&str>) -> String {
    format!("{field} = {} ({})", span[0], name.unwrap_or("?"))
}
