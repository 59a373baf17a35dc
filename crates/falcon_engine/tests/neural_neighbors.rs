//! `MLPClassifier` and `KNeighborsClassifier` fixtures (issue #12 part 3):
//! the largest deviation from scikit-learn's scores, measured per case and
//! held to the 1e-9 bound (the parity test checks labels and the bound for
//! every case; this one reports how far inside the bound each family is,
//! since their dense products are not in a fixed order in scikit-learn),
//! and the resident size of each model against its file.
//!
//! `cargo test -p falcon_engine --test neural_neighbors -- --nocapture`
//! prints the table.

use std::path::{Path, PathBuf};

use falcon_engine::{Input, Model, Output};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipelines")
}

fn read_json(p: &Path) -> Value {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Largest `|got - want|` and `|got - want| / max(1, |want|)` of one row.
fn deviation(got: &[f64], want: &Value, worst: &mut (f64, f64)) {
    let want: Vec<f64> = match want {
        Value::Array(v) => v.iter().map(|x| x.as_f64().expect("a number")).collect(),
        Value::Number(n) => vec![n.as_f64().expect("a number")],
        other => panic!("unexpected expected value {other}"),
    };
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        let d = (g - w).abs();
        worst.0 = worst.0.max(d);
        worst.1 = worst.1.max(d / w.abs().max(1.0));
    }
}

fn family_deviation(prefix: &str) -> usize {
    let d = dir();
    let manifest = read_json(&d.join("manifest.json"));
    let texts: Vec<String> = serde_json::from_value(read_json(&d.join("texts.json"))).unwrap();
    let mut cases = 0;
    let mut all = (0.0f64, 0.0f64);
    for case in manifest["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if !name.starts_with(prefix) {
            continue;
        }
        let expected = read_json(&d.join(format!("{name}.expected.json")));
        for file in case["files"].as_array().unwrap() {
            let path = d.join(file.as_str().expect("one file per case"));
            let model = Model::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut worst = (0.0f64, 0.0f64);
            let mut refused = 0;
            for (i, text) in texts.iter().enumerate() {
                if expected["predict"][i].is_null() {
                    // Undetermined in scikit-learn (k-NN ties across
                    // classes): refused, checked by the parity test.
                    refused += 1;
                    continue;
                }
                let out = model.predict_output(Input::Text(text)).unwrap();
                let (probs, dec) = match &out {
                    Output::Single(p) => (p.probabilities.clone(), p.decision.clone()),
                    Output::MultiLabel(m) => (m.probabilities.clone(), m.decision.clone()),
                    Output::MultiOutput(_) => panic!("{name}: no multi-output cases here"),
                };
                if let Some(p) = probs {
                    deviation(&p, &expected["predict_proba"][i], &mut worst);
                }
                if let Some(dv) = dec {
                    deviation(&dv, &expected["decision_function"][i], &mut worst);
                }
            }
            let ratio = model.memory_bytes() as f64 / model.file_bytes() as f64;
            // A compressed file of a KNN's training matrix (small counts,
            // few distinct values) can be several times smaller than its
            // pickle stream; the stored matrix is then held to 3x the
            // stream: one copy, in the layout its products read.
            let stream = expected["pickle_bytes"].as_u64().unwrap_or(0) as usize;
            let budget = model.file_bytes().max(stream);
            eprintln!(
                "{name:45} max abs {:.2e}  max rel {:.2e}  memory/file {ratio:.2}  memory/stream {:.2}  refused {refused}/{}",
                worst.0,
                worst.1,
                model.memory_bytes() as f64 / stream.max(1) as f64,
                texts.len()
            );
            assert!(worst.1 <= 1e-9, "{name}: deviation {:e}", worst.1);
            assert!(
                model.memory_bytes() <= 3 * budget,
                "{name}: resident {} bytes for a {}-byte file",
                model.memory_bytes(),
                model.file_bytes()
            );
            all = (all.0.max(worst.0), all.1.max(worst.1));
            cases += 1;
        }
    }
    eprintln!(
        "{prefix}*: {cases} files, max abs {:.2e}, max rel {:.2e}",
        all.0, all.1
    );
    cases
}

#[test]
fn mlp_scores_stay_within_the_bound() {
    assert!(family_deviation("mlp_") >= 10);
}

#[test]
fn knn_scores_stay_within_the_bound() {
    assert!(family_deviation("knn_") >= 7);
}

// --- Hostile files: each damaged model is refused, naming the problem. ---

use falcon_pickle::{ArrayData, Object};

/// An unpickled tree (not JSON).
type PValue = falcon_pickle::Value;

/// A fixture's unpickled tree and its file size.
fn tree(name: &str) -> (PValue, usize) {
    let bytes = std::fs::read(dir().join(name)).expect("fixture");
    let v = falcon_pickle::load(&bytes, &falcon_engine::sklearn_policy()).expect("unpickles");
    (v, bytes.len())
}

