//! The server over loopback, through the Rust client, in one process:
//! 1. PutRecords, 1 KiB × 500 per call, durable acks: MB/s, beside the raw
//!    O_DIRECT bandwidth measured just before and after;
//! 2. GetRecords from the tail cache: MB/s;
//! 3. PutRecord latency at half the maximum PutRecord throughput, open
//!    loop (latency counted from each request's intended send time);
//! 4. (`rtt`, not by default) PutRecord latency one request at a time.
//!
//! Client and server share this machine's 2 CPUs, as any loopback
//! benchmark here must.
//!
//! Run: cargo run --release -p shoal-benches --bin server_bench -- [seconds per phase] [phases]
//! where phases is a comma-separated subset of `put,get,lat,rtt` (default: the first three), and
//! `put-aware`, `get-aware`, `lat-aware`, `rtt-aware`: those phases again through the shard-aware client
//! (one connection per server core; every record sent to its shard's core), for comparison in
//! the same run. Phases run in the order given. Each prints how many requests the server
//! forwarded between its cores.
//!
//! Environment (for experiments; figures in BENCHMARKS.md say when they used one):
//! `SHOAL_BENCH_CORES` (the server's executors, default one per CPU), `SHOAL_BENCH_CPUSET` (the
//! server's executors on these CPUs, e.g. `1`, and the client's threads on the others, as if on
//! two machines), `SHOAL_BENCH_SEGMENT_MIB`
//! (segment size), `SHOAL_BENCH_RTT_GAP_MS` (a pause before each `rtt` request, to see the cost
//! of waking an idle machine).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::executor::block_on;
use futures::future::join_all;
use hdrhistogram::Histogram;
use shoal_benches::{bench_dir, executor, raw_odirect_write};
use shoal_engine::metrics::{HistogramSnapshot, LATENCY_BUCKETS_NS};
use shoal_protocol::client::{Client, ClientConfig, ClientError, ShardAwareClient};
use shoal_protocol::ops::{
    CreateStream, GetRecords, GetShardIterator, PutRecord, PutRecordOutput, PutRecords, PutRecordsEntry,
    PutRecordsOutput, PutRecordsResult, ShardIteratorType,
};
use shoal_server::{Server, ServerConfig};

// Same allocator as the `shoal` binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RECORD_BYTES: usize = 1024;
const BATCH: usize = 500;
const CONNECTIONS: usize = 4;
const IN_FLIGHT_PER_CONNECTION: usize = 4;

/// The client a phase puts through: plain (the server forwards records of
/// the other core's shards), or shard-aware.
#[derive(Clone)]
enum Putter {
    Plain(Client),
    ShardAware(ShardAwareClient),
}

impl Putter {
    fn connect(addr: std::net::SocketAddr, shard_aware: bool) -> Putter {
        if shard_aware {
            Putter::ShardAware(ShardAwareClient::new(addr, ClientConfig::default()).expect("client"))
        } else {
            Putter::Plain(Client::connect(addr, ClientConfig::default()).expect("connect"))
        }
    }

    async fn put_record(&self, r: PutRecord) -> Result<PutRecordOutput, ClientError> {
        match self {
            Putter::Plain(c) => c.put_record(r).await,
            Putter::ShardAware(c) => c.put_record(r).await,
        }
    }

    async fn put_records(&self, r: PutRecords) -> Result<PutRecordsOutput, ClientError> {
        match self {
            Putter::Plain(c) => c.put_records(r).await,
            Putter::ShardAware(c) => c.put_records(r).await,
        }
    }
}

/// Requests forwarded between the server's cores so far.
fn forwards(server: &Server) -> u64 {
    let m = block_on(server.engine().metrics()).expect("metrics");
    m.cores.iter().map(|c| c.forwards).sum()
}

