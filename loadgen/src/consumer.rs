//! Polled consumers: one thread per consumer, a GetRecords loop within the shard's read limits.
//!
//! A consumer polls once per poll interval (by default the shard's 5 calls/s shared by its
//! consumers, with some room to spare), asking for no more records than the read byte limit
//! allows per interval, so it does not run the shard's read budget into debt. On a stream
//! without limits it polls again at once while it is behind. Every response goes to the
//! verifier as it came; the put→read latency of every record is measured when its response
//! arrives.
//!
//! # When a reader stops
//! Producers raise their shard's [`AckedTips`] with every acknowledgement. Once the producers
//! are done (every put answered, so the tips are final), a reader of a shard stops as soon as
//! it has received a record at or past the shard's highest acknowledged sequence number (at
//! once if nothing was acknowledged there): records arrive in sequence order, so it has been
//! offered every acknowledged record of its shard, and the verifier judges what it got. No
//! guess from an empty or caught-up response is involved. A reader that has not got there by
//! the drain deadline stops and says how far it got; the verifier reports every acknowledged
//! record it did not receive as lost, with that reason. Polled consumers and fan-out
//! subscribers ([`crate::subscriber`]) follow the same rule.
//!
//! A call waits [`crate::budget::REQUEST_TIMEOUT`] at most, and the wait between polls looks at
//! the deadline every `STOP_CHECK_INTERVAL` (100 ms). A reader still in a call at the drain
//! deadline is not waited for: the run reports it stalled.
//!
//! Consumers are one kind of reader; enhanced fan-out subscribers ([`crate::subscriber`]) are
//! another, feeding the same verifier and recorder through [`Event::Read`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::executor::block_on;
use shoal_protocol::client::Client;
use shoal_protocol::ops::{GetRecords, GetShardIterator, ShardIteratorType};
use shoal_protocol::Status;

use crate::payload;
use crate::stats::Recorder;
use crate::verify::ConsumerId;
use crate::Event;

/// Consecutive failed calls (other than throttling) after which a consumer gives up.
const ERRORS_IN_A_ROW_MAX: u32 = 20;
/// How the reason a reader stopped at the drain deadline begins.
pub const DRAIN_TIMEOUT: &str = "drain timeout";
/// The longest a consumer sleeps between polls before it looks at the deadline again.
const STOP_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The highest sequence number acknowledged on each shard so far: where its readers may stop
/// once the producers are done.
#[derive(Debug, Default)]
pub struct AckedTips {
    tips: Mutex<BTreeMap<u32, u128>>,
}

impl AckedTips {
    /// Acknowledgements (shard, sequence number) of one put request.
    pub fn raise(&self, acks: impl IntoIterator<Item = (u32, u128)>) {
        let mut tips = self.tips.lock().unwrap_or_else(|p| p.into_inner());
        for (shard, seq) in acks {
            let tip = tips.entry(shard).or_insert(seq);
            *tip = (*tip).max(seq);
        }
    }

    /// `None` if nothing was acknowledged on `shard`.
    pub fn tip(&self, shard: u32) -> Option<u128> {
        self.tips.lock().unwrap_or_else(|p| p.into_inner()).get(&shard).copied()
    }
}

/// Whether a reader that has received records up to sequence number `received` has been
/// offered everything acknowledged up to `tip`.
pub fn reached(received: Option<u128>, tip: Option<u128>) -> bool {
    match tip {
        None => true,
        Some(tip) => received.is_some_and(|r| r >= tip),
    }
}

/// What all consumers share.
pub struct Shared {
    pub stream: String,
    pub recorder: Arc<Recorder>,
    pub events: Sender<Event>,
    /// Set once every put has been answered.
    pub producers_done: AtomicBool,
    /// After this, consumers stop where they are (set with `producers_done`).
    pub drain_deadline: Mutex<Option<Instant>>,
    /// Wall-clock ms when the run began: where to restart if an iterator expires before the
    /// first record.
    pub start_timestamp_ms: u64,
    /// Raised by the producers; final once `producers_done` is set.
    pub acked: Arc<AckedTips>,
}

