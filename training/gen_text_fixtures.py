#!/usr/bin/env python3
"""Generate crates/falcon_text/tests/fixtures/text_cases.json with CPython 3.11 as the oracle.

    python3 training/gen_text_fixtures.py

The Rust integration tests (crates/falcon_text/tests/python_parity.rs) compare falcon_text
against every expectation in this file exactly.
"""
import json
import os
import platform
import random
import re
import unicodedata
import warnings

from sklearn.feature_extraction.text import strip_accents_ascii, strip_accents_unicode

warnings.simplefilter("ignore")  # FutureWarning for possible set operations etc.

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "falcon_text",
                   "tests", "fixtures", "text_cases.json")

WHITE_SPACES = re.compile(r"\s\s+")

# Patterns run against *every* text (including the all-code-point samples).
MAIN_PATTERNS = [
    r"(?u)\b\w\w+\b",
    r"\b\w\w+\b",
    r"\b\w+\b",
    r"(?u)\b\w+\b",
    r"[a-zA-Z]{2,}",
    r"\S+",
    r"(?u)\b[^\d\W]+\b",
    r"\w+|[^\w\s]+",
    r"#?\w+",
    r"(?u)\b\w\w+\b|[\U0001F300-\U0001FAFF]",
    r"(?a)\b\w\w+\b",
    r"(?i)abc",
    r"\w+(?=\s)",
    r"[^\W\d_]+",
    r"\d+",
    r"\s+",
    r"(?i)[a-z]+",
    r"(?i)[^a-z\s]+",
    r"(?i)σ|ss|k|i",
    r"(?i)[\u0100-\u024f\u0370-\u03ff\u0400-\u04ff]+",
    r"(?i)[\U00010400-\U0001044f]+",
    r"(?i)[\U00010400x]|\u0130",
    r"(?a)\w+",
    r"(?a)\s+",
    r"\b\w\b",
    r"\B\w+",
    r"(?<=\s)\w+",
    r"(\w)\w*",
    r"\b[a-z]\w{1,5}\b",
    r"(?i)\b[a-zé]+\b",
    r"\b\w{3}\b",
    r"(?a)\b[^\W\d]+\b",
    r"\b\w+\b|[^\w\s]",
    r"\b\w\w+?\b|[\u2000-\u2bff]|\s",
]

# Extra patterns run against the short texts only (regex-semantics conformance).
EXTRA_PATTERNS = [
    r"\w+$", r"(?m)^\w+", r"(?m)\w+$", r"^\w+", r"\A\w+", r"\w+\Z", r"(?x) \w+ \s # comment",
    r"(?i)k\w+", r"\b\w\b|\W", r"[\w.-]+@[\w.-]+", r"[\w-]+", r"[^\w]+", r"[\d\s]+", r"[^\d\W]+",
    r"(?a:\w+)", r"(?a)(?u:\w+)", r"(?i:a)b", r"a(?i:b)", r"(?i)a(?-i:b)", r"(?s:.)\n?",
    r"\w{2,3}", r"\w{2,3}?", r"\w+?\b", r"(?>\w+)", r"\w++", r"\w*+x", r"(\w+)\s\1",
    r"(?P<w>\w)(?P=w)", r"(?<!\w)\d+", r"(?<=[\s,])\w{2}", r"(?!\d)\w+", r"a|ab|abc",
    r"(ab|a)(c|bcd)", r"x*y", r"[\]a-]+", r"[^]a]+", r"\x41\u0042\U00000043", r"\101\0",
    r"[\101-\103]+", r"\.\+\*", r"a{,2}b", r"a{2}", r"a{1,}?", r"a{", r"a{x}", r"{a}",
    r"[-a]", r"[a-]", r"[\w-]", r"\t|\n|\r|\f|\v|\a", r"[\b]", r"(?:ab)+", r"(a)|(?:b)",
    r"(?:(a)|b)+", r"(?i)ǅ", r"(?i)[ǅ]", r"(?i)ﬁ", r"(?i)ß", r"(?i)[k-l]+", r"(?i)\xb5",
    r"(?i)[^k]", r"(?ai)k", r"(?ai)[a-z]+", r"(?i)[\w]+", r"(?i)[^\W]+", r"\W+", r"\S\s",
    r"(?u)\b[a-z]{2,}\b", r"\b[^\W\d_]{2,}\b", r"(?i)\bthe\b", r"\bé\b", r"é|e\u0301",
    r"[\u0300-\u036f]+", r"[\ud800-\udfff]|a", r"\$\d+(?:\.\d\d)?", r"https?://\S+",
    r"[😀-🙏]", r"(?u)\w+(?:'\w+)?", r"(?:\w+-)+\w+", r"(?=(\w+))\w", r"[[]", r"[a&&b]+",
    r"(?<=(?P<x>a))(?P=x)", r"(?<=(a))\1", r".", r"(?s).",
]

