//! Falcon's JSON API: `POST /v1/models/{name}[/versions/{version}]/predict`
//! and `POST /predict` (the default model; drop-in for the seed's FastAPI
//! endpoint).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use falcon_engine::PredictionView;
use http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::ServerError;
use crate::extract::{Arrival, JsonBody, ModelPath, PredictQuery};
use crate::infer;
use crate::ports::RequestContext;
use crate::repository::LoadedModel;
use crate::routes::json;
use crate::state::AppState;

/// `{"text": "..."}` or `{"texts": ["...", ...]}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PredictRequest {
    /// One text to classify.
    pub text: Option<String>,
    /// Several texts (at most `--max-batch`).
    pub texts: Option<Vec<String>>,
}

/// One prediction: `label`, and `probabilities` / `decision` when the model
/// has them, keyed by `str(class)`; `explanation` with `?explain=K`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PredictResponse {
    pub model: String,
    pub version: String,
    #[schema(value_type = Object)]
    pub label: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    pub probabilities: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub decision: Option<serde_json::Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub explanation: Option<serde_json::Value>,
}

/// `{"model", "version", "predictions": [...]}` for `texts`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchPredictResponse {
    pub model: String,
    pub version: String,
    #[schema(value_type = Vec<Object>)]
    pub predictions: Vec<serde_json::Value>,
}

#[derive(Serialize)]
struct Single<'a> {
    model: &'a str,
    version: &'a str,
    #[serde(flatten)]
    view: PredictionView<'a>,
}

#[derive(Serialize)]
struct Batch<'a> {
    model: &'a str,
    version: &'a str,
    predictions: Vec<PredictionView<'a>>,
}

/// Predict with a model (its default version).
#[utoipa::path(post, path = "/v1/models/{name}/predict", tag = "predict",
    params(("name" = String, Path, description = "Model name"),
           ("explain" = Option<usize>, Query, description = "Add the K n-grams that contributed most")),
    request_body = PredictRequest,
    responses((status = 200, description = "Prediction (`text`) or predictions (`texts`)", body = PredictResponse),
              (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 413, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn model(
    State(state): State<AppState>,
    path: ModelPath,
    query: PredictQuery,
    arrival: Arrival,
    ctx: RequestContext,
    JsonBody(body): JsonBody<PredictRequest>,
) -> Result<Response, ServerError> {
    let m = state.resolve(&path.name, path.version.as_deref())?;
    run(&state, &m, query, arrival, &ctx, body).await
}

/// Predict with a given version of a model.
#[utoipa::path(post, path = "/v1/models/{name}/versions/{version}/predict", tag = "predict",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Model version"),
           ("explain" = Option<usize>, Query, description = "Add the K n-grams that contributed most")),
    request_body = PredictRequest,
    responses((status = 200, body = PredictResponse), (status = 404, body = crate::error::ErrorBody)))]
pub async fn model_version(
    state: State<AppState>,
    path: ModelPath,
    query: PredictQuery,
    arrival: Arrival,
    ctx: RequestContext,
    body: JsonBody<PredictRequest>,
) -> Result<Response, ServerError> {
    model(state, path, query, arrival, ctx, body).await
}

/// Predict with the default model (`--default-model`, or the only one).
#[utoipa::path(post, path = "/predict", tag = "predict",
    params(("explain" = Option<usize>, Query, description = "Add the K n-grams that contributed most")),
    request_body = PredictRequest,
    responses((status = 200, body = PredictResponse), (status = 400, body = crate::error::ErrorBody)))]
pub async fn default(
    State(state): State<AppState>,
    query: PredictQuery,
    arrival: Arrival,
    ctx: RequestContext,
    JsonBody(body): JsonBody<PredictRequest>,
) -> Result<Response, ServerError> {
    let m = state.resolve_default()?;
    run(&state, &m, query, arrival, &ctx, body).await
}

async fn run(
    state: &AppState,
    m: &Arc<LoadedModel>,
    query: PredictQuery,
    Arrival(arrival): Arrival,
    ctx: &RequestContext,
    body: PredictRequest,
) -> Result<Response, ServerError> {
    let (texts, batch) = match (body.text, body.texts) {
        (Some(t), None) => (vec![t], false),
        (None, Some(ts)) => (ts, true),
        _ => {
            return Err(ServerError::Invalid(
                "expected exactly one of \"text\" (a string) or \"texts\" (an array of strings)"
                    .into(),
            ));
        }
    };
    let settings_max = state
        .repo()
        .snapshot()
        .models
        .get(&*m.name)
        .and_then(|e| e.settings.max_batch);
    infer::check_batch(state, m, texts.len(), settings_max)?;
    let (name, version) = (&*m.name, &*m.version_str);
    if let Some(k) = query.explain {
        let (results, queue, inference) = infer::explain(state, m, texts, k, arrival, ctx).await?;
        let views: Vec<_> = results
            .iter()
            .map(|(p, c)| m.model.view(p).with_explanation(c))
            .collect();
        let mut resp = if batch {
            json(
                StatusCode::OK,
                &Batch {
                    model: name,
                    version,
                    predictions: views,
                },
            )?
        } else {
            let view = views.into_iter().next().expect("one text");
            json(
                StatusCode::OK,
                &Single {
                    model: name,
                    version,
                    view,
                },
            )?
        };
        let h = resp.headers_mut();
        h.insert("x-cache", HeaderValue::from_static("miss"));
        h.insert("server-timing", infer::server_timing(queue, inference));
        return Ok(resp);
    }
    let out = infer::predict(state, m, texts, arrival, ctx).await?;
    let mut resp = if batch {
        let predictions = out.predictions.iter().map(|p| m.model.view(p)).collect();
        json(
            StatusCode::OK,
            &Batch {
                model: name,
                version,
                predictions,
            },
        )?
    } else {
        let view = m.model.view(&out.predictions[0]);
        json(
            StatusCode::OK,
            &Single {
                model: name,
                version,
                view,
            },
        )?
    };
    let h = resp.headers_mut();
    infer::cache_headers(state, &out, h);
    h.insert(
        "server-timing",
        infer::server_timing(out.queue, out.inference),
    );
    Ok(resp)
}
