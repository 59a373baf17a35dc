//! The user's own text code (issue #17): the surveyed patterns, fitted with
//! real scikit-learn and NLTK (`training/gen_custom_code_fixtures.py`), each
//! with its hand-written declaration (`callables.toml`). Every declared
//! callable must reproduce the real one token for token, and the model its
//! labels and probabilities, on held-out and hostile texts.
//!
//! Fixtures whose code reads NLTK's data (`word_tokenize`'s punkt_tab,
//! WordNet, NLTK's stop words) need `FALCON_NLTK_DATA` (installed by
//! `training/install_nltk_data.sh`); with `CI=true` a missing directory
//! fails the test instead of skipping it.

use std::path::{Path, PathBuf};

use falcon_engine::{EngineError, Input, Model, Output, Resources, TextCode, TextValue};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/custom")
}

const ALL: [&str; 7] = [
    "tweets_porter",
    "lemma_tokenizer",
    "regex_tokenize",
    "server_clean",
    "url_tokens",
    "clean_step",
    "tweet_lancaster",
];

fn nltk_data() -> Option<PathBuf> {
    std::env::var_os("FALCON_NLTK_DATA").map(PathBuf::from)
}

fn code_for(name: &str, nltk: Option<PathBuf>) -> Result<TextCode, EngineError> {
    let dir = fixtures().join(name);
    let text = std::fs::read_to_string(dir.join("callables.toml")).unwrap();
    TextCode::parse(&text, &Resources::new(nltk, Some(dir)))
}

fn value_of(v: &TextValue) -> Value {
    match v {
        TextValue::Str(s) => Value::String(s.clone()),
        TextValue::Tokens(t) => Value::Array(t.iter().cloned().map(Value::String).collect()),
    }
}

