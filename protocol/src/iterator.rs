//! Shard iterators: opaque to clients, self-contained and authenticated for the server.
//!
//! An iterator carries everything needed to serve the next GetRecords, so the server keeps no
//! per-iterator state, and iterators can be reused until they expire (as in Kinesis). Because
//! the client holds the bytes, they are sealed with a MAC under a server key: a client cannot
//! forge a position in a shard or another stream, nor extend the lifetime. Changing any byte
//! makes [`ShardIteratorToken::open`] fail with [`IteratorError::Invalid`].
//!
//! MAC choice: HMAC-SHA256 from the RustCrypto `hmac` and `sha2` crates, rather than a fast
//! non-cryptographic hash (which a client could forge) or keyed BLAKE3 (equally sound, but a
//! second hash family and C/assembly build steps next to the md-5 the engine already uses).
//! HMAC-SHA256 costs about a microsecond for ~100 bytes, negligible beside a GetRecords.
//!
//! Sealed layout (server-internal; clients must not parse it, and it may change with a key
//! rotation or a server upgrade):
//!
//! ```text
//! u8   format (1)
//! u64  issued_ms
//! u64  stream_incarnation
//! u32  shard index
//! u8   position: 1 = at sequence number (u128 follows), 2 = latest at issue
//! str  stream name (u16 length + UTF-8)
//! [32] HMAC-SHA256(key, all bytes above)
//! ```

use bytes::{Bytes, BytesMut};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::codec::{Reader, Writer};
use crate::limits::{SHARD_ITERATOR_LIFETIME_MS, SHARD_ITERATOR_SIZE_BYTES_MAX, STREAM_NAME_LENGTH_CHARS_MAX};
use crate::status::Status;

type HmacSha256 = Hmac<Sha256>;

/// Size of the server's iterator key.
pub const SHARD_ITERATOR_KEY_SIZE_BYTES: usize = 32;
const TAG_SIZE_BYTES: usize = 32;
const FORMAT: u8 = 1;
const POSITION_AT: u8 = 1;
const POSITION_LATEST: u8 = 2;
/// The largest sealed iterator: every fixed field, a u128 position and a 128-byte name.
const SEALED_SIZE_BYTES_MAX: usize = 1 + 8 + 8 + 4 + 1 + 16 + 2 + STREAM_NAME_LENGTH_CHARS_MAX + TAG_SIZE_BYTES;
const _: () = assert!(SEALED_SIZE_BYTES_MAX <= SHARD_ITERATOR_SIZE_BYTES_MAX);

/// Where the next GetRecords starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IteratorPosition {
    /// The first record whose sequence number is at least this one.
    AtSequenceNumber(u128),
    /// Whatever follows the newest record at `issued_ms`: a LATEST iterator, resolved by the
    /// server when it is first used.
    LatestAtIssue,
}

/// The server's view of a shard iterator.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShardIteratorToken {
    pub stream_name: String,
    /// Distinguishes a stream from an earlier, deleted stream of the same name.
    pub stream_incarnation: u64,
    pub shard: u32,
    pub position: IteratorPosition,
    pub issued_ms: u64,
}

/// Why an iterator was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IteratorError {
    /// Forged, corrupted, truncated, or sealed under another key.
    #[error("Invalid ShardIterator.")]
    Invalid,
    #[error(
        "Iterator expired. The iterator was created at time {} while right now it is {} which is \
         further in the future than the tolerated delay of {SHARD_ITERATOR_LIFETIME_MS} milliseconds.",
        kinesis_date(*issued_ms),
        kinesis_date(*now_ms)
    )]
    Expired { issued_ms: u64, now_ms: u64 },
}

impl IteratorError {
    pub fn status(&self) -> Status {
        match self {
            IteratorError::Invalid => Status::InvalidArgument,
            IteratorError::Expired { .. } => Status::ExpiredIterator,
        }
    }
}

