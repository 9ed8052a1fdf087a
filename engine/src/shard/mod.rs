//! One shard's log: group-committed appends, reads from the tail cache or
//! disk, recovery on open, and retention.
//!
//! # Durability and visibility
//! An append encodes its records as one frame into the pending list and
//! waits. Whoever finds no flush in flight becomes the flusher: it takes
//! every pending frame, writes them with one aligned write (rewriting the
//! partial tail page) and one fdatasync, then wakes everyone. Appends that
//! arrive meanwhile gather for the next flush, so the group size follows the
//! load with no timer. A small group on a core where no other shard is
//! committing is written and synced with blocking calls on the core's
//! thread, larger or concurrent ones through io_uring (see [`commit_path`]).
//! Records become visible to readers only once durable
//! (`durable_next`), so no reader ever sees a record a crash could take back.
//!
//! A flush holds the write position until its fdatasync completes, rather
//! than letting the next group write under it, and the next flusher yields
//! once before taking the pending frames, so appenders the last group just
//! acknowledged join it. Overlapping the next group's write with the sync
//! made each sync wait behind that write and split the load into more,
//! smaller groups: with 32 producers of 512 KiB puts, 187 groups of 5.5 MiB
//! per GiB with syncs of 2–3 ms, against 66 groups of 15.7 MiB with syncs
//! of 0.3 ms now, and more throughput through the server (BENCHMARKS.md,
//! issue 2).
//!
//! Rewriting the tail page is safe for acknowledged bytes: the new page
//! starts with exactly the bytes already on disk, and sectors are written
//! atomically, so any mix of old and new sectors after a crash keeps them.
//!
//! The log belongs to one core; it is `!Send` and uses `RefCell`, never
//! holding a borrow across an await. Reads live in [`read`].

mod commit_path;
mod lease;
mod read;
mod runway;
mod stats;

pub use commit_path::CoreCommits;
pub use lease::{SavedLease, LEASE_DAMAGED, LEASE_FILE_NAME};
pub use read::ReadBatch;
pub use runway::RunwaySignal;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;

use futures::channel::oneshot;

use crate::clock::Clock;
use crate::config::{Durability, LogConfig, SyncPolicy};
use crate::error::{EngineError, Result};
use crate::frame::encode_frame;
use crate::limits::align_down;
use crate::limits::RECOVERY_SCAN_BYTES_MAX;
use crate::model::RecordInput;
use crate::segment::write::{write_chunks, write_chunks_inline, Chunker};
use crate::segment::{
    frames_past_damage, index_file_name, log_path, scan_segment, scan_segment_from, FrameReader, NextFrame,
    ScanOutcome, ScanStop, Segment, SegmentSummary, ShardFiles, SEGMENT_MISSING,
};
use crate::sequence::SequenceNumber;
use crate::storage::{SegmentFile, Storage};
use crate::tail_cache::{CacheBudget, CachedFrame, ShardCache};

/// Names a shard in errors and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardIdent {
    pub stream: String,
    pub stream_tag: u32,
    pub shard_index: u32,
}

impl std::fmt::Display for ShardIdent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.stream, crate::model::shard_id(self.shard_index))
    }
}

/// What opening a shard found on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub segments: usize,
    /// Sealed segments whose index had to be rebuilt by scanning.
    pub indexes_rebuilt: usize,
    /// Records found in the tail segment.
    pub tail_records: u64,
    /// Bytes cut from the tail segment after its last valid frame
    /// (excluding the zero padding a clean shutdown leaves).
    pub bytes_truncated: u64,
    /// Damage found: (segment file, offset, reason).
    pub damage: Vec<(String, u64, String)>,
    /// Records of intact frames found after damage in the tail segment and
    /// cut with it (saved beside the segment first, see `open`): damage a
    /// torn write cannot explain. Their counters are never handed out again.
    pub records_cut_intact: u64,
}

/// An acknowledged append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendAck {
    pub first_counter: u64,
    pub record_count: u32,
    pub durability: Durability,
}

struct PendingFrame {
    bytes: Vec<u8>,
    base_counter: u64,
    record_count: u32,
    arrival_ms: u64,
}

impl PendingFrame {
    fn end_counter(&self) -> u64 {
        self.base_counter + self.record_count as u64
    }
}

