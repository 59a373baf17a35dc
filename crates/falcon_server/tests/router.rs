//! In-process router tests (`tower::ServiceExt::oneshot`): every route, the
//! error envelope and status codes, cache headers, metrics.

mod common;

use std::time::Duration;

use axum::body::Body;
use common::*;
use falcon_engine::Model;
use falcon_server::{AppState, ServerConfig};
use http::Request;
use serde_json::{Value, json};

const SPAMMY: &str = "FREE money!!! Click here http://win.example.com to claim your prize now";

#[tokio::test]
async fn predict_single_matches_engine_and_caches() {
    let repo = Repo::spam();
    let state = loaded(config(&repo)).await;
    let engine = Model::load(&spam_model()).unwrap();
    let expected = serde_json::to_value(engine.view(&engine.predict(SPAMMY).unwrap())).unwrap();

    let r = post_json(&state, "/predict", json!({"text": SPAMMY})).await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["model"], "spam");
    assert_eq!(j["version"], "1");
    for field in ["label", "probabilities", "decision"] {
        assert_eq!(j[field], expected[field], "{field}");
    }
    assert_eq!(r.header("x-cache"), Some("miss"));
    let timing = r.header("server-timing").unwrap();
    assert!(
        timing.contains("queue;dur=") && timing.contains("inference;dur="),
        "{timing}"
    );
    assert!(r.header("x-request-id").is_some_and(|id| !id.is_empty()));

    let r2 = post_json(&state, "/v1/models/spam/predict", json!({"text": SPAMMY})).await;
    assert_eq!(r2.status, 200);
    assert_eq!(r2.header("x-cache"), Some("hit"));
    assert_eq!(r2.json()["probabilities"], expected["probabilities"]);
    // One more space is another text: never the same entry.
    let r3 = post_json(&state, "/predict", json!({"text": format!("{SPAMMY} ")})).await;
    assert_eq!(r3.header("x-cache"), Some("miss"));

    let metrics = get(&state, "/metrics").await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("inference_cache_hits_total{model=\"spam\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("inference_cache_misses_total{model=\"spam\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn request_id_is_echoed() {
    let state = loaded(config(&Repo::spam())).await;
    let req = Request::post("/predict")
        .header("content-type", "application/json")
        .header("x-request-id", "abc-123")
        .body(Body::from(r#"{"text":"hello"}"#))
        .unwrap();
    assert_eq!(
        send(&state, req).await.header("x-request-id"),
        Some("abc-123")
    );
    // A hostile id (too long) is replaced.
    let req = Request::post("/predict")
        .header("content-type", "application/json")
        .header("x-request-id", "x".repeat(500))
        .body(Body::from(r#"{"text":"hello"}"#))
        .unwrap();
    let id = send(&state, req)
        .await
        .header("x-request-id")
        .unwrap()
        .to_string();
    assert!(!id.starts_with("xxx"));
    let (prefix, counter) = id.split_once('-').unwrap();
    assert_eq!((prefix.len(), counter.len()), (8, 12), "{id}");
    assert!(
        id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()),
        "{id}"
    );
}

#[tokio::test]
async fn batch_and_explain() {
    let state = loaded(config(&Repo::spam())).await;
    let texts = heldout(5);
    let r = post_json(&state, "/v1/models/spam/predict", json!({"texts": texts})).await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["model"], "spam");
    let preds = j["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 5);
    for (t, p) in texts.iter().zip(preds) {
        let one = post_json(&state, "/predict", json!({"text": t}))
            .await
            .json();
        assert_eq!(one["label"], p["label"]);
        assert_eq!(one["probabilities"], p["probabilities"]);
    }
    let r = post_json(&state, "/predict?explain=3", json!({"text": SPAMMY})).await;
    assert_eq!(r.status, 200);
    let e = r.json()["explanation"].as_array().unwrap().clone();
    assert!(!e.is_empty() && e.len() <= 3);
    assert!(e[0]["feature"].is_string() && e[0]["contribution"].is_f64());
    let r = post_json(
        &state,
        "/v1/models/spam/predict?explain=2",
        json!({"texts": ["a b", SPAMMY]}),
    )
    .await;
    assert_eq!(
        r.json()["predictions"][1]["explanation"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn versions_and_default_version() {
    let repo = Repo::new();
    repo.add("spam", 1, &spam_model())
        .add("spam", 2, &spam_model());
    let state = loaded(config(&repo)).await;
    let r = post_json(&state, "/v1/models/spam/predict", json!({"text": "hi"})).await;
    assert_eq!(r.json()["version"], "2", "highest version is the default");
    let r = post_json(
        &state,
        "/v1/models/spam/versions/1/predict",
        json!({"text": "hi"}),
    )
    .await;
    assert_eq!(r.json()["version"], "1");
    let r = post_json(
        &state,
        "/v1/models/spam/versions/3/predict",
        json!({"text": "hi"}),
    )
    .await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (404, "version_not_found")
    );
    let r = post_json(
        &state,
        "/v1/models/spam/versions/abc/predict",
        json!({"text": "hi"}),
    )
    .await;
    assert_eq!(r.status, 404);

    repo.config("spam", "default_version = 1\n");
    let state = loaded(config(&repo)).await;
    let r = post_json(&state, "/predict", json!({"text": "hi"})).await;
    assert_eq!(r.json()["version"], "1", "config.toml default_version wins");
    let meta = get(&state, "/v2/models/spam").await.json();
    assert_eq!(meta["versions"], json!(["1", "2"]));
}

#[tokio::test]
async fn error_envelope_and_status_codes() {
    let state = loaded(ServerConfig {
        max_body_bytes: 4096,
        max_batch: 3,
        ..config(&Repo::spam())
    })
    .await;
    let cases: Vec<(Reply, u16, &str)> = vec![
        (post_raw(&state, "/predict", "application/json", b"{\"text\": ".to_vec()).await, 400, "malformed_request"),
        (post_raw(&state, "/predict", "application/json", b"{\"text\": \"\xff\xfe\"}".to_vec()).await, 400, "malformed_request"),
        (post_json(&state, "/predict", json!({"text": 5})).await, 400, "invalid_request"),
        (post_json(&state, "/predict", json!({"texts": "x"})).await, 400, "invalid_request"),
        (post_json(&state, "/predict", json!({"text": "a", "texts": ["b"]})).await, 400, "invalid_request"),
        (post_json(&state, "/predict", json!({})).await, 400, "invalid_request"),
        (post_json(&state, "/predict", json!({"texts": []})).await, 400, "invalid_request"),
        (post_json(&state, "/predict", json!([1, 2])).await, 400, "invalid_request"),
        (post_json(&state, "/predict?explain=x", json!({"text": "a"})).await, 400, "malformed_request"),
        (post_json(&state, "/predict?explain=1000000", json!({"text": "a"})).await, 400, "invalid_request"),
        (post_raw(&state, "/predict", "application/json", format!("{{\"x\": {}", "[".repeat(2_000)).into_bytes()).await, 400, "malformed_request"),
        (post_raw(&state, "/v2/models/spam/infer", "application/json",
            format!(r#"{{"inputs":[{{"name":"text","shape":[1],"datatype":"BYTES","data":{}"a"{}}}]}}"#, "[".repeat(1000), "]".repeat(1000)).into_bytes()).await, 400, "malformed_request"),
        (post_json(&state, "/v1/models/nope/predict", json!({"text": "a"})).await, 404, "model_not_found"),
        (get(&state, "/nope").await, 404, "route_not_found"),
        (get(&state, "/predict").await, 405, "method_not_allowed"),
        (post_json(&state, "/predict", json!({"text": "x".repeat(5000)})).await, 413, "body_too_large"),
        (post_json(&state, "/predict", json!({"texts": ["a", "b", "c", "d"]})).await, 413, "batch_too_large"),
        (post_raw(&state, "/predict", "text/plain", b"{\"text\":\"a\"}".to_vec()).await, 415, "unsupported_media_type"),
    ];
    for (i, (r, status, ty)) in cases.into_iter().enumerate() {
        assert_eq!(
            (r.status, r.error_type().as_str()),
            (status, ty),
            "case {i}"
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "case {i}"
        );
    }
    // No content type at all is accepted (some OIP clients send none).
    let r = send(
        &state,
        Request::post("/predict")
            .body(Body::from(r#"{"text":"a"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn not_ready_until_loaded() {
    let repo = Repo::spam();
    let state = AppState::new(config(&repo));
    for uri in ["/readyz", "/v2/health/ready"] {
        let r = get(&state, uri).await;
        assert_eq!(
            (r.status, r.error_type().as_str()),
            (503, "not_ready"),
            "{uri}"
        );
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    let r = post_json(&state, "/predict", json!({"text": "a"})).await;
    assert_eq!((r.status, r.error_type().as_str()), (503, "not_ready"));
    assert_eq!(get(&state, "/healthz").await.status, 200);
    assert_eq!(get(&state, "/v2/health/live").await.status, 200);
    state.reload().await.unwrap();
    assert_eq!(get(&state, "/readyz").await.status, 200);
    assert_eq!(get(&state, "/v2/health/ready").await.json()["ready"], true);
}

#[tokio::test]
async fn overload_sheds_with_retry_after() {
    let state = loaded(ServerConfig {
        max_concurrency: 2,
        ..config(&Repo::spam())
    })
    .await;
    let a = state.admit().unwrap();
    let b = state.admit().unwrap();
    let r = post_json(&state, "/predict", json!({"text": "a"})).await;
    assert_eq!((r.status, r.error_type().as_str()), (503, "overloaded"));
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = post_json(&state, "/v2/models/spam/infer", oip_request(&["a"])).await;
    assert_eq!(r.status, 503);
    // Probes and metrics are not inference: they still answer.
    assert_eq!(get(&state, "/readyz").await.status, 200);
    let m = String::from_utf8(get(&state, "/metrics").await.body).unwrap();
    assert!(m.contains("http_requests_shed_total 2"), "{m}");
    drop((a, b));
    assert_eq!(
        post_json(&state, "/predict", json!({"text": "a"}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn request_deadline_gives_504() {
    let state = loaded(ServerConfig {
        request_timeout: Duration::from_millis(200),
        ..config(&Repo::spam())
    })
    .await;
    // A body that never finishes: the client trickles nothing.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
    tx.send(Ok(bytes::Bytes::from_static(b"{\"text\": \"a")))
        .await
        .unwrap();
    let body = Body::from_stream(tokio_stream_from(rx));
    let req = Request::post("/predict")
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let started = std::time::Instant::now();
    let r = send(&state, req).await;
    assert_eq!((r.status, r.error_type().as_str()), (504, "timeout"));
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(tx);
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn oip_request(texts: &[&str]) -> Value {
    json!({"inputs": [{"name": "text", "shape": [texts.len()], "datatype": "BYTES", "data": texts}]})
}

#[tokio::test]
async fn oip_health_and_metadata() {
    let state = loaded(config(&Repo::spam())).await;
    assert_eq!(get(&state, "/v2/health/live").await.json()["live"], true);
    let meta = get(&state, "/v2").await.json();
    assert_eq!(meta["name"], "falcon");
    for ext in [
        "classification",
        "model_repository",
        "statistics",
        "binary_tensor_data",
    ] {
        assert!(
            meta["extensions"].as_array().unwrap().contains(&json!(ext)),
            "{ext}"
        );
    }
    let m = get(&state, "/v2/models/spam").await.json();
    assert_eq!(m["name"], "spam");
    assert_eq!(
        m["inputs"],
        json!([{"name": "text", "datatype": "BYTES", "shape": [-1]}])
    );
    let outs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(outs, ["label", "probabilities", "decision"]);
    assert_eq!(m["outputs"][1]["shape"], json!([-1, 2]));
    assert_eq!(get(&state, "/v2/models/spam/versions/1").await.status, 200);
    assert_eq!(get(&state, "/v2/models/spam/ready").await.status, 200);
    assert_eq!(
        get(&state, "/v2/models/spam/versions/1/ready").await.status,
        200
    );
    assert_eq!(
        get(&state, "/v2/models/spam/versions/9/ready").await.status,
        404
    );
    assert_eq!(get(&state, "/v2/models/nope/ready").await.status, 404);
}

#[tokio::test]
async fn oip_infer_json() {
    let state = loaded(config(&Repo::spam())).await;
    let texts = ["hello, lunch tomorrow?", SPAMMY];
    let r = post_json(
        &state,
        "/v2/models/spam/infer",
        json!({"id": "r1",
        "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": texts}]}),
    )
    .await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(
        (
            j["model_name"].clone(),
            j["model_version"].clone(),
            j["id"].clone()
        ),
        (json!("spam"), json!("1"), json!("r1"))
    );
    let outs = j["outputs"].as_array().unwrap();
    let label = &outs[0];
    assert_eq!(
        (
            label["name"].clone(),
            label["datatype"].clone(),
            label["shape"].clone()
        ),
        (json!("label"), json!("BYTES"), json!([2]))
    );
    let probs = &outs[1];
    assert_eq!(
        (probs["datatype"].clone(), probs["shape"].clone()),
        (json!("FP64"), json!([2, 2]))
    );
    assert_eq!(outs[2]["shape"], json!([2, 1]));
    for (i, t) in texts.iter().enumerate() {
        let one = post_json(&state, "/predict", json!({"text": t}))
            .await
            .json();
        assert_eq!(label["data"][i], one["label"]);
        assert_eq!(probs["data"][2 * i], one["probabilities"]["ham"]);
        assert_eq!(probs["data"][2 * i + 1], one["probabilities"]["spam"]);
        assert_eq!(outs[2]["data"][i], one["decision"]);
    }
    // Shape [n, 1] with nested data, and a versioned route.
    let r = post_json(&state, "/v2/models/spam/versions/1/infer", json!({
        "inputs": [{"name": "text", "shape": [2, 1], "datatype": "BYTES", "data": [[texts[0]], [texts[1]]]}],
        "outputs": [{"name": "label"}]}))
    .await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["outputs"].as_array().unwrap().len(), 1);
    assert_eq!(j["outputs"][0]["data"], label["data"]);
}

#[tokio::test]
async fn oip_classification_extension() {
    let state = loaded(config(&Repo::spam())).await;
    let r = post_json(
        &state,
        "/v2/models/spam/infer",
        json!({
        "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [SPAMMY]}],
        "outputs": [{"name": "label", "parameters": {"classification": 2}}]}),
    )
    .await;
    assert_eq!(r.status, 200);
    let out = &r.json()["outputs"][0];
    assert_eq!(
        (out["datatype"].clone(), out["shape"].clone()),
        (json!("BYTES"), json!([1, 2]))
    );
    let one = post_json(&state, "/predict", json!({"text": SPAMMY}))
        .await
        .json();
    let top = out["data"][0].as_str().unwrap();
    let parts: Vec<&str> = top.splitn(3, ':').collect();
    assert_eq!(parts[2], one["label"].as_str().unwrap());
    let idx: usize = parts[1].parse().unwrap();
    let score: f64 = parts[0].parse().unwrap();
    let class = ["ham", "spam"][idx];
    assert_eq!(class, parts[2]);
    assert_eq!(score, one["probabilities"][class].as_f64().unwrap());
    let second: f64 = out["data"][1]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(score >= second);
    // Top-N beyond the number of classes is clipped.
    let r = post_json(
        &state,
        "/v2/models/spam/infer",
        json!({
        "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x"]}],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 5}}]}),
    )
    .await;
    assert_eq!(r.json()["outputs"][0]["shape"], json!([1, 2]));
}

#[tokio::test]
async fn oip_binary_tensor_extension() {
    let state = loaded(config(&Repo::spam())).await;
    let texts = ["first text", "FREE prize"];
    let mut blob = Vec::new();
    for t in texts {
        blob.extend_from_slice(&(t.len() as u32).to_le_bytes());
        blob.extend_from_slice(t.as_bytes());
    }
    let header = json!({
        "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": blob.len()}}],
        "outputs": [{"name": "label", "parameters": {"binary_data": false}},
                    {"name": "probabilities", "parameters": {"binary_data": true}}]})
    .to_string();
    let mut body = header.clone().into_bytes();
    body.extend_from_slice(&blob);
    let req = Request::post("/v2/models/spam/infer")
        .header("content-type", "application/octet-stream")
        .header("inference-header-content-length", header.len())
        .body(Body::from(body))
        .unwrap();
    let r = send(&state, req).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let n: usize = r
        .header("inference-header-content-length")
        .unwrap()
        .parse()
        .unwrap();
    let head: Value = serde_json::from_slice(&r.body[..n]).unwrap();
    let tail = &r.body[n..];
    assert_eq!(
        head["outputs"][1]["parameters"]["binary_data_size"],
        json!(32)
    );
    assert_eq!(tail.len(), 32);
    let probs: Vec<f64> = tail
        .chunks(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let json_path = post_json(&state, "/v2/models/spam/infer", oip_request(&texts))
        .await
        .json();
    let expected: Vec<f64> = json_path["outputs"][1]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(probs, expected);
    assert_eq!(head["outputs"][0]["data"], json_path["outputs"][0]["data"]);
}

#[tokio::test]
async fn oip_input_validation() {
    let state = loaded(ServerConfig {
        max_batch: 4,
        ..config(&Repo::spam())
    })
    .await;
    let bad = [
        json!({"inputs": [{"name": "text", "shape": [1], "datatype": "FP32", "data": [1.0]}]}),
        json!({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["a"]}]}),
        json!({"inputs": [{"name": "text", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "b"]}]}),
        json!({"inputs": [{"name": "text", "shape": [-1], "datatype": "BYTES", "data": ["a"]}]}),
        json!({"inputs": [{"name": "txt", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}),
        json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [3]}]}),
        json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES"}]}),
        json!({"inputs": []}),
        json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}], "outputs": [{"name": "nope"}]}),
        json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}],
               "outputs": [{"name": "label", "parameters": {"classification": 0}}]}),
        json!({"inputs": "text"}),
    ];
    for (i, b) in bad.into_iter().enumerate() {
        let r = post_json(&state, "/v2/models/spam/infer", b).await;
        assert_eq!(
            r.status,
            400,
            "case {i}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.error_type();
    }
    let r = post_json(&state, "/v2/models/spam/infer", oip_request(&["a"; 5])).await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (413, "batch_too_large")
    );
    let r = post_json(&state, "/v2/models/nope/infer", oip_request(&["a"])).await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (404, "model_not_found")
    );
    let req = Request::post("/v2/models/spam/infer")
        .header("inference-header-content-length", "99999")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(send(&state, req).await.status, 400);
}

