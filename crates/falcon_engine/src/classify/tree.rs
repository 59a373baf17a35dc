//! Decision trees: the pickled `sklearn.tree._tree.Tree` as flat arrays,
//! and `DecisionTreeClassifier` / `ExtraTreeClassifier` on top of it.
//!
//! What scikit-learn does at prediction time (`sklearn/tree/_tree.pyx`,
//! `_apply_dense` and `_apply_sparse_csr`), and this module reproduces:
//!
//! * `X` is converted to **float32** first (`_validate_X_predict`,
//!   `dtype=DTYPE`), and each node compares that float32 value, widened,
//!   with its float64 threshold: `X[i, feature] <= threshold` goes left.
//!   A float64 feature value just above a threshold can round down onto
//!   it, so comparing in float64 would put some texts in another leaf.
//! * On a CSR row, an absent feature reads as `0.0`. On a dense row a NaN
//!   follows `missing_go_to_left` (scikit-learn >= 1.3; older trees have
//!   no such field and send NaN right, as the comparison does); the sparse
//!   path has no NaN test (NaN compares false and goes right).
//! * `tree_.predict` is the leaf's row of `tree_.value`. Since 1.4 a
//!   classifier's `value` holds weighted class *fractions* and
//!   `predict_proba` returns them as they are; before, `value` held
//!   weighted counts and `predict_proba` divided by their sum (a zero sum
//!   by 1). The engine follows the release that fitted the model
//!   (`_sklearn_version`), as it does elsewhere (`crate::release`).
//!   `predict` is the first maximum of the raw leaf values.
//!
//! Layout: one `Vec<Node>` (24 bytes a node) and one `Vec<f64>` of values
//! per tree, never a node per allocation. Children are validated at load:
//! every internal node's children have larger indices than the node
//! itself (scikit-learn's builders add a node before its children, depth-
//! and best-first alike), so a walk from the root takes at most
//! `node_count` steps and cannot cycle, whatever the file says.

use std::cell::RefCell;

use falcon_pickle::{ArrayData, Object, Value};

use super::{Scores, argmax};
use crate::Label;
use crate::attrs::{Attrs, describe};
use crate::error::{EngineError, Result};
use crate::release::Release;
use crate::row::Row;
use crate::sparse::numpy_sum;

/// One node. A leaf has `left == 0` (no child can be node 0, the root).
#[derive(Debug, Clone, Copy)]
struct Node {
    threshold: f64,
    feature: u32,
    left: u32,
    right: u32,
    missing_left: bool,
}

/// A fitted `sklearn.tree._tree.Tree` (classification values).
pub(crate) struct Tree {
    nodes: Vec<Node>,
    /// `value` in C order: `[node][output][class]`, `stride` per node.
    values: Vec<f64>,
    stride: usize,
    /// Classes per output (`n_classes`), and their maximum.
    n_classes: Vec<usize>,
    max_n_classes: usize,
    n_features: usize,
}

/// The `(dtype, values)` of an integer column of the node array.
fn int_column(data: &ArrayData) -> Option<&[i64]> {
    match data {
        ArrayData::I64(v) => Some(v),
        _ => None,
    }
}

