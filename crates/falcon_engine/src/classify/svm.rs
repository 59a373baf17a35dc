//! Kernel support vector machines (`SVC`, `NuSVC`): libsvm's prediction,
//! in libsvm's arithmetic order.
//!
//! scikit-learn predicts with the libsvm it vendors (`sklearn/svm/src/
//! libsvm/svm.cpp`), compiled twice: a sparse variant (`svm_csr_*`, used
//! when the model was fitted on a sparse matrix, `_sparse == True`, as
//! every text pipeline is) and a dense one (`_DENSE_REP`, after
//! `TruncatedSVD`). For one row `x` it computes:
//!
//! 1. `kvalue[i] = k_function(x, SV[i])` for every support vector, in the
//!    order they are stored (grouped by class, `_n_support` per class);
//! 2. for each pair of classes `i < j` (libsvm's pair order), the sum of
//!    `sv_coef[j-1][s] * kvalue[s]` over class `i`'s support vectors, then
//!    of `sv_coef[i][s] * kvalue[s]` over class `j`'s, from zero, then
//!    `- rho[p]` (scikit-learn stores `_intercept_ = -rho`);
//! 3. one vote per pair (`dec > 0` for `i`, else `j`), and the first class
//!    with the most votes is `predict`;
//! 4. with `probability=True`, `predict_proba` turns each pair's decision
//!    into Platt's sigmoid (`sigmoid_predict` with `_probA`/`_probB`,
//!    clipped to `[1e-7, 1 - 1e-7]`) and couples the pairs with
//!    `multiclass_probability` (Wu, Lin and Weng's method 2, at most
//!    `max(100, k)` iterations, stopping below `0.005 / k`) — for two
//!    classes too.
//!
//! scikit-learn then flips the binary decision's sign (`-dec`), and for
//! `decision_function_shape="ovr"` with three or more classes returns
//! `_ovr_decision_function(dec < 0, -dec, k)`; `break_ties` takes the
//! argmax of that instead of the votes.
//!
//! **Kernel arithmetic.** Sparse `dot` walks the two index lists merged
//! and adds `x * y` where they meet, in increasing column order, from 0.
//! The engine computes every support vector's dot product at once from a
//! column-major (CSC) copy of the support vectors: for each of the row's
//! columns in increasing order, every support vector with that column
//! gets its product added. Each accumulator thus receives the same terms
//! in the same order, so the sums are bit-identical, and a text touches
//! only its own columns. The sparse rbf distance is not `|x|²+|y|²−2x·y`
//! but the merge's own sum — `(x−y)²` where both have the column, `x²` or
//! `y²` where one has it — in column order; the terms where only the
//! support vector has a column interleave with the row's, so each support
//! vector's sum is one merge, kept as such. The dense variant calls BLAS
//! `ddot` (on `x·y`, and on `x−y` with itself for rbf); OpenBLAS picks
//! its blocking and FMA use per CPU at run time, so no fixed order
//! reproduces it everywhere: the engine sums in column order, which stays
//! within a few ulps of any of them.
//!
//! `exp`/`tanh` are the C library's, as libsvm's are; `powi` is libsvm's
//! square-and-multiply loop, not `powf`.

// The loops over classes, pairs and support vectors mirror libsvm's index
// loops one to one, so the order of every operation can be checked
// against `svm.cpp` line by line.
#![allow(clippy::needless_range_loop)]

use std::borrow::Cow;

use falcon_pickle::{ArrayData, Object, Value};

use super::Scores;
use crate::Label;
use crate::attrs::{Attrs, describe, labels};
use crate::error::{EngineError, Result};
use crate::row::Row;

/// libsvm's kernel, with the fitted `_gamma`, `coef0` and `degree`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kernel {
    Linear,
    Poly { gamma: f64, coef0: f64, degree: i32 },
    Rbf { gamma: f64 },
    Sigmoid { gamma: f64, coef0: f64 },
}

