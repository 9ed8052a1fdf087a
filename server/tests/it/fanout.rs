//! Enhanced fan-out over the wire: consumer registry, push events, the
//! lifetime boundary with the Rust client's resuming subscription, errors.

use futures::StreamExt;
use shoal_protocol::client::{Client, ClientConfig};
use shoal_protocol::frame::FrameBody;
use shoal_protocol::ops::*;
use shoal_protocol::{Request, Response, Status};

use crate::harness::*;

/// Subscribes `sub` to `shard` at LATEST and checks the response; returns
/// the subscription's correlation id.
fn subscribe_latest(sub: &mut RawClient, consumer_arn: &str, shard: u32) -> u64 {
    let id = sub.send(Request::SubscribeToShard(SubscribeToShard {
        consumer_arn: consumer_arn.into(),
        shard,
        starting_position: StartingPosition::latest(),
    }));
    assert!(matches!(sub.recv().expect("response").body, FrameBody::Response(_)));
    id
}

fn register(c: &mut RawClient, stream: &str, name: &str) -> Consumer {
    let Response::RegisterStreamConsumer(out) = c.ok(Request::RegisterStreamConsumer(RegisterStreamConsumer {
        stream_name: stream.into(),
        consumer_name: name.into(),
    })) else {
        panic!()
    };
    out.consumer
}

#[test]
fn consumers_register_list_describe_and_deregister() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("s", 1));
    let a = register(&mut c, "s", "alpha");
    assert!(a.consumer_arn.starts_with("arn:shoal:stream/s/consumer/alpha:"), "{}", a.consumer_arn);
    assert_eq!(a.status, ConsumerStatus::Active);
    let (status, _) = c
        .call(Request::RegisterStreamConsumer(RegisterStreamConsumer {
            stream_name: "s".into(),
            consumer_name: "alpha".into(),
        }))
        .expect_err("duplicate");
    assert_eq!(status, Status::ResourceInUse);
    for i in 0..19 {
        register(&mut c, "s", &format!("c{i:02}"));
    }
    let (status, _) = c
        .call(Request::RegisterStreamConsumer(RegisterStreamConsumer {
            stream_name: "s".into(),
            consumer_name: "one-too-many".into(),
        }))
        .expect_err("21st");
    assert_eq!(status, Status::LimitExceeded);
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let Response::ListStreamConsumers(page) = c.ok(Request::ListStreamConsumers(ListStreamConsumers {
            stream_name: "s".into(),
            max_results: Some(7),
            next_token: token.clone(),
        })) else {
            panic!()
        };
        names.extend(page.consumers.into_iter().map(|c| c.consumer_name));
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(names.len(), 20);
    assert!(names.windows(2).all(|w| w[0] < w[1]), "name order");
    let Response::DescribeStreamSummary(summary) =
        c.ok(Request::DescribeStreamSummary(DescribeStreamSummary { stream_name: "s".into() }))
    else {
        panic!()
    };
    assert_eq!(summary.consumer_count, 20);
    let Response::DescribeStreamConsumer(d) = c.ok(Request::DescribeStreamConsumer(DescribeStreamConsumer {
        stream_name: "s".into(),
        consumer_name: "alpha".into(),
    })) else {
        panic!()
    };
    assert_eq!(d.consumer.consumer_arn, a.consumer_arn);
    let (status, _) = c
        .call(Request::DeleteStream(DeleteStream { stream_name: "s".into(), enforce_consumer_deletion: false }))
        .expect_err("consumers registered");
    assert_eq!(status, Status::ResourceInUse);
    c.ok(Request::DeregisterStreamConsumer(DeregisterStreamConsumer {
        stream_name: "s".into(),
        consumer_name: "alpha".into(),
    }));
    let (status, _) = c
        .call(Request::DescribeStreamConsumer(DescribeStreamConsumer {
            stream_name: "s".into(),
            consumer_name: "alpha".into(),
        }))
        .expect_err("gone");
    assert_eq!(status, Status::ResourceNotFound);
    c.ok(Request::DeleteStream(DeleteStream { stream_name: "s".into(), enforce_consumer_deletion: true }));
}

