//! `shoal stats`: a table of every shard for people, from a running server's metrics endpoint.
//! It scrapes twice, `--interval-ms` apart, and shows the rates between the two scrapes beside
//! the totals of the second one.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use shoal_server::metrics::parse::{parse, Exposition};

use super::exit::{CliError, CliResult, NOT_FOUND};
use super::format::{output_error, utc};

/// How long connecting and each read of a scrape may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest exposition accepted (about 100,000 shards' worth).
const RESPONSE_BYTES_MAX: u64 = 256 * 1024 * 1024;

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// The server's metrics endpoint, HOST:PORT (`shoal serve` with metrics enabled).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9464", env = "SHOAL_METRICS")]
    pub metrics: String,
    /// Milliseconds between the two scrapes the rates come from; 0 scrapes once, without rates.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub interval_ms: u64,
    /// Only the shards of this stream.
    #[arg(long)]
    pub stream: Option<String>,
}

pub fn run(args: StatsArgs) -> CliResult {
    let first = scrape(&args.metrics)?;
    let (second, rates) = if args.interval_ms == 0 {
        (first.1, None)
    } else {
        std::thread::sleep(Duration::from_millis(args.interval_ms));
        let second = scrape(&args.metrics)?;
        let elapsed = second.0.duration_since(first.0).as_secs_f64();
        (second.1, Some((first.1, elapsed)))
    };
    let mut rows = shard_rows(&second, rates.as_ref().map(|(m, secs)| (m, *secs)));
    if let Some(stream) = &args.stream {
        rows.retain(|r| &r.stream == stream);
        if rows.is_empty() {
            return Err(CliError::new(
                NOT_FOUND,
                format!("stream \"{stream}\" has no shards in the metrics — `shoal stream list` shows the streams"),
            ));
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(table(&rows).as_bytes()).map_err(output_error)?;
    out.flush().map_err(output_error)
}

/// One scrape: when it was taken and what it said.
fn scrape(addr: &str) -> Result<(Instant, Exposition), CliError> {
    let unreachable = |why: String| {
        CliError::runtime(format!(
            "cannot reach the metrics endpoint at {addr}: {why} — is the server running with --metrics? \
             (`--metrics HOST:PORT` picks another address)"
        ))
    };
    let target = addr
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .next()
        .ok_or_else(|| unreachable("the name resolves to no address".into()))?;
    let mut stream = TcpStream::connect_timeout(&target, SCRAPE_TIMEOUT).map_err(|e| {
        unreachable(match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
            _ => e.to_string(),
        })
    })?;
    let taken = Instant::now();
    let io = |e: std::io::Error| CliError::runtime(format!("scraping {addr} failed: {e}"));
    stream.set_read_timeout(Some(SCRAPE_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(SCRAPE_TIMEOUT)).map_err(io)?;
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").map_err(io)?;
    let mut response = Vec::new();
    stream.take(RESPONSE_BYTES_MAX).read_to_end(&mut response).map_err(io)?;
    let text = String::from_utf8(response)
        .map_err(|_| CliError::runtime(format!("{addr} sent a response that is not UTF-8")))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| CliError::runtime(format!("{addr} did not answer with HTTP — is it the metrics address?")))?;
    let status = head.split(' ').nth(1).unwrap_or_default();
    if status != "200" {
        let line = head.lines().next().unwrap_or_default();
        return Err(CliError::runtime(format!("{addr} answered \"{line}\" — is it Shoal's metrics address?")));
    }
    let exposition =
        parse(body).map_err(|e| CliError::runtime(format!("{addr} sent metrics that do not parse: {e}")))?;
    Ok((taken, exposition))
}

/// One shard's line of the table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub stream: String,
    pub shard: u32,
    pub records: u64,
    pub bytes: u64,
    pub oldest_ms: Option<u64>,
    pub newest_ms: Option<u64>,
    /// Per second, between the two scrapes (none with a single scrape).
    pub rates: Option<Rates>,
    pub write_throttled: u64,
    pub read_throttled: u64,
    pub subscriptions: u64,
    pub iterator_age_ms: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    pub in_records: f64,
    pub in_bytes: f64,
    pub out_records: f64,
    pub out_bytes: f64,
}

