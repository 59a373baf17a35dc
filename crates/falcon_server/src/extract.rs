//! Request extractors that fail with [`ServerError`] (so with the JSON
//! envelope), never with axum's plain-text rejections.

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::{FromRequestParts, Path, Request};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ServerError;
use crate::state::AppState;

/// When the request arrived (set by the observe middleware), for the queue
/// time of `Server-Timing` and the statistics extension.
#[derive(Clone, Copy, Debug)]
pub struct Arrival(pub Instant);

impl<S: Send + Sync> FromRequestParts<S> for Arrival {
    type Rejection = ServerError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ServerError> {
        Ok(Arrival(
            parts
                .extensions
                .get::<RequestStart>()
                .map_or_else(Instant::now, |s| s.arrival),
        ))
    }
}

/// What the observe middleware hands the handlers, as one request
/// extension: every `Extensions::insert` boxes its value, and the first
/// allocates the map, so two facts go in one insert.
#[derive(Clone, Debug)]
pub struct RequestStart {
    /// When the request arrived ([`Arrival`]).
    pub arrival: Instant,
    /// The prediction log's request id (see
    /// [`crate::ports::RequestContext`]), when a sink is configured.
    pub log_id: Option<std::sync::Arc<str>>,
}

/// What the prediction log needs of a request; empty (and free) when no
/// sink is configured.
impl FromRequestParts<AppState> for crate::ports::RequestContext {
    type Rejection = ServerError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServerError> {
        if !state.wants_context() {
            return Ok(Self::default());
        }
        Ok(Self {
            request_id: parts
                .extensions
                .get::<RequestStart>()
                .and_then(|s| s.log_id.clone()),
            caller: parts.extensions.get::<crate::ports::Caller>().cloned(),
        })
    }
}

/// Checks the content type and reads at most `limit` bytes of body.
pub async fn read_body(req: Request, limit: usize) -> Result<Bytes, ServerError> {
    if let Some(ct) = req.headers().get(CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let json = mime == "application/json"
            || (mime.starts_with("application/") && mime.ends_with("+json"))
            // tritonclient's binary extension and some OIP clients send this.
            || mime == "application/octet-stream";
        if !json {
            return Err(ServerError::UnsupportedMediaType(ct.to_string()));
        }
    }
    if let Some(len) = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ServerError::BodyTooLarge { limit });
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|e| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(err) = source {
                if err.is::<http_body_util::LengthLimitError>() {
                    return ServerError::BodyTooLarge { limit };
                }
                source = err.source();
            }
            ServerError::Malformed(format!("cannot read the request body: {e}"))
        })
}

/// Syntax, encoding and depth errors are malformed (400); well-formed JSON
/// of the wrong shape is invalid (400 too, distinct type).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ServerError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ServerError::Invalid(e.to_string()),
        _ => ServerError::Malformed(format!("invalid JSON: {e}")),
    })
}

/// `{name}` and optional `{version}` path segments.
pub struct ModelPath {
    pub name: String,
    pub version: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ModelPath {
    type Rejection = ServerError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ServerError> {
        let Path(mut map) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ServerError::Malformed(format!("invalid path: {e}")))?;
        let name = map
            .remove("name")
            .ok_or_else(|| ServerError::Internal("route has no {name}".into()))?;
        Ok(ModelPath {
            name,
            version: map.remove("version"),
        })
    }
}

/// The query string of predict routes: `explain=K`.
pub struct PredictQuery {
    pub explain: Option<usize>,
}

impl<S: Send + Sync> FromRequestParts<S> for PredictQuery {
    type Rejection = ServerError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ServerError> {
        let mut explain = None;
        for pair in parts.uri.query().unwrap_or("").split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if k == "explain" {
                explain = Some(v.parse::<usize>().map_err(|_| {
                    ServerError::Malformed(format!(
                        "explain must be a non-negative integer, got {v:?}"
                    ))
                })?);
            }
        }
        Ok(PredictQuery { explain })
    }
}
