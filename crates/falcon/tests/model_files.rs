//! Models as people save them, through the real binary: `falcon predict
//! --model a --model b`, tuple and search files, `--labels`, `model
//! inspect A B`, and `falcon serve` over a repository whose `config.toml`
//! chains files and renames classes (JSON, OIP, Redis tier, prediction
//! log and `falcon log stats`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    root()
        .join("crates/falcon_engine/tests/fixtures")
        .join(name)
}

fn pipelines(name: &str) -> PathBuf {
    fixture(&format!("pipelines/{name}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn falcon(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_falcon"));
    cmd.args(args)
        .env_remove("FALCON_MODEL")
        .env_remove("FALCON_LABELS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("falcon runs");
    // A model that fails to load exits before reading its input.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().expect("falcon exits")
}

fn lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "falcon failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// The fixture texts as JSON Lines, and the expected outputs.
fn case(expected: &str, n: usize) -> (Vec<u8>, Value) {
    let texts: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(pipelines("texts.json")).unwrap()).unwrap();
    let mut input = Vec::new();
    for t in texts.iter().take(n) {
        serde_json::to_writer(&mut input, &json!({ "text": t })).unwrap();
        input.push(b'\n');
    }
    let e = serde_json::from_str(&std::fs::read_to_string(pipelines(expected)).unwrap()).unwrap();
    (input, e)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// Every line's label, and its probabilities or decision values, as
/// scikit-learn computed them.
fn assert_matches(out: &[Value], e: &Value) {
    let classes: Vec<String> = e["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    for (i, line) in out.iter().enumerate() {
        assert_eq!(line["label"], e["predict"][i], "line {i}");
        if let Some(p) = e["predict_proba"].as_array() {
            for (c, want) in classes.iter().zip(p[i].as_array().unwrap()) {
                let got = line["probabilities"][c].as_f64().unwrap();
                assert!(close(got, want.as_f64().unwrap()), "line {i} {c}");
            }
        }
        if let Some(d) = e["decision_function"].as_array() {
            if let Some(want) = d[i].as_f64() {
                // Binary: one value, not keyed by class.
                assert!(close(line["decision"].as_f64().unwrap(), want), "line {i}");
                continue;
            }
            for (c, want) in classes.iter().zip(d[i].as_array().unwrap()) {
                let got = line["decision"][c].as_f64().unwrap();
                assert!(close(got, want.as_f64().unwrap()), "line {i} {c}");
            }
        }
    }
}

#[test]
fn predict_chains_repeated_model_flags_and_the_env_list() {
    let (input, e) = case("two_files_tfidf_svc.expected.json", 12);
    let a = pipelines("two_files_tfidf_svc.part1.joblib");
    let b = pipelines("two_files_tfidf_svc.part2.joblib");
    let out = lines(&falcon(
        &["predict", "--model", s(&a), "--model", s(&b)],
        &[],
        &input,
    ));
    assert_eq!(out.len(), 12);
    assert_matches(&out, &e);
    let list = format!("{},{}", s(&a), s(&b));
    let env = lines(&falcon(&["predict"], &[("FALCON_MODEL", &list)], &input));
    assert_eq!(env, out);
    // The wrong order is refused with the reason, not answered.
    let wrong = falcon(
        &["predict", "--model", s(&b), "--model", s(&a)],
        &[],
        &input,
    );
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("not a classifier"), "{err}");
    assert!(wrong.stdout.is_empty());
}

#[test]
fn predict_serves_tuple_list_and_search_files() {
    for (file, expected) in [
        ("tuple_tfidf_lr.z.joblib", "tuple_tfidf_lr.expected.json"),
        ("list_count_mnb.z.joblib", "list_count_mnb.expected.json"),
        (
            "gridsearch_tfidf_lr.z.joblib",
            "gridsearch_tfidf_lr.expected.json",
        ),
        (
            "randomsearch_tfidf_lr.z.joblib",
            "randomsearch_tfidf_lr.expected.json",
        ),
    ] {
        let (input, e) = case(expected, 8);
        let out = lines(&falcon(
            &["predict", "--model", s(&pipelines(file))],
            &[],
            &input,
        ));
        assert_eq!(out.len(), 8, "{file}");
        assert_matches(&out, &e);
    }
}

