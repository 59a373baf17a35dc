//! scikit-learn's `build_analyzer()`: text → the stream of n-gram strings a
//! vectorizer counts or hashes.
//!
//! The order of operations follows `sklearn.feature_extraction.text`
//! exactly: `str.lower()`, then accent stripping, then either the
//! `token_pattern` tokenizer + stop-word filter + word n-grams, or character
//! n-grams over whitespace-collapsed text. The Python-specific pieces
//! (`str.lower`, `re`, `unicodedata`) come from `falcon_text`.

use std::collections::HashSet;
use std::sync::Arc;

use falcon_text::PyRegex;

use crate::attrs::Attrs;
use crate::custom::{Program, Shape, TextCode};
use crate::error::{EngineError, Result};

/// `strip_accents` as stored on the vectorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accents {
    None,
    Ascii,
    Unicode,
    /// `"unicode"` as scikit-learn < 0.22 computed it (see
    /// [`crate::release::legacy_strip_accents_unicode`]).
    UnicodeLegacy,
}

/// Where a word analyzer's tokens come from.
enum Tokenizer {
    /// `token_pattern`, with `re.findall`. Boxed: a compiled pattern is
    /// large and the other kinds are tiny.
    Pattern(Box<PyRegex>),
    /// `tokenizer=`: the user's callable, as declared (see `crate::custom`).
    Declared(Arc<Program>),
}

enum Kind {
    /// `analyzer="word"`: tokens from the tokenizer, minus stop words.
    Word {
        tokenizer: Tokenizer,
        stop_words: Option<HashSet<String>>,
    },
    /// `analyzer="char"`: n-grams over the whole collapsed text.
    Char,
    /// `analyzer="char_wb"`: n-grams inside each space-padded word.
    CharWb,
}

/// A vectorizer's analyzer, validated at load time.
pub(crate) struct Analyzer {
    /// `preprocessor=`: the user's callable, as declared. When set it
    /// replaces lowercasing and accent stripping, as scikit-learn's
    /// `build_preprocessor` returns it instead of them.
    preprocessor: Option<Arc<Program>>,
    lowercase: bool,
    accents: Accents,
    kind: Kind,
    min_n: usize,
    max_n: usize,
    /// What `model inspect` shows.
    pub(crate) summary: String,
}

/// A callable parameter (`tokenizer=`, `preprocessor=`) bound to its
/// declaration, or `None` when unset. An undeclared callable is refused
/// with an error naming it (see `crate::custom::undeclared`).
fn declared(
    a: &Attrs<'_>,
    param: &str,
    code: &TextCode,
    want: Shape,
) -> Result<Option<Arc<Program>>> {
    match a.opt(param) {
        None | Some(falcon_pickle::Value::None) => Ok(None),
        Some(v) => code
            .bind(v, &format!("{}.{param}", a.class), want)
            .map(Some),
    }
}

