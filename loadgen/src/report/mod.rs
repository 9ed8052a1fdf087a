//! The result of a run: one [`Report`], printed as a table, as JSON (`--json`) or as an HTML
//! page with charts (`--report`).
//!
//! The JSON is the report serialized as is: field names are stable (schema
//! `shoal-loadgen/2`); new fields may be added, none is renamed, removed or given another
//! meaning without a new schema name. loadgen/README.md documents every field and what changed
//! between schema versions.

pub mod html;
pub mod svg;
pub mod table;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::stats::{Counts, LatencySummary, ShardCounts, SubscriberSpread};
use crate::verify::Verdict;

pub const SCHEMA: &str = "shoal-loadgen/2";

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub profile: String,
    pub passed: bool,
    pub exit_code: i32,
    /// Why the run failed, one line per reason (empty when it passed).
    pub failure_reasons: Vec<String>,
    pub started_at_unix_ms: u64,
    pub elapsed_seconds: f64,
    /// The run's time bound (see `crate::budget`): it ends by then, stalled server or not.
    pub time_bound_seconds: f64,
    pub seed: u64,
    pub run_id: String,
    pub target: TargetReport,
    pub stream: StreamReport,
    pub workload: WorkloadReport,
    /// The schedule ended early at `workload.max_records`: later steps were cut short or not run.
    pub max_records_reached: bool,
    pub steps: Vec<StepReport>,
    pub totals: StepReport,
    pub per_second: Vec<SecondReport>,
    pub per_shard: Vec<ShardReport>,
    /// `null` when no consumer reads (`--polled-consumers 0`).
    pub verification: Option<Verdict>,
    /// The max profile's finding; `null` in other profiles.
    pub max: Option<MaxReport>,
    pub errors: ErrorsReport,
    /// Durability of the acknowledgements: "synced" (every accepted record was acknowledged
    /// after an fdatasync) or "written" (some were not: the server runs its non-default mode).
    pub durability: String,
    /// Latency histograms per step and for the whole run, for the charts.
    #[serde(skip)]
    pub histograms: Vec<StepHistograms>,
}

#[derive(Debug, Clone)]
pub struct StepHistograms {
    pub name: String,
    pub ack: Histogram<u64>,
    pub read: Histogram<u64>,
    /// Put → push, per record and fan-out subscriber.
    pub push: Histogram<u64>,
}

/// Which measured path a latency chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyPath {
    Ack,
    Read,
    Push,
}

impl StepHistograms {
    pub fn of(&self, path: LatencyPath) -> &Histogram<u64> {
        match path {
            LatencyPath::Ack => &self.ack,
            LatencyPath::Read => &self.read,
            LatencyPath::Push => &self.push,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// "embedded" or "remote".
    pub mode: String,
    pub addr: String,
    /// The embedded server's (temporary) data directory.
    pub data_dir: Option<String>,
    pub server_cores: Option<usize>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct LimitsReport {
    pub write_bytes_per_second: u32,
    pub write_records_per_second: u32,
    pub read_bytes_per_second: u32,
    pub read_calls_per_second: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    pub name: String,
    /// Whether this run created the stream (and so owns every record in it).
    pub created: bool,
    pub shards: u32,
    /// Per-shard limits; `null` = unlimited.
    pub limits: Option<LimitsReport>,
    /// "set" (given at creation or on the command line) or "assumed" (an existing stream's
    /// limits are unknown: Kinesis' are assumed).
    pub limits_source: String,
    /// What all shards together accept, in records/s of this run's record size; `null` when
    /// unlimited. `1x` is this rate.
    pub write_limit_records_per_second: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkloadReport {
    pub producers: usize,
    /// "PutRecords" or "PutRecord".
    pub operation: String,
    pub batch_records: usize,
    /// Data bytes per record; the partition key adds `key_bytes`.
    pub record_bytes: usize,
    pub key_bytes: usize,
    /// "uniform" or "hot".
    pub key_distribution: String,
    pub hot_key_share: f64,
    pub hot_shard: Option<u32>,
    pub max_in_flight_per_producer: usize,
    pub polled_consumers_per_shard: u16,
    pub poll_interval_ms: f64,
    pub get_records_limit: u32,
    pub fanout_consumers_per_shard: u32,
    /// Always false: throttled records are counted, not sent again.
    pub throttled_records_retried: bool,
    /// Records the run schedules at most (`--max-records`).
    pub max_records: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub name: String,
    pub target_records_per_second: f64,
    pub target_mb_per_second: f64,
    pub duration_seconds: f64,
    pub requests_scheduled: u64,
    /// Due but never sent, because every in-flight slot stayed busy until the step ended.
    pub requests_unsent: u64,
    pub counts: Counts,
    pub accepted_records_per_second: f64,
    pub accepted_mb_per_second: f64,
    /// throttled / (accepted + throttled + failed).
    pub throttle_share: f64,
    pub put_ack_latency_ms: Option<LatencySummary>,
    pub put_to_read_latency_ms: Option<LatencySummary>,
    /// Put → enhanced fan-out push, per record and subscriber: `null` without fan-out
    /// subscribers.
    pub put_to_push_latency_ms: Option<LatencySummary>,
    /// Each subscriber's own put → push p99, summarized: `null` without fan-out subscribers.
    pub put_to_push_p99_by_subscriber: Option<SubscriberSpread>,
    /// Intended send time → request built and handed to the client, less any wait for an
    /// in-flight slot: the generator's own delay (pacer lateness, pool queueing, building),
    /// already included in the put latency. Large values mean the generator, not the server,
    /// fell behind.
    pub generator_delay_ms: Option<LatencySummary>,
    /// The warm-up step every profile begins with (at its first rate): reported, not judged.
    pub warmup: bool,
    /// Max profile: whether the step met the p99 target, accepted ≥ 95% and sent everything.
    pub sustained: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecondReport {
    /// Seconds since the load began, at the end of this one-second window.
    pub t: f64,
    /// The step running when the window ended; `null` after the load, while consumers drain.
    pub step: Option<usize>,
    pub target_records_per_second: f64,
    pub accepted_records: u64,
    pub accepted_mb: f64,
    pub throttled_records: u64,
    pub failed_records: u64,
    /// Records received by polled consumers (GetRecords), summed over them.
    pub read_records: u64,
    pub read_throttled_calls: u64,
    /// Records pushed to fan-out subscribers, summed over them.
    pub pushed_records: u64,
    /// Seconds this window covers (1 except at step changes and the end).
    pub window_seconds: f64,
    /// Latencies of what completed in this window; `null` if nothing did.
    pub put_ack_latency_ms: Option<LatencySummary>,
    pub put_to_read_latency_ms: Option<LatencySummary>,
    pub put_to_push_latency_ms: Option<LatencySummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShardReport {
    pub shard: u32,
    #[serde(flatten)]
    pub counts: ShardCounts,
    /// The shard the hot key lands on.
    pub hot: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaxReport {
    pub p99_target_ms: f64,
    /// Index into `steps` of the fastest sustained step; `null` if none was.
    pub best_step: Option<usize>,
    pub best_accepted_records_per_second: Option<f64>,
    pub best_accepted_mb_per_second: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorsReport {
    /// Failed requests and calls (throttling excluded).
    pub count: u64,
    /// The first distinct error messages.
    pub first: Vec<String>,
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"cannot serialize: {e}\"}}"))
    }
}
