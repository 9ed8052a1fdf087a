//! `shoal serve` killed with SIGKILL while writers are being acknowledged: after a restart on
//! the same directory, every acknowledged record is there, with its data, once.
//!
//! Records of 12 KiB into 8 MiB segments, so that before the kill each shard has rolled
//! segments and its runway task has zeroed ahead of the appends several times.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::executor::block_on;
use shoal_protocol::client::{Client, ClientConfig, RetryPolicy};
use shoal_protocol::ops::{CreateStream, GetRecords, GetShardIterator, PutRecord, ShardIteratorType};

/// Writers stop at this many acknowledgements, or at the deadline.
const ACKS_BEFORE_KILL: usize = 6_000;
/// Data bytes per record (the key, repeated).
const RECORD_BYTES: usize = 12 * 1024;
const SEGMENT_BYTES: &str = "8388608";
const WRITERS: usize = 4;
const SHARDS: u32 = 4;

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr")
}

fn serve(dir: &std::path::Path, addr: SocketAddr) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["serve", "--cores", "2", "--shard-limits", "unlimited", "--segment-bytes", SEGMENT_BYTES, "--data-dir"])
        .arg(dir)
        .args(["--listen", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shoal serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!("shoal serve did not listen on {addr}: {}", String::from_utf8_lossy(&output.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// A record's data: its key, repeated to `RECORD_BYTES`.
fn data_of(key: &str) -> Vec<u8> {
    key.bytes().cycle().take(RECORD_BYTES).collect()
}

fn client(addr: SocketAddr, retry: RetryPolicy) -> Client {
    let config = ClientConfig { request_timeout: Duration::from_secs(10), retry, ..ClientConfig::default() };
    Client::connect(addr, config).expect("connect")
}

/// Every record of the shard, by sequence number.
fn read_shard(client: &Client, shard: u32) -> HashMap<u128, (String, Vec<u8>)> {
    let it = block_on(client.get_shard_iterator(GetShardIterator::new("audit", shard, ShardIteratorType::TrimHorizon)))
        .expect("iterator");
    let mut iterator = it.iterator;
    let mut records = HashMap::new();
    loop {
        let out = block_on(client.get_records(GetRecords::new(iterator))).expect("get");
        for r in &out.records {
            let previous = records.insert(r.sequence_number, (r.partition_key.clone(), r.data.to_vec()));
            assert!(previous.is_none(), "sequence number {} twice on shard {shard}", r.sequence_number);
        }
        if out.records.is_empty() && out.millis_behind_latest == 0 {
            return records;
        }
        iterator = out.next_iterator.expect("the shard is open");
    }
}

#[test]
fn every_acknowledged_record_survives_sigkill() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let addr = free_port();
    let mut server = serve(dir.path(), addr);
    block_on(client(addr, RetryPolicy::default()).create_stream(CreateStream::new("audit", SHARDS))).expect("create");

    // (key, shard, sequence number) of every acknowledged put; writers stop at the first error.
    let acked: Arc<Mutex<Vec<(String, u32, u128)>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let acked = Arc::clone(&acked);
            let c = client(addr, RetryPolicy::none());
            std::thread::spawn(move || {
                for i in 0.. {
                    let key = format!("w{w}-{i}");
                    match block_on(c.put_record(PutRecord::new("audit", key.clone(), data_of(&key)))) {
                        Ok(out) => acked.lock().expect("acks").push((key, out.shard, out.sequence_number)),
                        Err(_) => return, // the server is gone
                    }
                    if Instant::now() > deadline {
                        return;
                    }
                }
            })
        })
        .collect();
    while acked.lock().expect("acks").len() < ACKS_BEFORE_KILL && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().expect("SIGKILL"); // while the writers are still putting
    let _ = server.wait();
    for w in writers {
        w.join().expect("writer");
    }
    let acked = std::mem::take(&mut *acked.lock().expect("acks"));
    assert!(acked.len() >= ACKS_BEFORE_KILL, "only {} acknowledgements before the deadline", acked.len());

    let mut server = serve(dir.path(), addr);
    let reader = client(addr, RetryPolicy::default());
    let stored: Vec<HashMap<u128, (String, Vec<u8>)>> = (0..SHARDS).map(|s| read_shard(&reader, s)).collect();
    let _ = server.kill();
    let _ = server.wait();
    for (key, shard, seq) in &acked {
        let found = stored[*shard as usize].get(seq);
        assert_eq!(
            found.map(|(k, d)| (k.as_str(), d.as_slice())),
            Some((key.as_str(), data_of(key).as_slice())),
            "acknowledged record {key} (shard {shard}, sequence number {seq})"
        );
    }
}
