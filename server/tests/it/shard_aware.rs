//! Connections are served by core `client port mod cores` (PROTOCOL.md §3.4), and the
//! shard-aware client uses that to send every record to its shard's core: the server forwards
//! nothing, and every answer is the one a plain client gets.

use futures::executor::block_on;
use shoal_protocol::client::{hash_key, Client, ClientConfig, ServingCore, ShardAwareClient};
use shoal_protocol::ops::{
    CreateStream, DescribePlacement, ListShards, PutRecord, PutRecords, PutRecordsEntry, PutRecordsResult, Shard,
    SplitShard,
};

use crate::harness::TestServer;

fn forwards(server: &TestServer) -> u64 {
    let m = block_on(server.server.as_ref().expect("running").engine().metrics()).expect("metrics");
    m.cores.iter().map(|c| c.forwards).sum()
}

fn open_shards(client: &Client, stream: &str) -> Vec<Shard> {
    let listed = block_on(client.list_shards(ListShards::for_stream(stream))).expect("list");
    listed.shards.into_iter().filter(|s| s.ending_sequence_number.is_none()).collect()
}

/// The open shard whose hash-key range holds the key: where the server must store it.
fn shard_for(shards: &[Shard], key: &str) -> u32 {
    let h = hash_key(key, None);
    shards.iter().find(|s| (s.hash_key_range.start..=s.hash_key_range.end).contains(&h)).expect("a shard").index
}

#[test]
fn a_connection_is_served_by_the_core_its_port_names() {
    let server = TestServer::start();
    let setup = Client::connect(server.addr(), ClientConfig::default()).expect("connect");
    block_on(setup.create_stream(CreateStream::new("cores", 2))).expect("create");
    for core in [0u16, 1, 1, 0] {
        let config = ClientConfig { serving_core: Some(ServingCore { core, cores: 2 }), ..ClientConfig::default() };
        let client = Client::connect(server.addr(), config).expect("connect");
        let placement = block_on(client.describe_placement(DescribePlacement::new("cores"))).expect("placement");
        assert_eq!(placement.cores, 2);
        assert_eq!(placement.connection_core, core, "served by the core its port names");
    }
}

/// Ordinary clients let the OS pick their port (Linux gives connect() odd ports, often one
/// after another): their connections must still reach every core.
#[test]
fn plain_connections_spread_over_the_cores() {
    let server = TestServer::start();
    let setup = Client::connect(server.addr(), ClientConfig::default()).expect("connect");
    block_on(setup.create_stream(CreateStream::new("spread", 2))).expect("create");
    let mut served = [0u32; 2];
    for _ in 0..16 {
        let client = Client::connect(server.addr(), ClientConfig::default()).expect("connect");
        let placement = block_on(client.describe_placement(DescribePlacement::new("spread"))).expect("placement");
        served[usize::from(placement.connection_core)] += 1;
    }
    assert!(served.iter().all(|&n| n > 0), "16 connections all on one core: {served:?}");
}

#[test]
fn shard_aware_puts_are_never_forwarded_and_land_where_the_server_routes_them() {
    let server = TestServer::start();
    let plain = Client::connect(server.addr(), ClientConfig::default()).expect("connect");
    block_on(plain.create_stream(CreateStream::new("aware", 4))).expect("create");
    let shards = open_shards(&plain, "aware");

    // A plain client's puts to a stream on both cores are partly forwarded: the metric counts.
    let before = forwards(&server);
    for i in 0..40 {
        block_on(plain.put_record(PutRecord::new("aware", format!("plain-{i}"), &b"p"[..]))).expect("put");
    }
    assert!(forwards(&server) > before, "some of 40 keys belong to the other core");

    let aware = ShardAwareClient::new(server.addr(), ClientConfig::default()).expect("client");
    // Routes are learned on the first call; count from there.
    block_on(aware.put_record(PutRecord::new("aware", "warm-up", &b"w"[..]))).expect("put");
    let before = forwards(&server);
    for i in 0..200 {
        let key = format!("single-{i}");
        let out = block_on(aware.put_record(PutRecord::new("aware", key.clone(), &b"s"[..]))).expect("put");
        assert_eq!(out.shard, shard_for(&shards, &key), "{key}");
    }
    let entries: Vec<PutRecordsEntry> =
        (0..500).map(|i| PutRecordsEntry::new(format!("batch-{i}"), vec![i as u8; 10])).collect();
    let out = block_on(aware.put_records(PutRecords::new("aware", entries))).expect("put_records");
    assert_eq!(out.records.len(), 500);
    let mut seen = std::collections::HashSet::new();
    for (i, result) in out.records.iter().enumerate() {
        match result {
            PutRecordsResult::Success { shard, sequence_number } => {
                assert_eq!(*shard, shard_for(&shards, &format!("batch-{i}")), "result {i} is record {i}'s");
                assert!(seen.insert((*shard, *sequence_number)), "each record stored once");
            }
            PutRecordsResult::Failure { status, message } => panic!("record {i} failed: {status:?} {message}"),
        }
    }
    let used: std::collections::HashSet<u32> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(used.len(), 4, "500 keys reach all four shards, on both cores");
    assert_eq!(forwards(&server), before, "the shard-aware client sent everything to its owning core");
}

