//! `falcon cluster` end to end with the real binary: up, status, load, down
//! leaves no process. With Debian's nginx installed (`apt-get install
//! nginx`), two workers behind nginx, and a worker killed under load costs
//! (almost) no failed request; without it, the same test runs on the workers
//! alone and says so. Then `falcon tune` on one worker produces a report.

use std::path::Path;
use std::process::Command;

fn falcon(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_falcon"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("running falcon")
}

fn ok(out: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

fn state(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("cluster.json")).unwrap()).unwrap()
}

#[test]
fn cluster_with_nginx_survives_a_dead_worker_and_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let d = dir.to_str().unwrap();
    ok(&falcon(&[
        "cluster",
        "up",
        "--workers",
        "2",
        "--nginx",
        "--run-dir",
        d,
    ]));
    let st = state(&dir);
    let pids: Vec<i64> = st["workers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(std::iter::once(&st["nginx"]))
        .map(|p| p["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|&p| alive(p)));
    let conf = std::fs::read_to_string(dir.join("nginx.conf")).unwrap();
    for needle in [
        "least_conn;",
        "keepalive 32;",
        "proxy_http_version 1.1;",
        "proxy_set_header Connection \"\";",
        "proxy_next_upstream error timeout http_502 http_503 non_idempotent;",
    ] {
        assert!(conf.contains(needle), "{needle} missing from\n{conf}");
    }
    // Load through nginx; kill worker 1 a second in.
    let victim = pids[0];
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        Command::new("kill")
            .args(["-9", &victim.to_string()])
            .status()
            .unwrap();
    });
    let json = tmp.path().join("run.json");
    ok(&falcon(&[
        "bench",
        "--cluster",
        d,
        "--rate",
        "100",
        "--duration",
        "5s",
        "--warmup",
        "500ms",
        "--quiet",
        "--json",
        json.to_str().unwrap(),
    ]));
    killer.join().unwrap();
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let requests = run["summary"]["requests"].as_u64().unwrap();
    let failed = run["summary"]["failed"].as_u64().unwrap();
    assert_eq!(requests, 500);
    assert!(
        (failed as f64) < requests as f64 * 0.001,
        "{failed} of {requests} failed"
    );
    assert_eq!(
        run["workers"].as_array().unwrap().len(),
        3,
        "workers + nginx sampled"
    );

    let status = falcon(&["cluster", "status", "--run-dir", d]);
    assert!(!status.status.success(), "a dead worker makes status fail");
    let down = ok(&falcon(&["cluster", "down", "--run-dir", d]));
    assert!(down.contains("cluster down"), "{down}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    for p in pids {
        assert!(!alive(p), "pid {p} still running after down");
    }
    assert!(!dir.join("cluster.json").exists());
    // Idempotent.
    ok(&falcon(&["cluster", "down", "--run-dir", d]));
}

#[test]
fn tune_writes_a_report_with_a_recommendation() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tune");
    let text = ok(&falcon(&[
        "tune",
        "--workers",
        "1",
        "--repeat",
        "2",
        "--duration",
        "2s",
        "--warmup",
        "500ms",
        "--vus",
        "4",
        "--think",
        "50ms",
        "--slo-p95",
        "5s",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--run-dir",
        tmp.path().join("run").to_str().unwrap(),
    ]));
    assert!(text.contains("**Recommendation: 1 worker(s)**"), "{text}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("## Repeatability") && md.contains("## Recommendation"),
        "{md}"
    );
    assert!(md.contains("| 1 worker | 2 |"), "{md}");
    for f in [
        "runs/w1-r1.json",
        "runs/w1-r2.json",
        "latency_percentiles.svg",
        "cpu_per_worker.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
}
