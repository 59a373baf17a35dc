#!/usr/bin/env python3
"""Generate the falcon_pickle test fixtures.

Writes small pickle/joblib files into crates/falcon_pickle/tests/fixtures/
together with ``expected.json``, a tagged encoding of what each file holds,
so the Rust tests can compare exactly without Python.

Usage:  python3 training/gen_pickle_fixtures.py
Needs:  scikit-learn==1.7.2 numpy==2.2.6 joblib==1.5.2 (lz4 optional)

The tagged encoding (see ``enc``) is:
    ["none"] ["bool", b] ["int", n] ["bigint", hex-of-minimal-LE-two's-complement]
    ["float", hex-of-f64-bits] ["complex", re_bits, im_bits] ["str", s]
    ["bytes", hex] ["list", [..]] ["tuple", [..]] ["dict", [[k, v], ..]]
    ["set", [..]] ["frozenset", [..]] ["slice", a, b, c] ["dtype", "<f8"]
    ["global", module, name]
    ["array", dtype_str, shape, fortran, [elements in C order]]
Array elements: floats as f64 bit strings, ints as numbers, bools, strs,
bytes as hex, object elements tagged as above.
"""

import collections
import json
import os
import pickle
import struct
import sys

import joblib
import numpy as np

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "crates",
    "falcon_pickle",
    "tests",
    "fixtures",
)


def fbits(x):
    return "%016x" % struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def int_le_hex(n):
    length = 1
    while True:
        try:
            return n.to_bytes(length, "little", signed=True).hex()
        except OverflowError:
            length += 1


def enc_int(n):
    n = int(n)
    if -(2**63) <= n < 2**63:
        return ["int", n]
    return ["bigint", int_le_hex(n)]


def array_elem(a, x):
    k = a.dtype.kind
    if k == "f":
        return fbits(x)
    if k in "iu":
        return int(x)
    if k == "b":
        return bool(x)
    if k == "U":
        return str(x)
    if k == "S":
        return bytes(x).hex()
    if k == "O":
        return enc(x)
    raise TypeError(a.dtype)


def enc(v):
    if v is None:
        return ["none"]
    if isinstance(v, (bool, np.bool_)):
        return ["bool", bool(v)]
    if isinstance(v, (int, np.integer)):
        return enc_int(v)
    if isinstance(v, (float, np.floating)):
        return ["float", fbits(v)]
    if isinstance(v, complex):
        return ["complex", fbits(v.real), fbits(v.imag)]
    if isinstance(v, str):
        return ["str", str(v)]
    if isinstance(v, (bytes, bytearray)):
        return ["bytes", bytes(v).hex()]
    if isinstance(v, np.ndarray):
        fortran = bool(
            v.dtype.kind != "O" and v.flags.f_contiguous and not v.flags.c_contiguous
        )
        dtype = v.dtype.str
        flat = v.flatten(order="C")
        return ["array", dtype, list(v.shape), fortran, [array_elem(v, x) for x in flat]]
    if isinstance(v, np.dtype):
        return ["dtype", v.str]
    if isinstance(v, type):
        return ["global", v.__module__, v.__name__]
    if isinstance(v, list):
        return ["list", [enc(x) for x in v]]
    if isinstance(v, tuple):
        return ["tuple", [enc(x) for x in v]]
    if isinstance(v, dict):
        return ["dict", [[enc(k), enc(x)] for k, x in v.items()]]
    if isinstance(v, frozenset):
        return ["frozenset", [enc(x) for x in v]]
    if isinstance(v, set):
        return ["set", [enc(x) for x in v]]
    if isinstance(v, slice):
        return ["slice", enc(v.start), enc(v.stop), enc(v.step)]
    raise TypeError(type(v))


