//! How a group commit issues its I/O: through io_uring, or inline.
//!
//! Through io_uring, a small group's write and fdatasync each cost a round
//! trip through the executor's rings (the fdatasync through a kernel
//! worker thread besides), and each wakes the core again when it
//! completes. On the 2-vCPU test machine those hops took longer than the
//! device itself: a 4 KiB write + fdatasync takes the device about 85 µs
//! (p50), and the same group took the engine 200–300 µs. Issued as plain
//! system calls on the core's own thread, the core sleeps in the kernel and
//! the device's completion wakes it directly: at half the maximum PutRecord
//! rate, the server answered 97–99.7% of puts within 1 ms instead of
//! 85–94%, and the maximum rate rose in all six pairs measured
//! (BENCHMARKS.md, session 8).
//!
//! The price is that the core does nothing else meanwhile. That is cheap
//! only when the device's time is short and nothing else was ready to run,
//! so a group goes inline only when all of these hold, checked right
//! before its write:
//! * it is small (`LogConfig::inline_commit_bytes_max`, 64 KiB by default);
//! * it is the core's only shard with appends waiting or a group in
//!   progress. When several commit at once, their groups go through
//!   io_uring so that their writes and syncs overlap (the block layer
//!   merges concurrent flushes) instead of taking turns on a blocked
//!   thread (with 32 busy shards on two cores, about 1% of groups went
//!   inline);
//! * it lands on pages already written (the zeroed runway, see
//!   `shard::runway`): after a write into fallocated space the fdatasync
//!   commits the file system's journal, milliseconds shared with every
//!   other file, for which the core must not stand still.
//!
//! Larger groups are cut into chunks written in parallel through io_uring
//! (an inline group up to the 1 MiB cap is written chunk after chunk).
//! The sync follows its group's write: inline after an inline write.
//!
//! [`CoreCommits`] counts the shards of one core with appends waiting or a
//! group in progress; each shard keeps its own mark so it counts once.

use std::cell::Cell;

/// Shards of one core with appends waiting or a group commit in progress.
#[derive(Debug, Default)]
pub struct CoreCommits {
    busy: Cell<usize>,
}

impl CoreCommits {
    pub(super) fn enter(&self) {
        self.busy.set(self.busy.get() + 1);
    }

    pub(super) fn leave(&self) {
        let busy = self.busy.get();
        assert!(busy > 0, "a shard left the core's commits without entering");
        self.busy.set(busy - 1);
    }

    /// Shards of the core with appends waiting or a group in progress.
    pub fn busy_shards(&self) -> usize {
        self.busy.get()
    }
}

/// Whether a group of `group_bytes` (its frames) commits inline,
/// given the shard's limit (`inline_bytes_max`, 0 = never) and how many
/// shards of its core are busy, itself included.
pub(super) fn commits_inline(group_bytes: u64, inline_bytes_max: u64, busy_shards: usize) -> bool {
    group_bytes <= inline_bytes_max && busy_shards <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_groups_alone_on_their_core_commit_inline() {
        assert!(commits_inline(4096, 65536, 1));
        assert!(commits_inline(65536, 65536, 1));
        assert!(!commits_inline(65536 + 4096, 65536, 1), "too large");
        assert!(!commits_inline(4096, 65536, 2), "another shard of the core is committing");
        assert!(!commits_inline(4096, 0, 1), "turned off");
    }

    #[test]
    fn busy_shards_count_entries_and_exits() {
        let c = CoreCommits::default();
        c.enter();
        c.enter();
        assert_eq!(c.busy_shards(), 2);
        c.leave();
        assert_eq!(c.busy_shards(), 1);
    }

    #[test]
    #[should_panic(expected = "without entering")]
    fn leaving_more_than_entered_is_a_bug() {
        CoreCommits::default().leave();
    }
}
