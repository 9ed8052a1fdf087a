//! End-to-end verification: every acknowledged record is read by every consumer of its shard
//! exactly once, in sequence order, at the sequence number it was acknowledged with, with an
//! intact payload. A pure state machine: feed it what producers and consumers saw, in any
//! interleaving, then ask for the verdict.
//!
//! # What it is told
//! * [`Verifier::acked`]: the server acknowledged a record at (shard, sequence number).
//! * [`Verifier::refused`]: the server refused a record (throttled): it must never be read.
//! * [`Verifier::unknown`]: the request failed in a way that leaves its outcome open (timeout,
//!   lost connection, internal failure): the record may be read once, or not at all.
//! * [`Verifier::read`]: a consumer received a record at a sequence number, in the order of the
//!   responses.
//!
//! Acknowledgements and reads race: the server makes a record readable before the producer has
//! processed its ack, so a read may come first. Such reads wait in a per-consumer "early" map
//! until their outcome is known.
//!
//! # Invariants checked, and the failure each break reports
//! * A consumer's sequence numbers strictly increase: the same number twice is
//!   [`FailureKind::Duplicated`], a smaller one [`FailureKind::Reordered`].
//! * A record is read at the sequence number (and shard) it was acknowledged with, else
//!   [`FailureKind::Reordered`].
//! * No record identity is read twice by one consumer ([`FailureKind::Duplicated`]: stored twice).
//! * Every acknowledged record is read: a consumer that reads past its sequence number without
//!   it, or stops before it, reports [`FailureKind::Lost`].
//! * Every payload's checksum holds ([`FailureKind::Corrupted`]).
//! * Each fault is reported once, as what it is, whichever of the read and the acknowledgement
//!   reaches the verifier first: a record read corrupted (or out of order) before its
//!   acknowledgement is not also reported lost when the acknowledgement comes.
//! * A refused record is never read ([`FailureKind::Phantom`]).
//! * Records of other writers ([`FailureKind::Foreign`]) fail the run only on a stream the run
//!   created itself; on an existing stream they are counted and skipped.
//!
//! # Memory
//! Per producer one byte per record (its outcome); per consumer one bit per record (seen) and
//! the records acknowledged but not yet read, which stays small while consumers keep up.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::payload::{self, PayloadError, RecordId};

/// How many failures of each kind are kept with their details (all are counted).
const DETAILS_PER_KIND_MAX: usize = 10;
/// Per consumer, how many records reported lost (read past) are remembered, so that one
/// arriving late is reported as reordered instead.
const SKIPPED_KEPT_MAX: usize = 4096;
/// Per consumer, how many places of records read corrupted before their acknowledgement are
/// remembered, so that the acknowledgement finds its record there instead of reporting it lost.
const CORRUPTED_KEPT_MAX: usize = 4096;

/// How a consumer receives records: polled GetRecords loops, or enhanced fan-out subscribers
/// (SubscribeToShard) pushed to by the server. Both feed the verifier the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderKind {
    Polled,
    FanOut,
}

/// One consumer: the shard it reads, how, and its number among that shard's consumers of
/// that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ConsumerId {
    pub shard: u32,
    pub kind: ReaderKind,
    pub index: u16,
}

impl ConsumerId {
    pub fn polled(shard: u32, index: u16) -> ConsumerId {
        ConsumerId { shard, kind: ReaderKind::Polled, index }
    }
}

impl std::fmt::Display for ConsumerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            ReaderKind::Polled => "polled",
            ReaderKind::FanOut => "fan-out",
        };
        write!(f, "{kind} consumer {} of shard {}", self.index, self.shard)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    Lost,
    Duplicated,
    Reordered,
    Corrupted,
    Phantom,
    Foreign,
}

impl FailureKind {
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Lost => "lost",
            FailureKind::Duplicated => "duplicated",
            FailureKind::Reordered => "reordered",
            FailureKind::Corrupted => "corrupted",
            FailureKind::Phantom => "phantom",
            FailureKind::Foreign => "foreign",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub shard: Option<u32>,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Records of other runs are foreign.
    pub run_id: u64,
    /// Producer numbers are below this.
    pub producers: u32,
    /// The shards read, and how many consumers of each kind read each.
    pub shards: Vec<u32>,
    pub polled_per_shard: u16,
    pub fanout_per_shard: u16,
    /// Whether a record the run did not write is a failure (the run created the stream) or is
    /// skipped (an existing stream others may write to).
    pub foreign_is_failure: bool,
}

