#!/usr/bin/env python3
"""Golden fixtures from every scikit-learn release Falcon supports (0.20 → newest).

Models in production were often trained years ago and never retrained.  For
each release of the matrix below this script builds (once, cached) a
virtualenv with that scikit-learn and the numpy/scipy/joblib of its time,
runs ``release_cases.py`` inside it, and writes that release's pickles,
joblib files and its *own* outputs on the shared texts into
``OUT/<tag>/`` (default ``crates/falcon_engine/tests/fixtures/releases``).
``cargo test -p falcon_engine --test parity`` checks every release directory
it finds; ``.ci/run`` regenerates the oldest and the newest live.

The training set and the evaluation texts are the ones of
``gen_parity_fixtures.py`` (the SpamAssassin subset and the 208 held-out and
hostile texts), computed here with the pinned Python and handed to each
release as JSON, so every release sees identical inputs.

Usage:
  python training/gen_release_matrix.py [--only TAG ...] [--out DIR]
         [--venv-dir DIR] [--cache-dir DIR] [--list]

Venvs are created with the pyenv interpreters (``$(pyenv root)/versions``),
installing wheels only (``--only-binary=:all:``) from PyPI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

TRAINING = Path(__file__).resolve().parent
sys.path.insert(0, str(TRAINING))

REPO = TRAINING.parent
DEFAULT_OUT = REPO / "crates" / "falcon_engine" / "tests" / "fixtures" / "releases"

# (tag, python, pip requirements).  The tag names the fixture directory.
# Pins: the numpy/scipy/joblib current when that scikit-learn came out that
# still ship wheels for its Python.
RELEASES = [
    ("0.20.4-py27", "2.7.18", ["scikit-learn==0.20.4", "numpy==1.16.6", "scipy==1.2.3"]),
    ("0.20.4", "3.7.16", ["scikit-learn==0.20.4", "numpy==1.16.6", "scipy==1.2.3"]),
    ("0.21.3", "3.7.16", ["scikit-learn==0.21.3", "numpy==1.17.5", "scipy==1.3.3"]),
    ("0.22.2", "3.8.18", ["scikit-learn==0.22.2.post1", "numpy==1.18.5", "scipy==1.4.1", "joblib==0.14.1"]),
    ("0.23.2", "3.8.18", ["scikit-learn==0.23.2", "numpy==1.19.5", "scipy==1.5.4", "joblib==0.16.0", "threadpoolctl==2.1.0"]),
    ("0.24.2", "3.8.18", ["scikit-learn==0.24.2", "numpy==1.19.5", "scipy==1.5.4", "joblib==1.0.1", "threadpoolctl==2.1.0"]),
    ("1.0.2", "3.10.13", ["scikit-learn==1.0.2", "numpy==1.21.6", "scipy==1.7.3", "joblib==1.1.0", "threadpoolctl==3.0.0"]),
    ("1.1.3", "3.10.13", ["scikit-learn==1.1.3", "numpy==1.23.5", "scipy==1.9.3", "joblib==1.2.0", "threadpoolctl==3.1.0"]),
    ("1.2.2", "3.11.7", ["scikit-learn==1.2.2", "numpy==1.24.4", "scipy==1.10.1", "joblib==1.2.0", "threadpoolctl==3.1.0"]),
    ("1.3.2", "3.11.7", ["scikit-learn==1.3.2", "numpy==1.26.4", "scipy==1.11.4", "joblib==1.3.2", "threadpoolctl==3.2.0"]),
    ("1.4.2", "3.12.1", ["scikit-learn==1.4.2", "numpy==1.26.4", "scipy==1.13.1", "joblib==1.4.2", "threadpoolctl==3.5.0"]),
    ("1.5.2", "3.12.1", ["scikit-learn==1.5.2", "numpy==2.1.3", "scipy==1.14.1", "joblib==1.4.2", "threadpoolctl==3.5.0"]),
    ("1.6.1", "3.13.0", ["scikit-learn==1.6.1", "numpy==2.2.6", "scipy==1.15.3", "joblib==1.4.2", "threadpoolctl==3.6.0"]),
    ("1.8.0", "3.13.0", ["scikit-learn==1.8.0", "numpy==2.3.5", "scipy==1.16.3", "joblib==1.5.2", "threadpoolctl==3.6.0"]),
    ("1.9.1", "3.13.0", ["scikit-learn==1.9.1"]),
]
TAGS = [r[0] for r in RELEASES]
TRAIN_CHARS = 400


def pyenv_python(version: str) -> Path:
    root = os.environ.get("PYENV_ROOT") or subprocess.run(
        ["pyenv", "root"], check=True, capture_output=True, text=True
    ).stdout.strip()
    exe = Path(root) / "versions" / version / "bin" / "python"
    if not exe.exists():
        sys.exit(f"Python {version} not found at {exe} (pyenv install {version})")
    return exe


def ensure_env(tag: str, python: str, reqs: list[str], venv_dir: Path) -> tuple[list[str], dict]:
    """(command prefix, extra environment) to run Python in the release's env."""
    env_dir = venv_dir / tag
    stamp = env_dir / "falcon-requirements.txt"
    want = "\n".join([python] + reqs) + "\n"
    base = pyenv_python(python)
    py2 = python.startswith("2.")
    if stamp.exists() and stamp.read_text() == want:
        pass
    else:
        if env_dir.exists():
            shutil.rmtree(env_dir)
        env_dir.mkdir(parents=True)
        pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:"]
        print(f"[{tag}] installing {' '.join(reqs)} for Python {python}", flush=True)
        if py2:
            # Python 2.7 has no venv module: install into a target directory.
            subprocess.run([str(base), *pip, "--target", str(env_dir / "site"), *reqs], check=True)
        else:
            subprocess.run([str(base), "-m", "venv", str(env_dir)], check=True)
            subprocess.run([str(env_dir / "bin" / "python"), *pip, *reqs], check=True)
        stamp.write_text(want)
    if py2:
        return [str(base)], {"PYTHONPATH": str(env_dir / "site")}
    return [str(env_dir / "bin" / "python")], {}


