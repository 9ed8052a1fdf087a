//! `shoal stream split|merge|scale`: resharding. Each closes its parent shards (their records
//! stay readable until retention removes them) and adds children in one step; new records go
//! to the children at once. What the server refuses (a key outside the shard, shards that are
//! not neighbours, a target too far from the current count) comes back as a usage error with
//! the server's reason and what to try instead.

use shoal_protocol::client::{BlockingClient, ClientError};
use shoal_protocol::ops::{shard_id, DescribeStream, MergeShards, Shard, SplitShard, UpdateShardCount};
use shoal_protocol::Status;

use super::exit::{CliError, CliResult, NOT_FOUND};
use super::position::parse_shard;
use super::stream::all_shards;
use super::{connect, ServerAddr, ATTEMPTS_DEFAULT};

#[derive(clap::Args, Debug)]
pub struct SplitArgs {
    /// The stream.
    pub name: String,
    /// The open shard to split: an index (0) or a shard id (shardId-000000000000).
    #[arg(long, value_name = "N", value_parser = parse_shard)]
    pub shard: u32,
    /// The first hash key of the upper child, a decimal number strictly inside the shard's
    /// range (`shoal stream describe` shows it) [default: the middle of the range].
    #[arg(long, value_name = "HASHKEY")]
    pub at: Option<u128>,
    #[command(flatten)]
    pub server: ServerAddr,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The stream.
    pub name: String,
    /// The open shard with the lower hash key range.
    #[arg(long, value_name = "N", value_parser = parse_shard)]
    pub shard: u32,
    /// The open shard whose range starts just after --shard's.
    #[arg(long, value_name = "N", value_parser = parse_shard)]
    pub adjacent: u32,
    #[command(flatten)]
    pub server: ServerAddr,
}

#[derive(clap::Args, Debug)]
pub struct ScaleArgs {
    /// The stream.
    pub name: String,
    /// The number of open shards wanted: between half and double the current number. The
    /// open shards end up splitting the hash key space evenly (UpdateShardCount,
    /// UNIFORM_SCALING).
    #[arg(long, value_name = "N")]
    pub shards: u32,
    #[command(flatten)]
    pub server: ServerAddr,
}

pub fn split(args: SplitArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let parent = shard(&client, &args.server, &args.name, args.shard)?;
    if parent.ending_sequence_number.is_some() {
        return Err(CliError::usage(format!(
            "{} of stream \"{}\" is closed (already split or merged) — split one of its children; \
             `shoal stream describe {}` shows the open shards",
            shard_id(args.shard),
            args.name,
            args.name
        )));
    }
    let range = parent.hash_key_range;
    let at = args.at.unwrap_or_else(|| middle(range.start, range.end));
    client.split_shard(SplitShard::new(&args.name, args.shard, at)).map_err(|e| {
        refused(&args.server, &args.name, &e, || {
            format!(
                "--at must be within {}..={} (strictly inside the shard's range {} ..= {}); leave it out to split \
                 in the middle",
                range.start.saturating_add(2),
                range.end.saturating_sub(1),
                range.start,
                range.end
            )
        })
    })?;
    let children = children_of(&client, &args.server, &args.name, &[args.shard])?;
    eprintln!("split {} of stream \"{}\" at {at} into {}", shard_id(args.shard), args.name, describe(&children));
    Ok(())
}

pub fn merge(args: MergeArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    client.merge_shards(MergeShards::new(&args.name, args.shard, args.adjacent)).map_err(|e| {
        refused(&args.server, &args.name, &e, || {
            format!(
                "--shard and --adjacent must be open shards whose hash key ranges touch, --shard's below \
                 --adjacent's; `shoal stream describe {}` shows the ranges",
                args.name
            )
        })
    })?;
    let children = children_of(&client, &args.server, &args.name, &[args.shard, args.adjacent])?;
    eprintln!(
        "merged {} and {} of stream \"{}\" into {}",
        shard_id(args.shard),
        shard_id(args.adjacent),
        args.name,
        describe(&children)
    );
    Ok(())
}

pub fn scale(args: ScaleArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let output = client.update_shard_count(UpdateShardCount::new(&args.name, args.shards)).map_err(|e| {
        refused(&args.server, &args.name, &e, || {
            "--shards must be between half and double the stream's open shards; scale in several steps to go \
             further"
                .to_string()
        })
    })?;
    eprintln!(
        "stream \"{}\" has {} open shards (was {}); `shoal stream describe {}` shows them",
        args.name, output.target_shard_count, output.current_shard_count, args.name
    );
    Ok(())
}

/// The first hash key of the upper half of `start..=end`.
fn middle(start: u128, end: u128) -> u128 {
    start.saturating_add(end.saturating_sub(start) / 2).saturating_add(1)
}

/// One shard of the stream, by index.
fn shard(client: &BlockingClient, server: &ServerAddr, stream: &str, index: u32) -> Result<Shard, CliError> {
    let what = format!("stream \"{stream}\"");
    let request =
        DescribeStream { stream_name: stream.to_owned(), limit: Some(1), exclusive_start_shard: index.checked_sub(1) };
    let page = client.describe_stream(request).map_err(|e| CliError::from_client(&server.addr, &what, &e))?;
    page.shards.into_iter().find(|s| s.index == index).ok_or_else(|| {
        CliError::new(
            NOT_FOUND,
            format!(
                "{} not found in stream \"{stream}\" — `shoal stream describe {stream}` lists its shards",
                shard_id(index)
            ),
        )
    })
}

/// The shards whose parents are exactly `parents` (a reshard's children).
fn children_of(
    client: &BlockingClient,
    server: &ServerAddr,
    stream: &str,
    parents: &[u32],
) -> Result<Vec<Shard>, CliError> {
    let what = format!("stream \"{stream}\"");
    let shards = all_shards(client, stream).map_err(|e| CliError::from_client(&server.addr, &what, &e))?;
    let of = |s: &Shard| {
        let mine: Vec<u32> = s.parent.iter().chain(s.adjacent_parent.iter()).copied().collect();
        mine == parents
    };
    Ok(shards.into_iter().filter(of).collect())
}

fn describe(shards: &[Shard]) -> String {
    let each: Vec<String> = shards
        .iter()
        .map(|s| format!("{} (hash keys {} ..= {})", shard_id(s.index), s.hash_key_range.start, s.hash_key_range.end))
        .collect();
    each.join(" and ")
}

/// A failed reshard: the server's refusals with `hint`, the shard quota as a plain refusal.
fn refused(server: &ServerAddr, stream: &str, error: &ClientError, hint: impl FnOnce() -> String) -> CliError {
    let what = format!("stream \"{stream}\"");
    match error.status() {
        Some(Status::InvalidArgument | Status::Validation) => {
            CliError::usage(format!("the server refused the reshard: {error} — {}", hint()))
        }
        Some(Status::LimitExceeded) => CliError::runtime(format!(
            "the server refused the reshard: {error} — it would pass the server's shard quota; delete or merge \
             shards first"
        )),
        Some(Status::ResourceNotFound) => CliError::new(
            NOT_FOUND,
            format!("{error} — `shoal stream list` shows the streams, `shoal stream describe {stream}` the shards"),
        ),
        _ => CliError::from_client(&server.addr, &what, error),
    }
}

#[cfg(test)]
mod tests {
    use super::middle;

    #[test]
    fn middle_splits_a_range_into_two_halves() {
        assert_eq!(middle(0, u128::MAX), 1 << 127);
        assert_eq!(middle(0, 3), 2);
        assert_eq!(middle(10, 20), 16);
    }
}
