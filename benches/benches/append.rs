//! One shard, durable group commit: records of 100 B, 1 KiB and 64 KiB in
//! batches of 1, 100 and 500, with 32 producers in flight. Beside each, in
//! the same run, the raw O_DIRECT sequential write of the same bytes.
//!
//! Run: cargo bench -p shoal-benches --bench append

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::future::join_all;
use shoal_benches::{bench_config, bench_dir, executor, raw_odirect_write};
use shoal_engine::storage::dma::DmaStorage;
use shoal_engine::{LocalEngine, RecordInput, SystemClock};

const PRODUCERS: u64 = 32;

// Big frames churn the heap; glibc returns such memory to the kernel and
// faults it back in on every put. mimalloc keeps it (see BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn append(c: &mut Criterion) {
    let ex = executor();
    let mut group = c.benchmark_group("append_durable");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for &size in &[100usize, 1024, 64 * 1024] {
        // Kinesis caps a put at 5 MiB: 64 KiB records fit 79 to a put, so
        // that is the largest 64 KiB batch measured.
        let cap = 5 * 1024 * 1024 / (size + 16);
        let mut batches: Vec<usize> = [1usize, 100, 500].iter().map(|&b| b.min(cap)).collect();
        batches.dedup();
        for batch in batches {
            let label = format!("{size}B_x{batch}");
            let records: Vec<RecordInput> =
                (0..batch).map(|i| RecordInput::new(format!("key-{i}"), Bytes::from(vec![b'x'; size]))).collect();
            let bytes_per_put = (size * batch) as u64;
            group.throughput(Throughput::Bytes(bytes_per_put));
            let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
            let (engine, _) = ex
                .run(LocalEngine::open(DmaStorage::new(dir.path()), SystemClock, &bench_config(dir.path())))
                .expect("engine");
            ex.run(engine.create_stream("bench", 1, None)).expect("stream");
            group.bench_function(BenchmarkId::new("shoal", &label), |b| {
                b.iter_custom(|iters| {
                    ex.run(async {
                        let start = Instant::now();
                        let producers = join_all((0..PRODUCERS).map(|p| {
                            let records = &records;
                            let engine = &engine;
                            async move {
                                let mut i = p;
                                while i < iters {
                                    let out = engine.put_records("bench", records.clone()).await.expect("put");
                                    assert_eq!(out.failed_record_count(), 0);
                                    i += PRODUCERS;
                                }
                            }
                        }));
                        // Beside them, the runway task the server runs on every core.
                        let runways = engine.serve_runways();
                        futures::pin_mut!(producers, runways);
                        futures::future::select(producers, runways).await;
                        start.elapsed()
                    })
                })
            });
            drop(engine);
            group.bench_function(BenchmarkId::new("raw_odirect", &label), |b| {
                b.iter_custom(|iters| ex.run(raw_odirect_write(dir.path(), (iters * bytes_per_put).max(1 << 20))))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
