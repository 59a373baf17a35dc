//! `CalibratedClassifierCV`: each fold's classifier scores the row, a
//! per-class calibrator (sigmoid or isotonic) maps each score to a
//! probability, the probabilities are normalised, and the folds' results
//! are averaged (`ensemble=True`; one fold with `ensemble=False`).

use falcon_pickle::{Object, Value};

use super::{Classifier, Estimator, Scores, argmax, check_width, expit, sub_estimator};
use crate::Label;
use crate::attrs::{Attrs, labels};
use crate::error::{EngineError, Result};
use crate::registry::Ctx;
use crate::row::Row;
use crate::sparse::numpy_sum;

/// A fitted per-class calibrator.
#[derive(Debug, Clone, PartialEq)]
enum Calibrator {
    /// `_SigmoidCalibration.predict`: `expit(-(a_ * T + b_))`.
    Sigmoid { a: f64, b: f64 },
    /// `IsotonicRegression(out_of_bounds="clip").predict`: clip to
    /// `[X_min_, X_max_]`, then scipy's `interp1d(kind="linear")` over the
    /// thresholds (a single threshold predicts its constant).
    Isotonic {
        x: Vec<f64>,
        y: Vec<f64>,
        min: f64,
        max: f64,
    },
}

impl Calibrator {
    fn from_object(obj: &Object) -> Result<Self> {
        let a = Attrs::new(obj)?;
        match obj.class.name.as_str() {
            "_SigmoidCalibration" => {
                let num = |name: &str| -> Result<f64> {
                    let v = a.get(name)?;
                    match v.as_f64() {
                        Some(x) if x.is_finite() => Ok(x),
                        _ => Err(a.err(name, "a finite number", v)),
                    }
                };
                Ok(Calibrator::Sigmoid {
                    a: num("a_")?,
                    b: num("b_")?,
                })
            }
            "IsotonicRegression" => {
                let oob = a.opt_str("out_of_bounds")?.unwrap_or("nan");
                if oob != "clip" {
                    return Err(a.err(
                        "out_of_bounds",
                        "\"clip\" (what CalibratedClassifierCV sets)",
                        a.get("out_of_bounds")?,
                    ));
                }
                // `X_thresholds_` since 0.24, `_necessary_X_` before.
                let (xn, yn) = if a.opt("X_thresholds_").is_some() {
                    ("X_thresholds_", "y_thresholds_")
                } else {
                    ("_necessary_X_", "_necessary_y_")
                };
                for n in [xn, yn] {
                    let arr = a.array(n)?;
                    if !matches!(arr.data, falcon_pickle::ArrayData::F64(_)) {
                        return Err(a.err(n, "a float64 array", a.get(n)?));
                    }
                }
                let x = a.vector(xn)?.into_owned();
                let y = a.vector(yn)?.into_owned();
                if x.is_empty() || x.len() != y.len() {
                    return Err(EngineError::unsupported(format!(
                        "IsotonicRegression: {xn} has {} values and {yn} {}",
                        x.len(),
                        y.len()
                    )));
                }
                if x.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(EngineError::unsupported(format!(
                        "IsotonicRegression.{xn} is not strictly increasing"
                    )));
                }
                let num = |name: &str| -> Result<f64> {
                    let v = a.get(name)?;
                    match v.as_f64() {
                        Some(x) if x.is_finite() => Ok(x),
                        _ => Err(a.err(name, "a finite number", v)),
                    }
                };
                let (min, max) = (num("X_min_")?, num("X_max_")?);
                if min < x[0] || max > x[x.len() - 1] || min > max {
                    return Err(EngineError::unsupported(format!(
                        "IsotonicRegression: [X_min_, X_max_] = [{min}, {max}] is not within {xn}"
                    )));
                }
                Ok(Calibrator::Isotonic { x, y, min, max })
            }
            _ => Err(EngineError::unsupported(format!(
                "{} is not a calibrator (_SigmoidCalibration or IsotonicRegression)",
                obj.class
            ))),
        }
    }

    fn predict(&self, t: f64) -> f64 {
        match self {
            Calibrator::Sigmoid { a, b } => expit(-(a * t + b)),
            Calibrator::Isotonic { x, y, min, max } => {
                if y.len() == 1 {
                    return y[0];
                }
                // np.clip: maximum then minimum.
                let t = t.max(*min).min(*max);
                // searchsorted(x, t, side="left"), clipped to [1, n-1].
                let i = x.partition_point(|&v| v < t).clamp(1, x.len() - 1);
                let (lo, hi) = (i - 1, i);
                let slope = (y[hi] - y[lo]) / (x[hi] - x[lo]);
                slope * (t - x[lo]) + y[lo]
            }
        }
    }
}

