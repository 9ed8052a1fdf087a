//! Bad input: error frames for bad bodies, a farewell and close for lost
//! framing, and a server that keeps serving after garbage.

use shoal_protocol::frame::FrameBody;
use shoal_protocol::ops::*;
use shoal_protocol::{Request, Response, Status};

use crate::harness::*;

#[test]
fn unknown_opcode_gets_an_error_and_the_connection_goes_on() {
    let server = TestServer::start();
    let mut c = server.client();
    // A well-framed request with opcode 0x7777 and an empty body.
    let mut header = [0u8; 24];
    header[4] = 1; // version
    header[5] = 1; // request
    header[6..8].copy_from_slice(&0x7777u16.to_le_bytes());
    header[8..16].copy_from_slice(&42u64.to_le_bytes());
    let crc = crc32(&header[..20]);
    header[20..24].copy_from_slice(&crc.to_le_bytes());
    c.send_bytes(&header);
    let f = c.recv().expect("answer");
    assert_eq!(f.correlation_id, 42);
    let FrameBody::Error(e) = f.body else { panic!("error frame") };
    assert_eq!(e.status, Status::UnsupportedOperation);
    // Still serving on the same connection.
    assert!(matches!(c.ok(create("still", 1)), Response::CreateStream));
}

/// Whatever the opcode or body, a frame that is not a request gets
/// MalformedFrame (PROTOCOL.md §3.2), and the connection goes on.
#[test]
fn frames_that_are_not_requests_get_malformed_frame_and_the_connection_goes_on() {
    use shoal_protocol::{FrameHeader, FrameKind};
    let server = TestServer::start();
    let mut c = server.client();
    let cases = [
        (FrameKind::Response, 0x0004u16, vec![0xde, 0xad]), // a body that decodes as nothing
        (FrameKind::Response, 0x0999, Vec::new()),          // an unknown opcode
        (FrameKind::Error, 0x0001, vec![0x01]),             // a truncated error body
        (FrameKind::Push, 0x0004, Vec::new()),              // an opcode that is never pushed
        (FrameKind::Push, 0x0035, vec![0; 3]),
    ];
    for (i, (kind, opcode, body)) in cases.into_iter().enumerate() {
        let correlation_id = 100 + i as u64;
        let header = FrameHeader { body_size_bytes: body.len() as u32, kind, opcode, correlation_id };
        c.send_bytes(&[header.to_bytes().as_slice(), &body].concat());
        let f = c.recv().expect("answer");
        assert_eq!(f.correlation_id, correlation_id);
        let FrameBody::Error(e) = f.body else { panic!("error frame for {kind:?}") };
        assert_eq!(e.status, Status::MalformedFrame, "{kind:?} {opcode:#06x}: {}", e.message);
        assert_eq!(e.opcode, opcode);
        assert!(e.message.contains("only request frames"), "{}", e.message);
    }
    assert!(matches!(c.ok(create("after-bad-kinds", 1)), Response::CreateStream));
}

#[test]
fn invalid_requests_get_clear_errors() {
    let server = TestServer::start();
    let mut c = server.client();
    let cases: Vec<(Request, Status)> = vec![
        (create("bad name!", 1), Status::Validation),
        (create("zero", 0), Status::Validation),
        (put_records("nope", vec![entry("k", b"x")]), Status::ResourceNotFound),
        (put_records("nope", vec![]), Status::Validation),
        (put_records("nope", vec![entry("", b"x")]), Status::Validation),
        (get_records(bytes::Bytes::from_static(b"not an iterator"), None), Status::InvalidArgument),
    ];
    for (req, want) in cases {
        let (status, msg) = c.call(req.clone()).expect_err("refused");
        assert!(
            status == want || (want == Status::Validation && status == Status::InvalidArgument),
            "{req:?}: got {status:?} ({msg}), want {want:?}"
        );
        assert!(!msg.is_empty());
    }
}

