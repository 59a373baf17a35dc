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
            // scikit-learn < 1.5 (the `idf_` property's backing store).
            None if a.opt("_idf_diag").is_some() => Some(Strided::from_vec(idf_from_diag(
                &a,
                a.object("_idf_diag")?,
            )?)),
            None if use_idf => {
                return Err(EngineError::unsupported(format!(
                    "{} has use_idf=True but neither idf_ nor _idf_diag (is it fitted?)",
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
    ///
    /// (For the `_idf_diag` of old releases, the matrix's side.)
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

/// The idf vector of a pickled `_idf_diag`: the `scipy.sparse.csr_matrix`
/// `diags(idf, format="csr")` that scikit-learn < 1.5 stored instead of an
/// `idf_` array, and multiplied `X @ _idf_diag` by in `transform`.
///
/// Each row of that product has a single term, `x * idf[col]` added to
/// zero, so it is the same one rounding as the array product of later
/// releases. A matrix with an off-diagonal entry is not an idf and is
/// refused; a missing diagonal entry is an idf of 0 (the product then
/// stores no value, which `normalize` and a linear model treat as 0 too).
fn idf_from_diag(a: &Attrs<'_>, diag: &Object) -> Result<Vec<f64>> {
    let m = Attrs::new(diag)?;
    let what = |msg: String| {
        EngineError::unsupported(format!("{}._idf_diag ({}): {msg}", a.class, diag.class))
    };
    let shape = match m.get("_shape")? {
        falcon_pickle::Value::Tuple(t) if t.len() == 2 => (t[0].as_i64(), t[1].as_i64()),
        v => return Err(what(format!("_shape is {}", crate::attrs::describe(v)))),
    };
    let n = match shape {
        (Some(r), Some(c)) if r == c && r >= 0 => r as usize,
        _ => return Err(what(format!("not a square matrix: {shape:?}"))),
    };
    let data = m.vector("data")?;
    let indices = crate::attrs::int_vector(&m, "indices")?;
    let indptr = crate::attrs::int_vector(&m, "indptr")?;
    if indptr.len() != n + 1 || indices.len() != data.len() {
        return Err(what(format!(
            "inconsistent CSR arrays (indptr {}, indices {}, data {}, side {n})",
            indptr.len(),
            indices.len(),
            data.len()
        )));
    }
    let mut idf = vec![0.0; n];
    for (row, w) in indptr.windows(2).enumerate() {
        let (lo, hi) = (w[0], w[1]);
        if lo > hi || hi > data.len() {
            return Err(what(format!("indptr is not monotone at row {row}")));
        }
        for k in lo..hi {
            if indices[k] != row {
                return Err(what(format!(
                    "entry ({row}, {}) is off the diagonal",
                    indices[k]
                )));
            }
            idf[row] = data[k];
        }
    }
    Ok(idf)
}

/// A `TfidfTransformer` that does not directly follow a vectorizer (after
/// a feature selector, say): `transform` of the row it receives.
impl crate::transform::Transform for Tfidf {
    fn n_features_in(&self) -> Option<usize> {
        self.n_features()
    }

    fn n_features_out(&self, n_in: usize) -> usize {
        n_in
    }

    fn apply(&self, row: crate::row::Row) -> crate::row::Row {
        use crate::row::Row;
        let mut sparse = match row {
            Row::Sparse(s) => s,
            // `transform` converts dense input to CSR first: explicit zeros
            // are dropped.
            Row::Dense(d) => {
                let mut entries = Vec::new();
                for (c, &v) in d.values.iter().enumerate() {
                    if v != 0.0 {
                        entries.push((c as u32, v));
                    }
                }
                SparseRow::from_entries(entries, d.precision)
            }
        };
        Tfidf::apply(self, &mut sparse);
        Row::Sparse(sparse)
    }

    fn describe(&self) -> String {
        format!("TfidfTransformer {}", Tfidf::describe(self))
    }

    fn heap_bytes(&self) -> usize {
        Tfidf::heap_bytes(self)
    }

    fn source_column(&self, col: u32) -> Option<u32> {
        Some(col)
    }

    /// `transform` returns CSR whatever it receives.
    fn output_sparse(&self, _input_sparse: bool) -> bool {
        true
    }
}
