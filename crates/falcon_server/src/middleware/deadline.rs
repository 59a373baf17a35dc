//! `--request-timeout`: the whole request — reading a trickled body
//! included — must finish by the deadline, else 504. Dropping the handler
//! future cancels it at its next await point (inference of one short text
//! is never preempted, but batches yield between texts).
//!
//! Applied by the observe middleware (one layer instead of two on the hot
//! path) to every route except the repository API: a model load takes as
//! long as it takes and is never cancelled half-way.

use std::future::Future;
use std::time::Duration;

use axum::response::{IntoResponse, Response};

use crate::error::ServerError;

/// Routes under this prefix have no deadline.
pub const EXEMPT_PREFIX: &str = "/v2/repository/";

pub async fn within(timeout: Option<Duration>, fut: impl Future<Output = Response>) -> Response {
    let Some(timeout) = timeout else {
        return fut.await;
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(resp) => resp,
        Err(_) => ServerError::Timeout(timeout).into_response(),
    }
}
