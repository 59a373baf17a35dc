//! `falcon serve`: the process around the `falcon_server` library — flags
//! (each also a `FALCON_*` environment variable), logging, the tokio
//! runtime, signals (SIGTERM/SIGINT drain and exit 0; SIGHUP rescans the
//! model repository), and the shared state plugged into the server's ports
//! (`crate::wiring`): the prediction log (`--data-dir`, `--database-url`,
//! `--no-log`, `--log-text`, `--spool-max-bytes`), the Redis cache tier and
//! rate-limit buckets (`--redis-url`, `--redis-prefix`, `--redis-pool`,
//! `--redis-timeout`) and API keys (`--auth off|required`,
//! `--auth-refresh`). Flags, headers and metrics are listed in
//! `crates/falcon_server/README.md`.
//!
//! Shutdown order: stop accepting → drain HTTP → flush the prediction log
//! (to the database, else the spool) → exit 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use anyhow::Context;
use falcon_auth::{Authenticator, KeyStore, LocalRateLimiter};
use falcon_log::{LogConfig, LogWriter};
use falcon_redis::{RedisCache, RedisConn, RedisOptions, RedisRateLimiter, redact};
use falcon_server::{AppState, Ports, ServerConfig, Stopped, parse_bytes, parse_duration};

use super::log::DbArgs;
use crate::wiring::auth::{KeyGate, Limiter};
use crate::wiring::log_sink::LogSink;
use crate::wiring::redis_tier::RedisTier;

/// Whether requests need an API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Every request is served (the default).
    Off,
    /// `Authorization: Bearer <key>` on every route but health, readiness,
    /// metrics and the API docs; admin keys for the repository API.
    Required,
}

/// Whether the OIP model-repository API is routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Spool files workers sharing one `--data-dir` can take (one each).
const SPOOL_SLOTS: usize = 64;

fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

