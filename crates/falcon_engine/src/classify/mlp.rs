//! `MLPClassifier`: a feed-forward network, reproduced as
//! `_forward_pass_fast` computes it (scikit-learn 1.7,
//! `sklearn/neural_network/_multilayer_perceptron.py` and `_base.py`).
//!
//! For each layer `i`: `a = safe_sparse_dot(a, coefs_[i])`, then
//! `a += intercepts_[i]`, then the hidden activation (`identity`;
//! `logistic` = `scipy.special.expit`; `tanh`; `relu` = `max(x, 0)`) on
//! every layer but the last, which gets `out_activation_`: `logistic` for a
//! binary or multi-label target, `softmax` (subtract the row max, `exp`,
//! divide by the pairwise sum) for a multi-class one.
//!
//! * `predict_proba`: binary → `[1 - p, p]`; multi-class → the softmax row;
//!   multi-label → the logistic row as is.
//! * `predict`: `_label_binarizer.inverse_transform`: binary → `classes_[p
//!   > 0.5]` (a tie at exactly 0.5 is the first class); multi-class → the
//!   first maximum; multi-label → every class with `p > 0.5`.
//! * No `decision_function`.
//!
//! **Arithmetic order.** The first layer on a sparse row is scipy's CSR ×
//! dense product (`csr_matvecs`): each output accumulates the row's
//! non-zeros in column order from 0, then the intercept is added. That is
//! reproduced exactly, and `coefs_[0]` is already feature-major
//! (`[n_features, n_hidden]`, C order), so each non-zero reads one
//! contiguous run. Dense products (every later layer, and the first one on
//! a dense row) are BLAS `gemm` in numpy, whose summation order depends on
//! the BLAS build and CPU; here they are the same in-order sums, which stay
//! within a few ulps (see `docs/ARCHITECTURE.md` for the deviation measured
//! on the fixtures). `tanh`/`exp` are libm's, numpy's SIMD versions may
//! differ from them by an ulp.
//!
//! A network fitted on float32 data keeps float32 `coefs_`, and numpy then
//! computes every layer in float32 through BLAS `sgemm`, whose rounding (an
//! ulp of float32 is 6e-8) cannot be reproduced within 1e-9: refused.

use std::borrow::Cow;

use falcon_pickle::{Array, ArrayData, Object, Value};

use super::{MultiEstimator, MultiScores, OutputKind, Scores, argmax, expit, softmax};
use crate::Label;
use crate::attrs::{Attrs, labels};
use crate::error::{EngineError, Result};
use crate::row::Row;

/// The hidden layers' activation (`activation`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Activation {
    Identity,
    Logistic,
    Tanh,
    Relu,
}

impl Activation {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "identity" => Activation::Identity,
            "logistic" => Activation::Logistic,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Logistic => "logistic",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }

    /// In place, as `ACTIVATIONS[...]` of `_base.py`.
    fn apply(self, v: &mut [f64]) {
        match self {
            Activation::Identity => {}
            Activation::Logistic => v.iter_mut().for_each(|x| *x = expit(*x)),
            Activation::Tanh => v.iter_mut().for_each(|x| *x = x.tanh()),
            // `np.maximum(X, 0)`: a NaN would stay NaN (none can occur:
            // the parameters are finite and checked again at the end).
            Activation::Relu => v.iter_mut().for_each(|x| {
                if *x < 0.0 {
                    *x = 0.0
                }
            }),
        }
    }
}

/// What the output layer means.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// One logistic output: the probability of `classes_[1]`.
    Binary,
    /// One softmax output per class.
    Multiclass,
    /// One logistic output per class, thresholded independently.
    Multilabel,
}

/// One dense layer: `coefs_[i]` (`[n_in, n_out]`, C order) and
/// `intercepts_[i]`.
struct Layer {
    n_in: usize,
    n_out: usize,
    w: Vec<f64>,
    b: Vec<f64>,
}

