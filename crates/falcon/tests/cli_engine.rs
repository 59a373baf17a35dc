//! `falcon predict` and `falcon model inspect` as a user runs them: the real
//! binary, real model files, stdin/stdout and exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo_model() -> PathBuf {
    root().join("models/spam/1/model.joblib")
}

fn fixture(name: &str) -> PathBuf {
    root()
        .join("crates/falcon_engine/tests/fixtures")
        .join(name)
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_falcon"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("falcon runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("falcon exits")
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .expect("UTF-8 stdout")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

#[test]
fn predict_answers_every_line_in_order_and_names_bad_lines() {
    let model = demo_model();
    let input = concat!(
        "{\"text\": \"Meeting moved to 3pm, see agenda attached\"}\n",
        "not json\n",
        "\n",
        "{\"text\": \"WIN a FREE cruise!!! Click here now to claim your $1000 prize\", \"id\": 7}\n",
        "{\"txt\": \"wrong field\"}\n",
    );
    let out = run(
        &["predict", "--model", model.to_str().unwrap()],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1), "bad lines make the exit code 1");
    let got = lines(&out);
    assert_eq!(got.len(), 4, "one answer per non-blank input line: {got:?}");
    assert_eq!(got[0]["label"], "ham");
    assert_eq!(got[1]["line"], 2);
    assert!(
        got[1]["error"]
            .as_str()
            .unwrap()
            .contains("expected a JSON object")
    );
    assert_eq!(got[2]["label"], "spam");
    let p = &got[2]["probabilities"];
    let sum = p["ham"].as_f64().unwrap() + p["spam"].as_f64().unwrap();
    assert!((sum - 1.0).abs() < 1e-12);
    assert!(got[2]["decision"].as_f64().unwrap() > 0.0);
    assert_eq!(got[3]["line"], 5);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2:") && stderr.contains("line 5:"),
        "{stderr}"
    );
}

#[test]
fn predict_rejects_invalid_utf8_without_stopping() {
    let model = demo_model();
    let mut input = b"{\"text\": \"\xff\xfe\"}\n".to_vec();
    input.extend_from_slice(b"{\"text\": \"hello\"}\n");
    let out = run(&["predict", "--model", model.to_str().unwrap()], &input);
    let got = lines(&out);
    assert!(got[0]["error"].as_str().unwrap().contains("invalid UTF-8"));
    assert!(got[1]["label"].is_string());
}

#[test]
fn explain_lists_top_ngrams_that_sum_with_the_intercept_to_the_decision() {
    let model = demo_model();
    let out = run(
        &[
            "predict",
            "--model",
            model.to_str().unwrap(),
            "--explain",
            "5",
        ],
        b"{\"text\": \"FREE money!!! Click here to claim your prize\"}\n",
    );
    assert!(out.status.success());
    let got = &lines(&out)[0];
    let e = got["explanation"].as_array().expect("explanation");
    assert_eq!(e.len(), 5);
    let c: Vec<f64> = e
        .iter()
        .map(|x| x["contribution"].as_f64().unwrap())
        .collect();
    assert!(
        c.windows(2).all(|w| w[0] >= w[1]),
        "sorted, largest first: {c:?}"
    );
    assert!(e.iter().all(|x| !x["feature"].as_str().unwrap().is_empty()));
}

#[test]
fn multiclass_decision_is_keyed_by_class() {
    let model = fixture("lr_multinomial_tfidf_bigram.pkl");
    let out = run(
        &["predict", "--model", model.to_str().unwrap()],
        b"{\"text\": \"hello world\"}\n",
    );
    assert!(out.status.success());
    let got = &lines(&out)[0];
    assert_eq!(got["decision"].as_object().expect("per-class map").len(), 3);
    assert_eq!(
        got["probabilities"]
            .as_object()
            .expect("per-class map")
            .len(),
        3
    );
}

#[test]
fn inspect_reports_supported_and_refused_models() {
    let ok = run(&["model", "inspect", demo_model().to_str().unwrap()], b"");
    assert!(ok.status.success());
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        text.contains("supported:   yes") && text.contains("features:    240690"),
        "{text}"
    );

    let refused = fixture("refused_custom_tokenizer.pkl");
    let bad = run(
        &["model", "inspect", refused.to_str().unwrap(), "--json"],
        b"",
    );
    assert_eq!(bad.status.code(), Some(2));
    let j: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("JSON");
    assert_eq!(j["supported"], false);
    assert!(
        j["reason"].as_str().unwrap().contains("custom_tokenizer"),
        "{j}"
    );
}

#[test]
fn a_missing_or_corrupt_model_is_a_clear_error() {
    let out = run(&["predict", "--model", "/nonexistent/model.joblib"], b"");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/model.joblib"));

    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(demo_model()).unwrap();
    let cut = dir.path().join("truncated.joblib");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&["predict", "--model", cut.to_str().unwrap()], b"");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error:") && !err.contains("panicked"), "{err}");
}

/// The unpickler's reason appears once on stderr (`EngineError` includes
/// its source in its message; anyhow's `{:#}` printed it a second time).
#[test]
fn a_refused_model_states_its_reason_once() {
    let dir = tempfile::tempdir().unwrap();
    // `pickle.dumps(os.system)`: a global that is not on the allowlist.
    let evil = dir.path().join("evil.pkl");
    std::fs::write(
        &evil,
        b"\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94.",
    )
    .unwrap();
    let reason = "refusing to load posix.system: not on the allowlist";
    for args in [
        vec!["predict", "--model", evil.to_str().unwrap()],
        vec![
            "model",
            "bench",
            "--model",
            evil.to_str().unwrap(),
            "--input",
            "/dev/null",
        ],
    ] {
        let out = run(&args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches(reason).count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: loading "), "{err}");
    }
    let out = run(&["model", "inspect", evil.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches(reason).count(), 1, "{text}");
}

/// A file the unpickler accepts but the engine refuses is described from
/// the one parse `inspect` makes (steps listed, reason given once).
#[test]
fn inspect_describes_a_refused_pipeline_from_its_single_parse() {
    let dir = tempfile::tempdir().unwrap();
    // A `Pipeline` with an empty state: unpickles, then is refused.
    let file = dir.path().join("no_steps.pkl");
    std::fs::write(&file, b"\x80\x04csklearn.pipeline\nPipeline\n)\x81}b.").unwrap();
    let out = run(&["model", "inspect", file.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("supported:   no"), "{text}");
    assert_eq!(text.matches("Pipeline.steps").count(), 1, "{text}");
    assert!(
        text.contains("steps:\n  sklearn.pipeline.Pipeline"),
        "{text}"
    );
}
