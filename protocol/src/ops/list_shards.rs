//! ListShards (0x0006).

use bytes::Bytes;

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::limits::{LIST_SHARDS_MAX_RESULTS_MAX, LIST_SHARDS_MAX_RESULTS_MIN};
use crate::ops::types::{Shard, SHARD_SIZE_BYTES_MIN};
use crate::validate;

/// Lists a stream's shards, a page at a time (at most 1000 per response). The first call names
/// the stream; later calls pass only the previous response's `next_token` (Kinesis' rule:
/// exactly one of the two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListShards {
    pub stream_name: Option<String>,
    /// Opaque paging token from a previous response; it expires after 300 s.
    pub next_token: Option<Bytes>,
    pub exclusive_start_shard: Option<u32>,
    /// Shards wanted, 1..=10,000; absent: as many as one response carries.
    pub max_results: Option<u32>,
    pub shard_filter: Option<ShardFilter>,
}

wire_enum! {
    /// Which shards ListShards returns (Kinesis' ShardFilterType).
    pub enum ShardFilterType : "shard_filter.type" {
        /// Shards after `shard` (required).
        AfterShardId = 1 => "AFTER_SHARD_ID",
        /// Shards open at the trim horizon.
        AtTrimHorizon = 2 => "AT_TRIM_HORIZON",
        /// All shards from the trim horizon on (Kinesis' default).
        FromTrimHorizon = 3 => "FROM_TRIM_HORIZON",
        /// Open shards only.
        AtLatest = 4 => "AT_LATEST",
        /// Shards open at `timestamp_ms` (required).
        AtTimestamp = 5 => "AT_TIMESTAMP",
        /// Shards open at or after `timestamp_ms` (required).
        FromTimestamp = 6 => "FROM_TIMESTAMP",
    }
}

/// A ListShards filter; which optional fields are required depends on the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardFilter {
    pub filter_type: ShardFilterType,
    pub shard: Option<u32>,
    pub timestamp_ms: Option<u64>,
}

/// ListShards' response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListShardsOutput {
    pub shards: Vec<Shard>,
    /// Present when more shards remain.
    pub next_token: Option<Bytes>,
}

impl ListShards {
    /// The first page of a stream's shards, with the default filter.
    pub fn for_stream(stream_name: impl Into<String>) -> ListShards {
        ListShards {
            stream_name: Some(stream_name.into()),
            next_token: None,
            exclusive_start_shard: None,
            max_results: None,
            shard_filter: None,
        }
    }

    /// The page after the one that returned `next_token`.
    pub fn next_page(next_token: impl Into<Bytes>) -> ListShards {
        ListShards {
            stream_name: None,
            next_token: Some(next_token.into()),
            exclusive_start_shard: None,
            max_results: None,
            shard_filter: None,
        }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        match (&self.stream_name, &self.next_token) {
            (Some(_), Some(_)) => {
                return Err(validate::invalid_argument("NextToken and StreamName cannot be provided together."))
            }
            (None, None) => {
                return Err(validate::invalid_argument("Either NextToken or StreamName should be provided."))
            }
            (Some(name), None) => validate::stream_name("streamName", name)?,
            (None, Some(token)) => {
                validate::token("nextToken", token)?;
                if self.exclusive_start_shard.is_some() || self.shard_filter.is_some() {
                    return Err(validate::invalid_argument(
                        "NextToken cannot be provided together with ExclusiveStartShardId or ShardFilter.",
                    ));
                }
            }
        }
        if let Some(max_results) = self.max_results {
            validate::range("maxResults", max_results, LIST_SHARDS_MAX_RESULTS_MIN, LIST_SHARDS_MAX_RESULTS_MAX)?;
        }
        if let Some(filter) = &self.shard_filter {
            filter.validate()?;
        }
        Ok(())
    }
}

impl ShardFilter {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let name = self.filter_type.name();
        let (needs_shard, needs_timestamp) = match self.filter_type {
            ShardFilterType::AfterShardId => (true, false),
            ShardFilterType::AtTimestamp | ShardFilterType::FromTimestamp => (false, true),
            ShardFilterType::AtTrimHorizon | ShardFilterType::FromTrimHorizon | ShardFilterType::AtLatest => {
                (false, false)
            }
        };
        match (needs_shard, self.shard.is_some()) {
            (true, false) => {
                return Err(validate::invalid_argument(format!("ShardFilter type {name} requires a ShardId.")))
            }
            (false, true) => {
                return Err(validate::invalid_argument(format!("ShardFilter type {name} does not take a ShardId.")))
            }
            _ => {}
        }
        match (needs_timestamp, self.timestamp_ms.is_some()) {
            (true, false) => Err(validate::invalid_argument(format!("ShardFilter type {name} requires a Timestamp."))),
            (false, true) => {
                Err(validate::invalid_argument(format!("ShardFilter type {name} does not take a Timestamp.")))
            }
            _ => Ok(()),
        }
    }
}

impl WireEncode for ListShards {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.opt_string("stream_name", self.stream_name.as_deref())?;
        w.opt_blob("next_token", self.next_token.as_deref())?;
        w.opt_u32("exclusive_start_shard", self.exclusive_start_shard);
        w.opt_u32("max_results", self.max_results);
        w.option("shard_filter", self.shard_filter.as_ref(), |w, filter| {
            filter.filter_type.encode(w)?;
            w.opt_u32("shard_filter.shard", filter.shard);
            w.opt_u64("shard_filter.timestamp_ms", filter.timestamp_ms);
            Ok(())
        })
    }
}

impl WireDecode for ListShards {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ListShards {
            stream_name: r.opt_string("stream_name")?,
            next_token: r.opt_blob("next_token")?,
            exclusive_start_shard: r.opt_u32("exclusive_start_shard")?,
            max_results: r.opt_u32("max_results")?,
            shard_filter: r.option("shard_filter", |r| {
                Ok(ShardFilter {
                    filter_type: ShardFilterType::decode(r)?,
                    shard: r.opt_u32("shard_filter.shard")?,
                    timestamp_ms: r.opt_u64("shard_filter.timestamp_ms")?,
                })
            })?,
        })
    }
}

impl WireEncode for ListShardsOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array_of("shards", &self.shards, |w, shard| shard.encode(w))?;
        w.opt_blob("next_token", self.next_token.as_deref())
    }
}

impl WireDecode for ListShardsOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ListShardsOutput {
            shards: r.array_of("shards", SHARD_SIZE_BYTES_MIN, Shard::decode)?,
            next_token: r.opt_blob("next_token")?,
        })
    }
}
