//! Starting and stopping a server: the engine, one listener per core, and
//! a graceful shutdown (stop accepting, finish in-flight requests, sync).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shoal_engine::runtime::RecoveryReports;
use shoal_engine::{CoreApi, CoreHook, Engine, EngineConfig, EngineError};

use crate::listener::{self, CoreSetup};
use crate::metrics::MetricsEndpoint;
use crate::secret;

/// How long `start` waits for every core to listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the check for another server on the listen address waits for
/// an answer (a local listener answers at once).
const LISTEN_PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Probes of the listen address before another server is assumed there, and
/// the pause between them: a listener must keep accepting for ~0.5 s.
const LISTEN_PROBE_ATTEMPTS: u32 = 6;
const LISTEN_PROBE_PAUSE: Duration = Duration::from_millis(100);

/// Where `shoal serve` keeps its data unless told otherwise.
pub const DATA_DIR_DEFAULT: &str = "./shoal-data";

/// Where `shoal serve` listens, and client commands connect, unless told otherwise.
pub const LISTEN_DEFAULT: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7070));

/// Everything `shoal serve` can be told. [`ServerConfig::default`] holds the
/// defaults of `shoal serve`: the config file and the flags only change them.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub engine: EngineConfig,
    /// Port 0 picks a free port (see [`Server::local_addr`]).
    pub listen: SocketAddr,
    /// Where to serve Prometheus metrics over HTTP; `None` (the default) serves none.
    pub metrics: Option<SocketAddr>,
}

impl ServerConfig {
    pub fn new(data_dir: impl Into<std::path::PathBuf>, listen: SocketAddr) -> Self {
        Self { engine: EngineConfig::new(data_dir), listen, metrics: None }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self::new(DATA_DIR_DEFAULT, LISTEN_DEFAULT)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("cannot use {addr}: {source} (is another server running there?)")]
    AddressInUse {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server key in {path}: {source}")]
    Key {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("listener failed: {0}")]
    Listen(String),
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running server.
pub struct Server {
    engine: Engine,
    addr: SocketAddr,
    stops: Vec<flume::Sender<()>>,
    drained: flume::Receiver<usize>,
    metrics: Option<MetricsEndpoint>,
}

impl Server {
    /// Recovers the data directory, starts the engine and listens on every
    /// core. Returns once every core accepts connections.
    pub fn start(config: ServerConfig) -> Result<Server, ServerError> {
        // glommio listeners set SO_REUSEPORT, so a stale server on the same
        // port would silently share connections with this one: refuse to
        // start if anything accepts a connection there.
        if config.listen.port() != 0 {
            refuse_if_listened(config.listen)?;
        }
        // Bound before recovery, so that a taken port fails at once.
        let metrics_listener = match config.metrics {
            Some(addr) => Some(MetricsEndpoint::bind(addr).map_err(|source| ServerError::Metrics { addr, source })?),
            None => None,
        };
        let key = secret::load_or_create(&config.engine.data_dir)
            .map_err(|source| ServerError::Key { path: config.engine.data_dir.display().to_string(), source })?;
        let cores = config.engine.executors();
        let (bound_tx, bound_rx) = flume::unbounded();
        let (ready_tx, ready_rx) = flume::unbounded();
        let (drained_tx, drained_rx) = flume::unbounded();
        let (stops, stop_rxs): (Vec<_>, Vec<_>) = (0..cores).map(|_| flume::bounded(1)).unzip();
        let stop_rxs = Arc::new(Mutex::new(stop_rxs.into_iter().map(Some).collect::<Vec<_>>()));
        let (handoff, handed): (Vec<_>, Vec<_>) = (0..cores).map(|_| flume::unbounded()).unzip();
        let handed = Arc::new(Mutex::new(handed.into_iter().map(Some).collect::<Vec<_>>()));
        let listen = config.listen;
        let subscription_lifetime_ms = config.engine.subscription.lifetime_ms;
        let hook: CoreHook = Arc::new(move |api: CoreApi| {
            let (stop, handed) = (take_for(&stop_rxs, api.core_id()), take_for(&handed, api.core_id()));
            let setup = stop.zip(handed).map(|(stop, handed)| CoreSetup {
                listen,
                key,
                subscription_lifetime_ms,
                bound_tx: bound_tx.clone(),
                bound_rx: bound_rx.clone(),
                ready: ready_tx.clone(),
                stop,
                drained: drained_tx.clone(),
                handoff: handoff.clone(),
                handed,
            });
            Box::pin(async move {
                if let Some(setup) = setup {
                    listener::run(api, setup).await;
                }
            })
        });
        let mut engine_config = config.engine.clone();
        engine_config.cores = cores;
        let engine = Engine::start_with(engine_config, Some(hook))?;
        let mut addr = None;
        for _ in 0..cores {
            match ready_rx.recv_timeout(START_TIMEOUT) {
                Ok(Ok(a)) => addr = Some(a),
                Ok(Err(e)) => {
                    let _ = engine.shutdown();
                    return Err(ServerError::Listen(e));
                }
                Err(_) => {
                    let _ = engine.shutdown();
                    return Err(ServerError::Listen("a core did not start listening".into()));
                }
            }
        }
        let addr = addr.ok_or_else(|| ServerError::Listen("no core listens".into()))?;
        let metrics = match metrics_listener {
            Some(listener) => {
                let bound = listener.local_addr().ok();
                match MetricsEndpoint::start(listener, engine.clone()) {
                    Ok(m) => {
                        tracing::info!(addr = %m.local_addr(), path = crate::metrics::PATH, "serving metrics");
                        Some(m)
                    }
                    Err(source) => {
                        let _ = engine.shutdown();
                        let addr = bound.or(config.metrics).unwrap_or(addr);
                        return Err(ServerError::Metrics { addr, source });
                    }
                }
            }
            None => None,
        };
        Ok(Server { engine, addr, stops, drained: drained_rx, metrics })
    }

    /// The address every core listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where metrics are served, if they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(MetricsEndpoint::local_addr)
    }

    /// The engine underneath (same process).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stops accepting, lets every connection finish the requests it has
    /// started (their responses are written), then syncs every shard and
    /// stops the executors.
    pub fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(metrics) = self.metrics.take() {
            metrics.stop();
        }
        for stop in &self.stops {
            let _ = stop.send(());
        }
        for _ in 0..self.stops.len() {
            if self.drained.recv().is_err() {
                break;
            }
        }
        self.engine.shutdown()?;
        Ok(())
    }
}

