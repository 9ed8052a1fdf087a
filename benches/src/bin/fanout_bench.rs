//! Enhanced fan-out latency (issue 4): one shard written at ~1 MiB/s, 20
//! registered consumers each subscribed on its own connection, and, for
//! contrast in the same run, one polled consumer at 5 GetRecords/s. Every
//! record carries its send time; each consumer records put→delivery
//! latency in an HDR histogram. In-process server, durable acks, Kinesis'
//! default per-shard limits; client and server share the 2 CPUs.
//!
//! Run: cargo run --release -p shoal-benches --bin fanout_bench -- [seconds] [consumers, default 20]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::executor::block_on;
use futures::StreamExt;
use hdrhistogram::Histogram;
use shoal_benches::bench_dir;
use shoal_protocol::client::{Client, ClientConfig};
use shoal_protocol::ops::{
    CreateStream, GetRecords, GetShardIterator, PutRecords, PutRecordsEntry, RegisterStreamConsumer, ShardIteratorType,
    StartingPosition,
};
use shoal_server::{Server, ServerConfig};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RECORD_BYTES: usize = 4096;
const RECORDS_PER_PUT: usize = 25;
const PUT_INTERVAL: Duration = Duration::from_millis(100); // 25 × 4 KiB × 10/s ≈ 1 MiB/s

fn stamp(base: Instant) -> Vec<u8> {
    let mut data = (base.elapsed().as_micros() as u64).to_le_bytes().to_vec();
    data.resize(RECORD_BYTES, b'f');
    data
}

fn latency_us(base: Instant, data: &[u8]) -> u64 {
    let sent = u64::from_le_bytes(data[..8].try_into().expect("stamped"));
    (base.elapsed().as_micros() as u64).saturating_sub(sent).max(1)
}

fn main() {
    let secs: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let consumers: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let dir = tempfile::tempdir_in(bench_dir()).expect("dir");
    let server = Server::start(ServerConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"))).expect("server");
    let addr = server.local_addr();
    let admin = Client::connect(addr, ClientConfig::default()).expect("connect");
    block_on(admin.create_stream(CreateStream::new("fan", 1))).expect("create");
    let arns: Vec<String> = (0..consumers)
        .map(|i| {
            let r = RegisterStreamConsumer { stream_name: "fan".into(), consumer_name: format!("c{i:02}") };
            block_on(admin.register_stream_consumer(r)).expect("register").consumer.consumer_arn
        })
        .collect();
    let base = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let push_hist = Arc::new(Mutex::new(Histogram::<u64>::new(3).expect("histogram")));
    let subscribers: Vec<_> = arns
        .into_iter()
        .map(|arn| {
            let (stop, hist) = (stop.clone(), push_hist.clone());
            std::thread::spawn(move || {
                let client = Client::connect(addr, ClientConfig::default()).expect("connect");
                let mut events = client.subscribe_to_shard_resuming(arn, 0, StartingPosition::latest());
                let mut local = Histogram::<u64>::new(3).expect("histogram");
                block_on(async {
                    while !stop.load(Ordering::Relaxed) {
                        match events.next().await {
                            Some(Ok(ev)) => {
                                for r in &ev.records {
                                    let _ = local.record(latency_us(base, &r.data));
                                }
                            }
                            _ => break,
                        }
                    }
                });
                hist.lock().expect("hist").add(&local).expect("same bounds");
            })
        })
        .collect();
    let poll_hist = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let client = Client::connect(addr, ClientConfig::default()).expect("connect");
            let it = block_on(client.get_shard_iterator(GetShardIterator::new("fan", 0, ShardIteratorType::Latest)))
                .expect("iterator");
            let mut it = it.iterator;
            let mut h = Histogram::<u64>::new(3).expect("histogram");
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200)); // 5 calls/s, the shard's read limit
                if let Ok(out) = block_on(client.get_records(GetRecords::new(it.clone()))) {
                    for r in &out.records {
                        let _ = h.record(latency_us(base, &r.data));
                    }
                    if let Some(next) = out.next_iterator {
                        it = next;
                    }
                }
            }
            h
        })
    };
    std::thread::sleep(Duration::from_millis(500)); // subscriptions start
    let producer = Client::connect(addr, ClientConfig::default()).expect("connect");
    let end = Instant::now() + Duration::from_secs(secs);
    let mut next = Instant::now();
    let (mut sent, mut throttled) = (0usize, 0usize);
    while Instant::now() < end {
        let records = (0..RECORDS_PER_PUT).map(|i| PutRecordsEntry::new(format!("k{i}"), stamp(base))).collect();
        let out = block_on(producer.put_records(PutRecords::new("fan", records))).expect("put");
        sent += out.records.len();
        throttled +=
            out.records.iter().filter(|r| !matches!(r, shoal_protocol::ops::PutRecordsResult::Success { .. })).count();
        next += PUT_INTERVAL;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    std::thread::sleep(Duration::from_millis(500)); // let the last events arrive
    stop.store(true, Ordering::Relaxed);
    let polled = poll_hist.join().expect("poller");
    // Subscribers block in `next()`: a last record wakes each one.
    let records = (0..1).map(|_| PutRecordsEntry::new("k", stamp(base))).collect();
    let _ = block_on(producer.put_records(PutRecords::new("fan", records)));
    for s in subscribers {
        let _ = s.join();
    }
    let h = push_hist.lock().expect("hist");
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "producer: {sent} records of {RECORD_BYTES} B in {secs} s (~{:.2} MiB/s), {throttled} throttled",
        (sent * RECORD_BYTES) as f64 / secs as f64 / (1 << 20) as f64
    );
    println!(
        "fan-out, {consumers} consumers: {} deliveries, put->push p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        h.len(),
        ms(&h, 0.5),
        ms(&h, 0.99),
        ms(&h, 0.999),
        h.max() as f64 / 1000.0
    );
    println!(
        "polled, 1 consumer at 5 GetRecords/s: {} deliveries, put->read p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        polled.len(),
        ms(&polled, 0.5),
        ms(&polled, 0.99),
        ms(&polled, 0.999),
        polled.max() as f64 / 1000.0
    );
    server.shutdown().expect("shutdown");
}
