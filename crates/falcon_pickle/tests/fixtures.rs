//! Loads the files written by `training/gen_pickle_fixtures.py` (real
//! CPython/numpy/joblib/scikit-learn output) and compares them with the
//! tagged values in `expected.json`. Python is not needed to run these.

use std::path::{Path, PathBuf};

use falcon_pickle::{Array, ArrayData, Policy, Value, load, load_path};
use serde_json::Value as Json;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected() -> Json {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn sklearn_policy() -> Policy {
    let mut p = Policy::new();
    p.allow("sklearn.pipeline", "Pipeline")
        .allow("sklearn.feature_extraction.text", "TfidfVectorizer")
        .allow("sklearn.feature_extraction.text", "TfidfTransformer")
        .allow("sklearn.linear_model._logistic", "LogisticRegression");
    p
}

fn load_fixture(name: &str, policy: &Policy) -> Value {
    load_path(&fixtures().join(name), policy).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn bits(j: &Json) -> u64 {
    u64::from_str_radix(j.as_str().unwrap(), 16).unwrap()
}

fn tag(j: &Json) -> (&str, &[Json]) {
    let a = j.as_array().unwrap();
    (a[0].as_str().unwrap(), &a[1..])
}

/// Asserts that `v` is what the tagged JSON `j` describes.
fn check(v: &Value, j: &Json, path: &str) {
    if let Err(e) = compare(v, j, path) {
        panic!("{e}");
    }
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(format!($($fmt)*));
        }
    };
}

fn compare(v: &Value, j: &Json, path: &str) -> Result<(), String> {
    let (t, args) = tag(j);
    match (t, v) {
        ("none", Value::None) => {}
        ("bool", Value::Bool(b)) if Some(*b) == args[0].as_bool() => {}
        ("int", Value::Int(i)) if Some(*i) == args[0].as_i64() => {}
        ("bigint", Value::BigInt(b)) if *b == hex(args[0].as_str().unwrap()) => {}
        ("float", Value::Float(f)) if f.to_bits() == bits(&args[0]) => {}
        ("complex", Value::Complex(re, im))
            if re.to_bits() == bits(&args[0]) && im.to_bits() == bits(&args[1]) => {}
        ("str", Value::Str(s)) if Some(s.as_str()) == args[0].as_str() => {}
        ("bytes", Value::Bytes(b)) if *b == hex(args[0].as_str().unwrap()) => {}
        ("list", Value::List(items)) | ("tuple", Value::Tuple(items)) => {
            let want = args[0].as_array().unwrap();
            ensure!(
                items.len() == want.len(),
                "{path}: length {} != {}",
                items.len(),
                want.len()
            );
            for (i, (v, j)) in items.iter().zip(want).enumerate() {
                compare(v, j, &format!("{path}[{i}]"))?;
            }
        }
        ("dict", Value::Dict(pairs)) => {
            let want = args[0].as_array().unwrap();
            ensure!(
                pairs.len() == want.len(),
                "{path}: dict length {} != {}",
                pairs.len(),
                want.len()
            );
            for (i, ((k, v), kv)) in pairs.iter().zip(want).enumerate() {
                let kv = kv.as_array().unwrap();
                compare(k, &kv[0], &format!("{path}.key{i}"))?;
                compare(v, &kv[1], &format!("{path}[{k:?}]"))?;
            }
        }
        ("set", Value::Set(items)) | ("frozenset", Value::FrozenSet(items)) => {
            let want = args[0].as_array().unwrap();
            ensure!(items.len() == want.len(), "{path}: set length");
            // Order-insensitive: every expected element matches some element.
            for j in want {
                let found = items.iter().any(|v| compare(v, j, path).is_ok());
                ensure!(found, "{path}: {j} missing from {items:?}");
            }
        }
        ("slice", Value::Slice(a, b, c)) => {
            compare(a, &args[0], &format!("{path}.start"))?;
            compare(b, &args[1], &format!("{path}.stop"))?;
            compare(c, &args[2], &format!("{path}.step"))?;
        }
        ("dtype", Value::Dtype(d)) if Some(d.to_string().as_str()) == args[0].as_str() => {}
        ("global", Value::Global(g))
            if g.is(args[0].as_str().unwrap(), args[1].as_str().unwrap()) => {}
        ("array", Value::Array(a)) => compare_array(a, args, path)?,
        _ => return Err(format!("{path}: expected {j}, found {v:?}")),
    }
    Ok(())
}