fn redis_prefix(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 128 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("expected 1-128 printable ASCII characters without spaces".into());
    }
    Ok(s.to_owned())
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Model repository: DIR/<name>/<version>/model.joblib (or .pkl), optional
    /// DIR/<name>/config.toml. Default: the bundled `models/`.
    #[arg(long, env = "FALCON_MODELS", value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port; the log says which).
    #[arg(long, env = "FALCON_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// NLTK's data directory (as `python -m nltk.downloader -d DIR` fills it)
    /// for models whose config.toml declares text code that reads it
    /// (`nltk.word_tokenize`, `WordNetLemmatizer`, NLTK stop words). Never
    /// downloaded.
    #[arg(long, env = "FALCON_NLTK_DATA", value_name = "DIR")]
    pub nltk_data: Option<PathBuf>,
    /// Model served by `POST /predict` (default: the only model).
    #[arg(long, env = "FALCON_DEFAULT_MODEL", value_name = "NAME")]
    pub default_model: Option<String>,
    /// Largest request body (413 beyond), e.g. 2MiB.
    #[arg(long, env = "FALCON_MAX_BODY_BYTES", default_value = "2MiB", value_parser = parse_bytes)]
    pub max_body_bytes: u64,
    /// Most texts per request (413 beyond).
    #[arg(long, env = "FALCON_MAX_BATCH", default_value_t = 256)]
    pub max_batch: usize,
    /// Most requests inferring at once; beyond, 503 + Retry-After at once.
    #[arg(long, env = "FALCON_MAX_CONCURRENCY", default_value_t = 512)]
    pub max_concurrency: usize,
    /// Most open connections; beyond, new connections are closed.
    #[arg(long, env = "FALCON_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Deadline of a whole request, body included (504 beyond).
    #[arg(long, env = "FALCON_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Deadline for a client to send its request headers (also the idle
    /// timeout of keep-alive connections).
    #[arg(long, env = "FALCON_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    #[arg(long, env = "FALCON_DRAIN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Prediction cache size in bytes (0 disables the cache). Counted
    /// against resident memory: each entry keeps its text (5.5 KB for the
    /// demo's mean e-mail), so the default holds ~700 of them — the
    /// resident set stays under 40 MB after saturation with the demo model
    /// (41.5 MB with 8 MiB).
    #[arg(long, env = "FALCON_CACHE_BYTES", default_value = "4MiB", value_parser = parse_bytes)]
    pub cache_bytes: u64,
    /// Lifetime of a cached prediction (a model's config.toml may override).
    #[arg(long, env = "FALCON_CACHE_TTL", default_value = "5m", value_parser = parse_duration)]
    pub cache_ttl: Duration,
    /// Texts up to this size are predicted inline on the async workers;
    /// longer ones on the blocking pool.
    #[arg(long, env = "FALCON_INLINE_MAX_BYTES", default_value = "2KiB", value_parser = parse_bytes)]
    pub inline_max_bytes: u64,
    /// Async worker threads (default: one per core).
    #[arg(long, env = "FALCON_WORKERS")]
    pub workers: Option<usize>,
    /// How often freed heap pages are given back to the OS (glibc's
    /// `malloc_trim`, off the request path); 0 disables. Under load the
    /// allocator's per-thread arenas keep pages that requests freed — the
    /// 5 KB bodies and cache entries — resident: ~4 MB of the demo's ~40 MB.
    /// A trim takes 0.2–2 ms under load, on the blocking pool.
    #[arg(long, env = "FALCON_TRIM_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub trim_interval: Duration,
    /// Threads of the blocking pool that runs long texts and model loads
    /// (default: two per core; its queue is bounded by --max-concurrency).
    #[arg(long, env = "FALCON_BLOCKING_THREADS")]
    pub blocking_threads: Option<usize>,
    /// Log format.
    #[arg(long, env = "FALCON_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log filter (`info`, `debug` for one line per request, or a tracing
    /// directive such as `falcon_server=debug`).
    #[arg(long, env = "FALCON_LOG", default_value = "info")]
    pub log: String,

    /// Where predictions are logged and API keys are read: `--data-dir`,
    /// `--database-url`, `--database-pool` (the same flags as `falcon keys`
    /// and `falcon log`).
    #[command(flatten)]
    pub db: DbArgs,
    /// Do not log predictions (no database is opened unless `--auth
    /// required`).
    #[arg(long, env = "FALCON_NO_LOG", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub no_log: bool,
    /// Also store each request text in the log (default: only its SHA-256
    /// and length).
    #[arg(long, env = "FALCON_LOG_TEXT", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub log_text: bool,
    /// Largest spool file (rows kept on disk while the database is down;
    /// newer rows are dropped and counted beyond).
    #[arg(long, env = "FALCON_SPOOL_MAX_BYTES", default_value = "1GiB", value_parser = parse_bytes)]
    pub spool_max_bytes: u64,
    /// Redis as a shared second cache tier (memory → Redis → model) and
    /// home of the rate-limit buckets: `redis://[:password@]host:port[/db]`.
    #[arg(
        long,
        env = "FALCON_REDIS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub redis_url: Option<String>,
    /// Namespace of every Redis key (several deployments can share one
    /// Redis).
    #[arg(long, env = "FALCON_REDIS_PREFIX", default_value = "falcon", value_parser = redis_prefix)]
    pub redis_prefix: String,
    /// Multiplexed Redis connections per process.
    #[arg(long, env = "FALCON_REDIS_POOL", default_value_t = 50,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub redis_pool: u16,
    /// Time budget of one Redis operation; beyond it the operation counts
    /// as an error and the request proceeds without Redis.
    #[arg(long, env = "FALCON_REDIS_TIMEOUT", default_value = "5ms", value_parser = positive_duration)]
    pub redis_timeout: Duration,
    /// `required`: every route except health, readiness, metrics and docs
    /// needs `Authorization: Bearer <key>` (`falcon keys create`).
    #[arg(long, env = "FALCON_AUTH", value_enum, default_value = "off")]
    pub auth: AuthMode,
    /// How often API keys are re-read from the database: new keys and
    /// revocations take effect within this delay.
    #[arg(long, env = "FALCON_AUTH_REFRESH", default_value = "5s", value_parser = positive_duration)]
    pub auth_refresh: Duration,
    /// `off` removes the OIP model-repository routes (`/v2/repository/index`,
    /// `.../models/{name}/load`, `.../unload`): they answer 404 like any
    /// unknown path. Models still load at start-up and on SIGHUP.
    #[arg(
        long,
        env = "FALCON_REPOSITORY_ROUTES",
        value_enum,
        default_value = "on"
    )]
    pub repository_routes: Switch,
    /// Start even when listening on a non-loopback address with `--auth off`
    /// and the repository routes on, i.e. when anyone who reaches the port
    /// can load and unload models (logged as a warning at start-up).
    #[arg(long, env = "FALCON_ALLOW_OPEN_REPOSITORY", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_open_repository: bool,
}