struct ShardState<F> {
    /// Oldest first; the last one is the active segment when `tail` is set.
    segments: VecDeque<Segment<F>>,
    /// Bytes of the active segment's last, partial page (rewritten by every
    /// flush). `None` until an active segment exists.
    tail: Option<Vec<u8>>,
    /// First counter not yet removed by retention.
    trim_counter: u64,
    /// Next counter to assign (pending records included).
    next_counter: u64,
    /// Counters below this are durable and readable.
    durable_next: u64,
    /// Arrival times never go backwards within a shard.
    last_arrival_ms: u64,
    /// Arrival time of the newest durable record.
    tip_arrival_ms: Option<u64>,
    /// Set when the shard is closed by a reshard: one past its last record.
    ending_counter: Option<u64>,
    pending: Vec<PendingFrame>,
    /// A task owns the active segment's write position (writing and
    /// syncing a group, rolling, or an interval sync) right now. Only one
    /// writes at a time.
    writing: bool,
    /// Data written but not yet synced (interval mode only).
    unsynced: bool,
    /// Counted in the core's [`CoreCommits`]: appends are waiting or a task
    /// holds the write position.
    counted_busy: bool,
    /// Tail-segment bytes covered by the last index checkpoint.
    checkpointed_len: u64,
    /// Size of the active segment file (allocated ahead of its data).
    allocated_len: u64,
    /// Bytes of the active segment known to be written (data, or zeros
    /// ahead of it): overwriting them needs no journal commit at sync.
    zeroed_len: u64,
    /// No zeroing ahead before this time (the rate cap on zeroing).
    zero_ahead_not_before_ms: u64,
    /// A group found the runway short; the next runway pass zeroes ahead.
    runway_wanted: bool,
    /// A zeroer is running (at most one per shard).
    zeroer_running: bool,
    /// Aligned end of everything groups have written or are writing in the
    /// active segment: zeroes go only past it (see [`runway`]).
    written_end: u64,
    /// The zero chunk in flight, if any.
    zeroing: Option<runway::ZeroChunk>,
    failed: Option<String>,
    waiters: Vec<oneshot::Sender<()>>,
    /// Counters at and above this were never handed out: the lease saved
    /// in the shard's directory (see [`lease`]).
    leased_to: u64,
    /// This log saved a lease since it was opened (so maintenance renews
    /// it ahead of the appends).
    lease_taken: bool,
    /// Recovery moved the next counter past the tail segment's end (the
    /// counter lease, or counters of lost records): the next group starts
    /// a new segment, so the skipped counters lie between segments and no
    /// segment's span counts them as records.
    roll_before_append: bool,
}

/// One shard's log on this core.
pub struct ShardLog<S: Storage, C: Clock> {
    ident: ShardIdent,
    dir: PathBuf,
    storage: S,
    clock: C,
    config: LogConfig,
    budget: Rc<CacheBudget>,
    runway: Rc<RunwaySignal>,
    /// The core's shards with commits under way (see [`commit_path`]).
    commits: Rc<CoreCommits>,
    /// Serializes writes of the active segment's index file: a checkpoint
    /// (beside the appends) and the seal at a roll.
    index_lock: futures::lock::Mutex<()>,
    /// Serializes saves of the counter lease.
    lease_lock: futures::lock::Mutex<()>,
    cache: Rc<ShardCache>,
    st: RefCell<ShardState<S::File>>,
    /// Counters for metrics (see [`stats`]).
    metrics: crate::metrics::ShardMetrics,
}

