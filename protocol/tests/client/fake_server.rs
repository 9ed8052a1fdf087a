//! A scripted stand-in for a Shoal server: a std TcpListener on 127.0.0.1, port 0, one thread
//! per accepted connection, frames decoded and encoded with the protocol crate's own codec.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::BytesMut;
use shoal_protocol::header::FrameHeader;
use shoal_protocol::ops::SubscribeToShardEvent;
use shoal_protocol::{decode_from, Decoded, ErrorFrame, Frame, FrameBody, FrameKind, Push, Request, Response, Status};

/// How long a server connection waits for the client before it gives up: keeps a broken test
/// from hanging.
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// One accepted connection, seen from the server.
pub struct ServerConn {
    stream: TcpStream,
    buf: BytesMut,
}

impl ServerConn {
    /// The next request, or None once the client has closed.
    pub fn recv(&mut self) -> Option<(u64, Request)> {
        loop {
            match decode_from(&mut self.buf) {
                Decoded::Complete(frame, _) => {
                    let frame = frame.expect("the client sends well-formed bodies");
                    return Some(frame.into_request().expect("the client sends only requests"));
                }
                Decoded::Incomplete(_) => {}
                Decoded::Invalid(e) => panic!("the client sent an unframeable stream: {e}"),
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads `n` requests (panics if the client closes first).
    pub fn recv_n(&mut self, n: usize) -> Vec<(u64, Request)> {
        (0..n).map(|_| self.recv().expect("the client sent enough requests")).collect()
    }

    pub fn respond(&mut self, correlation_id: u64, response: Response) {
        self.send_frame(&Frame { correlation_id, body: FrameBody::Response(response) });
    }

    pub fn fail(&mut self, correlation_id: u64, opcode: u16, status: Status, message: &str) {
        self.send_frame(&Frame {
            correlation_id,
            body: FrameBody::Error(ErrorFrame { opcode, status, message: message.to_owned() }),
        });
    }

    /// A subscription's event, in a push frame with its SubscribeToShard's correlation id.
    /// Returns false once the client has gone away.
    pub fn push(&mut self, correlation_id: u64, event: SubscribeToShardEvent) -> bool {
        let frame = Frame { correlation_id, body: FrameBody::Push(Push::SubscribeToShardEvent(event)) };
        let mut bytes = BytesMut::new();
        frame.encode(&mut bytes).expect("the fake server's frames encode");
        self.stream.write_all(&bytes).is_ok()
    }

    pub fn send_frame(&mut self, frame: &Frame) {
        let mut bytes = BytesMut::new();
        frame.encode(&mut bytes).expect("the fake server's frames encode");
        self.send_raw(&bytes);
    }

    /// A frame of any kind with any body, header built by hand (the codec encodes no malformed
    /// bodies).
    pub fn send_with_body(&mut self, kind: FrameKind, opcode: u16, correlation_id: u64, body: &[u8]) {
        let header = FrameHeader { body_size_bytes: u32::try_from(body.len()).unwrap(), kind, opcode, correlation_id };
        let mut bytes = header.to_bytes().to_vec();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes);
    }

    /// Write errors are ignored: a client that went away is not the fake server's problem.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Closes the connection at once.
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// What [`FakeServer::answering`] does with one request.
pub enum Reply {
    Respond(Response),
    Fail(Status, String),
    /// Never answer.
    Silence,
    /// Close the connection without answering.
    Close,
}

pub struct FakeServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Runs `handle(conn, n)` on its own thread for the `n`th accepted connection (from 1).
    pub fn start(handle: impl Fn(ServerConn, usize) + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        let accept_thread = {
            let connections = Arc::clone(&connections);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    stream.set_read_timeout(Some(IDLE_TIMEOUT)).unwrap();
                    stream.set_nodelay(true).unwrap();
                    let n = connections.fetch_add(1, Ordering::SeqCst) + 1;
                    let handle = Arc::clone(&handle);
                    std::thread::spawn(move || handle(ServerConn { stream, buf: BytesMut::new() }, n));
                }
            })
        };
        FakeServer { addr, connections, stop, accept_thread: Some(accept_thread) }
    }

    /// Answers every request on every connection with `reply(&request)`.
    pub fn answering(reply: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> FakeServer {
        FakeServer::start(move |mut conn, _| {
            while let Some((id, request)) = conn.recv() {
                match reply(&request) {
                    Reply::Respond(response) => conn.respond(id, response),
                    Reply::Fail(status, message) => conn.fail(id, request.opcode() as u16, status, &message),
                    Reply::Silence => {}
                    Reply::Close => return conn.close(),
                }
            }
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
    }
}
