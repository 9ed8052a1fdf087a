//! The connection's life: loss, reconnection, timeouts, push frames, and bytes that cannot be
//! framed.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use futures::future::join_all;
use shoal_protocol::client::{Client, ClientError, LostReason, RetryPolicy};
use shoal_protocol::ops::{Opcode, PutRecord, SubscribeToShardEvent, SubscriptionEnd};
use shoal_protocol::{FrameKind, Status};

use crate::fake_server::{FakeServer, Reply};
use crate::{client, client_with, config, put_record_response, run};

fn put(key: &str) -> PutRecord {
    PutRecord::new("orders", key, &b"hi"[..])
}

fn lost_reason(error: &ClientError) -> &LostReason {
    match error {
        ClientError::ConnectionLost(reason) => reason,
        other => panic!("expected ConnectionLost, got {other:?}"),
    }
}

/// The first connection reads `in_flight` requests and closes without answering; later ones
/// answer every request.
fn closing_first_connection(in_flight: usize) -> FakeServer {
    FakeServer::start(move |mut conn, n| {
        if n == 1 {
            conn.recv_n(in_flight);
            return conn.close();
        }
        while let Some((id, _)) = conn.recv() {
            conn.respond(id, put_record_response(0, n as u128));
        }
    })
}

#[test]
fn a_closed_connection_fails_requests_in_flight_and_the_next_call_reconnects() {
    let server = closing_first_connection(3);
    let mut config = config();
    config.retry = RetryPolicy::none();
    let client = client_with(&server, config);
    let outcomes = run(join_all(["a", "b", "c"].map(|key| client.put_record(put(key)))));
    for outcome in outcomes {
        let error = outcome.unwrap_err();
        assert!(matches!(lost_reason(&error), LostReason::ClosedByServer), "{error}");
        assert!(error.is_retryable());
    }
    let output = run(client.put_record(put("d"))).unwrap();
    assert_eq!(output.sequence_number, 2, "answered on the second connection");
    assert_eq!(server.connections(), 2);
}

#[test]
fn a_request_lost_with_its_connection_is_retried_on_a_new_one() {
    let server = closing_first_connection(1);
    let output = run(client(&server).put_record(put("a"))).unwrap();
    // At least once: the first connection read the request too.
    assert_eq!(output.sequence_number, 2);
    assert_eq!(server.connections(), 2);
}

#[test]
fn a_server_that_never_answers_gives_a_timeout() {
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    let server = FakeServer::answering(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
        Reply::Silence
    });
    let mut config = config();
    config.request_timeout = Duration::from_millis(200);
    let error = run(client_with(&server, config).put_record(put("a"))).unwrap_err();
    assert!(matches!(error, ClientError::Timeout(t) if t == Duration::from_millis(200)), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(requests.load(Ordering::SeqCst), 1, "a timeout is not retried");
}

#[test]
fn a_late_answer_to_an_abandoned_request_is_dropped_and_the_connection_goes_on() {
    let server = FakeServer::start(|mut conn, _| {
        let (abandoned, _) = conn.recv().unwrap();
        let (next, _) = conn.recv().unwrap();
        // Answer the abandoned request only now, then the next one.
        conn.respond(abandoned, put_record_response(0, 1));
        conn.respond(next, put_record_response(0, 2));
        while conn.recv().is_some() {}
    });
    let client = client(&server);
    run(async {
        // The first poll sends the request; dropping the future abandons it, as a timeout does.
        let mut abandoned = Box::pin(client.put_record(put("a")));
        assert!(futures::poll!(abandoned.as_mut()).is_pending());
        drop(abandoned);
        let output = client.put_record(put("b")).await.unwrap();
        assert_eq!(output.sequence_number, 2, "the late answer went to nobody");
    });
    assert_eq!(server.connections(), 1);
}

