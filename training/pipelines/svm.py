"""Kernel SVMs (issue #12, part 1): SVC and NuSVC with every kernel, fitted
on sparse rows (libsvm's sparse path) and on dense rows after TruncatedSVD
(its dense path), binary and multi-class, ovr/ovo, break_ties, with and
without probability=True, and inside the meta-estimators."""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import StackingClassifier
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import linear_kernel
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC, SVR, NuSVC

from .common import Case, RefusedCase, count, labels, tfidf


def _labels(x, label3, kind):
    """"quad": the 3 classes plus a fourth, easy-ham e-mails under 600
    characters, so one-vs-one has 6 pairs for 4 classes."""
    if kind == "quad":
        return ["short-ham" if lab == "easy-ham" and len(t) < 600 else lab for t, lab in zip(x, label3)]
    return labels(label3, kind)


def _pipe(kind, *steps):
    def fit(x, label3):
        p = Pipeline([(f"s{i}", s()) for i, s in enumerate(steps)])
        return p.fit(x, _labels(x, label3, kind))

    return fit


def svc(**kw):
    kw.setdefault("random_state", 0)
    return lambda: SVC(**kw)


def nusvc(**kw):
    kw.setdefault("random_state", 0)
    return lambda: NuSVC(**kw)


def small_tfidf(**kw):
    kw.setdefault("max_features", 500)
    return lambda: tfidf(**kw)


def svd(n):
    return lambda: TruncatedSVD(n, random_state=0)


def _precomputed(x, label3):
    vec = tfidf(max_features=300)
    xt = vec.fit_transform(x)
    return (vec, SVC(kernel="precomputed").fit(linear_kernel(xt), labels(label3, "bin")))


def _callable(x, label3):
    return Pipeline([("vec", tfidf(max_features=300)), ("svc", SVC(kernel=linear_kernel))]).fit(x, labels(label3, "bin"))


def _svr(x, label3):
    vec = tfidf(max_features=300)
    y = np.array([1.0 if lab == "spam" else 0.0 for lab in label3])
    return (vec.fit(x), SVR().fit(vec.transform(x), y))


