//! Requests between cores, and from handles to cores.

use std::sync::Arc;

use futures::channel::oneshot;

use crate::catalog::{CatalogData, StreamMeta};
use crate::core::{PutResult, ReadOutcome, RecordFailure, ShardGroup, StartingPosition};
use crate::error::Result;
use crate::model::{RecordInput, StreamDescription};
use crate::throttle::ShardLimits;

pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;
pub(crate) type GroupResults = Vec<(usize, std::result::Result<PutResult, RecordFailure>)>;

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
    Shutdown {
        reply: Reply<()>,
    },
}
