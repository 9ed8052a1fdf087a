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
//! * Executor `i` is pinned to CPU `i` when there are at least as many
//!   CPUs as cores; otherwise executors float.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::join_all;
use glommio::{LocalExecutorBuilder, Placement};

use crate::catalog::{owning_core, Catalog, CatalogData, StreamMeta};
use crate::clock::{Clock, SystemClock};
use crate::config::{Durability, EngineConfig};
use crate::core::{
    append_group, ordering_min_counter, route_put, validate_put, CoreShards, PutRecordsOutcome, PutResult, ReadOutcome,
    RecordFailure, ShardGroup, StartingPosition,
};
use crate::error::{EngineError, Result};
use crate::model::{RecordInput, StreamDescription};
use crate::sequence::SequenceNumber;
use crate::shard::RecoveryReport;
use crate::storage::dma::DmaStorage;
use crate::storage::Storage;

type Reply<T> = oneshot::Sender<Result<T>>;
type GroupResults = Vec<(usize, std::result::Result<PutResult, RecordFailure>)>;

/// A request to one core. Data requests carry the catalog snapshot they
/// were routed with and the stream's position in it.
enum Command {
    CreateStream {
        name: String,
        shards: u32,
        retention_hours: Option<u32>,
        reply: Reply<StreamDescription>,
    },
    DeleteStream {
        name: String,
        reply: Reply<()>,
    },
    SetRetention {
        name: String,
        hours: u32,
        increase: bool,
        reply: Reply<()>,
    },
    OpenShards {
        stream: StreamMeta,
        reply: Reply<()>,
    },
    DropStream {
        stream: StreamMeta,
        reply: Reply<()>,
    },
    Append {
        snapshot: Arc<CatalogData>,
        stream: usize,
        groups: Vec<(u32, ShardGroup)>,
        reply: oneshot::Sender<GroupResults>,
    },
    AppendOne {
        snapshot: Arc<CatalogData>,
        stream: usize,
        shard: u32,
        record: RecordInput,
        min_counter: u64,
        reply: Reply<u64>,
    },
    Resolve {
        snapshot: Arc<CatalogData>,
        stream: usize,
        shard: u32,
        position: StartingPosition,
        reply: Reply<u64>,
    },
    Read {
        snapshot: Arc<CatalogData>,
        stream: usize,
        shard: u32,
        from: u64,
        limit: usize,
        reply: Reply<ReadOutcome>,
    },
    Shutdown {
        reply: Reply<()>,
    },
}

/// Per-shard recovery results gathered at start: (stream, shard, report).
pub type RecoveryReports = Vec<(String, u32, RecoveryReport)>;

struct Inner {
    cores: Vec<flume::Sender<Command>>,
    published: Arc<RwLock<Arc<CatalogData>>>,
    threads: Mutex<Vec<glommio::ExecutorJoinHandle<()>>>,
    durability: Durability,
    recovery: RecoveryReports,
}

