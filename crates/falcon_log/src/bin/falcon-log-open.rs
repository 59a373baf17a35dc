//! Opens a SQLite log database and applies the migrations from its own
//! process, as a worker does at start-up: the start-up race test
//! (`tests/sqlite_startup.rs`) runs several at the same instant on one
//! fresh data dir. Besides the log's migrations it applies a probe
//! migration that inserts one row each time it runs, so the test can count
//! how often a migration was applied.
//!
//! `falcon-log-open DB_PATH [START_AT_UNIX_MICROS]` — waits until the given
//! instant, then opens and migrates; exit 0 on success, 1 with the error on
//! stderr.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use falcon_log::{Database, Migration, store};

/// Applied once per database; a second application would add a second row.
static PROBE: &[Migration] = &[Migration {
    name: "startup_race_probe",
    postgres: "CREATE TABLE IF NOT EXISTS startup_race_probe (n BIGINT);
               INSERT INTO startup_race_probe VALUES (1)",
    sqlite: "CREATE TABLE IF NOT EXISTS startup_race_probe (n INTEGER);
             INSERT INTO startup_race_probe VALUES (1)",
}];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: falcon-log-open DB_PATH [START_AT_UNIX_MICROS]");
        std::process::exit(2);
    }
    if let Some(at) = args.get(2).and_then(|s| s.parse::<u64>().ok()) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        std::thread::sleep(Duration::from_micros(at.saturating_sub(now)));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = rt.block_on(async {
        let db = Database::open_sqlite(Path::new(&args[1])).await?;
        db.migrate(store::MIGRATIONS).await?;
        db.migrate(PROBE).await
    });
    if let Err(e) = result {
        eprintln!("falcon-log-open {}: {e}", args[1]);
        std::process::exit(1);
    }
}
