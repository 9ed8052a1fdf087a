//! Latency of single-record durable puts straight into the engine (no
//! network, no client), paced at a fixed rate on one executor: separates
//! the storage path's tail from the server's and the client's.
//!
//! Run: cargo run --release -p shoal-benches --bin put_latency -- [puts/s] [seconds] [inline|ring]
//!
//! The third argument picks the commit path of small groups: `inline` (the
//! default: blocking calls on the core's thread, see the engine's
//! `shard::commit_path`) or `ring` (always through io_uring), for a
//! comparison in the same minute.

use std::time::{Duration, Instant};

use futures::future::join_all;
use hdrhistogram::Histogram;
use shoal_benches::{bench_config, bench_dir, executor};
use shoal_engine::storage::dma::DmaStorage;
use shoal_engine::{LocalEngine, RecordInput, SystemClock};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let rate: f64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000.0);
    let secs: f64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(10.0);
    let path = std::env::args().nth(3).unwrap_or_else(|| "inline".into());
    let mut config = bench_config(&bench_dir());
    match path.as_str() {
        "inline" => {}
        "ring" => config.log.inline_commit_bytes_max = 0,
        other => panic!("commit path {other:?}: expected inline or ring"),
    }
    let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
    config.data_dir = dir.path().to_path_buf();
    let ex = executor();
    let hist = ex.run(async {
        let (engine, _) = LocalEngine::open(DmaStorage::new(dir.path()), SystemClock, &config).await.expect("engine");
        engine.create_stream("lat", 1, None).await.expect("stream");
        let total = (rate * secs) as u64;
        let start = Instant::now();
        let hist = std::cell::RefCell::new(Histogram::<u64>::new(3).expect("histogram"));
        // Eight pacers, each sending every eighth put when it is due; beside
        // them, the runway task the server runs on every core.
        let pacers = join_all((0..8u64).map(|p| {
            let (engine, hist) = (&engine, &hist);
            async move {
                let mut i = p;
                while i < total {
                    let due = start + Duration::from_secs_f64(i as f64 / rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        glommio::timer::sleep(wait).await;
                    }
                    engine.put_record("lat", RecordInput::new("k", vec![b'x'; 1024]), None).await.expect("put");
                    let _ = hist.borrow_mut().record(due.elapsed().as_micros() as u64);
                    i += 8;
                }
            }
        }));
        {
            let runways = engine.serve_runways();
            futures::pin_mut!(pacers, runways);
            futures::future::select(pacers, runways).await;
        }
        let core = engine.core().metrics_snapshot(0);
        (hist.into_inner(), core.fsync_ns, core.group_records, core.inline_groups)
    });
    let (hist, fsync, groups, inline_groups) = hist;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "engine PutRecord 1 KiB durable, {path} commits, at {rate:.0}/s for {secs:.0} s ({} puts): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        hist.len(),
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        hist.max() as f64 / 1000.0
    );
    // The fdatasyncs behind those acks, from the engine's own metrics.
    let over = |ns: u64| fsync.cumulative().iter().find(|(b, _)| *b == Some(ns)).map_or(0, |(_, n)| fsync.count() - n);
    println!(
        "  {} group commits ({inline_groups} inline), {:.1} records each; fdatasync mean {:.0} us, over 1 ms: {}, over 5 ms: {}",
        fsync.count(),
        groups.sum as f64 / groups.count().max(1) as f64,
        fsync.sum as f64 / fsync.count().max(1) as f64 / 1000.0,
        over(1_000_000),
        over(5_000_000)
    );
}
