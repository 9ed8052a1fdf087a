//! `shoal consumer register|deregister|list|describe`: enhanced fan-out consumers of a stream.
//! `shoal tail --consumer NAME` reads as one (and registers it if needed).

use std::io::Write;

use shoal_protocol::client::ClientError;
use shoal_protocol::ops::{DeregisterStreamConsumer, DescribeStreamConsumer, RegisterStreamConsumer};
use shoal_protocol::Status;

use super::exit::{CliError, CliResult};
use super::format::{output_error, utc};
use super::stream::consumers;
use super::{connect, ServerAddr, ATTEMPTS_DEFAULT};

#[derive(clap::Subcommand, Debug)]
pub enum ConsumerCommand {
    /// Register a consumer with a stream and print its ARN.
    Register(ConsumerArgs),
    /// Deregister a consumer; its subscriptions end.
    Deregister(ConsumerArgs),
    /// List a stream's consumers, one name per line.
    List(ListArgs),
    /// Show a consumer: name, stream, status, creation time, ARN.
    Describe(ConsumerArgs),
}

#[derive(clap::Args, Debug)]
pub struct ConsumerArgs {
    /// The stream.
    pub stream: String,
    /// The consumer's name: 1-128 characters of a-z A-Z 0-9 _ . -
    pub name: String,
    #[command(flatten)]
    pub server: ServerAddr,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// The stream.
    pub stream: String,
    #[command(flatten)]
    pub server: ServerAddr,
}

pub fn run(command: ConsumerCommand) -> CliResult {
    match command {
        ConsumerCommand::Register(args) => register(args),
        ConsumerCommand::Deregister(args) => deregister(args),
        ConsumerCommand::List(args) => list(args),
        ConsumerCommand::Describe(args) => describe(args),
    }
}

fn register(args: ConsumerArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let output =
        client.register_stream_consumer(RegisterStreamConsumer::new(&args.stream, &args.name)).map_err(|e| match e
            .status()
        {
            Some(Status::ResourceInUse) => CliError::runtime(format!(
                "consumer \"{}\" is already registered with stream \"{}\" — `shoal consumer describe {} {}` \
                     shows it",
                args.name, args.stream, args.stream, args.name
            )),
            Some(Status::LimitExceeded) => CliError::runtime(format!(
                "{e} — deregister a consumer first (`shoal consumer list {}` lists them)",
                args.stream
            )),
            _ => failed(&args, &e),
        })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", output.consumer.consumer_arn).map_err(output_error)?;
    eprintln!("registered consumer \"{}\" with stream \"{}\"", args.name, args.stream);
    Ok(())
}

fn deregister(args: ConsumerArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    client
        .deregister_stream_consumer(DeregisterStreamConsumer::new(&args.stream, &args.name))
        .map_err(|e| failed(&args, &e))?;
    eprintln!("deregistered consumer \"{}\" from stream \"{}\"", args.name, args.stream);
    Ok(())
}

fn list(args: ListArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let all = consumers(&client, &args.stream)
        .map_err(|e| CliError::from_client(&args.server.addr, &format!("stream \"{}\"", args.stream), &e))?;
    let mut out = std::io::stdout().lock();
    for consumer in &all {
        writeln!(out, "{}", consumer.consumer_name).map_err(output_error)?;
    }
    Ok(())
}

fn describe(args: ConsumerArgs) -> CliResult {
    let client = connect(&args.server, ATTEMPTS_DEFAULT)?;
    let d = client
        .describe_stream_consumer(DescribeStreamConsumer::new(&args.stream, &args.name))
        .map_err(|e| failed(&args, &e))?;
    let c = &d.consumer;
    let text = format!(
        "consumer    {}\nstream      {}\nstatus      {}\ncreated     {}\narn         {}\n",
        c.consumer_name,
        d.stream_name,
        c.status.name(),
        utc(c.creation_timestamp_ms),
        c.consumer_arn
    );
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(output_error)
}

fn failed(args: &ConsumerArgs, error: &ClientError) -> CliError {
    let what = format!("consumer \"{}\" of stream \"{}\"", args.name, args.stream);
    CliError::from_client(&args.server.addr, &what, error)
}
