//! PutRecord (0x0010).

use bytes::Bytes;

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::ops::types::Durability;
use crate::validate;

/// Appends one record. It goes to the open shard whose hash key range holds the explicit hash
/// key, or else MD5(partition key) read as a big-endian u128.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecord {
    pub stream_name: String,
    pub partition_key: String,
    /// Overrides the partition key's hash for routing. Any u128 is in range.
    pub explicit_hash_key: Option<u128>,
    /// The sequence number of this client's previous record for the key: the new record's
    /// number will be greater.
    pub sequence_number_for_ordering: Option<u128>,
    /// Zero-copy: a slice of the received frame.
    pub data: Bytes,
}

/// PutRecord's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecordOutput {
    pub shard: u32,
    pub sequence_number: u128,
    pub durability: Durability,
}

impl PutRecord {
    /// A record routed by its partition key.
    pub fn new(stream_name: impl Into<String>, partition_key: impl Into<String>, data: impl Into<Bytes>) -> PutRecord {
        PutRecord {
            stream_name: stream_name.into(),
            partition_key: partition_key.into(),
            explicit_hash_key: None,
            sequence_number_for_ordering: None,
            data: data.into(),
        }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        validate::partition_key("partitionKey", &self.partition_key)?;
        validate::record_data("data", &self.data)
    }
}

impl WireEncode for PutRecord {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.string("partition_key", &self.partition_key)?;
        w.opt_u128("explicit_hash_key", self.explicit_hash_key);
        w.opt_u128("sequence_number_for_ordering", self.sequence_number_for_ordering);
        w.blob("data", &self.data)
    }
}

impl WireDecode for PutRecord {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(PutRecord {
            stream_name: r.string("stream_name")?,
            partition_key: r.string("partition_key")?,
            explicit_hash_key: r.opt_u128("explicit_hash_key")?,
            sequence_number_for_ordering: r.opt_u128("sequence_number_for_ordering")?,
            data: r.blob("data")?,
        })
    }
}

impl WireEncode for PutRecordOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32("shard", self.shard);
        w.u128("sequence_number", self.sequence_number);
        self.durability.encode(w)
    }
}

impl WireDecode for PutRecordOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(PutRecordOutput {
            shard: r.u32("shard")?,
            sequence_number: r.u128("sequence_number")?,
            durability: Durability::decode(r)?,
        })
    }
}
