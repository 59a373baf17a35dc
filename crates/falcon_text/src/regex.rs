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
//! Two dialects ([`Dialect`]): CPython's `re`, and the third-party `regex` module that NLTK
//! compiles its tokenizers with, whose classes and case rules differ ([`mrab`]).
//!
//! Matching semantics (`findall`, `finditer`, `sub`, `split`): non-overlapping leftmost
//! matches, scanning left to right. Python 3.7+ also reports empty matches, including one
//! right after a non-empty match, and retries a *non-empty* alternative at the same position
//! after an empty one; the Rust engines have different empty-match rules, so patterns that can
//! match the empty string are refused. For the remaining patterns every match is non-empty and
//! both engines agree with Python on leftmost-first (backtracking-priority) semantics, so
//! every operation reduces to "next match at or after this byte offset".

mod mrab;
mod mrab_tables;
mod parse;
mod scan;
pub(crate) mod template;
mod translate;

use crate::TextError;
use parse::{At, Cat, ClassItem, Node, RepeatKind};
use regex_automata::{Anchored, Input, meta};
use std::sync::OnceLock;
use translate::CharSet;

pub use mrab::REGEX_MODULE_VERSION;
pub use template::PyTemplate;

/// Backtracking budget for `fancy-regex` (per search); exceeding it is an error rather than a
/// hang.
const BACKTRACK_LIMIT: usize = 1_000_000;
/// Compiled-program size limit for the `regex` engine.
const SIZE_LIMIT: usize = 64 << 20;
/// Translations up to this length get `fancy-regex`'s seek pre-filter: a regular
/// over-approximation of the pattern (look-arounds dropped) that the DFA runs to skip to the
/// next position where a match is possible, instead of starting the backtracking VM at every
/// position. It made NLTK's Treebank tokenizer 20x faster (`\b(can)(not)\b` and the like).
/// Long translations (big Unicode classes in many alternatives, like TweetTokenizer's
/// `WORD_RE`, which matches almost everywhere anyway) pay more to build and run the
/// approximation than it saves.
const SEEK_MAX_LEN: usize = 64 << 10;

/// Python `re` flags given outside the pattern (`re.I`, `re.M`, `re.S`, `re.X`, `re.A`,
/// `re.U`), with Python's values: I=2, M=8, S=16, U=32, X=64, A=256.
///
/// Inline flags (`(?i)`) are part of the pattern and combine with these as in CPython.
/// `re.L` (4) is refused for str patterns, as CPython does; `re.T` (1, TEMPLATE) is refused
/// because CPython 3.11 cannot compile repetitions with it; `re.DEBUG` (128) only prints the
/// parse tree, and unknown bits are ignored by CPython, so both are accepted and ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PyFlags(u16);

impl PyFlags {
    /// `re.IGNORECASE` / `re.I` (2).
    pub const IGNORECASE: PyFlags = PyFlags(2);
    /// `re.MULTILINE` / `re.M` (8).
    pub const MULTILINE: PyFlags = PyFlags(8);
    /// `re.DOTALL` / `re.S` (16).
    pub const DOTALL: PyFlags = PyFlags(16);
    /// `re.UNICODE` / `re.U` (32): the default for str patterns.
    pub const UNICODE: PyFlags = PyFlags(32);
    /// `re.VERBOSE` / `re.X` (64).
    pub const VERBOSE: PyFlags = PyFlags(64);
    /// `re.ASCII` / `re.A` (256).
    pub const ASCII: PyFlags = PyFlags(256);

    const KNOWN: u16 = 2 | 8 | 16 | 32 | 64 | 256;

    /// A flag by its Python name: `"I"`/`"IGNORECASE"`, `"M"`/`"MULTILINE"`, `"S"`/`"DOTALL"`,
    /// `"X"`/`"VERBOSE"`, `"A"`/`"ASCII"`, `"U"`/`"UNICODE"`, optionally written `re.I`, with
    /// surrounding spaces ignored.
    pub fn parse_name(s: &str) -> Option<PyFlags> {
        let s = s.trim();
        let s = s.strip_prefix("re.").unwrap_or(s);
        Some(match s {
            "I" | "IGNORECASE" => Self::IGNORECASE,
            "M" | "MULTILINE" => Self::MULTILINE,
            "S" | "DOTALL" => Self::DOTALL,
            "X" | "VERBOSE" => Self::VERBOSE,
            "A" | "ASCII" => Self::ASCII,
            "U" | "UNICODE" => Self::UNICODE,
            _ => return None,
        })
    }

