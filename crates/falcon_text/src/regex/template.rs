//! Replacement templates of `re.sub` (and of the `regex` module's `sub`), and Python's
//! `int(str, base)` which both CPython's template parser and NLTK's HTML entity decoder use.

use super::{Dialect, PyRegex};
use crate::TextError;
use crate::unicode::{in_ranges, is_digit, is_space, tables};

/// CPython's `MAXGROUPS` on 64-bit builds.
const MAXGROUPS: u64 = 1_073_741_823;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Group(usize),
}

/// A Python replacement string compiled against a pattern, as `re._parser.parse_template`
/// (CPython 3.11) — or, for a [`Dialect::RegexModule`] pattern, the `regex` module's
/// `_compile_replacement` — parses it: `\1`..`\99`, `\g<1>`, `\g<name>`, `\n`/`\t` and the
/// other standard escapes, octal escapes, `\\`. Unknown ASCII-letter escapes are errors (as
/// in Python 3.7+), other unknown escapes stay as written (`\-` is a backslash and a dash),
/// and group references are checked against the pattern's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyTemplate {
    source: String,
    parts: Vec<Part>,
    max_group: usize,
}

impl PyTemplate {
    /// Compiles `repl` for `re`; errors are [`TextError::Template`] (what CPython raises as
    /// `re.error`, or `IndexError` for an unknown group name) or [`TextError::Unsupported`].
    pub fn compile(repl: &str, re: &PyRegex) -> Result<PyTemplate, TextError> {
        let parts = match re.dialect() {
            Dialect::Re => parse_re(repl, re)?,
            Dialect::RegexModule => parse_regex_module(repl, re)?,
        };
        // Merge adjacent literals.
        let mut merged: Vec<Part> = Vec::with_capacity(parts.len());
        for p in parts {
            match (merged.last_mut(), p) {
                (Some(Part::Lit(a)), Part::Lit(b)) => a.push_str(&b),
                (_, p) => merged.push(p),
            }
        }
        let max_group = merged
            .iter()
            .filter_map(|p| match p {
                Part::Group(g) => Some(*g),
                Part::Lit(_) => None,
            })
            .max()
            .unwrap_or(0);
        Ok(PyTemplate {
            source: repl.to_string(),
            parts: merged,
            max_group,
        })
    }

    /// The replacement as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The replacement when it refers to no group (a plain string after escapes).
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    /// Errors when the template refers to a group beyond `groups` (compiled for another
    /// pattern).
    pub(crate) fn check_groups(&self, groups: usize) -> Result<(), TextError> {
        if self.max_group > groups {
            return Err(TextError::Template {
                template: self.source.clone(),
                pos: 0,
                msg: format!("invalid group reference {}", self.max_group),
            });
        }
        Ok(())
    }

    /// Appends the expansion for one match (`spans` as from `for_each_match`); a group that
    /// did not participate expands to nothing.
    pub(crate) fn expand(&self, text: &str, spans: &[Option<(usize, usize)>], out: &mut String) {
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Group(g) => {
                    if let Some(Some((s, e))) = spans.get(*g) {
                        out.push_str(&text[*s..*e]);
                    }
                }
            }
        }
    }
}

fn err(repl: &str, pos: usize, msg: impl Into<String>) -> TextError {
    TextError::Template {
        template: repl.to_string(),
        pos,
        msg: msg.into(),
    }
}

fn simple_escape(c: char) -> Option<char> {
    Some(match c {
        'a' => '\x07',
        'b' => '\x08',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        _ => return None,
    })
}

fn octal(s: &[char]) -> u32 {
    s.iter().fold(0, |a, c| a * 8 + c.to_digit(8).unwrap_or(0))
}

