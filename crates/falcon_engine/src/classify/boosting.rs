//! `GradientBoostingClassifier` (`sklearn/ensemble/_gb.py`) as recent
//! releases pickle it, with a `_loss` object of `sklearn._loss.loss`
//! (older releases kept a `loss_` of `sklearn.ensemble._gb_losses`, whose
//! classes are not on the allowlist: refused by name).
//!
//! * `decision_function` (raw, raveled for binary targets) starts from the
//!   `init_` estimator's raw prediction and adds `learning_rate * value`
//!   of each stage's leaf, stage by stage, per class (`predict_stages`:
//!   `out[i, k] += scale * value[leaf]`). The trees are regression trees
//!   read like any tree (float32 row, `X <= threshold`; the boosting
//!   paths have no missing-value test, so NaN goes right).
//! * The init raw prediction does not depend on the row for the `init_`
//!   scikit-learn builds (`DummyClassifier(strategy="prior")`) or
//!   `init="zero"`, so it is computed once at load:
//!   `_init_raw_predictions` clips the prior to `[eps, 1 - eps]`
//!   (`eps = np.finfo(np.float32).eps`) and applies the loss's link —
//!   `logit` for `log_loss` on two classes (scipy's formula:
//!   `log(p / (1 - p))`, but `log1p(2(p - ½)) - log1p(-2(p - ½))` for
//!   `0.3 <= p <= 0.65`), half of it for `exponential`, and the symmetric
//!   multinomial logit `log(p / gmean(p))` for more classes. Any other
//!   `init_` estimator is refused by name.
//! * `predict_proba`: `expit(raw)` (`expit(2 raw)` for `exponential`) as
//!   the positive class and `1 - that` as the negative; `softmax(raw)` for
//!   several classes. `predict`: `raw >= 0` for two classes, else the
//!   first maximum of `raw`.

use falcon_pickle::{ArrayData, Object, Value};

use super::tree::{Tree, estimator_tree, with_f32_row};
use super::{Classifier, Estimator, Scores, argmax, expit, softmax};
use crate::Label;
use crate::attrs::{Attrs, describe, labels};
use crate::error::{EngineError, Result};
use crate::row::Row;

/// The loss's link, which turns raw predictions into probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Link {
    /// `HalfBinomialLoss`: `logit` / `expit`.
    Logit,
    /// `ExponentialLoss`: `logit / 2` / `expit(2 x)`.
    HalfLogit,
    /// `HalfMultinomialLoss`: symmetric multinomial logit / softmax.
    Multinomial,
}

pub(crate) struct GradientBoosting {
    classes: Vec<Label>,
    /// Stage-major: the tree of stage `s` for class `k` is
    /// `trees[s * k_per_stage + k]`.
    trees: Vec<Tree>,
    k_per_stage: usize,
    learning_rate: f64,
    /// The raw prediction of `init_`, one per class column.
    init: Vec<f64>,
    link: Link,
    n_features: usize,
}

/// The registry builder.
pub(crate) fn gradient_boosting(obj: &Object, _ctx: &crate::registry::Ctx) -> Result<Classifier> {
    Ok(Box::new(GradientBoosting::from_object(obj)?))
}

/// `scipy.special.logit` (scipy >= 1.12 switches formula near ½).
fn logit(p: f64) -> f64 {
    if !(0.3..=0.65).contains(&p) {
        (p / (1.0 - p)).ln()
    } else {
        let s = 2.0 * (p - 0.5);
        s.ln_1p() - (-s).ln_1p()
    }
}

