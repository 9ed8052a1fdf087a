//! `shoal stream ...`, usage errors and connection errors.

use crate::harness::{run, TestServer};

#[test]
fn create_list_describe_delete() {
    let server = TestServer::start();
    server.run(&["stream", "create", "orders", "--shards", "3", "--retention-hours", "48"], b"").ok();
    server.run(&["stream", "create", "logs", "--shards", "1", "--limits", "unlimited"], b"").ok();
    let again = server.run(&["stream", "create", "orders", "--shards", "1"], b"");
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("already exists"), "{again:?}");

    let list = server.run(&["stream", "list"], b"").ok();
    assert_eq!(list.stdout(), "logs\norders\n");

    let describe = server.run(&["stream", "describe", "orders"], b"").ok().stdout();
    assert!(describe.contains("status      ACTIVE"), "{describe}");
    assert!(describe.contains("retention   48 hours"), "{describe}");
    assert!(describe.contains("shards      3 (3 open, 0 closed)"), "{describe}");
    for shard in ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"] {
        assert!(describe.contains(shard), "{describe}");
    }
    assert!(describe.contains("hash keys   0 ..= "), "{describe}");
    assert!(describe.contains("..= 340282366920938463463374607431768211455"), "{describe}");

    server.run(&["stream", "delete", "orders"], b"").ok();
    assert_eq!(server.run(&["stream", "list"], b"").ok().stdout(), "logs\n");
    let gone = server.run(&["stream", "describe", "orders"], b"");
    assert_eq!(gone.code, 3, "{gone:?}");
    assert!(gone.stderr.contains("stream \"orders\" not found"), "{gone:?}");
    assert_eq!(server.run(&["stream", "delete", "orders"], b"").code, 3);
}

#[test]
fn unknown_stream_exits_3() {
    let server = TestServer::start();
    for args in
        [&["get", "nope", "--shard", "0"][..], &["put", "nope", "--key", "k"][..], &["stream", "describe", "nope"][..]]
    {
        let outcome = server.run(args, b"x\n");
        assert_eq!(outcome.code, 3, "{args:?}: {outcome:?}");
        assert!(outcome.stderr.contains("not found"), "{args:?}: {outcome:?}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let server = TestServer::start();
    server.run(&["stream", "create", "s", "--shards", "1"], b"").ok();
    for args in [
        &["stream", "create", "s2"][..],                     // --shards missing
        &["stream", "create", "s2", "--shards", "zero"][..], // not a number
        &["stream", "create", "s2", "--shards", "0"][..],    // the server refuses it
        &["stream", "create", "s2", "--shards", "1", "--limits", "lots"][..],
        &["get", "s", "--shard", "0", "--from", "yesterday"][..],
        &["get", "s", "--shard", "0", "--format", "xml"][..],
        &["put", "s", "--key", "a", "--key-field", "b"][..], // one key source
        &["frobnicate"][..],
    ] {
        let outcome = server.run(args, b"");
        assert_eq!(outcome.code, 2, "{args:?}: {outcome:?}");
        assert!(outcome.stderr.contains("error"), "{args:?}: {outcome:?}");
    }
    // A JSON line without the key field is an input error, reported with its line number.
    let outcome = server.run(&["put", "s", "--key-field", "user"], b"{\"user\":\"a\"}\n{\"other\":1}\n");
    assert_eq!(outcome.code, 2, "{outcome:?}");
    assert!(outcome.stderr.contains("line 2"), "{outcome:?}");
}

#[test]
fn help_lists_defaults_and_exit_codes() {
    let help = run(&["--help"], b"").ok().stdout();
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("4  throttled"), "{help}");
    let get = run(&["get", "--help"], b"").ok().stdout();
    assert!(get.contains("[default: trim-horizon]"), "{get}");
    assert!(get.contains("[default: 127.0.0.1:7070]"), "{get}");
    assert!(get.contains("Exit codes:"), "{get}");
}

#[test]
fn connection_refused_says_what_to_do() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    let outcome = run(&["stream", "list", "--addr", &addr], b"");
    assert_eq!(outcome.code, 1, "{outcome:?}");
    assert!(
        outcome.stderr.contains(&format!("cannot connect to {addr}: connection refused — is `shoal serve` running?")),
        "{outcome:?}"
    );
}
