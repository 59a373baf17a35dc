"""MLPClassifier (issue #12, part 3): every activation, sparse input (from a
vectorizer) and dense input (after TruncatedSVD), binary, multi-class and
multi-label targets, string and integer labels, inside meta-estimators.

Fits stay small (max_features <= 400, hidden layers of 8-32 units, few
iterations: ConvergenceWarning is expected and ignored) so the family adds
a few seconds of fit time and well under 1 MB of files."""

from __future__ import annotations

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import StackingClassifier
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from .common import Case, RefusedCase, count, labels, tfidf
from .multi import _tags, multilabel_outputs


def mlp(hidden, activation, **kw):
    kw.setdefault("max_iter", 60)
    kw.setdefault("random_state", 0)
    return MLPClassifier(hidden, activation=activation, **kw)


def _pipe(kind, *steps, y=None):
    def fit(x, label3):
        p = Pipeline([(f"s{i}", s() if callable(s) else s) for i, s in enumerate(steps)])
        return p.fit(x, y(x, label3) if y else labels(label3, kind))

    return fit


def _vec(**kw):
    kw.setdefault("max_features", 400)
    return lambda: tfidf(**kw)


def cases():
    return [
        Case("mlp_tfidf_relu32_tri", "Tfidf(300) -> MLPClassifier((32,), relu, adam), 3 classes (softmax)",
             _pipe("tri", _vec(max_features=300), lambda: mlp((32,), "relu"))),
        Case("mlp_tfidf_tanh16x8_bin", "Tfidf(1,2; 400) -> MLPClassifier((16, 8), tanh), binary (logistic out)",
             _pipe("bin", _vec(ngram_range=(1, 2)), lambda: mlp((16, 8), "tanh")), forms=("pkl",)),
        Case("mlp_count_tfidft_logistic_lbfgs_triint", "Count(400) -> TfidfTransformer -> MLPClassifier((16,), logistic, lbfgs), labels 0/1/2",
             _pipe("tri_int", lambda: count(max_features=400), TfidfTransformer,
                   lambda: mlp((16,), "logistic", solver="lbfgs", max_iter=40))),
        Case("mlp_tfidf_identity_sgd_binint", "Tfidf(400) -> MLPClassifier((8,), identity, sgd), labels 0/1",
             _pipe("bin_int", _vec(), lambda: mlp((8,), "identity", solver="sgd", learning_rate_init=0.1))),
        Case("mlp_tfidf_relu16x16x8_binobj", "Tfidf(char_wb 2-3; 250) -> MLPClassifier((16, 16, 8), relu), non-ASCII labels",
             _pipe("bin_obj", _vec(analyzer="char_wb", ngram_range=(2, 3), max_features=250), lambda: mlp((16, 16, 8), "relu"))),
        Case("mlp_svd40_relu32x16_tri", "Tfidf(300) -> TruncatedSVD(40) -> MLPClassifier((32, 16), relu): dense input, 3 classes",
             _pipe("tri", _vec(max_features=300), lambda: TruncatedSVD(40, random_state=0), lambda: mlp((32, 16), "relu", max_iter=200))),
        Case("mlp_svd30_tanh16_bin", "Tfidf(300) -> TruncatedSVD(30) -> MLPClassifier((16,), tanh, lbfgs): dense input, binary",
             _pipe("bin", _vec(max_features=300), lambda: TruncatedSVD(30, random_state=0), lambda: mlp((16,), "tanh", solver="lbfgs", max_iter=100))),
        Case("mlp_svd20_logistic8_tri", "Tfidf(300) -> TruncatedSVD(20) -> MLPClassifier((8,), logistic), 3 classes",
             _pipe("tri", _vec(max_features=300), lambda: TruncatedSVD(20, random_state=0), lambda: mlp((8,), "logistic", max_iter=300))),
        Case("mlp_multilabel_tfidf_relu16", "Tfidf(400) -> MLPClassifier((16,), relu) on 4 tags: multi-label (logistic out, p > 0.5)",
             _pipe(None, _vec(), lambda: mlp((16,), "relu", max_iter=100), y=_tags), expected=multilabel_outputs),
        Case("mlp_stacking_mnb_mlp_lr", "Tfidf(200) -> StackingClassifier([MNB, MLP((16,), relu)]) -> LogisticRegression, 3 classes",
             _pipe("tri", _vec(max_features=200), lambda: StackingClassifier(
                 [("nb", MultinomialNB()), ("mlp", mlp((16,), "relu", max_iter=40))],
                 final_estimator=LogisticRegression(max_iter=1000, random_state=0), cv=3))),
        Case("mlp_calibrated_tanh_bin", "Tfidf(200) -> CalibratedClassifierCV(MLP((8,), tanh), cv=3) sigmoid, binary",
             _pipe("bin", _vec(max_features=200), lambda: CalibratedClassifierCV(mlp((8,), "tanh", max_iter=40), cv=3))),
        RefusedCase("refused_mlp_float32", "Tfidf(dtype=float32) -> MLPClassifier: float32 coefs_, float32 BLAS products",
                    _pipe("bin", _vec(dtype=np.float32, max_features=100), lambda: mlp((4,), "relu", max_iter=5)),
                    error_contains="float32"),
    ]
