//! Every operation over the wire, with its error paths.

use shoal_protocol::ops::*;
use shoal_protocol::{Request, Response, Status};

use crate::harness::*;

#[test]
fn stream_lifecycle_put_and_read_across_both_cores_and_restart() {
    let mut server = TestServer::start();
    let mut c = server.client();
    assert_eq!(c.ok(create("orders", 4)), Response::CreateStream);
    let (status, msg) = c.call(create("orders", 1)).expect_err("duplicate");
    assert_eq!(status, Status::ResourceInUse, "{msg}");

    let records: Vec<_> = (0..200).map(|i| entry(&format!("key-{i}"), format!("value-{i}").as_bytes())).collect();
    let Response::PutRecords(out) = c.ok(put_records("orders", records)) else { panic!() };
    assert_eq!(out.durability, Durability::Synced);
    assert_eq!(out.records.len(), 200);
    let mut per_shard = [0usize; 4];
    for r in &out.records {
        match r {
            PutRecordsResult::Success { shard, .. } => per_shard[*shard as usize] += 1,
            PutRecordsResult::Failure { status, message } => panic!("{status:?} {message}"),
        }
    }
    assert!(per_shard.iter().all(|&n| n > 20), "keys spread over shards: {per_shard:?}");

    let check = |c: &mut RawClient| {
        let mut total = 0;
        for shard in 0..4 {
            let recs = read_shard(c, "orders", shard);
            assert_eq!(recs.len(), per_shard[shard as usize]);
            for r in &recs {
                let i: usize = r.partition_key["key-".len()..].parse().expect("key");
                assert_eq!(&r.data[..], format!("value-{i}").as_bytes());
            }
            total += recs.len();
        }
        assert_eq!(total, 200);
    };
    check(&mut c);
    drop(c);
    server.restart();
    let mut c = server.client();
    check(&mut c);

    let Response::DescribeStream(d) = c.ok(Request::DescribeStream(DescribeStream {
        stream_name: "orders".into(),
        limit: Some(3),
        exclusive_start_shard: None,
    })) else {
        panic!()
    };
    assert_eq!(d.shards.len(), 3);
    assert!(d.has_more_shards);
    assert_eq!(d.shards[0].hash_key_range.start, 0);
    let Response::DescribeStreamSummary(s) =
        c.ok(Request::DescribeStreamSummary(DescribeStreamSummary { stream_name: "orders".into() }))
    else {
        panic!()
    };
    assert_eq!((s.open_shard_count, s.retention_hours), (4, 24));

    c.ok(Request::IncreaseStreamRetentionPeriod(RetentionPeriodChange {
        stream_name: "orders".into(),
        retention_hours: 48,
    }));
    let (status, _) = c
        .call(Request::DecreaseStreamRetentionPeriod(RetentionPeriodChange {
            stream_name: "orders".into(),
            retention_hours: 72,
        }))
        .expect_err("decrease cannot raise");
    assert_eq!(status, Status::InvalidArgument);

    c.ok(create("a-second", 1));
    let Response::ListStreams(l) =
        c.ok(Request::ListStreams(ListStreams { limit: Some(1), exclusive_start_stream_name: None }))
    else {
        panic!()
    };
    assert_eq!(l.stream_names, vec!["a-second".to_string()]);
    assert!(l.has_more_streams);

    assert_eq!(
        c.ok(Request::DeleteStream(DeleteStream { stream_name: "a-second".into(), enforce_consumer_deletion: false })),
        Response::DeleteStream
    );
    let (status, _) = c
        .call(Request::DescribeStreamSummary(DescribeStreamSummary { stream_name: "a-second".into() }))
        .expect_err("gone");
    assert_eq!(status, Status::ResourceNotFound);
}

