//! The one table from scikit-learn class names to what the engine builds
//! from them.
//!
//! Every class a model file may contain is listed here once, with every
//! module path scikit-learn has pickled it under (the public path changed
//! in 0.22, when most modules gained a leading underscore, and Cython
//! classes sometimes report a bare extension name). The unpickler's
//! allowlist is generated from this table ([`sklearn_policy`]), so a class
//! the engine cannot build is refused by name before the file is
//! interpreted, and a class it can build is never refused by the
//! unpickler.
//!
//! Adding an estimator: write its module (one family per file under
//! `classify/` or `transform/`), then add one [`Entry`] here.

use falcon_pickle::{Global, Object, Policy};

use crate::classify::{Classifier, Linear, NaiveBayes};
use crate::error::Result;
use crate::transform::Transform;

/// What building a step needs besides its pickled object.
pub(crate) struct Ctx {
    /// Most bytes one dense table may take (see `crate::model::dense_budget`).
    pub(crate) max_dense: usize,
}

/// Builds a classifier (the last step of a model).
pub(crate) type ClassifierBuilder = fn(&Object, &Ctx) -> Result<Classifier>;
/// Builds a row → row step.
pub(crate) type TransformBuilder = fn(&Object, &Ctx) -> Result<Box<dyn Transform>>;

/// The role a class plays in a model.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// Text → sparse row: vectorizers and `FeatureUnion`s of them
    /// (`crate::features::Extractor`).
    Text,
    /// Row → row, between the vectorizer and the classifier.
    Transform(TransformBuilder),
    /// The classifier that ends a model.
    Classifier(ClassifierBuilder),
    /// A `Pipeline`: its steps are spliced into the chain.
    Pipeline,
    /// A hyper-parameter search (`GridSearchCV` & co.): its refitted
    /// `best_estimator_` is the model.
    Search,
    /// Plain data inside an estimator (a loss object, a sparse matrix, a
    /// cross-validation splitter, a scorer): loaded as an inert object,
    /// never a step, never called.
    Data,
}

/// One scikit-learn class.
pub(crate) struct Entry {
    /// Every module path the class has been pickled under.
    pub(crate) modules: &'static [&'static str],
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
}

const fn entry(modules: &'static [&'static str], name: &'static str, kind: Kind) -> Entry {
    Entry {
        modules,
        name,
        kind,
    }
}

fn linear(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(Linear::from_object(obj, ctx.max_dense)?))
}

fn naive_bayes(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(NaiveBayes::from_object(obj, ctx.max_dense)?))
}

fn tfidf_transformer(obj: &Object, _ctx: &Ctx) -> Result<Box<dyn Transform>> {
    Ok(Box::new(crate::features::Tfidf::from_transformer(obj)?))
}

const PIPELINE: &[&str] = &["sklearn.pipeline"];
const TEXT: &[&str] = &["sklearn.feature_extraction.text"];
const LOGISTIC: &[&str] = &[
    "sklearn.linear_model._logistic",
    "sklearn.linear_model.logistic",
];
const SVM: &[&str] = &["sklearn.svm._classes", "sklearn.svm.classes"];
const SGD: &[&str] = &[
    "sklearn.linear_model._stochastic_gradient",
    "sklearn.linear_model.stochastic_gradient",
];
const RIDGE: &[&str] = &["sklearn.linear_model._ridge", "sklearn.linear_model.ridge"];
const PA: &[&str] = &[
    "sklearn.linear_model._passive_aggressive",
    "sklearn.linear_model.passive_aggressive",
];
const PERCEPTRON: &[&str] = &[
    "sklearn.linear_model._perceptron",
    "sklearn.linear_model.perceptron",
];
const NB: &[&str] = &["sklearn.naive_bayes"];
const LABEL: &[&str] = &[
    "sklearn.preprocessing._label",
    "sklearn.preprocessing.label",
];
/// `loss_function_` of the SGD family (a pickled Cython object; the `loss`
/// string is what prediction reads). `_loss` is the bare extension name
/// Cython gives the classes of `sklearn._loss._loss`.
const SGD_FAST: &[&str] = &[
    "sklearn.linear_model._sgd_fast",
    "sklearn.linear_model.sgd_fast",
];
const LOSS: &[&str] = &[
    "_loss",
    "sklearn._loss._loss",
    "sklearn.linear_model._sgd_fast",
];
/// `scipy.sparse.csr_matrix` (`TfidfTransformer._idf_diag` before 1.5);
/// scipy 1.8 moved it to `scipy.sparse._csr`.
const CSR: &[&str] = &["scipy.sparse.csr", "scipy.sparse._csr"];
const SEARCH: &[&str] = &["sklearn.model_selection._search"];
const HALVING: &[&str] = &["sklearn.model_selection._search_successive_halving"];
const SPLIT: &[&str] = &["sklearn.model_selection._split"];
const SCORER: &[&str] = &["sklearn.metrics._scorer", "sklearn.metrics.scorer"];
const METADATA: &[&str] = &["sklearn.utils._metadata_requests"];
const MASKED: &[&str] = &["numpy.ma.core", "numpy.ma"];

