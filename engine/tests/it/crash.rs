//! Crash safety over the simulated store.
//!
//! Invariants checked:
//! * every acknowledged record is returned after a crash, intact and in
//!   order; records that were never acknowledged may or may not be;
//! * after cutting or bit-flipping the tail segment, exactly the records of
//!   frames wholly before the damage come back, and nothing after it;
//! * nothing corrupt is ever returned as a record.

use std::path::PathBuf;

use futures::executor::block_on;
use futures::future::join_all;
use proptest::prelude::*;
use shoal_engine::config::LogConfig;
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{ErrorKind, ManualClock, RecordInput, SequenceNumber, StartingPosition};

use crate::common::*;

/// Writes `batches` of records with several puts in flight at once, so
/// flushes carry groups. Returns the indexes of acknowledged records.
fn write_until_crash(engine: &SimEngine, batches: usize, batch_records: usize, sizes: &[usize]) -> Vec<u64> {
    write_until_crash_from(engine, 0, batches, batch_records, sizes)
}

fn write_until_crash_from(
    engine: &SimEngine,
    first: u64,
    batches: usize,
    batch_records: usize,
    sizes: &[usize],
) -> Vec<u64> {
    let mut acked = Vec::new();
    let mut next = first;
    for _ in 0..batches {
        let puts: Vec<Vec<RecordInput>> = (0..4)
            .map(|_| {
                (0..batch_records)
                    .map(|_| {
                        let i = next;
                        next += 1;
                        record("k", i, sizes[i as usize % sizes.len()])
                    })
                    .collect()
            })
            .collect();
        let expected: Vec<Vec<u64>> = puts
            .iter()
            .map(|p| {
                p.iter().map(|r| std::str::from_utf8(&r.data[7..15]).expect("ascii").parse().expect("idx")).collect()
            })
            .collect();
        let results = block_on(join_all(puts.into_iter().map(|p| engine.put_records("c", p))));
        for (res, idx) in results.into_iter().zip(expected) {
            if let Ok(out) = res {
                for (r, i) in out.results.iter().zip(idx) {
                    if r.is_ok() {
                        acked.push(i);
                    }
                }
            }
        }
    }
    acked
}

/// Small segments, with small groups committed inline (blocking calls) or
/// always through the asynchronous path.
fn commit_path(inline: bool) -> LogConfig {
    let log = small_segments();
    LogConfig { inline_commit_bytes_max: if inline { log.inline_commit_bytes_max } else { 0 }, ..log }
}

