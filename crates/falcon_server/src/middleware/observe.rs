//! Per-request observability: `x-request-id` (echoed when the client sent a
//! sane one, generated otherwise), the in-flight gauge, `http_requests_total`
//! and `http_request_duration_seconds` labelled with the route *template*,
//! and one log line per request (debug; warn/error for failures).
//!
//! With a [`crate::ports::Gatekeeper`] (`--auth required`) it also
//! authenticates and rate-limits every route but the open ones, before the
//! body is read; with a [`crate::ports::PredictionSink`] it gives handlers a
//! server-unique request id for the prediction log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

use crate::error::{ErrorKind, ServerError};
use crate::extract::RequestStart;
use crate::middleware::deadline;
use crate::ports::{Denied, is_admin_route, is_open_route};
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

/// The id the prediction log records: `generated` alone, or
/// `<generated>/<client's>` when the client sent one (it may repeat).
fn log_request_id(generated: &HeaderValue, client: Option<&HeaderValue>) -> std::sync::Arc<str> {
    let g = generated.to_str().unwrap_or("");
    match client.and_then(|c| c.to_str().ok()) {
        Some(c) => format!("{g}/{c}").into(),
        None => g.into(),
    }
}

pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let arrival = Instant::now();
    let client_id = req
        .headers()
        .get(crate::infer::X_REQUEST_ID)
        .filter(|v| sane(v))
        .cloned();
    let (request_id, log_id) = if state.wants_context() {
        // The log needs an id unique to this server even when the client
        // reuses its own.
        let generated = new_request_id();
        let id = log_request_id(&generated, client_id.as_ref());
        (client_id.unwrap_or(generated), Some(id))
    } else {
        (client_id.unwrap_or_else(new_request_id), None)
    };
    req.extensions_mut()
        .insert(RequestStart { arrival, log_id });
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", |m| m.as_str());
    let timeout =
        (!route.starts_with(deadline::EXEMPT_PREFIX)).then_some(state.config().request_timeout);
    let method = req.method().clone();
    let metrics = state.metrics();
    metrics.in_flight.inc();
    let guard = InFlight(&metrics.in_flight);
    let gate = state.gatekeeper().filter(|_| !is_open_route(route));
    let handle = async {
        if let Some(gate) = gate {
            // A non-UTF-8 header is a present but invalid key.
            let authz = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap_or(""));
            match gate.admit(authz, is_admin_route(route)).await {
                Ok(caller) => {
                    req.extensions_mut().insert(caller);
                }
                Err(denied) => {
                    match denied.reason() {
                        Some(reason) => metrics.auth_failures.with_label_values(&[reason]).inc(),
                        None => metrics.rate_limited.inc(),
                    }
                    if let Denied::Revoked { key_id } = &denied {
                        tracing::debug!(key_id, route, "revoked API key refused");
                    }
                    return axum::response::IntoResponse::into_response(ServerError::from(denied));
                }
            }
        }
        next.run(req).await
    };
    let mut resp = deadline::within(timeout, handle).await;
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
    resp.headers_mut()
        .insert(crate::infer::X_REQUEST_ID, request_id);
    resp
}
