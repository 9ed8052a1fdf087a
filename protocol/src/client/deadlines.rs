//! Request timeouts without a timer per request.
//!
//! A timer per request (a `futures-timer` `Delay` raced against the answer) woke the timer
//! thread twice per request, once to arm it and once to cancel it: at 20,000 PutRecords/s
//! that was 40,000 wake-ups a second of a thread competing with the server for the same
//! CPUs. Instead every pending request carries its deadline, and one process-wide sweeper
//! thread looks at the connections' pending requests every [`SWEEP_INTERVAL`] and fails
//! those past their deadline with [`ClientError::Timeout`](crate::client::ClientError).
//! A request therefore times out between its timeout and one interval later.
//!
//! The sweeper runs apart from the connections' reader threads on purpose: a reader can be
//! held for as long as a slow subscriber takes (see `connection.rs`, back-pressure), and the
//! other requests on that connection must still time out. It parks while no connection is
//! watched.

use std::sync::{Mutex, OnceLock, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::client::connection::{lock, Shared};

/// How often the sweeper looks for requests past their deadline: the most a timeout can be
/// late.
pub(crate) const SWEEP_INTERVAL: Duration = Duration::from_millis(20);

struct Sweeper {
    watched: Mutex<Vec<Weak<Shared>>>,
    thread: Thread,
}

static SWEEPER: OnceLock<Option<Sweeper>> = OnceLock::new();

/// Times out `shared`'s pending requests from now on, for as long as it lives. Returns false
/// when the sweeper thread could not be started (then nothing times out: the caller fails).
pub(crate) fn watch(shared: Weak<Shared>) -> bool {
    let Some(sweeper) = SWEEPER.get_or_init(start) else { return false };
    lock(&sweeper.watched).push(shared);
    sweeper.thread.unpark();
    true
}

fn start() -> Option<Sweeper> {
    let spawned = std::thread::Builder::new().name("shoal-client-deadlines".into()).spawn(sweep_forever);
    match spawned {
        Ok(handle) => Some(Sweeper { watched: Mutex::new(Vec::new()), thread: handle.thread().clone() }),
        Err(e) => {
            tracing::warn!(error = %e, "could not start the client's timeout thread");
            None
        }
    }
}

fn sweep_forever() {
    // The thread can run before `start` returns: wait for the sweeper to exist.
    let sweeper = loop {
        match SWEEPER.get() {
            Some(Some(sweeper)) => break sweeper,
            _ => std::thread::park_timeout(SWEEP_INTERVAL),
        }
    };
    loop {
        let idle = {
            let now = Instant::now();
            let mut watched = lock(&sweeper.watched);
            watched.retain(|shared| match shared.upgrade() {
                Some(shared) => {
                    shared.expire(now);
                    true
                }
                None => false,
            });
            watched.is_empty()
        };
        if idle {
            // `watch` unparks; a wake-up without a new connection just sweeps nothing.
            std::thread::park();
        } else {
            std::thread::sleep(SWEEP_INTERVAL);
        }
    }
}
