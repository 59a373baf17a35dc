//! Server-side numbers from the Prometheus HTTP API over a run's window.

use std::time::Duration;

use crate::LoadgenError;
use crate::http::{HttpClient, get, target_uri};
use crate::report::{ServerSide, WorkerStats};

/// The seed's query, with the run's window in place of `[5m]` so that it
/// covers exactly the measured load.
pub fn p95_query(window_s: u64) -> String {
    format!(
        "histogram_quantile(0.95, sum(rate(inference_duration_seconds_bucket[{window_s}s])) by (le))"
    )
}

/// One sample of an instant vector: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: serde_json::Map<String, serde_json::Value>,
    pub value: f64,
}

/// Evaluates `query` at `at_unix` (seconds since the epoch).
pub async fn instant(
    client: &HttpClient,
    base: &str,
    query: &str,
    at_unix: f64,
) -> Result<Vec<Sample>, LoadgenError> {
    let err = |message: String| LoadgenError::Prometheus {
        query: query.to_owned(),
        message,
    };
    let qs: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("query", query)
        .append_pair("time", &format!("{at_unix:.3}"))
        .finish();
    let uri = target_uri(base, &format!("/api/v1/query?{qs}"))?;
    let body = get(client, uri, Duration::from_secs(10))
        .await
        .map_err(err)?;
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| err(format!("bad JSON: {e}")))?;
    if v["status"] != "success" {
        return Err(err(format!("status {}: {}", v["status"], v["error"])));
    }
    let result = v["data"]["result"]
        .as_array()
        .ok_or_else(|| err("no data.result array (not an instant vector?)".into()))?;
    Ok(result
        .iter()
        .filter_map(|s| {
            let labels = s["metric"].as_object()?.clone();
            let value: f64 = s["value"][1].as_str()?.parse().ok()?;
            Some(Sample { labels, value })
        })
        .collect())
}

/// The server's p95 over the window ending at `end_unix`.
pub async fn server_side(
    client: &HttpClient,
    base: &str,
    window_s: u64,
    end_unix: f64,
) -> Result<ServerSide, LoadgenError> {
    let query = p95_query(window_s);
    let samples = instant(client, base, &query, end_unix).await?;
    let p95 = samples
        .first()
        .map(|s| s.value)
        .filter(|v| v.is_finite())
        .map(|v| v * 1000.0);
    Ok(ServerSide {
        prometheus_url: base.to_owned(),
        p95_query: query,
        p95_ms: p95,
        window_s,
        at_unix: end_unix,
    })
}

/// Per-instance CPU % and RSS, if the servers export the standard process
/// metrics; empty otherwise.
pub async fn workers(
    client: &HttpClient,
    base: &str,
    window_s: u64,
    end_unix: f64,
) -> Result<Vec<WorkerStats>, LoadgenError> {
    let cpu_q = format!("rate(process_cpu_seconds_total{{job=\"falcon\"}}[{window_s}s]) * 100");
    let rss_q =
        format!("avg_over_time(process_resident_memory_bytes{{job=\"falcon\"}}[{window_s}s])");
    let max_q =
        format!("max_over_time(process_resident_memory_bytes{{job=\"falcon\"}}[{window_s}s])");
    let cpu = instant(client, base, &cpu_q, end_unix).await?;
    let rss = instant(client, base, &rss_q, end_unix).await?;
    let rss_max = instant(client, base, &max_q, end_unix).await?;
    let name = |s: &Sample| {
        s.labels
            .get("instance")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_owned()
    };
    let mut out: Vec<WorkerStats> = cpu
        .iter()
        .map(|s| WorkerStats {
            name: name(s),
            source: "prometheus".into(),
            cpu_percent: Some(s.value),
            rss_avg_bytes: None,
            rss_max_bytes: None,
        })
        .collect();
    for s in &rss {
        let n = name(s);
        match out.iter_mut().find(|w| w.name == n) {
            Some(w) => w.rss_avg_bytes = Some(s.value),
            None => out.push(WorkerStats {
                name: n,
                source: "prometheus".into(),
                cpu_percent: None,
                rss_avg_bytes: Some(s.value),
                rss_max_bytes: None,
            }),
        }
    }
    for s in &rss_max {
        let n = name(s);
        if let Some(w) = out.iter_mut().find(|w| w.name == n) {
            w.rss_max_bytes = Some(s.value);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One series of a range query: its labels and (unix time, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: serde_json::Map<String, serde_json::Value>,
    pub points: Vec<(f64, f64)>,
}

/// Evaluates `query` from `start` to `end` (unix seconds) every `step_s`
/// seconds (`/api/v1/query_range`). Non-numeric values (NaN, ±Inf) are kept
/// as NaN so that a chart shows them as gaps.
pub async fn range(
    client: &HttpClient,
    base: &str,
    query: &str,
    start: f64,
    end: f64,
    step_s: f64,
) -> Result<Vec<RangeSeries>, LoadgenError> {
    let err = |message: String| LoadgenError::Prometheus {
        query: query.to_owned(),
        message,
    };
    let qs: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("query", query)
        .append_pair("start", &format!("{start:.3}"))
        .append_pair("end", &format!("{end:.3}"))
        .append_pair("step", &format!("{step_s:.3}"))
        .finish();
    let uri = target_uri(base, &format!("/api/v1/query_range?{qs}"))?;
    let body = get(client, uri, Duration::from_secs(30))
        .await
        .map_err(err)?;
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| err(format!("bad JSON: {e}")))?;
    if v["status"] != "success" {
        return Err(err(format!("status {}: {}", v["status"], v["error"])));
    }
    let result = v["data"]["result"]
        .as_array()
        .ok_or_else(|| err("no data.result array (not a range vector?)".into()))?;
    Ok(result
        .iter()
        .filter_map(|s| {
            let labels = s["metric"].as_object()?.clone();
            let points = s["values"]
                .as_array()?
                .iter()
                .filter_map(|p| {
                    let t = p[0].as_f64()?;
                    let v: f64 = p[1].as_str()?.parse().unwrap_or(f64::NAN);
                    Some((t, if v.is_finite() { v } else { f64::NAN }))
                })
                .collect();
            Some(RangeSeries { labels, points })
        })
        .collect())
}