/// One `_CalibratedClassifier`.
struct Fold {
    estimator: Classifier,
    /// `decision_function` when the estimator has it, else `predict_proba`.
    use_decision: bool,
    /// `(column of the estimator's output, class index, calibrator)`.
    columns: Vec<(usize, usize, Calibrator)>,
}

pub(crate) struct Calibrated {
    classes: Vec<Label>,
    n_features: usize,
    folds: Vec<Fold>,
    method: String,
}

/// The calibrated classifier's estimator: `estimator` since 1.2,
/// `base_estimator` before.
fn fold_estimator<'a>(a: &Attrs<'a>) -> Result<&'a Value> {
    match a.opt("estimator") {
        Some(v) if !v.is_none() => Ok(v),
        _ => a.get("base_estimator"),
    }
}

impl Calibrated {
    pub(crate) fn from_object(obj: &Object, ctx: &Ctx) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let class = a.class.to_string();
        let classes = labels(&a, "classes_", &class)?;
        let n = classes.len();
        let list = match a.get("calibrated_classifiers_")? {
            Value::List(l) if !l.is_empty() => l,
            v => {
                return Err(a.err(
                    "calibrated_classifiers_",
                    "a non-empty list of calibrated classifiers",
                    v,
                ));
            }
        };
        let method = a.opt_str("method")?.unwrap_or("sigmoid").to_string();
        let mut folds = Vec::with_capacity(list.len());
        let mut n_features = None;
        for (i, cc) in list.iter().enumerate() {
            let what = format!("{class}.calibrated_classifiers_[{i}]");
            let cc = match cc {
                Value::Object(o) if o.class.name == "_CalibratedClassifier" => o,
                v => {
                    return Err(EngineError::unsupported(format!(
                        "{what} is {}, not a _CalibratedClassifier",
                        crate::attrs::describe(v)
                    )));
                }
            };
            let ca = Attrs::new(cc)?;
            let estimator = sub_estimator(fold_estimator(&ca)?, &what, ctx)?;
            let nf = *n_features.get_or_insert(estimator.n_features());
            check_width(&what, estimator.as_ref(), nf)?;
            // The fold's own `classes` (0.24+; `classes_` in 0.21) must be
            // the calibrated classifier's.
            for name in ["classes", "classes_"] {
                if let Some(Value::Array(_)) = ca.opt(name) {
                    if labels(&ca, name, &what)? != classes {
                        return Err(EngineError::unsupported(format!(
                            "{what}.{name} differs from {class}.classes_"
                        )));
                    }
                    break;
                }
            }
            let cals = match ca.opt("calibrators").or_else(|| ca.opt("calibrators_")) {
                Some(Value::List(l)) => l,
                Some(v) => return Err(ca.err("calibrators", "a list of calibrators", v)),
                None => return Err(ca.err("calibrators", "a list of calibrators", &Value::None)),
            };
            let use_decision = estimator.has_decision();
            if !use_decision && !estimator.has_proba() {
                return Err(EngineError::unsupported(format!(
                    "{what}: the estimator has neither decision_function nor predict_proba"
                )));
            }
            // Columns of `_get_response_values`: one for a binary estimator
            // (its positive class), one per class otherwise.
            let est_classes = estimator.classes();
            let n_cols = if est_classes.len() == 2 {
                1
            } else {
                est_classes.len()
            };
            let mut columns = Vec::new();
            for (col, cal) in cals.iter().enumerate().take(n_cols) {
                let pos = classes
                    .iter()
                    .position(|c| *c == est_classes[col])
                    .ok_or_else(|| {
                        EngineError::unsupported(format!(
                            "{what}: the estimator's class {} is not in {class}.classes_",
                            est_classes[col]
                        ))
                    })?;
                // Binary: the single column is the positive class.
                let idx = if n == 2 { pos + 1 } else { pos };
                if idx >= n {
                    return Err(EngineError::unsupported(format!(
                        "{what}: calibrator {col} maps to no class"
                    )));
                }
                let cal = match cal {
                    Value::Object(o) => Calibrator::from_object(o)?,
                    v => {
                        return Err(EngineError::unsupported(format!(
                            "{what}.calibrators[{col}] is {}",
                            crate::attrs::describe(v)
                        )));
                    }
                };
                columns.push((col, idx, cal));
            }
            folds.push(Fold {
                estimator,
                use_decision,
                columns,
            });
        }
        Ok(Calibrated {
            classes,
            n_features: n_features.unwrap_or(0),
            folds,
            method,
        })
    }

    /// `_CalibratedClassifier.predict_proba` for one row.
    fn fold_proba(&self, fold: &Fold, row: &Row) -> Vec<f64> {
        let n = self.classes.len();
        let s = fold.estimator.score(row);
        let preds: Vec<f64> = if fold.use_decision {
            s.decision.unwrap_or_default()
        } else {
            let p = s.probabilities.unwrap_or_default();
            if p.len() == 2 { vec![p[1]] } else { p }
        };
        let mut proba = vec![0.0; n];
        for (col, idx, cal) in &fold.columns {
            proba[*idx] = cal.predict(preds.get(*col).copied().unwrap_or(f64::NAN));
        }
        if n == 2 {
            proba[0] = 1.0 - proba[1];
        } else {
            let denom = numpy_sum(&proba);
            if denom != 0.0 {
                proba.iter_mut().for_each(|p| *p /= denom);
            } else {
                proba.iter_mut().for_each(|p| *p = 1.0 / n as f64);
            }
        }
        for p in &mut proba {
            if 1.0 < *p && *p <= 1.0 + 1e-5 {
                *p = 1.0;
            }
        }
        proba
    }
}

