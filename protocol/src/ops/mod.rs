//! The operations: the opcode table, and the request and response of each operation, and the
//! push events of subscriptions.
//!
//! Opcodes are grouped with room to grow: control plane from 0x0001, data plane from 0x0010,
//! resharding from 0x0020 and enhanced fan-out from 0x0030. [`Opcode::from_u16`],
//! [`Request::decode`], [`Response::decode`] and [`Push::decode`] are the exhaustive matches that
//! tie numbers to messages.

/// Declares a one-byte wire enum: the Rust enum, its wire values and its Kinesis names.
/// Value 0 is never used, so a zeroed buffer does not read as a meaningful value.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $field:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )+
        }

        impl $name {
            /// Every value, in wire order.
            pub const ALL: &'static [$name] = &[$( $name::$variant, )+];

            pub fn from_u8(value: u8) -> Option<$name> {
                match value {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// The name Kinesis uses for this value.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl $crate::codec::WireEncode for $name {
            fn encode(&self, w: &mut $crate::codec::Writer<'_>) -> Result<(), $crate::error::EncodeError> {
                w.u8($field, *self as u8);
                Ok(())
            }
        }

        impl $crate::codec::WireDecode for $name {
            fn decode(r: &mut $crate::codec::Reader<'_>) -> Result<$name, $crate::error::WireError> {
                r.tag($field, $name::from_u8)
            }
        }
    };
}

mod consumers;
mod create_stream;
mod describe_stream;
mod get_records;
mod get_shard_iterator;
mod list_shards;
mod list_streams;
mod opcode;
mod placement;
mod put_record;
mod put_records;
mod reshard;
mod stream_admin;
mod subscribe;
mod types;

pub use consumers::{
    Consumer, ConsumerArn, ConsumerDescription, ConsumerStatus, DeregisterStreamConsumer, DescribeStreamConsumer,
    ListStreamConsumers, ListStreamConsumersOutput, RegisterStreamConsumer, RegisterStreamConsumerOutput,
};
pub use create_stream::{CreateStream, ShardLimits};
pub use describe_stream::{DescribeStream, DescribeStreamSummary, StreamDescription, StreamDescriptionSummary};
pub use get_records::{GetRecords, GetRecordsOutput, Record};
pub use get_shard_iterator::{GetShardIterator, GetShardIteratorOutput, ShardIteratorType};
pub use list_shards::{ListShards, ListShardsOutput, ShardFilter, ShardFilterType};
pub use list_streams::{ListStreams, ListStreamsOutput};
pub use opcode::Opcode;
pub use placement::{serving_core, DescribePlacement, DescribePlacementOutput, ShardPlacement};
pub use put_record::{PutRecord, PutRecordOutput};
pub use put_records::{PutRecords, PutRecordsEntry, PutRecordsOutput, PutRecordsResult};
pub use reshard::{MergeShards, ScalingType, SplitShard, UpdateShardCount, UpdateShardCountOutput};
pub use stream_admin::{DeleteStream, RetentionPeriodChange};
pub use subscribe::{
    StartingPosition, SubscribeToShard, SubscribeToShardEvent, SubscribeToShardOutput, SubscriptionEnd,
};
pub use types::{parse_shard_id, shard_id, ChildShard, Durability, HashKeyRange, Shard, StreamStatus};

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};

/// A request: what a client asks. Each variant's body is defined in its operation's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    CreateStream(CreateStream),
    DeleteStream(DeleteStream),
    DescribeStream(DescribeStream),
    DescribeStreamSummary(DescribeStreamSummary),
    ListStreams(ListStreams),
    ListShards(ListShards),
    IncreaseStreamRetentionPeriod(RetentionPeriodChange),
    DecreaseStreamRetentionPeriod(RetentionPeriodChange),
    DescribePlacement(DescribePlacement),
    PutRecord(PutRecord),
    PutRecords(PutRecords),
    GetShardIterator(GetShardIterator),
    GetRecords(GetRecords),
    SplitShard(SplitShard),
    MergeShards(MergeShards),
    UpdateShardCount(UpdateShardCount),
    RegisterStreamConsumer(RegisterStreamConsumer),
    DeregisterStreamConsumer(DeregisterStreamConsumer),
    DescribeStreamConsumer(DescribeStreamConsumer),
    ListStreamConsumers(ListStreamConsumers),
    /// Answered once by a response when the subscription starts, then by push frames.
    SubscribeToShard(SubscribeToShard),
}

