//! Naive Bayes (`_BaseDiscreteNB`): a joint log-likelihood linear in the
//! features, then `predict_proba = exp(jll - logsumexp(jll))`.

use falcon_pickle::{Object, Value};

use super::{Scores, Weights, argmax};
use crate::Label;
use crate::attrs::{Attrs, labels};
use crate::error::{EngineError, Result};
use crate::sparse::{SparseRow, numpy_sum};

pub(crate) struct NaiveBayes {
    class: String,
    pub(crate) classes: Vec<Label>,
    /// Per-class weight of each feature in the joint log-likelihood.
    pub(crate) weights: Weights,
    /// Added to `X @ weights.T`; `None` when the estimator adds nothing
    /// (`ComplementNB` with several classes).
    bias: Option<Vec<f64>>,
    /// `BernoulliNB.binarize`: features above it become 1, others vanish.
    binarize: Option<f64>,
    pub(crate) n_features: usize,
}

/// Appended to the error for a `-inf` fitted log-probability.
const ALPHA0: &str = ": the model was fitted with alpha=0 (force_alpha=True), and scikit-learn's predict_proba then answers NaN for some texts, which Falcon will not serve; refit with alpha > 0";

impl NaiveBayes {
    /// `max_dense` bounds the bytes of the weight table (see
    /// [`super::check_dense`]).
    ///
    /// Infinities: `feature_log_prob_` is `-inf` for a feature never seen
    /// with a class when the model was fitted with `alpha=0`; a text with
    /// such a feature for every class then gets `-inf` everywhere and
    /// scikit-learn's `predict_proba` answers NaN, which JSON cannot carry.
    /// Those models are refused. A `class_log_prior_` of `-inf` (a class
    /// given prior 0 in `class_prior`) only drives that class's
    /// probability to exactly 0, which is reproduced, so it is served as
    /// long as some class has a finite prior.
    pub(crate) fn from_object(obj: &Object, max_dense: usize) -> Result<Self> {
        let a = Attrs::new(obj)?;
        let class = a.class.to_string();
        let classes = labels(&a, "classes_", &class)?;
        let (k, n_features) = a.matrix_shape("feature_log_prob_")?;
        let prior = a.vector_unchecked("class_log_prior_")?;
        if k != classes.len() || prior.len() != k {
            return Err(EngineError::unsupported(format!(
                "{class}: feature_log_prob_ has {k} rows and class_log_prior_ {} values for {} classes",
                prior.len(),
                classes.len()
            )));
        }
        super::check_dense(&class, "feature_log_prob_", k, n_features, max_dense)?;
        let (flp, _, _) = a.matrix("feature_log_prob_")?;
        if let Some(i) = flp.iter().position(|x| !x.is_finite()) {
            let why = if flp[i] == f64::NEG_INFINITY {
                ALPHA0
            } else {
                ""
            };
            return Err(a.non_finite("feature_log_prob_", flp[i], i, n_features, why));
        }
        if let Some(i) = prior.iter().position(|&x| x.is_nan() || x == f64::INFINITY) {
            return Err(a.non_finite("class_log_prior_", prior[i], i, 0, ""));
        }
        if prior.iter().all(|&x| x == f64::NEG_INFINITY) {
            return Err(EngineError::unsupported(format!(
                "{class}.class_log_prior_ is -inf for every class: every probability would be NaN"
            )));
        }
        let mut binarize = None;
        let (weights, bias): (std::borrow::Cow<'_, [f64]>, _) = match class.as_str() {
            "MultinomialNB" => (flp, Some(prior.into_owned())),
            // With several classes `ComplementNB` adds no prior (and one
            // class is refused by `labels`).
            "ComplementNB" => (flp, None),
            "BernoulliNB" => {
                binarize = match a.opt("binarize") {
                    None | Some(Value::None) => None,
                    Some(Value::Float(f)) => Some(*f),
                    Some(Value::Int(i)) => Some(*i as f64),
                    Some(v) => return Err(a.err("binarize", "a number or None", v)),
                };
                if let Some(b) = binarize
                    && !(b.is_finite() && b >= 0.0)
                {
                    // `binarize` raises on a sparse matrix below 0.
                    return Err(a.err(
                        "binarize",
                        "a finite number >= 0 or None",
                        &Value::Float(b),
                    ));
                }
                // neg_prob = log(1 - exp(flp)); W = flp - neg_prob;
                // bias = class_log_prior_ + neg_prob.sum(axis=1)
                let neg: Vec<f64> = flp.iter().map(|&x| (1.0 - x.exp()).ln()).collect();
                if let Some(i) = neg.iter().position(|x| !x.is_finite()) {
                    // A log-probability of 0 (a feature present in every
                    // document of a class: alpha=0 again) or above.
                    return Err(a.non_finite(
                        "feature_log_prob_",
                        flp[i],
                        i,
                        n_features,
                        if flp[i] <= 0.0 {
                            ALPHA0
                        } else {
                            " (a log-probability above 0)"
                        },
                    ));
                }
                let w: Vec<f64> = flp.iter().zip(&neg).map(|(f, n)| f - n).collect();
                let bias = (0..k)
                    .map(|r| prior[r] + numpy_sum(&neg[r * n_features..(r + 1) * n_features]))
                    .collect();
                (w.into(), Some(bias))
            }
            other => {
                return Err(EngineError::unsupported(format!(
                    "{other} is not a naive Bayes model"
                )));
            }
        };
        Ok(NaiveBayes {
            class,
            classes,
            weights: Weights::from_rows(&weights, k, n_features),
            bias,
            binarize,
            n_features,
        })
    }