/// `re._parser.parse_template` of CPython 3.11.
fn parse_re(repl: &str, re: &PyRegex) -> Result<Vec<Part>, TextError> {
    let ch: Vec<char> = repl.chars().collect();
    let mut parts = Vec::new();
    let mut i = 0;
    let is_oct = |c: Option<&char>| matches!(c, Some('0'..='7'));
    let is_dig = |c: Option<&char>| matches!(c, Some('0'..='9'));
    while i < ch.len() {
        if ch[i] != '\\' {
            parts.push(Part::Lit(ch[i].to_string()));
            i += 1;
            continue;
        }
        let Some(&c) = ch.get(i + 1) else {
            return Err(err(repl, i, "bad escape (end of pattern)"));
        };
        let start = i;
        i += 2;
        match c {
            'g' => {
                if ch.get(i) != Some(&'<') {
                    return Err(err(repl, i, "missing <"));
                }
                i += 1;
                // `getuntil('>')`: tokens, so `\>` does not end the name.
                let name_start = i;
                let mut name = String::new();
                loop {
                    match ch.get(i) {
                        None => {
                            return Err(if name.is_empty() {
                                err(repl, i, "missing group name")
                            } else {
                                err(repl, name_start, "missing >, unterminated name")
                            });
                        }
                        Some('>') => {
                            if name.is_empty() {
                                return Err(err(repl, i, "missing group name"));
                            }
                            i += 1;
                            break;
                        }
                        Some('\\') if i + 1 < ch.len() => {
                            name.push('\\');
                            name.push(ch[i + 1]);
                            i += 2;
                        }
                        Some(&c) => {
                            name.push(c);
                            i += 1;
                        }
                    }
                }
                let index = if is_ascii_identifier(&name) {
                    re.group_index(&name).ok_or_else(|| {
                        err(repl, name_start, format!("unknown group name {name:?}"))
                    })?
                } else {
                    match py_int(&name, 10) {
                        Some(PyInt::Value(v)) if v >= 0 => {
                            if v as u64 >= MAXGROUPS {
                                return Err(err(
                                    repl,
                                    name_start,
                                    format!("invalid group reference {v}"),
                                ));
                            }
                            v as usize
                        }
                        _ if !name.is_ascii() => {
                            return Err(TextError::Unsupported {
                                pattern: repl.to_string(),
                                pos: name_start,
                                construct: format!(
                                    "non-ASCII group name {name:?} in a replacement"
                                ),
                            });
                        }
                        _ => {
                            return Err(err(
                                repl,
                                name_start,
                                format!("bad character in group name {name:?}"),
                            ));
                        }
                    }
                };
                if index > re.group_count() {
                    return Err(err(
                        repl,
                        name_start,
                        format!("invalid group reference {index}"),
                    ));
                }
                parts.push(Part::Group(index));
            }
            '0' => {
                let mut d = vec!['0'];
                while d.len() < 3 && is_oct(ch.get(i)) {
                    d.push(ch[i]);
                    i += 1;
                }
                parts.push(Part::Lit(lit_char(octal(&d) & 0xff)));
            }
            '1'..='9' => {
                let mut d = vec![c];
                let mut is_octal = false;
                if is_dig(ch.get(i)) {
                    d.push(ch[i]);
                    i += 1;
                    if c <= '7' && d[1] <= '7' && is_oct(ch.get(i)) {
                        d.push(ch[i]);
                        i += 1;
                        is_octal = true;
                        let v = octal(&d);
                        if v > 0o377 {
                            let s: String = d.iter().collect();
                            return Err(err(
                                repl,
                                start,
                                format!("octal escape value \\{s} outside of range 0-0o377"),
                            ));
                        }
                        parts.push(Part::Lit(lit_char(v)));
                    }
                }
                if !is_octal {
                    let g = d
                        .iter()
                        .fold(0usize, |a, c| a * 10 + c.to_digit(10).unwrap_or(0) as usize);
                    if g > re.group_count() {
                        return Err(err(repl, start, format!("invalid group reference {g}")));
                    }
                    parts.push(Part::Group(g));
                }
            }
            '\\' => parts.push(Part::Lit("\\".into())),
            c => {
                if let Some(e) = simple_escape(c) {
                    parts.push(Part::Lit(e.to_string()));
                } else if c.is_ascii_alphabetic() {
                    return Err(err(repl, start, format!("bad escape \\{c}")));
                } else {
                    parts.push(Part::Lit(format!("\\{c}")));
                }
            }
        }
    }
    Ok(parts)
}

