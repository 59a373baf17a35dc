#!/usr/bin/env python3
"""Trees and tree ensembles, Falcon against scikit-learn, one run (issue #12).

Fits, on the demo model's training split of the spam corpus (subject + the
first 2,000 characters of the body, ham / spam):

  rf300_svd256   Tfidf(1,2) -> TruncatedSVD(256) -> RandomForestClassifier(300)
                 (the issue's benchmark pipeline; max_depth unlimited)
  rf300_sparse   Tfidf(1,2, 20,000 terms) -> RandomForestClassifier(300)
                 (sparse: scikit-learn reads each feature from the CSR row)
  et300_sparse   Tfidf(1,2, 20,000 terms) -> ExtraTreesClassifier(300)
  gb200_sparse   Tfidf(1,2, 20,000 terms) -> GradientBoostingClassifier(200)
  hgb200_svd256  Tfidf(1,2) -> TruncatedSVD(256) -> HistGradientBoostingClassifier(200)

saves each (joblib, compress=3) under --out (not committed: big), then on the
same held-out e-mails times, one text per call, median µs:

  falcon   ``<falcon> model bench --model F --input TEXTS --json`` pinned
           to one core (``taskset -c 1``);
  sklearn  ``predict_proba([text])`` of the same file loaded with joblib,
           pinned to another core (``os.sched_setaffinity``), n_jobs=None
           (scikit-learn's sequential default);

and reads ``<falcon> model inspect --json`` for the load time and the
fitted parameters' size against the file's. Prints a Markdown table.

Usage:
  python bench/trees_compare.py [--falcon target/release/falcon] [--limit 200]
                                [--passes 2] [--only NAME ...] [--out target/bench-trees]
                                [--json bench/results/trees_compare.json]
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
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "training"))
import spam_corpus  # noqa: E402
from gen_parity_fixtures import strip_headers  # noqa: E402


def tfidf(**kw):
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, **kw)


MODELS = {
    "rf300_svd256": ("Tfidf(1,2) -> TruncatedSVD(256) -> RandomForestClassifier(300)",
                     lambda: Pipeline([("vec", tfidf()), ("svd", TruncatedSVD(256, random_state=0)),
                                       ("clf", RandomForestClassifier(300, random_state=0, n_jobs=2))])),
    "rf300_sparse": ("Tfidf(1,2, 20k terms) -> RandomForestClassifier(300)",
                     lambda: Pipeline([("vec", tfidf(max_features=20000)),
                                       ("clf", RandomForestClassifier(300, random_state=0, n_jobs=2))])),
    "et300_sparse": ("Tfidf(1,2, 20k terms) -> ExtraTreesClassifier(300)",
                     lambda: Pipeline([("vec", tfidf(max_features=20000)),
                                       ("clf", ExtraTreesClassifier(300, random_state=0, n_jobs=2))])),
    "gb200_sparse": ("Tfidf(1,2, 20k terms) -> GradientBoostingClassifier(200, max_depth=3)",
                     lambda: Pipeline([("vec", tfidf(max_features=20000)),
                                       ("clf", GradientBoostingClassifier(n_estimators=200, random_state=0))])),
    "hgb200_svd256": ("Tfidf(1,2) -> TruncatedSVD(256) -> HistGradientBoostingClassifier(200)",
                      lambda: Pipeline([("vec", tfidf()), ("svd", TruncatedSVD(256, random_state=0)),
                                        ("clf", HistGradientBoostingClassifier(max_iter=200, early_stopping=False,
                                                                               random_state=0))])),
}


def training_set(cache_dir):
    msgs, _ = spam_corpus.load_corpus(cache_dir)
    tr, _ = spam_corpus.demo_split(msgs)
    x, y = [], []
    for i in tr:
        subject, body = strip_headers(msgs[i].text)
        x.append(f"{subject}\n{body[:2000]}")
        y.append("spam" if msgs[i].label3 == "spam" else "ham")
    return x, y


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


def falcon_cmd(falcon, *args):
    cmd = [falcon, *args]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1"] + cmd
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--falcon", default=str(REPO / "target" / "release" / "falcon"))
    ap.add_argument("--data", default=str(REPO / "bench" / "data" / "heldout.jsonl"))
    ap.add_argument("--cache-dir", type=Path, default=REPO / "target" / "spam-corpus")
    ap.add_argument("--out", type=Path, default=REPO / "target" / "bench-trees")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--refit", action="store_true", help="refit even if the saved model exists")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    args.out.mkdir(parents=True, exist_ok=True)
    texts = []
    with open(args.data, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
            if len(texts) >= args.limit:
                break
    train = None
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as tmp:
        for t in texts:
            tmp.write(json.dumps({"text": t}) + "\n")
        data = Path(tmp.name)
    try:
        for name, (desc, make) in MODELS.items():
            if args.only and name not in args.only:
                continue
            path = args.out / f"{name}.joblib"
            if args.refit or not path.exists():
                if train is None:
                    train = training_set(args.cache_dir)
                if hasattr(os, "sched_setaffinity"):
                    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
                started = time.perf_counter()
                model = make().fit(*train)
                fit_s = time.perf_counter() - started
                # Predict as a default-configured model does: sequentially.
                if hasattr(model[-1], "n_jobs"):
                    model[-1].n_jobs = None
                joblib.dump(model, path, compress=3)
                if hasattr(os, "sched_setaffinity"):
                    os.sched_setaffinity(0, {0})
                print(f"{name}: fitted in {fit_s:.0f} s, {path.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
            model = joblib.load(path)
            sk = time_sklearn(model, texts, args.passes)
            fa = json.loads(falcon_cmd(args.falcon, "model", "bench", "--model", str(path), "--input", str(data),
                                       "--passes", str(args.passes), "--json"))["median_us"]
            info = json.loads(falcon_cmd(args.falcon, "model", "inspect", str(path), "--json"))
            size = path.stat().st_size
            rows.append({"case": name, "description": desc, "falcon_us": fa, "sklearn_us": sk, "ratio": sk / fa,
                         "file_bytes": size, "load_ms": info["load_time_ms"],
                         "memory_bytes": info.get("memory_bytes"),
                         "memory_ratio": (info.get("memory_bytes") or 0) / size})
            print(f"{name:16s} falcon {fa:8.1f} µs  sklearn {sk:8.1f} µs  {sk / fa:6.1f}x  "
                  f"load {info['load_time_ms']:.0f} ms", file=sys.stderr)
    finally:
        data.unlink()
    print("| pipeline | Falcon µs/text | scikit-learn µs/text | ratio | file | load | fitted parameters |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| `{r['case']}`: {r['description']} | {r['falcon_us']:.1f} | {r['sklearn_us']:.0f} | "
              f"{r['ratio']:.0f}× | {r['file_bytes'] / 1e6:.1f} MB | {r['load_ms']:.0f} ms | "
              f"{r['memory_ratio']:.2f}× the file |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