impl Kernel {
    /// The kernel value from the dot product (linear, poly, sigmoid) or,
    /// for rbf, from the squared distance.
    #[inline]
    fn finish(self, dot: f64) -> f64 {
        match self {
            Kernel::Linear => dot,
            Kernel::Poly {
                gamma,
                coef0,
                degree,
            } => powi(gamma * dot + coef0, degree),
            Kernel::Sigmoid { gamma, coef0 } => (gamma * dot + coef0).tanh(),
            Kernel::Rbf { gamma } => (-gamma * dot).exp(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kernel::Linear => "linear",
            Kernel::Poly { .. } => "poly",
            Kernel::Rbf { .. } => "rbf",
            Kernel::Sigmoid { .. } => "sigmoid",
        }
    }
}

/// libsvm's `powi`: square-and-multiply over the bits of `times` (1 for
/// `times <= 0`), whose rounding differs from `powf`'s.
fn powi(base: f64, times: i32) -> f64 {
    let (mut tmp, mut ret) = (base, 1.0);
    let mut t = times;
    while t > 0 {
        if t % 2 == 1 {
            ret *= tmp;
        }
        tmp *= tmp;
        t /= 2;
    }
    ret
}

/// The support vectors, in the layout each kernel reads fastest with
/// libsvm's order of operations kept.
enum Vectors {
    /// Fitted on a sparse matrix, dot-product kernels: column-major, so a
    /// row's columns each add to the support vectors that have them.
    SparseByColumn {
        /// `col_ptr[c]..col_ptr[c + 1]` are column `c`'s entries.
        col_ptr: Vec<u32>,
        /// The support vector of each entry.
        sv: Vec<u32>,
        values: Vec<f64>,
    },
    /// Fitted on a sparse matrix, rbf: one CSR row per support vector,
    /// merged with the input row as libsvm does.
    SparseByRow {
        row_ptr: Vec<u32>,
        cols: Vec<u32>,
        values: Vec<f64>,
    },
    /// Fitted on a sparse matrix, rbf, support vectors in groups of
    /// [`LANES`]: each group stores the union of its members' columns and,
    /// per column, the members' values (0 where one lacks it). One merge
    /// of the row with a group's columns then advances [`LANES`]
    /// independent sums at once (see [`rbf_groups`]).
    SparseGrouped {
        /// `group_ptr[g]..group_ptr[g + 1]` index `cols` (and, times
        /// [`LANES`], `values`) for group `g`.
        group_ptr: Vec<u32>,
        cols: Vec<u32>,
        values: Vec<f64>,
    },
    /// Fitted on a dense matrix: feature-major (`values[f * l + i]`), so
    /// one sweep over the features updates every support vector's sum in
    /// feature order.
    Dense { values: Vec<f64> },
}

/// A fitted `SVC` or `NuSVC` (`_impl` `c_svc` / `nu_svc`).
pub(crate) struct Svm {
    class: String,
    pub(crate) classes: Vec<Label>,
    pub(crate) n_features: usize,
    kernel: Kernel,
    /// Number of support vectors.
    l: usize,
    /// First support vector of each class (libsvm's `start`), and one past
    /// the last at the end.
    start: Vec<usize>,
    /// libsvm's `sv_coef`: `k - 1` rows of `l` (scikit-learn's
    /// `_dual_coef_`, unflipped).
    coef: Vec<f64>,
    /// scikit-learn's `_intercept_` (`-rho`), one per pair.
    intercept: Vec<f64>,
    /// `(_probA, _probB)`, one per pair, with `probability=True`.
    prob: Option<(Vec<f64>, Vec<f64>)>,
    /// `decision_function_shape == "ovr"`.
    ovr: bool,
    break_ties: bool,
    vectors: Vectors,
}

/// A float parameter stored as a Python float, an int or a numpy scalar.
fn scalar(a: &Attrs<'_>, name: &str) -> Result<f64> {
    let x = match a.get(name)? {
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        Value::Array(arr) if arr.len() == 1 => match &arr.data {
            ArrayData::F64(v) if v.len() == 1 => v[0],
            ArrayData::F32(v) if v.len() == 1 => v[0] as f64,
            ArrayData::I64(v) if v.len() == 1 => v[0] as f64,
            _ => return Err(a.err(name, "a number", a.get(name)?)),
        },
        v => return Err(a.err(name, "a number", v)),
    };
    if !x.is_finite() {
        return Err(a.non_finite(name, x, 0, 0, ""));
    }
    Ok(x)
}

/// One of two spellings of an attribute: scikit-learn renamed several
/// (`probA_` → `_probA` in 0.23, `n_support_` → `_n_support`).
fn either<'a>(
    a: &Attrs<'a>,
    new: &'static str,
    old: &'static str,
) -> Result<(&'static str, &'a Value)> {
    if let Some(v) = a.opt(new) {
        return Ok((new, v));
    }
    match a.opt(old) {
        Some(v) => Ok((old, v)),
        None => Err(EngineError::unsupported(format!(
            "{}.{new} is missing (is the estimator fitted?)",
            a.class
        ))),
    }
}

/// A sparse matrix pickled inside the estimator (`support_vectors_` and
/// `_dual_coef_` of a sparse fit): its CSR arrays, checked.
struct Csr<'a> {
    rows: usize,
    cols: usize,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Cow<'a, [f64]>,
}

