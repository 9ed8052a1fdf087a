//! [`ShardAwareClient`]: each shard's requests go to the server core that owns the shard.
//!
//! A Shoal server runs one executor per core and serves a connection on the core its client
//! port maps to (PROTOCOL.md §3.4); a request for a shard of another core is
//! forwarded there and back, which costs a cross-core hop each way. This client keeps one
//! connection per server core, each from a local port the server maps to that core, learns
//! which core owns which shard (DescribePlacement) and which shard a key routes to (ListShards'
//! hash-key ranges, MD5 of the partition key as the server computes it), and sends each record
//! to its shard's core. A PutRecords whose records belong to several cores is sent as one
//! PutRecords per core, concurrently, and the answers are put back in request order.
//!
//! ```no_run
//! use shoal_protocol::client::{ClientConfig, ShardAwareClient};
//! use shoal_protocol::ops::{GetRecords, GetShardIterator, PutRecord, ShardIteratorType};
//!
//! # fn main() -> Result<(), shoal_protocol::client::ClientError> {
//! let client = ShardAwareClient::new("127.0.0.1:7070", ClientConfig::default())?;
//! futures::executor::block_on(async {
//!     // Sent on the connection of the core that owns the key's shard.
//!     let put = client.put_record(PutRecord::new("orders", "user-1", &b"hi"[..])).await?;
//!     // Reads of a shard go to its owner too.
//!     let owner = client.client_for_shard("orders", put.shard).await?;
//!     let it = owner.get_shard_iterator(GetShardIterator::new("orders", put.shard, ShardIteratorType::TrimHorizon));
//!     let records = owner.get_records(GetRecords::new(it.await?.iterator)).await?;
//!     println!("{} records", records.records.len());
//!     Ok(())
//! })
//! # }
//! ```
//!
//! Placement changes only with resharding (children are new shards) and with a restart on a
//! different core count. A stale route is never wrong, only slower: the server forwards. The
//! client drops a stream's route when a put lands on a shard it did not expect (a reshard),
//! and fetches it again on the next call; [`ShardAwareClient::forget_routes`] does it by hand
//! (after the server restarts with another core count, which no answer reveals).

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};

use crate::client::connection::lock;
use crate::client::{Client, ClientConfig, ClientError, ServingCore};
use crate::ops::{
    DescribePlacement, HashKeyRange, ListShards, PutRecord, PutRecordOutput, PutRecords, PutRecordsEntry,
    PutRecordsOutput, PutRecordsResult,
};

/// A client with one connection per server core; see the [module documentation](self).
/// Clones share the connections and the routes.
#[derive(Clone)]
pub struct ShardAwareClient {
    inner: Arc<Inner>,
}

struct Inner {
    addrs: Vec<SocketAddr>,
    config: ClientConfig,
    /// Whatever core the server picks: control-plane calls, and learning the core count.
    any_core: Client,
    /// One client per core, once the core count is known.
    cores: Mutex<Arc<Vec<Client>>>,
    routes: Mutex<HashMap<String, Arc<Route>>>,
}

/// Where a stream's records go.
struct Route {
    /// Open shards' hash-key ranges and owning cores.
    open: Vec<(HashKeyRange, u16)>,
    /// Every listed shard's owning core.
    core_of: HashMap<u32, u16>,
}

impl Route {
    fn core_for(&self, hash_key: u128) -> Option<u16> {
        self.open.iter().find(|(range, _)| (range.start..=range.end).contains(&hash_key)).map(|&(_, core)| core)
    }
}

/// The hash key a record routes by: its explicit hash key, else the MD5 of its partition key's
/// UTF-8 bytes read as a big-endian number (as Kinesis and the server compute it).
pub fn hash_key(partition_key: &str, explicit_hash_key: Option<u128>) -> u128 {
    explicit_hash_key.unwrap_or_else(|| u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into()))
}

