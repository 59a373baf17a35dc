//! A parser for Python 3.11 `re` syntax (str patterns), mirroring `re/_parser.py`.
//!
//! The structure follows CPython's parser closely — same tokenizer (a backslash and the next
//! character form one token), same order of checks, same tree rewrites (common-prefix
//! factoring of alternations, single-character alternations turned into character sets,
//! unpacking of plain non-capturing groups) — because some of CPython's runtime behaviour
//! (notably IGNORECASE on astral characters) depends on the exact shape of the parsed tree.
//!
//! Flags are resolved while parsing and attached to every node whose meaning depends on them.
//! That is sound because Python 3.11 only accepts global inline flags at the very start of
//! the pattern.

use crate::TextError;

/// Python's `MAXREPEAT` (the repeat bound used for `*`, `+`, `{m,}`).
const MAXREPEAT: u64 = 4_294_967_295;
/// Maximum group nesting depth we accept (each level is two `nested` steps).
const MAX_NESTING: usize = 200;
/// Python's `MAXGROUPS` on 64-bit builds.
const MAXGROUPS: usize = 1_073_741_823;

/// Flags that change the meaning of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Flags {
    /// `re.IGNORECASE` / `(?i)`.
    pub ignorecase: bool,
    /// `re.ASCII` / `(?a)` (otherwise Unicode, the default for str patterns).
    pub ascii: bool,
    /// `re.MULTILINE` / `(?m)`.
    pub multiline: bool,
    /// `re.DOTALL` / `(?s)`.
    pub dotall: bool,
}

/// `\w \W \d \D \s \S`, and (`regex` module dialect only) `\p{..}` / `\P{..}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cat {
    Word,
    NotWord,
    Digit,
    NotDigit,
    Space,
    NotSpace,
    /// A general category of the `regex` module (index from [`super::mrab::prop_id`]), negated
    /// when the flag is set.
    Prop(u8, bool),
}

/// One member of a `[...]` set (Python's LITERAL / RANGE / CATEGORY set items).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClassItem {
    Lit(u32),
    Range(u32, u32),
    Cat(Cat),
}

/// Zero-width assertions (Python's AT codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum At {
    /// `^`
    Beginning,
    /// `\A`
    BeginningString,
    /// `$`
    End,
    /// `\Z`
    EndString,
    /// `\b`
    Boundary,
    /// `\B`
    NonBoundary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RepeatKind {
    Greedy,
    Lazy,
    Possessive,
}

/// A node of the parsed pattern; a "subpattern" is a `Vec<Node>` (concatenation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Lit(u32, Flags),
    NotLit(u32, Flags),
    In {
        items: Vec<ClassItem>,
        negate: bool,
        flags: Flags,
    },
    Any(Flags),
    At(At, Flags),
    Branch(Vec<Vec<Node>>),
    /// A capturing group.
    Group {
        index: usize,
        body: Vec<Node>,
    },
    /// A non-capturing group with scoped flags `(?i:...)` (flags already applied to leaves).
    Scoped(Vec<Node>),
    /// A plain `(?:...)` group; only exists while parsing (CPython unpacks these).
    Plain(Vec<Node>),
    Atomic(Vec<Node>),
    Repeat {
        min: u64,
        max: Option<u64>,
        kind: RepeatKind,
        body: Vec<Node>,
    },
    Assert {
        behind: bool,
        negate: bool,
        body: Vec<Node>,
    },
    GroupRef(usize, Flags),
}

impl Node {
    fn is_repeat(&self) -> bool {
        matches!(self, Node::Repeat { .. })
    }
}

/// Widths of the capturing groups, for back-references: the closed widths
/// of a finished parse, or the parser's table in which a still-open group
/// is `None` (read as `(0, None)`). Read in place: copying the table at
/// every group close made patterns of many groups quadratic to parse.
pub(crate) trait GroupWidths {
    fn group_width(&self, g: usize) -> (u64, Option<u64>);
}

impl GroupWidths for [(u64, Option<u64>)] {
    fn group_width(&self, g: usize) -> (u64, Option<u64>) {
        self.get(g).copied().unwrap_or((0, None))
    }
}

impl GroupWidths for [Option<(u64, Option<u64>)>] {
    fn group_width(&self, g: usize) -> (u64, Option<u64>) {
        self.get(g).copied().flatten().unwrap_or((0, None))
    }
}

/// Minimum and maximum width in code points (`None` = unbounded), like `SubPattern.getwidth`.
pub(crate) fn width<G: GroupWidths + ?Sized>(
    nodes: &[Node],
    group_widths: &G,
) -> (u64, Option<u64>) {
    let mut lo = 0u64;
    let mut hi = Some(0u64);
    for n in nodes {
        let (l, h) = node_width(n, group_widths);
        lo = lo.saturating_add(l);
        hi = match (hi, h) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            _ => None,
        };
    }
    (lo, hi)
}

fn node_width<G: GroupWidths + ?Sized>(n: &Node, gw: &G) -> (u64, Option<u64>) {
    match n {
        Node::Lit(..) | Node::NotLit(..) | Node::In { .. } | Node::Any(_) => (1, Some(1)),
        Node::At(..) | Node::Assert { .. } => (0, Some(0)),
        Node::Branch(items) => {
            let mut lo = u64::MAX;
            let mut hi = Some(0u64);
            for it in items {
                let (l, h) = width(it, gw);
                lo = lo.min(l);
                hi = match (hi, h) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            (if items.is_empty() { 0 } else { lo }, hi)
        }
        Node::Group { body, .. } | Node::Scoped(body) | Node::Plain(body) | Node::Atomic(body) => {
            width(body, gw)
        }
        Node::Repeat { min, max, body, .. } => {
            let (l, h) = width(body, gw);
            let hi = match (h, max) {
                (Some(0), _) => Some(0),
                (Some(h), Some(m)) => Some(h.saturating_mul(*m)),
                _ => None,
            };
            (l.saturating_mul(*min), hi)
        }
        Node::GroupRef(g, _) => gw.group_width(*g),
    }
}

/// The parsed pattern.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub nodes: Vec<Node>,
    /// Number of capturing groups.
    pub groups: usize,
    /// `(min, max)` width of each group (index 0 unused), for back-reference widths.
    pub group_widths: Vec<(u64, Option<u64>)>,
    /// Named groups (`(?P<name>...)`), sorted by name.
    pub group_names: Vec<(String, usize)>,
}