#[test]
fn list_shards_pages_with_next_token() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("many", 25));
    let mut seen = Vec::new();
    let mut req = ListShards {
        stream_name: Some("many".into()),
        next_token: None,
        exclusive_start_shard: None,
        max_results: Some(10),
        shard_filter: None,
    };
    loop {
        let Response::ListShards(out) = c.ok(Request::ListShards(req.clone())) else { panic!() };
        seen.extend(out.shards.iter().map(|s| s.index));
        match out.next_token {
            Some(token) => {
                req = ListShards {
                    stream_name: None,
                    next_token: Some(token),
                    exclusive_start_shard: None,
                    max_results: None,
                    shard_filter: None,
                }
            }
            None => break,
        }
    }
    assert_eq!(seen, (0..25).collect::<Vec<_>>());
    let mut bad = req.clone();
    bad.stream_name = None;
    bad.next_token = Some(bytes::Bytes::from_static(&[1u8; 40]));
    let (status, _) = c.call(Request::ListShards(bad)).expect_err("forged token");
    assert_eq!(status, Status::InvalidArgument);
}

#[test]
fn put_record_iterators_positions_and_tampering() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("p", 1));
    let mut seqs = Vec::new();
    for i in 0..10u8 {
        let Response::PutRecord(out) = c.ok(Request::PutRecord(PutRecord {
            stream_name: "p".into(),
            partition_key: "k".into(),
            explicit_hash_key: None,
            sequence_number_for_ordering: seqs.last().copied(),
            data: bytes::Bytes::from(vec![i; 10]),
        })) else {
            panic!()
        };
        assert_eq!(out.durability, Durability::Synced);
        seqs.push(out.sequence_number);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let first_after = |c: &mut RawClient, kind, seq, ts| {
        let Response::GetShardIterator(it) = c.ok(iterator("p", 0, kind, seq, ts)) else { panic!() };
        let Response::GetRecords(r) = c.ok(get_records(it.iterator, Some(1))) else { panic!() };
        r.records.first().map(|r| r.data[0])
    };
    assert_eq!(first_after(&mut c, ShardIteratorType::TrimHorizon, None, None), Some(0));
    assert_eq!(first_after(&mut c, ShardIteratorType::Latest, None, None), None);
    assert_eq!(first_after(&mut c, ShardIteratorType::AtSequenceNumber, Some(seqs[4]), None), Some(4));
    assert_eq!(first_after(&mut c, ShardIteratorType::AfterSequenceNumber, Some(seqs[4]), None), Some(5));
    assert_eq!(first_after(&mut c, ShardIteratorType::AtTimestamp, None, Some(0)), Some(0));

    // Another shard's or a made-up sequence number is an invalid argument.
    let (status, msg) = c
        .call(iterator("p", 0, ShardIteratorType::AtSequenceNumber, Some(seqs[9] + (1u128 << 64)), None))
        .expect_err("beyond the tip");
    assert_eq!(status, Status::InvalidArgument, "{msg}");
    let (status, _) = c.call(iterator("p", 7, ShardIteratorType::TrimHorizon, None, None)).expect_err("no shard");
    assert_eq!(status, Status::ResourceNotFound);

    // A tampered iterator is refused; every byte matters.
    let Response::GetShardIterator(it) = c.ok(iterator("p", 0, ShardIteratorType::TrimHorizon, None, None)) else {
        panic!()
    };
    for i in [0, it.iterator.len() / 2, it.iterator.len() - 1] {
        let mut bad = it.iterator.to_vec();
        bad[i] ^= 0x20;
        let (status, msg) = c.call(get_records(bad.into(), None)).expect_err("tampered");
        assert_eq!(status, Status::InvalidArgument, "{msg}");
    }
    // An iterator of a deleted and re-created stream is refused.
    c.ok(Request::DeleteStream(DeleteStream { stream_name: "p".into(), enforce_consumer_deletion: false }));
    c.ok(create("p", 1));
    let (status, _) = c.call(get_records(it.iterator, None)).expect_err("old incarnation");
    assert_eq!(status, Status::ResourceNotFound);
}

