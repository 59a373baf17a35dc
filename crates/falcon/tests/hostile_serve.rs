//! A hostile model file never takes the server down (issue #14): the real
//! `falcon serve`, under continuous `/predict` load on a good model, is
//! made to load the manifest's most dangerous files (the million-word
//! recursion, the memory bombs, the models the engine must refuse) — first
//! through the OIP repository API (`POST /v2/repository/models/{name}/load`),
//! then by a `SIGHUP` rescan of a repository containing them. Both as new
//! models and as a new file for an already-served model (`victim`), which
//! must keep serving its previous load.
//!
//! Asserted: zero failed requests to the good models, each hostile load
//! answered as the manifest expects (a clear error, or served for the valid
//! ones), the server process alive throughout.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use common::{Client, Falcon, spawn_load, workspace};

/// The most dangerous files of `tests/fixtures/hostile/manifest.json`; the
/// one that used to abort the process last, so that the others are
/// exercised even while it still does.
const DANGEROUS: &[&str] = &[
    "s0_arrays_15k.pkl",
    "xz_bomb.xz.joblib",
    "tuple1_bomb.z.pkl",
    "shared_string.z.pkl",
    "hashing_int8_coef.z.joblib",
    "tuple1_bomb_under_cap.z.pkl",
    "shared_string_under_cap.z.pkl",
    "hashing_int8_coef_under_cap.z.joblib",
    "one_class.pkl",
    "nan_coef.pkl",
    "recursion_pair_vocab.z.joblib",
];

struct Hostile {
    file: PathBuf,
    /// `None`: the manifest says it serves; else substrings of which the
    /// error must contain one.
    refused: Option<Vec<String>>,
}

