//! Producers: an open-loop pacer and the put requests it schedules.
//!
//! Request `k` of a step is due at `start + k · batch / rate`. The pacer thread sleeps until the
//! next request is due (it never spins: the server shares this machine's CPUs) and then hands
//! every request that has come due to the task pool, each tagged with its due time. Latency is
//! measured from that due time, so a stall anywhere (the pacer waking late, the pool busy,
//! the server slow) counts in full: there is no coordinated omission.
//!
//! A cap on requests in flight per connection bounds memory when the server cannot keep up:
//! a due request then waits for a free slot, and its latency includes the wait. Requests that
//! could not be sent before the step ended are counted as unsent, which marks the step as not
//! sustained.
//!
//! A run schedules at most `--max-records` records: a step that would pass the bound is cut
//! short (fewer requests, a shorter duration), and no step starts after it.
//!
//! Records refused with ProvisionedThroughputExceeded are counted as throttled and **not
//! retried**: retrying would add load the schedule did not ask for. No request is retried
//! (the client runs with `RetryPolicy::none()`), so every record has exactly one outcome.
//!
//! # Time
//! The schedule never runs past the load phase's deadline (see [`crate::budget`]), and every
//! wait for requests in flight ends by a deadline too. A request that gets no answer within
//! [`crate::budget::REQUEST_TIMEOUT`] fails with its outcome unknown and is counted as timed
//! out: the sign of a stalled server.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use futures::executor::ThreadPool;
use shoal_protocol::client::{Client, ClientError};
use shoal_protocol::ops::{Durability, PutRecord, PutRecords, PutRecordsEntry, PutRecordsResult};
use shoal_protocol::Status;

use crate::consumer::AckedTips;
use crate::keys::KeyPool;
use crate::payload::{self, Filler, Header, RecordId};
use crate::stats::{PutResult, Recorder};
use crate::Event;

/// How often a sleeping pacer checks whether it was asked to stop.
const STOP_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// What every put request needs, shared by the pool's tasks.
pub struct Shared {
    pub stream: String,
    pub keys: KeyPool,
    pub filler: Filler,
    /// Records per PutRecords request; 1 with `single`.
    pub batch: usize,
    /// PutRecord instead of PutRecords.
    pub single: bool,
    pub run_id: u64,
    pub seed: u64,
    pub recorder: Arc<Recorder>,
    /// Outcomes for the verifier (none when nothing is verified).
    pub events: Option<Sender<Event>>,
    /// Raised with every acknowledgement, before the request counts as done: readers stop at
    /// these once every request is done.
    pub acked: Arc<AckedTips>,
    /// Requests that got no answer in time.
    pub timed_out: AtomicU64,
}

impl Shared {
    /// Counts `error` if it is a timeout, and passes it on.
    fn count_timeout(&self, error: ClientError) -> ClientError {
        if matches!(error, ClientError::Timeout(_)) {
            self.timed_out.fetch_add(1, Ordering::Relaxed);
        }
        error
    }
}

/// What a record came to.
#[derive(Debug, Clone, Copy)]
pub enum RecordOutcome {
    Acked { shard: u32, seq: u128 },
    Refused,
    Unknown,
}

/// A counting semaphore for requests in flight.
struct InFlight {
    count: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot, waiting until `deadline` at most.
    fn acquire_until(&self, deadline: Instant) -> bool {
        let mut n = self.lock();
        while *n >= self.max {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            n = self.freed.wait_timeout(n, deadline - now).map(|r| r.0).unwrap_or_else(|p| p.into_inner().0);
        }
        *n += 1;
        true
    }

    fn release(&self) {
        *self.lock() -= 1;
        self.freed.notify_all();
    }

    /// Waits until nothing is in flight, until `deadline` at most.
    fn wait_idle_until(&self, deadline: Instant) -> bool {
        let mut n = self.lock();
        while *n > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            n = self.freed.wait_timeout(n, deadline - now).map(|r| r.0).unwrap_or_else(|p| p.into_inner().0);
        }
        true
    }
}

/// How a step's schedule went.
#[derive(Debug, Clone, Copy)]
pub struct StepRun {
    pub index: usize,
    pub records_per_second: f64,
    pub scheduled_requests: u64,
    pub sent_requests: u64,
    pub scheduled_records: u64,
    pub duration: Duration,
}

impl StepRun {
    pub fn unsent_requests(&self) -> u64 {
        self.scheduled_requests - self.sent_requests
    }
}

/// The producer connections and the pool their requests run on.
pub struct Producers {
    clients: Vec<Client>,
    pool: ThreadPool,
    shared: Arc<Shared>,
    in_flight: Arc<InFlight>,
    next_counter: Vec<u64>,
    next_request: u64,
    /// Records the schedule may still hold (`--max-records` less those scheduled).
    records_left: u64,
    /// Set (by SIGINT) to end the load early.
    stop: Arc<AtomicBool>,
    /// The load phase's deadline: no request is scheduled after it.
    deadline: Instant,
}

