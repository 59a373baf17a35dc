#!/usr/bin/env python3
"""Compare per-email prediction latency of Falcon, scikit-learn and ONNX Runtime
on the same held-out e-mails, in one run.

Engines (all single-threaded, one e-mail per call unless stated):
  falcon           `<falcon> model bench --model M --input D --json` (Falcon's own
                   timing loop; prints {"n", "median_us", "p90_us", "p99_us", "mean_us"})
  sklearn          pipeline.predict_proba([text]), one e-mail at a time, --passes passes
  sklearn-batch    pipeline.predict_proba(all_texts) / n  (amortised; no per-email p99)
  onnxruntime      skl2onnx export of the same pipeline (StringTensorType([None, 1]),
                   zipmap off, TfidfVectorizer tokenexp r"\\b\\w\\w+\\b" as the skl2onnx
                   docs suggest for regex tokenisers), one e-mail per session.run,
                   intra/inter-op threads = 1; also reports max |Δprob| against
                   scikit-learn and the number of flipped labels.

Prints a Markdown table (engine, median µs/email, p99, mean, ratio vs Falcon);
--json FILE writes everything as JSON too.

Usage:
  python bench/engine_compare.py [--falcon target/release/falcon] [--model models/spam/1/model.joblib]
                                 [--data bench/data/heldout.jsonl] [--limit N] [--passes 2]
                                 [--json out.json] [--skip-onnx] [--skip-falcon]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import sklearn

REPO = Path(__file__).resolve().parent.parent


def load_texts(path: Path, limit: int | None) -> list[str]:
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
                if limit and len(texts) >= limit:
                    break
    return texts


def summarize(samples_ns: list[int] | np.ndarray) -> dict:
    us = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return {
        "n": int(us.size),
        "median_us": float(np.median(us)),
        "p90_us": float(np.percentile(us, 90)),
        "p99_us": float(np.percentile(us, 99)),
        "mean_us": float(us.mean()),
    }


def time_one_at_a_time(fn, texts: list[str], passes: int, warmup: int = 20) -> dict:
    for t in texts[:warmup]:
        fn(t)
    samples = []
    for _ in range(passes):
        gc.collect()
        for t in texts:
            t0 = time.perf_counter_ns()
            fn(t)
            samples.append(time.perf_counter_ns() - t0)
    return summarize(samples)


def bench_falcon(falcon: str, model: Path, data: Path, limit: int | None, tmp: Path) -> dict:
    if not Path(falcon).is_file():
        return {"error": f"binary not found: {falcon}"}
    if limit:
        lines = [line for line in data.read_text(encoding="utf-8").splitlines() if line.strip()][:limit]
        data = tmp / "input.jsonl"
        data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cmd = [falcon, "model", "bench", "--model", str(model), "--input", str(data), "--json"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    if r.returncode != 0:
        return {"error": f"exit {r.returncode}: {r.stderr.strip()[:300]}"}
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"error": f"unparseable output: {r.stdout.strip()[:300]!r}"}
    missing = {"n", "median_us", "p99_us"} - set(out)
    if missing:
        return {"error": f"output lacks {sorted(missing)}: {out}"}
    return out


def bench_sklearn(pipe, texts: list[str], passes: int) -> tuple[dict, dict]:
    single = time_one_at_a_time(lambda t: pipe.predict_proba([t]), texts, passes)
    per_pass = []
    pipe.predict_proba(texts[:20])
    for _ in range(max(passes, 3)):
        gc.collect()
        t0 = time.perf_counter_ns()
        pipe.predict_proba(texts)
        per_pass.append((time.perf_counter_ns() - t0) / len(texts))
    batch = {
        "n": len(texts),
        "median_us": float(np.median(per_pass)) / 1e3,
        "p90_us": None,
        "p99_us": None,
        "mean_us": float(np.mean(per_pass)) / 1e3,
        "passes": len(per_pass),
    }
    return single, batch


def bench_onnx(pipe, texts: list[str], passes: int) -> dict:
    try:
        import onnxruntime as ort
        import skl2onnx
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import StringTensorType
    except ImportError as e:
        return {"error": f"not installed ({e}); pip install -r bench/requirements.txt"}

    vec_name, vec = pipe.steps[0]
    clf = pipe.steps[-1][1]
    options = {id(clf): {"zipmap": False}}
    vec_opts = {"locale": "C.UTF-8"}  # ORT's StringNormalizer default (en_US.UTF-8) is often not installed
    if getattr(vec, "token_pattern", None) == r"(?u)\b\w\w+\b":
        # skl2onnx would otherwise use "[a-zA-Z0-9_]+" (1-char tokens too); RE2 has no (?u),
        # and its \w / \b are ASCII-only.
        vec_opts["tokenexp"] = r"\b\w\w+\b"
    options[id(vec)] = vec_opts
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = to_onnx(pipe, initial_types=[("input", StringTensorType([None, 1]))], options=options)
    convert_s = time.perf_counter() - t0
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(onx.SerializeToString(), so, providers=["CPUExecutionProvider"])
    out_names = [o.name for o in sess.get_outputs()]
    if "probabilities" not in out_names or "label" not in out_names:
        return {"error": f"unexpected ONNX outputs {out_names}"}

    def one(t):
        return sess.run(["label", "probabilities"], {"input": np.array([[t]], dtype=object)})

    res = time_one_at_a_time(one, texts, passes)

    # Agreement with scikit-learn, e-mail by e-mail (same path as timed).
    labels, probs = [], []
    for t in texts:
        lab, pr = one(t)
        labels.append(lab[0])
        probs.append(pr[0])
    probs = np.asarray(probs, dtype=np.float64)
    sk_probs = pipe.predict_proba(texts)
    sk_labels = pipe.predict(texts)
    onnx_labels = np.asarray([str(x) for x in labels])
    res.update(
        {
            "max_abs_dprob": float(np.abs(probs - sk_probs).max()),
            "flipped_labels": int((onnx_labels != sk_labels.astype(str)).sum()),
            "convert_s": round(convert_s, 1),
            "onnx_bytes": len(onx.SerializeToString()),
            "options": {k: v for k, v in vec_opts.items()},
            "versions": {"skl2onnx": skl2onnx.__version__, "onnxruntime": ort.__version__},
        }
    )
    return res


def fmt(v, digits=1):
    return "—" if v is None else f"{v:,.{digits}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--falcon", default=str(REPO / "target" / "release" / "falcon"))
    ap.add_argument("--model", type=Path, default=REPO / "models" / "spam" / "1" / "model.joblib")
    ap.add_argument("--data", type=Path, default=REPO / "bench" / "data" / "heldout.jsonl")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N e-mails")
    ap.add_argument("--passes", type=int, default=2, help="passes over the e-mails for one-at-a-time engines")
    ap.add_argument("--json", type=Path, default=None, help="also write results as JSON here")
    ap.add_argument("--skip-onnx", action="store_true")
    ap.add_argument("--skip-falcon", action="store_true")
    args = ap.parse_args()

    texts = load_texts(args.data, args.limit)
    print(f"{len(texts)} e-mails from {args.data} (mean {np.mean([len(t) for t in texts]):,.0f} chars); "
          f"model {args.model}", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = joblib.load(args.model)

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="falcon-bench-") as tmp:
        if not args.skip_falcon:
            print("falcon ...", file=sys.stderr)
            results["falcon"] = bench_falcon(args.falcon, args.model.resolve(), args.data.resolve(), args.limit, Path(tmp))
        print("scikit-learn ...", file=sys.stderr)
        results["sklearn (one at a time)"], results["sklearn (batched, amortised)"] = bench_sklearn(pipe, texts, args.passes)
        if not args.skip_onnx:
            print("onnxruntime (export + run) ...", file=sys.stderr)
            results["onnxruntime (one at a time)"] = bench_onnx(pipe, texts, args.passes)

    base = results.get("falcon", {}).get("median_us")
    print()
    print(f"Per-email latency, {len(texts)} held-out e-mails, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}")
    print()
    print("| engine | median µs/email | p99 µs | mean µs | ratio vs Falcon (median) |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        if "error" in r:
            print(f"| {name} | unavailable: {r['error']} | — | — | — |")
            continue
        ratio = f"{r['median_us'] / base:,.1f}×" if base else "—"
        print(f"| {name} | {fmt(r['median_us'])} | {fmt(r.get('p99_us'))} | {fmt(r.get('mean_us'))} | {ratio} |")
    print()
    print("sklearn (batched) is total time / n: compare it with the mean column, not the median.")
    onnx = results.get("onnxruntime (one at a time)", {})
    if "max_abs_dprob" in onnx:
        print()
        print(f"ONNX Runtime vs scikit-learn: max |Δprob| = {onnx['max_abs_dprob']:.3g}, "
              f"{onnx['flipped_labels']} of {len(texts)} labels flipped "
              f"(tokenizer options {onnx['options']}).")

    if args.json:
        payload = {
            "n_emails": len(texts),
            "data": str(args.data),
            "model": str(args.model),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
