//! The engine's one error type.

use thiserror::Error;

/// Everything that can go wrong loading or describing a model.
///
/// Prediction itself cannot fail once a model is loaded: every check that
/// could fail (shapes, parameters, patterns) runs at load time, so a bad model
/// is refused before it can serve a wrong answer.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The file could not be read from disk.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a pickle/joblib file the safe unpickler accepts
    /// (corrupted, truncated, or naming a class outside the allowlist).
    #[error("{0}")]
    Pickle(#[from] falcon_pickle::PickleError),
    /// The file unpickled, but its contents are not a model this engine can
    /// reproduce exactly (unknown estimator, callable parameter, bad shape).
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// A `token_pattern` that cannot be reproduced with Python `re` semantics.
    #[error("unsupported token_pattern {pattern:?}: {source}")]
    Pattern {
        pattern: String,
        #[source]
        source: falcon_text::TextError,
    },
    /// Tokenizing one text failed: a backtracking `token_pattern` ran out
    /// of its step budget. The text is refused rather than tokenized
    /// differently from Python.
    #[error("cannot tokenize this text: {0}")]
    Text(falcon_text::TextError),
    /// The model's answer for one text is NaN or infinite (its parameters
    /// are finite, but large enough to overflow on this text). Refused
    /// rather than served as `null`.
    #[error("cannot score this text: {0}")]
    NonFinite(String),
    /// `--explain` asked of a model whose score is not a sum of
    /// per-feature contributions (a meta-estimator, a dense transform):
    /// refused rather than answered with a wrong explanation.
    #[error("explanations are not supported for this model: {0}")]
    ExplainUnsupported(String),
    /// A class renaming (`labels` in a model's `config.toml`) that names no
    /// class of the model or gives two classes one name: refused rather
    /// than served as mislabelled predictions.
    #[error("invalid labels mapping: {0}")]
    Labels(String),
    /// The input does not fit the model: a record with a missing or
    /// unknown column, a record sent to a text model, a text sent to a
    /// model that reads several columns. The server maps it to 400.
    #[error("bad input: {0}")]
    Input(String),
    /// A single-label answer asked of a model that gives several labels
    /// per text (multi-label, multi-output): use `Model::predict_output`.
    #[error("{0}")]
    MultiOutput(String),
    /// The model's answer for one text is not determined by its
    /// arithmetic: scikit-learn's own answer depends on the machine (the
    /// k-nearest neighbours of `KNeighborsClassifier` at a distance tie
    /// between classes, broken by numpy's CPU-specific `argpartition`).
    /// Refused rather than guessed.
    #[error("cannot score this text exactly: {0}")]
    Undetermined(String),
    /// A declaration of the user's own text code (`[callables]`,
    /// `[preprocess]`, see `crate::custom`) that cannot be compiled or does
    /// not fit the model: an unknown operation or argument, a shape
    /// mismatch, a class state that differs from the pickle.
    #[error("text code declaration: {0}")]
    Declaration(String),
    /// The model names the user's own Python code (a tokenizer function, a
    /// custom class) that no declaration covers. `help` shows the
    /// declaration to fill in.
    #[error("undeclared callable {name}: {help}")]
    Undeclared { name: String, help: String },
    /// An error in one file of a model saved as several.
    #[error("{path}: {source}")]
    InFile {
        path: String,
        #[source]
        source: Box<EngineError>,
    },
}

impl EngineError {
    pub(crate) fn unsupported(msg: impl Into<String>) -> Self {
        EngineError::Unsupported(msg.into())
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