/// Checks one fixture; returns false when it was skipped for lack of data.
fn check(name: &str) -> bool {
    let dir = fixtures().join(name);
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let needs_data = expected["needs_nltk_data"].as_bool().unwrap();
    let nltk = nltk_data();
    if needs_data && nltk.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "{name} needs NLTK's data: set FALCON_NLTK_DATA (training/install_nltk_data.sh)"
        );
        eprintln!("skipping {name}: FALCON_NLTK_DATA is not set");
        return false;
    }
    let code = code_for(name, nltk).unwrap_or_else(|e| panic!("{name}: {e}"));
    let model = Model::load_chain_with(&[dir.join("model.joblib")], &code)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let texts: Vec<String> = std::fs::read_to_string(dir.join("texts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for (callable, outputs) in expected["callables"].as_object().unwrap() {
        for (i, (text, want)) in texts.iter().zip(outputs.as_array().unwrap()).enumerate() {
            let got = code
                .run(callable, text)
                .unwrap_or_else(|e| panic!("{name} {callable} text {i}: {e}"));
            assert_eq!(
                &value_of(&got),
                want,
                "{name}: {callable} on text {i} {text:?}"
            );
        }
    }
    if let Some(pre) = expected.get("preprocess") {
        for (i, (text, want)) in texts.iter().zip(pre.as_array().unwrap()).enumerate() {
            let got = code.run_preprocess(text).unwrap().unwrap();
            assert_eq!(
                got,
                want.as_str().unwrap(),
                "{name}: preprocess on text {i}"
            );
        }
    }
    let classes: Vec<&str> = expected["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let labels = expected["labels"].as_array().unwrap();
    let proba = expected["proba"].as_array().unwrap();
    for (i, text) in texts.iter().enumerate() {
        let Output::Single(p) = model.predict_output(Input::Text(text)).unwrap() else {
            panic!("{name}: a single-output model");
        };
        assert_eq!(
            model.classes()[p.label].name().to_string(),
            labels[i].as_str().unwrap(),
            "{name}: label of text {i} {text:?}"
        );
        assert_eq!(
            model
                .classes()
                .iter()
                .map(|c| c.name().to_string())
                .collect::<Vec<_>>(),
            classes
        );
        let ours = p.probabilities.expect("predict_proba");
        for (a, b) in ours.iter().zip(proba[i].as_array().unwrap()) {
            let b = b.as_f64().unwrap();
            assert!((a - b).abs() <= 1e-9, "{name}: text {i}: {a} vs {b}");
        }
    }
    true
}

#[test]
fn regex_tokenizer_with_a_length_filter() {
    assert!(check("regex_tokenize"));
}

#[test]
fn server_side_clean_before_the_pipeline() {
    assert!(check("server_clean"));
}

#[test]
fn url_splitter_on_slash_dash_and_dot() {
    assert!(check("url_tokens"));
}

#[test]
fn custom_step_class_and_snowball_tokenizer() {
    assert!(check("clean_step"));
}

#[test]
fn tweet_tokenizer_and_lancaster() {
    assert!(check("tweet_lancaster"));
}

#[test]
fn url_mention_cleaning_word_tokenize_stop_words_porter() {
    check("tweets_porter");
}

#[test]
fn lemma_tokenizer_class_with_wordnet() {
    check("lemma_tokenizer");
}

#[test]
fn undeclared_callables_are_refused_with_a_skeleton() {
    for (name, callable) in [
        ("regex_tokenize", "__main__.tokenize"),
        ("url_tokens", "__main__.url_tokens"),
        ("clean_step", "__main__.TextCleaner"),
    ] {
        let err = Model::load(&fixtures().join(name).join("model.joblib"))
            .err()
            .unwrap_or_else(|| panic!("{name} loaded without its declaration"));
        let msg = err.to_string();
        assert!(
            matches!(err, EngineError::Undeclared { .. }),
            "{name}: {msg}"
        );
        assert!(msg.contains(callable), "{name}: {msg}");
        assert!(
            msg.contains(&format!("[callables.\"{callable}\"]")) && msg.contains("steps = ["),
            "{name}: the error shows a declaration to fill in: {msg}"
        );
    }
    // The LemmaTokenizer's WordNetLemmatizer attribute is named too.
    let msg = Model::load(&fixtures().join("lemma_tokenizer/model.joblib"))
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("__main__.LemmaTokenizer"), "{msg}");
}

#[test]
fn a_declaration_for_another_callable_still_refuses() {
    // The model names `__main__.tokenize`; declaring something else leaves it undeclared.
    let code = TextCode::parse(
        "[callables.\"__main__.other\"]\nsteps = [\"str.split\"]",
        &Resources::default(),
    )
    .unwrap();
    let err = Model::load_chain_with(&[fixtures().join("regex_tokenize/model.joblib")], &code)
        .err()
        .unwrap();
    assert!(err.to_string().contains("__main__.tokenize"), "{err}");
}

