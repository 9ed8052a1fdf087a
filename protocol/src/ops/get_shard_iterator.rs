//! GetShardIterator (0x0012).

use bytes::Bytes;

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::validate;

wire_enum! {
    /// Where in a shard an iterator starts.
    pub enum ShardIteratorType : "iterator_type" {
        /// The oldest record not yet trimmed.
        TrimHorizon = 1 => "TRIM_HORIZON",
        /// Just after the newest record when the iterator is issued.
        Latest = 2 => "LATEST",
        /// At `starting_sequence_number` (required).
        AtSequenceNumber = 3 => "AT_SEQUENCE_NUMBER",
        /// Just after `starting_sequence_number` (required).
        AfterSequenceNumber = 4 => "AFTER_SEQUENCE_NUMBER",
        /// The first record that arrived at or after `timestamp_ms` (required).
        AtTimestamp = 5 => "AT_TIMESTAMP",
    }
}

/// Asks for an iterator into one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetShardIterator {
    pub stream_name: String,
    pub shard: u32,
    pub iterator_type: ShardIteratorType,
    pub starting_sequence_number: Option<u128>,
    pub timestamp_ms: Option<u64>,
}

/// GetShardIterator's response: an opaque iterator, valid for 300 s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetShardIteratorOutput {
    pub iterator: Bytes,
}

impl GetShardIterator {
    /// An iterator of `iterator_type` that needs neither a sequence number nor a timestamp
    /// (`TRIM_HORIZON`, `LATEST`); see also the constructors for the other types.
    pub fn new(stream_name: impl Into<String>, shard: u32, iterator_type: ShardIteratorType) -> GetShardIterator {
        GetShardIterator {
            stream_name: stream_name.into(),
            shard,
            iterator_type,
            starting_sequence_number: None,
            timestamp_ms: None,
        }
    }

    /// An iterator at the record with `sequence_number`.
    pub fn at_sequence_number(stream_name: impl Into<String>, shard: u32, sequence_number: u128) -> GetShardIterator {
        GetShardIterator {
            starting_sequence_number: Some(sequence_number),
            ..GetShardIterator::new(stream_name, shard, ShardIteratorType::AtSequenceNumber)
        }
    }

    /// An iterator just after the record with `sequence_number`.
    pub fn after_sequence_number(
        stream_name: impl Into<String>,
        shard: u32,
        sequence_number: u128,
    ) -> GetShardIterator {
        GetShardIterator {
            starting_sequence_number: Some(sequence_number),
            ..GetShardIterator::new(stream_name, shard, ShardIteratorType::AfterSequenceNumber)
        }
    }

    /// An iterator at the first record that arrived at or after `timestamp_ms`.
    pub fn at_timestamp(stream_name: impl Into<String>, shard: u32, timestamp_ms: u64) -> GetShardIterator {
        GetShardIterator {
            timestamp_ms: Some(timestamp_ms),
            ..GetShardIterator::new(stream_name, shard, ShardIteratorType::AtTimestamp)
        }
    }

    /// Checks the fields that each iterator type requires, with Kinesis' messages.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        validate::starting_position(self.iterator_type, self.starting_sequence_number, self.timestamp_ms)
    }

    /// An AT_TIMESTAMP iterator may not start in the future (needs the server's clock).
    pub fn validate_timestamp(&self, now_ms: u64) -> Result<(), ValidationError> {
        validate::timestamp_not_in_future(self.timestamp_ms, now_ms)
    }
}

impl WireEncode for GetShardIterator {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.u32("shard", self.shard);
        self.iterator_type.encode(w)?;
        w.opt_u128("starting_sequence_number", self.starting_sequence_number);
        w.opt_u64("timestamp_ms", self.timestamp_ms);
        Ok(())
    }
}

impl WireDecode for GetShardIterator {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(GetShardIterator {
            stream_name: r.string("stream_name")?,
            shard: r.u32("shard")?,
            iterator_type: ShardIteratorType::decode(r)?,
            starting_sequence_number: r.opt_u128("starting_sequence_number")?,
            timestamp_ms: r.opt_u64("timestamp_ms")?,
        })
    }
}

impl WireEncode for GetShardIteratorOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.blob("iterator", &self.iterator)
    }
}

impl WireDecode for GetShardIteratorOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(GetShardIteratorOutput { iterator: r.blob("iterator")? })
    }
}
