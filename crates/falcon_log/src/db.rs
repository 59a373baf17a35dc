//! The database the log (and the API keys, `falcon_auth`) live in: SQLite
//! by default, Postgres when a `postgres://` URL is given.
//!
//! Both sit behind one small enum rather than a trait object: the two
//! backends need different SQL anyway, and callers match on it where they
//! do.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::error::{LogError, Result};

/// A connected database.
#[derive(Clone)]
pub enum Database {
    /// A pool of Postgres connections.
    Postgres(Pool),
    /// One SQLite connection (SQLite serialises writers anyway).
    Sqlite(Sqlite),
}

/// A SQLite connection usable from async code.
///
/// The connection may be opened lazily ([`Database::sqlite_deferred`]):
/// then the first [`Sqlite::call`] opens it, and a failure is returned as
/// that call's error (transient when the file is busy), so the log writer
/// spools and retries as it does for an unreachable Postgres.
#[derive(Clone)]
pub struct Sqlite {
    conn: Arc<Mutex<Option<rusqlite::Connection>>>,
    path: PathBuf,
    busy_timeout: Duration,
}

impl Sqlite {
    /// Runs `f` on the connection on the blocking pool (SQLite calls block).
    pub async fn call<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut rusqlite::Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.conn.clone();
        let (path, busy_timeout) = (self.path.clone(), self.busy_timeout);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let conn = match &mut *guard {
                Some(conn) => conn,
                empty => empty.insert(open_sqlite_blocking(&path, busy_timeout)?),
            };
            f(conn)
        })
        .await
        .map_err(|e| LogError::Invalid(format!("sqlite task failed: {e}")))?
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` holding the cross-process start-up lock (see
    /// [`StartupLock`]).
    fn with_startup_lock<R>(&self, f: impl FnOnce() -> Result<R>) -> Result<R> {
        let _lock = StartupLock::acquire(&self.path, self.busy_timeout);
        f()
    }
}

/// An advisory lock on `<db>.startup-lock` held while a process opens the
/// database (switching it to WAL) and applies the migrations.
///
/// Why: workers started together on one fresh data dir (`falcon cluster
/// up`) race for SQLite's own locks, and some of those races are not
/// covered by the busy timeout (SQLite returns `SQLITE_BUSY` immediately
/// when waiting could deadlock, e.g. two connections both upgrading a
/// read lock while one switches the journal mode). Serialising the
/// start-up between processes removes the race; `BEGIN IMMEDIATE`, the
/// busy timeout and the retry in [`open_sqlite_blocking`] remain as the
/// fallback when the lock file cannot be used (read-only directory, a
/// holder stuck past the timeout): the lock is an optimisation of
/// correctness, never a new way to fail.
struct StartupLock(Option<std::fs::File>);

impl StartupLock {
    fn acquire(db: &Path, timeout: Duration) -> StartupLock {
        let mut name = db.as_os_str().to_owned();
        name.push(".startup-lock");
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(PathBuf::from(name))
        else {
            return StartupLock(None);
        };
        let deadline = Instant::now() + timeout;
        loop {
            match file.try_lock() {
                Ok(()) => return StartupLock(Some(file)),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return StartupLock(None),
            }
        }
    }
}

impl Drop for StartupLock {
    fn drop(&mut self) {
        if let Some(file) = &self.0 {
            let _ = file.unlock();
        }
    }
}

