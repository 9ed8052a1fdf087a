//! The data of every record the load generator writes: who wrote it, when it was due, and a
//! checksum over everything else, so a reader can tell a record's identity and integrity from
//! its bytes alone.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "SHLG"
//!      4     4  producer        u32 LE   which producer connection wrote it
//!      8     8  counter         u64 LE   the producer's record number, dense from 0
//!     16     8  run_id          u64 LE   random per run: records of other runs are foreign
//!     24     8  due_ns          u64 LE   the put's intended send time, ns after the run's epoch
//!     32     8  checksum        u64 LE   XXH3-64 of bytes 0..32 followed by bytes 40..
//!     40     …  filler          pseudo-random bytes up to the record size
//! ```
//!
//! The filler differs from record to record (a window into a random buffer chosen by the
//! counter), so a record whose body was swapped for another's fails its checksum too.

use bytes::Bytes;
use xxhash_rust::xxh3::Xxh3;

pub const MAGIC: [u8; 4] = *b"SHLG";
/// The header's size: the smallest record the load generator writes.
pub const HEADER_BYTES: usize = 40;
const CHECKSUM_AT: usize = 32;
/// Distinct filler windows: the offset into the random buffer cycles through this many bytes.
const FILLER_WINDOW_BYTES: usize = 64 * 1024;

/// A record's identity: the producer that wrote it and its number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    pub producer: u32,
    pub counter: u64,
}

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {}/{}", self.producer, self.counter)
    }
}

/// What a payload's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: RecordId,
    pub run_id: u64,
    pub due_ns: u64,
}

/// Why a record's data is not an intact load-generator payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// Shorter than the header.
    TooShort { len: usize },
    /// No magic: not written by a load generator.
    NotLoadgen,
    /// The magic is there but the checksum does not match: the bytes changed.
    Checksum { stored: u64, computed: u64 },
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadError::TooShort { len } => write!(f, "{len} bytes, shorter than the {HEADER_BYTES}-byte header"),
            PayloadError::NotLoadgen => write!(f, "no load-generator magic"),
            PayloadError::Checksum { stored, computed } => {
                write!(f, "checksum mismatch (stored {stored:016x}, computed {computed:016x})")
            }
        }
    }
}

/// Random bytes that payload bodies are cut from; shared by all producers of a run.
#[derive(Debug)]
pub struct Filler {
    bytes: Vec<u8>,
    body_bytes: usize,
}

impl Filler {
    /// Filler for records of `record_bytes` (at least [`HEADER_BYTES`]).
    pub fn new(seed: u64, record_bytes: usize) -> Filler {
        assert!(record_bytes >= HEADER_BYTES, "records are at least {HEADER_BYTES} bytes");
        let body_bytes = record_bytes - HEADER_BYTES;
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut bytes = vec![0u8; FILLER_WINDOW_BYTES + body_bytes];
        rng.fill(&mut bytes);
        Filler { bytes, body_bytes }
    }

    fn body(&self, counter: u64) -> &[u8] {
        // An odd stride visits every offset of the window.
        let offset = (counter.wrapping_mul(8191) % FILLER_WINDOW_BYTES as u64) as usize;
        &self.bytes[offset..offset + self.body_bytes]
    }

    pub fn record_bytes(&self) -> usize {
        HEADER_BYTES + self.body_bytes
    }
}

/// Builds the data of one record.
pub fn build(header: &Header, filler: &Filler) -> Bytes {
    let mut out = Vec::with_capacity(filler.record_bytes());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&header.id.producer.to_le_bytes());
    out.extend_from_slice(&header.id.counter.to_le_bytes());
    out.extend_from_slice(&header.run_id.to_le_bytes());
    out.extend_from_slice(&header.due_ns.to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(filler.body(header.id.counter));
    let sum = checksum(&out);
    out[CHECKSUM_AT..HEADER_BYTES].copy_from_slice(&sum.to_le_bytes());
    Bytes::from(out)
}

/// Parses and checks a record's data.
pub fn parse(data: &[u8]) -> Result<Header, PayloadError> {
    if data.len() < HEADER_BYTES {
        return Err(PayloadError::TooShort { len: data.len() });
    }
    if data[..4] != MAGIC {
        return Err(PayloadError::NotLoadgen);
    }
    let stored = u64_at(data, CHECKSUM_AT);
    let computed = checksum(data);
    if stored != computed {
        return Err(PayloadError::Checksum { stored, computed });
    }
    Ok(Header {
        id: RecordId { producer: u32::from_le_bytes([data[4], data[5], data[6], data[7]]), counter: u64_at(data, 8) },
        run_id: u64_at(data, 16),
        due_ns: u64_at(data, 24),
    })
}

/// The intended send time of a record, without checking it (for latency on the read path).
pub fn peek_due_ns(data: &[u8]) -> Option<u64> {
    (data.len() >= HEADER_BYTES && data[..4] == MAGIC).then(|| u64_at(data, 24))
}

fn checksum(data: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(&data[..CHECKSUM_AT]);
    h.update(&data[HEADER_BYTES..]);
    h.digest()
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&data[at..at + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(counter: u64) -> Header {
        Header { id: RecordId { producer: 3, counter }, run_id: 0xfeed, due_ns: 123_456 }
    }

    #[test]
    fn a_payload_round_trips() {
        let filler = Filler::new(7, 1024);
        let data = build(&header(42), &filler);
        assert_eq!(data.len(), 1024);
        assert_eq!(parse(&data), Ok(header(42)));
        assert_eq!(peek_due_ns(&data), Some(123_456));
        let smallest = Filler::new(7, HEADER_BYTES);
        assert_eq!(parse(&build(&header(1), &smallest)), Ok(header(1)));
    }

    #[test]
    fn any_changed_byte_fails_the_checksum() {
        let filler = Filler::new(7, 100);
        let data = build(&header(9), &filler);
        for at in 4..data.len() {
            let mut bad = data.to_vec();
            bad[at] ^= 0x01;
            assert!(matches!(parse(&bad), Err(PayloadError::Checksum { .. })), "byte {at}");
        }
        let mut bad = data.to_vec();
        bad[0] = b'X';
        assert_eq!(parse(&bad), Err(PayloadError::NotLoadgen));
        assert_eq!(parse(&data[..10]), Err(PayloadError::TooShort { len: 10 }));
    }

    #[test]
    fn bodies_differ_between_records() {
        let filler = Filler::new(7, 200);
        let a = build(&header(1), &filler);
        let b = build(&header(2), &filler);
        assert_ne!(a[HEADER_BYTES..], b[HEADER_BYTES..]);
    }
}
