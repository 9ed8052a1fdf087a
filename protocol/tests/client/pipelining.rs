//! Many requests in flight on one connection, from several threads, answered in another order
//! than they were sent: each caller gets its own answer.

use std::sync::Arc;

use futures::future::join_all;
use shoal_protocol::ops::PutRecord;
use shoal_protocol::Request;

use crate::fake_server::FakeServer;
use crate::{client, put_record_response, run};

const THREADS: usize = 4;
const PER_THREAD: usize = 25;
const IN_FLIGHT: usize = THREADS * PER_THREAD;

/// The answer a key gets: thread and index, so a swapped answer is caught.
fn sequence_number_for(partition_key: &str) -> u128 {
    let (thread, index) = partition_key.split_once('-').unwrap();
    thread.parse::<u128>().unwrap() * 1_000 + index.parse::<u128>().unwrap()
}

type Requests = Vec<(u64, Request)>;

/// A server that answers only once all `IN_FLIGHT` requests have arrived, in the order
/// `order` gives: the client must have pipelined them, and must match answers by id.
fn reordering_server(order: fn(Requests) -> Requests) -> FakeServer {
    FakeServer::start(move |mut conn, _| {
        let requests = conn.recv_n(IN_FLIGHT);
        for (id, request) in order(requests) {
            let Request::PutRecord(put) = request else { panic!("unexpected {request:?}") };
            conn.respond(id, put_record_response(0, sequence_number_for(&put.partition_key)));
        }
        while conn.recv().is_some() {}
    })
}

fn run_concurrent_puts(server: &FakeServer) {
    let client = Arc::new(client(server));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let client = Arc::clone(&client);
            std::thread::spawn(move || {
                run(async {
                    let puts = (0..PER_THREAD).map(|i| {
                        let key = format!("{thread}-{i}");
                        let client = &client;
                        async move {
                            let output = client.put_record(PutRecord::new("orders", key.clone(), &b"x"[..])).await;
                            (key, output)
                        }
                    });
                    for (key, output) in join_all(puts).await {
                        assert_eq!(output.unwrap().sequence_number, sequence_number_for(&key), "{key}");
                    }
                })
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(server.connections(), 1, "all requests shared one connection");
}

#[test]
fn answers_in_reverse_order_reach_their_callers() {
    let server = reordering_server(|mut requests| {
        requests.reverse();
        requests
    });
    run_concurrent_puts(&server);
}

#[test]
fn answers_in_shuffled_order_reach_their_callers() {
    let server = reordering_server(|requests| {
        // A fixed permutation: 37 is coprime with 100.
        let mut slots: Vec<Option<(u64, Request)>> = requests.into_iter().map(Some).collect();
        (0..IN_FLIGHT).map(|i| slots[(i * 37) % IN_FLIGHT].take().unwrap()).collect()
    });
    run_concurrent_puts(&server);
}
