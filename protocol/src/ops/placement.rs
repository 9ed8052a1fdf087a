//! DescribePlacement (0x0009): which server core owns each shard of a stream.
//!
//! Not a Kinesis operation. The server serves a connection on one core and forwards requests
//! for shards that another core owns; a client that knows the placement can send each shard's
//! requests on a connection served by its owner and skip that forward (PROTOCOL.md §9.8).

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::validate;

/// The core that serves a connection from client port `client_port` on a server running
/// `cores` cores (PROTOCOL.md §3.4): a multiplicative hash of the port, so that ports an
/// operating system hands out in a pattern (Linux gives `connect()` odd ports, often one
/// after another) still spread over all cores.
pub fn serving_core(client_port: u16, cores: u16) -> u16 {
    assert!(cores > 0, "a server runs at least one core");
    let mixed = u32::from(client_port).wrapping_mul(SERVING_CORE_MULTIPLIER) >> 16;
    (mixed % u32::from(cores)) as u16
}

/// Knuth's multiplicative-hash constant: 2^32 divided by the golden ratio.
const SERVING_CORE_MULTIPLIER: u32 = 0x9E37_79B1;

/// Asks where a stream's shards live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribePlacement {
    pub stream_name: String,
}

/// DescribePlacement's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribePlacementOutput {
    /// How many cores the server runs: a connection from local port `p` is served by core
    /// [`serving_core`]`(p, cores)`.
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

#[cfg(test)]
mod serving_core_tests {
    use super::serving_core;

    /// The values PROTOCOL.md §3.4 gives as examples.
    #[test]
    fn documented_examples() {
        assert_eq!(serving_core(40001, 2), 1);
        assert_eq!(serving_core(40003, 2), 0);
        assert_eq!(serving_core(40001, 3), 2);
        assert_eq!(serving_core(51234, 4), 0);
    }

    #[test]
    fn odd_ports_one_after_another_spread_over_the_cores() {
        for cores in [2u16, 3, 4, 8] {
            let mut counts = vec![0u32; usize::from(cores)];
            (32769..=60999u16).step_by(2).for_each(|p| counts[usize::from(serving_core(p, cores))] += 1);
            let (min, max) = (counts.iter().min().copied(), counts.iter().max().copied());
            assert!(max.zip(min).is_some_and(|(max, min)| max - min <= 10), "{cores} cores: {counts:?}");
        }
    }
}
