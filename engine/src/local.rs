//! A whole engine on the current thread: the catalog and every shard on one
//! core. It runs on any executor (tests drive it with
//! `futures::executor::block_on` over the simulated store), and it is what
//! each piece of the multi-core [`Engine`](crate::Engine) is made of.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;
use futures::lock::Mutex;

use crate::catalog::{Catalog, CatalogData, ConsumerMeta, StreamMeta};
use crate::clock::Clock;
use crate::config::{Durability, EngineConfig};
use crate::core::{
    append_group, child_shards, find_consumer, ordering_min_counter, route_one, route_put, validate_put, CoreShards,
    PutCollector, PutRecordsOutcome, PutResult, ReadOutcome, StartingPosition, REROUTE_ROUNDS,
};
use crate::error::{EngineError, Result};
use crate::model::{RecordInput, StreamDescription};
use crate::reshard;
use crate::sequence::SequenceNumber;
use crate::shard::RecoveryReport;
use crate::storage::Storage;
use crate::subscription::{self, SubscriptionEvents, SubscriptionSettings};
use crate::throttle::ShardLimits;

/// An engine whose shards all live on the calling thread.
pub struct LocalEngine<S: Storage, C: Clock> {
    default_limits: ShardLimits,
    default_retention_hours: u32,
    catalog: Mutex<Catalog<S>>,
    snapshot: RefCell<Arc<CatalogData>>,
    core: CoreShards<S, C>,
}

impl<S: Storage, C: Clock> LocalEngine<S, C> {
    /// Loads the catalog and opens (recovering) every shard.
    /// `config.cores`, `cpuset`, `io_memory_bytes` and `maintenance_interval_ms` do
    /// not apply (one thread; the caller runs [`LocalEngine::maintenance`],
    /// and [`LocalEngine::serve_runways`] beside the engine). On real files,
    /// hold a [`DataDirLock`](crate::data_dir_lock::DataDirLock) of the
    /// directory first, as [`Engine::start`](crate::Engine::start) does.
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
            default_retention_hours: config.default_retention_hours,
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

