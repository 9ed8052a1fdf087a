//! Connecting from a local port the server maps to a chosen core (PROTOCOL.md §3.4): the
//! server serves a connection on the core its client port hashes to
//! ([`serving_core`](crate::ops::serving_core)), so the client binds such a port before it
//! connects.

use std::io::{Error, ErrorKind, Result};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::client::config::ServingCore;
use crate::ops::serving_core;

/// Linux's default ephemeral range (`net.ipv4.ip_local_port_range`): ports the OS would hand
/// out anyway, above the registered services.
const LOCAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;
/// Ports of the core tried (taken ones are skipped) before giving up.
const ATTEMPTS_MAX: usize = 64;

/// Connects to `addr` from a free local port that the server maps to `core`.
pub(crate) fn connect_served_by(addr: SocketAddr, core: ServingCore, timeout: Duration) -> Result<TcpStream> {
    if core.cores == 0 || core.core >= core.cores {
        return Err(Error::new(ErrorKind::InvalidInput, format!("no core {} among {} cores", core.core, core.cores)));
    }
    let mut last_error = None;
    for port in candidate_ports(core).take(ATTEMPTS_MAX) {
        match connect_from(addr, port, timeout) {
            Ok(stream) => return Ok(stream),
            // Taken by another socket, or a recent connection from it to `addr` lingers.
            Err(e) if matches!(e.kind(), ErrorKind::AddrInUse | ErrorKind::AddrNotAvailable) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| Error::new(ErrorKind::AddrInUse, "no free local port for the core")))
}

fn connect_from(addr: SocketAddr, port: u16, timeout: Duration) -> Result<TcpStream> {
    let (domain, local) = match addr {
        SocketAddr::V4(_) => (Domain::IPV4, SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))),
        SocketAddr::V6(_) => (Domain::IPV6, SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))),
    };
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SockAddr::from(local))?;
    if timeout.is_zero() {
        socket.connect(&SockAddr::from(addr))?;
    } else {
        socket.connect_timeout(&SockAddr::from(addr), timeout)?;
    }
    Ok(socket.into())
}

/// Ports of the local range that map to the core, from a different starting point on every
/// call so that clients do not all race for the same ones.
fn candidate_ports(core: ServingCore) -> impl Iterator<Item = u16> {
    let (low, count) = (u32::from(*LOCAL_PORTS.start()), LOCAL_PORTS.len() as u32);
    let start = random_u32() % count;
    (0..count)
        .map(move |i| (low + (start + i) % count) as u16)
        .filter(move |&port| serving_core(port, core.cores) == core.core)
}

/// A random number from the standard library's per-process hash keys and the clock: enough to
/// spread port choices, with no dependency.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_map_to_the_core_and_stay_in_range() {
        for cores in 1..=7u16 {
            for core in 0..cores {
                let ports: Vec<u16> = candidate_ports(ServingCore { core, cores }).collect();
                assert!(!ports.is_empty());
                assert!(
                    ports.iter().all(|&p| serving_core(p, cores) == core && LOCAL_PORTS.contains(&p)),
                    "{core}/{cores}"
                );
                let distinct: std::collections::HashSet<_> = ports.iter().collect();
                assert_eq!(distinct.len(), ports.len(), "each port once");
                let all = LOCAL_PORTS.filter(|&p| serving_core(p, cores) == core).count();
                assert_eq!(ports.len(), all, "every port of the range that maps to the core");
            }
        }
    }

    #[test]
    fn a_connection_comes_from_a_port_of_the_core() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().expect("addr");
        for core in 0..3u16 {
            let stream =
                connect_served_by(addr, ServingCore { core, cores: 3 }, Duration::from_secs(5)).expect("connect");
            let (accepted, peer) = listener.accept().expect("accept");
            assert_eq!(peer, stream.local_addr().expect("local"));
            assert_eq!(serving_core(peer.port(), 3), core);
            drop(accepted);
        }
    }

    #[test]
    fn an_impossible_core_is_refused() {
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        let e = connect_served_by(addr, ServingCore { core: 2, cores: 2 }, Duration::from_secs(1))
            .expect_err("core 2 of 2");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
}