fn check_after_crash(engine: &SimEngine, acked: &[u64], sizes: &[usize]) {
    let got = read_all(engine, "c", 0, StartingPosition::TrimHorizon, 500);
    let idx: Vec<u64> = got.iter().map(record_index).collect();
    for r in &got {
        let want = record("k", record_index(r), sizes[record_index(r) as usize % sizes.len()]);
        assert_eq!(r.data, want.data, "record intact");
    }
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "in order, no duplicates: {idx:?}");
    let mut present = idx.iter().peekable();
    for a in acked {
        while present.peek().is_some_and(|&&p| p < *a) {
            present.next();
        }
        assert_eq!(present.peek().copied(), Some(a), "acknowledged record {a} lost");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// The process dies after a random number of storage operations; the
    /// unsynced writes of that moment land as a random subset of sectors.
    #[test]
    fn acknowledged_records_survive_a_crash_at_any_point(
        seed in any::<u64>(),
        crash_at in 5u64..400,
        inline in any::<bool>(),
    ) {
        let sizes = [10, 700, 3000, 100, 9000];
        let storage = SimStorage::new(seed);
        let clock = ManualClock::new(T0);
        let open = |storage: &SimStorage, clock: &ManualClock| open_with(storage, clock, commit_path(inline), 1 << 20);
        let engine = open(&storage, &clock);
        block_on(engine.create_stream("c", 1, None)).expect("create");
        // A first life ends cleanly, leaving a checkpoint that the next
        // recovery starts from; the second life crashes.
        let mut acked = write_until_crash(&engine, 3, 5, &sizes);
        block_on(engine.shutdown()).expect("clean shutdown");
        drop(engine);
        let engine = open(&storage, &clock);
        storage.crash_after_ops(crash_at);
        acked.extend(write_until_crash_from(&engine, acked.len() as u64, 12, 5, &sizes));
        drop(engine);
        let restarted = storage.crash();
        let engine = open(&restarted, &clock);
        check_after_crash(&engine, &acked, &sizes);
        // The recovered shard accepts appends that read back after the rest.
        let (res, _) = block_on(engine.put_record("c", record("k", 1_000_000, 10), None)).expect("put after recovery");
        let all = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 500);
        prop_assert_eq!(all.last().map(|r| r.sequence_number), Some(res.sequence_number));
    }

    /// Writers that append again as soon as they are acknowledged, out of step with each other,
    /// with writes and syncs that take their time (a sync covers only the writes that landed
    /// before it started): whatever runs beside a sync, nothing is acknowledged before a sync
    /// that started after its write. (A throwaway build that let small groups write during the
    /// previous group's sync and read the covered end after the sync failed this at once.)
    #[test]
    fn acknowledged_records_survive_a_crash_with_writers_out_of_step(
        seed in any::<u64>(),
        crash_at in 5u64..300,
        inline in any::<bool>(),
    ) {
        let sizes = [10, 700, 3000, 100, 300];
        let storage = SimStorage::new(seed);
        storage.set_write_yields(4);
        let clock = ManualClock::new(T0);
        let engine = open_with(&storage, &clock, commit_path(inline), 1 << 20);
        block_on(engine.create_stream("c", 1, None)).expect("create");
        storage.crash_after_ops(crash_at);
        let acked = std::cell::RefCell::new(Vec::new());
        block_on(join_all((0..4u64).map(|w| {
            let (engine, acked) = (&engine, &acked);
            async move {
                let mut think = seed ^ (w + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                for n in 0..30u64 {
                    let i = n * 4 + w;
                    let r = record("k", i, sizes[i as usize % sizes.len()]);
                    if engine.put_record("c", r, None).await.is_err() {
                        return;
                    }
                    acked.borrow_mut().push(i);
                    // Out of step with the other writers: a few polls of think time.
                    think = think.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    for _ in 0..(think >> 61) {
                        yield_now().await;
                    }
                }
            }
        })));
        drop(engine);
        let engine = open(&storage.crash(), &clock);
        // Writers interleave: the log's order is not the index order, so check membership.
        let got: std::collections::BTreeSet<u64> =
            read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 500).iter().map(record_index).collect();
        for a in acked.borrow().iter() {
            prop_assert!(got.contains(a), "acknowledged record {} lost", a);
        }
    }

    /// Cut the tail segment at a random offset, or flip a random bit in it.
    #[test]
    fn damaged_tail_returns_exactly_the_frames_before_the_damage(
        seed in any::<u64>(), cut in any::<bool>(), at in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        let storage = SimStorage::new(seed);
        let clock = ManualClock::new(T0);
        let log = LogConfig { segment_bytes: 64 * 1024 * 1024, ..LogConfig::default() };
        let engine = open_with(&storage, &clock, log.clone(), 1 << 20);
        block_on(engine.create_stream("c", 1, None)).expect("create");
        // One frame per put; remember where each frame ends.
        let mut frame_ends = Vec::new();
        let mut offset = 0usize;
        let mut n = 0u64;
        for p in 0..30u64 {
            let records: Vec<_> = (0..(p % 4 + 1)).map(|_| { n += 1; record("key", n - 1, 50 + (n as usize * 131) % 2000) }).collect();
            offset += 40 + records.iter().map(|r| 6 + r.partition_key.len() + r.data.len()).sum::<usize>();
            frame_ends.push((offset, n));
            block_on(engine.put_records("c", records)).expect("put");
        }
        drop(engine);
        let seg: PathBuf = storage.paths().into_iter().find(|p| p.extension().is_some_and(|e| e == "log")).expect("segment");
        let bytes = storage.file_bytes(&seg).expect("bytes");
        let data_len = offset;
        let pos = at.index(data_len);
        if cut {
            storage.set_file_bytes(&seg, bytes[..pos].to_vec());
        } else {
            storage.flip_bit(&seg, pos, bit);
        }
        let survivors = frame_ends.iter().take_while(|(end, _)| *end <= pos).last().map_or(0, |(_, n)| *n);
        let engine = open_with(&storage, &clock, log, 1 << 20);
        let got = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 10_000);
        let idx: Vec<u64> = got.iter().map(record_index).collect();
        prop_assert_eq!(idx, (0..survivors).collect::<Vec<_>>());
        for r in &got {
            let i = record_index(r);
            prop_assert_eq!(&r.data, &record("key", i, 50 + ((i + 1) as usize * 131) % 2000).data);
        }
    }
}

