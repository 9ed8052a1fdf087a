//! Append/read round trips across segment rolls, the tail cache, the disk
//! and restarts.

use futures::executor::block_on;
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{ManualClock, SequenceNumber, StartingPosition};

use crate::common::*;

#[test]
fn records_come_back_in_order_across_rolls_cache_and_restart() {
    let storage = SimStorage::new(1);
    let clock = ManualClock::new(T0);
    // A 16 KiB cache holds only the newest frames: most reads hit the disk.
    let engine = open_with(&storage, &clock, small_segments(), 16 * 1024);
    block_on(engine.create_stream("s", 1, None)).expect("create");
    let mut seqs = Vec::new();
    for batch in 0..40u64 {
        let records = (0..25).map(|i| record("k", batch * 25 + i, 100 + (i as usize * 37) % 900)).collect();
        let out = block_on(engine.put_records("s", records)).expect("put");
        assert_eq!(out.failed_record_count(), 0);
        seqs.extend(out.results.into_iter().map(|r| r.expect("stored").sequence_number));
        clock.advance(3);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "sequence numbers strictly increase");
    let shard = engine.core().shard(&engine.snapshot().streams[0], 0).expect("shard");
    assert!(shard.segment_count() > 3, "segments rolled: {}", shard.segment_count());

    let check = |engine: &SimEngine, limit: usize| {
        let got = read_all(engine, "s", 0, StartingPosition::TrimHorizon, limit);
        assert_eq!(got.len(), 1000);
        for (i, r) in got.iter().enumerate() {
            assert_eq!(record_index(r), i as u64);
            assert_eq!(r.sequence_number, seqs[i]);
            assert_eq!(r.partition_key_str(), "k");
        }
    };
    check(&engine, 7);
    check(&engine, 10_000);
    drop(engine);
    let reopened = open(&storage, &clock);
    check(&reopened, 33);
    // Appends continue after the restart with larger sequence numbers.
    let (r, _) = block_on(reopened.put_record("s", record("k", 1000, 10), None)).expect("put");
    assert!(r.sequence_number > *seqs.last().expect("some"));
}

#[test]
fn records_route_by_md5_to_shards_and_stay_unique() {
    let storage = SimStorage::new(2);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    let desc = block_on(engine.create_stream("routes", 4, None)).expect("create");
    let records: Vec<_> = (0..200).map(|i| record(&format!("key-{i}"), i, 20)).collect();
    let out = block_on(engine.put_records("routes", records.clone())).expect("put");
    for (r, res) in records.iter().zip(&out.results) {
        let res = res.as_ref().expect("stored");
        let h = shoal_engine::routing::partition_key_hash(&r.partition_key);
        let shard = &desc.shards[res.shard_index as usize];
        assert!(shard.hash_key_range.contains(h), "routed to the shard owning its hash key");
        assert_eq!(res.sequence_number.shard_index(), res.shard_index);
    }
    let mut all: Vec<SequenceNumber> = out.results.iter().map(|r| r.as_ref().expect("ok").sequence_number).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 200, "sequence numbers are unique in the stream");
    // An explicit hash key overrides the partition key.
    let mut r = record("any", 0, 1);
    r.explicit_hash_key = Some(u128::MAX);
    let (res, _) = block_on(engine.put_record("routes", r, None)).expect("put");
    assert_eq!(res.shard_index, 3);
}

#[test]
fn sequence_number_for_ordering_is_honoured() {
    let storage = SimStorage::new(3);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("o", 2, None)).expect("create");
    // Put to shard 1 many times, then to shard 0 with ordering after the
    // last shard-1 number: the new number must be larger.
    let mut last = None;
    for i in 0..50 {
        let mut r = record("a", i, 5);
        r.explicit_hash_key = Some(u128::MAX);
        last = Some(block_on(engine.put_record("o", r, None)).expect("put").0.sequence_number);
    }
    let last = last.expect("put");
    let mut r = record("b", 0, 5);
    r.explicit_hash_key = Some(0);
    let (res, _) = block_on(engine.put_record("o", r, Some(last))).expect("put");
    assert_eq!(res.shard_index, 0);
    assert!(res.sequence_number > last);
    // A number from another stream is refused.
    block_on(engine.create_stream("other", 1, None)).expect("create");
    let foreign = block_on(engine.put_record("other", record("c", 0, 1), None)).expect("put").0.sequence_number;
    let err = block_on(engine.put_record("o", record("d", 0, 1), Some(foreign))).expect_err("foreign ordering");
    assert_eq!(err.kind(), shoal_engine::ErrorKind::InvalidArgument);
}

#[test]
fn bad_input_is_refused_whole_and_nothing_is_written() {
    let storage = SimStorage::new(4);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("v", 1, None)).expect("create");
    let too_big = record("k", 0, 1024 * 1024 + 1);
    let cases = vec![
        vec![],
        (0..501).map(|i| record("k", i, 1)).collect(),
        vec![record("k", 0, 1), record("", 1, 1)],
        vec![record("k", 0, 1), too_big],
        (0..6).map(|i| record("k", i, 1024 * 1024 - 8)).collect(),
        // 1 MiB of data is allowed, but not with a key on top (Kinesis counts both).
        vec![record("kk", 0, 1024 * 1024 - 1)],
    ];
    for records in cases {
        let n = records.len();
        let err = block_on(engine.put_records("v", records)).expect_err("refused");
        assert_eq!(err.kind(), shoal_engine::ErrorKind::InvalidArgument, "{n} records: {err}");
    }
    let err = block_on(engine.put_records("v", vec![record("kk", 0, 1024 * 1024 - 1)])).expect_err("refused");
    assert!(err.to_string().contains("record data plus partition key is 1048577 bytes"), "{err}");
    // Exactly 1 MiB of key plus data is the largest record.
    let largest = block_on(engine.put_records("v", vec![record("k", 0, 1024 * 1024 - 1)])).expect("largest");
    assert_eq!(largest.failed_record_count(), 0);
    let stored = read_all(&engine, "v", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(stored.len(), 1);
    let err = block_on(engine.put_records("missing", vec![record("k", 0, 1)])).expect_err("no stream");
    assert_eq!(err.kind(), shoal_engine::ErrorKind::ResourceNotFound);
}

