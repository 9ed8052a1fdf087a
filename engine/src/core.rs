//! The shards owned by one core, and the request-level logic every engine
//! front end shares: validating and routing puts, resolving starting
//! positions, and shaping reads.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;

use crate::catalog::{ShardMeta, StreamMeta};
use crate::clock::Clock;
use crate::config::{Durability, LogConfig};
use crate::error::{EngineError, Result};
use crate::limits::{APPEND_BYTES_MAX, APPEND_RECORDS_MAX, READ_BYTES_MAX, READ_RECORDS_MAX};
use crate::metrics::{CoreMetrics, CoreSnapshot, ShardSnapshot};
use crate::model::{shard_id, Record, RecordInput, ShardDescription};
use crate::routing::partition_key_hash;
use crate::sequence::SequenceNumber;
use crate::shard::{AppendAck, CoreCommits, RecoveryReport, RunwaySignal, ShardIdent, ShardLog};
use crate::storage::Storage;
use crate::tail_cache::CacheBudget;
use crate::throttle::ShardThrottle;

/// Where a reader starts in a shard (Kinesis' ShardIteratorType).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest retained record.
    TrimHorizon,
    /// Just after the newest record at the time of the call.
    Latest,
    AtSequenceNumber(SequenceNumber),
    AfterSequenceNumber(SequenceNumber),
    /// The first record that arrived at or after this time (ms); the tip
    /// if the time is past the newest record.
    AtTimestamp(u64),
}

/// A successfully stored record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutResult {
    pub shard_index: u32,
    pub sequence_number: SequenceNumber,
}

/// Why one record of a PutRecords call failed (the call itself succeeded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordFailure {
    pub kind: RecordFailureKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordFailureKind {
    ProvisionedThroughputExceeded,
    InternalFailure,
}

/// Outcome of a PutRecords call: one entry per record, in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutRecordsOutcome {
    pub results: Vec<std::result::Result<PutResult, RecordFailure>>,
    pub durability: Durability,
}

impl PutRecordsOutcome {
    pub fn failed_record_count(&self) -> usize {
        self.results.iter().filter(|r| r.is_err()).count()
    }
}

/// Records read from a shard, shaped as GetRecords returns them.
#[derive(Clone, Debug, Default)]
pub struct ReadOutcome {
    pub records: Vec<Record>,
    /// Where to continue; `None` once a closed shard is read to its end.
    pub next_counter: Option<u64>,
    pub millis_behind: u64,
    /// The shard's children, only at the end of a closed shard.
    pub child_shards: Vec<ShardDescription>,
}

/// Checks a whole PutRecords request: 1..=500 records, ≤ 5 MiB, each
/// record valid.
pub fn validate_put(records: &[RecordInput]) -> Result<()> {
    if records.is_empty() || records.len() > APPEND_RECORDS_MAX {
        return Err(EngineError::InvalidArgument(format!(
            "a put carries 1 to {APPEND_RECORDS_MAX} records, got {}",
            records.len()
        )));
    }
    let total: usize = records.iter().map(RecordInput::size_bytes).sum();
    if total > APPEND_BYTES_MAX {
        return Err(EngineError::InvalidArgument(format!(
            "a put carries at most {APPEND_BYTES_MAX} bytes of keys and data, got {total}"
        )));
    }
    records.iter().try_for_each(RecordInput::validate)
}

/// The hash key that routes a record.
pub fn record_hash_key(r: &RecordInput) -> u128 {
    r.explicit_hash_key.unwrap_or_else(|| partition_key_hash(&r.partition_key))
}

/// One shard's part of a put: (position in the request, record).
pub type ShardGroup = Vec<(usize, RecordInput)>;

/// What became of one record of a group.
#[derive(Clone, Debug)]
pub enum Slot {
    Done(std::result::Result<PutResult, RecordFailure>),
    /// The shard closed under a reshard before taking it: route it again.
    Reroute(RecordInput),
}

/// Per-record outcomes of groups: (position in the request, outcome).
pub type GroupResults = Vec<(usize, Slot)>;

/// Rounds of routing a put gets when reshards close its shards meanwhile.
pub const REROUTE_ROUNDS: usize = 3;