/// The `regex` module's `_compile_replacement_helper` (VERSION0, str templates).
fn parse_regex_module(repl: &str, re: &PyRegex) -> Result<Vec<Part>, TextError> {
    let ch: Vec<char> = repl.chars().collect();
    let mut parts = Vec::new();
    let mut i = 0;
    let is_oct = |c: Option<&char>| matches!(c, Some('0'..='7'));
    let is_dig = |c: Option<&char>| matches!(c, Some('0'..='9'));
    while i < ch.len() {
        if ch[i] != '\\' {
            parts.push(Part::Lit(ch[i].to_string()));
            i += 1;
            continue;
        }
        let start = i;
        let Some(&c) = ch.get(i + 1) else {
            return Err(err(repl, i + 1, "bad escape (end of pattern)"));
        };
        i += 2;
        match c {
            'x' | 'u' | 'U' => {
                let n = match c {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let digits: String = ch.iter().skip(i).take(n).collect();
                if digits.chars().count() != n || !digits.chars().all(|d| d.is_ascii_hexdigit()) {
                    return Err(err(repl, start, format!("incomplete escape \\{c}{digits}")));
                }
                i += n;
                let v = u32::from_str_radix(&digits, 16).unwrap_or(u32::MAX);
                match char::from_u32(v) {
                    Some(ch) => parts.push(Part::Lit(ch.to_string())),
                    None => {
                        return Err(TextError::Unsupported {
                            pattern: repl.to_string(),
                            pos: start,
                            construct: format!("escape \\{c}{digits} (not a Unicode scalar value)"),
                        });
                    }
                }
            }
            'g' => {
                if ch.get(i) != Some(&'<') {
                    return Err(err(repl, i, "expected <"));
                }
                i += 1;
                let name_start = i;
                let mut name = String::new();
                while let Some(&c) = ch.get(i) {
                    if c == ')' || c == '>' {
                        break;
                    }
                    name.push(c);
                    i += 1;
                }
                if name.is_empty() {
                    return Err(err(repl, i, "missing group name"));
                }
                if !name.is_ascii() {
                    return Err(TextError::Unsupported {
                        pattern: repl.to_string(),
                        pos: name_start,
                        construct: format!("non-ASCII group name {name:?} in a replacement"),
                    });
                }
                let index = if name.bytes().all(|b| b.is_ascii_digit()) {
                    let v: usize = name.parse().unwrap_or(usize::MAX);
                    if v > re.group_count() {
                        return Err(err(repl, name_start, "invalid group reference"));
                    }
                    v
                } else if is_ascii_identifier(&name) {
                    re.group_index(&name)
                        .ok_or_else(|| err(repl, name_start, "unknown group"))?
                } else {
                    return Err(err(repl, name_start, "bad character in group name"));
                };
                if ch.get(i) != Some(&'>') {
                    return Err(err(repl, i, "expected >"));
                }
                i += 1;
                parts.push(Part::Group(index));
            }
            'N' => {
                return Err(TextError::Unsupported {
                    pattern: repl.to_string(),
                    pos: start,
                    construct: "named character \\N{...} in a replacement".into(),
                });
            }
            c if c.is_ascii_alphabetic() => match simple_escape(c) {
                Some(e) => parts.push(Part::Lit(e.to_string())),
                None => return Err(err(repl, start, format!("bad escape \\{c}"))),
            },
            '0' => {
                let mut d = vec!['0'];
                while d.len() < 3 && is_oct(ch.get(i)) {
                    d.push(ch[i]);
                    i += 1;
                }
                parts.push(Part::Lit(lit_char(octal(&d) & 0x1ff)));
            }
            '1'..='9' => {
                let mut d = vec![c];
                if is_dig(ch.get(i)) {
                    d.push(ch[i]);
                    i += 1;
                    if let Some(&n) = ch.get(i)
                        && d.iter().chain([&n]).all(|x| ('0'..='7').contains(x))
                    {
                        d.push(n);
                        i += 1;
                        parts.push(Part::Lit(lit_char(octal(&d) & 0x1ff)));
                        continue;
                    }
                }
                let g = d
                    .iter()
                    .fold(0usize, |a, c| a * 10 + c.to_digit(10).unwrap_or(0) as usize);
                if g > re.group_count() {
                    return Err(err(repl, start, format!("invalid group reference {g}")));
                }
                parts.push(Part::Group(g));
            }
            '\\' => parts.push(Part::Lit("\\".into())),
            c => parts.push(Part::Lit(format!("\\{c}"))),
        }
    }
    Ok(parts)
}

/// A code point below 0x200 as a string (octal escapes).
fn lit_char(v: u32) -> String {
    char::from_u32(v).map(String::from).unwrap_or_default()
}

/// `str.isidentifier()` for ASCII names (the only group names the parser accepts).
fn is_ascii_identifier(s: &str) -> bool {
    let mut it = s.chars();
    matches!(it.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && it.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Result of Python's `int(s, base)` when it does not raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PyInt {
    /// The value, exactly.
    Value(i64),
    /// A value beyond `i64` (its sign).
    Huge { negative: bool },
}

/// Python's `int(s, base)` for base 10 or 16 (`None` where Python raises `ValueError`):
/// surrounding whitespace (ASCII `" \t\n\v\f\r"` and non-ASCII `str.isspace()` characters;
/// not `\x1c`-`\x1f`), one sign, for base 16 an optional `0x`/`0X` prefix, single underscores
/// between digits (and after the prefix), any Unicode decimal digit (`'٣'` is 3), and
/// CPython's 4300-digit limit for base 10.
pub(crate) fn py_int(s: &str, base: u32) -> Option<PyInt> {
    // `_PyUnicode_TransformDecimalAndSpaceToASCII`: ASCII kept, non-ASCII spaces → ' ',
    // non-ASCII decimal digits → their ASCII digit, anything else invalid.
    let mut t: Vec<u8> = Vec::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            t.push(c as u8);
        } else if is_space(c) {
            t.push(b' ');
        } else if is_digit(c) {
            t.push(b'0' + decimal_value(c)?);
        } else {
            return None;
        }
    }
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let mut a = 0;
    let mut b = t.len();
    while a < b && is_ws(t[a]) {
        a += 1;
    }
    while b > a && is_ws(t[b - 1]) {
        b -= 1;
    }
    let mut body = &t[a..b];
    let mut negative = false;
    if let Some((&sign @ (b'+' | b'-'), rest)) = body.split_first() {
        negative = sign == b'-';
        body = rest;
    }
    let mut after_prefix = false;
    if base == 16 && body.len() >= 2 && body[0] == b'0' && matches!(body[1], b'x' | b'X') {
        body = &body[2..];
        after_prefix = true;
    }
    if body.is_empty() {
        return None;
    }
    // `digit (_? digit)*`, with one `_` allowed right after a `0x` prefix.
    let mut k = usize::from(after_prefix && body.first() == Some(&b'_'));
    let mut value: i128 = 0;
    let mut huge = false;
    let mut digits = 0usize;
    loop {
        let d = (*body.get(k)? as char).to_digit(base)?;
        digits += 1;
        if !huge {
            value = value * i128::from(base) + i128::from(d);
            huge = value > i128::from(i64::MAX);
        }
        k += 1;
        match body.get(k) {
            None => break,
            Some(b'_') => k += 1,
            Some(_) => {}
        }
    }
    if base == 10 && digits > 4300 {
        return None;
    }
    if huge {
        return Some(PyInt::Huge { negative });
    }
    let v = value as i64;
    Some(PyInt::Value(if negative { -v } else { v }))
}

