//! SubscribeToShard: a subscription's events in order and its three ends (an event with `end`,
//! an error frame, a lost connection); resuming across lifetimes from the continuation number;
//! back-pressure from a slow subscriber, and what it does and does not hold back.
//!
//! The fake server's shard holds records 1, 2, 3, … with sequence numbers 10, 20, 30, …
//! (not contiguous, like Shoal's), so a resubscription at the wrong number shows as a gap or a
//! duplicate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use shoal_protocol::client::{ClientError, LostReason, RetryPolicy};
use shoal_protocol::ops::*;
use shoal_protocol::{Request, Response, Status};

use crate::fake_server::{FakeServer, ServerConn};
use crate::{client, client_with, config, put_record_response, run};

const ARN: &str = "arn:shoal:stream/orders/consumer/billing:1700000000";

fn record(n: u128) -> Record {
    Record {
        sequence_number: n * 10,
        arrival_timestamp_ms: 1_700_000_000_000 + n as u64,
        partition_key: format!("key-{n}"),
        data: Bytes::from(format!("record {n}")),
    }
}

fn children() -> Vec<ChildShard> {
    let half = 1u128 << 127;
    vec![
        ChildShard { index: 1, parents: vec![0], hash_key_range: HashKeyRange { start: 0, end: half - 1 } },
        ChildShard { index: 2, parents: vec![0], hash_key_range: HashKeyRange { start: half, end: u128::MAX } },
    ]
}

fn event(
    records: Vec<Record>,
    continuation_sequence_number: u128,
    end: Option<SubscriptionEnd>,
) -> SubscribeToShardEvent {
    let child_shards = if end == Some(SubscriptionEnd::ShardEnd) { children() } else { vec![] };
    SubscribeToShardEvent { records, continuation_sequence_number, millis_behind_latest: 0, child_shards, end }
}

/// The first record a starting position asks for.
fn first_record(position: &StartingPosition) -> u128 {
    match position.iterator_type {
        ShardIteratorType::TrimHorizon => 1,
        ShardIteratorType::AtSequenceNumber => position.sequence_number.unwrap().div_ceil(10),
        ShardIteratorType::AfterSequenceNumber => position.sequence_number.unwrap() / 10 + 1,
        other => panic!("the fake shard does not serve {}", other.name()),
    }
}

fn started(lifetime_ms: u64) -> Response {
    Response::SubscribeToShard(SubscribeToShardOutput { subscription_lifetime_ms: lifetime_ms })
}

/// Serves one subscription of a shard of `total` records, as a server would: the response, an
/// event without records (its continuation number is the position just before the next
/// record), up to `count` records from the requested position in events of `batch`, then the
/// last event: `SHARD_END` once all `total` records were delivered, else `LIFETIME`. Returns
/// false once the client has gone away.
fn serve(conn: &mut ServerConn, id: u64, request: &SubscribeToShard, total: u128, count: u128, batch: u128) -> bool {
    conn.respond(id, started(1_000));
    let first = first_record(&request.starting_position);
    let mut continuation = first * 10 - 1;
    if !conn.push(id, event(vec![], continuation, None)) {
        return false;
    }
    let last = (first + count - 1).min(total);
    let mut n = first;
    while n <= last {
        let upto = (n + batch - 1).min(last);
        continuation = upto * 10;
        if !conn.push(id, event((n..=upto).map(record).collect(), continuation, None)) {
            return false;
        }
        n = upto + 1;
    }
    let end = if last >= total { SubscriptionEnd::ShardEnd } else { SubscriptionEnd::Lifetime };
    conn.push(id, event(vec![], continuation, Some(end)))
}

fn subscribe_request(request: Request) -> SubscribeToShard {
    match request {
        Request::SubscribeToShard(subscribe) => subscribe,
        other => panic!("expected SubscribeToShard, got {other:?}"),
    }
}

