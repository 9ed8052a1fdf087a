//! Enhanced fan-out delivery over the simulated store, in simulated time:
//! the delivery loop's sleeps advance the manual clock.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::executor::{block_on, LocalPool};
use futures::task::LocalSpawnExt;
use shoal_engine::storage::sim::SimStorage;
use shoal_engine::{
    ErrorKind, ManualClock, StartingPosition, SubscriptionEnd, SubscriptionEvent, SubscriptionSettings,
};

use crate::common::*;

/// Yields once, so other tasks run.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn simulated_sleep(clock: &ManualClock) -> impl Fn(Duration) -> YieldNow + '_ {
    move |d| {
        clock.advance(d.as_millis() as u64);
        YieldNow(false)
    }
}

fn settings(lifetime_ms: u64) -> SubscriptionSettings {
    SubscriptionSettings { lifetime_ms, bytes_per_second: u32::MAX, heartbeat_ms: 1_000 }
}

/// Runs one subscription to its end while `puts` more records are added
/// (one per step); returns its events.
fn run_once(
    engine: &SimEngine,
    clock: &ManualClock,
    position: StartingPosition,
    lifetime_ms: u64,
    next_record: &RefCell<u64>,
    puts: u64,
) -> Vec<shoal_engine::Result<SubscriptionEvent>> {
    let producer = async {
        for _ in 0..puts {
            let i = {
                let mut n = next_record.borrow_mut();
                *n += 1;
                *n - 1
            };
            engine.put_records("f", vec![record("k", i, 200)]).await.expect("put");
            YieldNow(false).await;
        }
    };
    run_alongside(engine, clock, position, lifetime_ms, producer)
}

/// Runs one subscription to its end alongside `producer`; returns its events.
fn run_alongside(
    engine: &SimEngine,
    clock: &ManualClock,
    position: StartingPosition,
    lifetime_ms: u64,
    producer: impl std::future::Future<Output = ()>,
) -> Vec<shoal_engine::Result<SubscriptionEvent>> {
    let mut pool = LocalPool::new();
    let events = Rc::new(RefCell::new(Vec::new()));
    let sleep = simulated_sleep(clock);
    let (rx, delivery) =
        block_on(engine.subscribe("f", "c", 0, position, settings(lifetime_ms), sleep)).expect("subscribe");
    let sink = events.clone();
    pool.spawner()
        .spawn_local(async move {
            while let Ok(ev) = rx.recv_async().await {
                let last = !matches!(&ev, Ok(e) if e.end.is_none());
                sink.borrow_mut().push(ev);
                if last {
                    break;
                }
            }
        })
        .expect("spawn");
    pool.run_until(futures::future::join(delivery, producer));
    pool.run();
    Rc::try_unwrap(events).expect("one owner").into_inner()
}

fn setup() -> (SimStorage, ManualClock, SimEngine) {
    let storage = SimStorage::new(71);
    let clock = ManualClock::new(T0);
    let engine = open(&storage, &clock);
    block_on(engine.create_stream("f", 1, None)).expect("create");
    block_on(engine.register_consumer("f", "c")).expect("register");
    (storage, clock, engine)
}

#[test]
fn resubscribing_from_the_continuation_number_never_gaps_or_duplicates() {
    let (_storage, clock, engine) = setup();
    let next = RefCell::new(0u64);
    for _ in 0..20 {
        let i = *next.borrow();
        block_on(engine.put_records("f", vec![record("k", i, 200)])).expect("put");
        *next.borrow_mut() += 1;
    }
    let mut delivered = Vec::new();
    let mut position = StartingPosition::TrimHorizon;
    for cycle in 0..25 {
        let events = run_once(&engine, &clock, position, 3_000, &next, 7);
        let last = events.last().expect("events").as_ref().expect("no error");
        assert_eq!(last.end, Some(SubscriptionEnd::Lifetime), "cycle {cycle} ends by lifetime");
        for e in &events {
            delivered.extend(e.as_ref().expect("ok").records.iter().map(record_index));
        }
        position = StartingPosition::AfterSequenceNumber(last.continuation);
    }
    let total = *next.borrow();
    // Records put after the last subscription's end are read by one more.
    let tail = run_once(&engine, &clock, position, 1, &next, 0);
    delivered.extend(tail.iter().flat_map(|e| e.as_ref().expect("ok").records.iter().map(record_index)));
    assert_eq!(delivered, (0..total).collect::<Vec<_>>(), "every record once, in order");
    assert!(total > 150);
}

#[test]
fn one_subscription_per_consumer_and_shard_and_twenty_consumers() {
    let (_storage, clock, engine) = setup();
    let sleep = simulated_sleep(&clock);
    let first = block_on(engine.subscribe("f", "c", 0, StartingPosition::Latest, settings(10_000), &sleep));
    let (_rx, _delivery) = first.expect("first");
    let second = block_on(engine.subscribe("f", "c", 0, StartingPosition::Latest, settings(10_000), &sleep));
    assert_eq!(second.err().expect("second is refused").kind(), ErrorKind::ResourceInUse);
    for i in 1..20 {
        block_on(engine.register_consumer("f", &format!("c{i}"))).expect("register");
    }
    let err = block_on(engine.register_consumer("f", "c20")).expect_err("21st");
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    let err = block_on(engine.register_consumer("f", "c1")).expect_err("duplicate");
    assert_eq!(err.kind(), ErrorKind::ResourceInUse);
    assert_eq!(engine.list_consumers("f").expect("list").len(), 20);
}

