//! Open Inference Protocol v2 (KServe / Triton REST): health, metadata,
//! inference with the classification and binary-tensor extensions, and
//! statistics. The repository extension is in `repository.rs`.
//!
//! A model takes one input, `text` (`BYTES`, shape `[-1]` or `[-1, 1]`) —
//! or, when it reads a record (a `ColumnTransformer` first step), one
//! `BYTES` input per column, named after it, all with the same batch size —
//! and produces `label` (`BYTES`, `[n]`) and, when the model has them,
//! `probabilities` (`FP64`, `[n, n_classes]`) and `decision` (`FP64`,
//! `[n, 1]` for a binary model, `[n, n_classes]` otherwise).
//!
//! Other answer shapes:
//! * multi-label: `label` is `BYTES` `[n]` whose elements are JSON lists of
//!   the positive classes (`["spam","money"]`, `[0,2]`: the JSON API's
//!   `label`); `probabilities` and `decision` are `[n, n_classes]`, one
//!   value per class;
//! * multi-output: `label` is `BYTES` `[n, n_outputs]` (`str(label)` per
//!   output); `probabilities` is `[n, Σ n_classes_i]`, output 0's classes
//!   then output 1's…, each in `classes_` order (the metadata's
//!   `output_classes` parameter); no `decision`.
//!
//! The classification extension ranks one set of classes, so it is refused
//! on these two shapes.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use falcon_engine::{Output, OutputKind, Prediction};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::ServerError;
use crate::extract::{Arrival, ModelPath, parse_json, read_body};
use crate::infer;
use crate::input::{self, Item, Record};
use crate::ports::RequestContext;
use crate::repository::LoadedModel;
use crate::routes::json;
use crate::state::AppState;

/// Extensions this server implements, as `GET /v2` reports them.
pub const EXTENSIONS: &[&str] = &[
    "classification",
    "binary_tensor_data",
    "model_repository",
    "statistics",
];

/// Header of the binary tensor data extension: length of the JSON part.
const HEADER_LEN: &str = "inference-header-content-length";

/// Liveness: the process answers.
#[utoipa::path(get, path = "/v2/health/live", tag = "oip", responses((status = 200, description = "Live")))]
pub async fn live() -> Response {
    axum::Json(json!({"live": true})).into_response()
}

/// Readiness: every model of the repository is loaded and warmed.
#[utoipa::path(get, path = "/v2/health/ready", tag = "oip",
    responses((status = 200, description = "Ready"), (status = 503, body = crate::error::ErrorBody)))]
pub async fn ready(State(state): State<AppState>) -> Result<Response, ServerError> {
    if state.repo().is_ready() {
        Ok(axum::Json(json!({"ready": true})).into_response())
    } else {
        Err(ServerError::NotReady(
            "models are loading".into(),
            state.config().retry_after,
        ))
    }
}

/// Server metadata: name, version, extensions.
#[utoipa::path(get, path = "/v2", tag = "oip", responses((status = 200, description = "Server metadata")))]
pub async fn server_metadata() -> Response {
    axum::Json(json!({
        "name": "falcon",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": EXTENSIONS,
    }))
    .into_response()
}

fn resolve(state: &AppState, path: &ModelPath) -> Result<Arc<LoadedModel>, ServerError> {
    state.resolve(&path.name, path.version.as_deref())
}

