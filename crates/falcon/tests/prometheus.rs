//! The monitoring stack against a real Prometheus (Debian's `prometheus`,
//! started by the test) scraping a real 2-worker cluster under load:
//! - `falcon bench --prometheus` gets the seed's server-side p95, consistent
//!   with the client-side p95;
//! - every PromQL expression of `deploy/` (recording rules, alert rules,
//!   Grafana dashboard) evaluates, and each one over a metric the server
//!   (or nginx, through prometheus-nginx-exporter) exports today returns data;
//! - `falcon report --dashboard` draws every panel from the real Prometheus
//!   over the run's window, and only panels on not-yet-exported metrics are
//!   empty.
//!
//! Without a `prometheus` executable on PATH the test says so on stderr and
//! checks nothing else (`apt-get install prometheus`); without nginx or
//! prometheus-nginx-exporter, the nginx expressions are not required to have
//! data. Under CI=true each missing tool is a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn falcon(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_falcon"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("running falcon");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "falcon {args:?}: {text}");
    text
}

/// Kills and reaps Prometheus, and stops the cluster, however the test ends.
struct Guard {
    prometheus: Option<Child>,
    cluster: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut p) = self.prometheus.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
        let _ = Command::new(env!("CARGO_BIN_EXE_falcon"))
            .args(["cluster", "down", "--run-dir", &self.cluster])
            .output();
    }
}

/// `expr:` values of a Prometheus rules file (plain or `|` block scalars).
fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let Some(v) = t.strip_prefix("expr:") else {
            continue;
        };
        let v = v.trim();
        if v == "|" {
            let indent = line.len() - t.len();
            let body: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.len() - l.trim_start().len() > indent && !l.trim().is_empty())
                .map(|l| l.trim())
                .collect();
            out.push(body.join(" "));
        } else {
            out.push(v.to_string());
        }
    }
    out
}

