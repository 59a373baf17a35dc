//! Workers sharing the default SQLite log start at the same instant on a
//! fresh data dir (`falcon cluster up` without `--database-url`): every one
//! must open the database and see it migrated, and each migration must run
//! exactly once. (A worker once failed with "database is locked" because
//! `PRAGMA journal_mode=WAL` ran before the busy timeout was set.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use falcon_log::{Database, Migration, store};

const ROUNDS: usize = 20;
const WORKERS: usize = 4;

/// The same probe as `falcon-log-open`: one row per application.
static PROBE: &[Migration] = &[Migration {
    name: "startup_race_probe",
    postgres: "CREATE TABLE IF NOT EXISTS startup_race_probe (n BIGINT);
               INSERT INTO startup_race_probe VALUES (1)",
    sqlite: "CREATE TABLE IF NOT EXISTS startup_race_probe (n INTEGER);
             INSERT INTO startup_race_probe VALUES (1)",
}];

/// Each migration recorded once and the probe applied once.
fn assert_migrated_once(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let recorded: i64 = conn
        .query_row("SELECT count(*) FROM falcon_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        recorded,
        i64::try_from(store::MIGRATIONS.len() + PROBE.len()).unwrap()
    );
    let probe_runs: i64 = conn
        .query_row("SELECT count(*) FROM startup_race_probe", [], |r| r.get(0))
        .unwrap();
    assert_eq!(probe_runs, 1, "the probe migration ran {probe_runs} times");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn threads_open_and_migrate_one_fresh_db_together() {
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("falcon.db");
        let barrier = Arc::new(Barrier::new(WORKERS));
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    barrier.wait();
                    rt.block_on(async {
                        let db = Database::open_sqlite(&path).await?;
                        db.migrate(store::MIGRATIONS).await?;
                        db.migrate(PROBE).await
                    })
                })
            })
            .collect();
        for (i, w) in workers.into_iter().enumerate() {
            if let Err(e) = w.join().unwrap() {
                panic!("round {round}, worker {i}: {e}");
            }
        }
        assert_migrated_once(&path);
    }
}

#[test]
fn processes_open_and_migrate_one_fresh_db_together() {
    let bin = env!("CARGO_BIN_EXE_falcon-log-open");
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("falcon.db");
        // All start at one instant, after the (slower) spawns.
        let start_at =
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_millis(150);
        let children: Vec<_> = (0..WORKERS)
            .map(|_| {
                Command::new(bin)
                    .arg(&path)
                    .arg(start_at.as_micros().to_string())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (i, c) in children.into_iter().enumerate() {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}, worker {i}: {:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_migrated_once(&path);
    }
}
