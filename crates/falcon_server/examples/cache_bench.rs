//! Micro-benchmark of the prediction cache's miss path (insert of unique
//! texts) and hit path, digest included: `cargo run --release -p falcon_server --example cache_bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use falcon_engine::{Output, Prediction};
use falcon_server::input::Item;
use falcon_server::{CacheKey, PredictionCache, QuickCache, text_sha256};

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cache = QuickCache::new(16 << 20);
        let filler = "lorem ipsum dolor sit amet ".repeat(210);
        let n = 50_000;
        let keys: Vec<Arc<String>> = (0..n).map(|i| Arc::new(format!("{i} {filler}"))).collect();
        let pred = || {
            Output::Single(Prediction {
                label: 1,
                probabilities: Some(vec![0.5, 0.5]),
                decision: Some(vec![0.1]),
            })
        };
        let t = Instant::now();
        for k in &keys {
            let item = Item::Text(k.clone());
            let key = CacheKey::new(1, &item, &text_sha256(item.key()));
            cache
                .get_or_compute(
                    key,
                    Duration::from_secs(300),
                    Box::pin(async move { Ok(pred()) }),
                )
                .await
                .unwrap();
        }
        println!(
            "miss+insert: {:.2} µs/op",
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        );
        let t = Instant::now();
        for k in keys.iter().rev().take(1000).cycle().take(n) {
            let item = Item::Text(k.clone());
            let key = CacheKey::new(1, &item, &text_sha256(item.key()));
            cache
                .get_or_compute(
                    key,
                    Duration::from_secs(300),
                    Box::pin(async move { Ok(pred()) }),
                )
                .await
                .unwrap();
        }
        println!(
            "mixed lookups: {:.2} µs/op, usage {:?}",
            t.elapsed().as_secs_f64() * 1e6 / n as f64,
            cache.usage()
        );
    });
}
