//! The report as text tables for people.

use std::fmt::Write;

use super::{Report, StepReport};
use crate::stats::LatencySummary;

/// 1234567 → "1,234,567".
pub fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate(v: f64) -> String {
    if v >= 100.0 {
        thousands(v.round() as u64)
    } else {
        format!("{v:.1}")
    }
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// The report's header lines: server, stream, workload.
pub fn setup_lines(r: &Report) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let server = match (&r.target.data_dir, r.target.server_cores) {
        (Some(dir), Some(cores)) => {
            format!("embedded on {}, {cores} cores, data in {dir} (removed at exit)", r.target.addr)
        }
        _ => format!("{} (remote)", r.target.addr),
    };
    lines.push(("server".into(), server));
    let limits = match &r.stream.limits {
        Some(l) => format!(
            "per shard: writes {} records/s and {:.2} MB/s, reads {} calls/s and {:.2} MB/s{}",
            thousands(u64::from(l.write_records_per_second)),
            f64::from(l.write_bytes_per_second) / 1e6,
            l.read_calls_per_second,
            f64::from(l.read_bytes_per_second) / 1e6,
            if r.stream.limits_source == "assumed" { " (assumed: Kinesis defaults)" } else { "" }
        ),
        None => "no per-shard limits".into(),
    };
    lines.push((
        "stream".into(),
        format!(
            "{} ({}), {} shard(s), {limits}",
            r.stream.name,
            if r.stream.created { "created by this run" } else { "existing" },
            r.stream.shards
        ),
    ));
    let w = &r.workload;
    let keys = match w.hot_shard {
        Some(shard) => {
            format!("{:.0}% of records on one hot key (shard {shard}), the rest uniform", w.hot_key_share * 100.0)
        }
        None => "uniform random keys".into(),
    };
    let op = if w.operation == "PutRecord" {
        "PutRecord (1 record per request)".to_string()
    } else {
        format!("PutRecords of {} records", w.batch_records)
    };
    lines.push((
        "workload".into(),
        format!(
            "{} producer(s), {op}, {} B data + {} B key per record, {keys}, at most {} in flight per producer, open loop",
            w.producers, w.record_bytes, w.key_bytes, w.max_in_flight_per_producer
        ),
    ));
    let readers = if w.polled_consumers_per_shard == 0 && w.fanout_consumers_per_shard > 0 {
        "no polled consumers".to_string()
    } else if w.polled_consumers_per_shard == 0 {
        "none (--polled-consumers 0): nothing is read back or verified".to_string()
    } else {
        format!(
            "{} polled consumer(s) per shard, GetRecords every {:.0} ms (at most {} records)",
            w.polled_consumers_per_shard, w.poll_interval_ms, w.get_records_limit
        )
    };
    let readers = if w.fanout_consumers_per_shard == 0 {
        readers
    } else {
        format!(
            "{readers}; {} enhanced fan-out subscriber(s) per shard (SubscribeToShard)",
            w.fanout_consumers_per_shard
        )
    };
    lines.push(("readers".into(), readers));
    lines.push(("throttling".into(), "throttled records are counted and not retried; no request is retried".into()));
    lines.push(("seed".into(), format!("{} (run {})", r.seed, r.run_id)));
    lines
}

/// Said when `--max-records` ended the schedule.
pub fn max_records_note(r: &Report) -> String {
    format!(
        "Bounded by --max-records: the schedule stopped at {} records; the step it reached was cut short and \
         later ones did not run",
        thousands(r.workload.max_records)
    )
}

fn latency_row(out: &mut String, name: &str, l: Option<&LatencySummary>) {
    match l {
        Some(l) => {
            let _ = writeln!(
                out,
                "  {name:<12} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                thousands(l.count),
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.p99_9_ms,
                l.p99_99_ms,
                l.max_ms
            );
        }
        None => {
            let _ = writeln!(out, "  {name:<12} {:>9}", "-");
        }
    }
}

