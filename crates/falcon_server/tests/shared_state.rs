//! The shared-state ports in-process: authentication and rate limits
//! (`Gatekeeper`), the shared cache tier (`SharedTier`, `x-cache-tier`)
//! and the prediction log (`PredictionSink`), with in-memory fakes of the
//! ports. The real adapters (Redis, SQL) are tested in the `falcon` crate.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use common::*;
use falcon_engine::{Output, Prediction};
use falcon_server::{
    AppState, BoxFuture, Caller, Denied, Gatekeeper, Ports, PredictionEvent, PredictionSink,
    SharedKey, SharedTier, Tier,
};
use http::Request;
use serde_json::json;

// ---------------------------------------------------------------------------
// Fakes.

#[derive(Default)]
struct FakeTier {
    /// Keyed by (model, version, text); a record's text is its canonical
    /// encoding behind `R:` (kept apart from texts, as the port requires).
    entries: Mutex<HashMap<(String, String, String), Output>>,
    gets: AtomicUsize,
    puts: AtomicUsize,
    /// Latency of every lookup.
    delay: Duration,
}

impl SharedTier for FakeTier {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn get<'a>(&'a self, key: SharedKey<'a>) -> BoxFuture<'a, Option<Output>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        assert_eq!(*key.text_sha256, falcon_server::text_sha256(key.text));
        let k = fake_key(&key);
        let v = self.entries.lock().unwrap().get(&k).cloned();
        let delay = self.delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            v
        })
    }
    fn put(&self, key: SharedKey<'_>, prediction: &Output, _ttl: Duration) {
        self.puts.fetch_add(1, Ordering::SeqCst);
        let k = fake_key(&key);
        self.entries.lock().unwrap().insert(k, prediction.clone());
    }
    fn write_prometheus(&self, out: &mut String) {
        out.push_str("# TYPE fake_tier_gets_total counter\n");
        out.push_str(&format!(
            "fake_tier_gets_total {}\n",
            self.gets.load(Ordering::SeqCst)
        ));
    }
}

fn fake_key(key: &SharedKey<'_>) -> (String, String, String) {
    let text = match key.kind {
        falcon_server::InputKind::Text => key.text.to_string(),
        falcon_server::InputKind::Record => format!("R:{}", key.text),
    };
    (key.model.into(), key.version.into(), text)
}

#[derive(Debug, Clone, PartialEq)]
struct Logged {
    request_id: String,
    item: u32,
    model: String,
    version: String,
    /// The single label's index (`usize::MAX` for a multi answer).
    label: usize,
    output: Output,
    tier: Tier,
    api_key_id: Option<String>,
    text: String,
    latency: Duration,
}

#[derive(Default)]
struct FakeSink(Mutex<Vec<Logged>>);

impl FakeSink {
    fn take(&self) -> Vec<Logged> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl PredictionSink for FakeSink {
    fn record(&self, e: PredictionEvent<'_>) {
        let label = match e.prediction {
            Output::Single(p) => {
                assert!(p.label < e.classes.len());
                p.label
            }
            _ => usize::MAX,
        };
        // Computed once per text and shared with the tier: it must still be
        // this text's digest whichever tier answered.
        assert_eq!(*e.text_sha256, falcon_server::text_sha256(e.text));
        self.0.lock().unwrap().push(Logged {
            request_id: e.request_id.to_string(),
            item: e.item,
            model: e.model.to_string(),
            version: e.version.to_string(),
            label,
            output: e.prediction.clone(),
            tier: e.tier,
            api_key_id: e.api_key_id.map(|k| k.to_string()),
            text: e.text.into(),
            latency: e.latency,
        });
    }
    fn write_prometheus(&self, out: &mut String) {
        out.push_str("# TYPE fake_sink_rows counter\nfake_sink_rows 0\n");
    }
}

/// Tokens: `user` (2 requests, then limited), `admin`, `revoked`.
#[derive(Default)]
struct FakeGate {
    user_requests: AtomicUsize,
}

impl Gatekeeper for FakeGate {
    fn admit<'a>(
        &'a self,
        authorization: Option<&'a str>,
        admin_route: bool,
    ) -> BoxFuture<'a, Result<Caller, Denied>> {
        Box::pin(async move {
            let token = authorization
                .ok_or(Denied::Missing)?
                .strip_prefix("Bearer ")
                .ok_or(Denied::Invalid)?;
            let (id, admin) = match token {
                "user" => ("k-user", false),
                "admin" => ("k-admin", true),
                "revoked" => {
                    return Err(Denied::Revoked {
                        key_id: "k-old".into(),
                    });
                }
                _ => return Err(Denied::Invalid),
            };
            if admin_route && !admin {
                return Err(Denied::Forbidden);
            }
            if !admin && self.user_requests.fetch_add(1, Ordering::SeqCst) >= 2 {
                return Err(Denied::RateLimited {
                    retry_after: Duration::from_millis(2500),
                });
            }
            Ok(Caller {
                key_id: id.into(),
                admin,
            })
        })
    }
}

