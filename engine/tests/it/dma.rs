//! The thread-per-core engine on real direct-I/O files: every shard of a
//! stream spread over both cores, used from plain threads, restarted.

use std::collections::BTreeMap;

use futures::executor::block_on;
use shoal_engine::config::LogConfig;
use shoal_engine::{Engine, EngineConfig, SequenceNumber, StartingPosition, SyncPolicy};

use crate::common::{record, record_index};

pub fn test_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}

pub fn config(dir: &std::path::Path) -> EngineConfig {
    let mut c = EngineConfig::new(dir);
    c.cores = 2;
    c.log = LogConfig { segment_bytes: 256 * 1024, ..LogConfig::default() };
    c.default_shard_limits = shoal_engine::ShardLimits::UNLIMITED;
    c
}

fn read_shard(engine: &Engine, stream: &str, shard: u32) -> Vec<shoal_engine::Record> {
    block_on(async {
        let mut at = engine.resolve(stream, shard, StartingPosition::TrimHorizon).await.expect("resolve");
        let mut out = Vec::new();
        loop {
            let r = engine.read(stream, shard, at, 333).await.expect("read");
            if r.records.is_empty() {
                return out;
            }
            out.extend(r.records);
            match r.next_counter {
                Some(next) => at = next,
                None => return out, // the end of a closed shard
            }
        }
    })
}

#[test]
fn multi_core_engine_round_trips_across_restart() {
    let dir = test_dir();
    let engine = Engine::start(config(dir.path())).expect("start");
    assert_eq!(engine.cores(), 2);
    block_on(engine.create_stream("dma", 4, None)).expect("create");
    // Four plain threads put concurrently.
    let acked: BTreeMap<u64, (u32, SequenceNumber)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let engine = engine.clone();
                s.spawn(move || {
                    let mut acked = Vec::new();
                    for b in 0..10u64 {
                        let base = (t * 10 + b) * 50;
                        let records = (0..50).map(|i| record(&format!("key-{}", base + i), base + i, 700)).collect();
                        let out = block_on(engine.put_records("dma", records)).expect("put");
                        assert_eq!(out.durability, shoal_engine::Durability::Synced);
                        for (i, r) in out.results.into_iter().enumerate() {
                            let r = r.expect("stored");
                            acked.push((base + i as u64, (r.shard_index, r.sequence_number)));
                        }
                    }
                    acked
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("thread")).collect()
    });
    assert_eq!(acked.len(), 2000);
    let check = |engine: &Engine| {
        let mut seen = 0;
        for shard in 0..4 {
            let records = read_shard(engine, "dma", shard);
            assert!(records.windows(2).all(|w| w[0].sequence_number < w[1].sequence_number));
            for r in &records {
                let (s, seq) = acked[&record_index(r)];
                assert_eq!((s, seq), (shard, r.sequence_number));
                assert_eq!(r.data, record("k", record_index(r), 700).data);
            }
            seen += records.len();
        }
        assert_eq!(seen, 2000);
    };
    check(&engine);
    engine.shutdown().expect("shutdown");

    let engine = Engine::start(config(dir.path())).expect("restart");
    assert_eq!(engine.recovery_reports().len(), 4, "every shard was recovered");
    assert!(engine.recovery_reports().iter().all(|(_, _, r)| r.damage.is_empty()));
    check(&engine);
    block_on(engine.delete_stream("dma")).expect("delete");
    assert!(engine.describe_stream("dma").is_err());
    let left = std::fs::read_dir(dir.path().join("streams")).expect("streams dir").count();
    assert_eq!(left, 0, "the stream's files are gone");
    engine.shutdown().expect("shutdown");
}