impl<S: Storage, C: Clock> ShardLog<S, C> {
    /// Opens (or creates) the log in `dir`, recovering its tail.
    ///
    /// `start_counter` is the shard's first counter (from the catalog);
    /// `ending_counter` is set if the shard is closed.
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        ident: ShardIdent,
        dir: PathBuf,
        storage: S,
        clock: C,
        config: LogConfig,
        budget: Rc<CacheBudget>,
        runway: Rc<RunwaySignal>,
        commits: Rc<CoreCommits>,
        start_counter: u64,
        ending_counter: Option<u64>,
    ) -> Result<(Self, RecoveryReport)> {
        storage.create_dir_all(&dir).await?;
        let ShardFiles { bases, orphan_indexes } = ShardFiles::from_names(&storage.list_dir(&dir).await?);
        let mut report = RecoveryReport { segments: bases.len(), ..RecoveryReport::default() };
        let mut segments = VecDeque::new();
        let mut tail = None;
        let mut allocated_len = 0;
        // Counters of records that may have been acknowledged but cannot be
        // served (cut after damage, or in a missing segment): never reused.
        let mut counter_floor = 0;
        for base in orphan_indexes {
            let idx_path = dir.join(index_file_name(base));
            let summary = storage.read_file(&idx_path).await?.and_then(|b| SegmentSummary::decode(&b, base));
            let end = summary.map_or(base, |s| s.end_counter);
            counter_floor = counter_floor.max(end);
            let missing = log_path(&dir, base);
            report.damage.push((missing.display().to_string(), 0, SEGMENT_MISSING.into()));
            tracing::error!(
                shard = %ident, segment = %missing.display(), first_counter = base, end_counter = end,
                "segment file missing while its index remains: its records are lost; their counters are not reused"
            );
        }
        for (i, &base) in bases.iter().enumerate() {
            let path = log_path(&dir, base);
            let is_last = i + 1 == bases.len();
            if !is_last {
                let summary = Self::load_sealed_summary(&storage, &ident, &path, base, &mut report).await?;
                segments.push_back(Segment { base_counter: base, path, file: None, summary });
                continue;
            }
            let file = storage.open_segment(&path, false).await?;
            let (scan, outgrown_checkpoint) = Self::scan_tail(&storage, &file, &path, base).await?;
            let data_len = scan.summary.data_len;
            if let Some(checkpoint) = outgrown_checkpoint {
                // Data the checkpoint vouched for (synced, so acknowledged)
                // is gone from the file: cut by something other than a crash.
                counter_floor = counter_floor.max(checkpoint.end_counter);
                report.damage.push((
                    path.display().to_string(),
                    scan.file_size,
                    format!("segment shorter than its checkpoint ({} bytes)", checkpoint.data_len),
                ));
                tracing::error!(
                    shard = %ident, segment = %path.display(), file_bytes = scan.file_size,
                    checkpoint_bytes = checkpoint.data_len, end_counter = checkpoint.end_counter,
                    "tail segment shorter than its checkpoint: acknowledged records are lost; their counters are \
                     not handed out again"
                );
            }
            if let ScanStop::Damaged { offset, reason } = &scan.stop {
                report.bytes_truncated = scan.file_size - data_len;
                report.damage.push((path.display().to_string(), *offset, (*reason).to_string()));
                if let Some(end) = Self::keep_what_damage_cuts(&storage, &ident, &file, &path, &scan, *offset).await? {
                    counter_floor = counter_floor.max(end.0);
                    report.records_cut_intact = end.1;
                }
            }
            // Cut what follows the last valid frame: a torn write or space
            // allocated ahead. Nothing stale may survive past the end of the
            // log, where a later scan could mistake it for frames.
            if scan.file_size > data_len {
                file.truncate(data_len).await?;
            }
            allocated_len = data_len;
            let page = align_down(data_len);
            let tail_bytes = file.read_at(page, (data_len - page) as usize).await?;
            if tail_bytes.len() as u64 != data_len - page {
                return Err(EngineError::Corrupt {
                    shard: ident.to_string(),
                    segment: path.display().to_string(),
                    offset: page,
                    detail: "tail page shorter than the data scanned".into(),
                });
            }
            tail = Some(tail_bytes.to_vec());
            report.tail_records = scan.summary.end_counter - base;
            segments.push_back(Segment { base_counter: base, path, file: Some(Rc::new(file)), summary: scan.summary });
        }
        let end = segments.back().map_or(start_counter, |s| s.summary.end_counter);
        let lease_path = dir.join(LEASE_FILE_NAME);
        let leased_to = match SavedLease::decode(storage.read_file(&lease_path).await?.as_deref()) {
            SavedLease::Absent => 0,
            SavedLease::Valid(lease) => lease,
            SavedLease::Damaged => {
                // The lease was at most one lease past a counter handed out;
                // past the log's end is the best bound left. Saved at once,
                // so the damage is reported once.
                let floor = end.saturating_add(crate::limits::COUNTER_LEASE);
                report.damage.push((lease_path.display().to_string(), 0, LEASE_DAMAGED.into()));
                tracing::error!(
                    shard = %ident, file = %lease_path.display(), next_counter = floor,
                    "counter lease damaged: counting on one lease past the log's end"
                );
                storage.write_file_atomic(&lease_path, &lease::encode(floor)).await?;
                floor
            }
        };
        match ending_counter {
            None => counter_floor = counter_floor.max(leased_to),
            // A closed shard appends nothing more; it ends where the catalog
            // says, which may be past its last record (closed right after a
            // restart's counter jump): readers reach its end there.
            Some(ending) => counter_floor = counter_floor.max(ending),
        }
        // Counter `start_counter` itself is never given to a record: it is
        // the position just before the shard's first record, so "after the
        // start" is always expressible (fan-out continuation numbers).
        let next_counter = end.max(start_counter + 1).max(counter_floor);
        let trim_counter = segments.front().map_or(start_counter, |s| s.base_counter);
        let tip_arrival_ms = segments.iter().rev().find_map(|s| s.summary.last_ms);
        let roll_before_append = segments.back().is_some_and(|s| s.summary.end_counter < next_counter);
        let log = Self {
            ident,
            dir,
            storage,
            clock,
            config,
            budget,
            runway,
            commits,
            index_lock: futures::lock::Mutex::new(()),
            lease_lock: futures::lock::Mutex::new(()),
            cache: Rc::default(),
            metrics: Default::default(),
            st: RefCell::new(ShardState {
                segments,
                tail,
                trim_counter,
                next_counter,
                durable_next: next_counter,
                last_arrival_ms: tip_arrival_ms.unwrap_or(0),
                tip_arrival_ms,
                ending_counter,
                pending: Vec::new(),
                writing: false,
                unsynced: false,
                counted_busy: false,
                checkpointed_len: 0,
                allocated_len,
                zeroed_len: crate::limits::align_up(allocated_len),
                zero_ahead_not_before_ms: 0,
                runway_wanted: false,
                zeroer_running: false,
                written_end: crate::limits::align_up(allocated_len),
                zeroing: None,
                failed: None,
                waiters: Vec::new(),
                leased_to,
                lease_taken: false,
                roll_before_append,
            }),
        };
        Ok((log, report))
    }

    /// Recovery is about to cut the tail segment at the damaged frame at
    /// `damaged_at`. After a crash that cuts a torn write, which was never
    /// acknowledged. If intact frames follow the damage, it is not (only) a
    /// torn write and they may have been acknowledged: the log cannot serve
    /// them past the damage, but nothing is destroyed. The bytes up to the
    /// last of them are saved beside the segment, an error names them, and
    /// the caller never hands their counters out again. Returns (one past
    /// their highest counter, their record count) when there are any.
    async fn keep_what_damage_cuts(
        storage: &S,
        ident: &ShardIdent,
        file: &S::File,
        path: &std::path::Path,
        scan: &ScanOutcome,
        damaged_at: u64,
    ) -> Result<Option<(u64, u64)>> {
        let data_len = scan.summary.data_len;
        let past = frames_past_damage(file, damaged_at, scan.summary.end_counter, RECOVERY_SCAN_BYTES_MAX).await?;
        let Some(past) = past else {
            tracing::warn!(
                shard = %ident, segment = %path.display(), offset = damaged_at,
                bytes_truncated = scan.file_size - data_len,
                "torn tail: truncating at the last valid frame"
            );
            return Ok(None);
        };
        let bytes = file.read_at(data_len, (past.data_end - data_len) as usize).await?;
        let saved = path.with_extension(format!("log.cut-{data_len}"));
        storage.write_file_atomic(&saved, &bytes).await?;
        tracing::error!(
            shard = %ident, segment = %path.display(), offset = damaged_at,
            intact_frames = past.frames, intact_records = past.records,
            first_counter = past.first_counter, end_counter = past.end_counter,
            saved = %saved.display(),
            "damaged data inside the tail segment, with intact frames after it: the log ends at the damage, the \
             cut bytes are saved, and the cut records' counters are not handed out again"
        );
        Ok(Some((past.end_counter, past.records)))
    }

    /// Scans the tail segment from its last checkpoint (an index written
    /// at a clean shutdown or by maintenance after a sync), or from offset 0
    /// when there is none or it does not fit the file. A checkpoint longer
    /// than the file is returned too: the file lost data it vouched for.
    async fn scan_tail(
        storage: &S,
        file: &S::File,
        path: &std::path::Path,
        base: u64,
    ) -> Result<(ScanOutcome, Option<SegmentSummary>)> {
        let idx_path = path.with_file_name(index_file_name(base));
        if let Some(bytes) = storage.read_file(&idx_path).await? {
            match SegmentSummary::decode(&bytes, base) {
                Some(known) if known.data_len <= file.size().await? => {
                    return Ok((scan_segment_from(file, known).await?, None))
                }
                Some(longer) => return Ok((scan_segment(file, base).await?, Some(longer))),
                None => {
                    tracing::warn!(index = %idx_path.display(), "damaged checkpoint index; scanning the segment whole")
                }
            }
        }
        Ok((scan_segment(file, base).await?, None))
    }

    async fn load_sealed_summary(
        storage: &S,
        ident: &ShardIdent,
        path: &std::path::Path,
        base: u64,
        report: &mut RecoveryReport,
    ) -> Result<SegmentSummary> {
        let idx_path = path.with_file_name(index_file_name(base));
        if let Some(bytes) = storage.read_file(&idx_path).await? {
            if let Some(summary) = SegmentSummary::decode(&bytes, base) {
                return Ok(summary);
            }
            tracing::warn!(shard = %ident, index = %idx_path.display(), "damaged segment index; rebuilding");
        }
        report.indexes_rebuilt += 1;
        let file = storage.open_segment(path, false).await?;
        let scan = scan_segment(&file, base).await?;
        if let ScanStop::Damaged { offset, reason } = scan.stop {
            tracing::error!(
                shard = %ident, segment = %path.display(), offset, reason,
                "corrupt frame inside a sealed segment; records from here to the segment's end are unreadable"
            );
            report.damage.push((path.display().to_string(), offset, reason.to_string()));
        }
        storage.write_file_atomic(&idx_path, &scan.summary.encode(base)).await?;
        Ok(scan.summary)
    }

    pub fn ident(&self) -> &ShardIdent {
        &self.ident
    }

    /// Counter of the oldest retained record position.
    pub fn trim_counter(&self) -> u64 {
        self.st.borrow().trim_counter
    }

    /// Counter one past the newest durable record.
    pub fn durable_next(&self) -> u64 {
        self.st.borrow().durable_next
    }

    pub fn ending_counter(&self) -> Option<u64> {
        self.st.borrow().ending_counter
    }

    pub fn tip_arrival_ms(&self) -> Option<u64> {
        self.st.borrow().tip_arrival_ms
    }

    pub fn sequence_number(&self, counter: u64) -> SequenceNumber {
        SequenceNumber::new(counter, self.ident.stream_tag, self.ident.shard_index)
    }

    /// Appends records as one frame and returns once they are durable (or
    /// written, in interval mode). Records must already be validated.
    ///
    /// `min_counter` raises the first counter (SequenceNumberForOrdering).
    pub async fn append(&self, records: &[RecordInput], min_counter: u64) -> Result<AppendAck> {
        assert!(!records.is_empty(), "append of no records");
        let (first, end) = {
            let mut st = self.st.borrow_mut();
            if st.failed.is_some() {
                return Err(EngineError::ShardFailed(self.ident.to_string()));
            }
            if st.ending_counter.is_some() {
                return Err(EngineError::ShardClosed(self.ident.to_string()));
            }
            let base = st.next_counter.max(min_counter);
            let arrival_ms = self.clock.now_ms().max(st.last_arrival_ms);
            st.last_arrival_ms = arrival_ms;
            let mut bytes = Vec::new();
            encode_frame(&mut bytes, records, base, arrival_ms);
            let frame = PendingFrame { bytes, base_counter: base, record_count: records.len() as u32, arrival_ms };
            let end = frame.end_counter();
            st.next_counter = end;
            st.pending.push(frame);
            self.count_busy(&mut st);
            (base, end)
        };
        self.wait_durable(end).await?;
        Ok(AppendAck {
            first_counter: first,
            record_count: records.len() as u32,
            durability: self.config.sync_policy.durability(),
        })
    }

    /// Waits until every counter below `end` is durable, leading a flush
    /// whenever frames are pending and no one is writing.
    async fn wait_durable(&self, end: u64) -> Result<()> {
        loop {
            let wait = {
                let mut st = self.st.borrow_mut();
                if st.durable_next >= end {
                    return Ok(());
                }
                if st.failed.is_some() {
                    return Err(EngineError::ShardFailed(self.ident.to_string()));
                }
                if st.writing || st.pending.is_empty() {
                    // Someone is flushing (perhaps our frames).
                    let (tx, rx) = oneshot::channel();
                    st.waiters.push(tx);
                    Some(rx)
                } else {
                    None
                }
            };
            match wait {
                // A dropped sender also means "look again".
                Some(rx) => {
                    let _ = rx.await;
                }
                None => self.flush_pending().await?,
            }
        }
    }

    fn wake_waiters(&self) {
        let waiters = std::mem::take(&mut self.st.borrow_mut().waiters);
        for w in waiters {
            let _ = w.send(());
        }
    }

    /// Takes the write position of the active segment; `false` if taken.
    fn try_begin(&self) -> bool {
        let mut st = self.st.borrow_mut();
        if st.writing {
            return false;
        }
        st.writing = true;
        self.count_busy(&mut st);
        true
    }

    fn end_writing(&self) {
        {
            let mut st = self.st.borrow_mut();
            st.writing = false;
            self.count_busy(&mut st);
        }
        self.wake_waiters();
    }

    /// Keeps this shard's mark in the core's [`CoreCommits`] in step with
    /// its state: counted while appends wait or the write position is held.
    fn count_busy(&self, st: &mut ShardState<S::File>) {
        let busy = st.writing || !st.pending.is_empty();
        if busy != st.counted_busy {
            st.counted_busy = busy;
            if busy {
                self.commits.enter();
            } else {
                self.commits.leave();
            }
        }
    }

    fn fail(&self, e: &EngineError) {
        tracing::error!(shard = %self.ident, error = %e, "write failed; shard refuses appends until reopened");
        {
            let mut st = self.st.borrow_mut();
            st.failed = Some(e.to_string());
            // Never written now: their appenders get the error.
            st.pending.clear();
            self.count_busy(&mut st);
        }
        self.wake_waiters();
    }

    /// One group commit: write every pending frame, sync, then release the
    /// write position and wake everyone.
    async fn flush_pending(&self) -> Result<()> {
        {
            let st = self.st.borrow();
            if st.writing || st.pending.is_empty() {
                return Ok(());
            }
        }
        assert!(self.try_begin(), "checked above, with no await between");
        let mut flush = FlushInProgress { log: self, frames_taken: false, finished: false };
        // The appenders the previous group just acknowledged are runnable and
        // most will append again at once: one pass of the task queue lets
        // them join this group instead of waiting a whole flush for the next.
        yield_once().await;
        let frames = std::mem::take(&mut self.st.borrow_mut().pending);
        flush.frames_taken = true;
        let committed = self.commit_group(frames).await;
        flush.finished = true;
        match &committed {
            Ok(()) => self.end_writing(),
            Err(e) => {
                self.fail(e);
                self.end_writing();
            }
        }
        committed
    }

    /// Writes frames whose appenders stopped waiting (their futures were
    /// dropped, which an embedding program may do) when no append came
    /// after them to carry them in its group. Run by maintenance.
    pub async fn flush_left_behind(&self) -> Result<()> {
        self.flush_pending().await
    }

    /// Writes `frames`, caches them, syncs (unless syncing on an interval)
    /// and moves the durable point past them. The caller holds the write
    /// position.
    async fn commit_group(&self, frames: Vec<PendingFrame>) -> Result<()> {
        let Some(last) = frames.last().map(|f| (f.end_counter(), f.arrival_ms)) else {
            return Ok(());
        };
        // Before anything is acknowledged: recovery never hands these out again.
        self.lease_through(last.0).await?;
        let (file, inline) = self.write_frames(&frames).await?;
        self.metrics.note_group(frames.iter().map(|f| (f.record_count, f.bytes.len())), inline);
        // Cached in counter order now; readers see them once durable.
        for f in frames {
            let payload = bytes::Bytes::from(f.bytes).slice(crate::frame::FRAME_HEADER_BYTES..);
            let cached = CachedFrame {
                base_counter: f.base_counter,
                record_count: f.record_count,
                arrival_ms: f.arrival_ms,
                payload,
            };
            self.budget.insert(&self.cache, cached);
        }
        if let SyncPolicy::Always = self.config.sync_policy {
            // Inline only right after an inline write: nothing ran between
            // the decision and here, and the file needs no journal commit.
            if inline {
                self.metrics.timed_sync(async { file.sync_data_inline() }).await?;
            } else {
                self.metrics.timed_sync(file.sync_data()).await?;
            }
        }
        let mut st = self.st.borrow_mut();
        let (end, arrival) = last;
        // A failed shard acknowledges nothing more, whatever reached the disk.
        if st.failed.is_none() && end > st.durable_next {
            st.durable_next = end;
            st.tip_arrival_ms = Some(arrival);
        }
        Ok(())
    }

    /// Writes frames to the active segment(s), rolling as needed, and
    /// returns the file written last (the one to sync) and whether that
    /// last write was inline (see [`commit_path`]). The caller holds the
    /// write position.
    async fn write_frames(&self, frames: &[PendingFrame]) -> Result<(Rc<S::File>, bool)> {
        let mut i = 0;
        let mut last_file = None;
        let mut last_inline = false;
        while i < frames.len() {
            let needs_segment = {
                let st = self.st.borrow();
                match (&st.tail, st.segments.back()) {
                    (Some(_), Some(seg)) => {
                        let len = seg.summary.data_len;
                        st.roll_before_append
                            || (len > 0 && len + frames[i].bytes.len() as u64 > self.config.segment_bytes)
                    }
                    _ => true,
                }
            };
            if needs_segment {
                self.roll(frames[i].base_counter).await?;
            }
            let (file, data_len, tail) = {
                let st = self.st.borrow();
                let seg = st.segments.back().expect("roll leaves an active segment");
                let file = seg.file.clone().expect("the active segment is open");
                (file, seg.summary.data_len, st.tail.clone().unwrap_or_default())
            };
            let mut j = i + 1;
            let mut len = frames[i].bytes.len() as u64;
            while let Some(f) = frames.get(j) {
                if data_len + len + f.bytes.len() as u64 > self.config.segment_bytes {
                    break;
                }
                len += f.bytes.len() as u64;
                j += 1;
            }
            let page_start = align_down(data_len);
            assert_eq!(tail.len() as u64, data_len - page_start, "tail page out of step");
            let end = crate::limits::align_up(data_len + len);
            self.claim_for_data(page_start, end).await;
            self.allocate_ahead(&file, end).await?;
            let mut chunker = Chunker::new(page_start, &tail, frames[i..j].iter().map(|f| f.bytes.as_slice()));
            let new_tail = chunker.new_tail();
            // Decided here, after the awaits above (a roll, a zero chunk, an
            // allocation) during which other shards may have become busy. Only
            // over pages already written: a write into fallocated space makes
            // its fdatasync commit the file system's journal, milliseconds
            // during which the whole core would stand still.
            let inline =
                commit_path::commits_inline(len, self.config.inline_commit_bytes_max, self.commits.busy_shards())
                    && end <= self.st.borrow().zeroed_len;
            if inline {
                write_chunks_inline(&*file, &mut chunker)?;
            } else {
                write_chunks(&*file, &mut chunker).await?;
            }
            self.note_group_for_runway(end, len);
            let mut st = self.st.borrow_mut();
            st.zeroed_len = st.zeroed_len.max(end);
            if let SyncPolicy::Interval { .. } = self.config.sync_policy {
                st.unsynced = true;
            }
            st.tail = Some(new_tail);
            let seg = st.segments.back_mut().expect("active segment");
            let mut offset = data_len;
            for f in &frames[i..j] {
                seg.summary.note_frame(offset, f.bytes.len() as u64, f.base_counter, f.end_counter(), f.arrival_ms);
                offset += f.bytes.len() as u64;
            }
            drop(st);
            last_file = Some(file);
            last_inline = inline;
            i = j;
        }
        Ok((last_file.expect("at least one frame was written"), last_inline))
    }

    /// Grows the active file's allocation in doubling steps so that `need`
    /// bytes fit.
    async fn allocate_ahead(&self, file: &S::File, need: u64) -> Result<()> {
        let allocated = self.st.borrow().allocated_len;
        if need <= allocated {
            return Ok(());
        }
        let step = allocated.max(crate::limits::PREALLOCATE_BYTES_MIN);
        let target = (allocated + step).min(self.config.segment_bytes).max(need);
        file.allocate(target).await?;
        let mut st = self.st.borrow_mut();
        // The zeroer allocates too, beside groups: keep the larger.
        st.allocated_len = st.allocated_len.max(target);
        Ok(())
    }

    /// Seals the active segment (if any) and starts a new one whose first
    /// counter is `base`. The caller holds the write position.
    async fn roll(&self, base: u64) -> Result<()> {
        // No zeroes may land in the old file after it is cut below.
        self.claim_for_data(0, u64::MAX).await;
        let sealing = {
            let st = self.st.borrow();
            match (&st.tail, st.segments.back()) {
                (Some(_), Some(seg)) => Some((
                    seg.file.clone(),
                    seg.index_path(),
                    seg.summary.encode(seg.base_counter),
                    seg.summary.data_len,
                )),
                _ => None,
            }
        };
        if let Some((_, idx_path, _, 0)) = &sealing {
            // An empty active segment (a restart's counter jump came before
            // any append to it) is removed rather than sealed: an empty
            // sealed segment has no arrival time, and retention, which
            // removes segments oldest first, would stop at it for good.
            let _index = self.index_lock.lock().await;
            let path = {
                let mut st = self.st.borrow_mut();
                st.tail = None;
                st.segments.pop_back().map(|s| s.path)
            };
            self.storage.remove_file(idx_path).await?;
            if let Some(path) = path {
                self.storage.remove_file(&path).await?;
            }
        } else if let Some((file, idx_path, idx, data_len)) = sealing {
            // The index may only describe durable data, and groups written
            // before may still be syncing: sync before sealing. Space
            // allocated ahead is given back.
            if let Some(file) = file {
                file.sync_data().await?;
                file.truncate(data_len).await?;
                self.st.borrow_mut().unsynced = false;
            }
            // Under the index lock: a checkpoint of this segment may be
            // writing the same file (see `checkpoint`).
            let _index = self.index_lock.lock().await;
            self.storage.write_file_atomic(&idx_path, &idx).await?;
            self.st.borrow_mut().tail = None;
        }
        let path = log_path(&self.dir, base);
        let file = self.storage.open_segment(&path, true).await?;
        let mut st = self.st.borrow_mut();
        assert!(st.segments.back().is_none_or(|s| s.base_counter < base), "segments are created in counter order");
        st.segments.push_back(Segment {
            base_counter: base,
            path,
            file: Some(Rc::new(file)),
            summary: SegmentSummary::empty(base),
        });
        st.tail = Some(Vec::new());
        st.roll_before_append = false;
        st.checkpointed_len = 0;
        st.allocated_len = 0;
        st.zeroed_len = 0;
        st.written_end = 0;
        Ok(())
    }

    /// In interval mode, syncs data written since the last sync.
    pub async fn sync_if_dirty(&self) -> Result<()> {
        if !self.st.borrow().unsynced || !self.try_begin() {
            return Ok(());
        }
        let file = self.st.borrow().segments.back().and_then(|s| s.file.clone());
        let result = match file {
            Some(f) => self.metrics.timed_sync(f.sync_data()).await,
            None => Ok(()),
        };
        if result.is_ok() {
            self.st.borrow_mut().unsynced = false;
        }
        self.end_writing();
        result
    }

    /// Counter of the first record that arrived at or after `ms`; the tip
    /// if there is none.
    pub async fn counter_at_time(&self, ms: u64) -> Result<u64> {
        let (tip, durable_next) = {
            let st = self.st.borrow();
            (st.tip_arrival_ms, st.durable_next)
        };
        if tip.is_none_or(|t| ms > t) {
            return Ok(durable_next);
        }
        {
            let cache = self.cache.borrow();
            if cache.front().is_some_and(|f| f.arrival_ms < ms) {
                if let Some(f) = cache.iter().find(|f| f.arrival_ms >= ms) {
                    return Ok(f.base_counter);
                }
            }
        }
        let count = self.st.borrow().segments.len();
        for i in 0..count {
            let Some((file, summary)) = self.segment_file(i).await? else {
                break;
            };
            if summary.last_ms.is_none_or(|last| last < ms) {
                continue;
            }
            let mut reader = FrameReader::new(&*file, summary.offset_for_time(ms), summary.data_len);
            while let NextFrame::Frame(f) = reader.next_frame().await? {
                if f.header.arrival_ms >= ms {
                    return Ok(f.header.base_counter);
                }
            }
        }
        Ok(durable_next)
    }

    /// Deletes whole segments whose newest record arrived before
    /// `now_ms - retention_ms`. Returns how many were deleted.
    pub async fn enforce_retention(&self, now_ms: u64, retention_ms: u64) -> Result<usize> {
        let cutoff = now_ms.saturating_sub(retention_ms);
        let expired = |s: &SegmentSummary| s.last_ms.is_some_and(|l| l < cutoff);
        // An expired active segment is first sealed behind a new, empty
        // one, so the counter sequence survives on disk.
        let active_expired = {
            let st = self.st.borrow();
            st.segments.len() == 1 && st.tail.is_some() && st.segments.back().is_some_and(|s| expired(&s.summary))
        };
        if active_expired && self.try_begin() {
            let still = {
                let st = self.st.borrow();
                st.pending.is_empty() && st.segments.back().is_some_and(|s| expired(&s.summary))
            };
            let next = self.st.borrow().durable_next;
            let r = if still { self.roll(next).await } else { Ok(()) };
            self.end_writing();
            r?;
        }
        let mut removed = 0;
        loop {
            let victim = {
                let st = self.st.borrow();
                match st.segments.front() {
                    // An empty sealed segment holds nothing to keep (and no
                    // arrival time to expire by).
                    Some(s) if st.segments.len() > 1 && (expired(&s.summary) || s.summary.data_len == 0) => {
                        Some((s.path.clone(), s.index_path()))
                    }
                    _ => None,
                }
            };
            let Some((log, idx)) = victim else { break };
            {
                // Forget it first: readers then never start on a deleted file.
                let mut st = self.st.borrow_mut();
                st.segments.pop_front();
                st.trim_counter = st.segments.front().map_or(st.durable_next, |s| s.base_counter);
            }
            self.storage.remove_file(&idx).await?;
            self.storage.remove_file(&log).await?;
            removed += 1;
            tracing::info!(shard = %self.ident, segment = %log.display(), "retention removed segment");
        }
        if removed > 0 {
            self.storage.sync_dir(&self.dir).await?;
        }
        Ok(removed)
    }

    /// Closes the shard for appends (resharding); returns its ending
    /// counter (one past its last record). Waits for pending appends.
    pub async fn close(&self) -> Result<u64> {
        let end = {
            let mut st = self.st.borrow_mut();
            let next = st.next_counter;
            *st.ending_counter.get_or_insert(next)
        };
        // Appends admitted before the close are part of the shard.
        self.wait_durable(end).await?;
        self.wake_waiters(); // readers waiting for data learn of the end
        Ok(end)
    }

    /// A wake-up for a reader waiting for records at or after `counter`:
    /// it fires on the shard's next change (new durable records, a close, a
    /// failure). `None` if there is no need to wait.
    pub fn watch_from(&self, counter: u64) -> Option<oneshot::Receiver<()>> {
        let mut st = self.st.borrow_mut();
        if st.durable_next > counter || st.ending_counter.is_some() || st.failed.is_some() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        st.waiters.push(tx);
        Some(rx)
    }

    /// Undoes [`ShardLog::close`] when the reshard that closed the shard
    /// could not be recorded (the catalog still says the shard is open).
    pub fn reopen_for_appends(&self) {
        self.st.borrow_mut().ending_counter = None;
    }

    /// Waits for in-flight appends, syncs, and checkpoints the tail
    /// segment's index so the next open scans nothing.
    pub async fn shutdown(&self) -> Result<()> {
        let end = self.st.borrow().next_counter;
        self.wait_durable(end).await?;
        self.sync_if_dirty().await?;
        self.checkpoint().await
    }

    /// Saves the active segment's index covering its synced data, as the
    /// known-good point the next recovery scan starts from. Data before it
    /// never changes (appends only add; the tail-page rewrite keeps existing
    /// bytes), so even an old checkpoint stays a valid starting point.
    ///
    /// Only the sync and the snapshot hold the write position; the index
    /// file itself (a temp file, its fsync, a rename and the directory's
    /// fsync: journal commits) is written beside the appends, so they
    /// never wait for it. A roll seals under the same index lock, and a
    /// checkpoint whose segment was sealed meanwhile is dropped, so a stale
    /// checkpoint never replaces a sealed segment's index.
    pub async fn checkpoint(&self) -> Result<()> {
        if !self.try_begin() {
            return Ok(());
        }
        let snapshot = self.checkpoint_snapshot().await;
        self.end_writing();
        let Some((base, path, bytes, len)) = snapshot? else { return Ok(()) };
        let _index = self.index_lock.lock().await;
        let still_active = {
            let st = self.st.borrow();
            st.tail.is_some() && st.segments.back().is_some_and(|s| s.base_counter == base)
        };
        if !still_active {
            return Ok(());
        }
        self.storage.write_file_atomic(&path, &bytes).await?;
        let mut st = self.st.borrow_mut();
        st.checkpointed_len = st.checkpointed_len.max(len);
        Ok(())
    }

    /// Syncs the tail segment and describes it: (base, index path, index
    /// bytes, data length). The caller holds the write position.
    async fn checkpoint_snapshot(&self) -> Result<Option<(u64, PathBuf, Vec<u8>, u64)>> {
        let Some(file) = self.st.borrow().segments.back().and_then(|s| s.file.clone()) else {
            return Ok(None);
        };
        // Recovery trusts what the index describes without re-reading it,
        // so it may only describe durable data, and the last group's own
        // fdatasync may still be in flight: sync first (nothing new is
        // written while the write position is held).
        if let Err(e) = file.sync_data().await {
            self.fail(&e);
            return Err(e);
        }
        let mut st = self.st.borrow_mut();
        st.unsynced = false;
        Ok(match (&st.tail, st.segments.back()) {
            (Some(_), Some(seg)) if seg.summary.data_len > 0 => {
                Some((seg.base_counter, seg.index_path(), seg.summary.encode(seg.base_counter), seg.summary.data_len))
            }
            _ => None,
        })
    }

    /// Whether enough was appended since the last checkpoint to write one.
    pub fn checkpoint_due(&self) -> bool {
        let st = self.st.borrow();
        st.tail.is_some()
            && st
                .segments
                .back()
                .is_some_and(|s| s.summary.data_len >= st.checkpointed_len + crate::limits::CHECKPOINT_INTERVAL_BYTES)
    }

    /// Bytes of cached frames held by this shard (for tests and metrics).
    pub fn cached_frames(&self) -> usize {
        self.cache.borrow().len()
    }

    pub fn segment_count(&self) -> usize {
        self.st.borrow().segments.len()
    }
}

