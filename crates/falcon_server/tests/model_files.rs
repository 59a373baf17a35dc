//! Models as people save them, served from the repository: several files
//! chained by `files = [...]` in `config.toml`, and class renaming by
//! `[labels]`, through the JSON API, OIP v2 and the repository API; hostile
//! configs refused with the previous load kept serving.

mod common;

use std::path::Path;

use common::*;
use falcon_engine::Model;
use falcon_server::AppState;
use serde_json::{Value, json};

const SPAMMY: &str = "FREE!!! Click here to claim your $1000 prize now";

fn pipelines(name: &str) -> std::path::PathBuf {
    fixture(&format!("pipelines/{name}"))
}

/// `<name>/<version>/` holding `files` (as `(name in the version
/// directory, source)`), for a `files = [...]` config.
fn add_files(repo: &Repo, name: &str, version: u64, files: &[(&str, &Path)]) {
    let dir = repo.path().join(name).join(version.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    for (file, src) in files {
        std::fs::copy(src, dir.join(file)).unwrap();
    }
}

const TWO_FILES: &str = "files = [\"vectorizer.joblib\", \"classifier.joblib\"]\n";

fn two_files_repo() -> Repo {
    let repo = Repo::new();
    add_files(
        &repo,
        "svc",
        1,
        &[
            (
                "vectorizer.joblib",
                &pipelines("two_files_tfidf_svc.part1.joblib"),
            ),
            (
                "classifier.joblib",
                &pipelines("two_files_tfidf_svc.part2.joblib"),
            ),
        ],
    );
    repo.config("svc", TWO_FILES);
    repo
}

fn oip(texts: &[&str]) -> Value {
    json!({"inputs": [{"name": "text", "shape": [texts.len()], "datatype": "BYTES", "data": texts}]})
}

fn output<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no {name} output in {r}"))
}

