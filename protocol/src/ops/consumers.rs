//! Enhanced fan-out consumers: RegisterStreamConsumer (0x0030), DeregisterStreamConsumer
//! (0x0031), DescribeStreamConsumer (0x0032) and ListStreamConsumers (0x0033).
//!
//! A consumer is a name registered with a stream (at most 20 per stream). Registering one gives
//! it a [`ConsumerArn`], which SubscribeToShard takes to open a push subscription with its own
//! delivery budget per shard. The control plane names a consumer by stream and consumer name;
//! only SubscribeToShard uses the ARN, which also pins the registration it was issued for: a
//! consumer deregistered and registered again under the same name gets a new ARN (its creation
//! time differs), and the old ARN stops working.

use std::fmt;

use bytes::Bytes;

use crate::codec::{Reader, WireDecode, WireEncode, Writer};
use crate::error::{EncodeError, ValidationError, WireError};
use crate::limits::{
    CONSUMER_NAME_LENGTH_CHARS_MAX, LIST_STREAM_CONSUMERS_MAX_RESULTS_MAX, LIST_STREAM_CONSUMERS_MAX_RESULTS_MIN,
    STREAM_NAME_LENGTH_CHARS_MAX,
};
use crate::validate;

wire_enum! {
    /// A consumer's lifecycle state.
    pub enum ConsumerStatus : "consumer.status" {
        /// Registered, not yet usable by SubscribeToShard.
        Creating = 1 => "CREATING",
        /// Being deregistered; its subscriptions are ending.
        Deleting = 2 => "DELETING",
        /// Usable by SubscribeToShard.
        Active = 3 => "ACTIVE",
    }
}

/// A registered consumer, as every consumer operation returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub consumer_name: String,
    /// `arn:shoal:stream/{stream}/consumer/{name}:{creation_timestamp_ms}` (see [`ConsumerArn`]).
    pub consumer_arn: String,
    pub status: ConsumerStatus,
    pub creation_timestamp_ms: u64,
}

/// Registers a consumer with a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterStreamConsumer {
    pub stream_name: String,
    /// 1..=128 characters of `[a-zA-Z0-9_.-]`, unique within the stream.
    pub consumer_name: String,
}

/// RegisterStreamConsumer's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterStreamConsumerOutput {
    pub consumer: Consumer,
}

/// Deregisters a consumer; its subscriptions end with an error frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeregisterStreamConsumer {
    pub stream_name: String,
    pub consumer_name: String,
}

/// Describes one consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeStreamConsumer {
    pub stream_name: String,
    pub consumer_name: String,
}

/// DescribeStreamConsumer's response (Kinesis' `ConsumerDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerDescription {
    pub consumer: Consumer,
    /// The stream the consumer is registered with.
    pub stream_name: String,
}

/// Lists a stream's consumers, a page at a time (at most 100 per response). Unlike ListShards,
/// every call names the stream, the later ones together with the previous `next_token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStreamConsumers {
    pub stream_name: String,
    /// Consumers wanted, 1..=10,000; absent: as many as one response carries.
    pub max_results: Option<u32>,
    /// Opaque paging token from the previous response (1..=512 bytes).
    pub next_token: Option<Bytes>,
}

/// ListStreamConsumers' response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStreamConsumersOutput {
    /// In consumer name order.
    pub consumers: Vec<Consumer>,
    /// Present when more consumers remain.
    pub next_token: Option<Bytes>,
}

/// The parts of a consumer ARN, `arn:shoal:stream/{stream}/consumer/{name}:{creation time in
/// ms}` (Kinesis' consumer ARN without region and account, with the creation time in
/// milliseconds so that every registration has its own). The server renders it; a client passes
/// it to SubscribeToShard unchanged. Compare ARNs by their parts, not as strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsumerArn {
    pub stream_name: String,
    pub consumer_name: String,
    /// The consumer's creation time in milliseconds since the Unix epoch (its
    /// `creation_timestamp_ms`), distinct for every registration.
    pub creation_timestamp_ms: u64,
}

const ARN_PREFIX: &str = "arn:shoal:stream/";
const ARN_CONSUMER_INFIX: &str = "/consumer/";
/// Digits of the creation time: 19 always fit a u64.
const ARN_TIME_DIGITS_MAX: usize = 19;

impl ConsumerArn {
    /// The ARN syntax, as ValidationException messages quote it.
    pub const PATTERN: &'static str =
        "arn:shoal:stream/[a-zA-Z0-9_.-]{1,128}/consumer/[a-zA-Z0-9_.-]{1,128}:[0-9]{1,19}";

