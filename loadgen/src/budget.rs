//! The run's time bound: every profile ends within a budget printed at start, even against a
//! server that accepts connections and never answers, or answers and then stops.
//!
//! # The bound
//! A run has four phases, each with its share of the bound, plus a margin:
//!
//! * `setup`, [`SETUP_BUDGET`]: the embedded server's start, connections, CreateStream until
//!   ACTIVE, ListShards, shard iterators, fan-out registration.
//! * `load`, the schedule: warm-up + [`STEP_SETTLE`] + steps (in max, `--duration`, which holds
//!   its warm-up, steps and the waits between them): the pacer, in-flight slots, the waits for
//!   puts in flight between steps.
//! * `drain`, `--drain-timeout`: puts still in flight, then readers catching up to their shard's
//!   last acknowledged record.
//! * `teardown`, [`TEARDOWN_BUDGET`]: fan-out deregistration, DeleteStream, the embedded
//!   server's shutdown.
//! * the margin, [`MARGIN`]: the verdict and the report.
//!
//! The bound is their sum, so a user who asks for a longer `--duration` or `--drain-timeout`
//! gets a bound longer by as much. [`Budget::explain`] prints how it was derived.
//!
//! # Deadlines
//! One clock ([`Clock`]) holds the bound's end. A phase's deadline is the earlier of its start
//! plus its budget and the bound's end less the budgets of the phases after it: a phase that
//! ends early leaves its time unused, and one that runs late cannot eat into the phases after
//! it. Every wait derives its timeout from the phase deadline: a call to the server races it
//! ([`call`]), a connection attempt is cut to what is left ([`connect`]), and work that cannot
//! be interrupted (the embedded server's start and shutdown, name resolution) runs on a thread
//! of its own that is waited for until the deadline and then left behind ([`run_until`]).
//! Threads left behind (a reader in a call, a put in flight) end on their own within
//! [`REQUEST_TIMEOUT`]; nothing waits for them. What a race cannot cut short is the client's
//! own blocking inside a poll: a socket write (at most [`REQUEST_TIMEOUT`], and the run's calls
//! on the main thread are small) and a reconnect (at most [`CONNECT_TIMEOUT`]); a phase that
//! overruns by that much takes it from the phases after it, never from the bound.
//!
//! A phase that runs out of time ends the run with a failure that says what stalled and what
//! was therefore not verified ([`Phase::unverified`]). The binary's watchdog ([`watchdog`]) is
//! the backstop for what no deadline reaches: at the bound's end it says which phase the run
//! was in and exits with status 1.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use shoal_protocol::client::{Client, ClientConfig, ClientError, RetryPolicy};

use crate::cli::{Plan, Schedule};

/// Setup's share: a healthy server (local or across a network) does all of it in well under a
/// second, the embedded server's start included.
pub const SETUP_BUDGET: Duration = Duration::from_secs(5);
/// The longest wait for in-flight puts to finish between two steps (after the warm-up, and
/// between the max profile's steps), so that one step's latecomers are not measured in the
/// next. Healthy puts take milliseconds; past this the next step starts anyway.
pub const STEP_SETTLE: Duration = Duration::from_secs(2);
/// Teardown's share: a few small calls and an fsync per shard of the embedded server.
pub const TEARDOWN_BUDGET: Duration = Duration::from_secs(3);
/// Left after teardown for the verdict and the report; the watchdog fires at its end.
pub const MARGIN: Duration = Duration::from_secs(2);
/// How long one request waits for its answer (and one socket write may block). A healthy
/// server answers in milliseconds; an answer this late is a stall, and the request fails
/// with its outcome unknown.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one TCP connect may take, at most (less when the phase has less left).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The end of the drain this close to its deadline is left to readers to notice the deadline
/// and stop, so that they are done by it (half the drain at most).
pub const READER_STOP: Duration = Duration::from_secs(1);

/// The parts of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Setup,
    Load,
    Drain,
    Teardown,
    /// The verdict is in; nothing waits any more.
    Done,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Load => "load",
            Phase::Drain => "drain",
            Phase::Teardown => "teardown",
            Phase::Done => "report",
        }
    }

    /// What a stall in this phase leaves unverified.
    pub fn unverified(self) -> &'static str {
        match self {
            Phase::Setup => "no load was run and nothing was verified",
            Phase::Load | Phase::Drain => "records written were not all verified",
            Phase::Teardown | Phase::Done => {
                "the load and verification were over; cleanup did not finish (the stream or the \
                 embedded server's data directory may be left behind)"
            }
        }
    }
}

