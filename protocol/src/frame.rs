//! Framing: splitting a byte stream into frames, and encoding frames into a caller's buffer.
//!
//! Decoding has two stages so that each kind of failure has one meaning:
//! 1. [`decode_raw`] finds the frame boundary from the header alone. It fails only with a
//!    [`FramingError`], after which the stream cannot be trusted: close the connection.
//! 2. [`Frame::decode_body`] turns the body into a typed message. It fails with a
//!    [`BodyError`] that carries the correlation id, so the server answers with an error frame
//!    and reads the next frame as usual.
//!
//! [`decode`] runs both over a borrowed slice (copying the body once); [`decode_from`] runs both
//! over a `BytesMut` read buffer without copying: record payloads come out as `Bytes` slices of
//! the received buffer.

use bytes::{Bytes, BytesMut};

use crate::codec::{Note, Reader, Writer};
use crate::error::{BodyError, EncodeError, FramingError, WireError};
use crate::header::{FrameHeader, FrameKind, HEADER_SIZE_BYTES, VERSION_OFFSET};
use crate::limits::{FRAME_BODY_SIZE_BYTES_MAX, PROTOCOL_VERSION};
use crate::ops::{Opcode, Push, Request, Response};
use crate::status::Status;

/// The outcome of trying to decode one frame from the front of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A whole frame, and how many bytes of the buffer it took.
    Complete(T, usize),
    /// The buffer holds only part of a frame: at least this many more bytes are needed.
    Incomplete(usize),
    /// The stream cannot be framed: close the connection.
    Invalid(FramingError),
}

impl<T> Decoded<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decoded<U> {
        match self {
            Decoded::Complete(t, consumed) => Decoded::Complete(f(t), consumed),
            Decoded::Incomplete(needed) => Decoded::Incomplete(needed),
            Decoded::Invalid(e) => Decoded::Invalid(e),
        }
    }
}

/// A framed but undecoded frame, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame<'a> {
    pub header: FrameHeader,
    pub body: &'a [u8],
}

/// The body of an error frame: why the request with the same correlation id failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFrame {
    /// The failed request's opcode as received (it may be one this peer does not know), or 0
    /// when the error is about framing and no opcode could be trusted.
    pub opcode: u16,
    pub status: Status,
    pub message: String,
}

/// What a frame carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameBody {
    Request(Request),
    Response(Response),
    Error(ErrorFrame),
    /// An event of the subscription opened by the request with the frame's correlation id.
    Push(Push),
}

/// A typed frame: a message and the correlation id that pairs a response with its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub correlation_id: u64,
    pub body: FrameBody,
}

/// Finds the first frame in `buf` and checks its header, without decoding the body.
pub fn decode_raw(buf: &[u8]) -> Decoded<RawFrame<'_>> {
    // The version byte is checked as soon as it arrives: a peer speaking another version may
    // use another header size, so nothing else about its bytes can be assumed.
    if let Some(&version) = buf.get(VERSION_OFFSET) {
        if version != PROTOCOL_VERSION {
            return Decoded::Invalid(FramingError::UnsupportedVersion { version, supported: PROTOCOL_VERSION });
        }
    }
    let Some(header_bytes) = buf.first_chunk::<HEADER_SIZE_BYTES>() else {
        return Decoded::Incomplete(HEADER_SIZE_BYTES - buf.len());
    };
    let header = match FrameHeader::parse(header_bytes) {
        Ok(header) => header,
        Err(e) => return Decoded::Invalid(e),
    };
    // parse() bounded the size by FRAME_BODY_SIZE_BYTES_MAX, so this cannot overflow.
    let frame_size_bytes = HEADER_SIZE_BYTES + header.body_size_bytes as usize;
    match buf.get(HEADER_SIZE_BYTES..frame_size_bytes) {
        Some(body) => Decoded::Complete(RawFrame { header, body }, frame_size_bytes),
        None => Decoded::Incomplete(frame_size_bytes - buf.len()),
    }
}

/// Decodes the first frame in `buf`. The body is copied once into a `Bytes`; use
/// [`decode_from`] on a read buffer to avoid that copy.
pub fn decode(buf: &[u8]) -> Decoded<Result<Frame, BodyError>> {
    decode_raw(buf).map(|raw| Frame::decode_body(&raw.header, Bytes::copy_from_slice(raw.body)))
}

/// Decodes the first frame in a read buffer and removes its bytes from the buffer. Blobs in
/// the result share the buffer's memory. On `Incomplete` or `Invalid` the buffer is untouched.
pub fn decode_from(buf: &mut BytesMut) -> Decoded<Result<Frame, BodyError>> {
    let (header, consumed) = match decode_raw(buf) {
        Decoded::Complete(raw, consumed) => (raw.header, consumed),
        Decoded::Incomplete(needed) => return Decoded::Incomplete(needed),
        Decoded::Invalid(e) => return Decoded::Invalid(e),
    };
    let mut frame = buf.split_to(consumed).freeze();
    let body = frame.split_off(HEADER_SIZE_BYTES);
    Decoded::Complete(Frame::decode_body(&header, body), consumed)
}

impl ErrorFrame {
    fn decode(opcode: u16, r: &mut Reader<'_>) -> Result<ErrorFrame, WireError> {
        let status = Status::from_code(r.u16("status")?);
        let message = r.string("message")?;
        Ok(ErrorFrame { opcode, status, message })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16("status", self.status.code());
        w.string("message", &self.message)
    }
}

impl Frame {
    pub fn kind(&self) -> FrameKind {
        match self.body {
            FrameBody::Request(_) => FrameKind::Request,
            FrameBody::Response(_) => FrameKind::Response,
            FrameBody::Error(_) => FrameKind::Error,
            FrameBody::Push(_) => FrameKind::Push,
        }
    }

