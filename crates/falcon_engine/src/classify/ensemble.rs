//! `sklearn.ensemble`'s heterogeneous ensembles of classifiers:
//! `VotingClassifier` (hard or soft voting over the estimators' outputs)
//! and `StackingClassifier` (a final estimator over the estimators'
//! outputs, optionally with the input row appended).
//!
//! Both fit their estimators on label-encoded targets, so each sub-estimator
//! has the classes `0..k` and its outputs index the ensemble's `classes_`.

use falcon_pickle::{Object, Value};

use super::{Classifier, Estimator, Scores, argmax, check_width, sub_estimator};
use crate::Label;
use crate::attrs::{Attrs, describe, labels};
use crate::error::{EngineError, Result};
use crate::registry::Ctx;
use crate::row::{DenseRow, Row};
use crate::sparse::{Precision, SparseRow, numpy_sum};

/// Whether a value of an `estimators` parameter list is a dropped
/// estimator (`"drop"`, or `None` before 0.22).
fn dropped(v: &Value) -> bool {
    matches!(v, Value::None) || matches!(v, Value::Str(s) if s == "drop")
}

/// The fitted `estimators_` (dropped ones skipped), each checked to be a
/// classifier of the label-encoded classes `0..k`.
fn fitted(a: &Attrs<'_>, class: &str, k: usize, ctx: &Ctx) -> Result<Vec<Classifier>> {
    let list = match a.get("estimators_")? {
        Value::List(l) | Value::Tuple(l) => l,
        v => return Err(a.err("estimators_", "a list of fitted estimators", v)),
    };
    let encoded: Vec<Label> = (0..k as i64).map(Label::Int).collect();
    let mut out: Vec<Classifier> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        if dropped(v) {
            continue;
        }
        let what = format!("{class}.estimators_[{i}]");
        let e = sub_estimator(v, &what, ctx)?;
        if e.classes() != encoded.as_slice() {
            return Err(EngineError::unsupported(format!(
                "{what} has {} classes, not the {k} label-encoded classes 0..{k} of {class}",
                e.classes().len()
            )));
        }
        if let Some(first) = out.first() {
            check_width(&what, e.as_ref(), first.n_features())?;
        }
        out.push(e);
    }
    if out.is_empty() {
        return Err(EngineError::unsupported(format!(
            "{class}.estimators_ holds no fitted estimator"
        )));
    }
    Ok(out)
}

/// A list or array of numbers (`weights`).
fn numbers(a: &Attrs<'_>, name: &str) -> Result<Option<Vec<f64>>> {
    let v = match a.opt(name) {
        None | Some(Value::None) => return Ok(None),
        Some(v) => v,
    };
    let w: Vec<f64> = match v {
        Value::List(items) | Value::Tuple(items) => items
            .iter()
            .map(|x| {
                x.as_f64()
                    .ok_or_else(|| a.err(name, "a list of numbers", v))
            })
            .collect::<Result<_>>()?,
        Value::Array(_) => a.vector_unchecked(name)?.into_owned(),
        _ => return Err(a.err(name, "a list of numbers or None", v)),
    };
    a.check_finite(name, &w, 0)?;
    Ok(Some(w))
}

pub(crate) struct Voting {
    classes: Vec<Label>,
    n_features: usize,
    estimators: Vec<Classifier>,
    soft: bool,
    /// `_weights_not_none`.
    weights: Option<Vec<f64>>,
    /// `sum(weights)` as numpy sums it.
    weight_sum: f64,
}

impl Voting {
    pub(crate) fn from_object(obj: &Object, ctx: &Ctx) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let class = "VotingClassifier";
        let classes = labels(&a, "classes_", class)?;
        let soft = match a.str("voting")? {
            "soft" => true,
            "hard" => false,
            _ => return Err(a.err("voting", "\"hard\" or \"soft\"", a.get("voting")?)),
        };
        let estimators = fitted(&a, class, classes.len(), ctx)?;
        if soft && let Some(e) = estimators.iter().find(|e| !e.has_proba()) {
            return Err(EngineError::unsupported(format!(
                "VotingClassifier(voting=\"soft\"): {} has no predict_proba",
                e.describe()
            )));
        }
        let weights = match numbers(&a, "weights")? {
            None => None,
            Some(w) => {
                let params = match a.get("estimators")? {
                    Value::List(l) | Value::Tuple(l) => l,
                    v => return Err(a.err("estimators", "a list of (name, estimator)", v)),
                };
                if params.len() != w.len() {
                    return Err(EngineError::unsupported(format!(
                        "VotingClassifier has {} weights for {} estimators",
                        w.len(),
                        params.len()
                    )));
                }
                let kept: Vec<f64> = params
                    .iter()
                    .zip(&w)
                    .filter(|(p, _)| match p {
                        Value::Tuple(t) | Value::List(t) if t.len() == 2 => !dropped(&t[1]),
                        _ => true,
                    })
                    .map(|(_, &w)| w)
                    .collect();
                if kept.len() != estimators.len() {
                    return Err(EngineError::unsupported(format!(
                        "VotingClassifier has {} weights for {} fitted estimators",
                        kept.len(),
                        estimators.len()
                    )));
                }
                Some(kept)
            }
        };
        let weight_sum = weights.as_deref().map_or(0.0, numpy_sum);
        if soft && weights.is_some() && weight_sum == 0.0 {
            return Err(EngineError::unsupported(
                "VotingClassifier.weights sum to zero: scikit-learn cannot average with them",
            ));
        }
        Ok(Voting {
            n_features: estimators[0].n_features(),
            classes,
            estimators,
            soft,
            weights,
            weight_sum,
        })
    }
}