    /// Flags from Python's integer value (`re.I | re.M` = 10).
    ///
    /// Errors ([`TextError::Flags`]): `re.LOCALE` (4, and so any negative value) — CPython
    /// raises `ValueError` for str patterns; `re.TEMPLATE` (1); `re.ASCII | re.UNICODE`.
    pub fn from_bits(v: i64) -> Result<PyFlags, TextError> {
        let err = |msg: &str| TextError::Flags {
            flags: v,
            msg: msg.to_string(),
        };
        if v & 4 != 0 {
            return Err(err("cannot use LOCALE flag with a str pattern"));
        }
        if v & 1 != 0 {
            return Err(err(
                "re.TEMPLATE is not supported (CPython 3.11 cannot compile repetitions with it)",
            ));
        }
        let f = PyFlags((v & i64::from(Self::KNOWN)) as u16);
        if f.contains(Self::ASCII) && f.contains(Self::UNICODE) {
            return Err(err("ASCII and UNICODE flags are incompatible"));
        }
        Ok(f)
    }

    /// Flags from the third-party `regex` module's integer values (what NLTK hands to
    /// `regex.compile`): I=2, M=8, S=16, U=32, X=64, and **A=128**; VERSION0 (8192) and DEBUG
    /// (512) change nothing here and are accepted.
    ///
    /// Errors ([`TextError::Flags`]): LOCALE (4); ASCII with UNICODE; and flags whose
    /// behaviour is not reproduced: VERSION1 (256 — also the value of Python's `re.ASCII`, so
    /// `re.A` passed to an NLTK tokenizer selects VERSION1), FULLCASE, BESTMATCH,
    /// ENHANCEMATCH, POSIX, REVERSE, WORD, TEMPLATE, and any unknown bit.
    pub fn from_regex_module_bits(v: i64) -> Result<PyFlags, TextError> {
        let err = |msg: String| TextError::Flags { flags: v, msg };
        if v & 4 != 0 {
            return Err(err("cannot use LOCALE flag with a str pattern".into()));
        }
        let named: [(i64, &str); 9] = [
            (1, "TEMPLATE"),
            (
                256,
                "VERSION1 (the value of re.ASCII; the regex module's ASCII is 128)",
            ),
            (1024, "REVERSE"),
            (2048, "WORD"),
            (4096, "BESTMATCH"),
            (16384, "FULLCASE"),
            (32768, "ENHANCEMATCH"),
            (65536, "POSIX"),
            (!0x1_FFFF, "unknown flag bits"),
        ];
        for (bit, name) in named {
            if v & bit != 0 {
                return Err(err(format!("regex module flag {name} is not reproduced")));
            }
        }
        let mut f = PyFlags((v & i64::from(2 | 8 | 16 | 32 | 64)) as u16);
        if v & 128 != 0 {
            f = f.union(Self::ASCII);
        }
        if f.contains(Self::ASCII) && f.contains(Self::UNICODE) {
            return Err(err("ASCII and UNICODE flags are incompatible".into()));
        }
        Ok(f)
    }

    /// `self | o`.
    pub const fn union(self, o: PyFlags) -> PyFlags {
        PyFlags(self.0 | o.0)
    }

    /// No flag set.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `o` is set.
    pub fn contains(&self, o: PyFlags) -> bool {
        self.0 & o.0 == o.0
    }

    /// Python's integer value.
    pub fn bits(&self) -> i64 {
        i64::from(self.0)
    }

    fn init(self, dialect: Dialect) -> parse::Init {
        parse::Init {
            ignorecase: self.contains(Self::IGNORECASE),
            multiline: self.contains(Self::MULTILINE),
            dotall: self.contains(Self::DOTALL),
            verbose: self.contains(Self::VERBOSE),
            ascii: self.contains(Self::ASCII),
            unicode: self.contains(Self::UNICODE),
            regex_module: dialect == Dialect::RegexModule,
        }
    }
}

/// Which Python regex engine's semantics to reproduce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// CPython 3.11's `re` (what scikit-learn and users' `re.*` calls use).
    #[default]
    Re,
    /// The third-party `regex` module, VERSION0 (what NLTK 3.10.4 compiles its tokenizer
    /// patterns with, via `nltk.redos`), version [`REGEX_MODULE_VERSION`]. Same syntax as `re`
    /// for the patterns accepted here, but `\w`, `\d`, `\s`, `\b` and IGNORECASE follow that
    /// module's tables, and `\p{..}` general categories are accepted.
    RegexModule,
}

