//! Hostile and edge-case kernel SVMs: malformed fitted arrays are refused
//! at load with an error naming the estimator and attribute, never a
//! panic or an out-of-bounds read; and the shapes of the answer.
//!
//! Each model is a real `SVC`/`NuSVC` seed (`fuzz/seeds/model/`, made by
//! `tests/fixtures/hostile/gen_hostile_fixtures.py`) unpickled and mutated.

use std::path::Path;

use falcon_engine::{EngineError, Model};
use falcon_pickle::{ArrayData, Object, Value};

/// A seed's unpickled tree and its file size.
fn seed(name: &str) -> (Value, usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds/model")
        .join(name);
    let bytes = std::fs::read(path).expect("seed");
    let v = falcon_pickle::load(&bytes, &falcon_engine::sklearn_policy()).expect("unpickles");
    (v, bytes.len())
}

fn find<'a>(v: &'a mut Value, class: &str) -> Option<&'a mut Object> {
    match v {
        Value::Object(o) => {
            if o.class.name == class {
                return Some(o);
            }
            o.state.as_deref_mut().and_then(|s| find(s, class))
        }
        Value::List(items) | Value::Tuple(items) => items.iter_mut().find_map(|i| find(i, class)),
        Value::Dict(d) => d.iter_mut().find_map(|(_, x)| find(x, class)),
        _ => None,
    }
}

fn field<'a>(o: &'a mut Object, name: &str) -> &'a mut Value {
    let Some(Value::Dict(d)) = o.state.as_deref_mut() else {
        panic!("{} has no state dict", o.class)
    };
    d.iter_mut()
        .find(|(k, _)| matches!(k, Value::Str(s) if s == name))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{name} missing"))
}

/// Attribute `name` of the first `class` estimator.
fn attr<'a>(v: &'a mut Value, class: &str, name: &str) -> &'a mut Value {
    field(find(v, class).expect("estimator in the tree"), name)
}

/// Attribute `name` of the CSR matrix held in `class.matrix`.
fn csr_attr<'a>(v: &'a mut Value, class: &str, matrix: &str, name: &str) -> &'a mut ArrayData {
    let Value::Object(m) = attr(v, class, matrix) else {
        panic!("{matrix} is not an object")
    };
    match field(m, name) {
        Value::Array(a) => &mut a.data,
        other => panic!("{name} is not an array: {other:?}"),
    }
}

#[track_caller]
fn refused(v: Value, file_bytes: usize, needles: &[&str]) {
    let err = match Model::from_value(v, file_bytes) {
        Ok(_) => panic!("loaded; expected an error containing {needles:?}"),
        Err(e) => e.to_string(),
    };
    for n in needles {
        assert!(err.contains(n), "error {err:?} lacks {n:?}");
    }
}

const SPARSE: &str = "tiny_tfidf_svc_rbf_prob.pkl";
const DENSE: &str = "tiny_svd_nusvc_poly_ovo.pkl";

#[test]
fn seeds_load_and_answer_every_output() {
    let (v, n) = seed(SPARSE);
    let m = Model::from_value(v, n).expect("loads");
    assert!(!m.decision_per_pair());
    let p = m.predict("free money now").expect("predicts");
    assert_eq!(p.probabilities.as_ref().map(Vec::len), Some(3));
    assert_eq!(p.decision.as_ref().map(Vec::len), Some(3));
    assert!(matches!(
        m.explain("free money", 3),
        Err(EngineError::ExplainUnsupported(_))
    ));
}

/// `decision_function_shape="ovo"`: one value per pair of classes, keyed
/// by the pair in libsvm's order, not by class.
#[test]
fn ovo_decision_is_keyed_by_pair() {
    let (v, n) = seed(DENSE);
    let m = Model::from_value(v, n).expect("loads");
    assert!(m.decision_per_pair());
    let p = m.predict("team won the cup").expect("predicts");
    let json = serde_json::to_value(m.view(&p)).expect("serialises");
    let keys: Vec<&String> = json["decision"]
        .as_object()
        .expect("a map")
        .keys()
        .collect();
    assert_eq!(
        keys,
        ["spam vs sport", "spam vs work", "sport vs work"],
        "{json}"
    );
}

