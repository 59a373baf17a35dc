//! A declared text program: the sequence of built-in operations a user's
//! Python callable is declared to perform, compiled once at load time and
//! run per text.
//!
//! Every operation reproduces one piece of Python with CPython's (or
//! NLTK's) exact semantics, named the way a Python programmer writes it
//! (`str.lower`, `re.sub`, `nltk.word_tokenize`, `PorterStemmer.stem`), so
//! a declaration reads like the function it stands for. The value flowing
//! through a program is a string or a list of tokens:
//!
//! * string → string operations (`str.lower`, `re.sub`, the stemmers) apply
//!   to a string, or to every token of a list, as a list comprehension
//!   `[op(t) for t in tokens]` would;
//! * string → tokens operations (`str.split`, `re.findall`, the NLTK
//!   tokenizers) turn a string into tokens, and a list into the
//!   concatenation of each token's pieces (`[p for t in tokens for p in
//!   op(t)]`);
//! * filters (`keep_if`, `drop_if`, `drop_stop_words`) need tokens;
//! * `str.join` turns tokens back into a string.
//!
//! Anything else (an operation on the wrong shape, an unknown argument, a
//! regex Python semantics cannot be reproduced for) is refused when the
//! declaration is compiled, never at prediction time.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use falcon_text::nltk::lancaster::LancasterStemmer;
use falcon_text::nltk::porter::{PorterMode, PorterStemmer};
use falcon_text::nltk::punkt::PunktModel;
use falcon_text::nltk::snowball::EnglishStemmer;
use falcon_text::nltk::tokenize::{RegexpTokenizer, TweetTokenizer};
use falcon_text::nltk::wordnet::{Pos, WordNet};
use falcon_text::{PyFlags, PyRegex, PyTemplate};

use super::resources::Resources;
use crate::error::{EngineError, Result};

/// What flows between operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextValue {
    Str(String),
    Tokens(Vec<String>),
}

/// The shape of a [`TextValue`], tracked at compile time so a program that
/// would hand a list to `str.join`'s wrong side is refused before serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Str,
    Tokens,
}

impl Shape {
    pub(crate) fn python(self) -> &'static str {
        match self {
            Shape::Str => "str",
            Shape::Tokens => "list[str]",
        }
    }
}

/// A token test of `keep_if` / `drop_if`.
#[derive(Debug, Clone)]
enum Test {
    /// `len(t) >= n` (code points, as Python counts).
    MinLen(usize),
    /// `len(t) <= n`.
    MaxLen(usize),
    IsAlpha,
    IsDigit,
    IsAlnum,
    IsNumeric,
}

impl Test {
    fn holds(&self, t: &str) -> bool {
        match self {
            Test::MinLen(n) => t.chars().count() >= *n,
            Test::MaxLen(n) => t.chars().count() <= *n,
            Test::IsAlpha => falcon_text::unicode::str_isalpha(t),
            Test::IsDigit => falcon_text::unicode::str_isdigit(t),
            Test::IsAlnum => falcon_text::unicode::str_isalnum(t),
            Test::IsNumeric => falcon_text::unicode::str_isnumeric(t),
        }
    }
}

/// One compiled operation.
enum Op {
    Lower,
    Strip(Option<Vec<char>>),
    Split {
        sep: Option<String>,
        maxsplit: Option<usize>,
    },
    Join(String),
    /// `sep.join(s.split())` on a string: `str.split` (whitespace) then
    /// `str.join`, fused at compile time so that normalising whitespace
    /// builds one string instead of a list of them (the same result; the
    /// idiom is in most cleaning functions).
    SplitJoin(String),
    Sub {
        re: Box<PyRegex>,
        repl: PyTemplate,
        count: usize,
    },
    Findall(Box<PyRegex>),
    ReSplit {
        re: Box<PyRegex>,
        maxsplit: usize,
    },
    Keep(Vec<Test>),
    Drop(Vec<Test>),
    StopWords(Arc<HashSet<String>>),
    Porter {
        stemmer: PorterStemmer,
        to_lowercase: bool,
    },
    Snowball(Box<EnglishStemmer>),
    Lancaster(LancasterStemmer),
    Lemmatize {
        wordnet: Arc<WordNet>,
        pos: Pos,
    },
    WordTokenize(Option<Arc<PunktModel>>),
    WordPunct,
    Tweet(Box<TweetTokenizer>),
    Regexp(Box<RegexpTokenizer>),
}