/// A successful response. Operations that return nothing in Kinesis have an empty body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    CreateStream,
    DeleteStream,
    DescribeStream(StreamDescription),
    DescribeStreamSummary(StreamDescriptionSummary),
    ListStreams(ListStreamsOutput),
    ListShards(ListShardsOutput),
    IncreaseStreamRetentionPeriod,
    DecreaseStreamRetentionPeriod,
    DescribePlacement(DescribePlacementOutput),
    PutRecord(PutRecordOutput),
    PutRecords(PutRecordsOutput),
    GetShardIterator(GetShardIteratorOutput),
    GetRecords(GetRecordsOutput),
    SplitShard,
    MergeShards,
    UpdateShardCount(UpdateShardCountOutput),
    RegisterStreamConsumer(RegisterStreamConsumerOutput),
    DeregisterStreamConsumer,
    DescribeStreamConsumer(ConsumerDescription),
    ListStreamConsumers(ListStreamConsumersOutput),
    /// The subscription has started; its events follow in push frames.
    SubscribeToShard(SubscribeToShardOutput),
}

/// What a push frame (kind 4) carries: an event of the subscription whose SubscribeToShard
/// request had the frame's correlation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    SubscribeToShardEvent(SubscribeToShardEvent),
}

impl Request {
    pub fn opcode(&self) -> Opcode {
        match self {
            Request::CreateStream(_) => Opcode::CreateStream,
            Request::DeleteStream(_) => Opcode::DeleteStream,
            Request::DescribeStream(_) => Opcode::DescribeStream,
            Request::DescribeStreamSummary(_) => Opcode::DescribeStreamSummary,
            Request::ListStreams(_) => Opcode::ListStreams,
            Request::ListShards(_) => Opcode::ListShards,
            Request::IncreaseStreamRetentionPeriod(_) => Opcode::IncreaseStreamRetentionPeriod,
            Request::DecreaseStreamRetentionPeriod(_) => Opcode::DecreaseStreamRetentionPeriod,
            Request::DescribePlacement(_) => Opcode::DescribePlacement,
            Request::PutRecord(_) => Opcode::PutRecord,
            Request::PutRecords(_) => Opcode::PutRecords,
            Request::GetShardIterator(_) => Opcode::GetShardIterator,
            Request::GetRecords(_) => Opcode::GetRecords,
            Request::SplitShard(_) => Opcode::SplitShard,
            Request::MergeShards(_) => Opcode::MergeShards,
            Request::UpdateShardCount(_) => Opcode::UpdateShardCount,
            Request::RegisterStreamConsumer(_) => Opcode::RegisterStreamConsumer,
            Request::DeregisterStreamConsumer(_) => Opcode::DeregisterStreamConsumer,
            Request::DescribeStreamConsumer(_) => Opcode::DescribeStreamConsumer,
            Request::ListStreamConsumers(_) => Opcode::ListStreamConsumers,
            Request::SubscribeToShard(_) => Opcode::SubscribeToShard,
        }
    }

