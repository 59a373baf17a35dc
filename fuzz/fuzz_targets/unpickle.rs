//! Feeds arbitrary bytes to `falcon_pickle::load`: it must return `Ok` or
//! `Err`, never panic, hang, or allocate without bound.
#![no_main]

use std::sync::LazyLock;

use falcon_pickle::Policy;
use libfuzzer_sys::fuzz_target;

/// The classes the demo scikit-learn pipeline needs, so the fuzzer can reach
/// object construction and `BUILD` paths too.
static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    let mut p = Policy::new();
    p.allow("sklearn.pipeline", "Pipeline")
        .allow("sklearn.feature_extraction.text", "TfidfVectorizer")
        .allow("sklearn.feature_extraction.text", "TfidfTransformer")
        .allow("sklearn.linear_model._logistic", "LogisticRegression");
    p
});

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = falcon_pickle::load(data, &POLICY) {
        // Walk the result so a malformed tree would be noticed.
        let _ = format!("{value:?}").len();
    }
});