impl Layer {
    /// `x @ W + b` over `(input index, value)` pairs in order: per output,
    /// the products are summed from 0 in input order, then the intercept
    /// is added (`activation += intercepts_[i]`). Zero inputs are skipped:
    /// adding `0 × w` leaves a sum unchanged.
    fn forward<'a>(&self, entries: impl Iterator<Item = (usize, &'a f64)>) -> Vec<f64> {
        let n = self.n_out;
        let mut out = vec![0.0; n];
        for (i, &x) in entries {
            if x == 0.0 {
                continue;
            }
            let Some(w) = self.w.get(i * n..(i + 1) * n) else {
                continue;
            };
            for (o, &w) in out.iter_mut().zip(w) {
                *o += x * w;
            }
        }
        for (o, &b) in out.iter_mut().zip(&self.b) {
            *o += b;
        }
        out
    }
}

pub(crate) struct Mlp {
    classes: Vec<Label>,
    layers: Vec<Layer>,
    activation: Activation,
    target: Target,
}

/// A float64 array's elements in C order with its shape, from a pickled
/// value (`coefs_` and `intercepts_` are lists of arrays).
fn f64_elements<'a>(
    class: &str,
    what: &str,
    v: &'a Value,
) -> Result<(Cow<'a, [f64]>, &'a [usize])> {
    let a: &Array = match v {
        Value::Array(a) => a,
        other => {
            return Err(EngineError::unsupported(format!(
                "{class}.{what}: expected a numpy array, found {}",
                crate::attrs::describe(other)
            )));
        }
    };
    let expected = a.shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
    if expected != Some(a.data.len()) {
        return Err(EngineError::unsupported(format!(
            "{class}.{what}: shape {:?} does not match its {} elements",
            a.shape,
            a.data.len()
        )));
    }
    let data = match &a.data {
        ArrayData::F64(v) => Cow::Borrowed(&v[..]),
        ArrayData::F32(_) => {
            return Err(EngineError::unsupported(format!(
                "{class}.{what} is float32 (the network was fitted on float32 data): numpy then computes every layer in float32 through BLAS, whose rounding Falcon cannot reproduce within 1e-9; refit on float64 data"
            )));
        }
        _ => {
            return Err(EngineError::unsupported(format!(
                "{class}.{what}: expected a float64 array, found dtype {}",
                a.dtype
            )));
        }
    };
    if a.fortran_order && a.shape.len() == 2 {
        let (rows, cols) = (a.shape[0], a.shape[1]);
        let mut out = Vec::with_capacity(data.len());
        for r in 0..rows {
            for c in 0..cols {
                out.push(data[c * rows + r]);
            }
        }
        return Ok((Cow::Owned(out), &a.shape));
    }
    Ok((data, &a.shape))
}

fn list<'a>(a: &Attrs<'a>, name: &str) -> Result<&'a [Value]> {
    match a.get(name)? {
        Value::List(items) | Value::Tuple(items) => Ok(items),
        v => Err(a.err(name, "a list of arrays", v)),
    }
}

impl Mlp {
    /// `max_dense` bounds the bytes of all the weight tables together (see
    /// [`super::check_dense`]).
    pub(crate) fn from_object(obj: &Object, max_dense: usize) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let class = a.class;
        let classes = labels(&a, "classes_", class)?;
        let activation_name = a.str("activation")?;
        let activation = Activation::parse(activation_name).ok_or_else(|| {
            EngineError::unsupported(format!(
                "{class}.activation {activation_name:?} is not one of identity, logistic, tanh, relu"
            ))
        })?;
        let lb = Attrs::new(a.object("_label_binarizer")?)?;
        let y_type = lb.str("y_type_")?;
        let out = a.str("out_activation_")?;
        let target = match (y_type, out) {
            ("binary", "logistic") => Target::Binary,
            ("multiclass", "softmax") => Target::Multiclass,
            ("multilabel-indicator", "logistic") => Target::Multilabel,
            _ => {
                return Err(EngineError::unsupported(format!(
                    "{class}: a {y_type:?} target with out_activation_ {out:?} is not a classifier output Falcon knows"
                )));
            }
        };
        if target != Target::Multilabel {
            // `inverse_transform` thresholds at (pos_label + neg_label) / 2.
            let pos = lb.opt("pos_label");
            let neg = lb.opt("neg_label");
            if !matches!(pos, None | Some(Value::Int(1)))
                || !matches!(neg, None | Some(Value::Int(0)))
            {
                return Err(EngineError::unsupported(format!(
                    "{class}._label_binarizer has pos_label/neg_label other than 1/0"
                )));
            }
        }
        let n_out_expected = match target {
            Target::Binary => 1,
            Target::Multiclass | Target::Multilabel => classes.len(),
        };
        if target == Target::Binary && classes.len() != 2 {
            return Err(EngineError::unsupported(format!(
                "{class}: a binary target with {} classes",
                classes.len()
            )));
        }

