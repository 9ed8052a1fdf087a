//! Counters and latency histograms, shared by producers, consumers and the progress ticker.
//!
//! Every measurement goes to two places: the current one-second window (swapped out by the
//! ticker for the progress line and the timeline) and the step it belongs to. A put belongs to
//! the step that scheduled it, however late it completes, and a read to the step of the put
//! that wrote the record, so a slow step's tail is never credited to the next one.
//!
//! Latencies are recorded in microseconds, from the intended send time of the put.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::verify::{ConsumerId, ReaderKind};

/// Distinct request errors kept with their text (all are counted).
const ERRORS_KEPT_MAX: usize = 10;

/// Counts of one window, one step or the whole run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Put requests answered (or failed), and those that failed as a whole.
    pub requests: u64,
    pub requests_failed: u64,
    /// Records in answered requests: accepted + throttled + failed.
    pub records_sent: u64,
    /// Acknowledged by the server, and their data + key bytes.
    pub accepted: u64,
    pub accepted_bytes: u64,
    /// Refused with ProvisionedThroughputExceeded (not retried).
    pub throttled: u64,
    /// Failed otherwise (error answers, timeouts, lost connections): outcome unknown.
    pub failed: u64,
    /// Accepted with WRITTEN durability (acknowledged before an fdatasync): 0 unless the server
    /// runs in its non-default interval-sync mode.
    pub accepted_unsynced: u64,
    /// Records read by polled consumers with GetRecords (each consumer counts its own) and
    /// their data + key bytes.
    pub read_records: u64,
    pub read_bytes: u64,
    /// GetRecords calls, those refused for the read limits, and those that failed otherwise.
    pub read_calls: u64,
    pub read_throttled_calls: u64,
    pub read_errors: u64,
    /// Records pushed to enhanced fan-out subscribers (each subscriber counts its own), their
    /// data + key bytes, the SubscribeToShard events that carried them, and subscriptions that
    /// failed.
    pub pushed_records: u64,
    pub pushed_bytes: u64,
    pub push_events: u64,
    pub push_errors: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.requests += o.requests;
        self.requests_failed += o.requests_failed;
        self.records_sent += o.records_sent;
        self.accepted += o.accepted;
        self.accepted_bytes += o.accepted_bytes;
        self.throttled += o.throttled;
        self.failed += o.failed;
        self.accepted_unsynced += o.accepted_unsynced;
        self.read_records += o.read_records;
        self.read_bytes += o.read_bytes;
        self.read_calls += o.read_calls;
        self.read_throttled_calls += o.read_throttled_calls;
        self.read_errors += o.read_errors;
        self.pushed_records += o.pushed_records;
        self.pushed_bytes += o.pushed_bytes;
        self.push_events += o.push_events;
        self.push_errors += o.push_errors;
    }
}

/// A histogram of latencies in microseconds, auto-resizing, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    #[allow(clippy::unwrap_used)] // 3 significant figures are always valid
    Histogram::new(3).unwrap()
}

/// Counts and latencies of a window or a step.
#[derive(Debug, Clone)]
pub struct Measure {
    pub counts: Counts,
    /// Put request: intended send → acknowledgement.
    pub ack: Histogram<u64>,
    /// Record: intended send of its put → received by a polled consumer.
    pub read: Histogram<u64>,
    /// Record: intended send of its put → pushed to an enhanced fan-out subscriber.
    pub push: Histogram<u64>,
    /// `push` again, apart per fan-out subscriber (its index; over all shards it subscribes
    /// to): a slow subscriber must not hide in the pooled percentiles.
    pub push_by_subscriber: BTreeMap<u16, Histogram<u64>>,
    /// Put request: intended send → handed to the client, built (the generator's own delay,
    /// included in `ack`; a sanity check that the generator keeps its schedule).
    pub send: Histogram<u64>,
}

impl Default for Measure {
    fn default() -> Self {
        Measure {
            counts: Counts::default(),
            ack: histogram(),
            read: histogram(),
            push: histogram(),
            push_by_subscriber: BTreeMap::new(),
            send: histogram(),
        }
    }
}

impl Measure {
    pub fn add(&mut self, o: &Measure) {
        self.counts.add(&o.counts);
        let _ = self.ack.add(&o.ack);
        let _ = self.read.add(&o.read);
        let _ = self.push.add(&o.push);
        for (subscriber, h) in &o.push_by_subscriber {
            let _ = self.push_by_subscriber.entry(*subscriber).or_insert_with(histogram).add(h);
        }
        let _ = self.send.add(&o.send);
    }
}