// --- Outputs beyond one label, inputs beyond one text (issue #11 §2) ---
const MULTICLASS: &[&str] = &["sklearn.multiclass"];
const MULTIOUTPUT: &[&str] = &["sklearn.multioutput"];
/// `ColumnTransformer` has lived in `sklearn.compose._column_transformer`
/// since it appeared (0.20). Releases before 1.0 pickle the training
/// DataFrame's columns as a pandas `Index` (`_df_columns`), which the
/// allowlist refuses by name.
const COMPOSE: &[&str] = &["sklearn.compose._column_transformer"];
/// A fitted `ColumnTransformer` stores `"passthrough"` as a
/// `FunctionTransformer(func=None)`; loaded as data so the
/// `ColumnTransformer` can name the columns it would pass through (the
/// transforms work may register it as a `Transform`; either works here).
const FUNCTION: &[&str] = &[
    "sklearn.preprocessing._function_transformer",
    "sklearn.preprocessing.function_transformer",
];

/// Temporary: the meta-estimator work owns `OneVsRestClassifier`; the
/// merged entry dispatches on `label_binarizer_.y_type_` ("multilabel…"
/// to `classify::multilabel::one_vs_rest_multilabel`, otherwise to the
/// single-label builder).
fn one_vs_rest(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    let y_type = crate::classify::multilabel::y_type(obj)?;
    if y_type.starts_with("multilabel") {
        crate::classify::multilabel::one_vs_rest_multilabel(obj, ctx)
    } else {
        Err(crate::error::EngineError::unsupported(format!(
            "OneVsRestClassifier fitted on a {y_type} target is not supported yet"
        )))
    }
}

