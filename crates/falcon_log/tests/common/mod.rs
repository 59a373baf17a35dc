//! Shared helpers for tests against the real Postgres.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use falcon_log::{CacheTier, Database, DbOptions, PredictionRecord, Score};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// The test database URL, or `None` with a skip notice when it is unset
/// (`.ci/run` sets it) or, outside CI, unreachable. With `CI=true` an
/// unreachable database is a failure, never a skip.
pub async fn pg_base_url(test: &str) -> Option<String> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let Ok(url) = std::env::var("FALCON_TEST_DATABASE_URL") else {
        eprintln!("SKIP {test}: FALCON_TEST_DATABASE_URL not set");
        return None;
    };
    match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok((c, conn)) => {
            tokio::spawn(conn);
            drop(c);
            Some(url)
        }
        Err(e) => {
            assert!(
                !ci,
                "CI=true but Postgres at FALCON_TEST_DATABASE_URL is unreachable: {e}"
            );
            eprintln!("SKIP {test}: Postgres unreachable: {e}");
            None
        }
    }
}

/// A private schema per test, so tests run in parallel without sharing
/// tables. Dropped by [`TestSchema::drop_schema`].
pub struct TestSchema {
    pub base: String,
    pub name: String,
}

impl TestSchema {
    pub async fn create(base: &str, test: &str) -> TestSchema {
        let name = format!(
            "t_{}_{}_{}",
            test,
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let (c, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        TestSchema {
            base: base.to_owned(),
            name,
        }
    }

    /// The URL with `search_path` set to the schema and the schema as the
    /// application name (so a test can kill exactly its own connections).
    pub fn url(&self) -> String {
        self.url_via(None)
    }

    /// Same, through a local proxy port.
    pub fn url_via(&self, port: Option<u16>) -> String {
        let mut cfg: tokio_postgres::Config = self.base.parse().unwrap();
        let user = cfg.get_user().unwrap_or("root").to_owned();
        let dbname = cfg.get_dbname().unwrap_or("test").to_owned();
        let (host, p) = match port {
            Some(p) => ("127.0.0.1".to_owned(), p),
            None => {
                let host = match cfg.get_hosts().first() {
                    Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
                    _ => "127.0.0.1".to_owned(),
                };
                (host, cfg.get_ports().first().copied().unwrap_or(5432))
            }
        };
        cfg.dbname(&dbname);
        format!(
            "postgres://{user}@{host}:{p}/{dbname}?application_name={n}&options=-csearch_path%3D{n}",
            n = self.name
        )
    }

    pub async fn db(&self) -> Database {
        Database::connect(&self.url(), &DbOptions::default())
            .await
            .unwrap()
    }

    /// Terminates every backend this test's writer opened.
    pub async fn kill_backends(&self) -> u64 {
        let (c, conn) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let rows = c
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .await
            .unwrap();
        rows.len() as u64
    }

    /// `(rows, distinct (request_id, item))`.
    pub async fn counts(&self) -> (i64, i64) {
        let (c, conn) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let row = c
            .query_one(
                &format!(
                    "SELECT count(*), count(DISTINCT (request_id, item)) FROM {}.predictions",
                    self.name
                ),
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    }

    pub async fn drop_schema(self) {
        let (c, conn) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let _ = c
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name))
            .await;
    }
}

pub fn record(i: u64) -> PredictionRecord {
    let text = format!("message number {i}: win a prize now");
    let mut r = PredictionRecord::new(
        format!("req-{i}"),
        0,
        "spam",
        "1",
        if i.is_multiple_of(3) { "spam" } else { "ham" },
        vec![
            Score {
                class: "ham".into(),
                score: 0.25,
            },
            Score {
                class: "spam".into(),
                score: 0.75,
            },
        ],
        Duration::from_micros(100 + i % 1000),
        match i % 4 {
            0 => CacheTier::Miss,
            1 | 2 => CacheTier::Memory,
            _ => CacheTier::Redis,
        },
        Some("key_1".into()),
        &text,
    )
    .with_text(&text);
    r.ts_micros = 1_760_000_000_000_000 + i as i64;
    r
}

/// A TCP proxy in front of Postgres that can be taken down (every
/// connection cut, new ones refused) and brought back on the same port:
/// a Postgres outage and restart as the client sees it.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(JoinSet::new()));
        let (up2, conns2) = (up.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                conns2.lock().await.spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        });
        Proxy {
            port,
            up,
            conns,
            accept,
        }
    }

    pub async fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.conns.lock().await.abort_all();
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

pub fn pg_target(base: &str) -> (String, u16) {
    let cfg: tokio_postgres::Config = base.parse().unwrap();
    let host = match cfg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    (host, cfg.get_ports().first().copied().unwrap_or(5432))
}

/// Polls until `f` holds or `timeout` passes.
pub async fn wait_for(timeout: Duration, mut f: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Rows of multi-label (`tags`) and multi-output (`outputs`) answers:
/// list labels stored as JSON text.
pub fn multi_records() -> Vec<PredictionRecord> {
    let row = |i: u32, model: &str, label: &str, scores: &[(&str, f64)]| {
        PredictionRecord::new(
            format!("multi-{i}"),
            i,
            model,
            "1",
            label,
            scores
                .iter()
                .map(|(c, s)| Score {
                    class: (*c).into(),
                    score: *s,
                })
                .collect(),
            Duration::from_micros(100),
            CacheTier::Miss,
            None,
            "a text",
        )
    };
    vec![
        row(
            0,
            "tags",
            r#"["spam","money"]"#,
            &[("spam", 0.9), ("money", 0.7)],
        ),
        row(1, "tags", r#"["spam"]"#, &[("spam", 0.8), ("money", 0.1)]),
        row(2, "tags", "[]", &[("spam", 0.2), ("money", 0.1)]),
        row(
            3,
            "outputs",
            r#"["spam","long"]"#,
            &[("0:spam", 0.6), ("1:long", 0.9)],
        ),
    ]
}

/// Logs [`multi_records`] into `db`, reads them back unchanged, and checks
/// `falcon log stats` counts each listed label.
pub async fn check_multi_roundtrip(db: &falcon_log::Database, dir: &std::path::Path) {
    use falcon_log::store::{self, Filter};
    let writer = falcon_log::LogWriter::start(db.clone(), falcon_log::LogConfig::new(dir))
        .await
        .unwrap();
    let sent = multi_records();
    for r in &sent {
        assert!(writer.handle().log(r.clone()));
    }
    let stats = writer.shutdown().await.unwrap();
    assert_eq!(stats.written, 4, "{stats:?}");
    let (mut page, _) = store::export_page(db, &Filter::default(), None, 100)
        .await
        .unwrap();
    page.sort_by_key(|r| r.item);
    let labels: Vec<&str> = page.iter().map(|r| &*r.label).collect();
    assert_eq!(
        labels,
        [
            r#"["spam","money"]"#,
            r#"["spam"]"#,
            "[]",
            r#"["spam","long"]"#
        ]
    );
    assert_eq!(page[3].scores, sent[3].scores);
    let s = store::summary(db, &Filter::default()).await.unwrap();
    assert_eq!(s.total, 4, "rows, not labels");
    let counts: Vec<(&str, &str, u64)> = s
        .by_label
        .iter()
        .map(|l| (l.model.as_str(), l.label.as_str(), l.count))
        .collect();
    assert_eq!(
        counts,
        [
            ("outputs", "long", 1),
            ("outputs", "spam", 1),
            ("tags", "spam", 2),
            ("tags", "[]", 1),
            ("tags", "money", 1),
        ]
    );
}