impl Estimator for Calibrated {
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
        // `mean_proba = zeros; mean_proba += proba (each fold); mean_proba
        // /= len(folds)`.
        let mut mean = vec![0.0; self.classes.len()];
        for fold in &self.folds {
            for (m, p) in mean.iter_mut().zip(self.fold_proba(fold, row)) {
                *m += p;
            }
        }
        let k = self.folds.len() as f64;
        mean.iter_mut().for_each(|m| *m /= k);
        Scores {
            label: argmax(&mean),
            probabilities: Some(mean),
            decision: None,
        }
    }
    fn describe(&self) -> String {
        let first = self
            .folds
            .first()
            .map(|f| f.estimator.describe())
            .unwrap_or_default();
        format!(
            "CalibratedClassifierCV method={} folds={} classes={} over [{first}] (predict_proba)",
            self.method,
            self.folds.len(),
            self.classes.len()
        )
    }
    fn heap_bytes(&self) -> usize {
        self.folds
            .iter()
            .map(|f| {
                f.estimator.heap_bytes()
                    + f.columns
                        .iter()
                        .map(|(_, _, c)| match c {
                            Calibrator::Isotonic { x, y, .. } => (x.len() + y.len()) * 8,
                            Calibrator::Sigmoid { .. } => 16,
                        })
                        .sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_interpolates_and_clips() {
        let c = Calibrator::Isotonic {
            x: vec![0.0, 1.0, 3.0],
            y: vec![0.0, 0.5, 1.0],
            min: 0.0,
            max: 3.0,
        };
        assert_eq!(c.predict(-5.0), 0.0);
        assert_eq!(c.predict(0.0), 0.0);
        assert_eq!(c.predict(0.5), 0.25);
        assert_eq!(c.predict(1.0), 0.5);
        assert_eq!(c.predict(2.0), 0.75);
        assert_eq!(c.predict(9.0), 1.0);
    }

    #[test]
    fn sigmoid_is_expit_of_minus_affine() {
        let c = Calibrator::Sigmoid { a: -2.0, b: 0.0 };
        assert_eq!(c.predict(0.0), 0.5);
        assert!(c.predict(3.0) > 0.99);
    }
}
