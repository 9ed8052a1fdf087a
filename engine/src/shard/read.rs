//! The read path: records from the tail cache when it holds them, else from
//! segment files, verified frame by frame.

use std::rc::Rc;

use bytes::Bytes;

use super::ShardLog;
use crate::clock::Clock;
use crate::error::{EngineError, Result};
use crate::frame::PayloadRecords;
use crate::model::Record;
use crate::segment::{FrameReader, NextFrame, SegmentSummary};
use crate::storage::Storage;
use crate::tail_cache::{first_frame_ending_after, CachedFrame};

/// Records read from a shard.
#[derive(Clone, Debug, Default)]
pub struct ReadBatch {
    pub records: Vec<Record>,
    /// Counter to continue from.
    pub next_counter: u64,
    /// Milliseconds between the newest record returned and now; 0 when the
    /// reader is at the tip.
    pub millis_behind: u64,
    /// The shard is closed and the reader has passed its last record.
    pub at_shard_end: bool,
}

/// Gathers records up to the read's limits and tracks the position.
struct Collector {
    records: Vec<Record>,
    bytes: usize,
    max_records: usize,
    max_bytes: usize,
    /// Next counter to read.
    pos: u64,
    /// Counters at or above this are not durable yet.
    durable_next: u64,
    /// The next record would have taken the batch past `max_bytes`.
    next_does_not_fit: bool,
}

impl Collector {
    /// At least one record is always allowed, whatever its size; after it,
    /// a record that would take the batch past `max_bytes` ends it, and so
    /// does reaching `max_bytes` (every record has a key, so nothing more
    /// fits). A read that stops short of full must have reached the end of
    /// what is durable: `read` moves to the tip when a pass finds nothing.
    fn full(&self) -> bool {
        self.records.len() >= self.max_records
            || self.next_does_not_fit
            || (!self.records.is_empty() && self.bytes >= self.max_bytes)
    }

    /// Takes the records of one frame from `pos` on. Returns `true` if
    /// the whole frame was consumed.
    fn take_frame<S: Storage, C: Clock>(
        &mut self,
        log: &ShardLog<S, C>,
        base_counter: u64,
        record_count: u32,
        arrival_ms: u64,
        payload: Bytes,
    ) -> bool {
        let end = base_counter + record_count as u64;
        self.pos = self.pos.max(base_counter);
        for (i, (key, data)) in PayloadRecords::new(payload, record_count).enumerate() {
            let counter = base_counter + i as u64;
            if counter < self.pos {
                continue;
            }
            if counter >= self.durable_next || self.full() {
                return false;
            }
            let size = key.len() + data.len();
            if !self.records.is_empty() && self.bytes + size > self.max_bytes {
                self.next_does_not_fit = true;
                return false;
            }
            self.bytes += size;
            self.records.push(Record {
                sequence_number: log.sequence_number(counter),
                arrival_ms,
                partition_key: key,
                data,
            });
            self.pos = counter + 1;
        }
        self.pos = self.pos.max(end);
        true
    }
}

impl<S: Storage, C: Clock> ShardLog<S, C> {
    /// Reads records from `from` on, up to the limits (at least one record
    /// is returned when any is available, whatever its size).
    pub async fn read(&self, from: u64, max_records: usize, max_bytes: usize) -> Result<ReadBatch> {
        let (pos, durable_next) = (from.max(self.trim_counter()), self.durable_next());
        // Sized once: growing a Vec of 10,000 records by doubling copied it
        // into freshly faulted memory several times per read.
        let available = usize::try_from(durable_next.saturating_sub(pos)).unwrap_or(usize::MAX);
        let mut c = Collector {
            records: Vec::with_capacity(max_records.min(available).min(crate::limits::READ_RECORDS_MAX)),
            bytes: 0,
            max_records,
            max_bytes,
            pos,
            durable_next,
            next_does_not_fit: false,
        };
        let mut from_disk = false;
        while c.pos < c.durable_next && !c.full() {
            let before = (c.pos, c.records.len());
            let cache_front = self.cache.borrow().front().map(|f| f.base_counter);
            match cache_front {
                Some(front) if c.pos >= front => self.read_cache(&mut c),
                _ => {
                    let stop_at = cache_front.unwrap_or(u64::MAX).min(c.durable_next);
                    match self.read_disk(&mut c, stop_at).await {
                        // The records collected before a damaged frame are
                        // intact: they are returned, and the next read, which
                        // starts at the damaged frame, gets the error.
                        Err(EngineError::Corrupt { .. }) if !c.records.is_empty() => {
                            from_disk = true;
                            break;
                        }
                        r => r?,
                    }
                    from_disk |= c.records.len() > before.1;
                }
            }
            if c.full() {
                // Stopped by a limit (perhaps before the first record of this
                // pass): the position stays where the next read goes on.
                break;
            }
            if before == (c.pos, c.records.len()) {
                // Nothing at or after `pos` below the stop point: skip ahead
                // to the cache (a counter gap left by ordering bumps).
                match cache_front {
                    Some(front) if front > c.pos => c.pos = front,
                    // No record at or after `pos` is durable: the counters
                    // up to the tip are a gap (a shard's start, or ordering
                    // bumps), so the position moves to the tip.
                    _ => {
                        c.pos = c.durable_next;
                        break;
                    }
                }
            }
        }
        if !c.records.is_empty() {
            self.metrics.note_cache(from_disk);
        }
        let st = self.st.borrow();
        let next_counter = c.pos.max(st.trim_counter);
        let millis_behind = match c.records.last() {
            Some(r) if next_counter < st.durable_next => self.clock.now_ms().saturating_sub(r.arrival_ms),
            _ => 0,
        };
        Ok(ReadBatch {
            records: c.records,
            next_counter,
            millis_behind,
            at_shard_end: st.ending_counter.is_some_and(|e| next_counter >= e),
        })
    }

