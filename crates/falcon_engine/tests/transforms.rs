//! `--explain` through the transforms between the vectorizer and the
//! classifier: mapped back to n-grams through selectors and scalers that
//! do not centre (each output column is one input column times a
//! constant), refused through `TruncatedSVD` and centring scalers.

use std::path::{Path, PathBuf};

use falcon_engine::{EngineError, Model};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipelines")
}

fn model(name: &str) -> Model {
    Model::load(&dir().join(format!("{name}.z.joblib"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn texts() -> Vec<String> {
    let s = std::fs::read_to_string(dir().join("texts.json")).expect("texts.json");
    serde_json::from_str(&s).expect("texts.json is a list of strings")
}

/// For a binary linear model, every feature's contribution plus the
/// intercept is the decision: `decision - Σ contributions` is the same
/// for every text. A contribution mapped to the wrong column, or scaled
/// wrongly, breaks that (and names words the text does not contain).
fn check_exact_explanations(name: &str) {
    let m = model(name);
    let mut intercept: Option<f64> = None;
    let mut explained = 0;
    for text in texts().iter().take(60) {
        let (p, contribs) = m.explain(text, usize::MAX).expect("explainable");
        if contribs.is_empty() {
            continue;
        }
        let lower = text.to_lowercase();
        for c in &contribs {
            assert!(
                !c.feature.starts_with('#') && lower.contains(&c.feature),
                "{name}: feature {:?} is not an n-gram of the text",
                c.feature
            );
        }
        let d = p.decision.expect("decision_function")[0];
        let sum: f64 = contribs.iter().map(|c| c.contribution).sum();
        // Contributions are for the predicted class; binary decisions are
        // the positive class's score.
        let sum = if p.label == 1 { sum } else { -sum };
        let b = d - sum;
        match intercept {
            None => intercept = Some(b),
            Some(b0) => assert!((b - b0).abs() < 1e-9, "{name}: intercept {b} vs {b0}"),
        }
        explained += 1;
    }
    assert!(explained > 20, "{name}: only {explained} texts explained");
}

#[test]
fn explain_maps_back_through_a_selector() {
    check_exact_explanations("sel_tfidf_frommodel_maxfeat_median_sgd");
}

#[test]
fn explain_maps_back_through_a_scaler_without_centring() {
    check_exact_explanations("scale_tfidf_std_nomean_lr");
    check_exact_explanations("scale_tfidf_normmax_sgd");
}

#[test]
fn explain_is_refused_through_svd_and_centring() {
    for name in ["svd_tfidf_svd50_std_lr", "svd_tfidf32_svd25_lr"] {
        let m = model(name);
        match m.explain("win a free prize now", 5) {
            Err(EngineError::ExplainUnsupported(_)) => {}
            Err(e) => panic!("{name}: wrong error {e}"),
            Ok(_) => panic!("{name}: explained through TruncatedSVD"),
        }
        // Prediction itself still works.
        m.predict("win a free prize now").expect("predicts");
    }
}

#[test]
fn explain_through_a_union_names_svd_components() {
    let m = model("union_words_svd_lr");
    let (_, contribs) = m
        .explain(
            "Congratulations! You have won a free cruise, call now",
            usize::MAX,
        )
        .expect("a union's columns each have a name");
    assert!(
        contribs
            .iter()
            .any(|c| c.feature.starts_with("svd__truncatedsvd"))
    );
    assert!(contribs.iter().any(|c| c.feature.starts_with("words__")));
    assert!(contribs.iter().all(|c| !c.feature.starts_with('#')));
}

#[test]
fn inspect_lists_the_transforms() {
    let m = model("union_select_svd_weighted_sgd");
    let steps = m.steps().join("\n");
    for want in ["SelectKBest", "TruncatedSVD", "Normalizer", "FeatureUnion"] {
        assert!(steps.contains(want), "{want} missing from:\n{steps}");
    }
}
