//! Shared state under faults, end to end: the real `falcon serve` binary
//! under concurrent keep-alive load while its dependencies fail.
//!
//! * Postgres unreachable mid-run (a TCP proxy between falcon and Postgres
//!   cuts every connection and refuses new ones, then comes back), and
//!   falcon's backends killed with `pg_terminate_backend`: zero failed
//!   predictions, and after recovery and SIGTERM the log holds exactly one
//!   row per text of every 200 (by `x-request-id`), no more, no less.
//! * A private `redis-server` killed mid-run and restarted on the same
//!   port: zero failed predictions, errors counted, Redis hits resume.
//! * SIGTERM mid-run with the log on (SQLite, and Postgres): exit 0, and
//!   every 200 is in the log after one restart on the same data dir; and
//!   SIGTERM while Postgres is unreachable: the rows wait in the spool and
//!   the next start replays them.
//! * Two workers sharing one Redis and one key database, `--auth required`,
//!   a key limited to 20/s: the 200s across both match one bucket.
//!
//! Services: `FALCON_TEST_DATABASE_URL`, `FALCON_TEST_REDIS_URL` and the
//! `redis-server` binary; under `CI=true` a missing one fails the test,
//! elsewhere it is skipped with a notice. Each test gets its own database
//! (`falcon_ft_*`, dropped afterwards), Redis prefix, data dir and ports.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

const WAIT: Duration = Duration::from_secs(45);
/// How soon after a dependency is back its use must resume.
const RECOVER: Duration = Duration::from_secs(20);

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

fn path_arg(p: &std::path::Path) -> String {
    p.to_str().expect("utf-8 path").to_owned()
}

/// Starts the load and returns its handle and stop flags.
struct Load {
    stop: Arc<AtomicBool>,
    tolerate: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<LoadResult>,
}

impl Load {
    fn start(
        addr: std::net::SocketAddr,
        clients: usize,
        pace: Duration,
        headers: Vec<(String, String)>,
        make: MakeRequest,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tolerate = Arc::new(AtomicBool::new(false));
        let handle = spawn_load(
            addr,
            clients,
            pace,
            headers,
            make,
            stop.clone(),
            tolerate.clone(),
        );
        Load {
            stop,
            tolerate,
            handle,
        }
    }

    async fn finish(self) -> LoadResult {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.await.expect("load task")
    }
}

/// Asserts the log holds exactly the rows of every 200: same request ids,
/// one row per text, nothing else.
fn assert_log_matches(
    what: &str,
    load: &LoadResult,
    logged: &std::collections::HashMap<String, i64>,
    total: i64,
) {
    let expected = load.expected_rows();
    let missing: Vec<_> = expected
        .iter()
        .filter(|(id, n)| logged.get(*id) != Some(n))
        .take(5)
        .collect();
    let extra: Vec<_> = logged
        .iter()
        .filter(|(id, _)| !expected.contains_key(*id))
        .take(5)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && total == load.ok_items(),
        "{what}: {} successful requests with {} texts, {} rows logged; \
         missing or wrong count (id → expected rows): {missing:?}; unexpected ids: {extra:?}",
        expected.len(),
        load.ok_items(),
        total
    );
}

// ------------------------------------------------------------- Postgres

#[derive(Clone, Copy, Debug)]
enum PgFault {
    /// The proxy cuts every connection and refuses new ones.
    Unreachable,
    /// `pg_terminate_backend` on every backend of the database, repeatedly.
    TerminateBackends,
}

