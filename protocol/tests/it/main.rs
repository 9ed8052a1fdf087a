//! Integration tests of the protocol crate, in one binary (one link, one run).
//!
//! - `roundtrip`: decode(encode(x)) == x for every message, under any chunking of the stream.
//! - `framing`: header checks, size refusal before allocation, `Incomplete` accounting.
//! - `body_errors`: unknown and push-only opcodes, truncation, bad tags, with the connection going on.
//! - `validation`: every rule of `validate` and each request's `validate()`.
//! - `fuzz_like`: random and mutated bytes under stable `cargo test` (see also protocol/fuzz).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod alloc_counter;
mod body_errors;
mod framing;
mod fuzz_like;
mod roundtrip;
mod strategies;
mod validation;

use bytes::BytesMut;
use shoal_protocol::{decode_from, BodyError, Decoded, Frame};

pub fn encode(frame: &Frame) -> BytesMut {
    let mut dst = BytesMut::new();
    frame.encode(&mut dst).expect("frame encodes");
    dst
}

/// Feeds `stream` to a read buffer in chunks of the given sizes (cycled) and decodes every
/// frame as soon as it is complete, the way a connection loop does. Panics on a framing error.
pub fn decode_chunked(stream: &[u8], chunks: &[usize]) -> Vec<Result<Frame, BodyError>> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    let mut sizes = chunks.iter().copied().filter(|&n| n > 0).cycle();
    while fed < stream.len() {
        let n = sizes.next().unwrap_or(stream.len()).min(stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        loop {
            match decode_from(&mut buf) {
                Decoded::Complete(frame, consumed) => {
                    assert!(consumed > 0);
                    out.push(frame);
                }
                Decoded::Incomplete(needed) => {
                    assert!(needed > 0, "Incomplete must ask for at least one byte");
                    break;
                }
                Decoded::Invalid(e) => panic!("framing error on a valid stream: {e}"),
            }
        }
    }
    assert!(buf.is_empty(), "{} bytes left undecoded", buf.len());
    out
}
