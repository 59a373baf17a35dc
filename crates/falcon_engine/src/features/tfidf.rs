//! `TfidfTransformer`: sublinear tf, idf weighting and row normalisation.

use falcon_pickle::{ArrayData, Object};

use super::Norm;
use crate::attrs::Attrs;
use crate::error::{EngineError, Result};
use crate::sparse::{Precision, SparseRow, Strided};

/// Counts below this have their sublinear weight looked up in
/// [`Tfidf::ln_small`] instead of computed.
const LN_TABLE: usize = 256;

pub(crate) struct Tfidf {
    sublinear_tf: bool,
    /// `ln(k)` for the counts `k < LN_TABLE`, computed by the very function
    /// `apply` would call (so identical bits): almost every term of an
    /// e-mail occurs a handful of times, and a `log` call costs ~25 ns.
    ln_small: Vec<f64>,
    /// `idf_`, present when fitted with `use_idf=True`; possibly stored
    /// interleaved with a linear classifier's weights (see
    /// [`Tfidf::fuse_with`]).
    idf: Option<Strided>,
    norm: Norm,
}

impl Tfidf {
    pub(crate) fn from_transformer(obj: &Object) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let use_idf = a.bool_or("use_idf", true)?;
        // `transform` tests `hasattr(self, "idf_")`, not `use_idf`; follow it.
        let idf = match a.opt("idf_") {
            Some(_) => {
                let arr = a.array("idf_")?;
                if !matches!(arr.data, ArrayData::F64(_) | ArrayData::F32(_)) {
                    return Err(EngineError::unsupported(format!(
                        "{}.idf_ must be a float array",
                        a.class
                    )));
                }
                Some(Strided::from_vec(a.vector("idf_")?.into_owned()))
            }
            None if use_idf => {
                return Err(EngineError::unsupported(format!(
                    "{} has use_idf=True but no idf_ (is it fitted? models pickled by scikit-learn < 1.0 store _idf_diag, which is not supported)",
                    a.class
                )));
            }
            None => None,
        };
        let sublinear_tf = a.bool_or("sublinear_tf", false)?;
        let ln_small = if sublinear_tf {
            (0..LN_TABLE).map(|k| (k as f64).ln()).collect()
        } else {
            Vec::new()
        };
        Ok(Tfidf {
            sublinear_tf,
            ln_small,
            idf,
            norm: Norm::from_attrs(&a)?,
        })
    }

    /// Width the transformer was fitted on, when it records one.
    pub(crate) fn n_features(&self) -> Option<usize> {
        self.idf.as_ref().map(Strided::len)
    }

    pub(crate) fn check_width(&self, n: usize) -> Result<()> {
        match self.n_features() {
            Some(m) if m != n => Err(EngineError::unsupported(format!(
                "TfidfTransformer.idf_ has {m} entries but its input has {n} features"
            ))),
            _ => Ok(()),
        }
    }

    /// `TfidfTransformer.transform` on one row, in the row's precision
    /// (`validate_data(dtype=[float64, float32])` keeps float32 data).
    ///
    /// Sublinear tf, the idf product and the l2 sum of squares are done in
    /// one pass: each value goes through the same operations, in the same
    /// order, as numpy's separate passes apply them, and the squares are
    /// summed in column order as `normalize` sums them.
    pub(crate) fn apply(&self, row: &mut SparseRow) {
        let p = row.precision();
        let Some(idf) = &self.idf else {
            if self.sublinear_tf {
                for v in &mut row.values {
                    *v = self.sublinear(*v, |x| p.round(x));
                }
            }
            self.norm.apply(row);
            return;
        };
        // One loop per precision, so the rounding is decided outside it.
        let sum = match p {
            Precision::F64 => self.idf_pass(row, idf, |x| x),
            Precision::F32 => self.idf_pass(row, idf, |x| x as f32 as f64),
        };
        if self.norm == Norm::L2 {
            row.divide_l2(sum);
        } else {
            self.norm.apply(row);
        }
    }

    /// Sublinear tf and the idf product in place; returns the l2 sum of
    /// squares (computed whatever the norm, unused unless it is l2).
    #[inline(always)]
    fn idf_pass(&self, row: &mut SparseRow, idf: &Strided, round: impl Fn(f64) -> f64) -> f64 {
        let mut sum = 0.0f64;
        for (v, &c) in row.values.iter_mut().zip(&row.indices) {
            let tf = if self.sublinear_tf {
                self.sublinear(*v, &round)
            } else {
                *v
            };
            // X.data *= idf_[X.indices]: the product of two values of at most
            // float64 precision is rounded once to the data's precision.
            let x = round(tf * idf.get(c as usize));
            *v = x;
            sum += round(x * x);
        }
        sum
    }

    /// np.log(X.data, X.data); X.data += 1
    #[inline(always)]
    fn sublinear(&self, v: f64, round: impl Fn(f64) -> f64) -> f64 {
        // Saturating; only an exact integer count in the table's range
        // takes the table value.
        let k = v as i32;
        let ln = match self.ln_small.get(k as u32 as usize) {
            Some(&l) if k as f64 == v => l,
            _ => v.ln(),
        };
        round(round(ln) + 1.0)
    }

    /// Stores `idf_` interleaved with `weights` (one record per feature,
    /// `[idf, w_0, …]`), releasing both separate copies.
    pub(crate) fn fuse_with(&mut self, weights: &mut crate::classify::Weights) -> bool {
        match &self.idf {
            Some(idf)
                if idf.is_plain()
                    && weights.k() > 0
                    && idf.len() > 0
                    && weights.n_features() == idf.len() =>
            {
                self.idf = Some(weights.fuse_in_front(idf));
                true
            }
            _ => false,
        }
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "use_idf={} sublinear_tf={} norm={}",
            if self.idf.is_some() { "True" } else { "False" },
            if self.sublinear_tf { "True" } else { "False" },
            self.norm.name()
        )
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        // A table shared with the classifier's weights is counted there.
        self.idf
            .as_ref()
            .map_or(0, |v| if v.is_plain() { v.len() * 8 } else { 0 })
    }
}
