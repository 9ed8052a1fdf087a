//! The command line, and the plan it resolves to once each profile's defaults are applied.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use shoal_protocol::limits::PUT_RECORDS_COUNT_MAX;
use shoal_protocol::ops::ShardLimits;

use crate::payload::HEADER_BYTES;
use crate::units::{parse_duration, parse_share, parse_size, Rate};

const ABOUT: &str = "Drives a Shoal server with an open-loop write load, reads everything back with polled \
consumers (and enhanced fan-out subscribers) that verify every acknowledged record (exactly once, in order, \
intact), and reports latency percentiles, throughput and throttling.";

pub(crate) const PROFILES: &str = "\
Profiles (every one bounded in time and in records; defaults finish in under a minute, even against a
server that stalls):
  default  4 shards with Kinesis limits, 0.8x of the limits for 10 s, PutRecords of 20 x 1 KiB records,
           2 producers, 1 polled consumer per shard. The smoke test: shows Shoal working end to end.
  limits   1 shard with Kinesis limits; walks the write rate through 50%, 90%, 100% and 150% of the
           per-shard limits (24 s, 6 s per step), PutRecords of 10 x 1 KiB; per step: accepted rate,
           throttle share, latency.
  max      4 shards without limits; after a 2 s warm-up, ramps the rate up from 50 MB/s (x1.5 per 3 s
           step, then bisects) to find the highest rate sustained with put p99 under --p99-target-ms
           (default 20 ms), PutRecords of 500 x 1 KiB, 4 producers; at most --duration (36 s) of load.
  fanout   1 shard with Kinesis limits at 0.95x of its write limit (~1 MiB/s) for 20 s, PutRecords of
           10 x 4 KiB records, 20 enhanced fan-out consumers (SubscribeToShard) plus 1 polled consumer,
           each verifying every record; reports put->push latency beside put->polled read.

Every profile also stops scheduling once --max-records records are scheduled (default 1,000,000; max
10,000,000, about 10 GB of 1 KiB records): a bound on the data written whatever the rate.

Time bound (printed at start): setup 5 s + load (warm-up + 2 s to settle after it + steps; in max,
--duration) + drain (--drain-timeout, 10 s) + teardown 3 s + 2 s margin: default 33 s, limits 47 s,
max 56 s, fanout 43 s; a longer --duration or --drain-timeout lengthens it by as much. A server that
stops answering makes the run fail once the phase it stalled in runs out of time, saying what stalled
and what was not verified; a request still unanswered after 5 s fails.

Every profile begins with a warm-up step at its first rate (1 s, at most half a step; 2 s in max), shown
on its own row: the first writes to new segments are slower, and the steps should not carry them.
Options marked [per profile] default to the values above.

Throttled records (ProvisionedThroughputExceeded) are counted, never retried; no request is retried.
Latency counts from each request's intended send time (open loop: no coordinated omission).

Exit status: 0 passed; 1 verification failed, requests failed, the server stalled, or the run could
not be set up; 2 invalid usage.

The --json output is documented in loadgen/README.md.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// The smoke test (also called `smoke`).
    #[value(alias = "smoke")]
    Default,
    /// Walk the rate through 50/90/100/150% of the per-shard limits.
    Limits,
    /// Ramp to the highest rate sustained under a p99 target, without limits.
    Max,
    /// 20 enhanced fan-out consumers and a polled one on a shard at ~1 MiB/s.
    Fanout,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Limits => "limits",
            Profile::Max => "max",
            Profile::Fanout => "fanout",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LimitsChoice {
    /// Kinesis' per-shard limits: writes 1 MiB/s and 1,000 records/s, reads 2 MiB/s and 5 calls/s.
    Kinesis,
    /// No limits.
    Unlimited,
}

#[derive(Debug, Parser)]
#[command(name = "shoal-loadgen", version, about = ABOUT, after_help = PROFILES)]
pub struct Cli {
    /// Workload profile (see below).
    #[arg(long, value_enum, default_value = "default")]
    pub profile: Profile,

