//! Charts as inline SVG strings: line charts (linear or log axes, shaded bands, a reference
//! line) and stacked bar charts. Plain text out, no scripts, no fonts to fetch: the page that
//! embeds them opens from disk anywhere.

use std::fmt::Write;

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 330.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 48.0;

/// Colours for successive series, readable on white and distinct for most colour-blind readers.
pub const PALETTE: [&str; 8] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"];
pub const RED: &str = "#d62728";
pub const GREY: &str = "#7f7f7f";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log10,
}

#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    pub min: f64,
    pub max: f64,
    pub scale: Scale,
    /// Positions and their labels; empty = chosen automatically.
    pub ticks: Vec<(f64, String)>,
}

impl Axis {
    pub fn linear(label: impl Into<String>, min: f64, max: f64) -> Axis {
        Axis { label: label.into(), min, max, scale: Scale::Linear, ticks: Vec::new() }
    }

    /// A log axis over `[min, max]` widened to whole decades.
    pub fn log(label: impl Into<String>, min: f64, max: f64) -> Axis {
        let min = 10f64.powf(min.max(1e-9).log10().floor());
        let max = 10f64.powf(max.max(min * 10.0).log10().ceil());
        Axis { label: label.into(), min, max, scale: Scale::Log10, ticks: Vec::new() }
    }

    /// A latency axis in ms from the values it must show: log when they span a wide range.
    pub fn latency(label: impl Into<String>, values: impl Iterator<Item = f64>) -> Axis {
        let (lo, hi) =
            values.filter(|v| v.is_finite() && *v > 0.0).fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if hi <= 0.0 {
            return Axis::linear(label, 0.0, 1.0);
        }
        if hi / lo > 50.0 {
            Axis::log(label, lo, hi)
        } else {
            Axis::linear(label, 0.0, hi * 1.08)
        }
    }

    fn fraction(&self, v: f64) -> f64 {
        let f = match self.scale {
            Scale::Linear => (v - self.min) / (self.max - self.min),
            Scale::Log10 => (v.max(self.min).log10() - self.min.log10()) / (self.max.log10() - self.min.log10()),
        };
        if f.is_finite() {
            f.clamp(-0.02, 1.02)
        } else {
            0.0
        }
    }

    fn ticks(&self) -> Vec<(f64, String)> {
        if !self.ticks.is_empty() {
            return self.ticks.clone();
        }
        match self.scale {
            Scale::Linear => nice_ticks(self.min, self.max, 6).into_iter().map(|t| (t, number(t))).collect(),
            Scale::Log10 => {
                let (a, b) = (self.min.log10().round() as i32, self.max.log10().round() as i32);
                (a..=b).map(|e| 10f64.powi(e)).map(|t| (t, number(t))).collect()
            }
        }
    }
}

/// About `count` round tick positions covering `[min, max]`.
pub fn nice_ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    if max <= min || !min.is_finite() || !max.is_finite() {
        return vec![min];
    }
    let raw = (max - min) / count.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let first = (min / step).ceil() * step;
    (0..).map(|i| first + i as f64 * step).take_while(|t| *t <= max + step * 1e-9).take(100).collect()
}

/// A compact label for a number: 1,234 / 12.5 / 0.25 / 1.5M.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else if a >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(v)
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: String,
    pub dashed: bool,
    /// Draw markers only, no line.
    pub markers_only: bool,
}

impl Series {
    pub fn line(name: impl Into<String>, color: &str, points: Vec<(f64, f64)>) -> Series {
        Series { name: name.into(), points, color: color.into(), dashed: false, markers_only: false }
    }
}

/// A shaded x range with a label at the top (a step of the run).
#[derive(Debug, Clone)]
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct LineChart {
    pub id: String,
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub bands: Vec<Band>,
    /// A horizontal reference line (a target) and its label.
    pub reference: Option<(f64, String)>,
}

struct Frame {
    w: f64,
    h: f64,
}

impl Frame {
    fn new() -> Frame {
        Frame { w: WIDTH - LEFT - RIGHT, h: HEIGHT - TOP - BOTTOM }
    }

    fn x(&self, axis: &Axis, v: f64) -> f64 {
        LEFT + axis.fraction(v) * self.w
    }

