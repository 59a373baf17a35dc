//! Drives a [`LogWriter`] from its own process, for crash tests and
//! durability experiments: logs rows `{tag}-{i}` as fast as it can (or at
//! `rate` rows/s), calls `flush` every `every` rows and prints
//! `flushed <n>` after each — every row up to `n` is then in the database or
//! fsynced in the spool. Kill it with SIGKILL at any point; a later
//! `LogWriter::start` on the same data dir must recover every flushed row.
//!
//! `falcon-log-load DATABASE_URL DATA_DIR TAG ROWS [EVERY] [RATE]`
//! (`ROWS` = 0: forever).

use std::io::Write;
use std::time::Duration;

use falcon_log::{CacheTier, Database, DbOptions, LogConfig, LogWriter, PredictionRecord};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: falcon-log-load DATABASE_URL DATA_DIR TAG ROWS [EVERY] [RATE]");
        std::process::exit(2);
    }
    let (url, dir, tag) = (args[1].clone(), args[2].clone(), args[3].clone());
    let rows: u64 = args[4].parse().expect("ROWS");
    let every: u64 = args.get(5).map_or(500, |s| s.parse().expect("EVERY"));
    let rate: u64 = args.get(6).map_or(0, |s| s.parse().expect("RATE"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let db = Database::connect(&url, &DbOptions::default())
            .await
            .expect("database");
        let mut cfg = LogConfig::new(&dir);
        cfg.retry_min = Duration::from_millis(20);
        cfg.retry_max = Duration::from_millis(200);
        let writer = LogWriter::start(db, cfg).await.expect("writer");
        let log = writer.handle();
        let mut out = std::io::stdout();
        let mut i = 0u64;
        while rows == 0 || i < rows {
            let r = PredictionRecord::new(
                format!("{tag}-{i}"),
                0,
                "spam",
                "1",
                "ham",
                vec![],
                Duration::from_micros(100),
                CacheTier::Miss,
                None,
                "text",
            );
            assert!(log.log(r), "row refused: {:?}", log.stats());
            i += 1;
            if i.is_multiple_of(every) {
                log.flush().await.expect("flush");
                let _ = writeln!(out, "flushed {i}");
                let _ = out.flush();
            }
            if let Some(us) = 1_000_000u64.checked_div(rate) {
                tokio::time::sleep(Duration::from_micros(us)).await;
            }
        }
        let stats = writer.shutdown().await.expect("shutdown");
        let _ = writeln!(out, "done {} dropped {}", stats.accepted, stats.dropped());
    });
}
