//! `KNeighborsClassifier` with `algorithm="brute"`, metric `euclidean`
//! (or `minkowski` with `p=2`) or `cosine`, weights `uniform` or
//! `distance`, on the stored training matrix `_fit_X` (CSR or dense).
//!
//! **Which code computes the distances in scikit-learn 1.7.**
//! `kneighbors` uses the Cython `ArgKmin` reduction only when
//! `ArgKmin.is_usable_for` accepts the pair of matrices: never for two
//! sparse matrices with a euclidean metric (disabled for speed, issue
//! #28191), never for `cosine` (not a `DistanceMetric`). So:
//!
//! * sparse input, either metric — `pairwise_distances_chunked`:
//!   euclidean is `euclidean_distances(squared=True)`:
//!   `(-2 x·y + |x|²) + |y|²` clipped at 0, with `|x|²` and `|y|²` summed
//!   in column order (`csr_row_norms`) and `x·y` scipy's sparse product
//!   (`csr_matmat`: per training row, the query's non-zeros in column
//!   order, from 0); cosine is `1 - x̂·ŷ` clipped to `[0, 2]`, where both
//!   sides are re-normalised by `normalize` (`inplace_csr_row_normalize_l2`
//!   — the training side once at load, as each call would). Reproduced
//!   bit for bit. The `k` smallest are taken by `np.argpartition`, then
//!   sorted; the distances returned for euclidean are `sqrt` of the
//!   squared ones.
//! * dense input (after `TruncatedSVD`), euclidean — `EuclideanArgKmin`:
//!   `(|x|² + (-2 x·y)) + |y|²` clipped at 0, with the norms from BLAS
//!   `ddot` and the products from BLAS `dgemm`; dense cosine goes through
//!   `pairwise_distances` with `einsum` norms and a BLAS product. Those
//!   sums have no fixed order; here they are in-order sums, within a few
//!   ulps (measured on the fixtures, see `docs/ARCHITECTURE.md`).
//!
//! **Ties.** Which of several training rows at exactly the same distance
//! becomes the k-th neighbour is decided in numpy by `argpartition`, whose
//! x86-simd-sort implementation picks differently on AVX-512, AVX2 and
//! plain CPUs; scikit-learn's own answer then depends on the machine. It
//! happens whenever the text shares no term with many training rows (an
//! empty or foreign-script text is at cosine distance 1 from all of them).
//! When the rows tied at the k-th distance all carry the same class, any
//! choice gives the same answer, which is served. When they carry
//! different classes the answer is undetermined, and [`KNeighbors`]
//! refuses that text (`EngineError::Undetermined`) rather than guess.
//!
//! **Scores.** `predict_proba`: uniform weights count each neighbour's
//! class and divide by the sum (`k`); `distance` weights are `1 / d`, or,
//! when some neighbour is at distance 0, 1 for those and 0 for the others
//! (`_get_weights`), accumulated per class in neighbour order and divided
//! by their pairwise sum. `predict` is `scipy.stats.mode` (uniform: the
//! smallest class index among the most frequent) or `weighted_mode`
//! (distance: per class, `np.sum` of the k weights with zeros elsewhere; the
//! first class with the largest sum).

use falcon_pickle::{ArrayData, Object, Value};

use super::{MultiEstimator, Scores};
use crate::Label;
use crate::attrs::{Attrs, labels};
use crate::error::{EngineError, Result};
use crate::row::Row;
use crate::sparse::{SparseRow, numpy_sum};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    Euclidean,
    Cosine,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Weighting {
    Uniform,
    Distance,
}

/// `_fit_X`, kept once in the layout its products read.
enum FitX {
    /// Column-major (CSC) copy of the CSR matrix: for each feature, the
    /// training rows holding it with their values, so a query's non-zero
    /// adds its products to every training row's sum in the query's column
    /// order, as scipy's `csr_matmat` does. For cosine the values are the
    /// row-normalised ones.
    Sparse {
        colptr: Vec<u32>,
        rows: Vec<u32>,
        values: Vec<f64>,
    },
    /// Row-major `[n_samples, n_features]` (normalised rows for cosine).
    Dense(Vec<f64>),
}

