//! A malformed body inside intact framing is a `BodyError`: typed, carrying the correlation id,
//! answerable with an error frame, and the next frame on the connection still decodes.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;
use shoal_protocol::ops::Durability;
use shoal_protocol::ops::{
    DescribeStreamSummary, PutRecord, PutRecordsOutput, PutRecordsResult, ShardPlacement, SubscribeToShardEvent,
    SubscriptionEnd,
};
use shoal_protocol::{
    decode, decode_from, BodyError, Decoded, EncodeError, Frame, FrameBody, FrameHeader, FrameKind, Opcode, Push,
    Request, Response, Status, WireError, HEADER_SIZE_BYTES,
};

use crate::encode;
use crate::strategies::frame;

/// A frame with a valid header around an arbitrary body.
fn framed(kind: FrameKind, opcode: u16, correlation_id: u64, body: &[u8]) -> BytesMut {
    let header = FrameHeader { body_size_bytes: body.len() as u32, kind, opcode, correlation_id };
    let mut out = BytesMut::from(&header.to_bytes()[..]);
    out.extend_from_slice(body);
    out
}

fn body_error(bytes: &[u8]) -> BodyError {
    match decode(bytes) {
        Decoded::Complete(Err(e), consumed) => {
            assert_eq!(consumed, bytes.len());
            e
        }
        other => panic!("expected a body error, got {other:?}"),
    }
}

fn summary_request(correlation_id: u64) -> Frame {
    Frame {
        correlation_id,
        body: FrameBody::Request(Request::DescribeStreamSummary(DescribeStreamSummary { stream_name: "s".into() })),
    }
}

#[test]
fn unknown_opcode_keeps_the_correlation_id_and_the_connection() {
    let mut buf = framed(FrameKind::Request, 0x0999, 4242, b"whatever");
    summary_request(4243).encode(&mut buf).unwrap();

    let Decoded::Complete(Err(e), _) = decode_from(&mut buf) else { panic!("body error expected") };
    assert_eq!(e.correlation_id, 4242);
    assert_eq!(e.opcode, 0x0999);
    assert_eq!(e.source, WireError::UnknownOpcode { opcode: 0x0999 });
    assert_eq!(e.status(), Status::UnsupportedOperation);
    let reply = e.error_frame();
    assert_eq!(reply.correlation_id, 4242);
    let FrameBody::Error(err) = &reply.body else { panic!("an error frame") };
    assert_eq!(err.opcode, 0x0999);
    assert_eq!(err.status, Status::UnsupportedOperation);
    // The error frame itself encodes and decodes.
    assert!(matches!(decode(&encode(&reply)), Decoded::Complete(Ok(ref f), _) if *f == reply));

    // The connection goes on: the next frame decodes normally.
    assert!(matches!(decode_from(&mut buf), Decoded::Complete(Ok(ref f), _) if *f == summary_request(4243)));
    assert!(buf.is_empty());
}

#[test]
fn every_opcode_is_served_and_only_the_event_is_push_only() {
    assert!(Opcode::ALL.iter().all(|op| op.is_served()));
    assert_eq!(Opcode::ALL.len(), 22);
    for op in Opcode::ALL {
        assert_eq!(Opcode::from_u16(op as u16), Some(op));
        assert_eq!(op.is_push_only(), op == Opcode::SubscribeToShardEvent, "{}", op.name());
    }
    // 0x0036..=0x003f stay free for fan-out, like the other groups' gaps.
    for free in (0x000a..=0x000f).chain(0x0014..=0x001f).chain(0x0023..=0x002f).chain(0x0036..=0x003f) {
        assert_eq!(Opcode::from_u16(free), None, "{free:#06x}");
        let e = body_error(&framed(FrameKind::Request, free, 7, b""));
        assert_eq!(e.source, WireError::UnknownOpcode { opcode: free });
    }
}

#[test]
fn fan_out_is_served() {
    for op in [
        Opcode::RegisterStreamConsumer,
        Opcode::DeregisterStreamConsumer,
        Opcode::DescribeStreamConsumer,
        Opcode::ListStreamConsumers,
        Opcode::SubscribeToShard,
    ] {
        // An empty body is now a malformed body, not an unsupported operation.
        let e = body_error(&framed(FrameKind::Request, op as u16, 7, b""));
        assert_eq!(e.status(), Status::MalformedFrame, "{}", op.name());
    }
    // DeregisterStreamConsumer answers with an empty body.
    assert!(matches!(
        decode(&framed(FrameKind::Response, Opcode::DeregisterStreamConsumer as u16, 7, b"")),
        Decoded::Complete(Ok(Frame { body: FrameBody::Response(Response::DeregisterStreamConsumer), .. }), _)
    ));
}