/// A compiled declaration: what a callable does to one text.
pub struct Program {
    ops: Vec<Op>,
    output: Shape,
    /// One line per operation, as declared, for `model inspect`.
    pub(crate) summary: Vec<String>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("steps", &self.summary)
            .field("output", &self.output)
            .finish()
    }
}

/// The operations a declaration may name, for error messages and docs.
pub const OPERATIONS: &[&str] = &[
    "str.lower",
    "str.strip",
    "str.split",
    "str.join",
    "re.sub",
    "re.findall",
    "re.split",
    "keep_if",
    "drop_if",
    "drop_stop_words",
    "PorterStemmer.stem",
    "SnowballStemmer.stem",
    "LancasterStemmer.stem",
    "WordNetLemmatizer.lemmatize",
    "nltk.word_tokenize",
    "nltk.wordpunct_tokenize",
    "TweetTokenizer.tokenize",
    "RegexpTokenizer.tokenize",
];

/// Most operations one program may have: a declaration is a short
/// composition, and a bound keeps a hostile config from building a huge
/// chain.
const MAX_OPS: usize = 64;

impl Program {
    /// Compiles `steps` (the declaration's array) for the callable `name`.
    pub(crate) fn compile(name: &str, steps: &toml::Value, res: &Resources) -> Result<Program> {
        let toml::Value::Array(steps) = steps else {
            return Err(decl(
                name,
                "`steps` must be an array of operations, e.g. steps = [\"str.lower\", { op = \"re.findall\", pattern = '\\w+' }]",
            ));
        };
        if steps.is_empty() {
            return Err(decl(name, "`steps` is empty"));
        }
        if steps.len() > MAX_OPS {
            return Err(decl(
                name,
                format!("{} steps; a program has at most {MAX_OPS}", steps.len()),
            ));
        }
        let mut shape = Shape::Str;
        let mut ops: Vec<Op> = Vec::with_capacity(steps.len());
        let mut summary = Vec::with_capacity(steps.len());
        // The shape each op receives, for the fusion below.
        let mut inputs = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let at = |msg: String| decl(name, format!("step {} ({}): {msg}", i + 1, show(step)));
            let args = Args::of(step).map_err(at)?;
            let (op, kind) = compile_op(&args, res).map_err(|e| match e {
                EngineError::Unsupported(m) => at(m),
                other => at(other.to_string()),
            })?;
            inputs.push(shape);
            shape = kind.apply(shape).map_err(|m| at(m.to_string()))?;
            args.finish().map_err(at)?;
            summary.push(show(step));
            // `" ".join(s.split())` on a string: one op, one string.
            if let Op::Join(sep) = &op
                && let Some(Op::Split {
                    sep: None,
                    maxsplit: None,
                }) = ops.last()
                && inputs[inputs.len() - 2] == Shape::Str
            {
                let sep = sep.clone();
                ops.pop();
                ops.push(Op::SplitJoin(sep));
                continue;
            }
            ops.push(op);
        }
        Ok(Program {
            ops,
            output: shape,
            summary,
        })
    }

    /// What the program returns for a string.
    pub fn output(&self) -> Shape {
        self.output
    }

    /// Runs the program on one text. Fails only where Python would raise
    /// or where Falcon refuses rather than guess (a backtracking pattern out
    /// of budget).
    pub fn run(&self, text: &str) -> Result<TextValue> {
        let mut v = TextValue::Str(text.to_string());
        for op in &self.ops {
            v = op.apply(v)?;
        }
        Ok(v)
    }

    /// [`Program::run`] for a program declared to return tokens.
    pub(crate) fn tokens(&self, text: &str) -> Result<Vec<String>> {
        match self.run(text)? {
            TextValue::Tokens(t) => Ok(t),
            TextValue::Str(_) => Err(EngineError::unsupported(
                "a program declared to return tokens returned a string",
            )),
        }
    }

    /// [`Program::run`] for a program declared to return a string.
    pub(crate) fn string(&self, text: &str) -> Result<String> {
        match self.run(text)? {
            TextValue::Str(s) => Ok(s),
            TextValue::Tokens(_) => Err(EngineError::unsupported(
                "a program declared to return a string returned tokens",
            )),
        }
    }
}

