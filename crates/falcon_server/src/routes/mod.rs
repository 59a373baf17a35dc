//! HTTP handlers, one group per file. Handlers are thin: extract, call
//! [`crate::infer`] or the repository, shape the response.

pub mod docs;
pub mod fallback;
pub mod health;
pub mod metrics;
pub mod oip;
pub mod predict;
pub mod repository;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::error::ServerError;

/// Serialises `value` as the JSON body of a `status` response.
pub(crate) fn json<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
) -> Result<Response, ServerError> {
    // Sized for a typical prediction, so the common answer is written
    // without growing the buffer.
    let mut body = Vec::with_capacity(512);
    serde_json::to_writer(&mut body, value)
        .map_err(|e| ServerError::Internal(format!("serialising response: {e}")))?;
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
