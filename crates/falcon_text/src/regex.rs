//! Python `re` patterns on Rust regex engines.
//!
//! A pattern is parsed with a re-implementation of CPython 3.11's `re._parser`
//! ([`parse`]), then either recognised as scikit-learn's default token pattern family and
//! served by a hand-written scanner ([`scan`]), or translated ([`translate`]) into
//! `regex` syntax — or `fancy-regex` syntax when look-around, back-references or atomic
//! groups are needed (Python's `\b` is such a look-around, because Rust's `\b` uses Rust's
//! `\w`).
//!
//! `re.findall` semantics: non-overlapping leftmost matches, scanning left to right. Python
//! 3.7+ also reports empty matches, including one right after a non-empty match, and retries a
//! *non-empty* alternative at the same position after an empty one; the Rust engines have
//! different empty-match rules, so patterns that can match the empty string are refused. For
//! the remaining patterns every match is non-empty and both engines agree with Python on
//! leftmost-first (backtracking-priority) semantics.

mod parse;
mod scan;
mod translate;

use crate::TextError;
use parse::{At, Cat, ClassItem, Node, RepeatKind};

/// Backtracking budget for `fancy-regex` (per search); exceeding it is an error rather than a
/// hang.
const BACKTRACK_LIMIT: usize = 1_000_000;
/// Compiled-program size limit for the `regex` engine.
const SIZE_LIMIT: usize = 64 << 20;