#[test]
fn the_event_opcode_is_push_only_and_push_frames_carry_only_events() {
    for kind in [FrameKind::Request, FrameKind::Response] {
        let e = body_error(&framed(kind, Opcode::SubscribeToShardEvent as u16, 3, b""));
        assert_eq!(e.source, WireError::PushOnly { opcode: 0x0035, name: "SubscribeToShardEvent" });
        assert_eq!(e.status(), Status::UnsupportedOperation);
    }
    for op in Opcode::ALL.into_iter().filter(|op| !op.is_push_only()) {
        let e = body_error(&framed(FrameKind::Push, op as u16, 3, b""));
        assert_eq!(e.source, WireError::NotPushed { opcode: op as u16, name: op.name() });
        assert_eq!((e.kind, e.correlation_id, e.status()), (FrameKind::Push, 3, Status::UnsupportedOperation));
    }
    let e = body_error(&framed(FrameKind::Push, 0x0999, 3, b""));
    assert_eq!(e.source, WireError::UnknownOpcode { opcode: 0x0999 });
    // A malformed event is a body error of its push frame.
    let e = body_error(&framed(FrameKind::Push, Opcode::SubscribeToShardEvent as u16, 3, b"event"));
    assert_eq!(e.status(), Status::MalformedFrame);
    assert_eq!(e.kind, FrameKind::Push);
}

#[test]
fn an_undefined_subscription_end_or_consumer_status_is_refused() {
    // An event with no records, continuation 0, lag 0, no children, end present with value 3.
    let mut b = Vec::new();
    b.put_u32_le(0);
    b.put_u128_le(0);
    b.put_u64_le(0);
    b.put_u32_le(0);
    b.put_u8(1);
    b.put_u8(3);
    let e = body_error(&framed(FrameKind::Push, Opcode::SubscribeToShardEvent as u16, 1, &b));
    assert_eq!(e.source, WireError::InvalidValue { field: "end", offset: 33, value: 3 });
    for (value, end) in [(1, SubscriptionEnd::Lifetime), (2, SubscriptionEnd::ShardEnd)] {
        b[33] = value;
        let Decoded::Complete(Ok(frame), _) = decode(&framed(FrameKind::Push, 0x0035, 1, &b)) else { panic!() };
        let FrameBody::Push(Push::SubscribeToShardEvent(event)) = frame.body else { panic!("an event") };
        assert_eq!(event.end, Some(end));
    }
    // RegisterStreamConsumer response: name "c", ARN "a", status 0 (undefined), creation time.
    let mut b = Vec::new();
    b.put_u16_le(1);
    b.put_u8(b'c');
    b.put_u16_le(1);
    b.put_u8(b'a');
    b.put_u8(0);
    b.put_u64_le(0);
    let e = body_error(&framed(FrameKind::Response, Opcode::RegisterStreamConsumer as u16, 1, &b));
    assert_eq!(e.source, WireError::InvalidValue { field: "consumer.status", offset: 6, value: 0 });
    // A starting position type outside 1..=5.
    let mut b = Vec::new();
    b.put_u16_le(1);
    b.put_u8(b'a');
    b.put_u32_le(0);
    b.put_u8(6);
    b.put_u8(0);
    b.put_u8(0);
    let e = body_error(&framed(FrameKind::Request, Opcode::SubscribeToShard as u16, 1, &b));
    assert_eq!(e.source, WireError::InvalidValue { field: "starting_position.iterator_type", offset: 7, value: 6 });
}

#[test]
fn an_undefined_scaling_type_is_refused() {
    // UpdateShardCount: stream "s", target 2, scaling_type 2 (undefined; only 1 exists).
    let mut b = Vec::new();
    b.put_u16_le(1);
    b.put_u8(b's');
    b.put_u32_le(2);
    b.put_u8(2);
    let e = body_error(&framed(FrameKind::Request, Opcode::UpdateShardCount as u16, 1, &b));
    assert_eq!(e.source, WireError::InvalidValue { field: "scaling_type", offset: 7, value: 2 });
    b[7] = 1;
    assert!(matches!(
        decode(&framed(FrameKind::Request, Opcode::UpdateShardCount as u16, 1, &b)),
        Decoded::Complete(Ok(_), _)
    ));
}

