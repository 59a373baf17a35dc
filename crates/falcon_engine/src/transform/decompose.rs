//! `TruncatedSVD`: `X @ components_.T`, a dense row.

use falcon_pickle::{ArrayData, Object};

use super::{Transform, n_features_in};
use crate::attrs::Attrs;
use crate::error::{EngineError, Result};
use crate::registry::Ctx;
use crate::row::{DenseRow, Row};
use crate::sparse::Precision;

pub(crate) struct TruncatedSvd {
    n_in: usize,
    k: usize,
    /// `components_.T` in C order (`w[feature * k + component]`): what
    /// scipy's `csr_matvecs` walks, and one contiguous run per non-zero.
    w: Vec<f64>,
    /// float32 when `components_` is (fitted on float32 input).
    precision: Precision,
}

pub(crate) fn truncated_svd(obj: &Object, ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let (k, n_in) = a.matrix_shape("components_")?;
    crate::classify::check_dense(a.class, "components_", k, n_in, ctx.max_dense)?;
    let precision = match a.array("components_")?.data {
        ArrayData::F32(_) => Precision::F32,
        ArrayData::F64(_) => Precision::F64,
        _ => {
            return Err(a.err_found(
                "components_",
                "a float array",
                &a.array("components_")?.dtype.to_string(),
            ));
        }
    };
    let (c, _, _) = a.matrix("components_")?;
    a.check_finite("components_", &c, n_in)?;
    if let Some(m) = n_features_in(&a)?
        && m != n_in
    {
        return Err(EngineError::unsupported(format!(
            "TruncatedSVD.components_ has {n_in} columns but n_features_in_ is {m}"
        )));
    }
    let mut w = vec![0.0; c.len()];
    for r in 0..k {
        for f in 0..n_in {
            w[f * k + r] = c[r * n_in + f];
        }
    }
    Ok(Box::new(TruncatedSvd {
        n_in,
        k,
        w,
        precision,
    }))
}

impl TruncatedSvd {
    /// `Σ x_c · w[c]` over `(column, value)` pairs in order, from 0, each
    /// product and sum rounded to the result's precision (scipy's
    /// `csr_matvecs` in the upcast type of the data and the components).
    fn product<'a>(&self, entries: impl Iterator<Item = (u32, &'a f64)>, p: Precision) -> Vec<f64> {
        let k = self.k;
        let mut out = vec![0.0; k];
        for (c, &x) in entries {
            let base = c as usize * k;
            let Some(w) = self.w.get(base..base + k) else {
                continue;
            };
            match p {
                Precision::F64 => {
                    for (o, &w) in out.iter_mut().zip(w) {
                        *o += x * w;
                    }
                }
                Precision::F32 => {
                    for (o, &w) in out.iter_mut().zip(w) {
                        *o = p.round(*o + p.round(x * w));
                    }
                }
            }
        }
        out
    }
}

impl Transform for TruncatedSvd {
    fn n_features_in(&self) -> Option<usize> {
        Some(self.n_in)
    }

    fn n_features_out(&self, _n_in: usize) -> usize {
        self.k
    }

    /// `safe_sparse_dot(X, components_.T)`. Sparse input is scipy's
    /// sparse × dense product, reproduced in its order. Dense input goes
    /// through BLAS in scikit-learn, whose order is not fixed; the same
    /// column-order sum is within a few ulps of it.
    fn apply(&self, row: Row) -> Row {
        let p = if row.precision() == Precision::F32 && self.precision == Precision::F32 {
            Precision::F32
        } else {
            Precision::F64
        };
        let values = match &row {
            Row::Sparse(s) => self.product(s.indices.iter().copied().zip(&s.values), p),
            Row::Dense(d) => self.product((0..d.values.len() as u32).zip(&d.values), p),
        };
        Row::Dense(DenseRow {
            values,
            precision: p,
        })
    }

    fn describe(&self) -> String {
        format!(
            "TruncatedSVD n_components={} ({} features in{})",
            self.k,
            self.n_in,
            if self.precision == Precision::F32 {
                ", float32"
            } else {
                ""
            }
        )
    }

    fn heap_bytes(&self) -> usize {
        self.w.len() * 8
    }

    fn output_sparse(&self, _input_sparse: bool) -> bool {
        false
    }

    fn output_name(&self, col: u32) -> Option<String> {
        Some(format!("truncatedsvd{col}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparse::SparseRow;

    #[test]
    fn sparse_row_times_components() {
        // components_ = [[1, 2, 3], [4, 5, 6]]
        let t = TruncatedSvd {
            n_in: 3,
            k: 2,
            w: vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0],
            precision: Precision::F64,
        };
        let row = Row::Sparse(SparseRow {
            indices: vec![0, 2],
            values: vec![1.0, 10.0],
            precision: None,
        });
        let Row::Dense(d) = t.apply(row) else {
            panic!("TruncatedSVD returns a dense row")
        };
        assert_eq!(d.values, vec![31.0, 64.0]);
        assert!(!t.output_sparse(true));
    }
}