impl GradientBoosting {
    pub(crate) fn from_object(obj: &Object) -> Result<GradientBoosting> {
        let a = Attrs::new(obj)?;
        let class = a.class.to_string();
        let classes = labels(&a, "classes_", &class)?;
        let loss = a.object("_loss").map_err(|_| {
            EngineError::unsupported(format!(
                "{class} has no `_loss` object: only GradientBoostingClassifier pickled with a `_loss` object of sklearn._loss is supported (older releases kept a `loss_` of sklearn.ensemble._gb_losses)"
            ))
        })?;
        let link = match loss.class.name.as_str() {
            "HalfBinomialLoss" => Link::Logit,
            "ExponentialLoss" => Link::HalfLogit,
            "HalfMultinomialLoss" => Link::Multinomial,
            other => {
                return Err(EngineError::unsupported(format!(
                    "{class}._loss is a {other}, which Falcon does not reproduce"
                )));
            }
        };
        let k_classes = classes.len();
        let k_per_stage = if link == Link::Multinomial {
            k_classes
        } else {
            if k_classes != 2 {
                return Err(EngineError::unsupported(format!(
                    "{class} has a binary loss and {k_classes} classes"
                )));
            }
            1
        };
        let learning_rate = match a.get("learning_rate")? {
            Value::Float(f) if f.is_finite() => *f,
            Value::Int(i) => *i as f64,
            other => return Err(a.err("learning_rate", "a finite number", other)),
        };
        let est = a.array("estimators_")?;
        let items = match (&est.data, est.shape.as_slice()) {
            (ArrayData::Object(items), [n, k])
                if *k == k_per_stage && *n > 0 && items.len() == n * k =>
            {
                items
            }
            _ => {
                return Err(a.err_found(
                    "estimators_",
                    &format!("an object array of shape (n_stages, {k_per_stage})"),
                    &format!("an array of dtype {} and shape {:?}", est.dtype, est.shape),
                ));
            }
        };
        let mut trees = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let what = format!(
                "{class}.estimators_[{}, {}]",
                i / k_per_stage,
                i % k_per_stage
            );
            let o = match item {
                Value::Object(o) if o.class.name == "DecisionTreeRegressor" => o,
                other => {
                    return Err(EngineError::unsupported(format!(
                        "{what} is {}, not a fitted DecisionTreeRegressor",
                        describe(other)
                    )));
                }
            };
            let tree = estimator_tree(o, &what, true)?;
            if let Some(first) = trees.first().map(Tree::n_features)
                && first != tree.n_features()
            {
                return Err(EngineError::unsupported(format!(
                    "{what} was fitted on {} features, estimators_[0, 0] on {first}",
                    tree.n_features()
                )));
            }
            trees.push(tree);
        }
        let n_features = trees[0].n_features();
        if let Some(n) = a.opt("n_features_in_").and_then(Value::as_i64)
            && n != n_features as i64
        {
            return Err(EngineError::unsupported(format!(
                "{class}.n_features_in_ is {n} but its trees have {n_features} features"
            )));
        }
        let init = init_raw(&a, &class, link, k_classes)?;
        Ok(GradientBoosting {
            classes,
            trees,
            k_per_stage,
            learning_rate,
            init,
            link,
            n_features,
        })
    }

    /// `_raw_predict`: init, then every stage in order.
    fn raw(&self, row: &Row) -> Vec<f64> {
        let mut raw = self.init.clone();
        let k = self.k_per_stage;
        with_f32_row(row, self.n_features, |x, _| {
            for (i, t) in self.trees.iter().enumerate() {
                let leaf = t.leaf(x, false);
                raw[i % k] += self.learning_rate * t.value(leaf, 0)[0];
            }
        });
        raw
    }
}

/// The raw prediction of `init_` (`_init_raw_predictions`), which for the
/// supported `init_` does not depend on the row.
fn init_raw(a: &Attrs<'_>, class: &str, link: Link, k_classes: usize) -> Result<Vec<f64>> {
    let width = if link == Link::Multinomial {
        k_classes
    } else {
        1
    };
    let init = a.get("init_")?;
    if init.as_str() == Some("zero") {
        return Ok(vec![0.0; width]);
    }
    let dummy = match init {
        Value::Object(o) if o.class.name == "DummyClassifier" => Attrs::new(o)?,
        other => {
            return Err(EngineError::unsupported(format!(
                "{class}.init_ is {}: Falcon supports the default init (DummyClassifier(strategy=\"prior\")) and init=\"zero\"",
                describe(other)
            )));
        }
    };
    let strategy = dummy
        .opt_str("_strategy")?
        .or(dummy.opt_str("strategy")?)
        .unwrap_or("prior");
    if strategy != "prior" {
        return Err(EngineError::unsupported(format!(
            "{class}.init_ is a DummyClassifier(strategy={strategy:?}); only \"prior\" is supported"
        )));
    }
    let prior = dummy.vector("class_prior_")?;
    if prior.len() != k_classes {
        return Err(EngineError::unsupported(format!(
            "{class}.init_.class_prior_ has {} values for {k_classes} classes",
            prior.len()
        )));
    }
    // np.clip(p, eps, 1 - eps) with eps = np.finfo(np.float32).eps; the
    // bounds are float32 values, exact in float64.
    let eps = f64::from(f32::EPSILON);
    let hi = f64::from(1.0f32 - f32::EPSILON);
    let clip = |p: f64| p.clamp(eps, hi);
    Ok(match link {
        Link::Logit => vec![logit(clip(prior[1]))],
        Link::HalfLogit => vec![logit(clip(prior[1])) * 0.5],
        Link::Multinomial => {
            let p: Vec<f64> = prior.iter().map(|&p| clip(p)).collect();
            // scipy's gmean: exp(mean(log(p))).
            let logs: Vec<f64> = p.iter().map(|v| v.ln()).collect();
            let gm = (crate::sparse::numpy_sum(&logs) / p.len() as f64).exp();
            p.iter().map(|v| (v / gm).ln()).collect()
        }
    })
}

