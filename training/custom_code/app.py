"""Surveyed pattern: the project's server cleans each text before
``model.predict([clean(text)])``; the pickle never names ``clean``."""
import re


def clean(text):
    text = text.lower()
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"https?://\S+", " url ", text)
    text = re.sub(r"[^a-z0-9\s]", " ", text)
    return " ".join(text.split())
