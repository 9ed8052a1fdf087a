//! Engine configuration: one source of truth for defaults and their bounds.

use std::path::PathBuf;

use crate::error::{EngineError, Result};
use crate::limits::*;
use crate::subscription::SubscriptionSettings;
use crate::throttle::ShardLimits;

/// When appended data is made durable, and so when a put is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Default. A put is acknowledged only after an fdatasync covering it;
    /// concurrent puts to a shard share one fdatasync (group commit).
    Always,
    /// RISK: a put is acknowledged once written to the device but before
    /// any fdatasync; a power loss or kernel crash within the interval can
    /// lose acknowledged records (a process crash alone does not, as the
    /// write already reached the device queue). Data is synced every
    /// `interval_ms`. Acks carry [`Durability::Written`] so clients and
    /// benchmarks can tell.
    Interval { interval_ms: u64 },
}

/// The durability a put was acknowledged with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// An fdatasync covering the records completed before the ack.
    Synced,
    /// Written to the device, not yet synced (non-default mode).
    Written,
}

impl SyncPolicy {
    pub fn durability(self) -> Durability {
        match self {
            SyncPolicy::Always => Durability::Synced,
            SyncPolicy::Interval { .. } => Durability::Written,
        }
    }
}

/// Settings of one shard log.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Segments roll once they would exceed this size.
    pub segment_bytes: u64,
    pub sync_policy: SyncPolicy,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { segment_bytes: SEGMENT_BYTES_DEFAULT, sync_policy: SyncPolicy::Always }
    }
}

/// Settings of a whole engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    /// Executors (one per core) to run; 0 = one per available CPU.
    pub cores: usize,
    pub log: LogConfig,
    /// Per-core bound on the in-memory tail cache.
    pub tail_cache_bytes: usize,
    /// DMA buffer pool per executor; flush and read buffers come from it
    /// (reused memory, no page faults). glommio registers it with io_uring
    /// when the memlock limit allows (root: always); a non-root user under
    /// the default 8 MiB limit gets a clean fallback to unregistered
    /// buffers, because 8 MiB is above a third of the limit (glommio-notes
    /// §1). A performance knob, not a limit.
    pub io_memory_bytes: usize,
    /// How often each core runs retention (and, in interval mode, syncs).
    pub maintenance_interval_ms: u64,
    /// Per-shard limits of streams created without their own.
    pub default_shard_limits: ShardLimits,
    /// Enhanced fan-out: subscription lifetime and per-consumer rate.
    pub subscription: SubscriptionSettings,
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            cores: 0,
            log: LogConfig::default(),
            tail_cache_bytes: TAIL_CACHE_BYTES_DEFAULT,
            io_memory_bytes: 8 << 20,
            maintenance_interval_ms: 1_000,
            default_shard_limits: ShardLimits::KINESIS,
            subscription: SubscriptionSettings::default(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        let seg = self.log.segment_bytes;
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&seg) || seg % DMA_ALIGNMENT as u64 != 0 {
            return Err(EngineError::InvalidArgument(format!(
                "segment size {seg} bytes must be a multiple of {DMA_ALIGNMENT} within \
                 {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX}"
            )));
        }
        if let SyncPolicy::Interval { interval_ms } = self.log.sync_policy {
            if !(1..=60_000).contains(&interval_ms) {
                return Err(EngineError::InvalidArgument(format!(
                    "sync interval {interval_ms} ms must be within 1..=60000"
                )));
            }
        }
        let l = self.default_shard_limits;
        if [l.write_bytes_per_second, l.write_records_per_second, l.read_bytes_per_second, l.read_calls_per_second]
            .contains(&0)
        {
            return Err(EngineError::InvalidArgument(
                "per-shard limits must be at least 1 (use the maximum, 4294967295, for unlimited)".into(),
            ));
        }
        if self.maintenance_interval_ms == 0 {
            return Err(EngineError::InvalidArgument("maintenance interval must be at least 1 ms".into()));
        }
        Ok(())
    }
}
