//! Records and multi-label / multi-output answers through `falcon serve`:
//! the JSON API and OIP v2 answer what scikit-learn answered (the engine's
//! golden pipeline fixtures, `*.expected.json`), errors name the problem,
//! and cached answers are identical to computed ones.

mod common;

use common::*;
use falcon_server::AppState;
use serde_json::{Value, json};

const N: usize = 12;

fn pipelines(name: &str) -> std::path::PathBuf {
    fixture(&format!("pipelines/{name}"))
}

fn read_json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(pipelines(name)).unwrap()).unwrap()
}

fn texts(n: usize) -> Vec<String> {
    read_json("texts.json").as_array().unwrap()[..n]
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

fn records(n: usize) -> Vec<Value> {
    read_json("records.json").as_array().unwrap()[..n].to_vec()
}

/// A repository serving `(name, pipeline fixture)` models, all loaded
/// (the repository is returned to keep its directory alive).
async fn serve(models: &[(&str, &str)]) -> (AppState, Repo) {
    let repo = Repo::new();
    for (name, file) in models {
        repo.add(name, 1, &pipelines(file));
    }
    (loaded(config(&repo)).await, repo)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn assert_close(got: &Value, want: f64, what: &str) {
    let g = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {got} is not a number"));
    assert!(close(g, want), "{what}: {g} != {want}");
}

fn output<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no {name} output in {r}"))
}

fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Multi-label.

#[tokio::test]
async fn multi_label_json_answers_are_scikit_learns() {
    let (state, _repo) = serve(&[("tags", "multilabel_ovr_lr.z.joblib")]).await;
    let want = read_json("multilabel_ovr_lr.expected.json");
    let classes = want["classes"].as_array().unwrap().clone();
    let texts = texts(N);
    let r = post_json(&state, "/v1/models/tags/predict", json!({"texts": texts})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-cache"), Some("miss"));
    let body = r.json();
    let preds = body["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), N);
    for (i, p) in preds.iter().enumerate() {
        let indicator = want["predict"][i].as_array().unwrap();
        let positive: Vec<Value> = indicator
            .iter()
            .zip(&classes)
            .filter(|(on, _)| on.as_i64() == Some(1))
            .map(|(_, c)| c.clone())
            .collect();
        assert_eq!(p["label"], Value::Array(positive), "text {i}");
        for (j, c) in classes.iter().enumerate() {
            let key = py_str(c);
            assert_close(
                &p["probabilities"][&key],
                want["predict_proba"][i][j].as_f64().unwrap(),
                &format!("text {i} proba {key}"),
            );
            assert_close(
                &p["decision"][&key],
                want["decision_function"][i][j].as_f64().unwrap(),
                &format!("text {i} decision {key}"),
            );
        }
    }
    // One text: the same object with the model and version.
    let one = post_json(&state, "/v1/models/tags/predict", json!({"text": texts[3]})).await;
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(
        (&one["model"], &one["version"]),
        (&json!("tags"), &json!("1"))
    );
    assert_eq!(one["label"], preds[3]["label"]);
    assert_eq!(one["probabilities"], preds[3]["probabilities"]);

    // The cached answer is byte for byte the computed one.
    let again = post_json(&state, "/v1/models/tags/predict", json!({"texts": texts})).await;
    assert_eq!(again.header("x-cache"), Some("hit"));
    assert_eq!(again.body, r.body);

    // Explanations cover one predicted class: refused.
    let e = post_json(
        &state,
        "/v1/models/tags/predict?explain=3",
        json!({"text": "x"}),
    )
    .await;
    assert_eq!(e.status, 400);
    assert_eq!(e.error_type(), "explain_unsupported");
}

#[tokio::test]
async fn multi_label_oip_labels_are_json_lists() {
    let (state, _repo) = serve(&[("tags", "multilabel_ovr_mnb.z.joblib")]).await;
    let want = read_json("multilabel_ovr_mnb.expected.json");
    let classes = want["classes"].as_array().unwrap().clone();
    let texts = texts(N);
    let r = post_json(
        &state,
        "/v2/models/tags/infer",
        json!({"inputs": [{"name": "text", "shape": [N], "datatype": "BYTES", "data": texts}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    let label = output(&body, "label");
    assert_eq!(
        (&label["datatype"], &label["shape"]),
        (&json!("BYTES"), &json!([N]))
    );
    let probs = output(&body, "probabilities");
    assert_eq!(probs["shape"], json!([N, classes.len()]));
    assert!(
        body["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["name"] != "decision"),
        "naive Bayes has no decision_function: {body}"
    );
    for i in 0..N {
        let list: Value = serde_json::from_str(label["data"][i].as_str().unwrap()).unwrap();
        let positive: Vec<Value> = want["predict"][i]
            .as_array()
            .unwrap()
            .iter()
            .zip(&classes)
            .filter(|(on, _)| on.as_i64() == Some(1))
            .map(|(_, c)| c.clone())
            .collect();
        assert_eq!(list, Value::Array(positive), "text {i}");
        for j in 0..classes.len() {
            assert_close(
                &probs["data"][i * classes.len() + j],
                want["predict_proba"][i][j].as_f64().unwrap(),
                &format!("text {i} class {j}"),
            );
        }
    }
    let meta = get(&state, "/v2/models/tags").await.json();
    assert_eq!(meta["parameters"]["output_kind"], "multilabel");
    assert_eq!(meta["parameters"]["classes"], json!(["0", "1", "2", "3"]));
    assert_eq!(
        meta["outputs"][0],
        json!({"name": "label", "datatype": "BYTES", "shape": [-1]})
    );

    // Top-N classification ranks one label's classes: refused here.
    let r = post_json(
        &state,
        "/v2/models/tags/infer",
        json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x"]}],
               "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_type(), "invalid_request");
}

// ---------------------------------------------------------------------------
// Multi-output.

#[tokio::test]
async fn multi_output_json_and_oip_answers_are_scikit_learns() {
    let (state, _repo) = serve(&[("outputs", "multioutput_lr.z.joblib")]).await;
    let want = read_json("multioutput_lr.expected.json");
    let per_output = want["classes"].as_array().unwrap().clone();
    let texts = texts(N);
    let r = post_json(
        &state,
        "/v1/models/outputs/predict",
        json!({"texts": texts}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    for (i, p) in body["predictions"].as_array().unwrap().iter().enumerate() {
        assert_eq!(p["label"], want["predict"][i], "text {i}");
        assert!(p.get("decision").is_none());
        for (k, classes) in per_output.iter().enumerate() {
            for (j, c) in classes.as_array().unwrap().iter().enumerate() {
                assert_close(
                    &p["probabilities"][k][py_str(c)],
                    want["predict_proba"][i][k][j].as_f64().unwrap(),
                    &format!("text {i} output {k} class {c}"),
                );
            }
        }
    }
    let again = post_json(
        &state,
        "/v1/models/outputs/predict",
        json!({"texts": texts}),
    )
    .await;
    assert_eq!(again.header("x-cache"), Some("hit"));
    assert_eq!(again.body, r.body, "a cached answer is the computed one");

    // OIP: label [n, outputs]; probabilities [n, Σ classes], per output.
    let r = post_json(
        &state,
        "/v2/models/outputs/infer",
        json!({"inputs": [{"name": "text", "shape": [N], "datatype": "BYTES", "data": texts}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    let label = output(&body, "label");
    assert_eq!(label["shape"], json!([N, 2]));
    let probs = output(&body, "probabilities");
    assert_eq!(probs["shape"], json!([N, 4]));
    for i in 0..N {
        for k in 0..2 {
            assert_eq!(label["data"][i * 2 + k], want["predict"][i][k]);
            for j in 0..2 {
                assert_close(
                    &probs["data"][i * 4 + k * 2 + j],
                    want["predict_proba"][i][k][j].as_f64().unwrap(),
                    &format!("text {i} output {k} class {j}"),
                );
            }
        }
    }
    let meta = get(&state, "/v2/models/outputs").await.json();
    assert_eq!(meta["parameters"]["output_kind"], "multioutput");
    assert_eq!(
        meta["parameters"]["output_classes"],
        json!([["ham", "spam"], ["long", "short"]])
    );
    let shapes: Vec<(&Value, &Value)> = meta["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (&o["name"], &o["shape"]))
        .collect();
    assert_eq!(
        shapes,
        vec![
            (&json!("label"), &json!([-1, 2])),
            (&json!("probabilities"), &json!([-1, 4]))
        ]
    );
    // No decision_function: asking for it is a 400 naming it.
    let r = post_json(
        &state,
        "/v2/models/outputs/infer",
        json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x"]}],
               "outputs": [{"name": "decision"}]}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("decision"));
}

// ---------------------------------------------------------------------------
// Records.

#[tokio::test]
async fn records_json_answers_are_scikit_learns() {
    let (state, repo) = serve(&[("columns", "columns_title_body_weights.z.joblib")]).await;
    repo.add("spam", 1, &spam_model());
    assert_eq!(state.reload().await.unwrap(), 0);
    let want = read_json("columns_title_body_weights.expected.json");
    let classes = want["classes"].as_array().unwrap().clone();
    let records = records(N);
    let r = post_json(
        &state,
        "/v1/models/columns/predict",
        json!({"records": records}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    for (i, p) in body["predictions"].as_array().unwrap().iter().enumerate() {
        assert_eq!(p["label"], want["predict"][i], "record {i}");
        for (j, c) in classes.iter().enumerate() {
            assert_close(
                &p["probabilities"][py_str(c)],
                want["predict_proba"][i][j].as_f64().unwrap(),
                &format!("record {i} proba {c}"),
            );
            assert_close(
                &p["decision"][py_str(c)],
                want["decision_function"][i][j].as_f64().unwrap(),
                &format!("record {i} decision {c}"),
            );
        }
    }
    let one = post_json(
        &state,
        "/v1/models/columns/predict",
        json!({"record": records[2]}),
    )
    .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.header("x-cache"), Some("hit"), "cached by the batch");
    assert_eq!(one.json()["label"], want["predict"][2]);
    // The same columns swapped between them: another record, a miss.
    let swapped = json!({"record": {"title": records[2]["body"], "body": records[2]["title"]}});
    let r = post_json(&state, "/v1/models/columns/predict", swapped).await;
    assert_eq!((r.status, r.header("x-cache")), (200, Some("miss")));

    // Explanations work on records of a single-label model.
    let e = post_json(
        &state,
        "/v1/models/columns/predict?explain=2",
        json!({"record": records[0]}),
    )
    .await;
    assert_eq!(e.status, 200, "{}", String::from_utf8_lossy(&e.body));
    assert_eq!(e.json()["label"], want["predict"][0]);
    assert_eq!(e.json()["explanation"].as_array().unwrap().len(), 2);

    // Errors: each a 400 in the one envelope, naming the problem.
    for (body, needle) in [
        (json!({"record": {"title": "x"}}), "body"),
        (
            json!({"record": {"title": "x", "body": "y", "footer": "z"}}),
            "footer",
        ),
        (json!({"record": {"title": "x", "body": 3}}), "\"body\""),
        (json!({"text": "a text"}), "records with the columns"),
        (json!({"records": [records[0], {"title": "x"}]}), "body"),
        (json!({"text": "x", "record": records[0]}), "exactly one of"),
    ] {
        let r = post_json(&state, "/v1/models/columns/predict", body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.error_type(), "invalid_request", "{body}");
        let msg = r.json()["error"].as_str().unwrap().to_string();
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let r = post_json(
        &state,
        "/v1/models/spam/predict",
        json!({"record": {"text": "x"}}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_type(), "invalid_request");
    assert!(r.json()["error"].as_str().unwrap().contains("takes texts"));
}

#[tokio::test]
async fn a_text_column_model_answers_texts_and_records_alike() {
    let (state, _repo) = serve(&[("t", "columns_text_only_mnb.z.joblib")]).await;
    let want = read_json("columns_text_only_mnb.expected.json");
    let texts = texts(4);
    let as_texts = post_json(&state, "/v1/models/t/predict", json!({"texts": texts})).await;
    assert_eq!(as_texts.status, 200);
    let recs: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
    let as_records = post_json(&state, "/v1/models/t/predict", json!({"records": recs})).await;
    assert_eq!(as_records.status, 200);
    assert_eq!(
        as_records.header("x-cache"),
        Some("miss"),
        "records are keyed apart"
    );
    assert_eq!(
        as_texts.json()["predictions"],
        as_records.json()["predictions"]
    );
    for (i, p) in as_texts.json()["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(p["label"], want["predict"][i]);
    }
    // OIP: the one `text` input.
    let meta = get(&state, "/v2/models/t").await.json();
    assert_eq!(
        meta["inputs"],
        json!([{"name": "text", "datatype": "BYTES", "shape": [-1]}])
    );
}

fn bytes_input(name: &str, values: &[&str]) -> Value {
    json!({"name": name, "shape": [values.len()], "datatype": "BYTES", "data": values})
}

#[tokio::test]
async fn records_in_oip_are_one_input_per_column() {
    let (state, _repo) = serve(&[("columns", "columns_title_body_weights.z.joblib")]).await;
    let want = read_json("columns_title_body_weights.expected.json");
    let records = records(N);
    let col = |c: &str| -> Vec<&str> { records.iter().map(|r| r[c].as_str().unwrap()).collect() };
    let meta = get(&state, "/v2/models/columns").await.json();
    let mut inputs: Vec<&str> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    inputs.sort();
    assert_eq!(inputs, ["body", "title"]);

    // Inputs in any order.
    let r = post_json(
        &state,
        "/v2/models/columns/infer",
        json!({"inputs": [bytes_input("body", &col("body")), bytes_input("title", &col("title"))]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(
        output(&body, "label")["data"],
        json!(want["predict"].as_array().unwrap()[..N])
    );
    let probs = output(&body, "probabilities");
    for i in 0..N {
        for j in 0..3 {
            assert_close(
                &probs["data"][i * 3 + j],
                want["predict_proba"][i][j].as_f64().unwrap(),
                &format!("record {i} class {j}"),
            );
        }
    }
    // The JSON API's records share the cache entries of OIP's.
    let r = post_json(
        &state,
        "/v1/models/columns/predict",
        json!({"records": records}),
    )
    .await;
    assert_eq!(r.header("x-cache"), Some("hit"));

    // The binary extension: each input's bytes in input order.
    let mut bin = Vec::new();
    let mut sizes = Vec::new();
    for c in ["title", "body"] {
        let before = bin.len();
        for v in &col(c)[..2] {
            bin.extend_from_slice(&(v.len() as u32).to_le_bytes());
            bin.extend_from_slice(v.as_bytes());
        }
        sizes.push(bin.len() - before);
    }
    let head = json!({"inputs": [
        {"name": "title", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": sizes[0]}},
        {"name": "body", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": sizes[1]}},
    ]})
    .to_string();
    let mut raw = head.clone().into_bytes();
    raw.extend_from_slice(&bin);
    let r = send(
        &state,
        http::Request::post("/v2/models/columns/infer")
            .header("content-type", "application/octet-stream")
            .header("inference-header-content-length", head.len())
            .body(axum::body::Body::from(raw))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        output(&r.json(), "label")["data"],
        json!(want["predict"].as_array().unwrap()[..2])
    );

    for (inputs, needle) in [
        (
            json!([bytes_input("title", &["a"])]),
            "missing input \"body\"",
        ),
        (
            json!([
                bytes_input("title", &["a"]),
                bytes_input("body", &["b"]),
                bytes_input("x", &["c"])
            ]),
            "unknown input \"x\"",
        ),
        (
            json!([
                bytes_input("title", &["a", "b"]),
                bytes_input("body", &["c"])
            ]),
            "different batch sizes",
        ),
        (
            json!([
                bytes_input("title", &["a"]),
                bytes_input("title", &["b"]),
                bytes_input("body", &["c"])
            ]),
            "given twice",
        ),
        (
            json!([bytes_input("text", &["a"])]),
            "unknown input \"text\"",
        ),
        (json!([]), "missing input"),
    ] {
        let r = post_json(
            &state,
            "/v2/models/columns/infer",
            json!({"inputs": inputs}),
        )
        .await;
        assert_eq!(r.status, 400, "{inputs}");
        assert_eq!(r.error_type(), "invalid_request");
        let msg = r.json()["error"].as_str().unwrap().to_string();
        assert!(msg.contains(needle), "{inputs}: {msg}");
    }
}

// ---------------------------------------------------------------------------
// One decision value per pair of classes.

/// `SVC(decision_function_shape="ovo")` with four classes: `decision` is
/// `[n, 6]` in OIP (metadata included) and keyed `"a vs b"` in JSON; a
/// cached answer is served as computed (the shared-cache plausibility
/// check knows the pair shape); ranking classes by pair decisions is
/// refused.
#[tokio::test]
async fn ovo_decisions_have_one_value_per_pair() {
    let (state, _repo) = serve(&[("svc", "svc_rbf_quad_ovo_prob.z.joblib")]).await;
    let want = read_json("svc_rbf_quad_ovo_prob.expected.json");
    let classes = want["classes"].as_array().unwrap().clone();
    assert_eq!(classes.len(), 4);
    let texts = texts(N);
    let meta = get(&state, "/v2/models/svc").await.json();
    let decision_meta = meta["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "decision")
        .unwrap_or_else(|| panic!("no decision output in {meta}"));
    assert_eq!(decision_meta["shape"], json!([-1, 6]));

    let infer =
        json!({"inputs": [{"name": "text", "shape": [N], "datatype": "BYTES", "data": texts}]});
    for pass in ["miss", "hit"] {
        let r = post_json(&state, "/v2/models/svc/infer", infer.clone()).await;
        assert_eq!(
            r.status,
            200,
            "{pass}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let body = r.json();
        let label = output(&body, "label");
        let decision = output(&body, "decision");
        assert_eq!(decision["shape"], json!([N, 6]), "{pass}");
        for i in 0..N {
            assert_eq!(label["data"][i], want["predict"][i], "{pass} text {i}");
            for j in 0..6 {
                assert_close(
                    &decision["data"][i * 6 + j],
                    want["decision_function"][i][j].as_f64().unwrap(),
                    &format!("{pass} text {i} pair {j}"),
                );
            }
        }
    }

    // JSON keys the pairs by class names, in scikit-learn's pair order.
    let r = post_json(&state, "/v1/models/svc/predict", json!({"text": texts[0]})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    let first = format!("{} vs {}", py_str(&classes[0]), py_str(&classes[1]));
    assert_close(
        &body["decision"][&first],
        want["decision_function"][0][0].as_f64().unwrap(),
        &first,
    );

    let r = post_json(
        &state,
        "/v2/models/svc/infer",
        json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x"]}],
               "outputs": [{"name": "decision", "parameters": {"classification": 2}}]}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_type(), "invalid_request");
    assert!(String::from_utf8_lossy(&r.body).contains("pair"));
}