#[derive(Debug, Clone)]
enum Engine {
    /// Maximal runs of word characters fitting a shape (see [`scan`]).
    Scan(scan::Scanner),
    /// Maximal runs of disjoint classes (see [`scan::ClassRuns`]).
    Runs(scan::ClassRuns),
    Regex(meta::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

/// A match: `spans[0]` is the whole match, `spans[i]` group `i` (`None` when it did not
/// participate), as byte offsets into the text.
pub type Spans = Vec<Option<(usize, usize)>>;

/// A compiled Python `re` (or `regex` module) pattern.
#[derive(Debug, Clone)]
pub struct PyRegex {
    pattern: String,
    flags: PyFlags,
    dialect: Dialect,
    groups: usize,
    /// `(name, group)`, sorted by name.
    group_names: Vec<(String, usize)>,
    engine: Engine,
    translated: Option<String>,
    /// The pattern is one capturing group around everything (`(a|b|c)`, as
    /// NLTK's `TweetTokenizer` writes its `WORD_RE`): group 1 is the whole
    /// match, so `findall` can ask the engine for the match alone, which
    /// needs no capture tracking (a DFA instead of a capturing VM).
    whole_group: bool,
    /// For the hand-written scanners, which only scan left to right: the translated engine,
    /// built on the first [`PyRegex::match_at`].
    anchored: OnceLock<Result<Engine, TextError>>,
}

impl PyRegex {
    /// Compiles a Python regex (`re.compile(pattern)`).
    ///
    /// Returns [`TextError::Syntax`] for patterns CPython rejects and
    /// [`TextError::Unsupported`] for valid patterns that cannot be reproduced exactly:
    /// patterns that can match the empty string, repetitions of sub-patterns that can match
    /// the empty string, conditional groups `(?(1)a|b)`, `\N{...}`, group references under
    /// IGNORECASE or inside look-behinds, non-ASCII group names and the `(?t)` flag.
    pub fn compile(pattern: &str) -> Result<PyRegex, TextError> {
        Self::compile_dialect(pattern, PyFlags::default(), Dialect::Re)
    }

    /// `re.compile(pattern, flags)`; see [`PyRegex::compile`] for the errors.
    pub fn compile_with_flags(pattern: &str, flags: PyFlags) -> Result<PyRegex, TextError> {
        Self::compile_dialect(pattern, flags, Dialect::Re)
    }

    /// Compiles for the given dialect; `Dialect::RegexModule` is `regex.compile(pattern,
    /// flags)` of the third-party `regex` module. `flags` are the meanings (for that module
    /// `regex.A` is 128, and Python's `re.A` = 256 passed to it means VERSION1, which is not
    /// reproduced: convert accordingly).
    ///
    /// In the `regex` dialect a pattern that CPython's `re` rejects is reported as
    /// [`TextError::Unsupported`] (that module accepts more syntax), and IGNORECASE is refused
    /// with `\p{Lu}`/`\p{Ll}`/`\p{Lt}` and any class not closed under its case relation.
    pub fn compile_dialect(
        pattern: &str,
        flags: PyFlags,
        dialect: Dialect,
    ) -> Result<PyRegex, TextError> {
        let parsed = parse::parse(pattern, flags.init(dialect))?;
        if dialect == Dialect::RegexModule {
            check_regex_module_ignorecase(&parsed.nodes, pattern)?;
        }
        let (min_width, _) = parse::width(&parsed.nodes, parsed.group_widths.as_slice());
        if min_width == 0 {
            return Err(TextError::Unsupported {
                pattern: pattern.to_string(),
                pos: 0,
                construct: "pattern that can match the empty string (Python's empty-match \
                            rules are not reproduced)"
                    .into(),
            });
        }
        // The word scanner hard-codes `re`'s `\w`; the class-run scanner takes any classes.
        let scanner = (parsed.groups == 0 && dialect == Dialect::Re)
            .then(|| scanner_shape(&parsed.nodes))
            .flatten();
        let (engine, translated) = if let Some(s) = scanner {
            (Engine::Scan(s), None)
        } else if let Some(runs) = (parsed.groups == 0)
            .then(|| class_runs_shape(&parsed.nodes, dialect))
            .flatten()
        {
            (Engine::Runs(runs), None)
        } else {
            let (e, t) = build_engine(&parsed, pattern, dialect)?;
            (e, Some(t))
        };
        let whole_group = parsed.groups == 1
            && matches!(
                parsed.nodes.as_slice(),
                [parse::Node::Group { index: 1, .. }]
            );
        Ok(PyRegex {
            pattern: pattern.to_string(),
            flags,
            dialect,
            groups: parsed.groups,
            group_names: parsed.group_names,
            engine,
            translated,
            whole_group,
            anchored: OnceLock::new(),
        })
    }

    /// Number of capturing groups (`re.compile(p).groups`).
    pub fn group_count(&self) -> usize {
        self.groups
    }

    /// The group number of a named group (`groupindex[name]`).
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.group_names
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.group_names[i].1)
    }

