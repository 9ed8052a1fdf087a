//! PutRecords (0x0011).

use bytes::Bytes;

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::ops::types::Durability;
use crate::status::Status;
use crate::validate;

/// Appends up to 500 records (5 MiB of data and partition keys) to one stream. Each record is
/// routed on its own, and one failing does not stop the others: there is no ordering guarantee
/// across the records of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecords {
    pub stream_name: String,
    pub records: Vec<PutRecordsEntry>,
}

/// One record of a PutRecords request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecordsEntry {
    pub partition_key: String,
    pub explicit_hash_key: Option<u128>,
    pub data: Bytes,
}

/// PutRecords' response: one result per request record, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecordsOutput {
    pub records: Vec<PutRecordsResult>,
    /// How durable the successful records are.
    pub durability: Durability,
}

/// The fate of one record of a PutRecords call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutRecordsResult {
    Success {
        shard: u32,
        sequence_number: u128,
    },
    /// `status` is ProvisionedThroughputExceeded or InternalFailure, as in Kinesis.
    Failure {
        status: Status,
        message: String,
    },
}

const RESULT_SUCCESS: u8 = 1;
const RESULT_FAILURE: u8 = 2;
/// Smallest encodings, for bounding counts: key length + hash key presence + data length; and
/// a failure with an empty message.
const ENTRY_SIZE_BYTES_MIN: usize = 2 + 1 + 4;
const RESULT_SIZE_BYTES_MIN: usize = 1 + 2 + 2;

impl PutRecords {
    pub fn new(stream_name: impl Into<String>, records: Vec<PutRecordsEntry>) -> PutRecords {
        PutRecords { stream_name: stream_name.into(), records }
    }

    /// The size Kinesis' 5 MiB limit counts: data plus partition-key bytes.
    pub fn size_bytes(&self) -> usize {
        self.records.iter().map(PutRecordsEntry::size_bytes).sum()
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        validate::put_records_count(self.records.len())?;
        for (i, record) in self.records.iter().enumerate() {
            // A member's path is formatted only once it has failed: two paths per record
            // cost the server about 5% of a core at full PutRecords rate.
            let valid = validate::partition_key("", &record.partition_key).is_ok()
                && validate::record_data("", &record.data).is_ok();
            if !valid {
                // Kinesis numbers members from 1 in its paths.
                let n = i + 1;
                validate::partition_key(&format!("records.{n}.member.partitionKey"), &record.partition_key)?;
                validate::record_data(&format!("records.{n}.member.data"), &record.data)?;
            }
        }
        validate::put_records_size(self.size_bytes())
    }
}

impl PutRecordsEntry {
    /// A record routed by its partition key.
    pub fn new(partition_key: impl Into<String>, data: impl Into<Bytes>) -> PutRecordsEntry {
        PutRecordsEntry { partition_key: partition_key.into(), explicit_hash_key: None, data: data.into() }
    }

    /// The size Kinesis' 5 MiB PutRecords limit counts for this record: data plus key bytes.
    pub fn size_bytes(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

impl PutRecordsOutput {
    pub fn failed_record_count(&self) -> u32 {
        let failed = self.records.iter().filter(|r| matches!(r, PutRecordsResult::Failure { .. })).count();
        // A frame cannot hold u32::MAX results, so this never saturates on a decoded value.
        u32::try_from(failed).unwrap_or(u32::MAX)
    }
}

impl WireEncode for PutRecords {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.array_of("records", &self.records, |w, record| {
            w.string("records[].partition_key", &record.partition_key)?;
            w.opt_u128("records[].explicit_hash_key", record.explicit_hash_key);
            w.blob("records[].data", &record.data)
        })
    }
}

impl WireDecode for PutRecords {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(PutRecords {
            stream_name: r.string("stream_name")?,
            records: r.array_of("records", ENTRY_SIZE_BYTES_MIN, |r| {
                Ok(PutRecordsEntry {
                    partition_key: r.string("records[].partition_key")?,
                    explicit_hash_key: r.opt_u128("records[].explicit_hash_key")?,
                    data: r.blob("records[].data")?,
                })
            })?,
        })
    }
}

impl WireEncode for PutRecordsOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32("failed_record_count", self.failed_record_count());
        w.array_of("records", &self.records, |w, result| match result {
            PutRecordsResult::Success { shard, sequence_number } => {
                w.u8("records[].result", RESULT_SUCCESS);
                w.u32("records[].shard", *shard);
                w.u128("records[].sequence_number", *sequence_number);
                Ok(())
            }
            PutRecordsResult::Failure { status, message } => {
                w.u8("records[].result", RESULT_FAILURE);
                w.u16("records[].status", status.code());
                w.string("records[].message", message)
            }
        })?;
        self.durability.encode(w)
    }
}

impl WireDecode for PutRecordsOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let declared = r.u32("failed_record_count")?;
        let records = r.array_of("records", RESULT_SIZE_BYTES_MIN, |r| {
            let tag = r.tag("records[].result", |v| matches!(v, RESULT_SUCCESS | RESULT_FAILURE).then_some(v))?;
            if tag == RESULT_SUCCESS {
                Ok(PutRecordsResult::Success {
                    shard: r.u32("records[].shard")?,
                    sequence_number: r.u128("records[].sequence_number")?,
                })
            } else {
                Ok(PutRecordsResult::Failure {
                    status: Status::from_code(r.u16("records[].status")?),
                    message: r.string("records[].message")?,
                })
            }
        })?;
        let output = PutRecordsOutput { records, durability: Durability::decode(r)? };
        // The count is redundant on the wire (clients in other languages read it directly);
        // a mismatch means the encoder was wrong, so it is refused rather than recomputed.
        let actual = output.failed_record_count();
        if declared != actual {
            return Err(WireError::FailedCountMismatch { declared, actual });
        }
        Ok(output)
    }
}
