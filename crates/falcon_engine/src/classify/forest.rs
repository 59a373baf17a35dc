//! `RandomForestClassifier` and `ExtraTreesClassifier`
//! (`sklearn/ensemble/_forest.py`, `ForestClassifier`).
//!
//! `predict_proba` starts from zeros and adds each tree's `predict_proba`
//! in `estimators_` order (`_accumulate_prediction`: `out += prediction`),
//! then divides by the number of trees (`proba /= len(estimators_)`).
//! With the default `n_jobs=None` scikit-learn runs that loop in order;
//! with several jobs its threads add under a lock in whatever order they
//! finish, so scikit-learn itself is not reproducible to the last bit and
//! the engine keeps the sequential order. `predict` is the first maximum
//! of that mean (per output for a multi-output forest). `class_weight`
//! only changed the fit.
//!
//! Each tree's own `predict_proba` row depends only on its leaf, so it is
//! computed once per leaf at load ([`Tree::values_to_proba`]); a row then
//! costs one walk per tree over the float32 row (see `tree.rs`) and one
//! addition per class and tree.

use falcon_pickle::{Object, Value};

use super::tree::{Tree, estimator_tree, normalizes, with_f32_row};
use super::{Estimator, MultiEstimator, MultiScores, OutputKind, Scores, argmax};
use crate::Label;
use crate::attrs::{Attrs, describe, labels_from};
use crate::error::{EngineError, Result};
use crate::row::Row;

pub(crate) struct Forest {
    class: String,
    /// `classes_` per output.
    classes: Vec<Vec<Label>>,
    trees: Vec<Tree>,
    n_features: usize,
}

/// The registry builder.
pub(crate) fn forest(obj: &Object, _ctx: &crate::registry::Ctx) -> Result<super::Classifier> {
    Ok(Box::new(Forest::from_object(obj)?))
}

/// Label kinds that numpy's `np.empty(..., dtype=classes_[0].dtype)`
/// would convert, for refusing mixed multi-output labels.
fn kind_of(l: &Label) -> u8 {
    match l {
        Label::Str(_) => 0,
        Label::Int(_) => 1,
        Label::Bool(_) => 2,
        Label::Float(_) => 3,
    }
}

impl Forest {
    pub(crate) fn from_object(obj: &Object) -> Result<Forest> {
        let a = Attrs::new(obj)?;
        let class = a.class.to_string();
        let classes = output_classes(&a, &class)?;
        let items = match a.get("estimators_")? {
            Value::List(l) if !l.is_empty() => l,
            other => return Err(a.err("estimators_", "a non-empty list of fitted trees", other)),
        };
        let normalize = normalizes(&a);
        let mut trees = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let what = format!("{class}.estimators_[{i}]");
            let o = match item {
                Value::Object(o)
                    if matches!(
                        o.class.name.as_str(),
                        "DecisionTreeClassifier" | "ExtraTreeClassifier"
                    ) =>
                {
                    o
                }
                other => {
                    return Err(EngineError::unsupported(format!(
                        "{what} is {}, not a fitted tree classifier",
                        describe(other)
                    )));
                }
            };
            let mut tree = estimator_tree(o, &what, false)?;
            let expected: Vec<usize> = classes.iter().map(Vec::len).collect();
            if tree.n_classes() != expected.as_slice() {
                return Err(EngineError::unsupported(format!(
                    "{what} has classes {:?} per output, the forest {expected:?}",
                    tree.n_classes()
                )));
            }
            if let Some(first) = trees.first().map(Tree::n_features)
                && first != tree.n_features()
            {
                return Err(EngineError::unsupported(format!(
                    "{what} was fitted on {} features, estimators_[0] on {first}",
                    tree.n_features()
                )));
            }
            tree.values_to_proba(normalize);
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
        Ok(Forest {
            class,
            classes,
            trees,
            n_features,
        })
    }

    /// The mean of the trees' `predict_proba` per output, summed in
    /// `estimators_` order.
    fn proba(&self, row: &Row) -> Vec<Vec<f64>> {
        let mut acc: Vec<Vec<f64>> = self.classes.iter().map(|c| vec![0.0; c.len()]).collect();
        with_f32_row(row, self.n_features, |x, nan| {
            for t in &self.trees {
                let leaf = t.leaf(x, nan);
                for (k, out) in acc.iter_mut().enumerate() {
                    for (o, v) in out.iter_mut().zip(t.value(leaf, k)) {
                        *o += v;
                    }
                }
            }
        });
        let n = self.trees.len() as f64;
        for out in &mut acc {
            for o in out.iter_mut() {
                *o /= n;
            }
        }
        acc
    }
}