/// Per shard: what was accepted, throttled, read by polled consumers and pushed to fan-out
/// subscribers (summed over the shard's readers).
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct ShardCounts {
    pub accepted: u64,
    pub throttled: u64,
    pub failed: u64,
    pub read_records: u64,
    pub pushed_records: u64,
}

/// What one put request came to, as its task reports it.
#[derive(Debug, Default)]
pub struct PutResult {
    pub step: usize,
    pub records: u64,
    pub accepted: u64,
    pub accepted_bytes: u64,
    pub throttled: u64,
    pub failed: u64,
    pub accepted_unsynced: u64,
    /// The whole request failed (no per-record answer).
    pub request_failed: bool,
    /// (shard, accepted, throttled, failed) for every shard the request touched.
    pub shards: Vec<(u32, u64, u64, u64)>,
    pub error: Option<String>,
    /// Intended send time → the request built and handed to the client, in µs.
    pub send_delay_us: u64,
}

#[derive(Debug, Default)]
struct Inner {
    window: Measure,
    steps: Vec<Measure>,
    /// When each step's schedule began, in ns after the epoch.
    step_starts_ns: Vec<u64>,
    shards: BTreeMap<u32, ShardCounts>,
    errors: Vec<String>,
    error_count: u64,
}

impl Inner {
    fn step_at(&self, due_ns: u64) -> usize {
        self.step_starts_ns.partition_point(|&s| s <= due_ns).saturating_sub(1)
    }

    fn error(&mut self, e: String) {
        self.error_count += 1;
        if self.errors.len() < ERRORS_KEPT_MAX && !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }
}

/// The shared sink of all measurements.
#[derive(Debug)]
pub struct Recorder {
    epoch: Instant,
    inner: Mutex<Inner>,
}

impl Recorder {
    pub fn new(epoch: Instant) -> Recorder {
        Recorder { epoch, inner: Mutex::new(Inner::default()) }
    }

    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A step begins now; returns its index.
    pub fn start_step(&self, at: Instant) -> usize {
        let mut inner = self.lock();
        inner.steps.push(Measure::default());
        inner.step_starts_ns.push(at.saturating_duration_since(self.epoch).as_nanos() as u64);
        inner.steps.len() - 1
    }

    /// A put request due at `due` completed now.
    pub fn put_done(&self, due: Instant, r: PutResult) {
        let micros = Instant::now().saturating_duration_since(due).as_micros() as u64;
        let counts = Counts {
            requests: 1,
            requests_failed: u64::from(r.request_failed),
            records_sent: r.records,
            accepted: r.accepted,
            accepted_bytes: r.accepted_bytes,
            throttled: r.throttled,
            failed: r.failed,
            accepted_unsynced: r.accepted_unsynced,
            ..Counts::default()
        };
        let mut inner = self.lock();
        let inner = &mut *inner;
        for m in [Some(&mut inner.window), inner.steps.get_mut(r.step)].into_iter().flatten() {
            m.counts.add(&counts);
            let _ = m.ack.record(micros.max(1));
            let _ = m.send.record(r.send_delay_us.max(1));
        }
        for (shard, accepted, throttled, failed) in r.shards {
            let s = inner.shards.entry(shard).or_default();
            s.accepted += accepted;
            s.throttled += throttled;
            s.failed += failed;
        }
        if let Some(e) = r.error {
            inner.error(e);
        }
    }

    /// A consumer received records of its shard (their intended send times, in ns after the
    /// epoch, and their total size) at `received`, in one GetRecords response (polled) or one
    /// pushed event (fan-out): they count, and their latencies go, apart (put→read, put→push).
    pub fn reads(&self, consumer: ConsumerId, due_ns: &[u64], bytes: u64, received: Instant) {
        let (shard, pushed) = (consumer.shard, consumer.kind == ReaderKind::FanOut);
        let now_ns = received.saturating_duration_since(self.epoch).as_nanos() as u64;
        let records = due_ns.len() as u64;
        let mut inner = self.lock();
        let inner = &mut *inner;
        let response = |c: &mut Counts| {
            if pushed {
                c.push_events += 1;
                c.pushed_bytes += bytes;
            } else {
                c.read_calls += 1;
                c.read_bytes += bytes;
            }
        };
        response(&mut inner.window.counts);
        let first_step = due_ns.first().map(|&d| inner.step_at(d));
        if let Some(step) = first_step.and_then(|s| inner.steps.get_mut(s)) {
            response(&mut step.counts);
        }
        let shard = inner.shards.entry(shard).or_default();
        if pushed {
            shard.pushed_records += records;
            inner.window.counts.pushed_records += records;
        } else {
            shard.read_records += records;
            inner.window.counts.read_records += records;
        }
        for &due in due_ns {
            let micros = (now_ns.saturating_sub(due) / 1000).max(1);
            let step = inner.step_at(due);
            let _ = if pushed { inner.window.push.record(micros) } else { inner.window.read.record(micros) };
            if let Some(m) = inner.steps.get_mut(step) {
                if pushed {
                    m.counts.pushed_records += 1;
                    let _ = m.push.record(micros);
                    let _ = m.push_by_subscriber.entry(consumer.index).or_insert_with(histogram).record(micros);
                } else {
                    m.counts.read_records += 1;
                    let _ = m.read.record(micros);
                }
            }
        }
    }

