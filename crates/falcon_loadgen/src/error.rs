//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can stop a load run before it produces a report.
///
/// Per-request failures (timeouts, refused connections, 5xx) are *not*
/// errors here: they are results, counted in the summary.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// The texts file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of the texts file is not a JSON object with a string `text`.
    #[error("{path}:{line}: {message}")]
    BadLine {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// No texts to send.
    #[error("the corpus is empty: nothing to send")]
    EmptyCorpus,
    /// The configuration cannot produce a meaningful run.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The target URL is not a plain `http://host:port` URL.
    #[error("invalid URL {url:?}: {message}")]
    Url { url: String, message: String },
    /// The Prometheus HTTP API failed or answered something unexpected.
    #[error("Prometheus query {query:?}: {message}")]
    Prometheus { query: String, message: String },
}
