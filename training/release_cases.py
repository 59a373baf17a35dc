# -*- coding: utf-8 -*-
"""Fit and save Falcon's golden fixtures with *one* scikit-learn release.

Run by ``gen_release_matrix.py`` inside a virtualenv that holds an old (or the
newest) scikit-learn with the numpy/scipy/joblib of its time.  It must run on
every interpreter of the matrix, Python 2.7 included, so it is written in the
common subset of Python 2.7 and 3.x: no f-strings, no annotations, no pathlib.

Input:  ``--data DATA.json`` = {"train": [...], "label3": [...], "texts": [...]}
Output: into ``--out DIR``:
  NAME.p2.pkl        pickle.dump(pipeline, f, protocol=2)
  NAME.z.joblib      joblib.dump(pipeline, f, compress=3)
  NAME.joblib        joblib.dump(pipeline, f)  (uncompressed, some cases)
  NAME.expected.json {"classes", "predict", "predict_proba", "decision_function"}
  manifest.json      versions, the text semantics, and the cases

Every case exists only in the releases that have its estimator and options;
``cases()`` encodes those differences (the old spelling of a loss, the old
default solver, the vendored joblib of scikit-learn < 0.23).
"""

from __future__ import print_function, unicode_literals

import argparse
import io
import json
import os
import pickle
import platform
import sys
import unicodedata
import warnings

warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import sklearn  # noqa: E402
from sklearn.feature_extraction.text import (  # noqa: E402
    CountVectorizer,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.linear_model import (  # noqa: E402
    LogisticRegression,
    PassiveAggressiveClassifier,
    Perceptron,
    RidgeClassifier,
    SGDClassifier,
)
from sklearn.decomposition import TruncatedSVD  # noqa: E402
from sklearn.feature_selection import SelectKBest, SelectPercentile, chi2  # noqa: E402
from sklearn.calibration import CalibratedClassifierCV  # noqa: E402
from sklearn.ensemble import VotingClassifier  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.multiclass import OneVsRestClassifier  # noqa: E402
from sklearn.naive_bayes import BernoulliNB, ComplementNB, MultinomialNB  # noqa: E402
from sklearn.preprocessing import MaxAbsScaler, Normalizer, StandardScaler  # noqa: E402
from sklearn.pipeline import FeatureUnion, Pipeline  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402


def version_tuple(v):
    out = []
    for part in v.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


SK = version_tuple(sklearn.__version__)

if SK < (0, 23):
    # The joblib scikit-learn vendored until 0.23: its class paths
    # (sklearn.externals.joblib.numpy_pickle.*) end up in the files.
    from sklearn.externals import joblib  # noqa: E402
    JOBLIB = "sklearn.externals.joblib " + getattr(joblib, "__version__", "(vendored)")
else:
    import joblib  # noqa: E402
    JOBLIB = "joblib " + joblib.__version__

SGD_LOG = "log" if SK < (1, 1) else "log_loss"


def tfidf(**kw):
    kw.setdefault("min_df", 2)
    kw.setdefault("max_features", 1000)
    return TfidfVectorizer(**kw)


def count(**kw):
    kw.setdefault("min_df", 2)
    kw.setdefault("max_features", 1000)
    return CountVectorizer(**kw)


def pipe(vec, clf):
    if isinstance(vec, list):
        return Pipeline(vec + [("clf", clf)])
    return Pipeline([("vec", vec), ("clf", clf)])


def lr(**kw):
    kw.setdefault("random_state", 0)
    return LogisticRegression(**kw)


def sgd(loss, **kw):
    # `max_iter`/`tol` exist since 0.19; fixed so every release runs 50 epochs.
    return SGDClassifier(loss=loss, random_state=0, max_iter=50, tol=None, **kw)


def cases():
    """(name, label kind, formats, description, factory)."""
    out = []

    def add(name, labels, desc, factory, formats=("z",)):
        out.append((name, labels, formats, desc, factory))

    add("lr_bin_default", "bin",
        "TfidfVectorizer + LogisticRegression() with this release's defaults (liblinear before 0.22), binary",
        lambda: pipe(tfidf(), lr()), ("z", "p2", "joblib"))
    add("lr_tri_default", "tri",
        "TfidfVectorizer (1,2) sublinear + LogisticRegression() defaults, 3-class (one-vs-rest before 0.22, multinomial after)",
        lambda: pipe(tfidf(ngram_range=(1, 2), sublinear_tf=True, max_features=2000), lr(max_iter=1000)))
    if SK < (1, 8):
        add("lr_multinomial", "tri", "LogisticRegression(solver='lbfgs', multi_class='multinomial'), 3-class",
            lambda: pipe(tfidf(), lr(solver="lbfgs", multi_class="multinomial", max_iter=1000)))
        add("lr_ovr_lbfgs", "tri", "LogisticRegression(solver='lbfgs', multi_class='ovr'), 3-class",
            lambda: pipe(count(stop_words="english", max_df=0.5), lr(solver="lbfgs", multi_class="ovr", max_iter=1000)))
    # liblinear refuses more than two classes from 1.8 on.
    kind = "tri" if SK < (1, 8) else "bin"
    add("lr_liblinear_charwb", kind, "TfidfVectorizer char_wb (2,3) + LogisticRegression(solver='liblinear'), %s" % kind,
        lambda: pipe(tfidf(analyzer="char_wb", ngram_range=(2, 3)), lr(solver="liblinear")))
    add("lr_int_labels", "tri_int", "integer labels 0/1/2, TfidfVectorizer strip_accents='unicode' + LogisticRegression",
        lambda: pipe(tfidf(strip_accents="unicode"), lr(solver="lbfgs", max_iter=1000)))
    add("linearsvc_tri", "tri", "TfidfVectorizer + LinearSVC, 3-class",
        lambda: pipe(tfidf(), LinearSVC(random_state=0)))
    add("linearsvc_bin_char", "bin", "TfidfVectorizer char (1,3) + LinearSVC, binary",
        lambda: pipe(tfidf(analyzer="char", ngram_range=(1, 3)), LinearSVC(random_state=0)))
    add("sgd_log", "tri", "SGDClassifier(loss='%s'), 3-class" % SGD_LOG,
        lambda: pipe(tfidf(), sgd(SGD_LOG)))
    add("sgd_modified_huber", "bin", "SGDClassifier(loss='modified_huber'), binary",
        lambda: pipe(tfidf(), sgd("modified_huber")))
    add("sgd_hinge_tri", "tri", "CountVectorizer binary=True + SGDClassifier(loss='hinge'), 3-class",
        lambda: pipe(count(binary=True), sgd("hinge")))
    add("ridge_tri", "tri", "TfidfVectorizer + RidgeClassifier, 3-class",
        lambda: pipe(tfidf(), RidgeClassifier()))
    add("pa_bin", "bin", "TfidfVectorizer + PassiveAggressiveClassifier, binary",
        lambda: pipe(tfidf(), PassiveAggressiveClassifier(random_state=0, max_iter=50, tol=None)))
    add("perceptron_tri", "tri", "CountVectorizer + Perceptron, 3-class",
        lambda: pipe(count(), Perceptron(random_state=0, max_iter=50, tol=None)))
    add("mnb_count", "tri", "CountVectorizer (1,2) + MultinomialNB, 3-class",
        lambda: pipe(count(ngram_range=(1, 2)), MultinomialNB()))
    add("cnb_tfidf", "bin", "TfidfVectorizer + ComplementNB, binary",
        lambda: pipe(tfidf(), ComplementNB()))
    add("bnb_count", "tri", "CountVectorizer + BernoulliNB, 3-class",
        lambda: pipe(count(), BernoulliNB()))
    add("hashing_tfidf_lr", "bin", "HashingVectorizer(2**12, alternate_sign=False) + TfidfTransformer + LogisticRegression",
        lambda: pipe([("hash", HashingVectorizer(n_features=2 ** 12, alternate_sign=False)),
                      ("tfidf", TfidfTransformer())], lr(solver="liblinear")))
    if SK < (0, 21):
        add("hashing_non_negative", "tri", "HashingVectorizer(2**10, non_negative=True) (removed in 0.21) + MultinomialNB",
            lambda: pipe(HashingVectorizer(n_features=2 ** 10, non_negative=True), MultinomialNB()))
    add("count_tfidf_transformer_mnb", "tri", "CountVectorizer + TfidfTransformer(sublinear_tf) + MultinomialNB",
        lambda: pipe([("count", count()), ("tfidf", TfidfTransformer(sublinear_tf=True))], MultinomialNB()))
    add("union_word_char_svc", "tri", "FeatureUnion(word Tfidf, char_wb Tfidf) + LinearSVC",
        lambda: pipe([("union", FeatureUnion([("w", tfidf()), ("c", tfidf(analyzer="char_wb", ngram_range=(3, 4)))]))],
                     LinearSVC(random_state=0)))
    # Issue #11's estimators and saving forms, as far as each release has
    # them (all of these exist since 0.20).
    add("select_percentile_lr", "tri", "TfidfVectorizer + SelectPercentile(chi2, 10) + LogisticRegression",
        lambda: pipe([("vec", tfidf()), ("sel", SelectPercentile(chi2, percentile=10))], lr(max_iter=1000)))
    add("count_kbest_tfidf_mnb", "bin", "CountVectorizer + SelectKBest(chi2, 200) + TfidfTransformer + MultinomialNB",
        lambda: pipe([("vec", count()), ("sel", SelectKBest(chi2, k=200)), ("tfidf", TfidfTransformer())], MultinomialNB()))
    add("svd_normalizer_bnb", "tri", "TfidfVectorizer + TruncatedSVD(30) + Normalizer + BernoulliNB",
        lambda: pipe([("vec", tfidf()), ("svd", TruncatedSVD(30, random_state=0)), ("norm", Normalizer())], BernoulliNB()))
    add("scaler_nomean_lr", "bin", "TfidfVectorizer + StandardScaler(with_mean=False) + LogisticRegression",
        lambda: pipe([("vec", tfidf()), ("scale", StandardScaler(with_mean=False))], lr(solver="liblinear")))
    add("maxabs_svc", "tri", "TfidfVectorizer + MaxAbsScaler + LinearSVC",
        lambda: pipe([("vec", tfidf()), ("scale", MaxAbsScaler())], LinearSVC(random_state=0)))
    add("tuple_vec_clf", "tri", "(TfidfVectorizer, LogisticRegression) saved as a tuple, not a Pipeline",
        lambda: pipe(tfidf(), lr(max_iter=1000)), ("tuple",))
    add("gridsearch_lr", "bin", "GridSearchCV(Pipeline(TfidfVectorizer, LogisticRegression), C, cv=3) saved whole",
        lambda: GridSearchCV(pipe(tfidf(), lr(solver="liblinear")), {"clf__C": [0.3, 3.0]}, cv=3))
    add("calibrated_svc", "tri_arr", "TfidfVectorizer + CalibratedClassifierCV(LinearSVC, cv=3) (sigmoid)",
        lambda: pipe(tfidf(), CalibratedClassifierCV(LinearSVC(random_state=0), cv=3)))
    add("calibrated_sgd_isotonic", "bin_arr", "TfidfVectorizer + CalibratedClassifierCV(SGDClassifier, isotonic, cv=3)",
        lambda: pipe(tfidf(), CalibratedClassifierCV(sgd("hinge"), method="isotonic", cv=3)))
    add("ovr_lr", "tri", "TfidfVectorizer + OneVsRestClassifier(LogisticRegression)",
        lambda: pipe(tfidf(), OneVsRestClassifier(lr(solver="liblinear"))))
    add("soft_voting", "tri", "TfidfVectorizer + soft VotingClassifier(LR, MultinomialNB, SGD modified_huber), weights",
        lambda: pipe(tfidf(), VotingClassifier([("lr", lr(max_iter=1000)), ("nb", MultinomialNB()),
                                                ("sgd", sgd("modified_huber"))], voting="soft", weights=[2, 1, 1])))
    return out


def make_labels(label3, kind):
    if kind == "tri":
        return list(label3)
    if kind == "bin":
        return ["spam" if lab == "spam" else "ham" for lab in label3]
    if kind in ("tri_arr", "bin_arr"):
        # As a numpy array: CalibratedClassifierCV of 1.0 counts examples per
        # class with `y == class_`, which a Python list defeats.
        return np.asarray(make_labels(label3, kind[:3]))
    if kind == "tri_int":
        m = {"easy-ham": 0, "hard-ham": 1, "spam": 2}
        return np.array([m[lab] for lab in label3], dtype=np.int64)
    raise ValueError(kind)


def jsonable(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bytes) and not isinstance(v, str):
        v = v.decode("utf-8")
    if sys.version_info[0] == 2 and isinstance(v, str):
        v = v.decode("utf-8")
    return v


def expected_outputs(p, texts):
    def has(method):
        try:
            return hasattr(p, method)
        except Exception:  # old if_delegate_has_method raised other errors
            return False

    proba = p.predict_proba(texts).tolist() if has("predict_proba") else None
    dec = np.asarray(p.decision_function(texts)).tolist() if has("decision_function") else None
    return {
        "classes": [jsonable(c) for c in p.classes_],
        "predict": [jsonable(c) for c in p.predict(texts)],
        "predict_proba": proba,
        "decision_function": dec,
    }


def save(p, out, name, formats):
    files = []
    if "joblib" in formats:
        joblib.dump(p, os.path.join(out, name + ".joblib"))
        files.append(name + ".joblib")
    if "z" in formats:
        joblib.dump(p, os.path.join(out, name + ".z.joblib"), compress=3)
        files.append(name + ".z.joblib")
    if "tuple" in formats:
        # The fitted steps as a plain tuple (vectorizer, classifier).
        joblib.dump(tuple(step for _, step in p.steps), os.path.join(out, name + ".tuple.z.joblib"), compress=3)
        files.append(name + ".tuple.z.joblib")
    if "p2" in formats:
        with open(os.path.join(out, name + ".p2.pkl"), "wb") as f:
            pickle.dump(p, f, protocol=2)
        files.append(name + ".p2.pkl")
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--texts-ref", default="../../texts.json",
                    help="texts file as the manifest names it, relative to --out")
    args = ap.parse_args()
    with io.open(args.data, encoding="utf-8") as f:
        data = json.load(f)
    train, label3, texts = data["train"], data["label3"], data["texts"]
    if not os.path.isdir(args.out):
        os.makedirs(args.out)
    manifest = {
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": JOBLIB,
        "python": platform.python_version(),
        "unicode": unicodedata.unidata_version,
        "texts": args.texts_ref,
        "n_texts": len(texts),
        "cases": [],
    }
    for name, labels, formats, desc, factory in cases():
        p = factory()
        p.fit(train, make_labels(label3, labels))
        files = save(p, args.out, name, formats)
        with io.open(os.path.join(args.out, name + ".expected.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps(expected_outputs(p, texts), ensure_ascii=False))
        manifest["cases"].append({"name": name, "labels": labels, "files": files,
                                  "expected": name + ".expected.json", "description": desc})
        print("  " + name + ": " + ", ".join(files))
    with io.open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
