//! The prediction log against the real Postgres (`FALCON_TEST_DATABASE_URL`).

mod common;

use std::time::{Duration, Instant};

use common::*;
use falcon_log::spool::Spool;
use falcon_log::store::{self, Filter};
use falcon_log::{Database, DbOptions, LogConfig, LogWriter, PgInsertMode};

fn config(dir: &std::path::Path) -> LogConfig {
    let mut c = LogConfig::new(dir);
    c.retry_min = Duration::from_millis(20);
    c.retry_max = Duration::from_millis(200);
    c.db_timeout = Duration::from_secs(5);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_stats_and_export() {
    let Some(base) = pg_base_url("roundtrip_stats_and_export").await else {
        return;
    };
    let schema = TestSchema::create(&base, "roundtrip").await;
    let dir = tempfile::tempdir().unwrap();
    let writer = LogWriter::start(schema.db().await, config(dir.path()))
        .await
        .unwrap();
    let log = writer.handle();
    let sent: Vec<_> = (0..1000).map(record).collect();
    for r in &sent {
        assert!(log.log(r.clone()));
    }
    log.flush().await.unwrap();
    let stats = writer.shutdown().await.unwrap();
    assert_eq!(stats.written, 1000, "{stats:?}");
    assert_eq!(stats.dropped(), 0);
    assert_eq!(schema.counts().await, (1000, 1000));

    let db = schema.db().await;
    // Export returns exactly what was logged, minus the text (log_text off).
    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = store::export_page(&db, &Filter::default(), cursor.as_ref(), 300)
            .await
            .unwrap();
        got.extend(page);
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<_> = sent
        .iter()
        .cloned()
        .map(|mut r| {
            r.text = None;
            r
        })
        .collect();
    assert_eq!(got, expected);

    let s = store::summary(&db, &Filter::default()).await.unwrap();
    assert_eq!(s.total, 1000);
    assert_eq!(s.cache_miss, 250);
    assert_eq!(s.cache_redis, 250);
    assert_eq!(s.cache_memory, 500);
    let spam: u64 = s
        .by_label
        .iter()
        .filter(|l| l.label == "spam")
        .map(|l| l.count)
        .sum();
    assert_eq!(spam, 334);
    let lat = s.latency_us.unwrap();
    // latencies are 100..=1099, one each: nearest-rank percentiles.
    assert_eq!((lat.p50, lat.p95, lat.max), (599, 1049, 1099));
    // The time window and model filters.
    let f = Filter {
        since: Some(sent[500].timestamp()),
        until: Some(sent[600].timestamp()),
        model: Some("spam".into()),
    };
    assert_eq!(store::summary(&db, &f).await.unwrap().total, 100);
    let f = Filter {
        model: Some("other".into()),
        ..Filter::default()
    };
    assert_eq!(store::summary(&db, &f).await.unwrap().total, 0);
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_are_idempotent_in_both_modes() {
    let Some(base) = pg_base_url("inserts_are_idempotent_in_both_modes").await else {
        return;
    };
    let schema = TestSchema::create(&base, "idem").await;
    let db = schema.db().await;
    db.migrate(store::MIGRATIONS).await.unwrap();
    let rows: Vec<_> = (0..500).map(record).collect();
    for mode in [PgInsertMode::Copy, PgInsertMode::Unnest] {
        store::insert_batch(&db, &rows, mode).await.unwrap();
        store::insert_batch(&db, &rows[100..300], mode)
            .await
            .unwrap();
    }
    // A batch containing the same row twice is fine too.
    let dup = vec![record(900), record(900)];
    store::insert_batch(&db, &dup, PgInsertMode::Copy)
        .await
        .unwrap();
    store::insert_batch(&db, &dup, PgInsertMode::Unnest)
        .await
        .unwrap();
    assert_eq!(schema.counts().await, (501, 501));
    // Migrations are recorded: running them again is a no-op.
    db.migrate(store::MIGRATIONS).await.unwrap();
    schema.drop_schema().await;
}

/// Backends killed with `pg_terminate_backend` again and again while rows
/// stream in: every row ends up stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_backends_mid_stream_lose_nothing() {
    let Some(base) = pg_base_url("terminated_backends_mid_stream_lose_nothing").await else {
        return;
    };
    let schema = TestSchema::create(&base, "kill").await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.batch_size = 256;
    let writer = LogWriter::start(schema.db().await, cfg).await.unwrap();
    let log = writer.handle();
    const N: u64 = 30_000;
    const PRODUCERS: u64 = 4;
    // Four concurrent producers (request handlers), each its own id range.
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in (p..N).step_by(PRODUCERS as usize) {
                    assert!(log.log(record(i)), "row {i} refused: {:?}", log.stats());
                    if i % 500 < PRODUCERS {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            })
        })
        .collect();
    let mut killed = 0;
    while !producers.iter().all(|p| p.is_finished()) {
        killed += schema.kill_backends().await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    for p in producers {
        p.await.unwrap();
    }
    log.flush().await.unwrap();
    let drained = wait_for(Duration::from_secs(30), async || {
        let s = log.stats();
        s.spool_bytes == 0 && s.written == N
    })
    .await;
    let stats = writer.shutdown().await.unwrap();
    assert!(drained, "{stats:?}");
    assert!(killed > 0);
    assert!(stats.db_errors > 0, "no failure was provoked: {stats:?}");
    assert!(stats.spooled > 0, "{stats:?}");
    assert_eq!(stats.replayed, stats.spooled, "{stats:?}");
    assert_eq!(stats.dropped(), 0, "{stats:?}");
    assert_eq!(schema.counts().await, (N as i64, N as i64));
    schema.drop_schema().await;
}