/// Flags given outside the pattern (`re.compile(pattern, flags)`) and the dialect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Init {
    pub ignorecase: bool,
    pub multiline: bool,
    pub dotall: bool,
    pub verbose: bool,
    pub ascii: bool,
    pub unicode: bool,
    /// Parse for the third-party `regex` module (VERSION0) instead of `re`: `\p{..}` is
    /// accepted, and constructs whose meaning differs are refused (see [`parse`]).
    pub regex_module: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Ch(char),
    /// A backslash followed by this character.
    Esc(char),
}

impl Tok {
    fn len(self) -> usize {
        match self {
            Tok::Ch(_) => 1,
            Tok::Esc(_) => 2,
        }
    }
    fn is(self, c: char) -> bool {
        self == Tok::Ch(c)
    }
    fn push_to(self, s: &mut String) {
        match self {
            Tok::Ch(c) => s.push(c),
            Tok::Esc(c) => {
                s.push('\\');
                s.push(c);
            }
        }
    }
}

struct Source<'p> {
    pattern: &'p str,
    chars: Vec<char>,
    index: usize,
    next: Option<Tok>,
}

type PResult<T> = Result<T, TextError>;

impl<'p> Source<'p> {
    fn new(pattern: &'p str) -> PResult<Self> {
        let mut s = Source {
            pattern,
            chars: pattern.chars().collect(),
            index: 0,
            next: None,
        };
        s.advance()?;
        Ok(s)
    }

    fn advance(&mut self) -> PResult<()> {
        let Some(&c) = self.chars.get(self.index) else {
            self.next = None;
            return Ok(());
        };
        if c == '\\' {
            match self.chars.get(self.index + 1) {
                Some(&e) => {
                    self.next = Some(Tok::Esc(e));
                    self.index += 2;
                }
                None => {
                    return Err(TextError::Syntax {
                        pattern: self.pattern.to_string(),
                        pos: self.chars.len() - 1,
                        msg: "bad escape (end of pattern)".into(),
                    });
                }
            }
        } else {
            self.next = Some(Tok::Ch(c));
            self.index += 1;
        }
        Ok(())
    }

    fn get(&mut self) -> PResult<Option<Tok>> {
        let t = self.next;
        self.advance()?;
        Ok(t)
    }

