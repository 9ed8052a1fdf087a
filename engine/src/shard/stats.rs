//! What a shard's log tells a metrics scrape: its counters, and gauges read
//! from its state. Kept apart from the write path so that observing the log
//! stays out of the way of changing it.

use std::rc::Rc;

use super::ShardLog;
use crate::clock::Clock;
use crate::metrics::{CoreMetrics, ShardMetrics, ShardStorage};
use crate::storage::Storage;

impl<S: Storage, C: Clock> ShardLog<S, C> {
    /// The shard's counters.
    pub fn metrics(&self) -> &ShardMetrics {
        &self.metrics
    }

    /// Counts this shard's group commits and cache lookups in its core's
    /// totals (a log starts with counters of its own).
    pub fn attach_core_metrics(&mut self, core: Rc<CoreMetrics>) {
        self.metrics = ShardMetrics::new(core);
    }

    /// Records, bytes and arrival times of what the shard retains now.
    pub fn storage_stats(&self) -> ShardStorage {
        let st = self.st.borrow();
        let mut s = ShardStorage { newest_arrival_ms: st.tip_arrival_ms, ..ShardStorage::default() };
        let active = if st.tail.is_some() { st.segments.len().checked_sub(1) } else { None };
        for (i, seg) in st.segments.iter().enumerate() {
            let summary = &seg.summary;
            s.records += summary.end_counter.min(st.durable_next).saturating_sub(seg.base_counter);
            s.bytes += summary.data_len;
            s.file_bytes += if Some(i) == active { st.allocated_len.max(summary.data_len) } else { summary.data_len };
            s.open_segments += u64::from(seg.file.is_some());
            if s.oldest_arrival_ms.is_none() {
                s.oldest_arrival_ms = summary.first_ms;
            }
        }
        s
    }
}