/// Model metadata: versions, the `text` input, the outputs.
#[utoipa::path(get, path = "/v2/models/{name}", tag = "oip",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, description = "Model metadata"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn model_metadata(
    State(state): State<AppState>,
    path: ModelPath,
) -> Result<Response, ServerError> {
    let m = resolve(&state, &path)?;
    let versions: Vec<String> = state
        .repo()
        .snapshot()
        .models
        .get(&path.name)
        .map(|e| e.versions.keys().map(u64::to_string).collect())
        .unwrap_or_default();
    let n_classes = m.model.classes().len() as i64;
    let total_classes: i64 = m.output_classes.iter().map(|c| c.len() as i64).sum();
    let label = match m.output_kind {
        OutputKind::MultiOutput => {
            json!({"name": "label", "datatype": "BYTES", "shape": [-1, m.output_classes.len()]})
        }
        _ => json!({"name": "label", "datatype": "BYTES", "shape": [-1]}),
    };
    let mut outputs = vec![label];
    if m.model.has_probabilities() {
        outputs.push(
            json!({"name": "probabilities", "datatype": "FP64", "shape": [-1, total_classes]}),
        );
    }
    if m.model.has_decision() && m.output_kind != OutputKind::MultiOutput {
        let k = if n_classes == 2 && m.output_kind == OutputKind::Single {
            1
        } else if m.model.decision_per_pair() {
            // `SVC(decision_function_shape="ovo")`: one value per pair of
            // classes, `(0, 1), (0, 2), …, (1, 2), …`.
            n_classes * (n_classes - 1) / 2
        } else {
            n_classes
        };
        outputs.push(json!({"name": "decision", "datatype": "FP64", "shape": [-1, k]}));
    }
    let names = |c: &[falcon_engine::Label]| c.iter().map(ToString::to_string).collect::<Vec<_>>();
    let inputs: Vec<Value> = match record_columns(&m.model) {
        Some(columns) => columns
            .iter()
            .map(|c| json!({"name": c, "datatype": "BYTES", "shape": [-1]}))
            .collect(),
        None => vec![json!({"name": "text", "datatype": "BYTES", "shape": [-1]})],
    };
    let mut parameters = json!({
        "output_kind": match m.output_kind {
            OutputKind::Single => "single",
            OutputKind::MultiLabel => "multilabel",
            OutputKind::MultiOutput => "multioutput",
        },
        "version": &*m.version_str,
        "files": &m.source.names,
    });
    match m.output_kind {
        OutputKind::MultiOutput => {
            let per: Vec<Vec<String>> = m.output_classes.iter().map(|c| names(c)).collect();
            parameters["output_classes"] = json!(per);
        }
        _ => parameters["classes"] = json!(names(m.model.classes())),
    }
    json(
        StatusCode::OK,
        &json!({
            "name": &*m.name,
            "versions": versions,
            "platform": "falcon_sklearn",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": parameters,
        }),
    )
}

/// The OIP inputs of a record model, one per column; `None` for a model
/// taking one `text` input (a record model whose only column is `text`
/// included: its one column is the text input).
fn record_columns(model: &falcon_engine::Model) -> Option<&[String]> {
    model.input_columns().filter(|c| *c != ["text"])
}

/// Model (version) metadata.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}", tag = "oip",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version")),
    responses((status = 200, description = "Model metadata"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn model_version_metadata(
    state: State<AppState>,
    path: ModelPath,
) -> Result<Response, ServerError> {
    model_metadata(state, path).await
}

/// Model readiness.
#[utoipa::path(get, path = "/v2/models/{name}/ready", tag = "oip",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, description = "Ready"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn model_ready(
    State(state): State<AppState>,
    path: ModelPath,
) -> Result<Response, ServerError> {
    let m = resolve(&state, &path)?;
    json(
        StatusCode::OK,
        &json!({"name": &*m.name, "version": &*m.version_str, "ready": true}),
    )
}

/// Model version readiness.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/ready", tag = "oip",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version")),
    responses((status = 200, description = "Ready"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn model_version_ready(
    state: State<AppState>,
    path: ModelPath,
) -> Result<Response, ServerError> {
    model_ready(state, path).await
}

#[derive(Deserialize)]
struct InferRequest {
    id: Option<String>,
    #[serde(default)]
    parameters: Map<String, Value>,
    inputs: Vec<InferInput>,
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Deserialize)]
struct InferInput {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Map<String, Value>,
    data: Option<Value>,
}

#[derive(Deserialize)]
struct RequestedOutput {
    name: String,
    #[serde(default)]
    parameters: Map<String, Value>,
}

#[derive(Serialize)]
struct OutputTensor {
    name: &'static str,
    datatype: &'static str,
    shape: Vec<usize>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    parameters: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
}

/// Inference (OIP `infer`), with the model's default version.
#[utoipa::path(post, path = "/v2/models/{name}/infer", tag = "oip",
    params(("name" = String, Path, description = "Model name")),
    request_body(content = Object, description = "OIP inference request: one BYTES input named `text`"),
    responses((status = 200, description = "OIP inference response"), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody),
              (status = 503, body = crate::error::ErrorBody)))]