/// Whether only this machine can connect to `ip`: 127.0.0.0/8, ::1, and
/// an IPv4-mapped loopback (`::ffff:127.0.0.1`). The unspecified addresses
/// (0.0.0.0, ::) listen on every interface, so they are *not* loopback.
pub fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// What `serve` does about who can reach the repository API.
#[derive(Debug, PartialEq, Eq)]
pub enum Exposure {
    /// Loopback, or API keys required (admin keys for the repository
    /// routes): nothing to say.
    Guarded,
    /// Open prediction on a reachable address, repository routes off.
    OpenPredictionOnly,
    /// Reachable, no keys, repository routes on, overridden with
    /// `--allow-open-repository`: start with a loud warning.
    OpenRepositoryAllowed,
    /// The same without the override: refuse to start.
    OpenRepositoryRefused,
}

/// The bind guard. Why: the default (127.0.0.1, `--auth off`) is fine on a
/// laptop, but a container must listen on every interface, and then anyone
/// who reaches the port could load and unload models through
/// `/v2/repository/*`. Every way to expose the server must therefore be a
/// decision: keys, no repository routes, or an explicit override.
pub fn exposure(addr: SocketAddr, auth: AuthMode, repository: Switch, allow: bool) -> Exposure {
    if is_loopback(addr.ip()) || auth == AuthMode::Required {
        Exposure::Guarded
    } else if repository == Switch::Off {
        Exposure::OpenPredictionOnly
    } else if allow {
        Exposure::OpenRepositoryAllowed
    } else {
        Exposure::OpenRepositoryRefused
    }
}

/// Applies [`exposure`]: an error to refuse, else the start-up log line.
fn check_exposure(args: &ServeArgs) -> anyhow::Result<()> {
    let addr = args.addr;
    match exposure(
        addr,
        args.auth,
        args.repository_routes,
        args.allow_open_repository,
    ) {
        Exposure::Guarded => {}
        Exposure::OpenPredictionOnly => tracing::info!(
            %addr,
            "listening on a non-loopback address without API keys: prediction is open to anyone who reaches it; the repository routes are off"
        ),
        Exposure::OpenRepositoryAllowed => tracing::warn!(
            %addr,
            "--allow-open-repository: listening on a non-loopback address with --auth off and the repository routes on — ANYONE WHO REACHES THIS PORT CAN LOAD AND UNLOAD MODELS"
        ),
        Exposure::OpenRepositoryRefused => anyhow::bail!(
            "refusing to listen on {addr} (not a loopback address) with --auth off and the repository routes on: anyone who reaches it could load and unload models through /v2/repository/*. \
             Either require API keys (--auth required, with an admin key from `falcon keys create --admin`), \
             or turn the repository routes off (--repository-routes off), \
             or start anyway with --allow-open-repository"
        ),
    }
    Ok(())
}

/// `models/` of the working directory, else the repository's bundled
/// `models/` (so `cargo run -- serve` works from anywhere in the checkout).
fn default_models_dir() -> PathBuf {
    let local = PathBuf::from("models");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"))
}

fn init_logging(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("invalid --log filter {filter:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot initialise logging: {e}"))
}