# Python rejects these (re.error / OverflowError); falcon_text must refuse them too.
PYTHON_ERRORS = [
    "a**", "*a", "+", "?", "a{2}{3}", "(?i)a(?u)", "a(?i)", "[z-a]", r"\q", r"[\w-z]", "(",
    ")", "[a", "[]", r"\1", "(a)(?P=b)", "a{3,2}", "(?<=a+)b", "(?<=a|bc)d", r"\x4", r"\u12",
    r"\U00110000", "(?L)a", "(?au)a", "(?a)(?u)a", "a\\", "(?P<1>a)", "(?-a:x)", "(?i-i:x)",
    "(?P<a>x)(?P<a>y)", "(?z)", "(?<x)", "(?P", "(?#unterminated", r"[\A]", r"\8", r"(a)\2",
    "(?P=a)", r"\777", "^*", r"\b+", "(?i", "(?i-", "a)", "(?P<a>",
]

SHORT_TEXTS = [
    "", " ", "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
    "a", "é", "\u0301", "_", "Σ", "ab", "a b", "a\tb", "a  b\t\tc\n\n", "  lead and trail  ",
    "Hello, World! It's 4:30pm; cost=$12.50 (approx).",
    "Café naïve résumé coöperate Ångström",  # precomposed
    "Cafe\u0301 nai\u0308ve re\u0301sume\u0301",  # decomposed
    "ΟΔΟΣ ΣΑΣ Σ ΣΣ ΑΣ'Σ ΑΣ.Β ΑΣ. Β ὈΔΥΣΣΕΎΣ ΣΊΣΥΦΟΣ",
    "Привет, мир! ЁЖИК ёжик",
    "مرحبا بالعالم ١٢٣ ٣٤٥",
    "שלום עולם",
    "नमस्ते दुनिया किताबें ५६",
    "สวัสดีชาวโลก ๑๒",
    "你好世界 中文分词 東京",
    "안녕하세요 세계 한국어",
    "こんにちは カタカナ ひらがな",
    "emoji 😀😃 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 ❤️ 🌍🚀",
    "²³½Ⅻ ٣٤٥ ५६ ๑๒ ① ⅷ ¼",
    "__a_b__ _ __ a_ _b snake_case",
    "İstanbul İİ ıI",
    "ß STRASSE Straße ẞ",
    "ﬁ ﬂ ﬃ ligatures ﬁnance",
    "ＡＢＣ ｆｕｌｌｗｉｄｔｈ １２３",
    "x\u0301 a\u0301\u0323 q\u0323\u0301",
    "\u0345 \u0399\u0345 ᾳ ᾼ",
    "Ꭰ Ꭱ ꭰ Cherokee ᏸ ᏰᏱ",
    "ǅ ǆ Ǆ ǈ",
    "K Kelvin Å Angstrom µ micro Ω ohm ſ long-s",
    "𐐀𐐨 Deseret 𐐷 𝐀𝐁 𝕏",
    "mixed: Ünïcödé 123 abc_DEF #hashtag @user user@example.com http://x.y/z?q=1",
    "line1\nline2\n",
    "trailing newline\n",
    "a\u200bb\u200cc\u200dd\ufeffe",
    "tab\tsep\tvalues\x0bvt\x0cff",
    "numbers 3.14 1,000 -5 +7 1e10",
    "\x00\x01 control \x7f chars",
    "a,b;c:d.e!f?g",
    "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX.",
    "thé thé THÉ the",
    "don't won't it's O'Neil",
    "aab abab aaaa",
    "ab\nab",
]


def email(seed, n_paragraphs):
    rnd = random.Random(seed)
    words = ("the quick brown fox jumps over lazy dog free money click here unsubscribe offer "
             "limited time winner claim prize meeting tomorrow report attached regards thanks "
             "café résumé naïve Müller Straße ÉCOLE 2024 $100 50% off!!! re: fwd: http://ex.com "
             "ΣΟΦΙΑ Москва 東京 😀 ½ ² __init__ x_y").split()
    lines = ["From: John Doe <john.doe@example.com>", "To: team@example.org",
             "Subject: Re: Fwd: QUARTERLY REPORT -- ACTION REQUIRED!!!", ""]
    for _ in range(n_paragraphs):
        sent = []
        for _ in range(rnd.randint(3, 6)):
            ws = [rnd.choice(words) for _ in range(rnd.randint(5, 14))]
            ws[0] = ws[0].capitalize()
            sent.append(" ".join(ws) + rnd.choice([".", "!", "?", "...", ";"]))
        lines.append(" ".join(sent))
        lines.append("")
    lines.append("--\nBest regards,\n\tJohn\r\n")
    return "\n".join(lines)


