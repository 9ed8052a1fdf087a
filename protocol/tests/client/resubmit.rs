//! `put_records_retrying_failed`: only records that failed with a retryable status are sent
//! again, in their original order, and the results come back in the order given.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shoal_protocol::ops::{Durability, PutRecordsEntry, PutRecordsOutput, PutRecordsResult};
use shoal_protocol::{Request, Response, Status};

use crate::fake_server::{FakeServer, Reply};
use crate::{client, client_with, config, run};

/// The records of each PutRecords call the server received, by partition key.
type CallLog = Arc<Mutex<Vec<Vec<String>>>>;

/// A PutRecords server. `script[key]` lists the statuses the key fails with on its first
/// attempts; afterwards it succeeds with sequence number `key index * 100 + attempt`. Calls
/// in `written_calls` (counting from 1) answer durability WRITTEN.
fn scripted_server(script: HashMap<String, Vec<Status>>, written_calls: Vec<usize>) -> (FakeServer, CallLog) {
    let calls: CallLog = Arc::default();
    let log = Arc::clone(&calls);
    let script = Mutex::new(script);
    let server = FakeServer::answering(move |request| {
        let Request::PutRecords(put) = request else { panic!("unexpected {request:?}") };
        let keys: Vec<String> = put.records.iter().map(|r| r.partition_key.clone()).collect();
        let call = {
            let mut log = log.lock().unwrap();
            log.push(keys.clone());
            log.len()
        };
        let mut script = script.lock().unwrap();
        let records = keys
            .iter()
            .map(|key| {
                let attempts_before = calls_with(&log.lock().unwrap(), key) - 1;
                match script.get_mut(key).filter(|f| !f.is_empty()) {
                    Some(failures) => {
                        PutRecordsResult::Failure { status: failures.remove(0), message: format!("{key} failed") }
                    }
                    None => PutRecordsResult::Success {
                        shard: 0,
                        sequence_number: key_index(key) * 100 + attempts_before as u128,
                    },
                }
            })
            .collect();
        let durability = if written_calls.contains(&call) { Durability::Written } else { Durability::Synced };
        Reply::Respond(Response::PutRecords(PutRecordsOutput { records, durability }))
    });
    (server, calls)
}

fn calls_with(log: &[Vec<String>], key: &str) -> usize {
    log.iter().filter(|call| call.iter().any(|k| k == key)).count()
}

fn key_index(key: &str) -> u128 {
    key.trim_start_matches('r').parse().unwrap()
}

fn records(n: usize) -> Vec<PutRecordsEntry> {
    (0..n).map(|i| PutRecordsEntry::new(format!("r{i}"), format!("data {i}"))).collect()
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn success(sequence_number: u128) -> PutRecordsResult {
    PutRecordsResult::Success { shard: 0, sequence_number }
}

#[test]
fn only_failed_records_are_resubmitted_in_order_and_results_keep_the_original_order() {
    let throttled = Status::ProvisionedThroughputExceeded;
    let script = HashMap::from([
        ("r1".to_string(), vec![throttled]),
        ("r4".to_string(), vec![throttled, Status::InternalFailure]),
        ("r7".to_string(), vec![throttled]),
        ("r9".to_string(), vec![Status::InternalFailure]),
    ]);
    let (server, calls) = scripted_server(script, vec![2]);
    let output = run(client(&server).put_records_retrying_failed("orders", &records(10))).unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        [
            keys(&["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"]),
            keys(&["r1", "r4", "r7", "r9"]),
            keys(&["r4"]),
        ]
    );
    // Record i succeeded on attempt a (from 0) with sequence number i * 100 + a.
    let expected: Vec<_> = [0, 101, 200, 300, 402, 500, 600, 701, 800, 901].into_iter().map(success).collect();
    assert_eq!(output.records, expected);
    assert_eq!(output.durability, Durability::Written, "the second call stored records unsynced");
}

#[test]
fn records_that_failed_for_good_are_not_resubmitted() {
    let script = HashMap::from([("r1".to_string(), vec![Status::Validation])]);
    let (server, calls) = scripted_server(script, vec![]);
    let output = run(client(&server).put_records_retrying_failed("orders", &records(3))).unwrap();
    assert_eq!(calls.lock().unwrap().len(), 1);
    assert_eq!(
        output.records,
        [
            success(0),
            PutRecordsResult::Failure { status: Status::Validation, message: "r1 failed".into() },
            success(200),
        ]
    );
    assert_eq!(output.durability, Durability::Synced);
}

#[test]
fn records_still_failing_after_the_last_attempt_keep_their_last_failure() {
    let throttled = Status::ProvisionedThroughputExceeded;
    let script = HashMap::from([("r0".to_string(), vec![throttled; 10])]);
    let (server, calls) = scripted_server(script, vec![]);
    let mut config = config();
    config.retry.max_attempts = 3;
    let output = run(client_with(&server, config).put_records_retrying_failed("orders", &records(2))).unwrap();
    assert_eq!(*calls.lock().unwrap(), [keys(&["r0", "r1"]), keys(&["r0"]), keys(&["r0"])]);
    assert_eq!(
        output.records,
        [PutRecordsResult::Failure { status: throttled, message: "r0 failed".into() }, success(100),]
    );
}

#[test]
fn more_than_500_records_go_in_several_calls() {
    let script = HashMap::from([("r3".to_string(), vec![Status::InternalFailure])]);
    let (server, calls) = scripted_server(script, vec![]);
    let output = run(client(&server).put_records_retrying_failed("orders", &records(1_200))).unwrap();
    let sizes: Vec<usize> = calls.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes, [500, 500, 200, 1]);
    assert_eq!(output.records.len(), 1_200);
    for (i, result) in (0u128..).zip(&output.records) {
        let attempt = u128::from(i == 3);
        assert_eq!(*result, success(i * 100 + attempt));
    }
}

#[test]
fn no_records_make_no_call() {
    let (server, calls) = scripted_server(HashMap::new(), vec![]);
    let output = run(client(&server).put_records_retrying_failed("orders", &[])).unwrap();
    assert!(output.records.is_empty());
    assert!(calls.lock().unwrap().is_empty());
}