#[test]
fn interval_mode_acks_say_written_and_data_survives_clean_shutdown() {
    let dir = test_dir();
    let mut c = config(dir.path());
    c.log.sync_policy = SyncPolicy::Interval { interval_ms: 50 };
    let engine = Engine::start(c.clone()).expect("start");
    block_on(engine.create_stream("fast", 1, None)).expect("create");
    let (_, durability) = block_on(engine.put_record("fast", record("k", 0, 10), None)).expect("put");
    assert_eq!(durability, shoal_engine::Durability::Written);
    engine.shutdown().expect("shutdown");
    let engine = Engine::start(c).expect("restart");
    assert_eq!(read_shard(&engine, "fast", 0).len(), 1);
    engine.shutdown().expect("shutdown");
}

#[test]
fn hooks_on_every_core_serve_local_shards_and_forward_the_rest() {
    let dir = test_dir();
    let engine = Engine::start(config(dir.path())).expect("start");
    block_on(engine.create_stream("hook", 4, None)).expect("create");
    engine.shutdown().expect("shutdown");

    let (tx, rx) = flume::unbounded::<(usize, Vec<usize>, usize, usize)>();
    let hook: shoal_engine::CoreHook = std::sync::Arc::new(move |api: shoal_engine::CoreApi| {
        let tx = tx.clone();
        Box::pin(async move {
            let me = api.core_id();
            let owners: Vec<usize> = (0..4).map(|s| api.owner("hook", s).expect("owner")).collect();
            let records = (0..100).map(|i| record(&format!("{me}-{i}"), me as u64 * 1000 + i, 50)).collect();
            let out = api.put_records("hook", records).await.expect("put");
            let stored = out.results.iter().filter(|r| r.is_ok()).count();
            let mut read = 0;
            for shard in 0..4 {
                let at = api.resolve("hook", shard, StartingPosition::TrimHorizon).await.expect("resolve");
                read += api.read("hook", shard, at, 10_000).await.expect("read").records.len();
            }
            let _ = tx.send((me, owners, stored, read));
        })
    });
    let engine = Engine::start_with(config(dir.path()), Some(hook)).expect("start with hook");
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(rx.recv_timeout(std::time::Duration::from_secs(30)).expect("hook reports"));
    }
    seen.sort();
    for (core, owners, stored, read) in &seen {
        assert!(owners.contains(&0) && owners.contains(&1), "shards on both cores: {owners:?}");
        assert_eq!(*stored, 100, "core {core} stored every record");
        assert!(*read >= 100, "core {core} read its own records back at least");
    }
    assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), vec![0, 1]);
    let total: usize = (0..4)
        .map(|s| {
            let at = block_on(engine.resolve("hook", s, StartingPosition::TrimHorizon)).expect("resolve");
            block_on(engine.read("hook", s, at, 10_000)).expect("read").records.len()
        })
        .sum();
    assert_eq!(total, 200);
    engine.shutdown().expect("shutdown");
}

#[test]
fn splits_under_concurrent_puts_on_both_cores_lose_nothing() {
    let dir = test_dir();
    let engine = Engine::start(config(dir.path())).expect("start");
    block_on(engine.create_stream("live", 2, None)).expect("create");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let puts = std::sync::atomic::AtomicUsize::new(0);
    // Reshards run only once the writers have made progress since the last
    // step, so every reshard happens under load (bounded wait).
    let progressed = |from: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while puts.load(std::sync::atomic::Ordering::Relaxed) < from + 10 {
            assert!(std::time::Instant::now() < deadline, "writers made no progress");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        puts.load(std::sync::atomic::Ordering::Relaxed)
    };
    let acked: Vec<u64> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..3u64)
            .map(|t| {
                let (engine, stop, puts) = (engine.clone(), &stop, &puts);
                s.spawn(move || {
                    let mut acked = Vec::new();
                    let mut n = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let base = (t * 1_000_000) + n * 20;
                        let records =
                            (0..20).map(|i| record(&format!("k{}", (base + i) % 97), base + i, 100)).collect();
                        let out = block_on(engine.put_records("live", records)).expect("put");
                        for (i, r) in out.results.iter().enumerate() {
                            if r.is_ok() {
                                acked.push(base + i as u64);
                            }
                        }
                        puts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        n += 1;
                    }
                    acked
                })
            })
            .collect();
        let mut seen = progressed(0);
        block_on(engine.split_shard("live", 0, 1u128 << 126)).expect("split 0");
        seen = progressed(seen);
        block_on(engine.split_shard("live", 1, 3u128 << 126)).expect("split 1");
        seen = progressed(seen);
        block_on(engine.update_shard_count("live", 2)).expect("scale down");
        progressed(seen);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writers.into_iter().flat_map(|w| w.join().expect("writer")).collect()
    });
    let desc = engine.describe_stream("live").expect("describe");
    let mut found = std::collections::BTreeSet::new();
    for shard in desc.shards.iter().map(|s| s.shard_index) {
        for r in read_shard(&engine, "live", shard) {
            assert!(found.insert(record_index(&r)), "no duplicates");
        }
    }
    let lost: Vec<_> = acked.iter().filter(|a| !found.contains(a)).collect();
    assert!(lost.is_empty(), "{} acknowledged records lost", lost.len());
    assert!(acked.len() >= 40 * 20, "at least 40 puts of 20 records were acknowledged");
    engine.shutdown().expect("shutdown");
}