/// A flush whose future may be dropped at any await (an embedding program
/// dropping an append's future): dropped before it took the pending frames,
/// it just gives the write position back (the frames wait for the next
/// flush); dropped after, its frames may be partly written and the log's
/// state no longer matches the file, so the shard fails until reopened
/// rather than standing still with the write position held forever.
struct FlushInProgress<'a, S: Storage, C: Clock> {
    log: &'a ShardLog<S, C>,
    frames_taken: bool,
    finished: bool,
}

impl<S: Storage, C: Clock> Drop for FlushInProgress<'_, S, C> {
    fn drop(&mut self) {
        // Unwinding from a panic (a broken invariant, perhaps with the state
        // borrowed): touching the state again could only make it worse.
        if self.finished || std::thread::panicking() {
            return;
        }
        if self.frames_taken {
            let e = EngineError::ShardFailed(format!("{} (a group commit was abandoned midway)", self.log.ident));
            self.log.fail(&e);
        }
        self.log.end_writing();
    }
}

impl<S: Storage, C: Clock> Drop for ShardLog<S, C> {
    fn drop(&mut self) {
        // A log dropped with appends waiting (its core stopping) must not
        // leave the core counting it as committing.
        if self.st.get_mut().counted_busy {
            self.commits.leave();
        }
    }
}

/// Returns `Pending` once (waking itself), so every task already runnable
/// runs before the caller goes on.
pub(crate) async fn yield_once() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}
