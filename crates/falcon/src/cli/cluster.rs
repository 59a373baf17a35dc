//! `falcon cluster up|down|status`: N `falcon serve` workers on local ports,
//! optionally behind a real nginx, for benchmarks and `falcon tune`.
//!
//! Everything the cluster is lives in its run directory: `cluster.json`
//! (PIDs, ports, URL), one log per worker, the generated `nginx.conf`, and a
//! Prometheus file-discovery target list. `down` reads that state, so it
//! works from another shell and leaves no process behind.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use falcon_server::parse_duration;
use serde::{Deserialize, Serialize};

/// `falcon cluster` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ClusterCommand {
    /// Start N workers (and nginx in front with --nginx).
    Up(Box<UpArgs>),
    /// Stop everything `up` started.
    Down(DirArgs),
    /// Show workers, ports and health.
    Status(DirArgs),
    /// Print (or write) the nginx.conf `up --nginx` would use, for other
    /// upstreams: workers on other hosts, compose services
    /// (deploy/compose/nginx.conf).
    NginxConf(Box<super::nginx::NginxConfArgs>),
}

#[derive(clap::Args, Debug, Clone)]
pub struct DirArgs {
    /// Run directory holding the cluster's state, logs and configs.
    #[arg(long, env = "FALCON_CLUSTER_DIR", default_value = ".falcon/cluster")]
    pub run_dir: PathBuf,
}

#[derive(clap::Args, Debug, Clone)]
pub struct UpArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Number of `falcon serve` workers.
    #[arg(long, env = "FALCON_CLUSTER_WORKERS", default_value_t = 3)]
    pub workers: usize,
    /// Put a real nginx (Debian package) in front: least_conn, keepalive 32,
    /// HTTP/1.1 upstream keep-alive, retries on a dead worker.
    #[arg(long, env = "FALCON_CLUSTER_NGINX")]
    pub nginx: bool,
    /// nginx executable.
    #[arg(long, env = "FALCON_CLUSTER_NGINX_BIN", default_value = "nginx")]
    pub nginx_bin: PathBuf,
    /// nginx listen port (0: a free port).
    #[arg(long, env = "FALCON_CLUSTER_NGINX_PORT", default_value_t = 0)]
    pub nginx_port: u16,
    /// nginx worker processes (on a 2-core machine one leaves the cores to Falcon).
    #[arg(long, env = "FALCON_CLUSTER_NGINX_PROCESSES", default_value_t = 1)]
    pub nginx_processes: usize,
    /// First worker port; workers use consecutive ports (0: free ports).
    #[arg(long, env = "FALCON_CLUSTER_BASE_PORT", default_value_t = 0)]
    pub base_port: u16,
    /// Model repository passed to each worker (`falcon serve --models`).
    #[arg(long, env = "FALCON_CLUSTER_MODELS", value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Async threads per worker (`FALCON_WORKERS` of each `falcon serve`;
    /// default: serve's own, one per core).
    #[arg(long, env = "FALCON_CLUSTER_THREADS")]
    pub threads_per_worker: Option<usize>,
    /// Redis URL handed to every worker as FALCON_REDIS_URL (shared cache tier).
    #[arg(long, env = "FALCON_CLUSTER_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Database URL handed to every worker as FALCON_DATABASE_URL (prediction log).
    #[arg(long, env = "FALCON_CLUSTER_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Extra argument for every `falcon serve` (repeat: --serve-arg=--cache-bytes=0).
    #[arg(
        long = "serve-arg",
        env = "FALCON_CLUSTER_SERVE_ARGS",
        value_delimiter = ' ',
        allow_hyphen_values = true
    )]
    pub serve_args: Vec<String>,
    /// Also write the Prometheus target list here (e.g.
    /// deploy/prometheus/targets/falcon.json); `down` empties it again.
    #[arg(long, env = "FALCON_CLUSTER_PROMETHEUS_TARGETS", value_name = "FILE")]
    pub prometheus_targets: Option<PathBuf>,
    /// With --nginx: also write the nginx exporter's target list here (e.g.
    /// deploy/prometheus/targets/nginx.json); `down` empties it again.
    #[arg(
        long,
        env = "FALCON_CLUSTER_PROMETHEUS_NGINX_TARGETS",
        value_name = "FILE"
    )]
    pub prometheus_nginx_targets: Option<PathBuf>,
    /// With --nginx: `prometheus-nginx-exporter` (Debian package) to start
    /// against nginx's local-only stub_status; skipped with a notice when not
    /// installed.
    #[arg(
        long,
        env = "FALCON_CLUSTER_NGINX_EXPORTER_BIN",
        default_value = "prometheus-nginx-exporter"
    )]
    pub nginx_exporter_bin: PathBuf,
    /// With --nginx: do not start the nginx exporter.
    #[arg(long, env = "FALCON_CLUSTER_NO_NGINX_EXPORTER")]
    pub no_nginx_exporter: bool,
    /// Start the Python reference instead of Falcon (bench/reference/:
    /// scikit-learn + FastAPI, gunicorn with --workers Uvicorn workers on
    /// one port), behind the same nginx with --nginx.
    #[arg(long, env = "FALCON_CLUSTER_REFERENCE")]
    pub reference: bool,
    /// Python interpreter with bench/reference/requirements.txt installed.
    #[arg(
        long,
        env = "FALCON_CLUSTER_REFERENCE_PYTHON",
        default_value = "python3"
    )]
    pub reference_python: PathBuf,
    /// Directory of the reference app (app.py, gunicorn.conf.py).
    #[arg(
        long,
        env = "FALCON_CLUSTER_REFERENCE_APP",
        default_value = "bench/reference"
    )]
    pub reference_app: PathBuf,
    /// The model file the reference loads with joblib.
    #[arg(
        long,
        env = "FALCON_CLUSTER_REFERENCE_MODEL",
        default_value = "models/spam/1/model.joblib"
    )]
    pub reference_model: PathBuf,
    /// How long to wait for every worker to be ready.
    #[arg(long, env = "FALCON_CLUSTER_READY_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub ready_timeout: Duration,
}

