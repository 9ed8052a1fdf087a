//! Where a read starts (`--from`) and which shard (`--shard`), parsed from the command line.

use std::fmt;
use std::str::FromStr;

use shoal_protocol::ops::{parse_shard_id, shard_id, GetShardIterator, ShardIteratorType, StartingPosition};

/// `--from`: one of the five Kinesis starting positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    TrimHorizon,
    Latest,
    At(u128),
    After(u128),
    AtTimestamp(u64),
}

impl FromStr for StartAt {
    type Err = String;

    fn from_str(s: &str) -> Result<StartAt, String> {
        let number = |what: &str, digits: &str| {
            digits.parse::<u128>().map_err(|_| format!("`{s}`: {what} must be a decimal number, e.g. at:4950123"))
        };
        match s.split_once(':') {
            None if s == "trim-horizon" => Ok(StartAt::TrimHorizon),
            None if s == "latest" => Ok(StartAt::Latest),
            Some(("at", seq)) => number("the sequence number", seq).map(StartAt::At),
            Some(("after", seq)) => number("the sequence number", seq).map(StartAt::After),
            Some(("at-timestamp", ms)) => ms
                .parse::<u64>()
                .map(StartAt::AtTimestamp)
                .map_err(|_| format!("`{s}`: the timestamp must be milliseconds since the Unix epoch")),
            _ => {
                Err(format!("`{s}` is not a position: use trim-horizon, latest, at:SEQ, after:SEQ or at-timestamp:MS"))
            }
        }
    }
}

impl fmt::Display for StartAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartAt::TrimHorizon => f.write_str("trim-horizon"),
            StartAt::Latest => f.write_str("latest"),
            StartAt::At(seq) => write!(f, "at:{seq}"),
            StartAt::After(seq) => write!(f, "after:{seq}"),
            StartAt::AtTimestamp(ms) => write!(f, "at-timestamp:{ms}"),
        }
    }
}

impl StartAt {
    pub fn shard_iterator(self, stream: &str, shard: u32) -> GetShardIterator {
        match self {
            StartAt::TrimHorizon => GetShardIterator::new(stream, shard, ShardIteratorType::TrimHorizon),
            StartAt::Latest => GetShardIterator::new(stream, shard, ShardIteratorType::Latest),
            StartAt::At(seq) => GetShardIterator::at_sequence_number(stream, shard, seq),
            StartAt::After(seq) => GetShardIterator::after_sequence_number(stream, shard, seq),
            StartAt::AtTimestamp(ms) => GetShardIterator::at_timestamp(stream, shard, ms),
        }
    }

    pub fn starting_position(self) -> StartingPosition {
        match self {
            StartAt::TrimHorizon => StartingPosition::trim_horizon(),
            StartAt::Latest => StartingPosition::latest(),
            StartAt::At(seq) => StartingPosition::at_sequence_number(seq),
            StartAt::After(seq) => StartingPosition::after_sequence_number(seq),
            StartAt::AtTimestamp(ms) => StartingPosition::at_timestamp(ms),
        }
    }

    /// A sequence number belongs to one shard, so it cannot start a read of several.
    pub fn is_per_shard(self) -> bool {
        matches!(self, StartAt::At(_) | StartAt::After(_))
    }
}

/// `--shard`: an index (`3`) or a shard id (`shardId-000000000003`).
pub fn parse_shard(s: &str) -> Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .or_else(|| parse_shard_id(s))
        .ok_or_else(|| format!("`{s}` is not a shard: use an index (3) or a shard id ({})", shard_id(3)))
}
