//! When readers stop, driven through the library against an embedded server: a polled consumer
//! and a fan-out subscriber stop once they have received their shard's last acknowledged
//! record, and not before; one that cannot get there stops at the drain deadline, and the
//! verifier reports what it missed as lost, with the reason. No timing is asserted.

use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use shoal_loadgen::consumer::{self, AckedTips, ConsumerEnd, Settings, Shared};
use shoal_loadgen::payload::{self, Filler, Header, RecordId};
use shoal_loadgen::stats::Recorder;
use shoal_loadgen::target::{self, Target};
use shoal_loadgen::verify::{ConsumerId, FailureKind, ReaderKind, Verdict, Verifier, VerifierConfig};
use shoal_loadgen::{subscriber, Event};
use shoal_protocol::client::{Client, ClientConfig};
use shoal_protocol::ops::{GetShardIterator, PutRecord, ShardIteratorType};

const RUN: u64 = 0x5eed;
const STREAM: &str = "readers";
const RECORDS: u64 = 30;

/// The server, its stream of one shard holding `RECORDS` records of run `RUN`, and their
/// acknowledgements.
struct Written {
    target: Target,
    shard: u32,
    acks: Vec<(RecordId, u128)>,
    consumer_arn: String,
}

fn write() -> Written {
    let target = Target::embedded(None, 1).expect("embedded server");
    let client = Client::connect(target.addr, ClientConfig::default()).expect("client");
    let admin = client.blocking();
    let setup = Instant::now() + Duration::from_secs(30);
    target::create_stream(&client, STREAM, 1, None, setup).expect("stream");
    let consumer_arn = subscriber::register(&client, STREAM, "readers-0", setup).expect("fan-out consumer");
    let filler = Filler::new(1, 256);
    let mut shard = None;
    let mut acks = Vec::new();
    for counter in 0..RECORDS {
        let id = RecordId { producer: 0, counter };
        let data = payload::build(&Header { id, run_id: RUN, due_ns: 0 }, &filler);
        let out = admin.put_record(PutRecord::new(STREAM, format!("key-{counter}"), data)).expect("put");
        assert_eq!(*shard.get_or_insert(out.shard), out.shard, "one shard");
        acks.push((id, out.sequence_number));
    }
    Written { target, shard: shard.expect("records written"), acks, consumer_arn }
}

/// With the producers done and `tip` as the shard's last acknowledged sequence number, runs a
/// polled consumer and a fan-out subscriber of the shard to their end and verifies what they
/// read against `acks`.
fn read_back(w: &Written, acks: &[(RecordId, u128)], tip: u128, drain: Duration) -> (Vec<ConsumerEnd>, Verdict) {
    let (events, received) = mpsc::channel();
    let acked = Arc::new(AckedTips::default());
    acked.raise([(w.shard, tip)]);
    let shared = Arc::new(Shared {
        stream: STREAM.into(),
        recorder: Arc::new(Recorder::new(Instant::now())),
        events,
        producers_done: AtomicBool::new(true),
        drain_deadline: Mutex::new(Some(Instant::now() + drain)),
        start_timestamp_ms: 0,
        acked,
    });
    let connect = || Client::connect(w.target.addr, ClientConfig::default()).expect("reader connects");
    let polled = ConsumerId::polled(w.shard, 0);
    let pushed = ConsumerId { shard: w.shard, kind: ReaderKind::FanOut, index: 0 };
    let client = connect();
    let from = GetShardIterator::new(STREAM, w.shard, ShardIteratorType::TrimHorizon);
    let iterator = client.blocking().get_shard_iterator(from).expect("iterator").iterator;
    let settings = Settings { poll_interval: Duration::from_millis(50), limit: 10, unlimited: true, inject: None };
    let readers = [
        consumer::spawn(client, polled, iterator, settings, Arc::clone(&shared)).expect("consumer"),
        subscriber::spawn(
            connect(),
            pushed,
            w.consumer_arn.clone(),
            subscriber::starting_position(true, 0),
            None,
            Arc::clone(&shared),
        )
        .expect("subscriber"),
    ];
    let ends: Vec<ConsumerEnd> = readers.into_iter().map(|r| r.join().expect("reader ends")).collect();
    drop(shared);
    let mut verifier = Verifier::new(VerifierConfig {
        run_id: RUN,
        producers: 1,
        shards: vec![w.shard],
        polled_per_shard: 1,
        fanout_per_shard: 1,
        foreign_is_failure: true,
    });
    for &(id, seq) in acks {
        verifier.acked(id, w.shard, seq);
    }
    for event in received.try_iter() {
        if let Event::Read { consumer, records } = event {
            for (seq, data) in records {
                verifier.read(consumer, seq, &data);
            }
        }
    }
    for end in &ends {
        if let Some(why) = &end.stopped_early {
            verifier.consumer_stopped_early(end.id, why.clone());
        }
    }
    (ends, verifier.finish())
}

#[test]
fn readers_stop_once_they_have_the_last_acknowledged_record() {
    let w = write();
    let tip = w.acks.iter().map(|a| a.1).max().expect("acks");
    let (ends, verdict) = read_back(&w, &w.acks, tip, Duration::from_secs(60));
    for end in &ends {
        assert_eq!(end.stopped_early, None, "{} stopped at the tip, not the deadline", end.id);
        assert_eq!(end.records, RECORDS, "{}", end.id);
        assert_eq!(end.last_seq, Some(tip), "{}", end.id);
    }
    assert!(verdict.passed, "{:?}", verdict.failures);
    assert_eq!(verdict.deliveries_verified, 2 * RECORDS);
    w.target.shutdown().expect("shutdown");
}

#[test]
fn readers_short_of_the_last_acknowledged_record_wait_for_it_then_report_it_lost() {
    let w = write();
    // One more record acknowledged than the server holds: a write lost after its ack.
    let stored_tip = w.acks.iter().map(|a| a.1).max().expect("acks");
    let missing = (RecordId { producer: 0, counter: RECORDS }, stored_tip + 1);
    let acks: Vec<_> = w.acks.iter().copied().chain([missing]).collect();
    let (ends, verdict) = read_back(&w, &acks, missing.1, Duration::from_secs(2));
    for end in &ends {
        assert_eq!(end.records, RECORDS, "{} read everything there is", end.id);
        let why = end.stopped_early.as_deref().unwrap_or_else(|| panic!("{} stopped before the tip", end.id));
        assert!(why.starts_with("drain timeout: received up to seq"), "{why}");
    }
    assert!(!verdict.passed);
    let kinds: Vec<FailureKind> = verdict.failure_counts.keys().copied().collect();
    assert_eq!(kinds, [FailureKind::Lost], "{:?}", verdict.failures);
    assert_eq!(verdict.failure_counts[&FailureKind::Lost], 2, "lost once per reader");
    for f in &verdict.failures {
        assert!(f.detail.contains("record 0/30") && f.detail.contains("drain timeout"), "{}", f.detail);
    }
    assert_eq!(verdict.deliveries_verified, 2 * RECORDS);
    w.target.shutdown().expect("shutdown");
}
