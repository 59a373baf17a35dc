//! `falcon report RUN.json [RUN.json ...] --out DIR`: the performance-study
//! report (Markdown + SVG/PNG charts) from `falcon bench --json` files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Run files written by `falcon bench --json` (order = order in the report).
    #[arg(required = true, value_name = "RUN.json")]
    pub runs: Vec<PathBuf>,
    /// Output directory (report.md and the charts).
    #[arg(long, env = "FALCON_REPORT_OUT", default_value = "report")]
    pub out: PathBuf,
    /// Label of the baseline runs (default: the first run's label).
    #[arg(long, env = "FALCON_REPORT_BASELINE")]
    pub baseline: Option<String>,
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let runs = args
        .runs
        .iter()
        .map(|p| falcon_report::load_run(p))
        .collect::<Result<Vec<_>, _>>()?;
    let written = falcon_report::write(&runs, args.baseline.as_deref(), &args.out)
        .with_context(|| format!("writing the report to {}", args.out.display()))?;
    println!(
        "report: {} ({} charts)",
        written.markdown.display(),
        written.charts.len()
    );
    Ok(ExitCode::SUCCESS)
}