        let coefs = list(&a, "coefs_")?;
        let intercepts = list(&a, "intercepts_")?;
        if coefs.is_empty() || coefs.len() != intercepts.len() {
            return Err(EngineError::unsupported(format!(
                "{class}: coefs_ has {} layers and intercepts_ {}",
                coefs.len(),
                intercepts.len()
            )));
        }
        if let Some(Value::Int(n)) = a.opt("n_layers_")
            && usize::try_from(*n).ok() != Some(coefs.len() + 1)
        {
            return Err(EngineError::unsupported(format!(
                "{class}.n_layers_ is {n} but coefs_ has {} layers",
                coefs.len()
            )));
        }
        // Check every shape, and the total size against the budget, before
        // anything is copied.
        let mut total: usize = 0;
        let mut prev: Option<usize> = None;
        for (i, c) in coefs.iter().enumerate() {
            let shape = match c {
                Value::Array(arr) => &arr.shape,
                other => {
                    return Err(EngineError::unsupported(format!(
                        "{class}.coefs_[{i}]: expected a numpy array, found {}",
                        crate::attrs::describe(other)
                    )));
                }
            };
            let &[n_in, n_out] = shape.as_slice() else {
                return Err(EngineError::unsupported(format!(
                    "{class}.coefs_[{i}]: expected a 2-D array, found shape {shape:?}"
                )));
            };
            if let Some(p) = prev
                && p != n_in
            {
                return Err(EngineError::unsupported(format!(
                    "{class}.coefs_[{i}] has {n_in} rows but the layer before it has {p} outputs"
                )));
            }
            if n_out == 0 {
                return Err(EngineError::unsupported(format!(
                    "{class}.coefs_[{i}] has no outputs"
                )));
            }
            prev = Some(n_out);
            total = n_in
                .checked_add(1)
                .and_then(|r| r.checked_mul(n_out))
                .and_then(|c| total.checked_add(c))
                .ok_or_else(|| EngineError::unsupported(format!("{class}.coefs_ is too large")))?;
        }
        super::check_dense(class, "coefs_", 0, total, max_dense)?;
        if prev != Some(n_out_expected) {
            return Err(EngineError::unsupported(format!(
                "{class}: the last layer has {} outputs but a {y_type} target with {} classes needs {n_out_expected}",
                prev.unwrap_or(0),
                classes.len()
            )));
        }
        let mut layers = Vec::with_capacity(coefs.len());
        for (i, (c, b)) in coefs.iter().zip(intercepts).enumerate() {
            let (w, shape) = f64_elements(class, &format!("coefs_[{i}]"), c)?;
            let (n_in, n_out) = (shape[0], shape[1]);
            if let Some(j) = w.iter().position(|x| !x.is_finite()) {
                return Err(a.non_finite(&format!("coefs_[{i}]"), w[j], j, n_out, ""));
            }
            let (b, bshape) = f64_elements(class, &format!("intercepts_[{i}]"), b)?;
            if bshape.len() != 1 || b.len() != n_out {
                return Err(EngineError::unsupported(format!(
                    "{class}.intercepts_[{i}] has shape {bshape:?}, expected ({n_out},)"
                )));
            }
            if let Some(j) = b.iter().position(|x| !x.is_finite()) {
                return Err(a.non_finite(&format!("intercepts_[{i}]"), b[j], j, 0, ""));
            }
            layers.push(Layer {
                n_in,
                n_out,
                w: w.into_owned(),
                b: b.into_owned(),
            });
        }
        if let Some(Value::Int(n)) = a.opt("n_features_in_")
            && usize::try_from(*n).ok() != Some(layers[0].n_in)
        {
            return Err(EngineError::unsupported(format!(
                "{class}.coefs_[0] has {} rows but n_features_in_ is {n}",
                layers[0].n_in
            )));
        }
        Ok(Mlp {
            classes,
            layers,
            activation,
            target,
        })
    }

    /// `_forward_pass_fast` for one row: the output layer after
    /// `out_activation_`.
    fn forward(&self, row: &Row) -> Vec<f64> {
        let first = &self.layers[0];
        let mut a = match row {
            Row::Sparse(s) => first.forward(
                s.indices
                    .iter()
                    .map(|&c| c as usize)
                    .zip(s.values.iter())
                    .filter(|&(c, _)| c < first.n_in),
            ),
            Row::Dense(d) => first.forward(d.values.iter().take(first.n_in).enumerate()),
        };
        for layer in &self.layers[1..] {
            self.activation.apply(&mut a);
            a = layer.forward(a.iter().enumerate());
        }
        match self.target {
            Target::Multiclass => softmax(&a),
            Target::Binary | Target::Multilabel => {
                a.iter_mut().for_each(|x| *x = expit(*x));
                a
            }
        }
    }

    fn describe(&self) -> String {
        let sizes: Vec<String> = self.layers.iter().map(|l| l.n_out.to_string()).collect();
        format!(
            "MLPClassifier activation={} layers {} -> {} ({} classes{})",
            self.activation.name(),
            self.layers[0].n_in,
            sizes.join(" -> "),
            self.classes.len(),
            if self.target == Target::Multilabel {
                ", multi-label"
            } else {
                ""
            }
        )
    }
}