#[test]
fn a_bad_frame_in_a_sealed_segment_is_reported_never_returned() {
    let storage = SimStorage::new(31);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("c", 1, None)).expect("create");
    for i in 0..200 {
        block_on(engine.put_records("c", vec![record("k", i, 1000)])).expect("put");
    }
    drop(engine);
    let mut logs: Vec<PathBuf> =
        storage.paths().into_iter().filter(|p| p.extension().is_some_and(|e| e == "log")).collect();
    logs.sort();
    assert!(logs.len() >= 3);
    // Damage a frame in the middle of the first (sealed) segment.
    storage.flip_bit(&logs[0], 5000, 3);
    let engine = open(&storage, &clock);
    let shard_err = block_on(async {
        let at = engine.resolve("c", 0, StartingPosition::TrimHorizon).await.expect("resolve");
        let mut at = at;
        let mut seen = Vec::new();
        loop {
            match engine.read("c", 0, at, 100).await {
                Ok(r) if !r.records.is_empty() => {
                    seen.extend(r.records.iter().map(record_index));
                    at = r.next_counter.expect("open");
                }
                Ok(_) => return (seen, None),
                Err(e) => return (seen, Some(e)),
            }
        }
    });
    let (seen, err) = shard_err;
    let err = err.expect("the damaged frame is an error, not data");
    assert_eq!(err.kind(), ErrorKind::InternalFailure);
    let text = err.to_string();
    assert!(text.contains("shardId-000000000000") && text.contains(".log") && text.contains("offset"), "{text}");
    // Frames are 40 + 6 + 1 + 1000 bytes: offset 5000 is inside the fifth,
    // and the reads of 100 still return the four before it.
    assert_eq!(seen, (0..4).collect::<Vec<_>>(), "exactly the records before the damage");
}

#[test]
fn a_failed_sync_is_not_acknowledged_and_the_shard_refuses_more_until_reopened() {
    let storage = SimStorage::new(32);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("c", 1, None)).expect("create");
    block_on(engine.put_records("c", vec![record("k", 0, 10)])).expect("put");
    storage.fail_next_sync();
    let out = block_on(engine.put_records("c", vec![record("k", 1, 10)])).expect("call succeeds");
    assert_eq!(out.failed_record_count(), 1, "the record is reported failed");
    let err = block_on(engine.put_record("c", record("k", 2, 10), None)).expect_err("shard failed");
    assert_eq!(err.kind(), ErrorKind::InternalFailure);
    drop(engine);
    let engine = open(&storage.crash(), &clock);
    let got = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(got.first().map(record_index), Some(0));
    block_on(engine.put_record("c", record("k", 3, 10), None)).expect("reopened shard appends");
}

#[test]
fn missing_or_damaged_indexes_are_rebuilt_by_scanning() {
    let storage = SimStorage::new(33);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("c", 1, None)).expect("create");
    for i in 0..300 {
        block_on(engine.put_records("c", vec![record("k", i, 1000)])).expect("put");
        clock.advance(1);
    }
    block_on(engine.shutdown()).expect("shutdown");
    drop(engine);
    let mut idx: Vec<PathBuf> =
        storage.paths().into_iter().filter(|p| p.extension().is_some_and(|e| e == "idx")).collect();
    idx.sort();
    assert!(idx.len() >= 4, "sealed indexes and the tail checkpoint exist");
    let first = idx[0].clone();
    let bytes = storage.file_bytes(&first).expect("idx");
    storage.remove_file_now(&first);
    let second = &idx[1];
    storage.flip_bit(second, 20, 1);
    let tail = idx.last().expect("tail checkpoint");
    storage.flip_bit(tail, 9, 0);

    let (engine, reports) = block_on(shoal_engine::LocalEngine::open(
        storage.clone(),
        clock.clone(),
        &engine_config(small_segments(), 1 << 20),
    ))
    .expect("open");
    assert_eq!(reports[0].2.indexes_rebuilt, 2);
    assert_eq!(storage.file_bytes(&first), Some(bytes), "the rebuilt index equals the original");
    let got = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 77);
    assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), (0..300).collect::<Vec<_>>());
    let at = block_on(engine.resolve("c", 0, StartingPosition::AtTimestamp(T0 + 150))).expect("resolve");
    let r = block_on(engine.read("c", 0, at, 1)).expect("read");
    assert_eq!(r.records.first().map(record_index), Some(150));
}