#[test]
fn lost_framing_gets_a_farewell_then_close_and_the_server_serves_others() {
    let server = TestServer::start();
    let mut bad = server.client();
    bad.send_bytes(&[0xff; 64]); // version 0xff
    let f = bad.recv().expect("farewell");
    assert!(matches!(f.body, FrameBody::Error(_)));
    assert!(bad.recv().is_none(), "connection closed after the farewell");
    // An oversized length is refused from the header alone.
    let mut big = server.client();
    let mut header = [0u8; 24];
    header[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    header[4] = 1;
    header[5] = 1;
    header[6..8].copy_from_slice(&0x0011u16.to_le_bytes());
    let crc = crc32(&header[..20]);
    header[20..24].copy_from_slice(&crc.to_le_bytes());
    big.send_bytes(&header);
    let f = big.recv().expect("farewell");
    let FrameBody::Error(e) = f.body else { panic!() };
    assert_eq!(e.status, Status::FrameTooLarge);
    assert!(big.recv().is_none());
    let mut good = server.client();
    assert!(matches!(good.ok(create("fine", 1)), Response::CreateStream));
}

#[test]
fn random_and_mutated_frames_never_take_the_server_down() {
    let server = TestServer::start();
    let mut setup = server.client();
    setup.ok(create("fuzz", 2));
    // Valid frames to mutate.
    let mut seeds = Vec::new();
    for req in [
        put_records("fuzz", vec![entry("k", b"data"), entry("k2", b"more")]),
        create("fuzz2", 1),
        iterator("fuzz", 0, ShardIteratorType::TrimHorizon, None, None),
        Request::ListShards(ListShards {
            stream_name: Some("fuzz".into()),
            next_token: None,
            exclusive_start_shard: None,
            max_results: None,
            shard_filter: None,
        }),
    ] {
        let mut out = bytes::BytesMut::new();
        shoal_protocol::Frame { correlation_id: 9, body: FrameBody::Request(req) }.encode(&mut out).expect("encode");
        seeds.push(out.to_vec());
    }
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut answered = 0;
    for round in 0..300 {
        let mut c = server.client();
        c.stream.set_read_timeout(Some(std::time::Duration::from_millis(300))).expect("timeout");
        let mut bytes = seeds[(next() % seeds.len() as u64) as usize].clone();
        match round % 3 {
            0 => {
                // Mutate the body only, keep the header valid: errors, not closes.
                for _ in 0..1 + next() % 4 {
                    let len = bytes.len();
                    if len > 24 {
                        let i = 24 + (next() as usize % (len - 24));
                        bytes[i] ^= (next() % 255 + 1) as u8;
                    }
                }
            }
            1 => {
                for _ in 0..1 + next() % 8 {
                    let i = next() as usize % bytes.len();
                    bytes[i] = next() as u8;
                }
            }
            _ => bytes = (0..next() % 200).map(|_| next() as u8).collect(),
        }
        let _ = std::io::Write::write_all(&mut c.stream, &bytes);
        // End our side so the server answers what it has and closes,
        // instead of waiting for the rest of a frame.
        let _ = c.stream.shutdown(std::net::Shutdown::Write);
        // Whatever comes back must frame correctly (recv_or_timeout panics
        // otherwise); a timeout means the server waits for more bytes.
        while let Some(Some(frame)) = c.recv_or_timeout() {
            answered += 1;
            if let FrameBody::Error(e) = frame.body {
                assert!(!e.message.is_empty(), "errors say what was wrong");
            }
        }
    }
    assert!(answered > 100, "most garbage is answered, not ignored: {answered}");
    // Still serving correct answers.
    let mut c = server.client();
    let Response::PutRecords(out) = c.ok(put_records("fuzz", vec![entry("after", b"fuzzing")])) else { panic!() };
    assert!(matches!(out.records[0], PutRecordsResult::Success { .. }));
    let found: usize =
        (0..2).map(|s| read_shard(&mut c, "fuzz", s).iter().filter(|r| r.partition_key == "after").count()).sum();
    assert_eq!(found, 1);
}

#[test]
fn shutdown_answers_what_it_accepted_and_restart_keeps_every_acknowledged_record() {
    let mut server = TestServer::start();
    let mut c = server.client();
    c.ok(create("drain", 2));
    let mut key_of = std::collections::BTreeMap::new();
    for i in 0..200u32 {
        let id = c.send(put_records("drain", vec![entry(&format!("k{i}"), &i.to_le_bytes())]));
        key_of.insert(id, format!("k{i}"));
    }
    // Shut down while the puts are in flight.
    let running = server.server.take().expect("running");
    let stopper = std::thread::spawn(move || running.shutdown());
    let mut acked = std::collections::BTreeSet::new();
    while let Some(Some(f)) = c.recv_or_timeout() {
        if let FrameBody::Response(Response::PutRecords(p)) = f.body {
            assert!(matches!(p.records[0], PutRecordsResult::Success { .. }));
            acked.insert(key_of[&f.correlation_id].clone());
        }
    }
    stopper.join().expect("thread").expect("clean shutdown");
    assert!(!acked.is_empty());
    drop(c);
    server.server = Some(shoal_server::Server::start(config(server.dir.path())).expect("restart"));
    let mut c = server.client();
    let stored: std::collections::BTreeSet<String> =
        (0..2).flat_map(|s| read_shard(&mut c, "drain", s)).map(|r| r.partition_key).collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    server.stop();
}

fn crc32(bytes: &[u8]) -> u32 {
    // IEEE CRC-32, bitwise: independent of the code under test.
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn expired_iterators_are_refused_with_expired_iterator() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("old", 1));
    let key_bytes = std::fs::read(server.dir.path().join("server.key")).expect("server key");
    let key: [u8; 32] = key_bytes.try_into().expect("32-byte key");
    let incarnation = server.server.as_ref().expect("running").engine().catalog().stream("old").expect("s").incarnation;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    let token = |issued_ms| {
        shoal_protocol::ShardIteratorToken {
            stream_name: "old".into(),
            stream_incarnation: incarnation,
            shard: 0,
            position: shoal_protocol::IteratorPosition::AtSequenceNumber(0),
            issued_ms,
        }
        .seal(&key)
    };
    let (status, msg) = c.call(get_records(token(now - 301_000).into(), None)).expect_err("expired");
    assert_eq!(status, Status::ExpiredIterator, "{msg}");
    assert!(msg.contains("Iterator expired"), "{msg}");
    // A fresh one sealed the same way is accepted: the expiry was the reason.
    assert!(matches!(c.ok(get_records(token(now - 1_000).into(), None)), Response::GetRecords(_)));
}

