//! Hash keys and routing: which shard a record belongs to.
//!
//! The hash key of a record is MD5 of its partition key's UTF-8 bytes read
//! as a big-endian `u128`, unless the producer gives an explicit hash key.
//! Each shard owns an inclusive range of the 128-bit key space.

use md5::{Digest, Md5};

use crate::error::{EngineError, Result};

/// An inclusive range of 128-bit hash keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashKeyRange {
    pub start: u128,
    pub end: u128,
}

impl HashKeyRange {
    pub const FULL: HashKeyRange = HashKeyRange { start: 0, end: u128::MAX };

    pub fn contains(&self, key: u128) -> bool {
        self.start <= key && key <= self.end
    }

    /// Splits the whole key space into `n` ranges the way Kinesis'
    /// CreateStream does: size = ⌊2^128 / n⌋, shard i = [i·size,
    /// (i+1)·size − 1], and the last shard ends at 2^128 − 1.
    pub fn even_split(n: u32) -> Vec<HashKeyRange> {
        assert!(n >= 1, "a stream has at least one shard");
        // ⌊2^128 / n⌋ computed without overflowing: (2^128 − 1) / n differs
        // from it only when n divides 2^128, i.e. n is a power of two.
        let n128 = n as u128;
        let size = if n.is_power_of_two() {
            if n == 1 {
                0 // unused: the single range is FULL
            } else {
                1u128 << (128 - n.trailing_zeros())
            }
        } else {
            u128::MAX / n128
        };
        (0..n128)
            .map(|i| {
                let start = i * size;
                let end = if i + 1 == n128 { u128::MAX } else { (i + 1) * size - 1 };
                HashKeyRange { start, end }
            })
            .collect()
    }
}

/// MD5 of the partition key's UTF-8 bytes, read as a big-endian u128.
pub fn partition_key_hash(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// Parses an explicit hash key: a decimal integer in [0, 2^128 − 1].
pub fn parse_explicit_hash_key(s: &str) -> Result<u128> {
    let well_formed =
        !s.is_empty() && s.len() <= 39 && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    match s.parse::<u128>() {
        Ok(v) if well_formed => Ok(v),
        _ => Err(EngineError::InvalidArgument(format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {s}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MD5 reference vectors from RFC 1321 §A.5, computed independently of
    /// this code, read as big-endian u128.
    #[test]
    fn md5_reference_vectors() {
        let vectors = [
            ("", 0xd41d8cd98f00b204e9800998ecf8427e_u128),
            ("a", 0x0cc175b9c0f1b6a831c399e269772661),
            ("abc", 0x900150983cd24fb0d6963f7d28e17f72),
            ("message digest", 0xf96b697d7cb7938d525a2f31aaf161d0),
            ("abcdefghijklmnopqrstuvwxyz", 0xc3fcd3d76192e4007dfb496cca67e13b),
        ];
        for (key, want) in vectors {
            assert_eq!(partition_key_hash(key), want, "key {key:?}");
        }
    }

    #[test]
    fn even_split_matches_kinesis() {
        // Kinesis' 3-shard layout (kinesis-reference.md §3).
        let r = HashKeyRange::even_split(3);
        assert_eq!(r[0].end, 113427455640312821154458202477256070484);
        assert_eq!(r[1].start, 113427455640312821154458202477256070485);
        assert_eq!(r[1].end, 226854911280625642308916404954512140969);
        assert_eq!(r[2].end, u128::MAX);
        assert_eq!(HashKeyRange::even_split(1), vec![HashKeyRange::FULL]);
        let two = HashKeyRange::even_split(2);
        assert_eq!(two[0].end, (1u128 << 127) - 1);
        assert_eq!(two[1].start, 1u128 << 127);
        for n in [1, 2, 3, 4, 7, 16, 1000] {
            let r = HashKeyRange::even_split(n);
            assert_eq!(r.len(), n as usize);
            assert_eq!(r[0].start, 0);
            assert_eq!(r[r.len() - 1].end, u128::MAX);
            for w in r.windows(2) {
                assert_eq!(w[0].end + 1, w[1].start, "gap or overlap for n={n}");
            }
        }
    }

    #[test]
    fn explicit_hash_key_bounds() {
        assert_eq!(parse_explicit_hash_key("0").ok(), Some(0));
        assert_eq!(parse_explicit_hash_key("340282366920938463463374607431768211455").ok(), Some(u128::MAX));
        for bad in ["", "-1", "340282366920938463463374607431768211456", "01", "x"] {
            assert!(parse_explicit_hash_key(bad).is_err(), "{bad:?} accepted");
        }
    }
}