def sampled_texts():
    out = []
    for base in (0, 0x10000):
        cps = [cp for cp in range(base, base + 0x10000, 7) if not 0xD800 <= cp <= 0xDFFF]
        for i in range(0, len(cps), 400):
            out.append("".join(chr(c) for c in cps[i:i + 400]))
    # Offset sampling with separators so that tokens are short and varied.
    cps = [cp for cp in range(3, 0x30000, 53) if not 0xD800 <= cp <= 0xDFFF]
    for i in range(0, len(cps), 600):
        chunk = cps[i:i + 600]
        out.append("".join(chr(c) + (" " if j % 5 == 4 else "") for j, c in enumerate(chunk)))
    return out


def findall(p, text):
    try:
        return re.findall(p, text)
    except re.error as e:
        return {"error": str(e)}


# Valid in Python, deliberately refused by falcon_text (TextError::Unsupported).
EXPECTED_UNSUPPORTED = [
    r"\w*", r"\b", r"a|", r"(?:a*)+b", r"(a?)*", r"(a)(?(1)b|c)", r"(a)?(?(1)b|c)",
    r"\N{EM DASH}", r"(?i)(a)\1", r"(?P<é>a)", r"(?t)a", r"(?=a)",
]


def random_patterns(n, seed):
    """Random small patterns from Python regex building blocks (many are invalid)."""
    rnd = random.Random(seed)
    atoms = ["a", "b", "é", "Σ", "σ", "k", "K", "ß", "1", "_", " ", ".", "\\w", "\\W", "\\d",
             "\\D", "\\s", "\\S", "\\b", "\\B", "[a-c]", "[^a\\s]", "[\\w-]", "[\\d\\W]",
             "(", ")", "(?:", "(?i:", "(?a:", "(?=", "(?!", "(?<=", "(?<!", "(?>", "|", "*", "+",
             "?", "{2}", "{1,3}", "{,2}", "*?", "+?", "??", "++", "^", "$", "\\A", "\\Z",
             "\\1", "\\x41", "\\u00e9", "\\t", "\\n", "[", "]", "-", "\\", "{", "}"]
    prefixes = ["", "", "", "(?i)", "(?a)", "(?m)", "(?s)", "(?x)", "(?u)"]
    out = []
    while len(out) < n:
        k = rnd.randint(1, 7)
        p = rnd.choice(prefixes) + "".join(rnd.choice(atoms) for _ in range(k))
        if p not in out:
            out.append(p)
    return out


FUZZ_TEXTS = [
    "ab aab abc\nba a1 _é Σσς kK ß ss SS  b\n",
    "Ébé aÉ 12 a_b k\u212a \u0130i ı x\u0301y\tz\n\nAB\n",
    "",
    "a",
    "The K\u212aelvin ΣΑΣ ſs ﬁ 𐐀𐐨 — ½² _x_ a-b-c [a] (b) {2} $5 ^hat\r\n",
    "aaaaaaaaaaaaaaaaaaaaaaaaab bbbbb ab ab ab",
]


def shape_patterns(n, seed):
    """Random `\\b C... \\b | E` patterns, the family served by the hand-written scanner."""
    rnd = random.Random(seed)
    classes = ["\\w", "[^\\d\\W]", "[a-z]", "[^\\W_]", "\\d", "[\\w--]", "[é\\d]", "[^\\Wa]",
               "[ΣσςK]", "k", "ß", "[\\u0100-\\uffff]", "[^\\W\\u0080-\\U0010ffff]"]
    reps = ["", "+", "*", "?", "{2}", "{1,3}", "{2,}", "+?", "++", "*?"]
    singles = ["[^\\w\\s]", "\\s", "[\\U0001F300-\\U0001FAFF]", "[-.]", "\\W", "[Σa]"]
    out = []
    while len(out) < n:
        alts = []
        for _ in range(rnd.randint(1, 3)):
            if rnd.random() < 0.7:
                body = "".join(rnd.choice(classes) + rnd.choice(reps) for _ in range(rnd.randint(1, 3)))
                alts.append("\\b" + body + "\\b")
            else:
                alts.append(rnd.choice(singles))
        p = rnd.choice(["", "", "(?a)", "(?i)"]) + "|".join(alts)
        if p not in out:
            out.append(p)
    return out


