//! # shoal-loadgen
//!
//! The load generator and end-to-end checker for Shoal: open-loop producers at a target rate,
//! polled consumers and fan-out subscribers that verify every acknowledged record, latency histograms, and a report
//! as a table, JSON or an HTML page with charts. `main.rs` is only the command line; the run
//! itself is a library so tests can drive its parts.
//!
//! # Layout
//! * [`cli`]: options, profiles and their defaults, resolved into a [`cli::Plan`].
//! * [`budget`]: the run's time bound, its phases' deadlines, and waits that end by them.
//! * [`units`]: rates (`0.9x`, `1000/s`, `2MB/s`), durations and sizes.
//! * [`target`]: the server (embedded or remote) and the stream.
//! * [`keys`]: partition keys, balanced over shards, with an optional hot key.
//! * [`payload`]: the record format: identity, intended send time, checksum.
//! * [`producer`]: the open-loop pacer and the put requests.
//! * [`consumer`]: polled GetRecords loops within the read limits.
//! * [`subscriber`]: enhanced fan-out subscribers (SubscribeToShard), one connection each.
//! * [`verify`]: the pure verifier: exactly once, in order, intact.
//! * [`stats`]: counters and hdrhistograms per second and per step.
//! * [`run`]: one run, from setup to [`report::Report`].
//! * [`report`]: the report and its renderings (table, JSON, HTML with inline SVG).

pub mod budget;
pub mod cli;
pub mod consumer;
pub mod keys;
pub mod payload;
pub mod producer;
pub mod report;
pub mod run;
pub mod stats;
pub mod subscriber;
pub mod target;
pub mod units;
pub mod verify;

use bytes::Bytes;

use crate::payload::RecordId;
use crate::producer::RecordOutcome;
use crate::verify::ConsumerId;

/// What producers and consumers tell the verifier thread.
#[derive(Debug)]
pub enum Event {
    /// The outcome of every record of one put request.
    Outcomes(Vec<(RecordId, RecordOutcome)>),
    /// One response's records, in order: (sequence number, data).
    Read { consumer: ConsumerId, records: Vec<(u128, Bytes)> },
    /// A consumer stopped before it had read everything.
    ConsumerStopped { consumer: ConsumerId, why: String },
    /// Nothing more counts: the verdict is due. Threads left behind at a deadline (a put or a
    /// reader still waiting for the server) may hold a sender for a while yet.
    End,
}
