//! A strict parser of the Prometheus text exposition format (0.0.4), for
//! `shoal stats` and for tests that check what the endpoint serves.
//!
//! Stricter than Prometheus itself, so that a test passing here means any
//! scraper accepts the output:
//! * every family has exactly one `# HELP` and one `# TYPE`, before its
//!   samples, and its samples are contiguous;
//! * every sample belongs to the family declared last (a histogram's
//!   `_bucket`, `_sum` and `_count` belong to it);
//! * no series (name and labels) appears twice;
//! * a histogram's buckets carry `le`, are cumulative, end with `+Inf`, and
//!   `+Inf` equals `_count`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// A parsed exposition.
#[derive(Clone, Debug, Default)]
pub struct Exposition {
    pub families: Vec<Family>,
}

#[derive(Clone, Debug)]
pub struct Family {
    pub name: String,
    /// counter, gauge, histogram, summary or untyped.
    pub kind: String,
    pub help: String,
    pub samples: Vec<Sample>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In the order written.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn has(&self, labels: &[(&str, &str)]) -> bool {
        labels.iter().all(|(k, v)| self.label(k) == Some(*v))
    }
}

/// Where and why the text is not valid exposition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number (0: the text as a whole).
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseError {}

impl Exposition {
    /// Every sample, in order.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.families.iter().flat_map(|f| &f.samples)
    }

    /// The value of the sample called `name` whose labels include `labels`
    /// (the first one, if several match).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples().find(|s| s.name == name && s.has(labels)).map(|s| s.value)
    }

    /// The sum over every sample called `name` whose labels include
    /// `labels` (0 if none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples().filter(|s| s.name == name && s.has(labels)).map(|s| s.value).sum()
    }

    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }
}

const KINDS: [&str; 5] = ["counter", "gauge", "histogram", "summary", "untyped"];

/// Parses and checks an exposition (see the module doc for the rules).
pub fn parse(text: &str) -> Result<Exposition, ParseError> {
    let mut p = Parser::default();
    for (i, line) in text.split_terminator('\n').enumerate() {
        p.line(line).map_err(|reason| ParseError { line: i + 1, reason })?;
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(ParseError { line: 0, reason: "the last line does not end with a newline".into() });
    }
    p.finish_family().map_err(|reason| ParseError { line: 0, reason })?;
    Ok(p.out)
}

#[derive(Default)]
struct Parser {
    out: Exposition,
    /// Family names declared so far (HELP or TYPE seen).
    declared: HashSet<String>,
    /// HELP / TYPE of the family being declared, before its first sample
    /// or its other comment line.
    pending: Option<(String, Option<String>, Option<String>)>,
    /// Series seen: name and sorted labels.
    series: HashSet<(String, Vec<(String, String)>)>,
}

