//! Exit codes that scripts can rely on, and the error every client command ends with.
//!
//! The codes are a contract: one place defines them, `--help` and README.md list them, and a
//! code never changes meaning. Clap's own usage errors already exit with 2, so the commands use
//! [`USAGE`] for the mistakes only the server or the input reveals (an invalid shard count, a
//! JSON line without the key field).

use std::fmt;
use std::process::ExitCode;

use shoal_protocol::client::ClientError;
use shoal_protocol::Status;

/// Everything went as asked.
pub const OK: u8 = 0;
/// The server or the connection failed, or the service refused for another reason.
pub const RUNTIME: u8 = 1;
/// The command line, or the input, is wrong; nothing useful was done.
pub const USAGE: u8 = 2;
/// The stream, shard or consumer does not exist.
pub const NOT_FOUND: u8 = 3;
/// Throttled after every retry, or some records of a put were never stored.
pub const THROTTLED: u8 = 4;

/// The table `--help` ends with (README.md has the same one).
pub const HELP: &str = "\
Exit codes:
  0  ok
  1  runtime or service error (cannot connect, server failure)
  2  usage error (bad option or value, input that cannot be sent)
  3  not found (stream, shard or consumer)
  4  throttled after all retries, or some records of a put failed";

/// Why a client command stopped: what to tell the person and which code to exit with.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

pub type CliResult = Result<(), CliError>;

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError { code, message: message.into() }
    }

    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(USAGE, message)
    }

    pub fn runtime(message: impl Into<String>) -> CliError {
        CliError::new(RUNTIME, message)
    }

    /// A failed client call, with `what` naming the thing it was about (`stream "orders"`)
    /// for a not-found message, and a hint on what to do where there is an obvious one.
    pub fn from_client(addr: &str, what: &str, error: &ClientError) -> CliError {
        match error {
            ClientError::Connect(io) => CliError::runtime(connect_message(addr, io)),
            ClientError::ConnectionLost(reason) => CliError::runtime(format!(
                "lost the connection to {addr}: {reason} — did `shoal serve` stop? Run the command again"
            )),
            ClientError::Timeout(after) => {
                CliError::runtime(format!("no answer from {addr} within {after:?} — is the server overloaded?"))
            }
            ClientError::Service { status, message } => service_error(what, *status, message),
            other => CliError::runtime(other.to_string()),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// `cannot connect to 127.0.0.1:7070: connection refused — is `shoal serve` running?`
pub fn connect_message(addr: &str, io: &std::io::Error) -> String {
    let why = match io.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::TimedOut => "timed out".to_string(),
        _ => io.to_string(),
    };
    format!("cannot connect to {addr}: {why} — is `shoal serve` running? (`--addr HOST:PORT` picks another server)")
}

fn service_error(what: &str, status: Status, message: &str) -> CliError {
    let detail = if message.is_empty() { String::new() } else { format!(" ({message})") };
    match status {
        Status::ResourceNotFound => CliError::new(
            NOT_FOUND,
            format!("{what} not found{detail} — `shoal stream list` shows the streams, `shoal stream describe NAME` the shards"),
        ),
        Status::ProvisionedThroughputExceeded | Status::LimitExceeded => CliError::new(
            THROTTLED,
            format!("throttled: {}{detail} — still over the limit after every retry; try again later or slower", status.name()),
        ),
        Status::Validation | Status::InvalidArgument => {
            CliError::usage(format!("the server refused the request: {}{detail}", status.name()))
        }
        Status::ResourceInUse => CliError::runtime(format!("{what} is in use: {}{detail}", status.name())),
        _ => CliError::runtime(format!("the server failed: {}{detail}", status.name())),
    }
}
