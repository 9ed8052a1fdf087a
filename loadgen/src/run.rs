//! One run from start to verdict: set up the server and stream, start the verifier and the
//! consumers, drive the producers through the profile's steps while a ticker prints progress
//! once a second, drain the consumers, and assemble the [`Report`].
//!
//! Every phase ends by its deadline on the run's [`Clock`] (see [`crate::budget`]): setup
//! calls race the setup deadline, the schedule stops at the load deadline, and the drain waits
//! for puts in flight and then for readers until the drain deadline. What is still waiting for
//! the server then is left behind and reported as stalled, with what it leaves unverified.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shoal_protocol::client::{Client, RetryPolicy};
use shoal_protocol::ops::{GetShardIterator, ShardIteratorType, ShardLimits};

use crate::budget::{self, CallError, Clock, Phase, READER_STOP, REQUEST_TIMEOUT, STEP_SETTLE};
use crate::cli::{Plan, Schedule, TargetSpec, KINESIS_LIMITS};
use crate::consumer::{self, AckedTips, ConsumerEnd};
use crate::keys::{KeyPool, ShardMap, KEY_BYTES};
use crate::payload::Filler;
use crate::producer::{self, Producers, RecordOutcome, StepRun};
use crate::report::{
    ErrorsReport, LimitsReport, MaxReport, Report, SecondReport, ShardReport, StepHistograms, StepReport, StreamReport,
    TargetReport, WorkloadReport, SCHEMA,
};
use crate::stats::{LatencySummary, Measure, Recorder, SubscriberSpread};
use crate::subscriber;
use crate::target::{self, Target};
use crate::verify::{ConsumerId, ReaderKind, Verdict, Verifier, VerifierConfig};
use crate::Event;

/// Growth of the max profile's rate per sustained step.
const RAMP_FACTOR: f64 = 1.5;
/// The max profile stops bisecting once the bracket is this tight.
const RAMP_PRECISION: f64 = 1.1;
/// A sustained step accepted at least this share of its scheduled records.
const SUSTAINED_ACCEPTED_SHARE: f64 = 0.95;
/// Between two looks at the readers while they drain.
const DRAIN_CHECK_INTERVAL: Duration = Duration::from_millis(20);
/// Read limits use this share of the shard's 5 calls/s, leaving room for timing jitter.
const READ_CALLS_USED_PER_SECOND: f64 = 4.0;
/// Progress windows are cut at whole seconds and at step changes, but never shorter than this:
/// a rate measured over a few milliseconds is noise.
const WINDOW_MIN: Duration = Duration::from_millis(250);
/// Poll interval of consumers on a stream without read limits.
const UNLIMITED_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Why a run could not be carried out (as opposed to a run that found failures).
#[derive(Debug)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for SetupError {
    fn from(s: String) -> Self {
        SetupError(s)
    }
}

/// The step currently running, for the progress line.
#[derive(Debug, Clone, Default)]
struct Current {
    /// `None` once the load is over (consumers draining).
    step: Option<usize>,
    name: String,
    records_per_second: f64,
}

/// What the pacer thread reports about each step.
struct StepPlanRun {
    name: String,
    warmup: bool,
    run: StepRun,
    sustained: Option<bool>,
}

/// How the load ended, once its puts were answered or the drain deadline came.
#[derive(Default)]
struct LoadEnd {
    runs: Vec<StepPlanRun>,
    /// Puts still unanswered at the drain deadline.
    unanswered: usize,
    /// Puts that got no answer within the request timeout.
    timed_out: u64,
}

/// Stops the readers when dropped, at once unless their drain deadline is set already: a run
/// that returns before its drain (a setup that failed half way) leaves none running.
struct StopReaders(Arc<consumer::Shared>);

impl Drop for StopReaders {
    fn drop(&mut self) {
        self.0.drain_deadline.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(Instant::now);
        self.0.producers_done.store(true, Ordering::Release);
    }
}

/// What the run leaves on the server, to remove in the teardown.
#[derive(Default)]
struct Cleanup {
    /// The run's stream, once known.
    stream: Option<String>,
    /// This run created the stream on a server it did not start, and does not keep it.
    delete_stream: bool,
    /// Fan-out consumers this run registered with the stream.
    consumers: Vec<String>,
}

fn unlimited(l: &ShardLimits) -> bool {
    l.write_bytes_per_second == u32::MAX && l.write_records_per_second == u32::MAX
}

/// Records/s the shards of a stream accept together, for records of `wire_bytes`.
fn write_limit_records_per_second(limits: Option<ShardLimits>, shards: usize, wire_bytes: usize) -> Option<f64> {
    let l = limits.filter(|l| !unlimited(l))?;
    let by_records = f64::from(l.write_records_per_second);
    let by_bytes = f64::from(l.write_bytes_per_second) / wire_bytes as f64;
    Some(by_records.min(by_bytes) * shards as f64)
}

