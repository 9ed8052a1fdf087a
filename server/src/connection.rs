//! One client connection: read bytes, cut frames, hand each request to its
//! own task (so requests pipeline and may finish out of order), and write
//! responses through one batching writer.
//!
//! Framing rules (PROTOCOL.md §Connection):
//! * a body that does not decode is answered with an error frame carrying
//!   its correlation id, and the connection goes on;
//! * a header that cannot be trusted (framing lost) stops the reading; the
//!   requests read before it are answered, then one farewell error frame is
//!   the last frame, and the connection is closed;
//! * at most [`IN_FLIGHT_MAX`] requests per connection are running or have
//!   an answer not yet written to the socket, and at most
//!   [`READS_IN_FLIGHT_MAX`] of them are GetRecords (answers of up to
//!   10 MiB); past that the connection stops reading (TCP backpressure), so
//!   a client that sends and never reads costs bounded memory.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use glommio::net::TcpStream;
use glommio::sync::Semaphore;
use shoal_protocol::frame::{decode_from, decode_raw, Decoded, ErrorFrame, Frame, FrameBody};
use shoal_protocol::ops::{Opcode, Push, SubscribeToShard, SubscribeToShardOutput};
use shoal_protocol::FrameKind;
use shoal_protocol::{Request, Response, Status};

use crate::dispatch::{wire_event, Context, Failure};
use crate::log_limit::{LogLimit, PROTOCOL_WARN_INTERVAL};
use crate::metrics;
use crate::response_buffers;