    fn y(&self, axis: &Axis, v: f64) -> f64 {
        TOP + (1.0 - axis.fraction(v)) * self.h
    }
}

fn open(out: &mut String, id: &str, title: &str) {
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{id}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{t}</title><rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/><text x="{LEFT}" y="22" class="chart-title" font-size="15" font-weight="600">{t}</text>"##,
        t = escape(title)
    );
}

fn axes(out: &mut String, f: &Frame, x: &Axis, y: &Axis, x_ticks: bool) {
    for (v, label) in y.ticks() {
        if v < y.min - 1e-12 || v > y.max * (1.0 + 1e-9) + 1e-12 {
            continue;
        }
        let py = f.y(y, v);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#444">{}</text>"##,
            LEFT + f.w,
            LEFT - 6.0,
            py + 4.0,
            escape(&label)
        );
    }
    if x_ticks {
        for (v, label) in x.ticks() {
            if v < x.min - 1e-12 || v > x.max + 1e-9 {
                continue;
            }
            let px = f.x(x, v);
            let _ = write!(
                out,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#f0f0f0"/><text x="{px:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#444">{}</text>"##,
                TOP + f.h,
                TOP + f.h + 16.0,
                escape(&label)
            );
        }
    }
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="#999"/><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle" fill="#222">{}</text><text transform="translate(16 {:.1}) rotate(-90)" font-size="12" text-anchor="middle" fill="#222">{}</text>"##,
        f.w,
        f.h,
        LEFT + f.w / 2.0,
        HEIGHT - 10.0,
        escape(&x.label),
        TOP + f.h / 2.0,
        escape(&y.label)
    );
}

/// A legend entry: name, colour, and how the series is drawn.
struct Entry {
    name: String,
    color: String,
    dashed: bool,
    marker: bool,
}

fn legend(out: &mut String, entries: &[Entry]) {
    for (i, Entry { name, color, dashed, marker }) in entries.iter().enumerate() {
        let y = TOP + 10.0 + i as f64 * 18.0;
        let x = WIDTH - RIGHT + 14.0;
        if *marker {
            let _ = write!(
                out,
                r##"<circle cx="{:.1}" cy="{y:.1}" r="5" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#222">{}</text>"##,
                x + 11.0,
                x + 28.0,
                y + 4.0,
                escape(name)
            );
            continue;
        }
        let dash = if *dashed { r#" stroke-dasharray="5 3""# } else { "" };
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2.5"{dash}/><text x="{:.1}" y="{:.1}" font-size="11" fill="#222">{}</text>"##,
            x + 22.0,
            x + 28.0,
            y + 4.0,
            escape(name)
        );
    }
}

pub fn line_chart(c: &LineChart) -> String {
    let f = Frame::new();
    let mut out = String::new();
    open(&mut out, &c.id, &c.title);
    for (i, band) in c.bands.iter().enumerate() {
        let (x0, x1) = (f.x(&c.x, band.from), f.x(&c.x, band.to));
        let fill = if i % 2 == 0 { "#f4f7fb" } else { "#fbf8f1" };
        let _ = write!(
            out,
            r##"<rect class="band" x="{x0:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="{fill}"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#666">{}</text>"##,
            (x1 - x0).max(0.0),
            f.h,
            (x0 + x1) / 2.0,
            TOP - 4.0,
            escape(&band.label)
        );
    }
    axes(&mut out, &f, &c.x, &c.y, true);
    if let Some((v, label)) = &c.reference {
        let py = f.y(&c.y, *v);
        let _ = write!(
            out,
            r##"<line class="reference" x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="{RED}" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="{RED}">{}</text>"##,
            LEFT + f.w,
            LEFT + f.w - 4.0,
            py - 4.0,
            escape(label)
        );
    }
    for s in &c.series {
        let pts: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", f.x(&c.x, x), f.y(&c.y, y)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        if s.markers_only {
            for p in &pts {
                let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(
                    out,
                    r##"<circle class="marker" cx="{px}" cy="{py}" r="5" fill="{}" stroke="#fff"><title>{}</title></circle>"##,
                    s.color,
                    escape(&s.name)
                );
            }
        } else {
            let dash = if s.dashed { r#" stroke-dasharray="6 4""# } else { "" };
            let _ = write!(
                out,
                r#"<polyline class="series" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"{dash} points="{}"><title>{}</title></polyline>"#,
                s.color,
                pts.join(" "),
                escape(&s.name)
            );
        }
    }
    let entries: Vec<Entry> = c
        .series
        .iter()
        .map(|s| Entry { name: s.name.clone(), color: s.color.clone(), dashed: s.dashed, marker: s.markers_only })
        .collect();
    legend(&mut out, &entries);
    out.push_str("</svg>");
    out
}

