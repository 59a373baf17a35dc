//! Runs the `model` fuzz target's seeds (`fuzz/seeds/model/`, real
//! scikit-learn pipelines) and any saved reproducers
//! (`fuzz/regressions/model/`) through `Model::from_bytes` and a few
//! predictions, as the fuzz target does, so a plain `cargo test` guards
//! what fuzzing found.

use std::path::{Path, PathBuf};

use falcon_engine::Model;

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// The texts of `fuzz/fuzz_targets/model.rs`.
fn texts() -> [String; 5] {
    [
        String::new(),
        "free money now, click here!".to_string(),
        "Ünïcödé ÉMAIL — ß ﬁ İ 東京 🙂 a\tb\nc  d".to_string(),
        "win ".repeat(2_000),
        "the quick brown fox jumps over the lazy dog. ".repeat(200),
    ]
}

fn exercise(m: &Model) {
    let n = m.classes().len();
    for t in texts() {
        let p = match m.predict(&t) {
            Ok(p) => p,
            // A k-nearest-neighbours seed refuses a text whose neighbours
            // tie across classes (the empty text is equidistant from all).
            Err(falcon_engine::EngineError::Undetermined(_)) => continue,
            Err(e) => panic!("a seed model predicts: {e}"),
        };
        assert!(p.label < n);
        serde_json::to_string(&m.view(&p)).expect("serialises");
        // Trees and kernel SVMs are not sums over features: no explanation, by type.
        match m.explain(&t, 3) {
            Ok(_) | Err(falcon_engine::EngineError::ExplainUnsupported(_)) => {}
            Err(e) => panic!("explain failed: {e}"),
        }
    }
}

#[test]
fn every_seed_model_loads_and_predicts() {
    let seeds = files("fuzz/seeds/model");
    assert!(seeds.len() >= 6, "seed corpus missing");
    for path in seeds {
        let bytes = std::fs::read(&path).expect("seed");
        let m = Model::from_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        exercise(&m);
    }
    // Reproducers of fixed crashes: refused or served, never a panic.
    for path in files("fuzz/regressions/model") {
        let bytes = std::fs::read(&path).expect("reproducer");
        if let Ok(m) = Model::from_bytes(&bytes) {
            for t in texts() {
                let _ = m.predict(&t);
            }
        }
    }
}
