//! `MultiOutputClassifier`: one fitted classifier per output column of
//! the target, each with its own `classes_` (scikit-learn 1.7,
//! `sklearn/multioutput.py`):
//!
//! * `predict`: `np.asarray([e.predict(X) for e in estimators_]).T`, one
//!   label per output. numpy gives the stacked labels one dtype: when the
//!   outputs mix string labels with others, every label becomes its
//!   `str()` ([`MultiOutput::labels_as_str`]); outputs that mix numeric
//!   label types (which numpy would promote, `1` becoming `1.0`) are
//!   refused.
//! * `predict_proba`: the list of every estimator's `predict_proba`;
//!   available only when all of them have it.
//! * no `decision_function`.

use falcon_pickle::{Object, Value};

use super::multilabel::{estimators, sub_classifier};
use super::{Classifier, Estimator, MultiEstimator, MultiScores, OutputKind, Scores};
use crate::Label;
use crate::attrs::Attrs;
use crate::error::{EngineError, Result};
use crate::registry::Ctx;
use crate::row::Row;

pub(crate) struct MultiOutput {
    estimators: Vec<Classifier>,
    has_proba: bool,
    labels_as_str: bool,
}

/// The registry builder for `MultiOutputClassifier`.
pub(crate) fn multi_output(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(MultiOutput::from_object(obj, ctx)?))
}

fn kind_of(l: &Label) -> &'static str {
    match l {
        Label::Str(_) => "str",
        Label::Int(_) => "int",
        Label::Bool(_) => "bool",
        Label::Float(_) => "float",
    }
}

impl MultiOutput {
    pub(crate) fn from_object(obj: &Object, ctx: &Ctx) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let items = estimators(&a)?;
        let mut out: Vec<Classifier> = Vec::with_capacity(items.len());
        let mut used = 0usize;
        for (i, item) in items.iter().enumerate() {
            let Value::Object(o) = item else {
                return Err(a.err("estimators_", "fitted estimators", item));
            };
            let what = format!("estimators_[{i}]");
            let e = sub_classifier("MultiOutputClassifier", &what, o, ctx, &mut used)?;
            if let Some(first) = out.first()
                && first.n_features() != e.n_features()
            {
                return Err(EngineError::unsupported(format!(
                    "MultiOutputClassifier.{what} was fitted on {} features, estimators_[0] on {}",
                    e.n_features(),
                    first.n_features()
                )));
            }
            out.push(e);
        }
        let mut kinds: Vec<&str> = out
            .iter()
            .flat_map(|e| e.classes().iter().map(kind_of))
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        let labels_as_str = kinds.len() > 1;
        if labels_as_str && !kinds.contains(&"str") {
            return Err(EngineError::unsupported(format!(
                "MultiOutputClassifier's outputs have labels of types {}: numpy promotes them to one type in predict, which Falcon does not reproduce",
                kinds.join(", ")
            )));
        }
        let has_proba = out.iter().all(|e| e.has_proba());
        Ok(MultiOutput {
            estimators: out,
            has_proba,
            labels_as_str,
        })
    }
}

impl MultiEstimator for MultiOutput {
    fn kind(&self) -> OutputKind {
        OutputKind::MultiOutput
    }
    fn output_classes(&self) -> Vec<&[Label]> {
        self.estimators.iter().map(|e| e.classes()).collect()
    }
    fn score_multi(&self, row: &Row) -> MultiScores {
        MultiScores::Outputs(
            self.estimators
                .iter()
                .map(|e| {
                    let s = e.score(row);
                    Scores {
                        label: s.label,
                        probabilities: if self.has_proba {
                            s.probabilities
                        } else {
                            None
                        },
                        decision: None,
                    }
                })
                .collect(),
        )
    }
    /// numpy's common dtype of string and non-string labels is a string.
    fn labels_as_str(&self) -> bool {
        self.labels_as_str
    }
}

impl Estimator for MultiOutput {
    /// The first output's classes (the model reports every output's
    /// through [`MultiEstimator::output_classes`]).
    fn classes(&self) -> &[Label] {
        self.estimators[0].classes()
    }
    fn n_features(&self) -> usize {
        self.estimators[0].n_features()
    }
    fn has_proba(&self) -> bool {
        self.has_proba
    }
    fn has_decision(&self) -> bool {
        false
    }
    /// Only for callers that ignore [`Estimator::as_multi`] (the model
    /// never does): the first output's answer.
    fn score(&self, row: &Row) -> Scores {
        let s = self.estimators[0].score(row);
        Scores {
            label: s.label,
            probabilities: if self.has_proba {
                s.probabilities
            } else {
                None
            },
            decision: None,
        }
    }
    fn describe(&self) -> String {
        format!(
            "MultiOutputClassifier outputs={} (each: {})",
            self.estimators.len(),
            self.estimators[0].describe()
        )
    }
    fn heap_bytes(&self) -> usize {
        self.estimators.iter().map(|e| e.heap_bytes()).sum()
    }
    fn as_multi(&self) -> Option<&dyn MultiEstimator> {
        Some(self)
    }
}
