//! `shoal put STREAM`: every line of stdin (or `--file`) becomes a record.
//!
//! Lines are batched into PutRecords calls of at most 500 records and 5 MiB. A call's records
//! that come back throttled (ProvisionedThroughputExceeded) or failed with InternalFailure are
//! sent again with the client's `put_records_retrying_failed`, which resubmits only those, with
//! backoff; so the counts are: accepted (stored), retried (failed once, sent again), failed
//! (never stored after every attempt). Records are stored at least once: a call retried after a
//! lost connection may store some twice, as with Kinesis. A retried record is stored after
//! the records of its batch that went through, so on a throttled shard lines with the same key
//! may be stored out of input order; use `--attempts 1` and re-put the failures yourself when
//! order matters more.
//!
//! Batches go one at a time: a person's pipe rarely outruns one connection, and a shard's
//! 1,000 records/s limit would throttle more in flight anyway.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use shoal_protocol::client::BlockingClient;
use shoal_protocol::limits::{
    PARTITION_KEY_LENGTH_CHARS_MAX, PUT_RECORDS_COUNT_MAX, PUT_RECORDS_SIZE_BYTES_MAX, RECORD_DATA_SIZE_BYTES_MAX,
    RECORD_SIZE_BYTES_MAX,
};
use shoal_protocol::ops::{PutRecords, PutRecordsEntry, PutRecordsResult};

use super::exit::{CliError, CliResult, THROTTLED};
use super::{connect, ServerAddr, ATTEMPTS_DEFAULT};

/// How often a long put reports progress on stderr.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

#[derive(clap::Args, Debug)]
pub struct PutArgs {
    /// The stream to put into.
    pub stream: String,
    /// Read lines from this file instead of stdin.
    #[arg(long, value_name = "F")]
    pub file: Option<PathBuf>,
    /// Use this partition key for every record [default: a random key per record, spreading
    /// records over all shards].
    #[arg(long, value_name = "K", conflicts_with = "key_field")]
    pub key: Option<String>,
    /// Take each record's partition key from this top-level field of the line, which must be a
    /// JSON object whose field is a string (or a number).
    #[arg(long, value_name = "FIELD")]
    pub key_field: Option<String>,
    /// Attempts per call and per throttled record (1 = no retry).
    #[arg(long, value_name = "N", default_value_t = ATTEMPTS_DEFAULT, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: u32,
    #[command(flatten)]
    pub server: ServerAddr,
}

/// Where a record's partition key comes from.
enum KeySource {
    Fixed(String),
    Field(String),
    Random(u64),
}

impl KeySource {
    fn key(&mut self, line_number: u64, line: &[u8]) -> Result<String, CliError> {
        match self {
            KeySource::Fixed(key) => Ok(key.clone()),
            KeySource::Random(state) => Ok(format!("{:016x}", splitmix64(state))),
            KeySource::Field(field) => {
                let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| {
                    CliError::usage(format!(
                        "line {line_number} is not JSON ({e}) — --key-field needs one JSON object per line; use --key or no key option for other input"
                    ))
                })?;
                match value.get(field.as_str()) {
                    Some(serde_json::Value::String(s)) => Ok(s.clone()),
                    Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                    Some(_) => Err(CliError::usage(format!(
                        "line {line_number}: field \"{field}\" is not a string or a number"
                    ))),
                    None => Err(CliError::usage(format!(
                        "line {line_number} has no top-level field \"{field}\" — fix the input or choose another --key-field"
                    ))),
                }
            }
        }
    }
}

/// A fast, well-mixed 64-bit sequence; random keys need to spread over shards, not secrecy.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Debug, Default)]
struct Counts {
    read: u64,
    accepted: u64,
    retried: u64,
    failed: u64,
}

impl Counts {
    fn summary(&self) -> String {
        format!("{} accepted, {} retried, {} failed", self.accepted, self.retried, self.failed)
    }
}

pub fn run(args: PutArgs) -> CliResult {
    let input: Box<dyn BufRead> = match &args.file {
        Some(path) => Box::new(BufReader::new(
            File::open(path).map_err(|e| CliError::usage(format!("cannot open {}: {e}", path.display())))?,
        )),
        None => Box::new(BufReader::new(io::stdin().lock())),
    };
    let client = connect(&args.server, args.attempts)?;
    let mut keys = match (&args.key, &args.key_field) {
        (Some(key), _) => KeySource::Fixed(key.clone()),
        (None, Some(field)) => KeySource::Field(field.clone()),
        (None, None) => KeySource::Random(RandomState::new().build_hasher().finish()),
    };
    if let KeySource::Fixed(key) = &keys {
        check_key(0, key)?;
    }
    let mut counts = Counts::default();
    let outcome = put_lines(&client, &args, input, &mut keys, &mut counts);
    eprintln!("put: {}", counts.summary());
    outcome?;
    if counts.failed > 0 {
        return Err(CliError::new(
            THROTTLED,
            format!(
                "{} record(s) were not stored after {} attempts (see the lines above) — put them again, or slower",
                counts.failed, args.attempts
            ),
        ));
    }
    Ok(())
}

