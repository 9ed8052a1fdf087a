//! The Prometheus endpoint: `GET /metrics` over HTTP on its own address
//! (`ServerConfig::metrics`), served by one plain thread.
//!
//! # Why a thread and a hand-written HTTP/1.1
//! Scrapes come seconds apart and want one page; a thread blocking on
//! `accept` costs nothing between them and keeps HTTP off the cores that
//! serve records. The HTTP needed (one GET, `Connection: close`) is ~150
//! lines whose every limit is visible here ([`http`]); an HTTP crate would
//! bring more code than it saves, and more input handling to trust.
//! Connections are served one at a time, each bounded in bytes and time,
//! so a misbehaving client can delay a scrape by at most a few seconds and
//! never grow memory.
//!
//! # Consistency and cost
//! A scrape asks every core for its snapshot ([`Engine::metrics`]); each
//! core answers between two of its tasks, so its numbers agree with each
//! other. Cores are asked in parallel, not at one instant: a record moving
//! through two cores during a scrape may show on one side only. Counting
//! itself is per-core and lock-free (see `shoal_engine::metrics`); request
//! counts are recorded where requests are dispatched ([`note_request`]).
//!
//! # Layout
//! * [`render`]: the snapshot as text exposition, with every family's help.
//! * [`parse`]: a strict parser of that format (for `shoal stats` and tests).
//! * [`http`]: request heads and responses.

pub mod http;
pub mod parse;
pub mod render;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shoal_engine::{CoreApi, Engine};
use shoal_protocol::ops::Opcode;
use shoal_protocol::Status;

use http::Response;

/// The path served.
pub const PATH: &str = "/metrics";

/// A running endpoint; stops when dropped.
pub struct MetricsEndpoint {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsEndpoint {
    /// Binds the address (port 0 picks one); fails at once if it is taken.
    pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
        TcpListener::bind(addr)
    }

    /// Serves scrapes of `engine` on `listener` from a new thread.
    pub fn start(listener: TcpListener, engine: Engine) -> std::io::Result<MetricsEndpoint> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new().name("shoal-metrics".into()).spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::Acquire) {
                    break;
                }
                match conn {
                    Ok(stream) => http::serve(stream, |method, path| route(&engine, method, path)),
                    Err(e) => {
                        tracing::debug!(error = %e, "metrics: accept failed");
                        // Out of descriptors, for example: do not spin.
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        })?;
        Ok(MetricsEndpoint { addr, stop, thread: Some(thread) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the thread (a scrape in progress
    /// finishes first).
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept with a connection of our own.
        let wake = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), self.addr.port()),
            IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), self.addr.port()),
            _ => self.addr,
        };
        match TcpStream::connect_timeout(&wake, Duration::from_secs(1)) {
            Ok(_) => {
                let _ = thread.join();
            }
            // Leave the thread blocked in accept rather than hang here; it
            // exits with the process.
            Err(e) => tracing::warn!(error = %e, addr = %wake, "metrics endpoint did not stop"),
        }
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        self.shut();
    }
}

fn route(engine: &Engine, method: &str, path: &str) -> Response {
    if path != PATH {
        return Response::error(404);
    }
    if method != "GET" && method != "HEAD" {
        return Response::error(405);
    }
    match futures::executor::block_on(engine.metrics()) {
        Ok(snapshot) => Response { status: 200, content_type: render::CONTENT_TYPE, body: render::render(&snapshot) },
        Err(e) => {
            tracing::debug!(error = %e, "metrics: scrape failed");
            Response::error(503)
        }
    }
}

/// Counts a request on the core that served it: its operation, outcome
/// (`ok` or the error's name) and the time since `started`.
pub fn note_request(api: &CoreApi, opcode: Opcode, failure: Option<Status>, started: Instant) {
    let outcome = failure.map_or("ok", Status::name);
    api.metrics().requests.record(opcode as u16, opcode.name(), outcome, started.elapsed());
}
