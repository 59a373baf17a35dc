//! Per-column scalers (`StandardScaler`, `MaxAbsScaler`) and the per-row
//! `Normalizer`, with the operations scikit-learn's `transform` applies to
//! each form: on CSR data a multiplication by the precomputed `1 / scale_`
//! (`inplace_column_scale`), on a dense array `X -= mean_; X /= scale_`.
//! Each result is rounded to the row's dtype, as numpy's in-place
//! operations on a float32 array do.

use falcon_pickle::{ArrayData, Object, Value};

use super::{Transform, n_features_in};
use crate::attrs::Attrs;
use crate::error::{EngineError, Result};
use crate::registry::Ctx;
use crate::row::{DenseRow, Row};
use crate::sparse::{Precision, numpy_sum};

/// A fitted per-column scaler.
pub(crate) struct Scaler {
    class: &'static str,
    n_in: usize,
    /// Subtracted from a dense row (`with_mean=True`).
    mean: Option<Vec<f64>>,
    /// A dense row is divided by it.
    scale: Option<Vec<f64>>,
    /// `1 / scale_` in `scale_`'s dtype: a sparse row is multiplied by it.
    inv: Option<Vec<f64>>,
}

/// A float parameter array, its values and whether it is float32.
fn params(a: &Attrs<'_>, name: &str) -> Result<Option<(Vec<f64>, Precision)>> {
    match a.opt(name) {
        None | Some(Value::None) => Ok(None),
        Some(_) => {
            let p = match a.array(name)?.data {
                ArrayData::F32(_) => Precision::F32,
                _ => Precision::F64,
            };
            Ok(Some((a.vector(name)?.into_owned(), p)))
        }
    }
}

fn width(a: &Attrs<'_>, arrays: &[&Option<(Vec<f64>, Precision)>]) -> Result<usize> {
    let mut n = n_features_in(a)?;
    for v in arrays.iter().filter_map(|v| v.as_ref()) {
        match n {
            Some(m) if m != v.0.len() => {
                return Err(EngineError::unsupported(format!(
                    "{}: a fitted array has {} entries for {m} features",
                    a.class,
                    v.0.len()
                )));
            }
            _ => n = Some(v.0.len()),
        }
    }
    n.ok_or_else(|| {
        EngineError::unsupported(format!(
            "{} has neither n_features_in_ nor fitted arrays (is it fitted?)",
            a.class
        ))
    })
}

fn inverse(scale: &Option<(Vec<f64>, Precision)>) -> Option<Vec<f64>> {
    scale
        .as_ref()
        .map(|(s, p)| s.iter().map(|&x| p.round(1.0 / x)).collect())
}

fn check_scale(a: &Attrs<'_>, scale: &Option<(Vec<f64>, Precision)>) -> Result<()> {
    if let Some((s, _)) = scale
        && let Some(i) = s.iter().position(|&x| x == 0.0)
    {
        // `_handle_zeros_in_scale` makes every fitted scale non-zero.
        return Err(a.non_finite("scale_", 0.0, i, 0, " (a zero scale)"));
    }
    Ok(())
}

pub(crate) fn standard_scaler(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let with_mean = a.bool_or("with_mean", true)?;
    let with_std = a.bool_or("with_std", true)?;
    let mean = params(&a, "mean_")?;
    let scale = params(&a, "scale_")?;
    if with_mean && mean.is_none() {
        return Err(a.err("mean_", "an array (with_mean=True)", &Value::None));
    }
    if with_std && scale.is_none() {
        return Err(a.err("scale_", "an array (with_std=True)", &Value::None));
    }
    check_scale(&a, &scale)?;
    let n_in = width(&a, &[&mean, &scale])?;
    Ok(Box::new(Scaler {
        class: "StandardScaler",
        n_in,
        inv: inverse(&scale),
        mean: if with_mean { mean.map(|m| m.0) } else { None },
        scale: if with_std { scale.map(|s| s.0) } else { None },
    }))
}

