//! The load generator against real HTTP servers on 127.0.0.1:0 (axum),
//! whose own counters are the ground truth.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use falcon_loadgen::{Corpus, LoadConfig, Mode, RepeatDist, WorkerPid, run};

#[derive(Default)]
struct Server {
    requests: AtomicU64,
    served_503: AtomicU64,
    seen: Mutex<HashSet<String>>,
    /// Every n-th request answers 503 (0: never).
    fail_every: u64,
    /// Request number that stalls, and for how long.
    stall: Option<(u64, Duration)>,
}

async fn predict(
    State(s): State<Arc<Server>>,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, HeaderMap, &'static str) {
    let n = s.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some((at, pause)) = s.stall
        && n == at
    {
        tokio::time::sleep(pause).await;
    }
    let mut headers = HeaderMap::new();
    if s.fail_every > 0 && n.is_multiple_of(s.fail_every) {
        s.served_503.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            headers,
            "{\"error\":\"busy\"}",
        );
    }
    let text = body["text"].as_str().expect("a text").to_owned();
    let hit = !s.seen.lock().unwrap().insert(text);
    headers.insert("x-cache", if hit { "hit" } else { "miss" }.parse().unwrap());
    (StatusCode::OK, headers, "{\"label\":\"ham\"}")
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

async fn start(server: Server) -> (Arc<Server>, SocketAddr) {
    let state = Arc::new(server);
    let router = Router::new()
        .route("/predict", post(predict))
        .with_state(state.clone());
    (state, serve(router).await)
}

fn corpus() -> Arc<Corpus> {
    Arc::new(Corpus::from_texts((0..200).map(|i| format!("email number {i}"))).unwrap())
}

