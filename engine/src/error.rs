//! The engine's typed errors. Variants map one-to-one onto the Kinesis
//! exception a server reports (see [`EngineError::kind`]).

use std::path::PathBuf;

use thiserror::Error;

/// Result alias used throughout the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Why a storage operation failed.
#[derive(Debug, Error)]
pub enum EngineError {
    /// A stream or shard that does not exist (Kinesis ResourceNotFound).
    #[error("{0}")]
    NotFound(String),
    /// The resource exists but is busy or already exists (ResourceInUse).
    #[error("{0}")]
    InUse(String),
    /// The request is malformed or violates a rule (InvalidArgument).
    #[error("{0}")]
    InvalidArgument(String),
    /// A quota would be exceeded (LimitExceeded).
    #[error("{0}")]
    LimitExceeded(String),
    /// A shard's throughput limit refused the request
    /// (ProvisionedThroughputExceeded). Nothing of it was stored.
    #[error("{0}")]
    ThroughputExceeded(String),
    /// An I/O call failed. Writes are not acknowledged after this.
    #[error("I/O error during {op} on {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Data on disk failed verification. It is never returned as records.
    #[error("corrupt data in shard {shard}, segment {segment}, offset {offset}: {detail}")]
    Corrupt { shard: String, segment: String, offset: u64, detail: String },
    /// The shard was closed by a reshard while the request was routed to
    /// it; the engine routes the request again with the new shards.
    #[error("shard {0} was closed by a reshard; retry")]
    ShardClosed(String),
    /// The shard's log hit an unrecoverable write error earlier and refuses
    /// further appends until it is reopened (the durable state is unknown).
    #[error("shard {0} is failed after an earlier write error; reopen to recover")]
    ShardFailed(String),
    /// The data directory cannot be used as it is (at start only): another
    /// process holds it, or it has stream files and no catalog.
    #[error("{0}")]
    DataDir(String),
    /// The engine (or the core owning the shard) has shut down.
    #[error("engine is shut down")]
    Shutdown,
}

/// The Kinesis exception family of an [`EngineError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    ResourceNotFound,
    ResourceInUse,
    InvalidArgument,
    LimitExceeded,
    ProvisionedThroughputExceeded,
    InternalFailure,
}

impl EngineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NotFound(_) => ErrorKind::ResourceNotFound,
            EngineError::InUse(_) => ErrorKind::ResourceInUse,
            EngineError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            EngineError::LimitExceeded(_) => ErrorKind::LimitExceeded,
            EngineError::ThroughputExceeded(_) => ErrorKind::ProvisionedThroughputExceeded,
            EngineError::Io { .. }
            | EngineError::Corrupt { .. }
            | EngineError::ShardFailed(_)
            | EngineError::ShardClosed(_)
            | EngineError::DataDir(_)
            | EngineError::Shutdown => ErrorKind::InternalFailure,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io { op, path: path.into(), source }
    }
}
