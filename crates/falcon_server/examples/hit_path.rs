//! The cache-hit path in-process (router `oneshot`, no TCP), ns per
//! request — to check that a change costs the plain path nothing:
//!
//! ```sh
//! cargo build --release -p falcon_server --example hit_path
//! target/release/examples/hit_path models 5
//! # wall time is noisy on a shared machine; instruction counts are not:
//! valgrind --tool=callgrind target/release/examples/hit_path models 1   # and 2: the difference is 100k requests
//! ```
//!
//! Issue #4 (shared-state ports, none configured): 29,360 instructions per
//! hit against 29,586 before.
use std::time::Instant;

use axum::body::Body;
use falcon_server::{AppState, ServerConfig};
use http::Request;
use tower::ServiceExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let models = std::env::args().nth(1).expect("models dir");
    let rounds: usize = std::env::args().nth(2).map_or(5, |s| s.parse().unwrap());
    let state = AppState::new(ServerConfig {
        models_dir: models.into(),
        ..ServerConfig::default()
    });
    assert_eq!(state.reload().await.unwrap(), 0);
    let app = falcon_server::router(state);
    let body =
        r#"{"text":"FREE money!!! Click here http://win.example.com to claim your prize now"}"#;
    let n = 100_000;
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..n {
            let req = Request::post("/predict")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            let _ = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
        }
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        best = best.min(ns);
        println!("{ns:.0} ns/req");
    }
    println!("best {best:.0} ns/req");
}
