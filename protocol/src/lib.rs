//! Shoal's wire protocol: a compact, little-endian binary framing of Kinesis-like operations.
//!
//! The codec is sans-I/O: it decodes from byte slices and encodes into a caller-owned
//! `BytesMut`, and it has no sockets, no async and no runtime. The server, the load generator
//! and any client drive it from their own I/O loops. The one exception is [`client`] (cargo
//! feature `client`, on by default): a pipelined TCP client built on the codec, for plain
//! threads or any async runtime. `--no-default-features` leaves the codec alone. PROTOCOL.md at the repository root is the
//! normative description, with byte-by-byte examples that `tests/protocol_doc.rs` checks
//! against this code.
//!
//! # Frame
//!
//! ```text
//!  0       4   5   6       8               16      20      24
//!  +-------+---+---+-------+---------------+-------+-------+----------------------+
//!  | body  |ver|kind opcode| correlation id| flags | hdr   | body (body_size      |
//!  | size  | 1 |   |  u16  |      u64      |  = 0  | crc32 |  bytes, per opcode)  |
//!  +-------+---+---+-------+---------------+-------+-------+----------------------+
//! ```
//!
//! The header is 24 bytes with its own CRC-32, so the body length is trusted (and refused when
//! over 16 MiB) from the header alone. Requests carry a client-chosen correlation id; the
//! response or error frame echoes it, so requests can be pipelined and answered out of order.
//! A SubscribeToShard request is answered once, then followed by push frames that carry the
//! same correlation id: the subscription's events.
//!
//! # Two kinds of decode failure
//!
//! - A [`FramingError`] (bad version, header checksum, kind, flags, or size) means the byte
//!   stream can no longer be split into frames: the connection must be closed.
//! - A [`BodyError`] means one frame's body did not decode (unknown opcode, truncated field,
//!   bad enum value...). Framing is intact, so the server answers with an error frame carrying
//!   the same correlation id, and the connection carries on.
//!
//! # Layout
//!
//! - [`limits`]: every named limit, with compile-time checks that they fit together.
//! - [`header`]: the fixed header and its checks.
//! - [`frame`]: `decode` (complete / incomplete / invalid), `decode_from`, `Frame::encode`.
//! - [`codec`]: bounds-checked little-endian reader and writer of the wire's primitives.
//! - [`ops`]: the opcode table, each operation's request and response, and push events.
//! - [`status`]: wire status codes (stable numbers, never reused).
//! - [`error`]: framing, body, encode and validation errors.
//! - [`validate`]: the Kinesis rules a server applies to decoded requests.
//! - [`iterator`]: the sealed, authenticated shard iterator token.
//! - `client` (feature `client`): the Rust client, the only module that does I/O.

#![forbid(unsafe_code)]
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic))]

#[cfg(feature = "client")]
pub mod client;
pub mod codec;
pub mod error;
pub mod frame;
pub mod header;
pub mod iterator;
pub mod limits;
pub mod ops;
pub mod status;
pub mod validate;

pub use error::{BodyError, EncodeError, FramingError, ValidationError, WireError};
pub use frame::{decode, decode_from, decode_raw, Decoded, ErrorFrame, Frame, FrameBody, RawFrame};
pub use header::{FrameHeader, FrameKind, HEADER_SIZE_BYTES};
pub use iterator::{IteratorError, IteratorPosition, ShardIteratorToken};
pub use ops::{Opcode, Push, Request, Response};
pub use status::Status;
