//! Linear classifiers (`LinearClassifierMixin`): `decision = X @ coef_.T +
//! intercept_`, with each estimator's own `predict_proba`.

use falcon_pickle::Object;

use super::{Scores, Weights, argmax, expit, softmax};
use crate::Label;
use crate::attrs::{Attrs, labels};
use crate::error::{EngineError, Result};
use crate::sparse::{SparseRow, numpy_sum};

/// How (and whether) an estimator turns decisions into probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proba {
    None,
    /// `_predict_proba_lr`: expit, then normalise multi-class rows.
    OneVsRest,
    /// `softmax`, binary decisions as `[-d, d]` (multinomial
    /// `LogisticRegression`).
    Softmax,
    /// `SGDClassifier(loss="modified_huber")`.
    ModifiedHuber,
}

pub(crate) struct Linear {
    class: String,
    pub(crate) classes: Vec<Label>,
    pub(crate) weights: Weights,
    intercept: Vec<f64>,
    pub(crate) n_features: usize,
    proba: Proba,
    detail: String,
}

impl Linear {
    /// `max_dense` bounds the bytes of the weight table (see
    /// [`super::check_dense`]).
    pub(crate) fn from_object(obj: &Object, max_dense: usize) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let class = a.class.to_string();
        let classes = if matches!(class.as_str(), "RidgeClassifier" | "RidgeClassifierCV") {
            // `classes_` is a property reading the fitted LabelBinarizer.
            let lb = Attrs::new(a.object("_label_binarizer")?)?;
            if let Some(t) = lb.opt_str("y_type_")?
                && t.starts_with("multilabel")
            {
                return Err(EngineError::unsupported(format!(
                    "multilabel {class} is not supported"
                )));
            }
            labels(&lb, "classes_", &class)?
        } else {
            labels(&a, "classes_", &class)?
        };
        let (k, n_features) = a.matrix_shape("coef_")?;
        let expected_k = if classes.len() == 2 { 1 } else { classes.len() };
        if k != expected_k {
            return Err(EngineError::unsupported(format!(
                "{class}: coef_ has {k} rows for {} classes (expected {expected_k})",
                classes.len()
            )));
        }
        super::check_dense(&class, "coef_", k, n_features, max_dense)?;
        let (coef, _, _) = a.matrix("coef_")?;
        a.check_finite("coef_", &coef, n_features)?;
        let mut intercept = match a.opt("intercept_") {
            Some(falcon_pickle::Value::Float(f)) => vec![*f],
            Some(falcon_pickle::Value::Int(i)) => vec![*i as f64],
            Some(_) => a.vector("intercept_")?.into_owned(),
            None => return Err(a.err("intercept_", "an array", &falcon_pickle::Value::None)),
        };
        a.check_finite("intercept_", &intercept, 0)?;
        if intercept.len() == 1 && k > 1 {
            // `LinearSVC`/`RidgeClassifier(fit_intercept=False)` store the
            // scalar 0.0 even for several classes; numpy broadcasts it to
            // every class in `X @ coef_.T + intercept_`, and so does this.
            intercept = vec![intercept[0]; k];
        }
        if intercept.len() != k {
            return Err(EngineError::unsupported(format!(
                "{class}: coef_ has {k} rows and intercept_ {} values for {} classes (expected {expected_k})",
                intercept.len(),
                classes.len()
            )));
        }
        let (proba, detail) = match class.as_str() {
            // `LogisticRegressionCV` inherits `predict_proba` (and its
            // multi_class rule) from `LogisticRegression`.
            "LogisticRegression" | "LogisticRegressionCV" => {
                let multi = a.opt_str("multi_class")?.unwrap_or("deprecated");
                let solver = a.opt_str("solver")?.unwrap_or("lbfgs");
                let ovr = matches!(multi, "ovr" | "warn")
                    || (matches!(multi, "auto" | "deprecated")
                        && (classes.len() <= 2 || solver == "liblinear"));
                if !ovr && !matches!(multi, "multinomial" | "auto" | "deprecated") {
                    return Err(a.err(
                        "multi_class",
                        "\"auto\", \"ovr\" or \"multinomial\"",
                        a.get("multi_class")?,
                    ));
                }
                let p = if ovr {
                    Proba::OneVsRest
                } else {
                    Proba::Softmax
                };
                let how = if ovr {
                    "one-vs-rest"
                } else {
                    "multinomial (softmax)"
                };
                (
                    p,
                    format!("multi_class={multi} solver={solver}: {how} probabilities"),
                )
            }
            "SGDClassifier" => {
                let loss = a.str("loss")?;
                let p = match loss {
                    "log_loss" | "log" => Proba::OneVsRest,
                    "modified_huber" => Proba::ModifiedHuber,
                    _ => Proba::None,
                };
                (p, format!("loss={loss}"))
            }
            _ => (Proba::None, String::new()),
        };
        Ok(Linear {
            class,
            classes,
            weights: Weights::from_rows(&coef, k, n_features),
            intercept,
            n_features,
            proba,
            detail,
        })
    }

    pub(crate) fn has_proba(&self) -> bool {
        self.proba != Proba::None
    }

    pub(crate) fn score(&self, row: &SparseRow) -> Scores {
        let mut d = self.weights.dot(row);
        for (s, b) in d.iter_mut().zip(&self.intercept) {
            *s += b;
        }
        let label = if d.len() == 1 {
            usize::from(d[0] > 0.0)
        } else {
            argmax(&d)
        };
        let probabilities = match self.proba {
            Proba::None => None,
            Proba::OneVsRest => Some(proba_lr(&d)),
            Proba::Softmax => Some(if d.len() == 1 {
                softmax(&[-d[0], d[0]])
            } else {
                softmax(&d)
            }),
            Proba::ModifiedHuber => Some(modified_huber(&d)),
        };
        Scores {
            label,
            probabilities,
            decision: Some(d),
        }
    }

    pub(crate) fn contributions(&self, row: &SparseRow, label: usize) -> Vec<(u32, f64)> {
        // Binary models score class 1; class 0 is favoured by the negation.
        let (r, sign) = if self.intercept.len() == 1 {
            (0, if label == 1 { 1.0 } else { -1.0 })
        } else {
            (label, 1.0)
        };
        row.indices
            .iter()
            .zip(&row.values)
            .map(|(&c, &x)| (c, sign * x * self.weights.get(c, r)))
            .collect()
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "{} classes={} n_features={} {}{}",
            self.class,
            self.classes.len(),
            self.n_features,
            self.detail,
            match self.proba {
                Proba::None => " (decision_function only)",
                _ => " (predict_proba + decision_function)",
            }
        )
    }
}

