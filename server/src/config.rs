//! `shoal serve`'s configuration: a TOML file, command-line flags over it, and the defaults
//! under both.
//!
//! The defaults live in one place, [`ServerConfig::default`] (and through it
//! `EngineConfig::new` and the engine's named limits). The file and the flags only say what
//! differs from them: every key and every flag is optional, so a flag that was not given never
//! hides a value from the file. The bounds are the engine's too ([`EngineConfig::check`]); this
//! module only renames the engine's settings to the keys an operator writes.
//!
//! `--print-config` writes the merged result back as a config file: loading that file gives the
//! same configuration.
//!
//! [`EngineConfig::check`]: shoal_engine::EngineConfig::check

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shoal_engine::limits::{SYNC_INTERVAL_MS_MAX, SYNC_INTERVAL_MS_MIN};
use shoal_engine::{InvalidSetting, ShardLimits, SyncPolicy};

use crate::server::ServerConfig;

/// The config file as written: every key optional, absent = the default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Where Prometheus metrics are served; absent: nowhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<usize>,
    /// CPUs to pin the executors to; absent: the CPUs the process may run on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_bytes: Option<u64>,
    /// Groups up to this size, alone on their core, are written and synced with blocking calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inline_commit_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_cache_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durability: Option<Durability>,
    /// Only with `durability = "written"`, and then required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_interval_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_retention_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_limits: Option<ShardLimitsFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<SubscriptionFile>,
}

/// `[shard_limits]`: per-shard limits of streams created without their own. A preset, and
/// single limits that replace the preset's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardLimitsFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<LimitsPreset>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_bytes_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_records_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_bytes_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_calls_per_second: Option<u32>,
}

/// `[subscription]`: enhanced fan-out subscriptions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifetime_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
}

/// When a put is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// After an fdatasync covers it; acks say SYNCED.
    Synced,
    /// RISKY: once written to the device, synced every sync_interval_ms; acks say WRITTEN.
    Written,
}

/// Named sets of per-shard limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LimitsPreset {
    /// Writes 1 MiB/s and 1,000 records/s, reads 2 MiB/s and 5 calls/s.
    Kinesis,
    /// No limits (benchmarks).
    Unlimited,
}

impl Durability {
    fn of(policy: SyncPolicy) -> Durability {
        match policy {
            SyncPolicy::Always => Durability::Synced,
            SyncPolicy::Interval { .. } => Durability::Written,
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Durability::Synced => "synced",
            Durability::Written => "written",
        })
    }
}

impl LimitsPreset {
    pub fn limits(self) -> ShardLimits {
        match self {
            LimitsPreset::Kinesis => ShardLimits::KINESIS,
            LimitsPreset::Unlimited => ShardLimits::UNLIMITED,
        }
    }

    fn of(limits: ShardLimits) -> Option<LimitsPreset> {
        [LimitsPreset::Kinesis, LimitsPreset::Unlimited].into_iter().find(|p| p.limits() == limits)
    }

    /// The preset's name, or `custom` for limits that are no preset.
    fn name_of(limits: ShardLimits) -> &'static str {
        match LimitsPreset::of(limits) {
            Some(LimitsPreset::Kinesis) => "kinesis",
            Some(LimitsPreset::Unlimited) => "unlimited",
            None => "custom",
        }
    }
}