impl Producers {
    /// `clients` are the producer connections; at most `max_in_flight` requests per
    /// connection, `max_records` records scheduled in all, and none after `deadline`.
    pub fn new(
        clients: Vec<Client>,
        shared: Shared,
        max_in_flight: usize,
        max_records: u64,
        stop: Arc<AtomicBool>,
        deadline: Instant,
    ) -> std::io::Result<Producers> {
        // A request's socket write happens on the pool thread that polls it and blocks while
        // the server applies back-pressure: a thread per connection, plus one per CPU for
        // building requests, keeps one slow connection from delaying the others' schedule.
        let threads = clients.len() + std::thread::available_parallelism().map_or(2, |n| n.get());
        let pool = ThreadPool::builder().pool_size(threads).name_prefix("loadgen-put-").create()?;
        let max = clients.len() * max_in_flight.max(1);
        Ok(Producers {
            next_counter: vec![0; clients.len()],
            clients,
            pool,
            shared: Arc::new(shared),
            in_flight: Arc::new(InFlight { count: Mutex::new(0), freed: Condvar::new(), max }),
            next_request: 0,
            records_left: max_records,
            stop,
            deadline,
        })
    }

    /// Whether the load was asked to stop, or its deadline has passed.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    /// The load phase's deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether `--max-records` leaves no room for another request.
    pub fn exhausted(&self) -> bool {
        self.records_left < self.shared.batch.max(1) as u64
    }

    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.shared.recorder
    }

    /// Runs one step of the schedule on this thread: `records_per_second` for `duration`.
    /// Returns when the last request has been handed out; they may still be in flight.
    pub fn run_step(&mut self, records_per_second: f64, mut duration: Duration) -> StepRun {
        let batch = self.shared.batch.max(1);
        let interval = batch as f64 / records_per_second;
        let by_time = ((duration.as_secs_f64() / interval).floor() as u64).max(1);
        let scheduled = by_time.min(self.records_left / batch as u64);
        if scheduled < by_time {
            duration = Duration::from_secs_f64(scheduled as f64 * interval);
        }
        self.records_left -= scheduled * batch as u64;
        let start = Instant::now();
        let end = start + duration;
        let index = self.shared.recorder.start_step(start);
        let mut sent = 0;
        let mut scheduled_so_far = scheduled;
        for k in 0..scheduled {
            let due = start + Duration::from_secs_f64(k as f64 * interval);
            // Sleep until due, waking now and then to notice a stop.
            loop {
                let now = Instant::now();
                if due <= now || self.stopped() {
                    break;
                }
                std::thread::sleep((due - now).min(STOP_CHECK_INTERVAL));
            }
            if self.stopped() {
                scheduled_so_far = k;
                duration = start.elapsed();
                break;
            }
            let waiting = Instant::now();
            if !self.in_flight.acquire_until(end) {
                break;
            }
            self.dispatch(index, due, waiting.elapsed());
            sent += 1;
        }
        StepRun {
            index,
            records_per_second,
            scheduled_requests: scheduled_so_far,
            sent_requests: sent,
            scheduled_records: scheduled_so_far * batch as u64,
            duration,
        }
    }

    /// Waits until every request handed out has completed, until `deadline` at most.
    pub fn wait_idle_until(&self, deadline: Instant) -> bool {
        self.in_flight.wait_idle_until(deadline)
    }

    /// Requests handed out and not completed yet.
    pub fn in_flight(&self) -> usize {
        *self.in_flight.lock()
    }

    /// Requests that got no answer in time, so far.
    pub fn timed_out(&self) -> u64 {
        self.shared.timed_out.load(Ordering::Relaxed)
    }

    /// `slot_wait`: how long the request waited for an in-flight slot (the server's delay, not
    /// the generator's).
    fn dispatch(&mut self, step: usize, due: Instant, slot_wait: Duration) {
        let producer = (self.next_request % self.clients.len() as u64) as usize;
        self.next_request += 1;
        let batch = self.shared.batch.max(1);
        let first = self.next_counter[producer];
        self.next_counter[producer] += batch as u64;
        let client = self.clients[producer].clone();
        let shared = Arc::clone(&self.shared);
        let in_flight = Arc::clone(&self.in_flight);
        self.pool.spawn_ok(async move {
            put(&client, &shared, step, producer as u32, first, due, slot_wait).await;
            in_flight.release();
        });
    }
}

