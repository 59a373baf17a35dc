//! The prediction log on SQLite (the default backend: no services needed).

mod common;

use std::time::Duration;

use common::record;
use falcon_log::store::{self, Filter};
use falcon_log::{Database, DbOptions, LogConfig, LogWriter, default_sqlite_path};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_stats_export_and_text_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", default_sqlite_path(dir.path()).display());
    let db = Database::connect(&url, &DbOptions::default())
        .await
        .unwrap();
    let mut cfg = LogConfig::new(dir.path());
    cfg.log_text = true;
    let writer = LogWriter::start(db.clone(), cfg).await.unwrap();
    let log = writer.handle();
    let sent: Vec<_> = (0..1000).map(record).collect();
    for r in &sent {
        assert!(log.log(r.clone()));
    }
    // Logging the same rows again (a replay) stores nothing new.
    for r in &sent[..10] {
        assert!(log.log(r.clone()));
    }
    let stats = writer.shutdown().await.unwrap();
    assert_eq!(stats.written, 1010);
    assert_eq!(store::count(&db).await.unwrap(), 1000);

    let (page, next) = store::export_page(&db, &Filter::default(), None, 10_000)
        .await
        .unwrap();
    assert!(next.is_none());
    assert_eq!(page, sent, "text kept with log_text");

    let s = store::summary(&db, &Filter::default()).await.unwrap();
    assert_eq!(
        (s.total, s.cache_miss, s.cache_memory, s.cache_redis),
        (1000, 250, 500, 250)
    );
    assert!((s.cache_hit_rate() - 0.75).abs() < 1e-12);
    let lat = s.latency_us.unwrap();
    assert_eq!((lat.p50, lat.p95, lat.max), (599, 1049, 1099));
    let f = Filter {
        since: Some(sent[500].timestamp()),
        until: Some(sent[600].timestamp()),
        model: Some("spam".into()),
    };
    assert_eq!(store::summary(&db, &f).await.unwrap().total, 100);
    let (page, _) = store::export_page(&db, &f, None, 10_000).await.unwrap();
    assert_eq!(page, sent[500..600]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_is_not_stored_by_default_and_export_pages() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_sqlite(&dir.path().join("x.db"))
        .await
        .unwrap();
    let writer = LogWriter::start(db.clone(), LogConfig::new(dir.path()))
        .await
        .unwrap();
    let log = writer.handle();
    for i in 0..250 {
        log.log(record(i));
    }
    log.flush().await.unwrap();
    let mut all = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let (page, next) = store::export_page(&db, &Filter::default(), cursor.as_ref(), 100)
            .await
            .unwrap();
        pages += 1;
        all.extend(page);
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(all.len(), 250);
    assert!(all.iter().all(|r| r.text.is_none() && r.text_len > 0));
    writer.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_log_summary() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_sqlite(&dir.path().join("x.db"))
        .await
        .unwrap();
    db.migrate(store::MIGRATIONS).await.unwrap();
    let s = store::summary(&db, &Filter::default()).await.unwrap();
    assert_eq!(s.total, 0);
    assert!(s.latency_us.is_none());
    assert_eq!(s.cache_hit_rate(), 0.0);
}

/// A full channel refuses rows without blocking, and counts them.
#[tokio::test(flavor = "current_thread")]
async fn full_channel_refuses_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_sqlite(&dir.path().join("x.db"))
        .await
        .unwrap();
    let mut cfg = LogConfig::new(dir.path());
    cfg.channel_capacity = 8;
    let writer = LogWriter::start(db.clone(), cfg).await.unwrap();
    let log = writer.handle();
    // On a current-thread runtime the writer cannot run between these calls.
    let accepted = (0..20).filter(|i| log.log(record(*i))).count();
    assert_eq!(accepted, 8);
    assert_eq!(log.stats().dropped_queue_full, 12);
    let stats = tokio::time::timeout(Duration::from_secs(10), writer.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.written, 8);
    assert_eq!(store::count(&db).await.unwrap(), 8);
}

