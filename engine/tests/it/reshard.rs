//! Resharding: lineage, per-key order across splits and merges, reads at
//! the end of a closed shard, and crashes in the middle of a reshard.

use futures::executor::block_on;
use shoal_engine::routing::partition_key_hash;
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{Clock as _, ErrorKind, ManualClock, Record, StartingPosition};

use crate::common::*;

/// Reads every record of `key` in the order a consumer following the
/// lineage sees them: each shard from TRIM_HORIZON to its end, then the
/// child that holds the key's hash.
fn read_key(engine: &SimEngine, stream: &str, key: &str) -> Vec<Record> {
    let h = partition_key_hash(key);
    let desc = engine.describe_stream(stream).expect("describe");
    let mut shard = desc
        .shards
        .iter()
        .find(|s| s.parent.is_none() && s.hash_key_range.contains(h))
        .expect("a root shard holds every key")
        .shard_index;
    let mut out = Vec::new();
    loop {
        let mut at = block_on(engine.resolve(stream, shard, StartingPosition::TrimHorizon)).expect("resolve");
        let children = loop {
            let r = block_on(engine.read(stream, shard, at, 1000)).expect("read");
            out.extend(r.records.into_iter().filter(|r| r.partition_key_str() == key));
            match r.next_counter {
                Some(next) if next != at => at = next,
                Some(_) => break Vec::new(), // open shard, caught up
                None => break r.child_shards,
            }
        };
        match children.into_iter().find(|c| c.hash_key_range.contains(h)) {
            Some(child) => shard = child.shard_index,
            None => return out,
        }
    }
}

fn put_round(engine: &SimEngine, round: u64, keys: usize) {
    let records = (0..keys).map(|k| record(&format!("key-{k}"), round * 1000 + k as u64, 50)).collect();
    let out = block_on(engine.put_records("r", records)).expect("put");
    assert_eq!(out.failed_record_count(), 0);
}

fn check_order(engine: &SimEngine, rounds: u64, keys: usize) {
    for k in 0..keys {
        let got: Vec<u64> = read_key(engine, "r", &format!("key-{k}")).iter().map(record_index).collect();
        let want: Vec<u64> = (0..rounds).map(|r| r * 1000 + k as u64).collect();
        assert_eq!(got, want, "key-{k} in put order across the lineage");
    }
}

#[test]
fn split_then_merge_keeps_per_key_order_and_lineage() {
    let storage = SimStorage::new(51);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("r", 1, None)).expect("create");
    for round in 0..5 {
        put_round(&engine, round, 40);
    }
    let mid = 1u128 << 127;
    block_on(engine.split_shard("r", 0, mid)).expect("split");
    for round in 5..10 {
        put_round(&engine, round, 40);
    }
    let desc = engine.describe_stream("r").expect("describe");
    assert_eq!(desc.shards.len(), 3);
    assert!(desc.shards[0].ending_sequence_number.is_some(), "the parent is closed");
    assert_eq!(desc.shards[1].parent, Some(0));
    assert_eq!(desc.shards[2].parent, Some(0));
    assert_eq!(desc.shards[1].hash_key_range.end + 1, mid);

    // The parent read to its end has no next position and names its children.
    let at = block_on(engine.resolve("r", 0, StartingPosition::TrimHorizon)).expect("resolve");
    let mut at = at;
    let end = loop {
        let r = block_on(engine.read("r", 0, at, 100)).expect("read");
        match r.next_counter {
            Some(n) => at = n,
            None => break r,
        }
    };
    assert_eq!(end.child_shards.iter().map(|c| c.shard_index).collect::<Vec<_>>(), vec![1, 2]);

    block_on(engine.merge_shards("r", 1, 2)).expect("merge");
    for round in 10..15 {
        put_round(&engine, round, 40);
    }
    let desc = engine.describe_stream("r").expect("describe");
    assert_eq!(desc.shards[3].parent, Some(1));
    assert_eq!(desc.shards[3].adjacent_parent, Some(2));
    assert_eq!(desc.shards.iter().filter(|s| s.is_open()).count(), 1);
    check_order(&engine, 15, 40);

    // Still true after a restart.
    drop(engine);
    let engine = open(&storage, &clock);
    check_order(&engine, 15, 40);
}

#[test]
fn uniform_scaling_up_and_down_keeps_every_record() {
    let storage = SimStorage::new(52);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("r", 2, None)).expect("create");
    let mut round = 0;
    for target in [3, 6, 4, 2] {
        put_round(&engine, round, 30);
        round += 1;
        block_on(engine.update_shard_count("r", target)).expect("update shard count");
        let desc = engine.describe_stream("r").expect("describe");
        let mut open: Vec<_> = desc.shards.iter().filter(|s| s.is_open()).map(|s| s.hash_key_range).collect();
        open.sort();
        assert_eq!(open, shoal_engine::routing::HashKeyRange::even_split(target));
        for child in &desc.shards {
            for p in child.parent.into_iter().chain(child.adjacent_parent) {
                let parent_end = desc.shards[p as usize].ending_sequence_number.expect("parents are closed");
                assert!(
                    child.starting_sequence_number.counter() >= parent_end.counter(),
                    "children number their records after their parents'"
                );
            }
        }
    }
    put_round(&engine, round, 30);
    check_order(&engine, round + 1, 30);
}

