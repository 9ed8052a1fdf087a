//! How `get` and `tail` print records: one line per record, in one of three formats.
//!
//! - `raw`: the data bytes as they are, then a newline. What `shoal put` read is what comes out.
//! - `json`: one object per line with the record's metadata. The sequence number is a decimal
//!   string (it is 128 bits, over what JSON numbers hold exactly); the data is the UTF-8 text
//!   when it is valid UTF-8, base64 otherwise, and `data_encoding` says which.
//! - `hex`: the data in lowercase hex, then a newline: binary data that stays one line.

use std::io::{self, Write};

use base64::Engine as _;
use shoal_protocol::ops::Record;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The data bytes, then a newline.
    Raw,
    /// One JSON object per line: shard, sequence_number (decimal string),
    /// arrival_timestamp_ms, partition_key, data (UTF-8, or base64 when not), data_encoding.
    Json,
    /// The data in lowercase hex, then a newline.
    Hex,
}

pub fn write_record(out: &mut impl Write, format: Format, shard: u32, record: &Record) -> io::Result<()> {
    match format {
        Format::Raw => {
            out.write_all(&record.data)?;
            out.write_all(b"\n")
        }
        Format::Hex => {
            for byte in record.data.iter() {
                write!(out, "{byte:02x}")?;
            }
            out.write_all(b"\n")
        }
        Format::Json => {
            let (data, encoding) = match std::str::from_utf8(&record.data) {
                Ok(text) => (text.to_string(), "utf8"),
                Err(_) => (base64::engine::general_purpose::STANDARD.encode(&record.data), "base64"),
            };
            // Written by hand to keep the fields in this order; serde_json escapes the strings.
            let quoted = |s: &str| serde_json::to_string(s).map_err(io::Error::other);
            write!(
                out,
                "{{\"shard\":{shard},\"sequence_number\":\"{}\",\"arrival_timestamp_ms\":{},\"partition_key\":{},\"data\":{},\"data_encoding\":\"{encoding}\"}}",
                record.sequence_number,
                record.arrival_timestamp_ms,
                quoted(&record.partition_key)?,
                quoted(&data)?,
            )?;
            out.write_all(b"\n")
        }
    }
}

/// Turns a failed write to stdout into an outcome: a closed pipe (`shoal tail | head`) is how
/// a reader says it has enough, so it ends the command successfully.
pub fn output_error(error: io::Error) -> super::CliError {
    if error.kind() == io::ErrorKind::BrokenPipe {
        super::CliError::new(super::exit::OK, String::new())
    } else {
        super::CliError::runtime(format!("cannot write to stdout: {error}"))
    }
}

/// A timestamp in milliseconds since the Unix epoch as `2024-05-01T12:00:00.123Z` (UTC), for
/// people; computed here to spare a date crate (days to civil date: Howard Hinnant's algorithm).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn record(data: &'static [u8]) -> Record {
        Record {
            sequence_number: 1 << 100,
            arrival_timestamp_ms: 1_700_000_000_000,
            partition_key: "k\"1".into(),
            data: Bytes::from_static(data),
        }
    }

    fn line(format: Format, data: &'static [u8]) -> String {
        let mut out = Vec::new();
        write_record(&mut out, format, 2, &record(data)).expect("write");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn formats() {
        assert_eq!(line(Format::Raw, b"hi there"), "hi there\n");
        assert_eq!(line(Format::Hex, b"\x00\xffA"), "00ff41\n");
        let json: serde_json::Value = serde_json::from_str(&line(Format::Json, b"caf\xc3\xa9")).expect("json");
        assert_eq!(json["data"], "café");
        assert_eq!(json["data_encoding"], "utf8");
        assert_eq!(json["partition_key"], "k\"1");
        assert_eq!(json["sequence_number"], (1u128 << 100).to_string());
        let json: serde_json::Value = serde_json::from_str(&line(Format::Json, b"\xff\x00")).expect("json");
        assert_eq!(json["data"], "/wA=");
        assert_eq!(json["data_encoding"], "base64");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
