//! `shoal tail STREAM`: follow every shard of a stream and print records as they arrive.
//!
//! One reader thread per shard sends what it reads to the main thread, which alone writes to
//! stdout (one record per line, never interleaved) and counts toward `--max-records`. Readers
//! are either polled (GetRecords, each shard's calls spaced by `get::POLL_INTERVAL`, within the
//! default 5 calls/s per shard) or, with `--consumer`, enhanced fan-out subscriptions, one
//! connection each (a subscription that waits for its reader holds up its whole connection).
//!
//! Resharding: a reader that reaches the end of a closed shard reports its child shards, and a
//! child is followed from its start once every parent this tail follows has ended, so a key's
//! records come out parents first, in order. With `--from latest` only the open shards are
//! followed; otherwise the oldest shards still kept are, then their children.
//!
//! Ctrl-C (or SIGTERM) ends the tail with exit code 0.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_protocol::client::{BlockingClient, ClientError};
use shoal_protocol::ops::{
    ChildShard, ConsumerStatus, DescribeStreamConsumer, ListShards, Record, RegisterStreamConsumer, Shard,
    SubscriptionEnd,
};
use shoal_protocol::Status;

use super::exit::{CliError, CliResult};
use super::format::{output_error, write_record, Format};
use super::get::get_paced;
use super::position::StartAt;
use super::{client_config, connect, ServerAddr, ATTEMPTS_DEFAULT};

/// How long a fan-out tail waits for a subscription of the same consumer (a tail that just
/// stopped) to go away before it reports the shard as taken.
const SUBSCRIPTION_TAKEOVER_WAIT: Duration = Duration::from_secs(5);

/// How often the main thread looks at the Ctrl-C flag while no record arrives.
const STOP_CHECK_INTERVAL: Duration = Duration::from_millis(100);

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    /// The stream to follow.
    pub stream: String,
    /// Where each shard starts: latest (records put from now on), trim-horizon (the oldest
    /// record kept), or at-timestamp:MS (milliseconds since the Unix epoch). Children of a
    /// reshard always start at their beginning.
    #[arg(long, value_name = "POSITION", default_value = "latest")]
    pub from: StartAt,
    /// How records are printed.
    #[arg(long, value_enum, default_value = "raw")]
    pub format: Format,
    /// Read as this enhanced fan-out consumer (registered if missing) instead of polling:
    /// records are pushed as they are stored, with throughput of its own.
    #[arg(long, value_name = "NAME")]
    pub consumer: Option<String>,
    /// Stop after printing this many records [default: follow until Ctrl-C].
    #[arg(long, value_name = "N")]
    pub max_records: Option<u64>,
    #[command(flatten)]
    pub server: ServerAddr,
}

/// What a shard's reader tells the main thread.
enum Event {
    Records(u32, Vec<Record>),
    /// The shard is closed and fully read.
    Ended(u32, Vec<ChildShard>),
    Failed(CliError),
}

/// How readers read.
#[derive(Clone)]
enum Mode {
    Polled(BlockingClient),
    FanOut { consumer_arn: String },
}

pub fn run(args: TailArgs) -> CliResult {
    if args.from.is_per_shard() {
        return Err(CliError::usage(format!(
            "--from {} names a sequence number, which belongs to one shard — use `shoal get --shard N --from {}`, or tail --from trim-horizon|latest|at-timestamp:MS",
            args.from, args.from
        )));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| CliError::runtime(format!("cannot install a signal handler: {e}")))?;
    }
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let what = format!("stream \"{}\"", args.stream);
    let shards = list_shards(&client, &args.stream).map_err(|e| CliError::from_client(&args.server.addr, &what, &e))?;
    let mode = match &args.consumer {
        None => Mode::Polled(client.clone()),
        Some(name) => Mode::FanOut { consumer_arn: ensure_consumer(&client, &args, name)? },
    };

    let (events, inbox) = mpsc::channel();
    let mut tail = Tail { args: &args, mode, events, following: BTreeMap::new() };
    let known: BTreeSet<u32> = shards.iter().map(|s| s.index).collect();
    for shard in &shards {
        let open = shard.ending_sequence_number.is_none();
        let root = shard.parent.iter().chain(shard.adjacent_parent.iter()).all(|p| !known.contains(p));
        let follow = if args.from == StartAt::Latest { open } else { root };
        if follow {
            tail.follow(shard.index, args.from);
        }
    }

    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut printed = 0u64;
    let limit = args.max_records.unwrap_or(u64::MAX);
    while printed < limit && !stop.load(Ordering::Relaxed) {
        let event = match inbox.recv_timeout(STOP_CHECK_INTERVAL) {
            Ok(event) => event,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match event {
            Event::Records(shard, records) => {
                for record in records.iter().take((limit - printed) as usize) {
                    write_record(&mut out, args.format, shard, record).map_err(output_error)?;
                    printed += 1;
                }
                out.flush().map_err(output_error)?;
            }
            Event::Ended(shard, children) => tail.ended(shard, children),
            Event::Failed(error) => return Err(error),
        }
        if tail.following.values().all(|ended| *ended) {
            eprintln!("tail: every followed shard is closed and fully read");
            break;
        }
    }
    out.flush().map_err(output_error)
}

struct Tail<'a> {
    args: &'a TailArgs,
    mode: Mode,
    events: mpsc::Sender<Event>,
    /// Every shard a reader was started for, and whether it has ended.
    following: BTreeMap<u32, bool>,
}