/// A server whose subscriptions deliver `counts[i]` records in the `i`th subscription of the
/// connection (the last count repeats), and the starting positions it was asked for.
fn lifetimes_server(total: u128, counts: Vec<u128>) -> (FakeServer, Arc<Mutex<Vec<StartingPosition>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let server = FakeServer::start(move |mut conn, _| {
        let mut i = 0;
        while let Some((id, request)) = conn.recv() {
            let request = subscribe_request(request);
            assert_eq!(request.consumer_arn, ARN);
            log.lock().unwrap().push(request.starting_position);
            let count = counts.get(i).or(counts.last()).copied().unwrap();
            if !serve(&mut conn, id, &request, total, count, 2) {
                return;
            }
            i += 1;
        }
    });
    (server, seen)
}

fn sequence_numbers(events: &[SubscribeToShardEvent]) -> Vec<u128> {
    events.iter().flat_map(|e| &e.records).map(|r| r.sequence_number).collect()
}

fn expect_service_error(item: Option<Result<SubscribeToShardEvent, ClientError>>, expected: Status) -> String {
    match item {
        Some(Err(ClientError::Service { status, message })) => {
            assert_eq!(status, expected);
            message
        }
        other => panic!("expected a {} error, got {other:?}", expected.name()),
    }
}

#[test]
fn subscriptions_can_move_between_threads_and_tasks() {
    fn movable<T: Send + Unpin + 'static>() {}
    movable::<shoal_protocol::client::Subscription>();
    movable::<shoal_protocol::client::ResumingSubscription>();
    movable::<shoal_protocol::client::BlockingEvents<shoal_protocol::client::Subscription>>();
}

#[test]
fn events_arrive_in_order_and_the_subscription_ends_after_shard_end() {
    let (server, seen) = lifetimes_server(7, vec![100]);
    let client = client(&server);
    run(async {
        let request = SubscribeToShard::new(ARN, 0, StartingPosition::trim_horizon());
        let mut subscription = client.subscribe_to_shard(request).await.unwrap();
        assert_eq!(subscription.subscription_lifetime_ms(), 1_000);
        assert_eq!(subscription.continuation_sequence_number(), None);
        let mut events = Vec::new();
        while let Some(event) = subscription.next().await {
            events.push(event.unwrap());
            assert_eq!(
                subscription.continuation_sequence_number(),
                Some(events.last().unwrap().continuation_sequence_number)
            );
        }
        assert_eq!(sequence_numbers(&events), (1..=7).map(|n| n * 10).collect::<Vec<_>>());
        assert_eq!(events.first().unwrap().continuation_sequence_number, 9, "before any record: just before the next");
        let last = events.last().unwrap();
        assert_eq!(last.end, Some(SubscriptionEnd::ShardEnd));
        assert_eq!(last.child_shards, children());
        assert!(events[..events.len() - 1].iter().all(|e| e.end.is_none() && e.child_shards.is_empty()));
        assert!(subscription.next().await.is_none(), "nothing after the end");
    });
    assert_eq!(*seen.lock().unwrap(), vec![StartingPosition::trim_horizon()]);
}

#[test]
fn a_lifetime_end_resubscribes_after_the_continuation_number() {
    // Subscriptions deliver 3, 0, 5, 1, then the last 4 of 13 records.
    let (server, seen) = lifetimes_server(13, vec![3, 0, 5, 1, 100]);
    let client = client(&server);
    let mut stream = client.subscribe_to_shard_resuming(ARN, 0, StartingPosition::trim_horizon());
    let events: Vec<SubscribeToShardEvent> = run(async {
        let mut events = Vec::new();
        while let Some(event) = stream.next().await {
            events.push(event.unwrap());
        }
        events
    });
    assert_eq!(sequence_numbers(&events), (1..=13).map(|n| n * 10).collect::<Vec<_>>(), "no gap, no duplicate");
    let ends: Vec<_> = events.iter().filter_map(|e| e.end).collect();
    assert_eq!(ends, [[SubscriptionEnd::Lifetime; 4].as_slice(), &[SubscriptionEnd::ShardEnd]].concat());
    assert_eq!(events.last().unwrap().child_shards, children());
    // Each resubscription starts right after the last continuation number the client saw,
    // including the one of a subscription that delivered no record (39: just before record 4).
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            StartingPosition::trim_horizon(),
            StartingPosition::after_sequence_number(30),
            StartingPosition::after_sequence_number(39),
            StartingPosition::after_sequence_number(80),
            StartingPosition::after_sequence_number(90),
        ]
    );
    assert_eq!(stream.subscriptions_started(), 5);
    assert_eq!(stream.continuation_sequence_number(), Some(130));
    assert_eq!(stream.position(), StartingPosition::after_sequence_number(130));
    assert!(run(stream.next()).is_none(), "the stream stops after SHARD_END");
    assert_eq!(server.connections(), 1);
}

