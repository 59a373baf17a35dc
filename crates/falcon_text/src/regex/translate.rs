//! Translation of a parsed Python pattern into `regex` / `fancy-regex` syntax.
//!
//! Every construct whose meaning differs between CPython's `sre` and the Rust engines is
//! spelled out explicitly instead of relying on the Rust engine's interpretation:
//!
//! * `\w \d \s` (and negations, also inside sets) become explicit code point ranges from the
//!   generated CPython tables (Rust's `\w` contains marks and all connector punctuation,
//!   Python's contains `²½Ⅻ` but no marks).
//! * `\b` / `\B` become look-arounds over Python's `\w` (simplified to one look-behind or
//!   look-ahead when the neighbouring item is known to be a word / non-word character).
//! * `.` becomes `[^\n]` (or any char under DOTALL), `$` becomes `(?=\n?\z)` (Python's `$`
//!   also matches before a final newline), `^`/`$` under MULTILINE use `(?m:^)`/`(?m:$)`, which
//!   agree with Python's definitions (only `\n` is a line break).
//! * IGNORECASE is not delegated to the engine's case folding (Unicode simple case folding,
//!   which differs from sre's "compare lowercased characters" semantics, e.g. for `İ`, `ſ`, `K`
//!   and astral characters). Instead each literal and set is expanded to the explicit set of
//!   characters CPython would accept, reproducing `sre_compile._optimize_charset` including its
//!   astral-character quirks.

use super::Dialect;
use super::mrab;
use super::parse::{At, Cat, ClassItem, Flags, Node, RepeatKind};
use crate::TextError;
use crate::unicode::{self, tables};
use std::fmt::Write as _;

const MAX_CP: u32 = 0x10FFFF;

/// A set of code points as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CharSet {
    ranges: Vec<(u32, u32)>,
}

