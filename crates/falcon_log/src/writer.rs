//! The asynchronous, batching, never-losing log writer.
//!
//! The request path calls [`LogHandle::log`], which only `try_send`s into a
//! bounded channel: it never waits for the database, the disk or a lock
//! held across I/O. One task owns everything else:
//!
//! * It takes whatever the channel holds (up to `batch_size` rows) and
//!   writes it as one batch — group commit: at low load a row is written at
//!   once, under load batches grow by themselves while the previous one is
//!   in flight, with no timer adding latency.
//! * When a batch fails for a *transient* reason (connection refused or
//!   killed, timeout, server shutting down) it is appended to the
//!   [`Spool`](crate::spool::Spool) instead, and so is every later batch
//!   while the spool is not empty — rows reach the database in the order
//!   they were accepted.
//! * With backoff (100 ms doubling to 5 s), the task replays the spool in
//!   order, a batch at a time, interleaved with draining the channel; once
//!   replay catches up, the spool is truncated and batches go straight to
//!   the database again. Inserts are `ON CONFLICT DO NOTHING` on the
//!   request id, so a batch that committed just before its connection died
//!   and was spooled anyway is stored once.
//! * A batch the database rejects for good (an SQL error other than the
//!   transient classes) is counted in `rejected` and dropped rather than
//!   retried forever; strings are sanitised beforehand (NUL bytes) so this
//!   should not happen.
//! * [`LogWriter::shutdown`] drains the channel, writes it to the database
//!   if the database is up and the spool empty, otherwise to the spool;
//!   either way nothing accepted is lost. A leftover spool is replayed by
//!   the next [`LogWriter::start`].
//!
//! The only losses are counted: rows refused because the channel is full
//! (`dropped_queue_full`: the writer cannot keep up at all), rows that do not
//! fit in `--spool-max-bytes` (`dropped_spool_full`), rows the spool could not
//! write (`dropped_spool_error`, e.g. disk full), and rejected rows.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::db::Database;
use crate::error::{LogError, Result};
use crate::record::PredictionRecord;
use crate::spool::{Appended, Spool};
use crate::store::{self, PgInsertMode};

/// How the writer behaves. [`LogConfig::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Where the spool file lives (`<data_dir>/predictions.spool`).
    pub data_dir: PathBuf,
    /// Keep the request text (`--log-text`); off by default for privacy:
    /// only its SHA-256 and length are stored.
    pub log_text: bool,
    /// Rows the channel holds before [`LogHandle::log`] starts refusing
    /// (and counting) them. 64 Ki rows ≈ a few seconds at full speed.
    pub channel_capacity: usize,
    /// Largest batch written at once.
    pub batch_size: usize,
    /// Group commit under load: when the previous batch was written less
    /// than this long ago, the writer waits up to this long for more rows
    /// (or a full batch) before writing. A commit costs ~100 µs on SQLite
    /// (WAL frames for every touched page) whatever the batch, so at
    /// saturation batches of ~10 rows spent ~10 µs a row in commits, and
    /// batches of hundreds spend < 1 µs. An idle log writes a lone row at
    /// once; `flush` and shutdown never wait. Only the rows' arrival in the
    /// database is delayed, never a request.
    pub linger: Duration,
    /// The spool never grows beyond this (`--spool-max-bytes`).
    pub spool_max_bytes: u64,
    /// Time budget of one database batch; past it the batch is spooled.
    pub db_timeout: Duration,
    /// Backoff between attempts to reach a failed database.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// How batches reach Postgres.
    pub pg_insert_mode: PgInsertMode,
    /// Spool files a data directory offers to concurrent processes: a
    /// writer takes the first one no other process holds
    /// (`predictions.spool`, then `predictions.1.spool`, …), and replays
    /// whatever that slot holds from an earlier run. 1 = only
    /// `predictions.spool` (a second process on the same directory fails).
    pub spool_slots: usize,
}

