//! Steps between the vectorizer and the classifier: feature row in,
//! feature row out (selectors, scalers, decompositions, normalisers).
//!
//! One module per family under `transform/`, each registered in
//! `crate::registry`. A transform receives the row in the form scikit-learn
//! would hand it (sparse after a vectorizer, dense after `TruncatedSVD`)
//! and returns what scikit-learn's `transform` returns for that form, in
//! its precision.

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
}
