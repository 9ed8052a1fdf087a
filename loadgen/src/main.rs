//! `shoal-loadgen`: see `--help`, and loadgen/README.md for the JSON output.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use shoal_loadgen::budget::{self, Budget, Clock};
use shoal_loadgen::cli::{Cli, Plan};
use shoal_loadgen::report::{html, table};
use shoal_loadgen::run;

// The same allocator as the `shoal` binary: the embedded server's frames of a few hundred KiB
// would otherwise be returned to the kernel and faulted back in on every put (BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let plan = match Plan::from_cli(Cli::parse()) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("shoal-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    // Before anything is allocated: the generator's own huge-page faults would stall its
    // threads for milliseconds and count as server latency (the embedded server does the same
    // for its process; this covers --addr runs too).
    if let Err(e) = shoal_engine::process::disable_transparent_huge_pages() {
        eprintln!("shoal-loadgen: could not turn transparent huge pages off ({e}); expect stalls in the figures");
    }
    // The bound starts now, and the watchdog ends the process if the run outlasts it.
    let clock = Arc::new(Clock::start(Budget::for_plan(&plan)));
    if let Err(e) = budget::watchdog(Arc::clone(&clock)) {
        eprintln!("shoal-loadgen: cannot start the watchdog: {e}");
        return ExitCode::from(1);
    }
    let mut stderr = std::io::stderr();
    let report = match run::run(&plan, &clock, &mut stderr) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("shoal-loadgen: {e}");
            return ExitCode::from(1);
        }
    };
    let mut stdout = std::io::stdout().lock();
    let printed =
        if plan.json { writeln!(stdout, "{}", report.to_json()) } else { write!(stdout, "{}", table::render(&report)) };
    if let Err(e) = printed.and_then(|()| stdout.flush()) {
        eprintln!("shoal-loadgen: cannot write the result: {e}");
        return ExitCode::from(1);
    }
    if let Some(path) = &plan.report {
        if let Err(e) = std::fs::write(path, html::render(&report)) {
            eprintln!("shoal-loadgen: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
        eprintln!("report written to {}", path.display());
    }
    ExitCode::from(report.exit_code.clamp(0, 255) as u8)
}
