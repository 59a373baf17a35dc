#!/usr/bin/env python3
"""Kernel SVMs, per text: Falcon against scikit-learn, one run (issue #12).

Fits the issue's two benchmark pipelines on a seeded sample of the spam
corpus's demo train split (``--train`` e-mails, binary ham/spam labels; too
big to commit, so they are made here):

  linear  Count(1,3) -> TfidfTransformer -> SVC(linear, C=30, probability=True)
  rbf     Tfidf(char 1-2, max_features=1024) -> SVC(rbf, probability=True)

saves each with joblib under ``--out``, and times on the same held-out
e-mails

  falcon   ``<falcon> model bench --model F --input TEXTS --json``: one text
           per call, median µs (pinned to one core with ``taskset``);
  sklearn  ``predict_proba([text])`` of the same file loaded with joblib,
           one text per call, median µs over ``--passes`` passes (pinned to
           another core).

It also checks that Falcon's labels and probabilities on those texts are
scikit-learn's (``falcon predict``; labels identical, every value within
1e-9), and reports each model's resident size against its file size
(``falcon model inspect --json``).

Usage:
  python bench/svm_compare.py [--falcon target/release/falcon] [--limit 200]
                              [--passes 2] [--train 1500] [--out target/bench-svm]
                              [--reuse] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "training"))
import spam_corpus  # noqa: E402

PIPELINES = {
    "svc_linear_c30_prob": (
        "Count(1,3) -> TfidfTransformer -> SVC(linear, C=30, probability=True)",
        lambda: Pipeline([("vec", CountVectorizer(ngram_range=(1, 3))), ("tfidf", TfidfTransformer()),
                          ("svc", SVC(kernel="linear", C=30, probability=True, random_state=0))]),
    ),
    "svc_rbf_char_prob": (
        "Tfidf(char 1-2, 1024 features) -> SVC(rbf, probability=True)",
        lambda: Pipeline([("vec", TfidfVectorizer(analyzer="char", ngram_range=(1, 2), max_features=1024)),
                          ("svc", SVC(probability=True, random_state=0))]),
    ),
}


def pinned(cmd, core):
    return (["taskset", "-c", str(core)] + cmd) if shutil.which("taskset") else cmd


def time_sklearn(model, texts, passes):
    for t in texts[:20]:
        model.predict_proba([t])
    samples = []
    for _ in range(passes):
        for t in texts:
            start = time.perf_counter_ns()
            model.predict_proba([t])
            samples.append((time.perf_counter_ns() - start) / 1e3)
    return statistics.median(samples)


def falcon_json(cmd):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def check_parity(falcon, path, model, texts, data):
    """Falcon's answers on the bench texts against scikit-learn's."""
    out = subprocess.run([falcon, "predict", "--model", str(path), "--input", str(data)],
                         check=True, capture_output=True, text=True).stdout
    got = [json.loads(line) for line in out.splitlines() if line.strip()]
    want_p = model.predict_proba(texts)
    want_l = model.predict(texts)
    classes = [str(c) for c in model.classes_]
    worst = 0.0
    for g, wl, wp in zip(got, want_l, want_p, strict=True):
        assert str(g["label"]) == str(wl), (g["label"], wl)
        for c, w in zip(classes, wp):
            worst = max(worst, abs(g["probabilities"][c] - w) / max(1.0, abs(w)))
    assert worst <= 1e-9, worst
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--falcon", default=str(REPO / "target" / "release" / "falcon"))
    ap.add_argument("--data", default=str(REPO / "bench" / "data" / "heldout.jsonl"))
    ap.add_argument("--cache-dir", type=Path, default=REPO / "target" / "spam-corpus")
    ap.add_argument("--out", type=Path, default=REPO / "target" / "bench-svm")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--train", type=int, default=1500,
                    help="training e-mails (a seeded sample of the demo train split; libsvm's fit is quadratic)")
    ap.add_argument("--reuse", action="store_true",
                    help="time the models already saved in --out instead of fitting them again")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    msgs, _ = spam_corpus.load_corpus(args.cache_dir)
    tr, _ = spam_corpus.demo_split(msgs)
    if args.train < len(tr):
        tr = np.sort(np.random.RandomState(0).choice(tr, args.train, replace=False))
    train_x = [msgs[i].text for i in tr]
    train_y = [msgs[i].label for i in tr]
    texts = []
    with open(args.data, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
            if len(texts) >= args.limit:
                break
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as tmp:
        for t in texts:
            tmp.write(json.dumps({"text": t}) + "\n")
        data = Path(tmp.name)
    try:
        for name, (description, make) in PIPELINES.items():
            path = args.out / f"{name}.joblib"
            fit_s = None
            if not (args.reuse and path.exists()):
                start = time.perf_counter()
                model = make().fit(train_x, train_y)
                fit_s = round(time.perf_counter() - start, 1)
                joblib.dump(model, path)
            model = joblib.load(path)
            worst = check_parity(args.falcon, path, model, texts, data)
            info = falcon_json([args.falcon, "model", "inspect", "--json", str(path)])
            os.sched_setaffinity(0, {0}) if hasattr(os, "sched_setaffinity") else None
            sk = time_sklearn(model, texts, args.passes)
            fa = falcon_json(pinned([args.falcon, "model", "bench", "--model", str(path), "--input", str(data),
                                     "--passes", str(args.passes), "--json"], 1))["median_us"]
            svc = model.steps[-1][1]
            row = {"case": name, "description": description, "train_texts": len(train_x),
                   "support_vectors": int(svc.support_vectors_.shape[0]),
                   "sv_nonzeros": int(svc.support_vectors_.nnz), "fit_s": fit_s,
                   "file_bytes": info["file_bytes"], "memory_bytes": info.get("memory_bytes"),
                   "falcon_us": fa, "sklearn_us": sk, "ratio": sk / fa, "max_rel_diff": worst}
            rows.append(row)
            print(f"{name:22s} SVs {row['support_vectors']:5d}  falcon {fa:8.1f} µs  sklearn {sk:8.1f} µs  "
                  f"{sk / fa:6.1f}x  memory/file {row['memory_bytes'] / row['file_bytes']:.2f}  "
                  f"max diff {worst:.1e}", file=sys.stderr)
    finally:
        data.unlink()
    print("| pipeline | SVs | Falcon µs/text | scikit-learn µs/text | ratio | memory / file |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| `{r['case']}`: {r['description']} | {r['support_vectors']} | {r['falcon_us']:.1f} | "
              f"{r['sklearn_us']:.0f} | {r['ratio']:.0f}× | {r['memory_bytes'] / r['file_bytes']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