/// A second server on a port where one is listening would share its connections (SO_REUSEPORT);
/// it refuses to start instead, and the first goes on serving.
#[test]
fn a_second_server_on_a_listened_port_refuses_to_start() {
    let first = TestServer::start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let mut c = config(dir.path());
    c.listen = first.addr();
    match shoal_server::Server::start(c) {
        Err(shoal_server::ServerError::AddressInUse { addr, .. }) => assert_eq!(addr, first.addr()),
        Err(e) => panic!("expected AddressInUse, got {e}"),
        Ok(_) => panic!("a second server started on {}", first.addr()),
    }
    let mut client = first.client();
    let answer = client.call(Request::ListStreams(ListStreams::default()));
    assert!(matches!(answer, Ok(Response::ListStreams(_))), "{answer:?}");
}

/// A listener that goes away a moment after the start began (a server killed just before:
/// its socket can accept for a few milliseconds after the process is gone) is not another
/// server: the start waits it out instead of refusing.
#[test]
fn a_listener_that_goes_away_during_the_start_does_not_stop_it() {
    let lingering = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = lingering.local_addr().expect("addr");
    let closer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(150));
        drop(lingering);
    });
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let mut c = config(dir.path());
    c.listen = addr;
    let server = shoal_server::Server::start(c).expect("starts once the old listener is gone");
    closer.join().expect("closer");
    assert_eq!(server.local_addr(), addr);
    server.shutdown().expect("shutdown");
}