pub(crate) struct KNeighbors {
    classes: Vec<Label>,
    /// `_y`: each training row's class index.
    y: Vec<u32>,
    k: usize,
    n_samples: usize,
    n_features: usize,
    metric: Metric,
    weighting: Weighting,
    fit: FitX,
    /// Euclidean: `|y|²` of each training row (`row_norms(squared=True)`).
    sq_norms: Vec<f64>,
}

/// The k nearest training rows of one query.
struct Neighbours {
    /// `(index, distance)` ascending by distance (ties by index).
    nearest: Vec<(u32, f64)>,
}

/// A non-negative integer array (CSR `indices`/`indptr`), any int width.
fn indices(a: &Attrs<'_>, name: &str, bound: usize) -> Result<Vec<u32>> {
    let arr = a.array(name)?;
    let bad = || {
        a.err_found(
            name,
            &format!("integers in 0..={bound}"),
            "a value out of range or a non-integer array",
        )
    };
    let check = |x: i128| -> Result<u32> {
        if x < 0 || x > bound as i128 || x > u32::MAX as i128 {
            return Err(bad());
        }
        Ok(x as u32)
    };
    match &arr.data {
        ArrayData::I64(v) => v.iter().map(|&x| check(x as i128)).collect(),
        ArrayData::U64(v) => v.iter().map(|&x| check(x as i128)).collect(),
        _ => Err(bad()),
    }
}

/// `inplace_csr_row_normalize_l2` / `SparseRow::normalize_l2` on a slice:
/// the sum of squares in order, then each value divided by its root.
fn normalize_l2(v: &mut [f64]) {
    let mut sum = 0.0f64;
    for &x in v.iter() {
        sum += x * x;
    }
    if sum == 0.0 {
        return;
    }
    let norm = sum.sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
}

fn sum_squares(v: &[f64]) -> f64 {
    let mut s = 0.0f64;
    for &x in v {
        s += x * x;
    }
    s
}

