//! Meta-estimators (`training/pipelines/meta.py`): what the golden parity
//! test cannot see — explanations are refused, `model inspect` describes
//! the composition, and the refused pipeline fixtures name their reason.

use std::path::{Path, PathBuf};

use falcon_engine::{EngineError, Model};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipelines")
}

fn load(name: &str) -> Model {
    Model::load(&dir().join(format!("{name}.z.joblib"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A meta-estimator's score is not a sum of per-feature contributions, so
/// `--explain` must refuse rather than explain one sub-estimator.
#[test]
fn explain_is_refused_for_meta_estimators() {
    for name in [
        "calib_svc_sigmoid_tri",
        "ovr_lr_tri",
        "ovo_svc_tri",
        "voting_soft_weighted_tri",
        "stacking_passthrough_tri",
    ] {
        let m = load(name);
        match m.explain("free money, claim your prize now", 5) {
            Err(EngineError::ExplainUnsupported(_)) => {}
            Err(e) => panic!("{name}: unexpected error {e}"),
            Ok(_) => panic!("{name}: explained a meta-estimator"),
        }
        // Prediction itself works.
        m.predict("free money, claim your prize now")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // The cross-validated linear models are plain linear models: explained.
    for name in ["lrcv_tri", "ridgecv_tri"] {
        let (_, contributions) = load(name)
            .explain("free money, claim your prize now", 5)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!contributions.is_empty(), "{name}");
    }
}

#[test]
fn inspect_describes_the_composition() {
    let steps = load("stacking_auto_tri").steps().join("\n");
    assert!(steps.contains("StackingClassifier"), "{steps}");
    assert!(
        steps.contains("(predict_proba) -> predict_proba"),
        "{steps}"
    );
    assert!(
        steps.contains("(decision_function only) -> decision_function"),
        "{steps}"
    );
    let steps = load("calib_sgd_isotonic_bin").steps().join("\n");
    assert!(steps.contains("method=isotonic folds=3"), "{steps}");
}

/// Every refused case of the pipeline fixtures is refused at load, naming
/// its reason (e.g. a search fitted with `refit=False`).
#[test]
fn refused_pipeline_fixtures_name_the_reason() {
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join("manifest.json")).expect("manifest"),
    )
    .expect("manifest JSON");
    let refused = manifest["refused"].as_array().expect("manifest.refused");
    assert!(
        refused
            .iter()
            .any(|c| c["name"] == "refused_search_refit_false"),
        "the refit=False search case is in the manifest"
    );
    for case in refused {
        let want = case["error_contains"].as_str().expect("error_contains");
        for entry in case["files"].as_array().expect("files") {
            let paths: Vec<PathBuf> = match entry {
                Value::String(f) => vec![dir().join(f)],
                Value::Array(parts) => parts
                    .iter()
                    .map(|p| dir().join(p.as_str().expect("file name")))
                    .collect(),
                other => panic!("unexpected files entry {other}"),
            };
            match Model::load_chain(&paths) {
                Ok(_) => panic!("{entry}: loaded, but must be refused ({want})"),
                Err(e) => assert!(
                    e.to_string().contains(want),
                    "{entry}: error {e} does not mention {want:?}"
                ),
            }
        }
    }
}