#[tokio::test]
async fn multiple_models_and_default_model() {
    let repo = Repo::spam();
    repo.add("tri", 1, &fixture("mnb_count_tri.pkl"));
    repo.add("ridge", 1, &fixture("ridge_tri_int.pkl"));
    let state = loaded(config(&repo)).await;
    let r = post_json(&state, "/predict", json!({"text": "a"})).await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "invalid_request"),
        "ambiguous default"
    );
    let r = post_json(
        &state,
        "/v1/models/tri/predict",
        json!({"text": "free money"}),
    )
    .await;
    let j = r.json();
    assert_eq!(j["probabilities"].as_object().unwrap().len(), 3);
    assert!(
        j.get("decision").is_none(),
        "naive Bayes has no decision function"
    );
    // Integer labels stay numbers in JSON, and str() in OIP/keys.
    let j = post_json(
        &state,
        "/v1/models/ridge/predict",
        json!({"text": "free money"}),
    )
    .await
    .json();
    assert!(j["label"].is_i64(), "{j}");
    assert!(j.get("probabilities").is_none());
    let meta = get(&state, "/v2/models/ridge").await.json();
    let outs: Vec<&str> = meta["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(outs, ["label", "decision"]);
    assert_eq!(meta["outputs"][1]["shape"], json!([-1, 3]));
    let r = post_json(
        &state,
        "/v2/models/ridge/infer",
        json!({
        "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["free money"]}],
        "outputs": [{"name": "label", "parameters": {"classification": 3}}, {"name": "label"}]}),
    )
    .await;
    let j = r.json();
    let top = j["outputs"][0]["data"][0].as_str().unwrap();
    assert_eq!(
        top.rsplit(':').next().unwrap(),
        j["outputs"][1]["data"][0].as_str().unwrap()
    );
    let r = post_json(
        &state,
        "/v2/models/tri/infer",
        json!({
        "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x"]}],
        "outputs": [{"name": "decision"}]}),
    )
    .await;
    assert_eq!(r.status, 400, "tri has no decision output");

    let state = loaded(ServerConfig {
        default_model: Some("tri".into()),
        ..config(&repo)
    })
    .await;
    assert_eq!(
        post_json(&state, "/predict", json!({"text": "a"}))
            .await
            .json()["model"],
        "tri"
    );
}

