//! What a client call can fail with, one variant per thing the caller may want to act on.
//!
//! - [`ClientError::Service`]: the server answered with an error frame. The status keeps its
//!   Kinesis exception name ([`Status::name`]), so callers can match on it as they would on
//!   Kinesis' `__type`.
//! - [`ClientError::Connect`], [`ClientError::ConnectionLost`]: the socket. A request in flight
//!   when the connection was lost may or may not have been applied.
//! - [`ClientError::Timeout`]: no answer in time; the request may still be applied later.
//! - [`ClientError::Protocol`]: the server broke the protocol in a way that spares the
//!   connection (an answer that does not fit its request).
//! - [`ClientError::Encode`]: the request cannot be put on the wire (a field too long for its
//!   length prefix, a frame over 16 MiB). Nothing was sent.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{BodyError, EncodeError, FramingError};
use crate::ops::Opcode;
use crate::status::Status;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error frame.
    #[error("{}: {message}", status.name())]
    Service { status: Status, message: String },
    /// No connection could be opened (address resolution, refusal, connect timeout).
    #[error("cannot connect: {0}")]
    Connect(#[source] std::io::Error),
    /// The connection broke while the request was in flight (or could not be written).
    #[error("connection lost: {0}")]
    ConnectionLost(#[source] Arc<LostReason>),
    /// No answer within the configured request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server's answer did not fit the request.
    #[error("protocol violation by the server: {0}")]
    Protocol(#[from] ProtocolError),
    /// The request cannot be encoded; nothing was sent.
    #[error("cannot encode the request: {0}")]
    Encode(#[from] EncodeError),
}

impl ClientError {
    /// Whether sending the same request again, after a backoff, may succeed: the retryable
    /// statuses ([`Status::is_retryable`]: throttling, internal failure, service unavailable),
    /// failures to connect, and a lost connection. A timeout is not retried: the server may
    /// still be working on the request, and retrying would multiply the wait.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Service { status, .. } => status.is_retryable(),
            ClientError::Connect(_) | ClientError::ConnectionLost(_) => true,
            ClientError::Timeout(_) | ClientError::Protocol(_) | ClientError::Encode(_) => false,
        }
    }

    /// The server's status, for a [`ClientError::Service`].
    pub fn status(&self) -> Option<Status> {
        match self {
            ClientError::Service { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Why a connection ended. Shared by every request that was in flight on it.
#[derive(Debug, thiserror::Error)]
pub enum LostReason {
    /// The server closed the connection (end of stream).
    #[error("the server closed the connection")]
    ClosedByServer,
    /// The server sent an error frame about the connection itself (correlation id 0, e.g. a
    /// framing error it found in what it read), then closed.
    #[error("the server closed the connection after {}: {message}", status.name())]
    Farewell { status: Status, message: String },
    /// Reading or writing the socket failed.
    #[error("socket error: {0}")]
    Io(#[source] std::io::Error),
    /// The server sent bytes that cannot be split into frames, so the client closed.
    #[error("the server's byte stream cannot be framed: {0}")]
    Framing(#[source] FramingError),
    /// Every handle to the connection was dropped.
    #[error("the client closed the connection")]
    ClosedByClient,
}

/// An answer that does not fit its request. The connection stays usable.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A response frame for another operation than the request's.
    #[error("the answer to a {} request is a {} response", expected.name(), got.name())]
    WrongResponse { expected: Opcode, got: Opcode },
    /// The answer's body did not decode.
    #[error("the answer did not decode: {0}")]
    Body(#[source] BodyError),
    /// The server sent a request frame, which only clients may send.
    #[error("the server sent a request frame (opcode {opcode:#06x})")]
    RequestFromServer { opcode: u16 },
    /// A PutRecords answer whose result count differs from the request's record count.
    #[error("PutRecords sent {sent} records but the answer has {got} results")]
    ResultCountMismatch { sent: usize, got: usize },
}
