#!/usr/bin/env python3
"""Declared text code vs the Python original, one text at a time (issue #17).

For each fixture of ``crates/falcon_engine/tests/fixtures/custom`` this
times, on the same machine and in the same run:

* Python: the real pipeline (the user's module from
  ``training/custom_code``, real NLTK), ``model.predict_proba([text])`` one
  text at a time (after the server-side ``clean`` for ``server_clean``),
  after one warm-up pass;
* Falcon: ``falcon model bench --callables ...`` over the same texts (its
  median and mean per text, after a warm-up pass).

and prints both and their ratio (mean over mean, median over median).

    python3 bench/custom_code_speed.py target/release/falcon --nltk-data DIR [--passes 3]

Pin it to one core for steadier numbers (``taskset -c 1 python3 ...``): both
sides then share that core in turn, never at once.
"""
from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "crates" / "falcon_engine" / "tests" / "fixtures" / "custom"
CODE = ROOT / "training" / "custom_code"
MODULE = {"server_clean": "app"}


def python_side(name: str, texts: list[str], passes: int) -> list[float]:
    import joblib

    module = MODULE.get(name, name)
    main = sys.modules["__main__"]
    sys.path.insert(0, str(CODE))
    mod = importlib.import_module(module)
    for k, v in vars(mod).items():
        if not k.startswith("__"):
            setattr(main, k, v)
    model = joblib.load(FIX / name / "model.joblib")
    clean = getattr(mod, "clean", None) if name == "server_clean" else None
    times = []
    for p in range(passes + 1):
        for t in texts:
            t0 = time.perf_counter()
            x = clean(t) if clean else t
            model.predict_proba([x])
            dt = time.perf_counter() - t0
            if p > 0:
                times.append(dt * 1e6)
    return times


def falcon_side(falcon: str, name: str, nltk_data: str, passes: int) -> dict:
    out = subprocess.run(
        [
            falcon, "model", "bench",
            "--model", str(FIX / name / "model.joblib"),
            "--callables", str(FIX / name / "callables.toml"),
            "--nltk-data", nltk_data,
            "--input", str(FIX / name / "texts.jsonl"),
            "--passes", str(passes),
            "--json",
        ],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("falcon")
    ap.add_argument("--nltk-data", required=True)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    import nltk

    nltk.data.path.insert(0, args.nltk_data)
    rows = []
    names = sorted(p.name for p in FIX.iterdir() if p.is_dir())
    for name in names:
        if args.only and name not in args.only:
            continue
        texts = [json.loads(l)["text"] for l in (FIX / name / "texts.jsonl").read_text().split("\n") if l]
        py = python_side(name, texts, args.passes)
        fa = falcon_side(args.falcon, name, args.nltk_data, args.passes)
        py_med, py_mean = statistics.median(py), statistics.fmean(py)
        rows.append((name, py_med, py_mean, fa["median_us"], fa["mean_us"]))
    print(f"{'fixture':18} {'python µs (median/mean)':>24} {'falcon µs (median/mean)':>24} {'× median':>9} {'× mean':>8}")
    for name, pm, pa, fm, fa in rows:
        print(f"{name:18} {pm:11.1f} {pa:11.1f}  {fm:11.1f} {fa:11.1f}  {pm / fm:8.1f} {pa / fa:7.1f}")
    worst = min(min(pm / fm, pa / fa) for _, pm, pa, fm, fa in rows)
    print(f"slowest ratio: {worst:.1f}x (target ≥ 20x)")


if __name__ == "__main__":
    main()
