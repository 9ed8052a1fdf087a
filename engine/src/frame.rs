//! The on-disk batch frame: one header and one CRC per batch of records.
//!
//! ```text
//! offset size field
//!  0     4    magic          "SHF1" as bytes 53 48 46 31
//!  4     1    version        1
//!  5     1    flags          0 (reserved)
//!  6     2    reserved       0
//!  8     4    payload_len    bytes of records after the header (LE)
//! 12     4    record_count   (LE), ≥ 1
//! 16     8    base_counter   counter of the first record; record i has
//!                            base_counter + i (LE)
//! 24     8    arrival_ms     server arrival time of every record (LE)
//! 32     4    payload_crc    CRC-32 of the payload (LE)
//! 36     4    header_crc     CRC-32 of bytes 0..36 (LE)
//! 40          payload: record_count × { key_len u16, data_len u32, key, data }
//! ```
//!
//! The header has its own CRC so that a reader can trust `payload_len`
//! before reading the payload; this is also what finds a torn tail. A zero
//! magic means "end of log" (segments are zero-padded to 4 KiB).

use bytes::{Buf, BufMut, Bytes};

use crate::checksum::{crc32, crc32_parts};
use crate::limits::{APPEND_BYTES_MAX, APPEND_RECORDS_MAX, PARTITION_KEY_BYTES_MAX};
use crate::model::RecordInput;

pub const FRAME_MAGIC: [u8; 4] = *b"SHF1";
pub const FRAME_VERSION: u8 = 1;
pub const FRAME_HEADER_BYTES: usize = 40;
/// Per-record overhead inside the payload: key_len u16 + data_len u32.
pub const RECORD_OVERHEAD_BYTES: usize = 6;
/// Largest payload a valid frame may declare: a full append plus overhead.
pub const FRAME_PAYLOAD_BYTES_MAX: usize = APPEND_BYTES_MAX + APPEND_RECORDS_MAX * RECORD_OVERHEAD_BYTES;

const _: () = assert!(FRAME_HEADER_BYTES == 40);
const _: () = assert!(PARTITION_KEY_BYTES_MAX <= u16::MAX as usize);

/// A decoded, CRC-verified frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub payload_len: u32,
    pub record_count: u32,
    pub base_counter: u64,
    pub arrival_ms: u64,
    pub payload_crc: u32,
}

impl FrameHeader {
    pub fn frame_len(&self) -> usize {
        FRAME_HEADER_BYTES + self.payload_len as usize
    }

    /// Counter one past this frame's last record.
    pub fn end_counter(&self) -> u64 {
        self.base_counter + self.record_count as u64
    }
}

/// What a header check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderCheck {
    Valid(FrameHeader),
    /// Zero magic: the end of written data (padding).
    End,
    /// Fewer than [`FRAME_HEADER_BYTES`] available.
    Short,
    /// Bad magic, version, CRC or impossible lengths.
    Invalid(&'static str),
}

/// Encodes records into one frame, appending to `out`.
pub fn encode_frame(out: &mut Vec<u8>, records: &[RecordInput], base_counter: u64, arrival_ms: u64) {
    assert!(!records.is_empty(), "a frame holds at least one record");
    let payload_len: usize = records.iter().map(|r| RECORD_OVERHEAD_BYTES + r.partition_key.len() + r.data.len()).sum();
    assert!(payload_len <= FRAME_PAYLOAD_BYTES_MAX, "append limits keep frames bounded");
    let start = out.len();
    out.reserve(FRAME_HEADER_BYTES + payload_len);
    out.extend_from_slice(&[0u8; FRAME_HEADER_BYTES]);
    for r in records {
        out.put_u16_le(r.partition_key.len() as u16);
        out.put_u32_le(r.data.len() as u32);
        out.extend_from_slice(r.partition_key.as_bytes());
        out.extend_from_slice(&r.data);
    }
    let payload_crc = crc32(&out[start + FRAME_HEADER_BYTES..]);
    let mut h = &mut out[start..start + FRAME_HEADER_BYTES];
    h.put_slice(&FRAME_MAGIC);
    h.put_u8(FRAME_VERSION);
    h.put_u8(0);
    h.put_u16_le(0);
    h.put_u32_le(payload_len as u32);
    h.put_u32_le(records.len() as u32);
    h.put_u64_le(base_counter);
    h.put_u64_le(arrival_ms);
    h.put_u32_le(payload_crc);
    let header_crc = crc32_parts(&[&out[start..start + 36]]);
    out[start + 36..start + 40].copy_from_slice(&header_crc.to_le_bytes());
}

