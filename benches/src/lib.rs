//! Shared helpers for Shoal's benchmarks: a pinned glommio executor, a data
//! directory on the same disk as the build, and the raw O_DIRECT baseline
//! every storage figure is compared against.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use glommio::io::{DmaFile, OpenOptions};
use glommio::{LocalExecutor, LocalExecutorBuilder, Placement};

/// Where benchmark data goes: `SHOAL_BENCH_DIR`, else `target/bench-data`
/// (same disk as the build, which on these machines is the data disk).
pub fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("SHOAL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data"));
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

/// One executor pinned to CPU 0, driven from the calling thread. Turns
/// transparent huge pages off for the process first, as `Engine::start`
/// does for the server, so engine-only benchmarks run the way it does.
pub fn executor() -> LocalExecutor {
    shoal_engine::process::disable_transparent_huge_pages().expect("prctl(PR_SET_THP_DISABLE)");
    LocalExecutorBuilder::new(Placement::Fixed(0)).io_memory(8 << 20).make().expect("glommio executor")
}

/// Writes `total` bytes sequentially with O_DIRECT in 1 MiB writes, 4 in
/// flight, then one fdatasync: the device ceiling for a log that is only
/// written. Must run inside a glommio executor.
pub async fn raw_odirect_write(dir: &Path, total: u64) -> Duration {
    odirect_write(dir, total, None).await.total
}

/// How long an [`odirect_write`] took: in all, waiting for writes, and
/// waiting for its `syncs` fdatasyncs.
pub struct WriteTimes {
    pub total: Duration,
    pub writing: Duration,
    pub syncing: Duration,
    pub syncs: u32,
}

/// [`raw_odirect_write`]'s loop, with an fdatasync after every
/// `sync_every` bytes too (rounded up to whole batches of 4 writes).
pub async fn odirect_write(dir: &Path, total: u64, sync_every: Option<u64>) -> WriteTimes {
    const CHUNK: usize = 1 << 20;
    const IN_FLIGHT: u64 = 4;
    // Prime glommio's iopoll probe with a non-empty file (see glommio-notes).
    let primer = dir.join(".primer");
    std::fs::write(&primer, vec![0u8; 4096]).expect("primer");
    DmaFile::open(&primer).await.expect("open primer").close().await.expect("close");
    let path = dir.join("raw-odirect.bin");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .dma_open(&path)
        .await
        .expect("open raw file");
    let file = std::rc::Rc::new(file);
    let chunks = total.div_ceil(CHUNK as u64);
    let mut times = WriteTimes { total: Duration::ZERO, writing: Duration::ZERO, syncing: Duration::ZERO, syncs: 0 };
    let start = Instant::now();
    let (mut next, mut since_sync) = (0u64, 0u64);
    while next < chunks {
        let t = Instant::now();
        let inflight: Vec<_> = (next..(next + IN_FLIGHT).min(chunks))
            .map(|i| {
                let file = file.clone();
                async move {
                    let mut buf = file.alloc_dma_buffer(CHUNK);
                    buf.as_bytes_mut().fill(0xab);
                    file.write_at(buf, i * CHUNK as u64).await.expect("write");
                }
            })
            .collect();
        next += inflight.len() as u64;
        since_sync += (inflight.len() * CHUNK) as u64;
        futures::future::join_all(inflight).await;
        times.writing += t.elapsed();
        if next == chunks || sync_every.is_some_and(|every| since_sync >= every) {
            let t = Instant::now();
            file.fdatasync().await.expect("fdatasync");
            times.syncing += t.elapsed();
            times.syncs += 1;
            since_sync = 0;
        }
    }
    times.total = start.elapsed();
    drop(file);
    let _ = std::fs::remove_file(&path);
    times
}

/// Engine settings for benchmarks: limits off (they measure the engine,
/// not Kinesis' per-shard quotas), 64 MiB tail cache.
pub fn bench_config(dir: &Path) -> shoal_engine::EngineConfig {
    let mut c = shoal_engine::EngineConfig::new(dir);
    c.tail_cache_bytes = 64 << 20;
    c.default_shard_limits = shoal_engine::ShardLimits::UNLIMITED;
    c
}
