//! Golden parity: every fixture pipeline, in every saved format, predicts
//! what scikit-learn predicted for the shared text set (labels identical,
//! scores within 1e-9 relative to max(1, |value|)), and every refused
//! fixture is refused with the expected message.
//!
//! Fixtures are produced by `training/gen_parity_fixtures.py` with the
//! pinned scikit-learn; `.ci/run` regenerates them and runs this test again.

use std::path::{Path, PathBuf};

use falcon_engine::{Input, Label, Model, Output, OutputKind};
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

fn fixtures() -> PathBuf {
    std::env::var_os("FALCON_PARITY_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
}

fn read_json(p: &Path) -> Value {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn label_json(l: &Label) -> Value {
    serde_json::to_value(l).expect("labels serialise")
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= TOLERANCE * want.abs().max(1.0)
}

/// Compares one row of scores; returns a description of the first mismatch.
fn compare_row(what: &str, got: &[f64], want: &Value) -> Option<String> {
    let want: Vec<f64> = match want {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect(),
        Value::Number(n) => vec![n.as_f64().unwrap_or(f64::NAN)],
        other => return Some(format!("{what}: unexpected expected-value {other}")),
    };
    if got.len() != want.len() {
        return Some(format!(
            "{what}: got {} values, want {}",
            got.len(),
            want.len()
        ));
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if !close(*g, *w) {
            return Some(format!(
                "{what}[{i}]: got {g:e}, want {w:e} (diff {:e})",
                g - w
            ));
        }
    }
    None
}

/// Loads one `files` entry of a manifest: a file name, or a list of file
/// names (a model saved in several files, chained in order).
fn load_entry(dir: &Path, entry: &Value) -> (String, falcon_engine::Result<Model>) {
    match entry {
        Value::String(f) => (f.clone(), Model::load(&dir.join(f))),
        Value::Array(parts) => {
            let names: Vec<&str> = parts
                .iter()
                .map(|p| p.as_str().expect("file name"))
                .collect();
            let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
            (names.join(" + "), Model::load_chain(&paths))
        }
        other => panic!("unexpected files entry {other}"),
    }
}

/// Checks every case of the fixture directory `dir` (its `manifest.json`):
/// returns the number of predictions checked and the failures.
fn check_dir(dir: &Path) -> (usize, Vec<String>) {
    let manifest = read_json(&dir.join("manifest.json"));
    let texts_file = manifest["texts"].as_str().unwrap_or("texts.json");
    let texts: Vec<String> = serde_json::from_value(read_json(&dir.join(texts_file)))
        .expect("the texts file is a list of strings");
    // Records (`{"title", "body"}` per text) for `ColumnTransformer` models.
    let records: Vec<Vec<(String, String)>> =
        match std::fs::read_to_string(dir.join("records.json")) {
            Ok(s) => {
                let v: Vec<serde_json::Map<String, Value>> =
                    serde_json::from_str(&s).expect("records.json is a list of objects");
                v.into_iter()
                    .map(|m| {
                        m.into_iter()
                            .map(|(k, v)| (k, v.as_str().expect("text column").to_string()))
                            .collect()
                    })
                    .collect()
            }
            Err(_) => Vec::new(),
        };
    let cases = manifest["cases"].as_array().expect("manifest.cases");
    assert!(!cases.is_empty(), "{}: no parity cases", dir.display());
    let mut failures = Vec::new();
    let mut checked = 0usize;
    for case in cases {
        let name = case["name"].as_str().expect("case name");
        let expected = read_json(&dir.join(format!("{name}.expected.json")));
        for entry in case["files"].as_array().expect("case files") {
            let (file, loaded) = load_entry(dir, entry);
            let file = file.as_str();
            let model = match loaded {
                Ok(m) => m,
                Err(e) => {
                    failures.push(format!("{file}: failed to load: {e}"));
                    continue;
                }
            };
            if expected["output"].is_string() || case["input"] == "records" {
                checked += check_multi(
                    file,
                    &model,
                    case,
                    &expected,
                    &texts,
                    &records,
                    &mut failures,
                );
                continue;
            }
            let classes: Vec<Value> = model.classes().iter().map(label_json).collect();
            if Value::Array(classes) != expected["classes"] {
                failures.push(format!("{file}: classes differ"));
                continue;
            }
            if model.has_probabilities() == expected["predict_proba"].is_null() {
                failures.push(format!("{file}: predict_proba availability differs"));
                continue;
            }
            if model.has_decision() == expected["decision_function"].is_null() {
                failures.push(format!("{file}: decision_function availability differs"));
                continue;
            }
            for (i, text) in texts.iter().enumerate() {
                if expected["predict"][i].is_null() {
                    // scikit-learn's own answer depends on the machine
                    // (k-nearest neighbours tied across classes, see
                    // `classify/neighbors.rs`): Falcon must refuse it.
                    match model.predict(text) {
                        Err(falcon_engine::EngineError::Undetermined(_)) => {}
                        other => failures.push(format!(
                            "{file} text {i}: must be refused as undetermined, got {:?}",
                            other.map(|p| p.label)
                        )),
                    }
                    checked += 1;
                    continue;
                }
                let p = match model.predict(text) {
                    Ok(p) => p,
                    Err(e) => {
                        failures.push(format!("{file} text {i}: {e}"));
                        continue;
                    }
                };
                let label = label_json(&model.classes()[p.label]);
                if label != expected["predict"][i] {
                    failures.push(format!(
                        "{file} text {i}: label {label}, want {}",
                        expected["predict"][i]
                    ));
                }
                if let Some(probs) = &p.probabilities
                    && let Some(m) =
                        compare_row("predict_proba", probs, &expected["predict_proba"][i])
                {
                    failures.push(format!("{file} text {i}: {m}"));
                }
                if let Some(dec) = &p.decision
                    && let Some(m) =
                        compare_row("decision_function", dec, &expected["decision_function"][i])
                {
                    failures.push(format!("{file} text {i}: {m}"));
                }
                checked += 1;
            }
        }
    }
    (checked, failures)
}

/// The record of text `i` for `case`: records.json's keys renamed by the
/// case's `columns` (model column -> records key).
fn record_for<'a>(case: &Value, record: &'a [(String, String)]) -> Vec<(String, &'a str)> {
    match case["columns"].as_object() {
        None => record
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str()))
            .collect(),
        Some(map) => map
            .iter()
            .map(|(col, key)| {
                let key = key.as_str().expect("records key");
                let v = record
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
                    .expect("record has the key");
                (col.clone(), v)
            })
            .collect(),
    }
}