/// Every class the engine accepts. Anything else in a file — `os.system`,
/// a user's tokenizer function, an estimator Falcon cannot reproduce — is
/// refused by name.
pub(crate) static REGISTRY: &[Entry] = &[
    entry(PIPELINE, "Pipeline", Kind::Pipeline),
    entry(PIPELINE, "FeatureUnion", Kind::Text),
    entry(TEXT, "CountVectorizer", Kind::Text),
    entry(TEXT, "TfidfVectorizer", Kind::Text),
    entry(TEXT, "HashingVectorizer", Kind::Text),
    entry(TEXT, "TfidfTransformer", Kind::Transform(tfidf_transformer)),
    entry(LOGISTIC, "LogisticRegression", Kind::Classifier(linear)),
    entry(SVM, "LinearSVC", Kind::Classifier(linear)),
    entry(SGD, "SGDClassifier", Kind::Classifier(linear)),
    entry(RIDGE, "RidgeClassifier", Kind::Classifier(linear)),
    entry(PA, "PassiveAggressiveClassifier", Kind::Classifier(linear)),
    entry(PERCEPTRON, "Perceptron", Kind::Classifier(linear)),
    entry(NB, "MultinomialNB", Kind::Classifier(naive_bayes)),
    entry(NB, "ComplementNB", Kind::Classifier(naive_bayes)),
    entry(NB, "BernoulliNB", Kind::Classifier(naive_bayes)),
    // --- Outputs beyond one label, inputs beyond one text (issue #11 §2) ---
    entry(
        MULTICLASS,
        "OneVsRestClassifier",
        Kind::Classifier(one_vs_rest),
    ),
    entry(MULTICLASS, "_ConstantPredictor", Kind::Data),
    entry(
        MULTIOUTPUT,
        "MultiOutputClassifier",
        Kind::Classifier(crate::classify::multioutput::multi_output),
    ),
    entry(COMPOSE, "ColumnTransformer", Kind::Text),
    entry(FUNCTION, "FunctionTransformer", Kind::Data),
    // --- end of issue #11 §2 ---
    // Searches: served through `best_estimator_`.
    entry(SEARCH, "GridSearchCV", Kind::Search),
    entry(SEARCH, "RandomizedSearchCV", Kind::Search),
    entry(HALVING, "HalvingGridSearchCV", Kind::Search),
    entry(HALVING, "HalvingRandomSearchCV", Kind::Search),
    // Data inside estimators.
    entry(LABEL, "LabelBinarizer", Kind::Data),
    entry(SGD_FAST, "Hinge", Kind::Data),
    entry(SGD_FAST, "ModifiedHuber", Kind::Data),
    entry(SGD_FAST, "SquaredHinge", Kind::Data),
    entry(SGD_FAST, "Log", Kind::Data),
    entry(SGD_FAST, "SquaredLoss", Kind::Data),
    entry(SGD_FAST, "Huber", Kind::Data),
    entry(SGD_FAST, "EpsilonInsensitive", Kind::Data),
    entry(SGD_FAST, "SquaredEpsilonInsensitive", Kind::Data),
    entry(LOSS, "CyHalfBinomialLoss", Kind::Data),
    entry(LOSS, "CyHalfMultinomialLoss", Kind::Data),
    entry(LOSS, "CyHuberLoss", Kind::Data),
    entry(LOSS, "CyHalfSquaredError", Kind::Data),
    entry(CSR, "csr_matrix", Kind::Data),
    // What a pickled search carries besides its best estimator: its
    // splitter, scorer, metadata-routing records and `cv_results_`
    // (masked arrays). Never read, never called.
    entry(SPLIT, "StratifiedKFold", Kind::Data),
    entry(SPLIT, "KFold", Kind::Data),
    entry(SPLIT, "ShuffleSplit", Kind::Data),
    entry(SPLIT, "StratifiedShuffleSplit", Kind::Data),
    entry(SPLIT, "RepeatedStratifiedKFold", Kind::Data),
    entry(SPLIT, "RepeatedKFold", Kind::Data),
    entry(SPLIT, "PredefinedSplit", Kind::Data),
    entry(SCORER, "_PassthroughScorer", Kind::Data),
    entry(SCORER, "_Scorer", Kind::Data),
    entry(SCORER, "_PredictScorer", Kind::Data),
    entry(SCORER, "_ProbaScorer", Kind::Data),
    entry(SCORER, "_ThresholdScorer", Kind::Data),
    entry(SCORER, "_MultimetricScorer", Kind::Data),
    entry(METADATA, "MetadataRequest", Kind::Data),
    entry(METADATA, "MethodMetadataRequest", Kind::Data),
    entry(MASKED, "MaskedArray", Kind::Data),
    entry(MASKED, "_mareconstruct", Kind::Data),
];

/// The registry entry of a pickled class, by module path and name.
pub(crate) fn lookup(class: &Global) -> Option<&'static Entry> {
    REGISTRY
        .iter()
        .find(|e| e.name == class.name && e.modules.contains(&class.module.as_str()))
}

/// The unpickler allowlist: every class of [`REGISTRY`] under each of its
/// module paths.
pub fn sklearn_policy() -> Policy {
    let mut p = Policy::new();
    for e in REGISTRY {
        for module in e.modules {
            p.allow(module, e.name);
        }
    }
    p
}

/// The classifiers the registry can build, for error messages.
pub(crate) fn classifier_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = REGISTRY
        .iter()
        .filter(|e| matches!(e.kind, Kind::Classifier(_)))
        .map(|e| e.name)
        .collect();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_allowed_under_every_path_and_nothing_else() {
        let p = sklearn_policy();
        for e in REGISTRY {
            for m in e.modules {
                assert!(p.is_allowed(m, e.name), "{m}.{}", e.name);
            }
        }
        assert!(!p.is_allowed("os", "system"));
        assert!(!p.is_allowed("sklearn.ensemble._forest", "RandomForestClassifier"));
    }

    #[test]
    fn lookup_finds_old_and_new_paths() {
        let g = |m: &str, n: &str| Global {
            module: m.into(),
            name: n.into(),
        };
        for m in LOGISTIC {
            assert!(matches!(
                lookup(&g(m, "LogisticRegression")).map(|e| e.kind),
                Some(Kind::Classifier(_))
            ));
        }
        assert!(lookup(&g("sklearn.linear_model", "LogisticRegression")).is_none());
        assert!(matches!(
            lookup(&g("sklearn.model_selection._search", "GridSearchCV")).map(|e| e.kind),
            Some(Kind::Search)
        ));
    }
}
