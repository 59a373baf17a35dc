//! The Redis tier against real Redis: the shared server at
//! `FALCON_TEST_REDIS_URL`, and private `redis-server` processes that the
//! fault tests stop, freeze and restart.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use falcon_auth::{Decision, LocalRateLimiter, Rate, RateLimiter};
use falcon_redis::{
    CacheWrite, RedisCache, RedisCacheConfig, RedisConn, RedisOptions, RedisRateLimiter,
};
use sha2::Digest;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The shared test Redis, or `None` with a skip notice when the variable is
/// unset or, outside CI, Redis is unreachable (with `CI=true`: a failure).
async fn redis_url(test: &str) -> Option<String> {
    let Ok(url) = std::env::var("FALCON_TEST_REDIS_URL") else {
        eprintln!("SKIP {test}: FALCON_TEST_REDIS_URL not set");
        return None;
    };
    let reachable = async {
        let c = redis::Client::open(url.as_str()).ok()?;
        let mut conn = c.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    };
    match tokio::time::timeout(Duration::from_secs(2), reachable).await {
        Ok(Some(_)) => Some(url),
        _ => {
            assert!(
                !ci(),
                "CI=true but Redis at FALCON_TEST_REDIS_URL is unreachable"
            );
            eprintln!("SKIP {test}: Redis unreachable");
            None
        }
    }
}

