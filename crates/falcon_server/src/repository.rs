//! The model repository: `DIR/<name>/<version>/model.joblib|model.pkl`,
//! optional `DIR/<name>/config.toml`. A model saved in pieces names its
//! files there (`files = ["vectorizer.joblib", "classifier.joblib"]`,
//! relative to each version directory, chained in order), and `[labels]`
//! renames its classes in every output.
//!
//! Serving reads an immutable [`Snapshot`] through an [`ArcSwap`]: a lookup
//! is one atomic load, never a lock. Changes (startup, `SIGHUP`, the OIP
//! repository API) build a new snapshot off the request path — load,
//! validate, warm on the blocking pool — and swap it in atomically.
//! Requests already holding an `Arc<LoadedModel>` finish on the old model,
//! which is freed when the last of them drops it. A failed load never
//! replaces what is serving.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use falcon_engine::{Input, Label, Model, Output, OutputKind, Prediction, Resources, TextCode};
use prometheus::{Histogram, IntCounter};

use crate::config::ModelSettings;
use crate::error::ServerError;
use crate::metrics::Metrics;

/// Model file names looked for in a version directory, in order.
pub const MODEL_FILES: &[&str] = &["model.joblib", "model.pkl"];

/// Texts predicted once after loading, before a model is served: they
/// exercise the tokenizer, vocabulary and classifier so the first real
/// request pays no first-touch cost, and prove the model answers.
const WARMUP_TEXTS: &[&str] = &[
    "",
    "warm up",
    "Subject: meeting tomorrow\n\nHi, can we move our meeting to 3pm? Thanks, Ann",
    "FREE!!! Click here to claim your $1000 prize now: http://example.com/win",
];

/// Process-unique id of one load of one model version, so the cache can
/// never answer from a previous load of the same name and version.
static NEXT_UID: AtomicU64 = AtomicU64::new(1);

/// Identity of a model file on disk; a rescan reloads a version only when
/// this changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    pub path: PathBuf,
    pub len: u64,
    pub modified: Option<SystemTime>,
}

/// What one loaded version was built from: its files (in chain order) and
/// the class renaming of `config.toml`. A rescan reloads a version when any
/// of it changed, so editing `files` or `[labels]` and sending `SIGHUP`
/// takes effect like replacing a file does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub files: Vec<FileStamp>,
    /// The files' names relative to the version directory, for metadata
    /// (the server's own paths are not exposed).
    pub names: Vec<String>,
    pub labels: Option<BTreeMap<String, String>>,
    /// The declarations of the user's text code (canonical TOML, see
    /// `ModelSettings::code_source`): a change reloads the version.
    pub code: Option<String>,
}

impl Source {
    /// [`FileStamp::fingerprint`] of every file, in order, and of the
    /// renaming: the shared cache tier keys entries by it, so neither a
    /// replaced file nor a re-chained model answers from old entries.
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        if let [only] = self.files.as_slice()
            && self.labels.is_none()
            && self.code.is_none()
        {
            // One file, no renaming: the fingerprint a single-file model
            // always had, so upgrading workers share the tier's entries.
            return only.fingerprint();
        }
        for f in &self.files {
            eat(&f.fingerprint().to_le_bytes());
            // The name too: swapping two files' roles changes the model.
            eat(f.path.as_os_str().as_encoded_bytes());
        }
        if let Some(code) = &self.code {
            eat(b"code");
            eat(&(code.len() as u64).to_le_bytes());
            eat(code.as_bytes());
        }
        if let Some(labels) = &self.labels {
            for (k, v) in labels {
                eat(&(k.len() as u64).to_le_bytes());
                eat(k.as_bytes());
                eat(&(v.len() as u64).to_le_bytes());
                eat(v.as_bytes());
            }
        }
        h
    }
}

