//! Per-email prediction latency of the bundled demo model over held-out
//! emails (`cargo bench -p falcon_engine`).

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use falcon_engine::Model;

fn load_texts() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = std::fs::read_to_string(root.join("bench/data/heldout.jsonl"))
        .expect("bench/data/heldout.jsonl");
    data.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            v["text"].as_str().expect("text field").to_string()
        })
        .take(200)
        .collect()
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model_path = root.join("models/spam/1/model.joblib");
    let texts = load_texts();
    let model = Model::load(&model_path).expect("demo model loads");

    let mut g = c.benchmark_group("demo_model");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("predict_200_heldout_emails", |b| {
        b.iter(|| {
            for t in &texts {
                std::hint::black_box(model.predict(std::hint::black_box(t)).expect("predicts"));
            }
        })
    });
    g.finish();

    let bytes = std::fs::read(&model_path).expect("model file");
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.bench_function("load_demo_model", |b| {
        b.iter(|| std::hint::black_box(Model::from_bytes(&bytes).expect("loads")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