#[test]
fn damage_before_the_tail_checkpoint_is_an_error_on_read_never_data() {
    let storage = SimStorage::new(34);
    let clock = ManualClock::new(T0);
    let log = LogConfig { segment_bytes: 64 * 1024 * 1024, ..LogConfig::default() };
    let engine = open_with(&storage, &clock, log.clone(), 1 << 20);
    block_on(engine.create_stream("c", 1, None)).expect("create");
    for i in 0..50 {
        block_on(engine.put_records("c", vec![record("k", i, 500)])).expect("put");
    }
    block_on(engine.shutdown()).expect("shutdown writes a checkpoint");
    drop(engine);
    let seg = storage.paths().into_iter().find(|p| p.extension().is_some_and(|e| e == "log")).expect("segment");
    // Frames here are 40 + 6 + 1 + 500 = 547 bytes: this is inside frame 10.
    storage.flip_bit(&seg, 10 * 547 + 100, 5);
    let engine = open_with(&storage, &clock, log, 1 << 20);
    let at = block_on(engine.resolve("c", 0, StartingPosition::TrimHorizon)).expect("resolve");
    // A read asking for more than lies before the damage returns what does.
    let first = block_on(engine.read("c", 0, at, 100)).expect("records before the damage");
    assert_eq!(first.records.iter().map(record_index).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    let err = block_on(engine.read("c", 0, first.next_counter.expect("open"), 10)).expect_err("damaged frame");
    assert_eq!(err.kind(), ErrorKind::InternalFailure);
}

/// Recovery trusts a checkpointed index without re-reading what it covers,
/// so a checkpoint is written only once the data it describes is synced: a
/// failing sync leaves no index behind (and fails the shard, as any failed
/// sync does).
#[test]
fn a_checkpoint_is_written_only_after_a_sync_covers_it() {
    let storage = SimStorage::new(12);
    let clock = ManualClock::new(T0);
    let engine = open_with(&storage, &clock, LogConfig { segment_bytes: 1 << 20, ..LogConfig::default() }, 1 << 20);
    block_on(engine.create_stream("c", 1, None)).expect("create");
    block_on(engine.put_records("c", (0..10).map(|i| record("k", i, 100)).collect())).expect("put");
    let meta = engine.snapshot().stream("c").expect("stream").clone();
    let shard = engine.core().shard(&meta, 0).expect("shard");
    let indexes = || storage.paths().into_iter().filter(|p| p.extension().is_some_and(|e| e == "idx")).count();

    storage.fail_next_sync();
    block_on(shard.checkpoint()).expect_err("the sync before the index fails");
    assert_eq!(indexes(), 0, "no index describes data that was not synced by the checkpoint");
    drop((shard, engine));

    let engine = open(&storage.crash(), &clock);
    let got = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    let meta = engine.snapshot().stream("c").expect("stream").clone();
    block_on(engine.core().shard(&meta, 0).expect("shard").checkpoint()).expect("checkpoint");
}

/// The runway is zeroed beside the appends: with writes that take a while
/// to land and complete out of order (so zero chunks and groups interleave,
/// groups outrun the zeroer, and segments roll with a zero chunk in
/// flight), no zero ever lands on data or past a sealed segment's end, and
/// every acknowledged record survives a crash.
#[test]
fn zeroing_beside_appends_never_lands_on_data() {
    for seed in 0..6 {
        zeroing_beside_appends_with_seed(seed);
    }
}

fn zeroing_beside_appends_with_seed(seed: u64) {
    let storage = SimStorage::new(seed);
    storage.set_write_yields(16);
    let clock = ManualClock::new(T0);
    let log = LogConfig { segment_bytes: 4 << 20, ..LogConfig::default() };
    let engine = open_with(&storage, &clock, log, 1 << 20);
    block_on(engine.create_stream("r", 1, None)).expect("create");
    let (rounds, per_round) = (300u64, 2u64);
    block_on(async {
        let appends = async {
            for round in 0..rounds {
                let puts =
                    (0..per_round).map(|i| engine.put_record("r", record("k", round * per_round + i, 60 << 10), None));
                for put in join_all(puts).await {
                    put.expect("put");
                }
                // Slowly, so the rate cap on zeroing holds the zeroer back
                // at times and it starts late in a segment.
                clock.advance(1);
            }
        };
        let runways = engine.serve_runways();
        futures::pin_mut!(appends, runways);
        futures::future::select(appends, runways).await;
    });
    let mut logs: Vec<_> = storage.paths().into_iter().filter(|p| p.extension().is_some_and(|e| e == "log")).collect();
    logs.sort();
    assert!(logs.len() >= 5, "the test rolls segments while zeroing ({} segments)", logs.len());
    for sealed in &logs[..logs.len() - 1] {
        let bytes = storage.file_bytes(sealed).expect("segment");
        // A sealed segment is cut at its last record (60 KiB of b'x' data):
        // no zeros may land past the cut.
        assert!(bytes.ends_with(&[b'x'; 512]), "seed {seed}: {} ends in zeros", sealed.display());
    }
    let want: Vec<u64> = (0..rounds * per_round).collect();
    let got = read_all(&engine, "r", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), want, "seed {seed}");
    drop(engine);
    let engine = open(&storage.crash(), &clock);
    let got = read_all(&engine, "r", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), want, "seed {seed}: after a crash");
}