impl super::Estimator for Mlp {
    fn classes(&self) -> &[Label] {
        &self.classes
    }
    fn n_features(&self) -> usize {
        self.layers[0].n_in
    }
    fn has_proba(&self) -> bool {
        true
    }
    fn has_decision(&self) -> bool {
        false
    }
    fn score(&self, row: &Row) -> Scores {
        let out = self.forward(row);
        match self.target {
            Target::Binary => {
                let p = out[0];
                Scores {
                    // `y > threshold` with threshold (1 + 0) / 2.
                    label: usize::from(p > 0.5),
                    probabilities: Some(vec![1.0 - p, p]),
                    decision: None,
                }
            }
            Target::Multiclass => Scores {
                label: argmax(&out),
                probabilities: Some(out),
                decision: None,
            },
            Target::Multilabel => Scores {
                label: out.iter().position(|&p| p > 0.5).unwrap_or(0),
                probabilities: Some(out),
                decision: None,
            },
        }
    }
    fn describe(&self) -> String {
        Mlp::describe(self)
    }
    fn heap_bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|l| (l.w.len() + l.b.len()) * 8)
            .sum()
    }
    fn as_multi(&self) -> Option<&dyn MultiEstimator> {
        (self.target == Target::Multilabel).then_some(self as &dyn MultiEstimator)
    }
}