impl KNeighbors {
    /// `max_dense` bounds the bytes of the stored training matrix.
    pub(crate) fn from_object(obj: &Object, max_dense: usize) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let class = a.class;
        let classes = labels(&a, "classes_", class)?;
        if a.bool_or("outputs_2d_", false)? {
            return Err(EngineError::unsupported(format!(
                "{class} fitted on several outputs (outputs_2d_) is not supported"
            )));
        }
        let method = a.str("_fit_method")?;
        if method != "brute" {
            return Err(EngineError::unsupported(format!(
                "{class}._fit_method is {method:?}: only algorithm=\"brute\" is reproduced"
            )));
        }
        let metric = match a.str("effective_metric_")? {
            "euclidean" => Metric::Euclidean,
            "cosine" => Metric::Cosine,
            other => {
                return Err(EngineError::unsupported(format!(
                    "{class} with metric {other:?}: Falcon reproduces \"euclidean\" (minkowski p=2) and \"cosine\""
                )));
            }
        };
        match a.opt("effective_metric_params_") {
            None | Some(Value::None) => {}
            Some(Value::Dict(d)) if d.is_empty() => {}
            Some(v) => {
                return Err(a.err("effective_metric_params_", "no metric parameters", v));
            }
        }
        let weighting = match a.get("weights")? {
            Value::Str(s) if s == "uniform" => Weighting::Uniform,
            Value::None => Weighting::Uniform,
            Value::Str(s) if s == "distance" => Weighting::Distance,
            v => {
                return Err(a.err("weights", "\"uniform\" or \"distance\"", v));
            }
        };
        let k = match a.get("n_neighbors")? {
            Value::Int(k) if *k >= 1 => *k as usize,
            v => return Err(a.err("n_neighbors", "a positive integer", v)),
        };
        let y_arr = a.array("_y")?;
        let n_classes = classes.len();
        let y: Vec<u32> = match &y_arr.data {
            ArrayData::I64(v) => v
                .iter()
                .map(|&c| u32::try_from(c).ok().filter(|&c| (c as usize) < n_classes))
                .collect::<Option<_>>(),
            ArrayData::U64(v) => v
                .iter()
                .map(|&c| u32::try_from(c).ok().filter(|&c| (c as usize) < n_classes))
                .collect::<Option<_>>(),
            _ => None,
        }
        .ok_or_else(|| a.err_found("_y", "class indices into classes_", "other values"))?;
        let n_samples = y.len();
        if k > n_samples {
            return Err(EngineError::unsupported(format!(
                "{class}.n_neighbors is {k} but only {n_samples} training rows are stored (scikit-learn raises on every predict)"
            )));
        }
        let (fit, n_features, sq_norms) = match a.get("_fit_X")? {
            Value::Array(_) => {
                let (rows, cols) = a.matrix_shape("_fit_X")?;
                if cols == 0 {
                    return Err(EngineError::unsupported(format!(
                        "{class}._fit_X has no columns"
                    )));
                }
                if rows != n_samples {
                    return Err(EngineError::unsupported(format!(
                        "{class}._fit_X has {rows} rows but _y {n_samples} labels"
                    )));
                }
                super::check_dense(class, "_fit_X", 0, rows.saturating_mul(cols), max_dense)?;
                if matches!(a.array("_fit_X")?.data, ArrayData::F32(_)) {
                    return Err(a.err_found(
                        "_fit_X",
                        "a float64 or integer matrix (float32 distances are computed in upcast chunks Falcon does not reproduce)",
                        "float32",
                    ));
                }
                let (data, _, _) = a.matrix("_fit_X")?;
                a.check_finite("_fit_X", &data, cols)?;
                let mut data = data.into_owned();
                let sq_norms = match metric {
                    Metric::Euclidean => data.chunks(cols.max(1)).map(sum_squares).collect(),
                    Metric::Cosine => {
                        if cols > 0 {
                            data.chunks_mut(cols).for_each(dense_normalize);
                        }
                        Vec::new()
                    }
                };
                (FitX::Dense(data), cols, sq_norms)
            }
            Value::Object(m) => Self::sparse_fit(class, m, n_samples, metric, max_dense)?,
            v => return Err(a.err("_fit_X", "a matrix", v)),
        };
        if let Some(Value::Int(n)) = a.opt("n_features_in_")
            && usize::try_from(*n).ok() != Some(n_features)
        {
            return Err(EngineError::unsupported(format!(
                "{class}._fit_X has {n_features} columns but n_features_in_ is {n}"
            )));
        }
        Ok(KNeighbors {
            classes,
            y,
            k,
            n_samples,
            n_features,
            metric,
            weighting,
            fit,
            sq_norms,
        })
    }

    /// Reads a pickled `scipy.sparse.csr_matrix` `_fit_X` into CSC form
    /// (and its squared row norms for euclidean, or its normalised values
    /// for cosine).
    fn sparse_fit(
        class: &str,
        m: &Object,
        n_samples: usize,
        metric: Metric,
        max_dense: usize,
    ) -> Result<(FitX, usize, Vec<f64>)> {
        let what = |msg: String| EngineError::unsupported(format!("{class}._fit_X: {msg}"));
        if m.class.name != "csr_matrix" {
            return Err(what(format!("a {} (expected a CSR matrix)", m.class)));
        }
        let csr = Attrs::new(m)?;
        let shape = match csr.get("_shape")? {
            Value::Tuple(t) if t.len() == 2 => (t[0].as_i64(), t[1].as_i64()),
            v => return Err(what(format!("_shape is {}", crate::attrs::describe(v)))),
        };
        let (rows, cols) = match shape {
            (Some(r), Some(c)) if r >= 0 && c >= 1 && c < u32::MAX as i64 => {
                (r as usize, c as usize)
            }
            _ => return Err(what(format!("bad shape {shape:?}"))),
        };
        if rows != n_samples {
            return Err(what(format!("{rows} rows but _y has {n_samples} labels")));
        }
        // Integer counts (a `CountVectorizer` in front) are converted to
        // float64 by `check_pairwise_arrays`, exactly.
        if matches!(csr.array("data")?.data, ArrayData::F32(_)) {
            return Err(what(
                "data is float32 (float32 distances are computed in upcast chunks Falcon does not reproduce)".into(),
            ));
        }
        let data = csr.vector("data")?;
        // Three arrays of nnz entries plus the norms: bounded like a dense
        // table of the same number of cells.
        super::check_dense(
            class,
            "_fit_X",
            1,
            data.len().saturating_add(rows).saturating_add(cols),
            max_dense,
        )?;
        let idx = indices(&csr, "indices", cols.saturating_sub(1))?;
        let indptr = indices(&csr, "indptr", data.len())?;
        if indptr.len() != rows + 1 || idx.len() != data.len() || indptr.first() != Some(&0) {
            return Err(what(format!(
                "inconsistent CSR arrays (indptr {}, indices {}, data {}, {rows} rows)",
                indptr.len(),
                idx.len(),
                data.len()
            )));
        }
        if indptr.last().map(|&e| e as usize) != Some(data.len()) {
            return Err(what("indptr does not end at the number of values".into()));
        }
        let mut values = data.into_owned();
        let mut sq_norms = Vec::new();
        for (r, w) in indptr.windows(2).enumerate() {
            let (lo, hi) = (w[0] as usize, w[1] as usize);
            if lo > hi {
                return Err(what(format!("indptr is not monotone at row {r}")));
            }
            match metric {
                Metric::Euclidean => sq_norms.push(sum_squares(&values[lo..hi])),
                Metric::Cosine => normalize_l2(&mut values[lo..hi]),
            }
        }
        // CSR -> CSC, rows ascending within each column (the order does not
        // matter for the sums: each training row has its own).
        let mut colptr = vec![0u32; cols + 1];
        for &c in &idx {
            colptr[c as usize + 1] += 1;
        }
        for c in 0..cols {
            colptr[c + 1] += colptr[c];
        }
        let mut next: Vec<u32> = colptr[..cols].to_vec();
        let mut out_rows = vec![0u32; idx.len()];
        let mut out_vals = vec![0.0; idx.len()];
        for (r, w) in indptr.windows(2).enumerate() {
            for j in w[0] as usize..w[1] as usize {
                let c = idx[j] as usize;
                let at = next[c] as usize;
                out_rows[at] = r as u32;
                out_vals[at] = values[j];
                next[c] += 1;
            }
        }
        Ok((
            FitX::Sparse {
                colptr,
                rows: out_rows,
                values: out_vals,
            },
            cols,
            sq_norms,
        ))
    }

    /// `x · y` for every training row `y`: the query's entries in column
    /// order, each adding its product to the rows holding that column.
    fn dots(&self, entries: &[(u32, f64)]) -> Vec<f64> {
        let mut acc = vec![0.0; self.n_samples];
        match &self.fit {
            FitX::Sparse {
                colptr,
                rows,
                values,
            } => {
                for &(c, x) in entries {
                    let c = c as usize;
                    if c + 1 >= colptr.len() {
                        continue;
                    }
                    let (lo, hi) = (colptr[c] as usize, colptr[c + 1] as usize);
                    for (&r, &v) in rows[lo..hi].iter().zip(&values[lo..hi]) {
                        acc[r as usize] += x * v;
                    }
                }
            }
            FitX::Dense(data) => {
                let n = self.n_features;
                for (t, o) in acc.iter_mut().enumerate() {
                    let y = &data[t * n..(t + 1) * n];
                    let mut s = 0.0;
                    for &(c, x) in entries {
                        if let Some(&v) = y.get(c as usize) {
                            s += x * v;
                        }
                    }
                    *o = s;
                }
            }
        }
        acc
    }

    /// The distance (squared for euclidean: the value neighbours are
    /// selected on) from the query to every training row.
    fn distances(&self, row: &Row) -> Vec<f64> {
        let dense = matches!(self.fit, FitX::Dense(_));
        let mut entries: Vec<(u32, f64)> = match row {
            Row::Sparse(s) => s
                .indices
                .iter()
                .copied()
                .zip(s.values.iter().copied())
                .collect(),
            Row::Dense(d) => (0u32..).zip(d.values.iter().copied()).collect(),
        };
        match self.metric {
            Metric::Euclidean => {
                let xx = entries.iter().fold(0.0, |s, &(_, x)| s + x * x);
                let dots = self.dots(&entries);
                dots.iter()
                    .zip(&self.sq_norms)
                    .map(|(&d, &yy)| {
                        // `(-2 x·y + |x|²) + |y|²` (ArgKmin adds the same
                        // three terms as `(|x|² + -2 x·y) + |y|²`: equal).
                        ((-2.0 * d + xx) + yy).max(0.0)
                    })
                    .collect()
            }
            Metric::Cosine => {
                if dense {
                    let mut v: Vec<f64> = entries.iter().map(|e| e.1).collect();
                    dense_normalize(&mut v);
                    entries.iter_mut().zip(v).for_each(|(e, x)| e.1 = x);
                } else {
                    let mut s = SparseRow {
                        indices: Vec::new(),
                        values: entries.iter().map(|e| e.1).collect(),
                        precision: None,
                    };
                    s.normalize_l2();
                    entries.iter_mut().zip(s.values).for_each(|(e, x)| e.1 = x);
                }
                self.dots(&entries)
                    .into_iter()
                    // S *= -1; S += 1; np.clip(S, 0, 2)
                    .map(|k| ((-k) + 1.0).clamp(0.0, 2.0))
                    .collect()
            }
        }
    }

    /// The k nearest training rows, or why the answer is not determined.
    fn neighbours(&self, row: &Row) -> std::result::Result<Neighbours, String> {
        let d = self.distances(row);
        let mut order: Vec<u32> = (0..self.n_samples as u32).collect();
        let k = self.k;
        // Ties by index: only matters below when the answer is the same
        // whatever the tie-break.
        let cmp = |a: &u32, b: &u32| d[*a as usize].total_cmp(&d[*b as usize]).then(a.cmp(b));
        if k < order.len() {
            order.select_nth_unstable_by(k, cmp);
        }
        let (head, tail) = order.split_at_mut(k.min(self.n_samples));
        head.sort_unstable_by(cmp);
        let kth = d[head[k - 1] as usize];
        if tail.iter().any(|&t| d[t as usize] == kth) {
            // Some rows at the k-th distance are left out: the answer is
            // determined only if every row at that distance has one class.
            let class_of = |t: &u32| self.y[*t as usize];
            let at_kth = head
                .iter()
                .chain(tail.iter())
                .filter(|&&t| d[t as usize] == kth);
            let mut classes = at_kth.map(class_of);
            let first = classes.next();
            if classes.any(|c| Some(c) != first) {
                let n_tied = d.iter().filter(|&&x| x == kth).count();
                let shown = match self.metric {
                    Metric::Euclidean => kth.sqrt(),
                    Metric::Cosine => kth,
                };
                return Err(format!(
                    "{n_tied} training rows of different classes are tied at the distance ({shown}) of the {k}th nearest neighbour; scikit-learn's choice among them depends on the CPU (numpy's argpartition), so Falcon does not guess"
                ));
            }
        }
        let nearest = head
            .iter()
            .map(|&t| {
                let v = d[t as usize];
                let dist = match self.metric {
                    Metric::Euclidean => v.sqrt(),
                    Metric::Cosine => v,
                };
                (t, dist)
            })
            .collect();
        Ok(Neighbours { nearest })
    }

    fn scores(&self, n: &Neighbours) -> Scores {
        let nc = self.classes.len();
        let w: Vec<f64> = match self.weighting {
            Weighting::Uniform => vec![1.0; n.nearest.len()],
            Weighting::Distance => {
                if n.nearest.iter().any(|&(_, d)| d == 0.0) {
                    n.nearest
                        .iter()
                        .map(|&(_, d)| if d == 0.0 { 1.0 } else { 0.0 })
                        .collect()
                } else {
                    n.nearest.iter().map(|&(_, d)| 1.0 / d).collect()
                }
            }
        };
        let mut proba = vec![0.0; nc];
        for (&(t, _), &wi) in n.nearest.iter().zip(&w) {
            proba[self.y[t as usize] as usize] += wi;
        }
        let label = match self.weighting {
            // `_mode`: the smallest class among the most frequent (counts
            // are exact).
            Weighting::Uniform => super::argmax(&proba),
            // `weighted_mode`: per class in ascending order, the sum of a
            // row holding the class's weights and zeros elsewhere; a class
            // wins only with a strictly larger sum.
            Weighting::Distance => {
                let mut best = (0usize, 0.0f64);
                let mut template = vec![0.0; w.len()];
                for c in 0..nc {
                    for (slot, (&(t, _), &wi)) in template.iter_mut().zip(n.nearest.iter().zip(&w))
                    {
                        *slot = if self.y[t as usize] as usize == c {
                            wi
                        } else {
                            0.0
                        };
                    }
                    let s = numpy_sum(&template);
                    if s > best.1 {
                        best = (c, s);
                    }
                }
                best.0
            }
        };
        let norm = numpy_sum(&proba);
        proba.iter_mut().for_each(|p| *p /= norm);
        Scores {
            label,
            probabilities: Some(proba),
            decision: None,
        }
    }
}

