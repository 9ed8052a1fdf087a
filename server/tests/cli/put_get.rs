//! `shoal put` then `shoal get`, in every format; partition keys from a JSON field.

use std::collections::BTreeMap;

use base64::Engine as _;

use crate::harness::TestServer;

fn lines(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("record {i} é")).collect()
}

/// Every shard's records as `get --format json` prints them.
fn get_json(server: &TestServer, stream: &str, shards: u32) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for shard in 0..shards {
        let out = server.run(&["get", stream, "--shard", &shard.to_string(), "--format", "json"], b"").ok();
        for line in out.stdout().lines() {
            all.push(serde_json::from_str::<serde_json::Value>(line).expect("a JSON line"));
        }
    }
    all
}

#[test]
fn put_from_stdin_then_get_in_every_format() {
    let server = TestServer::start();
    // Unlimited: no record is throttled, so the shard holds the lines in input order.
    server.run(&["stream", "create", "s", "--shards", "1", "--limits", "unlimited"], b"").ok();
    let sent = lines(1200);
    let mut input = sent.join("\n").into_bytes();
    input.extend_from_slice(b"\n\xff\xfe binary\n");
    let put = server.run(&["put", "s"], &input).ok();
    assert!(put.stderr.contains("put: 1201 accepted, 0 retried, 0 failed"), "{put:?}");

    let raw = server.run(&["get", "s", "--shard", "0"], b"").ok().stdout;
    assert_eq!(raw, input);

    let hex = server.run(&["get", "s", "--shard", "shardId-000000000000", "--format", "hex"], b"").ok().stdout();
    let decoded: Vec<Vec<u8>> = hex
        .lines()
        .map(|l| (0..l.len()).step_by(2).map(|i| u8::from_str_radix(&l[i..i + 2], 16).expect("hex")).collect())
        .collect();
    let expected: Vec<&[u8]> = input.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(decoded, expected);

    let json = get_json(&server, "s", 1);
    assert_eq!(json.len(), 1201);
    let mut last_seq = 0u128;
    for (value, line) in json.iter().zip(&sent) {
        assert_eq!(value["data"], line.as_str());
        assert_eq!(value["data_encoding"], "utf8");
        assert_eq!(value["shard"], 0);
        let seq: u128 = value["sequence_number"].as_str().expect("a string").parse().expect("decimal");
        assert!(seq > last_seq);
        last_seq = seq;
    }
    let binary = &json[1200];
    assert_eq!(binary["data_encoding"], "base64");
    let data = base64::engine::general_purpose::STANDARD.decode(binary["data"].as_str().expect("str")).expect("b64");
    assert_eq!(data, b"\xff\xfe binary");

    // --limit and --from after:SEQ pick a slice.
    let first = json[0]["sequence_number"].as_str().expect("seq");
    let after = format!("after:{first}");
    let two = server.run(&["get", "s", "--shard", "0", "--from", &after, "--limit", "2"], b"").ok().stdout();
    assert_eq!(two, format!("{}\n{}\n", sent[1], sent[2]));
    let at = format!("at:{first}");
    let one = server.run(&["get", "s", "--shard", "0", "--from", &at, "--limit", "1"], b"").ok().stdout();
    assert_eq!(one, format!("{}\n", sent[0]));
    let latest = server.run(&["get", "s", "--shard", "0", "--from", "latest"], b"").ok().stdout();
    assert_eq!(latest, "");
}

#[test]
fn put_from_a_file_with_a_fixed_key() {
    let server = TestServer::start();
    server.run(&["stream", "create", "s", "--shards", "4"], b"").ok();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let path = dir.path().join("input.txt");
    std::fs::write(&path, "a\r\nb\nc").expect("write");
    server.run(&["put", "s", "--file", path.to_str().expect("path"), "--key", "one"], b"").ok();
    let json = get_json(&server, "s", 4);
    let data: Vec<&str> = json.iter().map(|v| v["data"].as_str().expect("data")).collect();
    assert_eq!(data, ["a", "b", "c"], "one key, one shard, in order");
    assert!(json.iter().all(|v| v["partition_key"] == "one"));
}

#[test]
fn key_field_routes_records_by_their_key() {
    let server = TestServer::start();
    server.run(&["stream", "create", "s", "--shards", "4"], b"").ok();
    let mut input = String::new();
    for i in 0..200 {
        input.push_str(&format!("{{\"user\":\"user-{}\",\"n\":{i}}}\n", i % 10));
    }
    server.run(&["put", "s", "--key-field", "user"], input.as_bytes()).ok();
    let json = get_json(&server, "s", 4);
    assert_eq!(json.len(), 200);
    let mut shard_of_key: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_n: BTreeMap<String, i64> = BTreeMap::new();
    for value in &json {
        let key = value["partition_key"].as_str().expect("key").to_string();
        let line: serde_json::Value = serde_json::from_str(value["data"].as_str().expect("data")).expect("json data");
        assert_eq!(line["user"], key.as_str(), "the key is the line's field");
        let shard = value["shard"].as_u64().expect("shard");
        assert_eq!(*shard_of_key.entry(key.clone()).or_insert(shard), shard, "one key, one shard");
        let n = line["n"].as_i64().expect("n");
        assert!(last_n.insert(key, n).is_none_or(|prev| prev < n), "a key's records in put order");
    }
    assert_eq!(shard_of_key.len(), 10);
    let shards: std::collections::BTreeSet<u64> = shard_of_key.values().copied().collect();
    assert!(shards.len() > 1, "10 keys spread over more than one of 4 shards");
}

#[test]
fn throttled_records_are_retried_until_stored() {
    let server = TestServer::start();
    // One shard at Kinesis' 1,000 records/s: 2,500 lines at once are throttled in part.
    server.run(&["stream", "create", "s", "--shards", "1", "--limits", "kinesis"], b"").ok();
    let sent = lines(2500);
    let put = server.run(&["put", "s"], format!("{}\n", sent.join("\n")).as_bytes()).ok();
    let summary = put.stderr.lines().last().expect("a summary line").to_string();
    assert!(summary.starts_with("put: 2500 accepted, "), "{put:?}");
    assert!(summary.ends_with(" failed") && summary.contains(", 0 failed"), "{put:?}");
    assert!(!summary.contains(" 0 retried"), "some records were throttled and retried: {put:?}");
    // Every line stored once (a retried record may land after later lines of its batch).
    let mut got: Vec<String> =
        get_json(&server, "s", 1).iter().map(|v| v["data"].as_str().expect("s").into()).collect();
    let mut expected = sent.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
}