impl LogConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LogConfig {
            data_dir: data_dir.into(),
            log_text: false,
            channel_capacity: 65_536,
            batch_size: 4_096,
            linger: Duration::from_millis(20),
            spool_max_bytes: 1 << 30,
            db_timeout: Duration::from_secs(10),
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
            pg_insert_mode: PgInsertMode::default(),
            spool_slots: 1,
        }
    }

    /// The spool file of slot `i`.
    pub fn spool_path(&self, slot: usize) -> PathBuf {
        if slot == 0 {
            self.data_dir.join("predictions.spool")
        } else {
            self.data_dir.join(format!("predictions.{slot}.spool"))
        }
    }

    /// Opens the first spool slot no other process holds.
    fn open_spool(&self) -> Result<Spool> {
        let slots = self.spool_slots.max(1);
        for slot in 0..slots {
            match Spool::open(&self.spool_path(slot), self.spool_max_bytes) {
                Err(LogError::SpoolLocked(p)) => {
                    tracing::debug!(spool = %p.display(), "spool slot taken; trying the next");
                }
                other => return other,
            }
        }
        Err(LogError::Invalid(format!(
            "all {slots} spool slots in {} are locked by other processes; \
             give this worker its own --data-dir",
            self.data_dir.display(),
        )))
    }
}

#[derive(Default)]
struct Metrics {
    accepted: AtomicU64,
    written: AtomicU64,
    spooled: AtomicU64,
    replayed: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_spool_full: AtomicU64,
    dropped_spool_error: AtomicU64,
    dropped_closed: AtomicU64,
    rejected: AtomicU64,
    db_errors: AtomicU64,
    batches: AtomicU64,
    spool_bytes: AtomicU64,
    spool_corrupt_bytes: AtomicU64,
    db_up: AtomicBool,
    /// Timestamp (µs) of the oldest row in the spool, 0 when it is empty.
    oldest_spooled_micros: std::sync::atomic::AtomicI64,
}

/// A snapshot of the writer's counters and gauges, for `/metrics`.
/// Counters only grow; `queue_len`, `spool_bytes` and `db_up` are gauges.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogStats {
    /// Rows taken by [`LogHandle::log`].
    pub accepted: u64,
    /// Rows committed to the database (directly or by replay).
    pub written: u64,
    /// Rows appended to the spool.
    pub spooled: u64,
    /// Rows moved from the spool into the database.
    pub replayed: u64,
    /// Rows refused because the channel was full.
    pub dropped_queue_full: u64,
    /// Rows dropped because the spool reached `spool_max_bytes`.
    pub dropped_spool_full: u64,
    /// Rows lost because the spool could not be written (disk full, I/O).
    pub dropped_spool_error: u64,
    /// Rows offered after shutdown.
    pub dropped_closed: u64,
    /// Rows the database rejected permanently.
    pub rejected: u64,
    /// Failed database operations.
    pub db_errors: u64,
    /// Batches written to the database.
    pub batches: u64,
    /// Rows waiting in the channel.
    pub queue_len: u64,
    /// Spool bytes not yet replayed.
    pub spool_bytes: u64,
    /// Bytes of the spool discarded as torn or corrupt.
    pub spool_corrupt_bytes: u64,
    /// Whether the last database operation succeeded.
    pub db_up: bool,
    /// Age of the oldest row not yet in the database (the spool's first
    /// row), in microseconds; 0 when the spool is empty.
    pub lag_micros: u64,
}

impl LogStats {
    /// Appends the counters in the Prometheus text format (to concatenate
    /// with the server's `/metrics` body).
    pub fn write_prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP falcon_log_rows_total Prediction-log rows by outcome."
        );
        let _ = writeln!(out, "# TYPE falcon_log_rows_total counter");
        for (outcome, v) in [
            ("accepted", self.accepted),
            ("written", self.written),
            ("spooled", self.spooled),
            ("replayed", self.replayed),
            ("dropped_queue_full", self.dropped_queue_full),
            ("dropped_spool_full", self.dropped_spool_full),
            ("dropped_spool_error", self.dropped_spool_error),
            ("dropped_closed", self.dropped_closed),
            ("rejected", self.rejected),
        ] {
            let _ = writeln!(out, "falcon_log_rows_total{{outcome=\"{outcome}\"}} {v}");
        }
        for (name, kind, help, v) in [
            (
                "falcon_log_dropped_rows_total",
                "counter",
                "Prediction-log rows lost, all reasons.",
                self.dropped(),
            ),
            (
                "falcon_log_db_errors_total",
                "counter",
                "Failed prediction-log database operations.",
                self.db_errors,
            ),
            (
                "falcon_log_batches_total",
                "counter",
                "Batches written to the database.",
                self.batches,
            ),
            (
                "falcon_log_queue_rows",
                "gauge",
                "Rows waiting in the log channel.",
                self.queue_len,
            ),
            (
                "falcon_log_spool_bytes",
                "gauge",
                "Spool bytes not yet replayed.",
                self.spool_bytes,
            ),
            (
                "falcon_log_spool_corrupt_bytes_total",
                "counter",
                "Spool bytes discarded as torn or corrupt.",
                self.spool_corrupt_bytes,
            ),
            (
                "falcon_log_db_up",
                "gauge",
                "1 when the last database operation succeeded.",
                u64::from(self.db_up),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP falcon_log_lag_seconds Age of the oldest prediction not yet in the database (0 when the spool is empty).\n\
             # TYPE falcon_log_lag_seconds gauge\n\
             falcon_log_lag_seconds {}",
            self.lag_micros as f64 / 1e6
        );
    }

    /// Every row lost, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full
            + self.dropped_spool_full
            + self.dropped_spool_error
            + self.dropped_closed
            + self.rejected
    }
}

