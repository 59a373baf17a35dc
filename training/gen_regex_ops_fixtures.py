#!/usr/bin/env python3
"""Generate crates/falcon_text/tests/fixtures/regex_ops.json: re.sub / re.split /
re.finditer / Pattern.match results from CPython 3.11 `re` and from the `regex` module (the
engine NLTK compiles its patterns with), for crates/falcon_text/tests/regex_ops.rs.

    /root/.pyenv/versions/3.11.7/bin/python training/gen_regex_ops_fixtures.py

Texts are stored once ("texts"); each case names its text by index ("t"). Spans and
positions are code point offsets (the Rust test converts them to byte offsets).
Python exceptions are recorded as {"error": kind}: "flags" (ValueError from the flags),
"syntax" (re.error compiling the pattern), "template" (re.error / IndexError from the
replacement).
"""
import json
import os
import platform
import random
import re
import warnings

import regex

warnings.simplefilter("ignore")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "falcon_text",
                   "tests", "fixtures", "regex_ops.json")

TEXTS = [
    "Check https://example.com/path?q=1&x=2 and http://foo.org. Now!",
    "@alice and @bob_99 wrote to @Carol: hi @ you@example.com",
    "<p>Hello <b>world</b></p><br/> <a href='x'>link</a> 3 < 4 > 2",
    "Price: $1,234.56 (was $2,000) -- 50% off!!! call 555-123-4567",
    "dates 2023/01/02, 2023-01-02 and 02.01.2023; version v1.2.3-beta",
    "  leading and trailing spaces\t\ttabs\nnew lines\r\nwindows\x0bvt\x0cff  ",
    "Straße STRASSE strasse ß ẞ SS",
    "İstanbul ISTANBUL istanbul ıi Iİ",
    "ΣΊΣΥΦΟΣ σίσυφος ςσΣ ΌΣΟΣ",
    "café cafe\u0301 naïve nai\u0308ve Ｆｕｌｌ ｗｉｄｔｈ",
    "emoji 😀😃 🇫🇷 👍🏽 ❤️ 👨‍👩‍👧 text😀text",
    "中文字符 日本語 한국어 العربية ٣٤٥ हिन्दी",
    "x² ½ Ⅻ ① ₃ ٣ ๓ 𝟙",
    "under_score __init__ CamelCaseWord snake_case_word",
    "\x1c\x1d\x1e\x1f sep \x85 nel \xa0 nbsp \u2028 ls \u3000 ideo",
    "a\nb\nc\n",
    "KELVIN \u212a k K \u017f s S \u0130 i",
    "email: John.Doe+tag@mail.example.co.uk, bad@, @@, a@b",
    "ooooh nooooo!!!! ??? ...... ---",
    "",
    "a",
    "aaaa bbbb abab baba",
    "\U00010400\U00010428 deseret \U0001D400 math",
]


def load_spam(n=10):
    try:
        import sys
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from spam_corpus import DEFAULT_CACHE, load_corpus
        from pathlib import Path
        msgs, _ = load_corpus(Path(os.environ.get("FALCON_DATA_CACHE", DEFAULT_CACHE)))
    except SystemExit as e:
        print("spam corpus unavailable:", e)
        return []
    rnd = random.Random(7)
    pick = rnd.sample(msgs, n)
    return [m.text[:600] for m in pick]