/// One run, within `clock`'s bound (started by the caller, for its watchdog).
pub fn run(plan: &Plan, clock: &Clock, progress: &mut dyn Write) -> Result<Report, SetupError> {
    let started_wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    // Random seeds stay below 2^53, so JSON readers that parse numbers as doubles keep them exact.
    let seed = plan.seed.unwrap_or_else(|| random_u64() >> 11);
    let run_id = random_u64();
    let say = |progress: &mut dyn Write, line: String| {
        let _ = writeln!(progress, "{line}");
    };
    say(progress, clock.budget().explain());

    let setup_end = clock.enter(Phase::Setup);
    let target = match &plan.target {
        TargetSpec::Embedded { data_parent, cores } => {
            let t = match Target::embedded_until(data_parent.as_deref(), *cores, setup_end) {
                Ok(t) => t,
                // The system's temporary directory may be a tmpfs without O_DIRECT.
                Err(first) if data_parent.is_none() && Instant::now() < setup_end => {
                    say(progress, format!("{first}; trying the current directory (choose with --data-dir)"));
                    let here = std::env::current_dir().unwrap_or_else(|_| ".".into());
                    Target::embedded_until(Some(&here), *cores, setup_end)
                        .map_err(|second| format!("{first}; then {second}"))?
                }
                Err(e) => return Err(e.into()),
            };
            say(
                progress,
                format!(
                    "embedded server on {} ({} cores), data in {} (removed at exit)",
                    t.addr,
                    t.server_cores.unwrap_or(0),
                    t.data_dir().map(|d| d.display().to_string()).unwrap_or_default()
                ),
            );
            t
        }
        TargetSpec::Remote { addr } => Target::remote(addr, setup_end)?,
    };
    let mut cleanup = Cleanup::default();
    let result = run_on(plan, clock, &target, seed, run_id, started_wall, &mut cleanup, progress);
    let teardown_end = clock.enter(Phase::Teardown);
    let mut stalls = teardown(&target, &cleanup, teardown_end, progress);
    if let Err(e) = target.shutdown_until(teardown_end) {
        stalls.push(e);
    }
    clock.enter(Phase::Done);
    let mut report = match result {
        Ok(report) => report,
        Err(e) => {
            for stall in stalls {
                say(progress, format!("warning: {stall}"));
            }
            return Err(e);
        }
    };
    if !stalls.is_empty() {
        report.failure_reasons.extend(stalls);
        report.passed = false;
        report.exit_code = 1;
    }
    Ok(report)
}

/// Deregisters the run's fan-out consumers and deletes the stream it created, by `deadline`.
/// Returns the stalls (failures of the run); other errors are warnings, as the run's results
/// stand.
fn teardown(target: &Target, cleanup: &Cleanup, deadline: Instant, progress: &mut dyn Write) -> Vec<String> {
    let Some(stream) = &cleanup.stream else { return Vec::new() };
    if !cleanup.delete_stream && cleanup.consumers.is_empty() {
        return Vec::new();
    }
    let mut stalls = Vec::new();
    let config = budget::client_config(RetryPolicy::default());
    let client = match budget::connect(target.addr, config, deadline, "the teardown client") {
        Ok(client) => client,
        Err(e) => {
            let _ = writeln!(progress, "warning: {e}; the stream and fan-out consumers are left");
            return stalls;
        }
    };
    let mut done = |result: Result<(), CallError>| match result {
        Ok(()) => {}
        Err(CallError::Stalled(e)) => stalls.push(e),
        Err(CallError::Failed(e)) => {
            let _ = writeln!(progress, "warning: {e}");
        }
    };
    for name in &cleanup.consumers {
        done(subscriber::deregister(&client, stream, name, deadline));
    }
    if cleanup.delete_stream {
        done(target::delete_stream(&client, stream, deadline));
    }
    stalls
}

#[allow(clippy::too_many_arguments)]
fn run_on(
    plan: &Plan,
    clock: &Clock,
    target: &Target,
    seed: u64,
    run_id: u64,
    started_wall: Duration,
    cleanup: &mut Cleanup,
    progress: &mut dyn Write,
) -> Result<Report, SetupError> {
    let setup_end = clock.deadline();
    let admin =
        budget::connect(target.addr, budget::client_config(RetryPolicy::default()), setup_end, "the admin client")?;
    let (stream, created) = match &plan.existing_stream {
        Some(name) => (name.clone(), false),
        None => {
            let name = format!("loadgen-{:08x}", run_id as u32);
            target::create_stream(&admin, &name, plan.shards, plan.limits, setup_end)?;
            (name, true)
        }
    };
    cleanup.stream = Some(stream.clone());
    cleanup.delete_stream = created && !target.is_embedded() && !plan.keep_stream;
    drive(plan, clock, target, &admin, &stream, created, seed, run_id, started_wall, cleanup, progress)
}

