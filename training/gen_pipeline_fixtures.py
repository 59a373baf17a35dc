#!/usr/bin/env python3
"""Golden fixtures for the pipelines real projects ship (issue #11).

Each family of estimators has its own module under ``training/pipelines/``
(``files.py`` for the saving forms, ``meta.py`` for meta-estimators,
``transforms.py`` for selectors/scalers/decompositions, ...), each with a
``cases()`` function returning :class:`Case` objects.  This driver fits every
case on the parity training set, saves it in each form the case asks for, and
writes scikit-learn's own outputs on the shared texts.

Output (default ``crates/falcon_engine/tests/fixtures/pipelines/``):
  NAME.<form>...          the saved files (see ``Case.save``)
  NAME.expected.json      {"classes", "predict", "predict_proba", "decision_function"}
  manifest.json           {"cases": [{"name", "files", ...}], "refused": [...]}

A case's ``files`` entries are either one file name (the model is in one file)
or a list of file names: a model saved in several files, chained in order
(``falcon predict --model a --model b``).

Usage: python training/gen_pipeline_fixtures.py [--out DIR] [--only NAME ...] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import warnings
from pathlib import Path

import numpy as np
import sklearn
import sklearn.exceptions

TRAINING = Path(__file__).resolve().parent
sys.path.insert(0, str(TRAINING))
import gen_parity_fixtures as g  # noqa: E402
import pipelines  # noqa: E402
import spam_corpus  # noqa: E402
from pipelines.common import Case, RefusedCase, outputs, record_of  # noqa: E402

REPO = TRAINING.parent
DEFAULT_OUT = REPO / "crates" / "falcon_engine" / "tests" / "fixtures" / "pipelines"


def all_cases():
    cases, refused = [], []
    for mod in sorted(m.name for m in pkgutil.iter_modules(pipelines.__path__)):
        if mod == "common":
            continue
        m = importlib.import_module(f"pipelines.{mod}")
        for c in m.cases():
            (refused if isinstance(c, RefusedCase) else cases).append(c)
    names = [c.name for c in cases + refused]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"duplicate case names: {dup}"
    return cases, refused


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--cache-dir", type=Path, default=spam_corpus.DEFAULT_CACHE)
    ap.add_argument("--only", nargs="*", help="regenerate only these cases (the manifest keeps the others)")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    msgs, stats = spam_corpus.load_corpus(args.cache_dir)
    tr_idx, te_idx = spam_corpus.demo_split(msgs)
    train_x, label3 = g.training_set(msgs, tr_idx)
    texts = g.evaluation_texts(msgs, te_idx)
    (out / "texts.json").write_text(json.dumps(texts, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    records = [record_of(t) for t in texts]
    (out / "records.json").write_text(json.dumps(records, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    old = {}
    if (out / "manifest.json").exists():
        m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        old = {c["name"]: c for c in m.get("cases", []) + m.get("refused", [])}
    manifest = {
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": ".".join(map(str, sys.version_info[:3])),
        "dataset": stats["dataset"],
        "texts": "texts.json",
        "n_texts": len(texts),
        "tolerance": "labels identical; every probability / decision value within 1e-9 * max(1, |expected|)",
        "cases": [],
        "refused": [],
    }
    cases, refused = all_cases()
    for c in cases:
        if args.only and c.name not in args.only and c.name in old:
            manifest["cases"].append(old[c.name])
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            model = c.fit(train_x, label3)
            exp = (c.expected or outputs)(c.predictor(model), texts)
            files = c.save(model, out)
        (out / f"{c.name}.expected.json").write_text(json.dumps(exp) + "\n", encoding="utf-8")
        entry = {"name": c.name, "files": files, "expected": f"{c.name}.expected.json", "description": c.description}
        if c.input != "text":
            entry["input"] = c.input
            entry["records"] = "records.json"
        if c.columns:
            entry["columns"] = c.columns
        manifest["cases"].append(entry)
        print(f"  {c.name:40s} classes={len(exp['classes'])} files={files}")
    for c in refused:
        if args.only and c.name not in args.only and c.name in old:
            manifest["refused"].append(old[c.name])
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = c.fit(train_x, label3)
            files = c.save(model, out)
        manifest["refused"].append({"name": c.name, "files": files, "error_contains": c.error_contains, "description": c.description})
        print(f"  {c.name:40s} refused ({c.error_contains!r})")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    total = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"{len(manifest['cases'])} cases, {len(manifest['refused'])} refused; {out} holds {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