// Nearly every message is a row: boxing it would cost an allocation per
// prediction to shrink the rare control messages.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Row(PredictionRecord),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// The cheap, cloneable handle request handlers log through.
#[derive(Clone)]
pub struct LogHandle {
    tx: mpsc::Sender<Msg>,
    metrics: Arc<Metrics>,
    log_text: bool,
    /// Ends the writer's linger early: notified when a full batch is
    /// queued, and after a flush or a shutdown is. While it lingers the
    /// writer does not wait on the channel, so rows do not wake it one by
    /// one (a wake and a poll of the writer task per row showed in
    /// saturation profiles, issue #15); this is how it learns that
    /// waiting longer would only delay a full batch or an urgent message.
    wake: Arc<tokio::sync::Notify>,
    /// [`LogConfig::batch_size`]: queued rows that make a full batch.
    batch_size: usize,
}

impl LogHandle {
    /// Queues `record`; never blocks. Returns `false` (and counts the row
    /// as dropped) when the channel is full or the writer has stopped.
    /// The text is removed here unless `log_text` is on.
    pub fn log(&self, mut record: PredictionRecord) -> bool {
        if !self.log_text {
            record.text = None;
        }
        match self.tx.try_send(Msg::Row(record)) {
            Ok(()) => {
                self.metrics.accepted.fetch_add(1, Relaxed);
                if self.tx.max_capacity() - self.tx.capacity() >= self.batch_size {
                    self.wake.notify_one();
                }
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.dropped_queue_full.fetch_add(1, Relaxed);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.metrics.dropped_closed.fetch_add(1, Relaxed);
                false
            }
        }
    }

    /// Whether texts are kept (`--log-text`): attach them with
    /// [`PredictionRecord::with_text`] only then.
    pub fn log_text(&self) -> bool {
        self.log_text
    }

    /// Waits until every row logged before this call is in the database or
    /// the spool.
    pub async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Flush(tx))
            .await
            .map_err(|_| LogError::Stopped)?;
        self.wake.notify_one();
        rx.await.map_err(|_| LogError::Stopped)
    }

    /// The current counters.
    pub fn stats(&self) -> LogStats {
        let m = &self.metrics;
        LogStats {
            accepted: m.accepted.load(Relaxed),
            written: m.written.load(Relaxed),
            spooled: m.spooled.load(Relaxed),
            replayed: m.replayed.load(Relaxed),
            dropped_queue_full: m.dropped_queue_full.load(Relaxed),
            dropped_spool_full: m.dropped_spool_full.load(Relaxed),
            dropped_spool_error: m.dropped_spool_error.load(Relaxed),
            dropped_closed: m.dropped_closed.load(Relaxed),
            rejected: m.rejected.load(Relaxed),
            db_errors: m.db_errors.load(Relaxed),
            batches: m.batches.load(Relaxed),
            queue_len: (self.tx.max_capacity() - self.tx.capacity()) as u64,
            spool_bytes: m.spool_bytes.load(Relaxed),
            spool_corrupt_bytes: m.spool_corrupt_bytes.load(Relaxed),
            db_up: m.db_up.load(Relaxed),
            lag_micros: match m.oldest_spooled_micros.load(Relaxed) {
                0 => 0,
                oldest => {
                    u64::try_from(crate::record::now_micros().saturating_sub(oldest)).unwrap_or(0)
                }
            },
        }
    }
}

