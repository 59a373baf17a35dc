//! `falcon report RUN.json [RUN.json ...] --out DIR`: the performance-study
//! report (Markdown + SVG/PNG charts) from `falcon bench --json` files.
//!
//! `--dashboard FILE --prometheus URL --from T --to T` adds a dashboard
//! snapshot: every panel of a Grafana dashboard evaluated against the real
//! Prometheus over the window and drawn as a chart into `DIR/dashboard/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use falcon_report::dashboard::{self, Panel, PanelData, Snapshot};

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Run files written by `falcon bench --json` (order = order in the report).
    #[arg(value_name = "RUN.json")]
    pub runs: Vec<PathBuf>,
    /// Output directory (report.md and the charts).
    #[arg(long, env = "FALCON_REPORT_OUT", default_value = "report")]
    pub out: PathBuf,
    /// Label of the baseline runs (default: the first run's label).
    #[arg(long, env = "FALCON_REPORT_BASELINE")]
    pub baseline: Option<String>,
    /// Grafana dashboard JSON whose panels to draw (needs --prometheus),
    /// e.g. deploy/grafana/dashboards/falcon.json.
    #[arg(long, env = "FALCON_REPORT_DASHBOARD", value_name = "FILE")]
    pub dashboard: Option<PathBuf>,
    /// Prometheus base URL the dashboard's queries run against.
    #[arg(long, env = "FALCON_REPORT_PROMETHEUS", value_name = "URL")]
    pub prometheus: Option<String>,
    /// Start of the dashboard window: unix seconds or 2026-11-28T11:30:00Z
    /// (default: the earliest run's start).
    #[arg(long, env = "FALCON_REPORT_FROM")]
    pub from: Option<String>,
    /// End of the dashboard window (default: the latest run's end).
    #[arg(long, env = "FALCON_REPORT_TO")]
    pub to: Option<String>,
}

fn time_arg(flag: &str, v: &str) -> anyhow::Result<f64> {
    dashboard::parse_time(v).with_context(|| {
        format!("{flag} {v:?}: expected unix seconds or YYYY-MM-DDTHH:MM:SSZ (UTC)")
    })
}

/// The scrape interval from Prometheus's loaded configuration (for
/// `$__rate_interval`); 15 s (Prometheus's default) if it cannot be read.
async fn scrape_interval(client: &falcon_loadgen::http::HttpClient, prom: &str) -> f64 {
    let Ok(uri) = falcon_loadgen::http::target_uri(prom, "/api/v1/status/config") else {
        return 15.0;
    };
    let Ok(body) = falcon_loadgen::http::get(client, uri, std::time::Duration::from_secs(10)).await
    else {
        return 15.0;
    };
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    v["data"]["yaml"]
        .as_str()
        .and_then(|y| {
            y.lines()
                .find_map(|l| l.trim().strip_prefix("scrape_interval:"))
                .and_then(|d| falcon_server::parse_duration(d.trim()).ok())
        })
        .map(|d| d.as_secs_f64())
        .filter(|s| *s > 0.0)
        .unwrap_or(15.0)
}

/// Evaluates every panel of `dashboard_file` over `[start, end]` and draws
/// it into `dir` (also used by `falcon tune --dashboard`).
pub async fn dashboard_snapshot(
    prom: &str,
    dashboard_file: &Path,
    start: f64,
    end: f64,
    dir: &Path,
) -> anyhow::Result<Snapshot> {
    if end <= start {
        bail!("the dashboard window is empty (--to must be after --from)");
    }
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dashboard_file)
            .with_context(|| format!("--dashboard {}", dashboard_file.display()))?,
    )
    .with_context(|| format!("--dashboard {}: not JSON", dashboard_file.display()))?;
    let panels = dashboard::panels(&json);
    if panels.is_empty() {
        bail!(
            "--dashboard {}: no panels with PromQL targets",
            dashboard_file.display()
        );
    }
    let client = falcon_loadgen::http::client(4);
    let scrape = scrape_interval(&client, prom).await;
    // About 240 points per chart, never finer than a scrape.
    let step = ((end - start) / 240.0).max(scrape).max(1.0).round();
    let rate = dashboard::rate_interval(scrape, step);
    let mut evaluated: Vec<(Panel, PanelData)> = Vec::new();
    for panel in panels {
        let mut data: PanelData = Vec::new();
        for t in &panel.targets {
            let expr = dashboard::expand(&t.expr, rate, step, end - start);
            let series = falcon_loadgen::prom::range(&client, prom, &expr, start, end, step)
                .await
                .with_context(|| format!("panel {:?}", panel.title))?;
            for s in series {
                let name = dashboard::legend(t.legend.as_deref(), &s.labels, &t.ref_id);
                data.push((t.clone(), name, s.points));
            }
        }
        evaluated.push((panel, data));
    }
    let name = dashboard_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let snap = dashboard::write(dir, &name, prom, &evaluated, start, end, step, rate)?;
    Ok(snap)
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    if args.runs.is_empty() && args.dashboard.is_none() {
        bail!("nothing to report: give RUN.json files and/or --dashboard FILE --prometheus URL");
    }
    if args.dashboard.is_some() != args.prometheus.is_some() {
        bail!("--dashboard and --prometheus go together");
    }
    let runs = args
        .runs
        .iter()
        .map(|p| falcon_report::load_run(p))
        .collect::<Result<Vec<_>, _>>()?;
    if !runs.is_empty() {
        let written = falcon_report::write(&runs, args.baseline.as_deref(), &args.out)
            .with_context(|| format!("writing the report to {}", args.out.display()))?;
        println!(
            "report: {} ({} charts)",
            written.markdown.display(),
            written.charts.len()
        );
    }
    if let (Some(dash), Some(prom)) = (&args.dashboard, &args.prometheus) {
        let start = match &args.from {
            Some(v) => time_arg("--from", v)?,
            None => runs
                .iter()
                .map(|r| r.report.started_unix - r.report.config.warmup_s)
                .reduce(f64::min)
                .context("--from is needed without run files")?,
        };
        let end = match &args.to {
            Some(v) => time_arg("--to", v)?,
            None => runs
                .iter()
                .map(|r| r.report.started_unix + r.report.summary.duration_s)
                .reduce(f64::max)
                .context("--to is needed without run files")?,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?;
        let snap = runtime.block_on(dashboard_snapshot(
            prom,
            dash,
            start,
            end,
            &args.out.join("dashboard"),
        ))?;
        println!(
            "dashboard snapshot: {} ({} panels, {}{})",
            snap.markdown.display(),
            snap.charts.len() / 2,
            snap.window,
            if snap.empty.is_empty() {
                String::new()
            } else {
                format!("; no data: {}", snap.empty.join(", "))
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