/// glibc gives each thread that contends for the allocator its own arena
/// (up to 8 per core) and rarely returns their free memory: under load the
/// server's resident memory grew from 33 MB to 60 MB, of which ~20 MB was
/// arena slack. One arena keeps it at ~39 MB with the cache full, at no
/// measurable throughput cost (small allocations use per-thread caches).
/// The variable is read when the process starts, so it is set by
/// re-executing this same binary (same PID, same arguments) unless the
/// operator set it already.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe().context("locating the falcon binary")?;
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", "1")
        .exec();
    Err(err).context("re-executing with MALLOC_ARENA_MAX=1")
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() -> anyhow::Result<()> {
    Ok(())
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    limit_malloc_arenas()?;
    init_logging(args.log_format, &args.log)?;
    check_exposure(&args)?;
    let models_dir = args.models.clone().unwrap_or_else(default_models_dir);
    anyhow::ensure!(
        models_dir.is_dir(),
        "model repository {} is not a directory",
        models_dir.display()
    );
    let config = ServerConfig {
        models_dir,
        nltk_data: args.nltk_data.clone(),
        default_model: args.default_model.clone(),
        max_body_bytes: usize::try_from(args.max_body_bytes).context("--max-body-bytes")?,
        max_batch: args.max_batch,
        max_concurrency: args.max_concurrency,
        max_connections: args.max_connections,
        request_timeout: args.request_timeout,
        header_timeout: args.header_timeout,
        drain_timeout: args.drain_timeout,
        cache_bytes: args.cache_bytes,
        cache_ttl: args.cache_ttl,
        inline_max_bytes: usize::try_from(args.inline_max_bytes).context("--inline-max-bytes")?,
        repository_routes: args.repository_routes == Switch::On,
        ..ServerConfig::default()
    };
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        // Long texts and model loads. A few threads per core: enough to keep
        // the cores busy while one waits, few enough not to thrash them.
        .max_blocking_threads(args.blocking_threads.unwrap_or(2 * workers).max(1))
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(serve(args, config))
}

/// The running shared-state pieces `serve` must stop in order.
#[derive(Default)]
struct Shared {
    ports: Ports,
    log: Option<LogWriter>,
    refresh: Option<tokio::task::JoinHandle<()>>,
}

/// Connects the shared state the flags ask for. Redis being unreachable
/// does not prevent start-up (it is a miss until it answers); nor does the
/// log database (rows are spooled); the key store must be readable with
/// `--auth required`, else no request could ever be admitted.
async fn shared_state(args: &ServeArgs, cache_ttl: Duration) -> anyhow::Result<Shared> {
    anyhow::ensure!(
        !(args.no_log && args.log_text),
        "--log-text needs the prediction log: it cannot be combined with --no-log"
    );
    let mut shared = Shared::default();
    let redis = match &args.redis_url {
        None => None,
        Some(url) => {
            let mut opts = RedisOptions::new(url.clone());
            opts.pool_size = usize::from(args.redis_pool);
            opts.timeout = args.redis_timeout;
            let conn = RedisConn::connect(opts)
                .await
                .with_context(|| format!("--redis-url {}", redact(url)))?;
            let cache = RedisCache::with_conn(conn.clone(), &args.redis_prefix, cache_ttl);
            tracing::info!(
                url = %redact(url),
                prefix = %args.redis_prefix,
                connected = conn.connected(),
                "redis cache tier enabled"
            );
            shared.ports.shared_tier = Some(Arc::new(RedisTier::new(cache)));
            Some(conn)
        }
    };
    let needs_db = !args.no_log || args.auth == AuthMode::Required;
    let db = if needs_db {
        Some(args.db.connect_or_defer().await?)
    } else {
        None
    };
    if let (false, Some(db)) = (args.no_log, &db) {
        let mut config = LogConfig::new(&args.db.data_dir);
        config.log_text = args.log_text;
        config.spool_max_bytes = args.spool_max_bytes;
        config.spool_slots = SPOOL_SLOTS;
        let writer = LogWriter::start(db.clone(), config)
            .await
            .with_context(|| format!("starting the prediction log in {}", args.db.describe()))?;
        tracing::info!(
            database = %args.db.describe(),
            log_text = args.log_text,
            "prediction log enabled"
        );
        shared.ports.sink = Some(Arc::new(LogSink::new(writer.handle())));
        shared.log = Some(writer);
    }
    if let (AuthMode::Required, Some(db)) = (args.auth, db) {
        let store = KeyStore::open(db).await.with_context(|| {
            format!(
                "--auth required: opening the API keys in {}",
                args.db.describe()
            )
        })?;
        let keys = store.list().await.with_context(|| {
            format!(
                "--auth required: reading the API keys in {}",
                args.db.describe()
            )
        })?;
        let active = keys.iter().filter(|k| k.revoked_at.is_none()).count();
        if active == 0 {
            tracing::warn!(
                "--auth required but no active API key exists: every request will get 401 until one is created (falcon keys create)"
            );
        }
        let auth = Arc::new(Authenticator::new(keys));
        shared.refresh = Some(auth.spawn_refresh(store, args.auth_refresh));
        let limiter = match redis {
            Some(conn) => Limiter::Redis(RedisRateLimiter::new(conn, &args.redis_prefix)),
            None => Limiter::Local(LocalRateLimiter::new()),
        };
        tracing::info!(active_keys = active, refresh = ?args.auth_refresh, "API keys required");
        shared.ports.gatekeeper = Some(Arc::new(KeyGate::new(auth, limiter)));
    }
    Ok(shared)
}