/// Requests per connection running or with an answer not yet written.
pub const IN_FLIGHT_MAX: u64 = 256;
/// GetRecords per connection running or with an answer not yet written:
/// each answer may be 10 MiB, so this bounds what a client that never
/// reads can make the server hold (about 40 MiB per connection).
pub const READS_IN_FLIGHT_MAX: u64 = 4;
/// Bytes read per read call when no larger frame is pending.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// The most one read asks for (a large frame arrives in several reads).
const READ_MAX_BYTES: usize = 256 * 1024;
/// How long a connection closed for lost framing keeps reading (and discarding) what the
/// client still sends, so that closing does not reset it (see `linger`).
pub const LINGER_AFTER_FAREWELL: std::time::Duration = std::time::Duration::from_secs(2);
/// The writer coalesces responses up to this size before a write.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// Serves a connection until the client closes it, framing is lost, or
/// `stop` fires (then in-flight requests finish and are answered first).
pub async fn serve(stream: TcpStream, ctx: Rc<Context>, stop: oneshot::Receiver<()>) {
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "set_nodelay failed");
    }
    let (mut reader, writer) = stream.split();
    let (out_tx, out_rx) = mpsc::unbounded::<Outgoing>();
    let writer_task = glommio::spawn_local(write_loop(writer, out_rx, peer.clone()));
    let permits = Rc::new(Semaphore::new(IN_FLIGHT_MAX));
    let read_permits = Rc::new(Semaphore::new(READS_IN_FLIGHT_MAX));
    // Set when framing is lost: the last frame, after every answer.
    let mut farewell = None;
    // One receiver per SubscribeToShard: fires once its response (or the
    // error that answers it) is queued, so a framing close answers it first.
    let mut subscriptions_answered = Vec::new();
    let live: Rc<RefCell<HashSet<u64>>> = Rc::default();
    let mut subscriptions = Vec::new();
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut stop = stop;
    let mut protocol_errors = ProtocolErrors::new(&peer);
    'conn: loop {
        let want = loop {
            // A client may send only requests: any other kind is refused
            // by its header alone, whatever its opcode or body.
            if let Decoded::Complete(raw, consumed) = decode_raw(&buf) {
                let h = raw.header;
                if h.kind != FrameKind::Request {
                    buf.advance(consumed);
                    protocol_errors.warn("a client may send only request frames", &"not a request frame");
                    send(&out_tx, &Frame::not_a_request(h.correlation_id, h.opcode, h.kind));
                    continue;
                }
            }
            match decode_from(&mut buf) {
                Decoded::Complete(Ok(frame), _) => match frame.into_request() {
                    Ok((correlation_id, Request::SubscribeToShard(request))) => {
                        // Lives for up to the subscription lifetime: it takes
                        // no in-flight permit and is cancelled with the
                        // connection.
                        let (answered_tx, answered_rx) = oneshot::channel();
                        subscriptions_answered.push(answered_rx);
                        let task = subscription(
                            ctx.clone(),
                            out_tx.clone(),
                            correlation_id,
                            request,
                            live.clone(),
                            answered_tx,
                        );
                        subscriptions.push(glommio::spawn_local(task));
                    }
                    Ok((correlation_id, request)) => {
                        let permit = match permits.acquire_static_permit(1).await {
                            Ok(p) => p,
                            Err(_) => break 'conn,
                        };
                        let read_permit = match request {
                            Request::GetRecords(_) => match read_permits.acquire_static_permit(1).await {
                                Ok(p) => Some(p),
                                Err(_) => break 'conn,
                            },
                            _ => None,
                        };
                        let (ctx, out) = (ctx.clone(), out_tx.clone());
                        glommio::spawn_local(async move {
                            let opcode = request.opcode();
                            let started = Instant::now();
                            let outcome = ctx.handle(request).await;
                            metrics::note_request(&ctx.api, opcode, outcome.as_ref().err().map(|f| f.status), started);
                            let body = match outcome {
                                Ok(response) => FrameBody::Response(response),
                                Err(f) => FrameBody::Error(ErrorFrame {
                                    opcode: opcode as u16,
                                    status: f.status,
                                    message: f.message,
                                }),
                            };
                            // The permits count the answer until it is written.
                            send_and_wait(&out, &Frame { correlation_id, body }).await;
                            drop((permit, read_permit));
                        })
                        .detach();
                    }
                    // The client sent a response or an error frame: the
                    // protocol says what to answer.
                    Err(reply) => {
                        protocol_errors.warn("a client may send only request frames", &"not a request frame");
                        send(&out_tx, &reply)
                    }
                },
                Decoded::Complete(Err(body_error), _) => {
                    protocol_errors.warn("undecodable request body; answered with an error", &body_error);
                    send(&out_tx, &body_error.error_frame());
                }
                Decoded::Incomplete(needed) => break needed.max(READ_CHUNK_BYTES),
                Decoded::Invalid(framing) => {
                    protocol_errors.warn("framing lost; closing the connection", &framing);
                    farewell = Some(framing.farewell());
                    break 'conn;
                }
            }
        };
        let start = buf.len();
        // Room for the whole frame now (no reallocation and copy while it
        // arrives), but zero and read a bounded stretch at a time: zeroing
        // all that is missing before every read cost more than the reads.
        buf.reserve(want);
        buf.resize(start + want.min(READ_MAX_BYTES), 0);
        let read = reader.read(&mut buf[start..]);
        let n = match select(read, &mut stop).await {
            Either::Left((Ok(n), _)) => n,
            Either::Left((Err(e), _)) => {
                tracing::debug!(%peer, error = %e, "read failed");
                buf.truncate(start);
                break;
            }
            Either::Right(_) => {
                buf.truncate(start);
                break;
            }
        };
        buf.truncate(start + n);
        if n == 0 {
            if !buf.is_empty() {
                tracing::debug!(%peer, bytes = buf.len(), "connection closed inside a frame");
            }
            break;
        }
    }
    protocol_errors.finish();
    if farewell.is_some() {
        // Every request read before the bad header is answered, a
        // subscription by its response, before the farewell.
        for answered in subscriptions_answered {
            let _ = answered.await;
        }
    } else {
        // Subscriptions end with the connection; a client still connected
        // (the server is shutting down) is told so.
        for id in live.borrow().iter() {
            let f = Failure::new(Status::ServiceUnavailable, "The server is shutting down; resubscribe later.");
            send(&out_tx, &error_frame(*id, Opcode::SubscribeToShard as u16, f));
        }
    }
    drop(subscriptions);
    // Let in-flight requests finish and their answers be written (the
    // writer runs meanwhile), then the farewell goes last.
    let _ = permits.acquire(IN_FLIGHT_MAX).await;
    if let Some(farewell) = &farewell {
        send(&out_tx, farewell);
    }
    // The writer ends once the last sender is gone.
    drop(out_tx);
    writer_task.await;
    if farewell.is_some() {
        linger(&mut reader, &mut stop).await;
    }
}

