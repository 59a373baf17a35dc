//! OIP model-repository extension: index, load, unload.

use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ServerError;
use crate::extract::{ModelPath, parse_json, read_body};
use crate::routes::json;
use crate::state::AppState;

#[derive(Deserialize, Default)]
struct IndexRequest {
    /// Only models that are ready.
    #[serde(default)]
    ready: bool,
}

/// Every model of the repository with its state (`READY`, `UNAVAILABLE`)
/// and, when not served, the reason.
#[utoipa::path(post, path = "/v2/repository/index", tag = "repository",
    request_body(content = Object, description = "Optional `{\"ready\": true}` to list only ready models"),
    responses((status = 200, description = "`[{name, version, state, reason}]`")))]
pub async fn index(State(state): State<AppState>, req: Request) -> Result<Response, ServerError> {
    let body = read_body(req, 64 << 10).await?;
    let filter: IndexRequest = if body.iter().all(u8::is_ascii_whitespace) {
        IndexRequest::default()
    } else {
        parse_json(&body)?
    };
    let snap = state.repo().snapshot();
    let mut out: Vec<Value> = Vec::new();
    for (name, status) in &snap.status {
        match snap.models.get(name) {
            Some(entry) => {
                for v in entry.versions.keys() {
                    out.push(json!({"name": name, "version": v.to_string(), "state": "READY", "reason": status.reason}));
                }
            }
            None if !filter.ready => {
                out.push(json!({"name": name, "state": status.state, "reason": status.reason}));
            }
            None => {}
        }
    }
    json(StatusCode::OK, &out)
}

/// (Re)loads a model from the repository directory: loaded, validated and
/// warmed off the request path, then swapped in. On failure the previous
/// load keeps serving and the error is returned (400).
#[utoipa::path(post, path = "/v2/repository/models/{name}/load", tag = "repository",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, description = "Loaded"), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn load(State(state): State<AppState>, path: ModelPath) -> Result<Response, ServerError> {
    // A spawned task finishes the load even if the client goes away, so a
    // disconnect never leaves a load half-done.
    let task = tokio::spawn(async move { state.repo().load(&path.name).await });
    task.await
        .map_err(|e| ServerError::Internal(format!("load task failed: {e}")))??;
    json(StatusCode::OK, &json!({}))
}

/// Stops serving a model; requests in flight finish on it.
#[utoipa::path(post, path = "/v2/repository/models/{name}/unload", tag = "repository",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, description = "Unloaded"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn unload(
    State(state): State<AppState>,
    path: ModelPath,
) -> Result<Response, ServerError> {
    state.repo().unload(&path.name).await?;
    json(StatusCode::OK, &json!({}))
}
