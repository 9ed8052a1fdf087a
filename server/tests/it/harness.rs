//! A started server on a temporary directory, and a raw-frame client: tests
//! here speak the wire protocol directly so they check the server, not a
//! client library.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use shoal_protocol::frame::{decode_from, Decoded, Frame, FrameBody};
use shoal_protocol::ops::*;
use shoal_protocol::{Request, Response, Status};
use shoal_server::{Server, ServerConfig};

pub struct TestServer {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
}

pub fn config(dir: &std::path::Path) -> ServerConfig {
    let mut c = ServerConfig::new(dir, "127.0.0.1:0".parse().expect("addr"));
    c.engine.cores = 2;
    // Short subscriptions, so that tests see several lifetimes.
    c.engine.subscription.lifetime_ms = 400;
    c.engine.log.segment_bytes = 1 << 20;
    c
}

impl TestServer {
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
        let server = Server::start(config(dir.path())).expect("server starts");
        TestServer { server: Some(server), dir }
    }

    /// A server with the test configuration changed by `change`.
    pub fn start_with(change: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
        let mut c = config(dir.path());
        change(&mut c);
        let server = Server::start(c).expect("server starts");
        TestServer { server: Some(server), dir }
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").metrics_addr().expect("metrics are served")
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").local_addr()
    }

    pub fn client(&self) -> RawClient {
        RawClient::connect(self.addr())
    }

    /// Graceful shutdown, then a new server on the same directory.
    pub fn restart(&mut self) {
        self.server.take().expect("running").shutdown().expect("clean shutdown");
        self.server = Some(Server::start(config(self.dir.path())).expect("restart"));
    }

    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().expect("clean shutdown");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = s.shutdown();
        }
    }
}

/// A blocking client that writes frames and reads whatever comes back.
pub struct RawClient {
    pub stream: TcpStream,
    buf: BytesMut,
    next_id: u64,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        RawClient { stream, buf: BytesMut::new(), next_id: 1 }
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Like [`RawClient::send_bytes`], for bytes the server may refuse by closing.
    pub fn try_send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends a request; returns its correlation id.
    pub fn send(&mut self, request: Request) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut out = BytesMut::new();
        Frame { correlation_id: id, body: FrameBody::Request(request) }.encode(&mut out).expect("encode");
        self.send_bytes(&out);
        id
    }

    /// The next frame from the server; `None` if it closed the connection.
    pub fn recv(&mut self) -> Option<Frame> {
        self.recv_or_timeout().unwrap_or_else(|| panic!("no answer within the read timeout"))
    }

    /// Like [`RawClient::recv`], but a read timeout gives `None` instead of
    /// a panic (outer `None`); a closed connection gives `Some(None)`.
    pub fn recv_or_timeout(&mut self) -> Option<Option<Frame>> {
        loop {
            match decode_from(&mut self.buf) {
                Decoded::Complete(frame, _) => return Some(Some(frame.expect("server frames decode"))),
                Decoded::Incomplete(_) => {}
                Decoded::Invalid(e) => panic!("server sent an unframeable stream: {e}"),
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Some(None),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(None),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return None
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Sends a request and waits for its answer.
    pub fn call(&mut self, request: Request) -> Result<Response, (Status, String)> {
        let id = self.send(request);
        let frame = self.recv().expect("an answer");
        assert_eq!(frame.correlation_id, id, "answer to this request");
        match frame.body {
            FrameBody::Response(r) => Ok(r),
            FrameBody::Error(e) => Err((e.status, e.message)),
            FrameBody::Request(_) => panic!("server sent a request"),
            FrameBody::Push(_) => panic!("a push frame where an answer was due"),
        }
    }

    pub fn ok(&mut self, request: Request) -> Response {
        match self.call(request) {
            Ok(r) => r,
            Err((s, m)) => panic!("unexpected error {s:?}: {m}"),
        }
    }
}

pub fn create(name: &str, shards: u32) -> Request {
    Request::CreateStream(CreateStream {
        stream_name: name.into(),
        shard_count: shards,
        retention_hours: None,
        shard_limits: None,
    })
}

pub fn entry(key: &str, data: &[u8]) -> PutRecordsEntry {
    PutRecordsEntry { partition_key: key.into(), explicit_hash_key: None, data: Bytes::copy_from_slice(data) }
}

pub fn put_records(stream: &str, records: Vec<PutRecordsEntry>) -> Request {
    Request::PutRecords(PutRecords { stream_name: stream.into(), records })
}

pub fn iterator(stream: &str, shard: u32, kind: ShardIteratorType, seq: Option<u128>, ts: Option<u64>) -> Request {
    Request::GetShardIterator(GetShardIterator {
        stream_name: stream.into(),
        shard,
        iterator_type: kind,
        starting_sequence_number: seq,
        timestamp_ms: ts,
    })
}

pub fn get_records(iterator: Bytes, limit: Option<u32>) -> Request {
    Request::GetRecords(GetRecords { iterator, limit })
}

/// Reads a shard from TRIM_HORIZON to its current end.
pub fn read_shard(c: &mut RawClient, stream: &str, shard: u32) -> Vec<Record> {
    let Response::GetShardIterator(it) = c.ok(iterator(stream, shard, ShardIteratorType::TrimHorizon, None, None))
    else {
        panic!("iterator")
    };
    let mut it = it.iterator;
    let mut out = Vec::new();
    loop {
        let Response::GetRecords(r) = c.ok(get_records(it.clone(), Some(1000))) else { panic!("records") };
        let n = r.records.len();
        out.extend(r.records);
        match r.next_iterator {
            Some(next) if n > 0 => it = next,
            _ => return out,
        }
    }
}