impl Analyzer {
    pub(crate) fn from_attrs(a: &Attrs<'_>, code: &TextCode) -> Result<Self> {
        let preprocessor = declared(a, "preprocessor", code, Shape::Str)?;
        let analyzer_name = a.opt_str("analyzer").ok().flatten().unwrap_or("word");
        // scikit-learn calls the tokenizer only for word analyzers (it
        // warns and ignores it for char ones).
        let tokenizer = if analyzer_name == "word" {
            declared(a, "tokenizer", code, Shape::Tokens)?
        } else {
            None
        };
        if let Some(input) = a.opt_str("input")?
            && input != "content"
        {
            return Err(EngineError::unsupported(format!(
                "{}.input={input:?}: only input=\"content\" (text in, not file names) can be served",
                a.class
            )));
        }
        let lowercase = a.bool_or("lowercase", true)?;
        let accents = match a.opt("strip_accents") {
            None | Some(falcon_pickle::Value::None) | Some(falcon_pickle::Value::Bool(false)) => {
                Accents::None
            }
            Some(falcon_pickle::Value::Str(s)) if s == "ascii" => Accents::Ascii,
            Some(falcon_pickle::Value::Str(s)) if s == "unicode" => {
                if crate::release::legacy_strip_accents_unicode(crate::release::Release::of(a)) {
                    Accents::UnicodeLegacy
                } else {
                    Accents::Unicode
                }
            }
            Some(v) => {
                return Err(a.err("strip_accents", "\"ascii\", \"unicode\" or None", v));
            }
        };
        let (min_n, max_n) = a.int_pair("ngram_range")?;
        let analyzer = match a.get("analyzer")? {
            falcon_pickle::Value::Str(s) => s.as_str(),
            v => {
                return Err(EngineError::unsupported(format!(
                    "{}.analyzer is {}: only \"word\", \"char\" and \"char_wb\" can be reproduced natively",
                    a.class,
                    crate::attrs::describe(v)
                )));
            }
        };
        let kind = match analyzer {
            "word" if let Some(program) = tokenizer => Kind::Word {
                tokenizer: Tokenizer::Declared(program),
                stop_words: stop_words(a)?,
            },
            "word" => {
                let source = a.opt_str("token_pattern")?.ok_or_else(|| {
                    EngineError::unsupported(format!(
                        "{}.token_pattern is None without a tokenizer",
                        a.class
                    ))
                })?;
                let pattern = PyRegex::compile(source).map_err(|e| EngineError::Pattern {
                    pattern: source.to_string(),
                    source: e,
                })?;
                if pattern.group_count() > 1 {
                    return Err(EngineError::unsupported(format!(
                        "{}.token_pattern {source:?} has more than one capturing group (scikit-learn refuses it too)",
                        a.class
                    )));
                }
                Kind::Word {
                    tokenizer: Tokenizer::Pattern(Box::new(pattern)),
                    stop_words: stop_words(a)?,
                }
            }
            "char" => Kind::Char,
            "char_wb" => Kind::CharWb,
            other => {
                return Err(EngineError::unsupported(format!(
                    "{}.analyzer={other:?} is not one of word, char, char_wb",
                    a.class
                )));
            }
        };
        let summary = format!(
            "analyzer={analyzer} ngram_range=({min_n}, {max_n}) lowercase={} strip_accents={}{}",
            if lowercase { "True" } else { "False" },
            match accents {
                Accents::None => "None",
                Accents::Ascii => "ascii",
                Accents::Unicode => "unicode",
                Accents::UnicodeLegacy => "unicode (as scikit-learn < 0.22: NFKD text kept as is)",
            },
            match &kind {
                Kind::Word {
                    tokenizer: Tokenizer::Pattern(_),
                    stop_words,
                } => format!(
                    " token_pattern={:?} stop_words={}",
                    a.opt_str("token_pattern")?.unwrap_or_default(),
                    stop_words.as_ref().map_or(0, |s| s.len())
                ),
                Kind::Word {
                    tokenizer: Tokenizer::Declared(_),
                    stop_words,
                } => format!(
                    " tokenizer={} (declared) stop_words={}",
                    a.opt("tokenizer")
                        .map(crate::attrs::describe)
                        .unwrap_or_default(),
                    stop_words.as_ref().map_or(0, |s| s.len())
                ),
                _ => String::new(),
            }
        );
        let summary = match &preprocessor {
            Some(_) => format!(
                "{summary} preprocessor={} (declared; replaces lowercase and strip_accents)",
                a.opt("preprocessor")
                    .map(crate::attrs::describe)
                    .unwrap_or_default()
            ),
            None => summary,
        };
        Ok(Analyzer {
            preprocessor,
            lowercase,
            accents,
            kind,
            min_n,
            max_n,
            summary,
        })
    }

    /// Whether word n-grams can be looked up as column pairs: a word
    /// analyzer with unigrams whose token pattern provably never yields a
    /// token containing a space (a whitelist of patterns built from `\w`
    /// or `\S`, which exclude it).
    pub(crate) fn pair_safe(&self) -> bool {
        const NO_SPACE_TOKENS: [&str; 10] = [
            r"(?u)\b\w\w+\b",
            r"\b\w\w+\b",
            r"(?u)\b\w+\b",
            r"\b\w+\b",
            r"(?u)\b[^\d\W]+\b",
            r"\b[^\d\W]+\b",
            r"\S+",
            r"(?u)\S+",
            r"[a-zA-Z]{2,}",
            r"(?u)\w+|[^\w\s]+",
        ];
        match &self.kind {
            Kind::Word {
                tokenizer: Tokenizer::Pattern(pattern),
                ..
            } => {
                self.preprocessor.is_none()
                    && self.min_n == 1
                    && self.max_n >= 2
                    && NO_SPACE_TOKENS.contains(&pattern.as_str())
            }
            _ => false,
        }
    }

    pub(crate) fn max_n(&self) -> usize {
        self.max_n
    }

