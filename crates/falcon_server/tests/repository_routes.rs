//! `ServerConfig::repository_routes`: with it off, the three OIP
//! model-repository routes are not routed (404 `route_not_found`, the
//! standard error envelope) while prediction, OIP inference and the probes
//! still answer; with it on (the default) the same requests reach the
//! repository. In-process, through the real router.

mod common;

use common::*;
use falcon_server::ServerConfig;
use serde_json::json;

const REPOSITORY_ROUTES: [&str; 3] = [
    "/v2/repository/index",
    "/v2/repository/models/spam/load",
    "/v2/repository/models/spam/unload",
];

#[tokio::test]
async fn off_removes_the_repository_api_and_keeps_serving() {
    let repo = Repo::spam();
    let state = loaded(ServerConfig {
        repository_routes: false,
        ..config(&repo)
    })
    .await;
    for path in REPOSITORY_ROUTES {
        let r = post_json(&state, path, json!({})).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.error_type(), "route_not_found", "{path}");
    }
    // The model was not unloaded by the refused request: it still predicts.
    let r = post_json(&state, "/predict", json!({"text": "hello"})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = get(&state, "/v2/models/spam/ready").await;
    assert_eq!(r.status, 200);
    assert_eq!(get(&state, "/readyz").await.status, 200);
}

#[tokio::test]
async fn on_by_default_routes_the_repository_api() {
    assert!(ServerConfig::default().repository_routes);
    let repo = Repo::spam();
    let state = loaded(config(&repo)).await;
    let r = post_json(&state, "/v2/repository/index", json!({})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()[0]["name"], "spam");
    let r = post_json(&state, "/v2/repository/models/spam/unload", json!({})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = get(&state, "/v2/models/spam/ready").await;
    assert_ne!(r.status, 200, "unloaded through the routed API");
}