/// The server's own view so far, over all cores: PutRecord latency (from
/// the request decoded to its answer ready) and fdatasync duration.
/// The server's PutRecord latency and fdatasync histograms, and its group
/// commits so far: (all, inline).
fn server_put_view(server: &Server) -> (HistogramSnapshot, HistogramSnapshot, (u64, u64)) {
    let m = block_on(server.engine().metrics()).expect("metrics");
    let mut put = HistogramSnapshot::empty(LATENCY_BUCKETS_NS);
    let mut fsync = HistogramSnapshot::empty(LATENCY_BUCKETS_NS);
    let mut groups = (0, 0);
    for core in &m.cores {
        fsync.merge(&core.fsync_ns);
        groups.0 += core.group_records.count();
        groups.1 += core.inline_groups;
        for r in core.requests.iter().filter(|r| r.op == "PutRecord") {
            put.merge(&r.latency_ns);
        }
    }
    (put, fsync, groups)
}

/// Share of the observations between two snapshots at or below 0.25, 0.5,
/// 1, 2.5 and 5 ms: "<=0.25 ms 20.17%, <=0.5 ms 69.51%, <=1 ms 95.90%, ...".
fn share_under(before: &HistogramSnapshot, after: &HistogramSnapshot) -> String {
    let mut delta = after.clone();
    for (d, b) in delta.counts.iter_mut().zip(&before.counts) {
        *d -= b;
    }
    let total = delta.count().max(1) as f64;
    delta
        .cumulative()
        .into_iter()
        .filter_map(|(bound, n)| bound.map(|b| (b, n)))
        .filter(|(b, _)| [250_000, 500_000, 1_000_000, 2_500_000, 5_000_000].contains(b))
        .map(|(b, n)| format!("<={} ms {:.2}%", b as f64 / 1e6, 100.0 * n as f64 / total))
        .collect::<Vec<_>>()
        .join(", ")
}

/// On its own thread: `executor()` pins the thread it runs on, and the
/// client threads must stay free to run on any CPU.
fn raw_mbs(bytes: u64) -> f64 {
    std::thread::spawn(move || {
        let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
        let took = executor().run(raw_odirect_write(dir.path(), bytes));
        bytes as f64 / took.as_secs_f64() / 1e6
    })
    .join()
    .expect("raw probe")
}

/// Pins the calling thread (and the threads it starts later) to `cpus`.
fn pin_this_thread(cpus: &[usize]) {
    // SAFETY: a zeroed `cpu_set_t` is the empty set; CPU_SET writes within it.
    let pinned = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(pinned, 0, "cannot pin the client to CPUs {cpus:?}");
}

/// CPU seconds used so far by each thread of this process, by name.
fn thread_cpu() -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default().trim().to_string();
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
            + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        out.push((comm, ticks / 100.0));
    }
    out
}

fn put_throughput(addr: std::net::SocketAddr, secs: u64, shard_aware: bool) -> (f64, u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let bytes = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|t| {
            let bytes = bytes.clone();
            std::thread::spawn(move || {
                let client = Putter::connect(addr, shard_aware);
                let data = Bytes::from(vec![b'x'; RECORD_BYTES]);
                block_on(join_all((0..IN_FLIGHT_PER_CONNECTION).map(|w| {
                    let (client, bytes, data) = (client.clone(), bytes.clone(), data.clone());
                    async move {
                        let mut n = 0u64;
                        while Instant::now() < deadline {
                            let records = (0..BATCH)
                                .map(|i| PutRecordsEntry::new(format!("{t}-{w}-{n}-{i}"), data.clone()))
                                .collect();
                            let out = client.put_records(PutRecords::new("put", records)).await.expect("put");
                            let ok = out.records.iter().filter(|r| matches!(r, PutRecordsResult::Success { .. }));
                            bytes.fetch_add((ok.count() * RECORD_BYTES) as u64, Ordering::Relaxed);
                            n += 1;
                        }
                    }
                })));
            })
        })
        .collect();
    let start = Instant::now();
    for t in threads {
        t.join().expect("producer");
    }
    let total = bytes.load(Ordering::Relaxed);
    (total as f64 / start.elapsed().as_secs_f64() / 1e6, total)
}

