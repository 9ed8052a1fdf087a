//! Embeds the engine: start it, append, read back. Run: cargo run --example embed
use futures::executor::block_on;
use shoal_engine::{Engine, EngineConfig, RecordInput, StartingPosition::TrimHorizon};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("shoal-embed-{}", std::process::id()));
    let engine = Engine::start(EngineConfig::new(&dir))?; // one executor per core
    let desc = block_on(engine.create_stream("clicks", 2, None))?; // 2 shards, 24 h retention
    let records = (0..5).map(|i| RecordInput::new(format!("user-{i}"), format!("click {i}")));
    let put = block_on(engine.put_records("clicks", records.collect()))?;
    println!("{} records stored, acknowledged {:?}", put.results.len(), put.durability);
    for shard in desc.shards.iter().map(|s| s.shard_index) {
        let at = block_on(engine.resolve("clicks", shard, TrimHorizon))?;
        for r in block_on(engine.read("clicks", shard, at, 100))?.records {
            println!("shard {shard}: {} {:?} seq {}", r.partition_key_str(), r.data, r.sequence_number);
        }
    }
    engine.shutdown()?; // syncs and stops the executors
    Ok(std::fs::remove_dir_all(dir)?)
}
