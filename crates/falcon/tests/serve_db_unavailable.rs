//! A database problem never prevents `falcon serve` from starting: when the
//! default SQLite log cannot be opened at start-up (here: `falcon.db` is a
//! directory; in the field, another worker holding the lock past the busy
//! timeout), the server starts, answers, and spools the log's rows on disk
//! until the database opens (the same path as a Postgres server that is
//! down at start-up).

mod common;

use std::time::Duration;

use common::{Client, Falcon, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_and_spools_when_the_sqlite_log_cannot_be_opened() {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("falcon.db")).unwrap();
    let mut falcon =
        Falcon::start(&["--data-dir".to_owned(), data.path().display().to_string()]).await;
    let mut client = Client::new(falcon.addr);
    for i in 0..5 {
        let body = format!(r#"{{"text":"unopenable log {i}: WIN a FREE cruise"}}"#);
        let r = client
            .send("POST", "/v1/models/spam/predict", &[], body.as_bytes())
            .await
            .expect("predict");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let spooled = wait_for(Duration::from_secs(20), async || {
        falcon.metrics().await.log_rows("spooled") >= 5.0
    })
    .await;
    let metrics = falcon.metrics().await;
    assert!(spooled, "rows not spooled: {}", metrics.0);
    assert_eq!(metrics.log_rows("written"), 0.0);
    assert!(
        falcon
            .log_text()
            .contains("cannot be opened now; starting anyway"),
        "{}",
        falcon.log_text()
    );
    let status = falcon.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}");
}
