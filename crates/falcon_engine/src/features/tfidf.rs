//! `TfidfTransformer`: sublinear tf, idf weighting and row normalisation.

use falcon_pickle::{ArrayData, Object};

use super::Norm;
use crate::attrs::Attrs;
use crate::error::{EngineError, Result};
use crate::sparse::SparseRow;

/// Counts below this have their sublinear weight looked up in
/// [`Tfidf::ln_small`] instead of computed.
const LN_TABLE: usize = 256;

pub(crate) struct Tfidf {
    sublinear_tf: bool,
    /// `ln(k)` for the counts `k < LN_TABLE`, computed by the very function
    /// `apply` would call (so identical bits): almost every term of an
    /// e-mail occurs a handful of times, and a `log` call costs ~25 ns.
    ln_small: Vec<f64>,
    /// `idf_`, present when fitted with `use_idf=True`.
    idf: Option<Vec<f64>>,
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
                Some(a.vector("idf_")?)
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
        self.idf.as_ref().map(Vec::len)
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
    pub(crate) fn apply(&self, row: &mut SparseRow) {
        let p = row.precision();
        if self.sublinear_tf {
            // np.log(X.data, X.data); X.data += 1
            for v in &mut row.values {
                let k = *v as usize;
                let ln = match self.ln_small.get(k) {
                    // Only an exact integer count may take the table value.
                    Some(&l) if k as f64 == *v => l,
                    _ => v.ln(),
                };
                *v = p.round(p.round(ln) + 1.0);
            }
        }
        if let Some(idf) = &self.idf {
            // X.data *= idf_[X.indices]: the product of two values of at most
            // float64 precision is rounded once to the data's precision.
            for (v, &c) in row.values.iter_mut().zip(&row.indices) {
                *v = p.round(*v * idf[c as usize]);
            }
        }
        self.norm.apply(row);
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
        self.idf.as_ref().map_or(0, |v| v.capacity() * 8)
    }
}