#[test]
fn push_frames_without_a_subscription_are_ignored() {
    let server = FakeServer::start(|mut conn, _| {
        while let Some((id, _)) = conn.recv() {
            let event = Opcode::SubscribeToShardEvent as u16;
            // For an id nobody uses, and for the very request in flight, well-formed or not:
            // none of them answers it or costs the connection.
            conn.send_with_body(FrameKind::Push, event, 999_999, b"event");
            conn.send_with_body(FrameKind::Push, event, id, b"");
            conn.push(
                999_999,
                SubscribeToShardEvent {
                    records: vec![],
                    continuation_sequence_number: 1,
                    millis_behind_latest: 0,
                    child_shards: vec![],
                    end: None,
                },
            );
            conn.push(
                id,
                SubscribeToShardEvent {
                    records: vec![],
                    continuation_sequence_number: 2,
                    millis_behind_latest: 0,
                    child_shards: vec![],
                    end: Some(SubscriptionEnd::Lifetime),
                },
            );
            conn.respond(id, put_record_response(0, u128::from(id)));
        }
    });
    let client = client(&server);
    for key in ["a", "b", "c"] {
        run(client.put_record(put(key))).unwrap();
    }
    assert_eq!(server.connections(), 1, "push frames did not cost the connection");
}

#[test]
fn unframeable_bytes_from_the_server_close_the_connection() {
    let server = FakeServer::start(|mut conn, n| {
        while let Some((id, _)) = conn.recv() {
            if n == 1 {
                // Version 9: nothing after it can be trusted.
                conn.send_raw(&[0, 0, 0, 0, 9, 2, 0x10, 0]);
            } else {
                conn.respond(id, put_record_response(0, 5));
            }
        }
    });
    let mut config = config();
    config.retry = RetryPolicy::none();
    let client = client_with(&server, config);
    let error = run(client.put_record(put("a"))).unwrap_err();
    assert!(matches!(lost_reason(&error), LostReason::Framing(_)), "{error}");
    assert_eq!(run(client.put_record(put("b"))).unwrap().sequence_number, 5);
    assert_eq!(server.connections(), 2);
}

#[test]
fn the_servers_last_error_frame_is_the_reason_the_connection_was_lost() {
    let server = FakeServer::start(|mut conn, _| {
        conn.recv().unwrap();
        conn.fail(0, 0, Status::MalformedFrame, "header checksum mismatch");
        conn.close();
    });
    let mut config = config();
    config.retry = RetryPolicy::none();
    let error = run(client_with(&server, config).put_record(put("a"))).unwrap_err();
    match lost_reason(&error) {
        LostReason::Farewell { status, message } => {
            assert_eq!(*status, Status::MalformedFrame);
            assert_eq!(message, "header checksum mismatch");
        }
        other => panic!("expected the farewell, got {other:?}"),
    }
}

#[test]
fn connecting_to_a_closed_port_is_a_connect_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = Client::connect(("127.0.0.1", port), config()).unwrap_err();
    assert!(matches!(error, ClientError::Connect(_)), "{error:?}");
    // A lazy client fails the same way on its first request, after retrying the connect.
    let lazy = Client::new(("127.0.0.1", port), config()).unwrap();
    assert!(matches!(run(lazy.put_record(put("a"))), Err(ClientError::Connect(_))));
}

#[test]
fn dropping_the_last_handle_closes_the_connection() {
    let (closed_tx, closed_rx) = mpsc::channel();
    let closed_tx = std::sync::Mutex::new(closed_tx);
    let server = FakeServer::start(move |mut conn, _| {
        while let Some((id, _)) = conn.recv() {
            conn.respond(id, put_record_response(0, 1));
        }
        closed_tx.lock().unwrap().send(()).unwrap();
    });
    let client = client(&server);
    let clone = client.clone();
    run(clone.put_record(put("a"))).unwrap();
    drop(client);
    assert!(closed_rx.try_recv().is_err(), "a clone still holds the connection");
    drop(clone);
    closed_rx.recv_timeout(Duration::from_secs(10)).expect("the server saw the connection close");
}
