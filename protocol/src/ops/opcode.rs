//! The opcode table: every opcode number in one exhaustive match.
//!
//! Numbers are grouped with room to grow: control plane from 0x0001, data plane from 0x0010,
//! resharding from 0x0020 and enhanced fan-out from 0x0030. A number, once given, is never
//! reused for another operation.

/// Every opcode of protocol version 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    CreateStream = 0x0001,
    DeleteStream = 0x0002,
    DescribeStream = 0x0003,
    DescribeStreamSummary = 0x0004,
    ListStreams = 0x0005,
    ListShards = 0x0006,
    IncreaseStreamRetentionPeriod = 0x0007,
    DecreaseStreamRetentionPeriod = 0x0008,
    /// Not a Kinesis operation: which core owns each shard, for clients that connect to it.
    DescribePlacement = 0x0009,
    PutRecord = 0x0010,
    PutRecords = 0x0011,
    GetShardIterator = 0x0012,
    GetRecords = 0x0013,
    SplitShard = 0x0020,
    MergeShards = 0x0021,
    UpdateShardCount = 0x0022,
    RegisterStreamConsumer = 0x0030,
    DeregisterStreamConsumer = 0x0031,
    DescribeStreamConsumer = 0x0032,
    ListStreamConsumers = 0x0033,
    SubscribeToShard = 0x0034,
    /// The opcode of the push frames that carry a subscription's events; never a request.
    SubscribeToShardEvent = 0x0035,
}

impl Opcode {
    /// Every opcode, in number order.
    pub const ALL: [Opcode; 22] = [
        Opcode::CreateStream,
        Opcode::DeleteStream,
        Opcode::DescribeStream,
        Opcode::DescribeStreamSummary,
        Opcode::ListStreams,
        Opcode::ListShards,
        Opcode::IncreaseStreamRetentionPeriod,
        Opcode::DecreaseStreamRetentionPeriod,
        Opcode::DescribePlacement,
        Opcode::PutRecord,
        Opcode::PutRecords,
        Opcode::GetShardIterator,
        Opcode::GetRecords,
        Opcode::SplitShard,
        Opcode::MergeShards,
        Opcode::UpdateShardCount,
        Opcode::RegisterStreamConsumer,
        Opcode::DeregisterStreamConsumer,
        Opcode::DescribeStreamConsumer,
        Opcode::ListStreamConsumers,
        Opcode::SubscribeToShard,
        Opcode::SubscribeToShardEvent,
    ];

    pub fn from_u16(value: u16) -> Option<Opcode> {
        Some(match value {
            0x0001 => Opcode::CreateStream,
            0x0002 => Opcode::DeleteStream,
            0x0003 => Opcode::DescribeStream,
            0x0004 => Opcode::DescribeStreamSummary,
            0x0005 => Opcode::ListStreams,
            0x0006 => Opcode::ListShards,
            0x0007 => Opcode::IncreaseStreamRetentionPeriod,
            0x0008 => Opcode::DecreaseStreamRetentionPeriod,
            0x0009 => Opcode::DescribePlacement,
            0x0010 => Opcode::PutRecord,
            0x0011 => Opcode::PutRecords,
            0x0012 => Opcode::GetShardIterator,
            0x0013 => Opcode::GetRecords,
            0x0020 => Opcode::SplitShard,
            0x0021 => Opcode::MergeShards,
            0x0022 => Opcode::UpdateShardCount,
            0x0030 => Opcode::RegisterStreamConsumer,
            0x0031 => Opcode::DeregisterStreamConsumer,
            0x0032 => Opcode::DescribeStreamConsumer,
            0x0033 => Opcode::ListStreamConsumers,
            0x0034 => Opcode::SubscribeToShard,
            0x0035 => Opcode::SubscribeToShardEvent,
            _ => return None,
        })
    }

    /// The operation name: Kinesis' name for every Kinesis operation.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::CreateStream => "CreateStream",
            Opcode::DeleteStream => "DeleteStream",
            Opcode::DescribeStream => "DescribeStream",
            Opcode::DescribeStreamSummary => "DescribeStreamSummary",
            Opcode::ListStreams => "ListStreams",
            Opcode::ListShards => "ListShards",
            Opcode::IncreaseStreamRetentionPeriod => "IncreaseStreamRetentionPeriod",
            Opcode::DecreaseStreamRetentionPeriod => "DecreaseStreamRetentionPeriod",
            Opcode::DescribePlacement => "DescribePlacement",
            Opcode::PutRecord => "PutRecord",
            Opcode::PutRecords => "PutRecords",
            Opcode::GetShardIterator => "GetShardIterator",
            Opcode::GetRecords => "GetRecords",
            Opcode::SplitShard => "SplitShard",
            Opcode::MergeShards => "MergeShards",
            Opcode::UpdateShardCount => "UpdateShardCount",
            Opcode::RegisterStreamConsumer => "RegisterStreamConsumer",
            Opcode::DeregisterStreamConsumer => "DeregisterStreamConsumer",
            Opcode::DescribeStreamConsumer => "DescribeStreamConsumer",
            Opcode::ListStreamConsumers => "ListStreamConsumers",
            Opcode::SubscribeToShard => "SubscribeToShard",
            Opcode::SubscribeToShardEvent => "SubscribeToShardEvent",
        }
    }

    /// Whether this version defines the opcode's bodies. Every opcode of version 1 is served;
    /// a number reserved for a later operation would be listed here but not served, and a frame
    /// using it answered `UnsupportedOperation` ([`WireError::OpcodeNotServed`]).
    ///
    /// [`WireError::OpcodeNotServed`]: crate::WireError::OpcodeNotServed
    pub fn is_served(self) -> bool {
        true
    }

    /// Whether the opcode is only sent in push frames (kind 4): a subscription's events. Every
    /// other opcode is a request, answered by a response or an error frame.
    pub fn is_push_only(self) -> bool {
        matches!(self, Opcode::SubscribeToShardEvent)
    }
}
