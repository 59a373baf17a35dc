//! `falcon log stats|export`: read the prediction log (SQLite in the data
//! dir by default, Postgres with `--database-url`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use falcon_log::store::{self, Filter};
use falcon_log::{Database, DbOptions, PredictionRecord, format_rfc3339, hex, redact_url};

/// Where the log (and the API keys) live; shared by `falcon log` and
/// `falcon keys`, and the same flags `falcon serve` reads.
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// Postgres URL (`postgres://user:pass@host/db`); default: the SQLite
    /// file `<data-dir>/falcon.db`. A `sqlite:PATH` URL is accepted too.
    #[arg(
        long,
        env = "FALCON_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Directory for the SQLite database and the log spool.
    #[arg(
        long,
        env = "FALCON_DATA_DIR",
        default_value = "data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// Postgres connection pool size.
    #[arg(long, env = "FALCON_DATABASE_POOL", default_value_t = 20)]
    pub database_pool: usize,
}

impl DbArgs {
    /// The database, for messages: URL with the password redacted, or the
    /// SQLite path.
    pub fn describe(&self) -> String {
        match &self.database_url {
            Some(url) => redact_url(url),
            None => falcon_log::default_sqlite_path(&self.data_dir)
                .display()
                .to_string(),
        }
    }

    /// Connects (the URL is redacted in any error).
    pub async fn connect(&self) -> Result<Database> {
        let opts = DbOptions {
            pool_size: self.database_pool,
            ..DbOptions::default()
        };
        match &self.database_url {
            Some(url) => Database::connect(url, &opts)
                .await
                .with_context(|| format!("connecting to {}", redact_url(url))),
            None => {
                let path = falcon_log::default_sqlite_path(&self.data_dir);
                Database::open_sqlite(&path)
                    .await
                    .with_context(|| format!("opening {}", path.display()))
            }
        }
    }
}

impl DbArgs {
    /// [`DbArgs::connect`] for `falcon serve`, where a database problem must
    /// never prevent start-up: a SQLite file that cannot be opened now
    /// (locked by another worker past the busy timeout, a full disk) is
    /// opened at first use instead, and the log spools until then — the
    /// same path a Postgres server that is down at start-up takes. An
    /// invalid URL is still an error.
    pub async fn connect_or_defer(&self) -> Result<Database> {
        let sqlite_path = match &self.database_url {
            None => Some(falcon_log::default_sqlite_path(&self.data_dir)),
            Some(url) => url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .map(PathBuf::from),
        };
        match (self.connect().await, sqlite_path) {
            (Ok(db), _) => Ok(db),
            (Err(e), Some(path)) => {
                tracing::warn!(
                    error = super::error_text(&e),
                    "the SQLite database cannot be opened now; starting anyway, it is retried at first use (rows are spooled until then)"
                );
                Ok(Database::sqlite_deferred(
                    &path,
                    DbOptions::default().sqlite_busy_timeout,
                ))
            }
            (Err(e), None) => Err(e),
        }
    }
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Counts per model/version/label, cache hit rate, latency percentiles.
    /// A multi-label or multi-output prediction counts once for each label
    /// it lists; `share` is the share of predictions with that label.
    Stats(StatsArgs),
    /// Write logged predictions as JSON Lines or CSV (e.g. for retraining).
    Export(ExportArgs),
}

#[derive(Args)]
pub struct StatsArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Only predictions from this long ago until now (`30m`, `1h`, `7d`);
    /// default: all.
    #[arg(long, env = "FALCON_STATS_SINCE", value_parser = parse_age, value_name = "AGE")]
    since: Option<Duration>,
    /// Only this model.
    #[arg(long, env = "FALCON_STATS_MODEL", value_name = "NAME")]
    model: Option<String>,
    /// Output format.
    #[arg(long, env = "FALCON_STATS_FORMAT", value_enum, default_value = "text")]
    format: StatsFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum StatsFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Only predictions from this long ago until now (`30m`, `1h`, `7d`);
    /// default: all.
    #[arg(long, env = "FALCON_EXPORT_SINCE", value_parser = parse_age, value_name = "AGE")]
    since: Option<Duration>,
    /// Only this model.
    #[arg(long, env = "FALCON_EXPORT_MODEL", value_name = "NAME")]
    model: Option<String>,
    /// Output format.
    #[arg(
        long,
        env = "FALCON_EXPORT_FORMAT",
        value_enum,
        default_value = "jsonl"
    )]
    format: ExportFormat,
    /// Write here instead of stdout.
    #[arg(long, short, env = "FALCON_EXPORT_OUTPUT", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Jsonl,
    Csv,
}

