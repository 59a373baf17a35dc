"""What a fixture case is, and how it is fitted, saved and evaluated."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import joblib
import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

import gen_parity_fixtures as g


def labels(label3, kind: str):
    """Targets: "bin" (ham/spam), "tri" (3 classes), "tri_int", ... (see gen_parity_fixtures)."""
    return g.make_labels(label3, kind)


def tfidf(**kw):
    kw.setdefault("min_df", 2)
    kw.setdefault("max_features", 1000)
    return TfidfVectorizer(**kw)


def count(**kw):
    kw.setdefault("min_df", 2)
    kw.setdefault("max_features", 1000)
    return CountVectorizer(**kw)


def jsonable(v):
    if isinstance(v, np.generic):
        v = v.item()
    return v


def outputs(p, texts) -> dict:
    """scikit-learn's outputs of the fitted predictor `p` (anything with
    predict / predict_proba / decision_function and classes_)."""
    proba = p.predict_proba(texts).tolist() if hasattr(p, "predict_proba") else None
    dec = np.asarray(p.decision_function(texts)).tolist() if hasattr(p, "decision_function") else None
    for arr in (proba, dec):
        if arr is not None:
            assert np.all(np.isfinite(np.asarray(arr, dtype=np.float64))), "non-finite output"
    return {
        "classes": [jsonable(c) for c in p.classes_],
        "predict": [jsonable(c) for c in p.predict(texts)],
        "predict_proba": proba,
        "decision_function": dec,
    }


def record_of(text: str) -> dict:
    """The record of one evaluation text: its e-mail subject and the rest."""
    subject, body = g.strip_headers(text)
    return {"title": subject, "body": body}


class Chain:
    """A model saved as separate parts: applies them in order, like a Pipeline."""

    def __init__(self, parts):
        self.parts = list(parts)
        self.classes_ = self.parts[-1].classes_

    def _x(self, texts):
        x = texts
        for p in self.parts[:-1]:
            x = p.transform(x)
        return x

    def predict(self, texts):
        return self.parts[-1].predict(self._x(texts))

    def __getattr__(self, name):
        if name in ("predict_proba", "decision_function") and hasattr(self.parts[-1], name):
            last = self.parts[-1]
            return lambda texts: getattr(last, name)(self._x(texts))
        raise AttributeError(name)


def dump(obj, path: Path, form: str) -> None:
    if form == "z":
        joblib.dump(obj, path, compress=3)
    elif form == "joblib":
        joblib.dump(obj, path)
    elif form == "pkl":
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=4)
    else:
        raise ValueError(form)


EXT = {"z": ".z.joblib", "joblib": ".joblib", "pkl": ".pkl"}


@dataclass
class Case:
    """One golden case.

    fit(train_texts, label3) returns the fitted object to save; `predictor`
    turns it into something with predict/predict_proba (default: itself;
    `Chain` for tuples and multi-file models); `forms` lists how it is saved:
    "z" / "joblib" / "pkl" save the object as one file; "parts" saves each
    element of a tuple/list as its own file (a multi-file model).
    """

    name: str
    description: str
    fit: Callable
    forms: tuple = ("z",)
    predictor: Callable = field(default=lambda m: m)
    # scikit-learn's outputs, when not `outputs` (multi-label and
    # multi-output models have their own expected format, see multi.py).
    expected: Callable | None = None
    # "text" (the model reads texts.json) or "records" (records.json:
    # one {"title", "body"} object per text, see `record_of`).
    input: str = "text"
    # For record models whose columns are named otherwise: model column ->
    # records.json key.
    columns: dict | None = None

    def save(self, model, out: Path) -> list:
        files = []
        for form in self.forms:
            if form == "parts":
                parts = []
                for i, part in enumerate(model):
                    f = f"{self.name}.part{i + 1}.joblib"
                    dump(part, out / f, "z")
                    parts.append(f)
                files.append(parts)
            else:
                f = self.name + EXT[form]
                dump(model, out / f, form)
                files.append(f)
        return files


@dataclass
class RefusedCase(Case):
    """A file Falcon must refuse, with `error_contains` in the message."""

    error_contains: str = ""