/// One reader thread and connection per shard, each reading its shard
/// from TRIM_HORIZON to the end `passes` times.
fn get_throughput(addr: std::net::SocketAddr, passes: usize, shard_aware: bool) -> f64 {
    let start = Instant::now();
    let readers: Vec<_> = (0..2u32)
        .map(|shard| std::thread::spawn(move || read_shard_passes(addr, shard, passes, shard_aware)))
        .collect();
    let bytes: u64 = readers.into_iter().map(|r| r.join().expect("reader")).sum();
    bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// `shard_aware`: connect to the core that owns the shard (else wherever the server puts it).
fn read_shard_passes(addr: std::net::SocketAddr, shard: u32, passes: usize, shard_aware: bool) -> u64 {
    let client = if shard_aware {
        let aware = ShardAwareClient::new(addr, ClientConfig::default()).expect("client");
        block_on(aware.client_for_shard("get", shard)).expect("the shard's core")
    } else {
        Client::connect(addr, ClientConfig::default()).expect("connect")
    };
    let mut bytes = 0u64;
    for _ in 0..passes {
        {
            let it = block_on(client.get_shard_iterator(GetShardIterator::new(
                "get",
                shard,
                ShardIteratorType::TrimHorizon,
            )))
            .expect("iterator");
            let mut it = it.iterator;
            loop {
                let out = block_on(client.get_records(GetRecords::new(it.clone()))).expect("get");
                if out.records.is_empty() {
                    break;
                }
                bytes += out.records.iter().map(|r| r.data.len() as u64).sum::<u64>();
                it = out.next_iterator.expect("open shard");
            }
        }
    }
    bytes
}

/// Closed loop with many PutRecords in flight: the maximum rate.
fn put_record_max_rate(addr: std::net::SocketAddr, secs: u64, shard_aware: bool) -> f64 {
    let client = Putter::connect(addr, shard_aware);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let count = AtomicU64::new(0);
    let start = Instant::now();
    block_on(join_all((0..64).map(|w| {
        let (client, count) = (client.clone(), &count);
        async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let r = PutRecord::new("lat", format!("{w}-{n}"), vec![b'y'; RECORD_BYTES]);
                client.put_record(r).await.expect("put");
                count.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }
    })));
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// One PutRecord at a time for `secs`: the whole path's latency with
/// nothing queued (no group to join, no other request ahead).
fn put_record_rtt(addr: std::net::SocketAddr, secs: u64, shard_aware: bool) -> Histogram<u64> {
    let client = Putter::connect(addr, shard_aware);
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let gap = std::env::var("SHOAL_BENCH_RTT_GAP_MS").ok().and_then(|v| v.parse().ok()).map(Duration::from_millis);
    let mut i = 0u64;
    while Instant::now() < deadline {
        if let Some(gap) = gap {
            std::thread::sleep(gap);
        }
        let r = PutRecord::new("lat", format!("r{i}"), vec![b'r'; RECORD_BYTES]);
        let start = Instant::now();
        block_on(client.put_record(r)).expect("put");
        let _ = hist.record(start.elapsed().as_micros().max(1) as u64);
        i += 1;
    }
    hist
}

/// Open loop at `rate` per second: request i is due at start + i/rate;
/// latency is measured from the due time, so a stall anywhere counts in
/// full (no coordinated omission). One thread sends each request when due
/// and polls every request in flight in between, parked (never spinning:
/// it shares 2 CPUs with the server) so that an answer or the next due
/// time wakes it. (A thread pool running one task per request added two
/// more threads and a wake-up per request, and a few milliseconds of p99.)
///
/// Returns the latency histogram and, beside it, the pacer's own delay:
/// from each request's due time to its send (included in the latency).
fn put_record_latency(
    addr: std::net::SocketAddr,
    rate: f64,
    secs: u64,
    shard_aware: bool,
) -> (Histogram<u64>, Histogram<u64>) {
    use futures::stream::{FuturesUnordered, StreamExt};
    use std::task::{Context, Poll, Wake, Waker};
    struct Unparker(std::thread::Thread);
    impl Wake for Unparker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let client = Putter::connect(addr, shard_aware);
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let mut send_delay = Histogram::<u64>::new(3).expect("histogram");
    let total = (rate * secs as f64) as u64;
    let start = Instant::now() + Duration::from_millis(50);
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut in_flight = FuturesUnordered::new();
    let mut next = 0u64;
    while next < total || !in_flight.is_empty() {
        let now = Instant::now();
        while next < total && start + Duration::from_secs_f64(next as f64 / rate) <= now {
            let due = start + Duration::from_secs_f64(next as f64 / rate);
            let client = client.clone();
            let i = next;
            in_flight.push(async move {
                let sent = Instant::now();
                let r = PutRecord::new("lat", format!("k{i}"), vec![b'z'; RECORD_BYTES]);
                client.put_record(r).await.expect("put");
                (due, sent)
            });
            next += 1;
        }
        while let Poll::Ready(Some((due, sent))) = in_flight.poll_next_unpin(&mut cx) {
            let micros = Instant::now().saturating_duration_since(due).as_micros() as u64;
            let _ = hist.record(micros.max(1));
            let _ = send_delay.record(sent.saturating_duration_since(due).as_micros().max(1) as u64);
        }
        let now = Instant::now();
        if next < total {
            let due = start + Duration::from_secs_f64(next as f64 / rate);
            if due > now {
                std::thread::park_timeout(due - now);
            }
        } else {
            std::thread::park_timeout(Duration::from_millis(5));
        }
    }
    (hist, send_delay)
}

fn main() {
    let secs: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let phases = std::env::args().nth(2).unwrap_or_else(|| "put,get,lat".into());
    // Measured before the server starts, for the first put phase.
    let mut raw_before = phases.split(',').any(|p| p.starts_with("put")).then(|| raw_mbs(1 << 30));
    let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
    let mut config = ServerConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
    config.engine.default_shard_limits = shoal_engine::ShardLimits::UNLIMITED;
    if let Some(cores) = std::env::var("SHOAL_BENCH_CORES").ok().and_then(|v| v.parse::<usize>().ok()) {
        config.engine.cores = cores;
    }
    // The server's executors on these CPUs, the client's threads on the others.
    let mut client_cpus = Vec::new();
    if let Some(set) = std::env::var("SHOAL_BENCH_CPUSET").ok().filter(|v| !v.is_empty()) {
        config.engine.cpuset =
            set.split(',').map(|c| c.trim().parse().expect("SHOAL_BENCH_CPUSET: CPU numbers")).collect();
        let all = std::thread::available_parallelism().map_or(1, |n| n.get());
        client_cpus = (0..all).filter(|c| !config.engine.cpuset.contains(c)).collect();
        println!("server executors on CPUs {set}, client threads on CPUs {client_cpus:?}");
    }
    if let Some(mib) = std::env::var("SHOAL_BENCH_SEGMENT_MIB").ok().and_then(|v| v.parse::<u64>().ok()) {
        config.engine.log.segment_bytes = mib << 20;
    }
    let server = Server::start(config).expect("server");
    let addr = server.local_addr();
    if !client_cpus.is_empty() {
        // Every client thread started from here on inherits it.
        pin_this_thread(&client_cpus);
    }
    let client = Client::connect(addr, ClientConfig::default()).expect("connect");
    for (name, shards) in [("put", 2), ("get", 2), ("lat", 2)] {
        block_on(client.create_stream(CreateStream::new(name, shards))).expect("create");
    }
    let mut get_stream_filled = false;

    // In the order given, so that either client can go first.
    for name in phases.split(',') {
        let shard_aware = name.ends_with("-aware");
        let client_kind = if shard_aware { "shard-aware client" } else { "plain client" };
        match name.trim_end_matches("-aware") {
            "put" => {
                let raw_before = raw_before.take().unwrap_or_else(|| raw_mbs(1 << 30));
                let forwarded = forwards(&server);
                let (put_mbs, put_bytes) = put_throughput(addr, secs, shard_aware);
                let forwarded = forwards(&server) - forwarded;
                let raw_after = raw_mbs(1 << 30);
                println!(
                    "PutRecords 1 KiB x {BATCH}, {CONNECTIONS} connections x {IN_FLIGHT_PER_CONNECTION} in flight, \
                     durable, {client_kind}: {put_mbs:.0} MB/s ({} MiB in {secs} s; {forwarded} requests forwarded \
                     between cores)",
                    put_bytes >> 20
                );
                println!("raw O_DIRECT 1 GiB before {raw_before:.0} MB/s, after {raw_after:.0} MB/s");
                let raw_mean = (raw_before + raw_after) / 2.0;
                println!("ratio to raw (mean of before/after): {:.2}", put_mbs / raw_mean);
            }
            "get" => {
                if !get_stream_filled {
                    // 48 MiB over two shards stays within each core's 64 MiB tail cache.
                    for n in 0..96 {
                        let records = (0..BATCH)
                            .map(|i| PutRecordsEntry::new(format!("g{n}-{i}"), vec![b'g'; RECORD_BYTES]))
                            .collect();
                        block_on(client.put_records(PutRecords::new("get", records))).expect("put");
                    }
                    get_stream_filled = true;
                }
                let before = forwards(&server);
                let get_mbs = get_throughput(addr, 5, shard_aware);
                println!(
                    "GetRecords from the tail cache, 10,000 records per call, one reader per shard, {client_kind}: \
                     {get_mbs:.0} MB/s ({} requests forwarded between cores)",
                    forwards(&server) - before
                );
            }
            "lat" => {
                let max_rate = put_record_max_rate(addr, secs.min(5), shard_aware);
                let rate = max_rate / 2.0;
                let forwarded = forwards(&server);
                let (put_before, fsync_before, groups_before) = server_put_view(&server);
                let (h, send_delay) = put_record_latency(addr, rate, secs, shard_aware);
                let (put_after, fsync_after, groups_after) = server_put_view(&server);
                let forwarded = forwards(&server) - forwarded;
                let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                println!(
                    "PutRecord 1 KiB durable, {client_kind}: max {max_rate:.0}/s (64 in flight); at {rate:.0}/s open \
                     loop, {} requests ({forwarded} forwarded between cores): p50 {:.2} ms, p99 {:.2} ms, p99.9 \
                     {:.2} ms, max {:.2} ms",
                    h.len(),
                    ms(0.5),
                    ms(0.99),
                    ms(0.999),
                    h.max() as f64 / 1000.0
                );
                println!(
                    "  pacer's own delay before sending (included above): p50 {:.2} ms, p99 {:.2} ms",
                    send_delay.value_at_quantile(0.5) as f64 / 1000.0,
                    send_delay.value_at_quantile(0.99) as f64 / 1000.0
                );
                let (groups, inline) = (groups_after.0 - groups_before.0, groups_after.1 - groups_before.1);
                println!(
                    "  server side: PutRecord {}; fdatasync {}; {groups} group commits, {:.1}% inline",
                    share_under(&put_before, &put_after),
                    share_under(&fsync_before, &fsync_after),
                    inline as f64 * 100.0 / groups.max(1) as f64
                );
            }
            "rtt" => {
                let forwarded = forwards(&server);
                let h = put_record_rtt(addr, secs, shard_aware);
                let forwarded = forwards(&server) - forwarded;
                let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                println!(
                    "PutRecord 1 KiB durable, one at a time, {client_kind}: {} requests ({forwarded} forwarded between \
                     cores): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
                    h.len(),
                    ms(0.5),
                    ms(0.9),
                    ms(0.99),
                    ms(0.999),
                    h.max() as f64 / 1000.0
                );
            }
            other => panic!("unknown phase {other:?}: use put, get, lat, rtt, or any of them with -aware"),
        }
    }
    for (name, cpu) in thread_cpu().into_iter().filter(|(_, c)| *c > 0.5) {
        println!("  cpu {name}: {cpu:.1} s");
    }
    server.shutdown().expect("shutdown");
}
