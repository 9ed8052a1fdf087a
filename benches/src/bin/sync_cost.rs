//! What an fdatasync costs a stream of O_DIRECT writes on this device: 1 GiB
//! written in 1 MiB chunks (4 in flight, as `raw_odirect_write`), with an
//! fdatasync every N MiB, for N from "only at the end" down to 4 MiB. The
//! syncs themselves return quickly; what they cost shows in the writes
//! after them, which is why group commit holds its write position through
//! a sync and gathers the next group meanwhile (engine/src/shard/mod.rs).
//!
//! Run: cargo run --release -p shoal-benches --bin sync_cost -- [rounds]

use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::io::OpenOptions;
use shoal_benches::{bench_dir, executor};

const CHUNK: usize = 1 << 20;
const IN_FLIGHT: u64 = 4;
const TOTAL_CHUNKS: u64 = 1024;

struct Outcome {
    total: Duration,
    writing: Duration,
    syncing: Duration,
    syncs: u32,
}

async fn write_with_syncs(path: std::path::PathBuf, sync_every_chunks: u64) -> Outcome {
    let file = Rc::new(
        OpenOptions::new().read(true).write(true).create(true).truncate(true).dma_open(&path).await.expect("open"),
    );
    let (mut writing, mut syncing, mut syncs) = (Duration::ZERO, Duration::ZERO, 0);
    let start = Instant::now();
    let (mut next, mut since_sync) = (0u64, 0u64);
    while next < TOTAL_CHUNKS {
        let t = Instant::now();
        let batch: Vec<_> = (next..(next + IN_FLIGHT).min(TOTAL_CHUNKS))
            .map(|i| {
                let file = file.clone();
                async move {
                    let mut buf = file.alloc_dma_buffer(CHUNK);
                    buf.as_bytes_mut().fill(0xab);
                    file.write_at(buf, i * CHUNK as u64).await.expect("write");
                }
            })
            .collect();
        next += batch.len() as u64;
        since_sync += batch.len() as u64;
        futures::future::join_all(batch).await;
        writing += t.elapsed();
        if next == TOTAL_CHUNKS || (sync_every_chunks > 0 && since_sync >= sync_every_chunks) {
            let t = Instant::now();
            file.fdatasync().await.expect("fdatasync");
            syncing += t.elapsed();
            syncs += 1;
            since_sync = 0;
        }
    }
    let total = start.elapsed();
    drop(file);
    let _ = std::fs::remove_file(&path);
    Outcome { total, writing, syncing, syncs }
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let ex = executor();
    let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
    for round in 0..rounds {
        for every_mib in [0u64, 64, 16, 8, 4] {
            let o = ex.run(write_with_syncs(dir.path().join("sync-cost.bin"), every_mib));
            let every = if every_mib == 0 { "at the end".to_string() } else { format!("every {every_mib} MiB") };
            println!(
                "round {round}, fdatasync {every:>12}: {:>5.0} MB/s; writes {:>5.0} ms, {:>4} syncs {:>4.0} ms (mean {:.2} ms)",
                (TOTAL_CHUNKS * CHUNK as u64) as f64 / o.total.as_secs_f64() / 1e6,
                o.writing.as_secs_f64() * 1e3,
                o.syncs,
                o.syncing.as_secs_f64() * 1e3,
                o.syncing.as_secs_f64() * 1e3 / f64::from(o.syncs)
            );
        }
    }
}
