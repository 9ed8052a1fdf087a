//! Validation helpers: the Kinesis rules a decoded request must still satisfy.
//!
//! Decoding only enforces what the wire format needs (lengths fit, UTF-8 is valid, enums are
//! defined). The rules below are policy, kept apart so that the server applies them in one
//! place and a test client can still send a request that breaks them. Each rule answers the
//! status Kinesis answers: `Validation` for a field constraint (length, pattern, range), with
//! Kinesis' "1 validation error detected: ..." wording, and `InvalidArgument` for semantic rules.
//! Field paths use Kinesis' camelCase spelling (`records.3.member.partitionKey`).

use std::fmt::Display;

use crate::error::ValidationError;
use crate::limits::{
    CONSUMER_ARN_LENGTH_CHARS_MAX, CONSUMER_ARN_LENGTH_CHARS_MIN, CONSUMER_NAME_LENGTH_CHARS_MAX,
    CONSUMER_NAME_LENGTH_CHARS_MIN, PARTITION_KEY_LENGTH_CHARS_MAX, PARTITION_KEY_LENGTH_CHARS_MIN,
    PUT_RECORDS_COUNT_MAX, PUT_RECORDS_COUNT_MIN, PUT_RECORDS_SIZE_BYTES_MAX, RECORD_DATA_SIZE_BYTES_MAX,
    RETENTION_HOURS_MAX, RETENTION_HOURS_MIN, SHARD_COUNT_MAX, SHARD_COUNT_MIN, SHARD_ITERATOR_SIZE_BYTES_MAX,
    STREAM_NAME_LENGTH_CHARS_MAX, STREAM_NAME_LENGTH_CHARS_MIN,
};
use crate::ops::{ConsumerArn, ShardIteratorType};
use crate::status::Status;

/// Values longer than this are not echoed back in messages.
const ECHO_LENGTH_CHARS_MAX: usize = 300;

/// A Kinesis-style field constraint failure.
pub fn constraint(path: &str, value: Option<&str>, rule: &str) -> ValidationError {
    let value = match value {
        Some(v) => format!("Value '{v}' at"),
        None => "Value at".to_owned(),
    };
    ValidationError {
        status: Status::Validation,
        message: format!("1 validation error detected: {value} '{path}' failed to satisfy constraint: {rule}"),
    }
}

/// A semantic failure with Kinesis' message.
pub fn invalid_argument(message: impl Into<String>) -> ValidationError {
    ValidationError { status: Status::InvalidArgument, message: message.into() }
}

fn echo(s: &str) -> Option<&str> {
    let short = s.chars().nth(ECHO_LENGTH_CHARS_MAX).is_none();
    short.then_some(s)
}

/// A string's length in characters (Unicode scalar values), checked against min..=max.
fn length_chars(path: &str, s: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    // Counting stops just past the maximum, so a huge string costs no more than a legal one.
    let length = s.chars().take(max.saturating_add(1)).count();
    if length < min {
        return Err(constraint(path, echo(s), &format!("Member must have length greater than or equal to {min}")));
    }
    if length > max {
        return Err(constraint(path, echo(s), &format!("Member must have length less than or equal to {max}")));
    }
    Ok(())
}

