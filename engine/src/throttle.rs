//! Per-shard throughput limits (Kinesis: writes 1 MiB/s and 1,000
//! records/s, polled reads 2 MiB/s and 5 calls/s per shard), enforced with
//! token buckets on the core that owns the shard.
//!
//! # Burst
//! Each bucket holds at most one second of tokens: a shard that was idle
//! may take one second's worth at once; over any longer window the
//! accepted rate is the limit. Read bytes are charged after the read, so a
//! large response may leave the bucket in debt: further reads fail until
//! the debt is refilled (a 10 MiB response at 2 MiB/s blocks the shard's
//! readers for 5 s, as in Kinesis).

use rkyv::{Archive, Deserialize, Serialize};

/// A stream's per-shard limits. `u32::MAX` in a field means "unlimited"
/// (for benchmarks and embedding).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardLimits {
    pub write_bytes_per_second: u32,
    pub write_records_per_second: u32,
    pub read_bytes_per_second: u32,
    pub read_calls_per_second: u32,
}

impl ShardLimits {
    /// Kinesis' provisioned-mode limits.
    pub const KINESIS: ShardLimits = ShardLimits {
        write_bytes_per_second: 1024 * 1024,
        write_records_per_second: 1000,
        read_bytes_per_second: 2 * 1024 * 1024,
        read_calls_per_second: 5,
    };

    /// No limits at all.
    pub const UNLIMITED: ShardLimits = ShardLimits {
        write_bytes_per_second: UNLIMITED,
        write_records_per_second: UNLIMITED,
        read_bytes_per_second: UNLIMITED,
        read_calls_per_second: UNLIMITED,
    };
}

impl Default for ShardLimits {
    fn default() -> Self {
        Self::KINESIS
    }
}

/// The field value that means "no limit".
pub const UNLIMITED: u32 = u32::MAX;

/// Milli-tokens per token: buckets count in thousandths so that refills
/// at millisecond granularity stay exact for any rate.
const MILLI: i64 = 1000;

/// A token bucket refilled by a millisecond clock.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    /// Tokens per second; `None` = unlimited.
    rate: Option<u32>,
    /// In milli-tokens; may be negative (debt) for charges after the fact.
    level: i64,
    last_ms: u64,
}

impl TokenBucket {
    pub fn new(rate_per_second: u32, now_ms: u64) -> Self {
        let rate = (rate_per_second != UNLIMITED).then_some(rate_per_second);
        Self { rate, level: rate.map_or(0, |r| r as i64 * MILLI), last_ms: now_ms }
    }

    fn capacity(rate: u32) -> i64 {
        rate as i64 * MILLI
    }

    fn refill(&mut self, now_ms: u64) {
        let Some(rate) = self.rate else { return };
        let elapsed = now_ms.saturating_sub(self.last_ms) as i64;
        self.last_ms = self.last_ms.max(now_ms);
        // rate tokens/s = rate milli-tokens per ms.
        self.level = (self.level + elapsed.saturating_mul(rate as i64)).min(Self::capacity(rate));
    }

    /// Whether `tokens` are available now (without taking them).
    pub fn has(&mut self, tokens: u64, now_ms: u64) -> bool {
        self.refill(now_ms);
        self.rate.is_none() || self.level >= tokens as i64 * MILLI
    }

    /// Whether the bucket is not in debt.
    pub fn positive(&mut self, now_ms: u64) -> bool {
        self.refill(now_ms);
        self.rate.is_none() || self.level > 0
    }

    /// Takes tokens (the level may go below zero).
    pub fn take(&mut self, tokens: u64) {
        if self.rate.is_some() {
            self.level -= (tokens as i64).saturating_mul(MILLI);
        }
    }
}

/// The four buckets of one shard.
#[derive(Clone, Debug)]
pub struct ShardThrottle {
    write_bytes: TokenBucket,
    write_records: TokenBucket,
    read_bytes: TokenBucket,
    read_calls: TokenBucket,
}

impl ShardThrottle {
    pub fn new(limits: ShardLimits, now_ms: u64) -> Self {
        Self {
            write_bytes: TokenBucket::new(limits.write_bytes_per_second, now_ms),
            write_records: TokenBucket::new(limits.write_records_per_second, now_ms),
            read_bytes: TokenBucket::new(limits.read_bytes_per_second, now_ms),
            read_calls: TokenBucket::new(limits.read_calls_per_second, now_ms),
        }
    }

    /// Decides record by record, in order, which records fit the write
    /// limits now, and takes their tokens. A refused record takes nothing,
    /// so a later, smaller record may still fit.
    /// `sizes` are the records' sizes (key + data bytes).
    pub fn admit_writes(&mut self, sizes: impl Iterator<Item = usize>, now_ms: u64) -> Vec<bool> {
        sizes
            .map(|bytes| {
                let bytes = bytes as u64;
                let fits = self.write_records.has(1, now_ms) && self.write_bytes.has(bytes, now_ms);
                if fits {
                    self.write_records.take(1);
                    self.write_bytes.take(bytes);
                }
                fits
            })
            .collect()
    }

    /// Admits one polled read call (taking a call token) if the shard's
    /// read budget is not exhausted.
    pub fn admit_read(&mut self, now_ms: u64) -> bool {
        let fits = self.read_calls.has(1, now_ms) && self.read_bytes.positive(now_ms);
        if fits {
            self.read_calls.take(1);
        }
        fits
    }

    /// Charges the bytes a read returned (after the fact; may go in debt).
    pub fn charge_read(&mut self, bytes: u64) {
        self.read_bytes.take(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RecordInput;

    #[test]
    fn bucket_refills_at_its_rate_and_caps_at_one_second() {
        let mut b = TokenBucket::new(1000, 0);
        assert!(b.has(1000, 0));
        b.take(1000);
        assert!(!b.has(1, 0));
        assert!(b.has(1, 1), "1 ms refills one token at 1000/s");
        assert!(!b.has(2, 1));
        assert!(b.has(1000, 10_000));
        assert!(!b.has(1001, 10_000), "never more than one second banked");
    }

    #[test]
    fn debt_blocks_until_repaid() {
        let mut b = TokenBucket::new(2 * 1024 * 1024, 0);
        b.take(10 * 1024 * 1024);
        assert!(!b.positive(4_000));
        assert!(b.positive(4_001));
    }

    #[test]
    fn unlimited_never_refuses() {
        let mut t = ShardThrottle::new(ShardLimits::UNLIMITED, 0);
        let recs = vec![RecordInput::new("k", vec![0u8; 1 << 20]); 100];
        assert!(t.admit_writes(recs.iter().map(RecordInput::size_bytes), 0).iter().all(|&a| a));
        for _ in 0..100 {
            assert!(t.admit_read(0));
            t.charge_read(1 << 30);
        }
    }

    #[test]
    fn records_are_admitted_in_order_and_a_refusal_takes_nothing() {
        let mut t = ShardThrottle::new(ShardLimits::KINESIS, 0);
        let big = RecordInput::new("k", vec![0u8; 700 * 1024]);
        let small = RecordInput::new("k", vec![0u8; 100 * 1024]);
        let admitted = t.admit_writes([&big, &big, &small].into_iter().map(|r| r.size_bytes()), 0);
        assert_eq!(admitted, vec![true, false, true]);
    }
}