fn decl(name: &str, msg: impl std::fmt::Display) -> EngineError {
    EngineError::Declaration(format!("{name}: {msg}"))
}

/// A step as the user wrote it, for messages and `inspect`.
fn show(step: &toml::Value) -> String {
    match step {
        toml::Value::String(s) => s.clone(),
        other => {
            let s = other.to_string();
            s.chars().take(200).collect()
        }
    }
}

/// How an operation changes the shape of the value.
#[derive(Clone, Copy)]
enum Kind {
    /// string → string; mapped over tokens.
    Map,
    /// string → tokens; flat-mapped over tokens.
    Split,
    /// tokens → tokens.
    Filter,
    /// tokens → string.
    Join,
}

impl Kind {
    fn apply(self, s: Shape) -> std::result::Result<Shape, &'static str> {
        match (self, s) {
            (Kind::Map, s) => Ok(s),
            (Kind::Split, _) => Ok(Shape::Tokens),
            (Kind::Filter, Shape::Tokens) => Ok(Shape::Tokens),
            (Kind::Filter, Shape::Str) => Err(
                "filters a list of tokens, but the value here is a string: tokenize first (str.split, re.findall, nltk.word_tokenize, ...)",
            ),
            (Kind::Join, Shape::Tokens) => Ok(Shape::Str),
            (Kind::Join, Shape::Str) => {
                Err("str.join needs a list of tokens, but the value here is a string")
            }
        }
    }
}

/// A step's arguments: the operation name and its keyword arguments, with
/// every argument that was read ticked off so unknown ones are refused (a
/// misspelt `flag = "I"` must not silently compile without the flag).
struct Args<'a> {
    op: &'a str,
    table: Option<&'a toml::Table>,
    used: std::cell::RefCell<Vec<&'static str>>,
}