#[test]
fn pipelined_requests_are_all_answered_with_their_ids() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("pipe", 2));
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..300u32 {
        let id = if i % 3 == 0 {
            c.send(Request::ListStreams(ListStreams { limit: None, exclusive_start_stream_name: None }))
        } else {
            c.send(put_records("pipe", vec![entry(&format!("k{i}"), &i.to_le_bytes())]))
        };
        expected.insert(id, i % 3 == 0);
    }
    for _ in 0..300 {
        let frame = c.recv().expect("answer");
        let is_list = expected.remove(&frame.correlation_id).expect("an id we sent, once");
        match frame.body {
            shoal_protocol::FrameBody::Response(Response::ListStreams(_)) => assert!(is_list),
            shoal_protocol::FrameBody::Response(Response::PutRecords(p)) => {
                assert!(!is_list);
                assert!(matches!(p.records[0], PutRecordsResult::Success { .. }));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(expected.is_empty());
}

#[test]
fn throughput_limits_refuse_per_record_and_per_call() {
    let server = TestServer::start();
    let mut c = server.client();
    let limited = |name: &str| {
        Request::CreateStream(CreateStream {
            stream_name: name.into(),
            shard_count: 1,
            retention_hours: None,
            shard_limits: Some(ShardLimits {
                write_bytes_per_second: 1 << 20,
                write_records_per_second: 1,
                read_bytes_per_second: 2 << 20,
                read_calls_per_second: 1,
            }),
        })
    };
    c.ok(limited("slow"));
    let records: Vec<_> = (0..5).map(|i| entry(&format!("k{i}"), b"v")).collect();
    let Response::PutRecords(out) = c.ok(put_records("slow", records)) else { panic!() };
    let failed: Vec<_> = out
        .records
        .iter()
        .filter_map(|r| match r {
            PutRecordsResult::Failure { status, message } => Some((*status, message.clone())),
            PutRecordsResult::Success { .. } => None,
        })
        .collect();
    assert_eq!(failed.len(), 4, "one record per second fits");
    assert!(matches!(out.records[0], PutRecordsResult::Success { .. }), "the first record is the one admitted");
    for (status, message) in failed {
        assert_eq!(status, Status::ProvisionedThroughputExceeded);
        assert!(message.starts_with("Rate exceeded for shard shardId-000000000000 in stream slow"), "{message}");
    }
    let (status, _) = c
        .call(Request::PutRecord(PutRecord {
            stream_name: "slow".into(),
            partition_key: "k".into(),
            explicit_hash_key: None,
            sequence_number_for_ordering: None,
            data: bytes::Bytes::from_static(b"v"),
        }))
        .expect_err("over the record rate");
    assert_eq!(status, Status::ProvisionedThroughputExceeded);
    // One read call per second: the second immediate GetRecords is refused.
    let Response::GetShardIterator(it) = c.ok(iterator("slow", 0, ShardIteratorType::TrimHorizon, None, None)) else {
        panic!()
    };
    let Response::GetRecords(first) = c.ok(get_records(it.iterator.clone(), None)) else { panic!() };
    assert_eq!(first.records.len(), 1, "only the admitted record was stored");
    let (status, _) = c.call(get_records(it.iterator, None)).expect_err("second call in the same second");
    assert_eq!(status, Status::ProvisionedThroughputExceeded);
}

#[test]
fn split_merge_and_update_shard_count_over_the_wire() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("rs", 2));
    let put = |c: &mut RawClient, round: u32| {
        let records = (0..40).map(|k| entry(&format!("key-{k}"), format!("{round}").as_bytes())).collect();
        let Response::PutRecords(out) = c.ok(put_records("rs", records)) else { panic!() };
        for r in &out.records {
            assert!(matches!(r, PutRecordsResult::Success { .. }), "round {round}: {r:?}");
        }
    };
    put(&mut c, 0);
    let quarter = 1u128 << 126;
    assert_eq!(c.ok(Request::SplitShard(SplitShard::new("rs", 0, quarter))), Response::SplitShard);
    put(&mut c, 1);
    // Shard 0 is closed: its children are 2 and 3; 3 and 1 are adjacent.
    assert_eq!(c.ok(Request::MergeShards(MergeShards::new("rs", 3, 1))), Response::MergeShards);
    put(&mut c, 2);
    let Response::UpdateShardCount(u) = c.ok(Request::UpdateShardCount(UpdateShardCount::new("rs", 4))) else {
        panic!()
    };
    assert_eq!((u.current_shard_count, u.target_shard_count), (2, 4));
    put(&mut c, 3);

    let Response::ListShards(all) = c.ok(Request::ListShards(ListShards::for_stream("rs"))) else { panic!() };
    let open: Vec<_> = all.shards.iter().filter(|s| s.ending_sequence_number.is_none()).collect();
    assert_eq!(open.len(), 4);
    assert_eq!(all.shards[2].parent, Some(0));
    assert_eq!(all.shards[4].adjacent_parent, Some(1));

    // A closed shard read to its end: no next iterator, and its children.
    let Response::GetShardIterator(it) = c.ok(iterator("rs", 0, ShardIteratorType::TrimHorizon, None, None)) else {
        panic!()
    };
    let mut it = it.iterator;
    let end = loop {
        let Response::GetRecords(r) = c.ok(get_records(it.clone(), None)) else { panic!() };
        match r.next_iterator {
            Some(next) => it = next,
            None => break r,
        }
    };
    let mut children: Vec<u32> = end.child_shards.iter().map(|c| c.index).collect();
    children.sort();
    assert_eq!(children, vec![2, 3]);

    // Every record is stored exactly once somewhere in the lineage.
    let total: usize = all.shards.iter().map(|s| read_shard(&mut c, "rs", s.index).len()).sum();
    assert_eq!(total, 160);

    let (status, msg) = c.call(Request::SplitShard(SplitShard::new("rs", 0, quarter / 2))).expect_err("closed");
    assert_eq!(status, Status::InvalidArgument, "{msg}");
    let (status, _) = c.call(Request::MergeShards(MergeShards::new("rs", 0, 7))).expect_err("bad pair");
    assert!(matches!(status, Status::InvalidArgument | Status::ResourceNotFound));
    let (status, _) = c.call(Request::UpdateShardCount(UpdateShardCount::new("rs", 9))).expect_err("over double");
    assert_eq!(status, Status::InvalidArgument);
}