impl Shared {
    fn deadline_passed(&self) -> bool {
        let deadline = *self.drain_deadline.lock().unwrap_or_else(|p| p.into_inner());
        deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Whether a reader of `shard` that has received up to `received` stops, and why if early:
    /// `Some(None)` when it has received everything acknowledged on its shard after the
    /// producers are done, `Some(Some(why))` at the drain deadline, `None` to go on.
    pub(crate) fn stop(&self, shard: u32, received: Option<u128>) -> Option<Option<String>> {
        if !self.producers_done.load(Ordering::Acquire) {
            return None;
        }
        let tip = self.acked.tip(shard);
        if reached(received, tip) {
            return Some(None);
        }
        if !self.deadline_passed() {
            return None;
        }
        let got = received.map_or("nothing".to_string(), |seq| format!("up to seq {seq}"));
        let tip = tip.map_or(String::new(), |t| t.to_string());
        Some(Some(format!("{DRAIN_TIMEOUT}: received {got}, the shard's last acknowledged record is at seq {tip}")))
    }
}

/// How one consumer reads.
#[derive(Debug, Clone)]
pub struct Settings {
    pub poll_interval: Duration,
    /// Records asked for per call.
    pub limit: u32,
    /// The stream has no read limits: poll again at once while behind.
    pub unlimited: bool,
    /// Testing the tester: damage one response of consumer 0 of each shard (`--inject`); fan-out
    /// subscriber 0 of each shard gets the same fault in one of its events.
    pub inject: Option<Fault>,
}

/// A fault injected between a consumer and the verifier, to show that the verifier catches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// Drop the second record of a response.
    Lose,
    /// Deliver the second record twice.
    Duplicate,
    /// Swap the second and third records.
    Reorder,
    /// Flip a bit in the second record's data.
    Corrupt,
}

impl Fault {
    /// Applies the fault to a response of at least 3 records.
    pub fn apply(self, records: &mut Vec<(u128, Bytes)>) {
        match self {
            Fault::Lose => {
                records.remove(1);
            }
            Fault::Duplicate => records.insert(2, records[1].clone()),
            Fault::Reorder => records.swap(1, 2),
            Fault::Corrupt => {
                let mut data = records[1].1.to_vec();
                if let Some(last) = data.last_mut() {
                    *last ^= 0x01;
                }
                records[1].1 = Bytes::from(data);
            }
        }
    }
}

/// How a consumer ended.
#[derive(Debug, Clone)]
pub struct ConsumerEnd {
    pub id: ConsumerId,
    pub records: u64,
    pub last_seq: Option<u128>,
    /// Why it stopped before reading everything, if it did.
    pub stopped_early: Option<String>,
}

/// Starts a consumer reading from `iterator` (taken before the producers started).
pub fn spawn(
    client: Client,
    id: ConsumerId,
    iterator: Bytes,
    settings: Settings,
    shared: Arc<Shared>,
) -> std::io::Result<std::thread::JoinHandle<ConsumerEnd>> {
    std::thread::Builder::new()
        .name(format!("loadgen-read-{}-{}", id.shard, id.index))
        .spawn(move || consume(&client, id, iterator, &settings, &shared))
}

