//! `falcon predict` with record models (`ColumnTransformer`) and models
//! that answer several labels (multi-label, multi-output): the real binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../falcon_engine/tests/fixtures/pipelines")
        .join(name)
}

fn predict(model: &str, stdin: &[u8], extra: &[&str]) -> Output {
    let model = fixture(model);
    let mut args = vec!["predict", "--model", model.to_str().expect("UTF-8 path")];
    args.extend_from_slice(extra);
    let mut child = Command::new(env!("CARGO_BIN_EXE_falcon"))
        .args(&args)
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
fn records_in_labels_out_and_bad_records_named() {
    let input = concat!(
        r#"{"title": "cheap meds", "body": "buy now at http://example.com"}"#,
        "\n",
        r#"{"title": "meeting"}"#,
        "\n",
        r#"{"title": "a", "body": "b", "sender": "c"}"#,
        "\n",
        r#"{"title": "a", "body": 3}"#,
        "\n",
        r#"{"body": "hello", "title": "re: lunch"}"#,
        "\n",
    );
    let out = predict("columns_title_body_weights.z.joblib", input.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(1), "three lines fail");
    let l = lines(&out);
    assert_eq!(l.len(), 5);
    for ok in [&l[0], &l[4]] {
        assert!(ok["label"].is_string(), "{ok}");
        assert_eq!(
            ok["probabilities"]
                .as_object()
                .expect("probabilities")
                .len(),
            3
        );
    }
    assert!(
        l[1]["error"]
            .as_str()
            .unwrap()
            .contains("missing column \"body\""),
        "{}",
        l[1]
    );
    assert!(
        l[2]["error"]
            .as_str()
            .unwrap()
            .contains("unknown column \"sender\""),
        "{}",
        l[2]
    );
    assert!(
        l[3]["error"]
            .as_str()
            .unwrap()
            .contains("column \"body\" is 3"),
        "{}",
        l[3]
    );
    assert_eq!(l[1]["line"], 2);
}

#[test]
fn multi_label_and_multi_output_lines() {
    let input = b"{\"text\": \"see http://example.com for $100\"}\n{\"text\": \"hi\"}\n";
    let out = predict("multilabel_ovr_lr.z.joblib", input, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in lines(&out) {
        let labels = line["label"].as_array().expect("a list of labels");
        assert!(
            labels
                .iter()
                .all(|l| l.as_i64().is_some_and(|c| (0..4).contains(&c)))
        );
        assert_eq!(
            line["probabilities"].as_object().expect("per class").len(),
            4
        );
        assert_eq!(line["decision"].as_object().expect("per class").len(), 4);
    }

    let out = predict("multioutput_lr.z.joblib", input, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in lines(&out) {
        let labels = line["label"].as_array().expect("one label per output");
        assert_eq!(labels.len(), 2);
        let probs = line["probabilities"]
            .as_array()
            .expect("one object per output");
        assert!(
            probs[0].get("spam").is_some() && probs[1].get("long").is_some(),
            "{line}"
        );
    }

    let out = predict("multioutput_lr.z.joblib", input, &["--explain", "3"]);
    assert_eq!(out.status.code(), Some(1));
    for line in lines(&out) {
        assert!(
            line["error"]
                .as_str()
                .unwrap()
                .contains("explanations are not supported"),
            "{line}"
        );
    }
}

/// `model inspect` lists each output's classes of a multi-output model.
#[test]
fn inspect_lists_the_classes_of_every_output() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_falcon"))
        .args(["model", "inspect"])
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../falcon_engine/tests/fixtures/pipelines/multioutput_lr.z.joblib"),
        )
        .output()
        .expect("runs falcon");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("output 0: [ham, spam]") && text.contains("output 1: [long, short]"),
        "{text}"
    );
}