/// One multi-label, multi-output or record case: every output's label and
/// scores, through `Model::predict_output`. Returns predictions checked.
fn check_multi(
    file: &str,
    model: &Model,
    case: &Value,
    expected: &Value,
    texts: &[String],
    records: &[Vec<(String, String)>],
    failures: &mut Vec<String>,
) -> usize {
    let by_records = case["input"] == "records";
    let kind = match expected["output"].as_str() {
        None => OutputKind::Single,
        Some("multilabel") => OutputKind::MultiLabel,
        Some("multioutput") => OutputKind::MultiOutput,
        Some(other) => panic!("{file}: unknown output {other}"),
    };
    if model.output_kind() != kind {
        failures.push(format!(
            "{file}: output kind {:?}, want {kind:?}",
            model.output_kind()
        ));
        return 0;
    }
    let classes: Vec<Vec<Value>> = model
        .output_classes()
        .iter()
        .map(|c| c.iter().map(label_json).collect())
        .collect();
    let want_classes = match kind {
        OutputKind::MultiOutput => expected["classes"].clone(),
        _ => Value::Array(vec![expected["classes"].clone()]),
    };
    if serde_json::to_value(&classes).expect("json") != want_classes {
        failures.push(format!("{file}: classes differ: {classes:?}"));
        return 0;
    }
    if by_records && model.input_columns().is_none() {
        failures.push(format!("{file}: a record model without input columns"));
        return 0;
    }
    let mut checked = 0;
    for (i, text) in texts.iter().enumerate() {
        let rec;
        let pairs: Vec<(&str, &str)>;
        let input = if by_records {
            rec = record_for(case, &records[i]);
            pairs = rec.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            Input::Record(&pairs)
        } else {
            Input::Text(text)
        };
        let out = match model.predict_output(input) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{file} text {i}: {e}"));
                continue;
            }
        };
        let mut fail = |m: Option<String>| {
            if let Some(m) = m {
                failures.push(format!("{file} text {i}: {m}"));
            }
        };
        match out {
            Output::Single(p) => {
                let label = label_json(&model.classes()[p.label]);
                if label != expected["predict"][i] {
                    fail(Some(format!(
                        "label {label}, want {}",
                        expected["predict"][i]
                    )));
                }
                fail(cmp_opt(
                    "predict_proba",
                    &p.probabilities,
                    &expected["predict_proba"],
                    i,
                ));
                fail(cmp_opt(
                    "decision_function",
                    &p.decision,
                    &expected["decision_function"],
                    i,
                ));
            }
            Output::MultiLabel(p) => {
                let mut ind = vec![0i64; classes[0].len()];
                for &j in &p.labels {
                    ind[j] = 1;
                }
                if serde_json::to_value(&ind).expect("json") != expected["predict"][i] {
                    fail(Some(format!(
                        "indicator {ind:?}, want {}",
                        expected["predict"][i]
                    )));
                }
                fail(cmp_opt(
                    "predict_proba",
                    &p.probabilities,
                    &expected["predict_proba"],
                    i,
                ));
                fail(cmp_opt(
                    "decision_function",
                    &p.decision,
                    &expected["decision_function"],
                    i,
                ));
            }
            Output::MultiOutput(outs) => {
                let labels: Vec<Value> = outs
                    .iter()
                    .zip(model.output_classes())
                    .map(|(p, c)| label_json(&c[p.label]))
                    .collect();
                if Value::Array(labels.clone()) != expected["predict"][i] {
                    fail(Some(format!(
                        "labels {labels:?}, want {}",
                        expected["predict"][i]
                    )));
                }
                for (j, p) in outs.iter().enumerate() {
                    let want = &expected["predict_proba"];
                    match (&p.probabilities, want.is_null()) {
                        (None, true) => {}
                        (Some(got), false) => fail(
                            compare_row("predict_proba", got, &want[i][j])
                                .map(|m| format!("output {j}: {m}")),
                        ),
                        _ => fail(Some(format!(
                            "output {j}: predict_proba availability differs"
                        ))),
                    }
                    if p.decision.is_some() {
                        fail(Some(format!("output {j}: a decision_function")));
                    }
                }
            }
        }
        checked += 1;
    }
    checked
}