/// The running writer. Dropping it without [`LogWriter::shutdown`] aborts
/// nothing already spooled, but rows still in the channel are lost.
pub struct LogWriter {
    handle: LogHandle,
    task: tokio::task::JoinHandle<()>,
}

impl LogWriter {
    /// Opens the spool (validating it, cutting a torn tail), runs the
    /// migrations if the database is reachable (otherwise at the first
    /// successful connection: an unreachable database does not prevent
    /// start-up — rows are spooled), and starts the writer task, which
    /// first replays any leftover spool.
    ///
    /// Fails on an unusable spool (unwritable data dir, spool locked by
    /// another process) or a migration the database rejects.
    pub async fn start(db: Database, config: LogConfig) -> Result<LogWriter> {
        let cfg = config.clone();
        let spool = tokio::task::spawn_blocking(move || cfg.open_spool())
            .await
            .map_err(|e| LogError::Invalid(format!("spool task failed: {e}")))??;
        let metrics = Arc::new(Metrics::default());
        metrics.spool_bytes.store(spool.pending_bytes(), Relaxed);
        metrics
            .spool_corrupt_bytes
            .store(spool.corrupt_bytes(), Relaxed);
        if spool.pending_bytes() > 0 {
            tracing::info!(
                spool = %spool.path().display(),
                bytes = spool.pending_bytes(),
                "replaying leftover prediction-log spool"
            );
        }
        let mut state = State {
            db,
            spool: Arc::new(Mutex::new(spool)),
            metrics: metrics.clone(),
            migrated: false,
            next_attempt: Instant::now(),
            backoff: config.retry_min,
            config: config.clone(),
            last_write: None,
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        match tokio::time::timeout(config.db_timeout, state.db.migrate(store::MIGRATIONS)).await {
            Ok(Ok(())) => {
                state.migrated = true;
                metrics.db_up.store(true, Relaxed);
            }
            Ok(Err(e)) if !e.is_transient() => return Err(e),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "prediction log database unreachable at start-up; spooling");
                state.failed(&e);
            }
            Err(_) => {
                let e = LogError::Timeout(config.db_timeout);
                tracing::warn!(error = %e, "prediction log database unreachable at start-up; spooling");
                state.failed(&e);
            }
        }
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let wake = state.wake.clone();
        let task = tokio::spawn(state.run(rx));
        Ok(LogWriter {
            handle: LogHandle {
                tx,
                metrics,
                log_text: config.log_text,
                wake,
                batch_size: config.batch_size.max(1),
            },
            task,
        })
    }

    /// A handle to log through (cheap to clone, one per handler is fine).
    pub fn handle(&self) -> LogHandle {
        self.handle.clone()
    }

    /// The current counters.
    pub fn stats(&self) -> LogStats {
        self.handle.stats()
    }

    /// Stops accepting rows, writes every accepted row to the database or
    /// the spool, and stops the task. Rows offered afterwards are counted
    /// in `dropped_closed`.
    pub async fn shutdown(self) -> Result<LogStats> {
        let (tx, rx) = oneshot::channel();
        if self.handle.tx.send(Msg::Shutdown(tx)).await.is_ok() {
            self.handle.wake.notify_one();
            let _ = rx.await;
        }
        self.task
            .await
            .map_err(|e| LogError::Invalid(format!("log writer task failed: {e}")))?;
        Ok(self.handle.stats())
    }
}

struct State {
    db: Database,
    spool: Arc<Mutex<Spool>>,
    metrics: Arc<Metrics>,
    config: LogConfig,
    migrated: bool,
    next_attempt: Instant,
    backoff: Duration,
    /// When the last batch went to the database or the spool (`None`:
    /// never): a batch written within [`LogConfig::linger`] means rows keep
    /// coming.
    last_write: Option<Instant>,
    /// [`LogHandle::wake`].
    wake: Arc<tokio::sync::Notify>,
}

