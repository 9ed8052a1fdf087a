//! Every limit of the wire protocol, in one place.
//!
//! Names put the unit and then the bound last (`RECORD_DATA_SIZE_BYTES_MAX`). The Kinesis values
//! are kept where Kinesis has one, so that a Kinesis client's assumptions hold against Shoal.
//! The `const _: () = assert!(..)` blocks tie the limits together: if one is raised so far that
//! a legal request or response could no longer fit in a frame, the crate stops compiling.

use crate::header::HEADER_SIZE_BYTES;

/// The only protocol version this crate speaks.
pub const PROTOCOL_VERSION: u8 = 1;

/// Largest frame body. A header announcing more is refused before anything is allocated.
/// 16 MiB holds the largest PutRecords request (5 MiB of data and keys) and the largest
/// GetRecords response (10 MiB of data and keys) with room for their per-record overhead.
pub const FRAME_BODY_SIZE_BYTES_MAX: u32 = 16 * 1024 * 1024;
/// Largest whole frame: header plus body.
pub const FRAME_SIZE_BYTES_MAX: usize = HEADER_SIZE_BYTES + FRAME_BODY_SIZE_BYTES_MAX as usize;

/// Strings are prefixed with a u16 byte length.
pub const STRING_SIZE_BYTES_MAX: usize = u16::MAX as usize;

/// Stream names: 1..=128 characters of `[a-zA-Z0-9_.-]` (all ASCII, so characters = bytes).
pub const STREAM_NAME_LENGTH_CHARS_MIN: usize = 1;
pub const STREAM_NAME_LENGTH_CHARS_MAX: usize = 128;

/// Partition keys: 1..=256 Unicode scalar values (not bytes).
pub const PARTITION_KEY_LENGTH_CHARS_MIN: usize = 1;
pub const PARTITION_KEY_LENGTH_CHARS_MAX: usize = 256;
/// A UTF-8 scalar value takes at most 4 bytes.
pub const PARTITION_KEY_SIZE_BYTES_MAX: usize = PARTITION_KEY_LENGTH_CHARS_MAX * 4;

/// One record's data blob (Kinesis classic limit, before base64).
pub const RECORD_DATA_SIZE_BYTES_MAX: usize = 1024 * 1024;

/// One record's size as Kinesis counts it: data plus partition-key UTF-8 bytes (the server
/// refuses more with `InvalidArgument`).
pub const RECORD_SIZE_BYTES_MAX: usize = 1024 * 1024;

/// PutRecords: records per call, and their data plus partition-key bytes per call.
pub const PUT_RECORDS_COUNT_MIN: usize = 1;
pub const PUT_RECORDS_COUNT_MAX: usize = 500;
pub const PUT_RECORDS_SIZE_BYTES_MAX: usize = 5 * 1024 * 1024;

/// GetRecords: the `limit` a caller may ask for, and what the server returns when none is given.
pub const GET_RECORDS_LIMIT_MIN: u32 = 1;
pub const GET_RECORDS_LIMIT_MAX: u32 = 10_000;
pub const GET_RECORDS_LIMIT_DEFAULT: u32 = GET_RECORDS_LIMIT_MAX;
/// GetRecords: data plus partition-key bytes the server puts in one response.
pub const GET_RECORDS_SIZE_BYTES_MAX: usize = 10 * 1024 * 1024;

/// Shard iterators: opaque bytes, at most this long (Kinesis: 512 characters).
pub const SHARD_ITERATOR_SIZE_BYTES_MAX: usize = 512;
/// A shard iterator expires this long after it was issued.
pub const SHARD_ITERATOR_LIFETIME_MS: u64 = 300_000;

/// CreateStream / UpdateShardCount: shards per stream (the Kinesis model's bound; account quotas
/// are the server's business and answer LimitExceeded).
pub const SHARD_COUNT_MIN: u32 = 1;
pub const SHARD_COUNT_MAX: u32 = 100_000;

/// Retention period in hours.
pub const RETENTION_HOURS_MIN: u32 = 24;
pub const RETENTION_HOURS_DEFAULT: u32 = 24;
pub const RETENTION_HOURS_MAX: u32 = 8_760;

/// DescribeStream: the `limit` accepted, and the most shards one response carries.
pub const DESCRIBE_STREAM_LIMIT_MIN: u32 = 1;
pub const DESCRIBE_STREAM_LIMIT_MAX: u32 = 10_000;
pub const DESCRIBE_STREAM_SHARDS_RETURNED_MAX: u32 = 100;

/// ListStreams: the `limit` accepted, and the most names one response carries.
pub const LIST_STREAMS_LIMIT_MIN: u32 = 1;
pub const LIST_STREAMS_LIMIT_MAX: u32 = 10_000;
pub const LIST_STREAMS_RETURNED_MAX: u32 = 100;

