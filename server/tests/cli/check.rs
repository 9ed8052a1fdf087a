//! `shoal check`: a clean store passes; a planted torn tail is reported
//! (exit 1), `--repair` truncates it, and the repaired store serves exactly
//! the valid records.

use shoal_server::{Server, ServerConfig};

use crate::harness::run;

fn config(dir: &std::path::Path) -> ServerConfig {
    let mut c = ServerConfig::new(dir, "127.0.0.1:0".parse().expect("addr"));
    c.engine.cores = 2;
    c
}

#[test]
fn check_finds_a_torn_tail_and_repair_fixes_it() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let data = dir.path().to_str().expect("utf8 path").to_owned();
    let server = Server::start(config(dir.path())).expect("server");
    let addr = server.local_addr().to_string();
    run(&["stream", "create", "c", "--shards", "1", "--addr", &addr], b"").ok();
    // Six puts: six frames, so a tear keeps the frames before it.
    for part in 0..6 {
        let input: String = (part * 50..part * 50 + 50).map(|i| format!("line-{i:04}-{}\n", "x".repeat(200))).collect();
        run(&["put", "c", "--key", "k", "--addr", &addr], input.as_bytes()).ok();
    }
    server.shutdown().expect("shutdown");

    let clean = run(&["check", "--data-dir", &data], b"").ok();
    assert!(clean.stdout().contains("1 shard(s) checked, 0 damaged"), "{}", clean.stdout());

    // Tear the shard's only segment: cut it inside its data, then garbage.
    let shard_dir = std::fs::read_dir(dir.path().join("streams"))
        .expect("streams")
        .next()
        .expect("one stream")
        .expect("entry")
        .path()
        .join("shard-000000000000");
    let segment = std::fs::read_dir(&shard_dir)
        .expect("shard dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .expect("a segment");
    let bytes = std::fs::read(&segment).expect("read");
    let end = bytes.iter().rposition(|&b| b != 0).expect("data") + 1;
    let mut torn = bytes[..end * 2 / 3].to_vec();
    torn.extend_from_slice(&[0x5a; 3000]);
    std::fs::write(&segment, &torn).expect("write");

    let damaged = run(&["check", "--data-dir", &data], b"");
    assert_eq!(damaged.code, 1, "{damaged:?}");
    assert!(damaged.stdout().contains("DAMAGED (repairable)"), "{}", damaged.stdout());
    let repaired = run(&["check", "--data-dir", &data, "--repair"], b"").ok();
    assert!(repaired.stdout().contains("after repair:"), "{}", repaired.stdout());
    run(&["check", "--data-dir", &data], b"").ok();

    let server = Server::start(config(dir.path())).expect("restart");
    let addr = server.local_addr().to_string();
    let out = run(&["get", "c", "--shard", "0", "--format", "raw", "--addr", &addr], b"").ok().stdout();
    let got: Vec<&str> = out.lines().collect();
    assert!(!got.is_empty() && got.len() < 300, "records before the tear are kept: {}", got.len());
    for (i, line) in got.iter().enumerate() {
        assert!(line.starts_with(&format!("line-{i:04}-")), "in order, intact: {line}");
    }
    server.shutdown().expect("shutdown");
}

#[test]
fn check_of_a_directory_without_a_catalog_says_so() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let out = run(&["check", "--data-dir", dir.path().to_str().expect("utf8")], b"");
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("no Shoal catalog"), "{}", out.stderr);
}

#[test]
fn check_refuses_a_directory_a_server_holds() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let data = dir.path().to_str().expect("utf8 path").to_owned();
    let server = Server::start(config(dir.path())).expect("server");
    let addr = server.local_addr().to_string();
    run(&["stream", "create", "held", "--shards", "1", "--addr", &addr], b"").ok();
    let held = run(&["check", "--data-dir", &data, "--repair"], b"");
    assert_eq!(held.code, 1, "{held:?}");
    assert!(held.stderr.contains("in use by another Shoal process"), "{}", held.stderr);
    server.shutdown().expect("shutdown");
    let free = run(&["check", "--data-dir", &data], b"").ok();
    assert!(free.stdout().contains("0 damaged"), "{}", free.stdout());
}
