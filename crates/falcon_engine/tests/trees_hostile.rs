//! Hostile tree models: a real fixture's unpickled tree, mutated, must be
//! refused at load with an error naming the problem (never a panic, an
//! endless walk or an out-of-range read at predict time).

use std::path::Path;

use falcon_engine::{EngineError, Model};
use falcon_pickle::{ArrayData, Object, Value};

fn tree(name: &str) -> (Value, usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pipelines")
        .join(name);
    let bytes = std::fs::read(path).expect("fixture");
    let v = falcon_pickle::load(&bytes, &falcon_engine::sklearn_policy()).expect("unpickles");
    (v, bytes.len())
}

/// The first object of class `class`, depth first (through object
/// arguments, states, lists, dicts and object arrays).
fn find<'a>(v: &'a mut Value, class: &str) -> Option<&'a mut Object> {
    match v {
        Value::Object(o) => {
            if o.class.name == class {
                return Some(o);
            }
            if let Some(found) = o.args.iter_mut().find_map(|a| find(a, class)) {
                return Some(found);
            }
            o.state.as_deref_mut().and_then(|s| find(s, class))
        }
        Value::List(items) | Value::Tuple(items) => items.iter_mut().find_map(|i| find(i, class)),
        Value::Dict(d) => d.iter_mut().find_map(|(_, x)| find(x, class)),
        Value::Array(a) => match &mut a.data {
            ArrayData::Object(items) => items.iter_mut().find_map(|i| find(i, class)),
            _ => None,
        },
        _ => None,
    }
}

fn state_item<'a>(o: &'a mut Object, name: &str) -> &'a mut Value {
    let Some(Value::Dict(d)) = o.state.as_deref_mut() else {
        panic!("no state dict")
    };
    d.iter_mut()
        .find(|(k, _)| matches!(k, Value::Str(s) if s == name))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{name} missing"))
}

/// The column `field` of the first `class` object's structured `nodes`.
fn column<'a>(v: &'a mut Value, class: &str, field: &str) -> &'a mut ArrayData {
    let o = find(v, class).unwrap_or_else(|| panic!("no {class}"));
    let Value::Array(a) = state_item(o, "nodes") else {
        panic!("nodes is not an array")
    };
    let ArrayData::Record(cols) = &mut a.data else {
        panic!("nodes is not structured")
    };
    cols.iter_mut()
        .find(|(n, _)| n == field)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no field {field}"))
}

fn ints(c: &mut ArrayData) -> &mut Vec<i64> {
    match c {
        ArrayData::I64(v) => v,
        other => panic!("not int64: {other:?}"),
    }
}

