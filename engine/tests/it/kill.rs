//! SIGKILL a process that appends with durable acks; every record it saw
//! acknowledged must be there after reopening.
//!
//! The child is this test binary re-run with `SHOAL_KILL_CHILD_DIR` set: it
//! prints `ACK <index>` after each acknowledged put (stdout, flushed).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use futures::executor::block_on;
use shoal_engine::{Engine, StartingPosition};

use crate::common::{record, record_index};
use crate::dma::{config, test_dir};

const CHILD_ENV: &str = "SHOAL_KILL_CHILD_DIR";

#[test]
fn acknowledged_records_survive_sigkill() {
    let dir = test_dir();
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "kill::kill_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("piped");
    let mut acked = BTreeSet::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(i) = line.strip_prefix("ACK ") {
            acked.insert(i.trim().parse::<u64>().expect("index"));
            if acked.len() >= 3000 {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(acked.len() >= 3000, "child acknowledged {} records before dying", acked.len());

    let engine = Engine::start(config(dir.path())).expect("reopen");
    let mut found = BTreeSet::new();
    for shard in 0..2 {
        let mut at = block_on(engine.resolve("kill", shard, StartingPosition::TrimHorizon)).expect("resolve");
        loop {
            let r = block_on(engine.read("kill", shard, at, 1000)).expect("read");
            if r.records.is_empty() {
                break;
            }
            for rec in &r.records {
                let i = record_index(rec);
                assert_eq!(rec.data, record("k", i, 200 + (i as usize % 7) * 100).data, "record {i} intact");
                assert!(found.insert(i), "record {i} duplicated");
            }
            at = r.next_counter.expect("open");
        }
    }
    let lost: Vec<_> = acked.difference(&found).collect();
    assert!(lost.is_empty(), "{} acknowledged records lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    engine.shutdown().expect("shutdown");
}

/// The child half: appends until killed. Ignored unless run by the parent.
#[test]
#[ignore = "run by acknowledged_records_survive_sigkill"]
fn kill_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let engine = Engine::start(config(std::path::Path::new(&dir))).expect("start");
    block_on(engine.create_stream("kill", 2, None)).expect("create");
    let stdout = std::io::stdout();
    // Several writer threads so group commits carry many puts.
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let engine = engine.clone();
            let stdout = &stdout;
            s.spawn(move || {
                for n in 0.. {
                    let base = (n * 4 + t) * 10;
                    let records =
                        (base..base + 10).map(|i| record(&format!("k{i}"), i, 200 + (i as usize % 7) * 100)).collect();
                    let out = block_on(engine.put_records("kill", records)).expect("put");
                    let mut lock = stdout.lock();
                    for (i, r) in out.results.iter().enumerate() {
                        if r.is_ok() {
                            writeln!(lock, "ACK {}", base + i as u64).expect("stdout");
                        }
                    }
                    lock.flush().expect("flush");
                }
            });
        }
    });
}