#[test]
fn push_events_over_the_wire_and_resuming_across_lifetimes() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("f", 2));
    let consumer = register(&mut c, "f", "reader");
    // Raw: one subscription, response first, then pushes; a second
    // subscription to the same shard is ResourceInUse.
    let mut sub = server.client();
    let id = sub.send(Request::SubscribeToShard(SubscribeToShard {
        consumer_arn: consumer.consumer_arn.clone(),
        shard: 0,
        starting_position: StartingPosition::trim_horizon(),
    }));
    let first = sub.recv().expect("response");
    assert_eq!(first.correlation_id, id);
    assert!(matches!(first.body, FrameBody::Response(Response::SubscribeToShard(_))));
    let (status, _) = c
        .call(Request::SubscribeToShard(SubscribeToShard {
            consumer_arn: consumer.consumer_arn.clone(),
            shard: 0,
            starting_position: StartingPosition::latest(),
        }))
        .expect_err("second subscription");
    assert_eq!(status, Status::ResourceInUse);
    let mut ended = false;
    while let Some(frame) = sub.recv() {
        assert_eq!(frame.correlation_id, id);
        let FrameBody::Push(Push::SubscribeToShardEvent(ev)) = frame.body else { panic!("push expected") };
        if ev.end.is_some() {
            assert_eq!(ev.end, Some(SubscriptionEnd::Lifetime), "the 400 ms lifetime ends it");
            ended = true;
            break;
        }
    }
    assert!(ended);

    // The Rust client resubscribes by itself across lifetimes.
    let client = Client::connect(server.addr(), ClientConfig::default()).expect("connect");
    let records: Vec<_> = (0..300).map(|i| entry(&format!("k{i}"), format!("{i}").as_bytes())).collect();
    let Response::PutRecords(put) = c.ok(put_records("f", records)) else { panic!() };
    let mut want: Vec<u128> = put
        .records
        .iter()
        .filter_map(|r| match r {
            PutRecordsResult::Success { shard, sequence_number } if *shard == 1 => Some(*sequence_number),
            _ => None,
        })
        .collect();
    want.sort();
    let mut stream =
        client.subscribe_to_shard_resuming(consumer.consumer_arn.clone(), 1, StartingPosition::trim_horizon());
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    futures::executor::block_on(async {
        while got.len() < want.len() {
            assert!(std::time::Instant::now() < deadline, "delivery stalled at {}", got.len());
            let ev = stream.next().await.expect("stream goes on").expect("event");
            got.extend(ev.records.iter().map(|r| r.sequence_number));
        }
    });
    assert_eq!(got, want, "every record once, in order");
    // Outlive a few lifetimes with more records arriving.
    let more: Vec<_> = (300..600).map(|i| entry(&format!("k{i}"), b"x")).collect();
    c.ok(put_records("f", more));
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let more_on_1 = read_shard(&mut c, "f", 1).len() - want.len();
    futures::executor::block_on(async {
        let mut n = 0;
        // Read on until the client has resubscribed at least once more
        // (lifetimes are 400 ms), then nothing beyond the new records.
        let started = stream.subscriptions_started();
        while n < more_on_1 || stream.subscriptions_started() < started + 2 {
            assert!(std::time::Instant::now() < deadline, "stalled");
            let ev = stream.next().await.expect("stream goes on").expect("event");
            n += ev.records.len();
        }
        assert_eq!(n, more_on_1, "no duplicates across resubscriptions");
    });
}

#[test]
fn a_consumer_registered_again_at_once_gets_a_new_arn_and_the_old_one_names_nothing() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("r", 1));
    let first = register(&mut c, "r", "again");
    c.ok(Request::DeregisterStreamConsumer(DeregisterStreamConsumer {
        stream_name: "r".into(),
        consumer_name: "again".into(),
    }));
    let second = register(&mut c, "r", "again");
    assert_ne!(first.consumer_arn, second.consumer_arn);
    assert!(second.creation_timestamp_ms > first.creation_timestamp_ms);
    assert!(second.consumer_arn.ends_with(&format!(":{}", second.creation_timestamp_ms)), "{}", second.consumer_arn);
    let subscribe = |arn: &str| {
        Request::SubscribeToShard(SubscribeToShard {
            consumer_arn: arn.into(),
            shard: 0,
            starting_position: StartingPosition::latest(),
        })
    };
    let (status, message) = c.call(subscribe(&first.consumer_arn)).expect_err("the old registration is gone");
    assert_eq!(status, Status::ResourceNotFound, "{message}");
    let mut sub = server.client();
    sub.send(subscribe(&second.consumer_arn));
    assert!(matches!(sub.recv().expect("response").body, FrameBody::Response(_)));
}

