//! Buffers for large responses, reused on each core.
//!
//! A GetRecords response carries up to 10 MiB. Encoded into a fresh
//! allocation each time, every response landed on memory the allocator had
//! never touched (or had given back), and the page faults that zeroed it
//! cost the serving cores more than encoding did (`server_bench get`, see
//! BENCHMARKS.md). A buffer comes back here once its frame has been written
//! to the socket and nothing else refers to it; the next large response is
//! encoded into it.

use std::cell::{Cell, RefCell};

use bytes::{Bytes, BytesMut};

/// Responses at least this large are encoded into pooled buffers; smaller
/// ones are cheap for the allocator.
pub const POOLED_BYTES_MIN: usize = 1024 * 1024;

/// A core keeps at most this many bytes of free buffers: three of the
/// largest GetRecords responses.
pub const POOL_BYTES_MAX: usize = 32 * 1024 * 1024;

thread_local! {
    static FREE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    static FREE_BYTES: Cell<usize> = const { Cell::new(0) };
}

/// An empty buffer with room for at least `capacity` bytes.
pub fn take(capacity: usize) -> BytesMut {
    if capacity >= POOLED_BYTES_MIN {
        let reused = FREE.with_borrow_mut(|free| {
            let i = free.iter().rposition(|b| b.capacity() >= capacity)?;
            let buf = free.swap_remove(i);
            FREE_BYTES.set(FREE_BYTES.get() - buf.capacity());
            Some(buf)
        });
        if let Some(buf) = reused {
            return buf;
        }
        // Rounded up, so that the next response, a little larger, fits too.
        return BytesMut::with_capacity(capacity.next_multiple_of(POOLED_BYTES_MIN));
    }
    BytesMut::with_capacity(capacity)
}

/// Takes back an encoded frame that has been written: its buffer is kept
/// for the next large response if nothing else refers to it and there is
/// room.
pub fn give_back(frame: Bytes) {
    if frame.len() < POOLED_BYTES_MIN {
        return;
    }
    let Ok(mut buf) = frame.try_into_mut() else {
        return; // still referenced (a push shared with other subscribers)
    };
    buf.clear();
    let cap = buf.capacity();
    if FREE_BYTES.get() + cap > POOL_BYTES_MAX {
        return;
    }
    FREE_BYTES.set(FREE_BYTES.get() + cap);
    FREE.with_borrow_mut(|free| free.push(buf));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written_frame(len: usize) -> (Bytes, *const u8) {
        let mut buf = take(len);
        buf.resize(len, 1);
        let addr = buf.as_ptr();
        (buf.freeze(), addr)
    }

    #[test]
    fn a_written_large_frame_is_encoded_into_again() {
        let (frame, addr) = written_frame(POOLED_BYTES_MIN * 2);
        give_back(frame);
        let again = take(POOLED_BYTES_MIN * 2 - 10);
        assert_eq!(again.as_ptr(), addr, "the same allocation");
        assert!(again.is_empty());
        let fresh = take(POOLED_BYTES_MIN * 2);
        assert_ne!(fresh.as_ptr(), addr, "handed out once only");
    }

    #[test]
    fn a_frame_still_referenced_or_small_is_not_pooled() {
        let (frame, _) = written_frame(POOLED_BYTES_MIN);
        let other_subscriber = frame.clone();
        give_back(frame);
        assert_eq!(FREE_BYTES.get(), 0);
        assert!(other_subscriber.iter().all(|&b| b == 1), "the other reference is untouched");
        let (small, _) = written_frame(POOLED_BYTES_MIN / 2);
        give_back(small);
        assert_eq!(FREE_BYTES.get(), 0);
        give_back(other_subscriber);
        assert_eq!(FREE_BYTES.get(), POOLED_BYTES_MIN, "pooled once its last reference is written");
    }

    #[test]
    fn the_pool_holds_a_bounded_number_of_bytes() {
        let frames: Vec<Bytes> = (0..8).map(|_| written_frame(POOLED_BYTES_MIN * 8).0).collect();
        for f in frames {
            give_back(f);
        }
        assert!(FREE_BYTES.get() <= POOL_BYTES_MAX);
        assert_eq!(FREE.with_borrow(|f| f.len()), POOL_BYTES_MAX / (POOLED_BYTES_MIN * 8));
    }
}
