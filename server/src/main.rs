//! `shoal`: the Shoal server and its command line: `serve` runs the server; `stream`, `put`,
//! `get` and `tail` are client commands for people and scripts (see `cli`).

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shoal_engine::SyncPolicy;
use shoal_server::{Server, ServerConfig};

// Frames of a few hundred KiB churn the heap; glibc hands such memory back
// to the kernel and faults it in again on every put (see BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "shoal",
    version,
    about = "Shoal: durable record streams with Kinesis semantics",
    after_help = cli::exit::HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Create, delete, list and describe streams.
    #[command(subcommand)]
    Stream(cli::stream::StreamCommand),
    /// Put lines from stdin (or a file) as records, batched into PutRecords.
    #[command(after_help = cli::exit::HELP)]
    Put(cli::put::PutArgs),
    /// Print one shard's records from a position to its current end.
    #[command(after_help = cli::exit::HELP)]
    Get(cli::get::GetArgs),
    /// Follow every shard of a stream and print records as they arrive (polled, or as a
    /// fan-out consumer with --consumer), until Ctrl-C or --max-records.
    #[command(after_help = cli::exit::HELP)]
    Tail(cli::tail::TailArgs),
    /// Verify every segment of a data directory offline (CRCs, order,
    /// indexes); exits 1 on damage. --repair truncates torn tails.
    #[command(after_help = cli::exit::HELP)]
    Check(cli::check::CheckArgs),
    /// Per-shard records, bytes, arrival times, rates, throttles and subscribers, scraped twice
    /// from a server's metrics endpoint.
    #[command(after_help = cli::exit::HELP)]
    Stats(cli::stats::StatsArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Directory holding the catalog, segments and the server key.
    #[arg(long, default_value = "./shoal-data")]
    data_dir: PathBuf,
    /// Address every core listens on.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// Executors (one per core); 0 = one per available CPU.
    #[arg(long, default_value_t = 0)]
    cores: usize,
    /// Segment file size in bytes (a multiple of 4096).
    #[arg(long, default_value_t = shoal_engine::limits::SEGMENT_BYTES_DEFAULT)]
    segment_bytes: u64,
    /// Per-core bound on the in-memory tail cache, in bytes.
    #[arg(long, default_value_t = shoal_engine::limits::TAIL_CACHE_BYTES_DEFAULT)]
    tail_cache_bytes: usize,
    /// Per-shard limits of streams created without their own: `kinesis`
    /// (writes 1 MiB/s and 1,000 records/s, reads 2 MiB/s and 5 calls/s)
    /// or `unlimited` (benchmarks).
    #[arg(long, default_value = "kinesis", value_parser = ["kinesis", "unlimited"])]
    shard_limits: String,
    /// RISKY, not the default: acknowledge puts once written and fdatasync
    /// only every this many milliseconds. A power loss can lose records
    /// acknowledged in the last interval; acks then say WRITTEN, not SYNCED.
    #[arg(long, value_name = "MS")]
    sync_interval_ms: Option<u64>,
}

fn main() -> ExitCode {
    // Client commands log only warnings unless RUST_LOG says otherwise: their output is for
    // people and pipes, not a server log.
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let outcome = match cli.command {
        Command::Serve(args) => return serve(args),
        Command::Stream(command) => cli::stream::run(command),
        Command::Put(args) => cli::put::run(args),
        Command::Get(args) => cli::get::run(args),
        Command::Tail(args) => cli::tail::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Stats(args) => cli::stats::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if !error.message.is_empty() {
                eprintln!("error: {error}");
            }
            error.exit_code()
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let mut config = ServerConfig::new(&args.data_dir, args.listen);
    config.engine.cores = args.cores;
    config.engine.log.segment_bytes = args.segment_bytes;
    config.engine.tail_cache_bytes = args.tail_cache_bytes;
    if args.shard_limits == "unlimited" {
        config.engine.default_shard_limits = shoal_engine::ShardLimits::UNLIMITED;
    }
    if let Some(interval_ms) = args.sync_interval_ms {
        config.engine.log.sync_policy = SyncPolicy::Interval { interval_ms };
        tracing::warn!(
            interval_ms,
            "durability mode: WRITTEN (acks before fdatasync); a power loss can lose acknowledged records"
        );
    }
    let mut signals =
        match signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM]) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot install signal handlers: {e}");
                return ExitCode::from(1);
            }
        };
    let server = match Server::start(config.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let recovered = server.engine().recovery_reports();
    let truncated: u64 = recovered.iter().map(|(_, _, r)| r.bytes_truncated).sum();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        addr = %server.local_addr(),
        data_dir = %args.data_dir.display(),
        cores = server.engine().cores(),
        durability = ?server.engine().durability(),
        shards_recovered = recovered.len(),
        bytes_truncated = truncated,
        "shoal is serving"
    );
    let signal = signals.forever().next();
    tracing::info!(?signal, "shutting down: no new connections, finishing in-flight requests");
    match server.shutdown() {
        Ok(()) => {
            tracing::info!("stopped cleanly; all acknowledged records are synced");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error during shutdown: {e}");
            ExitCode::from(1)
        }
    }
}
