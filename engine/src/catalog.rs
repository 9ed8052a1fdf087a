//! The catalog: every stream and shard, persisted atomically.
//!
//! One writer (the control core) changes it; every change is written as a
//! whole new file (temp file, fsync, rename, fsync directory) before it is
//! acknowledged, so a crash leaves either the old or the new catalog. Other
//! cores read immutable snapshots (`Arc<CatalogData>`).
//!
//! File layout: `magic "SHC1" | version u32 | crc32 u32 | len u64 | rkyv`
//! (little-endian; the CRC covers the rkyv bytes).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rkyv::{Archive, Deserialize, Serialize};

use crate::checksum::crc32;
use crate::error::{EngineError, Result};
use crate::limits::{CONSUMERS_PER_STREAM_MAX, STREAM_SHARDS_MAX};
use crate::model::{
    validate_consumer_name, validate_retention_hours, validate_stream_name, ShardDescription, StreamDescription,
    StreamStatus,
};
use crate::routing::HashKeyRange;
use crate::sequence::SequenceNumber;
use crate::storage::Storage;
use crate::throttle::ShardLimits;

const CATALOG_FILE: &str = "catalog.bin";
/// Where the streams' directories are, under the data directory.
const STREAMS_DIR: &str = "streams";
const CATALOG_MAGIC: [u8; 4] = *b"SHC1";
/// 2: streams carry their registered consumers.
/// 3: shards carry the times they opened and closed.
const CATALOG_VERSION: u32 = 3;
const CATALOG_HEADER_BYTES: usize = 4 + 4 + 4 + 8;

/// A shard as the catalog keeps it.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ShardMeta {
    pub index: u32,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    pub hash_start: u128,
    pub hash_end: u128,
    pub starting_counter: u64,
    /// One past the last record, once closed by a reshard.
    pub ending_counter: Option<u64>,
    /// When the shard opened: its stream's creation, or the reshard that
    /// made it.
    pub created_ms: u64,
    /// When the reshard that closed it ran.
    pub closed_ms: Option<u64>,
}

impl ShardMeta {
    /// The shards of a new stream: `count` open shards splitting the hash
    /// key space evenly, with no parents, opened at `now_ms`.
    pub fn initial(count: u32, now_ms: u64) -> Vec<ShardMeta> {
        HashKeyRange::even_split(count)
            .into_iter()
            .enumerate()
            .map(|(i, r)| ShardMeta {
                index: i as u32,
                parent: None,
                adjacent_parent: None,
                hash_start: r.start,
                hash_end: r.end,
                starting_counter: 0,
                ending_counter: None,
                created_ms: now_ms,
                closed_ms: None,
            })
            .collect()
    }

    pub fn range(&self) -> HashKeyRange {
        HashKeyRange { start: self.hash_start, end: self.hash_end }
    }

    pub fn is_open(&self) -> bool {
        self.ending_counter.is_none()
    }
}

/// A stream as the catalog keeps it.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StreamMeta {
    pub name: String,
    /// Unique per creation: a re-created stream of the same name is a
    /// different stream (its own directory, tag and sequence numbers).
    pub incarnation: u64,
    /// [`stream_tag`] of the name and incarnation, kept so the hot path
    /// does not hash per record.
    pub tag: u32,
    pub retention_hours: u32,
    pub created_ms: u64,
    /// Throughput limits of each shard.
    pub limits: ShardLimits,
    pub shards: Vec<ShardMeta>,
    /// Registered enhanced fan-out consumers.
    pub consumers: Vec<ConsumerMeta>,
}

/// A registered enhanced fan-out consumer.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ConsumerMeta {
    pub name: String,
    pub created_ms: u64,
}

impl ConsumerMeta {
    /// The consumer's ARN-like name: unique for this registration (a
    /// consumer registered again under the same name gets a new one, as
    /// registrations get distinct creation times; see
    /// [`Catalog::register_consumer`]).
    pub fn arn(&self, stream: &str) -> String {
        format!("arn:shoal:stream/{stream}/consumer/{}:{}", self.name, self.created_ms)
    }
}