fn csr<'a>(a: &Attrs<'a>, name: &str, max_bytes: usize) -> Result<Csr<'a>> {
    let obj = match a.get(name)? {
        Value::Object(o) => o,
        v => return Err(a.err(name, "a scipy.sparse CSR matrix", v)),
    };
    if !obj.class.name.starts_with("csr_") {
        return Err(a.err_found(
            name,
            "a scipy.sparse CSR matrix",
            &format!("a {}", obj.class),
        ));
    }
    let m = Attrs::new(obj)?;
    let what = |msg: String| EngineError::unsupported(format!("{}.{name}: {msg}", a.class));
    let shape = match m.opt("_shape").or_else(|| m.opt("shape")) {
        Some(Value::Tuple(t)) if t.len() == 2 => (t[0].as_i64(), t[1].as_i64()),
        Some(v) => return Err(what(format!("its shape is {}", describe(v)))),
        None => return Err(what("it has no shape".into())),
    };
    let (rows, cols) = match shape {
        (Some(r), Some(c)) if r >= 0 && c >= 0 && c < i64::from(u32::MAX) => {
            (r as usize, c as usize)
        }
        _ => return Err(what(format!("bad shape {shape:?}"))),
    };
    let nnz = m.array("data")?.len();
    if nnz.saturating_mul(16) > max_bytes {
        return Err(what(format!(
            "{nnz} stored values are over the {max_bytes} bytes allowed for a model file of this size"
        )));
    }
    let data = m.vector_unchecked("data")?;
    let indices = crate::attrs::int_vector(&m, "indices")?;
    let indptr = crate::attrs::int_vector(&m, "indptr")?;
    if indptr.len() != rows + 1 || indices.len() != data.len() || indptr[0] != 0 {
        return Err(what(format!(
            "inconsistent CSR arrays (indptr {}, indices {}, data {}, {rows} rows)",
            indptr.len(),
            indices.len(),
            data.len()
        )));
    }
    for (r, w) in indptr.windows(2).enumerate() {
        let (lo, hi) = (w[0], w[1]);
        if lo > hi || hi > data.len() {
            return Err(what(format!("indptr is not monotone at row {r}")));
        }
        let row = &indices[lo..hi];
        if let Some(&c) = row.iter().find(|&&c| c >= cols) {
            return Err(what(format!(
                "row {r} has column {c}, outside its {cols} columns"
            )));
        }
        if row.windows(2).any(|p| p[0] >= p[1]) {
            // libsvm merges index lists assuming they ascend; scikit-learn
            // always stores them sorted.
            return Err(what(format!(
                "row {r}'s column indices are not strictly increasing"
            )));
        }
    }
    if *indptr.last().unwrap_or(&0) != data.len() {
        return Err(what("indptr does not end at the number of values".into()));
    }
    Ok(Csr {
        rows,
        cols,
        indptr,
        indices,
        data,
    })
}

impl Svm {
    /// Reads a fitted `SVC`/`NuSVC`, refusing by name what libsvm's
    /// prediction cannot be reproduced for (a precomputed or callable
    /// kernel, a regressor's `_impl`) and anything malformed: shapes that
    /// disagree, non-finite parameters, support-vector indices out of
    /// range. `max_dense` bounds the tables built here.
    pub(crate) fn from_object(obj: &Object, max_dense: usize) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let class = a.class.to_string();
        let kernel_name = match a.get("kernel")? {
            Value::Str(s) => s.as_str(),
            v => {
                return Err(EngineError::unsupported(format!(
                    "{class}.kernel is a callable ({}): Falcon runs nothing from a model file, and a Python kernel function cannot be reproduced",
                    describe(v)
                )));
            }
        };
        match a.opt("_impl") {
            None | Some(Value::None) => {}
            Some(Value::Str(s)) if s == "c_svc" || s == "nu_svc" => {}
            Some(v) => {
                return Err(EngineError::unsupported(format!(
                    "{class}._impl is {}: only the classifiers c_svc (SVC) and nu_svc (NuSVC) are supported",
                    describe(v)
                )));
            }
        }
        let gamma = || scalar(&a, "_gamma");
        let coef0 = || scalar(&a, "coef0");
        let kernel = match kernel_name {
            "linear" => Kernel::Linear,
            "rbf" => Kernel::Rbf { gamma: gamma()? },
            "sigmoid" => Kernel::Sigmoid {
                gamma: gamma()?,
                coef0: coef0()?,
            },
            "poly" => {
                let degree = match a.get("degree")? {
                    Value::Int(d) if (0..=i64::from(i32::MAX)).contains(d) => *d as i32,
                    Value::Float(d)
                        if d.fract() == 0.0 && (0.0..=f64::from(i32::MAX)).contains(d) =>
                    {
                        *d as i32
                    }
                    v => return Err(a.err("degree", "an integer >= 0", v)),
                };
                Kernel::Poly {
                    gamma: gamma()?,
                    coef0: coef0()?,
                    degree,
                }
            }
            "precomputed" => {
                return Err(EngineError::unsupported(format!(
                    "{class}.kernel is \"precomputed\": it predicts from a kernel matrix against its training samples, not from text features"
                )));
            }
            other => {
                return Err(EngineError::unsupported(format!(
                    "{class}.kernel is {other:?}, not one of linear, poly, rbf, sigmoid"
                )));
            }
        };
        let classes = labels(&a, "classes_", &class)?;
        let k = classes.len();
        let pairs = k * (k - 1) / 2;

        let (ns_name, ns) = either(&a, "_n_support", "n_support_")?;
        let n_support = match ns {
            Value::Array(_) => crate::attrs::int_vector(&a, ns_name)?,
            v => return Err(a.err(ns_name, "an integer array", v)),
        };
        if n_support.len() != k {
            return Err(EngineError::unsupported(format!(
                "{class}.{ns_name} has {} entries for {k} classes",
                n_support.len()
            )));
        }
        let mut start = Vec::with_capacity(k + 1);
        let mut l = 0usize;
        for &n in &n_support {
            start.push(l);
            l = l
                .checked_add(n)
                .ok_or_else(|| EngineError::unsupported(format!("{class}.{ns_name} overflows")))?;
        }
        start.push(l);