/// The shard one record routes to.
pub fn route_one(stream: &StreamMeta, record: &RecordInput) -> Result<u32> {
    stream
        .sole_open_shard()
        .or_else(|| stream.route(record_hash_key(record)))
        .map(|s| s.index)
        .ok_or_else(|| EngineError::InvalidArgument(format!("stream {} has no open shard for the key", stream.name)))
}

/// Splits records by shard, keeping request order within each shard.
pub fn route_put(
    stream: &StreamMeta,
    records: impl IntoIterator<Item = (usize, RecordInput)>,
) -> Result<BTreeMap<u32, ShardGroup>> {
    let mut groups: BTreeMap<u32, ShardGroup> = BTreeMap::new();
    if let Some(only) = stream.sole_open_shard() {
        groups.insert(only.index, records.into_iter().collect());
        return Ok(groups);
    }
    for (i, r) in records {
        let shard = stream.route(record_hash_key(&r)).ok_or_else(|| {
            EngineError::InvalidArgument(format!("stream {} has no open shard for the record's hash key", stream.name))
        })?;
        groups.entry(shard.index).or_default().push((i, r));
    }
    Ok(groups)
}

/// The minimum counter implied by SequenceNumberForOrdering.
pub fn ordering_min_counter(stream: &StreamMeta, ordering: Option<SequenceNumber>) -> Result<u64> {
    match ordering {
        None => Ok(0),
        // Counters this high are never handed out: room is kept for the
        // counter lease and a whole PutRecords above any ordering number.
        Some(seq) if seq.stream_tag() == stream.tag() && seq.counter() < crate::limits::ORDERING_COUNTER_MAX => {
            Ok(seq.counter() + 1)
        }
        Some(seq) => Err(EngineError::InvalidArgument(format!(
            "ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {} is invalid.",
            stream.name
        ))),
    }
}

/// Checks read limits.
pub fn validate_read_limit(limit: usize) -> Result<()> {
    if !(1..=READ_RECORDS_MAX).contains(&limit) {
        return Err(EngineError::InvalidArgument(format!("read limit {limit} must be within 1..={READ_RECORDS_MAX}")));
    }
    Ok(())
}

/// A registered consumer of a stream, by name.
pub fn find_consumer(stream: &StreamMeta, name: &str) -> Result<crate::catalog::ConsumerMeta> {
    stream
        .consumers
        .iter()
        .find(|c| c.name == name)
        .cloned()
        .ok_or_else(|| EngineError::NotFound(format!("Consumer {name} under stream {} not found.", stream.name)))
}

pub fn shard_not_found(stream: &StreamMeta, index: u32) -> EngineError {
    EngineError::NotFound(format!("Shard {} in stream {} does not exist", shard_id(index), stream.name))
}

/// The shards that a closed shard's records continue in.
pub fn child_shards(stream: &StreamMeta, index: u32) -> Vec<ShardDescription> {
    let desc = stream.describe();
    desc.shards.into_iter().filter(|s| s.parent == Some(index) || s.adjacent_parent == Some(index)).collect()
}

/// (stream incarnation, shard index).
type ShardKey = (u64, u32);

/// The shards of this core.
pub struct CoreShards<S: Storage, C: Clock> {
    storage: S,
    clock: C,
    data_dir: PathBuf,
    log_config: LogConfig,
    budget: Rc<CacheBudget>,
    /// Raised by shards whose zeroed runway runs short.
    runway: Rc<RunwaySignal>,
    /// This core's shards with commits under way.
    commits: Rc<CoreCommits>,
    shards: RefCell<HashMap<ShardKey, Rc<ShardLog<S, C>>>>,
    throttles: RefCell<HashMap<ShardKey, ShardThrottle>>,
    /// Active fan-out subscriptions: (stream incarnation, consumer, shard).
    subscriptions: Rc<RefCell<HashSet<(u64, String, u32)>>>,
    /// This core's counters; every shard's log holds a reference.
    metrics: Rc<CoreMetrics>,
}

/// Holds a (consumer, shard) subscription slot; frees it when dropped.
pub struct SubscriptionSlot {
    key: (u64, String, u32),
    slots: Rc<RefCell<HashSet<(u64, String, u32)>>>,
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.slots.borrow_mut().remove(&self.key);
    }
}

