//! Counters for observing the engine, and the typed snapshot a scrape
//! returns.
//!
//! # Cost
//! Every counter belongs to one core and is a plain `Cell<u64>`: counting
//! is a load and a store on memory the core already owns, with no atomic,
//! lock or shared cache line on the request path. The price is paid at
//! scrape time instead: [`crate::Engine::metrics`] sends every core a
//! command, each core copies its counters into a [`CoreSnapshot`] between
//! two tasks (so the copy is consistent within the core), and the handle
//! merges the parts into a [`MetricsSnapshot`]. Scrapes are rare (seconds
//! apart); requests are not.
//!
//! # Where counters live
//! * [`CoreMetrics`]: per core. Request counts and latencies (filled by the
//!   front end that dispatches requests, e.g. the server), fsync latency
//!   and group-commit sizes, tail-cache hits and misses, cross-core
//!   forwards. Shards hold an `Rc` to their core's, so a deleted shard's
//!   share stays in the core's totals.
//! * [`ShardMetrics`]: per shard, owned by the shard's log. Records and
//!   bytes in and out, throttled calls, the age of the slowest reader.
//! * Gauges (records stored, arrival times, open segments, subscriptions,
//!   cached bytes) are not counted at all: the snapshot reads them from the
//!   state they describe.
//!
//! Rendering (Prometheus text, names, help) is the server's business.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// A counter owned by one core.
#[derive(Debug, Default)]
pub struct Counter(Cell<u64>);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.set(self.0.get().wrapping_add(n));
    }

    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// Upper bounds (inclusive, in nanoseconds) of latency buckets: 10 µs to
/// 10 s in 1-2.5-5 steps, wide enough for a local DescribeStream and a
/// stalled disk alike.
pub const LATENCY_BUCKETS_NS: &[u64] = &[
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Upper bounds of records per group commit: one PutRecord alone up to
/// many full PutRecords (500 records each) sharing one fdatasync.
pub const GROUP_RECORDS_BUCKETS: &[u64] = &[1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000];

/// Upper bounds of bytes per group commit (frame bytes written): one page
/// up to 64 MiB, in steps of four.
pub const GROUP_BYTES_BUCKETS: &[u64] =
    &[4 * 1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024, 64 * 1024 * 1024];

const _: () = assert!(strictly_increasing(LATENCY_BUCKETS_NS));
const _: () = assert!(strictly_increasing(GROUP_RECORDS_BUCKETS));
const _: () = assert!(strictly_increasing(GROUP_BYTES_BUCKETS));

const fn strictly_increasing(bounds: &[u64]) -> bool {
    let mut i = 1;
    while i < bounds.len() {
        if bounds[i - 1] >= bounds[i] {
            return false;
        }
        i += 1;
    }
    !bounds.is_empty()
}

/// A histogram with fixed buckets (Prometheus semantics: a value falls in
/// the first bucket whose upper bound is at least the value; the last,
/// implicit bucket is +Inf).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    /// One per bound, then +Inf. Not cumulative.
    counts: Box<[Cell<u64>]>,
    sum: Cell<u64>,
}

impl Histogram {
    pub fn new(bounds: &'static [u64]) -> Self {
        Self { bounds, counts: (0..=bounds.len()).map(|_| Cell::new(0)).collect(), sum: Cell::new(0) }
    }

    #[inline]
    pub fn observe(&self, value: u64) {
        let i = self.bounds.partition_point(|&b| b < value);
        if let Some(c) = self.counts.get(i) {
            c.set(c.get() + 1);
        }
        self.sum.set(self.sum.get().saturating_add(value));
    }

    pub fn observe_duration(&self, d: Duration) {
        self.observe(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self.counts.iter().map(Cell::get).collect(),
            sum: self.sum.get(),
        }
    }
}

/// A histogram's state at a scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Bucket upper bounds, in the histogram's unit.
    pub bounds: &'static [u64],
    /// Observations per bucket (not cumulative); one more than `bounds`,
    /// the last being +Inf.
    pub counts: Vec<u64>,
    /// Sum of all observed values.
    pub sum: u64,
}