fn find<'a>(v: &'a mut PValue, class: &str) -> Option<&'a mut Object> {
    match v {
        PValue::Object(o) => {
            if o.class.name == class {
                return Some(o);
            }
            o.state.as_deref_mut().and_then(|s| find(s, class))
        }
        PValue::List(items) | PValue::Tuple(items) => items.iter_mut().find_map(|i| find(i, class)),
        PValue::Dict(d) => d.iter_mut().find_map(|(_, x)| find(x, class)),
        _ => None,
    }
}

fn attr<'a>(v: &'a mut PValue, class: &str, name: &str) -> &'a mut PValue {
    let o = find(v, class).unwrap_or_else(|| panic!("no {class}"));
    let Some(PValue::Dict(d)) = o.state.as_deref_mut() else {
        panic!("{class} has no state dict")
    };
    d.iter_mut()
        .find(|(k, _)| matches!(k, PValue::Str(s) if s == name))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{class}.{name} missing"))
}

fn data(v: &mut PValue) -> &mut ArrayData {
    match v {
        PValue::Array(a) => &mut a.data,
        other => panic!("not an array: {other:?}"),
    }
}

fn refused(name: &str, mutate: impl FnOnce(&mut PValue), needle: &str) {
    let (mut v, n) = tree(name);
    mutate(&mut v);
    match Model::from_value(v, n) {
        Ok(_) => panic!("{name}: the damaged model loaded (wanted {needle:?})"),
        Err(e) => assert!(
            e.to_string().contains(needle),
            "{name}: {e} lacks {needle:?}"
        ),
    }
}

const MLP: &str = "mlp_svd40_relu32x16_tri.z.joblib";

fn mlp_list<'a>(v: &'a mut PValue, name: &str) -> &'a mut Vec<PValue> {
    match attr(v, "MLPClassifier", name) {
        PValue::List(l) => l,
        other => panic!("{name} is {other:?}"),
    }
}

#[test]
fn damaged_networks_are_refused() {
    refused(
        MLP,
        |v| {
            let l = mlp_list(v, "coefs_");
            let ArrayData::F64(d) = data(&mut l[1]) else {
                panic!("float64")
            };
            d[3] = f64::NAN;
        },
        "coefs_[1] contains NaN",
    );
    refused(
        MLP,
        |v| {
            let l = mlp_list(v, "coefs_");
            l.swap(0, 1);
        },
        "rows but the layer before it has",
    );
    refused(
        MLP,
        |v| {
            let l = mlp_list(v, "intercepts_");
            l.swap(0, 1);
        },
        "intercepts_[0] has shape",
    );
    refused(
        MLP,
        |v| {
            let l = mlp_list(v, "coefs_");
            l.pop();
        },
        "layers",
    );
    refused(
        MLP,
        |v| *attr(v, "MLPClassifier", "activation") = PValue::Str("softplus".into()),
        "activation \"softplus\"",
    );
    refused(
        MLP,
        |v| *attr(v, "MLPClassifier", "out_activation_") = PValue::Str("identity".into()),
        "out_activation_",
    );
}

const KNN_SPARSE: &str = "knn_tfidf_cosine5_tri.z.joblib";
const KNN_DENSE: &str = "knn_svd30_cosine5_bin.z.joblib";

fn csr_attr<'a>(v: &'a mut PValue, name: &str) -> &'a mut PValue {
    attr(v, "csr_matrix", name)
}

fn ints(v: &mut PValue) -> &mut Vec<i64> {
    match data(v) {
        ArrayData::I64(d) => d,
        other => panic!("not int64: {other:?}"),
    }
}

#[test]
fn damaged_neighbour_models_are_refused() {
    refused(
        KNN_SPARSE,
        |v| ints(attr(v, "KNeighborsClassifier", "_y"))[7] = 3,
        "_y",
    );
    refused(
        KNN_SPARSE,
        |v| ints(csr_attr(v, "indices"))[5] = 1 << 40,
        "indices",
    );
    refused(
        KNN_SPARSE,
        |v| {
            let p = ints(csr_attr(v, "indptr"));
            p.swap(3, 4);
        },
        "indptr",
    );
    refused(
        KNN_SPARSE,
        |v| {
            let ArrayData::F64(d) = data(csr_attr(v, "data")) else {
                panic!("float64")
            };
            d[0] = f64::INFINITY;
        },
        "data contains inf",
    );
    refused(
        KNN_SPARSE,
        |v| *attr(v, "KNeighborsClassifier", "n_neighbors") = PValue::Int(100_000),
        "n_neighbors is 100000",
    );
    refused(
        KNN_DENSE,
        |v| *attr(v, "KNeighborsClassifier", "_fit_method") = PValue::Str("ball_tree".into()),
        "only algorithm=\"brute\"",
    );
    refused(
        KNN_DENSE,
        |v| {
            let ArrayData::F64(d) = data(attr(v, "KNeighborsClassifier", "_fit_X")) else {
                panic!("float64")
            };
            d[11] = f64::NAN;
        },
        "_fit_X contains NaN",
    );
}