impl Parser {
    fn line(&mut self, line: &str) -> Result<(), String> {
        if line.trim().is_empty() {
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix('#') {
            return self.comment(rest);
        }
        let sample = parse_sample(line)?;
        self.sample(sample)
    }

    fn comment(&mut self, rest: &str) -> Result<(), String> {
        let rest = rest.trim_start_matches(' ');
        let (keyword, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(()); // an ordinary comment
        }
        let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
        if !is_metric_name(name) {
            return Err(format!("invalid metric name {name:?} in # {keyword}"));
        }
        let same = self.pending.as_ref().is_some_and(|(n, _, _)| n == name);
        if !same {
            if self.declared.contains(name) {
                return Err(format!("family {name} is declared again"));
            }
            self.finish_family()?;
            self.declared.insert(name.to_string());
            self.pending = Some((name.to_string(), None, None));
        }
        let Some((_, help, kind)) = self.pending.as_mut() else {
            return Err("internal: no pending family".into());
        };
        if keyword == "HELP" {
            if help.replace(unescape(value, false)?).is_some() {
                return Err(format!("second # HELP for {name}"));
            }
        } else {
            if !KINDS.contains(&value) {
                return Err(format!("unknown type {value:?} for {name}"));
            }
            if kind.replace(value.to_string()).is_some() {
                return Err(format!("second # TYPE for {name}"));
            }
        }
        Ok(())
    }

    /// Moves a declared family with its HELP and TYPE into the output.
    fn start_family(&mut self) -> Result<(), String> {
        if let Some((name, help, kind)) = self.pending.take() {
            let help = help.ok_or_else(|| format!("family {name} has no # HELP"))?;
            let kind = kind.ok_or_else(|| format!("family {name} has no # TYPE"))?;
            self.out.families.push(Family { name, kind, help, samples: Vec::new() });
        }
        Ok(())
    }

    fn sample(&mut self, sample: Sample) -> Result<(), String> {
        self.start_family()?;
        let Some(family) = self.out.families.last_mut() else {
            return Err(format!("sample {} before any # TYPE", sample.name));
        };
        let suffixes: &[&str] = match family.kind.as_str() {
            "histogram" => &["_bucket", "_sum", "_count"],
            "summary" => &["", "_sum", "_count"],
            _ => &[""],
        };
        let belongs = suffixes.iter().any(|s| sample.name.strip_suffix(s) == Some(family.name.as_str()));
        if !belongs {
            return Err(format!("sample {} is not part of family {} (declared last)", sample.name, family.name));
        }
        if family.kind == "histogram" && sample.name.ends_with("_bucket") && sample.label("le").is_none() {
            return Err(format!("histogram bucket {} without an le label", sample.name));
        }
        let mut key = sample.labels.clone();
        key.sort();
        if !self.series.insert((sample.name.clone(), key)) {
            return Err(format!("series {} {:?} appears twice", sample.name, sample.labels));
        }
        family.samples.push(sample);
        Ok(())
    }

    /// Ends the current family: pending declarations must be complete, and
    /// a finished histogram must be consistent.
    fn finish_family(&mut self) -> Result<(), String> {
        self.start_family()?;
        match self.out.families.last() {
            Some(f) if f.kind == "histogram" => check_histogram(f),
            _ => Ok(()),
        }
    }
}

/// Per label set (without `le`): buckets cumulative in `le` order, a final
/// `+Inf` bucket equal to `_count`, and a `_sum`.
fn check_histogram(f: &Family) -> Result<(), String> {
    type Key = Vec<(String, String)>;
    let strip = |s: &Sample| -> Key {
        let mut k: Key = s.labels.iter().filter(|(n, _)| n != "le").cloned().collect();
        k.sort();
        k
    };
    let mut buckets: BTreeMap<Key, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<Key, f64> = BTreeMap::new();
    let mut sums: HashSet<Key> = HashSet::new();
    for s in &f.samples {
        if s.name.ends_with("_bucket") {
            let le = s.label("le").map(parse_value).transpose()?.unwrap_or(f64::NAN);
            buckets.entry(strip(s)).or_default().push((le, s.value));
        } else if s.name.ends_with("_count") {
            counts.insert(strip(s), s.value);
        } else {
            sums.insert(strip(s));
        }
    }
    for (key, list) in &buckets {
        let mut previous = (f64::NEG_INFINITY, 0.0);
        for &(le, count) in list {
            if le.is_nan() || le <= previous.0 {
                return Err(format!("{}: buckets of {key:?} not in increasing le order", f.name));
            }
            if count < previous.1 {
                return Err(format!("{}: buckets of {key:?} are not cumulative", f.name));
            }
            previous = (le, count);
        }
        if previous.0 != f64::INFINITY {
            return Err(format!("{}: buckets of {key:?} do not end with le=\"+Inf\"", f.name));
        }
        if counts.get(key) != Some(&previous.1) {
            return Err(format!("{}: _count of {key:?} differs from its +Inf bucket", f.name));
        }
        if !sums.contains(key) {
            return Err(format!("{}: no _sum for {key:?}", f.name));
        }
    }
    if counts.len() != buckets.len() {
        return Err(format!("{}: a _count without buckets", f.name));
    }
    Ok(())
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name{label="value",...} value [timestamp]`
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or_else(|| format!("no value in {line:?}"))?;
    let (name, mut rest) = line.split_at(name_end);
    if !is_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start_matches(' ');
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = rest.split_once('=').ok_or_else(|| format!("label without '=' in {line:?}"))?;
            let label = label.trim();
            if !is_label_name(label) {
                return Err(format!("invalid label name {label:?}"));
            }
            if labels.iter().any(|(k, _): &(String, String)| k == label) {
                return Err(format!("label {label} given twice"));
            }
            let after = after.strip_prefix('"').ok_or_else(|| format!("label {label} value not quoted"))?;
            let (value, after) = quoted(after).ok_or_else(|| format!("label {label} value not closed"))?;
            labels.push((label.to_string(), unescape(value, true)?));
            rest = after.trim_start_matches(' ');
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err(format!("expected ',' or '}}' after label {label}"));
            }
        }
    }
    let rest = rest.strip_prefix(' ').ok_or_else(|| format!("no space before the value in {line:?}"))?;
    let mut fields = rest.split(' ').filter(|f| !f.is_empty());
    let value = parse_value(fields.next().ok_or("no value")?)?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>().map_err(|_| format!("invalid timestamp {ts:?}"))?;
    }
    if fields.next().is_some() {
        return Err(format!("trailing text in {line:?}"));
    }
    Ok(Sample { name: name.to_string(), labels, value })
}

/// The text up to the closing quote (escapes skipped) and what follows it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some((s.get(..i)?, s.get(i + 1..)?)),
            _ => {}
        }
    }
    None
}

/// Undoes `\\`, `\n` and (in label values) `\"`.
fn unescape(s: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            other => return Err(format!("invalid escape \\{}", other.map(String::from).unwrap_or_default())),
        }
    }
    Ok(out)
}