/// What the messages taken from the channel asked for.
#[derive(PartialEq, Eq)]
enum Taken {
    /// Only rows.
    Rows,
    /// A flush or a shutdown: write now, do not linger.
    Urgent,
}

impl State {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut msgs = Vec::with_capacity(self.config.batch_size);
        let mut rows = Vec::with_capacity(self.config.batch_size);
        let mut stopping: Vec<oneshot::Sender<()>> = Vec::new();
        loop {
            let pending = self.spool_pending() > 0;
            tokio::select! {
                n = rx.recv_many(&mut msgs, self.config.batch_size) => {
                    if n == 0 {
                        // Closed (shutdown below) or every handle dropped.
                        break;
                    }
                    let mut taken = self
                        .take(&mut msgs, &mut rows, &mut rx, &mut stopping)
                        .await;
                    if taken == Taken::Rows
                        && !rows.is_empty()
                        && self
                            .last_write
                            .is_some_and(|t| t.elapsed() < self.config.linger)
                    {
                        // Rows keep coming: gather a larger batch. One
                        // timer for the whole linger, and no waiting on
                        // the channel meanwhile (each row would wake this
                        // task): what is queued is taken when the linger
                        // ends, or earlier when a handle reports a full
                        // batch, a flush or a shutdown (`LogHandle::wake`).
                        let deadline = tokio::time::sleep(self.config.linger);
                        tokio::pin!(deadline);
                        let mut due = false;
                        loop {
                            let room = self.config.batch_size.saturating_sub(rows.len());
                            while msgs.len() < room {
                                match rx.try_recv() {
                                    Ok(m) => msgs.push(m),
                                    Err(_) => break,
                                }
                            }
                            taken = self
                                .take(&mut msgs, &mut rows, &mut rx, &mut stopping)
                                .await;
                            if due || taken == Taken::Urgent || rows.len() >= self.config.batch_size {
                                break;
                            }
                            tokio::select! {
                                biased;
                                () = &mut deadline => due = true,
                                () = self.wake.notified() => {}
                            }
                        }
                    }
                    self.write(&mut rows).await;
                }
                () = tokio::time::sleep_until(self.next_attempt), if pending && stopping.is_empty() => {
                    self.replay_chunk().await;
                }
            }
        }
        self.write(&mut rows).await;
        for done in stopping {
            let _ = done.send(());
        }
    }

    /// Moves the rows of `msgs` into `rows`, and carries out flushes (write
    /// what came before, then acknowledge) and shutdowns (refuse new rows
    /// from now on, but keep draining what was accepted before).
    async fn take(
        &mut self,
        msgs: &mut Vec<Msg>,
        rows: &mut Vec<PredictionRecord>,
        rx: &mut mpsc::Receiver<Msg>,
        stopping: &mut Vec<oneshot::Sender<()>>,
    ) -> Taken {
        let mut taken = Taken::Rows;
        for msg in msgs.drain(..) {
            match msg {
                Msg::Row(r) => rows.push(r),
                Msg::Flush(done) => {
                    self.write(rows).await;
                    let _ = done.send(());
                    taken = Taken::Urgent;
                }
                Msg::Shutdown(done) => {
                    rx.close();
                    stopping.push(done);
                    taken = Taken::Urgent;
                }
            }
        }
        taken
    }

    fn spool_pending(&self) -> u64 {
        self.spool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pending_bytes()
    }

    async fn with_spool<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Spool) -> R + Send + 'static,
    ) -> R {
        let spool = self.spool.clone();
        let metrics = self.metrics.clone();
        let run = move || {
            let mut s = spool
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let r = f(&mut s);
            metrics.spool_bytes.store(s.pending_bytes(), Relaxed);
            metrics
                .spool_corrupt_bytes
                .store(s.corrupt_bytes(), Relaxed);
            r
        };
        match tokio::task::spawn_blocking(run).await {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    fn failed(&mut self, e: &LogError) {
        self.metrics.db_errors.fetch_add(1, Relaxed);
        if self.metrics.db_up.swap(false, Relaxed) {
            tracing::warn!(error = %e, "prediction log database failed; spooling");
        } else {
            tracing::debug!(error = %e, "prediction log database still failing");
        }
        self.next_attempt = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(self.config.retry_max);
    }

    fn succeeded(&mut self) {
        if !self.metrics.db_up.swap(true, Relaxed) {
            tracing::info!("prediction log database reachable");
        }
        self.backoff = self.config.retry_min;
        self.next_attempt = Instant::now();
    }

    /// One database batch, under the time budget.
    async fn insert(&mut self, rows: &Arc<Vec<PredictionRecord>>) -> Result<()> {
        let db = &self.db;
        let mode = self.config.pg_insert_mode;
        let migrated = self.migrated;
        let res = tokio::time::timeout(self.config.db_timeout, async move {
            if !migrated {
                db.migrate(store::MIGRATIONS).await?;
            }
            store::insert_shared(db, rows, mode).await
        })
        .await
        .unwrap_or(Err(LogError::Timeout(self.config.db_timeout)));
        match &res {
            Ok(()) => {
                self.migrated = true;
                self.succeeded();
                self.metrics.batches.fetch_add(1, Relaxed);
                self.metrics.written.fetch_add(rows.len() as u64, Relaxed);
            }
            Err(e) if e.is_transient() => self.failed(e),
            Err(e) => {
                self.metrics.db_errors.fetch_add(1, Relaxed);
                self.metrics.rejected.fetch_add(rows.len() as u64, Relaxed);
                tracing::error!(error = %e, rows = rows.len(), "prediction log batch rejected by the database; dropped");
            }
        }
        res
    }

    /// Writes `rows` (and empties it): to the database when the spool is
    /// empty, otherwise (or when the database fails) to the spool.
    async fn write(&mut self, rows: &mut Vec<PredictionRecord>) {
        if rows.is_empty() {
            return;
        }
        self.last_write = Some(Instant::now());
        for r in rows.iter_mut() {
            r.sanitize();
        }
        let capacity = rows.capacity();
        // Shared with the database task rather than copied; kept here to
        // spool if the batch fails or times out.
        let shared = Arc::new(std::mem::take(rows));
        let reuse = |rows: &mut Vec<PredictionRecord>, shared: Arc<Vec<PredictionRecord>>| {
            // The database task has dropped its reference once it
            // returned; after a timeout it may still hold it.
            *rows = Arc::try_unwrap(shared).unwrap_or_default();
            rows.clear();
            rows.reserve(capacity);
        };
        if self.spool_pending() == 0 && Instant::now() >= self.next_attempt {
            match self.insert(&shared).await {
                Ok(()) => return reuse(rows, shared),
                Err(e) if !e.is_transient() => return reuse(rows, shared),
                Err(_) => {}
            }
        }
        let batch = shared;
        let n = batch.len() as u64;
        if let Some(oldest) = batch.iter().map(|r| r.ts_micros).min() {
            // Only the first rows into an empty spool are its oldest.
            let _ = self.metrics.oldest_spooled_micros.compare_exchange(
                0,
                oldest.max(1),
                Relaxed,
                Relaxed,
            );
        }
        let (res, batch) = self
            .with_spool(move |s| {
                let r = s.append(&batch);
                (r, batch)
            })
            .await;
        reuse(rows, batch);
        match res {
            Ok(Appended { written, dropped }) => {
                self.metrics.spooled.fetch_add(written as u64, Relaxed);
                if dropped > 0 {
                    self.metrics
                        .dropped_spool_full
                        .fetch_add(dropped as u64, Relaxed);
                    tracing::error!(
                        dropped,
                        "prediction-log spool full (--spool-max-bytes); rows dropped"
                    );
                }
            }
            Err(e) => {
                self.metrics.dropped_spool_error.fetch_add(n, Relaxed);
                tracing::error!(error = %e, rows = n, "cannot write the prediction-log spool; rows dropped");
            }
        }
    }

    /// Replays one batch from the spool.
    async fn replay_chunk(&mut self) {
        let max = self.config.batch_size;
        let res = self.with_spool(move |s| s.peek(max)).await;
        let (recs, off) = match res {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the prediction-log spool");
                self.next_attempt = Instant::now() + self.config.retry_max;
                return;
            }
        };
        let n = recs.len() as u64;
        if let Some(first) = recs.first() {
            // The spool is in arrival order: its first row is the oldest.
            self.metrics
                .oldest_spooled_micros
                .store(first.ts_micros.max(1), Relaxed);
        }
        let recs = Arc::new(recs);
        let consume = match self.insert(&recs).await {
            Ok(()) => {
                self.metrics.replayed.fetch_add(n, Relaxed);
                true
            }
            Err(e) => !e.is_transient(),
        };
        if consume || recs.is_empty() {
            if let Err(e) = self.with_spool(move |s| s.consume(off)).await {
                tracing::error!(error = %e, "cannot truncate the prediction-log spool");
            } else if self.spool_pending() == 0 {
                self.metrics.oldest_spooled_micros.store(0, Relaxed);
                tracing::info!("prediction-log spool replayed");
            } else if let Some(last) = recs.last() {
                // The next row is at least this recent.
                self.metrics
                    .oldest_spooled_micros
                    .store(last.ts_micros.max(1), Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_every_counter_once() {
        let s = LogStats {
            accepted: 10,
            written: 7,
            spooled: 3,
            dropped_spool_full: 2,
            rejected: 1,
            db_up: true,
            spool_bytes: 99,
            ..LogStats::default()
        };
        let mut out = String::new();
        s.write_prometheus(&mut out);
        let value = |series: &str| -> u64 {
            let line = out
                .lines()
                .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
                .unwrap_or_else(|| panic!("{series} missing in\n{out}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert_eq!(value("falcon_log_rows_total{outcome=\"accepted\"}"), 10);
        assert_eq!(value("falcon_log_rows_total{outcome=\"spooled\"}"), 3);
        assert_eq!(value("falcon_log_dropped_rows_total"), 3);
        assert_eq!(value("falcon_log_spool_bytes"), 99);
        assert_eq!(value("falcon_log_db_up"), 1);
        assert!(out.contains("falcon_log_lag_seconds 0\n"), "{out}");
        assert_eq!(out.matches("# TYPE falcon_log_rows_total").count(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_sharing_a_data_dir_take_separate_spool_slots() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open_sqlite(&dir.path().join("falcon.db"))
            .await
            .unwrap();
        let mut config = LogConfig::new(dir.path());
        config.spool_slots = 2;
        let a = LogWriter::start(db.clone(), config.clone()).await.unwrap();
        let b = LogWriter::start(db.clone(), config.clone()).await.unwrap();
        assert!(config.spool_path(0).exists() && config.spool_path(1).exists());
        // Every slot taken: a third writer is refused with a clear error.
        let err = LogWriter::start(db.clone(), config.clone())
            .await
            .err()
            .expect("no free slot");
        assert!(err.to_string().contains("--data-dir"), "{err}");
        a.shutdown().await.unwrap();
        // A slot freed by a shut-down writer is taken again.
        let c = LogWriter::start(db, config).await.unwrap();
        b.shutdown().await.unwrap();
        c.shutdown().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_slot_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open_sqlite(&dir.path().join("falcon.db"))
            .await
            .unwrap();
        let config = LogConfig::new(dir.path());
        let a = LogWriter::start(db.clone(), config.clone()).await.unwrap();
        assert!(LogWriter::start(db, config).await.is_err());
        a.shutdown().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lag_is_the_age_of_the_oldest_spooled_row() {
        let dir = tempfile::tempdir().unwrap();
        // Nothing listens on port 1: every batch goes to the spool.
        let db = Database::connect("postgres://falcon@127.0.0.1:1/none", &Default::default())
            .await
            .unwrap();
        let writer = LogWriter::start(db, LogConfig::new(dir.path()))
            .await
            .unwrap();
        let h = writer.handle();
        assert_eq!(h.stats().lag_micros, 0);
        let mut r = PredictionRecord::new(
            "r",
            0,
            "m",
            "1",
            "a",
            vec![],
            Duration::from_micros(5),
            crate::CacheTier::Miss,
            None,
            "t",
        );
        r.ts_micros -= 3_000_000;
        assert!(h.log(r));
        h.flush().await.unwrap();
        let stats = h.stats();
        assert_eq!(stats.spooled, 1, "{stats:?}");
        assert!(stats.lag_micros >= 3_000_000, "{stats:?}");
        let mut out = String::new();
        stats.write_prometheus(&mut out);
        let lag: f64 = out
            .lines()
            .find_map(|l| l.strip_prefix("falcon_log_lag_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(lag >= 3.0, "{out}");
        writer.shutdown().await.unwrap();
    }
}