impl StreamMeta {
    /// The 32-bit tag carried in this stream's sequence numbers.
    pub fn tag(&self) -> u32 {
        self.tag
    }

    pub fn retention_ms(&self) -> u64 {
        self.retention_hours as u64 * 3_600_000
    }

    pub fn shard(&self, index: u32) -> Option<&ShardMeta> {
        self.shards.get(index as usize).filter(|s| s.index == index)
    }

    /// The open shard whose range holds `hash_key`.
    pub fn route(&self, hash_key: u128) -> Option<&ShardMeta> {
        self.shards.iter().find(|s| s.is_open() && s.range().contains(hash_key))
    }

    /// The only open shard, when there is exactly one: it covers every
    /// hash key, so routing needs no hashing.
    pub fn sole_open_shard(&self) -> Option<&ShardMeta> {
        let mut open = self.shards.iter().filter(|s| s.is_open());
        match (open.next(), open.next()) {
            (Some(s), None) => Some(s),
            _ => None,
        }
    }

    /// Directory of this stream under the data directory.
    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(STREAMS_DIR).join(format!("{}.{}", self.name, self.incarnation))
    }

    pub fn shard_dir(&self, data_dir: &Path, index: u32) -> PathBuf {
        self.dir(data_dir).join(format!("shard-{index:012}"))
    }

    pub fn describe(&self) -> StreamDescription {
        let tag = self.tag();
        StreamDescription {
            name: self.name.clone(),
            status: StreamStatus::Active,
            retention_hours: self.retention_hours,
            created_ms: self.created_ms,
            shards: self
                .shards
                .iter()
                .map(|s| ShardDescription {
                    shard_index: s.index,
                    parent: s.parent,
                    adjacent_parent: s.adjacent_parent,
                    hash_key_range: s.range(),
                    starting_sequence_number: SequenceNumber::new(s.starting_counter, tag, s.index),
                    ending_sequence_number: s
                        .ending_counter
                        .map(|e| SequenceNumber::new(e.saturating_sub(1).max(s.starting_counter), tag, s.index)),
                    created_ms: s.created_ms,
                    closed_ms: s.closed_ms,
                })
                .collect(),
        }
    }
}

/// The stream tag: 32 bits of xxh3 over the name and incarnation.
pub fn stream_tag(name: &str, incarnation: u64) -> u32 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(name.as_bytes());
    h.update(&incarnation.to_le_bytes());
    h.digest() as u32
}

/// The persisted state.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct CatalogData {
    pub next_incarnation: u64,
    pub streams: Vec<StreamMeta>,
}

impl CatalogData {
    pub fn stream(&self, name: &str) -> Result<&StreamMeta> {
        self.streams
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| EngineError::NotFound(format!("Stream {name} not found.")))
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        let body = rkyv::to_bytes::<rkyv::rancor::Error>(self)
            .map_err(|e| EngineError::InvalidArgument(format!("catalog encoding failed: {e}")))?;
        let mut out = Vec::with_capacity(CATALOG_HEADER_BYTES + body.len());
        out.extend_from_slice(&CATALOG_MAGIC);
        out.extend_from_slice(&CATALOG_VERSION.to_le_bytes());
        out.extend_from_slice(&crc32(&body).to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        let header = bytes.get(..CATALOG_HEADER_BYTES).ok_or("file shorter than its header")?;
        if header[..4] != CATALOG_MAGIC {
            return Err("bad magic".into());
        }
        let word = |at: usize| u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
        if word(4) != CATALOG_VERSION {
            return Err(format!("unsupported version {}", word(4)));
        }
        let crc = word(8);
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&header[12..20]);
        let len = u64::from_le_bytes(len_bytes);
        let body = &bytes[CATALOG_HEADER_BYTES..];
        if body.len() as u64 != len {
            return Err(format!("body is {} bytes, header says {len}", body.len()));
        }
        if crc32(body) != crc {
            return Err("CRC mismatch".into());
        }
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(body.len());
        aligned.extend_from_slice(body);
        rkyv::from_bytes::<CatalogData, rkyv::rancor::Error>(&aligned).map_err(|e| e.to_string())
    }
}

