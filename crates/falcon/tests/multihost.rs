//! A Falcon cluster across separate network hosts, for real: Linux network
//! namespaces on this machine, wired by veth pairs to two switches
//! (bridges), made by the test itself (needs root; `ip` from iproute2).
//!
//! ```text
//!  front 10.77.1.0/24:  client .2   nginx .3   w1 .11  w2 .12  w3 .13
//!  back  10.77.2.0/24:  client .2   db .3      w1 .11  w2 .12  w3 .13
//! ```
//!
//! * three worker hosts, each running `falcon serve` (its own data dir and
//!   spool), with `--redis-url` and `--database-url` pointing at the db host;
//! * the nginx host, running Debian's nginx with the config of
//!   `falcon cluster nginx-conf` (the same template as `cluster up
//!   --nginx`: least_conn, keep-alive, retries);
//! * the db host, running a throwaway Postgres cluster (`initdb` as the
//!   `postgres` user into a temp dir) and a throwaway `redis-server` —
//!   never the machine's shared ones;
//! * the client host, where this test's load driver runs (its thread
//!   `setns`es into the namespace) and reads Postgres and the workers'
//!   `/metrics` like an operator's box.
//!
//! Each service listens on its standard port inside its own namespace:
//! every run has fresh namespaces, so these ports are free by construction.
//!
//! What it shows, in order, under load through nginx:
//! 1. The shared cache is shared: a text predicted on worker A is a Redis
//!    hit (`x-cache-tier: redis`) on worker B, for every pair in a ring, and
//!    under load every worker counts Redis hits.
//! 2. Losing a host loses no request: worker 1's link is pulled (down at
//!    the switch) mid-load for longer than nginx's read timeout; zero
//!    client requests fail (connect timeouts and read timeouts are retried
//!    on the other workers); when the link returns, worker 1 gets traffic
//!    again.
//! 3. A partition between worker 2 and the db host (its back link down):
//!    zero failed requests, Redis errors counted, log rows spooled on
//!    worker 2; after the link returns the spool replays and empties.
//! 4. Rolling restart: each worker in turn SIGTERM → drain → exit 0 → new
//!    process on the same data dir → ready; zero failed requests.
//! 5. The prediction log is shared and complete: after a clean shutdown,
//!    every answered request — whichever worker answered it — is in the
//!    test's Postgres with one row per text. A request logged by two
//!    workers is only accepted if it took longer than nginx's read timeout
//!    (nginx retried it after the first worker's answer was lost with its
//!    link: at-least-once), and every such case is reported.
//!
//! Cleanup: every process is killed on drop and [`netns::Net`] kills
//! whatever still runs in its namespaces and deletes them, panics
//! included; namespace names carry the pid, and stale ones of dead runs are
//! swept. Without root (or `ip`, nginx, redis-server, Postgres binaries)
//! the test fails under `CI=true` and is skipped with the reason otherwise.

mod common;
mod netns;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Client, LoadResult, MakeRequest, Metrics, Proc, missing, spawn_load, wait_for};
use netns::Net;

const TEST: &str = "multihost_cluster_in_network_namespaces";
const FRONT: &str = "front";
const BACK: &str = "back";
const DB_IP: &str = "10.77.2.3";
const NGINX_ADDR: &str = "10.77.1.3:8080";
const WORKER_PORT: u16 = 8000;
const PG_PORT: u16 = 5432;
const REDIS_PORT: u16 = 6379;
/// nginx's `proxy_read_timeout` here: how long a request sent into a dead
/// link stalls before nginx retries it elsewhere. Short, so the test is;
/// long enough that a busy 2-core machine never hits it by slowness alone.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Concurrent keep-alive clients of the load.
const CLIENTS: usize = 6;
const WAIT: Duration = Duration::from_secs(60);
const PREDICT: &str = "/v1/models/spam/predict";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The newest Postgres server binaries (`/usr/lib/postgresql/<v>/bin`).
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((v, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, d)| d)
}

