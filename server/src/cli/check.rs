//! `shoal check --data-dir DIR [--repair]`: offline verification of every
//! segment (CRCs, counter order, indexes against the data), with a report
//! for people; `--repair` truncates torn tails and rebuilds bad indexes
//! the way startup recovery does. It refuses a directory a server holds.

use std::path::PathBuf;

use glommio::{LocalExecutorBuilder, Placement};
use shoal_engine::check::{check_data_dir, repair_data_dir, CheckReport};
use shoal_engine::data_dir_lock::DataDirLock;
use shoal_engine::storage::dma::DmaStorage;
use shoal_engine::{EngineConfig, SystemClock};

use super::exit::{CliError, CliResult};

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The data directory to verify (the server must not be running on it).
    #[arg(long, default_value = shoal_server::server::DATA_DIR_DEFAULT)]
    pub data_dir: PathBuf,
    /// Truncate torn tails at the last valid frame and rebuild damaged
    /// indexes; damage inside sealed segments cannot be repaired and is
    /// still reported.
    #[arg(long)]
    pub repair: bool,
}

pub fn run(args: CheckArgs) -> CliResult {
    if !args.data_dir.join("catalog.bin").exists() {
        return Err(CliError::new(
            super::exit::NOT_FOUND,
            format!("{} holds no Shoal catalog (catalog.bin) — is it a data directory?", args.data_dir.display()),
        ));
    }
    // A running server's files change under the check (and a repair would
    // truncate what it is appending): refused while one holds the directory.
    let _lock = DataDirLock::acquire(&args.data_dir).map_err(|e| CliError::runtime(e.to_string()))?;
    let dir = args.data_dir.clone();
    // Direct I/O needs a glommio executor; one is enough for a check.
    let executor = LocalExecutorBuilder::new(Placement::Unbound)
        .io_memory(8 << 20)
        .make()
        .map_err(|e| CliError::runtime(format!("cannot start an I/O executor: {e}")))?;
    executor.run(async move {
        let storage = DmaStorage::new(&dir);
        let report = check_data_dir(storage.clone(), &dir).await.map_err(|e| CliError::runtime(e.to_string()))?;
        print_report(&report);
        if report.is_clean() {
            return Ok(());
        }
        if !args.repair {
            return Err(CliError::runtime(format!(
                "{} shard(s) damaged; `shoal check --repair` fixes torn tails and indexes",
                report.damaged().count()
            )));
        }
        let mut config = EngineConfig::new(&dir);
        config.cores = 1;
        repair_data_dir(storage.clone(), SystemClock, &config, &report)
            .await
            .map_err(|e| CliError::runtime(format!("repair failed: {e}")))?;
        let after = check_data_dir(storage, &dir).await.map_err(|e| CliError::runtime(e.to_string()))?;
        println!("after repair:");
        print_report(&after);
        if after.is_clean() {
            Ok(())
        } else {
            Err(CliError::runtime("damage remains that repair cannot fix without losing data (see above)"))
        }
    })
}

fn print_report(report: &CheckReport) {
    for s in &report.shards {
        let state = if s.damage.is_empty() {
            "ok"
        } else if s.repairable {
            "DAMAGED (repairable)"
        } else {
            "DAMAGED"
        };
        println!(
            "{}/{}: {} segment(s), {} bytes of frames: {state}",
            s.stream,
            shoal_protocol::ops::shard_id(s.shard),
            s.segments,
            s.bytes
        );
        for (file, offset, what) in &s.damage {
            println!("  {file} @ {offset}: {what}");
        }
    }
    let damaged = report.damaged().count();
    println!("{} shard(s) checked, {damaged} damaged", report.shards.len());
}
