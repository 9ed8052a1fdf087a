//! `shoal`: the Shoal server and its command line: `serve` runs the server; `stream`,
//! `consumer`, `put`, `get` and `tail` are client commands for people and scripts (see `cli`).

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shoal_server::config::{self, ServeArgs};
use shoal_server::Server;

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
    /// Run the server (settings: defaults, then --config FILE, then flags).
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Create, delete, list, describe and reshard streams; change their retention.
    #[command(subcommand)]
    Stream(cli::stream::StreamCommand),
    /// Register, deregister, list and describe a stream's enhanced fan-out consumers.
    #[command(subcommand)]
    Consumer(cli::consumer::ConsumerCommand),
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
        // Colour codes only for a terminal: a log file or journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let outcome = match cli.command {
        Command::Serve(args) => return serve(args),
        Command::Stream(command) => cli::stream::run(command),
        Command::Consumer(command) => cli::consumer::run(command),
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

/// What `shoal serve --help` ends with.
const SERVE_HELP: &str = "\
A flag that is given overrides the config file's key of the same name; `--print-config` shows
the result. A bad config file or value exits with 2 (usage error).";

fn serve(args: ServeArgs) -> ExitCode {
    let config = match config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(cli::exit::USAGE);
        }
    };
    if args.print_config {
        return match config::print(&config) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(cli::exit::USAGE)
            }
        };
    }
    config::log_effective(&config);
    let mut signals =
        match signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM]) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot install signal handlers: {e}");
                return ExitCode::from(1);
            }
        };
    let server = match Server::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    shoal_server::server::log_recovery(server.engine().recovery_reports());
    tracing::info!(addr = %server.local_addr(), cores = server.engine().cores(), "shoal is serving");
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