/// Each phase's share of the bound (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub setup: Duration,
    /// The schedule's time, waits between steps included.
    pub load: Duration,
    pub drain: Duration,
    pub teardown: Duration,
    pub margin: Duration,
    /// The load's parts, for [`Budget::explain`]: (warm-up, settle after it, steps).
    load_parts: (Duration, Duration, Duration),
}

impl Budget {
    pub fn for_plan(plan: &Plan) -> Budget {
        let warmup = plan.schedule.warmup();
        let load_parts = match &plan.schedule {
            Schedule::Steps { rates, step_duration } => {
                (warmup, STEP_SETTLE, step_duration.saturating_mul(rates.len() as u32))
            }
            // The ramp fits its warm-up, its steps and the waits between them into --duration.
            Schedule::Ramp { budget, .. } => (warmup, Duration::ZERO, budget.saturating_sub(warmup)),
        };
        Budget {
            setup: SETUP_BUDGET,
            load: load_parts.0 + load_parts.1 + load_parts.2,
            drain: plan.drain_timeout,
            teardown: TEARDOWN_BUDGET,
            margin: MARGIN,
            load_parts,
        }
    }

    /// The bound: every phase's budget and the margin.
    pub fn total(&self) -> Duration {
        self.setup + self.load + self.drain + self.teardown + self.margin
    }

    pub fn of(&self, phase: Phase) -> Duration {
        match phase {
            Phase::Setup => self.setup,
            Phase::Load => self.load,
            Phase::Drain => self.drain,
            Phase::Teardown => self.teardown,
            Phase::Done => self.margin,
        }
    }

    /// How the bound is derived, in one line.
    pub fn explain(&self) -> String {
        let (warmup, settle, steps) = self.load_parts;
        let settle = if settle.is_zero() { String::new() } else { format!(" + settle {}", secs(settle)) };
        format!(
            "time bound {}: setup {} + load {} (warm-up {}{settle} + steps {}) + drain {} (--drain-timeout) + \
             teardown {} + margin {}",
            secs(self.total()),
            secs(self.setup),
            secs(self.load),
            secs(warmup),
            secs(steps),
            secs(self.drain),
            secs(self.teardown),
            secs(self.margin),
        )
    }
}

/// `12 s`, `1.5 s`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// The run's bound and the phase it is in, shared by the run and the watchdog.
#[derive(Debug)]
pub struct Clock {
    budget: Budget,
    start: Instant,
    end: Instant,
    /// The current phase, when it began and its deadline.
    state: Mutex<(Phase, Instant, Instant)>,
}

impl Clock {
    /// Starts the bound now, in the setup phase.
    pub fn start(budget: Budget) -> Clock {
        let start = Instant::now();
        let end = start + budget.total();
        let mut clock = Clock { budget, start, end, state: Mutex::new((Phase::Setup, start, start)) };
        let deadline = clock.deadline_for(Phase::Setup, start);
        clock.state = Mutex::new((Phase::Setup, start, deadline));
        clock
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The bound's end: the watchdog fires here.
    pub fn end(&self) -> Instant {
        self.end
    }

    /// Moves on to `phase` and returns its deadline: its budget from now, but never past the
    /// bound's end less the budgets of the phases after it. Entering the current phase again
    /// (or an earlier one) changes nothing and returns the current deadline.
    pub fn enter(&self, phase: Phase) -> Instant {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if phase <= state.0 {
            return state.2;
        }
        let now = Instant::now();
        let deadline = self.deadline_for(phase, now);
        *state = (phase, now, deadline);
        deadline
    }

    fn deadline_for(&self, phase: Phase, now: Instant) -> Instant {
        let later: Duration = [Phase::Load, Phase::Drain, Phase::Teardown, Phase::Done]
            .into_iter()
            .filter(|&p| p > phase)
            .map(|p| self.budget.of(p))
            .sum();
        let latest = self.end.checked_sub(later).unwrap_or(self.start).max(self.start);
        (now + self.budget.of(phase)).min(latest)
    }

    pub fn phase(&self) -> Phase {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    /// The current phase's deadline.
    pub fn deadline(&self) -> Instant {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).2
    }

    /// Seconds since the run began.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// The backstop: a thread that, if the run is not done by the bound's end, says which phase it
/// was in and what that leaves unverified, and exits the process with status 1. For the
/// binary only: a library must not end its caller's process.
pub fn watchdog(clock: Arc<Clock>) -> std::io::Result<()> {
    std::thread::Builder::new().name("loadgen-watchdog".into()).spawn(move || loop {
        let left = clock.end().saturating_duration_since(Instant::now());
        if !left.is_zero() {
            std::thread::sleep(left);
            continue;
        }
        let phase = clock.phase();
        if phase == Phase::Done {
            return;
        }
        eprintln!(
            "shoal-loadgen: stalled: the run reached its time bound of {} in the {} phase; {}. Exiting \
             without a report.",
            secs(clock.budget().total()),
            phase.name(),
            phase.unverified(),
        );
        std::process::exit(1);
    })?;
    Ok(())
}

/// Polls `future` on this thread until it completes, or gives up at `deadline` (`None`). The
/// future is dropped then; a request in it stops waiting for its answer.
///
/// The thread parks with a timeout between polls and the future's waker unparks it: no timer
/// per wait. (A `futures-timer` delay raced against each wait woke the timer thread twice per
/// wait: for 20 fan-out subscribers, 40 more wake-ups of one more thread on every pushed event.)
pub fn block_on_until<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        // A wake before this park leaves the token set: the park returns at once.
        std::thread::park_timeout(deadline - now);
    }
}

