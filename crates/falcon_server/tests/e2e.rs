//! End-to-end over real TCP on port 0: keep-alive, readiness, graceful
//! shutdown with requests in flight.

mod common;

use std::time::Duration;

use common::*;
use falcon_server::{ServerConfig, Stopped};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_json_and_oip_over_tcp_with_keep_alive() {
    let repo = Repo::spam();
    let server = Server::start(config(&repo)).await;
    let mut conn = Conn::open(server.addr).await.unwrap();
    for (i, text) in heldout(20).iter().enumerate() {
        let body = json!({"text": text}).to_string();
        let r = conn
            .send(
                "POST",
                "/predict",
                &[("content-type", "application/json")],
                body.as_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "request {i}");
        assert!(r.json()["label"].is_string());
    }
    let oip =
        json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["hi"]}]})
            .to_string();
    let r = conn
        .send("POST", "/v2/models/spam/infer", &[], oip.as_bytes())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = conn.send("GET", "/metrics", &[], b"").await.unwrap();
    let m = String::from_utf8(r.body).unwrap();
    assert!(
        m.contains("http_requests_total{method=\"POST\",route=\"/predict\",status=\"200\"} 20"),
        "{m}"
    );
    assert_eq!(server.stop().await, Stopped::Drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests_then_stops_accepting() {
    let repo = Repo::spam();
    let server = Server::start(ServerConfig {
        max_batch: 10_000,
        max_body_bytes: 64 << 20,
        cache_bytes: 0,
        ..config(&repo)
    })
    .await;
    let addr = server.addr;
    // Slow requests: big batches of distinct texts, uncached.
    let texts: Vec<String> = heldout(200);
    let mut clients = Vec::new();
    for c in 0..4 {
        let texts: Vec<String> = texts.iter().map(|t| format!("{c} {t}")).collect();
        clients.push(tokio::spawn(async move {
            post_tcp(addr, "/v1/models/spam/predict", &json!({"texts": texts})).await
        }));
    }
    // Shut down once all four are inside the server.
    let in_flight = || server.state.metrics().in_flight.get();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while in_flight() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "requests never arrived"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let stopped = server.stop().await;
    assert_eq!(stopped, Stopped::Drained);
    for c in clients {
        let r = c.await.unwrap();
        assert_eq!(r.status, 200, "in-flight request completed");
        assert_eq!(r.json()["predictions"].as_array().unwrap().len(), 200);
    }
    assert!(
        request(addr, "GET", "/healthz", &[], b"").await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_timeout_bounds_shutdown() {
    let repo = Repo::spam();
    let server = Server::start(ServerConfig {
        drain_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_secs(60),
        ..config(&repo)
    })
    .await;
    // A client that never finishes its body keeps its request in flight.
    let mut conn = Conn::open(server.addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    conn.raw()
        .write_all(b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"te")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let stopped = server.stop().await;
    assert!(
        matches!(stopped, Stopped::DrainTimedOut { .. }),
        "{stopped:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}