/// A number checked against min..=max.
pub fn range<T: PartialOrd + Display + Copy>(path: &str, value: T, min: T, max: T) -> Result<(), ValidationError> {
    if value < min {
        return Err(constraint(
            path,
            Some(&value.to_string()),
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(constraint(
            path,
            Some(&value.to_string()),
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// Whether every character is one of `[a-zA-Z0-9_.-]`, the alphabet of stream and consumer names.
pub(crate) fn is_name_alphabet(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Stream names: 1..=128 characters of `[a-zA-Z0-9_.-]`.
pub fn stream_name(path: &str, name: &str) -> Result<(), ValidationError> {
    length_chars(path, name, STREAM_NAME_LENGTH_CHARS_MIN, STREAM_NAME_LENGTH_CHARS_MAX)?;
    if !is_name_alphabet(name) {
        return Err(constraint(path, echo(name), "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"));
    }
    Ok(())
}

/// Consumer names: 1..=128 characters of `[a-zA-Z0-9_.-]`, like stream names.
pub fn consumer_name(path: &str, name: &str) -> Result<(), ValidationError> {
    length_chars(path, name, CONSUMER_NAME_LENGTH_CHARS_MIN, CONSUMER_NAME_LENGTH_CHARS_MAX)?;
    if !is_name_alphabet(name) {
        return Err(constraint(path, echo(name), "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"));
    }
    Ok(())
}

/// Consumer ARNs: 1..=2048 characters matching [`ConsumerArn::PATTERN`].
pub fn consumer_arn(path: &str, arn: &str) -> Result<(), ValidationError> {
    length_chars(path, arn, CONSUMER_ARN_LENGTH_CHARS_MIN, CONSUMER_ARN_LENGTH_CHARS_MAX)?;
    if ConsumerArn::parse(arn).is_none() {
        let rule = format!("Member must satisfy regular expression pattern: {}", ConsumerArn::PATTERN);
        return Err(constraint(path, echo(arn), &rule));
    }
    Ok(())
}

/// Where a shard iterator (GetShardIterator) or a subscription (SubscribeToShard) starts: a
/// sequence number exactly for the two sequence-number types, a timestamp exactly for
/// `AT_TIMESTAMP`. InvalidArgument with Kinesis' messages.
pub fn starting_position(
    iterator_type: ShardIteratorType,
    sequence_number: Option<u128>,
    timestamp_ms: Option<u64>,
) -> Result<(), ValidationError> {
    let name = iterator_type.name();
    let wants_sequence_number =
        matches!(iterator_type, ShardIteratorType::AtSequenceNumber | ShardIteratorType::AfterSequenceNumber);
    let combination = |what: &str| {
        invalid_argument(format!(
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and \
             StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. \
             Request specified {name} and {what}."
        ))
    };
    match (wants_sequence_number, sequence_number.is_some()) {
        (true, false) => return Err(combination("no StartingSequenceNumber")),
        (false, true) => return Err(combination("also a StartingSequenceNumber")),
        _ => {}
    }
    match (iterator_type == ShardIteratorType::AtTimestamp, timestamp_ms.is_some()) {
        (true, false) => Err(invalid_argument(
            "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. \
             Current request has no timestamp parameter.",
        )),
        (false, true) => Err(invalid_argument(format!(
            "The timestampInMillis parameter may only be specified for iterator of type \
             AT_TIMESTAMP. Request specified {name} and also a timestamp."
        ))),
        _ => Ok(()),
    }
}

/// An `AT_TIMESTAMP` start may not lie in the future (needs the server's clock).
pub fn timestamp_not_in_future(timestamp_ms: Option<u64>, now_ms: u64) -> Result<(), ValidationError> {
    match timestamp_ms {
        Some(timestamp_ms) if timestamp_ms > now_ms => Err(invalid_argument(format!(
            "The timestampInMillis parameter cannot be greater than the \
             currentTimestampInMillis. timestampInMillis: {timestamp_ms}, \
             currentTimestampInMillis: {now_ms}"
        ))),
        _ => Ok(()),
    }
}

/// Partition keys: 1..=256 characters (not bytes).
pub fn partition_key(path: &str, key: &str) -> Result<(), ValidationError> {
    length_chars(path, key, PARTITION_KEY_LENGTH_CHARS_MIN, PARTITION_KEY_LENGTH_CHARS_MAX)
}

/// Record data: at most 1 MiB. Empty data is allowed, as in Kinesis.
pub fn record_data(path: &str, data: &[u8]) -> Result<(), ValidationError> {
    if data.len() > RECORD_DATA_SIZE_BYTES_MAX {
        return Err(constraint(
            path,
            None,
            &format!("Member must have length less than or equal to {RECORD_DATA_SIZE_BYTES_MAX}"),
        ));
    }
    Ok(())
}

/// PutRecords: 1..=500 records.
pub fn put_records_count(count: usize) -> Result<(), ValidationError> {
    if count < PUT_RECORDS_COUNT_MIN {
        return Err(constraint(
            "records",
            None,
            &format!("Member must have length greater than or equal to {PUT_RECORDS_COUNT_MIN}"),
        ));
    }
    if count > PUT_RECORDS_COUNT_MAX {
        return Err(constraint(
            "records",
            None,
            &format!("Member must have length less than or equal to {PUT_RECORDS_COUNT_MAX}"),
        ));
    }
    Ok(())
}

/// PutRecords: at most 5 MiB of data plus partition-key bytes in one call.
pub fn put_records_size(size_bytes: usize) -> Result<(), ValidationError> {
    if size_bytes > PUT_RECORDS_SIZE_BYTES_MAX {
        return Err(invalid_argument(format!(
            "Records size exceeds {PUT_RECORDS_SIZE_BYTES_MAX} bytes: the data and partition keys \
             of this request are {size_bytes} bytes."
        )));
    }
    Ok(())
}

/// Shard counts: 1..=100,000 (quotas are checked by the server).
pub fn shard_count(path: &str, count: u32) -> Result<(), ValidationError> {
    range(path, count, SHARD_COUNT_MIN, SHARD_COUNT_MAX)
}

/// Retention: 24..=8760 hours, with Kinesis' InvalidArgument wording.
pub fn retention_hours(hours: u32) -> Result<(), ValidationError> {
    if hours < RETENTION_HOURS_MIN {
        return Err(invalid_argument(format!(
            "Minimum allowed retention period is {RETENTION_HOURS_MIN} hours. Requested retention \
             period ({hours} hours) is too short."
        )));
    }
    if hours > RETENTION_HOURS_MAX {
        return Err(invalid_argument(format!(
            "Maximum allowed retention period is {RETENTION_HOURS_MAX} hours. Requested retention \
             period ({hours} hours) is too long."
        )));
    }
    Ok(())
}

/// Shard iterators and other opaque tokens: 1..=512 bytes.
pub fn token(path: &str, token: &[u8]) -> Result<(), ValidationError> {
    if token.is_empty() {
        return Err(constraint(path, None, "Member must have length greater than or equal to 1"));
    }
    if token.len() > SHARD_ITERATOR_SIZE_BYTES_MAX {
        return Err(constraint(
            path,
            None,
            &format!("Member must have length less than or equal to {SHARD_ITERATOR_SIZE_BYTES_MAX}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_name_messages_follow_kinesis() {
        let e = stream_name("streamName", "a b").err();
        assert_eq!(
            e.map(|e| e.message),
            Some(
                "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
                    .to_owned()
            )
        );
    }

    #[test]
    fn long_values_are_not_echoed() {
        let key = "k".repeat(1000);
        let e = partition_key("partitionKey", &key).err().map(|e| e.message).unwrap_or_default();
        assert!(e.starts_with("1 validation error detected: Value at 'partitionKey'"), "{e}");
    }
}
