//! A report from synthetic run files with known numbers (the seed's study:
//! 3 workers → 5 workers) has exactly the expected tables and valid charts.

use std::collections::BTreeMap;
use std::path::Path;

use falcon_loadgen::RunReport;
use falcon_loadgen::report::{Latency, RunConfigRecord, SCHEMA, SecondPoint, Summary, WorkerStats};
use falcon_report::analysis::{Metric, improvement, repeatability};
use falcon_report::{ReportError, load_run, write};

fn run(label: &str, rps: f64, p95: f64, error_rate: f64, cpu: &[f64]) -> RunReport {
    let requests = (rps * 300.0) as u64;
    let failed = (requests as f64 * error_rate).round() as u64;
    let mut status = BTreeMap::new();
    status.insert("200".to_string(), requests - failed);
    if failed > 0 {
        status.insert("503".to_string(), failed);
    }
    RunReport {
        schema: SCHEMA.into(),
        label: label.into(),
        started_unix: 1.7e9,
        config: RunConfigRecord {
            target: "http://127.0.0.1:8080/predict".into(),
            mode: "closed".into(),
            vus: Some(50),
            think_ms: Some(250.0),
            rate: None,
            max_in_flight: None,
            duration_s: 300.0,
            warmup_s: 10.0,
            timeout_s: 10.0,
            repeat: 0.65,
            repeat_dist: "uniform".into(),
            unique: false,
            run_nonce: true,
            data_file: Some("bench/data/heldout.jsonl".into()),
            corpus_texts: 600,
            seed: 1,
        },
        summary: Summary {
            requests,
            ok: requests - failed,
            failed,
            error_rate,
            duration_s: 300.0,
            rps,
            latency_ms: Latency {
                avg: p95 / 2.0,
                min: 1.0,
                p50: p95 / 2.5,
                p90: p95 * 0.9,
                p95,
                p99: p95 * 1.5,
                max: p95 * 3.0,
            },
            status,
            cache_hits: 65,
            cache_misses: 35,
            cache_hit_rate: Some(0.65),
            warmup_requests: 100,
        },
        timeseries: (0..300)
            .map(|t| SecondPoint {
                t,
                requests: rps as u64 + t % 3,
                failed: 0,
                p50_ms: p95 / 2.5,
                p95_ms: p95 + (t % 7) as f64,
                p99_ms: p95 * 1.5,
                max_ms: p95 * 3.0,
                cache_hits: 1,
                cache_misses: 1,
            })
            .collect(),
        server: None,
        workers: cpu
            .iter()
            .enumerate()
            .map(|(i, c)| WorkerStats {
                name: format!("127.0.0.1:90{i:02}"),
                source: "proc".into(),
                cpu_percent: Some(*c),
                rss_avg_bytes: Some(30.0 * 1048576.0),
                rss_max_bytes: Some(32.0 * 1048576.0),
            })
            .collect(),
        worker_timeseries: Vec::new(),
        notes: BTreeMap::from([("workers".to_string(), cpu.len().to_string())]),
    }
}

fn save(dir: &Path, name: &str, r: &RunReport) -> std::path::PathBuf {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_string_pretty(r).unwrap()).unwrap();
    p
}

fn check_svg(path: &Path) {
    let svg = std::fs::read_to_string(path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("<text"), "labels are drawn");
}