/// Compares optional scores with an expected column that may be null.
fn cmp_opt(what: &str, got: &Option<Vec<f64>>, want: &Value, i: usize) -> Option<String> {
    match (got, want.is_null()) {
        (None, true) => None,
        (Some(g), false) => compare_row(what, g, &want[i]),
        _ => Some(format!("{what} availability differs")),
    }
}

fn assert_no_failures(what: &str, checked: usize, failures: &[String]) {
    eprintln!(
        "{what}: {checked} predictions checked, {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{what}: {} parity failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn fixtures_match_scikit_learn() {
    let (checked, failures) = check_dir(&fixtures());
    assert_no_failures("parity", checked, &failures);
}

/// Every scikit-learn release of the matrix (`training/gen_release_matrix.py`,
/// one directory per release under `releases/`): each file saved by that
/// release predicts what *that release* predicted.
#[test]
fn every_release_matches_its_own_scikit_learn() {
    let root = fixtures().join("releases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no release fixtures under {}",
        root.display()
    );
    let mut all = Vec::new();
    let mut total = 0;
    for dir in &dirs {
        let manifest = read_json(&dir.join("manifest.json"));
        if manifest["python"]
            .as_str()
            .is_some_and(|v| v.starts_with("2."))
        {
            // Python 2's text rules are not reproduced: every file of the
            // release must be refused, saying why.
            for case in manifest["cases"].as_array().expect("manifest.cases") {
                for file in case["files"].as_array().expect("case files") {
                    let file = file.as_str().expect("file name");
                    match Model::load(&dir.join(file)) {
                        Ok(_) => all.push(format!("{file}: a Python 2 pickle loaded")),
                        Err(e) if e.to_string().contains("pickled by Python 2") => {}
                        Err(e) => all.push(format!("{file}: refused for another reason: {e}")),
                    }
                }
            }
            continue;
        }
        let (checked, failures) = check_dir(dir);
        let tag = dir.file_name().unwrap_or_default().to_string_lossy();
        eprintln!(
            "release {tag}: {checked} predictions, {} failures",
            failures.len()
        );
        total += checked;
        all.extend(failures.into_iter().map(|f| format!("[{tag}] {f}")));
    }
    assert_no_failures("release matrix", total, &all);
}

#[test]
fn refused_fixtures_name_the_reason() {
    let dir = fixtures();
    let manifest = read_json(&dir.join("manifest.json"));
    let refused = manifest["refused"].as_array().expect("manifest.refused");
    assert!(!refused.is_empty(), "no refused cases");
    for case in refused {
        let file = case["file"].as_str().expect("file");
        let want = case["error_contains"].as_str().expect("error_contains");
        match Model::load(&dir.join(file)) {
            Ok(_) => panic!("{file}: loaded, but must be refused ({want})"),
            Err(e) => assert!(
                e.to_string().contains(want),
                "{file}: error {e:?} does not mention {want:?}"
            ),
        }
    }
}

/// The bundled demo model (word 1–2-grams with the default pattern, so the
/// engine stores its bigrams as column pairs) against scikit-learn's outputs
/// on held-out emails (`training/gen_demo_expected.py`).
#[test]
fn bundled_demo_model_matches_scikit_learn() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model =
        Model::load(&root.join("models/spam/1/model.joblib")).expect("the bundled model loads");
    assert!(
        model.steps()[0].contains("column pairs"),
        "the demo model should exercise pair mode: {:?}",
        model.steps()
    );
    let expected = read_json(&fixtures().join("demo_expected.json"));
    let classes: Vec<Value> = model.classes().iter().map(label_json).collect();
    assert_eq!(Value::Array(classes), expected["classes"]);
    let data =
        std::fs::read_to_string(root.join("bench/data/heldout.jsonl")).expect("held-out data");
    let n = expected["n"].as_u64().expect("n") as usize;
    let texts: Vec<String> = data
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON line")["text"]
                .as_str()
                .expect("text")
                .to_string()
        })
        .collect();
    assert_eq!(texts.len(), n);
    for (i, text) in texts.iter().enumerate() {
        let p = model.predict(text).expect("predicts");
        assert_eq!(
            label_json(&model.classes()[p.label]),
            expected["predict"][i],
            "text {i}"
        );
        let probs = p.probabilities.expect("predict_proba");
        if let Some(m) = compare_row("predict_proba", &probs, &expected["predict_proba"][i]) {
            panic!("text {i}: {m}");
        }
        let dec = p.decision.expect("decision_function");
        if let Some(m) = compare_row("decision_function", &dec, &expected["decision_function"][i]) {
            panic!("text {i}: {m}");
        }
    }
}

/// The pipelines real projects ship (`training/gen_pipeline_fixtures.py`):
/// tuples, several files, searches, meta-estimators, transforms.
#[test]
fn pipeline_fixtures_match_scikit_learn() {
    let dir = fixtures().join("pipelines");
    let (checked, failures) = check_dir(&dir);
    assert_no_failures("pipelines", checked, &failures);
    let manifest = read_json(&dir.join("manifest.json"));
    for case in manifest["refused"].as_array().expect("manifest.refused") {
        let want = case["error_contains"].as_str().expect("error_contains");
        for entry in case["files"].as_array().expect("files") {
            let (file, loaded) = load_entry(&dir, entry);
            match loaded {
                Ok(_) => panic!("{file}: loaded, but must be refused ({want})"),
                Err(e) => assert!(
                    e.to_string().contains(want),
                    "{file}: error {e} does not mention {want:?}"
                ),
            }
        }
    }
}
