//! A writer process killed with SIGKILL mid-stream — database up, or
//! unreachable so that rows are being spooled — loses no flushed row: the
//! next start replays the spool (cutting a torn tail) and the table holds
//! every row the dead process reported flushed, each once.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use falcon_log::{Database, DbOptions, LogConfig, LogWriter};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Runs the load process until it reported at least `min_flushed` rows,
/// kills it with SIGKILL, and returns the last flushed count it reported.
async fn run_and_kill(url: &str, dir: &std::path::Path, tag: &str, min_flushed: u64) -> u64 {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_falcon-log-load"))
        .args([url, dir.to_str().unwrap(), tag, "0", "250"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut flushed = 0;
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(n) = line.strip_prefix("flushed ") {
                flushed = n.parse().unwrap();
                if flushed >= min_flushed {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the load process stalled");
    // SIGKILL: no shutdown, no flush — whatever is on disk is what survives.
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    flushed
}

async fn recover_and_count(
    url: &str,
    dir: &std::path::Path,
    schema: &TestSchema,
) -> (i64, i64, u64) {
    let db = Database::connect(url, &DbOptions::default()).await.unwrap();
    let mut cfg = LogConfig::new(dir);
    cfg.retry_min = Duration::from_millis(20);
    let writer = LogWriter::start(db, cfg).await.unwrap();
    let log = writer.handle();
    let corrupt = log.stats().spool_corrupt_bytes;
    let drained = wait_for(Duration::from_secs(30), async || {
        log.stats().spool_bytes == 0
    })
    .await;
    let stats = writer.shutdown().await.unwrap();
    assert!(drained, "{stats:?}");
    let (rows, distinct) = schema.counts().await;
    (rows, distinct, corrupt)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_writing_to_the_database() {
    let Some(base) = pg_base_url("sigkill_while_writing_to_the_database").await else {
        return;
    };
    let schema = TestSchema::create(&base, "crash_db").await;
    let dir = tempfile::tempdir().unwrap();
    let flushed = run_and_kill(&schema.url(), dir.path(), "a", 5_000).await;
    let (rows, distinct, _) = recover_and_count(&schema.url(), dir.path(), &schema).await;
    assert!(rows >= flushed as i64, "{rows} rows < {flushed} flushed");
    assert_eq!(rows, distinct);
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_spooling_then_replay() {
    let Some(base) = pg_base_url("sigkill_while_spooling_then_replay").await else {
        return;
    };
    let schema = TestSchema::create(&base, "crash_spool").await;
    let proxy = Proxy::start(pg_target(&base)).await;
    proxy.down().await;
    let url = schema.url_via(Some(proxy.port));
    let dir = tempfile::tempdir().unwrap();
    let flushed = run_and_kill(&url, dir.path(), "b", 5_000).await;
    let spool = std::fs::metadata(dir.path().join("predictions.spool"))
        .unwrap()
        .len();
    assert!(spool > 0, "nothing was spooled");
    proxy.up();
    let (rows, distinct, corrupt) = recover_and_count(&url, dir.path(), &schema).await;
    eprintln!("flushed {flushed}, recovered {rows}, torn tail {corrupt} bytes");
    assert!(rows >= flushed as i64, "{rows} rows < {flushed} flushed");
    assert_eq!(rows, distinct);
    // Nothing but the in-flight batch can be missing: the recovered rows
    // are a prefix of what was logged (ids a contiguous 0..rows).
    let (c, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let max: i64 = c
        .query_one(
            &format!(
                "SELECT max(substr(request_id, 3)::bigint) FROM {}.predictions",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(max + 1, rows, "recovered rows are not a prefix");
    schema.drop_schema().await;
}