/// ListShards: the `max_results` accepted, and the most shards one response carries.
pub const LIST_SHARDS_MAX_RESULTS_MIN: u32 = 1;
pub const LIST_SHARDS_MAX_RESULTS_MAX: u32 = 10_000;
pub const LIST_SHARDS_RETURNED_MAX: u32 = 1_000;

/// Enhanced fan-out consumers: names like stream names, 1..=128 characters of `[a-zA-Z0-9_.-]`.
pub const CONSUMER_NAME_LENGTH_CHARS_MIN: usize = 1;
pub const CONSUMER_NAME_LENGTH_CHARS_MAX: usize = 128;
/// Consumer ARNs (`arn:shoal:stream/{stream}/consumer/{name}:{creation ms}`): Kinesis' bound
/// on the length of a `ConsumerARN`. A well-formed Shoal ARN is at most 303 characters.
pub const CONSUMER_ARN_LENGTH_CHARS_MIN: usize = 1;
pub const CONSUMER_ARN_LENGTH_CHARS_MAX: usize = 2048;
/// Consumers registered with one stream at once; one more is LimitExceeded.
pub const CONSUMERS_PER_STREAM_MAX: u32 = 20;

/// ListStreamConsumers: the `max_results` accepted, and the most consumers one response carries.
pub const LIST_STREAM_CONSUMERS_MAX_RESULTS_MIN: u32 = 1;
pub const LIST_STREAM_CONSUMERS_MAX_RESULTS_MAX: u32 = 10_000;
pub const LIST_STREAM_CONSUMERS_RETURNED_MAX: u32 = 100;
/// ListStreamConsumers' `next_token`: opaque bytes, like a shard iterator.
pub const LIST_STREAM_CONSUMERS_NEXT_TOKEN_SIZE_BYTES_MAX: usize = SHARD_ITERATOR_SIZE_BYTES_MAX;

/// SubscribeToShard: a subscription ends this long after it started (Kinesis: 5 minutes); the
/// server may be configured shorter, and says so in its response.
pub const SUBSCRIPTION_LIFETIME_MS_DEFAULT: u64 = 300_000;
/// Delivery per consumer and shard, independent of other consumers and of polled readers (the
/// server's default; a setting).
pub const SUBSCRIPTION_BYTES_PER_SECOND_DEFAULT: u32 = 2 * 1024 * 1024;
/// One SubscribeToShardEvent: at most this many records, and at most this many bytes of data
/// plus partition keys. A record of the largest size always fits in one event.
pub const SUBSCRIBE_TO_SHARD_EVENT_RECORDS_MAX: u32 = 10_000;
pub const SUBSCRIBE_TO_SHARD_EVENT_SIZE_BYTES_MAX: usize = 2 * 1024 * 1024;

/// Wire sizes used by the fit checks below (see PROTOCOL.md for the encodings).
const STRING_PREFIX_BYTES: usize = 2;
const BLOB_PREFIX_BYTES: usize = 4;
const COUNT_PREFIX_BYTES: usize = 4;
const OPTION_U128_BYTES: usize = 1 + 16;
/// One PutRecords entry minus its key and data bytes: key prefix, explicit hash key, data prefix.
const PUT_RECORDS_ENTRY_OVERHEAD_BYTES: usize = STRING_PREFIX_BYTES + OPTION_U128_BYTES + BLOB_PREFIX_BYTES;
/// One GetRecords record minus its key and data bytes: sequence number, arrival, two prefixes.
const GET_RECORDS_RECORD_OVERHEAD_BYTES: usize = 16 + 8 + STRING_PREFIX_BYTES + BLOB_PREFIX_BYTES;
/// A child shard with two parents: index, parent count, two parents, hash key range.
const CHILD_SHARD_BYTES_MAX: usize = 4 + COUNT_PREFIX_BYTES + 2 * 4 + 32;

const PUT_RECORDS_BODY_SIZE_BYTES_MAX: usize = STRING_PREFIX_BYTES
    + STREAM_NAME_LENGTH_CHARS_MAX
    + COUNT_PREFIX_BYTES
    + PUT_RECORDS_COUNT_MAX * PUT_RECORDS_ENTRY_OVERHEAD_BYTES
    + PUT_RECORDS_SIZE_BYTES_MAX;

const GET_RECORDS_BODY_SIZE_BYTES_MAX: usize = COUNT_PREFIX_BYTES
    + GET_RECORDS_LIMIT_MAX as usize * GET_RECORDS_RECORD_OVERHEAD_BYTES
    + GET_RECORDS_SIZE_BYTES_MAX
    + 1
    + BLOB_PREFIX_BYTES
    + SHARD_ITERATOR_SIZE_BYTES_MAX
    + 8
    + COUNT_PREFIX_BYTES
    + 2 * CHILD_SHARD_BYTES_MAX;

