//! `falcon bench`: drive load at a Falcon (or any) server with the built-in
//! load generator, print a k6-like summary, optionally write the full run
//! as JSON for `falcon report`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use falcon_loadgen::{Corpus, LoadConfig, Mode, RepeatDist, WorkerPid, summary_text};
use falcon_server::parse_duration;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Base URL of the server (plain HTTP).
    #[arg(
        long,
        env = "FALCON_BENCH_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    pub url: String,
    /// Target a cluster started by `falcon cluster up --run-dir DIR`: its URL,
    /// and its workers (and nginx) sampled for CPU/RSS.
    #[arg(long, env = "FALCON_BENCH_CLUSTER", value_name = "DIR")]
    pub cluster: Option<PathBuf>,
    /// Path to POST `{"text": ...}` to, e.g. /v1/models/spam/predict
    /// (not appended again when --url already ends with it).
    #[arg(long, env = "FALCON_BENCH_PATH", default_value = "/predict")]
    pub path: String,
    /// Closed loop: number of virtual users (the seed's test: 50).
    #[arg(long, env = "FALCON_BENCH_VUS", default_value_t = 50)]
    pub vus: usize,
    /// Closed loop: think time between a VU's answer and its next request.
    #[arg(long, env = "FALCON_BENCH_THINK", default_value = "250ms", value_parser = parse_duration)]
    pub think: Duration,
    /// Open loop instead: constant arrival rate in requests per second
    /// (latency still counted from each request's due time).
    #[arg(long, env = "FALCON_BENCH_RATE")]
    pub rate: Option<f64>,
    /// Open loop: most requests outstanding at once (also the connection
    /// pool size); beyond, starts wait and their wait counts as latency.
    #[arg(long, env = "FALCON_BENCH_MAX_IN_FLIGHT", default_value_t = 1000)]
    pub max_in_flight: usize,
    /// Measured duration (after warm-up).
    #[arg(long, env = "FALCON_BENCH_DURATION", default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load applied first and left out of the results.
    #[arg(long, env = "FALCON_BENCH_WARMUP", default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Per-request deadline (a slower answer counts as a `timeout` failure).
    #[arg(long, env = "FALCON_BENCH_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// JSON Lines file of `{"text": ...}` objects to draw requests from.
    #[arg(
        long,
        env = "FALCON_BENCH_DATA",
        default_value = "bench/data/heldout.jsonl"
    )]
    pub data: PathBuf,
    /// Fraction of requests that re-send an earlier text (the seed saw a
    /// ~65 % cache hit rate).
    #[arg(long, env = "FALCON_BENCH_REPEAT_FRACTION", default_value_t = 0.65)]
    pub repeat_fraction: f64,
    /// Which earlier text a repeat picks: uniform or zipf.
    #[arg(long, env = "FALCON_BENCH_REPEAT_DIST", default_value = "uniform")]
    pub repeat_dist: RepeatDist,
    /// Make every text unique (measures uncached inference).
    #[arg(long, env = "FALCON_BENCH_UNIQUE")]
    pub unique: bool,
    /// Send texts verbatim instead of tagging each with a suffix unique to
    /// the run (with this, a server still warm from an earlier run answers
    /// this run's "new" texts from its cache).
    #[arg(long, env = "FALCON_BENCH_PRISTINE")]
    pub pristine: bool,
    /// Random seed of the text picks.
    #[arg(long, env = "FALCON_BENCH_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Label of the run; `falcon report` groups runs with the same label as
    /// repeats.
    #[arg(long, env = "FALCON_BENCH_LABEL", default_value = "run")]
    pub label: String,
    /// Write the full run (config, summary, time series, server side) here.
    #[arg(long, env = "FALCON_BENCH_JSON", value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Prometheus base URL: adds the server-side p95 over the run window and
    /// per-worker CPU/RSS (if the workers export process metrics).
    #[arg(long, env = "FALCON_BENCH_PROMETHEUS", value_name = "URL")]
    pub prometheus: Option<String>,
    /// Local server process to sample CPU % and RSS from /proc: `PID` or
    /// `name=PID`; repeat for several workers.
    #[arg(long = "pid", env = "FALCON_BENCH_PIDS", value_delimiter = ',')]
    pub pids: Vec<WorkerPid>,
    /// Extra `key=value` notes recorded in the run file (e.g. workers=3).
    #[arg(long = "note", env = "FALCON_BENCH_NOTES", value_delimiter = ',')]
    pub notes: Vec<String>,
    /// No progress bar.
    #[arg(long, env = "FALCON_BENCH_QUIET")]
    pub quiet: bool,
    /// Load-generator threads (default: one per core).
    #[arg(long, env = "FALCON_BENCH_THREADS")]
    pub threads: Option<usize>,
}

impl BenchArgs {
    /// The library configuration these flags describe.
    pub fn config(&self) -> LoadConfig {
        LoadConfig {
            url: self.url.clone(),
            path: self.path.clone(),
            mode: match self.rate {
                Some(rate) => Mode::Open {
                    rate,
                    max_in_flight: self.max_in_flight,
                },
                None => Mode::Closed {
                    vus: self.vus,
                    think: self.think,
                },
            },
            duration: self.duration,
            warmup: self.warmup,
            timeout: self.timeout,
            repeat: self.repeat_fraction,
            repeat_dist: self.repeat_dist,
            unique: self.unique,
            seed: self.seed,
            run_nonce: (!self.pristine).then(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0)
                    ^ u64::from(std::process::id())
            }),
            label: self.label.clone(),
            data_file: Some(self.data.display().to_string()),
            pids: self.pids.clone(),
            prometheus: self.prometheus.clone(),
            progress: !self.quiet,
        }
    }
}

/// Runs one benchmark inside an existing runtime and returns its record
/// (used by `falcon tune` too).
pub async fn bench(args: &BenchArgs) -> anyhow::Result<falcon_loadgen::RunReport> {
    let mut args = args.clone();
    if let Some(dir) = &args.cluster {
        let state = super::cluster::State::load(dir)?
            .with_context(|| format!("no cluster in {} (falcon cluster up)", dir.display()))?;
        args.url = state.url.clone();
        if args.pids.is_empty() {
            args.pids = state
                .workers
                .iter()
                .chain(state.nginx.iter())
                .map(|p| WorkerPid {
                    name: p.name.clone(),
                    pid: p.pid,
                })
                .collect();
        }
    }
    let args = &args;
    let corpus = Arc::new(
        Corpus::from_jsonl(&args.data)
            .with_context(|| format!("loading texts from {}", args.data.display()))?,
    );
    let mut report = falcon_loadgen::run(&args.config(), corpus).await?;
    for note in &args.notes {
        let (k, v) = note
            .split_once('=')
            .with_context(|| format!("note {note:?} is not key=value"))?;
        report.notes.insert(k.to_owned(), v.to_owned());
    }
    Ok(report)
}

/// Writes a run file.
pub fn write_json(
    path: &std::path::Path,
    report: &falcon_loadgen::RunReport,
) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let report = runtime.block_on(bench(&args))?;
    print!("{}", summary_text(&report));
    if let Some(path) = &args.json {
        write_json(path, &report)?;
        println!("\n  run written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
