//! ListShards paging tokens: opaque to clients, authenticated with the
//! server key, valid for 300 s (Kinesis' NextToken lifetime).
//!
//! Layout: `format u8 | issued_ms u64 | incarnation u64 | after_shard u32 |
//! max_results u32 | filter type u8 (0: none) | filter timestamp_ms u64 |
//! stream name (u16 len + UTF-8) | HMAC-SHA256 (32)`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use shoal_protocol::ops::ShardFilterType;

use crate::secret::Key;

/// 2: the ListShards filter travels in the token.
const FORMAT: u8 = 2;
const TAG_BYTES: usize = 32;
pub const NEXT_TOKEN_LIFETIME_MS: u64 = 300_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextToken {
    pub stream_name: String,
    pub incarnation: u64,
    /// Listing continues after this shard index.
    pub after_shard: u32,
    pub max_results: u32,
    pub issued_ms: u64,
    /// The first page's ListShards filter, which later pages keep (a
    /// request with a token may not repeat it): its type and timestamp.
    /// AFTER_SHARD_ID is not kept, `after_shard` already says where to go on.
    pub filter: Option<(ShardFilterType, Option<u64>)>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Invalid,
    Expired,
}

fn mac(key: &Key) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

impl NextToken {
    pub fn seal(&self, key: &Key) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.stream_name.len());
        out.push(FORMAT);
        out.extend_from_slice(&self.issued_ms.to_le_bytes());
        out.extend_from_slice(&self.incarnation.to_le_bytes());
        out.extend_from_slice(&self.after_shard.to_le_bytes());
        out.extend_from_slice(&self.max_results.to_le_bytes());
        let (filter_type, timestamp_ms) = self.filter.map_or((0, None), |(t, ts)| (t as u8, ts));
        out.push(filter_type);
        out.push(u8::from(timestamp_ms.is_some()));
        out.extend_from_slice(&timestamp_ms.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&(self.stream_name.len() as u16).to_le_bytes());
        out.extend_from_slice(self.stream_name.as_bytes());
        let mut m = mac(key);
        m.update(&out);
        out.extend_from_slice(&m.finalize().into_bytes());
        out
    }

    pub fn open(bytes: &[u8], key: &Key, now_ms: u64) -> Result<NextToken, TokenError> {
        let body_len = bytes.len().checked_sub(TAG_BYTES).ok_or(TokenError::Invalid)?;
        let (body, tag) = bytes.split_at(body_len);
        let mut m = mac(key);
        m.update(body);
        m.verify_slice(tag).map_err(|_| TokenError::Invalid)?;
        let mut b = body;
        let mut take = |n: usize| -> Result<&[u8], TokenError> {
            if b.len() < n {
                return Err(TokenError::Invalid);
            }
            let (head, rest) = b.split_at(n);
            b = rest;
            Ok(head)
        };
        let u64_at = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap_or([0; 8]));
        let u32_at = |s: &[u8]| u32::from_le_bytes(s.try_into().unwrap_or([0; 4]));
        if take(1)? != [FORMAT] {
            return Err(TokenError::Invalid);
        }
        let issued_ms = u64_at(take(8)?);
        let incarnation = u64_at(take(8)?);
        let after_shard = u32_at(take(4)?);
        let max_results = u32_at(take(4)?);
        let filter_type = take(1)?[0];
        let has_timestamp = take(1)?[0] == 1;
        let timestamp_ms = u64_at(take(8)?);
        let filter = match filter_type {
            0 => None,
            code => Some((
                ShardFilterType::from_u8(code).ok_or(TokenError::Invalid)?,
                has_timestamp.then_some(timestamp_ms),
            )),
        };
        let len = u16::from_le_bytes(take(2)?.try_into().unwrap_or([0; 2])) as usize;
        let stream_name = std::str::from_utf8(take(len)?).map_err(|_| TokenError::Invalid)?.to_owned();
        if !b.is_empty() {
            return Err(TokenError::Invalid);
        }
        if now_ms.saturating_sub(issued_ms) > NEXT_TOKEN_LIFETIME_MS {
            return Err(TokenError::Expired);
        }
        Ok(NextToken { stream_name, incarnation, after_shard, max_results, issued_ms, filter })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_tamper_expire() {
        let key = [7u8; 32];
        let t = NextToken {
            stream_name: "s".into(),
            incarnation: 3,
            after_shard: 9,
            max_results: 100,
            issued_ms: 1_000,
            filter: Some((ShardFilterType::FromTimestamp, Some(123_456))),
        };
        let sealed = t.seal(&key);
        assert_eq!(NextToken::open(&sealed, &key, 2_000), Ok(t.clone()));
        assert_eq!(NextToken::open(&sealed, &key, 1_000 + NEXT_TOKEN_LIFETIME_MS + 1), Err(TokenError::Expired));
        assert_eq!(NextToken::open(&sealed, &[8u8; 32], 2_000), Err(TokenError::Invalid));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(NextToken::open(&bad, &key, 2_000), Err(TokenError::Invalid), "byte {i}");
        }
        assert_eq!(NextToken::open(&sealed[..10], &key, 2_000), Err(TokenError::Invalid));
    }
}
