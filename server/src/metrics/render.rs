//! The engine's [`MetricsSnapshot`] as Prometheus text exposition (format
//! 0.0.4). Every family is listed in [`FAMILIES`] with its help text; the
//! README's Metrics section documents the same names.

use std::fmt::Write as _;

use shoal_engine::metrics::{CoreSnapshot, HistogramSnapshot, ShardSnapshot};
use shoal_engine::MetricsSnapshot;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family: name, type, help.
pub struct Family {
    pub name: &'static str,
    pub kind: &'static str,
    pub help: &'static str,
}

const fn family(name: &'static str, kind: &'static str, help: &'static str) -> Family {
    Family { name, kind, help }
}

const OPEN_SEGMENTS: Family = family("shoal_open_segments", "gauge", "Segment files open in the process.");
const STREAM_DISK_BYTES: Family = family(
    "shoal_stream_disk_bytes",
    "gauge",
    "Bytes of a stream's segment files, over all its shards (space allocated ahead included; indexes excluded).",
);
const RECOVERY_TRUNCATIONS: Family = family(
    "shoal_recovery_truncations_total",
    "counter",
    "Shards whose torn tail recovery truncated when the server started.",
);
const RECOVERY_TRUNCATED_BYTES: Family = family(
    "shoal_recovery_truncated_bytes_total",
    "counter",
    "Bytes recovery cut from torn segment tails when the server started.",
);
const REQUESTS: Family = family(
    "shoal_requests_total",
    "counter",
    "Requests served by the core the connection is on, by operation and outcome (ok, or the error's name).",
);
const REQUEST_DURATION: Family = family(
    "shoal_request_duration_seconds",
    "histogram",
    "Time from a decoded request to its response (for SubscribeToShard: to the subscription's start).",
);
const FSYNC_DURATION: Family =
    family("shoal_fsync_duration_seconds", "histogram", "Duration of each fdatasync of a group commit.");
const GROUP_RECORDS: Family =
    family("shoal_group_commit_records", "histogram", "Records written by one group commit (one write, one sync).");
const GROUP_BYTES: Family = family("shoal_group_commit_bytes", "histogram", "Frame bytes written by one group commit.");
const GROUPS_INLINE: Family = family(
    "shoal_group_commits_inline_total",
    "counter",
    "Group commits written and synced with blocking calls on the core's thread (small groups alone on their core).",
);
const CACHE_HITS: Family = family(
    "shoal_tail_cache_hits_total",
    "counter",
    "Reads (polled or fan-out) that returned records from the tail cache alone.",
);
const CACHE_MISSES: Family =
    family("shoal_tail_cache_misses_total", "counter", "Reads that returned records read from segment files.");
const CACHE_BYTES: Family = family("shoal_tail_cache_bytes", "gauge", "Bytes held by the core's tail cache.");
const FORWARDS: Family = family(
    "shoal_forwards_total",
    "counter",
    "Data requests (puts, reads, iterators, subscriptions) sent to the core that owns the shard.",
);
const SHARD_IN_RECORDS: Family =
    family("shoal_shard_incoming_records_total", "counter", "Records stored by acknowledged puts.");
const SHARD_IN_BYTES: Family = family(
    "shoal_shard_incoming_bytes_total",
    "counter",
    "Partition key and data bytes of records stored by acknowledged puts.",
);
const SHARD_OUT_RECORDS: Family = family(
    "shoal_shard_outgoing_records_total",
    "counter",
    "Records sent to readers: path=polled (GetRecords) or path=fanout (SubscribeToShard events).",
);
const SHARD_OUT_BYTES: Family = family(
    "shoal_shard_outgoing_bytes_total",
    "counter",
    "Partition key and data bytes of records sent to readers, by path.",
);
const SHARD_WRITE_THROTTLED: Family = family(
    "shoal_shard_write_throttled_records_total",
    "counter",
    "Records refused with ProvisionedThroughputExceeded by the shard's write limits.",
);
const SHARD_READ_THROTTLED: Family = family(
    "shoal_shard_read_throttled_requests_total",
    "counter",
    "GetRecords calls refused with ProvisionedThroughputExceeded by the shard's read limits.",
);
const SHARD_ITERATOR_AGE: Family = family(
    "shoal_shard_iterator_age_seconds",
    "gauge",
    "Largest millis-behind-latest of any GetRecords response or fan-out event for the shard in the current \
     and the previous 10 s window (0 when none): how far the slowest active reader is behind.",
);
const SHARD_SUBSCRIPTIONS: Family =
    family("shoal_shard_subscriptions", "gauge", "Active SubscribeToShard subscriptions to the shard.");
