//! Which group commits run inline (blocking calls on the core's thread) and
//! which go through the asynchronous path (see `shard::commit_path`).

use futures::executor::block_on;
use futures::future::join_all;
use shoal_engine::config::LogConfig;
use shoal_engine::limits::INLINE_COMMIT_BYTES_MAX;
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{ManualClock, RecordInput, StartingPosition};

use crate::common::*;

/// A record routed to shard 0 or 1 of a two-shard stream.
fn to_shard(shard: u128, i: u64, size: usize) -> RecordInput {
    let mut r = record("k", i, size);
    r.explicit_hash_key = Some(if shard == 0 { 0 } else { u128::MAX });
    r
}

/// (syncs, of them inline) made while `f` runs.
fn syncs_during(storage: &SimStorage, f: impl FnOnce()) -> (u64, u64) {
    let (all, inline) = (storage.sync_count(), storage.inline_sync_count());
    f();
    (storage.sync_count() - all, storage.inline_sync_count() - inline)
}

#[test]
fn small_groups_of_a_shard_alone_on_its_core_commit_inline() {
    let storage = SimStorage::new(1);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("s", 1, None)).expect("create");
    block_on(engine.put_record("s", record("k", 0, 1000), None)).expect("put");
    // The runway task's work: zeroes ahead of the appends.
    block_on(engine.maintenance()).expect("maintenance");
    let (syncs, inline) = syncs_during(&storage, || {
        for i in 1..=20 {
            block_on(engine.put_record("s", record("k", i, 1000), None)).expect("put");
        }
    });
    assert!(syncs >= 20, "one sync per acknowledged put at least: {syncs}");
    assert_eq!(inline, 20, "every put's group was small, alone and over zeroed pages: {inline} of {syncs} inline");
    let got = read_all(&engine, "s", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), (0..=20).collect::<Vec<_>>());
}

#[test]
fn a_group_past_the_zeroed_runway_goes_through_the_ring() {
    let storage = SimStorage::new(6);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("s", 1, None)).expect("create");
    // A new segment has no zeroed pages yet: its first group's sync would
    // commit the file system's journal, too long to block the core for.
    let (_, inline) = syncs_during(&storage, || {
        block_on(engine.put_record("s", record("k", 0, 100), None)).expect("put");
    });
    assert_eq!(inline, 0, "the first group of a fresh segment is not inline");
    block_on(engine.maintenance()).expect("maintenance");
    let (_, inline) = syncs_during(&storage, || {
        block_on(engine.put_record("s", record("k", 1, 100), None)).expect("put");
    });
    assert_eq!(inline, 1, "once the runway is zeroed, it is");
}

#[test]
fn a_group_larger_than_the_inline_limit_goes_through_the_ring() {
    let storage = SimStorage::new(2);
    let clock = ManualClock::new(T0);
    let engine = open_with(&storage, &clock, LogConfig { segment_bytes: 16 << 20, ..LogConfig::default() }, 1 << 24);
    block_on(engine.create_stream("s", 1, None)).expect("create");
    let big = INLINE_COMMIT_BYTES_MAX as usize + 1;
    let (syncs, inline) = syncs_during(&storage, || {
        block_on(engine.put_record("s", record("k", 0, big), None)).expect("put");
    });
    assert!(syncs >= 1);
    assert_eq!(inline, 0, "a {big}-byte group is not committed inline");
    let (_, inline) = syncs_during(&storage, || {
        block_on(engine.put_record("s", record("k", 1, 100), None)).expect("put");
    });
    assert_eq!(inline, 1, "the next small group is");
    let got = read_all(&engine, "s", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].data.len(), big);
}

#[test]
fn shards_of_one_core_committing_at_once_go_through_the_ring() {
    let storage = SimStorage::new(3);
    storage.set_write_yields(2);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("s", 2, None)).expect("create");
    let (syncs, inline) = syncs_during(&storage, || {
        for round in 0..5u64 {
            let puts =
                (0..2u128).map(|shard| engine.put_record("s", to_shard(shard, round * 2 + shard as u64, 500), None));
            for r in block_on(join_all(puts)) {
                r.expect("put");
            }
        }
    });
    assert!(syncs >= 10, "each shard syncs its own groups: {syncs}");
    assert_eq!(inline, 0, "both shards had appends waiting at every group: none inline");
    for shard in 0..2 {
        let got = read_all(&engine, "s", shard, StartingPosition::TrimHorizon, 100);
        let want: Vec<u64> = (0..5).map(|round| round * 2 + shard as u64).collect();
        assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), want);
    }
    // Once only one shard is busy again, its small groups go inline.
    let (_, inline) = syncs_during(&storage, || {
        block_on(engine.put_record("s", to_shard(1, 100, 500), None)).expect("put");
    });
    assert_eq!(inline, 1, "the core's count of busy shards went back down");
}

#[test]
fn a_zero_limit_turns_inline_commits_off() {
    let storage = SimStorage::new(4);
    let clock = ManualClock::new(T0);
    let log = LogConfig { inline_commit_bytes_max: 0, ..small_segments() };
    let engine = open_with(&storage, &clock, log, 1 << 20);
    block_on(engine.create_stream("s", 1, None)).expect("create");
    let (syncs, inline) = syncs_during(&storage, || {
        for i in 0..5 {
            block_on(engine.put_record("s", record("k", i, 100), None)).expect("put");
        }
    });
    assert!(syncs >= 5);
    assert_eq!(inline, 0);
}

#[test]
fn a_failed_shard_with_appends_waiting_does_not_keep_its_core_off_the_inline_path() {
    let storage = SimStorage::new(5);
    storage.set_write_yields(4);
    let clock = ManualClock::new(T0);
    let engine = open_with(&storage, &clock, LogConfig { segment_bytes: 16 << 20, ..LogConfig::default() }, 1 << 24);
    block_on(engine.create_stream("s", 2, None)).expect("create");
    block_on(engine.put_record("s", to_shard(1, 100, 100), None)).expect("put");
    block_on(engine.maintenance()).expect("shard 1 gets its runway");
    storage.fail_next_sync();
    // A large group (through the ring, taking its time) whose sync fails, and an append that
    // arrives while it is in flight and so waits for the next group. (The store's random
    // delays are seeded: with this seed the late append does wait; the test fails if the
    // failed shard's waiting appends keep counting.)
    let big = engine.put_record("s", to_shard(0, 0, INLINE_COMMIT_BYTES_MAX as usize * 2), None);
    let late = async {
        for _ in 0..3 {
            yield_now().await;
        }
        engine.put_record("s", to_shard(0, 1, 100), None).await
    };
    let (big, late) = block_on(futures::future::join(big, late));
    assert!(big.is_err() && late.is_err(), "the failed shard acknowledges neither");
    let (_, inline) = syncs_during(&storage, || {
        block_on(engine.put_record("s", to_shard(1, 2, 100), None)).expect("the other shard appends");
    });
    assert_eq!(inline, 1, "the failed shard no longer counts as committing");
}
