//! One TCP connection: the socket, a reader thread, and the requests waiting for an answer.
//!
//! Writers encode their request into one shared buffer and write it to the socket while holding
//! the writer lock, so frames never interleave. Before writing, a request registers a oneshot
//! sender under its correlation id in the pending map; the reader thread decodes every frame
//! that arrives and completes the sender with the same id, in whatever order the answers come.
//!
//! Push frames (kind 4) go to the sink registered for their correlation id in the
//! subscriptions map, which is where SubscribeToShard will plug in; without one they are dropped.
//!
//! When the connection ends (end of stream, socket error, unframeable bytes, or the last handle
//! dropped), the first reason is recorded, every pending request fails with
//! [`ClientError::ConnectionLost`] carrying it, every subscription sink is closed, and new
//! requests are refused: the client then opens a new connection.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::channel::{mpsc, oneshot};

use crate::client::error::{ClientError, LostReason, ProtocolError};
use crate::frame::{decode_raw, Decoded, Frame, FrameBody};
use crate::header::{FrameKind, HEADER_SIZE_BYTES};
use crate::ops::{Opcode, Request, Response};

/// Bytes asked of the socket per read.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// A write buffer grown past this by a large request is released rather than kept.
const WRITE_BUFFER_KEPT_BYTES_MAX: usize = 1024 * 1024;

/// The outcome of one request, as the reader thread delivers it.
pub(crate) type Answer = Result<Response, ClientError>;

/// A frame of kind push, undecoded: its body format belongs to the subscription it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushFrame {
    /// The id of the request that opened the subscription.
    pub(crate) correlation_id: u64,
    pub(crate) opcode: u16,
    pub(crate) body: Bytes,
}

/// Where a subscription's push frames go.
pub(crate) type PushSink = mpsc::UnboundedSender<PushFrame>;

pub(crate) struct Connection {
    /// Counts the client's connections, for logs.
    generation: u64,
    writer: Mutex<Writer>,
    shared: Arc<Shared>,
}

struct Writer {
    stream: TcpStream,
    buf: BytesMut,
}

/// What the writers and the reader thread share.
#[derive(Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    pending: HashMap<u64, Pending>,
    subscriptions: HashMap<u64, PushSink>,
    /// Set once, by whoever first sees the connection end.
    lost: Option<Arc<LostReason>>,
}

struct Pending {
    opcode: Opcode,
    answer: oneshot::Sender<Answer>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The protected state stays consistent at every unlock, so a panic elsewhere does not
    // make it unusable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Connection {
    /// Connects to the first address that accepts, and starts the reader thread.
    pub(crate) fn open(
        addrs: &[SocketAddr],
        connect_timeout: Duration,
        write_timeout: Duration,
        generation: u64,
    ) -> Result<Connection, ClientError> {
        let stream = connect_any(addrs, connect_timeout).map_err(ClientError::Connect)?;
        let setup = |stream: &TcpStream| {
            stream.set_nodelay(true)?;
            stream.set_write_timeout(Some(write_timeout).filter(|t| !t.is_zero()))?;
            stream.try_clone()
        };
        let read_half = setup(&stream).map_err(ClientError::Connect)?;
        let peer = stream.peer_addr().map_err(ClientError::Connect)?;
        let shared = Arc::new(Shared::default());
        let reader_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("shoal-client-{generation}"))
            .spawn(move || read_loop(read_half, &reader_shared, generation))
            .map_err(ClientError::Connect)?;
        tracing::debug!(generation, %peer, "connected");
        Ok(Connection { generation, writer: Mutex::new(Writer { stream, buf: BytesMut::new() }), shared })
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Why the connection ended, once it has.
    pub(crate) fn lost(&self) -> Option<Arc<LostReason>> {
        lock(&self.shared.state).lost.clone()
    }

    /// Registers the request under `correlation_id` and writes it. The receiver gets the answer;
    /// drop the returned guard to stop waiting for it.
    pub(crate) fn send(
        &self,
        correlation_id: u64,
        request: &Request,
    ) -> Result<(oneshot::Receiver<Answer>, PendingGuard), ClientError> {
        let answer = self.shared.register(correlation_id, request.opcode())?;
        let guard = PendingGuard { shared: Arc::clone(&self.shared), correlation_id };
        let mut writer = lock(&self.writer);
        let Writer { stream, buf } = &mut *writer;
        buf.clear();
        Frame::encode_request(correlation_id, request, buf)?;
        let written = stream.write_all(buf);
        if buf.capacity() > WRITE_BUFFER_KEPT_BYTES_MAX {
            *buf = BytesMut::new();
        }
        if let Err(e) = written {
            // A partial write leaves the server mid-frame: the connection cannot be reused.
            let reason = self.shared.lose(LostReason::Io(e));
            let _ = stream.shutdown(Shutdown::Both);
            tracing::debug!(generation = self.generation, %reason, "write failed; connection closed");
            return Err(ClientError::ConnectionLost(reason));
        }
        Ok((answer, guard))
    }