#[derive(Debug)]
enum Engine {
    /// Maximal runs of `\w` of at least `min` code points (see [`scan`]).
    WordRuns {
        min: usize,
        ascii: bool,
    },
    Regex(regex::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

/// A compiled Python `re` pattern (str pattern, no extra flags — as scikit-learn compiles
/// `token_pattern`).
#[derive(Debug)]
pub struct PyRegex {
    pattern: String,
    groups: usize,
    engine: Engine,
    translated: Option<String>,
}

impl PyRegex {
    /// Compiles a Python regex.
    ///
    /// Returns [`TextError::Syntax`] for patterns CPython rejects and
    /// [`TextError::Unsupported`] for valid patterns that cannot be reproduced exactly:
    /// patterns that can match the empty string, repetitions of sub-patterns that can match
    /// the empty string, conditional groups `(?(1)a|b)`, `\N{...}`, group references under
    /// IGNORECASE or inside look-behinds, non-ASCII group names and the `(?t)` flag.
    pub fn compile(pattern: &str) -> Result<PyRegex, TextError> {
        let parsed = parse::parse(pattern)?;
        let (min_width, _) = parse::width(&parsed.nodes, &parsed.group_widths);
        if min_width == 0 {
            return Err(TextError::Unsupported {
                pattern: pattern.to_string(),
                pos: 0,
                construct: "pattern that can match the empty string (Python's findall \
                            empty-match rules are not reproduced)"
                    .into(),
            });
        }
        if let Some((min, ascii)) = word_run_shape(&parsed.nodes) {
            return Ok(PyRegex {
                pattern: pattern.to_string(),
                groups: 0,
                engine: Engine::WordRuns { min, ascii },
                translated: None,
            });
        }
        let t = translate::translate(&parsed.nodes, pattern)?;
        let engine_err = |msg: String| TextError::Engine {
            pattern: pattern.to_string(),
            msg,
        };
        let engine = if t.needs_fancy {
            let re = fancy_regex::RegexBuilder::new(&t.pattern)
                .backtrack_limit(BACKTRACK_LIMIT)
                .delegate_size_limit(SIZE_LIMIT)
                .build()
                .map_err(|e| engine_err(e.to_string()))?;
            Engine::Fancy(Box::new(re))
        } else {
            let re = regex::RegexBuilder::new(&t.pattern)
                .size_limit(SIZE_LIMIT)
                .build()
                .map_err(|e| engine_err(e.to_string()))?;
            Engine::Regex(re)
        };
        Ok(PyRegex {
            pattern: pattern.to_string(),
            groups: parsed.groups,
            engine,
            translated: Some(t.pattern),
        })
    }

    /// Number of capturing groups (`re.compile(p).groups`).
    pub fn group_count(&self) -> usize {
        self.groups
    }

    /// The Python pattern this was compiled from.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The Rust-engine pattern it was translated to (`None` for the built-in scanner).
    pub fn translated(&self) -> Option<&str> {
        self.translated.as_deref()
    }

    /// Whether the hand-written scanner for the default token pattern family is used.
    pub fn is_fast_path(&self) -> bool {
        matches!(self.engine, Engine::WordRuns { .. })
    }

    /// Calls `f` with each item `re.findall(pattern, text)` would return, in order: the whole
    /// match when the pattern has no group, group 1 (`""` if it did not participate) when it
    /// has exactly one.
    ///
    /// Errors: [`TextError::TooManyGroups`] when the pattern has more than one group (Python
    /// would return tuples; scikit-learn refuses such token patterns), and
    /// [`TextError::BacktrackLimit`] when the backtracking engine (used only for patterns with
    /// look-around, back-references or atomic groups) exceeds its budget on this text. On error
    /// `f` may already have received the items before the failure point.
    pub fn findall<'t>(&self, text: &'t str, mut f: impl FnMut(&'t str)) -> Result<(), TextError> {
        if self.groups > 1 {
            return Err(TextError::TooManyGroups {
                pattern: self.pattern.clone(),
                groups: self.groups,
            });
        }
        match &self.engine {
            Engine::WordRuns { min, ascii } => {
                scan::word_runs(text, *min, *ascii, f);
                Ok(())
            }
            Engine::Regex(re) => {
                if self.groups == 0 {
                    for m in re.find_iter(text) {
                        f(m.as_str());
                    }
                } else {
                    let mut locs = re.capture_locations();
                    let mut pos = 0;
                    while pos <= text.len() {
                        let Some(m) = re.captures_read_at(&mut locs, text, pos) else {
                            break;
                        };
                        f(locs.get(1).map_or("", |(s, e)| &text[s..e]));
                        // Every match is non-empty (nullable patterns are refused).
                        pos = m.end().max(pos + 1);
                    }
                }
                Ok(())
            }
            Engine::Fancy(re) => {
                let limit = |e: fancy_regex::Error| match e {
                    fancy_regex::Error::RuntimeError(_) => TextError::BacktrackLimit {
                        pattern: self.pattern.clone(),
                    },
                    other => TextError::Engine {
                        pattern: self.pattern.clone(),
                        msg: other.to_string(),
                    },
                };
                let mut pos = 0;
                while pos <= text.len() {
                    if self.groups == 0 {
                        let Some(m) = re.find_from_pos(text, pos).map_err(limit)? else {
                            break;
                        };
                        f(m.as_str());
                        pos = m.end().max(pos + 1);
                    } else {
                        let Some(c) = re.captures_from_pos(text, pos).map_err(limit)? else {
                            break;
                        };
                        f(c.get(1).map_or("", |m| m.as_str()));
                        let end = c.get(0).map_or(text.len(), |m| m.end());
                        pos = end.max(pos + 1);
                    }
                }
                Ok(())
            }
        }
    }

    /// Convenience: `re.findall` collected into a `Vec`.
    pub fn findall_vec<'t>(&self, text: &'t str) -> Result<Vec<&'t str>, TextError> {
        let mut v = Vec::new();
        self.findall(text, |s| v.push(s))?;
        Ok(v)
    }
}