/// The shards ListShards returns for a timestamp filter.
fn list_shards_at(c: &mut RawClient, stream: &str, filter_type: ShardFilterType, timestamp_ms: u64) -> Vec<u32> {
    let mut req = ListShards::for_stream(stream);
    req.shard_filter = Some(ShardFilter { filter_type, shard: None, timestamp_ms: Some(timestamp_ms) });
    let Response::ListShards(out) = c.ok(Request::ListShards(req)) else { panic!() };
    out.shards.iter().map(|s| s.index).collect()
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis() as u64
}

/// Regression: AT_TIMESTAMP and FROM_TIMESTAMP ignored the timestamp and
/// listed every shard. The server's clock is the wall clock, so the test
/// keeps a few milliseconds between each time it names and the split.
#[test]
fn list_shards_timestamp_filters_follow_a_split() {
    let gap = std::time::Duration::from_millis(20);
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("ts", 1));
    std::thread::sleep(gap);
    let before_split = wall_ms();
    std::thread::sleep(gap);
    assert_eq!(c.ok(Request::SplitShard(SplitShard::new("ts", 0, 1u128 << 127))), Response::SplitShard);
    std::thread::sleep(gap);
    let after_split = wall_ms();

    assert_eq!(list_shards_at(&mut c, "ts", ShardFilterType::AtTimestamp, before_split), vec![0]);
    assert_eq!(list_shards_at(&mut c, "ts", ShardFilterType::AtTimestamp, after_split), vec![1, 2]);
    assert_eq!(list_shards_at(&mut c, "ts", ShardFilterType::FromTimestamp, before_split), vec![0, 1, 2]);
    assert_eq!(list_shards_at(&mut c, "ts", ShardFilterType::FromTimestamp, after_split), vec![1, 2]);
}

