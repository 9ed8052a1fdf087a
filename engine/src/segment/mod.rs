//! Segment files: a shard's log is a sequence of files named by the counter
//! of their first record (`00000000000000000042.log`), each a run of
//! [frames](crate::frame) from offset 0, zero-padded to 4 KiB.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;

use crate::error::Result;
use crate::frame::{check_header, verify_payload, FrameHeader, HeaderCheck, FRAME_HEADER_BYTES};
use crate::limits::{align_down, READ_CHUNK_BYTES};
use crate::storage::SegmentFile;

pub mod index;
pub mod write;

pub use index::{IndexEntry, SegmentSummary};

pub fn log_file_name(base_counter: u64) -> String {
    format!("{base_counter:020}.log")
}

pub fn index_file_name(base_counter: u64) -> String {
    format!("{base_counter:020}.idx")
}

/// The base counter of a `.log` file name, if it is one.
pub fn parse_log_file_name(name: &str) -> Option<u64> {
    parse_counter_file_name(name, ".log")
}

/// The base counter of a `.idx` file name, if it is one.
pub fn parse_index_file_name(name: &str) -> Option<u64> {
    parse_counter_file_name(name, ".idx")
}

/// What a shard directory holds, from its file names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardFiles {
    /// Segment files by base counter, in order.
    pub bases: Vec<u64>,
    /// Indexes whose segment file is missing. Retention removes an index
    /// before its segment, so such an index means the segment was lost.
    pub orphan_indexes: Vec<u64>,
}

/// The damage reason for a segment lost while its index remains.
pub const SEGMENT_MISSING: &str = "segment file missing (its index remains)";

impl ShardFiles {
    pub fn from_names(names: &[String]) -> ShardFiles {
        let mut bases: Vec<u64> = names.iter().filter_map(|n| parse_log_file_name(n)).collect();
        bases.sort_unstable();
        let orphan_indexes =
            names.iter().filter_map(|n| parse_index_file_name(n)).filter(|b| bases.binary_search(b).is_err()).collect();
        ShardFiles { bases, orphan_indexes }
    }
}

fn parse_counter_file_name(name: &str, suffix: &str) -> Option<u64> {
    let stem = name.strip_suffix(suffix)?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// One segment of a shard's log.
pub struct Segment<F> {
    pub base_counter: u64,
    pub path: PathBuf,
    /// Sealed segments are opened on first read.
    pub file: Option<Rc<F>>,
    pub summary: SegmentSummary,
}

impl<F> Segment<F> {
    pub fn index_path(&self) -> PathBuf {
        self.path.with_extension("idx")
    }
}

/// Why a scan stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanStop {
    /// At zero padding or the end of the file: nothing after the last frame.
    Clean,
    /// At a frame that failed verification.
    Damaged { offset: u64, reason: &'static str },
}

/// What a full scan of a segment found.
#[derive(Clone, Debug)]
pub struct ScanOutcome {
    pub summary: SegmentSummary,
    pub stop: ScanStop,
    pub file_size: u64,
}

/// A frame read back and verified.
pub struct VerifiedFrame {
    pub offset: u64,
    pub header: FrameHeader,
    pub payload: Bytes,
}

/// Reads frames sequentially from a segment file in large aligned chunks,
/// verifying each one.
pub struct FrameReader<'a, F> {
    file: &'a F,
    window: Bytes,
    window_start: u64,
    pos: u64,
    limit: u64,
}

/// Result of one [`FrameReader::next_frame`] call.
pub enum NextFrame {
    Frame(VerifiedFrame),
    /// No more frames before the limit (or zero padding).
    End,
    Damaged {
        offset: u64,
        reason: &'static str,
    },
}

impl<'a, F: SegmentFile> FrameReader<'a, F> {
    /// Reads frames starting at `pos` and ending before `limit` bytes.
    pub fn new(file: &'a F, pos: u64, limit: u64) -> Self {
        Self { file, window: Bytes::new(), window_start: pos, pos, limit }
    }

    /// Makes `[pos, pos + len)` available in the window (fewer at EOF).
    async fn fill(&mut self, len: usize) -> Result<()> {
        let have_end = self.window_start + self.window.len() as u64;
        if self.pos >= self.window_start && self.pos + len as u64 <= have_end {
            return Ok(());
        }
        let start = align_down(self.pos);
        let want = (self.pos - start) as usize + len.max(READ_CHUNK_BYTES);
        self.window = self.file.read_at(start, want).await?;
        self.window_start = start;
        Ok(())
    }

    fn available(&self) -> &[u8] {
        let skip = (self.pos - self.window_start) as usize;
        self.window.get(skip..).unwrap_or(&[])
    }