impl HistogramSnapshot {
    pub fn empty(bounds: &'static [u64]) -> Self {
        Self { bounds, counts: vec![0; bounds.len() + 1], sum: 0 }
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// (upper bound, observations at or below it) per bucket; `None` is
    /// +Inf, whose count equals [`HistogramSnapshot::count`].
    pub fn cumulative(&self) -> Vec<(Option<u64>, u64)> {
        let mut total = 0;
        self.counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                total += c;
                (self.bounds.get(i).copied(), total)
            })
            .collect()
    }

    /// Adds another histogram of the same buckets (from another core).
    pub fn merge(&mut self, other: &HistogramSnapshot) {
        assert_eq!(self.bounds, other.bounds, "histograms merge only with the same buckets");
        assert_eq!(self.counts.len(), other.counts.len(), "bucket counts out of step with bounds");
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum = self.sum.saturating_add(other.sum);
    }
}

/// Requests served on one core, by operation and outcome, with latency per
/// operation. The engine does not interpret the labels: the front end that
/// dispatches requests names them.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    /// Indexed by the operation's number (dense enough: opcodes are small).
    ops: RefCell<Vec<Option<OpMetrics>>>,
}

#[derive(Debug)]
struct OpMetrics {
    name: &'static str,
    /// Few outcomes per operation, "ok" first in practice: a linear scan
    /// is cheaper than hashing.
    outcomes: Vec<(&'static str, u64)>,
    latency_ns: Histogram,
}

/// Highest operation number [`RequestMetrics`] keeps a slot for; larger
/// numbers are not counted (a front end bug, not a client's doing).
pub const REQUEST_OPS_MAX: usize = 1024;

impl RequestMetrics {
    /// Counts one request: operation `op` (its number and name), its
    /// outcome (e.g. "ok" or an error name) and how long it took.
    pub fn record(&self, op: u16, name: &'static str, outcome: &'static str, elapsed: Duration) {
        let index = op as usize;
        if index > REQUEST_OPS_MAX {
            return;
        }
        let mut ops = self.ops.borrow_mut();
        if ops.len() <= index {
            ops.resize_with(index + 1, || None);
        }
        let Some(slot) = ops.get_mut(index) else { return };
        let m = slot.get_or_insert_with(|| OpMetrics {
            name,
            outcomes: Vec::new(),
            latency_ns: Histogram::new(LATENCY_BUCKETS_NS),
        });
        match m.outcomes.iter_mut().find(|(o, _)| std::ptr::eq(*o, outcome) || *o == outcome) {
            Some((_, n)) => *n += 1,
            None => m.outcomes.push((outcome, 1)),
        }
        m.latency_ns.observe_duration(elapsed);
    }