pub async fn infer(
    State(state): State<AppState>,
    path: ModelPath,
    arrival: Arrival,
    ctx: RequestContext,
    req: Request,
) -> Result<Response, ServerError> {
    let m = resolve(&state, &path)?;
    let header_len = req
        .headers()
        .get(HEADER_LEN)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| ServerError::Malformed(format!("invalid {HEADER_LEN} header")))
        })
        .transpose()?;
    let body = read_body(req, state.config().max_body_bytes).await?;
    let (json_part, binary) = match header_len {
        Some(n) if n > body.len() => {
            return Err(ServerError::Malformed(format!(
                "{HEADER_LEN} is {n} but the body has {} bytes",
                body.len()
            )));
        }
        Some(n) => (body.slice(..n), body.slice(n..)),
        None => (body.clone(), Bytes::new()),
    };
    let request: InferRequest = parse_json(&json_part)?;
    let texts = match record_columns(&m.model) {
        Some(columns) => decode_records(&request, &binary, columns)?,
        None => decode_input(&request, &binary)?
            .into_iter()
            .map(Item::text)
            .collect(),
    };
    input::check_kind(&m.model, &m.name, &texts)?;
    let settings_max = state
        .repo()
        .snapshot()
        .models
        .get(&*m.name)
        .and_then(|e| e.settings.max_batch);
    infer::check_batch(&state, &m, texts.len(), settings_max)?;
    let plan = plan_outputs(&m, &request)?;
    let out = infer::predict(&state, &m, texts, arrival.0, &ctx).await?;
    let mut resp = encode_response(&m, request.id, &plan, &out.predictions)?;
    let h = resp.headers_mut();
    infer::cache_headers(&state, &out, h);
    h.insert(
        infer::SERVER_TIMING,
        infer::server_timing(out.queue, out.inference),
    );
    Ok(resp)
}

/// Inference with a given model version.
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/infer", tag = "oip",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version")),
    request_body(content = Object, description = "OIP inference request"),
    responses((status = 200, description = "OIP inference response"), (status = 400, body = crate::error::ErrorBody)))]
pub async fn infer_version(
    state: State<AppState>,
    path: ModelPath,
    arrival: Arrival,
    ctx: RequestContext,
    req: Request,
) -> Result<Response, ServerError> {
    infer(state, path, arrival, ctx, req).await
}

/// The texts of the `text` input, from JSON `data` or the binary section.
fn decode_input(req: &InferRequest, binary: &Bytes) -> Result<Vec<String>, ServerError> {
    let [input] = req.inputs.as_slice() else {
        return Err(ServerError::Invalid(format!(
            "expected exactly one input named \"text\", got {}",
            req.inputs.len()
        )));
    };
    if input.name != "text" {
        return Err(ServerError::Invalid(format!(
            "unknown input {:?}: the model takes one input named \"text\"",
            input.name
        )));
    }
    let mut rest: &[u8] = binary;
    let texts = decode_tensor(input, &mut rest)?;
    if !rest.is_empty() {
        return Err(ServerError::Malformed(format!(
            "{} bytes follow the JSON header that no input claims",
            rest.len()
        )));
    }
    Ok(texts)
}