#[test]
fn catalog_survives_restart_and_delete_removes_files() {
    let storage = SimStorage::new(5);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("a", 3, Some(48))).expect("create");
    block_on(engine.create_stream("b", 1, None)).expect("create");
    let err = block_on(engine.create_stream("a", 1, None)).expect_err("duplicate");
    assert_eq!(err.kind(), shoal_engine::ErrorKind::ResourceInUse);
    block_on(engine.put_records("b", vec![record("k", 0, 10)])).expect("put");
    block_on(engine.set_retention("a", 72, true)).expect("increase");
    assert!(block_on(engine.set_retention("a", 48, true)).is_err(), "increase cannot lower");
    drop(engine);

    let engine = open(&storage, &clock);
    assert_eq!(engine.list_streams(), vec!["a".to_string(), "b".to_string()]);
    let a = engine.describe_stream("a").expect("a");
    assert_eq!(a.retention_hours, 72);
    assert_eq!(a.shards.len(), 3);
    block_on(engine.delete_stream("b")).expect("delete");
    assert!(storage.paths().iter().all(|p| !p.to_string_lossy().contains("/b.")), "files of b are gone");
    drop(engine);
    let engine = open(&storage, &clock);
    assert_eq!(engine.list_streams(), vec!["a".to_string()]);
    // Re-creating b gives a new stream: old sequence numbers do not carry.
    block_on(engine.create_stream("b", 1, None)).expect("create");
    assert!(read_all(&engine, "b", 0, StartingPosition::TrimHorizon, 100).is_empty());
}

#[test]
fn the_shard_quota_is_limit_exceeded_with_kinesis_wording() {
    let storage = SimStorage::new(6);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("a", 10, None)).expect("create");
    let err = block_on(engine.create_stream("b", shoal_engine::limits::STREAM_SHARDS_MAX, None)).expect_err("quota");
    assert_eq!(err.kind(), shoal_engine::ErrorKind::LimitExceeded);
    let text = err.to_string();
    assert!(text.contains("Current shard count: 10. Limit: 20000. Number of additional shards"), "{text}");
    assert!(!text.contains('\n'));
    assert!(engine.describe_stream("b").is_err(), "nothing was created");
}

/// A read never returns more than 10 MiB of data plus partition keys: the
/// record that would cross the cap starts the next read, which loses and
/// repeats nothing. The cache holds only the last three records, so the
/// read takes nine from disk and one from the cache, and the record that
/// does not fit is the next one in the cache.
#[test]
fn a_read_stops_before_the_record_that_would_cross_the_byte_cap() {
    let storage = SimStorage::new(9);
    let clock = ManualClock::new(T0);
    let engine = open_with(&storage, &clock, small_segments(), 3 * (1 << 20) + (1 << 19));
    block_on(engine.create_stream("big", 1, None)).expect("create");
    // Key "kk" plus data: 1 MiB − 8 bytes per record, close to the largest.
    for i in 0..13 {
        let out = block_on(engine.put_records("big", vec![record("kk", i, (1 << 20) - 10)])).expect("put");
        assert_eq!(out.failed_record_count(), 0);
    }
    let at = block_on(engine.resolve("big", 0, StartingPosition::TrimHorizon)).expect("resolve");
    let first = block_on(engine.read("big", 0, at, 10_000)).expect("read");
    let size: usize = first.records.iter().map(|r| r.partition_key.len() + r.data.len()).sum();
    // Ten records are 80 bytes under the cap; an eleventh would be 1 MiB over.
    assert_eq!(first.records.len(), 10, "{size} bytes");
    assert!(size <= shoal_engine::limits::READ_BYTES_MAX);
    let second = block_on(engine.read("big", 0, first.next_counter.expect("open"), 10_000)).expect("read");
    let indexes: Vec<u64> = first.records.iter().chain(&second.records).map(record_index).collect();
    assert_eq!(indexes, (0..13).collect::<Vec<_>>());
}

/// Records that fill a read's byte cap exactly end it, and the next read goes on with the
/// record after them: none is skipped (it once jumped to the tip). From the tail cache and from
/// disk.
#[test]
fn a_read_that_fills_its_byte_cap_exactly_skips_nothing() {
    for cache in [64 << 20, 1 << 20] {
        let storage = SimStorage::new(11);
        let clock = ManualClock::new(T0);
        let engine = open_with(&storage, &clock, small_segments(), cache);
        block_on(engine.create_stream("exact", 1, None)).expect("create");
        // Ten records of exactly 1 MiB of key plus data: 10 MiB, the cap. Then two small ones.
        for i in 0..10 {
            block_on(engine.put_records("exact", vec![record("k", i, (1 << 20) - 1)])).expect("put");
        }
        for i in 10..12 {
            block_on(engine.put_records("exact", vec![record("k", i, 100)])).expect("put");
        }
        let all = read_all(&engine, "exact", 0, StartingPosition::TrimHorizon, 10_000);
        assert_eq!(all.iter().map(record_index).collect::<Vec<_>>(), (0..12).collect::<Vec<_>>(), "cache {cache}");
    }
}
