//! # Shoal engine
//!
//! Durable record streams with Kinesis semantics: streams of shards, records
//! routed by the MD5 of their partition key, sequence numbers increasing
//! within a shard, retention, and reads by position. No networking: the
//! server, the load generator and embedding programs all sit on this crate.
//!
//! # Layout
//! * [`model`], [`sequence`], [`routing`]: the data model and its rules.
//! * [`frame`], [`segment`]: the on-disk format (CRC-framed batches in
//!   segment files with a sparse index) and recovery scans.
//! * [`shard`]: one shard's log — group commit, reads, retention.
//! * [`tail_cache`]: recent frames in memory, bounded per core.
//! * [`throttle`]: per-shard throughput limits (token buckets).
//! * [`subscription`]: enhanced fan-out delivery of one consumer's shard.
//! * [`catalog`]: streams and shards, persisted atomically.
//! * [`check`]: offline verification and repair of a data directory.
//! * [`core`]: the shards of one core and the request logic on top.
//! * [`local`]: a whole engine on one thread, on any executor.
//! * [`metrics`]: per-core counters, merged into a snapshot when scraped.
//! * [`runtime`]: the thread-per-core engine on glommio, with a `Send`
//!   handle for ordinary threads and async code.
//! * [`storage`], [`clock`]: the only seams to files and time; tests swap
//!   in [`storage::sim`] and [`clock::ManualClock`].
//!
//! # Durability contract
//! By default a put is acknowledged only after an fdatasync covering it
//! ([`config::SyncPolicy::Always`]); readers see only durable records.
//! Recovery keeps every acknowledged record and drops torn tails.

pub mod catalog;
pub mod check;
pub mod checksum;
pub mod clock;
pub mod config;
pub mod core;
pub mod data_dir_lock;
pub mod error;
pub mod frame;
pub mod limits;
pub mod local;
pub mod metrics;
pub mod model;
pub mod process;
pub mod reshard;
pub mod routing;
pub mod runtime;
pub mod segment;
pub mod sequence;
pub mod shard;
pub mod storage;
pub mod subscription;
pub mod tail_cache;
pub mod throttle;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::config::{Durability, EngineConfig, InvalidSetting, LogConfig, SyncPolicy};
pub use crate::core::{PutRecordsOutcome, PutResult, ReadOutcome, RecordFailure, RecordFailureKind, StartingPosition};
pub use crate::error::{EngineError, ErrorKind, Result};
pub use crate::local::LocalEngine;
pub use crate::metrics::MetricsSnapshot;
pub use crate::model::{Record, RecordInput, ShardDescription, StreamDescription, StreamStatus};
pub use crate::runtime::{CoreApi, CoreHook, Engine};
pub use crate::sequence::SequenceNumber;
pub use crate::subscription::{SubscriptionEnd, SubscriptionEvent, SubscriptionEvents, SubscriptionSettings};
pub use crate::throttle::ShardLimits;