impl Tree {
    /// Reads a pickled `Tree`, `what` naming it in errors
    /// (`RandomForestClassifier.estimators_[3].tree_`). A classification
    /// tree's values are class weights (finite, not negative); a
    /// `regression` tree (inside gradient boosting) has one output of one
    /// finite value per node.
    pub(crate) fn from_object(t: &Object, what: &str, regression: bool) -> Result<Tree> {
        let bad = |msg: String| EngineError::unsupported(format!("{what}: {msg}"));
        if t.class.name != "Tree" {
            return Err(bad(format!(
                "expected a sklearn.tree._tree.Tree, found a {}",
                t.class
            )));
        }
        let [Value::Int(n_features), n_classes, Value::Int(n_outputs)] = t.args.as_slice() else {
            return Err(bad(
                "its constructor arguments are not (n_features, n_classes, n_outputs)".into(),
            ));
        };
        let n_features = usize::try_from(*n_features)
            .ok()
            .filter(|&n| n > 0 && n <= u32::MAX as usize)
            .ok_or_else(|| bad(format!("n_features is {n_features}")))?;
        let n_outputs = usize::try_from(*n_outputs)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| bad(format!("n_outputs is {n_outputs}")))?;
        let n_classes: Vec<usize> = match n_classes {
            Value::Array(a) => a.to_i64_vec(),
            _ => None,
        }
        .and_then(|v| {
            v.into_iter()
                .map(|c| usize::try_from(c).ok().filter(|&c| c > 0))
                .collect()
        })
        .ok_or_else(|| bad(format!("n_classes is {}", describe(n_classes))))?;
        if n_classes.len() != n_outputs {
            return Err(bad(format!(
                "n_classes has {} entries for {n_outputs} outputs",
                n_classes.len()
            )));
        }
        if regression && n_classes != [1] {
            return Err(bad(format!(
                "a regression tree with n_classes {n_classes:?} (one output of one value expected)"
            )));
        }
        let max_n_classes = n_classes.iter().copied().max().unwrap_or(1);
        let state = t
            .state
            .as_deref()
            .filter(|s| s.as_dict().is_some())
            .ok_or_else(|| bad("it has no pickled state".into()))?;
        let get = |name: &str| {
            state
                .get(name)
                .ok_or_else(|| bad(format!("its state lacks {name:?}")))
        };
        let nodes = match get("nodes")? {
            Value::Array(a) if a.dtype.record.is_some() && a.shape.len() == 1 => a,
            other => {
                return Err(bad(format!(
                    "nodes is {}, not a structured node array",
                    describe(other)
                )));
            }
        };
        let node_count = nodes.shape[0];
        if node_count == 0 || node_count >= u32::MAX as usize {
            return Err(bad(format!("it has {node_count} nodes")));
        }
        if let Some(c) = get("node_count")?.as_i64()
            && c != node_count as i64
        {
            return Err(bad(format!(
                "node_count is {c} but the node array has {node_count} nodes"
            )));
        }
        let field = |name: &str| {
            nodes
                .field(name)
                .ok_or_else(|| bad(format!("its nodes lack the field {name:?}")))
        };
        let ints = |name: &str| {
            int_column(field(name)?)
                .filter(|v| v.len() == node_count)
                .ok_or_else(|| bad(format!("nodes.{name} is not an integer field")))
        };
        let left = ints("left_child")?;
        let right = ints("right_child")?;
        let feature = ints("feature")?;
        let threshold = match field("threshold")? {
            ArrayData::F64(v) if v.len() == node_count => v,
            _ => return Err(bad("nodes.threshold is not a float64 field".into())),
        };
        // Absent before scikit-learn 1.3: NaN then went right.
        let missing: Option<&[u64]> = match nodes.field("missing_go_to_left") {
            None => None,
            Some(ArrayData::U64(v)) if v.len() == node_count => Some(v),
            Some(_) => return Err(bad("nodes.missing_go_to_left is not a uint8 field".into())),
        };
        let mut out = Vec::with_capacity(node_count);
        for i in 0..node_count {
            let (l, r) = (left[i], right[i]);
            let node = if l == -1 {
                if r != -1 {
                    return Err(bad(format!(
                        "node {i} has no left child but a right child {r}"
                    )));
                }
                Node {
                    threshold: 0.0,
                    feature: 0,
                    left: 0,
                    right: 0,
                    missing_left: false,
                }
            } else {
                let child_ok = |c: i64| c > i as i64 && c < node_count as i64;
                if !child_ok(l) || !child_ok(r) {
                    return Err(bad(format!(
                        "node {i} has children {l} and {r}: children must come after their parent, below {node_count}"
                    )));
                }
                let f = usize::try_from(feature[i])
                    .ok()
                    .filter(|&f| f < n_features)
                    .ok_or_else(|| {
                        bad(format!(
                            "node {i} splits on feature {} of {n_features}",
                            feature[i]
                        ))
                    })?;
                Node {
                    threshold: threshold[i],
                    feature: f as u32,
                    left: l as u32,
                    right: r as u32,
                    missing_left: missing.is_some_and(|m| m[i] != 0),
                }
            };
            out.push(node);
        }
        let values = match get("values")? {
            Value::Array(a) => a,
            other => return Err(bad(format!("values is {}", describe(other)))),
        };
        let stride = n_outputs
            .checked_mul(max_n_classes)
            .ok_or_else(|| bad("values are too large".into()))?;
        if values.shape != [node_count, n_outputs, max_n_classes] {
            return Err(bad(format!(
                "values has shape {:?}, expected [{node_count}, {n_outputs}, {max_n_classes}]",
                values.shape
            )));
        }
        let v = values
            .to_c_order()
            .to_f64_vec()
            .filter(|v| v.len() == node_count * stride)
            .ok_or_else(|| bad(format!("values has dtype {}, not a number", values.dtype)))?;
        if let Some(i) = v
            .iter()
            .position(|x| !x.is_finite() || (*x < 0.0 && !regression))
        {
            return Err(bad(format!(
                "values holds {} at node {}: values must be finite (and class weights not negative)",
                v[i],
                i / stride
            )));
        }
        Ok(Tree {
            nodes: out,
            values: v,
            stride,
            n_classes,
            max_n_classes,
            n_features,
        })
    }

    pub(crate) fn n_features(&self) -> usize {
        self.n_features
    }

    pub(crate) fn n_classes(&self) -> &[usize] {
        &self.n_classes
    }

    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The leaf `x` (the row as float32, `n_features` wide) lands in.
    /// `nan_missing`: a NaN follows `missing_go_to_left` (the dense path);
    /// otherwise it compares false and goes right (the sparse path).
    #[inline]
    pub(crate) fn leaf(&self, x: &[f32], nan_missing: bool) -> usize {
        let mut i = 0usize;
        // Children have larger indices than their parent (checked at
        // load), so this takes at most `node_count` steps.
        loop {
            let n = &self.nodes[i];
            if n.left == 0 {
                return i;
            }
            let v = x[n.feature as usize];
            let go_left = if v.is_nan() && nan_missing {
                n.missing_left
            } else {
                f64::from(v) <= n.threshold
            };
            i = if go_left { n.left } else { n.right } as usize;
        }
    }

    /// The raw `value` row of `node` for `output` (`n_classes[output]`
    /// entries).
    #[inline]
    pub(crate) fn value(&self, node: usize, output: usize) -> &[f64] {
        let at = node * self.stride + output * self.max_n_classes;
        &self.values[at..at + self.n_classes[output]]
    }

    /// Replaces every node's values by what this tree's `predict_proba`
    /// returns for a row landing there (see [`tree_proba`]): a forest sums
    /// those, so it is computed once at load, not per row.
    pub(crate) fn values_to_proba(&mut self, normalize: bool) {
        if !normalize {
            return;
        }
        for node in 0..self.nodes.len() {
            for k in 0..self.n_classes.len() {
                let at = node * self.stride + k * self.max_n_classes;
                let row = &mut self.values[at..at + self.n_classes[k]];
                let p = tree_proba(row, true);
                row.copy_from_slice(&p);
            }
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.values.capacity() * 8
            + self.n_classes.capacity() * 8
    }
}