    pub fn new(
        stream_name: impl Into<String>,
        consumer_name: impl Into<String>,
        creation_timestamp_ms: u64,
    ) -> ConsumerArn {
        ConsumerArn { stream_name: stream_name.into(), consumer_name: consumer_name.into(), creation_timestamp_ms }
    }

    /// The parts of `arn`, or None unless it matches [`ConsumerArn::PATTERN`].
    pub fn parse(arn: &str) -> Option<ConsumerArn> {
        let rest = arn.strip_prefix(ARN_PREFIX)?;
        // Neither name may contain '/' or ':', so the first infix and the last ':' split it.
        let (stream_name, rest) = rest.split_once(ARN_CONSUMER_INFIX)?;
        let (consumer_name, digits) = rest.rsplit_once(':')?;
        let name_ok =
            |name: &str, max: usize| !name.is_empty() && name.len() <= max && validate::is_name_alphabet(name);
        if !name_ok(stream_name, STREAM_NAME_LENGTH_CHARS_MAX)
            || !name_ok(consumer_name, CONSUMER_NAME_LENGTH_CHARS_MAX)
        {
            return None;
        }
        if digits.is_empty() || digits.len() > ARN_TIME_DIGITS_MAX || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(ConsumerArn::new(stream_name, consumer_name, digits.parse().ok()?))
    }
}

impl fmt::Display for ConsumerArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ARN_PREFIX}{}{ARN_CONSUMER_INFIX}{}:{}",
            self.stream_name, self.consumer_name, self.creation_timestamp_ms
        )
    }
}

impl RegisterStreamConsumer {
    pub fn new(stream_name: impl Into<String>, consumer_name: impl Into<String>) -> RegisterStreamConsumer {
        RegisterStreamConsumer { stream_name: stream_name.into(), consumer_name: consumer_name.into() }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        validate::consumer_name("consumerName", &self.consumer_name)
    }
}

impl DeregisterStreamConsumer {
    pub fn new(stream_name: impl Into<String>, consumer_name: impl Into<String>) -> DeregisterStreamConsumer {
        DeregisterStreamConsumer { stream_name: stream_name.into(), consumer_name: consumer_name.into() }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        validate::consumer_name("consumerName", &self.consumer_name)
    }
}

impl DescribeStreamConsumer {
    pub fn new(stream_name: impl Into<String>, consumer_name: impl Into<String>) -> DescribeStreamConsumer {
        DescribeStreamConsumer { stream_name: stream_name.into(), consumer_name: consumer_name.into() }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        validate::consumer_name("consumerName", &self.consumer_name)
    }
}

impl ListStreamConsumers {
    /// The first page of the stream's consumers.
    pub fn new(stream_name: impl Into<String>) -> ListStreamConsumers {
        ListStreamConsumers { stream_name: stream_name.into(), max_results: None, next_token: None }
    }

    /// The page after the one that returned `next_token`.
    pub fn next_page(stream_name: impl Into<String>, next_token: impl Into<Bytes>) -> ListStreamConsumers {
        ListStreamConsumers { next_token: Some(next_token.into()), ..ListStreamConsumers::new(stream_name) }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::stream_name("streamName", &self.stream_name)?;
        if let Some(max_results) = self.max_results {
            validate::range(
                "maxResults",
                max_results,
                LIST_STREAM_CONSUMERS_MAX_RESULTS_MIN,
                LIST_STREAM_CONSUMERS_MAX_RESULTS_MAX,
            )?;
        }
        if let Some(token) = &self.next_token {
            validate::token("nextToken", token)?;
        }
        Ok(())
    }
}

/// Name length, ARN length, status, creation time.
pub(crate) const CONSUMER_SIZE_BYTES_MIN: usize = 2 + 2 + 1 + 8;

impl WireEncode for Consumer {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("consumer.consumer_name", &self.consumer_name)?;
        w.string("consumer.consumer_arn", &self.consumer_arn)?;
        self.status.encode(w)?;
        w.u64("consumer.creation_timestamp_ms", self.creation_timestamp_ms);
        Ok(())
    }
}

impl WireDecode for Consumer {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Consumer {
            consumer_name: r.string("consumer.consumer_name")?,
            consumer_arn: r.string("consumer.consumer_arn")?,
            status: ConsumerStatus::decode(r)?,
            creation_timestamp_ms: r.u64("consumer.creation_timestamp_ms")?,
        })
    }
}

/// The body shared by Register-, Deregister- and DescribeStreamConsumer requests.
fn encode_names(w: &mut Writer<'_>, stream_name: &str, consumer_name: &str) -> Result<(), EncodeError> {
    w.string("stream_name", stream_name)?;
    w.string("consumer_name", consumer_name)
}