impl<'a> Args<'a> {
    fn of(step: &'a toml::Value) -> std::result::Result<Args<'a>, String> {
        match step {
            toml::Value::String(op) => Ok(Args {
                op,
                table: None,
                used: Default::default(),
            }),
            toml::Value::Table(t) => match t.get("op") {
                Some(toml::Value::String(op)) => Ok(Args {
                    op,
                    table: Some(t),
                    used: Default::default(),
                }),
                _ => Err("a step with arguments is a table with an `op` key, e.g. { op = \"re.sub\", pattern = 'https?://\\S+', repl = \"\" }".into()),
            },
            _ => Err("a step is an operation name (\"str.lower\") or a table ({ op = ..., ... })".into()),
        }
    }

    fn get(&self, key: &'static str) -> Option<&'a toml::Value> {
        let v = self.table.and_then(|t| t.get(key));
        if v.is_some() {
            self.used.borrow_mut().push(key);
        }
        v
    }

    fn str(&self, key: &'static str) -> std::result::Result<Option<&'a str>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(format!("`{key}` must be a string, not {}", v.type_str())),
        }
    }

    fn req_str(&self, key: &'static str) -> std::result::Result<&'a str, String> {
        self.str(key)?
            .ok_or_else(|| format!("{} needs `{key}`", self.op))
    }

    fn bool(&self, key: &'static str, default: bool) -> std::result::Result<bool, String> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(v) => Err(format!(
                "`{key}` must be true or false, not {}",
                v.type_str()
            )),
        }
    }

    fn count(&self, key: &'static str) -> std::result::Result<Option<usize>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) if *n >= 0 => usize::try_from(*n)
                .map(Some)
                .map_err(|_| format!("`{key}` is too large")),
            Some(v) => Err(format!("`{key}` must be a non-negative integer, not {v}")),
        }
    }

    /// `flags`: `"I"`, `"IGNORECASE|MULTILINE"`, `["I", "M"]` or Python's
    /// integer value.
    fn flags(&self) -> std::result::Result<PyFlags, String> {
        let one = |s: &str| -> std::result::Result<PyFlags, String> {
            let s = s.trim();
            let s = s.strip_prefix("re.").unwrap_or(s);
            PyFlags::parse_name(s).ok_or_else(|| {
                format!("unknown re flag {s:?} (I, M, S, X, A, U or their long names)")
            })
        };
        match self.get("flags") {
            None => Ok(PyFlags::default()),
            Some(toml::Value::String(s)) => s
                .split('|')
                .try_fold(PyFlags::default(), |acc, f| Ok(acc.union(one(f)?))),
            Some(toml::Value::Array(items)) => {
                items.iter().try_fold(PyFlags::default(), |acc, f| match f {
                    toml::Value::String(s) => Ok(acc.union(one(s)?)),
                    other => Err(format!("a flag must be a string, not {other}")),
                })
            }
            Some(toml::Value::Integer(n)) => PyFlags::from_bits(*n).map_err(|e| e.to_string()),
            Some(v) => Err(format!(
                "`flags` must be a string, a list or an integer, not {v}"
            )),
        }
    }

    /// Refuses arguments no part of the operation read.
    fn finish(&self) -> std::result::Result<(), String> {
        let Some(t) = self.table else { return Ok(()) };
        let used = self.used.borrow();
        let unknown: Vec<&str> = t
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "op" && !used.contains(k))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} takes no argument {}",
                self.op,
                unknown
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

fn regex(pattern: &str, flags: PyFlags) -> Result<Box<PyRegex>> {
    PyRegex::compile_with_flags(pattern, flags)
        .map(Box::new)
        .map_err(|e| EngineError::unsupported(format!("pattern {pattern:?}: {e}")))
}

