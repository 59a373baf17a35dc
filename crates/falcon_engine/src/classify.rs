//! Classifiers: feature row → scores, probabilities and a label, with the
//! formulas scikit-learn's `decision_function`/`predict_proba` use.

// One module per estimator family; `crate::registry` maps class names to
// their builders.
pub(crate) mod boosting;
mod calibration;
mod ensemble;
pub(crate) mod forest;
mod linear;
pub(crate) mod mlp;
mod multiclass;
// Outputs beyond one label (issue #11 section 2).
pub(crate) mod multilabel;
pub(crate) mod multioutput;
mod naive_bayes;
pub(crate) mod neighbors;
mod svm;
mod tree;

use std::sync::Arc;

pub(crate) use calibration::Calibrated;
pub(crate) use ensemble::{Stacking, Voting};
pub(crate) use linear::Linear;
pub(crate) use multiclass::{OneVsOne, OneVsRest};
pub(crate) use naive_bayes::NaiveBayes;
pub(crate) use svm::Svm;
pub(crate) use tree::DecisionTree;

use crate::Label;
use crate::error::{EngineError, Result};
use crate::row::Row;
use crate::sparse::{SparseRow, numpy_sum};

/// What one classifier computes for one row.
pub(crate) struct Scores {
    /// Index into `classes` of the predicted label.
    pub(crate) label: usize,
    /// `predict_proba`, when the estimator has it.
    pub(crate) probabilities: Option<Vec<f64>>,
    /// `decision_function` (one value for binary models), when it exists.
    pub(crate) decision: Option<Vec<f64>>,
}

impl Scores {
    /// Refuses an answer scikit-learn would give as NaN or an infinity:
    /// JSON cannot carry it (it would be served as `null`). Load-time
    /// checks make this unreachable for ordinary models; extreme but finite
    /// parameters can still overflow on some text.
    pub(crate) fn check_finite(&self) -> Result<()> {
        let all = self.probabilities.iter().chain(&self.decision).flatten();
        match all.copied().find(|x| !x.is_finite()) {
            None => Ok(()),
            Some(x) => Err(EngineError::NonFinite(format!(
                "the model's score for this text is {x} (scikit-learn computes the same), which cannot be served"
            ))),
        }
    }
}

/// A fitted classifier: one feature row in, scikit-learn's `predict`,
/// `predict_proba` and `decision_function` for it out.
///
/// Every estimator family implements it in its own module (`linear`,
/// `naive_bayes`, the meta-estimators, ...), and `crate::registry` maps
/// scikit-learn class names to their builders. Meta-estimators hold their
/// fitted sub-estimators as `Box<dyn Estimator>` and combine their
/// [`Scores`] exactly as scikit-learn combines theirs.
pub(crate) trait Estimator: Send + Sync {
    /// `classes_`, in the order of probabilities and decisions.
    fn classes(&self) -> &[Label];
    /// Width of the input row.
    fn n_features(&self) -> usize;
    /// Whether `predict_proba` exists for this fitted estimator.
    fn has_proba(&self) -> bool;
    /// Whether `decision_function` exists.
    fn has_decision(&self) -> bool;
    /// `predict` (as an index into `classes`), `predict_proba` and
    /// `decision_function` for one row.
    fn score(&self, row: &Row) -> Scores;
    /// Each feature's additive share of the predicted class's score, when
    /// the score is a sum over features (linear models, naive Bayes);
    /// `None` when no exact explanation exists.
    fn contributions(&self, _row: &SparseRow, _label: usize) -> Option<Vec<(u32, f64)>> {
        None
    }
    /// Whether `decision_function` has one value per pair of classes
    /// (`(0, 1), (0, 2), …, (1, 2), …`) rather than one per class:
    /// `SVC(decision_function_shape="ovo")` with three or more classes.
    fn decision_per_pair(&self) -> bool {
        false
    }
    /// Refuses, at load, an input form scikit-learn itself refuses (a
    /// sparse matrix given to an SVM fitted on a dense one, or to
    /// `HistGradientBoostingClassifier`). `sparse` is the form of the rows
    /// the steps before the classifier produce.
    fn check_input(&self, _sparse: bool) -> Result<()> {
        Ok(())
    }
    /// [`Estimator::score`], or the refusal of a row whose answer
    /// scikit-learn's arithmetic does not determine (k-nearest neighbours
    /// with rows of different classes tied at the k-th distance, which
    /// numpy breaks differently per CPU) with
    /// [`EngineError::Undetermined`]. `Model` calls this; meta-estimators
    /// call `score` and cannot pass a refusal on, so an estimator whose
    /// [`Estimator::refuses_rows`] is true is refused inside them.
    fn try_score(&self, row: &Row) -> Result<Scores> {
        Ok(self.score(row))
    }
    /// Whether [`Estimator::try_score`] can refuse a row.
    fn refuses_rows(&self) -> bool {
        false
    }
    /// One line for `model inspect`.
    fn describe(&self) -> String;
    /// Heap bytes of the fitted parameters.
    fn heap_bytes(&self) -> usize;
    /// The linear model itself, for the idf/weights fusion fast path.
    fn as_linear_mut(&mut self) -> Option<&mut Linear> {
        None
    }
    /// `Some` for estimators whose `predict` gives more than one label per
    /// row (multi-label `OneVsRestClassifier`, `MultiOutputClassifier`):
    /// `crate::model::Model` asks this first and uses
    /// [`MultiEstimator::score_multi`] instead of [`Estimator::score`].
    /// Meta-estimators that wrap sub-estimators must refuse one that
    /// answers `Some` (scikit-learn cannot fit them on such outputs either).
    fn as_multi(&self) -> Option<&dyn MultiEstimator> {
        None
    }
}