fn config(addr: SocketAddr, mode: Mode, secs: f64) -> LoadConfig {
    let mut cfg = LoadConfig::seed_shape(format!("http://{addr}"));
    cfg.mode = mode;
    cfg.duration = Duration::from_secs_f64(secs);
    cfg.warmup = Duration::ZERO;
    cfg.timeout = Duration::from_secs(5);
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_counts_every_request_and_the_cache_hit_rate() {
    let (server, addr) = start(Server::default()).await;
    let mut cfg = config(
        addr,
        Mode::Closed {
            vus: 8,
            think: Duration::from_millis(5),
        },
        1.5,
    );
    cfg.warmup = Duration::from_millis(300);
    cfg.repeat = 0.6;
    let r = run(&cfg, corpus()).await.unwrap();
    let s = &r.summary;
    let served = server.requests.load(Ordering::SeqCst);
    assert_eq!(s.requests + s.warmup_requests, served);
    assert!(s.warmup_requests > 0 && s.requests > 100, "{s:?}");
    assert_eq!(s.failed, 0);
    assert_eq!(s.status.get("200"), Some(&s.requests));
    assert_eq!(s.cache_hits + s.cache_misses, s.requests);
    let rate = s.cache_hit_rate.unwrap();
    assert!((rate - 0.6).abs() < 0.1, "hit rate {rate}");
    // 8 VUs, ≥ 5 ms per iteration: at most 1600 req/s.
    assert!(s.rps <= 8.0 / 0.005 * 1.05, "{}", s.rps);
    assert!(s.latency_ms.p50 > 0.0 && s.latency_ms.p50 <= s.latency_ms.p99);
    assert!(s.latency_ms.p99 <= s.latency_ms.max);
    // One point per second of the window, adding up to the total.
    assert_eq!(r.timeseries.len(), 2);
    assert_eq!(
        r.timeseries.iter().map(|p| p.requests).sum::<u64>(),
        s.requests
    );
    // The run file round-trips.
    let json = serde_json::to_string(&r).unwrap();
    let back: falcon_loadgen::RunReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.summary.status, r.summary.status);
    assert_eq!(back.config, r.config);
    assert!((back.summary.latency_ms.p95 - r.summary.latency_ms.p95).abs() < 1e-9);
    assert!((back.started_unix - r.started_unix).abs() < 1e-3);
    assert_eq!(back.timeseries.len(), r.timeseries.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_against_a_warm_server_keeps_its_hit_rate() {
    let (_server, addr) = start(Server::default()).await;
    let mut rates = Vec::new();
    for nonce in [1, 2] {
        let mut cfg = config(
            addr,
            Mode::Closed {
                vus: 4,
                think: Duration::from_millis(2),
            },
            0.8,
        );
        cfg.repeat = 0.3;
        cfg.run_nonce = Some(nonce);
        let r = run(&cfg, corpus()).await.unwrap();
        rates.push(r.summary.cache_hit_rate.unwrap());
    }
    for rate in rates {
        assert!((rate - 0.3).abs() < 0.1, "hit rate {rate}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_counted_by_status() {
    let (server, addr) = start(Server {
        fail_every: 5,
        ..Default::default()
    })
    .await;
    let cfg = config(
        addr,
        Mode::Closed {
            vus: 4,
            think: Duration::from_millis(2),
        },
        1.0,
    );
    let r = run(&cfg, corpus()).await.unwrap();
    let s = &r.summary;
    let served_503 = server.served_503.load(Ordering::SeqCst);
    assert_eq!(s.requests, server.requests.load(Ordering::SeqCst));
    assert!(served_503 > 10);
    assert_eq!(s.status.get("503"), Some(&served_503));
    assert_eq!(s.failed, served_503);
    assert_eq!(s.ok + s.failed, s.requests);
    assert!((s.error_rate - 0.2).abs() < 0.01, "{}", s.error_rate);
    // 503s carry no x-cache: only the 200s count toward the hit rate.
    assert_eq!(s.cache_hits + s.cache_misses, s.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_and_timeouts_are_failures() {
    // A port that was free a moment ago: nothing listens there.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = config(
        addr,
        Mode::Open {
            rate: 50.0,
            max_in_flight: 10,
        },
        0.5,
    );
    let r = run(&cfg, corpus()).await.unwrap();
    assert_eq!(r.summary.requests, 25);
    assert_eq!(r.summary.status.get("connect"), Some(&25));
    assert_eq!(r.summary.failed, 25);

    let (_server, addr) = start(Server {
        stall: Some((1, Duration::from_secs(3))),
        ..Default::default()
    })
    .await;
    let mut cfg = config(
        addr,
        Mode::Closed {
            vus: 1,
            think: Duration::ZERO,
        },
        0.2,
    );
    cfg.timeout = Duration::from_millis(300);
    let r = run(&cfg, corpus()).await.unwrap();
    assert_eq!(r.summary.status.get("timeout"), Some(&1), "{:?}", r.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_holds_its_arrival_rate() {
    let (server, addr) = start(Server::default()).await;
    let cfg = config(
        addr,
        Mode::Open {
            rate: 400.0,
            max_in_flight: 64,
        },
        2.0,
    );
    let started = std::time::Instant::now();
    let r = run(&cfg, corpus()).await.unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(r.summary.requests, 800);
    assert_eq!(server.requests.load(Ordering::SeqCst), 800);
    assert!((r.summary.rps - 400.0).abs() < 1e-9);
    assert!((2.0..3.0).contains(&wall), "took {wall}s");
    // Spread evenly: every second of the window carries about its share.
    for p in &r.timeseries {
        assert!((340..=460).contains(&p.requests), "{:?}", r.timeseries);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_in_every_request_that_was_due_during_it() {
    // One connection, 100 req/s for 2 s; request 50 stalls the server for
    // 500 ms. A tool that times from the actual send would see one slow
    // request (p99 ≈ 500 ms, p90 ≈ 1 ms); from the intended start, the ~50
    // requests due during the stall wait 500 ms down to 0 ms.
    let (_server, addr) = start(Server {
        stall: Some((50, Duration::from_millis(500))),
        ..Default::default()
    })
    .await;
    let cfg = config(
        addr,
        Mode::Open {
            rate: 100.0,
            max_in_flight: 1,
        },
        2.0,
    );
    let r = run(&cfg, corpus()).await.unwrap();
    let l = r.summary.latency_ms;
    assert_eq!(r.summary.requests, 200);
    assert!(l.max >= 500.0, "{l:?}");
    assert!(l.p90 >= 300.0, "p90 {l:?}");
    assert!(l.p50 < 50.0, "p50 {l:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipf_repeats_favor_early_texts_and_unique_mode_never_hits() {
    let (_server, addr) = start(Server::default()).await;
    let mut cfg = config(
        addr,
        Mode::Closed {
            vus: 4,
            think: Duration::ZERO,
        },
        0.5,
    );
    cfg.unique = true;
    let r = run(&cfg, corpus()).await.unwrap();
    assert_eq!(r.summary.cache_hits, 0);
    assert!(r.summary.cache_misses > 50);

    let (_server, addr) = start(Server::default()).await;
    let mut cfg = config(
        addr,
        Mode::Closed {
            vus: 4,
            think: Duration::ZERO,
        },
        0.5,
    );
    cfg.repeat = 0.8;
    cfg.repeat_dist = RepeatDist::Zipf;
    let r = run(&cfg, corpus()).await.unwrap();
    let rate = r.summary.cache_hit_rate.unwrap();
    assert!(rate > 0.7, "{rate}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_numbers_come_from_the_http_api() {
    // A server speaking the Prometheus HTTP API (what `promtool`-checked
    // Prometheus answers); it records the queries it was asked.
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = asked.clone();
    let router = Router::new().route(
        "/api/v1/query",
        get(move |Query(q): Query<std::collections::HashMap<String, String>>| {
            let log = log.clone();
            async move {
                let query = q["query"].clone();
                assert!(q["time"].parse::<f64>().unwrap() > 1.0e9);
                log.lock().unwrap().push(query.clone());
                let value = if query.starts_with("histogram_quantile") {
                    "0.0042"
                } else if query.starts_with("rate(process_cpu") {
                    "73.5"
                } else {
                    "31457280"
                };
                Json(serde_json::json!({"status": "success", "data": {"resultType": "vector",
                    "result": [{"metric": {"instance": "127.0.0.1:9001"}, "value": [1.0, value]}]}}))
            }
        }),
    );
    let prom = serve(router).await;
    let (_server, addr) = start(Server::default()).await;
    let mut cfg = config(
        addr,
        Mode::Closed {
            vus: 2,
            think: Duration::from_millis(10),
        },
        1.0,
    );
    cfg.prometheus = Some(format!("http://{prom}"));
    let r = run(&cfg, corpus()).await.unwrap();
    let server = r.server.unwrap();
    assert_eq!(server.p95_ms, Some(4.2));
    assert_eq!(server.window_s, 1);
    assert_eq!(
        asked.lock().unwrap()[0],
        "histogram_quantile(0.95, sum(rate(inference_duration_seconds_bucket[1s])) by (le))"
    );
    assert_eq!(r.workers.len(), 1);
    assert_eq!(r.workers[0].name, "127.0.0.1:9001");
    assert_eq!(r.workers[0].cpu_percent, Some(73.5));
    assert_eq!(r.workers[0].rss_avg_bytes, Some(31457280.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_workers_are_sampled_from_proc() {
    let (_server, addr) = start(Server::default()).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spin = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut x = 0u64;
            while !stop.load(Ordering::Relaxed) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            x
        })
    };
    let mut cfg = config(
        addr,
        Mode::Closed {
            vus: 1,
            think: Duration::from_millis(20),
        },
        2.2,
    );
    cfg.pids = vec![WorkerPid {
        name: "me".into(),
        pid: std::process::id() as i32,
    }];
    let r = run(&cfg, corpus()).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    spin.join().unwrap();
    let w = &r.workers[0];
    assert_eq!(w.name, "me");
    // A spinning thread keeps up to one core busy (less when the machine is
    // shared); an idle test process would be near 0 %.
    let cpu = w.cpu_percent.unwrap();
    let cores = std::thread::available_parallelism().unwrap().get() as f64;
    assert!(cpu > 20.0 && cpu <= 100.0 * cores + 10.0, "cpu {cpu}");
    assert!(w.rss_max_bytes.unwrap() > 1e6);
    assert!(!r.worker_timeseries.is_empty());
}
