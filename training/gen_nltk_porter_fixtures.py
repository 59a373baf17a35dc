#!/usr/bin/env python3
"""Golden fixture for falcon_text's NLTK Porter stemmer (issue #17).

    /root/.pyenv/versions/3.11.7/bin/python training/gen_nltk_porter_fixtures.py

Writes ``crates/falcon_text/tests/fixtures/nltk_porter.jsonl``: one JSON array
per line,

    [word, nltk_ext_stem, martin_stem, original_stem, nltk_ext_stem_without_lowercasing]

i.e. ``PorterStemmer(mode).stem(word)`` for the three modes and
``PorterStemmer().stem(word, to_lowercase=False)``, computed by the real
NLTK 3.10.4 (the version is checked). ``crates/falcon_text/tests/nltk_porter.rs``
asserts the Rust port reproduces every cell.

Words: the shared stemmer list ``nltk_words.words()``, then ``EXTRA`` (cases
that list does not reach: NLTK quirks such as a literal ``*d`` suffix, runs of
``y``, upper-case vowels kept by ``to_lowercase=False``, the irregular-forms
pool, length-changing lowercase at the two-letter cut-off), then ``FUZZ``
(seeded random words over a small alphabet that is dense in suffix letters, so
every rule and condition of every mode meets many stems).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import nltk
from nltk.stem.porter import PorterStemmer

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nltk_words  # noqa: E402

OUT = (
    Path(__file__).resolve().parent.parent
    / "crates" / "falcon_text" / "tests" / "fixtures" / "nltk_porter.jsonl"
)

EXTRA = [
    # Step 1b's "*d" rule is also tried as a literal suffix by _apply_rule_list.
    "a*ded", "a*ding", "ba*ding", "*ded", "e*d", "o*dding", "a*dd", "*d", "a*d",
    # Runs of 'y' (consonant/vowel alternation) and y-initial words.
    "yyy", "yyyy", "yyyyy", "yyyyyy", "yyyyying", "ayyyed", "byyyed", "yying", "yyies",
    "syzygy", "toy", "toys", "yelling", "yttrium", "y" * 1000, "y" * 1001 + "ing",
    # Upper-case letters are consonants when the word is not lowercased.
    "AGREED", "Happy", "HAPPY", "CaresSES", "RelationAL", "SKIES", "Sky", "DYING",
    "RunnING", "hoPPing", "fAiling", "fIling", "CEASE", "controLL", "ROLL",
    # NLTK extensions: ies/ied, alli, fulli, logi, cvc of length 2, y -> i.
    "dies", "ties", "lies", "pies", "flies", "died", "tied", "lied", "spied", "cried",
    "ied", "iied", "ies", "iies", "rationalli", "radicalli", "hopefulli", "carefulli",
    "geology", "theology", "archaeology", "philology", "biology", "logi", "ologi",
    "analogi", "spy", "fly", "try", "enjoy", "enjoyment", "sly", "ay", "oy", "uy",
    "abli", "conformabli", "bli", "sensibli", "eed", "feed", "agreed", "bleed",
    "ing", "ting", "owing", "aped", "oped", "uted", "sing", "king",
    # Two-letter cut-off uses the ORIGINAL word's length; lowercase may lengthen.
    "İ", "İd", "İs", "İİ", "İes", "aİ", "Is", "ID", "S", "SS", "ſs", "\u212as",
    # Measure with non-ASCII letters (all consonants to NLTK).
    "café", "cafés", "naïveté", "résumé", "façade", "élève", "ëed", "àing", "ÿes",
    "über", "fiancées", "ᵃed", "αing", "σσing", "ςed", "ⅰes",
    # Unusual characters in the suffix area.
    "a\u0301ed", "e\u0308s", "s\u0301", "ll\u0301", "at\u200bed", "ing\u00ad",
    "\x00ing", "ing\x00", "🙂ing", "🙂🙂ed", "🙂ies", "🙂alli", "xx", "xxx",
    # Double consonants, *o, step 5.
    "hopping", "hissing", "fizzing", "falling", "tanned", "filing", "failing",
    "wxying", "boxing", "bowing", "toying", "hoped", "hoping", "probate", "rate",
    "cease", "controlling", "rolling", "fulling", "ll", "all", "tall", "aall",
    "generalization", "generalizations", "oscillators", "triplicate",
    "sensational", "traditional", "ration", "national", "institutionalization",
    "conditionally", "transformational", "emotionalism", "bowdlerization",
]

# Vowels, a doubled y, the letters Step 1b and 5b test (l, s, z), some
# consonants, and three characters NLTK treats specially or not at all.
ALPHABET = "aeiouyylllsszztdbcgmnr*AYé"


def fuzz(n: int, seed: int = 1729) -> list[str]:
    """Seeded random words, most ending in one of the algorithm's suffixes."""
    rng = random.Random(seed)
    suffixes = [
        "", "s", "es", "ies", "sses", "ss", "ed", "eed", "ied", "ing", "y", "ly",
        "ational", "tional", "enci", "anci", "izer", "bli", "abli", "alli", "entli",
        "eli", "ousli", "ization", "ation", "ator", "alism", "iveness", "fulness",
        "ousness", "aliti", "iviti", "biliti", "fulli", "logi", "icate", "ative",
        "alize", "iciti", "ical", "ful", "ness", "al", "ance", "ence", "er", "ic",
        "able", "ible", "ant", "ement", "ment", "ent", "sion", "tion", "ion", "ou",
        "ism", "ate", "iti", "ous", "ive", "ize", "e", "ll", "at", "bl", "iz",
    ]
    out = []
    for _ in range(n):
        stem = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 7)))
        out.append(stem + rng.choice(suffixes) + rng.choice(["", "", "", "s", "ed", "ing"]))
    return out


def main() -> None:
    if nltk.__version__ != "3.10.4":
        raise SystemExit(f"expected NLTK 3.10.4, found {nltk.__version__}")
    nltk_ext = PorterStemmer(PorterStemmer.NLTK_EXTENSIONS)
    martin = PorterStemmer(PorterStemmer.MARTIN_EXTENSIONS)
    original = PorterStemmer(PorterStemmer.ORIGINAL_ALGORITHM)

    seen: set[str] = set()
    words: list[str] = []
    for w in nltk_words.words() + EXTRA + fuzz(1500):
        if w not in seen:
            seen.add(w)
            words.append(w)

    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="\n") as f:
        for w in words:
            row = [
                w,
                nltk_ext.stem(w),
                martin.stem(w),
                original.stem(w),
                nltk_ext.stem(w, to_lowercase=False),
            ]
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{len(words)} words -> {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
