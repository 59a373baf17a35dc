"""Meta-estimators (issue #11, section 2): calibration, one-vs-rest /
one-vs-one, voting, stacking, and the cross-validated linear models."""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.linear_model import (
    LogisticRegression,
    LogisticRegressionCV,
    RidgeClassifierCV,
    SGDClassifier,
)
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from .common import Case, count, labels, tfidf


def _pipe(make_vec, make_clf, kind):
    def fit(x, label3):
        return Pipeline([("vec", make_vec()), ("clf", make_clf())]).fit(x, labels(label3, kind))

    return fit


def lr():
    return LogisticRegression(max_iter=1000, random_state=0)


def svc():
    return LinearSVC(random_state=0)


def sgd(**kw):
    kw.setdefault("random_state", 0)
    return SGDClassifier(**kw)


def _frozen(x, label3):
    from sklearn.frozen import FrozenEstimator

    y = labels(label3, "tri")
    vec = tfidf()
    xt = vec.fit_transform(x)
    svm = svc().fit(xt, y)
    cal = CalibratedClassifierCV(FrozenEstimator(svm), method="isotonic").fit(xt, y)
    return Pipeline([("vec", vec), ("clf", cal)])


def cases():
    return [
        Case("calib_svc_sigmoid_tri", "Tfidf(1,2) -> CalibratedClassifierCV(LinearSVC, cv=3) sigmoid, 3 classes",
             _pipe(lambda: tfidf(ngram_range=(1, 2)), lambda: CalibratedClassifierCV(svc(), cv=3), "tri")),
        Case("calib_svc_sigmoid_bin", "Tfidf(1,2) -> CalibratedClassifierCV(LinearSVC, cv=3) sigmoid, binary",
             _pipe(lambda: tfidf(ngram_range=(1, 2)), lambda: CalibratedClassifierCV(svc(), cv=3), "bin")),
        Case("calib_sgd_isotonic_tri", "Tfidf -> CalibratedClassifierCV(SGDClassifier, isotonic, cv=3), 3 classes",
             _pipe(tfidf, lambda: CalibratedClassifierCV(sgd(), method="isotonic", cv=3), "tri")),
        Case("calib_sgd_isotonic_bin", "Tfidf -> CalibratedClassifierCV(SGDClassifier, isotonic, cv=3), binary",
             _pipe(tfidf, lambda: CalibratedClassifierCV(sgd(), method="isotonic", cv=3), "bin")),
        Case("calib_mnb_noensemble_tri", "Count -> CalibratedClassifierCV(MultinomialNB, ensemble=False), 3 classes",
             _pipe(count, lambda: CalibratedClassifierCV(MultinomialNB(), ensemble=False), "tri")),
        Case("calib_lr_isotonic_noensemble_bin", "Tfidf -> CalibratedClassifierCV(LR, isotonic, ensemble=False), binary",
             _pipe(tfidf, lambda: CalibratedClassifierCV(lr(), method="isotonic", ensemble=False), "bin")),
        Case("calib_ovr_svc_tri", "Tfidf -> CalibratedClassifierCV(OneVsRestClassifier(LinearSVC), cv=3), 3 classes",
             _pipe(tfidf, lambda: CalibratedClassifierCV(OneVsRestClassifier(svc()), cv=3), "tri")),
        Case("calib_frozen_svc_isotonic_tri", "Tfidf -> CalibratedClassifierCV(FrozenEstimator(LinearSVC)) isotonic (the prefit form), 3 classes",
             _frozen),
        Case("ovr_lr_tri", "Tfidf -> OneVsRestClassifier(LogisticRegression), 3 classes",
             _pipe(tfidf, lambda: OneVsRestClassifier(lr()), "tri")),
        Case("ovr_svc_tri", "Tfidf -> OneVsRestClassifier(LinearSVC), 3 classes",
             _pipe(tfidf, lambda: OneVsRestClassifier(svc()), "tri")),
        Case("ovr_lr_bin", "Tfidf -> OneVsRestClassifier(LogisticRegression), binary",
             _pipe(tfidf, lambda: OneVsRestClassifier(lr()), "bin")),
        Case("ovr_mnb_tri", "Count -> OneVsRestClassifier(MultinomialNB) (no decision_function), 3 classes",
             _pipe(count, lambda: OneVsRestClassifier(MultinomialNB()), "tri")),
        Case("ovo_svc_tri", "Tfidf -> OneVsOneClassifier(LinearSVC), 3 classes",
             _pipe(tfidf, lambda: OneVsOneClassifier(svc()), "tri")),
        Case("ovo_mnb_tri", "Count -> OneVsOneClassifier(MultinomialNB) (confidences from predict_proba), 3 classes",
             _pipe(count, lambda: OneVsOneClassifier(MultinomialNB()), "tri")),
        Case("ovo_lr_bin", "Tfidf -> OneVsOneClassifier(LogisticRegression), binary",
             _pipe(tfidf, lambda: OneVsOneClassifier(lr()), "bin")),
        Case("voting_soft_weighted_tri", "Tfidf -> soft VotingClassifier([LR, MNB, SGD(modified_huber)], weights=[2, 1, 1.5])",
             _pipe(tfidf, lambda: VotingClassifier(
                 [("lr", lr()), ("nb", MultinomialNB()), ("sgd", sgd(loss="modified_huber"))],
                 voting="soft", weights=[2, 1, 1.5]), "tri")),
        Case("voting_soft_bin", "Tfidf -> soft VotingClassifier([LR, MNB]) unweighted, binary",
             _pipe(tfidf, lambda: VotingClassifier([("lr", lr()), ("nb", MultinomialNB())], voting="soft"), "bin")),
        Case("voting_hard_tri", "Tfidf -> hard VotingClassifier([LR, LinearSVC, MNB]), 3 classes",
             _pipe(tfidf, lambda: VotingClassifier([("lr", lr()), ("svc", svc()), ("nb", MultinomialNB())]), "tri")),
        Case("voting_hard_weighted_drop_tri", "Tfidf -> hard VotingClassifier([LR, drop, SGD, MNB], weights), 3 classes",
             _pipe(tfidf, lambda: VotingClassifier(
                 [("lr", lr()), ("gone", "drop"), ("sgd", sgd()), ("nb", MultinomialNB())],
                 weights=[1, 5, 2, 1]), "tri")),
        Case("stacking_auto_tri", "Tfidf -> StackingClassifier([MNB, LinearSVC, LR], final LR), stack_method auto, 3 classes",
             _pipe(tfidf, lambda: StackingClassifier(
                 [("nb", MultinomialNB()), ("svc", svc()), ("lr", lr())], final_estimator=LogisticRegression()), "tri")),
        Case("stacking_auto_bin", "Tfidf -> StackingClassifier([MNB, LinearSVC, LR], final LR), stack_method auto, binary",
             _pipe(tfidf, lambda: StackingClassifier(
                 [("nb", MultinomialNB()), ("svc", svc()), ("lr", lr())], final_estimator=LogisticRegression()), "bin")),
        Case("stacking_passthrough_tri", "Tfidf -> StackingClassifier([MNB, LinearSVC], final LR, passthrough=True), 3 classes",
             _pipe(tfidf, lambda: StackingClassifier(
                 [("nb", MultinomialNB()), ("svc", svc())], final_estimator=LogisticRegression(max_iter=1000),
                 passthrough=True), "tri")),
        Case("stacking_predict_svc_final_tri", "Tfidf -> StackingClassifier([LR via predict, MNB], final LinearSVC), 3 classes",
             _pipe(tfidf, lambda: StackingClassifier(
                 [("lr", lr()), ("nb", MultinomialNB())], final_estimator=LinearSVC(random_state=0),
                 stack_method="predict"), "tri")),
        Case("lrcv_tri", "Tfidf -> LogisticRegressionCV(cv=3), 3 classes (multinomial)",
             _pipe(tfidf, lambda: LogisticRegressionCV(cv=3, max_iter=1000), "tri")),
        Case("lrcv_liblinear_bin", "Tfidf -> LogisticRegressionCV(cv=3, solver=liblinear), binary",
             _pipe(tfidf, lambda: LogisticRegressionCV(cv=3, solver="liblinear"), "bin")),
        Case("ridgecv_tri", "Tfidf -> RidgeClassifierCV, 3 classes",
             _pipe(tfidf, lambda: RidgeClassifierCV(), "tri")),
    ]