impl Estimator for GradientBoosting {
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
        true
    }
    fn score(&self, row: &Row) -> Scores {
        let raw = self.raw(row);
        let (label, probabilities) = match self.link {
            Link::Logit | Link::HalfLogit => {
                let x = if self.link == Link::Logit {
                    raw[0]
                } else {
                    2.0 * raw[0]
                };
                let p1 = expit(x);
                (usize::from(raw[0] >= 0.0), vec![1.0 - p1, p1])
            }
            Link::Multinomial => (argmax(&raw), softmax(&raw)),
        };
        Scores {
            label,
            probabilities: Some(probabilities),
            decision: Some(raw),
        }
    }
    fn describe(&self) -> String {
        format!(
            "GradientBoostingClassifier stages={} classes={} learning_rate={} features={}",
            self.trees.len() / self.k_per_stage,
            self.classes.len(),
            self.learning_rate,
            self.n_features
        )
    }
    fn heap_bytes(&self) -> usize {
        self.trees.iter().map(Tree::heap_bytes).sum::<usize>()
            + self.trees.capacity() * std::mem::size_of::<Tree>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logit_follows_scipy() {
        // Values checked against scipy.special.logit 1.15.
        assert_eq!(logit(0.5), 0.0);
        assert_eq!(logit(0.9), (0.9f64 / (1.0 - 0.9)).ln());
        let s = 2.0 * (0.4 - 0.5);
        assert_eq!(logit(0.4), f64::ln_1p(s) - f64::ln_1p(-s));
    }
}

/// One node of a `HistGradientBoosting` `TreePredictor`
/// (`PREDICTOR_RECORD_DTYPE`), numeric splits only.
#[derive(Debug, Clone, Copy)]
struct HistNode {
    /// `num_threshold` of a split, `value` of a leaf.
    x: f64,
    feature: u32,
    /// `0` for a leaf (no child can be the root).
    left: u32,
    right: u32,
    missing_left: bool,
}

/// `HistGradientBoostingClassifier` (`sklearn/ensemble/_hist_gradient_boosting`),
/// on dense input only, as scikit-learn itself (`validate_data` without
/// `accept_sparse`; the model could not have been fitted on a sparse
/// matrix).
///
/// `_raw_predict`: `_baseline_prediction` plus, iteration by iteration and
/// class by class, the leaf `value` of each `TreePredictor` (the learning
/// rate is already in the leaf values). Each predictor reads the row in
/// **float64** (`X_DTYPE`) and compares `x <= num_threshold`; a NaN
/// follows `missing_go_to_left` (`_predict_one_from_raw_data`).
/// Categorical splits (`is_categorical`) are refused by name.
/// `predict_proba` is the loss's inverse link (`expit` / softmax), and
/// `predict` is `raw > 0` for two classes (strictly: scikit-learn keeps
/// `argmax([0.5, 0.5]) == 0`), the first maximum of `raw` otherwise.
pub(crate) struct HistGradientBoosting {
    classes: Vec<Label>,
    /// All predictors' nodes, one after the other; `roots[i]` is where
    /// predictor `i` (iteration-major) starts.
    nodes: Vec<HistNode>,
    roots: Vec<u32>,
    k_per_iter: usize,
    baseline: Vec<f64>,
    multinomial: bool,
    n_features: usize,
}

/// The registry builder.
pub(crate) fn hist_gradient_boosting(
    obj: &Object,
    _ctx: &crate::registry::Ctx,
) -> Result<Classifier> {
    Ok(Box::new(HistGradientBoosting::from_object(obj)?))
}

fn hist_column<'a>(
    nodes: &'a falcon_pickle::Array,
    name: &str,
    what: &str,
) -> Result<&'a ArrayData> {
    nodes
        .field(name)
        .filter(|c| c.len() == nodes.len())
        .ok_or_else(|| EngineError::unsupported(format!("{what}.nodes lacks the field {name:?}")))
}