/// The catalog of one engine: the current snapshot and where it lives.
pub struct Catalog<S: Storage> {
    storage: S,
    data_dir: PathBuf,
    data: Arc<CatalogData>,
    /// The latest consumer creation time handed out: registrations get
    /// strictly later ones, so even a consumer deregistered and registered
    /// again within a millisecond gets a new ARN.
    last_consumer_created_ms: u64,
}

impl<S: Storage> Catalog<S> {
    /// The same catalog, written through `storage` from now on.
    pub fn with_storage(self, storage: S) -> Self {
        Self { storage, ..self }
    }

    /// Loads the catalog, or starts an empty one if there is none.
    pub async fn load(storage: S, data_dir: PathBuf) -> Result<Self> {
        storage.create_dir_all(&data_dir).await?;
        let path = data_dir.join(CATALOG_FILE);
        let data = match storage.read_file(&path).await? {
            None => {
                // Stream files without a catalog: the catalog was lost, not
                // never written. Starting empty would treat every stream as
                // deleted and remove its files (see `sweep_orphans`).
                let streams = storage.list_dir(&data_dir.join(STREAMS_DIR)).await?;
                if let Some(first) = streams.first() {
                    return Err(EngineError::DataDir(format!(
                        "{} has no {CATALOG_FILE} but holds stream files ({}/{first} and {} more): the catalog \
                         is missing, so nothing is opened or removed; restore {CATALOG_FILE}, or move {STREAMS_DIR}/ \
                         away to start empty",
                        data_dir.display(),
                        STREAMS_DIR,
                        streams.len() - 1
                    )));
                }
                CatalogData::default()
            }
            Some(bytes) => CatalogData::decode(&bytes).map_err(|detail| EngineError::Corrupt {
                shard: "-".into(),
                segment: path.display().to_string(),
                offset: 0,
                detail: format!("catalog unreadable: {detail}"),
            })?,
        };
        let last_consumer_created_ms =
            data.streams.iter().flat_map(|s| &s.consumers).map(|c| c.created_ms).max().unwrap_or(0);
        Ok(Self { storage, data_dir, data: Arc::new(data), last_consumer_created_ms })
    }

