//! The scikit-learn classes the engine accepts, and how a pickled
//! `Pipeline` becomes an extractor and a classifier.

use falcon_pickle::{Object, Policy, Value};

use crate::attrs::Attrs;
use crate::classify::Classifier;
use crate::error::{EngineError, Result};
use crate::features::Extractor;

/// The loss objects SGD-family estimators pickle (`loss_function_`). They
/// are never used for prediction (the `loss` parameter string is), but
/// they must unpickle.
const SGD_LOSSES: &[&str] = &[
    "Hinge",
    "ModifiedHuber",
    "SquaredHinge",
    "Log",
    "SquaredLoss",
    "Huber",
    "EpsilonInsensitive",
    "SquaredEpsilonInsensitive",
    "CyHalfBinomialLoss",
    "CyHalfMultinomialLoss",
    "CyHuberLoss",
    "CyHalfSquaredError",
];

/// Every class the unpickler may instantiate. Anything else in a file —
/// `os.system`, a user's tokenizer function, a random forest — is refused
/// by name before any of the file is interpreted as a model.
const ALLOWED: &[(&str, &[&str])] = &[
    ("sklearn.pipeline", &["Pipeline", "FeatureUnion"]),
    (
        "sklearn.feature_extraction.text",
        &[
            "CountVectorizer",
            "TfidfVectorizer",
            "HashingVectorizer",
            "TfidfTransformer",
        ],
    ),
    ("sklearn.linear_model._logistic", &["LogisticRegression"]),
    ("sklearn.svm._classes", &["LinearSVC"]),
    (
        "sklearn.linear_model._stochastic_gradient",
        &["SGDClassifier"],
    ),
    ("sklearn.linear_model._ridge", &["RidgeClassifier"]),
    (
        "sklearn.linear_model._passive_aggressive",
        &["PassiveAggressiveClassifier"],
    ),
    ("sklearn.linear_model._perceptron", &["Perceptron"]),
    (
        "sklearn.naive_bayes",
        &["MultinomialNB", "ComplementNB", "BernoulliNB"],
    ),
    ("sklearn.preprocessing._label", &["LabelBinarizer"]),
    // The same classes under the module paths of scikit-learn < 0.22,
    // which had no leading underscore (0.22 kept them as deprecated
    // aliases; pickles written before it name them).
    ("sklearn.linear_model.logistic", &["LogisticRegression"]),
    ("sklearn.svm.classes", &["LinearSVC"]),
    (
        "sklearn.linear_model.stochastic_gradient",
        &["SGDClassifier"],
    ),
    ("sklearn.linear_model.ridge", &["RidgeClassifier"]),
    (
        "sklearn.linear_model.passive_aggressive",
        &["PassiveAggressiveClassifier"],
    ),
    ("sklearn.linear_model.perceptron", &["Perceptron"]),
    ("sklearn.preprocessing.label", &["LabelBinarizer"]),
    // `TfidfTransformer._idf_diag` (scikit-learn < 1.5 kept the idf as a
    // sparse diagonal matrix, not an `idf_` array). A scipy sparse matrix
    // pickles as its class plus a `__dict__` of numpy arrays, so it loads
    // as plain data like an estimator; the module moved in scipy 1.8.
    ("scipy.sparse.csr", &["csr_matrix"]),
    ("scipy.sparse._csr", &["csr_matrix"]),
    ("sklearn.linear_model._sgd_fast", SGD_LOSSES),
    // Before 0.22.
    ("sklearn.linear_model.sgd_fast", SGD_LOSSES),
    // Cython sets these classes' `__module__` to the bare extension name.
    (
        "_loss",
        &[
            "CyHalfBinomialLoss",
            "CyHalfMultinomialLoss",
            "CyHuberLoss",
            "CyHalfSquaredError",
        ],
    ),
    (
        "sklearn._loss._loss",
        &[
            "CyHalfBinomialLoss",
            "CyHalfMultinomialLoss",
            "CyHuberLoss",
            "CyHalfSquaredError",
        ],
    ),
];

/// The unpickler allowlist for supported scikit-learn pipelines.
pub fn sklearn_policy() -> Policy {
    let mut p = Policy::new();
    for (module, names) in ALLOWED {
        for name in *names {
            p.allow(module, name);
        }
    }
    p
}

/// `Pipeline.steps` as `(name, estimator)`, skipping `"passthrough"`/`None`.
pub(crate) fn steps(obj: &Object) -> Result<Vec<(String, &Object)>> {
    let a = Attrs::new(obj)?;
    let list = a.get("steps")?;
    let items = match list {
        Value::List(items) | Value::Tuple(items) => items,
        v => return Err(a.err("steps", "a list of (name, estimator)", v)),
    };
    let mut out = Vec::new();
    for item in items {
        let (name, est) = match item {
            Value::Tuple(p) | Value::List(p) if p.len() == 2 => match &p[0] {
                Value::Str(n) => (n.clone(), &p[1]),
                _ => return Err(a.err("steps", "(name, estimator) pairs", item)),
            },
            _ => return Err(a.err("steps", "(name, estimator) pairs", item)),
        };
        match est {
            Value::None => {}
            Value::Str(s) if s == "passthrough" => {}
            Value::Object(o) => out.push((name, &**o)),
            other => {
                return Err(EngineError::unsupported(format!(
                    "Pipeline step {name:?} is {}",
                    crate::attrs::describe(other)
                )));
            }
        }
    }
    Ok(out)
}

/// Splits a top-level pickled object into its text step and classifier.
/// `max_dense` bounds each dense weight table, in bytes (see
/// `crate::model::dense_budget`).
pub(crate) fn build(root: &Value, max_dense: usize) -> Result<(Extractor, Classifier)> {
    let Value::Object(obj) = root else {
        return Err(EngineError::unsupported(format!(
            "the file holds {}, not a scikit-learn Pipeline",
            crate::attrs::describe(root)
        )));
    };
    if obj.class.name != "Pipeline" {
        return Err(EngineError::unsupported(format!(
            "the file holds a bare {}; Falcon serves a Pipeline(vectorizer, classifier) that takes raw text",
            obj.class
        )));
    }
    let steps = steps(obj)?;
    let Some(((_, last), head)) = steps.split_last() else {
        return Err(EngineError::unsupported("the Pipeline has no steps"));
    };
    if head.is_empty() {
        return Err(EngineError::unsupported(
            "the Pipeline has no vectorizer before its classifier",
        ));
    }
    let mut classifier = Classifier::from_object(last, max_dense)?;
    let mut extractor = Extractor::from_steps(head, 0, &mut 0)?;
    let (got, want) = (extractor.n_features(), classifier.n_features());
    if got != want {
        return Err(EngineError::unsupported(format!(
            "the vectorizer produces {got} features but the classifier expects {want}"
        )));
    }
    // Fast path: an idf step feeding a linear classifier reads `idf_[col]`
    // and then the weights of `col` for each of a document's columns; one
    // interleaved table makes that one cache miss instead of two. Only
    // where the numbers are loaded from changes, not how they combine.
    if let (Some(t), Classifier::Linear(l)) = (extractor.last_tfidf_mut(), &mut classifier) {
        t.fuse_with(&mut l.weights);
    }
    Ok((extractor, classifier))
}
