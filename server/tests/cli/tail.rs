//! `shoal tail`: polled and fan-out, across a reshard, stopped by --max-records or Ctrl-C.

use std::time::{Duration, Instant};

use shoal_protocol::client::{BlockingClient, ClientConfig};
use shoal_protocol::ops::SplitShard;

use crate::harness::{wait, Outcome, TestServer, COMMAND_TIMEOUT};

/// `key` and `data` of every line of `tail --format json`.
fn keyed(outcome: &Outcome) -> Vec<(String, String)> {
    outcome
        .stdout()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            (v["partition_key"].as_str().expect("key").into(), v["data"].as_str().expect("data").into())
        })
        .collect()
}

/// 10 records of each of 4 keys, numbered per key, put before and after a split of shard 0.
fn put_around_a_split(server: &TestServer) -> usize {
    server.run(&["stream", "create", "s", "--shards", "2", "--limits", "unlimited"], b"").ok();
    let mut input = String::new();
    for n in 0..5 {
        for key in ["a", "b", "c", "d"] {
            input.push_str(&format!("{{\"k\":\"{key}\",\"n\":{n}}}\n"));
        }
    }
    server.run(&["put", "s", "--key-field", "k"], input.as_bytes()).ok();
    let client = BlockingClient::connect(server.addr(), ClientConfig::default()).expect("client");
    client.split_shard(SplitShard::new("s", 0, 1u128 << 126)).expect("split");
    let mut input = String::new();
    for n in 5..10 {
        for key in ["a", "b", "c", "d"] {
            input.push_str(&format!("{{\"k\":\"{key}\",\"n\":{n}}}\n"));
        }
    }
    server.run(&["put", "s", "--key-field", "k"], input.as_bytes()).ok();
    40
}

/// Each key's records came out once each and in put order (parents before children).
fn assert_in_order_per_key(records: &[(String, String)], total: usize) {
    assert_eq!(records.len(), total, "{records:?}");
    for key in ["a", "b", "c", "d"] {
        let ns: Vec<i64> = records
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, data)| serde_json::from_str::<serde_json::Value>(data).expect("json")["n"].as_i64().expect("n"))
            .collect();
        assert_eq!(ns, (0..10).collect::<Vec<i64>>(), "key {key}: {records:?}");
    }
}

#[test]
fn polled_tail_follows_children_after_a_split() {
    let server = TestServer::start();
    let total = put_around_a_split(&server);
    let outcome = server
        .run(&["tail", "s", "--from", "trim-horizon", "--format", "json", "--max-records", &total.to_string()], b"")
        .ok();
    assert_in_order_per_key(&keyed(&outcome), total);
}

#[test]
fn fan_out_tail_registers_its_consumer_and_follows_children() {
    let server = TestServer::start();
    let total = put_around_a_split(&server);
    let args = ["tail", "s", "--consumer", "cli", "--from", "trim-horizon", "--format", "json"];
    let outcome = server.run(&[&args[..], &["--max-records", &total.to_string()]].concat(), b"").ok();
    assert!(outcome.stderr.contains("registered consumer \"cli\""), "{outcome:?}");
    assert_in_order_per_key(&keyed(&outcome), total);
    let describe = server.run(&["stream", "describe", "s"], b"").ok().stdout();
    assert!(describe.contains("consumers   1\n  cli  ACTIVE"), "{describe}");
    // The consumer exists now: a second tail reuses it. Deleting the stream needs --force.
    let again = server.run(&[&args[..], &["--max-records", "1"]].concat(), b"").ok();
    assert!(!again.stderr.contains("registered"), "{again:?}");
    let refused = server.run(&["stream", "delete", "s"], b"");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("--force"), "{refused:?}");
    server.run(&["stream", "delete", "s", "--force"], b"").ok();
}

/// A tail from latest prints records put after it started: keep putting until it has enough.
fn tail_from_latest_sees_new_records(consumer: Option<&str>) {
    let server = TestServer::start();
    server.run(&["stream", "create", "live", "--shards", "2"], b"").ok();
    let mut args = vec!["tail", "live", "--max-records", "5"];
    if let Some(name) = consumer {
        args.extend(["--consumer", name]);
    }
    let mut child = server.spawn(&args);
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let mut n = 0;
    while child.try_wait().expect("try_wait").is_none() {
        assert!(Instant::now() < deadline, "tail did not stop after 5 records");
        server.run(&["put", "live"], format!("line {n}\n").as_bytes()).ok();
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let outcome = Outcome::from(wait(child, COMMAND_TIMEOUT)).ok();
    let lines: Vec<String> = outcome.stdout().lines().map(String::from).collect();
    assert_eq!(lines.len(), 5, "{outcome:?}");
    assert!(lines.iter().all(|l| l.starts_with("line ")), "{outcome:?}");
}

#[test]
fn polled_tail_from_latest_prints_new_records() {
    tail_from_latest_sees_new_records(None);
}

#[test]
fn fan_out_tail_from_latest_prints_new_records() {
    tail_from_latest_sees_new_records(Some("live-tail"));
}

#[test]
fn ctrl_c_stops_a_tail_with_exit_0() {
    let server = TestServer::start();
    server.run(&["stream", "create", "quiet", "--shards", "1"], b"").ok();
    let child = server.spawn(&["tail", "quiet"]);
    std::thread::sleep(Duration::from_millis(500));
    // The child is ours: SIGINT to exactly that process, as Ctrl-C would send it.
    let sent = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success());
    let outcome = Outcome::from(wait(child, Duration::from_secs(10)));
    assert_eq!(outcome.code, 0, "{outcome:?}");
}

#[test]
fn tail_refuses_a_sequence_number_position() {
    let server = TestServer::start();
    server.run(&["stream", "create", "s", "--shards", "1"], b"").ok();
    let outcome = server.run(&["tail", "s", "--from", "at:1"], b"");
    assert_eq!(outcome.code, 2, "{outcome:?}");
    assert!(outcome.stderr.contains("shoal get --shard"), "{outcome:?}");
    assert_eq!(server.run(&["tail", "nope"], b"").code, 3);
}
