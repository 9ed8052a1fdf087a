//! One TCP connection: the socket, a reader thread, and the requests waiting for an answer.
//!
//! Writers encode their request into one shared buffer and write it to the socket while holding
//! the writer lock, so frames never interleave. Before writing, a request registers a oneshot
//! sender under its correlation id in the pending map; the reader thread decodes every frame
//! that arrives and completes the sender with the same id, in whatever order the answers come.
//!
//! A SubscribeToShard request also registers a sink under its correlation id in the
//! subscriptions map, before it is written, so no event can arrive before its sink. The reader
//! sends the subscription's push frames (kind 4) to that sink, and the error frame that ends a
//! subscription after its response; push frames that no subscription claims are dropped. A
//! subscription is forgotten after its last event (the one with `end`) or its error.
//!
//! **Back-pressure.** A sink is a bounded channel, and the reader thread waits for room in it:
//! a subscriber that reads slowly stops the reader, the socket's receive buffer fills, and TCP
//! flow control slows the server down. Memory stays bounded (the channel's events, one frame
//! in hand, the read buffer), and no event is dropped. The price is that every other answer on
//! the same connection waits too, hence one connection per subscriber.
//!
//! When the connection ends (end of stream, socket error, unframeable bytes, or the last handle
//! dropped), the first reason is recorded, every pending request fails with
//! [`ClientError::ConnectionLost`] carrying it, every subscription sink is closed (the
//! subscription then reports the same reason), and new requests are refused: the client then
//! opens a new connection.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::channel::{mpsc, oneshot};
use futures::SinkExt;

use crate::client::config::{ClientConfig, ServingCore};
use crate::client::error::{ClientError, LostReason, ProtocolError};
use crate::client::{deadlines, local_port};
use crate::frame::{decode_raw, Decoded, ErrorFrame, Frame, FrameBody};
use crate::header::{FrameKind, HEADER_SIZE_BYTES};
use crate::ops::{Opcode, Push, Request, Response, SubscribeToShardEvent};

/// Bytes asked of the socket per read.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// A write buffer grown past this by a large request is released rather than kept.
const WRITE_BUFFER_KEPT_BYTES_MAX: usize = 1024 * 1024;

/// The outcome of one request, as the reader thread delivers it.
pub(crate) type Answer = Result<Response, ClientError>;

/// What a subscription receives: its events in order, then at most one error that ends it.
pub(crate) type Pushed = Result<SubscribeToShardEvent, ClientError>;

/// Where a subscription's events go: a bounded channel that only the reader thread sends on.
/// The map hands out the one sender behind a mutex rather than clones of it, because every
/// clone of a bounded `futures` sender brings one more guaranteed slot, which would unbound the
/// channel.
pub(crate) type PushSink = Arc<Mutex<mpsc::Sender<Pushed>>>;

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

/// What the writers, the reader thread and the timeout sweeper share.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// How long a request waits for its answer; zero waits forever.
    request_timeout: Duration,
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
    /// When the sweeper fails it with a timeout, unless answered before.
    deadline: Option<Instant>,
}

/// A frame that may answer a request: every kind but push.
enum Reply {
    Response(Response),
    Error(ErrorFrame),
    Request(Request),
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
        config: &ClientConfig,
        generation: u64,
    ) -> Result<Connection, ClientError> {
        let (connect_timeout, write_timeout) = (config.connect_timeout, config.request_timeout);
        let stream = connect_any(addrs, connect_timeout, config.serving_core).map_err(ClientError::Connect)?;
        let setup = |stream: &TcpStream| {
            stream.set_nodelay(true)?;
            stream.set_write_timeout(Some(write_timeout).filter(|t| !t.is_zero()))?;
            stream.try_clone()
        };
        let read_half = setup(&stream).map_err(ClientError::Connect)?;
        let peer = stream.peer_addr().map_err(ClientError::Connect)?;
        let shared = Arc::new(Shared::new(config.request_timeout));
        if !config.request_timeout.is_zero() && !deadlines::watch(Arc::downgrade(&shared)) {
            return Err(ClientError::Connect(std::io::Error::other("cannot start the client's timeout thread")));
        }
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
        self.send_with(correlation_id, request, None)
    }

    /// Like [`Connection::send`], and routes the push frames and the final error frame with
    /// this correlation id to `sink` from before the request is written. Drop the returned
    /// registration to stop routing them.
    pub(crate) fn send_subscribing(
        &self,
        correlation_id: u64,
        request: &Request,
        sink: mpsc::Sender<Pushed>,
    ) -> Result<(oneshot::Receiver<Answer>, PendingGuard, SubscriptionGuard), ClientError> {
        let registration = SubscriptionGuard { shared: Arc::clone(&self.shared), correlation_id };
        let (answer, guard) = self.send_with(correlation_id, request, Some(Arc::new(Mutex::new(sink))))?;
        Ok((answer, guard, registration))
    }

    fn send_with(
        &self,
        correlation_id: u64,
        request: &Request,
        sink: Option<PushSink>,
    ) -> Result<(oneshot::Receiver<Answer>, PendingGuard), ClientError> {
        let answer = self.shared.register(correlation_id, request.opcode(), sink)?;
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

/// Stops routing a subscription's frames when its subscriber goes away (or the SubscribeToShard
/// attempt fails), so the reader drops them instead of waiting for room in a channel nobody
/// reads.
pub(crate) struct SubscriptionGuard {
    shared: Arc<Shared>,
    correlation_id: u64,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        lock(&self.shared.state).subscriptions.remove(&self.correlation_id);
    }
}

