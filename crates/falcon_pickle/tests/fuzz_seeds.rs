//! Runs the cargo-fuzz seed corpus (`fuzz/seeds/unpickle/`) and any saved
//! crash reproducers (`fuzz/regressions/unpickle/`) through `load`, so a
//! plain `cargo test` guards what fuzzing found.

use std::path::Path;

use falcon_pickle::{Policy, load};

fn policy() -> Policy {
    // Same policy as fuzz/fuzz_targets/unpickle.rs.
    let mut p = Policy::new();
    p.allow("sklearn.pipeline", "Pipeline")
        .allow("sklearn.feature_extraction.text", "TfidfVectorizer")
        .allow("sklearn.feature_extraction.text", "TfidfTransformer")
        .allow("sklearn.linear_model._logistic", "LogisticRegression");
    p
}

fn files(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_seed_loads() {
    let seeds = files("fuzz/seeds/unpickle");
    assert!(seeds.len() >= 10, "seed corpus missing");
    for path in seeds {
        let bytes = std::fs::read(&path).unwrap();
        if let Err(e) = load(&bytes, &policy()) {
            panic!("{}: {e}", path.display());
        }
    }
}

#[test]
fn crash_reproducers_do_not_panic() {
    for path in files("fuzz/regressions/unpickle") {
        let bytes = std::fs::read(&path).unwrap();
        let _ = load(&bytes, &policy());
    }
}
