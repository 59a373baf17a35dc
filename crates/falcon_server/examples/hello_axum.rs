//! The HTTP floor for benchmarks: a minimal axum server that parses the same
//! `{"text": "..."}` body as `POST /predict` and answers a constant JSON
//! prediction — no model, no cache, no middleware. Falcon's cache-hit
//! throughput is compared against this (issue #3: ≥ 70 %).
//!
//! `cargo run --release -p falcon_server --example hello_axum -- 127.0.0.1:8002`

use axum::Json;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Req {
    text: String,
}

async fn predict(Json(req): Json<Req>) -> Json<Value> {
    Json(json!({"label": "ham", "length": req.text.len()}))
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8002".into());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            println!("hello_axum listening on {}", listener.local_addr()?);
            let app = axum::Router::new().route("/predict", post(predict));
            axum::serve(listener, app).await
        })
}
