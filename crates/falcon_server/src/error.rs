//! The crate's one error type and its JSON envelope.
//!
//! Every failure a client can see — from a malformed body to an overloaded
//! server — is a [`ServerError`], rendered as
//! `{"error": "<message>", "error_type": "<stable type>"}` with a fixed
//! status code. The `error_type` strings are part of the API: clients switch
//! on them, so they never change once published. The `error` field is also
//! what OIP clients (tritonclient) read, so their exceptions carry our
//! message.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// Everything a request can fail with.
///
/// `Clone` because the cache shares one computation's error with every
/// request that waited on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServerError {
    /// The body is not JSON, not UTF-8, too deeply nested, or a query
    /// parameter is malformed.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// Well-formed JSON that does not have the expected fields or types, or
    /// an OIP tensor whose shape or datatype does not match.
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("unknown model {0:?}")]
    ModelNotFound(String),
    #[error("model {name:?} has no version {version:?}")]
    VersionNotFound { name: String, version: String },
    #[error("no route for {0}")]
    RouteNotFound(String),
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("batch of {len} texts exceeds the limit of {limit}")]
    BatchTooLarge { len: usize, limit: usize },
    #[error("unsupported content type {0:?}: send application/json")]
    UnsupportedMediaType(String),
    /// The engine refused this text (a tokenizer step budget ran out).
    #[error("cannot process this text: {0}")]
    Unprocessable(String),
    /// `explain` asked of a model whose score is not a sum of per-feature
    /// contributions (a meta-estimator, a dense transform): refused rather
    /// than answered with a wrong explanation.
    #[error("{0}")]
    ExplainUnsupported(String),
    /// Every inference slot is busy: the request is shed, not queued.
    #[error("server overloaded: retry later")]
    Overloaded { retry_after: Duration },
    /// The models are still loading (startup or a repository load).
    #[error("not ready: {0}")]
    NotReady(String, Duration),
    #[error("request exceeded the deadline of {0:?}")]
    Timeout(Duration),
    /// A repository load was refused; the previous model keeps serving.
    #[error("failed to load model {name:?}: {reason}")]
    LoadFailed { name: String, reason: String },
    /// No, an invalid, or a revoked API key (`--auth required`).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A valid key without the rights this route needs (admin routes).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The key's rate limit is exhausted.
    #[error("rate limit exceeded: retry later")]
    RateLimited { retry_after: Duration },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServerError {
    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::Malformed(_)
            | ServerError::Invalid(_)
            | ServerError::LoadFailed { .. }
            | ServerError::ExplainUnsupported(_) => StatusCode::BAD_REQUEST,
            ServerError::ModelNotFound(_)
            | ServerError::VersionNotFound { .. }
            | ServerError::RouteNotFound(_) => StatusCode::NOT_FOUND,
            ServerError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ServerError::BodyTooLarge { .. } | ServerError::BatchTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ServerError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServerError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServerError::Overloaded { .. } | ServerError::NotReady(..) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ServerError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ServerError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ServerError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServerError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServerError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable type.
    pub fn error_type(&self) -> &'static str {
        match self {
            ServerError::Malformed(_) => "malformed_request",
            ServerError::Invalid(_) => "invalid_request",
            ServerError::ModelNotFound(_) => "model_not_found",
            ServerError::VersionNotFound { .. } => "version_not_found",
            ServerError::RouteNotFound(_) => "route_not_found",
            ServerError::MethodNotAllowed { .. } => "method_not_allowed",
            ServerError::BodyTooLarge { .. } => "body_too_large",
            ServerError::BatchTooLarge { .. } => "batch_too_large",
            ServerError::UnsupportedMediaType(_) => "unsupported_media_type",
            ServerError::Unprocessable(_) => "unprocessable_text",
            ServerError::ExplainUnsupported(_) => "explain_unsupported",
            ServerError::Overloaded { .. } => "overloaded",
            ServerError::NotReady(..) => "not_ready",
            ServerError::Timeout(_) => "timeout",
            ServerError::LoadFailed { .. } => "model_load_failed",
            ServerError::Unauthorized(_) => "unauthorized",
            ServerError::Forbidden(_) => "forbidden",
            ServerError::RateLimited { .. } => "rate_limited",
            ServerError::Internal(_) => "internal",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ServerError::Overloaded { retry_after }
            | ServerError::NotReady(_, retry_after)
            | ServerError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// The JSON error envelope; also documented in the OpenAPI schema.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Human-readable message.
    pub error: String,
    /// Stable machine-readable type, e.g. `model_not_found`.
    pub error_type: String,
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: self.to_string(),
            error_type: self.error_type().to_string(),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(after) = self.retry_after() {
            // Whole seconds, at least 1: the header has no finer unit.
            let secs = after.as_secs_f64().ceil().max(1.0) as u64;
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self, ServerError::Unauthorized(_)) {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // Lets the metrics middleware label errors without parsing bodies.
        resp.extensions_mut().insert(ErrorKind(self.error_type()));
        resp
    }
}

/// Response extension naming the error type of an error response, for
/// logs and the shed counter.
#[derive(Clone, Copy, Debug)]
pub struct ErrorKind(pub &'static str);

impl From<falcon_engine::EngineError> for ServerError {
    fn from(e: falcon_engine::EngineError) -> Self {
        match e {
            falcon_engine::EngineError::Text(_)
            | falcon_engine::EngineError::NonFinite(_)
            | falcon_engine::EngineError::Undetermined(_) => {
                ServerError::Unprocessable(e.to_string())
            }
            falcon_engine::EngineError::ExplainUnsupported(_) => {
                ServerError::ExplainUnsupported(e.to_string())
            }
            // A record with a missing or unknown column (named in the
            // message), or an input of the wrong kind.
            falcon_engine::EngineError::Input(_) => ServerError::Invalid(e.to_string()),
            other => ServerError::Internal(other.to_string()),
        }
    }
}

impl From<crate::ports::Denied> for ServerError {
    fn from(d: crate::ports::Denied) -> Self {
        use crate::ports::Denied;
        match d {
            Denied::Missing => ServerError::Unauthorized(
                "missing API key: send `Authorization: Bearer <key>`".into(),
            ),
            Denied::Invalid => ServerError::Unauthorized("invalid API key".into()),
            Denied::Revoked { key_id } => {
                ServerError::Unauthorized(format!("API key {key_id} has been revoked"))
            }
            Denied::Forbidden => {
                ServerError::Forbidden("this route requires an admin API key".into())
            }
            Denied::RateLimited { retry_after } => ServerError::RateLimited { retry_after },
        }
    }
}

pub type Result<T, E = ServerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A text the engine refuses (a k-NN tie scikit-learn breaks per CPU,
    /// an overflowing score) is the client's 422, not a server fault.
    #[test]
    fn per_text_engine_refusals_are_unprocessable() {
        for e in [
            falcon_engine::EngineError::Undetermined("tied".into()),
            falcon_engine::EngineError::NonFinite("inf".into()),
        ] {
            let s = ServerError::from(e);
            assert!(matches!(s, ServerError::Unprocessable(_)), "{s:?}");
        }
    }
}
