"""Module-level callables used by the *refused* parity fixtures.

Pipelines that reference these are pickled by reference (``falcon_fixture_helpers.<name>``);
Falcon cannot run arbitrary Python, so its loader must refuse them at load time
and name the offending callable in the error.

Only ``gen_parity_fixtures.py`` (and anyone unpickling those fixtures in Python)
needs this module importable.
"""

import re


def custom_tokenizer(text):
    """A user tokenizer: splits on non-letters."""
    return [t for t in re.split(r"[^A-Za-z]+", text) if t]


def shout_preprocessor(text):
    """A user preprocessor: upper-cases and drops HTML tags."""
    return re.sub(r"<[^>]*>", " ", text).upper()


def custom_analyzer(text):
    """A user analyzer: whitespace tokens, lower-cased."""
    return text.lower().split()


def malicious_marker(command):
    """Placeholder global.  gen_parity_fixtures.py rewrites references to this
    function into ``os.system`` when it builds the malicious pickles; it is
    never meant to be called."""
    raise RuntimeError(f"malicious_marker({command!r}) must never run")
