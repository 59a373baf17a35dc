#!/usr/bin/env python3
"""Golden fixtures for the user's own text code (issue #17).

For each surveyed pattern (``training/custom_code/<module>.py``, the user's
code as a project would write it) this fits a real pipeline with real NLTK
on SpamAssassin messages (URLs extracted from them for the URL model),
saves it with joblib, and records what the real code computes on held-out
texts plus hostile ones: every callable's output and the model's
``predict`` / ``predict_proba``.

Output: ``crates/falcon_engine/tests/fixtures/custom/<name>/``
``model.joblib``, ``texts.jsonl`` and ``expected.json``; the declarations
(``callables.toml``) beside them are written by hand, as a user would.

The functions are defined in ``__main__`` (the module is executed into this
script's namespace), so the pickles name them ``__main__.tokenize`` exactly
as a training script's do; the server-side ``clean`` is imported as module
``app``.

Run with the pinned environment (training/requirements.txt) and NLTK's data
installed by ``training/install_nltk_data.sh``:

    python3 training/gen_custom_code_fixtures.py --nltk-data DIR
"""
from __future__ import annotations

import argparse
import importlib
import json
import random
import re
import sys
from pathlib import Path

import joblib
import nltk
import sklearn

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "training" / "custom_code"
OUT = ROOT / "crates" / "falcon_engine" / "tests" / "fixtures" / "custom"

sys.path.insert(0, str(ROOT / "training"))
from spam_corpus import load_corpus  # noqa: E402

HOSTILE = [
    "",
    " ",
    "@united thanks!! https://t.co/abc123 #travel :-) <3 soooooo good",
    "<p>Dear customer,</p><br/>Your account &amp; password expire <b>today</b>.",
    "Running runners ran; the geese were flying over churches and ponies.",
    "Dr. Jones arrived at 5 p.m. on Jan. 3rd. She said: \"It's fine.\" Then she left.",
    "They'd've known if you'd told 'em. Don't! Can't? Won't...",
    "naïve café résumé İstanbul STRASSE straße ﬁle ΣΊΣΥΦΟΣ",
    "数据 科学 ١٢٣ ²³ ½ Ⅻ emoji 👍🏽 👨‍👩‍👧",
    "tab\tsep\u00a0nbsp\u2003em\u200bzero line\r\nbreak\u2028sep",
    "http://www.paypal.com.secure-login.example.ru/webscr/cmd=_login-run",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
]

URL_RE = re.compile(r"https?://[^\s<>\"')]+")


def define_in_main(module: str) -> dict:
    """Executes the user's module into ``__main__``, as a training script
    defines its functions."""
    main = sys.modules["__main__"]
    code = (CODE / f"{module}.py").read_text()
    exec(compile(code, str(CODE / f"{module}.py"), "exec"), main.__dict__)
    return main.__dict__


def messages(limit_train: int, limit_test: int):
    msgs, _ = load_corpus(ROOT / "target" / "spam-corpus")
    rnd = random.Random(17)
    msgs = list(msgs)
    rnd.shuffle(msgs)
    body = lambda m: m.text[:1500]  # noqa: E731
    train = msgs[:limit_train]
    test = msgs[limit_train : limit_train + limit_test]
    return ([body(m) for m in train], [m.label for m in train], [body(m) for m in test])


def url_data(limit_train: int, limit_test: int):
    msgs, _ = load_corpus(ROOT / "target" / "spam-corpus")
    urls = {}
    for m in msgs:
        for u in URL_RE.findall(m.text):
            urls.setdefault(u[:300], m.label)
    items = sorted(urls.items())
    random.Random(17).shuffle(items)
    train = items[:limit_train]
    test = items[limit_train : limit_train + limit_test]
    return [u for u, _ in train], [l for _, l in train], [u for u, _ in test]


def as_tokens(out):
    return out if isinstance(out, str) else [str(t) for t in out]


