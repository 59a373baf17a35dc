# The Python half of `falcon model verify` (embedded in the falcon binary).
#
# It runs in the user's own interpreter (`--python`), with their packages
# and their modules, and prints what the REAL code computes: each declared
# callable's output on every sample text, the real `preprocess` function's
# output, and the real model's `predict` / `predict_proba` (or
# `decision_function`). Falcon compares those with its declared programs.
#
# Input (stdin, JSON): {"model": [paths], "modules": [paths],
#   "callables": [names], "preprocess": name or null, "texts": [str]}
# Output (stdout, one JSON document): {"versions": {...}, "results": [...]}
# or {"error": "..."}; the exit status is 0 either way unless Python itself
# failed to start.
import importlib
import json
import os
import runpy
import sys
import traceback
import types


def fail(msg):
    json.dump({"error": msg}, sys.stdout)
    sys.stdout.write("\n")
    sys.exit(0)


def load_modules(paths):
    """Runs each module file (not as __main__, so its `if __name__ ==
    "__main__":` block does not run), puts its directory on sys.path so
    `module.name` references import, and copies its names into __main__ so
    the `__main__.tokenize` a training script pickled resolves."""
    main = sys.modules["__main__"]
    for path in paths:
        path = os.path.abspath(path)
        d = os.path.dirname(path)
        if d not in sys.path:
            sys.path.insert(0, d)
        ns = runpy.run_path(path, run_name="__falcon_verify__")
        for k, v in ns.items():
            if k.startswith("__"):
                continue
            # What the file defines belongs to __main__, as in the training
            # run that pickled it (so an instance's class is named
            # __main__.X, as the pickle names it).
            if getattr(v, "__module__", None) == "__falcon_verify__":
                try:
                    v.__module__ = "__main__"
                except (AttributeError, TypeError):
                    pass
            setattr(main, k, v)


def load_model(path):
    try:
        import joblib

        return joblib.load(path)
    except ImportError:
        pass
    import pickle

    with open(path, "rb") as f:
        return pickle.load(f)


def flatten(obj, out):
    """The estimators in the order Falcon chains them: a Pipeline's steps,
    a search's best_estimator_, a tuple or list's items."""
    if isinstance(obj, (list, tuple)):
        for o in obj:
            flatten(o, out)
    elif hasattr(obj, "steps") and isinstance(getattr(obj, "steps"), list):
        for _, s in obj.steps:
            if s is not None and s != "passthrough":
                flatten(s, out)
    elif hasattr(obj, "best_estimator_"):
        flatten(obj.best_estimator_, out)
    else:
        out.append(obj)


def qualname(obj):
    """`module.qualname` as pickle names it: a function by its own name, an
    instance by its class's."""
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return obj.__module__ + "." + obj.__qualname__
    t = type(obj)
    return t.__module__ + "." + t.__qualname__


def find_instances(steps):
    """Every callable object the model holds that Falcon may have been
    told about: vectorizers' tokenizer/preprocessor, and the steps
    themselves (custom classes), keyed by qualified name."""
    found = {}

    def visit(est, depth=0):
        if depth > 8:
            return
        for attr in ("tokenizer", "preprocessor", "analyzer"):
            v = getattr(est, attr, None)
            if v is not None and not isinstance(v, str):
                found.setdefault(qualname(v), ("call", v))
        found.setdefault(qualname(est), ("transform", est))
        for attr in ("transformer_list", "transformers_", "transformers"):
            for item in getattr(est, attr, None) or []:
                if isinstance(item, tuple) and len(item) >= 2 and not isinstance(item[1], str):
                    visit(item[1], depth + 1)
        if hasattr(est, "steps") and isinstance(est.steps, list):
            for _, s in est.steps:
                if s is not None and s != "passthrough":
                    visit(s, depth + 1)

    for s in steps:
        visit(s)
    return found


def resolve(name, instances):
    if name in instances:
        return instances[name]
    module, _, attr = name.rpartition(".")
    mod = sys.modules.get(module) or importlib.import_module(module)
    obj = mod
    for part in attr.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, type):
        raise LookupError(
            f"{name} is a class, and the model holds no instance of it (its instances are what is called)"
        )
    return ("call", obj)


def run_callable(kind, obj, text):
    if kind == "transform":
        out = obj.transform([text])
        out = list(out)[0]
    else:
        out = obj(text)
    if isinstance(out, str):
        return out
    out = list(out)
    bad = [t for t in out if not isinstance(t, str)]
    if bad:
        raise TypeError(f"returned a {type(bad[0]).__name__} token ({bad[0]!r}), not str")
    return out


def main():
    req = json.load(sys.stdin)
    try:
        load_modules(req["modules"])
    except Exception:
        fail("loading your module failed:\n" + traceback.format_exc())
    try:
        parts = [load_model(p) for p in req["model"]]
    except Exception:
        fail("unpickling the model failed:\n" + traceback.format_exc())
    steps = []
    flatten(parts if len(parts) > 1 else parts[0], steps)
    instances = find_instances(steps)
    callables = {}
    for name in req["callables"]:
        try:
            callables[name] = resolve(name, instances)
        except Exception as e:
            fail(f"cannot find the real {name}: {e}")
    pre = None
    if req.get("preprocess"):
        try:
            pre = resolve(req["preprocess"], instances)
        except Exception as e:
            fail(f"cannot find the real preprocess function {req['preprocess']}: {e}")
    *head, last = steps

    def predict(text):
        x = [text]
        for s in head:
            x = s.transform(x)
        label = last.predict(x)[0]
        scores, kind = None, None
        if hasattr(last, "predict_proba"):
            try:
                scores, kind = [float(v) for v in last.predict_proba(x)[0]], "proba"
            except AttributeError:
                pass
        if scores is None and hasattr(last, "decision_function"):
            d = last.decision_function(x)[0]
            scores = [float(v) for v in (d if hasattr(d, "__len__") else [d])]
            kind = "decision"
        return str(label), scores, kind

    results = []
    for text in req["texts"]:
        r = {"callables": {}}
        for name, (kind, obj) in callables.items():
            try:
                r["callables"][name] = {"ok": run_callable(kind, obj, text)}
            except Exception as e:
                r["callables"][name] = {"raised": f"{type(e).__name__}: {e}"}
        model_text = text
        if pre is not None:
            try:
                model_text = run_callable(pre[0], pre[1], text)
                r["preprocess"] = {"ok": model_text}
            except Exception as e:
                r["preprocess"] = {"raised": f"{type(e).__name__}: {e}"}
                results.append(r)
                continue
        try:
            label, scores, kind = predict(model_text)
            r["label"], r["scores"], r["score_kind"] = label, scores, kind
        except Exception as e:
            r["model_raised"] = f"{type(e).__name__}: {e}"
        results.append(r)
    versions = {"python": sys.version.split()[0]}
    for m in ("sklearn", "nltk", "numpy"):
        try:
            versions[m] = importlib.import_module(m).__version__
        except Exception:
            pass
    json.dump({"versions": versions, "results": results}, sys.stdout)
    sys.stdout.write("\n")


main()
