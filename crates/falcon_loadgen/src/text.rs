//! The k6-like end-of-run summary.

use std::fmt::Write;

use crate::report::RunReport;

fn line(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let dots = ".".repeat(28usize.saturating_sub(name.len()));
    let _ = writeln!(out, "  {name}{dots}: {value}");
}

/// A latency in the unit a person reads best.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else if ms >= 1.0 {
        format!("{ms:.2}ms")
    } else {
        format!("{:.0}µs", ms * 1000.0)
    }
}

fn mib(b: f64) -> String {
    format!("{:.1} MiB", b / (1024.0 * 1024.0))
}

/// Renders the summary of a run, in the spirit of k6's.
pub fn summary_text(r: &RunReport) -> String {
    let c = &r.config;
    let s = &r.summary;
    let mut out = String::new();
    let shape = match c.mode.as_str() {
        "closed" => format!(
            "closed loop, {} VUs, think {}",
            c.vus.unwrap_or(0),
            fmt_ms(c.think_ms.unwrap_or(0.0))
        ),
        _ => format!(
            "open loop, {:.0} req/s (max {} in flight)",
            c.rate.unwrap_or(0.0),
            c.max_in_flight.unwrap_or(0)
        ),
    };
    let _ = writeln!(
        out,
        "\n  scenario: {shape}, {:.0}s (+{:.0}s warm-up) → {}\n  label:    {}\n",
        c.duration_s, c.warmup_s, c.target, r.label
    );
    line(
        &mut out,
        "http_reqs",
        format!("{:<10} {:.1}/s", s.requests, s.rps),
    );
    line(
        &mut out,
        "http_req_failed",
        format!(
            "{:.2}%  {} of {}",
            s.error_rate * 100.0,
            s.failed,
            s.requests
        ),
    );
    let l = &s.latency_ms;
    line(
        &mut out,
        "http_req_duration",
        format!(
            "avg={} min={} med={} p(90)={} p(95)={} p(99)={} max={}",
            fmt_ms(l.avg),
            fmt_ms(l.min),
            fmt_ms(l.p50),
            fmt_ms(l.p90),
            fmt_ms(l.p95),
            fmt_ms(l.p99),
            fmt_ms(l.max)
        ),
    );
    let status: Vec<String> = s.status.iter().map(|(k, v)| format!("{k}={v}")).collect();
    line(&mut out, "status", status.join(" "));
    match s.cache_hit_rate {
        Some(rate) => line(
            &mut out,
            "cache_hit_rate",
            format!(
                "{:.2}%  {} hits, {} misses",
                rate * 100.0,
                s.cache_hits,
                s.cache_misses
            ),
        ),
        None => line(&mut out, "cache_hit_rate", "n/a (no x-cache header)"),
    }
    line(&mut out, "warmup_reqs (excluded)", s.warmup_requests);
    if let Some(server) = &r.server {
        line(
            &mut out,
            "server p95 (Prometheus)",
            server
                .p95_ms
                .map(fmt_ms)
                .unwrap_or_else(|| "no data".into()),
        );
    }
    for w in &r.workers {
        line(
            &mut out,
            &format!("worker {}", w.name),
            format!(
                "cpu {}  rss avg {} max {}",
                w.cpu_percent
                    .map(|c| format!("{c:.1}%"))
                    .unwrap_or_else(|| "?".into()),
                w.rss_avg_bytes.map(mib).unwrap_or_else(|| "?".into()),
                w.rss_max_bytes.map(mib).unwrap_or_else(|| "?".into()),
            ),
        );
    }
    out
}