fn hostile(name: &str) -> Hostile {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let case = m["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the manifest"));
    let refused = (case["expect"] == "refused").then(|| {
        case["error_contains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    });
    Hostile {
        file: dir.join(name),
        refused,
    }
}

/// Installs `src` as `repo/name/1/model.joblib|pkl` (by a rename, as a
/// deploy would: a reader never sees half a file). Any previous model file
/// of that version is removed (a `.pkl` must not hide behind a `.joblib`).
fn install(repo: &Path, name: &str, src: &Path) {
    let dir = repo.join(name).join("1");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["model.joblib", "model.pkl"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let target = if src.extension().is_some_and(|e| e == "pkl") {
        "model.pkl"
    } else {
        "model.joblib"
    };
    std::fs::copy(src, dir.join(".incoming")).unwrap();
    std::fs::rename(dir.join(".incoming"), dir.join(target)).unwrap();
}

fn demo_model() -> PathBuf {
    workspace().join("models/spam/1/model.joblib")
}

/// `name` from the file name: `xz_bomb.xz.joblib` → `evil_xz_bomb`.
fn model_name(prefix: &str, file: &str) -> String {
    format!("{prefix}_{}", file.split('.').next().unwrap())
}

/// POSTs `body`; a connection error fails the test, naming the server's
/// exit status when it died.
async fn post(falcon: &mut Falcon, path: &str, body: &str) -> (u16, String) {
    match Client::new(falcon.addr)
        .send("POST", path, &[], body.as_bytes())
        .await
    {
        Ok(r) => (r.status, String::from_utf8_lossy(&r.body).into_owned()),
        Err(e) => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_alive(falcon, &format!("answering POST {path}"));
            panic!("POST {path}: {e:?}");
        }
    }
}

fn assert_alive(falcon: &mut Falcon, when: &str) {
    if let Some(status) = falcon.proc.child.try_wait().unwrap() {
        let log = falcon.log_text();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        panic!("falcon serve died {when}: {status:?}; last log lines: {tail:?}");
    }
}

/// The victim (a served model whose file was replaced by a hostile one)
/// still answers from its previous load.
async fn assert_victim_serves(falcon: &mut Falcon, when: &str) {
    let (status, body) = post(
        falcon,
        "/v1/models/victim/predict",
        r#"{"text":"free prize"}"#,
    )
    .await;
    assert_eq!(status, 200, "victim after {when}: {body}");
}

fn check_answer(h: &Hostile, status: u16, body: &str, what: &str) -> Option<String> {
    match &h.refused {
        None if status == 200 => None,
        None => Some(format!("{what}: expected to load, got {status} {body}")),
        Some(needles) => {
            let error = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if status != 400 {
                Some(format!("{what}: expected 400, got {status} {body}"))
            } else if !needles.iter().any(|n| error.contains(n.as_str())) {
                Some(format!(
                    "{what}: error {error:?} contains none of {needles:?}"
                ))
            } else {
                None
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_models_never_disturb_the_served_ones() {
    let repo = tempfile::tempdir().unwrap();
    install(repo.path(), "spam", &demo_model());
    install(repo.path(), "victim", &demo_model());
    let mut falcon = Falcon::start_in(repo.path(), &["--no-log".to_owned()]).await;
    let addr = falcon.addr;

    let stop = Arc::new(AtomicBool::new(false));
    let load = spawn_load(
        addr,
        2,
        Duration::from_millis(2),
        Vec::new(),
        common::unique_batches("hostile"),
        stop.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    let mut problems = Vec::new();
    let started = Instant::now();

    // 1. Through the repository API: as a new model, and over the victim.
    for file in DANGEROUS {
        let h = hostile(file);
        let name = model_name("evil", file);
        install(repo.path(), &name, &h.file);
        let t = Instant::now();
        let (status, body) = post(
            &mut falcon,
            &format!("/v2/repository/models/{name}/load"),
            "",
        )
        .await;
        eprintln!(
            "load {name}: {status} in {:.2} s: {}",
            t.elapsed().as_secs_f64(),
            body.chars().take(200).collect::<String>()
        );
        problems.extend(check_answer(&h, status, &body, &format!("load {name}")));
        assert_alive(&mut falcon, &format!("loading {file}"));

        install(repo.path(), "victim", &h.file);
        let (status, body) = post(&mut falcon, "/v2/repository/models/victim/load", "").await;
        problems.extend(check_answer(
            &h,
            status,
            &body,
            &format!("load victim = {file}"),
        ));
        assert_alive(&mut falcon, &format!("loading {file} over victim"));
        if h.refused.is_some() {
            assert_victim_serves(&mut falcon, &format!("its file became {file}")).await;
        }
        // Back to the good file, reloaded, for the next round.
        install(repo.path(), "victim", &demo_model());
        let (status, body) = post(&mut falcon, "/v2/repository/models/victim/load", "").await;
        assert_eq!(status, 200, "reloading the good victim: {body}");
    }

    // 2. SIGHUP with every dangerous file in the repository at once, and
    // the victim's file replaced by one of them.
    for file in DANGEROUS {
        install(repo.path(), &model_name("hup", file), &hostile(file).file);
    }
    install(repo.path(), "victim", &hostile("s0_arrays_15k.pkl").file);
    let log_len = falcon.log.lock().unwrap().len();
    falcon.proc.signal(rustix::process::Signal::HUP);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert_alive(&mut falcon, "rescanning after SIGHUP");
        let done = falcon.log.lock().unwrap()[log_len..].iter().any(|l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| {
                v["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("rescan done"))
            })
        });
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP rescan did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = post(&mut falcon, "/v2/repository/index", "").await;
    assert_eq!(status, 200, "{body}");
    let index: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    for file in DANGEROUS {
        let h = hostile(file);
        let name = model_name("hup", file);
        let entry = index.iter().find(|e| e["name"] == name.as_str());
        let state = entry.and_then(|e| e["state"].as_str()).unwrap_or("missing");
        let reason = entry.and_then(|e| e["reason"].as_str()).unwrap_or("");
        match &h.refused {
            None if state != "READY" => {
                problems.push(format!("SIGHUP {name}: expected READY, {state}: {reason}"));
            }
            Some(needles)
                if state != "UNAVAILABLE"
                    || !needles.iter().any(|n| reason.contains(n.as_str())) =>
            {
                problems.push(format!(
                    "SIGHUP {name}: expected UNAVAILABLE naming one of {needles:?}, {state}: {reason:?}"
                ));
            }
            _ => {}
        }
    }
    assert_victim_serves(&mut falcon, "SIGHUP with its file replaced").await;
    let victim = index.iter().find(|e| e["name"] == "victim").unwrap();
    assert_eq!(victim["state"], "READY", "{victim}");
    assert!(
        victim["reason"]
            .as_str()
            .unwrap_or("")
            .contains("still serving the previous load"),
        "{victim}"
    );

    stop.store(true, SeqCst);
    let result = load.await.unwrap();
    assert_alive(&mut falcon, "at the end");
    eprintln!(
        "{} requests to spam in {:.1} s while loading hostile files",
        result.shots.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(result.ok().count() > 0, "no request was answered");
    result.assert_all_ok("/predict on the good model during hostile loads");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let status = falcon.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}");
}