/// Checkpoints are written beside the appends, so one may still be writing
/// when its segment is sealed by a roll: the sealed segment's index must be
/// the seal's, never the older checkpoint's (recovery trusts a sealed
/// index, so a stale one would hide the records after it).
#[test]
fn a_checkpoint_racing_a_roll_never_replaces_the_sealed_index() {
    for seed in 0..6 {
        let storage = SimStorage::new(seed);
        storage.set_write_yields(16);
        let clock = ManualClock::new(T0);
        let log = LogConfig { segment_bytes: 1 << 20, ..LogConfig::default() };
        let engine = open_with(&storage, &clock, log, 1 << 20);
        block_on(engine.create_stream("c", 1, None)).expect("create");
        let meta = engine.snapshot().stream("c").expect("stream").clone();
        let shard = engine.core().shard(&meta, 0).expect("shard");
        let count = 400u64;
        let done = std::cell::Cell::new(false);
        block_on(async {
            let appends = async {
                for i in 0..count {
                    engine.put_record("c", record("k", i, 20 << 10), None).await.expect("put");
                    // Between puts the write position is free for a checkpoint.
                    yield_now().await;
                }
                done.set(true);
            };
            let checkpoints = async {
                while !done.get() {
                    shard.checkpoint().await.expect("checkpoint");
                    // Let the appends run even when there was nothing to do.
                    yield_now().await;
                }
            };
            futures::join!(appends, checkpoints);
        });
        drop((shard, engine));
        let engine = open(&storage.crash(), &clock);
        let got = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 100);
        assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), (0..count).collect::<Vec<_>>(), "seed {seed}");
    }
}

/// Maintenance zeroes (and syncs) the runway ahead of a shard whose small
/// groups ran it short since its last pass, and does nothing for a shard
/// that did not; a crash afterwards loses no acknowledged record.
#[test]
fn maintenance_prepares_the_runway_of_active_shards_only() {
    let storage = SimStorage::new(13);
    let clock = ManualClock::new(T0);
    let log = LogConfig { segment_bytes: 16 << 20, ..LogConfig::default() };
    let engine = open_with(&storage, &clock, log, 1 << 20);
    block_on(engine.create_stream("busy", 1, None)).expect("create");
    block_on(engine.create_stream("idle", 1, None)).expect("create");
    block_on(engine.put_record("idle", record("k", 0, 100), None)).expect("put");
    block_on(engine.put_record("busy", record("k", 0, 100), None)).expect("put");
    clock.advance(2);
    block_on(engine.maintenance()).expect("maintenance");

    // Nothing was appended since: no shard does any I/O.
    let syncs = storage.sync_count();
    clock.advance(1_000);
    block_on(engine.maintenance()).expect("maintenance");
    assert_eq!(storage.sync_count(), syncs, "idle shards cost nothing");

    // A little more does not run the runway short: nothing to do.
    block_on(engine.put_record("busy", record("k", 1, 8 * 1024), None)).expect("put");
    clock.advance(1_000);
    let syncs = storage.sync_count();
    block_on(engine.maintenance()).expect("maintenance");
    assert_eq!(storage.sync_count(), syncs, "the runway was still long enough");

    // Small groups used half the runway: it is refilled and synced, once.
    for i in 2..=26 {
        block_on(engine.put_record("busy", record("k", i, 200 * 1024), None)).expect("put");
    }
    clock.advance(1_000);
    let syncs = storage.sync_count();
    block_on(engine.maintenance()).expect("maintenance");
    assert_eq!(storage.sync_count(), syncs + 1, "one sync covers the refilled runway");

    drop(engine);
    let engine = open(&storage.crash(), &clock);
    let got = read_all(&engine, "busy", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), (0..=26).collect::<Vec<_>>());
}

/// One shard's segment of 30 one-record frames (300-byte records), written with no checkpoint
/// and left by a process that stopped: what the damage tests below break on purpose.
struct ThirtyFrames {
    storage: SimStorage,
    clock: ManualClock,
    log: LogConfig,
    segment: PathBuf,
    /// Where each frame starts; `end` is where the last one ends.
    frame_starts: Vec<usize>,
    end: usize,
    sequence_numbers: Vec<SequenceNumber>,
}