/// Fails if something accepts connections on `addr` already. Probing with a
/// connection rather than a plain bind: a bind also fails for the
/// connections a killed server left in TIME_WAIT on its port, which kept a
/// restart after `kill -9` from listening for a minute.
fn refuse_if_listened(addr: SocketAddr) -> Result<(), ServerError> {
    let probe = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    };
    // A server killed a moment ago can still complete a connection for a few
    // milliseconds after its process is gone (seen ~10 ms after `kill -9`
    // was reaped): only a listener that keeps accepting is another server.
    for attempt in 0..LISTEN_PROBE_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(LISTEN_PROBE_PAUSE);
        }
        if std::net::TcpStream::connect_timeout(&probe, LISTEN_PROBE_TIMEOUT).is_err() {
            // Refused (nobody listens), or unreachable: binding will tell.
            return Ok(());
        }
    }
    Err(ServerError::AddressInUse {
        addr,
        source: std::io::Error::new(std::io::ErrorKind::AddrInUse, "a server accepts connections there"),
    })
}

/// Core `core`'s item of a per-core list, taken once.
fn take_for<T>(items: &Mutex<Vec<Option<T>>>, core: usize) -> Option<T> {
    items.lock().ok().and_then(|mut v| v.get_mut(core)?.take())
}

/// Logs what recovery found, once for all shards. Each shard that had a torn tail cut or
/// damage found already got its own warning from the engine, with the counts and files; a
/// clean shard gets a line only at debug, so that thousands of clean shards do not flood the
/// log at startup.
pub fn log_recovery(reports: &RecoveryReports) {
    let damaged = reports.iter().filter(|(_, _, r)| r.bytes_truncated > 0 || !r.damage.is_empty()).count();
    tracing::info!(
        shards = reports.len(),
        segments = reports.iter().map(|(_, _, r)| r.segments).sum::<usize>(),
        tail_records = reports.iter().map(|(_, _, r)| r.tail_records).sum::<u64>(),
        bytes_truncated = reports.iter().map(|(_, _, r)| r.bytes_truncated).sum::<u64>(),
        indexes_rebuilt = reports.iter().map(|(_, _, r)| r.indexes_rebuilt).sum::<usize>(),
        shards_with_damage = damaged,
        "recovery done"
    );
}
