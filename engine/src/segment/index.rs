//! The sparse per-segment index: counter → file offset and arrival time →
//! counter, one entry per [`INDEX_INTERVAL_BYTES`] of frames.
//!
//! A sealed segment's index is saved beside it as `<base>.idx`:
//!
//! ```text
//! magic "SHX1" | version u32 | base_counter u64 | end_counter u64 |
//! data_len u64 | first_ms u64 | last_ms u64 | entry_count u32 |
//! entries × { counter u64, offset u64, arrival_ms u64 } | crc32 u32
//! ```
//! (all little-endian; the CRC covers everything before it). A missing or
//! damaged file is rebuilt by scanning the segment.

use bytes::{Buf, BufMut};

use crate::checksum::crc32;
use crate::limits::INDEX_INTERVAL_BYTES;

const INDEX_MAGIC: [u8; 4] = *b"SHX1";
const INDEX_VERSION: u32 = 1;
const INDEX_FIXED_BYTES: usize = 4 + 4 + 8 * 5 + 4;
const INDEX_ENTRY_BYTES: usize = 24;

/// One sparse entry: the frame starting at `offset` begins with `counter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub counter: u64,
    pub offset: u64,
    pub arrival_ms: u64,
}

/// What a segment holds, as far as readers need to know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentSummary {
    /// Counter one past the last record (== base when empty).
    pub end_counter: u64,
    /// Bytes of valid frames from offset 0.
    pub data_len: u64,
    /// Arrival times of the first and last record, if any.
    pub first_ms: Option<u64>,
    pub last_ms: Option<u64>,
    pub entries: Vec<IndexEntry>,
}

impl SegmentSummary {
    pub fn empty(base_counter: u64) -> Self {
        Self { end_counter: base_counter, ..Self::default() }
    }

    /// Records a frame that was just appended at `offset`.
    pub fn note_frame(&mut self, offset: u64, len: u64, base_counter: u64, end_counter: u64, arrival_ms: u64) {
        debug_assert_eq!(offset, self.data_len, "frames are contiguous");
        let due = match self.entries.last() {
            None => true,
            Some(last) => offset - last.offset >= INDEX_INTERVAL_BYTES,
        };
        if due {
            self.entries.push(IndexEntry { counter: base_counter, offset, arrival_ms });
        }
        self.first_ms.get_or_insert(arrival_ms);
        self.last_ms = Some(arrival_ms);
        self.end_counter = end_counter;
        self.data_len = offset + len;
    }

    /// Offset of the last indexed frame starting at or before `counter`.
    pub fn offset_for_counter(&self, counter: u64) -> u64 {
        let i = self.entries.partition_point(|e| e.counter <= counter);
        i.checked_sub(1).and_then(|i| self.entries.get(i)).map_or(0, |e| e.offset)
    }

    /// Offset of the last indexed frame that arrived strictly before
    /// `ms`: the first record at or after `ms` starts at or after it.
    pub fn offset_for_time(&self, ms: u64) -> u64 {
        let i = self.entries.partition_point(|e| e.arrival_ms < ms);
        i.checked_sub(1).and_then(|i| self.entries.get(i)).map_or(0, |e| e.offset)
    }

    pub fn encode(&self, base_counter: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(INDEX_FIXED_BYTES + self.entries.len() * INDEX_ENTRY_BYTES);
        out.put_slice(&INDEX_MAGIC);
        out.put_u32_le(INDEX_VERSION);
        out.put_u64_le(base_counter);
        out.put_u64_le(self.end_counter);
        out.put_u64_le(self.data_len);
        out.put_u64_le(self.first_ms.unwrap_or(u64::MAX));
        out.put_u64_le(self.last_ms.unwrap_or(u64::MAX));
        out.put_u32_le(self.entries.len() as u32);
        for e in &self.entries {
            out.put_u64_le(e.counter);
            out.put_u64_le(e.offset);
            out.put_u64_le(e.arrival_ms);
        }
        let crc = crc32(&out);
        out.put_u32_le(crc);
        out
    }

    /// Decodes an index file; `None` if it is damaged or not for `base`.
    pub fn decode(bytes: &[u8], base_counter: u64) -> Option<Self> {
        if bytes.len() < INDEX_FIXED_BYTES {
            return None;
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32(body).to_le_bytes() != crc {
            return None;
        }
        let mut b = body;
        if b.get(..4)? != INDEX_MAGIC {
            return None;
        }
        b.advance(4);
        if b.get_u32_le() != INDEX_VERSION || b.get_u64_le() != base_counter {
            return None;
        }
        let end_counter = b.get_u64_le();
        let data_len = b.get_u64_le();
        let first_ms = Some(b.get_u64_le()).filter(|&v| v != u64::MAX);
        let last_ms = Some(b.get_u64_le()).filter(|&v| v != u64::MAX);
        let n = b.get_u32_le() as usize;
        if b.len() != n.checked_mul(INDEX_ENTRY_BYTES)? || end_counter < base_counter {
            return None;
        }
        let entries = (0..n)
            .map(|_| IndexEntry { counter: b.get_u64_le(), offset: b.get_u64_le(), arrival_ms: b.get_u64_le() })
            .collect();
        Some(Self { end_counter, data_len, first_ms, last_ms, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_round_trip() {
        let mut s = SegmentSummary::empty(10);
        let mut off = 0;
        for i in 0..100u64 {
            s.note_frame(off, 10_000, 10 + i * 5, 15 + i * 5, 1000 + i);
            off += 10_000;
        }
        assert!(s.entries.len() > 5 && s.entries.len() < 100, "sparse");
        assert_eq!(s.offset_for_counter(10), 0);
        let o = s.offset_for_counter(400);
        assert!(o <= (400 - 10) / 5 * 10_000);
        assert!(s.offset_for_time(1050) <= 50 * 10_000);
        let enc = s.encode(10);
        assert_eq!(SegmentSummary::decode(&enc, 10), Some(s.clone()));
        assert_eq!(SegmentSummary::decode(&enc, 11), None, "wrong base");
        for i in 0..enc.len() {
            let mut bad = enc.clone();
            bad[i] ^= 0x40;
            assert_eq!(SegmentSummary::decode(&bad, 10), None, "flip at {i}");
        }
    }
}
