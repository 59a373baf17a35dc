//! Prometheus metrics, with the exact names the dashboards and the seed's
//! queries use.
//!
//! Each server owns its own [`prometheus::Registry`] (not the global one),
//! so several servers in one test process never mix their numbers.

#[cfg(target_os = "linux")]
mod process;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// 10 µs … 10 s in 1-2.5-5 steps: sub-millisecond inference resolves, and
/// a stuck request still lands in a finite bucket.
pub const LATENCY_BUCKETS: &[f64] = &[
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

pub struct Metrics {
    pub registry: Registry,
    /// `inference_duration_seconds{model,version}`: engine time of one text
    /// actually computed (cache hits do no inference and are not observed).
    pub inference_duration: HistogramVec,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub cache_hits: IntCounterVec,
    pub cache_misses: IntCounterVec,
    pub in_flight: IntGauge,
    pub shed: IntCounter,
    pub model_loads: IntCounterVec,
    pub model_info: IntGaugeVec,
    pub cache_entries: IntGauge,
    pub cache_bytes: IntGauge,
    pub batch_size: Histogram,
    /// `inference_cache_tier_hits_total{model,tier}`: hits per tier
    /// (`memory`, or the shared tier's name such as `redis`).
    pub cache_tier_hits: IntCounterVec,
    /// `http_auth_failures_total{reason}`: 401/403 answers.
    pub auth_failures: IntCounterVec,
    /// `http_requests_rate_limited_total`: 429 answers.
    pub rate_limited: IntCounter,
    /// Label value of the shared tier in `cache_tier_hits`; `None` when the
    /// server has no shared tier (no series is exported for it).
    pub shared_tier_name: Option<&'static str>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::with_shared_tier(None)
    }

    /// Metrics whose shared cache tier (if any) is labelled
    /// `shared_tier_name`.
    pub fn with_shared_tier(shared_tier_name: Option<&'static str>) -> Self {
        let registry = Registry::new();
        let hist = |name: &str, help: &str, labels: &[&str]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                labels,
            )
            .expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("unique metric");
            h
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let inference_duration = hist(
            "inference_duration_seconds",
            "Engine time to predict one text (cache misses only).",
            &["model", "version"],
        );
        let http_requests = counter(
            "http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            &["route", "method", "status"],
        );
        let http_duration = hist(
            "http_request_duration_seconds",
            "Time from request arrival to response headers, by route template.",
            &["route"],
        );
        let cache_hits = counter(
            "inference_cache_hits_total",
            "Texts answered from the prediction cache.",
            &["model"],
        );
        let cache_misses = counter(
            "inference_cache_misses_total",
            "Texts computed by the engine (cache miss or cache bypassed).",
            &["model"],
        );
        let in_flight = gauge("http_requests_in_flight", "Requests being processed.");
        let shed = IntCounter::new(
            "http_requests_shed_total",
            "Requests refused with 503 because every inference slot was busy.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(shed.clone()))
            .expect("unique metric");
        let model_loads = counter(
            "model_loads_total",
            "Model loads (startup, SIGHUP, repository API), by result.",
            &["result"],
        );
        let model_info = IntGaugeVec::new(
            Opts::new("model_info", "1 for each served model version."),
            &["model", "version"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(model_info.clone()))
            .expect("unique metric");
        let cache_entries = gauge(
            "inference_cache_entries",
            "Entries in the prediction cache.",
        );
        let cache_bytes = gauge(
            "inference_cache_bytes",
            "Weighted size of the prediction cache in bytes.",
        );
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("inference_batch_size", "Texts per inference request.").buckets(
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0],
            ),
        )
        .expect("valid metric");
        registry
            .register(Box::new(batch_size.clone()))
            .expect("unique metric");
        let cache_tier_hits = counter(
            "inference_cache_tier_hits_total",
            "Texts answered from the prediction cache, by tier (memory, or the shared tier).",
            &["model", "tier"],
        );
        let auth_failures = counter(
            "http_auth_failures_total",
            "Requests refused by authentication (401) or authorization (403), by reason.",
            &["reason"],
        );
        let rate_limited = IntCounter::new(
            "http_requests_rate_limited_total",
            "Requests refused with 429 because their API key's rate limit was exhausted.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(rate_limited.clone()))
            .expect("unique metric");
        for reason in ["missing", "invalid", "revoked", "forbidden"] {
            auth_failures.with_label_values(&[reason]);
        }
        // `process_cpu_seconds_total`, `process_resident_memory_bytes`, open
        // fds, start time: the dashboards' CPU and memory per worker, read
        // from /proc at scrape time (nothing to sample in between).
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(process::ProcessCollector::new()))
            .expect("unique metric");
        // Both results exist from the start so rate() and alerts see zeros.
        model_loads.with_label_values(&["success"]);
        model_loads.with_label_values(&["failure"]);
        Metrics {
            registry,
            inference_duration,
            http_requests,
            http_duration,
            cache_hits,
            cache_misses,
            in_flight,
            shed,
            model_loads,
            model_info,
            cache_entries,
            cache_bytes,
            batch_size,
            cache_tier_hits,
            auth_failures,
            rate_limited,
            shared_tier_name,
        }
    }

    /// The hit counter of `model` in the shared tier: registered when the
    /// server has one, detached (counted nowhere) otherwise.
    pub fn shared_hits(&self, model: &str) -> IntCounter {
        match self.shared_tier_name {
            Some(tier) => self.cache_tier_hits.with_label_values(&[model, tier]),
            None => IntCounter::new("shared_tier_hits_unexported", "unused").expect("valid metric"),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::with_capacity(16 << 10);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
