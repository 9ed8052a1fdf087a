//! The thread-per-core engine: one pinned glommio executor per core, each
//! owning the shards placed on it, behind a cloneable `Send` handle that
//! ordinary threads and any async runtime can use.
//!
//! * Shard `i` of a stream lives on core `(stream tag + i) mod cores`
//!   ([`owning_core`]). Only that core touches the shard's files.
//! * Core 0 owns the catalog. Control operations run there one at a time;
//!   a new stream is published for routing only after every core opened
//!   its shards, and a deleted one is unpublished before its files go.
//! * The handle routes puts with the published catalog snapshot and sends
//!   each core its part; replies come back over oneshot channels, so the
//!   handle's futures are `Send` and need no particular executor.
//! * A server runs on the same executors: [`Engine::start_with`] starts a
//!   task on every core with that core's [`CoreApi`], which serves the
//!   core's own shards by direct calls and forwards the rest.
//! * Executor `i` is pinned to the `i`-th CPU the process may run on when
//!   there are at least as many such CPUs as cores (otherwise executors
//!   float), or to `cpuset[i]` when the config names a CPU set
//!   ([`placement`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};

use futures::channel::oneshot;
use futures::future::join_all;
use glommio::{LocalExecutorBuilder, Placement};

use crate::data_dir_lock::DataDirLock;

use crate::catalog::{Catalog, CatalogData, ConsumerMeta};
use crate::clock::SystemClock;
use crate::config::{Durability, EngineConfig};
use crate::core::{
    ordering_min_counter, route_one, route_put, validate_put, CoreShards, PutCollector, PutRecordsOutcome, PutResult,
    ReadOutcome, ShardGroup, StartingPosition, REROUTE_ROUNDS,
};
use crate::error::{EngineError, Result};
use crate::metrics::MetricsSnapshot;
use crate::model::{RecordInput, StreamDescription};
use crate::sequence::SequenceNumber;
use crate::shard::RecoveryReport;
use crate::storage::dma::DmaStorage;
use crate::storage::Storage;
use crate::subscription::SubscriptionEvents;
use crate::throttle::ShardLimits;

mod command;
mod core_api;
mod core_loop;
mod placement;
mod router;

use command::Command;
pub use core_api::CoreApi;
use core_loop::{core_main, CoreContext};
use router::Router;

type Shards = CoreShards<DmaStorage, SystemClock>;

/// A task started on every core once its shards are open (a server's
/// listeners, for example). It gets that core's [`CoreApi`].
pub type CoreHook = Arc<dyn Fn(CoreApi) -> Pin<Box<dyn Future<Output = ()>>> + Send + Sync>;

/// Per-shard recovery results gathered at start: (stream, shard, report).
pub type RecoveryReports = Vec<(String, u32, RecoveryReport)>;

struct Inner {
    router: Router,
    threads: Mutex<Vec<glommio::ExecutorJoinHandle<()>>>,
    recovery: RecoveryReports,
    /// Held while the engine runs (see `data_dir_lock`); released once a
    /// shutdown has stopped every core, so a restart in this process works
    /// while stale handles linger.
    lock: Mutex<Option<DataDirLock>>,
}

