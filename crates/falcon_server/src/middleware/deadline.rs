//! `--request-timeout`: the whole request — reading a trickled body
//! included — must finish by the deadline, else 504. Dropping the handler
//! future cancels it at its next await point (inference of one short text
//! is never preempted, but batches yield between texts).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ServerError;

pub async fn deadline(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ServerError::Timeout(timeout).into_response(),
    }
}
