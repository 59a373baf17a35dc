//! Hot reload under load: new versions, repository load/unload of another
//! model, rescans and a failed load while clients hammer the server — zero
//! failed requests.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_fails_no_request() {
    let repo = Repo::spam();
    let server = Server::start(config(&repo)).await;
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let texts = Arc::new(heldout(50));
    let mut clients = Vec::new();
    for c in 0..4 {
        let (stop, ok, texts) = (stop.clone(), ok.clone(), texts.clone());
        clients.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await.unwrap();
            let mut failures = Vec::new();
            let mut versions = std::collections::BTreeSet::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                // Unique texts half the time, so the engine (not only the
                // cache) runs across every swap.
                let text = if i.is_multiple_of(2) {
                    format!("{c}-{i} {}", texts[i % texts.len()])
                } else {
                    texts[i % texts.len()].clone()
                };
                let (path, body) = if i.is_multiple_of(3) {
                    ("/v2/models/spam/infer", json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}]}))
                } else {
                    ("/v1/models/spam/predict", json!({"text": text}))
                };
                match conn.send("POST", path, &[("content-type", "application/json")], body.to_string().as_bytes()).await {
                    Ok(r) if r.status == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        let j = r.json();
                        let v = j.get("version").or(j.get("model_version")).cloned().unwrap();
                        versions.insert(v.as_str().unwrap().to_string());
                    }
                    Ok(r) => failures.push(format!("{}: {}", r.status, String::from_utf8_lossy(&r.body))),
                    Err(e) => {
                        failures.push(format!("io: {e}"));
                        conn = Conn::open(addr).await.unwrap();
                    }
                }
            }
            (failures, versions)
        }));
    }
    let admin = |path: &'static str| async move { post_tcp(addr, path, &json!({})).await };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // New versions appear and are picked up by rescans (what SIGHUP does).
    for v in 2..=3 {
        repo.add("spam", v, &spam_model());
        assert_eq!(server.state.reload().await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Explicit reloads through the repository API.
    for _ in 0..2 {
        let r = admin("/v2/repository/models/spam/load").await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Another model comes and goes.
    repo.add("tri", 1, &fixture("mnb_count_tri.pkl"));
    assert_eq!(admin("/v2/repository/models/tri/load").await.status, 200);
    assert_eq!(admin("/v2/repository/models/tri/unload").await.status, 200);
    // A broken version: refused, the previous load keeps serving.
    repo.add("spam", 4, &fixture("refused_adaboost.pkl"));
    assert_eq!(server.state.reload().await.unwrap(), 1);
    let r = admin("/v2/repository/models/spam/load").await;
    assert_eq!(r.status, 400);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = std::collections::BTreeSet::new();
    for c in clients {
        let (failures, versions) = c.await.unwrap();
        assert!(
            failures.is_empty(),
            "failed requests during reload: {failures:?}"
        );
        seen.extend(versions);
    }
    let served = ok.load(Ordering::Relaxed);
    assert!(served > 100, "only {served} requests served");
    assert!(
        seen.contains("1") && seen.contains("3"),
        "versions seen: {seen:?}"
    );
    let r = post_tcp(addr, "/v1/models/spam/predict", &json!({"text": "x"})).await;
    assert_eq!(r.json()["version"], "3");
    // The rescan after the unload found `tri` on disk again: a rescan
    // serves the whole repository.
    let idx = post_tcp(addr, "/v2/repository/index", &json!({"ready": true}))
        .await
        .json();
    assert_eq!(
        idx.as_array()
            .unwrap()
            .iter()
            .filter(|m| m["name"] == "tri")
            .count(),
        1,
        "{idx}"
    );
    let m = String::from_utf8(
        request(addr, "GET", "/metrics", &[], b"")
            .await
            .unwrap()
            .body,
    )
    .unwrap();
    assert!(m.contains("model_loads_total{result=\"failure\"} 2"), "{m}");
    server.stop().await;
}