/// A tree's `predict_proba` for a leaf's value row: the row itself
/// (scikit-learn >= 1.4, fractions), or divided by its sum (before 1.4,
/// counts; `normalizer[normalizer == 0.0] = 1.0`).
pub(crate) fn tree_proba(value: &[f64], normalize: bool) -> Vec<f64> {
    if !normalize {
        return value.to_vec();
    }
    let mut s = numpy_sum(value);
    if s == 0.0 {
        s = 1.0;
    }
    value.iter().map(|v| v / s).collect()
}

/// Whether trees fitted by this release store counts that `predict_proba`
/// normalises (before 1.4) rather than fractions. An unrecorded release
/// is taken as the current one.
pub(crate) fn normalizes(a: &Attrs<'_>) -> bool {
    Release::of(a).is_some_and(|r| r < Release(1, 4, 0))
}

thread_local! {
    /// The current row as float32, `n_features` wide, zero where a sparse
    /// row has no entry (restored to zeros after each use).
    static ROW: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the row converted as scikit-learn converts `X` for a
/// tree (float32, dense view), and whether NaN follows the missing-value
/// direction (dense input) or not (CSR input). A sparse row is scattered
/// into a per-thread zeroed buffer and its entries reset afterwards, so
/// the cost follows the row's non-zeros, not the width.
pub(crate) fn with_f32_row<R>(
    row: &Row,
    n_features: usize,
    f: impl FnOnce(&[f32], bool) -> R,
) -> R {
    match row {
        Row::Dense(d) => {
            let x: Vec<f32> = (0..n_features)
                .map(|j| d.values.get(j).map_or(0.0, |&v| v as f32))
                .collect();
            f(&x, true)
        }
        Row::Sparse(s) => {
            let run = |buf: &mut Vec<f32>| {
                if buf.len() < n_features {
                    buf.resize(n_features, 0.0);
                }
                for (&c, &v) in s.indices.iter().zip(&s.values) {
                    if let Some(slot) = buf.get_mut(c as usize) {
                        *slot = v as f32;
                    }
                }
                let r = f(&buf[..n_features], false);
                for &c in &s.indices {
                    if let Some(slot) = buf.get_mut(c as usize) {
                        *slot = 0.0;
                    }
                }
                r
            };
            ROW.with(|cell| match cell.try_borrow_mut() {
                Ok(mut buf) => {
                    let r = run(&mut buf);
                    // A very wide vocabulary's buffer is not kept per thread.
                    if buf.len() > (1 << 22) {
                        *buf = Vec::new();
                    }
                    r
                }
                Err(_) => run(&mut Vec::new()),
            })
        }
    }
}

/// `DecisionTreeClassifier` and `ExtraTreeClassifier`. With several
/// outputs, `predict` gives one label per output (the first maximum of
/// that output's raw leaf values) and `predict_proba` one row per output.
pub(crate) struct DecisionTree {
    class: String,
    /// `classes_` per output.
    classes: Vec<Vec<Label>>,
    tree: Tree,
    normalize: bool,
}

/// Reads a tree estimator's `tree_`, checked against its `n_features_in_`
/// when recorded.
pub(crate) fn estimator_tree(obj: &Object, what: &str, regression: bool) -> Result<Tree> {
    let a = Attrs::new(obj)?;
    let t = a.object("tree_")?;
    let tree = Tree::from_object(t, &format!("{what}.tree_"), regression)?;
    if let Some(n) = a.opt("n_features_in_").and_then(Value::as_i64)
        && n != tree.n_features as i64
    {
        return Err(EngineError::unsupported(format!(
            "{what}.n_features_in_ is {n} but its tree has {} features",
            tree.n_features
        )));
    }
    Ok(tree)
}

impl DecisionTree {
    pub(crate) fn from_object(obj: &Object) -> Result<DecisionTree> {
        let a = Attrs::new(obj)?;
        let class = a.class.to_string();
        let tree = estimator_tree(obj, &class, false)?;
        let classes = super::forest::output_classes(&a, &class)?;
        let counts: Vec<usize> = classes.iter().map(Vec::len).collect();
        if counts != tree.n_classes {
            return Err(EngineError::unsupported(format!(
                "{class}.classes_ has {counts:?} labels per output but its tree {:?} classes",
                tree.n_classes
            )));
        }
        Ok(DecisionTree {
            normalize: normalizes(&a),
            class,
            classes,
            tree,
        })
    }

    fn leaf(&self, row: &Row) -> usize {
        with_f32_row(row, self.tree.n_features, |x, nan| self.tree.leaf(x, nan))
    }

    fn output(&self, leaf: usize, k: usize) -> Scores {
        let value = self.tree.value(leaf, k);
        Scores {
            label: argmax(value),
            probabilities: Some(tree_proba(value, self.normalize)),
            decision: None,
        }
    }
}

impl super::Estimator for DecisionTree {
    fn classes(&self) -> &[Label] {
        &self.classes[0]
    }
    fn n_features(&self) -> usize {
        self.tree.n_features
    }
    fn has_proba(&self) -> bool {
        true
    }
    fn has_decision(&self) -> bool {
        false
    }
    fn score(&self, row: &Row) -> Scores {
        self.output(self.leaf(row), 0)
    }
    fn describe(&self) -> String {
        format!(
            "{} classes={} outputs={} nodes={} features={}",
            self.class,
            self.classes[0].len(),
            self.classes.len(),
            self.tree.node_count(),
            self.tree.n_features
        )
    }
    fn heap_bytes(&self) -> usize {
        self.tree.heap_bytes()
    }
    fn as_multi(&self) -> Option<&dyn super::MultiEstimator> {
        if self.classes.len() > 1 {
            Some(self)
        } else {
            None
        }
    }
}

impl super::MultiEstimator for DecisionTree {
    fn kind(&self) -> super::OutputKind {
        super::OutputKind::MultiOutput
    }
    fn output_classes(&self) -> Vec<&[Label]> {
        self.classes.iter().map(Vec::as_slice).collect()
    }
    fn score_multi(&self, row: &Row) -> super::MultiScores {
        let leaf = self.leaf(row);
        super::MultiScores::Outputs(
            (0..self.classes.len())
                .map(|k| self.output(leaf, k))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(l: u32, r: u32, f: u32, t: f64) -> Node {
        Node {
            threshold: t,
            feature: f,
            left: l,
            right: r,
            missing_left: true,
        }
    }

    fn stump() -> Tree {
        Tree {
            nodes: vec![node(1, 2, 0, 0.1), node(0, 0, 0, 0.0), node(0, 0, 0, 0.0)],
            values: vec![0.5, 0.5, 1.0, 0.0, 0.0, 1.0],
            stride: 2,
            n_classes: vec![2],
            max_n_classes: 2,
            n_features: 1,
        }
    }

    #[test]
    fn compares_the_float32_value() {
        let t = stump();
        // 0.1 as float32 is 0.100000001490116..., above the float64 0.1:
        // scikit-learn sends it right, a float64 comparison would not.
        assert_eq!(t.leaf(&[0.1f64 as f32], true), 2);
        assert_eq!(t.leaf(&[0.0999], true), 1);
        // NaN: dense follows missing_go_to_left, sparse goes right.
        assert_eq!(t.leaf(&[f32::NAN], true), 1);
        assert_eq!(t.leaf(&[f32::NAN], false), 2);
    }

    #[test]
    fn old_trees_normalise_counts() {
        assert_eq!(tree_proba(&[1.0, 3.0], true), vec![0.25, 0.75]);
        assert_eq!(tree_proba(&[0.0, 0.0], true), vec![0.0, 0.0]);
        assert_eq!(tree_proba(&[0.3, 0.7], false), vec![0.3, 0.7]);
        let mut t = stump();
        t.values = vec![2.0, 2.0, 3.0, 1.0, 0.0, 5.0];
        t.values_to_proba(true);
        assert_eq!(t.value(1, 0), &[0.75, 0.25]);
    }

    #[test]
    fn sparse_rows_scatter_and_reset() {
        let row = Row::Sparse(crate::sparse::SparseRow {
            indices: vec![1, 3],
            values: vec![0.5, 2.0],
            precision: None,
        });
        let seen = with_f32_row(&row, 4, |x, nan| (x.to_vec(), nan));
        assert_eq!(seen, (vec![0.0, 0.5, 0.0, 2.0], false));
        let empty = Row::Sparse(crate::sparse::SparseRow::default());
        assert_eq!(with_f32_row(&empty, 4, |x, _| x.to_vec()), vec![0.0; 4]);
    }
}