fn latency_table(
    out: &mut String,
    title: &str,
    rows: &[&StepReport],
    pick: fn(&StepReport) -> Option<&LatencySummary>,
) {
    let _ = writeln!(out, "\n{title}");
    let _ = writeln!(
        out,
        "  {:<12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "step", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
    );
    for s in rows {
        latency_row(out, &s.name, pick(s));
    }
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nShoal load generator: profile {}, {:.1} s (time bound {:.1} s)",
        r.profile, r.elapsed_seconds, r.time_bound_seconds
    );
    for (k, v) in setup_lines(r) {
        let _ = writeln!(out, "  {k:<11} {v}");
    }
    let mut rows: Vec<&StepReport> = r.steps.iter().collect();
    if r.steps.len() > 1 {
        rows.push(&r.totals);
    }

    let (polled, pushed) = (r.workload.polled_consumers_per_shard > 0, r.workload.fanout_consumers_per_shard > 0);
    let _ = writeln!(out, "\nThroughput (records of data + key; MB = 10^6 bytes)");
    let mut header = format!(
        "  {:<12} {:>6} {:>10} {:>10} {:>10} {:>13} {:>10} {:>9} {:>8} {:>7}",
        "step",
        "secs",
        "target/s",
        "accepted",
        "accepted/s",
        "accepted MB/s",
        "throttled",
        "throttle%",
        "failed",
        "unsent"
    );
    if polled {
        let _ = write!(header, " {:>9}", "read/s");
    }
    if pushed {
        let _ = write!(header, " {:>9}", "pushed/s");
    }
    if r.max.is_some() {
        header.push_str("  sustained");
    }
    let _ = writeln!(out, "{header}");
    for s in &rows {
        let secs = s.duration_seconds.max(1e-9);
        let _ = write!(
            out,
            "  {:<12} {:>6.1} {:>10} {:>10} {:>10} {:>13.2} {:>10} {:>9} {:>8} {:>7}",
            s.name,
            s.duration_seconds,
            rate(s.target_records_per_second),
            thousands(s.counts.accepted),
            rate(s.accepted_records_per_second),
            s.accepted_mb_per_second,
            thousands(s.counts.throttled),
            percent(s.throttle_share),
            thousands(s.counts.failed),
            thousands(s.requests_unsent),
        );
        if polled {
            let _ = write!(out, " {:>9}", rate(s.counts.read_records as f64 / secs));
        }
        if pushed {
            let _ = write!(out, " {:>9}", rate(s.counts.pushed_records as f64 / secs));
        }
        let sustained = match s.sustained {
            Some(true) => "  yes",
            Some(false) => "  no",
            None => "",
        };
        let _ = writeln!(out, "{sustained}");
    }

    latency_table(&mut out, "Put acknowledgement latency, ms (per request, from its intended send time)", &rows, |s| {
        s.put_ack_latency_ms.as_ref()
    });
    if polled {
        latency_table(
            &mut out,
            "Put -> polled read latency, ms (per record, intended send to GetRecords response)",
            &rows,
            |s| s.put_to_read_latency_ms.as_ref(),
        );
    }
    if let Some(g) =
        r.totals.generator_delay_ms.as_ref().or(r.steps.first().and_then(|s| s.generator_delay_ms.as_ref()))
    {
        let _ = writeln!(
            out,
            "  (generator's own delay before sending, included above: p99 {:.2} ms, max {:.2} ms)",
            g.p99_ms, g.max_ms
        );
    }
    if pushed {
        latency_table(
            &mut out,
            "Put -> push latency, ms (per record and fan-out subscriber, intended send to event received)",
            &rows,
            |s| s.put_to_push_latency_ms.as_ref(),
        );
        let spreads: Vec<_> =
            rows.iter().filter_map(|s| s.put_to_push_p99_by_subscriber.map(|spread| (&s.name, spread))).collect();
        if spreads.iter().any(|(_, spread)| spread.subscribers > 1) {
            let _ = writeln!(out, "  p99 of each subscriber on its own, ms:");
            for (name, spread) in spreads {
                let _ = writeln!(
                    out,
                    "  {:<12} {:>3} subscribers: lowest {:.2}, median {:.2}, highest {:.2} (subscriber {})",
                    name,
                    spread.subscribers,
                    spread.p99_ms_min,
                    spread.p99_ms_median,
                    spread.p99_ms_max,
                    spread.slowest_subscriber
                );
            }
        }
    }

    let _ = writeln!(out, "\nPer shard (read and pushed: summed over the shard's readers)");
    let _ = write!(out, "  {:<6} {:>10} {:>10} {:>8}", "shard", "accepted", "throttled", "failed");
    if polled {
        let _ = write!(out, " {:>10}", "read");
    }
    if pushed {
        let _ = write!(out, " {:>10}", "pushed");
    }
    let _ = writeln!(out);
    for s in &r.per_shard {
        let _ = write!(
            out,
            "  {:<6} {:>10} {:>10} {:>8}",
            s.shard,
            thousands(s.counts.accepted),
            thousands(s.counts.throttled),
            thousands(s.counts.failed),
        );
        if polled {
            let _ = write!(out, " {:>10}", thousands(s.counts.read_records));
        }
        if pushed {
            let _ = write!(out, " {:>10}", thousands(s.counts.pushed_records));
        }
        let _ = writeln!(out, "{}", if s.hot { "  <- hot key" } else { "" });
    }

    let _ = writeln!(out);
    if let Some(m) = &r.max {
        match (m.best_step, m.best_accepted_records_per_second, m.best_accepted_mb_per_second) {
            (Some(i), Some(rps), Some(mbs)) => {
                let p99 = r.steps.get(i).and_then(|s| s.put_ack_latency_ms.map(|l| l.p99_ms)).unwrap_or(0.0);
                let _ = writeln!(
                    out,
                    "Max sustained: {} records/s = {mbs:.1} MB/s with put p99 {p99:.2} ms (target {} ms)",
                    rate(rps),
                    m.p99_target_ms
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "Max sustained: no step met the target (put p99 <= {} ms, >= 95% accepted)",
                    m.p99_target_ms
                );
            }
        }
    }
    if r.max_records_reached {
        let _ = writeln!(out, "{}", max_records_note(r));
    }
    let _ = writeln!(
        out,
        "Durability: {}",
        if r.durability == "synced" {
            "every acknowledgement SYNCED (fdatasync before the ack)".to_string()
        } else {
            format!(
                "{} records acknowledged WRITTEN, not synced (server in interval-sync mode)",
                r.totals.counts.accepted_unsynced
            )
        }
    );
    match &r.verification {
        Some(v) => {
            let _ = writeln!(out, "Verification: {}", v.summary());
            for f in &v.failures {
                let _ = writeln!(out, "  {}: {}", f.kind.name(), f.detail);
            }
            if v.unknown_outcome_reads > 0 || v.foreign_skipped > 0 {
                let _ = writeln!(
                    out,
                    "  ({} records of failed requests were stored anyway; {} records of other writers skipped)",
                    v.unknown_outcome_reads, v.foreign_skipped
                );
            }
        }
        None => {
            let _ = writeln!(out, "Verification: off (no consumers)");
        }
    }
    if r.errors.count > 0 {
        let _ = writeln!(out, "Errors: {} failed requests or calls; first:", r.errors.count);
        for e in &r.errors.first {
            let _ = writeln!(out, "  {e}");
        }
    }
    let _ = writeln!(out, "\nRESULT: {}", if r.passed { "PASSED" } else { "FAILED" });
    for reason in &r.failure_reasons {
        let _ = writeln!(out, "  {reason}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