fn compile_op(a: &Args<'_>, res: &Resources) -> Result<(Op, Kind)> {
    let bad = |m: String| EngineError::unsupported(m);
    Ok(match a.op {
        "str.lower" => (Op::Lower, Kind::Map),
        "str.strip" => {
            let chars = a.str("chars").map_err(bad)?.map(|c| c.chars().collect());
            (Op::Strip(chars), Kind::Map)
        }
        "str.split" => {
            let sep = a.str("sep").map_err(bad)?;
            if sep == Some("") {
                return Err(bad(
                    "str.split: empty separator (Python raises ValueError)".into()
                ));
            }
            let maxsplit = a.count("maxsplit").map_err(bad)?;
            (
                Op::Split {
                    sep: sep.map(str::to_string),
                    maxsplit,
                },
                Kind::Split,
            )
        }
        "str.join" => {
            let sep = a.str("sep").map_err(bad)?.unwrap_or(" ");
            (Op::Join(sep.to_string()), Kind::Join)
        }
        "re.sub" => {
            let re = regex(a.req_str("pattern").map_err(bad)?, a.flags().map_err(bad)?)?;
            let repl_src = a.req_str("repl").map_err(bad)?;
            let repl = PyTemplate::compile(repl_src, &re)
                .map_err(|e| bad(format!("repl {repl_src:?}: {e}")))?;
            let count = a.count("count").map_err(bad)?.unwrap_or(0);
            (Op::Sub { re, repl, count }, Kind::Map)
        }
        "re.findall" => {
            let re = regex(a.req_str("pattern").map_err(bad)?, a.flags().map_err(bad)?)?;
            if re.group_count() > 1 {
                return Err(bad(format!(
                    "re.findall with {} groups returns tuples, not tokens; use (?:...) for groups that are not the token",
                    re.group_count()
                )));
            }
            (Op::Findall(re), Kind::Split)
        }
        "re.split" => {
            let re = regex(a.req_str("pattern").map_err(bad)?, a.flags().map_err(bad)?)?;
            if re.group_count() > 0 {
                return Err(bad(
                    "re.split with a capturing group puts the separators (or None) into the result; use (?:...)".into(),
                ));
            }
            let maxsplit = a.count("maxsplit").map_err(bad)?.unwrap_or(0);
            (Op::ReSplit { re, maxsplit }, Kind::Split)
        }
        "keep_if" | "drop_if" => {
            let tests = tests(a).map_err(bad)?;
            let op = if a.op == "keep_if" {
                Op::Keep(tests)
            } else {
                Op::Drop(tests)
            };
            (op, Kind::Filter)
        }
        "drop_stop_words" => (Op::StopWords(stop_words(a, res)?), Kind::Filter),
        "PorterStemmer.stem" => {
            let mode = match a.str("mode").map_err(bad)? {
                None => PorterMode::NltkExtensions,
                Some(m) => {
                    let m = m.strip_prefix("PorterStemmer.").unwrap_or(m);
                    PorterMode::from_python(m).ok_or_else(|| {
                        bad(format!(
                            "mode {m:?}: one of NLTK_EXTENSIONS (the default), MARTIN_EXTENSIONS, ORIGINAL_ALGORITHM"
                        ))
                    })?
                }
            };
            let to_lowercase = a.bool("to_lowercase", true).map_err(bad)?;
            (
                Op::Porter {
                    stemmer: PorterStemmer::new(mode),
                    to_lowercase,
                },
                Kind::Map,
            )
        }
        "SnowballStemmer.stem" => {
            let lang = a.str("language").map_err(bad)?.unwrap_or("english");
            if lang != "english" {
                return Err(bad(format!(
                    "SnowballStemmer({lang:?}): only \"english\" is reproduced"
                )));
            }
            let stop = if a.bool("ignore_stopwords", false).map_err(bad)? {
                Some(res.nltk_stop_words("english")?.as_ref().clone())
            } else {
                None
            };
            (Op::Snowball(Box::new(EnglishStemmer::new(stop))), Kind::Map)
        }
        "LancasterStemmer.stem" => {
            let strip = a.bool("strip_prefix_flag", false).map_err(bad)?;
            (Op::Lancaster(LancasterStemmer::new(strip)), Kind::Map)
        }
        "WordNetLemmatizer.lemmatize" => {
            let p = a.str("pos").map_err(bad)?.unwrap_or("n");
            let pos = Pos::from_python(p).ok_or_else(|| {
                bad(format!(
                    "pos {p:?}: one of \"n\", \"v\", \"a\", \"r\", \"s\""
                ))
            })?;
            (
                Op::Lemmatize {
                    wordnet: res.wordnet()?,
                    pos,
                },
                Kind::Map,
            )
        }
        "nltk.word_tokenize" => {
            let lang = a.str("language").map_err(bad)?.unwrap_or("english");
            let punkt = if a.bool("preserve_line", false).map_err(bad)? {
                None
            } else {
                Some(res.punkt(lang)?)
            };
            (Op::WordTokenize(punkt), Kind::Split)
        }
        "nltk.wordpunct_tokenize" => (Op::WordPunct, Kind::Split),
        "TweetTokenizer.tokenize" => {
            let t = TweetTokenizer::new(
                a.bool("preserve_case", true).map_err(bad)?,
                a.bool("reduce_len", false).map_err(bad)?,
                a.bool("strip_handles", false).map_err(bad)?,
                a.bool("match_phone_numbers", true).map_err(bad)?,
            )
            .map_err(|e| bad(e.to_string()))?;
            (Op::Tweet(Box::new(t)), Kind::Split)
        }
        "RegexpTokenizer.tokenize" => {
            let pattern = a.req_str("pattern").map_err(bad)?;
            let gaps = a.bool("gaps", false).map_err(bad)?;
            let discard_empty = a.bool("discard_empty", true).map_err(bad)?;
            let flags = match a.get("flags") {
                // NLTK's default: re.UNICODE | re.MULTILINE | re.DOTALL.
                None => PyFlags::from_bits(32 | 8 | 16).map_err(|e| bad(e.to_string()))?,
                Some(_) => a.flags().map_err(bad)?,
            };
            let t = RegexpTokenizer::new(pattern, gaps, discard_empty, flags)
                .map_err(|e| bad(format!("pattern {pattern:?}: {e}")))?;
            (Op::Regexp(Box::new(t)), Kind::Split)
        }
        other => {
            return Err(bad(format!(
                "unknown operation {other:?}; the operations are: {}",
                OPERATIONS.join(", ")
            )));
        }
    })
}

