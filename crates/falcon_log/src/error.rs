//! The crate's one error type.

/// Everything that can go wrong in the prediction log.
///
/// The writer never surfaces these on the request path: a failing database
/// sends rows to the spool, and only spool I/O failures or an unusable
/// configuration reach the caller of [`crate::LogWriter::start`].
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A Postgres error (connection refused, backend terminated, SQL error).
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The Postgres pool could not hand out a connection.
    #[error("postgres pool: {0}")]
    Pool(String),
    /// A SQLite error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Reading or writing the spool or the data directory.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The spool file is locked by another process (another worker using
    /// the same data directory).
    #[error("spool {} is locked by another process", .0.display())]
    SpoolLocked(std::path::PathBuf),
    /// A database URL that is neither `postgres://…` nor `sqlite:…`.
    #[error("invalid database url {0:?} (expected postgres://… or sqlite:PATH)")]
    InvalidUrl(String),
    /// A database operation exceeded its time budget.
    #[error("database operation timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// A row could not be encoded or decoded.
    #[error("encoding: {0}")]
    Encoding(String),
    /// The writer task is gone (it panicked or was shut down).
    #[error("the log writer has stopped")]
    Stopped,
    /// An invalid argument (bad duration, bad format name, …).
    #[error("{0}")]
    Invalid(String),
}

impl LogError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LogError::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether retrying later may succeed: the database is unreachable,
    /// restarting, or overloaded — as opposed to a statement it rejects
    /// (which would fail again identically and must not block the log).
    pub fn is_transient(&self) -> bool {
        match self {
            LogError::Postgres(e) => match e.as_db_error() {
                // The server answered with an SQLSTATE: only connection
                // (08), resource (53), operator intervention (57: e.g.
                // `pg_terminate_backend`, shutdown), system (58) and
                // serialization (40) classes are worth retrying.
                Some(db) => {
                    let code = db.code().code();
                    ["08", "53", "57", "58", "40"]
                        .iter()
                        .any(|c| code.starts_with(c))
                }
                // No SQLSTATE: I/O error, closed connection, timeout.
                None => true,
            },
            LogError::Pool(_) | LogError::Timeout(_) => true,
            LogError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::SystemIoFailure
            ),
            LogError::Io { .. } => true,
            _ => false,
        }
    }
}

pub type Result<T, E = LogError> = std::result::Result<T, E>;