#[allow(clippy::too_many_arguments)]
fn drive(
    plan: &Plan,
    clock: &Clock,
    target: &Target,
    admin: &Client,
    stream: &str,
    created: bool,
    seed: u64,
    run_id: u64,
    started_wall: Duration,
    cleanup: &mut Cleanup,
    progress: &mut dyn Write,
) -> Result<Report, SetupError> {
    let setup_end = clock.deadline();
    let shard_list = target::list_shards(admin, stream, setup_end)?;
    let map = ShardMap::new(&shard_list);
    let shards = map.shards();
    let keys = KeyPool::new(&map, seed, plan.hot_key_share)?;
    let hot_shard = (plan.hot_key_share > 0.0).then(|| keys.hot_shard());
    let wire_bytes = plan.record_bytes + KEY_BYTES;
    let limits = plan.limits.or(if plan.limits_assumed { Some(KINESIS_LIMITS) } else { None });
    let write_limit = write_limit_records_per_second(limits, shards.len(), wire_bytes);

    // Read pacing.
    let k = plan.polled_consumers;
    let read_limits = limits.filter(|l| l.read_calls_per_second != u32::MAX);
    let poll_interval = plan.poll_interval.unwrap_or(match read_limits {
        Some(l) => {
            let calls = READ_CALLS_USED_PER_SECOND.min(f64::from(l.read_calls_per_second) * 0.8);
            Duration::from_secs_f64(f64::from(k.max(1)) / calls)
        }
        None => UNLIMITED_POLL_INTERVAL,
    });
    let get_limit = match read_limits.filter(|l| l.read_bytes_per_second != u32::MAX) {
        Some(l) => {
            let calls_per_second = f64::from(k.max(1)) / poll_interval.as_secs_f64();
            let per_call = f64::from(l.read_bytes_per_second) / calls_per_second / wire_bytes as f64;
            (per_call.floor() as u32).clamp(1, shoal_protocol::limits::GET_RECORDS_LIMIT_MAX)
        }
        None => shoal_protocol::limits::GET_RECORDS_LIMIT_MAX,
    };

    let epoch = Instant::now();
    let recorder = Arc::new(Recorder::new(epoch));
    let fanout = plan.fanout_consumers;
    let verifying = k > 0 || fanout > 0;
    let (events_tx, events_rx) = mpsc::channel::<Event>();
    let verifier_config = VerifierConfig {
        run_id,
        producers: plan.producers as u32,
        shards: shards.clone(),
        polled_per_shard: k,
        fanout_per_shard: fanout,
        foreign_is_failure: created,
    };
    let verifier = std::thread::Builder::new()
        .name("loadgen-verify".into())
        .spawn(move || verify_events(Verifier::new(verifier_config), events_rx))
        .map_err(|e| format!("cannot start the verifier: {e}"))?;

    // Consumers take their iterators before any put, so they see every record of the run.
    let acked = Arc::new(AckedTips::default());
    let consumer_shared = Arc::new(consumer::Shared {
        stream: stream.to_string(),
        recorder: Arc::clone(&recorder),
        events: events_tx.clone(),
        producers_done: AtomicBool::new(false),
        drain_deadline: Mutex::new(None),
        start_timestamp_ms: started_wall.as_millis() as u64,
        acked: Arc::clone(&acked),
    });
    let _stop_readers = StopReaders(Arc::clone(&consumer_shared));
    let settings =
        consumer::Settings { poll_interval, limit: get_limit, unlimited: read_limits.is_none(), inject: plan.inject };
    let reader_config = budget::client_config(RetryPolicy::none());
    let mut consumers = Vec::new();
    for &shard in &shards {
        for index in 0..k {
            let client = budget::connect(target.addr, reader_config.clone(), setup_end, "a consumer")?;
            let start = if created { ShardIteratorType::TrimHorizon } else { ShardIteratorType::Latest };
            let what = format!("GetShardIterator for shard {shard}");
            let request = client.get_shard_iterator(GetShardIterator::new(stream, shard, start));
            let it = budget::call(Phase::Setup, setup_end, &what, request).map_err(String::from)?;
            let id = ConsumerId::polled(shard, index);
            let handle = consumer::spawn(client, id, it.iterator, settings.clone(), Arc::clone(&consumer_shared))
                .map_err(|e| format!("cannot start a consumer: {e}"))?;
            consumers.push((id, handle));
        }
    }
    // Fan-out: the run's consumers belong to the stream; each subscribes to every shard, one
    // thread and one connection per (consumer, shard). Subscriptions resume after a lost
    // connection as the default retry policy allows.
    if fanout > 0 {
        let start = subscriber::starting_position(created, consumer_shared.start_timestamp_ms);
        for index in 0..fanout {
            let name = subscriber::consumer_name(run_id, index);
            let arn = subscriber::register(admin, stream, &name, setup_end)?;
            cleanup.consumers.push(name);
            for &shard in &shards {
                let config = budget::client_config(RetryPolicy::default());
                let client = budget::connect(target.addr, config, setup_end, "a subscriber")?;
                let id = ConsumerId { shard, kind: ReaderKind::FanOut, index };
                let handle =
                    subscriber::spawn(client, id, arn.clone(), start, plan.inject, Arc::clone(&consumer_shared))
                        .map_err(|e| format!("cannot start a subscriber: {e}"))?;
                consumers.push((id, handle));
            }
        }
    }

    let writer_config = budget::client_config(RetryPolicy::none());
    let mut clients = Vec::new();
    for _ in 0..plan.producers {
        clients.push(budget::connect(target.addr, writer_config.clone(), setup_end, "a producer")?);
    }
    let shared = producer::Shared {
        stream: stream.to_string(),
        keys,
        filler: Filler::new(seed, plan.record_bytes),
        batch: plan.batch,
        single: plan.single,
        run_id,
        seed,
        recorder: Arc::clone(&recorder),
        events: verifying.then(|| events_tx.clone()),
        acked,
        timed_out: Default::default(),
    };
    drop(events_tx);
    // The first Ctrl-C ends the load early (then drain, verify, report as usual); a second one
    // exits at once.
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&interrupted));
        let _ = signal_hook::flag::register(signal, Arc::clone(&interrupted));
    }
    let load_end = clock.enter(Phase::Load);
    let mut producers =
        Producers::new(clients, shared, plan.max_in_flight, plan.max_records, Arc::clone(&interrupted), load_end)
            .map_err(|e| format!("cannot start the pool: {e}"))?;

    // Resolve the schedule's rates now that the limits and record size are known.
    let to_rps = |r: &crate::units::Rate| r.records_per_second(wire_bytes, write_limit).map_err(SetupError);
    let mut timeline = Vec::new();
    let quiet = plan.quiet;
    let mut tick = Ticker {
        epoch,
        next: 1,
        last: epoch,
        recorder: &recorder,
        current: Current::default(),
        quiet,
        polled: k > 0,
        pushed: fanout > 0,
    };

    let load: LoadEnd = match &plan.schedule {
        Schedule::Steps { rates, step_duration } => {
            let resolved: Vec<(String, f64)> =
                rates.iter().map(|(n, r)| Ok((n.clone(), to_rps(r)?))).collect::<Result<_, SetupError>>()?;
            let step_duration = *step_duration;
            let warmup = plan.schedule.warmup();
            run_paced(&mut tick, &mut timeline, progress, move |current| {
                let mut runs = Vec::new();
                if let Some((_, first)) = resolved.first() {
                    runs.push(warm_up(&mut producers, &current, *first, warmup));
                }
                for (name, rps) in resolved {
                    if producers.stopped() || producers.exhausted() {
                        break;
                    }
                    set_current(&current, runs.len(), &name, rps);
                    let run = producers.run_step(rps, step_duration);
                    runs.push(StepPlanRun { name, warmup: false, run, sustained: None });
                }
                end_load(clock, &producers, &current, runs)
            })
        }
        Schedule::Ramp { start, step_duration, budget, p99_target_ms } => {
            let start = to_rps(start)?;
            let (step_duration, budget, target_ms) = (*step_duration, *budget, *p99_target_ms);
            let warmup = plan.schedule.warmup();
            run_paced(&mut tick, &mut timeline, progress, move |current| {
                let runs = ramp(&mut producers, &current, start, warmup, step_duration, budget, target_ms);
                end_load(clock, &producers, &current, runs)
            })
        }
    };
    let step_runs = load.runs;

    // Every put is answered (unless the drain deadline came first), so the acknowledged tips
    // are final: readers read up to them, then stop. Their deadline leaves them the drain's
    // last moments to notice it and stop.
    let drain_end = clock.enter(Phase::Drain);
    let readers_end = drain_end.checked_sub(READER_STOP.min(clock.budget().drain / 2)).unwrap_or(drain_end);
    tick.flush(&mut timeline, progress);
    tick.current = Current { step: None, name: "drain".into(), records_per_second: 0.0 };
    *consumer_shared.drain_deadline.lock().unwrap_or_else(|p| p.into_inner()) = Some(readers_end);
    consumer_shared.producers_done.store(true, Ordering::Release);
    let mut stalled_readers = 0;
    let ends: Vec<ConsumerEnd> = {
        loop {
            let left = drain_end.saturating_duration_since(Instant::now());
            if consumers.iter().all(|(_, c)| c.is_finished()) || left.is_zero() {
                break;
            }
            tick.wait_and_print(&mut timeline, progress, DRAIN_CHECK_INTERVAL.min(left));
        }
        // A reader still in a call to the server is not waited for.
        let (finished, waiting): (Vec<_>, Vec<_>) = consumers.into_iter().partition(|(_, c)| c.is_finished());
        for (id, _) in waiting {
            stalled_readers += 1;
            let why = "stalled: still waiting for the server at the drain deadline".to_string();
            let _ = writeln!(progress, "warning: {id} {why}");
            let _ = consumer_shared.events.send(Event::ConsumerStopped { consumer: id, why });
        }
        finished.into_iter().filter_map(|(_, c)| c.join().ok()).collect()
    };
    let mut short_readers = 0;
    for end in &ends {
        if let Some(why) = &end.stopped_early {
            short_readers += u32::from(why.starts_with(consumer::DRAIN_TIMEOUT));
            let _ = consumer_shared.events.send(Event::ConsumerStopped { consumer: end.id, why: why.clone() });
        }
    }
    tick.finish(&mut timeline, progress);
    // Puts and readers left behind may still hold senders: the verdict does not wait for them.
    let _ = consumer_shared.events.send(Event::End);
    drop(consumer_shared);
    let verdict = verifier.join().map_err(|_| SetupError("the verifier panicked".into()))?;

    let limits_report = limits.filter(|l| !unlimited(l)).map(|l| LimitsReport {
        write_bytes_per_second: l.write_bytes_per_second,
        write_records_per_second: l.write_records_per_second,
        read_bytes_per_second: l.read_bytes_per_second,
        read_calls_per_second: l.read_calls_per_second,
    });
    let ramp_target = match plan.schedule {
        Schedule::Ramp { p99_target_ms, .. } => Some(p99_target_ms),
        Schedule::Steps { .. } => None,
    };
    let measures = recorder.steps();
    let mut steps = Vec::new();
    let mut histograms = Vec::new();
    let mut total = Measure::default();
    for (i, sr) in step_runs.iter().enumerate() {
        let m = measures.get(sr.run.index).cloned().unwrap_or_default();
        let mut step = step_report(i, &sr.name, &sr.run, &m, wire_bytes, sr.sustained);
        step.warmup = sr.warmup;
        steps.push(step);
        histograms.push(StepHistograms {
            name: sr.name.clone(),
            ack: m.ack.clone(),
            read: m.read.clone(),
            push: m.push.clone(),
        });
        total.add(&m);
    }
    let totals = totals_report(&steps, &total, wire_bytes);
    histograms.push(StepHistograms {
        name: "all".into(),
        ack: total.ack.clone(),
        read: total.read.clone(),
        push: total.push.clone(),
    });
    let max = ramp_target.map(|p99_target_ms| {
        let best = steps
            .iter()
            .filter(|s| s.sustained == Some(true))
            .max_by(|a, b| a.accepted_records_per_second.total_cmp(&b.accepted_records_per_second));
        MaxReport {
            p99_target_ms,
            best_step: best.map(|s| s.index),
            best_accepted_records_per_second: best.map(|s| s.accepted_records_per_second),
            best_accepted_mb_per_second: best.map(|s| s.accepted_mb_per_second),
        }
    });
    let (errors, error_count) = recorder.errors();
    let per_shard = recorder
        .shards()
        .into_iter()
        .map(|(shard, counts)| ShardReport { shard, counts, hot: hot_shard == Some(shard) })
        .collect();

    // What stalled comes first: it explains the failures after it.
    let mut failure_reasons = Vec::new();
    if load.timed_out > 0 {
        failure_reasons.push(format!(
            "stalled: {} put request(s) got no answer within {}; their records' fate is unknown and they \
             were not verified",
            load.timed_out,
            budget::secs(REQUEST_TIMEOUT),
        ));
    }
    if load.unanswered > 0 {
        failure_reasons.push(format!(
            "stalled in drain: {} put request(s) still had no answer at the drain deadline; their records \
             were not verified",
            load.unanswered
        ));
    }
    if stalled_readers > 0 {
        failure_reasons.push(format!(
            "stalled in drain: {stalled_readers} reader(s) were still waiting for the server at the drain \
             deadline; the acknowledged records they had not received are reported lost"
        ));
    }
    if short_readers > 0 {
        failure_reasons.push(format!(
            "drain timeout: {short_readers} reader(s) had not received their shard's last acknowledged record \
             after {} (--drain-timeout); what they missed is reported lost",
            budget::secs(clock.budget().drain)
        ));
    }
    let verification = verifying.then_some(verdict);
    if let Some(v) = &verification {
        if !v.passed {
            failure_reasons.push(format!("verification {}", v.summary()));
        }
    }
    if interrupted.load(Ordering::Relaxed) {
        failure_reasons.push("interrupted: the load was stopped early".into());
    }
    if error_count > 0 {
        failure_reasons.push(format!("{error_count} request(s) failed; first: {}", errors.first().map_or("", |e| e)));
    }
    let scheduled_records: u64 = step_runs.iter().map(|s| s.run.scheduled_records).sum();
    let max_records_reached = scheduled_records + plan.batch as u64 > plan.max_records;
    let unsynced = totals.counts.accepted_unsynced;
    let passed = failure_reasons.is_empty();
    Ok(Report {
        schema: SCHEMA,
        profile: plan.profile.name().into(),
        passed,
        exit_code: if passed { 0 } else { 1 },
        failure_reasons,
        started_at_unix_ms: started_wall.as_millis() as u64,
        elapsed_seconds: crate::stats::round3(clock.elapsed().as_secs_f64()),
        time_bound_seconds: crate::stats::round3(clock.budget().total().as_secs_f64()),
        seed,
        run_id: format!("{run_id:016x}"),
        target: TargetReport {
            mode: if target.is_embedded() { "embedded" } else { "remote" }.into(),
            addr: target.addr.to_string(),
            data_dir: target.data_dir().map(|d| d.display().to_string()),
            server_cores: target.server_cores,
        },
        stream: StreamReport {
            name: stream.to_string(),
            created,
            shards: shards.len() as u32,
            limits: limits_report,
            limits_source: if plan.limits_assumed { "assumed" } else { "set" }.into(),
            write_limit_records_per_second: write_limit.map(crate::stats::round3),
        },
        workload: WorkloadReport {
            producers: plan.producers,
            operation: if plan.single { "PutRecord" } else { "PutRecords" }.into(),
            batch_records: plan.batch,
            record_bytes: plan.record_bytes,
            key_bytes: KEY_BYTES,
            key_distribution: if plan.hot_key_share > 0.0 { "hot" } else { "uniform" }.into(),
            hot_key_share: plan.hot_key_share,
            hot_shard,
            max_in_flight_per_producer: plan.max_in_flight,
            polled_consumers_per_shard: k,
            poll_interval_ms: crate::stats::round3(poll_interval.as_secs_f64() * 1000.0),
            get_records_limit: get_limit,
            fanout_consumers_per_shard: u32::from(fanout),
            throttled_records_retried: false,
            max_records: plan.max_records,
        },
        max_records_reached,
        steps,
        totals,
        per_second: timeline,
        per_shard,
        verification,
        max,
        errors: ErrorsReport { count: error_count, first: errors },
        durability: if unsynced == 0 { "synced" } else { "written" }.into(),
        histograms,
    })
}

