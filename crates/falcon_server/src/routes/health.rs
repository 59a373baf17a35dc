//! Kubernetes-style probes. `/healthz` is liveness (the process answers);
//! `/readyz` is readiness (every model loaded and warmed).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ServerError;
use crate::state::AppState;

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// Readiness: 503 with `Retry-After` until every model is loaded and warmed.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Ready; lists served models"), (status = 503, body = crate::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Response, ServerError> {
    if !state.repo().is_ready() {
        return Err(ServerError::NotReady(
            "models are loading".into(),
            state.config().retry_after,
        ));
    }
    let snap = state.repo().snapshot();
    let models: Vec<_> = snap
        .models
        .values()
        .map(|e| {
            json!({"name": &*e.name, "default_version": e.default_version.to_string(),
                        "versions": e.versions.keys().map(u64::to_string).collect::<Vec<_>>()})
        })
        .collect();
    Ok(axum::Json(json!({"status": "ready", "models": models})).into_response())
}
