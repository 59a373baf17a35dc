//! `OneVsRestClassifier` fitted on a multi-label indicator target
//! (`label_binarizer_.y_type_ == "multilabel-indicator"`): one binary
//! estimator per class, and any number of positive classes per row.
//!
//! scikit-learn 1.7 (`sklearn/multiclass.py`), which this reproduces:
//!
//! * `predict`: `thresh = _threshold_for_binary_predict(estimators_[0])`
//!   (0.0 when the *first* estimator has `decision_function` and is a
//!   classifier, else 0.5; `_ConstantPredictor` is not a classifier, so a
//!   constant first column makes the threshold 0.5 for every class), then
//!   class `j` is positive when `_predict_binary(estimators_[j], X) >
//!   thresh`. `_predict_binary` is `decision_function` when the estimator
//!   has one, else `predict_proba[:, 1]`. The indicator row is returned
//!   as is (`LabelBinarizer.inverse_transform` of a multi-label indicator).
//! * `predict_proba`: `predict_proba[:, 1]` of each estimator, NOT
//!   normalised (the marginal probability of each label).
//! * `decision_function`: `decision_function(X).ravel()` of each.
//! * `_ConstantPredictor` (a class present in every or no training row):
//!   its `decision_function`, `predict_proba[:, 1]` and `predict` are all
//!   its `y_`.

use falcon_pickle::{Object, Value};

use super::{Classifier, Estimator, MultiEstimator, MultiScores, OutputKind, Scores};
use crate::Label;
use crate::attrs::{Attrs, labels};
use crate::error::{EngineError, Result};
use crate::registry::{self, Ctx, Kind};
use crate::row::Row;

/// One binary column.
enum Binary {
    /// `_ConstantPredictor.y_`.
    Constant(f64),
    Fitted(Classifier),
}

pub(crate) struct OneVsRestMultilabel {
    classes: Vec<Label>,
    estimators: Vec<Binary>,
    threshold: f64,
    n_features: usize,
    has_proba: bool,
    has_decision: bool,
    sub: String,
}

/// Builds a sub-estimator of a meta-estimator from the registry, with the
/// memory budget left (`used` bytes are already taken by its siblings), and
/// refuses one that is not a single-output classifier.
pub(crate) fn sub_classifier(
    meta: &str,
    what: &str,
    o: &Object,
    ctx: &Ctx,
    used: &mut usize,
) -> Result<Classifier> {
    let Some(Kind::Classifier(build)) = registry::lookup(&o.class).map(|e| e.kind) else {
        return Err(EngineError::unsupported(format!(
            "{meta}.{what} is {}, which is not a classifier Falcon serves (supported: {})",
            o.class,
            registry::classifier_names().join(", ")
        )));
    };
    let sub_ctx = Ctx {
        max_dense: ctx.max_dense.saturating_sub(*used),
    };
    let c = build(o, &sub_ctx)?;
    super::refuse_row_refusing(&format!("{meta}.{what}"), &o.class, c.as_ref())?;
    if c.as_multi().is_some() {
        return Err(EngineError::unsupported(format!(
            "{meta}.{what} is itself a multi-label or multi-output {}",
            o.class
        )));
    }
    *used = used.saturating_add(c.heap_bytes());
    Ok(c)
}

/// The `estimators_` list of a meta-estimator.
pub(crate) fn estimators<'a>(a: &Attrs<'a>) -> Result<&'a [Value]> {
    match a.get("estimators_")? {
        Value::List(items) | Value::Tuple(items) if !items.is_empty() => Ok(items),
        v => Err(a.err("estimators_", "a non-empty list of fitted estimators", v)),
    }
}

/// The registry builder for a multi-label `OneVsRestClassifier`. The
/// registry's `OneVsRestClassifier` entry dispatches on
/// `label_binarizer_.y_type_`: `"multilabel-indicator"` (any
/// `"multilabel…"`) here, `"binary"`/`"multiclass"` to the single-label
/// builder of `classify/multiclass.rs`.
pub(crate) fn one_vs_rest_multilabel(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(OneVsRestMultilabel::from_object(obj, ctx)?))
}

/// `label_binarizer_.y_type_` of a fitted `OneVsRestClassifier`.
pub(crate) fn y_type(obj: &Object) -> Result<String> {
    let a = Attrs::new(obj)?;
    let lb = Attrs::new(a.object("label_binarizer_")?)?;
    Ok(lb.str("y_type_")?.to_string())
}