/// A sample value: a float, `+Inf`, `-Inf` or `NaN`.
fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if s.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) => {
            s.parse().map_err(|_| format!("invalid value {s:?}"))
        }
        _ => Err(format!("invalid value {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
# HELP x_total Things, with a \\\\ backslash.
# TYPE x_total counter
x_total{a=\"1\",b=\"q\\\"uote\"} 3
x_total{a=\"2\"} 4 1700000000000
# A plain comment.
# HELP h Latency.
# TYPE h histogram
h_bucket{le=\"0.1\"} 1
h_bucket{le=\"+Inf\"} 2
h_sum 0.5
h_count 2
# HELP g A gauge.
# TYPE g gauge
g -1.5e3
";

    #[test]
    fn valid_text_parses() {
        let e = parse(GOOD).expect("valid");
        assert_eq!(e.families.len(), 3);
        assert_eq!(e.families[0].help, "Things, with a \\ backslash.");
        assert_eq!(e.value("x_total", &[("b", "q\"uote")]), Some(3.0));
        assert_eq!(e.sum("x_total", &[]), 7.0);
        assert_eq!(e.value("h_bucket", &[("le", "+Inf")]), Some(2.0));
        assert_eq!(e.value("g", &[]), Some(-1500.0));
        assert_eq!(parse("").expect("empty is valid").families.len(), 0);
    }

    fn error(text: &str) -> String {
        parse(text).expect_err("invalid").to_string()
    }

    #[test]
    fn invalid_text_is_refused_with_its_line() {
        assert!(error("x 1\n").contains("before any # TYPE"));
        assert!(error("# TYPE x counter\nx 1\n").contains("no # HELP"));
        assert!(error("# HELP x h\nx 1\n").contains("no # TYPE"));
        assert!(error("# HELP x h\n# TYPE x gauge\n# TYPE x gauge\n").contains("second # TYPE"));
        assert!(error("# HELP x h\n# TYPE x gauge\nx 1\n# HELP x h\n").contains("declared again"));
        assert!(error("# HELP x h\n# TYPE x gauge\ny 1\n").contains("not part of family"));
        assert!(error("# HELP x h\n# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n").contains("twice"));
        assert!(error("# HELP x h\n# TYPE x gauge\nx{a=1} 1\n").contains("not quoted"));
        assert!(error("# HELP x h\n# TYPE x gauge\nx{a=\"1} 1\n").contains("not closed"));
        assert!(error("# HELP x h\n# TYPE x gauge\nx one\n").contains("invalid value"));
        assert!(error("# HELP x h\n# TYPE x gauge\nx 1 2 3\n").contains("trailing"));
        assert!(error("# HELP x h\n# TYPE x gauge\nx 1").contains("newline"));
        assert!(error("# HELP 9x h\n").contains("invalid metric name"));
        assert!(error("# HELP x h\n# TYPE x wobbly\n").contains("unknown type"));
        assert_eq!(parse("# HELP x h\n# TYPE x gauge\nx one\n").expect_err("bad").line, 3);
    }

    #[test]
    fn inconsistent_histograms_are_refused() {
        let h = |body: &str| error(&format!("# HELP h h\n# TYPE h histogram\n{body}"));
        assert!(h("h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n").contains("cumulative"));
        assert!(h("h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n").contains("+Inf"));
        assert!(h("h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n").contains("differs"));
        assert!(h("h_bucket{le=\"+Inf\"} 1\nh_count 1\n").contains("no _sum"));
        assert!(h("h_bucket 1\n").contains("without an le"));
        assert!(h("h_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n")
            .contains("increasing"));
    }
}