def cases():
    return [
        # Sparse rows: libsvm's sparse path.
        Case("svc_linear_tfidf_bin", "Tfidf(500) -> SVC(linear), binary",
             _pipe("bin", small_tfidf(), svc(kernel="linear"))),
        Case("svc_linear_c30_prob_tri", "Count(1,3) -> TfidfTransformer -> SVC(linear, C=30, probability=True), 3 classes",
             _pipe("tri", lambda: count(ngram_range=(1, 3)), TfidfTransformer,
                   svc(kernel="linear", C=30, probability=True))),
        Case("svc_rbf_char_prob_tri", "Tfidf(char 1-2, 300) -> SVC(rbf, probability=True), 3 classes",
             _pipe("tri", small_tfidf(analyzer="char", ngram_range=(1, 2), max_features=300),
                   svc(probability=True))),
        Case("svc_rbf_prob_bin", "Tfidf(500) -> SVC(rbf, C=10, probability=True), binary (string labels)",
             _pipe("bin", small_tfidf(), svc(C=10, probability=True))),
        Case("svc_rbf_gamma_auto_break_ties_tri_int", "Tfidf(500) -> SVC(rbf, gamma='auto', C=100, break_ties=True), integer labels",
             _pipe("tri_int", small_tfidf(), svc(gamma="auto", C=100, break_ties=True))),
        Case("svc_poly_ovo_tri", "Tfidf(500) -> SVC(poly, degree=3, gamma=2, coef0=1, ovo), 3 classes",
             _pipe("tri", small_tfidf(), svc(kernel="poly", degree=3, gamma=2.0, coef0=1.0,
                                             decision_function_shape="ovo"))),
        Case("svc_poly2_prob_bin_int", "Count(300) -> SVC(poly, degree=2, probability=True), integer binary labels",
             _pipe("bin_int", lambda: count(max_features=300), svc(kernel="poly", degree=2, probability=True))),
        Case("svc_sigmoid_bin", "Tfidf(500) -> SVC(sigmoid, gamma=0.5, coef0=-0.5), binary",
             _pipe("bin", small_tfidf(), svc(kernel="sigmoid", gamma=0.5, coef0=-0.5))),
        Case("svc_rbf_quad_ovo_prob", "Tfidf(500) -> SVC(rbf, ovo, probability=True), 4 classes (6 pairs)",
             _pipe("quad", small_tfidf(), svc(decision_function_shape="ovo", probability=True))),
        Case("svc_linear_quad_break_ties", "Tfidf(500) -> SVC(linear, break_ties=True, probability=True), 4 classes",
             _pipe("quad", small_tfidf(), svc(kernel="linear", break_ties=True, probability=True))),
        Case("nusvc_rbf_prob_tri", "Tfidf(500) -> NuSVC(rbf, nu=0.3, probability=True), 3 classes",
             _pipe("tri", small_tfidf(), nusvc(nu=0.3, probability=True))),
        Case("nusvc_linear_bin", "Tfidf(500) -> NuSVC(linear, nu=0.2), binary",
             _pipe("bin", small_tfidf(), nusvc(kernel="linear", nu=0.2))),
        # Dense rows after TruncatedSVD: libsvm's dense path.
        Case("svd_svc_rbf_prob_tri", "Tfidf -> TruncatedSVD(40) -> SVC(rbf, probability=True), 3 classes",
             _pipe("tri", tfidf, svd(40), svc(probability=True))),
        Case("svd_svc_linear_bin", "Tfidf -> TruncatedSVD(20) -> SVC(linear, C=5), binary",
             _pipe("bin", tfidf, svd(20), svc(kernel="linear", C=5))),
        Case("svd_svc_poly_ovo_quad", "Tfidf -> TruncatedSVD(30) -> SVC(poly, degree=3, ovo), 4 classes",
             _pipe("quad", tfidf, svd(30), svc(kernel="poly", degree=3, coef0=1.0, decision_function_shape="ovo"))),
        Case("svd_nusvc_sigmoid_prob_tri", "Tfidf -> TruncatedSVD(20) -> NuSVC(sigmoid, gamma=1, probability=True), 3 classes",
             _pipe("tri", tfidf, svd(20), nusvc(kernel="sigmoid", gamma=1.0, nu=0.3, probability=True))),
        # Inside the meta-estimators.
        Case("calib_svc_rbf_tri", "Tfidf(500) -> CalibratedClassifierCV(SVC(rbf), cv=3), 3 classes",
             _pipe("tri", small_tfidf(), lambda: CalibratedClassifierCV(SVC(), cv=3))),
        Case("ovr_svc_prob_tri", "Tfidf(500) -> OneVsRestClassifier(SVC(rbf, probability=True)), 3 classes",
             _pipe("tri", small_tfidf(), lambda: OneVsRestClassifier(SVC(probability=True, random_state=0)))),
        Case("stacking_mnb_svc_tri", "Tfidf(500) -> StackingClassifier([MNB, SVC(probability=True), NuSVC]) -> LR, 3 classes",
             _pipe("tri", small_tfidf(), lambda: StackingClassifier(
                 [("nb", MultinomialNB()), ("svc", SVC(probability=True, random_state=0)),
                  ("nu", NuSVC(nu=0.3, kernel="linear"))],
                 final_estimator=LogisticRegression(max_iter=1000)))),
        # Refused by name.
        RefusedCase("refused_svc_precomputed", "(Tfidf, SVC(kernel='precomputed')): a kernel-matrix model",
                    _precomputed, forms=("z",), error_contains='kernel is "precomputed"'),
        RefusedCase("refused_svc_callable_kernel", "Tfidf -> SVC(kernel=linear_kernel): a Python kernel function",
                    _callable, forms=("z",), error_contains="linear_kernel"),
        RefusedCase("refused_svr", "(Tfidf, SVR): a regressor",
                    _svr, forms=("z",), error_contains="SVR"),
    ]
