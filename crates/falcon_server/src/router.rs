//! The route table. One layer: observe (request id, metrics, logs, and the
//! request deadline — not on the repository routes). The model-repository
//! API is routed only with `ServerConfig::repository_routes` (else its paths
//! fall through to the JSON 404 of any unknown route).

use axum::Router;
use axum::routing::{get, post};

use crate::middleware::observe;
use crate::routes::{docs, fallback, health, metrics, oip, predict, repository};
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/v1/models/{name}/predict", post(predict::model))
        .route(
            "/v1/models/{name}/versions/{version}/predict",
            post(predict::model_version),
        )
        .route("/predict", post(predict::default))
        .route("/v2/health/live", get(oip::live))
        .route("/v2/health/ready", get(oip::ready))
        .route("/v2", get(oip::server_metadata))
        .route("/v2/models/stats", get(oip::all_stats))
        .route("/v2/models/{name}", get(oip::model_metadata))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(oip::model_version_metadata),
        )
        .route("/v2/models/{name}/ready", get(oip::model_ready))
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(oip::model_version_ready),
        )
        .route("/v2/models/{name}/infer", post(oip::infer))
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(oip::infer_version),
        )
        .route("/v2/models/{name}/stats", get(oip::stats))
        .route(
            "/v2/models/{name}/versions/{version}/stats",
            get(oip::version_stats),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(docs::openapi_json))
        .route("/docs", get(docs::docs_page));
    let routes = if state.config().repository_routes {
        routes
            .route("/v2/repository/index", post(repository::index))
            .route("/v2/repository/models/{name}/load", post(repository::load))
            .route(
                "/v2/repository/models/{name}/unload",
                post(repository::unload),
            )
    } else {
        routes
    };
    routes
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}