    /// Word analyzers: calls `f` with each of the document's tokens after
    /// stop-word filtering (the sequence `_word_ngrams` receives), in order,
    /// without collecting them. Returns `false` (and calls nothing) for char
    /// analyzers.
    pub(crate) fn for_each_word_token<'d>(
        &self,
        doc: &'d str,
        buf: &'d mut String,
        mut f: impl FnMut(&'d str),
    ) -> Result<bool> {
        let Kind::Word {
            tokenizer: Tokenizer::Pattern(pattern),
            stop_words,
        } = &self.kind
        else {
            return Ok(false);
        };
        let text = self.preprocess(doc, buf)?;
        match stop_words {
            None => pattern.findall(text, f),
            Some(s) => pattern.findall(text, |t| {
                if !s.contains(t) {
                    f(t)
                }
            }),
        }
        .map_err(EngineError::Text)?;
        Ok(true)
    }

    /// Calls `emit` with every feature string scikit-learn's analyzer would
    /// return for `doc`, in the same order.
    /// `buf` is scratch space for the preprocessed text.
    pub(crate) fn analyze(
        &self,
        doc: &str,
        buf: &mut String,
        emit: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let text = self.preprocess(doc, buf)?;
        match &self.kind {
            Kind::Word {
                tokenizer: Tokenizer::Declared(program),
                stop_words,
            } => {
                let mut tokens = program.tokens(text)?;
                if let Some(s) = stop_words {
                    tokens.retain(|t| !s.contains(t));
                }
                let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
                word_ngrams(&tokens, self.min_n, self.max_n, emit);
            }
            Kind::Word {
                tokenizer: Tokenizer::Pattern(pattern),
                stop_words,
            } => {
                let mut tokens: Vec<&str> = Vec::with_capacity(text.len() / 5 + 1);
                pattern
                    .findall(text, |t| {
                        if stop_words.as_ref().is_none_or(|s| !s.contains(t)) {
                            tokens.push(t)
                        }
                    })
                    .map_err(EngineError::Text)?;
                word_ngrams(&tokens, self.min_n, self.max_n, emit);
            }
            Kind::Char => {
                let mut collapsed = String::with_capacity(text.len());
                falcon_text::white_spaces_collapse(text, &mut collapsed);
                char_ngrams(&collapsed, self.min_n, self.max_n, emit);
            }
            Kind::CharWb => {
                let mut collapsed = String::with_capacity(text.len());
                falcon_text::white_spaces_collapse(text, &mut collapsed);
                let mut padded = String::new();
                for word in falcon_text::py_split_whitespace(&collapsed) {
                    padded.clear();
                    padded.push(' ');
                    padded.push_str(word);
                    padded.push(' ');
                    char_wb_ngrams(&padded, self.min_n, self.max_n, emit);
                }
            }
        }
        Ok(())
    }

    /// `_preprocess`: lowercase first, then strip accents — or the
    /// declared `preprocessor` instead of both. The result is `doc` itself
    /// when nothing applies, otherwise written into `buf` (a reused
    /// per-thread buffer).
    fn preprocess<'d>(&self, doc: &'d str, buf: &'d mut String) -> Result<&'d str> {
        if let Some(p) = &self.preprocessor {
            *buf = p.string(doc)?;
            return Ok(buf);
        }
        let strip = match self.accents {
            Accents::None if !self.lowercase => return Ok(doc),
            Accents::None => {
                buf.clear();
                falcon_text::py_lower(doc, buf);
                return Ok(buf);
            }
            Accents::Ascii => falcon_text::strip_accents_ascii,
            Accents::Unicode => falcon_text::strip_accents_unicode,
            Accents::UnicodeLegacy => falcon_text::strip_accents_unicode_legacy,
        };
        let lowered;
        let src = if self.lowercase {
            let mut t = String::with_capacity(doc.len());
            falcon_text::py_lower(doc, &mut t);
            lowered = t;
            lowered.as_str()
        } else {
            doc
        };
        buf.clear();
        strip(src, buf);
        Ok(buf)
    }
}

