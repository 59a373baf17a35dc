//! Server settings (process-wide) and per-model settings (`config.toml`).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Every knob of the server. The CLI fills it from flags/env; tests build it
/// with struct update syntax over [`ServerConfig::default`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Root of the model repository: `<root>/<name>/<version>/model.joblib`.
    pub models_dir: PathBuf,
    /// NLTK's data directory, for models whose `config.toml` declares text
    /// code that reads it (`nltk.word_tokenize`, `WordNetLemmatizer`,
    /// NLTK stop words). Never downloaded.
    pub nltk_data: Option<PathBuf>,
    /// Model served by `POST /predict`; `None` = the only model, if there is
    /// exactly one.
    pub default_model: Option<String>,
    /// Largest accepted request body; larger → 413 before it is read whole.
    pub max_body_bytes: usize,
    /// Most texts in one request (`texts` or an OIP tensor); more → 413.
    pub max_batch: usize,
    /// Most requests inside the inference section at once. Beyond it a
    /// request is answered 503 at once: there is no queue to grow.
    pub max_concurrency: usize,
    /// Most open TCP connections; beyond it new connections are closed at
    /// accept, so idle or slow clients cannot exhaust memory or descriptors.
    pub max_connections: usize,
    /// Deadline of a whole request (reading the body included) → 504.
    pub request_timeout: Duration,
    /// Deadline for a client to send the request line and headers; it also
    /// closes keep-alive connections idle this long (hyper starts the timer
    /// whenever it waits for a request head).
    pub header_timeout: Duration,
    /// How long shutdown waits for in-flight requests before giving up.
    pub drain_timeout: Duration,
    /// `Retry-After` sent with 503.
    pub retry_after: Duration,
    /// Prediction cache capacity in bytes (0 disables the cache).
    pub cache_bytes: u64,
    /// Default lifetime of a cache entry (a model's `config.toml` may
    /// override it).
    pub cache_ttl: Duration,
    /// Texts up to this many bytes are predicted inline on the async worker
    /// (a few tens of µs: cheaper than a thread hop); longer ones go to the
    /// blocking pool, so a long e-mail (the demo model's p99 is ~5 ms) never
    /// stalls the cache hits and probes multiplexed on the same worker. See
    /// docs/ARCHITECTURE.md, "Server", for the measurements.
    pub inline_max_bytes: usize,
    /// Largest `explain=K`.
    pub max_explain: usize,
    /// Whether the OIP model-repository API (`POST /v2/repository/index`,
    /// `.../models/{name}/load`, `.../unload`) is routed. `false` removes the
    /// three routes: they answer 404 `route_not_found` like any unknown path
    /// (rather than 403, so a scanner learns nothing about what is
    /// deployed). Why: on an address others can reach and without API keys,
    /// these routes let anyone load and unload models; turning them off is
    /// one of the two safe ways to expose a server (the other is
    /// `--auth required`, where they need an admin key). Models still load
    /// at start-up and on SIGHUP.
    pub repository_routes: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            models_dir: PathBuf::from("models"),
            nltk_data: None,
            default_model: None,
            max_body_bytes: 2 << 20,
            max_batch: 256,
            max_concurrency: 512,
            max_connections: 10_000,
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            retry_after: Duration::from_secs(1),
            cache_bytes: 4 << 20,
            cache_ttl: Duration::from_secs(300),
            inline_max_bytes: 2 << 10,
            max_explain: 1000,
            repository_routes: true,
        }
    }
}