    /// Routes push frames with this correlation id to `sink` until the connection ends.
    /// SubscribeToShard will use this; nothing sends push frames yet.
    #[expect(dead_code, reason = "the seam for SubscribeToShard: nothing subscribes yet")]
    pub(crate) fn subscribe(&self, correlation_id: u64, sink: PushSink) -> Result<(), ClientError> {
        self.shared.subscribe(correlation_id, sink)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.lose(LostReason::ClosedByClient);
        // Wakes the reader thread's blocking read, which then exits.
        let _ = lock(&self.writer).stream.shutdown(Shutdown::Both);
        tracing::debug!(generation = self.generation, "connection dropped");
    }
}

/// Removes a pending request when its caller stops waiting (timeout, or the future dropped), so
/// a late answer finds nothing and the map does not grow.
pub(crate) struct PendingGuard {
    shared: Arc<Shared>,
    correlation_id: u64,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        lock(&self.shared.state).pending.remove(&self.correlation_id);
    }
}

impl Shared {
    fn register(&self, correlation_id: u64, opcode: Opcode) -> Result<oneshot::Receiver<Answer>, ClientError> {
        let mut state = lock(&self.state);
        if let Some(reason) = &state.lost {
            return Err(ClientError::ConnectionLost(Arc::clone(reason)));
        }
        let (answer, receiver) = oneshot::channel();
        let previous = state.pending.insert(correlation_id, Pending { opcode, answer });
        assert!(previous.is_none(), "correlation id {correlation_id} reused while in flight");
        Ok(receiver)
    }

    fn subscribe(&self, correlation_id: u64, sink: PushSink) -> Result<(), ClientError> {
        let mut state = lock(&self.state);
        if let Some(reason) = &state.lost {
            return Err(ClientError::ConnectionLost(Arc::clone(reason)));
        }
        state.subscriptions.insert(correlation_id, sink);
        Ok(())
    }

    /// Records why the connection ended (the first reason wins), fails every pending request
    /// and closes every subscription. Returns the recorded reason.
    fn lose(&self, reason: LostReason) -> Arc<LostReason> {
        let mut state = lock(&self.state);
        let reason = Arc::clone(state.lost.get_or_insert_with(|| Arc::new(reason)));
        for (_, pending) in state.pending.drain() {
            let _ = pending.answer.send(Err(ClientError::ConnectionLost(Arc::clone(&reason))));
        }
        state.subscriptions.clear();
        reason
    }

    /// Completes the request a decoded frame answers. Returns the frame when no request waits
    /// for it (it timed out, or the frame is about the connection itself).
    fn deliver(&self, frame: Frame) -> Option<Frame> {
        let Some(pending) = lock(&self.state).pending.remove(&frame.correlation_id) else {
            return Some(frame);
        };
        let answer = match frame.body {
            FrameBody::Response(response) if response.opcode() == pending.opcode => Ok(response),
            FrameBody::Response(response) => {
                Err(ProtocolError::WrongResponse { expected: pending.opcode, got: response.opcode() }.into())
            }
            FrameBody::Error(error) => Err(ClientError::Service { status: error.status, message: error.message }),
            FrameBody::Request(request) => {
                Err(ProtocolError::RequestFromServer { opcode: request.opcode() as u16 }.into())
            }
        };
        // The caller may have stopped waiting since; then the answer has nowhere to go.
        let _ = pending.answer.send(answer);
        None
    }

    /// Fails the request whose answer did not decode; framing is intact, so the connection
    /// goes on. Returns false when no request waits for that id.
    fn fail(&self, correlation_id: u64, error: ClientError) -> bool {
        match lock(&self.state).pending.remove(&correlation_id) {
            Some(pending) => {
                let _ = pending.answer.send(Err(error));
                true
            }
            None => false,
        }
    }

    /// Hands a push frame to its subscription. Returns the frame when there is none.
    fn push(&self, frame: PushFrame) -> Option<PushFrame> {
        let mut state = lock(&self.state);
        let Some(sink) = state.subscriptions.get(&frame.correlation_id) else {
            return Some(frame);
        };
        if let Err(e) = sink.unbounded_send(frame) {
            // The subscriber went away: forget it, and drop what it will never read.
            let frame = e.into_inner();
            state.subscriptions.remove(&frame.correlation_id);
            return Some(frame);
        }
        None
    }
}

fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last_error = None;
    for addr in addrs {
        let attempt =
            if timeout.is_zero() { TcpStream::connect(addr) } else { TcpStream::connect_timeout(addr, timeout) };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                tracing::debug!(%addr, error = %e, "connect failed");
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to connect to")))
}

