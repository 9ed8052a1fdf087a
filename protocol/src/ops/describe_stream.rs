//! DescribeStream (0x0003) and DescribeStreamSummary (0x0004).

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::limits::{DESCRIBE_STREAM_LIMIT_MAX, DESCRIBE_STREAM_LIMIT_MIN};
use crate::ops::types::{Shard, StreamStatus, SHARD_SIZE_BYTES_MIN};
use crate::validate;

/// Describes a stream and a page of its shards (at most 100 per response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeStream {
    pub stream_name: String,
    /// Shards wanted, 1..=10,000; absent: as many as one response carries.
    pub limit: Option<u32>,
    /// Start after this shard index (paging).
    pub exclusive_start_shard: Option<u32>,
}

/// Describes a stream without its shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeStreamSummary {
    pub stream_name: String,
}

/// DescribeStream's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDescription {
    pub stream_name: String,
    pub status: StreamStatus,
    pub retention_hours: u32,
    pub creation_timestamp_ms: u64,
    pub shards: Vec<Shard>,
    pub has_more_shards: bool,
}

/// DescribeStreamSummary's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDescriptionSummary {
    pub stream_name: String,
    pub status: StreamStatus,
    pub retention_hours: u32,
    pub creation_timestamp_ms: u64,
    pub open_shard_count: u32,
    pub consumer_count: u32,
}

impl DescribeStream {
    /// The first page of the stream's shards.
    pub fn new(stream_name: impl Into<String>) -> DescribeStream {
        DescribeStream { stream_name: stream_name.into(), limit: None, exclusive_start_shard: None }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        if let Some(limit) = self.limit {
            validate::range("limit", limit, DESCRIBE_STREAM_LIMIT_MIN, DESCRIBE_STREAM_LIMIT_MAX)?;
        }
        Ok(())
    }
}

impl DescribeStreamSummary {
    pub fn new(stream_name: impl Into<String>) -> DescribeStreamSummary {
        DescribeStreamSummary { stream_name: stream_name.into() }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)
    }
}

impl WireEncode for DescribeStream {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.opt_u32("limit", self.limit);
        w.opt_u32("exclusive_start_shard", self.exclusive_start_shard);
        Ok(())
    }
}

impl WireDecode for DescribeStream {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(DescribeStream {
            stream_name: r.string("stream_name")?,
            limit: r.opt_u32("limit")?,
            exclusive_start_shard: r.opt_u32("exclusive_start_shard")?,
        })
    }
}

impl WireEncode for DescribeStreamSummary {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)
    }
}

impl WireDecode for DescribeStreamSummary {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(DescribeStreamSummary { stream_name: r.string("stream_name")? })
    }
}

impl WireEncode for StreamDescription {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        self.status.encode(w)?;
        w.u32("retention_hours", self.retention_hours);
        w.u64("creation_timestamp_ms", self.creation_timestamp_ms);
        w.array_of("shards", &self.shards, |w, shard| shard.encode(w))?;
        w.bool("has_more_shards", self.has_more_shards);
        Ok(())
    }
}

impl WireDecode for StreamDescription {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(StreamDescription {
            stream_name: r.string("stream_name")?,
            status: StreamStatus::decode(r)?,
            retention_hours: r.u32("retention_hours")?,
            creation_timestamp_ms: r.u64("creation_timestamp_ms")?,
            shards: r.array_of("shards", SHARD_SIZE_BYTES_MIN, Shard::decode)?,
            has_more_shards: r.bool("has_more_shards")?,
        })
    }
}

impl WireEncode for StreamDescriptionSummary {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        self.status.encode(w)?;
        w.u32("retention_hours", self.retention_hours);
        w.u64("creation_timestamp_ms", self.creation_timestamp_ms);
        w.u32("open_shard_count", self.open_shard_count);
        w.u32("consumer_count", self.consumer_count);
        Ok(())
    }
}

impl WireDecode for StreamDescriptionSummary {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(StreamDescriptionSummary {
            stream_name: r.string("stream_name")?,
            status: StreamStatus::decode(r)?,
            retention_hours: r.u32("retention_hours")?,
            creation_timestamp_ms: r.u64("creation_timestamp_ms")?,
            open_shard_count: r.u32("open_shard_count")?,
            consumer_count: r.u32("consumer_count")?,
        })
    }
}
