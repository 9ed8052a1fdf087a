//! Embeds the engine: start it, append, read back. Run: cargo run --example embed
use futures::executor::block_on;
use shoal_engine::{Engine, EngineConfig, RecordInput, StartingPosition};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("shoal-embed-{}", std::process::id()));
    let engine = Engine::start(EngineConfig::new(&dir))?;
    let desc = block_on(engine.create_stream("clicks", 2, None))?;
    let records = (0..5)
        .map(|i| RecordInput::new(format!("user-{i}"), format!("click {i}")))
        .collect();
    let put = block_on(engine.put_records("clicks", records))?;
    println!(
        "stored {} records ({:?}) on {} shards",
        put.results.len(),
        put.durability,
        desc.shards.len()
    );
    for shard in desc.shards.iter().map(|s| s.shard_index) {
        let at = block_on(engine.resolve("clicks", shard, StartingPosition::TrimHorizon))?;
        for r in block_on(engine.read("clicks", shard, at, 100))?.records {
            println!(
                "shard {shard} seq {} key {} data {:?}",
                r.sequence_number,
                r.partition_key_str(),
                r.data
            );
        }
    }
    engine.shutdown()?;
    Ok(std::fs::remove_dir_all(dir)?)
}
