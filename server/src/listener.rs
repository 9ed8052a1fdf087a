//! One accept loop per core. All cores listen on the same address
//! (glommio sets SO_REUSEPORT, so the kernel spreads connections); core 0
//! binds first so that port 0 resolves to one port for everyone.
//!
//! A connection is served by the core its client port hashes to
//! (PROTOCOL.md §3.4): the core that accepts it hands it, before reading a
//! byte, to that core. A shard-aware client picks its local port so that its
//! connection lands on the core owning the shards it talks to, and skips a
//! cross-core forward per request; other clients' ports spread evenly.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{select, Either};
use glommio::net::{TcpListener, TcpStream};
use glommio::sync::Gate;
use shoal_engine::CoreApi;

use crate::connection;
use crate::dispatch::Context;
use crate::log_limit::LogLimit;
use crate::secret::Key;

/// How long a core waits after a failed accept before it accepts again.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);
/// At most one "accept failed" warning per core this often (with the count held back).
const ACCEPT_WARN_INTERVAL: Duration = Duration::from_secs(10);

/// What a core's listener needs from the server that started it.
pub struct CoreSetup {
    pub listen: SocketAddr,
    pub key: Key,
    pub subscription_lifetime_ms: u64,
    /// Core 0 sends the bound address here once per other core and once
    /// for the starter; the others receive it here.
    pub bound_tx: flume::Sender<SocketAddr>,
    pub bound_rx: flume::Receiver<SocketAddr>,
    /// Listening (or why not), once per core.
    pub ready: flume::Sender<Result<SocketAddr, String>>,
    /// Fires when the server shuts down.
    pub stop: flume::Receiver<()>,
    /// Told once every connection of this core has finished.
    pub drained: flume::Sender<usize>,
    /// Connections for each core, by core id (this core's own included):
    /// the socket's descriptor, closed if it is never served.
    pub handoff: Vec<flume::Sender<OwnedFd>>,
    /// Connections other cores accepted for this one.
    pub handed: flume::Receiver<OwnedFd>,
}

/// The core that serves a connection from `peer` (PROTOCOL.md §3.4).
fn serving_core(peer: SocketAddr, cores: usize) -> usize {
    let cores = u16::try_from(cores).unwrap_or(u16::MAX).max(1);
    usize::from(shoal_protocol::ops::serving_core(peer.port(), cores))
}

pub async fn run(api: CoreApi, setup: CoreSetup) {
    let core = api.core_id();
    let addr = if core == 0 {
        setup.listen
    } else {
        match setup.bound_rx.recv_async().await {
            Ok(a) => a,
            Err(_) => return,
        }
    };
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            let _ = setup.ready.send(Err(format!("core {core} cannot listen on {addr}: {e}")));
            return;
        }
    };
    let bound = listener.local_addr().unwrap_or(addr);
    if core == 0 {
        for _ in 0..api.cores() {
            let _ = setup.bound_tx.send(bound);
        }
    }
    let _ = setup.ready.send(Ok(bound));
    tracing::debug!(core, %bound, "listening");

    let ctx = Rc::new(Context { api, key: setup.key, subscription_lifetime_ms: setup.subscription_lifetime_ms });
    let connections = Connections { ctx, gate: Gate::new(), stops: RefCell::default() };
    let cores = setup.handoff.len();
    let mut stop = std::pin::pin!(setup.stop.recv_async());
    // Both futures live across iterations: an accept (or receive) dropped
    // half-way could lose a connection.
    // A failing accept (out of descriptors) fails again at every retry: one line per interval.
    let (mut accept_errors, started) = (LogLimit::new(ACCEPT_WARN_INTERVAL), std::time::Instant::now());
    let mut accept: Pin<Box<dyn Future<Output = glommio::Result<TcpStream, ()>> + '_>> = Box::pin(listener.accept());
    let mut handed = Box::pin(setup.handed.recv_async());
    loop {
        match select(select(accept.as_mut(), handed.as_mut()), stop.as_mut()).await {
            Either::Left((Either::Left((accepted, _)), _)) => {
                accept = match &accepted {
                    Ok(_) => Box::pin(listener.accept()),
                    // Out of descriptors, say: pause, rather than spin on an
                    // error that the next call would return again at once.
                    Err(_) => Box::pin(async {
                        glommio::timer::sleep(ACCEPT_RETRY_DELAY).await;
                        listener.accept().await
                    }),
                };
                match accepted {
                    Ok(stream) => {
                        let target = stream.peer_addr().map_or(core, |peer| serving_core(peer, cores));
                        if target == core {
                            connections.serve(stream);
                        } else if let Some(stream) = hand_over(stream, &setup.handoff[target]) {
                            connections.serve(stream);
                        }
                    }
                    Err(e) => {
                        if let Some(held_back) = accept_errors.admit(started.elapsed().as_millis() as u64) {
                            tracing::warn!(core, error = %e, held_back, "accept failed");
                        }
                    }
                }
            }
            Either::Left((Either::Right((handed_over, _)), _)) => {
                handed = Box::pin(setup.handed.recv_async());
                if let Ok(fd) = handed_over {
                    // SAFETY: `fd` is a connected TCP socket that another core
                    // accepted and gave up (it closed its own descriptor).
                    connections.serve(unsafe { TcpStream::from_raw_fd(fd.into_raw_fd()) });
                }
            }
            Either::Right(_) => break,
        }
    }
    // Stop accepting (connections handed over but not served yet are
    // closed), then let every connection finish what it started.
    drop(accept);
    drop(listener);
    drop(handed);
    setup.handed.drain().for_each(drop);
    for s in connections.stops.borrow_mut().drain(..) {
        let _ = s.send(());
    }
    let _ = connections.gate.close().await;
    let _ = setup.drained.send(core);
}

/// Sends a just-accepted connection to the core that serves it, as a
/// duplicate of its descriptor (this core's copy closes with `stream`).
/// Returns the stream when it cannot be handed over, for this core to serve.
fn hand_over(stream: TcpStream, to: &flume::Sender<OwnedFd>) -> Option<TcpStream> {
    // SAFETY: the descriptor stays open while `stream` lives, across this borrow.
    let fd = match unsafe { BorrowedFd::borrow_raw(stream.as_raw_fd()) }.try_clone_to_owned() {
        Ok(fd) => fd,
        Err(e) => {
            tracing::debug!(error = %e, "cannot duplicate a connection's descriptor; serving it here");
            return Some(stream);
        }
    };
    // Only a stopped core refuses: then the connection closes with the server.
    drop(stream);
    let _ = to.send(fd);
    None
}

/// The connections a core serves, and how to stop them.
struct Connections {
    ctx: Rc<Context>,
    gate: Gate,
    stops: RefCell<Vec<oneshot::Sender<()>>>,
}

impl Connections {
    fn serve(&self, stream: TcpStream) {
        let (tx, rx) = oneshot::channel();
        {
            let mut stops = self.stops.borrow_mut();
            stops.retain(|s| !s.is_canceled()); // forget finished connections
            stops.push(tx);
        }
        // Fails only once the gate is closed, after the accept loop ended.
        if let Ok(task) = self.gate.spawn(connection::serve(stream, self.ctx.clone(), rx)) {
            task.detach();
        }
    }
}
