"""OIP v2 conformance of `falcon serve` with NVIDIA's own HTTP client.

Usage: tritonclient_conformance.py HOST:PORT HELDOUT_JSONL
Run by `cargo test -p falcon --test serve_process tritonclient_conformance`,
which starts the server. Exits non-zero on the first failed check.
"""

import json
import sys
import urllib.request

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

URL, HELDOUT = sys.argv[1], sys.argv[2]
client = httpclient.InferenceServerClient(url=URL)
passed = 0


def check(name, fn):
    global passed
    try:
        fn()
    except Exception:
        print(f"FAIL {name}", flush=True)
        raise
    passed += 1
    print(f"ok   {name}", flush=True)


def native(text):
    """The same text through Falcon's JSON API, for cross-checking values."""
    req = urllib.request.Request(
        f"http://{URL}/v1/models/spam/predict",
        data=json.dumps({"text": text}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def s(x):
    return x.decode() if isinstance(x, bytes) else str(x)


with open(HELDOUT) as f:
    TEXTS = [json.loads(line)["text"] for _, line in zip(range(8), f)]
TEXTS.append("FREE!!! Click here to claim your $1000 prize now: http://example.com/win")
EXPECTED = [native(t) for t in TEXTS]


def health():
    assert client.is_server_live()
    assert client.is_server_ready()


def server_metadata():
    md = client.get_server_metadata()
    assert md["name"] == "falcon", md
    for ext in ("classification", "binary_tensor_data", "model_repository", "statistics"):
        assert ext in md["extensions"], md


def model_metadata():
    md = client.get_model_metadata("spam")
    assert md["name"] == "spam" and "1" in md["versions"], md
    assert md["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}], md
    names = [o["name"] for o in md["outputs"]]
    assert names == ["label", "probabilities", "decision"], names
    assert client.get_model_metadata("spam", "1")["name"] == "spam"
    cfg_err = None
    try:
        client.get_model_metadata("nope")
    except InferenceServerException as e:
        cfg_err = e
    assert cfg_err is not None and "nope" in str(cfg_err), cfg_err


def model_ready():
    assert client.is_model_ready("spam")
    assert client.is_model_ready("spam", "1")
    assert not client.is_model_ready("spam", "7")
    assert not client.is_model_ready("nope")


def make_input(texts, binary, shape=None):
    arr = np.array([t.encode() for t in texts], dtype=np.object_)
    if shape is not None:
        arr = arr.reshape(shape)
    inp = httpclient.InferInput("text", list(arr.shape), "BYTES")
    inp.set_data_from_numpy(arr, binary_data=binary)
    return inp


def infer(binary):
    def run():
        outs = [
            httpclient.InferRequestedOutput(n, binary_data=binary)
            for n in ("label", "probabilities", "decision")
        ]
        r = client.infer("spam", [make_input(TEXTS, binary)], outputs=outs, request_id="req-1")
        labels = r.as_numpy("label")
        probs = r.as_numpy("probabilities")
        decision = r.as_numpy("decision")
        assert labels.shape == (len(TEXTS),), labels.shape
        assert probs.shape == (len(TEXTS), 2) and probs.dtype == np.float64, (probs.shape, probs.dtype)
        assert decision.shape == (len(TEXTS), 1), decision.shape
        for i, e in enumerate(EXPECTED):
            assert s(labels[i]) == e["label"], (labels[i], e)
            assert probs[i, 0] == e["probabilities"]["ham"] and probs[i, 1] == e["probabilities"]["spam"]
            assert decision[i, 0] == e["decision"]
        resp = r.get_response()
        assert resp["model_name"] == "spam" and resp["model_version"] == "1" and resp["id"] == "req-1", resp
        assert s(labels[-1]) == "spam"

    return run


def infer_default_outputs_and_column_shape():
    r = client.infer("spam", [make_input(TEXTS[:3], False, shape=(3, 1))])
    assert r.as_numpy("probabilities").shape == (3, 2)
    assert [s(x) for x in r.as_numpy("label")] == [e["label"] for e in EXPECTED[:3]]
    r = client.infer("spam", [make_input(TEXTS[:2], True)], model_version="1")
    assert r.as_numpy("label").shape == (2,)


def classification(binary):
    def run():
        out = httpclient.InferRequestedOutput("label", binary_data=binary, class_count=2)
        r = client.infer("spam", [make_input(TEXTS, binary)], outputs=[out])
        cls = r.as_numpy("label")
        assert cls.shape == (len(TEXTS), 2), cls.shape
        for i, e in enumerate(EXPECTED):
            score, idx, label = s(cls[i, 0]).split(":", 2)
            assert label == e["label"], (cls[i], e)
            assert ["ham", "spam"][int(idx)] == label
            assert float(score) == e["probabilities"][label]
            assert float(s(cls[i, 1]).split(":")[0]) <= float(score)

    return run


def statistics():
    st = client.get_inference_statistics("spam")
    m = st["model_stats"][0]
    assert m["name"] == "spam" and m["inference_count"] >= len(TEXTS), m
    assert m["inference_stats"]["success"]["count"] >= 1, m


def repository():
    idx = client.get_model_repository_index()
    assert {"name": "spam", "version": "1", "state": "READY", "reason": ""} in idx, idx
    client.unload_model("spam")
    assert not client.is_model_ready("spam")
    client.load_model("spam")
    assert client.is_model_ready("spam")
    try:
        client.load_model("does-not-exist")
        raise AssertionError("loading a missing model succeeded")
    except InferenceServerException as e:
        assert "does-not-exist" in str(e), e


def errors():
    bad = httpclient.InferInput("text", [1], "FP32")
    bad.set_data_from_numpy(np.array([1.0], dtype=np.float32), binary_data=False)
    try:
        client.infer("spam", [bad])
        raise AssertionError("FP32 input accepted")
    except InferenceServerException as e:
        assert "BYTES" in str(e), e
    try:
        client.infer("nope", [make_input(["x"], False)])
        raise AssertionError("unknown model accepted")
    except InferenceServerException as e:
        assert "nope" in str(e), e


check("health live/ready", health)
check("server metadata", server_metadata)
check("model metadata", model_metadata)
check("model ready", model_ready)
check("infer (JSON tensors)", infer(False))
check("infer (binary tensors)", infer(True))
check("infer default outputs, shape [n, 1], version", infer_default_outputs_and_column_shape)
check("classification (JSON)", classification(False))
check("classification (binary)", classification(True))
check("statistics", statistics)
check("repository index/unload/load", repository)
check("errors", errors)
print(f"tritonclient conformance: {passed} passed, 0 failed")
