//! JSON answers for unknown routes (404) and wrong methods (405), so every
//! error a client sees has the same envelope.

use axum::extract::Request;

use crate::error::ServerError;

pub async fn not_found(req: Request) -> ServerError {
    ServerError::RouteNotFound(req.uri().path().to_string())
}

pub async fn method_not_allowed(req: Request) -> ServerError {
    ServerError::MethodNotAllowed {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
    }
}
