//! Helpers for tests that run the real `falcon serve` binary against real
//! services: the process (port 0, kill-on-drop), a small keep-alive HTTP
//! client, a concurrent load driver that records every response, a fresh
//! Postgres database per test, a TCP proxy that can cut Postgres off, and a
//! private `redis-server`.
//!
//! Services come from `FALCON_TEST_DATABASE_URL` / `FALCON_TEST_REDIS_URL`
//! and the `redis-server` binary (`FALCON_TEST_REDIS_SERVER` overrides the
//! path). Under `CI=true` a missing one fails the test; elsewhere the test
//! is skipped with a notice.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn models_dir() -> PathBuf {
    workspace().join("models")
}

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Fails under CI, otherwise prints a skip notice; returns `None`.
pub fn missing<T>(test: &str, what: &str) -> Option<T> {
    assert!(!ci(), "CI=true but {what}");
    eprintln!("SKIP {test}: {what} (CI=true makes this a failure)");
    None
}

// ---------------------------------------------------------------- process

/// A child process killed (SIGKILL) and reaped when dropped, so a failing
/// test never leaves servers behind.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, sig).expect("kill");
    }

    /// Waits for the exit status, up to `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `falcon serve` on port 0.
pub struct Falcon {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
}

/// A `falcon` command with no `FALCON_*` variable inherited (the test
/// passes every setting as a flag).
pub fn falcon_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_falcon"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FALCON_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

impl Falcon {
    /// Starts `falcon serve --addr 127.0.0.1:0 --models <bundled> ARGS` and
    /// waits until `/readyz` answers 200.
    pub async fn start(args: &[String]) -> Falcon {
        Falcon::start_in(&models_dir(), args).await
    }