SUB = [
    (r"https?://\S+", " URL ", 0, 0),
    (r"@\w+", "@USER", 0, 0),
    (r"<[^>]+>", " ", 0, 0),
    (r"[^a-zA-Z]", " ", 0, 0),
    (r"[^a-zA-Z]+", " ", 0, 0),
    (r"\W+", " ", 0, 0),
    (r"[/\-.]", " ", 0, 0),
    (r"\d+", "NUM", 0, 0),
    (r"\d", "#", 3, 0),
    (r"(\w+)@(\w+)\.", r"\2 at \1.", 0, 0),
    (r"(?P<user>@\w+)", r"<\g<user>>", 0, 0),
    (r"(a)|(b)", r"[\1|\2]", 0, 0),
    (r"\s+", " ", 0, 0),
    (r"\s+", " ", 2, 0),
    (r"\s\s+", " ", 0, 0),
    (r"(\w)(\w*)", r"\g<2>\g<1>ay", 0, 0),
    (r"[aeiou]", r"\g<0>\g<0>", 0, re.I),
    (r"^\w+", "START", 0, re.M),
    (r"^\w+", "START", 0, 0),
    (r"\w+$", "END", 0, re.M),
    (r"\w+$", "END", 0, 0),
    (r"a.b", "X", 0, re.S),
    (r"\n.", "X", 0, 0),
    (r"\n.", "X", 0, re.S),
    (r"\w+", "W", 0, re.A),
    (r"\w+", "W", 0, 0),
    (r"straße", "X", 0, re.I),
    (r"ss", "X", 0, re.I),
    (r"[a-z]+", "L", 0, re.I),
    (r"[^a-z\s]+", "N", 0, re.I),
    (r"i", "!", 0, re.I),
    (r"σ", "!", 0, re.I),
    (r"k|s", "!", 0, re.I),
    (r"k", "!", 0, re.I | re.A),
    (r" [a-z]+ # a word", "", 0, re.X),
    (r"(\d+)-(\d+)", r"\2\t\1\n", 0, 0),
    (r"o", r"\\", 0, 0),
    (r"o", r"\-\é", 0, 0),
    (r"(o)", r"\101", 0, 0),
    (r"(o)", r"\0\01\012", 0, 0),
    (r"(o)", r"\10", 0, 0),
    (r"o", r"\q", 0, 0),
    (r"o", "\\", 0, 0),
    (r"(o)", r"\g<2>", 0, 0),
    (r"(o)", r"\g<x>", 0, 0),
    (r"(o)", r"\g<1", 0, 0),
    (r"(o)", r"\g1", 0, 0),
    (r"(?P<v>[aeiou])", r"\g<v>\g<0>\1", 0, 0),
    (r"(\w)\1", r"<\1\1>", 0, 0),
    (r"\b\w", "^", 0, 0),
    (r"(?<=\w)\.", " .", 0, 0),
    (r"[\U0001F300-\U0001FAFF]", " E ", 0, 0),
    (r"[\u0300-\u036f]", "", 0, 0),
    (r"\s+", " ", 0, 4),
    (r"\s+", " ", 0, 256 | 32),
    (r"\s+", " ", 0, 256),
    (r"(", " ", 0, 0),
    (r"a*", "-", 0, 0),
]

SPLIT = [
    (r"\s+", 0, 0), (r"\s+", 2, 0), (r"(\s+)", 0, 0), (r"[,;]\s*", 0, 0),
    (r"(a)|(b)", 0, 0), (r"\W+", 0, 0), (r"(\W)+", 0, 0), (r"[/\-.]", 0, 0),
    (r"\b\w+\b", 0, 0), (r"and", 0, re.I), (r"\n", 1, 0), (r"(?P<sep>[.!?])\s", 0, 0),
    (r"\d", 0, re.A), (r"[^\w\s]", 0, 0),
]

FIND = [
    (r"(?<=@)\w+", 0), (r"\b[A-Z][a-z]+\b", 0), (r"(\w+)=(\d+)?", 0), (r"\$\d+(?:\.\d\d)?", 0),
    (r"[a-z]+", re.I), (r"\w+", re.A), (r"\w+(?=\s)", 0), (r"#\w+", 0),
    (r"[\U0001F300-\U0001FAFF]", 0), (r"(\w)(\d)?", 0), (r"(?P<word>\w+)|(?P<punct>[^\w\s])", 0),
    (r"\S+", 0), (r"\w+|[^\w\s]+", 0), (r"\b\w\w+\b", 0), (r"[^\W\d_]+", re.I), (r"$\n?", re.M),
    (r"\Bb+", 0), (r"\w+\Z", 0), (r"(?i:[a-z])\w", 0), (r"(?a:\w+)\s", 0),
    (r"(?:ab)++|a", 0), (r"(?>a+)b", 0), (r".{3}", re.S), (r"^.", re.M | re.S),
]

MATCH = [r"\w+", r"https?://\S+", r"(\w)(\w)?", r"(?<=\s)\w+", r"\b\w+", r"\s+", r"[A-Z]",
         r"(?i)[a-z]+", r"^\w", r"\w+(?=\s)", r"@(\w+)"]