    /// Target a running server at HOST:PORT instead of starting one.
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["embedded", "data_dir", "server_cores"])]
    pub addr: Option<String>,
    /// Start a server in this process on a temporary directory (the default without --addr).
    #[arg(long)]
    pub embedded: bool,
    /// With --embedded: create the temporary data directory inside DIR [default: the system's
    /// temporary directory]. It is removed at exit.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// With --embedded: the server's executors (one per core); 0 = one per CPU.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub server_cores: usize,

    /// Use this existing stream instead of creating one. Its per-shard limits are assumed to be
    /// Kinesis' (for `x` rates and read pacing) unless --limits says otherwise; records of
    /// other writers are skipped; reading starts at LATEST.
    #[arg(long, value_name = "NAME")]
    pub stream: Option<String>,
    /// With --addr: keep the stream this run created [default: delete it at the end].
    #[arg(long)]
    pub keep_stream: bool,
    /// Shards of the created stream [per profile: default 4, limits 1, max 4].
    #[arg(long, value_name = "S")]
    pub shards: Option<u32>,
    /// Per-shard limits of the created stream [per profile: kinesis, except max: unlimited].
    #[arg(long, value_enum)]
    pub limits: Option<LimitsChoice>,

    /// Producer connections [per profile: default 2, limits 2, max 4].
    #[arg(long, value_name = "N")]
    pub producers: Option<usize>,
    /// Target write rate, open loop: records/s (1000, 1000/s, 50k/s), data+key bytes/s (2MB/s,
    /// 1.5MiB/s) or a fraction of the stream's write limits (0.9x, 90%). In the max profile,
    /// the first step's rate [per profile: default 0.8x, max 50MB/s; limits uses --steps].
    #[arg(long, value_name = "RATE")]
    pub rate: Option<Rate>,
    /// The limits profile's steps, comma-separated rates [default: 0.5x,0.9x,1x,1.5x].
    #[arg(long, value_name = "RATE,..", value_delimiter = ',')]
    pub steps: Option<Vec<Rate>>,
    /// Time under load: the whole run (default), shared evenly by the steps (limits), or the
    /// budget of the ramp (max) [per profile: default 10s, limits 24s, max 36s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// The max profile's time per step [default: 3s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub step_duration: Option<Duration>,
    /// The max profile's latency bound: a step is sustained if its put p99 is at most this,
    /// it accepted at least 95% of its records and sent all of them [default: 20].
    #[arg(long, value_name = "MS")]
    pub p99_target_ms: Option<f64>,

    /// Data bytes per record (at least 40: identity, timestamp and checksum) [default: 1KiB].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub record_size: Option<usize>,
    /// Records per PutRecords request, 1..=500 [per profile: default 20, limits 10, max 500].
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// Send PutRecord (one record per request) instead of PutRecords.
    #[arg(long)]
    pub single: bool,
    /// Share of records sent with one hot partition key (0..1), to show a hot shard throttled;
    /// the rest use uniformly random keys.
    #[arg(long, value_name = "SHARE", value_parser = parse_share, default_value = "0")]
    pub hot_key_share: f64,
    /// Requests in flight per producer connection; a due request waits for a free slot and its
    /// latency includes the wait [default: 16].
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<usize>,

    /// Polled consumers per shard, each verifying every acknowledged record; 0 disables reading
    /// and verification [default: 1].
    #[arg(long, value_name = "K")]
    pub polled_consumers: Option<u16>,
    /// Time between one consumer's GetRecords calls [default: K x 250ms with read limits, so the
    /// shard's consumers make 4 calls/s under the 5 calls/s limit; 50ms without limits, and at
    /// once while behind].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub poll_interval: Option<Duration>,
    /// Enhanced fan-out consumers, each subscribed to every shard with its own connection and
    /// verifying every acknowledged record; at most 20 (a stream's consumers) [per profile:
    /// fanout 20, others 0].
    #[arg(long, value_name = "N")]
    pub fanout_consumers: Option<u16>,
    /// At most this many records scheduled in all (warm-up included): the schedule ends early
    /// when they are [per profile: 1000000, max 10000000].
    #[arg(long, value_name = "N")]
    pub max_records: Option<u64>,
    /// After the load, how long puts in flight may take to be answered and readers to read
    /// everything; part of the time bound.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub drain_timeout: Duration,

    /// Seed of keys and payloads [default: random, printed in the summary].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Print the result as JSON on stdout instead of the table (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report with charts to FILE.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
    /// Testing the tester: damage one GetRecords response of each shard's first polled consumer
    /// (and one event of its first fan-out subscriber) before it reaches the verifier (lose,
    /// duplicate, reorder or corrupt a record); the run must fail.
    #[arg(long, value_enum, hide = true)]
    pub inject: Option<crate::consumer::Fault>,
}

/// Where the load goes.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    Embedded { data_parent: Option<PathBuf>, cores: usize },
    Remote { addr: String },
}

/// How the rate evolves.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Consecutive steps of equal length.
    Steps { rates: Vec<(String, Rate)>, step_duration: Duration },
    /// The max profile: grow until a step is not sustained, then bisect.
    Ramp { start: Rate, step_duration: Duration, budget: Duration, p99_target_ms: f64 },
}