/// The rows of every shard in `now`, ordered by stream and shard; with an earlier scrape and
/// the seconds between them, the rates too.
pub fn shard_rows(now: &Exposition, before: Option<(&Exposition, f64)>) -> Vec<Row> {
    let mut shards: Vec<(String, u32)> = now
        .samples()
        .filter(|s| s.name == "shoal_shard_records")
        .filter_map(|s| Some((s.label("stream")?.to_string(), s.label("shard")?.parse().ok()?)))
        .collect();
    shards.sort();
    shards
        .into_iter()
        .map(|(stream, shard)| {
            let index = shard.to_string();
            let labels = [("stream", stream.as_str()), ("shard", index.as_str())];
            let get = |m: &Exposition, name: &str| m.sum(name, &labels);
            let totals = |m: &Exposition| {
                [
                    get(m, "shoal_shard_incoming_records_total"),
                    get(m, "shoal_shard_incoming_bytes_total"),
                    get(m, "shoal_shard_outgoing_records_total"),
                    get(m, "shoal_shard_outgoing_bytes_total"),
                ]
            };
            let rates = before.filter(|(_, secs)| *secs > 0.0).map(|(earlier, secs)| {
                let (a, b) = (totals(earlier), totals(now));
                // A restarted server starts its counters again: no negative rates.
                let rate = |i: usize| (b[i] - a[i]).max(0.0) / secs;
                Rates { in_records: rate(0), in_bytes: rate(1), out_records: rate(2), out_bytes: rate(3) }
            });
            let time = |name: &str| now.value(name, &labels).map(|secs| (secs * 1000.0).round() as u64);
            Row {
                records: get(now, "shoal_shard_records") as u64,
                bytes: get(now, "shoal_shard_bytes") as u64,
                oldest_ms: time("shoal_shard_oldest_arrival_timestamp_seconds"),
                newest_ms: time("shoal_shard_newest_arrival_timestamp_seconds"),
                rates,
                write_throttled: get(now, "shoal_shard_write_throttled_records_total") as u64,
                read_throttled: get(now, "shoal_shard_read_throttled_requests_total") as u64,
                subscriptions: get(now, "shoal_shard_subscriptions") as u64,
                iterator_age_ms: (get(now, "shoal_shard_iterator_age_seconds") * 1000.0).round() as u64,
                stream,
                shard,
            }
        })
        .collect()
}

const HEADER: [&str; 13] = [
    "STREAM",
    "SHARD",
    "RECORDS",
    "BYTES",
    "OLDEST",
    "NEWEST",
    "IN_REC/S",
    "IN_B/S",
    "OUT_REC/S",
    "OUT_B/S",
    "THROTTLED_W/R",
    "SUBS",
    "AGE_MS",
];