fn mac(key: &[u8; SHARD_ITERATOR_KEY_SIZE_BYTES]) -> HmacSha256 {
    // HMAC takes keys of any length (RFC 2104 §2), so this never fails.
    #[allow(clippy::expect_used)]
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

impl ShardIteratorToken {
    /// The iterator bytes handed to the client.
    ///
    /// The stream name must be a valid one (at most 128 bytes): the server only issues
    /// iterators for streams that exist, and that bound keeps iterators within 512 bytes.
    pub fn seal(&self, key: &[u8; SHARD_ITERATOR_KEY_SIZE_BYTES]) -> Vec<u8> {
        assert!(self.stream_name.len() <= STREAM_NAME_LENGTH_CHARS_MAX, "iterator for an invalid stream name");
        let mut buf = BytesMut::with_capacity(SEALED_SIZE_BYTES_MAX);
        let mut w = Writer::new(&mut buf);
        w.u8("format", FORMAT);
        w.u64("issued_ms", self.issued_ms);
        w.u64("stream_incarnation", self.stream_incarnation);
        w.u32("shard", self.shard);
        match self.position {
            IteratorPosition::AtSequenceNumber(sequence_number) => {
                w.u8("position", POSITION_AT);
                w.u128("sequence_number", sequence_number);
            }
            IteratorPosition::LatestAtIssue => w.u8("position", POSITION_LATEST),
        }
        // Cannot fail: the name is at most 128 bytes (asserted above).
        let named = w.string("stream_name", &self.stream_name);
        assert!(named.is_ok(), "stream name fits its length prefix");
        let mut mac = mac(key);
        mac.update(&buf);
        buf.extend_from_slice(&mac.finalize().into_bytes());
        assert!(buf.len() <= SEALED_SIZE_BYTES_MAX, "sealed iterator within its bound");
        buf.to_vec()
    }

    /// Checks an iterator's MAC, then its age at `now_ms`. The MAC is checked first and in
    /// constant time, so nothing about an unauthenticated iterator is ever read.
    pub fn open(
        sealed: &[u8],
        key: &[u8; SHARD_ITERATOR_KEY_SIZE_BYTES],
        now_ms: u64,
    ) -> Result<ShardIteratorToken, IteratorError> {
        let payload_len = sealed.len().checked_sub(TAG_SIZE_BYTES).ok_or(IteratorError::Invalid)?;
        let (payload, tag) = sealed.split_at(payload_len);
        let mut mac = mac(key);
        mac.update(payload);
        mac.verify_slice(tag).map_err(|_| IteratorError::Invalid)?;

        let payload = Bytes::copy_from_slice(payload);
        let token = Self::parse(&mut Reader::new(&payload)).ok_or(IteratorError::Invalid)?;
        if now_ms.saturating_sub(token.issued_ms) > SHARD_ITERATOR_LIFETIME_MS {
            return Err(IteratorError::Expired { issued_ms: token.issued_ms, now_ms });
        }
        Ok(token)
    }

    fn parse(r: &mut Reader<'_>) -> Option<ShardIteratorToken> {
        if r.u8("format").ok()? != FORMAT {
            return None;
        }
        let issued_ms = r.u64("issued_ms").ok()?;
        let stream_incarnation = r.u64("stream_incarnation").ok()?;
        let shard = r.u32("shard").ok()?;
        let position = match r.u8("position").ok()? {
            POSITION_AT => IteratorPosition::AtSequenceNumber(r.u128("sequence_number").ok()?),
            POSITION_LATEST => IteratorPosition::LatestAtIssue,
            _ => return None,
        };
        let stream_name = r.string("stream_name").ok()?;
        r.finish().ok()?;
        Some(ShardIteratorToken { stream_name, stream_incarnation, shard, position, issued_ms })
    }
}

/// Formats epoch milliseconds the way Kinesis' messages do: `Thu Jan 22 01:22:02 UTC 2015`.
pub fn kinesis_date(epoch_ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let seconds = epoch_ms / 1000;
    let days = seconds / 86_400;
    let (hour, minute, second) = (seconds % 86_400 / 3600, seconds % 3600 / 60, seconds % 60);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS.get((days % 7) as usize).copied().unwrap_or("???");
    let month_name = MONTHS.get(month.saturating_sub(1) as usize).copied().unwrap_or("???");
    format!("{weekday} {month_name} {day:02} {hour:02}:{minute:02}:{second:02} UTC {year}")
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`, restricted to dates on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn token() -> ShardIteratorToken {
        ShardIteratorToken {
            stream_name: "orders".to_owned(),
            stream_incarnation: 42,
            shard: 3,
            position: IteratorPosition::AtSequenceNumber(u128::MAX - 12_345),
            issued_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn seal_then_open_returns_the_token() {
        let t = token();
        assert_eq!(ShardIteratorToken::open(&t.seal(&KEY), &KEY, t.issued_ms), Ok(t.clone()));
        let latest = ShardIteratorToken { position: IteratorPosition::LatestAtIssue, ..t };
        assert_eq!(ShardIteratorToken::open(&latest.seal(&KEY), &KEY, latest.issued_ms + 1), Ok(latest));
    }

    #[test]
    fn every_flipped_byte_is_rejected() {
        let sealed = token().seal(&KEY);
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                if let Some(b) = bad.get_mut(i) {
                    *b ^= 1 << bit;
                }
                assert_eq!(ShardIteratorToken::open(&bad, &KEY, 0), Err(IteratorError::Invalid), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn truncated_extended_or_foreign_key_iterators_are_rejected() {
        let sealed = token().seal(&KEY);
        for len in 0..sealed.len() {
            let cut = sealed.get(..len).unwrap_or_default();
            assert_eq!(ShardIteratorToken::open(cut, &KEY, 0), Err(IteratorError::Invalid));
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(ShardIteratorToken::open(&longer, &KEY, 0), Err(IteratorError::Invalid));
        assert_eq!(ShardIteratorToken::open(&sealed, &[8; 32], 0), Err(IteratorError::Invalid));
    }

    #[test]
    fn expires_after_the_lifetime_with_kinesis_message() {
        let t = token();
        let sealed = t.seal(&KEY);
        let last_valid = t.issued_ms + SHARD_ITERATOR_LIFETIME_MS;
        assert!(ShardIteratorToken::open(&sealed, &KEY, last_valid).is_ok());
        let e = ShardIteratorToken::open(&sealed, &KEY, last_valid + 1);
        assert_eq!(e, Err(IteratorError::Expired { issued_ms: t.issued_ms, now_ms: last_valid + 1 }));
        let message = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            message,
            "Iterator expired. The iterator was created at time Tue Nov 14 22:13:20 UTC 2023 while \
             right now it is Tue Nov 14 22:18:20 UTC 2023 which is further in the future than the \
             tolerated delay of 300000 milliseconds."
        );
    }

    #[test]
    fn dates_match_known_values() {
        assert_eq!(kinesis_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(kinesis_date(1_421_889_722_000), "Thu Jan 22 01:22:02 UTC 2015");
        assert_eq!(kinesis_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
    }

    #[test]
    fn largest_token_fits_the_iterator_limit() {
        let t = ShardIteratorToken { stream_name: "s".repeat(STREAM_NAME_LENGTH_CHARS_MAX), ..token() };
        assert_eq!(t.seal(&KEY).len(), SEALED_SIZE_BYTES_MAX);
    }
}