    pub fn decode(opcode: Opcode, r: &mut Reader<'_>) -> Result<Request, WireError> {
        Ok(match opcode {
            Opcode::CreateStream => Request::CreateStream(WireDecode::decode(r)?),
            Opcode::DeleteStream => Request::DeleteStream(WireDecode::decode(r)?),
            Opcode::DescribeStream => Request::DescribeStream(WireDecode::decode(r)?),
            Opcode::DescribeStreamSummary => Request::DescribeStreamSummary(WireDecode::decode(r)?),
            Opcode::ListStreams => Request::ListStreams(WireDecode::decode(r)?),
            Opcode::ListShards => Request::ListShards(WireDecode::decode(r)?),
            Opcode::IncreaseStreamRetentionPeriod => Request::IncreaseStreamRetentionPeriod(WireDecode::decode(r)?),
            Opcode::DecreaseStreamRetentionPeriod => Request::DecreaseStreamRetentionPeriod(WireDecode::decode(r)?),
            Opcode::DescribePlacement => Request::DescribePlacement(WireDecode::decode(r)?),
            Opcode::PutRecord => Request::PutRecord(WireDecode::decode(r)?),
            Opcode::PutRecords => Request::PutRecords(WireDecode::decode(r)?),
            Opcode::GetShardIterator => Request::GetShardIterator(WireDecode::decode(r)?),
            Opcode::GetRecords => Request::GetRecords(WireDecode::decode(r)?),
            Opcode::SplitShard => Request::SplitShard(WireDecode::decode(r)?),
            Opcode::MergeShards => Request::MergeShards(WireDecode::decode(r)?),
            Opcode::UpdateShardCount => Request::UpdateShardCount(WireDecode::decode(r)?),
            Opcode::RegisterStreamConsumer => Request::RegisterStreamConsumer(WireDecode::decode(r)?),
            Opcode::DeregisterStreamConsumer => Request::DeregisterStreamConsumer(WireDecode::decode(r)?),
            Opcode::DescribeStreamConsumer => Request::DescribeStreamConsumer(WireDecode::decode(r)?),
            Opcode::ListStreamConsumers => Request::ListStreamConsumers(WireDecode::decode(r)?),
            Opcode::SubscribeToShard => Request::SubscribeToShard(WireDecode::decode(r)?),
            Opcode::SubscribeToShardEvent => {
                return Err(WireError::PushOnly { opcode: opcode as u16, name: opcode.name() })
            }
        })
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Request::CreateStream(body) => body.encode(w),
            Request::DeleteStream(body) => body.encode(w),
            Request::DescribeStream(body) => body.encode(w),
            Request::DescribeStreamSummary(body) => body.encode(w),
            Request::ListStreams(body) => body.encode(w),
            Request::ListShards(body) => body.encode(w),
            Request::IncreaseStreamRetentionPeriod(body) => body.encode(w),
            Request::DecreaseStreamRetentionPeriod(body) => body.encode(w),
            Request::DescribePlacement(body) => body.encode(w),
            Request::PutRecord(body) => body.encode(w),
            Request::PutRecords(body) => body.encode(w),
            Request::GetShardIterator(body) => body.encode(w),
            Request::GetRecords(body) => body.encode(w),
            Request::SplitShard(body) => body.encode(w),
            Request::MergeShards(body) => body.encode(w),
            Request::UpdateShardCount(body) => body.encode(w),
            Request::RegisterStreamConsumer(body) => body.encode(w),
            Request::DeregisterStreamConsumer(body) => body.encode(w),
            Request::DescribeStreamConsumer(body) => body.encode(w),
            Request::ListStreamConsumers(body) => body.encode(w),
            Request::SubscribeToShard(body) => body.encode(w),
        }
    }

    /// Checks the Kinesis rules that the wire format itself does not enforce (lengths, patterns,
    /// ranges, field combinations). A server calls this after decoding and answers a failure with
    /// [`ValidationError::error_frame`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Request::CreateStream(body) => body.validate(),
            Request::DeleteStream(body) => body.validate(),
            Request::DescribeStream(body) => body.validate(),
            Request::DescribeStreamSummary(body) => body.validate(),
            Request::ListStreams(body) => body.validate(),
            Request::ListShards(body) => body.validate(),
            Request::IncreaseStreamRetentionPeriod(body) => body.validate(),
            Request::DecreaseStreamRetentionPeriod(body) => body.validate(),
            Request::DescribePlacement(body) => body.validate(),
            Request::PutRecord(body) => body.validate(),
            Request::PutRecords(body) => body.validate(),
            Request::GetShardIterator(body) => body.validate(),
            Request::GetRecords(body) => body.validate(),
            Request::SplitShard(body) => body.validate(),
            Request::MergeShards(body) => body.validate(),
            Request::UpdateShardCount(body) => body.validate(),
            Request::RegisterStreamConsumer(body) => body.validate(),
            Request::DeregisterStreamConsumer(body) => body.validate(),
            Request::DescribeStreamConsumer(body) => body.validate(),
            Request::ListStreamConsumers(body) => body.validate(),
            Request::SubscribeToShard(body) => body.validate(),
        }
    }
}

impl Response {
    pub fn opcode(&self) -> Opcode {
        match self {
            Response::CreateStream => Opcode::CreateStream,
            Response::DeleteStream => Opcode::DeleteStream,
            Response::DescribeStream(_) => Opcode::DescribeStream,
            Response::DescribeStreamSummary(_) => Opcode::DescribeStreamSummary,
            Response::ListStreams(_) => Opcode::ListStreams,
            Response::ListShards(_) => Opcode::ListShards,
            Response::IncreaseStreamRetentionPeriod => Opcode::IncreaseStreamRetentionPeriod,
            Response::DecreaseStreamRetentionPeriod => Opcode::DecreaseStreamRetentionPeriod,
            Response::DescribePlacement(_) => Opcode::DescribePlacement,
            Response::PutRecord(_) => Opcode::PutRecord,
            Response::PutRecords(_) => Opcode::PutRecords,
            Response::GetShardIterator(_) => Opcode::GetShardIterator,
            Response::GetRecords(_) => Opcode::GetRecords,
            Response::SplitShard => Opcode::SplitShard,
            Response::MergeShards => Opcode::MergeShards,
            Response::UpdateShardCount(_) => Opcode::UpdateShardCount,
            Response::RegisterStreamConsumer(_) => Opcode::RegisterStreamConsumer,
            Response::DeregisterStreamConsumer => Opcode::DeregisterStreamConsumer,
            Response::DescribeStreamConsumer(_) => Opcode::DescribeStreamConsumer,
            Response::ListStreamConsumers(_) => Opcode::ListStreamConsumers,
            Response::SubscribeToShard(_) => Opcode::SubscribeToShard,
        }
    }

