//! Per-shard throughput limits with an injected clock: exact and fast.

use futures::executor::block_on;
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{
    ErrorKind, LocalEngine, ManualClock, RecordFailureKind, RecordInput, ShardLimits, StartingPosition,
};

use crate::common::*;

/// Kinesis' write limits; reads unlimited so that checking what was stored
/// does not itself get throttled.
const WRITE_LIMITS: ShardLimits = ShardLimits {
    read_bytes_per_second: shoal_engine::throttle::UNLIMITED,
    read_calls_per_second: shoal_engine::throttle::UNLIMITED,
    ..ShardLimits::KINESIS
};

fn refused<T>(r: shoal_engine::Result<T>) -> shoal_engine::EngineError {
    match r {
        Ok(_) => panic!("expected ProvisionedThroughputExceeded, the request was served"),
        Err(e) => e,
    }
}

fn engine_with_limits(limits: ShardLimits) -> (SimEngine, ManualClock) {
    let storage = SimStorage::new(41);
    let clock = ManualClock::new(T0);
    let mut config = engine_config(small_segments(), 1 << 20);
    config.default_shard_limits = limits;
    let (engine, _) = block_on(LocalEngine::open(storage, clock.clone(), &config)).expect("open");
    block_on(engine.create_stream("l", 1, None)).expect("create");
    (engine, clock)
}

/// Offers `per_tick` records of `size` bytes every 10 ms for `secs`
/// seconds; returns (accepted, refused). Checks refusals are per record,
/// carry ProvisionedThroughputExceeded, and leave nothing stored.
fn offer(engine: &SimEngine, clock: &ManualClock, secs: u64, per_tick: usize, size: usize) -> (usize, usize) {
    let (mut accepted, mut refused) = (0, 0);
    for tick in 0..secs * 100 {
        let records: Vec<RecordInput> =
            (0..per_tick).map(|i| RecordInput::new(format!("k{tick}-{i}"), vec![b'x'; size])).collect();
        let out = block_on(engine.put_records("l", records)).expect("call succeeds");
        for r in &out.results {
            match r {
                Ok(_) => accepted += 1,
                Err(f) => {
                    assert_eq!(f.kind, RecordFailureKind::ProvisionedThroughputExceeded);
                    assert!(f.message.contains("Rate exceeded for shard shardId-000000000000"), "{}", f.message);
                    refused += 1;
                }
            }
        }
        clock.advance(10);
    }
    let stored = read_all(engine, "l", 0, StartingPosition::TrimHorizon, 10_000).len();
    assert_eq!(stored, accepted, "exactly the accepted records are stored");
    (accepted, refused)
}

#[test]
fn record_rate_90_percent_passes_150_percent_is_capped_at_the_limit() {
    let (engine, clock) = engine_with_limits(WRITE_LIMITS);
    // 900 records/s of 10 B: 90% of 1,000 records/s.
    let (accepted, refused) = offer(&engine, &clock, 30, 9, 10);
    assert_eq!((accepted, refused), (27_000, 0));

    let (engine, clock) = engine_with_limits(WRITE_LIMITS);
    // 1,500 records/s for 30 s: the limit plus at most one second of burst.
    let (accepted, refused) = offer(&engine, &clock, 30, 15, 10);
    assert_eq!(accepted + refused, 45_000);
    assert!((29_000..=31_000).contains(&accepted), "accepted {accepted}");
}

#[test]
fn byte_rate_is_capped_too() {
    let (engine, clock) = engine_with_limits(WRITE_LIMITS);
    // 90% of 1 MiB/s in 10 KiB records: 9 per 100 ms... as 92 records/s.
    let (_, refused) = offer(&engine, &clock, 20, 1, 9 * 1024);
    assert_eq!(refused, 0, "~0.88 MiB/s passes");
    let (engine, clock) = engine_with_limits(WRITE_LIMITS);
    // 2 × 7.5 KiB per 10 ms = 1.5 MiB/s.
    let (accepted, _) = offer(&engine, &clock, 20, 2, 7 * 1024 + 512);
    let accepted_bytes = accepted as u64 * (7 * 1024 + 512 + 5);
    let limit_bytes = 20 * 1024 * 1024;
    assert!(
        accepted_bytes >= limit_bytes * 97 / 100 && accepted_bytes <= limit_bytes + 1024 * 1024 + 8 * 1024,
        "accepted {accepted_bytes} bytes against a limit of {limit_bytes}"
    );
}

#[test]
fn put_record_fails_whole_over_the_limit() {
    let limits = ShardLimits { write_records_per_second: 2, ..WRITE_LIMITS };
    let (engine, clock) = engine_with_limits(limits);
    for _ in 0..2 {
        block_on(engine.put_record("l", RecordInput::new("k", "v"), None)).expect("within the limit");
    }
    let err = refused(block_on(engine.put_record("l", RecordInput::new("k", "v"), None)));
    assert_eq!(err.kind(), ErrorKind::ProvisionedThroughputExceeded);
    clock.advance(500);
    block_on(engine.put_record("l", RecordInput::new("k", "v"), None)).expect("refilled");
    assert_eq!(read_all(&engine, "l", 0, StartingPosition::TrimHorizon, 100).len(), 3);
}

#[test]
fn read_calls_and_read_bytes_are_limited() {
    let (engine, clock) = engine_with_limits(ShardLimits { read_calls_per_second: 5, ..ShardLimits::UNLIMITED });
    block_on(engine.put_records("l", vec![RecordInput::new("k", "v")])).expect("put");
    let at = block_on(engine.resolve("l", 0, StartingPosition::TrimHorizon)).expect("resolve");
    // 4.5 calls/s for 20 s: never refused.
    for i in 0..90 {
        block_on(engine.read("l", 0, at, 10)).unwrap_or_else(|e| panic!("call {i}: {e}"));
        clock.advance(222);
    }
    // 7.5 calls/s for 20 s: about 5 per second get through.
    let mut ok = 0;
    for _ in 0..150 {
        match block_on(engine.read("l", 0, at, 10)) {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.kind(), ErrorKind::ProvisionedThroughputExceeded),
        }
        clock.advance(133);
    }
    assert!((98..=106).contains(&ok), "{ok} calls accepted in 20 s");

    // 2 MiB/s of read bytes, 2 MiB banked: a 5 MiB read leaves 3 MiB of
    // debt, which takes 1.5 s to repay.
    let (engine, clock) = engine_with_limits(ShardLimits { read_bytes_per_second: 2 << 20, ..ShardLimits::UNLIMITED });
    for i in 0..5 {
        // Key and data: 1 MiB, the largest record.
        block_on(engine.put_records("l", vec![RecordInput::new("k", vec![i; (1 << 20) - 1])])).expect("put");
    }
    let at = block_on(engine.resolve("l", 0, StartingPosition::TrimHorizon)).expect("resolve");
    assert_eq!(block_on(engine.read("l", 0, at, 10)).expect("first read").records.len(), 5);
    clock.advance(1_400);
    let err = refused(block_on(engine.read("l", 0, at, 10)));
    assert_eq!(err.kind(), ErrorKind::ProvisionedThroughputExceeded);
    clock.advance(200);
    block_on(engine.read("l", 0, at, 10)).expect("debt repaid");
}

#[test]
fn unlimited_means_unlimited() {
    let (engine, clock) = engine_with_limits(ShardLimits::UNLIMITED);
    let (accepted, refused) = offer(&engine, &clock, 2, 400, 1000);
    assert_eq!((accepted, refused), (80_000, 0));
}