/// Runs `pace` on its own thread while this one prints progress once a second and at every
/// step change, which `pace` announces on the channel it is given.
fn run_paced<F>(tick: &mut Ticker<'_>, timeline: &mut Vec<SecondReport>, progress: &mut dyn Write, pace: F) -> LoadEnd
where
    F: FnOnce(Sender<Current>) -> LoadEnd + Send,
{
    std::thread::scope(|scope| {
        let (steps_tx, steps_rx) = mpsc::channel::<Current>();
        let pacer =
            std::thread::Builder::new().name("loadgen-pacer".into()).spawn_scoped(scope, move || pace(steps_tx));
        let Ok(pacer) = pacer else { return LoadEnd::default() };
        loop {
            match steps_rx.recv_timeout(tick.due().saturating_duration_since(Instant::now())) {
                Ok(next) => {
                    tick.flush(timeline, progress);
                    tick.current = next;
                }
                Err(RecvTimeoutError::Timeout) => tick.print(timeline, progress),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        pacer.join().unwrap_or_default()
    })
}

fn set_current(current: &Sender<Current>, step: usize, name: &str, rps: f64) {
    let _ = current.send(Current { step: Some(step), name: name.to_string(), records_per_second: rps });
}

/// New segment files, cold caches and idle CPUs make the first second slow: every profile
/// begins with a warm-up step at its first rate, reported on its own row (and in the totals)
/// so that it neither hides nor colours the steps.
fn warm_up(producers: &mut Producers, current: &Sender<Current>, rate: f64, duration: Duration) -> StepPlanRun {
    set_current(current, 0, "warm-up", rate);
    let run = producers.run_step(rate, duration);
    producers.wait_idle_until((Instant::now() + STEP_SETTLE).min(producers.deadline()));
    StepPlanRun { name: "warm-up".into(), warmup: true, run, sustained: None }
}

/// The load is over: enters the drain and waits for the puts in flight until its deadline.
fn end_load(clock: &Clock, producers: &Producers, current: &Sender<Current>, runs: Vec<StepPlanRun>) -> LoadEnd {
    let drain_end = clock.enter(Phase::Drain);
    let _ = current.send(Current { step: None, name: "drain".into(), records_per_second: 0.0 });
    producers.wait_idle_until(drain_end);
    LoadEnd { runs, unanswered: producers.in_flight(), timed_out: producers.timed_out() }
}

/// The max profile: grow the rate while steps are sustained, then bisect between the best
/// sustained rate and the lowest one that was not.
fn ramp(
    producers: &mut Producers,
    current: &Sender<Current>,
    start: f64,
    warmup: Duration,
    step_duration: Duration,
    budget: Duration,
    p99_target_ms: f64,
) -> Vec<StepPlanRun> {
    let deadline = (Instant::now() + budget).min(producers.deadline());
    let mut runs = Vec::new();
    runs.push(warm_up(producers, current, start, warmup));
    let mut rate = start;
    let (mut best, mut fail): (Option<f64>, Option<f64>) = (None, None);
    while Instant::now() + step_duration <= deadline && !producers.stopped() && !producers.exhausted() {
        let name = format!("{:.0}/s", rate);
        set_current(current, runs.len(), &name, rate);
        let run = producers.run_step(rate, step_duration);
        let settled = producers.wait_idle_until((Instant::now() + STEP_SETTLE).min(deadline));
        let m = producers.recorder().step(run.index);
        let p99_ms = LatencySummary::of(&m.ack).map_or(f64::INFINITY, |s| s.p99_ms);
        let sustained = settled
            && run.unsent_requests() == 0
            && m.counts.accepted as f64 >= SUSTAINED_ACCEPTED_SHARE * run.scheduled_records as f64
            && m.counts.failed == 0
            && p99_ms <= p99_target_ms;
        runs.push(StepPlanRun { name, warmup: false, run, sustained: Some(sustained) });
        if sustained {
            best = Some(best.map_or(rate, |b: f64| b.max(rate)));
        } else {
            fail = Some(fail.map_or(rate, |f: f64| f.min(rate)));
        }
        rate = match (best, fail) {
            (Some(b), None) => b * RAMP_FACTOR,
            (None, Some(f)) => f / RAMP_FACTOR,
            (Some(b), Some(f)) if f / b > RAMP_PRECISION => (b * f).sqrt(),
            _ => break,
        };
    }
    runs
}

fn step_report(
    index: usize,
    name: &str,
    run: &StepRun,
    m: &Measure,
    wire_bytes: usize,
    sustained: Option<bool>,
) -> StepReport {
    let secs = run.duration.as_secs_f64();
    let c = m.counts;
    let answered = c.accepted + c.throttled + c.failed;
    StepReport {
        index,
        name: name.to_string(),
        target_records_per_second: crate::stats::round3(run.records_per_second),
        target_mb_per_second: crate::stats::round3(run.records_per_second * wire_bytes as f64 / 1e6),
        duration_seconds: crate::stats::round3(secs),
        requests_scheduled: run.scheduled_requests,
        requests_unsent: run.unsent_requests(),
        counts: c,
        accepted_records_per_second: crate::stats::round3(c.accepted as f64 / secs),
        accepted_mb_per_second: crate::stats::round3(c.accepted_bytes as f64 / secs / 1e6),
        throttle_share: if answered == 0 { 0.0 } else { crate::stats::round3(c.throttled as f64 / answered as f64) },
        put_ack_latency_ms: LatencySummary::of(&m.ack),
        put_to_read_latency_ms: LatencySummary::of(&m.read),
        put_to_push_latency_ms: LatencySummary::of(&m.push),
        put_to_push_p99_by_subscriber: SubscriberSpread::of(&m.push_by_subscriber),
        generator_delay_ms: LatencySummary::of(&m.send),
        warmup: false,
        sustained,
    }
}

fn totals_report(steps: &[StepReport], total: &Measure, wire_bytes: usize) -> StepReport {
    let secs: f64 = steps.iter().map(|s| s.duration_seconds).sum::<f64>().max(1e-9);
    let scheduled_records: f64 = steps.iter().map(|s| s.target_records_per_second * s.duration_seconds).sum();
    let run = StepRun {
        index: usize::MAX,
        records_per_second: scheduled_records / secs,
        scheduled_requests: steps.iter().map(|s| s.requests_scheduled).sum(),
        sent_requests: steps.iter().map(|s| s.requests_scheduled - s.requests_unsent).sum(),
        scheduled_records: scheduled_records as u64,
        duration: Duration::from_secs_f64(secs),
    };
    let mut r = step_report(steps.len(), "total", &run, total, wire_bytes, None);
    r.index = steps.len();
    r
}

/// Feeds the verifier until every sender is gone.
fn verify_events(mut verifier: Verifier, events: Receiver<Event>) -> Verdict {
    for event in events {
        match event {
            Event::Outcomes(outcomes) => {
                for (id, outcome) in outcomes {
                    match outcome {
                        RecordOutcome::Acked { shard, seq } => verifier.acked(id, shard, seq),
                        RecordOutcome::Refused => verifier.refused(id),
                        RecordOutcome::Unknown => verifier.unknown(id),
                    }
                }
            }
            Event::Read { consumer, records } => {
                for (seq, data) in records {
                    verifier.read(consumer, seq, &data);
                }
            }
            Event::ConsumerStopped { consumer, why } => verifier.consumer_stopped_early(consumer, why),
            Event::End => break,
        }
    }
    verifier.finish()
}

/// Prints a progress line at every whole second after the epoch (and at phase changes) and
/// keeps the timeline.
struct Ticker<'a> {
    epoch: Instant,
    /// The next tick, in whole seconds after the epoch.
    next: u64,
    /// The end of the last window.
    last: Instant,
    recorder: &'a Recorder,
    current: Current,
    quiet: bool,
    /// Which readers run: their columns of the progress line.
    polled: bool,
    pushed: bool,
}

impl Ticker<'_> {
    fn due(&self) -> Instant {
        self.epoch + Duration::from_secs(self.next)
    }

    /// Waits `at_most`, then prints if a tick came.
    fn wait_and_print(&mut self, timeline: &mut Vec<SecondReport>, progress: &mut dyn Write, at_most: Duration) {
        let due = self.due();
        std::thread::sleep(due.saturating_duration_since(Instant::now()).min(at_most));
        if Instant::now() >= due {
            self.print(timeline, progress);
        }
    }

    /// Ends the current window now (a phase change), unless it is too short to say anything:
    /// then it carries on into the next window.
    fn flush(&mut self, timeline: &mut Vec<SecondReport>, progress: &mut dyn Write) {
        if self.last.elapsed() >= WINDOW_MIN {
            self.print(timeline, progress);
        }
    }

    /// Ends the last window, however short, so that the timeline covers the drain and its
    /// counts add up to the run's totals.
    fn finish(&mut self, timeline: &mut Vec<SecondReport>, progress: &mut dyn Write) {
        self.print(timeline, progress);
    }

    fn print(&mut self, timeline: &mut Vec<SecondReport>, progress: &mut dyn Write) {
        let w = self.recorder.take_window();
        let now = Instant::now();
        let window_secs = now.saturating_duration_since(self.last).as_secs_f64().max(1e-3);
        self.last = now;
        let t = now.saturating_duration_since(self.epoch).as_secs_f64();
        // The next whole second that leaves a window of at least WINDOW_MIN.
        self.next = (t + WINDOW_MIN.as_secs_f64()).ceil() as u64;
        let cur = self.current.clone();
        let ack = LatencySummary::of(&w.ack);
        let read = LatencySummary::of(&w.read);
        let push = LatencySummary::of(&w.push);
        let c = w.counts;
        let second = SecondReport {
            t: crate::stats::round3(t),
            step: cur.step,
            target_records_per_second: crate::stats::round3(cur.records_per_second),
            accepted_records: c.accepted,
            accepted_mb: crate::stats::round3(c.accepted_bytes as f64 / 1e6),
            throttled_records: c.throttled,
            failed_records: c.failed,
            read_records: c.read_records,
            read_throttled_calls: c.read_throttled_calls,
            pushed_records: c.pushed_records,
            window_seconds: crate::stats::round3(window_secs),
            put_ack_latency_ms: ack,
            put_to_read_latency_ms: read,
            put_to_push_latency_ms: push,
        };
        if !self.quiet {
            let ms = |v: Option<LatencySummary>| v.map_or("-".to_string(), |v| format!("{:.1} ms", v.p99_ms));
            let mut line = format!(
                "{:>6.1}s  {:<10} target {:>8.0}/s | accepted {:>8.0}/s {:>7.2} MB/s | throttled {:>6.0}/s | put p99 {:>9}",
                t,
                cur.name,
                cur.records_per_second,
                c.accepted as f64 / window_secs,
                c.accepted_bytes as f64 / window_secs / 1e6,
                c.throttled as f64 / window_secs,
                ms(ack),
            );
            if self.polled {
                let rate = c.read_records as f64 / window_secs;
                line.push_str(&format!(" | read {rate:>8.0}/s p99 {:>9}", ms(read)));
            }
            if self.pushed {
                let rate = c.pushed_records as f64 / window_secs;
                line.push_str(&format!(" | push {rate:>8.0}/s p99 {:>9}", ms(push)));
            }
            let _ = writeln!(progress, "{line}");
        }
        timeline.push(second);
    }
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::ConsumerId;

    /// Records read just before the run ends (less than WINDOW_MIN after the last tick) are in
    /// the timeline too: a flush would carry them into a window that never comes.
    #[test]
    fn the_last_short_window_is_in_the_timeline() {
        let epoch = Instant::now();
        let recorder = Recorder::new(epoch);
        let mut tick = Ticker {
            epoch,
            next: 1,
            last: Instant::now(),
            recorder: &recorder,
            current: Current::default(),
            quiet: true,
            polled: true,
            pushed: false,
        };
        let mut timeline = Vec::new();
        recorder.reads(ConsumerId::polled(0, 0), &[0, 0, 0], 30, Instant::now());
        tick.flush(&mut timeline, &mut std::io::sink());
        assert!(timeline.is_empty(), "too short a window carries on");
        tick.finish(&mut timeline, &mut std::io::sink());
        assert_eq!(timeline.iter().map(|s| s.read_records).sum::<u64>(), 3);
    }
}