/// Group commit: a lone row is written at once, without waiting for the
/// linger; rows that keep coming right after a write are gathered into
/// batches of up to `batch_size` (here the linger is far longer than the
/// test, so only full batches or a flush can end one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lone_rows_go_at_once_and_bursts_are_batched() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_sqlite(&dir.path().join("x.db"))
        .await
        .unwrap();
    let mut cfg = LogConfig::new(dir.path());
    cfg.linger = Duration::from_secs(600);
    cfg.batch_size = 100;
    let writer = LogWriter::start(db.clone(), cfg).await.unwrap();
    let log = writer.handle();
    // Long after start-up: the writer has not written for a while.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let mut cfg_linger_hit = false;
    assert!(log.log(record(0)));
    while log.stats().written < 1 {
        if started.elapsed() > Duration::from_secs(30) {
            cfg_linger_hit = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(!cfg_linger_hit, "a lone row waited for the linger");
    assert_eq!(log.stats().batches, 1);
    // A burst right after that write: full batches only.
    for i in 1..=1000 {
        assert!(log.log(record(i)));
    }
    while log.stats().written < 1001 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            log.stats()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(log.stats().batches, 11, "{:?}", log.stats());
    // Rows left in an unfinished batch go with a flush, not after the
    // linger.
    for i in 1001..1011 {
        assert!(log.log(record(i)));
    }
    tokio::time::timeout(Duration::from_secs(30), log.flush())
        .await
        .expect("flush waited for the linger")
        .unwrap();
    let stats = writer.shutdown().await.unwrap();
    assert_eq!(stats.written, 1011, "{stats:?}");
    assert_eq!(store::count(&db).await.unwrap(), 1011);
}

/// Writer throughput into SQLite:
/// `cargo test --release -p falcon_log --test sqlite -- --ignored --nocapture bench`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly"]
async fn bench_sqlite_rows_per_second() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_sqlite(&dir.path().join("x.db"))
        .await
        .unwrap();
    let mut cfg = LogConfig::new(dir.path());
    cfg.channel_capacity = 1 << 20;
    let writer = LogWriter::start(db.clone(), cfg).await.unwrap();
    let log = writer.handle();
    const N: u64 = 200_000;
    let rows: Vec<_> = (0..N).map(record).collect();
    let t = std::time::Instant::now();
    for r in rows {
        assert!(log.log(r));
    }
    log.flush().await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    let stats = writer.shutdown().await.unwrap();
    assert_eq!(store::count(&db).await.unwrap(), N);
    println!(
        "sqlite: {N} rows in {secs:.2} s = {:.0} rows/s ({} batches)",
        N as f64 / secs,
        stats.batches
    );
}

/// Rows accepted after `shutdown` was requested but before the writer saw
/// the request are still written, and later ones are refused (counted).
#[tokio::test(flavor = "current_thread")]
async fn rows_queued_behind_shutdown_are_written() {
    use std::future::Future;
    use std::task::{Context, Waker};
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_sqlite(&dir.path().join("x.db"))
        .await
        .unwrap();
    let writer = LogWriter::start(db.clone(), LogConfig::new(dir.path()))
        .await
        .unwrap();
    let log = writer.handle();
    for i in 0..5 {
        assert!(log.log(record(i)));
    }
    // Enqueue the shutdown request without letting the writer run (current
    // thread runtime, no await yet)...
    let mut shutdown = std::pin::pin!(writer.shutdown());
    assert!(
        shutdown
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    // ...and more rows behind it.
    for i in 5..10 {
        assert!(log.log(record(i)));
    }
    let stats = shutdown.await.unwrap();
    assert_eq!(stats.written, 10, "{stats:?}");
    assert_eq!(store::count(&db).await.unwrap(), 10);
    assert!(!log.log(record(10)));
    assert_eq!(log.stats().dropped_closed, 1);
}

/// Another process holding SQLite's write lock makes batches fail (busy):
/// they are spooled, and replayed once the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_sqlite_spools_then_replays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let db = Database::open_sqlite_with(&path, Duration::from_millis(50))
        .await
        .unwrap();
    let mut cfg = LogConfig::new(dir.path());
    cfg.retry_min = Duration::from_millis(20);
    cfg.retry_max = Duration::from_millis(100);
    let writer = LogWriter::start(db.clone(), cfg).await.unwrap();
    let log = writer.handle();
    for i in 0..100 {
        assert!(log.log(record(i)));
    }
    log.flush().await.unwrap();
    // A second connection (as another process would) takes the write lock.
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    for i in 100..1100 {
        assert!(log.log(record(i)));
    }
    log.flush().await.unwrap();
    let s = log.stats();
    assert!(s.spooled > 0 && s.db_errors > 0 && !s.db_up, "{s:?}");
    locker.execute_batch("COMMIT").unwrap();
    drop(locker);
    let drained = common::wait_for(Duration::from_secs(10), async || {
        let s = log.stats();
        s.spool_bytes == 0 && s.written == 1100
    })
    .await;
    let stats = writer.shutdown().await.unwrap();
    assert!(drained, "{stats:?}");
    assert_eq!(stats.replayed, stats.spooled);
    assert_eq!(stats.dropped(), 0);
    assert_eq!(store::count(&db).await.unwrap(), 1100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_labels_roundtrip_as_json_lists_and_count_per_label() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", default_sqlite_path(dir.path()).display());
    let db = Database::connect(&url, &DbOptions::default())
        .await
        .unwrap();
    common::check_multi_roundtrip(&db, dir.path()).await;
}

/// Batches go in as multi-row `INSERT`s of `SQLITE_ROWS_PER_INSERT` rows
/// plus single-row ones for the rest: every row lands once, in whichever
/// statement, a replayed batch stores nothing new, and the same row twice
/// inside one statement is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_row_inserts_are_idempotent_whatever_the_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_sqlite(&default_sqlite_path(dir.path()))
        .await
        .unwrap();
    db.migrate(store::MIGRATIONS).await.unwrap();
    let rows: Vec<_> = (0..501).map(record).collect();
    assert_ne!(rows.len() % store::SQLITE_ROWS_PER_INSERT, 0);
    store::insert_batch(&db, &rows, Default::default())
        .await
        .unwrap();
    store::insert_batch(&db, &rows[100..303], Default::default())
        .await
        .unwrap();
    let dup = vec![record(900); store::SQLITE_ROWS_PER_INSERT];
    store::insert_batch(&db, &dup, Default::default())
        .await
        .unwrap();
    assert_eq!(store::count(&db).await.unwrap(), 502);
    let (page, _) = store::export_page(&db, &Filter::default(), None, 10_000)
        .await
        .unwrap();
    let mut want = rows.clone();
    want.push(record(900));
    // The stored rows are the sent ones, field by field (text excepted:
    // `insert_batch` stores whatever the record holds).
    assert_eq!(page.len(), want.len());
    for (got, sent) in page.iter().zip(&want) {
        assert_eq!(got, sent);
    }

    // Groups whose rows differ in a value a uniform group binds once
    // (model, version, key id, text) bind it per row; each lands as sent.
    let mut mixed: Vec<_> = (1000..1000 + 3 * store::SQLITE_ROWS_PER_INSERT as u64)
        .map(record)
        .collect();
    let g = store::SQLITE_ROWS_PER_INSERT;
    mixed[1].model = "other".into();
    mixed[g + 2].version = "7".into();
    mixed[g + 3].api_key_id = None;
    mixed[2 * g + 4].text = Some("kept with --log-text".into());
    store::insert_batch(&db, &mixed, Default::default())
        .await
        .unwrap();
    let since = mixed[0].ts_micros;
    let (page, _) = store::export_page(&db, &Filter::default(), None, 10_000)
        .await
        .unwrap();
    let got: Vec<_> = page.into_iter().filter(|r| r.ts_micros >= since).collect();
    assert_eq!(got, mixed);
}

