//! Laying appended bytes out as aligned direct-I/O writes.
//!
//! A flush writes the partial tail page again followed by the new frames,
//! zero-padded to the alignment. Large flushes are cut into chunks of
//! [`WRITE_CHUNK_BYTES`] with up to [`WRITES_IN_FLIGHT_MAX`] in flight: the
//! device serves several writes in parallel (one 2 MiB write ran at about
//! half the bandwidth here), the next chunk is filled while earlier ones
//! are on the wire, and the buffers in use stay within a small pool.

use futures::stream::{FuturesUnordered, StreamExt};

use crate::error::Result;
use crate::limits::{align_down, align_up, WRITES_IN_FLIGHT_MAX, WRITE_CHUNK_BYTES};
use crate::storage::SegmentFile;

/// Cuts `tail` followed by `parts` into aligned chunks, one at a time.
pub struct Chunker<'a> {
    sources: Vec<&'a [u8]>,
    /// Position in `sources`: (slice index, offset within it).
    cursor: (usize, usize),
    /// File position of the next chunk.
    pos: u64,
    /// Bytes of data (unpadded) still to lay out.
    remaining: usize,
    /// Data bytes in total, from the tail page's start.
    used: usize,
    page_start: u64,
}

impl<'a> Chunker<'a> {
    /// `tail` is the current partial page, which starts at the aligned
    /// position `page_start`.
    pub fn new(page_start: u64, tail: &'a [u8], parts: impl Iterator<Item = &'a [u8]>) -> Self {
        assert_eq!(page_start, align_down(page_start), "the tail page starts aligned");
        let sources: Vec<&[u8]> = std::iter::once(tail).chain(parts).collect();
        let used = sources.iter().map(|s| s.len()).sum();
        Self { sources, cursor: (0, 0), pos: page_start, remaining: used, used, page_start }
    }

    /// Bytes of the new partial tail page once everything is written.
    pub fn new_tail(&self) -> Vec<u8> {
        let tail_start = align_down(self.used as u64) as usize;
        let mut out = Vec::with_capacity(self.used - tail_start);
        let mut at = 0usize;
        for s in &self.sources {
            let (lo, hi) = (at, at + s.len());
            if hi > tail_start {
                let from = tail_start.saturating_sub(lo);
                out.extend_from_slice(&s[from..]);
            }
            at = hi;
        }
        out
    }

    /// Fills the next chunk buffer, or `None` when all is laid out.
    pub fn next_chunk<F: SegmentFile>(&mut self, file: &F) -> Option<(F::Buf, u64)> {
        if self.remaining == 0 {
            return None;
        }
        let end = align_up(self.page_start + self.used as u64);
        let len = WRITE_CHUNK_BYTES.min((end - self.pos) as usize);
        let mut buf = file.alloc_buf(len);
        let b = buf.as_mut();
        let mut filled = 0;
        while filled < len && self.remaining > 0 {
            let (i, off) = self.cursor;
            let src = &self.sources[i][off..];
            let n = src.len().min(len - filled);
            b[filled..filled + n].copy_from_slice(&src[..n]);
            filled += n;
            self.remaining -= n;
            self.cursor = if n == src.len() { (i + 1, 0) } else { (i, off + n) };
        }
        b[filled..].fill(0);
        let pos = self.pos;
        self.pos += len as u64;
        Some((buf, pos))
    }
}

/// Writes everything a chunker lays out, keeping a bounded number of
/// chunk writes in flight.
pub async fn write_chunks<F: SegmentFile>(file: &F, chunker: &mut Chunker<'_>) -> Result<()> {
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < WRITES_IN_FLIGHT_MAX {
            match chunker.next_chunk(file) {
                Some((buf, pos)) => in_flight.push(file.write_at(buf, pos)),
                None => break,
            }
        }
        match in_flight.next().await {
            Some(r) => r?,
            None => return Ok(()),
        }
    }
}

/// Writes everything a chunker lays out with blocking calls on this
/// thread, one chunk after another (see `shard::commit_path`).
pub fn write_chunks_inline<F: SegmentFile>(file: &F, chunker: &mut Chunker<'_>) -> Result<()> {
    while let Some((buf, pos)) = chunker.next_chunk(file) {
        file.write_at_inline(buf, pos)?;
    }
    Ok(())
}

/// Writes zeros over `from..to` (aligned), a bounded number of chunk writes
/// in flight.
pub async fn write_zeroes<F: SegmentFile>(file: &F, from: u64, to: u64) -> Result<()> {
    assert!(from == align_down(from) && to == align_down(to) && from <= to, "zeroed ranges are aligned");
    let mut in_flight = FuturesUnordered::new();
    let mut pos = from;
    loop {
        while in_flight.len() < WRITES_IN_FLIGHT_MAX && pos < to {
            let len = WRITE_CHUNK_BYTES.min((to - pos) as usize);
            let mut buf = file.alloc_buf(len);
            buf.as_mut().fill(0);
            in_flight.push(file.write_at(buf, pos));
            pos += len as u64;
        }
        match in_flight.next().await {
            Some(r) => r?,
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sim::SimStorage;
    use crate::storage::Storage;

    #[test]
    fn layout_matches_a_plain_concatenation() {
        let store = SimStorage::new(1);
        let file = futures::executor::block_on(store.open_segment(std::path::Path::new("/f"), true)).expect("open");
        for (tail_len, sizes) in [
            (0usize, vec![10usize]),
            (100, vec![4000, 5000]),
            (4095, vec![1]),
            (7, vec![WRITE_CHUNK_BYTES, 3 * WRITE_CHUNK_BYTES + 17, 0, 5]),
        ] {
            let tail: Vec<u8> = (0..tail_len).map(|i| i as u8).collect();
            let parts: Vec<Vec<u8>> = sizes.iter().map(|&n| (0..n).map(|i| (i * 7) as u8).collect()).collect();
            let mut chunker = Chunker::new(8192, &tail, parts.iter().map(Vec::as_slice));
            let mut want: Vec<u8> = tail.clone();
            parts.iter().for_each(|p| want.extend_from_slice(p));
            let used = want.len();
            want.resize(align_up(used as u64) as usize, 0);
            let mut got = Vec::new();
            let mut pos = 8192;
            while let Some((buf, at)) = chunker.next_chunk(&file) {
                assert_eq!(at, pos, "chunks are contiguous");
                assert!(buf.as_ref().len() <= WRITE_CHUNK_BYTES);
                got.extend_from_slice(buf.as_ref());
                pos += buf.as_ref().len() as u64;
            }
            assert_eq!(got, want);
            assert_eq!(chunker.new_tail(), want[align_down(used as u64) as usize..used].to_vec());
        }
    }
}
