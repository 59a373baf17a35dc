//! Records, multi-label and multi-output outputs through the public API:
//! a missing or unknown column is an error naming it, a single-label call
//! on a multi model is refused, and the JSON shapes are the documented ones.

use std::path::{Path, PathBuf};

use falcon_engine::{EngineError, Input, Model, Output, OutputKind};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pipelines")
        .join(name)
}

fn load(name: &str) -> Model {
    Model::load(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_record_model_names_missing_and_unknown_columns() {
    let m = load("columns_title_body_weights.z.joblib");
    assert_eq!(
        m.input_columns(),
        Some(&["title".to_string(), "body".to_string()][..])
    );
    assert_eq!(m.output_kind(), OutputKind::Single);
    let ok = m
        .predict_record(&[("title", "cheap meds"), ("body", "buy now http://x")])
        .expect("a full record predicts");
    assert!(ok.label < m.classes().len());
    // Order of the keys does not matter.
    let swapped = m
        .predict_record(&[("body", "buy now http://x"), ("title", "cheap meds")])
        .expect("keys in any order");
    assert_eq!(ok, swapped);

    let missing = m.predict_record(&[("title", "cheap meds")]).unwrap_err();
    assert!(matches!(missing, EngineError::Input(_)), "{missing:?}");
    assert!(
        missing.to_string().contains("missing column \"body\""),
        "{missing}"
    );

    let extra = m
        .predict_record(&[("title", "a"), ("body", "b"), ("sender", "c")])
        .unwrap_err();
    assert!(matches!(extra, EngineError::Input(_)), "{extra:?}");
    assert!(
        extra.to_string().contains("unknown column \"sender\""),
        "{extra}"
    );

    let twice = m
        .predict_record(&[("title", "a"), ("body", "b"), ("title", "c")])
        .unwrap_err();
    assert!(twice.to_string().contains("given twice"), "{twice}");

    let text = m.predict("just a text").unwrap_err();
    assert!(matches!(text, EngineError::Input(_)), "{text:?}");
    assert!(text.to_string().contains("\"title\""), "{text}");
}

#[test]
fn a_text_model_refuses_records_and_a_text_column_model_takes_text() {
    let text_model = load("multilabel_ovr_lr.z.joblib");
    assert_eq!(text_model.input_columns(), None);
    let e = text_model
        .predict_output(Input::Record(&[("text", "hello")]))
        .unwrap_err();
    assert!(matches!(e, EngineError::Input(_)), "{e:?}");

    let m = load("columns_text_only_mnb.z.joblib");
    assert_eq!(m.input_columns(), Some(&["text".to_string()][..]));
    let by_text = m.predict("win money now").expect("a text");
    let by_record = m
        .predict_record(&[("text", "win money now")])
        .expect("a record");
    assert_eq!(by_text, by_record);
}

#[test]
fn multi_label_output_and_its_json() {
    let m = load("multilabel_ovr_lr.z.joblib");
    assert_eq!(m.output_kind(), OutputKind::MultiLabel);
    let e = m.predict("hello").unwrap_err();
    assert!(matches!(e, EngineError::MultiOutput(_)), "{e:?}");
    let e = m.explain("hello", 3).unwrap_err();
    assert!(matches!(e, EngineError::ExplainUnsupported(_)), "{e:?}");
    let text = "Subject: money\n\nsee http://example.com for $100 ".repeat(40);
    let out = m.predict_output(Input::Text(&text)).expect("predicts");
    let Output::MultiLabel(p) = &out else {
        panic!("{out:?}")
    };
    assert!(!p.labels.is_empty());
    let json = serde_json::to_value(m.view_output(&out)).expect("json");
    let labels = json["label"].as_array().expect("a list of labels");
    assert_eq!(labels.len(), p.labels.len());
    let probs = json["probabilities"].as_object().expect("per class");
    assert_eq!(probs.len(), 4);
    // Not normalised: each class has its own probability.
    let sum: f64 = probs.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() > 1e-6, "{sum}");
    assert_eq!(json["decision"].as_object().expect("per class").len(), 4);
}

#[test]
fn multi_output_output_and_its_json() {
    let m = load("multioutput_lr.z.joblib");
    assert_eq!(m.output_kind(), OutputKind::MultiOutput);
    assert!(m.classes().is_empty());
    assert_eq!(m.output_classes().len(), 2);
    let out = m
        .predict_output(Input::Text("hello there"))
        .expect("predicts");
    let json = serde_json::to_value(m.view_output(&out)).expect("json");
    let labels = json["label"].as_array().expect("one label per output");
    assert_eq!(labels.len(), 2);
    assert!(["ham", "spam"].contains(&labels[0].as_str().unwrap()));
    assert!(["short", "long"].contains(&labels[1].as_str().unwrap()));
    let probs = json["probabilities"]
        .as_array()
        .expect("one object per output");
    assert_eq!(probs.len(), 2);
    assert!(probs[1].get("long").is_some() && probs[1].get("short").is_some());
    assert!(json.get("decision").is_none());
}

#[test]
fn single_label_output_view_is_the_prediction_view() {
    let m = load("columns_product_title_svc.z.joblib");
    let rec = [("Product Title", "cheap watches")];
    let p = m.predict_record(&rec).expect("predicts");
    let out = m.predict_output(Input::Record(&rec)).expect("predicts");
    assert_eq!(
        serde_json::to_string(&m.view_output(&out)).unwrap(),
        serde_json::to_string(&m.view(&p)).unwrap()
    );
}