#[test]
fn reshard_rules_are_enforced() {
    let storage = SimStorage::new(53);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("r", 2, None)).expect("create");
    let err = |r: shoal_engine::Result<()>| r.expect_err("refused").kind();
    assert_eq!(err(block_on(engine.split_shard("r", 0, 1))), ErrorKind::InvalidArgument);
    assert_eq!(err(block_on(engine.split_shard("r", 9, 1 << 100))), ErrorKind::ResourceNotFound);
    assert_eq!(err(block_on(engine.merge_shards("r", 1, 0))), ErrorKind::InvalidArgument);
    assert_eq!(err(block_on(engine.update_shard_count("r", 5))), ErrorKind::InvalidArgument);
    assert_eq!(err(block_on(engine.update_shard_count("r", 0))), ErrorKind::InvalidArgument);
    block_on(engine.merge_shards("r", 0, 1)).expect("merge");
    assert_eq!(err(block_on(engine.split_shard("r", 0, 1 << 100))), ErrorKind::InvalidArgument, "closed");
    assert_eq!(err(block_on(engine.split_shard("missing", 0, 1 << 100))), ErrorKind::ResourceNotFound);
}

/// Crash at every storage operation of a split: the stream is as it was
/// (one open shard) or as it is after (parent closed, two children), every
/// acknowledged record is readable, and the stream keeps working.
#[test]
fn a_crash_at_any_step_of_a_split_leaves_before_or_after() {
    let mut saw_before = false;
    let mut saw_after = false;
    for crash_at in 0..40 {
        let storage = SimStorage::new(60 + crash_at);
        let clock = ManualClock::new(T0);
        let engine = open(&storage, &clock);
        block_on(engine.create_stream("r", 1, None)).expect("create");
        for round in 0..3 {
            put_round(&engine, round, 10);
        }
        storage.crash_after_ops(crash_at);
        let split = block_on(engine.split_shard("r", 0, 1u128 << 127));
        drop(engine);
        let engine = open(&storage.crash(), &clock);
        let desc = engine.describe_stream("r").expect("stream survives");
        match desc.shards.len() {
            1 => {
                assert!(desc.shards[0].is_open(), "before: the shard is open");
                assert!(split.is_err(), "a split that reported success is durable");
                saw_before = true;
            }
            3 => {
                assert!(!desc.shards[0].is_open());
                assert!(desc.shards[1].is_open() && desc.shards[2].is_open());
                saw_after = true;
            }
            n => panic!("crash at op {crash_at} left {n} shards"),
        }
        check_order(&engine, 3, 10);
        put_round(&engine, 3, 10);
        check_order(&engine, 4, 10);
    }
    assert!(saw_before && saw_after, "the crash points cover both outcomes");
}

/// Uniform scaling closes every open shard before planning; a shard that
/// the plan leaves as it is must take appends again.
#[test]
fn uniform_scaling_reopens_the_shards_it_leaves_unchanged() {
    let storage = SimStorage::new(54);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("r", 2, None)).expect("create");
    put_round(&engine, 0, 40);
    block_on(engine.split_shard("r", 0, 1u128 << 126)).expect("split");
    block_on(engine.merge_shards("r", 3, 1)).expect("merge");
    put_round(&engine, 1, 40);
    // Shard 2 is [0, 2^126 - 1], already one of the 4 even ranges.
    block_on(engine.update_shard_count("r", 4)).expect("scale");
    assert!(engine.describe_stream("r").expect("describe").shards[2].is_open(), "left as it was");
    put_round(&engine, 2, 40);
    check_order(&engine, 3, 40);
}

/// Shards record when they opened and closed: a new stream's at its
/// creation, a reshard's parents and children at the reshard. ListShards'
/// timestamp filters read them, so they must survive a restart.
#[test]
fn shards_record_when_they_opened_and_closed() {
    let storage = SimStorage::new(55);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("r", 1, None)).expect("create");
    clock.advance(1_500);
    let split_ms = clock.now_ms();
    block_on(engine.split_shard("r", 0, 1u128 << 127)).expect("split");
    clock.advance(1_500);
    block_on(engine.update_shard_count("r", 1)).expect("merge back");
    let merge_ms = clock.now_ms();

    let times = |engine: &SimEngine| -> Vec<(u64, Option<u64>)> {
        engine.describe_stream("r").expect("describe").shards.iter().map(|s| (s.created_ms, s.closed_ms)).collect()
    };
    let want = vec![(T0, Some(split_ms)), (split_ms, Some(merge_ms)), (split_ms, Some(merge_ms)), (merge_ms, None)];
    assert_eq!(times(&engine), want);

    let open_at = |ts: u64| -> Vec<u32> {
        let desc = engine.describe_stream("r").expect("describe");
        desc.shards.iter().filter(|s| s.is_open_at(ts)).map(|s| s.shard_index).collect()
    };
    let open_from = |ts: u64| -> Vec<u32> {
        let desc = engine.describe_stream("r").expect("describe");
        desc.shards.iter().filter(|s| s.is_open_at_or_after(ts)).map(|s| s.shard_index).collect()
    };
    assert_eq!(open_at(split_ms - 1), vec![0]);
    assert_eq!(open_at(split_ms), vec![1, 2], "at the reshard's instant the children are open, not the parent");
    assert_eq!(open_at(merge_ms + 1), vec![3]);
    assert_eq!(open_from(split_ms - 1), vec![0, 1, 2, 3]);
    assert_eq!(open_from(split_ms), vec![1, 2, 3]);
    assert_eq!(open_from(merge_ms), vec![3]);

    drop(engine);
    let engine = open(&storage, &clock);
    assert_eq!(times(&engine), want, "the catalog keeps the times");
}