/// `30s`, `15m`, `1h`, `7d`, `2w` (a number alone is seconds).
pub fn parse_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid age {s:?} (expected e.g. 30m, 1h, 7d)"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        other => return Err(format!("invalid unit {other:?} in {s:?} (s, m, h, d, w)")),
    };
    n.checked_mul(scale)
        .filter(|&secs| secs <= 100 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("age out of range: {s:?}"))
}

fn filter(since: Option<Duration>, model: Option<String>) -> Filter {
    Filter {
        since: since.map(|d| SystemTime::now() - d),
        until: None,
        model,
    }
}

pub fn run(cmd: LogCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cmd {
            LogCommand::Stats(a) => stats(a, &mut std::io::stdout().lock()).await,
            LogCommand::Export(a) => export(a).await,
        }
    })
}

async fn stats(a: StatsArgs, out: &mut impl Write) -> Result<ExitCode> {
    let db = a.db.connect().await?;
    db.migrate(store::MIGRATIONS)
        .await
        .with_context(|| format!("preparing the log schema in {}", a.db.describe()))?;
    let s = store::summary(&db, &filter(a.since, a.model))
        .await
        .context("querying the prediction log")?;
    match a.format {
        StatsFormat::Json => {
            let mut v = serde_json::to_value(&s)?;
            v["cache_hit_rate"] = s.cache_hit_rate().into();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        StatsFormat::Text => {
            writeln!(out, "predictions: {}", s.total)?;
            if s.total == 0 {
                return Ok(ExitCode::SUCCESS);
            }
            writeln!(
                out,
                "cache hit rate: {:.1}% (memory {}, redis {}, miss {})",
                100.0 * s.cache_hit_rate(),
                s.cache_memory,
                s.cache_redis,
                s.cache_miss
            )?;
            if let Some(l) = s.latency_us {
                writeln!(
                    out,
                    "latency (µs): p50 {}  p90 {}  p95 {}  p99 {}  max {}",
                    l.p50, l.p90, l.p95, l.p99, l.max
                )?;
            }
            let w = |f: fn(&falcon_log::store::LabelCount) -> usize, min: usize| {
                s.by_label.iter().map(f).max().unwrap_or(0).max(min)
            };
            let (wm, wv, wl) = (
                w(|c| c.model.chars().count(), 5),
                w(|c| c.version.chars().count(), 7),
                w(|c| c.label.chars().count(), 5),
            );
            writeln!(out)?;
            writeln!(
                out,
                "{:wm$}  {:wv$}  {:wl$}  {:>10}  {:>6}",
                "model", "version", "label", "count", "share"
            )?;
            for c in &s.by_label {
                writeln!(
                    out,
                    "{:wm$}  {:wv$}  {:wl$}  {:>10}  {:>5.1}%",
                    c.model,
                    c.version,
                    c.label,
                    c.count,
                    100.0 * c.count as f64 / s.total as f64
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(a: ExportArgs) -> Result<ExitCode> {
    let db = a.db.connect().await?;
    db.migrate(store::MIGRATIONS)
        .await
        .with_context(|| format!("preparing the log schema in {}", a.db.describe()))?;
    let f = filter(a.since, a.model);
    let sink: Box<dyn Write> = match &a.output {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::new(sink);
    if let ExportFormat::Csv = a.format {
        writeln!(out, "{}", CSV_HEADER.join(","))?;
    }
    let mut cursor = None;
    let mut n = 0u64;
    loop {
        let (page, next) = store::export_page(&db, &f, cursor.as_ref(), 5_000)
            .await
            .context("reading the prediction log")?;
        for r in &page {
            match a.format {
                ExportFormat::Jsonl => {
                    writeln!(out, "{}", serde_json::to_string(&export_json(r))?)?
                }
                ExportFormat::Csv => writeln!(out, "{}", csv_row(r))?,
            }
        }
        n += page.len() as u64;
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.flush()?;
    eprintln!("exported {n} predictions");
    Ok(ExitCode::SUCCESS)
}

const CSV_HEADER: [&str; 13] = [
    "request_id",
    "item",
    "timestamp",
    "model",
    "version",
    "label",
    "scores",
    "latency_us",
    "cache",
    "api_key_id",
    "text_sha256",
    "text_len",
    "text",
];

fn export_json(r: &PredictionRecord) -> serde_json::Value {
    serde_json::json!({
        "request_id": r.request_id,
        "item": r.item,
        "timestamp": format_rfc3339(r.ts_micros),
        "model": r.model,
        "version": r.version,
        "label": r.label,
        "scores": r.scores_json(),
        "latency_us": r.latency_us,
        "cache": r.cache.as_str(),
        "api_key_id": r.api_key_id,
        "text_sha256": hex(&r.text_sha256),
        "text_len": r.text_len,
        "text": r.text,
    })
}

/// RFC 4180: quote a field when it holds a comma, quote, CR or LF; double
/// the quotes inside.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv_row(r: &PredictionRecord) -> String {
    [
        csv_field(&r.request_id),
        r.item.to_string(),
        format_rfc3339(r.ts_micros),
        csv_field(&r.model),
        csv_field(&r.version),
        csv_field(&r.label),
        csv_field(&r.scores_json().to_string()),
        r.latency_us.to_string(),
        r.cache.as_str().to_owned(),
        csv_field(r.api_key_id.as_deref().unwrap_or("")),
        hex(&r.text_sha256),
        r.text_len.to_string(),
        csv_field(r.text.as_deref().unwrap_or("")),
    ]
    .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_args(dir: &std::path::Path) -> DbArgs {
        DbArgs {
            database_url: None,
            data_dir: dir.to_owned(),
            database_pool: 2,
        }
    }

    async fn seed(dir: &std::path::Path) {
        let db = db_args(dir).connect().await.unwrap();
        let mut cfg = falcon_log::LogConfig::new(dir);
        cfg.log_text = true;
        let w = falcon_log::LogWriter::start(db, cfg).await.unwrap();
        let log = w.handle();
        for i in 0..10u32 {
            let text = if i == 3 {
                "a \"quoted\", text\nwith newline"
            } else {
                "plain"
            };
            log.log(
                PredictionRecord::new(
                    format!("r{i}"),
                    0,
                    if i < 7 { "spam" } else { "news" },
                    "1",
                    if i % 2 == 0 { "ham" } else { "spam" },
                    vec![falcon_log::Score {
                        class: "ham".into(),
                        score: 0.5,
                    }],
                    Duration::from_micros(u64::from(i) * 10),
                    falcon_log::CacheTier::Memory,
                    None,
                    text,
                )
                .with_text(text),
            );
        }
        assert_eq!(w.shutdown().await.unwrap().written, 10);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stats_and_export_from_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        seed(dir.path()).await;

        let mut out = Vec::new();
        let a = StatsArgs {
            db: db_args(dir.path()),
            since: Some(Duration::from_secs(3600)),
            model: Some("spam".into()),
            format: StatsFormat::Json,
        };
        stats(a, &mut out).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["total"], 7);
        assert_eq!(v["cache_hit_rate"], 1.0);
        assert_eq!(v["latency_us"]["max"], 60);

        let mut out = Vec::new();
        let a = StatsArgs {
            db: db_args(dir.path()),
            since: None,
            model: None,
            format: StatsFormat::Text,
        };
        stats(a, &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("predictions: 10\n"), "{text}");
        assert!(text.contains("cache hit rate: 100.0%"), "{text}");

        for format in [ExportFormat::Jsonl, ExportFormat::Csv] {
            let file = dir.path().join("out");
            let a = ExportArgs {
                db: db_args(dir.path()),
                since: Some(Duration::from_secs(3600)),
                model: None,
                format,
                output: Some(file.clone()),
            };
            export(a).await.unwrap();
            let body = std::fs::read_to_string(&file).unwrap();
            match format {
                ExportFormat::Jsonl => {
                    let rows: Vec<serde_json::Value> = body
                        .lines()
                        .map(|l| serde_json::from_str(l).unwrap())
                        .collect();
                    assert_eq!(rows.len(), 10);
                    assert_eq!(rows[3]["text"], "a \"quoted\", text\nwith newline");
                    assert_eq!(rows[3]["scores"]["ham"], 0.5);
                    assert_eq!(rows[0]["text_sha256"].as_str().unwrap().len(), 64);
                }
                ExportFormat::Csv => {
                    assert!(body.starts_with("request_id,item,timestamp,"));
                    assert!(
                        body.contains(",\"a \"\"quoted\"\", text\nwith newline\"\n"),
                        "{body}"
                    );
                    assert!(body.contains(",\"{\"\"ham\"\":0.5}\","), "{body}");
                }
            }
        }
        // A window that excludes everything.
        let mut out = Vec::new();
        let a = StatsArgs {
            db: db_args(dir.path()),
            since: None,
            model: Some("nope".into()),
            format: StatsFormat::Text,
        };
        stats(a, &mut out).await.unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "predictions: 0\n");
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_age("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_age("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert!(parse_age("1y").is_err());
        assert!(parse_age("h").is_err());
        assert!(parse_age("99999999999999w").is_err());
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
    }
}
