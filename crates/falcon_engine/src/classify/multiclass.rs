//! `sklearn.multiclass`: `OneVsRestClassifier` (one binary estimator per
//! class, single-label targets) and `OneVsOneClassifier` (one per pair of
//! classes, votes plus normalised confidences).

use falcon_pickle::{Object, Value};

use super::{Classifier, Estimator, Scores, argmax, binary_score, check_width, sub_estimator};
use crate::Label;
use crate::attrs::{Attrs, labels};
use crate::error::{EngineError, Result};
use crate::registry::Ctx;
use crate::row::Row;
use crate::sparse::numpy_sum;

/// One fitted binary problem of a one-vs-rest model.
enum Binary {
    Estimator(Classifier),
    /// `_ConstantPredictor`: a class with no positive (or no negative)
    /// training sample; every method answers `y_` (0 or 1).
    Constant(f64),
}

/// The list `estimators_` of a multiclass meta-estimator.
fn estimator_list<'a>(a: &Attrs<'a>) -> Result<&'a [Value]> {
    match a.get("estimators_")? {
        Value::List(l) | Value::Tuple(l) if !l.is_empty() => Ok(l),
        v => Err(a.err("estimators_", "a non-empty list of fitted estimators", v)),
    }
}

/// Refuses a sub-estimator that is not a binary 0/1 classifier with a
/// decision or probabilities (what `_fit_binary` fits).
fn check_binary(what: &str, e: &dyn Estimator) -> Result<()> {
    if e.classes() != [Label::Int(0), Label::Int(1)] {
        return Err(EngineError::unsupported(format!(
            "{what} has classes [{}], expected the binary [0, 1] of a one-vs-rest/one-vs-one problem",
            e.classes()
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if !e.has_decision() && !e.has_proba() {
        return Err(EngineError::unsupported(format!(
            "{what} has neither decision_function nor predict_proba"
        )));
    }
    Ok(())
}

pub(crate) struct OneVsRest {
    classes: Vec<Label>,
    n_features: usize,
    estimators: Vec<Binary>,
    has_proba: bool,
    has_decision: bool,
}

impl OneVsRest {
    pub(crate) fn from_object(obj: &Object, ctx: &Ctx) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let lb = Attrs::new(a.object("label_binarizer_")?)?;
        let y_type = lb.opt_str("y_type_")?.unwrap_or("");
        if y_type.starts_with("multilabel") {
            return Err(EngineError::unsupported(
                "OneVsRestClassifier fitted on a multi-label target (label_binarizer_.y_type_ = \"multilabel-indicator\") is not supported yet: Falcon serves single-label models",
            ));
        }
        let classes = labels(&lb, "classes_", "OneVsRestClassifier.label_binarizer_")?;
        let list = estimator_list(&a)?;
        let expected = if classes.len() == 2 { 1 } else { classes.len() };
        if list.len() != expected {
            return Err(EngineError::unsupported(format!(
                "OneVsRestClassifier has {} estimators for {} classes (expected {expected})",
                list.len(),
                classes.len()
            )));
        }
        let mut estimators = Vec::with_capacity(list.len());
        let mut n_features = None;
        for (i, v) in list.iter().enumerate() {
            let what = format!("OneVsRestClassifier.estimators_[{i}]");
            match v {
                Value::Object(o) if o.class.name == "_ConstantPredictor" => {
                    let c = Attrs::new(o)?;
                    let y = c.vector("y_")?;
                    match *y {
                        [y] if y == 0.0 || y == 1.0 => estimators.push(Binary::Constant(y)),
                        _ => return Err(c.err("y_", "one 0/1 value", c.get("y_")?)),
                    }
                }
                _ => {
                    let e = sub_estimator(v, &what, ctx)?;
                    check_binary(&what, e.as_ref())?;
                    let nf = *n_features.get_or_insert(e.n_features());
                    check_width(&what, e.as_ref(), nf)?;
                    estimators.push(Binary::Estimator(e));
                }
            }
        }
        let Some(n_features) = n_features else {
            return Err(EngineError::unsupported(
                "OneVsRestClassifier holds only constant predictors (every class was absent or present in every sample)",
            ));
        };
        let all = |f: fn(&dyn Estimator) -> bool| {
            estimators.iter().all(|e| match e {
                Binary::Estimator(e) => f(e.as_ref()),
                Binary::Constant(_) => true,
            })
        };
        let has_proba = all(|e| e.has_proba());
        let has_decision = all(|e| e.has_decision());
        Ok(OneVsRest {
            classes,
            n_features,
            estimators,
            has_proba,
            has_decision,
        })
    }
}

impl Estimator for OneVsRest {
    fn classes(&self) -> &[Label] {
        &self.classes
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn has_proba(&self) -> bool {
        self.has_proba
    }
    fn has_decision(&self) -> bool {
        self.has_decision
    }
    fn score(&self, row: &Row) -> Scores {
        // Per estimator: (`_predict_binary`, decision, positive-class
        // probability, binary-predict threshold).
        let outs: Vec<(f64, f64, f64, f64)> = self
            .estimators
            .iter()
            .map(|e| match e {
                Binary::Constant(y) => (*y, *y, *y, 0.5),
                Binary::Estimator(e) => {
                    let s = e.score(row);
                    let d = s.decision.as_ref().map_or(f64::NAN, |d| d[0]);
                    let p = s.probabilities.as_ref().map_or(f64::NAN, |p| p[1]);
                    let t = if e.has_decision() { 0.0 } else { 0.5 };
                    (binary_score(&s), d, p, t)
                }
            })
            .collect();
        let decision = self
            .has_decision
            .then(|| outs.iter().map(|o| o.1).collect::<Vec<_>>());
        let probabilities = self.has_proba.then(|| {
            let mut y: Vec<f64> = outs.iter().map(|o| o.2).collect();
            if y.len() == 1 {
                y = vec![1.0 - y[0], y[0]];
            }
            let sum = numpy_sum(&y);
            if sum != 0.0 {
                y.iter_mut().for_each(|v| *v /= sum);
            }
            y
        });
        let label = if self.estimators.len() == 1 {
            usize::from(outs[0].0 > outs[0].3)
        } else {
            // `np.maximum(maxima, pred)` then `argmaxima[maxima == pred] =
            // i`: ties go to the last estimator.
            let mut maxima = f64::NEG_INFINITY;
            let mut arg = 0;
            for (i, o) in outs.iter().enumerate() {
                maxima = if maxima.is_nan() || o.0.is_nan() {
                    f64::NAN
                } else {
                    maxima.max(o.0)
                };
                if maxima == o.0 {
                    arg = i;
                }
            }
            arg
        };
        Scores {
            label,
            probabilities,
            decision,
        }
    }
    fn describe(&self) -> String {
        let first = self
            .estimators
            .iter()
            .find_map(|e| match e {
                Binary::Estimator(e) => Some(e.describe()),
                Binary::Constant(_) => None,
            })
            .unwrap_or_default();
        format!(
            "OneVsRestClassifier classes={} estimators={} over [{first}]",
            self.classes.len(),
            self.estimators.len()
        )
    }
    fn heap_bytes(&self) -> usize {
        self.estimators
            .iter()
            .map(|e| match e {
                Binary::Estimator(e) => e.heap_bytes(),
                Binary::Constant(_) => 8,
            })
            .sum()
    }
}

pub(crate) struct OneVsOne {
    classes: Vec<Label>,
    n_features: usize,
    /// In scikit-learn's pair order `(0, 1), (0, 2), …, (1, 2), …`.
    estimators: Vec<Classifier>,
}

impl OneVsOne {
    pub(crate) fn from_object(obj: &Object, ctx: &Ctx) -> Result<Self> {
        let a = Attrs::new(obj)?;
        // Before 0.21, `_ovr_decision_function` scaled the confidences by
        // their maximum and minimum over the whole batch predicted at once:
        // one text's answer depended on the other texts of the call, which
        // no per-text server can reproduce.
        match crate::release::Release::of(&a) {
            Some(r) if r >= crate::release::Release(0, 21, 0) => {}
            found => {
                return Err(EngineError::unsupported(format!(
                    "OneVsOneClassifier pickled by scikit-learn {}: before 0.21 its decision_function (and so predict) scaled confidences over the whole batch of texts, which cannot be reproduced one text at a time; refit it with scikit-learn >= 0.21",
                    found.map_or_else(|| "of unknown release".to_string(), |r| r.to_string())
                )));
            }
        }
        let classes = labels(&a, "classes_", "OneVsOneClassifier")?;
        if !matches!(a.opt("pairwise_indices_"), None | Some(Value::None)) {
            return Err(EngineError::unsupported(
                "OneVsOneClassifier.pairwise_indices_ is set (a precomputed-kernel estimator): not supported",
            ));
        }
        let k = classes.len();
        let list = estimator_list(&a)?;
        if list.len() != k * (k - 1) / 2 {
            return Err(EngineError::unsupported(format!(
                "OneVsOneClassifier has {} estimators for {k} classes (expected {})",
                list.len(),
                k * (k - 1) / 2
            )));
        }
        let mut estimators = Vec::with_capacity(list.len());
        let mut n_features = None;
        for (i, v) in list.iter().enumerate() {
            let what = format!("OneVsOneClassifier.estimators_[{i}]");
            let e = sub_estimator(v, &what, ctx)?;
            check_binary(&what, e.as_ref())?;
            let nf = *n_features.get_or_insert(e.n_features());
            check_width(&what, e.as_ref(), nf)?;
            estimators.push(e);
        }
        Ok(OneVsOne {
            classes,
            n_features: n_features.unwrap_or(0),
            estimators,
        })
    }
}

/// `sklearn.utils.multiclass._ovr_decision_function` for one row:
/// `predictions[k]` is 0 or 1 (which class of pair `k` won), `confidences`
/// the pair's decision or probability.
pub(crate) fn ovr_decision(predictions: &[usize], confidences: &[f64], n: usize) -> Vec<f64> {
    let mut votes = vec![0.0; n];
    let mut sums = vec![0.0; n];
    let mut k = 0;
    for i in 0..n {
        for j in i + 1..n {
            sums[i] -= confidences[k];
            sums[j] += confidences[k];
            if predictions[k] == 0 {
                votes[i] += 1.0;
            } else {
                votes[j] += 1.0;
            }
            k += 1;
        }
    }
    votes
        .iter()
        .zip(&sums)
        .map(|(v, s)| v + s / (3.0 * (s.abs() + 1.0)))
        .collect()
}

impl Estimator for OneVsOne {
    fn classes(&self) -> &[Label] {
        &self.classes
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn has_proba(&self) -> bool {
        false
    }
    fn has_decision(&self) -> bool {
        true
    }
    fn score(&self, row: &Row) -> Scores {
        let mut predictions = Vec::with_capacity(self.estimators.len());
        let mut confidences = Vec::with_capacity(self.estimators.len());
        for e in &self.estimators {
            let s = e.score(row);
            predictions.push(s.label);
            confidences.push(binary_score(&s));
        }
        let y = ovr_decision(&predictions, &confidences, self.classes.len());
        if self.classes.len() == 2 {
            let t = if self.estimators[0].has_decision() {
                0.0
            } else {
                0.5
            };
            return Scores {
                label: usize::from(y[1] > t),
                probabilities: None,
                decision: Some(vec![y[1]]),
            };
        }
        Scores {
            label: argmax(&y),
            probabilities: None,
            decision: Some(y),
        }
    }
    fn describe(&self) -> String {
        format!(
            "OneVsOneClassifier classes={} estimators={} over [{}] (decision_function)",
            self.classes.len(),
            self.estimators.len(),
            self.estimators[0].describe()
        )
    }
    fn heap_bytes(&self) -> usize {
        self.estimators.iter().map(|e| e.heap_bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ovo_of_release(version: &str) -> Object {
        Object {
            class: falcon_pickle::Global {
                module: "sklearn.multiclass".into(),
                name: "OneVsOneClassifier".into(),
            },
            args: vec![],
            state: Some(Box::new(Value::Dict(vec![(
                Value::Str("_sklearn_version".into()),
                Value::Str(version.into()),
            )]))),
        }
    }

    #[test]
    fn ovo_before_0_21_is_refused() {
        let ctx = Ctx { max_dense: 1 << 20 };
        let err = OneVsOne::from_object(&ovo_of_release("0.20.4"), &ctx)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("before 0.21"), "{err}");
        // A later release gets past the check (and stops at classes_).
        let err = OneVsOne::from_object(&ovo_of_release("0.21.3"), &ctx)
            .err()
            .expect("no classes_")
            .to_string();
        assert!(err.contains("classes_"), "{err}");
    }

    #[test]
    fn ovo_votes_and_confidences() {
        // 3 classes, pairs (0,1) (0,2) (1,2); class 2 wins both its pairs.
        let y = ovr_decision(&[0, 1, 1], &[-1.0, 2.0, 0.5], 3);
        assert_eq!(y.len(), 3);
        assert_eq!(argmax(&y), 2);
        let s0: f64 = 1.0 - 2.0; // -(-1) - 2
        assert_eq!(y[0], 1.0 + s0 / (3.0 * (s0.abs() + 1.0)));
    }
}
