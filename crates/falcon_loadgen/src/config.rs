//! What a run does.

use std::time::Duration;

use crate::corpus::RepeatDist;

/// How requests are issued.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// `vus` virtual users, each sending a request, waiting for the answer,
    /// then thinking `think` before the next — the seed's shape (50 VUs,
    /// 0.25 s). Throughput follows the server's latency.
    Closed { vus: usize, think: Duration },
    /// Requests start at a constant `rate` per second whatever the server
    /// does (wrk2's model). At most `max_in_flight` are outstanding; beyond
    /// that, starts wait — but their latency still counts from the moment
    /// they were due, so a stall shows in the percentiles instead of being
    /// hidden (no coordinated omission).
    Open { rate: f64, max_in_flight: usize },
}

/// A worker process to sample from `/proc` during the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerPid {
    pub name: String,
    pub pid: i32,
}

impl std::str::FromStr for WorkerPid {
    type Err = String;
    /// `1234` or `name=1234`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, pid) = match s.split_once('=') {
            Some((n, p)) => (Some(n.to_owned()), p),
            None => (None, s),
        };
        let pid: i32 = pid
            .trim()
            .parse()
            .map_err(|_| format!("invalid PID {s:?} (expected 1234 or name=1234)"))?;
        Ok(Self {
            name: name.unwrap_or_else(|| format!("pid:{pid}")),
            pid,
        })
    }
}

/// A whole run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Base URL of the server, `http://host:port` (plain HTTP only: the
    /// targets are local servers and proxies).
    pub url: String,
    /// Path appended to `url`, e.g. `/predict` or `/v1/models/spam/predict`.
    pub path: String,
    pub mode: Mode,
    /// Measured window (after warm-up).
    pub duration: Duration,
    /// Load applied before the measured window and left out of every number
    /// (JIT-free native code still has cold caches and connection setup).
    pub warmup: Duration,
    /// Per-request deadline; a request past it counts as a `timeout` failure.
    pub timeout: Duration,
    /// Fraction of requests that repeat an earlier text.
    pub repeat: f64,
    pub repeat_dist: RepeatDist,
    /// Make every text unique (measures uncached inference).
    pub unique: bool,
    pub seed: u64,
    /// Tag every text with a suffix unique to this run so that a server
    /// still warm from an earlier run shows the intended hit rate (`None`:
    /// send texts verbatim).
    pub run_nonce: Option<u64>,
    /// Runs with the same label are repeats of one configuration.
    pub label: String,
    /// Where the texts came from (recorded in the report).
    pub data_file: Option<String>,
    /// Server processes whose CPU and RSS to sample from /proc.
    pub pids: Vec<WorkerPid>,
    /// Prometheus base URL for server-side numbers.
    pub prometheus: Option<String>,
    /// Show a live progress bar on stderr (hidden anyway when not a TTY).
    pub progress: bool,
}

impl LoadConfig {
    /// A config with the seed's shape against `url`: 50 VUs, 0.25 s think
    /// time, 65 % repeats, `/predict`.
    pub fn seed_shape(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            path: "/predict".into(),
            mode: Mode::Closed {
                vus: 50,
                think: Duration::from_millis(250),
            },
            duration: Duration::from_secs(60),
            warmup: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            repeat: 0.65,
            repeat_dist: RepeatDist::Uniform,
            unique: false,
            seed: 1,
            run_nonce: None,
            label: "run".into(),
            data_file: None,
            pids: Vec::new(),
            prometheus: None,
            progress: false,
        }
    }
}
