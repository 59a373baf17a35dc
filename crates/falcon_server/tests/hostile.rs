//! Hostile input over real TCP: nothing panics the process, stalls other
//! clients, or grows memory without bound.

mod common;

use std::time::{Duration, Instant};

use common::*;
use falcon_server::ServerConfig;
use serde_json::json;
use tokio::io::AsyncWriteExt;

fn hostile_config(repo: &Repo) -> ServerConfig {
    ServerConfig {
        // Long enough that a request stalled behind a slow client (which
        // would take ≥ 2 s) is told apart from a merely slow CI machine (the
        // 1 s bound of `assert_responsive`).
        header_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(3),
        max_connections: 64,
        ..config(repo)
    }
}

/// A well-behaved request must keep being answered quickly.
async fn assert_responsive(addr: std::net::SocketAddr) {
    let started = Instant::now();
    let r = post_tcp(addr, "/predict", &json!({"text": "still there?"})).await;
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_without_reading_them() {
    let repo = Repo::spam();
    let server = Server::start(hostile_config(&repo)).await;
    // 20 MB declared: refused from the header alone.
    let mut conn = Conn::open(server.addr).await.unwrap();
    conn.raw()
        .write_all(b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 20000000\r\n\r\n{\"text\": \"")
        .await
        .unwrap();
    let r = conn.read_reply().await.unwrap();
    assert_eq!((r.status, r.error_type().as_str()), (413, "body_too_large"));
    // Chunked (no length): cut off once the limit is crossed.
    let mut conn = Conn::open(server.addr).await.unwrap();
    conn.raw()
        .write_all(b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 1 << 16, "a".repeat(1 << 16));
    for _ in 0..40 {
        if conn.raw().write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let r = conn.read_reply().await.unwrap();
    assert_eq!(r.status, 413);
    // A 20 MB string in a JSON body.
    let big = json!({"text": "x".repeat(20 << 20)}).to_string();
    let r = request(
        server.addr,
        "POST",
        "/predict",
        &[("content-type", "application/json")],
        big.as_bytes(),
    )
    .await;
    match r {
        Ok(r) => assert_eq!(r.status, 413),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{e}"
        ),
    }
    assert_responsive(server.addr).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nesting_batches_and_encodings() {
    let repo = Repo::spam();
    let server = Server::start(hostile_config(&repo)).await;
    let addr = server.addr;
    let ct = [("content-type", "application/json")];
    // 1 MB of '[' inside a field: refused by the depth limit, no stack overflow.
    let deep = format!("{{\"text\": \"a\", \"x\": {}", "[".repeat(1 << 20));
    let r = request(addr, "POST", "/predict", &ct, deep.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (400, "malformed_request")
    );
    let deep = format!(
        r#"{{"inputs":[{{"name":"text","shape":[1],"datatype":"BYTES","data":{}"a"{}}}]}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let r = request(addr, "POST", "/v2/models/spam/infer", &ct, deep.as_bytes())
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    // 100k-item batch (1.2 MB, under the body limit): refused as a batch.
    let texts: Vec<&str> = vec!["spam?"; 100_000];
    let r = post_tcp(addr, "/predict", &json!({"texts": texts})).await;
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (413, "batch_too_large")
    );
    let r = post_tcp(
        addr,
        "/v2/models/spam/infer",
        &json!({"inputs": [{"name": "text", "shape": [100_000], "datatype": "BYTES", "data": texts}]}),
    )
    .await;
    assert_eq!(r.status, 413);
    // Invalid UTF-8, NUL bytes, lone surrogates.
    let r = request(addr, "POST", "/predict", &ct, b"{\"text\": \"\xc3\x28\"}")
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    let r = request(addr, "POST", "/predict", &ct, br#"{"text": "\ud800"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    let r = post_tcp(addr, "/predict", &json!({"text": "a\u{0}b\u{0}\u{10FFFF}"})).await;
    assert_eq!(r.status, 200);
    // Binary tensor data that lies about lengths.
    let r = request(
        addr,
        "POST",
        "/v2/models/spam/infer",
        &[("inference-header-content-length", "18446744073709551615")],
        b"{}",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    let head = r#"{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":8}}]}"#;
    let mut body = head.as_bytes().to_vec();
    body.extend_from_slice(&u32::MAX.to_le_bytes());
    body.extend_from_slice(b"abcd");
    let hl = head.len().to_string();
    let r = request(
        addr,
        "POST",
        "/v2/models/spam/infer",
        &[("inference-header-content-length", &hl)],
        &body,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    // Garbage that is not HTTP at all.
    let mut conn = Conn::open(addr).await.unwrap();
    conn.raw()
        .write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")
        .await
        .unwrap();
    assert!(conn.closed_within(Duration::from_secs(2)).await);
    // Huge headers.
    let mut conn = Conn::open(addr).await.unwrap();
    let _ = conn
        .raw()
        .write_all(
            format!(
                "GET /healthz HTTP/1.1\r\nx-big: {}\r\n\r\n",
                "a".repeat(200_000)
            )
            .as_bytes(),
        )
        .await;
    assert!(conn.closed_within(Duration::from_secs(2)).await);
    assert_responsive(addr).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_do_not_stall_others() {
    let repo = Repo::spam();
    let server = Server::start(hostile_config(&repo)).await;
    let addr = server.addr;
    // Slowloris: headers that never end.
    let mut lorises = Vec::new();
    for _ in 0..20 {
        let mut c = Conn::open(addr).await.unwrap();
        c.raw()
            .write_all(b"POST /predict HTTP/1.1\r\nhost: x\r\nx-a: ")
            .await
            .unwrap();
        lorises.push(c);
    }
    // Trickled bodies: one byte every 100 ms.
    let mut tricklers = Vec::new();
    for _ in 0..10 {
        let mut c = Conn::open(addr).await.unwrap();
        c.raw()
            .write_all(b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{")
            .await
            .unwrap();
        tricklers.push(c);
    }
    let trickle = tokio::spawn(async move {
        let started = Instant::now();
        let mut replies = Vec::new();
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            for c in tricklers.iter_mut() {
                let _ = c.raw().write_all(b" ").await;
            }
            if started.elapsed() > Duration::from_millis(3500) {
                break;
            }
        }
        for mut c in tricklers {
            replies.push(c.read_reply().await.map(|r| r.status));
        }
        (replies, started.elapsed())
    });
    // Meanwhile others are served promptly.
    for _ in 0..10 {
        assert_responsive(addr).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for mut c in lorises {
        assert!(
            c.closed_within(Duration::from_secs(4)).await,
            "slowloris connection closed by the header timeout"
        );
    }
    // A connection that never sends a byte, and one left idle after a
    // request (keep-alive), are closed too: neither holds a slot forever.
    let mut silent = Conn::open(addr).await.unwrap();
    let mut idle = Conn::open(addr).await.unwrap();
    let r = idle
        .send(
            "POST",
            "/predict",
            &[("content-type", "application/json")],
            br#"{"text":"a"}"#,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(
        silent.closed_within(Duration::from_secs(4)).await,
        "silent connection closed"
    );
    assert!(
        idle.closed_within(Duration::from_secs(4)).await,
        "idle keep-alive connection closed"
    );
    let (replies, _) = trickle.await.unwrap();
    for r in replies {
        assert_eq!(r.unwrap(), 504, "trickled body hits the request deadline");
    }
    assert_responsive(addr).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_flood_is_bounded() {
    let repo = Repo::spam();
    let server = Server::start(hostile_config(&repo)).await;
    let addr = server.addr;
    // Fill every connection slot with idle connections that sent a partial head.
    let mut idle = Vec::new();
    for _ in 0..64 {
        let mut c = Conn::open(addr).await.unwrap();
        c.raw()
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        idle.push(c);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Beyond the limit, new connections are closed at once.
    let mut extra = Conn::open(addr).await.unwrap();
    let _ = extra
        .raw()
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    assert!(extra.closed_within(Duration::from_millis(1500)).await);
    // Once the flood goes away, the server serves again.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_responsive(addr).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_memory_stays_bounded_under_unique_texts() {
    let repo = Repo::spam();
    let server = Server::start(ServerConfig {
        cache_bytes: 256 << 10,
        ..config(&repo)
    })
    .await;
    let filler = "lorem ipsum ".repeat(500);
    let mut conn = Conn::open(server.addr).await.unwrap();
    for i in 0..300 {
        let body = json!({"text": format!("{i} {filler}")}).to_string();
        let r = conn
            .send(
                "POST",
                "/predict",
                &[("content-type", "application/json")],
                body.as_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let m = String::from_utf8(conn.send("GET", "/metrics", &[], b"").await.unwrap().body).unwrap();
    let bytes: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("inference_cache_bytes "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(bytes > 0 && bytes <= 256 << 10, "cache holds {bytes} bytes");
    server.stop().await;
}
