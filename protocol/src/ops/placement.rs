//! DescribePlacement (0x0009): which server core owns each shard of a stream.
//!
//! Not a Kinesis operation. The server serves a connection on one core and forwards requests
//! for shards that another core owns; a client that knows the placement can send each shard's
//! requests on a connection served by its owner and skip that forward (PROTOCOL.md §9.8).

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::validate;

/// Asks where a stream's shards live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribePlacement {
    pub stream_name: String,
}

/// DescribePlacement's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribePlacementOutput {
    /// How many cores the server runs: a connection from local port `p` is served by core
    /// `p mod cores`.
    pub cores: u16,
    /// The core serving the connection the request came on.
    pub connection_core: u16,
    /// Every shard ListShards lists with its default filter (open and closed, not expired), in
    /// shard index order.
    pub shards: Vec<ShardPlacement>,
}

/// The core that owns one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShardPlacement {
    /// The shard index.
    pub shard: u32,
    /// The owning core, below [`DescribePlacementOutput::cores`].
    pub core: u16,
}

/// Shard index and core: sizes bound the decoded count before allocating.
pub(crate) const SHARD_PLACEMENT_SIZE_BYTES_MIN: usize = 4 + 2;

impl DescribePlacement {
    pub fn new(stream_name: impl Into<String>) -> DescribePlacement {
        DescribePlacement { stream_name: stream_name.into() }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)
    }
}

impl WireEncode for DescribePlacement {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)
    }
}

impl WireDecode for DescribePlacement {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(DescribePlacement { stream_name: r.string("stream_name")? })
    }
}

impl WireEncode for DescribePlacementOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16("cores", self.cores);
        w.u16("connection_core", self.connection_core);
        w.array_of("shards", &self.shards, |w, placement| {
            w.u32("shards[].shard", placement.shard);
            w.u16("shards[].core", placement.core);
            Ok(())
        })
    }
}

impl WireDecode for DescribePlacementOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(DescribePlacementOutput {
            cores: r.u16("cores")?,
            connection_core: r.u16("connection_core")?,
            shards: r.array_of("shards", SHARD_PLACEMENT_SIZE_BYTES_MIN, |r| {
                Ok(ShardPlacement { shard: r.u32("shards[].shard")?, core: r.u16("shards[].core")? })
            })?,
        })
    }
}
