#!/usr/bin/env python3
"""Per-text latency of every fixture pipeline: Falcon against scikit-learn, one run.

For each case of ``crates/falcon_engine/tests/fixtures/pipelines/manifest.json``
(the shapes real projects ship: tuples, several files, searches,
meta-estimators, selectors, scalers, decompositions, ...) this times

  falcon   ``<falcon> model bench --model F [--model F2] --input TEXTS --json``:
           Falcon's own loop, one text per call, median µs;
  sklearn  ``predict_proba([text])`` (``predict`` when the model has no
           probabilities) of the same file loaded with joblib, one text per
           call, median µs over ``--passes`` passes;

on the same held-out e-mails, and prints a Markdown table with the ratio.
Both run on one core each (``taskset`` when available), one after the other,
so the ratio compares two measurements of the same minute.

Usage:
  python bench/pipeline_compare.py [--falcon target/release/falcon] [--limit 200]
                                   [--passes 2] [--only NAME ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import joblib

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "crates" / "falcon_engine" / "tests" / "fixtures" / "pipelines"
sys.path.insert(0, str(REPO / "training" / "pipelines"))


class Chain:
    """Parts of a model saved separately, applied in order."""

    def __init__(self, parts):
        self.parts = parts

    def _x(self, texts):
        for p in self.parts[:-1]:
            texts = p.transform(texts)
        return texts

    def __getattr__(self, name):
        last = self.parts[-1]
        if name in ("predict", "predict_proba") and hasattr(last, name):
            return lambda texts: getattr(last, name)(self._x(texts))
        raise AttributeError(name)


def load_python(files):
    objs = [joblib.load(FIXTURES / f) for f in files]
    parts = []
    for o in objs:
        parts.extend(o if isinstance(o, (tuple, list)) else [o])
    return parts[0] if len(parts) == 1 else Chain(parts)


def time_sklearn(model, texts, passes):
    fn = model.predict_proba if hasattr(model, "predict_proba") else model.predict
    for t in texts[:20]:
        fn([t])
    samples = []
    for _ in range(passes):
        for t in texts:
            start = time.perf_counter_ns()
            fn([t])
            samples.append((time.perf_counter_ns() - start) / 1e3)
    return statistics.median(samples)


def time_falcon(falcon, files, data, passes):
    cmd = [falcon, "model", "bench", "--input", str(data), "--passes", str(passes), "--json"]
    for f in files:
        cmd += ["--model", str(FIXTURES / f)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1"] + cmd
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["median_us"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--falcon", default=str(REPO / "target" / "release" / "falcon"))
    ap.add_argument("--data", default=str(REPO / "bench" / "data" / "heldout.jsonl"))
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    texts = []
    with open(args.data, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
            if len(texts) >= args.limit:
                break
    manifest = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as tmp:
        for t in texts:
            tmp.write(json.dumps({"text": t}) + "\n")
        data = Path(tmp.name)
    try:
        for case in manifest["cases"]:
            if args.only and case["name"] not in args.only:
                continue
            entry = case["files"][0]
            files = entry if isinstance(entry, list) else [entry]
            try:
                model = load_python(files)
            except Exception as e:  # a record-input model, say
                print(f"skip {case['name']}: {e}", file=sys.stderr)
                continue
            try:
                sk = time_sklearn(model, texts, args.passes)
                fa = time_falcon(args.falcon, files, data, args.passes)
            except (subprocess.CalledProcessError, ValueError, KeyError) as e:
                print(f"skip {case['name']}: {e}", file=sys.stderr)
                continue
            rows.append({"case": case["name"], "description": case["description"],
                         "falcon_us": fa, "sklearn_us": sk, "ratio": sk / fa})
            print(f"{case['name']:40s} falcon {fa:8.1f} µs  sklearn {sk:8.1f} µs  {sk / fa:6.1f}x", file=sys.stderr)
    finally:
        data.unlink()
    print("| pipeline | Falcon µs/text | scikit-learn µs/text | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| `{r['case']}`: {r['description']} | {r['falcon_us']:.1f} | {r['sklearn_us']:.0f} | {r['ratio']:.0f}× |")
    if rows:
        print(f"\nmin ratio {min(r['ratio'] for r in rows):.1f}×, median {statistics.median(r['ratio'] for r in rows):.1f}×")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