fn consume(client: &Client, id: ConsumerId, iterator: Bytes, settings: &Settings, shared: &Shared) -> ConsumerEnd {
    let mut end = ConsumerEnd { id, records: 0, last_seq: None, stopped_early: None };
    let mut iterator = Some(iterator);
    let mut errors_in_a_row = 0;
    let mut fault = settings.inject.filter(|_| id.index == 0);
    // The highest sequence number the server sent (before any injected fault).
    let mut received_up_to: Option<u128> = None;
    loop {
        let call_start = Instant::now();
        if let Some(why) = shared.stop(id.shard, received_up_to) {
            end.stopped_early = why;
            break;
        }
        let Some(it) = iterator.clone() else {
            break; // the shard was closed and fully read
        };
        let mut again_at_once = false;
        let mut request = GetRecords::new(it);
        request.limit = Some(settings.limit);
        match block_on(client.get_records(request)) {
            Ok(out) => {
                errors_in_a_row = 0;
                let received = Instant::now();
                if out.records.is_empty() {
                    shared.recorder.read_call(false, None);
                } else {
                    let due: Vec<u64> = out.records.iter().filter_map(|r| payload::peek_due_ns(&r.data)).collect();
                    let bytes: u64 = out.records.iter().map(|r| (r.data.len() + r.partition_key.len()) as u64).sum();
                    shared.recorder.reads(id, &due, bytes, received);
                }
                end.records += out.records.len() as u64;
                end.last_seq = out.records.last().map(|r| r.sequence_number).or(end.last_seq);
                received_up_to = out.records.iter().map(|r| r.sequence_number).max().max(received_up_to);
                let behind = out.millis_behind_latest > 0 || out.records.len() >= settings.limit as usize;
                let mut records: Vec<(u128, Bytes)> =
                    out.records.into_iter().map(|r| (r.sequence_number, r.data)).collect();
                if let Some(fault) = fault.take_if(|_| records.len() >= 3) {
                    fault.apply(&mut records);
                }
                if !records.is_empty() {
                    let _ = shared.events.send(Event::Read { consumer: id, records });
                }
                iterator = out.next_iterator;
                // Done now: no poll interval to wait out first.
                again_at_once = (settings.unlimited && behind) || shared.stop(id.shard, received_up_to).is_some();
            }
            Err(e) if e.status() == Some(Status::ProvisionedThroughputExceeded) => {
                shared.recorder.read_call(true, None);
            }
            Err(e) if e.status() == Some(Status::ExpiredIterator) => {
                let request = match end.last_seq {
                    Some(seq) => GetShardIterator::after_sequence_number(shared.stream.clone(), id.shard, seq),
                    None => GetShardIterator {
                        timestamp_ms: Some(shared.start_timestamp_ms),
                        ..GetShardIterator::new(shared.stream.clone(), id.shard, ShardIteratorType::AtTimestamp)
                    },
                };
                match block_on(client.get_shard_iterator(request)) {
                    Ok(out) => iterator = Some(out.iterator),
                    Err(e) => {
                        shared.recorder.read_call(false, Some(format!("GetShardIterator failed: {e}")));
                        errors_in_a_row += 1;
                    }
                }
                again_at_once = true;
            }
            Err(e) => {
                shared.recorder.read_call(false, Some(format!("GetRecords failed: {e}")));
                errors_in_a_row += 1;
            }
        }
        if errors_in_a_row >= ERRORS_IN_A_ROW_MAX {
            end.stopped_early = Some(format!("{ERRORS_IN_A_ROW_MAX} failed calls in a row"));
            break;
        }
        if !again_at_once {
            // In slices, so that a long --poll-interval does not outlast the drain deadline.
            let next = call_start + settings.poll_interval;
            loop {
                let now = Instant::now();
                if next <= now || shared.stop(id.shard, received_up_to).is_some() {
                    break;
                }
                std::thread::sleep((next - now).min(STOP_CHECK_INTERVAL));
            }
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_is_done_at_its_shards_highest_acknowledged_sequence_number() {
        let tips = AckedTips::default();
        assert_eq!(tips.tip(0), None);
        assert!(reached(None, tips.tip(0)), "nothing acknowledged: nothing to wait for");
        tips.raise([(0, 7), (1, 3), (0, 5)]);
        tips.raise([(0, 6)]);
        assert_eq!((tips.tip(0), tips.tip(1), tips.tip(2)), (Some(7), Some(3), None));
        assert!(!reached(None, tips.tip(0)));
        assert!(!reached(Some(6), tips.tip(0)));
        assert!(reached(Some(7), tips.tip(0)));
        assert!(reached(Some(9), tips.tip(0)), "another writer's record past the tip");
    }

    fn shared(done: bool, deadline: Option<Instant>) -> Shared {
        let shared = Shared {
            stream: "s".into(),
            recorder: Arc::new(Recorder::new(Instant::now())),
            events: std::sync::mpsc::channel().0,
            producers_done: AtomicBool::new(done),
            drain_deadline: Mutex::new(deadline),
            start_timestamp_ms: 0,
            acked: Arc::new(AckedTips::default()),
        };
        shared.acked.raise([(0, 10)]);
        shared
    }

    #[test]
    fn readers_stop_only_after_the_producers_at_the_tip_or_the_deadline() {
        let past = Some(Instant::now());
        assert_eq!(shared(false, past).stop(0, Some(10)), None, "producers still running");
        assert_eq!(shared(true, None).stop(0, Some(9)), None, "short of the tip");
        assert_eq!(shared(true, None).stop(0, Some(10)), Some(None));
        assert_eq!(shared(true, past).stop(0, Some(10)), Some(None), "at the tip by the deadline");
        assert_eq!(shared(true, None).stop(1, None), Some(None), "nothing acknowledged on shard 1");
        let why = shared(true, past).stop(0, Some(9)).flatten().expect("stopped early");
        assert_eq!(why, "drain timeout: received up to seq 9, the shard's last acknowledged record is at seq 10");
    }
}