/// The reader thread: decodes frames until the connection ends, then fails what is pending.
fn read_loop(mut stream: TcpStream, shared: &Shared, generation: u64) {
    let reason = read_frames(&mut stream, shared, generation);
    let reason = shared.lose(reason);
    // Makes writers fail at once instead of writing into a connection nobody reads.
    let _ = stream.shutdown(Shutdown::Both);
    tracing::debug!(generation, %reason, "connection closed");
}

fn read_frames(stream: &mut TcpStream, shared: &Shared, generation: u64) -> LostReason {
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    let mut farewell = None;
    loop {
        loop {
            let (header, consumed) = match decode_raw(&buf) {
                Decoded::Complete(raw, consumed) => (raw.header, consumed),
                Decoded::Incomplete(needed) => {
                    buf.reserve(needed);
                    break;
                }
                Decoded::Invalid(e) => return LostReason::Framing(e),
            };
            let mut frame = buf.split_to(consumed).freeze();
            let body = frame.split_off(HEADER_SIZE_BYTES);
            if header.kind == FrameKind::Push {
                let push = PushFrame { correlation_id: header.correlation_id, opcode: header.opcode, body };
                if let Some(push) = shared.push(push) {
                    tracing::debug!(
                        generation,
                        correlation_id = push.correlation_id,
                        opcode = push.opcode,
                        "push frame without a subscription dropped"
                    );
                }
                continue;
            }
            match Frame::decode_body(&header, body) {
                Ok(frame) => {
                    if let Some(unmatched) = shared.deliver(frame) {
                        farewell = unmatched_frame(unmatched, generation).or(farewell);
                    }
                }
                Err(e) => {
                    let correlation_id = e.correlation_id;
                    if !shared.fail(correlation_id, ProtocolError::Body(e).into()) {
                        tracing::debug!(generation, correlation_id, "undecodable frame for no request dropped");
                    }
                }
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => return farewell.unwrap_or(LostReason::ClosedByServer),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return LostReason::Io(e),
        }
    }
}

/// Logs a frame that answers no waiting request. An error frame with correlation id 0 is the
/// server's last word before it closes: it becomes the reason the connection was lost.
fn unmatched_frame(frame: Frame, generation: u64) -> Option<LostReason> {
    let correlation_id = frame.correlation_id;
    match frame.body {
        FrameBody::Error(error) if correlation_id == 0 => {
            tracing::debug!(generation, status = %error.status, message = %error.message, "server error about the connection");
            Some(LostReason::Farewell { status: error.status, message: error.message })
        }
        _ => {
            tracing::debug!(generation, correlation_id, "answer for no waiting request dropped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    fn push(correlation_id: u64) -> PushFrame {
        PushFrame { correlation_id, opcode: Opcode::SubscribeToShardEvent as u16, body: Bytes::from_static(b"event") }
    }

    #[test]
    fn push_frames_reach_their_subscription_and_no_other() {
        let shared = Shared::default();
        let (sink, mut events) = mpsc::unbounded();
        shared.subscribe(7, sink).unwrap();
        assert_eq!(shared.push(push(7)), None);
        assert_eq!(shared.push(push(8)), Some(push(8)));
        assert_eq!(futures::executor::block_on(events.next()), Some(push(7)));
    }

    #[test]
    fn a_lost_connection_closes_subscriptions_and_refuses_new_ones() {
        let shared = Shared::default();
        let (sink, mut events) = mpsc::unbounded();
        shared.subscribe(7, sink).unwrap();
        shared.lose(LostReason::ClosedByServer);
        assert_eq!(futures::executor::block_on(events.next()), None);
        let (sink, _events) = mpsc::unbounded();
        assert!(matches!(shared.subscribe(9, sink), Err(ClientError::ConnectionLost(_))));
    }

    #[test]
    fn a_dropped_subscriber_is_forgotten() {
        let shared = Shared::default();
        let (sink, events) = mpsc::unbounded();
        shared.subscribe(7, sink).unwrap();
        drop(events);
        assert_eq!(shared.push(push(7)), Some(push(7)));
        assert!(lock(&shared.state).subscriptions.is_empty());
    }

    #[test]
    fn the_first_reason_for_losing_a_connection_is_kept() {
        let shared = Shared::default();
        let pending = shared.register(1, Opcode::PutRecord).unwrap();
        shared.lose(LostReason::ClosedByServer);
        let again = shared.lose(LostReason::ClosedByClient);
        assert!(matches!(*again, LostReason::ClosedByServer));
        match futures::executor::block_on(pending) {
            Ok(Err(ClientError::ConnectionLost(reason))) => assert!(matches!(*reason, LostReason::ClosedByServer)),
            other => panic!("expected ConnectionLost, got {other:?}"),
        }
    }
}