#[tokio::test]
async fn cache_can_be_disabled_globally_and_per_model() {
    let state = loaded(ServerConfig {
        cache_bytes: 0,
        ..config(&Repo::spam())
    })
    .await;
    for _ in 0..2 {
        let r = post_json(&state, "/predict", json!({"text": "same"})).await;
        assert_eq!(r.header("x-cache"), Some("miss"));
    }
    let repo = Repo::spam();
    repo.config("spam", "cache_ttl = 0\n");
    let state = loaded(config(&repo)).await;
    for _ in 0..2 {
        let r = post_json(&state, "/predict", json!({"text": "same"})).await;
        assert_eq!(r.header("x-cache"), Some("miss"));
    }
}

#[tokio::test]
async fn per_model_batch_limit() {
    let repo = Repo::spam();
    repo.config("spam", "max_batch = 2\n");
    let state = loaded(config(&repo)).await;
    let r = post_json(&state, "/predict", json!({"texts": ["a", "b", "c"]})).await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (413, "batch_too_large")
    );
    assert_eq!(
        post_json(&state, "/predict", json!({"texts": ["a", "b"]}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn repository_extension_and_failed_load() {
    let repo = Repo::spam();
    let state = loaded(config(&repo)).await;
    let idx = post_json(&state, "/v2/repository/index", json!({}))
        .await
        .json();
    assert_eq!(
        idx,
        json!([{"name": "spam", "version": "1", "state": "READY", "reason": ""}])
    );
    // Empty body is accepted too (tritonclient sends none).
    assert_eq!(
        send(
            &state,
            Request::post("/v2/repository/index")
                .body(Body::empty())
                .unwrap()
        )
        .await
        .status,
        200
    );

    assert_eq!(
        post_json(&state, "/v2/repository/models/spam/unload", json!({}))
            .await
            .status,
        200
    );
    let r = post_json(&state, "/predict", json!({"text": "a"})).await;
    assert_eq!(r.status, 404);
    assert_eq!(get(&state, "/v2/models/spam/ready").await.status, 404);
    let idx = post_json(&state, "/v2/repository/index", json!({}))
        .await
        .json();
    assert_eq!(idx[0]["state"], "UNAVAILABLE");
    assert_eq!(
        post_json(&state, "/v2/repository/index", json!({"ready": true}))
            .await
            .json(),
        json!([])
    );

    assert_eq!(
        post_json(&state, "/v2/repository/models/spam/load", json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        post_json(&state, "/predict", json!({"text": "a"}))
            .await
            .status,
        200
    );

    // A broken new version: the load fails, the old model keeps serving.
    repo.add("spam", 2, &fixture("refused_adaboost.pkl"));
    let r = post_json(&state, "/v2/repository/models/spam/load", json!({})).await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "model_load_failed")
    );
    let r = post_json(&state, "/predict", json!({"text": "a"})).await;
    assert_eq!((r.status, r.json()["version"].clone()), (200, json!("1")));
    let m = String::from_utf8(get(&state, "/metrics").await.body).unwrap();
    assert!(m.contains("model_loads_total{result=\"failure\"} 1"), "{m}");
    assert!(
        m.contains("model_info{model=\"spam\",version=\"1\"} 1"),
        "{m}"
    );
    let idx = post_json(&state, "/v2/repository/index", json!({}))
        .await
        .json();
    assert!(
        idx[0]["reason"].as_str().unwrap().contains("version 2"),
        "{idx}"
    );

    let r = post_json(&state, "/v2/repository/models/ghost/load", json!({})).await;
    assert_eq!(r.status, 404);
    let r = post_json(&state, "/v2/repository/models/ghost/unload", json!({})).await;
    assert_eq!(r.status, 404);
    let r = post_json(
        &state,
        "/v2/repository/models/..%2F..%2Fetc/load",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn rescan_picks_up_new_versions_and_keeps_failed_models() {
    let repo = Repo::spam();
    let state = loaded(config(&repo)).await;
    repo.add("spam", 2, &spam_model());
    assert_eq!(state.reload().await.unwrap(), 0);
    assert_eq!(
        post_json(&state, "/predict", json!({"text": "a"}))
            .await
            .json()["version"],
        "2"
    );
    repo.add("spam", 3, &fixture("refused_adaboost.pkl"));
    assert_eq!(state.reload().await.unwrap(), 1);
    assert_eq!(
        post_json(&state, "/predict", json!({"text": "a"}))
            .await
            .json()["version"],
        "2"
    );
    assert_eq!(
        get(&state, "/readyz").await.status,
        200,
        "still ready: the old model serves"
    );
    std::fs::remove_dir_all(repo.path().join("spam/3")).unwrap();
    std::fs::remove_dir_all(repo.path().join("spam/2")).unwrap();
    assert_eq!(state.reload().await.unwrap(), 0);
    assert_eq!(
        post_json(&state, "/predict", json!({"text": "a"}))
            .await
            .json()["version"],
        "1"
    );
    let m = String::from_utf8(get(&state, "/metrics").await.body).unwrap();
    assert!(
        !m.contains("model_info{model=\"spam\",version=\"2\"}"),
        "removed version leaves model_info"
    );
}

#[tokio::test]
async fn statistics_extension() {
    let state = loaded(config(&Repo::spam())).await;
    post_json(
        &state,
        "/v2/models/spam/infer",
        oip_request(&["a", "b", "a"]),
    )
    .await;
    post_json(&state, "/predict", json!({"text": "c"})).await;
    let s = get(&state, "/v2/models/spam/stats").await.json();
    let m = &s["model_stats"][0];
    assert_eq!(
        (m["name"].clone(), m["version"].clone()),
        (json!("spam"), json!("1"))
    );
    assert_eq!(m["inference_count"], 4);
    assert_eq!(m["execution_count"], 2);
    assert_eq!(m["inference_stats"]["success"]["count"], 2);
    assert_eq!(m["inference_stats"]["cache_hit"]["count"], 1);
    assert_eq!(m["inference_stats"]["cache_miss"]["count"], 3);
    assert!(m["last_inference"].as_u64().unwrap() > 0);
    assert_eq!(
        get(&state, "/v2/models/spam/versions/1/stats").await.json()["model_stats"][0]["inference_count"],
        4
    );
    assert_eq!(
        get(&state, "/v2/models/stats").await.json()["model_stats"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(get(&state, "/v2/models/nope/stats").await.status, 404);
}

#[tokio::test]
async fn metrics_exposition() {
    let state = loaded(config(&Repo::spam())).await;
    post_json(&state, "/v1/models/spam/predict", json!({"text": "x"})).await;
    get(&state, "/nope/123").await;
    let r = get(&state, "/metrics").await;
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let m = String::from_utf8(r.body).unwrap();
    for needle in [
        "inference_duration_seconds_bucket{model=\"spam\",version=\"1\",le=\"0.00001\"}",
        "inference_duration_seconds_bucket{model=\"spam\",version=\"1\",le=\"10\"}",
        "http_requests_total{method=\"POST\",route=\"/v1/models/{name}/predict\",status=\"200\"} 1",
        "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "http_request_duration_seconds_bucket{route=\"/v1/models/{name}/predict\",le=\"0.00001\"}",
        "# TYPE http_requests_in_flight gauge",
        "http_requests_shed_total 0",
        "model_loads_total{result=\"success\"} 1",
        "model_info{model=\"spam\",version=\"1\"} 1",
        "inference_cache_misses_total{model=\"spam\"} 1",
        "# TYPE inference_cache_hits_total counter",
        "# TYPE process_cpu_seconds_total counter",
        "# TYPE process_resident_memory_bytes gauge",
    ] {
        assert!(m.contains(needle), "missing {needle} in\n{m}");
    }
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let repo = Repo::spam();
    let state = loaded(config(&repo)).await;
    let doc = get(&state, "/openapi.json").await.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let routes = [
        ("/v1/models/{name}/predict", "post"),
        ("/v1/models/{name}/versions/{version}/predict", "post"),
        ("/predict", "post"),
        ("/v2/health/live", "get"),
        ("/v2/health/ready", "get"),
        ("/v2", "get"),
        ("/v2/models/stats", "get"),
        ("/v2/models/{name}", "get"),
        ("/v2/models/{name}/versions/{version}", "get"),
        ("/v2/models/{name}/ready", "get"),
        ("/v2/models/{name}/versions/{version}/ready", "get"),
        ("/v2/models/{name}/infer", "post"),
        ("/v2/models/{name}/versions/{version}/infer", "post"),
        ("/v2/models/{name}/stats", "get"),
        ("/v2/models/{name}/versions/{version}/stats", "get"),
        ("/v2/repository/index", "post"),
        ("/v2/repository/models/{name}/load", "post"),
        ("/v2/repository/models/{name}/unload", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/docs", "get"),
    ];
    assert_eq!(
        paths.len(),
        routes.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, method) in routes {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} undocumented"
        );
        // And the router really serves it (not 404/405).
        let uri = path.replace("{name}", "spam").replace("{version}", "1");
        let req = Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(&uri)
            .header("content-type", "application/json")
            .body(Body::from(if method == "post" {
                r#"{"text":"a"}"#
            } else {
                ""
            }))
            .unwrap();
        let r = send(&state, req).await;
        let routed = r.status < 400
            || !["route_not_found", "method_not_allowed"].contains(&r.error_type().as_str());
        assert!(routed, "{method} {uri}: {}", r.status);
        // What --auth required adds: 401/429 (and 403 on admin routes)
        // everywhere but the probes, metrics and docs.
        let op = &paths[path][method];
        let open = [
            "/healthz",
            "/readyz",
            "/v2/health/live",
            "/v2/health/ready",
            "/metrics",
            "/openapi.json",
            "/docs",
        ]
        .contains(&path);
        for status in ["401", "429"] {
            assert_eq!(
                op["responses"].get(status).is_some(),
                !open,
                "{method} {path}: {status}"
            );
        }
        assert_eq!(
            op["responses"].get("403").is_some(),
            path.starts_with("/v2/repository/"),
            "{method} {path}: 403"
        );
        assert_eq!(op["security"][0].get("bearer").is_some(), !open, "{path}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let page = get(&state, "/docs").await;
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("/v2/models/{name}/infer") && html.contains("<h1>Falcon API</h1>"));
}