/// The demo model's repository, shared by every "worker" of a test (as
/// workers share one model directory in production: the file fingerprint
/// in shared-tier keys is then the same).
fn shared_repo() -> &'static Repo {
    static REPO: std::sync::OnceLock<Repo> = std::sync::OnceLock::new();
    REPO.get_or_init(Repo::spam)
}

async fn state_with(ports: Ports) -> AppState {
    let state = AppState::with_config_and_ports(config(shared_repo()), ports);
    assert_eq!(state.reload().await.unwrap(), 0);
    state
}

async fn post_with(
    state: &AppState,
    uri: &str,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) -> Reply {
    let mut b = Request::post(uri).header("content-type", "application/json");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(state, b.body(Body::from(body.to_string())).unwrap()).await
}

async fn get_with(state: &AppState, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut b = Request::get(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(state, b.body(Body::empty()).unwrap()).await
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} missing in\n{text}"))
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------
// Auth and rate limits.

#[tokio::test]
async fn auth_off_needs_no_key() {
    let state = state_with(Ports::default()).await;
    let r = post_json(&state, "/predict", json!({"text": "hello"})).await;
    assert_eq!(r.status, 200);
    let r = post_json(&state, "/v2/repository/index", json!({})).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn auth_required_refuses_missing_invalid_and_revoked_keys() {
    let state = state_with(Ports {
        gatekeeper: Some(Arc::new(FakeGate::default())),
        ..Ports::default()
    })
    .await;
    let body = json!({"text": "hello"});
    let r = post_json(&state, "/predict", body.clone()).await;
    assert_eq!((r.status, r.error_type().as_str()), (401, "unauthorized"));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert!(r.json()["error"].as_str().unwrap().contains("Bearer"));
    for bad in ["Bearer nope", "Basic dXNlcjpwdw==", "user"] {
        let r = post_with(&state, "/predict", &[("authorization", bad)], body.clone()).await;
        assert_eq!(
            (r.status, r.error_type().as_str()),
            (401, "unauthorized"),
            "{bad}"
        );
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let r = post_with(
        &state,
        "/predict",
        &[("authorization", "Bearer revoked")],
        body.clone(),
    )
    .await;
    assert_eq!((r.status, r.error_type().as_str()), (401, "unauthorized"));
    assert!(r.json()["error"].as_str().unwrap().contains("revoked"));
    // Authentication comes before the body is read: a malformed body
    // without a key is a 401, not a 400.
    let r = post_raw(
        &state,
        "/predict",
        "application/json",
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(r.status, 401);
    // Unknown routes are not an oracle for anonymous callers either.
    let r = get(&state, "/nope").await;
    assert_eq!(r.status, 401);

    let r = post_with(
        &state,
        "/predict",
        &[("authorization", "Bearer user")],
        body,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-request-id").is_some());

    let m = String::from_utf8(get(&state, "/metrics").await.body).unwrap();
    assert_eq!(
        metric(&m, "http_auth_failures_total{reason=\"missing\"}"),
        3
    );
    assert_eq!(
        metric(&m, "http_auth_failures_total{reason=\"invalid\"}"),
        3
    );
    assert_eq!(
        metric(&m, "http_auth_failures_total{reason=\"revoked\"}"),
        1
    );
    assert_eq!(
        metric(&m, "http_auth_failures_total{reason=\"forbidden\"}"),
        0
    );
    assert_eq!(
        metric(
            &m,
            "http_requests_total{method=\"POST\",route=\"/predict\",status=\"401\"}"
        ),
        6
    );
}

#[tokio::test]
async fn open_routes_need_no_key() {
    let state = state_with(Ports {
        gatekeeper: Some(Arc::new(FakeGate::default())),
        ..Ports::default()
    })
    .await;
    for path in [
        "/healthz",
        "/readyz",
        "/v2/health/live",
        "/v2/health/ready",
        "/metrics",
        "/openapi.json",
        "/docs",
    ] {
        assert_eq!(get(&state, path).await.status, 200, "{path}");
    }
    // Model metadata is not open.
    assert_eq!(get(&state, "/v2/models/spam").await.status, 401);
    assert_eq!(
        get_with(
            &state,
            "/v2/models/spam",
            &[("authorization", "Bearer admin")]
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn repository_routes_need_an_admin_key() {
    let state = state_with(Ports {
        gatekeeper: Some(Arc::new(FakeGate::default())),
        ..Ports::default()
    })
    .await;
    for uri in [
        "/v2/repository/index",
        "/v2/repository/models/spam/load",
        "/v2/repository/models/spam/unload",
    ] {
        let r = post_with(&state, uri, &[("authorization", "Bearer user")], json!({})).await;
        assert_eq!(
            (r.status, r.error_type().as_str()),
            (403, "forbidden"),
            "{uri}"
        );
        let r = post_json(&state, uri, json!({})).await;
        assert_eq!(r.status, 401, "{uri}");
    }
    let r = post_with(
        &state,
        "/v2/repository/index",
        &[("authorization", "Bearer admin")],
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["name"], "spam");
    let m = String::from_utf8(get(&state, "/metrics").await.body).unwrap();
    assert_eq!(
        metric(&m, "http_auth_failures_total{reason=\"forbidden\"}"),
        3
    );
}

#[tokio::test]
async fn rate_limited_requests_get_429_with_retry_after() {
    let state = state_with(Ports {
        gatekeeper: Some(Arc::new(FakeGate::default())),
        ..Ports::default()
    })
    .await;
    let auth = [("authorization", "Bearer user")];
    for _ in 0..2 {
        let r = post_with(&state, "/predict", &auth, json!({"text": "hi"})).await;
        assert_eq!(r.status, 200);
    }
    let r = post_with(&state, "/predict", &auth, json!({"text": "hi"})).await;
    assert_eq!((r.status, r.error_type().as_str()), (429, "rate_limited"));
    // 2.5 s rounds up to whole seconds.
    assert_eq!(r.header("retry-after"), Some("3"));
    // Another key has its own limit.
    let r = post_with(
        &state,
        "/predict",
        &[("authorization", "Bearer admin")],
        json!({"text": "hi"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let m = String::from_utf8(get(&state, "/metrics").await.body).unwrap();
    assert_eq!(metric(&m, "http_requests_rate_limited_total"), 1);
}

// ---------------------------------------------------------------------------
// Shared cache tier.

#[tokio::test]
async fn shared_tier_answers_a_fresh_worker_and_writes_back_misses() {
    let tier = Arc::new(FakeTier::default());
    let ports = Ports {
        shared_tier: Some(tier.clone()),
        ..Ports::default()
    };
    let a = state_with(ports.clone()).await;
    let text = "FREE money!!! Click here to claim your prize";
    let r = post_json(&a, "/predict", json!({"text": text})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-cache"), Some("miss"));
    assert_eq!(r.header("x-cache-tier"), None);
    let expected = r.json();
    assert_eq!(
        tier.puts.load(Ordering::SeqCst),
        1,
        "a miss is written back"
    );
    // The key carries the version and a fingerprint of the model file.
    let (model, version, stored_text) = tier.entries.lock().unwrap().keys().next().unwrap().clone();
    assert_eq!((model.as_str(), stored_text.as_str()), ("spam", text));
    assert!(
        version.starts_with("1@") && version.len() == 2 + 16,
        "{version}"
    );

    // Another worker (empty in-process cache) gets it from the shared tier...
    let b = state_with(ports).await;
    let r = post_json(&b, "/predict", json!({"text": text})).await;
    assert_eq!(r.header("x-cache"), Some("hit"));
    assert_eq!(r.header("x-cache-tier"), Some("redis"));
    for f in ["label", "probabilities", "decision"] {
        assert_eq!(r.json()[f], expected[f], "{f}");
    }
    // ...and then from its own memory, without asking the shared tier.
    let gets = tier.gets.load(Ordering::SeqCst);
    let r = post_json(&b, "/predict", json!({"text": text})).await;
    assert_eq!(r.header("x-cache-tier"), Some("memory"));
    assert_eq!(tier.gets.load(Ordering::SeqCst), gets);
    // A batch answered by both tiers.
    let other = "lunch tomorrow?";
    post_json(&a, "/predict", json!({"text": other})).await;
    let r = post_json(&b, "/predict", json!({"texts": [text, other]})).await;
    assert_eq!(r.header("x-cache"), Some("hit"));
    assert_eq!(r.header("x-cache-tier"), Some("mixed"));
    // OIP inference goes through the same tiers.
    let r = post_json(
        &b,
        "/v2/models/spam/infer",
        json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [other]}]}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-cache-tier"), Some("memory"));

    let m = String::from_utf8(get(&b, "/metrics").await.body).unwrap();
    assert_eq!(
        metric(
            &m,
            "inference_cache_tier_hits_total{model=\"spam\",tier=\"redis\"}"
        ),
        2
    );
    assert_eq!(
        metric(
            &m,
            "inference_cache_tier_hits_total{model=\"spam\",tier=\"memory\"}"
        ),
        3
    );
    // Hits of either tier count as cache hits; misses are engine runs.
    assert_eq!(metric(&m, "inference_cache_hits_total{model=\"spam\"}"), 5);
    assert_eq!(
        metric(&m, "inference_cache_misses_total{model=\"spam\"}"),
        0
    );
    assert!(m.contains("fake_tier_gets_total"), "the tier's own metrics");
}

#[tokio::test]
async fn a_replaced_model_file_never_answers_from_shared_entries() {
    let tier = Arc::new(FakeTier::default());
    let ports = Ports {
        shared_tier: Some(tier.clone()),
        ..Ports::default()
    };
    let a = state_with(ports.clone()).await;
    post_json(&a, "/predict", json!({"text": "sigma"})).await;
    // Same name and version, another file (a redeploy): another key.
    let other = Repo::spam();
    let b = AppState::with_config_and_ports(config(&other), ports);
    assert_eq!(b.reload().await.unwrap(), 0);
    let r = post_json(&b, "/predict", json!({"text": "sigma"})).await;
    assert_eq!(r.header("x-cache"), Some("miss"));
    let versions: std::collections::HashSet<String> = tier
        .entries
        .lock()
        .unwrap()
        .keys()
        .map(|k| k.1.clone())
        .collect();
    assert_eq!(versions.len(), 2, "{versions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_misses_ask_the_shared_tier_and_engine_once() {
    let tier = Arc::new(FakeTier {
        delay: Duration::from_millis(50),
        ..FakeTier::default()
    });
    let state = state_with(Ports {
        shared_tier: Some(tier.clone()),
        ..Ports::default()
    })
    .await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                post_json(&state, "/predict", json!({"text": "the same text"})).await
            })
        })
        .collect();
    let mut misses = 0;
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200);
        if r.header("x-cache") == Some("miss") {
            misses += 1;
        }
    }
    assert_eq!(misses, 1);
    assert_eq!(tier.gets.load(Ordering::SeqCst), 1);
    assert_eq!(tier.puts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn implausible_shared_entries_are_misses() {
    let tier = Arc::new(FakeTier::default());
    let state = state_with(Ports {
        shared_tier: Some(tier.clone()),
        ..Ports::default()
    })
    .await;
    let version = {
        // Learn the key layout from one write-back.
        post_json(&state, "/predict", json!({"text": "probe"})).await;
        tier.entries
            .lock()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .1
            .clone()
    };
    let bogus = Output::Single(Prediction {
        label: 7,
        probabilities: Some(vec![0.5, 0.5]),
        decision: None,
    });
    tier.entries
        .lock()
        .unwrap()
        .insert(("spam".into(), version, "poisoned".into()), bogus);
    let r = post_json(&state, "/predict", json!({"text": "poisoned"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-cache"), Some("miss"));
    assert!(["ham", "spam"].contains(&r.json()["label"].as_str().unwrap()));
}

#[tokio::test]
async fn shared_tier_is_bypassed_when_caching_is_off_for_a_model() {
    let repo = Repo::spam();
    repo.config("spam", "cache_ttl = 0\n");
    let tier = Arc::new(FakeTier::default());
    let state = AppState::with_config_and_ports(
        config(&repo),
        Ports {
            shared_tier: Some(tier.clone()),
            ..Ports::default()
        },
    );
    assert_eq!(state.reload().await.unwrap(), 0);
    for _ in 0..2 {
        let r = post_json(&state, "/predict", json!({"text": "x"})).await;
        assert_eq!(r.header("x-cache"), Some("miss"));
    }
    assert_eq!(tier.gets.load(Ordering::SeqCst), 0);
    assert_eq!(tier.puts.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------
// Prediction log.

#[tokio::test]
async fn every_text_is_logged_once_with_its_tier_and_key() {
    let sink = Arc::new(FakeSink::default());
    let state = state_with(Ports {
        sink: Some(sink.clone()),
        gatekeeper: Some(Arc::new(FakeGate::default())),
        ..Ports::default()
    })
    .await;
    let auth = [("authorization", "Bearer admin")];
    let r = post_with(&state, "/predict", &auth, json!({"text": "alpha"})).await;
    assert_eq!(r.status, 200);
    let rows = sink.take();
    assert_eq!(rows.len(), 1);
    let first = &rows[0];
    assert_eq!(
        (first.item, first.model.as_str(), first.version.as_str()),
        (0, "spam", "1")
    );
    assert_eq!(first.tier, Tier::Computed);
    assert_eq!(first.api_key_id.as_deref(), Some("k-admin"));
    assert_eq!(first.text, "alpha");
    assert!(first.latency > Duration::ZERO);
    assert_eq!(
        Some(first.request_id.as_str()),
        r.header("x-request-id"),
        "without a client id the logged id is the response's"
    );
    let expected_label = r.json()["label"].clone();
    let classes = ["ham", "spam"];
    assert_eq!(json!(classes[first.label]), expected_label);

    // A batch: one row per text, in order, cache hits included.
    let r = post_with(
        &state,
        "/v1/models/spam/predict",
        &auth,
        json!({"texts": ["beta", "alpha", "beta"]}),
    )
    .await;
    assert_eq!(r.status, 200);
    let rows = sink.take();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter().map(|r| r.item).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(
        rows.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(),
        vec!["beta", "alpha", "beta"]
    );
    assert_eq!(
        rows.iter().map(|r| r.tier).collect::<Vec<_>>(),
        vec![Tier::Computed, Tier::Memory, Tier::Memory]
    );
    assert!(rows.iter().all(|r| r.request_id == rows[0].request_id));
    assert_ne!(rows[0].request_id, first.request_id);

    // A client id may repeat: the logged ids stay unique and keep it.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let h = [
            ("authorization", "Bearer admin"),
            ("x-request-id", "client-42"),
        ];
        let r = post_with(&state, "/predict", &h, json!({"text": "alpha"})).await;
        assert_eq!(r.header("x-request-id"), Some("client-42"));
        let rows = sink.take();
        assert_eq!(rows.len(), 1);
        assert!(
            rows[0].request_id.ends_with("/client-42"),
            "{}",
            rows[0].request_id
        );
        ids.push(rows[0].request_id.clone());
    }
    assert_ne!(ids[0], ids[1]);

    // OIP inference and explanations are predictions too.
    let r = post_with(
        &state,
        "/v2/models/spam/infer",
        &auth,
        json!({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["gamma", "alpha"]}]}),
    )
    .await;
    assert_eq!(r.status, 200);
    let rows = sink.take();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].item, rows[1].tier), (1, Tier::Memory));
    let r = post_with(
        &state,
        "/predict?explain=2",
        &auth,
        json!({"text": "delta"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let rows = sink.take();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].tier, Tier::Computed);

    // Failed requests log nothing.
    let too_many: Vec<String> = (0..300).map(|i| i.to_string()).collect();
    let r = post_with(&state, "/predict", &auth, json!({"texts": too_many})).await;
    assert_eq!(r.status, 413);
    // Refused requests neither.
    let r = post_json(&state, "/predict", json!({"text": "alpha"})).await;
    assert_eq!(r.status, 401);
    assert!(sink.take().is_empty());

    let m = String::from_utf8(get(&state, "/metrics").await.body).unwrap();
    assert!(m.contains("fake_sink_rows 0"), "the sink's own metrics");
}

#[tokio::test]
async fn without_auth_rows_have_no_key_and_shared_hits_are_tagged() {
    let sink = Arc::new(FakeSink::default());
    let tier = Arc::new(FakeTier::default());
    let ports = Ports {
        sink: Some(sink.clone()),
        shared_tier: Some(tier),
        ..Ports::default()
    };
    let a = state_with(ports.clone()).await;
    post_json(&a, "/predict", json!({"text": "omega"})).await;
    let b = state_with(ports).await;
    let r = post_json(&b, "/predict", json!({"text": "omega"})).await;
    assert_eq!(r.header("x-cache-tier"), Some("redis"));
    let rows = sink.take();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].tier, rows[1].tier), (Tier::Computed, Tier::Shared));
    assert!(rows.iter().all(|r| r.api_key_id.is_none()));
    assert!(rows.iter().all(|r| !r.request_id.is_empty()));
}

// ---------------------------------------------------------------------------
// Records and multi answers through the shared tier and the log.

/// A repository with a multi-label, a multi-output and a record model.
fn multi_repo() -> Repo {
    let repo = Repo::new();
    for (name, file) in [
        ("tags", "multilabel_ovr_lr.z.joblib"),
        ("outputs", "multioutput_lr.z.joblib"),
        ("columns", "columns_title_body_weights.z.joblib"),
    ] {
        repo.add(name, 1, &fixture(&format!("pipelines/{file}")));
    }
    repo
}

#[tokio::test]
async fn multi_answers_and_records_come_back_identical_from_the_shared_tier() {
    let repo = multi_repo();
    let tier = Arc::new(FakeTier::default());
    let ports = Ports {
        shared_tier: Some(tier.clone()),
        ..Ports::default()
    };
    let a = AppState::with_config_and_ports(config(&repo), ports.clone());
    assert_eq!(a.reload().await.unwrap(), 0);
    let b = AppState::with_config_and_ports(config(&repo), ports);
    assert_eq!(b.reload().await.unwrap(), 0);
    let record = json!({"title": "Win big", "body": "FREE money, click now"});
    for (model, body) in [
        ("tags", json!({"texts": ["FREE money!!!", "lunch?"]})),
        ("outputs", json!({"texts": ["FREE money!!!", "lunch?"]})),
        (
            "columns",
            json!({"records": [record, {"title": "hi", "body": "lunch?"}]}),
        ),
    ] {
        let uri = format!("/v1/models/{model}/predict");
        let computed = post_json(&a, &uri, body.clone()).await;
        assert_eq!(computed.status, 200, "{model}");
        assert_eq!(computed.header("x-cache"), Some("miss"));
        // Another worker: from the shared tier, byte for byte.
        let shared = post_json(&b, &uri, body.clone()).await;
        assert_eq!(shared.header("x-cache-tier"), Some("redis"), "{model}");
        assert_eq!(shared.body, computed.body, "{model}");
    }
    // A record is stored under its canonical encoding, apart from texts.
    let keys: Vec<String> = tier
        .entries
        .lock()
        .unwrap()
        .keys()
        .filter(|k| k.0 == "columns")
        .map(|k| k.2.clone())
        .collect();
    assert!(
        keys.contains(&r#"R:{"body":"FREE money, click now","title":"Win big"}"#.to_string()),
        "{keys:?}"
    );
    // An entry of another shape under a model's key is a miss, not served.
    let version = tier
        .entries
        .lock()
        .unwrap()
        .keys()
        .find(|k| k.0 == "tags")
        .unwrap()
        .1
        .clone();
    tier.entries.lock().unwrap().insert(
        ("tags".into(), version, "poisoned".into()),
        Output::Single(Prediction {
            label: 1,
            probabilities: Some(vec![0.5; 4]),
            decision: None,
        }),
    );
    let r = post_json(&b, "/v1/models/tags/predict", json!({"text": "poisoned"})).await;
    assert_eq!((r.status, r.header("x-cache")), (200, Some("miss")));
    assert!(r.json()["label"].is_array());
}

#[tokio::test]
async fn records_and_multi_answers_are_logged_with_their_canonical_key() {
    let repo = multi_repo();
    let sink = Arc::new(FakeSink::default());
    let state = AppState::with_config_and_ports(
        config(&repo),
        Ports {
            sink: Some(sink.clone()),
            ..Ports::default()
        },
    );
    assert_eq!(state.reload().await.unwrap(), 0);
    let r = post_json(
        &state,
        "/v1/models/columns/predict",
        json!({"record": {"title": "Win", "body": "FREE money"}}),
    )
    .await;
    assert_eq!(r.status, 200);
    let rows = sink.take();
    assert_eq!(rows.len(), 1);
    // The sink asserted text_sha256 == sha256(text): the canonical encoding.
    assert_eq!(rows[0].text, r#"{"body":"FREE money","title":"Win"}"#);
    let r = post_json(
        &state,
        "/v1/models/tags/predict",
        json!({"text": "FREE money"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let rows = sink.take();
    assert_eq!(rows.len(), 1);
    assert!(matches!(rows[0].output, Output::MultiLabel(_)));
    assert_eq!(rows[0].text, "FREE money");
}