#[test]
fn the_blocking_client_reads_subscriptions_as_iterators() {
    let (server, seen) = lifetimes_server(5, vec![2]);
    let client = client(&server).blocking();
    let events: Vec<_> = client
        .subscribe_to_shard(SubscribeToShard::new(ARN, 0, StartingPosition::at_sequence_number(20)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(sequence_numbers(&events), [20, 30]);
    assert_eq!(events.last().unwrap().end, Some(SubscriptionEnd::Lifetime));

    let mut resuming = client.subscribe_to_shard_resuming(ARN, 0, StartingPosition::after_sequence_number(30));
    let records: Vec<u128> = resuming.by_ref().flat_map(|e| e.unwrap().records).map(|r| r.sequence_number).collect();
    assert_eq!(records, [40, 50]);
    assert_eq!(resuming.get_ref().continuation_sequence_number(), Some(50));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[test]
fn an_error_frame_ends_the_subscription_with_the_error() {
    let subscribes = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&subscribes);
    let server = FakeServer::start(move |mut conn, _| {
        while let Some((id, _)) = conn.recv() {
            count.fetch_add(1, Ordering::SeqCst);
            conn.respond(id, started(300_000));
            conn.push(id, event(vec![record(1)], 10, None));
            conn.push(id, event(vec![record(2)], 20, None));
            conn.fail(
                id,
                Opcode::SubscribeToShard as u16,
                Status::ResourceNotFound,
                "Consumer billing was deregistered.",
            );
        }
    });
    let client = client(&server);
    run(async {
        let mut subscription =
            client.subscribe_to_shard(SubscribeToShard::new(ARN, 0, StartingPosition::latest())).await.unwrap();
        assert_eq!(sequence_numbers(&[subscription.next().await.unwrap().unwrap()]), [10]);
        assert_eq!(sequence_numbers(&[subscription.next().await.unwrap().unwrap()]), [20]);
        let message = expect_service_error(subscription.next().await, Status::ResourceNotFound);
        assert_eq!(message, "Consumer billing was deregistered.");
        assert!(subscription.next().await.is_none());

        // The resuming stream does not resume after an error that is not retryable.
        let mut stream = client.subscribe_to_shard_resuming(ARN, 0, StartingPosition::latest());
        assert!(stream.next().await.unwrap().is_ok());
        assert!(stream.next().await.unwrap().is_ok());
        expect_service_error(stream.next().await, Status::ResourceNotFound);
        assert!(stream.next().await.is_none());
        assert_eq!(stream.position(), StartingPosition::after_sequence_number(20));
    });
    assert_eq!(subscribes.load(Ordering::SeqCst), 2);
    assert_eq!(server.connections(), 1, "the error ended the subscription, not the connection");
}

#[test]
fn a_refused_subscription_fails_subscribe_to_shard_and_the_connection_goes_on() {
    let server = FakeServer::start(|mut conn, _| {
        while let Some((id, request)) = conn.recv() {
            match request {
                Request::SubscribeToShard(_) => conn.fail(
                    id,
                    Opcode::SubscribeToShard as u16,
                    Status::ResourceInUse,
                    "Consumer billing already has a subscription to shardId-000000000000.",
                ),
                _ => conn.respond(id, put_record_response(0, 1)),
            }
        }
    });
    let client = client(&server);
    run(async {
        let refused = client.subscribe_to_shard(SubscribeToShard::new(ARN, 0, StartingPosition::latest())).await;
        assert_eq!(refused.unwrap_err().status(), Some(Status::ResourceInUse));
        client.put_record(PutRecord::new("orders", "k", &b"x"[..])).await.unwrap();
        let mut stream = client.subscribe_to_shard_resuming(ARN, 0, StartingPosition::latest());
        expect_service_error(stream.next().await, Status::ResourceInUse);
        assert!(stream.next().await.is_none());
    });
}

#[test]
fn a_lost_connection_ends_a_subscription_with_connection_lost() {
    let server = FakeServer::start(|mut conn, _| {
        let (id, _) = conn.recv().unwrap();
        conn.respond(id, started(300_000));
        conn.push(id, event(vec![record(1)], 10, None));
        conn.close();
    });
    let client = client(&server);
    run(async {
        let mut subscription =
            client.subscribe_to_shard(SubscribeToShard::new(ARN, 0, StartingPosition::trim_horizon())).await.unwrap();
        assert!(subscription.next().await.unwrap().is_ok());
        match subscription.next().await {
            Some(Err(ClientError::ConnectionLost(reason))) => {
                assert!(matches!(*reason, LostReason::ClosedByServer), "{reason}")
            }
            other => panic!("expected ConnectionLost, got {other:?}"),
        }
        assert!(subscription.next().await.is_none());
    });
}

#[test]
fn the_resuming_stream_resubscribes_on_a_new_connection_after_losing_one() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let server = FakeServer::start(move |mut conn, n| {
        while let Some((id, request)) = conn.recv() {
            let request = subscribe_request(request);
            log.lock().unwrap().push(request.starting_position);
            if n == 1 {
                // Three records, then the connection breaks mid-subscription.
                conn.respond(id, started(300_000));
                conn.push(id, event((1..=3).map(record).collect(), 30, None));
                return conn.close();
            }
            serve(&mut conn, id, &request, 6, 100, 2);
        }
    });
    let client = client(&server);
    let mut stream = client.subscribe_to_shard_resuming(ARN, 0, StartingPosition::trim_horizon());
    let events: Vec<_> = run(stream.by_ref().map(Result::unwrap).collect());
    assert_eq!(sequence_numbers(&events), [10, 20, 30, 40, 50, 60]);
    assert_eq!(events.last().unwrap().end, Some(SubscriptionEnd::ShardEnd));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![StartingPosition::trim_horizon(), StartingPosition::after_sequence_number(30)]
    );
    assert_eq!(stream.subscriptions_started(), 2);
    assert_eq!(server.connections(), 2);

    // Without retries, the lost connection ends the stream instead.
    let server = FakeServer::start(|mut conn, _| {
        let (id, _) = conn.recv().unwrap();
        conn.respond(id, started(300_000));
        conn.close();
    });
    let mut no_retries = config();
    no_retries.retry = RetryPolicy::none();
    let mut stream = client_with(&server, no_retries).subscribe_to_shard_resuming(ARN, 0, StartingPosition::latest());
    assert!(matches!(run(stream.next()), Some(Err(ClientError::ConnectionLost(_)))));
    assert!(run(stream.next()).is_none());
}

