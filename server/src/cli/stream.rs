//! `shoal stream create|delete|list|describe|retention`, and the reshard commands of
//! `reshard` (`split|merge|scale`).

use std::io::Write;

use shoal_protocol::client::{BlockingClient, ClientError};
use shoal_protocol::limits::{RETENTION_HOURS_MAX, RETENTION_HOURS_MIN};
use shoal_protocol::ops::{
    shard_id, CreateStream, DeleteStream, DescribeStream, DescribeStreamSummary, ListStreamConsumers, ListStreams,
    RetentionPeriodChange, Shard, ShardLimits,
};

use super::exit::{CliError, CliResult};
use super::format::{output_error, utc};
use super::reshard::{self, MergeArgs, ScaleArgs, SplitArgs};
use super::{connect, ServerAddr, ATTEMPTS_DEFAULT};

#[derive(clap::Subcommand, Debug)]
pub enum StreamCommand {
    /// Create a stream whose shards split the hash key space evenly.
    Create(CreateArgs),
    /// Delete a stream and all its records.
    Delete(DeleteArgs),
    /// List the streams, one name per line.
    List(ListArgs),
    /// Show a stream: status, retention, shards (hash ranges, parents, sequence ranges), consumers.
    Describe(DescribeArgs),
    /// Change how long a stream keeps its records (longer or shorter than now).
    #[command(after_help = super::exit::HELP)]
    Retention(RetentionArgs),
    /// Split an open shard in two at a hash key (default: the middle of its range).
    #[command(after_help = super::exit::HELP)]
    Split(SplitArgs),
    /// Merge two open shards whose hash key ranges touch into one.
    #[command(after_help = super::exit::HELP)]
    Merge(MergeArgs),
    /// Bring a stream to N open shards that split the hash key space evenly (UpdateShardCount).
    #[command(after_help = super::exit::HELP)]
    Scale(ScaleArgs),
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limits {
    /// Kinesis' per-shard limits: writes 1 MiB/s and 1,000 records/s, reads 2 MiB/s and 5 calls/s.
    Kinesis,
    /// No per-shard limits (benchmarks, tests).
    Unlimited,
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// The stream's name: 1-128 characters of a-z A-Z 0-9 _ . -
    pub name: String,
    /// Number of shards (1-100,000).
    #[arg(long)]
    pub shards: u32,
    /// How long records are kept, in hours (24-8,760) [default: the server's, 24].
    #[arg(long, value_name = "H")]
    pub retention_hours: Option<u32>,
    /// Per-shard throughput limits [default: the server's, see `shoal serve --shard-limits`].
    #[arg(long, value_enum)]
    pub limits: Option<Limits>,
    #[command(flatten)]
    pub server: ServerAddr,
}

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// The stream to delete.
    pub name: String,
    /// Delete it even if fan-out consumers are registered (they are deregistered).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub server: ServerAddr,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub server: ServerAddr,
}

#[derive(clap::Args, Debug)]
pub struct DescribeArgs {
    /// The stream to describe.
    pub name: String,
    #[command(flatten)]
    pub server: ServerAddr,
}

#[derive(clap::Args, Debug)]
pub struct RetentionArgs {
    /// The stream.
    pub name: String,
    /// How long records are kept, in hours (24-8,760). Shortening it lets the server delete
    /// records older than the new period within about a second.
    #[arg(long, value_name = "H")]
    pub hours: u32,
    #[command(flatten)]
    pub server: ServerAddr,
}

pub fn run(command: StreamCommand) -> CliResult {
    match command {
        StreamCommand::Create(args) => create(args),
        StreamCommand::Delete(args) => delete(args),
        StreamCommand::List(args) => list(args),
        StreamCommand::Describe(args) => describe(args),
        StreamCommand::Retention(args) => retention(args),
        StreamCommand::Split(args) => reshard::split(args),
        StreamCommand::Merge(args) => reshard::merge(args),
        StreamCommand::Scale(args) => reshard::scale(args),
    }
}

fn create(args: CreateArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let mut request = CreateStream::new(&args.name, args.shards);
    request.retention_hours = args.retention_hours;
    request.shard_limits = args.limits.map(|limits| match limits {
        Limits::Kinesis => ShardLimits {
            write_bytes_per_second: 1024 * 1024,
            write_records_per_second: 1000,
            read_bytes_per_second: 2 * 1024 * 1024,
            read_calls_per_second: 5,
        },
        Limits::Unlimited => ShardLimits {
            write_bytes_per_second: u32::MAX,
            write_records_per_second: u32::MAX,
            read_bytes_per_second: u32::MAX,
            read_calls_per_second: u32::MAX,
        },
    });
    client.create_stream(request).map_err(|e| {
        let error = CliError::from_client(&args.server.addr, &format!("stream \"{}\"", args.name), &e);
        if e.status() == Some(shoal_protocol::Status::ResourceInUse) {
            CliError::runtime(format!(
                "stream \"{}\" already exists — `shoal stream describe {}` shows it; delete it first to re-create it",
                args.name, args.name
            ))
        } else {
            error
        }
    })?;
    eprintln!("created stream \"{}\" with {} shard(s)", args.name, args.shards);
    Ok(())
}

fn delete(args: DeleteArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let what = format!("stream \"{}\"", args.name);
    client
        .delete_stream(DeleteStream { stream_name: args.name.clone(), enforce_consumer_deletion: args.force })
        .map_err(|e| {
            if e.status() == Some(shoal_protocol::Status::ResourceInUse) && !args.force {
                CliError::runtime(format!(
                    "{what} has registered fan-out consumers ({e}) — add --force to delete it with them"
                ))
            } else {
                CliError::from_client(&args.server.addr, &what, &e)
            }
        })?;
    eprintln!("deleted {what}");
    Ok(())
}

