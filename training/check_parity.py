#!/usr/bin/env python3
"""Check the `falcon` binary against scikit-learn, live, on every parity fixture.

For each case in crates/falcon_engine/tests/fixtures/manifest.json and each of
its saved files, runs

    falcon predict --model FILE --input texts.jsonl

(texts.jsonl is built from texts.json: one {"text": ...} per line) and compares
every output line with what scikit-learn computes for the same file right now:

  * "label" identical to pipeline.predict, including its JSON type (string
    classes -> JSON string, integer classes -> JSON number);
  * "probabilities" {str(class): p} present iff the pipeline has predict_proba,
    every p within 1e-9 * max(1, |expected|);
  * "decision" present iff the pipeline has decision_function: a number for a
    1-D (binary) decision_function, {str(class): score} for a 2-D one, same
    tolerance.

Each refused fixture must make `falcon predict` exit non-zero with
`error_contains` in its output, and — for the malicious pickles — without the
sentinel file appearing in the scratch directory Falcon runs in.

Prints one line per failure, then `N passed, M failed` (one count per
(case, file) pair and per refused file); exits 1 if anything failed.

Usage: python training/check_parity.py [FALCON] [--fixtures DIR] [--only NAME ...]
FALCON defaults to target/release/falcon.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import joblib
import numpy as np

TRAINING = Path(__file__).resolve().parent
REPO = TRAINING.parent
sys.path.insert(0, str(TRAINING))  # falcon_fixture_helpers, for completeness

TOLERANCE = 1e-9


def close(got, want: float) -> bool:
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    return math.isfinite(got) and abs(got - want) <= TOLERANCE * max(1.0, abs(want))


def jsonable(v):
    if isinstance(v, np.generic):
        v = v.item()
    return v


def sklearn_outputs(path: Path, texts: list[str]) -> dict:
    """What scikit-learn says for this file, now."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = joblib.load(path)
        classes = [jsonable(c) for c in p.classes_]
        out = {
            "classes": classes,
            "predict": [jsonable(c) for c in p.predict(texts)],
            "predict_proba": p.predict_proba(texts).tolist() if hasattr(p, "predict_proba") else None,
            "decision_function": np.asarray(p.decision_function(texts)).tolist() if hasattr(p, "decision_function") else None,
        }
    return out


def same_label(got, want) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, int):
        return isinstance(got, int) and got == want
    if isinstance(want, float):
        return isinstance(got, (int, float)) and got == want
    return isinstance(got, str) and got == want


def compare_scores(what: str, got, want, classes: list) -> str | None:
    """want is a list (one score per class) or a number (1-D decision)."""
    if isinstance(want, list):
        keys = [str(c) for c in classes]
        if not isinstance(got, dict):
            return f"{what}: expected an object keyed by class, got {json.dumps(got)[:80]}"
        if sorted(got) != sorted(keys):
            return f"{what}: keys {sorted(got)} != classes {sorted(keys)}"
        for k, w in zip(keys, want):
            if not close(got[k], w):
                return f"{what}[{k!r}]: got {got[k]!r}, want {w!r}"
        return None
    if not close(got, want):
        return f"{what}: got {json.dumps(got)[:80]}, want {want!r}"
    return None


def compare(lines: list[str], exp: dict, max_report: int = 5) -> list[str]:
    errors: list[str] = []
    n = len(exp["predict"])
    if len(lines) != n:
        return [f"{len(lines)} output lines for {n} inputs"]
    has_proba = exp["predict_proba"] is not None
    has_dec = exp["decision_function"] is not None
    for i, line in enumerate(lines):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"text {i}: invalid JSON line ({e}): {line[:80]!r}")
            continue
        if not isinstance(row, dict):
            errors.append(f"text {i}: output is not an object: {line[:80]!r}")
            continue
        if not same_label(row.get("label"), exp["predict"][i]):
            errors.append(f"text {i}: label {json.dumps(row.get('label'))}, want {json.dumps(exp['predict'][i])}")
        probs = row.get("probabilities")
        if has_proba:
            m = compare_scores("probabilities", probs, exp["predict_proba"][i], exp["classes"])
            if m:
                errors.append(f"text {i}: {m}")
        elif probs is not None:
            errors.append(f"text {i}: has probabilities, but the estimator has no predict_proba")
        dec = row.get("decision")
        if has_dec:
            m = compare_scores("decision", dec, exp["decision_function"][i], exp["classes"])
            if m:
                errors.append(f"text {i}: {m}")
        elif dec is not None:
            errors.append(f"text {i}: has decision, but the estimator has no decision_function")
    if len(errors) > max_report:
        errors = errors[:max_report] + [f"... and {len(errors) - max_report} more mismatches"]
    return errors