fn refused(v: Value, file_bytes: usize, needle: &str) {
    match Model::from_value(v, file_bytes) {
        Ok(_) => panic!("loaded; expected an error containing {needle:?}"),
        Err(e @ EngineError::Unsupported(_)) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

const DT: &str = "tree_dt_tfidf_tri.z.joblib";

/// The index of the first internal node that is not the root.
fn internal(v: &mut Value) -> usize {
    let left = ints(column(v, "Tree", "left_child")).clone();
    (1..left.len())
        .find(|&i| left[i] != -1)
        .expect("a second split")
}

#[test]
fn the_unmutated_fixture_loads() {
    let (v, n) = tree(DT);
    assert!(Model::from_value(v, n).is_ok());
}

#[test]
fn a_child_pointing_back_is_refused() {
    let (mut v, n) = tree(DT);
    let i = internal(&mut v);
    // A cycle: node i's left child is the root.
    ints(column(&mut v, "Tree", "left_child"))[i] = 0;
    refused(v, n, "children must come after their parent");
    let (mut v, n) = tree(DT);
    ints(column(&mut v, "Tree", "right_child"))[0] = 0;
    refused(v, n, "children must come after their parent");
}

#[test]
fn children_out_of_range_are_refused() {
    let (mut v, n) = tree(DT);
    ints(column(&mut v, "Tree", "right_child"))[0] = 1 << 40;
    refused(v, n, "children must come after their parent");
    let (mut v, n) = tree(DT);
    ints(column(&mut v, "Tree", "right_child"))[0] = -1;
    refused(v, n, "children must come after their parent");
    let (mut v, n) = tree(DT);
    let left = ints(column(&mut v, "Tree", "left_child")).clone();
    let leaf = left.iter().position(|&l| l == -1).unwrap();
    ints(column(&mut v, "Tree", "right_child"))[leaf] = 2;
    refused(v, n, "no left child but a right child");
}

#[test]
fn a_feature_out_of_range_is_refused() {
    let (mut v, n) = tree(DT);
    ints(column(&mut v, "Tree", "feature"))[0] = 1_000_000;
    refused(v, n, "splits on feature 1000000");
    let (mut v, n) = tree(DT);
    ints(column(&mut v, "Tree", "feature"))[0] = -3;
    refused(v, n, "splits on feature -3");
}

#[test]
fn bad_values_are_refused() {
    let (mut v, n) = tree(DT);
    let t = find(&mut v, "Tree").unwrap();
    let Value::Array(values) = state_item(t, "values") else {
        panic!()
    };
    let ArrayData::F64(d) = &mut values.data else {
        panic!()
    };
    d[5] = f64::NAN;
    refused(v, n, "values holds NaN");
    let (mut v, n) = tree(DT);
    let t = find(&mut v, "Tree").unwrap();
    let Value::Array(values) = state_item(t, "values") else {
        panic!()
    };
    values.shape[2] = 7;
    refused(v, n, "values has shape");
}

#[test]
fn a_missing_field_or_count_mismatch_is_refused() {
    let (mut v, n) = tree(DT);
    let t = find(&mut v, "Tree").unwrap();
    let Value::Array(nodes) = state_item(t, "nodes") else {
        panic!()
    };
    let ArrayData::Record(cols) = &mut nodes.data else {
        panic!()
    };
    cols.retain(|(name, _)| name != "threshold");
    refused(v, n, "lack the field \"threshold\"");
    let (mut v, n) = tree(DT);
    let t = find(&mut v, "Tree").unwrap();
    *state_item(t, "node_count") = Value::Int(3);
    refused(v, n, "node_count is 3");
    let (mut v, n) = tree(DT);
    let t = find(&mut v, "Tree").unwrap();
    t.args.truncate(1);
    refused(v, n, "constructor arguments");
}

#[test]
fn a_forest_member_that_is_not_a_tree_is_refused() {
    let (mut v, n) = tree("forest_rf_tfidf_tri.z.joblib");
    let f = find(&mut v, "RandomForestClassifier").unwrap();
    let Value::List(items) = state_item(f, "estimators_") else {
        panic!()
    };
    items[3] = Value::Str("rm -rf /".into());
    refused(v, n, "estimators_[3] is str");
    // A tree of another forest's width.
    let (mut v, n) = tree("forest_rf_tfidf_tri.z.joblib");
    let t = find(&mut v, "Tree").unwrap();
    t.args[0] = Value::Int(5);
    refused(v, n, "of 5");
}

#[test]
fn gradient_boosting_with_another_init_is_refused() {
    let (mut v, n) = tree("gb_tfidf_bin.z.joblib");
    let g = find(&mut v, "GradientBoostingClassifier").unwrap();
    *state_item(g, "init_") = Value::Str("something".into());
    refused(v, n, "init_ is str");
    let (mut v, n) = tree("gb_tfidf_bin.z.joblib");
    let g = find(&mut v, "DummyClassifier").unwrap();
    *state_item(g, "_strategy") = Value::Str("uniform".into());
    refused(v, n, "strategy=\"uniform\"");
}

#[test]
fn hist_gradient_boosting_cycles_are_refused() {
    let (mut v, n) = tree("hgb_svd_bin.z.joblib");
    let ArrayData::U64(left) = column(&mut v, "TreePredictor", "left") else {
        panic!("left is not unsigned")
    };
    left[0] = 0;
    refused(v, n, "children must come after their parent");
    let (mut v, n) = tree("hgb_svd_bin.z.joblib");
    let f = ints(column(&mut v, "TreePredictor", "feature_idx"));
    f[0] = 99;
    refused(v, n, "splits on feature 99");
}
