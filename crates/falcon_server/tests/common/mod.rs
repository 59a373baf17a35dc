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

// ---------------------------------------------------------------------------
// Over real TCP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A server running [`falcon_server::run`] on an ephemeral port.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<falcon_server::Stopped>>,
}

impl Server {
    pub async fn start(config: ServerConfig) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::new(config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(falcon_server::run(
            listener,
            async {
                let _ = rx.await;
            },
            state.clone(),
        ));
        let server = Server {
            addr,
            state,
            shutdown: Some(tx),
            handle,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = request(addr, "GET", "/readyz", &[], b"").await
                && r.status == 200
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "server never became ready"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }

    pub async fn stop(mut self) -> falcon_server::Stopped {
        let _ = self.shutdown.take().unwrap().send(());
        (&mut self.handle).await.unwrap().unwrap()
    }
}

fn parse_head(head: &str) -> (u16, http::HeaderMap) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = http::HeaderMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.append(
                http::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
                http::HeaderValue::from_str(v.trim()).unwrap(),
            );
        }
    }
    (status, headers)
}

/// One request on a fresh connection (`Connection: close`).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut conn = Conn::open(addr).await?;
    let mut h: Vec<(&str, &str)> = headers.to_vec();
    h.push(("connection", "close"));
    conn.send(method, path, &h, body).await
}

pub async fn post_tcp(addr: SocketAddr, path: &str, body: &serde_json::Value) -> Reply {
    request(
        addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await
    .unwrap()
}

/// A keep-alive HTTP/1.1 connection.
pub struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(s),
        })
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Reply> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.stream.get_mut().write_all(&bytes).await?;
        self.read_reply().await
    }

    pub async fn read_reply(&mut self) -> std::io::Result<Reply> {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let n = self.stream.read_line(&mut line).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed after {} bytes of response head",
                        head.len()
                    ),
                ));
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let (status, headers) = parse_head(head.trim_end());
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        self.stream.read_exact(&mut body).await?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub fn raw(&mut self) -> &mut TcpStream {
        self.stream.get_mut()
    }

    /// True when the server closed the connection (EOF or reset) within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue, // e.g. a 408/400 response before the close
            }
        }
    }
}
