#!/usr/bin/env python3
"""Writes the hostile model files of issue #14 (the outside review) into
crates/falcon/tests/fixtures/hostile/, plus manifest.json saying what each
reproduces and what Falcon must do with it.

    python3 training/gen_hostile_models.py [--out DIR]

The end-to-end tests crates/falcon/tests/hostile_models.rs and
hostile_serve.rs run the real `falcon` binary on every file and check, besides
the manifest's expectation, that it never panics, aborts or hangs, that its
peak RSS stays within 128 MiB + 50 x the file size and its load time within
2 s per MB.

Two kinds of files:

* crafted pickles, written opcode by opcode (the attacks on the unpickler:
  they need not be models at all, and most are not);
* real scikit-learn 1.7.2 pipelines, fitted on a few inline texts and then
  patched before `joblib.dump` (the attacks on the engine, and one valid
  model the engine used to refuse).

Deterministic: fixed texts, fixed seeds, fixed compression levels; only the
standard library and the pinned training/requirements.txt packages.
"""

import argparse
import io
import json
import lzma
import os
import random
import struct
import zlib

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import (
    CountVectorizer,
    HashingVectorizer,
    TfidfVectorizer,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "crates", "falcon", "tests", "fixtures", "hostile")

TEXTS = [
    "win a free cruise now click here",
    "free money claim your prize today",
    "cheap pills online best price",
    "urgent your account needs verification click",
    "meeting moved to three see agenda",
    "lunch tomorrow with the team",
    "please review the attached report",
    "the build is green again thanks",
    "weather looks fine for the hike",
    "call me when you land",
    "invoice for march attached please pay",
    "new release notes are on the wiki",
]
BINARY = ["spam"] * 4 + ["ham"] * 8
TRI = ["spam"] * 4 + ["ham"] * 4 + ["work"] * 4

# Texts the tests send to `falcon predict`; a served model's labels on them
# are recorded from scikit-learn.
PROBE_TEXTS = ["click here to claim your free prize", "see you at the meeting tomorrow"]


# ----- pickle opcodes ---------------------------------------------------------

PROTO4 = b"\x80\x04"
STOP = b"."
MARK = b"("
NONE = b"N"
POP = b"0"
TUPLE = b"t"
TUPLE1 = b"\x85"
TUPLE3 = b"\x87"
REDUCE = b"R"
EMPTY_LIST = b"]"
APPENDS = b"e"
NEWTRUE = b"\x88"
NEWFALSE = b"\x89"