impl<S: Storage, C: Clock> CoreShards<S, C> {
    pub fn new(storage: S, clock: C, data_dir: PathBuf, log_config: LogConfig, tail_cache_bytes: usize) -> Self {
        Self {
            storage,
            clock,
            data_dir,
            log_config,
            budget: CacheBudget::new(tail_cache_bytes),
            runway: Rc::default(),
            commits: Rc::default(),
            shards: RefCell::new(HashMap::new()),
            throttles: RefCell::new(HashMap::new()),
            subscriptions: Rc::default(),
            metrics: Rc::default(),
        }
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    pub fn log_config(&self) -> &LogConfig {
        &self.log_config
    }

    pub fn cache_used_bytes(&self) -> usize {
        self.budget.used_bytes()
    }

    /// Opens (recovering) the given shards of a stream, unless already open.
    pub async fn open_shards(
        &self,
        stream: &StreamMeta,
        shards: impl Iterator<Item = &ShardMeta>,
    ) -> Result<Vec<(u32, RecoveryReport)>> {
        let mut reports = Vec::new();
        for meta in shards {
            let key = (stream.incarnation, meta.index);
            if self.shards.borrow().contains_key(&key) {
                continue;
            }
            let ident = ShardIdent { stream: stream.name.clone(), stream_tag: stream.tag(), shard_index: meta.index };
            let (mut log, report) = ShardLog::open(
                ident,
                stream.shard_dir(&self.data_dir, meta.index),
                self.storage.clone(),
                self.clock.clone(),
                self.log_config.clone(),
                self.budget.clone(),
                self.runway.clone(),
                self.commits.clone(),
                meta.starting_counter,
                meta.ending_counter,
            )
            .await?;
            log.attach_core_metrics(self.metrics.clone());
            self.shards.borrow_mut().insert(key, Rc::new(log));
            self.throttles.borrow_mut().insert(key, ShardThrottle::new(stream.limits, self.clock.now_ms()));
            reports.push((meta.index, report));
        }
        Ok(reports)
    }

    /// Forgets a stream's shards on this core and, if `remove_files`,
    /// deletes its directory.
    pub async fn drop_stream(&self, stream: &StreamMeta, remove_files: bool) -> Result<()> {
        self.shards.borrow_mut().retain(|(inc, _), _| *inc != stream.incarnation);
        self.throttles.borrow_mut().retain(|(inc, _), _| *inc != stream.incarnation);
        if remove_files {
            self.storage.remove_dir_all(&stream.dir(&self.data_dir)).await?;
        }
        Ok(())
    }

    pub fn shard(&self, stream: &StreamMeta, index: u32) -> Result<Rc<ShardLog<S, C>>> {
        self.shards.borrow().get(&(stream.incarnation, index)).cloned().ok_or_else(|| shard_not_found(stream, index))
    }

    /// Appends records that were already admitted by the shard's limits.
    pub async fn append_admitted(
        &self,
        stream: &StreamMeta,
        index: u32,
        records: &[RecordInput],
        min_counter: u64,
    ) -> Result<AppendAck> {
        self.shard(stream, index)?.append(records, min_counter).await
    }

    /// Appends records as one unit (PutRecord): refused whole if the
    /// shard's write limits cannot take all of them now.
    pub async fn append(
        &self,
        stream: &StreamMeta,
        index: u32,
        records: &[RecordInput],
        min_counter: u64,
    ) -> Result<AppendAck> {
        let shard = self.shard(stream, index)?;
        let admitted = self.admit_writes(stream, index, records.iter().map(RecordInput::size_bytes));
        if admitted.iter().any(|&a| !a) {
            shard.metrics().note_write_throttled(records.len() as u64);
            return Err(EngineError::ThroughputExceeded(rate_exceeded(stream, index)));
        }
        let ack = shard.append(records, min_counter).await?;
        shard.metrics().note_incoming(records.len() as u64, put_bytes(records));
        Ok(ack)
    }

    /// Which records fit the shard's write limits now (their tokens are
    /// taken).
    pub fn admit_writes(
        &self,
        stream: &StreamMeta,
        index: u32,
        sizes: impl ExactSizeIterator<Item = usize>,
    ) -> Vec<bool> {
        let now = self.clock.now_ms();
        match self.throttles.borrow_mut().get_mut(&(stream.incarnation, index)) {
            Some(t) => t.admit_writes(sizes, now),
            None => vec![true; sizes.len()],
        }
    }

    /// Claims the one subscription slot of (consumer, shard):
    /// ResourceInUse while another subscription holds it.
    pub fn claim_subscription(&self, stream: &StreamMeta, consumer: &str, shard: u32) -> Result<SubscriptionSlot> {
        self.shard(stream, shard)?;
        let key = (stream.incarnation, consumer.to_owned(), shard);
        if !self.subscriptions.borrow_mut().insert(key.clone()) {
            return Err(EngineError::InUse(format!(
                "Consumer {consumer} already has an active subscription to {} in stream {}.",
                shard_id(shard),
                stream.name
            )));
        }
        Ok(SubscriptionSlot { key, slots: self.subscriptions.clone() })
    }

    /// Active subscriptions on this core.
    pub fn subscription_count(&self) -> usize {
        self.subscriptions.borrow().len()
    }

    /// Closes shards for a reshard; returns each one's ending counter.
    pub async fn close_shards(&self, stream: &StreamMeta, shards: &[u32]) -> Result<Vec<(u32, u64)>> {
        let mut ends = Vec::with_capacity(shards.len());
        for &index in shards {
            ends.push((index, self.shard(stream, index)?.close().await?));
        }
        Ok(ends)
    }

    /// Undoes [`CoreShards::close_shards`] after a reshard failed.
    pub fn reopen_shards(&self, stream: &StreamMeta, shards: &[u32]) {
        for &index in shards {
            if let Ok(s) = self.shard(stream, index) {
                s.reopen_for_appends();
            }
        }
    }

    /// Resolves a starting position to a counter, with Kinesis' checks.
    pub async fn resolve(&self, stream: &StreamMeta, index: u32, position: StartingPosition) -> Result<u64> {
        let shard = self.shard(stream, index)?;
        let tip = shard.ending_counter().unwrap_or_else(|| shard.durable_next());
        let check = |seq: SequenceNumber| -> Result<u64> {
            if seq.shard_index() != index {
                return Err(EngineError::InvalidArgument(format!(
                    "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                    shard_id(seq.shard_index()),
                    shard_id(index)
                )));
            }
            if seq.stream_tag() != stream.tag() {
                return Err(EngineError::InvalidArgument(format!(
                    "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {} is invalid \
                     because it did not come from this stream.",
                    shard_id(index),
                    stream.name
                )));
            }
            Ok(seq.counter())
        };
        let beyond = |seq: SequenceNumber| {
            EngineError::InvalidArgument(format!(
                "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {} is beyond the \
                 newest record of the shard.",
                shard_id(index),
                stream.name
            ))
        };
        match position {
            StartingPosition::TrimHorizon => Ok(shard.trim_counter()),
            StartingPosition::Latest => Ok(tip),
            StartingPosition::AtSequenceNumber(seq) => {
                let c = check(seq)?;
                if c >= tip {
                    return Err(beyond(seq));
                }
                Ok(c.max(shard.trim_counter()))
            }
            StartingPosition::AfterSequenceNumber(seq) => {
                let c = check(seq)?;
                if c >= tip {
                    return Err(beyond(seq));
                }
                Ok((c + 1).max(shard.trim_counter()))
            }
            StartingPosition::AtTimestamp(ms) => shard.counter_at_time(ms).await,
        }
    }

    /// Reads up to `limit` records (and [`READ_BYTES_MAX`]) from `from`.
    pub async fn read(&self, stream: &StreamMeta, index: u32, from: u64, limit: usize) -> Result<ReadOutcome> {
        validate_read_limit(limit)?;
        let shard = self.shard(stream, index)?;
        let key = (stream.incarnation, index);
        let now = self.clock.now_ms();
        if !self.throttles.borrow_mut().get_mut(&key).is_none_or(|t| t.admit_read(now)) {
            shard.metrics().note_read_throttled();
            return Err(EngineError::ThroughputExceeded(rate_exceeded(stream, index)));
        }
        let batch = shard.read(from, limit, READ_BYTES_MAX).await?;
        let bytes: usize = batch.records.iter().map(|r| r.partition_key.len() + r.data.len()).sum();
        shard.metrics().note_polled(batch.records.len() as u64, bytes as u64, batch.millis_behind, now);
        if let Some(t) = self.throttles.borrow_mut().get_mut(&key) {
            t.charge_read(bytes as u64);
        }
        let (next_counter, child_shards) = if batch.at_shard_end {
            (None, child_shards(stream, index))
        } else {
            (Some(batch.next_counter), Vec::new())
        };
        Ok(ReadOutcome { records: batch.records, next_counter, millis_behind: batch.millis_behind, child_shards })
    }

    /// Runs retention (and interval syncs) on every shard of this core.
    /// `retention_ms` gives each stream incarnation's retention.
    pub async fn maintenance(&self, retention_ms: impl Fn(u64) -> Option<u64>) -> Result<usize> {
        let now = self.clock.now_ms();
        let shards: Vec<(ShardKey, Rc<ShardLog<S, C>>)> =
            self.shards.borrow().iter().map(|(k, v)| (*k, v.clone())).collect();
        let mut removed = 0;
        for ((incarnation, _), shard) in shards {
            // A failure here fails only that shard (it logs and refuses
            // appends until reopened); the pass goes on for the others.
            let _ = shard.flush_left_behind().await;
            shard.sync_if_dirty().await?;
            if shard.checkpoint_due() {
                shard.checkpoint().await?;
            }
            shard.prepare_runway().await?;
            if let Err(e) = shard.renew_lease_if_due().await {
                // Only an early renewal: an append that needs the lease saves
                // it itself. The rest of the pass (syncs, retention) goes on.
                tracing::warn!(error = %e, "could not renew a shard's counter lease ahead of its appends");
            }
            if let Some(ms) = retention_ms(incarnation) {
                removed += shard.enforce_retention(now, ms).await?;
            }
        }
        Ok(removed)
    }

    /// Keeps the zeroed runway ahead of shards that append in small groups,
    /// as they ask (see `shard::runway`); runs until the future is dropped.
    /// Without it, [`maintenance`](Self::maintenance) does the same, once
    /// per pass.
    pub async fn serve_runways(&self) {
        loop {
            self.runway.wait().await;
            let shards: Vec<Rc<ShardLog<S, C>>> = self.shards.borrow().values().cloned().collect();
            for shard in shards {
                // A failure is the shard's own: it is marked failed and
                // logged there, and refuses appends until reopened.
                let _ = shard.prepare_runway().await;
            }
        }
    }

    /// Waits for in-flight appends and syncs every shard.
    pub async fn shutdown(&self) -> Result<()> {
        let shards: Vec<Rc<ShardLog<S, C>>> = self.shards.borrow().values().cloned().collect();
        for s in shards {
            s.shutdown().await?;
        }
        Ok(())
    }

    pub fn shard_count(&self) -> usize {
        self.shards.borrow().len()
    }

    /// This core's counters (a front end counts its requests here).
    pub fn metrics(&self) -> &CoreMetrics {
        &self.metrics
    }

    /// This core's counters and its shards' state, for a scrape; `core` is
    /// this core's index.
    pub fn metrics_snapshot(&self, core: usize) -> CoreSnapshot {
        let now = self.clock.now_ms();
        let mut snapshot = CoreSnapshot::new(core, &self.metrics);
        snapshot.cache_bytes = self.budget.used_bytes() as u64;
        let mut subscribers: HashMap<ShardKey, u64> = HashMap::new();
        for (incarnation, _, shard) in self.subscriptions.borrow().iter() {
            *subscribers.entry((*incarnation, *shard)).or_default() += 1;
        }
        for (key, log) in self.shards.borrow().iter() {
            let m = log.metrics();
            snapshot.shards.push(ShardSnapshot {
                stream: log.ident().stream.clone(),
                shard: log.ident().shard_index,
                core,
                incoming_records: m.incoming_records.get(),
                incoming_bytes: m.incoming_bytes.get(),
                polled_records: m.polled_records.get(),
                polled_bytes: m.polled_bytes.get(),
                fanout_records: m.fanout_records.get(),
                fanout_bytes: m.fanout_bytes.get(),
                write_throttled_records: m.write_throttled_records.get(),
                read_throttled_calls: m.read_throttled_calls.get(),
                iterator_age_ms: m.iterator_age_ms(now),
                subscriptions: subscribers.get(key).copied().unwrap_or(0),
                storage: log.storage_stats(),
            });
        }
        snapshot
    }
}

/// Key and data bytes of records (what the write limits count).
fn put_bytes(records: &[RecordInput]) -> u64 {
    records.iter().map(|r| r.size_bytes() as u64).sum()
}

/// Stores one shard's group of a put and returns each record's outcome.
/// Records over the shard's write limits fail one by one with
/// ProvisionedThroughputExceeded and are not stored; records for a shard a
/// reshard has closed come back to be routed again.
pub async fn append_group<S: Storage, C: Clock>(
    core: &CoreShards<S, C>,
    stream: &StreamMeta,
    shard_index: u32,
    group: ShardGroup,
) -> GroupResults {
    let shard = core.shard(stream, shard_index).ok();
    let closed = shard.as_ref().is_some_and(|s| s.ending_counter().is_some());
    if closed {
        return group.into_iter().map(|(pos, r)| (pos, Slot::Reroute(r))).collect();
    }
    let admitted = core.admit_writes(stream, shard_index, group.iter().map(|(_, r)| r.size_bytes()));
    let mut results = Vec::with_capacity(group.len());
    let mut positions = Vec::new();
    let mut records = Vec::new();
    for ((pos, record), ok) in group.into_iter().zip(admitted) {
        if ok {
            positions.push(pos);
            records.push(record);
        } else {
            let failure = RecordFailure {
                kind: RecordFailureKind::ProvisionedThroughputExceeded,
                message: rate_exceeded(stream, shard_index),
            };
            results.push((pos, Slot::Done(Err(failure))));
        }
    }
    if let (Some(shard), false) = (&shard, results.is_empty()) {
        shard.metrics().note_write_throttled(results.len() as u64);
    }
    if records.is_empty() {
        return results;
    }
    match core.append_admitted(stream, shard_index, &records, 0).await {
        Ok(ack) => {
            if let Some(shard) = &shard {
                shard.metrics().note_incoming(records.len() as u64, put_bytes(&records));
            }
            results.extend(positions.into_iter().enumerate().map(|(i, pos)| {
                let seq = SequenceNumber::new(ack.first_counter + i as u64, stream.tag(), shard_index);
                (pos, Slot::Done(Ok(PutResult { shard_index, sequence_number: seq })))
            }));
        }
        Err(EngineError::ShardClosed(_)) => {
            results.extend(positions.into_iter().zip(records).map(|(pos, r)| (pos, Slot::Reroute(r))));
        }
        Err(e) => {
            let failure = RecordFailure {
                kind: RecordFailureKind::InternalFailure,
                message: format!("Internal Service Failure: {e}"),
            };
            results.extend(positions.into_iter().map(|pos| (pos, Slot::Done(Err(failure.clone())))));
        }
    }
    results
}

/// Gathers a PutRecords call's outcomes over routing rounds.
pub struct PutCollector {
    results: Vec<Option<std::result::Result<PutResult, RecordFailure>>>,
    pending: Vec<(usize, RecordInput)>,
}

impl PutCollector {
    pub fn new(records: Vec<RecordInput>) -> Self {
        Self { results: vec![None; records.len()], pending: records.into_iter().enumerate().collect() }
    }

    /// Records still to route (all of them at first).
    pub fn take_pending(&mut self) -> Vec<(usize, RecordInput)> {
        std::mem::take(&mut self.pending)
    }

    pub fn absorb(&mut self, parts: impl IntoIterator<Item = GroupResults>) {
        for (pos, slot) in parts.into_iter().flatten() {
            match slot {
                Slot::Done(r) => {
                    if let Some(s) = self.results.get_mut(pos) {
                        *s = Some(r);
                    }
                }
                Slot::Reroute(record) => self.pending.push((pos, record)),
            }
        }
        self.pending.sort_by_key(|(pos, _)| *pos);
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The outcome in request order; anything never stored fails.
    pub fn finish(self, durability: Durability) -> PutRecordsOutcome {
        let results = self
            .results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(RecordFailure {
                        kind: RecordFailureKind::InternalFailure,
                        message: "Internal Service Failure: the shard kept being resharded; retry".into(),
                    })
                })
            })
            .collect();
        PutRecordsOutcome { results, durability }
    }
}

/// Kinesis' wording for a throttled request.
pub fn rate_exceeded(stream: &StreamMeta, index: u32) -> String {
    format!("Rate exceeded for shard {} in stream {}.", shard_id(index), stream.name)
}