#[test]
fn inspect_describes_a_chain_with_its_provenance() {
    let a = pipelines("two_files_tfidf_svc.part1.joblib");
    let b = pipelines("two_files_tfidf_svc.part2.joblib");
    let out = falcon(&["model", "inspect", s(&a), s(&b)], &[], b"");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "files:       2 files",
        "1. ",
        "two_files_tfidf_svc.part2.joblib",
        "supported:   yes",
        "provenance:  trained with scikit-learn 1.7.2; text rules of CPython",
        "classes:     easy-ham, hard-ham, spam",
        "LinearSVC",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    assert!(!text.contains("search:"), "{text}");
    let out = falcon(&["model", "inspect", s(&a), s(&b), "--json"], &[], b"");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["files"].as_array().unwrap().len(), 2);
    assert!(
        j["provenance"]
            .as_str()
            .unwrap()
            .starts_with("trained with scikit-learn 1.7.2"),
        "{j}"
    );
    assert_eq!(j["search"], Value::Null);
    // Reversed: refused, with the reason.
    let out = falcon(&["model", "inspect", s(&b), s(&a)], &[], b"");
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("supported:   no"), "{text}");
    assert!(text.contains("not a classifier"), "{text}");
}

#[test]
fn inspect_shows_a_searchs_best_params_and_score() {
    let grid = pipelines("gridsearch_tfidf_lr.z.joblib");
    let out = falcon(&["model", "inspect", s(&grid)], &[], b"");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("search:      GridSearchCV: best_params_ {'"),
        "{text}"
    );
    assert!(text.contains("best_score_ 0."), "{text}");
    assert!(
        text.contains("provenance:  trained with scikit-learn"),
        "{text}"
    );
    let out = falcon(&["model", "inspect", "--json", s(&grid)], &[], b"");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let search = j["search"].as_str().unwrap();
    assert!(search.starts_with("GridSearchCV: best_params_"), "{search}");
    let halving = pipelines("halvingsearch_tfidf_lr.z.joblib");
    let out = falcon(&["model", "inspect", "--json", s(&halving)], &[], b"");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        j["search"]
            .as_str()
            .unwrap()
            .starts_with("HalvingGridSearchCV: best_params_"),
        "{j}"
    );
}

#[test]
fn labels_file_renames_classes_in_predict() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("lr_no_intercept_bin_int.pkl");
    let input = b"{\"text\": \"free money now\"}\n{\"text\": \"see you at the meeting\"}\n";
    let plain = lines(&falcon(&["predict", "--model", s(&model)], &[], input));
    let json_map = dir.path().join("labels.json");
    std::fs::write(&json_map, r#"{"0": "ham", "1": "spam"}"#).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "default_version = 1\n[labels]\n0 = \"ham\"\n1 = \"spam\"\n",
    )
    .unwrap();
    for labels in [&json_map, &config] {
        let out = lines(&falcon(
            &["predict", "--model", s(&model), "--labels", s(labels)],
            &[],
            input,
        ));
        for (o, p) in out.iter().zip(&plain) {
            let want = ["ham", "spam"][p["label"].as_u64().unwrap() as usize];
            assert_eq!(o["label"], want);
            assert_eq!(o["probabilities"]["spam"], p["probabilities"]["1"]);
            assert_eq!(o["probabilities"]["ham"], p["probabilities"]["0"]);
            assert_eq!(o["decision"], p["decision"]);
        }
    }
    // A mapping naming an unknown class, or two classes one name: refused.
    let bad = dir.path().join("bad.toml");
    for (text, why) in [
        ("2 = \"x\"\n", "\"2\" is not a class of the model"),
        ("0 = \"x\"\n1 = \"x\"\n", "both be called \"x\""),
        ("0 = 1\n", "not a string"),
    ] {
        std::fs::write(&bad, text).unwrap();
        let out = falcon(
            &["predict", "--model", s(&model), "--labels", s(&bad)],
            &[],
            input,
        );
        assert!(!out.status.success(), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{text}: {err}");
    }
}