proptest! {
    /// Every truncation of every body is refused with a contextful error, never a panic.
    #[test]
    fn truncated_bodies_are_refused(f in frame()) {
        let bytes = encode(&f);
        let header = FrameHeader::parse(bytes[..HEADER_SIZE_BYTES].try_into().unwrap()).unwrap();
        let body = &bytes[HEADER_SIZE_BYTES..];
        for len in 0..body.len() {
            let e = body_error(&framed(header.kind, header.opcode, f.correlation_id, &body[..len]));
            prop_assert_eq!(e.correlation_id, f.correlation_id);
            prop_assert!(
                matches!(e.source, WireError::UnexpectedEof { .. } | WireError::CountTooLarge { .. }),
                "{:?}", e.source
            );
            prop_assert_eq!(e.status(), Status::MalformedFrame);
        }
    }

    /// A byte past the last field is refused: one value has exactly one encoding.
    #[test]
    fn trailing_bytes_are_refused(f in frame(), extra in 1usize..4) {
        let bytes = encode(&f);
        let header = FrameHeader::parse(bytes[..HEADER_SIZE_BYTES].try_into().unwrap()).unwrap();
        let mut body = bytes[HEADER_SIZE_BYTES..].to_vec();
        let at = body.len();
        body.extend(std::iter::repeat_n(0u8, extra));
        let e = body_error(&framed(header.kind, header.opcode, f.correlation_id, &body));
        prop_assert_eq!(e.source, WireError::TrailingBytes { offset: at, extra });
    }
}

#[test]
fn unexpected_eof_names_field_offset_need_and_have() {
    // DescribeStreamSummary: a string whose length prefix says 10 with 3 bytes behind it.
    let e = body_error(&framed(FrameKind::Request, 0x0004, 1, &[10, 0, b'a', b'b', b'c']));
    assert_eq!(e.source, WireError::UnexpectedEof { field: "stream_name", offset: 2, need: 10, have: 3 });
    assert!(e.to_string().contains("stream_name at offset 2: need 10 bytes, have 3"), "{e}");
}

fn put_record_body(presence: u8, key: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.put_u16_le(1);
    b.put_u8(b's');
    b.put_u16_le(key.len() as u16);
    b.put_slice(key);
    b.put_u8(presence); // explicit_hash_key presence
    b.put_u8(0); // sequence_number_for_ordering presence
    b.put_u32_le(0); // empty data
    b
}

#[test]
fn presence_bytes_other_than_0_and_1_are_refused() {
    assert!(matches!(
        decode(&framed(FrameKind::Request, 0x0010, 1, &put_record_body(0, b"k"))),
        Decoded::Complete(Ok(_), _)
    ));
    let e = body_error(&framed(FrameKind::Request, 0x0010, 1, &put_record_body(2, b"k")));
    assert_eq!(e.source, WireError::InvalidValue { field: "explicit_hash_key", offset: 6, value: 2 });
}

#[test]
fn invalid_utf8_is_refused() {
    let e = body_error(&framed(FrameKind::Request, 0x0010, 1, &put_record_body(0, &[0xff, 0xfe])));
    assert_eq!(e.source, WireError::InvalidUtf8 { field: "partition_key", offset: 5 });
}

#[test]
fn undefined_enum_values_are_refused() {
    // PutRecord response: shard, sequence number, durability 0 (undefined).
    let mut b = Vec::new();
    b.put_u32_le(1);
    b.put_u128_le(2);
    b.put_u8(0);
    let e = body_error(&framed(FrameKind::Response, 0x0010, 1, &b));
    assert_eq!(e.source, WireError::InvalidValue { field: "durability", offset: 20, value: 0 });
}

#[test]
fn a_count_larger_than_the_body_is_refused_before_allocating() {
    // PutRecords: stream "s", then a record count of u32::MAX with no records behind it.
    let mut b = Vec::new();
    b.put_u16_le(1);
    b.put_u8(b's');
    b.put_u32_le(u32::MAX);
    let e = body_error(&framed(FrameKind::Request, 0x0011, 1, &b));
    assert_eq!(e.source, WireError::CountTooLarge { field: "records", offset: 3, count: u32::MAX, have: 0 });
}

