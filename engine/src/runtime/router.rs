//! Reaching the core that owns a shard: the published catalog snapshot for
//! routing, and one command channel per core.

use std::sync::{Arc, RwLock};

use futures::channel::oneshot;

use super::command::{Command, Reply, ReshardOp};
use crate::catalog::{owning_core, CatalogData, ConsumerMeta, StreamMeta};
use crate::config::Durability;
use crate::core::{GroupResults, RecordFailure, RecordFailureKind, ShardGroup, Slot};
use crate::core::{ReadOutcome, StartingPosition};
use crate::error::{EngineError, Result};
use crate::model::StreamDescription;
use crate::subscription::SubscriptionEvents;
use crate::throttle::ShardLimits;

/// Cheap to clone and `Send`: what every handle and core shares.
#[derive(Clone)]
pub(crate) struct Router {
    pub cores: Vec<flume::Sender<Command>>,
    pub published: Arc<RwLock<Arc<CatalogData>>>,
    pub durability: Durability,
}

impl Router {
    pub fn core_count(&self) -> usize {
        self.cores.len()
    }

    /// The catalog snapshot currently used for routing.
    pub fn catalog(&self) -> Arc<CatalogData> {
        self.published.read().map(|g| g.clone()).unwrap_or_default()
    }

    /// Replaces the published snapshot (control core only).
    pub fn publish(&self, snapshot: Arc<CatalogData>) {
        if let Ok(mut g) = self.published.write() {
            *g = snapshot;
        }
    }

    /// The snapshot and the stream's position in it.
    pub fn locate(&self, stream: &str) -> Result<(Arc<CatalogData>, usize)> {
        let snapshot = self.catalog();
        let i = snapshot
            .streams
            .iter()
            .position(|s| s.name == stream)
            .ok_or_else(|| EngineError::NotFound(format!("Stream {stream} not found.")))?;
        Ok((snapshot, i))
    }

    pub fn core_of(&self, meta: &StreamMeta, shard: u32) -> usize {
        owning_core(meta.tag(), shard, self.core_count())
    }

    /// Sends a command to a core and waits for its reply.
    pub async fn call<T>(&self, core: usize, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let sender = self.cores.get(core).ok_or(EngineError::Shutdown)?;
        sender.send_async(make(tx)).await.map_err(|_| EngineError::Shutdown)?;
        rx.await.map_err(|_| EngineError::Shutdown)?
    }

    /// Sends one core its groups of a put; the future resolves to each
    /// record's result (failed as InternalFailure if the core is gone).
    pub async fn append_remote(
        &self,
        core: usize,
        snapshot: Arc<CatalogData>,
        stream: usize,
        groups: Vec<(u32, ShardGroup)>,
    ) -> GroupResults {
        let positions: Vec<usize> = groups.iter().flat_map(|(_, g)| g.iter().map(|(p, _)| *p)).collect();
        let (tx, rx) = oneshot::channel();
        let cmd = Command::Append { snapshot, stream, groups, reply: tx };
        let sent = match self.cores.get(core) {
            Some(s) => s.send_async(cmd).await.is_ok(),
            None => false,
        };
        match rx.await {
            Ok(results) if sent => results,
            _ => positions
                .into_iter()
                .map(|p| {
                    let failure = RecordFailure {
                        kind: RecordFailureKind::InternalFailure,
                        message: "Internal Service Failure: engine is shut down".into(),
                    };
                    (p, Slot::Done(Err(failure)))
                })
                .collect(),
        }
    }

    /// CreateStream on the control core (`None` limits: the engine's default).
    pub async fn create_stream(
        &self,
        name: &str,
        shards: u32,
        retention_hours: Option<u32>,
        limits: Option<ShardLimits>,
    ) -> Result<StreamDescription> {
        let name = name.to_owned();
        self.call(0, |reply| Command::CreateStream { name, shards, retention_hours, limits, reply }).await
    }

    pub async fn delete_stream(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.call(0, |reply| Command::DeleteStream { name, reply }).await
    }

    pub async fn set_retention(&self, name: &str, hours: u32, increase: bool) -> Result<()> {
        let name = name.to_owned();
        self.call(0, |reply| Command::SetRetention { name, hours, increase, reply }).await
    }

    pub fn describe_stream(&self, name: &str) -> Result<StreamDescription> {
        Ok(self.catalog().stream(name)?.describe())
    }

    pub fn list_streams(&self) -> Vec<String> {
        self.catalog().streams.iter().map(|s| s.name.clone()).collect()
    }

    pub async fn register_consumer(&self, stream: &str, name: &str) -> Result<ConsumerMeta> {
        let (stream, name) = (stream.to_owned(), name.to_owned());
        self.call(0, |reply| Command::RegisterConsumer { stream, name, reply }).await
    }

    pub async fn deregister_consumer(&self, stream: &str, name: &str) -> Result<()> {
        let (stream, name) = (stream.to_owned(), name.to_owned());
        self.call(0, |reply| Command::DeregisterConsumer { stream, name, reply }).await
    }

    pub fn list_consumers(&self, stream: &str) -> Result<Vec<ConsumerMeta>> {
        Ok(self.catalog().stream(stream)?.consumers.clone())
    }

    /// Starts a subscription on the shard's owning core.
    pub async fn subscribe(
        &self,
        stream: &str,
        consumer: &str,
        shard: u32,
        position: StartingPosition,
    ) -> Result<SubscriptionEvents> {
        let (snapshot, i) = self.locate(stream)?;
        let core = self.core_of(&snapshot.streams[i], shard);
        let consumer = consumer.to_owned();
        self.call(core, |reply| Command::Subscribe { snapshot, stream: i, consumer, shard, position, reply }).await
    }

    /// Resolves a starting position on the shard's owning core.
    pub async fn resolve(&self, stream: &str, shard: u32, position: StartingPosition) -> Result<u64> {
        let (snapshot, i) = self.locate(stream)?;
        let core = self.core_of(&snapshot.streams[i], shard);
        self.call(core, |reply| Command::Resolve { snapshot, stream: i, shard, position, reply }).await
    }

    /// Reads on the shard's owning core.
    pub async fn read(&self, stream: &str, shard: u32, from: u64, limit: usize) -> Result<ReadOutcome> {
        let (snapshot, i) = self.locate(stream)?;
        let core = self.core_of(&snapshot.streams[i], shard);
        self.call(core, |reply| Command::Read { snapshot, stream: i, shard, from, limit, reply }).await
    }

    /// Runs a reshard on the control core.
    pub async fn reshard(&self, stream: &str, op: ReshardOp) -> Result<()> {
        let name = stream.to_owned();
        self.call(0, |reply| Command::Reshard { name, op, reply }).await
    }

    /// Waits until no control operation runs on the control core.
    pub async fn barrier(&self) {
        let _ = self.call(0, |reply| Command::Barrier { reply }).await;
    }
}