    pub fn decode(opcode: Opcode, r: &mut Reader<'_>) -> Result<Response, WireError> {
        Ok(match opcode {
            Opcode::CreateStream => Response::CreateStream,
            Opcode::DeleteStream => Response::DeleteStream,
            Opcode::DescribeStream => Response::DescribeStream(WireDecode::decode(r)?),
            Opcode::DescribeStreamSummary => Response::DescribeStreamSummary(WireDecode::decode(r)?),
            Opcode::ListStreams => Response::ListStreams(WireDecode::decode(r)?),
            Opcode::ListShards => Response::ListShards(WireDecode::decode(r)?),
            Opcode::IncreaseStreamRetentionPeriod => Response::IncreaseStreamRetentionPeriod,
            Opcode::DecreaseStreamRetentionPeriod => Response::DecreaseStreamRetentionPeriod,
            Opcode::DescribePlacement => Response::DescribePlacement(WireDecode::decode(r)?),
            Opcode::PutRecord => Response::PutRecord(WireDecode::decode(r)?),
            Opcode::PutRecords => Response::PutRecords(WireDecode::decode(r)?),
            Opcode::GetShardIterator => Response::GetShardIterator(WireDecode::decode(r)?),
            Opcode::GetRecords => Response::GetRecords(WireDecode::decode(r)?),
            Opcode::SplitShard => Response::SplitShard,
            Opcode::MergeShards => Response::MergeShards,
            Opcode::UpdateShardCount => Response::UpdateShardCount(WireDecode::decode(r)?),
            Opcode::RegisterStreamConsumer => Response::RegisterStreamConsumer(WireDecode::decode(r)?),
            Opcode::DeregisterStreamConsumer => Response::DeregisterStreamConsumer,
            Opcode::DescribeStreamConsumer => Response::DescribeStreamConsumer(WireDecode::decode(r)?),
            Opcode::ListStreamConsumers => Response::ListStreamConsumers(WireDecode::decode(r)?),
            Opcode::SubscribeToShard => Response::SubscribeToShard(WireDecode::decode(r)?),
            Opcode::SubscribeToShardEvent => {
                return Err(WireError::PushOnly { opcode: opcode as u16, name: opcode.name() })
            }
        })
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Response::CreateStream
            | Response::DeleteStream
            | Response::IncreaseStreamRetentionPeriod
            | Response::DecreaseStreamRetentionPeriod
            | Response::SplitShard
            | Response::MergeShards
            | Response::DeregisterStreamConsumer => Ok(()),
            Response::DescribeStream(body) => body.encode(w),
            Response::DescribeStreamSummary(body) => body.encode(w),
            Response::ListStreams(body) => body.encode(w),
            Response::ListShards(body) => body.encode(w),
            Response::DescribePlacement(body) => body.encode(w),
            Response::PutRecord(body) => body.encode(w),
            Response::PutRecords(body) => body.encode(w),
            Response::GetShardIterator(body) => body.encode(w),
            Response::GetRecords(body) => body.encode(w),
            Response::UpdateShardCount(body) => body.encode(w),
            Response::RegisterStreamConsumer(body) => body.encode(w),
            Response::DescribeStreamConsumer(body) => body.encode(w),
            Response::ListStreamConsumers(body) => body.encode(w),
            Response::SubscribeToShard(body) => body.encode(w),
        }
    }
}

impl Push {
    pub fn opcode(&self) -> Opcode {
        match self {
            Push::SubscribeToShardEvent(_) => Opcode::SubscribeToShardEvent,
        }
    }

    pub fn decode(opcode: Opcode, r: &mut Reader<'_>) -> Result<Push, WireError> {
        match opcode {
            Opcode::SubscribeToShardEvent => Ok(Push::SubscribeToShardEvent(WireDecode::decode(r)?)),
            Opcode::CreateStream
            | Opcode::DeleteStream
            | Opcode::DescribeStream
            | Opcode::DescribeStreamSummary
            | Opcode::ListStreams
            | Opcode::ListShards
            | Opcode::IncreaseStreamRetentionPeriod
            | Opcode::DecreaseStreamRetentionPeriod
            | Opcode::DescribePlacement
            | Opcode::PutRecord
            | Opcode::PutRecords
            | Opcode::GetShardIterator
            | Opcode::GetRecords
            | Opcode::SplitShard
            | Opcode::MergeShards
            | Opcode::UpdateShardCount
            | Opcode::RegisterStreamConsumer
            | Opcode::DeregisterStreamConsumer
            | Opcode::DescribeStreamConsumer
            | Opcode::ListStreamConsumers
            | Opcode::SubscribeToShard => Err(WireError::NotPushed { opcode: opcode as u16, name: opcode.name() }),
        }
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Push::SubscribeToShardEvent(body) => body.encode(w),
        }
    }
}