/// The rows as an aligned table with a header; no cell contains a space, so scripts can split
/// lines on whitespace.
pub fn table(rows: &[Row]) -> String {
    let mut cells: Vec<Vec<String>> = vec![HEADER.iter().map(|h| h.to_string()).collect()];
    for r in rows {
        let rate = |f: fn(&Rates) -> f64, bytes: bool| match &r.rates {
            Some(rates) if bytes => human_bytes(f(rates)),
            Some(rates) => format!("{:.1}", f(rates)),
            None => "-".into(),
        };
        cells.push(vec![
            r.stream.clone(),
            r.shard.to_string(),
            r.records.to_string(),
            human_bytes(r.bytes as f64),
            r.oldest_ms.map_or_else(|| "-".into(), utc),
            r.newest_ms.map_or_else(|| "-".into(), utc),
            rate(|x| x.in_records, false),
            rate(|x| x.in_bytes, true),
            rate(|x| x.out_records, false),
            rate(|x| x.out_bytes, true),
            format!("{}/{}", r.write_throttled, r.read_throttled),
            r.subscriptions.to_string(),
            r.iterator_age_ms.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| cells.iter().map(|row| row.get(i).map_or(0, String::len)).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no shards)\n");
    }
    out
}

/// `512B`, `1.5KiB`, `12.0MiB`: binary units, one decimal, no space.
fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024.0 {
        return format!("{n:.0}B");
    }
    let mut value = n / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS.get(unit).unwrap_or(&"?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(records: u64, incoming: u64, with_times: bool) -> Exposition {
        let mut text = String::new();
        let families: [(&str, &str); 8] = [
            ("shoal_shard_records", "gauge"),
            ("shoal_shard_bytes", "gauge"),
            ("shoal_shard_incoming_records_total", "counter"),
            ("shoal_shard_incoming_bytes_total", "counter"),
            ("shoal_shard_write_throttled_records_total", "counter"),
            ("shoal_shard_read_throttled_requests_total", "counter"),
            ("shoal_shard_subscriptions", "gauge"),
            ("shoal_shard_iterator_age_seconds", "gauge"),
        ];
        for (name, kind) in families {
            text.push_str(&format!("# HELP {name} h\n# TYPE {name} {kind}\n"));
            for shard in [1, 0] {
                let value = match name {
                    "shoal_shard_records" => records + shard,
                    "shoal_shard_incoming_records_total" => incoming,
                    "shoal_shard_bytes" => 2048,
                    "shoal_shard_iterator_age_seconds" => 0,
                    _ => 3,
                };
                text.push_str(&format!("{name}{{stream=\"s\",shard=\"{shard}\"}} {value}\n"));
            }
        }
        text.push_str(
            "# HELP shoal_shard_outgoing_records_total h\n# TYPE shoal_shard_outgoing_records_total counter\n",
        );
        for path in ["polled", "fanout"] {
            text.push_str(&format!(
                "shoal_shard_outgoing_records_total{{stream=\"s\",shard=\"0\",path=\"{path}\"}} {incoming}\n"
            ));
        }
        if with_times {
            text.push_str("# HELP shoal_shard_oldest_arrival_timestamp_seconds h\n");
            text.push_str("# TYPE shoal_shard_oldest_arrival_timestamp_seconds gauge\n");
            text.push_str("shoal_shard_oldest_arrival_timestamp_seconds{stream=\"s\",shard=\"0\"} 1700000000.123\n");
        }
        parse(&text).expect("valid")
    }

    #[test]
    fn rows_take_totals_from_the_second_scrape_and_rates_from_both() {
        let (before, now) = (exposition(10, 100, false), exposition(20, 300, true));
        let rows = shard_rows(&now, Some((&before, 2.0)));
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!((r.stream.as_str(), r.shard, r.records, r.bytes), ("s", 0, 20, 2048));
        assert_eq!(r.oldest_ms, Some(1_700_000_000_123));
        assert_eq!(r.newest_ms, None);
        let rates = r.rates.expect("rates");
        assert_eq!(rates.in_records, 100.0);
        assert_eq!(rates.out_records, 200.0, "polled and fan-out together");
        assert_eq!((r.write_throttled, r.read_throttled, r.subscriptions), (3, 3, 3));
        assert_eq!(rows[1].records, 21);
        assert_eq!(shard_rows(&before, Some((&now, 1.0)))[0].rates.expect("rates").in_records, 0.0, "no negatives");
        assert!(shard_rows(&now, None)[0].rates.is_none());
    }

    #[test]
    fn the_table_has_a_header_and_no_spaces_inside_cells() {
        let rows = shard_rows(&exposition(20, 300, true), Some((&exposition(10, 100, false), 2.0)));
        let text = table(&rows);
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.len() == HEADER.len()), "{text}");
        assert_eq!(lines[1][..4], ["s", "0", "20", "2.0KiB"]);
        assert_eq!(lines[1][4], "2023-11-14T22:13:20.123Z");
        assert_eq!(lines[1][5], "-");
        assert_eq!(lines[1][6], "100.0");
        assert_eq!(table(&[]), format!("{}\n(no shards)\n", HEADER.join("  ")));
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(0.0), "0B");
        assert_eq!(human_bytes(1023.0), "1023B");
        assert_eq!(human_bytes(1536.0), "1.5KiB");
        assert_eq!(human_bytes(5.0 * 1024.0 * 1024.0 * 1024.0), "5.0GiB");
    }
}