/// The shape of a model's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// One label per text (`classes_` is one array).
    Single,
    /// Any number of labels per text out of one `classes_`
    /// (`OneVsRestClassifier` fitted on a multi-label indicator).
    MultiLabel,
    /// One label per output, each output with its own `classes_`
    /// (`MultiOutputClassifier`).
    MultiOutput,
}

/// What a multi-label or multi-output classifier computes for one row.
pub(crate) enum MultiScores {
    /// Indices into `classes_` of the positive classes (scikit-learn's
    /// indicator row), with one probability / decision per class.
    Labels {
        positive: Vec<usize>,
        probabilities: Option<Vec<f64>>,
        decision: Option<Vec<f64>>,
    },
    /// One [`Scores`] per output, each indexing its own `classes_`.
    Outputs(Vec<Scores>),
}

impl MultiScores {
    pub(crate) fn check_finite(&self) -> Result<()> {
        match self {
            MultiScores::Labels {
                probabilities,
                decision,
                ..
            } => match probabilities
                .iter()
                .chain(decision)
                .flatten()
                .copied()
                .find(|x| !x.is_finite())
            {
                None => Ok(()),
                Some(x) => Err(EngineError::NonFinite(format!(
                    "the model's score for this text is {x} (scikit-learn computes the same), which cannot be served"
                ))),
            },
            MultiScores::Outputs(outs) => outs.iter().try_for_each(Scores::check_finite),
        }
    }
}

/// The multi-label / multi-output side of an [`Estimator`].
pub(crate) trait MultiEstimator: Send + Sync {
    fn kind(&self) -> OutputKind;
    /// `classes_` per output (one entry for a multi-label model).
    fn output_classes(&self) -> Vec<&[Label]>;
    fn score_multi(&self, row: &Row) -> MultiScores;
    /// Whether `predict` gives every label as its `str()` (see
    /// `multioutput`).
    fn labels_as_str(&self) -> bool {
        false
    }
}

/// The final step of a model.
pub(crate) type Classifier = Box<dyn Estimator>;

/// Builds a fitted sub-estimator of a meta-estimator (`what` names where
/// it sits, for errors): any classifier of the registry, meta-estimators
/// included. Pipelines and transforms inside a meta-estimator would need
/// their own input rows and are refused by name.
pub(crate) fn sub_estimator(
    v: &falcon_pickle::Value,
    what: &str,
    ctx: &crate::registry::Ctx,
) -> Result<Classifier> {
    use crate::registry::{Kind, lookup};
    let obj = match v {
        falcon_pickle::Value::Object(o) => o,
        other => {
            return Err(EngineError::unsupported(format!(
                "{what} is {}, not a fitted estimator",
                crate::attrs::describe(other)
            )));
        }
    };
    match lookup(&obj.class).map(|e| e.kind) {
        Some(Kind::Classifier(build)) => {
            let c = build(obj, ctx).map_err(|e| match e {
                EngineError::Unsupported(m) => EngineError::unsupported(format!("{what}: {m}")),
                e => e,
            })?;
            refuse_row_refusing(what, &obj.class, c.as_ref())?;
            Ok(c)
        }
        _ if obj.class.name == "FrozenEstimator" => {
            // `sklearn.frozen.FrozenEstimator` (1.6+, the replacement of
            // `cv="prefit"`) delegates every method to `estimator`.
            let a = crate::attrs::Attrs::new(obj)?;
            sub_estimator(a.get("estimator")?, what, ctx)
        }
        _ => Err(EngineError::unsupported(format!(
            "{what} is a {}, which Falcon cannot use inside a meta-estimator (supported: {})",
            obj.class,
            crate::registry::classifier_names().join(", ")
        ))),
    }
}