/// One started process.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proc {
    pub name: String,
    pub pid: i32,
    pub port: u16,
    pub log: PathBuf,
}

/// The state file `cluster.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// Where clients send requests: nginx, or the only/first worker.
    pub url: String,
    pub workers: Vec<Proc>,
    pub nginx: Option<Proc>,
    /// prometheus-nginx-exporter reading nginx's stub_status.
    #[serde(default)]
    pub nginx_exporter: Option<Proc>,
    /// What the workers are: "falcon" or "reference".
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Target files outside the run directory that `up` wrote and `down`
    /// empties (so Prometheus stops scraping what is gone).
    #[serde(default)]
    pub target_files: Vec<PathBuf>,
    pub run_dir: PathBuf,
}

fn default_kind() -> String {
    "falcon".into()
}

impl State {
    fn path(run_dir: &Path) -> PathBuf {
        run_dir.join("cluster.json")
    }

    pub fn load(run_dir: &Path) -> anyhow::Result<Option<State>> {
        match fs::read(Self::path(run_dir)) {
            Ok(data) => Ok(Some(serde_json::from_slice(&data).context("cluster.json")?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).context("reading cluster.json"),
        }
    }

    fn save(&self) -> anyhow::Result<()> {
        fs::write(Self::path(&self.run_dir), serde_json::to_vec_pretty(self)?)
            .context("writing cluster.json")
    }

    /// The URL that answers 2xx when `p` is ready.
    pub fn probe_url(&self, p: &Proc) -> String {
        let path = if p.name == "nginx-exporter" {
            "/metrics"
        } else if self.kind == "reference" {
            "/healthz"
        } else {
            "/readyz"
        };
        format!("http://127.0.0.1:{}{path}", p.port)
    }

    /// Every process, nginx first (stop the front before the back).
    pub fn procs(&self) -> impl Iterator<Item = &Proc> {
        self.nginx
            .iter()
            .chain(self.nginx_exporter.iter())
            .chain(self.workers.iter())
    }
}

/// A cluster started by this process: the state plus the child handles, so
/// that stopping it also reaps the children (no zombies in `falcon tune`).
pub struct Cluster {
    pub state: State,
    children: Vec<Child>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A live process: exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match procfs::process::Process::new(pid).and_then(|p| p.stat()) {
        Ok(stat) => stat.state != 'Z' && stat.state != 'X',
        Err(_) => false,
    }
}

/// Whether `pid` is still the process we started (PIDs get reused).
fn is_ours(p: &Proc) -> bool {
    let Ok(cmd) = procfs::process::Process::new(p.pid).and_then(|x| x.cmdline()) else {
        return false;
    };
    let cmd = cmd.join(" ");
    cmd.contains(&format!(":{}", p.port)) || (p.name == "nginx" && cmd.contains("nginx"))
}

fn signal(pid: i32, sig: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

async fn http_ok(client: &falcon_loadgen::http::HttpClient, url: &str) -> bool {
    match falcon_loadgen::http::target_uri(url, "") {
        Ok(uri) => falcon_loadgen::http::get(client, uri, Duration::from_secs(2))
            .await
            .is_ok(),
        Err(_) => false,
    }
}

fn nginx_conf(
    args: &UpArgs,
    run_dir: &Path,
    port: u16,
    status_port: u16,
    upstreams: &[u16],
) -> String {
    let dir = run_dir.display();
    super::nginx::render(&super::nginx::NginxSite {
        header: vec![
            "Generated by `falcon cluster up --nginx`: the seed's nginx in front of".into(),
            "the workers, plus retries so that a dead worker costs retries, not errors.".into(),
        ],
        processes: args.nginx_processes,
        pid: format!("{dir}/nginx.pid"),
        error_log: format!("{dir}/nginx-error.log"),
        temp_dir: format!("{dir}/nginx-tmp"),
        listen: format!("127.0.0.1:{port}"),
        status_listen: format!("127.0.0.1:{status_port}"),
        status_allow: vec!["127.0.0.1".into()],
        upstreams: upstreams.iter().map(|p| format!("127.0.0.1:{p}")).collect(),
        read_timeout: super::nginx::DEFAULT_READ_TIMEOUT,
    })
}

/// Starts the cluster and waits until it serves.
pub async fn up(args: &UpArgs) -> anyhow::Result<Cluster> {
    if args.workers == 0 {
        bail!("--workers must be at least 1");
    }
    let run_dir = &args.dir.run_dir;
    if let Some(old) = State::load(run_dir)?
        && old.procs().any(|p| alive(p.pid) && is_ours(p))
    {
        bail!(
            "a cluster is already running from {} (falcon cluster down --run-dir {0})",
            run_dir.display()
        );
    }
    fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let run_dir = fs::canonicalize(run_dir)?;
    let exe = std::env::current_exe().context("locating the falcon executable")?;
    let mut cluster = Cluster {
        state: State {
            url: String::new(),
            workers: Vec::new(),
            nginx: None,
            nginx_exporter: None,
            kind: if args.reference {
                "reference".into()
            } else {
                default_kind()
            },
            target_files: Vec::new(),
            run_dir: run_dir.clone(),
        },
        children: Vec::new(),
    };
    let result = start_all(args, &run_dir, &exe, &mut cluster).await;
    if let Err(e) = result {
        stop(&mut cluster, Duration::from_secs(5));
        clear_targets(&cluster.state);
        return Err(e);
    }
    cluster.state.save()?;
    Ok(cluster)
}

/// Spawns `cmd` in its own process group with stdout/stderr to `log`.
fn spawn_logged(cmd: &mut Command, log: &Path, what: &str) -> anyhow::Result<Child> {
    let out = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    // Marks the process as this cluster's (what `ps e` / tests look for).
    if let Some(dir) = log.parent() {
        cmd.env("FALCON_CLUSTER_MEMBER_OF", dir);
    }
    std::os::unix::process::CommandExt::process_group(cmd, 0)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting {what} ({})", cmd.get_program().to_string_lossy()))
}

/// Waits until GET `url` answers 2xx, failing early if `p` exits.
async fn wait_ready(
    client: &falcon_loadgen::http::HttpClient,
    url: &str,
    p: &Proc,
    deadline: Instant,
    timeout: Duration,
) -> anyhow::Result<()> {
    loop {
        if http_ok(client, url).await {
            return Ok(());
        }
        if !alive(p.pid) {
            bail!("{} exited:\n{}", p.name, tail(&p.log, 20));
        }
        if Instant::now() > deadline {
            bail!(
                "{} not ready after {timeout:?} ({url}):\n{}",
                p.name,
                tail(&p.log, 20)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn write_targets(path: &Path, targets: &[String], run_dir: &Path) -> anyhow::Result<()> {
    let v = serde_json::json!([{
        "targets": targets,
        "labels": {"cluster": run_dir.display().to_string()},
    }]);
    fs::write(path, serde_json::to_vec_pretty(&v)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Empties the target files `up` registered outside the run directory.
fn clear_targets(state: &State) {
    for f in &state.target_files {
        let _ = fs::write(f, "[]\n");
    }
}

/// The `falcon serve` command of one worker: its address, the model
/// repository, extra serve arguments, and the environment it gets
/// (FALCON_WORKERS, FALCON_REDIS_URL, FALCON_DATABASE_URL).
fn worker_command(args: &UpArgs, exe: &Path, port: u16) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg("serve")
        .arg("--addr")
        .arg(format!("127.0.0.1:{port}"));
    if let Some(m) = &args.models {
        cmd.arg("--models").arg(m);
    }
    cmd.args(args.serve_args.iter().filter(|a| !a.is_empty()));
    if let Some(t) = args.threads_per_worker {
        cmd.env("FALCON_WORKERS", t.to_string());
    }
    if let Some(u) = &args.redis_url {
        cmd.env("FALCON_REDIS_URL", u);
    }
    if let Some(u) = &args.database_url {
        cmd.env("FALCON_DATABASE_URL", u);
    }
    // Our FALCON_ADDR etc. must not leak into the workers.
    cmd.env_remove("FALCON_ADDR");
    cmd
}

fn start_falcon_workers(
    args: &UpArgs,
    run_dir: &Path,
    exe: &Path,
    cluster: &mut Cluster,
) -> anyhow::Result<()> {
    for i in 1..=args.workers {
        let port = if args.base_port == 0 {
            free_port()?
        } else {
            args.base_port + (i as u16 - 1)
        };
        let log = run_dir.join(format!("worker-{i}.log"));
        let mut cmd = worker_command(args, exe, port);
        // The prediction log (SQLite by default) and its spools live in the
        // run directory, not in whatever directory `up` was called from —
        // unless the operator chose a data dir.
        if std::env::var_os("FALCON_DATA_DIR").is_none()
            && !args.serve_args.iter().any(|a| a.starts_with("--data-dir"))
        {
            cmd.env("FALCON_DATA_DIR", run_dir.join("data"));
        }
        let child = spawn_logged(&mut cmd, &log, "falcon serve")?;
        cluster.state.workers.push(Proc {
            name: format!("worker-{i}"),
            pid: child.id() as i32,
            port,
            log,
        });
        cluster.children.push(child);
    }
    Ok(())
}

/// The reference: one gunicorn master with `--workers` Uvicorn workers on
/// one port (the seed's deployment shape).
fn start_reference(args: &UpArgs, run_dir: &Path, cluster: &mut Cluster) -> anyhow::Result<()> {
    let app = fs::canonicalize(&args.reference_app)
        .with_context(|| format!("--reference-app {}", args.reference_app.display()))?;
    if !app.join("app.py").is_file() || !app.join("gunicorn.conf.py").is_file() {
        bail!(
            "--reference-app {}: no app.py / gunicorn.conf.py there",
            app.display()
        );
    }
    let model = fs::canonicalize(&args.reference_model)
        .with_context(|| format!("--reference-model {}", args.reference_model.display()))?;
    let check = Command::new(&args.reference_python)
        .args(["-c", "import fastapi, uvicorn, gunicorn, sklearn, joblib"])
        .output()
        .with_context(|| format!("running {}", args.reference_python.display()))?;
    if !check.status.success() {
        bail!(
            "{} lacks the reference's dependencies (pip install -r {}/requirements.txt):\n{}",
            args.reference_python.display(),
            args.reference_app.display(),
            String::from_utf8_lossy(&check.stderr).trim()
        );
    }
    let port = if args.base_port == 0 {
        free_port()?
    } else {
        args.base_port
    };
    let log = run_dir.join("reference.log");
    let mut cmd = Command::new(&args.reference_python);
    cmd.args(["-m", "gunicorn", "-c"])
        .arg(app.join("gunicorn.conf.py"))
        .arg("--chdir")
        .arg(&app)
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--workers")
        .arg(args.workers.to_string())
        .arg("app:app")
        .env("FALCON_REF_MODEL", &model);
    let child = spawn_logged(&mut cmd, &log, "gunicorn")?;
    cluster.state.workers.push(Proc {
        name: "gunicorn".into(),
        pid: child.id() as i32,
        port,
        log,
    });
    cluster.children.push(child);
    Ok(())
}

async fn start_all(
    args: &UpArgs,
    run_dir: &Path,
    exe: &Path,
    cluster: &mut Cluster,
) -> anyhow::Result<()> {
    let ready_path = if args.reference {
        start_reference(args, run_dir, cluster)?;
        "/healthz"
    } else {
        start_falcon_workers(args, run_dir, exe, cluster)?;
        "/readyz"
    };
    cluster.state.url = format!("http://127.0.0.1:{}", cluster.state.workers[0].port);
    // Save early so that `down` can clean up even if readiness fails.
    cluster.state.save()?;
    let client = falcon_loadgen::http::client(4);
    let deadline = Instant::now() + args.ready_timeout;
    for w in &cluster.state.workers {
        let url = format!("http://127.0.0.1:{}{ready_path}", w.port);
        wait_ready(&client, &url, w, deadline, args.ready_timeout).await?;
    }
    // Only Falcon exports /metrics; the reference is measured from /proc.
    if !args.reference {
        let targets: Vec<String> = cluster
            .state
            .workers
            .iter()
            .map(|w| format!("127.0.0.1:{}", w.port))
            .collect();
        write_targets(&run_dir.join("prometheus-targets.json"), &targets, run_dir)?;
        if let Some(p) = &args.prometheus_targets {
            write_targets(p, &targets, run_dir)?;
            cluster.state.target_files.push(p.clone());
        }
    }
    if args.nginx {
        start_nginx(args, run_dir, cluster, &client, deadline, ready_path).await?;
    }
    Ok(())
}

async fn start_nginx(
    args: &UpArgs,
    run_dir: &Path,
    cluster: &mut Cluster,
    client: &falcon_loadgen::http::HttpClient,
    deadline: Instant,
    ready_path: &str,
) -> anyhow::Result<()> {
    let port = if args.nginx_port == 0 {
        free_port()?
    } else {
        args.nginx_port
    };
    let status_port = free_port()?;
    fs::create_dir_all(run_dir.join("nginx-tmp"))?;
    let conf = run_dir.join("nginx.conf");
    let upstreams: Vec<u16> = cluster.state.workers.iter().map(|w| w.port).collect();
    fs::write(
        &conf,
        nginx_conf(args, run_dir, port, status_port, &upstreams),
    )?;
    let check = Command::new(&args.nginx_bin)
        .arg("-t")
        .arg("-q")
        .arg("-p")
        .arg(run_dir)
        .arg("-c")
        .arg(&conf)
        .output()
        .with_context(|| {
            format!(
                "running {} (apt-get install nginx)",
                args.nginx_bin.display()
            )
        })?;
    if !check.status.success() {
        bail!(
            "nginx -t rejected {}:\n{}",
            conf.display(),
            String::from_utf8_lossy(&check.stderr)
        );
    }
    let log = run_dir.join("nginx.log");
    let mut cmd = Command::new(&args.nginx_bin);
    cmd.arg("-p")
        .arg(run_dir)
        .arg("-c")
        .arg(&conf)
        .arg("-g")
        .arg("daemon off;");
    let child = spawn_logged(&mut cmd, &log, "nginx")?;
    let proc = Proc {
        name: "nginx".into(),
        pid: child.id() as i32,
        port,
        log: run_dir.join("nginx-error.log"),
    };
    cluster.children.push(child);
    cluster.state.url = format!("http://127.0.0.1:{port}");
    cluster.state.nginx = Some(proc.clone());
    cluster.state.save()?;
    let url = format!("http://127.0.0.1:{port}{ready_path}");
    wait_ready(client, &url, &proc, deadline, args.ready_timeout).await?;
    if args.no_nginx_exporter {
        return Ok(());
    }
    let installed = Command::new(&args.nginx_exporter_bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        eprintln!(
            "note: {} not found: no nginx metrics (apt-get install prometheus-nginx-exporter, or --no-nginx-exporter)",
            args.nginx_exporter_bin.display()
        );
        return Ok(());
    }
    let exporter_port = free_port()?;
    let log = run_dir.join("nginx-exporter.log");
    let mut cmd = Command::new(&args.nginx_exporter_bin);
    cmd.arg(format!(
        "--nginx.scrape-uri=http://127.0.0.1:{status_port}/stub_status"
    ))
    .arg(format!("--web.listen-address=127.0.0.1:{exporter_port}"))
    .arg("--nginx.retries=10")
    .arg("--nginx.retry-interval=200ms");
    let child = spawn_logged(&mut cmd, &log, "prometheus-nginx-exporter")?;
    let exporter = Proc {
        name: "nginx-exporter".into(),
        pid: child.id() as i32,
        port: exporter_port,
        log,
    };
    cluster.children.push(child);
    cluster.state.nginx_exporter = Some(exporter.clone());
    cluster.state.save()?;
    let url = format!("http://127.0.0.1:{exporter_port}/metrics");
    wait_ready(client, &url, &exporter, deadline, args.ready_timeout).await?;
    let target = [format!("127.0.0.1:{exporter_port}")];
    write_targets(
        &run_dir.join("prometheus-nginx-targets.json"),
        &target,
        run_dir,
    )?;
    if let Some(p) = &args.prometheus_nginx_targets {
        write_targets(p, &target, run_dir)?;
        cluster.state.target_files.push(p.clone());
    }
    Ok(())
}

/// SIGTERM to every process (nginx first), SIGKILL to whatever is left
/// after `grace`, then reap our own children.
fn stop(cluster: &mut Cluster, grace: Duration) -> Vec<String> {
    let report = stop_state(&cluster.state, grace);
    for child in &mut cluster.children {
        let _ = child.wait();
    }
    cluster.children.clear();
    report
}

fn stop_state(state: &State, grace: Duration) -> Vec<String> {
    let mut report = Vec::new();
    let ours: Vec<&Proc> = state
        .procs()
        .filter(|p| alive(p.pid) && is_ours(p))
        .collect();
    for p in &ours {
        signal(p.pid, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + grace;
    for p in &ours {
        while alive(p.pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(p.pid) {
            signal(p.pid, rustix::process::Signal::KILL);
            report.push(format!("{} (pid {}) killed after {grace:?}", p.name, p.pid));
        } else {
            report.push(format!("{} (pid {}) stopped", p.name, p.pid));
        }
    }
    report
}

/// Stops a cluster this process started and removes its state file.
pub fn down(mut cluster: Cluster) -> anyhow::Result<Vec<String>> {
    let report = stop(&mut cluster, Duration::from_secs(30));
    clear_targets(&cluster.state);
    let _ = fs::remove_file(State::path(&cluster.state.run_dir));
    Ok(report)
}

async fn status(dir: &DirArgs) -> anyhow::Result<ExitCode> {
    let Some(state) = State::load(&dir.run_dir)? else {
        println!("no cluster in {}", dir.run_dir.display());
        return Ok(ExitCode::from(3));
    };
    let client = falcon_loadgen::http::client(4);
    println!("url: {}", state.url);
    println!(
        "{:<14} {:>8} {:>6}  {:<6} {:<6}",
        "name", "pid", "port", "alive", "ready"
    );
    let mut healthy = true;
    for p in state.procs() {
        let live = alive(p.pid) && is_ours(p);
        let ready = live && http_ok(&client, &state.probe_url(p)).await;
        healthy &= ready;
        println!(
            "{:<14} {:>8} {:>6}  {:<6} {:<6}",
            p.name,
            p.pid,
            p.port,
            if live { "yes" } else { "no" },
            if ready { "yes" } else { "no" }
        );
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

pub fn run(cmd: ClusterCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ClusterCommand::NginxConf(args) => super::nginx::run(&args),
        ClusterCommand::Up(args) => {
            let cluster = runtime()?.block_on(up(&args))?;
            // The workers outlive this command; `down` stops them.
            let state = cluster.state.clone();
            drop(cluster);
            println!("cluster up: {}", state.url);
            for p in state.procs() {
                println!(
                    "  {:<14} pid {:<8} 127.0.0.1:{:<6} log {}",
                    p.name,
                    p.pid,
                    p.port,
                    p.log.display()
                );
            }
            println!("state: {}", State::path(&state.run_dir).display());
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Down(dir) => {
            let Some(state) = State::load(&dir.run_dir)? else {
                println!("no cluster in {}", dir.run_dir.display());
                return Ok(ExitCode::SUCCESS);
            };
            for line in stop_state(&state, Duration::from_secs(30)) {
                println!("{line}");
            }
            if state.procs().any(|p| alive(p.pid) && is_ours(p)) {
                bail!("some processes survived SIGKILL");
            }
            clear_targets(&state);
            fs::remove_file(State::path(&state.run_dir)).context("removing cluster.json")?;
            println!("cluster down");
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Status(dir) => runtime()?.block_on(status(&dir)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: ClusterCommand,
    }

    fn up_args(argv: &[&str]) -> UpArgs {
        let mut full = vec!["cluster", "up"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().cmd {
            ClusterCommand::Up(a) => *a,
            _ => unreachable!(),
        }
    }

    fn env_of(cmd: &Command, key: &str) -> Option<Option<String>> {
        cmd.get_envs()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
    }

    #[test]
    fn workers_get_the_redis_and_database_urls() {
        let args = up_args(&[
            "--redis-url",
            "redis://127.0.0.1:6379/",
            "--database-url",
            "postgres://u@127.0.0.1:5432/db",
            "--threads-per-worker",
            "2",
            "--serve-arg=--cache-bytes=0",
        ]);
        let cmd = worker_command(&args, Path::new("/bin/falcon"), 8123);
        assert_eq!(
            env_of(&cmd, "FALCON_REDIS_URL"),
            Some(Some("redis://127.0.0.1:6379/".into()))
        );
        assert_eq!(
            env_of(&cmd, "FALCON_DATABASE_URL"),
            Some(Some("postgres://u@127.0.0.1:5432/db".into()))
        );
        assert_eq!(env_of(&cmd, "FALCON_WORKERS"), Some(Some("2".into())));
        assert_eq!(env_of(&cmd, "FALCON_ADDR"), Some(None), "removed");
        let argv: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            argv,
            ["serve", "--addr", "127.0.0.1:8123", "--cache-bytes=0"]
        );
        // Without the flags, nothing is set.
        let cmd = worker_command(&up_args(&[]), Path::new("/bin/falcon"), 1);
        assert_eq!(env_of(&cmd, "FALCON_REDIS_URL"), None);
        assert_eq!(env_of(&cmd, "FALCON_DATABASE_URL"), None);
    }

    #[test]
    fn nginx_conf_keeps_stub_status_off_the_public_port() {
        let args = up_args(&["--nginx"]);
        let conf = nginx_conf(&args, Path::new("/run/c"), 8080, 9099, &[8001, 8002]);
        let public = &conf[conf.find("listen 127.0.0.1:8080;").unwrap()..];
        assert!(!public.contains("stub_status"), "{conf}");
        let status = &conf[conf.find("listen 127.0.0.1:9099;").unwrap()
            ..conf.find("listen 127.0.0.1:8080;").unwrap()];
        assert!(
            status.contains("stub_status;") && status.contains("deny all;"),
            "{conf}"
        );
        assert!(conf.contains("server 127.0.0.1:8001 ") && conf.contains("server 127.0.0.1:8002 "));
    }

    #[test]
    fn nginx_conf_subcommand_parses() {
        let cli = Cli::try_parse_from([
            "cluster",
            "nginx-conf",
            "--listen",
            "10.0.1.3:8080",
            "--upstream",
            "10.0.1.11:8000,10.0.1.12:8000",
            "--read-timeout",
            "1500ms",
        ])
        .unwrap();
        let ClusterCommand::NginxConf(a) = cli.cmd else {
            unreachable!()
        };
        assert_eq!(a.upstreams, ["10.0.1.11:8000", "10.0.1.12:8000"]);
        assert_eq!(a.read_timeout, Duration::from_millis(1500));
        // `cluster up` keeps its loopback layout and 30 s read timeout.
        let up = nginx_conf(&up_args(&[]), Path::new("/r"), 8080, 9099, &[8001]);
        assert!(up.contains("proxy_read_timeout 30s;") && up.contains("listen 127.0.0.1:8080;"));
    }
}