#[test]
fn declarations_that_do_not_fit_are_refused_at_load() {
    let model = fixtures().join("regex_tokenize/model.joblib");
    let load = |decl: &str| {
        TextCode::parse(decl, &Resources::default())
            .and_then(|code| Model::load_chain_with(std::slice::from_ref(&model), &code))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    for (decl, why) in [
        // A tokenizer must return tokens.
        (
            "[callables.\"__main__.tokenize\"]\nsteps = [\"str.lower\"]",
            "must return list[str]",
        ),
        // Filters need tokens.
        (
            "[callables.\"__main__.tokenize\"]\nsteps = [{ op = \"keep_if\", min_len = 3 }]",
            "filters a list of tokens",
        ),
        (
            "[callables.\"__main__.tokenize\"]\nsteps = [\"str.upper\"]",
            "unknown operation",
        ),
        (
            "[callables.\"__main__.tokenize\"]\nsteps = [{ op = \"re.findall\", pattern = '\\w+', flag = \"I\" }]",
            "takes no argument `flag`",
        ),
        (
            "[callables.\"__main__.tokenize\"]\nsteps = [{ op = \"re.findall\", pattern = '(a)(b)' }]",
            "returns tuples",
        ),
        (
            "[callables.\"__main__.tokenize\"]\nsteps = [{ op = \"re.findall\", pattern = 'a*' }]",
            "empty string",
        ),
        ("[callables.\"__main__.tokenize\"]\nsteps = []", "empty"),
        (
            "[callable.\"__main__.tokenize\"]\nsteps = [\"str.split\"]",
            "unknown top-level key",
        ),
        (
            "[callables.tokenize]\nsteps = [\"str.split\"]",
            "qualified Python name",
        ),
        (
            "[callables.\"__main__.tokenize\"]\nsteps = [\"str.split\", { op = \"drop_stop_words\", list = \"nltk.english\" }]",
            "--nltk-data",
        ),
        (
            "[callables.\"__main__.tokenize\"]\nstate = { x = 1 }\nsteps = [\"str.split\"]",
            "holds the function itself",
        ),
        (
            "[preprocess]\nsteps = [\"str.split\"]\n[callables.\"__main__.tokenize\"]\nsteps = [\"str.split\"]",
            "end with str.join",
        ),
    ] {
        let e = load(decl);
        assert!(e.contains(why), "{decl}\n=> {e:?} (want {why:?})");
    }
    let many = format!(
        "[callables.\"__main__.tokenize\"]\nsteps = [{}]",
        vec!["\"str.lower\""; 65].join(", ")
    );
    assert!(load(&many).contains("at most 64"));
}

#[test]
fn class_state_is_checked_against_the_declaration() {
    let Some(nltk) = nltk_data() else {
        assert!(std::env::var("CI").is_err(), "set FALCON_NLTK_DATA");
        return;
    };
    let model = fixtures().join("lemma_tokenizer/model.joblib");
    let load = |state: &str| {
        let decl = format!(
            "[callables.\"__main__.LemmaTokenizer\"]\n{state}\nsteps = [\"nltk.word_tokenize\"]"
        );
        TextCode::parse(&decl, &Resources::new(Some(nltk.clone()), None))
            .and_then(|code| Model::load_chain_with(std::slice::from_ref(&model), &code))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    // Without `state`, the WordNetLemmatizer inside is not even unpickled:
    // the error says to declare it as the class's state.
    let e = load("");
    assert!(
        e.contains("nltk.stem.wordnet.WordNetLemmatizer") && e.contains("state = {"),
        "{e}"
    );
    // Declared for another attribute: the real one is named.
    let e = load("state = { lemmatizer = { class = \"nltk.stem.wordnet.WordNetLemmatizer\" } }");
    assert!(e.contains("attribute `wnl`"), "{e}");
    // Another class declared: the pickle's own class is named.
    let e = load("state = { wnl = { class = \"nltk.stem.porter.PorterStemmer\" } }");
    assert!(e.contains("nltk.stem.wordnet.WordNetLemmatizer"), "{e}");
    assert!(
        load("state = { wnl = { class = \"nltk.stem.wordnet.WordNetLemmatizer\" }, x = 1 }")
            .contains("no such attribute")
    );
    assert_eq!(
        load("state = { wnl = { class = \"nltk.stem.wordnet.WordNetLemmatizer\" } }"),
        ""
    );
}

#[test]
fn inspect_lists_the_declarations_in_use() {
    let code = code_for("regex_tokenize", None).unwrap();
    let i =
        falcon_engine::inspect_chain_with(&[fixtures().join("regex_tokenize/model.joblib")], &code);
    assert!(i.supported, "{:?}", i.reason);
    assert!(
        i.steps[0].starts_with("declared __main__.tokenize → list[str]: str.lower"),
        "{:?}",
        i.steps
    );
    assert!(
        i.steps
            .iter()
            .any(|s| s.contains("tokenizer=") && s.contains("(declared)"))
    );
}

#[test]
fn every_fixture_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<&str> = ALL.to_vec();
    listed.sort();
    assert_eq!(on_disk, listed);
}
