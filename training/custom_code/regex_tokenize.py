"""Surveyed pattern: a regex tokenizer with a length filter.
Used as ``TfidfVectorizer(tokenizer=tokenize)``."""
import re


def tokenize(text):
    return [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2]