    /// `sklearn.preprocessing.binarize` on a CSR row (then
    /// `eliminate_zeros`).
    fn binarized(&self, row: &SparseRow) -> Option<SparseRow> {
        let t = self.binarize?;
        let mut out = SparseRow {
            precision: row.precision,
            ..SparseRow::default()
        };
        for (&c, &x) in row.indices.iter().zip(&row.values) {
            if x > t {
                out.indices.push(c);
                out.values.push(1.0);
            }
        }
        Some(out)
    }

    fn jll(&self, row: &SparseRow) -> Vec<f64> {
        let mut jll = self.weights.dot(row);
        if let Some(bias) = &self.bias {
            for (j, b) in jll.iter_mut().zip(bias) {
                *j += b;
            }
        }
        jll
    }

    pub(crate) fn score(&self, row: &SparseRow) -> Scores {
        let bin = self.binarized(row);
        let jll = self.jll(bin.as_ref().unwrap_or(row));
        let label = argmax(&jll);
        let lse = logsumexp(&jll);
        let probabilities = jll.iter().map(|&j| (j - lse).exp()).collect();
        Scores {
            label,
            probabilities: Some(probabilities),
            decision: None,
        }
    }

    pub(crate) fn contributions(&self, row: &SparseRow, label: usize) -> Vec<(u32, f64)> {
        let bin = self.binarized(row);
        let row = bin.as_ref().unwrap_or(row);
        row.indices
            .iter()
            .zip(&row.values)
            .map(|(&c, &x)| (c, x * self.weights.get(c, label)))
            .collect()
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "{} classes={} n_features={}{} (predict_proba)",
            self.class,
            self.classes.len(),
            self.n_features,
            self.binarize
                .map(|b| format!(" binarize={b}"))
                .unwrap_or_default()
        )
    }
}

/// `scipy.special.logsumexp` (scipy ≥ 1.15) on one row: every element equal
/// to the maximum is taken out of the sum and counted in `m`, the rest
/// summed as `exp(a - max)`, and `log1p(s / m) + log(m) + max` returned.
pub(crate) fn logsumexp(a: &[f64]) -> f64 {
    let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let shift = if max.is_finite() { max } else { 0.0 };
    let m = a.iter().filter(|&&x| x == max).count() as f64;
    let e: Vec<f64> = a
        .iter()
        .map(|&x| if x == max { 0.0 } else { (x - shift).exp() })
        .collect();
    let mut s = numpy_sum(&e);
    if s != 0.0 {
        s /= m;
    }
    s.ln_1p() + m.ln() + max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logsumexp_is_stable() {
        let v = logsumexp(&[1000.0, 1000.0]);
        assert!((v - (1000.0 + 2f64.ln())).abs() < 1e-12);
        let v = logsumexp(&[0.0, 1.0, 2.0]);
        let direct = (0f64.exp() + 1f64.exp() + 2f64.exp()).ln();
        assert!((v - direct).abs() < 1e-14);
    }
}
