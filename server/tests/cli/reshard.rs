//! `shoal stream retention|split|merge|scale` and `shoal consumer ...` against a server.

use crate::harness::TestServer;

const HASH_KEY_MAX: &str = "340282366920938463463374607431768211455";
/// The middle of the whole hash key space: the first key of the upper half.
const MIDDLE: &str = "170141183460469231731687303715884105728";

#[test]
fn split_then_describe_shows_the_children() {
    let server = TestServer::start();
    server.run(&["stream", "create", "s", "--shards", "1"], b"").ok();
    let split = server.run(&["stream", "split", "s", "--shard", "0"], b"").ok();
    assert!(split.stderr.contains("into shardId-000000000001"), "{split:?}");
    let describe = server.run(&["stream", "describe", "s"], b"").ok().stdout();
    assert!(describe.contains("shards      3 (2 open, 1 closed)"), "{describe}");
    assert!(describe.contains("shardId-000000000000  closed"), "{describe}");
    assert!(
        describe.contains(&format!("hash keys   0 ..= {}", MIDDLE.parse::<u128>().expect("key") - 1)),
        "{describe}"
    );
    assert!(describe.contains(&format!("hash keys   {MIDDLE} ..= {HASH_KEY_MAX}")), "{describe}");
    assert_eq!(describe.matches("parents     shardId-000000000000").count(), 2, "{describe}");

    // A split at a given key, by shard id.
    server.run(&["stream", "split", "s", "--shard", "shardId-000000000001", "--at", "1000"], b"").ok();
    let describe = server.run(&["stream", "describe", "s"], b"").ok().stdout();
    assert!(describe.contains("hash keys   0 ..= 999\n"), "{describe}");
    assert!(describe.contains("hash keys   1000 ..= "), "{describe}");
}

#[test]
fn merge_and_scale_change_the_open_shards() {
    let server = TestServer::start();
    server.run(&["stream", "create", "s", "--shards", "2"], b"").ok();
    let merged = server.run(&["stream", "merge", "s", "--shard", "0", "--adjacent", "1"], b"").ok();
    assert!(merged.stderr.contains("into shardId-000000000002"), "{merged:?}");
    let describe = server.run(&["stream", "describe", "s"], b"").ok().stdout();
    assert!(describe.contains("shards      3 (1 open, 2 closed)"), "{describe}");
    assert!(describe.contains("parents     shardId-000000000000, shardId-000000000001"), "{describe}");

    let scaled = server.run(&["stream", "scale", "s", "--shards", "2"], b"").ok();
    assert!(scaled.stderr.contains("has 2 open shards (was 1)"), "{scaled:?}");
    let describe = server.run(&["stream", "describe", "s"], b"").ok().stdout();
    assert!(describe.contains("(2 open, "), "{describe}");
}

#[test]
fn retention_change_shows_in_describe() {
    let server = TestServer::start();
    server.run(&["stream", "create", "s", "--shards", "1"], b"").ok();
    for (hours, said) in [("72", "now keeps records for 72 hours (was 24)"), ("48", "(was 72)"), ("48", "already")] {
        let outcome = server.run(&["stream", "retention", "s", "--hours", hours], b"").ok();
        assert!(outcome.stderr.contains(said), "{hours}: {outcome:?}");
        let describe = server.run(&["stream", "describe", "s"], b"").ok().stdout();
        assert!(describe.contains(&format!("retention   {hours} hours")), "{describe}");
    }
}

