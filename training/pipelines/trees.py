"""Decision trees and tree ensembles (issue #12): DecisionTreeClassifier,
ExtraTreeClassifier, RandomForestClassifier, ExtraTreesClassifier,
GradientBoostingClassifier, on sparse input (straight from the vectorizer:
scikit-learn reads each feature from the float32 CSR row) and dense input
(after TruncatedSVD), binary and multi-class, string and integer labels,
a multi-output forest, and inside meta-estimators.

Models are kept small (10-30 trees, max_depth 6-10, vocabularies of 300-1000
terms) so the whole family fits in a few seconds and its files stay small.
"""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

from .common import Case, RefusedCase, count, labels, tfidf
from .multi import _two_outputs, multioutput_outputs


def _pipe(kind, make_vec, *steps):
    def fit(x, label3):
        parts = [("vec", make_vec())] + [(f"s{i}", s()) for i, s in enumerate(steps)]
        return Pipeline(parts).fit(x, labels(label3, kind))

    return fit


def svd(n=40):
    return lambda: TruncatedSVD(n, random_state=0)


def rf(**kw):
    kw.setdefault("n_estimators", 20)
    kw.setdefault("max_depth", 8)
    kw.setdefault("random_state", 0)
    return lambda: RandomForestClassifier(**kw)


def et(**kw):
    kw.setdefault("n_estimators", 20)
    kw.setdefault("max_depth", 8)
    kw.setdefault("random_state", 0)
    return lambda: ExtraTreesClassifier(**kw)


def gb(**kw):
    kw.setdefault("n_estimators", 15)
    kw.setdefault("max_depth", 3)
    kw.setdefault("random_state", 0)
    return lambda: GradientBoostingClassifier(**kw)


def hgb(**kw):
    kw.setdefault("max_iter", 15)
    kw.setdefault("max_leaf_nodes", 15)
    kw.setdefault("random_state", 0)
    return lambda: HistGradientBoostingClassifier(**kw)


def _hgb_parts(**kw):
    """A vectorizer and a HistGradientBoostingClassifier fitted on its
    output made dense: two files that chain a sparse row into a model that
    only takes dense input."""

    def fit(x, label3):
        vec = count(max_features=50, binary=True)
        xt = vec.fit_transform(x).toarray()
        return (vec, hgb(**kw)().fit(xt, labels(label3, "bin")))

    return fit


def _multioutput_forest(x, label3):
    p = Pipeline([("vec", tfidf(max_features=500)), ("clf", rf(n_estimators=10)())])
    return p.fit(x, _two_outputs(x, label3))


def _multioutput_tree(x, label3):
    p = Pipeline([("vec", tfidf(max_features=500)), ("clf", DecisionTreeClassifier(max_depth=8, random_state=0))])
    return p.fit(x, _two_outputs(x, label3))


def _stacking(x, label3):
    p = Pipeline([
        ("vec", count(max_features=500)),
        ("clf", StackingClassifier(
            [("nb", MultinomialNB()), ("rf", rf(n_estimators=10, max_depth=6)())],
            final_estimator=LogisticRegression(max_iter=1000, random_state=0), cv=3)),
    ])
    return p.fit(x, labels(label3, "tri"))


