#!/usr/bin/env python3
"""Generate crates/falcon_text/tests/fixtures/nltk_tokenize.jsonl with NLTK 3.10.4 as the
oracle, for crates/falcon_text/tests/nltk_tokenize.rs.

    FALCON_DATA_CACHE=<dir with the SpamAssassin tarball> \\
        /root/.pyenv/versions/3.11.7/bin/python training/gen_nltk_tokenize_fixtures.py

One JSON object per line: {"src": ..., "text": ..., "out": {function: result}}. A result is
the tokens joined with " " when no token contains a space (compact), else the list of
tokens, else {"error": "unrepresentable"} (Python produced a lone surrogate) or
{"error": "timeout"}. The functions:

* "treebank": NLTKWordTokenizer().tokenize(text) (== word_tokenize(text, preserve_line=True));
* "wordpunct": wordpunct_tokenize(text);
* "tweet" / "tweet_lower_reduce_strip" / "tweet_nophone" / "tweet_all": TweetTokenizer with
  (preserve_case, reduce_len, strip_handles, match_phone_numbers) from CONFIGS;
* "html": casual._replace_html_entities(text) (a single string);
* "regexp_*": regexp_tokenize(text, pattern, gaps, discard_empty, flags) from REGEXP.

Texts: 1,500 SpamAssassin message bodies (headers dropped; 50 of them cut at 2,000
characters, the others at 140, to keep the file near 2 MB), and synthetic tweet-like and
hostile-Unicode strings.
"""
import html.entities
import json
import os
import random
import sys

import nltk
from nltk.tokenize import NLTKWordTokenizer, TweetTokenizer, word_tokenize, wordpunct_tokenize
from nltk.tokenize import regexp_tokenize
from nltk.tokenize.casual import _replace_html_entities

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "falcon_text",
                   "tests", "fixtures", "nltk_tokenize.jsonl")

CONFIGS = {
    "tweet": (True, False, False, True),
    "tweet_lower_reduce_strip": (False, True, True, True),
    "tweet_nophone": (True, False, False, False),
    "tweet_all": (False, True, True, False),
}

REGEXP = {
    "regexp_words": (r"\w+|\$[\d\.]+|\S+", False, True, 56),
    "regexp_gaps": (r"\s+", True, True, 56),
    "regexp_gaps_keep": (r"\s+", True, False, 56),
    "regexp_caps": (r"[A-Z]\w+", False, True, 56),
    "regexp_alpha_i": (r"[a-z]+", False, True, 56 | 2),
    "regexp_sklearn": (r"(?u)\b\w\w+\b", False, True, 56),
    "regexp_letters": (r"[^\W\d_]+", False, True, 56),
    "regexp_group": (r"(\w+)@\w+", False, True, 56),
    "regexp_punct_gaps": (r"[\s.,;!?]+", True, True, 56),
    "regexp_nonascii": (r"[^\x00-\x7f]+", False, True, 56),
}

