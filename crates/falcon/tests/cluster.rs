//! `falcon cluster` end to end with the real binary: up, status, load, down
//! leaves no process. With Debian's nginx installed (`apt-get install
//! nginx`), two workers behind nginx, and a worker killed under load costs
//! (almost) no failed request; without it, the test runs on the workers
//! alone and says so on stderr. Then `falcon tune` on one worker (no nginx)
//! produces a report.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

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

fn have_nginx() -> bool {
    Command::new("nginx")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn read_run(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn cluster_up_status_load_down() {
    let nginx = have_nginx();
    if !nginx {
        // `.ci/run` installs it: in CI a missing nginx is a failure.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "nginx is not installed but CI=true (apt-get install nginx)"
        );
        eprintln!("nginx not installed: testing the cluster without it (apt-get install nginx)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let d = dir.to_str().unwrap();
    let mut up = vec!["cluster", "up", "--workers", "2", "--run-dir", d];
    if nginx {
        up.push("--nginx");
    }
    ok(&falcon(&up));
    let st = state(&dir);
    let mut pids: Vec<i64> = st["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_i64().unwrap())
        .collect();
    if nginx {
        pids.push(st["nginx"]["pid"].as_i64().unwrap());
    }
    // With nginx, prometheus-nginx-exporter runs too when installed.
    let exporter = st["nginx_exporter"]["pid"].as_i64();
    if nginx
        && Command::new("prometheus-nginx-exporter")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    {
        let pid = exporter.expect("exporter installed but not started");
        let port = st["nginx_exporter"]["port"].as_u64().unwrap();
        let metrics = Command::new("curl")
            .args(["-sS", &format!("http://127.0.0.1:{port}/metrics")])
            .output()
            .unwrap();
        let metrics = String::from_utf8_lossy(&metrics.stdout);
        assert!(metrics.contains("nginx_up 1"), "{metrics}");
        assert!(dir.join("prometheus-nginx-targets.json").exists());
        // stub_status is on its own loopback port, not on the public one.
        let public = st["nginx"]["port"].as_u64().unwrap();
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("http://127.0.0.1:{public}/stub_status"),
            ])
            .output()
            .unwrap();
        assert_ne!(String::from_utf8_lossy(&out.stdout), "200");
        pids.push(pid);
    } else {
        assert!(exporter.is_none());
    }
    assert!(pids.len() >= if nginx { 3 } else { 2 });
    assert!(pids.iter().all(|&p| alive(p)));
    let status = ok(&falcon(&["cluster", "status", "--run-dir", d]));
    assert_eq!(
        status.matches(" yes    yes").count(),
        pids.len(),
        "{status}"
    );
    // A second `up` on a running cluster is refused.
    assert!(!falcon(&up).status.success());

    let json = tmp.path().join("run.json");
    let j = json.to_str().unwrap();
    if nginx {
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
        // Load through nginx; kill worker 1 1.5 s in.
        let victim = pids[0];
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            Command::new("kill")
                .args(["-9", &victim.to_string()])
                .status()
                .unwrap();
        });
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
            j,
        ]));
        killer.join().unwrap();
        let run = read_run(&json);
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
            "workers + nginx"
        );
        let status = falcon(&["cluster", "status", "--run-dir", d]);
        assert!(!status.status.success(), "a dead worker makes status fail");
    } else {
        ok(&falcon(&[
            "bench",
            "--cluster",
            d,
            "--rate",
            "50",
            "--duration",
            "2s",
            "--warmup",
            "0s",
            "--quiet",
            "--json",
            j,
        ]));
        let run = read_run(&json);
        assert_eq!(run["summary"]["requests"].as_u64(), Some(100));
        assert_eq!(run["summary"]["failed"].as_u64(), Some(0));
    }

    let down = ok(&falcon(&["cluster", "down", "--run-dir", d]));
    assert!(down.contains("cluster down"), "{down}");
    std::thread::sleep(Duration::from_millis(200));
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
    let run_dir = tmp.path().join("run");
    let text = ok(&falcon(&[
        "tune",
        "--workers",
        "1",
        "--repeat",
        "2",
        "--no-nginx",
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
        run_dir.to_str().unwrap(),
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
    let run = read_run(&out.join("runs/w1-r1.json"));
    assert_eq!(run["notes"]["workers"], "1");
    assert!(run["summary"]["requests"].as_u64().unwrap() > 20);
}
