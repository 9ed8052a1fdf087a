//! The same client from plain threads (blocking) and under executors other than the caller's
//! runtime: `futures::executor::block_on` on another thread, and a single-threaded LocalPool.

use std::sync::Arc;

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use shoal_protocol::client::{BlockingClient, Client};
use shoal_protocol::ops::{ListStreams, PutRecord, PutRecordsEntry};
use shoal_protocol::{Request, Response};

use crate::fake_server::{FakeServer, Reply};
use crate::{client, config, put_record_response};

fn assert_send_sync<T: Send + Sync + Clone>() {}

fn assert_send<T: Send>(value: T) -> T {
    value
}

/// Answers PutRecord with the partition key's number as sequence number.
fn echoing_server() -> FakeServer {
    FakeServer::answering(|request| match request {
        Request::PutRecord(put) => Reply::Respond(put_record_response(0, put.partition_key.parse().unwrap())),
        Request::PutRecords(put) => Reply::Respond(Response::PutRecords(shoal_protocol::ops::PutRecordsOutput {
            records: put
                .records
                .iter()
                .map(|r| shoal_protocol::ops::PutRecordsResult::Success {
                    shard: 0,
                    sequence_number: r.partition_key.parse().unwrap(),
                })
                .collect(),
            durability: shoal_protocol::ops::Durability::Synced,
        })),
        Request::ListStreams(_) => Reply::Respond(Response::ListStreams(shoal_protocol::ops::ListStreamsOutput {
            stream_names: vec!["orders".into()],
            has_more_streams: false,
        })),
        other => panic!("unexpected {other:?}"),
    })
}

#[test]
fn clients_are_shareable_across_threads() {
    assert_send_sync::<Client>();
    assert_send_sync::<BlockingClient>();
}

#[test]
fn the_blocking_client_works_from_plain_threads() {
    let server = echoing_server();
    let client = BlockingClient::connect(server.addr(), config()).unwrap();
    let threads: Vec<_> = (0..4u128)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let n = t * 100 + i;
                    let output = client.put_record(PutRecord::new("orders", n.to_string(), &b"x"[..])).unwrap();
                    assert_eq!(output.sequence_number, n);
                }
                let records: Vec<_> = (0..5).map(|i| PutRecordsEntry::new((t * 10 + i).to_string(), "y")).collect();
                let output = client.put_records_retrying_failed("orders", &records).unwrap();
                assert_eq!(output.records.len(), 5);
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let streams = client.list_streams(ListStreams::default()).unwrap();
    assert_eq!(streams.stream_names, ["orders"]);
    assert_eq!(server.connections(), 1);
}

#[test]
fn futures_are_send_and_run_under_block_on_on_another_thread() {
    let server = echoing_server();
    let client = Arc::new(client(&server));
    let future = {
        let client = Arc::clone(&client);
        assert_send(async move { client.put_record(PutRecord::new("orders", "7", &b"x"[..])).await })
    };
    let output = std::thread::spawn(move || futures::executor::block_on(future)).join().unwrap().unwrap();
    assert_eq!(output.sequence_number, 7);
    let call = assert_send(client.call(Request::ListStreams(ListStreams::default())));
    assert!(matches!(futures::executor::block_on(call), Ok(Response::ListStreams(_))));
}

#[test]
fn many_tasks_on_a_single_threaded_local_pool() {
    let server = echoing_server();
    let client = client(&server);
    let mut pool = LocalPool::new();
    let spawner = pool.spawner();
    let (done, results) = std::sync::mpsc::channel();
    for n in 0..20u128 {
        let client = client.clone();
        let done = done.clone();
        spawner
            .spawn_local(async move {
                let output = client.put_record(PutRecord::new("orders", n.to_string(), &b"x"[..])).await;
                done.send((n, output.map(|o| o.sequence_number))).unwrap();
            })
            .unwrap();
    }
    drop(done);
    pool.run();
    let mut results: Vec<_> = results.into_iter().collect();
    results.sort_by_key(|(n, _)| *n);
    assert_eq!(results.len(), 20);
    for (n, sequence_number) in results {
        assert_eq!(sequence_number.unwrap(), n);
    }
}