/// Triton-style per-model counters (the statistics extension).
#[derive(Default)]
pub struct ModelStats {
    pub success_count: AtomicU64,
    pub success_ns: AtomicU64,
    pub fail_count: AtomicU64,
    pub fail_ns: AtomicU64,
    pub queue_ns: AtomicU64,
    pub compute_count: AtomicU64,
    pub compute_ns: AtomicU64,
    pub cache_hit_count: AtomicU64,
    pub cache_hit_ns: AtomicU64,
    pub cache_miss_count: AtomicU64,
    pub cache_miss_ns: AtomicU64,
    /// Texts predicted (a batch counts each text).
    pub inference_count: AtomicU64,
    /// Requests executed.
    pub execution_count: AtomicU64,
    /// Milliseconds since the epoch of the last inference.
    pub last_inference_ms: AtomicU64,
}

/// One version of one model, loaded and warmed.
pub struct LoadedModel {
    pub uid: u64,
    pub name: Arc<str>,
    pub version: u64,
    /// `version` as text, for labels and responses.
    pub version_str: Arc<str>,
    pub model: Model,
    /// [`Model::output_kind`], and [`Model::output_classes`] owned, so
    /// checking a shared-tier entry and logging allocate nothing.
    pub output_kind: OutputKind,
    pub output_classes: Vec<Vec<Label>>,
    /// `str(class)` of each of [`Model::classes`], shared with every log
    /// row that names one (see [`crate::PredictionEvent::request_id`]).
    pub class_names: Vec<Arc<str>>,
    pub source: Source,
    pub stats: ModelStats,
    /// Metric handles resolved once, so the hot path does no label lookup.
    pub inference_hist: Histogram,
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
    /// `inference_cache_tier_hits_total{tier="memory"}` and the shared tier.
    pub memory_hits: IntCounter,
    pub shared_hits: IntCounter,
    /// `<version>@<fingerprint of the file>`: the version as a shared cache
    /// tier keys it, so a replaced model file never answers from entries
    /// of its predecessor (in this worker or any other).
    pub cache_version: Arc<str>,
    pub load_ms: f64,
}

impl FileStamp {
    /// A cheap, deterministic fingerprint of the file: FNV-1a over its
    /// length and modification time (what a rescan already compares).
    /// Every worker reading the same file computes the same value.
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(&self.len.to_le_bytes());
        if let Some(d) = self
            .modified
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        {
            eat(&d.as_secs().to_le_bytes());
            eat(&d.subsec_nanos().to_le_bytes());
        }
        h
    }
}

/// Every served version of one model.
pub struct ModelEntry {
    pub name: Arc<str>,
    pub versions: BTreeMap<u64, Arc<LoadedModel>>,
    pub default_version: u64,
    pub settings: ModelSettings,
}

impl ModelEntry {
    pub fn default(&self) -> &Arc<LoadedModel> {
        &self.versions[&self.default_version]
    }
}

/// The state of one repository model, for `POST /v2/repository/index`.
#[derive(Debug, Clone)]
pub struct ModelStatus {
    /// `READY`, `LOADING`, `UNAVAILABLE`.
    pub state: &'static str,
    /// Why it is unavailable (load error, unloaded).
    pub reason: String,
}

/// What serving sees: immutable, replaced whole.
#[derive(Default)]
pub struct Snapshot {
    pub models: BTreeMap<String, Arc<ModelEntry>>,
    /// Every model of the repository, served or not, and why not.
    pub status: BTreeMap<String, ModelStatus>,
}

pub struct Repository {
    root: PathBuf,
    snapshot: ArcSwap<Snapshot>,
    /// Serialises changes (startup load, SIGHUP rescan, load/unload API) so
    /// two never build snapshots from the same base and lose one's update.
    /// Held across the blocking load; readers never touch it.
    write: tokio::sync::Mutex<()>,
    /// True once the startup scan loaded every model it found.
    ready: AtomicBool,
    metrics: Arc<Metrics>,
    /// NLTK's data, for models that declare text code reading it.
    nltk_data: Option<PathBuf>,
}