        let sparse = a.bool_or("_sparse", false)?;
        let intercept = a.vector_unchecked("_intercept_")?.into_owned();
        if intercept.len() != pairs {
            return Err(EngineError::unsupported(format!(
                "{class}._intercept_ has {} values for {pairs} pairs of classes",
                intercept.len()
            )));
        }
        a.check_finite("_intercept_", &intercept, 0)?;

        // `_dual_coef_`: a (k-1, l) array, or for a sparse fit a CSR matrix
        // whose `.data` scikit-learn hands libsvm as is.
        let coef: Vec<f64> = match a.get("_dual_coef_")? {
            Value::Array(_) => {
                let (c, rows, cols) = a.matrix("_dual_coef_")?;
                if rows != k - 1 || cols != l {
                    return Err(EngineError::unsupported(format!(
                        "{class}._dual_coef_ is {rows} x {cols}, expected {} x {l} ({k} classes, {l} support vectors)",
                        k - 1
                    )));
                }
                c.into_owned()
            }
            Value::Object(_) => {
                let m = csr(&a, "_dual_coef_", max_dense)?;
                if m.data.len() != (k - 1) * l {
                    return Err(EngineError::unsupported(format!(
                        "{class}._dual_coef_ stores {} values, expected {} ({k} classes, {l} support vectors)",
                        m.data.len(),
                        (k - 1) * l
                    )));
                }
                m.data.into_owned()
            }
            v => return Err(a.err("_dual_coef_", "an array or a sparse matrix", v)),
        };
        a.check_finite("_dual_coef_", &coef, l)?;

        let (vectors, n_features) = match a.get("support_vectors_")? {
            Value::Object(_) => {
                if !sparse {
                    return Err(EngineError::unsupported(format!(
                        "{class}.support_vectors_ is a sparse matrix but _sparse is False"
                    )));
                }
                let m = csr(&a, "support_vectors_", max_dense)?;
                if m.rows != l {
                    return Err(EngineError::unsupported(format!(
                        "{class}.support_vectors_ has {} rows but {ns_name} counts {l}",
                        m.rows
                    )));
                }
                a.check_finite("support_vectors_", &m.data, 0)?;
                if m.data.len() > u32::MAX as usize || l > u32::MAX as usize {
                    return Err(EngineError::unsupported(format!(
                        "{class}.support_vectors_ is too large"
                    )));
                }
                let v = if matches!(kernel, Kernel::Rbf { .. }) {
                    grouped(&m).unwrap_or_else(|| Vectors::SparseByRow {
                        row_ptr: m.indptr.iter().map(|&p| p as u32).collect(),
                        cols: m.indices.iter().map(|&c| c as u32).collect(),
                        values: m.data.into_owned(),
                    })
                } else {
                    by_column(&m)
                };
                (v, m.cols)
            }
            Value::Array(_) => {
                if sparse {
                    return Err(EngineError::unsupported(format!(
                        "{class}.support_vectors_ is a dense array but _sparse is True"
                    )));
                }
                let (rows, cols) = a.matrix_shape("support_vectors_")?;
                if rows != l {
                    return Err(EngineError::unsupported(format!(
                        "{class}.support_vectors_ has {rows} rows but {ns_name} counts {l}"
                    )));
                }
                super::check_dense(&class, "support_vectors_", rows, cols, max_dense)?;
                let (sv, _, _) = a.matrix("support_vectors_")?;
                a.check_finite("support_vectors_", &sv, cols)?;
                let mut values = vec![0.0; sv.len()];
                for i in 0..rows {
                    for f in 0..cols {
                        values[f * rows + i] = sv[i * cols + f];
                    }
                }
                (Vectors::Dense { values }, cols)
            }
            v => return Err(a.err("support_vectors_", "an array or a sparse matrix", v)),
        };
        if let Some(Value::Int(n)) = a.opt("n_features_in_")
            && *n as usize != n_features
        {
            return Err(EngineError::unsupported(format!(
                "{class}.n_features_in_ is {n} but its support vectors have {n_features} features"
            )));
        }

