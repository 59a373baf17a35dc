//! Feature selectors (`SelectorMixin`): keep the columns of the fitted
//! support mask, renumbered, in the row's form.
//!
//! The mask is not pickled: scikit-learn recomputes it on every
//! `transform` from the fitted scores (`_get_support_mask`), so each
//! builder here reproduces that class's `_get_support_mask` exactly,
//! ties and NaN scores included, once at load.

use falcon_pickle::{Object, Value};

use super::{Transform, n_features_in, number};
use crate::attrs::Attrs;
use crate::error::{EngineError, Result};
use crate::registry::Ctx;
use crate::row::{DenseRow, Row};
use crate::sparse::{SparseRow, numpy_sum};

/// A fitted selector: input column → output column.
pub(crate) struct Select {
    class: String,
    /// Output column + 1 of each input column; 0 when dropped.
    map: Vec<u32>,
    /// The kept input columns, ascending (`get_support(indices=True)`).
    kept: Vec<u32>,
    detail: String,
}

impl Select {
    fn boxed(class: &str, mask: &[bool], detail: String) -> Result<Box<dyn Transform>> {
        if u32::try_from(mask.len()).is_err() {
            return Err(EngineError::unsupported(format!(
                "{class} has {} features, more than Falcon's 2^32 columns",
                mask.len()
            )));
        }
        let mut map = vec![0u32; mask.len()];
        let mut kept = Vec::new();
        for (i, &m) in mask.iter().enumerate() {
            if m {
                kept.push(i as u32);
                map[i] = kept.len() as u32;
            }
        }
        Ok(Box::new(Select {
            class: class.to_string(),
            map,
            kept,
            detail,
        }))
    }
}

impl Transform for Select {
    fn n_features_in(&self) -> Option<usize> {
        Some(self.map.len())
    }

    fn n_features_out(&self, _n_in: usize) -> usize {
        self.kept.len()
    }

    /// `_safe_indexing(X, mask, axis=1)`: a CSR column subset keeps the
    /// stored values (explicit zeros included) in column order; a dense
    /// row is gathered. With nothing selected scikit-learn returns an
    /// empty dense array.
    fn apply(&self, row: Row) -> Row {
        if self.kept.is_empty() {
            return Row::Dense(DenseRow {
                values: Vec::new(),
                precision: row.precision(),
            });
        }
        match row {
            Row::Sparse(s) => {
                let mut out = SparseRow {
                    indices: Vec::with_capacity(s.indices.len().min(self.kept.len())),
                    values: Vec::with_capacity(s.indices.len().min(self.kept.len())),
                    precision: s.precision,
                };
                for (&c, &v) in s.indices.iter().zip(&s.values) {
                    if let Some(&m) = self.map.get(c as usize)
                        && m != 0
                    {
                        out.indices.push(m - 1);
                        out.values.push(v);
                    }
                }
                Row::Sparse(out)
            }
            Row::Dense(d) => Row::Dense(DenseRow {
                values: self
                    .kept
                    .iter()
                    .map(|&c| d.values.get(c as usize).copied().unwrap_or(0.0))
                    .collect(),
                precision: d.precision,
            }),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} {} ({} of {} features kept)",
            self.class,
            self.detail,
            self.kept.len(),
            self.map.len()
        )
    }

    fn heap_bytes(&self) -> usize {
        (self.map.len() + self.kept.len()) * 4
    }

    fn source_column(&self, col: u32) -> Option<u32> {
        self.kept.get(col as usize).copied()
    }

    fn output_sparse(&self, input_sparse: bool) -> bool {
        input_sparse && !self.kept.is_empty()
    }
}

/// `_clean_nans`: NaN scores become the lowest float64.
fn clean_nans(scores: &[f64]) -> Vec<f64> {
    scores
        .iter()
        .map(|&x| if x.is_nan() { f64::MIN } else { x })
        .collect()
}

/// Reads a float score array (`scores_`, `pvalues_`), refusing float32
/// ones: scikit-learn would then compare and interpolate in float32.
fn scores(a: &Attrs<'_>, name: &str) -> Result<Vec<f64>> {
    let arr = a.array(name)?;
    if !matches!(arr.data, falcon_pickle::ArrayData::F64(_)) {
        return Err(a.err_found(name, "a float64 array", &format!("dtype {}", arr.dtype)));
    }
    Ok(a.vector_unchecked(name)?.into_owned())
}