impl Repository {
    pub fn new(root: PathBuf, metrics: Arc<Metrics>) -> Self {
        Repository {
            root,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            write: tokio::sync::Mutex::new(()),
            ready: AtomicBool::new(false),
            metrics,
            nltk_data: None,
        }
    }

    /// Where declared text code reads NLTK's data (`--nltk-data`).
    pub fn with_nltk_data(mut self, dir: Option<PathBuf>) -> Self {
        self.nltk_data = dir;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The current snapshot: one atomic load, no lock.
    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.snapshot.load()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Scans the repository and (re)loads every model whose files changed;
    /// models gone from disk stop being served. Used at startup and on
    /// `SIGHUP`. Returns the number of models that failed to load. The
    /// first call that leaves every model loaded sets readiness.
    pub async fn reload_all(&self) -> Result<usize, ServerError> {
        let _w = self.write.lock().await;
        let root = self.root.clone();
        let names = tokio::task::spawn_blocking(move || scan(&root))
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))?
            .map_err(|e| ServerError::Internal(format!("scanning {}: {e}", self.root.display())))?;
        let current = self.snapshot.load_full();
        let mut next = Snapshot::default();
        let mut failures = 0;
        for name in names {
            let previous = current.models.get(&name).cloned();
            match self.load_entry(&name, previous.clone()).await {
                Ok(entry) => {
                    next.status.insert(name.clone(), ready_status());
                    next.models.insert(name, Arc::new(entry));
                }
                Err(reason) => {
                    failures += 1;
                    next.status.insert(
                        name.clone(),
                        ModelStatus {
                            state: "UNAVAILABLE",
                            reason: reason.clone(),
                        },
                    );
                    if let Some(prev) = previous {
                        next.status.insert(
                            name.clone(),
                            ModelStatus {
                                state: "READY",
                                reason: format!(
                                    "reload failed, still serving the previous load: {reason}"
                                ),
                            },
                        );
                        next.models.insert(name, prev);
                    }
                }
            }
        }
        self.publish(&current, next);
        if failures == 0 {
            self.ready.store(true, Ordering::Release);
        }
        Ok(failures)
    }

    /// OIP repository `load`: (re)loads one model from disk. On failure the
    /// previous load keeps serving and the error is returned.
    pub async fn load(&self, name: &str) -> Result<(), ServerError> {
        if !valid_name(name) {
            return Err(ServerError::Invalid(format!("invalid model name {name:?}")));
        }
        let _w = self.write.lock().await;
        if !self.root.join(name).is_dir() {
            return Err(ServerError::ModelNotFound(name.to_string()));
        }
        let current = self.snapshot.load_full();
        let previous = current.models.get(name).cloned();
        // A load request reloads from disk, even for unchanged files.
        let result = self.load_entry(name, None).await;
        let mut next = clone_snapshot(&current);
        match result {
            Ok(entry) => {
                next.status.insert(name.to_string(), ready_status());
                next.models.insert(name.to_string(), Arc::new(entry));
                self.publish(&current, next);
                Ok(())
            }
            Err(reason) => {
                let state = if previous.is_some() {
                    "READY"
                } else {
                    "UNAVAILABLE"
                };
                next.status.insert(
                    name.to_string(),
                    ModelStatus {
                        state,
                        reason: reason.clone(),
                    },
                );
                self.publish(&current, next);
                Err(ServerError::LoadFailed {
                    name: name.to_string(),
                    reason,
                })
            }
        }
    }

    /// OIP repository `unload`: stops serving a model. In-flight requests
    /// finish on it.
    pub async fn unload(&self, name: &str) -> Result<(), ServerError> {
        let _w = self.write.lock().await;
        let current = self.snapshot.load_full();
        if !current.models.contains_key(name) && !current.status.contains_key(name) {
            return Err(ServerError::ModelNotFound(name.to_string()));
        }
        let mut next = clone_snapshot(&current);
        next.models.remove(name);
        next.status.insert(
            name.to_string(),
            ModelStatus {
                state: "UNAVAILABLE",
                reason: "unloaded".to_string(),
            },
        );
        self.publish(&current, next);
        tracing::info!(model = name, "model unloaded");
        Ok(())
    }

    /// Swaps `next` in and updates `model_info`.
    fn publish(&self, current: &Snapshot, next: Snapshot) {
        for (name, entry) in &current.models {
            for v in entry.versions.values() {
                let still = next
                    .models
                    .get(name)
                    .is_some_and(|e| e.versions.contains_key(&v.version));
                if !still {
                    let _ = self
                        .metrics
                        .model_info
                        .remove_label_values(&[name.as_str(), &*v.version_str]);
                }
            }
        }
        for (name, entry) in &next.models {
            for v in entry.versions.values() {
                self.metrics
                    .model_info
                    .with_label_values(&[name.as_str(), &v.version_str])
                    .set(1);
            }
        }
        self.snapshot.store(Arc::new(next));
    }

    /// Loads every version of `name`, reusing versions of `previous` whose
    /// file did not change. All or nothing: any failing version fails the
    /// model, so a half-updated model is never served.
    async fn load_entry(
        &self,
        name: &str,
        previous: Option<Arc<ModelEntry>>,
    ) -> Result<ModelEntry, String> {
        let dir = self.root.join(name);
        let name_owned: Arc<str> = Arc::from(name);
        let metrics = self.metrics.clone();
        let nltk_data = self.nltk_data.clone();
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            load_entry_blocking(&dir, name_owned, previous.as_deref(), &metrics, nltk_data)
        })
        .await
        .unwrap_or_else(|e| Err(format!("loader panicked: {e}")));
        match &result {
            Ok(entry) => tracing::info!(
                model = name,
                versions = ?entry.versions.keys().collect::<Vec<_>>(),
                default_version = entry.default_version,
                elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                "model loaded"
            ),
            Err(reason) => {
                self.metrics
                    .model_loads
                    .with_label_values(&["failure"])
                    .inc();
                tracing::error!(model = name, %reason, "model load failed");
            }
        }
        result
    }
}