/// Opens `path` (creating it and its directory) and configures the
/// connection, under the start-up lock.
///
/// The busy timeout is set first, before anything that takes a lock:
/// `PRAGMA journal_mode=WAL` needs an exclusive lock on a fresh file, and
/// without the timeout a second worker opening the file at the same
/// instant failed at once with "database is locked". A busy error that
/// SQLite reports without waiting (see [`StartupLock`]) is retried until
/// the timeout.
fn open_sqlite_blocking(path: &Path, busy_timeout: Duration) -> Result<rusqlite::Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| LogError::io(format!("creating {}", dir.display()), e))?;
    }
    let _lock = StartupLock::acquire(path, busy_timeout);
    let deadline = Instant::now() + busy_timeout;
    loop {
        match configure_sqlite(path, busy_timeout) {
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

fn configure_sqlite(path: &Path, busy_timeout: Duration) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    // WAL: readers (`falcon log stats`) do not block the writer;
    // NORMAL sync is durable against process crashes and costs no
    // fsync per transaction.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// `SQLITE_BUSY`/`SQLITE_LOCKED`: another connection holds a lock.
fn is_busy(e: &LogError) -> bool {
    matches!(
        e,
        LogError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            )
    )
}

/// One schema change, in both dialects. Applied once, in list order, and
/// recorded by `name` in `falcon_migrations`.
pub struct Migration {
    pub name: &'static str,
    pub postgres: &'static str,
    pub sqlite: &'static str,
}

/// Options for [`Database::connect`].
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// Postgres pool size (the seed ran 20).
    pub pool_size: usize,
    /// Time budget for establishing a Postgres connection.
    pub connect_timeout: Duration,
    /// How long a SQLite statement waits for another process's lock
    /// before failing (the writer then spools the batch).
    pub sqlite_busy_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            pool_size: 20,
            connect_timeout: Duration::from_secs(2),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The default SQLite file inside a data directory.
pub fn default_sqlite_path(data_dir: &Path) -> PathBuf {
    data_dir.join("falcon.db")
}

/// `url` with any password replaced by `***`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let redacted = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        None => userinfo.to_owned(),
    };
    format!("{}{}{}", &url[..scheme_end + 3], redacted, &rest[at..])
}