    pub fn opcode(&self) -> u16 {
        match &self.body {
            FrameBody::Request(request) => request.opcode() as u16,
            FrameBody::Response(response) => response.opcode() as u16,
            FrameBody::Error(error) => error.opcode,
            FrameBody::Push(push) => push.opcode() as u16,
        }
    }

    /// For a server: the request this frame carries, or else the error frame that answers a
    /// frame a client must not send (a response, an error or a push), per PROTOCOL.md §3.2.
    pub fn into_request(self) -> Result<(u64, Request), Box<Frame>> {
        let correlation_id = self.correlation_id;
        let (opcode, kind) = (self.opcode(), self.kind());
        match self.body {
            FrameBody::Request(request) => Ok((correlation_id, request)),
            FrameBody::Response(_) | FrameBody::Error(_) | FrameBody::Push(_) => {
                Err(Box::new(Frame::not_a_request(correlation_id, opcode, kind)))
            }
        }
    }

    /// A server's answer to a frame of `kind` (anything but a request) from a client:
    /// MalformedFrame, with the frame's correlation id and opcode. Framing is intact, so the
    /// connection goes on; the body is never looked at.
    pub fn not_a_request(correlation_id: u64, opcode: u16, kind: FrameKind) -> Frame {
        Frame {
            correlation_id,
            body: FrameBody::Error(ErrorFrame {
                opcode,
                status: Status::MalformedFrame,
                message: format!("a client may send only request frames, not {kind:?} frames"),
            }),
        }
    }

    /// Decodes a body whose header has already been checked by [`decode_raw`].
    pub fn decode_body(header: &FrameHeader, body: Bytes) -> Result<Frame, BodyError> {
        let mut r = Reader::new(&body);
        let opcode = || Opcode::from_u16(header.opcode).ok_or(WireError::UnknownOpcode { opcode: header.opcode });
        let decoded = match header.kind {
            FrameKind::Request => opcode().and_then(|op| Request::decode(op, &mut r)).map(FrameBody::Request),
            FrameKind::Response => opcode().and_then(|op| Response::decode(op, &mut r)).map(FrameBody::Response),
            FrameKind::Error => ErrorFrame::decode(header.opcode, &mut r).map(FrameBody::Error),
            FrameKind::Push => opcode().and_then(|op| Push::decode(op, &mut r)).map(FrameBody::Push),
        };
        match decoded.and_then(|body| r.finish().map(|()| body)) {
            Ok(body) => Ok(Frame { correlation_id: header.correlation_id, body }),
            Err(source) => Err(BodyError {
                correlation_id: header.correlation_id,
                kind: header.kind,
                opcode: header.opcode,
                source,
            }),
        }
    }

    /// Appends the encoded frame to `dst`. On error `dst` is left as it was.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
        self.encode_with(&mut Writer::new(dst))
    }

    /// The encoded frame with a note naming the field of every byte. Used to generate and check
    /// PROTOCOL.md's examples; not needed by clients or servers.
    #[doc(hidden)]
    pub fn encode_annotated(&self) -> Result<(Bytes, Vec<Note>), EncodeError> {
        let mut dst = BytesMut::new();
        let mut w = Writer::annotated(&mut dst);
        self.encode_with(&mut w)?;
        let notes = w.into_notes();
        Ok((dst.freeze(), notes))
    }

    /// Appends a request frame to `dst` without taking ownership of the request, so a client
    /// can send the same request again (a retry) without cloning it. On error `dst` is left as
    /// it was.
    pub fn encode_request(correlation_id: u64, request: &Request, dst: &mut BytesMut) -> Result<(), EncodeError> {
        encode_frame(&mut Writer::new(dst), FrameKind::Request, request.opcode() as u16, correlation_id, |w| {
            request.encode(w)
        })
    }

    fn encode_with(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        encode_frame(w, self.kind(), self.opcode(), self.correlation_id, |w| match &self.body {
            FrameBody::Request(request) => request.encode(w),
            FrameBody::Response(response) => response.encode(w),
            FrameBody::Error(error) => error.encode(w),
            FrameBody::Push(push) => push.encode(w),
        })
    }
}

/// Writes a header, the body `encode_body` writes, then patches the header's size and checksum.
fn encode_frame(
    w: &mut Writer<'_>,
    kind: FrameKind,
    opcode: u16,
    correlation_id: u64,
    encode_body: impl FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    // The header is written with zeros for the size and checksum (annotated like the real
    // ones), then patched once the body's size is known.
    w.u32("body_size_bytes", 0);
    w.u8("version", PROTOCOL_VERSION);
    w.u8("kind", kind as u8);
    w.u16("opcode", opcode);
    w.u64("correlation_id", correlation_id);
    w.u32("flags", 0);
    w.u32("header_crc32", 0);
    if let Err(e) = encode_body(w) {
        w.rollback();
        return Err(e);
    }
    let body_size_bytes = w.written() - HEADER_SIZE_BYTES;
    let Some(body_size_bytes) = u32::try_from(body_size_bytes).ok().filter(|&n| n <= FRAME_BODY_SIZE_BYTES_MAX) else {
        w.rollback();
        return Err(EncodeError::FrameTooLarge {
            size_bytes: body_size_bytes,
            max_bytes: FRAME_BODY_SIZE_BYTES_MAX as usize,
        });
    };
    let header = FrameHeader { body_size_bytes, kind, opcode, correlation_id };
    for (dst, src) in w.written_mut().iter_mut().zip(header.to_bytes()) {
        *dst = src;
    }
    Ok(())
}
