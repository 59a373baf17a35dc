#!/usr/bin/env python3
"""Golden fixture for NLTK's WordNet lemmatizer (issue #17), with NLTK 3.10.4 as the oracle.

    bash training/install_nltk_data.sh /work/nltk_data        # WordNet 3.0, once
    FALCON_NLTK_DATA=/work/nltk_data python training/gen_nltk_wordnet_fixtures.py

Writes crates/falcon_text/tests/fixtures/nltk_wordnet.jsonl, one JSON array per word:

    [word, lemma_n, lemma_v, lemma_a, lemma_r, lemma_s]

where lemma_X is ``WordNetLemmatizer().lemmatize(word, X)``, or ``null`` when it is
``word`` itself; a line that is just ``[word]`` means all five are ``word`` (most words:
writing every answer out would put the fixture past 2 MB).
crates/falcon_text/tests/nltk_wordnet.rs checks falcon_text's ``WordNet::lemmatize``
against every line, reading the same WordNet from ``FALCON_NLTK_DATA``.

The words are those of ``training/nltk_words.py`` (every single-word term of the demo
model's vocabulary, cased copies, hostile Unicode), then every key of the four
exception lists (``geese``, ``ran``, ``better``, ...) with a title-case copy of every
tenth, then the forms the suffix rules undo for every 20th lemma of each part of
speech (``dog`` -> ``dogs``, ``hope`` -> ``hoped``/``hoping``, ``wide`` -> ``wider``, ...),
then a hand list (multi-word lemmas with underscores, spaces and hyphens; equally short
candidates; words whose exception entry hides a rule's lemma). No word is repeated.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "training"))

from nltk_words import words  # noqa: E402

OUT = ROOT / "crates" / "falcon_text" / "tests" / "fixtures" / "nltk_wordnet.jsonl"
POS = ["n", "v", "a", "r", "s"]

HAND = [
    "geese", "Geese", "GEESE", "ran", "better", "best", "worse", "worst", "us", "u",
    "hardrock", "hot_dogs", "hot dogs", "hot-dogs", "Hot_dogs", "ice_creams",
    "ice creams", "men-of-war", "aides-de-camp", "attorneys_general",
    "attorneys-general", "mice", "feet", "teeth", "children", "oxen", "was",
    "were", "been", "being", "am", "is", "are", "has", "had", "did", "done", "went",
    "gone", "saw", "seen", "lying", "dying", "axes", "bases", "leaves", "data",
    "criteria", "fishes", "wolves", "knives", "wives", "lives", "calves", "halves",
    "buses", "boxes", "quizzes", "churches", "dishes", "ladies", "flies", "cities",
    "running", "stopped", "studied", "happier", "happiest", "biggest", "fastest",
    "further", "farther", "lesser", "more", "most", "less", "least", "abaci",
    "aardwolves", "dogs", "cats", "corpora", "women", "firemen", "watches", "glasses",
    "classes", "kisses", "hopes", "hoped", "hoping", "hopped", "hopping", "wider",
    "widest", "freer", "freest", "shyer", "shyest", "ses", "ves", "xes", "zes",
    "ches", "shes", "men", "ies", "es", "ed", "ing", "er", "est", "s", "",
    "u.s.", "U.S.", "a.m.", "p.m.", "mr.", "mrs.", "st.", "co.", "vs.", "etc.",
    "o'clock", "jack-o'-lantern", "rock'n'roll", "aren't", "'s", "3d", "4-h",
    "1st", "10", "100", "1000", "20th", "1990s", "911",
    "İstanbul", "ΣΊΣΥΦΟΣ", "naïve", "naïveté", "café", "cafés", "résumés",
    "fiancées", "pietà", "ångströms", "señoritas",
]


def lemmatizer():
    """NLTK's WordNetLemmatizer over the WordNet in $FALCON_NLTK_DATA, and that WordNet."""
    data = os.environ.get("FALCON_NLTK_DATA")
    if not data:
        sys.exit("set FALCON_NLTK_DATA to an nltk_data directory (training/install_nltk_data.sh)")
    import nltk

    assert nltk.__version__ == "3.10.4", nltk.__version__
    nltk.data.path.insert(0, data)
    from nltk.corpus import wordnet as wn
    from nltk.stem import WordNetLemmatizer

    wn.ensure_loaded()
    root = str(wn.root)
    if not root.startswith(str(Path(data).resolve())) and not root.startswith(data):
        sys.exit(f"NLTK loaded WordNet from {root}, not from {data}")
    assert wn.get_version() == "3.0", wn.get_version()
    return WordNetLemmatizer(), wn


def inflections(wn) -> list[str]:
    """Forms that each suffix rule of ``_morphy`` turns back into a sampled lemma."""
    out = []
    for pos in ["n", "v", "a"]:
        rules = wn.MORPHOLOGICAL_SUBSTITUTIONS[pos]
        lemmas = sorted(wn.all_lemma_names(pos))
        for lemma in lemmas[::20]:
            for old, new in rules:
                if lemma.endswith(new):
                    out.append(lemma[: len(lemma) - len(new)] + old)
    return out


def exception_keys(wn) -> list[str]:
    out = []
    for pos in ["n", "v", "a", "r"]:
        keys = sorted(wn._exception_map[pos])
        out.extend(keys)
        out.extend(k.title() for k in keys[::10])
    return out


def main() -> None:
    wnl, wn = lemmatizer()
    seen: set[str] = set()
    ordered: list[str] = []
    for w in words() + exception_keys(wn) + inflections(wn) + HAND:
        if w not in seen:
            seen.add(w)
            ordered.append(w)
    changed = {p: 0 for p in POS}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        for w in ordered:
            row: list[str | None] = [w]
            for p in POS:
                lemma = wnl.lemmatize(w, p)
                if lemma == w:
                    row.append(None)
                else:
                    changed[p] += 1
                    row.append(lemma)
            if all(x is None for x in row[1:]):
                row = [w]
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    size = OUT.stat().st_size
    print(f"{OUT.relative_to(ROOT)}: {len(ordered)} words, {size} bytes; changed per pos: {changed}")


if __name__ == "__main__":
    main()
