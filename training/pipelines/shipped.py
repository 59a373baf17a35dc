"""Pipelines shaped like the ones projects ship (the list in issue #11),
where they combine families the other modules test one by one."""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier, StackingClassifier
from sklearn.feature_selection import SelectPercentile, chi2
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import SVC

from .common import Case, Chain, labels, tfidf


def _select_calibrated_sgd(x, label3):
    p = Pipeline([
        ("vec", tfidf()),
        ("sel", SelectPercentile(chi2, percentile=5)),
        ("clf", CalibratedClassifierCV(SGDClassifier(random_state=0), cv=3)),
    ])
    return p.fit(x, labels(label3, "tri"))


def _union_ovr_two_files(x, label3):
    union = FeatureUnion([
        ("char", tfidf(analyzer="char", ngram_range=(3, 5), max_features=2000)),
        ("word", tfidf(ngram_range=(1, 2), max_features=2000)),
    ])
    clf = OneVsRestClassifier(LogisticRegression(max_iter=1000, random_state=0))
    clf.fit(union.fit_transform(x), labels(label3, "tri"))
    return (union, clf)


def _stack_mnb_svc_forest(x, label3):
    """Issue #12's combined example: the three families one stack."""
    stack = StackingClassifier(
        [("nb", MultinomialNB()),
         ("svc", SVC(probability=True, random_state=0)),
         ("rf", RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0))],
        final_estimator=LogisticRegression(max_iter=1000))
    p = Pipeline([("vec", tfidf(max_features=500)), ("clf", stack)])
    return p.fit(x, labels(label3, "tri"))


def cases():
    return [
        Case("shipped_select_calibrated_sgd",
             "Tfidf -> SelectPercentile(chi2, 5) -> CalibratedClassifierCV(SGDClassifier, cv=3), 3 classes",
             _select_calibrated_sgd),
        Case("shipped_union_ovr_two_files",
             "FeatureUnion(char 3-5, word 1-2) + OneVsRestClassifier(LogisticRegression), saved as two files",
             _union_ovr_two_files, forms=("parts",), predictor=Chain),
        Case("shipped_stack_mnb_svc_forest",
             "Tfidf(500) -> StackingClassifier([MNB, SVC(rbf, probability=True), RandomForest(10)]) -> "
             "LogisticRegression, 3 classes",
             _stack_mnb_svc_forest),
    ]
