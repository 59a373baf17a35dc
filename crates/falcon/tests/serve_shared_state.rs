//! End to end over real TCP: the real `falcon serve` binary with Redis (the
//! shared cache tier and rate-limit buckets), Postgres (prediction log and
//! API keys) and `--auth required`, keys created with `falcon keys create`.
//!
//! Needs `FALCON_TEST_REDIS_URL` and `FALCON_TEST_DATABASE_URL`; without
//! them the test is skipped with a notice, except under `CI=true`, where it
//! fails. Each run uses its own Redis prefix and its own Postgres database
//! (created and dropped here), and port 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{var} is not set: this test needs the service under CI=true")
        }
        _ => {
            eprintln!("skipping serve_shared_state: {var} is not set");
            None
        }
    }
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000_000)
}

/// `base` (a Postgres URL) with its database replaced by `db`.
fn with_database(base: &str, db: &str) -> String {
    let (url, query) = match base.split_once('?') {
        Some((u, q)) => (u, format!("?{q}")),
        None => (base, String::new()),
    };
    let scheme_end = url.find("://").expect("a postgres:// URL") + 3;
    let host_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    format!("{}/{db}{query}", &url[..host_end])
}

/// A Postgres database of its own, dropped at the end.
struct FreshDb {
    admin_url: String,
    name: String,
    url: String,
}

async fn pg(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(conn);
    client
}

impl FreshDb {
    async fn create(admin_url: &str) -> FreshDb {
        let name = unique("falcon_e2e");
        pg(admin_url)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        FreshDb {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        }
    }