def training_data(cache_dir: Path) -> dict:
    import gen_parity_fixtures as g
    import spam_corpus

    msgs, _ = spam_corpus.load_corpus(cache_dir)
    tr_idx, te_idx = spam_corpus.demo_split(msgs)
    train, label3 = g.training_set(msgs, tr_idx)
    # A third of the parity training set, shorter: the fixtures of ~15 releases
    # are committed, and a fitted vectorizer pickles every pruned term
    # (`stop_words_`), so the vocabulary drives the files' size.
    keep = range(0, len(train), 3)
    return {
        "train": [train[i][:TRAIN_CHARS] for i in keep],
        "label3": [label3[i] for i in keep],
        "texts": g.evaluation_texts(msgs, te_idx),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", choices=TAGS, help="releases to (re)generate; default all")
    ap.add_argument("--venv-dir", type=Path, default=REPO / "target" / "release-venvs")
    ap.add_argument("--cache-dir", type=Path, default=None, help="SpamAssassin tarball cache (spam_corpus.py)")
    ap.add_argument("--list", action="store_true", help="print the release tags and exit")
    args = ap.parse_args()
    if args.list:
        print("\n".join(TAGS))
        return
    import spam_corpus

    data = training_data(args.cache_dir or spam_corpus.DEFAULT_CACHE)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "texts.json").write_text(
        json.dumps(data["texts"], ensure_ascii=False, indent=0) + "\n", encoding="utf-8"
    )
    data_file = args.venv_dir / "release-data.json"
    args.venv_dir.mkdir(parents=True, exist_ok=True)
    data_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    for tag, python, reqs in RELEASES:
        if args.only and tag not in args.only:
            continue
        cmd, extra = ensure_env(tag, python, reqs, args.venv_dir)
        out = args.out / tag
        if out.exists():
            shutil.rmtree(out)
        print(f"[{tag}] fitting and saving", flush=True)
        env = {**os.environ, **extra, "PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8"}
        env.pop("PYTHONHOME", None)
        subprocess.run(
            [*cmd, str(TRAINING / "release_cases.py"), "--data", str(data_file), "--out", str(out),
             "--texts-ref", "../texts.json"],
            check=True,
            env=env,
        )


if __name__ == "__main__":
    main()
