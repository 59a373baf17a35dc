//! Falcon's JSON API: `POST /v1/models/{name}[/versions/{version}]/predict`
//! and `POST /predict` (the default model; drop-in for the seed's FastAPI
//! endpoint).
//!
//! Inputs: `{"text"}`/`{"texts"}`, or for a model whose first step is a
//! `ColumnTransformer`, `{"record": {"title": …, "body": …}}`/`{"records":
//! [...]}`. Answers are `falcon predict`'s objects
//! ([`falcon_engine::OutputView`]): a single label; a list of positive
//! classes (multi-label); one label and one probability object per output
//! (multi-output).

use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::response::Response;
use falcon_engine::{Model, Output, OutputView, PredictionView};
use http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ServerError;
use crate::extract::{Arrival, ModelPath, PredictQuery, parse_json, read_body};
use crate::infer;
use crate::input::{self, Item, Record};
use crate::ports::RequestContext;
use crate::repository::LoadedModel;
use crate::routes::json;
use crate::state::AppState;

/// `{"text": "..."}`, `{"texts": ["...", ...]}`, `{"record": {"<column>":
/// "...", ...}}` or `{"records": [{...}, ...]}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PredictRequest {
    /// One text to classify.
    pub text: Option<String>,
    /// Several texts (at most `--max-batch`).
    pub texts: Option<Vec<String>>,
    /// One record (a model reading named text columns): every column the
    /// model reads, as strings.
    #[schema(value_type = Option<Object>)]
    pub record: Option<Map<String, Value>>,
    /// Several records (at most `--max-batch`).
    #[schema(value_type = Option<Vec<Object>>)]
    pub records: Option<Vec<Map<String, Value>>>,
}

/// A predict request's body: content type checked (absent is accepted, as
/// from `tritonclient`) and size bounded by `--max-body-bytes` before and
/// while reading ([`read_body`]); then `{"text": "…"}`, nearly every
/// request, through [`crate::fast_json::single_text`], and any other body,
/// and every malformed one, through `serde_json` ([`parse_json`], nesting
/// bounded by its recursion limit), which decides its shape and its error.
pub struct PredictBody(pub PredictRequest);

impl FromRequest<AppState> for PredictBody {
    type Rejection = ServerError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ServerError> {
        let bytes = read_body(req, state.config().max_body_bytes).await?;
        Ok(PredictBody(match crate::fast_json::single_text(&bytes) {
            Some(text) => PredictRequest {
                text: Some(text),
                texts: None,
                record: None,
                records: None,
            },
            None => parse_json(&bytes)?,
        }))
    }
}

/// A single-label answer through [`Model::view`] (no allocation), any
/// other through [`Model::view_output`]: the same JSON as `falcon predict`.
pub enum AnswerView<'a> {
    Single(PredictionView<'a>),
    Multi(OutputView<'a>),
}

impl<'a> AnswerView<'a> {
    pub fn new(model: &'a Model, o: &'a Output) -> Self {
        match o {
            Output::Single(p) => AnswerView::Single(model.view(p)),
            other => AnswerView::Multi(model.view_output(other)),
        }
    }
}

impl Serialize for AnswerView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AnswerView::Single(v) => v.serialize(s),
            AnswerView::Multi(v) => v.serialize(s),
        }
    }
}

/// One prediction: `label`, and `probabilities` / `decision` when the model
/// has them, keyed by `str(class)`; `explanation` with `?explain=K`.
/// Multi-label: `label` is the list of positive classes, `probabilities`
/// and `decision` keep one value per class. Multi-output: `label` is one
/// label per output, `probabilities` one `{class: p}` object per output.
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
struct Single<'a, V> {
    model: &'a str,
    version: &'a str,
    #[serde(flatten)]
    view: V,
}

#[derive(Serialize)]
struct Batch<'a, V> {
    model: &'a str,
    version: &'a str,
    predictions: Vec<V>,
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
    PredictBody(body): PredictBody,
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
    body: PredictBody,
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
    PredictBody(body): PredictBody,
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
    let (texts, batch) = match (body.text, body.texts, body.record, body.records) {
        (Some(t), None, None, None) => (vec![Item::text(t)], false),
        (None, Some(ts), None, None) => (ts.into_iter().map(Item::text).collect(), true),
        (None, None, Some(r), None) => (vec![Item::Record(Arc::new(Record::from_json(r)?))], false),
        (None, None, None, Some(rs)) => (
            rs.into_iter()
                .map(|r| Record::from_json(r).map(|r| Item::Record(Arc::new(r))))
                .collect::<Result<Vec<_>, _>>()?,
            true,
        ),
        _ => {
            return Err(ServerError::Invalid(
                "expected exactly one of \"text\" (a string), \"texts\" (an array of strings), \
                 \"record\" (an object of text columns) or \"records\" (an array of them)"
                    .into(),
            ));
        }
    };
    input::check_kind(&m.model, &m.name, &texts)?;
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
        h.insert(infer::X_CACHE, HeaderValue::from_static("miss"));
        h.insert(infer::SERVER_TIMING, infer::server_timing(queue, inference));
        return Ok(resp);
    }
    let out = infer::predict(state, m, texts, arrival, ctx).await?;
    let mut resp = if batch {
        let predictions = out
            .predictions
            .iter()
            .map(|p| AnswerView::new(&m.model, p))
            .collect();
        json(
            StatusCode::OK,
            &Batch {
                model: name,
                version,
                predictions,
            },
        )?
    } else {
        let view = AnswerView::new(&m.model, &out.predictions[0]);
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
        infer::SERVER_TIMING,
        infer::server_timing(out.queue, out.inference),
    );
    Ok(resp)
}