/// `classes_` per output: one array, or (`n_outputs_ > 1`) a list of
/// arrays whose labels [`check_multi_labels`] accepts.
pub(crate) fn output_classes(a: &Attrs<'_>, class: &str) -> Result<Vec<Vec<Label>>> {
    let n_outputs = a.opt("n_outputs_").and_then(Value::as_i64).unwrap_or(1);
    if n_outputs == 1 {
        return Ok(vec![labels_from(
            a,
            "classes_",
            a.array("classes_")?,
            class,
        )?]);
    }
    let list = match a.get("classes_")? {
        Value::List(l) if l.len() as i64 == n_outputs => l,
        other => {
            return Err(a.err("classes_", &format!("a list of {n_outputs} arrays"), other));
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (k, v) in list.iter().enumerate() {
        let name = format!("classes_[{k}]");
        let arr = v.as_array().ok_or_else(|| a.err(&name, "an array", v))?;
        out.push(labels_from(a, &name, arr, class)?);
    }
    check_multi_labels(class, list, &out)?;
    Ok(out)
}

/// A multi-output tree's or forest's `predict` fills `np.empty(..., dtype=
/// classes_[0].dtype)`: labels of another type than the first output's
/// would be converted, and a string label longer than the first output's
/// `U` width truncated. Both are refused rather than reproduced.
fn check_multi_labels(class: &str, arrays: &[Value], out: &[Vec<Label>]) -> Result<()> {
    let first_kind = kind_of(&out[0][0]);
    if out.iter().flatten().any(|l| kind_of(l) != first_kind) {
        return Err(EngineError::unsupported(format!(
            "{class}'s outputs have labels of different types: scikit-learn's predict converts them all to the first output's dtype, which Falcon does not reproduce"
        )));
    }
    if let Some(first) = arrays[0].as_array()
        && first.dtype.kind == 'U'
    {
        let width = first.dtype.itemsize / 4;
        if let Some(l) = out
            .iter()
            .flatten()
            .find(|l| l.to_string().chars().count() > width)
        {
            return Err(EngineError::unsupported(format!(
                "{class}: the label {:?} is longer than the first output's labels ({width} characters): scikit-learn's predict would truncate it, which Falcon does not reproduce",
                l.to_string()
            )));
        }
    }
    Ok(())
}

impl Estimator for Forest {
    fn classes(&self) -> &[Label] {
        &self.classes[0]
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
    /// The first output's answer (the model asks [`Estimator::as_multi`]
    /// first for a multi-output forest).
    fn score(&self, row: &Row) -> Scores {
        let p = self.proba(row).swap_remove(0);
        Scores {
            label: argmax(&p),
            probabilities: Some(p),
            decision: None,
        }
    }
    fn describe(&self) -> String {
        let nodes: usize = self.trees.iter().map(Tree::node_count).sum();
        format!(
            "{} trees={} nodes={} classes={} outputs={} features={}",
            self.class,
            self.trees.len(),
            nodes,
            self.classes[0].len(),
            self.classes.len(),
            self.n_features
        )
    }
    fn heap_bytes(&self) -> usize {
        self.trees.iter().map(Tree::heap_bytes).sum::<usize>()
            + self.trees.capacity() * std::mem::size_of::<Tree>()
    }
    fn as_multi(&self) -> Option<&dyn MultiEstimator> {
        if self.classes.len() > 1 {
            Some(self)
        } else {
            None
        }
    }
}

impl MultiEstimator for Forest {
    fn kind(&self) -> OutputKind {
        OutputKind::MultiOutput
    }
    fn output_classes(&self) -> Vec<&[Label]> {
        self.classes.iter().map(Vec::as_slice).collect()
    }
    fn score_multi(&self, row: &Row) -> MultiScores {
        MultiScores::Outputs(
            self.proba(row)
                .into_iter()
                .map(|p| Scores {
                    label: argmax(&p),
                    probabilities: Some(p),
                    decision: None,
                })
                .collect(),
        )
    }
}