fn compare_array(a: &Array, args: &[Json], path: &str) -> Result<(), String> {
    ensure!(
        a.dtype.to_string() == args[0].as_str().unwrap(),
        "{path}: dtype {} != {}",
        a.dtype,
        args[0]
    );
    let shape: Vec<usize> = args[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    ensure!(a.shape == shape, "{path}: shape {:?} != {shape:?}", a.shape);
    ensure!(
        a.fortran_order == args[2].as_bool().unwrap(),
        "{path}: fortran_order {}",
        a.fortran_order
    );
    ensure!(a.data.len() == a.len(), "{path}: data length");
    let c = a.to_c_order();
    let want = args[3].as_array().unwrap();
    ensure!(c.data.len() == want.len(), "{path}: element count");
    for (i, j) in want.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let ok = match &c.data {
            ArrayData::F64(v) => v[i].to_bits() == bits(j),
            ArrayData::F32(v) => f64::from(v[i]).to_bits() == bits(j),
            ArrayData::I64(v) => Some(v[i]) == j.as_i64(),
            ArrayData::U64(v) => Some(v[i]) == j.as_u64(),
            ArrayData::Bool(v) => Some(v[i]) == j.as_bool(),
            ArrayData::Str(v) => Some(v[i].as_str()) == j.as_str(),
            ArrayData::Bytes(v) => v[i] == hex(j.as_str().unwrap()),
            ArrayData::Object(v) => {
                compare(&v[i], j, &p)?;
                true
            }
            // Structured arrays are checked by tests/structured.rs.
            ArrayData::Record(_) => false,
        };
        ensure!(ok, "{p}: expected {j}, found {:?}", c.data);
    }
    Ok(())
}

#[test]
fn plain_data_every_protocol() {
    let want = &expected()["plain"];
    for proto in 0..=5 {
        let name = format!("plain_p{proto}.pkl");
        let v = load_fixture(&name, &Policy::new());
        check(&v, want, &name);
    }
}

#[test]
fn shared_references_are_expanded() {
    let v = load_fixture("plain_p4.pkl", &Policy::new());
    let shared = v.get("shared").unwrap().as_list().unwrap();
    assert_eq!(shared[0], shared[1]);
    assert_eq!(Some(&shared[0]), shared[2].get("again"));
}

#[test]
fn numpy_arrays_pickle_and_joblib() {
    let want = &expected()["arrays"];
    let mut names: Vec<String> = [0, 2, 4, 5]
        .iter()
        .map(|p| format!("arrays_p{p}.pkl"))
        .collect();
    names.push("arrays.joblib".into());
    names.push("arrays_p2.joblib".into());
    names.push("arrays_p1.joblib".into());
    for codec in ["zlib", "gzip", "bz2", "lzma", "xz", "lz4"] {
        names.push(format!("arrays_{codec}.joblib"));
    }
    for name in &names {
        let v = load_fixture(name, &Policy::new());
        check(&v, want, name);
    }
}

#[test]
fn joblib_containers_are_detected() {
    use falcon_pickle::{Container, joblib::detect};
    for (file, container) in [
        ("arrays.joblib", Container::Plain),
        ("arrays_zlib.joblib", Container::Zlib),
        ("arrays_gzip.joblib", Container::Gzip),
        ("arrays_bz2.joblib", Container::Bz2),
        ("arrays_lzma.joblib", Container::Lzma),
        ("arrays_xz.joblib", Container::Xz),
        ("arrays_lz4.joblib", Container::Lz4),
        ("pipeline.joblib", Container::Zlib),
    ] {
        let bytes = std::fs::read(fixtures().join(file)).unwrap();
        assert_eq!(detect(&bytes), container, "{file}");
    }
}