def cases():
    return [
        # Single trees.
        Case("tree_dt_tfidf_tri", "Tfidf -> DecisionTreeClassifier(max_depth=10), 3 classes (sparse float32 compare)",
             _pipe("tri", tfidf, lambda: DecisionTreeClassifier(max_depth=10, random_state=0))),
        Case("tree_dt_count_bin_int", "Count -> DecisionTreeClassifier(max_depth=8, class_weight='balanced'), int labels",
             _pipe("bin_int", count, lambda: DecisionTreeClassifier(max_depth=8, class_weight="balanced", random_state=0))),
        Case("tree_dt_svd_bin", "Tfidf -> TruncatedSVD(30) -> DecisionTreeClassifier(max_depth=8), binary (dense)",
             _pipe("bin", tfidf, svd(30), lambda: DecisionTreeClassifier(max_depth=8, random_state=0))),
        Case("tree_dt_bestfirst_tri", "Tfidf -> DecisionTreeClassifier(max_leaf_nodes=25) (best-first builder), 3 classes",
             _pipe("tri", tfidf, lambda: DecisionTreeClassifier(max_leaf_nodes=25, random_state=0))),
        Case("tree_extratree_tfidf_tri_int", "Tfidf -> ExtraTreeClassifier(max_depth=10), int labels",
             _pipe("tri_int", tfidf, lambda: ExtraTreeClassifier(max_depth=10, random_state=0))),
        # Forests.
        Case("forest_rf_tfidf_tri", "Tfidf -> RandomForestClassifier(20, max_depth=8), 3 classes (sparse)",
             _pipe("tri", tfidf, rf()), forms=("z", "pkl")),
        Case("forest_rf_tfidf12_bin", "Tfidf(1,2, 300 terms) -> RandomForestClassifier(30, max_depth=6, class_weight='balanced_subsample'), binary",
             _pipe("bin", lambda: tfidf(ngram_range=(1, 2), max_features=300),
                   rf(n_estimators=30, max_depth=6, class_weight="balanced_subsample"))),
        Case("forest_rf_count_bin_int", "Count -> RandomForestClassifier(15, max_depth=10, bootstrap=False), int labels",
             _pipe("bin_int", count, rf(n_estimators=15, max_depth=10, bootstrap=False))),
        Case("forest_rf_svd_tri", "Tfidf -> TruncatedSVD(40) -> RandomForestClassifier(20), 3 classes (dense)",
             _pipe("tri", tfidf, svd(40), rf())),
        Case("forest_rf_svd_bin_obj", "Tfidf -> TruncatedSVD(20) -> RandomForestClassifier(10, min_samples_leaf=3), object labels",
             _pipe("bin_obj", tfidf, svd(20), rf(n_estimators=10, min_samples_leaf=3))),
        Case("forest_et_tfidf_tri", "Tfidf -> ExtraTreesClassifier(20, max_depth=10), 3 classes (sparse)",
             _pipe("tri", tfidf, et(max_depth=10))),
        Case("forest_et_svd_bin", "Tfidf -> TruncatedSVD(30) -> ExtraTreesClassifier(20), binary (dense)",
             _pipe("bin", tfidf, svd(30), et())),
        Case("forest_rf_multioutput", "Tfidf -> RandomForestClassifier(10) on two outputs (ham/spam, short/long)",
             _multioutput_forest, expected=multioutput_outputs),
        # Gradient boosting.
        Case("gb_tfidf_bin", "Tfidf -> GradientBoostingClassifier(15, max_depth=3), binary (logit link)",
             _pipe("bin", tfidf, gb())),
        Case("gb_tfidf_tri", "Tfidf -> GradientBoostingClassifier(10, max_depth=3), 3 classes (multinomial, softmax)",
             _pipe("tri", tfidf, gb(n_estimators=10))),
        Case("gb_count_bin_int_exp", "Count -> GradientBoostingClassifier(loss='exponential', subsample=0.8), int labels",
             _pipe("bin_int", count, gb(loss="exponential", subsample=0.8))),
        Case("gb_svd_tri_int_zero", "Tfidf -> TruncatedSVD(30) -> GradientBoostingClassifier(init='zero', learning_rate=0.3), int labels (dense)",
             _pipe("tri_int", tfidf, svd(30), gb(n_estimators=10, init="zero", learning_rate=0.3))),
        Case("gb_svd_bin", "Tfidf -> TruncatedSVD(20) -> GradientBoostingClassifier(20, max_depth=2), binary (dense)",
             _pipe("bin", tfidf, svd(20), gb(n_estimators=20, max_depth=2))),
        # Histogram gradient boosting (dense input only).
        Case("hgb_svd_bin", "Tfidf -> TruncatedSVD(30) -> HistGradientBoostingClassifier(15), binary",
             _pipe("bin", tfidf, svd(30), hgb())),
        Case("hgb_svd_tri", "Tfidf -> TruncatedSVD(30) -> HistGradientBoostingClassifier(10, l2=1.0), 3 classes",
             _pipe("tri", tfidf, svd(30), hgb(max_iter=10, l2_regularization=1.0))),
        Case("hgb_svd_tri_int_classweight", "Tfidf -> TruncatedSVD(20) -> HistGradientBoostingClassifier(class_weight='balanced', max_depth=4), int labels",
             _pipe("tri_int", tfidf, svd(20), hgb(class_weight="balanced", max_depth=4))),
        RefusedCase("refused_hgb_sparse_input", "Count (file 1) + HistGradientBoostingClassifier fitted on dense counts (file 2): a sparse row into a dense-only model",
                    _hgb_parts(), forms=("parts",), error_contains="receives a sparse matrix"),
        RefusedCase("refused_hgb_categorical", "Count + HistGradientBoostingClassifier(categorical_features=[0, 1]) fitted on dense binary counts",
                    _hgb_parts(categorical_features=[0, 1]), forms=("parts",), error_contains="categorical"),
        Case("tree_dt_multioutput", "Tfidf -> DecisionTreeClassifier(max_depth=8) on two outputs (ham/spam, short/long)",
             _multioutput_tree, expected=multioutput_outputs),
        # Meta-estimators around forests.
        Case("forest_calib_rf_tri", "Tfidf -> CalibratedClassifierCV(RandomForestClassifier(10), cv=3), 3 classes",
             _pipe("tri", tfidf, lambda: CalibratedClassifierCV(rf(n_estimators=10)(), cv=3))),
        Case("forest_stack_mnb_rf_lr_tri", "Count -> StackingClassifier([MNB, RandomForest(10)]) -> LR, 3 classes",
             _stacking),
    ]
