//! Every starting position and its Kinesis edge cases, served from the
//! tail cache and (after a restart) from disk.

use futures::executor::block_on;
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{Clock, ErrorKind, ManualClock, SequenceNumber, StartingPosition as P};

use crate::common::*;

fn setup() -> (SimStorage, ManualClock, Vec<(SequenceNumber, u64)>) {
    let storage = SimStorage::new(11);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("p", 2, None)).expect("create");
    let mut written = Vec::new();
    for i in 0..300u64 {
        let mut r = record("k", i, 300);
        r.explicit_hash_key = Some(0); // all on shard 0
        let (res, _) = block_on(engine.put_record("p", r, None)).expect("put");
        written.push((res.sequence_number, clock.now_ms()));
        clock.advance(10);
    }
    (storage, clock, written)
}

fn check_positions(engine: &SimEngine, clock: &ManualClock, written: &[(SequenceNumber, u64)]) {
    let first = |pos: P| read_all(engine, "p", 0, pos, 1000).first().map(record_index);
    assert_eq!(first(P::TrimHorizon), Some(0));
    assert_eq!(first(P::Latest), None, "LATEST starts after the newest record");
    assert_eq!(first(P::AtSequenceNumber(written[123].0)), Some(123));
    assert_eq!(first(P::AfterSequenceNumber(written[123].0)), Some(124));
    assert_eq!(first(P::AfterSequenceNumber(written[299].0)), None);
    // AT_TIMESTAMP: exact, between records, before all, past the tip.
    assert_eq!(first(P::AtTimestamp(written[50].1)), Some(50));
    assert_eq!(first(P::AtTimestamp(written[50].1 + 1)), Some(51));
    assert_eq!(first(P::AtTimestamp(0)), Some(0));
    assert_eq!(first(P::AtTimestamp(clock.now_ms() + 60_000)), None);
    assert_eq!(read_all(engine, "p", 0, P::AtSequenceNumber(written[0].0), 7).len(), 300);

    let err = |pos: P, shard: u32| block_on(engine.resolve("p", shard, pos)).expect_err("refused");
    // A number from another shard.
    let e = err(P::AtSequenceNumber(written[5].0), 1);
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("It encodes shardId-000000000000"), "{e}");
    // A number beyond the tip. (After the restart the next record's counter is the shard's
    // counter lease, up to COUNTER_LEASE past the last one: see `shard::lease`.)
    let beyond = written[299].0.counter() + shoal_engine::limits::COUNTER_LEASE + 1;
    let beyond = SequenceNumber::new(beyond, written[0].0.stream_tag(), 0);
    assert_eq!(err(P::AtSequenceNumber(beyond), 0).kind(), ErrorKind::InvalidArgument);
    assert_eq!(err(P::AfterSequenceNumber(beyond), 0).kind(), ErrorKind::InvalidArgument);
    // A number from another stream.
    let foreign = SequenceNumber::new(1, written[0].0.stream_tag() ^ 1, 0);
    assert!(err(P::AtSequenceNumber(foreign), 0).to_string().contains("did not come from this stream"));
    assert_eq!(err(P::TrimHorizon, 9).kind(), ErrorKind::ResourceNotFound);
}

#[test]
fn positions_from_cache_and_from_disk() {
    let (storage, clock, written) = setup();
    let engine = open(&storage, &clock);
    // The reopened engine has an empty cache: everything comes from disk.
    check_positions(&engine, &clock, &written);
}

#[test]
fn latest_then_new_records_and_millis_behind() {
    let storage = SimStorage::new(12);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("l", 1, None)).expect("create");
    block_on(engine.put_records("l", vec![record("k", 0, 10)])).expect("put");
    let at = block_on(engine.resolve("l", 0, P::Latest)).expect("latest");
    let empty = block_on(engine.read("l", 0, at, 10)).expect("read");
    assert!(empty.records.is_empty());
    assert_eq!(empty.next_counter, Some(at), "an open shard always gives a next position");
    assert_eq!(empty.millis_behind, 0);
    block_on(engine.put_records("l", vec![record("k", 1, 10), record("k", 2, 10)])).expect("put");
    clock.advance(5_000);
    let one = block_on(engine.read("l", 0, at, 1)).expect("read");
    assert_eq!(one.records.len(), 1);
    assert_eq!(record_index(&one.records[0]), 1);
    assert_eq!(one.millis_behind, 5_000, "one record left unread, 5 s old");
    let rest = block_on(engine.read("l", 0, one.next_counter.expect("open"), 10)).expect("read");
    assert_eq!(rest.records.len(), 1);
    assert_eq!(rest.millis_behind, 0, "caught up");
    assert!(block_on(engine.read("l", 0, at, 0)).is_err(), "limit 0 is invalid");
    assert!(block_on(engine.read("l", 0, at, 10_001)).is_err(), "limit over 10,000 is invalid");
}