impl Estimator for Voting {
    fn classes(&self) -> &[Label] {
        &self.classes
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn has_proba(&self) -> bool {
        self.soft
    }
    fn has_decision(&self) -> bool {
        false
    }
    fn score(&self, row: &Row) -> Scores {
        let k = self.classes.len();
        if self.soft {
            // `np.average(probas, axis=0, weights)`: the sum over the
            // estimators runs in their order; unweighted it is `mean`
            // (sum / count), weighted `sum(w * p) / sum(w)`.
            let mut acc = vec![0.0; k];
            for (i, e) in self.estimators.iter().enumerate() {
                let p = e.score(row).probabilities.unwrap_or_default();
                let w = self.weights.as_ref().map(|w| w[i]);
                for (a, x) in acc.iter_mut().zip(p) {
                    *a += match w {
                        Some(w) => x * w,
                        None => x,
                    };
                }
            }
            let scl = match self.weights {
                Some(_) => self.weight_sum,
                None => self.estimators.len() as f64,
            };
            acc.iter_mut().for_each(|a| *a /= scl);
            return Scores {
                label: argmax(&acc),
                probabilities: Some(acc),
                decision: None,
            };
        }
        // Hard: `argmax(bincount(predictions, weights))`.
        let mut counts: Vec<f64> = Vec::with_capacity(k);
        for (i, e) in self.estimators.iter().enumerate() {
            let p = e.score(row).label;
            if counts.len() <= p {
                counts.resize(p + 1, 0.0);
            }
            counts[p] += self.weights.as_ref().map_or(1.0, |w| w[i]);
        }
        Scores {
            label: argmax(&counts),
            probabilities: None,
            decision: None,
        }
    }
    fn describe(&self) -> String {
        format!(
            "VotingClassifier voting={} classes={} estimators=[{}]{}",
            if self.soft { "soft" } else { "hard" },
            self.classes.len(),
            self.estimators
                .iter()
                .map(|e| e.describe())
                .collect::<Vec<_>>()
                .join("; "),
            self.weights
                .as_ref()
                .map(|w| format!(" weights={w:?}"))
                .unwrap_or_default()
        )
    }
    fn heap_bytes(&self) -> usize {
        self.estimators.iter().map(|e| e.heap_bytes()).sum()
    }
}

/// What `StackingClassifier` asks of one estimator (`stack_method_`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Proba,
    Decision,
    Predict,
}

impl Method {
    /// scikit-learn's name for it.
    fn name(self) -> &'static str {
        match self {
            Method::Proba => "predict_proba",
            Method::Decision => "decision_function",
            Method::Predict => "predict",
        }
    }
}

pub(crate) struct Stacking {
    classes: Vec<Label>,
    n_features: usize,
    estimators: Vec<(Classifier, Method)>,
    final_estimator: Classifier,
    passthrough: bool,
    /// Columns the estimators contribute, before any passthrough.
    n_meta: usize,
}