/// Postgres "stopped" (every connection cut, new ones refused) for a while
/// and "restarted" on the same port, under a steady stream of rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_and_restart_lose_nothing() {
    let Some(base) = pg_base_url("outage_and_restart_lose_nothing").await else {
        return;
    };
    let schema = TestSchema::create(&base, "outage").await;
    let proxy = Proxy::start(pg_target(&base)).await;
    let db = Database::connect(&schema.url_via(Some(proxy.port)), &DbOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let writer = LogWriter::start(db, config(dir.path())).await.unwrap();
    let log = writer.handle();
    const N: u64 = 20_000;
    const PRODUCERS: u64 = 4;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in (p..N).step_by(PRODUCERS as usize) {
                    assert!(log.log(record(i)), "row {i} refused");
                    if i % 200 < PRODUCERS {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.down().await;
    // While down, rows pile up in the spool.
    assert!(
        wait_for(Duration::from_secs(10), async || log.stats().spool_bytes
            > 0)
        .await,
        "{:?}",
        log.stats()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!log.stats().db_up);
    proxy.up();
    for p in producers {
        p.await.unwrap();
    }
    log.flush().await.unwrap();
    let drained = wait_for(Duration::from_secs(30), async || {
        let s = log.stats();
        s.spool_bytes == 0 && s.written == N
    })
    .await;
    let stats = writer.shutdown().await.unwrap();
    assert!(drained, "{stats:?}");
    assert!(
        stats.spooled > 0 && stats.replayed == stats.spooled,
        "{stats:?}"
    );
    assert_eq!(stats.dropped(), 0);
    assert_eq!(schema.counts().await, (N as i64, N as i64));
    // The spool file is truncated once replayed.
    assert_eq!(
        std::fs::metadata(dir.path().join("predictions.spool"))
            .unwrap()
            .len(),
        0
    );
    schema.drop_schema().await;
}

/// Shut down while the database is unreachable: everything goes to the
/// spool; the next start (database back) replays it, torn tail excepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_spools_and_next_start_replays() {
    let Some(base) = pg_base_url("shutdown_spools_and_next_start_replays").await else {
        return;
    };
    let schema = TestSchema::create(&base, "restart").await;
    let proxy = Proxy::start(pg_target(&base)).await;
    proxy.down().await;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&schema.url_via(Some(proxy.port)), &DbOptions::default())
        .await
        .unwrap();
    // The database is unreachable at start-up: the writer starts anyway.
    let writer = LogWriter::start(db, config(dir.path())).await.unwrap();
    let log = writer.handle();
    for i in 0..5000 {
        assert!(log.log(record(i)));
    }
    let stats = writer.shutdown().await.unwrap();
    assert_eq!(stats.spooled, 5000, "{stats:?}");
    assert_eq!(stats.written, 0);
    assert!(!log.log(record(0)), "rows after shutdown are refused");
    assert_eq!(log.stats().dropped_closed, 1);

    // Tear the last record, as a crash mid-write would.
    let path = dir.path().join("predictions.spool");
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 7)
        .unwrap();

    proxy.up();
    let db = Database::connect(&schema.url_via(Some(proxy.port)), &DbOptions::default())
        .await
        .unwrap();
    let writer = LogWriter::start(db, config(dir.path())).await.unwrap();
    let log = writer.handle();
    assert!(log.stats().spool_corrupt_bytes > 0);
    let drained = wait_for(Duration::from_secs(30), async || {
        log.stats().spool_bytes == 0
    })
    .await;
    let stats = writer.shutdown().await.unwrap();
    assert!(drained, "{stats:?}");
    assert_eq!(stats.replayed, 4999, "{stats:?}");
    assert_eq!(schema.counts().await, (4999, 4999));
    schema.drop_schema().await;
}

