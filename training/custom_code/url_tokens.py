"""Surveyed pattern: a URL classifier's tokenizer, splitting on "/", "-"
and "." and dropping empty pieces and "com"/"www".
Used as ``TfidfVectorizer(tokenizer=url_tokens)``."""


def url_tokens(url):
    tokens = []
    for part in url.split("/"):
        for piece in part.split("-"):
            tokens.extend(piece.split("."))
    return [t for t in tokens if t and t not in ("com", "www")]