fn ready_status() -> ModelStatus {
    ModelStatus {
        state: "READY",
        reason: String::new(),
    }
}

fn clone_snapshot(s: &Snapshot) -> Snapshot {
    Snapshot {
        models: s.models.clone(),
        status: s.status.clone(),
    }
}

/// Model names are path segments: keep them plain so `../` or a URL-special
/// character can never name something outside the repository.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Names of the model directories under `root`: those holding at least one
/// numeric version directory with a `model.joblib`/`model.pkl`, or a
/// `config.toml` and a numeric version directory (a model saved in
/// pieces: whether its files are there is the load's business, which
/// names what is missing).
pub fn scan(root: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !entry.path().is_dir() || !valid_name(&name) {
            continue;
        }
        let has_config = entry.path().join("config.toml").is_file();
        if !version_dirs(&entry.path(), None).is_empty()
            || (has_config && !numeric_dirs(&entry.path()).is_empty())
        {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The numeric subdirectories of a model directory, as `(version, dir)`.
fn numeric_dirs(dir: &Path) -> Vec<(u64, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let Some(v) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if entry.path().is_dir() {
            out.push((v, entry.path()));
        }
    }
    out.sort();
    out
}

/// `(version, model files)` for each version of a model. Without `files`
/// in `config.toml`: each numeric subdirectory holding a `model.joblib` or
/// `model.pkl`. With it: every numeric subdirectory, with the files it
/// names (validated by [`crate::config::validate_model_files`]; a missing
/// one is the load's error, so a version is never silently skipped).
fn version_dirs(dir: &Path, files: Option<&[String]>) -> Vec<(u64, PathBuf, Vec<PathBuf>)> {
    let mut out = Vec::new();
    for (v, vdir) in numeric_dirs(dir) {
        match files {
            Some(files) => {
                let paths = files.iter().map(|f| vdir.join(f)).collect();
                out.push((v, vdir, paths));
            }
            None => {
                if let Some(file) = MODEL_FILES
                    .iter()
                    .map(|f| vdir.join(f))
                    .find(|p| p.is_file())
                {
                    out.push((v, vdir, vec![file]));
                }
            }
        }
    }
    out
}

fn stamp(path: &Path) -> Result<FileStamp, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    Ok(FileStamp {
        path: path.to_path_buf(),
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

fn load_entry_blocking(
    dir: &Path,
    name: Arc<str>,
    previous: Option<&ModelEntry>,
    metrics: &Metrics,
    nltk_data: Option<PathBuf>,
) -> Result<ModelEntry, String> {
    let config_path = dir.join("config.toml");
    let settings: ModelSettings = if config_path.is_file() {
        let text = std::fs::read_to_string(&config_path)
            .map_err(|e| format!("{}: {e}", config_path.display()))?;
        ModelSettings::from_toml(&text).map_err(|e| format!("{}: {e}", config_path.display()))?
    } else {
        ModelSettings::default()
    };
    let found = version_dirs(dir, settings.files.as_deref());
    if found.is_empty() {
        return Err(match &settings.files {
            None => format!(
                "no <version>/model.joblib or model.pkl under {}",
                dir.display()
            ),
            Some(_) => format!("no numeric version directory under {}", dir.display()),
        });
    }
    let code_source = settings.code_source();
    // Compiled once per model load, shared by its versions; only when a
    // version actually (re)loads.
    let mut code: Option<Arc<TextCode>> = None;
    let mut versions = BTreeMap::new();
    for (version, vdir, files) in found {
        let shown = match files.as_slice() {
            [one] => one.display().to_string(),
            _ => files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(" + "),
        };
        let stamps = files
            .iter()
            .map(|f| stamp(f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("version {version}: {e}"))?;
        let names = files
            .iter()
            .map(|f| {
                f.strip_prefix(&vdir)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let source = Source {
            files: stamps,
            names,
            labels: settings.labels.clone(),
            code: code_source.clone(),
        };
        if let Some(prev) = previous.and_then(|p| p.versions.get(&version))
            && prev.source == source
        {
            versions.insert(version, prev.clone());
            continue;
        }
        let code = match &code {
            Some(c) => c.clone(),
            None => {
                let c = Arc::new(if code_source.is_some() {
                    let res = Resources::new(nltk_data.clone(), Some(dir.to_path_buf()));
                    TextCode::from_tables(
                        settings.callables.as_ref(),
                        settings.preprocess.as_ref(),
                        &res,
                        code_source.as_deref().unwrap_or_default(),
                    )
                    .map_err(|e| format!("config.toml: {e}"))?
                } else {
                    TextCode::none()
                });
                code = Some(c.clone());
                c
            }
        };
        let loaded = load_version(&name, version, source, metrics, &code)
            .map_err(|e| format!("version {version} ({shown}): {e}"))?;
        metrics.model_loads.with_label_values(&["success"]).inc();
        versions.insert(version, Arc::new(loaded));
    }
    let default_version = match settings.default_version {
        Some(v) if versions.contains_key(&v) => v,
        Some(v) => {
            return Err(format!(
                "config.toml: default_version {v} has no model file"
            ));
        }
        None => *versions.keys().next_back().expect("non-empty"),
    };
    Ok(ModelEntry {
        name,
        versions,
        default_version,
        settings,
    })
}

/// Loads, validates and warms one model file.
fn load_version(
    name: &Arc<str>,
    version: u64,
    source: Source,
    metrics: &Metrics,
    code: &TextCode,
) -> Result<LoadedModel, String> {
    let started = Instant::now();
    let paths: Vec<&Path> = source.files.iter().map(|f| f.path.as_path()).collect();
    let mut model = Model::load_chain_with(&paths, code).map_err(|e| e.to_string())?;
    if let Some(labels) = &source.labels {
        model
            .rename_classes(labels)
            .map_err(|e| format!("config.toml: {e}"))?;
    }
    let output_kind = model.output_kind();
    let output_classes: Vec<Vec<Label>> = model
        .output_classes()
        .into_iter()
        .map(<[Label]>::to_vec)
        .collect();
    if output_classes.is_empty() {
        return Err("model has no outputs".into());
    }
    for (i, classes) in output_classes.iter().enumerate() {
        let n_classes = classes.len();
        // A multi-label model may have one tag; a classifier of one
        // output needs two classes to choose from.
        if n_classes < 2 && output_kind != OutputKind::MultiLabel {
            let which = if output_classes.len() > 1 {
                format!("output {i} has")
            } else {
                "model has".to_string()
            };
            return Err(format!(
                "{which} {n_classes} classes; a classifier needs at least 2"
            ));
        }
    }
    // A record model warms up on records with every column set to the
    // warm-up text (a model whose only column is `text` on plain texts).
    let columns: Option<Vec<String>> = model
        .input_columns()
        .filter(|c| *c != ["text"])
        .map(<[String]>::to_vec);
    for text in WARMUP_TEXTS {
        let record: Vec<(&str, &str)> = columns
            .iter()
            .flatten()
            .map(|c| (c.as_str(), *text))
            .collect();
        let input = match columns {
            Some(_) => Input::Record(&record),
            None => Input::Text(text),
        };
        let o = model
            .predict_output(input)
            .map_err(|e| format!("warm-up prediction failed: {e}"))?;
        warm_up_check(&o, &output_classes)?;
    }
    let class_names = model
        .classes()
        .iter()
        .map(|c| Arc::from(c.name()))
        .collect();
    let version_str: Arc<str> = Arc::from(version.to_string());
    let cache_version: Arc<str> = Arc::from(format!("{version}@{:016x}", source.fingerprint()));
    Ok(LoadedModel {
        memory_hits: metrics
            .cache_tier_hits
            .with_label_values(&[name.as_ref(), "memory"]),
        shared_hits: metrics.shared_hits(name),
        cache_version,
        uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
        inference_hist: metrics
            .inference_duration
            .with_label_values(&[name.as_ref(), version_str.as_ref()]),
        cache_hits: metrics.cache_hits.with_label_values(&[name.as_ref()]),
        cache_misses: metrics.cache_misses.with_label_values(&[name.as_ref()]),
        name: name.clone(),
        version,
        version_str,
        model,
        output_kind,
        output_classes,
        class_names,
        source,
        stats: ModelStats::default(),
        load_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// A warm-up answer names classes the model has and has finite scores.
fn warm_up_check(o: &Output, output_classes: &[Vec<Label>]) -> Result<(), String> {
    let finite = |v: &Option<Vec<f64>>| v.as_ref().is_none_or(|v| v.iter().all(|x| x.is_finite()));
    let single = |p: &Prediction, classes: &[Label]| {
        if p.label >= classes.len() {
            return Err("warm-up predicted a class index out of range".to_string());
        }
        if !finite(&p.probabilities) || !finite(&p.decision) {
            return Err("warm-up produced non-finite scores".to_string());
        }
        Ok(())
    };
    match (o, output_classes) {
        (Output::Single(p), [classes]) => single(p, classes),
        (Output::MultiLabel(p), [classes]) => {
            if p.labels.iter().any(|&l| l >= classes.len()) {
                return Err("warm-up predicted a class index out of range".into());
            }
            if !finite(&p.probabilities) || !finite(&p.decision) {
                return Err("warm-up produced non-finite scores".into());
            }
            Ok(())
        }
        (Output::MultiOutput(outs), classes) if outs.len() == classes.len() => {
            outs.iter().zip(classes).try_for_each(|(p, c)| single(p, c))
        }
        _ => Err("warm-up answer does not have the model's shape".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("spam"));
        assert!(valid_name("spam-v2.1_x"));
        assert!(!valid_name(""));
        assert!(!valid_name(".."));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("a b"));
    }
}