impl Shared {
    pub(crate) fn new(request_timeout: Duration) -> Shared {
        Shared { state: Mutex::default(), request_timeout }
    }

    fn register(
        &self,
        correlation_id: u64,
        opcode: Opcode,
        sink: Option<PushSink>,
    ) -> Result<oneshot::Receiver<Answer>, ClientError> {
        let mut state = lock(&self.state);
        if let Some(reason) = &state.lost {
            return Err(ClientError::ConnectionLost(Arc::clone(reason)));
        }
        let (answer, receiver) = oneshot::channel();
        let deadline = Some(self.request_timeout).filter(|t| !t.is_zero()).map(|t| Instant::now() + t);
        let previous = state.pending.insert(correlation_id, Pending { opcode, answer, deadline });
        assert!(previous.is_none(), "correlation id {correlation_id} reused while in flight");
        if let Some(sink) = sink {
            let previous = state.subscriptions.insert(correlation_id, sink);
            assert!(previous.is_none(), "correlation id {correlation_id} reused by a subscription");
        }
        Ok(receiver)
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

    /// Fails the requests whose deadline is before `now` with a timeout (the sweeper calls this).
    pub(crate) fn expire(&self, now: Instant) {
        let expired: Vec<Pending> = {
            let mut state = lock(&self.state);
            if !state.pending.values().any(|p| p.deadline.is_some_and(|d| d <= now)) {
                return;
            }
            let (expired, kept) = state.pending.drain().partition(|(_, p)| p.deadline.is_some_and(|d| d <= now));
            state.pending = kept;
            expired.into_values().collect()
        };
        for pending in expired {
            let _ = pending.answer.send(Err(ClientError::Timeout(self.request_timeout)));
        }
    }

    /// Hands a decoded frame to whoever waits for it: a push frame to its subscription, an
    /// answer to its pending request, an error frame without a pending request to the
    /// subscription it ends. Returns the frame when nobody claims it (its request timed out, or
    /// the frame is about the connection itself); push frames nobody claims are dropped here.
    fn deliver(&self, frame: Frame, generation: u64) -> Option<Frame> {
        let correlation_id = frame.correlation_id;
        let reply = match frame.body {
            FrameBody::Push(Push::SubscribeToShardEvent(event)) => {
                let last = event.end.is_some();
                if !self.push(correlation_id, Ok(event), last) {
                    tracing::debug!(generation, correlation_id, "push frame without a subscription dropped");
                }
                return None;
            }
            FrameBody::Response(response) => Reply::Response(response),
            FrameBody::Error(error) => Reply::Error(error),
            FrameBody::Request(request) => Reply::Request(request),
        };
        let (pending, subscribed) = {
            let mut state = lock(&self.state);
            (state.pending.remove(&correlation_id), state.subscriptions.contains_key(&correlation_id))
        };
        let Some(pending) = pending else {
            return match reply {
                Reply::Error(error) if subscribed => {
                    // The error that ends a subscription after its response.
                    let ended = ClientError::Service { status: error.status, message: error.message };
                    self.push(correlation_id, Err(ended), true);
                    None
                }
                Reply::Response(response) => Some(Frame { correlation_id, body: FrameBody::Response(response) }),
                Reply::Error(error) => Some(Frame { correlation_id, body: FrameBody::Error(error) }),
                Reply::Request(request) => Some(Frame { correlation_id, body: FrameBody::Request(request) }),
            };
        };
        let answer = match reply {
            Reply::Response(response) if response.opcode() == pending.opcode => Ok(response),
            Reply::Response(response) => {
                Err(ProtocolError::WrongResponse { expected: pending.opcode, got: response.opcode() }.into())
            }
            Reply::Error(error) => Err(ClientError::Service { status: error.status, message: error.message }),
            Reply::Request(request) => Err(ProtocolError::RequestFromServer { opcode: request.opcode() as u16 }.into()),
        };
        // The caller may have stopped waiting since; then the answer has nowhere to go.
        let _ = pending.answer.send(answer);
        None
    }

    /// Fails the request whose answer did not decode, or else ends the subscription whose
    /// ending error frame did not decode; framing is intact, so the connection goes on.
    /// Returns false when nobody waits for that id.
    fn fail(&self, correlation_id: u64, error: ClientError) -> bool {
        let pending = lock(&self.state).pending.remove(&correlation_id);
        match pending {
            Some(pending) => {
                let _ = pending.answer.send(Err(error));
                true
            }
            None => self.push(correlation_id, Err(error), true),
        }
    }

    /// Sends `pushed` to the subscription with this correlation id, waiting for room in its
    /// channel: this is where a slow subscriber holds the reader back. `last` forgets the
    /// subscription afterwards. Returns false when there is no such subscription, or its
    /// subscriber went away (then it is forgotten too).
    fn push(&self, correlation_id: u64, pushed: Pushed, last: bool) -> bool {
        let sink = {
            let mut state = lock(&self.state);
            if last {
                state.subscriptions.remove(&correlation_id)
            } else {
                state.subscriptions.get(&correlation_id).map(Arc::clone)
            }
        };
        let Some(sink) = sink else { return false };
        // Only the state lock protects the map, and it is released: writers, other
        // subscriptions' guards and `lose` never wait for this send.
        let sent = futures::executor::block_on(lock(&sink).send(pushed));
        if sent.is_err() {
            lock(&self.state).subscriptions.remove(&correlation_id);
            return false;
        }
        true
    }
}

fn connect_any(addrs: &[SocketAddr], timeout: Duration, core: Option<ServingCore>) -> std::io::Result<TcpStream> {
    let mut last_error = None;
    for addr in addrs {
        let attempt = match core {
            Some(core) => local_port::connect_served_by(*addr, core, timeout),
            None if timeout.is_zero() => TcpStream::connect(addr),
            None => TcpStream::connect_timeout(addr, timeout),
        };
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
            match Frame::decode_body(&header, body) {
                Ok(frame) => {
                    if let Some(unmatched) = shared.deliver(frame, generation) {
                        farewell = unmatched_frame(unmatched, generation).or(farewell);
                    }
                }
                Err(e) => {
                    let correlation_id = e.correlation_id;
                    // A push frame belongs to a subscription, never to a pending request.
                    let claimed = if e.kind == FrameKind::Push {
                        shared.push(correlation_id, Err(ProtocolError::Body(e).into()), true)
                    } else {
                        shared.fail(correlation_id, ProtocolError::Body(e).into())
                    };
                    if !claimed {
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
    use std::time::Duration;

    use futures::StreamExt;

    use super::*;
    use crate::ops::SubscriptionEnd;
    use crate::status::Status;

    fn event(continuation_sequence_number: u128, end: Option<SubscriptionEnd>) -> SubscribeToShardEvent {
        SubscribeToShardEvent {
            records: vec![],
            continuation_sequence_number,
            millis_behind_latest: 0,
            child_shards: vec![],
            end,
        }
    }

    fn push(correlation_id: u64, continuation_sequence_number: u128, end: Option<SubscriptionEnd>) -> Frame {
        Frame {
            correlation_id,
            body: FrameBody::Push(Push::SubscribeToShardEvent(event(continuation_sequence_number, end))),
        }
    }

    fn subscribed(shared: &Shared, correlation_id: u64, buffer: usize) -> mpsc::Receiver<Pushed> {
        let (sink, events) = mpsc::channel(buffer);
        // The response is taken as delivered: only the subscription stays registered.
        let _answered =
            shared.register(correlation_id, Opcode::SubscribeToShard, Some(Arc::new(Mutex::new(sink)))).unwrap();
        lock(&shared.state).pending.remove(&correlation_id);
        events
    }

    fn continuation(pushed: Option<Pushed>) -> u128 {
        pushed.unwrap().unwrap().continuation_sequence_number
    }

    #[test]
    fn push_frames_reach_their_subscription_and_no_other() {
        let shared = Shared::new(Duration::ZERO);
        let mut events = subscribed(&shared, 7, 4);
        assert_eq!(shared.deliver(push(7, 1, None), 0), None);
        assert_eq!(shared.deliver(push(8, 2, None), 0), None, "dropped, not returned");
        assert_eq!(continuation(futures::executor::block_on(events.next())), 1);
        assert!(events.try_recv().is_err(), "nothing else arrived");
    }

    #[test]
    fn the_last_event_and_an_ending_error_forget_the_subscription() {
        let shared = Shared::new(Duration::ZERO);
        let mut ended = subscribed(&shared, 7, 4);
        shared.deliver(push(7, 1, Some(SubscriptionEnd::Lifetime)), 0);
        assert!(lock(&shared.state).subscriptions.is_empty());
        assert_eq!(continuation(futures::executor::block_on(ended.next())), 1);
        assert!(futures::executor::block_on(ended.next()).is_none(), "the sink was dropped");

        let mut failed = subscribed(&shared, 9, 4);
        let error = ErrorFrame { opcode: 0x0034, status: Status::ResourceNotFound, message: "gone".into() };
        assert_eq!(shared.deliver(Frame { correlation_id: 9, body: FrameBody::Error(error) }, 0), None);
        assert!(lock(&shared.state).subscriptions.is_empty());
        match futures::executor::block_on(failed.next()) {
            Some(Err(ClientError::Service { status, message })) => {
                assert_eq!((status, message.as_str()), (Status::ResourceNotFound, "gone"));
            }
            other => panic!("expected the service error, got {other:?}"),
        }
    }

    #[test]
    fn a_full_channel_holds_the_reader_back_until_the_subscriber_reads() {
        let shared = Arc::new(Shared::new(Duration::ZERO));
        let mut events = subscribed(&shared, 7, 0);
        let reader = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for n in 0..10 {
                    shared.deliver(push(7, n, None), 0);
                }
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!reader.is_finished(), "the reader waits for room");
        let got: Vec<u128> = futures::executor::block_on_stream(&mut events)
            .take(10)
            .map(|p| p.unwrap().continuation_sequence_number)
            .collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>(), "nothing lost, in order");
        reader.join().unwrap();
    }

    #[test]
    fn a_subscriber_that_goes_away_releases_a_waiting_reader() {
        let shared = Arc::new(Shared::new(Duration::ZERO));
        let events = subscribed(&shared, 7, 0);
        let reader = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || (0..10).for_each(|n| drop(shared.deliver(push(7, n, None), 0))))
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(events);
        reader.join().unwrap();
        assert!(lock(&shared.state).subscriptions.is_empty());
    }

    #[test]
    fn a_lost_connection_closes_subscriptions_and_refuses_new_ones() {
        let shared = Shared::new(Duration::ZERO);
        let mut events = subscribed(&shared, 7, 4);
        shared.lose(LostReason::ClosedByServer);
        assert!(futures::executor::block_on(events.next()).is_none());
        let (sink, _events) = mpsc::channel(1);
        let refused = shared.register(9, Opcode::SubscribeToShard, Some(Arc::new(Mutex::new(sink))));
        assert!(matches!(refused, Err(ClientError::ConnectionLost(_))));
    }

    #[test]
    fn requests_past_their_deadline_fail_with_a_timeout_and_the_others_wait() {
        let timeout = Duration::from_secs(2);
        let shared = Shared::new(timeout);
        let before = Instant::now();
        let mut first = shared.register(1, Opcode::PutRecord, None).unwrap();
        shared.expire(before + timeout / 2);
        assert!(matches!(first.try_recv(), Ok(None)), "not due yet");
        // A clock reading strictly between the two registrations.
        std::thread::sleep(Duration::from_millis(1));
        let between = Instant::now();
        std::thread::sleep(Duration::from_millis(1));
        let mut second = shared.register(2, Opcode::PutRecord, None).unwrap();
        shared.expire(between + timeout);
        assert!(matches!(first.try_recv(), Ok(Some(Err(ClientError::Timeout(t)))) if t == timeout));
        assert!(matches!(second.try_recv(), Ok(None)), "registered later, due later");
        shared.expire(Instant::now() + timeout);
        assert!(matches!(second.try_recv(), Ok(Some(Err(ClientError::Timeout(_))))));
        assert!(lock(&shared.state).pending.is_empty(), "expired requests are forgotten");
    }

    #[test]
    fn without_a_timeout_nothing_expires() {
        let shared = Shared::new(Duration::ZERO);
        let mut pending = shared.register(1, Opcode::PutRecord, None).unwrap();
        shared.expire(Instant::now() + Duration::from_secs(3600));
        assert!(matches!(pending.try_recv(), Ok(None)));
    }

    #[test]
    fn the_first_reason_for_losing_a_connection_is_kept() {
        let shared = Shared::new(Duration::ZERO);
        let pending = shared.register(1, Opcode::PutRecord, None).unwrap();
        shared.lose(LostReason::ClosedByServer);
        let again = shared.lose(LostReason::ClosedByClient);
        assert!(matches!(*again, LostReason::ClosedByServer));
        match futures::executor::block_on(pending) {
            Ok(Err(ClientError::ConnectionLost(reason))) => assert!(matches!(*reason, LostReason::ClosedByServer)),
            other => panic!("expected ConnectionLost, got {other:?}"),
        }
    }
}