const SHARD_RECORDS: Family = family(
    "shoal_shard_records",
    "gauge",
    "Records the shard retains (its counter span: positions skipped by SequenceNumberForOrdering count too).",
);
const SHARD_BYTES: Family =
    family("shoal_shard_bytes", "gauge", "Bytes of frames the shard retains (record headers included).");
const SHARD_OLDEST: Family = family(
    "shoal_shard_oldest_arrival_timestamp_seconds",
    "gauge",
    "Arrival time (Unix seconds) of the shard's oldest retained record; absent when the shard is empty.",
);
const SHARD_NEWEST: Family = family(
    "shoal_shard_newest_arrival_timestamp_seconds",
    "gauge",
    "Arrival time (Unix seconds) of the shard's newest durable record; absent when the shard is empty.",
);

/// Every family the endpoint serves, in the order it serves them.
pub const FAMILIES: &[&Family] = &[
    &OPEN_SEGMENTS,
    &STREAM_DISK_BYTES,
    &RECOVERY_TRUNCATIONS,
    &RECOVERY_TRUNCATED_BYTES,
    &REQUESTS,
    &REQUEST_DURATION,
    &FSYNC_DURATION,
    &GROUP_RECORDS,
    &GROUP_BYTES,
    &CACHE_HITS,
    &CACHE_MISSES,
    &CACHE_BYTES,
    &FORWARDS,
    &GROUPS_INLINE,
    &SHARD_IN_RECORDS,
    &SHARD_IN_BYTES,
    &SHARD_OUT_RECORDS,
    &SHARD_OUT_BYTES,
    &SHARD_WRITE_THROTTLED,
    &SHARD_READ_THROTTLED,
    &SHARD_ITERATOR_AGE,
    &SHARD_SUBSCRIPTIONS,
    &SHARD_RECORDS,
    &SHARD_BYTES,
    &SHARD_OLDEST,
    &SHARD_NEWEST,
];

/// Nanoseconds per second (dividing keeps 300 µs at 0.0003, where
/// multiplying by 1e-9 would not).
const NS: f64 = 1e9;

/// Renders a snapshot; every family of [`FAMILIES`] appears once, with its
/// HELP and TYPE lines, even when it has no samples.
pub fn render(m: &MetricsSnapshot) -> String {
    let mut out = Out(String::with_capacity(4096 + 2048 * m.cores.iter().map(|c| c.shards.len()).sum::<usize>()));

    out.header(&OPEN_SEGMENTS);
    out.sample(OPEN_SEGMENTS.name, &[], m.open_segments());
    out.header(&STREAM_DISK_BYTES);
    for (stream, bytes) in m.disk_bytes_by_stream() {
        out.sample(STREAM_DISK_BYTES.name, &[("stream", stream)], bytes);
    }
    out.header(&RECOVERY_TRUNCATIONS);
    out.sample(RECOVERY_TRUNCATIONS.name, &[], m.recovery_truncations);
    out.header(&RECOVERY_TRUNCATED_BYTES);
    out.sample(RECOVERY_TRUNCATED_BYTES.name, &[], m.recovery_truncated_bytes);

    out.header(&REQUESTS);
    for c in &m.cores {
        let core = c.core.to_string();
        for r in &c.requests {
            for (outcome, n) in &r.outcomes {
                out.sample(REQUESTS.name, &[("core", &core), ("op", r.op), ("outcome", outcome)], *n);
            }
        }
    }
    out.header(&REQUEST_DURATION);
    for c in &m.cores {
        let core = c.core.to_string();
        for r in &c.requests {
            out.histogram(REQUEST_DURATION.name, &[("core", &core), ("op", r.op)], &r.latency_ns, NS);
        }
    }
    out.core_histogram(&FSYNC_DURATION, &m.cores, |c| &c.fsync_ns, NS);
    out.core_histogram(&GROUP_RECORDS, &m.cores, |c| &c.group_records, 1.0);
    out.core_histogram(&GROUP_BYTES, &m.cores, |c| &c.group_bytes, 1.0);
    out.core_family(&CACHE_HITS, &m.cores, |c| c.cache_hits);
    out.core_family(&CACHE_MISSES, &m.cores, |c| c.cache_misses);
    out.core_family(&CACHE_BYTES, &m.cores, |c| c.cache_bytes);
    out.core_family(&FORWARDS, &m.cores, |c| c.forwards);
    out.core_family(&GROUPS_INLINE, &m.cores, |c| c.inline_groups);

    let shards = m.shards();
    out.shard_family(&SHARD_IN_RECORDS, &shards, |s| Some(s.incoming_records));
    out.shard_family(&SHARD_IN_BYTES, &shards, |s| Some(s.incoming_bytes));
    out.by_path(&SHARD_OUT_RECORDS, &shards, |s| (s.polled_records, s.fanout_records));
    out.by_path(&SHARD_OUT_BYTES, &shards, |s| (s.polled_bytes, s.fanout_bytes));
    out.shard_family(&SHARD_WRITE_THROTTLED, &shards, |s| Some(s.write_throttled_records));
    out.shard_family(&SHARD_READ_THROTTLED, &shards, |s| Some(s.read_throttled_calls));
    out.shard_family(&SHARD_ITERATOR_AGE, &shards, |s| Some(s.iterator_age_ms as f64 / 1000.0));
    out.shard_family(&SHARD_SUBSCRIPTIONS, &shards, |s| Some(s.subscriptions));
    out.shard_family(&SHARD_RECORDS, &shards, |s| Some(s.storage.records));
    out.shard_family(&SHARD_BYTES, &shards, |s| Some(s.storage.bytes));
    out.shard_family(&SHARD_OLDEST, &shards, |s| s.storage.oldest_arrival_ms.map(|ms| ms as f64 / 1000.0));
    out.shard_family(&SHARD_NEWEST, &shards, |s| s.storage.newest_arrival_ms.map(|ms| ms as f64 / 1000.0));
    out.0
}

