//! Resharding: SplitShard (0x0020), MergeShards (0x0021) and UpdateShardCount (0x0022).
//!
//! A reshard closes its parent shards (each gets an ending sequence number, new writes go to
//! the children at once, old records stay readable) and adds children with the next unused
//! shard indexes, all in one atomic step. The wire format only carries the request: whether a
//! hash key lies inside the shard, whether two shards are adjacent, and whether a target shard
//! count is within half and double the current one depend on the stream, so the server checks
//! them (InvalidArgument, ResourceNotFound, LimitExceeded; see PROTOCOL.md §9.13–9.16).

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::validate;

wire_enum! {
    /// How UpdateShardCount reaches its target.
    pub enum ScalingType : "scaling_type" {
        /// The open shards end up splitting the hash key space evenly.
        UniformScaling = 1 => "UNIFORM_SCALING",
    }
}

/// Splits one open shard in two at `new_starting_hash_key`: the children cover
/// `[start, new_starting_hash_key − 1]` and `[new_starting_hash_key, end]` of the parent's range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitShard {
    pub stream_name: String,
    /// The shard to split (Kinesis' `ShardToSplit`), by index.
    pub shard: u32,
    /// The first hash key of the upper child. Must satisfy
    /// `start + 1 < new_starting_hash_key < end` for the parent's range (checked by the server).
    pub new_starting_hash_key: u128,
}

/// Merges two open shards whose hash key ranges are adjacent, `shard`'s range ending just
/// before `adjacent_shard`'s, into one child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeShards {
    pub stream_name: String,
    /// Kinesis' `ShardToMerge`: the lower of the two ranges; the child's `parent`.
    pub shard: u32,
    /// Kinesis' `AdjacentShardToMerge`: the upper range; the child's `adjacent_parent`.
    pub adjacent_shard: u32,
}

/// Brings the stream to `target_shard_count` open shards through splits and merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateShardCount {
    pub stream_name: String,
    /// 1..=100,000 (ValidationException); the server also requires it to be between half and
    /// double the current open shard count (InvalidArgument) and within its quota
    /// (LimitExceeded).
    pub target_shard_count: u32,
    pub scaling_type: ScalingType,
}

/// UpdateShardCount's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateShardCountOutput {
    pub stream_name: String,
    /// Open shards before the update.
    pub current_shard_count: u32,
    /// Open shards after the update.
    pub target_shard_count: u32,
}

impl SplitShard {
    pub fn new(stream_name: impl Into<String>, shard: u32, new_starting_hash_key: u128) -> SplitShard {
        SplitShard { stream_name: stream_name.into(), shard, new_starting_hash_key }
    }

    /// Only the stream name: the key's place in the shard's range is the server's to check.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)
    }
}

impl MergeShards {
    pub fn new(stream_name: impl Into<String>, shard: u32, adjacent_shard: u32) -> MergeShards {
        MergeShards { stream_name: stream_name.into(), shard, adjacent_shard }
    }

    /// Only the stream name: adjacency is the server's to check.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)
    }
}

impl UpdateShardCount {
    /// Uniform scaling (the only scaling type) to `target_shard_count` open shards.
    pub fn new(stream_name: impl Into<String>, target_shard_count: u32) -> UpdateShardCount {
        UpdateShardCount {
            stream_name: stream_name.into(),
            target_shard_count,
            scaling_type: ScalingType::UniformScaling,
        }
    }

    /// The stream name and the target's absolute bounds; the half/double rule needs the stream.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        validate::shard_count("targetShardCount", self.target_shard_count)
    }
}

impl WireEncode for SplitShard {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.u32("shard", self.shard);
        w.u128("new_starting_hash_key", self.new_starting_hash_key);
        Ok(())
    }
}

impl WireDecode for SplitShard {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(SplitShard {
            stream_name: r.string("stream_name")?,
            shard: r.u32("shard")?,
            new_starting_hash_key: r.u128("new_starting_hash_key")?,
        })
    }
}

impl WireEncode for MergeShards {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.u32("shard", self.shard);
        w.u32("adjacent_shard", self.adjacent_shard);
        Ok(())
    }
}

impl WireDecode for MergeShards {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(MergeShards {
            stream_name: r.string("stream_name")?,
            shard: r.u32("shard")?,
            adjacent_shard: r.u32("adjacent_shard")?,
        })
    }
}

impl WireEncode for UpdateShardCount {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.u32("target_shard_count", self.target_shard_count);
        self.scaling_type.encode(w)
    }
}

impl WireDecode for UpdateShardCount {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(UpdateShardCount {
            stream_name: r.string("stream_name")?,
            target_shard_count: r.u32("target_shard_count")?,
            scaling_type: ScalingType::decode(r)?,
        })
    }
}

impl WireEncode for UpdateShardCountOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.u32("current_shard_count", self.current_shard_count);
        w.u32("target_shard_count", self.target_shard_count);
        Ok(())
    }
}

impl WireDecode for UpdateShardCountOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(UpdateShardCountOutput {
            stream_name: r.string("stream_name")?,
            current_shard_count: r.u32("current_shard_count")?,
            target_shard_count: r.u32("target_shard_count")?,
        })
    }
}