/// Refuses, inside a meta-estimator, an estimator that may refuse single
/// rows ([`Estimator::refuses_rows`]): meta-estimators combine scores and
/// do not forward those refusals.
pub(crate) fn refuse_row_refusing(
    what: &str,
    class: &falcon_pickle::Global,
    est: &dyn Estimator,
) -> Result<()> {
    if est.refuses_rows() {
        return Err(EngineError::unsupported(format!(
            "{what} is a {class}, which Falcon serves only as a model's last step (it refuses texts whose neighbours scikit-learn picks by a CPU-specific tie-break, and meta-estimators cannot pass that on)"
        )));
    }
    Ok(())
}

/// Refuses a sub-estimator fitted on a different number of features than
/// its meta-estimator passes it.
pub(crate) fn check_width(what: &str, est: &dyn Estimator, n: usize) -> Result<()> {
    if est.n_features() != n {
        return Err(EngineError::unsupported(format!(
            "{what} expects {} features but receives {n}",
            est.n_features()
        )));
    }
    Ok(())
}

/// `_predict_binary` of `sklearn.multiclass`: a binary estimator's
/// `decision_function` when it has one, else its positive-class
/// probability.
pub(crate) fn binary_score(s: &Scores) -> f64 {
    match (&s.decision, &s.probabilities) {
        (Some(d), _) => d[0],
        (None, Some(p)) => p[1],
        (None, None) => f64::NAN,
    }
}

/// Refuses, before anything is allocated, a `k × n` weight table larger
/// than `max_dense` bytes. The table is counted with one extra row, the
/// `idf_` a `TfidfVectorizer` may interleave into it (see
/// [`Weights::fuse_in_front`]), and its products cannot overflow.
///
/// `max_dense` comes from the model file's size (see
/// `crate::model::dense_budget`): a file can declare a huge `n_features`
/// with a `coef_` of compressed zeros, and the engine must not turn a
/// 55 KB upload into gigabytes of tables.
pub(crate) fn check_dense(
    class: &str,
    what: &str,
    k: usize,
    n: usize,
    max_dense: usize,
) -> Result<()> {
    let bytes = k
        .checked_add(1)
        .and_then(|rows| rows.checked_mul(n))
        .and_then(|cells| cells.checked_mul(8));
    match bytes {
        Some(b) if b <= max_dense => Ok(()),
        _ => Err(EngineError::unsupported(format!(
            "{class}.{what} is {k} x {n}: as a dense float64 table it needs {} bytes, over the {max_dense} bytes allowed for a model file of this size (48 MiB + 20 x the file size)",
            bytes.map_or_else(|| "more than 2^64".to_string(), |b| b.to_string())
        ))),
    }
}

impl Estimator for Linear {
    fn classes(&self) -> &[Label] {
        &self.classes
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn has_proba(&self) -> bool {
        Linear::has_proba(self)
    }
    fn has_decision(&self) -> bool {
        true
    }
    fn score(&self, row: &Row) -> Scores {
        Linear::score(self, &row.to_sparse())
    }
    fn contributions(&self, row: &SparseRow, label: usize) -> Option<Vec<(u32, f64)>> {
        Some(Linear::contributions(self, row, label))
    }
    fn describe(&self) -> String {
        Linear::describe(self)
    }
    fn heap_bytes(&self) -> usize {
        self.weights.heap_bytes()
    }
    fn as_linear_mut(&mut self) -> Option<&mut Linear> {
        Some(self)
    }
}

impl Estimator for NaiveBayes {
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
    fn score(&self, row: &Row) -> Scores {
        NaiveBayes::score(self, &row.to_sparse())
    }
    fn contributions(&self, row: &SparseRow, label: usize) -> Option<Vec<(u32, f64)>> {
        Some(NaiveBayes::contributions(self, row, label))
    }
    fn describe(&self) -> String {
        NaiveBayes::describe(self)
    }
    fn heap_bytes(&self) -> usize {
        self.weights.heap_bytes()
    }
}

/// A dense weight matrix stored feature-major (`w[feature * k + row]`), so
/// the few hundred non-zeros of a document each touch one contiguous run.
///
/// The table may be shared with a `TfidfVectorizer`'s `idf_` (see
/// [`crate::sparse::Strided`]): then each feature's record is
/// `[idf, w_0, …, w_{k-1}]` and one cache miss brings both.
pub(crate) struct Weights {
    w: Arc<[f64]>,
    /// Rows of the original matrix (1 for binary linear models).
    k: usize,
    /// Distance between two features' records (`k`, or `k + 1` when fused).
    stride: usize,
    /// Position of `w_0` within a record.
    offset: usize,
}

impl Weights {
    /// From a row-major `(k, n_features)` matrix.
    pub(crate) fn from_rows(data: &[f64], k: usize, n_features: usize) -> Self {
        let mut w = vec![0.0; data.len()];
        for r in 0..k {
            for f in 0..n_features {
                w[f * k + r] = data[r * n_features + f];
            }
        }
        Weights {
            w: w.into(),
            k,
            stride: k,
            offset: 0,
        }
    }