def write(name, model, callables, texts, preprocess=None, needs_data=False):
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, d / "model.joblib", compress=3)
    with open(d / "texts.jsonl", "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    expected = {
        "needs_nltk_data": needs_data,
        "versions": {
            "python": sys.version.split()[0],
            "sklearn": sklearn.__version__,
            "nltk": nltk.__version__,
        },
        "classes": [str(c) for c in model.classes_],
        "callables": {n: [as_tokens(call(t)) for t in texts] for n, call in callables.items()},
    }
    model_texts = texts
    if preprocess is not None:
        model_texts = [preprocess(t) for t in texts]
        expected["preprocess"] = model_texts
    expected["labels"] = [str(v) for v in model.predict(model_texts)]
    expected["proba"] = [[float(p) for p in row] for row in model.predict_proba(model_texts)]
    (d / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=0) + "\n")
    print(f"{name}: {len(texts)} texts, {(d / 'model.joblib').stat().st_size} bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nltk-data", required=True)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    nltk.data.path.insert(0, args.nltk_data)
    assert nltk.__version__ == "3.10.4", nltk.__version__
    assert sklearn.__version__ == "1.7.2", sklearn.__version__

    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import Pipeline

    X, y, test = messages(700, 120)
    test = test + HOSTILE
    want = lambda n: not args.only or n in args.only  # noqa: E731

    if want("tweets_porter"):
        ns = define_in_main("tweets_porter")
        m = Pipeline([
            ("tfidf", TfidfVectorizer(tokenizer=ns["tokenize"], token_pattern=None, max_features=3000, ngram_range=(1, 2))),
            ("clf", LogisticRegression(max_iter=1000)),
        ]).fit(X, y)
        write("tweets_porter", m, {"__main__.tokenize": ns["tokenize"]}, test, needs_data=True)

    if want("lemma_tokenizer"):
        ns = define_in_main("lemma_tokenizer")
        tok = ns["LemmaTokenizer"]()
        m = Pipeline([
            ("count", CountVectorizer(tokenizer=tok, token_pattern=None, max_features=3000)),
            ("clf", MultinomialNB()),
        ]).fit(X, y)
        write("lemma_tokenizer", m, {"__main__.LemmaTokenizer": tok}, test, needs_data=True)

    if want("regex_tokenize"):
        ns = define_in_main("regex_tokenize")
        m = Pipeline([
            ("tfidf", TfidfVectorizer(tokenizer=ns["tokenize"], token_pattern=None, max_features=3000)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]).fit(X, y)
        write("regex_tokenize", m, {"__main__.tokenize": ns["tokenize"]}, test)

    if want("server_clean"):
        sys.path.insert(0, str(CODE))
        app = importlib.import_module("app")
        m = Pipeline([
            ("tfidf", TfidfVectorizer(max_features=3000, sublinear_tf=True)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]).fit([app.clean(x) for x in X], y)
        write("server_clean", m, {}, test, preprocess=app.clean)

    if want("url_tokens"):
        ns = define_in_main("url_tokens")
        ux, uy, utest = url_data(1500, 150)
        utest = utest + HOSTILE
        m = Pipeline([
            ("tfidf", TfidfVectorizer(tokenizer=ns["url_tokens"], token_pattern=None, lowercase=False, max_features=3000)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]).fit(ux, uy)
        write("url_tokens", m, {"__main__.url_tokens": ns["url_tokens"]}, utest)

    if want("clean_step"):
        ns = define_in_main("clean_step")
        cleaner = ns["TextCleaner"]()
        m = Pipeline([
            ("clean", cleaner),
            ("tfidf", TfidfVectorizer(tokenizer=ns["snowball_tokenize"], token_pattern=None, max_features=3000)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]).fit(X, y)
        write(
            "clean_step",
            m,
            {
                "__main__.TextCleaner": lambda t: cleaner.transform([t])[0],
                "__main__.snowball_tokenize": ns["snowball_tokenize"],
            },
            test,
        )

    if want("tweet_lancaster"):
        ns = define_in_main("tweet_lancaster")
        m = Pipeline([
            ("tfidf", TfidfVectorizer(tokenizer=ns["tweet_tokens"], token_pattern=None, max_features=3000)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]).fit(X, y)
        write("tweet_lancaster", m, {"__main__.tweet_tokens": ns["tweet_tokens"]}, test)


if __name__ == "__main__":
    main()
