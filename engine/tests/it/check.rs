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
