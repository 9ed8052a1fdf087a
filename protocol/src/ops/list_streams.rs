//! ListStreams (0x0005).

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::limits::{LIST_STREAMS_LIMIT_MAX, LIST_STREAMS_LIMIT_MIN};
use crate::validate;

/// Lists stream names in lexicographic order, a page at a time (at most 100 per response).
/// `ListStreams::default()` asks for the first page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListStreams {
    /// Names wanted, 1..=10,000; absent: as many as one response carries.
    pub limit: Option<u32>,
    /// Start after this name (paging).
    pub exclusive_start_stream_name: Option<String>,
}

/// ListStreams' response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStreamsOutput {
    pub stream_names: Vec<String>,
    pub has_more_streams: bool,
}

impl ListStreams {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(limit) = self.limit {
            validate::range("limit", limit, LIST_STREAMS_LIMIT_MIN, LIST_STREAMS_LIMIT_MAX)?;
        }
        if let Some(name) = &self.exclusive_start_stream_name {
            validate::stream_name("exclusiveStartStreamName", name)?;
        }
        Ok(())
    }
}

impl WireEncode for ListStreams {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.opt_u32("limit", self.limit);
        w.opt_string("exclusive_start_stream_name", self.exclusive_start_stream_name.as_deref())
    }
}

impl WireDecode for ListStreams {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ListStreams {
            limit: r.opt_u32("limit")?,
            exclusive_start_stream_name: r.opt_string("exclusive_start_stream_name")?,
        })
    }
}

impl WireEncode for ListStreamsOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array_of("stream_names", &self.stream_names, |w, name| w.string("stream_name", name))?;
        w.bool("has_more_streams", self.has_more_streams);
        Ok(())
    }
}

impl WireDecode for ListStreamsOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ListStreamsOutput {
            stream_names: r.array_of("stream_names", 2, |r| r.string("stream_name"))?,
            has_more_streams: r.bool("has_more_streams")?,
        })
    }
}