/// `shoal serve`'s flags. None has a clap default: a flag that was not given leaves the
/// config file's value (or the default) alone. The defaults shown in `--help` are read from
/// [`ServerConfig::default`].
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ServeArgs {
    /// A TOML config file (README.md lists every key); flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (defaults, then the file, then flags) as a config
    /// file and exit.
    #[arg(long)]
    pub print_config: bool,
    #[arg(long, value_name = "DIR", help = with_default(
        "Directory holding the catalog, segments and the server key", defaults().engine.data_dir.display()))]
    pub data_dir: Option<PathBuf>,
    #[arg(long, value_name = "HOST:PORT", help = with_default("Address every core listens on", defaults().listen))]
    pub listen: Option<SocketAddr>,
    /// Serve Prometheus metrics over HTTP at this address [default: none].
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<SocketAddr>,
    #[arg(long, value_name = "N", help = with_default(
        "Executors (one per core); 0 = one per available CPU, or per CPU of --cpuset", defaults().engine.cores))]
    pub cores: Option<usize>,
    /// CPUs to pin the executors to, executor i on the i-th (e.g. `1` or `2,3`); keeps the
    /// others free for other work [default: the CPUs this process may run on, in order].
    #[arg(long, value_name = "CPU,...", value_delimiter = ',', num_args = 1..)]
    pub cpuset: Option<Vec<usize>>,
    #[arg(long, value_name = "BYTES", help = with_default(
        "Segment file size in bytes (a multiple of 4096)", defaults().engine.log.segment_bytes))]
    pub segment_bytes: Option<u64>,
    #[arg(long, value_name = "BYTES", help = with_default(
        "A group commit of at most this many bytes, on a core where no other shard is committing, \
         is written and synced with blocking calls on the core's thread instead of through io_uring \
         (faster for small groups); 0 = always io_uring",
        defaults().engine.log.inline_commit_bytes_max))]
    pub inline_commit_bytes: Option<u64>,
    #[arg(long, value_name = "BYTES", help = with_default(
        "Per-core bound on the in-memory tail cache, in bytes", defaults().engine.tail_cache_bytes))]
    pub tail_cache_bytes: Option<usize>,
    #[arg(long, value_enum, value_name = "PRESET", help = with_default(
        "Per-shard limits of streams created without their own: `kinesis` (writes 1 MiB/s and 1,000 \
         records/s, reads 2 MiB/s and 5 calls/s) or `unlimited` (benchmarks); replaces the config \
         file's [shard_limits]",
        LimitsPreset::name_of(defaults().engine.default_shard_limits)))]
    pub shard_limits: Option<LimitsPreset>,
    #[arg(long, value_enum, help = with_default(
        "When puts are acknowledged: `synced` (after an fdatasync) or `written` (RISKY, needs \
         --sync-interval-ms)",
        Durability::of(defaults().engine.log.sync_policy)))]
    pub durability: Option<Durability>,
    /// RISKY, not the default: acknowledge puts once written and fdatasync
    /// only every this many milliseconds. A power loss can lose records
    /// acknowledged in the last interval; acks then say WRITTEN, not SYNCED.
    /// Implies --durability written.
    #[arg(long, value_name = "MS")]
    pub sync_interval_ms: Option<u64>,
    #[arg(long, value_name = "H", help = with_default(
        "Retention of streams created without their own, in hours (24-8760)",
        defaults().engine.default_retention_hours))]
    pub default_retention_hours: Option<u32>,
}

fn defaults() -> ServerConfig {
    ServerConfig::default()
}

fn with_default(help: &str, default: impl fmt::Display) -> String {
    format!("{help} [default: {default}]")
}

/// Why `shoal serve` cannot start with the configuration it was given.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, a misspelt key, or a value of the wrong type (toml's message shows the line).
    #[error("invalid config file {path}: {message}")]
    Parse { path: String, message: String },
    /// A value outside its bounds.
    #[error("invalid config: {key} = {value}: must be {allowed}")]
    Invalid { key: String, value: String, allowed: String },
    /// Keys that do not go together.
    #[error("invalid config: {0}")]
    Conflict(String),
    #[error("cannot print the config: {0}")]
    Print(String),
}