#[test]
fn fan_out_on_both_cores_delivers_every_record_across_resubscriptions() {
    let dir = test_dir();
    let mut c = config(dir.path());
    c.subscription.lifetime_ms = 300;
    let engine = Engine::start(c).expect("start");
    block_on(engine.create_stream("fan", 2, None)).expect("create");
    block_on(engine.register_consumer("fan", "reader")).expect("register");
    let producer = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            for n in 0..40u64 {
                let records = (0..25).map(|i| record(&format!("k{}", n * 25 + i), n * 25 + i, 300)).collect();
                block_on(engine.put_records("fan", records)).expect("put");
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
        })
    };
    let mut got: Vec<u64> = Vec::new();
    for shard in 0..2u32 {
        let mut position = StartingPosition::TrimHorizon;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut mine = Vec::new();
        // Resubscribe across lifetimes until this shard's share is in.
        loop {
            let rx = block_on(engine.subscribe("fan", "reader", shard, position)).expect("subscribe");
            let mut last = None;
            while let Ok(ev) = rx.recv() {
                let ev = ev.expect("no error");
                mine.extend(ev.records.iter().map(record_index));
                last = Some(ev.continuation);
                if ev.end.is_some() {
                    break;
                }
            }
            position = StartingPosition::AfterSequenceNumber(last.expect("an event"));
            let stored = read_shard(&engine, "fan", shard).len();
            if producer.is_finished() && mine.len() >= stored {
                assert_eq!(mine.len(), stored, "no duplicates");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "delivery stalled");
        }
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "in put order, no duplicates");
        got.extend(mine);
    }
    producer.join().expect("producer");
    got.sort();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
    let err = block_on(engine.subscribe("fan", "nobody", 0, StartingPosition::Latest)).expect_err("unregistered");
    assert_eq!(err.kind(), shoal_engine::ErrorKind::ResourceNotFound);
    engine.shutdown().expect("shutdown");
}

/// Two executors starting on a fresh data directory at the same moment both prime glommio's
/// iopoll probe with the primer file. If one could see the primer empty (the other writing it
/// in place), its probe would mark the device pollable and every later read on that thread
/// would fail with EOPNOTSUPP (os error 95). Many rounds, each with new threads (the probe's
/// answer is cached per thread), each thread writing and reading back a page.
#[test]
fn executors_priming_together_can_always_read() {
    use shoal_engine::storage::dma::DmaStorage;
    use shoal_engine::storage::{SegmentFile, Storage};

    const ROUNDS: usize = 1000;
    for round in 0..ROUNDS {
        let dir = test_dir();
        let start = std::sync::Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let (root, start) = (dir.path().to_path_buf(), start.clone());
                std::thread::spawn(move || {
                    let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
                        .io_memory(1 << 20)
                        .make()
                        .expect("executor");
                    ex.run(async move {
                        let storage = DmaStorage::new(root.clone());
                        start.wait();
                        let file = storage.open_segment(&root.join(format!("t{t}.log")), true).await?;
                        let mut page = file.alloc_buf(4096);
                        page.as_mut().fill(b'a' + t as u8);
                        file.write_at(page, 0).await?;
                        let back = file.read_at(0, 4096).await?;
                        assert!(back.iter().all(|&b| b == b'a' + t as u8), "round {round}, thread {t}: page read back");
                        Ok::<(), shoal_engine::EngineError>(())
                    })
                })
            })
            .collect();
        for (t, handle) in threads.into_iter().enumerate() {
            handle.join().expect("thread").unwrap_or_else(|e| panic!("round {round}, thread {t}: {e}"));
        }
    }
}