#[derive(Debug, Clone)]
pub struct BarChart {
    pub id: String,
    pub title: String,
    pub y_label: String,
    pub categories: Vec<String>,
    /// Stacked from the bottom: (name, colour, value per category).
    pub stacks: Vec<(String, String, Vec<f64>)>,
}

pub fn bar_chart(c: &BarChart) -> String {
    let f = Frame::new();
    let mut out = String::new();
    open(&mut out, &c.id, &c.title);
    let totals: Vec<f64> =
        (0..c.categories.len()).map(|i| c.stacks.iter().map(|s| s.2.get(i).copied().unwrap_or(0.0)).sum()).collect();
    let top = totals.iter().copied().fold(0.0, f64::max).max(1.0) * 1.08;
    let y = Axis::linear(c.y_label.clone(), 0.0, top);
    let x = Axis::linear("shard", 0.0, c.categories.len().max(1) as f64);
    axes(&mut out, &f, &x, &y, false);
    let slot = f.w / c.categories.len().max(1) as f64;
    let bar = (slot * 0.6).min(60.0);
    for (i, cat) in c.categories.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        let mut base = 0.0;
        for (name, color, values) in &c.stacks {
            let v = values.get(i).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let (y0, y1) = (f.y(&y, base), f.y(&y, base + v));
            let _ = write!(
                out,
                r#"<rect class="bar" x="{:.1}" y="{y1:.1}" width="{bar:.1}" height="{:.1}" fill="{color}"><title>{}: {} {}</title></rect>"#,
                cx - bar / 2.0,
                (y0 - y1).max(0.5),
                escape(cat),
                number(v),
                escape(name)
            );
            base += v;
        }
        let _ = write!(
            out,
            r##"<text x="{cx:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#444">{}</text>"##,
            TOP + f.h + 16.0,
            escape(cat)
        );
    }
    let entries: Vec<Entry> =
        c.stacks.iter().map(|s| Entry { name: s.0.clone(), color: s.1.clone(), dashed: false, marker: true }).collect();
    legend(&mut out, &entries);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 10.0, 5), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(0.0, 1000.0, 4), [0.0, 250.0, 500.0, 750.0, 1000.0]);
        assert_eq!(nice_ticks(3.0, 3.0, 5), [3.0]);
        let log = Axis::log("ms", 0.7, 230.0);
        assert_eq!((log.min, log.max), (0.1, 1000.0));
    }

    #[test]
    fn numbers_are_compact() {
        assert_eq!(number(1234.0), "1234");
        assert_eq!(number(12_500.0), "12.5k");
        assert_eq!(number(2_000_000.0), "2M");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(0.25), "0.25");
    }

    #[test]
    fn charts_are_svg_with_their_titles_escaped() {
        let chart = LineChart {
            id: "c".into(),
            title: "Latency <p99> & more".into(),
            x: Axis::linear("t (s)", 0.0, 10.0),
            y: Axis::latency("ms", [1.0, 2.0].into_iter()),
            series: vec![Series::line("put", PALETTE[0], vec![(0.0, 1.0), (10.0, 2.0)])],
            bands: vec![Band { from: 0.0, to: 5.0, label: "50%".into() }],
            reference: Some((1.5, "target".into())),
        };
        let svg = line_chart(&chart);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title id=\"c-title\">Latency &lt;p99&gt; &amp; more</title>"));
        assert!(svg.contains("<polyline") && svg.contains("class=\"band\"") && svg.contains("class=\"reference\""));
        let bars = bar_chart(&BarChart {
            id: "b".into(),
            title: "Per shard".into(),
            y_label: "records".into(),
            categories: vec!["0".into(), "1".into()],
            stacks: vec![("accepted".into(), PALETTE[0].into(), vec![5.0, 7.0])],
        });
        assert_eq!(bars.matches("class=\"bar\"").count(), 2);
    }
}
