"""Transforms between the vectorizer and the classifier (issue #11,
section 2): feature selectors, scalers, TruncatedSVD, Normalizer, and
FeatureUnions / nested Pipelines of them."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.feature_selection import (
    GenericUnivariateSelect,
    SelectFromModel,
    SelectKBest,
    SelectPercentile,
    VarianceThreshold,
    chi2,
    f_classif,
    mutual_info_classif,
)
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import BernoulliNB, MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import MaxAbsScaler, Normalizer, StandardScaler
from sklearn.svm import LinearSVC

from .common import Case, RefusedCase, count, labels, tfidf


def _pipe(kind, *steps):
    def fit(x, label3):
        p = Pipeline([(f"s{i}", s() if callable(s) else s) for i, s in enumerate(steps)])
        return p.fit(x, labels(label3, kind))

    return fit


def _seeded(make):
    """mutual_info_classif draws from numpy's global generator (its
    random_state cannot be bound without pickling a partial): seed it."""

    def build():
        np.random.seed(0)
        return make()

    return build


def _lr():
    return LogisticRegression(max_iter=1000, random_state=0)


def cases():
    return [
        Case("sel_tfidf_percentile_chi2_lr", "Tfidf -> SelectPercentile(chi2, 5) -> LogisticRegression",
             _pipe("tri", tfidf, lambda: SelectPercentile(chi2, percentile=5), _lr)),
        Case("sel_count_kbest_chi2_tfidft_mnb", "Count -> SelectKBest(chi2, k=200) -> TfidfTransformer -> MultinomialNB",
             _pipe("bin", count, lambda: SelectKBest(chi2, k=200), TfidfTransformer, MultinomialNB)),
        Case("sel_tfidf_frommodel_l1svc_lr", "Tfidf -> SelectFromModel(LinearSVC(l1, dual=False)) -> LogisticRegression",
             _pipe("tri", tfidf,
                   lambda: SelectFromModel(LinearSVC(penalty="l1", dual=False, C=0.5, random_state=0)), _lr)),
        Case("sel_tfidf_frommodel_maxfeat_median_sgd", "Tfidf -> SelectFromModel(LR, threshold='0.5*median', max_features=300) -> SGD",
             _pipe("bin", tfidf,
                   lambda: SelectFromModel(_lr(), threshold="0.5*median", max_features=300),
                   lambda: SGDClassifier(random_state=0))),
        Case("sel_count_variance_bnb", "Count -> VarianceThreshold(0.001) -> BernoulliNB",
             _pipe("bin", count, lambda: VarianceThreshold(0.001), BernoulliNB)),
        Case("sel_tfidf_generic_fpr_lr", "Tfidf -> GenericUnivariateSelect(f_classif, mode='fpr', param=0.05) -> LogisticRegression",
             _pipe("tri", tfidf, lambda: GenericUnivariateSelect(f_classif, mode="fpr", param=0.05), _lr)),
        Case("sel_tfidf_generic_kbest_mi_svc", "Tfidf -> GenericUnivariateSelect(mutual_info_classif, mode='k_best', 150) -> LinearSVC",
             _pipe("bin", tfidf,
                   _seeded(lambda: GenericUnivariateSelect(mutual_info_classif, mode="k_best", param=150)),
                   lambda: LinearSVC(random_state=0))),
        Case("scale_tfidf_std_nomean_lr", "Tfidf -> StandardScaler(with_mean=False) -> LogisticRegression",
             _pipe("bin", tfidf, lambda: StandardScaler(with_mean=False), _lr)),
        Case("svd_tfidf_svd50_std_lr", "Tfidf -> TruncatedSVD(50) -> StandardScaler() (dense, centred) -> LogisticRegression",
             _pipe("tri", tfidf, lambda: TruncatedSVD(50, random_state=0), StandardScaler, _lr)),
        Case("svd_tfidf_svd30_norm_bnb", "Tfidf -> TruncatedSVD(30) -> Normalizer -> BernoulliNB",
             _pipe("tri", tfidf, lambda: TruncatedSVD(30, random_state=0), Normalizer, BernoulliNB)),
        Case("svd_tfidf_svd20_norml1_maxabs_sgdlog", "Tfidf -> TruncatedSVD(20) -> Normalizer('l1') -> MaxAbsScaler -> SGD(log_loss)",
             _pipe("bin", tfidf, lambda: TruncatedSVD(20, random_state=0), lambda: Normalizer("l1"), MaxAbsScaler,
                   lambda: SGDClassifier(loss="log_loss", random_state=0))),
        Case("scale_tfidf_maxabs_svc", "Tfidf -> MaxAbsScaler -> LinearSVC",
             _pipe("tri", tfidf, MaxAbsScaler, lambda: LinearSVC(random_state=0))),
        Case("scale_tfidf_normmax_sgd", "Tfidf -> Normalizer(norm='max') -> SGDClassifier",
             _pipe("bin", tfidf, lambda: Normalizer(norm="max"), lambda: SGDClassifier(random_state=0))),
        Case("union_words_svd_lr", "FeatureUnion(words=Tfidf, svd=Pipeline(Tfidf(char), TruncatedSVD(40))) -> LogisticRegression",
             _pipe("tri",
                   lambda: FeatureUnion([
                       ("words", tfidf()),
                       ("svd", Pipeline([("tfidf", tfidf(analyzer="char_wb", ngram_range=(2, 3))),
                                         ("svd", TruncatedSVD(40, random_state=0))])),
                   ]),
                   _lr)),
        Case("union_select_svd_weighted_sgd", "FeatureUnion(Count->SelectKBest(chi2,100), Tfidf->SVD(10)->Normalizer, weights) -> SGD",
             _pipe("bin",
                   lambda: FeatureUnion([
                       ("kbest", Pipeline([("count", count()), ("kbest", SelectKBest(chi2, k=100))])),
                       ("svd", Pipeline([("tfidf", tfidf()), ("svd", TruncatedSVD(10, random_state=0)),
                                         ("norm", Normalizer())])),
                   ], transformer_weights={"kbest": 0.5, "svd": 2.0}),
                   lambda: SGDClassifier(loss="modified_huber", random_state=0))),
        Case("svd_tfidf32_svd25_lr", "TfidfVectorizer(dtype=float32) -> TruncatedSVD(25) (float32 product) -> LogisticRegression",
             _pipe("bin", lambda: tfidf(dtype=np.float32), lambda: TruncatedSVD(25, random_state=0), _lr)),
        Case("svd_tfidf_svd40_svd10_lr", "Tfidf -> TruncatedSVD(40) -> TruncatedSVD(10) (dense input: BLAS in scikit-learn) -> LogisticRegression",
             _pipe("tri", tfidf, lambda: TruncatedSVD(40, random_state=0), lambda: TruncatedSVD(10, random_state=0), _lr)),
        RefusedCase("refused_union_all_dense", "FeatureUnion of two TruncatedSVD branches: np.hstack, a dense union",
                    _pipe("bin",
                          lambda: FeatureUnion([
                              ("a", Pipeline([("t", tfidf()), ("svd", TruncatedSVD(5, random_state=0))])),
                              ("b", Pipeline([("c", count()), ("svd", TruncatedSVD(5, random_state=0))])),
                          ]),
                          _lr),
                    error_contains="returns a dense array"),
        RefusedCase("refused_std_mean_on_sparse", "Count -> StandardScaler() on sparse: scikit-learn cannot centre it",
                    lambda x, l3: _refused_std(x, l3), error_contains="Cannot center sparse"),
    ]


def _refused_std(x, label3):
    # Fitted on dense counts, then pickled in front of a sparse vectorizer:
    # scikit-learn's own predict raises, so Falcon refuses it at load.
    vec = count(max_features=50)
    X = vec.fit_transform(x)
    sc = StandardScaler().fit(X.toarray())
    clf = _lr().fit(sc.transform(X.toarray()), labels(label3, "bin"))
    return Pipeline([("vec", vec), ("sc", sc), ("clf", clf)])