fn decode_names(r: &mut Reader<'_>) -> Result<(String, String), WireError> {
    Ok((r.string("stream_name")?, r.string("consumer_name")?))
}

impl WireEncode for RegisterStreamConsumer {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        encode_names(w, &self.stream_name, &self.consumer_name)
    }
}

impl WireDecode for RegisterStreamConsumer {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let (stream_name, consumer_name) = decode_names(r)?;
        Ok(RegisterStreamConsumer { stream_name, consumer_name })
    }
}

impl WireEncode for DeregisterStreamConsumer {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        encode_names(w, &self.stream_name, &self.consumer_name)
    }
}

impl WireDecode for DeregisterStreamConsumer {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let (stream_name, consumer_name) = decode_names(r)?;
        Ok(DeregisterStreamConsumer { stream_name, consumer_name })
    }
}

impl WireEncode for DescribeStreamConsumer {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        encode_names(w, &self.stream_name, &self.consumer_name)
    }
}

impl WireDecode for DescribeStreamConsumer {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let (stream_name, consumer_name) = decode_names(r)?;
        Ok(DescribeStreamConsumer { stream_name, consumer_name })
    }
}

impl WireEncode for RegisterStreamConsumerOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.consumer.encode(w)
    }
}

impl WireDecode for RegisterStreamConsumerOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(RegisterStreamConsumerOutput { consumer: Consumer::decode(r)? })
    }
}

impl WireEncode for ConsumerDescription {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.consumer.encode(w)?;
        w.string("stream_name", &self.stream_name)
    }
}

impl WireDecode for ConsumerDescription {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ConsumerDescription { consumer: Consumer::decode(r)?, stream_name: r.string("stream_name")? })
    }
}

impl WireEncode for ListStreamConsumers {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string("stream_name", &self.stream_name)?;
        w.opt_u32("max_results", self.max_results);
        w.opt_blob("next_token", self.next_token.as_deref())
    }
}

impl WireDecode for ListStreamConsumers {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ListStreamConsumers {
            stream_name: r.string("stream_name")?,
            max_results: r.opt_u32("max_results")?,
            next_token: r.opt_blob("next_token")?,
        })
    }
}

impl WireEncode for ListStreamConsumersOutput {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array_of("consumers", &self.consumers, |w, consumer| consumer.encode(w))?;
        w.opt_blob("next_token", self.next_token.as_deref())
    }
}

impl WireDecode for ListStreamConsumersOutput {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ListStreamConsumersOutput {
            consumers: r.array_of("consumers", CONSUMER_SIZE_BYTES_MIN, Consumer::decode)?,
            next_token: r.opt_blob("next_token")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_render_and_parse() {
        let arn = ConsumerArn::new("orders", "billing", 1_700_000_000);
        assert_eq!(arn.to_string(), "arn:shoal:stream/orders/consumer/billing:1700000000");
        assert_eq!(ConsumerArn::parse(&arn.to_string()), Some(arn));
        let dotted = ConsumerArn::new("a.b-c_d", "x.y-z_0", 0);
        assert_eq!(ConsumerArn::parse(&dotted.to_string()), Some(dotted));
        let longest = ConsumerArn::new("s".repeat(128), "c".repeat(128), 9_999_999_999_999_999_999);
        assert_eq!(ConsumerArn::parse(&longest.to_string()), Some(longest));
    }

    #[test]
    fn malformed_arns_do_not_parse() {
        for bad in [
            "",
            "arn:shoal:stream/orders/consumer/billing",
            "arn:shoal:stream/orders/consumer/billing:",
            "arn:shoal:stream/orders/consumer/billing:12a",
            "arn:shoal:stream/orders/consumer/billing:-1",
            "arn:shoal:stream/orders/consumer/:1",
            "arn:shoal:stream//consumer/billing:1",
            "arn:shoal:stream/or ders/consumer/billing:1",
            "arn:shoal:stream/orders/consumer/bil:ling:1",
            "arn:shoal:stream/orders/consumer/a/b:1",
            "arn:aws:kinesis:us-east-1:123456789012:stream/orders/consumer/billing:1",
            "arn:shoal:stream/orders/consumer/billing:12345678901234567890",
        ] {
            assert_eq!(ConsumerArn::parse(bad), None, "{bad:?}");
        }
        let long_name = format!("arn:shoal:stream/{}/consumer/c:1", "s".repeat(129));
        assert_eq!(ConsumerArn::parse(&long_name), None);
    }
}