#[tokio::test]
async fn a_model_in_two_files_is_served_like_the_engine_chains_it() {
    let repo = two_files_repo();
    let state = loaded(config(&repo)).await;
    let engine = Model::load_chain(&[
        pipelines("two_files_tfidf_svc.part1.joblib"),
        pipelines("two_files_tfidf_svc.part2.joblib"),
    ])
    .unwrap();
    let expected = serde_json::to_value(engine.view(&engine.predict(SPAMMY).unwrap())).unwrap();
    let r = post_json(&state, "/v1/models/svc/predict", json!({"text": SPAMMY})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    assert_eq!(j["label"], expected["label"]);
    assert_eq!(j["decision"], expected["decision"]);

    let o = post_json(&state, "/v2/models/svc/infer", oip(&[SPAMMY])).await;
    assert_eq!(o.status, 200);
    assert_eq!(
        output(&o.json(), "label")["data"],
        json!([expected["label"]])
    );

    let meta = get(&state, "/v2/models/svc").await.json();
    assert_eq!(
        meta["parameters"]["files"],
        json!(["vectorizer.joblib", "classifier.joblib"])
    );
    assert_eq!(
        meta["parameters"]["classes"],
        json!(["easy-ham", "hard-ham", "spam"])
    );
    // The repository API reloads it from its files.
    let r = post_json(&state, "/v2/repository/models/svc/load", json!({})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let idx = post_json(&state, "/v2/repository/index", json!({}))
        .await
        .json();
    assert_eq!(idx[0]["name"], "svc");
    assert_eq!(idx[0]["state"], "READY");
}

#[tokio::test]
async fn tuple_and_search_files_are_served_as_model_joblib() {
    let repo = Repo::new();
    repo.add("tuple", 1, &pipelines("tuple_tfidf_lr.z.joblib"));
    repo.add("grid", 1, &pipelines("gridsearch_tfidf_lr.z.joblib"));
    let state = loaded(config(&repo)).await;
    for name in ["tuple", "grid"] {
        let r = post_json(
            &state,
            &format!("/v1/models/{name}/predict"),
            json!({"text": SPAMMY}),
        )
        .await;
        assert_eq!(r.status, 200, "{name}");
        assert!(r.json()["probabilities"].is_object(), "{name}");
    }
}

const INT_LABELS: &str = "[labels]\n0 = \"ham\"\n1 = \"spam\"\n";

fn int_repo(config_toml: &str) -> Repo {
    let repo = Repo::new();
    repo.add("ints", 1, &fixture("lr_no_intercept_bin_int.pkl"));
    repo.config("ints", config_toml);
    repo
}

#[tokio::test]
async fn labels_rename_classes_in_json_oip_and_metadata() {
    let state = loaded(config(&int_repo(INT_LABELS))).await;
    let engine = Model::load(&fixture("lr_no_intercept_bin_int.pkl")).unwrap();
    let p = engine.predict(SPAMMY).unwrap();
    let names = ["ham", "spam"];

    for _ in 0..2 {
        // A miss, then a cache hit: both renamed.
        let r = post_json(&state, "/v1/models/ints/predict", json!({"text": SPAMMY})).await;
        assert_eq!(r.status, 200);
        let j = r.json();
        assert_eq!(j["label"], json!(names[p.label]), "{j}");
        let probs = j["probabilities"].as_object().unwrap();
        assert_eq!(probs.keys().collect::<Vec<_>>(), ["ham", "spam"]);
        assert_eq!(
            probs["spam"].as_f64().unwrap(),
            p.probabilities.as_ref().unwrap()[1]
        );
    }
    let batch = post_json(
        &state,
        "/v1/models/ints/predict?explain=2",
        json!({"texts": [SPAMMY, "hello"]}),
    )
    .await
    .json();
    for item in batch["predictions"].as_array().unwrap() {
        assert!(item["label"].is_string(), "{item}");
    }

    let o = post_json(&state, "/v2/models/ints/infer", oip(&[SPAMMY])).await;
    assert_eq!(o.status, 200);
    let o = o.json();
    assert_eq!(output(&o, "label")["data"], json!([names[p.label]]));
    // The classification extension names the class too.
    let req = json!({
        "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [SPAMMY]}],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]
    });
    let c = post_json(&state, "/v2/models/ints/infer", req).await.json();
    let top: Vec<String> = output(&c, "probabilities")["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().rsplit(':').next().unwrap().to_string())
        .collect();
    assert_eq!(top[0], names[p.label]);
    assert!(top.contains(&"ham".to_string()) && top.contains(&"spam".to_string()));

    let meta = get(&state, "/v2/models/ints").await.json();
    assert_eq!(meta["parameters"]["classes"], json!(["ham", "spam"]));
}

#[tokio::test]
async fn editing_labels_and_rescanning_renames_without_touching_the_file() {
    let repo = int_repo(INT_LABELS);
    let state = loaded(config(&repo)).await;
    let label = |j: Value| j["label"].as_str().map(str::to_string);
    let first = label(
        post_json(&state, "/v1/models/ints/predict", json!({"text": SPAMMY}))
            .await
            .json(),
    )
    .unwrap();
    repo.config("ints", "[labels]\n0 = \"good\"\n1 = \"bad\"\n");
    assert_eq!(state.reload().await.unwrap(), 0);
    let second = label(
        post_json(&state, "/v1/models/ints/predict", json!({"text": SPAMMY}))
            .await
            .json(),
    )
    .unwrap();
    let map = |s: &str| if s == "ham" { "good" } else { "bad" };
    assert_eq!(
        second,
        map(&first),
        "the cache must not answer the old name"
    );
}

/// Each hostile config is refused with a message naming the problem, by
/// the repository API and by a rescan, and the previous load keeps serving.
#[tokio::test]
async fn hostile_configs_are_refused_and_the_previous_load_keeps_serving() {
    let repo = two_files_repo();
    let state = loaded(config(&repo)).await;
    let before = post_json(&state, "/v1/models/svc/predict", json!({"text": SPAMMY}))
        .await
        .json();
    let cases = [
        ("files = [\"/etc/passwd\"]", "absolute path"),
        (
            "files = [\"../../svc/1/vectorizer.joblib\", \"classifier.joblib\"]",
            "`..` is not allowed",
        ),
        (
            "files = [\"vectorizer.joblib\", \"missing.joblib\"]",
            "missing.joblib",
        ),
        ("files = []", "empty"),
        (
            "files = [\"vectorizer.joblib\", \"classifier.joblib\"]\n[labels]\nham = \"x\"\n",
            "\"ham\" is not a class",
        ),
        (
            "files = [\"vectorizer.joblib\", \"classifier.joblib\"]\n[labels]\nspam = \"x\"\neasy-ham = \"x\"\n",
            "would both be called \"x\"",
        ),
        ("files = [\"vectorizer.joblib\"]", "not a classifier"),
    ];
    for (toml, why) in cases {
        repo.config("svc", toml);
        let r = post_json(&state, "/v2/repository/models/svc/load", json!({})).await;
        assert_ne!(r.status, 200, "{toml}");
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(error.contains(why), "{toml}: {error}");
        assert_eq!(state.reload().await.unwrap(), 1, "{toml}");
        let idx = post_json(&state, "/v2/repository/index", json!({}))
            .await
            .json();
        assert_eq!(idx[0]["state"], "READY", "{toml}: {idx}");
        assert!(idx[0]["reason"].as_str().unwrap().contains(why), "{idx}");
        let now = post_json(&state, "/v1/models/svc/predict", json!({"text": SPAMMY})).await;
        assert_eq!(now.status, 200, "{toml}");
        assert_eq!(now.json()["decision"], before["decision"], "{toml}");
    }
}

#[tokio::test]
async fn a_hostile_config_without_a_previous_load_is_unavailable_with_its_reason() {
    let repo = int_repo("[labels]\n7 = \"x\"\n");
    let state = AppState::new(config(&repo));
    assert_eq!(state.reload().await.unwrap(), 1);
    let idx = post_json(&state, "/v2/repository/index", json!({}))
        .await
        .json();
    assert_eq!(idx[0]["state"], "UNAVAILABLE");
    let reason = idx[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("config.toml") && reason.contains("\"7\" is not a class"),
        "{reason}"
    );
    let r = post_json(&state, "/v1/models/ints/predict", json!({"text": "x"})).await;
    assert_eq!(r.status, 404);
}

/// Multi-label, multi-output and record-input models, refused by the
/// server before it carried their shapes, load READY from the repository
/// (startup scan and the repository API's `load`) and answer. Their
/// answers are checked against scikit-learn's in `tests/outputs.rs`.
#[tokio::test]
async fn multi_answer_and_record_models_are_served() {
    let repo = Repo::new();
    let models = [
        (
            "tags",
            "multilabel_ovr_lr.z.joblib",
            json!({"text": SPAMMY}),
        ),
        (
            "outputs",
            "multioutput_lr.z.joblib",
            json!({"text": SPAMMY}),
        ),
        (
            "columns",
            "columns_title_body_weights.z.joblib",
            json!({"record": {"title": "Win", "body": SPAMMY}}),
        ),
    ];
    for (name, file, _) in &models {
        add_files(&repo, name, 1, &[("model.joblib", &pipelines(file))]);
    }
    let state = loaded(config(&repo)).await;
    let idx = post_json(&state, "/v2/repository/index", json!({}))
        .await
        .json();
    for (name, _, body) in &models {
        let entry = idx
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == *name)
            .unwrap_or_else(|| panic!("{name} not in {idx}"));
        assert_eq!(entry["state"], "READY", "{name}: {entry}");
        // Reloaded through the repository API, and answering.
        let r = post_json(
            &state,
            &format!("/v2/repository/models/{name}/load"),
            json!({}),
        )
        .await;
        assert_eq!(
            r.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let r = post_json(&state, &format!("/v1/models/{name}/predict"), body.clone()).await;
        assert_eq!(
            r.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(!r.json()["label"].is_null(), "{name}");
    }
}
