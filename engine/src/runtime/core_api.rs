//! The engine as seen from inside one of its cores: what a server running
//! on the engine's executors calls. Shards owned by this core are served
//! by direct calls; others are forwarded to their owner over its command
//! channel and answered here.

use std::rc::Rc;
use std::sync::Arc;

use futures::future::{join_all, Either};

use super::command::{Command, ReshardOp};
use super::router::Router;
use super::Shards;
use crate::catalog::{CatalogData, ConsumerMeta};
use crate::config::Durability;
use crate::core::{
    append_group, ordering_min_counter, route_one, route_put, validate_put, PutCollector, PutRecordsOutcome, PutResult,
    ReadOutcome, ShardGroup, StartingPosition, REROUTE_ROUNDS,
};
use crate::error::{EngineError, Result};
use crate::metrics::CoreMetrics;
use crate::model::{RecordInput, StreamDescription};
use crate::sequence::SequenceNumber;
use crate::subscription::SubscriptionEvents;
use crate::throttle::ShardLimits;

/// A core's view of the engine. `!Send`: it lives on its core.
#[derive(Clone)]
pub struct CoreApi {
    pub(crate) id: usize,
    pub(crate) router: Router,
    pub(crate) shards: Rc<Shards>,
}

impl CoreApi {
    /// This core's index.
    pub fn core_id(&self) -> usize {
        self.id
    }

    pub fn cores(&self) -> usize {
        self.router.core_count()
    }

    pub fn durability(&self) -> Durability {
        self.router.durability
    }

    /// This core's counters: a front end counts its requests here.
    pub fn metrics(&self) -> &CoreMetrics {
        self.shards.metrics()
    }

    /// The catalog snapshot currently used for routing.
    pub fn catalog(&self) -> Arc<CatalogData> {
        self.router.catalog()
    }

    /// The core that owns a shard of a stream.
    pub fn owner(&self, stream: &str, shard: u32) -> Result<usize> {
        let (snapshot, i) = self.router.locate(stream)?;
        Ok(self.router.core_of(&snapshot.streams[i], shard))
    }

    pub async fn create_stream(
        &self,
        name: &str,
        shards: u32,
        retention_hours: Option<u32>,
    ) -> Result<StreamDescription> {
        self.create_stream_with_limits(name, shards, retention_hours, None).await
    }

    /// Creates a stream whose shards have `limits` and whose records are
    /// kept `retention_hours` (the engine's defaults if `None`:
    /// [`EngineConfig::default_shard_limits`](crate::EngineConfig) and
    /// `default_retention_hours`).
    pub async fn create_stream_with_limits(
        &self,
        name: &str,
        shards: u32,
        retention_hours: Option<u32>,
        limits: Option<ShardLimits>,
    ) -> Result<StreamDescription> {
        self.router.create_stream(name, shards, retention_hours, limits).await
    }

    pub async fn delete_stream(&self, name: &str) -> Result<()> {
        self.router.delete_stream(name).await
    }

    pub async fn set_retention(&self, name: &str, hours: u32, increase: bool) -> Result<()> {
        self.router.set_retention(name, hours, increase).await
    }

    pub fn describe_stream(&self, name: &str) -> Result<StreamDescription> {
        self.router.describe_stream(name)
    }

    pub fn list_streams(&self) -> Vec<String> {
        self.router.list_streams()
    }