#[test]
fn a_second_engine_on_the_same_directory_is_refused_until_the_first_stops() {
    let dir = test_dir();
    let first = Engine::start(config(dir.path())).expect("start");
    block_on(first.create_stream("one", 1, None)).expect("create");
    match Engine::start(config(dir.path())) {
        Err(shoal_engine::EngineError::DataDir(message)) => {
            assert!(message.contains("in use by another Shoal process"), "{message}")
        }
        Err(other) => panic!("expected DataDir, got {other}"),
        Ok(_) => panic!("two engines on one directory"),
    }
    // The refused start touched nothing: the first engine still serves.
    block_on(first.put_records("one", vec![record("k", 1, 100)])).expect("put");
    first.shutdown().expect("shutdown");
    let second = Engine::start(config(dir.path())).expect("free once the first stopped");
    assert_eq!(read_shard(&second, "one", 0).len(), 1);
    second.shutdown().expect("shutdown");
}

#[test]
fn stream_files_without_a_catalog_are_refused_and_kept() {
    let dir = test_dir();
    let engine = Engine::start(config(dir.path())).expect("start");
    block_on(engine.create_stream("kept", 2, None)).expect("create");
    let records = (0..20).map(|i| record(&format!("k{i}"), i, 500)).collect();
    block_on(engine.put_records("kept", records)).expect("put");
    engine.shutdown().expect("shutdown");
    let files = |root: &std::path::Path| walk(root).len();
    let before = files(&dir.path().join("streams"));
    assert!(before > 0);

    std::fs::remove_file(dir.path().join("catalog.bin")).expect("lose the catalog");
    match Engine::start(config(dir.path())) {
        Err(shoal_engine::EngineError::DataDir(message)) => {
            assert!(message.contains("no catalog.bin"), "{message}");
            assert!(message.contains("kept."), "names a stream directory: {message}");
        }
        Err(other) => panic!("expected DataDir, got {other}"),
        Ok(_) => panic!("started without its catalog"),
    }
    assert_eq!(files(&dir.path().join("streams")), before, "nothing was removed");
}

#[test]
fn directories_the_catalog_never_created_are_left_alone() {
    let dir = test_dir();
    let engine = Engine::start(config(dir.path())).expect("start");
    block_on(engine.create_stream("mine", 1, None)).expect("create");
    block_on(engine.create_stream("gone", 1, None)).expect("create");
    engine.shutdown().expect("shutdown");
    let streams = dir.path().join("streams");
    // A stream deleted while the server was down would leave its directory
    // (incarnation 1, handed out by this catalog) ...
    let deleted = std::fs::read_dir(&streams)
        .expect("streams")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .find(|n| n.starts_with("gone."))
        .expect("gone's directory");
    // ... and someone else's directory carries an incarnation it never made.
    std::fs::create_dir_all(streams.join("foreign.999/shard-0")).expect("foreign dir");
    std::fs::write(streams.join("foreign.999/shard-0/keep.txt"), b"not Shoal's").expect("foreign file");
    let engine = Engine::start(config(dir.path())).expect("start");
    block_on(engine.delete_stream("gone")).expect("delete");
    engine.shutdown().expect("shutdown");
    // The deleted stream's directory is removed at delete or by the next start's sweep.
    std::fs::create_dir_all(streams.join(&deleted)).expect("as if the delete had crashed");
    let engine = Engine::start(config(dir.path())).expect("restart");
    assert!(!streams.join(&deleted).exists(), "the deleted stream's files are swept");
    assert!(streams.join("foreign.999/shard-0/keep.txt").exists(), "the foreign directory is kept");
    engine.shutdown().expect("shutdown");
}

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// CPUs in a `Cpus_allowed_list` line of `/proc/.../status` ("0-1,4").
fn allowed_cpus(status: &str) -> Vec<usize> {
    let list = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).expect("Cpus_allowed_list").trim();
    let mut cpus = Vec::new();
    for part in list.split(',') {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        cpus.extend(first.parse::<usize>().expect("cpu")..=last.parse::<usize>().expect("cpu"));
    }
    cpus
}

