//! `falcon tune --reference`: the same sweep against the Python reference
//! (bench/reference/: scikit-learn + FastAPI under gunicorn with Uvicorn
//! workers) behind the same nginx, and the side-by-side table with the
//! speed-ups in the report. Needs nginx and the reference's Python
//! dependencies (`pip install -r bench/reference/requirements.txt`): without
//! them the test says so on stderr and checks nothing; under CI=true that
//! is a failure (`.ci/run` installs both).

use std::path::{Path, PathBuf};
use std::process::Command;

mod cluster_procs;
use cluster_procs::leftovers;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn tune_reference_puts_both_servers_side_by_side() {
    let nginx = Command::new("nginx")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    let python = Command::new("python3")
        .args(["-c", "import fastapi, uvicorn, gunicorn, sklearn, joblib"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !(nginx && python) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but nginx ({nginx}) or the reference's Python deps ({python}) are missing \
             (apt-get install nginx; pip install -r bench/reference/requirements.txt)"
        );
        eprintln!(
            "SKIP: needs nginx and the reference's Python deps \
             (apt-get install nginx; pip install -r bench/reference/requirements.txt)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tune");
    let run_dir = tmp.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_falcon"))
        .args([
            "tune",
            "--workers",
            "1",
            "--reference",
            "--duration",
            "3s",
            "--reference-duration",
            "2s",
            "--warmup",
            "1s",
            "--vus",
            "4",
            "--think",
            "20ms",
            "--slo-p95",
            "5s",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--run-dir",
            run_dir.to_str().unwrap(),
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(out.join(f)).unwrap()).unwrap()
    };
    let falcon = read("runs/w1-r1.json");
    let reference = read("runs/ref-w1-r1.json");
    assert_eq!(falcon["label"], "1 worker");
    assert_eq!(reference["label"], "reference 1 worker");
    assert_eq!(reference["notes"]["server"], "reference");
    assert_eq!(reference["notes"]["nginx"], "yes");
    assert_eq!(reference["summary"]["duration_s"].as_f64(), Some(2.0));
    assert_eq!(falcon["summary"]["duration_s"].as_f64(), Some(3.0));
    for r in [&falcon, &reference] {
        assert!(r["summary"]["requests"].as_u64().unwrap() > 20, "{r}");
        assert_eq!(r["summary"]["failed"].as_u64(), Some(0), "{r}");
        // The server (gunicorn master + its workers) and nginx, from /proc.
        let names: Vec<&str> = r["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"nginx"), "{names:?}");
    }
    assert_eq!(reference["workers"][0]["name"], "gunicorn");
    assert!(reference["workers"][0]["cpu_percent"].as_f64().unwrap() > 0.0);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Falcon vs the Python reference"), "{md}");
    assert!(md.contains("| 1 | Falcon | 1 |"), "{md}");
    assert!(md.contains("| 1 | reference | 1 |"), "{md}");
    // The speed-up row: five ratios, each a number followed by ×.
    let speedup = md
        .lines()
        .skip_while(|l| !l.starts_with("Speed-up of Falcon"))
        .find(|l| l.starts_with("| 1 |"))
        .unwrap_or_else(|| panic!("no speed-up row:\n{md}"));
    assert_eq!(speedup.matches('×').count(), 5, "{speedup}");
    // Both servers appear in the run tables and charts too.
    assert!(md.contains("reference 1 worker"), "{md}");
    assert!(out.join("latency_percentiles.png").exists());
    assert!(leftovers(&run_dir).is_empty(), "{:?}", leftovers(&run_dir));
}