/// The warm-up step of the max profile, and of the others (at most half a step there).
const RAMP_WARMUP: Duration = Duration::from_secs(2);
const WARMUP: Duration = Duration::from_secs(1);

impl Schedule {
    /// The warm-up step every schedule begins with, at its first rate.
    pub fn warmup(&self) -> Duration {
        match self {
            Schedule::Steps { step_duration, .. } => (*step_duration / 2).min(WARMUP),
            Schedule::Ramp { step_duration, .. } => (*step_duration).min(RAMP_WARMUP),
        }
    }
}

/// Everything a run needs, defaults applied and checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub profile: Profile,
    pub target: TargetSpec,
    /// An existing stream, or `None` to create one.
    pub existing_stream: Option<String>,
    pub keep_stream: bool,
    pub shards: u32,
    /// Limits of the created stream (or those of the existing one); `None` = unlimited.
    pub limits: Option<ShardLimits>,
    /// The limits of an existing stream were not given: Kinesis' are assumed.
    pub limits_assumed: bool,
    pub producers: usize,
    pub schedule: Schedule,
    pub record_bytes: usize,
    pub batch: usize,
    pub single: bool,
    pub hot_key_share: f64,
    pub max_in_flight: usize,
    pub polled_consumers: u16,
    /// Enhanced fan-out consumers (each subscribes to every shard).
    pub fanout_consumers: u16,
    pub poll_interval: Option<Duration>,
    pub drain_timeout: Duration,
    /// Records scheduled in all, at most.
    pub max_records: u64,
    pub seed: Option<u64>,
    pub json: bool,
    pub report: Option<PathBuf>,
    pub quiet: bool,
    pub inject: Option<crate::consumer::Fault>,
}

/// Kinesis' per-shard limits.
pub const KINESIS_LIMITS: ShardLimits = ShardLimits {
    write_bytes_per_second: 1024 * 1024,
    write_records_per_second: 1000,
    read_bytes_per_second: 2 * 1024 * 1024,
    read_calls_per_second: 5,
};

/// Why a command line cannot run (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Enhanced fan-out consumers a stream may have.
pub const FANOUT_CONSUMERS_MAX: u16 = 20;
/// Records a run schedules at most, unless `--max-records` says otherwise: far above what the
/// profiles schedule at their defaults (tens of thousands), a bound on what a mistyped rate or
/// duration writes.
pub const MAX_RECORDS_DEFAULT: u64 = 1_000_000;
/// The max profile's bound: above what it reaches in its 36 s on the reference machine (about
/// 6 million; 7 million in 45 s), and about 10 GB of 1 KiB records on a faster one.
pub const MAX_RECORDS_MAX_PROFILE: u64 = 10_000_000;

