//! Models that name the user's own text code, served from the repository
//! with the declarations of their `config.toml` (issue #17): a tokenizer
//! function, a server-side `preprocess`; undeclared code refused with the
//! declaration to write; an edited declaration reloads, a broken one keeps
//! the previous load serving.

mod common;

use common::*;
use falcon_server::AppState;
use serde_json::{Value, json};

fn custom(name: &str) -> std::path::PathBuf {
    fixture(&format!("custom/{name}"))
}

fn declaration(name: &str) -> String {
    std::fs::read_to_string(custom(name).join("callables.toml")).unwrap()
}

/// The fixture's first held-out texts and scikit-learn's answers for them.
fn expected(name: &str, n: usize) -> Vec<(String, String, Vec<f64>)> {
    let e: Value =
        serde_json::from_str(&std::fs::read_to_string(custom(name).join("expected.json")).unwrap())
            .unwrap();
    let texts = std::fs::read_to_string(custom(name).join("texts.jsonl")).unwrap();
    texts
        .lines()
        .take(n)
        .enumerate()
        .map(|(i, l)| {
            let t: Value = serde_json::from_str(l).unwrap();
            (
                t["text"].as_str().unwrap().to_string(),
                e["labels"][i].as_str().unwrap().to_string(),
                e["proba"][i]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_f64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

async fn check_answers(state: &AppState, model: &str, name: &str) {
    let classes: Value = serde_json::from_str::<Value>(
        &std::fs::read_to_string(custom(name).join("expected.json")).unwrap(),
    )
    .unwrap()["classes"]
        .clone();
    for (text, label, proba) in expected(name, 20) {
        let r = post_json(
            state,
            &format!("/v1/models/{model}/predict"),
            json!({"text": text}),
        )
        .await;
        assert_eq!(r.status, 200, "{text:?}");
        let j = r.json();
        assert_eq!(j["label"], label, "{text:?}");
        for (i, c) in classes.as_array().unwrap().iter().enumerate() {
            let got = j["probabilities"][c.as_str().unwrap()].as_f64().unwrap();
            assert!(
                (got - proba[i]).abs() <= 1e-9,
                "{text:?}: {got} vs {}",
                proba[i]
            );
        }
    }
}

#[tokio::test]
async fn a_declared_tokenizer_and_a_preprocess_step_are_served_exactly() {
    let repo = Repo::new();
    repo.add("urls", 1, &custom("url_tokens").join("model.joblib"))
        .config("urls", &declaration("url_tokens"));
    repo.add("clean", 1, &custom("server_clean").join("model.joblib"))
        .config("clean", &declaration("server_clean"));
    let state = loaded(config(&repo)).await;
    check_answers(&state, "urls", "url_tokens").await;
    check_answers(&state, "clean", "server_clean").await;
}

#[tokio::test]
async fn undeclared_code_is_unavailable_with_the_declaration_to_write() {
    let repo = Repo::new();
    repo.add("urls", 1, &custom("url_tokens").join("model.joblib"));
    let state = AppState::new(config(&repo));
    assert_eq!(state.reload().await.unwrap(), 1);
    let idx = post_json(&state, "/v2/repository/index", json!({}))
        .await
        .json();
    assert_eq!(idx[0]["state"], "UNAVAILABLE");
    let reason = idx[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("undeclared callable __main__.url_tokens")
            && reason.contains("[callables.\"__main__.url_tokens\"]"),
        "{reason}"
    );
}

#[tokio::test]
async fn editing_a_declaration_reloads_and_a_broken_one_keeps_the_previous_load() {
    let repo = Repo::new();
    repo.add("urls", 1, &custom("url_tokens").join("model.joblib"))
        .config("urls", &declaration("url_tokens"));
    let state = loaded(config(&repo)).await;
    let url = "http://www.paypal.com.secure-login.example.ru/webscr/cmd=_login-run";
    let ask = |state: AppState| async move {
        post_json(&state, "/v1/models/urls/predict", json!({"text": url}))
            .await
            .json()
    };
    let before = ask(state.clone()).await;
    // A broken declaration: refused with its reason, the previous load serves.
    repo.config(
        "urls",
        "[callables.\"__main__.url_tokens\"]\nsteps = [\"str.splitt\"]\n",
    );
    assert_eq!(state.reload().await.unwrap(), 1);
    let idx = post_json(&state, "/v2/repository/index", json!({}))
        .await
        .json();
    assert_eq!(idx[0]["state"], "READY");
    assert!(
        idx[0]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown operation \"str.splitt\""),
        "{idx}"
    );
    assert_eq!(ask(state.clone()).await, before);
    // A different (valid) declaration reloads: the answer follows it, not
    // the cache of the previous one.
    repo.config(
        "urls",
        "[callables.\"__main__.url_tokens\"]\nsteps = [{ op = \"str.split\", sep = \"/\" }]\n",
    );
    assert_eq!(state.reload().await.unwrap(), 0);
    let after = ask(state.clone()).await;
    assert_ne!(after["probabilities"], before["probabilities"]);
}