/// One record per row of the inputs of a record model: one `BYTES` input
/// per column, each named after it, all with the same batch size. A
/// missing, unknown or repeated input is a 400 naming it.
fn decode_records(
    req: &InferRequest,
    binary: &Bytes,
    columns: &[String],
) -> Result<Vec<Item>, ServerError> {
    let mut rest: &[u8] = binary;
    let mut tensors: Vec<(&str, Vec<String>)> = Vec::with_capacity(req.inputs.len());
    for input in &req.inputs {
        if !columns.contains(&input.name) {
            return Err(ServerError::Invalid(format!(
                "unknown input {:?}: the model reads the columns {columns:?}, one BYTES input each",
                input.name
            )));
        }
        if tensors.iter().any(|(n, _)| *n == input.name) {
            return Err(ServerError::Invalid(format!(
                "input {:?} is given twice",
                input.name
            )));
        }
        tensors.push((&input.name, decode_tensor(input, &mut rest)?));
    }
    if !rest.is_empty() {
        return Err(ServerError::Malformed(format!(
            "{} bytes follow the JSON header that no input claims",
            rest.len()
        )));
    }
    if let Some(missing) = columns
        .iter()
        .find(|c| !tensors.iter().any(|(n, _)| n == c))
    {
        return Err(ServerError::Invalid(format!(
            "missing input {missing:?}: the model reads the columns {columns:?}, one BYTES input each"
        )));
    }
    let Some(n) = tensors.first().map(|(_, t)| t.len()) else {
        return Err(ServerError::Invalid(format!(
            "no inputs: the model reads the columns {columns:?}, one BYTES input each"
        )));
    };
    if let Some((name, t)) = tensors.iter().find(|(_, t)| t.len() != n) {
        return Err(ServerError::Invalid(format!(
            "inputs have different batch sizes: {:?} has {n}, {name:?} has {}",
            tensors[0].0,
            t.len()
        )));
    }
    let mut columns_of: Vec<std::vec::IntoIter<String>> = tensors
        .iter_mut()
        .map(|(_, t)| std::mem::take(t).into_iter())
        .collect();
    (0..n)
        .map(|_| {
            let pairs = tensors
                .iter()
                .zip(columns_of.iter_mut())
                .map(|((name, _), values)| (name.to_string(), values.next().unwrap_or_default()))
                .collect();
            Record::from_columns(pairs).map(|r| Item::Record(Arc::new(r)))
        })
        .collect()
}

/// The strings of one `BYTES` input, shape `[n]` or `[n, 1]`, from JSON
/// `data` or its `binary_data_size` bytes at the front of `binary` (the
/// binary section holds the inputs' bytes in input order).
fn decode_tensor(input: &InferInput, binary: &mut &[u8]) -> Result<Vec<String>, ServerError> {
    let name = &input.name;
    if input.datatype != "BYTES" {
        return Err(ServerError::Invalid(format!(
            "input {name:?} has datatype {:?}; expected \"BYTES\"",
            input.datatype
        )));
    }
    let n = match input.shape.as_slice() {
        [n] | [n, 1] if *n >= 0 => *n as usize,
        other => {
            return Err(ServerError::Invalid(format!(
                "input {name:?} has shape {other:?}; expected [n] or [n, 1]"
            )));
        }
    };
    let texts = match (input.parameters.get("binary_data_size"), &input.data) {
        (Some(size), None) => {
            let size = size.as_u64().ok_or_else(|| {
                ServerError::Invalid("binary_data_size must be an integer".into())
            })?;
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if size > binary.len() {
                return Err(ServerError::Malformed(format!(
                    "binary_data_size of input {name:?} is {size} but {} bytes follow",
                    binary.len()
                )));
            }
            let (mine, rest) = binary.split_at(size);
            *binary = rest;
            decode_binary_bytes(mine)?
        }
        (None, Some(data)) => {
            let mut out = Vec::new();
            flatten_strings(data, &mut out)?;
            out
        }
        (None, None) => return Err(ServerError::Invalid(format!("input {name:?} has no data"))),
        (Some(_), Some(_)) => {
            return Err(ServerError::Invalid(format!(
                "input {name:?} has both data and binary_data_size"
            )));
        }
    };
    if texts.len() != n {
        return Err(ServerError::Invalid(format!(
            "input {name:?} has shape {:?} ({n} elements) but {} elements of data",
            input.shape,
            texts.len()
        )));
    }
    Ok(texts)
}

