//! Falcon's prediction log: every prediction recorded, asynchronously, in
//! batches, without ever making a request wait for the database — and
//! without losing rows when the database is unreachable.
//!
//! * [`PredictionRecord`] — one row (request id, timestamp, model, version,
//!   label, scores, latency, cache tier, API key id, text hash and length,
//!   text only with `--log-text`).
//! * [`Database`] — SQLite (default: a file in the data dir) or Postgres
//!   (a `deadpool` pool); shared with `falcon_auth`.
//! * [`LogWriter`] — the bounded channel, the batching task, the spool
//!   ([`spool`]), replay, flush-or-spool at shutdown; [`LogHandle::log`] is
//!   what a request handler calls, [`LogHandle::stats`] what `/metrics`
//!   exports.
//! * [`store`] — schema, inserts, and the queries behind `falcon log
//!   stats|export`.
//!
//! Wiring into a server is a few lines:
//!
//! ```no_run
//! # async fn demo() -> Result<(), falcon_log::LogError> {
//! use falcon_log::{CacheTier, Database, DbOptions, LogConfig, LogWriter, PredictionRecord};
//! let db = Database::connect("sqlite:data/falcon.db", &DbOptions::default()).await?;
//! let writer = LogWriter::start(db, LogConfig::new("data")).await?;
//! let log = writer.handle(); // clone into the handlers
//! log.log(PredictionRecord::new(
//!     "req-1", 0, "spam", "1", "ham", vec![],
//!     std::time::Duration::from_micros(180), CacheTier::Miss, None, "hello",
//! ));
//! // on SIGTERM, after the HTTP server drained:
//! let stats = writer.shutdown().await?;
//! assert_eq!(stats.dropped(), 0);
//! # Ok(()) }
//! ```

pub mod db;
mod error;
mod record;
pub mod spool;
pub mod store;
mod writer;

pub use db::{Database, DbOptions, Migration, default_sqlite_path, redact_url};
pub use error::{LogError, Result};
pub use record::{
    CacheTier, PredictionRecord, Score, format_rfc3339, hex, now_micros, text_sha256,
};
pub use store::{Filter, LogSummary, PgInsertMode};
pub use writer::{LogConfig, LogHandle, LogStats, LogWriter};
