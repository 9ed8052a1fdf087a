//! Header checks: each one refuses the stream (close the connection) with its own error,
//! before reading or allocating for the body.

use bytes::BytesMut;
use shoal_protocol::header::{header_crc32, HEADER_CRC_OFFSET};
use shoal_protocol::limits::{FRAME_BODY_SIZE_BYTES_MAX, PROTOCOL_VERSION};
use shoal_protocol::ops::DescribeStreamSummary;
use shoal_protocol::{
    decode, decode_from, decode_raw, Decoded, FrameBody, FrameHeader, FrameKind, FramingError, Request, Status,
    HEADER_SIZE_BYTES,
};

use crate::alloc_counter::allocated_bytes;
use crate::encode;

/// A header with a correct checksum over whatever fields we chose.
fn header(body_size: u32, version: u8, kind: u8, opcode: u16, correlation_id: u64, flags: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&body_size.to_le_bytes());
    h[4] = version;
    h[5] = kind;
    h[6..8].copy_from_slice(&opcode.to_le_bytes());
    h[8..16].copy_from_slice(&correlation_id.to_le_bytes());
    h[16..20].copy_from_slice(&flags.to_le_bytes());
    let crc = header_crc32(&h);
    h[HEADER_CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
    h
}

fn sample() -> BytesMut {
    encode(&shoal_protocol::Frame {
        correlation_id: 77,
        body: FrameBody::Request(Request::DescribeStreamSummary(DescribeStreamSummary { stream_name: "s".into() })),
    })
}

#[test]
fn header_is_24_bytes_and_matches_its_to_bytes() {
    assert_eq!(HEADER_SIZE_BYTES, 24);
    let bytes = sample();
    let h = FrameHeader { body_size_bytes: 3, kind: FrameKind::Request, opcode: 0x0004, correlation_id: 77 };
    assert_eq!(&bytes[..24], &h.to_bytes()[..]);
    assert_eq!(FrameHeader::parse(&h.to_bytes()), Ok(h));
}

#[test]
fn oversize_body_is_refused_from_the_header_alone_without_allocating() {
    for size in [FRAME_BODY_SIZE_BYTES_MAX + 1, u32::MAX] {
        let h = header(size, PROTOCOL_VERSION, 1, 0x0011, 5, 0);
        let expected = FramingError::TooLarge {
            body_size_bytes: size,
            max_bytes: FRAME_BODY_SIZE_BYTES_MAX,
            correlation_id: 5,
            opcode: 0x0011,
        };
        let (raw, allocated) = allocated_bytes(|| decode_raw(&h));
        assert_eq!(raw, Decoded::Invalid(expected.clone()));
        assert_eq!(allocated, 0, "nothing is allocated for a refused frame");
        let (full, allocated) = allocated_bytes(|| decode(&h));
        assert!(matches!(full, Decoded::Invalid(ref e) if *e == expected));
        assert_eq!(allocated, 0);
        assert_eq!(expected.status(), Status::FrameTooLarge);
        // The farewell frame echoes the trusted correlation id.
        assert_eq!(expected.farewell().correlation_id, 5);
    }
}

#[test]
fn the_largest_legal_body_size_waits_for_the_body() {
    let h = header(FRAME_BODY_SIZE_BYTES_MAX, PROTOCOL_VERSION, 1, 0x0011, 5, 0);
    let (raw, allocated) = allocated_bytes(|| decode_raw(&h));
    assert_eq!(raw, Decoded::Incomplete(FRAME_BODY_SIZE_BYTES_MAX as usize));
    assert_eq!(allocated, 0);
}

#[test]
fn wrong_version_is_refused_as_soon_as_its_byte_arrives() {
    let mut bytes = sample();
    bytes[4] = 2;
    assert_eq!(decode_raw(&bytes[..4]), Decoded::Incomplete(20));
    for len in 5..bytes.len() {
        assert_eq!(
            decode_raw(&bytes[..len]),
            Decoded::Invalid(FramingError::UnsupportedVersion { version: 2, supported: 1 })
        );
    }
    let e = FramingError::UnsupportedVersion { version: 2, supported: 1 };
    assert_eq!(e.status(), Status::UnsupportedVersion);
    assert_eq!(e.farewell().correlation_id, 0, "an unknown version's header is not trusted");
}

#[test]
fn any_corrupted_header_byte_is_refused() {
    let good = sample();
    for i in 0..HEADER_SIZE_BYTES {
        if i == 4 {
            continue; // the version byte has its own error, tested above
        }
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[i] ^= 1 << bit;
            assert!(
                matches!(decode_raw(&bad), Decoded::Invalid(FramingError::HeaderChecksum { .. })),
                "byte {i} bit {bit}"
            );
        }
    }
}

#[test]
fn unknown_kind_and_flags_are_refused_with_the_correlation_id() {
    for kind in [0u8, 5, 255] {
        let h = header(0, 1, kind, 0x0004, 8, 0);
        assert_eq!(decode_raw(&h), Decoded::Invalid(FramingError::UnknownKind { kind, correlation_id: 8, opcode: 4 }));
    }
    let h = header(0, 1, 1, 0x0004, 9, 1);
    let e = FramingError::UnsupportedFlags { flags: 1, correlation_id: 9, opcode: 4 };
    assert_eq!(decode_raw(&h), Decoded::Invalid(e.clone()));
    assert_eq!(e.status(), Status::MalformedFrame);
    assert_eq!(e.correlation(), (9, 4));
}

#[test]
fn a_framing_error_leaves_the_read_buffer_untouched() {
    let mut bytes = sample();
    bytes[0] ^= 1;
    let before = bytes.clone();
    assert!(matches!(decode_from(&mut bytes), Decoded::Invalid(_)));
    assert_eq!(bytes, before);
    let mut partial = BytesMut::from(&sample()[..10]);
    assert_eq!(decode_from(&mut partial), Decoded::Incomplete(14));
    assert_eq!(partial.len(), 10);
}