/// Row-major flattening of (possibly nested) JSON arrays of strings.
fn flatten_strings(v: &Value, out: &mut Vec<String>) -> Result<(), ServerError> {
    match v {
        Value::String(s) => {
            out.push(s.clone());
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|i| flatten_strings(i, out)),
        other => Err(ServerError::Invalid(format!(
            "BYTES data must be JSON strings, found {}",
            match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                _ => "an object",
            }
        ))),
    }
}

/// BYTES in the binary extension: each element a 4-byte little-endian
/// length followed by that many bytes (UTF-8 text here).
fn decode_binary_bytes(mut b: &[u8]) -> Result<Vec<String>, ServerError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let Some((len, rest)) = b.split_first_chunk::<4>() else {
            return Err(ServerError::Malformed(
                "truncated BYTES element length".into(),
            ));
        };
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(ServerError::Malformed("truncated BYTES element".into()));
        }
        let s = std::str::from_utf8(&rest[..len])
            .map_err(|e| ServerError::Malformed(format!("BYTES element is not UTF-8: {e}")))?;
        out.push(s.to_string());
        b = &rest[len..];
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Label,
    Probabilities,
    Decision,
}

struct PlannedOutput {
    kind: Kind,
    /// Top-N classification instead of the raw tensor.
    classification: Option<usize>,
    binary: bool,
}

/// Which outputs to produce, as requested (all available ones by default).
fn plan_outputs(m: &LoadedModel, req: &InferRequest) -> Result<Vec<PlannedOutput>, ServerError> {
    let default_binary = req
        .parameters
        .get("binary_data_output")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let available = |k: Kind| match k {
        Kind::Label => true,
        Kind::Probabilities => m.model.has_probabilities(),
        Kind::Decision => m.model.has_decision() && m.output_kind != OutputKind::MultiOutput,
    };
    let Some(requested) = &req.outputs else {
        return Ok([Kind::Label, Kind::Probabilities, Kind::Decision]
            .into_iter()
            .filter(|k| available(*k))
            .map(|kind| PlannedOutput {
                kind,
                classification: None,
                binary: default_binary,
            })
            .collect());
    };
    requested
        .iter()
        .map(|o| {
            let kind = match o.name.as_str() {
                "label" => Kind::Label,
                "probabilities" => Kind::Probabilities,
                "decision" => Kind::Decision,
                other => {
                    return Err(ServerError::Invalid(format!(
                        "unknown output {other:?}: outputs are label, probabilities, decision"
                    )));
                }
            };
            if !available(kind) {
                return Err(ServerError::Invalid(format!(
                    "model {:?} has no output {:?}",
                    &*m.name, o.name
                )));
            }
            let classification = match o.parameters.get("classification") {
                None => None,
                // A label is ranked by probabilities when the model has them,
                // else by decisions, which must be one per class.
                Some(_)
                    if m.model.decision_per_pair()
                        && (kind == Kind::Decision
                            || (kind == Kind::Label && !m.model.has_probabilities())) =>
                {
                    return Err(ServerError::Invalid(format!(
                        "classification ranks classes by a score per class; model {:?} gives \
                         one decision value per pair of classes (decision_function_shape=\"ovo\"): \
                         request the raw \"decision\" tensor",
                        &*m.name
                    )));
                }
                Some(_) if m.output_kind != OutputKind::Single => {
                    return Err(ServerError::Invalid(format!(
                        "classification ranks the classes of one label; model {:?} gives \
                         several labels per input (request the raw {:?} tensor)",
                        &*m.name, o.name
                    )));
                }
                Some(v) => match v.as_u64() {
                    Some(n) if n >= 1 => Some(n as usize),
                    _ => {
                        return Err(ServerError::Invalid(
                            "classification must be a positive integer".into(),
                        ));
                    }
                },
            };
            let binary = o
                .parameters
                .get("binary_data")
                .and_then(Value::as_bool)
                .unwrap_or(default_binary);
            Ok(PlannedOutput {
                kind,
                classification,
                binary,
            })
        })
        .collect()
}

