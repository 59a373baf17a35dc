//! Feeds arbitrary bytes through the whole model build,
//! `falcon_engine::Model::from_bytes` (unpickling, then turning the tree
//! into a vectorizer and a classifier), and, when a model loads, predicts
//! and explains a few fixed texts. Every step must return `Ok` or `Err`:
//! never panic, overflow the stack, hang, or allocate without bound.
#![no_main]

use falcon_engine::Model;
use libfuzzer_sys::fuzz_target;

/// Empty, ordinary, punctuation/unicode-heavy, and long texts.
fn texts() -> [String; 5] {
    [
        String::new(),
        "free money now, click here!".to_string(),
        "Ünïcödé ÉMAIL — ß ﬁ İ 東京 🙂 a\tb\nc  d".to_string(),
        "win ".repeat(2_000),
        "the quick brown fox jumps over the lazy dog. ".repeat(200),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(model) = Model::from_bytes(data) else {
        return;
    };
    let n = model.classes().len();
    for text in texts() {
        if let Ok(p) = model.predict(&text) {
            assert!(p.label < n, "label {} of {n} classes", p.label);
            if let Some(probs) = &p.probabilities {
                assert_eq!(probs.len(), n);
                assert!(probs.iter().all(|x| x.is_finite()));
            }
            let _ = serde_json::to_string(&model.view(&p)).expect("serialises");
        }
        let _ = model.explain(&text, 3);
    }
    let _ = model.steps();
    let _ = model.memory_bytes();
});
