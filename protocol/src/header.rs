//! The fixed 24-byte frame header.
//!
//! ```text
//! offset  size  field
//!      0     4  body_size_bytes  u32  bytes after the header (the header is not counted)
//!      4     1  version          u8   1
//!      5     1  kind             u8   1 request, 2 response, 3 error, 4 push
//!      6     2  opcode           u16  operation (a response or error echoes the request's)
//!      8     8  correlation_id   u64  chosen by the requester, echoed in the answer
//!     16     4  flags            u32  none defined in version 1: must be 0
//!     20     4  header_crc32     u32  CRC-32 (IEEE, as zlib) of bytes 0..20
//! ```
//!
//! The header has its own checksum so that the length can be trusted before the body is read:
//! a peer that lost sync (or is not speaking this protocol) is caught from 24 bytes instead of
//! making us wait for, or allocate, up to 16 MiB. The body has no checksum: TCP already covers
//! it, and the engine checksums what it stores. The version byte sits at a fixed offset that
//! every future version keeps, and is checked before the checksum, so a peer speaking another
//! version is told so rather than "bad checksum".

use crate::error::FramingError;
use crate::limits::{FRAME_BODY_SIZE_BYTES_MAX, PROTOCOL_VERSION};

/// Size of the fixed header in bytes.
pub const HEADER_SIZE_BYTES: usize = 24;
const _: () = assert!(HEADER_SIZE_BYTES == 4 + 1 + 1 + 2 + 8 + 4 + 4);
// Keeps the body 8-byte aligned in a buffer that starts aligned.
const _: () = assert!(HEADER_SIZE_BYTES % 8 == 0);

/// Offset of the version byte; the same in every version of the protocol.
pub const VERSION_OFFSET: usize = 4;
/// The checksum covers the header bytes before it.
pub const HEADER_CRC_OFFSET: usize = 20;

/// What a frame is, which decides how its body is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// Client to server.
    Request = 1,
    /// Server to client: the operation succeeded; the body is the operation's output.
    Response = 2,
    /// Server to client: the operation failed; the body is a status code and a message.
    Error = 3,
    /// Server to client, after the response to a SubscribeToShard request: an event of that
    /// subscription, with the request's correlation id.
    Push = 4,
}

impl FrameKind {
    pub fn from_u8(v: u8) -> Option<FrameKind> {
        match v {
            1 => Some(FrameKind::Request),
            2 => Some(FrameKind::Response),
            3 => Some(FrameKind::Error),
            4 => Some(FrameKind::Push),
            _ => None,
        }
    }
}

/// A decoded header. `flags` is not stored: version 1 requires it to be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub body_size_bytes: u32,
    pub kind: FrameKind,
    pub opcode: u16,
    pub correlation_id: u64,
}

/// The header's CRC-32, over the bytes before the checksum field.
pub fn header_crc32(header: &[u8; HEADER_SIZE_BYTES]) -> u32 {
    let covered = header.get(..HEADER_CRC_OFFSET).unwrap_or_default();
    crc32fast::hash(covered)
}

impl FrameHeader {
    /// The header's 24 bytes, checksum included.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE_BYTES] {
        let [l0, l1, l2, l3] = self.body_size_bytes.to_le_bytes();
        let [o0, o1] = self.opcode.to_le_bytes();
        let [c0, c1, c2, c3, c4, c5, c6, c7] = self.correlation_id.to_le_bytes();
        let kind = self.kind as u8;
        #[rustfmt::skip]
        let mut out = [
            l0, l1, l2, l3, PROTOCOL_VERSION, kind, o0, o1,
            c0, c1, c2, c3, c4, c5, c6, c7,
            0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let [k0, k1, k2, k3] = header_crc32(&out).to_le_bytes();
        let [.., x0, x1, x2, x3] = &mut out;
        (*x0, *x1, *x2, *x3) = (k0, k1, k2, k3);
        out
    }

    /// Parses and checks a complete header. The checks run in the order a reader can trust
    /// them: version (fixed offset), checksum, then the fields the checksum vouches for.
    pub fn parse(bytes: &[u8; HEADER_SIZE_BYTES]) -> Result<FrameHeader, FramingError> {
        #[rustfmt::skip]
        let [
            l0, l1, l2, l3, version, kind, o0, o1,
            c0, c1, c2, c3, c4, c5, c6, c7,
            f0, f1, f2, f3, k0, k1, k2, k3,
        ] = *bytes;
        if version != PROTOCOL_VERSION {
            return Err(FramingError::UnsupportedVersion { version, supported: PROTOCOL_VERSION });
        }
        let declared = u32::from_le_bytes([k0, k1, k2, k3]);
        let computed = header_crc32(bytes);
        if declared != computed {
            return Err(FramingError::HeaderChecksum { declared, computed });
        }
        let body_size_bytes = u32::from_le_bytes([l0, l1, l2, l3]);
        let opcode = u16::from_le_bytes([o0, o1]);
        let correlation_id = u64::from_le_bytes([c0, c1, c2, c3, c4, c5, c6, c7]);
        let flags = u32::from_le_bytes([f0, f1, f2, f3]);
        let Some(kind) = FrameKind::from_u8(kind) else {
            return Err(FramingError::UnknownKind { kind, correlation_id, opcode });
        };
        if flags != 0 {
            return Err(FramingError::UnsupportedFlags { flags, correlation_id, opcode });
        }
        if body_size_bytes > FRAME_BODY_SIZE_BYTES_MAX {
            return Err(FramingError::TooLarge {
                body_size_bytes,
                max_bytes: FRAME_BODY_SIZE_BYTES_MAX,
                correlation_id,
                opcode,
            });
        }
        Ok(FrameHeader { body_size_bytes, kind, opcode, correlation_id })
    }
}
