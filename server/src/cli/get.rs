//! `shoal get STREAM --shard N`: one shard, from a position to its current end (or `--limit`
//! records), printed one record per line.

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use shoal_protocol::client::BlockingClient;
use shoal_protocol::limits::GET_RECORDS_LIMIT_MAX;
use shoal_protocol::ops::{shard_id, GetRecords, GetRecordsOutput};

use super::exit::{CliError, CliResult};
use super::format::{output_error, write_record, Format};
use super::position::{parse_shard, StartAt};
use super::{connect, ServerAddr, ATTEMPTS_DEFAULT};

/// GetRecords calls on one shard are spaced at least this far apart: the default limit is 5
/// calls per second per shard, shared by every reader of it.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// The stream to read.
    pub stream: String,
    /// The shard to read: an index (0) or a shard id (shardId-000000000000).
    #[arg(long, value_name = "N", value_parser = parse_shard)]
    pub shard: u32,
    /// Where to start: trim-horizon (the oldest record kept), latest (records put from now
    /// on), at:SEQ or after:SEQ (at or just after a sequence number), at-timestamp:MS (the
    /// first record that arrived at or after MS milliseconds since the Unix epoch).
    #[arg(long, value_name = "POSITION", default_value = "trim-horizon")]
    pub from: StartAt,
    /// Stop after this many records [default: read to the shard's current end].
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// How records are printed.
    #[arg(long, value_enum, default_value = "raw")]
    pub format: Format,
    #[command(flatten)]
    pub server: ServerAddr,
}

pub fn run(args: GetArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let what = format!("shard {} of stream \"{}\"", args.shard, args.stream);
    let fail = |e| CliError::from_client(&args.server.addr, &what, &e);
    let mut iterator =
        Some(client.get_shard_iterator(args.from.shard_iterator(&args.stream, args.shard)).map_err(fail)?.iterator);
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut printed = 0u64;
    let mut last_call: Option<Instant> = None;
    while let Some(it) = iterator.take() {
        let remaining = args.limit.map_or(u64::MAX, |limit| limit - printed);
        if remaining == 0 {
            break;
        }
        let output = get_paced(&client, it, remaining, &mut last_call).map_err(fail)?;
        for record in &output.records {
            write_record(&mut out, args.format, args.shard, record).map_err(output_error)?;
        }
        printed += output.records.len() as u64;
        let at_end = output.records.is_empty() && output.millis_behind_latest == 0;
        if output.next_iterator.is_none() {
            tracing::debug!(shard = %shard_id(args.shard), "the shard is closed and fully read");
        }
        if !at_end {
            iterator = output.next_iterator;
        }
    }
    out.flush().map_err(output_error)
}

/// One GetRecords call, at most `remaining` records, no sooner than [`POLL_INTERVAL`] after
/// the previous call on the same shard.
pub fn get_paced(
    client: &BlockingClient,
    iterator: bytes::Bytes,
    remaining: u64,
    last_call: &mut Option<Instant>,
) -> Result<GetRecordsOutput, shoal_protocol::client::ClientError> {
    if let Some(last) = *last_call {
        let next = last + POLL_INTERVAL;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    *last_call = Some(Instant::now());
    let mut request = GetRecords::new(iterator);
    request.limit = Some(remaining.min(u64::from(GET_RECORDS_LIMIT_MAX)) as u32);
    client.get_records(request)
}