#[test]
fn bad_reshard_and_retention_input_exits_2_and_missing_things_3() {
    let server = TestServer::start();
    server.run(&["stream", "create", "s", "--shards", "3"], b"").ok();
    for (args, hint) in [
        (&["stream", "merge", "s", "--shard", "0", "--adjacent", "2"][..], "ranges touch"),
        (&["stream", "merge", "s", "--shard", "1", "--adjacent", "0"][..], "ranges touch"),
        (&["stream", "scale", "s", "--shards", "7"][..], "between half and double"),
        (&["stream", "split", "s", "--shard", "0", "--at", "0"][..], "--at must be within"),
        (&["stream", "retention", "s", "--hours", "23"][..], "--hours must be within 24..=8760"),
        (&["stream", "split", "s", "--shard", "first"][..], "is not a shard"),
        (&["stream", "split", "s", "--shard", "0", "--at", "half"][..], "--at"),
        (&["stream", "scale", "s"][..], "--shards"),
        (&["consumer", "register", "s"][..], "NAME"),
    ] {
        let outcome = server.run(args, b"");
        assert_eq!(outcome.code, 2, "{args:?}: {outcome:?}");
        assert!(outcome.stderr.contains(hint), "{args:?}: {outcome:?}");
    }
    server.run(&["stream", "split", "s", "--shard", "0"], b"").ok();
    let closed = server.run(&["stream", "split", "s", "--shard", "0"], b"");
    assert_eq!(closed.code, 2, "{closed:?}");
    assert!(closed.stderr.contains("is closed"), "{closed:?}");
    for args in [
        &["stream", "split", "s", "--shard", "99"][..],
        &["stream", "split", "nope", "--shard", "0"][..],
        &["stream", "merge", "nope", "--shard", "0", "--adjacent", "1"][..],
        &["stream", "scale", "nope", "--shards", "1"][..],
        &["stream", "retention", "nope", "--hours", "48"][..],
        &["consumer", "describe", "s", "nobody"][..],
        &["consumer", "deregister", "s", "nobody"][..],
        &["consumer", "list", "nope"][..],
    ] {
        let outcome = server.run(args, b"");
        assert_eq!(outcome.code, 3, "{args:?}: {outcome:?}");
        assert!(outcome.stderr.contains("not found"), "{args:?}: {outcome:?}");
    }
}

#[test]
fn consumers_register_list_describe_deregister() {
    let server = TestServer::start();
    server.run(&["stream", "create", "s", "--shards", "1"], b"").ok();
    let arn = server.run(&["consumer", "register", "s", "ops"], b"").ok().stdout();
    assert!(arn.starts_with("arn:shoal:stream/s/consumer/ops:"), "{arn}");
    server.run(&["consumer", "register", "s", "audit"], b"").ok();
    let again = server.run(&["consumer", "register", "s", "ops"], b"");
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("already registered"), "{again:?}");

    assert_eq!(server.run(&["consumer", "list", "s"], b"").ok().stdout(), "audit\nops\n");
    let describe = server.run(&["consumer", "describe", "s", "ops"], b"").ok().stdout();
    assert!(describe.contains("consumer    ops\n"), "{describe}");
    assert!(describe.contains("status      ACTIVE\n"), "{describe}");
    assert!(describe.contains(&format!("arn         {arn}")), "{describe}");
    let stream = server.run(&["stream", "describe", "s"], b"").ok().stdout();
    assert!(stream.contains("consumers   2"), "{stream}");

    server.run(&["consumer", "deregister", "s", "ops"], b"").ok();
    assert_eq!(server.run(&["consumer", "list", "s"], b"").ok().stdout(), "audit\n");
    assert_eq!(server.run(&["consumer", "describe", "s", "ops"], b"").code, 3);
}

#[test]
fn new_commands_have_help_with_exit_codes() {
    for command in [&["stream", "split"][..], &["stream", "retention"][..], &["consumer", "register"][..]] {
        let mut args = command.to_vec();
        args.push("--help");
        let help = crate::harness::run(&args, b"").ok().stdout();
        assert!(help.contains("[default: 127.0.0.1:7070]"), "{command:?}: {help}");
    }
    let split = crate::harness::run(&["stream", "split", "--help"], b"").ok().stdout();
    assert!(split.contains("[default: the middle of the range]"), "{split}");
    assert!(split.contains("Exit codes:"), "{split}");
}