/// 128 MiB of events: more than the kernel's socket buffers (loopback autotuning stops at
/// 32 MiB here) and the client's channel can hold together, so a server that could write them
/// all while the subscriber reads nothing would prove the back-pressure broken.
const STALL_EVENTS: u128 = 512;
const STALL_EVENT_SIZE_BYTES: usize = 256 * 1024;

#[test]
fn a_stalled_subscriber_loses_no_event_and_holds_back_only_its_own_connection() {
    let written = Arc::new(AtomicU64::new(0));
    let progress = Arc::clone(&written);
    let server = FakeServer::start(move |mut conn, n| {
        while let Some((id, request)) = conn.recv() {
            match request {
                Request::SubscribeToShard(_) if n == 1 => {
                    conn.respond(id, started(300_000));
                    for i in 1..=STALL_EVENTS {
                        let mut r = record(i);
                        r.data = Bytes::from(vec![i as u8; STALL_EVENT_SIZE_BYTES]);
                        let end = (i == STALL_EVENTS).then_some(SubscriptionEnd::ShardEnd);
                        if !conn.push(id, event(vec![r], i * 10, end)) {
                            return;
                        }
                        progress.fetch_add(STALL_EVENT_SIZE_BYTES as u64, Ordering::SeqCst);
                    }
                }
                _ => conn.respond(id, put_record_response(0, u128::from(n as u32))),
            }
        }
    });
    let total_bytes = STALL_EVENTS as u64 * STALL_EVENT_SIZE_BYTES as u64;
    let mut stalled_config = config();
    stalled_config.request_timeout = Duration::from_millis(500);
    stalled_config.retry = RetryPolicy::none();
    let subscriber = client_with(&server, stalled_config);
    let other = client(&server);
    run(async {
        let mut subscription = subscriber
            .subscribe_to_shard(SubscribeToShard::new(ARN, 0, StartingPosition::trim_horizon()))
            .await
            .unwrap();
        // Read nothing for a while: the server can only fill the buffers, then must wait.
        std::thread::sleep(Duration::from_millis(500));
        let stalled_at = written.load(Ordering::SeqCst);
        assert!(
            stalled_at < total_bytes / 2,
            "the server wrote {stalled_at} of {total_bytes} bytes to a stalled reader"
        );

        // Another connection is unaffected ...
        let answer = other.put_record(PutRecord::new("orders", "k", &b"x"[..])).await.unwrap();
        assert_eq!(answer.sequence_number, 2, "answered on the second connection");
        // ... while the subscriber's own connection waits with it (the documented trade-off).
        let waited = subscriber.put_record(PutRecord::new("orders", "k", &b"x"[..])).await;
        assert!(matches!(waited, Err(ClientError::Timeout(_))), "{waited:?}");

        // Now read slowly: every event arrives, in order.
        let mut next = 1;
        while let Some(event) = subscription.next().await {
            let event = event.unwrap();
            assert_eq!(sequence_numbers(std::slice::from_ref(&event)), [next * 10]);
            assert_eq!(event.records[0].data.len(), STALL_EVENT_SIZE_BYTES);
            assert!(event.records[0].data.iter().all(|&b| b == next as u8));
            if next % 64 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
            next += 1;
        }
        assert_eq!(next, STALL_EVENTS + 1, "all events, then the end");
    });
    assert_eq!(written.load(Ordering::SeqCst), total_bytes);
}