    fn matches(&mut self, c: char) -> PResult<bool> {
        if self.next == Some(Tok::Ch(c)) {
            self.advance()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn next_is(&self, pred: impl Fn(char) -> bool) -> bool {
        matches!(self.next, Some(Tok::Ch(c)) if pred(c))
    }

    fn getwhile(&mut self, n: usize, pred: impl Fn(char) -> bool) -> PResult<String> {
        let mut out = String::new();
        for _ in 0..n {
            match self.next {
                Some(Tok::Ch(c)) if pred(c) => {
                    out.push(c);
                    self.advance()?;
                }
                _ => break,
            }
        }
        Ok(out)
    }

    fn getuntil(&mut self, terminator: char, name: &str) -> PResult<String> {
        let mut result = String::new();
        loop {
            let c = self.next;
            self.advance()?;
            match c {
                None => {
                    return Err(if result.is_empty() {
                        self.error(format!("missing {name}"), 0)
                    } else {
                        let n = result.chars().count();
                        self.error(format!("missing {terminator}, unterminated name"), n)
                    });
                }
                Some(t) if t.is(terminator) => {
                    if result.is_empty() {
                        return Err(self.error(format!("missing {name}"), 1));
                    }
                    break;
                }
                Some(t) => t.push_to(&mut result),
            }
        }
        Ok(result)
    }

    fn tell(&self) -> usize {
        self.index - self.next.map_or(0, Tok::len)
    }

    fn seek(&mut self, index: usize) -> PResult<()> {
        self.index = index;
        self.advance()
    }

    fn error(&self, msg: impl Into<String>, offset: usize) -> TextError {
        TextError::Syntax {
            pattern: self.pattern.to_string(),
            pos: self.tell().saturating_sub(offset),
            msg: msg.into(),
        }
    }

    fn unsupported(&self, construct: impl Into<String>, offset: usize) -> TextError {
        TextError::Unsupported {
            pattern: self.pattern.to_string(),
            pos: self.tell().saturating_sub(offset),
            construct: construct.into(),
        }
    }
}

struct State {
    /// Global flags seen so far (`(?i)` etc. at the start of the pattern).
    global: Flags,
    global_unicode: bool,
    global_verbose: bool,
    /// Widths of groups; `None` while a group is still open. Index 0 is the whole match.
    group_widths: Vec<Option<(u64, Option<u64>)>>,
    /// Name → group number (a map: looked up once per group).
    group_names: std::collections::HashMap<String, usize>,
    lookbehind_groups: Option<usize>,
    in_lookbehind: bool,
    /// Parsing for the `regex` module dialect.
    regex_module: bool,
}

impl State {
    fn groups(&self) -> usize {
        self.group_widths.len()
    }
    fn check_group(&self, gid: usize) -> bool {
        gid < self.groups() && self.group_widths[gid].is_some()
    }
    fn closed_widths(&self) -> Vec<(u64, Option<u64>)> {
        self.group_widths
            .iter()
            .map(|w| w.unwrap_or((0, None)))
            .collect()
    }
}

const WHITESPACE: &[char] = &[' ', '\t', '\n', '\r', '\x0b', '\x0c'];
const SPECIAL_CHARS: &str = ".\\[{()*+?^$|";

/// Parses a Python `re` pattern as `re.compile(pattern, flags)` would.
///
/// With `init.regex_module` the pattern is read as the `regex` module (VERSION0) reads it.
/// That module accepts a superset of `re`'s syntax; the extra syntax is refused (a pattern
/// `re` rejects becomes [`TextError::Unsupported`], not [`TextError::Syntax`], since `regex`
/// may accept it), except `\p{..}` / `\P{..}` general categories, which are reproduced.
/// Syntax both accept but read differently is refused too: POSIX classes `[[:alpha:]]`
/// (a set of `[:alph` plus `]` for `re`) and, in VERBOSE mode, whitespace other than
/// `re`'s six ASCII characters (`regex` skips all `str.isspace()` characters).
pub(crate) fn parse(pattern: &str, init: Init) -> PResult<Parsed> {
    let r = parse_inner(pattern, init);
    match r {
        Err(TextError::Syntax { pattern, pos, msg }) if init.regex_module => {
            Err(TextError::Unsupported {
                pattern,
                pos,
                construct: format!(
                    "{msg} (CPython's re rejects this; the regex module's extended syntax is \
                     not reproduced)"
                ),
            })
        }
        other => other,
    }
}

fn parse_inner(pattern: &str, init: Init) -> PResult<Parsed> {
    let mut source = Source::new(pattern)?;
    let mut state = State {
        global: Flags {
            ignorecase: init.ignorecase,
            ascii: init.ascii,
            multiline: init.multiline,
            dotall: init.dotall,
        },
        global_unicode: init.unicode,
        global_verbose: init.verbose,
        group_widths: vec![Some((0, None))],
        group_names: std::collections::HashMap::new(),
        lookbehind_groups: None,
        in_lookbehind: false,
        regex_module: init.regex_module,
    };
    let verbose = init.verbose;
    let nodes = parse_sub(&mut source, &mut state, verbose, 0, Scope::default())?;
    if state.global.ascii && state.global_unicode {
        return Err(TextError::Syntax {
            pattern: pattern.to_string(),
            pos: 0,
            msg: "ASCII and UNICODE flags are incompatible".into(),
        });
    }
    if source.next.is_some() {
        return Err(source.error("unbalanced parenthesis", 0));
    }
    let group_widths = state.closed_widths();
    let mut group_names: Vec<(String, usize)> = state.group_names.into_iter().collect();
    group_names.sort();
    Ok(Parsed {
        nodes,
        groups: state.group_widths.len() - 1,
        group_widths,
        group_names,
    })
}

/// `_parse_sub`: an alternation `a|b|c`.
fn parse_sub(
    source: &mut Source<'_>,
    state: &mut State,
    mut verbose: bool,
    nested: usize,
    scoped: Scope,
) -> PResult<Vec<Node>> {
    if nested > MAX_NESTING {
        // CPython's recursive parser would hit RecursionError far later; we stop early so
        // that our own recursion (parse, width, translation) stays shallow.
        return Err(source.unsupported("groups nested more than 100 levels deep", 0));
    }
    let mut items: Vec<Vec<Node>> = Vec::new();
    loop {
        let first = nested == 0 && items.is_empty();
        items.push(parse_seq(
            source,
            state,
            verbose,
            nested + 1,
            first,
            scoped,
        )?);
        if !source.matches('|')? {
            break;
        }
        if nested == 0 {
            verbose = state.global_verbose;
        }
    }
    if items.len() == 1 {
        return Ok(items.pop().unwrap_or_default());
    }
    let mut subpattern = Vec::new();
    // Common prefix factoring.
    loop {
        let mut prefix: Option<&Node> = None;
        let mut all = true;
        for item in &items {
            match (item.first(), prefix) {
                (None, _) => {
                    all = false;
                    break;
                }
                (Some(f), None) => prefix = Some(f),
                (Some(f), Some(p)) if f != p => {
                    all = false;
                    break;
                }
                _ => {}
            }
        }
        if !all {
            break;
        }
        let p = items[0][0].clone();
        for item in &mut items {
            item.remove(0);
        }
        subpattern.push(p);
    }
    // Single-character alternatives become one set.
    let mut set: Vec<ClassItem> = Vec::new();
    let mut set_flags = None;
    let mut ok = true;
    for item in &items {
        if item.len() != 1 {
            ok = false;
            break;
        }
        match &item[0] {
            Node::Lit(c, f) => {
                set.push(ClassItem::Lit(*c));
                set_flags = Some(*f);
            }
            Node::In {
                items: its,
                negate: false,
                flags,
            } => {
                set.extend(its.iter().copied());
                set_flags = Some(*flags);
            }
            _ => {
                ok = false;
                break;
            }
        }
    }
    if ok && let Some(flags) = set_flags {
        subpattern.push(Node::In {
            items: uniq(set),
            negate: false,
            flags,
        });
        return Ok(subpattern);
    }
    subpattern.push(Node::Branch(items));
    Ok(subpattern)
}

fn uniq(items: Vec<ClassItem>) -> Vec<ClassItem> {
    let mut out: Vec<ClassItem> = Vec::with_capacity(items.len());
    for it in items {
        if !out.contains(&it) {
            out.push(it);
        }
    }
    out
}

/// The flags in force: CPython's `_combine_flags` chain starting from the global flags (which
/// Python 3.11 only accepts at the start, so they are final by the time any node is parsed).
fn effective(state: &State, scope: Scope) -> Flags {
    let g = state.global;
    Flags {
        ignorecase: scope.i.unwrap_or(g.ignorecase),
        ascii: scope.ascii.unwrap_or(g.ascii),
        multiline: scope.m.unwrap_or(g.multiline),
        dotall: scope.s.unwrap_or(g.dotall),
    }
}

/// Flags set by enclosing `(?flags:...)` groups; `None` inherits the global flags.
#[derive(Clone, Copy, Debug, Default)]
struct Scope {
    i: Option<bool>,
    m: Option<bool>,
    s: Option<bool>,
    ascii: Option<bool>,
}

/// Scoped flag changes of a `(?aiLmsux-imsx:...)` group.
#[derive(Default, Clone, Copy)]
struct FlagSet {
    i: bool,
    m: bool,
    s: bool,
    x: bool,
    a: bool,
    u: bool,
}

/// `_parse`: a sequence of items up to `|`, `)` or the end.
fn parse_seq(
    source: &mut Source<'_>,
    state: &mut State,
    mut verbose: bool,
    nested: usize,
    first: bool,
    scoped: Scope,
) -> PResult<Vec<Node>> {
    let mut subpattern: Vec<Node> = Vec::new();
    while let Some(this) = source.next {
        if this.is('|') || this.is(')') {
            break;
        }
        source.get()?;
        if verbose {
            if let Tok::Ch(c) = this
                && WHITESPACE.contains(&c)
            {
                continue;
            }
            if let Tok::Ch(c) = this
                && state.regex_module
                && super::mrab::verbose_skips(c)
            {
                return Err(source.unsupported(
                    format!(
                        "VERBOSE whitespace {c:?} (the regex module skips it, re reads it as \
                         a literal)"
                    ),
                    1,
                ));
            }
            if this.is('#') {
                loop {
                    match source.get()? {
                        None => break,
                        Some(t) if t.is('\n') => break,
                        _ => {}
                    }
                }
                continue;
            }
        }
        let flags = effective(state, scoped);
        let c = match this {
            Tok::Esc(e) => {
                if state.regex_module && matches!(e, 'p' | 'P') {
                    let cat = property_escape(source, e)?;
                    subpattern.push(Node::In {
                        items: vec![ClassItem::Cat(cat)],
                        negate: false,
                        flags,
                    });
                    continue;
                }
                subpattern.push(escape(source, state, e, flags)?);
                continue;
            }
            Tok::Ch(c) => c,
        };
        if !SPECIAL_CHARS.contains(c) {
            subpattern.push(Node::Lit(c as u32, flags));
        } else if c == '[' {
            subpattern.push(parse_class(source, flags, state.regex_module)?);
        } else if matches!(c, '*' | '+' | '?' | '{') {
            let here = source.tell();
            let (min, max) = match c {
                '?' => (0, Some(1)),
                '*' => (0, None),
                '+' => (1, None),
                _ => {
                    if source.next == Some(Tok::Ch('}')) {
                        subpattern.push(Node::Lit('{' as u32, flags));
                        continue;
                    }
                    let lo = source.getwhile(usize::MAX, |c| c.is_ascii_digit())?;
                    let hi = if source.matches(',')? {
                        source.getwhile(usize::MAX, |c| c.is_ascii_digit())?
                    } else {
                        lo.clone()
                    };
                    if !source.matches('}')? {
                        subpattern.push(Node::Lit('{' as u32, flags));
                        source.seek(here)?;
                        continue;
                    }
                    let parse_num = |s: &str| -> PResult<u64> {
                        match s.parse::<u64>() {
                            Ok(v) if v < MAXREPEAT => Ok(v),
                            _ => Err(source.error("the repetition number is too large", 0)),
                        }
                    };
                    let min = if lo.is_empty() { 0 } else { parse_num(&lo)? };
                    let max = if hi.is_empty() {
                        None
                    } else {
                        let m = parse_num(&hi)?;
                        if m < min {
                            return Err(source.error(
                                "min repeat greater than max repeat",
                                source.tell() - here,
                            ));
                        }
                        Some(m)
                    };
                    (min, max)
                }
            };
            let offset = source.tell() - here + 1;
            let item = match subpattern.pop() {
                None | Some(Node::At(..)) => {
                    return Err(source.error("nothing to repeat", offset));
                }
                Some(n) if n.is_repeat() => {
                    return Err(source.error("multiple repeat", offset));
                }
                Some(Node::Plain(body)) => body,
                Some(n) => vec![n],
            };
            let kind = if source.matches('?')? {
                RepeatKind::Lazy
            } else if source.matches('+')? {
                RepeatKind::Possessive
            } else {
                RepeatKind::Greedy
            };
            subpattern.push(Node::Repeat {
                min,
                max,
                kind,
                body: item,
            });
        } else if c == '.' {
            subpattern.push(Node::Any(flags));
        } else if c == '(' {
            let start = source.tell() - 1;
            let mut capture = true;
            let mut atomic = false;
            let mut name: Option<String> = None;
            let mut add = FlagSet::default();
            let mut del = FlagSet::default();
            if source.matches('?')? {
                let Some(ch) = source.get()? else {
                    return Err(source.error("unexpected end of pattern", 0));
                };
                match ch {
                    Tok::Ch('P') => {
                        if source.matches('<')? {
                            let n = source.getuntil('>', "group name")?;
                            check_group_name(source, &n)?;
                            name = Some(n);
                        } else if source.matches('=')? {
                            let n = source.getuntil(')', "group name")?;
                            check_group_name(source, &n)?;
                            let len = n.chars().count() + 1;
                            let Some(&gid) = state.group_names.get(&n) else {
                                return Err(source.error(format!("unknown group name {n:?}"), len));
                            };
                            if !state.check_group(gid) {
                                return Err(source.error("cannot refer to an open group", len));
                            }
                            check_lookbehind_group(source, state, gid)?;
                            subpattern.push(Node::GroupRef(gid, flags));
                            continue;
                        } else {
                            let Some(ch) = source.get()? else {
                                return Err(source.error("unexpected end of pattern", 0));
                            };
                            let mut s = String::from("unknown extension ?P");
                            ch.push_to(&mut s);
                            return Err(source.error(s, ch.len() + 2));
                        }
                    }
                    Tok::Ch(':') => capture = false,
                    Tok::Ch('#') => {
                        loop {
                            if source.next.is_none() {
                                return Err(source.error(
                                    "missing ), unterminated comment",
                                    source.tell() - start,
                                ));
                            }
                            if source.get()? == Some(Tok::Ch(')')) {
                                break;
                            }
                        }
                        continue;
                    }
                    Tok::Ch(d @ ('=' | '!' | '<')) => {
                        let mut behind = false;
                        let mut kind = d;
                        if d == '<' {
                            let Some(k) = source.get()? else {
                                return Err(source.error("unexpected end of pattern", 0));
                            };
                            match k {
                                Tok::Ch(k @ ('=' | '!')) => kind = k,
                                other => {
                                    let mut s = String::from("unknown extension ?<");
                                    other.push_to(&mut s);
                                    return Err(source.error(s, other.len() + 2));
                                }
                            }
                            behind = true;
                        }
                        let saved_lb = state.lookbehind_groups;
                        let saved_in = state.in_lookbehind;
                        if behind {
                            if state.lookbehind_groups.is_none() {
                                state.lookbehind_groups = Some(state.groups());
                            }
                            state.in_lookbehind = true;
                        }
                        let p = parse_sub(source, state, verbose, nested + 1, scoped)?;
                        if behind {
                            state.lookbehind_groups = saved_lb;
                            state.in_lookbehind = saved_in;
                        }
                        if !source.matches(')')? {
                            return Err(source.error(
                                "missing ), unterminated subpattern",
                                source.tell() - start,
                            ));
                        }
                        if behind {
                            let (lo, hi) = width(&p, state.group_widths.as_slice());
                            if Some(lo) != hi {
                                return Err(TextError::Syntax {
                                    pattern: source.pattern.to_string(),
                                    pos: start,
                                    msg: "look-behind requires fixed-width pattern".into(),
                                });
                            }
                        }
                        subpattern.push(Node::Assert {
                            behind,
                            negate: kind == '!',
                            body: p,
                        });
                        continue;
                    }
                    Tok::Ch('(') => {
                        return Err(source.unsupported(
                            "conditional group (?(id/name)yes|no)",
                            source.tell() - start,
                        ));
                    }
                    Tok::Ch('>') => {
                        capture = false;
                        atomic = true;
                    }
                    Tok::Ch(f) if is_flag(f) || f == '-' => {
                        match parse_flags(source, f)? {
                            (a, _, true) => {
                                // Global flags.
                                if !first || !subpattern.is_empty() {
                                    return Err(source.error(
                                        "global flags not at the start of the expression",
                                        source.tell() - start,
                                    ));
                                }
                                state.global.ignorecase |= a.i;
                                state.global.multiline |= a.m;
                                state.global.dotall |= a.s;
                                state.global_verbose |= a.x;
                                state.global.ascii |= a.a;
                                state.global_unicode |= a.u;
                                verbose = state.global_verbose;
                                continue;
                            }
                            (a, d, false) => {
                                add = a;
                                del = d;
                                capture = false;
                            }
                        }
                    }
                    other => {
                        let mut s = String::from("unknown extension ?");
                        other.push_to(&mut s);
                        return Err(source.error(s, other.len() + 1));
                    }
                }
            }
            let group = if capture {
                if state.groups() > MAXGROUPS {
                    return Err(source.error("too many groups", 0));
                }
                let gid = state.groups();
                if let Some(n) = &name {
                    if state.group_names.contains_key(n) {
                        return Err(source.error(
                            format!("redefinition of group name {n:?} as group {gid}"),
                            n.chars().count() + 1,
                        ));
                    }
                    state.group_names.insert(n.clone(), gid);
                }
                state.group_widths.push(None);
                Some(gid)
            } else {
                None
            };
            let sub_verbose = (verbose || add.x) && !del.x;
            let inner = combine(scoped, add, del);
            let p = parse_sub(source, state, sub_verbose, nested + 1, inner)?;
            if !source.matches(')')? {
                return Err(
                    source.error("missing ), unterminated subpattern", source.tell() - start)
                );
            }
            let has_flags = add.i || add.m || add.s || add.x || add.a || add.u;
            let has_del = del.i || del.m || del.s || del.x;
            if let Some(g) = group {
                let w = width(&p, state.group_widths.as_slice());
                state.group_widths[g] = Some(w);
                subpattern.push(Node::Group { index: g, body: p });
            } else if atomic {
                subpattern.push(Node::Atomic(p));
            } else if has_flags || has_del {
                subpattern.push(Node::Scoped(p));
            } else {
                // Unpacked at the end of this sequence, like CPython does; kept whole until
                // then so that a following quantifier applies to the whole group.
                subpattern.push(Node::Plain(p));
            }
        } else if c == '^' {
            subpattern.push(Node::At(At::Beginning, flags));
        } else if c == '$' {
            subpattern.push(Node::At(At::End, flags));
        } else {
            return Err(source.error(format!("unsupported special character {c:?}"), 1));
        }
    }
    // Unpack plain non-capturing groups.
    let mut out = Vec::with_capacity(subpattern.len());
    for n in subpattern {
        match n {
            Node::Plain(body) => out.extend(body),
            other => out.push(other),
        }
    }
    Ok(out)
}

/// CPython's `_combine_flags` for a `(?flags-flags:...)` group.
fn combine(mut scope: Scope, add: FlagSet, del: FlagSet) -> Scope {
    if add.a {
        scope.ascii = Some(true);
    }
    if add.u {
        scope.ascii = Some(false);
    }
    for (slot, a, d) in [
        (&mut scope.i, add.i, del.i),
        (&mut scope.m, add.m, del.m),
        (&mut scope.s, add.s, del.s),
    ] {
        if a {
            *slot = Some(true);
        }
        if d {
            *slot = Some(false);
        }
    }
    scope
}

fn is_flag(c: char) -> bool {
    matches!(c, 'i' | 'L' | 'm' | 's' | 'x' | 'a' | 't' | 'u')
}

fn set_flag(f: &mut FlagSet, c: char) {
    match c {
        'i' => f.i = true,
        'm' => f.m = true,
        's' => f.s = true,
        'x' => f.x = true,
        'a' => f.a = true,
        'u' => f.u = true,
        _ => {}
    }
}

/// `_parse_flags`: returns the added and removed flags and whether they were global `(?...)`.
fn parse_flags(source: &mut Source<'_>, first: char) -> PResult<(FlagSet, FlagSet, bool)> {
    let mut add = FlagSet::default();
    let mut del = FlagSet::default();
    let mut ch = Tok::Ch(first);
    if first != '-' {
        loop {
            let Tok::Ch(c) = ch else { unreachable_flag()? };
            if c == 'L' {
                return Err(source.error(
                    "bad inline flags: cannot use 'L' flag with a str pattern",
                    0,
                ));
            }
            if c == 't' {
                return Err(source.unsupported("TEMPLATE flag (?t)", 0));
            }
            set_flag(&mut add, c);
            if add.a && add.u {
                return Err(source.error(
                    "bad inline flags: flags 'a', 'u' and 'L' are incompatible",
                    0,
                ));
            }
            match source.get()? {
                None => return Err(source.error("missing -, : or )", 0)),
                Some(t @ Tok::Ch(')' | '-' | ':')) => {
                    ch = t;
                    break;
                }
                Some(Tok::Ch(c)) if is_flag(c) => ch = Tok::Ch(c),
                Some(t) => {
                    let alpha = matches!(t, Tok::Ch(c) if c.is_alphabetic());
                    let msg = if alpha {
                        "unknown flag"
                    } else {
                        "missing -, : or )"
                    };
                    return Err(source.error(msg, t.len()));
                }
            }
        }
    }
    if ch.is(')') {
        return Ok((add, del, true));
    }
    if ch.is('-') {
        let mut c = match source.get()? {
            None => return Err(source.error("missing flag", 0)),
            Some(Tok::Ch(c)) if is_flag(c) => c,
            Some(t) => {
                let alpha = matches!(t, Tok::Ch(c) if c.is_alphabetic());
                let msg = if alpha {
                    "unknown flag"
                } else {
                    "missing flag"
                };
                return Err(source.error(msg, t.len()));
            }
        };
        loop {
            if matches!(c, 'a' | 'u' | 'L') {
                return Err(source.error(
                    "bad inline flags: cannot turn off flags 'a', 'u' and 'L'",
                    0,
                ));
            }
            if c == 't' {
                return Err(source.unsupported("TEMPLATE flag (?t)", 0));
            }
            set_flag(&mut del, c);
            match source.get()? {
                None => return Err(source.error("missing :", 0)),
                Some(Tok::Ch(':')) => break,
                Some(Tok::Ch(n)) if is_flag(n) => c = n,
                Some(t) => {
                    let alpha = matches!(t, Tok::Ch(c) if c.is_alphabetic());
                    let msg = if alpha { "unknown flag" } else { "missing :" };
                    return Err(source.error(msg, t.len()));
                }
            }
        }
    }
    if (add.i && del.i) || (add.m && del.m) || (add.s && del.s) || (add.x && del.x) {
        return Err(source.error("bad inline flags: flag turned on and off", 1));
    }
    Ok((add, del, false))
}

fn unreachable_flag<T>() -> PResult<T> {
    Err(TextError::Unsupported {
        pattern: String::new(),
        pos: 0,
        construct: "internal flag parser state".into(),
    })
}

fn check_group_name(source: &Source<'_>, name: &str) -> PResult<()> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    };
    if ok {
        return Ok(());
    }
    if name.is_ascii() {
        return Err(source.error(
            format!("bad character in group name {name:?}"),
            name.chars().count() + 1,
        ));
    }
    // Python accepts any `str.isidentifier()` name; we only implement the ASCII rule.
    Err(source.unsupported(
        format!("non-ASCII group name {name:?}"),
        name.chars().count() + 1,
    ))
}

fn check_lookbehind_group(source: &Source<'_>, state: &State, gid: usize) -> PResult<()> {
    if let Some(lb) = state.lookbehind_groups {
        if !state.check_group(gid) {
            return Err(source.error("cannot refer to an open group", 0));
        }
        if gid >= lb {
            return Err(source.error(
                "cannot refer to group defined in the same lookbehind subpattern",
                0,
            ));
        }
    }
    if state.in_lookbehind {
        return Err(source.unsupported("group reference inside a look-behind", 0));
    }
    Ok(())
}

fn hex_value(s: &str) -> u32 {
    u32::from_str_radix(s, 16).unwrap_or(0)
}

fn cat_for(e: char) -> Option<Cat> {
    Some(match e {
        'w' => Cat::Word,
        'W' => Cat::NotWord,
        'd' => Cat::Digit,
        'D' => Cat::NotDigit,
        's' => Cat::Space,
        'S' => Cat::NotSpace,
        _ => return None,
    })
}

fn simple_escape(e: char) -> Option<u32> {
    Some(match e {
        'a' => 7,
        'f' => 0x0c,
        'n' => 0x0a,
        'r' => 0x0d,
        't' => 0x09,
        'v' => 0x0b,
        '\\' => '\\' as u32,
        _ => return None,
    })
}

/// `\x`, `\u`, `\U`, `\N` — common to both escape contexts. Returns `Ok(None)` if `e` is none
/// of these.
fn code_escape(source: &mut Source<'_>, e: char) -> PResult<Option<u32>> {
    let (n, name) = match e {
        'x' => (2, "x"),
        'u' => (4, "u"),
        'U' => (8, "U"),
        'N' => {
            return Err(source.unsupported("named Unicode escape \\N{...}", 2));
        }
        _ => return Ok(None),
    };
    let digits = source.getwhile(n, |c| c.is_ascii_hexdigit())?;
    if digits.len() != n {
        return Err(source.error(
            format!("incomplete escape \\{name}{digits}"),
            digits.len() + 2,
        ));
    }
    let v = hex_value(&digits);
    if v > 0x10FFFF {
        return Err(source.error(format!("bad escape \\{name}{digits}"), n + 2));
    }
    Ok(Some(v))
}

/// `_escape`: an escape outside a set.
fn escape(source: &mut Source<'_>, state: &State, e: char, flags: Flags) -> PResult<Node> {
    match e {
        'A' => return Ok(Node::At(At::BeginningString, flags)),
        'Z' => return Ok(Node::At(At::EndString, flags)),
        'b' => return Ok(Node::At(At::Boundary, flags)),
        'B' => return Ok(Node::At(At::NonBoundary, flags)),
        _ => {}
    }
    if let Some(cat) = cat_for(e) {
        return Ok(Node::In {
            items: vec![ClassItem::Cat(cat)],
            negate: false,
            flags,
        });
    }
    if let Some(v) = simple_escape(e) {
        return Ok(Node::Lit(v, flags));
    }
    if let Some(v) = code_escape(source, e)? {
        return Ok(Node::Lit(v, flags));
    }
    if e == '0' {
        let d = source.getwhile(2, |c| ('0'..='7').contains(&c))?;
        let v = u32::from_str_radix(&format!("0{d}"), 8).unwrap_or(0);
        return Ok(Node::Lit(v, flags));
    }
    if e.is_ascii_digit() {
        let mut esc = String::from(e);
        if source.next_is(|c| c.is_ascii_digit()) {
            if let Some(Tok::Ch(c)) = source.get()? {
                esc.push(c);
            }
            let b: Vec<char> = esc.chars().collect();
            if b[0] <= '7' && b[1] <= '7' && source.next_is(|c| ('0'..='7').contains(&c)) {
                if let Some(Tok::Ch(c)) = source.get()? {
                    esc.push(c);
                }
                let v = u32::from_str_radix(&esc, 8).unwrap_or(0);
                if v > 0o377 {
                    return Err(source.error(
                        format!("octal escape value \\{esc} outside of range 0-0o377"),
                        esc.len() + 1,
                    ));
                }
                return Ok(Node::Lit(v, flags));
            }
        }
        let group: usize = esc.parse().unwrap_or(0);
        if group < state.groups() {
            if !state.check_group(group) {
                return Err(source.error("cannot refer to an open group", esc.len() + 1));
            }
            check_lookbehind_group(source, state, group)?;
            return Ok(Node::GroupRef(group, flags));
        }
        return Err(source.error(format!("invalid group reference {group}"), esc.len()));
    }
    if e.is_ascii_alphabetic() {
        return Err(source.error(format!("bad escape \\{e}"), 2));
    }
    Ok(Node::Lit(e as u32, flags))
}

/// `\p{Name}`, `\p{^Name}`, `\pN`, `\P{..}` of the `regex` module, for the general
/// categories by their short names (`L`, `Lu`, `N`, `Nd`, `LC`, ...). Other properties
/// (scripts, blocks, binary properties, long or loose names) are refused.
fn property_escape(source: &mut Source<'_>, e: char) -> PResult<Cat> {
    let start = source.tell();
    let name = if source.matches('{')? {
        let mut name = String::new();
        loop {
            match source.get()? {
                None => return Err(source.error("missing }", source.tell() - start + 2)),
                Some(Tok::Ch('}')) => break,
                Some(t) => t.push_to(&mut name),
            }
            if name.len() > 64 {
                return Err(source.unsupported("over-long property name", 0));
            }
        }
        name
    } else {
        match source.get()? {
            Some(Tok::Ch(c)) => c.to_string(),
            _ => return Err(source.error("missing property name", 0)),
        }
    };
    let (negated, bare) = match name.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, name.as_str()),
    };
    let Some(id) = super::mrab::prop_id(bare) else {
        return Err(source.unsupported(
            format!(
                "Unicode property \\{e}{{{name}}} (only general categories by their short \
                 names, such as L, Lu, N, Nd, are reproduced)"
            ),
            source.tell() - start + 2,
        ));
    };
    Ok(Cat::Prop(id, negated != (e == 'P')))
}