#[test]
fn out_of_range_support_vector_column_is_refused() {
    let (mut v, n) = seed(SPARSE);
    if let ArrayData::I64(ix) = csr_attr(&mut v, "SVC", "support_vectors_", "indices") {
        ix[0] = 1_000_000;
    } else {
        panic!("indices not integers")
    }
    refused(v, n, &["SVC.support_vectors_", "column 1000000", "outside"]);
}

#[test]
fn unsorted_support_vector_columns_are_refused() {
    let (mut v, n) = seed(SPARSE);
    if let ArrayData::I64(ix) = csr_attr(&mut v, "SVC", "support_vectors_", "indices") {
        ix.swap(0, 1);
    }
    refused(v, n, &["SVC.support_vectors_", "not strictly increasing"]);
}

#[test]
fn non_monotone_indptr_is_refused() {
    let (mut v, n) = seed(SPARSE);
    if let ArrayData::I64(p) = csr_attr(&mut v, "SVC", "support_vectors_", "indptr") {
        p[1] = 1_000;
    }
    refused(v, n, &["SVC.support_vectors_", "indptr"]);
}

#[test]
fn support_counts_that_disagree_are_refused() {
    let (mut v, n) = seed(SPARSE);
    match attr(&mut v, "SVC", "_n_support") {
        Value::Array(a) => match &mut a.data {
            ArrayData::I64(c) => c[0] += 1,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    refused(v, n, &["SVC.", "support vectors"]);
}

#[test]
fn non_finite_dual_coefficients_are_refused() {
    let (mut v, n) = seed(SPARSE);
    if let ArrayData::F64(d) = csr_attr(&mut v, "SVC", "_dual_coef_", "data") {
        d[2] = f64::NAN;
    }
    refused(v, n, &["SVC._dual_coef_ contains NaN"]);
    let (mut v, n) = seed(DENSE);
    match attr(&mut v, "NuSVC", "_intercept_") {
        Value::Array(a) => match &mut a.data {
            ArrayData::F64(d) => d[0] = f64::INFINITY,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    refused(v, n, &["NuSVC._intercept_ contains inf"]);
}

#[test]
fn unreproducible_kernels_and_regressors_are_refused() {
    let (mut v, n) = seed(SPARSE);
    *attr(&mut v, "SVC", "kernel") = Value::Str("precomputed".into());
    refused(v, n, &["SVC.kernel is \"precomputed\""]);
    let (mut v, n) = seed(SPARSE);
    *attr(&mut v, "SVC", "kernel") = Value::Str("chi2".into());
    refused(v, n, &["SVC.kernel is \"chi2\""]);
    // `_impl` is a class attribute (not pickled); a state that carries a
    // regressor's is refused all the same.
    let (mut v, n) = seed(SPARSE);
    let svc = find(&mut v, "SVC").expect("an SVC");
    let Some(Value::Dict(d)) = svc.state.as_deref_mut() else {
        panic!("no state")
    };
    d.push((Value::Str("_impl".into()), Value::Str("epsilon_svr".into())));
    refused(v, n, &["SVC._impl", "epsilon_svr"]);
}

#[test]
fn break_ties_with_ovo_is_refused_as_scikit_learn_raises() {
    let (mut v, n) = seed(DENSE);
    *attr(&mut v, "NuSVC", "break_ties") = Value::Bool(true);
    refused(v, n, &["break_ties=True", "ovo"]);
}

/// A dense-fitted SVM fed the vectorizer's sparse rows directly:
/// scikit-learn raises, so the model is refused.
#[test]
fn dense_svm_after_a_sparse_step_is_refused() {
    let (mut v, n) = seed(DENSE);
    let pipeline = find(&mut v, "Pipeline").expect("a pipeline");
    let Value::List(steps) = field(pipeline, "steps") else {
        panic!("steps is not a list")
    };
    steps.remove(1);
    refused(v, n, &["NuSVC was fitted on a dense matrix"]);
}