/// `_check_stop_list`: `"english"`, a collection of words, or `None`.
fn stop_words(a: &Attrs<'_>) -> Result<Option<HashSet<String>>> {
    use falcon_pickle::Value;
    match a.opt("stop_words") {
        None | Some(Value::None) => Ok(None),
        Some(Value::Str(s)) if s == "english" => Ok(Some(
            falcon_text::english_stop_words()
                .iter()
                .map(|w| w.to_string())
                .collect(),
        )),
        Some(Value::List(items))
        | Some(Value::Tuple(items))
        | Some(Value::Set(items))
        | Some(Value::FrozenSet(items)) => items
            .iter()
            .map(|v| match v {
                Value::Str(s) => Ok(s.clone()),
                other => Err(a.err("stop_words", "a collection of strings", other)),
            })
            .collect::<Result<HashSet<_>>>()
            .map(Some),
        Some(Value::Array(arr)) => match &arr.data {
            falcon_pickle::ArrayData::Str(v) => Ok(Some(v.iter().cloned().collect())),
            _ => Err(a.err("stop_words", "a collection of strings", &Value::None)),
        },
        Some(v) => Err(a.err("stop_words", "\"english\", a list of words or None", v)),
    }
}

/// `_word_ngrams`: unigrams as they are, longer n-grams joined by one space.
fn word_ngrams(tokens: &[&str], min_n: usize, max_n: usize, emit: &mut dyn FnMut(&str)) {
    let mut lo = min_n;
    if lo == 1 {
        for t in tokens {
            emit(t);
        }
        lo = 2;
    }
    if max_n == 1 {
        return;
    }
    let mut buf = String::new();
    for n in lo..=max_n.min(tokens.len()) {
        for window in tokens.windows(n) {
            buf.clear();
            for (i, t) in window.iter().enumerate() {
                if i > 0 {
                    buf.push(' ');
                }
                buf.push_str(t);
            }
            emit(&buf);
        }
    }
}

/// Byte offsets of every code point start, plus the end: Python slices
/// strings by code point, so n-grams are cut at these bounds.
fn char_bounds(s: &str) -> Vec<usize> {
    let mut b: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    b.push(s.len());
    b
}

/// `_char_ngrams` over already whitespace-collapsed text.
fn char_ngrams(text: &str, min_n: usize, max_n: usize, emit: &mut dyn FnMut(&str)) {
    let b = char_bounds(text);
    let len = b.len() - 1;
    let mut lo = min_n;
    if lo == 1 {
        for i in 0..len {
            emit(&text[b[i]..b[i + 1]]);
        }
        lo = 2;
    }
    for n in lo..=max_n.min(len) {
        for i in 0..=len - n {
            emit(&text[b[i]..b[i + n]]);
        }
    }
}

/// `_char_wb_ngrams` for one space-padded word. A word shorter than `n` is
/// emitted once, whole, and ends the loop over `n`, as scikit-learn does.
fn char_wb_ngrams(w: &str, min_n: usize, max_n: usize, emit: &mut dyn FnMut(&str)) {
    let b = char_bounds(w);
    let w_len = b.len() - 1;
    let slice = |start: usize, n: usize| &w[b[start.min(w_len)]..b[(start + n).min(w_len)]];
    for n in min_n..=max_n {
        let mut offset = 0;
        emit(slice(offset, n));
        while offset + n < w_len {
            offset += 1;
            emit(slice(offset, n));
        }
        if offset == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(f: impl Fn(&mut dyn FnMut(&str))) -> Vec<String> {
        let mut out = Vec::new();
        f(&mut |s| out.push(s.to_string()));
        out
    }

    #[test]
    fn word_ngrams_match_sklearn_order() {
        let got = collect(|e| word_ngrams(&["a", "b", "c"], 1, 2, e));
        assert_eq!(got, ["a", "b", "c", "a b", "b c"]);
        let got = collect(|e| word_ngrams(&["a", "b", "c"], 2, 3, e));
        assert_eq!(got, ["a b", "b c", "a b c"]);
        let got = collect(|e| word_ngrams(&["a"], 2, 3, e));
        assert!(got.is_empty());
    }

    #[test]
    fn char_ngrams_slice_code_points() {
        let got = collect(|e| char_ngrams("éa b", 1, 2, e));
        assert_eq!(got, ["é", "a", " ", "b", "éa", "a ", " b"]);
        let got = collect(|e| char_ngrams("ab", 3, 4, e));
        assert!(got.is_empty());
    }

    #[test]
    fn char_wb_short_word_counted_once() {
        // sklearn: [' a ', ' a '[0:4]] → only ' a ' for n in (3, 4)
        let got = collect(|e| char_wb_ngrams(" a ", 3, 5, e));
        assert_eq!(got, [" a "]);
        let got = collect(|e| char_wb_ngrams(" ab ", 2, 3, e));
        assert_eq!(got, [" a", "ab", "b ", " ab", "ab "]);
        let got = collect(|e| char_wb_ngrams(" ab ", 4, 6, e));
        assert_eq!(got, [" ab "]);
    }
}