/// The outcome of verification.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub consumers: usize,
    /// Records the server acknowledged.
    pub acknowledged: u64,
    /// Acknowledged records read where they belong, summed over consumers.
    pub deliveries_verified: u64,
    /// Records refused (throttled) by the server: never to be read.
    pub refused: u64,
    /// Records whose request failed without a definite answer.
    pub outcome_unknown: u64,
    /// Of those, deliveries that were read (stored although the request failed; allowed).
    pub unknown_outcome_reads: u64,
    /// Records of other writers skipped on an existing stream.
    pub foreign_skipped: u64,
    /// Failures by kind (all of them).
    pub failure_counts: BTreeMap<FailureKind, u64>,
    /// The first failures of each kind, with what went wrong.
    pub failures: Vec<Failure>,
}

impl Verdict {
    /// One line: what passed, or which failures happened.
    pub fn summary(&self) -> String {
        if self.passed {
            let refused = if self.refused > 0 {
                format!("; none of the {} throttled records appeared", self.refused)
            } else {
                String::new()
            };
            format!(
                "PASS: {} acknowledged records, {} deliveries to {} consumer(s), each exactly once, in sequence \
                 order, checksums intact{refused}",
                self.acknowledged, self.deliveries_verified, self.consumers
            )
        } else {
            let kinds: Vec<String> = self.failure_counts.iter().map(|(k, n)| format!("{n} {}", k.name())).collect();
            format!("FAIL: {}", kinds.join(", "))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pending = 0,
    Acked = 1,
    Refused = 2,
    Unknown = 3,
}

#[derive(Debug, Default)]
struct ConsumerState {
    last_seq: Option<u128>,
    /// Acknowledged, not yet read: by sequence number, and the reverse.
    pending: BTreeMap<u128, RecordId>,
    pending_seq: HashMap<RecordId, u128>,
    /// Read before the outcome was known: record → sequence number it was read at.
    early: HashMap<RecordId, u128>,
    /// Per producer, one bit per record: read already.
    seen: Vec<Vec<u64>>,
    /// Why the consumer stopped before the end, if it did.
    stopped_early: Option<String>,
    /// Acknowledged records this consumer read past (reported lost), by sequence number.
    skipped: BTreeMap<u128, RecordId>,
    /// Places where this consumer read something that is not an intact record of this run,
    /// before any record was acknowledged there: whether it was reported corrupted (else it was
    /// skipped as another writer's). An acknowledgement at such a place is that record, damaged.
    damaged: BTreeMap<u128, bool>,
    /// Records read out of sequence order (reported reordered) before their acknowledgement:
    /// the acknowledgement must not report them lost as well.
    reordered_early: HashMap<RecordId, u128>,
}

impl ConsumerState {
    fn seen(&self, id: RecordId) -> bool {
        let (word, bit) = ((id.counter / 64) as usize, id.counter % 64);
        self.seen.get(id.producer as usize).and_then(|w| w.get(word)).is_some_and(|w| w & (1 << bit) != 0)
    }

    fn mark_seen(&mut self, id: RecordId) {
        let (word, bit) = ((id.counter / 64) as usize, id.counter % 64);
        let producer = id.producer as usize;
        if self.seen.len() <= producer {
            self.seen.resize_with(producer + 1, Vec::new);
        }
        let words = &mut self.seen[producer];
        if words.len() <= word {
            words.resize(word + 1, 0);
        }
        words[word] |= 1 << bit;
    }

    fn take_pending(&mut self, seq: u128) -> Option<RecordId> {
        let id = self.pending.remove(&seq)?;
        self.pending_seq.remove(&id);
        Some(id)
    }

    fn remember_damaged(&mut self, seq: u128, reported: bool) {
        self.damaged.insert(seq, reported);
        if self.damaged.len() > CORRUPTED_KEPT_MAX {
            self.damaged.pop_first();
        }
    }
}

pub struct Verifier {
    config: VerifierConfig,
    /// Per producer, per record: an [`Outcome`] as a byte.
    outcomes: Vec<Vec<u8>>,
    consumers: BTreeMap<ConsumerId, ConsumerState>,
    acknowledged: u64,
    verified: u64,
    refused: u64,
    unknown: u64,
    unknown_reads: u64,
    foreign_skipped: u64,
    counts: BTreeMap<FailureKind, u64>,
    /// With the consumer and sequence number a lost or corrupted record was reported at, so a
    /// loss can be withdrawn if the record turns up late, and a corruption found before its
    /// acknowledgement can name the record once it is known.
    failures: Vec<(Failure, Option<(ConsumerId, u128)>)>,
}

impl Verifier {
    pub fn new(config: VerifierConfig) -> Verifier {
        let mut consumers = BTreeMap::new();
        for &shard in &config.shards {
            for (kind, n) in
                [(ReaderKind::Polled, config.polled_per_shard), (ReaderKind::FanOut, config.fanout_per_shard)]
            {
                for index in 0..n {
                    consumers.insert(ConsumerId { shard, kind, index }, ConsumerState::default());
                }
            }
        }
        Verifier {
            outcomes: vec![Vec::new(); config.producers as usize],
            config,
            consumers,
            acknowledged: 0,
            verified: 0,
            refused: 0,
            unknown: 0,
            unknown_reads: 0,
            foreign_skipped: 0,
            counts: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    fn fail(&mut self, kind: FailureKind, shard: Option<u32>, detail: String) {
        self.fail_at(kind, shard, detail, None);
    }

    fn fail_at(&mut self, kind: FailureKind, shard: Option<u32>, detail: String, at: Option<(ConsumerId, u128)>) {
        let n = self.counts.entry(kind).or_insert(0);
        *n += 1;
        if *n as usize <= DETAILS_PER_KIND_MAX {
            self.failures.push((Failure { kind, shard, detail }, at));
        }
    }

    /// Withdraws the report that `consumer` lost the record at `seq`.
    fn unlose(&mut self, consumer: ConsumerId, seq: u128) {
        if let Some(n) = self.counts.get_mut(&FailureKind::Lost) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&FailureKind::Lost);
            }
        }
        self.failures.retain(|(f, at)| !(f.kind == FailureKind::Lost && *at == Some((consumer, seq))));
    }

    /// Adds what was acknowledged at `seq` to the report that `consumer` read it corrupted.
    fn name_corrupted(&mut self, consumer: ConsumerId, seq: u128, id: RecordId) {
        let reported =
            self.failures.iter_mut().find(|(f, at)| f.kind == FailureKind::Corrupted && *at == Some((consumer, seq)));
        if let Some((f, _)) = reported {
            f.detail.push_str(&format!(" (acknowledged afterwards as {id})"));
        }
    }

    fn outcome(&self, id: RecordId) -> Outcome {
        let byte = self.outcomes.get(id.producer as usize).and_then(|o| o.get(id.counter as usize)).copied();
        match byte {
            Some(1) => Outcome::Acked,
            Some(2) => Outcome::Refused,
            Some(3) => Outcome::Unknown,
            _ => Outcome::Pending,
        }
    }

    /// Records the outcome; false if the record already had one (reported as a failure).
    fn set_outcome(&mut self, id: RecordId, outcome: Outcome) -> bool {
        let Some(slots) = self.outcomes.get_mut(id.producer as usize) else {
            self.fail(FailureKind::Corrupted, None, format!("{id}: outcome for an unknown producer"));
            return false;
        };
        let at = id.counter as usize;
        if slots.len() <= at {
            slots.resize(at + 1, Outcome::Pending as u8);
        }
        let before = slots[at];
        slots[at] = outcome as u8;
        if before != Outcome::Pending as u8 {
            self.fail(FailureKind::Duplicated, None, format!("{id}: two outcomes reported for one record"));
            return false;
        }
        true
    }

    /// The server acknowledged `id` at `seq` in `shard`.
    pub fn acked(&mut self, id: RecordId, shard: u32, seq: u128) {
        if !self.set_outcome(id, Outcome::Acked) {
            return;
        }
        self.acknowledged += 1;
        if !self.consumers.is_empty() && !self.config.shards.contains(&shard) {
            self.fail(
                FailureKind::Lost,
                Some(shard),
                format!("{id} acknowledged at seq {seq} in shard {shard}, which is not among the shards read"),
            );
            return;
        }
        let mut failures = Vec::new();
        let mut corrupted_before = Vec::new();
        let first = ConsumerId { shard, kind: ReaderKind::Polled, index: 0 };
        let last = ConsumerId { shard, kind: ReaderKind::FanOut, index: u16::MAX };
        for (cid, c) in self.consumers.range_mut(first..=last) {
            if let Some(read_at) = c.early.remove(&id) {
                if read_at == seq {
                    self.verified += 1;
                } else {
                    failures.push((
                        FailureKind::Reordered,
                        format!("{id} acknowledged at seq {seq} but {cid} read it at seq {read_at}"),
                    ));
                }
            } else if c.reordered_early.remove(&id).is_some() {
                // Read out of order before this acknowledgement: reported as reordered then.
            } else if let Some(reported) = c.damaged.remove(&seq) {
                // Read at its place before this acknowledgement, damaged: corrupted, not lost.
                if reported {
                    corrupted_before.push(*cid);
                } else {
                    failures.push((
                        FailureKind::Corrupted,
                        format!("{id} acknowledged at seq {seq}, where {cid} read data that is not a record"),
                    ));
                }
            } else if c.last_seq.is_some_and(|last| last >= seq) {
                failures.push((
                    FailureKind::Lost,
                    format!(
                        "{id} acknowledged at seq {seq}, but {cid} read past it (seq {}) without it",
                        c.last_seq.unwrap_or(0)
                    ),
                ));
            } else if let Some(other) = c.pending.insert(seq, id) {
                failures.push((FailureKind::Duplicated, format!("{id} and {other} both acknowledged at seq {seq}")));
            } else {
                c.pending_seq.insert(id, seq);
            }
        }
        for (kind, detail) in failures {
            self.fail(kind, Some(shard), detail);
        }
        for cid in corrupted_before {
            self.name_corrupted(cid, seq, id);
        }
    }

    /// The server refused `id` (throttled): nothing of it may be read.
    pub fn refused(&mut self, id: RecordId) {
        if !self.set_outcome(id, Outcome::Refused) {
            return;
        }
        self.refused += 1;
        let mut phantoms = Vec::new();
        for (cid, c) in &mut self.consumers {
            if let Some(seq) = c.early.remove(&id) {
                phantoms.push((cid.shard, format!("{id} was refused (throttled), yet {cid} read it at seq {seq}")));
            }
        }
        for (shard, detail) in phantoms {
            self.fail(FailureKind::Phantom, Some(shard), detail);
        }
    }

    /// The request carrying `id` failed without a definite answer: it may have been stored.
    pub fn unknown(&mut self, id: RecordId) {
        if self.set_outcome(id, Outcome::Unknown) {
            self.unknown += 1;
        }
    }

    /// `consumer` received `data` at `seq`, in response order.
    pub fn read(&mut self, consumer: ConsumerId, seq: u128, data: &[u8]) {
        let shard = Some(consumer.shard);
        let Some(c) = self.consumers.get_mut(&consumer) else {
            self.fail(FailureKind::Corrupted, shard, format!("read by unknown {consumer}"));
            return;
        };
        if let Some(last) = c.last_seq {
            if seq == last {
                self.fail(FailureKind::Duplicated, shard, format!("{consumer} received seq {seq} twice in a row"));
                return;
            }
            if seq < last {
                let late = c.skipped.remove(&seq);
                let ours = payload::parse(data).ok().filter(|h| h.run_id == self.config.run_id).map(|h| h.id);
                if let Some(pid) = late {
                    // Reported lost when the consumer read past it: it came late instead.
                    self.unlose(consumer, seq);
                    if ours == Some(pid) {
                        self.consumer(consumer).mark_seen(pid);
                    }
                } else if let Some(id) = ours.filter(|&id| self.outcome(id) == Outcome::Pending) {
                    // Not acknowledged yet: its acknowledgement will find it reported here.
                    let c = self.consumer(consumer);
                    if !c.seen(id) {
                        c.mark_seen(id);
                        c.reordered_early.insert(id, seq);
                    }
                }
                let what = late.map_or(String::new(), |id| format!(" ({id})"));
                self.fail(
                    FailureKind::Reordered,
                    shard,
                    format!("{consumer} received seq {seq}{what} after seq {last}"),
                );
                return;
            }
        }
        c.last_seq = Some(seq);
        // Reads come in order: every acknowledged record below `seq` not read yet is gone.
        let mut lost = Vec::new();
        while let Some((&pseq, &pid)) = c.pending.first_key_value() {
            if pseq >= seq {
                break;
            }
            c.take_pending(pseq);
            c.skipped.insert(pseq, pid);
            if c.skipped.len() > SKIPPED_KEPT_MAX {
                c.skipped.pop_first();
            }
            lost.push((pseq, format!("{pid} acknowledged at seq {pseq} is missing: {consumer} read seq {seq} next")));
        }
        for (pseq, detail) in lost {
            self.fail_at(FailureKind::Lost, shard, detail, Some((consumer, pseq)));
        }
        let header = match payload::parse(data) {
            Ok(h) => h,
            Err(PayloadError::Checksum { stored, computed }) => {
                let c = self.consumer(consumer);
                let pid = c.take_pending(seq);
                if pid.is_none() {
                    c.remember_damaged(seq, true);
                }
                let was = pid.map_or(String::new(), |id| format!(" (acknowledged as {id})"));
                self.fail_at(
                    FailureKind::Corrupted,
                    shard,
                    format!("seq {seq}{was} read by {consumer}: checksum mismatch (stored {stored:016x}, computed {computed:016x})"),
                    Some((consumer, seq)),
                );
                return;
            }
            Err(e) => {
                let foreign_is_failure = self.config.foreign_is_failure;
                let c = self.consumer(consumer);
                let pid = c.take_pending(seq);
                let reported = foreign_is_failure || pid.is_some();
                if pid.is_none() {
                    c.remember_damaged(seq, reported);
                }
                if reported {
                    let was = pid.map_or(String::new(), |id| format!(" (acknowledged as {id})"));
                    self.fail_at(
                        FailureKind::Corrupted,
                        shard,
                        format!("seq {seq}{was} read by {consumer}: {e}"),
                        Some((consumer, seq)),
                    );
                } else {
                    self.foreign_skipped += 1;
                }
                return;
            }
        };
        if header.run_id != self.config.run_id {
            if self.config.foreign_is_failure {
                self.fail(
                    FailureKind::Foreign,
                    shard,
                    format!("seq {seq} read by {consumer} was written by another run ({:016x})", header.run_id),
                );
            } else {
                self.foreign_skipped += 1;
            }
            return;
        }
        let id = header.id;
        if id.producer >= self.config.producers {
            self.fail(
                FailureKind::Corrupted,
                shard,
                format!("seq {seq}: {id} names a producer this run does not have"),
            );
            return;
        }
        let c = self.consumer(consumer);
        if c.seen(id) {
            self.fail(
                FailureKind::Duplicated,
                shard,
                format!("{id} read again by {consumer} at seq {seq} (stored twice)"),
            );
            return;
        }
        c.mark_seen(id);
        match c.take_pending(seq) {
            Some(pid) if pid == id => {
                self.verified += 1;
                return;
            }
            Some(pid) => {
                // The record acknowledged here is another one; it is gone from this place.
                let detail = format!("seq {seq} was acknowledged for {pid} but holds {id} ({consumer})");
                self.fail(FailureKind::Reordered, shard, detail);
                let c = self.consumer(consumer);
                if let Some(acked_at) = c.pending_seq.remove(&id) {
                    c.pending.remove(&acked_at);
                }
                return;
            }
            None => {}
        }
        if let Some(acked_at) = c.pending_seq.remove(&id) {
            c.pending.remove(&acked_at);
            self.fail(
                FailureKind::Reordered,
                shard,
                format!("{id} acknowledged at seq {acked_at} but {consumer} read it at seq {seq}"),
            );
            return;
        }
        match self.outcome(id) {
            Outcome::Pending => {
                self.consumer(consumer).early.insert(id, seq);
            }
            Outcome::Unknown => self.unknown_reads += 1,
            Outcome::Refused => self.fail(
                FailureKind::Phantom,
                shard,
                format!("{id} was refused (throttled), yet {consumer} read it at seq {seq}"),
            ),
            // Acknowledged, not pending here and not seen: acknowledged on another shard, or
            // already reported lost by this consumer.
            Outcome::Acked => self.fail(
                FailureKind::Reordered,
                shard,
                format!("{id} read by {consumer} at seq {seq}, not where it was acknowledged"),
            ),
        }
    }

    /// `consumer` stopped before reaching the end (drain timeout, errors): its unread
    /// acknowledged records will be reported lost with this reason.
    pub fn consumer_stopped_early(&mut self, consumer: ConsumerId, why: String) {
        if let Some(c) = self.consumers.get_mut(&consumer) {
            c.stopped_early = Some(why);
        }
    }

    fn consumer(&mut self, id: ConsumerId) -> &mut ConsumerState {
        self.consumers.entry(id).or_default()
    }

    /// Everything has been told: acknowledged records never read are lost.
    pub fn finish(mut self) -> Verdict {
        let mut lost = Vec::new();
        let mut leftovers = Vec::new();
        for (cid, c) in &mut self.consumers {
            let why = c.stopped_early.as_ref().map_or(String::new(), |w| format!(" ({cid} stopped early: {w})"));
            for (seq, id) in std::mem::take(&mut c.pending) {
                lost.push((cid.shard, format!("{id} acknowledged at seq {seq} was never read by {cid}{why}")));
            }
            leftovers.extend(std::mem::take(&mut c.early).into_iter().map(|(id, seq)| (*cid, id, seq)));
        }
        for (shard, detail) in lost {
            self.fail(FailureKind::Lost, Some(shard), detail);
        }
        for (cid, id, seq) in leftovers {
            match self.outcome(id) {
                Outcome::Refused => self.fail(
                    FailureKind::Phantom,
                    Some(cid.shard),
                    format!("{id} was refused (throttled), yet {cid} read it at seq {seq}"),
                ),
                // Stored although its request never got a definite answer: allowed.
                Outcome::Unknown | Outcome::Pending => self.unknown_reads += 1,
                Outcome::Acked => self.fail(
                    FailureKind::Reordered,
                    Some(cid.shard),
                    format!("{id} read by {cid} at seq {seq}, not where it was acknowledged"),
                ),
            }
        }
        let failed = self.counts.values().sum::<u64>() > 0;
        let mut failures: Vec<Failure> = self.failures.into_iter().map(|(f, _)| f).collect();
        failures.sort_by_key(|f| f.kind);
        Verdict {
            passed: !failed,
            consumers: self.consumers.len(),
            acknowledged: self.acknowledged,
            deliveries_verified: self.verified,
            refused: self.refused,
            outcome_unknown: self.unknown,
            unknown_outcome_reads: self.unknown_reads,
            foreign_skipped: self.foreign_skipped,
            failure_counts: self.counts,
            failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{build, Filler, Header};

    const RUN: u64 = 0xabc;

    fn verifier(polled_per_shard: u16) -> Verifier {
        Verifier::new(VerifierConfig {
            run_id: RUN,
            producers: 2,
            shards: vec![0, 1],
            polled_per_shard,
            fanout_per_shard: 0,
            foreign_is_failure: true,
        })
    }

    fn id(counter: u64) -> RecordId {
        RecordId { producer: 0, counter }
    }

    fn data(counter: u64) -> bytes::Bytes {
        build(&Header { id: id(counter), run_id: RUN, due_ns: 0 }, &Filler::new(1, 64))
    }

    const C0: ConsumerId = ConsumerId { shard: 0, kind: ReaderKind::Polled, index: 0 };

    /// Records 0..n acknowledged on shard 0 at seq 100 + i.
    fn acked(v: &mut Verifier, n: u64) {
        for i in 0..n {
            v.acked(id(i), 0, 100 + i as u128);
        }
    }

    fn kinds(verdict: &Verdict) -> Vec<FailureKind> {
        verdict.failure_counts.keys().copied().collect()
    }

    #[test]
    fn a_clean_stream_passes() {
        let mut v = verifier(1);
        acked(&mut v, 5);
        for i in 0..5 {
            v.read(C0, 100 + i as u128, &data(i));
        }
        let verdict = v.finish();
        assert!(verdict.passed, "{:?}", verdict.failures);
        assert_eq!((verdict.acknowledged, verdict.deliveries_verified), (5, 5));
        assert!(verdict.summary().starts_with("PASS"));
    }

    #[test]
    fn reads_may_come_before_their_acks() {
        let mut v = verifier(1);
        v.read(C0, 100, &data(0));
        v.read(C0, 101, &data(1));
        acked(&mut v, 2);
        let verdict = v.finish();
        assert!(verdict.passed, "{:?}", verdict.failures);
        assert_eq!(verdict.deliveries_verified, 2);
    }

    #[test]
    fn a_missing_record_is_lost() {
        let mut v = verifier(1);
        acked(&mut v, 3);
        v.read(C0, 100, &data(0));
        v.read(C0, 102, &data(2));
        let verdict = v.finish();
        assert_eq!(kinds(&verdict), [FailureKind::Lost]);
        assert!(verdict.failures[0].detail.contains("record 0/1"), "{:?}", verdict.failures);
        assert!(verdict.summary().contains("1 lost"));
    }

    #[test]
    fn a_record_never_read_is_lost_and_says_why() {
        let mut v = verifier(1);
        acked(&mut v, 2);
        v.read(C0, 100, &data(0));
        v.consumer_stopped_early(C0, "drain timeout".into());
        let verdict = v.finish();
        assert_eq!(kinds(&verdict), [FailureKind::Lost]);
        assert!(verdict.failures[0].detail.contains("drain timeout"));
    }

    #[test]
    fn a_record_acked_after_the_consumer_passed_it_is_lost() {
        let mut v = verifier(1);
        v.read(C0, 105, &data(5));
        v.acked(id(5), 0, 105);
        v.acked(id(4), 0, 104);
        assert_eq!(kinds(&v.finish()), [FailureKind::Lost]);
    }

    #[test]
    fn a_duplicated_record_is_caught() {
        // Stored twice: the same record at two sequence numbers.
        let mut v = verifier(1);
        acked(&mut v, 2);
        v.read(C0, 100, &data(0));
        v.read(C0, 101, &data(1));
        v.read(C0, 102, &data(1));
        let verdict = v.finish();
        assert_eq!(kinds(&verdict), [FailureKind::Duplicated]);
        assert!(verdict.failures[0].detail.contains("stored twice"));
        // Delivered twice: the same sequence number again.
        let mut v = verifier(1);
        acked(&mut v, 2);
        v.read(C0, 100, &data(0));
        v.read(C0, 100, &data(0));
        v.read(C0, 101, &data(1));
        assert_eq!(kinds(&v.finish()), [FailureKind::Duplicated]);
    }

    #[test]
    fn a_reordered_record_is_caught() {
        // Sequence numbers going backwards: reported as reordered, not as lost and reordered.
        let mut v = verifier(1);
        acked(&mut v, 3);
        v.read(C0, 100, &data(0));
        v.read(C0, 102, &data(2));
        v.read(C0, 101, &data(1));
        let verdict = v.finish();
        assert_eq!(kinds(&verdict), [FailureKind::Reordered], "{:?}", verdict.failures);
        assert!(verdict.failures[0].detail.contains("received seq 101 (record 0/1) after seq 102"));
        // Two records swapped: each read at the other's sequence number.
        let mut v = verifier(1);
        acked(&mut v, 3);
        v.read(C0, 100, &data(0));
        v.read(C0, 101, &data(2));
        v.read(C0, 102, &data(1));
        let verdict = v.finish();
        assert_eq!(kinds(&verdict), [FailureKind::Reordered], "{:?}", verdict.failures);
        assert!(verdict.failures[0].detail.contains("seq 101 was acknowledged for record 0/1 but holds record 0/2"));
        // Read before the ack, at the wrong place.
        let mut v = verifier(1);
        v.read(C0, 100, &data(1));
        v.acked(id(1), 0, 101);
        assert_eq!(kinds(&v.finish()), [FailureKind::Reordered]);
    }

    #[test]
    fn a_corrupted_record_is_caught() {
        let mut v = verifier(1);
        acked(&mut v, 3);
        v.read(C0, 100, &data(0));
        let mut bad = data(1).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0x80;
        v.read(C0, 101, &bad);
        v.read(C0, 102, &data(2));
        let verdict = v.finish();
        assert_eq!(kinds(&verdict), [FailureKind::Corrupted], "{:?}", verdict.failures);
        assert!(verdict.failures[0].detail.contains("checksum mismatch"));
        assert!(verdict.failures[0].detail.contains("acknowledged as record 0/1"));
    }

    const PUSHED: ConsumerId = ConsumerId { shard: 0, kind: ReaderKind::FanOut, index: 0 };

    fn with_subscriber() -> Verifier {
        Verifier::new(VerifierConfig { fanout_per_shard: 1, ..verifier(0).config })
    }

    fn corrupt(counter: u64) -> Vec<u8> {
        let mut bad = data(counter).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        bad
    }

    /// Regression: a push can reach the verifier before the record's acknowledgement. A record
    /// pushed corrupted that early was reported corrupted when read, then lost when its
    /// acknowledgement found the subscriber past its sequence number.
    #[test]
    fn a_record_pushed_corrupted_before_its_ack_is_reported_once_as_corrupted() {
        let mut v = with_subscriber();
        v.read(PUSHED, 100, &data(0));
        v.read(PUSHED, 101, &corrupt(1));
        v.read(PUSHED, 102, &data(2));
        acked(&mut v, 3);
        let verdict = v.finish();
        assert!(!verdict.passed);
        assert_eq!(kinds(&verdict), [FailureKind::Corrupted], "{:?}", verdict.failures);
        assert_eq!(verdict.failure_counts[&FailureKind::Corrupted], 1);
        assert_eq!(verdict.failures.len(), 1, "{:?}", verdict.failures);
        let detail = &verdict.failures[0].detail;
        assert!(detail.contains("seq 101") && detail.contains("checksum mismatch"), "{detail}");
        assert!(detail.contains("fan-out consumer 0 of shard 0"), "{detail}");
        assert!(detail.contains("acknowledged afterwards as record 0/1"), "{detail}");
        assert_eq!(verdict.deliveries_verified, 2);
    }

    /// Each fault of a reader is reported once, as what it is, whether the reads reach the
    /// verifier before the acknowledgements (as pushes often do) or after them.
    #[test]
    fn every_fault_is_reported_once_whether_reads_or_acks_come_first() {
        use crate::consumer::Fault;
        let faults = [
            (Fault::Lose, FailureKind::Lost),
            (Fault::Duplicate, FailureKind::Duplicated),
            (Fault::Reorder, FailureKind::Reordered),
            (Fault::Corrupt, FailureKind::Corrupted),
        ];
        for (fault, kind) in faults {
            for reads_first in [true, false] {
                let mut records: Vec<(u128, bytes::Bytes)> = (0..4).map(|i| (100 + i as u128, data(i))).collect();
                fault.apply(&mut records);
                let mut v = with_subscriber();
                if !reads_first {
                    acked(&mut v, 4);
                }
                for (seq, d) in &records {
                    v.read(PUSHED, *seq, d);
                }
                if reads_first {
                    acked(&mut v, 4);
                }
                let verdict = v.finish();
                let case = format!("{fault:?}, reads first: {reads_first}: {:?}", verdict.failures);
                assert!(!verdict.passed, "{case}");
                assert_eq!(kinds(&verdict), [kind], "{case}");
                assert_eq!(verdict.failure_counts[&kind], 1, "{case}");
            }
        }
    }

    #[test]
    fn a_throttled_record_must_never_appear() {
        let mut v = verifier(1);
        acked(&mut v, 1);
        v.refused(id(1));
        v.read(C0, 100, &data(0));
        v.read(C0, 101, &data(1));
        assert_eq!(kinds(&v.finish()), [FailureKind::Phantom]);
        // Also when the read comes before the refusal is known.
        let mut v = verifier(1);
        v.read(C0, 101, &data(1));
        v.refused(id(1));
        assert_eq!(kinds(&v.finish()), [FailureKind::Phantom]);
    }

    #[test]
    fn records_of_failed_requests_may_appear_once() {
        let mut v = verifier(1);
        v.unknown(id(0));
        v.unknown(id(1));
        v.read(C0, 100, &data(0));
        let verdict = v.finish();
        assert!(verdict.passed);
        assert_eq!(verdict.unknown_outcome_reads, 1);
    }

    #[test]
    fn foreign_records_fail_only_on_our_own_stream() {
        let other = build(&Header { id: id(0), run_id: RUN + 1, due_ns: 0 }, &Filler::new(1, 64));
        let mut v = verifier(1);
        v.read(C0, 100, &other);
        v.read(C0, 101, b"someone else's record");
        assert_eq!(kinds(&v.finish()), [FailureKind::Corrupted, FailureKind::Foreign]);
        let mut v = Verifier::new(VerifierConfig { foreign_is_failure: false, ..verifier(1).config });
        v.read(C0, 100, &other);
        v.read(C0, 101, b"someone else's record");
        let verdict = v.finish();
        assert!(verdict.passed);
        assert_eq!(verdict.foreign_skipped, 2);
    }

    #[test]
    fn every_consumer_of_a_shard_must_see_every_record() {
        let c1 = ConsumerId::polled(0, 1);
        let mut v = verifier(2);
        acked(&mut v, 2);
        for i in 0..2 {
            v.read(C0, 100 + i as u128, &data(i));
        }
        v.read(c1, 100, &data(0));
        let verdict = v.finish();
        assert_eq!(kinds(&verdict), [FailureKind::Lost]);
        assert!(verdict.failures[0].detail.contains("consumer 1 of shard 0"));
        assert_eq!(verdict.deliveries_verified, 3);
    }

    #[test]
    fn failure_details_are_bounded_but_all_are_counted() {
        let mut v = verifier(1);
        acked(&mut v, 100);
        v.read(C0, 1000, &data(500));
        let verdict = v.finish();
        assert_eq!(verdict.failure_counts[&FailureKind::Lost], 100);
        assert_eq!(verdict.failures.len(), DETAILS_PER_KIND_MAX);
    }
}
