//! Offline check and repair: planted damage is found with its place, a
//! torn tail and a bad index are repaired, and the repaired store opens
//! with exactly the valid records.

use std::path::PathBuf;

use futures::executor::block_on;
use shoal_engine::check::{check_data_dir, repair_data_dir};
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{ManualClock, StartingPosition};

use crate::common::*;

fn filled(seed: u64) -> (SimStorage, ManualClock, Vec<PathBuf>) {
    let storage = SimStorage::new(seed);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("c", 1, None)).expect("create");
    for i in 0..200 {
        block_on(engine.put_records("c", vec![record("k", i, 1000)])).expect("put");
    }
    block_on(engine.shutdown()).expect("shutdown");
    let mut logs: Vec<PathBuf> =
        storage.paths().into_iter().filter(|p| p.extension().is_some_and(|e| e == "log")).collect();
    logs.sort();
    (storage, clock, logs)
}

#[test]
fn a_clean_store_checks_clean() {
    let (storage, _clock, _) = filled(81);
    let report = block_on(check_data_dir(storage, &data_dir())).expect("check");
    assert!(report.is_clean(), "{report:?}");
    assert!(report.shards[0].segments >= 3);
}

#[test]
fn a_flipped_byte_in_a_sealed_segment_is_found_and_not_repairable() {
    let (storage, _clock, logs) = filled(82);
    storage.flip_bit(&logs[0], 3000, 2);
    let report = block_on(check_data_dir(storage, &data_dir())).expect("check");
    let bad: Vec<_> = report.damaged().collect();
    assert_eq!(bad.len(), 1);
    let (segment, offset, reason) = &bad[0].damage[0];
    assert!(segment.ends_with(logs[0].file_name().and_then(|n| n.to_str()).expect("name")), "{segment}");
    assert!(*offset <= 3000, "the frame holding byte 3000 starts at or before it: {offset}");
    assert!(reason.contains("CRC"), "{reason}");
    assert!(!bad[0].repairable, "a bad frame in a sealed segment is lost data");
}

#[test]
fn a_torn_tail_and_a_bad_index_are_repaired_keeping_every_valid_record() {
    let (storage, clock, logs) = filled(83);
    // Tear the last segment in its middle, and damage a sealed index.
    let last = logs.last().expect("segments");
    let bytes = storage.file_bytes(last).expect("bytes");
    let data_end = bytes.iter().rposition(|&b| b != 0).expect("data") + 1;
    let mut torn = bytes[..data_end / 2].to_vec();
    torn.extend_from_slice(&[0xAB; 700]); // garbage where a frame was being written
    storage.set_file_bytes(last, torn);
    let idx = logs[0].with_extension("idx");
    storage.flip_bit(&idx, 30, 1);

    let report = block_on(check_data_dir(storage.clone(), &data_dir())).expect("check");
    let shard = report.damaged().next().expect("damage found");
    assert!(shard.damage.len() >= 2, "{:?}", shard.damage);
    assert!(shard.repairable, "{:?}", shard.damage);

    block_on(repair_data_dir(storage.clone(), clock.clone(), &engine_config(small_segments(), 1 << 20), &report))
        .expect("repair");
    let after = block_on(check_data_dir(storage.clone(), &data_dir())).expect("check");
    assert!(after.is_clean(), "{after:?}");
    let engine = open(&storage, &clock);
    let got: Vec<u64> =
        read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 500).iter().map(record_index).collect();
    assert!(!got.is_empty() && got.len() < 200, "the torn part is gone, the rest kept: {}", got.len());
    assert_eq!(got, (0..got.len() as u64).collect::<Vec<_>>(), "every record before the tear, in order");
}

/// Damage inside the part of the tail segment that its checkpoint vouches for is not a torn
/// tail: check says so and does not offer a repair that could not bring the records back.
#[test]
fn damage_under_the_tail_checkpoint_is_reported_as_not_repairable() {
    let (storage, _clock, logs) = filled(84);
    let last = logs.last().expect("segments");
    assert!(storage.file_bytes(&last.with_extension("idx")).is_some(), "a clean shutdown checkpoints the tail");
    storage.flip_bit(last, 5000, 4);
    let report = block_on(check_data_dir(storage, &data_dir())).expect("check");
    let shard = report.damaged().next().expect("damage found");
    let (_, _, reason) = &shard.damage[0];
    assert!(reason.contains("checkpointed (acknowledged) part"), "{reason}");
    assert!(!shard.repairable, "{:?}", shard.damage);
}

