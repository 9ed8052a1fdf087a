//! The metrics endpoint against what clients saw: records acknowledged,
//! read, pushed and refused, subscriptions, forwards; the exposition
//! format; and HTTP input that is not a scrape.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_protocol::frame::FrameBody;
use shoal_protocol::ops::*;
use shoal_protocol::{Request, Response, Status};
use shoal_server::metrics::parse::{parse, Exposition};

use crate::harness::*;

/// Sends raw bytes as a request; returns the status and the whole response.
fn http(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to metrics");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    // The server may answer (and stop reading) before a huge request is in.
    let _ = s.write_all(request);
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    (status, text)
}

/// GET /metrics, checked to be valid exposition.
fn scrape(addr: SocketAddr) -> Exposition {
    let (status, response) = http(addr, b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(status, 200, "{response}");
    let (head, body) = response.split_once("\r\n\r\n").expect("head and body");
    assert!(head.contains("Content-Type: text/plain; version=0.0.4"), "{head}");
    parse(body).unwrap_or_else(|e| panic!("invalid exposition: {e}\n{body}"))
}

fn shard_labels(stream: &str, shard: u32) -> [(&str, String); 2] {
    [("stream", stream.to_string()), ("shard", shard.to_string())]
}

/// A per-shard sample's value (0 if absent).
fn shard_value(m: &Exposition, name: &str, stream: &str, shard: u32, extra: &[(&str, &str)]) -> u64 {
    let [a, b] = shard_labels(stream, shard);
    let mut labels: Vec<(&str, &str)> = vec![(a.0, &a.1), (b.0, &b.1)];
    labels.extend_from_slice(extra);
    m.value(name, &labels).unwrap_or(0.0) as u64
}

fn unlimited() -> Option<ShardLimits> {
    Some(ShardLimits {
        write_bytes_per_second: u32::MAX,
        write_records_per_second: u32::MAX,
        read_bytes_per_second: u32::MAX,
        read_calls_per_second: u32::MAX,
    })
}

fn create_with(name: &str, shards: u32, limits: Option<ShardLimits>) -> Request {
    Request::CreateStream(CreateStream {
        stream_name: name.into(),
        shard_count: shards,
        retention_hours: None,
        shard_limits: limits,
    })
}

fn metrics_server() -> TestServer {
    TestServer::start_with(|c| {
        c.metrics = Some("127.0.0.1:0".parse().expect("addr"));
        // Subscriptions outlive the test: the gauge counts them steadily.
        c.engine.subscription.lifetime_ms = 120_000;
    })
}

/// Waits (bounded) until `check` holds on a fresh scrape.
fn eventually(addr: SocketAddr, what: &str, check: impl Fn(&Exposition) -> bool) -> Exposition {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = scrape(addr);
        if check(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "never true: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SHARDS: u32 = 4;

#[test]
fn counts_match_what_clients_saw() {
    let server = metrics_server();
    let metrics = server.metrics_addr();
    let mut c = server.client();
    c.ok(create_with("load", SHARDS, unlimited()));
    let catalog = server.server.as_ref().expect("running").engine().catalog();
    let tag = catalog.stream("load").expect("stream").tag();
    let cores: std::collections::BTreeSet<usize> =
        (0..SHARDS).map(|i| shoal_engine::catalog::owning_core(tag, i, 2)).collect();
    assert_eq!(cores.len(), 2, "the stream has shards on both cores");

    // Load from three connections while a fourth thread keeps scraping.
    let done = Arc::new(AtomicBool::new(false));
    let scraper = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut scrapes = 0;
            while !done.load(Ordering::Acquire) || scrapes == 0 {
                scrape(metrics);
                scrapes += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            scrapes
        })
    };
    let producers: Vec<_> = (0..3)
        .map(|p| {
            let addr = server.addr();
            std::thread::spawn(move || {
                let mut c = RawClient::connect(addr);
                let mut acked = [0u64; SHARDS as usize];
                for call in 0..20 {
                    let records = (0..50).map(|i| entry(&format!("p{p}-{call}-{i}"), b"payload")).collect();
                    let Response::PutRecords(out) = c.ok(put_records("load", records)) else { panic!("put") };
                    for r in out.records {
                        match r {
                            PutRecordsResult::Success { shard, .. } => acked[shard as usize] += 1,
                            PutRecordsResult::Failure { status, message } => panic!("{status:?}: {message}"),
                        }
                    }
                }
                acked
            })
        })
        .collect();
    let mut acked = [0u64; SHARDS as usize];
    for p in producers {
        for (total, n) in acked.iter_mut().zip(p.join().expect("producer")) {
            *total += n;
        }
    }
    done.store(true, Ordering::Release);
    assert!(scraper.join().expect("scraper") >= 1);
    assert_eq!(acked.iter().sum::<u64>(), 3 * 20 * 50);

    let read: Vec<u64> = (0..SHARDS).map(|s| read_shard(&mut c, "load", s).len() as u64).collect();
    let m = scrape(metrics);
    for shard in 0..SHARDS {
        let i = shard as usize;
        assert_eq!(shard_value(&m, "shoal_shard_incoming_records_total", "load", shard, &[]), acked[i]);
        assert_eq!(shard_value(&m, "shoal_shard_records", "load", shard, &[]), acked[i], "stored");
        let polled = [("path", "polled")];
        assert_eq!(shard_value(&m, "shoal_shard_outgoing_records_total", "load", shard, &polled), read[i]);
        assert_eq!(read[i], acked[i]);
        let bytes = shard_value(&m, "shoal_shard_incoming_bytes_total", "load", shard, &[]);
        assert!(bytes >= acked[i] * 7, "key and data bytes of shard {shard}: {bytes}");
        assert_eq!(shard_value(&m, "shoal_shard_write_throttled_records_total", "load", shard, &[]), 0);
        let newest = shard_value(&m, "shoal_shard_newest_arrival_timestamp_seconds", "load", shard, &[]);
        let oldest = shard_value(&m, "shoal_shard_oldest_arrival_timestamp_seconds", "load", shard, &[]);
        assert!(oldest > 1_600_000_000 && oldest <= newest, "{oldest} {newest}");
    }
    assert!(m.sum("shoal_forwards_total", &[]) > 0.0, "some puts went to the other core's shards");
    assert_eq!(m.sum("shoal_requests_total", &[("op", "PutRecords"), ("outcome", "ok")]), 60.0);
    assert!(m.sum("shoal_request_duration_seconds_count", &[("op", "PutRecords")]) >= 60.0);
    let groups = m.sum("shoal_group_commit_records_sum", &[]);
    assert_eq!(groups, 3000.0, "every stored record was in one group commit");
    assert!(m.sum("shoal_fsync_duration_seconds_count", &[]) >= 1.0);
    assert!(m.value("shoal_open_segments", &[]).unwrap_or(0.0) >= SHARDS as f64);
    assert!(m.value("shoal_stream_disk_bytes", &[("stream", "load")]).unwrap_or(0.0) > 0.0);
    assert!(m.sum("shoal_tail_cache_hits_total", &[]) >= 1.0);

    // Fan-out: two subscriptions on one connection, read to the end.
    let Response::RegisterStreamConsumer(reg) = c.ok(Request::RegisterStreamConsumer(RegisterStreamConsumer {
        stream_name: "load".into(),
        consumer_name: "watcher".into(),
    })) else {
        panic!("register")
    };
    let mut sub = server.client();
    let mut ids = BTreeMap::new();
    for shard in [0u32, 1] {
        let id = sub.send(Request::SubscribeToShard(SubscribeToShard {
            consumer_arn: reg.consumer.consumer_arn.clone(),
            shard,
            starting_position: StartingPosition::trim_horizon(),
        }));
        ids.insert(id, shard);
    }
    let mut pushed = [0u64; 2];
    let mut started = 0;
    while started < 2 || pushed[0] < acked[0] || pushed[1] < acked[1] {
        let frame = sub.recv().expect("frame");
        let shard = ids[&frame.correlation_id] as usize;
        match frame.body {
            FrameBody::Response(Response::SubscribeToShard(_)) => started += 1,
            FrameBody::Push(Push::SubscribeToShardEvent(e)) => pushed[shard] += e.records.len() as u64,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(pushed, [acked[0], acked[1]]);
    let fanout = [("path", "fanout")];
    let m = eventually(metrics, "fan-out records counted", |m| {
        (0..2).all(|s| shard_value(m, "shoal_shard_outgoing_records_total", "load", s, &fanout) == pushed[s as usize])
    });
    for shard in 0..SHARDS {
        let want = u64::from(shard < 2);
        assert_eq!(shard_value(&m, "shoal_shard_subscriptions", "load", shard, &[]), want, "shard {shard}");
    }
    assert_eq!(m.sum("shoal_requests_total", &[("op", "SubscribeToShard"), ("outcome", "ok")]), 2.0);
    drop(sub);
    eventually(metrics, "subscriptions end with their connection", |m| m.sum("shoal_shard_subscriptions", &[]) == 0.0);
}

#[test]
fn throttle_counts_match_the_refusals_clients_saw() {
    let server = metrics_server();
    let metrics = server.metrics_addr();
    let mut c = server.client();
    c.ok(create_with("limited", 2, None)); // Kinesis' limits, the server's default
                                           // Overload shard 0 (hash key 0): 4,000 records offered at once against
                                           // 1,000 records/s.
    let mut w = server.client();
    let calls: Vec<u64> = (0..8)
        .map(|call| {
            let records = (0..500)
                .map(|i| PutRecordsEntry {
                    partition_key: format!("{call}-{i}"),
                    explicit_hash_key: Some(0),
                    data: bytes::Bytes::from_static(b"x"),
                })
                .collect();
            w.send(put_records("limited", records))
        })
        .collect();
    let mut refused = 0u64;
    let mut stored = 0u64;
    // Answers may come in any order.
    for _ in &calls {
        let frame = w.recv().expect("answer");
        assert!(calls.contains(&frame.correlation_id));
        let FrameBody::Response(Response::PutRecords(out)) = frame.body else { panic!("put answer") };
        for r in out.records {
            match r {
                PutRecordsResult::Success { shard, .. } => {
                    assert_eq!(shard, 0);
                    stored += 1;
                }
                PutRecordsResult::Failure { status, .. } => {
                    assert_eq!(status, Status::ProvisionedThroughputExceeded);
                    refused += 1;
                }
            }
        }
    }
    assert!(refused > 0, "4,000 records at once exceed 1,000 records/s");
    // Ten reads at once against 5 calls/s.
    let Response::GetShardIterator(it) = c.ok(iterator("limited", 0, ShardIteratorType::TrimHorizon, None, None))
    else {
        panic!("iterator")
    };
    let reads: Vec<u64> = (0..10).map(|_| c.send(get_records(it.iterator.clone(), Some(10)))).collect();
    let (mut read_refused, mut read_records) = (0u64, 0u64);
    for _ in &reads {
        let frame = c.recv().expect("answer");
        assert!(reads.contains(&frame.correlation_id));
        match frame.body {
            FrameBody::Response(Response::GetRecords(r)) => read_records += r.records.len() as u64,
            FrameBody::Error(e) => {
                assert_eq!(e.status, Status::ProvisionedThroughputExceeded);
                read_refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(read_refused > 0, "10 reads at once exceed 5 calls/s");

    let m = scrape(metrics);
    assert_eq!(shard_value(&m, "shoal_shard_write_throttled_records_total", "limited", 0, &[]), refused);
    assert_eq!(shard_value(&m, "shoal_shard_incoming_records_total", "limited", 0, &[]), stored);
    assert_eq!(shard_value(&m, "shoal_shard_read_throttled_requests_total", "limited", 0, &[]), read_refused);
    let polled = [("path", "polled")];
    assert_eq!(shard_value(&m, "shoal_shard_outgoing_records_total", "limited", 0, &polled), read_records);
    for name in ["shoal_shard_write_throttled_records_total", "shoal_shard_read_throttled_requests_total"] {
        assert_eq!(shard_value(&m, name, "limited", 1, &[]), 0, "{name} of the idle shard");
    }
    let throttled = [("op", "GetRecords"), ("outcome", "ProvisionedThroughputExceededException")];
    assert_eq!(m.sum("shoal_requests_total", &throttled), read_refused as f64);
    assert_eq!(m.sum("shoal_requests_total", &[("op", "PutRecords"), ("outcome", "ok")]), 8.0);
}

/// DescribePlacement against where requests run: the core that counts the request is its
/// `connection_core`, and a put from that connection is forwarded exactly when the placement
/// puts the shard on another core.
#[test]
fn placement_agrees_with_request_counts_and_forwards() {
    let server = metrics_server();
    let metrics = server.metrics_addr();
    let mut c = server.client();
    c.ok(create_with("placed", SHARDS, unlimited()));
    let Response::DescribePlacement(p) = c.ok(Request::DescribePlacement(DescribePlacement::new("placed"))) else {
        panic!("a placement")
    };
    let here = p.connection_core.to_string();
    let m = scrape(metrics);
    let ok = [("op", "DescribePlacement"), ("outcome", "ok")];
    assert_eq!(m.sum("shoal_requests_total", &ok), 1.0);
    assert_eq!(m.sum("shoal_requests_total", &[("core", &here), ok[0], ok[1]]), 1.0, "counted on {here}");

    // One put per shard, each checked on its own: the counts per core would not tell a
    // placement from its mirror image.
    let Response::ListShards(list) = c.ok(Request::ListShards(ListShards::for_stream("placed"))) else { panic!() };
    let mut forwards = 0.0;
    for (shard, placed) in list.shards.iter().zip(&p.shards) {
        assert_eq!(shard.index, placed.shard);
        let put = PutRecord {
            explicit_hash_key: Some(shard.hash_key_range.start),
            ..PutRecord::new("placed", "k", &b"x"[..])
        };
        let Response::PutRecord(out) = c.ok(Request::PutRecord(put)) else { panic!("put") };
        assert_eq!(out.shard, shard.index);
        if placed.core != p.connection_core {
            forwards += 1.0;
        }
        let m = scrape(metrics);
        assert_eq!(m.sum("shoal_forwards_total", &[("core", &here)]), forwards, "after the put to {placed:?}");
        assert_eq!(m.sum("shoal_forwards_total", &[]), forwards, "no other core forwarded");
    }
    assert!(forwards > 0.0 && forwards < SHARDS as f64, "shards on both cores: {p:?}");
}

#[test]
fn small_puts_alone_on_their_core_are_counted_as_inline_group_commits() {
    let server = metrics_server();
    let metrics = server.metrics_addr();
    let mut c = server.client();
    c.ok(create_with("solo", 1, unlimited()));
    let m = scrape(metrics);
    assert_eq!(m.sum("shoal_group_commits_inline_total", &[]), 0.0, "nothing committed yet");
    // The first group starts the shard's zeroed runway (the runway task fills it beside the
    // appends); the groups after it, each one small put on an otherwise idle core, go inline.
    for i in 0..50 {
        let Response::PutRecord(_) = c.ok(Request::PutRecord(PutRecord::new("solo", format!("k{i}"), &b"x"[..])))
        else {
            panic!("put")
        };
    }
    let m = scrape(metrics);
    let inline = m.sum("shoal_group_commits_inline_total", &[]);
    let groups = m.sum("shoal_group_commit_records_count", &[]);
    assert_eq!(groups, 50.0, "one put at a time: one group each");
    assert!(inline >= 1.0 && inline < groups, "the first group is not inline, later ones are: {inline} of {groups}");
}

#[test]
fn bad_http_gets_an_error_status_and_the_endpoint_keeps_serving() {
    let server = metrics_server();
    let addr = server.metrics_addr();
    let mut huge = b"GET /metrics HTTP/1.1\r\nX-Filler: ".to_vec();
    huge.resize(100 * 1024, b'a');
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("garbage", b"\x00\x01\x02 not http at all\r\n\r\n".to_vec(), 400),
        ("TLS hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03".to_vec(), 400),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), 400),
        ("huge header", huge, 431),
        ("wrong path", b"GET /other HTTP/1.1\r\n\r\n".to_vec(), 404),
        ("wrong method", b"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi".to_vec(), 405),
        ("closed early", b"GET /metr".to_vec(), 400),
    ];
    for (what, request, want) in cases {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let _ = s.write_all(&request);
        if what == "closed early" {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
        let mut response = Vec::new();
        let _ = s.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with(&format!("HTTP/1.1 {want} ")), "{what}: {text:?}");
        scrape(addr); // still serving
    }
    // A client that connects and leaves without a byte.
    drop(TcpStream::connect(addr).expect("connect"));
    let (status, response) = http(addr, b"HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(status, 200);
    assert!(response.ends_with("\r\n\r\n"), "HEAD has no body");
    scrape(addr);
}

#[test]
fn metrics_are_off_unless_configured() {
    let server = TestServer::start();
    assert_eq!(server.server.as_ref().expect("running").metrics_addr(), None);
}

/// A client that pipelines GetRecords and never reads holds back its own connection: the server
/// stops reading once READS_IN_FLIGHT_MAX answers are unwritten, instead of computing (and
/// holding) a 10 MiB answer for every request it was sent. Every request is answered once the
/// client reads.
#[test]
fn unread_get_records_answers_hold_back_the_connection_not_the_server_memory() {
    let server = metrics_server();
    let mut c = server.client();
    c.ok(create_with("backlog", 1, unlimited()));
    // 11 MiB of records: every GetRecords from the start answers 10 MiB.
    for batch in 0..4 {
        let records = (0..3).map(|i| entry("k", &vec![b'a' + (batch * 3 + i) as u8; (1 << 20) - 1])).collect();
        assert!(matches!(c.ok(put_records("backlog", records)), Response::PutRecords(_)));
    }
    let Response::GetShardIterator(it) = c.ok(iterator("backlog", 0, ShardIteratorType::TrimHorizon, None, None))
    else {
        panic!("iterator")
    };
    let mut reader = server.client();
    const SENT: usize = 40;
    let mut bytes = bytes::BytesMut::new();
    for id in 0..SENT as u64 {
        let request = get_records(it.iterator.clone(), None);
        shoal_protocol::frame::Frame::encode_request(1_000 + id, &request, &mut bytes).expect("encode");
    }
    reader.send_bytes(&bytes);
    std::thread::sleep(Duration::from_millis(1_500));
    let handled = scrape(server.metrics_addr()).sum("shoal_requests_total", &[("op", "GetRecords")]);
    // Four unwritten answers (READS_IN_FLIGHT_MAX in connection.rs), plus what the socket
    // buffers took (a 10 MiB answer fills them).
    assert!(handled <= 6.0, "{handled} of {SENT} GetRecords handled while the client read nothing");
    let mut answered = 0;
    while answered < SENT {
        let frame = reader.recv().expect("an answer");
        let FrameBody::Response(Response::GetRecords(out)) = frame.body else { panic!("{:?}", frame.body) };
        assert_eq!(out.records.len(), 10, "10 MiB of 1 MiB records");
        answered += 1;
    }
}