async fn serve(args: ServeArgs, config: ServerConfig) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{SignalKind, signal};
    let addr = args.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(
        models = %config.models_dir.display(),
        cache_bytes = config.cache_bytes,
        max_concurrency = config.max_concurrency,
        "falcon serve starting"
    );
    let mut shared = shared_state(&args, config.cache_ttl).await?;
    let state = AppState::with_config_and_ports(config, std::mem::take(&mut shared.ports));
    // Loading builds large temporary trees; once the repository is ready,
    // give their freed pages back to the OS (see `crate::memory`).
    // Then, every --trim-interval, what load freed since.
    let loading = state.clone();
    let trim_interval = args.trim_interval;
    tokio::spawn(async move {
        while !loading.repo().is_ready() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = tokio::task::spawn_blocking(crate::memory::release_freed).await;
        if trim_interval.is_zero() {
            return;
        }
        let mut tick = tokio::time::interval(trim_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let took = tokio::task::spawn_blocking(|| {
                let t = std::time::Instant::now();
                crate::memory::release_freed();
                t.elapsed()
            })
            .await;
            if let Ok(took) = took {
                tracing::debug!(
                    us = took.as_micros() as u64,
                    "freed heap pages returned to the OS"
                );
            }
        }
    });
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let reloader = state.clone();
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: rescanning the model repository");
            let result = reloader.reload().await;
            let _ = tokio::task::spawn_blocking(crate::memory::release_freed).await;
            match result {
                Ok(0) => tracing::info!("rescan done"),
                Ok(n) => tracing::error!(
                    failed = n,
                    "rescan done; failed models keep their previous load"
                ),
                Err(e) => tracing::error!(error = %e, "rescan failed"),
            }
        }
    });
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    };
    match falcon_server::run(listener, shutdown, state).await? {
        Stopped::Drained => {}
        Stopped::DrainTimedOut { open_connections } => {
            tracing::warn!(open_connections, "exiting with requests still in flight");
        }
    }
    if let Some(refresh) = shared.refresh.take() {
        refresh.abort();
    }
    if let Some(writer) = shared.log.take() {
        let stats = writer
            .shutdown()
            .await
            .context("flushing the prediction log")?;
        tracing::info!(
            written = stats.written,
            spooled = stats.spooled,
            dropped = stats.dropped(),
            spool_bytes = stats.spool_bytes,
            "prediction log flushed"
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_addresses() {
        for a in [
            "127.0.0.1:8000",
            "127.1.2.3:0",
            "127.255.255.254:1",
            "[::1]:8000",
            "[::ffff:127.0.0.1]:8000",
        ] {
            assert!(is_loopback(addr(a).ip()), "{a}");
        }
        for a in [
            "0.0.0.0:8000",
            "[::]:8000",
            "10.0.0.5:8000",
            "192.168.1.2:80",
            "128.0.0.1:80",
            "126.255.255.255:80",
            "[fe80::1]:8000",
            "[::ffff:10.0.0.1]:8000",
            "[::ffff:0.0.0.0]:8000",
            "[::2]:8000",
        ] {
            assert!(!is_loopback(addr(a).ip()), "{a}");
        }
    }

    #[test]
    fn exposure_table() {
        use AuthMode::{Off, Required};
        use Exposure::*;
        let lo = addr("127.0.0.1:8000");
        let any = addr("0.0.0.0:8000");
        let any6 = addr("[::]:8000");
        assert_eq!(exposure(lo, Off, Switch::On, false), Guarded);
        assert_eq!(exposure(any, Required, Switch::On, false), Guarded);
        assert_eq!(exposure(any6, Required, Switch::Off, true), Guarded);
        assert_eq!(exposure(any, Off, Switch::Off, false), OpenPredictionOnly);
        assert_eq!(exposure(any, Off, Switch::On, true), OpenRepositoryAllowed);
        assert_eq!(exposure(any, Off, Switch::On, false), OpenRepositoryRefused);
        assert_eq!(
            exposure(any6, Off, Switch::On, false),
            OpenRepositoryRefused
        );
    }
}
