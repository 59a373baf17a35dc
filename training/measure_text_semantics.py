# -*- coding: utf-8 -*-
"""How far each Python's text rules are from the ones Falcon carries (CPython 3.11).

A model is fitted and served by scikit-learn under some Python; its
vectorizer lowercases (``str.lower``), strips accents (``unicodedata``
NFKD and ``combining``) and tokenizes (``re``'s ``\\w``, ``\\d``, ``\\s``, ``\\b``)
with that Python's Unicode tables.  Falcon carries the tables of CPython
3.11 (Unicode 14.0.0).  This script counts, for every code point, where
another interpreter's answer differs from 3.11's, per property:

  python training/measure_text_semantics.py [PYTHON ...]

With no arguments it measures the pyenv interpreters 2.7 and 3.7-3.13.  The
worker part (``--dump``) runs under each interpreter, Python 2.7 included,
so it is written in the common subset of Python 2 and 3.
"""

from __future__ import print_function, unicode_literals

import json
import re
import subprocess
import sys
import unicodedata

try:
    chr_ = unichr  # noqa: F821  (Python 2)
except NameError:
    chr_ = chr

PROPS = ("lower", "word", "digit", "space", "nfkd", "combining")


def dump():
    word = re.compile(r"\w", re.UNICODE)
    digit = re.compile(r"\d", re.UNICODE)
    space = re.compile(r"\s", re.UNICODE)
    out = dict((p, {}) for p in PROPS)
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        try:
            c = chr_(cp)
        except ValueError:  # narrow Python 2 builds
            continue
        key = "%x" % cp
        low = c.lower()
        if low != c:
            out["lower"][key] = low
        if word.match(c):
            out["word"][key] = 1
        if digit.match(c):
            out["digit"][key] = 1
        if space.match(c):
            out["space"][key] = 1
        n = unicodedata.normalize("NFKD", c)
        if n != c:
            out["nfkd"][key] = n
        k = unicodedata.combining(c)
        if k:
            out["combining"][key] = k
    out["version"] = "%d.%d.%d" % sys.version_info[:3]
    out["unicode"] = unicodedata.unidata_version
    s = json.dumps(out, ensure_ascii=True)
    if sys.version_info[0] == 2:
        sys.stdout.write(s)
    else:
        sys.stdout.write(s)


def diff(a, b):
    keys = set(a) | set(b)
    return sorted(int(k, 16) for k in keys if a.get(k) != b.get(k))


def main(pythons):
    dumps = []
    for py in pythons:
        raw = subprocess.check_output([py, __file__, "--dump"])
        dumps.append(json.loads(raw.decode("ascii")))
    ref = next((d for d in dumps if d["version"].startswith("3.11.")), None)
    if ref is None:
        sys.exit("include a CPython 3.11 interpreter: it is the reference")
    print("| Python | Unicode | " + " | ".join(PROPS) + " | examples |")
    print("|---|---|" + "---|" * len(PROPS) + "---|")
    for d in dumps:
        counts, examples = [], []
        for p in PROPS:
            cps = diff(d[p], ref[p])
            counts.append(str(len(cps)))
            examples += ["%s U+%04X" % (p, cp) for cp in cps[:2]]
        print("| %s | %s | %s | %s |" % (d["version"], d["unicode"], " | ".join(counts), ", ".join(examples[:4])))


if __name__ == "__main__":
    if sys.argv[1:] == ["--dump"]:
        dump()
    else:
        args = sys.argv[1:]
        if not args:
            root = subprocess.check_output(["pyenv", "root"]).decode().strip()
            args = [root + "/versions/" + v + "/bin/python"
                    for v in ("2.7.18", "3.7.16", "3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0")]
        main(args)
