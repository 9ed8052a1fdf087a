//! Sequence numbers.
//!
//! # Encoding
//! A sequence number is a `u128`, rendered for people and protocols as its
//! decimal string (at most 39 digits, so it matches Kinesis' pattern
//! `0|([1-9]\d{0,128})`). Its bits are:
//!
//! ```text
//!  127            64 63          32 31           0
//! +----------------+--------------+--------------+
//! | counter (u64)  | stream tag   | shard index  |
//! +----------------+--------------+--------------+
//! ```
//!
//! * `counter` increases by one per record within a shard (it may jump
//!   forward to honour SequenceNumberForOrdering); a child shard starts
//!   above every parent's last counter. Comparing two numbers of one shard
//!   therefore compares their positions.
//! * `stream tag` is derived from the stream's name and creation time, so a
//!   number from another stream (or a deleted and re-created one) is caught.
//! * `shard index` makes the number unique within the stream and tells which
//!   shard it came from.

use std::fmt;
use std::str::FromStr;

/// A record's sequence number. See the module documentation for its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber(pub u128);

impl SequenceNumber {
    pub const fn new(counter: u64, stream_tag: u32, shard_index: u32) -> Self {
        Self(((counter as u128) << 64) | ((stream_tag as u128) << 32) | shard_index as u128)
    }

    pub const fn counter(self) -> u64 {
        (self.0 >> 64) as u64
    }

    pub const fn stream_tag(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub const fn shard_index(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a decimal string is not a sequence number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid sequence number {0:?}: expected a decimal integer below 2^128 without leading zeros")]
pub struct ParseSequenceError(pub String);

impl FromStr for SequenceNumber {
    type Err = ParseSequenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let well_formed = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
        if !well_formed {
            return Err(ParseSequenceError(s.to_owned()));
        }
        s.parse::<u128>().map(SequenceNumber).map_err(|_| ParseSequenceError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_and_order_follows_counter() {
        let a = SequenceNumber::new(7, 0xdead_beef, 3);
        assert_eq!(a.counter(), 7);
        assert_eq!(a.stream_tag(), 0xdead_beef);
        assert_eq!(a.shard_index(), 3);
        let b = SequenceNumber::new(8, 0, 0);
        assert!(b > a, "a higher counter sorts later whatever the tag and shard");
    }

    #[test]
    fn decimal_round_trip_and_rejects() {
        let a = SequenceNumber::new(u64::MAX, u32::MAX, u32::MAX);
        assert_eq!(a.to_string(), u128::MAX.to_string());
        assert_eq!(a.to_string().parse::<SequenceNumber>(), Ok(a));
        for bad in ["", "01", "-1", "1a", "340282366920938463463374607431768211456"] {
            assert!(bad.parse::<SequenceNumber>().is_err(), "{bad:?} accepted");
        }
        assert_eq!("0".parse::<SequenceNumber>(), Ok(SequenceNumber(0)));
    }
}