impl ConfigFile {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        ConfigFile::parse(&text, &path.display().to_string())
    }

    /// Parses config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ConfigFile, ConfigError> {
        toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: origin.to_owned(), message: e.to_string().trim_end().to_owned() })
    }

    /// Flags that were given replace the file's values.
    pub fn override_with(&mut self, args: &ServeArgs) {
        fn set<T: Clone>(slot: &mut Option<T>, flag: &Option<T>) {
            if flag.is_some() {
                slot.clone_from(flag);
            }
        }
        set(&mut self.data_dir, &args.data_dir);
        set(&mut self.listen, &args.listen);
        set(&mut self.metrics, &args.metrics);
        set(&mut self.cores, &args.cores);
        set(&mut self.cpuset, &args.cpuset);
        set(&mut self.segment_bytes, &args.segment_bytes);
        set(&mut self.inline_commit_bytes, &args.inline_commit_bytes);
        set(&mut self.tail_cache_bytes, &args.tail_cache_bytes);
        set(&mut self.default_retention_hours, &args.default_retention_hours);
        if let Some(preset) = args.shard_limits {
            self.shard_limits = Some(ShardLimitsFile { preset: Some(preset), ..ShardLimitsFile::default() });
        }
        if let Some(durability) = args.durability {
            self.durability = Some(durability);
            if durability == Durability::Synced {
                // The file's interval belongs to the mode the flag just replaced.
                self.sync_interval_ms = None;
            }
        }
        if let Some(interval_ms) = args.sync_interval_ms {
            self.sync_interval_ms = Some(interval_ms);
            if args.durability.is_none() {
                self.durability = Some(Durability::Written);
            }
        }
    }

    /// The configuration this file asks for: [`ServerConfig::default`] with the file's keys
    /// applied, checked against the engine's bounds.
    pub fn resolve(&self) -> Result<ServerConfig, ConfigError> {
        let mut config = ServerConfig::default();
        let engine = &mut config.engine;
        if let Some(dir) = &self.data_dir {
            engine.data_dir.clone_from(dir);
        }
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        config.metrics = self.metrics;
        if let Some(cores) = self.cores {
            engine.cores = cores;
        }
        if let Some(cpuset) = &self.cpuset {
            engine.cpuset.clone_from(cpuset);
        }
        if let Some(bytes) = self.segment_bytes {
            engine.log.segment_bytes = bytes;
        }
        if let Some(bytes) = self.inline_commit_bytes {
            engine.log.inline_commit_bytes_max = bytes;
        }
        if let Some(bytes) = self.tail_cache_bytes {
            engine.tail_cache_bytes = bytes;
        }
        if let Some(hours) = self.default_retention_hours {
            engine.default_retention_hours = hours;
        }
        engine.log.sync_policy = match (self.durability, self.sync_interval_ms) {
            (None, None) => engine.log.sync_policy,
            (Some(Durability::Synced), None) => SyncPolicy::Always,
            (Some(Durability::Written), Some(interval_ms)) => SyncPolicy::Interval { interval_ms },
            (Some(Durability::Written), None) => {
                return Err(ConfigError::Conflict(format!(
                    "durability = \"written\" needs sync_interval_ms (milliseconds between syncs, \
                     within {SYNC_INTERVAL_MS_MIN}..={SYNC_INTERVAL_MS_MAX})"
                )))
            }
            (None | Some(Durability::Synced), Some(interval_ms)) => {
                return Err(ConfigError::Conflict(format!(
                    "sync_interval_ms = {interval_ms} applies only with durability = \"written\" (RISKY: puts \
                     are then acknowledged before an fdatasync); remove it, or set durability = \"written\""
                )))
            }
        };
        if let Some(file) = &self.shard_limits {
            let mut limits = file.preset.map_or(engine.default_shard_limits, LimitsPreset::limits);
            let fields = [
                (&mut limits.write_bytes_per_second, file.write_bytes_per_second),
                (&mut limits.write_records_per_second, file.write_records_per_second),
                (&mut limits.read_bytes_per_second, file.read_bytes_per_second),
                (&mut limits.read_calls_per_second, file.read_calls_per_second),
            ];
            for (slot, value) in fields {
                if let Some(v) = value {
                    *slot = v;
                }
            }
            engine.default_shard_limits = limits;
        }
        if let Some(file) = &self.subscription {
            let settings = &mut engine.subscription;
            settings.lifetime_ms = file.lifetime_ms.unwrap_or(settings.lifetime_ms);
            settings.bytes_per_second = file.bytes_per_second.unwrap_or(settings.bytes_per_second);
            settings.heartbeat_ms = file.heartbeat_ms.unwrap_or(settings.heartbeat_ms);
        }
        engine.check().map_err(invalid)?;
        if let Some(metrics) = config.metrics {
            if metrics == config.listen && metrics.port() != 0 {
                return Err(ConfigError::Invalid {
                    key: "metrics".into(),
                    value: metrics.to_string(),
                    allowed: "another address than listen".into(),
                });
            }
        }
        Ok(config)
    }

    /// Every key of `config`, as a file that resolves to it again. Keys that are off
    /// (`metrics`, `sync_interval_ms` when synced) are absent.
    pub fn effective(config: &ServerConfig) -> ConfigFile {
        let engine = &config.engine;
        let limits = engine.default_shard_limits;
        let sync_interval_ms = match engine.log.sync_policy {
            SyncPolicy::Always => None,
            SyncPolicy::Interval { interval_ms } => Some(interval_ms),
        };
        ConfigFile {
            data_dir: Some(engine.data_dir.clone()),
            listen: Some(config.listen),
            metrics: config.metrics,
            cores: Some(engine.cores),
            cpuset: Some(engine.cpuset.clone()).filter(|set| !set.is_empty()),
            segment_bytes: Some(engine.log.segment_bytes),
            inline_commit_bytes: Some(engine.log.inline_commit_bytes_max),
            tail_cache_bytes: Some(engine.tail_cache_bytes),
            durability: Some(Durability::of(engine.log.sync_policy)),
            sync_interval_ms,
            default_retention_hours: Some(engine.default_retention_hours),
            shard_limits: Some(ShardLimitsFile {
                preset: LimitsPreset::of(limits),
                write_bytes_per_second: Some(limits.write_bytes_per_second),
                write_records_per_second: Some(limits.write_records_per_second),
                read_bytes_per_second: Some(limits.read_bytes_per_second),
                read_calls_per_second: Some(limits.read_calls_per_second),
            }),
            subscription: Some(SubscriptionFile {
                lifetime_ms: Some(engine.subscription.lifetime_ms),
                bytes_per_second: Some(engine.subscription.bytes_per_second),
                heartbeat_ms: Some(engine.subscription.heartbeat_ms),
            }),
        }
    }
}