fn list(args: ListArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let mut request = ListStreams::default();
    let mut out = std::io::stdout().lock();
    loop {
        let page =
            client.list_streams(request.clone()).map_err(|e| CliError::from_client(&args.server.addr, "", &e))?;
        for name in &page.stream_names {
            writeln!(out, "{name}").map_err(output_error)?;
        }
        match page.stream_names.last() {
            Some(last) if page.has_more_streams => request.exclusive_start_stream_name = Some(last.clone()),
            _ => return Ok(()),
        }
    }
}

/// Increase or Decrease StreamRetentionPeriod, whichever moves the current period to `--hours`.
fn retention(args: RetentionArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let what = format!("stream \"{}\"", args.name);
    let fail = |e| CliError::from_client(&args.server.addr, &what, &e);
    let current = client.describe_stream_summary(DescribeStreamSummary::new(&args.name)).map_err(fail)?.retention_hours;
    let change = RetentionPeriodChange::new(&args.name, args.hours);
    let changed = match args.hours.cmp(&current) {
        std::cmp::Ordering::Equal => {
            eprintln!("{what} already keeps records for {current} hours");
            return Ok(());
        }
        std::cmp::Ordering::Greater => client.increase_stream_retention_period(change),
        std::cmp::Ordering::Less => client.decrease_stream_retention_period(change),
    };
    changed.map_err(|e| match e.status() {
        Some(shoal_protocol::Status::Validation | shoal_protocol::Status::InvalidArgument) => CliError::usage(format!(
            "the server refused the retention: {e} — --hours must be within {RETENTION_HOURS_MIN}..={RETENTION_HOURS_MAX}"
        )),
        _ => CliError::from_client(&args.server.addr, &what, &e),
    })?;
    eprintln!("{what} now keeps records for {} hours (was {current})", args.hours);
    Ok(())
}

/// Every shard of a stream, following DescribeStream's pages.
pub fn all_shards(client: &BlockingClient, stream: &str) -> Result<Vec<Shard>, ClientError> {
    let mut request = DescribeStream::new(stream);
    let first = client.describe_stream(request.clone())?;
    let mut shards = first.shards;
    let mut more = first.has_more_shards;
    while more {
        request.exclusive_start_shard = shards.last().map(|s| s.index);
        let page = client.describe_stream(request.clone())?;
        more = page.has_more_shards && !page.shards.is_empty();
        shards.extend(page.shards);
    }
    Ok(shards)
}

fn describe(args: DescribeArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let what = format!("stream \"{}\"", args.name);
    let fail = |e| CliError::from_client(&args.server.addr, &what, &e);
    let first = client.describe_stream_summary(DescribeStreamSummary::new(&args.name)).map_err(fail)?;
    let shards = all_shards(&client, &args.name).map_err(fail)?;
    let consumers = consumers(&client, &args.name).map_err(fail)?;

    let open = shards.iter().filter(|s| s.ending_sequence_number.is_none()).count();
    let mut out = String::new();
    out.push_str(&format!("stream      {}\n", first.stream_name));
    out.push_str(&format!("status      {}\n", first.status.name()));
    out.push_str(&format!("created     {}\n", utc(first.creation_timestamp_ms)));
    out.push_str(&format!("retention   {} hours\n", first.retention_hours));
    out.push_str(&format!("shards      {} ({open} open, {} closed)\n", shards.len(), shards.len() - open));
    for shard in &shards {
        out.push_str(&describe_shard(shard));
    }
    out.push_str(&format!("consumers   {}\n", consumers.len()));
    for consumer in &consumers {
        out.push_str(&format!(
            "  {}  {}  created {}  {}\n",
            consumer.consumer_name,
            consumer.status.name(),
            utc(consumer.creation_timestamp_ms),
            consumer.consumer_arn
        ));
    }
    std::io::stdout().lock().write_all(out.as_bytes()).map_err(output_error)
}

fn describe_shard(shard: &Shard) -> String {
    let state = if shard.ending_sequence_number.is_some() { "closed" } else { "open" };
    let parents: Vec<String> = shard.parent.iter().chain(shard.adjacent_parent.iter()).map(|&p| shard_id(p)).collect();
    let ending = shard.ending_sequence_number.map_or_else(|| "(open)".to_string(), |seq| seq.to_string());
    let mut line = format!("  {}  {state}\n", shard_id(shard.index));
    line.push_str(&format!("    hash keys   {} ..= {}\n", shard.hash_key_range.start, shard.hash_key_range.end));
    if !parents.is_empty() {
        line.push_str(&format!("    parents     {}\n", parents.join(", ")));
    }
    line.push_str(&format!("    sequence    {} .. {ending}\n", shard.starting_sequence_number));
    line
}

/// Every consumer of a stream, following ListStreamConsumers' pages.
pub fn consumers(
    client: &BlockingClient,
    stream: &str,
) -> Result<Vec<shoal_protocol::ops::Consumer>, shoal_protocol::client::ClientError> {
    let mut all = Vec::new();
    let mut request = ListStreamConsumers::new(stream);
    loop {
        let page = client.list_stream_consumers(request)?;
        all.extend(page.consumers);
        match page.next_token {
            Some(token) => request = ListStreamConsumers::next_page(stream, token),
            None => return Ok(all),
        }
    }
}
