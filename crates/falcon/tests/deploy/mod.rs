//! Shared by the deployment tests: start a `falcon serve` command as given
//! (any address, any environment) and wait for `/readyz`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Falcon, Proc};

/// Spawns `cmd` (stdout: JSON log lines), waits for its "listening" line
/// and then for `/readyz` = 200. An unspecified listen address (0.0.0.0,
/// ::) is reached through loopback.
pub async fn spawn_ready(mut cmd: Command) -> Falcon {
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("spawn falcon serve");
    let stdout = child.stdout.take().expect("stdout");
    let proc = Proc { child };
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == "listening"
                && let Some(a) = v["addr"]
                    .as_str()
                    .and_then(|a| a.parse::<SocketAddr>().ok())
            {
                let _ = tx.send(a);
            }
            sink.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut proc = proc;
    let mut addr = loop {
        if let Ok(a) = rx.try_recv() {
            break a;
        }
        if let Some(status) = proc.child.try_wait().expect("try_wait") {
            panic!(
                "falcon serve exited ({status}) before listening: {:?}",
                log.lock().unwrap()
            );
        }
        assert!(
            Instant::now() < deadline,
            "falcon serve did not log its address: {:?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if addr.ip().is_unspecified() {
        addr = SocketAddr::new(
            if addr.is_ipv4() {
                "127.0.0.1".parse().unwrap()
            } else {
                "::1".parse().unwrap()
            },
            addr.port(),
        );
    }
    Falcon { proc, addr, log }.ready().await
}

pub fn json_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

pub fn bearer(token: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        ("authorization".into(), format!("Bearer {token}")),
    ]
}

/// The log lines (JSON) whose `message` contains `needle`.
pub fn log_lines(falcon: &Falcon, needle: &str) -> Vec<serde_json::Value> {
    falcon
        .log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"].as_str().is_some_and(|m| m.contains(needle)))
        .collect()
}