/// A log created before `0002` and `0003` loses `(model, ts)` (SQLite
/// never used it), then is rebuilt clustered by time: one `WITHOUT ROWID`
/// table keyed `(ts, request_id, item)`, no secondary index, every row kept
/// field for field and still idempotent on replay. A new log is built the
/// same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_logs_are_rebuilt_clustered_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_sqlite_path(dir.path());
    let indexes = |path: &std::path::Path| -> Vec<String> {
        let c = rusqlite::Connection::open(path).unwrap();
        let mut st = c
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = 'predictions' ORDER BY name",
            )
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let table_sql = |path: &std::path::Path| -> String {
        let c = rusqlite::Connection::open(path).unwrap();
        c.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'predictions'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let db = Database::open_sqlite(&path).await.unwrap();
    db.migrate(&store::MIGRATIONS[..1]).await.unwrap();
    // Out of time order, as replays from the spool may arrive.
    let mut rows: Vec<_> = (0..300).map(record).collect();
    for (i, r) in rows.iter_mut().enumerate() {
        r.ts_micros = 1_780_000_000_000_000 + ((i as i64 * 7919) % 300) * 1000;
    }
    rows[1].text = Some("kept with --log-text".into());
    store::insert_batch(&db, &rows, Default::default())
        .await
        .unwrap();
    assert!(indexes(&path).contains(&"predictions_model_ts".to_string()));
    db.migrate(store::MIGRATIONS).await.unwrap();
    assert_eq!(
        indexes(&path),
        Vec::<String>::new(),
        "the key is the table: no index beside it"
    );
    let sql = table_sql(&path);
    assert!(
        sql.contains("PRIMARY KEY (ts, request_id, item)") && sql.contains("WITHOUT ROWID"),
        "{sql}"
    );
    let (page, _) = store::export_page(&db, &Filter::default(), None, 10_000)
        .await
        .unwrap();
    let mut want = rows.clone();
    want.sort_by(|a, b| {
        (a.ts_micros, &a.request_id, a.item).cmp(&(b.ts_micros, &b.request_id, b.item))
    });
    assert_eq!(page, want, "every row kept, field for field");
    // A replay of rows the log already holds stores nothing.
    store::insert_batch(&db, &rows[..50], Default::default())
        .await
        .unwrap();
    assert_eq!(store::count(&db).await.unwrap(), 300);
    db.migrate(store::MIGRATIONS).await.unwrap();
    assert_eq!(store::count(&db).await.unwrap(), 300, "applied once");

    let fresh = dir.path().join("fresh.db");
    let db = Database::open_sqlite(&fresh).await.unwrap();
    db.migrate(store::MIGRATIONS).await.unwrap();
    assert_eq!(indexes(&fresh), Vec::<String>::new());
    assert_eq!(table_sql(&fresh), sql);
}
