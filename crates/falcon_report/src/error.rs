//! The one error type of this crate.

use std::path::PathBuf;

/// Why a report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a falcon bench run file: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: run file schema {found:?}, expected {expected:?}")]
    Schema {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
    #[error("no run files given")]
    NoRuns,
    #[error("baseline label {0:?} matches no run")]
    NoBaseline(String),
    #[error("drawing chart {chart}: {message}")]
    Chart { chart: String, message: String },
}