#[test]
fn a_cpuset_pins_each_executor_to_its_cpu() {
    let dir = test_dir();
    let own = std::fs::read_to_string("/proc/thread-self/status").expect("status");
    let last = *allowed_cpus(&own).last().expect("a CPU");
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let hook: shoal_engine::CoreHook = std::sync::Arc::new(move |api: shoal_engine::CoreApi| {
        let status = std::fs::read_to_string("/proc/thread-self/status").expect("status");
        let _ = tx.lock().expect("sender").send((api.core_id(), allowed_cpus(&status)));
        Box::pin(async {})
    });
    let c = EngineConfig { cores: 0, cpuset: vec![last], ..config(dir.path()) };
    let engine = Engine::start_with(c, Some(hook)).expect("start");
    assert_eq!(engine.cores(), 1, "cores = 0 with a set: one executor per CPU of the set");
    let seen = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("the hook reports");
    assert_eq!(seen, (0, vec![last]), "executor 0 runs on CPU {last} only");
    engine.shutdown().expect("shutdown");

    let c = EngineConfig { cores: 0, cpuset: vec![4095], ..config(dir.path()) };
    let refused = Engine::start(c).err().expect("a CPU the process may not use is refused").to_string();
    assert!(refused.contains("cpuset names CPU 4095"), "{refused}");
}

/// Bytes the file system allocated for every file under `dir`.
fn allocated_bytes(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() { allocated_bytes(&entry.path()) } else { meta.blocks() * 512 };
    }
    total
}

/// A fuzz audit wrote a record or two to each shard of a 2,561-shard stream and found
/// gigabytes on disk: every shard allocated 4 MiB and zeroed 2 MiB ahead of its first record.
/// Now what a shard holds ahead grows with what it stores.
#[test]
fn shards_holding_a_few_records_hold_little_disk() {
    const SHARDS: u32 = 64;
    let dir = test_dir();
    let mut c = config(dir.path());
    c.log.segment_bytes = shoal_engine::limits::SEGMENT_BYTES_DEFAULT;
    let engine = Engine::start(c).expect("start");
    block_on(engine.create_stream("sparse", SHARDS, None)).expect("create");
    let before = allocated_bytes(dir.path());
    for shard in 0..SHARDS {
        let step = u128::MAX / SHARDS as u128;
        let hash = step * shard as u128 + step / 2;
        let input = shoal_engine::RecordInput { explicit_hash_key: Some(hash), ..record("k", 0, 100) };
        let (put, _) = block_on(engine.put_record("sparse", input, None)).expect("put");
        assert_eq!(put.shard_index, shard);
    }
    // Long enough for every core's runway task to zero what the groups asked for.
    std::thread::sleep(std::time::Duration::from_millis(300));
    engine.shutdown().expect("shutdown");
    let per_shard = (allocated_bytes(dir.path()) - before) / SHARDS as u64;
    assert!(per_shard <= 256 * 1024, "{per_shard} bytes on disk per shard of one 100-byte record");
}