#[test]
fn the_shard_aware_client_follows_a_split() {
    let server = TestServer::start();
    let aware = ShardAwareClient::new(server.addr(), ClientConfig::default()).expect("client");
    let plain = aware.client().clone();
    block_on(plain.create_stream(CreateStream::new("split", 1))).expect("create");
    block_on(aware.put_record(PutRecord::new("split", "before", &b"b"[..]))).expect("put");
    block_on(plain.split_shard(SplitShard::new("split", 0, 1u128 << 127))).expect("split");
    let shards = open_shards(&plain, "split");
    assert_eq!(shards.len(), 2, "two children");
    // The first put after the split goes by the old route (the server forwards it if need
    // be) and lands in a child; the client then learns the children.
    for i in 0..50 {
        let key = format!("after-{i}");
        let out = block_on(aware.put_record(PutRecord::new("split", key.clone(), &b"a"[..]))).expect("put");
        assert_eq!(out.shard, shard_for(&shards, &key), "{key}");
    }
    let before = forwards(&server);
    for i in 50..100 {
        block_on(aware.put_record(PutRecord::new("split", format!("after-{i}"), &b"a"[..]))).expect("put");
    }
    assert_eq!(forwards(&server), before, "the children's route was learned");
}

/// A PutRecords split over the cores comes back as one answer in request order, refused
/// records included: each result is its own record's, a success on the record's shard or a
/// throttled failure.
#[test]
fn split_put_records_keep_request_order_with_refusals() {
    use shoal_protocol::ops::ShardLimits;
    use shoal_protocol::Status;

    let server = TestServer::start();
    let aware = ShardAwareClient::new(server.addr(), ClientConfig::default()).expect("client");
    let mut create = CreateStream::new("throttled", 4);
    // 20 records per shard and second: most of a 500-record call is refused.
    create.shard_limits = Some(ShardLimits {
        write_bytes_per_second: 1 << 20,
        write_records_per_second: 20,
        read_bytes_per_second: 2 << 20,
        read_calls_per_second: 5,
    });
    block_on(aware.client().create_stream(create)).expect("create");
    let shards = open_shards(aware.client(), "throttled");
    let entries: Vec<PutRecordsEntry> =
        (0..500).map(|i| PutRecordsEntry::new(format!("t-{i}"), vec![1u8; 8])).collect();
    let out = block_on(aware.put_records(PutRecords::new("throttled", entries))).expect("put_records");
    assert_eq!(out.records.len(), 500);
    let (mut stored, mut refused) = (0, 0);
    for (i, result) in out.records.iter().enumerate() {
        match result {
            PutRecordsResult::Success { shard, .. } => {
                assert_eq!(*shard, shard_for(&shards, &format!("t-{i}")), "result {i} is record {i}'s");
                stored += 1;
            }
            PutRecordsResult::Failure { status, .. } => {
                assert_eq!(*status, Status::ProvisionedThroughputExceeded, "record {i}");
                refused += 1;
            }
        }
    }
    assert!(stored > 0 && stored <= 4 * 20, "at most each shard's 20 records a second: {stored}");
    assert_eq!(stored + refused, 500);
}