/// `LinearClassifierMixin._predict_proba_lr`.
fn proba_lr(d: &[f64]) -> Vec<f64> {
    if d.len() == 1 {
        let p = expit(d[0]);
        return vec![1.0 - p, p];
    }
    let p: Vec<f64> = d.iter().map(|&x| expit(x)).collect();
    let sum = numpy_sum(&p);
    p.into_iter().map(|x| x / sum).collect()
}

/// `SGDClassifier.predict_proba` for `loss="modified_huber"`:
/// `(clip(d, -1, 1) + 1) / 2`, rows normalised for multi-class, an all-zero
/// row becoming uniform.
fn modified_huber(d: &[f64]) -> Vec<f64> {
    let clip = |x: f64| (x.clamp(-1.0, 1.0) + 1.0) / 2.0;
    if d.len() == 1 {
        let p = clip(d[0]);
        return vec![1.0 - p, p];
    }
    let mut p: Vec<f64> = d.iter().map(|&x| clip(x)).collect();
    let sum = numpy_sum(&p);
    if sum == 0.0 {
        let n = p.len() as f64;
        p.iter_mut().for_each(|x| *x = 1.0 / n);
    } else {
        p.iter_mut().for_each(|x| *x /= sum);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_proba_lr() {
        let p = proba_lr(&[0.0]);
        assert_eq!(p, vec![0.5, 0.5]);
    }

    #[test]
    fn modified_huber_uniform_on_zero_rows() {
        assert_eq!(modified_huber(&[-5.0, -2.0, -1.0]), vec![1.0 / 3.0; 3]);
        assert_eq!(modified_huber(&[0.0]), vec![0.5, 0.5]);
        assert_eq!(modified_huber(&[3.0]), vec![0.0, 1.0]);
    }
}
