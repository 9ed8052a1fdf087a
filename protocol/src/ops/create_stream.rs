//! CreateStream (0x0001): request body; the response body is empty.

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::validate;

/// Creates a stream with `shard_count` shards splitting the hash key space evenly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateStream {
    pub stream_name: String,
    pub shard_count: u32,
    /// Absent: the server's default (24 hours).
    pub retention_hours: Option<u32>,
    /// Absent: the server's defaults (Kinesis: 1 MiB/s and 1000 records/s in, 2 MiB/s and
    /// 5 calls/s out, per shard).
    pub shard_limits: Option<ShardLimits>,
}

/// Per-shard throughput limits. Exceeding one answers ProvisionedThroughputExceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardLimits {
    pub write_bytes_per_second: u32,
    pub write_records_per_second: u32,
    pub read_bytes_per_second: u32,
    pub read_calls_per_second: u32,
}

impl CreateStream {
    /// A stream of `shard_count` shards with the server's default retention and limits.
    pub fn new(stream_name: impl Into<String>, shard_count: u32) -> CreateStream {
        CreateStream { stream_name: stream_name.into(), shard_count, retention_hours: None, shard_limits: None }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        validate::shard_count("shardCount", self.shard_count)?;
        if let Some(hours) = self.retention_hours {
            validate::retention_hours(hours)?;
        }
        if let Some(limits) = &self.shard_limits {
            validate::range("shardLimits.writeBytesPerSecond", limits.write_bytes_per_second, 1, u32::MAX)?;
            validate::range("shardLimits.writeRecordsPerSecond", limits.write_records_per_second, 1, u32::MAX)?;
            validate::range("shardLimits.readBytesPerSecond", limits.read_bytes_per_second, 1, u32::MAX)?;
            validate::range("shardLimits.readCallsPerSecond", limits.read_calls_per_second, 1, u32::MAX)?;
        }
        Ok(())
    }
}

impl WireEncode for CreateStream {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.u32("shard_count", self.shard_count);
        w.opt_u32("retention_hours", self.retention_hours);
        w.option("shard_limits", self.shard_limits.as_ref(), |w, limits| {
            w.u32("shard_limits.write_bytes_per_second", limits.write_bytes_per_second);
            w.u32("shard_limits.write_records_per_second", limits.write_records_per_second);
            w.u32("shard_limits.read_bytes_per_second", limits.read_bytes_per_second);
            w.u32("shard_limits.read_calls_per_second", limits.read_calls_per_second);
            Ok(())
        })
    }
}

impl WireDecode for CreateStream {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(CreateStream {
            stream_name: r.string("stream_name")?,
            shard_count: r.u32("shard_count")?,
            retention_hours: r.opt_u32("retention_hours")?,
            shard_limits: r.option("shard_limits", |r| {
                Ok(ShardLimits {
                    write_bytes_per_second: r.u32("shard_limits.write_bytes_per_second")?,
                    write_records_per_second: r.u32("shard_limits.write_records_per_second")?,
                    read_bytes_per_second: r.u32("shard_limits.read_bytes_per_second")?,
                    read_calls_per_second: r.u32("shard_limits.read_calls_per_second")?,
                })
            })?,
        })
    }
}
