//! Error frames, retries with backoff, and answers that break the protocol.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use shoal_protocol::client::{ClientError, ProtocolError, RetryPolicy};
use shoal_protocol::ops::{DescribeStreamSummary, Opcode, PutRecord};
use shoal_protocol::{FrameKind, Response, Status};

use crate::fake_server::{FakeServer, Reply};
use crate::{client, client_with, config, put_record_response, run};

/// A server that fails the first `failures` requests with `status`, then answers PutRecord;
/// and the count of requests it received.
fn failing_server(status: Status, failures: usize) -> (FakeServer, Arc<AtomicUsize>) {
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&attempts);
    let server = FakeServer::answering(move |_| {
        let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= failures {
            Reply::Fail(status, format!("attempt {n} failed"))
        } else {
            Reply::Respond(put_record_response(0, 42))
        }
    });
    (server, attempts)
}

fn put() -> PutRecord {
    PutRecord::new("orders", "user-1", &b"hi"[..])
}

#[test]
fn an_error_frame_becomes_a_service_error_with_the_kinesis_name() {
    let server = FakeServer::answering(|_| Reply::Fail(Status::ResourceNotFound, "Stream orders not found.".into()));
    let error = run(client(&server).describe_stream_summary(DescribeStreamSummary::new("orders"))).unwrap_err();
    match &error {
        ClientError::Service { status, message } => {
            assert_eq!(*status, Status::ResourceNotFound);
            assert_eq!(message, "Stream orders not found.");
        }
        other => panic!("expected a service error, got {other:?}"),
    }
    assert_eq!(error.status().map(Status::name), Some("ResourceNotFoundException"));
    assert_eq!(error.to_string(), "ResourceNotFoundException: Stream orders not found.");
    assert!(!error.is_retryable());
}

#[test]
fn retryable_errors_are_retried_with_backoff_then_succeed() {
    for status in Status::KNOWN.into_iter().filter(|s| s.is_retryable()) {
        let (server, attempts) = failing_server(status, 2);
        let output = run(client(&server).put_record(put())).unwrap();
        assert_eq!(output.sequence_number, 42, "{status}");
        assert_eq!(attempts.load(Ordering::SeqCst), 3, "{status}: two failures, then success");
    }
}

#[test]
fn retries_stop_after_max_attempts() {
    let (server, attempts) = failing_server(Status::ProvisionedThroughputExceeded, usize::MAX);
    let mut config = config();
    config.retry.max_attempts = 3;
    let error = run(client_with(&server, config).put_record(put())).unwrap_err();
    assert_eq!(error.status(), Some(Status::ProvisionedThroughputExceeded));
    assert!(error.to_string().contains("attempt 3 failed"), "the last error is returned: {error}");
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

#[test]
fn a_policy_without_retries_sends_once() {
    let (server, attempts) = failing_server(Status::ServiceUnavailable, 1);
    let mut config = config();
    config.retry = RetryPolicy::none();
    let error = run(client_with(&server, config).put_record(put())).unwrap_err();
    assert_eq!(error.status(), Some(Status::ServiceUnavailable));
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}

#[test]
fn non_retryable_errors_return_at_once() {
    let statuses = Status::KNOWN.into_iter().filter(|s| !s.is_retryable()).chain([Status::Unrecognized(0x0999)]);
    for status in statuses {
        let (server, attempts) = failing_server(status, usize::MAX);
        let error = run(client(&server).put_record(put())).unwrap_err();
        assert_eq!(error.status(), Some(status));
        assert!(!error.is_retryable(), "{status}");
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "{status} is not retried");
    }
}

#[test]
fn an_answer_for_another_operation_is_a_protocol_error_and_the_connection_goes_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let server = FakeServer::answering(move |_| match seen.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::Respond(Response::DeleteStream),
        _ => Reply::Respond(put_record_response(0, 7)),
    });
    let client = client(&server);
    match run(client.put_record(put())) {
        Err(ClientError::Protocol(ProtocolError::WrongResponse { expected, got })) => {
            assert_eq!((expected, got), (Opcode::PutRecord, Opcode::DeleteStream));
        }
        other => panic!("expected WrongResponse, got {other:?}"),
    }
    assert_eq!(run(client.put_record(put())).unwrap().sequence_number, 7);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "protocol errors are not retried");
    assert_eq!(server.connections(), 1);
}

#[test]
fn an_undecodable_answer_fails_only_its_request() {
    let server = FakeServer::start(|mut conn, _| {
        let (id, _) = conn.recv().unwrap();
        // A PutRecord response cut short: framing intact, body malformed.
        conn.send_with_body(FrameKind::Response, Opcode::PutRecord as u16, id, &[1, 0]);
        while let Some((id, _)) = conn.recv() {
            conn.respond(id, put_record_response(0, 8));
        }
    });
    let client = client(&server);
    match run(client.put_record(put())) {
        Err(ClientError::Protocol(ProtocolError::Body(e))) => assert_eq!(e.status(), Status::MalformedFrame),
        other => panic!("expected a body error, got {other:?}"),
    }
    assert_eq!(run(client.put_record(put())).unwrap().sequence_number, 8);
    assert_eq!(server.connections(), 1);
}

#[test]
fn a_request_that_cannot_be_encoded_is_not_sent() {
    let (server, attempts) = failing_server(Status::InternalFailure, 0);
    let client = client(&server);
    // Over the u16 length prefix of a string.
    let key = "k".repeat(70_000);
    let error = run(client.put_record(PutRecord::new("orders", key, &b""[..]))).unwrap_err();
    assert!(matches!(error, ClientError::Encode(_)), "{error:?}");
    assert!(!error.is_retryable());
    // The connection still works, and the server only ever saw the next request.
    run(client.put_record(put())).unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}