fn thirty_frames(seed: u64) -> ThirtyFrames {
    let storage = SimStorage::new(seed);
    let clock = ManualClock::new(T0);
    let log = LogConfig { segment_bytes: 64 * 1024 * 1024, ..LogConfig::default() };
    let engine = open_with(&storage, &clock, log.clone(), 1 << 20);
    block_on(engine.create_stream("c", 1, None)).expect("create");
    let (mut frame_starts, mut end, mut sequence_numbers) = (Vec::new(), 0usize, Vec::new());
    for i in 0..30u64 {
        frame_starts.push(end);
        let r = record("key", i, 300);
        end += 40 + 6 + r.partition_key.len() + r.data.len();
        let out = block_on(engine.put_records("c", vec![r])).expect("put");
        sequence_numbers.push(out.results[0].as_ref().expect("stored").sequence_number);
    }
    drop(engine);
    let segment = storage.paths().into_iter().find(|p| p.extension().is_some_and(|e| e == "log")).expect("segment");
    ThirtyFrames { storage, clock, log, segment, frame_starts, end, sequence_numbers }
}

/// Damage inside the tail segment with intact frames after it is not a torn tail: recovery
/// still ends the log at the damage (it cannot serve past it), but it keeps the cut bytes in a
/// file beside the segment, reports the intact records it cut, and never hands their sequence
/// numbers out again (they may have been acknowledged).
#[test]
fn intact_frames_after_tail_damage_are_saved_reported_and_their_counters_not_reused() {
    let ThirtyFrames { storage, clock, log, segment: seg, frame_starts, end: offset, sequence_numbers } =
        thirty_frames(77);
    let original = storage.file_bytes(&seg).expect("bytes");
    // Damage frame 10's payload: frames 0..10 stay readable, 11..30 are intact after it.
    let damaged_frame_start = frame_starts[10];
    storage.flip_bit(&seg, damaged_frame_start + 60, 3);

    let (engine, reports) =
        block_on(shoal_engine::LocalEngine::open(storage.clone(), clock.clone(), &engine_config(log, 1 << 20)))
            .expect("open");
    let report = &reports[0].2;
    assert_eq!(report.damage.len(), 1, "{report:?}");
    assert_eq!(report.records_cut_intact, 19, "frames 11..30 follow the damage: {report:?}");
    let saved = seg.with_extension(format!("log.cut-{damaged_frame_start}"));
    let kept = storage.file_bytes(&saved).expect("the cut bytes are saved");
    // From the damaged frame to the end of the last intact one (not the zeroed space after).
    let mut expected = original[damaged_frame_start..offset].to_vec();
    expected[60] ^= 1 << 3;
    assert!(
        kept == expected,
        "the saved file holds exactly the cut frames: {} bytes, expected {}",
        kept.len(),
        expected.len()
    );

    let survivors = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 10_000);
    assert_eq!(survivors.iter().map(record_index).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    let out = block_on(engine.put_records("c", vec![record("key", 100, 300)])).expect("put after recovery");
    let new_seq = out.results[0].as_ref().expect("stored").sequence_number;
    assert!(new_seq > sequence_numbers[29], "a cut record's sequence number was handed out again");
    let all = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 10_000);
    assert_eq!(all.iter().map(record_index).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
}

/// A tail segment cut at a frame boundary (by hand, or by a device that lost acknowledged
/// writes) below any checkpoint leaves no trace of what it held: recovery cannot tell those
/// records existed. Their sequence numbers must still never be handed out again, for records a
/// reader would then take for the ones it had read: the counter lease keeps counting above them.
#[test]
fn records_cut_from_the_tail_without_a_trace_do_not_lend_their_sequence_numbers() {
    let ThirtyFrames { storage, clock, log, segment: seg, frame_starts, sequence_numbers: acked, .. } =
        thirty_frames(78);
    assert!(!storage.paths().iter().any(|p| p.extension().is_some_and(|e| e == "idx")), "no checkpoint to tell");
    let mut bytes = storage.file_bytes(&seg).expect("bytes");
    bytes.truncate(frame_starts[20]);
    storage.set_file_bytes(&seg, bytes);

    let engine = open_with(&storage, &clock, log, 1 << 20);
    let survivors = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 10_000);
    assert_eq!(survivors.iter().map(record_index).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
    let out = block_on(engine.put_records("c", vec![record("key", 100, 300)])).expect("put after recovery");
    let new_seq = out.results[0].as_ref().expect("stored").sequence_number;
    assert!(new_seq > acked[29], "{new_seq:?} was handed out before, to a record now lost");
    let all = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 10_000);
    assert_eq!(all.iter().map(record_index).collect::<Vec<_>>().last(), Some(&100));
    assert_eq!(all.len(), 21);
    // The counters skipped lie between segments: the records gauge counts records, not them.
    let metrics = engine.core().metrics_snapshot(0);
    let stored = metrics.shards.iter().find(|m| m.stream == "c").expect("shard").storage.records;
    assert_eq!(stored, 21);
}