impl CharSet {
    pub fn from_ranges(mut v: Vec<(u32, u32)>) -> Self {
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            if let Some(last) = out.last_mut()
                && lo <= last.1.saturating_add(1)
            {
                last.1 = last.1.max(hi);
                continue;
            }
            out.push((lo, hi));
        }
        CharSet { ranges: out }
    }

    pub fn single(c: u32) -> Self {
        CharSet {
            ranges: vec![(c, c)],
        }
    }

    fn table(t: &[(u32, u32)]) -> Self {
        Self::from_ranges(t.to_vec())
    }

    pub fn union(&self, other: &CharSet) -> CharSet {
        let mut v = self.ranges.clone();
        v.extend_from_slice(&other.ranges);
        Self::from_ranges(v)
    }

    pub fn complement(&self) -> CharSet {
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut next = 0u32;
        for &(lo, hi) in &self.ranges {
            if lo > next {
                out.push((next, lo - 1));
            }
            next = hi.saturating_add(1);
        }
        if next <= MAX_CP {
            out.push((next, MAX_CP));
        }
        CharSet { ranges: out }
    }

    pub fn subtract(&self, other: &CharSet) -> CharSet {
        self.intersect(&other.complement())
    }

    pub fn intersect(&self, other: &CharSet) -> CharSet {
        let (a, b) = (&self.ranges, &other.ranges);
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < a.len() && j < b.len() {
            let lo = a[i].0.max(b[j].0);
            let hi = a[i].1.min(b[j].1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        CharSet { ranges: out }
    }

    pub fn contains(&self, c: u32) -> bool {
        unicode::in_ranges(&self.ranges, c)
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn is_subset(&self, other: &CharSet) -> bool {
        self.subtract(other).ranges.is_empty()
    }

    /// Ranges without surrogates (which can never occur in a Rust `&str`).
    fn emittable(&self) -> Vec<(u32, u32)> {
        self.subtract(&CharSet::from_ranges(vec![(0xD800, 0xDFFF)]))
            .ranges
    }
}

/// `\w \d \s` (and complements, and `\p{..}`) of the dialect in Unicode or ASCII mode.
pub(crate) fn category_set(cat: Cat, ascii: bool, dialect: Dialect) -> CharSet {
    match dialect {
        Dialect::Re => re_category_set(cat, ascii),
        Dialect::RegexModule => mrab::category_set(cat, ascii),
    }
}

/// Python `re`'s `\w \d \s` (and complements) in Unicode or ASCII mode.
fn re_category_set(cat: Cat, ascii: bool) -> CharSet {
    let base = match (cat, ascii) {
        // Never produced by the `re` parser (`\p` is a bad escape there).
        (Cat::Prop(..), _) => return mrab::category_set(cat, ascii),
        (Cat::Word | Cat::NotWord, false) => CharSet::table(tables::WORD),
        (Cat::Digit | Cat::NotDigit, false) => CharSet::table(tables::DIGIT),
        (Cat::Space | Cat::NotSpace, false) => CharSet::table(tables::SPACE),
        (Cat::Word | Cat::NotWord, true) => {
            CharSet::from_ranges(vec![(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)])
        }
        (Cat::Digit | Cat::NotDigit, true) => CharSet::from_ranges(vec![(0x30, 0x39)]),
        // sre's ASCII \s: " \t\n\r\x0b\x0c" (not \x1c-\x1f, unlike str.isspace).
        (Cat::Space | Cat::NotSpace, true) => {
            CharSet::from_ranges(vec![(0x09, 0x0D), (0x20, 0x20)])
        }
    };
    match cat {
        Cat::Word | Cat::Digit | Cat::Space | Cat::Prop(..) => base,
        _ => base.complement(),
    }
}

/// The lowercase function of IGNORECASE in the given mode.
fn lower(cp: u32, ascii: bool) -> u32 {
    if ascii {
        if (0x41..=0x5A).contains(&cp) {
            cp + 32
        } else {
            cp
        }
    } else {
        unicode::sre_lower(cp)
    }
}

fn iscased(cp: u32, ascii: bool) -> bool {
    if ascii {
        cp < 128 && (cp as u8).is_ascii_alphabetic()
    } else {
        unicode::sre_iscased(cp)
    }
}

/// Code points whose IGNORECASE-lowercase differs from themselves, with that lowercase.
fn lower_domain(ascii: bool) -> Vec<(u32, u32)> {
    if ascii {
        (0x41..=0x5A).map(|c| (c, c + 32)).collect()
    } else {
        tables::SRE_LOWER.to_vec()
    }
}

/// `{x : lower(x) ∈ m}` — the characters whose lowercase passes a test on lowercased input.
fn preimage_lower(m: &CharSet, ascii: bool) -> CharSet {
    let dom = lower_domain(ascii);
    let dom_set = CharSet::from_ranges(dom.iter().map(|&(k, _)| (k, k)).collect());
    let mut v = m.subtract(&dom_set).ranges;
    v.extend(
        dom.iter()
            .filter(|&&(_, l)| m.contains(l))
            .map(|&(k, _)| (k, k)),
    );
    CharSet::from_ranges(v)
}

/// `{lower(i) : i ∈ [a, b]}` plus `_EXTRA_CASES` of each, as the charmap loop computes it.
fn image_lower(a: u32, b: u32, ascii: bool) -> CharSet {
    let dom = lower_domain(ascii);
    let r = CharSet::from_ranges(vec![(a, b)]);
    let dom_set = CharSet::from_ranges(dom.iter().map(|&(k, _)| (k, k)).collect());
    let mut v = r.subtract(&dom_set).ranges;
    v.extend(
        dom.iter()
            .filter(|&&(k, _)| (a..=b).contains(&k))
            .map(|&(_, l)| (l, l)),
    );
    let mut set = CharSet::from_ranges(v);
    if !ascii {
        let mut extra = Vec::new();
        for &(k, vals) in tables::SRE_EXTRA_CASES {
            if set.contains(k) {
                extra.extend(vals.iter().map(|&x| (x, x)));
            }
        }
        set = set.union(&CharSet::from_ranges(extra));
    }
    set
}

/// `{y : y ∈ [a,b] or upper(y) ∈ [a,b]}` — sre's RANGE_UNI_IGNORE test on lowercased input.
fn range_uni_ignore(a: u32, b: u32) -> CharSet {
    let mut v = vec![(a, b)];
    v.extend(
        tables::SRE_UPPER
            .iter()
            .filter(|&&(_, u)| (a..=b).contains(&u))
            .map(|&(k, _)| (k, k)),
    );
    CharSet::from_ranges(v)
}

/// The set of characters a LITERAL (or NOT_LITERAL, before negation) matches.
pub(crate) fn literal_set(c: u32, flags: Flags, dialect: Dialect) -> CharSet {
    if dialect == Dialect::RegexModule {
        return if flags.ignorecase {
            mrab::literal_set(c, flags.ascii)
        } else {
            CharSet::single(c)
        };
    }
    if !flags.ignorecase || !iscased(c, flags.ascii) {
        return CharSet::single(c);
    }
    let lo = lower(c, flags.ascii);
    let mut m = vec![(lo, lo)];
    if !flags.ascii {
        m.extend(unicode::sre_extra_cases(lo).iter().map(|&x| (x, x)));
    }
    preimage_lower(&CharSet::from_ranges(m), flags.ascii)
}

/// The set of characters an IN node matches in the `regex` module: under IGNORECASE a member
/// matches a character when one of its cases does (`in_set_ign`). Categories are taken as
/// they are: the parser refused those that are not closed under the case relation, for which
/// a lone category (tested on the character itself) would differ.
fn mrab_class_set(items: &[ClassItem], negate: bool, flags: Flags) -> CharSet {
    let ascii = flags.ascii;
    let mut v = CharSet::default();
    for item in items {
        let raw = match *item {
            ClassItem::Cat(cat) => {
                v = v.union(&mrab::category_set(cat, ascii));
                continue;
            }
            ClassItem::Lit(c) => CharSet::single(c),
            ClassItem::Range(a, b) => CharSet::from_ranges(vec![(a, b)]),
        };
        v = v.union(&if flags.ignorecase {
            mrab::case_closure(&raw, ascii)
        } else {
            raw
        });
    }
    if negate { v.complement() } else { v }
}

/// The set of characters an IN node matches, following `_optimize_charset` + `_compile`.
pub(crate) fn class_set(
    items: &[ClassItem],
    negate: bool,
    flags: Flags,
    dialect: Dialect,
) -> CharSet {
    if dialect == Dialect::RegexModule {
        return mrab_class_set(items, negate, flags);
    }
    let ascii = flags.ascii;
    let mut m = CharSet::default();
    let mut hascased = false;
    for item in items {
        match *item {
            ClassItem::Cat(cat) => m = m.union(&re_category_set(cat, ascii)),
            ClassItem::Lit(v) if !flags.ignorecase => m = m.union(&CharSet::single(v)),
            ClassItem::Range(a, b) if !flags.ignorecase => {
                m = m.union(&CharSet::from_ranges(vec![(a, b)]))
            }
            ClassItem::Lit(v) => {
                let lo = lower(v, ascii);
                if lo > 0xFFFF {
                    // charmap IndexError: kept in the tail as LITERAL *v* (not lowercased)
                    // and compared with the lowercased input character.
                    hascased = true;
                    m = m.union(&CharSet::single(v));
                } else {
                    m = m.union(&CharSet::single(lo));
                    if !ascii {
                        let extra: Vec<_> = unicode::sre_extra_cases(lo)
                            .iter()
                            .map(|&x| (x, x))
                            .collect();
                        m = m.union(&CharSet::from_ranges(extra));
                    }
                    hascased |= iscased(v, ascii);
                }
            }
            ClassItem::Range(a, b) => {
                if a <= 0xFFFF {
                    m = m.union(&image_lower(a, b.min(0xFFFF), ascii));
                }
                if b > 0xFFFF {
                    // charmap IndexError: whole range goes to the tail as RANGE_UNI_IGNORE.
                    hascased = true;
                    m = m.union(&range_uni_ignore(a, b));
                } else if !hascased {
                    hascased = (a..=b).any(|c| iscased(c, ascii));
                }
            }
        }
    }
    let matched = if flags.ignorecase && hascased {
        preimage_lower(&m, ascii)
    } else {
        m
    };
    if negate {
        matched.complement()
    } else {
        matched
    }
}

/// Output of the translation.
pub(crate) struct Translation {
    pub pattern: String,
    /// Whether look-around, back-references or atomic groups were emitted.
    pub needs_fancy: bool,
}

struct Emitter<'a> {
    out: String,
    needs_fancy: bool,
    pattern: &'a str,
    dialect: Dialect,
    /// Widths of the capturing groups, for repetitions of back-references.
    group_widths: &'a [(u64, Option<u64>)],
}

/// Translates parsed nodes into a Rust regex pattern.
pub(crate) fn translate(
    nodes: &[Node],
    pattern: &str,
    dialect: Dialect,
    group_widths: &[(u64, Option<u64>)],
) -> Result<Translation, TextError> {
    let mut e = Emitter {
        out: String::with_capacity(256),
        needs_fancy: false,
        pattern,
        dialect,
        group_widths,
    };
    e.seq(nodes)?;
    Ok(Translation {
        pattern: e.out,
        needs_fancy: e.needs_fancy,
    })
}

fn push_cp(out: &mut String, c: u32) {
    if c < 128 && (c as u8).is_ascii_alphanumeric() {
        out.push(c as u8 as char);
    } else {
        let _ = write!(out, "\\x{{{c:X}}}");
    }
}

fn emit_set(out: &mut String, set: &CharSet) {
    let ranges = set.emittable();
    if ranges.is_empty() {
        // Never matches (e.g. a lone surrogate, or `[^\s\S]`).
        out.push_str("[^\\x{0}-\\x{10FFFF}]");
        return;
    }
    if ranges.len() == 1 && ranges[0].0 == ranges[0].1 {
        push_cp(out, ranges[0].0);
        return;
    }
    out.push('[');
    for (lo, hi) in ranges {
        push_cp(out, lo);
        if hi > lo {
            if hi > lo + 1 {
                out.push('-');
            }
            push_cp(out, hi);
        }
    }
    out.push(']');
}

/// The set of characters a single-character node matches.
pub(crate) fn node_char_set(n: &Node, d: Dialect) -> Option<CharSet> {
    match n {
        Node::Lit(c, f) => Some(literal_set(*c, *f, d)),
        Node::NotLit(c, f) => Some(literal_set(*c, *f, d).complement()),
        Node::In {
            items,
            negate,
            flags,
        } => Some(class_set(items, *negate, *flags, d)),
        Node::Any(f) => Some(if f.dotall {
            CharSet::from_ranges(vec![(0, MAX_CP)])
        } else {
            CharSet::single(0x0A).complement()
        }),
        _ => None,
    }
}

/// Set of characters the *first* character consumed by `nodes` must belong to, when known and
/// at least one character is certainly consumed at that position.
fn first_set(nodes: &[Node], d: Dialect) -> Option<CharSet> {
    let n = nodes.first()?;
    match n {
        Node::Group { body, .. } | Node::Scoped(body) | Node::Plain(body) | Node::Atomic(body) => {
            first_set(body, d)
        }
        Node::Repeat { min, body, .. } if *min >= 1 => first_set(body, d),
        Node::Branch(alts) => {
            let mut acc = CharSet::default();
            for a in alts {
                acc = acc.union(&first_set(a, d)?);
            }
            Some(acc)
        }
        other => node_char_set(other, d),
    }
}

/// Like [`first_set`] for the last character consumed before the end of `nodes`.
fn last_set(nodes: &[Node], d: Dialect) -> Option<CharSet> {
    let n = nodes.last()?;
    match n {
        Node::Group { body, .. } | Node::Scoped(body) | Node::Plain(body) | Node::Atomic(body) => {
            last_set(body, d)
        }
        Node::Repeat { min, body, .. } if *min >= 1 => last_set(body, d),
        Node::Branch(alts) => {
            let mut acc = CharSet::default();
            for a in alts {
                acc = acc.union(&last_set(a, d)?);
            }
            Some(acc)
        }
        other => node_char_set(other, d),
    }
}

impl Emitter<'_> {
    fn unsupported(&self, what: &str) -> TextError {
        TextError::Unsupported {
            pattern: self.pattern.to_string(),
            pos: 0,
            construct: what.to_string(),
        }
    }

    fn seq(&mut self, nodes: &[Node]) -> Result<(), TextError> {
        for (i, n) in nodes.iter().enumerate() {
            match n {
                Node::At(at @ (At::Boundary | At::NonBoundary), f) => {
                    let next = first_set(&nodes[i + 1..], self.dialect);
                    let prev = last_set(&nodes[..i], self.dialect);
                    self.boundary(*at == At::Boundary, f.ascii, next, prev);
                }
                _ => self.node(n)?,
            }
        }
        Ok(())
    }

    fn boundary(
        &mut self,
        positive: bool,
        ascii: bool,
        next: Option<CharSet>,
        prev: Option<CharSet>,
    ) {
        self.needs_fancy = true;
        let w = category_set(Cat::Word, ascii, self.dialect);
        let nw = w.complement();
        let mut ws = String::new();
        emit_set(&mut ws, &w);
        // Known neighbour → one look-around suffices.
        let (behind_word, ahead_word) = (format!("(?<={ws})"), format!("(?={ws})"));
        let (behind_not, ahead_not) = (format!("(?<!{ws})"), format!("(?!{ws})"));
        let pick = match (&next, &prev) {
            (Some(n), _) if n.is_subset(&w) => {
                Some(if positive { &behind_not } else { &behind_word })
            }
            (Some(n), _) if n.is_subset(&nw) => {
                Some(if positive { &behind_word } else { &behind_not })
            }
            (_, Some(p)) if p.is_subset(&w) => {
                Some(if positive { &ahead_not } else { &ahead_word })
            }
            (_, Some(p)) if p.is_subset(&nw) => {
                Some(if positive { &ahead_word } else { &ahead_not })
            }
            _ => None,
        };
        match pick {
            Some(s) => self.out.push_str(s),
            None if positive => {
                let _ = write!(
                    self.out,
                    "(?:{behind_word}{ahead_not}|{behind_not}{ahead_word})"
                );
            }
            None => {
                let _ = write!(
                    self.out,
                    "(?:{behind_word}{ahead_word}|{behind_not}{ahead_not})"
                );
            }
        }
    }

    fn node(&mut self, n: &Node) -> Result<(), TextError> {
        match n {
            Node::Lit(..) | Node::NotLit(..) | Node::In { .. } | Node::Any(_) => {
                let set = node_char_set(n, self.dialect).unwrap_or_default();
                match n {
                    Node::Any(f) if !f.dotall => self.out.push_str("[^\\n]"),
                    Node::Any(_) => self.out.push_str("(?s:.)"),
                    _ => emit_set(&mut self.out, &set),
                }
            }
            Node::At(at, f) => match at {
                At::Beginning if f.multiline => self.out.push_str("(?m:^)"),
                At::Beginning | At::BeginningString => self.out.push_str("\\A"),
                At::End if f.multiline => self.out.push_str("(?m:$)"),
                At::End => {
                    self.needs_fancy = true;
                    self.out.push_str("(?=\\n?\\z)");
                }
                At::EndString => self.out.push_str("\\z"),
                At::Boundary | At::NonBoundary => {
                    self.boundary(*at == At::Boundary, f.ascii, None, None)
                }
            },
            Node::Branch(alts) => {
                self.out.push_str("(?:");
                for (i, a) in alts.iter().enumerate() {
                    if i > 0 {
                        self.out.push('|');
                    }
                    self.seq(a)?;
                }
                self.out.push(')');
            }
            Node::Group { body, .. } => {
                self.out.push('(');
                self.seq(body)?;
                self.out.push(')');
            }
            Node::Scoped(body) | Node::Plain(body) => {
                self.out.push_str("(?:");
                self.seq(body)?;
                self.out.push(')');
            }
            Node::Atomic(body) => {
                self.needs_fancy = true;
                self.out.push_str("(?>");
                self.seq(body)?;
                self.out.push(')');
            }
            Node::Repeat {
                min,
                max,
                kind,
                body,
            } => {
                let (lo, _) = super::parse::width(body, self.group_widths);
                if lo == 0 && max.is_none_or(|m| m > 1) {
                    return Err(self.unsupported(
                        "repetition of a sub-pattern that can match the empty string",
                    ));
                }
                let min32 = u32::try_from(*min).map_err(|_| self.unsupported("huge repeat"))?;
                if *kind == RepeatKind::Possessive {
                    self.needs_fancy = true;
                    self.out.push_str("(?>");
                }
                self.out.push_str("(?:");
                self.seq(body)?;
                self.out.push(')');
                match max {
                    None if *min == 0 => self.out.push('*'),
                    None if *min == 1 => self.out.push('+'),
                    None => {
                        let _ = write!(self.out, "{{{min32},}}");
                    }
                    Some(1) if *min == 0 => self.out.push('?'),
                    Some(m) if *m == *min => {
                        let _ = write!(self.out, "{{{min32}}}");
                    }
                    Some(m) => {
                        let m32 = u32::try_from(*m).map_err(|_| self.unsupported("huge repeat"))?;
                        let _ = write!(self.out, "{{{min32},{m32}}}");
                    }
                }
                if *kind == RepeatKind::Lazy {
                    self.out.push('?');
                }
                if *kind == RepeatKind::Possessive {
                    self.out.push(')');
                }
            }
            Node::Assert {
                behind,
                negate,
                body,
            } => {
                self.needs_fancy = true;
                self.out.push_str(match (behind, negate) {
                    (false, false) => "(?=",
                    (false, true) => "(?!",
                    (true, false) => "(?<=",
                    (true, true) => "(?<!",
                });
                self.seq(body)?;
                self.out.push(')');
            }
            Node::GroupRef(g, f) => {
                if f.ignorecase {
                    return Err(self.unsupported("group reference under IGNORECASE"));
                }
                self.needs_fancy = true;
                let _ = write!(self.out, "(?:\\{g})");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regex::parse::{Init, parse};

    fn tr(p: &str) -> (String, bool) {
        let parsed = parse(p, Init::default()).unwrap();
        let t = translate(&parsed.nodes, p, Dialect::Re, &parsed.group_widths).unwrap();
        (t.pattern, t.needs_fancy)
    }

    #[test]
    fn simple_translations() {
        assert_eq!(tr("abc"), ("abc".into(), false));
        assert_eq!(tr("a.b"), ("a[^\\n]b".into(), false));
        assert_eq!(tr("(?s)a.b"), ("a(?s:.)b".into(), false));
        assert_eq!(tr("[a-zA-Z]{2,}"), ("(?:[A-Za-z]){2,}".into(), false));
        assert_eq!(tr("a$").0, "a(?=\\n?\\z)");
        assert_eq!(tr("(?m)^a$").0, "(?m:^)a(?m:$)");
        assert!(tr(r"\w+").0.contains("\\x{B2}\\x{B3}"));
        assert!(!tr(r"\w+").0.contains("\\x{301}"));
    }

    #[test]
    fn boundary_simplification() {
        let (p, fancy) = tr(r"\b\w+\b");
        assert!(fancy);
        assert!(p.starts_with("(?<!["));
        assert!(p.contains(")+(?!["));
    }

    #[test]
    fn ignorecase_sets() {
        let f = Flags {
            ignorecase: true,
            ..Flags::default()
        };
        let k = literal_set('k' as u32, f, Dialect::Re);
        assert!(k.contains('K' as u32) && k.contains(0x212A));
        let s = literal_set('s' as u32, f, Dialect::Re);
        assert!(s.contains(0x17F) && s.contains('S' as u32));
        let i = literal_set('i' as u32, f, Dialect::Re);
        assert!(i.contains(0x130) && i.contains('I' as u32));
        // Astral quirk: [\U00010400x] does not match U+10400 under IGNORECASE.
        let c = class_set(
            &[ClassItem::Lit(0x10400), ClassItem::Lit('x' as u32)],
            false,
            f,
            Dialect::Re,
        );
        assert!(!c.contains(0x10400) && c.contains('X' as u32));
        let r = class_set(&[ClassItem::Range(0x10400, 0x10401)], false, f, Dialect::Re);
        assert!(r.contains(0x10400) && r.contains(0x10428));
        let a = Flags {
            ignorecase: true,
            ascii: true,
            ..Flags::default()
        };
        assert!(!literal_set('k' as u32, a, Dialect::Re).contains(0x212A));
    }

    #[test]
    fn refuses_nullable_repeats() {
        let parsed = parse("(?:a*)*b", Init::default()).unwrap();
        assert!(translate(&parsed.nodes, "", Dialect::Re, &parsed.group_widths).is_err());
    }
}