impl Plan {
    pub fn from_cli(cli: Cli) -> Result<Plan, UsageError> {
        let usage = |m: String| Err(UsageError(m));
        let profile = cli.profile;
        let (shards, producers, batch, duration) = match profile {
            Profile::Default => (4, 2, 20, Duration::from_secs(10)),
            Profile::Fanout => (1, 2, 10, Duration::from_secs(20)),
            Profile::Limits => (1, 2, 10, Duration::from_secs(24)),
            // 36 s keeps the max profile's bound (load + drain + the rest) under a minute.
            Profile::Max => (4, 4, PUT_RECORDS_COUNT_MAX, Duration::from_secs(36)),
        };
        let limits_choice = cli.limits.unwrap_or(match profile {
            Profile::Max => LimitsChoice::Unlimited,
            _ => LimitsChoice::Kinesis,
        });
        let duration = cli.duration.unwrap_or(duration);
        let schedule = match profile {
            Profile::Limits => {
                if cli.rate.is_some() {
                    return usage("the limits profile walks --steps; --rate does not apply".into());
                }
                let rates =
                    cli.steps.clone().unwrap_or_else(|| [0.5, 0.9, 1.0, 1.5].into_iter().map(Rate::OfLimits).collect());
                if rates.is_empty() {
                    return usage("--steps needs at least one rate".into());
                }
                let step_duration = duration / rates.len() as u32;
                let rates = rates
                    .into_iter()
                    .map(|r| {
                        let name = match r {
                            Rate::OfLimits(x) => format!("{}%", (x * 100.0).round()),
                            other => other.to_string(),
                        };
                        (name, r)
                    })
                    .collect();
                Schedule::Steps { rates, step_duration }
            }
            Profile::Max => {
                let step_duration = cli.step_duration.unwrap_or(Duration::from_secs(3));
                if step_duration > duration {
                    return usage("--step-duration must not exceed --duration".into());
                }
                let p99_target_ms = cli.p99_target_ms.unwrap_or(20.0);
                if !(p99_target_ms.is_finite() && p99_target_ms > 0.0) {
                    return usage("--p99-target-ms must be above 0".into());
                }
                Schedule::Ramp {
                    start: cli.rate.unwrap_or(Rate::BytesPerSecond(50e6)),
                    step_duration,
                    budget: duration,
                    p99_target_ms,
                }
            }
            Profile::Default | Profile::Fanout => {
                let default = if profile == Profile::Fanout { 0.95 } else { 0.8 };
                let rate = cli.rate.unwrap_or(Rate::OfLimits(default));
                Schedule::Steps { rates: vec![(rate.to_string(), rate)], step_duration: duration }
            }
        };
        let fractions = match &schedule {
            Schedule::Steps { rates, .. } => rates.iter().any(|(_, r)| matches!(r, Rate::OfLimits(_))),
            Schedule::Ramp { start, .. } => matches!(start, Rate::OfLimits(_)),
        };
        if fractions && limits_choice == LimitsChoice::Unlimited {
            return usage(
                "a rate given as a fraction of the limits (like 0.9x) needs a stream with limits: \
                 give records/s or MB/s, or --limits kinesis"
                    .into(),
            );
        }
        if cli.steps.is_some() && profile != Profile::Limits {
            return usage("--steps applies to the limits profile only".into());
        }
        if (cli.step_duration.is_some() || cli.p99_target_ms.is_some()) && profile != Profile::Max {
            return usage("--step-duration and --p99-target-ms apply to the max profile only".into());
        }
        let batch = if cli.single { 1 } else { cli.batch.unwrap_or(batch) };
        if !(1..=PUT_RECORDS_COUNT_MAX).contains(&batch) {
            return usage(format!("--batch must be within 1..={PUT_RECORDS_COUNT_MAX}"));
        }
        let record_bytes = cli.record_size.unwrap_or(if profile == Profile::Fanout { 4096 } else { 1024 });
        // A record's data plus its key is at most 1 MiB.
        let record_bytes_max = shoal_protocol::limits::RECORD_SIZE_BYTES_MAX - crate::keys::KEY_BYTES;
        if !(HEADER_BYTES..=record_bytes_max).contains(&record_bytes) {
            return usage(format!(
                "--record-size must be within {HEADER_BYTES}..={record_bytes_max} bytes (with the {}-byte key, at most 1 MiB)",
                crate::keys::KEY_BYTES
            ));
        }
        let request_bytes = batch * (record_bytes + crate::keys::KEY_BYTES);
        if request_bytes > shoal_protocol::limits::PUT_RECORDS_SIZE_BYTES_MAX {
            return usage(format!(
                "--batch {batch} of {record_bytes}-byte records is {request_bytes} bytes, over PutRecords' 5 MiB"
            ));
        }
        let shards = cli.shards.unwrap_or(shards);
        if shards == 0 {
            return usage("--shards must be at least 1".into());
        }
        if cli.stream.is_some() && cli.shards.is_some() {
            return usage("--shards describes a stream to create; --stream uses an existing one".into());
        }
        let producers = cli.producers.unwrap_or(producers);
        if producers == 0 {
            return usage("--producers must be at least 1".into());
        }
        let max_in_flight = cli.max_in_flight.unwrap_or(16);
        if max_in_flight == 0 {
            return usage("--max-in-flight must be at least 1".into());
        }
        let fanout_consumers =
            cli.fanout_consumers.unwrap_or(if profile == Profile::Fanout { FANOUT_CONSUMERS_MAX } else { 0 });
        if fanout_consumers > FANOUT_CONSUMERS_MAX {
            return usage(format!("--fanout-consumers must be at most {FANOUT_CONSUMERS_MAX} (a stream's consumers)"));
        }
        let max_records = cli.max_records.unwrap_or(match profile {
            Profile::Max => MAX_RECORDS_MAX_PROFILE,
            _ => MAX_RECORDS_DEFAULT,
        });
        if max_records < batch as u64 {
            return usage(format!("--max-records must be at least one request's records ({batch})"));
        }
        let target = match cli.addr {
            Some(addr) => TargetSpec::Remote { addr },
            None => TargetSpec::Embedded { data_parent: cli.data_dir, cores: cli.server_cores },
        };
        if cli.keep_stream && !matches!(target, TargetSpec::Remote { .. }) {
            return usage("--keep-stream applies with --addr (an embedded server's data is temporary)".into());
        }
        Ok(Plan {
            profile,
            target,
            existing_stream: cli.stream.clone(),
            keep_stream: cli.keep_stream,
            shards,
            limits: match limits_choice {
                LimitsChoice::Kinesis => Some(KINESIS_LIMITS),
                LimitsChoice::Unlimited => None,
            },
            limits_assumed: cli.stream.is_some() && cli.limits.is_none(),
            producers,
            schedule,
            record_bytes,
            batch,
            single: cli.single,
            hot_key_share: cli.hot_key_share,
            max_in_flight,
            polled_consumers: cli.polled_consumers.unwrap_or(1),
            fanout_consumers,
            poll_interval: cli.poll_interval,
            drain_timeout: cli.drain_timeout,
            max_records,
            seed: cli.seed,
            json: cli.json,
            report: cli.report,
            quiet: cli.quiet,
            inject: cli.inject,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<Plan, UsageError> {
        let mut argv = vec!["shoal-loadgen"];
        argv.extend_from_slice(args);
        Plan::from_cli(Cli::try_parse_from(argv).map_err(|e| UsageError(e.to_string()))?)
    }

    #[test]
    fn profiles_fill_in_their_defaults() {
        let p = plan(&[]).expect("default");
        assert_eq!(
            (p.profile, p.shards, p.producers, p.batch, p.limits),
            (Profile::Default, 4, 2, 20, Some(KINESIS_LIMITS))
        );
        assert!(matches!(p.target, TargetSpec::Embedded { .. }));
        let p = plan(&["--profile", "limits"]).expect("limits");
        match p.schedule {
            Schedule::Steps { rates, step_duration } => {
                let names: Vec<&str> = rates.iter().map(|r| r.0.as_str()).collect();
                assert_eq!(names, ["50%", "90%", "100%", "150%"]);
                assert_eq!(step_duration, Duration::from_secs(6));
            }
            other => panic!("{other:?}"),
        }
        let p = plan(&["--profile", "max", "--duration", "3s", "--step-duration", "1s"]).expect("max");
        assert_eq!((p.limits, p.batch), (None, 500));
        assert!(matches!(p.schedule, Schedule::Ramp { p99_target_ms, .. } if p99_target_ms == 20.0));
        assert_eq!(plan(&["--profile", "smoke"]).expect("alias").profile, Profile::Default);
        assert_eq!(plan(&[]).expect("default").max_records, MAX_RECORDS_DEFAULT);
        assert_eq!(plan(&["--profile", "max"]).expect("max").max_records, MAX_RECORDS_MAX_PROFILE);
        assert_eq!(plan(&["--max-records", "40"]).expect("bounded").max_records, 40);
    }

    #[test]
    fn fanout_fills_in_its_defaults_and_works_with_other_profiles() {
        let p = plan(&["--profile", "fanout"]).expect("fanout");
        assert_eq!(
            (p.shards, p.fanout_consumers, p.polled_consumers, p.record_bytes, p.limits),
            (1, 20, 1, 4096, Some(KINESIS_LIMITS))
        );
        assert!(
            matches!(&p.schedule, Schedule::Steps { rates, .. } if matches!(rates[0].1, Rate::OfLimits(x) if x == 0.95))
        );
        assert_eq!(plan(&["--fanout-consumers", "2"]).expect("default + fan-out").fanout_consumers, 2);
        assert_eq!(plan(&[]).expect("default").fanout_consumers, 0);
        let e = plan(&["--fanout-consumers", "21"]).expect_err("over the limit");
        assert!(e.0.contains("at most 20"), "{e}");
    }

    #[test]
    fn inconsistent_options_are_usage_errors() {
        assert!(plan(&["--batch", "501"]).is_err());
        assert!(plan(&["--record-size", "10"]).is_err());
        assert!(plan(&["--batch", "500", "--record-size", "1MiB"]).is_err());
        // Data plus the 16-byte key is at most 1 MiB.
        assert!(plan(&["--batch", "1", "--record-size", "1MiB"]).is_err());
        assert!(plan(&["--batch", "1", "--record-size", "1048560"]).is_ok());
        assert!(plan(&["--max-records", "19"]).is_err(), "less than one PutRecords of 20");
        assert!(plan(&["--profile", "limits", "--rate", "1x"]).is_err());
        assert!(plan(&["--steps", "1x"]).is_err());
        assert!(plan(&["--addr", "127.0.0.1:1", "--embedded"]).is_err());
        assert!(plan(&["--rate", "fast"]).is_err());
        assert_eq!(plan(&["--single", "--batch", "50"]).expect("single").batch, 1);
    }
}
