//! The report as one self-contained HTML page: inline CSS and SVG charts, no scripts, nothing
//! fetched, so it reads the same opened from disk on a machine without a network.

use std::fmt::Write;

use super::svg::{self, Axis, Band, BarChart, LineChart, Series, GREY, PALETTE, RED};
use super::table::{max_records_note, setup_lines, thousands};
use super::{LatencyPath, Report, StepReport};
use crate::stats::{percentile_curve, LatencySummary};

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:900px;color:#222;padding:0 12px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;font-weight:700;color:#fff}
.pass{background:#2ca02c}.fail{background:#d62728}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{padding:3px 9px;text-align:right;border-bottom:1px solid #eee}
th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:13px}dt{font-weight:600}dd{margin:0}
.chart{max-width:100%;height:auto;margin:10px 0;border:1px solid #eee}
.note{font-size:12px;color:#555}li{font-size:13px}";

fn esc(s: &str) -> String {
    svg::escape(s)
}

/// The steps as shaded bands over time, from the timeline.
fn bands(r: &Report) -> Vec<Band> {
    let mut out: Vec<Band> = Vec::new();
    let mut prev_t = 0.0;
    for s in &r.per_second {
        let name = match s.step {
            Some(i) => r.steps.get(i).map_or(String::new(), |st| st.name.clone()),
            None => "drain".into(),
        };
        match out.last_mut() {
            Some(b) if b.label == name => b.to = s.t,
            _ => out.push(Band { from: prev_t, to: s.t, label: name }),
        }
        prev_t = s.t;
    }
    if out.len() <= 1 && out.iter().all(|b| b.label != "drain") {
        return Vec::new();
    }
    out
}

/// Polled consumers and fan-out subscribers per shard.
fn readers(r: &Report) -> (u32, u32) {
    (u32::from(r.workload.polled_consumers_per_shard), r.workload.fanout_consumers_per_shard)
}

/// What the reader lines of the throughput chart are.
fn throughput_note(r: &Report) -> Option<String> {
    let (polled, pushed) = readers(r);
    let mut parts = Vec::new();
    if polled > 1 {
        parts.push(format!("polled reads ÷ {polled} consumers per shard"));
    }
    if pushed > 1 {
        parts.push(format!("pushed records ÷ {pushed} fan-out subscribers per shard"));
    }
    if parts.is_empty() {
        return None;
    }
    Some(format!(
        "Reader lines are per reader: {}. A reader that keeps up draws over “accepted”; the JSON's \
         per_second has the sums (read_records, pushed_records).",
        parts.join("; ")
    ))
}

fn time_axis(r: &Report) -> Axis {
    let end = r.per_second.last().map_or(1.0, |s| s.t).max(1.0);
    Axis::linear("time (s)", 0.0, end)
}

fn throughput_chart(r: &Report) -> String {
    // Staircases: each window's rate held over the window it was measured in.
    let t = |f: &dyn Fn(&super::SecondReport, f64) -> f64| -> Vec<(f64, f64)> {
        let mut prev = 0.0;
        let mut points = Vec::new();
        for s in &r.per_second {
            let rate = f(s, (s.t - prev).max(1e-3));
            points.push((prev, rate));
            points.push((s.t, rate));
            prev = s.t;
        }
        points
    };
    let target = t(&|s, _| s.target_records_per_second);
    let accepted = t(&|s, secs| s.accepted_records as f64 / secs);
    let throttled = t(&|s, secs| s.throttled_records as f64 / secs);
    let mut series = vec![Series { dashed: true, ..Series::line("target", GREY, target) }];
    series.push(Series::line("accepted", PALETTE[0], accepted));
    series.push(Series::line("throttled", RED, throttled));
    // Per reader of a shard, so that a reader keeping up draws over "accepted" whatever the
    // number of readers (the note under the chart says so; the JSON has the sums).
    let (polled, pushed) = readers(r);
    if polled > 0 {
        let name = if polled == 1 { "polled reads" } else { "polled, per consumer" };
        let reads = t(&|s, secs| s.read_records as f64 / secs / f64::from(polled));
        series.push(Series::line(name, PALETTE[2], reads));
    }
    if pushed > 0 {
        let name = if pushed == 1 { "pushed" } else { "pushed, per subscriber" };
        let pushes = t(&|s, secs| s.pushed_records as f64 / secs / f64::from(pushed));
        series.push(Series { dashed: true, ..Series::line(name, PALETTE[3], pushes) });
    }
    let top = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(1.0, f64::max);
    svg::line_chart(&LineChart {
        id: "throughput".into(),
        title: "Throughput and throttling over time (records/s)".into(),
        x: time_axis(r),
        y: Axis::linear("records/s", 0.0, top * 1.1),
        series,
        bands: bands(r),
        reference: None,
    })
}

fn latency_over_time_chart(r: &Report) -> String {
    let pick = |f: fn(&super::SecondReport) -> Option<f64>| -> Vec<(f64, f64)> {
        r.per_second.iter().filter_map(|s| f(s).map(|v| (s.t, v))).collect()
    };
    let p50 = pick(|s| s.put_ack_latency_ms.map(|l| l.p50_ms));
    let p99 = pick(|s| s.put_ack_latency_ms.map(|l| l.p99_ms));
    let max = pick(|s| s.put_ack_latency_ms.map(|l| l.max_ms));
    let read = pick(|s| s.put_to_read_latency_ms.map(|l| l.p99_ms));
    let push = pick(|s| s.put_to_push_latency_ms.map(|l| l.p99_ms));
    let mut series = vec![
        Series::line("put ack p50", PALETTE[0], p50),
        Series::line("put ack p99", PALETTE[1], p99),
        Series { dashed: true, ..Series::line("put ack max", PALETTE[3], max) },
    ];
    let (polled, pushed) = readers(r);
    if polled > 0 {
        series.push(Series::line("put→read p99", PALETTE[2], read));
    }
    if pushed > 0 {
        series.push(Series::line("put→push p99", PALETTE[5], push));
    }
    let y = Axis::latency("latency (ms)", series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let reference = r.max.as_ref().map(|m| (m.p99_target_ms, format!("p99 target {} ms", m.p99_target_ms)));
    svg::line_chart(&LineChart {
        id: "latency-over-time".into(),
        title: "Latency over time, per second (ms)".into(),
        x: time_axis(r),
        y,
        series,
        bands: bands(r),
        reference,
    })
}

fn nines_label(n: u32) -> String {
    match n {
        0 => "0%".into(),
        1 => "90%".into(),
        _ => format!("99.{}%", "9".repeat(n as usize - 2)).replace("99.%", "99%"),
    }
}

/// Latency percentile curves, one per step (and the whole run when there are several).
fn percentile_chart(r: &Report, id: &str, title: &str, path: LatencyPath) -> String {
    let multi = r.histograms.len() > 2;
    let mut series = Vec::new();
    for (i, h) in r.histograms.iter().enumerate() {
        let is_total = i + 1 == r.histograms.len();
        // One step: its curve is the total's. Several: each step, and the total dashed.
        if !multi && !is_total {
            continue;
        }
        let curve = percentile_curve(h.of(path));
        if curve.is_empty() {
            continue;
        }
        let color = if is_total { "#222".to_string() } else { PALETTE[i % PALETTE.len()].to_string() };
        series.push(Series { dashed: is_total && multi, ..Series::line(h.name.clone(), &color, curve) });
    }
    let nines_max = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(1.0, f64::max).ceil();
    let mut x = Axis::linear("percentile", 0.0, nines_max);
    x.ticks = (0..=nines_max as u32).map(|n| (f64::from(n), nines_label(n))).collect();
    let y = Axis::latency("latency (ms)", series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let reference = match path {
        LatencyPath::Ack => r.max.as_ref().map(|m| (m.p99_target_ms, format!("p99 target {} ms", m.p99_target_ms))),
        LatencyPath::Read | LatencyPath::Push => None,
    };
    svg::line_chart(&LineChart { id: id.into(), title: title.into(), x, y, series, bands: Vec::new(), reference })
}

fn shard_chart(r: &Report) -> String {
    let categories =
        r.per_shard.iter().map(|s| if s.hot { format!("{} (hot)", s.shard) } else { s.shard.to_string() }).collect();
    let accepted = r.per_shard.iter().map(|s| s.counts.accepted as f64).collect();
    let throttled = r.per_shard.iter().map(|s| s.counts.throttled as f64).collect();
    let failed = r.per_shard.iter().map(|s| s.counts.failed as f64).collect();
    svg::bar_chart(&BarChart {
        id: "per-shard".into(),
        title: "Records per shard: accepted and throttled".into(),
        y_label: "records".into(),
        categories,
        stacks: vec![
            ("accepted".into(), PALETTE[0].into(), accepted),
            ("throttled".into(), RED.into(), throttled),
            ("failed".into(), PALETTE[4].into(), failed),
        ],
    })
}

/// The max profile's steps: throughput against p99, sustained in green.
fn ramp_chart(r: &Report) -> Option<String> {
    let m = r.max.as_ref()?;
    let points = |sustained: bool| -> Vec<(f64, f64)> {
        r.steps
            .iter()
            .filter(|s| !s.warmup && s.sustained == Some(sustained))
            .filter_map(|s| s.put_ack_latency_ms.map(|l| (s.accepted_mb_per_second, l.p99_ms)))
            .collect()
    };
    let (good, bad) = (points(true), points(false));
    let right = good.iter().chain(&bad).map(|p| p.0).fold(1.0, f64::max) * 1.1;
    let y = Axis::latency("put ack p99 (ms)", good.iter().chain(&bad).map(|p| p.1).chain([m.p99_target_ms]));
    let series = vec![
        Series { markers_only: true, ..Series::line("sustained", PALETTE[2], good) },
        Series { markers_only: true, ..Series::line("not sustained", RED, bad) },
    ];
    Some(svg::line_chart(&LineChart {
        id: "ramp".into(),
        title: "Max profile: accepted throughput and put p99 per step".into(),
        x: Axis::linear("accepted MB/s", 0.0, right),
        y,
        series,
        bands: Vec::new(),
        reference: Some((m.p99_target_ms, format!("p99 target {} ms", m.p99_target_ms))),
    }))
}

fn latency_cells(l: Option<&LatencySummary>) -> String {
    match l {
        Some(l) => format!(
            "<td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td>",
            thousands(l.count),
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.p99_9_ms,
            l.p99_99_ms,
            l.max_ms
        ),
        None => "<td colspan=\"7\">-</td>".into(),
    }
}

fn tables(out: &mut String, r: &Report) {
    let mut rows: Vec<&StepReport> = r.steps.iter().collect();
    if r.steps.len() > 1 {
        rows.push(&r.totals);
    }
    let _ = write!(
        out,
        "<h2>Throughput per step</h2><table><tr><th>step</th><th>seconds</th><th>target/s</th><th>accepted/s</th><th>accepted MB/s</th><th>throttled</th><th>throttle share</th><th>failed</th><th>unsent requests</th>{}</tr>",
        if r.max.is_some() { "<th>sustained</th>" } else { "" }
    );
    for s in &rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td>{}</tr>",
            esc(&s.name),
            s.duration_seconds,
            thousands(s.target_records_per_second.round() as u64),
            thousands(s.accepted_records_per_second.round() as u64),
            s.accepted_mb_per_second,
            thousands(s.counts.throttled),
            s.throttle_share * 100.0,
            thousands(s.counts.failed),
            thousands(s.requests_unsent),
            match s.sustained {
                Some(true) => "<td>yes</td>",
                Some(false) => "<td>no</td>",
                None => "",
            }
        );
    }
    out.push_str("</table>");
    let header = "<tr><th>step</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th></tr>";
    let _ = write!(out, "<h2>Put acknowledgement latency (ms)</h2><p class=\"note\">Per request, from its intended send time (open loop).</p><table>{header}");
    for s in &rows {
        let _ = write!(out, "<tr><td>{}</td>{}</tr>", esc(&s.name), latency_cells(s.put_ack_latency_ms.as_ref()));
    }
    out.push_str("</table>");
    if r.workload.polled_consumers_per_shard > 0 {
        let _ = write!(out, "<h2>Put → polled read latency (ms)</h2><p class=\"note\">Per record, from its put's intended send time to the GetRecords response that carried it; includes the poll interval.</p><table>{header}");
        for s in &rows {
            let _ =
                write!(out, "<tr><td>{}</td>{}</tr>", esc(&s.name), latency_cells(s.put_to_read_latency_ms.as_ref()));
        }
        out.push_str("</table>");
    }
    if rows.iter().any(|s| s.put_to_push_latency_ms.is_some()) {
        let _ = write!(out, "<h2>Put → fan-out push latency (ms)</h2><p class=\"note\">Per record and subscriber, from its put's intended send time to the pushed event that carried it.</p><table>{header}");
        for s in &rows {
            let _ =
                write!(out, "<tr><td>{}</td>{}</tr>", esc(&s.name), latency_cells(s.put_to_push_latency_ms.as_ref()));
        }
        out.push_str("</table>");
        for s in &rows {
            if let Some(spread) = s.put_to_push_p99_by_subscriber.filter(|spread| spread.subscribers > 1) {
                let _ = write!(
                    out,
                    "<p class=\"note\">{}: p99 of each of the {} subscribers on its own: lowest {:.2}, median {:.2}, \
                     highest {:.2} ms (subscriber {}).</p>",
                    esc(&s.name),
                    spread.subscribers,
                    spread.p99_ms_min,
                    spread.p99_ms_median,
                    spread.p99_ms_max,
                    spread.slowest_subscriber
                );
            }
        }
    }
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let verdict = if r.passed {
        "<span class=\"verdict pass\">PASSED</span>"
    } else {
        "<span class=\"verdict fail\">FAILED</span>"
    };
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shoal load generator: {profile}</title><style>{STYLE}</style></head><body><h1>Shoal load generator: profile {profile}</h1><p>{verdict} {secs:.1} s</p>",
        profile = esc(&r.profile),
        secs = r.elapsed_seconds
    );
    for reason in &r.failure_reasons {
        let _ = write!(out, "<p><strong>{}</strong></p>", esc(reason));
    }
    if r.max_records_reached {
        let _ = write!(out, "<p>{}</p>", esc(&max_records_note(r)));
    }
    out.push_str("<dl>");
    for (k, v) in setup_lines(r) {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(&k), esc(&v));
    }
    let _ = write!(out, "<dt>durability</dt><dd>{}</dd>", esc(&r.durability));
    if let Some(v) = &r.verification {
        let _ = write!(out, "<dt>verification</dt><dd>{}</dd>", esc(&v.summary()));
    }
    out.push_str("</dl>");
    if let Some(m) = &r.max {
        let found = match (m.best_accepted_records_per_second, m.best_accepted_mb_per_second) {
            (Some(rps), Some(mbs)) => format!(
                "{} records/s = {mbs:.1} MB/s sustained with put p99 ≤ {} ms",
                thousands(rps.round() as u64),
                m.p99_target_ms
            ),
            _ => format!("no step met the target (put p99 ≤ {} ms, ≥ 95% accepted)", m.p99_target_ms),
        };
        let _ = write!(out, "<h2>Maximum sustained throughput</h2><p>{}</p>", esc(&found));
        if let Some(chart) = ramp_chart(r) {
            out.push_str(&chart);
        }
    }
    out.push_str("<h2>Throughput</h2>");
    out.push_str(&throughput_chart(r));
    if let Some(note) = throughput_note(r) {
        let _ = write!(out, "<p class=\"note\">{}</p>", esc(&note));
    }
    out.push_str("<h2>Latency</h2>");
    out.push_str(&percentile_chart(
        r,
        "ack-percentiles",
        "Put acknowledgement latency by percentile (ms)",
        LatencyPath::Ack,
    ));
    if r.workload.polled_consumers_per_shard > 0 {
        out.push_str(&percentile_chart(
            r,
            "read-percentiles",
            "Put → polled read latency by percentile (ms)",
            LatencyPath::Read,
        ));
    }
    if r.histograms.iter().any(|h| !h.push.is_empty()) {
        out.push_str(&percentile_chart(
            r,
            "push-percentiles",
            "Put → fan-out push latency by percentile (ms)",
            LatencyPath::Push,
        ));
    }
    out.push_str(&latency_over_time_chart(r));
    out.push_str("<h2>Shards</h2>");
    out.push_str(&shard_chart(r));
    tables(&mut out, r);
    if let Some(v) = &r.verification {
        if !v.failures.is_empty() {
            out.push_str("<h2>Verification failures</h2><ul>");
            for f in &v.failures {
                let _ = write!(out, "<li><strong>{}</strong>: {}</li>", f.kind.name(), esc(&f.detail));
            }
            out.push_str("</ul>");
        }
    }
    if !r.errors.first.is_empty() {
        let _ = write!(out, "<h2>Errors ({})</h2><ul>", r.errors.count);
        for e in &r.errors.first {
            let _ = write!(out, "<li>{}</li>", esc(e));
        }
        out.push_str("</ul>");
    }
    out.push_str(
        "<p class=\"note\">Generated by shoal-loadgen; the same data is available with --json.</p></body></html>\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels() {
        let labels: Vec<String> = (0..5).map(nines_label).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }
}