#[test]
fn a_placement_count_needs_six_bytes_per_shard() {
    // DescribePlacement response: 2 cores, connection on core 0, a count of 2 placements, then
    // one byte short of two (shard u32, core u16) pairs.
    let mut b = Vec::new();
    b.put_u16_le(2);
    b.put_u16_le(0);
    b.put_u32_le(2);
    b.put_u32_le(0);
    b.put_u16_le(1);
    b.put_u32_le(1);
    b.put_u8(0);
    let opcode = Opcode::DescribePlacement as u16;
    let e = body_error(&framed(FrameKind::Response, opcode, 1, &b));
    assert_eq!(e.source, WireError::CountTooLarge { field: "shards", offset: 4, count: 2, have: 11 });
    b.put_u8(0);
    let Decoded::Complete(Ok(frame), _) = decode(&framed(FrameKind::Response, opcode, 1, &b)) else { panic!() };
    let FrameBody::Response(Response::DescribePlacement(out)) = frame.body else { panic!("a placement") };
    assert_eq!((out.cores, out.connection_core), (2, 0));
    assert_eq!(out.shards, vec![ShardPlacement { shard: 0, core: 1 }, ShardPlacement { shard: 1, core: 0 }]);
}

#[test]
fn an_inconsistent_failed_record_count_is_refused() {
    let output = PutRecordsOutput {
        records: vec![
            PutRecordsResult::Success { shard: 0, sequence_number: 1 },
            PutRecordsResult::Failure { status: Status::ProvisionedThroughputExceeded, message: "slow".into() },
        ],
        durability: Durability::Synced,
    };
    assert_eq!(output.failed_record_count(), 1);
    let bytes = encode(&Frame { correlation_id: 1, body: FrameBody::Response(Response::PutRecords(output)) });
    let mut body = bytes[HEADER_SIZE_BYTES..].to_vec();
    body[0] = 2;
    let e = body_error(&framed(FrameKind::Response, 0x0011, 1, &body));
    assert_eq!(e.source, WireError::FailedCountMismatch { declared: 2, actual: 1 });
}

#[test]
fn unencodable_values_fail_and_leave_the_buffer_as_it_was() {
    let long_key = Frame {
        correlation_id: 1,
        body: FrameBody::Request(Request::PutRecord(PutRecord {
            stream_name: "s".into(),
            partition_key: "k".repeat(70_000),
            explicit_hash_key: None,
            sequence_number_for_ordering: None,
            data: Bytes::new(),
        })),
    };
    let mut dst = BytesMut::from(&b"kept"[..]);
    assert_eq!(
        long_key.encode(&mut dst),
        Err(EncodeError::TooLong { field: "partition_key", size_bytes: 70_000, max_bytes: 65_535 })
    );
    assert_eq!(&dst[..], b"kept");

    let huge = Frame {
        correlation_id: 1,
        body: FrameBody::Request(Request::PutRecord(PutRecord {
            stream_name: "s".into(),
            partition_key: "k".into(),
            explicit_hash_key: None,
            sequence_number_for_ordering: None,
            data: Bytes::from(vec![0u8; 16 * 1024 * 1024]),
        })),
    };
    assert!(matches!(huge.encode(&mut dst), Err(EncodeError::FrameTooLarge { max_bytes: 16_777_216, .. })));
    assert_eq!(&dst[..], b"kept");
}

#[test]
fn a_server_answers_non_request_frames_with_malformed_frame() {
    let (id, request) = summary_request(5).into_request().unwrap();
    assert_eq!(id, 5);
    assert_eq!(request.opcode(), Opcode::DescribeStreamSummary);
    let stray = Frame { correlation_id: 6, body: FrameBody::Response(Response::CreateStream) };
    let reply = stray.into_request().unwrap_err();
    assert_eq!(reply.correlation_id, 6);
    let FrameBody::Error(err) = reply.body else { panic!("error frame") };
    assert_eq!((err.opcode, err.status), (Opcode::CreateStream as u16, Status::MalformedFrame));
    let event = SubscribeToShardEvent {
        records: vec![],
        continuation_sequence_number: 1,
        millis_behind_latest: 0,
        child_shards: vec![],
        end: None,
    };
    let pushed = Frame { correlation_id: 8, body: FrameBody::Push(Push::SubscribeToShardEvent(event)) };
    let reply = pushed.into_request().unwrap_err();
    assert_eq!(reply.correlation_id, 8);
    let FrameBody::Error(err) = reply.body else { panic!("error frame") };
    assert_eq!((err.opcode, err.status), (0x0035, Status::MalformedFrame));
    assert_eq!(err.message, "a client may send only request frames, not Push frames");
}