    async fn drop_now(self) {
        let _ = pg(&self.admin_url)
            .await
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(args: &[String]) -> Server {
        Self::start_in(None, args)
    }

    /// `falcon serve args`, in directory `cwd` when given.
    fn start_in(cwd: Option<&Path>, args: &[String]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_falcon"));
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .arg("serve")
            .args(args)
            .env("FALCON_LOG_FORMAT", "json")
            .env_remove("FALCON_ADDR")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn falcon serve");
        let stdout = child.stdout.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["message"] == "listening"
                {
                    let _ = tx.send(v["addr"].as_str().unwrap().parse::<SocketAddr>().unwrap());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server never listened: {:?}", log.lock().unwrap()));
        let server = Server { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(120);
        while server.get("/readyz", None).0 != 200 {
            assert!(Instant::now() < deadline, "never ready: {:?}", server.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn request(&self, method: &str, path: &str, key: Option<&str>, body: &str) -> Reply {
        let mut s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let auth = key.map_or(String::new(), |k| format!("authorization: Bearer {k}\r\n"));
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").expect("a response");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .expect("a status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Reply(status, headers, body.to_owned())
    }

    fn get(&self, path: &str, key: Option<&str>) -> Reply {
        self.request("GET", path, key, "")
    }

    fn predict(&self, key: Option<&str>, text: &str) -> Reply {
        let body = serde_json::json!({ "text": text }).to_string();
        self.request("POST", "/predict", key, &body)
    }

    /// SIGTERM, then the exit status (drain, log flush, exit 0).
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

struct Reply(u16, Vec<(String, String)>, String);

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.1
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.2).unwrap_or_else(|e| panic!("{e}: {}", self.2))
    }
}

fn falcon(args: &[&str]) -> String {
    falcon_in(None, args)
}

fn falcon_in(cwd: Option<&Path>, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_falcon"));
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.args(args).output().expect("run falcon");
    assert!(
        out.status.success(),
        "falcon {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_tier_postgres_log_and_keys_end_to_end() {
    let (Some(redis), Some(pg_url)) = (
        service("FALCON_TEST_REDIS_URL"),
        service("FALCON_TEST_DATABASE_URL"),
    ) else {
        return;
    };
    let db = FreshDb::create(&pg_url).await;
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap().to_owned();
    let prefix = unique("e2e");

    // Keys go to the same database the server reads (flags shared with
    // `falcon keys`).
    let token = falcon(&["keys", "create", "--name", "e2e", "--database-url", &db.url])
        .trim()
        .to_owned();
    let key_id = falcon_auth::token_id(&token)
        .expect("a key token")
        .to_owned();
    let doomed = falcon(&[
        "keys",
        "create",
        "--name",
        "doomed",
        "--database-url",
        &db.url,
    ])
    .trim()
    .to_owned();
    let doomed_id = falcon_auth::token_id(&doomed)
        .expect("a key token")
        .to_owned();

    let args: Vec<String> = [
        "--addr",
        "127.0.0.1:0",
        "--models",
        models().to_str().unwrap(),
        "--redis-url",
        &redis,
        "--redis-prefix",
        &prefix,
        // Generous: this machine runs other tests at the same time.
        "--redis-timeout",
        "250ms",
        "--database-url",
        &db.url,
        "--data-dir",
        &data_dir,
        "--auth",
        "required",
        "--auth-refresh",
        "200ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    let text = format!("WIN a FREE cruise, claim now {prefix}");
    let server = Server::start(&args);
    // Open routes stay open; the rest needs a key.
    assert_eq!(server.get("/metrics", None).0, 200);
    let r = server.predict(None, &text);
    assert_eq!(r.0, 401, "{}", r.2);
    assert_eq!(r.json()["error_type"], "unauthorized");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = server.predict(Some("flk_bogus_bogus"), &text);
    assert_eq!(r.0, 401);
    // Repository routes need an admin key.
    let r = server.request("POST", "/v2/repository/index", Some(&token), "{}");
    assert_eq!(
        (r.0, r.json()["error_type"].as_str()),
        (403, Some("forbidden"))
    );

    let first = server.predict(Some(&token), &text);
    assert_eq!(first.0, 200, "{}", first.2);
    assert_eq!(first.header("x-cache"), Some("miss"));
    let second = server.predict(Some(&token), &text);
    assert_eq!(second.header("x-cache"), Some("hit"));
    assert_eq!(second.header("x-cache-tier"), Some("memory"));

    // Revocation propagates within the refresh interval.
    assert_eq!(server.predict(Some(&doomed), "hello").0, 200);
    falcon(&["keys", "revoke", &doomed_id, "--database-url", &db.url]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = server.predict(Some(&doomed), "hello");
        if r.0 == 401 {
            assert!(r.2.contains("revoked"), "{}", r.2);
            break;
        }
        assert!(Instant::now() < deadline, "revocation never took effect");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = server.terminate();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    // A restarted worker has an empty memory tier: Redis answers.
    let server = Server::start(&args);
    let third = server.predict(Some(&token), &text);
    assert_eq!(third.0, 200);
    assert_eq!(third.header("x-cache"), Some("hit"));
    assert_eq!(
        third.header("x-cache-tier"),
        Some("redis"),
        "log: {:?}",
        server.log()
    );
    assert_eq!(third.json()["probabilities"], first.json()["probabilities"]);
    let metrics = server.get("/metrics", None).2;
    for series in [
        "redis_cache_hits_total 1",
        "inference_cache_tier_hits_total{model=\"spam\",tier=\"redis\"} 1",
        "http_auth_failures_total{reason=\"missing\"} 0",
        "falcon_log_rows_total{outcome=\"accepted\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == series),
            "{series} missing in\n{metrics}"
        );
    }
    let status = server.terminate();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    // Every prediction is in Postgres (flushed at shutdown): the miss, the
    // memory hit and the Redis hit of the key, and the requests of the
    // key revoked in between.
    let rows = pg(&db.url)
        .await
        .query(
            "SELECT request_id, item, cache, api_key_id, text_len, text, label \
             FROM predictions ORDER BY ts",
            &[],
        )
        .await
        .unwrap();
    let of_key = |id: &str| -> Vec<&tokio_postgres::Row> {
        rows.iter()
            .filter(|r| r.get::<_, Option<String>>(3).as_deref() == Some(id))
            .collect()
    };
    let main = of_key(&key_id);
    let caches: Vec<String> = main.iter().map(|r| r.get::<_, String>(2)).collect();
    assert_eq!(caches, ["miss", "memory", "redis"]);
    // The revoked key's requests until the revocation landed (one at least).
    let doomed_rows = of_key(&doomed_id).len();
    assert!(doomed_rows >= 1);
    assert_eq!(rows.len(), 3 + doomed_rows, "every row has its key id");
    assert_eq!(main[0].get::<_, i32>(4) as usize, text.len());
    assert!(
        rows.iter().all(|r| r.get::<_, Option<String>>(5).is_none()),
        "no text without --log-text"
    );
    assert_eq!(
        main[0].get::<_, String>(6),
        first.json()["label"].as_str().unwrap()
    );
    let ids: std::collections::HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids.len(), rows.len(), "request ids are unique");
    db.drop_now().await;
}

/// No services needed: the quick start logs to SQLite in `./data`; rows
/// spooled while the database was unreachable survive a SIGTERM and are
/// replayed by the next start.
#[test]
fn quick_start_logs_to_sqlite_and_replays_the_spool() {
    let cwd = tempfile::tempdir().unwrap();
    let models = models().to_str().unwrap().to_owned();
    let base = ["--addr", "127.0.0.1:0", "--models", &models];
    let args = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };

    // Nothing listens on port 1: both rows go to the spool.
    let server = Server::start_in(
        Some(cwd.path()),
        &args(&["--database-url", "postgres://falcon@127.0.0.1:1/none"]),
    );
    let r = server.request(
        "POST",
        "/predict",
        None,
        r#"{"texts": ["one spooled text", "another spooled text"]}"#,
    );
    assert_eq!(r.0, 200, "{}", r.2);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let spool = cwd.path().join("data/predictions.spool");
    assert!(
        std::fs::metadata(&spool).unwrap().len() > 0,
        "rows were not spooled"
    );

    // Default flags: SQLite in ./data; the spool is replayed at start-up.
    let server = Server::start_in(Some(cwd.path()), &args(&[]));
    assert_eq!(server.predict(None, "a logged text").0, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = server.get("/metrics", None).2;
        if m.lines()
            .any(|l| l == "falcon_log_rows_total{outcome=\"replayed\"} 2")
        {
            break;
        }
        assert!(Instant::now() < deadline, "spool never replayed:\n{m}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(cwd.path().join("data/falcon.db").exists());
    let stats: serde_json::Value = serde_json::from_str(&falcon_in(
        Some(cwd.path()),
        &["log", "stats", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(stats["total"], 3, "{stats}");
}

/// No services needed: an unreachable Redis is a counted miss, never a
/// failed or slow request.
#[test]
fn unreachable_redis_is_a_counted_miss() {
    let cwd = tempfile::tempdir().unwrap();
    let models = models().to_str().unwrap().to_owned();
    let args: Vec<String> = [
        "--addr",
        "127.0.0.1:0",
        "--models",
        &models,
        "--no-log",
        "--redis-url",
        "redis://127.0.0.1:1/",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let server = Server::start_in(Some(cwd.path()), &args);
    let started = Instant::now();
    let first = server.predict(None, "is redis there?");
    assert_eq!(first.0, 200, "{}", first.2);
    assert_eq!(first.header("x-cache"), Some("miss"));
    let again = server.predict(None, "is redis there?");
    assert_eq!(again.header("x-cache-tier"), Some("memory"));
    assert!(started.elapsed() < Duration::from_secs(5));
    let m = server.get("/metrics", None).2;
    let errors: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("cache_tier_errors_total{tier=\"redis\"} "))
        .unwrap_or_else(|| panic!("no cache_tier_errors_total in\n{m}"))
        .parse()
        .unwrap();
    assert!(errors >= 1.0, "{m}");
    assert!(m.lines().any(|l| l == "redis_cache_misses_total 1"), "{m}");
    assert!(
        !m.contains("falcon_log_rows_total"),
        "--no-log exports no log series"
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        !cwd.path().join("data").exists(),
        "--no-log touches no data dir"
    );
}

#[test]
fn database_url_rewrite() {
    assert_eq!(
        with_database("postgres://root@127.0.0.1:5432/test", "x"),
        "postgres://root@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

#[test]
fn bad_flag_values_name_the_flag() {
    for (args, flag) in [
        (&["--redis-timeout", "0s"][..], "--redis-timeout"),
        (&["--redis-pool", "0"][..], "--redis-pool"),
        (&["--redis-prefix", "has space"][..], "--redis-prefix"),
        (&["--auth", "maybe"][..], "--auth"),
        (&["--spool-max-bytes", "lots"][..], "--spool-max-bytes"),
        (&["--auth-refresh", "soon"][..], "--auth-refresh"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_falcon"))
            .arg("serve")
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    // Boolean variables accept 1/0, yes/no, true/false: both set here, and
    // they contradict each other.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_falcon"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("FALCON_NO_LOG", "1")
        .env("FALCON_LOG_TEXT", "yes")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--log-text") && err.contains("--no-log"),
        "{err}"
    );
    // An unparseable Redis URL fails start-up, naming the flag, without
    // echoing the password.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_falcon"))
        .args(["serve", "--addr", "127.0.0.1:0", "--no-log"])
        .args(["--redis-url", "redis://:s3cret@bad host:6379/"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--redis-url"), "{err}");
    assert!(!err.contains("s3cret"), "password leaked: {err}");
}

/// A multi-label model and a record model behind the real Redis tier and
/// Postgres log: a restarted worker answers from Redis with the very same
/// bodies, and the log holds list labels as JSON text and a record's
/// canonical encoding's length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_answers_and_records_through_redis_and_the_log() {
    let (Some(redis), Some(pg_url)) = (
        service("FALCON_TEST_REDIS_URL"),
        service("FALCON_TEST_DATABASE_URL"),
    ) else {
        return;
    };
    let db = FreshDb::create(&pg_url).await;
    let repo = tempfile::tempdir().unwrap();
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../falcon_engine/tests/fixtures/pipelines");
    for (name, file) in [
        ("tags", "multilabel_ovr_lr.z.joblib"),
        ("columns", "columns_title_body_weights.z.joblib"),
    ] {
        let dir = repo.path().join(name).join("1");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(fixtures.join(file), dir.join("model.joblib")).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let prefix = unique("multi");
    let args: Vec<String> = [
        "--addr",
        "127.0.0.1:0",
        "--models",
        repo.path().to_str().unwrap(),
        "--redis-url",
        &redis,
        "--redis-prefix",
        &prefix,
        "--redis-timeout",
        "250ms",
        "--database-url",
        &db.url,
        "--data-dir",
        data.path().to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let tags = serde_json::json!({"text": format!("FREE money, click now {prefix}")}).to_string();
    let record = serde_json::json!({"record": {"title": "Win", "body": format!("FREE {prefix}")}});
    let record = record.to_string();
    let server = Server::start(&args);
    let first_tags = server.request("POST", "/v1/models/tags/predict", None, &tags);
    assert_eq!(first_tags.0, 200, "{}", first_tags.2);
    assert!(first_tags.json()["label"].is_array());
    let first_record = server.request("POST", "/v1/models/columns/predict", None, &record);
    assert_eq!(first_record.0, 200, "{}", first_record.2);
    // Let the background write-backs land before the worker goes.
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.terminate().success());

    let server = Server::start(&args);
    let again_tags = server.request("POST", "/v1/models/tags/predict", None, &tags);
    let again_record = server.request("POST", "/v1/models/columns/predict", None, &record);
    for (first, again) in [(&first_tags, &again_tags), (&first_record, &again_record)] {
        assert_eq!(
            again.header("x-cache-tier"),
            Some("redis"),
            "{:?}",
            server.log()
        );
        assert_eq!(again.2, first.2, "a Redis hit answers the computed body");
    }
    assert!(server.terminate().success());

    let rows = pg(&db.url)
        .await
        .query(
            "SELECT model, cache, label, text_len FROM predictions ORDER BY ts",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        [
            ("tags".to_string(), "miss".to_string()),
            ("columns".into(), "miss".into()),
            ("tags".into(), "redis".into()),
            ("columns".into(), "redis".into()),
        ]
    );
    let label: String = rows[0].get(2);
    let listed: Vec<String> = serde_json::from_str(&label).unwrap();
    let answered: Vec<String> = first_tags.json()["label"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(listed, answered, "str(class) of each positive class");
    let canonical = format!(r#"{{"body":"FREE {prefix}","title":"Win"}}"#);
    assert_eq!(rows[1].get::<_, i32>(3) as usize, canonical.len());
    db.drop_now().await;
}
