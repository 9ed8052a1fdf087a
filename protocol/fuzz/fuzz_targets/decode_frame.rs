//! Fuzzes frame decoding: arbitrary bytes as a received stream.
//!
//! Invariants checked:
//! - no input panics `decode_raw`, `decode` or `decode_from`;
//! - the three agree on the outcome and on the bytes consumed;
//! - `Incomplete(n)` asks for at least one byte;
//! - a framing error consumes nothing from the read buffer;
//! - every frame that decodes re-encodes to exactly the bytes it was decoded from.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use shoal_protocol::{decode, decode_from, decode_raw, Decoded};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    loop {
        let raw = decode_raw(rest);
        let full = decode(rest);
        let mut buf = BytesMut::from(rest);
        let shared = decode_from(&mut buf);
        assert_eq!(shared, full, "decode and decode_from disagree");
        match (raw, full) {
            (Decoded::Complete(_, consumed), Decoded::Complete(result, same)) => {
                assert_eq!(consumed, same);
                assert_eq!(buf.len(), rest.len() - consumed);
                if let Ok(frame) = result {
                    let mut encoded = BytesMut::new();
                    frame.encode(&mut encoded).expect("a decoded frame encodes");
                    assert_eq!(&encoded[..], &rest[..consumed], "re-encoding differs");
                }
                rest = &rest[consumed..];
            }
            (Decoded::Incomplete(a), Decoded::Incomplete(b)) => {
                assert!(a > 0);
                assert_eq!(a, b);
                return;
            }
            (Decoded::Invalid(a), Decoded::Invalid(b)) => {
                assert_eq!(a, b);
                assert_eq!(buf.len(), rest.len(), "a framing error consumes nothing");
                return;
            }
            (raw, full) => panic!("decoders disagree: {raw:?} vs {full:?}"),
        }
    }
});