    /// [`Falcon::start`] on the model repository `models`.
    pub async fn start_in(models: &Path, args: &[String]) -> Falcon {
        let mut cmd = falcon_command();
        cmd.arg("serve")
            .args(["--addr", "127.0.0.1:0", "--log-format", "json"])
            .arg("--models")
            .arg(models)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn falcon serve");
        let stdout = child.stdout.take().expect("stdout");
        let proc = Proc { child };
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["message"] == "listening"
                    && let Some(a) = v["addr"].as_str().and_then(|a| a.parse().ok())
                {
                    let _ = tx.send(a);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            if let Ok(a) = rx.try_recv() {
                break a;
            }
            assert!(
                Instant::now() < deadline,
                "falcon serve did not log its address: {:?}",
                log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Falcon { proc, addr, log }.ready().await
    }

    /// Waits (up to 120 s) until `/readyz` answers 200.
    pub async fn ready(self) -> Falcon {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let mut c = Client::new(self.addr);
            if let Ok(r) = c.send("GET", "/readyz", &[], b"").await
                && r.status == 200
            {
                return self;
            }
            assert!(
                Instant::now() < deadline,
                "falcon serve not ready: {:?}",
                self.log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub async fn metrics(&self) -> Metrics {
        let mut c = Client::new(self.addr);
        let r = c
            .send("GET", "/metrics", &[], b"")
            .await
            .expect("GET /metrics");
        assert_eq!(r.status, 200);
        Metrics(String::from_utf8(r.body).expect("utf-8 metrics"))
    }

    /// SIGTERM, then the exit status (must come within `timeout`).
    pub async fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        self.proc.signal(rustix::process::Signal::TERM);
        match self.proc.wait_exit(timeout).await {
            Some(s) => s,
            None => panic!(
                "falcon serve did not exit within {timeout:?} of SIGTERM: {}",
                self.log_text()
            ),
        }
    }
}

/// A `/metrics` body.
pub struct Metrics(pub String);

impl Metrics {
    /// Sum of every sample of `name` whose labels include all of `labels`
    /// (0 when absent).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut total = 0.0;
        for line in self.0.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let (n, l) = match series.split_once('{') {
                Some((n, l)) => (n, l),
                None => (series, ""),
            };
            if n != name {
                continue;
            }
            if labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            {
                total += value.parse::<f64>().unwrap_or(0.0);
            }
        }
        total
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.lines().any(|l| {
            !l.starts_with('#')
                && (l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{")))
        })
    }

    pub fn log_rows(&self, outcome: &str) -> f64 {
        self.sum("falcon_log_rows_total", &[("outcome", outcome)])
    }
}

/// Polls `f` every 50 ms until it holds; false after `timeout`.
pub async fn wait_for(timeout: Duration, mut f: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------- client

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub enum SendError {
    /// Could not connect.
    Connect(String),
    /// A reused keep-alive connection was closed before any byte of a
    /// response arrived (the server closes idle connections, e.g. at
    /// shutdown): the request was not processed; retry on a new one.
    ClosedIdle,
    /// The connection failed mid-response, or the response was malformed.
    Broken(String),
}

/// HTTP/1.1 over one keep-alive connection (re-opened when needed).
pub struct Client {
    addr: SocketAddr,
    conn: Option<BufReader2>,
}

type BufReader2 = tokio::io::BufReader<TcpStream>;

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client { addr, conn: None }
    }

    /// One request; a reused connection found closed is retried once on a
    /// fresh one (the request never reached the server).
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Response, SendError> {
        let reused = self.conn.is_some();
        match self.send_once(method, path, headers, body).await {
            Err(SendError::ClosedIdle) if reused => {
                self.send_once(method, path, headers, body).await
            }
            r => r,
        }
    }

    async fn send_once(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Response, SendError> {
        if self.conn.is_none() {
            let s = TcpStream::connect(self.addr)
                .await
                .map_err(|e| SendError::Connect(e.to_string()))?;
            let _ = s.set_nodelay(true);
            self.conn = Some(tokio::io::BufReader::new(s));
        }
        let conn = self.conn.as_mut().unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: falcon\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut buf = req.into_bytes();
        buf.extend_from_slice(body);
        let result = tokio::time::timeout(Duration::from_secs(60), async {
            if conn.get_mut().write_all(&buf).await.is_err() {
                return Err(SendError::ClosedIdle);
            }
            let mut status_line = String::new();
            match conn.read_line(&mut status_line).await {
                Ok(0) | Err(_) => return Err(SendError::ClosedIdle),
                Ok(_) => {}
            }
            let status: u16 = status_line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| SendError::Broken(format!("bad status line {status_line:?}")))?;
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                match conn.read_line(&mut h).await {
                    Ok(0) | Err(_) => {
                        return Err(SendError::Broken(format!(
                            "connection closed in the headers after {status_line:?}"
                        )));
                    }
                    Ok(_) => {}
                }
                if h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let find = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
            if find("transfer-encoding").is_some() {
                return Err(SendError::Broken("chunked response not supported".into()));
            }
            let len: usize = find("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if let Err(e) = conn.read_exact(&mut body).await {
                return Err(SendError::Broken(format!(
                    "body cut off after {status_line:?}: {e}"
                )));
            }
            let close = find("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
            Ok((
                Response {
                    status,
                    headers,
                    body,
                },
                close,
            ))
        })
        .await;
        match result {
            Ok(Ok((r, close))) => {
                if close {
                    self.conn = None;
                }
                Ok(r)
            }
            Ok(Err(e)) => {
                self.conn = None;
                Err(e)
            }
            Err(_) => {
                self.conn = None;
                Err(SendError::Broken("no response within 60 s".into()))
            }
        }
    }
}

// ---------------------------------------------------------------- load

/// One answered request.
#[derive(Clone, Debug)]
pub struct Shot {
    pub status: u16,
    pub request_id: Option<String>,
    /// Texts in the request.
    pub items: u32,
    pub cache: Option<String>,
    pub tier: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
    pub sent: Instant,
    pub done: Instant,
}

#[derive(Debug, Default)]
pub struct LoadResult {
    pub shots: Vec<Shot>,
    /// Requests that got no complete response, with why.
    pub failures: Vec<String>,
    /// Connections the server refused or closed before a request was
    /// processed (only expected once it is shutting down).
    pub refused: u64,
}

impl LoadResult {
    pub fn ok(&self) -> impl Iterator<Item = &Shot> {
        self.shots.iter().filter(|s| s.status == 200)
    }

    /// `request id → texts` of every 200.
    pub fn expected_rows(&self) -> HashMap<String, i64> {
        let mut m = HashMap::new();
        for s in self.ok() {
            let id = s.request_id.clone().expect("a 200 without x-request-id");
            assert!(
                m.insert(id.clone(), i64::from(s.items)).is_none(),
                "x-request-id {id} returned twice"
            );
        }
        m
    }

    pub fn ok_items(&self) -> i64 {
        self.ok().map(|s| i64::from(s.items)).sum()
    }

    /// Panics unless every request got a 200.
    pub fn assert_all_ok(&self, what: &str) {
        let bad: Vec<_> = self
            .shots
            .iter()
            .filter(|s| s.status != 200)
            .map(|s| format!("{} {}", s.status, s.body))
            .collect();
        assert!(
            bad.is_empty() && self.failures.is_empty(),
            "{what}: {} of {} requests failed: {:?} {:?}",
            bad.len() + self.failures.len(),
            self.shots.len() + self.failures.len(),
            &bad[..bad.len().min(5)],
            &self.failures[..self.failures.len().min(5)],
        );
    }
}

/// What each request sends: `(path, body, texts)` for client `c`, request `i`.
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> (String, String, u32) + Send + Sync>;

/// A unique batch of 1–3 short texts per request (texts differ in every
/// request, so every one is computed and logged).
pub fn unique_batches(tag: &str) -> MakeRequest {
    let tag = tag.to_owned();
    Arc::new(move |c, i| {
        let n = (c as u64 + i) % 3 + 1;
        let texts: Vec<String> = (0..n)
            .map(|k| format!("{tag} c{c} r{i} t{k}: WIN a FREE cruise, reply now"))
            .collect();
        let body = serde_json::json!({ "texts": texts }).to_string();
        ("/v1/models/spam/predict".to_owned(), body, n as u32)
    })
}

/// Drives `clients` concurrent keep-alive clients until `stop`, each
/// pausing `pace` between requests, and records every outcome. Connection
/// failures are retried after 50 ms (and counted as `refused` if `stop`
/// was already requested or `tolerate_refused` is set, else as failures).
pub fn spawn_load(
    addr: SocketAddr,
    clients: usize,
    pace: Duration,
    headers: Vec<(String, String)>,
    make: MakeRequest,
    stop: Arc<AtomicBool>,
    tolerate_refused: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<LoadResult> {
    tokio::spawn(async move {
        let mut set = JoinSet::new();
        for c in 0..clients {
            let (make, stop, tol, headers) = (
                make.clone(),
                stop.clone(),
                tolerate_refused.clone(),
                headers.clone(),
            );
            set.spawn(async move {
                let mut out = LoadResult::default();
                let mut client = Client::new(addr);
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let (path, body, items) = make(c, i);
                    i += 1;
                    let sent = Instant::now();
                    match client.send("POST", &path, &headers, body.as_bytes()).await {
                        Ok(r) => {
                            let h = |n: &str| r.header(n).map(str::to_owned);
                            out.shots.push(Shot {
                                status: r.status,
                                request_id: h("x-request-id"),
                                items,
                                cache: h("x-cache"),
                                tier: h("x-cache-tier"),
                                retry_after: h("retry-after"),
                                body: if r.status == 200 {
                                    String::new()
                                } else {
                                    String::from_utf8_lossy(&r.body).into_owned()
                                },
                                sent,
                                done: Instant::now(),
                            });
                        }
                        Err(SendError::Connect(e)) => {
                            if tol.load(Ordering::SeqCst) {
                                out.refused += 1;
                            } else {
                                out.failures.push(format!("connect: {e}"));
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                        Err(SendError::ClosedIdle) => {
                            if tol.load(Ordering::SeqCst) {
                                out.refused += 1;
                            } else {
                                out.failures
                                    .push("connection closed before a response".into());
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                        Err(SendError::Broken(e)) => out.failures.push(e),
                    }
                    if !pace.is_zero() {
                        tokio::time::sleep(pace).await;
                    }
                }
                out
            });
        }
        let mut all = LoadResult::default();
        while let Some(r) = set.join_next().await {
            let r = r.expect("client task");
            all.shots.extend(r.shots);
            all.failures.extend(r.failures);
            all.refused += r.refused;
        }
        all
    })
}

// ---------------------------------------------------------------- postgres

/// The admin URL from `FALCON_TEST_DATABASE_URL`, checked reachable.
pub async fn postgres(test: &str) -> Option<String> {
    let Ok(url) = std::env::var("FALCON_TEST_DATABASE_URL") else {
        return missing(test, "FALCON_TEST_DATABASE_URL is not set");
    };
    match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok((c, conn)) => {
            tokio::spawn(conn);
            drop(c);
            Some(url)
        }
        Err(e) => missing(test, &format!("Postgres at {url} is unreachable: {e}")),
    }
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to Postgres");
    tokio::spawn(conn);
    c
}

/// A database of its own (`falcon_ft_<random>`), dropped (with FORCE) when
/// the value is dropped, panics included.
pub struct FreshDb {
    admin: String,
    pub name: String,
    host: String,
    port: u16,
    user: String,
}

pub fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{}", std::process::id(), nanos % 1_000_000_000_000)
}

impl FreshDb {
    pub async fn create(admin: &str) -> FreshDb {
        let name = format!("falcon_ft_{}", unique_suffix());
        pg_client(admin)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        let cfg: tokio_postgres::Config = admin.parse().expect("admin URL");
        let host = match cfg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        FreshDb {
            admin: admin.to_owned(),
            name,
            host,
            port: cfg.get_ports().first().copied().unwrap_or(5432),
            user: cfg.get_user().unwrap_or("root").to_owned(),
        }
    }

    pub fn target(&self) -> (String, u16) {
        (self.host.clone(), self.port)
    }

    /// The database's URL, optionally through a local proxy port.
    pub fn url(&self, via_port: Option<u16>) -> String {
        let (host, port) = match via_port {
            Some(p) => ("127.0.0.1".to_owned(), p),
            None => (self.host.clone(), self.port),
        };
        let mut cfg: tokio_postgres::Config = self.admin.parse().expect("admin URL");
        let pass = cfg
            .get_password()
            .map(|p| format!(":{}", String::from_utf8_lossy(p)))
            .unwrap_or_default();
        cfg.dbname(&self.name);
        format!(
            "postgres://{}{pass}@{host}:{port}/{}?application_name={}",
            self.user, self.name, self.name
        )
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        pg_client(&self.url(None)).await
    }

    /// `request id → rows` of the prediction log, and the total row count.
    pub async fn logged(&self) -> (HashMap<String, i64>, i64) {
        let c = self.client().await;
        let rows = c
            .query(
                "SELECT request_id, count(*) FROM predictions GROUP BY request_id",
                &[],
            )
            .await
            .expect("query predictions");
        let m: HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let total = m.values().sum();
        (m, total)
    }

    /// Terminates every backend connected to this database (`pg_terminate_backend`).
    pub async fn terminate_backends(&self) -> u64 {
        let c = pg_client(&self.admin).await;
        let rows = c
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .await
            .expect("pg_terminate_backend");
        rows.len() as u64
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run inside the test's runtime: use a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((c, conn)) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A TCP proxy that can be taken down (every connection cut, new ones
/// accepted and closed at once) and brought back on the same port: an
/// outage of the service behind it, as its clients see it.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<tokio::sync::Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(tokio::sync::Mutex::new(JoinSet::new()));
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
                let mut set = conns2.lock().await;
                // Reap finished connections so the set does not grow.
                while set.try_join_next().is_some() {}
                set.spawn(async move {
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

// ---------------------------------------------------------------- redis

/// The `redis-server` binary (`FALCON_TEST_REDIS_SERVER`, else on `PATH`).
pub fn redis_server_binary(test: &str) -> Option<PathBuf> {
    let bin = std::env::var_os("FALCON_TEST_REDIS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"));
    let ok = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(bin)
    } else {
        missing(test, &format!("{} cannot be run", bin.display()))
    }
}

/// The shared Redis from `FALCON_TEST_REDIS_URL`, checked reachable.
pub async fn redis_url(test: &str) -> Option<String> {
    let Ok(url) = std::env::var("FALCON_TEST_REDIS_URL") else {
        return missing(test, "FALCON_TEST_REDIS_URL is not set");
    };
    let reachable = async {
        let c = redis::Client::open(url.as_str()).ok()?;
        let mut conn = c.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    };
    match tokio::time::timeout(Duration::from_secs(5), reachable).await {
        Ok(Some(_)) => Some(url),
        _ => missing(test, &format!("Redis at {url} is unreachable")),
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private `redis-server` (no persistence) that the test can kill and
/// restart on the same port.
pub struct PrivateRedis {
    bin: PathBuf,
    pub port: u16,
    dir: tempfile::TempDir,
    proc: Option<Proc>,
}

impl PrivateRedis {
    pub async fn start(bin: PathBuf) -> PrivateRedis {
        let mut r = PrivateRedis {
            bin,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            proc: None,
        };
        r.restart().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// (Re)starts the server on its port and waits until it answers PING.
    pub async fn restart(&mut self) {
        assert!(self.proc.is_none(), "already running");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let child = Command::new(&self.bin)
                .args(["--port", &self.port.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--daemonize", "no", "--loglevel", "warning"])
                .arg("--dir")
                .arg(self.dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn redis-server");
            let mut proc = Proc { child };
            let up = wait_for(Duration::from_secs(10), async || {
                self.ping().await || proc.child.try_wait().ok().flatten().is_some()
            })
            .await;
            if up && proc.child.try_wait().ok().flatten().is_none() {
                self.proc = Some(proc);
                return;
            }
            proc.kill();
            assert!(
                Instant::now() < deadline,
                "redis-server would not start on port {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILL: every connection drops at once.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    pub async fn ping(&self) -> bool {
        self.command("PING").await.is_some_and(|r| r == "+PONG")
    }

    /// DBSIZE, or `None` when unreachable.
    pub async fn dbsize(&self) -> Option<u64> {
        self.command("DBSIZE")
            .await
            .and_then(|r| r.strip_prefix(':').and_then(|n| n.parse().ok()))
    }

    /// One inline command; the first line of the reply.
    async fn command(&self, cmd: &str) -> Option<String> {
        let fut = async {
            let mut s = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
            s.write_all(format!("{cmd}\r\n").as_bytes()).await.ok()?;
            let mut r = tokio::io::BufReader::new(s);
            let mut line = String::new();
            r.read_line(&mut line).await.ok()?;
            Some(line.trim_end().to_owned())
        };
        tokio::time::timeout(Duration::from_secs(2), fut)
            .await
            .ok()
            .flatten()
    }
}