fn hist_ints(data: &ArrayData, name: &str, what: &str) -> Result<Vec<i64>> {
    match data {
        ArrayData::I64(v) => Ok(v.clone()),
        ArrayData::U64(v) => Ok(v.iter().map(|&x| x.min(i64::MAX as u64) as i64).collect()),
        _ => Err(EngineError::unsupported(format!(
            "{what}.nodes.{name} is not an integer field"
        ))),
    }
}

fn hist_floats<'a>(data: &'a ArrayData, name: &str, what: &str) -> Result<&'a [f64]> {
    match data {
        ArrayData::F64(v) => Ok(v),
        _ => Err(EngineError::unsupported(format!(
            "{what}.nodes.{name} is not a float64 field"
        ))),
    }
}

impl HistGradientBoosting {
    pub(crate) fn from_object(obj: &Object) -> Result<HistGradientBoosting> {
        let a = Attrs::new(obj)?;
        let class = a.class.to_string();
        let classes = labels(&a, "classes_", &class)?;
        let loss = a.object("_loss")?;
        let multinomial = match loss.class.name.as_str() {
            "HalfBinomialLoss" => false,
            "HalfMultinomialLoss" => true,
            other => {
                return Err(EngineError::unsupported(format!(
                    "{class}._loss is a {other}, which Falcon does not reproduce"
                )));
            }
        };
        let k_per_iter = if multinomial { classes.len() } else { 1 };
        if !multinomial && classes.len() != 2 {
            return Err(EngineError::unsupported(format!(
                "{class} has a binary loss and {} classes",
                classes.len()
            )));
        }
        if let Some(Value::Array(cat)) = a.opt("is_categorical_")
            && cat.as_bools().is_some_and(|c| c.iter().any(|&b| b))
        {
            return Err(EngineError::unsupported(format!(
                "{class} has categorical features (is_categorical_), which Falcon does not reproduce"
            )));
        }
        let n_features = a
            .opt("n_features_in_")
            .or(a.opt("_n_features"))
            .and_then(Value::as_i64)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0 && n <= u32::MAX as usize)
            .ok_or_else(|| {
                EngineError::unsupported(format!("{class}.n_features_in_ is missing or invalid"))
            })?;
        let (baseline, _, cols) = a.matrix("_baseline_prediction")?;
        if cols != k_per_iter || baseline.len() != k_per_iter {
            return Err(EngineError::unsupported(format!(
                "{class}._baseline_prediction has {} values for {k_per_iter} raw columns",
                baseline.len()
            )));
        }
        a.check_finite("_baseline_prediction", &baseline, cols)?;
        let iterations = match a.get("_predictors")? {
            Value::List(l) if !l.is_empty() => l,
            other => return Err(a.err("_predictors", "a non-empty list of lists", other)),
        };
        let mut nodes = Vec::new();
        let mut roots = Vec::new();
        for (it, preds) in iterations.iter().enumerate() {
            let preds = match preds {
                Value::List(p) if p.len() == k_per_iter => p,
                other => {
                    return Err(a.err(
                        &format!("_predictors[{it}]"),
                        &format!("a list of {k_per_iter} TreePredictor"),
                        other,
                    ));
                }
            };
            for (k, p) in preds.iter().enumerate() {
                let what = format!("{class}._predictors[{it}][{k}]");
                let start = u32::try_from(nodes.len())
                    .map_err(|_| EngineError::unsupported(format!("{what}: too many nodes")))?;
                roots.push(start);
                read_predictor(p, &what, n_features, start, &mut nodes)?;
            }
        }
        Ok(HistGradientBoosting {
            classes,
            nodes,
            roots,
            k_per_iter,
            baseline: baseline.into_owned(),
            multinomial,
            n_features,
        })
    }

    fn raw(&self, x: &[f64]) -> Vec<f64> {
        let mut raw = self.baseline.clone();
        for (i, &root) in self.roots.iter().enumerate() {
            let mut n = &self.nodes[root as usize];
            // Children come after their parent (checked at load): at most
            // one step per node of this predictor.
            while n.left != 0 {
                let v = x[n.feature as usize];
                let left = if v.is_nan() { n.missing_left } else { v <= n.x };
                n = &self.nodes[if left { n.left } else { n.right } as usize];
            }
            raw[i % self.k_per_iter] += n.x;
        }
        raw
    }
}

