//! Engine configuration: one source of truth for defaults and their bounds.

use std::fmt;
use std::path::PathBuf;

use crate::error::{EngineError, Result};
use crate::limits::*;
use crate::subscription::SubscriptionSettings;
use crate::throttle::{ShardLimits, UNLIMITED};

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
    /// A group of at most this many bytes, on a core where no other shard
    /// is committing, is written and synced with blocking calls on the
    /// core's thread instead of through io_uring (faster for small groups,
    /// see `shard::commit_path`); 0 = always through io_uring.
    pub inline_commit_bytes_max: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: SEGMENT_BYTES_DEFAULT,
            sync_policy: SyncPolicy::Always,
            inline_commit_bytes_max: INLINE_COMMIT_BYTES_MAX,
        }
    }
}

/// Settings of a whole engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    /// Executors (one per core) to run; 0 = one per available CPU (or per
    /// CPU of `cpuset`).
    pub cores: usize,
    /// CPUs to pin the executors to, executor `i` on `cpuset[i]`; empty =
    /// the CPUs the starting thread may run on, in order. Keeps CPUs free for
    /// other work on the same machine.
    pub cpuset: Vec<usize>,
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
    /// Retention of streams created without their own.
    pub default_retention_hours: u32,
    /// Enhanced fan-out: subscription lifetime and per-consumer rate.
    pub subscription: SubscriptionSettings,
}

/// A setting outside its allowed values: which one, its value, and what
/// is allowed, so that whoever set it (a config file, a flag, a program)
/// can name it in its own terms.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{setting} = {value}: must be {allowed}")]
pub struct InvalidSetting {
    /// The field of [`EngineConfig`], as a path: `log.segment_bytes`.
    pub setting: &'static str,
    pub value: String,
    pub allowed: String,
}

impl InvalidSetting {
    fn new(setting: &'static str, value: impl ToString, allowed: impl Into<String>) -> Self {
        Self { setting, value: value.to_string(), allowed: allowed.into() }
    }
}