# The `regex` module (NLTK's engine): integers are *its* flag values (A = 128).
RX_SUB = [
    (r"\w+", "W", 0, 0), (r"\W+", " ", 0, 0), (r"\b\w", "^", 0, 0), (r"\s+", "_", 0, 0),
    (r"\d+", "N", 0, 0), (r"[^\p{L}\p{N}]", ".", 0, 0), (r"([^\p{L}\p{N}])\1{3,}", r"\1\1\1", 0, 0),
    (r"(.)\1{2,}", r"\1\1\1", 0, 0), (r"\p{Lu}", "U", 0, 0), (r"\P{L}+", "-", 0, 0),
    (r"\pN", "#", 0, 0), (r"[\p{P}\p{S}]+", "", 0, 0), (r"\p{Mn}", "", 0, 0),
    (r"i", "!", 0, regex.I), (r"[a-z]+", "L", 0, regex.I), (r"[^a-z\s]+", "N", 0, regex.I),
    (r"k", "!", 0, regex.I | regex.A), (r"\w+", "W", 0, regex.A), (r"ss|ß", "!", 0, regex.I),
    (r"σ", "!", 0, regex.I), (r"[^\W\d_]+", "A", 0, regex.I), (r"\w+", "W", 0, regex.I),
    (r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)", r"\1 ", 0, 0),
    (r'([^\.])(\.)([\]\)}>"\'' "»”’ " r"]*+)\s*$", r"\1 \2 \3 ", 0, 0),
    (r"([:,])([^\d])", r" \1 \2", 0, 0), (r"[;@#$%&]", r" \g<0> ", 0, 0),
    (r"(?<![A-Za-z0-9_!@#\$%&*])@(([A-Za-z0-9_]){15}(?!@)|([A-Za-z0-9_]){1,14}(?![A-Za-z0-9_]*@))",
     " ", 0, 0),
    (r"&(#?(x?))([^&;\s]+);", r"[\1|\2|\3]", 0, 0),
    (r"\w+", r"\x41\u00e9", 0, 0), (r"(o)", r"\101\0", 0, 0), (r"o", r"\-", 0, 0),
    (r"(?i)\p{Lu}", "U", 0, 0), (r"[[:alpha:]]+", "A", 0, 0), (r"\s+", " ", 0, 256),
    ("a b\xa0c", "X", 0, regex.X),
]
RX_SPLIT = [(r"\s+", 0, 0), (r"\W+", 0, 0), (r"(\p{P})", 0, 0), (r"[^\w\s]+", 1, 0)]
RX_FIND = [(r"\w+|[^\w\s]+", 0), (r"\b\w+\b", 0), (r"(?i)[a-z]+", 0), (r"\p{L}+", 0),
           (r"[\p{L}\p{M}]+", 0), (r"\d+", 0), (r"\S+", 0), (r"(\w)(\w)?", 0)]


def cp_spans(m):
    return [list(m.span(i)) if m.start(i) >= 0 else None for i in range(m.re.groups + 1)]


def run(mod, kind, pat, flags, text, arg=None, arg2=None):
    try:
        r = mod.compile(pat, flags)
    except ValueError as e:
        if not isinstance(e, getattr(mod, "error")):
            return {"error": "flags"}
        return {"error": "syntax"}
    except Exception:
        return {"error": "syntax"}
    try:
        if kind == "sub":
            return {"out": r.sub(arg, text, count=arg2)}
        if kind == "split":
            return {"out": r.split(text, maxsplit=arg)}
        if kind == "find":
            return {"out": [cp_spans(m) for m in r.finditer(text)]}
        if kind == "match":
            out = []
            for pos in arg:
                m = r.match(text, pos)
                out.append(cp_spans(m) if m else None)
            return {"out": out}
    except (re.error, regex.error, IndexError):
        return {"error": "template"}
    raise AssertionError(kind)


def main():
    texts = TEXTS + load_spam()
    cases = []

    def add(case, t, res):
        # An exception does not depend on the text: keep one case of it.
        if "error" in res and any(c["pattern"] == case["pattern"] and c.get("repl") ==
                                  case.get("repl") and c["flags"] == case["flags"] and
                                  c["dialect"] == case["dialect"] for c in cases):
            return
        cases.append({**case, "t": t, **res})

    for dialect, mod, subs, splits, finds in [
        ("re", re, SUB, SPLIT, FIND),
        ("regex", regex, RX_SUB, RX_SPLIT, RX_FIND),
    ]:
        for pat, repl, count, flags in subs:
            for i, t in enumerate(texts):
                add({"dialect": dialect, "op": "sub", "pattern": pat, "flags": flags,
                     "repl": repl, "count": count}, i,
                    run(mod, "sub", pat, flags, t, repl, count))
        for pat, maxsplit, flags in splits:
            for i, t in enumerate(texts):
                add({"dialect": dialect, "op": "split", "pattern": pat, "flags": flags,
                     "maxsplit": maxsplit}, i, run(mod, "split", pat, flags, t, maxsplit))
        for pat, flags in finds:
            for i, t in enumerate(texts):
                add({"dialect": dialect, "op": "finditer", "pattern": pat, "flags": flags}, i,
                    run(mod, "find", pat, flags, t))
    rnd = random.Random(3)
    for pat in MATCH:
        for i, t in enumerate(texts):
            n = len(t)
            pos = sorted({0, 1, n, n + 3} | {rnd.randrange(n + 1) for _ in range(4)}
                         | {i for i in range(1, n) if t[i - 1] == " "})
            pos = [p for p in pos if p <= n][:40] + [n + 3]
            add({"dialect": "re", "op": "match", "pattern": pat, "flags": 0, "positions": pos},
                i, run(re, "match", pat, 0, t, pos))
    doc = {"python": platform.python_version(), "regex": regex.__version__, "texts": texts,
           "cases": cases}
    with open(OUT, "w") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {OUT}: {len(cases)} cases, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