impl MultiEstimator for Mlp {
    fn kind(&self) -> OutputKind {
        OutputKind::MultiLabel
    }
    fn output_classes(&self) -> Vec<&[Label]> {
        vec![&self.classes]
    }
    /// `_inverse_binarize_thresholding` of a multi-label indicator: every
    /// class whose output is above 0.5.
    fn score_multi(&self, row: &Row) -> MultiScores {
        let out = self.forward(row);
        MultiScores::Labels {
            positive: (0..out.len()).filter(|&j| out[j] > 0.5).collect(),
            probabilities: Some(out),
            decision: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Estimator;
    use crate::row::DenseRow;
    use crate::sparse::{Precision, SparseRow};

    fn net(activation: Activation, target: Target) -> Mlp {
        // 3 inputs -> 2 hidden -> 1 or 3 outputs
        let n_out = if target == Target::Binary { 1 } else { 3 };
        Mlp {
            classes: (0..if target == Target::Binary { 2 } else { 3 })
                .map(Label::Int)
                .collect(),
            layers: vec![
                Layer {
                    n_in: 3,
                    n_out: 2,
                    w: vec![1.0, -1.0, 2.0, 0.5, -3.0, 1.0],
                    b: vec![0.1, -0.2],
                },
                Layer {
                    n_in: 2,
                    n_out,
                    w: (0..2 * n_out).map(|i| i as f64 * 0.25 - 0.3).collect(),
                    b: vec![0.05; n_out],
                },
            ],
            activation,
            target,
        }
    }

    #[test]
    fn hidden_layer_is_a_column_order_sum_then_the_intercept() {
        let l = &net(Activation::Identity, Target::Binary).layers[0];
        // x = [2, 0, 10]: [2*1 + 10*-3, 2*-1 + 10*1] + b
        let out = l.forward([(0, &2.0), (2, &10.0)].into_iter());
        assert_eq!(out, vec![(2.0 - 30.0) + 0.1, (-2.0 + 10.0) - 0.2]);
    }

    #[test]
    fn activations_match_their_numpy_definitions() {
        let mut v = vec![-2.0, 0.0, 3.0];
        Activation::Relu.apply(&mut v);
        assert_eq!(v, vec![0.0, 0.0, 3.0]);
        let mut v = vec![0.0, 1.0];
        Activation::Logistic.apply(&mut v);
        assert_eq!(v, vec![0.5, 1.0 / (1.0 + (-1.0f64).exp())]);
        let mut v = vec![0.5];
        Activation::Tanh.apply(&mut v);
        assert_eq!(v, vec![0.5f64.tanh()]);
        assert_eq!(Activation::parse("softmax"), None);
    }

    #[test]
    fn sparse_and_dense_rows_agree_and_binary_thresholds_at_one_half() {
        let m = net(Activation::Tanh, Target::Binary);
        let s = Row::Sparse(SparseRow {
            indices: vec![0, 2],
            values: vec![0.3, 0.7],
            precision: None,
        });
        let d = Row::Dense(DenseRow {
            values: vec![0.3, 0.0, 0.7],
            precision: Precision::F64,
        });
        let (a, b) = (m.score(&s), m.score(&d));
        let p = a.probabilities.clone().unwrap();
        assert_eq!(p, b.probabilities.unwrap());
        assert_eq!(p[0], 1.0 - p[1]);
        assert_eq!(a.label, usize::from(p[1] > 0.5));
        assert!(a.decision.is_none());
    }

    #[test]
    fn multiclass_is_softmax_and_first_maximum() {
        let m = net(Activation::Relu, Target::Multiclass);
        let s = m.score(&Row::Sparse(SparseRow::default()));
        let p = s.probabilities.unwrap();
        assert_eq!(p.len(), 3);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert_eq!(s.label, argmax(&p));
    }

    #[test]
    fn multilabel_thresholds_each_output() {
        let m = net(Activation::Logistic, Target::Multilabel);
        let MultiScores::Labels {
            positive,
            probabilities,
            ..
        } = m.score_multi(&Row::Sparse(SparseRow::default()))
        else {
            panic!("multi-label scores")
        };
        let p = probabilities.unwrap();
        let want: Vec<usize> = (0..3).filter(|&j| p[j] > 0.5).collect();
        assert_eq!(positive, want);
        assert!(m.as_multi().is_some());
        assert!(
            net(Activation::Logistic, Target::Binary)
                .as_multi()
                .is_none()
        );
    }
}