/// Per-class scores used to rank classes: probabilities when the model has
/// them, else decision values (a binary model's single value `d` ranks as
/// `[-d, d]`, scikit-learn's convention that `d > 0` means `classes_[1]`).
fn class_scores(p: &Prediction, kind: Kind) -> Vec<f64> {
    let decision = || match p.decision.as_deref() {
        Some([d]) => vec![-d, *d],
        Some(d) => d.to_vec(),
        None => Vec::new(),
    };
    match kind {
        Kind::Probabilities => p.probabilities.clone().unwrap_or_default(),
        Kind::Decision => decision(),
        Kind::Label => p.probabilities.clone().unwrap_or_else(decision),
    }
}

/// `str(classes_[i])`. The engine guarantees one class per score and a
/// label inside `classes_`, but a mismatch must not take a request (or the
/// server) down with an index panic: the index itself stands in for the
/// missing name.
fn class_name(classes: &[falcon_engine::Label], i: usize) -> String {
    classes
        .get(i)
        .map_or_else(|| i.to_string(), ToString::to_string)
}

enum Tensor {
    Bytes(Vec<String>),
    Fp64(Vec<f64>),
}

/// The single-label prediction of an answer (the only shape the
/// classification extension is planned for).
fn single(o: &Output) -> Option<&Prediction> {
    match o {
        Output::Single(p) => Some(p),
        _ => None,
    }
}