    pub fn snapshot(&self) -> Vec<RequestSnapshot> {
        self.ops
            .borrow()
            .iter()
            .flatten()
            .map(|m| RequestSnapshot { op: m.name, outcomes: m.outcomes.clone(), latency_ns: m.latency_ns.snapshot() })
            .collect()
    }
}

/// One operation's requests on one core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestSnapshot {
    pub op: &'static str,
    /// (outcome, requests).
    pub outcomes: Vec<(&'static str, u64)>,
    pub latency_ns: HistogramSnapshot,
}

/// The counters of one core.
#[derive(Debug)]
pub struct CoreMetrics {
    /// Filled by the front end (see [`RequestMetrics`]).
    pub requests: RequestMetrics,
    /// Duration of each group commit's fdatasync (and each interval sync).
    pub(crate) fsync_ns: Histogram,
    /// Records per group commit (one write of every pending frame).
    pub(crate) group_records: Histogram,
    /// Frame bytes per group commit.
    pub(crate) group_bytes: Histogram,
    /// Group commits written (and synced) with blocking calls on the core's
    /// thread (see `shard::commit_path`).
    pub(crate) inline_groups: Counter,
    /// Reads that returned records without touching a segment file.
    pub(crate) cache_hits: Counter,
    /// Reads that read a segment file.
    pub(crate) cache_misses: Counter,
    /// Data requests sent to the core that owns their shard.
    pub(crate) forwards: Counter,
}

impl Default for CoreMetrics {
    fn default() -> Self {
        Self {
            requests: RequestMetrics::default(),
            fsync_ns: Histogram::new(LATENCY_BUCKETS_NS),
            group_records: Histogram::new(GROUP_RECORDS_BUCKETS),
            group_bytes: Histogram::new(GROUP_BYTES_BUCKETS),
            inline_groups: Counter::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            forwards: Counter::default(),
        }
    }
}

impl CoreMetrics {
    /// Counts a request forwarded to another core.
    pub fn note_forward(&self) {
        self.forwards.inc();
    }
}

/// Length of the windows over which [`ShardMetrics`] keeps the largest
/// iterator age: the reported age covers the current window and the one
/// before, i.e. the last 10 to 20 seconds.
pub const ITERATOR_AGE_WINDOW_MS: u64 = 10_000;

/// The largest millis-behind-latest seen in the current and the previous
/// window of [`ITERATOR_AGE_WINDOW_MS`] (windows aligned to the clock).
/// Keeping two windows instead of resetting on scrape lets any number of
/// scrapers read it without disturbing each other.
#[derive(Debug, Default)]
struct IteratorAge {
    window: Cell<u64>,
    current_ms: Cell<u64>,
    previous_ms: Cell<u64>,
}

impl IteratorAge {
    fn note(&self, age_ms: u64, now_ms: u64) {
        let w = now_ms / ITERATOR_AGE_WINDOW_MS;
        if w != self.window.get() {
            let previous = if w == self.window.get() + 1 { self.current_ms.get() } else { 0 };
            self.previous_ms.set(previous);
            self.current_ms.set(0);
            self.window.set(w);
        }
        self.current_ms.set(self.current_ms.get().max(age_ms));
    }

    fn value(&self, now_ms: u64) -> u64 {
        let w = now_ms / ITERATOR_AGE_WINDOW_MS;
        let seen = self.window.get();
        if w == seen {
            self.current_ms.get().max(self.previous_ms.get())
        } else if w == seen + 1 {
            self.current_ms.get()
        } else {
            0
        }
    }
}

/// The counters of one shard; kept by its log on the owning core.
#[derive(Debug)]
pub struct ShardMetrics {
    /// The core's counters (group commits and cache lookups are counted
    /// there).
    pub(crate) core: Rc<CoreMetrics>,
    pub(crate) incoming_records: Counter,
    pub(crate) incoming_bytes: Counter,
    pub(crate) polled_records: Counter,
    pub(crate) polled_bytes: Counter,
    pub(crate) fanout_records: Counter,
    pub(crate) fanout_bytes: Counter,
    pub(crate) write_throttled_records: Counter,
    pub(crate) read_throttled_calls: Counter,
    iterator_age: IteratorAge,
}

impl Default for ShardMetrics {
    /// Counters of a shard outside any core (a log opened on its own).
    fn default() -> Self {
        Self::new(Rc::default())
    }
}

impl ShardMetrics {
    pub fn new(core: Rc<CoreMetrics>) -> Self {
        Self {
            core,
            incoming_records: Counter::default(),
            incoming_bytes: Counter::default(),
            polled_records: Counter::default(),
            polled_bytes: Counter::default(),
            fanout_records: Counter::default(),
            fanout_bytes: Counter::default(),
            write_throttled_records: Counter::default(),
            read_throttled_calls: Counter::default(),
            iterator_age: IteratorAge::default(),
        }
    }

    /// One group commit of `frames` (record count, frame bytes); `inline`
    /// if written with blocking calls.
    pub fn note_group(&self, frames: impl Iterator<Item = (u32, usize)>, inline: bool) {
        let (records, bytes) = frames.fold((0u64, 0u64), |(r, b), (fr, fb)| (r + fr as u64, b + fb as u64));
        self.core.group_records.observe(records);
        self.core.group_bytes.observe(bytes);
        if inline {
            self.core.inline_groups.inc();
        }
    }