/// `normalize(X)` on a dense row: divide by the root of the sum of squares
/// (`row_norms`), a zero norm left as 1 (`_handle_zeros_in_scale`).
fn dense_normalize(v: &mut [f64]) {
    let norm = sum_squares(v).sqrt();
    let norm = if norm == 0.0 { 1.0 } else { norm };
    v.iter_mut().for_each(|x| *x /= norm);
}

impl super::Estimator for KNeighbors {
    fn classes(&self) -> &[Label] {
        &self.classes
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn has_proba(&self) -> bool {
        true
    }
    fn has_decision(&self) -> bool {
        false
    }
    fn try_score(&self, row: &Row) -> Result<Scores> {
        self.neighbours(row)
            .map(|n| self.scores(&n))
            .map_err(|e| EngineError::Undetermined(format!("KNeighborsClassifier: {e}")))
    }
    fn refuses_rows(&self) -> bool {
        true
    }
    /// `Model` calls [`Estimator::try_score`], which refuses an
    /// undetermined row; here (unreachable through `Model`: a KNN is
    /// refused inside meta-estimators) such a row gets the lowest-index
    /// tie-break.
    fn score(&self, row: &Row) -> Scores {
        let n = self.neighbours(row).unwrap_or_else(|_| {
            let d = self.distances(row);
            let mut order: Vec<u32> = (0..self.n_samples as u32).collect();
            order.sort_by(|a, b| d[*a as usize].total_cmp(&d[*b as usize]).then(a.cmp(b)));
            Neighbours {
                nearest: order[..self.k]
                    .iter()
                    .map(|&t| {
                        let v = d[t as usize];
                        (
                            t,
                            if self.metric == Metric::Euclidean {
                                v.sqrt()
                            } else {
                                v
                            },
                        )
                    })
                    .collect(),
            }
        });
        self.scores(&n)
    }
    fn describe(&self) -> String {
        format!(
            "KNeighborsClassifier n_neighbors={} metric={} weights={} ({} {} training rows x {} features, {} classes)",
            self.k,
            match self.metric {
                Metric::Euclidean => "euclidean",
                Metric::Cosine => "cosine",
            },
            match self.weighting {
                Weighting::Uniform => "uniform",
                Weighting::Distance => "distance",
            },
            self.n_samples,
            if matches!(self.fit, FitX::Sparse { .. }) {
                "sparse"
            } else {
                "dense"
            },
            self.n_features,
            self.classes.len()
        )
    }
    fn heap_bytes(&self) -> usize {
        let fit = match &self.fit {
            FitX::Sparse {
                colptr,
                rows,
                values,
            } => colptr.len() * 4 + rows.len() * 4 + values.len() * 8,
            FitX::Dense(d) => d.len() * 8,
        };
        fit + self.y.len() * 4 + self.sq_norms.len() * 8
    }
    fn as_multi(&self) -> Option<&dyn MultiEstimator> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Estimator;
    use crate::row::DenseRow;
    use crate::sparse::Precision;

    /// 4 training rows in 2 dense features, classes [0, 0, 1, 1].
    fn dense(metric: Metric, weighting: Weighting, k: usize) -> KNeighbors {
        let mut data = vec![0.0, 0.0, 1.0, 0.0, 0.0, 3.0, 4.0, 4.0];
        let sq_norms = match metric {
            Metric::Euclidean => data.chunks(2).map(sum_squares).collect(),
            Metric::Cosine => {
                data.chunks_mut(2).for_each(dense_normalize);
                Vec::new()
            }
        };
        KNeighbors {
            classes: vec![Label::Str("a".into()), Label::Str("b".into())],
            y: vec![0, 0, 1, 1],
            k,
            n_samples: 4,
            n_features: 2,
            metric,
            weighting,
            fit: FitX::Dense(data),
            sq_norms,
        }
    }

    fn row(x: f64, y: f64) -> Row {
        Row::Dense(DenseRow {
            values: vec![x, y],
            precision: Precision::F64,
        })
    }

    #[test]
    fn euclidean_uniform_counts_the_k_nearest() {
        let m = dense(Metric::Euclidean, Weighting::Uniform, 3);
        // distances from (0, 1): 1, sqrt(2), 2, sqrt(25)
        let n = m.neighbours(&row(0.0, 1.0)).unwrap();
        let idx: Vec<u32> = n.nearest.iter().map(|x| x.0).collect();
        assert_eq!(idx, vec![0, 1, 2]);
        assert_eq!(n.nearest[2].1, 2.0);
        let s = m.score(&row(0.0, 1.0));
        assert_eq!(s.probabilities.unwrap(), vec![2.0 / 3.0, 1.0 / 3.0]);
        assert_eq!(s.label, 0);
    }

    #[test]
    fn distance_weights_and_an_exact_match() {
        let m = dense(Metric::Euclidean, Weighting::Distance, 2);
        let s = m.score(&row(0.0, 2.0));
        // neighbours: row 0 at 2, row 2 at 1 -> weights 1/2 and 1
        let p = s.probabilities.unwrap();
        assert_eq!(p, vec![0.5 / 1.5, 1.0 / 1.5]);
        assert_eq!(s.label, 1);
        // At distance 0 only that neighbour counts.
        let s = m.score(&row(0.0, 3.0));
        assert_eq!(s.probabilities.unwrap(), vec![0.0, 1.0]);
    }

    #[test]
    fn a_mixed_class_tie_at_the_kth_neighbour_is_refused() {
        // (0.5, 0) is at 0.5 from rows 0 and 1 (both class 0): determined.
        let m = dense(Metric::Euclidean, Weighting::Uniform, 1);
        assert!(m.try_score(&row(0.5, 0.0)).is_ok());
        // Cosine: the zero query is at distance 1 from every row.
        let m = dense(Metric::Cosine, Weighting::Uniform, 1);
        let e = m.try_score(&row(0.0, 0.0)).err().unwrap().to_string();
        assert!(e.contains("tied"), "{e}");
        // With k = 4 every row is taken: no choice left.
        let m = dense(Metric::Cosine, Weighting::Uniform, 4);
        assert!(m.try_score(&row(0.0, 0.0)).is_ok());
        assert!(m.refuses_rows());
    }

    #[test]
    fn sparse_fit_is_stored_column_major_with_the_same_products() {
        let mut m = dense(Metric::Euclidean, Weighting::Uniform, 2);
        let dense_d = m.distances(&row(1.0, 2.0));
        m.fit = FitX::Sparse {
            // rows: (1, 0) -> row 1; (0, 3) -> row 2; (4, 4) -> row 3
            colptr: vec![0, 2, 4],
            rows: vec![1, 3, 2, 3],
            values: vec![1.0, 4.0, 3.0, 4.0],
        };
        let sparse = Row::Sparse(SparseRow {
            indices: vec![0, 1],
            values: vec![1.0, 2.0],
            precision: None,
        });
        assert_eq!(m.distances(&sparse), dense_d);
    }
}