fn id_of(user: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// What the test needs beyond namespaces, or why it cannot run.
struct Tools {
    pg_bin: PathBuf,
    pg_uid: u32,
    pg_gid: u32,
}

fn tools() -> Result<Tools, String> {
    netns::usable()?;
    for (program, arg, pkg) in [
        ("nginx", "-v", "nginx"),
        ("redis-server", "--version", "redis-server"),
        ("setpriv", "--version", "util-linux"),
    ] {
        if !runs(program, arg) {
            return Err(format!(
                "{program} is not installed (apt-get install {pkg})"
            ));
        }
    }
    let pg_bin = postgres_bin_dir()
        .ok_or("no Postgres server under /usr/lib/postgresql/*/bin (apt-get install postgresql)")?;
    let (Some(pg_uid), Some(pg_gid)) = (id_of("postgres", "-u"), id_of("postgres", "-g")) else {
        return Err("no `postgres` user to run initdb/postgres as".into());
    };
    Ok(Tools {
        pg_bin,
        pg_uid,
        pg_gid,
    })
}

#[test]
fn multihost_cluster_in_network_namespaces() {
    let tools = match tools() {
        Ok(t) => t,
        Err(why) => {
            missing::<()>(TEST, &why);
            return;
        }
    };
    let started = Instant::now();
    // The namespaces and everything in them live on a thread of their own:
    // it joins the client host's namespace, which the test's main thread
    // (possibly libtest's main thread) must never do.
    let result = std::thread::spawn(move || {
        let mut net = Net::new(&[FRONT, BACK]);
        build_hosts(&mut net);
        net.enter("client");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(scenario(&net, &tools));
        drop(rt);
        drop(net);
    })
    .join();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    eprintln!("{TEST}: passed in {:.1?}", started.elapsed());
}

fn worker_host(i: usize) -> String {
    format!("w{i}")
}

fn build_hosts(net: &mut Net) {
    for (host, last) in [("client", 2), ("nginx", 3), ("db", 3)] {
        net.host(host);
        if host != "db" {
            net.link(host, FRONT, "eth0", &format!("10.77.1.{last}/24"));
        }
        if host != "nginx" {
            net.link(host, BACK, "eth1", &format!("10.77.2.{last}/24"));
        }
    }
    for i in 1..=3 {
        let h = worker_host(i);
        net.host(&h);
        net.link(&h, FRONT, "eth0", &format!("10.77.1.{}/24", 10 + i));
        net.link(&h, BACK, "eth1", &format!("10.77.2.{}/24", 10 + i));
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn log_file(path: &Path) -> (Stdio, Stdio) {
    let f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    (f.try_clone().unwrap().into(), f.into())
}

/// Spawns `cmd` with output appended to `log`.
fn spawn(mut cmd: Command, log: &Path) -> Proc {
    let (out, err) = log_file(log);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    Proc { child }
}

/// Polls `ready` until true; fails early if `proc` exits.
async fn wait_ready(what: &str, proc: &mut Proc, log: &Path, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if ready().await {
            return;
        }
        if let Some(status) = proc.child.try_wait().unwrap() {
            panic!("{what} exited ({status}):\n{}", tail(log, 30));
        }
        assert!(
            Instant::now() < deadline,
            "{what} not ready after 120 s:\n{}",
            tail(log, 30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut c = Client::new(addr);
    tokio::time::timeout(Duration::from_secs(5), c.send("GET", path, &[], b""))
        .await
        .ok()?
        .ok()
        .map(|r| r.status)
}

// ------------------------------------------------------------- db host

/// The throwaway Postgres cluster: `initdb` into `dir/pg` as `postgres`.
async fn start_postgres(net: &Net, tools: &Tools, dir: &Path) -> Proc {
    let (data, sock) = (dir.join("pg"), dir.join("pg-socket"));
    for d in [&data, &sock] {
        fs::create_dir_all(d).unwrap();
        std::os::unix::fs::chown(d, Some(tools.pg_uid), Some(tools.pg_gid)).unwrap();
    }
    let as_postgres = |program: &str| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
            .arg(tools.pg_bin.join(program));
        c
    };
    let log = dir.join("postgres.log");
    let (out, err) = log_file(&log);
    let init = as_postgres("initdb")
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdout(out)
        .stderr(err)
        .status()
        .expect("running initdb");
    assert!(init.success(), "initdb failed:\n{}", tail(&log, 30));
    // initdb trusts loopback only; the workers and the client come from
    // the two test networks.
    let mut hba = fs::OpenOptions::new()
        .append(true)
        .open(data.join("pg_hba.conf"))
        .unwrap();
    std::io::Write::write_all(&mut hba, b"host all all 10.77.0.0/16 trust\n").unwrap();
    let mut cmd = net.command("db", "setpriv");
    cmd.args(cmd_args(&as_postgres("postgres")))
        .arg("-D")
        .arg(&data)
        .args(["-p", &PG_PORT.to_string(), "-k"])
        .arg(&sock)
        .args(["-c", &format!("listen_addresses={DB_IP}")])
        // A throwaway cluster: durability against an OS crash is not
        // what this test is about.
        .args(["-c", "fsync=off", "-c", "full_page_writes=off"]);
    let mut proc = spawn(cmd, &log);
    wait_ready("postgres", &mut proc, &log, async || {
        tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
            .await
            .is_ok()
    })
    .await;
    proc
}

/// The arguments of `c` (to re-run it behind `ip netns exec`).
fn cmd_args(c: &Command) -> Vec<std::ffi::OsString> {
    c.get_args().map(|a| a.to_owned()).collect()
}

fn pg_url() -> String {
    format!("postgres://postgres@{DB_IP}:{PG_PORT}/postgres")
}

async fn redis_ping() -> bool {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let fut = async {
        let mut s = tokio::net::TcpStream::connect((DB_IP, REDIS_PORT))
            .await
            .ok()?;
        s.write_all(b"PING\r\n").await.ok()?;
        let mut line = String::new();
        tokio::io::BufReader::new(s)
            .read_line(&mut line)
            .await
            .ok()?;
        Some(line.starts_with("+PONG"))
    };
    tokio::time::timeout(Duration::from_secs(2), fut)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

async fn start_redis(net: &Net, dir: &Path) -> Proc {
    let rdir = dir.join("redis");
    fs::create_dir_all(&rdir).unwrap();
    let log = dir.join("redis.log");
    let mut cmd = net.command("db", "redis-server");
    cmd.args(["--port", &REDIS_PORT.to_string(), "--bind", DB_IP])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .args(["--daemonize", "no", "--loglevel", "warning", "--dir"])
        .arg(&rdir);
    let mut proc = spawn(cmd, &log);
    wait_ready("redis-server", &mut proc, &log, async || redis_ping().await).await;
    proc
}

// ------------------------------------------------------------- workers

struct Worker {
    host: String,
    addr: SocketAddr,
    data: PathBuf,
    log: PathBuf,
    proc: Option<Proc>,
}

impl Worker {
    fn new(i: usize, dir: &Path) -> Worker {
        let data = dir.join(format!("w{i}-data"));
        fs::create_dir_all(&data).unwrap();
        Worker {
            host: worker_host(i),
            addr: format!("10.77.1.{}:{WORKER_PORT}", 10 + i).parse().unwrap(),
            data,
            log: dir.join(format!("w{i}.log")),
            proc: None,
        }
    }

    /// Starts `falcon serve` on the worker's host and waits until ready.
    async fn start(&mut self, net: &Net) {
        assert!(self.proc.is_none());
        let mut cmd = net.command(&self.host, env!("CARGO_BIN_EXE_falcon"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("FALCON_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("serve")
            .args(["--addr", &self.addr.to_string(), "--workers", "1"])
            .arg("--models")
            .arg(workspace().join("models"))
            .args(["--redis-url", &format!("redis://{DB_IP}:{REDIS_PORT}/")])
            // The default 5 ms budget is for a quiet LAN; this machine's
            // two cores also run nginx, Postgres and the load.
            .args(["--redis-timeout", "250ms"])
            .args(["--database-url", &pg_url(), "--database-pool", "4"])
            .arg("--data-dir")
            .arg(&self.data)
            // Workers listen on a non-loopback address with --auth off:
            // `serve`'s bind guard refuses to start unless the repository
            // (admin) routes are off (`--repository-routes off`, here via
            // its environment variable).
            .env("FALCON_REPOSITORY_ROUTES", "off");
        let mut proc = spawn(cmd, &self.log);
        let (addr, what) = (self.addr, format!("falcon serve on {}", self.host));
        wait_ready(&what, &mut proc, &self.log, async || {
            http_status(addr, "/readyz").await == Some(200)
        })
        .await;
        self.proc = Some(proc);
    }

    async fn metrics(&self) -> Metrics {
        let mut c = Client::new(self.addr);
        let r = tokio::time::timeout(Duration::from_secs(10), c.send("GET", "/metrics", &[], b""))
            .await
            .unwrap_or_else(|_| panic!("GET /metrics on {}: timeout", self.host))
            .unwrap_or_else(|e| panic!("GET /metrics on {}: {e:?}", self.host));
        assert_eq!(r.status, 200);
        Metrics(String::from_utf8(r.body).unwrap())
    }

    /// Predictions answered (POSTs) by the current process.
    async fn posts(&self) -> f64 {
        self.metrics()
            .await
            .sum("http_requests_total", &[("method", "POST")])
    }

    /// SIGTERM, then exit 0 within the drain timeout.
    async fn terminate(&mut self) {
        let mut proc = self.proc.take().expect("running");
        proc.signal(rustix::process::Signal::TERM);
        let status = proc
            .wait_exit(Duration::from_secs(60))
            .await
            .unwrap_or_else(|| panic!("{} did not exit after SIGTERM", self.host));
        assert!(
            status.success(),
            "{} exited with {status}:\n{}",
            self.host,
            tail(&self.log, 30)
        );
    }
}

// ------------------------------------------------------------- load

struct Load {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<LoadResult>,
    /// nginx's error log, shown when a request failed.
    nginx_log: PathBuf,
}

impl Load {
    fn start(dir: &Path, make: MakeRequest) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = spawn_load(
            NGINX_ADDR.parse().unwrap(),
            CLIENTS,
            Duration::from_millis(2),
            vec![],
            make,
            stop.clone(),
            Arc::new(AtomicBool::new(false)),
        );
        Load {
            stop,
            handle,
            nginx_log: dir.join("nginx/nginx-error.log"),
        }
    }

    async fn finish(self, what: &str) -> LoadResult {
        self.stop.store(true, Ordering::SeqCst);
        let r = self.handle.await.expect("load task");
        if r.shots.iter().any(|s| s.status != 200) || !r.failures.is_empty() {
            eprintln!("{what}: nginx's error log:\n{}", tail(&self.nginx_log, 40));
        }
        r.assert_all_ok(what);
        let slowest = r
            .shots
            .iter()
            .map(|s| s.done - s.sent)
            .max()
            .unwrap_or_default();
        eprintln!(
            "{what}: {} requests ({} texts), all 200; slowest {slowest:.2?}",
            r.shots.len(),
            r.ok_items()
        );
        assert!(r.shots.len() >= 50, "{what}: too little load");
        r
    }
}

/// One text per request: even requests one of 40 hot texts (computed once
/// somewhere, then served from Redis or memory), odd ones a new text.
fn hot_and_fresh(tag: &'static str) -> MakeRequest {
    Arc::new(move |c, i| {
        let text = if i % 2 == 0 {
            format!(
                "{tag} hot {}: lunch tomorrow at noon?",
                (c as u64 * 7 + i / 2) % 40
            )
        } else {
            format!("{tag} fresh c{c} r{i}: WIN a FREE cruise")
        };
        let body = serde_json::json!({ "text": text }).to_string();
        (PREDICT.to_owned(), body, 1)
    })
}

/// An answered request the log must hold.
struct Answered {
    items: i64,
    latency: Duration,
}

fn record(all: &mut HashMap<String, Answered>, r: &LoadResult) {
    for s in r.ok() {
        let id = s.request_id.clone().expect("a 200 without x-request-id");
        let a = Answered {
            items: i64::from(s.items),
            latency: s.done - s.sent,
        };
        assert!(
            all.insert(id.clone(), a).is_none(),
            "x-request-id {id} twice"
        );
    }
}

async fn predict_direct(w: &Worker, text: &str) -> common::Response {
    let body = serde_json::json!({ "text": text }).to_string();
    let r = Client::new(w.addr)
        .send("POST", PREDICT, &[], body.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("POST to {}: {e:?}", w.host));
    assert_eq!(
        r.status,
        200,
        "{}: {}",
        w.host,
        String::from_utf8_lossy(&r.body)
    );
    r
}

// ------------------------------------------------------------- scenario

async fn scenario(net: &Net, tools: &Tools) {
    let tmp = tempfile::tempdir().unwrap();
    // Postgres (as `postgres`) must reach its directories under it.
    fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let dir = tmp.path();
    let setup = Instant::now();
    let _postgres = start_postgres(net, tools, dir).await;
    let _redis = start_redis(net, dir).await;
    let mut workers: Vec<Worker> = (1..=3).map(|i| Worker::new(i, dir)).collect();
    for w in &mut workers {
        w.start(net).await;
    }
    let _nginx = start_nginx(net, &workers, dir).await;
    eprintln!("{TEST}: hosts up in {:.1?}", setup.elapsed());
    let mut answered: HashMap<String, Answered> = HashMap::new();

    // 0. Falcon's own load generator on the client host, through nginx:
    // every answered request is one row in the shared log.
    let bench_ids = bench_through_nginx(net, dir).await;

    shared_cache(&workers, dir, &mut answered).await;
    lose_host(net, &workers, dir, &mut answered).await;
    partition(net, &workers, dir, &mut answered).await;
    rolling_restart(net, &mut workers, dir, &mut answered).await;

    // 5. Every answered request is in the shared log.
    for w in &workers {
        let m = w.metrics().await;
        assert!(m.has("falcon_log_dropped_rows_total"), "{}", w.host);
        let (dropped, rejected) = (
            m.sum("falcon_log_dropped_rows_total", &[]),
            m.log_rows("rejected"),
        );
        assert_eq!(
            (dropped, rejected),
            (0.0, 0.0),
            "{}: rows dropped, rejected",
            w.host
        );
    }
    for w in &mut workers {
        w.terminate().await;
        let spool = fs::read_dir(&w.data)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("spool"))
            .map(|e| e.metadata().map_or(0, |m| m.len()))
            .sum::<u64>();
        assert_eq!(spool, 0, "{}: spool left after a clean shutdown", w.host);
    }
    check_log(&answered, &bench_ids).await;
}

/// Step 1: A text predicted on one worker is a Redis hit on the next (a ring),
/// and under load through nginx every worker counts Redis hits.
async fn shared_cache(workers: &[Worker], dir: &Path, answered: &mut HashMap<String, Answered>) {
    for (a, b) in [(0, 1), (1, 2), (2, 0)] {
        let (wa, wb) = (&workers[a], &workers[b]);
        let text = format!("shared across hosts: {} then {}", wa.host, wb.host);
        let sets = wa.metrics().await.sum("redis_cache_sets_total", &[]);
        let r = predict_direct(wa, &text).await;
        assert_eq!(r.header("x-cache"), Some("miss"), "{} computed it", wa.host);
        let id = r.header("x-request-id").unwrap().to_owned();
        answered.insert(
            id,
            Answered {
                items: 1,
                latency: Duration::ZERO,
            },
        );
        // The write-back to Redis is asynchronous: wait until it landed.
        assert!(
            wait_for(WAIT, async || wa
                .metrics()
                .await
                .sum("redis_cache_sets_total", &[])
                > sets)
            .await,
            "{} never wrote its prediction to Redis",
            wa.host
        );
        let hits = wb.metrics().await.sum("redis_cache_hits_total", &[]);
        let r = predict_direct(wb, &text).await;
        assert_eq!(
            r.header("x-cache-tier"),
            Some("redis"),
            "a text predicted on {} is not a Redis hit on {}: {:?}",
            wa.host,
            wb.host,
            r.headers
        );
        let id = r.header("x-request-id").unwrap().to_owned();
        answered.insert(
            id,
            Answered {
                items: 1,
                latency: Duration::ZERO,
            },
        );
        assert_eq!(
            wb.metrics().await.sum("redis_cache_hits_total", &[]),
            hits + 1.0
        );
    }
    let hits_before: Vec<f64> = {
        let mut v = Vec::new();
        for w in workers {
            v.push(w.metrics().await.sum("redis_cache_hits_total", &[]));
        }
        v
    };
    let load = Load::start(dir, hot_and_fresh("mh-cache"));
    let phase = Instant::now();
    for (w, before) in workers.iter().zip(&hits_before) {
        assert!(
            wait_for(WAIT, async || w
                .metrics()
                .await
                .sum("redis_cache_hits_total", &[])
                > before + 3.0)
            .await,
            "{} counts no Redis hits under load",
            w.host
        );
    }
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(phase.elapsed())).await;
    let r = load.finish("1. shared cache").await;
    let redis_answers = r
        .ok()
        .filter(|s| s.tier.as_deref() == Some("redis"))
        .count();
    assert!(redis_answers > 0, "no answer through nginx came from Redis");
    eprintln!("1. shared cache: {redis_answers} answers through nginx from Redis");
    record(answered, &r);
}

/// Step 2: Worker 1's front link pulled mid-load for longer than nginx's read
/// timeout: no request fails, the others take over, and it rejoins.
async fn lose_host(
    net: &Net,
    workers: &[Worker],
    dir: &Path,
    answered: &mut HashMap<String, Answered>,
) {
    let w1 = &workers[0];
    let load = Load::start(dir, common::unique_batches("mh-loss"));
    let base = w1.posts().await;
    assert!(wait_for(WAIT, async || w1.posts().await >= base + 20.0).await);
    let others_before = [workers[1].posts().await, workers[2].posts().await];
    net.set_link(&w1.host, FRONT, false);
    let pulled = Instant::now();
    // Longer than nginx's read timeout: requests already sent to w1 when
    // its link went stall, time out and are retried elsewhere.
    tokio::time::sleep(READ_TIMEOUT + Duration::from_secs(3)).await;
    let others_after = [workers[1].posts().await, workers[2].posts().await];
    assert!(
        others_after[0] > others_before[0] + 20.0 && others_after[1] > others_before[1] + 20.0,
        "nginx did not route around the lost host: {others_before:?} → {others_after:?}"
    );
    net.set_link(&w1.host, FRONT, true);
    let restored = Instant::now();
    let back = w1.posts().await;
    let rejoined = wait_for(WAIT, async || w1.posts().await >= back + 20.0).await;
    assert!(
        rejoined,
        "{} received no traffic after its link returned",
        w1.host
    );
    eprintln!(
        "2. host lost: link down {:.1?}; {} rejoined {:.1?} after the link returned",
        restored - pulled,
        w1.host,
        restored.elapsed()
    );
    let r = load.finish("2. host lost").await;
    let stalled = r.ok().filter(|s| s.done - s.sent >= READ_TIMEOUT).count();
    // nginx only learns that w1 is gone by a timeout: 1 s on a new
    // connection, the read timeout on a kept-alive one. At least one request
    // must have paid it and been retried, or the failover was not exercised.
    let retried = r
        .ok()
        .filter(|s| s.done - s.sent >= Duration::from_secs(1))
        .count();
    assert!(
        retried > 0,
        "no request was retried away from the lost host"
    );
    eprintln!(
        "2. host lost: {retried} requests took over nginx's 1 s connect timeout, \
         {stalled} waited out its read timeout; all retried to 200"
    );
    record(answered, &r);
}

/// Step 3: Worker 2 cut off from the db host (Redis and Postgres) mid-load: no
/// request fails, its rows spool, and replay once the link is back.
async fn partition(
    net: &Net,
    workers: &[Worker],
    dir: &Path,
    answered: &mut HashMap<String, Answered>,
) {
    let w2 = &workers[1];
    let load = Load::start(dir, common::unique_batches("mh-part"));
    assert!(wait_for(WAIT, async || w2.metrics().await.log_rows("written") > 0.0).await);
    let before = w2.metrics().await;
    net.set_link(&w2.host, BACK, false);
    let cut = Instant::now();
    // A batch in flight hangs until the writer's database timeout (10 s),
    // then it and what follows go to the spool.
    let spooled = wait_for(WAIT, async || {
        w2.metrics().await.log_rows("spooled") > before.log_rows("spooled")
    })
    .await;
    let during = w2.metrics().await;
    assert!(
        spooled,
        "{} spooled nothing while partitioned: {}",
        w2.host,
        series(&during, "falcon_log_")
    );
    assert!(
        during.sum("redis_cache_errors_total", &[]) > before.sum("redis_cache_errors_total", &[]),
        "{}: no Redis error counted while partitioned",
        w2.host
    );
    assert!(during.sum("falcon_log_spool_bytes", &[]) > 0.0);
    net.set_link(&w2.host, BACK, true);
    let healed = Instant::now();
    let replayed = wait_for(WAIT, async || {
        let m = w2.metrics().await;
        m.sum("falcon_log_spool_bytes", &[]) == 0.0
            && m.sum("falcon_log_db_up", &[]) == 1.0
            && m.log_rows("replayed") > before.log_rows("replayed")
    })
    .await;
    let after = w2.metrics().await;
    assert!(
        replayed,
        "{}: the spool did not replay: {}",
        w2.host,
        series(&after, "falcon_log_")
    );
    eprintln!(
        "3. partition: {:.1?} cut off; spooled {} rows, replayed {} within {:.1?} of the link's return",
        healed - cut,
        after.log_rows("spooled") - before.log_rows("spooled"),
        after.log_rows("replayed") - before.log_rows("replayed"),
        healed.elapsed()
    );
    let r = load.finish("3. partition").await;
    record(answered, &r);
}

/// Step 4: Each worker in turn: SIGTERM, drain, exit 0, a new process on the same
/// data dir, ready, back in nginx's rotation — under load, no request fails.
async fn rolling_restart(
    net: &Net,
    workers: &mut [Worker],
    dir: &Path,
    answered: &mut HashMap<String, Answered>,
) {
    let load = Load::start(dir, common::unique_batches("mh-roll"));
    let roll = Instant::now();
    for w in workers.iter_mut() {
        let t = Instant::now();
        w.terminate().await;
        let drained = t.elapsed();
        w.start(net).await;
        let ready = t.elapsed();
        // Ready is not enough: nginx holds a worker that failed a request
        // out of rotation for fail_timeout (2 s). The next one may only go
        // once this one is back in nginx's rotation (it gets requests
        // again), or nginx could find every worker out at once.
        let w = &*w;
        assert!(
            wait_for(WAIT, async || w.posts().await >= 10.0).await,
            "{} gets no traffic after its restart",
            w.host
        );
        eprintln!(
            "4. rolling restart: {} drained in {drained:.1?}, ready after {ready:.1?}, \
             back in nginx's rotation after {:.1?}",
            w.host,
            t.elapsed()
        );
    }
    eprintln!("4. rolling restart: {:.1?} for 3 workers", roll.elapsed());
    let r = load.finish("4. rolling restart").await;
    record(answered, &r);
}

/// `falcon bench` in the client's namespace for 3 s (closed loop, the
/// e-mail corpus, one text per request); then the log must hold exactly one
/// row per 2xx it counted. Returns the ids of those rows (the client ids
/// of requests bench does not report one by one).
async fn bench_through_nginx(net: &Net, dir: &Path) -> HashSet<String> {
    let json = dir.join("bench.json");
    let mut cmd = net.command("client", env!("CARGO_BIN_EXE_falcon"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FALCON_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args([
            "bench",
            "--url",
            &format!("http://{NGINX_ADDR}"),
            "--path",
            PREDICT,
        ])
        .args([
            "--vus",
            "12",
            "--think",
            "5ms",
            "--duration",
            "3s",
            "--warmup",
            "0s",
        ])
        .args(["--label", "multihost", "--quiet", "--json"])
        .arg(&json)
        // The default corpus, bench/data/heldout.jsonl, is relative.
        .current_dir(workspace())
        .output()
        .expect("running falcon bench");
    assert!(
        out.status.success(),
        "falcon bench: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let run: serde_json::Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    let s = &run["summary"];
    let (ok, failed) = (s["ok"].as_i64().unwrap(), s["failed"].as_i64().unwrap());
    let warmup = s["warmup_requests"].as_i64().unwrap();
    assert_eq!((failed, warmup), (0, 0), "falcon bench: {s}");
    assert!(ok > 100, "falcon bench: too little load: {s}");
    let c = pg_client().await;
    let count = async || -> i64 {
        c.query_one("SELECT count(*) FROM predictions", &[])
            .await
            .map_or(-1, |r| r.get(0))
    };
    // Rows are written asynchronously (batched): wait until they landed,
    // then check that no more come.
    wait_for(WAIT, async || count().await >= ok).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count().await,
        ok,
        "rows in Postgres vs 2xx counted by falcon bench"
    );
    eprintln!(
        "0. falcon bench on the client host: {ok} requests ({:.0} req/s, p50 {:.2} ms, p99 {:.2} ms), \
         0 failed; {ok} rows in Postgres",
        s["rps"].as_f64().unwrap(),
        s["latency_ms"]["p50"].as_f64().unwrap(),
        s["latency_ms"]["p99"].as_f64().unwrap()
    );
    c.query("SELECT DISTINCT request_id FROM predictions", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| client_id(r.get::<_, &str>(0)).to_owned())
        .collect()
}

async fn pg_client() -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the test's Postgres");
    tokio::spawn(conn);
    c
}

/// The id the client saw in a log row's request id: the log's id is
/// `<worker's own id>/<nginx's x-request-id>`, or the worker's id alone
/// for a request sent to the worker directly.
fn client_id(log_id: &str) -> &str {
    log_id.split_once('/').map_or(log_id, |(_, c)| c)
}

async fn start_nginx(net: &Net, workers: &[Worker], dir: &Path) -> Proc {
    let run = dir.join("nginx");
    let upstreams: Vec<String> = workers.iter().map(|w| w.addr.to_string()).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_falcon"))
        .args(["cluster", "nginx-conf", "--run-dir"])
        .arg(&run)
        .args(["--listen", NGINX_ADDR, "--upstream", &upstreams.join(",")])
        .args(["--read-timeout", &format!("{}s", READ_TIMEOUT.as_secs())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conf = run.join("nginx.conf");
    let check = net
        .command("nginx", "nginx")
        .args(["-t", "-q", "-p"])
        .arg(&run)
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut cmd = net.command("nginx", "nginx");
    cmd.arg("-p")
        .arg(&run)
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"]);
    let log = dir.join("nginx.log");
    let mut proc = spawn(cmd, &log);
    let addr: SocketAddr = NGINX_ADDR.parse().unwrap();
    wait_ready(
        "nginx",
        &mut proc,
        &run.join("nginx-error.log"),
        async || http_status(addr, "/readyz").await == Some(200),
    )
    .await;
    proc
}

fn series(m: &Metrics, prefix: &str) -> String {
    m.0.lines()
        .filter(|l| l.starts_with(prefix) && !l.contains("_bucket"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares the test's Postgres with every answered request.
async fn check_log(answered: &HashMap<String, Answered>, bench_ids: &HashSet<String>) {
    let c = pg_client().await;
    let rows = c
        .query(
            "SELECT request_id, count(*), max(item) - min(item) + 1 FROM predictions \
             GROUP BY request_id",
            &[],
        )
        .await
        .expect("query predictions");
    // Grouped by the id the client saw; bench's rows were checked by count.
    let mut logged: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    let mut total = 0i64;
    for row in &rows {
        let id: String = row.get(0);
        let (n, span): (i64, i32) = (row.get(1), row.get(2));
        assert_eq!(
            n,
            i64::from(span),
            "{id}: items of one request not contiguous"
        );
        let (server, client) = id.split_once('/').unwrap_or((&id, &id));
        if bench_ids.contains(client) {
            continue;
        }
        total += n;
        logged
            .entry(client.to_owned())
            .or_default()
            .push((server.to_owned(), n));
    }
    let texts: i64 = answered.values().map(|a| a.items).sum();
    let mut problems = Vec::new();
    let mut duplicates = 0;
    for (id, a) in answered {
        match logged.get(id) {
            None => problems.push(format!("{id}: answered, not logged")),
            Some(groups) => {
                if let Some((s, n)) = groups.iter().find(|(_, n)| *n != a.items) {
                    problems.push(format!("{id}: {n} rows from {s}, {} texts", a.items));
                }
                if groups.len() > 1 {
                    duplicates += 1;
                    // Only nginx's retry after a read timeout may make two
                    // workers answer one request.
                    if a.latency < READ_TIMEOUT {
                        problems.push(format!(
                            "{id}: logged by {groups:?} but answered in {:.2?} (no retry)",
                            a.latency
                        ));
                    }
                }
            }
        }
    }
    for id in logged.keys().filter(|id| !answered.contains_key(*id)) {
        problems.push(format!("{id}: logged, never answered"));
    }
    eprintln!(
        "5. shared log: {} answered requests with {texts} texts; {total} rows in Postgres \
         ({duplicates} requests retried by nginx after a lost answer, logged by two workers)",
        answered.len()
    );
    assert!(
        problems.is_empty(),
        "{} problems, e.g. {:?}",
        problems.len(),
        &problems[..problems.len().min(10)]
    );
}