/// Checks the header at the start of `buf`.
pub fn check_header(buf: &[u8]) -> HeaderCheck {
    let Some(mut h) = buf.get(..FRAME_HEADER_BYTES) else {
        if buf.len() >= 4 && buf[..4] == [0, 0, 0, 0] {
            return HeaderCheck::End;
        }
        return HeaderCheck::Short;
    };
    if h[..4] == [0, 0, 0, 0] {
        return HeaderCheck::End;
    }
    let header_crc = u32::from_le_bytes([h[36], h[37], h[38], h[39]]);
    if crc32(&h[..36]) != header_crc {
        return HeaderCheck::Invalid("header CRC mismatch");
    }
    if h[..4] != FRAME_MAGIC {
        return HeaderCheck::Invalid("bad magic");
    }
    if h[4] != FRAME_VERSION {
        return HeaderCheck::Invalid("unknown frame version");
    }
    h.advance(8);
    let payload_len = h.get_u32_le();
    let record_count = h.get_u32_le();
    let base_counter = h.get_u64_le();
    let arrival_ms = h.get_u64_le();
    let payload_crc = h.get_u32_le();
    if payload_len as usize > FRAME_PAYLOAD_BYTES_MAX {
        return HeaderCheck::Invalid("payload length over the maximum");
    }
    if record_count == 0 || record_count as usize * RECORD_OVERHEAD_BYTES > payload_len as usize {
        return HeaderCheck::Invalid("record count inconsistent with payload length");
    }
    HeaderCheck::Valid(FrameHeader { payload_len, record_count, base_counter, arrival_ms, payload_crc })
}

/// Verifies a payload against its header and that its records parse
/// exactly. Returns a reason on failure.
pub fn verify_payload(header: &FrameHeader, payload: &[u8]) -> Result<(), &'static str> {
    if payload.len() != header.payload_len as usize {
        return Err("payload length mismatch");
    }
    if crc32(payload) != header.payload_crc {
        return Err("payload CRC mismatch");
    }
    let mut p = payload;
    for _ in 0..header.record_count {
        if p.len() < RECORD_OVERHEAD_BYTES {
            return Err("record header past the payload end");
        }
        let key_len = p.get_u16_le() as usize;
        let data_len = p.get_u32_le() as usize;
        if p.len() < key_len + data_len {
            return Err("record body past the payload end");
        }
        if std::str::from_utf8(&p[..key_len]).is_err() {
            return Err("partition key is not UTF-8");
        }
        p.advance(key_len + data_len);
    }
    if !p.is_empty() {
        return Err("trailing bytes after the last record");
    }
    Ok(())
}

/// One record inside a verified payload: (key, data), as zero-copy slices.
pub struct PayloadRecords {
    payload: Bytes,
    remaining: u32,
}

impl PayloadRecords {
    /// `payload` must have passed [`verify_payload`].
    pub fn new(payload: Bytes, record_count: u32) -> Self {
        Self { payload, remaining: record_count }
    }
}

impl Iterator for PayloadRecords {
    type Item = (Bytes, Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let key_len = self.payload.get_u16_le() as usize;
        let data_len = self.payload.get_u32_le() as usize;
        let key = self.payload.split_to(key_len);
        let data = self.payload.split_to(data_len);
        Some((key, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<RecordInput> {
        vec![RecordInput::new("k1", &b"hello"[..]), RecordInput::new("ключ", Bytes::new())]
    }

    #[test]
    fn encode_then_check_and_iterate() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, &sample(), 42, 1_000);
        let HeaderCheck::Valid(h) = check_header(&buf) else { panic!("header should be valid") };
        assert_eq!(h.base_counter, 42);
        assert_eq!(h.end_counter(), 44);
        assert_eq!(h.arrival_ms, 1_000);
        assert_eq!(h.frame_len(), buf.len());
        let payload = &buf[FRAME_HEADER_BYTES..];
        assert_eq!(verify_payload(&h, payload), Ok(()));
        let recs: Vec<_> = PayloadRecords::new(Bytes::copy_from_slice(payload), h.record_count).collect();
        assert_eq!(recs[0], (Bytes::from_static(b"k1"), Bytes::from_static(b"hello")));
        assert_eq!(recs[1].0, Bytes::from("ключ".as_bytes()));
        assert!(recs[1].1.is_empty());
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, &sample(), 1, 2);
        for i in 0..buf.len() * 8 {
            let mut b = buf.clone();
            b[i / 8] ^= 1 << (i % 8);
            let ok = match check_header(&b) {
                HeaderCheck::Valid(h) => verify_payload(&h, &b[FRAME_HEADER_BYTES..]).is_ok(),
                _ => false,
            };
            assert!(!ok, "flip of bit {i} went unnoticed");
        }
    }

    #[test]
    fn zeros_mean_end_and_short_means_short() {
        assert_eq!(check_header(&[0u8; 64]), HeaderCheck::End);
        assert_eq!(check_header(&[0u8; 4]), HeaderCheck::End);
        assert_eq!(check_header(b"SHF1"), HeaderCheck::Short);
    }
}
