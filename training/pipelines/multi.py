"""Outputs beyond one label, and inputs beyond one text (issue #11, section 2):
multi-label ``OneVsRestClassifier``, ``MultiOutputClassifier``, and
``ColumnTransformer`` over records (pandas DataFrames with text columns).

Tags and records are built deterministically from the corpus:

* multi-label tags (one indicator column each): ``spam``, ``has_url`` (the
  text contains "http"), ``long`` (more than 600 characters), ``money``
  (contains "$");
* multi-output targets: (ham/spam, short/long);
* records: ``{"title": subject, "body": rest}``. Training texts are
  ``"subject\\nbody"`` (see ``gen_parity_fixtures.training_set``), split at
  the first newline; evaluation texts are raw e-mails, split by
  ``strip_headers`` (``records.json``, written by the driver with
  :func:`common.record_of`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from .common import Case, RefusedCase, jsonable, labels, record_of, tfidf

LONG = 600


def _tags(x, label3, constant_first=False):
    cols = [
        [lab == "spam" for lab in label3],
        ["http" in t for t in x],
        [len(t) > LONG for t in x],
        ["$" in t for t in x],
    ]
    if constant_first:
        cols.insert(0, [True] * len(x))
    return np.array(cols, dtype=np.int64).T


def _two_outputs(x, label3):
    return np.array(
        [[s, "long" if len(t) > LONG else "short"] for s, t in zip(labels(label3, "bin"), x)],
        dtype=object,
    )


def _train_frame(x):
    """Training texts are "subject\\nbody"."""
    rows = [t.partition("\n") for t in x]
    return pd.DataFrame({"title": [r[0] for r in rows], "body": [r[2] for r in rows]})


def _eval_frame(texts):
    return pd.DataFrame([record_of(t) for t in texts])


def multilabel_outputs(p, texts) -> dict:
    """scikit-learn's outputs of a multi-label model: `predict` is the
    indicator matrix (n_samples, n_classes); probabilities and decisions keep
    one column per class."""
    ind = p.predict(texts)
    ind = ind.toarray() if hasattr(ind, "toarray") else np.asarray(ind)
    proba = p.predict_proba(texts).tolist() if hasattr(p, "predict_proba") else None
    dec = np.asarray(p.decision_function(texts)).tolist() if hasattr(p, "decision_function") else None
    return {
        "output": "multilabel",
        "classes": [jsonable(c) for c in p.classes_],
        "predict": ind.astype(int).tolist(),
        "predict_proba": proba,
        "decision_function": dec,
    }


def multioutput_outputs(p, texts) -> dict:
    """scikit-learn's outputs of a multi-output model, per text: one label
    per output, and one probability row per output (each over its own
    `classes_`)."""
    pred = p.predict(texts)
    proba = p.predict_proba(texts) if hasattr(p, "predict_proba") else None
    n = len(texts)
    return {
        "output": "multioutput",
        "classes": [[jsonable(c) for c in cl] for cl in p.classes_],
        "predict": [[jsonable(v) for v in row] for row in pred],
        "predict_proba": None if proba is None else [[out[i].tolist() for out in proba] for i in range(n)],
        "decision_function": None,
    }


class OnRecords:
    """Evaluates a model fitted on a DataFrame on the records of the texts."""

    def __init__(self, model, rename=None):
        self.model = model
        self.rename = rename or {}
        self.classes_ = model.classes_

    def frame(self, texts):
        return _eval_frame(texts).rename(columns=self.rename)

    def predict(self, texts):
        return self.model.predict(self.frame(texts))

    def __getattr__(self, name):
        if name in ("predict_proba", "decision_function") and hasattr(self.model, name):
            return lambda texts: getattr(self.model, name)(self.frame(texts))
        raise AttributeError(name)


class OnTextColumn(OnRecords):
    def frame(self, texts):
        return pd.DataFrame({"text": list(texts)})


def _ovr(make_clf, constant_first=False):
    def fit(x, label3):
        p = Pipeline([("vec", tfidf()), ("clf", OneVsRestClassifier(make_clf()))])
        return p.fit(x, _tags(x, label3, constant_first))

    return fit


def _multioutput(x, label3):
    p = Pipeline([("vec", tfidf()), ("clf", MultiOutputClassifier(LogisticRegression(max_iter=1000, random_state=0)))])
    return p.fit(x, _two_outputs(x, label3))


def _columns(transformers, clf, frame=_train_frame, **kw):
    def fit(x, label3):
        ct = ColumnTransformer(transformers, **kw)
        p = Pipeline([("columns", ct), ("clf", clf())])
        return p.fit(frame(x), labels(label3, "tri"))

    return fit


def _product_title_frame(x):
    return _train_frame(x).rename(columns={"title": "Product Title"})


def _text_frame(x):
    return pd.DataFrame({"text": list(x)})


def _numeric_passthrough_frame(x):
    f = _train_frame(x)
    f["n_chars"] = [float(len(t)) for t in x]
    return f


def cases():
    lr = lambda: LogisticRegression(max_iter=1000, random_state=0)  # noqa: E731
    svc = lambda: LinearSVC(random_state=0)  # noqa: E731
    return [
        Case("multilabel_ovr_svc", "Tfidf -> OneVsRestClassifier(LinearSVC) on 4 tags (spam, has_url, long, money)",
             _ovr(svc), expected=multilabel_outputs),
        Case("multilabel_ovr_lr", "Tfidf -> OneVsRestClassifier(LogisticRegression) on 4 tags",
             _ovr(lr), forms=("z", "pkl"), expected=multilabel_outputs),
        Case("multilabel_ovr_constant_first", "Tfidf -> OneVsRestClassifier(LR), first tag always on: "
             "_ConstantPredictor first, so predict thresholds every tag's decision at 0.5",
             _ovr(lr, constant_first=True), expected=multilabel_outputs),
        Case("multilabel_ovr_mnb", "Tfidf -> OneVsRestClassifier(MultinomialNB): no decision_function, "
             "predict_proba > 0.5", _ovr(MultinomialNB), expected=multilabel_outputs),
        Case("multioutput_lr", "Tfidf -> MultiOutputClassifier(LogisticRegression): (ham/spam, short/long)",
             _multioutput, forms=("z", "pkl"), expected=multioutput_outputs),
        Case("columns_product_title_svc",
             'ColumnTransformer([("title", Tfidf, "Product Title")]) -> LinearSVC; remainder="drop" drops "body"',
             _columns([("title", tfidf(), "Product Title")], svc, frame=_product_title_frame),
             predictor=lambda m: OnRecords(m, {"title": "Product Title"}), input="records",
             columns={"Product Title": "title"}),
        Case("columns_title_body_weights",
             'ColumnTransformer(title: Tfidf, body: Tfidf (1,2), transformer_weights={title: 2, body: 0.5}, '
             'remainder="passthrough" with nothing left) -> LogisticRegression',
             _columns([("title", tfidf(), "title"), ("body", tfidf(ngram_range=(1, 2)), "body")], lr,
                      transformer_weights={"title": 2.0, "body": 0.5}, remainder="passthrough"),
             forms=("z", "pkl"), predictor=OnRecords, input="records"),
        Case("columns_text_only_mnb", 'ColumnTransformer([("t", Tfidf sublinear, "text")]) -> MultinomialNB: '
             'a record model answering plain texts', 
             _columns([("t", tfidf(sublinear_tf=True), "text")], MultinomialNB, frame=_text_frame),
             predictor=OnTextColumn),
        Case("columns_float32_weights_mnb",
             'ColumnTransformer(title: Tfidf float32, body: Tfidf (1,2) float32, transformer_weights={title: 2, '
             'body: 0.5}) -> MultinomialNB: weighted float32 blocks (a reported ~2e-9 gap, not reproduced)',
             _columns([("title", tfidf(dtype=np.float32), "title"),
                       ("body", tfidf(ngram_range=(1, 2), dtype=np.float32), "body")], MultinomialNB,
                      transformer_weights={"title": 2.0, "body": 0.5}),
             forms=("z",), predictor=OnRecords, input="records"),
        RefusedCase("refused_columns_numeric_passthrough",
                    'ColumnTransformer(title: Tfidf, remainder="passthrough") with a numeric column left over',
                    _columns([("title", tfidf(), "title"), ("body", tfidf(), "body")], lr,
                             frame=_numeric_passthrough_frame, remainder="passthrough"),
                    error_contains="passes the column(s) [\"n_chars\"] through"),
        RefusedCase("refused_columns_dense_output",
                    "ColumnTransformer(sparse_threshold=0): a dense hstack",
                    _columns([("title", tfidf(), "title")], lr, sparse_threshold=0.0),
                    error_contains="sparse_threshold"),
    ]

