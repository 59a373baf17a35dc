//! Falcon's native scikit-learn engine.
//!
//! Loads a text-classification `Pipeline` saved by joblib or pickle — with
//! the safe unpickler of `falcon_pickle`, so nothing in the file runs — and
//! predicts exactly what scikit-learn predicts: the same labels, and
//! probabilities and decision values within 1e-9, because every step
//! reproduces scikit-learn's own arithmetic in the same order (see
//! `docs/ARCHITECTURE.md`). This crate knows nothing of HTTP.

mod attrs;
mod classify;
pub mod custom;
mod error;
mod features;
mod label;
mod model;
mod pipeline;
mod registry;
mod release;
mod row;
mod scratch;
mod sparse;
mod transform;

pub use classify::OutputKind;
pub use custom::{Resources, TextCode, TextValue};
pub use error::{EngineError, Result};
pub use label::Label;
pub use model::{
    Contribution, Input, Inspection, Model, MultiLabelPrediction, Output, OutputView, Prediction,
    PredictionView, inspect, inspect_chain, inspect_chain_with,
};
pub use registry::sklearn_policy;
