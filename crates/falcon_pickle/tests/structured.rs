//! Structured numpy arrays (the node array of a pickled
//! `sklearn.tree._tree.Tree`): real ones decode field by field in every
//! pickle flavour, hostile dtypes are refused with an error naming the
//! problem. Files from `training/gen_structured_fixtures.py`.

use std::path::{Path, PathBuf};

use falcon_pickle::{ArrayData, Policy, Value, load_path};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/structured")
}

fn expected() -> Vec<(String, Vec<f64>)> {
    std::fs::read_to_string(dir().join("nodes_expected.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut it = l.split(' ');
            let name = it.next().unwrap().to_owned();
            (name, it.map(|v| v.parse().unwrap()).collect())
        })
        .collect()
}

fn column(data: &ArrayData) -> Vec<f64> {
    match data {
        ArrayData::I64(v) => v.iter().map(|&x| x as f64).collect(),
        ArrayData::U64(v) => v.iter().map(|&x| x as f64).collect(),
        ArrayData::F64(v) => v.clone(),
        other => panic!("unexpected column {other:?}"),
    }
}

#[test]
fn tree_nodes_decode_in_every_format() {
    let want = expected();
    for name in [
        "nodes_p2.pkl",
        "nodes_p4.pkl",
        "nodes_p5.pkl",
        "nodes.joblib",
        "nodes_be.pkl",
        "nodes_old.joblib",
    ] {
        let v =
            load_path(&dir().join(name), &Policy::new()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Value::Array(a) = v else {
            panic!("{name}: not an array")
        };
        assert_eq!(a.shape, vec![want[0].1.len()], "{name}");
        let record = a.dtype.record.as_ref().expect("structured dtype");
        let old = name.contains("old");
        assert_eq!(a.dtype.itemsize, if old { 56 } else { 64 }, "{name}");
        assert_eq!(record.fields.len(), if old { 7 } else { 8 }, "{name}");
        for (field, values) in &want {
            match a.field(field) {
                Some(col) => assert_eq!(&column(col), values, "{name} {field}"),
                None => assert!(old && field == "missing_go_to_left", "{name} lacks {field}"),
            }
        }
        assert_eq!(a.len(), want[0].1.len());
        assert!(a.field("nope").is_none());
    }
}

#[test]
fn fortran_structured_array_reorders_every_column() {
    let v = load_path(&dir().join("nodes_fortran.pkl"), &Policy::new()).unwrap();
    let a = v.as_array().unwrap().to_c_order();
    let want = expected();
    let n = want[0].1.len();
    assert_eq!(a.shape, vec![n, 2]);
    let left = column(a.field("left_child").unwrap());
    for i in 0..n {
        assert_eq!(left[2 * i], want[0].1[i]);
        assert_eq!(left[2 * i + 1], want[0].1[i]);
    }
}

#[test]
fn hostile_structured_dtypes_are_refused() {
    let cases = [
        ("overlap", "overlap"),
        ("out_of_range", "does not fit in an element"),
        ("huge_offset", "does not fit in an element"),
        ("negative_offset", "bad offset"),
        ("string_field", "only numbers and bools"),
        ("object_field", "only numbers and bools"),
        ("nested", "itself structured"),
        ("title", "field titles"),
        ("missing_field", "no entry in fields"),
        ("names_not_tuple", "not a tuple"),
        ("zero_itemsize", "not positive"),
        ("huge_itemsize", "larger than the whole input"),
        ("subarray", "sub-array"),
        ("field_not_tuple", "not a (dtype, offset) tuple"),
        ("many_fields", "at most 64"),
        ("short_data", "array data is"),
    ];
    for (name, needle) in cases {
        let path = dir().join(format!("hostile_{name}.pkl"));
        match load_path(&path, &Policy::new()) {
            Ok(v) => panic!("{name}: loaded {v:?}"),
            Err(e) => assert!(
                e.to_string().contains(needle),
                "{name}: {e} (wanted {needle:?})"
            ),
        }
    }
}