/// The configuration `shoal serve` runs with: the defaults, then `--config FILE`, then the
/// flags that were given.
pub fn from_args(args: &ServeArgs) -> Result<ServerConfig, ConfigError> {
    let mut file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    file.override_with(args);
    file.resolve()
}

/// `--print-config`: `config` as a config file, with a header saying what is off.
pub fn print(config: &ServerConfig) -> Result<String, ConfigError> {
    let file = ConfigFile::effective(config);
    let body = toml::to_string(&file).map_err(|e| ConfigError::Print(e.to_string()))?;
    let mut out = String::from("# The effective configuration of `shoal serve` (defaults, --config file, flags).\n");
    if file.metrics.is_none() {
        out.push_str("# metrics: not set, no metrics endpoint.\n");
    }
    if file.cpuset.is_none() {
        out.push_str("# cpuset: not set, executors run on the CPUs the process may use, in order.\n");
    }
    if file.sync_interval_ms.is_none() {
        out.push_str("# sync_interval_ms: not set, puts are acknowledged after an fdatasync.\n");
    }
    out.push('\n');
    out.push_str(&body);
    Ok(out)
}

/// An engine setting out of bounds, named by its config key.
fn invalid(e: InvalidSetting) -> ConfigError {
    let key = match e.setting {
        "log.segment_bytes" => "segment_bytes",
        "log.inline_commit_bytes_max" => "inline_commit_bytes",
        "log.sync_policy.interval_ms" => "sync_interval_ms",
        "default_shard_limits.write_bytes_per_second" => "shard_limits.write_bytes_per_second",
        "default_shard_limits.write_records_per_second" => "shard_limits.write_records_per_second",
        "default_shard_limits.read_bytes_per_second" => "shard_limits.read_bytes_per_second",
        "default_shard_limits.read_calls_per_second" => "shard_limits.read_calls_per_second",
        // The rest have the engine's names: cores, cpuset, tail_cache_bytes, default_retention_hours,
        // subscription.lifetime_ms, subscription.bytes_per_second, subscription.heartbeat_ms.
        same => same,
    };
    ConfigError::Invalid { key: key.to_owned(), value: e.value, allowed: e.allowed }
}

/// One startup line with every effective setting, and a warning when acks come before an
/// fdatasync.
pub fn log_effective(config: &ServerConfig) {
    let engine = &config.engine;
    let limits = engine.default_shard_limits;
    let durability = match engine.log.sync_policy {
        SyncPolicy::Always => "synced (acks after fdatasync)".to_owned(),
        SyncPolicy::Interval { interval_ms } => {
            format!("written (acks before fdatasync, synced every {interval_ms} ms)")
        }
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        data_dir = %engine.data_dir.display(),
        listen = %config.listen,
        cores = engine.executors(),
        cpuset = %match engine.cpuset.as_slice() {
            [] => "any".to_owned(),
            set => set.iter().map(usize::to_string).collect::<Vec<_>>().join(","),
        },
        durability,
        segment_bytes = engine.log.segment_bytes,
        inline_commit_bytes = engine.log.inline_commit_bytes_max,
        tail_cache_bytes = engine.tail_cache_bytes,
        default_retention_hours = engine.default_retention_hours,
        shard_limits = LimitsPreset::name_of(limits),
        write_bytes_per_second = limits.write_bytes_per_second,
        write_records_per_second = limits.write_records_per_second,
        read_bytes_per_second = limits.read_bytes_per_second,
        read_calls_per_second = limits.read_calls_per_second,
        metrics = %config.metrics.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        "starting shoal"
    );
    if let SyncPolicy::Interval { interval_ms } = engine.log.sync_policy {
        tracing::warn!(
            interval_ms,
            "durability mode: WRITTEN (acks before fdatasync); a power loss can lose acknowledged records"
        );
    }
}