/// A shard split while a subscription to it is open: the last event is
/// SHARD_END and names the children (the reshard publishes them just after
/// it closes the shard).
#[test]
fn a_split_during_a_subscription_ends_it_with_the_children_over_the_wire() {
    let server = TestServer::start_with(|c| c.engine.subscription.lifetime_ms = 60_000);
    let mut c = server.client();
    for round in 0..3 {
        let stream = format!("split-{round}");
        c.ok(create(&stream, 1));
        let consumer = register(&mut c, &stream, "watcher");
        let mut sub = server.client();
        let id = subscribe_latest(&mut sub, &consumer.consumer_arn, 0);
        assert_eq!(c.ok(Request::SplitShard(SplitShard::new(stream.as_str(), 0, 1u128 << 127))), Response::SplitShard);
        let end = loop {
            let frame = sub.recv().expect("events until the end");
            assert_eq!(frame.correlation_id, id);
            match frame.body {
                FrameBody::Push(Push::SubscribeToShardEvent(ev)) if ev.end.is_some() => break ev,
                FrameBody::Push(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(end.end, Some(SubscriptionEnd::ShardEnd));
        let mut children: Vec<u32> = end.child_shards.iter().map(|s| s.index).collect();
        children.sort();
        assert_eq!(children, vec![1, 2], "round {round}");
    }
}

/// Closing a subscriber's connection frees its consumer and shard at once,
/// not at the subscription's next event (the heartbeat is 30 s here).
#[test]
fn closing_the_connection_frees_the_subscription_at_once() {
    let server = TestServer::start_with(|c| {
        c.engine.subscription.heartbeat_ms = 30_000;
        c.engine.subscription.lifetime_ms = 60_000;
    });
    let mut c = server.client();
    c.ok(create("close", 2));
    let consumer = register(&mut c, "close", "leaver");
    let subscribe = |shard: u32| {
        Request::SubscribeToShard(SubscribeToShard {
            consumer_arn: consumer.consumer_arn.clone(),
            shard,
            starting_position: StartingPosition::latest(),
        })
    };
    for shard in 0..2 {
        let mut first = server.client();
        subscribe_latest(&mut first, &consumer.consumer_arn, shard);
        drop(first);
        // The server sees the close asynchronously: allow it a moment, far
        // less than the heartbeat that used to free the pair.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            let mut again = server.client();
            again.send(subscribe(shard));
            match again.recv().expect("answer").body {
                FrameBody::Response(_) => break,
                FrameBody::Error(e) if e.status == Status::ResourceInUse && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => panic!("shard {shard}: {other:?}"),
            }
        }
    }
}

#[test]
fn deregistering_ends_a_subscription_with_an_error_frame() {
    let server = TestServer::start();
    let mut c = server.client();
    c.ok(create("d", 1));
    let consumer = register(&mut c, "d", "gone");
    let mut sub = server.client();
    let id = subscribe_latest(&mut sub, &consumer.consumer_arn, 0);
    c.ok(Request::DeregisterStreamConsumer(DeregisterStreamConsumer {
        stream_name: "d".into(),
        consumer_name: "gone".into(),
    }));
    loop {
        let frame = sub.recv().expect("frames until the error");
        assert_eq!(frame.correlation_id, id);
        match frame.body {
            FrameBody::Push(_) => continue,
            FrameBody::Error(e) => {
                assert_eq!(e.status, Status::ResourceNotFound);
                assert!(e.message.contains("deregistered"), "{}", e.message);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        / 1024
}

/// A subscriber that reads nothing while 1 GiB is produced costs the
/// server bounded memory (one event in the engine, the socket buffers),
/// producers are not slowed, and afterwards it receives everything, in
/// order. Bound stated here: the tail cache budget of both cores (2 × 64
/// MiB) plus 192 MiB for the DMA pools, buffers and the test's own client.
#[test]
fn a_stalled_subscriber_costs_bounded_memory_and_then_gets_everything() {
    const MIB: usize = 1 << 20;
    const RECORD: usize = 8 * 1024;
    const TOTAL: usize = 1024 * MIB;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let mut config = config(dir.path());
    config.engine.subscription.bytes_per_second = u32::MAX; // the bench, not the limit, is under test
    config.engine.subscription.lifetime_ms = 60_000;
    let server = shoal_server::Server::start(config).expect("server");
    let mut c = RawClient::connect(server.local_addr());
    c.ok(Request::CreateStream(CreateStream {
        stream_name: "big".into(),
        shard_count: 1,
        retention_hours: None,
        shard_limits: Some(ShardLimits {
            write_bytes_per_second: u32::MAX,
            write_records_per_second: u32::MAX,
            read_bytes_per_second: u32::MAX,
            read_calls_per_second: u32::MAX,
        }),
    }));
    let consumer = register(&mut c, "big", "stalled");
    let mut stalled = RawClient::connect(server.local_addr());
    stalled.send(Request::SubscribeToShard(SubscribeToShard {
        consumer_arn: consumer.consumer_arn.clone(),
        shard: 0,
        starting_position: StartingPosition::trim_horizon(),
    }));
    let before = rss_mib();
    let mut peak = before;
    let payload = vec![b'p'; RECORD];
    let mut n = 0usize;
    while n * RECORD < TOTAL {
        let records = (0..250)
            .map(|i| {
                let mut data = format!("{:010}", n + i).into_bytes();
                data.extend_from_slice(&payload[10..]);
                PutRecordsEntry::new("k", data)
            })
            .collect();
        let Response::PutRecords(out) = c.ok(put_records("big", records)) else { panic!() };
        assert!(out.records.iter().all(|r| matches!(r, PutRecordsResult::Success { .. })));
        n += 250;
        peak = peak.max(rss_mib());
    }
    let bound = before + 2 * 64 + 192;
    assert!(peak <= bound, "RSS peaked at {peak} MiB while 1 GiB was produced (bound {bound} MiB, start {before})");

    // Now the stalled subscriber reads: everything, once, in order.
    let mut next = 0usize;
    while next < n {
        let frame = stalled.recv().expect("frames");
        match frame.body {
            FrameBody::Response(_) => {}
            FrameBody::Push(Push::SubscribeToShardEvent(ev)) => {
                for r in ev.records {
                    let i: usize = std::str::from_utf8(&r.data[..10]).expect("ascii").parse().expect("index");
                    assert_eq!(i, next, "in order, no gap, no duplicate");
                    next += 1;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(stalled);
    server.shutdown().expect("shutdown");
}