/// The tests of `keep_if` / `drop_if`: `min_len`, `max_len`, `test`.
fn tests(a: &Args<'_>) -> std::result::Result<Vec<Test>, String> {
    let mut out = Vec::new();
    if let Some(n) = a.count("min_len")? {
        out.push(Test::MinLen(n));
    }
    if let Some(n) = a.count("max_len")? {
        out.push(Test::MaxLen(n));
    }
    if let Some(t) = a.str("test")? {
        out.push(match t.strip_prefix("str.").unwrap_or(t) {
            "isalpha" => Test::IsAlpha,
            "isdigit" => Test::IsDigit,
            "isalnum" => Test::IsAlnum,
            "isnumeric" => Test::IsNumeric,
            other => {
                return Err(format!(
                    "test {other:?}: one of str.isalpha, str.isdigit, str.isalnum, str.isnumeric"
                ));
            }
        });
    }
    if out.is_empty() {
        return Err(format!(
            "{} needs a condition: min_len, max_len and/or test (e.g. test = \"str.isalpha\")",
            a.op
        ));
    }
    Ok(out)
}

/// `drop_stop_words`: the union of `list` (a named list), `words` (inline)
/// and `file` (one word per line, relative to the declaration's file).
fn stop_words(a: &Args<'_>, res: &Resources) -> Result<Arc<HashSet<String>>> {
    let bad = |m: String| EngineError::unsupported(m);
    let mut set = HashSet::new();
    let mut any = false;
    if let Some(name) = a.str("list").map_err(bad)? {
        any = true;
        match name {
            "sklearn.english" | "sklearn" | "ENGLISH_STOP_WORDS" => {
                set.extend(
                    falcon_text::english_stop_words()
                        .iter()
                        .map(|w| w.to_string()),
                );
            }
            n if n.starts_with("nltk.") => {
                set.extend(res.nltk_stop_words(&n["nltk.".len()..])?.iter().cloned());
            }
            other => {
                return Err(bad(format!(
                    "list {other:?}: \"sklearn.english\" (scikit-learn's ENGLISH_STOP_WORDS) or \"nltk.<language>\" (stopwords.words(\"<language>\") from your nltk_data)"
                )));
            }
        }
    }
    if let Some(v) = a.get("words") {
        any = true;
        let toml::Value::Array(items) = v else {
            return Err(bad("`words` must be a list of strings".into()));
        };
        for w in items {
            match w {
                toml::Value::String(s) => {
                    set.insert(s.clone());
                }
                other => return Err(bad(format!("`words` holds {other}, not a string"))),
            }
        }
    }
    if let Some(f) = a.str("file").map_err(bad)? {
        any = true;
        set.extend(res.word_file(Path::new(f))?);
    }
    if !any {
        return Err(bad(
            "drop_stop_words needs `list` (\"sklearn.english\" or \"nltk.english\"), `words` or `file`".into(),
        ));
    }
    Ok(Arc::new(set))
}