pub(crate) fn max_abs_scaler(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let scale = params(&a, "scale_")?;
    if scale.is_none() {
        return Err(a.err("scale_", "an array", &Value::None));
    }
    check_scale(&a, &scale)?;
    let n_in = width(&a, &[&scale])?;
    Ok(Box::new(Scaler {
        class: "MaxAbsScaler",
        n_in,
        inv: inverse(&scale),
        mean: None,
        scale: scale.map(|s| s.0),
    }))
}

impl Transform for Scaler {
    fn n_features_in(&self) -> Option<usize> {
        Some(self.n_in)
    }

    fn n_features_out(&self, n_in: usize) -> usize {
        n_in
    }

    fn apply(&self, row: Row) -> Row {
        match row {
            Row::Sparse(mut s) => {
                let p = s.precision();
                if let Some(inv) = &self.inv {
                    for (v, &c) in s.values.iter_mut().zip(&s.indices) {
                        *v = p.round(*v * inv.get(c as usize).copied().unwrap_or(1.0));
                    }
                }
                Row::Sparse(s)
            }
            Row::Dense(mut d) => {
                let p = d.precision;
                if let Some(mean) = &self.mean {
                    for (v, m) in d.values.iter_mut().zip(mean) {
                        *v = p.round(*v - m);
                    }
                }
                if let Some(scale) = &self.scale {
                    for (v, s) in d.values.iter_mut().zip(scale) {
                        *v = p.round(*v / s);
                    }
                }
                Row::Dense(d)
            }
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} ({} features{}{})",
            self.class,
            self.n_in,
            if self.mean.is_some() { ", centred" } else { "" },
            if self.scale.is_some() { ", scaled" } else { "" }
        )
    }

    fn heap_bytes(&self) -> usize {
        [&self.mean, &self.scale, &self.inv]
            .iter()
            .filter_map(|v| v.as_ref())
            .map(|v| v.len() * 8)
            .sum()
    }

    /// A scaled column is its input column times a constant; a centred
    /// one is not (the shift is shared out by no column).
    fn source_column(&self, col: u32) -> Option<u32> {
        self.mean.is_none().then_some(col)
    }

    fn check_input(&self, sparse: bool) -> Result<()> {
        if sparse && self.mean.is_some() {
            return Err(EngineError::unsupported(format!(
                "{}(with_mean=True) receives a sparse matrix, which scikit-learn refuses to centre (\"Cannot center sparse matrices\"): the model cannot predict in Python either",
                self.class
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Norm {
    L1,
    L2,
    Max,
}

/// `Normalizer`: `sklearn.preprocessing.normalize(X, norm)` row by row.
pub(crate) struct Normalizer {
    norm: Norm,
    n_in: Option<usize>,
}

pub(crate) fn normalizer(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let norm = match a.opt_str("norm")?.unwrap_or("l2") {
        "l1" => Norm::L1,
        "l2" => Norm::L2,
        "max" => Norm::Max,
        other => {
            return Err(a.err(
                "norm",
                "\"l1\", \"l2\" or \"max\"",
                &Value::Str(other.to_string()),
            ));
        }
    };
    Ok(Box::new(Normalizer {
        norm,
        n_in: n_features_in(&a)?,
    }))
}

impl Transform for Normalizer {
    fn n_features_in(&self) -> Option<usize> {
        self.n_in
    }

    fn n_features_out(&self, n_in: usize) -> usize {
        n_in
    }

    fn apply(&self, row: Row) -> Row {
        match row {
            Row::Sparse(mut s) => {
                match self.norm {
                    Norm::L1 => s.normalize_l1(),
                    Norm::L2 => s.normalize_l2(),
                    // max(|min|, max) over the row, implicit zeros
                    // included: the largest absolute stored value.
                    Norm::Max => {
                        let p = s.precision();
                        let m = s.values.iter().fold(0.0f64, |m, &x| m.max(x.abs()));
                        if m != 0.0 {
                            s.values.iter_mut().for_each(|v| *v = p.round(*v / m));
                        }
                    }
                }
                Row::Sparse(s)
            }
            Row::Dense(mut d) => {
                let p = d.precision;
                let norm = match self.norm {
                    // np.abs(X).sum(axis=1): pairwise summation.
                    Norm::L1 => {
                        let abs: Vec<f64> = d.values.iter().map(|x| x.abs()).collect();
                        p.round(numpy_sum(&abs))
                    }
                    // row_norms: sqrt(einsum("ij,ij->i")).
                    Norm::L2 => p.round(
                        d.values
                            .iter()
                            .fold(0.0, |s, &x| p.round(s + p.round(x * x)))
                            .sqrt(),
                    ),
                    Norm::Max => d.values.iter().fold(0.0f64, |m, &x| m.max(x.abs())),
                };
                // `_handle_zeros_in_scale`: norms below 10 eps of the
                // dtype count as 0 and leave the row unchanged.
                let eps = match p {
                    Precision::F64 => f64::EPSILON,
                    Precision::F32 => f32::EPSILON as f64,
                };
                if norm >= 10.0 * eps {
                    d.values.iter_mut().for_each(|v| *v = p.round(*v / norm));
                }
                Row::Dense(DenseRow {
                    values: d.values,
                    precision: p,
                })
            }
        }
    }

    fn describe(&self) -> String {
        let norm = match self.norm {
            Norm::L1 => "l1",
            Norm::L2 => "l2",
            Norm::Max => "max",
        };
        format!("Normalizer norm={norm}")
    }

    fn heap_bytes(&self) -> usize {
        0
    }

    fn source_column(&self, col: u32) -> Option<u32> {
        Some(col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparse::SparseRow;

    #[test]
    fn sparse_rows_are_multiplied_by_the_inverse_scale() {
        let s = Scaler {
            class: "MaxAbsScaler",
            n_in: 2,
            mean: None,
            scale: Some(vec![7.0, 4.0]),
            inv: Some(vec![1.0 / 7.0, 0.25]),
        };
        let Row::Sparse(r) = s.apply(Row::Sparse(SparseRow {
            indices: vec![0, 1],
            values: vec![0.1, 2.0],
            precision: None,
        })) else {
            panic!("sparse stays sparse")
        };
        // 0.1 * (1/7), not 0.1 / 7 (they differ in the last bit).
        assert_eq!(r.values, vec![0.014285714285714285, 0.5]);
        assert_ne!(0.1 / 7.0, 0.014285714285714285);
        assert_eq!(s.source_column(1), Some(1));
    }

    #[test]
    fn centring_refuses_sparse_and_explain() {
        let s = Scaler {
            class: "StandardScaler",
            n_in: 2,
            mean: Some(vec![1.0, 1.0]),
            scale: Some(vec![2.0, 2.0]),
            inv: Some(vec![0.5, 0.5]),
        };
        assert!(s.check_input(true).is_err());
        assert!(s.check_input(false).is_ok());
        assert_eq!(s.source_column(0), None);
        let Row::Dense(d) = s.apply(Row::Dense(DenseRow {
            values: vec![3.0, 0.0],
            precision: Precision::F64,
        })) else {
            panic!("dense stays dense")
        };
        assert_eq!(d.values, vec![1.0, -0.5]);
    }

    #[test]
    fn max_norm_divides_by_the_largest_magnitude() {
        let n = Normalizer {
            norm: Norm::Max,
            n_in: None,
        };
        let Row::Sparse(r) = n.apply(Row::Sparse(SparseRow {
            indices: vec![0, 3],
            values: vec![-4.0, 2.0],
            precision: None,
        })) else {
            panic!("sparse stays sparse")
        };
        assert_eq!(r.values, vec![-1.0, 0.5]);
        let Row::Dense(d) = n.apply(Row::Dense(DenseRow {
            values: vec![0.0, 0.0],
            precision: Precision::F64,
        })) else {
            panic!("dense stays dense")
        };
        assert_eq!(d.values, vec![0.0, 0.0]);
    }
}
