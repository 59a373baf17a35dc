"""The word list every NLTK stemmer fixture is checked over (issue #17).

Every single-word term of the demo model's vocabulary (``models/spam/1``,
scikit-learn's tokenization of the SpamAssassin corpus, lowercased), a
title-case and an upper-case copy of every 50th of them (the stemmers lower
the word themselves, with Python's ``str.lower``), and a hand-made list of
hostile Unicode: case mappings that change length, final sigma, ligatures,
combining marks, digits from other scripts, emoji, controls and empty-ish
strings.

Shared by the ``gen_nltk_*_fixtures.py`` scripts so the stemmers are all
checked over the same words.
"""

from __future__ import annotations

from pathlib import Path

import joblib

ROOT = Path(__file__).resolve().parent.parent
DEMO_MODEL = ROOT / "models" / "spam" / "1" / "model.joblib"

HOSTILE = [
    "", "a", "I", "s", "ss", "sss", "y", "yy", "eed", "ied", "ies", "sses",
    "İstanbul", "İ", "ǅungla", "ǈ", "ß", "STRASSE", "straße", "ﬁling", "ﬂowers", "ﬀ",
    "ΣΊΣΥΦΟΣ", "ὈΔΥΣΣΕΎΣ", "ςσ", "naïve", "café", "cafe\u0301", "résumés", "fiancée",
    "coöperation", "zoölogy", "ſtanding", "Kelvin\u212a", "\u212aing", "ﬃciency",
    "١٢٣", "²³", "½ing", "Ⅻ", "ⅻing", "🙂", "running🙂", "👍🏽likes", "\u200bzero",
    "zero\u200dwidth", "\u00adsoft", "tab\tbed", "new\nline", "\x00nul", "\x7fdel",
    "ŉ", "ǰ", "ΐ", "ﬆ", "Ǆ", "ǆ", "ﬅ", "\u0345", "ᾼ", "ᾳ", "Ὰͅ", "ẞ", "ᵃ",
    "agreed", "feed", "plastered", "bled", "motoring", "sing", "conflated", "troubled",
    "sized", "hopping", "tanned", "falling", "hissing", "fizzed", "failing", "filing",
    "happy", "sky", "relational", "conditional", "rational", "valenci", "hesitanci",
    "digitizer", "conformabli", "radicalli", "differentli", "vileli", "analogousli",
    "vietnamization", "predication", "operator", "feudalism", "decisiveness",
    "hopefulness", "callousness", "formaliti", "sensitiviti", "sensibiliti",
    "triplicate", "formative", "formalize", "electriciti", "electrical", "hopeful",
    "goodness", "revival", "allowance", "inference", "airliner", "gyroscopic",
    "adjustable", "defensible", "irritant", "replacement", "adjustment", "dependent",
    "adoption", "homologou", "communism", "activate", "angulariti", "homologous",
    "effective", "bowdlerize", "probate", "rate", "cease", "controll", "roll",
    "generously", "dying", "lying", "tying", "news", "innings", "outing", "canning",
    "herring", "earring", "proceed", "exceed", "succeed", "skies", "idly", "gently",
    "ugly", "early", "only", "singly", "andes", "atlas", "bias", "cosmos", "howe",
    "commun", "gener", "arsen", "universe", "universal", "university", "consignment",
    "'s", "'", "''", "don't", "o'neill", "rock'n'roll", "e-mail", "x-ray",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "ed", "ing", "ly", "sly", "bly", "ational", "tional", "enci", "izer", "ation",
    "yes", "by", "say", "day", "played", "crying", "flying", "enjoy", "ys", "yy's",
]


def words() -> list[str]:
    """The fixture words, in a fixed order, without duplicates."""
    pipe = joblib.load(DEMO_MODEL)
    vocab = next(s for _, s in pipe.steps if hasattr(s, "vocabulary_")).vocabulary_
    unigrams = sorted(t for t in vocab if " " not in t)
    cased = []
    for t in unigrams[::50]:
        cased.append(t.title())
        cased.append(t.upper())
    seen = set()
    out = []
    for w in unigrams + cased + HOSTILE:
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


if __name__ == "__main__":
    ws = words()
    print(len(ws), "words")