/// The decimal value of a Unicode decimal digit: Unicode assigns them in runs of ten from
/// zero, so it is the offset from the start of its run in the `\d` table, modulo ten.
fn decimal_value(c: char) -> Option<u8> {
    let cp = c as u32;
    if !in_ranges(tables::DIGIT, cp) {
        return None;
    }
    let i = tables::DIGIT.partition_point(|&(lo, _)| lo <= cp);
    let (lo, _) = tables::DIGIT.get(i.checked_sub(1)?)?;
    Some(((cp - lo) % 10) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int() {
        let v = |s: &str, b| py_int(s, b);
        assert_eq!(v("0x1F", 16), Some(PyInt::Value(31)));
        assert_eq!(v("0x_1f", 16), Some(PyInt::Value(31)));
        assert_eq!(v(" +1_0 ", 10), Some(PyInt::Value(10)));
        assert_eq!(v("\u{663}", 10), Some(PyInt::Value(3)));
        assert_eq!(v("\u{a0}12\u{3000}", 10), Some(PyInt::Value(12)));
        assert_eq!(v("\u{ff11}\u{ff12}", 10), Some(PyInt::Value(12)));
        assert_eq!(v("-0x1f", 16), Some(PyInt::Value(-31)));
        assert_eq!(v("\x0b1", 10), Some(PyInt::Value(1)));
        for bad in [
            "\x1c12", "_1", "1__0", "1_", "- 1", "0x", "x1", "", " ", "0x1F",
        ] {
            assert_eq!(v(bad, 10), None, "{bad:?}");
        }
        assert_eq!(
            v(&"1".repeat(4300), 10),
            Some(PyInt::Huge { negative: false })
        );
        assert_eq!(v(&"0".repeat(4301), 10), None);
        assert!(v(&"1".repeat(5000), 16).is_some());
    }
}
