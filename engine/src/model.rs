//! The data model: streams, shards and records, and their validation rules
//! (Kinesis semantics; see `../shared/kinesis-reference.md`).

use bytes::Bytes;

use crate::error::{EngineError, Result};
use crate::limits::*;
use crate::routing::HashKeyRange;
use crate::sequence::SequenceNumber;

/// A record as a producer hands it in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordInput {
    pub partition_key: String,
    /// Overrides the MD5 of the partition key for routing.
    pub explicit_hash_key: Option<u128>,
    pub data: Bytes,
}

impl RecordInput {
    pub fn new(partition_key: impl Into<String>, data: impl Into<Bytes>) -> Self {
        Self { partition_key: partition_key.into(), explicit_hash_key: None, data: data.into() }
    }

    /// Bytes counted against size limits (key + data, as Kinesis counts).
    pub fn size_bytes(&self) -> usize {
        self.partition_key.len() + self.data.len()
    }

    pub fn validate(&self) -> Result<()> {
        validate_partition_key(&self.partition_key)?;
        if self.data.len() > RECORD_DATA_BYTES_MAX {
            return Err(EngineError::InvalidArgument(format!(
                "record data is {} bytes; the maximum is {RECORD_DATA_BYTES_MAX} bytes",
                self.data.len()
            )));
        }
        if self.size_bytes() > RECORD_BYTES_MAX {
            return Err(EngineError::InvalidArgument(format!(
                "record data plus partition key is {} bytes; the maximum is {RECORD_BYTES_MAX} bytes",
                self.size_bytes()
            )));
        }
        Ok(())
    }
}

/// A stored record as a reader gets it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub sequence_number: SequenceNumber,
    /// Server time in ms when the record was accepted; non-decreasing
    /// within a shard.
    pub arrival_ms: u64,
    pub partition_key: Bytes,
    pub data: Bytes,
}

impl Record {
    pub fn partition_key_str(&self) -> &str {
        // Keys are validated UTF-8 on the way in and CRC-checked on the way
        // out, so this cannot fail for a record the engine returned.
        std::str::from_utf8(&self.partition_key).unwrap_or("")
    }
}

/// Lifecycle of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    Active,
    Updating,
    Deleting,
}

/// A shard's description, as DescribeStream/ListShards show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardDescription {
    pub shard_index: u32,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    pub hash_key_range: HashKeyRange,
    pub starting_sequence_number: SequenceNumber,
    /// Set once the shard is closed by a reshard.
    pub ending_sequence_number: Option<SequenceNumber>,
    /// When the shard opened (ms since the Unix epoch).
    pub created_ms: u64,
    /// When a reshard closed it.
    pub closed_ms: Option<u64>,
}

impl ShardDescription {
    pub fn shard_id(&self) -> String {
        shard_id(self.shard_index)
    }

    pub fn is_open(&self) -> bool {
        self.ending_sequence_number.is_none()
    }

    /// Open at `ts_ms`: opened at or before it and not yet closed. A shard
    /// closed at exactly `ts_ms` is not open then; its children, opened
    /// by the same reshard, are, so the open shards at any instant tile
    /// the hash key space once.
    pub fn is_open_at(&self, ts_ms: u64) -> bool {
        self.created_ms <= ts_ms && self.is_open_at_or_after(ts_ms)
    }

    /// Open at `ts_ms` or at some time after it: not closed by `ts_ms`.
    pub fn is_open_at_or_after(&self, ts_ms: u64) -> bool {
        self.closed_ms.is_none_or(|closed| closed > ts_ms)
    }
}

/// A stream's description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamDescription {
    pub name: String,
    pub status: StreamStatus,
    pub retention_hours: u32,
    pub created_ms: u64,
    pub shards: Vec<ShardDescription>,
}

/// The Kinesis form of a shard id: `shardId-` and 12 zero-padded digits.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Accepts `shardId-000000000003` and also any `prefix-N` (as AWS does) or a
/// bare number.
pub fn parse_shard_id(s: &str) -> Option<u32> {
    let digits = s.rsplit('-').next().unwrap_or(s);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Stream names: 1..=128 chars of `[a-zA-Z0-9_.-]`.
pub fn validate_stream_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > STREAM_NAME_CHARS_MAX {
        return Err(EngineError::InvalidArgument(format!(
            "stream name must be 1 to {STREAM_NAME_CHARS_MAX} characters long, got {}",
            name.chars().count()
        )));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(EngineError::InvalidArgument(format!(
            "stream name {name:?} contains {c:?}; allowed characters are [a-zA-Z0-9_.-]"
        )));
    }
    Ok(())
}

/// Consumer names follow the stream-name rules.
pub fn validate_consumer_name(name: &str) -> Result<()> {
    validate_stream_name(name).map_err(|_| {
        EngineError::InvalidArgument(format!(
            "consumer name {name:?} must be 1 to {STREAM_NAME_CHARS_MAX} characters of [a-zA-Z0-9_.-]"
        ))
    })
}

/// Partition keys: 1..=256 Unicode characters.
pub fn validate_partition_key(key: &str) -> Result<()> {
    let chars = key.chars().count();
    if chars == 0 || chars > PARTITION_KEY_CHARS_MAX {
        return Err(EngineError::InvalidArgument(format!(
            "partition key must be 1 to {PARTITION_KEY_CHARS_MAX} characters long, got {chars}"
        )));
    }
    Ok(())
}

pub fn validate_retention_hours(hours: u32) -> Result<()> {
    if !(RETENTION_HOURS_MIN..=RETENTION_HOURS_MAX).contains(&hours) {
        return Err(EngineError::InvalidArgument(format!(
            "retention period {hours} hours is outside the allowed range \
             {RETENTION_HOURS_MIN}..={RETENTION_HOURS_MAX} hours"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        for ok in ["a", "my-stream_1.x", &"x".repeat(128)] {
            assert!(validate_stream_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "ü", "a/b", &"x".repeat(129)] {
            assert!(validate_stream_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partition_keys_count_characters_not_bytes() {
        assert!(validate_partition_key(&"ü".repeat(256)).is_ok());
        assert!(validate_partition_key(&"ü".repeat(257)).is_err());
        assert!(validate_partition_key("").is_err());
    }

    #[test]
    fn shard_ids() {
        assert_eq!(shard_id(3), "shardId-000000000003");
        assert_eq!(parse_shard_id("shardId-000000000003"), Some(3));
        assert_eq!(parse_shard_id("anything-12"), Some(12));
        assert_eq!(parse_shard_id("7"), Some(7));
        assert_eq!(parse_shard_id("shardId-"), None);
        assert_eq!(parse_shard_id("shardId-x"), None);
    }

    #[test]
    fn retention_bounds() {
        assert!(validate_retention_hours(24).is_ok());
        assert!(validate_retention_hours(8760).is_ok());
        assert!(validate_retention_hours(23).is_err());
        assert!(validate_retention_hours(8761).is_err());
    }
}