/// A database that refuses connections (a closed port) and a small
/// `spool_max_bytes`: rows beyond it are dropped and counted, never more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_spool_drops_newest_and_counts() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let db = Database::connect(
        &format!("postgres://root@127.0.0.1:{port}/test"),
        &DbOptions::default(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.spool_max_bytes = 100_000;
    let writer = LogWriter::start(db, cfg).await.unwrap();
    let log = writer.handle();
    for i in 0..2000 {
        assert!(log.log(record(i)));
    }
    let stats = writer.shutdown().await.unwrap();
    assert_eq!(stats.accepted, 2000);
    assert!(stats.dropped_spool_full > 0, "{stats:?}");
    assert_eq!(stats.spooled + stats.dropped_spool_full, 2000, "{stats:?}");
    let file = std::fs::metadata(dir.path().join("predictions.spool"))
        .unwrap()
        .len();
    assert!(file <= 100_000 && file > 90_000, "{file}");
    // The oldest rows are the ones kept.
    let mut spool = Spool::open(&dir.path().join("predictions.spool"), u64::MAX).unwrap();
    let (kept, _) = spool.peek(usize::MAX).unwrap();
    assert_eq!(kept.len() as u64, stats.spooled);
    assert_eq!(&*kept[0].request_id, "req-0");
    assert_eq!(
        &*kept.last().unwrap().request_id,
        format!("req-{}", stats.spooled - 1)
    );
}

/// Throughput of the writer into Postgres, for each insert mode.
/// `FALCON_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test cargo test
/// --release -p falcon_log --test postgres -- --ignored --nocapture bench`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly"]
async fn bench_writer_rows_per_second() {
    let Some(base) = pg_base_url("bench_writer_rows_per_second").await else {
        return;
    };
    const N: u64 = 200_000;
    for mode in [
        PgInsertMode::Copy,
        PgInsertMode::Unnest,
        PgInsertMode::Copy,
        PgInsertMode::Unnest,
    ] {
        let schema = TestSchema::create(&base, "bench").await;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        cfg.pg_insert_mode = mode;
        cfg.channel_capacity = 1 << 20;
        let writer = LogWriter::start(schema.db().await, cfg).await.unwrap();
        let log = writer.handle();
        let rows: Vec<_> = (0..N).map(record).collect();
        let t = Instant::now();
        for r in rows {
            assert!(log.log(r));
        }
        log.flush().await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        let stats = writer.shutdown().await.unwrap();
        assert_eq!(stats.written, N);
        assert_eq!(schema.counts().await.0, N as i64);
        println!(
            "{mode:?}: {N} rows in {secs:.2} s = {:.0} rows/s ({} batches)",
            N as f64 / secs,
            stats.batches
        );
        schema.drop_schema().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_labels_roundtrip_as_json_lists_and_count_per_label() {
    let Some(base) = pg_base_url("multi_labels_roundtrip").await else {
        return;
    };
    let schema = TestSchema::create(&base, "multi_labels").await;
    let dir = tempfile::tempdir().unwrap();
    check_multi_roundtrip(&schema.db().await, dir.path()).await;
    schema.drop_schema().await;
}
