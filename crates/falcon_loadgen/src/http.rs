//! The HTTP client: hyper's pooled client on tokio, HTTP/1.1 keep-alive,
//! `TCP_NODELAY`. One pool for the whole run so that every virtual user
//! reuses its connection, as a browser or k6 would.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::LoadgenError;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A pooled client; `max_idle` bounds idle connections kept per host.
pub fn client(max_idle: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(max_idle)
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector)
}

/// `base` + `path` as a plain-HTTP URI. A `base` whose own path already
/// ends with `path` (`--url http://host/predict` with the default
/// `--path /predict`) is taken as the full URL, rather than asking for
/// `/predict/predict` and measuring 404s.
pub fn target_uri(base: &str, path: &str) -> Result<Uri, LoadgenError> {
    let base = base.trim_end_matches('/');
    let base_path = base
        .split_once("://")
        .map_or(base, |(_, rest)| rest)
        .split_once('/')
        .map_or("", |(_, p)| p);
    let full = if !path.is_empty() && format!("/{base_path}").ends_with(path) {
        base.to_string()
    } else {
        format!("{base}{path}")
    };
    let uri: Uri = full
        .parse()
        .map_err(|e: http::uri::InvalidUri| LoadgenError::Url {
            url: full.clone(),
            message: e.to_string(),
        })?;
    match uri.scheme_str() {
        Some("http") => Ok(uri),
        _ => Err(LoadgenError::Url {
            url: full,
            message: "only http:// URLs are supported".into(),
        }),
    }
}

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer; `cache` is the `x-cache` header (`hit` → true).
    Status { code: u16, cache: Option<bool> },
    /// No answer within the deadline.
    Timeout,
    /// The connection could not be made.
    Connect,
    /// The connection broke mid-request.
    Io,
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Status { code, .. } if (200..300).contains(code))
    }

    /// Key in the summary's `status` map.
    pub fn key(&self) -> String {
        match self {
            Outcome::Status { code, .. } => code.to_string(),
            Outcome::Timeout => "timeout".into(),
            Outcome::Connect => "connect".into(),
            Outcome::Io => "io".into(),
        }
    }
}

/// POSTs `body` as JSON and reads the whole answer (reading it is what
/// returns the connection to the pool).
pub async fn post(client: &HttpClient, uri: &Uri, body: Bytes, timeout: Duration) -> Outcome {
    let req = Request::post(uri.clone())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .expect("a request from a valid URI is valid");
    let fut = async {
        let resp = match client.request(req).await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Outcome::Connect,
            Err(_) => return Outcome::Io,
        };
        let code = resp.status().as_u16();
        let cache = resp
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| match v {
                "hit" => Some(true),
                "miss" => Some(false),
                _ => None,
            });
        match resp.into_body().collect().await {
            Ok(_) => Outcome::Status { code, cache },
            Err(_) => Outcome::Io,
        }
    };
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or(Outcome::Timeout)
}

/// GETs `uri` and returns the body of a 2xx answer.
pub async fn get(client: &HttpClient, uri: Uri, timeout: Duration) -> Result<Bytes, String> {
    let req = Request::get(uri)
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let fut = async {
        let resp = client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| "timed out".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_uri_appends_the_path_once() {
        let t = |b: &str, p: &str| target_uri(b, p).unwrap().to_string();
        assert_eq!(t("http://h:8000", "/predict"), "http://h:8000/predict");
        assert_eq!(t("http://h:8000/", "/predict"), "http://h:8000/predict");
        assert_eq!(
            t("http://h:8000/predict", "/predict"),
            "http://h:8000/predict"
        );
        assert_eq!(
            t("http://h:8000/v1/models/spam/predict", "/predict"),
            "http://h:8000/v1/models/spam/predict"
        );
        // A prefix (a proxy's mount point) still gets the path.
        assert_eq!(t("http://h/falcon", "/predict"), "http://h/falcon/predict");
        // A host named like the path is a host, not a path.
        assert_eq!(t("http://predict", "/predict"), "http://predict/predict");
        assert_eq!(t("http://h:9090", ""), "http://h:9090/");
        assert!(target_uri("https://h", "/predict").is_err());
    }
}
