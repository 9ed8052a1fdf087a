//! Wire status codes: what an error frame (and a failed PutRecords entry) says went wrong.
//!
//! The numbers are a contract with every client ever built. A code that stops being used is
//! retired, never given a new meaning; the table in PROTOCOL.md keeps retired rows. Codes below
//! 0x0100 mirror Kinesis exceptions, so a Kinesis-shaped client can map them by name; codes from
//! 0x0100 are about the protocol itself and have no Kinesis counterpart.

/// A wire status code. Unknown numbers decode as [`Status::Unrecognized`] so that an older
/// client keeps working against a newer server; it treats them as non-retryable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 0x0001: the stream or shard does not exist (or the stream is still CREATING).
    ResourceNotFound,
    /// 0x0002: the resource is busy, e.g. not ACTIVE for a reshard, or the name is taken.
    ResourceInUse,
    /// 0x0003: the request is well formed but semantically wrong.
    InvalidArgument,
    /// 0x0004: a control-plane rate or a quota was exceeded.
    LimitExceeded,
    /// 0x0005: a shard's read or write throughput was exceeded.
    ProvisionedThroughputExceeded,
    /// 0x0006: the shard iterator is older than its lifetime.
    ExpiredIterator,
    /// 0x0007: the pagination token is older than its lifetime.
    ExpiredNextToken,
    /// 0x0008: the server failed; the request may or may not have taken effect.
    InternalFailure,
    /// 0x0009: a field broke a declared constraint (length, pattern, range).
    Validation,
    /// 0x0100: the opcode is unknown or not served by this server.
    UnsupportedOperation,
    /// 0x0101: the body does not decode for its opcode.
    MalformedFrame,
    /// 0x0102: the header's protocol version is not spoken here. The connection is closed.
    UnsupportedVersion,
    /// 0x0103: the header announced a body over the limit. The connection is closed.
    FrameTooLarge,
    /// 0x0104: the server is shutting down or overloaded; nothing was done.
    ServiceUnavailable,
    /// A code this build does not know. Only decoding produces it.
    Unrecognized(u16),
}

impl Status {
    /// Every known status, in code order.
    pub const KNOWN: [Status; 14] = [
        Status::ResourceNotFound,
        Status::ResourceInUse,
        Status::InvalidArgument,
        Status::LimitExceeded,
        Status::ProvisionedThroughputExceeded,
        Status::ExpiredIterator,
        Status::ExpiredNextToken,
        Status::InternalFailure,
        Status::Validation,
        Status::UnsupportedOperation,
        Status::MalformedFrame,
        Status::UnsupportedVersion,
        Status::FrameTooLarge,
        Status::ServiceUnavailable,
    ];

    /// The wire number.
    pub fn code(self) -> u16 {
        match self {
            Status::ResourceNotFound => 0x0001,
            Status::ResourceInUse => 0x0002,
            Status::InvalidArgument => 0x0003,
            Status::LimitExceeded => 0x0004,
            Status::ProvisionedThroughputExceeded => 0x0005,
            Status::ExpiredIterator => 0x0006,
            Status::ExpiredNextToken => 0x0007,
            Status::InternalFailure => 0x0008,
            Status::Validation => 0x0009,
            Status::UnsupportedOperation => 0x0100,
            Status::MalformedFrame => 0x0101,
            Status::UnsupportedVersion => 0x0102,
            Status::FrameTooLarge => 0x0103,
            Status::ServiceUnavailable => 0x0104,
            Status::Unrecognized(code) => code,
        }
    }

    /// The status for a wire number; unknown numbers (0 included) become `Unrecognized`.
    pub fn from_code(code: u16) -> Status {
        match code {
            0x0001 => Status::ResourceNotFound,
            0x0002 => Status::ResourceInUse,
            0x0003 => Status::InvalidArgument,
            0x0004 => Status::LimitExceeded,
            0x0005 => Status::ProvisionedThroughputExceeded,
            0x0006 => Status::ExpiredIterator,
            0x0007 => Status::ExpiredNextToken,
            0x0008 => Status::InternalFailure,
            0x0009 => Status::Validation,
            0x0100 => Status::UnsupportedOperation,
            0x0101 => Status::MalformedFrame,
            0x0102 => Status::UnsupportedVersion,
            0x0103 => Status::FrameTooLarge,
            0x0104 => Status::ServiceUnavailable,
            other => Status::Unrecognized(other),
        }
    }

    /// The Kinesis exception name (`__type` in the JSON API). Protocol-level codes get names of
    /// the same shape. Note that a failed PutRecords entry in Kinesis JSON says `InternalFailure`
    /// where the exception is `InternalFailureException`.
    pub fn name(self) -> &'static str {
        match self {
            Status::ResourceNotFound => "ResourceNotFoundException",
            Status::ResourceInUse => "ResourceInUseException",
            Status::InvalidArgument => "InvalidArgumentException",
            Status::LimitExceeded => "LimitExceededException",
            Status::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            Status::ExpiredIterator => "ExpiredIteratorException",
            Status::ExpiredNextToken => "ExpiredNextTokenException",
            Status::InternalFailure => "InternalFailureException",
            Status::Validation => "ValidationException",
            Status::UnsupportedOperation => "UnsupportedOperationException",
            Status::MalformedFrame => "MalformedFrameException",
            Status::UnsupportedVersion => "UnsupportedVersionException",
            Status::FrameTooLarge => "FrameTooLargeException",
            Status::ServiceUnavailable => "ServiceUnavailableException",
            Status::Unrecognized(_) => "UnrecognizedStatus",
        }
    }

    /// Whether the same request may succeed if sent again after a backoff. Throttling and
    /// server-side failures may; everything the request itself got wrong will not.
    pub fn is_retryable(self) -> bool {
        match self {
            Status::LimitExceeded
            | Status::ProvisionedThroughputExceeded
            | Status::InternalFailure
            | Status::ServiceUnavailable => true,
            Status::ResourceNotFound
            | Status::ResourceInUse
            | Status::InvalidArgument
            | Status::ExpiredIterator
            | Status::ExpiredNextToken
            | Status::Validation
            | Status::UnsupportedOperation
            | Status::MalformedFrame
            | Status::UnsupportedVersion
            | Status::FrameTooLarge
            | Status::Unrecognized(_) => false,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:#06x})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for status in Status::KNOWN {
            assert!(seen.insert(status.code()), "duplicate code {status}");
            assert_eq!(Status::from_code(status.code()), status);
            assert!(!matches!(status, Status::Unrecognized(_)));
        }
    }

    #[test]
    fn unknown_codes_are_unrecognized_and_not_retryable() {
        for code in [0x0000, 0x000a, 0x00ff, 0x0105, 0xffff] {
            let status = Status::from_code(code);
            assert_eq!(status, Status::Unrecognized(code));
            assert_eq!(status.code(), code);
            assert!(!status.is_retryable());
        }
    }
}
