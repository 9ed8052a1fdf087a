//! The zeroed runway ahead of a shard's appends.
//!
//! A group written over pages that were already written syncs with a device
//! flush alone; written into fallocated space, its fdatasync must also
//! commit the file system's journal (see
//! [`ZERO_AHEAD_BYTES`](crate::limits::ZERO_AHEAD_BYTES)). So a shard that
//! appends in small groups keeps zeroed pages ahead of its appends.
//!
//! The zeroing runs beside the appends, never in a group's way: a group that
//! finds its runway short raises the core's [`RunwaySignal`], and the core's
//! runway task (or maintenance, for an embedded engine) writes the zeros
//! without taking the write position. Before, the group that noticed zeroed
//! the next 2 MiB beside its own write and waited for it: 2–7 ms every
//! 2 MiB, the largest share of the slowest puts (BENCHMARKS.md, session 5).
//!
//! Safety: zeros must never land on data. The zeroer writes one chunk at a
//! time, each starting at or past `written_end` (the end of every group's
//! write, set before the group writes), and announces it in `zeroing`
//! before issuing it. A group whose write would overlap the chunk in flight
//! waits for that chunk (the zeros land first, then the data over them);
//! since the group moved `written_end` past its own write first, no later
//! chunk overlaps it. A roll moves `written_end` to the end of the file and
//! waits the same way before truncating, so no zeros land after the cut.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};

use futures::channel::oneshot;
use futures::future::{FutureExt, Shared};

use super::ShardLog;
use crate::clock::Clock;
use crate::error::Result;
use crate::limits::{
    align_up, WRITE_CHUNK_BYTES, ZERO_AHEAD_BYTES, ZERO_AHEAD_BYTES_MIN, ZERO_AHEAD_BYTES_PER_SECOND_MAX,
    ZERO_AHEAD_GROUP_MAX_BYTES,
};
use crate::segment::write::write_zeroes;
use crate::segment::Segment;
use crate::storage::{SegmentFile, Storage};

/// Wakes a core's runway task when one of its shards wants zeroes ahead.
/// Raised any number of times, it wakes the task once.
#[derive(Default)]
pub struct RunwaySignal {
    raised: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl RunwaySignal {
    pub fn raise(&self) {
        self.raised.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Resolves once raised since the last wait.
    pub async fn wait(&self) {
        poll_fn(|cx| {
            if self.raised.replace(false) {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// A zero write in flight: `from..to` of the active segment.
pub(super) struct ZeroChunk {
    from: u64,
    to: u64,
    done: Shared<oneshot::Receiver<()>>,
}

impl<S: Storage, C: Clock> ShardLog<S, C> {
    /// Called by a group that wrote `group_len` bytes ending at `end`
    /// (aligned): asks for zeroes ahead when the runway is short.
    pub(super) fn note_group_for_runway(&self, end: u64, group_len: u64) {
        let mut st = self.st.borrow_mut();
        let want = (end + runway_bytes(end) / 2).min(self.config.segment_bytes);
        if group_len <= ZERO_AHEAD_GROUP_MAX_BYTES && st.zeroed_len < want && !st.runway_wanted {
            st.runway_wanted = true;
            drop(st);
            self.runway.raise();
        }
    }

    /// Marks everything up to `end` as taken by data and waits for a zero
    /// chunk in flight that overlaps `from..end`. Called before writing
    /// there, with no await between the two steps' effects on the state.
    pub(super) async fn claim_for_data(&self, from: u64, end: u64) {
        let done = {
            let mut st = self.st.borrow_mut();
            st.written_end = st.written_end.max(end);
            st.zeroing.as_ref().filter(|z| z.from < end && from < z.to).map(|z| z.done.clone())
        };
        if let Some(done) = done {
            // An error on the zeroer's side cancels nothing here: the
            // chunk is no longer in flight either way.
            let _ = done.await;
        }
    }

    /// Zeroes the runway ahead of a shard whose groups asked for it,
    /// beside its appends (see the module notes). A shard that did not ask
    /// since the last call is left alone, so idle shards cost nothing.
    pub async fn prepare_runway(&self) -> Result<()> {
        {
            let mut st = self.st.borrow_mut();
            let wanted = std::mem::take(&mut st.runway_wanted);
            if !wanted || st.zeroer_running || st.failed.is_some() || st.ending_counter.is_some() {
                return Ok(());
            }
            st.zeroer_running = true;
        }
        let result = self.zero_runway().await;
        self.st.borrow_mut().zeroer_running = false;
        if let Err(e) = &result {
            self.fail(e);
        }
        result
    }

    async fn zero_runway(&self) -> Result<()> {
        let (file, base, target) = {
            let st = self.st.borrow();
            let (Some(_), Some(Segment { file: Some(file), summary, base_counter, .. })) =
                (&st.tail, st.segments.back())
            else {
                return Ok(());
            };
            // `written_end` is u64::MAX while a roll is sealing the file.
            let end = st.written_end.max(align_up(summary.data_len));
            let ahead = runway_bytes(align_up(summary.data_len));
            (file.clone(), *base_counter, end.saturating_add(ahead).min(self.config.segment_bytes))
        };
        let mut pos = {
            let mut st = self.st.borrow_mut();
            let from = st.zeroed_len.max(st.written_end);
            let now_ms = self.clock.now_ms();
            if from >= target || now_ms < st.zero_ahead_not_before_ms {
                return Ok(());
            }
            st.zero_ahead_not_before_ms = now_ms + (target - from) * 1000 / ZERO_AHEAD_BYTES_PER_SECOND_MAX;
            from
        };
        let mut wrote = false;
        loop {
            let (from, to, done) = {
                let mut st = self.st.borrow_mut();
                let still_active = st.segments.back().is_some_and(|s| s.base_counter == base);
                let from = pos.max(st.written_end);
                if !still_active || st.failed.is_some() || from >= target {
                    break;
                }
                let to = (from + WRITE_CHUNK_BYTES as u64).min(target);
                let (done, rx) = oneshot::channel();
                st.zeroing = Some(ZeroChunk { from, to, done: rx.shared() });
                (from, to, done)
            };
            let written = async {
                self.allocate_ahead(&file, to).await?;
                write_zeroes(&*file, from, to).await
            }
            .await;
            {
                let mut st = self.st.borrow_mut();
                st.zeroing = None;
                if written.is_ok() && st.segments.back().is_some_and(|s| s.base_counter == base) {
                    st.zeroed_len = st.zeroed_len.max(to);
                }
            }
            let _ = done.send(());
            written?;
            wrote = true;
            pos = to;
        }
        if wrote {
            // Synced now, so the journal commit that makes these pages
            // written is not left to a group's fdatasync.
            file.sync_data().await?;
        }
        Ok(())
    }
}

/// Zeroed bytes to keep ahead of a segment holding `data_end` bytes.
fn runway_bytes(data_end: u64) -> u64 {
    data_end.clamp(ZERO_AHEAD_BYTES_MIN, ZERO_AHEAD_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_signal_wakes_one_wait() {
        let signal = RunwaySignal::default();
        signal.raise();
        signal.raise();
        futures::executor::block_on(signal.wait());
        assert!(signal.wait().now_or_never().is_none(), "two raises before a wait wake it once");
        signal.raise();
        assert!(signal.wait().now_or_never().is_some());
    }
}