/// A handle to a running thread-per-core engine. Cheap to clone; `Send`
/// and `Sync`. The engine stops when [`Engine::shutdown`] is called or the
/// last handle is dropped.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Recovers the data directory and starts one executor per core. Turns
    /// transparent huge pages off for the process (see [`crate::process`]).
    pub fn start(config: EngineConfig) -> Result<Engine> {
        Self::start_with(config, None)
    }

    /// Like [`Engine::start`], and runs `hook` on every core once its
    /// shards are open (how a server puts its listeners on the engine's
    /// executors).
    pub fn start_with(config: EngineConfig, hook: Option<CoreHook>) -> Result<Engine> {
        config.validate()?;
        // Before anything is read: a second process must not recover the same shards.
        let lock = DataDirLock::acquire(&config.data_dir)?;
        // Before the executors allocate anything (see `process`).
        if let Err(e) = crate::process::disable_transparent_huge_pages() {
            tracing::warn!(error = %e, "could not turn transparent huge pages off; expect multi-millisecond stalls");
        }
        let cpus = placement::plan(config.executors(), &config.cpuset, &placement::allowed_cpus())?;
        let cores = cpus.len();
        let storage = DmaStorage::outside_executor(config.data_dir.clone());
        let catalog = futures::executor::block_on(async {
            storage.create_dir_all(&config.data_dir).await?;
            let catalog = Catalog::load(storage.clone(), config.data_dir.clone()).await?;
            catalog.sweep_orphans().await?;
            Ok::<_, EngineError>(catalog)
        })?;
        let snapshot = catalog.snapshot();
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..cores).map(|_| flume::unbounded()).unzip();
        let router = Router {
            cores: senders,
            published: Arc::new(RwLock::new(snapshot.clone())),
            durability: config.log.sync_policy.durability(),
        };
        let (ready_tx, ready_rx) = flume::unbounded::<Result<RecoveryReports>>();
        let mut catalog = Some(catalog);
        let mut threads = Vec::with_capacity(cores);
        for ((id, rx), cpu) in receivers.into_iter().enumerate().zip(cpus) {
            let placement = cpu.map_or(Placement::Unbound, Placement::Fixed);
            let ctx = CoreContext {
                id,
                config: config.clone(),
                router: router.clone(),
                // Loaded inline before the executors existed; written from core 0's
                // executor, off its thread.
                catalog: if id == 0 {
                    catalog.take().map(|c| c.with_storage(DmaStorage::new(config.data_dir.clone())))
                } else {
                    None
                },
            };
            let (snapshot, ready, hook) = (snapshot.clone(), ready_tx.clone(), hook.clone());
            let handle = LocalExecutorBuilder::new(placement)
                .name(&format!("shoal-core-{id}"))
                .io_memory(config.io_memory_bytes)
                .spawn(move || core_main(ctx, snapshot, rx, ready, hook))
                .map_err(|e| EngineError::io("start executor", &config.data_dir, e.into()))?;
            threads.push(handle);
        }
        drop(ready_tx);
        let mut recovery = Vec::new();
        let mut failure = None;
        for _ in 0..cores {
            match ready_rx.recv() {
                Ok(Ok(reports)) => recovery.extend(reports),
                Ok(Err(e)) => failure = Some(e),
                Err(_) => failure = Some(EngineError::Shutdown),
            }
        }
        let engine = Engine {
            inner: Arc::new(Inner { router, threads: Mutex::new(threads), recovery, lock: Mutex::new(Some(lock)) }),
        };
        match failure {
            Some(e) => {
                let _ = engine.stop();
                Err(e)
            }
            None => Ok(engine),
        }
    }

    pub fn cores(&self) -> usize {
        self.inner.router.core_count()
    }

    /// What recovery found for every shard at start.
    pub fn recovery_reports(&self) -> &RecoveryReports {
        &self.inner.recovery
    }

    /// The durability puts are acknowledged with.
    pub fn durability(&self) -> Durability {
        self.inner.router.durability
    }

    /// The catalog snapshot currently used for routing.
    pub fn catalog(&self) -> Arc<CatalogData> {
        self.inner.router.catalog()
    }

    fn router(&self) -> &Router {
        &self.inner.router
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
        self.router().create_stream(name, shards, retention_hours, limits).await
    }

    pub async fn delete_stream(&self, name: &str) -> Result<()> {
        self.router().delete_stream(name).await
    }

    /// Changes retention; `increase` selects Increase/DecreaseStreamRetentionPeriod.
    pub async fn set_retention(&self, name: &str, hours: u32, increase: bool) -> Result<()> {
        self.router().set_retention(name, hours, increase).await
    }

    pub fn describe_stream(&self, name: &str) -> Result<StreamDescription> {
        self.router().describe_stream(name)
    }

    pub fn list_streams(&self) -> Vec<String> {
        self.router().list_streams()
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
            let (snapshot, i) = self.router().locate(stream)?;
            let meta = &snapshot.streams[i];
            let min_counter = ordering_min_counter(meta, ordering)?;
            let shard = route_one(meta, &record)?;
            let (tag, core) = (meta.tag(), self.router().core_of(meta, shard));
            let (snap, rec) = (snapshot.clone(), record.clone());
            let appended = self
                .router()
                .call(core, |reply| Command::AppendOne {
                    snapshot: snap,
                    stream: i,
                    shard,
                    record: rec,
                    min_counter,
                    reply,
                })
                .await;
            match appended {
                Ok(counter) => {
                    let seq = SequenceNumber::new(counter, tag, shard);
                    return Ok((PutResult { shard_index: shard, sequence_number: seq }, self.durability()));
                }
                Err(EngineError::ShardClosed(_)) if round + 1 < REROUTE_ROUNDS => {
                    round += 1;
                    self.router().barrier().await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// PutRecords: stores up to 500 records; failures are per record, in
    /// request order.
    pub async fn put_records(&self, stream: &str, records: Vec<RecordInput>) -> Result<PutRecordsOutcome> {
        validate_put(&records)?;
        let mut collector = PutCollector::new(records);
        for round in 0..REROUTE_ROUNDS {
            if round > 0 {
                self.router().barrier().await;
            }
            let (snapshot, i) = self.router().locate(stream)?;
            let meta = &snapshot.streams[i];
            let mut per_core: Vec<Vec<(u32, ShardGroup)>> = vec![Vec::new(); self.cores()];
            for (shard, group) in route_put(meta, collector.take_pending())? {
                per_core[self.router().core_of(meta, shard)].push((shard, group));
            }
            let parts = per_core
                .into_iter()
                .enumerate()
                .filter(|(_, groups)| !groups.is_empty())
                .map(|(core, groups)| self.router().append_remote(core, snapshot.clone(), i, groups));
            collector.absorb(join_all(parts).await);
            if !collector.has_pending() {
                break;
            }
        }
        Ok(collector.finish(self.durability()))
    }

    /// RegisterStreamConsumer (at most 20 per stream).
    pub async fn register_consumer(&self, stream: &str, name: &str) -> Result<ConsumerMeta> {
        self.router().register_consumer(stream, name).await
    }

    /// DeregisterStreamConsumer: its subscriptions end with an error.
    pub async fn deregister_consumer(&self, stream: &str, name: &str) -> Result<()> {
        self.router().deregister_consumer(stream, name).await
    }

    /// The registered consumers of a stream.
    pub fn list_consumers(&self, stream: &str) -> Result<Vec<ConsumerMeta>> {
        self.router().list_consumers(stream)
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
        self.router().subscribe(stream, consumer, shard, position).await
    }

    /// SplitShard: closes `shard`; its two children split its range at
    /// `new_starting_hash_key`.
    pub async fn split_shard(&self, stream: &str, shard: u32, new_starting_hash_key: u128) -> Result<()> {
        self.router().reshard(stream, command::ReshardOp::Split { shard, new_starting_hash_key }).await
    }

    /// MergeShards: `shard`'s range must end just before `adjacent`'s.
    pub async fn merge_shards(&self, stream: &str, shard: u32, adjacent: u32) -> Result<()> {
        self.router().reshard(stream, command::ReshardOp::Merge { shard, adjacent }).await
    }

    /// UpdateShardCount with UNIFORM_SCALING.
    pub async fn update_shard_count(&self, stream: &str, target: u32) -> Result<()> {
        self.router().reshard(stream, command::ReshardOp::UniformScaling { target }).await
    }

    /// Resolves a starting position in a shard to a counter.
    pub async fn resolve(&self, stream: &str, shard: u32, position: StartingPosition) -> Result<u64> {
        self.router().resolve(stream, shard, position).await
    }

    /// Reads from a shard starting at counter `from`.
    pub async fn read(&self, stream: &str, shard: u32, from: u64, limit: usize) -> Result<ReadOutcome> {
        self.router().read(stream, shard, from, limit).await
    }

    /// Every core's counters and shards, merged (see [`crate::metrics`]).
    /// Each core answers between two of its tasks; nothing is locked.
    pub async fn metrics(&self) -> Result<MetricsSnapshot> {
        let parts = (0..self.cores()).map(|core| self.router().call(core, |reply| Command::Metrics { reply }));
        let cores = join_all(parts).await.into_iter().collect::<Result<Vec<_>>>()?;
        let truncated = self.inner.recovery.iter().filter(|(_, _, r)| r.bytes_truncated > 0);
        let (count, bytes) = truncated.fold((0, 0), |(n, b), (_, _, r)| (n + 1, b + r.bytes_truncated));
        Ok(MetricsSnapshot::merge(cores, count, bytes))
    }

    /// Finishes in-flight appends, syncs every shard and stops the
    /// executors. Blocks until they have exited.
    pub fn shutdown(self) -> Result<()> {
        self.stop()
    }

    fn stop(&self) -> Result<()> {
        let mut first_error = None;
        for sender in &self.inner.router.cores {
            let (tx, rx) = oneshot::channel();
            if sender.send(Command::Shutdown { reply: tx }).is_ok() {
                if let Ok(Err(e)) = futures::executor::block_on(rx) {
                    first_error.get_or_insert(e);
                }
            }
        }
        let threads = std::mem::take(&mut *self.inner.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        // Every core has stopped: nothing of this engine writes any more.
        drop(self.inner.lock.lock().unwrap_or_else(|e| e.into_inner()).take());
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for sender in &self.router.cores {
            let (tx, _rx) = oneshot::channel();
            let _ = sender.send(Command::Shutdown { reply: tx });
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}