    /// Named groups as `(name, number)`, sorted by name (`groupindex`).
    pub fn group_names(&self) -> &[(String, usize)] {
        &self.group_names
    }

    /// The Python pattern this was compiled from.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The flags given at compile time (not the inline ones).
    pub fn flags(&self) -> PyFlags {
        self.flags
    }

    /// The dialect whose semantics are reproduced.
    pub fn dialect(&self) -> Dialect {
        self.dialect
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

    fn backtrack_err(&self, e: fancy_regex::Error) -> TextError {
        match e {
            fancy_regex::Error::RuntimeError(_) => TextError::BacktrackLimit {
                pattern: self.pattern.clone(),
            },
            other => TextError::Engine {
                pattern: self.pattern.clone(),
                msg: other.to_string(),
            },
        }
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
            Engine::Regex(re) if self.groups == 0 || self.whole_group => {
                for m in re.find_iter(text) {
                    f(&text[m.range()]);
                }
                Ok(())
            }
            Engine::Fancy(re) if self.whole_group => {
                let mut pos = 0;
                while pos <= text.len() {
                    let Some(m) = re
                        .find_from_pos(text, pos)
                        .map_err(|e| self.backtrack_err(e))?
                    else {
                        break;
                    };
                    f(m.as_str());
                    // Every match is non-empty (nullable patterns are refused).
                    pos = m.end().max(pos + 1);
                }
                Ok(())
            }
            _ => self.for_each_match(text, |sp| {
                let item = if self.groups == 0 { sp[0] } else { sp[1] };
                f(item.map_or("", |(s, e)| &text[s..e]));
                true
            }),
        }
    }