    /// Runs an fdatasync and counts how long it took.
    pub async fn timed_sync<T>(&self, sync: impl std::future::Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let result = sync.await;
        self.core.fsync_ns.observe_duration(started.elapsed());
        result
    }

    /// One read that returned records; `from_disk` if it read a segment
    /// file.
    pub fn note_cache(&self, from_disk: bool) {
        if from_disk {
            self.core.cache_misses.inc();
        } else {
            self.core.cache_hits.inc();
        }
    }

    /// Records stored by an acknowledged append.
    pub fn note_incoming(&self, records: u64, bytes: u64) {
        self.incoming_records.add(records);
        self.incoming_bytes.add(bytes);
    }

    /// Records returned by a polled read (GetRecords), and how far behind
    /// the tip the reader is.
    pub fn note_polled(&self, records: u64, bytes: u64, millis_behind: u64, now_ms: u64) {
        self.polled_records.add(records);
        self.polled_bytes.add(bytes);
        self.iterator_age.note(millis_behind, now_ms);
    }

    /// Records handed to a fan-out subscriber in one event.
    pub fn note_fanout(&self, records: u64, bytes: u64, millis_behind: u64, now_ms: u64) {
        self.fanout_records.add(records);
        self.fanout_bytes.add(bytes);
        self.iterator_age.note(millis_behind, now_ms);
    }

    pub fn note_write_throttled(&self, records: u64) {
        self.write_throttled_records.add(records);
    }

    pub fn note_read_throttled(&self) {
        self.read_throttled_calls.inc();
    }

    /// The largest iterator age (ms) in the last one or two windows.
    pub fn iterator_age_ms(&self, now_ms: u64) -> u64 {
        self.iterator_age.value(now_ms)
    }
}

/// What a shard's log holds now (read at scrape time, not counted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardStorage {
    /// Records retained: the counter span of the retained segments (exact
    /// unless SequenceNumberForOrdering moved counters ahead, which leaves
    /// unused positions that are counted too).
    pub records: u64,
    /// Bytes of frames retained (headers included; no preallocation).
    pub bytes: u64,
    /// Bytes the shard's segment files take (the active one with its
    /// space allocated ahead).
    pub file_bytes: u64,
    /// Segments whose file is open.
    pub open_segments: u64,
    /// Arrival time (ms) of the oldest retained record.
    pub oldest_arrival_ms: Option<u64>,
    /// Arrival time (ms) of the newest durable record.
    pub newest_arrival_ms: Option<u64>,
}

/// One shard at a scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardSnapshot {
    pub stream: String,
    pub shard: u32,
    /// The core that owns it.
    pub core: usize,
    /// Records (and their key + data bytes) stored by acknowledged puts.
    pub incoming_records: u64,
    pub incoming_bytes: u64,
    /// Records (key + data bytes) returned by GetRecords.
    pub polled_records: u64,
    pub polled_bytes: u64,
    /// Records (key + data bytes) handed to fan-out subscribers.
    pub fanout_records: u64,
    pub fanout_bytes: u64,
    /// Records refused by the write limits (ProvisionedThroughputExceeded).
    pub write_throttled_records: u64,
    /// GetRecords calls refused by the read limits.
    pub read_throttled_calls: u64,
    /// See [`ShardMetrics::iterator_age_ms`].
    pub iterator_age_ms: u64,
    /// Active fan-out subscriptions.
    pub subscriptions: u64,
    pub storage: ShardStorage,
}

/// One core at a scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreSnapshot {
    pub core: usize,
    pub requests: Vec<RequestSnapshot>,
    pub fsync_ns: HistogramSnapshot,
    pub group_records: HistogramSnapshot,
    pub group_bytes: HistogramSnapshot,
    /// Group commits written with blocking calls (see `shard::commit_path`).
    pub inline_groups: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Bytes held by the core's tail cache.
    pub cache_bytes: u64,
    pub forwards: u64,
    /// The shards this core owns.
    pub shards: Vec<ShardSnapshot>,
}