impl Database {
    /// Connects to `url`: `postgres://…`/`postgresql://…` (a pool; no
    /// connection is made until first use, so an unreachable server does
    /// not prevent start-up), or `sqlite:PATH` / `sqlite://PATH` (the file
    /// and its directory are created).
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Database> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut cfg: tokio_postgres::Config = url
                .parse()
                .map_err(|_| LogError::InvalidUrl(redact_url(url)))?;
            cfg.connect_timeout(opts.connect_timeout);
            if cfg.get_application_name().is_none() {
                cfg.application_name("falcon");
            }
            let mgr = Manager::from_config(
                cfg,
                NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Verified,
                },
            );
            let pool = Pool::builder(mgr)
                .max_size(opts.pool_size.max(1))
                .runtime(Runtime::Tokio1)
                .wait_timeout(Some(opts.connect_timeout))
                .create_timeout(Some(opts.connect_timeout))
                .recycle_timeout(Some(opts.connect_timeout))
                .build()
                .map_err(|e| LogError::Pool(e.to_string()))?;
            Ok(Database::Postgres(pool))
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Self::open_sqlite_with(Path::new(path), opts.sqlite_busy_timeout).await
        } else {
            Err(LogError::InvalidUrl(redact_url(url)))
        }
    }

    /// Opens (creating) a SQLite database file.
    pub async fn open_sqlite(path: &Path) -> Result<Database> {
        Self::open_sqlite_with(path, DbOptions::default().sqlite_busy_timeout).await
    }

    /// [`Database::open_sqlite`] with a given busy timeout.
    pub async fn open_sqlite_with(path: &Path, busy_timeout: Duration) -> Result<Database> {
        let path = path.to_owned();
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_sqlite_blocking(&p, busy_timeout))
            .await
            .map_err(|e| LogError::Invalid(format!("sqlite open task failed: {e}")))??;
        Ok(Database::Sqlite(Sqlite {
            conn: Arc::new(Mutex::new(Some(conn))),
            path,
            busy_timeout,
        }))
    }

    /// A SQLite database whose file is opened at first use, not now: what
    /// `falcon serve` falls back to when [`Database::open_sqlite`] fails,
    /// so that a database problem never prevents start-up (as a Postgres
    /// pool connects only at first use). Until the file opens, every
    /// operation fails with the open's error and the log spools its rows.
    pub fn sqlite_deferred(path: &Path, busy_timeout: Duration) -> Database {
        Database::Sqlite(Sqlite {
            conn: Arc::new(Mutex::new(None)),
            path: path.to_owned(),
            busy_timeout,
        })
    }

    /// A pooled Postgres client.
    pub async fn pg(&self) -> Result<deadpool_postgres::Object> {
        match self {
            Database::Postgres(pool) => pool.get().await.map_err(|e| match e {
                deadpool_postgres::PoolError::Backend(e) => LogError::Postgres(e),
                other => LogError::Pool(other.to_string()),
            }),
            Database::Sqlite(_) => Err(LogError::Invalid("not a postgres database".into())),
        }
    }

    /// `"postgres"` or `"sqlite"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Postgres(_) => "postgres",
            Database::Sqlite(_) => "sqlite",
        }
    }

    /// Applies the `migrations` not yet recorded, in order, each in its own
    /// transaction. On Postgres an advisory lock serialises workers that
    /// start together, so each migration runs exactly once.
    pub async fn migrate(&self, migrations: &'static [Migration]) -> Result<()> {
        match self {
            Database::Postgres(_) => {
                let mut client = self.pg().await?;
                let tx = client.transaction().await?;
                tx.execute("SELECT pg_advisory_xact_lock(7361626963)", &[])
                    .await?;
                tx.batch_execute(
                    "CREATE TABLE IF NOT EXISTS falcon_migrations (
                        name TEXT PRIMARY KEY,
                        applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                )
                .await?;
                for m in migrations {
                    let done = tx
                        .query_opt(
                            "SELECT 1 FROM falcon_migrations WHERE name = $1",
                            &[&m.name],
                        )
                        .await?
                        .is_some();
                    if !done {
                        tracing::info!(migration = m.name, "applying migration");
                        tx.batch_execute(m.postgres).await?;
                        tx.execute(
                            "INSERT INTO falcon_migrations (name) VALUES ($1)",
                            &[&m.name],
                        )
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
            // Serialised across processes by the start-up lock, and by
            // `BEGIN IMMEDIATE` (the write lock taken up front, waiting up to
            // the busy timeout) should the lock file be unusable.
            Database::Sqlite(db) => {
                let locked = db.clone();
                db.call(move |conn| locked.with_startup_lock(|| migrate_sqlite(conn, migrations)))
                    .await
            }
        }
    }
}

fn migrate_sqlite(conn: &mut rusqlite::Connection, migrations: &'static [Migration]) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS falcon_migrations (
                            name TEXT PRIMARY KEY,
                            applied_at INTEGER NOT NULL)",
    )?;
    for m in migrations {
        let done: bool = tx
            .prepare("SELECT 1 FROM falcon_migrations WHERE name = ?1")?
            .exists([m.name])?;
        if !done {
            tracing::info!(migration = m.name, "applying migration");
            tx.execute_batch(m.sqlite)?;
            tx.execute(
                "INSERT INTO falcon_migrations (name, applied_at) VALUES (?1, ?2)",
                rusqlite::params![m.name, crate::record::now_micros()],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact_url("redis://:pw@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact_url("sqlite:/tmp/x.db"), "sqlite:/tmp/x.db");
    }

    /// The fallback `falcon serve` takes when the file cannot be opened at
    /// start-up: operations fail (transiently, so the log spools) until the
    /// file can be opened, then work.
    #[tokio::test]
    async fn deferred_sqlite_opens_at_first_use_once_possible() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("data");
        std::fs::write(&blocker, b"a file where the data dir should be").unwrap();
        let db = Database::sqlite_deferred(&blocker.join("falcon.db"), Duration::from_millis(50));
        let e = db.migrate(crate::store::MIGRATIONS).await.unwrap_err();
        assert!(e.is_transient(), "{e}");
        std::fs::remove_file(&blocker).unwrap();
        db.migrate(crate::store::MIGRATIONS).await.unwrap();
        assert_eq!(crate::store::count(&db).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn rejects_unknown_scheme_without_leaking_password() {
        let e = Database::connect("mysql://u:hunter2@h/db", &DbOptions::default())
            .await
            .err()
            .unwrap();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