    /// A fan-out subscription failed.
    pub fn push_error(&self, error: String) {
        let mut inner = self.lock();
        inner.window.counts.push_errors += 1;
        let step = inner.steps.len().saturating_sub(1);
        if let Some(m) = inner.steps.get_mut(step) {
            m.counts.push_errors += 1;
        }
        inner.error(error);
    }

    /// A GetRecords call that returned no records, was throttled, or failed.
    pub fn read_call(&self, throttled: bool, error: Option<String>) {
        let mut inner = self.lock();
        inner.window.counts.read_calls += 1;
        inner.window.counts.read_throttled_calls += u64::from(throttled);
        inner.window.counts.read_errors += u64::from(error.is_some());
        let step = inner.steps.len().saturating_sub(1);
        if let Some(m) = inner.steps.get_mut(step) {
            m.counts.read_calls += 1;
            m.counts.read_throttled_calls += u64::from(throttled);
            m.counts.read_errors += u64::from(error.is_some());
        }
        if let Some(e) = error {
            inner.error(e);
        }
    }

    /// Takes the current window's measurements and starts a new window.
    pub fn take_window(&self) -> Measure {
        std::mem::take(&mut self.lock().window)
    }

    /// The measurements of step `index` so far.
    pub fn step(&self, index: usize) -> Measure {
        self.lock().steps.get(index).cloned().unwrap_or_default()
    }

    pub fn steps(&self) -> Vec<Measure> {
        self.lock().steps.clone()
    }

    pub fn shards(&self) -> BTreeMap<u32, ShardCounts> {
        self.lock().shards.clone()
    }

    /// The first distinct request errors, and how many errors there were in all.
    pub fn errors(&self) -> (Vec<String>, u64) {
        let inner = self.lock();
        (inner.errors.clone(), inner.error_count)
    }
}

/// How the put→push p99 differs between fan-out subscribers: every subscriber's own p99,
/// then the lowest, the median and the highest of those.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SubscriberSpread {
    pub subscribers: usize,
    pub p99_ms_min: f64,
    pub p99_ms_median: f64,
    pub p99_ms_max: f64,
    /// The subscriber (its index) with the highest p99.
    pub slowest_subscriber: u16,
}

impl SubscriberSpread {
    /// `None` without any pushed record.
    pub fn of(by_subscriber: &BTreeMap<u16, Histogram<u64>>) -> Option<SubscriberSpread> {
        let mut p99s: Vec<(u64, u16)> = by_subscriber
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(&subscriber, h)| (h.value_at_quantile(0.99), subscriber))
            .collect();
        p99s.sort_unstable();
        let ms = |micros: u64| round3(micros as f64 / 1000.0);
        let (&(min, _), &(max, slowest)) = (p99s.first()?, p99s.last()?);
        Some(SubscriberSpread {
            subscribers: p99s.len(),
            p99_ms_min: ms(min),
            p99_ms_median: ms(p99s[p99s.len() / 2].0),
            p99_ms_max: ms(max),
            slowest_subscriber: slowest,
        })
    }
}

/// Latency percentiles in milliseconds, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
    pub p99_99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl LatencySummary {
    /// `None` for an empty histogram.
    pub fn of(h: &Histogram<u64>) -> Option<LatencySummary> {
        if h.is_empty() {
            return None;
        }
        let ms = |q: f64| round3(h.value_at_quantile(q) as f64 / 1000.0);
        Some(LatencySummary {
            count: h.len(),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p99_9_ms: ms(0.999),
            p99_99_ms: ms(0.9999),
            max_ms: round3(h.max() as f64 / 1000.0),
            mean_ms: round3(h.mean() / 1000.0),
        })
    }
}