        let prob = if a.bool_or("probability", false)? {
            let (an, av) = either(&a, "_probA", "probA_")?;
            let (bn, bv) = either(&a, "_probB", "probB_")?;
            if !matches!(av, Value::Array(_)) || !matches!(bv, Value::Array(_)) {
                return Err(a.err(an, "an array", av));
            }
            let pa = a.vector(an)?.into_owned();
            let pb = a.vector(bn)?.into_owned();
            if pa.len() != pairs || pb.len() != pairs {
                return Err(EngineError::unsupported(format!(
                    "{class} has probability=True but {an} has {} and {bn} {} values for {pairs} pairs of classes",
                    pa.len(),
                    pb.len()
                )));
            }
            Some((pa, pb))
        } else {
            None
        };
        let ovr = match a.opt("decision_function_shape") {
            None => true,
            Some(Value::Str(s)) if s == "ovr" => true,
            Some(Value::Str(s)) if s == "ovo" => false,
            Some(v) => {
                return Err(a.err("decision_function_shape", "\"ovr\" or \"ovo\"", v));
            }
        };
        let break_ties = a.bool_or("break_ties", false)?;
        if break_ties && !ovr {
            // scikit-learn's predict raises on this combination.
            return Err(EngineError::unsupported(format!(
                "{class} has break_ties=True with decision_function_shape=\"ovo\", for which scikit-learn's predict raises"
            )));
        }
        Ok(Svm {
            class,
            classes,
            n_features,
            kernel,
            l,
            start,
            coef,
            intercept,
            prob,
            ovr,
            break_ties,
            vectors,
        })
    }

    /// Whether the model was fitted on a sparse matrix.
    pub(crate) fn sparse(&self) -> bool {
        !matches!(self.vectors, Vectors::Dense { .. })
    }

    /// `k_function(x, SV[i])` for every support vector.
    fn kernel_values(&self, row: &Row) -> Vec<f64> {
        let l = self.l;
        let mut kv = vec![0.0; l];
        match &self.vectors {
            Vectors::SparseByColumn {
                col_ptr,
                sv,
                values,
            } => {
                let x = row.to_sparse();
                // Accumulate each support vector's dot product in the
                // row's column order, from zero, as libsvm's merge does.
                for (&c, &xv) in x.indices.iter().zip(&x.values) {
                    let Some(w) = col_ptr.get(c as usize..c as usize + 2) else {
                        continue;
                    };
                    let (lo, hi) = (w[0] as usize, w[1] as usize);
                    for (&i, &y) in sv[lo..hi].iter().zip(&values[lo..hi]) {
                        kv[i as usize] += xv * y;
                    }
                }
                if self.kernel != Kernel::Linear {
                    for v in &mut kv {
                        *v = self.kernel.finish(*v);
                    }
                }
            }
            Vectors::SparseByRow {
                row_ptr,
                cols,
                values,
            } => {
                let x = row.to_sparse();
                let (xi, xv) = (&x.indices[..], &x.values[..]);
                for (i, out) in kv.iter_mut().enumerate() {
                    let (lo, hi) = (row_ptr[i] as usize, row_ptr[i + 1] as usize);
                    let sum = rbf_merge(xi, xv, &cols[lo..hi], &values[lo..hi]);
                    *out = self.kernel.finish(sum);
                }
            }
            Vectors::SparseGrouped {
                group_ptr,
                cols,
                values,
            } => {
                let x = row.to_sparse();
                rbf_groups(&x.indices, &x.values, group_ptr, cols, values, &mut kv);
                for v in &mut kv {
                    *v = self.kernel.finish(*v);
                }
            }
            Vectors::Dense { values } => {
                let x = row.to_dense(self.n_features);
                let rbf = matches!(self.kernel, Kernel::Rbf { .. });
                for (f, &xf) in x.values.iter().enumerate().take(self.n_features) {
                    let col = &values[f * l..(f + 1) * l];
                    if rbf {
                        for (acc, &y) in kv.iter_mut().zip(col) {
                            let d = xf - y;
                            *acc += d * d;
                        }
                    } else {
                        for (acc, &y) in kv.iter_mut().zip(col) {
                            *acc += xf * y;
                        }
                    }
                }
                if self.kernel != Kernel::Linear {
                    for v in &mut kv {
                        *v = self.kernel.finish(*v);
                    }
                }
            }
        }
        kv
    }

    /// libsvm's `dec_values` for one row, one per pair of classes in
    /// libsvm's order (sign unflipped), and its votes' winner.
    fn decision_values(&self, row: &Row) -> (Vec<f64>, usize) {
        let k = self.classes.len();
        let l = self.l;
        let kv = self.kernel_values(row);
        let mut dec = Vec::with_capacity(k * (k - 1) / 2);
        let mut vote = vec![0usize; k];
        let mut p = 0;
        for i in 0..k {
            for j in i + 1..k {
                let (si, sj) = (self.start[i], self.start[j]);
                let (ei, ej) = (self.start[i + 1], self.start[j + 1]);
                let coef1 = &self.coef[(j - 1) * l..j * l];
                let coef2 = &self.coef[i * l..(i + 1) * l];
                let mut sum = 0.0;
                for s in si..ei {
                    sum += coef1[s] * kv[s];
                }
                for s in sj..ej {
                    sum += coef2[s] * kv[s];
                }
                // `sum -= rho[p]` with `rho = -_intercept_`.
                sum -= -self.intercept[p];
                dec.push(sum);
                if sum > 0.0 {
                    vote[i] += 1;
                } else {
                    vote[j] += 1;
                }
                p += 1;
            }
        }
        let mut best = 0;
        for (c, &v) in vote.iter().enumerate().skip(1) {
            if v > vote[best] {
                best = c;
            }
        }
        (dec, best)
    }

    pub(crate) fn score(&self, row: &Row) -> Scores {
        let k = self.classes.len();
        let (dec, voted) = self.decision_values(row);
        let probabilities = self.prob.as_ref().map(|(pa, pb)| {
            let mut r = vec![vec![0.0; k]; k];
            let mut p = 0;
            for i in 0..k {
                for j in i + 1..k {
                    let s = sigmoid_predict(dec[p], pa[p], pb[p]);
                    // C++ `min(max(s, min_prob), 1 - min_prob)`.
                    let lo = if s > MIN_PROB { s } else { MIN_PROB };
                    let hi = 1.0 - MIN_PROB;
                    r[i][j] = if lo < hi { lo } else { hi };
                    r[j][i] = 1.0 - r[i][j];
                    p += 1;
                }
            }
            multiclass_probability(k, &r)
        });
        let (decision, label) = if k == 2 {
            (vec![-dec[0]], voted)
        } else if self.ovr {
            let predictions: Vec<usize> = dec.iter().map(|&d| usize::from(d < 0.0)).collect();
            let confidences: Vec<f64> = dec.iter().map(|&d| -d).collect();
            let ovr = super::multiclass::ovr_decision(&predictions, &confidences, k);
            let label = if self.break_ties {
                super::argmax(&ovr)
            } else {
                voted
            };
            (ovr, label)
        } else {
            (dec, voted)
        };
        Scores {
            label,
            probabilities,
            decision: Some(decision),
        }
    }

    /// `decision_function_shape="ovo"` with three or more classes: one
    /// decision per pair of classes.
    pub(crate) fn per_pair(&self) -> bool {
        self.classes.len() > 2 && !self.ovr
    }

    pub(crate) fn has_proba(&self) -> bool {
        self.prob.is_some()
    }

    pub(crate) fn describe(&self) -> String {
        let params = match self.kernel {
            Kernel::Linear => String::new(),
            Kernel::Rbf { gamma } => format!(" gamma={gamma}"),
            Kernel::Poly {
                gamma,
                coef0,
                degree,
            } => format!(" gamma={gamma} coef0={coef0} degree={degree}"),
            Kernel::Sigmoid { gamma, coef0 } => format!(" gamma={gamma} coef0={coef0}"),
        };
        format!(
            "{} kernel={}{params} classes={} n_features={} support_vectors={} ({}{}{})",
            self.class,
            self.kernel.name(),
            self.classes.len(),
            self.n_features,
            self.l,
            if self.sparse() { "sparse" } else { "dense" },
            if self.ovr { ", ovr" } else { ", ovo" },
            if self.has_proba() {
                ", predict_proba"
            } else {
                ""
            }
        )
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let v = match &self.vectors {
            Vectors::SparseByColumn {
                col_ptr,
                sv,
                values,
            } => col_ptr.len() * 4 + sv.len() * 4 + values.len() * 8,
            Vectors::SparseByRow {
                row_ptr,
                cols,
                values,
            } => row_ptr.len() * 4 + cols.len() * 4 + values.len() * 8,
            Vectors::SparseGrouped {
                group_ptr,
                cols,
                values,
            } => group_ptr.len() * 4 + cols.len() * 4 + values.len() * 8,
            Vectors::Dense { values } => values.len() * 8,
        };
        let p = self
            .prob
            .as_ref()
            .map_or(0, |(a, b)| (a.len() + b.len()) * 8);
        v + p + (self.coef.len() + self.intercept.len()) * 8 + self.start.len() * 8
    }
}

