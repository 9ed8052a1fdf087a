//! GetRecords (0x0013).

use bytes::Bytes;

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::limits::{GET_RECORDS_LIMIT_MAX, GET_RECORDS_LIMIT_MIN};
use crate::ops::types::{ChildShard, CHILD_SHARD_SIZE_BYTES_MIN};
use crate::validate;

/// Reads records at an iterator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetRecords {
    pub iterator: Bytes,
    /// Records wanted, 1..=10,000; absent: 10,000.
    pub limit: Option<u32>,
}

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub sequence_number: u128,
    /// Server time when the record was appended; not guaranteed monotonic.
    pub arrival_timestamp_ms: u64,
    pub partition_key: String,
    /// Zero-copy: a slice of the received frame.
    pub data: Bytes,
}

/// GetRecords' response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetRecordsOutput {
    pub records: Vec<Record>,
    /// Where to read next. Always present while the shard is open, even with no records;
    /// absent only once a closed shard has been read to its end.
    pub next_iterator: Option<Bytes>,
    /// How far the last record returned is behind the shard's tip; 0 means caught up.
    pub millis_behind_latest: u64,
    /// The shards that continue this one; non-empty only at the end of a closed shard.
    pub child_shards: Vec<ChildShard>,
}

/// Sequence number, arrival, key length, data length.
pub(crate) const RECORD_SIZE_BYTES_MIN: usize = 16 + 8 + 2 + 4;

impl Record {
    /// Data plus partition-key bytes: what the per-response and per-event size limits count.
    pub fn size_bytes(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

impl GetRecords {
    /// Reads as many records as one response carries.
    pub fn new(iterator: impl Into<Bytes>) -> GetRecords {
        GetRecords { iterator: iterator.into(), limit: None }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::token("shardIterator", &self.iterator)?;
        if let Some(limit) = self.limit {
            validate::range("limit", limit, GET_RECORDS_LIMIT_MIN, GET_RECORDS_LIMIT_MAX)?;
        }
        Ok(())
    }
}

impl WireEncode for GetRecords {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.blob("iterator", &self.iterator)?;
        w.opt_u32("limit", self.limit);
        Ok(())
    }
}

impl WireDecode for GetRecords {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(GetRecords { iterator: r.blob("iterator")?, limit: r.opt_u32("limit")? })
    }
}

impl WireEncode for GetRecordsOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array_of("records", &self.records, |w, record| record.encode(w))?;
        w.opt_blob("next_iterator", self.next_iterator.as_deref())?;
        w.u64("millis_behind_latest", self.millis_behind_latest);
        w.array_of("child_shards", &self.child_shards, |w, child| child.encode(w))
    }
}

impl WireDecode for GetRecordsOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(GetRecordsOutput {
            records: r.array_of("records", RECORD_SIZE_BYTES_MIN, Record::decode)?,
            // Copied out of the frame: a reader keeps the iterator for its
            // next call, and a slice would keep the whole response (up to
            // 10 MiB) alive with it, so the reader's buffer could never be
            // reused for the next response.
            next_iterator: r.opt_blob("next_iterator")?.map(|it| Bytes::copy_from_slice(&it)),
            millis_behind_latest: r.u64("millis_behind_latest")?,
            child_shards: r.array_of("child_shards", CHILD_SHARD_SIZE_BYTES_MIN, ChildShard::decode)?,
        })
    }
}

impl WireEncode for Record {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u128("records[].sequence_number", self.sequence_number);
        w.u64("records[].arrival_timestamp_ms", self.arrival_timestamp_ms);
        w.string("records[].partition_key", &self.partition_key)?;
        w.blob("records[].data", &self.data)
    }
}

impl WireDecode for Record {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Record {
            sequence_number: r.u128("records[].sequence_number")?,
            arrival_timestamp_ms: r.u64("records[].arrival_timestamp_ms")?,
            partition_key: r.string("records[].partition_key")?,
            data: r.blob("records[].data")?,
        })
    }
}