def run_falcon(falcon: str, model: Path, inp: Path, cwd: Path, timeout: float):
    return subprocess.run(
        [falcon, "predict", "--model", str(model), "--input", str(inp)],
        cwd=cwd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("falcon", nargs="?", default=str(REPO / "target" / "release" / "falcon"))
    ap.add_argument("--fixtures", type=Path, default=REPO / "crates" / "falcon_engine" / "tests" / "fixtures")
    ap.add_argument("--only", nargs="*", help="check only these case / refused names")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per falcon invocation")
    args = ap.parse_args()

    falcon = str(Path(args.falcon).resolve()) if Path(args.falcon).exists() else args.falcon
    if not Path(falcon).is_file():
        print(f"falcon binary not found: {args.falcon}", file=sys.stderr)
        return 2
    fx: Path = args.fixtures.resolve()
    manifest = json.loads((fx / "manifest.json").read_text(encoding="utf-8"))
    texts = json.loads((fx / "texts.json").read_text(encoding="utf-8"))
    import sklearn

    if manifest.get("sklearn") != sklearn.__version__:
        print(f"warning: fixtures were made with scikit-learn {manifest.get('sklearn')}, "
              f"checking live against {sklearn.__version__}", file=sys.stderr)

    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="falcon-parity-") as tmp:
        tmp = Path(tmp)
        inp = tmp / "texts.jsonl"
        inp.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")

        for case in manifest["cases"]:
            name = case["name"]
            if args.only and name not in args.only:
                continue
            stored = json.loads((fx / case.get("expected", f"{name}.expected.json")).read_text(encoding="utf-8"))
            for f in case["files"]:
                errs: list[str] = []
                try:
                    exp = sklearn_outputs(fx / f, texts)
                except Exception as e:  # noqa: BLE001
                    print(f"FAIL {f}: scikit-learn could not run it: {e!r}")
                    failed += 1
                    continue
                if exp != stored:
                    print(f"warning: {f}: live scikit-learn differs from {name}.expected.json "
                          "(fixtures stale? regenerate with training/gen_parity_fixtures.py)", file=sys.stderr)
                try:
                    r = run_falcon(falcon, fx / f, inp, tmp, args.timeout)
                except subprocess.TimeoutExpired:
                    errs.append(f"timed out after {args.timeout:.0f}s")
                else:
                    if r.returncode != 0:
                        errs.append(f"exit {r.returncode}: {r.stderr.decode('utf-8', 'replace').strip()[:300]}")
                    else:
                        out = r.stdout.decode("utf-8", "replace").splitlines()
                        errs += compare([line for line in out if line.strip()], exp)
                if errs:
                    failed += 1
                    print(f"FAIL {f}:")
                    for e in errs:
                        print(f"    {e}")
                else:
                    passed += 1

        for ref in manifest.get("refused", []):
            if args.only and ref["name"] not in args.only:
                continue
            f, want = ref["file"], ref["error_contains"]
            sentinel = tmp / ref["sentinel"] if ref.get("sentinel") else None
            try:
                r = run_falcon(falcon, fx / f, inp, tmp, args.timeout)
            except subprocess.TimeoutExpired:
                failed += 1
                print(f"FAIL {f}: timed out (must be refused at load time)")
                continue
            msg = (r.stderr + r.stdout).decode("utf-8", "replace")
            problems = []
            if r.returncode == 0:
                problems.append("exited 0: loaded, but must be refused")
            if want not in msg:
                problems.append(f"output does not mention {want!r}: {msg.strip()[:300]!r}")
            if sentinel is not None and sentinel.exists():
                problems.append(f"SECURITY: {sentinel.name} was created: the pickle's code ran")
                sentinel.unlink()
            if problems:
                failed += 1
                print(f"FAIL {f}: " + "; ".join(problems))
            else:
                passed += 1

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