/// What a set member parsed to: a literal or a category.
enum SetCode {
    Lit(u32),
    Cat(Cat),
}

/// `_class_escape`: an escape inside `[...]`.
fn class_escape(source: &mut Source<'_>, e: char) -> PResult<SetCode> {
    if e == 'b' {
        return Ok(SetCode::Lit(8));
    }
    if let Some(v) = simple_escape(e) {
        return Ok(SetCode::Lit(v));
    }
    if let Some(cat) = cat_for(e) {
        return Ok(SetCode::Cat(cat));
    }
    if let Some(v) = code_escape(source, e)? {
        return Ok(SetCode::Lit(v));
    }
    if ('0'..='7').contains(&e) {
        let d = source.getwhile(2, |c| ('0'..='7').contains(&c))?;
        let esc = format!("{e}{d}");
        let v = u32::from_str_radix(&esc, 8).unwrap_or(0);
        if v > 0o377 {
            return Err(source.error(
                format!("octal escape value \\{esc} outside of range 0-0o377"),
                esc.len() + 1,
            ));
        }
        return Ok(SetCode::Lit(v));
    }
    if e.is_ascii_alphanumeric() {
        return Err(source.error(format!("bad escape \\{e}"), 2));
    }
    Ok(SetCode::Lit(e as u32))
}