impl CoreSnapshot {
    pub fn new(core: usize, m: &CoreMetrics) -> Self {
        Self {
            core,
            requests: m.requests.snapshot(),
            fsync_ns: m.fsync_ns.snapshot(),
            group_records: m.group_records.snapshot(),
            group_bytes: m.group_bytes.snapshot(),
            inline_groups: m.inline_groups.get(),
            cache_hits: m.cache_hits.get(),
            cache_misses: m.cache_misses.get(),
            cache_bytes: 0,
            forwards: m.forwards.get(),
            shards: Vec::new(),
        }
    }
}

/// The whole engine at a scrape: every core's part, merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// In core order.
    pub cores: Vec<CoreSnapshot>,
    /// Shards whose torn tail recovery cut at start, and the bytes cut.
    pub recovery_truncations: u64,
    pub recovery_truncated_bytes: u64,
}

impl MetricsSnapshot {
    /// Merges the cores' parts (in any order).
    pub fn merge(mut cores: Vec<CoreSnapshot>, recovery_truncations: u64, recovery_truncated_bytes: u64) -> Self {
        cores.sort_by_key(|c| c.core);
        for c in &mut cores {
            c.shards.sort_by(|a, b| (&a.stream, a.shard).cmp(&(&b.stream, b.shard)));
        }
        Self { cores, recovery_truncations, recovery_truncated_bytes }
    }

    /// Every shard of every core, ordered by stream, then shard.
    pub fn shards(&self) -> Vec<&ShardSnapshot> {
        let mut all: Vec<&ShardSnapshot> = self.cores.iter().flat_map(|c| &c.shards).collect();
        all.sort_by(|a, b| (&a.stream, a.shard).cmp(&(&b.stream, b.shard)));
        all
    }

    /// Segment files open in the process.
    pub fn open_segments(&self) -> u64 {
        self.cores.iter().flat_map(|c| &c.shards).map(|s| s.storage.open_segments).sum()
    }

    /// Bytes of segment files per stream, over all its shards and cores.
    pub fn disk_bytes_by_stream(&self) -> BTreeMap<&str, u64> {
        let mut by_stream = BTreeMap::new();
        for s in self.cores.iter().flat_map(|c| &c.shards) {
            *by_stream.entry(s.stream.as_str()).or_insert(0) += s.storage.file_bytes;
        }
        by_stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fall_in_the_first_bucket_at_or_above_them() {
        let h = Histogram::new(&[10, 20, 30]);
        for v in [0, 10, 11, 20, 30, 31, u64::MAX] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.counts, vec![2, 2, 1, 2], "le=10: 0,10; le=20: 11,20; le=30: 30; +Inf: 31,MAX");
        assert_eq!(s.count(), 7);
        assert_eq!(s.sum, u64::MAX, "the sum saturates instead of wrapping");
        assert_eq!(s.cumulative(), vec![(Some(10), 2), (Some(20), 4), (Some(30), 5), (None, 7)]);
    }

    #[test]
    fn durations_are_observed_in_nanoseconds() {
        let h = Histogram::new(LATENCY_BUCKETS_NS);
        h.observe_duration(Duration::from_micros(10));
        h.observe_duration(Duration::from_micros(11));
        h.observe_duration(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.counts.first(), Some(&1));
        assert_eq!(s.counts.get(1), Some(&1));
        assert_eq!(s.counts.last(), Some(&1));
        assert_eq!(s.sum, 10_000 + 11_000 + 60_000_000_000);
    }

    #[test]
    fn merging_adds_bucket_by_bucket() {
        let (a, b) = (Histogram::new(&[1, 5]), Histogram::new(&[1, 5]));
        a.observe(1);
        a.observe(9);
        b.observe(3);
        b.observe(4);
        let mut m = a.snapshot();
        m.merge(&b.snapshot());
        assert_eq!(m.counts, vec![1, 2, 1]);
        assert_eq!(m.sum, 17);
        assert_eq!(m.count(), a.snapshot().count() + b.snapshot().count());
        let mut e = HistogramSnapshot::empty(&[1, 5]);
        e.merge(&m);
        assert_eq!(e, m, "empty is the identity");
    }