/// Recognises `\b (\w){k} (\w{m,})? \b` (any quantifier kind, k + m >= 1) with one `\w`
/// definition throughout; returns the minimum run length and whether `\w` is ASCII.
fn word_run_shape(nodes: &[Node]) -> Option<(usize, bool)> {
    let [
        Node::At(At::Boundary, f0),
        middle @ ..,
        Node::At(At::Boundary, f1),
    ] = nodes
    else {
        return None;
    };
    let ascii = f0.ascii;
    if f1.ascii != ascii {
        return None;
    }
    let is_w = |n: &Node| {
        matches!(n, Node::In { items, negate: false, flags }
            if items.as_slice() == [ClassItem::Cat(Cat::Word)] && flags.ascii == ascii)
    };
    let mut min = 0usize;
    let mut unbounded = false;
    for (i, n) in middle.iter().enumerate() {
        if is_w(n) {
            min += 1;
            continue;
        }
        match n {
            Node::Repeat {
                min: m,
                max: None,
                kind: RepeatKind::Greedy | RepeatKind::Lazy | RepeatKind::Possessive,
                body,
            } if i == middle.len() - 1 && body.len() == 1 && is_w(&body[0]) => {
                min += usize::try_from(*m).ok()?;
                unbounded = true;
            }
            _ => return None,
        }
    }
    // Without a trailing unbounded `\w` repeat the match length is fixed (`\b\w\b` only
    // matches runs of exactly one character), and a match must contain a word character.
    (unbounded && min >= 1).then_some((min, ascii))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fa<'t>(p: &str, t: &'t str) -> Vec<&'t str> {
        PyRegex::compile(p).unwrap().findall_vec(t).unwrap()
    }

    #[test]
    fn default_pattern_fast_path() {
        for p in [
            r"(?u)\b\w\w+\b",
            r"\b\w\w+\b",
            r"(?u)\b\w+\b",
            r"\b\w{2,}\b",
            r"(?a)\b\w\w+\b",
        ] {
            assert!(PyRegex::compile(p).unwrap().is_fast_path(), "{p}");
        }
        for p in [
            r"\b\w+",
            r"\b\w+\b\w",
            r"\b[\w]+?\b$",
            r"\b\w\b",
            r"\b\w\w\b",
        ] {
            let r = PyRegex::compile(p);
            assert!(r.map(|r| !r.is_fast_path()).unwrap_or(true), "{p}");
        }
        assert_eq!(
            fa(r"(?u)\b\w\w+\b", "I like x² café"),
            ["like", "x²", "café"]
        );
    }

    #[test]
    fn general_patterns() {
        assert_eq!(fa(r"\w+|[^\w\s]+", "hi!! there"), ["hi", "!!", "there"]);
        assert_eq!(fa(r"#?\w+", "#tag x"), ["#tag", "x"]);
        assert_eq!(fa(r"\S+", " a\x1cb "), ["a", "b"]);
        assert_eq!(fa(r"(?u)\b[^\d\W]+\b", "ab 12 c3 d"), ["ab", "d"]);
        assert_eq!(fa(r"(a)|b", "ab"), ["a", ""]);
        assert_eq!(fa(r"\w+(?=\s)", "ab cd"), ["ab"]);
        assert_eq!(
            fa(r"(?i)straße", "STRASSE Straße STRAßE"),
            ["Straße", "STRAßE"]
        );
        assert_eq!(fa(r"\w+$", "ab cd\n"), ["cd"]);
        assert_eq!(fa(r"(\w)\1", "aabcc"), ["a", "c"]);
    }

    #[test]
    fn refusals() {
        for p in [
            r"\w*",
            r"\b",
            r"(?(1)a|b)",
            r"\N{EM DASH}",
            r"(?:a*)+b",
            "(?i)(a)\\1",
            "a|",
        ] {
            assert!(
                matches!(PyRegex::compile(p), Err(TextError::Unsupported { .. })),
                "{p}"
            );
        }
        assert!(matches!(
            PyRegex::compile("(a)(b)").unwrap().findall_vec("ab"),
            Err(TextError::TooManyGroups { .. })
        ));
    }

    #[test]
    fn backtrack_limit_is_an_error() {
        let re = PyRegex::compile(r"(?:a+)+(?=b)c").unwrap();
        let text = "a".repeat(40);
        let r = re.findall_vec(&text);
        assert!(matches!(r, Err(TextError::BacktrackLimit { .. }) | Ok(_)));
    }
}