/// After the farewell (the writer has half-closed the connection), reads and discards what
/// the client still sends until it closes its side, for at most [`LINGER_AFTER_FAREWELL`]:
/// closing with the client's bytes unread, or with more still arriving, makes TCP reset the
/// connection, and a reset can discard answers the client has received but not yet read (the
/// "lingering close" of HTTP servers, RFC 9112 §9.6). Framing is lost at a header's version
/// byte, so the rest of that header is often still on its way.
async fn linger(reader: &mut futures::io::ReadHalf<TcpStream>, stop: &mut oneshot::Receiver<()>) {
    let mut discard = vec![0u8; READ_CHUNK_BYTES];
    let drain = async {
        while let Ok(n) = reader.read(&mut discard).await {
            if n == 0 {
                break;
            }
        }
    };
    let deadline = glommio::timer::sleep(LINGER_AFTER_FAREWELL);
    let _ = select(select(std::pin::pin!(drain), std::pin::pin!(deadline)), stop).await;
}

/// A connection's protocol errors, logged at most once per [`PROTOCOL_WARN_INTERVAL`].
struct ProtocolErrors<'a> {
    peer: &'a str,
    opened: std::time::Instant,
    limit: LogLimit,
}

impl<'a> ProtocolErrors<'a> {
    fn new(peer: &'a str) -> Self {
        Self { peer, opened: std::time::Instant::now(), limit: LogLimit::new(PROTOCOL_WARN_INTERVAL) }
    }

    fn warn(&mut self, what: &str, error: &dyn std::fmt::Display) {
        let now_ms = self.opened.elapsed().as_millis() as u64;
        if let Some(suppressed) = self.limit.admit(now_ms) {
            tracing::warn!(peer = self.peer, %error, suppressed, "protocol error from client: {what}");
        }
    }

    /// The errors held back since the last line, when the connection ends.
    fn finish(&mut self) {
        let suppressed = self.limit.take_suppressed();
        if suppressed > 0 {
            tracing::warn!(peer = self.peer, suppressed, "connection closed after more protocol errors (not logged)");
        }
    }
}

/// Serves one SubscribeToShard: the response, then push events as fast
/// as the client takes them (each waits until the previous is written),
/// then the end (the last event carries `end`) or an error frame.
async fn subscription(
    ctx: Rc<Context>,
    out: mpsc::UnboundedSender<Outgoing>,
    id: u64,
    request: SubscribeToShard,
    live: Rc<RefCell<HashSet<u64>>>,
    answered: oneshot::Sender<()>,
) {
    let opcode = Opcode::SubscribeToShard as u16;
    let started = Instant::now();
    let events = ctx.subscribe(request).await;
    metrics::note_request(&ctx.api, Opcode::SubscribeToShard, events.as_ref().err().map(|f| f.status), started);
    let events = match events {
        Ok(rx) => rx,
        Err(f) => {
            send(&out, &error_frame(id, opcode, f));
            let _ = answered.send(());
            return;
        }
    };
    live.borrow_mut().insert(id);
    let _live = LiveGuard(live.clone(), id);
    let started = SubscribeToShardOutput { subscription_lifetime_ms: ctx.subscription_lifetime_ms };
    let response = Frame { correlation_id: id, body: FrameBody::Response(Response::SubscribeToShard(started)) };
    let Some(bytes) = encode(&response) else { return };
    let (written_tx, written) = oneshot::channel();
    let queued = out.unbounded_send(Outgoing { bytes, written: Some(written_tx) }).is_ok();
    let _ = answered.send(());
    if !queued || written.await.is_err() {
        return;
    }
    while let Ok(event) = events.recv_async().await {
        match event {
            Ok(e) => {
                let end = e.end.is_some();
                let push =
                    Frame { correlation_id: id, body: FrameBody::Push(Push::SubscribeToShardEvent(wire_event(e))) };
                if !send_and_wait(&out, &push).await || end {
                    return;
                }
            }
            Err(e) => {
                send(&out, &error_frame(id, opcode, Failure::from(e)));
                return;
            }
        }
    }
    let f = Failure::new(Status::ServiceUnavailable, "The server is shutting down; resubscribe later.");
    send(&out, &error_frame(id, opcode, f));
}

