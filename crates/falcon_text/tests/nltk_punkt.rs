//! Parity with NLTK 3.10.4's `sent_tokenize` / `PunktTokenizer` against
//! `tests/fixtures/nltk_punkt.jsonl`, produced by `training/gen_nltk_punkt_fixtures.py`.
//!
//! Two models: `spam` (trained with NLTK's `PunktTrainer`, checked in under
//! `tests/fixtures/nltk_data/`) always runs; `english` (NLTK's real `punkt_tab` model, whose
//! licence keeps it out of the repository) reads the `nltk_data` directory named by
//! `FALCON_NLTK_DATA`, is skipped with a notice when that is unset, and fails when it is
//! unset under `CI=true`. Install it with
//! `python training/gen_nltk_punkt_fixtures.py install-punkt-tab DIR`.

use falcon_text::nltk::punkt::{PunktModel, tables};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Fixture {
    meta: Value,
    cases: Vec<Value>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/nltk_punkt.jsonl"
        );
        let text = std::fs::read_to_string(path)
            .expect("fixture missing: run training/gen_nltk_punkt_fixtures.py");
        let mut lines = text.lines();
        let meta: Value = serde_json::from_str(lines.next().expect("header")).expect("json");
        assert_eq!(meta["kind"], "meta");
        let cases = lines
            .map(|l| serde_json::from_str::<Value>(l).expect("record is valid JSON"))
            .filter(|v| v["kind"] == "case")
            .collect();
        Fixture { meta, cases }
    })
}

/// Code point offset → byte offset in `text`.
fn byte_offsets(text: &str) -> Vec<usize> {
    let mut v: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    v.push(text.len());
    v
}

fn short(s: &str) -> String {
    let head: String = s.chars().take(80).collect();
    let more = if s.chars().count() > 80 { "…" } else { "" };
    format!("{head:?}{more}")
}

/// Runs every case for `model_name`, reports the first differing sentence of the first few
/// failing cases, then fails.
fn check_model(model: &PunktModel, model_name: &str) {
    let f = fixture();
    let mut failures = Vec::new();
    for case in &f.cases {
        let id = case["id"].as_str().unwrap();
        let text = case["text"].as_str().unwrap();
        let offsets = byte_offsets(text);
        let expected: Vec<&str> = case[model_name]
            .as_array()
            .unwrap()
            .iter()
            .map(|span| {
                let s = span[0].as_u64().unwrap() as usize;
                let e = span[1].as_u64().unwrap() as usize;
                &text[offsets[s]..offsets[e]]
            })
            .collect();
        let got = model.sentences(text).expect("sentences");
        if got != expected {
            let i = got
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(expected.len()));
            failures.push(format!(
                "[{model_name}] case {id} text {}: {} vs {} sentences; first difference at \
                 sentence {i}: NLTK {} / ours {}",
                short(text),
                expected.len(),
                got.len(),
                expected.get(i).map_or("<none>".into(), |s| short(s)),
                got.get(i).map_or("<none>".into(), |s| short(s)),
            ));
        }
    }
    for msg in failures.iter().take(10) {
        eprintln!("MISMATCH {msg}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from NLTK",
        failures.len(),
        f.cases.len()
    );
}

#[test]
fn fixture_versions_and_tables_match_embedded_tables() {
    let meta = &fixture().meta;
    assert_eq!(meta["nltk"], "3.10.4");
    assert_eq!(meta["regex"], tables::REGEX_VERSION);
    assert_eq!(meta["python"], tables::PYTHON_VERSION);
    for (name, table) in [
        ("RE_SPACE", tables::RE_SPACE),
        ("RE_DIGIT", tables::RE_DIGIT),
        ("RE_ALPHA", tables::RE_ALPHA),
        ("PY_UPPER", tables::PY_UPPER),
        ("PY_LOWER", tables::PY_LOWER),
    ] {
        let expected: Vec<(u32, u32)> = meta["tables"][name]
            .as_array()
            .unwrap_or_else(|| panic!("fixture has no table {name}"))
            .iter()
            .map(|r| (r[0].as_u64().unwrap() as u32, r[1].as_u64().unwrap() as u32))
            .collect();
        assert_eq!(
            table,
            expected.as_slice(),
            "{name}: src/nltk/punkt/tables.rs is stale; run the generator's `tables` mode"
        );
    }
}

#[test]
fn trained_model_matches_nltk() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nltk_data");
    let model = PunktModel::load(&root, "spam").expect("checked-in trained model loads");
    check_model(&model, "spam");
}

#[test]
fn english_model_matches_nltk() {
    let Some(dir) = std::env::var_os("FALCON_NLTK_DATA").map(PathBuf::from) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "FALCON_NLTK_DATA is unset under CI: install NLTK's punkt_tab english model \
                 (python training/gen_nltk_punkt_fixtures.py install-punkt-tab DIR) and \
                 export FALCON_NLTK_DATA=DIR"
            );
        }
        eprintln!("SKIPPED english_model_matches_nltk: FALCON_NLTK_DATA is not set");
        return;
    };
    let model = PunktModel::load(&dir, "english")
        .unwrap_or_else(|e| panic!("FALCON_NLTK_DATA={}: {e}", dir.display()));
    check_model(&model, "english");
}
