//! SubscribeToShard (0x0034) and its push events, SubscribeToShardEvent (0x0035).
//!
//! A subscription is one request answered many times. The server answers the SubscribeToShard
//! request with a normal response frame once the subscription has started, then sends push
//! frames (kind 4) with the request's correlation id and opcode 0x0035, each carrying a
//! [`SubscribeToShardEvent`]. The last event of a subscription carries `end`; an error that ends a
//! subscription early is an error frame with the request's correlation id and opcode 0x0034.
//! Either way no frame follows for that correlation id.
//!
//! Every event carries a continuation sequence number: a SubscribeToShard at
//! `AFTER_SEQUENCE_NUMBER` of it continues exactly after the event, with no gap and no duplicate.

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::ops::get_records::{Record, RECORD_SIZE_BYTES_MIN};
use crate::ops::get_shard_iterator::ShardIteratorType;
use crate::ops::types::{ChildShard, CHILD_SHARD_SIZE_BYTES_MIN};
use crate::validate;

/// Where a subscription starts in its shard: the same five positions as a shard iterator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StartingPosition {
    pub iterator_type: ShardIteratorType,
    /// Required for `AT_SEQUENCE_NUMBER` and `AFTER_SEQUENCE_NUMBER`, else absent.
    pub sequence_number: Option<u128>,
    /// Required for `AT_TIMESTAMP`, else absent.
    pub timestamp_ms: Option<u64>,
}

impl StartingPosition {
    /// The oldest record not yet trimmed.
    pub fn trim_horizon() -> StartingPosition {
        StartingPosition { iterator_type: ShardIteratorType::TrimHorizon, sequence_number: None, timestamp_ms: None }
    }

    /// Records that arrive after the subscription starts.
    pub fn latest() -> StartingPosition {
        StartingPosition { iterator_type: ShardIteratorType::Latest, ..StartingPosition::trim_horizon() }
    }

    /// At the record with `sequence_number`.
    pub fn at_sequence_number(sequence_number: u128) -> StartingPosition {
        StartingPosition {
            iterator_type: ShardIteratorType::AtSequenceNumber,
            sequence_number: Some(sequence_number),
            timestamp_ms: None,
        }
    }

    /// Just after `sequence_number`: how a subscription continues from an event's
    /// `continuation_sequence_number`.
    pub fn after_sequence_number(sequence_number: u128) -> StartingPosition {
        StartingPosition {
            iterator_type: ShardIteratorType::AfterSequenceNumber,
            sequence_number: Some(sequence_number),
            timestamp_ms: None,
        }
    }

    /// At the first record that arrived at or after `timestamp_ms`.
    pub fn at_timestamp(timestamp_ms: u64) -> StartingPosition {
        StartingPosition {
            iterator_type: ShardIteratorType::AtTimestamp,
            sequence_number: None,
            timestamp_ms: Some(timestamp_ms),
        }
    }

    /// The same rules and messages as GetShardIterator's.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::starting_position(self.iterator_type, self.sequence_number, self.timestamp_ms)
    }

    /// An `AT_TIMESTAMP` start may not lie in the future (needs the server's clock).
    pub fn validate_timestamp(&self, now_ms: u64) -> Result<(), ValidationError> {
        validate::timestamp_not_in_future(self.timestamp_ms, now_ms)
    }
}

/// Opens a push subscription of a registered consumer to one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeToShard {
    /// From RegisterStreamConsumer, DescribeStreamConsumer or ListStreamConsumers.
    pub consumer_arn: String,
    pub shard: u32,
    pub starting_position: StartingPosition,
}

/// SubscribeToShard's response: the subscription has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeToShardOutput {
    /// How long the subscription lasts before it ends with `end = LIFETIME` (300,000 ms unless
    /// the server is configured otherwise).
    pub subscription_lifetime_ms: u64,
}

wire_enum! {
    /// Why a subscription's last event is its last.
    pub enum SubscriptionEnd : "end" {
        /// The subscription reached its lifetime. Subscribe again at `AFTER_SEQUENCE_NUMBER`
        /// of the event's continuation sequence number.
        Lifetime = 1 => "LIFETIME",
        /// The shard is closed and every record of it was delivered; the event's child shards
        /// say where to go on.
        ShardEnd = 2 => "SHARD_END",
    }
}

/// One push event of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeToShardEvent {
    /// In sequence-number order, continuing the previous event's records; possibly empty.
    pub records: Vec<Record>,
    /// Subscribing at `AFTER_SEQUENCE_NUMBER` of this number continues right after this event:
    /// no gap, no duplicate. It is the last record's sequence number when the event has
    /// records; before any record was delivered it is the position just before the next one.
    pub continuation_sequence_number: u128,
    /// How far the last record delivered is behind the shard's newest record; 0 means caught up.
    pub millis_behind_latest: u64,
    /// The shards that continue this one: non-empty only in the event with `end = SHARD_END`.
    pub child_shards: Vec<ChildShard>,
    /// Set on the subscription's last event.
    pub end: Option<SubscriptionEnd>,
}

impl SubscribeToShard {
    pub fn new(consumer_arn: impl Into<String>, shard: u32, starting_position: StartingPosition) -> SubscribeToShard {
        SubscribeToShard { consumer_arn: consumer_arn.into(), shard, starting_position }
    }