/// Maintenance renews a shard's counter lease once half of it is used, so appends do not wait
/// for it; a crash then counts on from the renewed lease. A damaged lease file is reported and
/// recovery counts on from one lease past the log's end.
#[test]
fn the_counter_lease_is_renewed_ahead_and_a_damaged_one_is_reported() {
    use shoal_engine::limits::COUNTER_LEASE;
    let storage = SimStorage::new(79);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("l", 1, None)).expect("create");
    let (first, _) = block_on(engine.put_record("l", record("k", 0, 100), None)).expect("put");
    // SequenceNumberForOrdering moves the next counter three quarters into the lease.
    let ahead = SequenceNumber::new(
        first.sequence_number.counter() + COUNTER_LEASE * 3 / 4,
        first.sequence_number.stream_tag(),
        0,
    );
    let (jumped, _) = block_on(engine.put_record("l", record("k", 1, 100), Some(ahead))).expect("put");
    assert!(jumped.sequence_number.counter() > ahead.counter());
    block_on(engine.maintenance()).expect("maintenance");
    drop(engine);

    let storage = storage.crash();
    let (engine, reports) = block_on(shoal_engine::LocalEngine::open(
        storage.clone(),
        clock.clone(),
        &engine_config(small_segments(), 1 << 20),
    ))
    .expect("open");
    assert!(reports[0].2.damage.is_empty(), "{:?}", reports[0].2);
    let (after, _) = block_on(engine.put_record("l", record("k", 2, 100), None)).expect("put");
    assert!(
        after.sequence_number.counter() > jumped.sequence_number.counter() + COUNTER_LEASE / 2,
        "renewed by maintenance: counting on from {} after {}",
        after.sequence_number.counter(),
        jumped.sequence_number.counter()
    );
    drop(engine);

    let lease = lease_file(&storage);
    storage.flip_bit(&lease, 9, 0);
    let (engine, reports) = block_on(shoal_engine::LocalEngine::open(
        storage.clone(),
        clock.clone(),
        &engine_config(small_segments(), 1 << 20),
    ))
    .expect("open");
    let damage = &reports[0].2.damage;
    assert!(damage.len() == 1 && damage[0].2 == "counter lease damaged", "{damage:?}");
    let (last, _) = block_on(engine.put_record("l", record("k", 3, 100), None)).expect("put");
    assert!(
        last.sequence_number.counter() >= after.sequence_number.counter() + COUNTER_LEASE,
        "one lease past the log's end: {} after {}",
        last.sequence_number.counter(),
        after.sequence_number.counter()
    );
    let all = read_all(&engine, "l", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(all.iter().map(record_index).collect::<Vec<_>>(), [0, 1, 2, 3]);
}

/// A shard split right after a restart (its counters had jumped to the lease, with no append
/// since) ends where the catalog says, past its last record: after the next restart, readers
/// from its start still reach its end.
#[test]
fn a_shard_closed_after_a_restarts_counter_jump_is_read_to_its_end() {
    let storage = SimStorage::new(80);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("r", 1, None)).expect("create");
    for i in 0..5 {
        block_on(engine.put_record("r", record("k", i, 100), None)).expect("put");
    }
    drop(engine);
    let engine = open(&storage, &clock);
    block_on(engine.split_shard("r", 0, 1u128 << 127)).expect("split");
    drop(engine);
    let engine = open(&storage, &clock);
    let read_to_end = block_on(async {
        let mut at = engine.resolve("r", 0, StartingPosition::TrimHorizon).await.expect("resolve");
        let mut got = Vec::new();
        for _ in 0..10 {
            let r = engine.read("r", 0, at, 100).await.expect("read");
            got.extend(r.records.iter().map(record_index));
            match r.next_counter {
                Some(next) => at = next,
                None => return Some(got),
            }
        }
        None
    });
    assert_eq!(read_to_end, Some((0..5).collect()), "the parent's records, then its end");
}

/// Retention keeps working across restarts: an empty active segment left by retention is
/// removed, not sealed, when a restart's counter jump starts a new one (an empty sealed
/// segment has no arrival time and would stop retention at it for good).
#[test]
fn retention_goes_on_after_a_restart_leaves_an_empty_active_segment() {
    const DAY_MS: u64 = 24 * 3600 * 1000;
    let storage = SimStorage::new(81);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("t", 1, None)).expect("create");
    block_on(engine.put_record("t", record("k", 0, 100), None)).expect("put");
    clock.advance(DAY_MS + 1000);
    block_on(engine.maintenance()).expect("maintenance: the record expires");
    drop(engine);
    let logs =
        |storage: &SimStorage| storage.paths().iter().filter(|p| p.extension().is_some_and(|e| e == "log")).count();
    assert_eq!(logs(&storage), 1, "only the empty active segment is left");

    let engine = open(&storage, &clock);
    block_on(engine.put_record("t", record("k", 1, 100), None)).expect("put after the restart");
    clock.advance(DAY_MS + 1000);
    block_on(engine.maintenance()).expect("maintenance: that record expires too");
    assert_eq!(logs(&storage), 1, "every expired segment is gone");
    assert!(read_all(&engine, "t", 0, StartingPosition::TrimHorizon, 10).is_empty());
    block_on(engine.put_record("t", record("k", 2, 100), None)).expect("put");
    let left = read_all(&engine, "t", 0, StartingPosition::TrimHorizon, 10);
    assert_eq!(left.iter().map(record_index).collect::<Vec<_>>(), [2]);
}

