//! Metrics counted on one core (LocalEngine over the simulated store): what
//! went in, out and was refused, and the gauges read from the logs, checked
//! against what the calls themselves reported.

use futures::executor::block_on;
use shoal_engine::metrics::{CoreSnapshot, ShardSnapshot};
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{LocalEngine, ManualClock, RecordFailureKind, RecordInput, ShardLimits, StartingPosition};

use crate::common::*;

fn snapshot(engine: &SimEngine) -> CoreSnapshot {
    engine.core().metrics_snapshot(0)
}

fn shard<'a>(s: &'a CoreSnapshot, stream: &str, index: u32) -> &'a ShardSnapshot {
    s.shards.iter().find(|x| x.stream == stream && x.shard == index).expect("shard in the snapshot")
}

fn engine_with(limits: ShardLimits, cache_bytes: usize) -> (SimEngine, ManualClock) {
    let clock = ManualClock::new(T0);
    let mut config = engine_config(small_segments(), cache_bytes);
    config.default_shard_limits = limits;
    let (engine, _) = block_on(LocalEngine::open(SimStorage::new(7), clock.clone(), &config)).expect("open");
    (engine, clock)
}

#[test]
fn records_in_out_and_stored_match_what_the_calls_saw() {
    let (engine, clock) = engine_with(ShardLimits::UNLIMITED, 1 << 20);
    block_on(engine.create_stream("m", 2, None)).expect("create");
    let mut acked = [0u64; 2];
    let mut acked_bytes = [0u64; 2];
    for round in 0..20u64 {
        let records: Vec<RecordInput> = (0..25).map(|i| record(&format!("k{round}-{i}"), i, 100)).collect();
        let sizes: Vec<u64> = records.iter().map(|r| r.size_bytes() as u64).collect();
        let out = block_on(engine.put_records("m", records)).expect("put");
        for (r, size) in out.results.iter().zip(sizes) {
            let shard = r.as_ref().expect("unlimited: every record is stored").shard_index as usize;
            acked[shard] += 1;
            acked_bytes[shard] += size;
        }
        clock.advance(10);
    }
    let (put, _) = block_on(engine.put_record("m", record("single", 0, 10), None)).expect("put_record");
    acked[put.shard_index as usize] += 1;
    acked_bytes[put.shard_index as usize] += record("single", 0, 10).size_bytes() as u64;
    let read: Vec<usize> =
        (0..2).map(|s| read_all(&engine, "m", s, StartingPosition::TrimHorizon, 100).len()).collect();

    let s = snapshot(&engine);
    assert_eq!(s.shards.len(), 2);
    for index in 0..2u32 {
        let m = shard(&s, "m", index);
        let i = index as usize;
        assert_eq!(m.incoming_records, acked[i], "shard {index}: incoming == acknowledged");
        assert_eq!(m.incoming_bytes, acked_bytes[i]);
        assert_eq!(m.polled_records, read[i] as u64, "shard {index}: polled == read");
        assert_eq!(m.polled_records, acked[i]);
        assert_eq!((m.write_throttled_records, m.read_throttled_calls), (0, 0));
        assert_eq!(m.storage.records, acked[i], "stored == acknowledged (no ordering gaps)");
        assert!(m.storage.bytes > acked_bytes[i], "frames hold the records and their headers");
        assert!(m.storage.file_bytes >= m.storage.bytes);
        assert_eq!(m.storage.oldest_arrival_ms, Some(T0));
        let newest = if index == put.shard_index { T0 + 200 } else { T0 + 190 };
        assert_eq!(m.storage.newest_arrival_ms, Some(newest), "the last put of the shard, 10 ms per round");
        assert!(m.storage.open_segments >= 1);
    }
    let records: u64 = acked.iter().sum();
    assert_eq!(s.group_records.sum, records, "every stored record was in exactly one group commit");
    assert!(s.group_records.count() >= 1);
    assert_eq!(s.fsync_ns.count(), s.group_records.count(), "one fdatasync per group commit");
    assert!(s.cache_hits > 0, "a 1 MiB cache holds these records");
    assert_eq!(s.cache_misses, 0);
    assert!(s.cache_bytes > 0);
}