/// `label`: `[n]` class names; multi-label `[n]` JSON lists of the
/// positive classes; multi-output `[n, n_outputs]` class names.
fn label_tensor(
    m: &LoadedModel,
    preds: &[Arc<Output>],
) -> Result<(Tensor, Vec<usize>), ServerError> {
    let n = preds.len();
    match m.output_kind {
        OutputKind::MultiOutput => {
            let k = m.output_classes.len();
            let mut data = Vec::with_capacity(n * k);
            for o in preds {
                let Output::MultiOutput(outs) = &**o else {
                    return Err(shape_mismatch(m));
                };
                for (p, c) in outs.iter().zip(&m.output_classes) {
                    data.push(class_name(c, p.label));
                }
            }
            Ok((Tensor::Bytes(data), vec![n, k]))
        }
        OutputKind::MultiLabel => {
            let classes = m.model.classes();
            let mut data = Vec::with_capacity(n);
            for o in preds {
                let Output::MultiLabel(p) = &**o else {
                    return Err(shape_mismatch(m));
                };
                let labels: Vec<&falcon_engine::Label> =
                    p.labels.iter().filter_map(|&i| classes.get(i)).collect();
                data.push(
                    serde_json::to_string(&labels)
                        .map_err(|e| ServerError::Internal(e.to_string()))?,
                );
            }
            Ok((Tensor::Bytes(data), vec![n]))
        }
        OutputKind::Single => {
            let classes = m.model.classes();
            let data = preds
                .iter()
                .map(|o| single(o).map(|p| class_name(classes, p.label)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| shape_mismatch(m))?;
            Ok((Tensor::Bytes(data), vec![n]))
        }
    }
}

fn shape_mismatch(m: &LoadedModel) -> ServerError {
    ServerError::Internal(format!(
        "an answer of model {:?} does not have its shape",
        &*m.name
    ))
}

/// One row of `probabilities` (or `decision`) of an answer: a multi-output
/// answer's outputs concatenated in output order.
fn push_scores(o: &Output, probabilities: bool, out: &mut Vec<f64>) {
    let mut push = |p: &Option<Vec<f64>>, d: &Option<Vec<f64>>| {
        let v = if probabilities { p } else { d };
        out.extend_from_slice(v.as_deref().unwrap_or(&[]));
    };
    match o {
        Output::Single(p) => push(&p.probabilities, &p.decision),
        Output::MultiLabel(p) => push(&p.probabilities, &p.decision),
        Output::MultiOutput(outs) => {
            for p in outs {
                push(&p.probabilities, &p.decision);
            }
        }
    }
}

fn encode_response(
    m: &LoadedModel,
    id: Option<String>,
    plan: &[PlannedOutput],
    preds: &[Arc<Output>],
) -> Result<Response, ServerError> {
    let n = preds.len();
    let classes = m.model.classes();
    let mut outputs = Vec::with_capacity(plan.len());
    let mut binary = BytesMut::new();
    for o in plan {
        let name = match o.kind {
            Kind::Label => "label",
            Kind::Probabilities => "probabilities",
            Kind::Decision => "decision",
        };
        let (tensor, shape) = if let Some(top) = o.classification {
            // Planned only for single-label models.
            let k = top.min(classes.len());
            let mut data = Vec::with_capacity(n * k);
            for p in preds.iter().filter_map(|o| single(o)) {
                let scores = class_scores(p, o.kind);
                let mut idx: Vec<usize> = (0..scores.len()).collect();
                idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
                for &i in idx.iter().take(k) {
                    data.push(format!("{}:{}:{}", scores[i], i, class_name(classes, i)));
                }
            }
            (Tensor::Bytes(data), vec![n, k])
        } else {
            match o.kind {
                Kind::Label => label_tensor(m, preds)?,
                Kind::Probabilities | Kind::Decision => {
                    let mut data = Vec::with_capacity(n * classes.len().max(1));
                    let mut width = None;
                    for p in preds {
                        let before = data.len();
                        push_scores(p, o.kind == Kind::Probabilities, &mut data);
                        let w = data.len() - before;
                        if *width.get_or_insert(w) != w {
                            return Err(ServerError::Internal(format!(
                                "{name} rows of different widths in one batch"
                            )));
                        }
                    }
                    (Tensor::Fp64(data), vec![n, width.unwrap_or(0)])
                }
            }
        };
        let datatype = match tensor {
            Tensor::Bytes(_) => "BYTES",
            Tensor::Fp64(_) => "FP64",
        };
        let mut parameters = Map::new();
        let data = if o.binary {
            let before = binary.len();
            match &tensor {
                Tensor::Bytes(v) => {
                    for s in v {
                        binary.put_u32_le(s.len() as u32);
                        binary.put_slice(s.as_bytes());
                    }
                }
                Tensor::Fp64(v) => v.iter().for_each(|x| binary.put_f64_le(*x)),
            }
            parameters.insert("binary_data_size".into(), json!(binary.len() - before));
            None
        } else {
            Some(match tensor {
                Tensor::Bytes(v) => json!(v),
                Tensor::Fp64(v) => json!(v),
            })
        };
        outputs.push(OutputTensor {
            name,
            datatype,
            shape,
            parameters,
            data,
        });
    }
    let mut header = json!({
        "model_name": &*m.name,
        "model_version": &*m.version_str,
        "outputs": outputs,
    });
    if let Some(id) = id {
        header["id"] = json!(id);
    }
    if binary.is_empty() {
        return json(StatusCode::OK, &header);
    }
    let head = serde_json::to_vec(&header).map_err(|e| ServerError::Internal(e.to_string()))?;
    let head_len = head.len();
    let mut body = BytesMut::with_capacity(head_len + binary.len());
    body.put_slice(&head);
    body.put_slice(&binary);
    let mut resp = Response::new(Body::from(body.freeze()));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(HEADER_LEN, HeaderValue::from(head_len));
    Ok(resp)
}

/// Triton statistics for one model's versions.
fn model_stats(m: &LoadedModel) -> Value {
    let s = &m.stats;
    let pair = |c: u64, ns: u64| json!({"count": c, "ns": ns});
    let success = s.success_count.load(Relaxed);
    let fail = s.fail_count.load(Relaxed);
    json!({
        "name": &*m.name,
        "version": &*m.version_str,
        "last_inference": s.last_inference_ms.load(Relaxed),
        "inference_count": s.inference_count.load(Relaxed),
        "execution_count": s.execution_count.load(Relaxed),
        "inference_stats": {
            "success": pair(success, s.success_ns.load(Relaxed)),
            "fail": pair(fail, s.fail_ns.load(Relaxed)),
            "queue": pair(success + fail, s.queue_ns.load(Relaxed)),
            "compute_input": pair(0, 0),
            "compute_infer": pair(s.compute_count.load(Relaxed), s.compute_ns.load(Relaxed)),
            "compute_output": pair(0, 0),
            "cache_hit": pair(s.cache_hit_count.load(Relaxed), s.cache_hit_ns.load(Relaxed)),
            "cache_miss": pair(s.cache_miss_count.load(Relaxed), s.cache_miss_ns.load(Relaxed)),
        },
        "batch_stats": [],
    })
}

/// Statistics extension: every version of a model.
#[utoipa::path(get, path = "/v2/models/{name}/stats", tag = "oip",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, description = "Triton-format statistics"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    path: ModelPath,
) -> Result<Response, ServerError> {
    let snap = state.repo().snapshot();
    let entry = snap
        .models
        .get(&path.name)
        .ok_or_else(|| ServerError::ModelNotFound(path.name.clone()))?;
    let list: Vec<Value> = match &path.version {
        None => entry.versions.values().map(|m| model_stats(m)).collect(),
        Some(_) => vec![model_stats(&*resolve(&state, &path)?)],
    };
    json(StatusCode::OK, &json!({"model_stats": list}))
}