/// Appends the nodes of one `TreePredictor` to `out` (child indices made
/// absolute by `start`), after checking them.
fn read_predictor(
    p: &Value,
    what: &str,
    n_features: usize,
    start: u32,
    out: &mut Vec<HistNode>,
) -> Result<()> {
    let o = match p {
        Value::Object(o) if o.class.name == "TreePredictor" => o,
        other => {
            return Err(EngineError::unsupported(format!(
                "{what} is {}, not a TreePredictor",
                describe(other)
            )));
        }
    };
    let pa = Attrs::new(o)?;
    let nodes = match pa.get("nodes")? {
        Value::Array(n) if n.dtype.record.is_some() && n.shape.len() == 1 && !n.is_empty() => n,
        other => return Err(pa.err("nodes", "a structured node array", other)),
    };
    let count = nodes.len();
    let value = hist_floats(hist_column(nodes, "value", what)?, "value", what)?;
    let thr = hist_floats(
        hist_column(nodes, "num_threshold", what)?,
        "num_threshold",
        what,
    )?;
    let feature = hist_ints(
        hist_column(nodes, "feature_idx", what)?,
        "feature_idx",
        what,
    )?;
    let left = hist_ints(hist_column(nodes, "left", what)?, "left", what)?;
    let right = hist_ints(hist_column(nodes, "right", what)?, "right", what)?;
    let leaf = hist_ints(hist_column(nodes, "is_leaf", what)?, "is_leaf", what)?;
    let missing = hist_ints(
        hist_column(nodes, "missing_go_to_left", what)?,
        "missing_go_to_left",
        what,
    )?;
    let categorical = match nodes.field("is_categorical") {
        Some(c) => hist_ints(c, "is_categorical", what)?,
        None => vec![0; count],
    };
    for i in 0..count {
        if leaf[i] != 0 {
            if !value[i].is_finite() {
                return Err(EngineError::unsupported(format!(
                    "{what}: leaf {i} has value {}",
                    value[i]
                )));
            }
            out.push(HistNode {
                x: value[i],
                feature: 0,
                left: 0,
                right: 0,
                missing_left: false,
            });
            continue;
        }
        if categorical[i] != 0 {
            return Err(EngineError::unsupported(format!(
                "{what}: node {i} splits on a categorical feature, which Falcon does not reproduce"
            )));
        }
        let child_ok = |c: i64| c > i as i64 && c < count as i64;
        if !child_ok(left[i]) || !child_ok(right[i]) {
            return Err(EngineError::unsupported(format!(
                "{what}: node {i} has children {} and {}: children must come after their parent, below {count}",
                left[i], right[i]
            )));
        }
        let f = usize::try_from(feature[i])
            .ok()
            .filter(|&f| f < n_features)
            .ok_or_else(|| {
                EngineError::unsupported(format!(
                    "{what}: node {i} splits on feature {} of {n_features}",
                    feature[i]
                ))
            })?;
        if thr[i].is_nan() {
            return Err(EngineError::unsupported(format!(
                "{what}: node {i} has a NaN threshold"
            )));
        }
        out.push(HistNode {
            x: thr[i],
            feature: f as u32,
            left: start + left[i] as u32,
            right: start + right[i] as u32,
            missing_left: missing[i] != 0,
        });
    }
    Ok(())
}

impl Estimator for HistGradientBoosting {
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
        true
    }
    fn check_input(&self, sparse: bool) -> Result<()> {
        if sparse {
            return Err(EngineError::unsupported(
                "HistGradientBoostingClassifier receives a sparse matrix, which scikit-learn refuses (it needs dense input: put a TruncatedSVD or another dense step before it)",
            ));
        }
        Ok(())
    }
    fn score(&self, row: &Row) -> Scores {
        let raw = match row {
            Row::Dense(d) if d.values.len() >= self.n_features => self.raw(&d.values),
            other => self.raw(&other.to_dense(self.n_features).values),
        };
        let (label, probabilities) = if self.multinomial {
            (argmax(&raw), softmax(&raw))
        } else {
            let p1 = expit(raw[0]);
            (usize::from(raw[0] > 0.0), vec![1.0 - p1, p1])
        };
        Scores {
            label,
            probabilities: Some(probabilities),
            decision: Some(raw),
        }
    }
    fn describe(&self) -> String {
        format!(
            "HistGradientBoostingClassifier iterations={} classes={} nodes={} features={}",
            self.roots.len() / self.k_per_iter,
            self.classes.len(),
            self.nodes.len(),
            self.n_features
        )
    }
    fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<HistNode>() + self.roots.capacity() * 4
    }
}
