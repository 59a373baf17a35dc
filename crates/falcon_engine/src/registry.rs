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

use crate::classify::{
    Calibrated, Classifier, Linear, NaiveBayes, OneVsOne, OneVsRest, Stacking, Svm, Voting,
};
use crate::error::Result;
use crate::transform::{self as t, Transform};

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

fn svm(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(Svm::from_object(obj, ctx.max_dense)?))
}

// Meta-estimators: built from their fitted sub-estimators (see
// `crate::classify::sub_estimator`).
fn calibrated(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(Calibrated::from_object(obj, ctx)?))
}

/// One registry entry, two estimators: a multi-label target
/// (`label_binarizer_.y_type_ == "multilabel-indicator"`) answers a set of
/// labels per text (`classify::multilabel`), any other a single label
/// (`classify::multiclass`).
fn one_vs_rest(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    if crate::classify::multilabel::y_type(obj)?.starts_with("multilabel") {
        return crate::classify::multilabel::one_vs_rest_multilabel(obj, ctx);
    }
    Ok(Box::new(OneVsRest::from_object(obj, ctx)?))
}

fn one_vs_one(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(OneVsOne::from_object(obj, ctx)?))
}

fn voting(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(Voting::from_object(obj, ctx)?))
}

fn stacking(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(Stacking::from_object(obj, ctx)?))
}

fn decision_tree(obj: &Object, _ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(crate::classify::DecisionTree::from_object(obj)?))
}

fn forest(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    crate::classify::forest::forest(obj, ctx)
}

fn gradient_boosting(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    crate::classify::boosting::gradient_boosting(obj, ctx)
}

fn hist_gradient_boosting(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    crate::classify::boosting::hist_gradient_boosting(obj, ctx)
}

fn mlp(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(crate::classify::mlp::Mlp::from_object(
        obj,
        ctx.max_dense,
    )?))
}

