//! Shared test helpers: temporary model repositories built from the bundled
//! demo model and the engine's parity fixtures, and request helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use axum::body::Body;
use falcon_server::{AppState, ServerConfig};
use http::{Request, Response};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bundled demo model (`ham`/`spam`, LogisticRegression on tf-idf).
pub fn spam_model() -> PathBuf {
    workspace().join("models/spam/1/model.joblib")
}

/// A parity fixture of the engine, e.g. `mnb_count_tri.pkl`.
pub fn fixture(name: &str) -> PathBuf {
    workspace()
        .join("crates/falcon_engine/tests/fixtures")
        .join(name)
}

/// A model repository in a temporary directory.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Self {
        Repo {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies `src` to `<name>/<version>/model.<ext of src>`.
    pub fn add(&self, name: &str, version: u64, src: &Path) -> &Self {
        let dir = self.path().join(name).join(version.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let file = if src.extension().is_some_and(|e| e == "pkl") {
            "model.pkl"
        } else {
            "model.joblib"
        };
        // Write then rename, as a deployment would, so a concurrent scan
        // never sees a half-written file.
        let tmp = dir.join(format!(".{file}.tmp"));
        std::fs::copy(src, &tmp).unwrap();
        std::fs::rename(&tmp, dir.join(file)).unwrap();
        self
    }

    pub fn config(&self, name: &str, toml: &str) -> &Self {
        std::fs::create_dir_all(self.path().join(name)).unwrap();
        std::fs::write(self.path().join(name).join("config.toml"), toml).unwrap();
        self
    }

    pub fn spam() -> Self {
        let r = Repo::new();
        r.add("spam", 1, &spam_model());
        r
    }
}

pub fn config(repo: &Repo) -> ServerConfig {
    ServerConfig {
        models_dir: repo.path().to_path_buf(),
        ..ServerConfig::default()
    }
}

/// A state with every model loaded.
pub async fn loaded(config: ServerConfig) -> AppState {
    let state = AppState::new(config);
    assert_eq!(state.reload().await.unwrap(), 0, "every model loads");
    state
}

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts the error envelope and returns its type.
    pub fn error_type(&self) -> String {
        let j = self.json();
        assert!(j["error"].is_string(), "no error message in {j}");
        j["error_type"].as_str().expect("error_type").to_string()
    }
}

pub async fn send(state: &AppState, req: Request<Body>) -> Reply {
    let resp: Response<Body> = falcon_server::router(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

pub async fn get(state: &AppState, uri: &str) -> Reply {
    send(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

pub async fn post_json(state: &AppState, uri: &str, body: serde_json::Value) -> Reply {
    post_raw(
        state,
        uri,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await
}

pub async fn post_raw(state: &AppState, uri: &str, content_type: &str, body: Vec<u8>) -> Reply {
    send(
        state,
        Request::post(uri)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// Held-out e-mails of the demo model.
pub fn heldout(n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(workspace().join("bench/data/heldout.jsonl")).unwrap();
    text.lines()
        .take(n)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}
