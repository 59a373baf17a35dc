//! Steps between the vectorizer and the classifier: feature row in,
//! feature row out (selectors, scalers, decompositions, normalisers).
//!
//! One module per family under `transform/`, each registered in
//! `crate::registry`. A transform receives the row in the form scikit-learn
//! would hand it (sparse after a vectorizer, dense after `TruncatedSVD`)
//! and returns what scikit-learn's `transform` returns for that form, in
//! its precision.

mod decompose;
mod scale;
mod select;

use falcon_pickle::{Object, Value};

pub(crate) use decompose::truncated_svd;
pub(crate) use scale::{max_abs_scaler, normalizer, standard_scaler};
pub(crate) use select::{
    generic_univariate_select, select_fdr, select_fpr, select_from_model, select_fwe,
    select_k_best, select_percentile, variance_threshold,
};

use crate::attrs::Attrs;
use crate::error::{EngineError, Result};
use crate::registry::{self, Ctx, Kind};
use crate::row::Row;

/// A fitted `transform` step.
pub(crate) trait Transform: Send + Sync {
    /// Width it was fitted on (`n_features_in_`), when it records one.
    fn n_features_in(&self) -> Option<usize>;
    /// Width of its output, given an input of width `n_in`.
    fn n_features_out(&self, n_in: usize) -> usize;
    /// `transform` of one row.
    fn apply(&self, row: Row) -> Row;
    /// One line for `model inspect`.
    fn describe(&self) -> String;
    /// Heap bytes of the fitted parameters.
    fn heap_bytes(&self) -> usize;
    /// For `--explain`: the input column an output column is a copy of,
    /// scaled by a constant (selectors, scalers without centring). `None`
    /// when output columns mix inputs, so a linear model's contributions
    /// cannot be mapped back to n-grams.
    fn source_column(&self, _col: u32) -> Option<u32> {
        None
    }
    /// Refuses, at load, an input form scikit-learn's `transform` raises
    /// on (`StandardScaler(with_mean=True)` on a sparse matrix): the
    /// model could never have predicted in Python either.
    fn check_input(&self, _sparse: bool) -> Result<()> {
        Ok(())
    }
    /// Whether the output is sparse, given whether the input is (what
    /// scikit-learn returns: selectors and scalers keep the form,
    /// `TruncatedSVD` returns a dense array).
    fn output_sparse(&self, input_sparse: bool) -> bool {
        input_sparse
    }
    /// The name scikit-learn's `get_feature_names_out` gives output column
    /// `col` when it is not a copy of an input column (`truncatedsvd3`).
    fn output_name(&self, _col: u32) -> Option<String> {
        None
    }
}

/// Built row → row steps, their output width, and whether it is sparse.
pub(crate) type Chain = (Vec<Box<dyn Transform>>, usize, bool);

/// Builds the row → row steps `steps` (in order) for an input of width
/// `n`, sparse or not, checking each step's fitted width and input form.
/// Returns the steps, the output width and whether the output is sparse.
pub(crate) fn build_chain(
    steps: &[(String, &Object)],
    mut n: usize,
    mut sparse: bool,
    ctx: &Ctx,
) -> Result<Chain> {
    let mut out: Vec<Box<dyn Transform>> = Vec::with_capacity(steps.len());
    for (name, obj) in steps {
        let t = match registry::lookup(&obj.class).map(|e| e.kind) {
            Some(Kind::Transform(build)) => build(obj, ctx)?,
            _ => {
                return Err(EngineError::unsupported(format!(
                    "step {name:?} ({}) cannot come between the vectorizer and the classifier",
                    obj.class
                )));
            }
        };
        if let Some(m) = t.n_features_in()
            && m != n
        {
            return Err(EngineError::unsupported(format!(
                "step {name:?} ({}) was fitted on {m} features but receives {n}",
                obj.class
            )));
        }
        t.check_input(sparse)
            .map_err(|e| within(&format!("step {name:?}"), e))?;
        n = t.n_features_out(n);
        sparse = t.output_sparse(sparse);
        out.push(t);
    }
    Ok((out, n, sparse))
}

/// `e`, its message prefixed with where it happened (`step "svd"`).
pub(crate) fn within(place: &str, e: EngineError) -> EngineError {
    match e {
        EngineError::Unsupported(m) => EngineError::unsupported(format!("{place}: {m}")),
        other => other,
    }
}

/// A numeric parameter (`threshold`, `alpha`, `percentile`) as f64.
pub(crate) fn number(a: &Attrs<'_>, name: &str) -> Result<f64> {
    match a.get(name)? {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        v => Err(a.err(name, "a number", v)),
    }
}

/// `n_features_in_` when recorded (scikit-learn >= 0.24 sets it in `fit`).
pub(crate) fn n_features_in(a: &Attrs<'_>) -> Result<Option<usize>> {
    match a.opt("n_features_in_") {
        None | Some(Value::None) => Ok(None),
        Some(Value::Int(i)) if *i >= 0 => Ok(Some(*i as usize)),
        Some(v) => Err(a.err("n_features_in_", "a non-negative integer", v)),
    }
}