    fn read_cache(&self, c: &mut Collector) {
        // Clone the few frames needed (cheap: payloads are shared) so no
        // borrow of the cache is held while records are built.
        let frames: Vec<CachedFrame> = {
            let cache = self.cache.borrow();
            let start = first_frame_ending_after(&cache, c.pos);
            let mut bytes = c.bytes;
            let mut taken = Vec::new();
            for f in cache.iter().skip(start) {
                if c.records.len() + taken.len() >= c.max_records || bytes >= c.max_bytes {
                    break;
                }
                bytes += f.payload.len();
                taken.push(f.clone());
            }
            taken
        };
        for f in frames {
            if c.full() || !c.take_frame(self, f.base_counter, f.record_count, f.arrival_ms, f.payload) {
                break;
            }
        }
    }

    /// Opens (if needed) and returns the file of the segment at `i`.
    pub(super) async fn segment_file(&self, i: usize) -> Result<Option<(Rc<S::File>, SegmentSummary)>> {
        let (file, path, summary) = {
            let st = self.st.borrow();
            let Some(seg) = st.segments.get(i) else {
                return Ok(None);
            };
            (seg.file.clone(), seg.path.clone(), seg.summary.clone())
        };
        let file = match file {
            Some(f) => f,
            None => {
                let f = Rc::new(self.storage.open_segment(&path, false).await?);
                if let Some(seg) = self.st.borrow_mut().segments.get_mut(i) {
                    if seg.path == path {
                        seg.file = Some(f.clone());
                    }
                }
                f
            }
        };
        Ok(Some((file, summary)))
    }

    /// Index of the segment holding `counter` (the last one starting at or
    /// before it), or the first segment if `counter` precedes them all.
    fn segment_for(&self, counter: u64) -> Option<usize> {
        let st = self.st.borrow();
        if st.segments.is_empty() {
            return None;
        }
        Some(st.segments.partition_point(|s| s.base_counter <= counter).saturating_sub(1))
    }

    async fn read_disk(&self, c: &mut Collector, stop_at: u64) -> Result<()> {
        let Some(mut i) = self.segment_for(c.pos) else {
            return Ok(());
        };
        while c.pos < stop_at && !c.full() {
            let Some((file, summary)) = self.segment_file(i).await? else {
                return Ok(());
            };
            if summary.end_counter <= c.pos {
                i += 1;
                continue;
            }
            let mut reader = FrameReader::new(&*file, summary.offset_for_counter(c.pos), summary.data_len);
            loop {
                if c.pos >= stop_at || c.full() {
                    return Ok(());
                }
                let frame = match reader.next_frame().await? {
                    NextFrame::Frame(f) => f,
                    NextFrame::End => break,
                    NextFrame::Damaged { offset, reason } => return Err(self.corrupt_on_read(i, offset, reason)),
                };
                let h = frame.header;
                if h.end_counter() <= c.pos {
                    continue;
                }
                if h.base_counter >= stop_at {
                    return Ok(());
                }
                if !c.take_frame(self, h.base_counter, h.record_count, h.arrival_ms, frame.payload) {
                    return Ok(());
                }
            }
            c.pos = c.pos.max(summary.end_counter);
            i += 1;
        }
        Ok(())
    }

    fn corrupt_on_read(&self, segment_index: usize, offset: u64, reason: &'static str) -> EngineError {
        let segment =
            self.st.borrow().segments.get(segment_index).map(|s| s.path.display().to_string()).unwrap_or_default();
        tracing::error!(shard = %self.ident, %segment, offset, reason, "corrupt frame on read");
        EngineError::Corrupt { shard: self.ident.to_string(), segment, offset, detail: reason.to_string() }
    }
}