/// A ListShards filter holds for every page: later pages (which carry only
/// the token) used to list every shard.
#[test]
fn a_list_shards_filter_holds_across_pages() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("paged", 3));
    assert_eq!(c.ok(Request::SplitShard(SplitShard::new("paged", 1, 1u128 << 127))), Response::SplitShard);
    let mut req = ListShards::for_stream("paged");
    req.max_results = Some(1);
    req.shard_filter = Some(ShardFilter { filter_type: ShardFilterType::AtLatest, shard: None, timestamp_ms: None });
    let mut listed = Vec::new();
    loop {
        let Response::ListShards(page) = c.ok(Request::ListShards(req)) else { panic!() };
        assert!(page.shards.len() <= 1);
        listed.extend(page.shards.iter().map(|s| s.index));
        match page.next_token {
            Some(token) => req = ListShards::next_page(token),
            None => break,
        }
    }
    assert_eq!(listed, vec![0, 2, 3, 4], "the open shards only: shard 1 was split");
    // A later call may change the page size; the filter still holds.
    let mut first = ListShards::for_stream("paged");
    first.max_results = Some(1);
    first.shard_filter = Some(ShardFilter { filter_type: ShardFilterType::AtLatest, shard: None, timestamp_ms: None });
    let Response::ListShards(page) = c.ok(Request::ListShards(first)) else { panic!() };
    let mut rest = ListShards::next_page(page.next_token.expect("more"));
    rest.max_results = Some(10);
    let Response::ListShards(rest) = c.ok(Request::ListShards(rest)) else { panic!() };
    assert_eq!(rest.shards.iter().map(|s| s.index).collect::<Vec<_>>(), vec![2, 3, 4]);
    assert!(rest.next_token.is_none());
}

#[test]
fn describe_placement_matches_the_engine_and_follows_a_split() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("placed", 4));
    let placement = |c: &mut RawClient| {
        let Response::DescribePlacement(p) = c.ok(Request::DescribePlacement(DescribePlacement::new("placed"))) else {
            panic!("a placement")
        };
        p
    };
    let listed = |c: &mut RawClient| {
        let Response::ListShards(l) = c.ok(Request::ListShards(ListShards::for_stream("placed"))) else { panic!() };
        l.shards.iter().map(|s| s.index).collect::<Vec<_>>()
    };
    let engine = server.server.as_ref().expect("running").engine();
    let owner = |shard: u32| {
        let tag = engine.catalog().stream("placed").expect("stream").tag();
        shoal_engine::catalog::owning_core(tag, shard, engine.cores()) as u16
    };

    let p = placement(&mut c);
    assert_eq!(p.cores, 2);
    assert!(p.connection_core < 2, "{p:?}");
    assert_eq!(p.shards.iter().map(|s| s.shard).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    for s in &p.shards {
        assert_eq!(s.core, owner(s.shard), "shard {}", s.shard);
    }
    let cores: std::collections::BTreeSet<u16> = p.shards.iter().map(|s| s.core).collect();
    assert_eq!(cores, [0, 1].into(), "the shards spread over both cores");

    // Shard 0 covers [0, 2^126): its children are shards 4 and 5; the closed parent stays listed.
    assert_eq!(c.ok(Request::SplitShard(SplitShard::new("placed", 0, 1 << 125))), Response::SplitShard);
    let p = placement(&mut c);
    let shards: Vec<u32> = p.shards.iter().map(|s| s.shard).collect();
    assert_eq!(shards, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(shards, listed(&mut c), "the shards ListShards lists by default");
    for s in &p.shards {
        assert_eq!(s.core, owner(s.shard), "shard {}", s.shard);
    }

    // Errors as DescribeStreamSummary answers them.
    for name in ["missing", "a b"] {
        let placement = c.call(Request::DescribePlacement(DescribePlacement::new(name))).expect_err(name);
        let summary = c.call(Request::DescribeStreamSummary(DescribeStreamSummary::new(name))).expect_err(name);
        assert_eq!(placement, summary, "{name}");
    }
    let (status, msg) = c.call(Request::DescribePlacement(DescribePlacement::new("missing"))).expect_err("missing");
    assert_eq!((status, msg.as_str()), (Status::ResourceNotFound, "Stream missing not found."));
    let (status, _) = c.call(Request::DescribePlacement(DescribePlacement::new("a b"))).expect_err("bad name");
    assert_eq!(status, Status::Validation);
}