// ---------------------------------------------------------------------------
// `falcon serve` over a repository of a chained, renamed model.

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(models: &Path, data: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_falcon"))
            .args(["serve", "--addr", "127.0.0.1:0", "--models", s(models)])
            .args(["--data-dir", s(data)])
            .args(extra)
            .env("FALCON_LOG_FORMAT", "json")
            .env_remove("FALCON_DATABASE_URL")
            .current_dir(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("falcon serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["message"] == "listening"
                {
                    let _ = tx.send(v["addr"].as_str().unwrap().parse().unwrap());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server logs its address");
        let server = Server { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.call("GET", "/readyz", "").0 != 200 {
            assert!(Instant::now() < deadline, "never ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn call(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let (status, _, body) = self.call_with_head(method, path, body);
        (status, body)
    }

    /// `(status, head, body)`.
    fn call_with_head(&self, method: &str, path: &str, body: &str) -> (u16, String, String) {
        let Ok(mut s) = TcpStream::connect(self.addr) else {
            return (0, String::new(), String::new());
        };
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let status = out
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        (status, head.to_ascii_lowercase(), body.to_string())
    }

    fn json(&self, method: &str, path: &str, body: &str) -> Value {
        let (status, text) = self.call(method, path, body);
        assert_eq!(status, 200, "{path}: {text}");
        // Chunked bodies are not expected here: the server sends lengths.
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    fn stop(mut self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }
}

/// `svc/1/{vectorizer,classifier}.joblib` chained by `files`, with the
/// three classes renamed.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("svc/1");
    std::fs::create_dir_all(&v).unwrap();
    std::fs::copy(
        pipelines("two_files_tfidf_svc.part1.joblib"),
        v.join("vectorizer.joblib"),
    )
    .unwrap();
    std::fs::copy(
        pipelines("two_files_tfidf_svc.part2.joblib"),
        v.join("classifier.joblib"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("svc/config.toml"),
        "files = [\"vectorizer.joblib\", \"classifier.joblib\"]\n\
         [labels]\n\"easy-ham\" = \"ok\"\n\"hard-ham\" = \"ok-ish\"\nspam = \"junk\"\n",
    )
    .unwrap();
    dir
}

const NAMES: [&str; 3] = ["ok", "ok-ish", "junk"];

#[test]
fn serve_chains_files_renames_labels_and_logs_the_new_names() {
    let models = repo();
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(models.path(), data.path(), &[]);
    let texts = [
        "FREE money, click now",
        "Lunch tomorrow?",
        "FREE money, click now",
    ];
    for t in texts {
        let j = server.json(
            "POST",
            "/v1/models/svc/predict",
            &json!({ "text": t }).to_string(),
        );
        assert!(NAMES.contains(&j["label"].as_str().unwrap()), "{j}");
        let mut keys: Vec<&String> = j["decision"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["junk", "ok", "ok-ish"], "{j}");
    }
    let o = server.json(
        "POST",
        "/v2/models/svc/infer",
        &json!({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["hi"]}]})
            .to_string(),
    );
    let label = o["outputs"][0]["data"][0].as_str().unwrap();
    assert!(NAMES.contains(&label), "{o}");
    let meta = server.json("GET", "/v2/models/svc", "");
    assert_eq!(meta["parameters"]["classes"], json!(NAMES));
    assert_eq!(
        meta["parameters"]["files"],
        json!(["vectorizer.joblib", "classifier.joblib"])
    );

    // A hostile edit, then SIGHUP: refused, the previous load keeps serving.
    std::fs::write(
        models.path().join("svc/config.toml"),
        "files = [\"/etc/passwd\"]\n",
    )
    .unwrap();
    let ok = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let idx = server.json("POST", "/v2/repository/index", "{}");
        let reason = idx[0]["reason"].as_str().unwrap_or("");
        if reason.contains("absolute path") {
            assert_eq!(idx[0]["state"], "READY", "{idx}");
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not rescan: {idx}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let j = server.json(
        "POST",
        "/v1/models/svc/predict",
        r#"{"text": "still here"}"#,
    );
    assert!(NAMES.contains(&j["label"].as_str().unwrap()), "{j}");
    let (status, body) = server.call("POST", "/v2/repository/models/svc/load", "{}");
    assert_ne!(status, 200);
    assert!(body.contains("absolute path"), "{body}");
    server.stop();

    // The prediction log recorded the new names.
    let out = falcon(
        &[
            "log",
            "stats",
            "--format",
            "json",
            "--data-dir",
            s(data.path()),
        ],
        &[],
        b"",
    );
    let stats: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(stats["total"], 5, "{stats}");
    for row in stats["by_label"].as_array().unwrap() {
        assert!(NAMES.contains(&row["label"].as_str().unwrap()), "{stats}");
    }
}

/// The shared Redis tier stores class indices; a worker reading another's
/// entry answers with the renamed labels too.
#[test]
fn redis_tier_answers_with_the_new_names() {
    // As the other shared-state tests: skipped with a notice, except under
    // CI, where a missing service fails.
    let Ok(url) = std::env::var("FALCON_TEST_REDIS_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "FALCON_TEST_REDIS_URL must be set under CI"
        );
        eprintln!("FALCON_TEST_REDIS_URL not set: skipped");
        return;
    };
    let models = repo();
    let data = tempfile::tempdir().unwrap();
    let unique = format!(
        "redis tier label test {} {:?}",
        std::process::id(),
        Instant::now()
    );
    let body = json!({ "text": unique }).to_string();
    let first = Server::start(
        models.path(),
        data.path(),
        &["--redis-url", &url, "--no-log"],
    );
    let a = first.json("POST", "/v1/models/svc/predict", &body);
    first.stop();
    let second = Server::start(
        models.path(),
        data.path(),
        &["--redis-url", &url, "--no-log"],
    );
    let (status, head, raw) = second.call_with_head("POST", "/v1/models/svc/predict", &body);
    assert_eq!(status, 200);
    assert!(head.contains("x-cache-tier: redis"), "{head}");
    let b: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(a["label"], b["label"]);
    assert!(NAMES.contains(&b["label"].as_str().unwrap()), "{b}");
    assert_eq!(a["decision"], b["decision"]);
    second.stop();
}