/// `value` if it lies within `min..=max`, else the setting's error.
fn within<T: PartialOrd + fmt::Display + Copy>(
    setting: &'static str,
    value: T,
    min: T,
    max: T,
) -> std::result::Result<(), InvalidSetting> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(InvalidSetting::new(setting, value, format!("within {min}..={max}")))
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            cores: 0,
            cpuset: Vec::new(),
            log: LogConfig::default(),
            tail_cache_bytes: TAIL_CACHE_BYTES_DEFAULT,
            io_memory_bytes: 8 << 20,
            maintenance_interval_ms: 1_000,
            default_shard_limits: ShardLimits::KINESIS,
            default_retention_hours: RETENTION_HOURS_DEFAULT,
            subscription: SubscriptionSettings::default(),
        }
    }

    /// How many executors the engine runs: `cores`, or when that is 0,
    /// one per CPU of `cpuset`, or one per CPU available to the process.
    pub fn executors(&self) -> usize {
        match (self.cores, self.cpuset.len()) {
            (0, 0) => std::thread::available_parallelism().map_or(1, |n| n.get()),
            (0, set) => set,
            (cores, _) => cores,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.check().map_err(|e| EngineError::InvalidArgument(format!("invalid engine config: {e}")))
    }

    /// A CPU set names each CPU once and at least as many CPUs as
    /// executors. (Whether the process may run on them is known only when
    /// the engine starts.)
    fn check_cpuset(&self) -> std::result::Result<(), InvalidSetting> {
        let set = &self.cpuset;
        if set.is_empty() {
            return Ok(());
        }
        let shown = || set.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        if set.len() > CORES_MAX {
            return Err(InvalidSetting::new("cpuset", shown(), format!("at most {CORES_MAX} CPUs")));
        }
        if set.iter().enumerate().any(|(i, cpu)| set[..i].contains(cpu)) {
            return Err(InvalidSetting::new("cpuset", shown(), "a list of distinct CPU numbers"));
        }
        if self.cores > set.len() {
            return Err(InvalidSetting::new(
                "cores",
                self.cores,
                format!("at most the {} CPUs of cpuset {} (or 0: one per CPU of the set)", set.len(), shown()),
            ));
        }
        Ok(())
    }

    /// Checks every setting against its bounds (in [`crate::limits`]); the
    /// first one out of bounds is the error.
    pub fn check(&self) -> std::result::Result<(), InvalidSetting> {
        within("cores", self.cores, 0, CORES_MAX)?;
        self.check_cpuset()?;
        let seg = self.log.segment_bytes;
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&seg) || seg % DMA_ALIGNMENT as u64 != 0 {
            return Err(InvalidSetting::new(
                "log.segment_bytes",
                seg,
                format!("a multiple of {DMA_ALIGNMENT} within {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX}"),
            ));
        }
        within("log.inline_commit_bytes_max", self.log.inline_commit_bytes_max, 0, INLINE_COMMIT_BYTES_CAP)?;
        if let SyncPolicy::Interval { interval_ms } = self.log.sync_policy {
            within("log.sync_policy.interval_ms", interval_ms, SYNC_INTERVAL_MS_MIN, SYNC_INTERVAL_MS_MAX)?;
        }
        let l = self.default_shard_limits;
        for (setting, value) in [
            ("default_shard_limits.write_bytes_per_second", l.write_bytes_per_second),
            ("default_shard_limits.write_records_per_second", l.write_records_per_second),
            ("default_shard_limits.read_bytes_per_second", l.read_bytes_per_second),
            ("default_shard_limits.read_calls_per_second", l.read_calls_per_second),
        ] {
            within(setting, value, 1, UNLIMITED)
                .map_err(|e| InvalidSetting { allowed: format!("{} ({UNLIMITED} = unlimited)", e.allowed), ..e })?;
        }
        within("default_retention_hours", self.default_retention_hours, RETENTION_HOURS_MIN, RETENTION_HOURS_MAX)?;
        if self.maintenance_interval_ms == 0 {
            return Err(InvalidSetting::new("maintenance_interval_ms", 0, "at least 1"));
        }
        let sub = &self.subscription;
        within(
            "subscription.lifetime_ms",
            sub.lifetime_ms,
            SUBSCRIPTION_LIFETIME_MS_MIN,
            SUBSCRIPTION_LIFETIME_MS_MAX,
        )?;
        within("subscription.bytes_per_second", sub.bytes_per_second, 1, UNLIMITED)?;
        within(
            "subscription.heartbeat_ms",
            sub.heartbeat_ms,
            SUBSCRIPTION_HEARTBEAT_MS_MIN,
            SUBSCRIPTION_HEARTBEAT_MS_MAX,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(EngineConfig::new("d").check(), Ok(()));
    }

    #[test]
    fn each_bad_setting_is_named_with_its_bounds() {
        let bad = |f: fn(&mut EngineConfig)| {
            let mut c = EngineConfig::new("d");
            f(&mut c);
            c.check().expect_err("invalid").to_string()
        };
        assert_eq!(
            bad(|c| c.log.segment_bytes = 1000),
            "log.segment_bytes = 1000: must be a multiple of 4096 within 65536..=4294967296"
        );
        assert_eq!(
            bad(|c| c.log.inline_commit_bytes_max = 2 << 20),
            "log.inline_commit_bytes_max = 2097152: must be within 0..=1048576"
        );
        assert_eq!(
            bad(|c| c.log.sync_policy = SyncPolicy::Interval { interval_ms: 0 }),
            "log.sync_policy.interval_ms = 0: must be within 1..=60000"
        );
        assert_eq!(
            bad(|c| c.default_shard_limits.read_calls_per_second = 0),
            "default_shard_limits.read_calls_per_second = 0: must be within 1..=4294967295 (4294967295 = unlimited)"
        );
        assert_eq!(bad(|c| c.default_retention_hours = 23), "default_retention_hours = 23: must be within 24..=8760");
        assert_eq!(bad(|c| c.cores = 5000), "cores = 5000: must be within 0..=1024");
        assert_eq!(bad(|c| c.cpuset = vec![1, 0, 1]), "cpuset = 1,0,1: must be a list of distinct CPU numbers");
        assert_eq!(
            bad(|c| (c.cpuset, c.cores) = (vec![1], 2)),
            "cores = 2: must be at most the 1 CPUs of cpuset 1 (or 0: one per CPU of the set)"
        );
        assert_eq!(
            bad(|c| c.subscription.lifetime_ms = 5),
            "subscription.lifetime_ms = 5: must be within 100..=3600000"
        );
        let e = EngineConfig { default_retention_hours: 9000, ..EngineConfig::new("d") }.validate();
        assert!(matches!(e, Err(EngineError::InvalidArgument(m)) if m.contains("default_retention_hours = 9000")));
    }
}