fn try_query(prom: &str, expr: &str) -> Result<serde_json::Value, String> {
    let out = Command::new("curl")
        .args(["-sS", "--get", "--data-urlencode"])
        .arg(format!("query={expr}"))
        .arg(format!("{prom}/api/v1/query"))
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{expr}: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn query(prom: &str, expr: &str) -> serde_json::Value {
    try_query(prom, expr).unwrap_or_else(|e| panic!("{e}"))
}

/// Metrics a worker exports only with a shared (Redis) cache tier: the
/// cluster gets one when `FALCON_TEST_REDIS_URL` is set (always in CI).
const REDIS_ONLY: [&str; 1] = ["cache_tier_errors_total"];

#[test]
fn prometheus_sees_the_load_and_every_deploy_expression_evaluates() {
    if !Command::new("prometheus")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        // `.ci/run` installs it: in CI a missing Prometheus is a failure.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "prometheus is not installed but CI=true (apt-get install prometheus)"
        );
        eprintln!("SKIP: prometheus not installed (apt-get install prometheus)");
        return;
    }
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let installed = |bin: &str, arg: &str| {
        Command::new(bin)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let nginx = installed("nginx", "-v");
    let exporter = nginx && installed("prometheus-nginx-exporter", "--version");
    if !exporter {
        assert!(
            !ci,
            "nginx or prometheus-nginx-exporter is not installed but CI=true \
             (apt-get install nginx prometheus-nginx-exporter)"
        );
        eprintln!(
            "nginx/prometheus-nginx-exporter not installed: nginx metrics not checked \
             (apt-get install nginx prometheus-nginx-exporter)"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let cluster_dir = tmp.path().join("cluster");
    let c = cluster_dir.to_str().unwrap().to_string();
    let mut guard = Guard {
        prometheus: None,
        cluster: c.clone(),
    };
    let mut up = vec!["cluster", "up", "--workers", "2", "--run-dir", &c];
    if nginx {
        up.push("--nginx");
    }
    let redis_url = std::env::var("FALCON_TEST_REDIS_URL").ok();
    if let Some(u) = &redis_url {
        up.extend(["--redis-url", u.as_str()]);
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("FALCON_TEST_REDIS_URL must be set in CI: every dashboard panel must have data");
    }
    let not_exported: &[&str] = if redis_url.is_some() {
        &[]
    } else {
        &REDIS_ONLY
    };
    falcon(&up);
    let targets = cluster_dir.join("prometheus-targets.json");
    let nginx_targets = cluster_dir.join("prometheus-nginx-targets.json");
    assert_eq!(
        nginx_targets.exists(),
        exporter,
        "the nginx exporter target is registered exactly when the exporter runs"
    );

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rules = root().join("deploy/prometheus/rules");
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [{r}/recording.yml, {r}/alerts.yml]\n\
             scrape_configs:\n  - job_name: falcon\n    file_sd_configs: [{{files: [{t}], refresh_interval: 1s}}]\n\
             \x20 - job_name: nginx\n    file_sd_configs: [{{files: [{n}], refresh_interval: 1s}}]\n",
            r = rules.display(),
            t = targets.display(),
            n = nginx_targets.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(tmp.path().join("prometheus.log")).unwrap();
    guard.prometheus = Some(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let prom = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let want = if exporter { "3" } else { "2" };
        if let Ok(up) = try_query(&prom, "sum(up)")
            && up["data"]["result"][0]["value"][1] == want
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped both workers (and the nginx exporter)"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let json = tmp.path().join("run.json");
    // By URL, not --cluster: with no PIDs to sample, the per-worker CPU and
    // RSS come from the workers' process metrics in Prometheus.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cluster_dir.join("cluster.json")).unwrap()).unwrap();
    let url = state["url"].as_str().unwrap().to_string();
    falcon(&[
        "bench",
        "--url",
        &url,
        "--vus",
        "20",
        "--think",
        "20ms",
        "--duration",
        "8s",
        "--warmup",
        "2s",
        "--quiet",
        "--prometheus",
        &prom,
        "--json",
        json.to_str().unwrap(),
    ]);
    let run: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let client_p95 = run["summary"]["latency_ms"]["p95"].as_f64().unwrap();
    let server_p95 = run["server"]["p95_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no server p95: {}", run["server"]));
    assert_eq!(
        run["server"]["p95_query"],
        "histogram_quantile(0.95, sum(rate(inference_duration_seconds_bucket[8s])) by (le))"
    );
    // Inference is part of the request: its p95 is positive and, allowing for
    // bucket interpolation, not above the client's.
    assert!(
        server_p95 > 0.0 && server_p95 <= client_p95 * 1.25,
        "server p95 {server_p95} ms vs client p95 {client_p95} ms"
    );

    let workers = run["workers"].as_array().unwrap();
    assert_eq!(
        workers.len(),
        2,
        "the two workers (job=falcon), not the exporter: {workers:?}"
    );
    for w in workers {
        assert_eq!(w["source"], "prometheus", "{w}");
        assert!(w["cpu_percent"].as_f64().is_some_and(|c| c >= 0.0), "{w}");
        let rss = w["rss_avg_bytes"].as_f64().unwrap_or(0.0);
        assert!(rss > 1e6 && rss < 1e9, "{w}");
    }

    // Let one more scrape and rule evaluation happen.
    std::thread::sleep(Duration::from_secs(2));
    let mut exprs: Vec<String> = Vec::new();
    for f in ["recording.yml", "alerts.yml"] {
        exprs.extend(rule_exprs(&std::fs::read_to_string(rules.join(f)).unwrap()));
    }
    let n_rules = exprs.len();
    assert_eq!(n_rules, 14, "8 recording + 6 alert rules");
    let dash: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("deploy/grafana/dashboards/falcon.json")).unwrap(),
    )
    .unwrap();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            exprs.push(
                t["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$__rate_interval", "30s"),
            );
        }
    }
    let mut empty = Vec::new();
    for (i, expr) in exprs.iter().enumerate() {
        let v = query(&prom, expr);
        assert_eq!(v["status"], "success", "{expr}: {v}");
        let has_data = !v["data"]["result"].as_array().unwrap().is_empty();
        let future =
            not_exported.iter().any(|m| expr.contains(m)) || (!exporter && expr.contains("nginx_"));
        // Alert expressions compare against thresholds this light load does
        // not cross (no errors, p95 far below the SLO): they evaluate, empty.
        let is_alert = (8..n_rules).contains(&i);
        if !has_data && !future && !is_alert {
            empty.push(expr.clone());
        }
    }
    assert!(empty.is_empty(), "expressions without data: {empty:#?}");

    // The dashboard as pictures: every panel over the run's window.
    let out = tmp.path().join("report");
    let text = falcon(&[
        "report",
        json.to_str().unwrap(),
        "--dashboard",
        "deploy/grafana/dashboards/falcon.json",
        "--prometheus",
        &prom,
        "--out",
        out.to_str().unwrap(),
    ]);
    let panels = dash["panels"].as_array().unwrap();
    assert!(
        text.contains(&format!("({} panels,", panels.len())),
        "{text}"
    );
    // Only panels all of whose queries are on metrics not exported by this
    // cluster may be empty.
    let expected_empty: Vec<&str> = panels
        .iter()
        .filter(|p| {
            p["targets"].as_array().unwrap().iter().all(|t| {
                let e = t["expr"].as_str().unwrap();
                not_exported.iter().any(|m| e.contains(m)) || (!exporter && e.contains("nginx_"))
            })
        })
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    let empty_line = text
        .lines()
        .find(|l| l.starts_with("dashboard snapshot:"))
        .unwrap_or_else(|| panic!("{text}"));
    let reported_empty: Vec<&str> = empty_line
        .split_once("; no data: ")
        .map(|(_, l)| l.trim_end_matches(')').split(", ").collect())
        .unwrap_or_default();
    assert_eq!(reported_empty, expected_empty, "{text}");
    let md = std::fs::read_to_string(out.join("dashboard/dashboard.md")).unwrap();
    for p in panels {
        let title = p["title"].as_str().unwrap();
        assert!(
            md.contains(&format!("## {title}")),
            "{title} missing:\n{md}"
        );
    }
    let pngs = std::fs::read_dir(out.join("dashboard"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert_eq!(pngs, panels.len());
    assert!(out.join("report.md").exists());
}