/// Requests read in full before a header that loses framing are answered, a subscription by its
/// response, and only then comes the farewell: the last frame on the connection (PROTOCOL.md
/// §3.3). No subscription is told the server is shutting down.
#[test]
fn requests_before_lost_framing_are_answered_and_the_farewell_comes_last() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("lastword", 1));
    let Response::RegisterStreamConsumer(registered) = c.ok(Request::RegisterStreamConsumer(RegisterStreamConsumer {
        stream_name: "lastword".into(),
        consumer_name: "tail".into(),
    })) else {
        panic!("register")
    };
    let mut bad = server.client();
    let mut bytes = bytes::BytesMut::new();
    let put = put_records("lastword", vec![entry("k", b"before the bad header")]);
    shoal_protocol::frame::Frame::encode_request(7, &put, &mut bytes).expect("encode");
    let subscribe = Request::SubscribeToShard(SubscribeToShard {
        consumer_arn: registered.consumer.consumer_arn.clone(),
        shard: 0,
        starting_position: StartingPosition::latest(),
    });
    shoal_protocol::frame::Frame::encode_request(8, &subscribe, &mut bytes).expect("encode");
    bytes.extend_from_slice(&[0xff; 24]); // a header of version 0xff
    bad.send_bytes(&bytes);
    let mut frames = Vec::new();
    while let Some(frame) = bad.recv() {
        frames.push(frame);
    }
    let last = frames.pop().expect("frames");
    let FrameBody::Error(farewell) = &last.body else { panic!("last frame {last:?}") };
    assert_eq!((last.correlation_id, farewell.status), (0, Status::UnsupportedVersion));
    assert!(frames.iter().any(|f| f.correlation_id == 7 && matches!(f.body, FrameBody::Response(_))), "{frames:?}");
    assert!(
        frames
            .iter()
            .any(|f| f.correlation_id == 8 && matches!(f.body, FrameBody::Response(Response::SubscribeToShard(_)))),
        "{frames:?}"
    );
    assert!(!frames.iter().any(|f| matches!(f.body, FrameBody::Error(_))), "no other error frame: {frames:?}");
}

/// A client that goes on sending after the header that lost framing, a few bytes at a time
/// (as an outside fuzzer did), still gets every answer and then the farewell. The server knows
/// framing is lost at the header's version byte, before the rest of the header arrives; if it
/// closed then, the bytes still coming would make TCP reset the connection, and a reset may
/// discard answers the client has received but not read yet.
#[test]
fn answers_and_the_farewell_survive_a_client_that_keeps_sending_after_lost_framing() {
    let server = TestServer::start();
    let mut setup = server.client();
    setup.ok(create("talker", 1));
    for round in 0..20u64 {
        let mut c = server.client();
        let mut bytes = bytes::BytesMut::new();
        let put = put_records("talker", vec![entry("k", b"before the bad header")]);
        shoal_protocol::frame::Frame::encode_request(1, &put, &mut bytes).expect("encode");
        let describe = Request::DescribeStreamSummary(DescribeStreamSummary { stream_name: "talker".into() });
        shoal_protocol::frame::Frame::encode_request(2, &describe, &mut bytes).expect("encode");
        // A header of version 0xff: framing is lost at its fifth byte. The rest trickles in.
        let mut trickle = vec![0xff; 24];
        trickle.extend_from_slice(&[0xee; 40]);
        bytes.extend_from_slice(&trickle[..5]);
        c.send_bytes(&bytes);
        for chunk in trickle[5..].chunks(3) {
            if c.try_send_bytes(chunk).is_err() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let mut frames = Vec::new();
        while let Some(Some(frame)) = c.recv_or_timeout() {
            frames.push(frame);
        }
        let last = frames.last().unwrap_or_else(|| panic!("round {round}: no frame at all"));
        assert!(
            matches!(&last.body, FrameBody::Error(f) if f.status == Status::UnsupportedVersion),
            "round {round}: {frames:?}"
        );
        for id in [1, 2] {
            assert!(
                frames.iter().any(|f| f.correlation_id == id && matches!(f.body, FrameBody::Response(_))),
                "round {round}: no answer to request {id}: {frames:?}"
            );
        }
    }
}