fn check_pipeline(v: &Value, want: &Json, name: &str) {
    assert!(
        v.is_instance("sklearn.pipeline", "Pipeline"),
        "{name}: {}",
        v.type_name()
    );
    let steps = v.get("steps").and_then(Value::as_seq).unwrap();
    let step_names: Vec<&str> = steps
        .iter()
        .map(|s| s.as_tuple().unwrap()[0].as_str().unwrap())
        .collect();
    let want_names: Vec<&str> = want["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(step_names, want_names);
    let tfidf = &steps[0].as_tuple().unwrap()[1];
    let clf = &steps[1].as_tuple().unwrap()[1];
    assert!(tfidf.is_instance("sklearn.feature_extraction.text", "TfidfVectorizer"));
    assert!(clf.is_instance("sklearn.linear_model._logistic", "LogisticRegression"));

    let vocab = tfidf.get("vocabulary_").unwrap();
    check(vocab, &want["vocabulary"], "vocabulary_");
    assert!(vocab.as_dict().unwrap().len() > 40);
    check(
        tfidf.get("ngram_range").unwrap(),
        &want["ngram_range"],
        "ngram_range",
    );
    check(tfidf.get("dtype").unwrap(), &want["dtype"], "dtype");
    assert_eq!(
        tfidf.get("token_pattern").and_then(Value::as_str),
        want["token_pattern"].as_str()
    );
    let idf = tfidf.get("_tfidf").and_then(|t| t.get("idf_")).unwrap();
    check(idf, &want["idf"], "idf_");

    let coef = clf.get("coef_").and_then(Value::as_array).unwrap();
    assert_eq!(coef.shape, vec![3, vocab.as_dict().unwrap().len()]);
    check(clf.get("coef_").unwrap(), &want["coef"], "coef_");
    check(
        clf.get("intercept_").unwrap(),
        &want["intercept"],
        "intercept_",
    );
    check(clf.get("classes_").unwrap(), &want["classes"], "classes_");
    check(clf.get("C").unwrap(), &want["C"], "C");
}

#[test]
fn sklearn_pipeline_joblib_and_pickle() {
    let want = &expected()["pipeline"];
    for name in ["pipeline.joblib", "pipeline.pkl"] {
        let v = load_fixture(name, &sklearn_policy());
        check_pipeline(&v, want, name);
    }
}

#[test]
fn sklearn_classes_need_the_policy() {
    for name in ["pipeline.joblib", "pipeline.pkl"] {
        let err = load_path(&fixtures().join(name), &Policy::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to load sklearn.pipeline.Pipeline: not on the allowlist"
        );
        let mut partial = sklearn_policy();
        partial.allow("unrelated", "Thing");
        let mut p = Policy::new();
        p.allow("sklearn.pipeline", "Pipeline");
        let err = load_path(&fixtures().join(name), &p).unwrap_err();
        assert!(
            err.to_string().starts_with("refusing to load sklearn."),
            "{err}"
        );
    }
}

fn fixture_files() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pkl" || e == "joblib"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Offsets to cut or corrupt a file at: all of them for files of up to
/// `max` bytes; for bigger ones (every offset would take minutes in a debug
/// build) the first and last 256 and `max` evenly spaced ones in between.
/// The fuzz target covers corruption far more thoroughly.
fn offsets(len: usize, max: usize) -> impl Iterator<Item = usize> {
    let stride = len.div_ceil(max).max(1);
    (0..len).filter(move |&i| i < 256 || i + 256 >= len || i % stride == 0)
}

/// Every proper prefix of every fixture is an error, never a panic. (A
/// compressed container cut only in its trailer, after the complete pickle,
/// may still load; then it must load the full value.)
#[test]
fn truncation_at_every_offset_is_an_error() {
    let policy = sklearn_policy();
    for (name, bytes) in fixture_files() {
        let compressed = falcon_pickle::joblib::detect(&bytes) != falcon_pickle::Container::Plain;
        // Debug text, since NaN != NaN.
        let full = format!("{:?}", load(&bytes, &policy).unwrap());
        for len in offsets(bytes.len(), 1500) {
            match load(&bytes[..len], &policy) {
                Err(_) => {}
                Ok(v) if compressed && format!("{v:?}") == full => {}
                Ok(v) => panic!("{name} truncated to {len} bytes loaded: {v:?}"),
            }
        }
    }
}

/// Corrupting single bytes may load or fail, but must not panic or hang.
#[test]
fn corrupted_bytes_do_not_panic() {
    let policy = sklearn_policy();
    for (name, bytes) in fixture_files() {
        // Compressed containers mostly fail their checksum; the plain
        // streams are the interesting ones.
        if !(name.ends_with(".pkl") || name == "arrays.joblib") {
            continue;
        }
        let mut buf = bytes.clone();
        for i in offsets(bytes.len(), 600) {
            for x in [0xff, bytes[i] ^ 0x01, bytes[i].wrapping_add(0x80)] {
                buf[i] = x;
                let _ = load(&buf, &policy);
            }
            buf[i] = bytes[i];
        }
    }
}