    /// The ARN's syntax and the starting position's fields, with Kinesis' messages.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::consumer_arn("consumerARN", &self.consumer_arn)?;
        self.starting_position.validate()
    }
}

impl SubscribeToShardEvent {
    /// Data plus partition-key bytes of the event's records.
    pub fn size_bytes(&self) -> usize {
        self.records.iter().map(Record::size_bytes).sum()
    }
}

impl WireEncode for StartingPosition {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u8("starting_position.iterator_type", self.iterator_type as u8);
        w.opt_u128("starting_position.sequence_number", self.sequence_number);
        w.opt_u64("starting_position.timestamp_ms", self.timestamp_ms);
        Ok(())
    }
}

impl WireDecode for StartingPosition {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(StartingPosition {
            iterator_type: r.tag("starting_position.iterator_type", ShardIteratorType::from_u8)?,
            sequence_number: r.opt_u128("starting_position.sequence_number")?,
            timestamp_ms: r.opt_u64("starting_position.timestamp_ms")?,
        })
    }
}

impl WireEncode for SubscribeToShard {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("consumer_arn", &self.consumer_arn)?;
        w.u32("shard", self.shard);
        self.starting_position.encode(w)
    }
}

impl WireDecode for SubscribeToShard {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(SubscribeToShard {
            consumer_arn: r.string("consumer_arn")?,
            shard: r.u32("shard")?,
            starting_position: StartingPosition::decode(r)?,
        })
    }
}

impl WireEncode for SubscribeToShardOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u64("subscription_lifetime_ms", self.subscription_lifetime_ms);
        Ok(())
    }
}

impl WireDecode for SubscribeToShardOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(SubscribeToShardOutput { subscription_lifetime_ms: r.u64("subscription_lifetime_ms")? })
    }
}

impl WireEncode for SubscribeToShardEvent {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array_of("records", &self.records, |w, record| record.encode(w))?;
        w.u128("continuation_sequence_number", self.continuation_sequence_number);
        w.u64("millis_behind_latest", self.millis_behind_latest);
        w.array_of("child_shards", &self.child_shards, |w, child| child.encode(w))?;
        w.option("end", self.end.as_ref(), |w, end| end.encode(w))
    }
}

impl WireDecode for SubscribeToShardEvent {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(SubscribeToShardEvent {
            records: r.array_of("records", RECORD_SIZE_BYTES_MIN, Record::decode)?,
            continuation_sequence_number: r.u128("continuation_sequence_number")?,
            millis_behind_latest: r.u64("millis_behind_latest")?,
            child_shards: r.array_of("child_shards", CHILD_SHARD_SIZE_BYTES_MIN, ChildShard::decode)?,
            end: r.option("end", SubscriptionEnd::decode)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::ops::types::HashKeyRange;

    fn round_trip<T: WireEncode + WireDecode + PartialEq + std::fmt::Debug>(value: &T) -> Bytes {
        let mut buf = BytesMut::new();
        value.encode(&mut Writer::new(&mut buf)).unwrap();
        let bytes = buf.freeze();
        let mut r = Reader::new(&bytes);
        assert_eq!(&T::decode(&mut r).unwrap(), value);
        r.finish().unwrap();
        bytes
    }

    #[test]
    fn events_round_trip_with_and_without_an_end() {
        let event = SubscribeToShardEvent {
            records: vec![Record {
                sequence_number: 7,
                arrival_timestamp_ms: 1,
                partition_key: "k".into(),
                data: Bytes::from_static(b"hi"),
            }],
            continuation_sequence_number: 7,
            millis_behind_latest: 3,
            child_shards: vec![],
            end: None,
        };
        let bytes = round_trip(&event);
        assert_eq!(bytes.last(), Some(&0), "end: absent");
        assert_eq!(event.size_bytes(), 3);
        let last = SubscribeToShardEvent {
            records: vec![],
            child_shards: vec![ChildShard {
                index: 2,
                parents: vec![0],
                hash_key_range: HashKeyRange { start: 0, end: 9 },
            }],
            end: Some(SubscriptionEnd::ShardEnd),
            ..event
        };
        let bytes = round_trip(&last);
        assert_eq!(bytes.get(bytes.len() - 2..), Some(&[1, 2][..]), "end: present, SHARD_END");
    }

    #[test]
    fn requests_and_responses_round_trip() {
        round_trip(&SubscribeToShard::new("arn", 3, StartingPosition::at_timestamp(5)));
        round_trip(&SubscribeToShard::new("arn", 3, StartingPosition::after_sequence_number(u128::MAX)));
        round_trip(&SubscribeToShardOutput { subscription_lifetime_ms: 300_000 });
    }

    #[test]
    fn an_undefined_end_is_refused() {
        let event = SubscribeToShardEvent {
            records: vec![],
            continuation_sequence_number: 0,
            millis_behind_latest: 0,
            child_shards: vec![],
            end: Some(SubscriptionEnd::Lifetime),
        };
        let mut buf = BytesMut::new();
        event.encode(&mut Writer::new(&mut buf)).unwrap();
        let last = buf.len() - 1;
        buf[last] = 3;
        let bytes = buf.freeze();
        let error = SubscribeToShardEvent::decode(&mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(error, WireError::InvalidValue { field: "end", offset: last, value: 3 });
    }
}