/// A handle to a running thread-per-core engine. Cheap to clone; `Send`
/// and `Sync`. The engine stops when [`Engine::shutdown`] is called or the
/// last handle is dropped.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Recovers the data directory and starts one executor per core.
    pub fn start(config: EngineConfig) -> Result<Engine> {
        config.validate()?;
        let cores = match config.cores {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let storage = DmaStorage::new(config.data_dir.clone());
        let catalog = futures::executor::block_on(async {
            let catalog = Catalog::load(storage.clone(), config.data_dir.clone()).await?;
            catalog.sweep_orphans().await?;
            Ok::<_, EngineError>(catalog)
        })?;
        let snapshot = catalog.snapshot();
        let published = Arc::new(RwLock::new(snapshot.clone()));
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..cores).map(|_| flume::unbounded()).unzip();
        let (ready_tx, ready_rx) = flume::unbounded::<Result<RecoveryReports>>();
        let mut catalog = Some(catalog);
        let mut threads = Vec::with_capacity(cores);
        for (id, rx) in receivers.into_iter().enumerate() {
            let placement = if cores <= cpus {
                Placement::Fixed(id)
            } else {
                Placement::Unbound
            };
            let ctx = CoreContext {
                id,
                cores,
                config: config.clone(),
                peers: senders.clone(),
                published: published.clone(),
                catalog: if id == 0 { catalog.take() } else { None },
            };
            let snapshot = snapshot.clone();
            let ready = ready_tx.clone();
            let handle = LocalExecutorBuilder::new(placement)
                .name(&format!("shoal-core-{id}"))
                .io_memory(config.io_memory_bytes)
                .spawn(move || core_main(ctx, snapshot, rx, ready))
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
            inner: Arc::new(Inner {
                cores: senders,
                published,
                threads: Mutex::new(threads),
                durability: config.log.sync_policy.durability(),
                recovery,
            }),
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
        self.inner.cores.len()
    }

    /// What recovery found for every shard at start.
    pub fn recovery_reports(&self) -> &RecoveryReports {
        &self.inner.recovery
    }

    /// The durability puts are acknowledged with.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// The catalog snapshot currently used for routing.
    pub fn catalog(&self) -> Arc<CatalogData> {
        self.inner.published.read().map(|g| g.clone()).unwrap_or_default()
    }

    async fn call<T>(&self, core: usize, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let sender = self.inner.cores.get(core).ok_or(EngineError::Shutdown)?;
        sender.send_async(make(tx)).await.map_err(|_| EngineError::Shutdown)?;
        rx.await.map_err(|_| EngineError::Shutdown)?
    }

    fn locate(&self, stream: &str) -> Result<(Arc<CatalogData>, usize)> {
        let snapshot = self.catalog();
        let i = snapshot
            .streams
            .iter()
            .position(|s| s.name == stream)
            .ok_or_else(|| EngineError::NotFound(format!("Stream {stream} not found.")))?;
        Ok((snapshot, i))
    }

    fn core_of(&self, meta: &StreamMeta, shard: u32) -> usize {
        owning_core(meta.tag(), shard, self.cores())
    }

    pub async fn create_stream(
        &self,
        name: &str,
        shards: u32,
        retention_hours: Option<u32>,
    ) -> Result<StreamDescription> {
        let name = name.to_owned();
        self.call(0, |reply| Command::CreateStream {
            name,
            shards,
            retention_hours,
            reply,
        })
        .await
    }

    pub async fn delete_stream(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.call(0, |reply| Command::DeleteStream { name, reply }).await
    }

    /// Changes retention; `increase` selects Increase/DecreaseStreamRetentionPeriod.
    pub async fn set_retention(&self, name: &str, hours: u32, increase: bool) -> Result<()> {
        let name = name.to_owned();
        self.call(0, |reply| Command::SetRetention {
            name,
            hours,
            increase,
            reply,
        })
        .await
    }

    pub fn describe_stream(&self, name: &str) -> Result<StreamDescription> {
        Ok(self.catalog().stream(name)?.describe())
    }

    pub fn list_streams(&self) -> Vec<String> {
        self.catalog().streams.iter().map(|s| s.name.clone()).collect()
    }

    /// PutRecord: stores one record; `ordering` is SequenceNumberForOrdering.
    pub async fn put_record(
        &self,
        stream: &str,
        record: RecordInput,
        ordering: Option<SequenceNumber>,
    ) -> Result<(PutResult, Durability)> {
        let (snapshot, i) = self.locate(stream)?;
        let meta = &snapshot.streams[i];
        validate_put(std::slice::from_ref(&record))?;
        let min_counter = ordering_min_counter(meta, ordering)?;
        let shard = meta
            .sole_open_shard()
            .or_else(|| meta.route(crate::core::record_hash_key(&record)))
            .ok_or_else(|| EngineError::InvalidArgument(format!("stream {stream} has no open shard for the key")))?
            .index;
        let tag = meta.tag();
        let core = self.core_of(meta, shard);
        let counter = self
            .call(core, |reply| Command::AppendOne {
                snapshot: snapshot.clone(),
                stream: i,
                shard,
                record,
                min_counter,
                reply,
            })
            .await?;
        let result = PutResult {
            shard_index: shard,
            sequence_number: SequenceNumber::new(counter, tag, shard),
        };
        Ok((result, self.inner.durability))
    }

    /// PutRecords: stores up to 500 records; failures are per record, in
    /// request order.
    pub async fn put_records(&self, stream: &str, records: Vec<RecordInput>) -> Result<PutRecordsOutcome> {
        let (snapshot, i) = self.locate(stream)?;
        validate_put(&records)?;
        let n = records.len();
        let meta = &snapshot.streams[i];
        let mut per_core: Vec<Vec<(u32, ShardGroup)>> = vec![Vec::new(); self.cores()];
        for (shard, group) in route_put(meta, records)? {
            per_core[self.core_of(meta, shard)].push((shard, group));
        }
        let mut waits = Vec::new();
        for (core, groups) in per_core.into_iter().enumerate() {
            if groups.is_empty() {
                continue;
            }
            let positions: Vec<usize> = groups.iter().flat_map(|(_, g)| g.iter().map(|(p, _)| *p)).collect();
            let (tx, rx) = oneshot::channel();
            let cmd = Command::Append {
                snapshot: snapshot.clone(),
                stream: i,
                groups,
                reply: tx,
            };
            let sent = self.inner.cores[core].send_async(cmd).await.is_ok();
            waits.push(async move {
                match rx.await {
                    Ok(results) if sent => results,
                    _ => positions
                        .into_iter()
                        .map(|p| {
                            let failure = RecordFailure {
                                kind: crate::core::RecordFailureKind::InternalFailure,
                                message: "Internal Service Failure: engine is shut down".into(),
                            };
                            (p, Err(failure))
                        })
                        .collect(),
                }
            });
        }
        let mut results = vec![None; n];
        for (pos, r) in join_all(waits).await.into_iter().flatten() {
            results[pos] = Some(r);
        }
        Ok(PutRecordsOutcome {
            results: results.into_iter().map(|r| r.expect("every record answered")).collect(),
            durability: self.inner.durability,
        })
    }

    /// Resolves a starting position in a shard to a counter.
    pub async fn resolve(&self, stream: &str, shard: u32, position: StartingPosition) -> Result<u64> {
        let (snapshot, i) = self.locate(stream)?;
        let core = self.core_of(&snapshot.streams[i], shard);
        self.call(core, |reply| Command::Resolve {
            snapshot,
            stream: i,
            shard,
            position,
            reply,
        })
        .await
    }

    /// Reads from a shard starting at counter `from`.
    pub async fn read(&self, stream: &str, shard: u32, from: u64, limit: usize) -> Result<ReadOutcome> {
        let (snapshot, i) = self.locate(stream)?;
        let core = self.core_of(&snapshot.streams[i], shard);
        self.call(core, |reply| Command::Read {
            snapshot,
            stream: i,
            shard,
            from,
            limit,
            reply,
        })
        .await
    }

    /// Finishes in-flight appends, syncs every shard and stops the
    /// executors. Blocks until they have exited.
    pub fn shutdown(self) -> Result<()> {
        self.stop()
    }

    fn stop(&self) -> Result<()> {
        let mut first_error = None;
        for sender in &self.inner.cores {
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
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for sender in &self.cores {
            let (tx, _rx) = oneshot::channel();
            let _ = sender.send(Command::Shutdown { reply: tx });
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// What one core's executor owns.
struct CoreContext {
    id: usize,
    cores: usize,
    config: EngineConfig,
    peers: Vec<flume::Sender<Command>>,
    published: Arc<RwLock<Arc<CatalogData>>>,
    /// Core 0 only.
    catalog: Option<Catalog<DmaStorage>>,
}

type Shards = CoreShards<DmaStorage, SystemClock>;

async fn core_main(
    ctx: CoreContext,
    snapshot: Arc<CatalogData>,
    rx: flume::Receiver<Command>,
    ready: flume::Sender<Result<RecoveryReports>>,
) {
    let shards = Rc::new(CoreShards::new(
        DmaStorage::new(ctx.config.data_dir.clone()),
        SystemClock,
        ctx.config.data_dir.clone(),
        ctx.config.log.clone(),
        ctx.config.tail_cache_bytes,
    ));
    let opened = open_owned_shards(&shards, &snapshot, ctx.id, ctx.cores).await;
    let failed = opened.is_err();
    let _ = ready.send(opened);
    if failed {
        return;
    }
    let mut ctx = ctx;
    // Core 0 holds the catalog; the mutex serialises control operations.
    let catalog = Rc::new(futures::lock::Mutex::new(ctx.catalog.take()));
    let ctx = Rc::new(ctx);
    let running = Rc::new(Cell::new(true));
    glommio::spawn_local(maintenance_loop(shards.clone(), ctx.clone(), running.clone())).detach();
    while let Ok(cmd) = rx.recv_async().await {
        if let Command::Shutdown { reply } = cmd {
            running.set(false);
            let _ = reply.send(shards.shutdown().await);
            break;
        }
        glommio::spawn_local(serve(cmd, shards.clone(), ctx.clone(), catalog.clone())).detach();
    }
}

async fn open_owned_shards(
    shards: &Shards,
    snapshot: &CatalogData,
    core: usize,
    cores: usize,
) -> Result<RecoveryReports> {
    let mut reports = Vec::new();
    for stream in &snapshot.streams {
        let tag = stream.tag();
        let mine = stream
            .shards
            .iter()
            .filter(|s| owning_core(tag, s.index, cores) == core);
        for (index, report) in shards.open_shards(stream, mine).await? {
            log_recovery(&stream.name, index, &report);
            reports.push((stream.name.clone(), index, report));
        }
    }
    Ok(reports)
}

fn log_recovery(stream: &str, shard: u32, r: &RecoveryReport) {
    if r.bytes_truncated > 0 || !r.damage.is_empty() {
        tracing::warn!(
            stream,
            shard,
            segments = r.segments,
            tail_records = r.tail_records,
            bytes_truncated = r.bytes_truncated,
            damage = r.damage.len(),
            "shard recovered with damage"
        );
    } else {
        tracing::debug!(
            stream,
            shard,
            segments = r.segments,
            tail_records = r.tail_records,
            "shard recovered"
        );
    }
}

async fn maintenance_loop(shards: Rc<Shards>, ctx: Rc<CoreContext>, running: Rc<Cell<bool>>) {
    let every = Duration::from_millis(ctx.config.maintenance_interval_ms);
    let sync_every = match ctx.config.log.sync_policy {
        crate::config::SyncPolicy::Interval { interval_ms } => Duration::from_millis(interval_ms).min(every),
        crate::config::SyncPolicy::Always => every,
    };
    while running.get() {
        glommio::timer::sleep(sync_every).await;
        if !running.get() {
            break;
        }
        let snapshot = ctx.published.read().map(|g| g.clone()).unwrap_or_default();
        let retention = |inc: u64| {
            snapshot
                .streams
                .iter()
                .find(|s| s.incarnation == inc)
                .map(|s| s.retention_ms())
        };
        if let Err(e) = shards.maintenance(retention).await {
            tracing::error!(core = ctx.id, error = %e, "maintenance failed");
        }
    }
}

async fn serve(
    cmd: Command,
    shards: Rc<Shards>,
    ctx: Rc<CoreContext>,
    catalog: Rc<futures::lock::Mutex<Option<Catalog<DmaStorage>>>>,
) {
    match cmd {
        Command::Append {
            snapshot,
            stream,
            groups,
            reply,
        } => {
            let meta = &snapshot.streams[stream];
            let results = join_all(
                groups
                    .into_iter()
                    .map(|(shard, g)| append_group(&shards, meta, shard, g)),
            )
            .await;
            let _ = reply.send(results.into_iter().flatten().collect());
        }
        Command::AppendOne {
            snapshot,
            stream,
            shard,
            record,
            min_counter,
            reply,
        } => {
            let meta = &snapshot.streams[stream];
            let r = shards
                .append(meta, shard, std::slice::from_ref(&record), min_counter)
                .await;
            let _ = reply.send(r.map(|ack| ack.first_counter));
        }
        Command::Resolve {
            snapshot,
            stream,
            shard,
            position,
            reply,
        } => {
            let _ = reply.send(shards.resolve(&snapshot.streams[stream], shard, position).await);
        }
        Command::Read {
            snapshot,
            stream,
            shard,
            from,
            limit,
            reply,
        } => {
            let _ = reply.send(shards.read(&snapshot.streams[stream], shard, from, limit).await);
        }
        Command::OpenShards { stream, reply } => {
            let tag = stream.tag();
            let mine = stream
                .shards
                .iter()
                .filter(|s| owning_core(tag, s.index, ctx.cores) == ctx.id);
            let _ = reply.send(shards.open_shards(&stream, mine).await.map(|_| ()));
        }
        Command::DropStream { stream, reply } => {
            let _ = reply.send(shards.drop_stream(&stream, false).await);
        }
        Command::CreateStream {
            name,
            shards: count,
            retention_hours,
            reply,
        } => {
            let mut guard = catalog.lock().await;
            let r = match guard.as_mut() {
                Some(c) => create_stream(c, &ctx, &name, count, retention_hours).await,
                None => Err(EngineError::Shutdown),
            };
            let _ = reply.send(r);
        }
        Command::DeleteStream { name, reply } => {
            let mut guard = catalog.lock().await;
            let r = match guard.as_mut() {
                Some(c) => delete_stream(c, &ctx, &shards, &name).await,
                None => Err(EngineError::Shutdown),
            };
            let _ = reply.send(r);
        }
        Command::SetRetention {
            name,
            hours,
            increase,
            reply,
        } => {
            let mut guard = catalog.lock().await;
            let r = match guard.as_mut() {
                Some(c) => c.set_retention(&name, hours, increase).await.map(|_| publish(&ctx, c)),
                None => Err(EngineError::Shutdown),
            };
            let _ = reply.send(r);
        }
        Command::Shutdown { reply } => {
            let _ = reply.send(Ok(()));
        }
    }
}

fn publish(ctx: &CoreContext, catalog: &Catalog<DmaStorage>) {
    if let Ok(mut g) = ctx.published.write() {
        *g = catalog.snapshot();
    }
}

/// Sends a command to every core and waits for all of them.
async fn broadcast(ctx: &CoreContext, make: impl Fn(Reply<()>) -> Command) -> Result<()> {
    let mut waits = Vec::new();
    for peer in &ctx.peers {
        let (tx, rx) = oneshot::channel();
        peer.send_async(make(tx)).await.map_err(|_| EngineError::Shutdown)?;
        waits.push(rx);
    }
    for w in waits {
        w.await.map_err(|_| EngineError::Shutdown)??;
    }
    Ok(())
}

async fn create_stream(
    catalog: &mut Catalog<DmaStorage>,
    ctx: &CoreContext,
    name: &str,
    shards: u32,
    retention_hours: Option<u32>,
) -> Result<StreamDescription> {
    let stream = catalog
        .create_stream(name, shards, retention_hours, SystemClock.now_ms())
        .await?;
    broadcast(ctx, |reply| Command::OpenShards {
        stream: stream.clone(),
        reply,
    })
    .await?;
    publish(ctx, catalog);
    Ok(stream.describe())
}

/// Unpublishes the stream, has every core forget its shards, then deletes
/// the files (a crash in between leaves files the orphan sweep removes).
async fn delete_stream(
    catalog: &mut Catalog<DmaStorage>,
    ctx: &CoreContext,
    shards: &Shards,
    name: &str,
) -> Result<()> {
    let stream = catalog.delete_stream(name).await?;
    publish(ctx, catalog);
    broadcast(ctx, |reply| Command::DropStream {
        stream: stream.clone(),
        reply,
    })
    .await?;
    shards.storage().remove_dir_all(&stream.dir(&ctx.config.data_dir)).await
}