/// Rounds to three decimals (microseconds, for milliseconds) so the JSON stays readable.
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Points of the percentile curve: (nines, latency in ms), where nines = -log10(1 - q), so 1
/// is p90, 2 is p99, 3 is p99.9. Stops at the precision the sample count supports and ends
/// with the maximum.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let nines_max = (h.len() as f64).log10().clamp(1.0, 6.0);
    let steps = (nines_max * 20.0).ceil() as usize;
    let mut points: Vec<(f64, f64)> = (0..=steps)
        .map(|i| {
            let nines = nines_max * i as f64 / steps as f64;
            let q = 1.0 - 10f64.powf(-nines);
            (nines, h.value_at_quantile(q) as f64 / 1000.0)
        })
        .collect();
    points.push((nines_max, h.max() as f64 / 1000.0));
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn puts_count_in_their_step_and_window() {
        let epoch = Instant::now();
        let r = Recorder::new(epoch);
        let s0 = r.start_step(epoch);
        let s1 = r.start_step(epoch + Duration::from_secs(1));
        let result = |step| PutResult {
            step,
            records: 10,
            accepted: 7,
            accepted_bytes: 700,
            throttled: 3,
            shards: vec![(0, 7, 3, 0)],
            ..PutResult::default()
        };
        r.put_done(epoch, result(s0));
        r.put_done(epoch, result(s1));
        r.reads(ConsumerId::polled(0, 0), &[10, 2_000_000_000], 200, epoch + Duration::from_secs(3));
        let w = r.take_window();
        assert_eq!((w.counts.requests, w.counts.accepted, w.counts.throttled, w.counts.read_records), (2, 14, 6, 2));
        assert_eq!(r.take_window().counts, Counts::default());
        let (a, b) = (r.step(0), r.step(1));
        assert_eq!((a.counts.accepted, a.read.len()), (7, 1));
        assert_eq!((b.counts.accepted, b.read.len()), (7, 1));
        assert_eq!(r.shards()[&0].throttled, 6);
        let summary = LatencySummary::of(&b.read).expect("one read");
        assert!((summary.max_ms - 1000.0).abs() < 1.0, "{summary:?}");
    }

    #[test]
    fn pushes_count_apart_from_polled_reads() {
        let epoch = Instant::now();
        let r = Recorder::new(epoch);
        r.start_step(epoch);
        let subscriber = ConsumerId { shard: 1, kind: ReaderKind::FanOut, index: 3 };
        r.reads(ConsumerId::polled(1, 0), &[10, 20], 200, epoch + Duration::from_millis(5));
        r.reads(subscriber, &[10, 20, 30], 300, epoch + Duration::from_millis(2));
        r.push_error("SubscribeToShard failed".into());
        for c in [r.take_window().counts, r.step(0).counts] {
            assert_eq!((c.read_records, c.read_bytes, c.read_calls, c.read_errors), (2, 200, 1, 0));
            assert_eq!((c.pushed_records, c.pushed_bytes, c.push_events, c.push_errors), (3, 300, 1, 1));
        }
        let shard = r.shards()[&1];
        assert_eq!((shard.read_records, shard.pushed_records), (2, 3));
        let step = r.step(0);
        assert_eq!((step.read.len(), step.push.len()), (2, 3));
        assert_eq!(r.errors().1, 1);
    }

    #[test]
    fn a_slow_subscriber_stands_out_in_the_spread() {
        let epoch = Instant::now();
        let r = Recorder::new(epoch);
        r.start_step(epoch);
        // Records due at 0; subscribers 0..3 receive them after 2 ms, subscriber 3 after 40 ms.
        for index in 0..4u16 {
            let subscriber = ConsumerId { shard: 0, kind: ReaderKind::FanOut, index };
            let late = if index == 3 { 40 } else { 2 + u64::from(index) };
            r.reads(subscriber, &[0; 200], 200, epoch + Duration::from_millis(late));
        }
        let spread = SubscriberSpread::of(&r.step(0).push_by_subscriber).expect("pushes");
        assert_eq!(spread.subscribers, 4);
        assert_eq!(spread.slowest_subscriber, 3);
        assert!((spread.p99_ms_min - 2.0).abs() < 0.01, "{spread:?}");
        assert!((spread.p99_ms_median - 4.0).abs() < 0.01, "{spread:?}");
        assert!((spread.p99_ms_max - 40.0).abs() < 0.05, "{spread:?}");
        // Polled reads are not subscribers.
        r.reads(ConsumerId::polled(0, 0), &[0; 10], 10, epoch + Duration::from_millis(900));
        assert_eq!(SubscriberSpread::of(&r.step(0).push_by_subscriber).expect("pushes").subscribers, 4);
        assert_eq!(SubscriberSpread::of(&BTreeMap::new()), None);
    }

    #[test]
    fn curves_climb_to_the_maximum() {
        let mut h = histogram();
        for v in 1..=10_000u64 {
            h.record(v).expect("record");
        }
        let curve = percentile_curve(&h);
        assert!(curve.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!((curve.last().expect("points").1 - 10.0).abs() < 0.01);
        assert!(percentile_curve(&histogram()).is_empty());
    }
}
