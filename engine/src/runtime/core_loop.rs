//! What runs on each core: opening its shards, serving commands from
//! handles and other cores, maintenance, and (on core 0) the catalog.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::join_all;

use super::command::{Command, Reply, ReshardOp};
use super::router::Router;
use super::{CoreApi, CoreHook, RecoveryReports, Shards};
use crate::catalog::{owning_core, Catalog, CatalogData};
use crate::clock::{Clock, SystemClock};
use crate::config::EngineConfig;
use crate::core::{append_group, child_shards, find_consumer, CoreShards};
use crate::error::{EngineError, Result};
use crate::model::StreamDescription;
use crate::reshard;
use crate::shard::RecoveryReport;
use crate::storage::dma::DmaStorage;
use crate::storage::Storage;
use crate::subscription;
use crate::throttle::ShardLimits;
use std::collections::BTreeMap;

/// What one core's executor owns.
pub(crate) struct CoreContext {
    pub id: usize,
    pub config: EngineConfig,
    pub router: Router,
    /// Core 0 only.
    pub catalog: Option<Catalog<DmaStorage>>,
}

pub(crate) async fn core_main(
    ctx: CoreContext,
    snapshot: Arc<CatalogData>,
    rx: flume::Receiver<Command>,
    ready: flume::Sender<Result<RecoveryReports>>,
    hook: Option<CoreHook>,
) {
    let shards = Rc::new(CoreShards::new(
        DmaStorage::new(ctx.config.data_dir.clone()),
        SystemClock,
        ctx.config.data_dir.clone(),
        ctx.config.log.clone(),
        ctx.config.tail_cache_bytes,
    ));
    let opened = open_owned_shards(&shards, &snapshot, ctx.id, ctx.router.core_count()).await;
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
    let runways = shards.clone();
    glommio::spawn_local(async move { runways.serve_runways().await }).detach();
    if let Some(hook) = hook {
        let api = CoreApi { id: ctx.id, router: ctx.router.clone(), shards: shards.clone() };
        glommio::spawn_local(hook(api)).detach();
    }
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
        let mine = stream.shards.iter().filter(|s| owning_core(tag, s.index, cores) == core);
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
        tracing::debug!(stream, shard, segments = r.segments, tail_records = r.tail_records, "shard recovered");
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
        let snapshot = ctx.router.catalog();
        let retention = |inc: u64| snapshot.streams.iter().find(|s| s.incarnation == inc).map(|s| s.retention_ms());
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
        Command::Append { snapshot, stream, groups, reply } => {
            let meta = &snapshot.streams[stream];
            let results = join_all(groups.into_iter().map(|(shard, g)| append_group(&shards, meta, shard, g))).await;
            let _ = reply.send(results.into_iter().flatten().collect());
        }
        Command::AppendOne { snapshot, stream, shard, record, min_counter, reply } => {
            let meta = &snapshot.streams[stream];
            let r = shards.append(meta, shard, std::slice::from_ref(&record), min_counter).await;
            let _ = reply.send(r.map(|ack| ack.first_counter));
        }
        Command::Resolve { snapshot, stream, shard, position, reply } => {
            let _ = reply.send(shards.resolve(&snapshot.streams[stream], shard, position).await);
        }
        Command::Read { snapshot, stream, shard, from, limit, reply } => {
            let _ = reply.send(shards.read(&snapshot.streams[stream], shard, from, limit).await);
        }
        Command::OpenShards { stream, reply } => {
            let tag = stream.tag();
            let cores = ctx.router.core_count();
            let mine = stream.shards.iter().filter(|s| owning_core(tag, s.index, cores) == ctx.id);
            let _ = reply.send(shards.open_shards(&stream, mine).await.map(|_| ()));
        }
        Command::DropStream { stream, reply } => {
            let _ = reply.send(shards.drop_stream(&stream, false).await);
        }
        Command::CreateStream { name, shards: count, retention_hours, limits, reply } => {
            let mut guard = catalog.lock().await;
            let limits = limits.unwrap_or(ctx.config.default_shard_limits);
            let r = match guard.as_mut() {
                Some(c) => create_stream(c, &ctx, &name, count, retention_hours, limits).await,
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
        Command::SetRetention { name, hours, increase, reply } => {
            let mut guard = catalog.lock().await;
            let r = match guard.as_mut() {
                Some(c) => c.set_retention(&name, hours, increase).await.map(|_| publish(&ctx, c)),
                None => Err(EngineError::Shutdown),
            };
            let _ = reply.send(r);
        }
        Command::CloseShards { stream, shards: which, reply } => {
            let _ = reply.send(shards.close_shards(&stream, &which).await);
        }
        Command::ReopenShards { stream, shards: which, reply } => {
            shards.reopen_shards(&stream, &which);
            let _ = reply.send(Ok(()));
        }
        Command::RegisterConsumer { stream, name, reply } => {
            let mut guard = catalog.lock().await;
            let r = match guard.as_mut() {
                Some(c) => {
                    let r = c.register_consumer(&stream, &name, SystemClock.now_ms()).await;
                    publish(&ctx, c);
                    r
                }
                None => Err(EngineError::Shutdown),
            };
            let _ = reply.send(r);
        }
        Command::DeregisterConsumer { stream, name, reply } => {
            let mut guard = catalog.lock().await;
            let r = match guard.as_mut() {
                Some(c) => {
                    let r = c.deregister_consumer(&stream, &name).await;
                    publish(&ctx, c);
                    r
                }
                None => Err(EngineError::Shutdown),
            };
            let _ = reply.send(r);
        }
        Command::Subscribe { snapshot, stream, consumer, shard, position, reply } => {
            let meta = snapshot.streams[stream].clone();
            let started = async {
                let registration = find_consumer(&meta, &consumer)?;
                let slot = shards.claim_subscription(&meta, &consumer, shard)?;
                let from = shards.resolve(&meta, shard, position).await?;
                Ok::<_, EngineError>((registration, slot, from))
            }
            .await;
            let (registration, slot, from) = match started {
                Ok(s) => s,
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return;
                }
            };
            let (mut sink, events) = subscription::event_channel();
            if reply.send(Ok(events)).is_err() {
                return;
            }
            let router = ctx.router.clone();
            let registered = || {
                crate::subscription::Registration::of(&meta, router.catalog().stream(&meta.name).ok(), &registration)
            };
            let children = || {
                router
                    .catalog()
                    .stream(&meta.name)
                    .ok()
                    .filter(|s| s.incarnation == meta.incarnation)
                    .map_or_else(Vec::new, |s| child_shards(s, shard))
            };
            let settings = ctx.config.subscription;
            let sleep = glommio::timer::sleep;
            subscription::deliver(&shards, &meta, shard, from, settings, registered, children, sleep, &mut sink).await;
            drop(slot);
        }
        Command::Metrics { reply } => {
            let _ = reply.send(Ok(shards.metrics_snapshot(ctx.id)));
        }
        Command::Barrier { reply } => {
            drop(catalog.lock().await);
            let _ = reply.send(Ok(()));
        }
        Command::Reshard { name, op, reply } => {
            let mut guard = catalog.lock().await;
            let r = match guard.as_mut() {
                Some(c) => reshard(c, &ctx, &name, op).await,
                None => Err(EngineError::Shutdown),
            };
            let _ = reply.send(r);
        }
        Command::Shutdown { reply } => {
            let _ = reply.send(Ok(()));
        }
    }
}