fn k_neighbors(obj: &Object, ctx: &Ctx) -> Result<Classifier> {
    Ok(Box::new(
        crate::classify::neighbors::KNeighbors::from_object(obj, ctx.max_dense)?,
    ))
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
// Meta-estimators' modules (`sklearn.calibration`, `sklearn.isotonic` and
// `sklearn.multiclass` never moved; `VotingClassifier` lived in
// `voting_classifier` (0.20) and `voting` (0.21) before `_voting`).
const CALIBRATION: &[&str] = &["sklearn.calibration"];
const ISOTONIC: &[&str] = &["sklearn.isotonic"];
const MULTICLASS: &[&str] = &["sklearn.multiclass"];
const VOTING: &[&str] = &[
    "sklearn.ensemble._voting",
    "sklearn.ensemble.voting",
    "sklearn.ensemble.voting_classifier",
];
const STACKING: &[&str] = &["sklearn.ensemble._stacking"];
const FROZEN: &[&str] = &["sklearn.frozen._frozen"];
const SEARCH: &[&str] = &["sklearn.model_selection._search"];
const HALVING: &[&str] = &["sklearn.model_selection._search_successive_halving"];
const SPLIT: &[&str] = &["sklearn.model_selection._split"];
const SCORER: &[&str] = &["sklearn.metrics._scorer", "sklearn.metrics.scorer"];
const METADATA: &[&str] = &["sklearn.utils._metadata_requests"];
const MASKED: &[&str] = &["numpy.ma.core", "numpy.ma"];

// `MLPClassifier` and what its pickle carries: the optimizer's state and
// the fitted `_random_state` (a numpy `RandomState`, rebuilt by numpy's
// pickle helpers; pre-1.17 numpy pickled it as `__RandomState_ctor`).
const MLP: &[&str] = &[
    "sklearn.neural_network._multilayer_perceptron",
    "sklearn.neural_network.multilayer_perceptron",
];
const MLP_OPTIMIZERS: &[&str] = &[
    "sklearn.neural_network._stochastic_optimizers",
    "sklearn.neural_network.stochastic_optimizers",
];
const NP_RANDOM_PICKLE: &[&str] = &["numpy.random._pickle", "numpy.random"];
const NP_MT19937: &[&str] = &["numpy.random._mt19937"];
const NEIGHBORS: &[&str] = &[
    "sklearn.neighbors._classification",
    "sklearn.neighbors.classification",
];

// Transforms (`crate::transform`), under their module paths since 0.20.
const VARIANCE: &[&str] = &[
    "sklearn.feature_selection._variance_threshold",
    "sklearn.feature_selection.variance_threshold",
];
const UNIVARIATE: &[&str] = &[
    "sklearn.feature_selection._univariate_selection",
    "sklearn.feature_selection.univariate_selection",
];
const MUTUAL_INFO: &[&str] = &[
    "sklearn.feature_selection._mutual_info",
    "sklearn.feature_selection.mutual_info_",
];
const FROM_MODEL: &[&str] = &[
    "sklearn.feature_selection._from_model",
    "sklearn.feature_selection.from_model",
];
const SVD: &[&str] = &[
    "sklearn.decomposition._truncated_svd",
    "sklearn.decomposition.truncated_svd",
];
// Trees (issue #12). `Tree` is the Cython class of `sklearn.tree._tree`.
const TREE_CY: &[&str] = &["sklearn.tree._tree"];
const TREES: &[&str] = &["sklearn.tree._classes", "sklearn.tree.tree"];
const FOREST: &[&str] = &["sklearn.ensemble._forest", "sklearn.ensemble.forest"];
const GB: &[&str] = &["sklearn.ensemble._gb"];
const DUMMY: &[&str] = &["sklearn.dummy"];
/// The Python loss objects and links of `sklearn._loss` (1.1+), held by
/// `GradientBoostingClassifier._loss` (1.3+).
const LOSS_PY: &[&str] = &["sklearn._loss.loss"];
const LINK: &[&str] = &["sklearn._loss.link"];
/// A `numpy.random.RandomState` (`GradientBoostingClassifier._rng`, a
/// `random_state=RandomState(...)` parameter): rebuilt as inert data from
/// its constructor helpers, never called, never used for prediction.
const RANDOM_PICKLE: &[&str] = &["numpy.random._pickle"];
const MT19937: &[&str] = &["numpy.random._mt19937"];
const BIT_GENERATOR: &[&str] = &["numpy.random.bit_generator"];
const PCG64: &[&str] = &["numpy.random._pcg64"];
const HGB: &[&str] = &["sklearn.ensemble._hist_gradient_boosting.gradient_boosting"];
const HGB_PREDICTOR: &[&str] = &["sklearn.ensemble._hist_gradient_boosting.predictor"];
const HGB_BINNING: &[&str] = &["sklearn.ensemble._hist_gradient_boosting.binning"];
const SCALERS: &[&str] = &["sklearn.preprocessing._data", "sklearn.preprocessing.data"];
// --- Outputs beyond one label, inputs beyond one text (issue #11 §2) ---
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
    entry(SVM, "SVC", Kind::Classifier(svm)),
    entry(SVM, "NuSVC", Kind::Classifier(svm)),
    entry(NB, "MultinomialNB", Kind::Classifier(naive_bayes)),
    entry(NB, "ComplementNB", Kind::Classifier(naive_bayes)),
    entry(NB, "BernoulliNB", Kind::Classifier(naive_bayes)),
    // Meta-estimators (classify/calibration.rs, multiclass.rs,
    // ensemble.rs) and the inert objects their pickles carry.
    entry(
        CALIBRATION,
        "CalibratedClassifierCV",
        Kind::Classifier(calibrated),
    ),
    entry(CALIBRATION, "_CalibratedClassifier", Kind::Data),
    entry(CALIBRATION, "_SigmoidCalibration", Kind::Data),
    entry(ISOTONIC, "IsotonicRegression", Kind::Data),
    entry(FROZEN, "FrozenEstimator", Kind::Data),
    entry(
        MULTICLASS,
        "OneVsRestClassifier",
        Kind::Classifier(one_vs_rest),
    ),
    entry(
        MULTICLASS,
        "OneVsOneClassifier",
        Kind::Classifier(one_vs_one),
    ),
    entry(MULTICLASS, "_ConstantPredictor", Kind::Data),
    entry(VOTING, "VotingClassifier", Kind::Classifier(voting)),
    entry(STACKING, "StackingClassifier", Kind::Classifier(stacking)),
    entry(LABEL, "LabelEncoder", Kind::Data),
    entry(LOGISTIC, "LogisticRegressionCV", Kind::Classifier(linear)),
    entry(RIDGE, "RidgeClassifierCV", Kind::Classifier(linear)),
    // Outputs beyond one label, inputs beyond one text.
    entry(
        MULTIOUTPUT,
        "MultiOutputClassifier",
        Kind::Classifier(crate::classify::multioutput::multi_output),
    ),
    entry(COMPOSE, "ColumnTransformer", Kind::Text),
    entry(FUNCTION, "FunctionTransformer", Kind::Data),
    // --- end of issue #11 §2 ---
    // Issue #12 part 3: neural networks (classify/mlp.rs).
    entry(MLP, "MLPClassifier", Kind::Classifier(mlp)),
    entry(MLP_OPTIMIZERS, "AdamOptimizer", Kind::Data),
    entry(MLP_OPTIMIZERS, "SGDOptimizer", Kind::Data),
    entry(NP_RANDOM_PICKLE, "__randomstate_ctor", Kind::Data),
    entry(NP_RANDOM_PICKLE, "__bit_generator_ctor", Kind::Data),
    entry(NP_RANDOM_PICKLE, "__RandomState_ctor", Kind::Data),
    entry(NP_MT19937, "MT19937", Kind::Data),
    // Nearest neighbours (classify/neighbors.rs).
    entry(
        NEIGHBORS,
        "KNeighborsClassifier",
        Kind::Classifier(k_neighbors),
    ),
    // --- end of issue #12 part 3 ---
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
    // Before 1.0 the default scorer was this function, pickled by name.
    entry(SCORER, "_passthrough_scorer", Kind::Data),
    entry(SCORER, "_Scorer", Kind::Data),
    entry(SCORER, "_PredictScorer", Kind::Data),
    entry(SCORER, "_ProbaScorer", Kind::Data),
    entry(SCORER, "_ThresholdScorer", Kind::Data),
    entry(SCORER, "_MultimetricScorer", Kind::Data),
    entry(METADATA, "MetadataRequest", Kind::Data),
    entry(METADATA, "MethodMetadataRequest", Kind::Data),
    entry(MASKED, "MaskedArray", Kind::Data),
    entry(MASKED, "_mareconstruct", Kind::Data),
    // --- Transforms between the vectorizer and the classifier
    // (`crate::transform`): selectors, scalers, decompositions. ---
    entry(
        VARIANCE,
        "VarianceThreshold",
        Kind::Transform(t::variance_threshold),
    ),
    entry(UNIVARIATE, "SelectKBest", Kind::Transform(t::select_k_best)),
    entry(
        UNIVARIATE,
        "SelectPercentile",
        Kind::Transform(t::select_percentile),
    ),
    entry(UNIVARIATE, "SelectFpr", Kind::Transform(t::select_fpr)),
    entry(UNIVARIATE, "SelectFdr", Kind::Transform(t::select_fdr)),
    entry(UNIVARIATE, "SelectFwe", Kind::Transform(t::select_fwe)),
    entry(
        UNIVARIATE,
        "GenericUnivariateSelect",
        Kind::Transform(t::generic_univariate_select),
    ),
    entry(
        FROM_MODEL,
        "SelectFromModel",
        Kind::Transform(t::select_from_model),
    ),
    entry(SVD, "TruncatedSVD", Kind::Transform(t::truncated_svd)),
    entry(
        SCALERS,
        "StandardScaler",
        Kind::Transform(t::standard_scaler),
    ),
    entry(SCALERS, "MaxAbsScaler", Kind::Transform(t::max_abs_scaler)),
    entry(SCALERS, "Normalizer", Kind::Transform(t::normalizer)),
    // Score functions, pickled by reference in a selector's `score_func`:
    // never called (only the fitted `scores_`/`pvalues_` are read).
    entry(UNIVARIATE, "chi2", Kind::Data),
    entry(UNIVARIATE, "f_classif", Kind::Data),
    entry(UNIVARIATE, "f_regression", Kind::Data),
    entry(UNIVARIATE, "f_oneway", Kind::Data),
    entry(UNIVARIATE, "r_regression", Kind::Data),
    entry(MUTUAL_INFO, "mutual_info_classif", Kind::Data),
    entry(MUTUAL_INFO, "mutual_info_regression", Kind::Data),
    // --- Trees and tree ensembles (issue #12) ---
    entry(TREE_CY, "Tree", Kind::Data),
    entry(
        TREES,
        "DecisionTreeClassifier",
        Kind::Classifier(decision_tree),
    ),
    entry(
        TREES,
        "ExtraTreeClassifier",
        Kind::Classifier(decision_tree),
    ),
    entry(TREES, "DecisionTreeRegressor", Kind::Data),
    entry(FOREST, "RandomForestClassifier", Kind::Classifier(forest)),
    entry(FOREST, "ExtraTreesClassifier", Kind::Classifier(forest)),
    entry(
        GB,
        "GradientBoostingClassifier",
        Kind::Classifier(gradient_boosting),
    ),
    entry(DUMMY, "DummyClassifier", Kind::Data),
    entry(LOSS_PY, "HalfBinomialLoss", Kind::Data),
    entry(LOSS_PY, "HalfMultinomialLoss", Kind::Data),
    entry(LOSS_PY, "ExponentialLoss", Kind::Data),
    entry(LOSS, "CyExponentialLoss", Kind::Data),
    // `CyHalfMultinomialLoss` has state, so Cython pickles it through this
    // reconstructor function (allowed as inert data, never called).
    entry(LOSS, "__pyx_unpickle_CyHalfMultinomialLoss", Kind::Data),
    entry(LINK, "LogitLink", Kind::Data),
    entry(LINK, "HalfLogitLink", Kind::Data),
    entry(LINK, "MultinomialLogit", Kind::Data),
    entry(LINK, "Interval", Kind::Data),
    entry(RANDOM_PICKLE, "__randomstate_ctor", Kind::Data),
    entry(RANDOM_PICKLE, "__bit_generator_ctor", Kind::Data),
    entry(RANDOM_PICKLE, "__generator_ctor", Kind::Data),
    entry(PCG64, "PCG64", Kind::Data),
    entry(
        HGB,
        "HistGradientBoostingClassifier",
        Kind::Classifier(hist_gradient_boosting),
    ),
    entry(HGB_PREDICTOR, "TreePredictor", Kind::Data),
    entry(HGB_BINNING, "_BinMapper", Kind::Data),
    entry(MT19937, "MT19937", Kind::Data),
    entry(BIT_GENERATOR, "SeedSequence", Kind::Data),
    entry(BIT_GENERATOR, "__pyx_unpickle_SeedSequence", Kind::Data),
    // --- end of issue #12 trees ---
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
        assert!(!p.is_allowed("sklearn.ensemble._weight_boosting", "AdaBoostClassifier"));
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
