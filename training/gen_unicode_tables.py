#!/usr/bin/env python3
"""Generate crates/falcon_text/src/unicode/tables.rs from CPython's own Unicode data.

Run with the CPython version Falcon must reproduce (3.11.x, unicodedata 14.0.0):

    python3 training/gen_unicode_tables.py

Every table is derived from the *behaviour* of the running interpreter (str methods,
``re``/``_sre`` helpers, ``unicodedata``), not from UCD text files, so the Rust side
reproduces exactly what CPython 3.11 does, including its quirks.
"""
import os
import platform
import re
import sys
import unicodedata

import _sre

try:
    from re._casefix import _EXTRA_CASES
except ImportError:  # pragma: no cover - Python < 3.11
    from sre_compile import _ignorecase_fixes as _EXTRA_CASES  # type: ignore

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

MAX = 0x110000
OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "crates",
    "falcon_text",
    "src",
    "unicode",
    "tables.rs",
)


def is_surrogate(cp):
    return 0xD800 <= cp <= 0xDFFF


def ranges(pred):
    """Sorted inclusive (lo, hi) ranges of code points (surrogates excluded) where pred holds."""
    out = []
    start = None
    for cp in range(MAX + 1):
        ok = cp < MAX and not is_surrogate(cp) and pred(cp)
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def valued_ranges(fn):
    """Sorted inclusive (lo, hi, value) ranges where fn(cp) != 0."""
    out = []
    cur = None
    for cp in range(MAX + 1):
        v = fn(cp) if cp < MAX and not is_surrogate(cp) else 0
        if cur is not None and (v != cur[2] or cp != cur[1] + 1):
            out.append(tuple(cur))
            cur = None
        if v and cur is None:
            cur = [cp, cp, v]
        elif v:
            cur[1] = cp
    return out


def word(cp):
    # Python's sre: SRE_UNI_IS_WORD(ch) == Py_UNICODE_ISALNUM(ch) || ch == '_'
    c = chr(cp)
    return c.isalnum() or c == "_"


def check_against_re(pred, pattern, sample_step=1):
    rx = re.compile(pattern)
    for cp in range(0, MAX, sample_step):
        if is_surrogate(cp):
            continue
        assert bool(rx.fullmatch(chr(cp))) == pred(cp), (pattern, hex(cp))


def sigma_context(cp):
    """Return (case_ignorable, cased) as observed through CPython's Final_Sigma handling.

    CPython's handle_capital_sigma skips case-ignorable characters and then asks whether the
    first other character is cased.  It therefore only ever consults `cased` for characters
    that are not case-ignorable, and that is exactly what we can observe:
      t1 = (c + 'Σ').lower() ends in 'ς'   <=>  not ignorable(c) and cased(c)
      t2 = ('A' + c + 'Σ').lower() ends 'ς' <=>  ignorable(c) or cased(c)
    """
    c = chr(cp)
    t1 = (c + "\u03a3").lower()[-1] == "\u03c2"
    t2 = ("A" + c + "\u03a3").lower()[-1] == "\u03c2"
    ignorable = t2 and not t1
    return ignorable, t1


def fmt_ranges(name, rs, doc):
    lines = [f"/// {doc}", f"pub static {name}: &[(u32, u32)] = &["]
    row = []
    for lo, hi in rs:
        row.append(f"(0x{lo:X}, 0x{hi:X}),")
        if len(row) == 8:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("];")
    return "\n".join(lines)


def fmt_pairs(name, pairs, doc):
    lines = [f"/// {doc}", f"pub static {name}: &[(u32, u32)] = &["]
    row = []
    for a, b in pairs:
        row.append(f"(0x{a:X}, 0x{b:X}),")
        if len(row) == 8:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("];")
    return "\n".join(lines)