def run_patterns(n, seed):
    """Random alternations of repeated classes, the family served by the class-run scanner."""
    rnd = random.Random(seed)
    classes = ["\\w", "\\W", "\\S", "\\s", "\\d", "[^\\w\\s]", "[a-zA-Z]", "[^\\W\\d_]", "[a-z]",
               "[A-Z]", "[0-9]", "[.,!?]", "[^a-z]", "[ΣσςK]", "é", "[\\U0001F300-\\U0001FAFF]", "."]
    reps = ["+", "+", "{2,}", "{3,}", "++", "", "+?", "{2,3}", "*"]
    out = []
    while len(out) < n:
        alts = [rnd.choice(classes) + rnd.choice(reps) for _ in range(rnd.randint(1, 3))]
        p = rnd.choice(["", "", "(?a)", "(?i)"]) + "|".join(alts)
        if p not in out:
            out.append(p)
    return out


def fuzz_cases():
    valid = []
    invalid = []
    for p in random_patterns(4000, 42) + shape_patterns(600, 7) + run_patterns(400, 9):
        try:
            rx = re.compile(p)
        except (re.error, OverflowError, ValueError):
            invalid.append(p)
            continue
        if rx.groups > 1:
            continue
        valid.append({"pattern": p, "groups": rx.groups,
                      "results": [rx.findall(t) for t in FUZZ_TEXTS]})
    return valid, invalid


def spot_codepoints():
    """Range boundaries of every generated table plus a pseudo-random sample."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "gen_unicode_tables", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "gen_unicode_tables.py"))
    g = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(g)
    pts = set()
    for pred in (g.word, lambda cp: chr(cp).isdecimal(), lambda cp: chr(cp).isspace()):
        for lo, hi in g.ranges(pred):
            pts.update((lo - 1, lo, hi, hi + 1))
    rnd = random.Random(1234)
    pts.update(rnd.randrange(0, 0x110000) for _ in range(3000))
    pts.update(range(0, 0x250))
    pts.update(range(0x370, 0x400))
    out = []
    for cp in sorted(pts):
        if cp < 0 or cp >= 0x110000 or 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        flags = (1 if g.word(cp) else 0) | (2 if c.isdecimal() else 0) | (4 if c.isspace() else 0)
        out.append([cp, flags, c.lower(), unicodedata.combining(c),
                    unicodedata.normalize("NFKD", c)])
    return out


def main():
    texts = SHORT_TEXTS + [email(1, 6), email(2, 12), email(3, 25)]
    long_texts = sampled_texts()
    cases = []
    for i, t in enumerate(texts + long_texts):
        short = i < len(SHORT_TEXTS)
        pats = MAIN_PATTERNS + (EXTRA_PATTERNS if short else [])
        cases.append({
            "text": t,
            "lower": t.lower(),
            "strip_accents_unicode": strip_accents_unicode(t),
            "strip_accents_ascii": strip_accents_ascii(t),
            "white_spaces": WHITE_SPACES.sub(" ", t),
            "split": t.split(),
            "findall": {p: findall(p, t) for p in pats},
        })
    for p in PYTHON_ERRORS:
        try:
            re.compile(p)
        except (re.error, OverflowError, ValueError):
            continue
        raise SystemExit(f"expected Python to reject {p!r}")
    for p in MAIN_PATTERNS + EXTRA_PATTERNS:
        re.compile(p)
    groups = {p: re.compile(p).groups for p in MAIN_PATTERNS + EXTRA_PATTERNS}
    for p in EXPECTED_UNSUPPORTED:
        re.compile(p)
    fuzz_valid, fuzz_invalid = fuzz_cases()
    doc = {
        "expected_unsupported": EXPECTED_UNSUPPORTED,
        "fuzz_texts": FUZZ_TEXTS,
        "fuzz_valid": fuzz_valid,
        "fuzz_invalid": fuzz_invalid,
        "python": platform.python_version(),
        "unicode": unicodedata.unidata_version,
        "main_patterns": MAIN_PATTERNS,
        "extra_patterns": EXTRA_PATTERNS,
        "groups": groups,
        "python_errors": PYTHON_ERRORS,
        "cases": cases,
        "codepoints": spot_codepoints(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {OUT}: {os.path.getsize(OUT)} bytes, {len(cases)} cases, "
          f"{len(doc['codepoints'])} code points, fuzz {len(fuzz_valid)} valid / "
          f"{len(fuzz_invalid)} invalid patterns")


if __name__ == "__main__":
    main()
