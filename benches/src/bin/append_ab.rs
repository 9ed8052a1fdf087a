//! Interleaved A/B runs of the durable append path against the raw O_DIRECT
//! ceiling, for figures whose ratio holds on a noisy machine: each round
//! writes the same bytes through Shoal (one shard, group commit, N
//! producers) and then raw, and prints both with the executor's CPU use.
//!
//! Run: cargo run --release -p shoal-benches --bin append_ab -- [record_bytes] [batch] [producers] [MiB per round] [rounds]

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::join_all;
use shoal_benches::{bench_config, bench_dir, executor, raw_odirect_write};
use shoal_engine::storage::dma::DmaStorage;
use shoal_engine::{LocalEngine, RecordInput, SystemClock};

// Same allocator as the criterion bench (see BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through the valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("numeric argument")).collect();
    let arg = |i: usize, d: u64| args.get(i).copied().unwrap_or(d);
    let (size, batch, producers, mib, rounds) =
        (arg(0, 1024) as usize, arg(1, 500) as usize, arg(2, 32), arg(3, 1024), arg(4, 3));
    let bytes_per_put = (size * batch) as u64;
    let puts = (mib << 20) / bytes_per_put;
    let total = puts * bytes_per_put;
    println!("record {size} B x {batch} per put, {producers} producers, {puts} puts = {} MiB per round", total >> 20);
    let ex = executor();
    let records: Vec<RecordInput> =
        (0..batch).map(|i| RecordInput::new(format!("key-{i}"), Bytes::from(vec![b'x'; size]))).collect();
    for round in 0..rounds {
        let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
        let (shoal, cpu, fsync, groups) = ex.run(async {
            let (engine, _) = LocalEngine::open(DmaStorage::new(dir.path()), SystemClock, &bench_config(dir.path()))
                .await
                .expect("engine");
            engine.create_stream("ab", 1, None).await.expect("stream");
            let cpu0 = thread_cpu();
            let start = Instant::now();
            join_all((0..producers).map(|p| {
                let (engine, records) = (&engine, &records);
                async move {
                    let mut i = p;
                    while i < puts {
                        let out = engine.put_records("ab", records.clone()).await.expect("put");
                        assert_eq!(out.failed_record_count(), 0);
                        i += producers;
                    }
                }
            }))
            .await;
            let elapsed = start.elapsed();
            let core = engine.core().metrics_snapshot(0);
            (elapsed, thread_cpu() - cpu0, core.fsync_ns, core.group_bytes)
        });
        let raw = ex.run(raw_odirect_write(dir.path(), total));
        let mbs = |d: Duration| total as f64 / d.as_secs_f64() / 1e6;
        println!(
            "round {round}: shoal {:>7.0} MB/s {:>9.0} rec/s (cpu {:>3.0}%, {:.0} ms)  raw {:>7.0} MB/s  ratio {:.2}",
            mbs(shoal),
            (puts * batch as u64) as f64 / shoal.as_secs_f64(),
            cpu.as_secs_f64() / shoal.as_secs_f64() * 100.0,
            cpu.as_secs_f64() * 1000.0,
            mbs(raw),
            raw.as_secs_f64() / shoal.as_secs_f64()
        );
        // The group commits behind that figure, from the engine's own metrics.
        println!(
            "         {} group commits of {:.2} MiB; fdatasync mean {:.0} us, {:.0}% of the run",
            fsync.count(),
            groups.sum as f64 / groups.count().max(1) as f64 / (1 << 20) as f64,
            fsync.sum as f64 / fsync.count().max(1) as f64 / 1000.0,
            fsync.sum as f64 / 1e9 / shoal.as_secs_f64() * 100.0
        );
    }
}