/// The support vectors of a sparse fit as CSC: column `c`'s entries list
/// the support vectors having it, in increasing support-vector order.
fn by_column(m: &Csr<'_>) -> Vectors {
    let mut col_ptr = vec![0u32; m.cols + 1];
    for &c in &m.indices {
        col_ptr[c + 1] += 1;
    }
    for c in 0..m.cols {
        col_ptr[c + 1] += col_ptr[c];
    }
    let mut next: Vec<u32> = col_ptr[..m.cols].to_vec();
    let mut sv = vec![0u32; m.indices.len()];
    let mut values = vec![0.0; m.indices.len()];
    for r in 0..m.rows {
        for e in m.indptr[r]..m.indptr[r + 1] {
            let c = m.indices[e];
            let at = next[c] as usize;
            sv[at] = r as u32;
            values[at] = m.data[e];
            next[c] += 1;
        }
    }
    Vectors::SparseByColumn {
        col_ptr,
        sv,
        values,
    }
}

/// libsvm's sparse rbf distance between the row `(xi, xv)` and one
/// support vector `(yi, yv)`: the two ascending index lists merged, each
/// step adding `(x - y)²`, `x²` or `y²` to one running sum from zero.
fn rbf_merge(xi: &[u32], xv: &[f64], yi: &[u32], yv: &[f64]) -> f64 {
    let (mut a, mut b) = (0, 0);
    let mut sum = 0.0;
    while a < xi.len() && b < yi.len() {
        if xi[a] == yi[b] {
            let d = xv[a] - yv[b];
            sum += d * d;
            a += 1;
            b += 1;
        } else if xi[a] > yi[b] {
            sum += yv[b] * yv[b];
            b += 1;
        } else {
            sum += xv[a] * xv[a];
            a += 1;
        }
    }
    for &x in &xv[a..] {
        sum += x * x;
    }
    for &y in &yv[b..] {
        sum += y * y;
    }
    sum
}