    /// Convenience: `re.findall` collected into a `Vec`.
    pub fn findall_vec<'t>(&self, text: &'t str) -> Result<Vec<&'t str>, TextError> {
        let mut v = Vec::new();
        self.findall(text, |s| v.push(s))?;
        Ok(v)
    }

    /// `re.finditer`: calls `f` with each match's spans, byte offsets into `text`; `spans[0]`
    /// is the whole match, `spans[i]` group `i` (`None` when it did not participate). Return
    /// `false` from `f` to stop early.
    ///
    /// Errors: [`TextError::BacktrackLimit`] (see [`PyRegex::findall`]); `f` may already have
    /// seen the matches before the failure point.
    pub fn for_each_match(
        &self,
        text: &str,
        mut f: impl FnMut(&[Option<(usize, usize)>]) -> bool,
    ) -> Result<(), TextError> {
        let base = text.as_ptr() as usize;
        let mut spans: Spans = vec![None; self.groups + 1];
        match &self.engine {
            Engine::Scan(_) | Engine::Runs(_) => {
                // Group-free patterns: the items are the matches, sub-slices of `text`.
                let mut go = true;
                let mut each = |s: &str| {
                    if go {
                        let start = s.as_ptr() as usize - base;
                        go = f(&[Some((start, start + s.len()))]);
                    }
                };
                match &self.engine {
                    Engine::Scan(scanner) => scanner.scan(text, &mut each),
                    Engine::Runs(runs) => runs.scan(text, &mut each),
                    _ => {}
                }
                Ok(())
            }
            Engine::Regex(re) => {
                let mut caps = re.create_captures();
                let mut pos = 0;
                while pos <= text.len() {
                    re.search_captures(&Input::new(text).range(pos..), &mut caps);
                    let Some(m) = caps.get_match() else { break };
                    for (i, slot) in spans.iter_mut().enumerate() {
                        *slot = caps.get_group(i).map(|s| (s.start, s.end));
                    }
                    if !f(&spans) {
                        break;
                    }
                    // Every match is non-empty (nullable patterns are refused).
                    pos = m.end().max(pos + 1);
                }
                Ok(())
            }
            Engine::Fancy(re) => {
                let mut pos = 0;
                while pos <= text.len() {
                    let Some(c) = re
                        .captures_from_pos(text, pos)
                        .map_err(|e| self.backtrack_err(e))?
                    else {
                        break;
                    };
                    for (i, slot) in spans.iter_mut().enumerate() {
                        *slot = c.get(i).map(|m| (m.start(), m.end()));
                    }
                    let end = spans[0].map_or(text.len(), |s| s.1);
                    if !f(&spans) {
                        break;
                    }
                    pos = end.max(pos + 1);
                }
                Ok(())
            }
        }
    }

    /// `pattern.search(text)` is `Some`: whether the pattern matches anywhere.
    pub fn is_match(&self, text: &str) -> Result<bool, TextError> {
        let mut found = false;
        self.for_each_match(text, |_| {
            found = true;
            false
        })?;
        Ok(found)
    }

    /// `pattern.match(text, pos)`: the match anchored at byte offset `pos`, if any (look-behind
    /// and `\b` see the text before `pos`, as in Python; `^` and `\A` match only at 0).
    ///
    /// `pos` past the end finds no match (patterns never match the empty string); a `pos`
    /// inside a UTF-8 sequence is an error ([`TextError::Position`]).
    pub fn match_at(&self, text: &str, pos: usize) -> Result<Option<Spans>, TextError> {
        if pos > text.len() {
            return Ok(None);
        }
        if !text.is_char_boundary(pos) {
            return Err(TextError::Position { pos });
        }
        let engine = match &self.engine {
            Engine::Scan(_) | Engine::Runs(_) => {
                let built = self.anchored.get_or_init(|| {
                    let parsed = parse::parse(&self.pattern, self.flags.init(self.dialect))?;
                    build_engine(&parsed, &self.pattern, self.dialect).map(|(e, _)| e)
                });
                built.as_ref().map_err(Clone::clone)?
            }
            e => e,
        };
        let mut spans: Spans = vec![None; self.groups + 1];
        match engine {
            Engine::Regex(re) => {
                let mut caps = re.create_captures();
                re.search_captures(
                    &Input::new(text).range(pos..).anchored(Anchored::Yes),
                    &mut caps,
                );
                if !caps.is_match() {
                    return Ok(None);
                }
                for (i, slot) in spans.iter_mut().enumerate() {
                    *slot = caps.get_group(i).map(|s| (s.start, s.end));
                }
            }
            Engine::Fancy(re) => {
                let input = fancy_regex::RegexInput::new(text)
                    .from_pos(pos)
                    .anchored(true);
                let Some(c) = re
                    .captures_input(input)
                    .map_err(|e| self.backtrack_err(e))?
                else {
                    return Ok(None);
                };
                for (i, slot) in spans.iter_mut().enumerate() {
                    *slot = c.get(i).map(|m| (m.start(), m.end()));
                }
            }
            Engine::Scan(_) | Engine::Runs(_) => return Ok(None),
        }
        Ok(Some(spans))
    }

    /// `re.sub(pattern, repl, text, count)` with a compiled replacement template; `count` 0
    /// replaces every match.
    ///
    /// Errors: [`TextError::Template`] when `repl` refers to a group this pattern lacks
    /// (compiled against another pattern), [`TextError::BacktrackLimit`].
    pub fn sub(&self, repl: &PyTemplate, text: &str, count: usize) -> Result<String, TextError> {
        repl.check_groups(self.groups)?;
        let mut out = String::with_capacity(text.len() + text.len() / 8);
        let mut last = 0;
        let mut n = 0usize;
        self.for_each_match(text, |sp| {
            let Some((s, e)) = sp[0] else { return true };
            out.push_str(&text[last..s]);
            repl.expand(text, sp, &mut out);
            last = e;
            n += 1;
            count == 0 || n < count
        })?;
        out.push_str(&text[last..]);
        Ok(out)
    }

    /// `re.split(pattern, text, maxsplit)`: the pieces between matches and, after each
    /// separator, its groups (`None` for a group that did not participate), as Python
    /// returns them. `maxsplit` 0 splits at every match.
    pub fn split<'t>(
        &self,
        text: &'t str,
        maxsplit: usize,
    ) -> Result<Vec<Option<&'t str>>, TextError> {
        let mut out = Vec::new();
        let mut last = 0;
        let mut n = 0usize;
        self.for_each_match(text, |sp| {
            let Some((s, e)) = sp[0] else { return true };
            out.push(Some(&text[last..s]));
            out.extend(sp[1..].iter().map(|g| g.map(|(a, b)| &text[a..b])));
            last = e;
            n += 1;
            maxsplit == 0 || n < maxsplit
        })?;
        out.push(Some(&text[last..]));
        Ok(out)
    }
}

