//! `falcon_report`: turns `falcon bench --json` run files into the report
//! of a performance study — configuration per run, results, improvement
//! over a baseline, repeatability of p95, and charts (SVG + PNG).
//!
//! The numbers live in [`analysis`], apart from their Markdown and chart
//! rendering, so that a test can check them exactly.

pub mod analysis;
pub mod charts;
pub mod dashboard;
mod error;
pub mod markdown;

use std::path::{Path, PathBuf};

pub use analysis::Run;
pub use error::ReportError;
use falcon_loadgen::RunReport;
use falcon_loadgen::report::SCHEMA;

use charts::Chart;

/// Reads one run file, checking its schema.
pub fn load_run(path: &Path) -> Result<Run, ReportError> {
    let data = std::fs::read(path).map_err(|source| ReportError::Io {
        path: path.to_owned(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_slice(&data).map_err(|source| ReportError::Json {
            path: path.to_owned(),
            source,
        })?;
    let found = value["schema"].as_str().unwrap_or("").to_owned();
    if found != SCHEMA {
        return Err(ReportError::Schema {
            path: path.to_owned(),
            found,
            expected: SCHEMA,
        });
    }
    let report: RunReport = serde_json::from_value(value).map_err(|source| ReportError::Json {
        path: path.to_owned(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| report.label.clone());
    Ok(Run { name, report })
}

/// What `write` produced.
#[derive(Debug)]
pub struct Written {
    pub markdown: PathBuf,
    pub charts: Vec<PathBuf>,
}

/// The charts of a set of runs, as (file stem, title, chart).
pub fn charts(runs: &[Run]) -> Vec<(String, String, Chart)> {
    let names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
    let mut out = Vec::new();
    let pct = |f: fn(&falcon_loadgen::report::Latency) -> f64| -> Vec<Option<f64>> {
        runs.iter()
            .map(|r| Some(f(&r.report.summary.latency_ms)))
            .collect()
    };
    out.push((
        "latency_percentiles".to_string(),
        "Latency percentiles per run".to_string(),
        Chart::Bars {
            title: "Latency percentiles per run".into(),
            y_desc: "ms".into(),
            groups: names.clone(),
            series: vec![
                ("p50".into(), pct(|l| l.p50)),
                ("p90".into(), pct(|l| l.p90)),
                ("p95".into(), pct(|l| l.p95)),
                ("p99".into(), pct(|l| l.p99)),
            ],
        },
    ));
    out.push((
        "latency_over_time".to_string(),
        "p95 latency over time".to_string(),
        Chart::Lines {
            title: "p95 latency over time".into(),
            x_desc: "seconds into the measured window".into(),
            y_desc: "p95 ms".into(),
            series: runs
                .iter()
                .map(|r| {
                    let pts = r
                        .report
                        .timeseries
                        .iter()
                        .filter(|p| p.requests > 0)
                        .map(|p| (p.t as f64, p.p95_ms))
                        .collect();
                    (r.name.clone(), pts)
                })
                .collect(),
        },
    ));
    out.push((
        "rps_over_time".to_string(),
        "Requests per second over time".to_string(),
        Chart::Lines {
            title: "Requests per second over time".into(),
            x_desc: "seconds into the measured window".into(),
            y_desc: "req/s".into(),
            series: runs
                .iter()
                .map(|r| {
                    let pts = r
                        .report
                        .timeseries
                        .iter()
                        .map(|p| (p.t as f64, p.requests as f64))
                        .collect();
                    (r.name.clone(), pts)
                })
                .collect(),
        },
    ));
    // CPU per worker: workers are matched by name across runs (worker-1,
    // worker-2, nginx, ...), in order of first appearance.
    let mut worker_names: Vec<String> = Vec::new();
    for r in runs {
        for w in &r.report.workers {
            if !worker_names.contains(&w.name) {
                worker_names.push(w.name.clone());
            }
        }
    }
    if !worker_names.is_empty() {
        out.push((
            "cpu_per_worker".to_string(),
            "CPU per worker".to_string(),
            Chart::Bars {
                title: "CPU per worker (100 % = one core)".into(),
                y_desc: "CPU %".into(),
                groups: names,
                series: worker_names
                    .iter()
                    .map(|name| {
                        (
                            name.clone(),
                            runs.iter()
                                .map(|r| {
                                    r.report
                                        .workers
                                        .iter()
                                        .find(|w| &w.name == name)
                                        .and_then(|w| w.cpu_percent)
                                })
                                .collect(),
                        )
                    })
                    .collect(),
            },
        ));
    }
    out
}

/// Writes `DIR/report.md` and its charts. `baseline` is a label (default:
/// the first run's).
pub fn write(runs: &[Run], baseline: Option<&str>, dir: &Path) -> Result<Written, ReportError> {
    if runs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let baseline = match baseline {
        Some(b) if runs.iter().any(|r| r.report.label == b) => b.to_owned(),
        Some(b) => return Err(ReportError::NoBaseline(b.to_owned())),
        None => runs[0].report.label.clone(),
    };
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut chart_files = Vec::new();
    let mut listed = Vec::new();
    for (stem, title, chart) in charts(runs) {
        charts::render(dir, &stem, &chart)?;
        chart_files.push(dir.join(format!("{stem}.svg")));
        chart_files.push(dir.join(format!("{stem}.png")));
        listed.push((stem, title));
    }
    let md = markdown::render(runs, &baseline, &listed);
    let markdown = dir.join("report.md");
    std::fs::write(&markdown, md).map_err(|source| ReportError::Io {
        path: markdown.clone(),
        source,
    })?;
    Ok(Written {
        markdown,
        charts: chart_files,
    })
}
