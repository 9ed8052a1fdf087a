//! DeleteStream (0x0002) and Increase/DecreaseStreamRetentionPeriod (0x0007, 0x0008): small
//! administrative requests whose responses have empty bodies.

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::validate;

/// Deletes a stream. With registered consumers it fails (ResourceInUse) unless
/// `enforce_consumer_deletion` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteStream {
    pub stream_name: String,
    pub enforce_consumer_deletion: bool,
}

/// The body of both IncreaseStreamRetentionPeriod and DecreaseStreamRetentionPeriod: the opcode
/// says which direction the new value must go (a wrong direction answers InvalidArgument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPeriodChange {
    pub stream_name: String,
    pub retention_hours: u32,
}

impl DeleteStream {
    /// Deletes the stream unless it has registered consumers.
    pub fn new(stream_name: impl Into<String>) -> DeleteStream {
        DeleteStream { stream_name: stream_name.into(), enforce_consumer_deletion: false }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)
    }
}

impl RetentionPeriodChange {
    pub fn new(stream_name: impl Into<String>, retention_hours: u32) -> RetentionPeriodChange {
        RetentionPeriodChange { stream_name: stream_name.into(), retention_hours }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        validate::retention_hours(self.retention_hours)
    }
}

impl WireEncode for DeleteStream {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.bool("enforce_consumer_deletion", self.enforce_consumer_deletion);
        Ok(())
    }
}

impl WireDecode for DeleteStream {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(DeleteStream {
            stream_name: r.string("stream_name")?,
            enforce_consumer_deletion: r.bool("enforce_consumer_deletion")?,
        })
    }
}

impl WireEncode for RetentionPeriodChange {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.u32("retention_hours", self.retention_hours);
        Ok(())
    }
}

impl WireDecode for RetentionPeriodChange {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(RetentionPeriodChange { stream_name: r.string("stream_name")?, retention_hours: r.u32("retention_hours")? })
    }
}
