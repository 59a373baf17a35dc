//! The numbers of a report, computed apart from their rendering so that
//! they can be tested exactly.

use falcon_loadgen::RunReport;

/// A run and the name it is shown under.
#[derive(Clone, Debug)]
pub struct Run {
    /// File stem of the run file (or any short name).
    pub name: String,
    pub report: RunReport,
}

/// Whether a larger value of a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One metric compared across runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Rps,
    Avg,
    P50,
    P90,
    P95,
    P99,
    Max,
    ErrorRate,
    CacheHitRate,
    ServerP95,
    CpuPercent,
    RssMax,
}

impl Metric {
    pub const ALL: [Metric; 12] = [
        Metric::Rps,
        Metric::Avg,
        Metric::P50,
        Metric::P90,
        Metric::P95,
        Metric::P99,
        Metric::Max,
        Metric::ErrorRate,
        Metric::CacheHitRate,
        Metric::ServerP95,
        Metric::CpuPercent,
        Metric::RssMax,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Rps => "throughput (req/s)",
            Metric::Avg => "latency avg (ms)",
            Metric::P50 => "latency p50 (ms)",
            Metric::P90 => "latency p90 (ms)",
            Metric::P95 => "latency p95 (ms)",
            Metric::P99 => "latency p99 (ms)",
            Metric::Max => "latency max (ms)",
            Metric::ErrorRate => "error rate (%)",
            Metric::CacheHitRate => "cache hit rate (%)",
            Metric::ServerP95 => "server p95 (ms, Prometheus)",
            Metric::CpuPercent => "CPU, all workers (% of a core)",
            Metric::RssMax => "RSS, largest worker (MiB)",
        }
    }

    pub fn better(self) -> Better {
        match self {
            Metric::Rps | Metric::CacheHitRate => Better::Higher,
            _ => Better::Lower,
        }
    }

    /// The metric's value in a run, if the run has it.
    pub fn value(self, r: &RunReport) -> Option<f64> {
        let s = &r.summary;
        let l = &s.latency_ms;
        match self {
            Metric::Rps => Some(s.rps),
            Metric::Avg => Some(l.avg),
            Metric::P50 => Some(l.p50),
            Metric::P90 => Some(l.p90),
            Metric::P95 => Some(l.p95),
            Metric::P99 => Some(l.p99),
            Metric::Max => Some(l.max),
            Metric::ErrorRate => Some(s.error_rate * 100.0),
            Metric::CacheHitRate => s.cache_hit_rate.map(|h| h * 100.0),
            Metric::ServerP95 => r.server.as_ref().and_then(|s| s.p95_ms),
            Metric::CpuPercent => {
                let cpus: Vec<f64> = r.workers.iter().filter_map(|w| w.cpu_percent).collect();
                (!cpus.is_empty()).then(|| cpus.iter().sum())
            }
            Metric::RssMax => r
                .workers
                .iter()
                .filter_map(|w| w.rss_max_bytes)
                .reduce(f64::max)
                .map(|b| b / (1024.0 * 1024.0)),
        }
    }
}

/// Improvement of `value` over `baseline` in percent, positive when better:
/// for latency `(base − value) / base`, for throughput `(value − base) / base`.
/// `None` when the baseline is zero (no meaningful ratio).
pub fn improvement(metric: Metric, baseline: f64, value: f64) -> Option<f64> {
    if baseline == 0.0 || !baseline.is_finite() || !value.is_finite() {
        return None;
    }
    Some(match metric.better() {
        Better::Higher => (value - baseline) / baseline * 100.0,
        Better::Lower => (baseline - value) / baseline * 100.0,
    })
}

/// Mean of a metric over runs that have it.
pub fn mean_of(metric: Metric, runs: &[&Run]) -> Option<f64> {
    let vals: Vec<f64> = runs
        .iter()
        .filter_map(|r| metric.value(&r.report))
        .collect();
    (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
}

/// Spread of p95 (and throughput) over the runs of one label.
#[derive(Clone, Debug, PartialEq)]
pub struct Repeatability {
    pub label: String,
    pub runs: usize,
    pub p95_mean: f64,
    pub p95_min: f64,
    pub p95_max: f64,
    /// Sample standard deviation (n − 1); 0 for a single run.
    pub p95_stddev: f64,
    /// `(max − min) / mean`, in percent.
    pub p95_spread_pct: f64,
    pub rps_mean: f64,
}

/// Labels in order of first appearance.
pub fn labels(runs: &[Run]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in runs {
        if !out.contains(&r.report.label) {
            out.push(r.report.label.clone());
        }
    }
    out
}

/// Repeatability per label, in order of first appearance.
pub fn repeatability(runs: &[Run]) -> Vec<Repeatability> {
    labels(runs)
        .into_iter()
        .map(|label| {
            let group: Vec<&Run> = runs.iter().filter(|r| r.report.label == label).collect();
            let p95: Vec<f64> = group
                .iter()
                .map(|r| r.report.summary.latency_ms.p95)
                .collect();
            let n = p95.len() as f64;
            let mean = p95.iter().sum::<f64>() / n;
            let min = p95.iter().copied().fold(f64::INFINITY, f64::min);
            let max = p95.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let stddev = if p95.len() > 1 {
                (p95.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            } else {
                0.0
            };
            Repeatability {
                label,
                runs: group.len(),
                p95_mean: mean,
                p95_min: min,
                p95_max: max,
                p95_stddev: stddev,
                p95_spread_pct: if mean > 0.0 {
                    (max - min) / mean * 100.0
                } else {
                    0.0
                },
                rps_mean: group.iter().map(|r| r.report.summary.rps).sum::<f64>() / n,
            }
        })
        .collect()
}

/// Baseline numbers: the mean over every run with the baseline's label, so
/// that repeats make the baseline firmer rather than pick one at random.
pub fn baseline_values(runs: &[Run], label: &str) -> Vec<(Metric, Option<f64>)> {
    let group: Vec<&Run> = runs.iter().filter(|r| r.report.label == label).collect();
    Metric::ALL
        .iter()
        .map(|&m| (m, mean_of(m, &group)))
        .collect()
}