/// Translates and compiles for the regex engines; returns the engine and the translation.
fn build_engine(
    parsed: &parse::Parsed,
    pattern: &str,
    dialect: Dialect,
) -> Result<(Engine, String), TextError> {
    let t = translate::translate(&parsed.nodes, pattern, dialect, &parsed.group_widths)?;
    let engine_err = |msg: String| TextError::Engine {
        pattern: pattern.to_string(),
        msg,
    };
    let engine = if t.needs_fancy {
        let re = fancy_regex::RegexBuilder::new(&t.pattern)
            .backtrack_limit(BACKTRACK_LIMIT)
            .delegate_size_limit(SIZE_LIMIT)
            .seek(t.pattern.len() <= SEEK_MAX_LEN)
            .build()
            .map_err(|e| engine_err(e.to_string()))?;
        Engine::Fancy(Box::new(re))
    } else {
        let re = meta::Regex::builder()
            .configure(meta::Config::new().nfa_size_limit(Some(SIZE_LIMIT)))
            .build(&t.pattern)
            .map_err(|e| engine_err(e.to_string()))?;
        Engine::Regex(re)
    };
    Ok((engine, t.pattern))
}

/// Refuses, for the `regex` module dialect, IGNORECASE on categories whose meaning depends on
/// whether they stand alone or in a set (see [`mrab::ignorecase_problem`]).
fn check_regex_module_ignorecase(nodes: &[Node], pattern: &str) -> Result<(), TextError> {
    for n in nodes {
        match n {
            Node::In { items, flags, .. } if flags.ignorecase => {
                for it in items {
                    if let ClassItem::Cat(cat) = it
                        && let Some(why) = mrab::ignorecase_problem(*cat, flags.ascii)
                    {
                        return Err(TextError::Unsupported {
                            pattern: pattern.to_string(),
                            pos: 0,
                            construct: why,
                        });
                    }
                }
            }
            Node::Branch(alts) => {
                for a in alts {
                    check_regex_module_ignorecase(a, pattern)?;
                }
            }
            Node::Group { body, .. }
            | Node::Scoped(body)
            | Node::Plain(body)
            | Node::Atomic(body)
            | Node::Repeat { body, .. }
            | Node::Assert { body, .. } => check_regex_module_ignorecase(body, pattern)?,
            _ => {}
        }
    }
    Ok(())
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
            let word = translate::category_set(Cat::Word, f0.ascii, Dialect::Re);
            // `None` = exactly `\w` (lets the plain scanner skip class tests).
            let class = |n: &Node| -> Option<Option<scan::FastSet>> {
                let set = translate::node_char_set(n, Dialect::Re)?;
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
            singles.push(translate::node_char_set(n, Dialect::Re)?);
        } else {
            return None;
        }
    }
    let ascii = ascii?;
    let word = translate::category_set(Cat::Word, ascii, Dialect::Re);
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
fn class_runs_shape(nodes: &[Node], dialect: Dialect) -> Option<scan::ClassRuns> {
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
                [b] => (translate::node_char_set(b, dialect)?, *min),
                _ => return None,
            },
            [n] => (translate::node_char_set(n, dialect)?, 0),
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
        // (`(?!c)c` never matches, but the regular pre-filter, which ignores look-arounds,
        // lets the backtracking engine start.)
        let re = PyRegex::compile(r"(?:(?=a)a|a)+(?!c)c").unwrap();
        let text = format!("{}c", "a".repeat(64));
        let r = re.findall_vec(&text);
        assert!(matches!(r, Err(TextError::BacktrackLimit { .. })), "{r:?}");
    }
}