ATOMS = [
    "@user", "@a_very_long_handle_name_exceeding", "email@domain.com", "x@y", "@@x", "!@abc",
    "#@x", "@_", "@Jack_Dorsey:", "RT @foo:", "#hashtag", "#hash_tag's", "##double", "#1",
    "https://t.co/abc123", "www.example.com/path?q=1", "example.co.uk", "http://x.com/a_(b)_c",
    "foo.na@example.com", "(http://foo.bar/baz)", "http://", "https://a.b/c.", "bit.ly/xyz",
    "ftp://old.site", "EXAMPLE.COM", "a.b.c.d.e.f.org",
    ":-)", ";)", ":P", "<3", "</3", ":D", "D:", "8-)", ">:(", ":'(", "=]", "XD", ":-P", "(:",
    ":p", "<:-|", ":o)", "o:",
    "&amp;", "&lt;3", "&gt;", "&quot;hi&quot;", "&#39;", "&#x27;", "&nbsp;", "&pound;100",
    "&#128;", "&#129;", "&#150;", "&#x9d;", "&x41;", "&#0;", "&#1114111;", "&#1114112;",
    "&#-5;", "&#x0x41;", "&#\u0661\u0662\u0663;", "&amp;amp;", "&#65", "&;", "& amp;",
    "&#99999999999999999999999;", "&#xD800;", "&#57343;", "&#x_41;", "&#6_5;", "&#\xa065;", "&#\x1c65;", "&copy",
    "&Eacute;t&eacute;", "&bogus;", "&AMP;", "&#X41;", "&xx41;",
    "555-123-4567", "+1 (555) 123-4567", "1-800-555-1234", "5551234567", "555.123.4567",
    "1234567890123456", "+44 20 7946 0958", "(555)123-4567", "555 1234",
    "soooooo", "!!!!!!", "......", "heyyyyy", "ahhhhh!!!!", "\U0001F600\U0001F600\U0001F600"
    "\U0001F600", "\n\n\n\n", "----", "....", "????", "coooool", "yesss", "\u00e9\u00e9\u00e9\u00e9",
    "e\u0301", "Z\u0351\u0352\u0353a\u0354\u0355lgo", "\u05e9\u05dc\u05d5\u05dd", "\u200f",
    "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F44D\U0001F3FD", "\U0001F1EB\U0001F1F7",
    "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006e\U000E0067\U000E007F", "\u200d",
    "\xa0", "\u2028", "\u3000", "\uff26\uff55\uff4c\uff4c", "\u0130stanbul", "STRA\u00dfE",
    "\u039f\u0394\u039f\u03a3", "\u13a0\u13a1", "\U0001D400\U0001D401", "x\xb2", "\xbd",
    "\u2460", "\u0663\u0664", "\u0939\u093f\u0928\u094d\u0926\u0940", "\u0e44\u0e17\u0e22",
    "\u4e2d\u6587", "\ud55c\uad6d\uc5b4", "\x85", "\x1c", "\x00", "\t", "K\u212a", "\u017f",
    "He said, \"hi\"", "John's", "can't", "cannot", "gonna", "'tis", "don't", "I'm",
    "they'll", "\u00ab guillemets \u00bb", "\u201ccurly\u201d \u2018single\u2019", "--", "...",
    "U.S.A.", "Mr. Smith.", "(parens) [brackets] {braces} <angle>", "a\u2013b\u2014c",
    "$3.88", "50%", "a;b@c#d", "end.", "end?!", "x' y", "'quoted'", "``tex''", "lemme",
    "gimme", "wanna ", "d'ye", "'Twas", "more'n", "whaddya", "whatcha", "3:30", "1,000.50",
    "-5.2", "+3/4", "a*b", "\u2012\u2015", "O'Neil", "rock-n-roll", "x_y", "I'M", "WON'T",
]


def sentences():
    rnd = random.Random(11)
    out = list(ATOMS)
    out.append(" ".join("&%s;" % n for n in sorted(html.entities.name2codepoint)))
    out.append("".join("&#%d;" % i for i in range(120, 170)))
    seps = [" ", " ", " ", "", "\n", ", ", ". ", "! ", "\t", "  "]
    for _ in range(600):
        n = rnd.randrange(1, 9)
        out.append("".join(rnd.choice(ATOMS) + rnd.choice(seps) for _ in range(n)).strip(" "))
    return out


def bodies():
    from pathlib import Path
    from spam_corpus import DEFAULT_CACHE, load_corpus
    msgs, _ = load_corpus(Path(os.environ.get("FALCON_DATA_CACHE", DEFAULT_CACHE)))
    rnd = random.Random(5)
    pick = rnd.sample(msgs, 1500)
    out = []
    for i, m in enumerate(pick):
        body = m.text.split("\n\n", 1)[1] if "\n\n" in m.text else m.text
        out.append(body[: 2000 if i < 50 else 140])
    return out


def encode(tokens):
    if isinstance(tokens, str):
        try:
            tokens.encode("utf-8")
        except UnicodeEncodeError:
            return {"error": "unrepresentable"}
        return tokens
    for t in tokens:
        if t is None:
            return {"error": "unrepresentable"}
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            return {"error": "unrepresentable"}
    if all(" " not in t and t for t in tokens):
        return " ".join(tokens)
    return list(tokens)


def run(f):
    try:
        return encode(f())
    except TimeoutError:
        return {"error": "timeout"}


def main():
    assert nltk.__version__ == "3.10.4", nltk.__version__
    tb = NLTKWordTokenizer()
    tweets = {k: TweetTokenizer(*v) for k, v in CONFIGS.items()}
    n = 0
    with open(OUT, "w") as f:
        for src, texts in [("synthetic", sentences()), ("spam", bodies())]:
            for text in texts:
                out = {
                    "treebank": run(lambda: tb.tokenize(text)),
                    "wordpunct": run(lambda: wordpunct_tokenize(text)),
                    "tweet": run(lambda: tweets["tweet"].tokenize(text)),
                }
                assert word_tokenize(text, preserve_line=True) == tb.tokenize(text)
                if src == "synthetic":
                    for k, t in tweets.items():
                        out[k] = run(lambda: t.tokenize(text))
                    out["html"] = run(lambda: _replace_html_entities(text))
                if src == "synthetic" or n % 10 == 0:
                    for k, (p, gaps, de, fl) in REGEXP.items():
                        out[k] = run(lambda: regexp_tokenize(text, p, gaps, de, fl))
                f.write(json.dumps({"src": src, "text": text, "out": out},
                                   ensure_ascii=False) + "\n")
                n += 1
    print(f"wrote {OUT}: {n} texts, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
