//! Retention with an injected clock: whole expired segments go, reads at
//! TRIM_HORIZON start after them, and counters continue.

use futures::executor::block_on;
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{ManualClock, StartingPosition};

use crate::common::*;

const HOUR_MS: u64 = 3_600_000;

#[test]
fn expired_segments_are_deleted_and_trim_horizon_moves() {
    let storage = SimStorage::new(21);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("r", 1, None)).expect("create");
    // Old data: 200 records of ~1 KiB over several 64 KiB segments.
    let old: Vec<_> = (0..200).map(|i| record("k", i, 1000)).collect();
    for chunk in old.chunks(20) {
        block_on(engine.put_records("r", chunk.to_vec())).expect("put");
    }
    clock.advance(23 * HOUR_MS);
    // Young data, 23 h later.
    for i in 200..210 {
        block_on(engine.put_records("r", vec![record("k", i, 1000)])).expect("put");
    }
    let segments_before = storage.paths().iter().filter(|p| p.extension().is_some_and(|e| e == "log")).count();
    assert_eq!(block_on(engine.maintenance()).expect("maintenance"), 0, "nothing is 24 h old yet");

    clock.advance(2 * HOUR_MS); // old data is now 25 h old, young data 2 h
    let removed = block_on(engine.maintenance()).expect("maintenance");
    assert!(removed > 0);
    let segments_after = storage.paths().iter().filter(|p| p.extension().is_some_and(|e| e == "log")).count();
    assert_eq!(segments_before - removed, segments_after);
    let rest = read_all(&engine, "r", 0, StartingPosition::TrimHorizon, 1000);
    let first = record_index(rest.first().expect("young data survives"));
    assert!(first > 0, "expired records are gone");
    assert_eq!(rest.last().map(record_index), Some(209));
    let idx: Vec<u64> = rest.iter().map(record_index).collect();
    assert!(idx.windows(2).all(|w| w[1] == w[0] + 1), "no gap inside what is retained");

    // Once everything is old, even the active segment goes; counters go on.
    clock.advance(30 * HOUR_MS);
    block_on(engine.maintenance()).expect("maintenance");
    assert!(read_all(&engine, "r", 0, StartingPosition::TrimHorizon, 1000).is_empty());
    let last_old = rest.last().expect("some").sequence_number;
    let (r, _) = block_on(engine.put_record("r", record("k", 210, 10), None)).expect("put");
    assert!(r.sequence_number > last_old);
    drop(engine);
    let engine = open(&storage, &clock);
    let after = read_all(&engine, "r", 0, StartingPosition::TrimHorizon, 1000);
    assert_eq!(after.iter().map(record_index).collect::<Vec<_>>(), vec![210]);
}

#[test]
fn longer_retention_keeps_data() {
    let storage = SimStorage::new(22);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("r", 1, Some(48))).expect("create");
    for i in 0..100 {
        block_on(engine.put_records("r", vec![record("k", i, 2000)])).expect("put");
    }
    clock.advance(30 * HOUR_MS);
    block_on(engine.put_records("r", vec![record("k", 100, 10)])).expect("put");
    assert_eq!(block_on(engine.maintenance()).expect("maintenance"), 0);
    assert_eq!(read_all(&engine, "r", 0, StartingPosition::TrimHorizon, 1000).len(), 101);
    block_on(engine.set_retention("r", 24, false)).expect("decrease");
    assert!(block_on(engine.maintenance()).expect("maintenance") > 0);
}

#[test]
fn streams_created_without_retention_take_the_configured_default() {
    let storage = SimStorage::new(23);
    let clock = ManualClock::new(T0);
    let mut config = engine_config(small_segments(), 1 << 20);
    config.default_retention_hours = 72;
    let (engine, _) =
        block_on(shoal_engine::LocalEngine::open(storage.clone(), clock.clone(), &config)).expect("engine opens");
    block_on(engine.create_stream("default", 1, None)).expect("create");
    block_on(engine.create_stream("own", 1, Some(48))).expect("create");
    assert_eq!(engine.describe_stream("default").expect("describe").retention_hours, 72);
    assert_eq!(engine.describe_stream("own").expect("describe").retention_hours, 48);

    config.default_retention_hours = 8761;
    let refused = block_on(shoal_engine::LocalEngine::open(storage, clock, &config));
    assert!(refused.is_err(), "a default outside 24..=8760 hours is refused");
}