/// `DIR/<name>/config.toml`: optional; every field optional.
///
/// ```toml
/// default_version = 1      # else the highest version
/// cache_ttl = "10m"        # or seconds as a number; 0 disables caching
/// max_batch = 64           # tighter than the server's --max-batch
/// # A model saved in pieces: these files of each version directory,
/// # chained in this order (else <version>/model.joblib or model.pkl).
/// files = ["vectorizer.joblib", "classifier.joblib"]
///
/// [labels]                 # rename classes (keys: Python's str(class))
/// 0 = "ham"
/// 1 = "spam"
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelSettings {
    pub default_version: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub cache_ttl: Option<Duration>,
    pub max_batch: Option<usize>,
    /// The files of a model saved in several pieces, relative to each
    /// version directory, in chain order (see [`validate_model_files`]).
    pub files: Option<Vec<String>>,
    /// Class renaming applied to every output (see
    /// `falcon_engine::Model::rename_classes`).
    pub labels: Option<BTreeMap<String, String>>,
    /// Declarations of the user's own text code the model's pickle names
    /// (`[callables."module.name"]`, see `falcon_engine::custom`).
    pub callables: Option<toml::Value>,
    /// A text → text step applied to every input before the model
    /// (`[preprocess]`, see `falcon_engine::custom`).
    pub preprocess: Option<toml::Value>,
}

impl ModelSettings {
    /// The declarations as canonical TOML (`None` without any): compiled
    /// at each load, and compared so an edit reloads the model.
    pub fn code_source(&self) -> Option<String> {
        if self.callables.is_none() && self.preprocess.is_none() {
            return None;
        }
        let mut t = toml::Table::new();
        if let Some(c) = &self.callables {
            t.insert("callables".into(), c.clone());
        }
        if let Some(p) = &self.preprocess {
            t.insert("preprocess".into(), p.clone());
        }
        Some(toml::to_string(&t).unwrap_or_default())
    }
}

/// Most files one model may be split into: a chain is a vectorizer, a few
/// transforms and a classifier; more is a mistake, not a model.
pub const MAX_MODEL_FILES: usize = 16;

impl ModelSettings {
    /// Parses and validates `config.toml`'s text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let s: ModelSettings = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(files) = &s.files {
            validate_model_files(files)?;
        }
        Ok(s)
    }
}

/// Checks `files = [...]`: between 1 and [`MAX_MODEL_FILES`] plain
/// relative paths, none absolute, none with `..`, none twice. Why: the
/// list is joined to a version directory, and a config that could name
/// `/etc/passwd` or `../../other-model/1/x.joblib` would let whoever writes
/// a config read files outside the model it describes. The check is on the
/// text of the path (a symlink the operator put in the version directory
/// is followed).
pub fn validate_model_files(files: &[String]) -> Result<(), String> {
    if files.is_empty() {
        return Err("files: the list is empty (name the model's files in chain order)".into());
    }
    if files.len() > MAX_MODEL_FILES {
        return Err(format!(
            "files: {} files; a model is at most {MAX_MODEL_FILES}",
            files.len()
        ));
    }
    for (i, f) in files.iter().enumerate() {
        let path = Path::new(f);
        if f.is_empty() {
            return Err("files: an empty file name".into());
        }
        if path.is_absolute() || f.starts_with('/') || f.starts_with('\\') {
            return Err(format!(
                "files: {f:?} is an absolute path; name files relative to the version directory"
            ));
        }
        for c in path.components() {
            match c {
                Component::Normal(_) | Component::CurDir => {}
                Component::ParentDir => {
                    return Err(format!(
                        "files: {f:?} leaves the version directory (`..` is not allowed)"
                    ));
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(format!(
                        "files: {f:?} is an absolute path; name files relative to the version directory"
                    ));
                }
            }
        }
        if files[..i].contains(f) {
            return Err(format!("files: {f:?} is listed twice"));
        }
    }
    Ok(())
}

/// Reads a class renaming from a file: JSON (`{"0": "ham", "1": "spam"}`)
/// when it ends in `.json`, TOML otherwise, either the top-level table
/// (`0 = "ham"`) or the `[labels]` table of a model's `config.toml` (so
/// `falcon predict --labels models/spam/config.toml` uses what the server
/// uses).
pub fn read_labels_file(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let at = |e: String| format!("{}: {e}", path.display());
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return serde_json::from_str(&text).map_err(|e| {
            at(format!(
                "expected a JSON object of class -> name strings: {e}"
            ))
        });
    }
    let table: toml::Table = toml::from_str(&text).map_err(|e| at(e.to_string()))?;
    let table = match table.get("labels") {
        Some(toml::Value::Table(t)) => t.clone(),
        Some(other) => {
            return Err(at(format!("labels is a {}, not a table", other.type_str())));
        }
        None if path.file_name().is_some_and(|n| n == "config.toml") => {
            return Err(at("has no [labels] table".into()));
        }
        None => table,
    };
    table
        .into_iter()
        .map(|(k, v)| match v {
            toml::Value::String(s) => Ok((k, s)),
            other => Err(at(format!(
                "class {k:?} is renamed to a {}, not a string",
                other.type_str()
            ))),
        })
        .collect()
}

