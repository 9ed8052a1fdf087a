//! Laying appended bytes out as aligned direct-I/O writes.
//!
//! A flush writes the partial tail page again followed by the new frames,
//! zero-padded to the alignment. Large flushes are cut into chunks of
//! [`WRITE_CHUNK_BYTES`] issued together: the device runs several writes
//! in parallel, where one large write would be served at about half its
//! bandwidth (measured: 2 MiB in one write ≈ 1.2 GB/s here).

use crate::limits::{align_down, align_up, WRITE_CHUNK_BYTES};
use crate::storage::SegmentFile;

/// Aligned buffers ready to write, with their file positions, and the
/// bytes of the new partial tail page.
pub struct AlignedWrites<B> {
    pub writes: Vec<(B, u64)>,
    pub new_tail: Vec<u8>,
}

/// Lays out `tail` (the current partial page, which starts at the aligned
/// position `page_start`) followed by `parts`.
pub fn aligned_writes<'a, F: SegmentFile>(
    file: &F,
    page_start: u64,
    tail: &'a [u8],
    parts: impl Iterator<Item = &'a [u8]> + Clone,
) -> AlignedWrites<F::Buf> {
    assert_eq!(page_start, align_down(page_start), "the tail page starts aligned");
    let used = tail.len() + parts.clone().map(<[u8]>::len).sum::<usize>();
    let total = align_up(used as u64) as usize;
    let mut writes: Vec<(F::Buf, u64)> = (0..total)
        .step_by(WRITE_CHUNK_BYTES)
        .map(|at| (file.alloc_buf(WRITE_CHUNK_BYTES.min(total - at)), page_start + at as u64))
        .collect();
    // Copy every source slice through a cursor over the chunks.
    let mut chunk = 0;
    let mut offset = 0;
    for src in std::iter::once(tail).chain(parts) {
        let mut src = src;
        while !src.is_empty() {
            let buf = writes[chunk].0.as_mut();
            let n = src.len().min(buf.len() - offset);
            buf[offset..offset + n].copy_from_slice(&src[..n]);
            src = &src[n..];
            offset += n;
            if offset == buf.len() {
                chunk += 1;
                offset = 0;
            }
        }
    }
    if let Some((buf, _)) = writes.get_mut(chunk) {
        buf.as_mut()[offset..].fill(0);
    }
    let tail_start = align_down(used as u64) as usize;
    let new_tail = match writes.get(tail_start / WRITE_CHUNK_BYTES) {
        Some((buf, _)) => {
            let within = tail_start % WRITE_CHUNK_BYTES;
            buf.as_ref()[within..within + (used - tail_start)].to_vec()
        }
        None => Vec::new(),
    };
    AlignedWrites { writes, new_tail }
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
            let out = aligned_writes(&file, 8192, &tail, parts.iter().map(Vec::as_slice));
            let mut want: Vec<u8> = tail.clone();
            parts.iter().for_each(|p| want.extend_from_slice(p));
            let used = want.len();
            want.resize(align_up(used as u64) as usize, 0);
            let mut got = Vec::new();
            let mut pos = 8192;
            for (buf, at) in &out.writes {
                assert_eq!(*at, pos, "chunks are contiguous");
                assert!(buf.as_ref().len() <= WRITE_CHUNK_BYTES);
                got.extend_from_slice(buf.as_ref());
                pos += buf.as_ref().len() as u64;
            }
            assert_eq!(got, want);
            assert_eq!(out.new_tail, want[align_down(used as u64) as usize..used].to_vec());
        }
    }
}
