//! A whole engine on the current thread: the catalog and every shard on one
//! core. It runs on any executor (tests drive it with
//! `futures::executor::block_on` over the simulated store), and it is what
//! each piece of the multi-core [`Engine`](crate::Engine) is made of.

use std::cell::RefCell;
use std::sync::Arc;

use futures::future::join_all;
use futures::lock::Mutex;

use crate::catalog::{Catalog, CatalogData, StreamMeta};
use crate::clock::Clock;
use crate::config::{Durability, EngineConfig};
use crate::core::{
    append_group, ordering_min_counter, route_put, validate_put, CoreShards, PutRecordsOutcome, PutResult, ReadOutcome,
    StartingPosition,
};
use crate::error::Result;
use crate::model::{RecordInput, StreamDescription};
use crate::sequence::SequenceNumber;
use crate::shard::RecoveryReport;
use crate::storage::Storage;
use crate::throttle::ShardLimits;

/// An engine whose shards all live on the calling thread.
pub struct LocalEngine<S: Storage, C: Clock> {
    default_limits: ShardLimits,
    catalog: Mutex<Catalog<S>>,
    snapshot: RefCell<Arc<CatalogData>>,
    core: CoreShards<S, C>,
}

impl<S: Storage, C: Clock> LocalEngine<S, C> {
    /// Loads the catalog and opens (recovering) every shard.
    /// `config.cores`, `io_memory_bytes` and `maintenance_interval_ms` do
    /// not apply (one thread; the caller runs [`LocalEngine::maintenance`]).
    pub async fn open(
        storage: S,
        clock: C,
        config: &EngineConfig,
    ) -> Result<(Self, Vec<(String, u32, RecoveryReport)>)> {
        config.validate()?;
        let data_dir = config.data_dir.clone();
        let catalog = Catalog::load(storage.clone(), data_dir.clone()).await?;
        catalog.sweep_orphans().await?;
        let snapshot = catalog.snapshot();
        let core = CoreShards::new(storage, clock, data_dir, config.log.clone(), config.tail_cache_bytes);
        let mut reports = Vec::new();
        for stream in &snapshot.streams {
            for (index, report) in core.open_shards(stream, stream.shards.iter()).await? {
                reports.push((stream.name.clone(), index, report));
            }
        }
        let engine = Self {
            default_limits: config.default_shard_limits,
            catalog: Mutex::new(catalog),
            snapshot: RefCell::new(snapshot),
            core,
        };
        Ok((engine, reports))
    }

    pub fn snapshot(&self) -> Arc<CatalogData> {
        self.snapshot.borrow().clone()
    }

    pub fn core(&self) -> &CoreShards<S, C> {
        &self.core
    }

    fn stream(&self, name: &str) -> Result<StreamMeta> {
        self.snapshot.borrow().stream(name).cloned()
    }

    pub async fn create_stream(
        &self,
        name: &str,
        shard_count: u32,
        retention_hours: Option<u32>,
    ) -> Result<StreamDescription> {
        self.create_stream_with_limits(name, shard_count, retention_hours, None).await
    }

    /// Creates a stream whose shards have `limits` (the engine's default
    /// limits if `None`).
    pub async fn create_stream_with_limits(
        &self,
        name: &str,
        shard_count: u32,
        retention_hours: Option<u32>,
        limits: Option<ShardLimits>,
    ) -> Result<StreamDescription> {
        let mut catalog = self.catalog.lock().await;
        let now = self.core.clock().now_ms();
        let limits = limits.unwrap_or(self.default_limits);
        let stream = catalog.create_stream(name, shard_count, retention_hours, limits, now).await?;
        self.core.open_shards(&stream, stream.shards.iter()).await?;
        *self.snapshot.borrow_mut() = catalog.snapshot();
        Ok(stream.describe())
    }

    pub async fn delete_stream(&self, name: &str) -> Result<()> {
        let mut catalog = self.catalog.lock().await;
        let stream = catalog.delete_stream(name).await?;
        *self.snapshot.borrow_mut() = catalog.snapshot();
        self.core.drop_stream(&stream, true).await
    }

    pub fn describe_stream(&self, name: &str) -> Result<StreamDescription> {
        Ok(self.stream(name)?.describe())
    }

    pub fn list_streams(&self) -> Vec<String> {
        self.snapshot.borrow().streams.iter().map(|s| s.name.clone()).collect()
    }

    /// Changes retention; `increase` selects Increase/DecreaseStreamRetentionPeriod.
    pub async fn set_retention(&self, name: &str, hours: u32, increase: bool) -> Result<()> {
        let mut catalog = self.catalog.lock().await;
        catalog.set_retention(name, hours, increase).await?;
        *self.snapshot.borrow_mut() = catalog.snapshot();
        Ok(())
    }

    /// PutRecord: stores one record; `ordering` is SequenceNumberForOrdering.
    pub async fn put_record(
        &self,
        stream: &str,
        record: RecordInput,
        ordering: Option<SequenceNumber>,
    ) -> Result<(PutResult, Durability)> {
        let meta = self.stream(stream)?;
        validate_put(std::slice::from_ref(&record))?;
        let min_counter = ordering_min_counter(&meta, ordering)?;
        let mut groups = route_put(&meta, vec![record])?;
        let (shard_index, group) = groups.pop_first().expect("one record routes to one shard");
        let records: Vec<RecordInput> = group.into_iter().map(|(_, r)| r).collect();
        let ack = self.core.append(&meta, shard_index, &records, min_counter).await?;
        let result =
            PutResult { shard_index, sequence_number: SequenceNumber::new(ack.first_counter, meta.tag(), shard_index) };
        Ok((result, ack.durability))
    }

    /// PutRecords: stores up to 500 records; failures are per record.
    pub async fn put_records(&self, stream: &str, records: Vec<RecordInput>) -> Result<PutRecordsOutcome> {
        let meta = self.stream(stream)?;
        validate_put(&records)?;
        let n = records.len();
        let groups = route_put(&meta, records)?;
        let per_shard =
            join_all(groups.into_iter().map(|(shard, group)| append_group(&self.core, &meta, shard, group))).await;
        let mut results = vec![None; n];
        for (pos, r) in per_shard.into_iter().flatten() {
            results[pos] = Some(r);
        }
        Ok(PutRecordsOutcome {
            results: results.into_iter().map(|r| r.expect("every record has a result")).collect(),
            durability: self.core.log_config().sync_policy.durability(),
        })
    }

    /// Resolves a starting position in a shard to a counter.
    pub async fn resolve(&self, stream: &str, shard_index: u32, position: StartingPosition) -> Result<u64> {
        let meta = self.stream(stream)?;
        self.core.resolve(&meta, shard_index, position).await
    }

    /// Reads from a shard starting at counter `from`.
    pub async fn read(&self, stream: &str, shard_index: u32, from: u64, limit: usize) -> Result<ReadOutcome> {
        let meta = self.stream(stream)?;
        self.core.read(&meta, shard_index, from, limit).await
    }

    /// Runs retention on every shard now.
    pub async fn maintenance(&self) -> Result<usize> {
        let snapshot = self.snapshot();
        self.core
            .maintenance(|inc| snapshot.streams.iter().find(|s| s.incarnation == inc).map(|s| s.retention_ms()))
            .await
    }

    pub async fn shutdown(&self) -> Result<()> {
        self.core.shutdown().await
    }
}