#[test]
fn refused_records_and_reads_are_counted_as_throttled() {
    let (engine, _clock) = engine_with(ShardLimits::KINESIS, 1 << 20);
    block_on(engine.create_stream("t", 1, None)).expect("create");
    let mut refused = 0;
    for round in 0..3 {
        let records: Vec<RecordInput> = (0..500).map(|i| record(&format!("k{round}-{i}"), i, 10)).collect();
        let out = block_on(engine.put_records("t", records)).expect("put");
        for r in &out.results {
            if let Err(f) = r {
                assert_eq!(f.kind, RecordFailureKind::ProvisionedThroughputExceeded);
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 500, "1,000 records/s with the clock standing still");
    assert!(block_on(engine.put_record("t", record("one", 0, 10), None)).is_err(), "PutRecord is refused whole");
    refused += 1;
    let from = block_on(engine.resolve("t", 0, StartingPosition::TrimHorizon)).expect("resolve");
    let reads: Vec<bool> = (0..7).map(|_| block_on(engine.read("t", 0, from, 10)).is_ok()).collect();
    let refused_reads = reads.iter().filter(|ok| !**ok).count() as u64;
    assert_eq!(refused_reads, 2, "5 calls/s");

    let s = snapshot(&engine);
    let m = shard(&s, "t", 0);
    assert_eq!(m.write_throttled_records, refused);
    assert_eq!(m.read_throttled_calls, refused_reads);
    assert_eq!(m.incoming_records, 1000);
    assert_eq!(m.polled_records, 5 * 10);
}

#[test]
fn reads_past_the_cache_are_misses() {
    let (engine, _clock) = engine_with(ShardLimits::UNLIMITED, 0);
    block_on(engine.create_stream("d", 1, None)).expect("create");
    let records: Vec<RecordInput> = (0..10).map(|i| record("k", i, 100)).collect();
    block_on(engine.put_records("d", records)).expect("put");
    let got = read_all(&engine, "d", 0, StartingPosition::TrimHorizon, 3);
    assert_eq!(got.len(), 10);
    let s = snapshot(&engine);
    assert_eq!((s.cache_hits, s.cache_misses), (0, 4), "four reads returned records, all from the segment");
    assert_eq!(s.cache_bytes, 0);
}

#[test]
fn an_empty_shard_has_no_arrival_times_and_no_records() {
    let (engine, _clock) = engine_with(ShardLimits::UNLIMITED, 1 << 20);
    block_on(engine.create_stream("e", 1, None)).expect("create");
    let s = snapshot(&engine);
    let m = shard(&s, "e", 0);
    assert_eq!(m.storage.records, 0);
    assert_eq!(m.storage.bytes, 0);
    assert_eq!((m.storage.oldest_arrival_ms, m.storage.newest_arrival_ms), (None, None));
}

/// Appenders that one group commit acknowledged and that append again at once
/// ride the next group together: 16 producers appending 10 times each make
/// 10 groups of 16, not a trickle of small groups behind whoever ran first.
#[test]
fn appenders_acknowledged_together_commit_together() {
    const PRODUCERS: u64 = 16;
    const ROUNDS: u64 = 10;
    let (engine, _clock) = engine_with(ShardLimits::UNLIMITED, 1 << 20);
    block_on(engine.create_stream("g", 1, None)).expect("create");
    block_on(futures::future::join_all((0..PRODUCERS).map(|p| {
        let engine = &engine;
        async move {
            for round in 0..ROUNDS {
                engine.put_record("g", record("k", p * ROUNDS + round, 100), None).await.expect("put");
            }
        }
    })));
    let s = snapshot(&engine);
    assert_eq!(s.group_records.sum, PRODUCERS * ROUNDS);
    assert_eq!(s.group_records.count(), ROUNDS, "one group per round, each holding every producer");
    assert_eq!(s.fsync_ns.count(), ROUNDS);
}
