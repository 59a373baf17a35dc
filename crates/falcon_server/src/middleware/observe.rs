//! Per-request observability: `x-request-id` (echoed when the client sent a
//! sane one, generated otherwise), the in-flight gauge, `http_requests_total`
//! and `http_request_duration_seconds` labelled with the route *template*,
//! and one log line per request (debug; warn/error for failures).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

use crate::error::ErrorKind;
use crate::extract::Arrival;
use crate::middleware::deadline;
use crate::state::AppState;

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A process-unique id: a per-process random prefix and a counter. Cheap
/// (no syscall, no RNG per request) and unique across restarts in practice.
fn new_request_id() -> HeaderValue {
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let prefix = *PREFIX.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        nanos ^ std::process::id().rotate_left(16)
    });
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    // `{prefix:08x}-{n:012x}`, formatted by hand: this runs per request.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 21];
    for (i, b) in buf[..8].iter_mut().enumerate() {
        *b = HEX[((prefix >> (28 - 4 * i)) & 0xf) as usize];
    }
    buf[8] = b'-';
    for (i, b) in buf[9..].iter_mut().enumerate() {
        *b = HEX[((n >> (44 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&buf).expect("ASCII")
}

/// Accepts a client id only if short and printable, so logs and headers
/// cannot be polluted.
fn sane(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
}

/// Decrements the in-flight gauge even when the request future is dropped
/// (client gone, deadline).
struct InFlight<'a>(&'a prometheus::IntGauge);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let arrival = Instant::now();
    req.extensions_mut().insert(Arrival(arrival));
    let request_id = match req.headers().get("x-request-id") {
        Some(v) if sane(v) => v.clone(),
        _ => new_request_id(),
    };
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", |m| m.as_str());
    let timeout =
        (!route.starts_with(deadline::EXEMPT_PREFIX)).then_some(state.config().request_timeout);
    let method = req.method().clone();
    let metrics = state.metrics();
    metrics.in_flight.inc();
    let guard = InFlight(&metrics.in_flight);
    let mut resp = deadline::within(timeout, next.run(req)).await;
    drop(guard);
    let elapsed = arrival.elapsed();
    let status = resp.status();
    metrics
        .http_requests
        .with_label_values(&[route, method.as_str(), status.as_str()])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[route])
        .observe(elapsed.as_secs_f64());
    let error_type = resp.extensions().get::<ErrorKind>().map(|k| k.0);
    let rid = request_id.to_str().unwrap_or("");
    let ms = elapsed.as_secs_f64() * 1e3;
    if status.is_server_error() && status != http::StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(request_id = rid, %method, route, status = status.as_u16(), ms, error_type, "request failed");
    } else {
        // 4xx and 503 (shed, not ready) are expected under abuse or
        // overload: logging each at warn would turn an overload into a log
        // storm. They are counted in `http_requests_total` and
        // `http_requests_shed_total`.
        tracing::debug!(request_id = rid, %method, route, status = status.as_u16(), ms, error_type, "request");
    }
    resp.headers_mut().insert("x-request-id", request_id);
    resp
}
