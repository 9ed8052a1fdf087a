use std::path::PathBuf;

use bytes::Bytes;
use shoal_engine::config::LogConfig;
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{EngineConfig, LocalEngine, ManualClock, Record, RecordInput, ShardLimits, StartingPosition};

pub const T0: u64 = 1_700_000_000_000;

pub type SimEngine = LocalEngine<SimStorage, ManualClock>;

pub fn data_dir() -> PathBuf {
    PathBuf::from("/data")
}

pub fn small_segments() -> LogConfig {
    LogConfig { segment_bytes: 64 * 1024, ..LogConfig::default() }
}

pub fn open(storage: &SimStorage, clock: &ManualClock) -> SimEngine {
    open_with(storage, clock, small_segments(), 1 << 20)
}

/// Limits are off: these tests are about storage, not throttling.
pub fn engine_config(log: LogConfig, cache: usize) -> EngineConfig {
    let mut c = EngineConfig::new(data_dir());
    c.log = log;
    c.tail_cache_bytes = cache;
    c.default_shard_limits = ShardLimits::UNLIMITED;
    c
}

pub fn open_with(storage: &SimStorage, clock: &ManualClock, log: LogConfig, cache: usize) -> SimEngine {
    let (engine, _reports) =
        futures::executor::block_on(LocalEngine::open(storage.clone(), clock.clone(), &engine_config(log, cache)))
            .expect("engine opens");
    engine
}

/// A record whose data encodes `i` so that tests can check contents.
pub fn record(key: &str, i: u64, size: usize) -> RecordInput {
    let mut data = format!("record-{i:08}-").into_bytes();
    data.resize(size.max(data.len()), b'x');
    RecordInput::new(key, Bytes::from(data))
}

pub fn record_index(r: &Record) -> u64 {
    let s = std::str::from_utf8(&r.data[7..15]).expect("test data is ASCII");
    s.parse().expect("test data carries its index")
}

/// Reads a whole shard from a position, following next counters.
pub fn read_all(engine: &SimEngine, stream: &str, shard: u32, from: StartingPosition, limit: usize) -> Vec<Record> {
    futures::executor::block_on(async {
        let mut at = engine.resolve(stream, shard, from).await.expect("position resolves");
        let mut out = Vec::new();
        loop {
            let r = engine.read(stream, shard, at, limit).await.expect("read succeeds");
            let n = r.records.len();
            out.extend(r.records);
            match r.next_counter {
                Some(next) if n > 0 => at = next,
                _ => break,
            }
        }
        out
    })
}

/// The counter lease file of the one shard in `storage` (see `shard::lease`).
pub fn lease_file(storage: &SimStorage) -> std::path::PathBuf {
    storage
        .paths()
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == shoal_engine::shard::LEASE_FILE_NAME))
        .expect("lease file")
}

/// Returns `Pending` once, so the other futures of a `join!` run.
pub async fn yield_now() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}