impl OneVsRestMultilabel {
    pub(crate) fn from_object(obj: &Object, ctx: &Ctx) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let lb = Attrs::new(a.object("label_binarizer_")?)?;
        let y_type = lb.str("y_type_")?;
        if !y_type.starts_with("multilabel") {
            return Err(EngineError::unsupported(format!(
                "OneVsRestClassifier.label_binarizer_.y_type_ is {y_type:?}: not a multi-label model"
            )));
        }
        // `classes_` is set from the binarizer at fit; read the binarizer's
        // when an old release did not store it.
        let classes = if a.opt("classes_").is_some() {
            labels(&a, "classes_", "OneVsRestClassifier")?
        } else {
            labels(&lb, "classes_", "OneVsRestClassifier.label_binarizer_")?
        };
        let items = estimators(&a)?;
        if items.len() != classes.len() {
            return Err(EngineError::unsupported(format!(
                "OneVsRestClassifier has {} estimators_ for {} classes",
                items.len(),
                classes.len()
            )));
        }
        let mut out = Vec::with_capacity(items.len());
        let mut used = 0usize;
        let mut n_features: Option<usize> = None;
        let mut widths = |n: usize, i: usize| -> Result<()> {
            match n_features {
                Some(m) if m != n => Err(EngineError::unsupported(format!(
                    "OneVsRestClassifier.estimators_[{i}] was fitted on {n} features, estimators_[0..{i}] on {m}"
                ))),
                _ => {
                    n_features = Some(n);
                    Ok(())
                }
            }
        };
        for (i, item) in items.iter().enumerate() {
            let Value::Object(o) = item else {
                return Err(a.err("estimators_", "fitted estimators", item));
            };
            if o.class.name == "_ConstantPredictor" {
                let c = Attrs::new(o)?;
                let y = c.vector("y_")?;
                let [y] = y[..] else {
                    return Err(c.err_found("y_", "one value", &format!("{} values", y.len())));
                };
                if y != 0.0 && y != 1.0 {
                    return Err(c.err("y_", "0 or 1 (an indicator column)", &Value::Float(y)));
                }
                if let Some(Value::Int(n)) = c.opt("n_features_in_") {
                    widths(usize::try_from(*n).unwrap_or(usize::MAX), i)?;
                }
                out.push(Binary::Constant(y));
                continue;
            }
            let what = format!("estimators_[{i}]");
            let e = sub_classifier("OneVsRestClassifier", &what, o, ctx, &mut used)?;
            if e.classes().len() != 2 {
                return Err(EngineError::unsupported(format!(
                    "OneVsRestClassifier.{what} ({}) has {} classes; a one-vs-rest column has 2",
                    o.class,
                    e.classes().len()
                )));
            }
            if !e.has_decision() && !e.has_proba() {
                return Err(EngineError::unsupported(format!(
                    "OneVsRestClassifier.{what} ({}) has neither decision_function nor predict_proba",
                    o.class
                )));
            }
            widths(e.n_features(), i)?;
            out.push(Binary::Fitted(e));
        }
        let n_features = match (n_features, a.opt("n_features_in_")) {
            (Some(n), _) => n,
            (None, Some(Value::Int(n))) => usize::try_from(*n).unwrap_or(usize::MAX),
            (None, _) => {
                return Err(EngineError::unsupported(
                    "OneVsRestClassifier: every class is constant and the width of its input is not recorded",
                ));
            }
        };
        // `_threshold_for_binary_predict(estimators_[0])`.
        let threshold = match &out[0] {
            Binary::Fitted(e) if e.has_decision() => 0.0,
            _ => 0.5,
        };
        // `available_if` checks estimators_[0], then every estimator is
        // called: the method works only if all have it.
        let all = |f: fn(&dyn Estimator) -> bool| {
            out.iter().all(|b| match b {
                Binary::Constant(_) => true,
                Binary::Fitted(e) => f(e.as_ref()),
            })
        };
        let has_proba = all(|e| e.has_proba());
        let has_decision = all(|e| e.has_decision());
        let sub = out
            .iter()
            .find_map(|b| match b {
                Binary::Fitted(e) => Some(e.describe()),
                Binary::Constant(_) => None,
            })
            .unwrap_or_else(|| "constant".to_string());
        Ok(OneVsRestMultilabel {
            classes,
            estimators: out,
            threshold,
            n_features,
            has_proba,
            has_decision,
            sub,
        })
    }

    /// The positive classes, and every class's probability and decision.
    #[allow(clippy::type_complexity)]
    fn labels_scores(&self, row: &Row) -> (Vec<usize>, Option<Vec<f64>>, Option<Vec<f64>>) {
        let k = self.estimators.len();
        let mut positive = Vec::new();
        let mut proba = Vec::with_capacity(k);
        let mut decision = Vec::with_capacity(k);
        for (j, b) in self.estimators.iter().enumerate() {
            let (binary, p, d) = match b {
                Binary::Constant(y) => (*y, Some(*y), Some(*y)),
                Binary::Fitted(e) => {
                    let s = e.score(row);
                    let d = s.decision.as_ref().and_then(|d| d.first().copied());
                    let p = s.probabilities.as_ref().and_then(|p| p.get(1).copied());
                    // `_predict_binary`: decision_function when it exists.
                    let binary = if e.has_decision() { d } else { p };
                    (binary.unwrap_or(f64::NAN), p, d)
                }
            };
            if binary > self.threshold {
                positive.push(j);
            }
            proba.push(p.unwrap_or(f64::NAN));
            decision.push(d.unwrap_or(f64::NAN));
        }
        (
            positive,
            self.has_proba.then_some(proba),
            self.has_decision.then_some(decision),
        )
    }
}

impl MultiEstimator for OneVsRestMultilabel {
    fn kind(&self) -> OutputKind {
        OutputKind::MultiLabel
    }
    fn output_classes(&self) -> Vec<&[Label]> {
        vec![&self.classes]
    }
    fn score_multi(&self, row: &Row) -> MultiScores {
        let (positive, probabilities, decision) = self.labels_scores(row);
        MultiScores::Labels {
            positive,
            probabilities,
            decision,
        }
    }
}

impl Estimator for OneVsRestMultilabel {
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
    /// Only for callers that ignore [`Estimator::as_multi`] (the model
    /// never does): the first positive class, with every class's scores.
    fn score(&self, row: &Row) -> Scores {
        let (positive, probabilities, decision) = self.labels_scores(row);
        Scores {
            label: positive.first().copied().unwrap_or(0),
            probabilities,
            decision,
        }
    }
    fn describe(&self) -> String {
        format!(
            "OneVsRestClassifier multi-label classes={} threshold={} (each: {})",
            self.classes.len(),
            self.threshold,
            self.sub
        )
    }
    fn heap_bytes(&self) -> usize {
        self.estimators
            .iter()
            .map(|b| match b {
                Binary::Constant(_) => 0,
                Binary::Fitted(e) => e.heap_bytes(),
            })
            .sum()
    }
    fn as_multi(&self) -> Option<&dyn MultiEstimator> {
        Some(self)
    }
}