impl ShardAwareClient {
    /// A client for the server at `addr`, resolved now; it connects on its first request.
    /// `config` applies to every connection (its `serving_core` is set per connection).
    pub fn new(addr: impl ToSocketAddrs, config: ClientConfig) -> Result<ShardAwareClient, ClientError> {
        let any_core = Client::new(addr, ClientConfig { serving_core: None, ..config.clone() })?;
        let addrs = any_core.addrs().to_vec();
        Ok(ShardAwareClient {
            inner: Arc::new(Inner {
                addrs,
                config,
                any_core,
                cores: Mutex::new(Arc::new(Vec::new())),
                routes: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The connection to whichever core the server picked, for every other operation.
    pub fn client(&self) -> &Client {
        &self.inner.any_core
    }

    /// The connection to the core that owns `shard` of `stream`: send that shard's
    /// GetShardIterator, GetRecords and SubscribeToShard here.
    pub async fn client_for_shard(&self, stream: &str, shard: u32) -> Result<Client, ClientError> {
        let mut route = self.route(stream).await?;
        if !route.core_of.contains_key(&shard) {
            // A shard newer than the route (a reshard since): look again, once.
            self.forget_route(stream);
            route = self.route(stream).await?;
        }
        Ok(match route.core_of.get(&shard) {
            Some(&core) => self.core(core),
            None => self.inner.any_core.clone(), // the server answers (ResourceNotFound)
        })
    }

    /// PutRecord, sent to the core that owns the record's shard.
    pub async fn put_record(&self, request: PutRecord) -> Result<PutRecordOutput, ClientError> {
        let stream = request.stream_name.clone();
        let route = self.route(&stream).await?;
        let core = route.core_for(hash_key(&request.partition_key, request.explicit_hash_key));
        let client = core.map_or_else(|| self.inner.any_core.clone(), |c| self.core(c));
        let output = client.put_record(request).await?;
        if core.is_none() || route.core_of.get(&output.shard).copied() != core {
            self.forget_route(&stream);
        }
        Ok(output)
    }

    /// PutRecords as one call per core that owns some of its records, sent concurrently; the
    /// results come back in request order, as from one call. A failed call fails the whole
    /// PutRecords, even if another core's part was stored (a retry may then store it twice,
    /// as with any retried put).
    pub async fn put_records(&self, request: PutRecords) -> Result<PutRecordsOutput, ClientError> {
        if request.records.is_empty() {
            return self.inner.any_core.put_records(request).await; // refused, as it should be
        }
        let stream = request.stream_name.clone();
        let route = self.route(&stream).await?;
        // Records by core, each with its position in the request.
        let mut parts: HashMap<Option<u16>, (Vec<usize>, Vec<PutRecordsEntry>)> = HashMap::new();
        for (i, entry) in request.records.into_iter().enumerate() {
            let core = route.core_for(hash_key(&entry.partition_key, entry.explicit_hash_key));
            let part = parts.entry(core).or_default();
            part.0.push(i);
            part.1.push(entry);
        }
        let calls = parts.into_iter().map(|(core, (positions, records))| {
            let client = core.map_or_else(|| self.inner.any_core.clone(), |c| self.core(c));
            let request = PutRecords::new(stream.clone(), records);
            async move { (core, positions, client.put_records(request).await) }
        });
        let mut answered: Vec<(usize, PutRecordsResult)> = Vec::new();
        let mut durability = None;
        let mut stale = false;
        for (core, positions, answer) in futures::future::join_all(calls).await {
            let output = answer?; // `put_records` checked it has one result per record
            durability = durability.or(Some(output.durability));
            for (position, result) in positions.into_iter().zip(output.records) {
                if let PutRecordsResult::Success { shard, .. } = &result {
                    stale |= core.is_none() || route.core_of.get(shard).copied() != core;
                }
                answered.push((position, result));
            }
        }
        if stale {
            self.forget_route(&stream);
        }
        answered.sort_unstable_by_key(|(position, _)| *position);
        Ok(PutRecordsOutput {
            records: answered.into_iter().map(|(_, result)| result).collect(),
            durability: durability.expect("at least one call"),
        })
    }

    /// Drops every learned route; each stream's is fetched again on its next call.
    pub fn forget_routes(&self) {
        lock(&self.inner.routes).clear();
    }

    fn forget_route(&self, stream: &str) {
        lock(&self.inner.routes).remove(stream);
    }

    /// The client of core `core` (any core's if the server has fewer now).
    fn core(&self, core: u16) -> Client {
        let cores = Arc::clone(&lock(&self.inner.cores));
        cores.get(usize::from(core)).cloned().unwrap_or_else(|| self.inner.any_core.clone())
    }

    /// The stream's route, learned on first use: DescribePlacement, then ListShards (every
    /// page). Opens the per-core connections when the core count is new.
    async fn route(&self, stream: &str) -> Result<Arc<Route>, ClientError> {
        if let Some(route) = lock(&self.inner.routes).get(stream) {
            return Ok(Arc::clone(route));
        }
        let placement = self.inner.any_core.describe_placement(DescribePlacement::new(stream)).await?;
        let core_of: HashMap<u32, u16> = placement.shards.iter().map(|p| (p.shard, p.core)).collect();
        let mut open = Vec::new();
        let mut page = ListShards::for_stream(stream);
        loop {
            let listed = self.inner.any_core.list_shards(page).await?;
            for shard in listed.shards.iter().filter(|s| s.ending_sequence_number.is_none()) {
                if let Some(&core) = core_of.get(&shard.index) {
                    open.push((shard.hash_key_range, core));
                }
            }
            match listed.next_token {
                Some(token) => page = ListShards::next_page(token),
                None => break,
            }
        }
        self.open_cores(placement.cores)?;
        let route = Arc::new(Route { open, core_of });
        lock(&self.inner.routes).insert(stream.to_owned(), Arc::clone(&route));
        Ok(route)
    }

    fn open_cores(&self, cores: u16) -> Result<(), ClientError> {
        let mut slot = lock(&self.inner.cores);
        if slot.len() == usize::from(cores) {
            return Ok(());
        }
        let clients = (0..cores)
            .map(|core| {
                let config =
                    ClientConfig { serving_core: Some(ServingCore { core, cores }), ..self.inner.config.clone() };
                Client::new(self.inner.addrs.as_slice(), config)
            })
            .collect::<Result<Vec<_>, _>>()?;
        *slot = Arc::new(clients);
        Ok(())
    }
}