#[test]
fn a_dropped_subscription_no_longer_holds_the_connection_back() {
    let server = FakeServer::start(|mut conn, _| {
        while let Some((id, request)) = conn.recv() {
            match request {
                Request::SubscribeToShard(_) => {
                    conn.respond(id, started(300_000));
                    // Far more than the client's channel holds.
                    for i in 1..=200 {
                        let mut r = record(i);
                        r.data = Bytes::from(vec![0; 64 * 1024]);
                        if !conn.push(id, event(vec![r], i * 10, None)) {
                            return;
                        }
                    }
                }
                _ => conn.respond(id, put_record_response(0, 7)),
            }
        }
    });
    let client = client(&server);
    run(async {
        let mut subscription =
            client.subscribe_to_shard(SubscribeToShard::new(ARN, 0, StartingPosition::trim_horizon())).await.unwrap();
        assert!(subscription.next().await.unwrap().is_ok());
        drop(subscription);
        // The reader drops the rest of the events instead of waiting for a reader.
        let answer = client.put_record(PutRecord::new("orders", "k", &b"x"[..])).await.unwrap();
        assert_eq!(answer.sequence_number, 7);
    });
    assert_eq!(server.connections(), 1);
}

#[test]
fn an_undecodable_event_ends_the_subscription_with_a_protocol_error() {
    let server = FakeServer::start(|mut conn, _| {
        while let Some((id, _)) = conn.recv() {
            conn.respond(id, started(300_000));
            conn.push(id, event(vec![record(1)], 10, None));
            conn.send_with_body(shoal_protocol::FrameKind::Push, Opcode::SubscribeToShardEvent as u16, id, b"junk");
            conn.push(id, event(vec![record(3)], 30, None));
        }
    });
    let client = client(&server);
    run(async {
        let mut subscription =
            client.subscribe_to_shard(SubscribeToShard::new(ARN, 0, StartingPosition::trim_horizon())).await.unwrap();
        assert!(subscription.next().await.unwrap().is_ok());
        match subscription.next().await {
            Some(Err(ClientError::Protocol(e))) => assert!(e.to_string().contains("did not decode"), "{e}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        assert!(subscription.next().await.is_none(), "no event after a lost one");
    });
}