/// Removes a subscription id from the live set when dropped.
struct LiveGuard(Rc<RefCell<HashSet<u64>>>, u64);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.borrow_mut().remove(&self.1);
    }
}

fn error_frame(correlation_id: u64, opcode: u16, f: Failure) -> Frame {
    Frame { correlation_id, body: FrameBody::Error(ErrorFrame { opcode, status: f.status, message: f.message }) }
}

/// A frame for the writer, and who to tell once it is written (pushes wait
/// for that before producing the next one: a slow client holds back its
/// own subscriptions instead of growing a queue).
pub struct Outgoing {
    bytes: Bytes,
    written: Option<oneshot::Sender<()>>,
}

fn send(out: &mpsc::UnboundedSender<Outgoing>, frame: &Frame) {
    if let Some(bytes) = encode(frame) {
        let _ = out.unbounded_send(Outgoing { bytes, written: None });
    }
}

/// Queues a frame and waits until it has been written to the socket;
/// `false` if the connection is gone.
pub async fn send_and_wait(out: &mpsc::UnboundedSender<Outgoing>, frame: &Frame) -> bool {
    let Some(bytes) = encode(frame) else { return false };
    let (tx, rx) = oneshot::channel();
    if out.unbounded_send(Outgoing { bytes, written: Some(tx) }).is_err() {
        return false;
    }
    rx.await.is_ok()
}

fn encode(frame: &Frame) -> Option<Bytes> {
    let mut buf = response_buffers::take(encoded_size_hint(frame));
    if let Err(e) = frame.encode(&mut buf) {
        // A response that cannot be encoded (e.g. over the frame limit)
        // becomes an error frame, so the client is never left waiting.
        tracing::error!(error = %e, "response could not be encoded");
        buf.clear();
        let fallback = Frame {
            correlation_id: frame.correlation_id,
            body: FrameBody::Error(ErrorFrame {
                opcode: frame.opcode(),
                status: Status::InternalFailure,
                message: format!("response could not be encoded: {e}"),
            }),
        };
        if fallback.encode(&mut buf).is_err() {
            return None;
        }
    }
    Some(buf.freeze())
}

/// Roughly the encoded size, so that large responses are encoded into one
/// allocation instead of a doubling series of copies.
fn encoded_size_hint(frame: &Frame) -> usize {
    const PER_RECORD_OVERHEAD: usize = 48;
    match &frame.body {
        FrameBody::Response(Response::GetRecords(r)) => {
            256 + r.records.iter().map(|r| r.data.len() + r.partition_key.len() + PER_RECORD_OVERHEAD).sum::<usize>()
        }
        FrameBody::Response(Response::PutRecords(r)) => 256 + r.records.len() * 32,
        _ => 256,
    }
}

async fn write_loop(
    mut writer: futures::io::WriteHalf<TcpStream>,
    mut frames: mpsc::UnboundedReceiver<Outgoing>,
    peer: String,
) {
    let mut batch = Vec::with_capacity(WRITE_BUFFER_BYTES);
    let mut acks = Vec::new();
    while let Some(first) = frames.next().await {
        batch.clear();
        acks.clear();
        let large = first.bytes.len() >= WRITE_BUFFER_BYTES;
        acks.extend(first.written);
        let written = if large {
            // Large responses go out as they are, without a copy, and
            // their buffers are reused.
            let written = writer.write_all(&first.bytes).await;
            response_buffers::give_back(first.bytes);
            written
        } else {
            batch.extend_from_slice(&first.bytes);
            // Coalesce whatever else is ready into one write.
            while batch.len() < WRITE_BUFFER_BYTES {
                match frames.try_recv() {
                    Ok(more) => {
                        batch.extend_from_slice(&more.bytes);
                        acks.extend(more.written);
                    }
                    _ => break,
                }
            }
            writer.write_all(&batch).await
        };
        if let Err(e) = written {
            tracing::debug!(%peer, error = %e, "write failed; dropping the connection's responses");
            return;
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
    let _ = writer.flush().await;
    let _ = writer.close().await;
}