def global_(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def binput(i):
    return b"q" + bytes([i])


def binget(i):
    return b"h" + bytes([i])


def binint(n):
    return b"J" + struct.pack("<i", n)


def short_str(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def short_bytes(b):
    return b"C" + bytes([len(b)]) + b


def binunicode8(b):
    return b"\x8d" + struct.pack("<Q", len(b)) + b


# ----- crafted pickles --------------------------------------------------------


def s0_arrays(target_size):
    """A list of `S0` arrays, each as long as the whole file, each built by a
    5-byte memoised `_frombuffer` REDUCE: memory grows with the square of the
    file size when every element costs an allocation."""
    head_len = 100
    k = (target_size - head_len) // 5

    def build(n):
        return (
            head(n) + (binget(1) + binget(2) + REDUCE) * k + APPENDS + STOP
        )

    def head(n):
        return (
            PROTO4
            + EMPTY_LIST
            + global_("numpy._core.numeric", "_frombuffer")
            + binput(1)
            + POP
            + MARK
            + short_bytes(b"")
            + global_("numpy", "dtype")
            + MARK
            + short_str("S0")
            + NEWFALSE
            + NEWTRUE
            + TUPLE
            + REDUCE
            + binint(n)
            + TUPLE1
            + short_str("C")
            + TUPLE
            + binput(2)
            + POP
            + MARK
        )

    # Elements per array: exactly the file's length (an array may not have
    # more elements than the input has bytes).
    return build(len(build(0)))


def xz_bomb(payload_bytes):
    """One xz block (Python's single-block xz stream) holding a pickle with a
    `payload_bytes` zero-filled bytes object: a decoder that buffers the
    whole block allocates all of it before any limit is checked."""
    comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=6)
    out = [comp.compress(PROTO4 + b"\x8e" + struct.pack("<Q", payload_bytes))]
    chunk = bytes(1 << 20)
    left = payload_bytes
    while left:
        n = min(left, len(chunk))
        out.append(comp.compress(chunk[:n]))
        left -= n
    out.append(comp.compress(STOP))
    out.append(comp.flush())
    return b"".join(out)


def zlib_of(raw, padding=0):
    """zlib level 9, after `padding` random bytes pushed and popped: zlib
    inflates at most ~1030x, and the attacks of the review stayed just under
    the 1000x cap of the time."""
    pad = b""
    if padding:
        pad = b"\x8e" + struct.pack("<Q", padding) + random.Random(padding).randbytes(padding) + POP
    if raw.startswith(PROTO4):
        raw = PROTO4 + pad + raw[len(PROTO4):]
    return zlib.compress(raw, 9)


def tuple1_bomb(count, padding=1500):
    """`None` wrapped in `count` one-element tuples: one VM node per opcode
    byte, ~1000 opcodes per zlib byte."""
    return zlib_of(PROTO4 + NONE + TUPLE1 * count + STOP, padding=padding)


def shared_string(size, copies, padding=2500):
    """One `size`-byte string referenced `copies` times through the memo: a
    tree that clones each reference costs `copies x size`."""
    raw = (
        PROTO4
        + binunicode8(b"a" * size)
        + binput(0)
        + EMPTY_LIST
        + MARK
        + binget(0) * copies
        + APPENDS
        + STOP
    )
    return zlib_of(raw, padding=padding)


def big_ints(count, digits):
    """`count` protocol-0 `INT` opcodes of `digits` decimal digits each (the
    same number, so zlib compresses it to back-references): quadratic-time
    decimal conversion costs seconds."""
    number = b"7" * digits
    raw = b"\x80\x02" + EMPTY_LIST + MARK + (b"I" + number + b"\n") * count + APPENDS + STOP
    return zlib_of(raw)


# ----- real pipelines, patched ------------------------------------------------


def fitted(vectorizer, classifier, labels):
    return Pipeline([("vec", vectorizer), ("clf", classifier)]).fit(TEXTS, labels)


def dump(model, compress=None):
    buf = io.BytesIO()
    if compress:
        joblib.dump(model, buf, compress=compress)
    else:
        joblib.dump(model, buf)
    return buf.getvalue()


def recursion_pair_vocab():
    """A bigram CountVectorizer whose `vocabulary_` holds one term of
    1,000,000 space-separated words (~3 MB): a lookup that recurses once per
    word overflows the stack and aborts the process."""
    p = fitted(CountVectorizer(ngram_range=(1, 2)), LogisticRegression(), BINARY)
    vocab = p.named_steps["vec"].vocabulary_
    victim = max((t for t in vocab if " " in t), key=lambda t: vocab[t])
    col = vocab.pop(victim)
    # Every word is in the vocabulary, so a lookup walks the whole term.
    vocab[" ".join(["free"] * 1_000_000)] = col
    return dump(p, ("zlib", 3))


def hashing_int8_coef(n=50_000_000, nonzeros=1000):
    """`HashingVectorizer(n_features=n)` with an int8 `coef_` of n mostly
    zeros (50M: 55 KB zlib): loads as a working model at 1.5 GB when int8 is
    widened to i64 and copied. More nonzeros, more entropy: a lower
    compression ratio."""
    p = fitted(HashingVectorizer(n_features=1024), LogisticRegression(), BINARY)
    p.named_steps["vec"].n_features = n
    coef = np.zeros((1, n), dtype=np.int8)
    # A few nonzero weights (and enough entropy to stay under 1000x zlib).
    rng = np.random.default_rng(14)
    coef[0, rng.integers(0, n, nonzeros)] = rng.integers(-100, 100, nonzeros, dtype=np.int8)
    p.named_steps["clf"].coef_ = coef
    return dump(p, ("zlib", 9))


def trailing_garbage():
    """A valid zlib joblib file followed by random bytes (joblib never writes
    any)."""
    p = fitted(TfidfVectorizer(), LogisticRegression(), BINARY)
    return dump(p, ("zlib", 3)) + random.Random(14).randbytes(64)


def one_class():
    """`classes_ = ['ham']` with one coef row: scikit-learn cannot fit it;
    Falcon used to accept it, then panic at predict."""
    p = fitted(TfidfVectorizer(), LogisticRegression(), BINARY)
    p.named_steps["clf"].classes_ = np.array(["ham"])
    return dump(p)


def non_finite_coef(value):
    p = fitted(TfidfVectorizer(), LogisticRegression(), BINARY)
    p.named_steps["clf"].coef_[0, 17] = value
    return dump(p)


def duplicate_labels():
    p = fitted(TfidfVectorizer(), LogisticRegression(), TRI)
    p.named_steps["clf"].classes_ = np.array(["ham", "spam", "spam"])
    return dump(p)


def linearsvc_no_intercept():
    """Valid: a 3-class LinearSVC(fit_intercept=False) stores `intercept_` as
    the scalar 0.0 (Falcon used to refuse it)."""
    p = fitted(TfidfVectorizer(), LinearSVC(fit_intercept=False, random_state=0), TRI)
    assert np.ndim(p.named_steps["clf"].intercept_) == 0
    return dump(p), [str(x) for x in p.predict(PROBE_TEXTS)]


# ----- manifest ---------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    # Each case: file, what it reproduces, and the expectation. `refused`
    # cases name the substrings of which the error must contain at least
    # one: most are a single reason; where either the unpickler's budget or
    # the engine's validation may legitimately refuse first, both are named.
    NOT_A_MODEL = "not a scikit-learn estimator"
    # The unpickler's budgets: memory ("... would take more than N bytes"),
    # copies out of shared objects ("re-uses its data too often"), and the
    # decompressed size / compression ratio ("decompresses to more than").
    BUDGET = ["would take more than", "too often", "decompresses to more than"]
    svc_bytes, svc_labels = linearsvc_no_intercept()
    cases = [
        ("recursion_pair_vocab.z.joblib", recursion_pair_vocab(),
         "review a: bigram CountVectorizer with a 1,000,000-word vocabulary_ term (~3 MB raw); "
         "a recursive n-gram lookup overflowed the stack (exit 134)",
         {"expect": "serves"}),
        ("s0_arrays_7k.pkl", s0_arrays(7_500),
         "review b: S0-dtype arrays built by memoised _frombuffer REDUCEs, 7.5 KB (231 MB measured)",
         {"expect": "refused", "error_contains": BUDGET + [NOT_A_MODEL]}),
        ("s0_arrays_15k.pkl", s0_arrays(15_000),
         "review b: S0-dtype arrays built by memoised _frombuffer REDUCEs, 15 KB (896 MB measured)",
         {"expect": "refused", "error_contains": BUDGET + [NOT_A_MODEL]}),
        ("xz_bomb.xz.joblib", xz_bomb(500_000_000),
         "review c: xz stream of one block inflating to 500 MB, far beyond the decompression limit "
         "(983 MB peak measured)",
         {"expect": "refused", "error_contains": ["decompress"]}),
        ("tuple1_bomb.z.pkl", tuple1_bomb(22_000_000),
         "review d: zlib file of 22M TUPLE1 opcodes (1.29 GB measured)",
         {"expect": "refused", "error_contains": BUDGET + ["nested"]}),
        ("shared_string.z.pkl", shared_string(20_000_000, 50),
         "review d: a 20 MB string referenced 50 times through the memo (1.0 GB measured)",
         {"expect": "refused", "error_contains": BUDGET + [NOT_A_MODEL]}),
        ("hashing_int8_coef.z.joblib", hashing_int8_coef(),
         "review d: HashingVectorizer(n_features=50_000_000) with an int8 coef_ of zeros "
         "(accepted at 1.57 GB measured)",
         {"expect": "refused", "error_contains": BUDGET + ["coef_"]}),
        # The same three under a 400x compression ratio (~60 KB each): past
        # any ratio cap, they reach the VM's node count, the copies of a
        # shared object and the engine's dense-table bound.
        ("tuple1_bomb_under_cap.z.pkl", tuple1_bomb(22_000_000, padding=40_000),
         "review d, past a ratio cap: 22M TUPLE1 opcodes in ~60 KB (ratio ~360)",
         {"expect": "refused", "error_contains": BUDGET + ["nested"]}),
        ("shared_string_under_cap.z.pkl", shared_string(20_000_000, 50, padding=45_000),
         "review d, past a ratio cap: a 20 MB string referenced 50 times, in ~65 KB (ratio ~300)",
         {"expect": "refused", "error_contains": BUDGET + [NOT_A_MODEL]}),
        ("hashing_int8_coef_under_cap.z.joblib", hashing_int8_coef(20_000_000, 15_000),
         "review d, past a ratio cap: HashingVectorizer(n_features=20_000_000), int8 coef_ "
         "(160 MB widened to i64), in ~65 KB",
         {"expect": "refused", "error_contains": BUDGET + ["coef_"]}),
        ("trailing_garbage.z.joblib", trailing_garbage(),
         "review d: a valid zlib joblib model followed by 64 random bytes",
         {"expect": "refused", "error_contains": ["after the end"]}),
        ("big_ints.z.pkl", big_ints(4_650, 4_300),
         "review e: 4,650 INT opcodes of 4,300 digits each (3.1 s measured)",
         {"expect": "refused", "error_contains": [NOT_A_MODEL, "digits", "limit"]}),
        ("one_class.pkl", one_class(),
         "review f: LogisticRegression with classes_=['ham'] and one coef row (panicked at predict)",
         {"expect": "refused", "error_contains": ["at least 2"]}),
        ("nan_coef.pkl", non_finite_coef(float("nan")),
         "review g: NaN in LogisticRegression.coef_ (served null probabilities)",
         {"expect": "refused", "error_contains": ["NaN"]}),
        ("inf_coef.pkl", non_finite_coef(float("inf")),
         "review g: +inf in LogisticRegression.coef_",
         {"expect": "refused", "error_contains": ["inf"]}),
        ("duplicate_labels.pkl", duplicate_labels(),
         "review h: classes_ = ['ham', 'spam', 'spam'] (duplicate JSON keys)",
         {"expect": "refused", "error_contains": ["twice"]}),
        ("linearsvc_no_intercept.pkl", svc_bytes,
         "review i: valid 3-class LinearSVC(fit_intercept=False), scalar intercept_ = 0.0 (was refused)",
         {"expect": "serves", "texts": PROBE_TEXTS, "labels": svc_labels}),
    ]
    manifest = {
        "generator": "training/gen_hostile_models.py",
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
        "rule": "peak RSS <= 128 MiB + 50 x file size; load time <= max(2 s x MB, 1 s); "
                "no panic, abort, signal or hang",
        "cases": [],
    }
    total = 0
    for name, data, what, expectation in cases:
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        total += len(data)
        manifest["cases"].append({"file": name, "bytes": len(data), "reproduces": what, **expectation})
        print(f"{name:32} {len(data):>8} bytes")
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{len(cases)} files, {total} bytes -> {args.out}")


if __name__ == "__main__":
    main()
