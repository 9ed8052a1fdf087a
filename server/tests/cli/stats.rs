//! `shoal stats` against a live server's metrics endpoint, and without one.

use crate::harness::{run, TestServer};

/// The table's rows for `stream`: (shard, every cell).
fn rows(stdout: &str, stream: &str) -> Vec<(u32, Vec<String>)> {
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    assert_eq!(header.first(), Some(&"STREAM"), "{stdout}");
    lines
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .filter(|cells| cells.first().map(String::as_str) == Some(stream))
        .map(|cells| {
            assert_eq!(cells.len(), header.len(), "one value per column: {cells:?}");
            (cells[1].parse().expect("shard index"), cells)
        })
        .collect()
}

#[test]
fn stats_shows_every_shard_with_its_record_count() {
    let server = TestServer::start_with_metrics();
    server.run(&["stream", "create", "s", "--shards", "2", "--limits", "unlimited"], b"").ok();
    server.run(&["stream", "create", "idle", "--shards", "1"], b"").ok();
    let input: String = (0..500).map(|i| format!("line {i}\n")).collect();
    let put = server.run(&["put", "s"], input.as_bytes()).ok();
    assert!(put.stderr.contains("500 accepted"), "{put:?}");
    let per_shard: Vec<usize> = (0..2)
        .map(|shard| server.run(&["get", "s", "--shard", &shard.to_string()], b"").ok().stdout().lines().count())
        .collect();
    assert_eq!(per_shard.iter().sum::<usize>(), 500);

    let metrics = server.metrics_addr().to_string();
    let out = run(&["stats", "--metrics", &metrics, "--interval-ms", "200"], b"").ok();
    let text = out.stdout();
    let shards = rows(&text, "s");
    assert_eq!(shards.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![0, 1], "{text}");
    for (shard, cells) in &shards {
        assert_eq!(cells[2], per_shard[*shard as usize].to_string(), "RECORDS of shard {shard}: {text}");
        assert!(cells[4].ends_with('Z') && cells[5].ends_with('Z'), "arrival times in UTC: {cells:?}");
        assert_eq!(cells[10], "0/0", "nothing throttled");
    }
    let idle = rows(&text, "idle");
    assert_eq!(idle.len(), 1);
    assert_eq!(idle[0].1[2], "0");
    assert_eq!(idle[0].1[4], "-", "an empty shard has no oldest record");

    let only = run(&["stats", "--metrics", &metrics, "--interval-ms", "0", "--stream", "idle"], b"").ok();
    assert!(rows(&only.stdout(), "s").is_empty());
    assert_eq!(rows(&only.stdout(), "idle").len(), 1);
    assert_eq!(rows(&only.stdout(), "idle")[0].1[6], "-", "one scrape: no rates");
    let missing = run(&["stats", "--metrics", &metrics, "--interval-ms", "0", "--stream", "nope"], b"");
    assert_eq!(missing.code, 3, "{missing:?}");
}

#[test]
fn stats_without_an_endpoint_says_what_to_check() {
    // Nothing listens on a port taken and released at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let out = run(&["stats", "--metrics", &format!("127.0.0.1:{port}"), "--interval-ms", "0"], b"");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("is the server running with --metrics?"), "{}", out.stderr);

    // The protocol port is not the metrics port.
    let server = TestServer::start();
    let out = run(&["stats", "--metrics", &server.addr().to_string(), "--interval-ms", "0"], b"");
    assert_eq!(out.code, 1, "{out:?}");
}