fn put_lines(
    client: &BlockingClient,
    args: &PutArgs,
    mut input: Box<dyn BufRead>,
    keys: &mut KeySource,
    counts: &mut Counts,
) -> CliResult {
    let mut batch: Vec<PutRecordsEntry> = Vec::new();
    let mut batch_size_bytes = 0;
    let mut line = Vec::new();
    let mut last_progress = Instant::now();
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line).map_err(|e| CliError::runtime(format!("cannot read input: {e}")))?;
        if n == 0 {
            break;
        }
        counts.read += 1;
        let line_number = counts.read;
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        if line.len() > RECORD_DATA_SIZE_BYTES_MAX {
            return Err(CliError::usage(format!(
                "line {line_number} is {} bytes, over the 1 MiB a record can hold — split it",
                line.len()
            )));
        }
        let key = keys.key(line_number, &line)?;
        check_key(line_number, &key)?;
        if line.len() + key.len() > RECORD_SIZE_BYTES_MAX {
            return Err(CliError::usage(format!(
                "line {line_number} is {} bytes and its key {}: over the 1 MiB a record can hold with its key — \
                 split it",
                line.len(),
                key.len()
            )));
        }
        let entry = PutRecordsEntry::new(key, Bytes::copy_from_slice(&line));
        if batch.len() == PUT_RECORDS_COUNT_MAX || batch_size_bytes + entry.size_bytes() > PUT_RECORDS_SIZE_BYTES_MAX {
            send(client, args, std::mem::take(&mut batch), counts)?;
            batch_size_bytes = 0;
        }
        batch_size_bytes += entry.size_bytes();
        batch.push(entry);
        if last_progress.elapsed() >= PROGRESS_INTERVAL {
            eprintln!("put: {} lines read; {}", counts.read, counts.summary());
            last_progress = Instant::now();
        }
    }
    if !batch.is_empty() {
        send(client, args, batch, counts)?;
    }
    Ok(())
}

fn check_key(line_number: u64, key: &str) -> CliResult {
    let chars = key.chars().count();
    if chars == 0 || chars > PARTITION_KEY_LENGTH_CHARS_MAX {
        let place = if line_number == 0 { "--key".to_string() } else { format!("line {line_number}") };
        return Err(CliError::usage(format!(
            "{place}: a partition key must have 1-{PARTITION_KEY_LENGTH_CHARS_MAX} characters, not {chars}"
        )));
    }
    Ok(())
}

/// One PutRecords call, then the records it could not store yet through
/// `put_records_retrying_failed`.
fn send(client: &BlockingClient, args: &PutArgs, batch: Vec<PutRecordsEntry>, counts: &mut Counts) -> CliResult {
    let fail = |e| CliError::from_client(&args.server.addr, &format!("stream \"{}\"", args.stream), &e);
    let output = client.put_records(PutRecords::new(&args.stream, batch.clone())).map_err(fail)?;
    let mut again = Vec::new();
    for (entry, result) in batch.into_iter().zip(output.records) {
        match result {
            PutRecordsResult::Success { .. } => counts.accepted += 1,
            PutRecordsResult::Failure { status, .. } if status.is_retryable() && args.attempts > 1 => {
                again.push(entry);
            }
            PutRecordsResult::Failure { status, message } => {
                counts.failed += 1;
                eprintln!("put: a record failed: {}: {message}", status.name());
            }
        }
    }
    if again.is_empty() {
        return Ok(());
    }
    counts.retried += again.len() as u64;
    let output = client.put_records_retrying_failed(&args.stream, &again).map_err(fail)?;
    let mut reported = 0;
    for result in output.records {
        match result {
            PutRecordsResult::Success { .. } => counts.accepted += 1,
            PutRecordsResult::Failure { status, message } => {
                counts.failed += 1;
                // One line per call is enough to say why; the counts say how many.
                if reported == 0 {
                    eprintln!("put: records failed after retries: {}: {message}", status.name());
                }
                reported += 1;
            }
        }
    }
    Ok(())
}
