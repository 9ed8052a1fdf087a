//! Parsing the command line's quantities: rates, durations, sizes.
//!
//! Rates come in three forms: records per second (`1000`, `1000/s`, `50k/s`), bytes per second
//! (`2MB/s`, `1.5MiB/s`, `800KB/s`; MB = 10^6 bytes, MiB = 2^20) and a fraction of the stream's
//! per-shard write limits (`0.9x`, `90%`). Bytes count record data plus partition key, as the
//! server's limits do, so `1x` and `1MiB/s` per shard mean the same thing for large records.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A target write rate as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    RecordsPerSecond(f64),
    /// Data plus partition-key bytes per second.
    BytesPerSecond(f64),
    /// A fraction of the stream's write limits (all shards together).
    OfLimits(f64),
}

impl Rate {
    /// The rate in records per second, for records of `record_wire_bytes` (data + key) on a
    /// stream whose shards together accept `limit_records_per_second`; `None` for an unlimited
    /// stream, where a fraction of the limits means nothing.
    pub fn records_per_second(
        &self,
        record_wire_bytes: usize,
        limit_records_per_second: Option<f64>,
    ) -> Result<f64, String> {
        match *self {
            Rate::RecordsPerSecond(r) => Ok(r),
            Rate::BytesPerSecond(b) => Ok(b / record_wire_bytes.max(1) as f64),
            Rate::OfLimits(f) => match limit_records_per_second {
                Some(limit) => Ok(f * limit),
                None => Err(format!(
                    "rate {self} is a fraction of the per-shard limits, but this stream has none: \
                     give records/s or MB/s"
                )),
            },
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rate::RecordsPerSecond(r) => write!(f, "{r} records/s"),
            Rate::BytesPerSecond(b) => write!(f, "{} MB/s", b / 1e6),
            Rate::OfLimits(x) => write!(f, "{x}x"),
        }
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || {
            format!("invalid rate {s:?}: expected records/s (1000, 1000/s, 50k/s), bytes/s (2MB/s, 1.5MiB/s) or a fraction of the limits (0.9x, 90%)")
        };
        let t = s.trim().to_ascii_lowercase();
        let (value, rate) = if let Some(x) = t.strip_suffix('x') {
            let v = number(x).ok_or_else(bad)?;
            (v, Rate::OfLimits(v))
        } else if let Some(p) = t.strip_suffix('%') {
            let v = number(p).ok_or_else(bad)? / 100.0;
            (v, Rate::OfLimits(v))
        } else {
            let unit = t.strip_suffix("/s").unwrap_or(&t);
            let unit = unit.strip_suffix("records").or_else(|| unit.strip_suffix("rec")).unwrap_or(unit);
            let byte_units: [(&str, f64); 7] = [
                ("gib", 1024.0 * 1024.0 * 1024.0),
                ("mib", 1024.0 * 1024.0),
                ("kib", 1024.0),
                ("gb", 1e9),
                ("mb", 1e6),
                ("kb", 1e3),
                ("b", 1.0),
            ];
            if let Some((n, scale)) = byte_units.iter().find_map(|(u, k)| unit.strip_suffix(u).map(|n| (n, *k))) {
                let v = number(n).ok_or_else(bad)? * scale;
                (v, Rate::BytesPerSecond(v))
            } else {
                let (n, scale) = match unit.strip_suffix('k') {
                    Some(n) => (n, 1e3),
                    None => match unit.strip_suffix('m') {
                        Some(n) => (n, 1e6),
                        None => (unit, 1.0),
                    },
                };
                let v = number(n).ok_or_else(bad)? * scale;
                (v, Rate::RecordsPerSecond(v))
            }
        };
        if !(value.is_finite() && value > 0.0) {
            return Err(format!("invalid rate {s:?}: must be above zero"));
        }
        Ok(rate)
    }
}

fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok()
}

/// `2s`, `500ms`, `1.5s`, `1m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim().to_ascii_lowercase();
    let (n, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t.as_str(), 1.0)
    };
    let secs = number(n).map(|v| v * scale).filter(|v| v.is_finite() && *v > 0.0 && *v < 1e7);
    secs.map(Duration::from_secs_f64).ok_or_else(|| format!("invalid duration {s:?}: expected e.g. 10s, 500ms, 1m"))
}

/// `1024`, `1KiB`, `4kb`, `1MiB`: a size in bytes.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim().to_ascii_lowercase();
    let units: [(&str, f64); 6] =
        [("kib", 1024.0), ("mib", 1024.0 * 1024.0), ("kb", 1e3), ("mb", 1e6), ("k", 1024.0), ("b", 1.0)];
    let (n, scale) = units.iter().find_map(|(u, k)| t.strip_suffix(u).map(|n| (n, *k))).unwrap_or((t.as_str(), 1.0));
    number(n)
        .map(|v| v * scale)
        .filter(|v| v.is_finite() && *v >= 0.0 && *v <= usize::MAX as f64 && v.fract() == 0.0)
        .map(|v| v as usize)
        .ok_or_else(|| format!("invalid size {s:?}: expected bytes, e.g. 1024 or 1KiB"))
}

/// A fraction in [0, 1].
pub fn parse_share(s: &str) -> Result<f64, String> {
    number(s).filter(|v| (0.0..=1.0).contains(v)).ok_or_else(|| format!("invalid share {s:?}: expected 0..1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_every_form() {
        assert_eq!("0.9x".parse::<Rate>(), Ok(Rate::OfLimits(0.9)));
        assert_eq!("1.5X".parse::<Rate>(), Ok(Rate::OfLimits(1.5)));
        assert_eq!("90%".parse::<Rate>(), Ok(Rate::OfLimits(0.9)));
        assert_eq!("1000/s".parse::<Rate>(), Ok(Rate::RecordsPerSecond(1000.0)));
        assert_eq!("1000".parse::<Rate>(), Ok(Rate::RecordsPerSecond(1000.0)));
        assert_eq!("50k/s".parse::<Rate>(), Ok(Rate::RecordsPerSecond(50_000.0)));
        assert_eq!("2000 records/s".parse::<Rate>(), Ok(Rate::RecordsPerSecond(2000.0)));
        assert_eq!("2MB/s".parse::<Rate>(), Ok(Rate::BytesPerSecond(2e6)));
        assert_eq!("1MiB/s".parse::<Rate>(), Ok(Rate::BytesPerSecond(1_048_576.0)));
        assert_eq!("800KB/s".parse::<Rate>(), Ok(Rate::BytesPerSecond(800_000.0)));
    }

    #[test]
    fn bad_rates_are_refused() {
        for bad in ["", "x", "fast", "-1/s", "0x", "0", "2MB/h", "nanx", "infx"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn rates_convert_to_records_per_second() {
        assert_eq!(Rate::RecordsPerSecond(10.0).records_per_second(100, None), Ok(10.0));
        assert_eq!(Rate::BytesPerSecond(2e6).records_per_second(1000, None), Ok(2000.0));
        assert_eq!(Rate::OfLimits(0.9).records_per_second(1000, Some(2000.0)), Ok(1800.0));
        assert!(Rate::OfLimits(0.9).records_per_second(1000, None).is_err());
    }

    #[test]
    fn durations_sizes_and_shares_parse() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("4kb"), Ok(4000));
        assert!(parse_size("1.5").is_err());
        assert_eq!(parse_share("0.5"), Ok(0.5));
        assert!(parse_share("1.5").is_err());
    }
}