/// Builds, sends and accounts for one put request.
async fn put(
    client: &Client,
    shared: &Shared,
    step: usize,
    producer: u32,
    first: u64,
    due: Instant,
    slot_wait: Duration,
) {
    let batch = shared.batch.max(1);
    let due_ns = due.saturating_duration_since(shared.recorder.epoch()).as_nanos() as u64;
    let mut rng = fastrand::Rng::with_seed(shared.seed ^ (u64::from(producer) << 48) ^ first);
    let mut records = Vec::with_capacity(batch);
    let mut meta = Vec::with_capacity(batch);
    for i in 0..batch as u64 {
        let key = shared.keys.pick(&mut rng);
        let id = RecordId { producer, counter: first + i };
        let data = payload::build(&Header { id, run_id: shared.run_id, due_ns }, &shared.filler);
        meta.push((id, key.shard, key.key.len() + data.len()));
        records.push(PutRecordsEntry::new(key.key.clone(), data));
    }
    // The generator's own delay: pacer lateness, pool queueing and building, without the wait
    // for an in-flight slot (that one is the server's: every slot held an unanswered request).
    let send_delay_us = due.elapsed().saturating_sub(slot_wait).as_micros() as u64;
    let mut result = PutResult { step, records: batch as u64, send_delay_us, ..PutResult::default() };
    let mut outcomes: Vec<(RecordId, RecordOutcome)> = Vec::with_capacity(batch);
    if shared.single {
        let entry = records.pop();
        let answer = match entry {
            Some(e) => {
                let request = PutRecord::new(shared.stream.clone(), e.partition_key, e.data);
                client.put_record(request).await.map(|o| {
                    (
                        vec![PutRecordsResult::Success { shard: o.shard, sequence_number: o.sequence_number }],
                        o.durability,
                    )
                })
            }
            None => return,
        };
        match answer {
            Ok((results, durability)) => account(&mut result, &mut outcomes, &meta, results, durability),
            Err(e) => request_failed(&mut result, &mut outcomes, &meta, shared.count_timeout(e), "PutRecord"),
        }
    } else {
        match client.put_records(PutRecords::new(shared.stream.clone(), records)).await {
            Ok(out) => account(&mut result, &mut outcomes, &meta, out.records, out.durability),
            Err(e) => request_failed(&mut result, &mut outcomes, &meta, shared.count_timeout(e), "PutRecords"),
        }
    }
    shared.acked.raise(outcomes.iter().filter_map(|&(_, outcome)| match outcome {
        RecordOutcome::Acked { shard, seq } => Some((shard, seq)),
        RecordOutcome::Refused | RecordOutcome::Unknown => None,
    }));
    shared.recorder.put_done(due, result);
    if let Some(events) = &shared.events {
        let _ = events.send(Event::Outcomes(outcomes));
    }
}

type Meta = (RecordId, u32, usize);

fn account(
    result: &mut PutResult,
    outcomes: &mut Vec<(RecordId, RecordOutcome)>,
    meta: &[Meta],
    answers: Vec<PutRecordsResult>,
    durability: Durability,
) {
    let mut shards: std::collections::BTreeMap<u32, (u64, u64, u64)> = Default::default();
    for (&(id, key_shard, bytes), answer) in meta.iter().zip(answers) {
        let outcome = match answer {
            PutRecordsResult::Success { shard, sequence_number } => {
                result.accepted += 1;
                result.accepted_bytes += bytes as u64;
                if durability != Durability::Synced {
                    result.accepted_unsynced += 1;
                }
                shards.entry(shard).or_default().0 += 1;
                RecordOutcome::Acked { shard, seq: sequence_number }
            }
            PutRecordsResult::Failure { status, message } => {
                let throttled = status == Status::ProvisionedThroughputExceeded;
                let counts = shards.entry(key_shard).or_default();
                if throttled {
                    counts.1 += 1;
                } else {
                    counts.2 += 1;
                    result
                        .error
                        .get_or_insert_with(|| format!("PutRecords record failed: {}: {message}", status.name()));
                }
                failed_record(result, throttled)
            }
        };
        outcomes.push((id, outcome));
    }
    result.shards = shards.into_iter().map(|(s, (a, t, f))| (s, a, t, f)).collect();
}

fn request_failed(
    result: &mut PutResult,
    outcomes: &mut Vec<(RecordId, RecordOutcome)>,
    meta: &[Meta],
    error: ClientError,
    operation: &str,
) {
    // A throttled PutRecord is an error answer: nothing was stored.
    let throttled = error.status() == Some(Status::ProvisionedThroughputExceeded);
    if !throttled {
        result.request_failed = true;
        result.error = Some(format!("{operation} failed: {error}"));
    }
    let mut shards: std::collections::BTreeMap<u32, (u64, u64, u64)> = Default::default();
    for &(id, key_shard, _) in meta {
        let counts = shards.entry(key_shard).or_default();
        if throttled {
            counts.1 += 1;
        } else {
            counts.2 += 1;
        }
        outcomes.push((id, failed_record(result, throttled)));
    }
    result.shards = shards.into_iter().map(|(s, (a, t, f))| (s, a, t, f)).collect();
}

/// Counts a record that was not stored (throttled) or whose fate is unknown (failed).
fn failed_record(result: &mut PutResult, throttled: bool) -> RecordOutcome {
    if throttled {
        result.throttled += 1;
        RecordOutcome::Refused
    } else {
        result.failed += 1;
        RecordOutcome::Unknown
    }
}