    #[test]
    #[should_panic(expected = "same buckets")]
    fn merging_different_buckets_is_a_bug() {
        let mut a = HistogramSnapshot::empty(&[1, 5]);
        a.merge(&HistogramSnapshot::empty(&[1, 6]));
    }

    #[test]
    fn requests_are_counted_by_operation_and_outcome() {
        let r = RequestMetrics::default();
        r.record(0x13, "GetRecords", "ok", Duration::from_micros(5));
        r.record(0x13, "GetRecords", "ok", Duration::from_micros(50));
        r.record(0x13, "GetRecords", "ProvisionedThroughputExceededException", Duration::from_millis(1));
        r.record(0x11, "PutRecords", "ok", Duration::from_millis(2));
        r.record(u16::MAX, "Bogus", "ok", Duration::ZERO);
        let s = r.snapshot();
        assert_eq!(s.len(), 2, "ordered by operation number; out-of-range numbers are not kept");
        assert_eq!(s[0].op, "PutRecords");
        assert_eq!(s[1].op, "GetRecords");
        assert_eq!(s[1].outcomes, vec![("ok", 2), ("ProvisionedThroughputExceededException", 1)]);
        assert_eq!(s[1].latency_ns.count(), 3);
    }

    #[test]
    fn iterator_age_covers_the_current_and_the_previous_window() {
        let w = ITERATOR_AGE_WINDOW_MS;
        let age = IteratorAge::default();
        assert_eq!(age.value(5 * w), 0);
        age.note(700, 5 * w);
        age.note(300, 5 * w + 1);
        assert_eq!(age.value(5 * w + 2), 700, "the largest in the window");
        assert_eq!(age.value(6 * w), 700, "still reported in the next window");
        age.note(100, 6 * w + 5);
        assert_eq!(age.value(6 * w + 6), 700);
        assert_eq!(age.value(7 * w), 100, "two windows on, only the newer one counts");
        assert_eq!(age.value(8 * w), 0, "no reads for a whole window: no age");
        age.note(50, 20 * w);
        assert_eq!(age.value(20 * w), 50, "a long gap forgets everything before it");
    }

    fn shard(stream: &str, index: u32, core: usize, file_bytes: u64) -> ShardSnapshot {
        ShardSnapshot {
            stream: stream.into(),
            shard: index,
            core,
            incoming_records: 0,
            incoming_bytes: 0,
            polled_records: 0,
            polled_bytes: 0,
            fanout_records: 0,
            fanout_bytes: 0,
            write_throttled_records: 0,
            read_throttled_calls: 0,
            iterator_age_ms: 0,
            subscriptions: 0,
            storage: ShardStorage { file_bytes, open_segments: 1, ..ShardStorage::default() },
        }
    }

    #[test]
    fn merging_cores_orders_them_and_sums_per_stream() {
        let m = CoreMetrics::default();
        m.fsync_ns.observe(20_000);
        let mut c1 = CoreSnapshot::new(1, &m);
        c1.shards = vec![shard("b", 0, 1, 10), shard("a", 1, 1, 20)];
        let mut c0 = CoreSnapshot::new(0, &CoreMetrics::default());
        c0.shards = vec![shard("a", 0, 0, 5)];
        let s = MetricsSnapshot::merge(vec![c1, c0], 1, 100);
        assert_eq!(s.cores.iter().map(|c| c.core).collect::<Vec<_>>(), vec![0, 1]);
        let order: Vec<(&str, u32)> = s.shards().iter().map(|s| (s.stream.as_str(), s.shard)).collect();
        assert_eq!(order, vec![("a", 0), ("a", 1), ("b", 0)]);
        assert_eq!(s.open_segments(), 3);
        assert_eq!(s.disk_bytes_by_stream().into_iter().collect::<Vec<_>>(), vec![("a", 25), ("b", 10)]);
        let mut fsync = HistogramSnapshot::empty(LATENCY_BUCKETS_NS);
        s.cores.iter().for_each(|c| fsync.merge(&c.fsync_ns));
        assert_eq!(fsync.count(), 1, "core 1's one fsync");
    }
}