async fn postgres_fault(test: &str, fault: PgFault) {
    let Some(admin) = postgres(test).await else {
        return;
    };
    let db = FreshDb::create(&admin).await;
    let proxy = Proxy::start(db.target()).await;
    let data = tempfile::tempdir().unwrap();
    let mut falcon = Falcon::start(&args(&[
        "--database-url",
        &db.url(Some(proxy.port)),
        "--data-dir",
        &path_arg(data.path()),
        "--database-pool",
        "4",
    ]))
    .await;
    let load = Load::start(
        falcon.addr,
        4,
        Duration::from_millis(2),
        vec![],
        unique_batches(test),
    );
    // Rows reach the database before the fault.
    assert!(
        wait_for(WAIT, async || falcon.metrics().await.log_rows("written")
            >= 50.0)
        .await,
        "no log rows written before the fault: {}",
        series(&falcon.metrics().await, "falcon_log_")
    );
    let before = falcon.metrics().await;
    let fault_start = Instant::now();
    match fault {
        PgFault::Unreachable => {
            proxy.down().await;
            // Batches fail and go to the spool while Postgres is away.
            let spooled = wait_for(WAIT, async || {
                falcon.metrics().await.log_rows("spooled") > before.log_rows("spooled")
            })
            .await;
            assert!(
                spooled,
                "nothing spooled during the outage: {}",
                series(&falcon.metrics().await, "falcon_log_")
            );
            let m = falcon.metrics().await;
            assert_eq!(
                m.sum("falcon_log_db_up", &[]),
                0.0,
                "db_up during the outage"
            );
            assert!(m.sum("falcon_log_spool_bytes", &[]) > 0.0);
            let left = Duration::from_secs(3).saturating_sub(fault_start.elapsed());
            tokio::time::sleep(left).await;
            proxy.up();
        }
        PgFault::TerminateBackends => {
            let mut killed = 0;
            while fault_start.elapsed() < Duration::from_secs(3) {
                killed += db.terminate_backends().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(killed > 0, "no falcon backend was terminated");
        }
    }
    // Recovery: the spool drains into the database while the load goes on.
    let recovered = wait_for(WAIT, async || {
        let m = falcon.metrics().await;
        m.sum("falcon_log_spool_bytes", &[]) == 0.0
            && m.sum("falcon_log_db_up", &[]) == 1.0
            && m.log_rows("written") > before.log_rows("written") + 50.0
    })
    .await;
    assert!(
        recovered,
        "log did not recover: {}",
        series(&falcon.metrics().await, "falcon_log_")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = falcon.metrics().await;
    let result = load.finish().await;
    result.assert_all_ok(test);
    assert!(
        result.ok().count() > 100,
        "too little load: {}",
        result.shots.len()
    );
    // The writer saw the fault (and, when Postgres was away, replayed).
    assert!(
        after.sum("falcon_log_db_errors_total", &[])
            > before.sum("falcon_log_db_errors_total", &[]),
        "no database error counted: {}",
        series(&after, "falcon_log_")
    );
    if matches!(fault, PgFault::Unreachable) {
        assert!(after.log_rows("replayed") > 0.0, "nothing replayed");
    }
    eprintln!(
        "{test}: {} requests, {} texts; log: spooled {} replayed {} written {} db_errors {}",
        result.shots.len(),
        result.ok_items(),
        after.log_rows("spooled"),
        after.log_rows("replayed"),
        after.log_rows("written"),
        after.sum("falcon_log_db_errors_total", &[])
    );
    assert_eq!(after.sum("falcon_log_dropped_rows_total", &[]), 0.0);
    let status = falcon.terminate(Duration::from_secs(60)).await;
    assert!(
        status.success(),
        "exit status {status:?}: {}",
        falcon.log_text()
    );
    let (logged, total) = db.logged().await;
    assert_log_matches(test, &result, &logged, total);
    // Nothing left behind to replay.
    let spool = data.path().join("predictions.spool");
    assert!(
        std::fs::metadata(&spool).map_or(0, |m| m.len()) == 0,
        "spool not empty after a clean shutdown with the database up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unreachable_mid_run_loses_no_prediction() {
    postgres_fault(
        "postgres_unreachable_mid_run_loses_no_prediction",
        PgFault::Unreachable,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backends_terminated_mid_run_lose_no_prediction() {
    postgres_fault(
        "postgres_backends_terminated_mid_run_lose_no_prediction",
        PgFault::TerminateBackends,
    )
    .await;
}

// ------------------------------------------------------------- Redis

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_run() {
    let test = "redis_killed_and_restarted_mid_run";
    let Some(bin) = redis_server_binary(test) else {
        return;
    };
    let mut redis = PrivateRedis::start(bin).await;
    let data = tempfile::tempdir().unwrap();
    // No in-process cache: every text goes to Redis, so repeated texts are
    // Redis hits and new ones are written back.
    let falcon = Falcon::start(&args(&[
        "--redis-url",
        &redis.url(),
        "--redis-timeout",
        "250ms",
        "--redis-prefix",
        &format!("ft{}", unique_suffix()),
        "--cache-bytes",
        "0",
        "--no-log",
        "--data-dir",
        &path_arg(data.path()),
    ]))
    .await;
    // One text per request: every other request one of 40 texts in
    // rotation (Redis hits, answered with `x-cache-tier: redis`), the others
    // a new text (so Redis keeps receiving writes).
    let make: MakeRequest = Arc::new(|c, i| {
        let text = if i % 2 == 0 {
            format!(
                "hot text {}: lunch tomorrow at noon?",
                (c as u64 * 7 + i / 2) % 40
            )
        } else {
            format!("fresh text c{c} r{i}: WIN a FREE cruise")
        };
        let body = serde_json::json!({ "text": text }).to_string();
        ("/v1/models/spam/predict".to_owned(), body, 1)
    });
    let load = Load::start(falcon.addr, 4, Duration::from_millis(2), vec![], make);
    let redis_hits = |m: &Metrics| m.sum("redis_cache_hits_total", &[]);
    let errors = |m: &Metrics| m.sum("redis_cache_errors_total", &[]);
    assert!(
        wait_for(WAIT, async || redis_hits(&falcon.metrics().await) >= 20.0).await,
        "no Redis hits before the fault: {}",
        series(&falcon.metrics().await, "redis_cache_")
    );
    let before = falcon.metrics().await;
    assert!(redis.dbsize().await.unwrap() > 0);

    redis.kill();
    let killed_at = Instant::now();
    assert!(
        wait_for(WAIT, async || errors(&falcon.metrics().await)
            > errors(&before))
        .await,
        "Redis errors not counted while it was down: {}",
        series(&falcon.metrics().await, "redis_cache_")
    );
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(killed_at.elapsed())).await;
    let during = falcon.metrics().await;

    redis.restart().await;
    let restarted_at = Instant::now();
    assert_eq!(
        redis.dbsize().await,
        Some(0),
        "restarted Redis is not empty"
    );
    // Write-backs resume (keys reappear) and so do hits, within a bound
    // that covers the pool's reconnect backoff (5 s at most) with room for
    // a loaded machine.
    let resumed = wait_for(RECOVER, async || {
        redis.dbsize().await.unwrap_or(0) >= 20
            && redis_hits(&falcon.metrics().await) > redis_hits(&during)
    })
    .await;
    let recovery = restarted_at.elapsed();
    if resumed {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after = falcon.metrics().await;
    let result = load.finish().await;
    // Whatever Redis did, every prediction was answered.
    result.assert_all_ok(test);
    assert!(
        resumed,
        "Redis hits did not resume within {RECOVER:?} of the restart (dbsize {:?}): {}",
        redis.dbsize().await,
        series(&after, "redis_cache_")
    );
    let hits_after_restart = result
        .ok()
        .filter(|s| s.sent > restarted_at && s.tier.as_deref() == Some("redis"))
        .count();
    eprintln!(
        "{test}: {} requests; redis hits {} → {} (down) → {}; errors {} → {}; \
         responses answered by Redis after the restart: {hits_after_restart}; \
         hits resumed {recovery:?} after the restart",
        result.shots.len(),
        redis_hits(&before),
        redis_hits(&during),
        redis_hits(&after),
        errors(&before),
        errors(&after)
    );
    assert!(
        hits_after_restart > 0,
        "no response after the restart carried x-cache-tier: redis"
    );
    assert!(
        redis_hits(&after) > redis_hits(&during),
        "no Redis hit after the restart"
    );
}

/// The samples of a `/metrics` body whose name starts with `prefix` (for
/// failure messages).
fn series(m: &Metrics, prefix: &str) -> String {
    m.0.lines()
        .filter(|l| l.starts_with(prefix) && !l.contains("_bucket"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ------------------------------------------------------------- SIGTERM

async fn sigterm_mid_run(test: &str, db: Option<&FreshDb>) {
    let data = tempfile::tempdir().unwrap();
    let mut flags = args(&["--data-dir", &path_arg(data.path())]);
    if let Some(db) = db {
        flags.extend(args(&["--database-url", &db.url(None)]));
    }
    let mut falcon = Falcon::start(&flags).await;
    let load = Load::start(
        falcon.addr,
        4,
        Duration::from_millis(1),
        vec![],
        unique_batches(test),
    );
    assert!(
        wait_for(WAIT, async || falcon.metrics().await.log_rows("written")
            >= 100.0)
        .await,
        "no log rows written: {}",
        series(&falcon.metrics().await, "falcon_log_")
    );
    // From here on, refused or idle-closed connections are expected; any
    // response other than 200 and any cut-off response still fail.
    load.tolerate.store(true, Ordering::SeqCst);
    let status = falcon.terminate(Duration::from_secs(60)).await;
    let result = load.finish().await;
    assert!(
        status.success(),
        "exit status {status:?}: {}",
        falcon.log_text()
    );
    result.assert_all_ok(test);
    assert!(result.ok().count() > 50, "too little load before SIGTERM");
    let log = falcon.log_text();
    assert!(log.contains("SIGTERM received"), "{log}");
    drop(falcon);
    // One restart on the same data dir replays any leftover spool.
    let mut again = Falcon::start(&flags).await;
    let status = again.terminate(Duration::from_secs(60)).await;
    assert!(
        status.success(),
        "second run exit {status:?}: {}",
        again.log_text()
    );
    let (logged, total) = match db {
        Some(db) => db.logged().await,
        None => sqlite_logged(&data.path().join("falcon.db")),
    };
    eprintln!(
        "{test}: {} answered requests ({} texts), {} refused after SIGTERM; {total} rows",
        result.ok().count(),
        result.ok_items(),
        result.refused
    );
    assert_log_matches(test, &result, &logged, total);
}

fn sqlite_logged(path: &std::path::Path) -> (std::collections::HashMap<String, i64>, i64) {
    let conn = rusqlite::Connection::open(path).expect("open the SQLite log");
    let mut st = conn
        .prepare("SELECT request_id, count(*) FROM predictions GROUP BY request_id")
        .unwrap();
    let m: std::collections::HashMap<String, i64> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let total = m.values().sum();
    (m, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_logs_every_answered_request_sqlite() {
    sigterm_mid_run("sigterm_mid_run_logs_every_answered_request_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_logs_every_answered_request_postgres() {
    let test = "sigterm_mid_run_logs_every_answered_request_postgres";
    let Some(admin) = postgres(test).await else {
        return;
    };
    let db = FreshDb::create(&admin).await;
    sigterm_mid_run(test, Some(&db)).await;
}

/// SIGTERM while Postgres is unreachable: rows go to the spool at
/// shutdown, exit 0, and the next start on the same data dir replays them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_postgres_outage_spools_and_replays_at_restart() {
    let test = "sigterm_during_postgres_outage_spools_and_replays_at_restart";
    let Some(admin) = postgres(test).await else {
        return;
    };
    let db = FreshDb::create(&admin).await;
    let proxy = Proxy::start(db.target()).await;
    let data = tempfile::tempdir().unwrap();
    let flags = args(&[
        "--database-url",
        &db.url(Some(proxy.port)),
        "--data-dir",
        &path_arg(data.path()),
    ]);
    let mut falcon = Falcon::start(&flags).await;
    let load = Load::start(
        falcon.addr,
        4,
        Duration::from_millis(1),
        vec![],
        unique_batches(test),
    );
    assert!(
        wait_for(WAIT, async || falcon.metrics().await.log_rows("written")
            >= 50.0)
        .await,
        "no log rows written: {}",
        series(&falcon.metrics().await, "falcon_log_")
    );
    let before = falcon.metrics().await;
    proxy.down().await;
    assert!(
        wait_for(WAIT, async || falcon.metrics().await.log_rows("spooled")
            > before.log_rows("spooled"))
        .await,
        "nothing spooled during the outage: {}",
        series(&falcon.metrics().await, "falcon_log_")
    );
    load.tolerate.store(true, Ordering::SeqCst);
    let status = falcon.terminate(Duration::from_secs(60)).await;
    let result = load.finish().await;
    assert!(
        status.success(),
        "exit status {status:?}: {}",
        falcon.log_text()
    );
    result.assert_all_ok(test);
    drop(falcon);
    let spool = data.path().join("predictions.spool");
    let spooled_bytes = std::fs::metadata(&spool).map_or(0, |m| m.len());
    assert!(spooled_bytes > 0, "nothing left in the spool at shutdown");
    let (_, total) = db.logged().await;
    assert!(
        total < result.ok_items(),
        "every row reached Postgres although it was unreachable"
    );
    // Postgres is back; the next start replays the spool.
    proxy.up();
    let mut again = Falcon::start(&flags).await;
    assert!(
        wait_for(WAIT, async || {
            let m = again.metrics().await;
            m.sum("falcon_log_spool_bytes", &[]) == 0.0 && m.log_rows("replayed") > 0.0
        })
        .await,
        "spool not replayed at restart: {}",
        series(&again.metrics().await, "falcon_log_")
    );
    let status = again.terminate(Duration::from_secs(60)).await;
    assert!(
        status.success(),
        "second run exit {status:?}: {}",
        again.log_text()
    );
    let (logged, total) = db.logged().await;
    eprintln!(
        "{test}: {} answered requests ({} texts); {spooled_bytes} spool bytes at shutdown; {total} rows after replay",
        result.ok().count(),
        result.ok_items()
    );
    assert_log_matches(test, &result, &logged, total);
    assert_eq!(std::fs::metadata(&spool).map_or(0, |m| m.len()), 0);
}

// ------------------------------------------------------------- rate limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_holds_across_two_workers() {
    let test = "rate_limit_holds_across_two_workers";
    let Some(admin) = postgres(test).await else {
        return;
    };
    let Some(redis) = redis_url(test).await else {
        return;
    };
    let db = FreshDb::create(&admin).await;
    let prefix = format!("falcon_ft_{}", unique_suffix());
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let out = falcon_command()
        .args(["keys", "create", "--name", "ft", "--rate", "20/s"])
        .args(["--database-url", &db.url(None)])
        .arg("--data-dir")
        .arg(dirs[0].path())
        .output()
        .expect("falcon keys create");
    assert!(
        out.status.success(),
        "keys create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(!token.is_empty());
    let mut workers = Vec::new();
    for d in &dirs[1..] {
        workers.push(
            Falcon::start(&args(&[
                "--auth",
                "required",
                "--redis-url",
                &redis,
                "--redis-prefix",
                &prefix,
                "--redis-timeout",
                "250ms",
                "--database-url",
                &db.url(None),
                "--no-log",
                "--data-dir",
                &path_arg(d.path()),
            ]))
            .await,
        );
    }
    // Without a key: 401.
    let r = Client::new(workers[0].addr)
        .send("POST", "/predict", &[], br#"{"text":"hi"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 401);

    let auth = vec![("authorization".to_owned(), format!("Bearer {token}"))];
    let make: MakeRequest = Arc::new(|c, i| {
        let body = serde_json::json!({ "text": format!("c{c} r{i} lunch tomorrow?") }).to_string();
        ("/predict".to_owned(), body, 1)
    });
    let start = Instant::now();
    let loads: Vec<_> = workers
        .iter()
        .map(|w| {
            Load::start(
                w.addr,
                3,
                Duration::from_millis(2),
                auth.clone(),
                make.clone(),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut results = Vec::new();
    for l in loads {
        results.push(l.finish().await);
    }
    // The window the bucket was drawn on: first request sent → last answered.
    let last = results
        .iter()
        .flat_map(|r| r.shots.iter().map(|s| s.done))
        .max()
        .unwrap();
    let window = (last - start).as_secs_f64();
    let mut ok = 0usize;
    let mut limited = 0usize;
    for (w, r) in results.iter().enumerate() {
        assert!(
            r.failures.is_empty(),
            "worker {w}: {:?}",
            &r.failures[..r.failures.len().min(5)]
        );
        for s in &r.shots {
            match s.status {
                200 => ok += 1,
                429 => {
                    limited += 1;
                    let ra: u64 = s
                        .retry_after
                        .as_deref()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or_else(|| panic!("429 without a numeric Retry-After: {s:?}"));
                    assert!(ra >= 1, "Retry-After {ra}");
                }
                other => panic!("worker {w}: unexpected {other} {}", s.body),
            }
        }
        assert!(
            r.shots.iter().any(|s| s.status == 429),
            "worker {w} was never limited"
        );
    }
    for w in &workers {
        let m = w.metrics().await;
        assert_eq!(
            m.sum("rate_limit_fallbacks_total", &[]),
            0.0,
            "a check fell back to the local bucket"
        );
    }
    // One bucket: burst 20 + 20/s over the window. Two independent buckets
    // would allow about twice that.
    let allowance = 20.0 + 20.0 * window;
    eprintln!(
        "{test}: {ok} allowed, {limited} limited over {window:.2} s across two workers \
         (one bucket allows {allowance:.0}, two would allow {:.0})",
        2.0 * allowance
    );
    assert!(
        (ok as f64) <= allowance + 2.0,
        "{ok} requests allowed, one bucket allows {allowance:.1}"
    );
    assert!(
        (ok as f64) >= 0.75 * allowance,
        "{ok} requests allowed, far below one bucket's {allowance:.1}"
    );
    // Clean up the bucket.
    if let Ok(c) = redis::Client::open(redis.as_str())
        && let Ok(mut conn) = c.get_multiplexed_async_connection().await
    {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        for k in keys {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(k).query_async(&mut conn).await;
        }
    }
}