    pub async fn put_record(
        &self,
        stream: &str,
        record: RecordInput,
        ordering: Option<SequenceNumber>,
    ) -> Result<(PutResult, Durability)> {
        validate_put(std::slice::from_ref(&record))?;
        let mut round = 0;
        loop {
            let (snapshot, i) = self.router.locate(stream)?;
            let meta = &snapshot.streams[i];
            let min_counter = ordering_min_counter(meta, ordering)?;
            let shard = route_one(meta, &record)?;
            let core = self.router.core_of(meta, shard);
            let appended = if core == self.id {
                self.shards
                    .append(meta, shard, std::slice::from_ref(&record), min_counter)
                    .await
                    .map(|a| a.first_counter)
            } else {
                self.metrics().note_forward();
                let (snapshot, record) = (snapshot.clone(), record.clone());
                self.router
                    .call(core, |reply| Command::AppendOne { snapshot, stream: i, shard, record, min_counter, reply })
                    .await
            };
            match appended {
                Ok(counter) => {
                    let seq = SequenceNumber::new(counter, meta.tag(), shard);
                    return Ok((PutResult { shard_index: shard, sequence_number: seq }, self.router.durability));
                }
                Err(EngineError::ShardClosed(_)) if round + 1 < REROUTE_ROUNDS => {
                    round += 1;
                    self.router.barrier().await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn put_records(&self, stream: &str, records: Vec<RecordInput>) -> Result<PutRecordsOutcome> {
        validate_put(&records)?;
        let mut collector = PutCollector::new(records);
        for round in 0..REROUTE_ROUNDS {
            if round > 0 {
                self.router.barrier().await;
            }
            let (snapshot, i) = self.router.locate(stream)?;
            let meta = &snapshot.streams[i];
            let mut per_core: Vec<Vec<(u32, ShardGroup)>> = vec![Vec::new(); self.cores()];
            for (shard, group) in route_put(meta, collector.take_pending())? {
                per_core[self.router.core_of(meta, shard)].push((shard, group));
            }
            let parts = per_core.into_iter().enumerate().filter(|(_, g)| !g.is_empty()).map(|(core, groups)| {
                if core == self.id {
                    let local = groups.into_iter().map(|(shard, g)| append_group(&self.shards, meta, shard, g));
                    Either::Left(async move { join_all(local).await.into_iter().flatten().collect() })
                } else {
                    self.metrics().note_forward();
                    Either::Right(self.router.append_remote(core, snapshot.clone(), i, groups))
                }
            });
            collector.absorb(join_all(parts).await);
            if !collector.has_pending() {
                break;
            }
        }
        Ok(collector.finish(self.router.durability))
    }

    /// RegisterStreamConsumer (at most 20 per stream).
    pub async fn register_consumer(&self, stream: &str, name: &str) -> Result<ConsumerMeta> {
        self.router.register_consumer(stream, name).await
    }

    /// DeregisterStreamConsumer: its subscriptions end with an error.
    pub async fn deregister_consumer(&self, stream: &str, name: &str) -> Result<()> {
        self.router.deregister_consumer(stream, name).await
    }

    /// The registered consumers of a stream.
    pub fn list_consumers(&self, stream: &str) -> Result<Vec<ConsumerMeta>> {
        self.router.list_consumers(stream)
    }

    /// SubscribeToShard: events arrive on the returned channel (capacity
    /// one: an unread event holds the delivery loop, not memory) until an
    /// event with `end`, or an error.
    pub async fn subscribe(
        &self,
        stream: &str,
        consumer: &str,
        shard: u32,
        position: StartingPosition,
    ) -> Result<SubscriptionEvents> {
        if self.owner(stream, shard)? != self.id {
            self.metrics().note_forward();
        }
        self.router.subscribe(stream, consumer, shard, position).await
    }

    /// SplitShard.
    pub async fn split_shard(&self, stream: &str, shard: u32, new_starting_hash_key: u128) -> Result<()> {
        self.router.reshard(stream, ReshardOp::Split { shard, new_starting_hash_key }).await
    }

    /// MergeShards: `shard`'s range must end just before `adjacent`'s.
    pub async fn merge_shards(&self, stream: &str, shard: u32, adjacent: u32) -> Result<()> {
        self.router.reshard(stream, ReshardOp::Merge { shard, adjacent }).await
    }

    /// UpdateShardCount with UNIFORM_SCALING.
    pub async fn update_shard_count(&self, stream: &str, target: u32) -> Result<()> {
        self.router.reshard(stream, ReshardOp::UniformScaling { target }).await
    }

    pub async fn resolve(&self, stream: &str, shard: u32, position: StartingPosition) -> Result<u64> {
        let (snapshot, i) = self.router.locate(stream)?;
        let core = self.router.core_of(&snapshot.streams[i], shard);
        if core == self.id {
            return self.shards.resolve(&snapshot.streams[i], shard, position).await;
        }
        self.metrics().note_forward();
        self.router.resolve(stream, shard, position).await
    }

    pub async fn read(&self, stream: &str, shard: u32, from: u64, limit: usize) -> Result<ReadOutcome> {
        let (snapshot, i) = self.router.locate(stream)?;
        let core = self.router.core_of(&snapshot.streams[i], shard);
        if core == self.id {
            return self.shards.read(&snapshot.streams[i], shard, from, limit).await;
        }
        self.metrics().note_forward();
        self.router.read(stream, shard, from, limit).await
    }
}