/// A damaged checkpoint of the tail segment is reported, and repaired by scanning the segment
/// whole: every record is kept.
#[test]
fn a_damaged_tail_checkpoint_is_found_and_repaired() {
    let (storage, clock, logs) = filled(85);
    let checkpoint = logs.last().expect("segments").with_extension("idx");
    storage.flip_bit(&checkpoint, 32, 5);
    let report = block_on(check_data_dir(storage.clone(), &data_dir())).expect("check");
    let shard = report.damaged().next().expect("damage found");
    assert!(shard.damage.iter().any(|(_, _, reason)| reason == "checkpoint index damaged"), "{:?}", shard.damage);
    assert!(shard.repairable);
    block_on(repair_data_dir(storage.clone(), clock.clone(), &engine_config(small_segments(), 1 << 20), &report))
        .expect("repair");
    assert!(block_on(check_data_dir(storage.clone(), &data_dir())).expect("check").is_clean());
    let engine = open(&storage, &clock);
    let got = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 500);
    assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), (0..200).collect::<Vec<_>>());
}

/// A segment file lost while its index remains: startup and check both report it, and the lost
/// records' sequence numbers are not handed out again.
#[test]
fn a_missing_segment_is_reported_and_its_counters_not_reused() {
    let (storage, clock, logs) = filled(86);
    assert!(logs.len() >= 3);
    let engine = open(&storage, &clock);
    let before = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 500);
    let last_seq = before.last().expect("records").sequence_number;
    drop(engine);
    // Lose the last segment (its checkpoint stays) and one in the middle.
    storage.remove_file_now(logs.last().expect("segments"));
    storage.remove_file_now(&logs[1]);

    let report = block_on(check_data_dir(storage.clone(), &data_dir())).expect("check");
    let shard = report.damaged().next().expect("damage found");
    let missing: Vec<_> =
        shard.damage.iter().filter(|(_, _, reason)| reason == "segment file missing (its index remains)").collect();
    assert_eq!(missing.len(), 2, "{:?}", shard.damage);
    assert!(!shard.repairable);

    let (engine, reports) = block_on(shoal_engine::LocalEngine::open(
        storage.clone(),
        clock.clone(),
        &engine_config(small_segments(), 1 << 20),
    ))
    .expect("open");
    assert_eq!(reports[0].2.damage.len(), 2, "{:?}", reports[0].2);
    let out = block_on(engine.put_records("c", vec![record("k", 999, 100)])).expect("put");
    let seq = out.results[0].as_ref().expect("stored").sequence_number;
    assert!(seq > last_seq, "a lost record's sequence number was handed out again");
}

/// A tail segment cut shorter than its checkpoint lost records the checkpoint vouched for:
/// check and startup report it, and their sequence numbers are not handed out again.
#[test]
fn a_tail_cut_below_its_checkpoint_is_reported_and_its_counters_not_reused() {
    let (storage, clock, logs) = filled(87);
    let engine = open(&storage, &clock);
    let last_seq =
        read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 500).last().expect("records").sequence_number;
    drop(engine);
    let last = logs.last().expect("segments");
    let bytes = storage.file_bytes(last).expect("bytes");
    let data_end = bytes.iter().rposition(|&b| b != 0).expect("data") + 1;
    storage.set_file_bytes(last, bytes[..data_end / 2].to_vec());

    let report = block_on(check_data_dir(storage.clone(), &data_dir())).expect("check");
    let shard = report.damaged().next().expect("damage found");
    assert!(shard.damage.iter().any(|(_, _, r)| r.starts_with("segment shorter than its checkpoint")), "{shard:?}");

    let (engine, reports) = block_on(shoal_engine::LocalEngine::open(
        storage.clone(),
        clock.clone(),
        &engine_config(small_segments(), 1 << 20),
    ))
    .expect("open");
    assert!(reports[0].2.damage.iter().any(|(_, _, r)| r.starts_with("segment shorter than its checkpoint")));
    let out = block_on(engine.put_records("c", vec![record("k", 999, 100)])).expect("put");
    let seq = out.results[0].as_ref().expect("stored").sequence_number;
    assert!(seq > last_seq, "a lost record's sequence number was handed out again");
}

/// A damaged counter lease is reported, and repair replaces it with one past the log's end.
#[test]
fn a_damaged_counter_lease_is_found_and_repaired() {
    let (storage, clock, _) = filled(85);
    let lease = lease_file(&storage);
    storage.flip_bit(&lease, 12, 5);
    let report = block_on(check_data_dir(storage.clone(), &data_dir())).expect("check");
    let shard = report.damaged().next().expect("damage found");
    assert_eq!(shard.damage.len(), 1, "{:?}", shard.damage);
    assert_eq!(shard.damage[0].2, shoal_engine::shard::LEASE_DAMAGED);
    assert!(shard.repairable);
    block_on(repair_data_dir(storage.clone(), clock.clone(), &engine_config(small_segments(), 1 << 20), &report))
        .expect("repair");
    let after = block_on(check_data_dir(storage.clone(), &data_dir())).expect("check");
    assert!(after.is_clean(), "{after:?}");
    let engine = open(&storage, &clock);
    assert_eq!(read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 500).len(), 200);
}
