//! Dashboard snapshots: every panel of a Grafana dashboard, evaluated against
//! a real Prometheus over a time window and drawn as a chart (SVG + PNG) —
//! the dashboard as pictures for a study's documents, where no Grafana is
//! available to take screenshots.
//!
//! This module is the pure part: reading the panels, expanding Grafana's
//! variables, naming series from `legendFormat`, scaling units, drawing and
//! the Markdown page. Fetching (`/api/v1/query_range`) is the caller's.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::ReportError;
use crate::charts::{self, Chart};

/// One query of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub ref_id: String,
    pub expr: String,
    pub legend: Option<String>,
}

/// One graph panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    pub id: i64,
    pub title: String,
    pub unit: Option<String>,
    pub targets: Vec<Target>,
}

/// The panels with PromQL targets, in dashboard order (rows are descended
/// into; text panels and targets without `expr` are skipped).
pub fn panels(dashboard: &serde_json::Value) -> Vec<Panel> {
    fn walk(list: &serde_json::Value, out: &mut Vec<Panel>) {
        for p in list.as_array().into_iter().flatten() {
            if p["type"] == "row" {
                walk(&p["panels"], out);
                continue;
            }
            let targets: Vec<Target> = p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["hide"] != true)
                .filter_map(|t| {
                    Some(Target {
                        ref_id: t["refId"].as_str().unwrap_or("").to_owned(),
                        expr: t["expr"].as_str()?.to_owned(),
                        legend: t["legendFormat"]
                            .as_str()
                            .filter(|l| !l.is_empty() && *l != "__auto")
                            .map(str::to_owned),
                    })
                })
                .collect();
            if targets.is_empty() {
                continue;
            }
            out.push(Panel {
                id: p["id"].as_i64().unwrap_or(out.len() as i64 + 1),
                title: p["title"].as_str().unwrap_or("untitled").to_owned(),
                unit: p["fieldConfig"]["defaults"]["unit"]
                    .as_str()
                    .map(str::to_owned),
                targets,
            });
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Seconds as a PromQL duration (`90s`).
fn dur(s: f64) -> String {
    format!("{}s", s.round().max(1.0) as u64)
}

/// Grafana's `$__rate_interval`: at least four scrapes, and at least one
/// step plus a scrape so that consecutive points overlap.
pub fn rate_interval(scrape_s: f64, step_s: f64) -> f64 {
    (4.0 * scrape_s).max(step_s + scrape_s)
}

/// Replaces Grafana's interval variables by PromQL durations.
pub fn expand(expr: &str, rate_interval_s: f64, step_s: f64, range_s: f64) -> String {
    expr.replace("$__rate_interval", &dur(rate_interval_s))
        .replace("${__rate_interval}", &dur(rate_interval_s))
        .replace("$__interval", &dur(step_s))
        .replace("${__interval}", &dur(step_s))
        .replace("$__range", &dur(range_s))
        .replace("${__range}", &dur(range_s))
}

/// A series' name: `legendFormat` with `{{label}}` filled in, or the labels
/// (`{a="b"}`), or the expression's ref id.
pub fn legend(
    format: Option<&str>,
    labels: &serde_json::Map<String, serde_json::Value>,
    ref_id: &str,
) -> String {
    match format {
        Some(f) => {
            let mut out = String::new();
            let mut rest = f;
            while let Some(i) = rest.find("{{") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                match after.find("}}") {
                    Some(j) => {
                        let key = after[..j].trim();
                        out.push_str(labels.get(key).and_then(|v| v.as_str()).unwrap_or(""));
                        rest = &after[j + 2..];
                    }
                    None => {
                        out.push_str(&rest[i..]);
                        rest = "";
                    }
                }
            }
            out.push_str(rest);
            out.trim().to_owned()
        }
        None if labels.is_empty() => ref_id.to_owned(),
        None => {
            let inner: Vec<String> = labels
                .iter()
                .filter(|(k, _)| k.as_str() != "__name__")
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// How a Grafana unit is shown: (factor applied to values, axis label).
pub fn scale(unit: Option<&str>) -> (f64, &'static str) {
    match unit.unwrap_or("") {
        "s" => (1000.0, "ms"),
        "ms" => (1.0, "ms"),
        "percentunit" => (100.0, "%"),
        "percent" => (1.0, "%"),
        "bytes" | "decbytes" => (1.0 / (1024.0 * 1024.0), "MiB"),
        "reqps" => (1.0, "req/s"),
        "ops" => (1.0, "ops/s"),
        _ => (1.0, "value"),
    }
}

/// Points sorted by time, with a NaN inserted wherever scrapes are missing
/// for more than 1.5 steps, so that the chart shows a gap instead of a line
/// across it.
pub fn with_gaps(mut points: Vec<(f64, f64)>, step_s: f64) -> Vec<(f64, f64)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::with_capacity(points.len());
    let mut last: Option<f64> = None;
    for (t, v) in points {
        if let Some(l) = last
            && t - l > 1.5 * step_s
        {
            out.push(((l + t) / 2.0, f64::NAN));
        }
        out.push((t, v));
        last = Some(t);
    }
    out
}

/// The evaluated series of one panel: (target, series name, (unix t, v)).
pub type PanelData = Vec<(Target, String, Vec<(f64, f64)>)>;

/// The chart of a panel over `[start, end]`.
pub fn panel_chart(panel: &Panel, data: &PanelData, start: f64, end: f64, step_s: f64) -> Chart {
    let (factor, y_desc) = scale(panel.unit.as_deref());
    let minutes = end - start > 900.0;
    let x_unit = if minutes { 60.0 } else { 1.0 };
    let series = data
        .iter()
        .map(|(_, name, pts)| {
            let pts = with_gaps(pts.clone(), step_s)
                .into_iter()
                .map(|(t, v)| ((t - start) / x_unit, v * factor))
                .collect();
            (name.clone(), pts)
        })
        .collect();
    Chart::Lines {
        title: panel.title.clone(),
        x_desc: format!(
            "{} since {}",
            if minutes { "minutes" } else { "seconds" },
            utc(start)
        ),
        y_desc: y_desc.to_owned(),
        series,
    }
}

/// A file name for a panel: `panel-03-requests-per-second-per-worker`.
pub fn stem(panel: &Panel) -> String {
    let mut slug = String::new();
    for c in panel.title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    format!("panel-{:02}-{}", panel.id, slug.trim_matches('-'))
}

/// `2026-11-28T11:30:05Z` from unix seconds.
pub fn utc(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Unix seconds from `1700000000[.5]` or `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
pub fn parse_time(s: &str) -> Option<f64> {
    if let Ok(v) = s.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix("+00:00"))?;
    let (date, time) = s.split_once('T').or_else(|| s.split_once(' '))?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let mut t = time.split(':');
    let hh: i64 = t.next()?.parse().ok()?;
    let mm: i64 = t.next()?.parse().ok()?;
    let ss: f64 = t.next().unwrap_or("0").parse().ok()?;
    if d.next().is_some()
        || t.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || hh > 23
        || mm > 59
        || !(0.0..61.0).contains(&ss)
    {
        return None;
    }
    // days_from_civil.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60) as f64 + ss)
}

/// What a snapshot wrote.
#[derive(Debug)]
pub struct Snapshot {
    pub markdown: PathBuf,
    pub charts: Vec<PathBuf>,
    /// `FROM – TO (N min)`.
    pub window: String,
    /// Panels whose every query returned no data.
    pub empty: Vec<String>,
}

/// Draws each panel into `dir` and writes `dir/dashboard.md`.
#[allow(clippy::too_many_arguments)]
pub fn write(
    dir: &Path,
    dashboard_name: &str,
    prometheus: &str,
    panels: &[(Panel, PanelData)],
    start: f64,
    end: f64,
    step_s: f64,
    rate_interval_s: f64,
) -> Result<Snapshot, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let window = format!(
        "{} – {} ({:.1} min)",
        utc(start),
        utc(end),
        (end - start) / 60.0
    );
    let mut md = String::new();
    let _ = writeln!(md, "# Dashboard snapshot: {dashboard_name}\n");
    let _ = writeln!(
        md,
        "Every panel of the dashboard, its PromQL evaluated by Prometheus ({prometheus}) over {window}, one point every {step_s:.0} s, Grafana's `$__rate_interval` = {rate_interval_s:.0} s. Drawn by `falcon report --dashboard` (no Grafana needed). Gaps are times without samples (between runs, clusters stopped).\n"
    );
    let mut files = Vec::new();
    let mut empty = Vec::new();
    for (panel, data) in panels {
        let stem = stem(panel);
        charts::render(dir, &stem, &panel_chart(panel, data, start, end, step_s))?;
        files.push(dir.join(format!("{stem}.svg")));
        files.push(dir.join(format!("{stem}.png")));
        let _ = writeln!(md, "## {}\n", panel.title);
        let _ = writeln!(
            md,
            "![{}]({stem}.svg)\n\n([PNG]({stem}.png))\n",
            panel.title
        );
        if data.is_empty() {
            empty.push(panel.title.clone());
            let _ = writeln!(md, "*No data in this window.*\n");
        }
        let _ = writeln!(md, "```promql");
        for t in &panel.targets {
            let _ = writeln!(md, "{}", t.expr);
        }
        let _ = writeln!(md, "```\n");
    }
    let markdown = dir.join("dashboard.md");
    std::fs::write(&markdown, md).map_err(|source| ReportError::Io {
        path: markdown.clone(),
        source,
    })?;
    Ok(Snapshot {
        markdown,
        charts: files,
        window,
        empty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_panels_and_expands_variables() {
        let d = serde_json::json!({"panels": [
            {"id": 1, "type": "timeseries", "title": "Req/s per worker",
             "fieldConfig": {"defaults": {"unit": "reqps"}},
             "targets": [{"refId": "A", "expr": "sum by (instance) (rate(x[$__rate_interval]))", "legendFormat": "{{instance}}"},
                         {"refId": "B", "expr": "y", "hide": true}]},
            {"id": 2, "type": "text", "title": "notes"},
            {"id": 3, "type": "row", "title": "more", "panels": [
                {"id": 4, "type": "timeseries", "title": "p95", "targets": [{"refId": "A", "expr": "z"}]}]}
        ]});
        let p = panels(&d);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].targets.len(), 1, "hidden target skipped");
        assert_eq!(p[0].unit.as_deref(), Some("reqps"));
        assert_eq!(p[1].id, 4);
        assert_eq!(stem(&p[0]), "panel-01-req-s-per-worker");
        assert_eq!(
            expand(&p[0].targets[0].expr, rate_interval(2.0, 10.0), 10.0, 600.0),
            "sum by (instance) (rate(x[12s]))"
        );
        assert_eq!(rate_interval(5.0, 1.0), 20.0);
    }

    #[test]
    fn names_series_from_the_legend_format() {
        let mut l = serde_json::Map::new();
        l.insert("instance".into(), "127.0.0.1:8001".into());
        l.insert("model".into(), "spam".into());
        assert_eq!(
            legend(Some("p95 {{model}} @ {{ instance }}"), &l, "A"),
            "p95 spam @ 127.0.0.1:8001"
        );
        assert_eq!(legend(Some("{{missing}} x"), &l, "A"), "x");
        assert_eq!(
            legend(None, &l, "A"),
            "{instance=127.0.0.1:8001, model=spam}"
        );
        assert_eq!(legend(None, &serde_json::Map::new(), "B"), "B");
    }

    #[test]
    fn gaps_scaling_and_times() {
        let g = with_gaps(
            vec![(20.0, 2.0), (0.0, 1.0), (10.0, 1.5), (60.0, 3.0)],
            10.0,
        );
        assert_eq!(g.len(), 5);
        assert!(g[3].1.is_nan() && g[3].0 == 40.0, "{g:?}");
        assert_eq!(scale(Some("s")), (1000.0, "ms"));
        assert_eq!(scale(Some("percentunit")), (100.0, "%"));
        assert_eq!(utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_795_866_605.0), "2026-11-28T11:50:05Z");
        assert_eq!(parse_time("2026-11-28T11:50:05Z"), Some(1_795_866_605.0));
        assert_eq!(parse_time("1795866605.5"), Some(1_795_866_605.5));
        assert_eq!(parse_time("2024-02-29T00:00:00Z"), Some(1_709_164_800.0));
        assert_eq!(parse_time("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn writes_one_chart_per_panel_and_the_page() {
        let tmp = tempfile::tempdir().unwrap();
        let panel = Panel {
            id: 7,
            title: "CPU per worker".into(),
            unit: Some("percentunit".into()),
            targets: vec![Target {
                ref_id: "A".into(),
                expr: "rate(process_cpu_seconds_total[1m])".into(),
                legend: Some("{{instance}}".into()),
            }],
        };
        let data = vec![(
            panel.targets[0].clone(),
            "w1".to_string(),
            vec![(100.0, 0.1), (110.0, 0.2), (150.0, 0.3)],
        )];
        let empty = Panel {
            id: 8,
            title: "Nothing".into(),
            unit: None,
            targets: panel.targets.clone(),
        };
        let s = write(
            tmp.path(),
            "falcon.json",
            "http://prom",
            &[(panel, data), (empty, Vec::new())],
            100.0,
            160.0,
            10.0,
            20.0,
        )
        .unwrap();
        assert_eq!(s.charts.len(), 4);
        assert!(s.charts.iter().all(|c| c.exists()));
        assert_eq!(s.empty, vec!["Nothing".to_string()]);
        let md = std::fs::read_to_string(&s.markdown).unwrap();
        assert!(
            md.contains("![CPU per worker](panel-07-cpu-per-worker.svg)"),
            "{md}"
        );
        assert!(md.contains("*No data in this window.*"), "{md}");
        let svg = std::fs::read_to_string(tmp.path().join("panel-07-cpu-per-worker.svg")).unwrap();
        assert!(
            svg.contains("CPU per worker") && svg.contains("w1"),
            "title and legend drawn"
        );
    }
}