impl Tail<'_> {
    fn follow(&mut self, shard: u32, from: StartAt) {
        if self.following.insert(shard, false).is_some() {
            return;
        }
        let events = self.events.clone();
        let stream = self.args.stream.clone();
        let server = self.args.server.clone();
        let mode = self.mode.clone();
        std::thread::spawn(move || {
            let outcome = match mode {
                Mode::Polled(client) => poll(&client, &server, &stream, shard, from, &events),
                Mode::FanOut { consumer_arn } => subscribe(&server, &consumer_arn, shard, from, &events),
            };
            if let Err(error) = outcome {
                let _ = events.send(Event::Failed(error));
            }
        });
    }

    /// A followed shard ended: follow each child whose followed parents have all ended.
    fn ended(&mut self, shard: u32, children: Vec<ChildShard>) {
        self.following.insert(shard, true);
        for child in children {
            let ready = child.parents.iter().all(|p| self.following.get(p).is_none_or(|ended| *ended));
            if ready {
                self.follow(child.index, StartAt::TrimHorizon);
            }
        }
    }
}

/// Polls one shard until it ends (or the main thread goes away).
fn poll(
    client: &BlockingClient,
    server: &ServerAddr,
    stream: &str,
    shard: u32,
    from: StartAt,
    events: &mpsc::Sender<Event>,
) -> CliResult {
    let what = format!("shard {shard} of stream \"{stream}\"");
    let fail = |e| CliError::from_client(&server.addr, &what, &e);
    let mut iterator = client.get_shard_iterator(from.shard_iterator(stream, shard)).map_err(fail)?.iterator;
    let mut last_call = None;
    loop {
        let output = get_paced(client, iterator, u64::MAX, &mut last_call).map_err(fail)?;
        if !output.records.is_empty() && events.send(Event::Records(shard, output.records)).is_err() {
            return Ok(());
        }
        match output.next_iterator {
            Some(next) => iterator = next,
            None => {
                let _ = events.send(Event::Ended(shard, output.child_shards));
                return Ok(());
            }
        }
    }
}

/// Follows one shard as a fan-out consumer, across subscription lifetimes, until it ends.
fn subscribe(
    server: &ServerAddr,
    consumer_arn: &str,
    shard: u32,
    from: StartAt,
    events: &mpsc::Sender<Event>,
) -> CliResult {
    // A connection of its own: a subscription waiting for its reader holds up its connection.
    let client = BlockingClient::connect(server.addr.as_str(), client_config(ATTEMPTS_DEFAULT))
        .map_err(|e| CliError::from_client(&server.addr, "server", &e))?;
    // A consumer's subscription to a shard outlives a tail that just stopped until the server
    // sees its connection close, so a refusal before the first event is retried for a while.
    let deadline = Instant::now() + SUBSCRIPTION_TAKEOVER_WAIT;
    loop {
        let mut subscription = client.subscribe_to_shard_resuming(consumer_arn, shard, from.starting_position());
        let mut started = false;
        for event in subscription.by_ref() {
            let event = match event {
                Ok(event) => event,
                Err(e) if !started && e.status() == Some(Status::ResourceInUse) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                    break;
                }
                Err(e) => return Err(subscribe_error(&server.addr, shard, &e)),
            };
            started = true;
            if !event.records.is_empty() && events.send(Event::Records(shard, event.records)).is_err() {
                return Ok(());
            }
            if event.end == Some(SubscriptionEnd::ShardEnd) {
                let _ = events.send(Event::Ended(shard, event.child_shards));
                return Ok(());
            }
        }
        if started {
            return Ok(());
        }
    }
}

fn subscribe_error(addr: &str, shard: u32, error: &ClientError) -> CliError {
    if error.status() == Some(Status::ResourceInUse) {
        return CliError::runtime(format!(
            "shard {shard} already has a subscription of this consumer ({error}) — is another `shoal tail --consumer` with the same name running? Use another --consumer name"
        ));
    }
    CliError::from_client(addr, &format!("consumer or shard {shard}"), error)
}

/// The consumer's ARN, registering it first if the stream has none of that name.
fn ensure_consumer(client: &BlockingClient, args: &TailArgs, name: &str) -> Result<String, CliError> {
    let addr = &args.server.addr;
    let what = format!("stream \"{}\"", args.stream);
    for _ in 0..50 {
        let consumer = match client.describe_stream_consumer(DescribeStreamConsumer::new(&args.stream, name)) {
            Ok(description) => description.consumer,
            Err(e) if e.status() == Some(Status::ResourceNotFound) => {
                match client.register_stream_consumer(RegisterStreamConsumer::new(&args.stream, name)) {
                    Ok(registered) => {
                        eprintln!("tail: registered consumer \"{name}\" with {what}");
                        registered.consumer
                    }
                    // Another tail registered it in between: describe it again.
                    Err(e) if e.status() == Some(Status::ResourceInUse) => continue,
                    Err(e) => return Err(CliError::from_client(addr, &what, &e)),
                }
            }
            Err(e) => return Err(CliError::from_client(addr, &what, &e)),
        };
        if consumer.status == ConsumerStatus::Active {
            return Ok(consumer.consumer_arn);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(CliError::runtime(format!("consumer \"{name}\" of {what} did not become ACTIVE within 5 s — try again")))
}

fn list_shards(client: &BlockingClient, stream: &str) -> Result<Vec<Shard>, ClientError> {
    let mut shards = Vec::new();
    let mut page = client.list_shards(ListShards::for_stream(stream))?;
    loop {
        shards.append(&mut page.shards);
        match page.next_token.take() {
            Some(token) => page = client.list_shards(ListShards::next_page(token))?,
            None => return Ok(shards),
        }
    }
}