/// Support vectors per group of [`Vectors::SparseGrouped`].
const LANES: usize = 8;

/// The grouped layout of a sparse rbf model's support vectors, or `None`
/// when the groups' zero padding would take more than twice the CSR
/// arrays (support vectors sharing few columns).
fn grouped(m: &Csr<'_>) -> Option<Vectors> {
    let csr_bytes = m.data.len() * 12;
    let mut group_ptr = vec![0u32];
    let mut cols: Vec<u32> = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    let mut union: Vec<usize> = Vec::new();
    for first in (0..m.rows).step_by(LANES) {
        let members = first..(first + LANES).min(m.rows);
        union.clear();
        for r in members.clone() {
            union.extend_from_slice(&m.indices[m.indptr[r]..m.indptr[r + 1]]);
        }
        union.sort_unstable();
        union.dedup();
        let base = values.len();
        if (base + union.len() * LANES) * 8 + (cols.len() + union.len()) * 4 > 2 * csr_bytes + 4096
        {
            return None;
        }
        values.resize(base + union.len() * LANES, 0.0);
        for (lane, r) in members.enumerate() {
            // Both lists ascend: walk them together.
            let mut t = 0;
            for e in m.indptr[r]..m.indptr[r + 1] {
                while union[t] < m.indices[e] {
                    t += 1;
                }
                values[base + t * LANES + lane] = m.data[e];
            }
        }
        cols.extend(union.iter().map(|&c| c as u32));
        group_ptr.push(cols.len() as u32);
    }
    Some(Vectors::SparseGrouped {
        group_ptr,
        cols,
        values,
    })
}

/// libsvm's sparse rbf distances from the row `(xi, xv)` to every support
/// vector of a [`Vectors::SparseGrouped`] layout, into `out`.
///
/// For one support vector libsvm adds, in increasing column order over
/// the union of the two index lists, `(x − y)²` where both have the
/// column, `x²` where only the row has it and `y²` where only the support
/// vector has it. Here a group's lane adds `(x − y)²` over the union of
/// the row's and the *group's* columns, with 0 for a missing value: where
/// only the row has the column that is `(x − 0)² = x·x`, where only the
/// support vector has it `(0 − y)² = y·y` — the same bits — and where
/// neither has it (another member's column) `(0 − 0)² = +0`, which leaves
/// a sum of squares unchanged. Each lane thus adds libsvm's terms in
/// libsvm's order, and the [`LANES`] lanes are independent sums.
fn rbf_groups(
    xi: &[u32],
    xv: &[f64],
    group_ptr: &[u32],
    cols: &[u32],
    values: &[f64],
    out: &mut [f64],
) {
    let sq: Vec<f64> = xv.iter().map(|&x| x * x).collect();
    for (g, w) in group_ptr.windows(2).enumerate() {
        let (lo, hi) = (w[0] as usize, w[1] as usize);
        let mut acc = [0.0f64; LANES];
        let mut a = 0;
        for (t, &c) in cols[lo..hi].iter().enumerate() {
            // The row's columns before `c` that no member has: x².
            while a < xi.len() && xi[a] < c {
                let q = sq[a];
                for s in &mut acc {
                    *s += q;
                }
                a += 1;
            }
            let x = if a < xi.len() && xi[a] == c {
                a += 1;
                xv[a - 1]
            } else {
                0.0
            };
            let v = &values[(lo + t) * LANES..(lo + t + 1) * LANES];
            for (s, &y) in acc.iter_mut().zip(v) {
                let d = x - y;
                *s += d * d;
            }
        }
        for &q in &sq[a..] {
            for s in &mut acc {
                *s += q;
            }
        }
        let first = g * LANES;
        let n = LANES.min(out.len() - first);
        out[first..first + n].copy_from_slice(&acc[..n]);
    }
}

/// libsvm's `min_prob`: pairwise probabilities are clipped to
/// `[min_prob, 1 - min_prob]`.
const MIN_PROB: f64 = 1e-7;

/// libsvm's `sigmoid_predict`: Platt's `1 / (1 + exp(A f + B))`, written
/// to avoid cancellation on either side of zero.
fn sigmoid_predict(decision: f64, a: f64, b: f64) -> f64 {
    let f_apb = decision * a + b;
    if f_apb >= 0.0 {
        (-f_apb).exp() / (1.0 + (-f_apb).exp())
    } else {
        1.0 / (1.0 + f_apb.exp())
    }
}