struct Out(String);

impl Out {
    fn header(&mut self, f: &Family) {
        let _ = writeln!(self.0, "# HELP {} {}", f.name, escape_help(f.help));
        let _ = writeln!(self.0, "# TYPE {} {}", f.name, f.kind);
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// A family with one sample per core.
    fn core_family(&mut self, f: &Family, cores: &[CoreSnapshot], value: impl Fn(&CoreSnapshot) -> u64) {
        self.header(f);
        for c in cores {
            self.sample(f.name, &[("core", &c.core.to_string())], value(c));
        }
    }

    /// A histogram family with one histogram per core.
    fn core_histogram(
        &mut self,
        f: &Family,
        cores: &[CoreSnapshot],
        histogram: impl Fn(&CoreSnapshot) -> &HistogramSnapshot,
        unit: f64,
    ) {
        self.header(f);
        for c in cores {
            self.histogram(f.name, &[("core", &c.core.to_string())], histogram(c), unit);
        }
    }

    /// A family with two samples per shard: path="polled" and path="fanout".
    fn by_path(&mut self, f: &Family, shards: &[&ShardSnapshot], value: impl Fn(&ShardSnapshot) -> (u64, u64)) {
        self.header(f);
        for s in shards {
            let (polled, fanout) = value(s);
            let shard = s.shard.to_string();
            self.sample(f.name, &[("stream", &s.stream), ("shard", &shard), ("path", "polled")], polled);
            self.sample(f.name, &[("stream", &s.stream), ("shard", &shard), ("path", "fanout")], fanout);
        }
    }

    /// A family with one sample per shard (none where `value` gives none).
    fn shard_family<T: std::fmt::Display>(
        &mut self,
        f: &Family,
        shards: &[&ShardSnapshot],
        value: impl Fn(&ShardSnapshot) -> Option<T>,
    ) {
        self.header(f);
        for s in shards {
            if let Some(v) = value(s) {
                self.sample(f.name, &[("stream", &s.stream), ("shard", &s.shard.to_string())], v);
            }
        }
    }

    /// `_bucket` per bound (cumulative) and +Inf, then `_sum` and `_count`;
    /// bounds and sum are divided by `unit` (e.g. ns per second).
    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot, unit: f64) {
        let bucket = format!("{name}_bucket");
        for (bound, count) in h.cumulative() {
            let le = bound.map_or_else(|| "+Inf".to_string(), |b| (b as f64 / unit).to_string());
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, count);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum as f64 / unit);
        self.sample(&format!("{name}_count"), labels, h.count());
    }
}