    pub async fn next_frame(&mut self) -> Result<NextFrame> {
        if self.pos >= self.limit {
            return Ok(NextFrame::End);
        }
        self.fill(FRAME_HEADER_BYTES).await?;
        let header = match check_header(self.available()) {
            HeaderCheck::Valid(h) => h,
            HeaderCheck::End => return Ok(NextFrame::End),
            HeaderCheck::Short => return Ok(NextFrame::Damaged { offset: self.pos, reason: "frame header cut short" }),
            HeaderCheck::Invalid(reason) => return Ok(NextFrame::Damaged { offset: self.pos, reason }),
        };
        let len = header.frame_len();
        if self.pos + len as u64 > self.limit {
            return Ok(NextFrame::Damaged { offset: self.pos, reason: "frame extends past the end of the data" });
        }
        self.fill(len).await?;
        if self.available().len() < len {
            return Ok(NextFrame::Damaged { offset: self.pos, reason: "frame extends past the end of the file" });
        }
        let skip = (self.pos - self.window_start) as usize;
        let payload = self.window.slice(skip + FRAME_HEADER_BYTES..skip + len);
        if let Err(reason) = verify_payload(&header, &payload) {
            return Ok(NextFrame::Damaged { offset: self.pos, reason });
        }
        let offset = self.pos;
        self.pos += len as u64;
        Ok(NextFrame::Frame(VerifiedFrame { offset, header, payload }))
    }
}

/// Scans a whole segment from offset 0, verifying every frame and that
/// counters never go backwards. Used for recovery and index rebuilds.
pub async fn scan_segment<F: SegmentFile>(file: &F, base_counter: u64) -> Result<ScanOutcome> {
    scan_segment_from(file, SegmentSummary::empty(base_counter)).await
}

/// Scans a segment from the end of a known-good prefix (`known`, e.g. a
/// checkpointed index), verifying every frame after it.
pub async fn scan_segment_from<F: SegmentFile>(file: &F, known: SegmentSummary) -> Result<ScanOutcome> {
    let file_size = file.size().await?;
    let mut summary = known;
    let mut reader = FrameReader::new(file, summary.data_len, file_size);
    let stop = loop {
        match reader.next_frame().await? {
            NextFrame::End => break ScanStop::Clean,
            NextFrame::Damaged { offset, reason } => break ScanStop::Damaged { offset, reason },
            NextFrame::Frame(f) => {
                if f.header.base_counter < summary.end_counter {
                    break ScanStop::Damaged { offset: f.offset, reason: "sequence counter goes backwards" };
                }
                let arrival = f.header.arrival_ms;
                if summary.last_ms.is_some_and(|last| arrival < last) {
                    break ScanStop::Damaged { offset: f.offset, reason: "arrival time goes backwards" };
                }
                summary.note_frame(
                    f.offset,
                    f.header.frame_len() as u64,
                    f.header.base_counter,
                    f.header.end_counter(),
                    arrival,
                );
            }
        }
    };
    Ok(ScanOutcome { summary, stop, file_size })
}

/// `dir/<base>.log`.
pub fn log_path(dir: &Path, base_counter: u64) -> PathBuf {
    dir.join(log_file_name(base_counter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(log_file_name(42), "00000000000000000042.log");
        assert_eq!(parse_log_file_name("00000000000000000042.log"), Some(42));
        assert_eq!(parse_log_file_name("42.log"), None);
        assert_eq!(parse_log_file_name("00000000000000000042.idx"), None);
    }
}

/// Intact frames found after the damaged frame that ended a tail scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FramesPastDamage {
    pub frames: usize,
    pub records: u64,
    /// The lowest and one past the highest counter among them.
    pub first_counter: u64,
    pub end_counter: u64,
    /// File offset one past the last of them.
    pub data_end: u64,
}

/// Looks for intact frames (header and payload CRCs valid, counters at or
/// after `min_counter`) anywhere in `file` after the damaged frame at
/// `damaged_at`, reading at most `max_bytes`. A torn tail leaves none, or
/// only unacknowledged ones of the last group write; anything else means
/// data inside the log was damaged. Recovery reports what this finds and
/// never hands their counters out again.
pub async fn frames_past_damage<F: SegmentFile>(
    file: &F,
    damaged_at: u64,
    min_counter: u64,
    max_bytes: usize,
) -> Result<Option<FramesPastDamage>> {
    let from = damaged_at + 1;
    let size = file.size().await?;
    let len = usize::try_from(size.saturating_sub(from)).unwrap_or(usize::MAX).min(max_bytes);
    let buf = file.read_at(from, len).await?;
    let mut found: Option<FramesPastDamage> = None;
    let mut i = 0;
    while let Some(at) = memchr_magic(&buf[i..]) {
        let start = i + at;
        let frame = match check_header(&buf[start..]) {
            HeaderCheck::Valid(h) if h.base_counter >= min_counter => buf
                .get(start + FRAME_HEADER_BYTES..start + h.frame_len())
                .filter(|payload| verify_payload(&h, payload).is_ok())
                .map(|_| h),
            _ => None,
        };
        match frame {
            Some(h) => {
                let f = found.get_or_insert(FramesPastDamage {
                    frames: 0,
                    records: 0,
                    first_counter: h.base_counter,
                    end_counter: h.end_counter(),
                    data_end: 0,
                });
                f.frames += 1;
                f.records += u64::from(h.record_count);
                f.first_counter = f.first_counter.min(h.base_counter);
                f.end_counter = f.end_counter.max(h.end_counter());
                i = start + h.frame_len();
                f.data_end = from + i as u64;
            }
            None => i = start + 1,
        }
    }
    Ok(found)
}

/// Offset of the next frame magic in `buf`.
fn memchr_magic(buf: &[u8]) -> Option<usize> {
    buf.windows(crate::frame::FRAME_MAGIC.len()).position(|w| w == crate::frame::FRAME_MAGIC)
}
