//! The record of one run: what `--json FILE` writes and `falcon report`
//! reads. Versioned by [`SCHEMA`] so that old run files stay readable or
//! fail loudly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Schema tag of a run file.
pub const SCHEMA: &str = "falcon-bench/1";

/// One run: configuration, client-side results, time series and, when
/// available, the server's own view.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    pub schema: String,
    /// Runs with the same label are repeats of one configuration.
    pub label: String,
    /// Wall-clock start of the measured window (seconds since the epoch).
    pub started_unix: f64,
    pub config: RunConfigRecord,
    pub summary: Summary,
    /// One point per second of the measured window.
    pub timeseries: Vec<SecondPoint>,
    /// Server-side numbers from Prometheus (`--prometheus`).
    #[serde(default)]
    pub server: Option<ServerSide>,
    /// CPU and memory of each server worker over the measured window.
    #[serde(default)]
    pub workers: Vec<WorkerStats>,
    /// Per-second CPU and memory of each worker (from /proc).
    #[serde(default)]
    pub worker_timeseries: Vec<WorkerPoint>,
    /// Free-form notes (`--note key=value`), e.g. the server's settings.
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
}

/// The load that was applied, as plain data.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunConfigRecord {
    /// Full target URL.
    pub target: String,
    /// `closed` (virtual users with think time) or `open` (arrival rate).
    pub mode: String,
    pub vus: Option<usize>,
    pub think_ms: Option<f64>,
    pub rate: Option<f64>,
    pub max_in_flight: Option<usize>,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub timeout_s: f64,
    pub repeat: f64,
    pub repeat_dist: String,
    pub unique: bool,
    /// Texts carried a suffix unique to the run (see `LoadConfig::run_nonce`).
    #[serde(default)]
    pub run_nonce: bool,
    pub data_file: Option<String>,
    pub corpus_texts: usize,
    pub seed: u64,
}

/// Client-side results over the measured window (warm-up excluded).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Requests whose intended start fell in the measured window.
    pub requests: u64,
    /// Answered with a 2xx status.
    pub ok: u64,
    /// Non-2xx answers plus transport failures and timeouts.
    pub failed: u64,
    pub error_rate: f64,
    pub duration_s: f64,
    /// `requests / duration_s`.
    pub rps: f64,
    pub latency_ms: Latency,
    /// Count per HTTP status (`"200"`) or failure kind (`"timeout"`,
    /// `"connect"`, `"io"`).
    pub status: BTreeMap<String, u64>,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// `hits / (hits + misses)`; `None` when the server sent no `x-cache`.
    pub cache_hit_rate: Option<f64>,
    /// Requests sent during warm-up (not in any number above).
    pub warmup_requests: u64,
}

/// Latency to each request's last response byte: from its *intended* start
/// (open loop) or its send (closed loop).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub avg: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// One second of the measured window, by completion time.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SecondPoint {
    /// Seconds since the start of the measured window.
    pub t: u64,
    pub requests: u64,
    pub failed: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

/// What Prometheus says about the run window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ServerSide {
    pub prometheus_url: String,
    /// The exact PromQL evaluated (the seed's query with the window of the run).
    pub p95_query: String,
    /// Server-side p95 of `inference_duration_seconds`; `None` if no data.
    pub p95_ms: Option<f64>,
    pub window_s: u64,
    /// Evaluation time (seconds since the epoch).
    pub at_unix: f64,
}

/// CPU and memory of one server process over the measured window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WorkerStats {
    /// `pid:1234`, a name given with `--pid name=1234`, or a Prometheus
    /// `instance` label.
    pub name: String,
    /// `proc` or `prometheus`.
    pub source: String,
    /// 100 % = one core busy for the whole window.
    pub cpu_percent: Option<f64>,
    pub rss_avg_bytes: Option<f64>,
    pub rss_max_bytes: Option<f64>,
}

/// One per-second sample of one worker.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WorkerPoint {
    pub t: u64,
    pub name: String,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
}
