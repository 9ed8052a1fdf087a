//! decode(encode(x)) == x for every message type, however the byte stream is chunked.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use shoal_protocol::{decode, decode_raw, Decoded, Frame, HEADER_SIZE_BYTES};

use crate::strategies::frame;
use crate::{decode_chunked, encode};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_frame_round_trips(f in frame()) {
        let bytes = encode(&f);
        match decode(&bytes) {
            Decoded::Complete(Ok(decoded), consumed) => {
                prop_assert_eq!(consumed, bytes.len());
                prop_assert_eq!(&decoded, &f);
                prop_assert_eq!(encode(&decoded), bytes);
            }
            other => prop_assert!(false, "did not decode: {:?}", other),
        }
    }

    #[test]
    fn a_stream_of_frames_round_trips_under_any_chunking(
        frames in vec(frame(), 1..8),
        chunks in vec(1usize..64, 1..16),
    ) {
        let mut stream = BytesMut::new();
        for f in &frames {
            f.encode(&mut stream).expect("frame encodes");
        }
        let decoded: Vec<Frame> = decode_chunked(&stream, &chunks)
            .into_iter()
            .map(|r| r.expect("body decodes"))
            .collect();
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn one_byte_at_a_time(frames in vec(frame(), 1..4)) {
        let mut stream = BytesMut::new();
        for f in &frames {
            f.encode(&mut stream).expect("frame encodes");
        }
        let decoded: Vec<Frame> = decode_chunked(&stream, &[1]).into_iter().map(|r| r.expect("body decodes")).collect();
        prop_assert_eq!(decoded, frames);
    }

    /// `Incomplete(n)` is exact: n more bytes complete the header, or the whole frame.
    #[test]
    fn incomplete_asks_for_exactly_what_is_missing(f in frame()) {
        let bytes = encode(&f);
        for len in 0..bytes.len() {
            let expected = if len < HEADER_SIZE_BYTES { HEADER_SIZE_BYTES - len } else { bytes.len() - len };
            prop_assert_eq!(decode_raw(&bytes[..len]), Decoded::Incomplete(expected));
        }
    }

    /// Encoding appends: whatever the buffer held before is kept.
    #[test]
    fn encode_appends_to_the_callers_buffer(prefix in vec(any::<u8>(), 0..32), f in frame()) {
        let mut dst = BytesMut::from(&prefix[..]);
        f.encode(&mut dst).expect("frame encodes");
        prop_assert_eq!(&dst[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&dst[prefix.len()..], &encode(&f)[..]);
    }
}

/// Blobs decoded from a read buffer share its memory instead of copying it.
#[test]
fn record_data_is_a_zero_copy_slice_of_the_read_buffer() {
    use bytes::Bytes;
    use shoal_protocol::ops::PutRecord;
    use shoal_protocol::{decode_from, FrameBody, Request};

    let data = Bytes::from(vec![0xab; 4096]);
    let frame = Frame {
        correlation_id: 9,
        body: FrameBody::Request(Request::PutRecord(PutRecord {
            stream_name: "s".into(),
            partition_key: "k".into(),
            explicit_hash_key: None,
            sequence_number_for_ordering: None,
            data,
        })),
    };
    let mut buf = encode(&frame);
    let range = buf.as_ptr_range();
    let Decoded::Complete(Ok(decoded), _) = decode_from(&mut buf) else { panic!("decodes") };
    let FrameBody::Request(Request::PutRecord(put)) = decoded.body else { panic!("a PutRecord") };
    assert!(range.contains(&put.data.as_ptr()), "data points into the read buffer");
    assert_eq!(put.data.len(), 4096);
}

/// A reader keeps GetRecords' next iterator for its next call: the iterator
/// must not keep the whole response's buffer alive with it, or the client
/// could never reuse that memory for the next response.
#[test]
fn the_next_iterator_does_not_keep_the_response_buffer_alive() {
    use bytes::Bytes;
    use shoal_protocol::ops::{GetRecordsOutput, Record};
    use shoal_protocol::{decode_from, FrameBody, Response};

    let records = (0..64)
        .map(|i| Record {
            sequence_number: i,
            arrival_timestamp_ms: 1,
            partition_key: "k".into(),
            data: Bytes::from(vec![7; 1024]),
        })
        .collect();
    let frame = Frame {
        correlation_id: 3,
        body: FrameBody::Response(Response::GetRecords(GetRecordsOutput {
            records,
            next_iterator: Some(Bytes::from_static(b"opaque-iterator")),
            millis_behind_latest: 0,
            child_shards: Vec::new(),
        })),
    };
    let mut buf = encode(&frame);
    let len = buf.len();
    let Decoded::Complete(Ok(decoded), _) = decode_from(&mut buf) else { panic!("decodes") };
    let FrameBody::Response(Response::GetRecords(out)) = decoded.body else { panic!("GetRecords") };
    assert_eq!(out.records.len(), 64);
    let next = out.next_iterator.clone().expect("an iterator");
    drop(out);
    assert!(buf.try_reclaim(len), "the read buffer is free again while the iterator lives");
    assert_eq!(&next[..], b"opaque-iterator");
}
