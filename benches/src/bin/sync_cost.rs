//! What an fdatasync costs a stream of O_DIRECT writes on this device: 1 GiB
//! written as `raw_odirect_write` writes it (1 MiB chunks, 4 in flight, the
//! iopoll probe primed as the engine primes it), with an fdatasync every N
//! MiB, for N from "only at the end" down to 4 MiB. Each line gives the time
//! spent waiting for writes and for syncs apart, since a sync's cost may show
//! in the writes after it.
//!
//! Run: cargo run --release -p shoal-benches --bin sync_cost -- [rounds]

use shoal_benches::{bench_dir, executor, odirect_write};

const GIB: u64 = 1 << 30;

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let ex = executor();
    let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
    for round in 0..rounds {
        for every_mib in [0u64, 64, 16, 8, 4] {
            let o = ex.run(odirect_write(dir.path(), GIB, (every_mib > 0).then_some(every_mib << 20)));
            let every = if every_mib == 0 { "at the end".to_string() } else { format!("every {every_mib} MiB") };
            println!(
                "round {round}, fdatasync {every:>12}: {:>5.0} MB/s; writes {:>5.0} ms, {:>4} syncs {:>4.0} ms (mean {:.2} ms)",
                GIB as f64 / o.total.as_secs_f64() / 1e6,
                o.writing.as_secs_f64() * 1e3,
                o.syncs,
                o.syncing.as_secs_f64() * 1e3,
                o.syncing.as_secs_f64() * 1e3 / f64::from(o.syncs)
            );
        }
    }
}