/// A SequenceNumberForOrdering near the top of the counter space is refused: the counters
/// after it, their lease and a restart's jump must not overflow (they would wrap to 0 and
/// hand out counters again).
#[test]
fn an_ordering_number_near_the_top_of_the_counter_space_is_refused() {
    use shoal_engine::limits::ORDERING_COUNTER_MAX;
    let storage = SimStorage::new(82);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("o", 1, None)).expect("create");
    let (first, _) = block_on(engine.put_record("o", record("k", 0, 10), None)).expect("put");
    let tag = first.sequence_number.stream_tag();
    let too_high = SequenceNumber::new(ORDERING_COUNTER_MAX, tag, 0);
    let e = block_on(engine.put_record("o", record("k", 1, 10), Some(too_high))).expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let highest = SequenceNumber::new(ORDERING_COUNTER_MAX - 1, tag, 0);
    let (ok, _) = block_on(engine.put_record("o", record("k", 2, 10), Some(highest))).expect("put");
    assert_eq!(ok.sequence_number.counter(), ORDERING_COUNTER_MAX);
    drop(engine);
    let engine = open(&storage, &clock);
    let (after, _) = block_on(engine.put_record("o", record("k", 3, 10), None)).expect("put after a restart");
    assert!(after.sequence_number > ok.sequence_number, "no wrap after the restart's jump");
    let all = read_all(&engine, "o", 0, StartingPosition::TrimHorizon, 10);
    assert_eq!(all.iter().map(record_index).collect::<Vec<_>>(), [0, 2, 3]);
}

/// Polls a future `polls` times (or until it finishes) and then drops it, as an embedding
/// program that gives up on an append (a timeout) does.
fn poll_then_drop<F: std::future::Future>(fut: F, polls: usize) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    for _ in 0..polls {
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

#[test]
fn an_append_given_up_before_its_group_is_written_later_and_blocks_nothing() {
    let storage = SimStorage::new(41);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("c", 1, None)).expect("create");
    block_on(engine.put_record("c", record("k", 0, 10), None)).expect("put");
    // Dropped while its flush waits one pass of the task queue, before taking the frames.
    assert!(poll_then_drop(engine.put_record("c", record("k", 1, 10), None), 1).is_none());
    // The write position was given back: the next append is not stuck behind it, and its
    // group carries the abandoned frame too.
    block_on(engine.put_record("c", record("k", 2, 10), None)).expect("put after an abandoned one");
    let got = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), vec![0, 1, 2]);

    // With no append after it, maintenance writes it.
    assert!(poll_then_drop(engine.put_record("c", record("k", 3, 10), None), 1).is_none());
    block_on(engine.maintenance()).expect("maintenance");
    let got = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(got.iter().map(record_index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
}

#[test]
fn a_group_commit_given_up_midway_fails_the_shard_instead_of_wedging_it() {
    let storage = SimStorage::new(42);
    storage.set_write_yields(50);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("c", 1, None)).expect("create");
    block_on(engine.put_record("c", record("k", 0, 10), None)).expect("put");
    // A few polls in: past the yield, frames taken, the (slow) write or sync under way.
    assert!(poll_then_drop(engine.put_record("c", record("k", 1, 60_000), None), 4).is_none());
    let err = block_on(engine.put_record("c", record("k", 2, 10), None)).expect_err("the shard failed");
    assert_eq!(err.kind(), ErrorKind::InternalFailure, "{err}");
    assert!(err.to_string().contains("is failed"), "{err}");
    // Reopened, the shard serves what it acknowledged and appends again.
    drop(engine);
    let engine = open(&storage.crash(), &clock);
    let got = read_all(&engine, "c", 0, StartingPosition::TrimHorizon, 100);
    assert_eq!(got.first().map(record_index), Some(0));
    block_on(engine.put_record("c", record("k", 3, 10), None)).expect("reopened shard appends");
}