impl Op {
    fn apply(&self, v: TextValue) -> Result<TextValue> {
        Ok(match (self, v) {
            (Op::Keep(tests), TextValue::Tokens(mut t)) => {
                t.retain(|s| tests.iter().all(|x| x.holds(s)));
                TextValue::Tokens(t)
            }
            (Op::Drop(tests), TextValue::Tokens(mut t)) => {
                t.retain(|s| !tests.iter().all(|x| x.holds(s)));
                TextValue::Tokens(t)
            }
            (Op::StopWords(set), TextValue::Tokens(mut t)) => {
                t.retain(|s| !set.contains(s));
                TextValue::Tokens(t)
            }
            (Op::Join(sep), TextValue::Tokens(t)) => TextValue::Str(t.join(sep)),
            (op, TextValue::Str(s)) => match op.kind() {
                Kind::Map => TextValue::Str(op.map(&s)?),
                Kind::Split => {
                    let mut out = Vec::new();
                    op.split(&s, &mut out)?;
                    TextValue::Tokens(out)
                }
                // Refused at compile time (see `Kind::apply`).
                Kind::Filter | Kind::Join => TextValue::Str(s),
            },
            (op, TextValue::Tokens(t)) => match op.kind() {
                Kind::Map => TextValue::Tokens(t.iter().map(|s| op.map(s)).collect::<Result<_>>()?),
                Kind::Split => {
                    let mut out = Vec::with_capacity(t.len());
                    for s in &t {
                        op.split(s, &mut out)?;
                    }
                    TextValue::Tokens(out)
                }
                Kind::Filter | Kind::Join => TextValue::Tokens(t),
            },
        })
    }

    fn kind(&self) -> Kind {
        match self {
            Op::Lower
            | Op::Strip(_)
            | Op::Sub { .. }
            | Op::Porter { .. }
            | Op::Snowball(_)
            | Op::Lancaster(_)
            | Op::Lemmatize { .. } => Kind::Map,
            Op::Split { .. }
            | Op::Findall(_)
            | Op::ReSplit { .. }
            | Op::WordTokenize(_)
            | Op::WordPunct
            | Op::Tweet(_)
            | Op::Regexp(_) => Kind::Split,
            Op::Keep(_) | Op::Drop(_) | Op::StopWords(_) => Kind::Filter,
            Op::Join(_) => Kind::Join,
            // Only ever built for a string input (see `Program::compile`);
            // on one string it maps it to one string.
            Op::SplitJoin(_) => Kind::Map,
        }
    }

    /// A string → string operation on one string.
    fn map(&self, s: &str) -> Result<String> {
        Ok(match self {
            Op::Lower => {
                let mut out = String::with_capacity(s.len());
                falcon_text::py_lower(s, &mut out);
                out
            }
            Op::Strip(None) => s.trim_matches(falcon_text::is_space).to_string(),
            Op::Strip(Some(chars)) => s.trim_matches(|c| chars.contains(&c)).to_string(),
            Op::Sub { re, repl, count } => re.sub(repl, s, *count).map_err(EngineError::Text)?,
            Op::Porter {
                stemmer,
                to_lowercase,
            } => stemmer.stem(s, *to_lowercase),
            Op::Snowball(st) => st.stem(s),
            Op::Lancaster(st) => st.stem(s),
            Op::Lemmatize { wordnet, pos } => wordnet.lemmatize(s, *pos),
            Op::SplitJoin(sep) => {
                let mut out = String::with_capacity(s.len());
                for (i, w) in falcon_text::py_split_whitespace(s).enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    out.push_str(w);
                }
                out
            }
            _ => s.to_string(),
        })
    }

    /// A string → tokens operation on one string, appending to `out`.
    fn split(&self, s: &str, out: &mut Vec<String>) -> Result<()> {
        match self {
            Op::Split {
                sep: None,
                maxsplit,
            } => {
                py_split_whitespace_max(s, *maxsplit, |t| out.push(t.to_string()));
            }
            Op::Split {
                sep: Some(sep),
                maxsplit: None,
            } => out.extend(s.split(sep.as_str()).map(str::to_string)),
            Op::Split {
                sep: Some(sep),
                maxsplit: Some(m),
            } => out.extend(
                s.splitn(m.saturating_add(1), sep.as_str())
                    .map(str::to_string),
            ),
            Op::Findall(re) => re
                .findall(s, |t| out.push(t.to_string()))
                .map_err(EngineError::Text)?,
            Op::ReSplit { re, maxsplit } => {
                let parts = re.split(s, *maxsplit).map_err(EngineError::Text)?;
                // Groups are refused at compile time, so every part is Some.
                out.extend(parts.into_iter().map(|p| p.unwrap_or_default().to_string()));
            }
            Op::WordTokenize(punkt) => {
                let text_err = |e: falcon_text::TextError| EngineError::Text(e);
                match punkt {
                    None => out.extend(
                        falcon_text::nltk::tokenize::word_tokenize_preserve_line(s)
                            .map_err(text_err)?,
                    ),
                    Some(p) => {
                        let sentences = p
                            .sentences(s)
                            .map_err(|e| EngineError::unsupported(e.to_string()))?;
                        for sent in sentences {
                            out.extend(
                                falcon_text::nltk::tokenize::treebank_word_tokenize(sent)
                                    .map_err(text_err)?,
                            );
                        }
                    }
                }
            }
            Op::WordPunct => out.extend(
                falcon_text::nltk::tokenize::wordpunct_tokenize(s).map_err(EngineError::Text)?,
            ),
            Op::Tweet(t) => out.extend(t.tokenize(s).map_err(EngineError::Text)?),
            Op::Regexp(t) => out.extend(t.tokenize(s).map_err(EngineError::Text)?),
            _ => out.push(s.to_string()),
        }
        Ok(())
    }
}