/// libsvm's `multiclass_probability` (method 2 of Wu, Lin and Weng):
/// couples the pairwise probabilities `r` into one distribution, with its
/// iteration limit `max(100, k)` and stopping rule `max error < 0.005/k`.
fn multiclass_probability(k: usize, r: &[Vec<f64>]) -> Vec<f64> {
    let max_iter = k.max(100);
    let eps = 0.005 / k as f64;
    let mut p = vec![1.0 / k as f64; k];
    let mut q = vec![vec![0.0; k]; k];
    for t in 0..k {
        q[t][t] = 0.0;
        for j in 0..t {
            q[t][t] += r[j][t] * r[j][t];
            q[t][j] = q[j][t];
        }
        for j in t + 1..k {
            q[t][t] += r[j][t] * r[j][t];
            q[t][j] = -r[j][t] * r[t][j];
        }
    }
    let mut qp = vec![0.0; k];
    for _ in 0..max_iter {
        // Recomputed each round for accuracy, as libsvm does.
        let mut pqp = 0.0;
        for t in 0..k {
            qp[t] = 0.0;
            for j in 0..k {
                qp[t] += q[t][j] * p[j];
            }
            pqp += p[t] * qp[t];
        }
        let mut max_error: f64 = 0.0;
        for &v in &qp {
            let error = (v - pqp).abs();
            if error > max_error {
                max_error = error;
            }
        }
        if max_error < eps {
            break;
        }
        for t in 0..k {
            let diff = (-qp[t] + pqp) / q[t][t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t][t] + 2.0 * qp[t])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[t][j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
    p
}

impl super::Estimator for Svm {
    fn classes(&self) -> &[Label] {
        &self.classes
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn has_proba(&self) -> bool {
        Svm::has_proba(self)
    }
    fn has_decision(&self) -> bool {
        true
    }
    fn score(&self, row: &Row) -> Scores {
        Svm::score(self, row)
    }
    fn decision_per_pair(&self) -> bool {
        self.per_pair()
    }
    fn check_input(&self, sparse: bool) -> Result<()> {
        if sparse && !self.sparse() {
            return Err(EngineError::unsupported(format!(
                "{} was fitted on a dense matrix but receives a sparse one (scikit-learn raises \"cannot use sparse input in {} trained on dense data\")",
                self.class, self.class
            )));
        }
        Ok(())
    }
    fn describe(&self) -> String {
        Svm::describe(self)
    }
    fn heap_bytes(&self) -> usize {
        Svm::heap_bytes(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powi_is_square_and_multiply() {
        assert_eq!(powi(2.0, 0), 1.0);
        assert_eq!(powi(2.0, 10), 1024.0);
        assert_eq!(powi(-3.0, 3), -27.0);
        // 1.1^3 by square-and-multiply: ret = 1.1, then 1.1 * 1.21.
        assert_eq!(powi(1.1, 3), 1.1 * (1.1 * 1.1));
    }

    #[test]
    fn rbf_merge_adds_terms_in_column_order() {
        let s = rbf_merge(&[0, 2], &[1.0, 3.0], &[1, 2, 5], &[2.0, 1.0, 4.0]);
        assert_eq!(s, ((1.0 + 4.0) + 4.0) + 16.0);
        assert_eq!(rbf_merge(&[], &[], &[3], &[2.0]), 4.0);
    }

    #[test]
    fn grouped_rbf_matches_one_merge_per_support_vector() {
        // Five support vectors (one partial group), overlapping columns.
        let rows: [&[(usize, f64)]; 5] = [
            &[(0, 0.5), (3, 0.25)],
            &[(1, 0.1), (3, 0.7), (9, 0.3)],
            &[],
            &[(2, 1e-3), (4, 0.9)],
            &[(9, 0.6)],
        ];
        let mut indptr = vec![0];
        let (mut indices, mut data) = (vec![], vec![]);
        for r in rows {
            for &(c, v) in r {
                indices.push(c);
                data.push(v);
            }
            indptr.push(indices.len());
        }
        let m = Csr {
            rows: 5,
            cols: 10,
            indptr,
            indices,
            data: Cow::Owned(data),
        };
        let Some(Vectors::SparseGrouped {
            group_ptr,
            cols,
            values,
        }) = grouped(&m)
        else {
            panic!("grouped layout refused")
        };
        let (xi, xv) = ([0u32, 2, 3, 5, 8], [0.3, 0.2, 0.1, 0.4, 0.9]);
        let mut out = vec![0.0; 5];
        rbf_groups(&xi, &xv, &group_ptr, &cols, &values, &mut out);
        for (r, got) in rows.iter().zip(&out) {
            let yi: Vec<u32> = r.iter().map(|&(c, _)| c as u32).collect();
            let yv: Vec<f64> = r.iter().map(|&(_, v)| v).collect();
            assert_eq!(got.to_bits(), rbf_merge(&xi, &xv, &yi, &yv).to_bits());
        }
    }

    #[test]
    fn coupling_of_two_classes_keeps_the_pair_probability() {
        let r = vec![vec![0.0, 0.8], vec![0.2, 0.0]];
        let p = multiclass_probability(2, &r);
        assert!((p[0] - 0.8).abs() < 1e-3 && (p[0] + p[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sigmoid_is_continuous_at_zero() {
        assert_eq!(sigmoid_predict(0.0, 1.0, 0.0), 0.5);
        assert!(sigmoid_predict(-50.0, 1.0, 0.0) > 0.999);
        assert!(sigmoid_predict(50.0, 1.0, 0.0) < 1e-20);
    }
}
