//! The tail cache: recent durable frames of every shard on a core, kept in
//! memory so that readers near the tip never touch the disk.
//!
//! Each shard keeps its cached frames in counter order; the core keeps one
//! FIFO of every insertion across its shards and a byte budget. When the
//! budget is exceeded the oldest insertion on the core is evicted, whichever
//! shard it belongs to, so a busy shard cannot be starved by an idle one
//! holding stale entries.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use bytes::Bytes;

/// One cached frame: its records' payload, as written to disk.
#[derive(Clone, Debug)]
pub struct CachedFrame {
    pub base_counter: u64,
    pub record_count: u32,
    pub arrival_ms: u64,
    pub payload: Bytes,
}

impl CachedFrame {
    pub fn end_counter(&self) -> u64 {
        self.base_counter + self.record_count as u64
    }
}

/// One shard's cached frames, oldest first.
pub type ShardCache = RefCell<VecDeque<CachedFrame>>;

/// The per-core budget shared by all shards' caches.
pub struct CacheBudget {
    limit_bytes: usize,
    used_bytes: Cell<usize>,
    fifo: RefCell<VecDeque<(Weak<ShardCache>, usize)>>,
}

impl CacheBudget {
    pub fn new(limit_bytes: usize) -> Rc<Self> {
        Rc::new(Self { limit_bytes, used_bytes: Cell::new(0), fifo: RefCell::new(VecDeque::new()) })
    }

    pub fn used_bytes(&self) -> usize {
        self.used_bytes.get()
    }

    pub fn limit_bytes(&self) -> usize {
        self.limit_bytes
    }

    /// Adds a frame to `shard`'s cache, evicting the core's oldest frames
    /// while over budget. A frame larger than the whole budget is evicted
    /// too, after everything older: a shard's cache must stay contiguous
    /// (readers take whatever follows a cached frame as the next records),
    /// so a frame may not be left out while older ones stay.
    pub fn insert(&self, shard: &Rc<ShardCache>, frame: CachedFrame) {
        let size = frame.payload.len();
        shard.borrow_mut().push_back(frame);
        self.fifo.borrow_mut().push_back((Rc::downgrade(shard), size));
        self.used_bytes.set(self.used_bytes.get() + size);
        while self.used_bytes.get() > self.limit_bytes {
            let Some((owner, size)) = self.fifo.borrow_mut().pop_front() else {
                break;
            };
            self.used_bytes.set(self.used_bytes.get() - size);
            if let Some(owner) = owner.upgrade() {
                // Per shard, insertion order is FIFO order, so the core's
                // oldest entry for this shard is the shard's front.
                owner.borrow_mut().pop_front();
            }
        }
    }
}

/// Index of the first cached frame that ends after `counter`.
pub fn first_frame_ending_after(frames: &VecDeque<CachedFrame>, counter: u64) -> usize {
    frames.partition_point(|f| f.end_counter() <= counter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(base: u64, bytes: usize) -> CachedFrame {
        CachedFrame { base_counter: base, record_count: 1, arrival_ms: 0, payload: Bytes::from(vec![0u8; bytes]) }
    }

    #[test]
    fn a_frame_over_the_whole_budget_leaves_no_hole() {
        let budget = CacheBudget::new(1000);
        let a: Rc<ShardCache> = Rc::default();
        let b: Rc<ShardCache> = Rc::default();
        budget.insert(&a, frame(0, 300));
        budget.insert(&b, frame(0, 300));
        budget.insert(&a, frame(1, 1500));
        // Shard a's older frame may not stay without the newer one after it.
        assert!(
            a.borrow().is_empty(),
            "a's cache: {:?}",
            a.borrow().iter().map(|f| f.base_counter).collect::<Vec<_>>()
        );
        assert!(b.borrow().is_empty(), "older than the big frame, so evicted first");
        assert_eq!(budget.used_bytes(), 0);
        budget.insert(&a, frame(2, 300));
        assert_eq!(a.borrow().iter().map(|f| f.base_counter).collect::<Vec<_>>(), [2]);
        assert_eq!(budget.used_bytes(), 300);
    }

    #[test]
    fn budget_is_never_exceeded_and_evicts_oldest_across_shards() {
        let budget = CacheBudget::new(1000);
        let a: Rc<ShardCache> = Rc::default();
        let b: Rc<ShardCache> = Rc::default();
        for i in 0..4 {
            budget.insert(&a, frame(i, 200));
        }
        for i in 0..3 {
            budget.insert(&b, frame(i, 200));
            assert!(budget.used_bytes() <= 1000);
        }
        // 7 × 200 inserted, 5 fit: the two oldest (both from `a`) went.
        assert_eq!(a.borrow().len(), 2);
        assert_eq!(a.borrow()[0].base_counter, 2);
        assert_eq!(b.borrow().len(), 3);
        // An oversized frame is not kept, and neither is anything older (no hole: see
        // `a_frame_over_the_whole_budget_leaves_no_hole`).
        budget.insert(&a, frame(9, 5000));
        assert!(a.borrow().is_empty() && b.borrow().is_empty());
        assert_eq!(budget.used_bytes(), 0);
    }

    #[test]
    fn dropped_shards_release_their_budget_lazily() {
        let budget = CacheBudget::new(400);
        {
            let a: Rc<ShardCache> = Rc::default();
            budget.insert(&a, frame(0, 400));
        }
        let b: Rc<ShardCache> = Rc::default();
        budget.insert(&b, frame(0, 300));
        assert_eq!(budget.used_bytes(), 300);
        assert_eq!(b.borrow().len(), 1);
    }

    #[test]
    fn lookup() {
        let mut q = VecDeque::new();
        q.push_back(CachedFrame { base_counter: 10, record_count: 5, arrival_ms: 0, payload: Bytes::new() });
        q.push_back(CachedFrame { base_counter: 20, record_count: 5, arrival_ms: 0, payload: Bytes::new() });
        assert_eq!(first_frame_ending_after(&q, 0), 0);
        assert_eq!(first_frame_ending_after(&q, 14), 0);
        assert_eq!(first_frame_ending_after(&q, 15), 1);
        assert_eq!(first_frame_ending_after(&q, 24), 1);
        assert_eq!(first_frame_ending_after(&q, 25), 2);
    }
}