def main():
    assert sys.version_info[:2] == (3, 11), "tables must be generated with CPython 3.11"
    pyver = platform.python_version()
    udver = unicodedata.unidata_version

    # --- re classes ---------------------------------------------------------------
    word_r = ranges(word)
    digit_r = ranges(lambda cp: chr(cp).isdecimal())
    space_r = ranges(lambda cp: chr(cp).isspace())
    # --- str predicates users' own text code filters tokens with (issue #17) ------------
    alpha_r = ranges(lambda cp: chr(cp).isalpha())
    isdigit_r = ranges(lambda cp: chr(cp).isdigit())
    numeric_r = ranges(lambda cp: chr(cp).isnumeric())
    # Cross-check the str-method definitions against the regex engine itself.
    check_against_re(word, r"\w")
    check_against_re(lambda cp: chr(cp).isdecimal(), r"\d")
    check_against_re(lambda cp: chr(cp).isspace(), r"\s")

    # --- str.lower() ----------------------------------------------------------------
    lower_single = []
    lower_multi = []
    for cp in range(MAX):
        if is_surrogate(cp):
            continue
        lo = chr(cp).lower()
        if lo == chr(cp):
            continue
        if len(lo) == 1:
            lower_single.append((cp, ord(lo)))
        else:
            assert len(lo) <= 3
            lower_multi.append((cp, lo))

    ignorable_r = ranges(lambda cp: sigma_context(cp)[0])
    cased_r = ranges(lambda cp: sigma_context(cp)[1])

    # --- sre IGNORECASE helpers (simple case mappings, as used by _sre) ---------------
    simple_lower = [(cp, _sre.unicode_tolower(cp)) for cp in range(MAX)
                    if not is_surrogate(cp) and _sre.unicode_tolower(cp) != cp]
    # _sre has no unicode_toupper; sre_upper_unicode() is _PyUnicode_ToUppercase, which for
    # characters with an extended (multi-char) mapping returns the first character of the full
    # mapping, i.e. exactly chr(cp).upper()[0].  The same identity holds for the lowercase side,
    # which we verify against _sre.unicode_tolower below.
    def sre_upper(cp):
        return ord(chr(cp).upper()[0])

    simple_upper = [(cp, sre_upper(cp)) for cp in range(MAX)
                    if not is_surrogate(cp) and sre_upper(cp) != cp]
    for cp in range(MAX):
        if is_surrogate(cp):
            continue
        assert _sre.unicode_tolower(cp) == ord(chr(cp).lower()[0]), hex(cp)
        iscased = _sre.unicode_tolower(cp) != cp or sre_upper(cp) != cp
        assert iscased == bool(_sre.unicode_iscased(cp)), hex(cp)
    extra = sorted(_EXTRA_CASES.items())

    # --- NFKD + canonical combining class ----------------------------------------------
    nfkd = []
    for cp in range(MAX):
        if is_surrogate(cp) or 0xAC00 <= cp <= 0xD7A3:
            continue  # Hangul syllables are decomposed algorithmically in Rust
        d = unicodedata.normalize("NFKD", chr(cp))
        if d != chr(cp):
            nfkd.append((cp, d))
    ccc_r = valued_ranges(lambda cp: unicodedata.combining(chr(cp)))

    out = []
    out.append(
        "// @generated by training/gen_unicode_tables.py -- DO NOT EDIT.\n"
        f"// Source: CPython {pyver}, unicodedata {udver}, scikit-learn ENGLISH_STOP_WORDS.\n"
        "// Regenerate with: python3 training/gen_unicode_tables.py\n"
        "\n"
        "/// Version of the CPython interpreter these tables were derived from.\n"
        f'pub const PYTHON_VERSION: &str = "{pyver}";\n'
        "/// Unicode database version of that interpreter (`unicodedata.unidata_version`).\n"
        f'pub const UNICODE_VERSION: &str = "{udver}";'
    )
    out.append(fmt_ranges("WORD", word_r, "Python `re` `\\w` for str patterns: `c.isalnum() or c == '_'`."))
    out.append(fmt_ranges("DIGIT", digit_r, "Python `re` `\\d` for str patterns: `str.isdecimal` (category Nd)."))
    out.append(fmt_ranges("SPACE", space_r, "Python `re` `\\s` for str patterns: `str.isspace`."))
    out.append(fmt_ranges("ALPHA", alpha_r, "`str.isalpha` per code point: categories Lm, Lt, Lu, Ll, Lo."))
    out.append(fmt_ranges("ISDIGIT", isdigit_r, "`str.isdigit` per code point: Numeric_Type Digit or Decimal."))
    out.append(fmt_ranges("NUMERIC", numeric_r, "`str.isnumeric` per code point: Numeric_Type Digit, Decimal or Numeric."))
    out.append(fmt_pairs("LOWER_SINGLE", lower_single,
                         "`str.lower()` for code points mapping to exactly one other code point (sorted by key)."))
    lines = ["/// `str.lower()` for code points mapping to several code points (sorted by key).",
             "pub static LOWER_MULTI: &[(u32, &str)] = &["]
    for cp, s in lower_multi:
        esc = "".join(f"\\u{{{ord(ch):X}}}" for ch in s)
        lines.append(f'    (0x{cp:X}, "{esc}"),')
    lines.append("];")
    out.append("\n".join(lines))
    out.append(fmt_ranges("CASE_IGNORABLE", ignorable_r,
                          "Case-ignorable code points, as CPython's final-sigma rule sees them."))
    out.append(fmt_ranges("CASED", cased_r,
                          "Cased code points that are not case-ignorable (the only ones the final-sigma rule asks about)."))
    out.append(fmt_pairs("SRE_LOWER", simple_lower, "`_sre.unicode_tolower` (simple lowercase) where it differs."))
    out.append(fmt_pairs("SRE_UPPER", simple_upper, "`_sre.unicode_toupper` (simple uppercase) where it differs."))
    lines = ["/// `re._casefix._EXTRA_CASES`: extra IGNORECASE equivalents keyed by simple lowercase.",
             "pub static SRE_EXTRA_CASES: &[(u32, &[u32])] = &["]
    for k, vs in extra:
        lines.append(f"    (0x{k:X}, &[{', '.join(f'0x{v:X}' for v in vs)}]),")
    lines.append("];")
    out.append("\n".join(lines))

    # NFKD: index (cp, start, len) into one flat char string.
    flat = []
    idx = []
    pos = 0
    for cp, d in nfkd:
        idx.append((cp, pos, len(d)))
        flat.append(d)
        pos += len(d)
    flat_s = "".join(flat)
    lines = ["/// Full NFKD decomposition (`unicodedata.normalize('NFKD', c)`) of every code point that",
             "/// changes, except Hangul syllables: `(code point, start, len)` into [`NFKD_CHARS`].",
             "pub static NFKD_INDEX: &[(u32, u16, u8)] = &["]
    row = []
    for cp, s, n in idx:
        assert s < 65536 and n < 256
        row.append(f"(0x{cp:X}, {s}, {n}),")
        if len(row) == 8:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("];")
    out.append("\n".join(lines))
    lines = ["/// Concatenated decompositions referenced by [`NFKD_INDEX`].",
             "pub static NFKD_CHARS: &[u32] = &["]
    row = []
    for ch in flat_s:
        row.append(f"0x{ord(ch):X},")
        if len(row) == 16:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("];")
    out.append("\n".join(lines))
    lines = ["/// `unicodedata.combining` (canonical combining class), non-zero ranges `(lo, hi, ccc)`.",
             "pub static COMBINING: &[(u32, u32, u8)] = &["]
    row = []
    for lo, hi, v in ccc_r:
        row.append(f"(0x{lo:X}, 0x{hi:X}, {v}),")
        if len(row) == 6:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("];")
    out.append("\n".join(lines))

    words = sorted(ENGLISH_STOP_WORDS)
    lines = ["/// `sklearn.feature_extraction.text.ENGLISH_STOP_WORDS`, sorted.",
             "pub static ENGLISH_STOP_WORDS: &[&str] = &["]
    row = []
    for w in words:
        assert w.isascii() and '"' not in w and "\\" not in w
        row.append(f'"{w}",')
        if len(row) == 10:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines.append("];")
    out.append("\n".join(lines))

    text = "\n\n".join(out) + "\n"
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {OUT}: {len(text)} bytes; word={len(word_r)} digit={len(digit_r)} space={len(space_r)} "
          f"lower={len(lower_single)}+{len(lower_multi)} ignorable={len(ignorable_r)} cased={len(cased_r)} "
          f"sre_lower={len(simple_lower)} sre_upper={len(simple_upper)} extra={len(extra)} "
          f"nfkd={len(nfkd)}/{len(flat_s)} ccc={len(ccc_r)} stop={len(words)}")


if __name__ == "__main__":
    main()
