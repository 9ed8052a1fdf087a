//! The crate's errors, one type per way things go wrong, so callers can act on the kind:
//!
//! - [`FramingError`]: the byte stream can no longer be split into frames. Close the connection
//!   (after sending the error frame from [`FramingError::farewell`], if you are the server).
//! - [`BodyError`]: one frame's body is malformed but framing is intact. Answer it with
//!   [`BodyError::error_frame`] (same correlation id) and keep the connection.
//! - [`WireError`]: what exactly was wrong inside a body, with the offset.
//! - [`EncodeError`]: a value that cannot be represented on the wire.
//! - [`ValidationError`]: a decoded request that breaks a Kinesis rule; see `validate`.

use crate::frame::{ErrorFrame, Frame, FrameBody};
use crate::header::FrameKind;
use crate::status::Status;

/// What was wrong inside a frame body. Offsets are byte offsets from the start of the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("unexpected end of body reading {field} at offset {offset}: need {need} bytes, have {have}")]
    UnexpectedEof { field: &'static str, offset: usize, need: usize, have: usize },
    #[error("{field} at offset {offset} claims {count} items, but only {have} bytes remain")]
    CountTooLarge { field: &'static str, offset: usize, count: u32, have: usize },
    #[error("{field} at offset {offset} is not valid UTF-8")]
    InvalidUtf8 { field: &'static str, offset: usize },
    #[error("{field} at offset {offset} has value {value}, which is not defined")]
    InvalidValue { field: &'static str, offset: usize, value: u64 },
    #[error("{extra} trailing bytes after the body's last field at offset {offset}")]
    TrailingBytes { offset: usize, extra: usize },
    #[error("failed_record_count is {declared} but {actual} entries failed")]
    FailedCountMismatch { declared: u32, actual: u32 },
    #[error("unknown opcode {opcode:#06x}")]
    UnknownOpcode { opcode: u16 },
    /// A known opcode that this version reserves without serving it (none in version 1).
    #[error("opcode {opcode:#06x} ({name}) is reserved but not served by this version")]
    OpcodeNotServed { opcode: u16, name: &'static str },
    /// A request or response frame with an opcode that only push frames carry.
    #[error("opcode {opcode:#06x} ({name}) is sent only in push frames")]
    PushOnly { opcode: u16, name: &'static str },
    /// A push frame with an opcode that is not a push event.
    #[error("opcode {opcode:#06x} ({name}) is not sent in push frames")]
    NotPushed { opcode: u16, name: &'static str },
}

impl WireError {
    /// The status a server answers this error with.
    pub fn status(&self) -> Status {
        match self {
            WireError::UnknownOpcode { .. }
            | WireError::OpcodeNotServed { .. }
            | WireError::PushOnly { .. }
            | WireError::NotPushed { .. } => Status::UnsupportedOperation,
            WireError::UnexpectedEof { .. }
            | WireError::CountTooLarge { .. }
            | WireError::InvalidUtf8 { .. }
            | WireError::InvalidValue { .. }
            | WireError::TrailingBytes { .. }
            | WireError::FailedCountMismatch { .. } => Status::MalformedFrame,
        }
    }
}

/// A malformed body inside intact framing: the connection can go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?} frame, opcode {opcode:#06x}, correlation id {correlation_id}: {source}")]
pub struct BodyError {
    pub correlation_id: u64,
    pub kind: FrameKind,
    pub opcode: u16,
    #[source]
    pub source: WireError,
}

impl BodyError {
    pub fn status(&self) -> Status {
        self.source.status()
    }

    /// The error frame a server sends back for a bad request: same correlation id and opcode.
    pub fn error_frame(&self) -> Frame {
        Frame {
            correlation_id: self.correlation_id,
            body: FrameBody::Error(ErrorFrame {
                opcode: self.opcode,
                status: self.status(),
                message: self.source.to_string(),
            }),
        }
    }
}

/// The stream of bytes cannot be framed any more: the connection must be closed.
///
/// Variants found after the header checksum verified carry the header's correlation id and
/// opcode, which can then be trusted and echoed in a farewell error frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("unsupported protocol version {version} (this peer speaks {supported})")]
    UnsupportedVersion { version: u8, supported: u8 },
    #[error("header checksum mismatch: header says {declared:#010x}, computed {computed:#010x}")]
    HeaderChecksum { declared: u32, computed: u32 },
    #[error("unknown frame kind {kind} (correlation id {correlation_id})")]
    UnknownKind { kind: u8, correlation_id: u64, opcode: u16 },
    #[error("header flags {flags:#010x} are not defined in this version (correlation id {correlation_id})")]
    UnsupportedFlags { flags: u32, correlation_id: u64, opcode: u16 },
    #[error(
        "frame body of {body_size_bytes} bytes is over the {max_bytes}-byte limit (correlation id {correlation_id})"
    )]
    TooLarge { body_size_bytes: u32, max_bytes: u32, correlation_id: u64, opcode: u16 },
}

impl FramingError {
    pub fn status(&self) -> Status {
        match self {
            FramingError::UnsupportedVersion { .. } => Status::UnsupportedVersion,
            FramingError::TooLarge { .. } => Status::FrameTooLarge,
            FramingError::HeaderChecksum { .. }
            | FramingError::UnknownKind { .. }
            | FramingError::UnsupportedFlags { .. } => Status::MalformedFrame,
        }
    }

    /// The header's correlation id and opcode, when the header was trustworthy; else zeros.
    pub fn correlation(&self) -> (u64, u16) {
        match *self {
            FramingError::UnsupportedVersion { .. } | FramingError::HeaderChecksum { .. } => (0, 0),
            FramingError::UnknownKind { correlation_id, opcode, .. }
            | FramingError::UnsupportedFlags { correlation_id, opcode, .. }
            | FramingError::TooLarge { correlation_id, opcode, .. } => (correlation_id, opcode),
        }
    }

    /// The last frame a server sends before it closes the connection.
    pub fn farewell(&self) -> Frame {
        let (correlation_id, opcode) = self.correlation();
        Frame {
            correlation_id,
            body: FrameBody::Error(ErrorFrame { opcode, status: self.status(), message: self.to_string() }),
        }
    }
}

/// A value that the wire format cannot carry. Encoding writes nothing when it fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{field} is {size_bytes} bytes, over the {max_bytes}-byte limit of its length prefix")]
    TooLong { field: &'static str, size_bytes: usize, max_bytes: usize },
    #[error("frame body is {size_bytes} bytes, over the {max_bytes}-byte frame limit")]
    FrameTooLarge { size_bytes: usize, max_bytes: usize },
}

/// A request that decodes but breaks a rule. The message follows Kinesis' wording where Kinesis
/// has one, so that tools which match on it keep working.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ValidationError {
    /// `Validation` for a broken field constraint, `InvalidArgument` for a semantic rule.
    pub status: Status,
    pub message: String,
}

impl ValidationError {
    /// The error frame a server sends back for a request that failed validation.
    pub fn error_frame(&self, correlation_id: u64, opcode: u16) -> Frame {
        Frame {
            correlation_id,
            body: FrameBody::Error(ErrorFrame { opcode, status: self.status, message: self.message.clone() }),
        }
    }
}
