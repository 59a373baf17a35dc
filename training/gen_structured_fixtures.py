"""Structured numpy arrays as scikit-learn pickles them (the node array of
`sklearn.tree._tree.Tree`), real and hostile, for
`crates/falcon_pickle/tests/structured.rs`, and fuzz seeds (the node arrays
for `unpickle`, tiny tree pipelines for `model`).

Usage: python3 training/gen_structured_fixtures.py
"""

import io
import os
import pickle

import joblib
import numpy as np
from sklearn.tree import DecisionTreeClassifier

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "crates/falcon_pickle/tests/fixtures/structured")
SEEDS = os.path.join(ROOT, "fuzz/seeds/unpickle")


def nodes():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 3)
    y = (X[:, 0] + X[:, 1] > 1.0).astype(int)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    return tree.tree_.__getstate__()["nodes"]


class FakeDtype:
    """Pickles as `numpy.dtype(name, False, True)` + BUILD `state`, so a
    hostile dtype state can be written that numpy itself would never make."""

    def __init__(self, name, state):
        self.name, self.state = name, state

    def __reduce__(self):
        return (np.dtype, (self.name, False, True), self.state)


class FakeArray:
    """Pickles as numpy's `_reconstruct` + BUILD with a chosen dtype."""

    def __init__(self, shape, dtype, raw):
        self.shape, self.dtype, self.raw = shape, dtype, raw

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        return (
            _reconstruct,
            (np.ndarray, (0,), b"b"),
            (1, self.shape, self.dtype, False, self.raw),
        )


def state(names, fields, itemsize):
    return (3, "|", None, names, fields, itemsize, 1, 16)


def hostile():
    i8, f8, u1 = np.dtype("<i8"), np.dtype("<f8"), np.dtype("u1")
    ok = {"a": (i8, 0), "b": (f8, 8)}
    cases = {
        "overlap": state(("a", "b"), {"a": (i8, 0), "b": (f8, 4)}, 16),
        "out_of_range": state(("a", "b"), {"a": (i8, 0), "b": (f8, 12)}, 16),
        "huge_offset": state(("a",), {"a": (i8, 2**62)}, 16),
        "negative_offset": state(("a",), {"a": (i8, -8)}, 16),
        "string_field": state(("a",), {"a": (np.dtype("S8"), 0)}, 16),
        "object_field": state(("a",), {"a": (np.dtype("O"), 0)}, 16),
        "nested": state(
            ("a",), {"a": (np.dtype([("x", "<i8")]), 0)}, 16
        ),
        "title": state(("a",), {"a": (i8, 0, "title")}, 16),
        "missing_field": state(("a", "c"), ok, 16),
        "names_not_tuple": state(["a", "b"], ok, 16),
        "zero_itemsize": state(("a", "b"), ok, 0),
        "huge_itemsize": state(("a", "b"), ok, 2**40),
        "subarray": (3, "|", (i8, (2,)), None, None, 16, 1, 16),
        "field_not_tuple": state(("a",), {"a": i8}, 16),
        "many_fields": state(
            tuple(f"f{i}" for i in range(100)),
            {f"f{i}": (u1, i) for i in range(100)},
            100,
        ),
    }
    for name, st in cases.items():
        # Two records' worth of bytes; the dtype decides what they mean.
        itemsize = st[5] if isinstance(st[5], int) and 0 < st[5] < 4096 else 16
        arr = FakeArray((2,), FakeDtype(f"V{max(itemsize, 1) if itemsize < 4096 else 16}", st), bytes(2 * itemsize))
        with open(os.path.join(OUT, f"hostile_{name}.pkl"), "wb") as f:
            pickle.dump(arr, f, protocol=4)
    # A valid dtype but a byte string too short for the shape.
    arr = FakeArray((5,), FakeDtype("V16", state(("a", "b"), ok, 16)), bytes(32))
    with open(os.path.join(OUT, "hostile_short_data.pkl"), "wb") as f:
        pickle.dump(arr, f, protocol=4)


def model_seeds():
    """Tiny tree pipelines as plain pickles for the `model` fuzz target."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    texts = [
        "free money now", "win cash prize", "meeting at noon", "lunch tomorrow?",
        "cheap pills online", "project status report", "claim your reward", "see you at the gym",
    ] * 3
    y = ["spam", "spam", "ham", "ham", "spam", "ham", "spam", "ham"] * 3
    models = {
        "tiny_tfidf_tree.pkl": make_pipeline(
            TfidfVectorizer(), DecisionTreeClassifier(max_depth=4, random_state=0)),
        "tiny_tfidf_forest.pkl": make_pipeline(
            TfidfVectorizer(), RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0)),
        "tiny_tfidf_gb.pkl": make_pipeline(
            TfidfVectorizer(), GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0)),
        "tiny_tfidf_svd_hgb.pkl": make_pipeline(
            TfidfVectorizer(), TruncatedSVD(4, random_state=0),
            HistGradientBoostingClassifier(max_iter=3, max_leaf_nodes=4, min_samples_leaf=2, random_state=0)),
    }
    seeds = os.path.join(ROOT, "fuzz/seeds/model")
    for name, m in models.items():
        m.fit(texts, y)
        with open(os.path.join(seeds, name), "wb") as f:
            pickle.dump(m, f, protocol=4)


def main():
    os.makedirs(OUT, exist_ok=True)
    n = nodes()
    be = n.astype(n.dtype.newbyteorder(">"))
    # Old scikit-learn (< 1.3): no missing_go_to_left, 56-byte records.
    old = np.zeros(len(n), dtype=[(f, n.dtype[f]) for f in n.dtype.names[:-1]])
    for f in old.dtype.names:
        old[f] = n[f]
    files = {
        "nodes_p2.pkl": lambda f: pickle.dump(n, f, protocol=2),
        "nodes_p4.pkl": lambda f: pickle.dump(n, f, protocol=4),
        "nodes_p5.pkl": lambda f: pickle.dump(n, f, protocol=5),
        "nodes.joblib": lambda f: joblib.dump(n, f),
        "nodes_be.pkl": lambda f: pickle.dump(be, f, protocol=4),
        "nodes_old.joblib": lambda f: joblib.dump(old, f),
        "nodes_fortran.pkl": lambda f: pickle.dump(
            np.asfortranarray(np.stack([n, n], axis=1)), f, protocol=4
        ),
    }
    for name, write in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            write(f)
    # Expected columns, as plain text the Rust test parses: name then values.
    with open(os.path.join(OUT, "nodes_expected.txt"), "w") as f:
        for field in n.dtype.names:
            vals = n[field]
            f.write(field + " " + " ".join(repr(float(v)) for v in vals) + "\n")
    hostile()
    model_seeds()
    os.makedirs(SEEDS, exist_ok=True)
    for name in ("nodes.joblib", "nodes_p4.pkl"):
        with open(os.path.join(OUT, name), "rb") as src, open(
            os.path.join(SEEDS, "structured_" + name), "wb"
        ) as dst:
            dst.write(src.read())


if __name__ == "__main__":
    main()
