//! Requests between cores, and from handles to cores.

use std::sync::Arc;

use futures::channel::oneshot;

use crate::catalog::{CatalogData, ConsumerMeta, StreamMeta};
use crate::core::{GroupResults, ReadOutcome, ShardGroup, StartingPosition};
use crate::error::Result;
use crate::metrics::CoreSnapshot;
use crate::model::{RecordInput, StreamDescription};
use crate::subscription::SubscriptionEvents;
use crate::throttle::ShardLimits;

pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

/// A request to one core. Data requests carry the catalog snapshot they
/// were routed with and the stream's position in it.
pub(crate) enum Command {
    CreateStream {
        name: String,
        shards: u32,
        retention_hours: Option<u32>,
        limits: Option<ShardLimits>,
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
    /// Closes shards of this core for a reshard; replies their ends.
    CloseShards {
        stream: StreamMeta,
        shards: Vec<u32>,
        reply: Reply<Vec<(u32, u64)>>,
    },
    /// Undoes CloseShards after a failed reshard.
    ReopenShards {
        stream: StreamMeta,
        shards: Vec<u32>,
        reply: Reply<()>,
    },
    /// Control core: RegisterStreamConsumer.
    RegisterConsumer {
        stream: String,
        name: String,
        reply: Reply<ConsumerMeta>,
    },
    /// Control core: DeregisterStreamConsumer.
    DeregisterConsumer {
        stream: String,
        name: String,
        reply: Reply<()>,
    },
    /// Owner core: starts a fan-out subscription; replies its events.
    Subscribe {
        snapshot: Arc<CatalogData>,
        stream: usize,
        consumer: String,
        shard: u32,
        position: StartingPosition,
        reply: Reply<SubscriptionEvents>,
    },
    /// Control core: answers once no control operation is running.
    Barrier {
        reply: Reply<()>,
    },
    /// Control core: a reshard (split, merge or uniform scaling).
    Reshard {
        name: String,
        op: ReshardOp,
        reply: Reply<()>,
    },
    /// This core's counters and shards, for a metrics scrape.
    Metrics {
        reply: Reply<CoreSnapshot>,
    },
    Shutdown {
        reply: Reply<()>,
    },
}

/// Which reshard.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ReshardOp {
    Split { shard: u32, new_starting_hash_key: u128 },
    Merge { shard: u32, adjacent: u32 },
    UniformScaling { target: u32 },
}

impl ReshardOp {
    /// The operation's name in logs.
    pub fn kind(self) -> &'static str {
        match self {
            ReshardOp::Split { .. } => "split",
            ReshardOp::Merge { .. } => "merge",
            ReshardOp::UniformScaling { .. } => "update shard count",
        }
    }
}
