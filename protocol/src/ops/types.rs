//! Types shared by several operations: stream status, durability, shards.

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, WireError};

wire_enum! {
    /// A stream's lifecycle state.
    pub enum StreamStatus : "status" {
        Creating = 1 => "CREATING",
        Active = 2 => "ACTIVE",
        Updating = 3 => "UPDATING",
        Deleting = 4 => "DELETING",
    }
}

wire_enum! {
    /// How durable an acknowledged write is. Every write acknowledgement carries it, so no
    /// client can take a write the server has not synced for one that it has.
    pub enum Durability : "durability" {
        /// An fdatasync covering the record completed before the acknowledgement (the default).
        Synced = 1 => "SYNCED",
        /// The record was written but not synced: the server runs a faster, non-default mode,
        /// and a power loss may lose the record.
        Written = 2 => "WRITTEN",
    }
}

/// An inclusive range of 128-bit hash keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashKeyRange {
    pub start: u128,
    pub end: u128,
}

/// A shard as DescribeStream and ListShards return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// Rendered as `shardId-%012d` (see [`shard_id`]).
    pub index: u32,
    pub parent: Option<u32>,
    /// Set on the child of a merge: the other parent.
    pub adjacent_parent: Option<u32>,
    pub hash_key_range: HashKeyRange,
    pub starting_sequence_number: u128,
    /// Absent while the shard is open.
    pub ending_sequence_number: Option<u128>,
}

/// A child shard, returned by GetRecords at the end of a closed shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildShard {
    pub index: u32,
    pub parents: Vec<u32>,
    pub hash_key_range: HashKeyRange,
}

/// Encoded sizes of the smallest items, for bounding counts before allocating.
pub(crate) const SHARD_SIZE_BYTES_MIN: usize = 4 + 1 + 1 + 32 + 16 + 1;
pub(crate) const CHILD_SHARD_SIZE_BYTES_MIN: usize = 4 + 4 + 32;

/// The Kinesis shard id for a shard index: `shardId-000000000007`.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// The shard index in a shard id. Like Kinesis, any prefix before the last `-` is accepted
/// (`shardId-7`, `x-000000000007`); the part after it must be decimal digits.
pub fn parse_shard_id(id: &str) -> Option<u32> {
    let (_, digits) = id.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl WireEncode for HashKeyRange {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u128("hash_key_range.start", self.start);
        w.u128("hash_key_range.end", self.end);
        Ok(())
    }
}

impl WireDecode for HashKeyRange {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(HashKeyRange { start: r.u128("hash_key_range.start")?, end: r.u128("hash_key_range.end")? })
    }
}

impl WireEncode for Shard {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32("shard.index", self.index);
        w.opt_u32("shard.parent", self.parent);
        w.opt_u32("shard.adjacent_parent", self.adjacent_parent);
        self.hash_key_range.encode(w)?;
        w.u128("shard.starting_sequence_number", self.starting_sequence_number);
        w.opt_u128("shard.ending_sequence_number", self.ending_sequence_number);
        Ok(())
    }
}

impl WireDecode for Shard {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Shard {
            index: r.u32("shard.index")?,
            parent: r.opt_u32("shard.parent")?,
            adjacent_parent: r.opt_u32("shard.adjacent_parent")?,
            hash_key_range: HashKeyRange::decode(r)?,
            starting_sequence_number: r.u128("shard.starting_sequence_number")?,
            ending_sequence_number: r.opt_u128("shard.ending_sequence_number")?,
        })
    }
}

impl WireEncode for ChildShard {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32("child_shard.index", self.index);
        w.array_of("child_shard.parents", &self.parents, |w, p| {
            w.u32("child_shard.parent", *p);
            Ok(())
        })?;
        self.hash_key_range.encode(w)
    }
}

impl WireDecode for ChildShard {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ChildShard {
            index: r.u32("child_shard.index")?,
            parents: r.array_of("child_shard.parents", 4, |r| r.u32("child_shard.parent"))?,
            hash_key_range: HashKeyRange::decode(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ids_render_and_parse() {
        assert_eq!(shard_id(7), "shardId-000000000007");
        assert_eq!(shard_id(u32::MAX), "shardId-004294967295");
        assert_eq!(parse_shard_id("shardId-000000000007"), Some(7));
        assert_eq!(parse_shard_id("anything-12"), Some(12));
        assert_eq!(parse_shard_id("shardId-"), None);
        assert_eq!(parse_shard_id("shardId-1x"), None);
        assert_eq!(parse_shard_id("shardId-+1"), None);
        assert_eq!(parse_shard_id("7"), None);
        assert_eq!(parse_shard_id("shardId-99999999999"), None);
    }
}
