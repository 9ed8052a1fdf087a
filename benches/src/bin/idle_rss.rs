//! Memory with 1,000 shards open and idle: starts the engine, creates one
//! stream of 1,000 shards, writes one record to each (so every shard has an
//! open segment, a tail page and a cached frame), restarts the engine so
//! all shards are recovered from disk, and prints the process RSS at each
//! step.
//!
//! Run: cargo run --release -p shoal-benches --bin idle_rss

use futures::executor::block_on;
use shoal_benches::bench_dir;
use shoal_engine::{Engine, EngineConfig, RecordInput};

const SHARDS: u32 = 1000;

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("field present")
}

fn report(step: &str) {
    println!("{step:<44} VmRSS {:>7} KiB   VmHWM {:>7} KiB", rss_kib("VmRSS:"), rss_kib("VmHWM:"));
}

fn main() {
    let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
    report("process start");
    let engine = Engine::start(EngineConfig::new(dir.path())).expect("start");
    report(&format!("engine started ({} cores)", engine.cores()));
    let desc = block_on(engine.create_stream("idle", SHARDS, None)).expect("create");
    report("1000 shards created");
    for s in &desc.shards {
        let mut r = RecordInput::new("k", vec![b'x'; 100]);
        r.explicit_hash_key = Some(s.hash_key_range.start);
        block_on(engine.put_record("idle", r, None)).expect("put");
    }
    report("one 100 B record in each shard");
    engine.shutdown().expect("shutdown");
    let engine = Engine::start(EngineConfig::new(dir.path())).expect("restart");
    assert_eq!(engine.recovery_reports().len(), SHARDS as usize);
    report("restarted: 1000 shards recovered, idle");
    engine.shutdown().expect("shutdown");
}