    /// Rows of the original matrix.
    pub(crate) fn k(&self) -> usize {
        self.k
    }

    /// Columns of the original matrix.
    pub(crate) fn n_features(&self) -> usize {
        self.w.len() / self.stride
    }

    /// Interleaves `idf` (one value per feature) in front of each feature's
    /// weights, so both live in one table. Returns the idf's view of it.
    /// The weights' own copy is released.
    pub(crate) fn fuse_in_front(&mut self, idf: &crate::sparse::Strided) -> crate::sparse::Strided {
        let (k, stride) = (self.k, self.k + 1);
        let n = idf.len();
        let mut t = Vec::with_capacity(n * stride);
        for f in 0..n {
            t.push(idf.get(f));
            let base = f * self.stride + self.offset;
            t.extend_from_slice(&self.w[base..base + k]);
        }
        let t: Arc<[f64]> = t.into();
        self.w = Arc::clone(&t);
        self.stride = stride;
        self.offset = 1;
        crate::sparse::Strided::new(t, stride, 0)
    }

    /// `X @ W.T` for one CSR row, accumulated per output in the row's
    /// column order as scipy's `csr_matvecs` does, starting from zero.
    pub(crate) fn dot(&self, row: &SparseRow) -> Vec<f64> {
        let k = self.k;
        let mut out = vec![0.0; k];
        if k == 1 {
            let mut o = 0.0;
            for (&c, &x) in row.indices.iter().zip(&row.values) {
                o += x * self.w[c as usize * self.stride + self.offset];
            }
            out[0] = o;
            return out;
        }
        for (&c, &x) in row.indices.iter().zip(&row.values) {
            let base = c as usize * self.stride + self.offset;
            for (o, w) in out.iter_mut().zip(&self.w[base..base + k]) {
                *o += x * w;
            }
        }
        out
    }

    #[inline]
    pub(crate) fn get(&self, feature: u32, row: usize) -> f64 {
        self.w[feature as usize * self.stride + self.offset + row]
    }

    /// The table's size; a table shared with `idf_` is counted here only.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.w.len() * 8
    }
}

/// Index of the first maximum (`np.argmax`; a NaN wins, as in numpy).
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x.is_nan() {
            return i;
        }
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// `sklearn.utils.extmath.softmax` on one row.
pub(crate) fn softmax(v: &[f64]) -> Vec<f64> {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = v.iter().map(|&x| (x - max).exp()).collect();
    let sum = numpy_sum(&e);
    e.into_iter().map(|x| x / sum).collect()
}

/// `scipy.special.expit`.
pub(crate) fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_first_max() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[0.0]), 0);
    }

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(p[2] > p[1] && p[1] > p[0]);
    }

    #[test]
    fn weights_dot_in_column_order() {
        // 2 rows x 3 features
        let w = Weights::from_rows(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        let row = SparseRow {
            indices: vec![0, 2],
            values: vec![1.0, 10.0],
            precision: None,
        };
        assert_eq!(w.dot(&row), vec![31.0, 64.0]);
        assert_eq!(w.get(2, 1), 6.0);
    }

    #[test]
    fn fused_idf_table_reads_the_same_numbers() {
        let mut w = Weights::from_rows(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        let idf = crate::sparse::Strided::from_vec(vec![7.0, 8.0, 9.0]);
        let fused = w.fuse_in_front(&idf);
        assert_eq!((fused.len(), w.n_features()), (3, 3));
        assert_eq!([fused.get(0), fused.get(1), fused.get(2)], [7.0, 8.0, 9.0]);
        let row = SparseRow {
            indices: vec![0, 2],
            values: vec![1.0, 10.0],
            precision: None,
        };
        assert_eq!(w.dot(&row), vec![31.0, 64.0]);
        assert_eq!((w.get(2, 1), w.get(1, 0)), (6.0, 2.0));
        assert_eq!(w.heap_bytes(), 9 * 8);
    }
}