fn parse_class(source: &mut Source<'_>, flags: Flags, regex_module: bool) -> PResult<Node> {
    let here = source.tell() - 1;
    let mut set: Vec<ClassItem> = Vec::new();
    let negate = source.matches('^')?;
    loop {
        let Some(this) = source.get()? else {
            return Err(source.error("unterminated character set", source.tell() - here));
        };
        if this.is(']') && !set.is_empty() {
            break;
        }
        if regex_module && this.is('[') && source.next == Some(Tok::Ch(':')) {
            return Err(source.unsupported(
                "POSIX class [[:name:]] (the regex module reads it as a class, re as \
                 literal characters)",
                1,
            ));
        }
        let code1 = match this {
            Tok::Esc(e @ ('p' | 'P')) if regex_module => SetCode::Cat(property_escape(source, e)?),
            Tok::Esc(e) => class_escape(source, e)?,
            Tok::Ch(c) => SetCode::Lit(c as u32),
        };
        if source.matches('-')? {
            let Some(that) = source.get()? else {
                return Err(source.error("unterminated character set", source.tell() - here));
            };
            if that.is(']') {
                set.push(match code1 {
                    SetCode::Lit(v) => ClassItem::Lit(v),
                    SetCode::Cat(c) => ClassItem::Cat(c),
                });
                set.push(ClassItem::Lit('-' as u32));
                break;
            }
            let code2 = match that {
                Tok::Esc(e @ ('p' | 'P')) if regex_module => {
                    SetCode::Cat(property_escape(source, e)?)
                }
                Tok::Esc(e) => class_escape(source, e)?,
                Tok::Ch(c) => SetCode::Lit(c as u32),
            };
            let (SetCode::Lit(lo), SetCode::Lit(hi)) = (code1, code2) else {
                let mut m = String::from("bad character range ");
                this.push_to(&mut m);
                m.push('-');
                that.push_to(&mut m);
                return Err(source.error(m, this.len() + 1 + that.len()));
            };
            if hi < lo {
                let mut m = String::from("bad character range ");
                this.push_to(&mut m);
                m.push('-');
                that.push_to(&mut m);
                return Err(source.error(m, this.len() + 1 + that.len()));
            }
            set.push(ClassItem::Range(lo, hi));
        } else {
            set.push(match code1 {
                SetCode::Lit(v) => ClassItem::Lit(v),
                SetCode::Cat(c) => ClassItem::Cat(c),
            });
        }
    }
    let set = uniq(set);
    if set.len() == 1
        && let ClassItem::Lit(v) = set[0]
    {
        return Ok(if negate {
            Node::NotLit(v, flags)
        } else {
            Node::Lit(v, flags)
        });
    }
    Ok(Node::In {
        items: set,
        negate,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<Node> {
        parse(s, Init::default()).unwrap().nodes
    }

    #[test]
    fn parses_default_pattern() {
        let n = p(r"(?u)\b\w\w+\b");
        assert_eq!(n.len(), 4);
        assert!(matches!(n[0], Node::At(At::Boundary, _)));
        assert!(matches!(
            n[2],
            Node::Repeat {
                min: 1,
                max: None,
                ..
            }
        ));
    }

    #[test]
    fn python_errors() {
        for bad in [
            "a**",
            "*a",
            "(?i)a(?u)",
            "a(?i)",
            "[z-a]",
            r"\q",
            r"[\w-z]",
            "(",
            ")",
            "[a",
            r"\1",
            "(a)(?P=b)",
            "a{3,2}",
            "(?<=a+)b",
            r"\x4",
            "(?L)a",
            "(?au)a",
            "(?a)(?u)a",
            r"a\",
            "(?P<1>a)",
            "(?-a:x)",
            "(?i-i:x)",
        ] {
            let r = parse(bad, Init::default());
            assert!(
                matches!(r, Err(TextError::Syntax { .. })),
                "{bad:?} should be a syntax error, got {r:?}"
            );
        }
    }

    #[test]
    fn literal_braces_and_alternation_sets() {
        assert_eq!(p("a{").len(), 2);
        assert_eq!(p("a{,}").len(), 1);
        assert_eq!(p("a{1,x}").len(), 6);
        assert!(matches!(&p("a|b|c")[0], Node::In { items, .. } if items.len() == 3));
        assert!(matches!(&p("xa|xb")[..], [Node::Lit(..), Node::In { .. }]));
        assert!(matches!(&p("[a]")[0], Node::Lit(97, _)));
        assert!(matches!(&p("[^a]")[0], Node::NotLit(97, _)));
        assert!(matches!(&p(r"[]a]")[0], Node::In { items, .. } if items.len() == 2));
    }

    #[test]
    fn verbose_and_comments() {
        assert_eq!(p("(?x) a b # c\n c"), p("abc"));
        assert_eq!(p("a(?#comment)b"), p("ab"));
        assert_eq!(p("(?x)[ ]").len(), 1);
    }

    #[test]
    fn group_counts() {
        assert_eq!(
            parse("(a)(?:b)(?P<n>c)(?=(d))", Init::default())
                .unwrap()
                .groups,
            3
        );
        assert!(matches!(p(r"(a)\1")[1], Node::GroupRef(1, _)));
        assert!(parse(r"(a)\10", Init::default()).is_err());
        assert!(matches!(p(r"(a)\018")[1], Node::Lit(1, _)));
    }
}