/// Label values escape backslash, double quote and newline.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Help text escapes backslash and newline.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use shoal_engine::metrics::{CoreMetrics, ShardStorage};

    use super::*;
    use crate::metrics::parse::parse;

    fn shard(stream: &str, index: u32) -> ShardSnapshot {
        ShardSnapshot {
            stream: stream.into(),
            shard: index,
            core: 0,
            incoming_records: 10,
            incoming_bytes: 1000,
            polled_records: 4,
            polled_bytes: 400,
            fanout_records: 6,
            fanout_bytes: 600,
            write_throttled_records: 2,
            read_throttled_calls: 1,
            iterator_age_ms: 1500,
            subscriptions: 1,
            storage: ShardStorage {
                records: 10,
                bytes: 1200,
                file_bytes: 4096,
                open_segments: 1,
                oldest_arrival_ms: Some(1_700_000_000_123),
                newest_arrival_ms: Some(1_700_000_001_000),
            },
        }
    }

    fn snapshot() -> MetricsSnapshot {
        let m = CoreMetrics::default();
        m.requests.record(0x11, "PutRecords", "ok", std::time::Duration::from_micros(300));
        m.requests.record(0x11, "PutRecords", "ProvisionedThroughputExceededException", Default::default());
        let mut c0 = CoreSnapshot::new(0, &m);
        c0.shards = vec![shard("a\"b", 0), ShardSnapshot { storage: ShardStorage::default(), ..shard("a\"b", 1) }];
        let c1 = CoreSnapshot::new(1, &CoreMetrics::default());
        MetricsSnapshot::merge(vec![c0, c1], 1, 512)
    }

    #[test]
    fn the_readme_documents_every_family_with_its_type() {
        let readme = include_str!("../../../README.md");
        let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `shoal_")).collect();
        assert_eq!(rows.len(), FAMILIES.len(), "README.md's Metrics table has one row per family");
        for f in FAMILIES {
            let row = format!("| `{}` | {} |", f.name, f.kind);
            assert!(rows.iter().any(|r| r.starts_with(&row)), "README.md lacks {row}");
        }
    }

    #[test]
    fn output_parses_with_every_family_declared_once() {
        let text = render(&snapshot());
        let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(parsed.families.len(), FAMILIES.len());
        for (got, want) in parsed.families.iter().zip(FAMILIES) {
            assert_eq!((got.name.as_str(), got.kind.as_str()), (want.name, want.kind));
            assert!(got.name.starts_with("shoal_"));
            assert_eq!(got.kind == "counter", got.name.ends_with("_total"), "{}: _total iff counter", got.name);
        }
        let labels = [("stream", "a\"b"), ("shard", "0")];
        assert_eq!(parsed.value("shoal_shard_incoming_records_total", &labels), Some(10.0));
        assert_eq!(parsed.value("shoal_shard_iterator_age_seconds", &labels), Some(1.5));
        assert_eq!(parsed.value("shoal_shard_oldest_arrival_timestamp_seconds", &labels), Some(1_700_000_000.123));
        let empty = [("stream", "a\"b"), ("shard", "1")];
        assert_eq!(parsed.value("shoal_shard_oldest_arrival_timestamp_seconds", &empty), None, "empty: absent");
        assert_eq!(parsed.value("shoal_shard_records", &empty), Some(0.0));
        let fanout = [("stream", "a\"b"), ("shard", "0"), ("path", "fanout")];
        assert_eq!(parsed.value("shoal_shard_outgoing_records_total", &fanout), Some(6.0));
        assert_eq!(parsed.value("shoal_stream_disk_bytes", &[("stream", "a\"b")]), Some(4096.0));
        assert_eq!(parsed.value("shoal_recovery_truncated_bytes_total", &[]), Some(512.0));
        let put = [("core", "0"), ("op", "PutRecords")];
        assert_eq!(parsed.value("shoal_request_duration_seconds_count", &put), Some(2.0));
        assert_eq!(parsed.value("shoal_request_duration_seconds_sum", &put), Some(0.0003));
        assert_eq!(
            parsed.value("shoal_request_duration_seconds_bucket", &[put[0], put[1], ("le", "0.0005")]),
            Some(2.0)
        );
        assert_eq!(
            parsed.value("shoal_request_duration_seconds_bucket", &[put[0], put[1], ("le", "0.00001")]),
            Some(1.0)
        );
        assert_eq!(parsed.value("shoal_fsync_duration_seconds_count", &[("core", "1")]), Some(0.0));
    }
}