/// `str.split(None, maxsplit)`: runs of whitespace separate, leading
/// whitespace is skipped, and after `maxsplit` splits the rest of the
/// string (trailing whitespace included) is the last item.
fn py_split_whitespace_max<'s>(s: &'s str, maxsplit: Option<usize>, mut f: impl FnMut(&'s str)) {
    let mut rest = s.trim_start_matches(falcon_text::is_space);
    let mut n = 0;
    while !rest.is_empty() {
        if maxsplit.is_some_and(|m| n >= m) {
            f(rest);
            return;
        }
        match rest.find(falcon_text::is_space) {
            Some(i) => {
                f(&rest[..i]);
                rest = rest[i..].trim_start_matches(falcon_text::is_space);
                n += 1;
            }
            None => {
                f(rest);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_ws(s: &str, m: Option<usize>) -> Vec<&str> {
        let mut v = Vec::new();
        py_split_whitespace_max(s, m, |t| v.push(t));
        v
    }

    #[test]
    fn split_then_join_is_fused_on_strings_only() {
        let res = Resources::default();
        let steps: toml::Value = toml::from_str::<toml::Table>(
            "s = [\"str.split\", { op = \"str.join\", sep = \"-\" }]",
        )
        .unwrap()["s"]
            .clone();
        let p = Program::compile("t", &steps, &res).unwrap();
        assert!(matches!(p.ops.as_slice(), [Op::SplitJoin(_)]));
        assert_eq!(p.string("  a\tb \u{3000} c ").unwrap(), "a-b-c");
        // After a tokenizer, split flat-maps tokens: not fused.
        let steps: toml::Value = toml::from_str::<toml::Table>(
            "s = [{ op = \"str.split\", sep = \",\" }, \"str.split\", { op = \"str.join\", sep = \"-\" }]",
        )
        .unwrap()["s"]
            .clone();
        let p = Program::compile("t", &steps, &res).unwrap();
        assert_eq!(p.ops.len(), 3);
        assert_eq!(p.string("a b,c").unwrap(), "a-b-c");
    }

    #[test]
    fn split_whitespace_with_maxsplit_matches_python() {
        // Python: '  a b  c  '.split() / .split(None, 1) / .split(None, 0)
        assert_eq!(split_ws("  a b  c  ", None), ["a", "b", "c"]);
        assert_eq!(split_ws("  a b  c  ", Some(1)), ["a", "b  c  "]);
        assert_eq!(split_ws("  a b  c  ", Some(0)), ["a b  c  "]);
        assert!(split_ws("   ", Some(0)).is_empty());
        assert!(split_ws("", None).is_empty());
        assert_eq!(split_ws("a\u{3000}b\x1cc", None), ["a", "b", "c"]);
    }
}