    pub fn snapshot(&self) -> Arc<CatalogData> {
        self.data.clone()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    async fn persist(&mut self, next: CatalogData) -> Result<()> {
        let bytes = next.encode()?;
        self.storage.write_file_atomic(&self.data_dir.join(CATALOG_FILE), &bytes).await?;
        self.data = Arc::new(next);
        Ok(())
    }

    /// Adds a stream of `shard_count` shards splitting the key space evenly.
    /// The caller resolves an unset retention to its configured default
    /// ([`crate::EngineConfig::default_retention_hours`]).
    pub async fn create_stream(
        &mut self,
        name: &str,
        shard_count: u32,
        retention_hours: u32,
        limits: ShardLimits,
        now_ms: u64,
    ) -> Result<StreamMeta> {
        validate_stream_name(name)?;
        if shard_count == 0 {
            return Err(EngineError::InvalidArgument("a stream needs at least one shard".into()));
        }
        self.check_shard_quota(shard_count as usize)?;
        validate_retention_hours(retention_hours)?;
        if self.data.streams.iter().any(|s| s.name == name) {
            return Err(EngineError::InUse(format!("Stream {name} already exists.")));
        }
        let mut next = (*self.data).clone();
        let incarnation = next.next_incarnation;
        next.next_incarnation += 1;
        let shards = ShardMeta::initial(shard_count, now_ms);
        let stream = StreamMeta {
            name: name.to_owned(),
            incarnation,
            tag: stream_tag(name, incarnation),
            retention_hours,
            created_ms: now_ms,
            limits,
            shards,
            consumers: Vec::new(),
        };
        next.streams.push(stream.clone());
        self.persist(next).await?;
        tracing::info!(stream = name, shards = shard_count, retention_hours, "stream created");
        Ok(stream)
    }

    /// Removes a stream from the catalog; its files are deleted afterwards
    /// by whoever owns its shards (and, after a crash, by the orphan sweep).
    pub async fn delete_stream(&mut self, name: &str) -> Result<StreamMeta> {
        let stream = self.data.stream(name)?.clone();
        let mut next = (*self.data).clone();
        next.streams.retain(|s| s.name != name);
        self.persist(next).await?;
        tracing::info!(stream = name, "stream deleted");
        Ok(stream)
    }

    /// Changes one stream's entry with `f` and persists the result (all or
    /// nothing).
    pub async fn update_stream(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut StreamMeta) -> Result<()>,
    ) -> Result<StreamMeta> {
        let mut next = (*self.data).clone();
        let stream = next
            .streams
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| EngineError::NotFound(format!("Stream {name} not found.")))?;
        f(stream)?;
        let updated = stream.clone();
        self.persist(next).await?;
        Ok(updated)
    }

    /// LimitExceeded if `additional` more open shards would pass the quota.
    pub fn check_shard_quota(&self, additional: usize) -> Result<()> {
        let open: u64 = self.data.streams.iter().map(|s| s.shards.iter().filter(|s| s.is_open()).count() as u64).sum();
        if open + additional as u64 > STREAM_SHARDS_MAX as u64 {
            return Err(EngineError::LimitExceeded(format!(
                "This request would exceed the shard limit. Current shard count: {open}. Limit: {STREAM_SHARDS_MAX}. \
                 Number of additional shards that would have resulted from this request: {additional}."
            )));
        }
        Ok(())
    }

    /// RegisterStreamConsumer: at most [`CONSUMERS_PER_STREAM_MAX`] per
    /// stream, names unique within a stream.
    pub async fn register_consumer(&mut self, stream: &str, name: &str, now_ms: u64) -> Result<ConsumerMeta> {
        validate_consumer_name(name)?;
        let created_ms = now_ms.max(self.last_consumer_created_ms + 1);
        self.last_consumer_created_ms = created_ms;
        let consumer = ConsumerMeta { name: name.to_owned(), created_ms };
        let created = consumer.clone();
        self.update_stream(stream, move |s| {
            if s.consumers.iter().any(|c| c.name == consumer.name) {
                return Err(EngineError::InUse(format!(
                    "Consumer {} under stream {} already exists.",
                    consumer.name, s.name
                )));
            }
            if s.consumers.len() >= CONSUMERS_PER_STREAM_MAX {
                return Err(EngineError::LimitExceeded(format!(
                    "Stream {} already has {CONSUMERS_PER_STREAM_MAX} registered consumers, the maximum.",
                    s.name
                )));
            }
            s.consumers.push(consumer);
            Ok(())
        })
        .await?;
        tracing::info!(stream, consumer = name, "consumer registered");
        Ok(created)
    }

    /// DeregisterStreamConsumer.
    pub async fn deregister_consumer(&mut self, stream: &str, name: &str) -> Result<()> {
        self.update_stream(stream, |s| {
            let before = s.consumers.len();
            s.consumers.retain(|c| c.name != name);
            if s.consumers.len() == before {
                return Err(EngineError::NotFound(format!("Consumer {name} under stream {} not found.", s.name)));
            }
            Ok(())
        })
        .await?;
        tracing::info!(stream, consumer = name, "consumer deregistered");
        Ok(())
    }

    /// Raises (`increase`) or lowers the retention period.
    pub async fn set_retention(&mut self, name: &str, hours: u32, increase: bool) -> Result<StreamMeta> {
        validate_retention_hours(hours)?;
        let current = self.data.stream(name)?.retention_hours;
        if increase && hours < current {
            return Err(EngineError::InvalidArgument(format!(
                "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing \
                 retention period ({current} hours). Use DecreaseRetentionPeriod API."
            )));
        }
        if !increase && hours > current {
            return Err(EngineError::InvalidArgument(format!(
                "Requested retention period ({hours} hours) for stream {name} can not be longer than existing \
                 retention period ({current} hours). Use IncreaseRetentionPeriod API."
            )));
        }
        let mut next = (*self.data).clone();
        let stream = next.streams.iter_mut().find(|s| s.name == name).expect("looked up above");
        stream.retention_hours = hours;
        let updated = stream.clone();
        self.persist(next).await?;
        tracing::info!(stream = name, retention_hours = hours, "retention changed");
        Ok(updated)
    }

    /// Deletes stream directories that no catalog entry owns (left by a
    /// crash between the catalog write and the file deletion).
    pub async fn sweep_orphans(&self) -> Result<usize> {
        let root = self.data_dir.join(STREAMS_DIR);
        let mut removed = 0;
        for name in self.storage.list_dir(&root).await? {
            let owned = self.data.streams.iter().any(|s| format!("{}.{}", s.name, s.incarnation) == name);
            if owned {
                continue;
            }
            // Only a directory this catalog once created (an incarnation it
            // has handed out) can be one it deleted; anything else is not
            // ours to remove.
            let incarnation = name.rsplit_once('.').and_then(|(_, n)| n.parse::<u64>().ok());
            if incarnation.is_none_or(|n| n >= self.data.next_incarnation) {
                tracing::warn!(dir = %name, "unknown directory under streams/ left alone (not created by this catalog)");
                continue;
            }
            tracing::info!(dir = %name, "removing files of a deleted stream");
            self.storage.remove_dir_all(&root.join(&name)).await?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// The core that owns a shard: shard `i` of a stream lives on core
/// `(stream tag + i) mod cores`, so a stream's shards spread over every core
/// and single-shard streams spread by their tags. Deterministic for a given
/// core count; any core can open any shard directory, so changing the core
/// count between runs is safe.
pub fn owning_core(stream_tag: u32, shard_index: u32, cores: usize) -> usize {
    assert!(cores > 0, "at least one core");
    ((stream_tag as u64 + shard_index as u64) % cores as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_damage() {
        let data = CatalogData {
            next_incarnation: 3,
            streams: vec![StreamMeta {
                name: "s".into(),
                incarnation: 2,
                tag: stream_tag("s", 2),
                retention_hours: 24,
                created_ms: 5,
                limits: ShardLimits::KINESIS,
                consumers: vec![ConsumerMeta { name: "c".into(), created_ms: 7 }],
                shards: vec![ShardMeta {
                    index: 0,
                    parent: None,
                    adjacent_parent: Some(1),
                    hash_start: 0,
                    hash_end: u128::MAX,
                    starting_counter: 9,
                    ending_counter: Some(12),
                    created_ms: 5,
                    closed_ms: Some(11),
                }],
            }],
        };
        let bytes = data.encode().expect("encodes");
        assert_eq!(CatalogData::decode(&bytes), Ok(data));
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(CatalogData::decode(&bad).is_err());
        assert!(CatalogData::decode(&bytes[..10]).is_err());
    }

    #[test]
    fn placement_spreads_shards() {
        let cores: Vec<usize> = (0..4).map(|i| owning_core(7, i, 2)).collect();
        assert_eq!(cores, vec![1, 0, 1, 0]);
        assert_eq!(owning_core(u32::MAX, u32::MAX, 3), ((u32::MAX as u64 * 2) % 3) as usize);
    }
}