/// An event's records plus its continuation number, lag, child shards and end.
const SUBSCRIBE_TO_SHARD_EVENT_BODY_SIZE_BYTES_MAX: usize = COUNT_PREFIX_BYTES
    + SUBSCRIBE_TO_SHARD_EVENT_RECORDS_MAX as usize * GET_RECORDS_RECORD_OVERHEAD_BYTES
    + SUBSCRIBE_TO_SHARD_EVENT_SIZE_BYTES_MAX
    + 16
    + 8
    + COUNT_PREFIX_BYTES
    + 2 * CHILD_SHARD_BYTES_MAX
    + 2;

const _: () = assert!(PUT_RECORDS_BODY_SIZE_BYTES_MAX <= FRAME_BODY_SIZE_BYTES_MAX as usize);
const _: () = assert!(GET_RECORDS_BODY_SIZE_BYTES_MAX <= FRAME_BODY_SIZE_BYTES_MAX as usize);
const _: () = assert!(SUBSCRIBE_TO_SHARD_EVENT_BODY_SIZE_BYTES_MAX <= FRAME_BODY_SIZE_BYTES_MAX as usize);
// The largest single record must fit in one PutRecords call and one GetRecords response.
const _: () = assert!(RECORD_DATA_SIZE_BYTES_MAX + PARTITION_KEY_SIZE_BYTES_MAX <= PUT_RECORDS_SIZE_BYTES_MAX);
const _: () = assert!(RECORD_DATA_SIZE_BYTES_MAX + PARTITION_KEY_SIZE_BYTES_MAX <= GET_RECORDS_SIZE_BYTES_MAX);
const _: () =
    assert!(RECORD_DATA_SIZE_BYTES_MAX + PARTITION_KEY_SIZE_BYTES_MAX <= SUBSCRIBE_TO_SHARD_EVENT_SIZE_BYTES_MAX);
// A second's worth of delivery at the default rate fits in one event.
const _: () = assert!(SUBSCRIPTION_BYTES_PER_SECOND_DEFAULT as usize <= SUBSCRIBE_TO_SHARD_EVENT_SIZE_BYTES_MAX);
// Lengths must be representable in their prefixes.
const _: () = assert!(PARTITION_KEY_SIZE_BYTES_MAX <= STRING_SIZE_BYTES_MAX);
const _: () = assert!(STREAM_NAME_LENGTH_CHARS_MAX <= STRING_SIZE_BYTES_MAX);
const _: () = assert!(FRAME_BODY_SIZE_BYTES_MAX as u64 <= u32::MAX as u64);
// Frame sizes must be addressable as usize on every platform we build for.
const _: () = assert!(FRAME_SIZE_BYTES_MAX <= isize::MAX as usize);
const _: () = assert!(STREAM_NAME_LENGTH_CHARS_MIN <= STREAM_NAME_LENGTH_CHARS_MAX);
const _: () = assert!(PARTITION_KEY_LENGTH_CHARS_MIN <= PARTITION_KEY_LENGTH_CHARS_MAX);
const _: () = assert!(PUT_RECORDS_COUNT_MIN <= PUT_RECORDS_COUNT_MAX);
const _: () = assert!(GET_RECORDS_LIMIT_MIN <= GET_RECORDS_LIMIT_DEFAULT);
const _: () = assert!(GET_RECORDS_LIMIT_DEFAULT <= GET_RECORDS_LIMIT_MAX);
const _: () = assert!(RETENTION_HOURS_MIN <= RETENTION_HOURS_DEFAULT);
const _: () = assert!(RETENTION_HOURS_DEFAULT <= RETENTION_HOURS_MAX);
const _: () = assert!(SHARD_COUNT_MIN <= SHARD_COUNT_MAX);
const _: () = assert!(DESCRIBE_STREAM_SHARDS_RETURNED_MAX <= DESCRIBE_STREAM_LIMIT_MAX);
const _: () = assert!(LIST_STREAMS_RETURNED_MAX <= LIST_STREAMS_LIMIT_MAX);
const _: () = assert!(LIST_SHARDS_RETURNED_MAX <= LIST_SHARDS_MAX_RESULTS_MAX);
const _: () = assert!(LIST_STREAM_CONSUMERS_RETURNED_MAX <= LIST_STREAM_CONSUMERS_MAX_RESULTS_MAX);
const _: () = assert!(CONSUMERS_PER_STREAM_MAX <= LIST_STREAM_CONSUMERS_RETURNED_MAX);
const _: () = assert!(CONSUMER_NAME_LENGTH_CHARS_MIN <= CONSUMER_NAME_LENGTH_CHARS_MAX);
const _: () = assert!(CONSUMER_NAME_LENGTH_CHARS_MAX <= STRING_SIZE_BYTES_MAX);
const _: () = assert!(CONSUMER_ARN_LENGTH_CHARS_MAX <= STRING_SIZE_BYTES_MAX);