/// Wakes a thread blocked in [`block_on_until`].
struct Unparker(std::thread::Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// A stall of `phase`: what stalled, and what that leaves unverified.
pub fn stalled(phase: Phase, what: &str) -> String {
    format!("stalled in {}: {what}; {}", phase.name(), phase.unverified())
}

/// `what` got no answer in `waited`.
pub fn no_answer(what: &str, waited: Duration) -> String {
    format!("{what} got no answer in {:.1} s", waited.as_secs_f64())
}

/// Why a call to the server came to nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No answer in time: [`stalled`] says what and where.
    Stalled(String),
    /// An error answer, or a connection that failed.
    Failed(String),
}

impl From<CallError> for String {
    fn from(e: CallError) -> String {
        match e {
            CallError::Stalled(m) | CallError::Failed(m) => m,
        }
    }
}

/// A call to the server that must be answered by `deadline`. A call that times out (here or by
/// the client's [`REQUEST_TIMEOUT`]) is a stall of `phase`; other errors say `what` failed.
pub fn call<T>(
    phase: Phase,
    deadline: Instant,
    what: &str,
    future: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, CallError> {
    answer(phase, deadline, what, future)?.map_err(|e| CallError::Failed(format!("{what}: {e}")))
}

/// Like [`call`], but leaves the server's error answers to the caller: `Err` is a stall only.
pub fn answer<T>(
    phase: Phase,
    deadline: Instant,
    what: &str,
    future: impl Future<Output = Result<T, ClientError>>,
) -> Result<Result<T, ClientError>, CallError> {
    let started = Instant::now();
    match block_on_until(deadline, future) {
        Some(Err(ClientError::Timeout(_))) | None => {
            Err(CallError::Stalled(stalled(phase, &no_answer(what, started.elapsed()))))
        }
        Some(answered) => Ok(answered),
    }
}

/// The run's client settings: [`CONNECT_TIMEOUT`], [`REQUEST_TIMEOUT`] and `retry`.
pub fn client_config(retry: RetryPolicy) -> ClientConfig {
    ClientConfig {
        connect_timeout: CONNECT_TIMEOUT,
        request_timeout: REQUEST_TIMEOUT,
        retry,
        ..ClientConfig::default()
    }
}

/// Connects within what is left until `deadline` (and [`CONNECT_TIMEOUT`] at most); `who`
/// names the connection in the error.
pub fn connect(addr: SocketAddr, mut config: ClientConfig, deadline: Instant, who: &str) -> Result<Client, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(format!("{who} cannot connect to {addr}: no time left"));
    }
    // Zero would mean the operating system's own timeout.
    config.connect_timeout = config.connect_timeout.min(left).max(Duration::from_millis(1));
    Client::connect(addr, config).map_err(|e| format!("{who} cannot connect to {addr}: {e}"))
}