    /// Creates a stream whose shards have `limits` and whose records are
    /// kept `retention_hours` (the engine's defaults if `None`:
    /// [`EngineConfig::default_shard_limits`](crate::EngineConfig) and
    /// `default_retention_hours`).
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
        let retention_hours = retention_hours.unwrap_or(self.default_retention_hours);
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
        validate_put(std::slice::from_ref(&record))?;
        let mut round = 0;
        loop {
            let meta = self.stream(stream)?;
            let min_counter = ordering_min_counter(&meta, ordering)?;
            let shard_index = route_one(&meta, &record)?;
            match self.core.append(&meta, shard_index, std::slice::from_ref(&record), min_counter).await {
                Ok(ack) => {
                    let seq = SequenceNumber::new(ack.first_counter, meta.tag(), shard_index);
                    return Ok((PutResult { shard_index, sequence_number: seq }, ack.durability));
                }
                Err(EngineError::ShardClosed(_)) if round + 1 < REROUTE_ROUNDS => {
                    round += 1;
                    self.barrier().await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// PutRecords: stores up to 500 records; failures are per record.
    pub async fn put_records(&self, stream: &str, records: Vec<RecordInput>) -> Result<PutRecordsOutcome> {
        validate_put(&records)?;
        let mut collector = PutCollector::new(records);
        for round in 0..REROUTE_ROUNDS {
            if round > 0 {
                self.barrier().await;
            }
            let meta = self.stream(stream)?;
            let groups = route_put(&meta, collector.take_pending())?;
            let parts = join_all(groups.into_iter().map(|(shard, g)| append_group(&self.core, &meta, shard, g))).await;
            collector.absorb(parts);
            if !collector.has_pending() {
                break;
            }
        }
        Ok(collector.finish(self.core.log_config().sync_policy.durability()))
    }

    /// Waits for any control operation in progress (a reshard) to finish.
    async fn barrier(&self) {
        drop(self.catalog.lock().await);
    }

    /// SplitShard: closes `shard` and adds two children split at
    /// `new_starting_hash_key`.
    pub async fn split_shard(&self, stream: &str, shard: u32, new_starting_hash_key: u128) -> Result<()> {
        self.reshard(
            "split",
            stream,
            &[shard],
            |meta| reshard::check_split(meta, shard, new_starting_hash_key).map(|_| ()),
            |meta, ends, now_ms| {
                reshard::apply_split(meta, shard, new_starting_hash_key, ends[&shard], now_ms).map(|_| ())
            },
        )
        .await
    }

    /// MergeShards: closes `shard` and `adjacent` and adds their child.
    pub async fn merge_shards(&self, stream: &str, shard: u32, adjacent: u32) -> Result<()> {
        self.reshard(
            "merge",
            stream,
            &[shard, adjacent],
            |meta| reshard::check_merge(meta, shard, adjacent).map(|_| ()),
            |meta, ends, now_ms| {
                reshard::apply_merge(meta, shard, adjacent, ends[&shard], ends[&adjacent], now_ms).map(|_| ())
            },
        )
        .await
    }

    /// UpdateShardCount with UNIFORM_SCALING.
    pub async fn update_shard_count(&self, stream: &str, target: u32) -> Result<()> {
        let open: Vec<u32> = self.stream(stream)?.shards.iter().filter(|s| s.is_open()).map(|s| s.index).collect();
        self.reshard(
            "update shard count",
            stream,
            &open,
            |meta| reshard::check_target(meta, target),
            |meta, ends, now_ms| reshard::apply_uniform_scaling(meta, target, ends, now_ms).map(|_| ()),
        )
        .await
    }

    /// The common steps of a reshard: check, close the parents (their
    /// logs give the ending counters), record the new shards in one
    /// catalog write, open the children. If the catalog write fails the
    /// parents are reopened: the stream stays as it was.
    async fn reshard(
        &self,
        kind: &str,
        stream: &str,
        parents: &[u32],
        check: impl FnOnce(&StreamMeta) -> Result<()>,
        apply: impl FnOnce(&mut StreamMeta, &BTreeMap<u32, u64>, u64) -> Result<()>,
    ) -> Result<()> {
        let mut catalog = self.catalog.lock().await;
        let meta = catalog.snapshot().stream(stream)?.clone();
        check(&meta)?;
        catalog.check_shard_quota(parents.len())?;
        let ends: BTreeMap<u32, u64> = self.core.close_shards(&meta, parents).await?.into_iter().collect();
        // Read once the parents are closed, so every record they hold
        // arrived at or before their closing time.
        let now_ms = self.core.clock().now_ms();
        let updated = match catalog.update_stream(stream, |m| apply(m, &ends, now_ms)).await {
            Ok(m) => m,
            Err(e) => {
                self.core.reopen_shards(&meta, parents);
                return Err(e);
            }
        };
        let children = updated.shards.iter().filter(|s| meta.shard(s.index).is_none());
        self.core.open_shards(&updated, children).await?;
        // Uniform scaling closes every open shard first; those it left
        // unchanged take appends again.
        let untouched: Vec<u32> =
            parents.iter().copied().filter(|&p| updated.shard(p).is_some_and(|s| s.is_open())).collect();
        self.core.reopen_shards(&updated, &untouched);
        *self.snapshot.borrow_mut() = catalog.snapshot();
        reshard::log_resharded(kind, &meta, &updated);
        Ok(())
    }

    /// RegisterStreamConsumer.
    pub async fn register_consumer(&self, stream: &str, name: &str) -> Result<ConsumerMeta> {
        let mut catalog = self.catalog.lock().await;
        let consumer = catalog.register_consumer(stream, name, self.core.clock().now_ms()).await?;
        *self.snapshot.borrow_mut() = catalog.snapshot();
        Ok(consumer)
    }

    /// DeregisterStreamConsumer; its subscriptions end with an error.
    pub async fn deregister_consumer(&self, stream: &str, name: &str) -> Result<()> {
        let mut catalog = self.catalog.lock().await;
        catalog.deregister_consumer(stream, name).await?;
        *self.snapshot.borrow_mut() = catalog.snapshot();
        Ok(())
    }

    /// The registered consumers of a stream.
    pub fn list_consumers(&self, stream: &str) -> Result<Vec<ConsumerMeta>> {
        Ok(self.stream(stream)?.consumers)
    }

    /// SubscribeToShard: returns the event channel and the delivery loop,
    /// which the caller runs on this thread's executor. `sleep` is that
    /// executor's timer.
    pub async fn subscribe<'a, Sl, F>(
        &'a self,
        stream: &str,
        consumer: &str,
        shard: u32,
        position: StartingPosition,
        settings: SubscriptionSettings,
        sleep: Sl,
    ) -> Result<(SubscriptionEvents, impl std::future::Future<Output = ()> + 'a)>
    where
        Sl: Fn(std::time::Duration) -> F + 'a,
        F: std::future::Future<Output = ()> + 'a,
    {
        let meta = self.stream(stream)?;
        let registration = find_consumer(&meta, consumer)?;
        let slot = self.core.claim_subscription(&meta, consumer, shard)?;
        let from = self.core.resolve(&meta, shard, position).await?;
        let (mut sink, rx) = subscription::event_channel();
        let stream_name = stream.to_owned();
        let delivery = async move {
            let _slot = slot;
            let registered = || {
                crate::subscription::Registration::of(
                    &meta,
                    self.snapshot.borrow().stream(&stream_name).ok(),
                    &registration,
                )
            };
            let children = || {
                self.snapshot
                    .borrow()
                    .stream(&stream_name)
                    .ok()
                    .filter(|s| s.incarnation == meta.incarnation)
                    .map_or_else(Vec::new, |s| child_shards(s, shard))
            };
            subscription::deliver(&self.core, &meta, shard, from, settings, registered, children, sleep, &mut sink)
                .await;
        };
        Ok((rx, delivery))
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

    /// Keeps the zeroed runway ahead of shards that append in small groups,
    /// as they ask; runs until dropped. Spawn it beside the engine (small
    /// appends then sync without waiting for journal commits); without it,
    /// [`maintenance`](Self::maintenance) zeroes once per call.
    pub async fn serve_runways(&self) {
        self.core.serve_runways().await
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
