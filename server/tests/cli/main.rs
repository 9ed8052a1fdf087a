//! The `shoal` client commands, run as a subprocess against an in-process server (127.0.0.1,
//! ephemeral port, bounded in time): what a person or a script sees, including exit codes.

mod check;
mod config;
mod harness;
mod kill;
mod put_get;
mod reshard;
mod stats;
mod stream;
mod tail;
