//! Every validation rule: the status it answers and the message it says.

use bytes::Bytes;
use shoal_protocol::limits::*;
use shoal_protocol::ops::*;
use shoal_protocol::{validate, Request, Status, ValidationError};

fn failure(r: Result<(), ValidationError>) -> (Status, String) {
    let e = r.expect_err("validation should fail");
    (e.status, e.message)
}

fn ok(r: Result<(), ValidationError>) {
    if let Err(e) = r {
        panic!("unexpected validation failure: {e}");
    }
}

fn constraint(value: Option<&str>, path: &str, rule: &str) -> (Status, String) {
    let value = value.map_or("Value at".to_owned(), |v| format!("Value '{v}' at"));
    (Status::Validation, format!("1 validation error detected: {value} '{path}' failed to satisfy constraint: {rule}"))
}

#[test]
fn stream_names() {
    ok(validate::stream_name("streamName", "a"));
    ok(validate::stream_name("streamName", "Az09_.-"));
    ok(validate::stream_name("streamName", &"x".repeat(STREAM_NAME_LENGTH_CHARS_MAX)));
    assert_eq!(
        failure(validate::stream_name("streamName", "")),
        constraint(Some(""), "streamName", "Member must have length greater than or equal to 1")
    );
    let long = "x".repeat(129);
    assert_eq!(
        failure(validate::stream_name("streamName", &long)),
        constraint(Some(&long), "streamName", "Member must have length less than or equal to 128")
    );
    for bad in ["a b", "a/b", "é", "a:b", "a\u{0}"] {
        assert_eq!(
            failure(validate::stream_name("streamName", bad)),
            constraint(Some(bad), "streamName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
        );
    }
}

#[test]
fn partition_keys_count_characters_not_bytes() {
    ok(validate::partition_key("partitionKey", "k"));
    // 256 four-byte characters: 1024 bytes, still legal.
    ok(validate::partition_key("partitionKey", &"😀".repeat(256)));
    let too_long = "😀".repeat(257);
    assert_eq!(
        failure(validate::partition_key("partitionKey", &too_long)),
        constraint(Some(&too_long), "partitionKey", "Member must have length less than or equal to 256")
    );
    assert_eq!(
        failure(validate::partition_key("partitionKey", "")),
        constraint(Some(""), "partitionKey", "Member must have length greater than or equal to 1")
    );
}

#[test]
fn record_data_size() {
    ok(validate::record_data("data", &[]));
    ok(validate::record_data("data", &vec![0; RECORD_DATA_SIZE_BYTES_MAX]));
    assert_eq!(
        failure(validate::record_data("data", &vec![0; RECORD_DATA_SIZE_BYTES_MAX + 1])),
        constraint(None, "data", "Member must have length less than or equal to 1048576")
    );
}

fn put(records: Vec<PutRecordsEntry>) -> PutRecords {
    PutRecords { stream_name: "s".into(), records }
}

fn entry(key: &str, data_len: usize) -> PutRecordsEntry {
    PutRecordsEntry { partition_key: key.into(), explicit_hash_key: None, data: Bytes::from(vec![0; data_len]) }
}

#[test]
fn put_records_counts_sizes_and_member_paths() {
    ok(put(vec![entry("k", 1)]).validate());
    ok(put((0..PUT_RECORDS_COUNT_MAX).map(|_| entry("k", 10)).collect()).validate());
    assert_eq!(
        failure(put(vec![]).validate()),
        constraint(None, "records", "Member must have length greater than or equal to 1")
    );
    assert_eq!(
        failure(put((0..501).map(|_| entry("k", 0)).collect()).validate()),
        constraint(None, "records", "Member must have length less than or equal to 500")
    );
    assert_eq!(
        failure(put(vec![entry("k", 0), entry("", 0)]).validate()),
        constraint(Some(""), "records.2.member.partitionKey", "Member must have length greater than or equal to 1")
    );
    assert_eq!(
        failure(put(vec![entry("k", RECORD_DATA_SIZE_BYTES_MAX + 1)]).validate()),
        constraint(None, "records.1.member.data", "Member must have length less than or equal to 1048576")
    );
    // Exactly 5 MiB of data and keys is fine; one byte more is not, and keys count.
    let full: Vec<_> = (0..5).map(|_| entry("k", RECORD_DATA_SIZE_BYTES_MAX - 1)).collect();
    assert_eq!(put(full.clone()).size_bytes(), PUT_RECORDS_SIZE_BYTES_MAX);
    ok(put(full).validate());
    let over: Vec<_> = (0..5).map(|i| entry(if i == 0 { "kk" } else { "k" }, RECORD_DATA_SIZE_BYTES_MAX - 1)).collect();
    let (status, message) = failure(put(over).validate());
    assert_eq!(status, Status::InvalidArgument);
    assert!(message.contains("5242880") && message.contains("5242881"), "{message}");
    let bad_name = PutRecords { stream_name: "a b".into(), records: vec![entry("k", 0)] };
    assert_eq!(failure(bad_name.validate()).0, Status::Validation);
}

#[test]
fn put_record() {
    let mut p = PutRecord {
        stream_name: "s".into(),
        partition_key: "k".into(),
        explicit_hash_key: Some(u128::MAX),
        sequence_number_for_ordering: Some(0),
        data: Bytes::new(),
    };
    ok(Request::PutRecord(p.clone()).validate());
    p.data = Bytes::from(vec![0; RECORD_DATA_SIZE_BYTES_MAX + 1]);
    assert_eq!(
        failure(p.validate()).1,
        constraint(None, "data", "Member must have length less than or equal to 1048576").1
    );
    p.data = Bytes::new();
    p.partition_key = String::new();
    assert_eq!(failure(p.validate()).0, Status::Validation);
    p.partition_key = "k".into();
    p.stream_name = String::new();
    assert_eq!(failure(p.validate()).0, Status::Validation);
}

#[test]
fn create_stream_and_retention() {
    let mut c = CreateStream { stream_name: "s".into(), shard_count: 1, retention_hours: None, shard_limits: None };
    ok(Request::CreateStream(c.clone()).validate());
    c.shard_count = 0;
    assert_eq!(
        failure(c.validate()),
        constraint(Some("0"), "shardCount", "Member must have value greater than or equal to 1")
    );
    c.shard_count = SHARD_COUNT_MAX + 1;
    assert_eq!(
        failure(c.validate()),
        constraint(Some("100001"), "shardCount", "Member must have value less than or equal to 100000")
    );
    c.shard_count = 4;
    c.retention_hours = Some(23);
    assert_eq!(
        failure(c.validate()),
        (
            Status::InvalidArgument,
            "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short."
                .to_owned()
        )
    );
    c.retention_hours = Some(8761);
    assert_eq!(
        failure(c.validate()),
        (
            Status::InvalidArgument,
            "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long."
                .to_owned()
        )
    );
    c.retention_hours = Some(RETENTION_HOURS_MAX);
    ok(c.validate());
    let limits = ShardLimits {
        write_bytes_per_second: 1,
        write_records_per_second: 1,
        read_bytes_per_second: 1,
        read_calls_per_second: 1,
    };
    c.shard_limits = Some(limits);
    ok(c.validate());
    for (i, path) in ["writeBytesPerSecond", "writeRecordsPerSecond", "readBytesPerSecond", "readCallsPerSecond"]
        .into_iter()
        .enumerate()
    {
        let mut l = limits;
        match i {
            0 => l.write_bytes_per_second = 0,
            1 => l.write_records_per_second = 0,
            2 => l.read_bytes_per_second = 0,
            _ => l.read_calls_per_second = 0,
        }
        c.shard_limits = Some(l);
        assert_eq!(
            failure(c.validate()),
            constraint(Some("0"), &format!("shardLimits.{path}"), "Member must have value greater than or equal to 1")
        );
    }
    c.shard_limits = None;
    c.stream_name = "bad name".into();
    assert_eq!(failure(c.validate()).0, Status::Validation);

    let r = RetentionPeriodChange { stream_name: "s".into(), retention_hours: 48 };
    ok(Request::IncreaseStreamRetentionPeriod(r.clone()).validate());
    ok(Request::DecreaseStreamRetentionPeriod(r.clone()).validate());
    let short = RetentionPeriodChange { retention_hours: 1, ..r };
    assert_eq!(failure(Request::DecreaseStreamRetentionPeriod(short).validate()).0, Status::InvalidArgument);
}

#[test]
fn paging_limits() {
    let d = |limit| DescribeStream { stream_name: "s".into(), limit, exclusive_start_shard: Some(3) };
    ok(d(None).validate());
    ok(d(Some(DESCRIBE_STREAM_LIMIT_MAX)).validate());
    assert_eq!(
        failure(d(Some(0)).validate()),
        constraint(Some("0"), "limit", "Member must have value greater than or equal to 1")
    );
    assert_eq!(
        failure(d(Some(10_001)).validate()),
        constraint(Some("10001"), "limit", "Member must have value less than or equal to 10000")
    );
    ok(Request::DescribeStreamSummary(DescribeStreamSummary { stream_name: "s".into() }).validate());
    assert_eq!(failure(DescribeStreamSummary { stream_name: String::new() }.validate()).0, Status::Validation);
    ok(Request::DeleteStream(DeleteStream { stream_name: "s".into(), enforce_consumer_deletion: true }).validate());
    assert_eq!(
        failure(DeleteStream { stream_name: "?".into(), enforce_consumer_deletion: false }.validate()).0,
        Status::Validation
    );

    let l = |limit, start: Option<&str>| ListStreams { limit, exclusive_start_stream_name: start.map(Into::into) };
    ok(Request::ListStreams(l(None, None)).validate());
    ok(l(Some(1), Some("a")).validate());
    assert_eq!(failure(l(Some(0), None).validate()).0, Status::Validation);
    assert_eq!(failure(l(Some(10_001), None).validate()).0, Status::Validation);
    assert_eq!(
        failure(l(None, Some("a b")).validate()),
        constraint(
            Some("a b"),
            "exclusiveStartStreamName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )
    );

    let g = |iterator: Vec<u8>, limit| GetRecords { iterator: Bytes::from(iterator), limit };
    ok(Request::GetRecords(g(vec![1], None)).validate());
    ok(g(vec![1; SHARD_ITERATOR_SIZE_BYTES_MAX], Some(GET_RECORDS_LIMIT_MAX)).validate());
    assert_eq!(
        failure(g(vec![1], Some(0)).validate()),
        constraint(Some("0"), "limit", "Member must have value greater than or equal to 1")
    );
    assert_eq!(
        failure(g(vec![1], Some(10_001)).validate()),
        constraint(Some("10001"), "limit", "Member must have value less than or equal to 10000")
    );
    assert_eq!(
        failure(g(vec![], None).validate()),
        constraint(None, "shardIterator", "Member must have length greater than or equal to 1")
    );
    assert_eq!(
        failure(g(vec![1; 513], None).validate()),
        constraint(None, "shardIterator", "Member must have length less than or equal to 512")
    );
}

#[test]
fn list_shards_rules() {
    let base = ListShards {
        stream_name: Some("s".into()),
        next_token: None,
        exclusive_start_shard: None,
        max_results: None,
        shard_filter: None,
    };
    ok(Request::ListShards(base.clone()).validate());
    let both = ListShards { next_token: Some(Bytes::from_static(b"t")), ..base.clone() };
    assert_eq!(
        failure(both.validate()),
        (Status::InvalidArgument, "NextToken and StreamName cannot be provided together.".into())
    );
    let neither = ListShards { stream_name: None, ..base.clone() };
    assert_eq!(
        failure(neither.validate()),
        (Status::InvalidArgument, "Either NextToken or StreamName should be provided.".into())
    );
    let token_only = ListShards { stream_name: None, next_token: Some(Bytes::from_static(b"t")), ..base.clone() };
    ok(token_only.validate());
    let token_and_start = ListShards { exclusive_start_shard: Some(1), ..token_only.clone() };
    assert_eq!(failure(token_and_start.validate()).0, Status::InvalidArgument);
    let empty_token = ListShards { next_token: Some(Bytes::new()), ..token_only };
    assert_eq!(failure(empty_token.validate()).0, Status::Validation);
    assert_eq!(failure(ListShards { max_results: Some(0), ..base.clone() }.validate()).0, Status::Validation);
    assert_eq!(failure(ListShards { max_results: Some(10_001), ..base.clone() }.validate()).0, Status::Validation);
    assert_eq!(failure(ListShards { stream_name: Some("".into()), ..base.clone() }.validate()).0, Status::Validation);

    let with = |filter_type, shard, timestamp_ms| ListShards {
        shard_filter: Some(ShardFilter { filter_type, shard, timestamp_ms }),
        ..base.clone()
    };
    ok(with(ShardFilterType::AfterShardId, Some(1), None).validate());
    ok(with(ShardFilterType::AtTimestamp, None, Some(1)).validate());
    ok(with(ShardFilterType::FromTimestamp, None, Some(1)).validate());
    ok(with(ShardFilterType::AtLatest, None, None).validate());
    ok(with(ShardFilterType::AtTrimHorizon, None, None).validate());
    ok(with(ShardFilterType::FromTrimHorizon, None, None).validate());
    assert_eq!(
        failure(with(ShardFilterType::AfterShardId, None, None).validate()),
        (Status::InvalidArgument, "ShardFilter type AFTER_SHARD_ID requires a ShardId.".into())
    );
    assert_eq!(
        failure(with(ShardFilterType::AtLatest, Some(1), None).validate()),
        (Status::InvalidArgument, "ShardFilter type AT_LATEST does not take a ShardId.".into())
    );
    assert_eq!(
        failure(with(ShardFilterType::AtTimestamp, None, None).validate()),
        (Status::InvalidArgument, "ShardFilter type AT_TIMESTAMP requires a Timestamp.".into())
    );
    assert_eq!(
        failure(with(ShardFilterType::AfterShardId, Some(1), Some(2)).validate()),
        (Status::InvalidArgument, "ShardFilter type AFTER_SHARD_ID does not take a Timestamp.".into())
    );
}

#[test]
fn get_shard_iterator_combinations_use_kinesis_messages() {
    use ShardIteratorType::*;
    let g = |iterator_type, seq: Option<u128>, ts: Option<u64>| GetShardIterator {
        stream_name: "s".into(),
        shard: 0,
        iterator_type,
        starting_sequence_number: seq,
        timestamp_ms: ts,
    };
    for (t, seq, ts) in [
        (TrimHorizon, None, None),
        (Latest, None, None),
        (AtSequenceNumber, Some(5), None),
        (AfterSequenceNumber, Some(5), None),
        (AtTimestamp, None, Some(5)),
    ] {
        ok(Request::GetShardIterator(g(t, seq, ts)).validate());
    }
    let prefix = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber \
                  or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified";
    for t in [AtSequenceNumber, AfterSequenceNumber] {
        assert_eq!(
            failure(g(t, None, None).validate()),
            (Status::InvalidArgument, format!("{prefix} {} and no StartingSequenceNumber.", t.name()))
        );
    }
    for t in [TrimHorizon, Latest, AtTimestamp] {
        assert_eq!(
            failure(g(t, Some(1), Some(1)).validate()),
            (Status::InvalidArgument, format!("{prefix} {} and also a StartingSequenceNumber.", t.name()))
        );
    }
    assert_eq!(
        failure(g(AtTimestamp, None, None).validate()),
        (
            Status::InvalidArgument,
            "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no \
             timestamp parameter."
                .into()
        )
    );
    let (status, message) = failure(g(Latest, None, Some(1)).validate());
    assert_eq!(status, Status::InvalidArgument);
    assert!(message.contains("LATEST and also a timestamp"), "{message}");
    assert_eq!(
        failure(GetShardIterator { stream_name: "".into(), ..g(Latest, None, None) }.validate()).0,
        Status::Validation
    );

    let at = g(AtTimestamp, None, Some(2000));
    ok(at.validate_timestamp(2000));
    assert_eq!(
        failure(at.validate_timestamp(1999)),
        (
            Status::InvalidArgument,
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. \
             timestampInMillis: 2000, currentTimestampInMillis: 1999"
                .into()
        )
    );
}

#[test]
fn resharding_checks_names_and_target_counts_only() {
    // Hash keys, shard indexes and adjacency are the server's to judge: any values pass here.
    ok(Request::SplitShard(SplitShard::new("s", 0, 0)).validate());
    ok(Request::SplitShard(SplitShard::new("s", u32::MAX, u128::MAX)).validate());
    ok(Request::MergeShards(MergeShards::new("s", 3, 3)).validate());
    ok(Request::MergeShards(MergeShards::new("s", 5, 1)).validate());
    let bad = "a b";
    let name_error =
        constraint(Some(bad), "streamName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    assert_eq!(failure(SplitShard::new(bad, 0, 1 << 127).validate()), name_error);
    assert_eq!(failure(MergeShards::new(bad, 0, 1).validate()), name_error);
    assert_eq!(failure(UpdateShardCount::new(bad, 2).validate()), name_error);
    assert_eq!(
        failure(MergeShards::new("", 0, 1).validate()),
        constraint(Some(""), "streamName", "Member must have length greater than or equal to 1")
    );

    ok(Request::UpdateShardCount(UpdateShardCount::new("s", SHARD_COUNT_MIN)).validate());
    ok(UpdateShardCount::new("s", SHARD_COUNT_MAX).validate());
    assert_eq!(
        failure(UpdateShardCount::new("s", 0).validate()),
        constraint(Some("0"), "targetShardCount", "Member must have value greater than or equal to 1")
    );
    assert_eq!(
        failure(UpdateShardCount::new("s", SHARD_COUNT_MAX + 1).validate()),
        constraint(Some("100001"), "targetShardCount", "Member must have value less than or equal to 100000")
    );
    assert_eq!(UpdateShardCount::new("s", 2).scaling_type, ScalingType::UniformScaling);
    assert_eq!(ScalingType::UniformScaling.name(), "UNIFORM_SCALING");
    assert_eq!(ScalingType::ALL, &[ScalingType::UniformScaling]);
}

#[test]
fn describe_placement_checks_the_name_as_describe_stream_summary_does() {
    ok(Request::DescribePlacement(DescribePlacement::new("s")).validate());
    ok(DescribePlacement::new("x".repeat(STREAM_NAME_LENGTH_CHARS_MAX)).validate());
    for bad in [String::new(), "a b".into(), "x".repeat(STREAM_NAME_LENGTH_CHARS_MAX + 1)] {
        assert_eq!(
            failure(DescribePlacement::new(&bad).validate()),
            failure(DescribeStreamSummary::new(&bad).validate()),
            "{bad:?}"
        );
    }
    assert_eq!(
        failure(Request::DescribePlacement(DescribePlacement::new("a b")).validate()),
        constraint(Some("a b"), "streamName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
    );
}

#[test]
fn validation_errors_become_error_frames() {
    let e = validate::stream_name("streamName", "").unwrap_err();
    let frame = e.error_frame(31, 0x0001);
    assert_eq!(frame.correlation_id, 31);
    let shoal_protocol::FrameBody::Error(err) = frame.body else { panic!("error frame") };
    assert_eq!((err.opcode, err.status, err.message), (0x0001, Status::Validation, e.message));
}

#[test]
fn consumer_names_follow_the_stream_name_rules() {
    let pattern = "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+";
    ok(validate::consumer_name("consumerName", "a"));
    ok(validate::consumer_name("consumerName", "Az09_.-"));
    ok(validate::consumer_name("consumerName", &"c".repeat(CONSUMER_NAME_LENGTH_CHARS_MAX)));
    assert_eq!(
        failure(validate::consumer_name("consumerName", "")),
        constraint(Some(""), "consumerName", "Member must have length greater than or equal to 1")
    );
    let long = "c".repeat(129);
    assert_eq!(
        failure(validate::consumer_name("consumerName", &long)),
        constraint(Some(&long), "consumerName", "Member must have length less than or equal to 128")
    );
    for bad in ["a b", "a/b", "a:b", "é"] {
        assert_eq!(
            failure(validate::consumer_name("consumerName", bad)),
            constraint(Some(bad), "consumerName", pattern)
        );
    }
    // Every consumer request checks both names, stream first.
    type Check = fn(&str, &str) -> Result<(), ValidationError>;
    let checks: [Check; 3] = [
        |s, c| RegisterStreamConsumer::new(s, c).validate(),
        |s, c| DeregisterStreamConsumer::new(s, c).validate(),
        |s, c| DescribeStreamConsumer::new(s, c).validate(),
    ];
    for check in checks {
        ok(check("orders", "billing"));
        assert_eq!(failure(check("orders", "bil ling")), constraint(Some("bil ling"), "consumerName", pattern));
        assert_eq!(failure(check("or ders", "bil ling")), constraint(Some("or ders"), "streamName", pattern));
    }
}

#[test]
fn list_stream_consumers_paging() {
    ok(ListStreamConsumers::new("orders").validate());
    ok(ListStreamConsumers { max_results: Some(1), ..ListStreamConsumers::new("orders") }.validate());
    ok(ListStreamConsumers { max_results: Some(10_000), ..ListStreamConsumers::next_page("orders", &b"t"[..]) }
        .validate());
    assert_eq!(
        failure(ListStreamConsumers { max_results: Some(0), ..ListStreamConsumers::new("orders") }.validate()),
        constraint(Some("0"), "maxResults", "Member must have value greater than or equal to 1")
    );
    assert_eq!(
        failure(ListStreamConsumers { max_results: Some(10_001), ..ListStreamConsumers::new("orders") }.validate()),
        constraint(Some("10001"), "maxResults", "Member must have value less than or equal to 10000")
    );
    assert_eq!(
        failure(ListStreamConsumers::next_page("orders", Bytes::new()).validate()),
        constraint(None, "nextToken", "Member must have length greater than or equal to 1")
    );
    assert_eq!(
        failure(ListStreamConsumers::next_page("orders", vec![1; 513]).validate()),
        constraint(None, "nextToken", "Member must have length less than or equal to 512")
    );
    assert_eq!(failure(ListStreamConsumers::new("").validate()).0, Status::Validation);
}

#[test]
fn subscribe_to_shard_checks_the_arn_and_the_starting_position() {
    let arn = ConsumerArn::new("orders", "billing", 1_700_000_000).to_string();
    ok(SubscribeToShard::new(&arn, 0, StartingPosition::latest()).validate());
    ok(SubscribeToShard::new(&arn, u32::MAX, StartingPosition::after_sequence_number(7)).validate());

    let pattern = format!("Member must satisfy regular expression pattern: {}", ConsumerArn::PATTERN);
    for bad in ["orders", "arn:shoal:stream/orders/consumer/billing", "arn:shoal:stream/orders/consumer/b c:1"] {
        assert_eq!(
            failure(SubscribeToShard::new(bad, 0, StartingPosition::latest()).validate()),
            constraint(Some(bad), "consumerARN", &pattern)
        );
    }
    assert_eq!(
        failure(SubscribeToShard::new("", 0, StartingPosition::latest()).validate()),
        constraint(Some(""), "consumerARN", "Member must have length greater than or equal to 1")
    );
    let huge = "a".repeat(CONSUMER_ARN_LENGTH_CHARS_MAX + 1);
    assert_eq!(
        failure(SubscribeToShard::new(&huge, 0, StartingPosition::latest()).validate()),
        constraint(None, "consumerARN", "Member must have length less than or equal to 2048")
    );

    // Every starting position gets exactly GetShardIterator's verdict and message.
    use ShardIteratorType::*;
    for iterator_type in ShardIteratorType::ALL.iter().copied() {
        for sequence_number in [None, Some(5)] {
            for timestamp_ms in [None, Some(5)] {
                let position = StartingPosition { iterator_type, sequence_number, timestamp_ms };
                let iterator = GetShardIterator {
                    stream_name: "orders".into(),
                    shard: 0,
                    iterator_type,
                    starting_sequence_number: sequence_number,
                    timestamp_ms,
                };
                assert_eq!(SubscribeToShard::new(&arn, 0, position).validate(), iterator.validate(), "{position:?}");
                assert_eq!(position.validate_timestamp(4), iterator.validate_timestamp(4));
            }
        }
    }
    assert_eq!(
        failure(
            StartingPosition { iterator_type: AtSequenceNumber, sequence_number: None, timestamp_ms: None }.validate()
        ),
        (
            Status::InvalidArgument,
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) \
             TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no \
             StartingSequenceNumber."
                .into()
        )
    );
    ok(StartingPosition::at_timestamp(2000).validate_timestamp(2000));
    assert_eq!(failure(StartingPosition::at_timestamp(2001).validate_timestamp(2000)).0, Status::InvalidArgument);
    for position in [
        StartingPosition::trim_horizon(),
        StartingPosition::latest(),
        StartingPosition::at_sequence_number(1),
        StartingPosition::after_sequence_number(1),
        StartingPosition::at_timestamp(1),
    ] {
        ok(position.validate());
    }
}