/// A unique prefix per test run, so tests never see each other's keys.
fn prefix(test: &str) -> String {
    format!(
        "falcon-test:{test}:{}:{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn options(url: &str) -> RedisOptions {
    let mut o = RedisOptions::new(url);
    // Generous enough for a loaded 2-core CI machine, still "a few ms".
    o.timeout = Duration::from_millis(20);
    o.backoff_min = Duration::from_millis(20);
    o.backoff_max = Duration::from_millis(200);
    o.pool_size = 2;
    o
}

async fn cache(url: &str, prefix: &str) -> RedisCache {
    cache_with_pool(url, prefix, 2).await
}

async fn cache_with_pool(url: &str, prefix: &str, pool_size: usize) -> RedisCache {
    let mut c = RedisCacheConfig::new(url);
    c.redis = options(url);
    c.redis.pool_size = pool_size;
    c.prefix = prefix.to_owned();
    RedisCache::connect(c).await.unwrap()
}

/// A private redis-server on a free port (found by binding port 0).
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    fn free_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    async fn start_on(port: u16) -> PrivateRedis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for the Redis fault tests");
        let r = PrivateRedis {
            port,
            child: Some(child),
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("private redis-server did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn pid(&self) -> String {
        self.child.as_ref().unwrap().id().to_string()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            // A frozen server must be thawed to die promptly.
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_set_ttl_namespacing_and_collisions() {
    let Some(url) = redis_url("get_set_ttl_namespacing_and_collisions").await else {
        return;
    };
    let p = prefix("basic");
    let c = cache(&url, &p).await;
    assert!(c.get("spam", "1", "hello").await.is_none());
    c.set("spam", "1", "hello", b"P1", None).await;
    assert_eq!(c.get("spam", "1", "hello").await.unwrap().as_ref(), b"P1");
    // Other version, model, text, or prefix: other entries.
    assert!(c.get("spam", "2", "hello").await.is_none());
    assert!(c.get("ham", "1", "hello").await.is_none());
    assert!(c.get("spam", "1", "hello!").await.is_none());
    let other = cache(&url, &format!("{p}-other")).await;
    assert!(other.get("spam", "1", "hello").await.is_none());
    assert!(
        c.key("spam", "1", "hello")
            .starts_with(&format!("{p}:p:spam:1:"))
    );

    // The TTL is applied.
    let key = c.key("spam", "1", "hello");
    let raw = redis::Client::open(url.as_str()).unwrap();
    let mut rc = raw.get_multiplexed_async_connection().await.unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut rc)
        .await
        .unwrap();
    assert!(pttl > 290_000 && pttl <= 300_000, "{pttl}");
    c.set(
        "spam",
        "1",
        "short",
        b"P2",
        Some(Duration::from_millis(100)),
    )
    .await;
    assert!(c.get("spam", "1", "short").await.is_some());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(c.get("spam", "1", "short").await.is_none());

    // A forged entry under hello's key but for another text (what a hash
    // collision would look like) is a miss, not a wrong answer.
    let forged = falcon_redis::codec::encode_entry("not hello", b"WRONG");
    c.set_raw(&key, &forged, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(c.get("spam", "1", "hello").await.is_none());
    // Garbage is a miss too.
    c.set_raw(&key, b"garbage", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(c.get("spam", "1", "hello").await.is_none());
    let s = c.stats();
    assert_eq!((s.collisions, s.corrupt), (1, 1), "{s:?}");
    assert_eq!(s.errors(), 0, "{s:?}");
    assert_eq!(s.hits, 2);
    assert_eq!(s.latency_count, s.hits + s.misses);
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut rc)
        .await
        .unwrap();
}

/// The write-back path: many entries in one pipeline, each with its own
/// TTL, each readable by `get` (whose key is computed from the text).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_many_pipelines_entries_with_their_ttls() {
    let Some(url) = redis_url("set_many_pipelines_entries_with_their_ttls").await else {
        return;
    };
    let c = cache(&url, &prefix("many")).await;
    let texts: Vec<String> = (0..200).map(|i| format!("text {i}")).collect();
    let writes: Vec<CacheWrite> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let digest: [u8; 32] = sha2::Sha256::digest(t.as_bytes()).into();
            CacheWrite {
                key: c.key_for_digest("spam", "1", &digest),
                value: falcon_redis::codec::encode_entry(t, format!("P{i}").as_bytes()),
                ttl: if i == 0 {
                    Duration::from_millis(100)
                } else {
                    Duration::from_secs(60)
                },
            }
        })
        .collect();
    c.set_many(&writes).await;
    assert_eq!(c.stats().sets, 200);
    for (i, t) in texts.iter().enumerate() {
        let got = c.get("spam", "1", t).await.expect("stored");
        assert_eq!(got.as_ref(), format!("P{i}").as_bytes());
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(c.get("spam", "1", &texts[0]).await.is_none(), "own TTL");
    assert!(c.get("spam", "1", &texts[1]).await.is_some());
    c.set_many(&[]).await;
    assert_eq!(c.stats().set_errors, 0);
}

/// Concurrent lookups while Redis is killed and later restarted on the
/// same port: no operation fails or stalls beyond its budget, errors are
/// counted, and the tier recovers by itself — with serve's default pool of
/// 50 connections, every one of which the restart killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_then_restarted() {
    if redis_url("redis_killed_mid_run_then_restarted")
        .await
        .is_none()
    {
        return;
    }
    let port = PrivateRedis::free_port();
    let mut server = PrivateRedis::start_on(port).await;
    let c = cache_with_pool(&server.url(), "falcon-test", 50).await;
    c.set("m", "1", "warm", b"W", None).await;
    assert!(c.get("m", "1", "warm").await.is_some());

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (c, stop) = (c.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let mut ops = 0u64;
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let text = format!("text {w} {}", i % 50);
                let t = Instant::now();
                if c.get("m", "1", &text).await.is_none() {
                    c.set("m", "1", &text, b"v", None).await;
                }
                worst = worst.max(t.elapsed());
                ops += 1;
                i += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            (ops, worst)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let during = c.stats();
    assert!(during.errors() > 0, "{during:?}");
    assert_eq!(during.connected, 0, "{during:?}");
    let server = PrivateRedis::start_on(port).await;
    // Recovery: entries are stored and hit again.
    let mut recovered = false;
    for _ in 0..200 {
        c.set("m", "1", "after", b"A", None).await;
        if c.get("m", "1", "after").await.is_some() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for w in workers {
        let (ops, worst) = w.await.expect("a worker panicked");
        total += ops;
        // get + set, each bounded by the 20 ms budget, plus scheduling slack.
        assert!(
            worst < Duration::from_millis(250),
            "an operation stalled for {worst:?}"
        );
    }
    let s = c.stats();
    assert!(recovered, "the tier did not recover: {s:?}");
    assert!(s.reconnects >= 1, "{s:?}");
    // Every slot is replaced soon after, not one per breaker window.
    let mut all = false;
    for _ in 0..100 {
        if c.stats().connected == 50 {
            all = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(all, "pool not fully reconnected: {:?}", c.stats());
    assert!(total > 100, "{total}");
    drop(server);
}

/// A frozen Redis (SIGSTOP: connections open, nothing answers) costs each
/// operation at most its budget, then the breaker short-circuits; after
/// SIGCONT the tier answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_redis_times_out_then_short_circuits() {
    if redis_url("frozen_redis_times_out_then_short_circuits")
        .await
        .is_none()
    {
        return;
    }
    let server = PrivateRedis::start_on(PrivateRedis::free_port()).await;
    let c = cache(&server.url(), "falcon-test").await;
    c.set("m", "1", "x", b"X", None).await;
    assert!(c.get("m", "1", "x").await.is_some());
    server.signal("-STOP");
    let t = Instant::now();
    for _ in 0..50 {
        assert!(c.get("m", "1", "x").await.is_none());
    }
    let elapsed = t.elapsed();
    let s = c.stats();
    assert!(s.timeouts >= 3, "{s:?}");
    assert!(s.unavailable > 0, "breaker never opened: {s:?}");
    // 50 lookups against a dead server cost far less than 50 budgets.
    assert!(elapsed < Duration::from_millis(50 * 20), "{elapsed:?}");
    server.signal("-CONT");
    let mut back = false;
    for _ in 0..200 {
        if c.get("m", "1", "x").await.is_some() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(back, "{:?}", c.stats());
}

/// Two limiter instances with their own connections — two workers —
/// share one bucket per key; two in-process limiters would not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_limiters_share_one_bucket() {
    let Some(url) = redis_url("two_limiters_share_one_bucket").await else {
        return;
    };
    let p = prefix("rl");
    let a = RedisRateLimiter::new(RedisConn::connect(options(&url)).await.unwrap(), &p);
    let b = RedisRateLimiter::new(RedisConn::connect(options(&url)).await.unwrap(), &p);
    let rate: Rate = "10/s".parse().unwrap();
    let t = Instant::now();
    let mut allowed = 0;
    let mut retry = Duration::ZERO;
    for i in 0..40 {
        let l: &dyn RateLimiter = if i % 2 == 0 { &a } else { &b };
        match l.check("key-1", rate).await {
            Decision::Allowed => allowed += 1,
            Decision::Limited { retry_after } => retry = retry_after,
        }
    }
    let secs = t.elapsed().as_secs_f64();
    // The burst of 10, plus what refilled meanwhile.
    let max = 10 + (secs * 10.0).ceil() as u32;
    assert!(
        (10..=max).contains(&allowed),
        "allowed {allowed} in {secs:.3}s"
    );
    assert!(
        retry > Duration::ZERO && retry <= Duration::from_millis(100),
        "{retry:?}"
    );
    assert_eq!(a.fallbacks() + b.fallbacks(), 0);
    // Another key has its own bucket.
    assert!(a.check("key-2", rate).await.is_allowed());
    // It refills: after 250 ms, about 2 more tokens.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut refilled = 0;
    for _ in 0..10 {
        if b.check("key-1", rate).await.is_allowed() {
            refilled += 1;
        }
    }
    assert!((2..=4).contains(&refilled), "{refilled}");

    // Contrast: two in-process limiters each allow the full burst.
    let (la, lb) = (LocalRateLimiter::new(), LocalRateLimiter::new());
    let local = (0..40)
        .filter(|i| {
            if i % 2 == 0 {
                la.check_now("k", rate)
            } else {
                lb.check_now("k", rate)
            }
            .is_allowed()
        })
        .count();
    assert!(local >= 20, "{local}");
}

/// With Redis unreachable, checks still answer (in-process fallback).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limiter_falls_back_when_redis_is_down() {
    let port = PrivateRedis::free_port();
    let l = RedisRateLimiter::new(
        RedisConn::connect(options(&format!("redis://127.0.0.1:{port}/")))
            .await
            .unwrap(),
        "falcon-test",
    );
    let rate: Rate = "5/s".parse().unwrap();
    let allowed = {
        let mut n = 0;
        for _ in 0..20 {
            if l.check("k", rate).await.is_allowed() {
                n += 1;
            }
        }
        n
    };
    assert!((5..=6).contains(&allowed), "{allowed}");
    assert_eq!(l.fallbacks(), 20);
}

/// Lookup latency of the Redis tier under the seed's concurrency (50
/// in-flight requests, ~65 % hits):
/// `FALCON_TEST_REDIS_URL=redis://127.0.0.1:6379/ cargo test --release -p
/// falcon_redis --test redis -- --ignored --nocapture bench`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly"]
async fn bench_lookup_latency() {
    let Some(url) = redis_url("bench_lookup_latency").await else {
        return;
    };
    let p = prefix("bench");
    let mut cfg = RedisCacheConfig::new(&url);
    cfg.prefix = p;
    let c = RedisCache::connect(cfg).await.unwrap();
    let payload = falcon_redis::codec::encode_prediction(&falcon_engine::Prediction {
        label: 1,
        probabilities: Some(vec![0.1, 0.9]),
        decision: Some(vec![2.0]),
    });
    let text = |i: u64| {
        format!(
            "Subject: offer {i}\n\nDear friend, {}",
            "lorem ipsum ".repeat(60)
        )
    };
    for i in 0..650 {
        c.set("spam", "1", &text(i), &payload, None).await;
    }
    // Saturation (no think time), then a paced load (~2,000 lookups/s).
    for (think, n) in [(Duration::ZERO, 2000u64), (Duration::from_millis(25), 100)] {
        let before = c.stats();
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..50u64 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let t = Instant::now();
                    let _ = c
                        .get("spam", "1", &text((w * 7919 + i * 104_729) % 1000))
                        .await;
                    lat.push(t.elapsed());
                    if !think.is_zero() {
                        tokio::time::sleep(think).await;
                    }
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.unwrap());
        }
        let secs = start.elapsed().as_secs_f64();
        lat.sort();
        let q = |p: f64| lat[((p * lat.len() as f64).ceil() as usize).max(1) - 1];
        let s = c.stats();
        let (hits, misses) = (s.hits - before.hits, s.misses - before.misses);
        println!(
            "think {think:?}: {} lookups in {secs:.2} s ({:.0}/s), hit rate {:.1}%, errors {}: p50 {:?} p95 {:?} p99 {:?}",
            lat.len(),
            lat.len() as f64 / secs,
            100.0 * hits as f64 / (hits + misses) as f64,
            s.errors() - before.errors(),
            q(0.5),
            q(0.95),
            q(0.99)
        );
    }
}

/// Two worker *processes* share one key's bucket: over 2 s at 50/s (burst
/// 50), together they get ~150 requests through, not ~300.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_holds_across_two_processes() {
    let Some(url) = redis_url("limit_holds_across_two_processes").await else {
        return;
    };
    let p = prefix("procs");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_falcon-ratelimit-probe"))
            .args([url.as_str(), p.as_str(), "shared-key", "50/s", "300", "2"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let parse = |c: Child| {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        let s = String::from_utf8(out.stdout).unwrap();
        let f: Vec<&str> = s.split_whitespace().collect();
        assert_eq!(f[2], "fallbacks");
        assert_eq!(f[3], "0", "{s}");
        f[1].parse::<u32>().unwrap()
    };
    let total = parse(a) + parse(b);
    // 50 burst + 50/s × ~2 s (plus process start skew); two independent
    // buckets would allow ~300; the margin absorbs process start-up skew.
    assert!((140..=200).contains(&total), "{total}");
}