impl Stacking {
    pub(crate) fn from_object(obj: &Object, ctx: &Ctx) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let class = "StackingClassifier";
        let classes = labels(&a, "classes_", class)?;
        let k = classes.len();
        let estimators = fitted(&a, class, k, ctx)?;
        let methods = match a.get("stack_method_")? {
            Value::List(l) | Value::Tuple(l) => l,
            v => return Err(a.err("stack_method_", "a list of method names", v)),
        };
        let methods: Vec<&Value> = methods.iter().filter(|m| !dropped(m)).collect();
        if methods.len() != estimators.len() {
            return Err(EngineError::unsupported(format!(
                "StackingClassifier has {} stack methods for {} estimators",
                methods.len(),
                estimators.len()
            )));
        }
        let mut n_meta = 0;
        let mut paired = Vec::with_capacity(estimators.len());
        for (e, m) in estimators.into_iter().zip(methods) {
            let (method, ok, cols) = match m {
                Value::Str(s) if s == "predict_proba" => {
                    (Method::Proba, e.has_proba(), if k == 2 { 1 } else { k })
                }
                Value::Str(s) if s == "decision_function" => (
                    Method::Decision,
                    e.has_decision(),
                    if k == 2 { 1 } else { k },
                ),
                Value::Str(s) if s == "predict" => (Method::Predict, true, 1),
                v => {
                    return Err(a.err(
                        "stack_method_",
                        "predict_proba, decision_function or predict",
                        v,
                    ));
                }
            };
            if !ok {
                return Err(EngineError::unsupported(format!(
                    "StackingClassifier: {} has no {}",
                    e.describe(),
                    describe(m)
                )));
            }
            n_meta += cols;
            paired.push((e, method));
        }
        let n_features = paired[0].0.n_features();
        let passthrough = a.bool_or("passthrough", false)?;
        let final_estimator = sub_estimator(
            a.get("final_estimator_")?,
            "StackingClassifier.final_estimator_",
            ctx,
        )?;
        let width = if passthrough {
            n_meta + n_features
        } else {
            n_meta
        };
        check_width(
            "StackingClassifier.final_estimator_",
            final_estimator.as_ref(),
            width,
        )?;
        let encoded: Vec<Label> = (0..k as i64).map(Label::Int).collect();
        if final_estimator.classes() != encoded.as_slice() {
            return Err(EngineError::unsupported(format!(
                "StackingClassifier.final_estimator_ has {} classes, not the {k} label-encoded classes",
                final_estimator.classes().len()
            )));
        }
        Ok(Stacking {
            classes,
            n_features,
            estimators: paired,
            final_estimator,
            passthrough,
            n_meta,
        })
    }

    /// `transform`: the estimators' outputs side by side (the first
    /// probability column dropped for binary problems), then the input row
    /// with `passthrough`. Without passthrough, or with a dense input, the
    /// result is a dense float64 row (`np.hstack`); with a sparse input it
    /// is `sparse.hstack(..., format="csr")`, which keeps only the non-zero
    /// predictions.
    fn meta_row(&self, row: &Row) -> Row {
        let k = self.classes.len();
        let mut meta = Vec::with_capacity(self.n_meta);
        for (e, m) in &self.estimators {
            let s = e.score(row);
            match m {
                Method::Proba => {
                    let p = s.probabilities.unwrap_or_default();
                    meta.extend_from_slice(if k == 2 { &p[1..] } else { &p });
                }
                Method::Decision => meta.extend(s.decision.unwrap_or_default()),
                // Sub-estimators predict the encoded label, its index.
                Method::Predict => meta.push(s.label as f64),
            }
        }
        if !self.passthrough {
            return Row::Dense(DenseRow {
                values: meta,
                precision: Precision::F64,
            });
        }
        match row {
            Row::Dense(d) => {
                meta.extend_from_slice(&d.values);
                Row::Dense(DenseRow {
                    values: meta,
                    precision: Precision::F64,
                })
            }
            Row::Sparse(s) => {
                let mut out = SparseRow {
                    indices: Vec::with_capacity(meta.len() + s.indices.len()),
                    values: Vec::with_capacity(meta.len() + s.values.len()),
                    precision: Some(Precision::F64),
                };
                for (c, &v) in meta.iter().enumerate() {
                    if v != 0.0 {
                        out.indices.push(c as u32);
                        out.values.push(v);
                    }
                }
                let shift = self.n_meta as u32;
                out.indices.extend(s.indices.iter().map(|&c| c + shift));
                out.values.extend_from_slice(&s.values);
                Row::Sparse(out)
            }
        }
    }
}

impl Estimator for Stacking {
    fn classes(&self) -> &[Label] {
        &self.classes
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn has_proba(&self) -> bool {
        self.final_estimator.has_proba()
    }
    fn has_decision(&self) -> bool {
        self.final_estimator.has_decision()
    }
    fn score(&self, row: &Row) -> Scores {
        // The final estimator's classes are 0..k (checked at load), so its
        // label index is the ensemble's.
        self.final_estimator.score(&self.meta_row(row))
    }
    fn describe(&self) -> String {
        format!(
            "StackingClassifier classes={} passthrough={} estimators=[{}] final=[{}]",
            self.classes.len(),
            self.passthrough,
            self.estimators
                .iter()
                .map(|(e, m)| format!("{} -> {}", e.describe(), m.name()))
                .collect::<Vec<_>>()
                .join("; "),
            self.final_estimator.describe()
        )
    }
    fn heap_bytes(&self) -> usize {
        self.estimators
            .iter()
            .map(|(e, _)| e.heap_bytes())
            .sum::<usize>()
            + self.final_estimator.heap_bytes()
    }
}
