//! A stable-toolchain stand-in for the cargo-fuzz target (protocol/fuzz): random and mutated
//! byte strings through every decoding entry point.
//!
//! Invariants checked:
//! - no input panics any decoder;
//! - `Incomplete(n)` always asks for at least one byte;
//! - a frame that decodes re-encodes to exactly the bytes it was decoded from;
//! - `decode`, `decode_raw` and `decode_from` agree on the outcome and on bytes consumed.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use shoal_protocol::header::{header_crc32, HEADER_CRC_OFFSET};
use shoal_protocol::{decode, decode_from, decode_raw, Decoded, HEADER_SIZE_BYTES};

use crate::encode;
use crate::strategies::frame;

/// Runs every decoder over `data`, checking the invariants above; returns frames decoded.
fn check(data: &[u8]) -> usize {
    let mut rest = data;
    let mut frames = 0;
    loop {
        let raw = decode_raw(rest);
        let full = decode(rest);
        let mut buf = BytesMut::from(rest);
        let shared = decode_from(&mut buf);
        match (&raw, &full) {
            (Decoded::Complete(_, a), Decoded::Complete(result, b)) => {
                assert_eq!(a, b);
                assert_eq!(&shared, &full);
                assert_eq!(buf.len(), rest.len() - a);
                if let Ok(frame) = result {
                    assert_eq!(&encode(frame)[..], &rest[..*a], "accepted frame must re-encode identically");
                    frames += 1;
                }
                rest = &rest[*a..];
            }
            (Decoded::Incomplete(a), Decoded::Incomplete(b)) => {
                assert!(*a > 0);
                assert_eq!(a, b);
                assert_eq!(&shared, &full);
                return frames;
            }
            (Decoded::Invalid(a), Decoded::Invalid(b)) => {
                assert_eq!(a, b);
                assert_eq!(&shared, &full);
                assert_eq!(buf.len(), rest.len(), "a framing error consumes nothing");
                return frames;
            }
            _ => panic!("decoders disagree: {raw:?} vs {full:?}"),
        }
    }
}

/// Recomputes the header's size and checksum so that mutations reach the body decoder.
fn fix_header(data: &mut [u8]) {
    if data.len() < HEADER_SIZE_BYTES {
        return;
    }
    let body = (data.len() - HEADER_SIZE_BYTES) as u32;
    data[0..4].copy_from_slice(&body.to_le_bytes());
    let header: [u8; HEADER_SIZE_BYTES] = data[..HEADER_SIZE_BYTES].try_into().unwrap();
    let crc = header_crc32(&header);
    data[HEADER_CRC_OFFSET..HEADER_SIZE_BYTES].copy_from_slice(&crc.to_le_bytes());
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, value: u8 },
    Insert { at: usize, value: u8 },
    Remove { at: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Insert { at, value }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    if data.is_empty() {
        return;
    }
    let len = data.len();
    match *m {
        Mutation::Flip { at, bit } => data[at % len] ^= 1 << bit,
        Mutation::Set { at, value } => data[at % len] = value,
        Mutation::Insert { at, value } => data.insert(at % (len + 1), value),
        Mutation::Remove { at } => {
            data.remove(at % len);
        }
        Mutation::Truncate { at } => data.truncate(at % len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_bytes_never_panic(data in vec(any::<u8>(), 0..256)) {
        check(&data);
    }

    /// Random bodies behind a valid header, for every kind and any opcode.
    #[test]
    fn random_bodies_behind_valid_headers(
        kind in 1u8..=4,
        opcode in prop_oneof![0u16..0x40, any::<u16>()],
        body in vec(any::<u8>(), 0..200),
    ) {
        let mut data = vec![0u8; HEADER_SIZE_BYTES];
        data[4] = 1;
        data[5] = kind;
        data[6..8].copy_from_slice(&opcode.to_le_bytes());
        data.extend_from_slice(&body);
        fix_header(&mut data);
        check(&data);
    }

    /// Valid frames, mutated; with the header repaired half the time so the body decoder
    /// sees the damage.
    #[test]
    fn mutated_frames(f in frame(), mutations in vec(mutation(), 1..4), repair in any::<bool>()) {
        let mut data = encode(&f).to_vec();
        for m in &mutations {
            apply(&mut data, m);
        }
        if repair {
            fix_header(&mut data);
        }
        check(&data);
    }
}