/// Runs `work` on a thread of its own and waits for it until `deadline`: `None` if it has not
/// returned by then (it goes on, and its result is dropped when it does).
pub fn run_until<T: Send + 'static>(
    name: &str,
    deadline: Instant,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<Option<T>> {
    let (done, result) = mpsc::sync_channel(1);
    std::thread::Builder::new().name(name.into()).spawn(move || {
        let _ = done.send(work());
    })?;
    Ok(result.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Profile};
    use clap::Parser;

    fn budget(args: &[&str]) -> Budget {
        let mut argv = vec!["shoal-loadgen"];
        argv.extend_from_slice(args);
        let plan = Plan::from_cli(Cli::try_parse_from(argv).expect("arguments")).expect("plan");
        Budget::for_plan(&plan)
    }

    #[test]
    fn every_profile_is_bounded_under_a_minute_by_default() {
        for profile in [Profile::Default, Profile::Limits, Profile::Max, Profile::Fanout] {
            let b = budget(&["--profile", profile.name()]);
            assert!(b.total() < Duration::from_secs(60), "{}: {}", profile.name(), b.explain());
        }
        let b = budget(&[]);
        // warm-up 1 s + settle 2 s + 10 s.
        assert_eq!(b.load, Duration::from_secs(13), "{}", b.explain());
        assert_eq!(b.total(), Duration::from_secs(5 + 13 + 10 + 3 + 2));
        assert_eq!(budget(&["--profile", "max"]).load, Duration::from_secs(36), "the ramp fits in --duration");
    }

    #[test]
    fn the_help_states_each_profiles_bound() {
        let help = crate::cli::PROFILES.split_whitespace().collect::<Vec<_>>().join(" ");
        for profile in [Profile::Default, Profile::Limits, Profile::Max, Profile::Fanout] {
            let bound = format!("{} {}", profile.name(), secs(budget(&["--profile", profile.name()]).total()));
            assert!(help.contains(&bound), "--help should say \"{bound}\"");
        }
        for part in [SETUP_BUDGET, TEARDOWN_BUDGET, MARGIN, STEP_SETTLE] {
            assert!(help.contains(&secs(part)), "{}", secs(part));
        }
    }

    #[test]
    fn a_longer_run_gets_a_bound_longer_by_as_much() {
        let base = budget(&[]).total();
        assert_eq!(budget(&["--duration", "70s"]).total(), base + Duration::from_secs(60));
        assert_eq!(budget(&["--drain-timeout", "25s"]).total(), base + Duration::from_secs(15));
        let limits = budget(&["--profile", "limits"]).total();
        assert_eq!(budget(&["--profile", "limits", "--duration", "48s"]).total(), limits + Duration::from_secs(24));
        let b = budget(&["--duration", "70s"]);
        assert!(b.explain().starts_with("time bound 93 s: "), "{}", b.explain());
        assert!(b.explain().contains("steps 70 s"), "{}", b.explain());
    }

    #[test]
    fn a_phase_never_eats_into_the_budgets_after_it() {
        let clock = Clock::start(budget(&["--duration", "2s", "--drain-timeout", "2s"]));
        let b = *clock.budget();
        let setup = clock.deadline();
        assert!(setup <= clock.end() - (b.load + b.drain + b.teardown + b.margin));
        let drain = clock.enter(Phase::Drain);
        assert!(drain <= Instant::now() + b.drain);
        assert!(drain <= clock.end() - (b.teardown + b.margin));
        assert_eq!(clock.phase(), Phase::Drain);
        assert_eq!(clock.enter(Phase::Load), drain, "never back");
        assert_eq!(clock.enter(Phase::Drain), drain, "entered once");
        assert_eq!(clock.phase(), Phase::Drain);
    }

    #[test]
    fn a_future_that_never_completes_is_given_up_at_the_deadline() {
        let never = futures::future::pending::<()>();
        assert_eq!(block_on_until(Instant::now() + Duration::from_millis(20), never), None);
        assert_eq!(block_on_until(Instant::now(), async { 7 }), Some(7), "a ready future still completes");
        let e = call::<()>(Phase::Setup, Instant::now() + Duration::from_millis(20), "CreateStream s", async {
            futures::future::pending().await
        })
        .map_err(String::from)
        .expect_err("stalled");
        assert!(e.starts_with("stalled in setup: CreateStream s got no answer in"), "{e}");
        assert!(e.ends_with("nothing was verified"), "{e}");
        let late = run_until("test-late", Instant::now() + Duration::from_millis(20), || {
            std::thread::sleep(Duration::from_millis(500));
        });
        assert!(matches!(late, Ok(None)));
        assert!(matches!(run_until("test-quick", Instant::now() + Duration::from_secs(5), || 3), Ok(Some(3))));
    }
}