/// Statistics extension: one version.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/stats", tag = "oip",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version")),
    responses((status = 200, description = "Triton-format statistics"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn version_stats(
    state: State<AppState>,
    path: ModelPath,
) -> Result<Response, ServerError> {
    stats(state, path).await
}

/// Statistics extension: every model.
#[utoipa::path(get, path = "/v2/models/stats", tag = "oip",
    responses((status = 200, description = "Triton-format statistics")))]
pub async fn all_stats(State(state): State<AppState>) -> Result<Response, ServerError> {
    let snap = state.repo().snapshot();
    let list: Vec<Value> = snap
        .models
        .values()
        .flat_map(|e| e.versions.values().map(|m| model_stats(m)))
        .collect();
    json(StatusCode::OK, &json!({"model_stats": list}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_never_index_out_of_bounds() {
        let classes = [
            falcon_engine::Label::Str("ham".into()),
            falcon_engine::Label::Int(7),
        ];
        assert_eq!(class_name(&classes, 0), "ham");
        assert_eq!(class_name(&classes, 1), "7");
        assert_eq!(class_name(&classes, 2), "2");
        assert_eq!(class_name(&[], 0), "0");
    }

    #[test]
    fn binary_bytes_roundtrip_and_truncation() {
        let mut b = Vec::new();
        for s in ["héllo", "", "x"] {
            b.extend_from_slice(&(s.len() as u32).to_le_bytes());
            b.extend_from_slice(s.as_bytes());
        }
        assert_eq!(decode_binary_bytes(&b).unwrap(), vec!["héllo", "", "x"]);
        assert!(decode_binary_bytes(&b[..b.len() - 1]).is_err());
        assert!(decode_binary_bytes(&[1, 0]).is_err());
        assert!(decode_binary_bytes(&[1, 0, 0, 0, 0xff]).is_err());
    }

    #[test]
    fn nested_data_flattens_row_major() {
        let mut out = Vec::new();
        flatten_strings(&json!([["a"], ["b"]]), &mut out).unwrap();
        assert_eq!(out, vec!["a", "b"]);
        assert!(flatten_strings(&json!([1]), &mut out).is_err());
    }

    #[test]
    fn binary_decision_ranks_both_classes() {
        let p = Prediction {
            label: 1,
            probabilities: None,
            decision: Some(vec![2.0]),
        };
        assert_eq!(class_scores(&p, Kind::Label), vec![-2.0, 2.0]);
    }
}
