"""Golden outputs of the bundled demo model on held-out emails.

Writes crates/falcon_engine/tests/fixtures/demo_expected.json: scikit-learn's
predict / predict_proba / decision_function for the first N texts of
bench/data/heldout.jsonl, so `cargo test` checks the demo model (whose bigram
vocabulary the engine stores as column pairs) against scikit-learn exactly.

Usage: python training/gen_demo_expected.py [--n 120] [--out PATH]
"""

import argparse
import json
import pathlib

import joblib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--model", default=str(ROOT / "models/spam/1/model.joblib"))
    ap.add_argument("--data", default=str(ROOT / "bench/data/heldout.jsonl"))
    ap.add_argument("--out", default=str(ROOT / "crates/falcon_engine/tests/fixtures/demo_expected.json"))
    args = ap.parse_args()
    texts = []
    with open(args.data, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
            if len(texts) >= args.n:
                break
    model = joblib.load(args.model)
    out = {
        "data": "bench/data/heldout.jsonl",
        "n": len(texts),
        "classes": model.classes_.tolist(),
        "predict": model.predict(texts).tolist(),
        "predict_proba": model.predict_proba(texts).tolist(),
        "decision_function": model.decision_function(texts).tolist(),
    }
    pathlib.Path(args.out).write_text(json.dumps(out) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(texts)} texts)")


if __name__ == "__main__":
    main()