/// Deregistering the consumer, or deleting its stream, ends the subscription with a
/// ResourceNotFound error that says which of the two happened.
#[test]
fn deregistering_or_deleting_the_stream_ends_the_subscription_with_an_error() {
    for delete_stream in [false, true] {
        let (_storage, clock, engine) = setup();
        let mut pool = LocalPool::new();
        let sleep = simulated_sleep(&clock);
        let (rx, delivery) =
            block_on(engine.subscribe("f", "c", 0, StartingPosition::TrimHorizon, settings(600_000), sleep))
                .expect("sub");
        let got = Rc::new(RefCell::new(Vec::new()));
        let sink = got.clone();
        pool.spawner()
            .spawn_local(async move {
                while let Ok(ev) = rx.recv_async().await {
                    sink.borrow_mut().push(ev.map(|e| e.records.len()));
                }
            })
            .expect("spawn");
        let control = async {
            for _ in 0..5 {
                YieldNow(false).await;
            }
            if delete_stream {
                engine.delete_stream("f").await.expect("delete");
            } else {
                engine.deregister_consumer("f", "c").await.expect("deregister");
            }
        };
        pool.run_until(futures::future::join(delivery, control));
        pool.run();
        let got = got.borrow();
        let last = got.last().expect("events").as_ref().expect_err("ends with an error");
        assert_eq!(last.kind(), ErrorKind::ResourceNotFound, "{got:?}");
        let expected = if delete_stream {
            "Stream f of this subscription to shardId-000000000000 was deleted."
        } else {
            "The consumer of this subscription to shardId-000000000000 in stream f was deregistered."
        };
        assert_eq!(last.to_string(), expected);
    }
}

#[test]
fn a_closed_shard_ends_the_subscription_with_its_children() {
    let (_storage, clock, engine) = setup();
    let next = RefCell::new(0u64);
    for _ in 0..5 {
        let i = *next.borrow();
        block_on(engine.put_records("f", vec![record("k", i, 100)])).expect("put");
        *next.borrow_mut() += 1;
    }
    block_on(engine.split_shard("f", 0, 1u128 << 127)).expect("split");
    let events = run_once(&engine, &clock, StartingPosition::TrimHorizon, 600_000, &next, 0);
    assert_shard_end_with_children_after(&events, 5);
}

/// The split happens while the subscription is open: its last event still
/// names the children (they did not exist when it started).
#[test]
fn a_shard_split_during_a_subscription_ends_it_with_the_children() {
    let (_storage, clock, engine) = setup();
    let producer = async {
        for i in 0..3 {
            engine.put_records("f", vec![record("k", i, 100)]).await.expect("put");
            YieldNow(false).await;
        }
        engine.split_shard("f", 0, 1u128 << 127).await.expect("split");
    };
    let events = run_alongside(&engine, &clock, StartingPosition::TrimHorizon, 600_000, producer);
    assert_shard_end_with_children_after(&events, 3);
}

/// The events delivered records 0..`records` in order, and the last one ended
/// the split shard 0 naming its children, shards 1 and 2.
fn assert_shard_end_with_children_after(events: &[shoal_engine::Result<SubscriptionEvent>], records: u64) {
    let last = events.last().expect("events").as_ref().expect("ok");
    assert_eq!(last.end, Some(SubscriptionEnd::ShardEnd));
    let mut children: Vec<u32> = last.child_shards.iter().map(|c| c.shard_index).collect();
    children.sort();
    assert_eq!(children, vec![1, 2]);
    let delivered: Vec<u64> =
        events.iter().flat_map(|e| e.as_ref().expect("ok").records.iter().map(record_index)).collect();
    assert_eq!(delivered, (0..records).collect::<Vec<_>>());
}

/// Events whose records fill their byte cap exactly, two records or one of the largest size,
/// are followed by every later record: none is skipped (the next read once jumped to the tip).
#[test]
fn events_that_fill_their_byte_cap_skip_nothing() {
    let (_storage, clock, engine) = setup();
    let event_max = shoal_engine::subscription::EVENT_BYTES_MAX;
    // Key "k" is one byte: two records of half the cap, two small ones, one record of the
    // largest size (the whole cap), two small ones.
    let sizes = [event_max / 2 - 1, event_max / 2 - 1, 100, 100, event_max - 1, 100, 100];
    for (i, size) in sizes.iter().enumerate() {
        let out = block_on(engine.put_records("f", vec![record("k", i as u64, *size)])).expect("put");
        assert_eq!(out.failed_record_count(), 0);
    }
    let events = run_alongside(&engine, &clock, StartingPosition::TrimHorizon, 3_000, async {});
    let batches: Vec<Vec<u64>> = events
        .iter()
        .filter_map(|e| e.as_ref().ok())
        .filter(|e| !e.records.is_empty())
        .map(|e| e.records.iter().map(record_index).collect())
        .collect();
    assert_eq!(batches, [vec![0, 1], vec![2, 3], vec![4], vec![5, 6]]);
}