fn check_png(path: &Path) {
    let png = std::fs::read(path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((w, h), (960, 540));
    // Not a blank canvas: a plain white 960×540 PNG compresses to ~2 KB.
    assert!(png.len() > 10_000, "{} bytes", png.len());
}

#[test]
fn two_runs_give_the_expected_tables_and_valid_charts() {
    let dir = tempfile::tempdir().unwrap();
    let base = save(
        dir.path(),
        "baseline",
        &run("3 workers", 170.0, 200.0, 0.008, &[80.0, 78.0, 76.0]),
    );
    let change = save(
        dir.path(),
        "five",
        &run(
            "5 workers",
            238.0,
            140.0,
            0.0,
            &[50.0, 52.0, 51.0, 49.0, 48.0],
        ),
    );
    let runs = vec![load_run(&base).unwrap(), load_run(&change).unwrap()];
    assert_eq!(improvement(Metric::P95, 200.0, 140.0), Some(30.0));
    assert_eq!(
        improvement(Metric::Rps, 170.0, 238.0).map(|v| (v * 1e6).round() / 1e6),
        Some(40.0)
    );
    assert_eq!(improvement(Metric::ErrorRate, 0.0, 1.0), None);

    let out = dir.path().join("report");
    let written = write(&runs, None, &out).unwrap();
    let md = std::fs::read_to_string(&written.markdown).unwrap();
    // Configuration.
    assert!(
        md.contains("| baseline | 3 workers | 50 VUs, think 250 ms | 300 s | 10 s |"),
        "{md}"
    );
    assert!(md.contains("workers=5"));
    // Results: requests, req/s, avg, p50, p90, p95, p99, max, errors, error rate.
    assert!(
        md.contains("| baseline | 3 workers | 51000 | 170 | 100 | 80 | 180 | 200 | 300 | 600 | 503: 408 | 0.80 % | 65.0 % | – | 234 | 32 |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| five | 5 workers | 71400 | 238 | 70 | 56 | 126 | 140 | 210 | 420 | 0 | 0.00 % |"
        ),
        "{md}"
    );
    // Improvement per metric.
    assert!(
        md.contains("| throughput (req/s) | 170 | 238 (+40.0 %) |"),
        "{md}"
    );
    assert!(
        md.contains("| latency p95 (ms) | 200 | 140 (+30.0 %) |"),
        "{md}"
    );
    assert!(
        md.contains("| latency p99 (ms) | 300 | 210 (+30.0 %) |"),
        "{md}"
    );
    assert!(
        md.contains("| error rate (%) | 0.80 | 0 (+100.0 %) |"),
        "{md}"
    );
    assert!(
        md.contains("| CPU, all workers (% of a core) | 234 | 250 (-6.8 %) |"),
        "{md}"
    );
    // Metrics no run has are left out.
    assert!(!md.contains("server p95 (ms, Prometheus) |"), "{md}");
    // Charts: every one linked, as valid SVG and PNG.
    for stem in [
        "latency_percentiles",
        "latency_over_time",
        "rps_over_time",
        "cpu_per_worker",
    ] {
        assert!(md.contains(&format!("]({stem}.svg)")), "{stem}");
        check_svg(&out.join(format!("{stem}.svg")));
        check_png(&out.join(format!("{stem}.png")));
    }
    assert_eq!(written.charts.len(), 8);
    let svg = std::fs::read_to_string(out.join("latency_percentiles.svg")).unwrap();
    assert!(svg.contains("baseline") && svg.contains("five") && svg.contains("p95"));
}

#[test]
fn repeats_give_mean_and_spread_of_p95() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = vec![
        load_run(&save(
            dir.path(),
            "b",
            &run("3 workers", 170.0, 200.0, 0.0, &[]),
        ))
        .unwrap(),
    ];
    for (i, p95) in [138.0, 140.0, 142.0].into_iter().enumerate() {
        let p = save(
            dir.path(),
            &format!("r{i}"),
            &run("5 workers", 240.0, p95, 0.0, &[]),
        );
        runs.push(load_run(&p).unwrap());
    }
    let rep = repeatability(&runs);
    assert_eq!(rep.len(), 2);
    let five = &rep[1];
    assert_eq!((five.label.as_str(), five.runs), ("5 workers", 3));
    assert_eq!(five.p95_mean, 140.0);
    assert_eq!((five.p95_min, five.p95_max), (138.0, 142.0));
    assert!((five.p95_stddev - 2.0).abs() < 1e-12);
    assert!((five.p95_spread_pct - 4.0 / 140.0 * 100.0).abs() < 1e-12);

    let out = dir.path().join("out");
    write(&runs, Some("3 workers"), &out).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| 5 workers | 3 | 140 | 138–142 | 2 | 2.9 % | 240 |"),
        "{md}"
    );
    assert!(
        md.contains("| 5 workers | 3 | 240 | 140 | 210 | +30.0 % | +41.2 % |"),
        "{md}"
    );
    // No worker data: no CPU chart.
    assert!(!out.join("cpu_per_worker.svg").exists());
}

#[test]
fn wrong_files_are_refused_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k6.json");
    std::fs::write(&p, r#"{"metrics": {}}"#).unwrap();
    let err = load_run(&p).unwrap_err();
    assert!(matches!(err, ReportError::Schema { .. }), "{err}");
    assert!(err.to_string().contains("k6.json"));
    assert!(matches!(
        write(&[], None, dir.path()),
        Err(ReportError::NoRuns)
    ));
    let r = load_run(&save(dir.path(), "a", &run("x", 1.0, 1.0, 0.0, &[]))).unwrap();
    assert!(matches!(
        write(&[r], Some("y"), dir.path()),
        Err(ReportError::NoBaseline(_))
    ));
}