fn de_opt_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(f64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Secs(s)) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(Raw::Secs(s)) => Err(serde::de::Error::custom(format!("invalid duration {s}"))),
        Some(Raw::Text(t)) => parse_duration(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Parses `250ms`, `10s`, `5m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (expected e.g. 500ms, 10s, 5m)"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("invalid duration unit {other:?} in {s:?}")),
    };
    let secs = n * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("duration out of range: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `64MiB`, `512k`, `1G`, `1000` (bytes). Binary multiples.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?} (expected e.g. 64MiB, 512KiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("invalid size unit {other:?} in {s:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size out of range: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("512k").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("0").unwrap(), 0);
        assert!(parse_bytes("1X").is_err());
        assert!(parse_bytes("99999999999999G").is_err());
    }

    #[test]
    fn model_settings() {
        let s: ModelSettings =
            toml::from_str("default_version = 2\ncache_ttl = \"10m\"\nmax_batch = 8").unwrap();
        assert_eq!(s.default_version, Some(2));
        assert_eq!(s.cache_ttl, Some(Duration::from_secs(600)));
        assert_eq!(s.max_batch, Some(8));
        let s: ModelSettings = toml::from_str("cache_ttl = 30").unwrap();
        assert_eq!(s.cache_ttl, Some(Duration::from_secs(30)));
        assert!(toml::from_str::<ModelSettings>("cache_ttl = \"x\"").is_err());
    }

    #[test]
    fn model_files_and_labels() {
        let s = ModelSettings::from_toml(
            "files = [\"vectorizer.joblib\", \"sub/classifier.joblib\"]\n[labels]\n0 = \"ham\"\n1 = \"spam\"",
        )
        .unwrap();
        assert_eq!(
            s.files.unwrap(),
            ["vectorizer.joblib", "sub/classifier.joblib"]
        );
        let labels = s.labels.unwrap();
        assert_eq!(labels["0"], "ham");
        assert_eq!(labels["1"], "spam");
        for (bad, why) in [
            ("files = []", "empty"),
            ("files = [\"/etc/passwd\"]", "absolute"),
            ("files = [\"../2/model.joblib\"]", "`..`"),
            ("files = [\"a/../../x\"]", "`..`"),
            ("files = [\"a\", \"a\"]", "twice"),
            ("files = [\"\"]", "empty"),
        ] {
            let e = ModelSettings::from_toml(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = ModelSettings::from_toml("[labels]\n0 = 1").unwrap_err();
        assert!(e.contains("string"), "{e}");
    }

    #[test]
    fn labels_files() {
        let dir = std::env::temp_dir().join(format!("falcon-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("l.json");
        std::fs::write(&json, r#"{"0": "ham", "1": "spam"}"#).unwrap();
        assert_eq!(read_labels_file(&json).unwrap()["1"], "spam");
        let toml = dir.join("config.toml");
        std::fs::write(&toml, "default_version = 1\n[labels]\n0 = \"ham\"\n").unwrap();
        assert_eq!(read_labels_file(&toml).unwrap().len(), 1);
        let flat = dir.join("labels.toml");
        std::fs::write(&flat, "0 = \"ham\"\n1 = \"spam\"\n").unwrap();
        assert_eq!(read_labels_file(&flat).unwrap().len(), 2);
        std::fs::write(&flat, "0 = 3\n").unwrap();
        assert!(
            read_labels_file(&flat)
                .unwrap_err()
                .contains("not a string")
        );
        std::fs::write(&json, r#"["ham"]"#).unwrap();
        assert!(read_labels_file(&json).unwrap_err().contains("JSON object"));
        assert!(read_labels_file(&dir.join("missing.toml")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
