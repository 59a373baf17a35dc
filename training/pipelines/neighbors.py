"""KNeighborsClassifier (issue #12, part 3): brute force on the stored
training matrix, metric euclidean (minkowski p=2) or cosine, uniform and
distance weights, sparse input (from a vectorizer) and dense input (after
TruncatedSVD).

scikit-learn picks among training rows tied at the k-th distance with
numpy's argpartition, whose choice differs between CPUs (x86-simd-sort on
AVX-512 / AVX2, introselect elsewhere). Where the tied rows carry different
classes the answer is not determined by the model, and Falcon refuses the
text: `knn_outputs` writes `null` for those texts (found from
scikit-learn's own distances), and the parity test expects the refusal."""

from __future__ import annotations

import pickle

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.metrics import pairwise_distances
from sklearn.metrics._pairwise_distances_reduction import ArgKmin
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from .common import Case, RefusedCase, count, labels, outputs, tfidf


def _pipe(kind, *steps):
    def fit(x, label3):
        p = Pipeline([(f"s{i}", s() if callable(s) else s) for i, s in enumerate(steps)])
        return p.fit(x, labels(label3, kind))

    return fit


def _distances(knn, Q):
    """scikit-learn's distances from each query to every training row, as
    `kneighbors` selects on them (squared for euclidean)."""
    X = knn._fit_X
    if knn.effective_metric_ == "cosine":
        return pairwise_distances(Q, X, metric="cosine")
    if ArgKmin.is_usable_for(Q, X, knn.effective_metric_):
        d, ind = ArgKmin.compute(X=Q, Y=X, k=X.shape[0], metric="sqeuclidean",
                                 metric_kwargs={}, strategy="auto", return_distance=True)
        out = np.empty_like(d)
        np.put_along_axis(out, ind, d, axis=1)
        return out
    return euclidean_distances(Q, X, squared=True)


def undetermined(knn, Q) -> list[bool]:
    """Rows whose k-th nearest distance is shared by training rows of
    different classes, some of which are left out."""
    D = _distances(knn, Q)
    k = knn.n_neighbors
    out = []
    for row in D:
        s = np.sort(row)
        kth = s[k - 1]
        out.append(bool(k < len(s) and s[k] == kth and len(set(knn._y[row == kth])) > 1))
    return out


def knn_outputs(p, texts) -> dict:
    knn = p[-1]
    Q = p[:-1].transform(texts)
    und = undetermined(knn, Q)
    keep = [t for t, u in zip(texts, und) if not u]
    exp = outputs(p, keep)
    it = iter(range(len(keep)))
    rows = [None if u else next(it) for u in und]
    for key in ("predict", "predict_proba"):
        exp[key] = [None if r is None else exp[key][r] for r in rows]
    exp["undetermined"] = sum(und)
    # The pickle stream's size: a zlib-compressed training matrix of small
    # counts is far smaller than the float64 table the distances need, so
    # the memory test compares the resident size with the stream too.
    exp["pickle_bytes"] = len(pickle.dumps(p, protocol=4))
    return exp


def _small():
    return tfidf(max_features=100)


def knn(k, **kw):
    return KNeighborsClassifier(n_neighbors=k, **kw)


def cases():
    return [
        Case("knn_tfidf_cosine5_tri", "Tfidf -> KNeighborsClassifier(5, metric='cosine'), 3 classes",
             _pipe("tri", tfidf, lambda: knn(5, metric="cosine")), expected=knn_outputs),
        Case("knn_tfidf_minkowski5_distance_bin", "Tfidf(1,2) -> KNeighborsClassifier(5, weights='distance') (minkowski p=2), binary",
             _pipe("bin", lambda: tfidf(ngram_range=(1, 2)), lambda: knn(5, weights="distance")),
             expected=knn_outputs, forms=("pkl",)),
        Case("knn_tfidf_euclidean3_triint", "Tfidf -> KNeighborsClassifier(3, metric='euclidean'), labels 0/1/2",
             _pipe("tri_int", tfidf, lambda: knn(3, metric="euclidean")), expected=knn_outputs),
        Case("knn_count_cosine9_distance_binobj", "Count (integer _fit_X) -> KNeighborsClassifier(9, cosine, distance), non-ASCII labels",
             _pipe("bin_obj", count, lambda: knn(9, metric="cosine", weights="distance")), expected=knn_outputs),
        Case("knn_count_tfidft_nonorm_euclid7_tri", "Count -> TfidfTransformer(norm=None) -> KNeighborsClassifier(7, euclidean), 3 classes",
             _pipe("tri", count, lambda: TfidfTransformer(norm=None), lambda: knn(7, metric="euclidean")), expected=knn_outputs),
        Case("knn_svd40_euclid10_distance_tri", "Tfidf -> TruncatedSVD(40) -> KNeighborsClassifier(10, weights='distance'): dense, ArgKmin (GEMM)",
             _pipe("tri", tfidf, lambda: TruncatedSVD(40, random_state=0), lambda: knn(10, weights="distance")),
             expected=knn_outputs),
        Case("knn_svd30_cosine5_bin", "Tfidf -> TruncatedSVD(30) -> KNeighborsClassifier(5, cosine): dense, binary",
             _pipe("bin", lambda: tfidf(max_features=300), lambda: TruncatedSVD(30, random_state=0), lambda: knn(5, metric="cosine")),
             expected=knn_outputs),
        RefusedCase("refused_knn_kd_tree", "Tfidf -> TruncatedSVD(8) -> KNeighborsClassifier (algorithm='auto' picks a KDTree)",
                    _pipe("bin", _small, lambda: TruncatedSVD(8, random_state=0), lambda: knn(5)),
                    error_contains="sklearn.neighbors._kd_tree"),
        RefusedCase("refused_knn_in_calibration", "Tfidf -> CalibratedClassifierCV(KNeighborsClassifier): refused inside meta-estimators",
                    _pipe("bin", _small, lambda: CalibratedClassifierCV(knn(5, metric="cosine"), cv=3)),
                    error_contains="only as a model's last step"),
        RefusedCase("refused_knn_manhattan", "Tfidf -> KNeighborsClassifier(metric='manhattan')",
                    _pipe("bin", _small, lambda: knn(5, metric="manhattan")),
                    error_contains="\"manhattan\""),
    ]