fn check_width(a: &Attrs<'_>, n: usize, what: &str) -> Result<()> {
    match n_features_in(a)? {
        Some(m) if m != n => Err(EngineError::unsupported(format!(
            "{}: {what} has {n} entries but n_features_in_ is {m}",
            a.class
        ))),
        _ => Ok(()),
    }
}

/// `np.percentile(scores, q)` with the default linear method: the sorted
/// values around the virtual index `(n - 1) * q / 100`, combined by
/// numpy's `_lerp`.
pub(crate) fn np_percentile(scores: &[f64], q: f64) -> f64 {
    let n = scores.len();
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q = q / 100.0;
    let virtual_index = (n as f64 - 1.0) * q;
    let (mut prev, mut next) = (virtual_index.floor(), virtual_index.floor() + 1.0);
    let last = n as f64 - 1.0;
    if virtual_index >= last {
        prev = -1.0;
        next = -1.0;
    }
    if virtual_index < 0.0 {
        prev = 0.0;
        next = 0.0;
    }
    let at = |i: f64| {
        if i < 0.0 {
            sorted[n - 1]
        } else {
            sorted[i as usize]
        }
    };
    let gamma = virtual_index - prev;
    let (a, b) = (at(prev), at(next));
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// `SelectPercentile._get_support_mask`.
fn percentile_mask(scores_: &[f64], percentile: f64) -> Vec<bool> {
    let n = scores_.len();
    if percentile == 100.0 {
        return vec![true; n];
    }
    if percentile == 0.0 || n == 0 {
        return vec![false; n];
    }
    let s = clean_nans(scores_);
    let threshold = np_percentile(&s, 100.0 - percentile);
    let mut mask: Vec<bool> = s.iter().map(|&x| x > threshold).collect();
    let ties: Vec<usize> = (0..n).filter(|&i| s[i] == threshold).collect();
    if !ties.is_empty() {
        let max_feats = (n as f64 * percentile / 100.0) as i64;
        let selected = mask.iter().filter(|&&m| m).count() as i64;
        // `ties[: max_feats - mask.sum()]`: a negative stop counts from
        // the end, as a Python slice does.
        let stop = max_feats - selected;
        let stop = if stop < 0 {
            (ties.len() as i64 + stop).max(0)
        } else {
            stop.min(ties.len() as i64)
        } as usize;
        for &i in &ties[..stop] {
            mask[i] = true;
        }
    }
    mask
}

/// `SelectKBest._get_support_mask`: the last `k` of a stable ascending
/// sort, so among equal scores the later columns are kept.
fn k_best_mask(scores_: &[f64], k: Option<usize>) -> Vec<bool> {
    let n = scores_.len();
    let Some(k) = k else {
        return vec![true; n];
    };
    let mut mask = vec![false; n];
    if k == 0 {
        return mask;
    }
    let s = clean_nans(scores_);
    let mut order: Vec<usize> = (0..n).collect();
    // No NaN is left; -0.0 and 0.0 compare equal, as in numpy.
    order.sort_by(|&x, &y| s[x].partial_cmp(&s[y]).unwrap_or(std::cmp::Ordering::Equal));
    for &i in &order[n.saturating_sub(k)..] {
        mask[i] = true;
    }
    mask
}

fn fpr_mask(p: &[f64], alpha: f64) -> Vec<bool> {
    p.iter().map(|&x| x < alpha).collect()
}

fn fwe_mask(p: &[f64], alpha: f64) -> Vec<bool> {
    let t = alpha / p.len() as f64;
    p.iter().map(|&x| x < t).collect()
}

/// `SelectFdr._get_support_mask` (Benjamini-Hochberg).
fn fdr_mask(p: &[f64], alpha: f64) -> Vec<bool> {
    let n = p.len();
    let mut sv = p.to_vec();
    // np.sort puts NaN last; NaN never passes `<=`.
    sv.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let step = alpha / n as f64;
    let mut best: Option<f64> = None;
    for (i, &v) in sv.iter().enumerate() {
        if v <= step * (i + 1) as f64 {
            best = Some(best.map_or(v, |b: f64| b.max(v)));
        }
    }
    match best {
        None => vec![false; n],
        Some(m) => p.iter().map(|&x| x <= m).collect(),
    }
}

/// `k`: an integer or `"all"` (`None`).
fn k_param(a: &Attrs<'_>, name: &str) -> Result<Option<usize>> {
    match a.get(name)? {
        Value::Str(s) if s == "all" => Ok(None),
        Value::Int(i) if *i >= 0 => Ok(Some(*i as usize)),
        v => Err(a.err(name, "a non-negative integer or \"all\"", v)),
    }
}

fn finite_param(a: &Attrs<'_>, name: &str) -> Result<f64> {
    let x = number(a, name)?;
    if !x.is_finite() {
        return Err(a.err(name, "a finite number", &Value::Float(x)));
    }
    Ok(x)
}

fn percentile_param(a: &Attrs<'_>, name: &str) -> Result<f64> {
    let p = finite_param(a, name)?;
    if !(0.0..=100.0).contains(&p) {
        return Err(a.err(name, "a percentile in [0, 100]", &Value::Float(p)));
    }
    Ok(p)
}

/// `VarianceThreshold`: `variances_ > threshold` (a NaN variance fails).
pub(crate) fn variance_threshold(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let v = a.vector_unchecked("variances_")?;
    check_width(&a, v.len(), "variances_")?;
    let t = finite_param(&a, "threshold")?;
    let mask: Vec<bool> = v.iter().map(|&x| x > t).collect();
    Select::boxed(a.class, &mask, format!("threshold={t}"))
}

pub(crate) fn select_k_best(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let s = scores(&a, "scores_")?;
    check_width(&a, s.len(), "scores_")?;
    let k = k_param(&a, "k")?;
    let detail = format!("k={}", k.map_or("all".to_string(), |k| k.to_string()));
    Select::boxed(a.class, &k_best_mask(&s, k), detail)
}

pub(crate) fn select_percentile(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let s = scores(&a, "scores_")?;
    check_width(&a, s.len(), "scores_")?;
    let p = percentile_param(&a, "percentile")?;
    Select::boxed(a.class, &percentile_mask(&s, p), format!("percentile={p}"))
}

fn pvalues(a: &Attrs<'_>) -> Result<Vec<f64>> {
    if matches!(a.opt("pvalues_"), Some(Value::None)) {
        return Err(EngineError::unsupported(format!(
            "{}.pvalues_ is None: its score function gives no p-values (mutual_info_classif?), so the fpr/fdr/fwe modes cannot select",
            a.class
        )));
    }
    let p = scores(a, "pvalues_")?;
    check_width(a, p.len(), "pvalues_")?;
    Ok(p)
}

pub(crate) fn select_fpr(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let alpha = finite_param(&a, "alpha")?;
    Select::boxed(
        a.class,
        &fpr_mask(&pvalues(&a)?, alpha),
        format!("alpha={alpha}"),
    )
}

pub(crate) fn select_fdr(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let alpha = finite_param(&a, "alpha")?;
    Select::boxed(
        a.class,
        &fdr_mask(&pvalues(&a)?, alpha),
        format!("alpha={alpha}"),
    )
}

pub(crate) fn select_fwe(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let alpha = finite_param(&a, "alpha")?;
    Select::boxed(
        a.class,
        &fwe_mask(&pvalues(&a)?, alpha),
        format!("alpha={alpha}"),
    )
}

/// `GenericUnivariateSelect`: the selector of `mode` with `param`.
pub(crate) fn generic_univariate_select(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let mode = a.str("mode")?;
    let detail = |p: &dyn std::fmt::Display| format!("mode={mode} param={p}");
    let (mask, detail) = match mode {
        "percentile" => {
            let s = scores(&a, "scores_")?;
            check_width(&a, s.len(), "scores_")?;
            let p = percentile_param(&a, "param")?;
            (percentile_mask(&s, p), detail(&p))
        }
        "k_best" => {
            let s = scores(&a, "scores_")?;
            check_width(&a, s.len(), "scores_")?;
            let k = k_param(&a, "param")?;
            let shown = k.map_or("all".to_string(), |k| k.to_string());
            (k_best_mask(&s, k), detail(&shown))
        }
        "fpr" | "fdr" | "fwe" => {
            let p = pvalues(&a)?;
            let alpha = finite_param(&a, "param")?;
            let mask = match mode {
                "fpr" => fpr_mask(&p, alpha),
                "fdr" => fdr_mask(&p, alpha),
                _ => fwe_mask(&p, alpha),
            };
            (mask, detail(&alpha))
        }
        other => {
            return Err(a.err(
                "mode",
                "\"percentile\", \"k_best\", \"fpr\", \"fdr\" or \"fwe\"",
                &Value::Str(other.to_string()),
            ));
        }
    };
    Select::boxed(a.class, &mask, detail)
}

/// `SelectFromModel._get_support_mask`: importances from the fitted
/// estimator's `coef_` (norm over classes) or `feature_importances_`, the
/// threshold from `_calculate_threshold`, and `max_features`.
pub(crate) fn select_from_model(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    let a = Attrs::new(obj)?;
    let est = match a.opt("estimator_") {
        Some(_) => a.object("estimator_")?,
        None => a.object("estimator")?,
    };
    let e = Attrs::new(est)?;
    let getter = match a.opt("importance_getter") {
        None => "auto",
        Some(Value::Str(s)) => s.as_str(),
        Some(v) => {
            return Err(a.err(
                "importance_getter",
                "\"auto\", \"coef_\" or \"feature_importances_\"",
                v,
            ));
        }
    };
    let attr = match getter {
        "auto" if e.opt("coef_").is_some() => "coef_",
        "auto" if e.opt("feature_importances_").is_some() => "feature_importances_",
        "coef_" | "feature_importances_" => getter,
        "auto" => {
            return Err(EngineError::unsupported(format!(
                "SelectFromModel: its estimator {} has neither coef_ nor feature_importances_",
                est.class
            )));
        }
        other => {
            return Err(EngineError::unsupported(format!(
                "SelectFromModel.importance_getter={other:?} is not supported (only \"auto\", \"coef_\", \"feature_importances_\")"
            )));
        }
    };
    let (w, rows, cols) = e.matrix(attr)?;
    e.check_finite(attr, &w, cols)?;
    let one_d = e.array(attr)?.shape.len() == 1;
    let norm_order = match a.opt("norm_order") {
        None => 1.0,
        Some(_) => number(&a, "norm_order")?,
    };
    // `np.linalg.norm(coef_, axis=0, ord=norm_order)`: a reduction over
    // the rows, one row after the other.
    let importances: Vec<f64> = if one_d || rows == 1 {
        w.iter().map(|x| x.abs()).collect()
    } else if norm_order == 1.0 {
        (0..cols)
            .map(|c| (1..rows).fold(w[c].abs(), |s, r| s + w[r * cols + c].abs()))
            .collect()
    } else if norm_order == 2.0 {
        (0..cols)
            .map(|c| {
                (1..rows)
                    .fold(w[c] * w[c], |s, r| s + w[r * cols + c] * w[r * cols + c])
                    .sqrt()
            })
            .collect()
    } else if norm_order == f64::INFINITY {
        (0..cols)
            .map(|c| {
                (0..rows)
                    .map(|r| w[r * cols + c].abs())
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect()
    } else {
        return Err(EngineError::unsupported(format!(
            "SelectFromModel.norm_order={norm_order} is not supported (1, 2 or inf)"
        )));
    };
    check_width(&a, importances.len(), &format!("{}.{attr}", est.class))?;
    let threshold = threshold(&a, &e, &importances)?;
    let max_features = match a.opt("max_features_").or_else(|| a.opt("max_features")) {
        None | Some(Value::None) => None,
        Some(Value::Int(i)) if *i >= 0 => Some(*i as usize),
        Some(v) => return Err(a.err("max_features", "a non-negative integer or None", v)),
    };
    let n = importances.len();
    let mut mask = match max_features {
        None => vec![true; n],
        Some(m) => {
            // np.argsort(-scores, kind="mergesort")[:max_features]
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&x, &y| {
                (-importances[x])
                    .partial_cmp(&-importances[y])
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let mut mask = vec![false; n];
            for &i in order.iter().take(m) {
                mask[i] = true;
            }
            mask
        }
    };
    for (m, &s) in mask.iter_mut().zip(&importances) {
        if s < threshold {
            *m = false;
        }
    }
    let detail = format!(
        "estimator={} threshold={threshold}{}",
        est.class.name,
        max_features
            .map(|m| format!(" max_features={m}"))
            .unwrap_or_default()
    );
    Select::boxed(a.class, &mask, detail)
}

/// `_calculate_threshold`.
fn threshold(a: &Attrs<'_>, e: &Attrs<'_>, importances: &[f64]) -> Result<f64> {
    let spec = match a.opt("threshold") {
        None | Some(Value::None) => {
            let l1 = matches!(e.opt("penalty"), Some(Value::Str(p)) if p == "l1");
            if l1 || e.class.contains("Lasso") {
                return Ok(1e-5);
            }
            "mean".to_string()
        }
        Some(Value::Str(s)) => s.clone(),
        Some(_) => return number(a, "threshold"),
    };
    let mean = || numpy_sum(importances) / importances.len() as f64;
    let median = || {
        if importances.iter().any(|x| x.is_nan()) {
            return f64::NAN;
        }
        let mut s = importances.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        }
    };
    let reference = |r: &str| match r {
        "mean" => Ok(mean()),
        "median" => Ok(median()),
        _ => Err(EngineError::unsupported(format!(
            "SelectFromModel.threshold={spec:?}: unknown reference {r:?}"
        ))),
    };
    if let Some((scale, r)) = spec.split_once('*') {
        let scale: f64 = scale.trim().parse().map_err(|_| {
            EngineError::unsupported(format!("SelectFromModel.threshold={spec:?}: bad scale"))
        })?;
        return Ok(scale * reference(r.trim())?);
    }
    reference(spec.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_best_keeps_the_later_of_tied_scores() {
        let m = k_best_mask(&[1.0, 3.0, 2.0, 3.0, f64::NAN], Some(1));
        assert_eq!(m, [false, false, false, true, false]);
        let m = k_best_mask(&[2.0, 2.0, 2.0], Some(2));
        assert_eq!(m, [false, true, true]);
        assert_eq!(k_best_mask(&[1.0, f64::NAN], Some(1)), [true, false]);
        assert_eq!(k_best_mask(&[1.0, 2.0], None), [true, true]);
    }

    #[test]
    fn percentile_matches_numpy() {
        // np.percentile([1, 2, 3, 4], 95) == 3.8499999999999996
        assert_eq!(
            np_percentile(&[4.0, 1.0, 3.0, 2.0], 95.0),
            3.8499999999999996
        );
        assert_eq!(np_percentile(&[1.0, 2.0, 3.0], 100.0), 3.0);
        assert_eq!(np_percentile(&[1.0, 2.0, 3.0], 50.0), 2.0);
        // np.percentile([0, 1], 30) == 0.3
        assert_eq!(np_percentile(&[0.0, 1.0], 30.0), 0.3);
    }

    #[test]
    fn percentile_mask_breaks_ties_by_position() {
        // threshold = percentile(s, 50) = 1.0: one strictly above, one
        // more allowed (int(4 * 50 / 100) = 2), taken from the first tie.
        let m = percentile_mask(&[1.0, 1.0, 2.0, 1.0], 50.0);
        assert_eq!(m, [true, false, true, false]);
        assert_eq!(percentile_mask(&[1.0, 2.0], 0.0), [false, false]);
        assert_eq!(percentile_mask(&[1.0, f64::NAN], 100.0), [true, true]);
    }

    #[test]
    fn fdr_is_benjamini_hochberg() {
        // alpha / n * [1, 2, 3] = [0.01, 0.02, 0.03]; sorted p = [0.005,
        // 0.025, 0.5]: 0.005 passes, so keep p <= 0.005.
        assert_eq!(fdr_mask(&[0.5, 0.005, 0.025], 0.03), [false, true, false]);
        assert_eq!(fdr_mask(&[0.5, 0.6], 0.03), [false, false]);
        assert_eq!(fpr_mask(&[0.01, f64::NAN, 0.2], 0.05), [true, false, false]);
        assert_eq!(fwe_mask(&[0.01, 0.03], 0.05), [true, false]);
    }

    #[test]
    fn select_keeps_form_and_renumbers() {
        let t = Select::boxed("X", &[false, true, false, true], String::new()).unwrap();
        let row = Row::Sparse(SparseRow {
            indices: vec![0, 1, 3],
            values: vec![5.0, 6.0, 7.0],
            precision: None,
        });
        let Row::Sparse(s) = t.apply(row) else {
            panic!("sparse in, sparse out")
        };
        assert_eq!((s.indices, s.values), (vec![0, 1], vec![6.0, 7.0]));
        let d = Row::Dense(DenseRow {
            values: vec![1.0, 2.0, 3.0, 4.0],
            precision: crate::sparse::Precision::F64,
        });
        let Row::Dense(d) = t.apply(d) else {
            panic!("dense in, dense out")
        };
        assert_eq!(d.values, vec![2.0, 4.0]);
        assert_eq!((t.source_column(1), t.source_column(2)), (Some(3), None));
    }
}
