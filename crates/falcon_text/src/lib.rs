//! Python-compatible text primitives for reproducing scikit-learn's text vectorizers.
//!
//! scikit-learn's `CountVectorizer`, `TfidfVectorizer` and `HashingVectorizer` preprocess and
//! tokenize with CPython's `str` methods, `unicodedata` and the `re` module. Rust's standard
//! library and the `regex` crate use *different* Unicode definitions for many of these
//! operations (for example Rust's `\w` contains combining marks and every connector
//! punctuation, Python's contains `²`, `½` and `Ⅻ` but no combining marks; `char::to_lowercase`
//! ignores Python's final-sigma rule). A single differing token changes a model's prediction,
//! so every primitive here reproduces CPython 3.11 (Unicode 14.0.0) exactly, driven by tables
//! generated from CPython itself (see `training/gen_unicode_tables.py`).
//!
//! * [`is_word`], [`is_digit`], [`is_space`] — Python `re` classes `\w`, `\d`, `\s`.
//! * [`py_lower`] — `str.lower()`.
//! * [`strip_accents_unicode`], [`strip_accents_ascii`] — scikit-learn's accent strippers.
//! * [`PyRegex`] — a Python `re` (or `regex` module, [`Dialect`]) pattern translated onto the
//!   `regex` / `fancy-regex` engines, with `findall`, `finditer`, `match`, `sub` ([`PyTemplate`])
//!   and `split`, compile flags ([`PyFlags`]), and
//!   a hand-written scanner for scikit-learn's default token pattern.
//! * [`white_spaces_collapse`], [`py_split_whitespace`] — `re.sub(r"\s\s+", " ", s)` and `str.split()`.
//! * [`english_stop_words`] — `ENGLISH_STOP_WORDS`.

mod accents;
mod case;
mod error;
pub mod nltk;
mod regex;
pub mod unicode;
mod whitespace;

pub use accents::{nfkd, strip_accents_ascii, strip_accents_unicode, strip_accents_unicode_legacy};
pub use case::py_lower;
pub use error::TextError;
pub use regex::{Dialect, PyFlags, PyRegex, PyTemplate, REGEX_MODULE_VERSION, Spans};
pub use unicode::{is_digit, is_space, is_word};
pub use whitespace::{is_line_boundary, py_split_whitespace, py_splitlines, white_spaces_collapse};

/// scikit-learn's `ENGLISH_STOP_WORDS` (318 words), sorted, as generated from scikit-learn 1.7.2.
pub fn english_stop_words() -> &'static [&'static str] {
    unicode::tables::ENGLISH_STOP_WORDS
}

#[cfg(test)]
mod tests {
    #[test]
    fn stop_words() {
        let w = super::english_stop_words();
        assert_eq!(w.len(), 318);
        assert!(w.windows(2).all(|p| p[0] < p[1]));
        assert!(w.binary_search(&"the").is_ok() && w.binary_search(&"python").is_err());
    }
}
