//! Python `re` patterns on Rust regex engines.
//!
//! A pattern is parsed with a re-implementation of CPython 3.11's `re._parser`
//! ([`parse`]), then either recognised as one of two common families — scikit-learn's default
//! `\b\w\w+\b` and its relatives, or runs of disjoint classes such as `\S+` and
//! `\w+|[^\w\s]+` — and served by a hand-written linear scanner ([`scan`]), or translated
//! ([`translate`]) into
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
use parse::{At, Cat, Node, RepeatKind};
use translate::CharSet;

/// Backtracking budget for `fancy-regex` (per search); exceeding it is an error rather than a
/// hang.
const BACKTRACK_LIMIT: usize = 1_000_000;
/// Compiled-program size limit for the `regex` engine.
const SIZE_LIMIT: usize = 64 << 20;

#[derive(Debug, Clone)]
enum Engine {
    /// Maximal runs of word characters fitting a shape (see [`scan`]).
    Scan(scan::Scanner),
    /// Maximal runs of disjoint classes (see [`scan::ClassRuns`]).
    Runs(scan::ClassRuns),
    Regex(regex::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

/// A compiled Python `re` pattern (str pattern, no extra flags — as scikit-learn compiles
/// `token_pattern`).
#[derive(Debug, Clone)]
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
        let (min_width, _) = parse::width(&parsed.nodes, parsed.group_widths.as_slice());
        if min_width == 0 {
            return Err(TextError::Unsupported {
                pattern: pattern.to_string(),
                pos: 0,
                construct: "pattern that can match the empty string (Python's findall \
                            empty-match rules are not reproduced)"
                    .into(),
            });
        }
        if parsed.groups == 0
            && let Some(scanner) = scanner_shape(&parsed.nodes)
        {
            return Ok(PyRegex {
                pattern: pattern.to_string(),
                groups: 0,
                engine: Engine::Scan(scanner),
                translated: None,
            });
        }
        if parsed.groups == 0
            && let Some(runs) = class_runs_shape(&parsed.nodes)
        {
            return Ok(PyRegex {
                pattern: pattern.to_string(),
                groups: 0,
                engine: Engine::Runs(runs),
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

    /// Whether one of the hand-written scanners (default token pattern family, runs of
    /// disjoint classes) is used instead of a regex engine.
    pub fn is_fast_path(&self) -> bool {
        matches!(self.engine, Engine::Scan(_) | Engine::Runs(_))
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
            Engine::Scan(scanner) => {
                scanner.scan(text, f);
                Ok(())
            }
            Engine::Runs(runs) => {
                runs.scan(text, f);
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

/// Recognises patterns served by [`scan::Scanner`]: a top-level alternation (or a single
/// sequence) whose alternatives are either `\b C1 … Ck R{m,n} \b` with every class a subset
/// of the `\b`'s `\w`, or a single-character class disjoint from that `\w`, with at least
/// one alternative of the first kind. See [`scan`] for why this is exact.
fn scanner_shape(nodes: &[Node]) -> Option<scan::Scanner> {
    let alts: Vec<&[Node]> = match nodes {
        [Node::Branch(alts)] => alts.iter().map(Vec::as_slice).collect(),
        other => vec![other],
    };
    let mut ascii: Option<bool> = None;
    let mut shapes = Vec::new();
    let mut singles: Vec<CharSet> = Vec::new();
    for alt in alts {
        if let [
            Node::At(At::Boundary, f0),
            middle @ ..,
            Node::At(At::Boundary, f1),
        ] = alt
        {
            if f0.ascii != f1.ascii || ascii.is_some_and(|a| a != f0.ascii) {
                return None;
            }
            ascii = Some(f0.ascii);
            let word = translate::category_set(Cat::Word, f0.ascii);
            // `None` = exactly `\w` (lets the plain scanner skip class tests).
            let class = |n: &Node| -> Option<Option<scan::FastSet>> {
                let set = translate::node_char_set(n)?;
                if set == word {
                    Some(None)
                } else if set.is_subset(&word) {
                    Some(Some(scan::FastSet::new(set)))
                } else {
                    None
                }
            };
            let mut prefix = Vec::new();
            let mut rep = None;
            for (i, n) in middle.iter().enumerate() {
                match n {
                    Node::Repeat { min, max, body, .. } if i == middle.len() - 1 => {
                        let [b] = body.as_slice() else { return None };
                        rep = Some((class(b)?, *min, *max));
                    }
                    other => prefix.push(class(other)?),
                }
            }
            let shape = scan::RunShape { prefix, rep };
            if shape.prefix.is_empty() && shape.rep.as_ref().is_none_or(|r| r.1 == 0) {
                return None;
            }
            shapes.push(shape);
        } else if let [n] = alt {
            singles.push(translate::node_char_set(n)?);
        } else {
            return None;
        }
    }
    let ascii = ascii?;
    let word = translate::category_set(Cat::Word, ascii);
    let mut union = CharSet::default();
    for s in &singles {
        if !s.intersect(&word).is_empty() {
            return None;
        }
        union = union.union(s);
    }
    Some(scan::Scanner {
        ascii,
        shapes,
        singles: (!singles.is_empty()).then(|| scan::FastSet::new(union)),
    })
}

/// Recognises `C1{m1,}|C2{m2,}|…|E…` with greedy (or possessive) unbounded repeats of
/// single-character classes and single-character alternatives, all pairwise disjoint. See
/// [`scan::ClassRuns`] for why this is exact.
fn class_runs_shape(nodes: &[Node]) -> Option<scan::ClassRuns> {
    let alts: Vec<&[Node]> = match nodes {
        [Node::Branch(alts)] => alts.iter().map(Vec::as_slice).collect(),
        other => vec![other],
    };
    let mut classes: Vec<(CharSet, u64)> = Vec::new();
    for alt in alts {
        let (set, min) = match alt {
            [
                Node::Repeat {
                    min,
                    max: None,
                    kind: RepeatKind::Greedy | RepeatKind::Possessive,
                    body,
                },
            ] if *min >= 1 => match body.as_slice() {
                [b] => (translate::node_char_set(b)?, *min),
                _ => return None,
            },
            [n] => (translate::node_char_set(n)?, 0),
            _ => return None,
        };
        if classes.iter().any(|(c, _)| !c.intersect(&set).is_empty()) {
            return None;
        }
        classes.push((set, min));
    }
    // A lone single-character class is cheap in the regex engine too, but exact here as well.
    scan::ClassRuns::new(classes)
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
            r"(?u)\b[^\d\W]+\b",
            r"\b\w\b",
            r"(?u)\b\w\w+\b|[\U0001F300-\U0001FAFF]",
            r"\b[a-z]\w{1,5}\b",
        ] {
            assert!(PyRegex::compile(p).unwrap().is_fast_path(), "{p}");
        }
        for p in [
            r"\b\w+",
            r"\b\w+\b\w",
            r"\b[\w]+?\b$",
            r"\b\w+\b|\w",
            r"\b\w+\d\b",
            r"\b\w+\b|.",
            r"\b[\w.]+\b",
        ] {
            let r = PyRegex::compile(p);
            assert!(r.map(|r| !r.is_fast_path()).unwrap_or(true), "{p}");
        }
        assert_eq!(
            fa(r"(?u)\b\w\w+\b", "I like x² café"),
            ["like", "x²", "café"]
        );
        assert_eq!(fa(r"\b\w\b", "a bb c"), ["a", "c"]);
        assert_eq!(fa(r"(?u)\b[^\d\W]+\b", "ab 12 c3 d_e"), ["ab", "d_e"]);
        assert_eq!(
            fa(r"(?u)\b\w\w+\b|[\U0001F300-\U0001FAFF]", "hi 🌍🚀 a 😀x"),
            ["hi", "🌍", "🚀", "😀"]
        );
    }

    #[test]
    fn pyregex_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PyRegex>();
    }

    #[test]
    fn class_runs_fast_path() {
        for p in [
            r"\S+",
            r"[a-zA-Z]{2,}",
            r"\w+|[^\w\s]+",
            r"[^\W\d_]+",
            r"\d+|[.,]",
        ] {
            assert!(PyRegex::compile(p).unwrap().is_fast_path(), "{p}");
        }
        for p in [r"\w+|\d+", r"[a-z]+?", r"[a-z]{2,3}", r"#?\w+", r"(\w)+"] {
            assert!(!PyRegex::compile(p).unwrap().is_fast_path(), "{p}");
        }
        assert_eq!(fa(r"[a-zA-Z]{2,}", "a bc d3ef"), ["bc", "ef"]);
        assert_eq!(fa(r"\d+|[.,]", "1,5.x 22"), ["1", ",", "5", ".", "22"]);
        assert_eq!(fa(r"\w+|[^\w\s]+", "hi!! x"), ["hi", "!!", "x"]);
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
    fn hostile_patterns_do_not_panic_or_hang() {
        let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        assert!(matches!(
            PyRegex::compile(&deep),
            Err(TextError::Unsupported { .. })
        ));
        let deep_nc = format!("{}a{}", "(?:".repeat(5000), ")".repeat(5000));
        assert!(PyRegex::compile(&deep_nc).is_err());
        for p in [
            r"a{4294967295}",
            r"a{99999999999999999999}",
            r"(?:\w{1000}){1000}",
            r"[\x00-\U0010ffff]{100000}",
        ] {
            assert!(PyRegex::compile(p).is_err(), "{p}");
        }
        // Exponential backtracking is cut off with an error instead of hanging.
        let re = PyRegex::compile(r"(?:(?=a)a|a)+(?!a)b").unwrap();
        let text = format!("{}c", "a".repeat(64));
        let r = re.findall_vec(&text);
        assert!(matches!(r, Err(TextError::BacktrackLimit { .. })), "{r:?}");
    }
}