/// A reshard, run by the control core: check, close the parents on their
/// cores (their logs give the ending counters), record parents and
/// children in one catalog write, open the children on their cores, and
/// only then publish. If the catalog write fails, the parents reopen and
/// the stream stays as it was; a crash before the write leaves the old
/// catalog, after it the new one.
async fn reshard(catalog: &mut Catalog<DmaStorage>, ctx: &CoreContext, name: &str, op: ReshardOp) -> Result<()> {
    let meta = catalog.snapshot().stream(name)?.clone();
    let parents: Vec<u32> = match op {
        ReshardOp::Split { shard, new_starting_hash_key } => {
            reshard::check_split(&meta, shard, new_starting_hash_key)?;
            vec![shard]
        }
        ReshardOp::Merge { shard, adjacent } => {
            reshard::check_merge(&meta, shard, adjacent)?;
            vec![shard, adjacent]
        }
        ReshardOp::UniformScaling { target } => {
            reshard::check_target(&meta, target)?;
            meta.shards.iter().filter(|s| s.is_open()).map(|s| s.index).collect()
        }
    };
    catalog.check_shard_quota(parents.len())?;
    let cores = ctx.router.core_count();
    let mut by_core: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for &p in &parents {
        by_core.entry(owning_core(meta.tag(), p, cores)).or_default().push(p);
    }
    let mut ends = BTreeMap::new();
    let mut closed: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut failure = None;
    for (core, shards) in by_core {
        let (stream, list) = (meta.clone(), shards.clone());
        match ctx.router.call(core, |reply| Command::CloseShards { stream, shards: list, reply }).await {
            Ok(got) => {
                ends.extend(got);
                closed.push((core, shards));
            }
            Err(e) => {
                closed.push((core, shards));
                failure = Some(e);
                break;
            }
        }
    }
    // Read once the parents are closed, so every record they hold arrived
    // at or before their closing time.
    let now_ms = SystemClock.now_ms();
    let updated = match failure {
        Some(e) => Err(e),
        None => {
            catalog
                .update_stream(name, |m| match op {
                    ReshardOp::Split { shard, new_starting_hash_key } => {
                        reshard::apply_split(m, shard, new_starting_hash_key, ends[&shard], now_ms).map(|_| ())
                    }
                    ReshardOp::Merge { shard, adjacent } => {
                        reshard::apply_merge(m, shard, adjacent, ends[&shard], ends[&adjacent], now_ms).map(|_| ())
                    }
                    ReshardOp::UniformScaling { target } => {
                        reshard::apply_uniform_scaling(m, target, &ends, now_ms).map(|_| ())
                    }
                })
                .await
        }
    };
    let updated = match updated {
        Ok(m) => m,
        Err(e) => {
            for (core, shards) in closed {
                let stream = meta.clone();
                let _ = ctx.router.call(core, |reply| Command::ReopenShards { stream, shards, reply }).await;
            }
            return Err(e);
        }
    };
    broadcast(ctx, |reply| Command::OpenShards { stream: updated.clone(), reply }).await?;
    // Uniform scaling closes every open shard first; those it left
    // unchanged take appends again.
    for (core, shards) in closed {
        let untouched: Vec<u32> =
            shards.into_iter().filter(|&p| updated.shard(p).is_some_and(|s| s.is_open())).collect();
        if !untouched.is_empty() {
            let stream = updated.clone();
            ctx.router.call(core, |reply| Command::ReopenShards { stream, shards: untouched, reply }).await?;
        }
    }
    publish(ctx, catalog);
    reshard::log_resharded(op.kind(), &meta, &updated);
    Ok(())
}

fn publish(ctx: &CoreContext, catalog: &Catalog<DmaStorage>) {
    ctx.router.publish(catalog.snapshot());
}

/// Sends a command to every core and waits for all of them.
async fn broadcast(ctx: &CoreContext, make: impl Fn(Reply<()>) -> Command) -> Result<()> {
    let mut waits = Vec::new();
    for peer in &ctx.router.cores {
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
    limits: ShardLimits,
) -> Result<StreamDescription> {
    let retention_hours = retention_hours.unwrap_or(ctx.config.default_retention_hours);
    let stream = catalog.create_stream(name, shards, retention_hours, limits, SystemClock.now_ms()).await?;
    broadcast(ctx, |reply| Command::OpenShards { stream: stream.clone(), reply }).await?;
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
    broadcast(ctx, |reply| Command::DropStream { stream: stream.clone(), reply }).await?;
    shards.storage().remove_dir_all(&stream.dir(&ctx.config.data_dir)).await
}
