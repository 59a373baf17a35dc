//! The feature row that flows between a pipeline's steps: sparse (one CSR
//! row, what every vectorizer produces) or dense (what `TruncatedSVD` and
//! the other dense transforms produce, as a numpy row).
//!
//! scikit-learn keeps a matrix sparse or dense step by step, and some steps
//! compute differently on each (a scaler centres a dense matrix but refuses
//! to centre a sparse one), so the engine keeps the same distinction
//! explicitly instead of guessing from the values.

use crate::sparse::{Precision, SparseRow};

/// One row of the matrix between two steps.
// The dense side is produced by the dense transforms (`TruncatedSVD` &
// co.) as they are registered.
#[allow(dead_code)]
pub(crate) enum Row {
    Sparse(SparseRow),
    Dense(DenseRow),
}

/// One row of a dense numpy matrix (C order), in its dtype's precision.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DenseRow {
    pub(crate) values: Vec<f64>,
    pub(crate) precision: Precision,
}

impl DenseRow {
    /// Every column as an explicit entry, zeros included, in column order:
    /// the sparse view a sparse-only classifier reads. Keeping the zeros
    /// keeps the sums in the order numpy's dense product would see them.
    pub(crate) fn to_sparse(&self) -> SparseRow {
        SparseRow {
            indices: (0..self.values.len() as u32).collect(),
            values: self.values.clone(),
            precision: Some(self.precision),
        }
    }
}

#[allow(dead_code)]
impl Row {
    /// The row as a sparse row (a dense one with every column explicit).
    pub(crate) fn to_sparse(&self) -> std::borrow::Cow<'_, SparseRow> {
        match self {
            Row::Sparse(s) => std::borrow::Cow::Borrowed(s),
            Row::Dense(d) => std::borrow::Cow::Owned(d.to_sparse()),
        }
    }

    /// The row's values as a dense vector of width `n`.
    pub(crate) fn to_dense(&self, n: usize) -> DenseRow {
        match self {
            Row::Dense(d) => d.clone(),
            Row::Sparse(s) => {
                let mut values = vec![0.0; n];
                for (&c, &v) in s.indices.iter().zip(&s.values) {
                    if let Some(x) = values.get_mut(c as usize) {
                        *x = v;
                    }
                }
                DenseRow {
                    values,
                    precision: s.precision(),
                }
            }
        }
    }

    pub(crate) fn is_sparse(&self) -> bool {
        matches!(self, Row::Sparse(_))
    }

    pub(crate) fn precision(&self) -> Precision {
        match self {
            Row::Sparse(s) => s.precision(),
            Row::Dense(d) => d.precision,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_and_dense_views_agree() {
        let s = SparseRow {
            indices: vec![1, 3],
            values: vec![2.0, 4.0],
            precision: Some(Precision::F64),
        };
        let d = Row::Sparse(s).to_dense(5);
        assert_eq!(d.values, vec![0.0, 2.0, 0.0, 4.0, 0.0]);
        let back = Row::Dense(d).to_sparse().into_owned();
        assert_eq!(back.indices, vec![0, 1, 2, 3, 4]);
        assert_eq!(back.values, vec![0.0, 2.0, 0.0, 4.0, 0.0]);
    }
}