def plain_data():
    shared = ["shared", 1]
    return {
        "none": None,
        "true": True,
        "false": False,
        "int": 42,
        "neg": -7,
        "i32max": 2**31 - 1,
        "i32min": -(2**31),
        "i64max": 2**63 - 1,
        "i64min": -(2**63),
        "big": 2**100 + 12345,
        "bigneg": -(2**70) + 3,
        "float": 1.5,
        "floats": [0.1, -0.0, 1e300, 5e-324, float("inf"), -float("inf")],
        "str": "h\u00e9llo \u2713 \U0001f600",
        "empty_str": "",
        "escapes": "back\\slash\nnew\rline\x00nul'q\"dq\x1a",
        "long_str": "x" * 300,
        "bytes": b"\x00\x01\xffabc\\\n",
        "empty_bytes": b"",
        "long_bytes": bytes(range(256)) + b"!",
        "bytearray": bytearray(b"xy\x00\xfe"),
        "list": [1, [2, [3, []]], "x"],
        "long_list": list(range(1001)),  # > one APPENDS batch
        "tuple": (1, "a", (2.5,)),
        "empty_tuple": (),
        "t1": (1,),
        "t2": (1, 2),
        "t3": (1, 2, 3),
        "t4": (1, 2, 3, 4),
        "set": {1, 2, 3},
        "frozenset": frozenset({"a", "b"}),
        "empty_set": set(),
        "complex": 1.5 - 2j,
        "slice": slice(1, 10, 2),
        "slice1": slice(5),
        "ordered": collections.OrderedDict([("z", 1), ("a", 2)]),
        "defaultdict": collections.defaultdict(list, {"k": [1]}),
        "defaultdict_int": collections.defaultdict(int, {"n": 3}),
        "shared": [shared, shared, {"again": shared}],
        "keys": {1: "int key", (1, 2): "tuple key", "s": "str key", None: "none key"},
        "big_dict": {i: i % 7 for i in range(1001)},  # > one SETITEMS batch
        "nested": {"a": {"b": {"c": {"d": [[[["deep"]]]]}}}},
    }


def array_data():
    return {
        "f8": np.array([1.5, -2.25, np.inf, np.nan, 0.0, -0.0, 1e-310]),
        "f4": np.arange(5, dtype="f4") / np.float32(3),
        "f2": np.array([1, 0.5, -2, 65504, 6e-8], dtype="f2"),
        "i1": np.array([-128, 0, 127], dtype="i1"),
        "i2": np.array([-32768, 1, 32767], dtype="i2"),
        "i4": np.array([-(2**31), 2, 2**31 - 1], dtype="i4"),
        "i8": np.array([-(2**63), 3, 2**63 - 1], dtype="i8"),
        "u1": np.array([0, 255], dtype="u1"),
        "u2": np.array([0, 65535], dtype="u2"),
        "u4": np.array([0, 2**32 - 1], dtype="u4"),
        "u8": np.array([0, 2**64 - 1], dtype="u8"),
        "bool": np.array([True, False, True]),
        "unicode": np.array(["ab", "", "h\u00e9llo\U0001f600"]),
        "bytes": np.array([b"ab", b"", b"xyz"]),
        "object": np.array([1, "a", None, 2.5, (1, 2)], dtype=object),
        "object2d": np.asfortranarray(np.array([[1, "a"], [2, "b"]], dtype=object)),
        "be_f8": np.array([1.0, 2.5, -3.0], dtype=">f8"),
        "be_i4": np.array([1, -2, 70000], dtype=">i4"),
        "be_u2": np.array([1, 65534], dtype=">u2"),
        "be_unicode": np.array(["ab", "c"], dtype=">U2"),
        "fortran": np.asfortranarray(np.arange(6, dtype="f8").reshape(2, 3)),
        "fortran3d": np.asfortranarray(np.arange(24, dtype="i4").reshape(2, 3, 4)),
        "c2d": np.arange(6, dtype="i8").reshape(3, 2),
        "zero_d": np.array(3.5),
        "empty": np.zeros((0,), dtype="f8"),
        "empty2d": np.zeros((0, 3), dtype="i8"),
        "scalars": [
            np.int64(7),
            np.int32(-3),
            np.uint64(2**64 - 1),
            np.float64(2.5),
            np.float32(0.5),
            np.bool_(True),
            np.str_("s"),
        ],
        "dtypes": [np.dtype("f8"), np.dtype(">i4"), np.dtype("U5"), np.dtype("O")],
        "types": [np.float64, np.int64],
    }


def pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    docs = [
        "good movie great fun",
        "bad movie awful plot",
        "great acting good story",
        "terrible boring bad film",
        "fun and great film",
        "awful and boring story",
        "a fine cast and a good plot",
        "the worst acting ever",
        "okay film nothing special",
        "mediocre story but fine acting",
    ]
    y = ["pos", "neg", "pos", "neg", "pos", "neg", "pos", "neg", "meh", "meh"]
    p = Pipeline(
        [("tfidf", TfidfVectorizer(ngram_range=(1, 2))), ("clf", LogisticRegression())]
    ).fit(docs, y)
    tfidf = p.named_steps["tfidf"]
    clf = p.named_steps["clf"]
    expected = {
        "steps": [name for name, _ in p.steps],
        "vocabulary": enc(tfidf.vocabulary_),
        "ngram_range": enc(tfidf.ngram_range),
        "idf": enc(tfidf.idf_),
        "coef": enc(clf.coef_),
        "intercept": enc(clf.intercept_),
        "classes": enc(clf.classes_),
        "token_pattern": tfidf.token_pattern,
        "C": enc(clf.C),
        "dtype": enc(tfidf.dtype),
    }
    return p, expected


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    def out(name):
        return os.path.join(OUT, name)

    plain = plain_data()
    expected["plain"] = enc(plain)
    for proto in range(6):
        with open(out("plain_p%d.pkl" % proto), "wb") as f:
            pickle.dump(plain, f, protocol=proto)

    arrays = array_data()
    expected["arrays"] = enc(arrays)
    for proto in (0, 2, 4, 5):
        with open(out("arrays_p%d.pkl" % proto), "wb") as f:
            pickle.dump(arrays, f, protocol=proto)
    joblib.dump(arrays, out("arrays.joblib"))
    joblib.dump(arrays, out("arrays_p2.joblib"), protocol=2)
    # Protocols 0/1 build the wrapper through copyreg._reconstructor.
    joblib.dump(arrays, out("arrays_p1.joblib"), protocol=1)
    compressors = [
        ("zlib", ("zlib", 3)),
        ("gzip", ("gzip", 3)),
        ("bz2", ("bz2", 3)),
        ("lzma", ("lzma", 3)),
        ("xz", ("xz", 3)),
    ]
    try:
        import lz4  # noqa: F401

        compressors.append(("lz4", ("lz4", 3)))
    except ImportError:
        print("lz4 not installed: skipping the lz4 fixture", file=sys.stderr)
    for name, compress in compressors:
        joblib.dump(arrays, out("arrays_%s.joblib" % name), compress=compress)

    model, expected["pipeline"] = pipeline()
    joblib.dump(model, out("pipeline.joblib"), compress=3)
    with open(out("pipeline.pkl"), "wb") as f:
        pickle.dump(model, f, protocol=pickle.DEFAULT_PROTOCOL)

    with open(out("expected.json"), "w") as f:
        json.dump(expected, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")

    total = sum(os.path.getsize(out(n)) for n in os.listdir(OUT))
    print("wrote %d files, %d bytes, to %s" % (len(os.listdir(OUT)), total, OUT))
    write_fuzz_seeds()


SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "seeds", "unpickle")


def write_fuzz_seeds():
    """Small seeds for the cargo-fuzz target: every protocol, numpy, joblib."""
    import shutil

    os.makedirs(SEEDS, exist_ok=True)
    for name in sorted(os.listdir(OUT)):
        path = os.path.join(OUT, name)
        if name != "expected.json" and os.path.getsize(path) <= 4096:
            shutil.copy(path, os.path.join(SEEDS, name))
    mini = {
        "a": [1, 2.5, None, True, "s", b"b", (1,), {1, 2}, frozenset([3])],
        "big": 2**70,
        "od": collections.OrderedDict(x=1),
        "c": 1j,
        "sl": slice(1, 2),
        "np": np.arange(3, dtype="<i2"),
        "o": np.array(["a", None], dtype=object),
        "sc": np.float32(1.5),
    }
    for proto in range(6):
        with open(os.path.join(SEEDS, "mini_p%d.pkl" % proto), "wb") as f:
            pickle.dump(mini, f, protocol=proto)
    joblib.dump(mini, os.path.join(SEEDS, "mini.joblib"))
    print("wrote fuzz seeds to %s" % SEEDS)


if __name__ == "__main__":
    # Fixed str hashing, so set iteration order (and so the files) are
    # reproducible from run to run.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    main()
